/* test_onnx_models.c — end-to-end ONNX workloads: the BERT-style encoder and GPT-style decoder
 * that models/transformer/export_onnx.py defines in PyTorch and exports with dynamic batch and
 * sequence axes. hcg must match PyTorch's outputs (committed .npy) within 1e-4 absolute on the CPU
 * and on every OpenCL device (and on all of them at once, "auto"), for the export shape (batch 2, sequence 8) and for another one
 * (batch 3, sequence 5) through the same session; and `hcg run` on the .onnx file must write the
 * same outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/onnx/onnx.h"
#include "testlib.h"

#define DIR "models/transformer/onnx/"
#define ATOL 1e-4
#define MAX_DEVICES 16

typedef struct workload {
    const char *model;      /* file under DIR */
    const char *inputs[2];  /* graph input names; data in DIR<prefix>_<input><suffix>.npy */
    int n_inputs;
    const char *output;     /* graph output name; expected in DIR<prefix>_expected_<output><suffix>.npy */
    const char *prefix;
} workload;

static const workload workloads[] = {
    {"encoder.onnx", {"input_ids", "attention_mask"}, 2, "pooled", "encoder"},
    {"decoder.onnx", {"input_ids"}, 1, "logits", "decoder"},
};
static const char *const suffixes[] = {"", "_b3_s5"};

static hcg_tensor *load_npy(const char *prefix, const char *what, const char *suffix)
{
    char rel[512];
    hcg_tensor *t = NULL;
    snprintf(rel, sizeof rel, DIR "%s_%s%s.npy", prefix, what, suffix);
    CHECK_OK(hcg_npy_load(tl_src(rel), &t));
    return t;
}

static hcg_tensor *load_expected(const workload *w, const char *suffix)
{
    char what[128];
    snprintf(what, sizeof what, "expected_%s", w->output);
    return load_npy(w->prefix, what, suffix);
}

/* The graph's declared interface: names, dtypes, symbolic batch and sequence dims. */
static void check_interface(const hcg_graph *g, const workload *w)
{
    CHECK(hcg_graph_num_inputs(g) == w->n_inputs, "%s: %d inputs", w->model, hcg_graph_num_inputs(g));
    for (int i = 0; i < w->n_inputs && i < hcg_graph_num_inputs(g); i++) {
        const hcg_node *in = &g->nodes[g->inputs[i]];
        CHECK(strcmp(hcg_graph_input_name(g, i), w->inputs[i]) == 0, "%s: input %d is '%s'", w->model, i,
              hcg_graph_input_name(g, i));
        CHECK(in->dtype == HCG_I64 && in->shape.rank == 2, "%s: input '%s' is not i64 of rank 2", w->model, in->name);
        if (in->shape.rank == 2) {
            CHECK(HCG_DIM_IS_SYM(in->shape.dims[0]) && strcmp(g->syms[HCG_DIM_SYM_ID(in->shape.dims[0])], "batch") == 0,
                  "%s: dim 0 of '%s' is not the symbol batch", w->model, in->name);
            CHECK(HCG_DIM_IS_SYM(in->shape.dims[1]) && strcmp(g->syms[HCG_DIM_SYM_ID(in->shape.dims[1])], "seq") == 0,
                  "%s: dim 1 of '%s' is not the symbol seq", w->model, in->name);
        }
    }
    CHECK(hcg_graph_num_outputs(g) == 1 && strcmp(hcg_graph_output_name(g, 0), w->output) == 0,
          "%s: the output is not '%s'", w->model, w->output);
}

/* Runs both shape sets through one session on `devices`. */
static void run_on(const hcg_graph *g, const workload *w, const char *devices)
{
    hcg_session *s = NULL;
    hcg_session_options opt = {.devices = devices};
    if (!CHECK_OK(hcg_session_new(g, &opt, &s))) return;
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        hcg_tensor *in[2] = {NULL, NULL}, *out = NULL, *want;
        for (int i = 0; i < w->n_inputs; i++) in[i] = load_npy(w->prefix, w->inputs[i], suffixes[k]);
        want = load_expected(w, suffixes[k]);
        char what[256];
        snprintf(what, sizeof what, "%s on %s, shape set '%s'", w->model, devices, *suffixes[k] ? suffixes[k] : "export");
        if (CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)in, &out)))
            tl_tensor_close(out, want, 0, ATOL, what);
        hcg_tensor_free(out);
        hcg_tensor_free(want);
        for (int i = 0; i < w->n_inputs; i++) hcg_tensor_free(in[i]);
    }
    hcg_session_free(s);
}

/* `hcg run MODEL --devices cpu --input NAME=FILE ... --output-dir DIR` writes DIR/<output>.npy. */
static void run_cli(const workload *w)
{
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        char cmd[4096], out_dir[512], rel[512], log[8192];
        snprintf(out_dir, sizeof out_dir, "%s/%s%s", tl_tmpdir(), w->prefix, suffixes[k]);
        snprintf(rel, sizeof rel, DIR "%s", w->model);
        int used = snprintf(cmd, sizeof cmd, "'%s' run '%s' --devices cpu --output-dir '%s' --quiet", tl_hcg_bin(),
                            tl_src(rel), out_dir);
        for (int i = 0; i < w->n_inputs; i++) {
            snprintf(rel, sizeof rel, DIR "%s_%s%s.npy", w->prefix, w->inputs[i], suffixes[k]);
            used += snprintf(cmd + used, sizeof cmd - (size_t)used, " --input '%s=%s'", w->inputs[i], tl_src(rel));
        }
        int rc = tl_run(cmd, log, sizeof log);
        if (!CHECK(rc == 0, "hcg run %s failed (%d): %s", w->model, rc, log)) continue;
        char path[700];
        snprintf(path, sizeof path, "%s/%s.npy", out_dir, w->output);
        hcg_tensor *got = NULL, *want = load_expected(w, suffixes[k]);
        if (CHECK_OK(hcg_npy_load(path, &got))) {
            char what[256];
            snprintf(what, sizeof what, "hcg run %s%s", w->model, suffixes[k]);
            tl_tensor_close(got, want, 0, ATOL, what);
        }
        hcg_tensor_free(got);
        hcg_tensor_free(want);
    }
}

int main(void)
{
    hcg_device *cl[MAX_DEVICES];
    int n_cl = 0;
    if (hcg_devices_select("opencl", cl, MAX_DEVICES, &n_cl) != HCG_OK) n_cl = 0;
    printf("OpenCL devices: %d\n", n_cl);
    for (size_t m = 0; m < sizeof workloads / sizeof workloads[0]; m++) {
        const workload *w = &workloads[m];
        char rel[512];
        hcg_graph *g = NULL;
        snprintf(rel, sizeof rel, DIR "%s", w->model);
        if (!CHECK_OK(hcg_onnx_load(tl_src(rel), &g))) continue;
        check_interface(g, w);
        run_on(g, w, "cpu");
        for (int d = 0; d < n_cl; d++) run_on(g, w, hcg_device_name(cl[d]));
        if (n_cl > 0) run_on(g, w, "auto"); /* the scheduler places nodes on the CPU and OpenCL together */
        hcg_graph_free(g);
        run_cli(w);
    }
    return tl_finish();
}
