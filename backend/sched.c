/* sched.c — placement: which device runs each node. List scheduling in the HEFT family over the
 * whole graph (upward ranks, earliest finish time with transfer costs, copies occupying the
 * destination device's worker as the executor does), honouring pins and supports(). Devices that
 * contend for the same cores (the cpu backend and POCL on the host) take turns in the simulator,
 * and a device sharing the host's cores is never estimated faster than the cpu (only measured
 * times can say otherwise). The result
 * is compared with running everything on each single device, and the best predicted makespan
 * wins (a tie goes to the single device), so a plan is never predicted worse than the best single
 * device. The same simulator evaluates the greedy priority-list baseline that `hcg plan
 * --simulate` reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dist/dist.h"
#include "backend/sched.h"
#include "graph/op_table.h"

/* The rank bonus of a node that starts communication (HCG_OPF_ASYNC), in seconds: more than any
 * step's compute, so it runs as soon as its inputs exist and the rest of the compute overlaps it. */
#define ASYNC_PRIORITY 1e4

/* The node's measured seconds on dev from a profiled run, or NaN. */
static double measured_time(const hcg_plan *plan, const hcg_measurements *measured, hcg_id id, int dev)
{
    const hcg_graph *g = plan->bound;
    if (measured && measured->seconds && g->origin) {
        hcg_id o = g->origin[id];
        if (o >= 0 && o < measured->n_nodes && dev < measured->n_dev) return measured->seconds[(size_t)o * measured->n_dev + dev];
    }
    return NAN;
}

double hcg_sched_node_time(const hcg_plan *plan, const hcg_measurements *measured, hcg_id id, int dev)
{
    const hcg_graph *g = plan->bound;
    const hcg_node *n = &g->nodes[id];
    if (hcg_op_info_get(n->op)->flags & (HCG_OPF_VIEW | HCG_OPF_SOURCE)) return 0;
    double t = measured_time(plan, measured, id, dev);
    return isnan(t) ? hcg_device_estimate(plan->devs[dev], g, n) : t;
}

/* ---------------------------------------------------------------- feasibility */

static bool is_compute(const hcg_node *n) { return !(hcg_op_info_get(n->op)->flags & HCG_OPF_SOURCE); }

/* The device index a node is pinned to; -1: no pin (or a pin to a device the session dropped,
 * which is released); -2: a device that is not selected. */
static int pinned_device(const hcg_plan *p, const hcg_node *n)
{
    if (!n->pin) return -1;
    for (int d = 0; d < p->n_dev; d++)
        if (strcmp(p->devs[d]->name, n->pin) == 0) return d;
    for (int i = 0; i < p->n_released_pins; i++)
        if (strcmp(p->released_pins[i], n->pin) == 0) return -1;
    return -2;
}

/* Whether node n's own tensors fit device d: each in one buffer of at most max_alloc bytes (for
 * devices with their own memory), and all of them within its budget. why (may be NULL) receives
 * the reason when not. */
static bool fits_device(const hcg_plan *p, const hcg_node *n, int d, char *why, size_t why_len)
{
    const hcg_device *dev = p->devs[d];
    const hcg_graph *g = p->bound;
    size_t total = hcg_node_nbytes(n);
    const hcg_node *largest = n;
    for (int i = 0; i < n->n_inputs; i++) {
        const hcg_node *in = &g->nodes[n->inputs[i]];
        total += hcg_node_nbytes(in);
        if (hcg_node_nbytes(in) > hcg_node_nbytes(largest)) largest = in;
    }
    char a[32], b[32];
    if (!dev->host_memory && dev->max_alloc && hcg_node_nbytes(largest) > dev->max_alloc) {
        if (why) {
            hcg_format_bytes((double)hcg_node_nbytes(largest), a, sizeof a);
            hcg_format_bytes((double)dev->max_alloc, b, sizeof b);
            snprintf(why, why_len, "too large for %s ('%s' needs one buffer of %s, the largest it allows is %s)",
                     dev->name, largest->name, a, b);
        }
        return false;
    }
    if (p->budget[d] && total > p->budget[d]) {
        if (why) {
            hcg_format_bytes((double)total, a, sizeof a);
            hcg_format_bytes((double)p->budget[d], b, sizeof b);
            snprintf(why, why_len, "too large for %s (needs %s, has %s)", dev->name, a, b);
        }
        return false;
    }
    return true;
}

static bool can_run(const hcg_plan *p, const hcg_node *n, int d)
{
    int pin = pinned_device(p, n);
    if (pin >= 0 && pin != d) return false;
    if (p->excluded[d] || !fits_device(p, n, d, NULL, 0)) return false;
    return p->devs[d]->iface->supports(p->devs[d], p->bound, n);
}

/* What placement asks over and over, computed once per plan: whether each device can run each
 * node, the node's predicted time there, and which devices contend for the same cores. */
typedef struct sched_ctx {
    const hcg_plan *p;
    const hcg_measurements *m;
    unsigned char *cap; /* [node * n_dev + dev] */
    double *time;       /* [node * n_dev + dev] */
    bool contend[HCG_MAX_DEVICES][HCG_MAX_DEVICES];
} sched_ctx;

/* The device whose memory is the host's among those sharing d's compute (the cpu for POCL), or -1. */
static int native_device(const hcg_plan *p, int d)
{
    const hcg_device *dev = p->devs[d];
    if (!dev->shares[0] || dev->host_memory) return -1;
    for (int e = 0; e < p->n_dev; e++)
        if (p->devs[e]->host_memory && strcmp(p->devs[e]->shares, dev->shares) == 0) return e;
    return -1;
}

/* A device that shares the host's cores with the cpu backend (POCL) runs on the same cores and
 * the same memory, so its cost profile says nothing the cpu's does not: the two profiles differ
 * by how they were measured (a 64 MB clEnqueueCopyBuffer against a memcpy, CLBlast against
 * oneDNN), not by what the hardware can do, and the cpu backend's kernels are the ones written
 * for this processor. So its estimate is never below the cpu's, with default profiles or
 * calibrated ones: the scheduler has no reason to move work there, the conservative answer.
 * Times measured by a profiled run stand, so a kernel that really is faster there wins. */
static void clamp_shared_estimates(sched_ctx *c)
{
    const hcg_plan *p = c->p;
    for (int d = 0; d < p->n_dev; d++) {
        int nat = native_device(p, d);
        if (nat < 0) continue;
        for (hcg_id id = 0; id < p->bound->n_nodes; id++) {
            size_t k = (size_t)id * p->n_dev;
            if (c->cap[k + d] && c->cap[k + nat] && c->time[k + d] < c->time[k + nat] &&
                isnan(measured_time(p, c->m, id, d)))
                c->time[k + d] = c->time[k + nat];
        }
    }
}

static hcg_status ctx_init(sched_ctx *c, const hcg_plan *p, const hcg_measurements *m)
{
    size_t n = (size_t)p->bound->n_nodes * (size_t)p->n_dev + 1;
    c->p = p;
    c->m = m;
    c->cap = malloc(n);
    c->time = malloc(n * sizeof(double));
    if (!c->cap || !c->time) return hcg_error(HCG_ERR_NOMEM, "out of memory while scheduling");
    for (hcg_id id = 0; id < p->bound->n_nodes; id++) {
        const hcg_node *nd = &p->bound->nodes[id];
        bool compute = !(hcg_op_info_get(nd->op)->flags & HCG_OPF_SOURCE);
        for (int d = 0; d < p->n_dev; d++) {
            size_t k = (size_t)id * p->n_dev + d;
            c->cap[k] = compute && can_run(p, nd, d);
            c->time[k] = c->cap[k] ? hcg_sched_node_time(p, m, id, d) : INFINITY;
        }
    }
    for (int a = 0; a < p->n_dev; a++)
        for (int b = 0; b < p->n_dev; b++) c->contend[a][b] = hcg_devices_contend(p->devs[a], p->devs[b]);
    clamp_shared_estimates(c);
    return HCG_OK;
}

static void ctx_free(sched_ctx *c)
{
    free(c->cap);
    free(c->time);
}

#define CAP(c, id, d) ((c)->cap[(size_t)(id) * (c)->p->n_dev + (d)])
#define TIME(c, id, d) ((c)->time[(size_t)(id) * (c)->p->n_dev + (d)])

static void device_list(const hcg_plan *p, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int d = 0; d < p->n_dev; d++) {
        int w = snprintf(buf + used, len - used, "%s%s", d ? ", " : "", p->devs[d]->name);
        if (w < 0 || (size_t)w >= len - used) break;
        used += (size_t)w;
    }
}

static hcg_status check_feasible(const hcg_plan *p)
{
    const hcg_graph *g = p->bound;
    char devs[256];
    device_list(p, devs, sizeof devs);
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        const hcg_node *n = &g->nodes[id];
        if (!is_compute(n)) continue;
        int pin = pinned_device(p, n);
        if (pin == -2)
            return hcg_node_error(g, n, HCG_ERR_ARG, "pinned to '%s', which is not among the selected devices (%s)",
                                  n->pin, devs);
        char why[512];
        if (pin >= 0 && !fits_device(p, n, pin, why, sizeof why))
            return hcg_node_error(g, n, HCG_ERR_NOMEM, "pinned to '%s', which it is %s", n->pin, why);
        if (pin >= 0 && !p->devs[pin]->iface->supports(p->devs[pin], g, n))
            return hcg_node_error(g, n, HCG_ERR_UNSUPPORTED, "pinned to '%s', which does not support %s", n->pin,
                                  hcg_op_name(n->op));
        bool any = false;
        for (int d = 0; d < p->n_dev && !any; d++) any = can_run(p, n, d);
        if (any) continue;
        /* Say why: a size (the largest buffer, the budget) is a different problem from an op
         * or a dtype no device has a kernel for. */
        char sizes[1024] = "";
        for (int d = 0; d < p->n_dev; d++) {
            if (p->excluded[d] || fits_device(p, n, d, why, sizeof why)) continue;
            size_t used = strlen(sizes);
            snprintf(sizes + used, sizeof sizes - used, "%s%s", used ? "; " : "", why);
        }
        if (sizes[0])
            return hcg_node_error(g, n, HCG_ERR_NOMEM, "no selected device (%s) can hold it: %s", devs, sizes);
        return hcg_node_error(g, n, HCG_ERR_UNSUPPORTED, "no selected device (%s) supports %s with these types",
                              devs, hcg_op_name(n->op));
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- the simulator */

/* Seconds to make node u's output available on device d, given it lives on src (-1: host). */
static double move_time(const hcg_plan *p, hcg_id u, int src, int d)
{
    const hcg_node *n = &p->bound->nodes[u];
    if (n->op == HCG_OP_PARAM || n->op == HCG_OP_CONSTANT) return 0; /* resident weights */
    if (src == d) return 0;
    if (n->op == HCG_OP_STATE && src < 0) return 0; /* not placed yet: it will live where it is first read */
    return hcg_transfer_estimate(src >= 0 ? p->devs[src] : NULL, p->devs[d], hcg_node_nbytes(n));
}

/* State of a list-scheduling simulation. */
typedef struct sim {
    const hcg_plan *p;
    const sched_ctx *c;
    double *avail;  /* per device: when its worker is free */
    double *finish; /* per node */
    double *start;
    int *where;      /* per node: its device (-1: host for inputs and weights) */
    double *arrived; /* per node x device: when a copy of it is on that device (-1: not yet) */
    /* communication started by HCG_OPF_ASYNC nodes: one at a time over the link, in start order */
    double *comm_done; /* per node: when its communication ends */
    double link_avail;
} sim;

static hcg_status sim_init(sim *s, const sched_ctx *c)
{
    const hcg_plan *p = c->p;
    size_t nn = (size_t)p->bound->n_nodes + 1;
    memset(s, 0, sizeof *s);
    s->p = p;
    s->c = c;
    s->avail = calloc((size_t)p->n_dev, sizeof(double));
    s->finish = calloc(nn, sizeof(double));
    s->start = calloc(nn, sizeof(double));
    s->where = malloc(nn * sizeof(int));
    s->arrived = malloc(nn * (size_t)p->n_dev * sizeof(double));
    s->comm_done = calloc(nn, sizeof(double));
    if (!s->avail || !s->finish || !s->start || !s->where || !s->arrived || !s->comm_done)
        return hcg_error(HCG_ERR_NOMEM, "out of memory while scheduling");
    for (size_t i = 0; i < nn; i++) s->where[i] = -1;
    for (size_t i = 0; i < nn * (size_t)p->n_dev; i++) s->arrived[i] = -1;
    return HCG_OK;
}

static void sim_free(sim *s)
{
    free(s->avail);
    free(s->finish);
    free(s->start);
    free(s->where);
    free(s->arrived);
    free(s->comm_done);
}

/* When device d can start new work: its worker is free and so is every device it contends with
 * (devices that share cores take turns on them: running both at once would not be faster). */
static double free_at(const sim *s, int d)
{
    double t = s->avail[d];
    for (int e = 0; e < s->p->n_dev; e++)
        if (s->c->contend[d][e] && s->avail[e] > t) t = s->avail[e];
    return t;
}

/* Earliest finish of node v on device d; commit = true records it. Copies run on d's worker
 * before v, in input order, each once. */
static double sim_place(sim *s, hcg_id v, int d, bool commit)
{
    const hcg_plan *p = s->p;
    const hcg_node *n = &p->bound->nodes[v];
    double t = free_at(s, d), ready = 0;
    int nd = p->n_dev;
    for (int i = 0; i < n->n_after; i++)
        if (s->finish[n->after[i]] > ready) ready = s->finish[n->after[i]];
    for (int i = 0; i < n->n_inputs; i++) {
        hcg_id u = n->inputs[i];
        int src = s->where[u];
        double have = s->finish[u];
        if (hcg_op_info_get(p->bound->nodes[u].op)->flags & HCG_OPF_ASYNC) have = s->comm_done[u];
        if (commit && src < 0 && p->bound->nodes[u].op == HCG_OP_STATE) s->where[u] = d; /* its first reader claims it */
        if (src == d || move_time(p, u, src, d) == 0) {
            if (have > ready) ready = have;
            continue;
        }
        double arrived = s->arrived[(size_t)u * nd + d];
        if (arrived >= 0) {
            if (arrived > ready) ready = arrived;
            continue;
        }
        double c0 = t > have ? t : have;
        t = c0 + move_time(p, u, src, d);
        if (commit) s->arrived[(size_t)u * nd + d] = t;
        if (t > ready) ready = t;
    }
    double st = t > ready ? t : ready;
    double fin = st + TIME(s->c, v, d);
    if (commit) {
        s->avail[d] = fin;
        s->start[v] = st;
        s->finish[v] = fin;
        s->where[v] = d;
        if (hcg_op_info_get(n->op)->flags & HCG_OPF_ASYNC) {
            double begin = fin > s->link_avail ? fin : s->link_avail;
            s->comm_done[v] = s->link_avail = begin + hcg_dist_allreduce_estimate(hcg_node_nbytes(n));
        }
    }
    return fin;
}

/* Upward ranks: average cost plus the longest path of costs to an exit. */
static hcg_status upward_ranks(const sched_ctx *c, double *rank)
{
    const hcg_plan *p = c->p;
    const hcg_graph *g = p->bound;
    int nd = p->n_dev;
    int async_seen = 0; /* ids go down: the last one to start gets the smallest bonus */
    for (hcg_id id = 0; id < g->n_nodes; id++) rank[id] = 0;
    for (hcg_id id = g->n_nodes - 1; id >= 0; id--) {
        const hcg_node *n = &g->nodes[id];
        if (!is_compute(n)) continue;
        /* communication starts as early as it can, the first started first: the compute that
         * does not feed it runs while it is on the way */
        if (hcg_op_info_get(n->op)->flags & HCG_OPF_ASYNC) rank[id] += ASYNC_PRIORITY * ++async_seen;
        double w = 0;
        int cnt = 0;
        for (int d = 0; d < nd; d++) {
            if (!CAP(c, id, d)) continue;
            w += TIME(c, id, d);
            cnt++;
        }
        rank[id] += cnt ? w / cnt : 0;
        /* push to predecessors: rank(u) >= c(u) + rank(v) */
        double comm = 0;
        if (nd > 1) {
            double bytes = 0;
            for (int i = 0; i < n->n_inputs; i++) bytes += (double)hcg_node_nbytes(&g->nodes[n->inputs[i]]);
            comm = hcg_transfer_estimate(p->devs[0], p->devs[nd - 1], (size_t)bytes) / (n->n_inputs ? n->n_inputs : 1);
        }
        for (int i = 0; i < n->n_inputs; i++) {
            hcg_id u = n->inputs[i];
            double r = rank[id] + comm;
            if (r > rank[u]) rank[u] = r;
        }
        for (int i = 0; i < n->n_after; i++) /* control dependencies order like data ones */
            if (rank[id] > rank[n->after[i]]) rank[n->after[i]] = rank[id];
    }
    return HCG_OK;
}

static _Thread_local const double *rank_key;
static int cmp_rank(const void *a, const void *b)
{
    hcg_id x = *(const hcg_id *)a, y = *(const hcg_id *)b;
    /* Larger rank first; a node never ranks below its successors, so ties by id stay topological. */
    if (rank_key[x] > rank_key[y]) return -1;
    if (rank_key[x] < rank_key[y]) return 1;
    return x < y ? -1 : x > y;
}

/* Simulates a given placement in the given order; returns the makespan. */
static double simulate(const sched_ctx *c, const hcg_id *order, int n_order, const int *place, double *start_out,
                       double *time_out)
{
    sim s;
    if (sim_init(&s, c)) {
        sim_free(&s);
        return INFINITY;
    }
    hcg_sched_state_owners(c->p, order, n_order, place, s.where);
    double makespan = 0;
    for (int k = 0; k < n_order; k++) {
        hcg_id v = order[k];
        double fin = sim_place(&s, v, place[v], true);
        if (fin > makespan) makespan = fin;
        if (start_out) start_out[v] = s.start[v];
        if (time_out) time_out[v] = fin - s.start[v];
    }
    sim_free(&s);
    return makespan;
}

/* ---------------------------------------------------------------- state tensors */

/* The device of the state an in-place node updates, if the simulation has placed it (-1). */
static int inplace_home(const sim *s, const hcg_node *n)
{
    unsigned mask = hcg_op_info_get(n->op)->inplace_inputs;
    for (int i = 0; i < n->n_inputs; i++)
        if ((mask & (1u << i)) && s->where[n->inputs[i]] >= 0) return s->where[n->inputs[i]];
    return -1;
}

void hcg_sched_state_owners(const hcg_plan *p, const hcg_id *order, int n_order, const int *place, int *owner)
{
    const hcg_graph *g = p->bound;
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        if (g->nodes[id].op != HCG_OP_STATE) continue;
        owner[id] = pinned_device(p, &g->nodes[id]);
        if (owner[id] < -1) owner[id] = -1;
    }
    /* the node that updates a state in place decides where it lives */
    for (int k = 0; k < n_order; k++) {
        const hcg_node *n = &g->nodes[order[k]];
        unsigned mask = hcg_op_info_get(n->op)->inplace_inputs;
        for (int i = 0; i < n->n_inputs && mask; i++)
            if ((mask & (1u << i)) && owner[n->inputs[i]] < 0) owner[n->inputs[i]] = place[order[k]];
    }
    /* else its first reader */
    for (int k = 0; k < n_order; k++) {
        const hcg_node *n = &g->nodes[order[k]];
        for (int i = 0; i < n->n_inputs; i++)
            if (g->nodes[n->inputs[i]].op == HCG_OP_STATE && owner[n->inputs[i]] < 0) owner[n->inputs[i]] = place[order[k]];
    }
}

/* ---------------------------------------------------------------- strategies */

static hcg_status heft(const sched_ctx *c, const hcg_id *order, int n_order, int *place)
{
    const hcg_plan *p = c->p;
    sim s;
    hcg_status st = sim_init(&s, c);
    if (st) {
        sim_free(&s);
        return st;
    }
    const hcg_graph *g = p->bound;
    for (hcg_id id = 0; id < g->n_nodes; id++)
        if (g->nodes[id].op == HCG_OP_STATE) s.where[id] = pinned_device(p, &g->nodes[id]) >= 0 ? pinned_device(p, &g->nodes[id]) : -1;
    for (int k = 0; k < n_order; k++) {
        hcg_id v = order[k];
        const hcg_node *n = &g->nodes[v];
        int best = -1, home = inplace_home(&s, n);
        double best_fin = INFINITY;
        if (home >= 0 && CAP(c, v, home)) {
            best = home; /* it updates a state in place: it runs where the state lives */
        } else if ((hcg_op_info_get(n->op)->flags & HCG_OPF_VIEW) && s.where[n->inputs[0]] >= 0 &&
                   CAP(c, v, s.where[n->inputs[0]])) {
            /* A view costs nothing where its input lives: keep it there when possible. */
            best = s.where[n->inputs[0]];
        } else {
            for (int d = 0; d < p->n_dev; d++) {
                if (!CAP(c, v, d)) continue;
                double fin = sim_place(&s, v, d, false);
                /* on a tie, the host's own memory: nothing will have to be copied back */
                bool tie_to_host = best >= 0 && fin <= best_fin + 1e-12 && p->devs[d]->host_memory &&
                                   !p->devs[best]->host_memory;
                if (fin < best_fin - 1e-12 || tie_to_host) {
                    best_fin = fin;
                    best = d;
                }
            }
        }
        sim_place(&s, v, best, true);
        place[v] = best;
    }
    sim_free(&s);
    return HCG_OK;
}

static bool single_device(const sched_ctx *c, int d, const hcg_id *order, int n_order, int *place)
{
    for (int k = 0; k < n_order; k++) {
        if (!CAP(c, order[k], d)) return false;
        place[order[k]] = d;
    }
    return true;
}

/* Greedy priority list (the ggml / ONNX Runtime style): the first device in priority order
 * (GPUs, then accelerators, then the rest, each in selection order) that supports the node. */
static void greedy(const sched_ctx *c, const hcg_id *order, int n_order, int *place)
{
    const hcg_plan *p = c->p;
    int prio[HCG_MAX_DEVICES], np = 0;
    for (int pass = 0; pass < 3; pass++)
        for (int d = 0; d < p->n_dev; d++) {
            hcg_device_type t = p->devs[d]->type;
            int rank = t == HCG_DEVICE_GPU ? 0 : t == HCG_DEVICE_ACCELERATOR ? 1 : 2;
            if (rank == pass) prio[np++] = d;
        }
    for (int k = 0; k < n_order; k++) {
        place[order[k]] = prio[np - 1];
        for (int i = 0; i < np; i++) {
            if (CAP(c, order[k], prio[i])) {
                place[order[k]] = prio[i];
                break;
            }
        }
    }
}

/* ---------------------------------------------------------------- entry points */

typedef struct order_info {
    hcg_id *order;
    int n;
} order_info;

static hcg_status rank_order(const sched_ctx *c, order_info *o)
{
    const hcg_graph *g = c->p->bound;
    double *rank = malloc(sizeof(double) * ((size_t)g->n_nodes + 1));
    o->order = malloc(sizeof(hcg_id) * ((size_t)g->n_nodes + 1));
    o->n = 0;
    if (!rank || !o->order) {
        free(rank);
        return hcg_error(HCG_ERR_NOMEM, "out of memory while scheduling");
    }
    upward_ranks(c, rank);
    for (hcg_id id = 0; id < g->n_nodes; id++)
        if (is_compute(&g->nodes[id])) o->order[o->n++] = id;
    rank_key = rank;
    qsort(o->order, (size_t)o->n, sizeof(hcg_id), cmp_rank);
    free(rank);
    return HCG_OK;
}

hcg_status hcg_sched_evaluate(hcg_plan *p, const hcg_measurements *m, hcg_sched_report *r)
{
    const hcg_graph *g = p->bound;
    order_info o = {NULL, 0};
    sched_ctx c;
    memset(&c, 0, sizeof c);
    int *place = NULL, *best_place = NULL;
    hcg_status st = check_feasible(p);
    if (st) return st;
    if ((st = ctx_init(&c, p, m)) || (st = rank_order(&c, &o))) goto done;
    place = malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
    best_place = malloc(sizeof(int) * ((size_t)g->n_nodes + 1));
    if (!place || !best_place) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory while scheduling");
        goto done;
    }
    for (hcg_id id = 0; id < g->n_nodes; id++) place[id] = best_place[id] = -1;
    memset(r, 0, sizeof *r);
    r->n_dev = p->n_dev;

    if ((st = heft(&c, o.order, o.n, place))) goto done;
    r->heft = simulate(&c, o.order, o.n, place, NULL, NULL);
    double best = r->heft;
    memcpy(best_place, place, sizeof(int) * (size_t)g->n_nodes);
    r->choice = -1;
    for (int d = 0; d < p->n_dev; d++) {
        r->single[d] = INFINITY;
        if (!single_device(&c, d, o.order, o.n, place)) continue;
        r->single[d] = simulate(&c, o.order, o.n, place, NULL, NULL);
        /* a tie goes to the single device: the same predicted time without copies or a second worker */
        if (r->single[d] <= best * (1 + 1e-9)) {
            best = r->single[d];
            memcpy(best_place, place, sizeof(int) * (size_t)g->n_nodes);
            r->choice = d;
        }
    }
    greedy(&c, o.order, o.n, place);
    r->greedy = simulate(&c, o.order, o.n, place, NULL, NULL);
    r->chosen = best;

    memcpy(p->place, best_place, sizeof(int) * (size_t)g->n_nodes);
    p->pred_makespan = simulate(&c, o.order, o.n, p->place, p->pred_start, p->pred_time);
done:
    ctx_free(&c);
    free(o.order);
    free(place);
    free(best_place);
    return st;
}

hcg_status hcg_sched_place(hcg_plan *p, const hcg_measurements *m)
{
    hcg_sched_report r;
    return hcg_sched_evaluate(p, m, &r);
}
