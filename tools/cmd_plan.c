/* cmd_plan.c — `hcg plan MODEL [--devices LIST] [--shape NAME=2x16]... [--input NAME=FILE.npy]...
 * [--explain] [--trace FILE.json] [--simulate PROFILES.json]`: shows where each node would run and
 * why. With every input given as a file it also runs the graph profiled and shows measured times.
 * --simulate plans for hypothetical devices and compares hcg's plan with single devices and a
 * greedy priority-list baseline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_SPECS 256

/* Symbol values implied by the given shapes, then every input's shape. */
static hcg_status shapes_for(const hcg_graph *g, const hcg_shape *given, hcg_shape *shapes)
{
    const char *names[64];
    int64_t values[64];
    int n = 0, n_in = hcg_graph_num_inputs(g);
    for (int i = 0; i < n_in; i++) {
        if (given[i].rank < 0) continue;
        hcg_shape declared;
        hcg_graph_input_type(g, i, NULL, &declared);
        if (given[i].rank != declared.rank)
            return hcg_error(HCG_ERR_SHAPE, "input '%s' has rank %d, --shape gives %d", hcg_graph_input_name(g, i),
                             declared.rank, given[i].rank);
        for (int d = 0; d < declared.rank && n < 64; d++) {
            if (!HCG_DIM_IS_SYM(declared.dims[d])) continue;
            names[n] = hcg_graph_sym_name(g, declared.dims[d]);
            values[n++] = given[i].dims[d];
        }
    }
    hcg_status st = hcg_graph_input_shapes(g, names, values, n, shapes);
    for (int i = 0; !st && i < n_in; i++)
        if (given[i].rank >= 0) shapes[i] = given[i];
    return st;
}

static int simulate(const hcg_graph *g, const hcg_shape *shapes, const char *profiles)
{
    hcg_simulation r;
    if (hcg_simulate(g, shapes, profiles, &r)) return cli_fail("plan", "%s", hcg_last_error());
    double best_single = INFINITY;
    for (int d = 0; d < r.n_devices; d++) best_single = r.single[d] < best_single ? r.single[d] : best_single;
    printf("predicted makespan (us) for %d nodes on simulated devices from %s\n", r.n_nodes, profiles);
    printf("  %-28s %12.2f  (%s)\n", "hcg plan", r.chosen * 1e6,
           r.choice < 0 ? "HEFT placement" : "best single device");
    printf("  %-28s %12.2f\n", "hcg HEFT placement", r.heft * 1e6);
    for (int d = 0; d < r.n_devices; d++) {
        char label[64];
        snprintf(label, sizeof label, "only %s", r.device[d]);
        if (isinf(r.single[d])) printf("  %-28s %12s\n", label, "cannot run all ops");
        else printf("  %-28s %12.2f\n", label, r.single[d] * 1e6);
    }
    printf("  %-28s %12.2f\n", "greedy priority list", r.greedy * 1e6);
    printf("ratios: hcg / best single = %.3f, hcg / greedy = %.3f\n", r.chosen / best_single, r.chosen / r.greedy);
    return 0;
}

int cmd_plan(int argc, char **argv)
{
    const char *model = NULL, *devices = NULL, *trace = NULL, *sim = NULL, *v = NULL, *passes = NULL, *loss = NULL;
    hcg_train_options topt = {.optimizer = HCG_OPTIM_SGD, .lr = 0.01};
    char *shape_specs[MAX_SPECS], *input_specs[MAX_SPECS];
    int n_shape = 0, n_input = 0, rc = 1;
    bool explain = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--passes", &passes)) {
            if (!passes) return cli_fail("plan", "--passes needs a value");
        } else if (cli_opt(argc, argv, &i, "--devices", &devices)) {
            if (!devices) return cli_fail("plan", "--devices needs a value");
        } else if (cli_opt(argc, argv, &i, "--trace", &trace)) {
            if (!trace) return cli_fail("plan", "--trace needs a file name");
        } else if (cli_opt(argc, argv, &i, "--simulate", &sim)) {
            if (!sim) return cli_fail("plan", "--simulate needs a JSON file of device profiles");
        } else if (cli_opt(argc, argv, &i, "--shape", &v)) {
            if (!v || n_shape == MAX_SPECS) return cli_fail("plan", "--shape needs NAME=2x16");
            shape_specs[n_shape++] = (char *)v;
        } else if (cli_opt(argc, argv, &i, "--input", &v)) {
            if (!v || n_input == MAX_SPECS) return cli_fail("plan", "--input needs NAME=FILE.npy");
            input_specs[n_input++] = (char *)v;
        } else if (cli_opt(argc, argv, &i, "--loss", &loss)) {
            if (!loss) return cli_fail("plan", "--loss needs the name of the model's scalar loss output");
        } else if (cli_opt(argc, argv, &i, "--optimizer", &v)) {
            if (v && strcmp(v, "sgd") == 0) topt.optimizer = HCG_OPTIM_SGD;
            else if (v && strcmp(v, "adam") == 0) topt.optimizer = HCG_OPTIM_ADAM;
            else if (v && strcmp(v, "adamw") == 0) topt.optimizer = HCG_OPTIM_ADAMW;
            else return cli_fail("plan", "--optimizer must be sgd, adam or adamw");
        } else if (cli_opt(argc, argv, &i, "--momentum", &v)) {
            if (!v || (topt.momentum = atof(v)) < 0) return cli_fail("plan", "--momentum needs a number >= 0");
        } else if (strcmp(argv[i], "--explain") == 0) explain = true;
        else if (argv[i][0] == '-') return cli_fail("plan", "unknown option '%s'", argv[i]);
        else if (!model) model = argv[i];
        else return cli_fail("plan", "more than one model given");
    }
    if (!model) return cli_fail("plan", "usage: hcg plan MODEL --devices LIST [--shape NAME=2x16]... [--explain]");
    hcg_graph *g = NULL;
    hcg_session *s = NULL;
    hcg_train_session *t = NULL;
    hcg_shape *given = NULL, *shapes = NULL;
    hcg_tensor **inputs = NULL, **outputs = NULL;
    if (hcg_load(model, &g)) {
        fprintf(stderr, "hcg plan: %s\n", hcg_last_error());
        return 1;
    }
    int n_in = hcg_graph_num_inputs(g), n_out = hcg_graph_num_outputs(g);
    given = calloc((size_t)n_in + 1, sizeof *given);
    shapes = calloc((size_t)n_in + 1, sizeof *shapes);
    inputs = calloc((size_t)n_in + 1, sizeof *inputs);
    outputs = calloc((size_t)n_out + 1, sizeof *outputs);
    if (!given || !shapes || !inputs || !outputs) goto done;
    for (int i = 0; i < n_in; i++) given[i].rank = -1;
    for (int k = 0; k < n_shape; k++) {
        char *eq = strchr(shape_specs[k], '=');
        hcg_id id = -1;
        if (eq) {
            *eq = 0;
            id = hcg_graph_find(g, shape_specs[k]);
            *eq = '=';
        }
        int which = -1;
        for (int i = 0; i < n_in; i++)
            if (id >= 0 && hcg_graph_find(g, hcg_graph_input_name(g, i)) == id) which = i;
        if (!eq || which < 0 || !cli_parse_dims(eq + 1, &given[which])) {
            cli_fail("plan", "--shape '%s' must be INPUT=2x16 naming a graph input", shape_specs[k]);
            goto done;
        }
    }
    if (n_input) {
        if (cli_load_inputs(g, n_input, input_specs, inputs, "plan")) {
            fprintf(stderr, "hcg plan: %s\n", hcg_last_error());
            goto done;
        }
        for (int i = 0; i < n_in; i++) given[i] = inputs[i]->shape;
    }
    if (shapes_for(g, given, shapes)) {
        fprintf(stderr, "hcg plan: %s\n", hcg_last_error());
        goto done;
    }
    if (sim) {
        rc = simulate(g, shapes, sim);
        goto done;
    }
    hcg_session_options opt = {.devices = devices, .profile = n_input > 0, .passes = passes};
    if (loss) { /* a training step: forward, backward and the optimizer's updates */
        topt.loss = loss;
        topt.devices = devices;
        if (n_input) {
            cli_fail("plan", "--loss plans a training step from shapes: use --shape, not --input");
            goto done;
        }
        if (hcg_train_session_new(g, &topt, &t) || hcg_train_prepare(t, shapes)) {
            fprintf(stderr, "hcg plan: %s\n", hcg_last_error());
            goto done;
        }
        printf("training step: %d trainable params, %s\n", hcg_train_num_params(t),
               topt.optimizer == HCG_OPTIM_SGD ? "sgd" : topt.optimizer == HCG_OPTIM_ADAM ? "adam" : "adamw");
    } else if (hcg_session_new(g, &opt, &s) || hcg_session_prepare(s, shapes)) {
        fprintf(stderr, "hcg plan: %s\n", hcg_last_error());
        goto done;
    }
    if (n_input) {
        if (hcg_session_run(s, (const hcg_tensor *const *)inputs, outputs)) {
            fprintf(stderr, "hcg plan: %s\n", hcg_last_error());
            goto done;
        }
    }
    /* the training step's plan, or the model's (planned, or run profiled with the inputs) */
    const hcg_session *ps = t ? hcg_train_get_session(t) : s;
    hcg_plan_info info;
    if (hcg_session_plan_info(ps, &info) || (explain && hcg_session_explain(ps, stdout))) {
        fprintf(stderr, "hcg plan: %s\n", hcg_last_error());
        goto done;
    }
    if (!explain) {
        for (int d = 0; d < info.n_devices; d++) {
            hcg_plan_device pd;
            if (!hcg_session_plan_device(ps, d, &pd)) printf("%-10s %d nodes\n", pd.name, pd.n_nodes);
        }
        printf("predicted makespan %.2f us (use --explain for the table)\n", info.predicted_seconds * 1e6);
    }
    if (trace) {
        hcg_status st = n_input ? hcg_session_write_trace(ps, trace) : hcg_session_write_plan_trace(ps, trace);
        if (st) {
            fprintf(stderr, "hcg plan: %s\n", hcg_last_error());
            goto done;
        }
    }
    rc = 0;
done:
    if (outputs)
        for (int j = 0; j < n_out; j++) hcg_tensor_free(outputs[j]);
    if (inputs)
        for (int i = 0; i < n_in; i++) hcg_tensor_free(inputs[i]);
    free(outputs);
    free(inputs);
    free(given);
    free(shapes);
    hcg_session_free(s);
    hcg_train_session_free(t);
    hcg_graph_free(g);
    return rc;
}
