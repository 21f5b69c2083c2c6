/* cpu_grad.c — the CPU kernels of the gradient ops the autodiff pass emits (unary_grad,
 * softmax_grad and log_softmax_grad, layer_norm_grad and rms_norm_grad, gather_grad,
 * slice_grad) and of the index ops training uses (one_hot, argmax). The formulas are PyTorch's
 * backward formulas; row statistics are kept in double as the forward kernels keep theirs
 * (cpu_reduce.c). Scatter-adds run in index order, so results are the same on every run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "graph/op_table.h"

/* ---------------------------------------------------------------- one_hot, argmax */

hcg_status hcg_k_one_hot(hcg_exec_node *en)
{
    const hcg_dev_tensor *I = &en->in[0];
    int axis;
    hcg_norm_axis(hcg_attr_int(en->node, "axis"), en->out.shape.rank, &axis);
    int64_t depth = en->out.shape.dims[axis];
    int64_t outer = hcg_dims_prod(&I->shape, 0, axis), inner = hcg_dims_prod(&I->shape, axis, I->shape.rank);
    float *o = hcg_dev_tensor_ptr(&en->out);
    const void *raw = hcg_dev_tensor_ptr(I);
    memset(o, 0, (size_t)(outer * depth * inner) * sizeof(float));
    for (int64_t p = 0; p < outer; p++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t k = p * inner + i;
            int64_t v = I->dtype == HCG_I32 ? ((const int32_t *)raw)[k] : ((const int64_t *)raw)[k];
            if (v >= 0 && v < depth) o[(p * depth + v) * inner + i] = 1.0f;
        }
    return HCG_OK;
}

#define ARGMAX_RUN(T, BETTER)                                                                      \
    do {                                                                                           \
        const T *x = hcg_dev_tensor_ptr(X);                                                        \
        for (int64_t p = 0; p < outer; p++)                                                        \
            for (int64_t i = 0; i < inner; i++) {                                                  \
                const T *row = x + p * D * inner + i;                                              \
                int64_t best = 0;                                                                  \
                T bv = row[0];                                                                     \
                for (int64_t d = 1; d < D; d++) {                                                  \
                    T v = row[d * inner];                                                          \
                    if (BETTER) {                                                                  \
                        best = d;                                                                  \
                        bv = v;                                                                    \
                    }                                                                              \
                }                                                                                  \
                o[p * inner + i] = best;                                                           \
            }                                                                                      \
    } while (0)

hcg_status hcg_k_argmax(hcg_exec_node *en)
{
    const hcg_dev_tensor *X = &en->in[0];
    int axis;
    hcg_norm_axis(hcg_attr_int(en->node, "axis"), X->shape.rank, &axis);
    int64_t D = X->shape.dims[axis], outer = hcg_dims_prod(&X->shape, 0, axis);
    int64_t inner = hcg_dims_prod(&X->shape, axis + 1, X->shape.rank);
    int64_t *o = hcg_dev_tensor_ptr(&en->out);
    switch (X->dtype) {
    case HCG_F32: ARGMAX_RUN(float, !isnan(bv) && (v > bv || isnan(v))); break; /* the first NaN wins */
    case HCG_I32: ARGMAX_RUN(int32_t, v > bv); break;
    case HCG_I64: ARGMAX_RUN(int64_t, v > bv); break;
    default: return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "no cpu kernel for %s", hcg_dtype_name(X->dtype));
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- unary_grad */

typedef enum grad_fn { G_EXP, G_LOG, G_SQRT, G_RSQRT, G_TANH, G_SIGMOID, G_RELU, G_GELU, G_GELU_TANH, G_SILU, G_ERF,
                       G_ABS, G_RECIPROCAL } grad_fn;

typedef struct unary_grad_ctx {
    grad_fn fn;
    const float *x, *dy;
    float *o;
} unary_grad_ctx;

/* 1 + tanh(y) and 1 - tanh(y)^2 from a = e^-2|y| (no overflow): accurate to a few ulp also where
 * tanh(y) is near -1 or 1 and both are tiny, where 1 + t and 1 - t * t cancel. */
static inline void tanh_terms(float y, float *one_plus_t, float *one_minus_t2)
{
    float a = expf(-2.0f * fabsf(y)), q = 1.0f / (1.0f + a);
    *one_plus_t = y >= 0 ? 2.0f * q : 2.0f * a * q;
    *one_minus_t2 = 4.0f * a * q * q;
}

/* f'(x) for each function: PyTorch's backward formulas, with tanh's terms taken without
 * cancellation (tanh_terms). */
static inline float derivative(grad_fn fn, float x)
{
    switch (fn) {
    case G_EXP: return expf(x);
    case G_LOG: return 1.0f / x;
    case G_SQRT: return 1.0f / (2.0f * sqrtf(x));
    case G_RSQRT: {
        float r = 1.0f / sqrtf(x);
        return -0.5f * r * r * r;
    }
    case G_TANH: {
        float one_plus_t, one_minus_t2;
        tanh_terms(x, &one_plus_t, &one_minus_t2);
        return one_minus_t2;
    }
    case G_SIGMOID: {
        float s = hcg_sigmoid_f32(x);
        return s * (1.0f - s);
    }
    case G_RELU: return x > 0 ? 1.0f : 0.0f;
    case G_GELU: {
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * x * x); /* 1 / sqrt(2 pi) */
        return cdf + x * pdf;
    }
    case G_GELU_TANH: {
        const float beta = 0.79788456080286536f, kappa = 0.044715f;
        float x2 = x * x, one_plus_t, one_minus_t2;
        tanh_terms(beta * (x + kappa * x2 * x), &one_plus_t, &one_minus_t2);
        return 0.5f * one_plus_t + 0.5f * x * one_minus_t2 * beta * (1.0f + 3.0f * kappa * x2);
    }
    case G_SILU: {
        float s = hcg_sigmoid_f32(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case G_ERF: return 1.12837916709551257f * expf(-x * x); /* 2 / sqrt(pi) */
    case G_ABS: return x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f;
    case G_RECIPROCAL: {
        float r = 1.0f / x;
        return -r * r;
    }
    }
    return 0;
}

static void unary_grad_range(void *ctx, int64_t begin, int64_t end)
{
    const unary_grad_ctx *c = ctx;
    for (int64_t i = begin; i < end; i++) c->o[i] = c->dy[i] * derivative(c->fn, c->x[i]);
}

hcg_status hcg_k_unary_grad(hcg_exec_node *en)
{
    static const char *const names[] = {"exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "gelu", "gelu_tanh",
                                        "silu", "erf", "abs", "reciprocal"};
    const char *of = hcg_attr_string(en->node, "of");
    int fn = -1;
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(of, names[i]) == 0) fn = i;
    if (fn < 0) return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "unknown function '%s'", of);
    unary_grad_ctx c = {.fn = (grad_fn)fn, .x = hcg_dev_tensor_ptr(&en->in[0]), .dy = hcg_dev_tensor_ptr(&en->in[1]),
                        .o = hcg_dev_tensor_ptr(&en->out)};
    hcg_parallel_for(hcg_cpu_numel(&en->out), hcg_grain_for(16), unary_grad_range, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- softmax_grad, log_softmax_grad */

typedef struct softmax_grad_ctx {
    bool log;
    const float *y, *dy;
    float *o;
    int64_t D, inner;
} softmax_grad_ctx;

/* One line of D elements `inner` apart: softmax: y * (dy - sum(dy * y)); log_softmax:
 * dy - exp(y) * sum(dy). */
static void softmax_grad_lines(void *ctx, int64_t begin, int64_t end)
{
    const softmax_grad_ctx *c = ctx;
    for (int64_t u = begin; u < end; u++) {
        int64_t base = (u / c->inner) * c->D * c->inner + u % c->inner, st = c->inner;
        const float *y = c->y + base, *dy = c->dy + base;
        float *o = c->o + base;
        double s = 0;
        if (c->log) {
            for (int64_t d = 0; d < c->D; d++) s += dy[d * st];
            float sf = (float)s;
            for (int64_t d = 0; d < c->D; d++) o[d * st] = dy[d * st] - expf(y[d * st]) * sf;
        } else {
            for (int64_t d = 0; d < c->D; d++) s += (double)dy[d * st] * y[d * st];
            float sf = (float)s;
            for (int64_t d = 0; d < c->D; d++) o[d * st] = y[d * st] * (dy[d * st] - sf);
        }
    }
}

hcg_status hcg_k_softmax_grad(hcg_exec_node *en)
{
    const hcg_shape *s = &en->in[0].shape;
    int axis = 0;
    if (s->rank > 0) hcg_norm_axis(hcg_attr_int(en->node, "axis"), s->rank, &axis);
    softmax_grad_ctx c = {.log = en->node->op == HCG_OP_LOG_SOFTMAX_GRAD, .y = hcg_dev_tensor_ptr(&en->in[0]),
                          .dy = hcg_dev_tensor_ptr(&en->in[1]), .o = hcg_dev_tensor_ptr(&en->out),
                          .D = s->rank ? s->dims[axis] : 1, .inner = s->rank ? hcg_dims_prod(s, axis + 1, s->rank) : 1};
    int64_t lines = (s->rank ? hcg_dims_prod(s, 0, axis) : 1) * c.inner;
    if (lines == 0 || c.D == 0) return HCG_OK;
    hcg_parallel_for(lines, hcg_grain_for(8 * c.D), softmax_grad_lines, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- layer_norm_grad, rms_norm_grad */

typedef struct norm_grad_ctx {
    bool rms;
    const float *x, *dy, *scale; /* scale may be NULL */
    float *o;
    int64_t n;
    double eps;
} norm_grad_ctx;

/* With g = dy * scale and r = 1 / sqrt(var + eps):
 *   layer_norm: dx = r * (g - mean(g) - xhat * mean(g * xhat)), xhat = (x - mean) * r
 *   rms_norm:   dx = r * g - x * r^3 * mean(g * x) */
static void norm_grad_rows(void *ctx, int64_t begin, int64_t end)
{
    const norm_grad_ctx *c = ctx;
    int64_t n = c->n;
    for (int64_t row = begin; row < end; row++) {
        const float *x = c->x + row * n, *dy = c->dy + row * n;
        float *o = c->o + row * n;
        double mean = 0, ss = 0;
        if (!c->rms) {
            for (int64_t j = 0; j < n; j++) mean += x[j];
            mean /= (double)n;
        }
        for (int64_t j = 0; j < n; j++) ss += (x[j] - mean) * (x[j] - mean);
        double r = 1.0 / sqrt(ss / (double)n + c->eps);
        double sg = 0, sgx = 0;
        for (int64_t j = 0; j < n; j++) {
            double g = (double)dy[j] * (c->scale ? c->scale[j] : 1.0f);
            sg += g;
            sgx += g * (x[j] - mean);
        }
        if (c->rms) {
            double k = r * r * r * sgx / (double)n;
            for (int64_t j = 0; j < n; j++) {
                double g = (double)dy[j] * (c->scale ? c->scale[j] : 1.0f);
                o[j] = (float)(r * g - x[j] * k);
            }
        } else {
            double mg = sg / (double)n, mgx = sgx * r / (double)n; /* mean(g), mean(g * xhat) */
            for (int64_t j = 0; j < n; j++) {
                double g = (double)dy[j] * (c->scale ? c->scale[j] : 1.0f);
                double xhat = (x[j] - mean) * r;
                o[j] = (float)(r * (g - mg - xhat * mgx));
            }
        }
    }
}

hcg_status hcg_k_norm_grad(hcg_exec_node *en)
{
    const hcg_shape *s = &en->in[0].shape;
    int axis;
    hcg_norm_axis(hcg_attr_int(en->node, "axis"), s->rank, &axis);
    norm_grad_ctx c = {.rms = en->node->op == HCG_OP_RMS_NORM_GRAD, .x = hcg_dev_tensor_ptr(&en->in[0]),
                       .dy = hcg_dev_tensor_ptr(&en->in[1]), .o = hcg_dev_tensor_ptr(&en->out),
                       .n = hcg_dims_prod(s, axis, s->rank), .eps = (float)hcg_attr_float(en->node, "epsilon")};
    if (en->n_in > 2) c.scale = hcg_dev_tensor_ptr(&en->in[2]);
    int64_t rows = hcg_dims_prod(s, 0, axis);
    if (rows == 0 || c.n == 0) return HCG_OK;
    hcg_parallel_for(rows, hcg_grain_for(8 * c.n), norm_grad_rows, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- gather_grad */

typedef struct scatter_ctx {
    const float *dy;
    float *out;
    const int64_t *idx;
    int64_t n_idx, axis_dim, inner, chunk, chunks;
} scatter_ctx;

/* One unit: one outer index and one chunk of the inner elements; every index adds its row of dy
 * there in index order (units write disjoint parts of out). */
static void scatter_units(void *ctx, int64_t begin, int64_t end)
{
    const scatter_ctx *c = ctx;
    for (int64_t u = begin; u < end; u++) {
        int64_t p = u / c->chunks, j0 = (u % c->chunks) * c->chunk;
        int64_t w = c->inner - j0 < c->chunk ? c->inner - j0 : c->chunk;
        float *out = c->out + p * c->axis_dim * c->inner + j0;
        const float *dy = c->dy + p * c->n_idx * c->inner + j0;
        for (int64_t i = 0; i < c->n_idx; i++) {
            float *o = out + c->idx[i] * c->inner;
            const float *d = dy + i * c->inner;
            for (int64_t j = 0; j < w; j++) o[j] += d[j];
        }
    }
}

hcg_status hcg_k_gather_grad(hcg_exec_node *en)
{
    const hcg_dev_tensor *I = &en->in[1];
    const hcg_shape *os = &en->out.shape;
    int axis;
    hcg_norm_axis(hcg_attr_int(en->node, "axis"), os->rank, &axis);
    int64_t n_idx = hcg_cpu_numel(I), axis_dim = os->dims[axis];
    scatter_ctx c = {.dy = hcg_dev_tensor_ptr(&en->in[0]), .out = hcg_dev_tensor_ptr(&en->out), .n_idx = n_idx,
                     .axis_dim = axis_dim, .inner = hcg_dims_prod(os, axis + 1, os->rank)};
    int64_t outer = hcg_dims_prod(os, 0, axis);
    memset(c.out, 0, (size_t)hcg_cpu_numel(&en->out) * sizeof(float));
    if (n_idx == 0 || outer == 0 || c.inner == 0) return HCG_OK;
    int64_t *idx = malloc((size_t)n_idx * sizeof *idx);
    if (!idx) return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory for gather_grad indices");
    const void *raw = hcg_dev_tensor_ptr(I);
    for (int64_t i = 0; i < n_idx; i++) {
        int64_t v = I->dtype == HCG_I32 ? ((const int32_t *)raw)[i] : ((const int64_t *)raw)[i];
        int64_t w = v < 0 ? v + axis_dim : v;
        if (w < 0 || w >= axis_dim) {
            free(idx);
            return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME,
                                  "index %lld (at position %lld) is out of range for axis %d of size %lld", (long long)v,
                                  (long long)i, axis, (long long)axis_dim);
        }
        idx[i] = w;
    }
    c.idx = idx;
    c.chunk = c.inner < 256 ? c.inner : 256;
    c.chunks = (c.inner + c.chunk - 1) / c.chunk;
    hcg_parallel_for(outer * c.chunks, hcg_grain_for(n_idx * c.chunk + 1), scatter_units, &c);
    free(idx);
    return HCG_OK;
}

/* ---------------------------------------------------------------- slice_grad */

hcg_status hcg_k_slice_grad(hcg_exec_node *en)
{
    const hcg_shape *xs = &en->out.shape, *ds = &en->in[0].shape;
    int64_t start[HCG_MAX_RANK], step[HCG_MAX_RANK], count[HCG_MAX_RANK];
    hcg_status st = hcg_slice_params(en->g, en->node, xs, start, step, count);
    if (st) return st;
    size_t es = hcg_dtype_size(en->out.dtype);
    memset(hcg_dev_tensor_ptr(&en->out), 0, (size_t)hcg_cpu_numel(&en->out) * es);
    int64_t out_strides[HCG_MAX_RANK], strides[2][HCG_MAX_RANK], base[2] = {0, 0};
    hcg_contiguous_strides(xs, out_strides);
    hcg_contiguous_strides(ds, strides[1]);
    for (int i = 0; i < xs->rank; i++) {
        strides[0][i] = ds->dims[i] > 1 ? out_strides[i] * step[i] : 0;
        base[0] += start[i] * out_strides[i];
    }
    if (hcg_cpu_numel(&en->in[0]) == 0) return HCG_OK;
    hcg_iter it;
    hcg_iter_init(&it, xs->rank, ds->dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides, base);
    hcg_strided_copy(&it, es, hcg_dev_tensor_ptr(&en->out), hcg_dev_tensor_ptr(&en->in[0]));
    return HCG_OK;
}
