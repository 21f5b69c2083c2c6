/* bench_opencl_matmul.c — matrix products on an OpenCL device:
 *   1. hcg's matmul node (prepared and run through the backend interface, operands already on the
 *      device) against CLBlastSgemm called directly on the same buffers with the same sizes: what
 *      hcg adds to CLBlast;
 *   2. with the GEMM parameters `hcg devices --calibrate` stored against untuned CLBlast (the same
 *      program run again with HCG_CLBLAST_TUNING=0, which skips the stored parameters).
 * Shapes: transformer layers (128x384x384, 128x1536x384), 1024^3, and batched attention scores.
 * Usage: bench_opencl_matmul [--device opencl:N] [--seconds S] [--raw]. */
#include <clblast_c.h>

#include "backend/opencl/ocl.h"
#include "opencl_bench.h"

typedef struct shape {
    const char *label;
    int batch, m, n, k;
    bool tb;
} shape;

static const shape shapes[] = {
    {"128x384x384", 1, 128, 384, 384, false},
    {"128x1536x384", 1, 128, 1536, 384, false},
    {"1024x1024x1024", 1, 1024, 1024, 1024, false},
    {"8x(128x128x64) q@k^T", 8, 128, 128, 64, true},
};

typedef struct direct_ctx {
    ocl_dev *dev;
    const shape *s;
    cl_mem a, b, c;
} direct_ctx;

static void run_direct(void *ctx)
{
    direct_ctx *x = ctx;
    const shape *s = x->s;
    CLBlastTranspose tb = s->tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    size_t ldb = s->tb ? (size_t)s->k : (size_t)s->n;
    CLBlastStatusCode st;
    if (s->batch == 1)
        st = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, tb, s->m, s->n, s->k, 1.0f, x->a, 0, s->k, x->b, 0,
                          ldb, 0.0f, x->c, 0, s->n, &x->dev->queue, NULL);
    else
        st = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, CLBlastTransposeNo, tb, s->m, s->n, s->k, 1.0f, x->a, 0,
                                        s->k, (size_t)s->m * s->k, x->b, 0, ldb, (size_t)s->k * s->n, 0.0f, x->c, 0,
                                        s->n, (size_t)s->m * s->n, s->batch, &x->dev->queue, NULL);
    if (st != CLBlastSuccess || clFinish(x->dev->queue) != CL_SUCCESS) {
        fprintf(stderr, "CLBlast: %s\n", hcg_clblast_status_name(st));
        exit(1);
    }
}

static void run_node(void *ctx) { ob_run(ctx); }

/* Times shape s both ways; GFLOP/s out. */
static void measure(hcg_device *d, const shape *s, double seconds, double *hcg_gflops, double *clblast_gflops)
{
    hcg_graph *g = hcg_graph_new();
    int64_t ad[3] = {s->batch, s->m, s->k}, bd[3] = {s->batch, s->tb ? s->n : s->k, s->tb ? s->k : s->n};
    int rank = s->batch == 1 ? 2 : 3;
    hcg_id a = hcg_input(g, "a", HCG_F32, rank, ad + 3 - rank), b = hcg_input(g, "b", HCG_F32, rank, bd + 3 - rank);
    hcg_id ins[2] = {a, b};
    hcg_attr tb = HCG_ATTR_I("transpose_b", s->tb);
    hcg_output(g, hcg_add_node(g, HCG_OP_MATMUL, "mm", ins, 2, &tb, 1), "y");
    hcg_shape shp[2] = {hcg_shape_make(rank, ad + 3 - rank), hcg_shape_make(rank, bd + 3 - rank)};
    ob_node node;
    ob_setup(&node, d, g, shp, "mm");
    double flops = 2.0 * s->batch * s->m * s->n * s->k;
    direct_ctx x = {ocl_of(d), s, (cl_mem)node.bufs[0].handle, (cl_mem)node.bufs[1].handle, (cl_mem)node.bufs[2].handle};
    double t_hcg, t_direct;
    ob_time_pair(run_node, &node, run_direct, &x, seconds, &t_hcg, &t_direct);
    *hcg_gflops = flops / t_hcg / 1e9;
    *clblast_gflops = flops / t_direct / 1e9;
    ob_teardown(&node);
    hcg_graph_free(g);
}

int main(int argc, char **argv)
{
    const char *name = "opencl:0";
    double seconds = 1.0;
    bool raw = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) name = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--raw") == 0) raw = true;
    }
    hcg_device *d = hcg_device_find(name);
    if (!d || strcmp(d->iface->name, "opencl") != 0) {
        fprintf(stderr, "no OpenCL device '%s' (%s)\n", name, hcg_device_notes());
        return 1;
    }
    enum { N = sizeof shapes / sizeof shapes[0] };
    double h[N], c[N];
    for (int i = 0; i < N; i++) measure(d, &shapes[i], seconds, &h[i], &c[i]);
    if (raw) {
        for (int i = 0; i < N; i++) printf("%d %.3f %.3f\n", i, h[i], c[i]);
        return 0;
    }
    /* untuned CLBlast: this program again, without the stored parameters */
    double u[N];
    for (int i = 0; i < N; i++) u[i] = -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "HCG_CLBLAST_TUNING=0 '%s' --device %s --seconds %g --raw", argv[0], name, seconds);
    FILE *p = popen(cmd, "r");
    char line[256];
    while (p && fgets(line, sizeof line, p)) {
        int i;
        double hh, cc;
        if (sscanf(line, "%d %lf %lf", &i, &hh, &cc) == 3 && i >= 0 && i < N) u[i] = cc;
    }
    if (p) pclose(p);

    ob_print_machine();
    printf("device: %s: %s\n", d->name, d->description);
    printf("CLBlast GEMM parameters: %s\n\n",
           ocl_of(d)->tuned ? "tuned by hcg devices --calibrate" : "CLBlast's defaults (not calibrated)");
    printf("%-22s %12s %12s %8s %14s %10s\n", "shape (MxNxK)", "hcg GFLOP/s", "CLBlast", "hcg/CL", "untuned CLBlast",
           "tuned/untuned");
    for (int i = 0; i < N; i++)
        printf("%-22s %12.1f %12.1f %8.2f %14.1f %10.2f\n", shapes[i].label, h[i], c[i], h[i] / c[i], u[i],
               u[i] > 0 ? h[i] / u[i] : 0);
    return 0;
}
