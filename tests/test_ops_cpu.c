/* test_ops_cpu.c — every golden op case (tests/golden/cases.json, from make_golden.py: numpy and
 * torch references) run through a session on the cpu device, plus direct checks of the CPU
 * backend's helpers (f16 conversion against the tables numpy wrote, the thread pool). Prints one
 * line per op with its passed/failed counts, and fails if an op of the op table has no case. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "golden_cases.h"
#include "graph/op_table.h"

typedef struct op_count {
    int passed, failed, skipped, errors; /* errors: how many of the cases were expected failures */
} op_count;

/* ---------------------------------------------------------------- thread pool */

typedef struct pool_check {
    atomic_int *hits; /* how often each index was visited */
    atomic_long calls;
} pool_check;

static void visit(void *ctx, int64_t begin, int64_t end)
{
    pool_check *p = ctx;
    atomic_fetch_add(&p->calls, 1);
    for (int64_t i = begin; i < end; i++) atomic_fetch_add(&p->hits[i], 1);
}

static void nested_inner(void *ctx, int64_t begin, int64_t end)
{
    atomic_int *hits = ctx;
    for (int64_t i = begin; i < end; i++) atomic_fetch_add(&hits[i], 1);
}

/* A parallel loop started from inside a chunk (runs inline rather than waiting on the pool). */
static void nested(void *ctx, int64_t begin, int64_t end)
{
    pool_check *p = ctx;
    for (int64_t i = begin; i < end; i++) hcg_parallel_for(50, 1, nested_inner, &p->hits[i * 50]);
}

static void test_thread_pool(void)
{
    enum { N = 100003 };
    atomic_int *hits = calloc(N, sizeof *hits);
    const int64_t sizes[] = {0, 1, 7, 1000, N};
    const int64_t grains[] = {1, 3, 1000, 1 << 20};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (size_t gi = 0; gi < sizeof grains / sizeof grains[0]; gi++) {
            int64_t n = sizes[si];
            pool_check p = {.hits = hits};
            for (int64_t i = 0; i < n; i++) atomic_store(&hits[i], 0);
            hcg_parallel_for(n, grains[gi], visit, &p);
            int64_t bad = 0;
            for (int64_t i = 0; i < n; i++) bad += atomic_load(&hits[i]) != 1;
            CHECK(bad == 0, "parallel_for(n=%lld, grain=%lld): %lld indices not visited exactly once", (long long)n,
                  (long long)grains[gi], (long long)bad);
            if (n <= grains[gi] && n > 0) CHECK(atomic_load(&p.calls) == 1, "a loop within one grain runs inline");
        }
    }
    pool_check p = {.hits = hits};
    for (int64_t i = 0; i < 50000; i++) atomic_store(&hits[i], 0);
    hcg_parallel_for(1000, 10, nested, &p);
    int64_t bad = 0;
    for (int64_t i = 0; i < 50000; i++) bad += atomic_load(&hits[i]) != 1;
    CHECK(bad == 0, "nested parallel_for: %lld indices not visited exactly once", (long long)bad);
    CHECK(hcg_cpu_threads() >= 1, "hcg_cpu_threads() = %d", hcg_cpu_threads());
    free(hits);
}

/* ---------------------------------------------------------------- f16 */

/* Every f16 bit pattern to f32 and back is the identity (NaNs stay NaNs with their sign). The
 * rounding of f32 values between f16 neighbours is covered by the golden cast cases. */
static void test_half_roundtrip(void)
{
    long bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = hcg_half_to_float((uint16_t)h);
        uint16_t back = hcg_float_to_half(f);
        bool is_nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
        if (is_nan ? !((back & 0x7c00u) == 0x7c00u && (back & 0x3ffu) && (back & 0x8000u) == (h & 0x8000u))
                   : back != h)
            bad++;
    }
    CHECK(bad == 0, "f16 -> f32 -> f16: %ld bit patterns change", bad);
    CHECK(hcg_float_to_half(65520.0f) == 0x7c00u, "65520 rounds to inf");
    CHECK(hcg_float_to_half(65519.996f) == 0x7bffu, "just below 65520 rounds to 65504");
    CHECK(hcg_float_to_half(1e-8f) == 0, "1e-8 rounds to 0");
    CHECK(hcg_float_to_half(-5.960464477539063e-08f) == 0x8001u, "-2^-24 is the smallest negative subnormal");
}

/* ---------------------------------------------------------------- golden cases */

int main(void)
{
    test_thread_pool();
    test_half_roundtrip();

    gc_suite suite;
    if (!CHECK(gc_load(tl_src("tests/golden"), &suite), "loading the golden cases")) return tl_finish();
    op_count counts[HCG_OP_COUNT];
    memset(counts, 0, sizeof counts);
    const char *only = getenv("HCG_GOLDEN_FILTER"); /* run only cases whose name contains this */
    gc_options opt = {.devices = "cpu"};
    for (int i = 0; i < suite.n_cases; i++) {
        const gc_case *c = &suite.cases[i];
        if (only && !strstr(c->name, only)) continue;
        op_count *k = &counts[c->op];
        k->errors += c->error != NULL;
        switch (gc_run(&suite, c, &opt)) {
        case GC_PASS: k->passed++; break;
        case GC_FAIL: k->failed++; break;
        case GC_SKIP: k->skipped++; break;
        }
    }
    printf("%-20s %7s %7s  %s\n", "op", "passed", "failed", "(of which expected errors)");
    for (int op = 0; op < HCG_OP_COUNT; op++) {
        const op_count *k = &counts[op];
        if (hcg_op_info_get((hcg_op)op)->flags & HCG_OPF_SOURCE) continue;
        int total = k->passed + k->failed + k->skipped;
        printf("%-20s %7d %7d  (%d)%s\n", hcg_op_name((hcg_op)op), k->passed, k->failed, k->errors,
               k->failed ? "  <-- FAILED" : "");
        if (!only) CHECK(total > 0, "op %s has no golden case", hcg_op_name((hcg_op)op));
    }
    gc_free(&suite);
    return tl_finish();
}
