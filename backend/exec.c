/* exec.c — running a plan: one worker per device walks that device's steps in plan order,
 * waiting for each step's cross-device dependencies; segments go to the backend's run(), copies
 * move a tensor from its source (host memory or another device) into the destination's arena.
 * Two devices whose backend can copy between them (OpenCL devices of one context) copy directly;
 * other copies between devices go through host memory.
 * Independent segments on different devices therefore run at the same time. The first failure
 * stops every worker and is reported on the caller's thread with its message and, when it was a
 * device's fault, the fault record (backend/fault.h) the session acts on. */
#include "backend/exec.h"

#include "backend/fault.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_state {
    hcg_plan *p;
    bool profile;
    double t0;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *done;
    bool failed;
    hcg_status status;
    hcg_fault fault; /* the failing worker's device fault, if it was one */
    char message[HCG_ERROR_LEN];
    pthread_mutex_t dev_lock[HCG_MAX_DEVICES];
    bool concurrent;
} run_state;

typedef struct worker_arg {
    run_state *rs;
    int device;
} worker_arg;

static void lock_dev(run_state *rs, int d)
{
    if (rs->concurrent) pthread_mutex_lock(&rs->dev_lock[d]);
}
static void unlock_dev(run_state *rs, int d)
{
    if (rs->concurrent) pthread_mutex_unlock(&rs->dev_lock[d]);
}

static hcg_status run_copy(run_state *rs, hcg_step *s)
{
    hcg_plan *p = rs->p;
    int nd = p->n_dev, d = s->device;
    const hcg_node *n = &p->bound->nodes[s->tensor];
    hcg_device *dst = p->devs[d];
    const hcg_dev_tensor *to = &p->home[(size_t)s->tensor * nd + d].t;
    size_t bytes = hcg_node_nbytes(n);
    hcg_status st = HCG_OK;
    if (bytes == 0) return HCG_OK;
    if (s->src_device < 0) {
        /* a graph input, from the caller's memory */
        int which = -1;
        for (int i = 0; i < p->bound->n_inputs; i++)
            if (p->bound->inputs[i] == s->tensor) which = i;
        lock_dev(rs, d);
        st = hcg_dev_write(dst, to->buf, to->offset, p->input_bufs[which].host, bytes);
        unlock_dev(rs, d);
        return st ? hcg_error_prefix(st, "uploading input '%s' to %s: ", n->name, dst->name) : HCG_OK;
    }
    hcg_device *src = p->devs[s->src_device];
    const hcg_dev_tensor *from = &p->home[(size_t)s->tensor * nd + s->src_device].t;
    if (from->buf->host) {
        lock_dev(rs, d);
        st = hcg_dev_write(dst, to->buf, to->offset, (const char *)from->buf->host + from->offset, bytes);
        unlock_dev(rs, d);
    } else if (to->buf->host) {
        lock_dev(rs, s->src_device);
        st = hcg_dev_read(src, from->buf, from->offset, (char *)to->buf->host + to->offset, bytes);
        unlock_dev(rs, s->src_device);
    } else if (hcg_dev_can_copy(dst, src)) {
        /* both devices' locks, the lower index first (the only place a worker holds two) */
        int lo = d < s->src_device ? d : s->src_device, hi = d < s->src_device ? s->src_device : d;
        lock_dev(rs, lo);
        lock_dev(rs, hi);
        st = hcg_dev_copy(dst, to->buf, to->offset, from->buf, from->offset, bytes);
        unlock_dev(rs, hi);
        unlock_dev(rs, lo);
        s->direct = true;
    } else {
        if (!s->staging && !(s->staging = malloc(bytes))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        lock_dev(rs, s->src_device);
        st = hcg_dev_read(src, from->buf, from->offset, s->staging, bytes);
        unlock_dev(rs, s->src_device);
        if (!st) {
            lock_dev(rs, d);
            st = hcg_dev_write(dst, to->buf, to->offset, s->staging, bytes);
            unlock_dev(rs, d);
        }
    }
    return st ? hcg_error_prefix(st, "copying '%s' from %s to %s: ", n->name, src->name, dst->name) : HCG_OK;
}

static hcg_status run_step(run_state *rs, hcg_step *s)
{
    hcg_plan *p = rs->p;
    hcg_device *dev = p->devs[s->device];
    hcg_status st;
    s->t_start = hcg_now() - rs->t0;
    if (s->kind == HCG_STEP_COPY) {
        st = run_copy(rs, s);
    } else {
        lock_dev(rs, s->device);
        st = hcg_dev_run(dev, &p->exec[s->first], s->count, rs->profile);
        unlock_dev(rs, s->device);
    }
    s->t_end = hcg_now() - rs->t0;
    return st;
}

static void fail(run_state *rs, hcg_status st)
{
    pthread_mutex_lock(&rs->mu);
    if (!rs->failed) {
        rs->failed = true;
        rs->status = st;
        hcg_fault_last(&rs->fault);
        snprintf(rs->message, sizeof rs->message, "%s", hcg_last_error());
    }
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    run_state *rs = wa->rs;
    hcg_plan *p = rs->p;
    for (int i = 0; i < p->n_steps; i++) {
        hcg_step *s = &p->steps[i];
        if (s->device != wa->device) continue;
        pthread_mutex_lock(&rs->mu);
        for (;;) {
            bool ready = true;
            for (int k = 0; k < s->n_deps && ready; k++) ready = rs->done[s->deps[k]];
            if (ready || rs->failed) break;
            pthread_cond_wait(&rs->cv, &rs->mu);
        }
        bool stop = rs->failed;
        pthread_mutex_unlock(&rs->mu);
        if (stop) return NULL;
        hcg_status st = run_step(rs, s);
        if (st) {
            fail(rs, st);
            return NULL;
        }
        pthread_mutex_lock(&rs->mu);
        rs->done[i] = 1;
        pthread_cond_broadcast(&rs->cv);
        pthread_mutex_unlock(&rs->mu);
    }
    return NULL;
}

/* HCG_DEBUG_STEPS=1 prints every step with its dependencies before a run. */
static void debug_steps(const hcg_plan *p)
{
    for (int i = 0; i < p->n_steps; i++) {
        const hcg_step *s = &p->steps[i];
        fprintf(stderr, "step %d %s on %s", i, s->kind == HCG_STEP_COPY ? "copy" : "segment", p->devs[s->device]->name);
        if (s->kind == HCG_STEP_COPY)
            fprintf(stderr, " '%s' from %s", p->bound->nodes[s->tensor].name,
                    s->src_device >= 0 ? p->devs[s->src_device]->name : "host");
        else
            for (int k = 0; k < s->count; k++) fprintf(stderr, "%s%s", k ? "," : " [", p->exec[s->first + k].node->name);
        fprintf(stderr, "%s deps:", s->kind == HCG_STEP_COPY || !s->count ? "" : "]");
        for (int k = 0; k < s->n_deps; k++) fprintf(stderr, " %d", s->deps[k]);
        fprintf(stderr, "\n");
    }
}

static bool debug;
static void read_debug(void) { debug = getenv("HCG_DEBUG_STEPS") != NULL; }

hcg_status hcg_exec_plan(hcg_plan *p, bool profile, double *t0_out)
{
    /* sessions on several threads may start runs at once: read the setting once, safely */
    static pthread_once_t debug_once = PTHREAD_ONCE_INIT;
    pthread_once(&debug_once, read_debug);
    if (debug) debug_steps(p);
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.p = p;
    rs.profile = profile;
    rs.t0 = hcg_now();
    if (t0_out) *t0_out = rs.t0;
    bool used[HCG_MAX_DEVICES] = {false};
    int n_used = 0;
    for (int i = 0; i < p->n_steps; i++) {
        if (!used[p->steps[i].device]) n_used++;
        used[p->steps[i].device] = true;
    }
    if (n_used <= 1) {
        /* One device: run inline, in order, with no threads or locks. */
        for (int i = 0; i < p->n_steps; i++) {
            hcg_status st = run_step(&rs, &p->steps[i]);
            if (st) return st;
        }
        return HCG_OK;
    }
    rs.concurrent = true;
    rs.done = calloc((size_t)p->n_steps + 1, 1);
    if (!rs.done) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&rs.mu, NULL);
    pthread_cond_init(&rs.cv, NULL);
    for (int d = 0; d < p->n_dev; d++) pthread_mutex_init(&rs.dev_lock[d], NULL);
    pthread_t threads[HCG_MAX_DEVICES];
    worker_arg args[HCG_MAX_DEVICES];
    bool started[HCG_MAX_DEVICES] = {false};
    int caller_device = -1;
    for (int d = 0; d < p->n_dev; d++) {
        if (!used[d]) continue;
        args[d] = (worker_arg){&rs, d};
        if (caller_device < 0) {
            caller_device = d; /* the caller's thread works for the first device */
            continue;
        }
        if (pthread_create(&threads[d], NULL, worker, &args[d]) != 0) {
            fail(&rs, hcg_error(HCG_ERR_INTERNAL, "cannot start a worker thread for %s", p->devs[d]->name));
            break;
        }
        started[d] = true;
    }
    worker(&args[caller_device]); /* it stops at once, under the lock, if a start failed */
    for (int d = 0; d < p->n_dev; d++)
        if (started[d]) pthread_join(threads[d], NULL);
    for (int d = 0; d < p->n_dev; d++) pthread_mutex_destroy(&rs.dev_lock[d]);
    pthread_cond_destroy(&rs.cv);
    pthread_mutex_destroy(&rs.mu);
    free(rs.done);
    if (rs.failed) {
        hcg_fault_set(&rs.fault); /* the session decides on the caller's thread */
        return hcg_error(rs.status, "%s", rs.message);
    }
    return HCG_OK;
}
