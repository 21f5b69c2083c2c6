/* test_workload_cli.c — `hcg ensemble` and `hcg distill` end to end: an ensemble file written by
 * the command runs with `hcg run` to PyTorch's outputs and trains with `hcg train`; a distillation
 * through the command reaches PyTorch's student parameters (tests/workloads); and every bad input
 * the issue lists gives a clear message naming the model or value, a non-zero exit, and nothing
 * written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/safetensors.h"
#include "testlib.h"

static char out[1 << 16];

static int hcg(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && HCG_FAKE_DEVICES=2 '%s' %s 2>&1", tl_src("tests/workloads"), tl_hcg_bin(), args);
    return tl_run(cmd, out, sizeof out);
}

static const char *tmp(const char *name)
{
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 1024, "%s/%s", tl_tmpdir(), name);
    return b;
}

static void compare_npy(const char *got_path, const char *want_file, double rtol, double atol)
{
    hcg_tensor *got = NULL, *want = NULL;
    char rel[256];
    snprintf(rel, sizeof rel, "tests/workloads/%s", want_file);
    if (CHECK_OK(hcg_npy_load(got_path, &got)) && CHECK_OK(hcg_npy_load(tl_src(rel), &want)))
        tl_tensor_close(got, want, rtol, atol, want_file);
    hcg_tensor_free(got);
    hcg_tensor_free(want);
}

static void test_ensemble_command(void)
{
    char a[4096];
    snprintf(a, sizeof a, "ensemble %s --member teacher0.onnx:0.5 --member teacher1.onnx:0.3 --member teacher2.onnx:0.2 "
                          "--combine weighted --softmax", tmp("ens.hcg"));
    CHECK(hcg(a) == 0, "hcg ensemble: %s", out);
    CHECK(access(tmp("ens.safetensors"), F_OK) == 0, "the weights are written beside the graph");
    snprintf(a, sizeof a, "run %s --input x=x.npy --devices cpu --output-dir %s --quiet", tmp("ens.hcg"), tmp("ens_out"));
    CHECK(hcg(a) == 0, "hcg run of the ensemble: %s", out);
    compare_npy(tmp("ens_out/ensemble.npy"), "expected_weighted_softmax.npy", 1e-5, 1e-6);
    snprintf(a, sizeof a, "ensemble %s --member teacher0.onnx:0.5 --member teacher1.onnx:0.3 --member teacher2.onnx:0.2 "
                          "--combine vote", tmp("vote.hcg"));
    CHECK(hcg(a) == 0, "hcg ensemble --combine vote: %s", out);
    snprintf(a, sizeof a, "run %s --input x=x.npy --devices cpu --output-dir %s --quiet", tmp("vote.hcg"), tmp("vote_out"));
    CHECK(hcg(a) == 0, "hcg run of the vote: %s", out);
    compare_npy(tmp("vote_out/ensemble.npy"), "expected_vote.npy", 0, 0);
    /* joint training through the command */
    snprintf(a, sizeof a, "ensemble %s --member teacher0.onnx:0.6 --member teacher1.onnx:0.4 --combine weighted --labels y",
             tmp("joint.hcg"));
    CHECK(hcg(a) == 0, "hcg ensemble --labels: %s", out);
    snprintf(a, sizeof a, "train %s --loss loss --data x=x.npy --data y=y.npy --optimizer adamw --lr 0.01 "
                          "--weight-decay 0.01 --batch 8 --steps 8 --devices cpu --quiet --save %s",
             tmp("joint.hcg"), tmp("joint.safetensors"));
    CHECK(hcg(a) == 0, "hcg train of the ensemble: %s", out);
    hcg_st_file *got = NULL, *want = NULL;
    if (CHECK_OK(hcg_st_open(tmp("joint.safetensors"), &got)) &&
        CHECK_OK(hcg_st_open(tl_src("tests/workloads/expected_joint.safetensors"), &want))) {
        CHECK(hcg_st_count(got) == hcg_st_count(want), "every member param trained (%d)", hcg_st_count(got));
        for (int i = 0; i < hcg_st_count(want); i++) {
            const hcg_st_entry *e = hcg_st_get(want, i), *g = hcg_st_find(got, e->name);
            hcg_tensor *x = NULL, *y = NULL;
            if (CHECK(g != NULL, "%s saved", e->name) && !hcg_st_tensor(got, g, &x) && !hcg_st_tensor(want, e, &y))
                tl_tensor_close(x, y, 1e-4, 1e-5, e->name); /* the exact tolerance is checked by test_workloads */
            hcg_tensor_free(x);
            hcg_tensor_free(y);
        }
    }
    if (got) hcg_st_close(got);
    if (want) hcg_st_close(want);
}

static void check_student(const char *path);

static void test_distill_command(void)
{
    char a[4096];
    snprintf(a, sizeof a, "distill --student student.hcg --teacher teacher0.onnx:0.5 --teacher teacher1.onnx:0.3 "
                          "--teacher teacher2.onnx:0.2 --data x=x.npy --labels y.npy --temperature 4 --alpha 0.7 "
                          "--optimizer sgd --lr 0.05 --momentum 0.9 --batch 8 --steps 8 --devices cpu --quiet --save %s",
             tmp("student.safetensors"));
    CHECK(hcg(a) == 0, "hcg distill: %s", out);
    check_student(tmp("student.safetensors"));
    /* the same without the pipeline, and stopped after step 5 and resumed */
    snprintf(a, sizeof a, "distill --student student.hcg --teacher teacher0.onnx:0.5 --teacher teacher1.onnx:0.3 "
                          "--teacher teacher2.onnx:0.2 --data x=x.npy --labels y.npy --temperature 4 --alpha 0.7 "
                          "--optimizer sgd --lr 0.05 --momentum 0.9 --batch 8 --steps 8 --devices cpu --quiet "
                          "--no-pipeline --save %s", tmp("student_np.safetensors"));
    CHECK(hcg(a) == 0, "hcg distill --no-pipeline: %s", out);
    check_student(tmp("student_np.safetensors"));
    /* pinned: the teachers on one fake device, the student on another; the same parameters */
    snprintf(a, sizeof a, "distill --student student.hcg@fake:1 --teacher teacher0.onnx:0.5@fake:0 "
                          "--teacher teacher1.onnx:0.3@fake:0 --teacher teacher2.onnx:0.2@fake:0 --data x=x.npy --labels y.npy "
                          "--temperature 4 --alpha 0.7 --optimizer sgd --lr 0.05 --momentum 0.9 --batch 8 --steps 8 "
                          "--devices fake:0,fake:1 --explain --save %s", tmp("student_pinned.safetensors"));
    CHECK(hcg(a) == 0, "hcg distill with pins: %s", out);
    CHECK(strstr(out, "teacher0 on fake:0 beside model on fake:1") != NULL,
          "--explain shows the teachers on fake:0 overlapping the student on fake:1: %s", out);
    check_student(tmp("student_pinned.safetensors"));
    /* evaluation in batches of 12 (the last one 8 rows: its soft targets get their own state), with
     * and without the pipeline: the same figures */
    char evals[2][512];
    for (int pipe = 0; pipe < 2; pipe++) {
        snprintf(a, sizeof a, "distill --student student.hcg --teacher teacher0.onnx --teacher teacher1.onnx --data x=x.npy "
                              "--labels y.npy --eval x=x.npy --eval-labels y.npy --eval-every 2 --temperature 2 --alpha 0.5 "
                              "--optimizer sgd --lr 0.05 --batch 12 --steps 4 --devices cpu %s --save %s",
                 pipe ? "" : "--no-pipeline", tmp("eval.safetensors"));
        CHECK(hcg(a) == 0, "hcg distill with --eval (pipeline %d): %s", pipe, out);
        const char *e = strstr(out, "eval after step 4:");
        snprintf(evals[pipe], sizeof evals[pipe], "%.*s", e ? (int)strcspn(e, "\n") : 0, e ? e : "");
    }
    CHECK(evals[0][0] && strcmp(evals[0], evals[1]) == 0, "pipelined evaluation gives the same figures: '%s' vs '%s'",
          evals[0], evals[1]);
    const char *common = "distill --student student.hcg --teacher teacher0.onnx:0.5 --teacher teacher1.onnx:0.3 "
                         "--teacher teacher2.onnx:0.2 --data x=x.npy --labels y.npy --temperature 4 --alpha 0.7 "
                         "--optimizer adam --lr 0.01 --batch 8 --steps 9 --shuffle 3 --devices cpu --quiet";
    snprintf(a, sizeof a, "%s --save %s", common, tmp("whole.safetensors"));
    CHECK(hcg(a) == 0, "hcg distill, whole: %s", out);
    snprintf(a, sizeof a, "%s --checkpoint-dir %s --checkpoint-every 2 --stop-after 5 --save %s", common, tmp("dckpt"),
             tmp("never.safetensors"));
    CHECK(hcg(a) == 0, "hcg distill, stopped: %s", out);
    snprintf(a, sizeof a, "%s --checkpoint-dir %s --checkpoint-every 2 --resume %s --save %s", common, tmp("dckpt"),
             tmp("dckpt"), tmp("resumed.safetensors"));
    CHECK(hcg(a) == 0, "hcg distill, resumed: %s", out);
    size_t la = 0, lb = 0;
    char *x = tl_read_file(tmp("whole.safetensors"), &la), *y = tl_read_file(tmp("resumed.safetensors"), &lb);
    CHECK(x && y && la == lb && memcmp(x, y, la) == 0, "a resumed pipelined distillation is bit-identical");
    free(x);
    free(y);
}

static void check_student(const char *path)
{
    hcg_st_file *got = NULL, *want = NULL;
    if (CHECK_OK(hcg_st_open(path, &got)) &&
        CHECK_OK(hcg_st_open(tl_src("tests/workloads/expected_distill.safetensors"), &want))) {
        CHECK(hcg_st_count(got) == 4, "only the student's 4 params are saved (%d)", hcg_st_count(got));
        for (int i = 0; i < hcg_st_count(want); i++) {
            const hcg_st_entry *e = hcg_st_get(want, i), *g = hcg_st_find(got, e->name);
            hcg_tensor *x = NULL, *y = NULL;
            if (CHECK(g != NULL, "%s saved", e->name) && !hcg_st_tensor(got, g, &x) && !hcg_st_tensor(want, e, &y))
                tl_tensor_close(x, y, 1e-4, 1e-5, e->name);
            hcg_tensor_free(x);
            hcg_tensor_free(y);
        }
    }
    if (got) hcg_st_close(got);
    if (want) hcg_st_close(want);
}

static void fails(const char *args, const char *needle, const char *must_not_exist)
{
    int rc = hcg(args);
    CHECK(rc != 0 && strstr(out, needle), "`hcg %s` fails with '%s': rc %d, %s", args, needle, rc, out);
    CHECK(access(must_not_exist, F_OK) != 0, "`hcg %s` writes nothing", args);
}

static void test_bad_input(void)
{
    char a[4096];
    const char *o = tmp("bad.hcg");
    snprintf(a, sizeof a, "ensemble %s --member teacher0.onnx:0.5 --member teacher1.onnx:-1 --combine weighted", o);
    fails(a, "member 2 has the weight -1", o);
    snprintf(a, sizeof a, "ensemble %s --member teacher0.onnx:0 --member teacher1.onnx:0 --combine weighted", o);
    fails(a, "weights are all zero", o);
    snprintf(a, sizeof a, "ensemble %s --member teacher0.onnx --member student.hcg --member y.npy --combine vote", o);
    fails(a, "member 3", o);
    snprintf(a, sizeof a, "ensemble %s --member teacher0.onnx --combine average", o);
    fails(a, "--combine must be weighted, vote or concat", o);
    const char *s = tmp("bad.safetensors");
    const char *base = "distill --student student.hcg --teacher teacher0.onnx --data x=x.npy --optimizer sgd --lr 0.1 "
                       "--batch 8 --steps 2 --devices cpu";
    snprintf(a, sizeof a, "%s --labels y.npy --temperature 0 --alpha 0.5 --save %s", base, s);
    fails(a, "--temperature must be a number > 0", s);
    snprintf(a, sizeof a, "%s --labels y.npy --temperature 2 --alpha 1.5 --save %s", base, s);
    fails(a, "--alpha must be a number in [0, 1]", s);
    snprintf(a, sizeof a, "distill --student student.hcg --teacher y.npy --data x=x.npy --labels y.npy --temperature 2 "
                          "--alpha 0.5 --optimizer sgd --lr 0.1 --batch 8 --steps 2 --save %s", s);
    fails(a, "teacher 1 (y.npy) is not a model", s);
    snprintf(a, sizeof a, "distill --student student.hcg --teacher teacher0.onnx:-2 --data x=x.npy --labels y.npy "
                          "--temperature 2 --alpha 0.5 --optimizer sgd --lr 0.1 --batch 8 --steps 2 --save %s", s);
    fails(a, "teacher 1 has the weight -2", s);
    /* labels whose count differs from the data */
    int64_t d[1] = {31};
    hcg_shape sh = hcg_shape_make(1, d);
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_I64, &sh, &t);
    hcg_npy_save(tmp("y31.npy"), t);
    hcg_tensor_free(t);
    snprintf(a, sizeof a, "%s --labels %s --temperature 2 --alpha 0.5 --save %s", base, tmp("y31.npy"), s);
    fails(a, "31 samples", s);
    /* a teacher whose input the data lacks */
    snprintf(a, sizeof a, "distill --student student.hcg --teacher ../train/enc.onnx --data x=x.npy --labels y.npy "
                          "--temperature 2 --alpha 0.5 --optimizer sgd --lr 0.1 --batch 8 --steps 2 --save %s", s);
    fails(a, "teacher 1 (../train/enc.onnx)", s);
}

int main(void)
{
    test_ensemble_command();
    test_distill_command();
    test_bad_input();
    return tl_finish();
}
