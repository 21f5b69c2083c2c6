/* autodiff.c — reverse-mode automatic differentiation on a bound graph. The pass walks the nodes
 * that lie between the chosen nodes (trainable parameters) and the loss in reverse topological
 * order, calls each op's gradient rule from the op table (graph/op_grad.c), and sums the
 * contributions of a node's several readers. The gradient nodes are ordinary nodes of the graph,
 * so the scheduler places them and the arena planner keeps the activations they read alive. */
#include "graph/autodiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hcg_graph *hcg_grad_graph(hcg_grad_ctx *c) { return c->g; }

hcg_id hcg_grad_op(hcg_grad_ctx *c, hcg_op op, const hcg_id *in, int n_in, const hcg_attr *attrs, int n_attrs)
{
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0) return in[i];
    hcg_graph *g = c->g;
    char name[320];
    /* "<forward node>/d<k>": unique, and --explain shows what each gradient node belongs to */
    do snprintf(name, sizeof name, "%s/d%d", g->nodes[c->fwd].name, c->counter++);
    while (hcg_graph_find(g, name) >= 0);
    hcg_id id = hcg_graph_add_node(g, op, name, in, n_in, attrs, n_attrs);
    if (id < 0) return id;
    hcg_node *n = &g->nodes[id];
    n->line = g->nodes[c->fwd].line;
    n->col = g->nodes[c->fwd].col;
    /* a pinned node's gradient runs where the node is pinned */
    if (g->nodes[c->fwd].pin && !(n->pin = hcg_strdup(g->nodes[c->fwd].pin))) return -(hcg_id)hcg_error(HCG_ERR_NOMEM, "out of memory");
    hcg_status st = hcg_op_info_get(op)->infer(g, n);
    return st ? -(hcg_id)st : id;
}

hcg_id hcg_grad_op1(hcg_grad_ctx *c, hcg_op op, hcg_id a) { return hcg_grad_op(c, op, &a, 1, NULL, 0); }

hcg_id hcg_grad_op2(hcg_grad_ctx *c, hcg_op op, hcg_id a, hcg_id b)
{
    hcg_id in[2] = {a, b};
    return hcg_grad_op(c, op, in, 2, NULL, 0);
}

hcg_id hcg_grad_scalar(hcg_grad_ctx *c, double v)
{
    hcg_tensor *t = NULL;
    hcg_shape s;
    memset(&s, 0, sizeof s);
    hcg_status st = hcg_tensor_new(HCG_F32, &s, &t);
    if (st) return -(hcg_id)st;
    *(float *)t->data = (float)v;
    char name[320];
    do snprintf(name, sizeof name, "%s/c%d", c->g->nodes[c->fwd].name, c->counter++);
    while (hcg_graph_find(c->g, name) >= 0);
    hcg_id id = hcg_constant(c->g, name, t); /* takes t, even on failure */
    if (id < 0) return id;
    c->g->nodes[id].dtype = HCG_F32;
    c->g->nodes[id].shape = s;
    return id;
}

hcg_id hcg_grad_reshape(hcg_grad_ctx *c, hcg_id x, const hcg_shape *shape)
{
    if (x < 0) return x;
    if (hcg_shape_equal(&c->g->nodes[x].shape, shape)) return x;
    hcg_attr a = HCG_ATTR_IS("shape", shape->dims, shape->rank);
    /* allowzero: a 0 in the target is a size, not "copy the input's dim" */
    hcg_attr az = HCG_ATTR_I("allowzero", 1);
    hcg_attr attrs[2] = {a, az};
    return hcg_grad_op(c, HCG_OP_RESHAPE, &x, 1, attrs, 2);
}

hcg_id hcg_grad_sum_to(hcg_grad_ctx *c, hcg_id x, const hcg_shape *shape)
{
    if (x < 0) return x;
    hcg_shape xs = c->g->nodes[x].shape;
    if (hcg_shape_equal(&xs, shape)) return x;
    int lead = xs.rank - shape->rank, n = 0;
    int64_t axes[HCG_MAX_RANK];
    for (int i = 0; i < xs.rank; i++)
        if (i < lead || (shape->dims[i - lead] == 1 && xs.dims[i] != 1)) axes[n++] = i;
    hcg_id r = x;
    if (n > 0) {
        hcg_attr attrs[2] = {HCG_ATTR_IS("axes", axes, n), HCG_ATTR_I("keepdims", 1)};
        r = hcg_grad_op(c, HCG_OP_REDUCE_SUM, &x, 1, attrs, 2);
    }
    return hcg_grad_reshape(c, r, shape);
}

hcg_id hcg_grad_sum_leading(hcg_grad_ctx *c, hcg_id x, int axis, const hcg_shape *shape)
{
    if (x < 0) return x;
    hcg_id r = x;
    if (axis > 0) {
        int64_t axes[HCG_MAX_RANK];
        for (int i = 0; i < axis; i++) axes[i] = i;
        hcg_attr attrs[2] = {HCG_ATTR_IS("axes", axes, axis), HCG_ATTR_I("keepdims", 0)};
        r = hcg_grad_op(c, HCG_OP_REDUCE_SUM, &x, 1, attrs, 2);
    }
    return hcg_grad_reshape(c, r, shape);
}

hcg_id hcg_grad_mask(hcg_grad_ctx *c, hcg_id cond, hcg_id a, bool keep_where_true)
{
    hcg_id zero = hcg_grad_scalar(c, 0.0);
    hcg_id in[3] = {cond, keep_where_true ? a : zero, keep_where_true ? zero : a};
    return hcg_grad_op(c, HCG_OP_WHERE, in, 3, NULL, 0);
}

/* ---------------------------------------------------------------- the pass */

static bool is_float(hcg_dtype t) { return t == HCG_F32 || t == HCG_F16; }

static hcg_status accumulate(hcg_grad_ctx *c, hcg_id *grad, hcg_id target, hcg_id contribution)
{
    const hcg_node *t = &c->g->nodes[target], *d = &c->g->nodes[contribution];
    if (d->dtype != t->dtype || !hcg_shape_equal(&d->shape, &t->shape)) {
        char a[256], b[256];
        hcg_format_type(c->g, d->dtype, &d->shape, a, sizeof a);
        hcg_format_type(c->g, t->dtype, &t->shape, b, sizeof b);
        return hcg_node_error(c->g, &c->g->nodes[c->fwd], HCG_ERR_INTERNAL,
                              "the gradient rule gave %s for input '%s', which is %s", a, t->name, b);
    }
    if (grad[target] < 0) {
        grad[target] = contribution;
        return HCG_OK;
    }
    hcg_id sum = hcg_grad_op2(c, HCG_OP_ADD, grad[target], contribution);
    if (sum < 0) return (hcg_status)-sum;
    grad[target] = sum;
    return HCG_OK;
}

hcg_status hcg_autodiff(hcg_graph *g, hcg_id loss, const hcg_id *wrt, int n_wrt, hcg_id *grads)
{
    int n0 = g->n_nodes;
    hcg_status st = HCG_OK;
    if (loss < 0 || loss >= n0) return hcg_error(HCG_ERR_ARG, "autodiff: no loss node");
    const hcg_node *ln = &g->nodes[loss];
    if (ln->dtype != HCG_F32 || ln->shape.rank != 0) {
        char t[256];
        hcg_format_type(g, ln->dtype, &ln->shape, t, sizeof t);
        return hcg_node_error(g, ln, HCG_ERR_SHAPE, "the loss must be an f32 scalar, but it is %s", t);
    }
    bool *depends = calloc((size_t)n0 + 1, sizeof(bool)); /* depends on a wrt node through floats */
    bool *useful = calloc((size_t)n0 + 1, sizeof(bool));  /* ... and the loss depends on it */
    hcg_id *grad = malloc(sizeof(hcg_id) * ((size_t)n0 + 1));
    if (!depends || !useful || !grad) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n0; i++) grad[i] = -1;
    for (int k = 0; k < n_wrt; k++) depends[wrt[k]] = is_float(g->nodes[wrt[k]].dtype);
    for (hcg_id id = 0; id < n0; id++) {
        const hcg_node *n = &g->nodes[id];
        if (!is_float(n->dtype)) continue;
        for (int i = 0; i < n->n_inputs && !depends[id]; i++) depends[id] = depends[n->inputs[i]];
    }
    useful[loss] = depends[loss];
    for (hcg_id id = loss; id >= 0; id--) {
        if (!useful[id]) continue;
        const hcg_node *n = &g->nodes[id];
        for (int i = 0; i < n->n_inputs; i++)
            if (depends[n->inputs[i]]) useful[n->inputs[i]] = true;
    }

    hcg_grad_ctx c = {.g = g, .fwd = loss, .counter = 0};
    if (useful[loss]) {
        hcg_id one = hcg_grad_scalar(&c, 1.0);
        if (one < 0) {
            st = (hcg_status)-one;
            goto done;
        }
        grad[loss] = one;
    }
    for (hcg_id id = loss; id >= 0; id--) {
        if (!useful[id] || grad[id] < 0) continue;
        const hcg_node *n = &g->nodes[id];
        const hcg_op_info *info = hcg_op_info_get(n->op);
        if (info->flags & HCG_OPF_SOURCE) continue;
        if (!info->grad) {
            st = hcg_node_error(g, n, HCG_ERR_UNSUPPORTED,
                                "%s has no gradient rule, but the loss '%s' depends on a trainable parameter through it",
                                hcg_op_name(n->op), g->nodes[loss].name);
            goto done;
        }
        int n_in = n->n_inputs;
        bool wants[HCG_MAX_RANK * 4];
        hcg_id dx[HCG_MAX_RANK * 4];
        bool *w = n_in <= (int)(sizeof wants / sizeof wants[0]) ? wants : calloc((size_t)n_in, sizeof(bool));
        hcg_id *d = n_in <= (int)(sizeof dx / sizeof dx[0]) ? dx : malloc(sizeof(hcg_id) * (size_t)n_in);
        hcg_id *ins = malloc(sizeof(hcg_id) * ((size_t)n_in + 1));
        if (!w || !d || !ins) {
            if (w != wants) free(w);
            if (d != dx) free(d);
            free(ins);
            st = hcg_error(HCG_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < n_in; i++) {
            ins[i] = n->inputs[i];
            w[i] = useful[ins[i]];
            d[i] = -1;
        }
        c.fwd = id;
        c.counter = 0;
        st = info->grad(&c, id, grad[id], w, d);
        for (int i = 0; i < n_in && !st; i++) {
            if (d[i] < 0 || !w[i]) continue;
            st = accumulate(&c, grad, ins[i], d[i]);
        }
        if (w != wants) free(w);
        if (d != dx) free(d);
        free(ins);
        if (st) goto done;
    }
    for (int k = 0; k < n_wrt; k++) grads[k] = grad[wrt[k]];
done:
    free(depends);
    free(useful);
    free(grad);
    return st;
}
