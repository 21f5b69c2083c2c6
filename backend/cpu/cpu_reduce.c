/* cpu_reduce.c — reductions (reduce_sum, reduce_mean, reduce_max, reduce_prod over any subset of axes),
 * softmax and log_softmax, layer_norm and rms_norm on the CPU.
 *
 * Every one of them works on a tensor seen as [outer, R, inner]: R is the reduced (or
 * normalised) extent, outer and inner the kept ones around it. inner == 1 is a row reduction
 * (contiguous, the transformer case); inner > 1 is walked in column tiles of the rows, so reads
 * stay sequential and the per-column accumulators stay in registers/L1. A reduction over axes
 * that are not adjacent first transposes the reduced axes to the end. Float sums accumulate in
 * double: long rows (a 50k vocabulary, a mean over everything) then lose nothing measurable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_simd.h"
#include "graph/op_table.h"

#define TILE 256    /* columns per tile of a softmax with inner > 1, and per vector block */
#define RCOLS 2048  /* columns per unit of a reduction with inner > 1: rows are streamed in long runs */

/* ---------------------------------------------------------------- row sums in double */

/* Four partial sums in named variables (they stay in registers): one running sum would be a
 * chain of dependent adds, four independent ones keep the adder busy. */
static double row_sum(const float *x, int64_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i];
        s1 += x[i + 1];
        s2 += x[i + 2];
        s3 += x[i + 3];
    }
    for (; i < n; i++) s0 += x[i];
    return (s0 + s1) + (s2 + s3);
}

/* ---------------------------------------------------------------- reduce_* */

typedef struct reduce_ctx {
    hcg_op op;
    hcg_dtype dt;
    const char *x;
    char *o;
    int64_t outer, R, inner;
    int64_t cols, tiles; /* columns per unit (<= RCOLS), units per outer index */
} reduce_ctx;

static inline void add_row(double *restrict acc, const float *restrict row, int64_t w)
{
    for (int64_t j = 0; j < w; j++) acc[j] += row[j];
}

/* Reduces x[R rows of stride inner][w columns] into o[w], w <= RCOLS. */
static void reduce_block_f32(hcg_op op, const float *x, int64_t R, int64_t inner, int64_t w, float *o)
{
    if (op == HCG_OP_REDUCE_MAX) {
        float acc[RCOLS];
        for (int64_t j = 0; j < w; j++) acc[j] = x[j];
        for (int64_t r = 1; r < R; r++) {
            const float *row = x + r * inner;
            for (int64_t j = 0; j < w; j++) {
                float v = row[j];
                acc[j] = (v > acc[j] || isnan(v)) ? v : acc[j]; /* NaN wins, and stays */
            }
        }
        memcpy(o, acc, (size_t)w * sizeof(float));
        return;
    }
    if (op == HCG_OP_REDUCE_PROD) { /* products in double too: f32 would round at every step */
        double acc[RCOLS];
        for (int64_t j = 0; j < w; j++) acc[j] = 1.0;
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = 0; j < w; j++) acc[j] *= x[r * inner + j];
        for (int64_t j = 0; j < w; j++) o[j] = (float)acc[j];
        return;
    }
    double scale = op == HCG_OP_REDUCE_MEAN ? 1.0 / (double)R : 1.0;
    if (w == 1) { /* a contiguous row */
        o[0] = (float)(row_sum(x, R) * scale);
        return;
    }
    double acc[RCOLS];
    for (int64_t j = 0; j < w; j++) acc[j] = 0;
    for (int64_t r = 0; r < R; r++) {
        const float *row = x + r * inner;
        int64_t b = 0;
        for (; b + TILE <= w; b += TILE) add_row(acc + b, row + b, TILE); /* constant trip count: vectorised at -O2 */
        add_row(acc + b, row + b, w - b);
    }
    for (int64_t j = 0; j < w; j++) o[j] = (float)(acc[j] * scale);
}

/* Integer sums and products wrap around (done in the unsigned type); max is the plain maximum. */
#define DEF_REDUCE_INT(T, U, SUF)                                                                 \
    static void reduce_block_##SUF(hcg_op op, const T *x, int64_t R, int64_t inner, int64_t w, T *o) \
    {                                                                                             \
        if (op == HCG_OP_REDUCE_MAX) {                                                            \
            T acc[RCOLS];                                                                         \
            for (int64_t j = 0; j < w; j++) acc[j] = x[j];                                        \
            for (int64_t r = 1; r < R; r++) {                                                     \
                const T *row = x + r * inner;                                                     \
                for (int64_t j = 0; j < w; j++) acc[j] = row[j] > acc[j] ? row[j] : acc[j];       \
            }                                                                                     \
            memcpy(o, acc, (size_t)w * sizeof(T));                                                \
            return;                                                                               \
        }                                                                                         \
        U acc[RCOLS];                                                                             \
        bool prod_ = op == HCG_OP_REDUCE_PROD;                                                    \
        for (int64_t j = 0; j < w; j++) acc[j] = prod_ ? 1 : 0;                                   \
        for (int64_t r = 0; r < R; r++) {                                                         \
            const T *row = x + r * inner;                                                         \
            if (prod_)                                                                            \
                for (int64_t j = 0; j < w; j++) acc[j] *= (U)row[j];                              \
            else                                                                                  \
                for (int64_t j = 0; j < w; j++) acc[j] += (U)row[j];                              \
        }                                                                                         \
        for (int64_t j = 0; j < w; j++) o[j] = (T)acc[j];                                         \
    }

DEF_REDUCE_INT(int32_t, uint32_t, i32)
DEF_REDUCE_INT(int64_t, uint64_t, i64)

static void reduce_units(void *ctx, int64_t begin, int64_t end)
{
    const reduce_ctx *c = ctx;
    int64_t es = (int64_t)hcg_dtype_size(c->dt);
    for (int64_t u = begin; u < end; u++) {
        int64_t oi = u / c->tiles, j0 = (u % c->tiles) * c->cols;
        int64_t w = c->inner - j0 < c->cols ? c->inner - j0 : c->cols;
        const char *x = c->x + (oi * c->R * c->inner + j0) * es;
        char *o = c->o + (oi * c->inner + j0) * es;
        switch (c->dt) {
        case HCG_F32: reduce_block_f32(c->op, (const float *)x, c->R, c->inner, w, (float *)o); break;
        case HCG_I32: reduce_block_i32(c->op, (const int32_t *)x, c->R, c->inner, w, (int32_t *)o); break;
        case HCG_I64: reduce_block_i64(c->op, (const int64_t *)x, c->R, c->inner, w, (int64_t *)o); break;
        default: break;
        }
    }
}

static void reduce_run(reduce_ctx *c)
{
    /* Wide units: each streams long runs of its rows. (Narrower units to give every thread one
     * measured slower: interleaved half-rows defeat the prefetchers of a memory-bound loop.) */
    c->cols = RCOLS;
    c->tiles = (c->inner + c->cols - 1) / c->cols;
    int64_t per_unit = c->R * (c->inner < c->cols ? c->inner : c->cols);
    hcg_parallel_for(c->outer * c->tiles, hcg_grain_for(per_unit), reduce_units, c);
}

hcg_status hcg_k_reduce(hcg_exec_node *en)
{
    const hcg_dev_tensor *X = &en->in[0];
    const hcg_shape *xs = &X->shape;
    hcg_dtype dt = X->dtype;
    hcg_op op = en->node->op;
    if (!(dt == HCG_F32 || ((dt == HCG_I32 || dt == HCG_I64) && op != HCG_OP_REDUCE_MEAN)))
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "no cpu kernel for dtype %s", hcg_dtype_name(dt));
    bool mask[HCG_MAX_RANK];
    hcg_status mst = hcg_reduce_mask(en->g, en->node, xs->rank, mask);
    if (mst) return mst;
    if (hcg_cpu_numel(&en->out) == 0) return HCG_OK;

    /* Group the dims that matter (size > 1) into runs of reduced / kept dims. */
    int n_runs = 0;
    bool run_reduced[HCG_MAX_RANK];
    int64_t run_size[HCG_MAX_RANK];
    for (int i = 0; i < xs->rank; i++) {
        if (xs->dims[i] == 1) continue;
        if (n_runs > 0 && run_reduced[n_runs - 1] == mask[i]) {
            run_size[n_runs - 1] *= xs->dims[i];
        } else {
            run_reduced[n_runs] = mask[i];
            run_size[n_runs++] = xs->dims[i];
        }
    }
    int n_reduced_runs = 0;
    for (int i = 0; i < n_runs; i++) n_reduced_runs += run_reduced[i];

    reduce_ctx c = {.op = op, .dt = dt, .x = hcg_dev_tensor_ptr(X), .o = hcg_dev_tensor_ptr(&en->out),
                    .outer = 1, .R = 1, .inner = 1};
    if (n_reduced_runs <= 1) {
        int i = 0;
        for (; i < n_runs && !run_reduced[i]; i++) c.outer *= run_size[i];
        if (i < n_runs) c.R = run_size[i++];
        for (; i < n_runs; i++) c.inner *= run_size[i];
        reduce_run(&c);
        return HCG_OK;
    }
    /* Reduced axes apart from each other: move them to the end (kept dims first, in order). */
    int perm[HCG_MAX_RANK], np = 0;
    for (int i = 0; i < xs->rank; i++)
        if (!mask[i]) perm[np++] = i;
    for (int i = 0; i < xs->rank; i++)
        if (mask[i]) perm[np++] = i;
    int64_t in_strides[HCG_MAX_RANK], strides[2][HCG_MAX_RANK], dims[HCG_MAX_RANK];
    hcg_contiguous_strides(xs, in_strides);
    for (int i = 0; i < xs->rank; i++) {
        dims[i] = xs->dims[perm[i]];
        strides[1][i] = in_strides[perm[i]];
        if (!mask[perm[i]]) c.outer *= dims[i];
        else c.R *= dims[i];
    }
    hcg_shape ps = hcg_shape_make(xs->rank, dims);
    hcg_contiguous_strides(&ps, strides[0]);
    size_t es = hcg_dtype_size(dt);
    void *tmp = malloc((size_t)(c.outer * c.R) * es);
    if (!tmp) return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory for a reduction buffer");
    hcg_iter it;
    hcg_iter_init(&it, xs->rank, dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides, NULL);
    hcg_strided_copy(&it, es, tmp, c.x);
    c.x = tmp;
    reduce_run(&c);
    free(tmp);
    return HCG_OK;
}

/* ---------------------------------------------------------------- softmax, log_softmax */

typedef struct softmax_ctx {
    bool log;
    const float *x;
    float *o;
    int64_t D, inner, tiles;
} softmax_ctx;

/* One softmax over D elements that are `stride` apart, w columns at once (w <= TILE). Stable:
 * the maximum is subtracted before exponentiating. */
static void softmax_block(bool log_out, const float *x, float *o, int64_t D, int64_t stride, int64_t w)
{
    float mx[TILE];
    double sum[TILE];
    for (int64_t j = 0; j < w; j++) {
        mx[j] = x[j];
        sum[j] = 0;
    }
    for (int64_t d = 1; d < D; d++) {
        const float *row = x + d * stride;
        for (int64_t j = 0; j < w; j++) mx[j] = (row[j] > mx[j] || isnan(row[j])) ? row[j] : mx[j];
    }
    for (int64_t d = 0; d < D; d++) {
        const float *row = x + d * stride;
        float *orow = o + d * stride;
        for (int64_t j = 0; j < w; j++) {
            float e = expf(row[j] - mx[j]);
            sum[j] += e;
            if (!log_out) orow[j] = e;
        }
    }
    if (log_out) {
        /* (x - max) - log(sum), in that order: x - max is exact for the entries that matter,
         * while max + log(sum) would round log(sum) away next to a large max. */
        float lse[TILE];
        for (int64_t j = 0; j < w; j++) lse[j] = (float)log(sum[j]);
        for (int64_t d = 0; d < D; d++) {
            const float *row = x + d * stride;
            float *orow = o + d * stride;
            for (int64_t j = 0; j < w; j++) orow[j] = (row[j] - mx[j]) - lse[j];
        }
    } else {
        float inv[TILE];
        for (int64_t j = 0; j < w; j++) inv[j] = (float)(1.0 / sum[j]);
        for (int64_t d = 0; d < D; d++) {
            float *orow = o + d * stride;
            for (int64_t j = 0; j < w; j++) orow[j] *= inv[j];
        }
    }
}

static void softmax_units(void *ctx, int64_t begin, int64_t end)
{
    const softmax_ctx *c = ctx;
    if (c->inner == 1) {
        /* the common case, along the contiguous last dim: the vectorised row loop (cpu_simd.h) */
        for (int64_t u = begin; u < end; u++) hcg_simd()->softmax_row(c->x + u * c->D, c->o + u * c->D, c->D, c->log);
        return;
    }
    for (int64_t u = begin; u < end; u++) {
        int64_t oi = u / c->tiles, j0 = (u % c->tiles) * TILE;
        int64_t w = c->inner - j0 < TILE ? c->inner - j0 : TILE;
        int64_t base = oi * c->D * c->inner + j0;
        softmax_block(c->log, c->x + base, c->o + base, c->D, c->inner, w);
    }
}

hcg_status hcg_k_softmax(hcg_exec_node *en)
{
    const hcg_shape *s = &en->in[0].shape;
    int axis = 0;
    if (s->rank > 0 && !hcg_norm_axis(hcg_attr_int(en->node, "axis"), s->rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    softmax_ctx c = {.log = en->node->op == HCG_OP_LOG_SOFTMAX, .x = hcg_dev_tensor_ptr(&en->in[0]),
                     .o = hcg_dev_tensor_ptr(&en->out), .D = s->rank ? s->dims[axis] : 1,
                     .inner = s->rank ? hcg_dims_prod(s, axis + 1, s->rank) : 1};
    int64_t outer = s->rank ? hcg_dims_prod(s, 0, axis) : 1;
    if (outer == 0 || c.inner == 0 || c.D == 0) return HCG_OK;
    c.tiles = (c.inner + TILE - 1) / TILE;
    int64_t per_unit = 16 * c.D * (c.inner < TILE ? c.inner : TILE);
    hcg_parallel_for(outer * c.tiles, hcg_grain_for(per_unit), softmax_units, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- layer_norm, rms_norm */

typedef struct norm_ctx {
    bool rms;
    const float *x, *scale, *bias; /* scale and bias may be NULL */
    float *o;
    int64_t n; /* elements per normalised row */
    float eps;
} norm_ctx;

/* Rows of layer_norm / rms_norm through the vectorised row loop (cpu_simd.h): the statistics in
 * double (exact float products, so one pass is accurate even for rows around a large offset),
 * the output with the mean as a float pair. */
static void norm_rows(void *ctx, int64_t begin, int64_t end)
{
    const norm_ctx *c = ctx;
    const hcg_simd_fns *f = hcg_simd();
    for (int64_t r = begin; r < end; r++) f->norm_row(c->x + r * c->n, c->o + r * c->n, c->n, c->eps, c->rms, c->scale, c->bias);
}

static hcg_status norm_run(hcg_exec_node *en, bool rms)
{
    const hcg_shape *s = &en->in[0].shape;
    int axis;
    if (s->rank < 1 || !hcg_norm_axis(hcg_attr_int(en->node, "axis"), s->rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    norm_ctx c = {.rms = rms, .x = hcg_dev_tensor_ptr(&en->in[0]), .o = hcg_dev_tensor_ptr(&en->out),
                  .n = hcg_dims_prod(s, axis, s->rank), .eps = (float)hcg_attr_float(en->node, "epsilon")};
    if (en->n_in > 1) c.scale = hcg_dev_tensor_ptr(&en->in[1]);
    if (en->n_in > 2) c.bias = hcg_dev_tensor_ptr(&en->in[2]);
    int64_t rows = hcg_dims_prod(s, 0, axis);
    if (rows == 0 || c.n == 0) return HCG_OK;
    hcg_parallel_for(rows, hcg_grain_for(4 * c.n), norm_rows, &c);
    return HCG_OK;
}

hcg_status hcg_k_layer_norm(hcg_exec_node *en) { return norm_run(en, false); }
hcg_status hcg_k_rms_norm(hcg_exec_node *en) { return norm_run(en, true); }
