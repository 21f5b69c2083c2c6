/* dist_mpi.c — hcg's MPI layer (see dist.h). MPI is joined with a thread level that fits hcg's
 * executor (one worker thread per device, plus the communication thread here): every MPI call
 * goes through one lock and only non-blocking MPI calls are made under it, so
 * MPI_THREAD_SERIALIZED suffices and a wait never holds the lock. Gradient all-reduces run on
 * their own communicator, driven by the communication thread (MPI progresses non-blocking
 * collectives only while it is called, so a thread that tests them lets them advance while the
 * backward pass computes); messages and the loop's collectives use two more communicators, so
 * none of them can be confused with another. Waits poll with a short back-off and give up after
 * $HCG_DIST_TIMEOUT seconds with a message naming what was awaited. */
#include "backend/dist/dist.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "backend/backend.h"

static pthread_mutex_t mpi_lock = PTHREAD_MUTEX_INITIALIZER;
static bool initialized, finalized;
static int my_rank, n_ranks = 1;
static MPI_Comm grad_comm, p2p_comm, ctl_comm;
static double timeout_s = 300;
static double ar_latency, ar_per_byte; /* the all-reduce cost model */

/* ---------------------------------------------------------------- errors and waiting */

static hcg_status mpi_error(int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", rc);
    return hcg_error(HCG_ERR_DEVICE, "rank %d: %s failed: %s", my_rank, what, msg);
}

/* A waiting thread's pause between polls. MPI moves a large message in fragments, each only when
 * MPI is called, so while the partners answer the poll must be tight (a yield leaves the core to
 * compute threads that want it); a wait that lasts means a partner is late, and then a
 * millisecond's sleep costs nothing. */
#define TIGHT_POLL_S 0.05
static void backoff(double since)
{
    if (hcg_now() - since < TIGHT_POLL_S) {
        sched_yield();
        return;
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* The communication thread's pause: it moves the all-reduces along while the backward pass
 * computes, so it polls gently and leaves the cores to the compute; the kernel that waits for a
 * job polls tightly itself (backoff). */
#define BACKGROUND_POLL_NS 50000
static void background_pause(void)
{
    struct timespec ts = {0, BACKGROUND_POLL_NS};
    nanosleep(&ts, NULL);
}

static hcg_status timed_out(const char *what, double waited)
{
    return hcg_error(HCG_ERR_RUNTIME,
                     "rank %d: %s got no answer from the other ranks within %.0f s: a rank has died or stopped "
                     "(HCG_DIST_TIMEOUT sets the limit)",
                     my_rank, what, waited);
}

/* Polls one request until it completes or the time limit passes. */
static hcg_status wait_request(MPI_Request *r, const char *what)
{
    double t0 = hcg_now();
    for (;;) {
        int done = 0;
        pthread_mutex_lock(&mpi_lock);
        int rc = MPI_Test(r, &done, MPI_STATUS_IGNORE);
        pthread_mutex_unlock(&mpi_lock);
        if (rc != MPI_SUCCESS) return mpi_error(rc, what);
        if (done) return HCG_OK;
        double waited = hcg_now() - t0;
        if (waited > timeout_s) return timed_out(what, waited);
        backoff(t0);
    }
}

static hcg_status need_init(const char *what)
{
    if (initialized && !finalized) return HCG_OK;
    return hcg_error(HCG_ERR_ARG, "%s: hcg is not running distributed (call hcg_dist_init first, under mpirun)", what);
}

/* ---------------------------------------------------------------- the communication thread */

enum { JOB_IDLE, JOB_QUEUED, JOB_ACTIVE, JOB_DONE, JOB_FAILED };

typedef struct job {
    float *buf;
    int n;
    int state;
    long seq; /* the order jobs start in */
    MPI_Request req;
    char what[128];
    char error[512];
} job;

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_work = PTHREAD_COND_INITIALIZER, q_done = PTHREAD_COND_INITIALIZER;
static job **jobs;
static int n_jobs, cap_jobs;
static long next_seq;
static bool comm_stop, comm_started;
static pthread_t comm_thread;

static job *find_job(const float *buf)
{
    for (int i = 0; i < n_jobs; i++)
        if (jobs[i]->buf == buf) return jobs[i];
    return NULL;
}

/* With q_lock held: the queued job that comes first, or NULL. */
static job *first_queued(void)
{
    job *best = NULL;
    for (int i = 0; i < n_jobs; i++)
        if (jobs[i]->state == JOB_QUEUED && (!best || jobs[i]->seq < best->seq)) best = jobs[i];
    return best;
}

/* With q_lock held: starts the queued jobs in order and tests the running ones. Both the
 * communication thread and a waiting kernel pump (the waiter drives its own job to the end without
 * waiting for a thread switch). Returns whether jobs are still running; *changed tells whether one
 * started or ended. */
static bool pump(bool *changed)
{
    job *j;
    while ((j = first_queued())) { /* start everything given, in order */
        pthread_mutex_lock(&mpi_lock);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, j->buf, j->n, MPI_FLOAT, MPI_SUM, grad_comm, &j->req);
        pthread_mutex_unlock(&mpi_lock);
        *changed = true;
        j->state = rc == MPI_SUCCESS ? JOB_ACTIVE : JOB_FAILED;
        if (rc != MPI_SUCCESS) {
            mpi_error(rc, j->what);
            snprintf(j->error, sizeof j->error, "%s", hcg_last_error());
        }
    }
    bool active = false;
    for (int i = 0; i < n_jobs; i++) {
        j = jobs[i];
        if (j->state != JOB_ACTIVE) continue;
        int done = 0;
        pthread_mutex_lock(&mpi_lock);
        int rc = MPI_Test(&j->req, &done, MPI_STATUS_IGNORE);
        pthread_mutex_unlock(&mpi_lock);
        if (rc != MPI_SUCCESS) {
            mpi_error(rc, j->what);
            snprintf(j->error, sizeof j->error, "%s", hcg_last_error());
            j->state = JOB_FAILED;
        } else if (done) {
            j->state = JOB_DONE;
        }
        if (j->state != JOB_ACTIVE) *changed = true;
        else active = true;
    }
    if (*changed) pthread_cond_broadcast(&q_done);
    return active;
}

/* Sends in flight: their own copy of the data, freed when MPI is done with it (pump tests them).
 * A send never waits for its receiver, so two ranks that send to each other before receiving do
 * not wait for each other. */
typedef struct pending_send {
    MPI_Request req;
    void *copy;
    struct pending_send *next;
} pending_send;
static pending_send *sends;

/* With q_lock held: frees the sends MPI has finished; returns whether some are still in flight. */
static bool pump_sends(void)
{
    for (pending_send **p = &sends; *p;) {
        int done = 0;
        pthread_mutex_lock(&mpi_lock);
        int rc = MPI_Test(&(*p)->req, &done, MPI_STATUS_IGNORE);
        pthread_mutex_unlock(&mpi_lock);
        if (rc == MPI_SUCCESS && !done) {
            p = &(*p)->next;
            continue;
        }
        pending_send *gone = *p; /* a failed send is reported by the receiver's wait */
        *p = gone->next;
        free(gone->copy);
        free(gone);
    }
    return sends != NULL;
}

static void *comm_main(void *arg)
{
    (void)arg;
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1000UL); /* sleep 50 us, not the default slack's 100 */
#endif
    pthread_mutex_lock(&q_lock);
    while (!comm_stop) {
        bool changed = false;
        bool active = pump(&changed);
        active = pump_sends() || active;
        if (!active) {
            if (!first_queued() && !sends && !comm_stop) pthread_cond_wait(&q_work, &q_lock);
            continue;
        }
        pthread_mutex_unlock(&q_lock);
        background_pause();
        pthread_mutex_lock(&q_lock);
    }
    pthread_mutex_unlock(&q_lock);
    return NULL;
}

hcg_status hcg_dist_allreduce_start(float *buf, size_t n, const char *what)
{
    hcg_status st = need_init(what);
    if (st) return st;
    if (n > (size_t)INT32_MAX) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: %zu elements in one all-reduce", what, n);
    pthread_mutex_lock(&q_lock);
    job *j = find_job(buf);
    if (j && (j->state == JOB_QUEUED || j->state == JOB_ACTIVE)) {
        pthread_mutex_unlock(&q_lock);
        return hcg_error(HCG_ERR_INTERNAL, "%s: started again while the last all-reduce on its memory runs", what);
    }
    if (!j) {
        if (n_jobs == cap_jobs) {
            int cap = cap_jobs ? cap_jobs * 2 : 16;
            job **grown = realloc(jobs, sizeof *jobs * (size_t)cap);
            if (!grown) {
                pthread_mutex_unlock(&q_lock);
                return hcg_error(HCG_ERR_NOMEM, "out of memory");
            }
            jobs = grown;
            cap_jobs = cap;
        }
        if (!(j = calloc(1, sizeof *j))) {
            pthread_mutex_unlock(&q_lock);
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
        jobs[n_jobs++] = j;
    }
    j->buf = buf;
    j->n = (int)n;
    j->seq = next_seq++;
    j->state = JOB_QUEUED;
    j->error[0] = 0;
    snprintf(j->what, sizeof j->what, "%s", what);
    pthread_cond_signal(&q_work);
    pthread_mutex_unlock(&q_lock);
    return HCG_OK;
}

hcg_status hcg_dist_allreduce_wait(const float *buf, const char *what)
{
    hcg_status st = need_init(what);
    if (st) return st;
    double t0 = hcg_now();
    pthread_mutex_lock(&q_lock);
    job *j = find_job(buf);
    if (!j || j->state == JOB_IDLE) {
        pthread_mutex_unlock(&q_lock);
        return hcg_error(HCG_ERR_INTERNAL, "%s: no all-reduce was started on its input", what);
    }
    while (j->state == JOB_QUEUED || j->state == JOB_ACTIVE) {
        bool changed = false;
        pump(&changed);
        if (j->state != JOB_QUEUED && j->state != JOB_ACTIVE) break;
        double waited = hcg_now() - t0;
        if (waited > timeout_s) {
            pthread_mutex_unlock(&q_lock);
            return timed_out(what, waited);
        }
        pthread_mutex_unlock(&q_lock);
        backoff(t0);
        pthread_mutex_lock(&q_lock);
    }
    if (j->state == JOB_FAILED) st = hcg_error(HCG_ERR_DEVICE, "%s", j->error);
    pthread_mutex_unlock(&q_lock);
    return st;
}

/* ---------------------------------------------------------------- messages and collectives */

hcg_status hcg_dist_send(const void *buf, size_t bytes, int to, int tag, const char *what)
{
    hcg_status st = need_init(what);
    if (st) return st;
    if (bytes > (size_t)INT32_MAX) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: a message of %zu bytes", what, bytes);
    if (to < 0 || to >= n_ranks) return hcg_error(HCG_ERR_ARG, "%s: there is no rank %d (the job has %d)", what, to, n_ranks);
    pending_send *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->copy = malloc(bytes ? bytes : 1))) {
        free(ps);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    memcpy(ps->copy, buf, bytes);
    pthread_mutex_lock(&q_lock);
    pthread_mutex_lock(&mpi_lock);
    int rc = MPI_Isend(ps->copy, (int)bytes, MPI_BYTE, to, tag, p2p_comm, &ps->req);
    pthread_mutex_unlock(&mpi_lock);
    if (rc == MPI_SUCCESS) {
        ps->next = sends;
        sends = ps;
        pthread_cond_signal(&q_work); /* the communication thread moves it along */
    }
    pthread_mutex_unlock(&q_lock);
    if (rc != MPI_SUCCESS) {
        free(ps->copy);
        free(ps);
        return mpi_error(rc, what);
    }
    return HCG_OK;
}

hcg_status hcg_dist_recv(void *buf, size_t bytes, int from, int tag, const char *what)
{
    hcg_status st = need_init(what);
    if (st) return st;
    if (bytes > (size_t)INT32_MAX) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: a message of %zu bytes", what, bytes);
    if (from < 0 || from >= n_ranks)
        return hcg_error(HCG_ERR_ARG, "%s: there is no rank %d (the job has %d)", what, from, n_ranks);
    MPI_Request r;
    pthread_mutex_lock(&mpi_lock);
    int rc = MPI_Irecv(buf, (int)bytes, MPI_BYTE, from, tag, p2p_comm, &r);
    pthread_mutex_unlock(&mpi_lock);
    return rc != MPI_SUCCESS ? mpi_error(rc, what) : wait_request(&r, what);
}

hcg_status hcg_dist_sum(double *v, int n, const char *what)
{
    hcg_status st = need_init(what);
    if (st) return st;
    MPI_Request r;
    pthread_mutex_lock(&mpi_lock);
    int rc = MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, ctl_comm, &r);
    pthread_mutex_unlock(&mpi_lock);
    return rc != MPI_SUCCESS ? mpi_error(rc, what) : wait_request(&r, what);
}

hcg_status hcg_dist_bcast(void *buf, size_t bytes, int root, const char *what)
{
    hcg_status st = need_init(what);
    if (st) return st;
    if (bytes > (size_t)INT32_MAX) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: %zu bytes in one broadcast", what, bytes);
    MPI_Request r;
    pthread_mutex_lock(&mpi_lock);
    int rc = MPI_Ibcast(buf, (int)bytes, MPI_BYTE, root, ctl_comm, &r);
    pthread_mutex_unlock(&mpi_lock);
    return rc != MPI_SUCCESS ? mpi_error(rc, what) : wait_request(&r, what);
}

hcg_status hcg_dist_gather(const void *mine, size_t bytes, void *all, int root, const char *what)
{
    hcg_status st = need_init(what);
    if (st) return st;
    if (bytes > (size_t)INT32_MAX) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: %zu bytes in one gather", what, bytes);
    MPI_Request r;
    pthread_mutex_lock(&mpi_lock);
    int rc = MPI_Igather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, root, ctl_comm, &r);
    pthread_mutex_unlock(&mpi_lock);
    return rc != MPI_SUCCESS ? mpi_error(rc, what) : wait_request(&r, what);
}

hcg_status hcg_dist_agree(hcg_status st, const char *what)
{
    if (!initialized || finalized || n_ranks == 1) return st;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", st ? hcg_last_error() : "");
    /* the lowest failed rank, by a sum of one-hot flags */
    double *failed = calloc((size_t)n_ranks, sizeof(double));
    if (!failed) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    failed[my_rank] = st ? (double)st : 0;
    hcg_status cst = hcg_dist_sum(failed, n_ranks, what);
    int first = -1;
    for (int r = 0; r < n_ranks && first < 0 && !cst; r++)
        if (failed[r] != 0) first = r;
    hcg_status code = first >= 0 ? (hcg_status)(int)failed[first] : HCG_OK;
    free(failed);
    if (cst) return cst;
    if (first < 0) return HCG_OK;
    if ((cst = hcg_dist_bcast(msg, sizeof msg, first, what))) return cst;
    msg[sizeof msg - 1] = 0;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "rank %d: ", first);
    if (first == my_rank || strncmp(msg, prefix, strlen(prefix)) == 0) return hcg_error(code, "%s", msg);
    return hcg_error(code, "%s%s", prefix, msg);
}

/* ---------------------------------------------------------------- the cost model */

/* The fastest of a few all-reduces of n floats, the slowest rank's figure. */
static double time_allreduce(float *buf, int n)
{
    double best = INFINITY;
    for (int k = 0; k < 5; k++) {
        MPI_Barrier(ctl_comm);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, ctl_comm);
        double t = MPI_Wtime() - t0;
        if (t < best) best = t;
    }
    MPI_Allreduce(MPI_IN_PLACE, &best, 1, MPI_DOUBLE, MPI_MAX, ctl_comm);
    return best;
}

static void measure_allreduce(void)
{
    if (n_ranks == 1) return;
    enum { BIG = 1 << 18 }; /* 1 MiB of floats */
    float *buf = calloc(BIG, sizeof(float));
    if (!buf) return;
    double small = time_allreduce(buf, 1), big = time_allreduce(buf, BIG);
    free(buf);
    ar_latency = small;
    ar_per_byte = big > small ? (big - small) / (BIG * sizeof(float)) : 0;
}

double hcg_dist_allreduce_estimate(size_t bytes)
{
    if (!initialized || n_ranks == 1) return 0;
    return ar_latency + ar_per_byte * (double)bytes;
}

void hcg_dist_allreduce_model(double *latency_s, double *seconds_per_byte)
{
    *latency_s = ar_latency;
    *seconds_per_byte = ar_per_byte;
}

double hcg_dist_timeout(void) { return timeout_s; }

/* ---------------------------------------------------------------- the job */

bool hcg_dist_available(void) { return true; }

bool hcg_dist_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

bool hcg_dist_active(void) { return initialized && !finalized; }
int hcg_dist_rank(void) { return my_rank; }
int hcg_dist_size(void) { return n_ranks; }

static void at_exit(void) { hcg_dist_finalize(); }

hcg_status hcg_dist_init(void)
{
    if (initialized) return finalized ? hcg_error(HCG_ERR_ARG, "MPI was finalized: a process joins one job once") : HCG_OK;
    const char *t = getenv("HCG_DIST_TIMEOUT");
    if (t && *t) {
        char *end;
        double v = strtod(t, &end);
        if (*end || !(v > 0)) return hcg_error(HCG_ERR_ARG, "HCG_DIST_TIMEOUT='%s' is not a number of seconds > 0", t);
        timeout_s = v;
    }
    int provided = 0, already = 0;
    MPI_Initialized(&already);
    if (!already && MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return hcg_error(HCG_ERR_DEVICE, "MPI_Init_thread failed");
    if (already) MPI_Query_thread(&provided);
    if (provided < MPI_THREAD_SERIALIZED)
        return hcg_error(HCG_ERR_UNSUPPORTED, "this MPI gives thread level %d; hcg needs MPI_THREAD_SERIALIZED (%d)",
                         provided, MPI_THREAD_SERIALIZED);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    MPI_Comm_dup(MPI_COMM_WORLD, &grad_comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &p2p_comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &ctl_comm);
    /* failures come back as codes, which hcg reports, instead of ending the process silently */
    MPI_Comm_set_errhandler(grad_comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(p2p_comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(ctl_comm, MPI_ERRORS_RETURN);
    measure_allreduce();
    if (pthread_create(&comm_thread, NULL, comm_main, NULL) != 0)
        return hcg_error(HCG_ERR_INTERNAL, "cannot start the communication thread");
    comm_started = true;
    initialized = true;
    atexit(at_exit);
    return HCG_OK;
}

void hcg_dist_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
}

void hcg_dist_finalize(void)
{
    if (!initialized || finalized) return;
    double t0 = hcg_now(); /* the last messages reach their receivers first */
    pthread_mutex_lock(&q_lock);
    while (pump_sends() && hcg_now() - t0 < timeout_s) {
        pthread_mutex_unlock(&q_lock);
        backoff(t0);
        pthread_mutex_lock(&q_lock);
    }
    pthread_mutex_unlock(&q_lock);
    pthread_mutex_lock(&q_lock);
    comm_stop = true;
    pthread_cond_signal(&q_work);
    pthread_mutex_unlock(&q_lock);
    if (comm_started) pthread_join(comm_thread, NULL);
    comm_started = false;
    for (int i = 0; i < n_jobs; i++) free(jobs[i]);
    free(jobs);
    jobs = NULL;
    n_jobs = cap_jobs = 0;
    MPI_Comm_free(&grad_comm);
    MPI_Comm_free(&p2p_comm);
    MPI_Comm_free(&ctl_comm);
    HCG_LEAK_CHECK_NOW(); /* hcg's leaks, before MPI's teardown (see compiler.h) */
    MPI_Finalize();
    finalized = true;
}
