/* pass_matmul.c — rewrites around matrix products: a transpose of the last two dims folded into
 * matmul's transpose flags (the product reads the operand with other strides instead of a copy
 * being made), and the epilogue of fused_matmul: a scalar multiply or divide becomes alpha, a bias
 * vector add and a gelu / relu are applied while the result is still in cache. The epilogue passes
 * treat quant_matmul (made earlier by pass_quant.c) as they treat fused_matmul: its int8 weight and
 * scales stay its inputs 1 and 2, the bias comes after them. */
#include <stdio.h>
#include <string.h>

#include "graph/op_table.h"
#include "graph/passes.h"

#define NODE(id) hcg_pnode(c, (id))
#define IN(id, k) (NODE(id)->inputs[(k)])

static bool is_product(const hcg_pass_ctx *c, hcg_id id)
{
    return hcg_pass_is(c, id, HCG_OP_MATMUL) || hcg_pass_is(c, id, HCG_OP_FUSED_MATMUL) ||
           hcg_pass_is(c, id, HCG_OP_QUANT_MATMUL);
}

/* The operands of a product: a and b, and quant_matmul's scales. */
static int operands(const hcg_pass_ctx *c, hcg_id id)
{
    return NODE(id)->op == HCG_OP_QUANT_MATMUL ? 3 : 2;
}

/* What a product becomes with an epilogue. */
static hcg_op fused_op(const hcg_pass_ctx *c, hcg_id id)
{
    return NODE(id)->op == HCG_OP_QUANT_MATMUL ? HCG_OP_QUANT_MATMUL : HCG_OP_FUSED_MATMUL;
}

/* A product that has no epilogue beyond alpha yet (or a plain matmul). */
static bool bare_product(const hcg_pass_ctx *c, hcg_id id)
{
    if (hcg_pass_is(c, id, HCG_OP_MATMUL)) return true;
    return is_product(c, id) && NODE(id)->n_inputs == operands(c, id) &&
           hcg_activation_parse(hcg_attr_string(NODE(id), "activation")) == HCG_ACT_NONE;
}

int hcg_pass_product_attrs(const hcg_pass_ctx *c, hcg_id id, hcg_attr at[6])
{
    const hcg_node *m = NODE(id);
    bool fused = m->op != HCG_OP_MATMUL;
    at[0] = HCG_ATTR_I("transpose_a", hcg_attr_int(m, "transpose_a"));
    at[1] = HCG_ATTR_I("transpose_b", hcg_attr_int(m, "transpose_b"));
    at[2] = HCG_ATTR_F("alpha", fused ? hcg_attr_float(m, "alpha") : 1.0);
    at[3] = HCG_ATTR_S("activation", fused ? hcg_attr_string(m, "activation") : "none");
    if (m->op != HCG_OP_QUANT_MATMUL) return 4;
    at[4] = HCG_ATTR_I("block_size", hcg_attr_int(m, "block_size"));
    at[5] = HCG_ATTR_S("activations", hcg_attr_string(m, "activations"));
    return 6;
}

/* ---------------------------------------------------------------- transposes into flags */

/* Whether id is a transpose that swaps only the last two dims of an operand of rank >= 2. */
static bool swaps_last_two(const hcg_pass_ctx *c, hcg_id id)
{
    if (!hcg_pass_is(c, id, HCG_OP_TRANSPOSE)) return false;
    int cnt, rank = NODE(id)->shape.rank;
    const int64_t *perm = hcg_attr_ints(NODE(id), "perm", &cnt);
    if (rank < 2) return false;
    if (cnt == 0) return rank == 2;
    for (int i = 0; i < rank; i++) {
        int64_t want = i == rank - 2 ? rank - 1 : i == rank - 1 ? rank - 2 : i;
        if (perm[i] != want) return false;
    }
    return true;
}

hcg_status hcg_pass_transpose_matmul(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        if (!hcg_pass_is(c, id, HCG_OP_MATMUL) && !hcg_pass_is(c, id, HCG_OP_FUSED_MATMUL)) continue;
        hcg_node *m = NODE(id);
        hcg_id in[3];
        for (int i = 0; i < m->n_inputs; i++) in[i] = m->inputs[i];
        hcg_attr at[6];
        hcg_pass_product_attrs(c, id, at);
        bool changed = false;
        for (int side = 0; side < 2; side++) {
            hcg_id t = in[side];
            if (!swaps_last_two(c, t) || !hcg_pass_single_use(c, t)) continue;
            in[side] = IN(t, 0);
            at[side].i = !at[side].i;
            changed = true;
        }
        if (!changed) continue;
        char what[128];
        snprintf(what, sizeof what, "transposes folded: transpose_a=%d, transpose_b=%d", (int)at[0].i, (int)at[1].i);
        hcg_status st = m->op == HCG_OP_MATMUL ? hcg_pass_rewrite(c, id, HCG_OP_MATMUL, in, 2, at, 2, what)
                                               : hcg_pass_rewrite(c, id, HCG_OP_FUSED_MATMUL, in, m->n_inputs, at, 4, what);
        if (st) return st;
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- epilogues */

hcg_status hcg_pass_matmul_scale(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        bool mul = hcg_pass_is(c, id, HCG_OP_MUL), div = hcg_pass_is(c, id, HCG_OP_DIV);
        if (!mul && !div) continue;
        for (int side = 0; side < (mul ? 2 : 1); side++) {
            hcg_id p = IN(id, side), k = IN(id, 1 - side);
            double v;
            if (!bare_product(c, p) || !hcg_pass_single_use(c, p) || !hcg_pass_scalar(c, k, &v) ||
                NODE(k)->dtype != HCG_F32 || !hcg_shape_equal(&NODE(p)->shape, &NODE(id)->shape))
                continue;
            if (div && v == 0) break;
            hcg_attr at[6];
            int n_at = hcg_pass_product_attrs(c, p, at);
            at[2].f = div ? at[2].f / v : at[2].f * v;
            char what[96];
            snprintf(what, sizeof what, "%s by %g folded into alpha = %g", div ? "divide" : "multiply", v, at[2].f);
            hcg_id in[3] = {IN(p, 0), IN(p, 1), operands(c, p) > 2 ? IN(p, 2) : -1};
            hcg_status st = hcg_pass_rewrite(c, id, fused_op(c, p), in, operands(c, p), at, n_at, what);
            if (st) return st;
            break;
        }
    }
    return HCG_OK;
}

hcg_status hcg_pass_matmul_bias(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        if (!hcg_pass_is(c, id, HCG_OP_ADD)) continue;
        for (int side = 0; side < 2; side++) {
            hcg_id p = IN(id, side), b = IN(id, 1 - side);
            const hcg_shape *ps = &NODE(p)->shape;
            if (!bare_product(c, p) || !hcg_pass_single_use(c, p) || ps->rank < 1 ||
                !hcg_pass_const_vector(c, b, ps->dims[ps->rank - 1]) || NODE(b)->shape.rank != 1 ||
                !hcg_shape_equal(ps, &NODE(id)->shape))
                continue;
            hcg_attr at[6];
            int n_at = hcg_pass_product_attrs(c, p, at), k = operands(c, p);
            hcg_id in[4] = {IN(p, 0), IN(p, 1), k > 2 ? IN(p, 2) : b, b};
            hcg_status st = hcg_pass_rewrite(c, id, fused_op(c, p), in, k + 1, at, n_at, "bias add in the epilogue");
            if (st) return st;
            break;
        }
    }
    return HCG_OK;
}

hcg_status hcg_pass_matmul_activation(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        bool gelu = hcg_pass_is(c, id, HCG_OP_GELU), relu = hcg_pass_is(c, id, HCG_OP_RELU);
        if (!gelu && !relu) continue;
        hcg_id p = IN(id, 0);
        if (!is_product(c, p) || !hcg_pass_single_use(c, p) || NODE(p)->dtype != HCG_F32) continue;
        if (NODE(p)->op != HCG_OP_MATMUL &&
            hcg_activation_parse(hcg_attr_string(NODE(p), "activation")) != HCG_ACT_NONE)
            continue;
        hcg_attr at[6];
        int n_at = hcg_pass_product_attrs(c, p, at);
        const char *act = relu ? "relu" : strcmp(hcg_attr_string(NODE(id), "approximate"), "tanh") == 0 ? "gelu_tanh" : "gelu";
        at[3] = HCG_ATTR_S("activation", act);
        char what[64];
        snprintf(what, sizeof what, "%s in the epilogue", act);
        hcg_status st = hcg_pass_rewrite(c, id, fused_op(c, p), NODE(p)->inputs, NODE(p)->n_inputs, at, n_at, what);
        if (st) return st;
    }
    return HCG_OK;
}
