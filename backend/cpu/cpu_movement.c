/* cpu_movement.c — the CPU's data-movement kernels: copies for the view ops (reshape, squeeze,
 * unsqueeze, flatten) when their output is not their input's memory, transpose, concat, slice,
 * split, gather, expand, trilu, and the generators range, shape and constant_of_shape. The
 * movement kernels work on any dtype by element size; strided ones are one iterator walk
 * (cpu_iter.c) with the right strides. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "graph/half.h"
#include "graph/op_table.h"

static size_t esize_of(const hcg_dev_tensor *t) { return hcg_dtype_size(t->dtype); }

/* ---------------------------------------------------------------- views */

hcg_status hcg_k_view_copy(hcg_exec_node *en)
{
    void *dst = hcg_dev_tensor_ptr(&en->out);
    const void *src = hcg_dev_tensor_ptr(&en->in[0]);
    size_t n = (size_t)hcg_cpu_numel(&en->out) * esize_of(&en->out);
    if (dst != src && n) memmove(dst, src, n);
    return HCG_OK;
}

/* ---------------------------------------------------------------- transpose */

hcg_status hcg_k_transpose(hcg_exec_node *en)
{
    const hcg_shape *xs = &en->in[0].shape;
    int n_perm, r = xs->rank;
    const int64_t *perm = hcg_attr_ints(en->node, "perm", &n_perm);
    int64_t in_strides[HCG_MAX_RANK], strides[2][HCG_MAX_RANK];
    hcg_contiguous_strides(xs, in_strides);
    hcg_contiguous_strides(&en->out.shape, strides[0]);
    for (int i = 0; i < r; i++) {
        int p = r - 1 - i; /* no perm: reverse the dims */
        if (n_perm && !hcg_norm_axis(perm[i], r, &p))
            return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "bad perm");
        strides[1][i] = in_strides[p];
    }
    hcg_iter it;
    hcg_iter_init(&it, r, en->out.shape.dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides, NULL);
    hcg_strided_copy(&it, esize_of(&en->out), hcg_dev_tensor_ptr(&en->out), hcg_dev_tensor_ptr(&en->in[0]));
    return HCG_OK;
}

/* ---------------------------------------------------------------- concat */

typedef struct concat_job {
    char *out;
    const char *in;
    int64_t in_row, out_row, out_col; /* bytes: input row, output row, where the input starts */
} concat_job;

static void concat_rows(void *ctx, int64_t begin, int64_t end)
{
    const concat_job *j = ctx;
    for (int64_t r = begin; r < end; r++) memcpy(j->out + r * j->out_row + j->out_col, j->in + r * j->in_row, (size_t)j->in_row);
}

hcg_status hcg_k_concat(hcg_exec_node *en)
{
    const hcg_shape *os = &en->out.shape;
    int axis;
    if (!hcg_norm_axis(hcg_attr_int(en->node, "axis"), os->rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    int64_t es = (int64_t)esize_of(&en->out);
    int64_t outer = hcg_dims_prod(os, 0, axis), inner = hcg_dims_prod(os, axis + 1, os->rank);
    concat_job j = {.out = hcg_dev_tensor_ptr(&en->out), .out_row = os->dims[axis] * inner * es};
    if (outer == 0 || j.out_row == 0) return HCG_OK;
    for (int i = 0; i < en->n_in; i++) {
        j.in = hcg_dev_tensor_ptr(&en->in[i]);
        j.in_row = en->in[i].shape.dims[axis] * inner * es;
        if (j.in_row) hcg_parallel_for(outer, hcg_grain_for(j.in_row / 4 + 1), concat_rows, &j);
        j.out_col += j.in_row;
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- slice, split */

/* out = x[start + i * step] per axis: one strided walk (steps may be negative). */
static void strided_window(const hcg_exec_node *en, const int64_t *start, const int64_t *step)
{
    const hcg_shape *xs = &en->in[0].shape;
    int64_t in_strides[HCG_MAX_RANK], strides[2][HCG_MAX_RANK], base[2] = {0, 0};
    hcg_contiguous_strides(xs, in_strides);
    hcg_contiguous_strides(&en->out.shape, strides[0]);
    for (int i = 0; i < xs->rank; i++) {
        /* A dim taken once needs no step (and a huge step times the stride could overflow). */
        strides[1][i] = en->out.shape.dims[i] > 1 ? in_strides[i] * step[i] : 0;
        base[1] += start[i] * in_strides[i];
    }
    hcg_iter it;
    hcg_iter_init(&it, xs->rank, en->out.shape.dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides, base);
    hcg_strided_copy(&it, esize_of(&en->out), hcg_dev_tensor_ptr(&en->out), hcg_dev_tensor_ptr(&en->in[0]));
}

hcg_status hcg_k_slice(hcg_exec_node *en)
{
    int64_t start[HCG_MAX_RANK], step[HCG_MAX_RANK], count[HCG_MAX_RANK];
    hcg_status st = hcg_slice_params(en->g, en->node, &en->in[0].shape, start, step, count);
    if (st) return st;
    strided_window(en, start, step);
    return HCG_OK;
}

hcg_status hcg_k_split(hcg_exec_node *en)
{
    int axis;
    int64_t part_start, part_size, start[HCG_MAX_RANK] = {0}, step[HCG_MAX_RANK];
    hcg_status st = hcg_split_part(en->g, en->node, &en->in[0].shape, &axis, &part_start, &part_size);
    if (st) return st;
    for (int i = 0; i < HCG_MAX_RANK; i++) step[i] = 1;
    start[axis] = part_start;
    strided_window(en, start, step);
    return HCG_OK;
}

/* ---------------------------------------------------------------- gather */

typedef struct gather_ctx {
    const char *data;
    char *out;
    const int64_t *idx; /* normalised indices, or NULL: read raw ones below */
    int64_t n_idx, axis_dim, block; /* block: bytes per gathered slice */
} gather_ctx;

static void gather_rows(void *ctx, int64_t begin, int64_t end)
{
    const gather_ctx *c = ctx;
    for (int64_t u = begin; u < end; u++) {
        int64_t p = u / c->n_idx, i = u % c->n_idx;
        memcpy(c->out + u * c->block, c->data + (p * c->axis_dim + c->idx[i]) * c->block, (size_t)c->block);
    }
}

hcg_status hcg_k_gather(hcg_exec_node *en)
{
    const hcg_dev_tensor *X = &en->in[0], *I = &en->in[1];
    int axis;
    if (!hcg_norm_axis(hcg_attr_int(en->node, "axis"), X->shape.rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    int64_t n_idx = hcg_cpu_numel(I), axis_dim = X->shape.dims[axis];
    int64_t outer = hcg_dims_prod(&X->shape, 0, axis);
    int64_t block = hcg_dims_prod(&X->shape, axis + 1, X->shape.rank) * (int64_t)esize_of(X);
    if (n_idx == 0) return HCG_OK;
    /* Check and normalise every index first, so bad data fails before anything is written. */
    int64_t *idx = malloc((size_t)n_idx * sizeof *idx);
    if (!idx) return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory for gather indices");
    const void *raw = hcg_dev_tensor_ptr(I);
    for (int64_t i = 0; i < n_idx; i++) {
        int64_t v = I->dtype == HCG_I32 ? ((const int32_t *)raw)[i] : ((const int64_t *)raw)[i];
        int64_t w = v < 0 ? v + axis_dim : v; /* negative indices count from the end, once */
        if (w < 0 || w >= axis_dim) {
            free(idx);
            return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME,
                                  "index %lld (at position %lld) is out of range for axis %d of size %lld",
                                  (long long)v, (long long)i, axis, (long long)axis_dim);
        }
        idx[i] = w;
    }
    gather_ctx c = {.data = hcg_dev_tensor_ptr(X), .out = hcg_dev_tensor_ptr(&en->out), .idx = idx,
                    .n_idx = n_idx, .axis_dim = axis_dim, .block = block};
    if (block > 0 && outer > 0) hcg_parallel_for(outer * n_idx, hcg_grain_for(block / 4 + 1), gather_rows, &c);
    free(idx);
    return HCG_OK;
}

/* ---------------------------------------------------------------- expand */

hcg_status hcg_k_expand(hcg_exec_node *en)
{
    hcg_iter it;
    const hcg_shape *xs = &en->in[0].shape;
    hcg_iter_broadcast(&it, &en->out.shape, &xs, 1);
    hcg_strided_copy(&it, esize_of(&en->out), hcg_dev_tensor_ptr(&en->out), hcg_dev_tensor_ptr(&en->in[0]));
    return HCG_OK;
}

/* ---------------------------------------------------------------- trilu */

typedef struct trilu_ctx {
    bool upper;
    int64_t k, rows, cols, es;
    const char *x;
    char *o;
} trilu_ctx;

/* Row i keeps columns j with j - i >= k (upper) or j - i <= k (lower); the rest become zero
 * (all-zero bytes are zero in every dtype). */
static void trilu_rows(void *ctx, int64_t begin, int64_t end)
{
    const trilu_ctx *c = ctx;
    for (int64_t r = begin; r < end; r++) {
        int64_t i = r % c->rows, lo, hi; /* kept columns [lo, hi) */
        if (c->upper) {
            lo = i + c->k;
            hi = c->cols;
        } else {
            lo = 0;
            hi = i + c->k + 1;
        }
        lo = lo < 0 ? 0 : lo > c->cols ? c->cols : lo;
        hi = hi < lo ? lo : hi > c->cols ? c->cols : hi;
        const char *x = c->x + r * c->cols * c->es;
        char *o = c->o + r * c->cols * c->es;
        memset(o, 0, (size_t)(lo * c->es));
        if (o != x) memcpy(o + lo * c->es, x + lo * c->es, (size_t)((hi - lo) * c->es));
        memset(o + hi * c->es, 0, (size_t)((c->cols - hi) * c->es));
    }
}

hcg_status hcg_k_trilu(hcg_exec_node *en)
{
    const hcg_shape *s = &en->out.shape;
    if (s->rank < 2) return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "trilu needs rank >= 2");
    trilu_ctx c = {.upper = hcg_attr_int(en->node, "upper") != 0, .k = hcg_attr_int(en->node, "k"),
                   .rows = s->dims[s->rank - 2], .cols = s->dims[s->rank - 1], .es = (int64_t)esize_of(&en->out),
                   .x = hcg_dev_tensor_ptr(&en->in[0]), .o = hcg_dev_tensor_ptr(&en->out)};
    int64_t n_rows = hcg_dims_prod(s, 0, s->rank - 1);
    if (n_rows == 0 || c.cols == 0) return HCG_OK;
    /* k is any int64: keep it far from overflow in i + k (rows and cols are < 2^62). */
    if (c.k > ((int64_t)1 << 62)) c.k = (int64_t)1 << 62;
    if (c.k < -((int64_t)1 << 62)) c.k = -((int64_t)1 << 62);
    hcg_parallel_for(n_rows, hcg_grain_for(c.cols * c.es / 4 + 1), trilu_rows, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- generators */

hcg_status hcg_k_range(hcg_exec_node *en)
{
    double start = hcg_attr_float(en->node, "start"), delta = hcg_attr_float(en->node, "delta");
    int64_t n = hcg_cpu_numel(&en->out);
    void *o = hcg_dev_tensor_ptr(&en->out);
    switch (en->out.dtype) {
    case HCG_F32:
        for (int64_t i = 0; i < n; i++) ((float *)o)[i] = (float)(start + (double)i * delta);
        break;
    case HCG_I32:
    case HCG_I64: {
        /* Integer ranges step in integers (ONNX: start + i * delta in the output type). */
        int64_t s = (int64_t)start, d = (int64_t)delta;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
            if (en->out.dtype == HCG_I32) ((int32_t *)o)[i] = (int32_t)v;
            else ((int64_t *)o)[i] = v;
        }
        break;
    }
    default:
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "range of dtype %s",
                              hcg_dtype_name(en->out.dtype));
    }
    return HCG_OK;
}

hcg_status hcg_k_shape(hcg_exec_node *en)
{
    const hcg_shape *xs = &en->in[0].shape;
    int64_t rank = xs->rank, s = hcg_attr_int(en->node, "start"), e = hcg_attr_int(en->node, "end");
    /* Same clamping as the shape rule (ONNX Shape-15). */
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    int64_t *o = hcg_dev_tensor_ptr(&en->out);
    for (int64_t i = s; i < e; i++) o[i - s] = xs->dims[i];
    return HCG_OK;
}

hcg_status hcg_k_constant_of_shape(hcg_exec_node *en)
{
    double v = hcg_attr_float(en->node, "value");
    int64_t n = hcg_cpu_numel(&en->out);
    void *o = hcg_dev_tensor_ptr(&en->out);
    /* The value in the output dtype, converted as cast converts (from double, so that integer
     * values above 2^24 stay exact). */
    switch (en->out.dtype) {
    case HCG_F32:
        for (int64_t i = 0; i < n; i++) ((float *)o)[i] = (float)v;
        break;
    case HCG_F16: {
        uint16_t h = hcg_float_to_half((float)v);
        for (int64_t i = 0; i < n; i++) ((uint16_t *)o)[i] = h;
        break;
    }
    case HCG_I32: {
        int32_t x = (int32_t)hcg_float_to_int(v, INT32_MIN, INT32_MAX);
        for (int64_t i = 0; i < n; i++) ((int32_t *)o)[i] = x;
        break;
    }
    case HCG_I64: {
        int64_t x = hcg_float_to_int(v, INT64_MIN, INT64_MAX);
        for (int64_t i = 0; i < n; i++) ((int64_t *)o)[i] = x;
        break;
    }
    case HCG_U8:
        memset(o, (int)hcg_float_to_int(v, 0, UINT8_MAX), (size_t)n);
        break;
    case HCG_I8:
        memset(o, (int)(uint8_t)(int8_t)hcg_float_to_int(v, INT8_MIN, INT8_MAX), (size_t)n);
        break;
    case HCG_BOOL:
        memset(o, v != 0, (size_t)n);
        break;
    default:
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "constant_of_shape of dtype %s",
                              hcg_dtype_name(en->out.dtype));
    }
    return HCG_OK;
}
