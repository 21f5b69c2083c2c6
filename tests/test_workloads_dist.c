/* test_workloads_dist.c — distillation and ensembles with models on other ranks, run by mpirun with
 * 2 and 3 ranks (tests/mpi.cmake). The student trains on rank 0 while the three teachers run on
 * the other ranks (pinned to rankN:cpu; graph/rank_split.c sends their soft targets to rank 0),
 * plain and pipelined, and
 *   - the student's parameters match PyTorch's distillation (tests/workloads, made by
 *     make_workload_golden.py) within its tolerance, and equal those of one process bit for bit;
 *   - rank 0's step runs no teacher node and receives the soft targets; the teachers' ranks run the
 *     teachers and send;
 * and a weighted ensemble whose members run on different ranks gives PyTorch's output on every rank. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/dist/dist.h"
#include "backend/session_impl.h"
#include "graph/safetensors.h"
#include "testlib.h"

static int rank, ranks;
static cJSON *cases;

static hcg_tensor *npy(const char *file) { return tl_load_npy("tests/workloads", file); }
static hcg_graph *model(const char *file) { return tl_load_model("tests/workloads", file); }

static void weights_of(double *w, int n)
{
    const cJSON *ws = cJSON_GetObjectItem(cases, "weights");
    for (int i = 0; i < n; i++) w[i] = cJSON_GetArrayItem(ws, i)->valuedouble;
}

/* Pins every node whose name starts with prefix<i>/ to the rank that holds member i: ranks 1..R-1
 * in turn (all on rank 0 in a job of one). */
static void place(hcg_graph *g, const char *prefix, int n)
{
    for (hcg_id id = 0; id < hcg_graph_num_nodes(g); id++) {
        const char *name = g->nodes[id].name;
        for (int i = 0; i < n; i++) {
            char p[64], dev[64];
            snprintf(p, sizeof p, "%s%d/", prefix, i);
            snprintf(dev, sizeof dev, "rank%d:cpu", ranks > 1 ? 1 + i % (ranks - 1) : 0);
            if (strncmp(name, p, strlen(p)) == 0) CHECK_OK(hcg_pin(g, id, dev));
        }
    }
}

/* Trains the distillation graph for the case's steps on batches in order (primed first when
 * pipelined); *t gets the session. */
static bool train(hcg_graph *g, bool pipelined, hcg_train_session **t)
{
    hcg_tensor *x = npy("x.npy"), *y = npy("y.npy");
    int64_t b = cJSON_GetObjectItem(cases, "batch")->valueint, steps = cJSON_GetObjectItem(cases, "steps")->valueint;
    int64_t per_epoch = x->shape.dims[0] / b, dx[2] = {b, 16}, dy[1] = {b};
    hcg_shape sx = hcg_shape_make(2, dx), sy = hcg_shape_make(1, dy);
    hcg_tensor *bx = NULL, *by = NULL, *nx = NULL;
    hcg_tensor_new(HCG_F32, &sx, &bx);
    hcg_tensor_new(HCG_F32, &sx, &nx);
    hcg_tensor_new(HCG_I64, &sy, &by);
    const hcg_tensor *in[3];
    for (int i = 0; i < hcg_graph_num_inputs(g); i++) {
        const char *name = hcg_graph_input_name(g, i);
        in[i] = strcmp(name, "labels") == 0 ? by : strncmp(name, HCG_PIPELINE_INPUT_PREFIX, strlen(HCG_PIPELINE_INPUT_PREFIX)) == 0 ? nx : bx;
    }
    hcg_train_options opt = {.loss = "loss", .optimizer = HCG_OPTIM_SGD, .lr = 0.05, .momentum = 0.9, .devices = "cpu"};
    bool ok = CHECK_OK(hcg_train_session_new(g, &opt, t));
    for (int64_t k = pipelined ? -1 : 0; k < steps && ok; k++) {
        int64_t first = ((k < 0 ? 0 : k) % per_epoch) * b, next = (((k < 0 ? 0 : k + 1)) % per_epoch) * b;
        memcpy(bx->data, (float *)x->data + first * 16, bx->nbytes);
        memcpy(nx->data, (float *)x->data + next * 16, nx->nbytes);
        memcpy(by->data, (int64_t *)y->data + first, by->nbytes);
        if (k < 0) { /* the pipeline's soft targets for the first batch */
            int n_out = hcg_graph_num_outputs(g);
            hcg_tensor **outs = calloc((size_t)n_out, sizeof *outs);
            ok = CHECK_OK(hcg_train_eval(*t, in, outs));
            for (int j = 0; j < n_out; j++) hcg_tensor_free(outs[j]);
            free(outs);
        } else {
            ok = CHECK_OK(hcg_train_step(*t, in, NULL));
        }
    }
    hcg_tensor_free(x);
    hcg_tensor_free(y);
    hcg_tensor_free(bx);
    hcg_tensor_free(nx);
    hcg_tensor_free(by);
    return ok;
}

/* Whether the last plan of session s has a node whose name starts with prefix / of op `op`. */
static int count_nodes(hcg_session *s, const char *prefix, int op)
{
    const hcg_plan *p = s->plans[s->n_plans - 1].plan;
    int n = 0;
    for (int i = 0; i < p->n_exec; i++)
        n += prefix ? strncmp(p->exec[i].node->name, prefix, strlen(prefix)) == 0 : (int)p->exec[i].node->op == op;
    return n;
}

static void test_distillation(bool pipelined)
{
    hcg_graph *student = model("student.hcg"), *t[3] = {model("teacher0.onnx"), model("teacher1.onnx"), model("teacher2.onnx")};
    hcg_graph *g = NULL, *alone_g = NULL;
    double w[3];
    weights_of(w, 3);
    hcg_distill_options o = {.temperature = cJSON_GetObjectItem(cases, "temperature")->valuedouble,
                             .alpha = cJSON_GetObjectItem(cases, "alpha")->valuedouble, .pipeline = pipelined};
    hcg_train_session *dist = NULL, *alone = NULL;
    hcg_st_file *f = NULL;
    const char *what = pipelined ? "pipelined distillation" : "distillation";
    if (!CHECK_OK(hcg_distill_build(student, (const hcg_graph *const *)t, NULL, w, 3, &o, &g)) ||
        !CHECK_OK(hcg_distill_build(student, (const hcg_graph *const *)t, NULL, w, 3, &o, &alone_g)))
        goto done;
    place(g, "teacher", 3);
    if (!train(g, pipelined, &dist) || !train(alone_g, pipelined, &alone)) goto done;
    hcg_session *s = hcg_train_get_session(dist);
    if (rank == 0) {
        CHECK(ranks == 1 || (count_nodes(s, "teacher", 0) == 0 && count_nodes(s, NULL, HCG_OP_RECV) >= 1),
              "%s: rank 0 runs no teacher node and receives the soft targets", what);
    } else {
        CHECK(count_nodes(s, "teacher", 0) > 0 && count_nodes(s, NULL, HCG_OP_SEND) >= 1,
              "%s: rank %d runs teachers and sends", what, rank);
    }
    if (rank == 0 && CHECK_OK(hcg_st_open(tl_src("tests/workloads/expected_distill.safetensors"), &f))) {
        const cJSON *tol;
        int n = 0;
        cJSON_ArrayForEach(tol, cJSON_GetObjectItem(cases, "distill_tolerance"))
        {
            hcg_tensor *got = NULL, *want = NULL, *one = NULL;
            const hcg_st_entry *e = hcg_st_find(f, tol->string);
            char label[256];
            snprintf(label, sizeof label, "%s, teachers on ranks 1..%d: %s", what, ranks - 1, tol->string);
            if (CHECK(e != NULL, "%s in the reference", tol->string) && CHECK_OK(hcg_st_tensor(f, e, &want)) &&
                CHECK_OK(hcg_train_get_param(dist, tol->string, &got)) && CHECK_OK(hcg_train_get_param(alone, tol->string, &one))) {
                tl_tensor_close(got, want, 0, tol->valuedouble, label);
                CHECK(got->nbytes == one->nbytes && memcmp(got->data, one->data, got->nbytes) == 0,
                      "%s: the same bits as one process", label);
            }
            hcg_tensor_free(got);
            hcg_tensor_free(want);
            hcg_tensor_free(one);
            n++;
        }
        CHECK(n == hcg_train_num_params(dist), "%s: every trained param compared", what);
        printf("%s with the teachers on ranks 1..%d: the student matches PyTorch and one process (%d params)\n", what,
               ranks - 1, n);
    }
done:
    if (f) hcg_st_close(f);
    hcg_train_session_free(dist);
    hcg_train_session_free(alone);
    hcg_graph_free(g);
    hcg_graph_free(alone_g);
    hcg_graph_free(student);
    for (int i = 0; i < 3; i++) hcg_graph_free(t[i]);
}

static void test_ensemble(void)
{
    hcg_graph *t[3] = {model("teacher0.onnx"), model("teacher1.onnx"), model("teacher2.onnx")}, *g = NULL;
    hcg_tensor *x = npy("x.npy"), *want = npy("expected_weighted.npy"), *out = NULL;
    double w[3];
    weights_of(w, 3);
    hcg_ensemble_options o = {.combine = HCG_COMBINE_WEIGHTED};
    hcg_session *s = NULL;
    hcg_session_options so = {.devices = "cpu"};
    if (CHECK_OK(hcg_ensemble_build((const hcg_graph *const *)t, NULL, w, 3, &o, &g))) {
        place(g, "m", 3);
        if (CHECK_OK(hcg_session_new(g, &so, &s)) && CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &out))) {
            char label[128];
            snprintf(label, sizeof label, "weighted ensemble with members on ranks 1..%d, output on rank %d", ranks - 1, rank);
            tl_tensor_close(out, want, 1e-5, 1e-6, label);
            int members_here = count_nodes(s, "m0/", 0) + count_nodes(s, "m1/", 0) + count_nodes(s, "m2/", 0);
            CHECK(ranks == 1 || rank != 0 || members_here == 0, "rank 0 runs no member (%d member nodes)", members_here);
        }
    }
    hcg_tensor_free(out);
    hcg_tensor_free(x);
    hcg_tensor_free(want);
    hcg_session_free(s);
    hcg_graph_free(g);
    for (int i = 0; i < 3; i++) hcg_graph_free(t[i]);
}

int main(void)
{
    if (!hcg_dist_available()) { /* placing on ranks says what is missing */
        hcg_graph *t[2] = {model("teacher0.onnx"), model("teacher1.onnx")}, *g = NULL;
        hcg_tensor *x = npy("x.npy"), *out = NULL;
        hcg_session *s = NULL;
        hcg_session_options so = {.devices = "cpu"};
        if (CHECK_OK(hcg_ensemble_build((const hcg_graph *const *)t, NULL, NULL, 2, NULL, &g)) &&
            CHECK_OK(hcg_workload_pin(g, "m1", "rank1:cpu")) && CHECK_OK(hcg_session_new(g, &so, &s)))
            CHECK_FAILS(hcg_session_run(s, (const hcg_tensor *const *)&x, &out), HCG_ERR_UNSUPPORTED, "built without MPI");
        hcg_session_free(s);
        hcg_graph_free(g);
        hcg_graph_free(t[0]);
        hcg_graph_free(t[1]);
        hcg_tensor_free(x);
        printf("hcg has no MPI: placing a member on rank 1 says so\n");
        return tl_finish();
    }
    if (!CHECK_OK(hcg_dist_init())) return tl_finish();
    rank = hcg_dist_rank();
    ranks = hcg_dist_size();
    size_t len = 0;
    char *text = tl_read_file(tl_src("tests/workloads/cases.json"), &len);
    cases = text ? cJSON_Parse(text) : NULL;
    if (!CHECK(cases != NULL, "reading tests/workloads/cases.json")) return tl_finish();
    test_distillation(false);
    test_distillation(true);
    test_ensemble();
    cJSON_Delete(cases);
    free(text);
    double failed = tl_failed;
    if (hcg_dist_sum(&failed, 1, "the ranks' failures") == HCG_OK && failed > tl_failed && rank == 0)
        CHECK(false, "%.0f checks failed on the other ranks", failed - tl_failed);
    hcg_dist_finalize();
    return tl_finish();
}
