/* cpu_threads.c — the CPU backend's thread pool: hcg_parallel_for splits a range into chunks that
 * the pool's threads and the calling thread take in turn. The pool is made on first use and
 * lives for the process. One parallel loop runs at a time; a loop started while another runs
 * (a second session, a nested call from inside a chunk) simply runs on its caller's thread, so
 * callers never wait for each other and never deadlock. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/cpu/cpu_kernels.h"

#define MAX_THREADS 256
/* Chunks per thread: a few, so a thread that got a slow chunk does not hold up the others. */
#define CHUNKS_PER_THREAD 4

/* One parallel loop. It lives on the caller's stack; workers that join hold a reference. */
typedef struct job {
    hcg_range_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks;
    atomic_llong next_chunk;
    int refs; /* workers inside the job (guarded by the pool's lock) */
} job;

typedef struct pool {
    int n_threads;        /* including the caller */
    pthread_mutex_t busy; /* held by the thread whose loop the pool is running */
    pthread_mutex_t lock; /* guards current, generation, refs, and the condition variables */
    pthread_cond_t start, done;
    job *current;             /* the loop workers may join, or NULL */
    unsigned long generation; /* bumped for each loop, so a worker joins each one at most once */
} pool;

static pool the_pool;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int pool_threads = 1; /* threads actually running + the caller */

static int detect_threads(void)
{
    const char *env = getenv("HCG_CPU_THREADS");
    if (env && *env) {
        char *end;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (!errno && *end == 0 && v >= 1) return v > MAX_THREADS ? MAX_THREADS : (int)v;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    return cores > MAX_THREADS ? MAX_THREADS : (int)cores;
}

int64_t hcg_cpu_grain_elems(void)
{
    static atomic_llong cached;
    long long v = atomic_load(&cached);
    if (!v) {
        const char *env = getenv("HCG_CPU_GRAIN");
        v = HCG_GRAIN_ELEMS;
        if (env && *env) {
            char *end;
            errno = 0;
            long long e = strtoll(env, &end, 10);
            if (!errno && *end == 0 && e >= 1) v = e;
        }
        atomic_store(&cached, v);
    }
    return (int64_t)v;
}

int hcg_cpu_threads(void)
{
    static atomic_int cached;
    int v = atomic_load(&cached);
    if (!v) {
        v = detect_threads();
        atomic_store(&cached, v);
    }
    return v;
}

/* Takes chunks of a job until none are left. */
static void run_chunks(job *j)
{
    for (;;) {
        int64_t c = (int64_t)atomic_fetch_add(&j->next_chunk, 1);
        if (c >= j->n_chunks) return;
        int64_t begin = c * j->chunk, end = begin + j->chunk;
        if (end > j->n) end = j->n;
        j->fn(j->ctx, begin, end);
    }
}

/* A worker joins each loop it wakes up in time for. One that wakes after the loop's caller has
 * finished it finds no current job and sleeps again: the caller never waits for a sleeping
 * thread, only for the chunks that joined workers are running. */
static void *worker_main(void *arg)
{
    pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->current || p->generation == seen) pthread_cond_wait(&p->start, &p->lock);
        seen = p->generation;
        job *j = p->current;
        j->refs++;
        pthread_mutex_unlock(&p->lock);

        run_chunks(j);

        pthread_mutex_lock(&p->lock);
        if (--j->refs == 0) pthread_cond_signal(&p->done);
    }
    return NULL;
}

static void pool_init(void)
{
    pool *p = &the_pool;
    int want = hcg_cpu_threads();
    pthread_mutex_init(&p->busy, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    int started = 0;
    for (int i = 1; i < want; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, p);
        pthread_attr_destroy(&attr);
        if (rc != 0) break; /* fewer threads than asked for: still correct, just slower */
        started++;
    }
    p->n_threads = started + 1;
    pool_threads = p->n_threads;
}

void hcg_parallel_for(int64_t n, int64_t grain, hcg_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n <= grain || hcg_cpu_threads() <= 1) {
        fn(ctx, 0, n);
        return;
    }
    pthread_once(&pool_once, pool_init);
    pool *p = &the_pool;
    if (pool_threads <= 1 || pthread_mutex_trylock(&p->busy) != 0) {
        fn(ctx, 0, n); /* no pool, or it is running someone else's loop (maybe ours: nested) */
        return;
    }
    int64_t max_chunks = (int64_t)p->n_threads * CHUNKS_PER_THREAD;
    int64_t n_chunks = (n + grain - 1) / grain;
    if (n_chunks > max_chunks) n_chunks = max_chunks;
    job j = {.fn = fn, .ctx = ctx, .n = n, .chunk = (n + n_chunks - 1) / n_chunks};
    j.n_chunks = (n + j.chunk - 1) / j.chunk;
    atomic_init(&j.next_chunk, 0);

    pthread_mutex_lock(&p->lock);
    p->current = &j;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);

    run_chunks(&j);

    /* Every chunk is claimed: close the job to latecomers, wait for those still inside. */
    pthread_mutex_lock(&p->lock);
    p->current = NULL;
    while (j.refs > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->busy);
}
