/* plan.c — building an execution plan from a bound graph: placement (sched.c), then a walk
 * over the compute nodes in scheduled order that gives every tensor a home on each device that
 * reads it (inserting copies), groups consecutive nodes on a device into segments, records the
 * dependencies between steps of different devices, and hands the arena allocations to the
 * memory planner (memplan.c).
 *
 * Why steps never deadlock: every item (exec node or copy) has a position in one global
 * sequence; a step's key is the position of its last item. A copy waits only for the step that
 * wrote its source, whose key is smaller (the source device's open segment is closed when the
 * copy is made); a reuse dependency (memplan.c) waits only for readers whose positions come
 * before the reusing write. Each worker runs its steps in increasing key order, so every wait
 * points to a smaller key and no cycle can form. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/sched.h"
#include "graph/op_table.h"

typedef struct builder {
    hcg_plan *p;
    int *open;           /* per device: the open segment step, or -1 */
    int *writer_step;    /* per node x device: the step that writes the home */
    int n_pos;           /* items so far (positions) */
    int cap_steps, cap_exec, cap_allocs;
    int *exec_step;      /* per exec node (while building): its segment step */
    int *step_key;       /* per step: the position of its last item (see the comment at the top) */
    int cap_keys;
    int *alloc_of;       /* per node x device: arena alloc id of the home's root, or -1 */
    int **foreign;       /* per alloc: steps on other workers that read it */
    int *n_foreign, *cap_foreign;
    hcg_id *order;       /* compute nodes in scheduled order */
    int n_order;
    hcg_id *root_state;  /* per node: the state tensor whose memory it is (itself, or through views), or -1 */
    bool *state_updated; /* per state: its in-place update is already in the sequence */
    int *state_copy;     /* pairs (state, copy step): copies that read a state on its device */
    int n_state_copy, cap_state_copy;
} builder;

#define HOME(b, id, d) (&(b)->p->home[(size_t)(id) * (b)->p->n_dev + (d)])
#define IDX(b, id, d) ((size_t)(id) * (b)->p->n_dev + (d))

static bool is_host_device(const hcg_device *d) { return d->host_memory; }

static hcg_status grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return HCG_OK;
    int c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *q = realloc(*arr, (size_t)c * elem);
    if (!q) return hcg_error(HCG_ERR_NOMEM, "out of memory while planning");
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
    *arr = q;
    *cap = c;
    return HCG_OK;
}

static int new_step(builder *b, hcg_step_kind kind, int dev)
{
    hcg_plan *p = b->p;
    if (grow((void **)&p->steps, &b->cap_steps, p->n_steps + 1, sizeof(hcg_step))) return -1;
    hcg_step *s = &p->steps[p->n_steps];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->device = dev;
    s->src_device = -1;
    s->tensor = -1;
    s->first = p->n_exec;
    return p->n_steps++;
}

static hcg_status add_dep(hcg_step *s, int dep)
{
    for (int i = 0; i < s->n_deps; i++)
        if (s->deps[i] == dep) return HCG_OK;
    int *q = realloc(s->deps, sizeof(int) * (size_t)(s->n_deps + 1));
    if (!q) return hcg_error(HCG_ERR_NOMEM, "out of memory while planning");
    s->deps = q;
    s->deps[s->n_deps++] = dep;
    return HCG_OK;
}

static int new_alloc(builder *b, int dev, size_t size, int pos, int step)
{
    hcg_plan *p = b->p;
    int cap = b->cap_allocs;
    if (grow((void **)&p->allocs, &cap, p->n_allocs + 1, sizeof(hcg_alloc))) return -1;
    int cap2 = b->cap_allocs;
    if (grow((void **)&b->foreign, &cap2, p->n_allocs + 1, sizeof(int *))) return -1;
    cap2 = b->cap_allocs;
    if (grow((void **)&b->n_foreign, &cap2, p->n_allocs + 1, sizeof(int))) return -1;
    cap2 = b->cap_allocs;
    if (grow((void **)&b->cap_foreign, &cap2, p->n_allocs + 1, sizeof(int))) return -1;
    b->cap_allocs = cap;
    hcg_alloc *a = &p->allocs[p->n_allocs];
    a->device = dev;
    a->size = size;
    a->offset = 0;
    a->first_pos = a->last_pos = pos;
    a->first_step = a->last_step = step;
    return p->n_allocs++;
}

static hcg_status set_key(builder *b, int step, int pos)
{
    hcg_status st = grow((void **)&b->step_key, &b->cap_keys, step + 1, sizeof(int));
    if (!st) b->step_key[step] = pos;
    return st;
}

/* Checks the property that keeps the executor free of deadlocks: every dependency points to a
 * step with a smaller key, and each device's steps come in increasing key order. */
static hcg_status verify_order(const builder *b)
{
    const hcg_plan *p = b->p;
    int last_key[HCG_MAX_DEVICES];
    for (int d = 0; d < p->n_dev; d++) last_key[d] = -1;
    for (int i = 0; i < p->n_steps; i++) {
        const hcg_step *s = &p->steps[i];
        if (b->step_key[i] <= last_key[s->device])
            return hcg_error(HCG_ERR_INTERNAL, "plan: steps of %s out of order (step %d)", p->devs[s->device]->name, i);
        last_key[s->device] = b->step_key[i];
        for (int k = 0; k < s->n_deps; k++)
            if (s->deps[k] < 0 || s->deps[k] >= i || b->step_key[s->deps[k]] >= b->step_key[i] || p->steps[s->deps[k]].device == s->device)
                return hcg_error(HCG_ERR_INTERNAL, "plan: step %d (key %d, %s) waits for step %d", i, b->step_key[i],
                                 p->devs[s->device]->name, s->deps[k]);
    }
    return HCG_OK;
}

/* Notes that the item at pos (in step) reads the home of node id on device dev. */
static hcg_status note_read(builder *b, hcg_id id, int dev, int pos, int step)
{
    int a = b->alloc_of[IDX(b, id, dev)];
    if (a < 0) return HCG_OK;
    hcg_alloc *al = &b->p->allocs[a];
    if (pos > al->last_pos) {
        al->last_pos = pos;
        al->last_step = step;
    }
    if (b->p->steps[step].device != dev) {
        if (b->n_foreign[a] == b->cap_foreign[a]) {
            int c = b->cap_foreign[a] ? b->cap_foreign[a] * 2 : 4;
            int *q = realloc(b->foreign[a], sizeof(int) * (size_t)c);
            if (!q) return hcg_error(HCG_ERR_NOMEM, "out of memory while planning");
            b->foreign[a] = q;
            b->cap_foreign[a] = c;
        }
        b->foreign[a][b->n_foreign[a]++] = step;
    }
    return HCG_OK;
}

static int output_index(const hcg_graph *g, hcg_id id)
{
    for (int j = 0; j < g->n_outputs; j++)
        if (g->outputs[j] == id) return j;
    return -1;
}

/* Gives node u a home on device d, making a copy step if it lives elsewhere. */
static hcg_status ensure_home(builder *b, hcg_id u, int d);
static hcg_status ensure_home(builder *b, hcg_id u, int d)
{
    hcg_plan *p = b->p;
    const hcg_graph *g = p->bound;
    const hcg_node *n = &g->nodes[u];
    hcg_home *h = HOME(b, u, d);
    if (h->kind != HCG_MEM_NONE) return HCG_OK;
    h->t.dtype = n->dtype;
    h->t.shape = n->shape;
    if (n->op == HCG_OP_PARAM || n->op == HCG_OP_CONSTANT) {
        h->kind = HCG_MEM_WEIGHT; /* the session binds the buffer */
        return HCG_OK;
    }
    int src = n->op == HCG_OP_INPUT ? -1 : p->place[u];
    if (n->op == HCG_OP_STATE) {
        src = p->state_owner[u];
        if (src == d) {
            h->kind = HCG_MEM_STATE; /* the session binds the buffer */
            return HCG_OK;
        }
        hcg_status st = src >= 0 ? ensure_home(b, u, src) : hcg_error(HCG_ERR_INTERNAL, "plan: state '%s' has no device", n->name);
        if (st) return st;
    }
    if (n->op == HCG_OP_INPUT && is_host_device(p->devs[d])) {
        int which = -1;
        for (int i = 0; i < g->n_inputs; i++)
            if (g->inputs[i] == u) which = i;
        h->kind = HCG_MEM_INPUT;
        h->index = which;
        h->t.buf = &p->input_bufs[which];
        h->t.offset = 0;
        return HCG_OK;
    }
    if (src == d) return hcg_error(HCG_ERR_INTERNAL, "plan: node '%s' has no home on its own device", n->name);
    /* A copy step on d's worker: from host memory (an input) or from the source device. */
    if (src >= 0 && HOME(b, u, src)->kind == HCG_MEM_NONE)
        return hcg_error(HCG_ERR_INTERNAL, "plan: '%s' is read before it is computed", n->name);
    int step = new_step(b, HCG_STEP_COPY, d);
    if (step < 0) return HCG_ERR_NOMEM;
    int pos = b->n_pos++;
    if (set_key(b, step, pos)) return HCG_ERR_NOMEM;
    hcg_step *s = &p->steps[step];
    s->tensor = u;
    s->src_device = src;
    s->count = 0;
    b->open[d] = -1;
    if (b->root_state[u] >= 0) {
        /* a copy of a state: its in-place update must wait for it */
        if (b->state_updated[b->root_state[u]])
            return hcg_error(HCG_ERR_INTERNAL, "plan: state '%s' is copied after its in-place update",
                             g->nodes[b->root_state[u]].name);
        hcg_status st = grow((void **)&b->state_copy, &b->cap_state_copy, b->n_state_copy + 2, sizeof(int));
        if (st) return st;
        b->state_copy[b->n_state_copy++] = b->root_state[u];
        b->state_copy[b->n_state_copy++] = step;
    }
    if (src >= 0) {
        b->open[src] = -1;
        /* a view of a graph input or weight has no writer step: nothing to wait for */
        int writer = b->writer_step[IDX(b, u, src)];
        hcg_status st = writer >= 0 ? add_dep(s, writer) : HCG_OK;
        if (st || (st = note_read(b, u, src, pos, step))) return st;
    }
    int a = new_alloc(b, d, hcg_node_nbytes(n), pos, step);
    if (a < 0) return HCG_ERR_NOMEM;
    h->kind = HCG_MEM_ARENA; /* buffer and offset set once the memory plan exists */
    h->index = a;
    b->alloc_of[IDX(b, u, d)] = a;
    b->writer_step[IDX(b, u, d)] = step;
    return HCG_OK;
}

/* The state tensors node v reads must not have been updated yet in this run; if v updates some in
 * place, it waits for every copy of them to other devices (same-device readers come before it in
 * the device's own order: the scheduler ordered them before it through v->after). */
static hcg_status order_inplace(builder *b, hcg_id v, int d, int step)
{
    hcg_plan *p = b->p;
    const hcg_graph *g = p->bound;
    const hcg_node *n = &g->nodes[v];
    unsigned mask = hcg_op_info_get(n->op)->inplace_inputs;
    for (int i = 0; i < n->n_inputs; i++) {
        hcg_id root = b->root_state[n->inputs[i]];
        if (root < 0) continue;
        if (b->state_updated[root])
            return hcg_node_error(g, n, HCG_ERR_INTERNAL, "reads state '%s' after its in-place update", g->nodes[root].name);
        if (!(mask & (1u << i))) continue;
        if (p->state_owner[root] != d)
            return hcg_node_error(g, n, HCG_ERR_INTERNAL, "updates state '%s' on %s, but it lives on %s",
                                  g->nodes[root].name, p->devs[d]->name, p->devs[p->state_owner[root]]->name);
        for (int k = 0; k < b->n_state_copy; k += 2) {
            if (b->state_copy[k] != root) continue;
            hcg_status st = add_dep(&p->steps[step], b->state_copy[k + 1]);
            if (st) return st;
        }
    }
    for (int i = 0; i < n->n_inputs; i++)
        if ((mask & (1u << i)) && b->root_state[n->inputs[i]] >= 0) b->state_updated[b->root_state[n->inputs[i]]] = true;
    return HCG_OK;
}

/* Before placement: which tensors are state memory (through views), every in-place update's
 * control dependencies (all other readers of the states it writes), and pins: an update goes
 * where its state is pinned. */
static hcg_status prepare_states(builder *b)
{
    hcg_graph *g = b->p->bound;
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        const hcg_node *n = &g->nodes[id];
        b->root_state[id] = n->op == HCG_OP_STATE ? id
                            : (hcg_op_info_get(n->op)->flags & HCG_OPF_VIEW) ? b->root_state[n->inputs[0]]
                                                                            : -1;
    }
    for (hcg_id w = 0; w < g->n_nodes; w++) {
        unsigned mask = hcg_op_info_get(g->nodes[w].op)->inplace_inputs;
        if (!mask) continue;
        int cap = 0;
        g->nodes[w].n_after = 0; /* made afresh: a plan may be built again (over a device's budget) */
        for (int i = 0; i < g->nodes[w].n_inputs; i++) {
            if (!(mask & (1u << i))) continue;
            hcg_id root = b->root_state[g->nodes[w].inputs[i]];
            if (root < 0 || g->nodes[w].inputs[i] != root)
                return hcg_node_error(g, &g->nodes[w], HCG_ERR_GRAPH, "input %d must be a state tensor itself", i);
            if (g->nodes[root].pin && !g->nodes[w].pin && !(g->nodes[w].pin = hcg_strdup(g->nodes[root].pin)))
                return hcg_error(HCG_ERR_NOMEM, "out of memory while planning");
            for (hcg_id r = 0; r < g->n_nodes; r++) {
                const hcg_node *rn = &g->nodes[r];
                bool reads = false;
                for (int k = 0; k < rn->n_inputs && !reads; k++) reads = b->root_state[rn->inputs[k]] == root;
                if (!reads || r == w) continue;
                if (hcg_op_info_get(rn->op)->inplace_inputs && r > w) /* two updates of one state */
                    return hcg_node_error(g, rn, HCG_ERR_GRAPH, "state '%s' is already updated in place by '%s'",
                                          g->nodes[root].name, g->nodes[w].name);
                if (grow((void **)&g->nodes[w].after, &cap, g->nodes[w].n_after + 1, sizeof(hcg_id)))
                    return HCG_ERR_NOMEM;
                g->nodes[w].after[g->nodes[w].n_after++] = r;
            }
        }
    }
    return HCG_OK;
}

static hcg_status add_exec(builder *b, hcg_id v)
{
    hcg_plan *p = b->p;
    const hcg_graph *g = p->bound;
    const hcg_node *n = &g->nodes[v];
    int d = p->place[v];
    hcg_status st;
    for (int i = 0; i < n->n_inputs; i++)
        if ((st = ensure_home(b, n->inputs[i], d))) return st;
    hcg_home *h = HOME(b, v, d);
    h->t.dtype = n->dtype;
    h->t.shape = n->shape;
    if (hcg_op_info_get(n->op)->flags & HCG_OPF_VIEW) {
        /* Same memory as the viewed tensor, another shape: no work, no step. */
        const hcg_home *src = HOME(b, n->inputs[0], d);
        h->kind = src->kind;
        h->index = src->index;
        h->t.buf = src->t.buf;
        h->t.offset = src->t.offset;
        b->alloc_of[IDX(b, v, d)] = b->alloc_of[IDX(b, n->inputs[0], d)];
        b->writer_step[IDX(b, v, d)] = b->writer_step[IDX(b, n->inputs[0], d)];
        return HCG_OK;
    }
    int step = b->open[d];
    if (step < 0) {
        if ((step = new_step(b, HCG_STEP_SEGMENT, d)) < 0) return HCG_ERR_NOMEM;
        b->open[d] = step;
    }
    int pos = b->n_pos++;
    if ((st = set_key(b, step, pos)) || (st = order_inplace(b, v, d, step))) return st;
    for (int i = 0; i < n->n_inputs; i++)
        if ((st = note_read(b, n->inputs[i], d, pos, step))) return st;
    int j = output_index(g, v);
    if (j >= 0 && is_host_device(p->devs[d]) && !p->output_direct[j]) {
        p->output_direct[j] = true;
        h->kind = HCG_MEM_OUTPUT;
        h->index = j;
        h->t.buf = &p->output_bufs[j];
        h->t.offset = 0;
    } else {
        int a = new_alloc(b, d, hcg_node_nbytes(n), pos, step);
        if (a < 0) return HCG_ERR_NOMEM;
        h->kind = HCG_MEM_ARENA;
        h->index = a;
        b->alloc_of[IDX(b, v, d)] = a;
    }
    b->writer_step[IDX(b, v, d)] = step;
    int cap = b->cap_exec;
    if ((st = grow((void **)&p->exec, &cap, p->n_exec + 1, sizeof(hcg_exec_node))) ||
        (st = grow((void **)&b->exec_step, &b->cap_exec, p->n_exec + 1, sizeof(int))))
        return st;
    b->exec_step[p->n_exec] = step;
    hcg_exec_node *en = &p->exec[p->n_exec++];
    memset(en, 0, sizeof *en);
    en->g = g;
    en->node = n;
    en->id = v;
    en->n_in = n->n_inputs;
    p->steps[step].count++;
    return HCG_OK;
}

/* Outputs read back at the end stay alive to the end. */
static void keep_outputs_alive(builder *b)
{
    hcg_plan *p = b->p;
    const hcg_graph *g = p->bound;
    for (int j = 0; j < g->n_outputs; j++) {
        hcg_id id = g->outputs[j];
        int d = p->place[id];
        if (d < 0 || p->output_direct[j]) continue;
        int a = b->alloc_of[IDX(b, id, d)];
        if (a >= 0) p->allocs[a].last_pos = b->n_pos;
    }
}

/* A segment stays open while other devices' items come between its nodes, so exec nodes were
 * appended interleaved: regroup them so each segment's nodes are contiguous, in order. */
static hcg_status group_exec_by_segment(builder *b)
{
    hcg_plan *p = b->p;
    hcg_exec_node *grouped = malloc(sizeof(hcg_exec_node) * ((size_t)p->n_exec + 1));
    int *next = calloc((size_t)p->n_steps + 1, sizeof(int));
    if (!grouped || !next) {
        free(grouped);
        free(next);
        return hcg_error(HCG_ERR_NOMEM, "out of memory while planning");
    }
    /* a counting sort by step keeps each segment's nodes in their order */
    int k = 0;
    for (int s = 0; s < p->n_steps; s++) {
        p->steps[s].first = k;
        next[s] = k;
        if (p->steps[s].kind == HCG_STEP_SEGMENT) k += p->steps[s].count;
    }
    for (int i = 0; i < p->n_exec; i++) grouped[next[b->exec_step[i]]++] = p->exec[i];
    free(next);
    free(p->exec);
    p->exec = grouped;
    return HCG_OK;
}

/* Exec inputs point at the homes; done after all homes exist (arrays stop moving). */
static hcg_status wire_exec(builder *b)
{
    hcg_plan *p = b->p;
    int total = 0;
    for (int i = 0; i < p->n_exec; i++) total += p->exec[i].n_in;
    p->exec_inputs = calloc((size_t)total + 1, sizeof(hcg_dev_tensor));
    if (!p->exec_inputs) return hcg_error(HCG_ERR_NOMEM, "out of memory while planning");
    int k = 0;
    for (int i = 0; i < p->n_exec; i++) {
        hcg_exec_node *en = &p->exec[i];
        int d = p->place[en->id];
        en->in = &p->exec_inputs[k];
        for (int j = 0; j < en->n_in; j++) en->in[j] = HOME(b, en->node->inputs[j], d)->t;
        k += en->n_in;
        en->out = HOME(b, en->id, d)->t;
    }
    return HCG_OK;
}

/* Memory reuse across workers: a step that writes memory another worker read earlier waits for
 * that reader. Only allocations read by other workers ("foreign" readers) need this. */
static hcg_status add_reuse_deps(builder *b)
{
    hcg_plan *p = b->p;
    for (int y = 0; y < p->n_allocs; y++) {
        if (!b->n_foreign[y]) continue;
        const hcg_alloc *ay = &p->allocs[y];
        for (int x = 0; x < p->n_allocs; x++) {
            const hcg_alloc *ax = &p->allocs[x];
            if (ax->device != ay->device || ax->chunk != ay->chunk || ax->first_pos <= ay->last_pos) continue;
            if (ax->offset >= ay->offset + ay->size || ay->offset >= ax->offset + ax->size) continue;
            for (int k = 0; k < b->n_foreign[y]; k++) {
                hcg_status st = add_dep(&p->steps[ax->first_step], b->foreign[y][k]);
                if (st) return st;
            }
        }
    }
    return HCG_OK;
}

/* qsort has no context argument in C11: the key array is set just before sorting. */
static _Thread_local const double *sort_key;
static int cmp_by_start(const void *a, const void *b)
{
    hcg_id x = *(const hcg_id *)a, y = *(const hcg_id *)b;
    if (sort_key[x] < sort_key[y]) return -1;
    if (sort_key[x] > sort_key[y]) return 1;
    return x < y ? -1 : x > y;
}

/* What the plan needs on device d: its arena, the weights and state tensors resident there (not
 * on host memory: those are the tensors' own bytes), and on the first host-memory device the
 * outputs the session allocates. Fills p->need[d]; returns HCG_ERR_NOMEM with "too large for DEVICE (needs X, has Y)"
 * when that exceeds the budget. */
static hcg_status check_budget(hcg_plan *p, int d)
{
    const hcg_graph *g = p->bound;
    const hcg_device *dev = p->devs[d];
    size_t weights = 0, outputs = 0;
    if (!dev->host_memory) {
        for (hcg_id id = 0; id < g->n_nodes; id++) {
            hcg_mem_kind k = p->home[(size_t)id * p->n_dev + d].kind;
            /* weights and states (views of them share their memory) */
            if ((k == HCG_MEM_WEIGHT || k == HCG_MEM_STATE) && !(hcg_op_info_get(g->nodes[id].op)->flags & HCG_OPF_VIEW))
                weights += hcg_node_nbytes(&g->nodes[id]);
        }
    } else {
        int first_host = 0;
        while (!p->devs[first_host]->host_memory) first_host++;
        if (first_host == d)
            for (int j = 0; j < g->n_outputs; j++) outputs += hcg_node_nbytes(&g->nodes[g->outputs[j]]);
    }
    p->need[d] = p->arena_size[d] + weights + outputs;
    if (!p->budget[d] || p->need[d] <= p->budget[d]) return HCG_OK;
    char need[32], has[32], a[32], w[32], o[32];
    hcg_format_bytes((double)p->need[d], need, sizeof need);
    hcg_format_bytes((double)p->budget[d], has, sizeof has);
    hcg_format_bytes((double)p->arena_size[d], a, sizeof a);
    hcg_format_bytes((double)weights, w, sizeof w);
    hcg_format_bytes((double)outputs, o, sizeof o);
    return hcg_error(HCG_ERR_NOMEM, "too large for %s (needs %s, has %s): %s of intermediate tensors, %s of weights, %s of outputs",
                     dev->name, need, has, a, w, o);
}

/* Builds p (which holds the bound graph, the devices and the limits) up to its arenas' sizes
 * and checks the budgets; *over is the device whose budget was exceeded (-1: none). */
static hcg_status build_once(hcg_plan *p, const hcg_measurements *measured, int *over)
{
    hcg_status st = HCG_OK;
    builder b;
    memset(&b, 0, sizeof b);
    b.p = p;
    *over = -1;
    int n_dev = p->n_dev;
    const hcg_graph *g = p->bound;
    size_t nn = (size_t)g->n_nodes + 1;
    p->place = malloc(sizeof(int) * nn);
    p->home = calloc(nn * (size_t)n_dev, sizeof(hcg_home));
    p->pred_time = calloc(nn, sizeof(double));
    p->input_bufs = calloc((size_t)g->n_inputs + 1, sizeof(hcg_buffer));
    p->output_bufs = calloc((size_t)g->n_outputs + 1, sizeof(hcg_buffer));
    p->output_direct = calloc((size_t)g->n_outputs + 1, sizeof(bool));
    b.open = malloc(sizeof(int) * (size_t)n_dev);
    b.writer_step = malloc(sizeof(int) * nn * (size_t)n_dev);
    b.alloc_of = malloc(sizeof(int) * nn * (size_t)n_dev);
    b.order = malloc(sizeof(hcg_id) * nn);
    b.root_state = malloc(sizeof(hcg_id) * nn);
    b.state_updated = calloc(nn, sizeof(bool));
    p->state_owner = malloc(sizeof(int) * nn);
    if (!p->place || !p->home || !p->pred_time || !p->input_bufs || !p->output_bufs || !p->output_direct || !b.open ||
        !b.writer_step || !b.alloc_of || !b.order || !b.root_state || !b.state_updated || !p->state_owner ||
        !(p->pred_start = calloc(nn, sizeof(double)))) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory while planning");
        goto done;
    }
    for (int d = 0; d < n_dev; d++) b.open[d] = -1;
    for (size_t i = 0; i < nn * (size_t)n_dev; i++) {
        b.writer_step[i] = -1;
        b.alloc_of[i] = -1;
    }
    for (int i = 0; i < g->n_inputs; i++) p->input_bufs[i].device = p->devs[0];
    for (int j = 0; j < g->n_outputs; j++) p->output_bufs[j].device = p->devs[0];

    for (size_t i = 0; i < nn; i++) p->state_owner[i] = -1;
    if ((st = prepare_states(&b))) goto done;
    if ((st = hcg_sched_place(p, measured))) goto done;

    /* Compute nodes in the order the scheduler predicts they start (a topological order). */
    for (hcg_id id = 0; id < g->n_nodes; id++)
        if (p->place[id] >= 0) b.order[b.n_order++] = id;
    sort_key = p->pred_start;
    qsort(b.order, (size_t)b.n_order, sizeof(hcg_id), cmp_by_start);
    hcg_sched_state_owners(p, b.order, b.n_order, p->place, p->state_owner);

    for (int k = 0; k < b.n_order; k++)
        if ((st = add_exec(&b, b.order[k]))) goto done;
    /* Outputs that live on no device yet (inputs, constants) are read from host memory at the end. */
    keep_outputs_alive(&b);
    if ((st = group_exec_by_segment(&b)) || (st = wire_exec(&b))) goto done;
    if ((st = hcg_memplan_assign(p))) goto done;
    /* Before anything is allocated: does each device's share fit? */
    for (int d = 0; d < n_dev && !st; d++)
        if ((st = check_budget(p, d))) *over = d;
    if (st) goto done;
    if ((st = add_reuse_deps(&b)) || (st = verify_order(&b))) goto done;
    /* Arena chunks and offsets are known now: point the homes and exec tensors at them. */
    for (size_t i = 0; i < nn * (size_t)n_dev; i++) {
        hcg_home *h = &p->home[i];
        if (h->kind != HCG_MEM_ARENA) continue;
        const hcg_alloc *a = &p->allocs[h->index];
        h->t.buf = &p->arena[a->device][a->chunk];
        h->t.offset = a->offset;
    }
    for (int i = 0; i < p->n_exec; i++) {
        hcg_exec_node *en = &p->exec[i];
        int d = p->place[en->id];
        for (int j = 0; j < en->n_in; j++) {
            const hcg_home *h = HOME(&b, en->node->inputs[j], d);
            if (h->kind == HCG_MEM_ARENA) en->in[j] = h->t;
        }
        const hcg_home *h = HOME(&b, en->id, d);
        if (h->kind == HCG_MEM_ARENA) en->out = h->t;
    }
done:
    if (b.foreign)
        for (int a = 0; a < b.cap_allocs; a++) free(b.foreign[a]);
    free(b.foreign);
    free(b.n_foreign);
    free(b.cap_foreign);
    free(b.open);
    free(b.writer_step);
    free(b.alloc_of);
    free(b.order);
    free(b.root_state);
    free(b.state_updated);
    free(b.state_copy);
    free(b.exec_step);
    free(b.step_key);
    return st;
}

static hcg_plan *new_plan(hcg_graph *bound, hcg_device **devs, int n_dev, const hcg_plan_options *opt,
                          const bool *excluded)
{
    hcg_plan *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->bound = bound;
    p->n_dev = n_dev;
    for (int i = 0; i < n_dev; i++) {
        p->devs[i] = devs[i];
        p->budget[i] = opt && opt->budget ? opt->budget[i] : 0;
        p->excluded[i] = excluded[i];
    }
    if (opt) {
        p->released_pins = opt->released_pins;
        p->n_released_pins = opt->n_released_pins;
    }
    return p;
}

hcg_status hcg_plan_build(hcg_graph *bound, hcg_device **devs, int n_dev, const hcg_plan_options *opt, hcg_plan **out)
{
    double t0 = hcg_now();
    *out = NULL;
    if (n_dev < 1 || n_dev > HCG_MAX_DEVICES) {
        hcg_graph_free(bound);
        return hcg_error(HCG_ERR_ARG, "a plan needs 1 to %d devices, got %d", HCG_MAX_DEVICES, n_dev);
    }
    bool excluded[HCG_MAX_DEVICES] = {false};
    char first_error[HCG_ERROR_LEN] = "";
    hcg_status first_st = HCG_OK;
    for (;;) {
        hcg_plan *p = new_plan(bound, devs, n_dev, opt, excluded);
        if (!p) {
            hcg_graph_free(bound);
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
        int over = -1;
        hcg_status st = build_once(p, opt ? opt->measured : NULL, &over);
        if (!st) st = hcg_memplan_allocate(p);
        if (!st) {
            p->plan_seconds = hcg_now() - t0;
            *out = p;
            return HCG_OK;
        }
        p->bound = NULL; /* kept for another try */
        hcg_plan_free(p);
        int left = 0;
        for (int d = 0; d < n_dev; d++) left += !excluded[d] && d != over;
        if (!first_st) {
            first_st = st;
            snprintf(first_error, sizeof first_error, "%s", hcg_last_error());
        }
        if (over < 0 || left == 0) break;
        /* That device's share does not fit it: plan again with its work elsewhere. */
        excluded[over] = true;
    }
    hcg_graph_free(bound);
    /* the first reason is the one to tell (a later try fails only because of the exclusions) */
    return hcg_error(first_st, "%s", first_error);
}

void hcg_plan_free(hcg_plan *p)
{
    if (!p) return;
    for (int d = 0; d < p->n_dev; d++) {
        for (int c = 0; c < p->n_arenas[d]; c++)
            if (p->arena[d][c].host || p->arena[d][c].handle) p->devs[d]->iface->buffer_free(p->devs[d], &p->arena[d][c]);
        free(p->arena[d]);
    }
    for (int i = 0; i < p->n_exec; i++)
        if (p->exec[i].state && p->devs[p->place[p->exec[i].id]]->iface->release)
            p->devs[p->place[p->exec[i].id]]->iface->release(p->devs[p->place[p->exec[i].id]], &p->exec[i]);
    for (int s = 0; s < p->n_steps; s++) {
        free(p->steps[s].deps);
        free(p->steps[s].staging);
    }
    free(p->steps);
    free(p->exec);
    free(p->exec_inputs);
    free(p->allocs);
    free(p->place);
    free(p->state_owner);
    free(p->home);
    free(p->pred_time);
    free(p->pred_start);
    free(p->input_bufs);
    free(p->output_bufs);
    free(p->output_direct);
    hcg_graph_free(p->bound);
    free(p);
}
