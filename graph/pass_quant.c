/* pass_quant.c — rewrites that keep weights stored small (f16, int8) small while they are used:
 *
 * dequantize_matmul: a product whose b is a weight widened just before it (cast of an f16 param,
 * dequantize of an int8 one with symmetric scales per output column, per block along K, or one for
 * the whole weight) reads the stored weight itself: fused_matmul with the f16 matrix, quant_matmul
 * with the int8 matrix and its scales. The kernels widen the weight as they go, so the f32 copy
 * never exists. It runs before the epilogue passes, which then fold bias and activation into it.
 *
 * dequantize_gather: rows gathered (axis 0) from a table stored small are gathered first and
 * widened after, so a run converts the rows it reads (MiniLM: 128 of 30522), not the table. */
#include <stdio.h>
#include <string.h>

#include "graph/op_table.h"
#include "graph/passes.h"
#include "graph/quant.h"

#define NODE(id) hcg_pnode(c, (id))
#define IN(id, k) (NODE(id)->inputs[(k)])

/* Whether id is a param or constant (its value known when the graph is bound). */
static bool is_stored(const hcg_pass_ctx *c, hcg_id id)
{
    return (hcg_pass_is(c, id, HCG_OP_PARAM) || hcg_pass_is(c, id, HCG_OP_CONSTANT)) && NODE(id)->value;
}

/* An f16 weight widened by a cast: the weight, else -1. */
static hcg_id f16_source(const hcg_pass_ctx *c, hcg_id id)
{
    if (!hcg_pass_is(c, id, HCG_OP_CAST) || !hcg_pass_single_use(c, id) || NODE(id)->dtype != HCG_F32) return -1;
    hcg_id w = IN(id, 0);
    return is_stored(c, w) && NODE(w)->dtype == HCG_F16 ? w : -1;
}

/* Whether a zero point is absent or all zeros (symmetric quantization). */
static bool zero_is_zero(const hcg_pass_ctx *c, hcg_id d)
{
    if (NODE(d)->n_inputs < 3) return true;
    const hcg_node *z = NODE(IN(d, 2));
    if (!z->value) return false;
    const unsigned char *p = z->value->data;
    for (size_t i = 0; i < z->value->nbytes; i++)
        if (p[i]) return false;
    return true;
}

/* An int8 tensor widened by a symmetric dequantize with stored scales: its layout in *l. */
static bool int8_dequantize(const hcg_pass_ctx *c, hcg_id d, hcg_qlayout *l)
{
    if (!hcg_pass_is(c, d, HCG_OP_DEQUANTIZE) || !hcg_pass_single_use(c, d)) return false;
    hcg_id q = IN(d, 0), s = IN(d, 1);
    if (!is_stored(c, q) || NODE(q)->dtype != HCG_I8 || !is_stored(c, s) || !zero_is_zero(c, d)) return false;
    return hcg_qlayout_of(c->g, NODE(d), &NODE(q)->shape, &NODE(s)->shape, l) == HCG_OK;
}

/* ---------------------------------------------------------------- products */

/* The scales of an int8 weight as quant_matmul reads them (per output column, or per block along
 * K), for the dequantize's layout l of weight q [rows, cols] read with transpose_b tb: *out is the
 * scale node itself, a per-column vector made from one scale for the whole weight, or -1 if the
 * layout does not fit the product (a per-row scale of a [K, N] weight, blocks along N). */
static hcg_status product_scales(hcg_pass_ctx *c, hcg_id d, const hcg_qlayout *l, bool tb, int64_t *block, hcg_id *out)
{
    const hcg_node *q = NODE(IN(d, 0));
    hcg_id s = IN(d, 1);
    int n_axis = tb ? 0 : 1;
    int64_t n = q->shape.dims[n_axis], one = 1;
    *block = 0;
    *out = -1;
    if (l->mode == HCG_Q_AXIS && l->axis == n_axis) *out = s;
    if (l->mode == HCG_Q_BLOCKED && l->axis == 1 - n_axis) {
        *block = l->block;
        *out = s;
    }
    if (l->mode != HCG_Q_TENSOR) return HCG_OK;
    /* one scale for all: the same scale for every column */
    hcg_attr shape = HCG_ATTR_IS("shape", &n, 1), flat_shape = HCG_ATTR_IS("shape", &one, 1);
    hcg_id flat = hcg_pass_append(c, HCG_OP_RESHAPE, "scale_scalar", &s, 1, &flat_shape, 1);
    if (flat < 0) return (hcg_status)-flat;
    hcg_id cols = hcg_pass_append(c, HCG_OP_EXPAND, "scale_per_column", &flat, 1, &shape, 1);
    if (cols < 0) return (hcg_status)-cols;
    *out = cols;
    return HCG_OK;
}

hcg_status hcg_pass_dequantize_matmul(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        if (!hcg_pass_is(c, id, HCG_OP_MATMUL) && !hcg_pass_is(c, id, HCG_OP_FUSED_MATMUL)) continue;
        hcg_id b = IN(id, 1);
        hcg_attr at[6];
        hcg_pass_product_attrs(c, id, at);
        hcg_id in[4] = {IN(id, 0), -1, -1, -1};
        int n_in = NODE(id)->n_inputs;
        hcg_id w = f16_source(c, b);
        hcg_qlayout l;
        char what[160];
        hcg_status st;
        if (w >= 0 && NODE(w)->shape.rank == 2) {
            in[1] = w;
            if (n_in > 2) in[2] = IN(id, 2);
            snprintf(what, sizeof what, "reads the f16 weight '%s' itself", NODE(w)->name);
            st = hcg_pass_rewrite(c, id, HCG_OP_FUSED_MATMUL, in, n_in, at, 4, what);
        } else if (int8_dequantize(c, b, &l) && NODE(IN(b, 0))->shape.rank == 2) {
            int64_t block;
            hcg_id s;
            if ((st = product_scales(c, b, &l, at[1].i != 0, &block, &s))) return st;
            if (s < 0) continue;
            in[1] = IN(b, 0);
            in[2] = s;
            if (n_in > 2) in[3] = IN(id, 2);
            at[4] = HCG_ATTR_I("block_size", block);
            snprintf(what, sizeof what, "reads the int8 weight '%s' and its scales itself (%s)", NODE(in[1])->name,
                     block ? "per block along K" : "per output column");
            st = hcg_pass_rewrite(c, id, HCG_OP_QUANT_MATMUL, in, n_in + 1, at, 5, what);
        } else {
            continue;
        }
        if (st) return st;
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- gathers */

/* A scale or zero point table of a dequantized table q [V, ..] gathered like its rows: one value
 * for all stays; one per row (axis 0) becomes [V, 1] first, a blocked one along the last axis keeps
 * its shape, so that the gathered rows are the blocked layout along their last axis. *out: the
 * gathered node, or -1 when the layout does not allow it. */
static hcg_status gathered_params(hcg_pass_ctx *c, hcg_id t, const hcg_qlayout *l, const hcg_node *q, hcg_id idx,
                                  hcg_id *out)
{
    *out = t;
    if (l->mode == HCG_Q_TENSOR) return HCG_OK;
    *out = -1;
    hcg_id src = t;
    if (l->mode == HCG_Q_AXIS) {
        if (l->axis != 0 || q->shape.rank != 2 || q->shape.dims[1] == 0) return HCG_OK;
        int64_t dims[2] = {q->shape.dims[0], 1};
        hcg_attr shape = HCG_ATTR_IS("shape", dims, 2);
        if ((src = hcg_pass_append(c, HCG_OP_RESHAPE, "row_params", &t, 1, &shape, 1)) < 0) return (hcg_status)-src;
    } else if (l->axis != q->shape.rank - 1 || q->shape.rank < 2) {
        return HCG_OK;
    }
    hcg_id in[2] = {src, idx};
    hcg_attr axis0 = HCG_ATTR_I("axis", 0);
    hcg_id g = hcg_pass_append(c, HCG_OP_GATHER, "gathered_params", in, 2, &axis0, 1);
    if (g < 0) return (hcg_status)-g;
    *out = g;
    return HCG_OK;
}

hcg_status hcg_pass_dequantize_gather(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        if (!hcg_pass_is(c, id, HCG_OP_GATHER) || hcg_attr_int(NODE(id), "axis") != 0) continue;
        hcg_id d = IN(id, 0), idx = IN(id, 1), w = f16_source(c, d);
        hcg_attr axis0 = HCG_ATTR_I("axis", 0);
        hcg_qlayout l;
        char what[160];
        hcg_status st;
        if (w >= 0) {
            hcg_id in[2] = {w, idx};
            hcg_id rows = hcg_pass_append(c, HCG_OP_GATHER, "f16_rows", in, 2, &axis0, 1);
            if (rows < 0) return (hcg_status)-rows;
            snprintf(what, sizeof what, "rows of the f16 table '%s' gathered, then widened", NODE(w)->name);
            hcg_attr to = HCG_ATTR_S("to", "f32");
            st = hcg_pass_rewrite(c, id, HCG_OP_CAST, &rows, 1, &to, 1, what);
        } else if (hcg_pass_is(c, d, HCG_OP_DEQUANTIZE) && hcg_pass_single_use(c, d) && is_stored(c, IN(d, 0)) &&
                   is_stored(c, IN(d, 1)) &&
                   hcg_qlayout_of(c->g, NODE(d), &NODE(IN(d, 0))->shape, &NODE(IN(d, 1))->shape, &l) == HCG_OK) {
            const hcg_node *q = NODE(IN(d, 0));
            int rank = q->shape.rank;
            if (rank < 1) continue;
            hcg_id in[3], qi[2] = {IN(d, 0), idx};
            int n_in = NODE(d)->n_inputs;
            bool fits = true;
            for (int k = 1; k < n_in && fits; k++) {
                if ((st = gathered_params(c, IN(d, k), &l, q, idx, &in[k]))) return st;
                fits = in[k] >= 0;
            }
            if (!fits) continue;
            if ((in[0] = hcg_pass_append(c, HCG_OP_GATHER, "quantized_rows", qi, 2, &axis0, 1)) < 0)
                return (hcg_status)-in[0];
            /* the gathered rows: [.., q's dims after 0]; their layout is along their last axis */
            int out_rank = NODE(id)->shape.rank;
            int64_t block = l.mode == HCG_Q_AXIS ? q->shape.dims[rank - 1] : l.block;
            hcg_attr at[2] = {HCG_ATTR_I("axis", l.mode == HCG_Q_TENSOR ? 0 : out_rank - 1),
                              HCG_ATTR_I("block_size", l.mode == HCG_Q_TENSOR ? 0 : block)};
            snprintf(what, sizeof what, "rows of the %s table '%s' gathered, then dequantized",
                     hcg_dtype_name(q->dtype), q->name);
            st = hcg_pass_rewrite(c, id, HCG_OP_DEQUANTIZE, in, n_in, at, 2, what);
        } else {
            continue;
        }
        if (st) return st;
    }
    return HCG_OK;
}
