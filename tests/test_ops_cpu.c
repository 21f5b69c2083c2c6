/* test_ops_cpu.c — every golden op case (tests/golden/cases.json, from make_golden.py: numpy and
 * torch references) run through a session on the cpu device, plus direct checks of the CPU
 * backend's helpers (f16 conversion against the tables numpy wrote, the thread pool). Prints one
 * line per op with its passed/failed counts, and fails if an op of the op table has no case. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "golden_cases.h"
#include "graph/half.h"
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

/* ---------------------------------------------------------------- random edge shapes */

/* Every op with random small shapes (dims 0, 1, 2, 3, 5, ranks 0-4), random dtypes and random
 * attributes, many of them invalid. Whatever the shape rules accept must run without crashing
 * (the sanitizer builds check memory and undefined behaviour); what they reject must be a shape
 * or graph error, and data errors a runtime error, never an internal one. No reference here:
 * this is about edges and robustness, the golden cases check values. */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static int64_t rnd_dim(void)
{
    static const int64_t dims[] = {0, 1, 1, 2, 3, 5};
    return dims[rnd(6)];
}

static const int64_t ODD_INTS[] = {INT64_MIN, -1000, -5, -3, -2, -1, 0, 1, 2, 3, 5, 1000, INT64_MAX};

static int64_t rnd_small_int(void) { return ODD_INTS[rnd(sizeof ODD_INTS / sizeof ODD_INTS[0])]; }

#define RAND_MAX_INPUTS 6 /* adam_update takes the most */

typedef struct rand_case {
    hcg_shape shapes[RAND_MAX_INPUTS];
    hcg_dtype dtypes[RAND_MAX_INPUTS];
    int n_inputs;
    hcg_attr attrs[HCG_MAX_ATTRS];
    int n_attrs;
    int64_t ints[HCG_MAX_ATTRS][HCG_MAX_RANK];
    char names[HCG_MAX_ATTRS][8];
} rand_case;

static hcg_shape rnd_shape(int max_rank)
{
    hcg_shape s;
    memset(&s, 0, sizeof s);
    s.rank = (int)rnd((uint32_t)max_rank + 1);
    for (int i = 0; i < s.rank; i++) s.dims[i] = rnd_dim();
    return s;
}

/* A shape that often broadcasts with s: some dims set to 1, leading dims dropped. */
static hcg_shape rnd_partner(const hcg_shape *s)
{
    if (rnd(4) == 0) return rnd_shape(4);
    hcg_shape t = *s;
    int drop = t.rank ? (int)rnd((uint32_t)t.rank + 1) : 0;
    t.rank -= drop;
    memmove(t.dims, s->dims + drop, sizeof(int64_t) * (size_t)t.rank);
    for (int i = 0; i < t.rank; i++)
        if (rnd(3) == 0) t.dims[i] = 1;
    return t;
}

static void fill_random(hcg_tensor *t, bool index_like)
{
    int64_t n;
    hcg_shape_numel(&t->shape, &n);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = index_like ? (int64_t)rnd(9) - 4 : (int64_t)rnd(7) - 3;
        switch (t->dtype) {
        case HCG_F32: ((float *)t->data)[i] = rnd(50) == 0 ? NAN : (float)v * 0.75f; break;
        case HCG_F16: ((uint16_t *)t->data)[i] = hcg_float_to_half((float)v); break;
        case HCG_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
        case HCG_I64: ((int64_t *)t->data)[i] = v; break;
        case HCG_U8: ((uint8_t *)t->data)[i] = (uint8_t)(v & 0xff); break;
        case HCG_BOOL: ((uint8_t *)t->data)[i] = v > 0; break;
        case HCG_I8: ((int8_t *)t->data)[i] = (int8_t)v; break;
        default: break;
        }
    }
}

/* Random attributes for op: each attribute of the schema is set with probability 1/2 to a value
 * of its kind chosen from a few ordinary and a few extreme ones. */
static void rnd_attrs(hcg_op op, const hcg_shape *x, rand_case *rc)
{
    static const char *const strings[] = {"f32", "f16", "i32", "i64", "u8", "bool", "tanh", "none", "bogus"};
    static const double floats[] = {0, 1, -1, 0.5, 2.5, -3, 7, 300, -1e3}; /* (a range to 1e9 is valid but slow) */
    const hcg_op_info *info = hcg_op_info_get(op);
    rc->n_attrs = 0;
    for (int a = 0; a < HCG_MAX_ATTRS && info->attrs[a].name; a++) {
        const hcg_attr_spec *sp = &info->attrs[a];
        if (!sp->required && rnd(2) == 0) continue;
        hcg_attr *at = &rc->attrs[rc->n_attrs];
        memset(at, 0, sizeof *at);
        at->name = sp->name;
        at->kind = sp->kind;
        switch (sp->kind) {
        case HCG_ATTR_INT: at->i = rnd(3) ? (int64_t)rnd(7) - 3 : rnd_small_int(); break;
        case HCG_ATTR_FLOAT: at->f = floats[rnd(sizeof floats / sizeof floats[0])]; break;
        case HCG_ATTR_STRING: at->s = strings[rnd(sizeof strings / sizeof strings[0])]; break;
        case HCG_ATTR_INTS: {
            int64_t *v = rc->ints[rc->n_attrs];
            bool is_perm = strcmp(sp->name, "perm") == 0, is_shape = strcmp(sp->name, "shape") == 0;
            int n = is_perm ? x->rank : (int)rnd(is_shape ? 5 : 4);
            for (int i = 0; i < n; i++) {
                if (is_perm) v[i] = i;
                else if (is_shape) v[i] = rnd(5) ? rnd_dim() : (int64_t)rnd(3) - 1;
                else v[i] = rnd(3) ? (int64_t)rnd(7) - 3 : rnd_small_int();
            }
            for (int i = n - 1; is_perm && i > 0; i--) { /* shuffle */
                int j = (int)rnd((uint32_t)i + 1);
                int64_t t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
            at->ints = v;
            at->n = n;
            break;
        }
        default: continue;
        }
        rc->n_attrs++;
    }
}

static void test_random_shapes(int trials_per_op)
{
    gc_options opt = {.devices = "cpu"};
    (void)opt;
    long ran = 0, rejected = 0, runtime_errors = 0;
    for (int op = 0; op < HCG_OP_COUNT; op++) {
        const hcg_op_info *info = hcg_op_info_get((hcg_op)op);
        if (info->flags & HCG_OPF_SOURCE) continue;
        for (int trial = 0; trial < trials_per_op; trial++) {
            rand_case rc;
            memset(&rc, 0, sizeof rc);
            int max_in = info->max_inputs < 0 ? 3 : info->max_inputs;
            if (max_in > RAND_MAX_INPUTS) max_in = RAND_MAX_INPUTS;
            rc.n_inputs = info->min_inputs + (int)rnd((uint32_t)(max_in - info->min_inputs + 1));
            hcg_dtype dt = (hcg_dtype)(rnd(3) ? (rnd(2) ? HCG_F32 : HCG_I64) : rnd(HCG_DTYPE_COUNT));
            for (int i = 0; i < rc.n_inputs; i++) {
                rc.shapes[i] = i == 0 ? rnd_shape(4) : rnd_partner(&rc.shapes[0]);
                rc.dtypes[i] = rnd(4) ? dt : (hcg_dtype)rnd(HCG_DTYPE_COUNT);
            }
            if (op == HCG_OP_WHERE && rnd(4)) rc.dtypes[0] = HCG_BOOL;
            if ((op == HCG_OP_AND || op == HCG_OP_OR || op == HCG_OP_NOT) && rnd(4))
                for (int i = 0; i < rc.n_inputs; i++) rc.dtypes[i] = HCG_BOOL;
            if (op == HCG_OP_GATHER && rnd(4)) rc.dtypes[1] = rnd(2) ? HCG_I32 : HCG_I64;
            rnd_attrs((hcg_op)op, &rc.shapes[0], &rc);

            hcg_graph *g = hcg_graph_new();
            hcg_tensor *inputs[RAND_MAX_INPUTS] = {NULL}, *out = NULL;
            hcg_id ids[RAND_MAX_INPUTS];
            for (int i = 0; i < rc.n_inputs; i++) {
                char name[8];
                snprintf(name, sizeof name, "x%d", i);
                ids[i] = hcg_input(g, name, rc.dtypes[i], rc.shapes[i].rank, rc.shapes[i].dims);
                if (hcg_tensor_new(rc.dtypes[i], &rc.shapes[i], &inputs[i])) break;
                fill_random(inputs[i], op == HCG_OP_GATHER && i == 1);
            }
            hcg_id y = hcg_add_node(g, (hcg_op)op, "node", ids, rc.n_inputs, rc.attrs, rc.n_attrs);
            hcg_status st = y < 0 ? (hcg_status)-y : hcg_output(g, y, "y");
            hcg_session *s = NULL;
            if (!st) st = hcg_session_new(g, &(hcg_session_options){.devices = "cpu"}, &s);
            if (!st) st = hcg_session_run(s, (const hcg_tensor *const *)inputs, &out);
            if (!st) {
                ran++;
                CHECK(out != NULL, "%s: no output", hcg_op_name((hcg_op)op));
            } else if (st == HCG_ERR_RUNTIME) {
                runtime_errors++;
            } else {
                rejected++;
                /* the ops between ranks need an MPI job: alone they say so (ARG, or UNSUPPORTED without MPI) */
                bool alone = (info->flags & HCG_OPF_HOST_ONLY) && (st == HCG_ERR_ARG || st == HCG_ERR_UNSUPPORTED);
                CHECK(st == HCG_ERR_SHAPE || st == HCG_ERR_GRAPH || alone, "%s: random case failed with %s: %s", hcg_op_name((hcg_op)op),
                      hcg_status_name(st), hcg_last_error());
            }
            hcg_tensor_free(out);
            hcg_session_free(s);
            for (int i = 0; i < rc.n_inputs; i++) hcg_tensor_free(inputs[i]);
            hcg_graph_free(g);
        }
    }
    printf("random edge shapes: %ld ran, %ld rejected by shape rules, %ld runtime errors\n", ran, rejected,
           runtime_errors);
    CHECK(ran > 0, "some random cases ran");
}

/* ---------------------------------------------------------------- golden cases */

int main(void)
{
    test_thread_pool();
    test_half_roundtrip();
    const char *trials = getenv("HCG_RANDOM_TRIALS"); /* random cases per op */
    test_random_shapes(trials ? atoi(trials) : 60);

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
