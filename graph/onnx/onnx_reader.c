/* onnx_reader.c — reading an ONNX model into an hcg graph: decoding the ModelProto (protobuf-c),
 * the default-domain opset, graph inputs (names, dtypes, symbolic dims), initializers (params),
 * putting the nodes in topological order, mapping each node (onnx_ops*.c) and declaring the graph
 * outputs. Also the value table every mapper uses and the error prefix for node messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/onnx/onnx_internal.h"

/* ---------------------------------------------------------------- errors */

hcg_status onnx_node_fail(const onnx_ctx *c, hcg_status code, const char *fmt, ...)
{
    char msg[1024], who[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const Onnx__NodeProto *n = c->node;
    if (!n) return hcg_error(code, "%s: %s", c->label, msg);
    const char *op = n->op_type ? n->op_type : "?";
    if (n->name && *n->name)
        snprintf(who, sizeof who, "node '%s'", n->name);
    else if (n->n_output > 0 && *n->output[0])
        snprintf(who, sizeof who, "node #%d (output '%s')", c->node_pos, n->output[0]);
    else
        snprintf(who, sizeof who, "node #%d", c->node_pos);
    return hcg_error(code, "%s: %s (%s, opset %lld): %s", c->label, who, op, (long long)c->opset, msg);
}

/* ---------------------------------------------------------------- values */

hcg_status onnx_define(onnx_ctx *c, const char *name, hcg_id id, hcg_dtype dt)
{
    if (id < 0) return (hcg_status)-id;
    if (!name || !*name) return HCG_OK; /* an unnamed optional output nobody reads */
    if (hcg_strmap_get(&c->index, name) >= 0)
        return onnx_node_fail(c, HCG_ERR_GRAPH, "the value '%s' is defined twice", name);
    if (c->n_vals == c->cap_vals) {
        int cap = c->cap_vals ? c->cap_vals * 2 : 64;
        onnx_value *p = realloc(c->vals, sizeof *p * (size_t)cap);
        if (!p) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        c->vals = p;
        c->cap_vals = cap;
    }
    c->vals[c->n_vals] = (onnx_value){.name = name, .id = id, .dtype = dt};
    if (!hcg_strmap_put(&c->index, name, c->n_vals)) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    c->n_vals++;
    return HCG_OK;
}

const onnx_value *onnx_lookup(const onnx_ctx *c, const char *name)
{
    int i = name ? hcg_strmap_get(&c->index, name) : -1;
    return i >= 0 ? &c->vals[i] : NULL;
}

/* ---------------------------------------------------------------- graph inputs */

/* A fresh symbol for a dim the model leaves unnamed: "<input>.<dim>", made unique. */
static int64_t fresh_symbol(hcg_graph *g, const char *input, int dim)
{
    char name[300];
    for (int k = 0;; k++) {
        if (k == 0) snprintf(name, sizeof name, "%s.%d", input, dim);
        else snprintf(name, sizeof name, "%s.%d_%d", input, dim, k);
        bool taken = false;
        for (int i = 0; i < g->n_syms && !taken; i++) taken = strcmp(g->syms[i], name) == 0;
        if (!taken) return hcg_sym(g, name);
    }
}

static const hcg_tensor *frozen_value(const onnx_ctx *c, const char *name)
{
    const hcg_onnx_options *o = c->opt;
    for (int i = 0; o && i < o->n_frozen; i++)
        if (o->frozen_names[i] && strcmp(o->frozen_names[i], name) == 0) return o->frozen_values[i];
    return NULL;
}

static hcg_status add_input(onnx_ctx *c, const Onnx__ValueInfoProto *vi)
{
    const char *name = vi->name;
    hcg_status st;
    if (!name || !*name) return hcg_error(HCG_ERR_FORMAT, "%s: a graph input has no name", c->label);
    const hcg_tensor *frozen = frozen_value(c, name);
    if (frozen) {
        hcg_tensor *t;
        if ((st = hcg_tensor_clone(frozen, &t))) return st;
        hcg_id id = hcg_constant(c->g, name, t);
        return onnx_define(c, name, id, frozen->dtype);
    }
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: graph input '%s' is not a tensor (hcg takes tensor inputs only)",
                         c->label, name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    hcg_dtype dt;
    if (!tt->has_elem_type) return hcg_error(HCG_ERR_FORMAT, "%s: graph input '%s' has no elem_type", c->label, name);
    if (!onnx_dtype_to_hcg(tt->elem_type, false, &dt))
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: graph input '%s' has dtype %s, which hcg does not support",
                         c->label, name, onnx_dtype_name(tt->elem_type));
    if (!tt->shape)
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: graph input '%s' has no shape; hcg needs at least its rank",
                         c->label, name);
    if (tt->shape->n_dim > HCG_MAX_RANK)
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: graph input '%s' has rank %zu; hcg supports rank <= %d", c->label,
                         name, tt->shape->n_dim, HCG_MAX_RANK);
    int64_t dims[HCG_MAX_RANK];
    int rank = (int)tt->shape->n_dim;
    for (int d = 0; d < rank; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value >= 0)
            dims[d] = dim->dim_value;
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            return hcg_error(HCG_ERR_FORMAT, "%s: graph input '%s': dim %d is negative (%lld)", c->label, name, d,
                             (long long)dim->dim_value);
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dim->dim_param &&
                 *dim->dim_param)
            dims[d] = hcg_sym(c->g, dim->dim_param);
        else
            dims[d] = fresh_symbol(c->g, name, d);
        if (dims[d] == 0 && !(dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE))
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    hcg_id id = hcg_input(c->g, name, dt, rank, dims);
    if (id < 0) return hcg_error_prefix((hcg_status)-id, "%s: ", c->label);
    return onnx_define(c, name, id, dt);
}

static hcg_status add_initializer(onnx_ctx *c, const Onnx__TensorProto *tp)
{
    if (!tp->name || !*tp->name) return hcg_error(HCG_ERR_FORMAT, "%s: an initializer has no name", c->label);
    hcg_tensor *t;
    hcg_status st = onnx_tensor_to_hcg(tp, c->base_dir, true, tp->name, &t);
    if (st) return hcg_error_prefix(st, "%s: initializer: ", c->label);
    if (hcg_strmap_get(&c->index, tp->name) >= 0) {
        hcg_tensor_free(t);
        return hcg_error(HCG_ERR_GRAPH, "%s: the initializer '%s' is defined twice", c->label, tp->name);
    }
    hcg_dtype dt = t->dtype;
    hcg_id id = hcg_param(c->g, tp->name, t);
    if (id < 0) return hcg_error_prefix((hcg_status)-id, "%s: ", c->label);
    return onnx_define(c, tp->name, id, dt);
}

/* ---------------------------------------------------------------- topological order */

/* Fills order[] with the node indices in an order where every value is defined before use.
 * ONNX requires the file's order to be topological; models that break the rule are sorted
 * (Kahn's algorithm, keeping the file's order among ready nodes), cycles and undefined values
 * are errors. */
static hcg_status topo_order(onnx_ctx *c, const Onnx__GraphProto *gp, int *order)
{
    int n = (int)gp->n_node;
    hcg_status st = HCG_OK;
    hcg_strmap producer;
    hcg_strmap_init(&producer);
    int *indeg = calloc((size_t)n + 1, sizeof *indeg);
    int *first_use = NULL, *next_use = NULL, *use_node = NULL, *ready = NULL;
    size_t n_uses = 0;
    for (int i = 0; i < n; i++) n_uses += gp->node[i]->n_input;
    first_use = malloc(sizeof(int) * ((size_t)n + 1));
    next_use = malloc(sizeof(int) * (n_uses + 1));
    use_node = malloc(sizeof(int) * (n_uses + 1));
    ready = malloc(sizeof(int) * ((size_t)n + 1));
    if (!indeg || !first_use || !next_use || !use_node || !ready) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const Onnx__NodeProto *nd = gp->node[i];
        first_use[i] = -1;
        for (size_t k = 0; k < nd->n_output; k++) {
            const char *o = nd->output[k];
            if (!*o) continue;
            if (onnx_lookup(c, o) || hcg_strmap_get(&producer, o) >= 0) {
                c->node = nd;
                c->node_pos = i;
                st = onnx_node_fail(c, HCG_ERR_GRAPH, "the value '%s' is defined twice", o);
                goto done;
            }
            if (!hcg_strmap_put(&producer, o, i)) {
                st = hcg_error(HCG_ERR_NOMEM, "out of memory");
                goto done;
            }
        }
    }
    /* Edges producer -> consumer, one per use; a node reading a value twice counts it twice. */
    size_t u = 0;
    bool sorted = true;
    for (int i = 0; i < n; i++) {
        const Onnx__NodeProto *nd = gp->node[i];
        for (size_t k = 0; k < nd->n_input; k++) {
            const char *in = nd->input[k];
            if (!*in || onnx_lookup(c, in)) continue;
            int p = hcg_strmap_get(&producer, in);
            if (p < 0) {
                c->node = nd;
                c->node_pos = i;
                st = onnx_node_fail(c, HCG_ERR_GRAPH, "input %zu '%s' is not defined by any node, graph input or initializer",
                                    k, in);
                goto done;
            }
            if (p >= i) sorted = false;
            use_node[u] = i;
            next_use[u] = first_use[p];
            first_use[p] = (int)u;
            u++;
            indeg[i]++;
        }
    }
    if (sorted) {
        for (int i = 0; i < n; i++) order[i] = i;
        goto done;
    }
    /* ready[] is a min-heap of node indices, so ready nodes keep the file's order. */
    int n_ready = 0, n_done = 0;
    for (int i = 0; i < n; i++) {
        if (indeg[i]) continue;
        int j = n_ready++;
        ready[j] = i; /* indices are pushed in increasing order: already a heap */
    }
    while (n_ready > 0) {
        int v = ready[0];
        ready[0] = ready[--n_ready];
        for (int j = 0;;) { /* sift down */
            int l = 2 * j + 1, r = l + 1, m = j;
            if (l < n_ready && ready[l] < ready[m]) m = l;
            if (r < n_ready && ready[r] < ready[m]) m = r;
            if (m == j) break;
            int t = ready[m];
            ready[m] = ready[j];
            ready[j] = t;
            j = m;
        }
        order[n_done++] = v;
        for (int e = first_use[v]; e >= 0; e = next_use[e]) {
            int w = use_node[e];
            if (--indeg[w] > 0) continue;
            int j = n_ready++;
            ready[j] = w;
            while (j > 0 && ready[(j - 1) / 2] > ready[j]) { /* sift up */
                int t = ready[(j - 1) / 2];
                ready[(j - 1) / 2] = ready[j];
                ready[j] = t;
                j = (j - 1) / 2;
            }
        }
    }
    if (n_done < n) {
        for (int i = 0; i < n; i++) {
            if (!indeg[i]) continue;
            c->node = gp->node[i];
            c->node_pos = i;
            st = onnx_node_fail(c, HCG_ERR_GRAPH, "the graph has a cycle through this node");
            break;
        }
    }
done:
    hcg_strmap_free(&producer);
    free(indeg);
    free(first_use);
    free(next_use);
    free(use_node);
    free(ready);
    return st;
}

/* ---------------------------------------------------------------- the model */

static hcg_status find_opset(onnx_ctx *c, const Onnx__ModelProto *m)
{
    c->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (o->domain && *o->domain && strcmp(o->domain, "ai.onnx") != 0) continue;
        c->opset = o->has_version ? o->version : 1;
    }
    if (c->opset < 0) return HCG_OK; /* only other domains: their nodes are unsupported ops */
    if (c->opset < 1 || c->opset > ONNX_MAX_OPSET)
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: opset %lld is not supported (hcg reads opsets 1 to %d)", c->label,
                         (long long)c->opset, ONNX_MAX_OPSET);
    return HCG_OK;
}

static hcg_status reserve_names(onnx_ctx *c, const Onnx__GraphProto *gp)
{
    bool ok = true;
    for (size_t i = 0; i < gp->n_input; i++)
        if (gp->input[i]->name) ok &= hcg_strmap_put(&c->reserved, gp->input[i]->name, 0);
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (gp->initializer[i]->name) ok &= hcg_strmap_put(&c->reserved, gp->initializer[i]->name, 0);
    for (size_t i = 0; i < gp->n_node; i++)
        for (size_t k = 0; k < gp->node[i]->n_output; k++) ok &= hcg_strmap_put(&c->reserved, gp->node[i]->output[k], 0);
    return ok ? HCG_OK : hcg_error(HCG_ERR_NOMEM, "out of memory");
}

static hcg_status build(onnx_ctx *c, const Onnx__ModelProto *m)
{
    hcg_status st;
    const Onnx__GraphProto *gp = m->graph;
    if (!gp) return hcg_error(HCG_ERR_FORMAT, "%s: the model has no graph", c->label);
    if ((st = find_opset(c, m)) || (st = reserve_names(c, gp))) return st;
    if (gp->n_sparse_initializer)
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: sparse initializers are not supported", c->label);
    for (size_t i = 0; i < gp->n_initializer; i++)
        if ((st = add_initializer(c, gp->initializer[i]))) return st;
    /* Graph inputs that are also initializers are parameters (ONNX lets a caller override them,
     * hcg keeps the initializer). */
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *nm = gp->input[i]->name;
        if (nm && onnx_lookup(c, nm)) continue;
        if ((st = add_input(c, gp->input[i]))) return st;
    }
    int *order = malloc(sizeof(int) * (gp->n_node + 1));
    if (!order) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (gp->n_node > (size_t)INT32_MAX / 2) {
        free(order);
        return hcg_error(HCG_ERR_FORMAT, "%s: too many nodes", c->label);
    }
    st = topo_order(c, gp, order);
    for (size_t i = 0; !st && i < gp->n_node; i++) {
        c->node = gp->node[order[i]];
        c->node_pos = order[i];
        st = onnx_map_node(c, c->node);
    }
    free(order);
    c->node = NULL;
    if (st) return st;
    if (gp->n_output == 0) return hcg_error(HCG_ERR_FORMAT, "%s: the graph has no outputs", c->label);
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *nm = gp->output[i]->name;
        const onnx_value *v = onnx_lookup(c, nm);
        if (!nm || !*nm) return hcg_error(HCG_ERR_FORMAT, "%s: a graph output has no name", c->label);
        if (!v) return hcg_error(HCG_ERR_GRAPH, "%s: graph output '%s' is not computed by any node", c->label, nm);
        /* The declared dtype, where there is one, must be what the graph computes. */
        const Onnx__TypeProto *tp = gp->output[i]->type;
        if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type &&
            tp->tensor_type->has_elem_type && tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED) {
            int32_t et = tp->tensor_type->elem_type;
            hcg_dtype dt;
            if (!onnx_dtype_to_hcg(et, false, &dt))
                return hcg_error(HCG_ERR_UNSUPPORTED, "%s: graph output '%s' has dtype %s, which hcg does not support",
                                 c->label, nm, onnx_dtype_name(et));
            if (dt != v->dtype)
                return hcg_error(HCG_ERR_FORMAT, "%s: graph output '%s' is declared %s but the graph computes %s", c->label,
                                 nm, onnx_dtype_name(et), onnx_dtype_name(onnx_dtype_from_hcg(v->dtype)));
        }
        if ((st = hcg_output(c->g, v->id, nm))) return hcg_error_prefix(st, "%s: ", c->label);
    }
    return HCG_OK;
}

static hcg_status load_buffer(const uint8_t *data, size_t len, const char *base_dir, const char *label,
                              const hcg_onnx_options *opt, hcg_graph **out)
{
    *out = NULL;
    if (!data && len) return hcg_error(HCG_ERR_ARG, "onnx: no data");
    hcg_status st = onnx_check_nesting(data, len, &onnx__model_proto__descriptor, label);
    if (st) return st;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
    if (!m) return hcg_error(HCG_ERR_FORMAT, "%s: not a valid ONNX model (protobuf decoding failed: truncated or corrupt)", label);
    onnx_ctx c;
    memset(&c, 0, sizeof c);
    c.label = label;
    c.base_dir = base_dir;
    c.opt = opt;
    c.node_pos = -1;
    hcg_strmap_init(&c.index);
    hcg_strmap_init(&c.reserved);
    if (!(c.g = hcg_graph_new())) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (!st) st = build(&c, m);
    hcg_strmap_free(&c.index);
    hcg_strmap_free(&c.reserved);
    free(c.vals);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    if (st) {
        hcg_graph_free(c.g);
        return st;
    }
    *out = c.g;
    return HCG_OK;
}

hcg_status hcg_onnx_load_buffer(const uint8_t *data, size_t len, const char *base_dir, const char *name,
                                const hcg_onnx_options *opt, hcg_graph **out)
{
    if (!out) return hcg_error(HCG_ERR_ARG, "onnx: no output graph");
    return load_buffer(data, len, base_dir, name ? name : "<memory>", opt, out);
}

hcg_status hcg_onnx_load_ex(const char *path, const hcg_onnx_options *opt, hcg_graph **out)
{
    if (!out || !path) return hcg_error(HCG_ERR_ARG, "onnx: no path or no output graph");
    *out = NULL;
    uint8_t *data;
    size_t len;
    hcg_status st = onnx_read_file(path, &data, &len);
    if (st) return st;
    size_t plen = strlen(path);
    char *dir = malloc(plen + 2);
    if (!dir) {
        free(data);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    memcpy(dir, path, plen + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    st = load_buffer(data, len, dir, path, opt, out);
    free(data);
    free(dir);
    if (!st && !(*out)->path) {
        if (!((*out)->path = malloc(plen + 1))) {
            hcg_graph_free(*out);
            *out = NULL;
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
        memcpy((*out)->path, path, plen + 1);
    }
    return st;
}

hcg_status hcg_onnx_load(const char *path, hcg_graph **out) { return hcg_onnx_load_ex(path, NULL, out); }
