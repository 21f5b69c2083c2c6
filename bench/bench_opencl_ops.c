/* bench_opencl_ops.c — throughput of hcg's own OpenCL kernels on memory-bound ops (elementwise,
 * broadcast, gelu, softmax, layer_norm, a row reduction, a transpose, a gather) in GB/s of the
 * tensors read and written once, against the device's copy bandwidth (clEnqueueCopyBuffer of the
 * same size: read + write). Each op runs through the backend interface with its operands already
 * on the device. Usage: bench_opencl_ops [--device opencl:N] [--seconds S] [--rows R] [--cols C]. */
#include "backend/opencl/ocl.h"
#include "opencl_bench.h"

typedef struct op_case {
    const char *label;
    hcg_op op;
    int n_in;
    int shape_of[3]; /* per input: 0 the [R, C] tensor, 1 a [C] row, 2 a scalar, 3 [R] i64 indices */
    hcg_attr attrs[2];
    int n_attrs;
} op_case;

static void run_node(void *ctx) { ob_run(ctx); }

typedef struct copy_ctx {
    ocl_dev *dev;
    cl_mem a, b;
    size_t bytes;
} copy_ctx;

static void run_copy(void *ctx)
{
    copy_ctx *c = ctx;
    if (clEnqueueCopyBuffer(c->dev->queue, c->a, c->b, 0, 0, c->bytes, 0, NULL, NULL) != CL_SUCCESS ||
        clFinish(c->dev->queue) != CL_SUCCESS) {
        fprintf(stderr, "copy failed\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *name = "opencl:0";
    double seconds = 1.0;
    int64_t rows = 4096, cols = 1024;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) name = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) rows = atoll(argv[++i]);
        else if (strcmp(argv[i], "--cols") == 0 && i + 1 < argc) cols = atoll(argv[++i]);
    }
    hcg_device *d = hcg_device_find(name);
    if (!d || strcmp(d->iface->name, "opencl") != 0) {
        fprintf(stderr, "no OpenCL device '%s' (%s)\n", name, hcg_device_notes());
        return 1;
    }
    ocl_dev *dev = ocl_of(d);
    size_t bytes = (size_t)(rows * cols) * sizeof(float);

    /* the reference: the device copying the same number of bytes */
    cl_int err;
    copy_ctx cc = {dev, clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err),
                   clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err), bytes};
    if (!cc.a || !cc.b) return fprintf(stderr, "clCreateBuffer failed\n"), 1;
    float zero = 0;
    clEnqueueFillBuffer(dev->queue, cc.a, &zero, 4, 0, bytes, 0, NULL, NULL);
    double copy_gbps = 2.0 * (double)bytes / ob_time(run_copy, &cc, seconds) / 1e9;
    clReleaseMemObject(cc.a);
    clReleaseMemObject(cc.b);

    int64_t perm[2] = {1, 0}, axes[1] = {1};
    const op_case cases[] = {
        {"add [R,C] + [R,C]", HCG_OP_ADD, 2, {0, 0}, {{0}}, 0},
        {"add [R,C] + [C] (bias)", HCG_OP_ADD, 2, {0, 1}, {{0}}, 0},
        {"mul [R,C] * scalar", HCG_OP_MUL, 2, {0, 2}, {{0}}, 0},
        {"gelu", HCG_OP_GELU, 1, {0}, {{0}}, 0},
        {"softmax (rows)", HCG_OP_SOFTMAX, 1, {0}, {{0}}, 0},
        {"layer_norm (rows)", HCG_OP_LAYER_NORM, 3, {0, 1, 1}, {{0}}, 0},
        {"reduce_sum (rows)", HCG_OP_REDUCE_SUM, 1, {0}, {HCG_ATTR_IS("axes", axes, 1)}, 1},
        {"transpose", HCG_OP_TRANSPOSE, 1, {0}, {HCG_ATTR_IS("perm", perm, 2)}, 1},
        {"gather (R rows)", HCG_OP_GATHER, 2, {0, 3}, {{0}}, 0},
    };
    ob_print_machine();
    printf("device: %s: %s\n", d->name, d->description);
    printf("tensors [%lld, %lld] f32 (%.1f MB); copy bandwidth %.1f GB/s (clEnqueueCopyBuffer, read + write)\n\n",
           (long long)rows, (long long)cols, (double)bytes / 1e6, copy_gbps);
    printf("%-24s %10s %10s %10s\n", "op", "time ms", "GB/s", "of copy");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const op_case *oc = &cases[c];
        hcg_graph *g = hcg_graph_new();
        hcg_id ins[3];
        hcg_shape shapes[3];
        for (int i = 0; i < oc->n_in; i++) {
            int64_t full[2] = {rows, cols}, row[1] = {cols}, idx[1] = {rows};
            char nm[8];
            snprintf(nm, sizeof nm, "x%d", i);
            switch (oc->shape_of[i]) {
            case 0: shapes[i] = hcg_shape_make(2, full); break;
            case 1: shapes[i] = hcg_shape_make(1, row); break;
            case 2: shapes[i] = hcg_shape_make(0, NULL); break;
            default: shapes[i] = hcg_shape_make(1, idx); break;
            }
            ins[i] = hcg_input(g, nm, oc->shape_of[i] == 3 ? HCG_I64 : HCG_F32, shapes[i].rank, shapes[i].dims);
        }
        hcg_output(g, hcg_add_node(g, oc->op, "op", ins, oc->n_in, oc->attrs, oc->n_attrs), "y");
        ob_node node;
        ob_setup(&node, d, g, shapes, "op");
        if (oc->op == HCG_OP_GATHER) { /* valid row indices */
            int64_t *idx = malloc(sizeof(int64_t) * (size_t)rows);
            for (int64_t i = 0; i < rows; i++) idx[i] = (i * 7919) % rows;
            if (d->iface->write(d, &node.bufs[1], 0, idx, sizeof(int64_t) * (size_t)rows)) ob_fail("write");
            free(idx);
        }
        double t = ob_time(run_node, &node, seconds);
        double gbps = (double)(node.bytes_in + node.bytes_out) / t / 1e9;
        printf("%-24s %10.3f %10.1f %9.0f%%\n", oc->label, t * 1e3, gbps, 100 * gbps / copy_gbps);
        ob_teardown(&node);
        hcg_graph_free(g);
    }
    return 0;
}
