/* test_threads.c — the library used from several threads at once, from the very first call: four
 * threads start together and each discovers the devices, finds the cache folder, and runs its own
 * session of the ensemble (members pinned to two fake devices, so every run has executor workers)
 * a few times, while fault injection counts their calls. Every result must match the PyTorch
 * reference. Run under ThreadSanitizer (build-tsan, scripts/test.sh) this shows the lazily
 * initialised statics (device discovery, the cache folder, the executor's debug switch, the
 * fault-injection spec) are set up safely. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cache.h"
#include "backend/fault.h"
#include "testlib.h"

#define THREADS 4
#define RUNS 5

static hcg_tensor *x, *want;
static char model[1024]; /* resolved before the threads start (tl_src is not thread-safe) */
static pthread_barrier_t start;

typedef struct job {
    int bad, done;
    char error[512];
} job;

static void *work(void *arg)
{
    job *j = arg;
    pthread_barrier_wait(&start);
    (void)hcg_cache_dir();
    (void)hcg_device_count();
    hcg_graph *g = NULL;
    hcg_session *s = NULL;
    if (hcg_load(model, &g) ||
        hcg_session_new(g, &(hcg_session_options){.devices = "cpu,fake:0,fake:1"}, &s)) {
        snprintf(j->error, sizeof j->error, "%s", hcg_last_error());
        j->bad++;
        hcg_graph_free(g);
        return NULL;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (strncmp(g->nodes[i].name, "a_", 2) == 0 && g->nodes[i].op != HCG_OP_PARAM) hcg_pin(g, i, "fake:0");
        if (strncmp(g->nodes[i].name, "b_", 2) == 0 && g->nodes[i].op != HCG_OP_PARAM) hcg_pin(g, i, "fake:1");
    }
    for (int r = 0; r < RUNS; r++) {
        hcg_tensor *y = NULL;
        if (hcg_session_run(s, (const hcg_tensor *const *)&x, &y)) {
            snprintf(j->error, sizeof j->error, "%s", hcg_last_error());
            j->bad++;
            continue;
        }
        bool same = y->nbytes == want->nbytes;
        for (size_t k = 0; same && k < y->nbytes / 4; k++) {
            float a = ((float *)y->data)[k], b = ((float *)want->data)[k];
            same = a - b <= 1e-6f + 1e-5f * (b < 0 ? -b : b) && b - a <= 1e-6f + 1e-5f * (b < 0 ? -b : b);
        }
        j->bad += !same;
        j->done++;
        hcg_tensor_free(y);
    }
    hcg_session_free(s);
    hcg_graph_free(g);
    return NULL;
}

int main(void)
{
    setenv("HCG_FAKE_DEVICES", "2", 1);
    /* No OpenCL runtime here: discovery would load POCL's LLVM on a worker thread, which swaps in
     * its own signal stack, and AddressSanitizer then fails to unmap its own when the thread exits
     * (a sanitizer artefact; the OpenCL devices' threading is tested in test_opencl_ops). */
    setenv("OCL_ICD_VENDORS", "/nonexistent", 1);
    setenv("HCG_FAULT", "fake:0:write:1000000", 1); /* counted on every thread, never reached */
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache", tl_tmpdir());
    setenv("XDG_CACHE_HOME", cache, 1);
    if (!CHECK_OK(hcg_npy_load(tl_src("models/ensemble/x.npy"), &x)) ||
        !CHECK_OK(hcg_npy_load(tl_src("models/ensemble/expected_mean.npy"), &want)))
        return tl_finish();
    snprintf(model, sizeof model, "%s", tl_src("models/ensemble/ensemble.hcg"));
    pthread_t th[THREADS];
    job jobs[THREADS];
    memset(jobs, 0, sizeof jobs);
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, work, &jobs[i]);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++)
        CHECK(jobs[i].bad == 0 && jobs[i].done == RUNS, "thread %d: %d of %d runs right (%s)", i, jobs[i].done - jobs[i].bad,
              RUNS, jobs[i].error);
    hcg_tensor_free(x);
    hcg_tensor_free(want);
    return tl_finish();
}
