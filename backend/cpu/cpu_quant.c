/* cpu_quant.c — dequantize ((x - zero_point) * scale to f32, x i8 / u8 / i32) and quantize
 * (saturate(round(x / scale) + zero_point), rounding half to even, to i8 / u8) on the CPU, for the
 * three scale layouts of graph/quant.h. Both walk the tensor as rows of its `inner` elements, each
 * row with one scale (per tensor, per axis) or with a row of scales (blocked). The products that
 * read quantized weights are in cpu_matmul.c. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_simd.h"
#include "graph/quant.h"
#include "graph/half.h"

typedef struct qwalk {
    hcg_qlayout l;
    hcg_dtype qtype;             /* the integer side: x of dequantize, the result of quantize */
    const void *src;
    void *dst;
    const float *scale;          /* f32 scales (f16 ones widened first) */
    const void *zero;            /* zero points of qtype, or NULL */
    int64_t numel, row_len, rows; /* the walk: rows of row_len elements (the last may be shorter) */
} qwalk;

static int32_t q_at(hcg_dtype t, const void *p, int64_t i)
{
    switch (t) {
    case HCG_I8: return ((const int8_t *)p)[i];
    case HCG_U8: return ((const uint8_t *)p)[i];
    default: return ((const int32_t *)p)[i];
    }
}

/* Row r of the walk: its first element *e0, its length *len, the scale (and zero point) index of
 * its first element *s0, and whether the scales step with its elements (*each). The rows: runs of
 * `inner` elements (one index of the axis, one row of blocks); blocks along the last axis (inner 1:
 * a dequantized embedding's rows) one block each, its one scale; with one scale for the tensor,
 * runs of a fixed length that threads share. */
static void row_span(const qwalk *w, int64_t r, int64_t *e0, int64_t *len, int64_t *s0, bool *each)
{
    const hcg_qlayout *l = &w->l;
    if (l->mode == HCG_Q_BLOCKED && l->inner == 1) {
        int64_t o = r / l->blocks, j = r % l->blocks;
        *e0 = o * l->dim + j * l->block;
        *len = l->dim - j * l->block < l->block ? l->dim - j * l->block : l->block;
        *s0 = r;
        *each = false;
        return;
    }
    *e0 = r * w->row_len;
    *len = w->numel - *e0 < w->row_len ? w->numel - *e0 : w->row_len;
    *s0 = hcg_qlayout_index(l, *e0);
    *each = l->mode == HCG_Q_BLOCKED;
}

static void dequant_rows(void *ctx, int64_t begin, int64_t end)
{
    const qwalk *w = ctx;
    float *o = w->dst;
    const hcg_simd_fns *v = hcg_simd();
    for (int64_t r = begin; r < end; r++) {
        int64_t s0, e0, len;
        bool per_element;
        row_span(w, r, &e0, &len, &s0, &per_element);
        if (w->qtype == HCG_I8 && !w->zero) { /* symmetric int8, the weights hcg quantize writes */
            if (per_element) v->dequant_i8_each((const int8_t *)w->src + e0, o + e0, len, w->scale + s0);
            else v->dequant_i8((const int8_t *)w->src + e0, o + e0, len, w->scale[s0]);
            continue;
        }
        for (int64_t i = 0; i < len; i++) {
            int64_t si = per_element ? s0 + i : s0;
            int32_t z = w->zero ? q_at(w->qtype, w->zero, si) : 0;
            /* The difference in double: i32 data minus an i32 zero point may leave int32's range. */
            o[e0 + i] = (float)(((double)q_at(w->qtype, w->src, e0 + i) - z) * w->scale[si]);
        }
    }
}

static void quant_rows(void *ctx, int64_t begin, int64_t end)
{
    const qwalk *w = ctx;
    const float *x = w->src;
    float lo = w->qtype == HCG_I8 ? -128.0f : 0.0f, hi = w->qtype == HCG_I8 ? 127.0f : 255.0f;
    for (int64_t r = begin; r < end; r++) {
        int64_t s0, e0, len;
        bool per_element;
        row_span(w, r, &e0, &len, &s0, &per_element);
        for (int64_t i = 0; i < len; i++) {
            int64_t si = per_element ? s0 + i : s0;
            float z = w->zero ? (float)q_at(w->qtype, w->zero, si) : 0.0f;
            float v = rintf(x[e0 + i] / w->scale[si]) + z; /* rint: half to even in the default mode */
            v = v < lo ? lo : v > hi ? hi : v;
            if (v != v) v = z; /* NaN: the zero point, the quantized zero */
            if (w->qtype == HCG_I8) ((int8_t *)w->dst)[e0 + i] = (int8_t)v;
            else ((uint8_t *)w->dst)[e0 + i] = (uint8_t)v;
        }
    }
}

/* Sets up the walk for a dequantize or quantize node: x (input 0), scales (input 1), zero points
 * (input 2, optional). *wide receives f16 scales widened (freed by the caller). */
static hcg_status walk_setup(hcg_exec_node *en, hcg_dtype qtype, qwalk *w, float **wide)
{
    const hcg_dev_tensor *S = &en->in[1];
    *wide = NULL;
    hcg_status st = hcg_qlayout_of(en->g, en->node, &en->in[0].shape, &S->shape, &w->l);
    if (st) return st;
    w->qtype = qtype;
    w->src = hcg_dev_tensor_ptr(&en->in[0]);
    w->dst = hcg_dev_tensor_ptr(&en->out);
    w->zero = en->n_in > 2 ? hcg_dev_tensor_ptr(&en->in[2]) : NULL;
    w->scale = hcg_dev_tensor_ptr(S);
    if (S->dtype == HCG_F16) {
        int64_t n = hcg_cpu_numel(S);
        if (!(*wide = malloc((size_t)(n ? n : 1) * sizeof(float))))
            return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++) (*wide)[i] = hcg_half_to_float(((const uint16_t *)hcg_dev_tensor_ptr(S))[i]);
        w->scale = *wide;
    }
    w->numel = hcg_cpu_numel(&en->out);
    w->row_len = w->l.mode == HCG_Q_TENSOR ? 4096 : w->l.inner;
    w->rows = w->row_len ? (w->numel + w->row_len - 1) / w->row_len : 0;
    if (w->l.mode == HCG_Q_BLOCKED && w->l.inner == 1) w->rows = w->l.outer * w->l.blocks;
    return HCG_OK;
}

hcg_status hcg_k_dequantize(hcg_exec_node *en)
{
    qwalk w;
    float *wide;
    hcg_status st = walk_setup(en, en->in[0].dtype, &w, &wide);
    if (!st && w.rows) hcg_parallel_for(w.rows, hcg_grain_for(2 * w.row_len), dequant_rows, &w);
    free(wide);
    return st;
}

hcg_status hcg_k_quantize(hcg_exec_node *en)
{
    qwalk w;
    float *wide;
    hcg_status st = walk_setup(en, en->out.dtype, &w, &wide);
    if (!st && w.rows) hcg_parallel_for(w.rows, hcg_grain_for(4 * w.row_len), quant_rows, &w);
    free(wide);
    return st;
}
