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

typedef struct pool {
    int n_threads; /* including the caller */
    pthread_mutex_t busy; /* held by the thread whose loop the pool is running */
    pthread_mutex_t lock; /* guards the job fields and the condition variables */
    pthread_cond_t start, done;
    /* The current job. */
    unsigned long generation; /* bumped for each job; workers wait for a change */
    hcg_range_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks;
    atomic_llong next_chunk;
    int workers_left; /* workers that have not finished the current job */
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

/* Takes chunks of the current job until none are left. */
static void run_chunks(pool *p)
{
    for (;;) {
        int64_t c = (int64_t)atomic_fetch_add(&p->next_chunk, 1);
        if (c >= p->n_chunks) return;
        int64_t begin = c * p->chunk, end = begin + p->chunk;
        if (end > p->n) end = p->n;
        p->fn(p->ctx, begin, end);
    }
}

static void *worker_main(void *arg)
{
    pool *p = arg;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->generation == seen) pthread_cond_wait(&p->start, &p->lock);
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);

        run_chunks(p);

        pthread_mutex_lock(&p->lock);
        if (--p->workers_left == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
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
    int64_t chunk = (n + n_chunks - 1) / n_chunks;
    n_chunks = (n + chunk - 1) / chunk;

    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    p->n_chunks = n_chunks;
    atomic_store(&p->next_chunk, 0);
    p->workers_left = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);

    run_chunks(p);

    pthread_mutex_lock(&p->lock);
    while (p->workers_left > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->busy);
}
