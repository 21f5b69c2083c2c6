/* bind.c — binding a graph to input shapes. Produces a new graph in which every node has a
 * concrete dtype and shape: symbols take the values the inputs give them, attribute inputs
 * (ONNX style) become attributes, nodes whose inputs are all constants are evaluated once
 * (constant folding: this is what collapses ONNX shape arithmetic), and nodes that no output
 * needs are dropped. Rewrite passes (graph/passes.h) may then fuse patterns into fused ops. */
#include "graph/bind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/op_table.h"
#include "graph/passes.h"

#define DEFAULT_FOLD_GROWTH ((size_t)1 << 20)

/* ---------------------------------------------------------------- symbols */

typedef struct sym_binding {
    int64_t *value; /* per symbol, -1 while unbound */
    int *source;    /* the input that bound it */
} sym_binding;

static hcg_status bind_input_symbols(const hcg_graph *g, const hcg_shape *shapes, sym_binding *sb)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const hcg_node *in = &g->nodes[g->inputs[i]];
        const hcg_shape *s = &shapes[i];
        char want[256], got[256];
        hcg_format_type(g, in->dtype, &in->shape, want, sizeof want);
        hcg_shape_format(s, got, sizeof got);
        if (s->rank != in->shape.rank)
            return hcg_error(HCG_ERR_SHAPE, "input '%s' must be %s, got shape %s (rank %d, not %d)", in->name, want,
                             got, s->rank, in->shape.rank);
        for (int d = 0; d < s->rank; d++) {
            int64_t decl = in->shape.dims[d], v = s->dims[d];
            if (v < 0) return hcg_error(HCG_ERR_SHAPE, "input '%s': dim %d of shape %s is negative", in->name, d, got);
            if (!HCG_DIM_IS_SYM(decl)) {
                if (decl != v)
                    return hcg_error(HCG_ERR_SHAPE, "input '%s' must be %s, got shape %s (dim %d is %lld, not %lld)",
                                     in->name, want, got, d, (long long)v, (long long)decl);
                continue;
            }
            int sym = HCG_DIM_SYM_ID(decl);
            if (sym < 0 || sym >= g->n_syms) return hcg_error(HCG_ERR_INTERNAL, "input '%s': bad symbol", in->name);
            if (sb->value[sym] < 0) {
                sb->value[sym] = v;
                sb->source[sym] = i;
            } else if (sb->value[sym] != v) {
                return hcg_error(HCG_ERR_SHAPE, "input '%s' dim %d is %s = %lld, but input '%s' has %s = %lld",
                                 in->name, d, g->syms[sym], (long long)v, g->nodes[g->inputs[sb->source[sym]]].name,
                                 g->syms[sym], (long long)sb->value[sym]);
            }
        }
    }
    return HCG_OK;
}

static hcg_status resolve_sym(const hcg_graph *g, const hcg_node *n, const sym_binding *sb, int64_t *v)
{
    /* Only values naming one of g's symbols are symbols; lower ones are plain numbers (ONNX
     * writes INT64_MIN as a Slice end). */
    if (!HCG_DIM_IS_SYM(*v) || *v <= HCG_SYM_DIM(g->n_syms)) return HCG_OK;
    int sym = HCG_DIM_SYM_ID(*v);
    if (sym < 0 || sym >= g->n_syms) return hcg_node_error(g, n, HCG_ERR_INTERNAL, "bad symbol");
    if (sb->value[sym] < 0)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "uses the symbol '%s', which no input's shape binds", g->syms[sym]);
    *v = sb->value[sym];
    return HCG_OK;
}

/* Replaces symbols in numeric attributes by their bound values. */
static hcg_status resolve_attr_symbols(const hcg_graph *g, hcg_node *n, const sym_binding *sb)
{
    hcg_status st;
    for (int a = 0; a < HCG_MAX_ATTRS; a++) {
        hcg_attr_value *v = &n->attrs[a];
        if (v->kind == HCG_ATTR_INT) {
            if ((st = resolve_sym(g, n, sb, &v->i))) return st;
        } else if (v->kind == HCG_ATTR_INTS) {
            for (int i = 0; i < v->n; i++)
                if ((st = resolve_sym(g, n, sb, &v->ints[i]))) return st;
        } else if (v->kind == HCG_ATTR_FLOAT && v->f <= (double)HCG_SYM_BASE &&
                   v->f > (double)HCG_SYM_DIM(g->n_syms)) { /* -inf, -1e30 are values, not symbols */
            int64_t iv = (int64_t)v->f;
            if ((st = resolve_sym(g, n, sb, &iv))) return st;
            v->f = (double)iv;
        }
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- attribute inputs */

static bool tensor_value_i64(const hcg_tensor *t, int64_t i, int64_t *out)
{
    switch (t->dtype) {
    case HCG_I64: *out = ((const int64_t *)t->data)[i]; return true;
    case HCG_I32: *out = ((const int32_t *)t->data)[i]; return true;
    case HCG_U8:
    case HCG_BOOL: *out = ((const uint8_t *)t->data)[i]; return true;
    case HCG_I8: *out = ((const int8_t *)t->data)[i]; return true;
    default: return false;
    }
}

static bool tensor_value_f64(const hcg_tensor *t, int64_t i, double *out)
{
    int64_t v;
    if (t->dtype == HCG_F32) {
        *out = ((const float *)t->data)[i];
        return true;
    }
    if (!tensor_value_i64(t, i, &v)) return false;
    *out = (double)v;
    return true;
}

/* Turns constant input `pos` of n into attribute slot `slot`. */
static hcg_status attr_from_input(const hcg_graph *b, hcg_node *n, int slot, int pos)
{
    const hcg_attr_spec *sp = &hcg_op_info_get(n->op)->attrs[slot];
    const hcg_node *in = &b->nodes[n->inputs[pos]];
    const hcg_tensor *t = in->value;
    int64_t numel = 0;
    if (!t)
        return hcg_node_error(b, n, HCG_ERR_SHAPE,
                              "input %d ('%s') gives the attribute '%s' and must be a constant once input shapes are "
                              "bound, but it depends on input data",
                              pos, in->name, sp->name);
    hcg_shape_numel(&t->shape, &numel);
    hcg_attr a = {.name = sp->name, .kind = sp->kind};
    int64_t *ints = NULL;
    double *floats = NULL;
    hcg_status st = HCG_OK;
    if (sp->kind == HCG_ATTR_INTS) {
        if (t->shape.rank > 1) return hcg_node_error(b, n, HCG_ERR_SHAPE, "'%s' (for %s) must be 1-D", in->name, sp->name);
        if (!(ints = malloc(sizeof(int64_t) * (size_t)(numel ? numel : 1)))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < numel; i++) {
            if (!tensor_value_i64(t, i, &ints[i])) {
                free(ints);
                return hcg_node_error(b, n, HCG_ERR_SHAPE, "'%s' (for %s) must hold integers, not %s", in->name,
                                      sp->name, hcg_dtype_name(t->dtype));
            }
        }
        a.ints = ints;
        a.n = (int)numel;
    } else if (sp->kind == HCG_ATTR_INT || sp->kind == HCG_ATTR_FLOAT) {
        if (numel != 1)
            return hcg_node_error(b, n, HCG_ERR_SHAPE, "'%s' (for %s) must hold one value, it has %lld", in->name,
                                  sp->name, (long long)numel);
        bool ok = sp->kind == HCG_ATTR_INT ? tensor_value_i64(t, 0, &a.i) : tensor_value_f64(t, 0, &a.f);
        if (!ok)
            return hcg_node_error(b, n, HCG_ERR_SHAPE, "'%s' (for %s) has an unusable dtype %s", in->name, sp->name,
                                  hcg_dtype_name(t->dtype));
    } else {
        return hcg_node_error(b, n, HCG_ERR_INTERNAL, "attribute '%s' cannot come from an input", sp->name);
    }
    st = hcg_node_set_attr(b, n, &a);
    free(ints);
    free(floats);
    return st;
}

/* ---------------------------------------------------------------- folding */

/* A cast that widens an f16 weight matrix (a param of rank >= 2): stored small on purpose (hcg
 * quantize), it stays a node, which the rewrite passes fold into the product or gather reading it. */
static bool widens_weight(const hcg_graph *b, const hcg_node *n)
{
    if (n->op != HCG_OP_CAST || n->dtype != HCG_F32) return false;
    const hcg_node *in = &b->nodes[n->inputs[0]];
    return in->op == HCG_OP_PARAM && in->dtype == HCG_F16 && in->shape.rank >= 2;
}

static bool should_fold(const hcg_graph *b, const hcg_node *n, const hcg_bind_options *opt)
{
    const hcg_op_info *info = hcg_op_info_get(n->op);
    if (!opt || !opt->eval || (info->flags & (HCG_OPF_SOURCE | HCG_OPF_NO_FOLD)) || widens_weight(b, n)) return false;
    size_t in_bytes = 0;
    if (!(info->flags & HCG_OPF_SHAPE_ONLY)) {
        for (int i = 0; i < n->n_inputs; i++) {
            const hcg_node *in = &b->nodes[n->inputs[i]];
            if (!in->value || (in->op == HCG_OP_PARAM && opt->params_variable)) return false;
            in_bytes += hcg_node_nbytes(in);
        }
    }
    size_t limit = opt->fold_growth_limit ? opt->fold_growth_limit : DEFAULT_FOLD_GROWTH;
    return hcg_node_nbytes(n) <= in_bytes + limit;
}

static hcg_status fold(hcg_graph *b, hcg_node *n, const hcg_bind_options *opt)
{
    hcg_tensor *t = NULL;
    hcg_status st = opt->eval(b, n, &t);
    if (st) return st;
    if (t->dtype != n->dtype || !hcg_shape_equal(&t->shape, &n->shape)) {
        hcg_tensor_free(t);
        return hcg_node_error(b, n, HCG_ERR_INTERNAL, "folding gave a result of another type than inferred");
    }
    n->op = HCG_OP_CONSTANT;
    for (int a = 0; a < HCG_MAX_ATTRS; a++) hcg_attr_value_clear(&n->attrs[a]);
    n->n_inputs = 0;
    n->value = t;
    n->value_owned = true;
    return HCG_OK;
}

/* ---------------------------------------------------------------- dead nodes */

hcg_status hcg_graph_prune(hcg_graph *b) { return hcg_graph_prune_dropping(b, NULL); }

hcg_status hcg_graph_prune_dropping(hcg_graph *b, const bool *drop)
{
    int n = b->n_nodes;
    bool *live = calloc((size_t)n + 1, sizeof *live);
    hcg_id *newid = malloc(sizeof(hcg_id) * ((size_t)n + 1));
    if (!live || !newid) {
        free(live);
        free(newid);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < b->n_outputs; i++) live[b->outputs[i]] = true;
    for (int i = 0; i < b->n_inputs; i++) live[b->inputs[i]] = true;
    for (int id = 0; id < n; id++) { /* updates of state tensors and messages are effects of their own */
        const hcg_op_info *info = hcg_op_info_get(b->nodes[id].op);
        if ((info->inplace_inputs || (info->flags & HCG_OPF_EFFECT)) && !(drop && drop[id])) live[id] = true;
    }
    for (int id = n - 1; id >= 0; id--) {
        if (!live[id]) continue;
        for (int k = 0; k < b->nodes[id].n_inputs; k++) live[b->nodes[id].inputs[k]] = true;
    }
    int k = 0;
    for (int id = 0; id < n; id++) newid[id] = live[id] ? k++ : -1;
    k = 0;
    hcg_strmap_free(&b->names);
    hcg_strmap_init(&b->names);
    for (int id = 0; id < n; id++) {
        hcg_node *nd = &b->nodes[id];
        if (!live[id]) {
            hcg_node_clear(nd);
            continue;
        }
        for (int i = 0; i < nd->n_inputs; i++) nd->inputs[i] = newid[nd->inputs[i]];
        int k_after = 0;
        for (int i = 0; i < nd->n_after; i++) /* control dependencies on removed nodes vanish with them */
            if (newid[nd->after[i]] >= 0) nd->after[k_after++] = newid[nd->after[i]];
        nd->n_after = k_after;
        b->nodes[k] = *nd;
        if (b->origin) b->origin[k] = b->origin[id];
        hcg_strmap_put(&b->names, b->nodes[k].name, k);
        k++;
    }
    b->n_nodes = k;
    for (int i = 0; i < b->n_outputs; i++) b->outputs[i] = newid[b->outputs[i]];
    for (int i = 0; i < b->n_inputs; i++) b->inputs[i] = newid[b->inputs[i]];
    free(live);
    free(newid);
    return HCG_OK;
}

/* ---------------------------------------------------------------- reordering */

hcg_status hcg_graph_toposort(hcg_graph *b)
{
    int n = b->n_nodes;
    hcg_id *order = malloc(sizeof(hcg_id) * ((size_t)n + 1)), *newid = malloc(sizeof(hcg_id) * ((size_t)n + 1));
    hcg_id *stack = malloc(sizeof(hcg_id) * ((size_t)n + 1));
    int *next = calloc((size_t)n + 1, sizeof *next); /* per node on the stack: the next dependency to visit */
    hcg_node *nodes = malloc(sizeof(hcg_node) * ((size_t)b->cap_nodes + 1));
    hcg_id *origin = b->origin ? malloc(sizeof(hcg_id) * ((size_t)b->cap_nodes + 1)) : NULL;
    hcg_status st = HCG_OK;
    if (!order || !newid || !stack || !next || !nodes || (b->origin && !origin)) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) newid[i] = -1; /* -1: not placed; -2: on the stack */
    int placed = 0;
    /* Depth first from each node in its current order: a node is placed once its inputs and
     * control dependencies are, so nodes already in order keep it. */
    for (hcg_id root = 0; root < n; root++) {
        if (newid[root] != -1) continue;
        int top = 0;
        stack[top++] = root;
        newid[root] = -2;
        next[root] = 0;
        while (top > 0) {
            hcg_id id = stack[top - 1];
            const hcg_node *nd = &b->nodes[id];
            int deps = nd->n_inputs + nd->n_after;
            hcg_id dep = -1;
            while (next[id] < deps && dep < 0) {
                int k = next[id]++;
                hcg_id d = k < nd->n_inputs ? nd->inputs[k] : nd->after[k - nd->n_inputs];
                if (newid[d] == -2) {
                    st = hcg_node_error(b, nd, HCG_ERR_INTERNAL, "the rewritten graph has a cycle");
                    goto done;
                }
                if (newid[d] == -1) dep = d;
            }
            if (dep >= 0) {
                newid[dep] = -2;
                next[dep] = 0;
                stack[top++] = dep;
                continue;
            }
            top--;
            newid[id] = placed;
            order[placed++] = id;
        }
    }
    for (int i = 0; i < n; i++) {
        hcg_node *nd = &b->nodes[order[i]];
        for (int k = 0; k < nd->n_inputs; k++) nd->inputs[k] = newid[nd->inputs[k]];
        for (int k = 0; k < nd->n_after; k++) nd->after[k] = newid[nd->after[k]];
        nodes[i] = *nd;
        if (origin) origin[i] = b->origin[order[i]];
    }
    memcpy(b->nodes, nodes, sizeof(hcg_node) * (size_t)n);
    if (origin) memcpy(b->origin, origin, sizeof(hcg_id) * (size_t)n);
    hcg_strmap_free(&b->names);
    hcg_strmap_init(&b->names);
    for (int i = 0; i < n; i++) hcg_strmap_put(&b->names, b->nodes[i].name, i);
    for (int i = 0; i < b->n_outputs; i++) b->outputs[i] = newid[b->outputs[i]];
    for (int i = 0; i < b->n_inputs; i++) b->inputs[i] = newid[b->inputs[i]];
done:
    free(order);
    free(newid);
    free(stack);
    free(next);
    free(nodes);
    free(origin);
    return st;
}

/* ---------------------------------------------------------------- binding */

hcg_status hcg_graph_bind(const hcg_graph *g, const hcg_shape *input_shapes, const hcg_bind_options *opt,
                          hcg_graph **out)
{
    hcg_status st = HCG_OK;
    hcg_graph *b = NULL;
    hcg_id *remap = NULL;
    sym_binding sb = {NULL, NULL};
    *out = NULL;
    if (!g || (g->n_inputs && !input_shapes)) return hcg_error(HCG_ERR_ARG, "bind: no graph or no input shapes");
    sb.value = malloc(sizeof(int64_t) * (size_t)(g->n_syms + 1));
    sb.source = malloc(sizeof(int) * (size_t)(g->n_syms + 1));
    remap = malloc(sizeof(hcg_id) * (size_t)(g->n_nodes + 1));
    b = hcg_graph_new();
    if (!sb.value || !sb.source || !remap || !b) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < g->n_syms; i++) sb.value[i] = -1;
    if ((st = bind_input_symbols(g, input_shapes, &sb))) goto done;

    if (g->path && !(b->path = hcg_strdup(g->path))) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < g->n_syms; i++) hcg_sym(b, g->syms[i]);
    b->auto_names = g->auto_names;
    b->inputs = calloc((size_t)g->n_inputs + 1, sizeof(hcg_id));
    b->n_inputs = b->cap_inputs = g->n_inputs;
    if (!(b->origin = malloc(sizeof(hcg_id) * (size_t)(g->n_nodes + 1))) || !b->inputs) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }

    for (hcg_id id = 0; id < g->n_nodes; id++) {
        const hcg_node *src = &g->nodes[id];
        hcg_id nid = hcg_graph_copy_node(b, src, remap);
        if (nid < 0) {
            st = (hcg_status)-nid;
            goto done;
        }
        b->origin[nid] = id;
        remap[id] = nid;
        hcg_node *n = &b->nodes[nid];
        const hcg_op_info *info = hcg_op_info_get(n->op);
        if ((st = resolve_attr_symbols(b, n, &sb))) goto done;
        if (n->op == HCG_OP_INPUT) {
            int which = -1;
            for (int i = 0; i < g->n_inputs && which < 0; i++)
                if (g->inputs[i] == id) which = i;
            if (which < 0) {
                st = hcg_node_error(g, src, HCG_ERR_INTERNAL, "input node missing from the input list");
                goto done;
            }
            n->shape = input_shapes[which];
            b->inputs[which] = nid;
            continue;
        }
        if (info->flags & HCG_OPF_SOURCE) {
            n->value = src->value; /* borrowed from g */
            n->value_owned = false;
            if (src->value) {
                n->dtype = src->value->dtype;
                n->shape = src->value->shape;
                continue;
            }
            /* a state that starts at zero: its declared shape, with symbols resolved */
            for (int d = 0; d < n->shape.rank; d++)
                if ((st = resolve_sym(b, n, &sb, &n->shape.dims[d]))) goto done;
            continue;
        }
        for (int a = 0; a < HCG_MAX_ATTRS && info->attrs[a].name; a++) {
            int pos = info->attrs[a].from_input - 1;
            if (pos >= 0 && pos < n->n_inputs && (st = attr_from_input(b, n, a, pos))) goto done;
        }
        if ((st = info->infer(b, n))) goto done;
        if (info->max_inputs >= 0 && n->n_inputs > info->max_inputs) n->n_inputs = info->max_inputs;
        if (should_fold(b, n, opt) && (st = fold(b, n, opt))) goto done;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if ((st = hcg_output(b, remap[g->outputs[i]], g->output_names[i]))) goto done;
    /* Passes (and the training transform) that add nodes to the bound graph grow origin with the node
     * array (graph.c), from the array's capacity on. */
    hcg_id *origin = realloc(b->origin, sizeof(hcg_id) * ((size_t)b->cap_nodes + 1));
    if (!origin) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    b->origin = origin;
    if (opt && opt->passes && (st = hcg_run_passes(b, opt->passes, !opt->params_variable, opt->weight_cache))) goto done;
    if ((st = hcg_graph_prune(b))) goto done;
    *out = b;
    b = NULL;
done:
    hcg_graph_free(b);
    free(remap);
    free(sb.value);
    free(sb.source);
    return st;
}

/* ---------------------------------------------------------------- trial shapes */

static const int64_t trial_values[] = {3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41};

hcg_status hcg_graph_input_shapes(const hcg_graph *g, const char *const *sym_names, const int64_t *sym_values,
                                  int n_syms, hcg_shape *shapes)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const hcg_node *in = &g->nodes[g->inputs[i]];
        shapes[i] = in->shape;
        for (int d = 0; d < in->shape.rank; d++) {
            int64_t v = in->shape.dims[d];
            if (!HCG_DIM_IS_SYM(v)) continue;
            int sym = HCG_DIM_SYM_ID(v);
            int64_t val = trial_values[sym % (int)(sizeof trial_values / sizeof trial_values[0])];
            for (int k = 0; k < n_syms; k++)
                if (strcmp(sym_names[k], g->syms[sym]) == 0) val = sym_values[k];
            shapes[i].dims[d] = val;
        }
    }
    return HCG_OK;
}

hcg_status hcg_graph_check(const hcg_graph *g, const hcg_bind_options *opt)
{
    hcg_shape *shapes = calloc((size_t)g->n_inputs + 1, sizeof *shapes);
    hcg_graph *b = NULL;
    if (!shapes) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    hcg_status st = hcg_graph_input_shapes(g, NULL, NULL, 0, shapes);
    if (!st) st = hcg_graph_bind(g, shapes, opt, &b);
    hcg_graph_free(b);
    free(shapes);
    return st;
}
