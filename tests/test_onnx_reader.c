/* test_onnx_reader.c — the ONNX reader on hand-written models (tests/onnx_data/make_models.py):
 * the structure of loaded graphs (typed initializer fields, external data, symbolic dims, the
 * input-as-attribute forms with '' inputs, aliases, Split and variadic ops, both Softmax
 * semantics), results of small models against onnxruntime's, and malformed files — broken tensors,
 * external data outside the model's folder, undefined values, cycles, wrong attribute types,
 * truncated and bit-flipped bytes — rejected with an error, never a crash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/session_impl.h"
#include "graph/graph.h"
#include "graph/onnx/onnx.h"
#include "testlib.h"

#define DATA "tests/onnx_data/"

static hcg_graph *load(const char *name)
{
    char rel[256];
    hcg_graph *g = NULL;
    snprintf(rel, sizeof rel, DATA "%s.onnx", name);
    if (!CHECK_OK(hcg_onnx_load(tl_src(rel), &g))) return NULL;
    return g;
}

static const hcg_node *node(const hcg_graph *g, const char *name)
{
    hcg_id id = hcg_graph_find(g, name);
    CHECK(id >= 0, "no node named '%s'", name);
    return id >= 0 ? &g->nodes[id] : NULL;
}

static bool values_are(const hcg_tensor *t, const double *want, int n)
{
    int64_t numel = 0;
    hcg_shape_numel(&t->shape, &numel);
    if (numel != n) return false;
    for (int i = 0; i < n; i++)
        if (tl_get(t, i) != want[i]) return false;
    return true;
}

/* Runs a loaded graph on the CPU with <name>_x.npy and compares every output with onnxruntime's
 * <name>_expected_<k>.npy. */
static void run_against_ort_tol(const hcg_graph *g, const char *name, double rtol, double atol)
{
    char rel[256];
    hcg_tensor *x = NULL, *outs[8] = {NULL};
    hcg_session *s = NULL;
    hcg_session_options opt = {.devices = "cpu"};
    snprintf(rel, sizeof rel, DATA "%s_x.npy", name);
    if (!CHECK_OK(hcg_npy_load(tl_src(rel), &x)) || !CHECK_OK(hcg_session_new(g, &opt, &s))) goto done;
    const hcg_tensor *in[1] = {x};
    if (!CHECK_OK(hcg_session_run(s, in, outs))) goto done;
    for (int k = 0; k < hcg_graph_num_outputs(g); k++) {
        hcg_tensor *want = NULL;
        char what[128];
        snprintf(rel, sizeof rel, DATA "%s_expected_%d.npy", name, k);
        snprintf(what, sizeof what, "%s output %d ('%s')", name, k, hcg_graph_output_name(g, k));
        if (CHECK_OK(hcg_npy_load(tl_src(rel), &want))) tl_tensor_close(outs[k], want, rtol, atol, what);
        hcg_tensor_free(want);
    }
done:
    for (int k = 0; k < 8; k++) hcg_tensor_free(outs[k]);
    hcg_session_free(s);
    hcg_tensor_free(x);
}

static void run_against_ort(const hcg_graph *g, const char *name) { run_against_ort_tol(g, name, 1e-6, 1e-6); }

/* ---------------------------------------------------------------- well-formed models */

static void test_initializers(void)
{
    hcg_graph *g = load("initializers");
    if (!g) return;
    /* w_raw is both an initializer and a graph input: a param, not an input. */
    CHECK(hcg_graph_num_inputs(g) == 1 && strcmp(hcg_graph_input_name(g, 0), "x") == 0, "only x is an input");
    const hcg_node *x = node(g, "x");
    if (x)
        CHECK(x->op == HCG_OP_INPUT && x->dtype == HCG_F32 && x->shape.rank == 2 && HCG_DIM_IS_SYM(x->shape.dims[0]) &&
                  strcmp(g->syms[HCG_DIM_SYM_ID(x->shape.dims[0])], "batch") == 0 && x->shape.dims[1] == 3,
              "x is f32[batch, 3]");
    static const struct {
        const char *name;
        hcg_dtype dt;
        int rank;
        double v[6];
        int n;
    } want[] = {
        {"w_float", HCG_F32, 1, {1.5, -2.0, 3.25}, 3},
        {"w_int32", HCG_I32, 1, {7, -8}, 2},
        {"w_int64", HCG_I64, 1, {1099511627776.0, -3}, 2},
        {"w_double", HCG_F32, 1, {0.5, 1e10}, 2}, /* DOUBLE initializers are narrowed to f32 */
        {"w_bool", HCG_BOOL, 1, {1, 0, 1}, 3},
        {"w_f16", HCG_F16, 1, {1.0, -0.5}, 2},
        {"w_raw", HCG_F32, 2, {0, 1, 2, 3, 4, 5}, 6},
        {"w_scalar", HCG_F32, 0, {4.0}, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const hcg_node *p = node(g, want[i].name);
        if (!p) continue;
        CHECK(p->op == HCG_OP_PARAM && p->value && p->value->dtype == want[i].dt && p->value->shape.rank == want[i].rank,
              "%s: a param of dtype %s and rank %d", want[i].name, hcg_dtype_name(want[i].dt), want[i].rank);
        if (p->value && p->value->dtype == want[i].dt)
            CHECK(values_are(p->value, want[i].v, want[i].n), "%s: values", want[i].name);
    }
    run_against_ort(g, "initializers");
    hcg_graph_free(g);
}

static void test_symbols(void)
{
    hcg_graph *g = load("symbols");
    if (!g) return;
    const hcg_node *a = node(g, "a"), *b = node(g, "b");
    if (a && b) {
        CHECK(a->shape.rank == 3 && b->shape.rank == 3 && a->shape.dims[2] == 4, "ranks and the fixed dim");
        CHECK(a->shape.dims[0] == b->shape.dims[0] && HCG_DIM_IS_SYM(a->shape.dims[0]), "'batch' is one symbol");
        CHECK(HCG_DIM_IS_SYM(a->shape.dims[1]) && HCG_DIM_IS_SYM(b->shape.dims[1]) && a->shape.dims[1] != b->shape.dims[1],
              "unnamed dims get distinct fresh symbols");
    }
    hcg_graph_free(g);
}

static void test_forms(void)
{
    hcg_graph *g = load("forms");
    if (!g) return;
    /* Clip(x, '', hi): the absent min becomes a -inf constant, under a name the model does not use. */
    const hcg_node *clip = node(g, "clipped"), *neg = node(g, "clipped/min_default");
    if (clip && CHECK(clip->op == HCG_OP_CLIP && clip->n_inputs == 3, "clip takes x, min, max")) {
        const hcg_node *lo = &g->nodes[clip->inputs[1]];
        CHECK(lo->op == HCG_OP_CONSTANT && lo->value && lo->value->dtype == HCG_F32 &&
                  isinf(((const float *)lo->value->data)[0]) && ((const float *)lo->value->data)[0] < 0,
              "the synthesised min is -inf");
        CHECK(strcmp(lo->name, "clipped/min_default") != 0, "made-up names avoid the model's names");
        CHECK(strcmp(g->nodes[clip->inputs[2]].name, "hi") == 0, "max is the initializer hi");
    }
    if (neg) CHECK(neg->op == HCG_OP_NEG, "the model's own 'clipped/min_default' is the Neg");
    /* Slice(data, starts, ends, '', steps): an empty axes list stands for the default. */
    const hcg_node *slice = node(g, "sliced");
    if (slice && CHECK(slice->op == HCG_OP_SLICE && slice->n_inputs == 5, "slice takes 5 inputs")) {
        const hcg_node *axes = &g->nodes[slice->inputs[3]];
        CHECK(axes->op == HCG_OP_CONSTANT && axes->value && axes->value->dtype == HCG_I64 &&
                  axes->value->shape.rank == 1 && axes->value->shape.dims[0] == 0,
              "the absent axes is an empty i64 constant");
    }
    /* Identity is an alias: no node of its own. */
    CHECK(hcg_graph_find(g, "alias") < 0, "Identity makes no node");
    /* Max of three inputs: a chain of two binary max nodes. */
    const hcg_node *max3 = node(g, "max3");
    if (max3 && CHECK(max3->op == HCG_OP_MAX && max3->n_inputs == 2, "max3 is a binary max")) {
        const hcg_node *first = &g->nodes[max3->inputs[0]];
        CHECK(first->op == HCG_OP_MAX && first->inputs[0] == hcg_graph_find(g, "sliced") &&
                  first->inputs[1] == hcg_graph_find(g, "x") && max3->inputs[1] == hcg_graph_find(g, "clipped"),
              "the chain is max(max(alias, x), clipped)");
    }
    /* Split: one node per output, picking its part. */
    for (int i = 0; i < 2; i++) {
        char name[16];
        snprintf(name, sizeof name, "part%d", i);
        const hcg_node *p = node(g, name);
        if (p)
            CHECK(p->op == HCG_OP_SPLIT && hcg_attr_int(p, "index") == i && hcg_attr_int(p, "parts") == 2 &&
                      hcg_attr_int(p, "axis") == 1,
                  "%s is split part %d of 2 on axis 1", name, i);
    }
    /* Constants from value_float and value_ints. */
    const hcg_node *cf = node(g, "cf"), *cis = node(g, "cis");
    if (cf) CHECK(cf->op == HCG_OP_CONSTANT && cf->value->dtype == HCG_F32 && cf->value->shape.rank == 0 &&
                      ((const float *)cf->value->data)[0] == 2.0f, "value_float");
    if (cis) CHECK(cis->op == HCG_OP_CONSTANT && values_are(cis->value, (const double[]){1, 2, 3}, 3) &&
                       cis->value->dtype == HCG_I64, "value_ints");
    /* Outputs keep their names; out1 aliases part1. */
    CHECK(hcg_graph_num_outputs(g) == 4 && strcmp(hcg_graph_output_name(g, 1), "out1") == 0 &&
              g->outputs[1] == hcg_graph_find(g, "part1"),
          "output out1 is the node part1");
    run_against_ort(g, "forms");
    hcg_graph_free(g);
}

static void test_softmax_opsets(void)
{
    hcg_graph *g11 = load("softmax11"), *g13 = load("softmax13");
    if (g11) {
        const hcg_node *y = node(g11, "y");
        CHECK(y && y->op == HCG_OP_RESHAPE, "opset 11: softmax on the input coerced to 2-D, reshaped back");
        run_against_ort(g11, "softmax11");
    }
    if (g13) {
        const hcg_node *y = node(g13, "y");
        CHECK(y && y->op == HCG_OP_SOFTMAX && hcg_attr_int(y, "axis") == 1, "opset 13: softmax along axis 1");
        run_against_ort(g13, "softmax13");
    }
    hcg_graph_free(g11);
    hcg_graph_free(g13);
}

static void test_unsorted_and_external(void)
{
    hcg_graph *g = load("unsorted");
    if (g) {
        CHECK(hcg_graph_find(g, "t") < hcg_graph_find(g, "y"), "nodes are put in topological order");
        run_against_ort(g, "unsorted");
        hcg_graph_free(g);
    }
    g = load("external");
    if (g) {
        const hcg_node *w = node(g, "w_ext");
        if (w) CHECK(w->op == HCG_OP_PARAM && values_are(w->value, (const double[]){1, 2, 3}, 3), "external data");
        run_against_ort(g, "external");
        hcg_graph_free(g);
    }
}

/* FLOAT16 compute: casts to f32 around each op; the result is f16 again. onnxruntime rounds to
 * f16 at other points, so the results agree to f16 precision (2^-11 relative), not exactly. */
static void test_half(void)
{
    hcg_graph *g = load("half");
    if (!g) return;
    const hcg_node *mm = node(g, "mm"), *y = node(g, "y");
    if (mm) CHECK(mm->op == HCG_OP_CAST && g->nodes[mm->inputs[0]].op == HCG_OP_MATMUL, "f16 MatMul = cast(matmul(f32))");
    if (y) CHECK(y->op == HCG_OP_CAST && strcmp(hcg_attr_string(y, "to"), "f16") == 0, "the result is cast back to f16");
    run_against_ort_tol(g, "half", 2e-3, 1e-3);
    hcg_graph_free(g);
    /* UINT8: computed in i32, cast back with wrap-around (200 + 100 = 44, 0 - 255 = 1). */
    g = load("uint8");
    if (g) {
        run_against_ort(g, "uint8");
        hcg_graph_free(g);
    }
}

/* The op the bound graph computes output k with on devices (all passes). */
static hcg_op bound_output_op(const hcg_graph *g, const char *devices, const char *input, int k)
{
    char rel[256];
    hcg_tensor *x = NULL, *outs[8] = {NULL};
    hcg_session *s = NULL;
    hcg_session_options opt = {.devices = devices};
    hcg_op op = HCG_OP_COUNT;
    snprintf(rel, sizeof rel, DATA "%s_x.npy", input);
    if (CHECK_OK(hcg_npy_load(tl_src(rel), &x)) && CHECK_OK(hcg_session_new(g, &opt, &s)) &&
        CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, outs))) {
        const hcg_graph *b = s->last_plan->bound;
        op = b->nodes[b->outputs[k]].op;
    }
    for (int i = 0; i < 8; i++) hcg_tensor_free(outs[i]);
    hcg_session_free(s);
    hcg_tensor_free(x);
    return op;
}

/* ONNX Runtime's two quantized forms. QDQ: DequantizeLinear of an int8 weight (per column, with
 * zero points of 0) feeding MatMul + Add becomes one quant_matmul; of a uint8 table (one scale and
 * zero point) feeding Gather, a gather of the stored rows then dequantize. Dynamic:
 * DynamicQuantizeLinear, MatMulInteger, Cast and the scales, exactly as numpy computes them. */
static void test_quantized(void)
{
    hcg_graph *g = load("qdq");
    if (g) {
        const hcg_node *w = node(g, "w");
        if (w) CHECK(w->op == HCG_OP_DEQUANTIZE && hcg_attr_int(w, "axis") == 1, "DequantizeLinear is dequantize");
        run_against_ort_tol(g, "qdq", 1e-5, 1e-6);
        CHECK(bound_output_op(g, "cpu", "qdq", 0) == HCG_OP_QUANT_MATMUL, "QDQ weights: quant_matmul with its bias");
        CHECK(bound_output_op(g, "cpu", "qdq", 1) == HCG_OP_DEQUANTIZE, "QDQ table: its rows gathered, then dequantized");
        if (hcg_device_find("opencl:0"))
            CHECK(bound_output_op(g, "opencl:0", "qdq", 0) == HCG_OP_QUANT_MATMUL, "QDQ weights on opencl:0");
        hcg_graph_free(g);
    }
    g = load("dynamic");
    if (g) {
        const hcg_node *acc = node(g, "acc");
        if (acc) CHECK(acc->op == HCG_OP_MATMUL_INTEGER, "MatMulInteger is matmul_integer");
        run_against_ort(g, "dynamic");
        hcg_graph_free(g);
    }
}

/* Opset 18 (reduction axes as inputs, Split num_outputs) and opset 20 (Gelu). */
static void test_newer_opsets(void)
{
    hcg_graph *g = load("opset18");
    if (g) {
        const hcg_node *s1 = node(g, "s1");
        if (s1) CHECK(s1->op == HCG_OP_SPLIT && hcg_attr_int(s1, "parts") == 2 && hcg_attr_int(s1, "index") == 1,
                      "num_outputs: part 1 of 2");
        run_against_ort(g, "opset18");
        hcg_graph_free(g);
    }
    g = load("gelu20");
    if (g) {
        const hcg_node *t = node(g, "tanh");
        if (t) CHECK(t->op == HCG_OP_GELU && strcmp(hcg_attr_string(t, "approximate"), "tanh") == 0, "Gelu tanh");
        run_against_ort_tol(g, "gelu20", 1e-5, 1e-6);
        hcg_graph_free(g);
    }
}

/* Very negative attribute values (INT64_MIN ends, -3.4e38 fills) are numbers, not symbols. */
static void test_big_values(void)
{
    hcg_graph *g = load("big_values");
    if (!g) return;
    run_against_ort(g, "big_values");
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- malformed models */

static void expect_failure(const char *name, hcg_status want, const char *needle)
{
    char rel[256];
    hcg_graph *g = NULL;
    snprintf(rel, sizeof rel, DATA "%s.onnx", name);
    hcg_status st = hcg_onnx_load(tl_src(rel), &g);
    char what[300];
    snprintf(what, sizeof what, "loading %s", name);
    tl_check_fails(st, want, needle, what, __FILE__, __LINE__);
    CHECK(g == NULL, "%s: no graph on failure", name);
    hcg_graph_free(g);
}

static void test_malformed(void)
{
    expect_failure("bad_ext_parent", HCG_ERR_FORMAT, "leaves the model's folder");
    expect_failure("bad_ext_absolute", HCG_ERR_FORMAT, "absolute path");
    expect_failure("bad_ext_past_end", HCG_ERR_FORMAT, "run past the end");
    expect_failure("bad_ext_length", HCG_ERR_FORMAT, "does not match");
    expect_failure("bad_ext_missing", HCG_ERR_IO, "no_such_file.bin");
    expect_failure("bad_raw_short", HCG_ERR_FORMAT, "raw_data has 20 bytes");
    expect_failure("bad_dims_overflow", HCG_ERR_FORMAT, "overflows");
    expect_failure("bad_dims_negative", HCG_ERR_FORMAT, "negative");
    expect_failure("bad_typed_count", HCG_ERR_FORMAT, "float_data");
    /* found by the fuzzer: dims asking for ~9e18 bytes with a few typed values; refused before
     * any allocation */
    expect_failure("fuzz_huge_typed_dims", HCG_ERR_FORMAT, "but its dims need");
    expect_failure("bad_undefined", HCG_ERR_GRAPH, "'nowhere'");
    expect_failure("bad_cycle", HCG_ERR_GRAPH, "cycle");
    expect_failure("bad_twice", HCG_ERR_GRAPH, "defined twice");
    expect_failure("bad_output", HCG_ERR_GRAPH, "'z'");
    expect_failure("bad_output_dtype", HCG_ERR_FORMAT, "declared INT64 but the graph computes FLOAT");
    expect_failure("bad_attr_type", HCG_ERR_FORMAT, "'axis' must be INT, got FLOAT");
    expect_failure("bad_op", HCG_ERR_UNSUPPORTED, "node 'conv1' (FancyConv, opset 17)");
    expect_failure("bad_dtype", HCG_ERR_UNSUPPORTED, "'w_int16' has dtype INT16");
    expect_failure("bad_opset", HCG_ERR_UNSUPPORTED, "opset 99");
    expect_failure("bad_rank", HCG_ERR_UNSUPPORTED, "rank 9");

    /* A symlink beside the model that points outside its folder. */
    char dir[512], cmd[2048], model[600];
    snprintf(dir, sizeof dir, "%s/symlink", tl_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/m.onnx' && printf 0123456789abcdef > '%s/outside.bin' && ln -s ../outside.bin '%s/link.bin'",
             dir, tl_src(DATA "bad_ext_symlink.onnx"), dir, tl_tmpdir(), dir);
    if (CHECK(tl_run(cmd, NULL, 0) == 0, "set up the symlink case")) {
        hcg_graph *g = NULL;
        snprintf(model, sizeof model, "%s/m.onnx", dir);
        CHECK_FAILS(hcg_onnx_load(model, &g), HCG_ERR_FORMAT, "resolves outside");
        hcg_graph_free(g);
    }
    hcg_graph *g = NULL;
    CHECK_FAILS(hcg_onnx_load(tl_src(DATA "no_such_model.onnx"), &g), HCG_ERR_IO, "no_such_model.onnx");
    CHECK_FAILS(hcg_onnx_load(tl_src(DATA), &g), HCG_ERR_IO, "not a regular file");
}

/* Loads bytes from memory; the result must be a graph or an error with a message. */
static hcg_status load_bytes(const uint8_t *data, size_t len, const char *what)
{
    hcg_graph *g = NULL;
    hcg_status st = hcg_onnx_load_buffer(data, len, NULL, what, NULL, &g);
    if (st) CHECK(g == NULL && hcg_last_error()[0] != '\0', "%s: an error needs a message", what);
    else CHECK(g != NULL, "%s: success needs a graph", what);
    hcg_graph_free(g);
    return st;
}

static void test_damaged_bytes(void)
{
    static const uint8_t empty[1] = {0};
    CHECK_FAILS(hcg_onnx_load_buffer(empty, 0, NULL, "empty", NULL, &(hcg_graph *){NULL}), HCG_ERR_FORMAT, "no graph");
    /* Field 7 (graph, a message) sent as a varint: the wrong wire type. */
    static const uint8_t wrong_wire[] = {0x08, 0x08, 0x38, 0x01};
    CHECK_FAILS(hcg_onnx_load_buffer(wrong_wire, sizeof wrong_wire, NULL, "wire", NULL, &(hcg_graph *){NULL}),
                HCG_ERR_FORMAT, "protobuf decoding failed");
    /* A length prefix far beyond the end. */
    static const uint8_t long_len[] = {0x3a, 0xff, 0xff, 0xff, 0x7f, 0x0a};
    CHECK_FAILS(hcg_onnx_load_buffer(long_len, sizeof long_len, NULL, "length", NULL, &(hcg_graph *){NULL}),
                HCG_ERR_FORMAT, "protobuf decoding failed");

    /* Graphs nested in attributes of nodes of graphs ..., 100000 levels deep: protobuf-c would
     * recurse that deep; the reader must refuse before. Each level wraps the one inside it as
     * Graph.node(1) -> Node.attribute(5) -> Attribute.g(6), and the innermost graph is empty, so
     * the file is just headers (tag, length of everything after it), built inside out into the
     * end of the buffer. */
    enum { LEVELS = 3 * 100000 };
    size_t cap = (size_t)LEVELS * 6 + 8, pos = cap;
    uint8_t *deep = malloc(cap);
    for (int level = 0; deep && level <= LEVELS; level++) {
        static const uint8_t tags[3] = {0x32, 0x2a, 0x0a};
        uint8_t hdr[8];
        size_t n = 0, v = cap - pos;
        hdr[n++] = level == LEVELS ? 0x3a : tags[level % 3]; /* the outermost: ModelProto.graph (7) */
        do {
            hdr[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        pos -= n;
        memcpy(deep + pos, hdr, n);
    }
    if (deep)
        CHECK_FAILS(hcg_onnx_load_buffer(deep + pos, cap - pos, NULL, "deep", NULL, &(hcg_graph *){NULL}),
                    HCG_ERR_FORMAT, "nest more than");
    free(deep);

    size_t len;
    char *model = tl_read_file(tl_src(DATA "forms.onnx"), &len);
    if (!CHECK(model != NULL, "read forms.onnx")) return;
    const uint8_t *bytes = (const uint8_t *)model;
    CHECK(load_bytes(bytes, len, "forms.onnx") == HCG_OK, "the whole file loads");
    /* Every truncation: an error (or, where the cut falls after the last field that matters, a
     * graph), never a crash. The cuts inside the graph must all fail. */
    int truncated_ok = 0;
    for (size_t cut = 0; cut < len; cut++)
        if (load_bytes(bytes, cut, "truncated") == HCG_OK) truncated_ok++;
    CHECK(truncated_ok == 0, "%d truncations of forms.onnx loaded", truncated_ok);
    /* Every single-bit flip of the file. */
    uint8_t *copy = malloc(len);
    int flipped_ok = 0, flipped_err = 0;
    for (size_t i = 0; copy && i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, bytes, len);
            copy[i] ^= (uint8_t)(1u << bit);
            if (load_bytes(copy, len, "bit flip") == HCG_OK) flipped_ok++;
            else flipped_err++;
        }
    }
    printf("bit flips of forms.onnx: %d rejected, %d still loaded (a flipped name or value)\n", flipped_err, flipped_ok);
    CHECK(flipped_err > 0, "some bit flips must be rejected");
    free(copy);
    free(model);
}

int main(void)
{
    test_initializers();
    test_symbols();
    test_forms();
    test_softmax_opsets();
    test_unsorted_and_external();
    test_big_values();
    test_newer_opsets();
    test_half();
    test_quantized();
    test_malformed();
    test_damaged_bytes();
    return tl_finish();
}
