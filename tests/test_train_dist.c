/* test_train_dist.c — data-parallel training parity, run by mpirun with 2 and 3 ranks
 * (tests/mpi.cmake) and alone. For every case of tests/train/cases_dist.json (the MLP and the
 * transformer-encoder classifier, SGD with momentum and AdamW, a global batch of 6 rows), each rank
 * trains on its 6/R rows of every global batch with hcg_train_options.distributed, and
 *   - every parameter matches PyTorch's float64 training on the whole global batches in one process
 *     (make_train_golden.py), within the tolerance derived from PyTorch's own float32 error;
 *   - every rank holds bit-identical parameters (rank 0's are broadcast and compared byte by byte);
 *   - hcg in one process on the whole batches gives the same parameters within that tolerance,
 *     also with gradient clipping by global norm (which must see the averaged gradients).
 * Each case runs with one gradient bucket and with 1 KiB buckets (several all-reduces that overlap
 * the backward pass). Without MPI, the distributed option must fail and say that MPI is missing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/dist/dist.h"
#include "backend/session_impl.h"
#include "graph/safetensors.h"
#include "testlib.h"

#define MAX_IN 8

static int rank, ranks;



/* A case's model, data and batch tensors of `rows` rows. */
typedef struct setup {
    hcg_graph *g;
    int n_in;
    hcg_tensor *data[MAX_IN], *batch[MAX_IN];
    int64_t global, steps;
} setup;

static bool setup_case(const cJSON *c, int64_t rows, setup *s)
{
    char rel[256];
    memset(s, 0, sizeof *s);
    snprintf(rel, sizeof rel, "tests/train/%s", cJSON_GetObjectItem(c, "model")->valuestring);
    if (!CHECK_OK(hcg_load(tl_src(rel), &s->g))) return false;
    s->n_in = hcg_graph_num_inputs(s->g);
    s->global = cJSON_GetObjectItem(c, "batch")->valueint;
    s->steps = cJSON_GetObjectItem(c, "steps")->valueint;
    const cJSON *d = cJSON_GetObjectItem(c, "data");
    bool ok = s->n_in <= MAX_IN;
    for (int i = 0; i < s->n_in && ok; i++) {
        const cJSON *f = cJSON_GetObjectItem(d, hcg_graph_input_name(s->g, i));
        ok = CHECK(f != NULL, "data for input %s", hcg_graph_input_name(s->g, i)) && (s->data[i] = tl_load_npy("tests/train", f->valuestring)) != NULL;
        hcg_shape sh = ok ? s->data[i]->shape : (hcg_shape){0};
        sh.dims[0] = rows;
        ok = ok && CHECK_OK(hcg_tensor_new(s->data[i]->dtype, &sh, &s->batch[i]));
    }
    return ok;
}

static void free_setup(setup *s)
{
    for (int i = 0; i < MAX_IN; i++) {
        hcg_tensor_free(s->data[i]);
        hcg_tensor_free(s->batch[i]);
    }
    hcg_graph_free(s->g);
}

/* Trains: step k reads global batch k (in order) and this process takes rows [first, first + n) of it. */
static bool train(setup *s, const hcg_train_options *opt, int64_t first_row, hcg_train_session **out)
{
    if (!CHECK_OK(hcg_train_session_new(s->g, opt, out))) return false;
    int64_t per_epoch = s->data[0]->shape.dims[0] / s->global;
    for (int64_t k = 0; k < s->steps; k++) {
        for (int i = 0; i < s->n_in; i++) {
            size_t row = s->data[i]->nbytes / (size_t)s->data[i]->shape.dims[0];
            int64_t from = (k % per_epoch) * s->global + first_row;
            memcpy(s->batch[i]->data, (const char *)s->data[i]->data + (size_t)from * row, s->batch[i]->nbytes);
        }
        float loss;
        if (!CHECK_OK(hcg_train_step(*out, (const hcg_tensor *const *)s->batch, &loss))) return false;
    }
    return true;
}

/* Largest |got - want| / tolerance over every element. */
static double worst_ratio(const hcg_tensor *got, const hcg_tensor *want, double tol)
{
    int64_t n = 0;
    double worst = 0;
    hcg_shape_numel(&want->shape, &n);
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(tl_get(got, (long)i) - tl_get(want, (long)i)) / tol;
        worst = e > worst || isnan(e) ? e : worst;
    }
    return worst;
}

/* Bytes of this rank's parameters that differ from rank 0's, summed over the ranks. */
static double differing_bytes_across_ranks(hcg_train_session *t)
{
    double differing = 0;
    for (int i = 0; i < hcg_train_num_params(t); i++) {
        hcg_tensor *mine = NULL, *zero = NULL;
        if (!CHECK_OK(hcg_train_get_param(t, hcg_train_param_name(t, i), &mine)) || !CHECK_OK(hcg_tensor_clone(mine, &zero)))
            return INFINITY;
        CHECK_OK(hcg_dist_bcast(zero->data, zero->nbytes, 0, "rank 0's parameter"));
        for (size_t b = 0; b < mine->nbytes; b++) differing += ((unsigned char *)mine->data)[b] != ((unsigned char *)zero->data)[b];
        hcg_tensor_free(mine);
        hcg_tensor_free(zero);
    }
    CHECK_OK(hcg_dist_sum(&differing, 1, "differing bytes"));
    return differing;
}

static void run_case(const cJSON *c, int64_t bucket_bytes, double clip)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    setup dist, whole;
    hcg_train_session *t = NULL, *one = NULL;
    hcg_st_file *expected = NULL;
    int64_t global = cJSON_GetObjectItem(c, "batch")->valueint;
    if (!CHECK(global % ranks == 0, "%s: the global batch %lld divides by %d ranks", name, (long long)global, ranks)) return;
    int64_t share = global / ranks;
    hcg_train_options opt = {.loss = cJSON_GetObjectItem(c, "loss")->valuestring, .devices = "cpu", .clip_norm = clip,
                             .distributed = true, .bucket_bytes = bucket_bytes};
    tl_train_options_from(cJSON_GetObjectItem(c, "options"), &opt);
    hcg_train_options single = opt;
    single.distributed = false;
    bool ok = setup_case(c, share, &dist) && setup_case(c, global, &whole) && train(&dist, &opt, rank * share, &t) &&
              train(&whole, &single, 0, &one);
    char rel[256];
    snprintf(rel, sizeof rel, "tests/train/%s", cJSON_GetObjectItem(c, "expected")->valuestring);
    ok = ok && CHECK_OK(hcg_st_open(tl_src(rel), &expected));
    const cJSON *tol;
    double worst_ref = 0, worst_one = 0;
    int compared = 0;
    cJSON_ArrayForEach(tol, cJSON_GetObjectItem(c, "tolerance"))
    {
        if (!ok) break;
        const hcg_st_entry *e = hcg_st_find(expected, tol->string);
        hcg_tensor *want = NULL, *got = NULL, *alone = NULL;
        char what[256];
        if (CHECK(e != NULL, "%s: %s in the reference", name, tol->string) && CHECK_OK(hcg_st_tensor(expected, e, &want)) &&
            CHECK_OK(hcg_train_get_param(t, tol->string, &got)) && CHECK_OK(hcg_train_get_param(one, tol->string, &alone))) {
            snprintf(what, sizeof what, "%s, rank %d of %d, buckets of %lld bytes%s: %s", name, rank, ranks,
                     (long long)bucket_bytes, clip > 0 ? ", clipped" : "", tol->string);
            if (clip == 0) { /* PyTorch's reference has no clipping */
                tl_tensor_close(got, want, 0, tol->valuedouble, what);
                double w = worst_ratio(got, want, tol->valuedouble);
                worst_ref = w > worst_ref ? w : worst_ref;
            }
            char what1[300];
            snprintf(what1, sizeof what1, "%s (against one process)", what);
            tl_tensor_close(got, alone, 0, tol->valuedouble, what1);
            double w = worst_ratio(got, alone, tol->valuedouble);
            worst_one = w > worst_one ? w : worst_one;
            compared++;
        }
        hcg_tensor_free(want);
        hcg_tensor_free(got);
        hcg_tensor_free(alone);
    }
    if (ok) {
        CHECK(compared == hcg_train_num_params(t), "%s: %d params compared, %d trained", name, compared, hcg_train_num_params(t));
        double differing = differing_bytes_across_ranks(t);
        CHECK(differing == 0, "%s: the %d ranks hold bit-identical parameters after %lld steps (%.0f bytes differ)", name,
              ranks, (long long)dist.steps, differing);
        char ref[64] = "(clipped: no PyTorch run)";
        if (clip == 0) snprintf(ref, sizeof ref, "%.2f against PyTorch", worst_ref);
        if (rank == 0)
            printf("%-14s %d ranks x %lld rows, buckets %5lld B: worst error of the tolerance %s, %.2f against one "
                   "process; ranks bit-identical\n",
                   name, ranks, (long long)share, (long long)bucket_bytes, ref, worst_one);
    }
    if (expected) hcg_st_close(expected);
    hcg_train_session_free(t);
    hcg_train_session_free(one);
    free_setup(&dist);
    free_setup(&whole);
}

/* The step of a distributed session reduces its gradients in buckets, and the scheduler starts the
 * first all-reduce before the backward pass ends: compute runs between it and its first wait. */
static void check_plan(void)
{
    hcg_graph *g = NULL;
    hcg_train_session *t = NULL;
    if (!CHECK_OK(hcg_load(tl_src("tests/train/mlp.hcg"), &g))) return;
    hcg_train_options opt = {.loss = "loss", .lr = 0.1, .devices = "cpu", .distributed = true, .bucket_bytes = 1024};
    hcg_shape shapes[2] = {hcg_shape_make(2, (int64_t[]){2, 16}), hcg_shape_make(1, (int64_t[]){2})};
    if (CHECK_OK(hcg_train_session_new(g, &opt, &t)) && CHECK_OK(hcg_train_prepare(t, shapes))) {
        hcg_session *s = hcg_train_get_session(t);
        const hcg_plan *p = s->plans[s->n_plans - 1].plan;
        int starts = 0, first_start = -1, first_wait = -1, between = 0;
        for (int i = 0; i < p->n_exec; i++) {
            hcg_op op = p->exec[i].node->op;
            if (op == HCG_OP_ALLREDUCE_START && starts++ == 0) first_start = i;
            if (op == HCG_OP_ALLREDUCE_WAIT && first_wait < 0) first_wait = i;
            between += first_start >= 0 && first_wait < 0 && op != HCG_OP_ALLREDUCE_START;
        }
        /* 1 KiB buckets of 8 gradients (fc1.weight alone is 2 KiB): at least two */
        CHECK(starts >= 2, "the step all-reduces its gradients in %d buckets", starts);
        CHECK(first_start >= 0 && first_wait > first_start && between > 0,
              "the first bucket starts before the backward pass ends (%d nodes compute before its first wait)", between);
        if (rank == 0) printf("plan: %d buckets; %d nodes compute between the first start and its wait\n", starts, between);
    }
    hcg_train_session_free(t);
    hcg_graph_free(g);
}

int main(void)
{
    if (!hcg_dist_available()) {
        hcg_graph *g = NULL;
        hcg_train_session *t = NULL;
        hcg_train_options opt = {.loss = "loss", .lr = 0.1, .devices = "cpu", .distributed = true};
        if (CHECK_OK(hcg_load(tl_src("tests/train/mlp.hcg"), &g)))
            CHECK_FAILS(hcg_train_session_new(g, &opt, &t), HCG_ERR_UNSUPPORTED, "built without MPI");
        hcg_graph_free(g);
        printf("hcg has no MPI: the distributed option says so\n");
        return tl_finish();
    }
    if (!CHECK_OK(hcg_dist_init())) return tl_finish();
    rank = hcg_dist_rank();
    ranks = hcg_dist_size();
    size_t len = 0;
    char *text = tl_read_file(tl_src("tests/train/cases_dist.json"), &len);
    cJSON *cases = text ? cJSON_Parse(text) : NULL;
    if (!CHECK(cases != NULL, "reading tests/train/cases_dist.json")) return tl_finish();
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        run_case(c, 0, 0);
        run_case(c, 1024, 0);
    }
    run_case(cJSON_GetArrayItem(cases, 0), 1024, 0.5);
    check_plan();
    cJSON_Delete(cases);
    free(text);
    /* every rank's verdict: a failure anywhere fails the test on rank 0 too */
    double failed = tl_failed;
    if (hcg_dist_sum(&failed, 1, "the ranks' failures") == HCG_OK && failed > tl_failed && rank == 0)
        CHECK(false, "%.0f checks failed on the other ranks", failed - tl_failed);
    hcg_dist_finalize();
    return tl_finish();
}
