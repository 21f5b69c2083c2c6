/* cpu_threads.c — the CPU backend's thread pool: hcg_parallel_for splits a range into chunks that
 * the pool's threads and the calling thread take in turn. The pool is made on first use and
 * lives until hcg_shutdown stops it (hcg_cpu_pool_stop; the next loop starts it again). One parallel loop runs at a time; a loop started while another runs
 * (a second session, a nested call from inside a chunk) simply runs on its caller's thread, so
 * callers never wait for each other and never deadlock.
 *
 * A graph's kernels start loops back to back, microseconds apart, so a worker that finished a
 * loop spins for a short while ($HCG_CPU_SPIN_US, default 100 us) watching for the next one before
 * it sleeps on a condition variable: waking a sleeping thread costs tens of microseconds, more on
 * a loaded machine, which is as long as a small kernel takes. The spin is bounded so an idle
 * process gives its cores back, and it yields the core at every step: on a machine whose other
 * cores are busy the pool's two threads may share one core, and a waiter that kept it would only
 * delay the thread it waits for (MiniLM 1 x 128 on this shared 2-core machine: 19 ms with a
 * pause-only spin, 15.5 ms yielding, 14.3 ms on one thread; bench/README.md). Every thread hcg's kernels use is one of these (matrix products
 * too: cpu_matmul.c runs oneDNN single-threaded on tiles), so the cores are never oversubscribed
 * by a second runtime's threads. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/cpu/cpu_kernels.h"
#include "graph/compiler.h"

#define MAX_THREADS 256
/* Chunks per thread: a few, so a thread that got a slow chunk does not hold up the others. */
#define CHUNKS_PER_THREAD 4

/* One parallel loop. It lives on the caller's stack; workers that join hold a reference. */
typedef struct job {
    hcg_range_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks;
    atomic_llong next_chunk;
    atomic_int refs; /* workers inside the job (they join under the pool's lock while it is current) */
} job;

typedef struct pool {
    int n_threads;        /* including the caller */
    pthread_mutex_t busy; /* held by the thread whose loop the pool is running */
    pthread_mutex_t lock; /* guards current, sleepers, bumping generation, and the condition variables */
    pthread_cond_t start, done;
    job *current;               /* the loop workers may join, or NULL */
    atomic_ulong generation;    /* bumped for each loop, so a worker joins each one at most once */
    int sleepers;               /* workers waiting on start */
    bool stop;                  /* hcg_cpu_pool_stop: workers leave */
    pthread_t threads[MAX_THREADS];
    int n_started;
} pool;

static pool the_pool;
/* The pool starts on first use, under this lock; loops check pool_ready without it (set after the
 * threads, with release order, so a loop that sees it sees the whole pool). */
static pthread_mutex_t pool_start_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool pool_ready;
static int pool_threads = 1; /* threads actually running + the caller */

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *env = getenv(name);
    if (!env || !*env) return def;
    char *end;
    errno = 0;
    long v = strtol(env, &end, 10);
    if (errno || *end || v < lo) return def;
    return v > hi ? hi : v;
}

static int detect_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    return (int)env_long("HCG_CPU_THREADS", cores > MAX_THREADS ? MAX_THREADS : cores, 1, MAX_THREADS);
}

int64_t hcg_cpu_grain_elems(void)
{
    static atomic_llong cached;
    long long v = atomic_load(&cached);
    if (!v) {
        v = env_long("HCG_CPU_GRAIN", HCG_GRAIN_ELEMS, 1, 1L << 40);
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

static double spin_seconds(void)
{
    static _Atomic double cached = -1;
    double v = atomic_load(&cached);
    if (v < 0) {
        v = (double)env_long("HCG_CPU_SPIN_US", 100, 0, 1000000) * 1e-6;
        atomic_store(&cached, v);
    }
    return v;
}

/* One step of a spin-wait: a few pause instructions, then the core goes to any other thread
 * that is ready to run on it (on a busy machine that may be this pool's other thread, which is
 * what the waiter waits for); with no one else ready, sched_yield returns at once. */
static void spin_step(void)
{
    for (int i = 0; i < 16; i++) HCG_CPU_RELAX();
    sched_yield();
}

/* Spins until *word differs from old or the spin time is up; true if it changed. */
static bool spin_for_change(const atomic_ulong *word, unsigned long old)
{
    double limit = spin_seconds();
    if (limit <= 0) return false;
    double until = hcg_now() + limit;
    while (atomic_load_explicit(word, memory_order_acquire) == old) {
        if (hcg_now() > until) return false;
        spin_step();
    }
    return true;
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

/* A worker joins each loop it sees in time. One that arrives after the loop's caller has closed
 * it finds no current job and waits for the next: the caller never waits for a thread that has
 * not joined, only for the chunks that joined workers are running. */
static void *worker_main(void *arg)
{
    pool *p = arg;
    unsigned long seen = 0;
    for (;;) {
        spin_for_change(&p->generation, seen);
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->generation) == seen && !p->stop) {
            p->sleepers++;
            pthread_cond_wait(&p->start, &p->lock);
            p->sleepers--;
        }
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        seen = atomic_load(&p->generation);
        job *j = p->current;
        if (j) atomic_fetch_add(&j->refs, 1);
        pthread_mutex_unlock(&p->lock);
        if (!j) continue;

        run_chunks(j);

        /* the last touch of the job: its caller may return as soon as refs reaches 0 */
        if (atomic_fetch_sub(&j->refs, 1) == 1) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
    return NULL;
}

static void pool_start(void)
{
    pthread_mutex_lock(&pool_start_lock);
    if (atomic_load_explicit(&pool_ready, memory_order_relaxed)) {
        pthread_mutex_unlock(&pool_start_lock);
        return;
    }
    pool *p = &the_pool;
    int want = hcg_cpu_threads();
    pthread_mutex_init(&p->busy, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    p->current = NULL;
    p->sleepers = 0;
    p->stop = false;
    p->n_started = 0;
    for (int i = 1; i < want; i++) {
        if (pthread_create(&p->threads[p->n_started], NULL, worker_main, p) != 0)
            break; /* fewer threads than asked for: still correct, just slower */
        p->n_started++;
    }
    p->n_threads = p->n_started + 1;
    pool_threads = p->n_threads;
    atomic_store_explicit(&pool_ready, true, memory_order_release);
    pthread_mutex_unlock(&pool_start_lock);
}

void hcg_cpu_pool_stop(void)
{
    pthread_mutex_lock(&pool_start_lock);
    if (atomic_load_explicit(&pool_ready, memory_order_relaxed)) {
        pool *p = &the_pool;
        pthread_mutex_lock(&p->busy); /* no loop is running (none may start: hcg_shutdown's rule) */
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        atomic_fetch_add(&p->generation, 1); /* ends the spinners' wait too */
        pthread_cond_broadcast(&p->start);
        pthread_mutex_unlock(&p->lock);
        for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
        pthread_mutex_unlock(&p->busy);
        pthread_mutex_destroy(&p->busy);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->start);
        pthread_cond_destroy(&p->done);
        p->n_started = 0;
        pool_threads = 1;
        atomic_store_explicit(&pool_ready, false, memory_order_release);
    }
    pthread_mutex_unlock(&pool_start_lock);
}

void hcg_parallel_for(int64_t n, int64_t grain, hcg_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n <= grain || hcg_cpu_threads() <= 1) {
        fn(ctx, 0, n);
        return;
    }
    if (!atomic_load_explicit(&pool_ready, memory_order_acquire)) pool_start();
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
    atomic_init(&j.refs, 0);

    pthread_mutex_lock(&p->lock);
    p->current = &j;
    atomic_fetch_add(&p->generation, 1);
    if (p->sleepers) pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);

    run_chunks(&j);

    /* Every chunk is claimed: close the job to latecomers, then wait for those inside (spinning
     * first: their last chunk is usually about to end). */
    pthread_mutex_lock(&p->lock);
    p->current = NULL;
    pthread_mutex_unlock(&p->lock);
    if (atomic_load(&j.refs) > 0) {
        double until = hcg_now() + spin_seconds();
        while (atomic_load_explicit(&j.refs, memory_order_acquire) > 0 && hcg_now() < until) spin_step();
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&j.refs) > 0) pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->busy);
}

/* ---------------------------------------------------------------- per-thread scratch */

/* A buffer per thread that grows as needed and is freed when its thread ends, so the kernels that
 * widen a weight panel per tile (cpu_matmul.c) never allocate while they run. */
typedef struct scratch {
    void *p;
    size_t cap;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v)
{
    scratch *s = v;
    free(s->p);
    free(s);
}

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

void *hcg_cpu_scratch(size_t bytes)
{
    pthread_once(&scratch_once, scratch_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(scratch_key, s)) {
            free(s);
            return NULL;
        }
    }
    if (bytes > s->cap) {
        void *p = NULL;
        if (posix_memalign(&p, 64, bytes)) return NULL;
        free(s->p);
        s->p = p;
        s->cap = bytes;
    }
    return s->p;
}
