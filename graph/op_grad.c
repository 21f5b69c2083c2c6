/* op_grad.c — the gradient rules of the op table: for each differentiable op, the nodes that turn
 * the gradient of its output (dy) into the gradients of its inputs. Rules build with the helpers
 * of graph/autodiff.h and follow PyTorch's derivative formulas (tools/autograd/derivatives.yaml),
 * so that training matches it: ties of max/min split the gradient, clip passes it on the closed
 * interval, reduce_max spreads it over every maximum, pow's exponent gradient is 0 where the base
 * is 0. A rule reads what it needs from the node first: node pointers move as nodes are added. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/autodiff.h"

#define NODE(id) (&hcg_grad_graph(c)->nodes[(id)])
#define SHAPE(id) (NODE(id)->shape)
/* A rule's end: a negative id from any helper is the failure's status. */
#define CHECK(id)                                                                                  \
    do {                                                                                           \
        if ((id) < 0) return (hcg_status)-(id);                                                    \
    } while (0)

static hcg_id scale(hcg_grad_ctx *c, hcg_id x, double s)
{
    return s == 1.0 ? x : hcg_grad_op2(c, HCG_OP_MUL, x, hcg_grad_scalar(c, s));
}

/* ---------------------------------------------------------------- elementwise */

hcg_status hcg_grad_arith(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    hcg_op op = NODE(v)->op;
    hcg_id a = NODE(v)->inputs[0], b = NODE(v)->inputs[1];
    hcg_shape sa = SHAPE(a), sb = SHAPE(b);
    switch (op) {
    case HCG_OP_ADD:
        if (wants[0]) dx[0] = hcg_grad_sum_to(c, dy, &sa);
        if (wants[1]) dx[1] = hcg_grad_sum_to(c, dy, &sb);
        break;
    case HCG_OP_SUB:
        if (wants[0]) dx[0] = hcg_grad_sum_to(c, dy, &sa);
        if (wants[1]) dx[1] = hcg_grad_op1(c, HCG_OP_NEG, hcg_grad_sum_to(c, dy, &sb));
        break;
    case HCG_OP_MUL:
        if (wants[0]) dx[0] = hcg_grad_sum_to(c, hcg_grad_op2(c, HCG_OP_MUL, dy, b), &sa);
        if (wants[1]) dx[1] = hcg_grad_sum_to(c, hcg_grad_op2(c, HCG_OP_MUL, dy, a), &sb);
        break;
    default: /* div: d/da = dy / b, d/db = -dy * a / b^2 = -(dy * y) / b */
        if (wants[0]) dx[0] = hcg_grad_sum_to(c, hcg_grad_op2(c, HCG_OP_DIV, dy, b), &sa);
        if (wants[1]) {
            hcg_id t = hcg_grad_op2(c, HCG_OP_DIV, hcg_grad_op2(c, HCG_OP_MUL, dy, v), b);
            dx[1] = hcg_grad_op1(c, HCG_OP_NEG, hcg_grad_sum_to(c, t, &sb));
        }
        break;
    }
    for (int i = 0; i < 2; i++)
        if (wants[i]) CHECK(dx[i]);
    return HCG_OK;
}

/* b - 1 as a node: a new constant when b is one (the usual x^2, x^3, x^0.5), else a sub node. */
static hcg_id minus_one(hcg_grad_ctx *c, hcg_id b)
{
    const hcg_node *bn = NODE(b);
    if (bn->op != HCG_OP_CONSTANT || !bn->value || bn->value->dtype != HCG_F32)
        return hcg_grad_op2(c, HCG_OP_SUB, b, hcg_grad_scalar(c, 1.0));
    hcg_tensor *t = NULL;
    hcg_status st = hcg_tensor_clone(bn->value, &t);
    if (st) return -(hcg_id)st;
    float *p = t->data;
    for (size_t i = 0; i < t->nbytes / sizeof(float); i++) p[i] -= 1.0f;
    char name[320];
    snprintf(name, sizeof name, "%s/minus_one", bn->name);
    hcg_id id = hcg_graph_find(hcg_grad_graph(c), name);
    if (id >= 0) {
        hcg_tensor_free(t);
        return id;
    }
    id = hcg_constant(hcg_grad_graph(c), name, t);
    if (id >= 0) {
        NODE(id)->dtype = HCG_F32;
        NODE(id)->shape = NODE(b)->shape;
    }
    return id;
}

hcg_status hcg_grad_pow(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    hcg_id a = NODE(v)->inputs[0], b = NODE(v)->inputs[1];
    hcg_shape sa = SHAPE(a), sb = SHAPE(b);
    if (wants[0]) {
        /* dy * b * a^(b - 1) */
        hcg_id t = hcg_grad_op2(c, HCG_OP_MUL, b, hcg_grad_op2(c, HCG_OP_POW, a, minus_one(c, b)));
        dx[0] = hcg_grad_sum_to(c, hcg_grad_op2(c, HCG_OP_MUL, dy, t), &sa);
        CHECK(dx[0]);
    }
    if (wants[1]) {
        /* dy * a^b * log(a), 0 where a == 0 and b >= 0 */
        hcg_id zero = hcg_grad_scalar(c, 0.0);
        hcg_id t = hcg_grad_op2(c, HCG_OP_MUL, v, hcg_grad_op1(c, HCG_OP_LOG, a));
        hcg_id cond = hcg_grad_op2(c, HCG_OP_AND, hcg_grad_op2(c, HCG_OP_EQUAL, a, zero),
                                   hcg_grad_op1(c, HCG_OP_NOT, hcg_grad_op2(c, HCG_OP_LESS, b, zero)));
        t = hcg_grad_mask(c, cond, t, false);
        dx[1] = hcg_grad_sum_to(c, hcg_grad_op2(c, HCG_OP_MUL, dy, t), &sb);
        CHECK(dx[1]);
    }
    return HCG_OK;
}

hcg_status hcg_grad_minmax(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    /* PyTorch: maximum's gradient goes to the larger input, split in half on ties */
    hcg_op wins = NODE(v)->op == HCG_OP_MAX ? HCG_OP_GREATER : HCG_OP_LESS;
    hcg_id in[2] = {NODE(v)->inputs[0], NODE(v)->inputs[1]};
    hcg_id half = hcg_grad_op2(c, HCG_OP_MUL, dy, hcg_grad_scalar(c, 0.5));
    hcg_id tie = hcg_grad_op2(c, HCG_OP_EQUAL, in[0], in[1]);
    for (int i = 0; i < 2; i++) {
        if (!wants[i]) continue;
        hcg_shape s = SHAPE(in[i]);
        hcg_id win = hcg_grad_op2(c, wins, in[i], in[1 - i]);
        hcg_id on_tie = hcg_grad_mask(c, tie, half, true);
        hcg_id w3[3] = {win, dy, on_tie};
        dx[i] = hcg_grad_sum_to(c, hcg_grad_op(c, HCG_OP_WHERE, w3, 3, NULL, 0), &s);
        CHECK(dx[i]);
    }
    return HCG_OK;
}

hcg_status hcg_grad_where(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    hcg_id cond = NODE(v)->inputs[0];
    for (int i = 1; i < 3; i++) {
        if (!wants[i]) continue;
        hcg_shape s = SHAPE(NODE(v)->inputs[i]);
        dx[i] = hcg_grad_sum_to(c, hcg_grad_mask(c, cond, dy, i == 1), &s);
        CHECK(dx[i]);
    }
    return HCG_OK;
}

hcg_status hcg_grad_neg(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    (void)v;
    if (wants[0]) CHECK(dx[0] = hcg_grad_op1(c, HCG_OP_NEG, dy));
    return HCG_OK;
}

hcg_status hcg_grad_unary(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    const hcg_node *n = NODE(v);
    const char *of = hcg_op_name(n->op);
    if (n->op == HCG_OP_GELU && strcmp(hcg_attr_string(n, "approximate"), "tanh") == 0) of = "gelu_tanh";
    hcg_id in[2] = {n->inputs[0], dy};
    hcg_attr a = HCG_ATTR_S("of", of);
    CHECK(dx[0] = hcg_grad_op(c, HCG_OP_UNARY_GRAD, in, 2, &a, 1));
    return HCG_OK;
}

hcg_status hcg_grad_clip(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    hcg_id x = NODE(v)->inputs[0];
    double lo = hcg_attr_float(NODE(v), "min"), hi = hcg_attr_float(NODE(v), "max");
    /* passes where min <= x <= max (PyTorch's clamp) */
    hcg_id cond = -1;
    if (lo > -INFINITY) cond = hcg_grad_op1(c, HCG_OP_NOT, hcg_grad_op2(c, HCG_OP_LESS, x, hcg_grad_scalar(c, lo)));
    if (hi < INFINITY) {
        hcg_id below = hcg_grad_op1(c, HCG_OP_NOT, hcg_grad_op2(c, HCG_OP_GREATER, x, hcg_grad_scalar(c, hi)));
        cond = cond == -1 ? below : hcg_grad_op2(c, HCG_OP_AND, cond, below);
    }
    dx[0] = cond == -1 ? dy : hcg_grad_mask(c, cond, dy, true);
    CHECK(dx[0]);
    return HCG_OK;
}

hcg_status hcg_grad_cast(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    hcg_dtype from = NODE(NODE(v)->inputs[0])->dtype;
    if (from != HCG_F32 && from != HCG_F16) return HCG_OK; /* no gradient into integers */
    hcg_attr a = HCG_ATTR_S("to", hcg_dtype_name(from));
    dx[0] = from == NODE(dy)->dtype ? dy : hcg_grad_op(c, HCG_OP_CAST, &dy, 1, &a, 1);
    CHECK(dx[0]);
    return HCG_OK;
}

/* ---------------------------------------------------------------- matrix products */

static hcg_id matmul(hcg_grad_ctx *c, hcg_id a, hcg_id b, bool ta, bool tb)
{
    hcg_attr attrs[2] = {HCG_ATTR_I("transpose_a", ta), HCG_ATTR_I("transpose_b", tb)};
    hcg_id in[2] = {a, b};
    return hcg_grad_op(c, HCG_OP_MATMUL, in, 2, attrs, 2);
}

static int64_t prod(const hcg_shape *s, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= s->dims[i];
    return p;
}

/* The gradient of a 2-D operand w that every batch of the other operand x (whose batch dims are
 * all of the result's) multiplied: the batches fold into the rows, one product, no reduction.
 * x is [.., M, K] (not transposed), dyc [.., M, N]. want_w_t: w was [N, K] (transposed). */
static hcg_id folded_weight_grad(hcg_grad_ctx *c, hcg_id x, hcg_id dyc, bool w_transposed)
{
    hcg_shape xs = SHAPE(x), ds = SHAPE(dyc);
    int64_t rows = prod(&xs, 0, xs.rank - 1);
    int64_t x2d[2] = {rows, xs.dims[xs.rank - 1]}, d2d[2] = {rows, ds.dims[ds.rank - 1]};
    hcg_shape xs2 = hcg_shape_make(2, x2d), ds2 = hcg_shape_make(2, d2d);
    hcg_id xf = hcg_grad_reshape(c, x, &xs2), df = hcg_grad_reshape(c, dyc, &ds2);
    return w_transposed ? matmul(c, df, xf, true, false) : matmul(c, xf, df, true, false);
}

hcg_status hcg_grad_matmul(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    const hcg_node *n = NODE(v);
    hcg_id a = n->inputs[0], b = n->inputs[1];
    hcg_shape sa = SHAPE(a), sb = SHAPE(b), sc = n->shape;
    bool ta, tb;
    hcg_shape pa = sa, pb = sb;
    hcg_matmul_operands(n, &pa, &pb, &ta, &tb);
    /* numpy's 1-D rules: work with the promoted operands [1, K] / [K, 1] and a result that keeps
     * their unit dims, then reshape back */
    hcg_shape pc = sc;
    if (sa.rank == 1) {
        pc.dims[pc.rank] = sb.rank == 1 ? 1 : pc.dims[pc.rank - 1];
        if (sb.rank != 1) pc.dims[pc.rank - 1] = 1;
        pc.rank++;
    }
    if (sb.rank == 1) pc.dims[pc.rank++] = 1;
    hcg_id a2 = hcg_grad_reshape(c, a, &pa), b2 = hcg_grad_reshape(c, b, &pb), dc = hcg_grad_reshape(c, dy, &pc);
    bool batched = pc.rank > 2;
    if (wants[0]) {
        hcg_id d;
        if (!ta) d = matmul(c, dc, b2, false, !tb);
        else d = matmul(c, b2, dc, tb, true);
        dx[0] = hcg_grad_reshape(c, hcg_grad_sum_to(c, d, &pa), &sa);
        CHECK(dx[0]);
    }
    if (wants[1]) {
        hcg_id d;
        /* the linear layer: x [.., M, K] @ w [K, N] (or w^T): fold the batches into one product */
        bool full_batch = pa.rank == pc.rank;
        for (int i = 0; full_batch && i < pc.rank - 2; i++) full_batch = pa.dims[i] == pc.dims[i];
        if (batched && pb.rank == 2 && !ta && full_batch) d = folded_weight_grad(c, a2, dc, tb);
        else if (!tb) d = matmul(c, a2, dc, !ta, false);
        else d = matmul(c, dc, a2, true, ta);
        dx[1] = hcg_grad_reshape(c, hcg_grad_sum_to(c, d, &pb), &sb);
        CHECK(dx[1]);
    }
    return HCG_OK;
}

hcg_status hcg_grad_gemm(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    const hcg_node *n = NODE(v);
    hcg_id a = n->inputs[0], b = n->inputs[1], cc = n->n_inputs > 2 ? n->inputs[2] : -1;
    bool ta = hcg_attr_int(n, "transpose_a") != 0, tb = hcg_attr_int(n, "transpose_b") != 0;
    double alpha = hcg_attr_float(n, "alpha"), beta = hcg_attr_float(n, "beta");
    if (wants[0]) {
        hcg_id d = !ta ? matmul(c, dy, b, false, !tb) : matmul(c, b, dy, tb, true);
        CHECK(dx[0] = scale(c, d, alpha));
    }
    if (wants[1]) {
        hcg_id d = !tb ? matmul(c, a, dy, !ta, false) : matmul(c, dy, a, true, ta);
        CHECK(dx[1] = scale(c, d, alpha));
    }
    if (cc >= 0 && wants[2]) {
        hcg_shape s = SHAPE(cc);
        CHECK(dx[2] = scale(c, hcg_grad_sum_to(c, dy, &s), beta));
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- reductions and normalisations */

hcg_status hcg_grad_reduce(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    const hcg_node *n = NODE(v);
    hcg_op op = n->op;
    hcg_id x = n->inputs[0];
    hcg_shape sx = SHAPE(x), keep = sx;
    bool mask[HCG_MAX_RANK];
    hcg_status st = hcg_reduce_mask(hcg_grad_graph(c), n, sx.rank, mask);
    if (st) return st;
    int64_t count = 1;
    for (int i = 0; i < sx.rank; i++)
        if (mask[i]) {
            count *= sx.dims[i];
            keep.dims[i] = 1;
        }
    hcg_id dk = hcg_grad_reshape(c, dy, &keep), r;
    hcg_attr to = HCG_ATTR_IS("shape", sx.dims, sx.rank);
    if (op == HCG_OP_REDUCE_SUM) {
        r = hcg_grad_op(c, HCG_OP_EXPAND, &dk, 1, &to, 1);
    } else if (op == HCG_OP_REDUCE_MEAN) {
        hcg_id scaled = hcg_grad_op2(c, HCG_OP_DIV, dk, hcg_grad_scalar(c, (double)count));
        r = hcg_grad_op(c, HCG_OP_EXPAND, &scaled, 1, &to, 1);
    } else if (op == HCG_OP_REDUCE_PROD) {
        /* the product of the others: y / x where x != 0; where x == 0, the product of the other
         * elements if it is the group's only zero, else 0 (PyTorch's prod_backward) */
        int64_t axes[HCG_MAX_RANK];
        int na = 0;
        for (int i = 0; i < sx.rank; i++)
            if (mask[i]) axes[na++] = i;
        hcg_attr ra[2] = {HCG_ATTR_IS("axes", axes, na), HCG_ATTR_I("keepdims", 1)}, f32 = HCG_ATTR_S("to", "f32");
        hcg_id zero = hcg_grad_scalar(c, 0.0), one = hcg_grad_scalar(c, 1.0);
        hcg_id is_zero = hcg_grad_op2(c, HCG_OP_EQUAL, x, zero);
        hcg_id w3[3] = {is_zero, one, x};
        hcg_id safe = hcg_grad_op(c, HCG_OP_WHERE, w3, 3, NULL, 0);
        hcg_id nonzero_prod = hcg_grad_op(c, HCG_OP_REDUCE_PROD, &safe, 1, ra, 2);
        hcg_id zf = hcg_grad_op(c, HCG_OP_CAST, &is_zero, 1, &f32, 1);
        hcg_id zeros = hcg_grad_op(c, HCG_OP_REDUCE_SUM, &zf, 1, ra, 2);
        hcg_id only_zero = hcg_grad_op2(c, HCG_OP_EQUAL, zeros, one);
        hcg_id at_zero = hcg_grad_mask(c, only_zero, nonzero_prod, true);
        hcg_id w3b[3] = {is_zero, at_zero, hcg_grad_op2(c, HCG_OP_DIV, hcg_grad_reshape(c, v, &keep), safe)};
        r = hcg_grad_op2(c, HCG_OP_MUL, dk, hcg_grad_op(c, HCG_OP_WHERE, w3b, 3, NULL, 0));
    } else { /* reduce_max: shared equally by every element equal to the maximum (PyTorch's amax) */
        hcg_attr f32 = HCG_ATTR_S("to", "f32");
        hcg_id eq = hcg_grad_op2(c, HCG_OP_EQUAL, x, hcg_grad_reshape(c, v, &keep));
        hcg_id m = hcg_grad_op(c, HCG_OP_CAST, &eq, 1, &f32, 1);
        int64_t axes[HCG_MAX_RANK];
        int na = 0;
        for (int i = 0; i < sx.rank; i++)
            if (mask[i]) axes[na++] = i;
        hcg_attr ra[2] = {HCG_ATTR_IS("axes", axes, na), HCG_ATTR_I("keepdims", 1)};
        hcg_id cnt = hcg_grad_op(c, HCG_OP_REDUCE_SUM, &m, 1, ra, 2);
        r = hcg_grad_op2(c, HCG_OP_MUL, m, hcg_grad_op2(c, HCG_OP_DIV, dk, cnt));
    }
    CHECK(dx[0] = r);
    return HCG_OK;
}

hcg_status hcg_grad_softmax(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    hcg_op op = NODE(v)->op == HCG_OP_SOFTMAX ? HCG_OP_SOFTMAX_GRAD : HCG_OP_LOG_SOFTMAX_GRAD;
    hcg_attr a = HCG_ATTR_I("axis", hcg_attr_int(NODE(v), "axis"));
    hcg_id in[2] = {v, dy};
    CHECK(dx[0] = hcg_grad_op(c, op, in, 2, &a, 1));
    return HCG_OK;
}

hcg_status hcg_grad_norm(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    const hcg_node *n = NODE(v);
    bool layer = n->op == HCG_OP_LAYER_NORM;
    int n_in = n->n_inputs, axis;
    hcg_id x = n->inputs[0], sc = n_in > 1 ? n->inputs[1] : -1, bias = n_in > 2 ? n->inputs[2] : -1;
    hcg_norm_axis(hcg_attr_int(n, "axis"), n->shape.rank, &axis);
    hcg_attr attrs[2] = {HCG_ATTR_I("axis", axis), HCG_ATTR_F("epsilon", hcg_attr_float(n, "epsilon"))};
    if (wants[0]) {
        hcg_id in[3] = {x, dy, sc};
        hcg_op op = layer ? HCG_OP_LAYER_NORM_GRAD : HCG_OP_RMS_NORM_GRAD;
        CHECK(dx[0] = hcg_grad_op(c, op, in, sc >= 0 ? 3 : 2, attrs, 2));
    }
    if (sc >= 0 && wants[1]) {
        /* sum over the leading dims of dy * normalised x (recomputed: no statistics kept) */
        hcg_op op = layer ? HCG_OP_LAYER_NORM : HCG_OP_RMS_NORM;
        hcg_id xhat = hcg_grad_op(c, op, &x, 1, attrs, 2);
        hcg_shape s = SHAPE(sc);
        CHECK(dx[1] = hcg_grad_sum_leading(c, hcg_grad_op2(c, HCG_OP_MUL, dy, xhat), axis, &s));
    }
    if (bias >= 0 && wants[2]) {
        hcg_shape s = SHAPE(bias);
        CHECK(dx[2] = hcg_grad_sum_leading(c, dy, axis, &s));
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- data movement */

hcg_status hcg_grad_view(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    hcg_shape s = SHAPE(NODE(v)->inputs[0]);
    CHECK(dx[0] = hcg_grad_reshape(c, dy, &s));
    return HCG_OK;
}

hcg_status hcg_grad_transpose(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    int cnt, rank = NODE(v)->shape.rank;
    const int64_t *perm = hcg_attr_ints(NODE(v), "perm", &cnt);
    int64_t inv[HCG_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int p = rank - 1 - i;
        if (cnt) hcg_norm_axis(perm[i], rank, &p);
        inv[p] = i;
    }
    hcg_attr a = HCG_ATTR_IS("perm", inv, rank);
    CHECK(dx[0] = hcg_grad_op(c, HCG_OP_TRANSPOSE, &dy, 1, &a, 1));
    return HCG_OK;
}

static hcg_id slice_axis(hcg_grad_ctx *c, hcg_id x, int axis, int64_t start, int64_t end)
{
    int64_t ax = axis;
    hcg_attr attrs[3] = {HCG_ATTR_IS("starts", &start, 1), HCG_ATTR_IS("ends", &end, 1), HCG_ATTR_IS("axes", &ax, 1)};
    return hcg_grad_op(c, HCG_OP_SLICE, &x, 1, attrs, 3);
}

hcg_status hcg_grad_concat(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    int axis, n_in = NODE(v)->n_inputs;
    hcg_norm_axis(hcg_attr_int(NODE(v), "axis"), NODE(v)->shape.rank, &axis);
    int64_t off = 0;
    for (int i = 0; i < n_in; i++) {
        int64_t len = SHAPE(NODE(v)->inputs[i]).dims[axis];
        if (wants[i]) CHECK(dx[i] = slice_axis(c, dy, axis, off, off + len));
        off += len;
    }
    return HCG_OK;
}

hcg_status hcg_grad_slice(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    const hcg_node *n = NODE(v);
    hcg_shape sx = SHAPE(n->inputs[0]);
    hcg_attr shape = HCG_ATTR_IS("shape", sx.dims, sx.rank);
    if (n->op == HCG_OP_SPLIT) {
        int axis;
        int64_t start, size;
        hcg_status st = hcg_split_part(hcg_grad_graph(c), n, &sx, &axis, &start, &size);
        if (st) return st;
        int64_t end = start + size, ax = axis;
        hcg_attr attrs[4] = {shape, HCG_ATTR_IS("starts", &start, 1), HCG_ATTR_IS("ends", &end, 1),
                             HCG_ATTR_IS("axes", &ax, 1)};
        CHECK(dx[0] = hcg_grad_op(c, HCG_OP_SLICE_GRAD, &dy, 1, attrs, 4));
        return HCG_OK;
    }
    /* the slice's own attributes: slice_grad resolves them exactly as slice did */
    hcg_attr attrs[5] = {shape};
    int na = 1;
    static const char *const names[] = {"starts", "ends", "axes", "steps"};
    for (int k = 0; k < 4; k++) {
        int cnt;
        const int64_t *vals = hcg_attr_ints(n, names[k], &cnt);
        if (cnt || k < 2) attrs[na++] = (hcg_attr)HCG_ATTR_IS(names[k], vals, cnt);
    }
    CHECK(dx[0] = hcg_grad_op(c, HCG_OP_SLICE_GRAD, &dy, 1, attrs, na));
    return HCG_OK;
}

hcg_status hcg_grad_gather(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    const hcg_node *n = NODE(v);
    hcg_shape sx = SHAPE(n->inputs[0]);
    hcg_attr attrs[2] = {HCG_ATTR_I("axis", hcg_attr_int(n, "axis")), HCG_ATTR_IS("shape", sx.dims, sx.rank)};
    hcg_id in[2] = {dy, n->inputs[1]};
    CHECK(dx[0] = hcg_grad_op(c, HCG_OP_GATHER_GRAD, in, 2, attrs, 2));
    return HCG_OK;
}

hcg_status hcg_grad_expand(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    hcg_shape s = SHAPE(NODE(v)->inputs[0]);
    CHECK(dx[0] = hcg_grad_sum_to(c, dy, &s));
    return HCG_OK;
}

hcg_status hcg_grad_masked(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    if (!wants[0]) return HCG_OK;
    const hcg_node *n = NODE(v);
    if (n->op == HCG_OP_CAUSAL_MASK) {
        hcg_attr a = HCG_ATTR_F("value", 0.0);
        CHECK(dx[0] = hcg_grad_op(c, HCG_OP_CAUSAL_MASK, &dy, 1, &a, 1));
        return HCG_OK;
    }
    hcg_attr attrs[2] = {HCG_ATTR_I("upper", hcg_attr_int(n, "upper")), HCG_ATTR_I("k", hcg_attr_int(n, "k"))};
    CHECK(dx[0] = hcg_grad_op(c, HCG_OP_TRILU, &dy, 1, attrs, 2));
    return HCG_OK;
}

/* ---------------------------------------------------------------- losses */

/* The factor a loss's per-element gradient is multiplied by: dy / count for a mean, dy for a sum,
 * dy with the class axis restored for none. */
static hcg_id loss_scale(hcg_grad_ctx *c, hcg_id dy, hcg_reduction r, hcg_id count, int axis)
{
    if (r == HCG_REDUCE_MEAN) return hcg_grad_op2(c, HCG_OP_DIV, dy, count);
    if (r == HCG_REDUCE_SUM) return dy;
    int64_t ax = axis;
    hcg_attr a = HCG_ATTR_IS("axes", &ax, 1);
    return hcg_grad_op(c, HCG_OP_UNSQUEEZE, &dy, 1, &a, 1);
}

hcg_status hcg_grad_class_loss(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    const hcg_node *n = NODE(v);
    bool sce = n->op == HCG_OP_SOFTMAX_CROSS_ENTROPY;
    hcg_id x = n->inputs[0], t = n->inputs[1];
    hcg_reduction red = hcg_loss_reduction(n);
    int axis;
    hcg_norm_axis(hcg_attr_int(n, "axis"), SHAPE(x).rank, &axis);
    int64_t classes = SHAPE(x).dims[axis], ignore = hcg_attr_int(n, "ignore_index");
    double ls = sce ? hcg_attr_float(n, "label_smoothing") : 0;
    int64_t rows = 1;
    for (int i = 0; i < SHAPE(x).rank; i++)
        if (i != axis) rows *= SHAPE(x).dims[i];
    bool probs = NODE(t)->dtype == HCG_F32;
    hcg_attr ax = HCG_ATTR_I("axis", axis);
    hcg_id target, count = hcg_grad_scalar(c, (double)rows), mask = -1;
    if (probs) {
        target = ls > 0 ? hcg_grad_op2(c, HCG_OP_ADD, scale(c, t, 1 - ls), hcg_grad_scalar(c, ls / (double)classes)) : t;
    } else {
        hcg_attr oh[2] = {HCG_ATTR_I("depth", classes), ax};
        target = hcg_grad_op(c, HCG_OP_ONE_HOT, &t, 1, oh, 2);
        if (ls > 0) target = hcg_grad_op2(c, HCG_OP_ADD, scale(c, target, 1 - ls), hcg_grad_scalar(c, ls / (double)classes));
        if (ignore != HCG_NO_IGNORE_INDEX) {
            hcg_tensor *iv = NULL;
            hcg_shape s0;
            memset(&s0, 0, sizeof s0);
            hcg_status st = hcg_tensor_new(NODE(t)->dtype, &s0, &iv);
            if (st) return st;
            if (iv->dtype == HCG_I64) *(int64_t *)iv->data = ignore;
            else *(int32_t *)iv->data = (int32_t)ignore;
            hcg_id ic = hcg_constant(hcg_grad_graph(c), NULL, iv);
            if (ic >= 0) NODE(ic)->shape = s0;
            hcg_attr f32 = HCG_ATTR_S("to", "f32");
            hcg_id keep = hcg_grad_op1(c, HCG_OP_NOT, hcg_grad_op2(c, HCG_OP_EQUAL, t, ic));
            hcg_id rowmask = hcg_grad_op(c, HCG_OP_CAST, &keep, 1, &f32, 1);
            hcg_attr all = HCG_ATTR_I("keepdims", 0);
            count = hcg_grad_op(c, HCG_OP_REDUCE_SUM, &rowmask, 1, &all, 1);
            int64_t a64 = axis;
            hcg_attr ua = HCG_ATTR_IS("axes", &a64, 1);
            mask = hcg_grad_op(c, HCG_OP_UNSQUEEZE, &rowmask, 1, &ua, 1);
        }
    }
    hcg_id s = loss_scale(c, dy, red, count, axis);
    if (wants[0]) {
        hcg_id g;
        if (!sce) {
            g = hcg_grad_op1(c, HCG_OP_NEG, target);
        } else {
            hcg_id p = hcg_grad_op(c, HCG_OP_SOFTMAX, &x, 1, &ax, 1);
            if (probs) { /* p * sum(target) - target: targets need not sum to 1 */
                int64_t a64 = axis;
                hcg_attr ra[2] = {HCG_ATTR_IS("axes", &a64, 1), HCG_ATTR_I("keepdims", 1)};
                hcg_id total = hcg_grad_op(c, HCG_OP_REDUCE_SUM, &target, 1, ra, 2);
                g = hcg_grad_op2(c, HCG_OP_SUB, hcg_grad_op2(c, HCG_OP_MUL, p, total), target);
            } else {
                g = hcg_grad_op2(c, HCG_OP_SUB, p, target);
            }
        }
        if (mask >= 0) g = hcg_grad_op2(c, HCG_OP_MUL, g, mask);
        CHECK(dx[0] = hcg_grad_op2(c, HCG_OP_MUL, g, s));
    }
    if (probs && wants[1]) { /* -(1 - ls) * log_softmax(x) */
        hcg_id lsm = hcg_grad_op(c, HCG_OP_LOG_SOFTMAX, &x, 1, &ax, 1);
        CHECK(dx[1] = hcg_grad_op2(c, HCG_OP_MUL, scale(c, lsm, -(1 - ls)), s));
    }
    return HCG_OK;
}

hcg_status hcg_grad_kl_div(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    const hcg_node *n = NODE(v);
    hcg_id s = n->inputs[0], p = n->inputs[1];
    int axis;
    hcg_norm_axis(hcg_attr_int(n, "axis"), SHAPE(s).rank, &axis);
    double temp = hcg_attr_float(n, "temperature");
    int64_t rows = 1;
    for (int i = 0; i < SHAPE(s).rank; i++)
        if (i != axis) rows *= SHAPE(s).dims[i];
    hcg_attr ax = HCG_ATTR_I("axis", axis);
    hcg_id z = scale(c, s, 1.0 / temp);
    if (wants[0]) { /* T / rows * (softmax(s / T) * sum(p) - p) */
        hcg_id q = hcg_grad_op(c, HCG_OP_SOFTMAX, &z, 1, &ax, 1);
        int64_t a64 = axis;
        hcg_attr ra[2] = {HCG_ATTR_IS("axes", &a64, 1), HCG_ATTR_I("keepdims", 1)};
        hcg_id total = hcg_grad_op(c, HCG_OP_REDUCE_SUM, &p, 1, ra, 2);
        hcg_id g = hcg_grad_op2(c, HCG_OP_SUB, hcg_grad_op2(c, HCG_OP_MUL, q, total), p);
        CHECK(dx[0] = hcg_grad_op2(c, HCG_OP_MUL, g, scale(c, dy, temp / (double)rows)));
    }
    if (wants[1]) { /* T^2 / rows * (log p + 1 - log_softmax(s / T)) */
        hcg_id lsm = hcg_grad_op(c, HCG_OP_LOG_SOFTMAX, &z, 1, &ax, 1);
        hcg_id g = hcg_grad_op2(c, HCG_OP_SUB, hcg_grad_op2(c, HCG_OP_ADD, hcg_grad_op1(c, HCG_OP_LOG, p),
                                                             hcg_grad_scalar(c, 1.0)),
                                lsm);
        CHECK(dx[1] = hcg_grad_op2(c, HCG_OP_MUL, g, scale(c, dy, temp * temp / (double)rows)));
    }
    return HCG_OK;
}

hcg_status hcg_grad_mse_loss(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx)
{
    const hcg_node *n = NODE(v);
    hcg_id a = n->inputs[0], b = n->inputs[1];
    double numel = hcg_rule_numel(NODE(a));
    hcg_reduction red = hcg_loss_reduction(n);
    hcg_id diff = hcg_grad_op2(c, HCG_OP_SUB, a, b);
    hcg_id s = scale(c, dy, red == HCG_REDUCE_MEAN ? 2.0 / numel : 2.0);
    hcg_id g = hcg_grad_op2(c, HCG_OP_MUL, diff, s);
    if (wants[0]) CHECK(dx[0] = g);
    if (wants[1]) CHECK(dx[1] = hcg_grad_op1(c, HCG_OP_NEG, g));
    return HCG_OK;
}
