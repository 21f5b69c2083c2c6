/* bench_sched.c — the scheduler's figures, all measured in one process:
 *  1. planning time per node (bind + place + memory plan) on a 10,000-node graph;
 *  2. dispatch overhead per node on that graph (run time minus the same kernels called directly);
 *  3. two independent branches on two OpenCL devices vs the same work on one of them (run with
 *     POCL_DEVICES="basic basic": two single-threaded POCL devices, each one core);
 *  4. simulated placement quality: for the example models and synthetic graphs on the device
 *     profiles in bench/profiles/, hcg's plan vs the best single device vs a greedy priority list.
 * Usage: bench_sched [--quick] [SOURCE_DIR]   (SOURCE_DIR: where models/ and bench/profiles/ are) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/session_impl.h"
#include "backend/simulate.h"
#include "graph/bind.h"

static hcg_tensor *filled(int rank, const int64_t *dims, float scale, unsigned seed)
{
    hcg_shape s = hcg_shape_make(rank, dims);
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_F32, &s, &t);
    int64_t n;
    hcg_shape_numel(&s, &n);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        ((float *)t->data)[i] = scale * ((float)(seed >> 9) / (float)(1u << 23) - 0.5f);
    }
    return t;
}

/* ---------------------------------------------------------------- synthetic graphs */

/* nodes tiny elementwise ops on f32[n] in a braid: every node reads the previous two. */
static hcg_graph *braid_graph(int nodes, int n)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id a = hcg_input(g, "x", HCG_F32, 1, (int64_t[]){n});
    hcg_id b = hcg_unary(g, HCG_OP_NEG, a);
    static const hcg_op ops[] = {HCG_OP_ADD, HCG_OP_MUL, HCG_OP_SUB, HCG_OP_MAX};
    for (int k = 2; k < nodes; k++) {
        hcg_id c = k % 5 == 4 ? hcg_unary(g, HCG_OP_TANH, b) : hcg_add_node(g, ops[k % 4], NULL, (hcg_id[]){a, b}, 2, NULL, 0);
        a = b;
        b = c;
    }
    hcg_output(g, b, "y");
    return g;
}

/* branches independent chains of layers matmul -> gelu on [rows, width], summed at the end. */
static hcg_graph *branches_graph(int branches, int layers, int rows, int width)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id x = hcg_input(g, "x", HCG_F32, 2, (int64_t[]){rows, width});
    hcg_id acc = -1;
    for (int b = 0; b < branches; b++) {
        hcg_id v = x;
        for (int l = 0; l < layers; l++) {
            char name[32];
            snprintf(name, sizeof name, "w%d_%d", b, l);
            hcg_id w = hcg_param(g, name, filled(2, (int64_t[]){width, width}, 2.0f / sqrtf((float)width), 17u * b + l));
            v = hcg_unary(g, HCG_OP_GELU, hcg_matmul(g, v, w, false, false));
        }
        acc = acc < 0 ? v : hcg_add(g, acc, v);
    }
    hcg_output(g, acc, "y");
    return g;
}

/* A stack of transformer-like layers: x + W2 gelu(W1 layer_norm(x)). */
static hcg_graph *mlp_stack_graph(int layers, int rows, int width)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id x = hcg_input(g, "x", HCG_F32, 2, (int64_t[]){rows, width});
    for (int l = 0; l < layers; l++) {
        char n1[32], n2[32];
        snprintf(n1, sizeof n1, "up%d", l);
        snprintf(n2, sizeof n2, "down%d", l);
        hcg_id w1 = hcg_param(g, n1, filled(2, (int64_t[]){width, 4 * width}, 0.05f, 3u + l));
        hcg_id w2 = hcg_param(g, n2, filled(2, (int64_t[]){4 * width, width}, 0.05f, 7u + l));
        hcg_id h = hcg_layer_norm(g, x, -1, -1, -1, 1e-5);
        h = hcg_unary(g, HCG_OP_GELU, hcg_matmul(g, h, w1, false, false));
        x = hcg_add(g, x, hcg_matmul(g, h, w2, false, false));
    }
    hcg_output(g, x, "y");
    return g;
}

/* ---------------------------------------------------------------- 1 + 2: planning and dispatch */

static double run_best(hcg_session *s, hcg_tensor *x, hcg_tensor *y, int reps)
{
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t = hcg_now();
        if (hcg_session_run_into(s, (const hcg_tensor *const *)&x, &y)) {
            fprintf(stderr, "run: %s\n", hcg_last_error());
            exit(1);
        }
        t = hcg_now() - t;
        best = t < best ? t : best;
    }
    return best;
}

static void bench_planning_and_dispatch(bool quick, const char *devices)
{
    const int nodes = 10000;
    hcg_graph *g = braid_graph(nodes, 4);
    hcg_shape xs = hcg_shape_make(1, (int64_t[]){4});
    hcg_tensor *x = filled(1, (int64_t[]){4}, 1.0f, 5), *y = NULL;
    hcg_tensor_new(HCG_F32, &xs, &y);

    /* planning: bind + plan, fresh each time */
    double t_bind = INFINITY, t_plan = INFINITY;
    hcg_device *devs[HCG_MAX_DEVICES];
    int nd = 0;
    if (hcg_devices_select(devices, devs, HCG_MAX_DEVICES, &nd)) {
        fprintf(stderr, "%s\n", hcg_last_error());
        exit(1);
    }
    for (int r = 0; r < (quick ? 1 : 5); r++) {
        hcg_graph *b = NULL;
        hcg_plan *p = NULL;
        hcg_bind_options bo = {.eval = hcg_cpu_eval};
        double t0 = hcg_now();
        if (hcg_graph_bind(g, &xs, &bo, &b)) exit(1);
        double t1 = hcg_now();
        if (hcg_plan_build(b, devs, nd, NULL, &p)) {
            fprintf(stderr, "plan: %s\n", hcg_last_error());
            exit(1);
        }
        double t2 = hcg_now();
        t_bind = t1 - t0 < t_bind ? t1 - t0 : t_bind;
        t_plan = t2 - t1 < t_plan ? t2 - t1 : t_plan;
        hcg_plan_free(p);
    }
    printf("\n== planning a %d-node graph on %s (best of 5)\n", nodes, devices);
    printf("bind (shape inference, folding): %.3f us per node; placement + segments + memory plan: %.3f us per node\n",
           t_bind / nodes * 1e6, t_plan / nodes * 1e6);

    /* dispatch: runs on the chosen devices against the same kernels called back to back */
    hcg_session *s = NULL;
    if (hcg_session_new(g, &(hcg_session_options){.devices = devices}, &s)) exit(1);
    run_best(s, x, y, 1);
    double t_run = run_best(s, x, y, quick ? 2 : 20);
    hcg_plan *p = s->last_plan;
    /* the kernels alone: the CPU kernel table over the same exec nodes, no executor */
    double t_kern = INFINITY;
    bool all_cpu = true;
    for (int i = 0; i < p->n_exec; i++) all_cpu &= p->devs[p->place[p->exec[i].id]]->host_memory;
    if (all_cpu) {
        /* the caller's memory, as a run would bind it */
        p->input_bufs[0].host = x->data;
        p->output_bufs[0].host = y->data;
        for (int r = 0; r < (quick ? 2 : 20); r++) {
            double t = hcg_now();
            for (int i = 0; i < p->n_exec; i++) hcg_cpu_kernels[p->exec[i].node->op](&p->exec[i]);
            t = hcg_now() - t;
            t_kern = t < t_kern ? t : t_kern;
        }
    }
    int segs = 0;
    for (int i = 0; i < p->n_steps; i++) segs += p->steps[i].kind == HCG_STEP_SEGMENT;
    printf("run: %.3f us per node (%d exec nodes, %d segments)", t_run / p->n_exec * 1e6, p->n_exec, segs);
    if (all_cpu)
        printf("; kernels alone %.3f us per node; dispatch overhead %.3f us per node\n", t_kern / p->n_exec * 1e6,
               (t_run - t_kern) / p->n_exec * 1e6);
    else
        printf("\n");
    hcg_session_free(s);
    hcg_tensor_free(x);
    hcg_tensor_free(y);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- 3: two devices at once */

static void bench_two_devices(bool quick)
{
    hcg_device *devs[HCG_MAX_DEVICES];
    int nd = 0;
    if (hcg_devices_select("opencl", devs, HCG_MAX_DEVICES, &nd) || nd < 2) {
        printf("\n== two branches on two OpenCL devices: skipped (found %d OpenCL devices; run with\n"
               "   POCL_DEVICES=\"basic basic\": two single-threaded POCL devices)\n", nd);
        return;
    }
    const int rows = 256, width = 256, layers = 6;
    hcg_graph *g = branches_graph(2, layers, rows, width);
    hcg_tensor *x = filled(2, (int64_t[]){rows, width}, 1.0f, 9), *y1 = NULL, *y2 = NULL;
    hcg_shape ys = hcg_shape_make(2, (int64_t[]){rows, width});
    hcg_tensor_new(HCG_F32, &ys, &y1);
    hcg_tensor_new(HCG_F32, &ys, &y2);
    char both[64];
    snprintf(both, sizeof both, "%s,%s", devs[0]->name, devs[1]->name);
    hcg_session *one = NULL, *two = NULL;
    if (hcg_session_new(g, &(hcg_session_options){.devices = devs[0]->name}, &one) ||
        hcg_session_new(g, &(hcg_session_options){.devices = both}, &two)) {
        fprintf(stderr, "%s\n", hcg_last_error());
        exit(1);
    }
    run_best(one, x, y1, 1);
    run_best(two, x, y2, 1);
    double t1 = INFINITY, t2 = INFINITY;
    for (int r = 0; r < (quick ? 1 : 5); r++) {
        double a = run_best(one, x, y1, 1), b = run_best(two, x, y2, 1);
        t1 = a < t1 ? a : t1;
        t2 = b < t2 ? b : t2;
    }
    int per_dev[HCG_MAX_DEVICES] = {0};
    const hcg_plan *p = two->last_plan;
    for (int i = 0; i < p->n_exec; i++) per_dev[p->place[p->exec[i].id]]++;
    double maxdiff = 0;
    for (long i = 0; i < (long)rows * width; i++) {
        double d = fabs(((float *)y1->data)[i] - ((float *)y2->data)[i]);
        maxdiff = d > maxdiff ? d : maxdiff;
    }
    printf("\n== two independent branches (%d x matmul %dx%dx%d + gelu each) on %s vs %s alone\n", layers, rows, width,
           width, both, devs[0]->name);
    printf("one device: %.2f ms; two devices: %.2f ms (nodes: %d on %s, %d on %s); speedup %.2fx; max |diff| %.2g\n",
           t1 * 1e3, t2 * 1e3, per_dev[0], devs[0]->name, per_dev[1], devs[1]->name, t1 / t2, maxdiff);
    hcg_session_free(one);
    hcg_session_free(two);
    hcg_tensor_free(x);
    hcg_tensor_free(y1);
    hcg_tensor_free(y2);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- 4: simulation */

static void simulate_row(const char *label, const hcg_graph *g, const hcg_shape *shapes, hcg_device **devs, int nd,
                         double *worst_vs_single, double *worst_vs_greedy)
{
    hcg_graph *b = NULL;
    hcg_bind_options bo = {.eval = hcg_cpu_eval};
    if (hcg_graph_bind(g, shapes, &bo, &b)) {
        printf("  %-26s bind failed: %s\n", label, hcg_last_error());
        return;
    }
    hcg_sched_report r;
    if (hcg_sim_evaluate(b, devs, nd, &r)) {
        printf("  %-26s plan failed: %s\n", label, hcg_last_error());
        hcg_graph_free(b);
        return;
    }
    double best = INFINITY;
    int best_d = -1;
    for (int d = 0; d < nd; d++)
        if (r.single[d] < best) {
            best = r.single[d];
            best_d = d;
        }
    printf("  %-26s %6d %12.1f %12.1f %-6s %12.1f %9.3f %9.3f\n", label, b->n_nodes, r.chosen * 1e6, best * 1e6,
           best_d >= 0 ? devs[best_d]->name : "-", r.greedy * 1e6, r.chosen / best, r.chosen / r.greedy);
    if (r.chosen / best > *worst_vs_single) *worst_vs_single = r.chosen / best;
    if (r.chosen / r.greedy > *worst_vs_greedy) *worst_vs_greedy = r.chosen / r.greedy;
    hcg_graph_free(b);
}

static void bench_simulation(const char *src)
{
    static const char *profiles[] = {"gpu_cpu_fpga", "two_gpus_cpu", "slow_link_gpu_cpu"};
    static const struct {
        const char *label, *path;
        int64_t dims[3];
        int rank;
    } models[] = {
        {"attention B=8 S=128", "models/attention/attention.hcg", {8, 128, 64}, 3},
        {"mlp N=256", "models/mlp/mlp.hcg", {256, 32}, 2},
        {"ensemble N=1024", "models/ensemble/ensemble.hcg", {1024, 32}, 2},
    };
    printf("\n== simulated placement (predicted makespan, us): hcg vs best single device vs greedy priority list\n");
    for (size_t pi = 0; pi < sizeof profiles / sizeof profiles[0]; pi++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/bench/profiles/%s.json", src, profiles[pi]);
        hcg_device *devs[HCG_MAX_DEVICES];
        int nd = 0;
        if (hcg_sim_load(path, devs, HCG_MAX_DEVICES, &nd)) {
            printf("%s\n", hcg_last_error());
            continue;
        }
        printf("profile %s:\n  %-26s %6s %12s %12s %-6s %12s %9s %9s\n", profiles[pi], "graph", "nodes", "hcg",
               "best single", "which", "greedy", "hcg/best", "hcg/greedy");
        double ws = 0, wg = 0;
        for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
            hcg_graph *g = NULL;
            snprintf(path, sizeof path, "%s/%s", src, models[m].path);
            if (hcg_load(path, &g)) {
                printf("  %-26s load failed: %s\n", models[m].label, hcg_last_error());
                continue;
            }
            hcg_shape s = hcg_shape_make(models[m].rank, models[m].dims);
            simulate_row(models[m].label, g, &s, devs, nd, &ws, &wg);
            hcg_graph_free(g);
        }
        struct {
            const char *label;
            hcg_graph *g;
            hcg_shape s;
        } syn[] = {
            {"4 branches x 6 x 1024^2", branches_graph(4, 6, 1024, 1024), hcg_shape_make(2, (int64_t[]){1024, 1024})},
            {"2 branches x 4 x 64^2", branches_graph(2, 4, 64, 64), hcg_shape_make(2, (int64_t[]){64, 64})},
            {"mlp stack 12 x 512x768", mlp_stack_graph(12, 512, 768), hcg_shape_make(2, (int64_t[]){512, 768})},
            {"braid 2000 tiny ops", braid_graph(2000, 64), hcg_shape_make(1, (int64_t[]){64})},
        };
        for (size_t k = 0; k < sizeof syn / sizeof syn[0]; k++) {
            simulate_row(syn[k].label, syn[k].g, &syn[k].s, devs, nd, &ws, &wg);
            hcg_graph_free(syn[k].g);
        }
        printf("  worst hcg / best single = %.3f, worst hcg / greedy = %.3f\n", ws, wg);
        hcg_sim_free(devs, nd);
    }
}

int main(int argc, char **argv)
{
    bool quick = false;
    const char *src = ".";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else src = argv[i];
    }
    bench_planning_and_dispatch(quick, "cpu");
    if (hcg_device_count() > 1) bench_planning_and_dispatch(quick, "auto");
    bench_two_devices(quick);
    bench_simulation(src);
    return 0;
}
