/* cmd_quantize.c — `hcg quantize IN OUT --weights f16|int8 [--group G] [--scales f32|f16]
 * [--skip PATTERN]... [--only PATTERN]...`: reads a .hcg or ONNX model, stores its weights small
 * (graph/quantize.c) and writes OUT (.hcg) with OUT's .safetensors beside it (both atomically);
 * prints each weight quantized or kept (and why), the weight bytes and the file sizes before and
 * after. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const char cmd_quantize_usage[] =
    "usage: hcg quantize IN OUT.hcg --weights f16|int8 [--group G] [--scales f32|f16] [--activations int8]\n"
    "                    [--skip PATTERN]... [--only PATTERN]... [--min-elements N]\n\n"
    "  Reads a model (.hcg or .onnx) and writes OUT.hcg and OUT.safetensors with its weights stored\n"
    "  small: every matrix a product reads as its b (matmul) or a gather reads rows of (an embedding\n"
    "  table), of at least N elements (default 1024). The model computes as before, in f32: the\n"
    "  rewrite passes fold the widening into the product or gather that reads each weight.\n"
    "  --weights f16       IEEE half precision\n"
    "  --weights int8      symmetric int8 (-127..127) with a scale per output column (or row)\n"
    "  --group G           int8: a scale per G elements along K instead (G must divide every K)\n"
    "  --scales f32|f16    the int8 scales' dtype (default f32)\n"
    "  --activations int8  int8 weights: the products also quantize their inputs, a row at a time, and\n"
    "                      sum in int32 (faster on CPUs with VNNI; less exact; the cpu device only)\n"
    "  --skip PATTERN      keep the weights whose names (or weights-file keys) match (fnmatch)\n"
    "  --only PATTERN      quantize only the weights that match; each must match one that can be\n"
    "  --min-elements N    keep weights smaller than N elements\n"
    "  Prints every weight quantized or kept (with why), and the bytes and file sizes before and after.\n"
    "  Quantized models are for inference: hcg train refuses them.\n";

static double mib(double b) { return b / (1024.0 * 1024.0); }

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* The bytes of the model's files: the graph file and the distinct weights files its params name
 * (relative to the graph's folder). */
static long long model_files_size(const hcg_graph *g, const char *path, int *n_files)
{
    long long total = file_size(path);
    *n_files = 1;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    const char *d = dirname(dir);
    for (int i = 0; i < hcg_graph_num_nodes(g); i++) {
        const char *f = hcg_graph_node_weight_file(g, i);
        bool seen = !f;
        for (int j = 0; j < i && !seen; j++) {
            const char *fj = hcg_graph_node_weight_file(g, j);
            seen = fj && strcmp(fj, f) == 0;
        }
        if (seen) continue;
        char p[PATH_MAX * 2];
        snprintf(p, sizeof p, f[0] == '/' ? "%s" : "%s/%s", f[0] == '/' ? f : d, f);
        long long s = file_size(p);
        if (s > 0) {
            total += s;
            (*n_files)++;
        }
    }
    return total;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int cmd_quantize(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *v = NULL, *skip[64], *only[64];
    int n_pos = 0;
    hcg_quantize_options o = {.scale_dtype = HCG_F32, .skip = skip, .only = only};
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--weights", &v)) {
            if (v && strcmp(v, "f16") == 0) o.weights = HCG_WEIGHTS_F16;
            else if (v && strcmp(v, "int8") == 0) o.weights = HCG_WEIGHTS_INT8;
            else return cli_fail("quantize", "--weights must be f16 or int8, got '%s'", v ? v : "");
        } else if (cli_opt(argc, argv, &i, "--group", &v)) {
            char *end = NULL;
            long long gsz = v ? strtoll(v, &end, 10) : 0;
            if (!v || !*v || *end || gsz < 1) return cli_fail("quantize", "--group must be a positive integer, got '%s'", v ? v : "");
            o.group = gsz;
        } else if (cli_opt(argc, argv, &i, "--scales", &v)) {
            if (!v || (!hcg_dtype_parse(v, &o.scale_dtype)) || (o.scale_dtype != HCG_F32 && o.scale_dtype != HCG_F16))
                return cli_fail("quantize", "--scales must be f32 or f16, got '%s'", v ? v : "");
        } else if (cli_opt(argc, argv, &i, "--skip", &v)) {
            if (!v || o.n_skip == 64) return cli_fail("quantize", v ? "too many --skip patterns (64)" : "--skip needs a pattern");
            skip[o.n_skip++] = v;
        } else if (cli_opt(argc, argv, &i, "--only", &v)) {
            if (!v || o.n_only == 64) return cli_fail("quantize", v ? "too many --only patterns (64)" : "--only needs a pattern");
            only[o.n_only++] = v;
        } else if (cli_opt(argc, argv, &i, "--activations", &v)) {
            if (!v || (strcmp(v, "int8") != 0 && strcmp(v, "f32") != 0))
                return cli_fail("quantize", "--activations must be f32 or int8, got '%s'", v ? v : "");
            o.int8_activations = strcmp(v, "int8") == 0;
        } else if (cli_opt(argc, argv, &i, "--min-elements", &v)) {
            char *end = NULL;
            long long m = v ? strtoll(v, &end, 10) : 0;
            if (!v || !*v || *end || m < 1) return cli_fail("quantize", "--min-elements must be a positive integer");
            o.min_elements = m;
        } else if (argv[i][0] == '-') {
            return cli_fail("quantize", "unknown option '%s' (hcg quantize --help)", argv[i]);
        } else if (n_pos < 2) {
            pos[n_pos++] = argv[i];
        } else {
            return cli_fail("quantize", "one model in, one out (hcg quantize --help)");
        }
    }
    if (n_pos != 2 || !o.weights)
        return cli_fail("quantize", "usage: hcg quantize IN OUT.hcg --weights f16|int8 [options] (hcg quantize --help)");
    if (!ends_with(pos[1], ".hcg"))
        return cli_fail("quantize", "OUT must be a .hcg file (its weights go to the .safetensors beside it), got '%s'",
                        pos[1]);
    hcg_graph *g = NULL, *q = NULL;
    hcg_quantize_report r = {0};
    if (hcg_load(pos[0], &g)) return cli_fail("quantize", "%s", hcg_last_error());
    int rc = 1;
    if (hcg_quantize_graph(g, &o, &q, &r)) {
        cli_fail("quantize", "%s: %s", pos[0], hcg_last_error());
        goto done;
    }
    if (hcg_save(q, pos[1])) {
        cli_fail("quantize", "writing %s: %s", pos[1], hcg_last_error());
        goto done;
    }
    int n_quantized = 0, n_files = 0;
    for (int i = 0; i < r.n; i++) {
        const hcg_quantize_entry *e = &r.entries[i];
        char shape[128];
        hcg_shape_format(&e->shape, shape, sizeof shape);
        if (e->quantized)
            printf("quantized %-40s %s%s %10zu B -> %9zu B  %s\n", e->name, hcg_dtype_name(e->dtype), shape,
                   e->bytes_before, e->bytes_after, e->how);
        else
            printf("kept      %-40s %s%s %10zu B  %s\n", e->name, hcg_dtype_name(e->dtype), shape, e->bytes_before,
                   e->how);
        n_quantized += e->quantized;
    }
    long long before = model_files_size(g, pos[0], &n_files);
    char out_weights[PATH_MAX];
    snprintf(out_weights, sizeof out_weights, "%.*s.safetensors", (int)(strlen(pos[1]) - 4), pos[1]);
    long long after = file_size(pos[1]) + (file_size(out_weights) > 0 ? file_size(out_weights) : 0);
    printf("weights: %.2f MiB -> %.2f MiB (%.2fx smaller), %d weights quantized\n", mib((double)r.weights_before),
           mib((double)r.weights_after), r.weights_after ? (double)r.weights_before / (double)r.weights_after : 0.0,
           n_quantized);
    printf("files: %s (%d file%s) %.2f MiB -> %s + %s %.2f MiB\n", pos[0], n_files, n_files == 1 ? "" : "s",
           mib((double)before), pos[1], out_weights, mib((double)after));
    rc = 0;
done:
    hcg_quantize_report_free(&r);
    hcg_graph_free(q);
    hcg_graph_free(g);
    return rc;
}
