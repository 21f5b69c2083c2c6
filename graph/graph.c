/* graph.c — the graph builder: nodes, names, symbols, attributes checked against the op schema,
 * outputs and pins, and the resources a graph keeps alive. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/op_table.h"

char *hcg_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Grows *arr (of element size elem) so that it holds at least need elements. */
static bool grow_array(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return true;
    int cap2 = *cap ? *cap : 16;
    while (cap2 < need) cap2 *= 2;
    void *p = realloc(*arr, (size_t)cap2 * elem);
    if (!p) return false;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(cap2 - *cap) * elem);
    *arr = p;
    *cap = cap2;
    return true;
}

hcg_graph *hcg_graph_new(void)
{
    hcg_graph *g = calloc(1, sizeof *g);
    if (g) hcg_strmap_init(&g->names);
    return g;
}

void hcg_attr_value_clear(hcg_attr_value *v)
{
    free(v->ints);
    free(v->floats);
    free(v->s);
    memset(v, 0, sizeof *v);
}

hcg_status hcg_attr_value_copy(hcg_attr_value *dst, const hcg_attr_value *src)
{
    *dst = *src;
    dst->ints = NULL;
    dst->floats = NULL;
    dst->s = NULL;
    if (src->ints) {
        dst->ints = malloc(sizeof(int64_t) * (size_t)(src->n ? src->n : 1));
        if (!dst->ints) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        memcpy(dst->ints, src->ints, sizeof(int64_t) * (size_t)src->n);
    }
    if (src->floats) {
        dst->floats = malloc(sizeof(double) * (size_t)(src->n ? src->n : 1));
        if (!dst->floats) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        memcpy(dst->floats, src->floats, sizeof(double) * (size_t)src->n);
    }
    if (src->s && !(dst->s = hcg_strdup(src->s))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    return HCG_OK;
}

void hcg_node_clear(hcg_node *n)
{
    free(n->name);
    free(n->inputs);
    for (int a = 0; a < HCG_MAX_ATTRS; a++) hcg_attr_value_clear(&n->attrs[a]);
    if (n->value_owned) hcg_tensor_free(n->value);
    free(n->pin);
    free(n->weight_key);
    free(n->weight_file);
    free(n->after);
    memset(n, 0, sizeof *n);
}

void hcg_graph_free(hcg_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) hcg_node_clear(&g->nodes[i]);
    free(g->nodes);
    free(g->inputs);
    for (int i = 0; i < g->n_outputs; i++) free(g->output_names[i]);
    free(g->outputs);
    free(g->output_names);
    for (int i = 0; i < g->n_syms; i++) free(g->syms[i]);
    free(g->syms);
    hcg_strmap_free(&g->names);
    for (int i = g->n_resources - 1; i >= 0; i--)
        if (g->resource_free[i]) g->resource_free[i](g->resources[i]);
    free(g->resources);
    free(g->resource_free);
    free(g->path);
    free(g->origin);
    for (int i = 0; i < g->n_notes; i++) free(g->notes[i]);
    free(g->notes);
    free(g);
}

hcg_status hcg_graph_keep(hcg_graph *g, void *resource, void (*release)(void *))
{
    int cap = g->cap_resources;
    if (!grow_array((void **)&g->resources, &cap, g->n_resources + 1, sizeof(void *)))
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    cap = g->cap_resources;
    if (!grow_array((void **)&g->resource_free, &cap, g->n_resources + 1, sizeof(void (*)(void *))))
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    g->cap_resources = cap;
    g->resources[g->n_resources] = resource;
    g->resource_free[g->n_resources] = release;
    g->n_resources++;
    return HCG_OK;
}

int64_t hcg_sym(hcg_graph *g, const char *name)
{
    for (int i = 0; i < g->n_syms; i++)
        if (strcmp(g->syms[i], name) == 0) return HCG_SYM_DIM(i);
    if (!grow_array((void **)&g->syms, &g->cap_syms, g->n_syms + 1, sizeof(char *))) return 0;
    if (!(g->syms[g->n_syms] = hcg_strdup(name))) return 0;
    return HCG_SYM_DIM(g->n_syms++);
}

/* ---------------------------------------------------------------- attributes */

/* Lookups of names an op's schema lacks: a bug in hcg (a misspelt or renamed attribute would
 * otherwise read as zero). Counted, the first one kept and printed; tests fail on any. */
static atomic_int attr_misuses;
static pthread_mutex_t misuse_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_misuse[160];

static void attr_misuse(hcg_op op, const char *name)
{
    if (atomic_fetch_add(&attr_misuses, 1) != 0) return;
    pthread_mutex_lock(&misuse_lock);
    snprintf(first_misuse, sizeof first_misuse, "op %s has no attribute '%s' (a lookup by that name read zero)",
             hcg_op_name(op), name ? name : "(null)");
    pthread_mutex_unlock(&misuse_lock);
    fprintf(stderr, "hcg: internal error: %s\n", first_misuse);
}

int hcg_attr_misuses(char *first, size_t n)
{
    int count = atomic_load(&attr_misuses);
    if (first && n) {
        pthread_mutex_lock(&misuse_lock);
        snprintf(first, n, "%s", first_misuse);
        pthread_mutex_unlock(&misuse_lock);
    }
    return count;
}

const hcg_attr_value *hcg_attr_get(const hcg_node *n, const char *name)
{
    static const hcg_attr_value none;
    int slot = hcg_attr_slot(n->op, name);
    if (slot < 0) {
        attr_misuse(n->op, name);
        return &none;
    }
    return &n->attrs[slot];
}

int64_t hcg_attr_int(const hcg_node *n, const char *name) { return hcg_attr_get(n, name)->i; }
double hcg_attr_float(const hcg_node *n, const char *name) { return hcg_attr_get(n, name)->f; }
const char *hcg_attr_string(const hcg_node *n, const char *name) { return hcg_attr_get(n, name)->s; }

const int64_t *hcg_attr_ints(const hcg_node *n, const char *name, int *count)
{
    const hcg_attr_value *v = hcg_attr_get(n, name);
    *count = v->n;
    return v->ints;
}

static const char *attr_kind_name(hcg_attr_kind k)
{
    switch (k) {
    case HCG_ATTR_INT: return "an integer";
    case HCG_ATTR_FLOAT: return "a number";
    case HCG_ATTR_INTS: return "a list of integers";
    case HCG_ATTR_FLOATS: return "a list of numbers";
    case HCG_ATTR_STRING: return "a name or string";
    default: return "nothing";
    }
}

hcg_status hcg_node_set_attr(const hcg_graph *g, hcg_node *n, const hcg_attr *a)
{
    const hcg_op_info *info = hcg_op_info_get(n->op);
    int slot = hcg_attr_slot_accepting(n->op, a->name);
    if (slot < 0) {
        char known[256];
        hcg_op_attr_list(n->op, known, sizeof known);
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "unknown attribute '%s' (%s takes: %s)", a->name,
                              hcg_op_name(n->op), known[0] ? known : "no attributes");
    }
    hcg_attr_kind want = info->attrs[slot].kind;
    hcg_attr_value v;
    memset(&v, 0, sizeof v);
    v.kind = want;
    v.set = true;
    /* Accept an int where a float is expected, and a scalar where a list is expected. */
    if (a->kind == want) {
        v.i = a->i;
        v.f = a->f;
        v.n = a->n;
    } else if (want == HCG_ATTR_FLOAT && a->kind == HCG_ATTR_INT) {
        v.f = (double)a->i;
    } else if (want == HCG_ATTR_INTS && a->kind == HCG_ATTR_INT) {
        v.n = 1;
    } else if (want == HCG_ATTR_FLOATS && (a->kind == HCG_ATTR_FLOAT || a->kind == HCG_ATTR_INT)) {
        v.n = 1;
    } else if (want == HCG_ATTR_FLOATS && a->kind == HCG_ATTR_INTS) {
        v.n = a->n;
    } else {
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "attribute '%s' must be %s, got %s", a->name,
                              attr_kind_name(want), attr_kind_name(a->kind));
    }
    if (v.n < 0) return hcg_node_error(g, n, HCG_ERR_GRAPH, "attribute '%s' has a negative length", a->name);
    size_t cnt = (size_t)(v.n ? v.n : 1);
    if (want == HCG_ATTR_INTS) {
        if (!(v.ints = malloc(sizeof(int64_t) * cnt))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        if (a->kind == HCG_ATTR_INT) v.ints[0] = a->i;
        else if (v.n) memcpy(v.ints, a->ints, sizeof(int64_t) * (size_t)v.n);
    } else if (want == HCG_ATTR_FLOATS) {
        if (!(v.floats = malloc(sizeof(double) * cnt))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        if (a->kind == HCG_ATTR_FLOAT) v.floats[0] = a->f;
        else if (a->kind == HCG_ATTR_INT) v.floats[0] = (double)a->i;
        else if (a->kind == HCG_ATTR_INTS)
            for (int i = 0; i < v.n; i++) v.floats[i] = (double)a->ints[i];
        else if (v.n) memcpy(v.floats, a->floats, sizeof(double) * (size_t)v.n);
    } else if (want == HCG_ATTR_STRING) {
        if (!(v.s = hcg_strdup(a->s ? a->s : ""))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    hcg_attr_value_clear(&n->attrs[slot]);
    n->attrs[slot] = v;
    return HCG_OK;
}

/* Fills every schema slot with its default. */
static hcg_status set_defaults(hcg_node *n)
{
    const hcg_op_info *info = hcg_op_info_get(n->op);
    for (int i = 0; i < HCG_MAX_ATTRS && info->attrs[i].name; i++) {
        const hcg_attr_spec *sp = &info->attrs[i];
        hcg_attr_value *v = &n->attrs[i];
        memset(v, 0, sizeof *v);
        v->kind = sp->kind;
        v->i = sp->def_i;
        v->f = sp->def_f;
        if (sp->kind == HCG_ATTR_STRING && sp->def_s && !(v->s = hcg_strdup(sp->def_s)))
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- nodes */

hcg_status hcg_node_retarget(hcg_graph *g, hcg_node *n, hcg_op op, const hcg_id *inputs, int n_inputs,
                             const hcg_attr *attrs, int n_attrs)
{
    hcg_id *in = malloc(sizeof(hcg_id) * (size_t)(n_inputs ? n_inputs : 1));
    if (!in) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (n_inputs) memcpy(in, inputs, sizeof(hcg_id) * (size_t)n_inputs);
    for (int a = 0; a < HCG_MAX_ATTRS; a++) hcg_attr_value_clear(&n->attrs[a]);
    free(n->inputs);
    n->inputs = in;
    n->n_inputs = n_inputs;
    n->op = op;
    hcg_status st = set_defaults(n);
    for (int i = 0; !st && i < n_attrs; i++) st = hcg_node_set_attr(g, n, &attrs[i]);
    return st;
}

hcg_status hcg_graph_note(hcg_graph *g, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *copy = hcg_strdup(buf);
    if (!copy || !grow_array((void **)&g->notes, &g->cap_notes, g->n_notes + 1, sizeof(char *))) {
        free(copy);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    g->notes[g->n_notes++] = copy;
    return HCG_OK;
}

static hcg_status check_name(hcg_graph *g, const char *name)
{
    if (!name || !*name) return hcg_error(HCG_ERR_ARG, "a node needs a non-empty name");
    if (hcg_strmap_get(&g->names, name) >= 0)
        return hcg_error(HCG_ERR_GRAPH, "the name '%s' is defined twice", name);
    return HCG_OK;
}

hcg_id hcg_graph_add_node(hcg_graph *g, hcg_op op, const char *name, const hcg_id *inputs,
                          int n_inputs, const hcg_attr *attrs, int n_attrs)
{
    char auto_name[48];
    if (!g) return -hcg_error(HCG_ERR_ARG, "no graph");
    if ((unsigned)op >= HCG_OP_COUNT) return -hcg_error(HCG_ERR_ARG, "invalid op %d", (int)op);
    if (n_inputs < 0 || (n_inputs > 0 && !inputs)) return -hcg_error(HCG_ERR_ARG, "invalid inputs");
    const hcg_op_info *info = hcg_op_info_get(op);
    if (!name) {
        do snprintf(auto_name, sizeof auto_name, "%s_%d", hcg_op_name(op), g->auto_names++);
        while (hcg_strmap_get(&g->names, auto_name) >= 0);
        name = auto_name;
    }
    if (check_name(g, name)) return -HCG_ERR_GRAPH;
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i] < 0 || inputs[i] >= g->n_nodes)
            return -hcg_error(HCG_ERR_GRAPH, "node '%s' (%s): input %d is not a node of this graph%s", name,
                              hcg_op_name(op), i, inputs[i] < 0 ? " (an earlier builder call failed)" : "");
    }
    int max_total = hcg_op_max_total_inputs(op);
    if (n_inputs < info->min_inputs || (max_total >= 0 && n_inputs > max_total)) {
        if (max_total < 0)
            return -hcg_error(HCG_ERR_GRAPH, "node '%s' (%s): takes at least %d inputs, got %d", name,
                              hcg_op_name(op), info->min_inputs, n_inputs);
        if (info->min_inputs == max_total)
            return -hcg_error(HCG_ERR_GRAPH, "node '%s' (%s): takes %d input%s, got %d", name, hcg_op_name(op),
                              info->min_inputs, info->min_inputs == 1 ? "" : "s", n_inputs);
        return -hcg_error(HCG_ERR_GRAPH, "node '%s' (%s): takes %d to %d inputs, got %d", name,
                          hcg_op_name(op), info->min_inputs, max_total, n_inputs);
    }
    int old_cap = g->cap_nodes;
    if (!grow_array((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(hcg_node)))
        return -hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (g->origin && g->cap_nodes != old_cap) {
        /* a bound graph grown by a pass: its new nodes come from no node of the unbound graph */
        hcg_id *o = realloc(g->origin, sizeof(hcg_id) * (size_t)g->cap_nodes);
        if (!o) return -hcg_error(HCG_ERR_NOMEM, "out of memory");
        g->origin = o;
    }
    if (g->origin) g->origin[g->n_nodes] = -1;
    hcg_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->shape.rank = -1;
    n->name = hcg_strdup(name);
    n->inputs = malloc(sizeof(hcg_id) * (size_t)(n_inputs ? n_inputs : 1));
    if (!n->name || !n->inputs || set_defaults(n)) goto nomem;
    if (n_inputs) memcpy(n->inputs, inputs, sizeof(hcg_id) * (size_t)n_inputs);
    n->n_inputs = n_inputs;
    for (int i = 0; i < n_attrs; i++) {
        hcg_status st = hcg_node_set_attr(g, n, &attrs[i]);
        if (st) {
            for (int a = 0; a < HCG_MAX_ATTRS; a++) hcg_attr_value_clear(&n->attrs[a]);
            free(n->name);
            free(n->inputs);
            return -st;
        }
    }
    if (!hcg_strmap_put(&g->names, n->name, g->n_nodes)) goto nomem;
    return g->n_nodes++;
nomem:
    for (int a = 0; a < HCG_MAX_ATTRS; a++) hcg_attr_value_clear(&n->attrs[a]);
    free(n->name);
    free(n->inputs);
    return -hcg_error(HCG_ERR_NOMEM, "out of memory");
}

hcg_id hcg_add_node(hcg_graph *g, hcg_op op, const char *name, const hcg_id *inputs, int n_inputs,
                const hcg_attr *attrs, int n_attrs)
{
    if ((unsigned)op < HCG_OP_COUNT && (hcg_op_info_get(op)->flags & HCG_OPF_SOURCE))
        return -hcg_error(HCG_ERR_ARG, "use hcg_input, hcg_param or hcg_constant for '%s' nodes",
                          hcg_op_name(op));
    const hcg_op_info *info = (unsigned)op < HCG_OP_COUNT ? hcg_op_info_get(op) : NULL;
    if (info) {
        for (int i = 0; i < HCG_MAX_ATTRS && info->attrs[i].name; i++) {
            if (!info->attrs[i].required) continue;
            bool given = false;
            for (int a = 0; a < n_attrs; a++) given |= strcmp(attrs[a].name, info->attrs[i].name) == 0;
            if (info->attrs[i].from_input && n_inputs >= info->attrs[i].from_input) given = true;
            if (!given)
                return -hcg_error(HCG_ERR_GRAPH, "node '%s' (%s): the attribute '%s' is required",
                                  name ? name : "?", hcg_op_name(op), info->attrs[i].name);
        }
    }
    return hcg_graph_add_node(g, op, name, inputs, n_inputs, attrs, n_attrs);
}

static hcg_id add_source(hcg_graph *g, hcg_op op, const char *name, hcg_dtype dtype,
                         const hcg_shape *shape, hcg_tensor *value)
{
    if (!g || !name) {
        hcg_tensor_free(value);
        return -hcg_error(HCG_ERR_ARG, "a graph and a name are required");
    }
    hcg_id id = hcg_graph_add_node(g, op, name, NULL, 0, NULL, 0);
    if (id < 0) {
        hcg_tensor_free(value);
        return id;
    }
    hcg_node *n = &g->nodes[id];
    n->dtype = dtype;
    n->shape = *shape;
    n->value = value;
    n->value_owned = value != NULL;
    return id;
}

/* A declared type (an input's or a state's): rank, dtype and dims (sizes or symbols) checked. */
static hcg_status declared_type(const char *kind, const char *name, hcg_dtype dtype, int rank, const int64_t *dims,
                                hcg_shape *out)
{
    if (rank < 0 || rank > HCG_MAX_RANK)
        return hcg_error(HCG_ERR_ARG, "%s '%s': rank %d is not in 0..%d", kind, name ? name : "?", rank, HCG_MAX_RANK);
    if ((unsigned)dtype >= HCG_DTYPE_COUNT) return hcg_error(HCG_ERR_ARG, "%s '%s': invalid dtype", kind, name ? name : "?");
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 && !HCG_DIM_IS_SYM(dims[i]))
            return hcg_error(HCG_ERR_ARG, "%s '%s': dim %d is negative", kind, name ? name : "?", i);
    *out = hcg_shape_make(rank, dims);
    return HCG_OK;
}

hcg_id hcg_graph_copy_node(hcg_graph *b, const hcg_node *src, const hcg_id *remap)
{
    if (b->n_nodes == b->cap_nodes) {
        int cap = b->cap_nodes ? b->cap_nodes * 2 : 64;
        hcg_node *p = realloc(b->nodes, sizeof(hcg_node) * (size_t)cap);
        if (!p) return -hcg_error(HCG_ERR_NOMEM, "out of memory");
        b->nodes = p;
        b->cap_nodes = cap;
    }
    hcg_node *n = &b->nodes[b->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = src->op;
    n->dtype = src->dtype;
    n->shape = src->shape;
    n->line = src->line;
    n->col = src->col;
    n->name = hcg_strdup(src->name);
    n->pin = hcg_strdup(src->pin);
    n->weight_key = hcg_strdup(src->weight_key);
    n->weight_file = hcg_strdup(src->weight_file);
    n->inputs = malloc(sizeof(hcg_id) * (size_t)(src->n_inputs ? src->n_inputs : 1));
    bool ok = n->name && n->inputs && (!src->pin || n->pin) && (!src->weight_key || n->weight_key) &&
              (!src->weight_file || n->weight_file);
    for (int a = 0; ok && a < HCG_MAX_ATTRS; a++) ok = hcg_attr_value_copy(&n->attrs[a], &src->attrs[a]) == HCG_OK;
    if (ok) {
        for (int i = 0; i < src->n_inputs; i++) n->inputs[i] = remap[src->inputs[i]];
        n->n_inputs = src->n_inputs;
        ok = hcg_strmap_put(&b->names, n->name, b->n_nodes);
    }
    /* Count the node even on failure so hcg_graph_free releases what was allocated. */
    b->n_nodes++;
    if (!ok) return -hcg_error(HCG_ERR_NOMEM, "out of memory");
    return b->n_nodes - 1;
}

hcg_id hcg_input(hcg_graph *g, const char *name, hcg_dtype dtype, int rank, const int64_t *dims)
{
    hcg_shape s;
    hcg_status st = declared_type("input", name, dtype, rank, dims, &s);
    if (st) return -(hcg_id)st;
    hcg_id id = add_source(g, HCG_OP_INPUT, name, dtype, &s, NULL);
    if (id < 0) return id;
    if (!grow_array((void **)&g->inputs, &g->cap_inputs, g->n_inputs + 1, sizeof(hcg_id)))
        return -hcg_error(HCG_ERR_NOMEM, "out of memory");
    g->inputs[g->n_inputs++] = id;
    return id;
}

hcg_id hcg_state(hcg_graph *g, const char *name, hcg_dtype dtype, int rank, const int64_t *dims)
{
    hcg_shape s;
    hcg_status st = declared_type("state", name, dtype, rank, dims, &s);
    return st ? -(hcg_id)st : add_source(g, HCG_OP_STATE, name, dtype, &s, NULL);
}

hcg_id hcg_param(hcg_graph *g, const char *name, hcg_tensor *value)
{
    if (!value) return -hcg_error(HCG_ERR_ARG, "param '%s' has no value", name ? name : "?");
    return add_source(g, HCG_OP_PARAM, name, value->dtype, &value->shape, value);
}

hcg_id hcg_constant(hcg_graph *g, const char *name, hcg_tensor *value)
{
    char auto_name[48];
    if (!value) return -hcg_error(HCG_ERR_ARG, "constant has no value");
    if (!name && g) {
        do snprintf(auto_name, sizeof auto_name, "const_%d", g->auto_names++);
        while (hcg_strmap_get(&g->names, auto_name) >= 0);
        name = auto_name;
    }
    return add_source(g, HCG_OP_CONSTANT, name, value->dtype, &value->shape, value);
}

hcg_status hcg_output(hcg_graph *g, hcg_id id, const char *out_name)
{
    if (!g || id < 0 || id >= g->n_nodes)
        return hcg_error(HCG_ERR_ARG, "output: not a node of this graph");
    const char *name = out_name ? out_name : g->nodes[id].name;
    for (int i = 0; i < g->n_outputs; i++)
        if (strcmp(g->output_names[i], name) == 0)
            return hcg_error(HCG_ERR_GRAPH, "output '%s' is declared twice", name);
    int cap = g->cap_outputs;
    if (!grow_array((void **)&g->outputs, &cap, g->n_outputs + 1, sizeof(hcg_id)))
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    cap = g->cap_outputs;
    if (!grow_array((void **)&g->output_names, &cap, g->n_outputs + 1, sizeof(char *)))
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    g->cap_outputs = cap;
    if (!(g->output_names[g->n_outputs] = hcg_strdup(name))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    g->outputs[g->n_outputs++] = id;
    return HCG_OK;
}

hcg_status hcg_pin(hcg_graph *g, hcg_id id, const char *device)
{
    if (!g || id < 0 || id >= g->n_nodes || !device || !*device)
        return hcg_error(HCG_ERR_ARG, "pin: not a node of this graph, or no device");
    free(g->nodes[id].pin);
    if (!(g->nodes[id].pin = hcg_strdup(device))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    return HCG_OK;
}

/* ---------------------------------------------------------------- introspection */

int hcg_graph_num_nodes(const hcg_graph *g) { return g ? g->n_nodes : 0; }
int hcg_graph_num_inputs(const hcg_graph *g) { return g ? g->n_inputs : 0; }
int hcg_graph_num_outputs(const hcg_graph *g) { return g ? g->n_outputs : 0; }

const char *hcg_graph_input_name(const hcg_graph *g, int i)
{
    return g && i >= 0 && i < g->n_inputs ? g->nodes[g->inputs[i]].name : NULL;
}

const char *hcg_graph_output_name(const hcg_graph *g, int i)
{
    return g && i >= 0 && i < g->n_outputs ? g->output_names[i] : NULL;
}

hcg_id hcg_graph_find(const hcg_graph *g, const char *name)
{
    return g && name ? hcg_strmap_get(&g->names, name) : -1;
}

static const hcg_node *node_or_null(const hcg_graph *g, hcg_id id)
{
    return g && id >= 0 && id < g->n_nodes ? &g->nodes[id] : NULL;
}

const char *hcg_graph_node_name(const hcg_graph *g, hcg_id id)
{
    const hcg_node *n = node_or_null(g, id);
    return n ? n->name : NULL;
}

hcg_op hcg_graph_node_op(const hcg_graph *g, hcg_id id)
{
    const hcg_node *n = node_or_null(g, id);
    return n ? n->op : HCG_OP_COUNT;
}

const char *hcg_graph_node_pin(const hcg_graph *g, hcg_id id)
{
    const hcg_node *n = node_or_null(g, id);
    return n ? n->pin : NULL;
}

const char *hcg_graph_node_weight_file(const hcg_graph *g, hcg_id id)
{
    const hcg_node *n = node_or_null(g, id);
    return n ? n->weight_file : NULL;
}

hcg_status hcg_graph_input_type(const hcg_graph *g, int i, hcg_dtype *dtype, hcg_shape *shape)
{
    if (!g || i < 0 || i >= g->n_inputs) return hcg_error(HCG_ERR_ARG, "input %d: the graph has no such input", i);
    const hcg_node *n = &g->nodes[g->inputs[i]];
    if (dtype) *dtype = n->dtype;
    if (shape) *shape = n->shape;
    return HCG_OK;
}

const char *hcg_graph_sym_name(const hcg_graph *g, int64_t dim)
{
    if (!g || !HCG_DIM_IS_SYM(dim)) return NULL;
    int id = HCG_DIM_SYM_ID(dim);
    return id >= 0 && id < g->n_syms ? g->syms[id] : NULL;
}

bool hcg_norm_axis(int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank) return false; /* a scalar (rank 0) has no axis */
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

size_t hcg_node_nbytes(const hcg_node *n)
{
    int64_t numel = 0;
    if (n->shape.rank < 0 || !hcg_shape_numel(&n->shape, &numel)) return 0;
    return (size_t)numel * hcg_dtype_size(n->dtype);
}

/* ---------------------------------------------------------------- convenience builders */

static hcg_id op2(hcg_graph *g, hcg_op op, hcg_id a, hcg_id b)
{
    hcg_id in[2] = {a, b};
    return hcg_add_node(g, op, NULL, in, 2, NULL, 0);
}

hcg_id hcg_add(hcg_graph *g, hcg_id a, hcg_id b) { return op2(g, HCG_OP_ADD, a, b); }
hcg_id hcg_sub(hcg_graph *g, hcg_id a, hcg_id b) { return op2(g, HCG_OP_SUB, a, b); }
hcg_id hcg_mul(hcg_graph *g, hcg_id a, hcg_id b) { return op2(g, HCG_OP_MUL, a, b); }
hcg_id hcg_div(hcg_graph *g, hcg_id a, hcg_id b) { return op2(g, HCG_OP_DIV, a, b); }

hcg_id hcg_unary(hcg_graph *g, hcg_op op, hcg_id x) { return hcg_add_node(g, op, NULL, &x, 1, NULL, 0); }

hcg_id hcg_matmul(hcg_graph *g, hcg_id a, hcg_id b, bool transpose_a, bool transpose_b)
{
    hcg_id in[2] = {a, b};
    hcg_attr at[2] = {HCG_ATTR_I("transpose_a", transpose_a), HCG_ATTR_I("transpose_b", transpose_b)};
    return hcg_add_node(g, HCG_OP_MATMUL, NULL, in, 2, at, 2);
}

hcg_id hcg_softmax(hcg_graph *g, hcg_id x, int axis)
{
    hcg_attr at = HCG_ATTR_I("axis", axis);
    return hcg_add_node(g, HCG_OP_SOFTMAX, NULL, &x, 1, &at, 1);
}

hcg_id hcg_layer_norm(hcg_graph *g, hcg_id x, hcg_id scale, hcg_id bias, int axis, double eps)
{
    hcg_id in[3] = {x, scale, bias};
    hcg_attr at[2] = {HCG_ATTR_I("axis", axis), HCG_ATTR_F("epsilon", eps)};
    int n = bias >= 0 ? 3 : scale >= 0 ? 2 : 1;
    return hcg_add_node(g, HCG_OP_LAYER_NORM, NULL, in, n, at, 2);
}

hcg_id hcg_reshape(hcg_graph *g, hcg_id x, int rank, const int64_t *dims)
{
    hcg_attr at = HCG_ATTR_IS("shape", dims, rank);
    return hcg_add_node(g, HCG_OP_RESHAPE, NULL, &x, 1, &at, 1);
}

hcg_id hcg_transpose(hcg_graph *g, hcg_id x, int rank, const int64_t *perm)
{
    hcg_attr at = HCG_ATTR_IS("perm", perm, rank);
    return hcg_add_node(g, HCG_OP_TRANSPOSE, NULL, &x, 1, &at, 1);
}
