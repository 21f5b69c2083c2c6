/* test_library.c — hcg as a library, through the public API of hcg.h alone (except the last
 * check): the version macros agree with the library; hcg_param and hcg_constant take their tensor
 * even when they fail (ASan's leak check would see it otherwise); a session's plan as data agrees
 * with its text and with where the nodes ran (hcg_session_node_device), prepare plans without
 * running and replan forgets; simulated devices; pending files commit and abort; hcg_error from a
 * program; hcg_shutdown gives every device back and the next call finds them again, with the same
 * outputs (checked against the model's PyTorch reference); and a backend built for another
 * version of the device interface is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hcg/hcg.h"
#include "testlib.h"

#include "backend/backend.h" /* the last check only: registering an out-of-date backend */

static void test_version(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", HCG_VERSION_MAJOR, HCG_VERSION_MINOR, HCG_VERSION_PATCH);
    CHECK(strcmp(hcg_version(), want) == 0 && strcmp(HCG_VERSION_STRING, want) == 0, "version %s, header %s", hcg_version(),
          want);
    CHECK(hcg_version_number() == HCG_VERSION_NUMBER, "version number %d", hcg_version_number());
}

static void test_ownership_on_failure(void)
{
    hcg_tensor *t = NULL;
    hcg_shape s = hcg_shape_make(1, (int64_t[]){4});
    /* a duplicate name fails; the tensor is the graph's to free either way (LeakSanitizer checks) */
    hcg_graph *g = hcg_graph_new();
    CHECK_OK(hcg_tensor_new(HCG_F32, &s, &t));
    CHECK(hcg_param(g, "w", t) >= 0, "the first param 'w'");
    CHECK_OK(hcg_tensor_new(HCG_F32, &s, &t));
    CHECK(hcg_param(g, "w", t) < 0, "a second param 'w' fails");
    CHECK_OK(hcg_tensor_new(HCG_F32, &s, &t));
    CHECK(hcg_constant(NULL, "c", t) < 0, "a constant without a graph fails");
    hcg_graph_free(g);
}

static void test_plan_inspection(void)
{
    hcg_graph *g = NULL;
    hcg_tensor *x = NULL, *want = NULL, *y = NULL;
    hcg_session *s = NULL;
    if (!CHECK_OK(hcg_load(tl_src("models/attention/attention.hcg"), &g)) ||
        !CHECK_OK(hcg_npy_load(tl_src("models/attention/x.npy"), &x)) ||
        !CHECK_OK(hcg_npy_load(tl_src("models/attention/expected_x.npy"), &want)) ||
        !CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "cpu", .profile = true}, &s)))
        goto done;
    hcg_plan_info info;
    CHECK_FAILS(hcg_session_plan_info(s, &info), HCG_ERR_NOT_FOUND, "no plan yet");
    /* prepare: a plan for a shape, nothing run */
    hcg_shape small = hcg_shape_make(3, (int64_t[]){1, 5, 64});
    if (CHECK_OK(hcg_session_prepare(s, &small)) && CHECK_OK(hcg_session_plan_info(s, &info))) {
        CHECK(info.n_nodes > 0 && !info.measured && info.n_devices == 1, "prepared: %d nodes, not measured", info.n_nodes);
        hcg_plan_node r;
        CHECK(!hcg_session_plan_node(s, info.n_nodes - 1, &r) && r.shape.dims[1] == 5 && isnan(r.measured_seconds),
              "a prepared row has the prepared shape and no measurement");
    }
    if (!CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y))) goto done;
    tl_tensor_close(y, want, 1e-5, 1e-6, "attention vs PyTorch");
    if (!CHECK_OK(hcg_session_plan_info(s, &info))) goto done;
    CHECK(info.measured && info.last_run_seconds > 0 && info.predicted_seconds > 0 && info.n_segments >= 1,
          "after a profiled run: measured, timed, predicted");
    char *text = hcg_session_explain_text(s);
    if (!CHECK(text != NULL, "explain text: %s", hcg_last_error())) goto done;
    int on_cpu = 0;
    for (int i = 0; i < info.n_nodes; i++) {
        hcg_plan_node r;
        if (!CHECK_OK(hcg_session_plan_node(s, i, &r))) break;
        char name[32];
        snprintf(name, sizeof name, "%.28s", r.name);
        CHECK(strstr(text, name) != NULL, "the text has row %d ('%s')", i, r.name);
        CHECK(r.measured_seconds >= 0 && r.predicted_seconds >= 0 && strcmp(r.device, "cpu") == 0, "row %d: times", i);
        on_cpu += strcmp(r.device, "cpu") == 0;
        /* a node that kept its name is found by hcg_session_node_device */
        if (hcg_graph_find(g, r.name) >= 0)
            CHECK(hcg_session_node_device(s, r.name) && strcmp(hcg_session_node_device(s, r.name), "cpu") == 0,
                  "node '%s' runs on the cpu", r.name);
    }
    hcg_plan_device pd;
    CHECK(!hcg_session_plan_device(s, 0, &pd) && pd.n_nodes == on_cpu && strcmp(pd.name, "cpu") == 0,
          "the device rows add up (%d nodes)", on_cpu);
    CHECK(strstr(text, "predicted makespan") != NULL, "the text has the summary");
    CHECK(hcg_session_node_device(s, "x") == NULL, "an input does not run");
    CHECK(hcg_session_node_device(s, "no such node") == NULL, "nor does a name the graph lacks");
    for (int i = 0; i < info.n_rewrites; i++) CHECK(strstr(text, hcg_session_plan_rewrite(s, i)) != NULL, "rewrite %d", i);
    hcg_free(text);
    CHECK_FAILS(hcg_session_plan_node(s, info.n_nodes, &(hcg_plan_node){0}), HCG_ERR_ARG, "no row");
    /* replan: the plans go; the next run makes one again */
    CHECK_OK(hcg_session_replan(s));
    CHECK_FAILS(hcg_session_plan_info(s, &info), HCG_ERR_NOT_FOUND, "no plan");
    hcg_tensor_free(y);
    y = NULL;
    if (CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y))) tl_tensor_close(y, want, 1e-5, 1e-6, "after replan");
    CHECK(strcmp(hcg_session_passes(s), "all") == 0, "passes: %s", hcg_session_passes(s));
done:
    hcg_tensor_free(y);
    hcg_tensor_free(x);
    hcg_tensor_free(want);
    hcg_session_free(s);
    hcg_graph_free(g);
}

static void test_simulate(void)
{
    hcg_graph *g = NULL;
    if (!CHECK_OK(hcg_load(tl_src("models/attention/attention.hcg"), &g))) return;
    int n = hcg_graph_num_inputs(g);
    hcg_shape *shapes = calloc((size_t)n + 1, sizeof *shapes);
    hcg_simulation r;
    if (CHECK_OK(hcg_graph_input_shapes(g, NULL, NULL, 0, shapes)) &&
        CHECK_OK(hcg_simulate(g, shapes, tl_src("bench/profiles/two_gpus_cpu.json"), &r))) {
        CHECK(r.n_devices == 3 && strcmp(r.device[0], "gpu0") == 0 && strcmp(r.device[2], "cpu") == 0, "three devices");
        double best = INFINITY;
        for (int d = 0; d < r.n_devices; d++) best = r.single[d] < best ? r.single[d] : best;
        CHECK(r.chosen > 0 && r.chosen <= best * (1 + 1e-9) && r.chosen <= r.heft * (1 + 1e-9),
              "the chosen plan is the best of HEFT and the single devices");
    }
    CHECK_FAILS(hcg_simulate(g, shapes, tl_src("no/such/profiles.json"), &r), HCG_ERR_IO, "profiles.json");
    free(shapes);
    hcg_graph_free(g);
}

static void test_files(void)
{
    char dir[600], a[700], b[700];
    snprintf(dir, sizeof dir, "%s/sub/dir", tl_tmpdir());
    snprintf(a, sizeof a, "%s/a.npy", dir);
    snprintf(b, sizeof b, "%s/b.npy", dir);
    if (!CHECK_OK(hcg_make_dirs(dir))) return;
    float v[3] = {1, 2, 3};
    hcg_tensor *t = NULL, *back = NULL;
    hcg_tensor_wrap(HCG_F32, &(hcg_shape){1, {3}}, v, &t);
    hcg_pending_file *pa = NULL, *pb = NULL;
    struct stat sb;
    if (CHECK_OK(hcg_npy_save_pending(a, t, &pa)) && CHECK_OK(hcg_npy_save_pending(b, t, &pb))) {
        CHECK(stat(a, &sb) != 0 && stat(b, &sb) != 0, "nothing is in place before the commit");
        CHECK_OK(hcg_pending_commit(pa));
        hcg_pending_abort(pb);
        CHECK(stat(b, &sb) != 0, "an aborted file never appears");
        if (CHECK_OK(hcg_npy_load(a, &back))) tl_tensor_close(back, t, 0, 0, "the committed file");
        CHECK(stat(a, &sb) == 0 && (size_t)sb.st_size <= hcg_npy_file_size(t), "the size bound holds");
    }
    char *text = NULL;
    size_t len = 0;
    snprintf(a, sizeof a, "%s/note.txt", dir);
    if (CHECK_OK(hcg_write_file_atomic(a, "hello", 5)) && CHECK_OK(hcg_read_file(a, &text, &len)))
        CHECK(len == 5 && strcmp(text, "hello") == 0, "a whole file written and read");
    hcg_free(text);
    CHECK_FAILS(hcg_read_file(dir, &text, &len), HCG_ERR_IO, "folder");
    CHECK(hcg_error(HCG_ERR_RUNTIME, "my %s", "message") == HCG_ERR_RUNTIME && strcmp(hcg_last_error(), "my message") == 0,
          "a program sets hcg's message");
    hcg_error_prefix(HCG_ERR_RUNTIME, "context: ");
    CHECK(strcmp(hcg_last_error(), "context: my message") == 0, "and prefixes it");
    hcg_tensor_free(t);
    hcg_tensor_free(back);
}

/* Runs the attention model on every device; the outputs must match PyTorch's. */
static void run_everywhere(const char *what)
{
    hcg_graph *g = NULL;
    hcg_tensor *x = NULL, *want = NULL, *y = NULL;
    hcg_session *s = NULL;
    if (CHECK_OK(hcg_load(tl_src("models/attention/attention.hcg"), &g)) &&
        CHECK_OK(hcg_npy_load(tl_src("models/attention/x.npy"), &x)) &&
        CHECK_OK(hcg_npy_load(tl_src("models/attention/expected_x.npy"), &want))) {
        for (int i = 0; i < hcg_device_count(); i++) {
            const char *name = hcg_device_name(hcg_device_get(i));
            if (strncmp(name, "fake", 4) == 0) continue;
            if (CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = name}, &s)) &&
                CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y))) {
                char label[128];
                snprintf(label, sizeof label, "%s on %s", what, name);
                tl_tensor_close(y, want, 1e-5, 1e-6, label);
            }
            hcg_tensor_free(y);
            y = NULL;
            hcg_session_free(s);
            s = NULL;
        }
    }
    hcg_tensor_free(x);
    hcg_tensor_free(want);
    hcg_graph_free(g);
}

static void test_shutdown(void)
{
    int before = hcg_device_count();
    char first[64];
    snprintf(first, sizeof first, "%s", hcg_device_name(hcg_device_get(before - 1)));
    run_everywhere("before hcg_shutdown");
    hcg_shutdown();
    CHECK(hcg_device_count() == before, "the devices are found again after hcg_shutdown (%d, then %d)", before,
          hcg_device_count());
    CHECK(strcmp(hcg_device_name(hcg_device_get(before - 1)), first) == 0, "under the same names");
    run_everywhere("after hcg_shutdown");
    hcg_shutdown();
    hcg_shutdown(); /* twice is fine */
}

/* A device whose backend was built against another version of the device interface is refused. */
static void test_interface_version(void)
{
    static const hcg_backend_iface old = {.version = HCG_BACKEND_IFACE_VERSION - 1, .name = "old"};
    hcg_device d = {.iface = &old, .name = "old:0"};
    CHECK_FAILS(hcg_registry_add(&d), HCG_ERR_UNSUPPORTED, "implements the device interface version 1");
    static const hcg_backend_iface partial = {.version = HCG_BACKEND_IFACE_VERSION, .name = "partial"};
    hcg_device p = {.iface = &partial, .name = "partial:0"};
    CHECK_FAILS(hcg_registry_add(&p), HCG_ERR_UNSUPPORTED, "lacks a required interface member");
}

int main(void)
{
    test_version();
    test_ownership_on_failure();
    test_plan_inspection();
    test_simulate();
    test_files();
    test_shutdown();
    test_interface_version();
    return tl_finish();
}
