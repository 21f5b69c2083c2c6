/* test_exec_multi.c — the executor across several devices, made testable without accelerators by
 * fake devices (HCG_FAKE_DEVICES: CPU kernels on private memory, so every crossing goes through
 * the real copy paths) and, where present, OpenCL devices.
 *  - Random graphs with random pins over cpu + fake:0 + fake:1 (+ OpenCL devices) give the same
 *    outputs as the CPU alone: the reference is the CPU-only run of the same graph. Copies between
 *    two OpenCL devices of one context go device to device (the backend's copy hook), all others
 *    through host memory.
 *  - Ops a device refuses fall back to another device.
 *  - Two ensemble members pinned to two devices run at the same time: shown by the recorded
 *    Chrome trace (their segments' intervals intersect), not by timing assertions.
 *  - A device failing mid-run is reported with its message; nothing crashes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/session_impl.h"
#include "testlib.h"

static unsigned rng_state = 2024;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

static hcg_tensor *random_tensor(int rank, const int64_t *dims)
{
    hcg_shape s = hcg_shape_make(rank, dims);
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_F32, &s, &t);
    int64_t n;
    hcg_shape_numel(&s, &n);
    for (int64_t i = 0; i < n; i++) ((float *)t->data)[i] = (float)rnd(2001) / 1000.0f - 1.0f;
    return t;
}

/* A random DAG over [rows, cols] f32 tensors mixing compute, views and data movement. */
static hcg_graph *random_graph(int nodes, int rows, int cols)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id ids[256];
    int cnt = 0;
    ids[cnt++] = hcg_input(g, "x", HCG_F32, 2, (int64_t[]){rows, cols});
    ids[cnt++] = hcg_input(g, "z", HCG_F32, 2, (int64_t[]){rows, cols});
    ids[cnt++] = hcg_param(g, "w", random_tensor(2, (int64_t[]){cols, cols}));
    for (int k = 0; k < nodes && cnt < 256; k++) {
        /* operands never include w (index 2), which only feeds matmuls */
        unsigned ia = rnd((unsigned)cnt - 1), ib = rnd((unsigned)cnt - 1);
        hcg_id a = ids[ia >= 2 ? ia + 1 : ia], b = ids[ib >= 2 ? ib + 1 : ib], v;
        switch (rnd(8)) {
        case 0: v = hcg_matmul(g, a, ids[2], false, false); break;
        case 1: v = hcg_add(g, a, b); break;
        case 2: v = hcg_mul(g, a, b); break;
        case 3: v = hcg_unary(g, HCG_OP_TANH, a); break;
        case 4: v = hcg_softmax(g, a, -1); break;
        case 5: { /* a view there and back */
            hcg_id r = hcg_reshape(g, a, 1, (int64_t[]){(int64_t)rows * cols});
            v = hcg_reshape(g, hcg_unary(g, HCG_OP_NEG, r), 2, (int64_t[]){rows, cols});
            break;
        }
        case 6: { /* concat of two halves, sliced back */
            hcg_attr ax = HCG_ATTR_I("axis", 0);
            hcg_id c = hcg_add_node(g, HCG_OP_CONCAT, NULL, (hcg_id[]){a, b}, 2, &ax, 1);
            hcg_attr sl[3] = {HCG_ATTR_IS("starts", (int64_t[]){rows / 2}, 1),
                              HCG_ATTR_IS("ends", (int64_t[]){rows / 2 + rows}, 1), HCG_ATTR_IS("axes", (int64_t[]){0}, 1)};
            v = hcg_add_node(g, HCG_OP_SLICE, NULL, &c, 1, sl, 3);
            break;
        }
        default: v = hcg_transpose(g, hcg_transpose(g, a, 2, (int64_t[]){1, 0}), 2, (int64_t[]){1, 0}); break;
        }
        ids[cnt++] = v;
    }
    hcg_output(g, ids[cnt - 1], "y");
    hcg_output(g, ids[3 + rnd((unsigned)(cnt - 3))], "mid");
    hcg_output(g, ids[0], "x_again");
    return g;
}

static int direct_copies; /* copies between two OpenCL devices so far */

static int run_graph(const hcg_graph *g, const char *devices, hcg_tensor *const *inputs, hcg_tensor **outputs)
{
    hcg_session *s = NULL;
    if (!CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = devices}, &s))) return -1;
    hcg_status st = hcg_session_run(s, (const hcg_tensor *const *)inputs, outputs);
    CHECK(st == HCG_OK, "run on %s: %s", devices, hcg_last_error());
    int copies = 0;
    const hcg_plan *p = s->last_plan;
    for (int i = 0; p && i < p->n_steps; i++) {
        const hcg_step *c = &p->steps[i];
        if (c->kind != HCG_STEP_COPY) continue;
        copies++;
        /* two POCL devices of one platform share a context: their copies go device to device
         * (the backend's copy hook), never through host memory; copies with fakes never do */
        bool ocl_pair = c->src_device >= 0 && strcmp(p->devs[c->device]->iface->name, "opencl") == 0 &&
                        strcmp(p->devs[c->src_device]->iface->name, "opencl") == 0;
        if (ocl_pair) direct_copies++;
        if (!st)
            CHECK(c->direct == ocl_pair, "copy of '%s' from %s to %s: %s", p->bound->nodes[c->tensor].name,
                  c->src_device >= 0 ? p->devs[c->src_device]->name : "host", p->devs[c->device]->name,
                  c->direct ? "device to device" : "through the host");
    }
    hcg_session_free(s);
    return st ? -1 : copies;
}

static void test_random_graphs(const char *devices, const char *const *pins, int n_pins, int trials)
{
    int total_copies = 0;
    for (int t = 0; t < trials; t++) {
        int rows = 1 + (int)rnd(40), cols = 1 + (int)rnd(40);
        hcg_graph *g = random_graph(8 + (int)rnd(30), rows * 2, cols);
        hcg_tensor *in[2] = {random_tensor(2, (int64_t[]){rows * 2, cols}), random_tensor(2, (int64_t[]){rows * 2, cols})};
        hcg_tensor *want[3] = {NULL}, *got[3] = {NULL};
        /* the reference: the graph on the CPU alone; then the same graph with random pins */
        if (run_graph(g, "cpu", in, want) < 0) goto next;
        for (int i = 0; i < g->n_nodes; i++)
            /* the fakes refuse softmax (HCG_FAKE_UNSUPPORTED): no pins there */
            if (n_pins && g->nodes[i].op != HCG_OP_INPUT && g->nodes[i].op != HCG_OP_PARAM &&
                g->nodes[i].op != HCG_OP_SOFTMAX && rnd(3) == 0)
                hcg_pin(g, i, pins[rnd((unsigned)n_pins)]);
        int copies = run_graph(g, devices, in, got);
        if (copies < 0) goto next;
        total_copies += copies;
        for (int j = 0; j < 3; j++) {
            char what[128];
            snprintf(what, sizeof what, "trial %d output %d on %s vs cpu", t, j, devices);
            tl_tensor_close(got[j], want[j], 1e-5, 1e-6, what);
        }
    next:
        for (int j = 0; j < 3; j++) {
            hcg_tensor_free(want[j]);
            hcg_tensor_free(got[j]);
        }
        hcg_tensor_free(in[0]);
        hcg_tensor_free(in[1]);
        hcg_graph_free(g);
    }
    CHECK(total_copies > trials, "the random plans moved tensors between devices (%d copies)", total_copies);
}

/* Intervals of segment slices per track in a Chrome trace. */
static int segments_on(const cJSON *events, int tid, double *start, double *end, int max)
{
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, events)
    {
        const cJSON *cat = cJSON_GetObjectItem(e, "cat"), *t = cJSON_GetObjectItem(e, "tid");
        if (!cJSON_IsString(cat) || strcmp(cat->valuestring, "segment") || !cJSON_IsNumber(t) || t->valueint != tid)
            continue;
        if (n < max) {
            start[n] = cJSON_GetObjectItem(e, "ts")->valuedouble;
            end[n] = start[n] + cJSON_GetObjectItem(e, "dur")->valuedouble;
            n++;
        }
    }
    return n;
}

static void test_branches_overlap(const char *dev_a, const char *dev_b)
{
    hcg_graph *g = NULL;
    if (!CHECK_OK(hcg_load(tl_src("models/ensemble/ensemble.hcg"), &g))) return;
    for (int i = 0; i < g->n_nodes; i++) {
        const hcg_op op = g->nodes[i].op;
        if (op == HCG_OP_PARAM || op == HCG_OP_INPUT || op == HCG_OP_SOFTMAX) continue;
        if (strncmp(g->nodes[i].name, "a_", 2) == 0) hcg_pin(g, i, dev_a);
        if (strncmp(g->nodes[i].name, "b_", 2) == 0) hcg_pin(g, i, dev_b);
    }
    char devices[64], trace[600] = "";
    /* the cpu is there for what the members' devices may refuse (the fakes refuse softmax) */
    snprintf(devices, sizeof devices, "%s,%s,cpu", dev_a, dev_b);
    hcg_session *s = NULL;
    hcg_tensor *x = NULL, *y = NULL, *want = NULL;
    CHECK_OK(hcg_npy_load(tl_src("models/ensemble/x.npy"), &x));
    CHECK_OK(hcg_npy_load(tl_src("models/ensemble/expected_mean.npy"), &want));
    CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = devices}, &s));
    bool overlapped = false;
    /* a run's two branches overlap unless the OS starved one worker throughout; a few runs
     * make that vanishingly unlikely without any timing assertion */
    for (int attempt = 0; attempt < 5 && !overlapped; attempt++) {
        hcg_tensor_free(y);
        y = NULL;
        if (!CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y))) break;
        snprintf(trace, sizeof trace, "%s/trace-%s.json", tl_tmpdir(), dev_a);
        CHECK_OK(hcg_session_write_trace(s, trace));
        char *text = tl_read_file(trace, NULL);
        cJSON *root = text ? cJSON_Parse(text) : NULL;
        free(text);
        const cJSON *events = root ? cJSON_GetObjectItem(root, "traceEvents") : NULL;
        if (!CHECK(cJSON_IsArray(events), "the trace is Chrome-trace JSON with traceEvents")) {
            cJSON_Delete(root);
            break;
        }
        double sa[64], ea[64], sb[64], eb[64];
        int na = segments_on(events, 0, sa, ea, 64), nb = segments_on(events, 1, sb, eb, 64);
        CHECK(na > 0 && nb > 0, "both devices ran segments (%d and %d)", na, nb);
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++)
                if (sa[i] < eb[j] && sb[j] < ea[i]) overlapped = true;
        cJSON_Delete(root);
    }
    CHECK(overlapped, "the two ensemble members on %s and %s ran at the same time (trace %s)", dev_a, dev_b, trace);
    if (y) tl_tensor_close(y, want, 1e-5, 1e-6, "ensemble on two devices vs PyTorch");
    hcg_tensor_free(x);
    hcg_tensor_free(y);
    hcg_tensor_free(want);
    hcg_session_free(s);
    hcg_graph_free(g);
}

static void test_fallback_when_refused(void)
{
    /* HCG_FAKE_UNSUPPORTED=softmax: the fakes refuse softmax, so it runs on the cpu */
    hcg_graph *g = NULL;
    if (!CHECK_OK(hcg_load(tl_src("models/mlp/mlp.hcg"), &g))) return;
    hcg_session *s = NULL;
    hcg_tensor *x = NULL, *y = NULL, *want = NULL;
    CHECK_OK(hcg_npy_load(tl_src("models/mlp/x.npy"), &x));
    CHECK_OK(hcg_npy_load(tl_src("models/mlp/expected_probs.npy"), &want));
    CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "fake:0,cpu"}, &s));
    CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y));
    const hcg_plan *p = s->last_plan;
    for (int i = 0; i < p->n_exec; i++)
        if (p->exec[i].node->op == HCG_OP_SOFTMAX)
            CHECK(strcmp(p->devs[p->place[p->exec[i].id]]->name, "cpu") == 0, "softmax falls back to the cpu");
    tl_tensor_close(y, want, 1e-5, 1e-6, "mlp with fallback vs PyTorch");
    hcg_session_free(s);
    /* pinned to a device that refuses it: a clear error */
    hcg_pin(g, hcg_graph_find(g, "probs"), "fake:0");
    CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "fake:0,cpu"}, &s));
    hcg_tensor *y2 = NULL;
    CHECK_FAILS(hcg_session_run(s, (const hcg_tensor *const *)&x, &y2), HCG_ERR_UNSUPPORTED,
                "pinned to 'fake:0', which does not support softmax");
    hcg_session_free(s);
    hcg_tensor_free(x);
    hcg_tensor_free(y);
    hcg_tensor_free(want);
    hcg_graph_free(g);
}

static void test_runtime_error_on_a_worker(void)
{
    /* a gather with an out-of-range index on fake:1 while fake:0 works: the error comes back */
    hcg_graph *g = hcg_graph_new();
    hcg_id data = hcg_input(g, "data", HCG_F32, 2, (int64_t[]){4, 3});
    hcg_id idx = hcg_input(g, "idx", HCG_I64, 1, (int64_t[]){2});
    hcg_id other = hcg_unary(g, HCG_OP_TANH, data);
    hcg_pin(g, other, "fake:0");
    hcg_id gat = hcg_add_node(g, HCG_OP_GATHER, "lookup", (hcg_id[]){data, idx}, 2, NULL, 0);
    hcg_pin(g, gat, "fake:1");
    hcg_output(g, other, "t");
    hcg_output(g, gat, "rows");
    hcg_session *s = NULL;
    CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "fake:0,fake:1"}, &s));
    hcg_shape is = hcg_shape_make(1, (int64_t[]){2});
    hcg_tensor *in[2] = {random_tensor(2, (int64_t[]){4, 3}), NULL}, *out[2] = {NULL, NULL};
    hcg_tensor_new(HCG_I64, &is, &in[1]);
    ((int64_t *)in[1]->data)[0] = 1;
    ((int64_t *)in[1]->data)[1] = 9;
    CHECK_FAILS(hcg_session_run(s, (const hcg_tensor *const *)in, out), HCG_ERR_RUNTIME, "lookup");
    CHECK(!out[0] && !out[1], "a failed run returns no outputs");
    ((int64_t *)in[1]->data)[1] = -4;
    CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)in, out));
    if (out[1]) CHECK(((float *)out[1]->data)[3] == ((float *)in[0]->data)[0], "index -4 wraps to row 0");
    for (int i = 0; i < 2; i++) {
        hcg_tensor_free(in[i]);
        hcg_tensor_free(out[i]);
    }
    hcg_session_free(s);
    hcg_graph_free(g);
}

int main(void)
{
    /* before the first device query: discovery happens once */
    setenv("HCG_FAKE_DEVICES", "2", 1);
    setenv("HCG_FAKE_UNSUPPORTED", "softmax", 1);
    static const char *const fake_pins[] = {"cpu", "fake:0", "fake:1"};
    test_random_graphs("cpu,fake:0,fake:1", fake_pins, 3, 40);
    test_random_graphs("fake:1,fake:0,cpu", fake_pins + 1, 2, 20);
    test_fallback_when_refused();
    test_runtime_error_on_a_worker();

    setenv("HCG_FAKE_DELAY_US", "3000", 1);
    test_branches_overlap("fake:0", "fake:1");
    setenv("HCG_FAKE_DELAY_US", "0", 1);

    /* real OpenCL devices, when there are at least two (POCL_DEVICES="pthread pthread") */
    const char *ocl[2];
    int n_ocl = 0;
    for (int i = 0; i < hcg_device_count() && n_ocl < 2; i++)
        if (strncmp(hcg_device_name(hcg_device_get(i)), "opencl:", 7) == 0) ocl[n_ocl++] = hcg_device_name(hcg_device_get(i));
    if (n_ocl >= 2) {
        test_branches_overlap(ocl[0], ocl[1]);
        const char *pins[] = {"cpu", ocl[0], ocl[1]};
        char devs[64];
        snprintf(devs, sizeof devs, "cpu,%s,%s", ocl[0], ocl[1]);
        test_random_graphs(devs, pins, 3, 10);
        CHECK(direct_copies > 0, "the random plans copied between %s and %s (%d times, device to device)", ocl[0],
              ocl[1], direct_copies);
    } else {
        printf("fewer than two OpenCL devices: the OpenCL overlap check is not run here\n");
    }
    return tl_finish();
}
