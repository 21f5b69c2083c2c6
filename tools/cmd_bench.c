/* cmd_bench.c — `hcg bench MODEL --input NAME=FILE.npy... [--devices LIST] [--warmup N]
 * [--repeat N] [--passes LIST] [--json]`: one session, N warm-up runs, then N timed runs into
 * preallocated outputs; prints min / median / p90 milliseconds (or one JSON object). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_INPUTS 256

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cmd_bench(int argc, char **argv)
{
    const char *model = NULL, *devices = NULL, *passes = NULL, *v = NULL;
    char *specs[MAX_INPUTS];
    int n_specs = 0, warmup = 3, repeat = 20, rc = 1;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--devices", &devices)) {
            if (!devices) return cli_fail("bench", "--devices needs a value");
        } else if (cli_opt(argc, argv, &i, "--passes", &passes)) {
            if (!passes) return cli_fail("bench", "--passes needs a value");
        } else if (cli_opt(argc, argv, &i, "--input", &v)) {
            if (!v) return cli_fail("bench", "--input needs NAME=FILE.npy");
            if (n_specs == MAX_INPUTS) return cli_fail("bench", "too many --input options");
            specs[n_specs++] = (char *)v;
        } else if (cli_opt(argc, argv, &i, "--warmup", &v)) {
            if (!v || (warmup = atoi(v)) < 0) return cli_fail("bench", "--warmup needs a count >= 0");
        } else if (cli_opt(argc, argv, &i, "--repeat", &v)) {
            if (!v || (repeat = atoi(v)) < 1) return cli_fail("bench", "--repeat needs a positive count");
        } else if (strcmp(argv[i], "--json") == 0) json = true;
        else if (argv[i][0] == '-') return cli_fail("bench", "unknown option '%s' (see hcg bench --help)", argv[i]);
        else if (!model) model = argv[i];
        else return cli_fail("bench", "more than one model given ('%s' and '%s')", model, argv[i]);
    }
    if (!model) return cli_fail("bench", "no model given (see hcg bench --help)");
    hcg_graph *g = NULL;
    hcg_session *s = NULL;
    hcg_tensor *inputs[MAX_INPUTS] = {NULL}, **outputs = NULL;
    double *times = calloc((size_t)repeat, sizeof *times);
    int n_in = 0, n_out = 0;
    if (!times || hcg_load(model, &g)) {
        fprintf(stderr, "hcg bench: %s\n", hcg_last_error());
        goto done;
    }
    n_in = hcg_graph_num_inputs(g);
    n_out = hcg_graph_num_outputs(g);
    if (n_in > MAX_INPUTS) {
        cli_fail("bench", "the graph has more than %d inputs", MAX_INPUTS);
        goto done;
    }
    hcg_session_options opt = {.devices = devices, .passes = passes};
    if (cli_load_inputs(g, n_specs, specs, inputs, "bench") || hcg_session_new(g, &opt, &s)) {
        fprintf(stderr, "hcg bench: %s\n", hcg_last_error());
        goto done;
    }
    outputs = calloc((size_t)n_out + 1, sizeof *outputs);
    if (!outputs) goto done;
    /* The first run makes the outputs (and the plan); the others reuse them. */
    if (hcg_session_run(s, (const hcg_tensor *const *)inputs, outputs)) {
        fprintf(stderr, "hcg bench: %s\n", hcg_last_error());
        goto done;
    }
    for (int r = 0; r < warmup + repeat; r++) {
        double t0 = hcg_now();
        if (hcg_session_run_into(s, (const hcg_tensor *const *)inputs, outputs)) {
            fprintf(stderr, "hcg bench: %s\n", hcg_last_error());
            goto done;
        }
        if (r >= warmup) times[r - warmup] = (hcg_now() - t0) * 1e3;
    }
    qsort(times, (size_t)repeat, sizeof *times, cmp_double);
    double mn = times[0], med = repeat % 2 ? times[repeat / 2] : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
    double p90 = times[(int)(0.9 * (repeat - 1) + 0.5)];
    hcg_plan_info info = {0};
    hcg_session_plan_info(s, &info);
    if (json) {
        printf("{\"model\": \"%s\", \"devices\": \"%s\", \"passes\": \"%s\", \"warmup\": %d, \"repeat\": %d, "
               "\"min_ms\": %.4f, \"median_ms\": %.4f, \"p90_ms\": %.4f, \"nodes\": %d}\n",
               model, devices ? devices : "auto", hcg_session_passes(s), warmup, repeat, mn, med, p90, info.n_nodes);
    } else {
        cli_print_placement(s, stdout);
        printf("%s: %d runs after %d warm-up: min %.3f ms, median %.3f ms, p90 %.3f ms\n", model, repeat, warmup, mn, med,
               p90);
    }
    rc = 0;
done:
    if (outputs)
        for (int j = 0; j < n_out; j++) hcg_tensor_free(outputs[j]);
    free(outputs);
    free(times);
    for (int i = 0; i < n_in && i < MAX_INPUTS; i++) hcg_tensor_free(inputs[i]);
    hcg_session_free(s);
    hcg_graph_free(g);
    return rc;
}
