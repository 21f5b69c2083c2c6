/* ocl_calibrate.c — (being written) GEMM tuning and cost measurement. */
#include "backend/opencl/ocl.h"
#include "backend/opencl/opencl.h"

void ocl_tuning_apply(ocl_dev *dev) { (void)dev; }

hcg_status hcg_opencl_calibrate(hcg_device *d, FILE *log)
{
    (void)d;
    (void)log;
    return HCG_OK;
}
