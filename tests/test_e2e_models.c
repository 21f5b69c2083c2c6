/* test_e2e_models.c — the example models end to end through the `hcg` command: each is run with
 * `hcg run` on every device selection this machine offers (cpu, each OpenCL device, pairs of
 * devices, auto) and its outputs compared with PyTorch's (models/make_examples.py). The attention
 * block is also run at a second batch size and sequence length. The command's bad-input paths
 * (a missing input, an unknown device or input, a wrong shape) must fail with a clear message and
 * leave no output file behind. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

typedef struct model_case {
    const char *graph, *input_name, *input, *output, *expected;
    double rtol, atol;
} model_case;

static const model_case cases[] = {
    {"models/attention/attention.hcg", "x", "models/attention/x.npy", "y", "models/attention/expected_x.npy", 1e-5, 1e-6},
    {"models/attention/attention.hcg", "x", "models/attention/x_b3_s7.npy", "y", "models/attention/expected_x_b3_s7.npy",
     1e-5, 1e-6},
    {"models/mlp/mlp.hcg", "x", "models/mlp/x.npy", "probs", "models/mlp/expected_probs.npy", 1e-5, 1e-6},
    {"models/ensemble/ensemble.hcg", "x", "models/ensemble/x.npy", "mean", "models/ensemble/expected_mean.npy", 1e-5,
     1e-6},
};

/* Device selections to try: cpu, each OpenCL device alone, OpenCL + cpu, two OpenCL devices, auto. */
static int device_specs(char specs[][64], int max)
{
    int n = 0, n_ocl = 0;
    char ocl[8][32];
    for (int i = 0; i < hcg_device_count() && n_ocl < 8; i++) {
        const char *name = hcg_device_name(hcg_device_get(i));
        if (strncmp(name, "opencl:", 7) == 0) snprintf(ocl[n_ocl++], sizeof ocl[0], "%s", name);
    }
    snprintf(specs[n++], 64, "cpu");
    for (int i = 0; i < n_ocl && n < max; i++) snprintf(specs[n++], 64, "%s", ocl[i]);
    if (n_ocl >= 1 && n < max) snprintf(specs[n++], 64, "%s,cpu", ocl[0]);
    if (n_ocl >= 2 && n < max) snprintf(specs[n++], 64, "%s,%s", ocl[0], ocl[1]);
    if (n < max) snprintf(specs[n++], 64, "auto");
    return n;
}

static void run_case(const model_case *c, const char *devices, int k)
{
    char cmd[4096], out_dir[512], out[8192], got_path[600];
    snprintf(out_dir, sizeof out_dir, "%s/run%d", tl_tmpdir(), k);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' --devices '%s' --input %s='%s' --output-dir '%s'", tl_hcg_bin(),
             tl_src(c->graph), devices, c->input_name, tl_src(c->input), out_dir);
    int rc = tl_run(cmd, out, sizeof out);
    if (!CHECK(rc == 0, "%s on %s: exit %d\n%s", c->graph, devices, rc, out)) return;
    CHECK(strstr(out, "ran on:") != NULL, "hcg run says where the nodes ran");
    snprintf(got_path, sizeof got_path, "%s/%s.npy", out_dir, c->output);
    hcg_tensor *got = NULL, *want = NULL;
    CHECK_OK(hcg_npy_load(got_path, &got));
    CHECK_OK(hcg_npy_load(tl_src(c->expected), &want));
    char what[512];
    snprintf(what, sizeof what, "%s (%s) on %s vs PyTorch", c->graph, c->input, devices);
    tl_tensor_close(got, want, c->rtol, c->atol, what);
    hcg_tensor_free(got);
    hcg_tensor_free(want);
}

static void expect_failure(const char *args, const char *needle, const char *what)
{
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s", tl_src(""), tl_hcg_bin(), args);
    int rc = tl_run(cmd, out, sizeof out);
    CHECK(rc != 0 && rc < 128 && strstr(out, needle), "%s: wanted a clean failure mentioning '%s', got exit %d: %s",
          what, needle, rc, out);
}

static void test_bad_invocations(void)
{
    char args[2048], dir[600];
    snprintf(dir, sizeof dir, "%s/bad", tl_tmpdir());
    expect_failure("run models/mlp/mlp.hcg --output-dir /tmp/hcg-never", "input 'x' is not given", "missing input");
    expect_failure("run models/mlp/mlp.hcg --input y=models/mlp/x.npy", "no input 'y'", "unknown input");
    expect_failure("run models/mlp/mlp.hcg --devices opencl:99 --input x=models/mlp/x.npy", "unknown device 'opencl:99'",
                   "unknown device");
    snprintf(args, sizeof args, "run models/mlp/mlp.hcg --input x=models/attention/x.npy --output-dir '%s'", dir);
    expect_failure(args, "input 'x' must be f32[N, 32]", "wrong input shape");
    struct stat st;
    CHECK(stat(dir, &st) != 0, "a failed run writes no output folder or file");
    expect_failure("run models/nope.hcg", "nope.hcg", "missing model file");
    expect_failure("run models/mlp/mlp.hcg --input x=models/missing.npy", "missing.npy", "missing input file");
    expect_failure("frobnicate", "unknown command", "unknown command");
}

/* The ensemble with pinned members runs split over opencl:0 and the cpu; selecting only the cpu
 * makes the pins an error that names the pinned device. */
static void test_pinned_ensemble(void)
{
    char cmd[4096], out[8192], dir[600], got_path[700];
    if (!hcg_device_find("opencl:0")) return;
    snprintf(dir, sizeof dir, "%s/pinned", tl_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' run '%s' --devices opencl:0,cpu --passes none --input x='%s' --output-dir '%s'", tl_hcg_bin(),
             tl_src("models/ensemble/ensemble_pinned.hcg"), tl_src("models/ensemble/x.npy"), dir);
    int rc = tl_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "opencl:0 (6 nodes)") && strstr(out, "cpu (8 nodes)"),
          "the pinned members run where they are pinned: %s", out);
    snprintf(got_path, sizeof got_path, "%s/mean.npy", dir);
    hcg_tensor *got = NULL, *want = NULL;
    if (CHECK_OK(hcg_npy_load(got_path, &got)) && CHECK_OK(hcg_npy_load(tl_src("models/ensemble/expected_mean.npy"), &want)))
        tl_tensor_close(got, want, 1e-5, 1e-6, "pinned ensemble vs PyTorch");
    hcg_tensor_free(got);
    hcg_tensor_free(want);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' --devices cpu --input x='%s'", tl_hcg_bin(),
             tl_src("models/ensemble/ensemble_pinned.hcg"), tl_src("models/ensemble/x.npy"));
    rc = tl_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "pinned to 'opencl:0', which is not among the selected devices (cpu)") &&
              strstr(out, "ensemble_pinned.hcg:"),
          "a pin to an unselected device is a clear error with its file position: %s", out);
}

int main(void)
{
    char specs[16][64];
    int n_specs = device_specs(specs, 16), k = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int d = 0; d < n_specs; d++) run_case(&cases[c], specs[d], k++);
    test_bad_invocations();
    test_pinned_ensemble();
    return tl_finish();
}
