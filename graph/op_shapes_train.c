/* op_shapes_train.c — shape and cost rules of the ops training adds: one_hot and argmax, the
 * gradient ops the autodiff pass emits (unary_grad, softmax_grad, layer_norm_grad, gather_grad,
 * slice_grad, ...), the losses and the optimizer updates. The op table (op_table.c) points here. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/op_rules.h"

#define IN(i) (&g->nodes[n->inputs[(i)]])

static hcg_status set_out(hcg_node *n, hcg_dtype dt, const hcg_shape *s)
{
    n->dtype = dt;
    n->shape = *s;
    return HCG_OK;
}

static void fmt(const hcg_graph *g, const hcg_node *x, char *buf, size_t len)
{
    hcg_format_type(g, x->dtype, &x->shape, buf, len);
}

/* x's shape without dim `axis`. */
static hcg_shape drop_axis(const hcg_shape *x, int axis)
{
    hcg_shape s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < x->rank; i++)
        if (i != axis) s.dims[s.rank++] = x->dims[i];
    return s;
}

/* ---------------------------------------------------------------- one_hot, argmax */

hcg_status hcg_infer_one_hot(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = hcg_rule_want_dtype(g, n, 0, HCG_M_INT);
    if (st) return st;
    const hcg_shape *x = &IN(0)->shape;
    int64_t depth = hcg_attr_int(n, "depth");
    if (depth < 1) return hcg_node_error(g, n, HCG_ERR_SHAPE, "depth must be at least 1, got %lld", (long long)depth);
    if (x->rank + 1 > HCG_MAX_RANK) return hcg_node_error(g, n, HCG_ERR_SHAPE, "result rank exceeds %d", HCG_MAX_RANK);
    int axis;
    if ((st = hcg_rule_axis(g, n, "axis", x->rank + 1, &axis))) return st;
    hcg_shape out;
    memset(&out, 0, sizeof out);
    for (int i = 0, j = 0; i <= x->rank; i++) out.dims[out.rank++] = i == axis ? depth : x->dims[j++];
    return set_out(n, HCG_F32, &out);
}

hcg_status hcg_infer_argmax(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = hcg_rule_want_dtype(g, n, 0, HCG_M_NUM);
    if (st) return st;
    const hcg_shape *x = &IN(0)->shape;
    if (x->rank < 1) return hcg_node_error(g, n, HCG_ERR_SHAPE, "input must have rank >= 1");
    int axis;
    if ((st = hcg_rule_axis(g, n, "axis", x->rank, &axis))) return st;
    if (x->dims[axis] == 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot take an argmax over an empty axis");
    hcg_shape out = *x;
    if (hcg_attr_int(n, "keepdims")) out.dims[axis] = 1;
    else out = drop_axis(x, axis);
    return set_out(n, HCG_I64, &out);
}

/* ---------------------------------------------------------------- gradient ops */

const char *const hcg_unary_grad_functions[] = {"exp",  "log",  "sqrt",      "rsqrt", "tanh", "sigmoid", "relu",
                                                "gelu", "gelu_tanh", "silu", "erf",   "abs",  "reciprocal", NULL};

hcg_status hcg_infer_unary_grad(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    if ((st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32)) || (st = hcg_rule_same_type(g, n, 0, 1))) return st;
    const char *of = hcg_attr_string(n, "of");
    for (int i = 0; hcg_unary_grad_functions[i]; i++)
        if (strcmp(of, hcg_unary_grad_functions[i]) == 0) return set_out(n, HCG_F32, &IN(0)->shape);
    return hcg_node_error(g, n, HCG_ERR_GRAPH, "'of' must name a function unary_grad knows (exp, log, sqrt, rsqrt, "
                                               "tanh, sigmoid, relu, gelu, gelu_tanh, silu, erf, abs, reciprocal), got '%s'",
                          of);
}

hcg_status hcg_infer_softmax_grad(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    int axis;
    if ((st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32)) || (st = hcg_rule_same_type(g, n, 0, 1))) return st;
    if ((st = hcg_rule_axis(g, n, "axis", IN(0)->shape.rank, &axis))) return st;
    return set_out(n, HCG_F32, &IN(0)->shape);
}

hcg_status hcg_infer_norm_grad(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    int axis;
    if ((st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32)) || (st = hcg_rule_same_type(g, n, 0, 1))) return st;
    const hcg_shape *x = &IN(0)->shape;
    if (x->rank < 1) return hcg_node_error(g, n, HCG_ERR_SHAPE, "input must have rank >= 1");
    if ((st = hcg_rule_axis(g, n, "axis", x->rank, &axis))) return st;
    int64_t inner = 1, numel = 0;
    for (int i = axis; i < x->rank; i++) inner *= x->dims[i];
    if (inner == 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot normalise over an empty axis");
    if (n->n_inputs == 3) {
        if ((st = hcg_rule_want_dtype(g, n, 2, HCG_M_F32))) return st;
        hcg_shape_numel(&IN(2)->shape, &numel);
        if (numel != inner) {
            char t[256];
            fmt(g, IN(2), t, sizeof t);
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "scale '%s' is %s but must have %lld elements", IN(2)->name, t,
                                  (long long)inner);
        }
    }
    return set_out(n, HCG_F32, x);
}

hcg_status hcg_infer_gather_grad(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    hcg_shape data;
    int axis;
    if ((st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32)) || (st = hcg_rule_want_dtype(g, n, 1, HCG_M_INT)) ||
        (st = hcg_rule_shape_attr(g, n, &data)))
        return st;
    if (data.rank < 1) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape must have rank >= 1");
    if ((st = hcg_rule_axis(g, n, "axis", data.rank, &axis))) return st;
    const hcg_shape *idx = &IN(1)->shape, *dy = &IN(0)->shape;
    hcg_shape want;
    memset(&want, 0, sizeof want);
    for (int i = 0; i < axis; i++) want.dims[want.rank++] = data.dims[i];
    for (int i = 0; i < idx->rank && want.rank < HCG_MAX_RANK; i++) want.dims[want.rank++] = idx->dims[i];
    for (int i = axis + 1; i < data.rank && want.rank < HCG_MAX_RANK; i++) want.dims[want.rank++] = data.dims[i];
    if (!hcg_shape_equal(&want, dy)) {
        char a[256], b[256];
        fmt(g, IN(0), a, sizeof a);
        hcg_shape_format(&want, b, sizeof b);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "the gradient '%s' is %s but gathering gives %s", IN(0)->name, a, b);
    }
    return set_out(n, HCG_F32, &data);
}

hcg_status hcg_infer_slice_grad(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    hcg_shape x;
    int64_t start[HCG_MAX_RANK], step[HCG_MAX_RANK], count[HCG_MAX_RANK];
    if ((st = hcg_rule_shape_attr(g, n, &x)) || (st = hcg_slice_params(g, n, &x, start, step, count))) return st;
    hcg_shape sliced = hcg_shape_make(x.rank, count);
    if (!hcg_shape_equal(&sliced, &IN(0)->shape)) {
        char a[256], b[256];
        fmt(g, IN(0), a, sizeof a);
        hcg_shape_format(&sliced, b, sizeof b);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "the gradient '%s' is %s but the slice is %s", IN(0)->name, a, b);
    }
    return set_out(n, IN(0)->dtype, &x);
}

/* ---------------------------------------------------------------- losses */

hcg_reduction hcg_loss_reduction(const hcg_node *n)
{
    const char *r = hcg_attr_string(n, "reduction");
    return strcmp(r, "sum") == 0 ? HCG_REDUCE_SUM : strcmp(r, "none") == 0 ? HCG_REDUCE_NONE : HCG_REDUCE_MEAN;
}

static hcg_status check_reduction(const hcg_graph *g, hcg_node *n, bool none_ok)
{
    const char *r = hcg_attr_string(n, "reduction");
    if (strcmp(r, "mean") == 0 || strcmp(r, "sum") == 0 || (none_ok && strcmp(r, "none") == 0)) return HCG_OK;
    return hcg_node_error(g, n, HCG_ERR_GRAPH, "reduction must be mean, sum%s, got '%s'", none_ok ? " or none" : "", r);
}

/* The loss's output: a scalar, or the per-row values for reduction=none. */
static hcg_status loss_out(hcg_node *n, const hcg_shape *rows)
{
    hcg_shape scalar;
    memset(&scalar, 0, sizeof scalar);
    return set_out(n, HCG_F32, hcg_loss_reduction(n) == HCG_REDUCE_NONE ? rows : &scalar);
}

hcg_status hcg_infer_class_loss(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    int axis;
    if ((st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32)) || (st = check_reduction(g, n, true))) return st;
    const hcg_shape *x = &IN(0)->shape;
    char a[256], b[256];
    fmt(g, IN(0), a, sizeof a);
    fmt(g, IN(1), b, sizeof b);
    if (x->rank < 2)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "scores '%s' must be [N, C, ...] (rank >= 2), got %s", IN(0)->name, a);
    if ((st = hcg_rule_axis(g, n, "axis", x->rank, &axis))) return st;
    if (x->dims[axis] == 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "there are no classes: %s", a);
    double ls = n->op == HCG_OP_SOFTMAX_CROSS_ENTROPY ? hcg_attr_float(n, "label_smoothing") : 0;
    if (!(ls >= 0 && ls <= 1))
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "label_smoothing must be in [0, 1], got %g", ls);
    hcg_shape rows = drop_axis(x, axis);
    const hcg_node *t = IN(1);
    bool probs = t->dtype == HCG_F32 && n->op == HCG_OP_SOFTMAX_CROSS_ENTROPY;
    if (probs) {
        if (!hcg_shape_equal(&t->shape, x))
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "probability targets '%s' (%s) must have the shape of the scores %s",
                                  t->name, b, a);
        if (hcg_attr_int(n, "ignore_index") != HCG_NO_IGNORE_INDEX)
            return hcg_node_error(g, n, HCG_ERR_GRAPH, "ignore_index needs class-index targets, not probabilities");
        return loss_out(n, &rows);
    }
    if ((st = hcg_rule_want_dtype(g, n, 1, HCG_M_INT))) return st;
    if (!hcg_shape_equal(&t->shape, &rows)) {
        char r[256];
        hcg_shape_format(&rows, r, sizeof r);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "class-index targets '%s' are %s but must be %s for scores %s", t->name,
                              b, r, a);
    }
    return loss_out(n, &rows);
}

hcg_status hcg_infer_kl_div(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    int axis;
    if ((st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32)) || (st = hcg_rule_want_dtype(g, n, 1, HCG_M_F32)) ||
        (st = hcg_rule_same_type(g, n, 0, 1)))
        return st;
    const hcg_shape *x = &IN(0)->shape;
    if (x->rank < 1) return hcg_node_error(g, n, HCG_ERR_SHAPE, "inputs must have rank >= 1");
    if ((st = hcg_rule_axis(g, n, "axis", x->rank, &axis))) return st;
    double t = hcg_attr_float(n, "temperature");
    if (!(t > 0) || !isfinite(t))
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "temperature must be a positive number, got %g", t);
    if (x->dims[axis] == 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "there are no classes");
    hcg_shape scalar;
    memset(&scalar, 0, sizeof scalar);
    return set_out(n, HCG_F32, &scalar);
}

hcg_status hcg_infer_mse_loss(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    if ((st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32)) || (st = hcg_rule_want_dtype(g, n, 1, HCG_M_F32)) ||
        (st = hcg_rule_same_type(g, n, 0, 1)) || (st = check_reduction(g, n, true)))
        return st;
    return loss_out(n, &IN(0)->shape);
}

void hcg_cost_loss(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    *flops = 8.0 * hcg_rule_numel(&g->nodes[n->inputs[0]]);
    *bytes = hcg_rule_io_bytes(g, n);
}

/* ---------------------------------------------------------------- optimizers */

int hcg_optimizer_state_inputs(const hcg_node *n, int idx[3])
{
    int k = 0;
    idx[k++] = 0;
    for (int i = 4; i < n->n_inputs; i++) idx[k++] = i;
    return k;
}

hcg_status hcg_infer_optimizer(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    for (int i = 0; i < n->n_inputs; i++)
        if ((st = hcg_rule_want_dtype(g, n, i, HCG_M_F32))) return st;
    if ((st = hcg_rule_same_type(g, n, 0, 1))) return st;
    const hcg_shape *h = &IN(2)->shape, *scale = &IN(3)->shape;
    if (h->rank != 1 || h->dims[0] != 4)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "hyper-parameters '%s' must be f32[4] (lr, step size, sqrt of the "
                                                   "second bias correction, step)", IN(2)->name);
    if (scale->rank != 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "gradient scale '%s' must be a scalar", IN(3)->name);
    bool momentum = n->op == HCG_OP_SGD_UPDATE && hcg_attr_float(n, "momentum") != 0;
    int want = n->op == HCG_OP_ADAM_UPDATE ? 6 : momentum ? 5 : 4;
    if (n->n_inputs != want)
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "takes %d inputs (param, grad, hyper, grad_scale%s), got %d", want,
                              n->op == HCG_OP_ADAM_UPDATE ? ", m, v" : momentum ? ", momentum buffer" : "",
                              n->n_inputs);
    int idx[3], k = hcg_optimizer_state_inputs(n, idx);
    for (int i = 0; i < k; i++) {
        if (IN(idx[i])->op != HCG_OP_STATE)
            return hcg_node_error(g, n, HCG_ERR_GRAPH, "input %d ('%s') must be a state tensor: it is updated in place",
                                  idx[i], IN(idx[i])->name);
        if (i > 0 && (st = hcg_rule_same_type(g, n, 0, idx[i]))) return st;
    }
    hcg_shape scalar;
    memset(&scalar, 0, sizeof scalar);
    return set_out(n, HCG_F32, &scalar);
}

void hcg_cost_optimizer(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    const hcg_node *p = &g->nodes[n->inputs[0]];
    int idx[3], k = hcg_optimizer_state_inputs(n, idx);
    *flops = 12.0 * hcg_rule_numel(p);
    /* every state tensor is read and written, the gradient read */
    *bytes = (2.0 * k + 1.0) * (double)hcg_node_nbytes(p);
}

/* ---------------------------------------------------------------- assign */

hcg_status hcg_infer_assign(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = hcg_rule_same_type(g, n, 0, 1);
    if (st) return st;
    if (IN(0)->op != HCG_OP_STATE)
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "input 0 ('%s') must be a state tensor: it is written in place",
                              IN(0)->name);
    hcg_shape scalar;
    memset(&scalar, 0, sizeof scalar);
    return set_out(n, HCG_F32, &scalar);
}

void hcg_cost_assign(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    *flops = 0;
    *bytes = 2.0 * (double)hcg_node_nbytes(&g->nodes[n->inputs[1]]);
}
