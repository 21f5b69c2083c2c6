/* test_workloads.c — ensembles and distillation against PyTorch (tests/workloads, made by
 * make_workload_golden.py): weighted (logits and probabilities) and vote ensembles of three ONNX
 * models against PyTorch's outputs (the vote's ties included), a student distilled from the three
 * weighted teachers (T = 4, alpha = 0.7, SGD with momentum) and two members trained jointly
 * through their weighted combination (AdamW) against PyTorch's parameters, within tolerances from
 * PyTorch's float32-vs-float64 difference. Devices from $HCG_TEST_DEVICES (default cpu). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "graph/safetensors.h"
#include "testlib.h"

static const char *devices;
static cJSON *cases;

static hcg_tensor *npy(const char *file) { return tl_load_npy("tests/workloads", file); }
static hcg_graph *model(const char *file) { return tl_load_model("tests/workloads", file); }

static void weights_of(double *w, int n)
{
    const cJSON *ws = cJSON_GetObjectItem(cases, "weights");
    for (int i = 0; i < n; i++) w[i] = cJSON_GetArrayItem(ws, i)->valuedouble;
}

/* Runs a graph with one input x and compares output 0 with a reference. */
static void run_and_compare(hcg_graph *g, const hcg_tensor *x, const char *expected, double rtol, double atol, const char *what)
{
    hcg_session *s = NULL;
    hcg_tensor *out = NULL, *want = npy(expected);
    hcg_session_options so = {.devices = devices};
    if (CHECK_OK(hcg_session_new(g, &so, &s)) && CHECK_OK(hcg_session_run(s, &x, &out)) && want) {
        char label[256];
        snprintf(label, sizeof label, "%s on %s", what, devices);
        tl_tensor_close(out, want, rtol, atol, label);
    }
    hcg_tensor_free(out);
    hcg_tensor_free(want);
    hcg_session_free(s);
}

static void test_ensembles(void)
{
    hcg_graph *t[3] = {model("teacher0.onnx"), model("teacher1.onnx"), model("teacher2.onnx")}, *g = NULL;
    hcg_tensor *x = npy("x.npy");
    double w[3];
    weights_of(w, 3);
    hcg_ensemble_options o = {.combine = HCG_COMBINE_WEIGHTED};
    if (CHECK_OK(hcg_ensemble_build((const hcg_graph *const *)t, NULL, w, 3, &o, &g)))
        run_and_compare(g, x, "expected_weighted.npy", 1e-5, 1e-6, "weighted ensemble of logits");
    hcg_graph_free(g);
    o.softmax = true;
    if (CHECK_OK(hcg_ensemble_build((const hcg_graph *const *)t, NULL, w, 3, &o, &g)))
        run_and_compare(g, x, "expected_weighted_softmax.npy", 1e-5, 1e-6, "weighted ensemble of probabilities");
    hcg_graph_free(g);
    o = (hcg_ensemble_options){.combine = HCG_COMBINE_VOTE};
    if (CHECK_OK(hcg_ensemble_build((const hcg_graph *const *)t, NULL, w, 3, &o, &g)))
        run_and_compare(g, x, "expected_vote.npy", 0, 0, "weighted vote (with ties)");
    hcg_graph_free(g);
    /* bad input: a negative weight, all zero, members that disagree */
    double bad[3] = {0.5, -0.1, 0.6}, zero[3] = {0, 0, 0};
    const char *names[3] = {"teacher0.onnx", "teacher1.onnx", "teacher2.onnx"};
    o.combine = HCG_COMBINE_WEIGHTED;
    CHECK_FAILS(hcg_ensemble_build((const hcg_graph *const *)t, names, bad, 3, &o, &g), HCG_ERR_ARG, "member 2 has the weight -0.1");
    CHECK_FAILS(hcg_ensemble_build((const hcg_graph *const *)t, names, zero, 3, &o, &g), HCG_ERR_ARG, "all zero");
    hcg_graph *student = model("student.hcg"), *mixed[2] = {t[0], NULL};
    hcg_graph *x8 = hcg_graph_new(); /* a model whose output has 8 classes */
    int64_t dims[2] = {HCG_SYM_DIM(0), 16};
    hcg_sym(x8, "N");
    hcg_id in = hcg_input(x8, "x", HCG_F32, 2, dims);
    hcg_attr sl[3] = {HCG_ATTR_IS("starts", (int64_t[]){0}, 1), HCG_ATTR_IS("ends", (int64_t[]){8}, 1),
                      HCG_ATTR_IS("axes", (int64_t[]){1}, 1)};
    hcg_output(x8, hcg_add_node(x8, HCG_OP_SLICE, "eight", &in, 1, sl, 3), "eight");
    mixed[1] = x8;
    const char *mnames[2] = {"teacher0.onnx", "eight.hcg"};
    CHECK_FAILS(hcg_ensemble_build((const hcg_graph *const *)mixed, mnames, NULL, 2, &o, &g), HCG_ERR_SHAPE,
                "member 2 (eight.hcg) gives f32[3, 8] but member 1 (teacher0.onnx) gives f32[3, 5]");
    hcg_graph_free(x8);
    hcg_graph_free(student);
    for (int i = 0; i < 3; i++) hcg_graph_free(t[i]);
    hcg_tensor_free(x);
}

/* Trains graph g on loss for the case's steps (batches in order) and compares the params named in
 * the tolerance object with the reference. */
static void train_and_compare(hcg_graph *g, const hcg_train_options *opt, const char *labels_input, const char *expected,
                              const char *tol_key, const char *what)
{
    hcg_train_session *t = NULL;
    hcg_tensor *x = npy("x.npy"), *y = npy("y.npy"), *in[3] = {NULL, NULL, NULL};
    int64_t b = cJSON_GetObjectItem(cases, "batch")->valueint, steps = cJSON_GetObjectItem(cases, "steps")->valueint;
    int64_t dx[2] = {b, 16}, dy[1] = {b}, per_epoch = x->shape.dims[0] / b;
    hcg_shape sx = hcg_shape_make(2, dx), sy = hcg_shape_make(1, dy);
    hcg_tensor *bx = NULL, *by = NULL, *bnext = NULL; /* bnext: a pipelined teacher's next batch */
    hcg_tensor_new(HCG_F32, &sx, &bx);
    hcg_tensor_new(HCG_I64, &sy, &by);
    hcg_tensor_new(HCG_F32, &sx, &bnext);
    for (int i = 0; i < hcg_graph_num_inputs(g) && i < 3; i++) {
        const char *name = hcg_graph_input_name(g, i);
        in[i] = strcmp(name, labels_input) == 0 ? by : strncmp(name, HCG_PIPELINE_INPUT_PREFIX, 9) == 0 ? bnext : bx;
    }
    bool ok = CHECK_OK(hcg_train_session_new(g, opt, &t)), pipelined = hcg_graph_find(g, "hcg:next/x") >= 0;
    if (ok && pipelined) { /* the soft targets of batch 0 first: one evaluation with it as both batches */
        memcpy(bx->data, x->data, bx->nbytes);
        memcpy(bnext->data, x->data, bnext->nbytes);
        memcpy(by->data, y->data, by->nbytes);
        hcg_tensor *outs[16] = {NULL};
        ok = CHECK(hcg_graph_num_outputs(g) <= 16, "outputs") &&
             CHECK_OK(hcg_train_eval(t, (const hcg_tensor *const *)in, outs));
        for (int j = 0; j < 16; j++) hcg_tensor_free(outs[j]);
    }
    for (int64_t k = 0; k < steps && ok; k++) {
        int64_t first = (k % per_epoch) * b, next = ((k + 1) % per_epoch) * b;
        memcpy(bx->data, (float *)x->data + first * 16, bx->nbytes);
        memcpy(bnext->data, (float *)x->data + next * 16, bnext->nbytes);
        memcpy(by->data, (int64_t *)y->data + first, by->nbytes);
        ok = CHECK_OK(hcg_train_step(t, (const hcg_tensor *const *)in, NULL));
    }
    char rel[256];
    snprintf(rel, sizeof rel, "tests/workloads/%s", expected);
    hcg_st_file *f = NULL;
    ok = ok && CHECK_OK(hcg_st_open(tl_src(rel), &f));
    const cJSON *tol;
    int n = 0;
    cJSON_ArrayForEach(tol, cJSON_GetObjectItem(cases, tol_key))
    {
        if (!ok) break;
        hcg_tensor *got = NULL, *want = NULL;
        const hcg_st_entry *e = hcg_st_find(f, tol->string);
        char label[256];
        snprintf(label, sizeof label, "%s on %s: %s", what, devices, tol->string);
        if (CHECK(e != NULL, "%s in the reference", tol->string) && CHECK_OK(hcg_st_tensor(f, e, &want)) &&
            CHECK_OK(hcg_train_get_param(t, tol->string, &got)))
            tl_tensor_close(got, want, 0, tol->valuedouble, label);
        hcg_tensor_free(got);
        hcg_tensor_free(want);
        n++;
    }
    if (ok) CHECK(n == hcg_train_num_params(t), "%s: every trained param compared (%d of %d)", what, n, hcg_train_num_params(t));
    if (f) hcg_st_close(f);
    hcg_train_session_free(t);
    hcg_tensor_free(x);
    hcg_tensor_free(y);
    hcg_tensor_free(bx);
    hcg_tensor_free(by);
    hcg_tensor_free(bnext);
}

/* The pipelined distillation graph's step needs its soft-targets state primed: one evaluation run
 * with the first batch as both the student's and the teachers' (next) batch. train_and_compare
 * runs batches in order, so the pipelined inputs get batch k + 1. */
static void test_distillation(void)
{
    hcg_graph *student = model("student.hcg"), *t[3] = {model("teacher0.onnx"), model("teacher1.onnx"), model("teacher2.onnx")};
    hcg_graph *g = NULL;
    double w[3];
    weights_of(w, 3);
    hcg_distill_options o = {.temperature = cJSON_GetObjectItem(cases, "temperature")->valuedouble,
                             .alpha = cJSON_GetObjectItem(cases, "alpha")->valuedouble};
    if (CHECK_OK(hcg_distill_build(student, (const hcg_graph *const *)t, NULL, w, 3, &o, &g))) {
        hcg_train_options opt = {.loss = "loss", .optimizer = HCG_OPTIM_SGD, .lr = 0.05, .momentum = 0.9, .devices = devices};
        train_and_compare(g, &opt, "labels", "expected_distill.safetensors", "distill_tolerance", "distilled student");
    }
    hcg_graph_free(g);
    g = NULL;
    /* With several devices: the teachers pinned across them and the student on the last, each part
     * where it is told (pipelined, so the teachers' forward overlaps the student's step) */
    int n_dev = 1;
    for (const char *c = devices; *c; c++) n_dev += *c == ',';
    o.pipeline = true;
    if (n_dev > 1 && CHECK_OK(hcg_distill_build(student, (const hcg_graph *const *)t, NULL, w, 3, &o, &g))) {
        char list[256], *dev[8];
        int k = 0;
        snprintf(list, sizeof list, "%s", devices);
        for (char *tok = strtok(list, ","); tok && k < 8; tok = strtok(NULL, ",")) dev[k++] = tok;
        for (int i = 0; i < 3; i++) {
            char group[16];
            snprintf(group, sizeof group, "teacher%d", i);
            CHECK_OK(hcg_workload_pin(g, group, dev[i % k]));
        }
        CHECK_OK(hcg_workload_pin(g, "student", dev[k - 1]));
        hcg_train_options opt = {.loss = "loss", .optimizer = HCG_OPTIM_SGD, .lr = 0.05, .momentum = 0.9, .devices = devices};
        train_and_compare(g, &opt, "labels", "expected_distill.safetensors", "distill_tolerance",
                          "pinned, pipelined distilled student");
    }
    hcg_graph_free(g);
    g = NULL;
    o.pipeline = false;
    /* bad input */
    o.temperature = 0;
    CHECK_FAILS(hcg_distill_build(student, (const hcg_graph *const *)t, NULL, w, 3, &o, &g), HCG_ERR_ARG, "temperature must be > 0");
    o.temperature = 2;
    o.alpha = 1.5;
    CHECK_FAILS(hcg_distill_build(student, (const hcg_graph *const *)t, NULL, w, 3, &o, &g), HCG_ERR_ARG, "alpha must be in [0, 1]");
    hcg_graph_free(student);
    for (int i = 0; i < 3; i++) hcg_graph_free(t[i]);
}

static void test_joint_training(void)
{
    hcg_graph *m[2] = {model("teacher0.onnx"), model("teacher1.onnx")}, *g = NULL;
    double w[2] = {0.6, 0.4};
    hcg_ensemble_options o = {.combine = HCG_COMBINE_WEIGHTED, .labels = "y"};
    if (CHECK_OK(hcg_ensemble_build((const hcg_graph *const *)m, NULL, w, 2, &o, &g))) {
        hcg_train_options opt = {.loss = "loss", .optimizer = HCG_OPTIM_ADAMW, .lr = 0.01, .weight_decay = 0.01,
                                 .devices = devices};
        train_and_compare(g, &opt, "y", "expected_joint.safetensors", "joint_tolerance", "jointly trained ensemble");
    }
    hcg_graph_free(g);
    hcg_graph_free(m[0]);
    hcg_graph_free(m[1]);
}

int main(void)
{
    devices = tl_test_devices();
    if (!devices) return tl_skip("the devices of HCG_TEST_DEVICES are not all here");
    size_t len = 0;
    char *text = tl_read_file(tl_src("tests/workloads/cases.json"), &len);
    cases = text ? cJSON_Parse(text) : NULL;
    if (!CHECK(cases != NULL, "reading tests/workloads/cases.json")) return tl_finish();
    test_ensembles();
    test_distillation();
    test_joint_training();
    cJSON_Delete(cases);
    free(text);
    return tl_finish();
}
