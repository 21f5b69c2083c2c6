/* onnx_ops_nn.c — mappers for the ONNX ops with numerics beyond elementwise: MatMul, Gemm,
 * Softmax/LogSoftmax (the 2-D coercion of opsets < 13), LayerNormalization (with its optional
 * Mean and InvStdDev outputs) and the reductions (axes as attribute or, in newer opsets, input). */
#include <stdio.h>
#include <string.h>

#include "graph/onnx/onnx_internal.h"

hcg_status onnx_map_matmul(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *a, *b;
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 2)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &a)) ||
        (st = onnx_input(c, 1, &b)) || (st = onnx_want_computable(c, 0, a, ONNX_M_F32)) ||
        (st = onnx_want_computable(c, 1, b, ONNX_M_F32)))
        return st;
    hcg_id in[2] = {onnx_compute_in(c, a), onnx_compute_in(c, b)};
    hcg_id id = onnx_emit_out(c, HCG_OP_MATMUL, n->output[0], a->dtype, in, 2, NULL, 0);
    return onnx_define(c, n->output[0], id, a->dtype);
}

hcg_status onnx_map_gemm(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
    const onnx_value *v[3] = {NULL, NULL, NULL};
    double alpha, beta;
    int64_t ta, tb;
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 3)) || (st = onnx_check_attrs(c, known)) ||
        (st = onnx_attr_float(c, "alpha", 1.0, &alpha)) || (st = onnx_attr_float(c, "beta", 1.0, &beta)) ||
        (st = onnx_attr_int(c, "transA", 0, &ta)) || (st = onnx_attr_int(c, "transB", 0, &tb)))
        return st;
    int k = onnx_num_inputs(n);
    hcg_id in[3];
    for (int i = 0; i < k; i++) {
        if ((st = onnx_input(c, i, &v[i])) || (st = onnx_want_computable(c, i, v[i], ONNX_M_F32))) return st;
        in[i] = onnx_compute_in(c, v[i]);
    }
    hcg_attr at[4] = {HCG_ATTR_F("alpha", alpha), HCG_ATTR_F("beta", beta), HCG_ATTR_I("transpose_a", ta != 0),
                      HCG_ATTR_I("transpose_b", tb != 0)};
    hcg_id id = onnx_emit_out(c, HCG_OP_GEMM, n->output[0], v[0]->dtype, in, k, at, 4);
    return onnx_define(c, n->output[0], id, v[0]->dtype);
}

/* Softmax and LogSoftmax. Opset 13 made them act along one axis (default -1); before, the input
 * was coerced to 2-D [prod(dims < axis), prod(dims >= axis)] (default axis 1) and normalised
 * along the second dim, which is flatten -> softmax(axis 1) -> reshape back. */
hcg_status onnx_map_softmax(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"axis", NULL};
    const onnx_value *x;
    int64_t axis;
    hcg_status st;
    bool legacy = c->opset < 13;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_want_computable(c, 0, x, ONNX_M_F32)) || (st = onnx_attr_int(c, "axis", legacy ? 1 : -1, &axis)))
        return st;
    hcg_op op = c->op->op;
    hcg_id x32 = onnx_compute_in(c, x);
    if (!legacy) {
        hcg_attr at = HCG_ATTR_I("axis", axis);
        hcg_id id = onnx_emit_out(c, op, n->output[0], x->dtype, &x32, 1, &at, 1);
        return onnx_define(c, n->output[0], id, x->dtype);
    }
    hcg_attr fa = HCG_ATTR_I("axis", axis), sa = HCG_ATTR_I("axis", 1);
    hcg_id flat = onnx_emit(c, HCG_OP_FLATTEN, NULL, "coerced_2d", &x32, 1, &fa, 1);
    hcg_id sm = onnx_emit(c, op, NULL, hcg_op_name(op), &flat, 1, &sa, 1);
    hcg_id shape = onnx_emit(c, HCG_OP_SHAPE, NULL, "shape", &x->id, 1, NULL, 0);
    hcg_id in[2] = {sm, shape};
    hcg_id id = onnx_emit_out(c, HCG_OP_RESHAPE, n->output[0], x->dtype, in, 2, NULL, 0);
    return onnx_define(c, n->output[0], id, x->dtype);
}

/* The shape of LayerNormalization's Mean and InvStdDev: x's dims before axis, then ones. Built
 * from Shape nodes so that it folds to a constant once x's shape is bound, whatever x's rank. */
static hcg_id stats_shape(onnx_ctx *c, hcg_id x, int64_t axis)
{
    hcg_attr head_end = HCG_ATTR_I("end", axis), tail_start = HCG_ATTR_I("start", axis);
    hcg_id head = onnx_emit(c, HCG_OP_SHAPE, NULL, "stats_head", &x, 1, &head_end, 1);
    hcg_id tail = onnx_emit(c, HCG_OP_SHAPE, NULL, "stats_tail", &x, 1, &tail_start, 1);
    hcg_id tail_len = onnx_emit(c, HCG_OP_SHAPE, NULL, "stats_tail_len", &tail, 1, NULL, 0);
    int64_t one = 1;
    hcg_id one_c = onnx_emit_i64s(c, "one", &one, 1);
    hcg_id ex_in[2] = {one_c, tail_len};
    hcg_id ones = onnx_emit(c, HCG_OP_EXPAND, NULL, "stats_ones", ex_in, 2, NULL, 0);
    hcg_id cat_in[2] = {head, ones};
    hcg_attr cat_axis = HCG_ATTR_I("axis", 0);
    return onnx_emit(c, HCG_OP_CONCAT, NULL, "stats_shape", cat_in, 2, &cat_axis, 1);
}

hcg_status onnx_map_layer_norm(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"axis", "epsilon", "stash_type", NULL};
    const onnx_value *v[3] = {NULL, NULL, NULL};
    int64_t axis, stash;
    double eps;
    hcg_status st;
    if ((st = onnx_check_attrs(c, known)) || (st = onnx_attr_int(c, "axis", -1, &axis)) ||
        (st = onnx_attr_float(c, "epsilon", 1e-5, &eps)) || (st = onnx_attr_int(c, "stash_type", 1, &stash)))
        return st;
    int k = onnx_num_inputs(n);
    if (k < 2 || k > 3 || n->n_output < 1 || n->n_output > 3 || !onnx_output(n, 0))
        return onnx_node_fail(c, HCG_ERR_FORMAT, "takes 2 or 3 inputs and gives 1 to 3 outputs");
    if (stash != 1)
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "stash_type %lld is not supported (hcg computes in f32)",
                              (long long)stash);
    hcg_id in[3];
    for (int i = 0; i < k; i++) {
        if ((st = onnx_input(c, i, &v[i])) || (st = onnx_want_computable(c, i, v[i], ONNX_M_F32))) return st;
        in[i] = onnx_compute_in(c, v[i]);
    }
    hcg_attr at[2] = {HCG_ATTR_I("axis", axis), HCG_ATTR_F("epsilon", eps)};
    hcg_id y = onnx_emit_out(c, HCG_OP_LAYER_NORM, n->output[0], v[0]->dtype, in, k, at, 2);
    if ((st = onnx_define(c, n->output[0], y, v[0]->dtype))) return st;
    const char *mean_name = onnx_output(n, 1), *inv_name = onnx_output(n, 2);
    if (!mean_name && !inv_name) return HCG_OK;

    /* Mean = mean over the normalised dims, InvStdDev = 1 / sqrt(var + epsilon), both with the
     * normalised dims kept as 1: computed on x flattened to [outer, inner]. Both are f32 (the
     * stash type) whatever x's dtype. */
    hcg_id x = in[0];
    hcg_attr flat_axis = HCG_ATTR_I("axis", axis), red_axes = HCG_ATTR_I("axes", 1), keep = HCG_ATTR_I("keepdims", 1);
    hcg_attr red[2] = {red_axes, keep};
    hcg_id flat = onnx_emit(c, HCG_OP_FLATTEN, NULL, "flat", &x, 1, &flat_axis, 1);
    hcg_id mean2d = onnx_emit(c, HCG_OP_REDUCE_MEAN, NULL, "mean_2d", &flat, 1, red, 2);
    hcg_id shape = stats_shape(c, x, axis);
    if (mean_name) {
        hcg_id rin[2] = {mean2d, shape};
        hcg_id mean = onnx_emit(c, HCG_OP_RESHAPE, mean_name, NULL, rin, 2, NULL, 0);
        if ((st = onnx_define(c, mean_name, mean, HCG_F32))) return st;
    }
    if (inv_name) {
        hcg_id d_in[2] = {flat, mean2d};
        hcg_id d = onnx_emit(c, HCG_OP_SUB, NULL, "centered", d_in, 2, NULL, 0);
        hcg_id sq_in[2] = {d, d};
        hcg_id sq = onnx_emit(c, HCG_OP_MUL, NULL, "centered_sq", sq_in, 2, NULL, 0);
        hcg_id var = onnx_emit(c, HCG_OP_REDUCE_MEAN, NULL, "var_2d", &sq, 1, red, 2);
        hcg_id ve_in[2] = {var, onnx_emit_scalar(c, "epsilon", HCG_F32, eps)};
        hcg_id ve = onnx_emit(c, HCG_OP_ADD, NULL, "var_eps", ve_in, 2, NULL, 0);
        hcg_id sd = onnx_emit(c, HCG_OP_SQRT, NULL, "std_2d", &ve, 1, NULL, 0);
        hcg_id inv = onnx_emit(c, HCG_OP_RECIPROCAL, NULL, "inv_std_2d", &sd, 1, NULL, 0);
        hcg_id rin[2] = {inv, shape};
        hcg_id out = onnx_emit(c, HCG_OP_RESHAPE, inv_name, NULL, rin, 2, NULL, 0);
        if ((st = onnx_define(c, inv_name, out, HCG_F32))) return st;
    }
    return HCG_OK;
}

/* A reduction's operands as read from an ONNX node: the input, the attributes (keepdims, axes
 * when they are an attribute), the axes input when they are one, and whether the node is a no-op
 * (noop_with_empty_axes with no axes). axes is an attribute until ReduceSum-13 / the others'
 * opset 18 made it an optional input. */
typedef struct reduce_args {
    const onnx_value *x;
    hcg_attr at[2];
    int n_at;
    hcg_id axes_in; /* -1: none */
    bool noop;
} reduce_args;

static hcg_status read_reduce_args(onnx_ctx *c, const Onnx__NodeProto *n, bool axes_input, unsigned dtypes,
                                   reduce_args *r)
{
    const onnx_value *axes_v = NULL;
    int64_t keepdims, noop = 0;
    hcg_status st;
    static const char *const known_attr[] = {"axes", "keepdims", NULL};
    static const char *const known_input[] = {"keepdims", "noop_with_empty_axes", NULL};
    memset(r, 0, sizeof *r);
    r->axes_in = -1;
    if ((st = onnx_check_arity(c, 1, axes_input ? 2 : 1)) ||
        (st = onnx_check_attrs(c, axes_input ? known_input : known_attr)) || (st = onnx_input(c, 0, &r->x)) ||
        (st = onnx_want_computable(c, 0, r->x, dtypes)) || (st = onnx_attr_int(c, "keepdims", 1, &keepdims)))
        return st;
    r->at[r->n_at++] = HCG_ATTR_I("keepdims", keepdims != 0);
    if (axes_input) {
        if ((st = onnx_attr_int(c, "noop_with_empty_axes", 0, &noop))) return st;
        if (onnx_has_input(n, 1)) {
            if ((st = onnx_input(c, 1, &axes_v)) || (st = onnx_want_dtype(c, 1, axes_v, ONNX_M_INT))) return st;
            const hcg_tensor *t = onnx_const_value(c, axes_v);
            if (noop && !t)
                return onnx_node_fail(c, HCG_ERR_UNSUPPORTED,
                                      "noop_with_empty_axes=1 needs axes known when the model is loaded");
            if (t && t->nbytes == 0) axes_v = NULL; /* empty axes: the no-op, or reduce everything */
            else r->axes_in = axes_v->id;
        }
        r->noop = !axes_v && noop;
    } else {
        const int64_t *axes;
        int n_axes;
        if ((st = onnx_attr_ints(c, "axes", &axes, &n_axes))) return st;
        if (n_axes > 0) r->at[r->n_at++] = HCG_ATTR_IS("axes", axes, n_axes);
    }
    return HCG_OK;
}

/* Emits op over r's axes (keepdims as given, or forced on), on input x. */
static hcg_id emit_reduce(onnx_ctx *c, hcg_op op, const char *out, const char *hint, const reduce_args *r, hcg_id x,
                          bool force_keep)
{
    hcg_id in[2] = {x, r->axes_in};
    hcg_attr at[2] = {r->at[0], r->at[1]};
    if (force_keep) at[0] = HCG_ATTR_I("keepdims", 1);
    return onnx_emit(c, op, out, hint, in, r->axes_in >= 0 ? 2 : 1, at, r->n_at);
}

static bool reduce_axes_input(const onnx_ctx *c, hcg_op op)
{
    return (op == HCG_OP_REDUCE_SUM && c->opset >= 13) || c->opset >= 18;
}

/* ReduceMean, ReduceSum, ReduceMax, ReduceProd: one hcg reduction. */
hcg_status onnx_map_reduce(onnx_ctx *c, const Onnx__NodeProto *n)
{
    reduce_args r;
    hcg_status st = read_reduce_args(c, n, reduce_axes_input(c, c->op->op), c->op->dtypes, &r);
    if (st) return st;
    if (r.noop) return onnx_define(c, n->output[0], r.x->id, r.x->dtype);
    hcg_id in[2] = {onnx_compute_in(c, r.x), r.axes_in};
    hcg_id id = onnx_emit_out(c, c->op->op, n->output[0], r.x->dtype, in, r.axes_in >= 0 ? 2 : 1, r.at, r.n_at);
    return onnx_define(c, n->output[0], id, r.x->dtype);
}

/* ReduceL1 (sum |x|), ReduceL2 (sqrt(sum x^2)), ReduceSumSquare (sum x^2), ReduceLogSum
 * (log(sum x)) and ReduceLogSumExp
 * (max + log(sum exp(x - max)), the stable form), as elementwise ops around a reduce_sum. With
 * noop_with_empty_axes and no axes, the elementwise parts alone (ONNX's reference does the same). */
hcg_status onnx_map_reduce_composite(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const char *type = n->op_type;
    bool l1 = strcmp(type, "ReduceL1") == 0, l2 = strcmp(type, "ReduceL2") == 0;
    bool lse = strcmp(type, "ReduceLogSumExp") == 0, log_sum = strcmp(type, "ReduceLogSum") == 0;
    reduce_args r;
    /* These follow ReduceMean's opset history: axes became an input at 18. */
    hcg_status st = read_reduce_args(c, n, c->opset >= 18, c->op->dtypes, &r);
    if (st) return st;
    hcg_id x = onnx_compute_in(c, r.x), pre;
    if (log_sum) {
        pre = x;
    } else if (l1) {
        pre = onnx_emit(c, HCG_OP_ABS, NULL, "abs", &x, 1, NULL, 0);
    } else if (lse) {
        hcg_id mx = r.noop ? x : emit_reduce(c, HCG_OP_REDUCE_MAX, NULL, "max", &r, x, true);
        hcg_id d_in[2] = {x, mx};
        hcg_id d = onnx_emit(c, HCG_OP_SUB, NULL, "shifted", d_in, 2, NULL, 0);
        pre = onnx_emit(c, HCG_OP_EXP, NULL, "exp", &d, 1, NULL, 0);
    } else {
        hcg_id sq_in[2] = {x, x};
        pre = onnx_emit(c, HCG_OP_MUL, NULL, "square", sq_in, 2, NULL, 0);
    }
    hcg_id sum = r.noop ? pre : emit_reduce(c, HCG_OP_REDUCE_SUM, NULL, "sum", &r, pre, false);
    hcg_id y = sum;
    if (l2) {
        y = onnx_emit(c, HCG_OP_SQRT, NULL, "sqrt", &sum, 1, NULL, 0);
    } else if (log_sum) {
        y = onnx_emit(c, HCG_OP_LOG, NULL, "log", &sum, 1, NULL, 0);
    } else if (lse) {
        hcg_id lg = onnx_emit(c, HCG_OP_LOG, NULL, "log", &sum, 1, NULL, 0);
        /* the max again with the node's keepdims, to add back */
        hcg_id m2 = r.noop ? x : emit_reduce(c, HCG_OP_REDUCE_MAX, NULL, "max_out", &r, x, false);
        hcg_id a_in[2] = {lg, m2};
        y = onnx_emit(c, HCG_OP_ADD, NULL, "lse", a_in, 2, NULL, 0);
    }
    hcg_id out = onnx_cast_back(c, n->output[0], r.x->dtype, y);
    if (out < 0) return (hcg_status)-out;
    return onnx_define(c, n->output[0], out, r.x->dtype);
}
