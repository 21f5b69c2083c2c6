/* test_train_cli.c — `hcg train` end to end: the command trains to PyTorch's parameters (the
 * parity reference of tests/train), a run stopped and resumed from its checkpoint ends
 * bit-identical to an uninterrupted one (shuffling, AdamW moments, a cosine schedule), the log has
 * a JSON line per step, placement over fake devices gives the same parameters as the cpu, and every
 * kind of bad input ends with a clear message, a non-zero exit and no output file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "graph/safetensors.h"
#include "testlib.h"

static char out[1 << 16];

static int hcg(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && HCG_FAKE_DEVICES=2 '%s' %s 2>&1", tl_src(""), tl_hcg_bin(), args);
    return tl_run(cmd, out, sizeof out);
}

static char *tmp(const char *name)
{
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 1024, "%s/%s", tl_tmpdir(), name);
    return b;
}

#define MLP "tests/train/mlp.hcg --loss loss --data x=tests/train/data_x.npy --data y=tests/train/data_y5.npy"

/* The saved params against a parity case's reference. */
static void check_against_reference(const char *saved, const char *case_name)
{
    size_t len = 0;
    char *text = tl_read_file(tl_src("tests/train/cases.json"), &len);
    cJSON *cases = cJSON_Parse(text), *c;
    hcg_st_file *got = NULL, *want = NULL;
    char rel[256];
    cJSON_ArrayForEach(c, cases)
    {
        if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, case_name) != 0) continue;
        snprintf(rel, sizeof rel, "tests/train/%s", cJSON_GetObjectItem(c, "expected")->valuestring);
        if (!CHECK_OK(hcg_st_open(saved, &got)) || !CHECK_OK(hcg_st_open(tl_src(rel), &want))) break;
        const cJSON *tol;
        int n = 0;
        cJSON_ArrayForEach(tol, cJSON_GetObjectItem(c, "tolerance"))
        {
            hcg_tensor *a = NULL, *b = NULL;
            const hcg_st_entry *ea = hcg_st_find(got, tol->string), *eb = hcg_st_find(want, tol->string);
            if (CHECK(ea && eb, "%s holds %s", saved, tol->string) && CHECK_OK(hcg_st_tensor(got, ea, &a)) &&
                CHECK_OK(hcg_st_tensor(want, eb, &b)))
                tl_tensor_close(a, b, 0, tol->valuedouble, tol->string);
            hcg_tensor_free(a);
            hcg_tensor_free(b);
            n++;
        }
        CHECK(n == hcg_st_count(got), "%s holds exactly the %d trained params (%d)", saved, n, hcg_st_count(got));
    }
    if (got) hcg_st_close(got);
    if (want) hcg_st_close(want);
    cJSON_Delete(cases);
    free(text);
}

static bool same_bytes(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = tl_read_file(a, &la), *y = tl_read_file(b, &lb);
    bool same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static void test_parity_through_the_cli(void)
{
    char args[4096];
    snprintf(args, sizeof args,
             "train " MLP " --optimizer sgd --lr 0.05 --momentum 0.9 --batch 8 --steps 8 --devices cpu --save %s "
             "--log %s --explain",
             tmp("sgd.safetensors"), tmp("sgd.jsonl"));
    CHECK(hcg(args) == 0, "hcg train (sgd): %s", out);
    CHECK(strstr(out, "liveness lower bound") && strstr(out, "sgd_update"), "--explain shows the step's plan: %s", out);
    check_against_reference(tmp("sgd.safetensors"), "mlp_sgd_hcg");
    size_t len = 0;
    char *log = tl_read_file(tmp("sgd.jsonl"), &len);
    int lines = 0;
    for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        lines += CHECK(cJSON_IsNumber(cJSON_GetObjectItem(o, "loss")) && cJSON_IsNumber(cJSON_GetObjectItem(o, "step")),
                       "a log line has step and loss: %s", line);
        cJSON_Delete(o);
    }
    CHECK(lines == 8, "one log line per step (%d)", lines);
    free(log);

    snprintf(args, sizeof args,
             "train tests/train/enc.onnx --loss loss --data ids=tests/train/data_ids.npy --data y=tests/train/data_y4.npy "
             "--optimizer adamw --lr 0.01 --weight-decay 0.01 --batch 8 --steps 8 --devices cpu --quiet --save %s",
             tmp("enc.safetensors"));
    CHECK(hcg(args) == 0, "hcg train (ONNX, adamw): %s", out);
    check_against_reference(tmp("enc.safetensors"), "enc_adamw_onnx");

    /* the scheduler splitting the step over two fake devices and the cpu changes nothing */
    snprintf(args, sizeof args,
             "train " MLP " --optimizer sgd --lr 0.05 --momentum 0.9 --batch 8 --steps 8 --devices cpu,fake:0,fake:1 "
             "--quiet --save %s",
             tmp("sgd_fake.safetensors"));
    CHECK(hcg(args) == 0, "hcg train over fake devices: %s", out);
    check_against_reference(tmp("sgd_fake.safetensors"), "mlp_sgd_hcg");
}

static void test_resume_is_bit_identical(void)
{
    const char *common = "train " MLP " --optimizer adamw --lr 0.02 --weight-decay 0.01 --batch 8 --steps 11 "
                         "--shuffle 42 --schedule cosine --warmup-steps 2 --min-lr 0.001 --clip-norm 1.0 --devices cpu --quiet";
    char args[4096];
    snprintf(args, sizeof args, "%s --save %s", common, tmp("whole.safetensors"));
    CHECK(hcg(args) == 0, "uninterrupted run: %s", out);
    snprintf(args, sizeof args, "%s --checkpoint-dir %s --checkpoint-every 3 --stop-after 7 --save %s", common,
             tmp("ckpt"), tmp("never.safetensors"));
    CHECK(hcg(args) == 0, "run stopped after step 7: %s", out);
    CHECK(access(tmp("never.safetensors"), F_OK) != 0, "a stopped run writes no --save file");
    size_t len = 0;
    char *latest = tl_read_file(tmp("ckpt/latest"), &len);
    CHECK(latest && strcmp(latest, "step-000000007") == 0, "the newest checkpoint is step 7 (%s)", latest ? latest : "none");
    free(latest);
    CHECK(access(tmp("ckpt/step-000000006"), F_OK) == 0 && access(tmp("ckpt/step-000000003"), F_OK) != 0,
          "the previous checkpoint is kept, older ones removed");
    snprintf(args, sizeof args, "%s --checkpoint-dir %s --checkpoint-every 3 --resume %s --save %s", common, tmp("ckpt"),
             tmp("ckpt"), tmp("resumed.safetensors"));
    CHECK(hcg(args) == 0, "resumed run: %s", out);
    CHECK(same_bytes(tmp("whole.safetensors"), tmp("resumed.safetensors")),
          "a resumed run ends bit-identical to an uninterrupted one");
    /* resuming with another batch size is refused */
    snprintf(args, sizeof args,
             "train " MLP " --optimizer adamw --lr 0.02 --batch 4 --steps 11 --shuffle 42 --resume %s --save %s",
             tmp("ckpt"), tmp("bad.safetensors"));
    CHECK(hcg(args) != 0 && strstr(out, "--batch 8"), "resuming with another --batch is refused: %s", out);
    snprintf(args, sizeof args, "train " MLP " --optimizer sgd --lr 0.02 --batch 8 --steps 11 --resume %s --save %s",
             tmp("ckpt"), tmp("bad.safetensors"));
    CHECK(hcg(args) != 0 && strstr(out, "adamw optimizer"), "resuming with another optimizer is refused: %s", out);
}

/* A failing command: non-zero exit, a message with `needle`, no --save file. */
static void fails(const char *extra, const char *needle)
{
    char args[4096];
    unlink(tmp("bad.safetensors"));
    snprintf(args, sizeof args, "train %s --save %s", extra, tmp("bad.safetensors"));
    int rc = hcg(args);
    CHECK(rc != 0 && strstr(out, needle), "`%s` fails with '%s': rc %d, %s", extra, needle, rc, out);
    CHECK(access(tmp("bad.safetensors"), F_OK) != 0, "`%s` writes nothing", extra);
    CHECK(!strstr(out, "Sanitizer") && !strstr(out, "Segmentation"), "no crash: %s", out);
}

static void write_npy_f32(const char *path, int rows, int cols, float fill_nan_row)
{
    int64_t dims[2] = {rows, cols};
    hcg_shape s = hcg_shape_make(2, dims);
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_F32, &s, &t);
    float *p = t->data;
    for (int i = 0; i < rows * cols; i++) p[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    if (fill_nan_row >= 0)
        for (int j = 0; j < cols; j++) p[(int)fill_nan_row * cols + j] = NAN;
    hcg_npy_save(path, t);
    hcg_tensor_free(t);
}

static void write_npy_i64(const char *path, int rows, int64_t value_at_3)
{
    int64_t dims[1] = {rows};
    hcg_shape s = hcg_shape_make(1, dims);
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_I64, &s, &t);
    int64_t *p = t->data;
    for (int i = 0; i < rows; i++) p[i] = i % 5;
    p[3] = value_at_3;
    hcg_npy_save(path, t);
    hcg_tensor_free(t);
}

static void test_bad_input(void)
{
    const char *opt = "--optimizer sgd --lr 0.05 --batch 8 --steps 4 --devices cpu";
    char a[4096];
    snprintf(a, sizeof a, "tests/train/mlp.hcg --loss logits --data x=tests/train/data_x.npy --data y=tests/train/data_y5.npy %s", opt);
    fails(a, "scalar");
    snprintf(a, sizeof a, "tests/train/mlp.hcg --loss nope --data x=tests/train/data_x.npy --data y=tests/train/data_y5.npy %s", opt);
    fails(a, "not an output");
    snprintf(a, sizeof a, MLP " --data z=tests/train/data_x.npy %s", opt);
    fails(a, "no input 'z'");
    snprintf(a, sizeof a, "tests/train/mlp.hcg --loss loss --data x=tests/train/data_x.npy %s", opt);
    fails(a, "input 'y' has no data");
    write_npy_i64(tmp("y31.npy"), 31, 0);
    snprintf(a, sizeof a, "tests/train/mlp.hcg --loss loss --data x=tests/train/data_x.npy --data y=%s %s", tmp("y31.npy"), opt);
    fails(a, "31 samples");
    write_npy_i64(tmp("y_bad.npy"), 32, 9);
    snprintf(a, sizeof a, "tests/train/mlp.hcg --loss loss --data x=tests/train/data_x.npy --data y=%s %s", tmp("y_bad.npy"), opt);
    fails(a, "target 9 (row 3) is not a class index in [0, 5)");
    snprintf(a, sizeof a, MLP " --optimizer sgd --lr 0.05 --batch 100 --steps 4");
    fails(a, "larger than the 32 samples");
    snprintf(a, sizeof a, MLP " --optimizer rmsprop --lr 0.05 --batch 8 --steps 4");
    fails(a, "--optimizer must be sgd, adam or adamw");
    snprintf(a, sizeof a, MLP " --optimizer adamw --lr 0.05 --momentum 0.9 --batch 8 --steps 4");
    fails(a, "options of sgd");
    snprintf(a, sizeof a, MLP " --optimizer adam --lr 0.05 --betas 0.9 --batch 8 --steps 4");
    fails(a, "--betas");
    snprintf(a, sizeof a, MLP " --optimizer adam --lr 0.05 --batch 8 --steps 4 --frobnicate");
    fails(a, "unknown option '--frobnicate'");
    snprintf(a, sizeof a, MLP " --optimizer adam --lr 0.05 --batch 8 --steps 4 --epochs 2");
    fails(a, "exactly one of --steps and --epochs");
    snprintf(a, sizeof a, MLP " --optimizer adam --lr 0.05 --batch 8 --steps 4 --freeze '*'");
    fails(a, "depends on no trainable parameter");
    /* a NaN in the data of the third batch: the loss is NaN at step 3; checkpoints of steps 1 and 2 stay */
    write_npy_f32(tmp("x_nan.npy"), 32, 16, 17);
    snprintf(a, sizeof a,
             "tests/train/mlp.hcg --loss loss --data x=%s --data y=tests/train/data_y5.npy %s --checkpoint-dir %s "
             "--checkpoint-every 1",
             tmp("x_nan.npy"), opt, tmp("nan_ckpt"));
    fails(a, "is NaN at step 3");
    size_t len = 0;
    char *latest = tl_read_file(tmp("nan_ckpt/latest"), &len);
    CHECK(latest && strcmp(latest, "step-000000002") == 0, "the last good checkpoint is step 2 (%s)", latest ? latest : "none");
    free(latest);
}

int main(void)
{
    test_parity_through_the_cli();
    test_resume_is_bit_identical();
    test_bad_input();
    return tl_finish();
}
