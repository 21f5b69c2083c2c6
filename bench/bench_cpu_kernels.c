/* bench_cpu_kernels.c — the CPU kernels one at a time, called directly (no session): time per
 * call, GB/s moved and GFLOP/s (from the op table's cost rule) for tiny ops (dispatch cost) and
 * transformer-sized ones (elementwise with broadcasting, activations, softmax, norms, transposes,
 * matmuls, reductions, casts), plus the thread pool's cost for an empty parallel loop. Run it with
 * HCG_CPU_THREADS=1 and without to see what threading buys on the machine.
 * Usage: bench_cpu_kernels [--quick] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "graph/bind.h"
#include "graph/op_table.h"

static bool quick;

/* Runs node id of bound graph g on host buffers filled with small values; best time per call. */
static double time_node(const hcg_graph *g, hcg_id id, int reps)
{
    const hcg_node *n = &g->nodes[id];
    int nin = n->n_inputs;
    hcg_buffer bufs[4] = {0};
    hcg_dev_tensor ins[4];
    for (int i = 0; i < nin; i++) {
        const hcg_node *in = &g->nodes[n->inputs[i]];
        size_t nb = hcg_node_nbytes(in);
        bufs[i].host = calloc(1, nb + 64);
        bufs[i].size = nb;
        if (in->dtype == HCG_F32)
            for (size_t k = 0; k < nb / 4; k++) ((float *)bufs[i].host)[k] = (float)(k % 17) * 0.1f - 0.8f;
        ins[i] = (hcg_dev_tensor){.dtype = in->dtype, .shape = in->shape, .buf = &bufs[i]};
    }
    hcg_buffer ob = {.host = calloc(1, hcg_node_nbytes(n) + 64), .size = hcg_node_nbytes(n)};
    hcg_exec_node en = {.g = g, .node = n, .id = id, .n_in = nin, .in = ins,
                        .out = {.dtype = n->dtype, .shape = n->shape, .buf = &ob}};
    hcg_cpu_kernel k = hcg_cpu_kernels[n->op];
    double best = 1e30;
    if (k(&en)) {
        fprintf(stderr, "%s\n", hcg_last_error());
        best = 0;
    }
    for (int r = 0; best > 0 && r < (quick ? 2 : 5); r++) {
        double t = hcg_now();
        for (int i = 0; i < reps; i++) k(&en);
        t = (hcg_now() - t) / reps;
        if (t < best) best = t;
    }
    for (int i = 0; i < nin; i++) free(bufs[i].host);
    free(ob.host);
    return best;
}

/* Binds g (its inputs as declared), times its first output node and prints one line. */
static void report(const char *label, hcg_graph *g, int reps)
{
    hcg_shape shapes[4];
    for (int i = 0; i < g->n_inputs; i++) shapes[i] = g->nodes[g->inputs[i]].shape;
    hcg_graph *b = NULL;
    hcg_bind_options opt = {0};
    if (hcg_graph_bind(g, shapes, &opt, &b)) {
        printf("%-44s bind failed: %s\n", label, hcg_last_error());
        hcg_graph_free(g);
        return;
    }
    hcg_id id = b->outputs[0];
    if (quick) reps = reps / 10 + 1;
    double t = time_node(b, id, reps), flops, bytes;
    hcg_node_cost(b, &b->nodes[id], &flops, &bytes);
    printf("%-44s %10.2f us %8.2f GB/s %8.2f GFLOP/s\n", label, t * 1e6, bytes / t / 1e9, flops / t / 1e9);
    hcg_graph_free(b);
    hcg_graph_free(g);
}

static hcg_graph *unary_graph(hcg_op op, int rank, const int64_t *dims, const hcg_attr *attrs, int n_attrs)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id x = hcg_input(g, "x", HCG_F32, rank, dims);
    hcg_output(g, hcg_add_node(g, op, "y", &x, 1, attrs, n_attrs), "y");
    return g;
}

static hcg_graph *binary_graph(hcg_op op, int ra, const int64_t *a, int rb, const int64_t *b)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id ids[2] = {hcg_input(g, "a", HCG_F32, ra, a), hcg_input(g, "b", HCG_F32, rb, b)};
    hcg_output(g, hcg_add_node(g, op, "y", ids, 2, NULL, 0), "y");
    return g;
}

static void nop(void *ctx, int64_t begin, int64_t end)
{
    (void)ctx;
    (void)begin;
    (void)end;
}

int main(int argc, char **argv)
{
    quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    printf("cpu threads: %d\n", hcg_cpu_threads());
    double t = hcg_now();
    for (int i = 0; i < 10000; i++) hcg_parallel_for(1000, 1, nop, NULL);
    printf("%-44s %10.2f us\n", "parallel_for, empty chunks", (hcg_now() - t) / 10000 * 1e6);

    int64_t d4[1] = {4}, row64[2] = {1, 64}, big[2] = {2048, 2048}, bias[1] = {2048}, col[2] = {2048, 1};
    int64_t tok[2] = {4096, 1024}, ln[1] = {1024}, heads[4] = {8, 512, 16, 64}, perm4[4] = {0, 2, 1, 3};
    int64_t sq[2] = {1024, 1024}, qk[4] = {1, 16, 128, 64}, perm2[2] = {1, 0}, ax1[1] = {1}, ax0[1] = {0};

    report("add [4] (dispatch)", binary_graph(HCG_OP_ADD, 1, d4, 1, d4), 100000);
    report("softmax [1, 64]", unary_graph(HCG_OP_SOFTMAX, 2, row64, NULL, 0), 100000);
    report("add [2048, 2048]", binary_graph(HCG_OP_ADD, 2, big, 2, big), 20);
    report("add [2048, 2048] + [2048] (row bias)", binary_graph(HCG_OP_ADD, 2, big, 1, bias), 20);
    report("mul [2048, 2048] * [2048, 1] (column)", binary_graph(HCG_OP_MUL, 2, big, 2, col), 20);
    report("exp [2048, 2048]", unary_graph(HCG_OP_EXP, 2, big, NULL, 0), 5);
    report("gelu [2048, 2048]", unary_graph(HCG_OP_GELU, 2, big, NULL, 0), 5);
    report("softmax [2048, 2048]", unary_graph(HCG_OP_SOFTMAX, 2, big, NULL, 0), 5);
    {
        hcg_graph *g = hcg_graph_new();
        hcg_id x = hcg_input(g, "x", HCG_F32, 2, tok), s = hcg_input(g, "s", HCG_F32, 1, ln),
               b = hcg_input(g, "b", HCG_F32, 1, ln);
        hcg_output(g, hcg_layer_norm(g, x, s, b, -1, 1e-5), "y");
        report("layer_norm [4096, 1024]", g, 5);
    }
    {
        hcg_attr a = HCG_ATTR_IS("perm", perm2, 2);
        report("transpose [2048, 2048]", unary_graph(HCG_OP_TRANSPOSE, 2, big, &a, 1), 5);
        hcg_attr h = HCG_ATTR_IS("perm", perm4, 4);
        report("transpose [8, 512, 16, 64] -> heads", unary_graph(HCG_OP_TRANSPOSE, 4, heads, &h, 1), 5);
    }
    report("matmul [1024, 1024] @ [1024, 1024]", binary_graph(HCG_OP_MATMUL, 2, sq, 2, sq), 3);
    {
        hcg_graph *g = hcg_graph_new();
        hcg_id q = hcg_input(g, "q", HCG_F32, 4, qk), k = hcg_input(g, "k", HCG_F32, 4, qk);
        hcg_output(g, hcg_matmul(g, q, k, false, true), "y");
        report("matmul q @ k^T [16 heads, 128, 64]", g, 20);
    }
    {
        hcg_attr a[2] = {HCG_ATTR_IS("axes", ax1, 1), HCG_ATTR_I("keepdims", 0)};
        report("reduce_sum rows [4096, 1024]", unary_graph(HCG_OP_REDUCE_SUM, 2, tok, a, 2), 5);
        hcg_attr c[2] = {HCG_ATTR_IS("axes", ax0, 1), HCG_ATTR_I("keepdims", 0)};
        report("reduce_sum columns [4096, 1024]", unary_graph(HCG_OP_REDUCE_SUM, 2, tok, c, 2), 5);
        hcg_attr f = HCG_ATTR_S("to", "f16");
        report("cast f32 -> f16 [4096, 1024]", unary_graph(HCG_OP_CAST, 2, tok, &f, 1), 5);
    }
    return 0;
}
