/* bench_cpu.c — the CPU backend's overhead, measured side by side in one process:
 *  1. matmul GFLOP/s through an hcg session (graph input @ parameter) against cblas_sgemm called
 *     directly on the same sizes and buffers' contents (the ratio must stay >= 0.9);
 *  2. per-node dispatch overhead on a graph of 1000 tiny ops (a chain of adds on 4 floats),
 *     against the same 1000 kernel calls made directly (best of several runs each).
 * Prints the OpenBLAS core in use, since OPENBLAS_CORETYPE changes the kernels.
 * Usage: bench_cpu [--quick] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "backend/backend.h"
#include "hcg/hcg.h"

char *openblas_get_corename(void);
int openblas_get_num_threads(void);

static hcg_tensor *random_tensor(int rows, int cols, unsigned seed)
{
    hcg_shape s = hcg_shape_make(2, (int64_t[]){rows, cols});
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_F32, &s, &t);
    for (long i = 0; i < (long)rows * cols; i++) {
        seed = seed * 1664525u + 1013904223u;
        ((float *)t->data)[i] = (float)(seed >> 9) / (float)(1u << 23) - 0.5f;
    }
    return t;
}

static double best_of(int reps, double (*fn)(void *), void *ctx)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = fn(ctx);
        if (t < best) best = t;
    }
    return best;
}

typedef struct mm_case {
    int m, k, n, iters;
    hcg_session *s;
    hcg_tensor *a, *b, *c;
} mm_case;

static double time_hcg(void *p)
{
    mm_case *c = p;
    double t = hcg_now();
    for (int i = 0; i < c->iters; i++)
        if (hcg_session_run_into(c->s, (const hcg_tensor *const *)&c->a, &c->c)) {
            fprintf(stderr, "run failed: %s\n", hcg_last_error());
            exit(1);
        }
    return (hcg_now() - t) / c->iters;
}

static double time_blas(void *p)
{
    mm_case *c = p;
    double t = hcg_now();
    for (int i = 0; i < c->iters; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->m, c->n, c->k, 1.0f, c->a->data, c->k, c->b->data,
                    c->n, 0.0f, c->c->data, c->n);
    return (hcg_now() - t) / c->iters;
}

static void bench_matmul(bool quick)
{
    static const int sizes[][3] = {{128, 384, 384}, {128, 1536, 384}, {512, 512, 512}, {1024, 1024, 1024}};
    printf("\n== matmul: hcg session (cpu) vs cblas_sgemm direct, M x K x N, best of 5\n");
    printf("%-18s %12s %12s %8s\n", "size", "hcg GFLOP/s", "BLAS GFLOP/s", "ratio");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        mm_case c = {.m = sizes[i][0], .k = sizes[i][1], .n = sizes[i][2]};
        double flops = 2.0 * c.m * c.k * c.n;
        c.iters = (int)(2e9 / flops) + 1;
        if (quick) c.iters = 1;
        hcg_graph *g = hcg_graph_new();
        hcg_id x = hcg_input(g, "a", HCG_F32, 2, (int64_t[]){c.m, c.k});
        c.b = random_tensor(c.k, c.n, 2);
        hcg_tensor *w = NULL;
        hcg_tensor_clone(c.b, &w);
        hcg_id y = hcg_matmul(g, x, hcg_param(g, "b", w), false, false);
        hcg_output(g, y, "c");
        c.a = random_tensor(c.m, c.k, 1);
        hcg_shape cs = hcg_shape_make(2, (int64_t[]){c.m, c.n});
        hcg_tensor_new(HCG_F32, &cs, &c.c);
        if (hcg_session_new(g, &(hcg_session_options){.devices = "cpu"}, &c.s)) {
            fprintf(stderr, "session: %s\n", hcg_last_error());
            exit(1);
        }
        time_hcg(&c); /* plan, warm up */
        time_blas(&c);
        /* interleave so both see the same machine state */
        double th = 1e30, tb = 1e30;
        for (int r = 0; r < (quick ? 1 : 5); r++) {
            double a = best_of(1, time_hcg, &c), b = best_of(1, time_blas, &c);
            th = a < th ? a : th;
            tb = b < tb ? b : tb;
        }
        char label[32];
        snprintf(label, sizeof label, "%dx%dx%d", c.m, c.k, c.n);
        printf("%-18s %12.1f %12.1f %8.3f\n", label, flops / th / 1e9, flops / tb / 1e9, tb / th);
        hcg_session_free(c.s);
        hcg_graph_free(g);
        hcg_tensor_free(c.a);
        hcg_tensor_free(c.b);
        hcg_tensor_free(c.c);
    }
}

typedef struct chain_case {
    hcg_session *s;
    hcg_tensor *x, *y;
    int iters;
} chain_case;

static double time_chain(void *p)
{
    chain_case *c = p;
    double t = hcg_now();
    for (int i = 0; i < c->iters; i++)
        if (hcg_session_run_into(c->s, (const hcg_tensor *const *)&c->x, &c->y)) {
            fprintf(stderr, "run failed: %s\n", hcg_last_error());
            exit(1);
        }
    return (hcg_now() - t) / c->iters;
}

static double time_direct_adds(void *p)
{
    chain_case *c = p;
    float a[4], one[4] = {1, 1, 1, 1};
    memcpy(a, c->x->data, sizeof a);
    double t = hcg_now();
    for (int i = 0; i < c->iters; i++)
        for (int k = 0; k < 1000; k++)
            for (int j = 0; j < 4; j++) ((volatile float *)a)[j] = a[j] + one[j];
    return (hcg_now() - t) / c->iters;
}

static void bench_dispatch(bool quick)
{
    const int nodes = 1000;
    hcg_graph *g = hcg_graph_new();
    hcg_id v = hcg_input(g, "x", HCG_F32, 1, (int64_t[]){4});
    hcg_shape s4 = hcg_shape_make(1, (int64_t[]){4});
    hcg_tensor *ones = NULL;
    hcg_tensor_new(HCG_F32, &s4, &ones);
    for (int j = 0; j < 4; j++) ((float *)ones->data)[j] = 1;
    hcg_id one = hcg_constant(g, "one", ones);
    for (int k = 0; k < nodes; k++) v = hcg_add(g, v, one);
    hcg_output(g, v, "y");
    chain_case c = {.iters = quick ? 10 : 200};
    hcg_tensor_new(HCG_F32, &s4, &c.x);
    hcg_tensor_new(HCG_F32, &s4, &c.y);
    hcg_session_new(g, &(hcg_session_options){.devices = "cpu"}, &c.s);
    time_chain(&c);
    double th = best_of(quick ? 1 : 5, time_chain, &c), td = best_of(quick ? 1 : 5, time_direct_adds, &c);
    printf("\n== dispatch: a chain of %d adds on f32[4], one run, cpu device, best of 5\n", nodes);
    printf("hcg run: %.2f us per node (%.1f us per run); the same adds called directly: %.3f us per node\n",
           th / nodes * 1e6, th * 1e6, td / nodes * 1e6);
    printf("dispatch overhead: %.2f us per node\n", (th - td) / nodes * 1e6);
    hcg_session_free(c.s);
    hcg_graph_free(g);
    hcg_tensor_free(c.x);
    hcg_tensor_free(c.y);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("OpenBLAS core: %s (OPENBLAS_CORETYPE=%s), %d threads\n", openblas_get_corename(), ct ? ct : "unset",
           openblas_get_num_threads());
    bench_matmul(quick);
    bench_dispatch(quick);
    return 0;
}
