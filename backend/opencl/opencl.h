/* opencl.h — what the rest of hcg sees of the OpenCL backend: device discovery (called by the
 * registry), program build statistics, and calibration (called by `hcg devices --calibrate`). */
#ifndef HCG_OPENCL_H
#define HCG_OPENCL_H

#include <stdio.h>

#include "backend/backend.h"

/* Enumerates every OpenCL platform and device through the ICD loader and registers each device
 * as "opencl:N" (platform order, then device order). No platform, or no usable device, is not an
 * error: a note says so once and hcg runs on the CPU. */
hcg_status hcg_opencl_register(void);

/* Programs built from source and programs loaded from hcg's binary cache, counted over every
 * OpenCL device since the process started (either pointer may be NULL). */
void hcg_opencl_stats(int *builds, int *cache_loads);

/* Tunes CLBlast's GEMM for an OpenCL device with CLBlast's tuner (clblast_tuner_xgemm, run for at
 * most $HCG_CALIBRATE_SECONDS, default 600, split over its phases), measures the device's cost
 * profile (GEMM GFLOP/s with the tuned parameters, copy bandwidth, launch latency, host<->device
 * bandwidth), stores both in the cache folder and applies them. Later processes apply the stored
 * parameters when they register the device. Progress goes to log (may be NULL). */
hcg_status hcg_opencl_calibrate(hcg_device *d, FILE *log);

#endif
