/* opencl_bench.h — what the OpenCL benchmarks share: one node of a graph run through a device's
 * backend interface directly (its inputs and output in device buffers, no transfers timed), a
 * timer that repeats until enough time has passed, and the machine's description. Header-only:
 * each bench_opencl_*.c is its own program. */
#ifndef HCG_OPENCL_BENCH_H
#define HCG_OPENCL_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "graph/bind.h"

#define OB_MAX_IN 4

/* A node of a bound graph, prepared on a device with its operands in device buffers. */
typedef struct ob_node {
    hcg_device *d;
    hcg_graph *bound;
    hcg_exec_node en;
    hcg_dev_tensor in[OB_MAX_IN];
    hcg_buffer bufs[OB_MAX_IN + 1];
    int n_bufs;
    size_t bytes_in, bytes_out;
} ob_node;

static void ob_fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, hcg_last_error());
    exit(1);
}

/* Binds g to its input shapes (no folding), puts node `name` on d with random operands. */
static void ob_setup(ob_node *b, hcg_device *d, const hcg_graph *g, const hcg_shape *shapes, const char *name)
{
    memset(b, 0, sizeof *b);
    b->d = d;
    if (hcg_graph_bind(g, shapes, &(hcg_bind_options){0}, &b->bound)) ob_fail("bind");
    hcg_id id = hcg_graph_find(b->bound, name);
    const hcg_node *n = &b->bound->nodes[id];
    b->en = (hcg_exec_node){.g = b->bound, .node = n, .id = id, .n_in = n->n_inputs, .in = b->in};
    for (int i = 0; i <= n->n_inputs; i++) {
        const hcg_node *x = i < n->n_inputs ? &b->bound->nodes[n->inputs[i]] : n;
        size_t bytes = hcg_node_nbytes(x);
        if (d->iface->buffer_alloc(d, bytes, &b->bufs[i])) ob_fail("buffer_alloc");
        b->n_bufs++;
        hcg_dev_tensor t = {.dtype = x->dtype, .shape = x->shape, .buf = &b->bufs[i]};
        if (i < n->n_inputs) {
            float *host = malloc(bytes ? bytes : 1);
            for (size_t k = 0; k < bytes / sizeof(float); k++) host[k] = (float)((k * 7919) % 1000) / 500.0f - 1.0f;
            if (d->iface->write(d, &b->bufs[i], 0, host, bytes)) ob_fail("write");
            free(host);
            b->in[i] = t;
            b->bytes_in += bytes;
        } else {
            b->en.out = t;
            b->bytes_out = bytes;
        }
    }
    if (d->iface->prepare && d->iface->prepare(d, &b->en)) ob_fail("prepare");
}

static void ob_run(ob_node *b)
{
    if (b->d->iface->run(b->d, &b->en, 1, false) || b->d->iface->synchronize(b->d)) ob_fail("run");
}

static void ob_teardown(ob_node *b)
{
    if (b->d->iface->release) b->d->iface->release(b->d, &b->en);
    for (int i = 0; i < b->n_bufs; i++) b->d->iface->buffer_free(b->d, &b->bufs[i]);
    hcg_graph_free(b->bound);
}

/* Median seconds of fn(ctx) over repetitions taking at least min_seconds (after one warm-up). */
typedef void (*ob_fn)(void *ctx);
static int ob_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static inline double ob_time(ob_fn fn, void *ctx, double min_seconds)
{
    double times[1000];
    int n = 0;
    fn(ctx);
    double start = hcg_now();
    while (n < 1000 && (n < 5 || hcg_now() - start < min_seconds)) {
        double t = hcg_now();
        fn(ctx);
        times[n++] = hcg_now() - t;
    }
    qsort(times, (size_t)n, sizeof times[0], ob_cmp);
    return times[n / 2];
}

/* Times two ways of doing the same work alternately (a, b, a, b, ...), so both see the same
 * machine state on a shared machine; the median of each. */
static inline void ob_time_pair(ob_fn fa, void *ca, ob_fn fb, void *cb, double min_seconds, double *ta, double *tb)
{
    static double times_a[1000], times_b[1000];
    int n = 0;
    fa(ca);
    fb(cb);
    double start = hcg_now();
    while (n < 1000 && (n < 5 || hcg_now() - start < 2 * min_seconds)) {
        double t = hcg_now();
        fa(ca);
        times_a[n] = hcg_now() - t;
        t = hcg_now();
        fb(cb);
        times_b[n++] = hcg_now() - t;
    }
    qsort(times_a, (size_t)n, sizeof times_a[0], ob_cmp);
    qsort(times_b, (size_t)n, sizeof times_b[0], ob_cmp);
    *ta = times_a[n / 2];
    *tb = times_b[n / 2];
}

/* "model name" of /proc/cpuinfo and the core count, for the report. */
static void ob_print_machine(void)
{
    char line[512], model[256] = "unknown";
    int cores = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) snprintf(model, sizeof model, "%s", c + 2);
            model[strcspn(model, "\n")] = 0;
            cores++;
        }
    }
    if (f) fclose(f);
    printf("machine: %s, %d cores\n", model, cores);
}

#endif
