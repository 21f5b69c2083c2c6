/* passes.c — the pass list and its runner, and the helpers passes share: use counts and single
 * consumers, constant checks, and the in-place rewrite of a matched pattern's last node into a
 * fused op (its consumers keep pointing at it; the matched nodes before it lose their uses and are
 * dropped with the other dead nodes when binding finishes). */
#include "graph/passes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/bind.h"
#include "graph/op_table.h"

static const hcg_pass passes[] = {
    {"layer_norm", hcg_pass_layer_norm, "layer_norm from its decomposed form (reduce_mean, sub, pow, sqrt, div, mul, add)"},
    {"gelu", hcg_pass_gelu, "gelu from its erf form x * 0.5 * (1 + erf(x / sqrt(2)))"},
    {"transpose_matmul", hcg_pass_transpose_matmul, "a transpose of the last two dims folded into matmul's flags"},
    {"attention", hcg_pass_attention,
     "scores -> scale -> mask -> softmax -> context as one attention op (head transposes folded into its layout)"},
    {"dequantize_matmul", hcg_pass_dequantize_matmul,
     "a weight stored small (an f16 cast, an int8 dequantize) read by the product itself: fused_matmul with the f16 "
     "weight, quant_matmul with the int8 weight and its scales"},
    {"dequantize_gather", hcg_pass_dequantize_gather,
     "rows gathered from a table stored small (f16, int8) before they are widened, so only those rows are converted"},
    {"transpose_weights", hcg_pass_transpose_weights,
     "a fixed weight read only with transpose_b (PyTorch's [out, in]) stored transposed once, so products read it "
     "[in, out] (inference only: not while params vary)"},
    {"matmul_scale", hcg_pass_matmul_scale, "a scalar multiply or divide folded into the matmul's alpha"},
    {"matmul_bias", hcg_pass_matmul_bias, "a bias vector added in the matmul's epilogue"},
    {"matmul_activation", hcg_pass_matmul_activation, "gelu or relu after a matmul done in its epilogue"},
};

const hcg_pass *hcg_pass_list(int *n)
{
    *n = (int)(sizeof passes / sizeof passes[0]);
    return passes;
}

/* ---------------------------------------------------------------- use counts */

static void count_uses(hcg_pass_ctx *c)
{
    hcg_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        c->uses[i] = 0;
        c->single[i] = -1;
    }
    for (int i = 0; i < g->n_outputs; i++) c->uses[g->outputs[i]] += 2; /* never "single" */
    /* Live nodes only: walk back from the outputs. */
    bool *live = calloc((size_t)g->n_nodes + 1, sizeof *live);
    if (!live) return;
    for (int i = 0; i < g->n_outputs; i++) live[g->outputs[i]] = true;
    for (int id = g->n_nodes - 1; id >= 0; id--) {
        if (!live[id]) continue;
        const hcg_node *n = &g->nodes[id];
        for (int k = 0; k < n->n_inputs; k++) {
            live[n->inputs[k]] = true;
            c->uses[n->inputs[k]]++;
            c->single[n->inputs[k]] = id;
        }
    }
    free(live);
}

bool hcg_pass_is(const hcg_pass_ctx *c, hcg_id id, hcg_op op)
{
    return id >= 0 && id < c->g->n_nodes && c->g->nodes[id].op == op && c->uses[id] > 0;
}

bool hcg_pass_single_use(const hcg_pass_ctx *c, hcg_id id) { return c->uses[id] == 1; }

bool hcg_pass_scalar(const hcg_pass_ctx *c, hcg_id id, double *v)
{
    const hcg_tensor *t = c->g->nodes[id].value;
    int64_t n = 0;
    if (!t || !hcg_shape_numel(&t->shape, &n) || n != 1) return false;
    switch (t->dtype) {
    case HCG_F32: *v = ((const float *)t->data)[0]; return true;
    case HCG_I32: *v = ((const int32_t *)t->data)[0]; return true;
    case HCG_I64: *v = (double)((const int64_t *)t->data)[0]; return true;
    default: return false;
    }
}

bool hcg_pass_scalar_is(const hcg_pass_ctx *c, hcg_id id, double want)
{
    double v;
    return hcg_pass_scalar(c, id, &v) && fabs(v - want) <= 1e-6 * fabs(want);
}

bool hcg_pass_const_vector(const hcg_pass_ctx *c, hcg_id id, int64_t n)
{
    const hcg_node *x = &c->g->nodes[id];
    if (!x->value || x->dtype != HCG_F32 || x->shape.rank < 1 || x->shape.dims[x->shape.rank - 1] != n) return false;
    for (int i = 0; i < x->shape.rank - 1; i++)
        if (x->shape.dims[i] != 1) return false;
    return true;
}

/* Room in the use counts for one more node, and a free name made from hint. */
static hcg_status room_for_node(hcg_pass_ctx *c, const char *hint, char *name, size_t size)
{
    if (c->g->n_nodes + 1 > c->cap) {
        int cap = c->cap * 2 + 16;
        int *uses = realloc(c->uses, sizeof(int) * (size_t)cap);
        if (uses) c->uses = uses;
        hcg_id *single = realloc(c->single, sizeof(hcg_id) * (size_t)cap);
        if (single) c->single = single;
        if (!uses || !single) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        c->cap = cap;
    }
    int k = 0;
    do snprintf(name, size, k ? "%s_%d" : "%s", hint, k);
    while (hcg_graph_find(c->g, name) >= 0 && ++k < 1000000);
    return HCG_OK;
}

hcg_id hcg_pass_add_constant(hcg_pass_ctx *c, const char *hint, hcg_tensor *value)
{
    char name[256];
    hcg_status st = room_for_node(c, hint, name, sizeof name);
    if (st) {
        hcg_tensor_free(value);
        return -st;
    }
    hcg_id id = hcg_constant(c->g, name, value);
    if (id < 0) return id;
    c->uses[id] = 0;
    c->single[id] = -1;
    c->appended = true;
    return id;
}

hcg_id hcg_pass_append(hcg_pass_ctx *c, hcg_op op, const char *hint, const hcg_id *inputs, int n_inputs,
                       const hcg_attr *attrs, int n_attrs)
{
    hcg_graph *g = c->g;
    char name[256];
    hcg_status room = room_for_node(c, hint, name, sizeof name);
    if (room) return -room;
    hcg_id id = hcg_graph_add_node(g, op, name, inputs, n_inputs, attrs, n_attrs);
    if (id < 0) return id;
    hcg_status st = hcg_op_info_get(op)->infer(g, &g->nodes[id]);
    if (st) return -st;
    c->uses[id] = 0;
    c->single[id] = -1;
    for (int i = 0; i < n_inputs; i++) {
        c->uses[inputs[i]]++;
        c->single[inputs[i]] = c->uses[inputs[i]] == 1 ? id : -1;
    }
    c->appended = true;
    return id;
}

hcg_status hcg_pass_rewrite(hcg_pass_ctx *c, hcg_id root, hcg_op op, const hcg_id *inputs, int n_inputs,
                            const hcg_attr *attrs, int n_attrs, const char *what)
{
    hcg_graph *g = c->g;
    hcg_node *n = &g->nodes[root];
    hcg_dtype dt = n->dtype;
    hcg_shape shape = n->shape;
    hcg_id old[16];
    int n_old = n->n_inputs < 16 ? n->n_inputs : 16;
    memcpy(old, n->inputs, sizeof(hcg_id) * (size_t)n_old);
    hcg_status st = hcg_node_retarget(g, n, op, inputs, n_inputs, attrs, n_attrs);
    /* The fused node must give exactly the tensor the pattern gave. */
    if (!st && (st = hcg_op_info_get(op)->infer(g, n)) == HCG_OK &&
        (n->dtype != dt || !hcg_shape_equal(&n->shape, &shape)))
        st = hcg_node_error(g, n, HCG_ERR_INTERNAL, "the %s rewrite changed the node's type", hcg_op_name(op));
    if (st) return st;
    /* Uses: the old inputs lose one, the new ones gain one; a node that drops to no uses takes
     * its own inputs' uses with it (the whole matched chain goes dead). */
    for (int i = 0; i < n_inputs; i++) {
        c->uses[inputs[i]]++;
        c->single[inputs[i]] = c->uses[inputs[i]] == 1 ? root : -1;
    }
    hcg_id stack[256];
    int top = 0;
    for (int i = 0; i < n_old; i++) stack[top++] = old[i];
    while (top > 0) {
        hcg_id id = stack[--top];
        if (--c->uses[id] > 0) continue;
        const hcg_node *d = &g->nodes[id];
        for (int k = 0; k < d->n_inputs && top < 256; k++) stack[top++] = d->inputs[k];
    }
    c->rewrites++;
    return hcg_graph_note(g, "%s '%s': %s", hcg_op_name(op), n->name, what);
}

/* ---------------------------------------------------------------- running */

static const hcg_pass *find_pass(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++)
        if (strlen(passes[i].name) == len && strncmp(passes[i].name, name, len) == 0) return &passes[i];
    return NULL;
}

hcg_status hcg_run_passes(hcg_graph *g, const char *spec, bool weights_fixed, hcg_weight_cache *weight_cache)
{
    int n_pass = (int)(sizeof passes / sizeof passes[0]);
    bool want[sizeof passes / sizeof passes[0]];
    bool all = !spec || !*spec || strcmp(spec, "all") == 0;
    if (spec && strcmp(spec, "none") == 0) return HCG_OK;
    for (int i = 0; i < n_pass; i++) want[i] = all;
    for (const char *p = all ? "" : spec; *p;) {
        size_t len = strcspn(p, ",");
        const hcg_pass *ps = find_pass(p, len);
        if (!ps) {
            char known[512] = "";
            size_t used = 0;
            for (int i = 0; i < n_pass; i++) {
                int w = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", passes[i].name);
                if (w > 0 && (size_t)w < sizeof known - used) used += (size_t)w;
            }
            return hcg_error(HCG_ERR_ARG, "unknown rewrite pass '%.*s' (passes: %s; or all, none)", (int)len, p, known);
        }
        want[ps - passes] = true;
        p += len;
        if (*p == ',') p++;
    }
    hcg_pass_ctx c = {.g = g, .cap = g->n_nodes + 1, .weights_fixed = weights_fixed,
                     .weight_cache = weight_cache};
    c.uses = malloc(sizeof(int) * (size_t)c.cap);
    c.single = malloc(sizeof(hcg_id) * (size_t)c.cap);
    hcg_status st = c.uses && c.single ? HCG_OK : hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < n_pass; i++) {
        if (!want[i]) continue;
        count_uses(&c);
        c.rewrites = 0;
        st = passes[i].run(&c);
    }
    free(c.uses);
    free(c.single);
    if (!st && c.appended) st = hcg_graph_toposort(g);
    return st;
}
