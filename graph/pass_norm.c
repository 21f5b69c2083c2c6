/* pass_norm.c — rewrites of decomposed elementwise forms into the ops they spell out:
 * layer_norm from reduce_mean / sub / pow / reduce_mean / add / sqrt / div (then mul by a scale
 * vector and add a bias vector), as PyTorch exports LayerNorm below opset 17, and gelu from
 * x * 0.5 * (1 + erf(x / sqrt(2))), as PyTorch exports the exact GELU below opset 20. */
#include <math.h>
#include <stdio.h>

#include "graph/op_table.h"
#include "graph/passes.h"

#define NODE(id) hcg_pnode(c, (id))
#define IN(id, k) (NODE(id)->inputs[(k)])

/* Whether id is a reduce_mean over the last axis of its input, keeping it. */
static bool mean_last_axis(const hcg_pass_ctx *c, hcg_id id)
{
    if (!hcg_pass_is(c, id, HCG_OP_REDUCE_MEAN) || !hcg_attr_int(NODE(id), "keepdims")) return false;
    int rank = NODE(IN(id, 0))->shape.rank, cnt;
    const int64_t *axes = hcg_attr_ints(NODE(id), "axes", &cnt);
    return rank >= 1 && cnt == 1 && (axes[0] == -1 || axes[0] == rank - 1);
}

/* a op b or b op a with one side `want`: sets *other to the other side. */
static bool commuted(const hcg_pass_ctx *c, hcg_id id, hcg_op op, hcg_id want, hcg_id *other)
{
    if (!hcg_pass_is(c, id, op)) return false;
    if (IN(id, 0) == want) *other = IN(id, 1);
    else if (IN(id, 1) == want) *other = IN(id, 0);
    else return false;
    return true;
}

/* The core: div(d, sqrt(add(reduce_mean(pow(d, 2)), eps))) with d = sub(x, reduce_mean(x)). */
static bool match_norm_core(const hcg_pass_ctx *c, hcg_id div, hcg_id *x, double *eps)
{
    if (!hcg_pass_is(c, div, HCG_OP_DIV)) return false;
    hcg_id d = IN(div, 0), sd = IN(div, 1);
    if (!hcg_pass_is(c, d, HCG_OP_SUB) || !hcg_pass_is(c, sd, HCG_OP_SQRT) || !hcg_pass_single_use(c, sd)) return false;
    hcg_id mean = IN(d, 1);
    *x = IN(d, 0);
    if (!mean_last_axis(c, mean) || IN(mean, 0) != *x || !hcg_pass_single_use(c, mean)) return false;
    hcg_id ve = IN(sd, 0), var = -1, eps_id = -1;
    if (!hcg_pass_is(c, ve, HCG_OP_ADD) || !hcg_pass_single_use(c, ve)) return false;
    if (mean_last_axis(c, IN(ve, 0))) var = IN(ve, 0), eps_id = IN(ve, 1);
    else if (mean_last_axis(c, IN(ve, 1))) var = IN(ve, 1), eps_id = IN(ve, 0);
    if (var < 0 || !hcg_pass_single_use(c, var) || !hcg_pass_scalar(c, eps_id, eps) || !(*eps >= 0)) return false;
    hcg_id sq = IN(var, 0);
    if (!hcg_pass_single_use(c, sq)) return false;
    bool square = (hcg_pass_is(c, sq, HCG_OP_POW) && IN(sq, 0) == d && hcg_pass_scalar_is(c, IN(sq, 1), 2.0)) ||
                  (hcg_pass_is(c, sq, HCG_OP_MUL) && IN(sq, 0) == d && IN(sq, 1) == d);
    /* d feeds the square (once or twice) and the div, nothing else. */
    int d_uses = hcg_pnode(c, sq)->op == HCG_OP_MUL ? 3 : 2;
    return square && c->uses[d] == d_uses && NODE(d)->dtype == HCG_F32;
}

hcg_status hcg_pass_layer_norm(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        hcg_id x;
        double eps;
        if (!match_norm_core(c, id, &x, &eps)) continue;
        const hcg_shape *xs = &NODE(x)->shape;
        int64_t cols = xs->dims[xs->rank - 1];
        hcg_id root = id, in[3] = {x, -1, -1}, other;
        int n_in = 1;
        /* then * scale, then + bias (vectors of the normalised dim) */
        hcg_id next = c->single[root];
        if (next >= 0 && commuted(c, next, HCG_OP_MUL, root, &other) && hcg_pass_const_vector(c, other, cols) &&
            hcg_shape_equal(&NODE(next)->shape, xs)) {
            in[n_in++] = other;
            root = next;
            next = c->single[root];
            if (next >= 0 && commuted(c, next, HCG_OP_ADD, root, &other) && hcg_pass_const_vector(c, other, cols) &&
                hcg_shape_equal(&NODE(next)->shape, xs)) {
                in[n_in++] = other;
                root = next;
            }
        }
        char what[160];
        snprintf(what, sizeof what, "from reduce_mean, sub, pow, reduce_mean, add, sqrt, div%s%s; epsilon %g",
                 n_in > 1 ? ", mul" : "", n_in > 2 ? ", add" : "", eps);
        hcg_attr at[2] = {HCG_ATTR_I("axis", -1), HCG_ATTR_F("epsilon", eps)};
        hcg_status st = hcg_pass_rewrite(c, root, HCG_OP_LAYER_NORM, in, n_in, at, 2, what);
        if (st) return st;
    }
    return HCG_OK;
}

/* 1 + erf(x / sqrt 2) (or erf(x * (1 / sqrt 2))): sets *x. */
static bool match_one_plus_erf(const hcg_pass_ctx *c, hcg_id a, hcg_id *x)
{
    hcg_id e = -1;
    if (!hcg_pass_is(c, a, HCG_OP_ADD) || !hcg_pass_single_use(c, a)) return false;
    if (hcg_pass_is(c, IN(a, 0), HCG_OP_ERF) && hcg_pass_scalar_is(c, IN(a, 1), 1.0)) e = IN(a, 0);
    else if (hcg_pass_is(c, IN(a, 1), HCG_OP_ERF) && hcg_pass_scalar_is(c, IN(a, 0), 1.0)) e = IN(a, 1);
    if (e < 0 || !hcg_pass_single_use(c, e)) return false;
    hcg_id d = IN(e, 0), k;
    if (!hcg_pass_single_use(c, d)) return false;
    if (hcg_pass_is(c, d, HCG_OP_DIV) && hcg_pass_scalar_is(c, IN(d, 1), sqrt(2.0))) {
        *x = IN(d, 0);
        return true;
    }
    if (commuted(c, d, HCG_OP_MUL, IN(d, 0), &k) && hcg_pass_scalar_is(c, k, sqrt(0.5))) {
        *x = IN(d, 0);
        return true;
    }
    if (commuted(c, d, HCG_OP_MUL, IN(d, 1), &k) && hcg_pass_scalar_is(c, k, sqrt(0.5))) {
        *x = IN(d, 1);
        return true;
    }
    return false;
}

/* root = (x * A) * 0.5 or (x * 0.5) * A, either operand order, A = 1 + erf(x / sqrt 2). */
static bool match_gelu(const hcg_pass_ctx *c, hcg_id root, hcg_id *x)
{
    if (!hcg_pass_is(c, root, HCG_OP_MUL)) return false;
    for (int side = 0; side < 2; side++) {
        hcg_id inner = IN(root, side), other = IN(root, 1 - side), k;
        if (!hcg_pass_is(c, inner, HCG_OP_MUL) || !hcg_pass_single_use(c, inner)) continue;
        if (hcg_pass_scalar_is(c, other, 0.5)) { /* (x * A) * 0.5 */
            for (int s2 = 0; s2 < 2; s2++)
                if (match_one_plus_erf(c, IN(inner, s2), x) && IN(inner, 1 - s2) == *x) return true;
        } else if (match_one_plus_erf(c, other, x)) { /* (x * 0.5) * A */
            if (commuted(c, inner, HCG_OP_MUL, *x, &k) && hcg_pass_scalar_is(c, k, 0.5)) return true;
        }
    }
    return false;
}

hcg_status hcg_pass_gelu(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        hcg_id x;
        if (!match_gelu(c, id, &x) || NODE(x)->dtype != HCG_F32 || !hcg_shape_equal(&NODE(x)->shape, &NODE(id)->shape))
            continue;
        hcg_attr at = HCG_ATTR_S("approximate", "none");
        hcg_status st = hcg_pass_rewrite(c, id, HCG_OP_GELU, &x, 1, &at, 1, "from div, erf, add, mul, mul");
        if (st) return st;
    }
    return HCG_OK;
}
