/* bench_dist.c — data-parallel training speed (bench/README.md, "Data-parallel training over
 * MPI"). Run under mpirun -np R (bench/bench_dist.sh does, interleaving R = 1 and 2): trains a
 * synthetic MLP (64 inputs, --layers hidden layers of --hidden, 10 classes, ReLU, cross-entropy,
 * SGD) data parallel on global batches of --batch rows, R-th of them per rank, and prints one JSON
 * line from rank 0:
 *   step_ms        median time of a data-parallel step (every rank's gradients averaged);
 *   local_ms       median step of the same model on this rank's rows alone (no communication);
 *   comm_ms        step_ms - local_ms: what the communication costs a step after the overlap;
 *   allreduce_ms   median time of one all-reduce of all the gradients alone (nothing to overlap);
 *   latency_us     median all-reduce time of one float (the per-message cost);
 *   local_rows_ms  with --sweep: the local step time for each per-rank batch of a global batch
 *                  shared by 1, 2, 4, ..., 64 ranks (the compute side of the projection).
 * --trace PREFIX profiles the data-parallel steps and writes PREFIX.rankN.json (Chrome traces). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/dist/dist.h"

#define IN_DIM 64
#define CLASSES 10

/* Ends the whole job after an error (the other ranks would otherwise wait), then this process. */
static void die(int code)
{
    hcg_dist_abort(code);
    exit(code);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng_state = 88172645463325252ULL;
static float frand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static hcg_id param(hcg_graph *g, const char *name, int rank, const int64_t *dims, float scale)
{
    hcg_shape s = hcg_shape_make(rank, dims);
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_F32, &s, &t);
    float *p = t->data;
    for (size_t i = 0; i < t->nbytes / sizeof(float); i++) p[i] = frand() * scale;
    return hcg_param(g, name, t);
}

static hcg_graph *mlp(int layers, int hidden)
{
    hcg_graph *g = hcg_graph_new();
    int64_t n = hcg_sym(g, "N"), xd[2] = {n, IN_DIM}, yd[1] = {n};
    hcg_id h = hcg_input(g, "x", HCG_F32, 2, xd), y = hcg_input(g, "y", HCG_I64, 1, yd);
    int64_t width = IN_DIM;
    for (int l = 0; l <= layers; l++) {
        int64_t out = l == layers ? CLASSES : hidden, wd[2] = {out, width}, bd[1] = {out};
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "fc%d.weight", l);
        snprintf(bn, sizeof bn, "fc%d.bias", l);
        h = hcg_add(g, hcg_matmul(g, h, param(g, wn, 2, wd, 1.0f / sqrtf((float)width)), false, true), param(g, bn, 1, bd, 0.01f));
        if (l < layers) h = hcg_unary(g, HCG_OP_RELU, h);
        width = out;
    }
    hcg_id in[2] = {h, y};
    hcg_attr axis = HCG_ATTR_I("axis", -1);
    hcg_output(g, hcg_add_node(g, HCG_OP_SOFTMAX_CROSS_ENTROPY, "loss", in, 2, &axis, 1), "loss");
    return g;
}

static void make_batch(int64_t rows, hcg_tensor **x, hcg_tensor **y)
{
    int64_t xd[2] = {rows, IN_DIM}, yd[1] = {rows};
    hcg_shape xs = hcg_shape_make(2, xd), ys = hcg_shape_make(1, yd);
    hcg_tensor_new(HCG_F32, &xs, x);
    hcg_tensor_new(HCG_I64, &ys, y);
    float *xp = (*x)->data;
    int64_t *yp = (*y)->data;
    for (int64_t i = 0; i < rows * IN_DIM; i++) xp[i] = frand();
    for (int64_t i = 0; i < rows; i++) yp[i] = (int64_t)((frand() + 1.0f) * 0.5f * CLASSES) % CLASSES;
}

static const char *trace_prefix; /* --trace PREFIX */

static hcg_train_session *session(hcg_graph *g, bool distributed, int64_t bucket)
{
    hcg_train_options o = {.loss = "loss", .lr = 0.01, .devices = "cpu", .distributed = distributed, .bucket_bytes = bucket,
                           .profile = trace_prefix != NULL};
    hcg_train_session *t = NULL;
    if (hcg_train_session_new(g, &o, &t)) {
        fprintf(stderr, "bench_dist: %s\n", hcg_last_error());
        die(1);
    }
    return t;
}

static double timed_step(hcg_train_session *t, const hcg_tensor *const *in)
{
    double t0 = hcg_now();
    if (hcg_train_step(t, in, NULL)) {
        fprintf(stderr, "bench_dist: %s\n", hcg_last_error());
        die(1);
    }
    return (hcg_now() - t0) * 1e3;
}

/* Median step times (ms) on `rows` rows of a data-parallel session and of a local one, their steps
 * interleaved (A B A B) so that both see the same load. */
static void step_ms(hcg_graph *g, int64_t bucket, int64_t rows, int warmup, int steps, double *dist_ms, double *local_ms,
                    size_t *param_bytes)
{
    hcg_train_session *d = dist_ms ? session(g, true, bucket) : NULL, *l = session(g, false, 0);
    hcg_tensor *x = NULL, *y = NULL;
    make_batch(rows, &x, &y);
    const hcg_tensor *in[2] = {x, y};
    double *a = malloc(sizeof(double) * (size_t)steps), *b = malloc(sizeof(double) * (size_t)steps);
    for (int k = 0; k < warmup + steps; k++) {
        double td = d ? timed_step(d, in) : 0, tl = timed_step(l, in);
        if (k >= warmup) a[k - warmup] = td, b[k - warmup] = tl;
    }
    if (param_bytes) {
        *param_bytes = 0;
        for (int i = 0; i < hcg_train_num_params(l); i++) {
            hcg_tensor *p = NULL;
            hcg_train_get_param(l, hcg_train_param_name(l, i), &p);
            *param_bytes += p->nbytes;
            hcg_tensor_free(p);
        }
    }
    if (d && trace_prefix) { /* the last data-parallel step, per rank (profiled: slower) */
        char p[1024];
        snprintf(p, sizeof p, "%s.rank%d.json", trace_prefix, hcg_dist_rank());
        hcg_session_write_trace(hcg_train_get_session(d), p);
    }
    if (dist_ms) *dist_ms = median(a, steps);
    *local_ms = median(b, steps);
    free(a);
    free(b);
    hcg_tensor_free(x);
    hcg_tensor_free(y);
    hcg_train_session_free(d);
    hcg_train_session_free(l);
}

/* Median time (ms) of one all-reduce of n floats, started and awaited alone. */
static double allreduce_ms(size_t n, int reps)
{
    float *buf = calloc(n ? n : 1, sizeof(float));
    double *ms = malloc(sizeof(double) * (size_t)reps);
    for (int k = 0; k < reps + 3; k++) {
        double zero = 0;
        hcg_dist_sum(&zero, 1, "lining the ranks up"); /* start together */
        double t0 = hcg_now();
        if (hcg_dist_allreduce_start(buf, n, "bench") || hcg_dist_allreduce_wait(buf, "bench")) {
            fprintf(stderr, "bench_dist: %s\n", hcg_last_error());
            die(1);
        }
        double t = (hcg_now() - t0) * 1e3;
        if (k >= 3) ms[k - 3] = t;
    }
    double m = median(ms, reps);
    free(buf);
    free(ms);
    return m;
}

int main(int argc, char **argv)
{
    int layers = 3, hidden = 512, steps = 30, warmup = 5;
    int64_t batch = 256, bucket_kb = 1024;
    bool sweep = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--layers") == 0 && i + 1 < argc) layers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--hidden") == 0 && i + 1 < argc) hidden = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = atoll(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--bucket-kb") == 0 && i + 1 < argc) bucket_kb = atoll(argv[++i]);
        else if (strcmp(argv[i], "--sweep") == 0) sweep = true;
        else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) trace_prefix = argv[++i];
        else {
            fprintf(stderr, "usage: mpirun -np R bench_dist [--layers L] [--hidden H] [--batch B] [--steps N] [--bucket-kb K] [--sweep]\n"
                            "                            [--trace PREFIX (Chrome traces of a profiled step, per rank)]\n");
            return 2;
        }
    }
    if (hcg_dist_init()) {
        fprintf(stderr, "bench_dist: %s\n", hcg_last_error());
        return 1;
    }
    int rank = hcg_dist_rank(), ranks = hcg_dist_size();
    if (batch % ranks) {
        fprintf(stderr, "bench_dist: --batch %lld does not divide among %d ranks\n", (long long)batch, ranks);
        die(2);
    }
    hcg_graph *g = mlp(layers, hidden);
    int64_t rows = batch / ranks;
    size_t bytes = 0;
    double dist = 0, local = 0;
    step_ms(g, bucket_kb * 1024, rows, warmup, steps, &dist, &local, &bytes);
    double ar = allreduce_ms(bytes / sizeof(float), steps), lat = allreduce_ms(1, steps) * 1e3;
    if (rank == 0) {
        printf("{\"ranks\": %d, \"batch\": %lld, \"rows_per_rank\": %lld, \"layers\": %d, \"hidden\": %d, \"param_bytes\": %zu, "
               "\"step_ms\": %.4f, \"samples_per_s\": %.1f, \"local_ms\": %.4f, \"comm_ms\": %.4f, \"allreduce_ms\": %.4f, "
               "\"latency_us\": %.2f",
               ranks, (long long)batch, (long long)rows, layers, hidden, bytes, dist, (double)batch / dist * 1e3, local,
               dist - local, ar, lat);
        if (sweep) { /* the compute of one rank's share for 1, 2, 4, ..., 64 ranks */
            printf(", \"local_rows_ms\": {");
            for (int r = 1; r <= 64; r *= 2) {
                int64_t n = batch / r > 0 ? batch / r : 1;
                double ms = 0;
                step_ms(g, 0, n, warmup, steps, NULL, &ms, NULL);
                printf("%s\"%lld\": %.4f", r > 1 ? ", " : "", (long long)n, ms);
            }
            printf("}");
        }
        printf("}\n");
        fflush(stdout);
    }
    hcg_graph_free(g);
    hcg_dist_finalize();
    return 0;
}
