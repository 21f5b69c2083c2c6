/* run_model.c — embedding hcg in a C program: load a model, run it on the devices hcg picks, and
 * compare an output with a reference.
 *
 *   run_model MODEL INPUT_NAME INPUT.npy OUTPUT_NAME EXPECTED.npy [DEVICES]
 *
 * prints where the nodes ran and the largest difference from EXPECTED; exits 0 when every element
 * is within 1e-6 + 1e-5 * |expected|. Built against the installed package: with CMake
 * (find_package(hcg), examples/CMakeLists.txt) or with pkg-config:
 *   cc run_model.c $(pkg-config --cflags --libs hcg) -o run_model */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hcg/hcg.h>

static int fail(const char *what)
{
    fprintf(stderr, "run_model: %s: %s\n", what, hcg_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: run_model MODEL INPUT_NAME INPUT.npy OUTPUT_NAME EXPECTED.npy [DEVICES]\n");
        return 2;
    }
    printf("hcg %s (built against %s)\n", hcg_version(), HCG_VERSION_STRING);
    hcg_graph *g = NULL;
    if (hcg_load(argv[1], &g)) return fail("loading the model");
    int n_in = hcg_graph_num_inputs(g), n_out = hcg_graph_num_outputs(g), which_out = -1;
    if (n_in != 1 || strcmp(hcg_graph_input_name(g, 0), argv[2]) != 0) {
        fprintf(stderr, "run_model: %s must have the one input '%s'\n", argv[1], argv[2]);
        return 1;
    }
    for (int j = 0; j < n_out; j++)
        if (strcmp(hcg_graph_output_name(g, j), argv[4]) == 0) which_out = j;
    if (which_out < 0) {
        fprintf(stderr, "run_model: %s has no output '%s'\n", argv[1], argv[4]);
        return 1;
    }
    hcg_tensor *x = NULL, *want = NULL;
    if (hcg_npy_load(argv[3], &x) || hcg_npy_load(argv[5], &want)) return fail("loading the arrays");

    hcg_session_options opt = {.devices = argc > 6 ? argv[6] : "auto"};
    hcg_session *s = NULL;
    hcg_tensor **out = calloc((size_t)n_out, sizeof *out);
    if (!out || hcg_session_new(g, &opt, &s)) return fail("making a session");
    if (hcg_session_run(s, (const hcg_tensor *const *)&x, out)) return fail("running");

    /* where the work ran, from the session's current plan */
    hcg_plan_info info;
    if (hcg_session_plan_info(s, &info)) return fail("reading the plan");
    for (int d = 0; d < info.n_devices; d++) {
        hcg_plan_device pd;
        if (!hcg_session_plan_device(s, d, &pd) && pd.n_nodes) printf("%s: %d nodes\n", pd.name, pd.n_nodes);
    }
    printf("%d copies between devices; run %.3f ms\n", info.n_copies, info.last_run_seconds * 1e3);

    const hcg_tensor *y = out[which_out];
    int64_t n = 0;
    bool same_shape = y->dtype == HCG_F32 && want->dtype == HCG_F32 && hcg_shape_equal(&y->shape, &want->shape) &&
                      hcg_shape_numel(&y->shape, &n);
    double worst = 0;
    int64_t bad = 0;
    for (int64_t i = 0; same_shape && i < n; i++) {
        double a = ((const float *)y->data)[i], b = ((const float *)want->data)[i], diff = fabs(a - b);
        if (!(diff <= 1e-6 + 1e-5 * fabs(b))) bad++;
        if (diff > worst || isnan(diff)) worst = diff;
    }
    char shape[128];
    hcg_shape_format(&y->shape, shape, sizeof shape);
    printf("%s: f32%s, largest difference from the reference %.3g, %lld of %lld outside tolerance\n", argv[4], shape,
           worst, (long long)bad, (long long)n);
    int rc = same_shape && bad == 0 ? 0 : 1;
    if (!same_shape) fprintf(stderr, "run_model: the output's dtype or shape differs from the reference\n");
    for (int j = 0; j < n_out; j++) hcg_tensor_free(out[j]);
    free(out);
    hcg_tensor_free(x);
    hcg_tensor_free(want);
    hcg_session_free(s);
    hcg_graph_free(g);
    hcg_shutdown();
    return rc;
}
