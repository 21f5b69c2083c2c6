/* cmd_run.c — `hcg run MODEL [--devices LIST] [--input NAME=FILE.npy]... [--output-dir DIR]
 * [--max-memory SIZE] [--profile] [--trace FILE.json] [--repeat N] [--explain] [--quiet]`: loads a
 * graph, binds its inputs from .npy files, plans and runs it, prints where the work ran and a
 * one-line summary per output, and writes DIR/<output>.npy for every output as one set with a
 * manifest (run_outputs.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "run_outputs.h"

#define MAX_INPUTS 256

static void summarize(const hcg_tensor *t, char *buf, size_t n)
{
    int64_t cnt = 0;
    hcg_shape_numel(&t->shape, &cnt);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    long nan = 0;
    for (int64_t i = 0; i < cnt; i++) {
        double v;
        switch (t->dtype) {
        case HCG_F32: v = ((const float *)t->data)[i]; break;
        case HCG_I32: v = ((const int32_t *)t->data)[i]; break;
        case HCG_I64: v = (double)((const int64_t *)t->data)[i]; break;
        case HCG_U8:
        case HCG_BOOL: v = ((const uint8_t *)t->data)[i]; break;
        case HCG_I8: v = ((const int8_t *)t->data)[i]; break;
        default: v = NAN; break;
        }
        if (isnan(v)) {
            nan++;
            continue;
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
    }
    if (t->dtype == HCG_F16 || cnt == 0) snprintf(buf, n, "%lld elements", (long long)cnt);
    else
        snprintf(buf, n, "min %.6g, max %.6g, mean %.6g%s", lo, hi, cnt - nan ? sum / (double)(cnt - nan) : NAN,
                 nan ? " (has NaN)" : "");
}

/* "ran on: cpu 12 nodes, opencl:0 30 nodes; 3 copies" */
void cli_print_placement(const hcg_session *s, FILE *f)
{
    hcg_plan_info info;
    if (hcg_session_plan_info(s, &info)) return;
    fprintf(f, "ran on:");
    bool first = true;
    for (int d = 0; d < info.n_devices; d++) {
        hcg_plan_device pd;
        if (hcg_session_plan_device(s, d, &pd) || !pd.n_nodes) continue;
        fprintf(f, "%s %s (%d node%s)", first ? "" : ",", pd.name, pd.n_nodes, pd.n_nodes == 1 ? "" : "s");
        first = false;
    }
    fprintf(f, "; %d cop%s between devices\n", info.n_copies, info.n_copies == 1 ? "y" : "ies");
}

hcg_status cli_load_inputs(const hcg_graph *g, int n_specs, char **specs, hcg_tensor **inputs, const char *cmd)
{
    int n_in = hcg_graph_num_inputs(g);
    for (int k = 0; k < n_specs; k++) {
        char *eq = strchr(specs[k], '=');
        if (!eq) return hcg_error(HCG_ERR_ARG, "--input '%s' must be NAME=FILE.npy", specs[k]);
        *eq = 0;
        int which = -1;
        for (int i = 0; i < n_in; i++)
            if (strcmp(hcg_graph_input_name(g, i), specs[k]) == 0) which = i;
        if (which < 0) {
            char names[1024] = "";
            size_t used = 0;
            for (int i = 0; i < n_in && used < sizeof names - 1; i++) {
                int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", hcg_graph_input_name(g, i));
                if (w > 0) used += (size_t)w;
            }
            hcg_status st = hcg_error(HCG_ERR_NOT_FOUND, "the graph has no input '%s' (inputs: %s)", specs[k],
                                      n_in ? names : "none");
            *eq = '=';
            return st;
        }
        if (inputs[which]) {
            hcg_status st = hcg_error(HCG_ERR_ARG, "input '%s' is given twice", specs[k]);
            *eq = '=';
            return st;
        }
        hcg_status st = hcg_npy_load(eq + 1, &inputs[which]);
        *eq = '=';
        if (st) return st;
    }
    for (int i = 0; i < n_in; i++)
        if (!inputs[i])
            return hcg_error(HCG_ERR_ARG, "input '%s' is not given (use --input %s=FILE.npy)", hcg_graph_input_name(g, i),
                             hcg_graph_input_name(g, i));
    (void)cmd;
    return HCG_OK;
}

int cmd_run(int argc, char **argv)
{
    const char *model = NULL, *devices = NULL, *out_dir = NULL, *trace = NULL, *v = NULL, *passes = NULL,
               *max_memory = NULL, *placement = NULL;
    char *specs[MAX_INPUTS];
    int n_specs = 0, repeat = 1, rc = 1;
    bool profile = false, quiet = false, explain = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--devices", &devices)) {
            if (!devices) return cli_fail("run", "--devices needs a value");
        } else if (cli_opt(argc, argv, &i, "--passes", &passes)) {
            if (!passes) return cli_fail("run", "--passes needs a value");
        } else if (cli_opt(argc, argv, &i, "--output-dir", &out_dir)) {
            if (!out_dir) return cli_fail("run", "--output-dir needs a value");
        } else if (cli_opt(argc, argv, &i, "--max-memory", &max_memory)) {
            if (!max_memory) return cli_fail("run", "--max-memory needs a size (4G) or DEVICE=SIZE,...");
        } else if (cli_opt(argc, argv, &i, "--trace", &trace)) {
            if (!trace) return cli_fail("run", "--trace needs a file name");
        } else if (cli_opt(argc, argv, &i, "--placement", &placement)) {
            if (!placement) return cli_fail("run", "--placement needs a file (lines PATTERN DEVICE)");
        } else if (cli_opt(argc, argv, &i, "--input", &v)) {
            if (!v) return cli_fail("run", "--input needs NAME=FILE.npy");
            if (n_specs == MAX_INPUTS) return cli_fail("run", "too many --input options");
            specs[n_specs++] = (char *)v;
        } else if (cli_opt(argc, argv, &i, "--repeat", &v)) {
            if (!v || (repeat = atoi(v)) < 1) return cli_fail("run", "--repeat needs a positive count");
        } else if (strcmp(argv[i], "--profile") == 0) profile = true;
        else if (strcmp(argv[i], "--quiet") == 0) quiet = true;
        else if (strcmp(argv[i], "--explain") == 0) explain = true;
        else if (argv[i][0] == '-') return cli_fail("run", "unknown option '%s'", argv[i]);
        else if (!model) model = argv[i];
        else return cli_fail("run", "more than one model given ('%s' and '%s')", model, argv[i]);
    }
    if (!model)
        return cli_fail("run", "usage: hcg run MODEL [--devices LIST] [--input NAME=FILE.npy]... [--output-dir DIR] "
                               "[--max-memory SIZE]");
    hcg_graph *g = NULL;
    hcg_session *s = NULL;
    hcg_tensor *inputs[MAX_INPUTS] = {NULL}, **outputs = NULL;
    int n_in = 0, n_out = 0;
    run_outputs files;
    memset(&files, 0, sizeof files);
    if (hcg_load(model, &g) || (placement && cli_apply_placement(g, placement))) {
        fprintf(stderr, "hcg run: %s\n", hcg_last_error());
        goto done;
    }
    /* nodes placed on ranks (under mpirun): every rank runs its part, rank 0 speaks and writes */
    if (hcg_graph_names_ranks(g)) {
        if (hcg_dist_init()) {
            fprintf(stderr, "hcg run: nodes placed on ranks: %s\n", hcg_last_error());
            goto done;
        }
        if (hcg_dist_rank() != 0) quiet = true, explain = false, out_dir = NULL, trace = NULL;
    }
    n_in = hcg_graph_num_inputs(g);
    n_out = hcg_graph_num_outputs(g);
    if (n_in > MAX_INPUTS) {
        cli_fail("run", "the graph has more than %d inputs", MAX_INPUTS);
        goto done;
    }
    if (cli_load_inputs(g, n_specs, specs, inputs, "run")) {
        fprintf(stderr, "hcg run: %s\n", hcg_last_error());
        goto done;
    }
    /* Output names that collide, or leftovers of a stopped run: found before anything runs. */
    if (out_dir && run_outputs_prepare(&files, out_dir, g)) {
        fprintf(stderr, "hcg run: %s\n", hcg_last_error());
        goto done;
    }
    const char *notes = hcg_device_notes(); /* e.g. "no OpenCL platform found: running on the CPU" */
    if (notes[0] && !quiet) fputs(notes, stderr);
    hcg_session_options opt = {.devices = devices, .profile = profile || trace, .passes = passes, .max_memory = max_memory};
    if (hcg_session_new(g, &opt, &s)) {
        fprintf(stderr, "hcg run: %s\n", hcg_last_error());
        goto done;
    }
    outputs = calloc((size_t)n_out + 1, sizeof *outputs);
    if (!outputs) goto done;
    double t_total = 0;
    for (int r = 0; r < repeat; r++) {
        for (int j = 0; j < n_out; j++) {
            hcg_tensor_free(outputs[j]);
            outputs[j] = NULL;
        }
        double t0 = hcg_now();
        if (hcg_session_run(s, (const hcg_tensor *const *)inputs, outputs)) {
            fprintf(stderr, "hcg run: %s\n", hcg_last_error());
            goto done;
        }
        double dt = hcg_now() - t0;
        if (r > 0 || repeat == 1) t_total += dt;
        if (repeat > 1 && !quiet && isatty(2))
            fprintf(stderr, "\r[%-30.*s] %d/%d", (int)(30.0 * (r + 1) / repeat), "##############################", r + 1,
                    repeat);
    }
    if (repeat > 1 && !quiet && isatty(2)) fprintf(stderr, "\n");
    if (!quiet) {
        hcg_plan_info info = {0};
        hcg_session_plan_info(s, &info);
        cli_print_placement(s, stdout);
        printf("time: setup %.1f ms (bind %.1f ms, plan + prepare %.1f ms), run %.3f ms%s\n", info.setup_seconds * 1e3,
               info.bind_seconds * 1e3, (info.setup_seconds - info.bind_seconds) * 1e3,
               t_total / (repeat > 1 ? repeat - 1 : 1) * 1e3, repeat > 1 ? " (mean of warm runs)" : "");
    }
    if (explain && hcg_session_explain(s, stdout)) {
        fprintf(stderr, "hcg run: %s\n", hcg_last_error());
        goto done;
    }
    if (out_dir && hcg_make_dirs(out_dir)) { /* before the trace, which may go there */
        fprintf(stderr, "hcg run: %s\n", hcg_last_error());
        goto done;
    }
    if (trace && hcg_session_write_trace(s, trace)) {
        fprintf(stderr, "hcg run: %s\n", hcg_last_error());
        goto done;
    }
    if (out_dir && run_outputs_write(&files, g, outputs, model)) {
        fprintf(stderr, "hcg run: %s\n", hcg_last_error());
        goto done;
    }
    for (int j = 0; j < n_out && !quiet; j++) {
        char type[256], sum[256];
        const hcg_tensor *t = outputs[j];
        hcg_shape_format(&t->shape, type, sizeof type);
        summarize(t, sum, sizeof sum);
        printf("%s: %s%s%s%s (%s)\n", hcg_graph_output_name(g, j), hcg_dtype_name(t->dtype), type, out_dir ? " -> " : "",
               out_dir ? run_outputs_path(&files, j) : "", sum);
    }
    rc = 0;
done:
    run_outputs_free(&files);
    if (outputs)
        for (int j = 0; j < n_out; j++) hcg_tensor_free(outputs[j]);
    free(outputs);
    for (int i = 0; i < n_in && i < MAX_INPUTS; i++) hcg_tensor_free(inputs[i]);
    hcg_session_free(s);
    hcg_graph_free(g);
    return rc;
}
