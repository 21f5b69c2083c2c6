/* test_text_format.c — the .hcg text format: a graph that uses every statement parsed and its
 * structure checked through the API (weights against tests/data/formats/make_format_files.py's
 * formulas); state declarations; every class of syntax and semantic error reported at its exact
 * file:line:column;
 * weights paths that leave the graph's folder refused; hcg_save round trips (same nodes,
 * attributes, bytes) and a saved model computing PyTorch's reference output; and a few thousand
 * mutated files that must load or fail cleanly. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/bind.h"
#include "graph/graph.h"
#include "graph/op_table.h"
#include "graph/safetensors.h"
#include "graph/text_format.h"
#include "testlib.h"

/* ---------------------------------------------------------------- helpers */

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!CHECK(f != NULL, "cannot write %s: %s", path, strerror(errno))) return;
    CHECK(fwrite(data, 1, n, f) == n, "short write to %s", path);
    fclose(f);
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

/* Copies tests/data/formats/text/<name> into dir. */
static void copy_weights(const char *dir, const char *name)
{
    char rel[256], dst[512];
    size_t n = 0;
    snprintf(rel, sizeof rel, "tests/data/formats/text/%s", name);
    char *data = tl_read_file(tl_src(rel), &n);
    if (!CHECK(data != NULL, "missing %s", rel)) return;
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    write_file(dst, data, n);
    free(data);
}

/* A fresh folder under the test's temporary folder, with the test weights in it. */
static const char *make_dir(const char *name)
{
    static char buf[4][512];
    static int k;
    char *d = buf[k++ % 4];
    snprintf(d, 512, "%s/%s", tl_tmpdir(), name);
    mkdir(d, 0755);
    copy_weights(d, "weights.safetensors");
    copy_weights(d, "other.safetensors");
    copy_weights(d, "truncated.safetensors");
    return d;
}

static const char *weights_dir(void)
{
    static const char *d;
    if (!d) d = make_dir("w");
    return d;
}

static const hcg_node *node(const hcg_graph *g, const char *name)
{
    hcg_id id = hcg_graph_find(g, name);
    CHECK(id >= 0, "no node named '%s'", name);
    return id >= 0 ? &g->nodes[id] : NULL;
}

static const char *sym_name(const hcg_graph *g, int64_t d)
{
    return HCG_DIM_IS_SYM(d) && HCG_SYM_BASE - d < g->n_syms ? g->syms[HCG_DIM_SYM_ID(d)] : NULL;
}

/* ---------------------------------------------------------------- a graph using every statement */

static const char *full_graph =
    "# every statement the format has\n"
    "hcg 1\n"
    "weights \"weights.safetensors\"\n"
    "\n"
    "input x: f32[B, S, 4]\n"
    "input ids: i64[B]   # trailing comment\n"
    "param w1: f32[4, 8]\n"
    "param bias: f32[8] = \"b1\"\n"
    "param scale: f32[8] = \"enc.layer0.scale\" @cpu\n"
    "param w2: f16[8, 2] from \"other.safetensors\"\n"
    "const c: f32[2] = [1.5, 2]\n"
    "const eps: f32[] = 1e-5\n"
    "const m: f32[2, 2] = [[1, -2],\n"
    "                      [3, -inf]]\n"
    "const flags: bool[3] = [true, false, 1]\n"
    "const table: f32[300] = \"table\"\n"
    "const k: i32[2] = [-2147483648, 7]\n"
    "const nothing: u8[0] = []\n"
    "\n"
    "h = matmul(x, w1, transpose_b=false)\n"
    "hb = add(h, bias)\n"
    "a, b = split(hb, axis=-1, sizes=[4, 4])\n"
    "p, q = split(hb, axis=-1)\n"
    "r = reshape(a, shape=[B, S, 2, 2])\n"
    "n = range(limit=S, delta=2)\n"
    "y = softmax(r, axis=-1) @opencl:0\n"
    "g = gelu(hb, approximate=tanh)\n"
    "cst = cast(ids, to=\"f32\")\n"
    "cl = clip(hb, min=-inf, max=6)\n"
    "ln = layer_norm(hb, scale, axis=-1, epsilon=eps_val)\n"
    "t = transpose(\n"
    "    r,\n"
    "    perm=[0, 2, 1, 3],\n"
    ")\n"
    "\"odd name\" = relu(y) @\"cpu\"\n"
    "input = neg(hb)\n"
    "output y\n"
    "output logits = hb, \"odd name\"\n";

static void test_full_graph(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/full.hcg", weights_dir());
    write_text(path, full_graph);
    hcg_graph *g = NULL;
    if (!CHECK_OK(hcg_load(path, &g))) return;
    const hcg_node *n;

    CHECK(hcg_graph_num_inputs(g) == 2 && strcmp(hcg_graph_input_name(g, 0), "x") == 0 &&
              strcmp(hcg_graph_input_name(g, 1), "ids") == 0,
          "inputs x, ids in order");
    CHECK(hcg_graph_num_outputs(g) == 3, "three outputs");
    if (hcg_graph_num_outputs(g) == 3) {
        CHECK(strcmp(hcg_graph_output_name(g, 0), "y") == 0 && g->outputs[0] == hcg_graph_find(g, "y"), "output y");
        CHECK(strcmp(hcg_graph_output_name(g, 1), "logits") == 0 && g->outputs[1] == hcg_graph_find(g, "hb"),
              "output logits = hb");
        CHECK(strcmp(hcg_graph_output_name(g, 2), "odd name") == 0, "quoted output name");
    }
    CHECK(strcmp(g->path, path) == 0, "g->path is the path as given");

    if ((n = node(g, "x"))) {
        CHECK(n->op == HCG_OP_INPUT && n->dtype == HCG_F32 && n->shape.rank == 3, "x: f32 rank 3");
        CHECK(sym_name(g, n->shape.dims[0]) && strcmp(sym_name(g, n->shape.dims[0]), "B") == 0 &&
                  sym_name(g, n->shape.dims[1]) && strcmp(sym_name(g, n->shape.dims[1]), "S") == 0 &&
                  n->shape.dims[2] == 4,
              "x: [B, S, 4]");
        CHECK(n->line == 5 && n->col == 7, "x defined at 5:7, got %d:%d", n->line, n->col);
    }
    if ((n = node(g, "ids"))) CHECK(n->dtype == HCG_I64 && n->shape.dims[0] == hcg_sym(g, "B"), "ids: i64[B]");

    /* Params: values from weights.safetensors (w1 = arange(32).reshape(4, 8) / 8, b1 = -arange(8)). */
    if ((n = node(g, "w1")) && CHECK(n->op == HCG_OP_PARAM && n->value, "w1 is a param with a value")) {
        CHECK(n->value->dtype == HCG_F32 && n->value->shape.rank == 2 && n->value->shape.dims[0] == 4 &&
                  n->value->shape.dims[1] == 8,
              "w1: f32[4, 8]");
        CHECK(!n->value->owns_data, "w1 borrows the mapped file");
        for (int i = 0; i < 32; i++) CHECK(((float *)n->value->data)[i] == (float)i / 8, "w1[%d]", i);
        CHECK(n->weight_key && strcmp(n->weight_key, "w1") == 0 && n->weight_file &&
                  strcmp(n->weight_file, "weights.safetensors") == 0,
              "w1: weight_key/file");
    }
    if ((n = node(g, "bias")) && n->value) {
        for (int i = 0; i < 8; i++) CHECK(((float *)n->value->data)[i] == -(float)i, "bias[%d] = -%d", i, i);
        CHECK(n->weight_key && strcmp(n->weight_key, "b1") == 0, "bias: weight_key b1");
    }
    if ((n = node(g, "scale"))) {
        CHECK(n->value && ((float *)n->value->data)[3] == 2.0f, "scale from enc.layer0.scale");
        CHECK(n->pin && strcmp(n->pin, "cpu") == 0, "scale pinned to cpu");
    }
    if ((n = node(g, "w2")) && n->value) {
        CHECK(n->value->dtype == HCG_F16 && ((uint16_t *)n->value->data)[5] == 0x3c00, "w2: f16 ones from other file");
        CHECK(n->weight_file && strcmp(n->weight_file, "other.safetensors") == 0, "w2: weight_file");
    }

    /* Constants. */
    if ((n = node(g, "c")) && n->value)
        CHECK(n->op == HCG_OP_CONSTANT && ((float *)n->value->data)[0] == 1.5f && ((float *)n->value->data)[1] == 2.0f,
              "c = [1.5, 2]");
    if ((n = node(g, "eps")) && n->value) CHECK(n->value->shape.rank == 0 && ((float *)n->value->data)[0] == 1e-5f, "eps");
    if ((n = node(g, "m")) && n->value) {
        const float *v = n->value->data;
        CHECK(v[0] == 1 && v[1] == -2 && v[2] == 3 && isinf(v[3]) && v[3] < 0, "m = [[1, -2], [3, -inf]]");
    }
    if ((n = node(g, "flags")) && n->value) {
        const uint8_t *v = n->value->data;
        CHECK(n->value->dtype == HCG_BOOL && v[0] == 1 && v[1] == 0 && v[2] == 1, "flags");
    }
    if ((n = node(g, "table")) && n->value) {
        CHECK(n->value->shape.dims[0] == 300 && ((float *)n->value->data)[299] == 149.5f, "table from the weights file");
        CHECK(n->weight_key && strcmp(n->weight_key, "table") == 0, "table: weight_key");
    }
    if ((n = node(g, "k")) && n->value)
        CHECK(((int32_t *)n->value->data)[0] == INT32_MIN && ((int32_t *)n->value->data)[1] == 7, "k: i32 extremes");
    if ((n = node(g, "nothing")) && n->value) CHECK(n->value->nbytes == 0 && n->value->shape.dims[0] == 0, "empty const");

    /* Nodes. */
    if ((n = node(g, "h"))) {
        CHECK(n->op == HCG_OP_MATMUL && n->n_inputs == 2 && n->inputs[0] == hcg_graph_find(g, "x") &&
                  n->inputs[1] == hcg_graph_find(g, "w1"),
              "h = matmul(x, w1)");
        CHECK(hcg_attr_get(n, "transpose_b")->set && hcg_attr_int(n, "transpose_b") == 0, "transpose_b=false set to 0");
        CHECK(!hcg_attr_get(n, "transpose_a")->set, "transpose_a left at its default");
        CHECK(n->shape.rank == -1, "op nodes have no shape before binding");
        CHECK(n->line == 20 && n->col == 1, "h at 20:1, got %d:%d", n->line, n->col);
    }
    const hcg_node *a = node(g, "a"), *b = node(g, "b");
    if (a && b) {
        int cnt;
        const int64_t *sizes = hcg_attr_ints(a, "sizes", &cnt);
        CHECK(a->op == HCG_OP_SPLIT && hcg_attr_int(a, "index") == 0 && hcg_attr_int(b, "index") == 1, "a, b = split: index");
        CHECK(cnt == 2 && sizes[0] == 4 && sizes[1] == 4 && hcg_attr_int(a, "axis") == -1, "split sizes and axis");
        CHECK(b->line == 22 && b->col == 4, "b at 22:4, got %d:%d", b->line, b->col);
    }
    if ((n = node(g, "q")))
        CHECK(hcg_attr_get(n, "parts")->set && hcg_attr_int(n, "parts") == 2 && hcg_attr_int(n, "index") == 1,
              "p, q = split(...) implies parts=2");
    if ((n = node(g, "r"))) {
        int cnt;
        const int64_t *s = hcg_attr_ints(n, "shape", &cnt);
        CHECK(cnt == 4 && s[0] == hcg_sym(g, "B") && s[1] == hcg_sym(g, "S") && s[2] == 2 && s[3] == 2,
              "reshape shape=[B, S, 2, 2] holds symbols");
    }
    if ((n = node(g, "n")))
        CHECK(hcg_attr_float(n, "limit") == (double)hcg_sym(g, "S") && hcg_attr_float(n, "delta") == 2.0,
              "range(limit=S): the float attribute holds the symbol");
    if ((n = node(g, "y"))) CHECK(n->pin && strcmp(n->pin, "opencl:0") == 0 && hcg_attr_int(n, "axis") == -1, "y pinned");
    if ((n = node(g, "g"))) CHECK(strcmp(hcg_attr_string(n, "approximate"), "tanh") == 0, "approximate=tanh");
    if ((n = node(g, "cst"))) CHECK(strcmp(hcg_attr_string(n, "to"), "f32") == 0, "to=\"f32\"");
    if ((n = node(g, "cl"))) CHECK(isinf(hcg_attr_float(n, "min")) && hcg_attr_float(n, "max") == 6.0, "clip min=-inf");
    if ((n = node(g, "ln")))
        CHECK(hcg_attr_float(n, "epsilon") == (double)hcg_sym(g, "eps_val"), "a bare name in a float attribute is a symbol");
    if ((n = node(g, "t"))) {
        int cnt;
        const int64_t *perm = hcg_attr_ints(n, "perm", &cnt);
        CHECK(cnt == 4 && perm[1] == 2 && n->line == 31, "multi-line call with trailing comma");
    }
    if ((n = node(g, "odd name"))) CHECK(n->op == HCG_OP_RELU && n->pin && strcmp(n->pin, "cpu") == 0, "quoted node name");
    if ((n = node(g, "input"))) CHECK(n->op == HCG_OP_NEG, "a node may be called input");
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- errors at file:line:column */

typedef struct error_case {
    const char *src;
    hcg_status status;
    const char *where; /* "line:col" */
    const char *needle;
} error_case;

/* Parses src as t.hcg in the weights folder and checks the failure's status, position and text. */
static void check_error(const error_case *c)
{
    hcg_graph *g = (hcg_graph *)1;
    hcg_status st = hcg_text_parse(c->src, strlen(c->src), "t.hcg", weights_dir(), &g);
    char want[128];
    snprintf(want, sizeof want, "t.hcg:%s: ", c->where);
    const char *msg = hcg_last_error();
    bool ok = st == c->status && strncmp(msg, want, strlen(want)) == 0 && strstr(msg, c->needle) != NULL;
    CHECK(ok, "source %.60s...\n  wanted %s '%s...%s'\n  got    %s '%s'", c->src, hcg_status_name(c->status), want,
          c->needle, hcg_status_name(st), msg);
    CHECK(g == NULL, "no graph after a failure");
    if (st == HCG_OK) hcg_graph_free(g);
}

#define X "input x: f32[2, 3]\n"

static const error_case syntax_errors[] = {
    /* lexical */
    {X "y = relu(x) $\n", HCG_ERR_PARSE, "2:13", "unexpected character '$'"},
    {"weights \"abc\n", HCG_ERR_PARSE, "1:9", "not closed before the end of the line"},
    {"weights \"abc", HCG_ERR_PARSE, "1:9", "not closed before the end of the file"},
    {"weights \"a\\qb\"\n", HCG_ERR_PARSE, "1:11", "unknown escape"},
    {"weights \"a\\x4\"\n", HCG_ERR_PARSE, "1:11", "two hex digits"},
    {"weights \"a\\x00\"\n", HCG_ERR_PARSE, "1:11", "NUL byte"},
    {"weights \"a\x01\"\n", HCG_ERR_PARSE, "1:11", "control byte 0x01"},
    {"const c: f32[] = 1.5x\n", HCG_ERR_PARSE, "1:18", "malformed number"},
    {"const c: f32[] = 1.5.2\n", HCG_ERR_PARSE, "1:18", "malformed number"},
    {"const c: f32[] = 1e\n", HCG_ERR_PARSE, "1:18", "exponent needs digits"},
    {"const c: f32[] = 1e999\n", HCG_ERR_PARSE, "1:18", "number out of range"},
    {X "\xff\n", HCG_ERR_PARSE, "2:1", "unexpected byte 0xff"},
    {X "y = relu(x) @\n", HCG_ERR_PARSE, "2:13", "'@' must be followed by a device name"},
    /* statements */
    {"= relu(x)\n", HCG_ERR_PARSE, "1:1", "expected a statement"},
    {"input x f32[2]\n", HCG_ERR_PARSE, "1:9", "expected ':'"},
    {"input : f32[2]\n", HCG_ERR_PARSE, "1:7", "expected the input's name"},
    {"input x: f64[2]\n", HCG_ERR_PARSE, "1:10", "unknown dtype 'f64'"},
    {"input x: f32\n", HCG_ERR_PARSE, "1:13", "expected '['"},
    {"input x: f32[2 3]\n", HCG_ERR_PARSE, "1:16", "expected ',' or ']'"},
    {"input x: f32[-1]\n", HCG_ERR_PARSE, "1:14", "expected a dimension"},
    {"input x: f32[99999999999999999999]\n", HCG_ERR_PARSE, "1:14", "dimension out of range"},
    {"input x: f32[1, 1, 1, 1, 1, 1, 1, 1, 1]\n", HCG_ERR_PARSE, "1:38", "more than 8 dims"},
    {"input x: f32[2] extra\n", HCG_ERR_PARSE, "1:17", "expected the end of the line"},
    {"state s f32[2]\n", HCG_ERR_PARSE, "1:9", "expected ':' and the state's type"},
    {"state : f32[2]\n", HCG_ERR_PARSE, "1:7", "expected the state's name"},
    {"state s: f64[2]\n", HCG_ERR_PARSE, "1:10", "unknown dtype 'f64'"},
    {"state s: f32[2] = 1\n", HCG_ERR_PARSE, "1:17", "expected the end of the line"},
    {X "\n\ny relu(x)\n", HCG_ERR_PARSE, "4:3", "expected '='"},
    {X "y = relu x\n", HCG_ERR_PARSE, "2:10", "expected '('"},
    {X "y = 5(x)\n", HCG_ERR_PARSE, "2:5", "expected an op name"},
    {X "y = softmax(axis=0, x)\n", HCG_ERR_PARSE, "2:21", "an input after an attribute"},
    {X "y = relu(x\nz = relu(x)\n", HCG_ERR_PARSE, "3:1", "to close the '(' at 2:9"},
    {X "y = relu(x,, x)\n", HCG_ERR_PARSE, "2:12", "expected an input name or attribute=value"},
    {X "y = reshape(x, shape=[[2, 3]])\n", HCG_ERR_PARSE, "2:23", "cannot be nested"},
    {X "y = softmax(x, axis=0, axis=1)\n", HCG_ERR_PARSE, "2:24", "attribute 'axis' is given twice"},
    {X "y = softmax(x, axis=99999999999999999999)\n", HCG_ERR_PARSE, "2:21", "integer out of range"},
    {X "y = softmax(x, axis=-)\n", HCG_ERR_PARSE, "2:22", "expected a number after '-'"},
    {X "y = softmax(x, axis=)\n", HCG_ERR_PARSE, "2:21", "expected a number, true or false"},
    {"input x: f32[2]\nhcg 1\n", HCG_ERR_PARSE, "2:1", "must be the first statement"},
    {"hcg 2\n", HCG_ERR_UNSUPPORTED, "1:5", "format version other than 1 is not supported"},
    {"weights \"a.safetensors\"\nweights \"b.safetensors\"\n", HCG_ERR_PARSE, "2:1", "second weights statement (the first is at line 1)"},
    {"weights abc\n", HCG_ERR_PARSE, "1:9", "expected the weights file name"},
    {"output\n", HCG_ERR_PARSE, "1:7", "expected the name of an output"},
    {"param w: f32[2] = w\n", HCG_ERR_PARSE, "1:19", "expected the tensor's name"},
    {"param w: f32[2] from other\n", HCG_ERR_PARSE, "1:22", "expected a weights file name"},
    /* constants */
    {"const c: f32[2] = 1\n", HCG_ERR_PARSE, "1:19", "expected a list of values"},
    {"const c: f32[3] = [1, 2]\n", HCG_ERR_SHAPE, "1:19", "f32[3] needs 3 values in this list (dim 0), got 2"},
    {"const c: f32[2, 2] = [1, 2, 3]\n", HCG_ERR_SHAPE, "1:22", "f32[2, 2] needs 4 values, got 3"},
    {"const c: f32[2, 2] = [[1, 2], [3]]\n", HCG_ERR_SHAPE, "1:31", "needs 2 values in this list (dim 1), got 1"},
    {"const c: f32[2, 2] = [[1, 2], 3]\n", HCG_ERR_PARSE, "1:31", "expected '[' (a nested list"},
    {"const c: f32[2] = [[1], [2]]\n", HCG_ERR_PARSE, "1:20", "expected a number"},
    {"const c: f32[2] = [1 2]\n", HCG_ERR_PARSE, "1:22", "expected ',' or ']'"},
    {"const c: u8[1] = [256]\n", HCG_ERR_PARSE, "1:19", "256 does not fit in u8"},
    {"const c: i32[] = 2147483648\n", HCG_ERR_PARSE, "1:18", "2147483648 does not fit in i32"},
    {"const c: i32[] = 1.5\n", HCG_ERR_PARSE, "1:18", "a i32 constant needs integers"},
    {"const c: i64[] = -9223372036854775809\n", HCG_ERR_PARSE, "1:18", "integer out of range"},
    {"const c: f32[] = 1e39\n", HCG_ERR_PARSE, "1:18", "does not fit in f32"},
    {"const c: f16[] = 70000\n", HCG_ERR_PARSE, "1:18", "does not fit in f16"},
    {"const c: f32[] = true\n", HCG_ERR_PARSE, "1:18", "expected a number"},
    {"const c: bool[] = 2\n", HCG_ERR_PARSE, "1:19", "a bool constant needs true, false, 0 or 1"},
    {"const c: f32[B] = [1]\n", HCG_ERR_PARSE, "1:14", "a constant needs concrete dims, but 'B' is a symbol"},
    {"param w: f32[B]\n", HCG_ERR_PARSE, "1:14", "a param needs concrete dims"},
    /* sizes */
    {"input x: f32[4611686018427387904, 4]\n", HCG_ERR_SHAPE, "1:10", "the size of f32[4611686018427387904, 4] overflows"},
    {"input x: f32[B, 4611686018427387904, 2]\n", HCG_ERR_SHAPE, "1:10", "overflows"},
    {"const c: f32[4611686018427387904, 4] = []\n", HCG_ERR_SHAPE, "1:10", "overflows"},
};

static const error_case semantic_errors[] = {
    {X "y = relux(x)\n", HCG_ERR_GRAPH, "2:5", "unknown op 'relux' (did you mean 'relu'?)"},
    {X "y = frobnicate(x)\n", HCG_ERR_GRAPH, "2:5", "unknown op 'frobnicate' (`hcg ops` lists them)"},
    {X "y = param(x)\n", HCG_ERR_GRAPH, "2:5", "not an op to call"},
    {X "y = add(x)\n", HCG_ERR_GRAPH, "2:5", "node 'y' (add): takes 2 inputs, got 1"},
    {X "y = relu(x, x)\n", HCG_ERR_GRAPH, "2:5", "node 'y' (relu): takes 1 input, got 2"},
    {X "y = softmax(x, axes=1)\n", HCG_ERR_GRAPH, "2:16", "softmax has no attribute 'axes' (it takes: axis)"},
    {X "y = relu(x, alpha=1)\n", HCG_ERR_GRAPH, "2:13", "relu has no attribute 'alpha' (it takes none)"},
    {X "y = softmax(x, axis=1.5)\n", HCG_ERR_GRAPH, "2:21", "attribute 'axis' needs integers or symbols, got a fraction"},
    {X "y = softmax(x, axis=[1])\n", HCG_ERR_GRAPH, "2:21", "got a list"},
    {X "y = cast(x, to=3)\n", HCG_ERR_GRAPH, "2:16", "attribute 'to' needs a name or a \"string\""},
    {X "y = reshape(x, shape=[2, 1.5])\n", HCG_ERR_GRAPH, "2:26", "needs integers or symbols"},
    {X "y = cast(x)\n", HCG_ERR_GRAPH, "2:5", "node 'y' (cast): the attribute 'to' is required"},
    {X "y = relu(q)\n", HCG_ERR_GRAPH, "2:10", "'q' is not defined"},
    {X "y = relu(y)\n", HCG_ERR_GRAPH, "2:10", "'y' is not defined"},
    {X "x = relu(x)\n", HCG_ERR_GRAPH, "2:1", "'x' is already defined at line 1"},
    {X "input x: f32[2]\n", HCG_ERR_GRAPH, "2:7", "'x' is already defined at line 1"},
    {X "state x: f32[2]\n", HCG_ERR_GRAPH, "2:7", "'x' is already defined at line 1"},
    {X "a, a = split(x, parts=2)\n", HCG_ERR_GRAPH, "2:4", "'a' is named twice"},
    {X "a, b = relu(x)\n", HCG_ERR_GRAPH, "2:4", "only split gives several results; relu gives one"},
    {X "a, b = split(x, parts=3)\n", HCG_ERR_GRAPH, "2:17", "parts=3, but 2 results are named"},
    {X "a, b = split(x, sizes=[1, 1, 1])\n", HCG_ERR_GRAPH, "2:17", "sizes has 3 entries, but 2 results are named"},
    {X "a, b = split(x, parts=2, index=1)\n", HCG_ERR_GRAPH, "2:26", "index is implied"},
    {X "output zz\n", HCG_ERR_GRAPH, "2:8", "'zz' is not defined"},
    {X "output y = zz\n", HCG_ERR_GRAPH, "2:12", "'zz' is not defined"},
    {X "output x\noutput x\n", HCG_ERR_GRAPH, "3:8", "output 'x' is declared twice"},
    /* weights */
    {"param w1: f32[4, 8]\n", HCG_ERR_GRAPH, "1:7", "param 'w1': no weights file"},
    {"weights \"weights.safetensors\"\nparam nope: f32[2]\n", HCG_ERR_NOT_FOUND, "2:7",
     "param 'nope': no tensor 'nope' in 'weights.safetensors'"},
    {"weights \"weights.safetensors\"\nparam w: f32[4, 8] = \"zzz\"\n", HCG_ERR_NOT_FOUND, "2:22", "no tensor 'zzz'"},
    {"weights \"weights.safetensors\"\nparam w1: f16[4, 8]\n", HCG_ERR_SHAPE, "2:11",
     "param 'w1' is declared f16[4, 8], but the tensor 'w1' in 'weights.safetensors' is f32[4, 8]"},
    {"weights \"weights.safetensors\"\nparam w1: f32[8, 4]\n", HCG_ERR_SHAPE, "2:11", "declared f32[8, 4]"},
    {"weights \"weights.safetensors\"\nconst w1: f32[4] = \"w1\"\n", HCG_ERR_SHAPE, "2:11", "const 'w1' is declared f32[4]"},
    {"weights \"truncated.safetensors\"\nparam w1: f32[4, 8]\n", HCG_ERR_FORMAT, "2:7", "truncated.safetensors: tensor"},
    {"param w1: f32[4, 8] from \"missing.safetensors\"\n", HCG_ERR_NOT_FOUND, "1:26", "weights file 'missing.safetensors'"},
    {"weights \"../x.safetensors\"\n", HCG_ERR_GRAPH, "1:9", "the weights path '../x.safetensors' leaves the graph's folder"},
    {"weights \"/etc/passwd\"\n", HCG_ERR_GRAPH, "1:9", "the weights path '/etc/passwd' leaves the graph's folder"},
    {"param w: f32[2] from \"/etc/passwd\"\n", HCG_ERR_GRAPH, "1:22", "'/etc/passwd' leaves the graph's folder"},
    {"param w: f32[2] from \"a/../../b.safetensors\"\n", HCG_ERR_GRAPH, "1:22", "leaves the graph's folder"},
    {"weights \"\"\n", HCG_ERR_GRAPH, "1:9", "the weights path '' leaves"},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof syntax_errors / sizeof syntax_errors[0]; i++) check_error(&syntax_errors[i]);
    for (size_t i = 0; i < sizeof semantic_errors / sizeof semantic_errors[0]; i++) check_error(&semantic_errors[i]);

    /* A NUL byte inside the text is an error, not the end. */
    static const char nul[] = "input x: f32[2]\0garbage\n";
    hcg_graph *g = NULL;
    CHECK_FAILS(hcg_text_parse(nul, sizeof nul - 1, "t.hcg", NULL, &g), HCG_ERR_PARSE, "t.hcg:1:16: unexpected byte 0x00");
    /* Weights need a folder. */
    static const char w[] = "param w: f32[2] from \"w.safetensors\"\n";
    CHECK_FAILS(hcg_text_parse(w, sizeof w - 1, "t.hcg", NULL, &g), HCG_ERR_GRAPH, "parsed without a folder");
    /* CRLF line ends and a byte order mark are fine; columns count from after the mark. */
    static const char crlf[] = "\xef\xbb\xbfinput x: f32[2]\r\n\r\ny = relu(x) # c\r\noutput y\r\n";
    if (CHECK_OK(hcg_text_parse(crlf, sizeof crlf - 1, "t.hcg", NULL, &g))) {
        CHECK(hcg_graph_num_nodes(g) == 2 && g->nodes[1].line == 3, "CRLF file: 2 nodes, y on line 3");
        hcg_graph_free(g);
    }
    static const char bom_err[] = "\xef\xbb\xbf$";
    CHECK_FAILS(hcg_text_parse(bom_err, sizeof bom_err - 1, "t.hcg", NULL, &g), HCG_ERR_PARSE, "t.hcg:1:1: unexpected");
    /* Empty and comment-only files are valid, empty graphs. */
    static const char empty[] = "# nothing\n\n   \n";
    if (CHECK_OK(hcg_text_parse(empty, sizeof empty - 1, "t.hcg", NULL, &g))) {
        CHECK(hcg_graph_num_nodes(g) == 0, "an empty graph");
        hcg_graph_free(g);
    }
}

/* Weights reached through symlinks: inside the folder is fine, outside is refused. */
static void test_symlinks(void)
{
    const char *inside = make_dir("links");
    char outside[512], target[600], link[600], graph[600];
    snprintf(outside, sizeof outside, "%s/elsewhere", tl_tmpdir());
    mkdir(outside, 0755);
    copy_weights(outside, "weights.safetensors");

    snprintf(target, sizeof target, "%s/weights.safetensors", outside);
    snprintf(link, sizeof link, "%s/escape.safetensors", inside);
    CHECK(symlink(target, link) == 0, "symlink: %s", strerror(errno));
    snprintf(link, sizeof link, "%s/alias.safetensors", inside);
    CHECK(symlink("weights.safetensors", link) == 0, "symlink: %s", strerror(errno));

    hcg_graph *g = NULL;
    snprintf(graph, sizeof graph, "%s/escape.hcg", inside);
    write_text(graph, "input x: f32[4]\nparam w1: f32[4, 8] from \"escape.safetensors\"\n");
    hcg_status st = hcg_load(graph, &g);
    CHECK_FAILS(st, HCG_ERR_GRAPH, "the weights path 'escape.safetensors' resolves to");
    CHECK(strstr(hcg_last_error(), "outside the graph's folder") && strstr(hcg_last_error(), ":2:26: "),
          "escape through a symlink is refused at 2:26: %s", hcg_last_error());

    snprintf(graph, sizeof graph, "%s/alias.hcg", inside);
    write_text(graph, "param w1: f32[4, 8] from \"alias.safetensors\"\noutput w1\n");
    if (CHECK_OK(hcg_load(graph, &g))) hcg_graph_free(g);

    /* The same file named twice is mapped once. */
    snprintf(graph, sizeof graph, "%s/twice.hcg", inside);
    write_text(graph, "weights \"weights.safetensors\"\nparam w1: f32[4, 8]\nparam b1: f32[8] from \"./weights.safetensors\"\n");
    if (CHECK_OK(hcg_load(graph, &g))) {
        CHECK(g->n_resources == 1, "one mapping for one file named two ways (got %d)", g->n_resources);
        hcg_graph_free(g);
    }
}

/* hcg_load: dispatch by extension and errors naming the path as given. */
static void test_load_dispatch(void)
{
    hcg_graph *g = NULL;
    char path[600];
    CHECK_FAILS(hcg_load("model.pb", &g), HCG_ERR_UNSUPPORTED, "model.pb: unknown graph file type");
    CHECK_FAILS(hcg_load("missing.hcg", &g), HCG_ERR_IO, "missing.hcg: cannot open");
    CHECK_FAILS(hcg_load("", &g), HCG_ERR_ARG, "no path");
#ifdef HCG_HAVE_ONNX
    CHECK(hcg_load("missing.onnx", &g) != HCG_OK, "missing .onnx fails in the ONNX reader");
#else
    CHECK_FAILS(hcg_load("missing.onnx", &g), HCG_ERR_UNSUPPORTED, "without ONNX support");
#endif
    snprintf(path, sizeof path, "%s/UPPER.HCG", weights_dir());
    write_text(path, "input x: f32[1]\noutput x\n");
    if (CHECK_OK(hcg_load(path, &g))) hcg_graph_free(g);
    /* A semantic error in a file reports the path as given. */
    snprintf(path, sizeof path, "%s/bad.hcg", weights_dir());
    write_text(path, "input x: f32[1]\n\n  y = relux(x)\n");
    CHECK_FAILS(hcg_load(path, &g), HCG_ERR_GRAPH, "bad.hcg:3:7: unknown op 'relux'");
    CHECK(strncmp(hcg_last_error(), path, strlen(path)) == 0, "message starts with the path: %s", hcg_last_error());
}

/* A weights file that holds a tensor of a dtype hcg does not compute with (BF16) next to the ones
 * it uses loads; declaring that tensor is the error, at its position. */
static void test_unsupported_dtype_in_weights(void)
{
    char path[600], graph[600];
    snprintf(path, sizeof path, "%s/mixed.safetensors", weights_dir());
    static const char header[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                 "\"half\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}";
    size_t len = strlen(header), padded = (len + 7) / 8 * 8;
    unsigned char file[512] = {0};
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(file + 8, header, len);
    memset(file + 8 + len, ' ', padded - len);
    const float w[2] = {1.5f, -2.0f};
    memcpy(file + 8 + padded, w, sizeof w);
    write_file(path, file, 8 + padded + 12);
    hcg_graph *g = NULL;
    snprintf(graph, sizeof graph, "%s/mixed_ok.hcg", weights_dir());
    write_text(graph, "weights \"mixed.safetensors\"\nparam w: f32[2]\ninput x: f32[2]\ny = add(x, w)\noutput y\n");
    if (CHECK_OK(hcg_load(graph, &g))) {
        const hcg_node *n = node(g, "w");
        CHECK(n && n->value && ((const float *)n->value->data)[1] == -2.0f, "w comes from the file");
        hcg_graph_free(g);
    }
    snprintf(graph, sizeof graph, "%s/mixed_bad.hcg", weights_dir());
    write_text(graph, "weights \"mixed.safetensors\"\nparam w: f32[2]\nparam half: f32[2]\noutput half\n");
    CHECK_FAILS(hcg_load(graph, &g), HCG_ERR_UNSUPPORTED,
                "mixed_bad.hcg:3:7: param 'half': the tensor 'half' in 'mixed.safetensors' has dtype BF16");
}

/* Shape errors found when binding point at the line that defined the node. */
static void test_bind_reports_position(void)
{
    static const char src[] = "input a: f32[2, 3]\ninput b: f32[4, 5]\n\n   c = matmul(a, b)\noutput c\n";
    hcg_graph *g = NULL, *bound = NULL;
    if (!CHECK_OK(hcg_text_parse(src, sizeof src - 1, "m.hcg", NULL, &g))) return;
    hcg_shape shapes[2] = {hcg_shape_make(2, (int64_t[]){2, 3}), hcg_shape_make(2, (int64_t[]){4, 5})};
    CHECK_FAILS(hcg_graph_bind(g, shapes, NULL, &bound), HCG_ERR_SHAPE, "m.hcg:4:4: node 'c' (matmul): inner dimensions");
    hcg_graph_free(bound);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- round trips */

static bool attrs_same(const hcg_attr_value *a, const hcg_attr_value *b)
{
    if (a->kind != b->kind || a->set != b->set || a->i != b->i || a->n != b->n) return false;
    if (memcmp(&a->f, &b->f, sizeof a->f) != 0) return false;
    if (a->n && a->ints && (!b->ints || memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n))) return false;
    if (a->n && a->floats && (!b->floats || memcmp(a->floats, b->floats, sizeof(double) * (size_t)a->n))) return false;
    return (a->s == NULL) == (b->s == NULL) && (!a->s || strcmp(a->s, b->s) == 0);
}

static bool same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

/* A dim compared across graphs: symbols by name. */
static bool dims_same(const hcg_graph *ga, int64_t a, const hcg_graph *gb, int64_t b)
{
    if (HCG_DIM_IS_SYM(a) || HCG_DIM_IS_SYM(b)) return same_str(sym_name(ga, a), sym_name(gb, b));
    return a == b;
}

static void check_same_graph(const hcg_graph *a, const hcg_graph *b, const char *what)
{
    if (!CHECK(a && b, "%s: two graphs", what)) return;
    if (!CHECK(a->n_nodes == b->n_nodes, "%s: %d nodes vs %d", what, a->n_nodes, b->n_nodes)) return;
    for (int i = 0; i < a->n_nodes; i++) {
        const hcg_node *x = &a->nodes[i], *y = &b->nodes[i];
        bool ok = x->op == y->op && strcmp(x->name, y->name) == 0 && x->n_inputs == y->n_inputs &&
                  (x->n_inputs == 0 || memcmp(x->inputs, y->inputs, sizeof(hcg_id) * (size_t)x->n_inputs) == 0) &&
                  same_str(x->pin, y->pin);
        for (int s = 0; ok && s < HCG_MAX_ATTRS; s++) ok = attrs_same(&x->attrs[s], &y->attrs[s]);
        if (x->op == HCG_OP_INPUT) {
            ok = ok && x->dtype == y->dtype && x->shape.rank == y->shape.rank;
            for (int d = 0; ok && d < x->shape.rank; d++) ok = dims_same(a, x->shape.dims[d], b, y->shape.dims[d]);
        }
        if (x->value || y->value) {
            ok = ok && x->value && y->value && x->value->dtype == y->value->dtype &&
                 hcg_shape_equal(&x->value->shape, &y->value->shape) && x->value->nbytes == y->value->nbytes &&
                 (x->value->nbytes == 0 || memcmp(x->value->data, y->value->data, x->value->nbytes) == 0);
        }
        CHECK(ok, "%s: node %d ('%s', %s) differs", what, i, x->name, hcg_op_name(x->op));
        /* Symbols inside attributes are compared by value above; check they name the same symbol. */
        for (int s = 0; s < HCG_MAX_ATTRS; s++) {
            const hcg_attr_value *v = &x->attrs[s];
            for (int k = 0; v->kind == HCG_ATTR_INTS && k < v->n; k++)
                if (HCG_DIM_IS_SYM(v->ints[k]))
                    CHECK(dims_same(a, v->ints[k], b, y->attrs[s].ints[k]), "%s: symbol in %s", what, x->name);
        }
    }
    CHECK(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs, "%s: inputs/outputs", what);
    for (int i = 0; i < a->n_outputs && i < b->n_outputs; i++)
        CHECK(a->outputs[i] == b->outputs[i] && strcmp(a->output_names[i], b->output_names[i]) == 0, "%s: output %d",
              what, i);
    CHECK(a->n_syms == b->n_syms, "%s: %d symbols vs %d", what, a->n_syms, b->n_syms);
    for (int i = 0; i < a->n_syms && i < b->n_syms; i++) CHECK(strcmp(a->syms[i], b->syms[i]) == 0, "%s: symbol %d", what, i);
}

/* load -> save -> load gives the same graph; saving again gives the same bytes. */
static void round_trip(hcg_graph *g, const char *dir, const char *what)
{
    char p1[600], p2[600], w1[600];
    snprintf(p1, sizeof p1, "%s/%s_1.hcg", dir, what);
    snprintf(p2, sizeof p2, "%s/%s_2.hcg", dir, what);
    snprintf(w1, sizeof w1, "%s/%s_1.safetensors", dir, what);
    hcg_graph *back = NULL, *back2 = NULL;
    if (!CHECK_OK(hcg_save(g, p1))) return;
    if (CHECK_OK(hcg_load(p1, &back))) {
        check_same_graph(g, back, what);
        if (CHECK_OK(hcg_save(back, p2))) {
            size_t n1 = 0, n2 = 0;
            char *t1 = tl_read_file(p1, &n1), *t2 = tl_read_file(p2, &n2);
            /* The texts differ only in the weights file's name. */
            char *fix = t2 ? strstr(t2, "_2.safetensors") : NULL;
            if (fix) fix[1] = '1';
            CHECK(t1 && t2 && n1 == n2 && memcmp(t1, t2, n1) == 0, "%s: saving a loaded graph gives the same text", what);
            free(t1);
            free(t2);
            if (CHECK_OK(hcg_load(p2, &back2))) check_same_graph(g, back2, what);
        }
    }
    hcg_graph_free(back2);
    hcg_graph_free(back);
}

static void test_round_trip_file(void)
{
    char path[600];
    hcg_graph *g = NULL;
    snprintf(path, sizeof path, "%s/full.hcg", weights_dir());
    write_text(path, full_graph);
    if (!CHECK_OK(hcg_load(path, &g))) return;
    const char *dir = make_dir("rt");
    round_trip(g, dir, "full");
    /* Params keep the names they had in their weights files. */
    hcg_st_file *f = NULL;
    snprintf(path, sizeof path, "%s/full_1.safetensors", dir);
    if (CHECK_OK(hcg_st_open(path, &f))) {
        CHECK(hcg_st_find(f, "b1") && hcg_st_find(f, "enc.layer0.scale") && hcg_st_find(f, "w2") && hcg_st_find(f, "table"),
              "weight keys kept in the saved weights file");
        CHECK(hcg_st_count(f) == 5, "4 params and the 300-element constant in the weights file, got %d", hcg_st_count(f));
        hcg_st_close(f);
    }
    /* Saving over the file the graph was loaded from (its weights still mapped) works. */
    snprintf(path, sizeof path, "%s/full_1.hcg", dir);
    hcg_graph *h = NULL;
    if (CHECK_OK(hcg_load(path, &h))) {
        CHECK_OK(hcg_save(h, path));
        hcg_graph *again = NULL;
        if (CHECK_OK(hcg_load(path, &again))) {
            check_same_graph(h, again, "saved over itself");
            hcg_graph_free(again);
        }
        hcg_graph_free(h);
    }
    hcg_graph_free(g);
}

/* A graph built with the API, with everything awkward for a text format. */
static void test_round_trip_api(void)
{
    hcg_graph *g = hcg_graph_new();
    int64_t B = hcg_sym(g, "batch size"), I = hcg_sym(g, "inf"), S = hcg_sym(g, "S");
    hcg_id x = hcg_input(g, "in\"put\\x\n\tü", HCG_F32, 3, (int64_t[]){B, I, 4});
    hcg_id ids = hcg_input(g, "true", HCG_I64, 1, (int64_t[]){S});
    hcg_tensor *t = NULL;
    /* f32 with -0.0, denormals, extremes, inf and NaNs (one with a payload: goes to the file). */
    hcg_tensor_new(HCG_F32, &(hcg_shape){.rank = 1, .dims = {8}}, &t);
    float *f = t->data;
    f[0] = -0.0f;
    f[1] = 1e-45f;
    f[2] = 3.4028235e38f;
    f[3] = 0.1f;
    f[4] = -INFINITY;
    f[5] = NAN;
    f[6] = 1.0f / 3.0f;
    uint32_t payload = 0x7fa00001u;
    memcpy(&f[7], &payload, 4);
    hcg_id c1 = hcg_constant(g, "weird floats", t);
    hcg_tensor_new(HCG_F32, &(hcg_shape){.rank = 2, .dims = {2, 2}}, &t);
    f = t->data;
    f[0] = -0.0f;
    f[1] = NAN;
    f[2] = -NAN;
    f[3] = 16777216.0f;
    hcg_constant(g, "inline floats", t);
    hcg_tensor_new(HCG_F16, &(hcg_shape){.rank = 1, .dims = {4}}, &t);
    uint16_t *h = t->data;
    h[0] = 0x0001; /* smallest subnormal */
    h[1] = 0x7bff; /* 65504 */
    h[2] = 0x8000; /* -0 */
    h[3] = 0x3555; /* ~1/3 */
    hcg_constant(g, "halves", t);
    hcg_tensor_new(HCG_I64, &(hcg_shape){.rank = 1, .dims = {3}}, &t);
    ((int64_t *)t->data)[0] = INT64_MIN;
    ((int64_t *)t->data)[1] = INT64_MAX;
    ((int64_t *)t->data)[2] = 0;
    hcg_constant(g, "extremes", t);
    hcg_tensor_new(HCG_F32, &(hcg_shape){.rank = 2, .dims = {20, 20}}, &t);
    for (int i = 0; i < 400; i++) ((float *)t->data)[i] = (float)i * 0.1f;
    hcg_constant(g, "big", t);
    hcg_tensor_new(HCG_F32, &(hcg_shape){.rank = 1, .dims = {4}}, &t);
    hcg_id w = hcg_param(g, "w", t);
    hcg_tensor_new(HCG_U8, &(hcg_shape){.rank = 0}, &t);
    *(uint8_t *)t->data = 200;
    hcg_param(g, "__metadata__", t);

    hcg_id mm = hcg_add_node(g, HCG_OP_ADD, "a.b/c:0", (hcg_id[]){x, w}, 2, NULL, 0);
    hcg_attr clip_at[2] = {HCG_ATTR_F("min", -1e30), HCG_ATTR_F("max", 0.1)};
    hcg_id cl = hcg_add_node(g, HCG_OP_CLIP, "clip", &mm, 1, clip_at, 2);
    hcg_attr sl_at[2] = {HCG_ATTR_IS("starts", ((int64_t[]){-1}), 1), HCG_ATTR_IS("ends", ((int64_t[]){INT64_MIN}), 1)};
    hcg_add_node(g, HCG_OP_SLICE, "slice", &cl, 1, sl_at, 2);
    hcg_attr rs_at[1] = {HCG_ATTR_IS("shape", ((int64_t[]){B, -1, I}), 3)};
    hcg_id rs = hcg_add_node(g, HCG_OP_RESHAPE, "rs", &cl, 1, rs_at, 1);
    hcg_attr rg_at[2] = {HCG_ATTR_F("limit", (double)S), HCG_ATTR_F("delta", 0.5)};
    hcg_add_node(g, HCG_OP_RANGE, "rg", NULL, 0, rg_at, 2);
    hcg_attr gl_at[1] = {HCG_ATTR_S("approximate", "true")};
    hcg_add_node(g, HCG_OP_GELU, "gelu", &cl, 1, gl_at, 1);
    /* split parts made one by one (not a group: index 1 without index 0 first) and a proper group */
    hcg_attr sp1[2] = {HCG_ATTR_I("parts", 2), HCG_ATTR_I("index", 1)};
    hcg_add_node(g, HCG_OP_SPLIT, "second", &rs, 1, sp1, 2);
    hcg_attr sp0[3] = {HCG_ATTR_I("parts", 3), HCG_ATTR_I("index", 0), HCG_ATTR_I("axis", -1)};
    hcg_attr sp_1[3] = {HCG_ATTR_I("parts", 3), HCG_ATTR_I("index", 1), HCG_ATTR_I("axis", -1)};
    hcg_attr sp_2[3] = {HCG_ATTR_I("parts", 3), HCG_ATTR_I("index", 2), HCG_ATTR_I("axis", -1)};
    hcg_id s0 = hcg_add_node(g, HCG_OP_SPLIT, "s0", &rs, 1, sp0, 3);
    hcg_id s1 = hcg_add_node(g, HCG_OP_SPLIT, "s1", &rs, 1, sp_1, 3);
    hcg_id s2 = hcg_add_node(g, HCG_OP_SPLIT, "s2", &rs, 1, sp_2, 3);
    /* Pinned alike, so they are written as one statement; t1, t2 are pinned differently. */
    hcg_pin(g, s0, "opencl:1");
    hcg_pin(g, s1, "opencl:1");
    hcg_pin(g, s2, "opencl:1");
    hcg_attr t0[2] = {HCG_ATTR_I("parts", 2), HCG_ATTR_I("index", 0)};
    hcg_id t1 = hcg_add_node(g, HCG_OP_SPLIT, "t1", &rs, 1, t0, 2);
    hcg_id t2 = hcg_add_node(g, HCG_OP_SPLIT, "t2", &rs, 1, sp1, 2);
    hcg_pin(g, t2, "cpu");
    CHECK(t1 >= 0 && t2 >= 0, "t1, t2");
    hcg_pin(g, c1, "my device");
    hcg_id cs = hcg_add_node(g, HCG_OP_CAST, "cast", &ids, 1, (hcg_attr[]){HCG_ATTR_S("to", "f16")}, 1);
    CHECK(cs >= 0 && s2 >= 0, "API graph built: %s", hcg_last_error());
    hcg_output(g, cs, "out \"1\"");
    hcg_output(g, s2, NULL);
    hcg_output(g, x, "input copy");

    round_trip(g, make_dir("rt_api"), "api");
    /* The NaN with a payload went to the weights file; the rest stayed inline. */
    char path[600];
    snprintf(path, sizeof path, "%s/rt_api/api_1.hcg", tl_tmpdir());
    size_t n = 0;
    char *text = tl_read_file(path, &n);
    if (CHECK(text != NULL, "saved text")) {
        CHECK(strstr(text, "const \"weird floats\": f32[8] = \"weird floats\"") != NULL, "payload NaN constant in the file");
        CHECK(strstr(text, "= [-0.0, nan, -nan, 16777216]") != NULL, "inline -0.0 and NaNs: %s", text);
        CHECK(strstr(text, "s0, s1, s2 = split(rs, axis=-1, parts=3) @opencl:1") != NULL, "split group written as one");
        CHECK(strstr(text, "t1 = split(rs, parts=2, index=0)\nt2 = split(rs, parts=2, index=1) @cpu") != NULL,
              "differently pinned parts written one by one");
        CHECK(strstr(text, "ends=[-9223372036854775808]") != NULL, "INT64_MIN is a number, not a symbol");
        CHECK(strstr(text, "f32[\"batch size\", \"inf\", 4]") != NULL, "symbols quoted where needed");
        free(text);
    }
    hcg_graph_free(g);
}

/* A saved and reloaded model still computes PyTorch's reference output. */
static void test_saved_model_runs(void)
{
    hcg_graph *g = NULL, *back = NULL;
    hcg_tensor *x = NULL, *want = NULL, *got = NULL;
    hcg_session *s = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/mlp.hcg", make_dir("mlp"));
    if (!CHECK_OK(hcg_load(tl_src("models/mlp/mlp.hcg"), &g)) || !CHECK_OK(hcg_save(g, path)) ||
        !CHECK_OK(hcg_load(path, &back)))
        goto done;
    check_same_graph(g, back, "mlp");
    if (!CHECK_OK(hcg_npy_load(tl_src("models/mlp/x.npy"), &x)) ||
        !CHECK_OK(hcg_npy_load(tl_src("models/mlp/expected_probs.npy"), &want)))
        goto done;
    hcg_session_options opt = {.devices = "cpu"};
    const hcg_tensor *in[1] = {x};
    if (CHECK_OK(hcg_session_new(back, &opt, &s)) && CHECK_OK(hcg_session_run(s, in, &got)))
        tl_tensor_close(got, want, 1e-5, 1e-6, "saved mlp vs PyTorch");
done:
    hcg_session_free(s);
    hcg_tensor_free(got);
    hcg_tensor_free(want);
    hcg_tensor_free(x);
    hcg_graph_free(back);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- robustness */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* An error message from the reader must start with "<path>:<line>:<col>: " (out of memory aside). */
static bool has_position(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) != 0 || msg[n] != ':') return false;
    const char *p = msg + n + 1;
    for (int field = 0; field < 2; field++) {
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') p++;
        if (*p++ != ':') return false;
    }
    return true;
}

/* Parses a mutated file; the first mutants that still load must also survive save + load. */
static int parse_mutant(const char *buf, size_t n, int *ok_count)
{
    hcg_graph *g = NULL;
    hcg_status st = hcg_text_parse(buf, n, "fuzz.hcg", weights_dir(), &g);
    if (st == HCG_OK) {
        if ((*ok_count)++ < 40) {
            char path[600];
            hcg_graph *back = NULL;
            snprintf(path, sizeof path, "%s/mutant.hcg", weights_dir());
            if (CHECK_OK(hcg_save(g, path)) && CHECK_OK(hcg_load(path, &back))) check_same_graph(g, back, "mutant");
            hcg_graph_free(back);
        }
        hcg_graph_free(g);
        return 1;
    }
    if (!has_position(hcg_last_error(), "fuzz.hcg") && st != HCG_ERR_NOMEM) {
        CHECK(false, "an error without file:line:col: %s (%s)", hcg_last_error(), hcg_status_name(st));
        return 0;
    }
    return g == NULL;
}

static void test_mutations(void)
{
    size_t base_len = strlen(full_graph);
    char *buf = malloc(base_len * 2 + 64);
    int ok = 0, clean = 0, total = 0;
    static const char interesting[] = "()[],=:-@#\"\\\n 0123456789.eE_xBSinfnatruefals\0\xff";
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(buf, full_graph, base_len);
        size_t n = base_len;
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = n ? (size_t)(rng() % n) : 0;
            switch (rng() % 5) {
            case 0: buf[at] = (char)(rng() & 0xff); break;                                    /* flip a byte */
            case 1: buf[at] = interesting[rng() % (sizeof interesting - 1)]; break;          /* a token char */
            case 2: n = at; break;                                                            /* truncate */
            case 3: {                                                                         /* delete a span */
                size_t len = rng() % 16;
                if (at + len > n) len = n - at;
                memmove(buf + at, buf + at + len, n - at - len);
                n -= len;
                break;
            }
            default: {                                                                        /* duplicate a span */
                size_t len = rng() % 24;
                if (at + len > n) len = n - at;
                if (n + len <= base_len * 2) {
                    memmove(buf + at + len, buf + at, n - at);
                    n += len;
                }
                break;
            }
            }
        }
        clean += parse_mutant(buf, n, &ok);
        total++;
    }
    free(buf);
    CHECK(clean == total, "%d of %d mutants loaded or failed cleanly", clean, total);
    CHECK(ok > 0 && ok < total, "some mutants still load (%d of %d)", ok, total);

    /* Random bytes, long lines, deep nesting, huge numbers. */
    size_t big = 1 << 20;
    char *junk = malloc(big + 1);
    for (int k = 0; k < 20; k++) {
        size_t n = (size_t)(rng() % 4096);
        for (size_t i = 0; i < n; i++) junk[i] = (char)(rng() & 0xff);
        clean += parse_mutant(junk, n, &ok);
        total++;
    }
    memset(junk, 'a', big); /* one 1 MiB name */
    clean += parse_mutant(junk, big, &ok);
    memset(junk, '[', big); /* a million open brackets */
    memcpy(junk, "const c: f32[2] = ", 18);
    clean += parse_mutant(junk, big, &ok);
    memset(junk, '(', big);
    memcpy(junk, "y = relu", 8);
    clean += parse_mutant(junk, big, &ok);
    memset(junk, '9', big); /* a million digits */
    memcpy(junk, "input x: f32[", 13);
    clean += parse_mutant(junk, big, &ok);
    memcpy(junk, "const c: f32[] = 1.", 19);
    clean += parse_mutant(junk, big, &ok);
    for (size_t i = 0; i < big; i += 2) memcpy(junk + i, "1,", 2); /* a huge list for a small shape */
    memcpy(junk, "const c: f32[2] = [", 19);
    clean += parse_mutant(junk, big, &ok);
    total += 6;
    free(junk);
    CHECK(clean == total, "hostile inputs fail cleanly (%d of %d)", clean, total);
}

/* State declarations: the node, its symbolic shape bound with the inputs, the pin, a save round
 * trip, and a symbol no input binds reported at the state's line. */
static void test_states(void)
{
    static const char src[] = "input x: f32[B, 4]\n"
                              "state cache: f32[B, 3, 4] @cpu\n"
                              "input pos: i64[]\n"
                              "w = cache_write(cache, x3, pos, axis=1)\n"
                              "x3 = unsqueeze(x, axes=[1])\n"
                              "output w\n";
    hcg_graph *g = NULL;
    /* x3 is used before it is defined: the file is in topological order */
    CHECK_FAILS(hcg_text_parse(src, sizeof src - 1, "s.hcg", NULL, &g), HCG_ERR_GRAPH, "s.hcg:4:24: 'x3' is not defined");
    static const char ok[] = "input x: f32[B, 4]\n"
                             "state cache: f32[B, 3, 4] @cpu\n"
                             "input pos: i64[]\n"
                             "x3 = unsqueeze(x, axes=[1])\n"
                             "w = cache_write(cache, x3, pos, axis=1)\n"
                             "output w, cache\n";
    if (!CHECK_OK(hcg_text_parse(ok, sizeof ok - 1, "s.hcg", NULL, &g))) return;
    const hcg_node *c = node(g, "cache");
    if (c) {
        CHECK(c->op == HCG_OP_STATE && c->dtype == HCG_F32 && c->shape.rank == 3 && c->line == 2 && c->col == 7,
              "the state node: op, dtype, rank and position");
        CHECK(sym_name(g, c->shape.dims[0]) && strcmp(sym_name(g, c->shape.dims[0]), "B") == 0 && c->shape.dims[2] == 4,
              "the state's dims: [B, 3, 4]");
        CHECK(c->pin && strcmp(c->pin, "cpu") == 0, "the state is pinned to the cpu");
    }
    CHECK(hcg_graph_num_inputs(g) == 2, "a state is not an input");
    /* bound: B from x */
    hcg_shape shapes[2] = {hcg_shape_make(2, (int64_t[]){5, 4}), hcg_shape_make(0, NULL)};
    hcg_graph *b = NULL;
    if (CHECK_OK(hcg_graph_bind(g, shapes, &(hcg_bind_options){0}, &b))) {
        const hcg_node *bc = node(b, "cache");
        CHECK(bc && bc->shape.dims[0] == 5 && bc->shape.dims[1] == 3, "the bound state is f32[5, 3, 4]");
        hcg_graph_free(b);
    }
    /* saved and read back */
    char path[600];
    snprintf(path, sizeof path, "%s/states.hcg", tl_tmpdir());
    hcg_graph *back = NULL;
    if (CHECK_OK(hcg_save(g, path)) && CHECK_OK(hcg_load(path, &back))) {
        const hcg_node *bc = node(back, "cache");
        CHECK(bc && bc->op == HCG_OP_STATE && bc->pin && sym_name(back, bc->shape.dims[0]) &&
                  hcg_graph_num_inputs(back) == 2 && hcg_graph_num_outputs(back) == 2,
              "the state survives a save");
        hcg_graph_free(back);
    }
    hcg_graph_free(g);
    /* a symbol only the state has */
    static const char unbound[] = "input x: f32[2]\nstate s: f32[T, 2]\ny = relu(x)\noutput y, s\n";
    if (CHECK_OK(hcg_text_parse(unbound, sizeof unbound - 1, "u.hcg", NULL, &g))) {
        hcg_shape one = hcg_shape_make(1, (int64_t[]){2});
        CHECK_FAILS(hcg_graph_bind(g, &one, &(hcg_bind_options){0}, &b), HCG_ERR_SHAPE,
                    "u.hcg:2:7: node 's' (state): uses the symbol 'T', which no input's shape binds");
        hcg_graph_free(g);
    }
}

/* gemm's trans_a / trans_b became transpose_a / transpose_b (matmul's names): files and builder
 * calls with the old names mean the same, the writer uses the new ones, and the product is right
 * (against the transposed products written out here). */
static void test_renamed_attributes(void)
{
    static const char old_src[] = "input a: f32[3, 2]\ninput b: f32[4, 3]\n"
                                  "y = gemm(a, b, trans_a=1, trans_b=true, alpha=2)\noutput y\n";
    hcg_graph *g = NULL;
    if (!CHECK_OK(hcg_text_parse(old_src, sizeof old_src - 1, "old.hcg", NULL, &g))) return;
    const hcg_node *y = node(g, "y");
    CHECK(y && hcg_attr_int(y, "transpose_a") == 1 && hcg_attr_int(y, "transpose_b") == 1 &&
              y->attrs[hcg_attr_slot(HCG_OP_GEMM, "transpose_a")].set,
          "trans_a=1 and trans_b=true read as transpose_a and transpose_b");
    /* the builder takes the old name too */
    hcg_graph *built = hcg_graph_new();
    hcg_id a = hcg_input(built, "a", HCG_F32, 2, (int64_t[]){3, 2}), b = hcg_input(built, "b", HCG_F32, 2, (int64_t[]){4, 3});
    hcg_attr at[2] = {HCG_ATTR_I("trans_a", 1), HCG_ATTR_I("transpose_b", 1)};
    hcg_id yb = hcg_add_node(built, HCG_OP_GEMM, "y", (hcg_id[]){a, b}, 2, at, 2);
    CHECK(yb >= 0 && hcg_attr_int(&built->nodes[yb], "transpose_a") == 1, "hcg_add_node takes trans_a: %s",
          hcg_last_error());
    hcg_graph_free(built);
    /* written with the new names */
    char path[600];
    snprintf(path, sizeof path, "%s/renamed.hcg", tl_tmpdir());
    char *text = NULL;
    if (CHECK_OK(hcg_save(g, path)) && (text = tl_read_file(path, NULL)))
        CHECK(strstr(text, "transpose_a=1") && strstr(text, "transpose_b=1") && !strstr(text, "trans_a"),
              "the writer uses the new names:\n%s", text);
    free(text);
    /* y = 2 * a^T @ b^T: [2, 3] @ [3, 4] */
    float av[6] = {1, -2, 0.5f, 3, -1, 4}, bv[12] = {1, 2, 3, 4, 5, 6, -1, -2, -3, 0.5f, 0.25f, 2};
    hcg_tensor *ta = NULL, *tb = NULL, *out = NULL;
    hcg_tensor_wrap(HCG_F32, &(hcg_shape){2, {3, 2}}, av, &ta);
    hcg_tensor_wrap(HCG_F32, &(hcg_shape){2, {4, 3}}, bv, &tb);
    hcg_session *s = NULL;
    if (CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "cpu"}, &s)) &&
        CHECK_OK(hcg_session_run(s, (const hcg_tensor *const[]){ta, tb}, &out))) {
        double worst = 0;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) {
                double want = 0;
                for (int k = 0; k < 3; k++) want += 2.0 * av[k * 2 + i] * bv[j * 3 + k];
                double d = fabs(((float *)out->data)[i * 4 + j] - want);
                worst = d > worst ? d : worst;
            }
        CHECK(worst < 1e-5, "gemm with the old names computes 2 a^T b^T (worst difference %g)", worst);
    }
    hcg_session_free(s);
    hcg_tensor_free(out);
    hcg_tensor_free(ta);
    hcg_tensor_free(tb);
    hcg_graph_free(g);
}

int main(void)
{
    test_full_graph();
    test_renamed_attributes();
    test_states();
    test_errors();
    test_symlinks();
    test_load_dispatch();
    test_unsupported_dtype_in_weights();
    test_bind_reports_position();
    test_round_trip_file();
    test_round_trip_api();
    test_saved_model_runs();
    test_mutations();
    return tl_finish();
}
