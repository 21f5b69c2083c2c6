/* test_faults.c — a device that fails mid-session: injected faults (HCG_FAULT, backend/fault.h) of
 * each kind (alloc, build, write, read, run) on fake devices, on one POCL device next to the cpu
 * and, when there are two (POCL_DEVICES="pthread pthread", the ctest test_faults_two_opencl), on
 * two POCL devices with nothing else. Every faulted run must give the outputs of a clean run (and
 * of the model's PyTorch reference), warn once naming the device, the call and the error, release
 * pins to the device, and keep it dropped for the rest of the session. With no device left, or
 * when the session vetoes fallback (device state it cannot move), the error names the device and
 * the call. The env-var path is tried through `hcg run` too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/fault.h"
#include "backend/session_impl.h"
#include "testlib.h"

static const char *const calls[] = {"build", "alloc", "write", "read", "run"};

static hcg_tensor *x, *want;

/* The ensemble with member a pinned to dev_a and member b to dev_b (NULL: not pinned). */
static hcg_graph *ensemble(const char *dev_a, const char *dev_b)
{
    hcg_graph *g = NULL;
    if (!CHECK_OK(hcg_load(tl_src("models/ensemble/ensemble.hcg"), &g))) return NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const hcg_op op = g->nodes[i].op;
        if (op == HCG_OP_PARAM || op == HCG_OP_INPUT || op == HCG_OP_CONSTANT) continue;
        if (dev_a && strncmp(g->nodes[i].name, "a_", 2) == 0) hcg_pin(g, i, dev_a);
        if (dev_b && strncmp(g->nodes[i].name, "b_", 2) == 0) hcg_pin(g, i, dev_b);
    }
    return g;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static bool uses(const hcg_session *s, const char *dev)
{
    for (int d = 0; d < s->n_dev; d++)
        if (strcmp(s->devs[d]->name, dev) == 0) return true;
    return false;
}

/* One faulted session: two runs, both right (compared with clean, or returned in *first when
 * clean is NULL); one warning; the device gone. */
static void faulted_run(const char *devices, const char *pin_a, const char *pin_b, const char *victim, const char *call,
                        int nth, const hcg_tensor *clean, hcg_tensor **first)
{
    char spec[128], what[256];
    snprintf(spec, sizeof spec, "%s:%s:%d", victim, call, nth);
    snprintf(what, sizeof what, "HCG_FAULT=%s on %s", spec, devices);
    hcg_graph *g = ensemble(pin_a, pin_b);
    hcg_session *s = NULL;
    hcg_tensor *y = NULL, *y2 = NULL;
    if (!g || !CHECK_OK(hcg_fault_configure(spec)) ||
        !CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = devices, .quiet = true}, &s)))
        goto done;
    if (CHECK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y) == HCG_OK, "%s: %s", what, hcg_last_error())) {
        if (clean) tl_tensor_close(y, clean, 1e-5, 1e-6, what);
        tl_tensor_close(y, want, 1e-5, 1e-6, "fallback vs PyTorch");
    }
    const char *w = hcg_session_warnings(s);
    char needle[160];
    snprintf(needle, sizeof needle, "%s (", victim);
    CHECK(count(w, needle) == 1 && count(w, "dropped from this session") == 1, "%s: one warning naming the device:\n%s",
          what, w);
    snprintf(needle, sizeof needle, "failed in %s (", call);
    CHECK(strstr(w, needle) != NULL, "%s: the warning names the call:\n%s", what, w);
    CHECK(strstr(w, strncmp(victim, "opencl", 6) == 0 ? (strcmp(call, "alloc") == 0   ? "CL_MEM_OBJECT_ALLOCATION_FAILURE"
                                                          : strcmp(call, "build") == 0 ? "CL_BUILD_PROGRAM_FAILURE"
                                                                                       : "CL_OUT_OF_RESOURCES")
                                                       : "FAKE_DEVICE_ERROR") != NULL,
          "%s: the warning names the device's error:\n%s", what, w);
    CHECK(!uses(s, victim), "%s: %s is dropped", what, victim);
    bool pinned = (pin_a && strcmp(pin_a, victim) == 0) || (pin_b && strcmp(pin_b, victim) == 0);
    CHECK(!pinned || strstr(w, "pinned to") != NULL, "%s: pins to %s are released with a warning:\n%s", what, victim, w);
    /* it stays dropped: the next run plans without it and warns no more */
    hcg_fault_configure(NULL);
    if (CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y2)) && y)
        tl_tensor_close(y2, y, 0, 0, "the next run of the session gives the same outputs");
    CHECK(count(hcg_session_warnings(s), "dropped") == 1, "%s: no new warning on the next run", what);
    for (int i = 0; s->last_plan && i < s->last_plan->n_exec; i++)
        CHECK(strcmp(s->last_plan->devs[s->last_plan->place[s->last_plan->exec[i].id]]->name, victim) != 0,
              "%s: nothing runs on %s any more", what, victim);
done:
    hcg_fault_configure(NULL);
    if (first) {
        *first = y;
        y = NULL;
    }
    hcg_tensor_free(y);
    hcg_tensor_free(y2);
    hcg_session_free(s);
    hcg_graph_free(g);
}

/* The clean run's outputs, on the same devices with the same pins. */
static hcg_tensor *clean_run(const char *devices, const char *pin_a, const char *pin_b)
{
    hcg_graph *g = ensemble(pin_a, pin_b);
    hcg_session *s = NULL;
    hcg_tensor *y = NULL;
    hcg_fault_configure(NULL);
    if (g && CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = devices}, &s)) &&
        CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y))) {
        tl_tensor_close(y, want, 1e-5, 1e-6, "clean run vs PyTorch");
        CHECK(hcg_session_warnings(s)[0] == 0, "a clean run warns of nothing: %s", hcg_session_warnings(s));
    }
    hcg_session_free(s);
    hcg_graph_free(g);
    return y;
}

/* All five calls on a set of devices. Build comes before the clean run: an OpenCL device builds
 * each program once per process, so only a process's first runs build anything. */
static void all_faults(const char *devices, const char *pin_a, const char *pin_b, const char *victim)
{
    hcg_tensor *built = NULL;
    faulted_run(devices, pin_a, pin_b, victim, "build", 1, NULL, &built);
    hcg_tensor *clean = clean_run(devices, pin_a, pin_b);
    if (clean && built) tl_tensor_close(built, clean, 1e-5, 1e-6, "build fault vs the clean run");
    hcg_tensor_free(built);
    if (!clean) return;
    for (size_t c = 1; c < sizeof calls / sizeof calls[0]; c++)
        faulted_run(devices, pin_a, pin_b, victim, calls[c], 1, clean, NULL);
    /* a later call than the first: the third allocation (the arena, then the weights) */
    faulted_run(devices, pin_a, pin_b, victim, "alloc", 3, clean, NULL);
    hcg_tensor_free(clean);
}

static void no_device_left_and_veto(void)
{
    hcg_graph *g = ensemble(NULL, NULL);
    hcg_session *s = NULL;
    hcg_tensor *y = NULL;
    hcg_fault_configure("fake:0:run");
    if (CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "fake:0", .quiet = true}, &s)))
        CHECK_FAILS(hcg_session_run(s, (const hcg_tensor *const *)&x, &y), HCG_ERR_DEVICE,
                    "fake:0 failed in run (FAKE_DEVICE_ERROR), and no other selected device is left");
    CHECK(!y, "a failed run returns no output");
    hcg_session_free(s);
    s = NULL;
    /* a session holding device state it cannot move (training) vetoes the fallback */
    hcg_fault_configure("fake:0:write");
    if (CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "fake:0,cpu", .quiet = true}, &s))) {
        s->no_fallback = true;
        hcg_pin(g, hcg_graph_find(g, "a_h"), "fake:0");
        CHECK_FAILS(hcg_session_run(s, (const hcg_tensor *const *)&x, &y), HCG_ERR_DEVICE,
                    "fake:0 failed in write (FAKE_DEVICE_ERROR), and this session holds state there that cannot move");
        CHECK(uses(s, "fake:0"), "a vetoed fallback drops nothing");
    }
    hcg_session_free(s);
    hcg_fault_configure(NULL);
    /* bad data is no device fault: the same error on any device, nothing dropped */
    CHECK_FAILS(hcg_fault_configure("fake:0:explode"), HCG_ERR_ARG, "'explode' is not a call");
    CHECK_FAILS(hcg_fault_configure("run"), HCG_ERR_ARG, "DEVICE:CALL");
    hcg_fault_configure(NULL);
    hcg_graph_free(g);
}

/* The environment variable, through the command line. */
static void through_the_cli(const char *victim, const char *devices, const char *model)
{
    char cmd[4096], out[16384];
    const char *tmp = tl_tmpdir();
    snprintf(cmd, sizeof cmd,
             "cd '%s' && HCG_FAKE_DEVICES=2 HCG_FAULT=%s:run '%s' run %s --devices %s --input x=models/ensemble/x.npy "
             "--output-dir '%s/cli' && '%s' compare '%s/cli/mean.npy' models/ensemble/expected_mean.npy --rtol 1e-5 "
             "--atol 1e-6",
             tl_src("."), victim, tl_hcg_bin(), model, devices, tmp, tl_hcg_bin(), tmp);
    int rc = tl_run(cmd, out, sizeof out);
    char needle[128];
    snprintf(needle, sizeof needle, "hcg: warning: %s (", victim);
    CHECK(rc == 0 && strstr(out, needle) && strstr(out, "failed in run") && strstr(out, "MATCH"),
          "HCG_FAULT=%s:run through hcg run (%d):\n%s", victim, rc, out);
    snprintf(cmd, sizeof cmd, "cd '%s' && HCG_FAULT=%s:jump '%s' run %s --input x=models/ensemble/x.npy", tl_src("."),
             victim, tl_hcg_bin(), model);
    rc = tl_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "HCG_FAULT: 'jump' is not a call"), "a malformed HCG_FAULT is an error (%d):\n%s", rc,
          out);
}

int main(void)
{
    setenv("HCG_FAKE_DEVICES", "2", 1);
    if (!CHECK_OK(hcg_npy_load(tl_src("models/ensemble/x.npy"), &x)) ||
        !CHECK_OK(hcg_npy_load(tl_src("models/ensemble/expected_mean.npy"), &want)))
        return tl_finish();
    /* fake devices: one next to the cpu, and two alone */
    all_faults("fake:0,cpu", "fake:0", "cpu", "fake:0");
    all_faults("fake:0,fake:1", "fake:0", "fake:1", "fake:1");
    no_device_left_and_veto();
    through_the_cli("fake:0", "fake:0,cpu", "models/ensemble/ensemble.hcg");

    int n_ocl = 0;
    for (int i = 0; i < hcg_device_count(); i++) n_ocl += strncmp(hcg_device_name(hcg_device_get(i)), "opencl:", 7) == 0;
    if (n_ocl == 0) {
        printf("no OpenCL device: the POCL cases are not run\n");
    } else if (n_ocl == 1) {
        /* one POCL device next to the cpu (member a pinned there, b on the cpu) */
        all_faults("opencl:0,cpu", "opencl:0", "cpu", "opencl:0");
        through_the_cli("opencl:0", "opencl:0,cpu", "models/ensemble/ensemble_pinned.hcg");
    } else {
        /* two POCL devices and nothing else: opencl:1 fails, opencl:0 takes everything */
        all_faults("opencl:0,opencl:1", "opencl:0", "opencl:1", "opencl:1");
    }
    hcg_tensor_free(x);
    hcg_tensor_free(want);
    return tl_finish();
}
