/* session.c — sessions: a graph on a set of devices. A session binds the graph per input-shape
 * signature and caches the plan, keeps weights resident on each device that uses them (uploaded
 * once), runs plans, returns outputs, and records measured node times from profiled runs so later
 * plans use them. When a device fails (a fault, backend/fault.h), the session drops it, warns
 * once, and runs again on the remaining devices. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/budget.h"
#include "backend/cpu/cpu.h"
#include "backend/dist/dist.h"
#include "backend/exec.h"
#include "backend/fault.h"
#include "backend/session_impl.h"
#include "graph/bind.h"
#include "graph/op_table.h"
#include "graph/rank_split.h"

#define MAX_CACHED_PLANS ((int)(sizeof(((hcg_session *)0)->plans) / sizeof(hcg_cached_plan)))

/* ---------------------------------------------------------------- weights */

static hcg_buffer *weight_buffer(hcg_session *s, const hcg_node *n, int dev_index, hcg_plan *p, hcg_status *st)
{
    hcg_device *d = p->devs[dev_index];
    const hcg_tensor *t = n->value;
    *st = HCG_OK;
    const hcg_plan *owner = n->value_owned ? p : NULL;
    for (int i = 0; i < s->n_weights; i++)
        if (s->weights[i].data == t->data && s->weights[i].device == d && s->weights[i].nbytes == t->nbytes &&
            s->weights[i].owner == owner)
            return s->weights[i].buf;
    if (s->n_weights == s->cap_weights) {
        int cap = s->cap_weights ? s->cap_weights * 2 : 64;
        hcg_weight *w = realloc(s->weights, sizeof(hcg_weight) * (size_t)cap);
        if (!w) {
            *st = hcg_error(HCG_ERR_NOMEM, "out of memory");
            return NULL;
        }
        s->weights = w;
        s->cap_weights = cap;
    }
    hcg_weight *w = &s->weights[s->n_weights];
    memset(w, 0, sizeof *w);
    w->data = t->data;
    w->nbytes = t->nbytes;
    w->device = d;
    w->owner = owner;
    if (!(w->buf = calloc(1, sizeof(hcg_buffer)))) {
        *st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (d->host_memory) {
        /* host memory: use the tensor's own bytes, no copy */
        w->buf->device = d;
        w->buf->host = t->data;
        w->buf->size = t->nbytes;
        w->borrowed = true;
    } else {
        *st = hcg_dev_alloc(d, t->nbytes ? t->nbytes : 1, w->buf);
        if (!*st && t->nbytes) *st = hcg_dev_write(d, w->buf, 0, t->data, t->nbytes);
        if (*st) {
            if (w->buf->handle || w->buf->host) d->iface->buffer_free(d, w->buf);
            free(w->buf);
            hcg_error_prefix(*st, "uploading weight '%s' to %s: ", n->name, d->name);
            return NULL;
        }
        s->weight_bytes_uploaded += t->nbytes;
    }
    s->n_weights++;
    return w->buf;
}

/* Gives every weight and state home its buffer (weights uploaded once per device, states from the
 * state store), then views of them the same memory, then points the exec inputs that read them
 * there; finally lets backends prepare their nodes (kernels, programs). */
/* A state's name in the store: its node's name, and for a state whose declared shape has symbolic
 * dims (scratch that follows the batch, such as pipelined soft targets), the bound shape too, so
 * plans for other sizes get their own tensor instead of a conflicting one. */
static void state_key(const hcg_session *s, const hcg_graph *b, hcg_id id, char *key, size_t n)
{
    const hcg_node *node = &b->nodes[id];
    hcg_id o = b->origin ? b->origin[id] : -1;
    bool symbolic = false;
    if (o >= 0 && o < s->g->n_nodes && s->g->nodes[o].op == HCG_OP_STATE)
        for (int d = 0; d < s->g->nodes[o].shape.rank; d++) symbolic |= HCG_DIM_IS_SYM(s->g->nodes[o].shape.dims[d]);
    if (!symbolic) {
        snprintf(key, n, "%s", node->name);
        return;
    }
    char shape[256];
    hcg_shape_format(&node->shape, shape, sizeof shape);
    snprintf(key, n, "%s@%s", node->name, shape);
}

static hcg_status bind_weights_and_prepare(hcg_session *s, hcg_plan *p)
{
    const hcg_graph *g = p->bound;
    hcg_status st = HCG_OK;
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        const hcg_node *n = &g->nodes[id];
        for (int d = 0; d < p->n_dev; d++) {
            hcg_home *h = &p->home[(size_t)id * p->n_dev + d];
            hcg_buffer *b = NULL;
            if (h->kind == HCG_MEM_WEIGHT && (n->op == HCG_OP_PARAM || n->op == HCG_OP_CONSTANT)) {
                if (!(b = weight_buffer(s, n, d, p, &st))) return st;
            } else if (h->kind == HCG_MEM_STATE && n->op == HCG_OP_STATE) {
                if (!s->ext.states) return hcg_node_error(g, n, HCG_ERR_INTERNAL, "a state tensor in a session without a store");
                char key[1024];
                state_key(s, g, id, key, sizeof key);
                if ((st = hcg_state_bind(s->ext.states, key, n->dtype, &n->shape, n->value, p->devs[d], &b))) return st;
            } else if ((h->kind == HCG_MEM_WEIGHT || h->kind == HCG_MEM_STATE) && n->n_inputs > 0) {
                const hcg_home *src = &p->home[(size_t)n->inputs[0] * p->n_dev + d]; /* a view */
                h->t.buf = src->t.buf;
                h->t.offset = src->t.offset;
                continue;
            } else {
                continue;
            }
            h->t.buf = b;
            h->t.offset = 0;
        }
    }
    for (int i = 0; i < p->n_exec; i++) {
        hcg_exec_node *en = &p->exec[i];
        int d = p->place[en->id];
        for (int j = 0; j < en->n_in; j++) {
            const hcg_home *h = &p->home[(size_t)en->node->inputs[j] * p->n_dev + d];
            if (h->kind == HCG_MEM_WEIGHT || h->kind == HCG_MEM_STATE) en->in[j] = h->t;
        }
    }
    for (int i = 0; i < p->n_exec; i++) {
        hcg_exec_node *en = &p->exec[i];
        hcg_device *d = p->devs[p->place[en->id]];
        if ((st = hcg_dev_prepare(d, en))) return st;
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- sessions */

hcg_status hcg_session_new(const hcg_graph *g, const hcg_session_options *opt, hcg_session **out)
{
    return hcg_session_new_ex(g, opt, NULL, out);
}

hcg_status hcg_session_new_ex(const hcg_graph *g, const hcg_session_options *opt, const hcg_session_ext *ext,
                              hcg_session **out)
{
    *out = NULL;
    if (!g) return hcg_error(HCG_ERR_ARG, "session: no graph");
    if (g->n_outputs == 0) return hcg_error(HCG_ERR_GRAPH, "the graph has no outputs");
    hcg_status st = hcg_fault_check(); /* a malformed $HCG_FAULT would silently test nothing */
    if (st) return st;
    hcg_session *s = calloc(1, sizeof *s);
    if (!s) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    s->g = g;
    if (ext) s->ext = *ext;
    /* state tensors (parameters a training step updates in place) live on one device and cannot
     * move: a fault of that device ends the run instead of falling back */
    s->no_fallback = s->ext.states != NULL;
    s->profile = opt && opt->profile;
    s->quiet = opt && opt->quiet;
    const char *passes = opt && opt->passes ? opt->passes : getenv("HCG_PASSES");
    s->passes = hcg_strdup(passes && *passes ? passes : "all");
    if (!s->passes) {
        free(s);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    if ((st = hcg_devices_select(opt ? opt->devices : NULL, s->devs, HCG_MAX_DEVICES, &s->n_dev)) ||
        (st = hcg_budgets(opt ? opt->max_memory : NULL, s->devs, s->n_dev, s->budget))) {
        free(s->passes);
        free(s);
        return st;
    }
    s->measured.n_nodes = g->n_nodes;
    s->measured.n_dev = s->n_dev;
    s->measured.seconds = malloc(sizeof(double) * ((size_t)g->n_nodes * s->n_dev + 1));
    if (!s->measured.seconds) {
        free(s->passes);
        free(s);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < (size_t)g->n_nodes * s->n_dev; i++) s->measured.seconds[i] = NAN;
    bool has_states = false;
    for (hcg_id id = 0; id < g->n_nodes && !has_states; id++) has_states = g->nodes[id].op == HCG_OP_STATE;
    if (!(s->weight_cache = hcg_weight_cache_new())) {
        hcg_session_free(s);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    if (has_states && !s->ext.states) {
        if (!(s->own_states = calloc(1, sizeof *s->own_states))) {
            hcg_session_free(s);
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
        s->ext.states = s->own_states;
        s->no_fallback = true; /* its states (a decoder's caches) cannot move either */
    }
    *out = s;
    return HCG_OK;
}

static void free_weight(hcg_weight *w)
{
    if (!w->borrowed) w->device->iface->buffer_free(w->device, w->buf);
    free(w->buf);
}

/* Frees a cached plan and the weights that only it used. */
static void free_cached_plan(hcg_session *s, hcg_cached_plan *c)
{
    int k = 0;
    for (int i = 0; i < s->n_weights; i++) {
        if (s->weights[i].owner == c->plan) free_weight(&s->weights[i]);
        else s->weights[k++] = s->weights[i];
    }
    s->n_weights = k;
    if (s->last_plan == c->plan) s->last_plan = NULL;
    hcg_plan_free(c->plan);
    free(c->shapes);
}

static void drop_plans(hcg_session *s)
{
    for (int i = 0; i < s->n_plans; i++) free_cached_plan(s, &s->plans[i]);
    s->n_plans = 0;
}

void hcg_session_free(hcg_session *s)
{
    if (!s) return;
    drop_plans(s);
    hcg_state_store_free(s->own_states);
    free(s->own_states);
    for (int i = 0; i < s->n_weights; i++) free_weight(&s->weights[i]);
    free(s->weights);
    hcg_weight_cache_free(s->weight_cache); /* after the plans and the device buffers made from it */
    free(s->measured.seconds);
    free(s->warnings);
    free(s->passes);
    free(s);
}

/* A state that already lives on a device (an earlier plan placed it) stays there: every plan of
 * the session pins it to that device, so plans for other shapes (a prompt, then one token) agree. */
static hcg_status pin_existing_states(hcg_session *s, hcg_graph *bound)
{
    for (hcg_id id = 0; s->ext.states && id < bound->n_nodes; id++) {
        hcg_node *n = &bound->nodes[id];
        if (n->op != HCG_OP_STATE || n->pin) continue;
        char key[1024];
        state_key(s, bound, id, key, sizeof key);
        hcg_state_entry *e = hcg_state_find(s->ext.states, key);
        if (e && e->device && !(n->pin = hcg_strdup(e->device->name))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    return HCG_OK;
}

const char *hcg_session_warnings(const hcg_session *s) { return s && s->warnings ? s->warnings : ""; }

static void warn(hcg_session *s, const char *fmt, ...) HCG_PRINTF(2, 3);
static void warn(hcg_session *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!s->quiet) fprintf(stderr, "hcg: warning: %s\n", line);
    size_t old = s->warnings ? strlen(s->warnings) : 0, add = strlen(line) + 2;
    char *w = realloc(s->warnings, old + add);
    if (!w) return;
    snprintf(w + old, add, "%s\n", line);
    s->warnings = w;
}

/* Drops device d after fault f: its plans and weights go, measurements lose its column, pins to
 * it are released (with a warning), and later plans use the other devices. */
static hcg_status drop_device(hcg_session *s, int d, const hcg_fault *f)
{
    hcg_device *dev = s->devs[d];
    drop_plans(s);
    int k = 0;
    for (int i = 0; i < s->n_weights; i++) {
        if (s->weights[i].device == dev) free_weight(&s->weights[i]);
        else s->weights[k++] = s->weights[i];
    }
    s->n_weights = k;
    int nd = s->n_dev - 1;
    double *m = malloc(sizeof(double) * ((size_t)s->measured.n_nodes * (size_t)nd + 1));
    if (!m) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int n = 0; n < s->measured.n_nodes; n++)
        for (int j = 0, o = 0; j < s->n_dev; j++)
            if (j != d) m[(size_t)n * nd + o++] = s->measured.seconds[(size_t)n * s->n_dev + j];
    free(s->measured.seconds);
    s->measured.seconds = m;
    s->measured.n_dev = nd;
    for (int j = d; j < nd; j++) {
        s->devs[j] = s->devs[j + 1];
        s->budget[j] = s->budget[j + 1];
    }
    s->n_dev = nd;
    snprintf(s->dropped[s->n_dropped], sizeof s->dropped[0], "%s", dev->name);
    s->dropped_names[s->n_dropped] = s->dropped[s->n_dropped];
    s->n_dropped++;
    char rest[512] = "";
    for (int j = 0; j < nd; j++) {
        size_t used = strlen(rest);
        snprintf(rest + used, sizeof rest - used, "%s%s", j ? ", " : "", s->devs[j]->name);
    }
    warn(s, "%s (%s) failed in %s (%s): dropped from this session; running again on %s", dev->name,
         dev->device_name, hcg_dev_call_name(f->call), f->error, rest);
    int pinned = 0;
    for (int i = 0; i < s->g->n_nodes; i++) pinned += s->g->nodes[i].pin && strcmp(s->g->nodes[i].pin, dev->name) == 0;
    if (pinned)
        warn(s, "%d node%s pinned to %s now run%s where the scheduler places them", pinned, pinned == 1 ? "" : "s",
             dev->name, pinned == 1 ? "s" : "");
    return HCG_OK;
}

hcg_status hcg_session_plan(hcg_session *s, const hcg_shape *shapes, hcg_plan **out)
{
    const hcg_graph *g = s->g;
    for (int i = 0; i < s->n_plans; i++) {
        bool same = true;
        for (int k = 0; k < g->n_inputs && same; k++) same = hcg_shape_equal(&s->plans[i].shapes[k], &shapes[k]);
        if (same) {
            *out = s->plans[i].plan;
            return HCG_OK;
        }
    }
    double t0 = hcg_now();
    hcg_graph *bound = NULL;
    hcg_bind_options bo = {.eval = hcg_cpu_eval, .passes = s->passes, .params_variable = s->ext.params_variable,
                          .weight_cache = s->weight_cache};
    hcg_status st = hcg_graph_bind(g, shapes, &bo, &bound);
    if (st) return st;
    if (s->ext.transform && (st = s->ext.transform(s->ext.transform_ctx, bound))) {
        hcg_graph_free(bound);
        return st;
    }
    if ((st = pin_existing_states(s, bound))) {
        hcg_graph_free(bound);
        return st;
    }
    if (hcg_graph_names_ranks(bound)) { /* nodes pinned to other ranks: this rank's part */
        s->no_fallback = true; /* running again alone would repeat messages the others do not expect */
        st = hcg_dist_active()     ? hcg_graph_split_ranks(bound, hcg_dist_rank(), hcg_dist_size())
             : hcg_dist_available() ? hcg_error(HCG_ERR_ARG, "nodes are pinned to ranks (rankN:DEVICE), but hcg is not "
                                                              "running distributed (start it with mpirun; hcg_dist_init)")
                                    : hcg_dist_init(); /* says that this hcg has no MPI */
        if (st) {
            hcg_graph_free(bound);
            return st;
        }
    }
    double t_bind = hcg_now() - t0;
    hcg_plan *p = NULL;
    hcg_plan_options po = {.measured = &s->measured, .budget = s->budget, .released_pins = s->dropped_names,
                           .n_released_pins = s->n_dropped};
    if ((st = hcg_plan_build(bound, s->devs, s->n_dev, &po, &p))) return st;
    if ((st = bind_weights_and_prepare(s, p))) {
        hcg_cached_plan failed = {.shapes = NULL, .plan = p}; /* also frees weights only p used */
        free_cached_plan(s, &failed);
        return st;
    }
    if (s->n_plans == MAX_CACHED_PLANS) {
        free_cached_plan(s, &s->plans[0]);
        memmove(&s->plans[0], &s->plans[1], sizeof(s->plans[0]) * (MAX_CACHED_PLANS - 1));
        s->n_plans--;
    }
    hcg_shape *copy = malloc(sizeof(hcg_shape) * ((size_t)g->n_inputs + 1));
    if (!copy) {
        hcg_plan_free(p);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, shapes, sizeof(hcg_shape) * (size_t)g->n_inputs);
    s->plans[s->n_plans].shapes = copy;
    s->plans[s->n_plans].plan = p;
    s->n_plans++;
    s->plans_built++;
    s->last_setup_seconds = hcg_now() - t0;
    s->last_bind_seconds = t_bind;
    *out = p;
    return HCG_OK;
}

static hcg_status check_inputs(const hcg_graph *g, const hcg_tensor *const *inputs, hcg_shape *shapes)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const hcg_node *in = &g->nodes[g->inputs[i]];
        if (!inputs || !inputs[i]) return hcg_error(HCG_ERR_ARG, "input '%s' is missing", in->name);
        if (inputs[i]->dtype != in->dtype)
            return hcg_error(HCG_ERR_SHAPE, "input '%s' must be %s, got %s", in->name, hcg_dtype_name(in->dtype),
                             hcg_dtype_name(inputs[i]->dtype));
        shapes[i] = inputs[i]->shape;
    }
    return HCG_OK;
}

static hcg_status collect_output(hcg_plan *p, int j, const hcg_tensor *const *inputs, hcg_tensor *t)
{
    const hcg_graph *g = p->bound;
    hcg_id id = g->outputs[j];
    const hcg_node *n = &g->nodes[id];
    if (p->output_direct[j] || t->nbytes == 0) return HCG_OK;
    if (n->op == HCG_OP_INPUT) {
        for (int i = 0; i < g->n_inputs; i++)
            if (g->inputs[i] == id) memcpy(t->data, inputs[i]->data, t->nbytes);
        return HCG_OK;
    }
    if (n->op == HCG_OP_PARAM || n->op == HCG_OP_CONSTANT) {
        memcpy(t->data, n->value->data, t->nbytes);
        return HCG_OK;
    }
    int d = n->op == HCG_OP_STATE ? p->state_owner[id] : p->place[id];
    if (d < 0) return hcg_error(HCG_ERR_INTERNAL, "output '%s' lives on no device", g->output_names[j]);
    const hcg_dev_tensor *home = &p->home[(size_t)id * p->n_dev + d].t;
    if (home->buf->host) {
        memcpy(t->data, (const char *)home->buf->host + home->offset, t->nbytes);
        return HCG_OK;
    }
    hcg_device *dev = p->devs[d];
    hcg_status st = hcg_dev_read(dev, home->buf, home->offset, t->data, t->nbytes);
    return st ? hcg_error_prefix(st, "reading output '%s' from %s: ", g->output_names[j], dev->name) : HCG_OK;
}

static void record_measurements(hcg_session *s, hcg_plan *p)
{
    const hcg_graph *b = p->bound;
    for (int i = 0; i < p->n_exec; i++) {
        const hcg_exec_node *en = &p->exec[i];
        hcg_id o = b->origin ? b->origin[en->id] : -1;
        if (o < 0 || o >= s->measured.n_nodes) continue;
        double *slot = &s->measured.seconds[(size_t)o * s->n_dev + p->place[en->id]];
        *slot = isnan(*slot) ? en->measured_s : 0.5 * (*slot + en->measured_s);
    }
}

/* Runs with the graph's inputs (then the extension's) and the bound graph's outputs: each
 * outputs[j] is either given (caller-owned, checked) or, when NULL and alloc is set, made here. */
static hcg_status run_once(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor **outputs, bool alloc)
{
    const hcg_graph *g = s->g;
    hcg_shape *shapes = malloc(sizeof(hcg_shape) * ((size_t)g->n_inputs + 1));
    hcg_plan *p = NULL;
    hcg_status st;
    if (!shapes) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    if ((st = check_inputs(g, inputs, shapes)) || (st = hcg_session_plan(s, shapes, &p))) {
        free(shapes);
        return st;
    }
    free(shapes);
    const hcg_graph *b = p->bound;
    bool *made = calloc((size_t)b->n_outputs + 1, sizeof(bool));
    if (!made) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b->n_inputs && !st; i++) {
        const hcg_node *in = &b->nodes[b->inputs[i]];
        if (!inputs[i] || inputs[i]->dtype != in->dtype || !hcg_shape_equal(&inputs[i]->shape, &in->shape)) {
            st = hcg_error(HCG_ERR_ARG, "input '%s' is missing or of the wrong type", in->name);
            break;
        }
        p->input_bufs[i].host = inputs[i]->data;
        p->input_bufs[i].size = inputs[i]->nbytes;
    }
    for (int j = 0; j < b->n_outputs && !st; j++) {
        const hcg_node *n = &b->nodes[b->outputs[j]];
        if (!outputs[j] && alloc) {
            if ((st = hcg_tensor_new(n->dtype, &n->shape, &outputs[j]))) break;
            made[j] = true;
        } else if (!outputs[j] || outputs[j]->dtype != n->dtype || !hcg_shape_equal(&outputs[j]->shape, &n->shape)) {
            char want[256];
            hcg_format_type(b, n->dtype, &n->shape, want, sizeof want);
            st = hcg_error(HCG_ERR_ARG, "output '%s' needs a tensor of type %s", b->output_names[j], want);
            break;
        }
        p->output_bufs[j].host = outputs[j]->data;
        p->output_bufs[j].size = outputs[j]->nbytes;
    }
    if (!st) st = hcg_exec_plan(p, s->profile, &s->last_t0);
    for (int j = 0; j < b->n_outputs && !st; j++) st = collect_output(p, j, inputs, outputs[j]);
    for (int i = 0; i < b->n_inputs; i++) p->input_bufs[i].host = NULL;
    for (int j = 0; j < b->n_outputs; j++) p->output_bufs[j].host = NULL;
    s->last_plan = p;
    s->last_profiled = s->profile;
    s->runs++;
    if (st) {
        for (int j = 0; j < b->n_outputs; j++)
            if (made[j]) {
                hcg_tensor_free(outputs[j]);
                outputs[j] = NULL;
            }
        free(made);
        return st;
    }
    free(made);
    if (s->profile) {
        record_measurements(s, p);
        s->measurements_pending = s->n_dev > 1;
    }
    return HCG_OK;
}

/* After a failed attempt st: when it was a fault of one of the session's devices that the
 * session may leave, drops the device and sets *again; else returns the error to report. */
static hcg_status after_failure(hcg_session *s, hcg_status st, bool *again)
{
    *again = false;
    hcg_fault f;
    if (!st || !hcg_fault_last(&f)) return st;
    int d = -1;
    for (int i = 0; i < s->n_dev; i++)
        if (s->devs[i] == f.device) d = i;
    if (d < 0) return st;
    if (s->no_fallback)
        return hcg_error_prefix(st, "%s failed in %s (%s), and this session holds state there that cannot move to "
                                "another device: ", f.device->name, hcg_dev_call_name(f.call), f.error);
    if (s->n_dev == 1)
        return hcg_error_prefix(st, "%s failed in %s (%s), and no other selected device is left: ", f.device->name,
                                hcg_dev_call_name(f.call), f.error);
    if ((st = drop_device(s, d, &f))) return st;
    *again = true;
    return HCG_OK;
}

/* Runs; a device's fault drops it and the run starts again from its inputs on the others. */
static hcg_status run(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor **outputs, bool alloc)
{
    for (bool again = true; again;) {
        hcg_fault_clear();
        double t0 = hcg_now();
        hcg_status st = run_once(s, inputs, outputs, alloc);
        s->last_run_seconds = hcg_now() - t0;
        if ((st = after_failure(s, st, &again)) || !again) return st;
    }
    return HCG_OK;
}

hcg_status hcg_session_prepare(hcg_session *s, const hcg_shape *shapes)
{
    if (!s || !shapes) return hcg_error(HCG_ERR_ARG, "prepare: no session or no shapes");
    for (bool again = true; again;) {
        hcg_fault_clear();
        hcg_plan *p = NULL;
        hcg_status st = hcg_session_plan(s, shapes, &p);
        if (!st) {
            s->last_plan = p;
            s->last_profiled = false;
            return HCG_OK;
        }
        if ((st = after_failure(s, st, &again)) || !again) return st;
    }
    return HCG_OK;
}

const char *hcg_session_passes(const hcg_session *s) { return s ? s->passes : ""; }

hcg_status hcg_session_run(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor **outputs)
{
    if (!s || !outputs) return hcg_error(HCG_ERR_ARG, "run: no session or no output array");
    for (int j = 0; j < s->g->n_outputs; j++) outputs[j] = NULL;
    return run(s, inputs, outputs, true);
}

hcg_status hcg_session_run_into(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor *const *outputs)
{
    if (!s || !outputs) return hcg_error(HCG_ERR_ARG, "run: no session or no output array");
    return run(s, inputs, (hcg_tensor **)outputs, false);
}

hcg_status hcg_session_run_ex(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor **outputs)
{
    if (!s || !outputs) return hcg_error(HCG_ERR_ARG, "run: no session or no output array");
    return run(s, inputs, outputs, true);
}

hcg_status hcg_session_replan(hcg_session *s)
{
    if (!s) return hcg_error(HCG_ERR_ARG, "replan: no session");
    drop_plans(s); /* the measurements stay: the next plan is made with them */
    s->measurements_pending = false;
    return HCG_OK;
}

/* ---------------------------------------------------------------- state tensors */

static hcg_status session_store(hcg_session *s, hcg_state_store **out)
{
    if (!s) return hcg_error(HCG_ERR_ARG, "no session");
    if (!s->ext.states) return hcg_error(HCG_ERR_NOT_FOUND, "the session's graph has no state tensors");
    *out = s->ext.states;
    return HCG_OK;
}

hcg_status hcg_session_get_state(hcg_session *s, const char *name, hcg_tensor **out)
{
    hcg_state_store *store = NULL;
    hcg_status st = session_store(s, &store);
    if (st) return st;
    if (!name) return hcg_error(HCG_ERR_ARG, "get_state: no name");
    hcg_state_entry *e = hcg_state_find(store, name);
    size_t n = strlen(name);
    for (int i = 0; !e && i < store->n; i++) { /* a state with a symbolic shape: "name@[dims]", if one */
        if (strncmp(store->e[i]->name, name, n) != 0 || store->e[i]->name[n] != '@') continue;
        for (int j = i + 1; j < store->n; j++)
            if (strncmp(store->e[j]->name, name, n) == 0 && store->e[j]->name[n] == '@')
                return hcg_error(HCG_ERR_ARG, "state '%s' exists for several shapes ('%s', '%s', ...): name one", name,
                                 store->e[i]->name, store->e[j]->name);
        e = store->e[i];
    }
    if (!e) return hcg_error(HCG_ERR_NOT_FOUND, "no state '%s' (a state exists once a run has used it)", name);
    return hcg_state_read(e, out);
}

hcg_status hcg_session_set_state(hcg_session *s, const char *name, const hcg_tensor *t)
{
    hcg_state_store *store = NULL;
    hcg_status st = session_store(s, &store);
    if (st) return st;
    if (!name || !t) return hcg_error(HCG_ERR_ARG, "set_state: no name or no tensor");
    return hcg_state_write(store, name, t);
}

hcg_status hcg_session_reset_states(hcg_session *s)
{
    if (!s) return hcg_error(HCG_ERR_ARG, "no session");
    if (!s->own_states) return s->ext.states ? hcg_error(HCG_ERR_ARG, "the session's states belong to another owner")
                                             : HCG_OK;
    drop_plans(s); /* plans point at the entries' buffers */
    hcg_state_store_free(s->own_states);
    return HCG_OK;
}
