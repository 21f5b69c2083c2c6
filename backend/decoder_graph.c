/* decoder_graph.c — what a graph is as a decoder (docs/generate.md): its kind (1: ids -> logits,
 * recomputing; 2: ONNX with past_key_values.* / present.*; 3: hcg's own with state caches), the
 * roles of its inputs, the positions it has (the rows of the position table its position indices
 * gather from, the caches' length), and for kind 2 the step graph hcg runs instead of the model:
 *
 *   - every past_key_values.X input becomes slice(state "hcg.cache.X", [0, L) along the sequence
 *     axis): the cache lives on the device as a state of `capacity` positions, and the model sees
 *     its first L (the symbol L is bound by the input hcg.past_mask [B, L], so a plan serves every
 *     step whose cache length rounds up to the same L);
 *   - attention_mask becomes concat(hcg.past_mask, hcg.new_mask): 1 for the cached positions that
 *     hold tokens, 0 for the padding between them and L, 1 for the new tokens;
 *   - each present.X output (the past and the new entries) gives its new entries, slice [L, end),
 *     to cache_write(hcg.cache.X, ..., hcg.pos), which writes them at the true position; the
 *     presents are no longer outputs, so they never leave the device.
 * The pipeline transform pins each layer's caches and the nodes after them to one device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/decoder_impl.h"
#include "graph/op_table.h"

#define PAST_PREFIX "past_key_values."
#define PRESENT_PREFIX "present."

static bool is_past(const char *name) { return strncmp(name, PAST_PREFIX, strlen(PAST_PREFIX)) == 0; }

static bool is_int_dtype(hcg_dtype t) { return t == HCG_I64 || t == HCG_I32; }

/* The output present.<suffix> for input past_key_values.<suffix>, or -1. */
static int present_of(const hcg_graph *g, const char *past)
{
    const char *suffix = past + strlen(PAST_PREFIX);
    for (int j = 0; j < g->n_outputs; j++)
        if (strncmp(g->output_names[j], PRESENT_PREFIX, strlen(PRESENT_PREFIX)) == 0 &&
            strcmp(g->output_names[j] + strlen(PRESENT_PREFIX), suffix) == 0)
            return j;
    return -1;
}

/* ---------------------------------------------------------------- positions */

/* Whether the indices node id comes from positions: a range (arange over the sequence), the
 * position_ids input, or the pos input, through ops that keep index values (casts, views, adds). */
static bool from_positions(const hcg_graph *g, hcg_id id, int depth)
{
    const hcg_node *n = &g->nodes[id];
    if (depth > 32) return false;
    switch (n->op) {
    case HCG_OP_RANGE: return true;
    case HCG_OP_INPUT:
        return strcmp(n->name, "position_ids") == 0 || (n->shape.rank == 0 && is_int_dtype(n->dtype));
    case HCG_OP_CAST:
    case HCG_OP_RESHAPE:
    case HCG_OP_UNSQUEEZE:
    case HCG_OP_SQUEEZE:
    case HCG_OP_FLATTEN:
    case HCG_OP_EXPAND:
    case HCG_OP_SLICE: return n->n_inputs > 0 && from_positions(g, n->inputs[0], depth + 1);
    case HCG_OP_ADD:
        return from_positions(g, n->inputs[0], depth + 1) || from_positions(g, n->inputs[1], depth + 1);
    default: return false;
    }
}

static int64_t min_known(int64_t a, int64_t b) { return a < 0 ? b : b < 0 ? a : a < b ? a : b; }

/* The positions g has: the rows of every table its position indices gather from, and (kind 3)
 * the length of the caches its in-place ops write; -1 if none is found. */
static int64_t position_limit(const hcg_graph *g)
{
    int64_t limit = -1;
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        const hcg_node *n = &g->nodes[id];
        if (n->op == HCG_OP_GATHER && n->n_inputs >= 2 && hcg_attr_int(n, "axis") == 0) {
            const hcg_node *table = &g->nodes[n->inputs[0]];
            if ((table->op == HCG_OP_PARAM || table->op == HCG_OP_CONSTANT) && table->value &&
                table->value->shape.rank == 2 && from_positions(g, n->inputs[1], 0))
                limit = min_known(limit, table->value->shape.dims[0]);
        } else if (n->op == HCG_OP_KV_ATTENTION) {
            int64_t p = g->nodes[n->inputs[3]].shape.dims[2];
            if (!HCG_DIM_IS_SYM(p)) limit = min_known(limit, p);
        } else if (n->op == HCG_OP_CACHE_WRITE) {
            const hcg_shape *c = &g->nodes[n->inputs[0]].shape;
            int axis;
            if (hcg_norm_axis(hcg_attr_int(n, "axis"), c->rank, &axis) && !HCG_DIM_IS_SYM(c->dims[axis]))
                limit = min_known(limit, c->dims[axis]);
        }
    }
    return limit;
}

/* ---------------------------------------------------------------- kinds */

static hcg_status optional_input(hcg_decoder *d, const hcg_node *in, int index)
{
    if (strcmp(in->name, "attention_mask") == 0 && in->shape.rank == 2) {
        d->input_of[DEC_MASK] = index;
        d->mask_dtype = in->dtype;
        return HCG_OK;
    }
    if (strcmp(in->name, "position_ids") == 0 && in->shape.rank == 2 && is_int_dtype(in->dtype)) {
        d->input_of[DEC_POSITIONS] = index;
        d->positions_dtype = in->dtype;
        return HCG_OK;
    }
    char t[256];
    hcg_format_type(d->g, in->dtype, &in->shape, t, sizeof t);
    return hcg_error(HCG_ERR_GRAPH,
                     "the decoder's input '%s' (%s) is none hcg generate can feed: after the ids it takes "
                     "attention_mask [B, T], position_ids [B, T]%s",
                     in->name, t, d->kind == HCG_DECODER_PAST_KV ? " and past_key_values.*" : "");
}

hcg_status hcg_decoder_inspect(hcg_decoder *d)
{
    const hcg_graph *g = d->g;
    for (int r = 0; r < DEC_ROLES; r++) d->input_of[r] = -1;
    if (g->n_inputs == 0 || g->n_outputs == 0)
        return hcg_error(HCG_ERR_GRAPH, "a decoder needs token ids as its first input and logits as its first output");
    const hcg_node *ids = &g->nodes[g->inputs[0]];
    char t[256];
    hcg_format_type(g, ids->dtype, &ids->shape, t, sizeof t);
    if (!is_int_dtype(ids->dtype) || ids->shape.rank != 2)
        return hcg_error(HCG_ERR_GRAPH, "a decoder's first input must be token ids [B, T] (i64 or i32); '%s' is %s",
                         ids->name, t);
    d->ids_dtype = ids->dtype;
    d->input_of[DEC_IDS] = 0;
    bool states = false, past = false;
    for (hcg_id id = 0; id < g->n_nodes; id++) states |= g->nodes[id].op == HCG_OP_STATE;
    for (int i = 1; i < g->n_inputs; i++) past |= is_past(g->nodes[g->inputs[i]].name);
    d->kind = states ? HCG_DECODER_STATE_KV : past ? HCG_DECODER_PAST_KV : HCG_DECODER_RECOMPUTE;
    d->max_positions = position_limit(g);
    if (d->kind == HCG_DECODER_STATE_KV) {
        const hcg_node *pos = g->n_inputs == 2 ? &g->nodes[g->inputs[1]] : NULL;
        if (!pos || pos->dtype != HCG_I64 || pos->shape.rank != 0)
            return hcg_error(HCG_ERR_GRAPH,
                             "a decoder with state caches takes two inputs, token ids [B, T] and the position of "
                             "their first token (i64[]); this one has %d input%s",
                             g->n_inputs, g->n_inputs == 1 ? "" : "s");
        d->input_of[DEC_POS] = 1;
        return HCG_OK;
    }
    hcg_status st = HCG_OK;
    for (int i = 1; i < g->n_inputs && !st; i++) {
        const hcg_node *in = &g->nodes[g->inputs[i]];
        if (!is_past(in->name)) {
            st = optional_input(d, in, i);
        } else if (present_of(g, in->name) < 0) {
            st = hcg_error(HCG_ERR_GRAPH, "the decoder's input '%s' has no output '%s%s' to feed it from", in->name,
                           PRESENT_PREFIX, in->name + strlen(PAST_PREFIX));
        } else if (++d->n_caches > DEC_MAX_CACHES) {
            st = hcg_error(HCG_ERR_UNSUPPORTED, "more than %d past_key_values inputs", DEC_MAX_CACHES);
        }
    }
    return st;
}

/* ---------------------------------------------------------------- the kind-2 step graph */

/* The sequence axis of a past input [B, .., S, ..]: its one symbolic dim after the first. */
static hcg_status sequence_axis(const hcg_graph *g, const hcg_node *past, int *axis)
{
    *axis = -1;
    for (int i = 1; i < past->shape.rank; i++) {
        if (!HCG_DIM_IS_SYM(past->shape.dims[i])) continue;
        if (*axis >= 0) break;
        *axis = i;
    }
    for (int i = *axis + 1; *axis >= 0 && i < past->shape.rank; i++)
        if (HCG_DIM_IS_SYM(past->shape.dims[i])) *axis = -2;
    if (*axis >= 1) return HCG_OK;
    char t[256];
    hcg_format_type(g, past->dtype, &past->shape, t, sizeof t);
    return hcg_error(HCG_ERR_GRAPH,
                     "cannot tell the sequence axis of '%s' (%s): a cache input has the batch first and exactly one "
                     "other symbolic dim, its length",
                     past->name, t);
}

/* A new node of w from the builder, or the error it reported. */
#define TRY_ID(x)                                                                                                  \
    do {                                                                                                           \
        if ((x) < 0) {                                                                                             \
            st = (hcg_status) - (x);                                                                               \
            goto done;                                                                                             \
        }                                                                                                          \
    } while (0)

/* past_key_values.X -> slice of a new state hcg.cache.X of `capacity` positions; returns the
 * slice's id (named like the input) or negative. */
static hcg_id cache_slice(hcg_graph *w, const hcg_graph *g, const hcg_node *past, int axis, int64_t capacity,
                          int64_t batch, int64_t past_len, hcg_id *state)
{
    int64_t dims[HCG_MAX_RANK];
    char name[600];
    for (int i = 0; i < past->shape.rank; i++) {
        dims[i] = i == axis ? capacity : i == 0 ? batch : past->shape.dims[i];
        if (i != axis && i != 0 && HCG_DIM_IS_SYM(dims[i])) {
            char t[256];
            hcg_format_type(g, past->dtype, &past->shape, t, sizeof t);
            return -hcg_error(HCG_ERR_GRAPH, "the cache input '%s' (%s) has a symbolic dim other than batch and length",
                              past->name, t);
        }
    }
    snprintf(name, sizeof name, "hcg.cache.%s", past->name + strlen(PAST_PREFIX));
    *state = hcg_state(w, name, past->dtype, past->shape.rank, dims);
    if (*state < 0) return *state;
    int64_t zero = 0, ax = axis;
    hcg_attr a[3] = {HCG_ATTR_IS("starts", &zero, 1), HCG_ATTR_IS("ends", &past_len, 1), HCG_ATTR_IS("axes", &ax, 1)};
    return hcg_add_node(w, HCG_OP_SLICE, past->name, state, 1, a, 3);
}

hcg_status hcg_decoder_build_step(hcg_decoder *d, int64_t capacity)
{
    const hcg_graph *g = d->g;
    hcg_status st = HCG_OK;
    hcg_graph *w = hcg_graph_new();
    hcg_id *remap = malloc(sizeof(hcg_id) * ((size_t)g->n_nodes + 1));
    hcg_id *state = calloc((size_t)g->n_nodes + 1, sizeof(hcg_id));
    int *axis_of = calloc((size_t)g->n_nodes + 1, sizeof(int));
    if (!w || !remap || !state || !axis_of) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < g->n_syms; i++)
        if (!hcg_sym(w, g->syms[i])) {
            st = hcg_error(HCG_ERR_NOMEM, "out of memory");
            goto done;
        }
    int64_t past_len = hcg_sym(w, "hcg.past_length");
    const hcg_node *ids = &g->nodes[g->inputs[0]];
    int64_t batch = ids->shape.dims[0], seq = ids->shape.dims[1];
    hcg_id past_mask = -1;
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        const hcg_node *n = &g->nodes[id];
        if (n->op != HCG_OP_INPUT) {
            hcg_id nid = hcg_graph_copy_node(w, n, remap);
            TRY_ID(nid);
            w->nodes[nid].value = n->value; /* borrowed: g outlives the step graph */
            w->nodes[nid].value_owned = false;
            remap[id] = nid;
            continue;
        }
        if (id == g->inputs[0] || strcmp(n->name, "position_ids") == 0) {
            remap[id] = hcg_input(w, n->name, n->dtype, n->shape.rank, n->shape.dims);
        } else if (is_past(n->name)) {
            if ((st = sequence_axis(g, n, &axis_of[id]))) goto done;
            remap[id] = cache_slice(w, g, n, axis_of[id], capacity, batch, past_len, &state[id]);
        } else if (strcmp(n->name, "attention_mask") == 0) {
            int64_t pd[2] = {batch, past_len}, nd[2] = {batch, seq};
            past_mask = hcg_input(w, "hcg.past_mask", n->dtype, 2, pd);
            hcg_id parts[2] = {past_mask, hcg_input(w, "hcg.new_mask", n->dtype, 2, nd)};
            TRY_ID(parts[0]);
            TRY_ID(parts[1]);
            hcg_attr ax = HCG_ATTR_I("axis", 1);
            remap[id] = hcg_add_node(w, HCG_OP_CONCAT, "attention_mask", parts, 2, &ax, 1);
        } else {
            st = hcg_error(HCG_ERR_INTERNAL, "unexpected decoder input '%s'", n->name);
            goto done;
        }
        TRY_ID(remap[id]);
    }
    if (past_mask < 0) { /* no attention_mask: the input only binds L */
        int64_t pd[2] = {batch, past_len};
        past_mask = hcg_input(w, "hcg.past_mask", HCG_I64, 2, pd);
        TRY_ID(past_mask);
    }
    hcg_id pos = hcg_input(w, "hcg.pos", HCG_I64, 0, NULL);
    TRY_ID(pos);
    if ((st = hcg_output(w, remap[g->outputs[0]], g->output_names[0]))) goto done;
    for (int i = 1; i < g->n_inputs; i++) {
        hcg_id id = g->inputs[i];
        if (!is_past(g->nodes[id].name)) continue;
        int j = present_of(g, g->nodes[id].name);
        int64_t end = INT64_MAX, ax = axis_of[id];
        char name[600];
        hcg_attr a[3] = {HCG_ATTR_IS("starts", &past_len, 1), HCG_ATTR_IS("ends", &end, 1), HCG_ATTR_IS("axes", &ax, 1)};
        snprintf(name, sizeof name, "hcg.new.%s", g->nodes[id].name + strlen(PAST_PREFIX));
        hcg_id fresh = hcg_add_node(w, HCG_OP_SLICE, name, &remap[g->outputs[j]], 1, a, 3);
        TRY_ID(fresh);
        hcg_id in[3] = {state[id], fresh, pos};
        hcg_attr axis = HCG_ATTR_I("axis", ax);
        snprintf(name, sizeof name, "hcg.write.%s", g->nodes[id].name + strlen(PAST_PREFIX));
        TRY_ID(hcg_add_node(w, HCG_OP_CACHE_WRITE, name, in, 3, &axis, 1));
    }
    if (g->path && !(w->path = hcg_strdup(g->path))) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    static const char *const role_names[DEC_ROLES] = {NULL, "hcg.pos", "hcg.new_mask", "hcg.past_mask", "position_ids"};
    for (int r = 0; r < DEC_ROLES; r++) {
        d->input_of[r] = r == DEC_IDS ? 0 : -1;
        for (int i = 0; r != DEC_IDS && i < w->n_inputs; i++)
            if (strcmp(w->nodes[w->inputs[i]].name, role_names[r]) == 0) d->input_of[r] = i;
    }
    hcg_graph_free(d->step);
    d->step = w;
    d->capacity = capacity;
    w = NULL;
done:
    hcg_graph_free(w);
    free(remap);
    free(state);
    free(axis_of);
    return st;
}

/* ---------------------------------------------------------------- pipelines */

/* The layer a cache update belongs to: kind 2 caches by the number in their name (key and value
 * of one layer together), others one layer per update, in order. */
static int layer_key(const hcg_graph *b, const hcg_node *writer, int order)
{
    const char *name = writer->name;
    if (strncmp(name, "hcg.write.", 10) == 0) {
        const char *p = name + 10;
        while (*p && (*p < '0' || *p > '9')) p++;
        if (*p) return atoi(p);
    }
    (void)b;
    return order;
}

hcg_status hcg_decoder_pipeline(void *ctx, hcg_graph *b)
{
    hcg_decoder *d = ctx;
    hcg_session *s = d->session;
    if (!s || s->n_dev < 2) return HCG_OK;
    int *layer = malloc(sizeof(int) * ((size_t)b->n_nodes + 1));
    int *keys = malloc(sizeof(int) * ((size_t)b->n_nodes + 1));
    if (!layer || !keys) {
        free(layer);
        free(keys);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    int n_layers = 0, order = 0;
    for (hcg_id id = 0; id < b->n_nodes; id++) layer[id] = -1;
    /* number the layers in the order their updates come */
    for (hcg_id id = 0; id < b->n_nodes; id++) {
        const hcg_node *n = &b->nodes[id];
        unsigned mask = hcg_op_info_get(n->op)->inplace_inputs;
        if (!mask) continue;
        int key = layer_key(b, n, order++), li = -1;
        for (int k = 0; k < n_layers; k++)
            if (keys[k] == key) li = k;
        if (li < 0) keys[li = n_layers++] = key;
        layer[id] = li;
        for (int i = 0; i < n->n_inputs; i++)
            if (mask & (1u << i)) layer[n->inputs[i]] = li;
    }
    /* every other node: the latest layer it depends on (before the first: the first) */
    for (hcg_id id = 0; id < b->n_nodes; id++) {
        const hcg_node *n = &b->nodes[id];
        if (layer[id] >= 0 || (hcg_op_info_get(n->op)->flags & HCG_OPF_SOURCE)) continue;
        for (int i = 0; i < n->n_inputs; i++)
            if (layer[n->inputs[i]] > layer[id]) layer[id] = layer[n->inputs[i]];
    }
    /* pins: a node its layer's device can run goes there (else the scheduler places it); a cache
     * goes where its update runs */
    hcg_status st = HCG_OK;
    for (hcg_id id = 0; id < b->n_nodes && !st && n_layers > 0; id++) {
        hcg_node *n = &b->nodes[id];
        if (n->pin || (hcg_op_info_get(n->op)->flags & HCG_OPF_SOURCE)) continue;
        int li = layer[id] < 0 ? 0 : layer[id];
        hcg_device *dev = s->devs[(int)((int64_t)li * s->n_dev / n_layers)];
        if (!dev->iface->supports(dev, b, n)) continue;
        if (!(n->pin = hcg_strdup(dev->name))) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        unsigned mask = hcg_op_info_get(n->op)->inplace_inputs;
        for (int i = 0; i < n->n_inputs && !st; i++) {
            hcg_node *c = &b->nodes[n->inputs[i]];
            if ((mask & (1u << i)) && !c->pin && !(c->pin = hcg_strdup(dev->name)))
                st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
    }
    free(layer);
    free(keys);
    return st;
}
