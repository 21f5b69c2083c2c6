/* test_sched.c — placement. Pins that name an unselected device or one that cannot run the op
 * fail with a clear error; on simulated devices HEFT spreads independent branches over equal
 * GPUs and keeps small graphs off a slow link; over random graphs and random device profiles the
 * chosen plan is never predicted slower than the best single device (the invariant the scheduler
 * promises, checked against an independent evaluation of every single-device plan); devices that
 * share the host's cores (the cpu and POCL) are never expected to overlap, and such a device
 * takes work from the cpu only when measured times say it is faster; and measured
 * times from a profiled run replace the cost model's estimates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/session_impl.h"
#include "backend/simulate.h"
#include "graph/bind.h"
#include "graph/op_table.h"
#include "testlib.h"

static unsigned rng_state = 12345;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

static hcg_tensor *weight(int r, int c)
{
    hcg_shape s = hcg_shape_make(2, (int64_t[]){r, c});
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_F32, &s, &t);
    for (long i = 0; i < (long)r * c; i++) ((float *)t->data)[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
    return t;
}

static hcg_graph *two_branches(int width)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id x = hcg_input(g, "x", HCG_F32, 2, (int64_t[]){width, width});
    hcg_id a = x, b = x;
    for (int l = 0; l < 4; l++) {
        char na[16], nb[16];
        snprintf(na, sizeof na, "wa%d", l);
        snprintf(nb, sizeof nb, "wb%d", l);
        a = hcg_unary(g, HCG_OP_RELU, hcg_matmul(g, a, hcg_param(g, na, weight(width, width)), false, false));
        b = hcg_unary(g, HCG_OP_RELU, hcg_matmul(g, b, hcg_param(g, nb, weight(width, width)), false, false));
    }
    hcg_output(g, hcg_add(g, a, b), "y");
    return g;
}

static hcg_graph *bind_trial(const hcg_graph *g)
{
    hcg_shape *shapes = calloc((size_t)g->n_inputs + 1, sizeof *shapes);
    hcg_graph *b = NULL;
    hcg_bind_options bo = {.eval = hcg_cpu_eval};
    hcg_graph_input_shapes(g, NULL, NULL, 0, shapes);
    for (int i = 0; i < g->n_inputs; i++)
        for (int d = 0; d < shapes[i].rank; d++)
            if (HCG_DIM_IS_SYM(g->nodes[g->inputs[i]].shape.dims[d])) shapes[i].dims[d] = 64;
    CHECK_OK(hcg_graph_bind(g, shapes, &bo, &b));
    free(shapes);
    return b;
}

static const char *write_profiles(const char *name, const char *json)
{
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s.json", tl_tmpdir(), name);
    FILE *f = fopen(p, "w");
    fputs(json, f);
    fclose(f);
    return p;
}

/* A plan over bound graph b for the given devices, with its placement arrays (plan_free frees them). */
static hcg_plan plan_for(hcg_graph *b, hcg_device **devs, int nd)
{
    hcg_plan p = {.bound = b, .n_dev = nd};
    for (int d = 0; d < nd; d++) p.devs[d] = devs[d];
    p.place = calloc((size_t)b->n_nodes, sizeof(int));
    p.pred_time = calloc((size_t)b->n_nodes, sizeof(double));
    p.pred_start = calloc((size_t)b->n_nodes, sizeof(double));
    return p;
}

static void plan_free(hcg_plan *p)
{
    free(p->place);
    free(p->pred_time);
    free(p->pred_start);
}

static void test_pins(void)
{
    hcg_graph *g = two_branches(32);
    hcg_id y = hcg_graph_find(g, g->output_names[0]);
    (void)y;
    hcg_pin(g, g->outputs[0], "opencl:7");
    hcg_session *s = NULL;
    CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "cpu"}, &s));
    hcg_shape xs = hcg_shape_make(2, (int64_t[]){32, 32});
    hcg_tensor *x = NULL, *out = NULL;
    hcg_tensor_new(HCG_F32, &xs, &x);
    CHECK_FAILS(hcg_session_run(s, (const hcg_tensor *const *)&x, &out), HCG_ERR_ARG,
                "pinned to 'opencl:7', which is not among the selected devices (cpu)");
    hcg_session_free(s);

    /* a pin to a device that cannot run the op (a simulated FPGA with matmul only) */
    const char *prof = write_profiles("fpga", "{\"devices\": [{\"name\": \"cpu\", \"type\": \"cpu\", \"host\": true},"
                                              "{\"name\": \"fpga\", \"type\": \"accelerator\", \"supports\": [\"matmul\"]}]}");
    hcg_device *devs[4];
    int nd = 0;
    CHECK_OK(hcg_sim_load(prof, devs, 4, &nd));
    hcg_pin(g, g->outputs[0], "fpga");
    hcg_graph *b = bind_trial(g);
    hcg_sched_report r;
    CHECK_FAILS(hcg_sim_evaluate(b, devs, nd, &r), HCG_ERR_UNSUPPORTED, "pinned to 'fpga', which does not support add");
    /* a pin the device can honour is honoured */
    hcg_id first_mm = -1;
    for (hcg_id id = 0; id < b->n_nodes && first_mm < 0; id++)
        if (b->nodes[id].op == HCG_OP_MATMUL) first_mm = id;
    free(b->nodes[b->outputs[0]].pin);
    b->nodes[b->outputs[0]].pin = NULL;
    b->nodes[first_mm].pin = strdup("fpga");
    hcg_plan p = plan_for(b, devs, nd);
    CHECK_OK(hcg_sched_evaluate(&p, NULL, &r));
    CHECK(p.place[first_mm] == 1, "the pinned matmul runs on the fpga (device %d)", p.place[first_mm]);
    plan_free(&p);
    hcg_graph_free(b);
    hcg_sim_free(devs, nd);
    hcg_tensor_free(x);
    hcg_graph_free(g);
}

static void test_heft_spreads_branches(void)
{
    const char *prof = write_profiles(
        "two_gpus", "{\"devices\": [{\"name\": \"gpu0\", \"type\": \"gpu\", \"gflops\": 10000, \"mem_gbps\": 500, \"h2d_gbps\": 64, \"d2h_gbps\": 64},"
                    "{\"name\": \"gpu1\", \"type\": \"gpu\", \"gflops\": 10000, \"mem_gbps\": 500, \"h2d_gbps\": 64, \"d2h_gbps\": 64},"
                    "{\"name\": \"cpu\", \"type\": \"cpu\", \"host\": true, \"gflops\": 500, \"mem_gbps\": 50}]}");
    hcg_device *devs[4];
    int nd = 0;
    CHECK_OK(hcg_sim_load(prof, devs, 4, &nd));
    hcg_graph *g = two_branches(1024);
    hcg_graph *b = bind_trial(g);
    hcg_plan p = plan_for(b, devs, nd);
    hcg_sched_report r;
    CHECK_OK(hcg_sched_evaluate(&p, NULL, &r));
    int mm_on[3] = {0, 0, 0};
    for (hcg_id id = 0; id < b->n_nodes; id++)
        if (b->nodes[id].op == HCG_OP_MATMUL) mm_on[p.place[id]]++;
    CHECK(mm_on[0] == 4 && mm_on[1] == 4, "each GPU takes one branch's 4 matmuls (gpu0 %d, gpu1 %d, cpu %d)", mm_on[0],
          mm_on[1], mm_on[2]);
    CHECK(r.chosen < 0.7 * r.single[0], "two GPUs beat one: %.1f us vs %.1f us", r.chosen * 1e6, r.single[0] * 1e6);
    plan_free(&p);
    hcg_graph_free(b);
    hcg_graph_free(g);
    hcg_sim_free(devs, nd);
}

/* Places two_branches(width) on simulated devices; counts compute nodes per device. */
static void place_sim(const char *name, const char *json, int width, int *on, hcg_sched_report *r, double *serial_bound)
{
    hcg_device *devs[4];
    int nd = 0;
    memset(on, 0, 4 * sizeof *on);
    if (!CHECK_OK(hcg_sim_load(write_profiles(name, json), devs, 4, &nd))) return;
    hcg_graph *g = two_branches(width);
    hcg_graph *b = bind_trial(g);
    hcg_plan p = plan_for(b, devs, nd);
    CHECK_OK(hcg_sched_evaluate(&p, NULL, r));
    /* an independent lower bound for devices that take turns: every node at its fastest, one after another */
    *serial_bound = 0;
    for (hcg_id id = 0; id < b->n_nodes; id++) {
        if (b->nodes[id].op == HCG_OP_INPUT || b->nodes[id].op == HCG_OP_PARAM) continue;
        double best = INFINITY;
        for (int d = 0; d < nd; d++) {
            double t = hcg_device_estimate(devs[d], b, &b->nodes[id]);
            best = t < best ? t : best;
        }
        *serial_bound += best;
        on[p.place[id]]++;
    }
    plan_free(&p);
    hcg_graph_free(b);
    hcg_graph_free(g);
    hcg_sim_free(devs, nd);
}

/* The cpu backend and an OpenCL CPU device (POCL) run on the same cores: work on both at once is
 * not faster, so the scheduler must not expect it to be (issue 10: `auto` was slower than `cpu`). */
static void test_shared_cores_take_turns(void)
{
    static const char *fmt =
        "{\"devices\": [{\"name\": \"cpu\", \"type\": \"cpu\", \"host\": true, \"gflops\": 200, \"mem_gbps\": 30, "
        "\"launch_us\": 1 %s},"
        "{\"name\": \"pocl\", \"type\": \"cpu\", \"gflops\": %d, \"mem_gbps\": 30, \"launch_us\": 3, \"h2d_gbps\": 20, "
        "\"d2h_gbps\": 20, \"link_latency_us\": 5 %s}]}";
    static const char *host2 = ", \"shares\": \"host\", \"cores\": 2, \"shared_cores\": 2";
    char json[1024];
    int on[4];
    hcg_sched_report r;
    double serial;

    /* two machines of the same speed (no "shares"): HEFT gives each one branch */
    snprintf(json, sizeof json, fmt, "", 200, "");
    place_sim("separate", json, 512, on, &r, &serial);
    CHECK(on[0] > 0 && on[1] > 0 && r.chosen < 0.75 * r.single[0],
          "separate devices split the branches (%d / %d nodes, %.1f us vs %.1f us alone)", on[0], on[1],
          r.chosen * 1e6, r.single[0] * 1e6);

    /* the same devices on the same two cores: nothing to gain from a split, and none is predicted */
    snprintf(json, sizeof json, fmt, host2, 200, host2);
    place_sim("shared", json, 512, on, &r, &serial);
    CHECK(r.heft >= serial * 0.999999, "devices sharing the cores take turns: HEFT's %.1f us >= the serial bound %.1f us",
          r.heft * 1e6, serial * 1e6);
    CHECK(r.chosen >= 0.999999 * (r.single[0] < r.single[1] ? r.single[0] : r.single[1]) && (on[0] == 0 || on[1] == 0),
          "shared cores: one device runs everything (%d on cpu, %d on pocl; %.1f us, cpu alone %.1f us)", on[0], on[1],
          r.chosen * 1e6, r.single[0] * 1e6);
    CHECK(on[0] > 0, "on a tie the cpu (the host's memory) wins (%d nodes on the cpu)", on[0]);

    /* two single-core POCL devices on two cores do not contend with each other (POCL_DEVICES="basic basic") */
    snprintf(json, sizeof json,
             "{\"devices\": [{\"name\": \"basic0\", \"type\": \"cpu\", \"gflops\": 100, \"mem_gbps\": 30, \"launch_us\": 3, "
             "\"shares\": \"host\", \"cores\": 1, \"shared_cores\": 2},"
             "{\"name\": \"basic1\", \"type\": \"cpu\", \"gflops\": 100, \"mem_gbps\": 30, \"launch_us\": 3, "
             "\"shares\": \"host\", \"cores\": 1, \"shared_cores\": 2}]}");
    place_sim("basic", json, 512, on, &r, &serial);
    CHECK(on[0] > 0 && on[1] > 0 && r.chosen < 0.75 * r.single[0],
          "two one-core devices on two cores still split (%d / %d nodes, %.1f us vs %.1f us alone)", on[0], on[1],
          r.chosen * 1e6, r.single[0] * 1e6);

    /* a shared-core device whose profile claims 5x the cpu's GEMM speed (calibrated or not) gets
     * nothing: same cores, same memory; the profiles differ by how they were measured */
    snprintf(json, sizeof json, fmt, host2, 1000, host2);
    place_sim("faster", json, 512, on, &r, &serial);
    CHECK(on[1] == 0 && r.choice == 0, "a shared-core device claiming 5x the cpu gets nothing (%d nodes, choice %d)",
          on[1], r.choice);
    char uncal[256];
    snprintf(uncal, sizeof uncal, "%s, \"calibrated\": false", host2);
    snprintf(json, sizeof json, fmt, host2, 1000, uncal);
    place_sim("uncalibrated", json, 512, on, &r, &serial);
    CHECK(on[1] == 0 && r.choice == 0, "nor on default costs (%d nodes, choice %d)", on[1], r.choice);
    /* but measured times (a profiled run) that show it faster stand */
    snprintf(json, sizeof json, fmt, host2, 200, host2);
    hcg_device *devs[4];
    int nd = 0;
    if (CHECK_OK(hcg_sim_load(write_profiles("measured", json), devs, 4, &nd))) {
        hcg_graph *g = two_branches(512);
        hcg_graph *b = bind_trial(g);
        hcg_measurements m = {.n_nodes = g->n_nodes, .n_dev = nd};
        m.seconds = malloc(sizeof(double) * (size_t)g->n_nodes * (size_t)nd);
        for (int i = 0; i < g->n_nodes * nd; i++) m.seconds[i] = NAN;
        int mm = 0;
        for (hcg_id id = 0; id < b->n_nodes; id++) {
            if (b->nodes[id].op != HCG_OP_MATMUL) continue;
            hcg_id o = b->origin[id];
            m.seconds[(size_t)o * nd + 0] = hcg_device_estimate(devs[0], b, &b->nodes[id]);
            m.seconds[(size_t)o * nd + 1] = 0.2 * m.seconds[(size_t)o * nd + 0];
        }
        hcg_plan p = plan_for(b, devs, nd);
        CHECK_OK(hcg_sched_evaluate(&p, &m, &r));
        for (hcg_id id = 0; id < b->n_nodes; id++) mm += b->nodes[id].op == HCG_OP_MATMUL && p.place[id] == 1;
        CHECK(mm == 8, "measured 5x faster on the shared-core device, its 8 matmuls go there (%d)", mm);
        plan_free(&p);
        free(m.seconds);
        hcg_graph_free(b);
        hcg_graph_free(g);
        hcg_sim_free(devs, nd);
    }
}

/* A random DAG of matmuls and elementwise ops over [n, n] tensors. */
static hcg_graph *random_graph(int nodes, int n)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id ids[512];
    int cnt = 0;
    ids[cnt++] = hcg_input(g, "x", HCG_F32, 2, (int64_t[]){n, n});
    for (int k = 0; k < nodes && cnt < 512; k++) {
        hcg_id a = ids[rnd((unsigned)cnt)], b = ids[rnd((unsigned)cnt)], v;
        switch (rnd(5)) {
        case 0: {
            char name[16];
            snprintf(name, sizeof name, "w%d", k);
            v = hcg_matmul(g, a, hcg_param(g, name, weight(n, n)), false, false);
            break;
        }
        case 1: v = hcg_matmul(g, a, b, false, true); break;
        case 2: v = hcg_add(g, a, b); break;
        case 3: v = hcg_unary(g, HCG_OP_TANH, a); break;
        default: v = hcg_softmax(g, a, -1); break;
        }
        ids[cnt++] = v;
    }
    hcg_output(g, ids[cnt - 1], "y");
    if (cnt > 3) hcg_output(g, ids[cnt / 2], "mid");
    return g;
}

/* Everything on device d, evaluated here without the scheduler: one device runs its nodes one after
 * another, so the makespan is the sum of the nodes' times (views cost nothing) plus, on a device
 * without the host's memory, each graph input's upload (resident weights cost nothing). INFINITY
 * when d cannot run some node. This is what the scheduler's own single-device plans must come to,
 * and what its chosen plan must never be predicted slower than. */
static double single_device_makespan(const hcg_graph *b, hcg_device *d)
{
    double t = 0;
    for (hcg_id id = 0; id < b->n_nodes; id++) {
        const hcg_node *n = &b->nodes[id];
        unsigned flags = hcg_op_info_get(n->op)->flags;
        if (flags & HCG_OPF_SOURCE) continue;
        if (!d->iface->supports(d, b, n)) return INFINITY;
        if (!(flags & HCG_OPF_VIEW)) t += hcg_device_estimate(d, b, n);
    }
    for (int i = 0; i < b->n_inputs; i++) {
        bool read = false;
        for (hcg_id id = 0; id < b->n_nodes && !read; id++)
            for (int k = 0; k < b->nodes[id].n_inputs; k++) read |= b->nodes[id].inputs[k] == b->inputs[i];
        if (read) t += hcg_transfer_estimate(NULL, d, hcg_node_nbytes(&b->nodes[b->inputs[i]]));
    }
    return t;
}

static void test_never_worse_than_single_device(void)
{
    static const char *ops_lists[] = {"", ", \"supports\": [\"matmul\", \"add\"]", ", \"unsupported\": [\"softmax\"]"};
    int worse = 0, trials = 0, disagree = 0, capable = 0;
    for (int t = 0; t < 60; t++) {
        char json[2048];
        snprintf(json, sizeof json,
                 "{\"devices\": [{\"name\": \"cpu\", \"type\": \"cpu\", \"host\": true, \"gflops\": %u, \"mem_gbps\": %u},"
                 "{\"name\": \"gpu\", \"type\": \"gpu\", \"gflops\": %u, \"mem_gbps\": %u, \"launch_us\": %u, "
                 "\"h2d_gbps\": %u, \"d2h_gbps\": %u},"
                 "{\"name\": \"acc\", \"type\": \"accelerator\", \"gflops\": %u, \"mem_gbps\": %u, \"launch_us\": %u%s}]}",
                 50 + rnd(2000), 10 + rnd(100), 100 + rnd(30000), 50 + rnd(1000), 1 + rnd(50), 1 + rnd(32),
                 1 + rnd(32), 100 + rnd(10000), 10 + rnd(200), 1 + rnd(100), ops_lists[rnd(3)]);
        hcg_device *devs[4];
        int nd = 0;
        if (!CHECK_OK(hcg_sim_load(write_profiles("random", json), devs, 4, &nd))) continue;
        hcg_graph *g = random_graph(10 + (int)rnd(60), 16 << rnd(6));
        hcg_graph *b = bind_trial(g);
        hcg_sched_report r;
        if (CHECK_OK(hcg_sim_evaluate(b, devs, nd, &r))) {
            trials++;
            for (int d = 0; d < nd; d++) {
                double alone = single_device_makespan(b, devs[d]);
                if (isinf(alone) != isinf(r.single[d]) ||
                    (!isinf(alone) && fabs(alone - r.single[d]) > 1e-9 * alone + 1e-12)) {
                    disagree++;
                    printf("trial %d: %s alone: %.4f us here, %.4f us in the scheduler's report\n", t, devs[d]->name,
                           alone * 1e6, r.single[d] * 1e6);
                }
                capable += !isinf(alone);
                if (r.chosen > alone * 1.000001) worse++;
            }
            if (r.chosen > r.greedy * 1.000001) worse++;
        }
        hcg_graph_free(b);
        hcg_graph_free(g);
        hcg_sim_free(devs, nd);
    }
    CHECK(trials == 60 && worse == 0, "%d of %d random plans predicted slower than a single device or greedy", worse,
          trials);
    CHECK(disagree == 0, "the scheduler's single-device makespans match the serial sums (%d of %d differ)", disagree,
          trials * 3);
    CHECK(capable > trials, "single devices could run the whole graph in %d of %d cases", capable, trials * 3);
}

static void test_measurements_replace_estimates(void)
{
    hcg_graph *g = two_branches(48);
    hcg_session *s = NULL;
    CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "cpu", .profile = true}, &s));
    hcg_shape xs = hcg_shape_make(2, (int64_t[]){48, 48});
    hcg_tensor *x = NULL, *y = NULL;
    hcg_tensor_new(HCG_F32, &xs, &x);
    CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y));
    hcg_plan *p = s->last_plan;
    int measured = 0;
    for (int i = 0; i < p->n_exec; i++) {
        hcg_id id = p->exec[i].id;
        double m = p->exec[i].measured_s, used = hcg_sched_node_time(p, &s->measured, id, 0);
        measured += m > 0 && fabs(used - m) <= 1e-12 + 1e-9 * m;
    }
    CHECK(measured == p->n_exec, "every node's planning time is its measured time (%d of %d)", measured, p->n_exec);
    hcg_tensor_free(x);
    hcg_tensor_free(y);
    hcg_session_free(s);
    hcg_graph_free(g);
}

int main(void)
{
    test_pins();
    test_heft_spreads_branches();
    test_shared_cores_take_turns();
    test_never_worse_than_single_device();
    test_measurements_replace_estimates();
    return tl_finish();
}
