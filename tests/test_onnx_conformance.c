/* test_onnx_conformance.c — runs the ONNX backend node tests (Debian's libonnx-testdata:
 * data/node/<test>/model.onnx with test_data_set_N/input_N.pb and output_N.pb) through hcg on the
 * CPU and on every OpenCL device, and compares with the suite's expected outputs (rtol 1e-3,
 * atol 1e-7, the suite's own tolerance). Prints per op type: passed, failed, unsupported. A test
 * whose model hcg cannot map (an op, dtype or attribute value hcg lacks: HCG_ERR_UNSUPPORTED at
 * load) counts as unsupported; anything else that goes wrong is a failure, and any failure fails
 * the test program. The per-op table counts a test under every op type in its model, except
 * that a test made unsupported by an op hcg does not map is counted under that op only.
 *
 * The suite feeds some attribute-like values as graph inputs (a Reshape's shape, a Slice's
 * starts): hcg needs those constant once shapes are bound, so such inputs are loaded as
 * constants holding the data set's values (hcg_onnx_options.frozen_*).
 *
 * Usage: test_onnx_conformance [-v] [FILTER]   (FILTER: a substring of the test names)
 * Environment: HCG_ONNX_NODE_TESTS (default /usr/share/libonnx-testdata/data/node),
 *              HCG_CONFORMANCE_DEVICES (a comma list; default "cpu" plus every OpenCL device). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/onnx/onnx.h"
#include "onnx.pb-c.h"
#include "testlib.h"

#define MAX_IO 32
#define MAX_DEVICES 16
#define DEFAULT_ROOT "/usr/share/libonnx-testdata/data/node"

static bool verbose;

/* ---------------------------------------------------------------- per-op tallies */

typedef struct op_tally {
    char name[64];
    int passed, failed, unsupported;
} op_tally;

static op_tally tallies[512];
static int n_tallies;

static op_tally *tally(const char *op)
{
    for (int i = 0; i < n_tallies; i++)
        if (strcmp(tallies[i].name, op) == 0) return &tallies[i];
    if (n_tallies == (int)(sizeof tallies / sizeof tallies[0])) return &tallies[n_tallies - 1];
    op_tally *t = &tallies[n_tallies++];
    snprintf(t->name, sizeof t->name, "%s", op);
    return t;
}

static int cmp_tally(const void *a, const void *b)
{
    return strcmp(((const op_tally *)a)->name, ((const op_tally *)b)->name);
}

/* ---------------------------------------------------------------- tolerances */

/* The suite's default tolerance, and the ops that need another (none so far: every entry here
 * must say why). */
static const double default_rtol = 1e-3, default_atol = 1e-7;

/* ---------------------------------------------------------------- comparing */

static bool compare(const hcg_tensor *got, const hcg_tensor *want, char *why, size_t len)
{
    char a[128], b[128];
    hcg_shape_format(&got->shape, a, sizeof a);
    hcg_shape_format(&want->shape, b, sizeof b);
    if (got->dtype != want->dtype || !hcg_shape_equal(&got->shape, &want->shape)) {
        snprintf(why, len, "got %s%s, want %s%s", hcg_dtype_name(got->dtype), a, hcg_dtype_name(want->dtype), b);
        return false;
    }
    int64_t n = 0;
    hcg_shape_numel(&want->shape, &n);
    int64_t bad = 0, worst = -1;
    double worst_excess = -1;
    for (int64_t i = 0; i < n; i++) {
        bool ok;
        double excess = 0;
        if (want->dtype == HCG_I64) {
            ok = ((const int64_t *)got->data)[i] == ((const int64_t *)want->data)[i];
            excess = ok ? 0 : 1;
        } else {
            double g = tl_get(got, (long)i), w = tl_get(want, (long)i);
            if (want->dtype != HCG_F32 && want->dtype != HCG_F16) {
                ok = g == w;
                excess = fabs(g - w);
            } else if (isnan(w) || isnan(g)) {
                ok = isnan(w) && isnan(g);
                excess = INFINITY;
            } else if (isinf(w) || isinf(g)) {
                ok = g == w;
                excess = INFINITY;
            } else {
                double lim = default_atol + default_rtol * fabs(w);
                excess = fabs(g - w) - lim;
                ok = excess <= 0;
            }
        }
        if (!ok) {
            bad++;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = i;
            }
        }
    }
    if (!bad) return true;
    snprintf(why, len, "%lld of %lld elements differ; worst at %lld: got %.9g, want %.9g", (long long)bad,
             (long long)n, (long long)worst, tl_get(got, (long)worst), tl_get(want, (long)worst));
    return false;
}

/* ---------------------------------------------------------------- one test */

typedef struct model_info {
    Onnx__ModelProto *m;
    const char *inputs[MAX_IO]; /* graph inputs that are not initializers, in order */
    int n_inputs;
    const char *ops[64]; /* distinct op types */
    int n_ops;
} model_info;

static bool is_initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0) return true;
    return false;
}

static bool read_model(const char *path, model_info *mi)
{
    size_t len;
    char *buf = tl_read_file(path, &len);
    memset(mi, 0, sizeof *mi);
    if (!buf) return false;
    mi->m = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
    free(buf);
    if (!mi->m || !mi->m->graph) return false;
    const Onnx__GraphProto *g = mi->m->graph;
    for (size_t i = 0; i < g->n_input && mi->n_inputs < MAX_IO; i++)
        if (!is_initializer(g, g->input[i]->name)) mi->inputs[mi->n_inputs++] = g->input[i]->name;
    for (size_t i = 0; i < g->n_node; i++) {
        const char *op = g->node[i]->op_type;
        bool seen = false;
        for (int k = 0; k < mi->n_ops && !seen; k++) seen = strcmp(mi->ops[k], op) == 0;
        if (!seen && mi->n_ops < 64) mi->ops[mi->n_ops++] = op;
    }
    return true;
}

/* True if graph input `name` feeds an attribute-like input of some node. */
static bool feeds_attribute(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0) continue;
        for (size_t k = 0; k < n->n_input; k++)
            if (strcmp(n->input[k], name) == 0 && hcg_onnx_is_attr_input(n->op_type, (int)k)) return true;
    }
    return false;
}

typedef enum { R_PASS, R_FAIL, R_UNSUPPORTED } result;

typedef struct data_set {
    hcg_tensor *in[MAX_IO], *out[MAX_IO];
    int n_in, n_out;
} data_set;

static void free_data_set(data_set *ds)
{
    for (int i = 0; i < ds->n_in; i++) hcg_tensor_free(ds->in[i]);
    for (int i = 0; i < ds->n_out; i++) hcg_tensor_free(ds->out[i]);
    memset(ds, 0, sizeof *ds);
}

/* Reads input_N.pb / output_N.pb of one data set. UNSUPPORTED if a tensor's dtype is not hcg's. */
static result read_data_set(const char *dir, data_set *ds, char *why, size_t len)
{
    char path[1200];
    memset(ds, 0, sizeof *ds);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < MAX_IO; i++) {
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s_%d.pb", dir, pass ? "output" : "input", i);
            if (stat(path, &sb) != 0) break;
            hcg_tensor *t;
            hcg_status st = hcg_onnx_read_tensor(path, &t, NULL);
            if (st) {
                snprintf(why, len, "%s", hcg_last_error());
                return st == HCG_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
            }
            if (pass) ds->out[ds->n_out++] = t;
            else ds->in[ds->n_in++] = t;
        }
    }
    return R_PASS;
}

static result run_data_set(const char *model_path, const model_info *mi, const data_set *ds, char **devices,
                           int n_devices, char *why, size_t len)
{
    const Onnx__GraphProto *gp = mi->m->graph;
    if (ds->n_in != mi->n_inputs) {
        snprintf(why, len, "the data set has %d inputs, the model %d", ds->n_in, mi->n_inputs);
        return R_FAIL;
    }
    const char *frozen_names[MAX_IO];
    const hcg_tensor *frozen_values[MAX_IO];
    int n_frozen = 0;
    for (int i = 0; i < mi->n_inputs; i++) {
        if (!feeds_attribute(gp, mi->inputs[i])) continue;
        frozen_names[n_frozen] = mi->inputs[i];
        frozen_values[n_frozen++] = ds->in[i];
    }
    hcg_onnx_options opt = {.n_frozen = n_frozen, .frozen_names = frozen_names, .frozen_values = frozen_values};
    hcg_graph *g = NULL;
    hcg_status st = hcg_onnx_load_ex(model_path, &opt, &g);
    if (st) {
        snprintf(why, len, "load: %s", hcg_last_error());
        return st == HCG_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
    }
    /* The hcg graph's inputs are the model's non-frozen inputs, in the model's order. */
    const hcg_tensor *inputs[MAX_IO];
    int n = hcg_graph_num_inputs(g);
    for (int i = 0; i < n; i++) {
        const char *name = hcg_graph_input_name(g, i);
        inputs[i] = NULL;
        for (int k = 0; k < mi->n_inputs; k++)
            if (strcmp(mi->inputs[k], name) == 0) inputs[i] = ds->in[k];
    }
    if (hcg_graph_num_outputs(g) != ds->n_out) {
        snprintf(why, len, "the graph has %d outputs, the data set %d", hcg_graph_num_outputs(g), ds->n_out);
        hcg_graph_free(g);
        return R_FAIL;
    }
    result r = R_PASS;
    for (int d = 0; d < n_devices && r == R_PASS; d++) {
        hcg_session *s = NULL;
        hcg_session_options so = {.devices = devices[d]};
        hcg_tensor *outs[MAX_IO] = {NULL};
        st = hcg_session_new(g, &so, &s);
        if (!st) st = hcg_session_run(s, inputs, outs);
        if (st) {
            snprintf(why, len, "[%s] %s: %s", devices[d], hcg_status_name(st), hcg_last_error());
            r = R_FAIL;
        }
        for (int o = 0; o < ds->n_out && r == R_PASS; o++) {
            char detail[512];
            if (!compare(outs[o], ds->out[o], detail, sizeof detail)) {
                snprintf(why, len, "[%s] output '%s': %s", devices[d], hcg_graph_output_name(g, o), detail);
                r = R_FAIL;
            }
        }
        for (int o = 0; o < ds->n_out; o++) hcg_tensor_free(outs[o]);
        hcg_session_free(s);
    }
    hcg_graph_free(g);
    return r;
}

static result run_test(const char *root, const char *name, char **devices, int n_devices, model_info *mi,
                       char *why, size_t len)
{
    char model[1024], dir[1100];
    snprintf(model, sizeof model, "%s/%s/model.onnx", root, name);
    if (!read_model(model, mi)) {
        snprintf(why, len, "cannot decode %s", model);
        return R_FAIL;
    }
    /* Loaded without the data set's values first, so that a data set with a dtype hcg lacks
     * is reported with the model's own reason when there is one. */
    char probe_why[1024] = "";
    hcg_graph *probe = NULL;
    hcg_status st = hcg_onnx_load(model, &probe);
    hcg_graph_free(probe);
    if (st == HCG_ERR_UNSUPPORTED) snprintf(probe_why, sizeof probe_why, "load: %s", hcg_last_error());
    result r = R_PASS;
    int sets = 0;
    for (int k = 0; r == R_PASS; k++) {
        struct stat sb;
        snprintf(dir, sizeof dir, "%s/%s/test_data_set_%d", root, name, k);
        if (stat(dir, &sb) != 0) break;
        data_set ds;
        r = read_data_set(dir, &ds, why, len);
        /* A model hcg cannot map is unsupported whatever its data (which may not even be tensors:
         * the sequence and optional tests' .pb files are other messages). */
        if (r != R_PASS && *probe_why) {
            snprintf(why, len, "%s", probe_why);
            r = R_UNSUPPORTED;
        }
        if (r == R_PASS) r = run_data_set(model, mi, &ds, devices, n_devices, why, len);
        free_data_set(&ds);
        sets++;
    }
    if (r == R_PASS && sets == 0) {
        snprintf(why, len, "no test_data_set_*");
        return R_FAIL;
    }
    return r;
}

/* ---------------------------------------------------------------- main */

static int select_devices(char **names, char *storage, size_t storage_len)
{
    const char *env = getenv("HCG_CONFORMANCE_DEVICES");
    int n = 0;
    if (env && *env) {
        snprintf(storage, storage_len, "%s", env);
        for (char *tok = strtok(storage, ","); tok && n < MAX_DEVICES; tok = strtok(NULL, ",")) names[n++] = tok;
        return n;
    }
    names[n++] = "cpu";
    hcg_device *devs[MAX_DEVICES];
    int n_cl = 0;
    if (hcg_devices_select("opencl", devs, MAX_DEVICES - 1, &n_cl) != HCG_OK) n_cl = 0;
    for (int i = 0; i < n_cl; i++) names[n++] = (char *)hcg_device_name(devs[i]);
    return n;
}

static int only_tests(const struct dirent *e) { return strncmp(e->d_name, "test_", 5) == 0; }

int main(int argc, char **argv)
{
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) verbose = true;
        else filter = argv[i];
    }
    const char *root = getenv("HCG_ONNX_NODE_TESTS");
    if (!root || !*root) root = DEFAULT_ROOT;
    struct dirent **entries;
    int n_entries = scandir(root, &entries, only_tests, alphasort);
    if (n_entries < 0) {
        printf("SKIP: no ONNX node tests at %s (Debian: apt-get install libonnx-testdata)\n", root);
        return 0;
    }
    char *devices[MAX_DEVICES], storage[1024];
    int n_devices = select_devices(devices, storage, sizeof storage);
    printf("devices:");
    for (int d = 0; d < n_devices; d++) printf(" %s", devices[d]);
    printf("\n");

    int passed = 0, failed = 0, unsupported = 0;
    for (int e = 0; e < n_entries; e++) {
        const char *name = entries[e]->d_name;
        if (filter && !strstr(name, filter)) continue;
        model_info mi;
        char why[2048] = "";
        result r = run_test(root, name, devices, n_devices, &mi, why, sizeof why);
        if (mi.n_ops == 0) mi.ops[mi.n_ops++] = "(no nodes)";
        /* A test with ops hcg does not map is unsupported because of those ops: only they are
         * charged with it. */
        bool has_unmapped = false;
        for (int k = 0; k < mi.n_ops; k++) has_unmapped |= !hcg_onnx_op_mapped(mi.ops[k]);
        for (int k = 0; k < mi.n_ops; k++) {
            if (r == R_UNSUPPORTED && has_unmapped && hcg_onnx_op_mapped(mi.ops[k])) continue;
            op_tally *t = tally(mi.ops[k]);
            if (r == R_PASS) t->passed++;
            else if (r == R_FAIL) t->failed++;
            else t->unsupported++;
        }
        if (r == R_PASS) passed++;
        else if (r == R_FAIL) failed++;
        else unsupported++;
        if (r == R_FAIL) printf("FAIL %s: %s\n", name, why);
        else if (verbose) printf("%s %s%s%s\n", r == R_PASS ? "pass" : "unsupported", name, *why ? ": " : "", why);
        if (mi.m) protobuf_c_message_free_unpacked(&mi.m->base, NULL);
    }
    for (int e = 0; e < n_entries; e++) free(entries[e]);
    free(entries);

    qsort(tallies, (size_t)n_tallies, sizeof tallies[0], cmp_tally);
    printf("\n%-28s %7s %7s %12s\n", "op", "passed", "failed", "unsupported");
    for (int i = 0; i < n_tallies; i++) {
        const op_tally *t = &tallies[i];
        if (!verbose && t->passed == 0 && t->failed == 0) continue; /* ops hcg does not map */
        printf("%-28s %7d %7d %12d\n", t->name, t->passed, t->failed, t->unsupported);
    }
    printf("\nONNX tests in %s: %d passed, %d failed, %d unsupported (of %d) on", root, passed, failed, unsupported,
           passed + failed + unsupported);
    for (int d = 0; d < n_devices; d++) printf(" %s", devices[d]);
    printf("\n");
    CHECK(failed == 0, "%d ONNX node tests failed", failed);
    CHECK(passed > 0 || filter, "no ONNX node test passed");
    return tl_finish();
}
