/* test_passes.c — every rewrite pass alone (graph/passes.h): a small graph in the exact form an
 * exporter writes is bound with only that pass, which must turn the pattern's last node into the
 * fused op, and the result must match the same graph bound with no passes (the unfused ops as
 * reference) on the CPU and on each OpenCL device. Also: a pattern whose middle node has another
 * consumer is left alone, and "none" / unknown names behave. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h" /* hcg_float_to_half */
#include "backend/session_impl.h"
#include "graph/bind.h"
#include "graph/graph.h"
#include "testlib.h"
#include "graph/half.h"

static hcg_tensor *rand_tensor(int rank, const int64_t *dims, unsigned seed, float lo, float hi)
{
    hcg_shape s = hcg_shape_make(rank, dims);
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_F32, &s, &t);
    float *p = t->data;
    for (size_t i = 0; i < t->nbytes / 4; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = lo + (hi - lo) * (float)((seed >> 8) & 0xffff) / 65535.0f;
    }
    return t;
}

static hcg_id scalar(hcg_graph *g, const char *name, float v)
{
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_F32, &(hcg_shape){0}, &t);
    ((float *)t->data)[0] = v;
    return hcg_constant(g, name, t);
}

/* Runs g with passes on devices; returns the output and the bound output node's op. */
static hcg_tensor *run(const hcg_graph *g, const char *passes, const char *devices, hcg_tensor **in, hcg_op *op)
{
    hcg_session *s = NULL;
    hcg_session_options opt = {.devices = devices, .passes = passes};
    hcg_tensor *out = NULL;
    if (!CHECK_OK(hcg_session_new(g, &opt, &s))) return NULL;
    if (CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)in, &out)) && op)
        *op = s->last_plan->bound->nodes[s->last_plan->bound->outputs[0]].op;
    hcg_session_free(s);
    return out;
}

/* The pass alone makes want at the output and keeps the values of the unfused graph. */
static void check_pass(hcg_graph *g, hcg_tensor **in, const char *pass, hcg_op want, int expect_notes)
{
    static const char *const devs[] = {"cpu", "opencl:0"};
    for (int d = 0; d < 2; d++) {
        if (!hcg_device_find(devs[d])) continue;
        hcg_op got_op = HCG_OP_COUNT, ref_op = HCG_OP_COUNT;
        hcg_tensor *ref = run(g, "none", devs[d], in, &ref_op), *got = run(g, pass, devs[d], in, &got_op);
        CHECK(got_op == want, "%s on %s: the output is %s, want %s", pass, devs[d], hcg_op_name(got_op), hcg_op_name(want));
        CHECK(ref_op != want || expect_notes == 0, "%s: without passes the output is not fused", pass);
        char what[128];
        snprintf(what, sizeof what, "%s on %s vs unfused", pass, devs[d]);
        if (got && ref) tl_tensor_close(got, ref, 2e-5, 2e-6, what);
        hcg_tensor_free(got);
        hcg_tensor_free(ref);
    }
}

static void test_layer_norm(void)
{
    hcg_graph *g = hcg_graph_new();
    int64_t d[2] = {5, 24}, n = 24;
    hcg_id x = hcg_input(g, "x", HCG_F32, 2, d);
    hcg_attr ax[2] = {HCG_ATTR_IS("axes", (int64_t[]){-1}, 1), HCG_ATTR_I("keepdims", 1)};
    hcg_id mean = hcg_add_node(g, HCG_OP_REDUCE_MEAN, "mean", &x, 1, ax, 2);
    hcg_id dd = hcg_sub(g, x, mean);
    hcg_id p_in[2] = {dd, scalar(g, "two", 2.0f)};
    hcg_id p = hcg_add_node(g, HCG_OP_POW, "sq", p_in, 2, NULL, 0);
    hcg_id var = hcg_add_node(g, HCG_OP_REDUCE_MEAN, "var", &p, 1, ax, 2);
    hcg_id ve = hcg_add(g, var, scalar(g, "eps", 1e-5f));
    hcg_id sd = hcg_unary(g, HCG_OP_SQRT, ve);
    hcg_id nn = hcg_div(g, dd, sd);
    hcg_id y = hcg_mul(g, nn, hcg_param(g, "gamma", rand_tensor(1, &n, 3, 0.5f, 1.5f)));
    hcg_id out = hcg_add(g, y, hcg_param(g, "beta", rand_tensor(1, &n, 4, -1, 1)));
    CHECK_OK(hcg_output(g, out, "y"));
    hcg_tensor *in[1] = {rand_tensor(2, d, 1, -3, 5)};
    check_pass(g, in, "layer_norm", HCG_OP_LAYER_NORM, 1);
    hcg_tensor_free(in[0]);
    hcg_graph_free(g);
}

static void test_gelu(void)
{
    hcg_graph *g = hcg_graph_new();
    int64_t d[2] = {7, 33};
    hcg_id x = hcg_input(g, "x", HCG_F32, 2, d);
    hcg_id e = hcg_unary(g, HCG_OP_ERF, hcg_div(g, x, scalar(g, "sqrt2", 1.4142135f)));
    hcg_id a = hcg_add(g, e, scalar(g, "one", 1.0f));
    hcg_id out = hcg_mul(g, hcg_mul(g, x, a), scalar(g, "half", 0.5f));
    CHECK_OK(hcg_output(g, out, "y"));
    hcg_tensor *in[1] = {rand_tensor(2, d, 2, -6, 6)};
    check_pass(g, in, "gelu", HCG_OP_GELU, 1);
    hcg_tensor_free(in[0]);
    hcg_graph_free(g);
}

/* matmul(a, transpose(b)) for transpose_matmul; * 0.125 for matmul_scale; + bias for
 * matmul_bias; gelu for matmul_activation. */
static hcg_graph *product_graph(int which, int64_t *ad, int64_t *bd)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id a = hcg_input(g, "a", HCG_F32, 3, ad);
    hcg_id b = hcg_param(g, "w", rand_tensor(2, bd, 9, -1, 1));
    hcg_id m = which == 0 ? hcg_matmul(g, a, hcg_transpose(g, b, 2, (int64_t[]){1, 0}), false, false)
                          : hcg_matmul(g, a, b, false, true);
    int64_t nb = bd[0];
    hcg_id out = m;
    if (which == 1) out = hcg_mul(g, scalar(g, "s", 0.125f), m);
    if (which == 2) out = hcg_add(g, hcg_param(g, "bias", rand_tensor(1, &nb, 8, -1, 1)), m);
    if (which == 3) out = hcg_unary(g, HCG_OP_GELU, m);
    hcg_output(g, out, "y");
    return g;
}

static void test_products(void)
{
    static const char *const names[] = {"transpose_matmul", "matmul_scale", "matmul_bias", "matmul_activation"};
    static const hcg_op ops[] = {HCG_OP_MATMUL, HCG_OP_FUSED_MATMUL, HCG_OP_FUSED_MATMUL, HCG_OP_FUSED_MATMUL};
    int64_t ad[3] = {2, 9, 16}, bd[2] = {12, 16};
    hcg_tensor *in[1] = {rand_tensor(3, ad, 5, -2, 2)};
    for (int w = 0; w < 4; w++) {
        hcg_graph *g = product_graph(w, ad, bd);
        check_pass(g, in, names[w], ops[w], w == 0 ? 0 : 1);
        hcg_graph_free(g);
    }
    hcg_tensor_free(in[0]);
}

/* BERT's export: q, k, v [B, S, H, D] -> head transposes -> scores / sqrt(D) + mask -> softmax ->
 * @ v -> transpose back. shared_scores: the scores have a second consumer (an output), so the
 * pattern must stay as it is. */
static void test_attention(bool shared_scores)
{
    hcg_graph *g = hcg_graph_new();
    int64_t qd[4] = {2, 10, 3, 8}, md[4] = {2, 1, 1, 10};
    hcg_id q = hcg_input(g, "q", HCG_F32, 4, qd), k = hcg_input(g, "k", HCG_F32, 4, qd);
    hcg_id v = hcg_input(g, "v", HCG_F32, 4, qd), mask = hcg_input(g, "mask", HCG_F32, 4, md);
    int64_t hf[4] = {0, 2, 1, 3}, kt[4] = {0, 2, 3, 1};
    hcg_id s = hcg_matmul(g, hcg_transpose(g, q, 4, hf), hcg_transpose(g, k, 4, kt), false, false);
    hcg_id sc = hcg_add(g, hcg_div(g, s, scalar(g, "sqrt_d", sqrtf(8.0f))), mask);
    hcg_id ctx = hcg_matmul(g, hcg_softmax(g, sc, -1), hcg_transpose(g, v, 4, hf), false, false);
    CHECK_OK(hcg_output(g, hcg_transpose(g, ctx, 4, hf), "y"));
    if (shared_scores) CHECK_OK(hcg_output(g, sc, "scores"));
    hcg_tensor *in[4] = {rand_tensor(4, qd, 11, -2, 2), rand_tensor(4, qd, 12, -2, 2), rand_tensor(4, qd, 13, -2, 2),
                         rand_tensor(4, md, 14, -1, 0)};
    float *m = in[3]->data;
    m[7] = m[19] = -INFINITY; /* padding keys */
    if (!shared_scores) {
        check_pass(g, in, "attention", HCG_OP_ATTENTION, 1);
    } else {
        hcg_op op = HCG_OP_COUNT;
        hcg_session *se = NULL;
        hcg_session_options opt = {.devices = "cpu", .passes = "attention"};
        hcg_tensor *out[2] = {NULL, NULL};
        if (CHECK_OK(hcg_session_new(g, &opt, &se)) && CHECK_OK(hcg_session_run(se, (const hcg_tensor *const *)in, out)))
            op = se->last_plan->bound->nodes[se->last_plan->bound->outputs[0]].op;
        CHECK(op == HCG_OP_TRANSPOSE, "scores used twice: no attention rewrite (output is %s)", hcg_op_name(op));
        CHECK(se && se->last_plan->bound->n_notes == 0, "and no rewrite noted");
        hcg_tensor_free(out[0]);
        hcg_tensor_free(out[1]);
        hcg_session_free(se);
    }
    for (int i = 0; i < 4; i++) hcg_tensor_free(in[i]);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- weights stored small */

/* An int8 tensor of shape dims with values in [-127, 127]. */
static hcg_tensor *rand_i8(int rank, const int64_t *dims, unsigned seed)
{
    hcg_shape s = hcg_shape_make(rank, dims);
    hcg_tensor *t = NULL;
    hcg_tensor_new(HCG_I8, &s, &t);
    int8_t *p = t->data;
    for (size_t i = 0; i < t->nbytes; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (int8_t)((int)((seed >> 8) % 255u) - 127);
    }
    return t;
}

static hcg_tensor *to_f16(hcg_tensor *t)
{
    hcg_tensor *h = NULL;
    hcg_tensor_new(HCG_F16, &t->shape, &h);
    for (size_t i = 0; i < t->nbytes / 4; i++) ((uint16_t *)h->data)[i] = hcg_float_to_half(((float *)t->data)[i]);
    hcg_tensor_free(t);
    return h;
}

/* x @ W(+ bias, gelu) with W a weight widened from small storage: layout 0 f16 (a cast), 1 int8 per
 * output column, 2 int8 per block of 16 along K (K = 40: a short last block), 3 int8 with one scale;
 * tb: W [N, K] read transposed. dequantize_matmul alone makes quant_matmul (fused_matmul for f16);
 * with the epilogue passes the bias and the gelu fold into it. */
static hcg_graph *small_weight_graph(int layout, bool tb, bool epilogue, int64_t *xd)
{
    hcg_graph *g = hcg_graph_new();
    int64_t k = 40, n = 24, wd[2] = {tb ? n : k, tb ? k : n}, blocks = 3;
    hcg_id x = hcg_input(g, "x", HCG_F32, 3, xd), w;
    if (layout == 0) {
        hcg_id w16 = hcg_param(g, "w16", to_f16(rand_tensor(2, wd, 21, -1, 1)));
        w = hcg_add_node(g, HCG_OP_CAST, "w", &w16, 1, &HCG_ATTR_S("to", "f32"), 1);
    } else {
        hcg_id q = hcg_param(g, "wq", rand_i8(2, wd, 22));
        int64_t sd[2] = {tb ? n : blocks, tb ? blocks : n};
        hcg_id s = layout == 1 ? hcg_param(g, "ws", rand_tensor(1, &n, 23, 0.005f, 0.02f))
                 : layout == 2 ? hcg_param(g, "ws", rand_tensor(2, sd, 24, 0.005f, 0.02f))
                               : scalar(g, "ws", 0.01f);
        hcg_attr at[2] = {HCG_ATTR_I("axis", layout == 1 ? (tb ? 0 : 1) : (tb ? 1 : 0)),
                          HCG_ATTR_I("block_size", layout == 2 ? 16 : 0)};
        hcg_id in[2] = {q, s};
        w = hcg_add_node(g, HCG_OP_DEQUANTIZE, "w", in, 2, at, 2);
    }
    hcg_id y = hcg_matmul(g, x, w, false, tb);
    if (epilogue) {
        y = hcg_add(g, y, hcg_param(g, "bias", rand_tensor(1, &n, 25, -1, 1)));
        y = hcg_unary(g, HCG_OP_GELU, y);
    }
    hcg_output(g, y, "y");
    return g;
}

static void test_small_weights(void)
{
    int64_t xd[3] = {2, 5, 40};
    hcg_tensor *in[1] = {rand_tensor(3, xd, 26, -1, 1)};
    for (int layout = 0; layout < 4; layout++) {
        for (int tb = 0; tb < 2; tb++) {
            hcg_op want = layout == 0 ? HCG_OP_FUSED_MATMUL : HCG_OP_QUANT_MATMUL;
            hcg_graph *g = small_weight_graph(layout, tb, false, xd);
            check_pass(g, in, "dequantize_matmul", want, 1);
            hcg_graph_free(g);
            g = small_weight_graph(layout, tb, true, xd);
            check_pass(g, in, "dequantize_matmul,matmul_bias,matmul_activation", want, 3);
            hcg_graph_free(g);
        }
    }
    hcg_tensor_free(in[0]);
}

/* gather(table widened from small storage, ids): layout 0 f16, 1 int8 per row, 2 int8 per block of 8
 * along the rows (a short last block), 3 int8 with one scale. dequantize_gather gathers the stored
 * rows and widens only those: a cast (f16) or a dequantize at the output. */
static void test_small_table(void)
{
    int64_t v = 50, d = 20, td[2] = {v, d}, ids_d[2] = {2, 3};
    hcg_shape is = hcg_shape_make(2, ids_d);
    hcg_tensor *ids = NULL;
    hcg_tensor_new(HCG_I64, &is, &ids);
    int64_t pick[6] = {0, 49, 7, 7, 12, 33};
    memcpy(ids->data, pick, sizeof pick);
    hcg_tensor *in[1] = {ids};
    for (int layout = 0; layout < 4; layout++) {
        hcg_graph *g = hcg_graph_new();
        hcg_id idx = hcg_input(g, "ids", HCG_I64, 2, ids_d), table;
        if (layout == 0) {
            hcg_id t16 = hcg_param(g, "t16", to_f16(rand_tensor(2, td, 31, -1, 1)));
            table = hcg_add_node(g, HCG_OP_CAST, "table", &t16, 1, &HCG_ATTR_S("to", "f32"), 1);
        } else {
            int64_t sd[2] = {v, 3};
            hcg_id q = hcg_param(g, "tq", rand_i8(2, td, 32));
            hcg_id s = layout == 1 ? hcg_param(g, "ts", rand_tensor(1, &v, 33, 0.005f, 0.02f))
                     : layout == 2 ? hcg_param(g, "ts", rand_tensor(2, sd, 34, 0.005f, 0.02f))
                                   : scalar(g, "ts", 0.01f);
            hcg_attr at[2] = {HCG_ATTR_I("axis", layout == 1 ? 0 : 1), HCG_ATTR_I("block_size", layout == 2 ? 8 : 0)};
            hcg_id qs[2] = {q, s};
            table = hcg_add_node(g, HCG_OP_DEQUANTIZE, "table", qs, 2, at, 2);
        }
        hcg_id gi[2] = {table, idx};
        hcg_id rows = hcg_add_node(g, HCG_OP_GATHER, "rows", gi, 2, &HCG_ATTR_I("axis", 0), 1);
        hcg_output(g, rows, "rows");
        check_pass(g, in, "dequantize_gather", layout == 0 ? HCG_OP_CAST : HCG_OP_DEQUANTIZE, 1);
        hcg_graph_free(g);
    }
    hcg_tensor_free(ids);
}

/* ---------------------------------------------------------------- weights stored transposed */

/* The bound graph of g for input shape xd with passes; params fixed unless params_variable. */
static hcg_graph *bound(const hcg_graph *g, const int64_t *xd, const char *passes, bool params_variable)
{
    hcg_shape s = hcg_shape_make(3, xd);
    hcg_bind_options bo = {.eval = hcg_cpu_eval, .passes = passes, .params_variable = params_variable};
    hcg_graph *b = NULL;
    CHECK_OK(hcg_graph_bind(g, &s, &bo, &b));
    return b;
}

/* The product in bound graph b (the one of op), or NULL. */
static const hcg_node *product_of(const hcg_graph *b, hcg_op op)
{
    for (int i = 0; b && i < b->n_nodes; i++)
        if (b->nodes[i].op == op) return &b->nodes[i];
    return NULL;
}

/* x @ W^T with W [12, 16] a param: transpose_weights stores W [16, 12] as a constant (checked
 * element by element against W), the product reads it untransposed, the param is gone, and the
 * values are the unrewritten graph's on each device. Left alone: a graph bound with params_variable
 * (training), and a weight that another node also reads as it is (here as a product's a). */
static void test_transpose_weights(void)
{
    int64_t xd[3] = {2, 5, 16}, wd[2] = {12, 16};
    hcg_tensor *in[1] = {rand_tensor(3, xd, 41, -1, 1)};
    for (int shared = 0; shared < 2; shared++) {
        hcg_graph *g = hcg_graph_new();
        hcg_id x = hcg_input(g, "x", HCG_F32, 3, xd);
        hcg_tensor *wt = rand_tensor(2, wd, 42, -1, 1);
        const float *w = wt->data;
        hcg_id wp = hcg_param(g, "w", wt);
        hcg_id y = hcg_matmul(g, x, wp, false, true);
        hcg_output(g, y, "y");
        if (shared) hcg_output(g, hcg_matmul(g, wp, x, false, true), "w_x"); /* W read as a, as it is */
        hcg_graph *b = bound(g, xd, "transpose_weights", false);
        const hcg_node *p = product_of(b, HCG_OP_MATMUL);
        if (CHECK(p, "the product is still there")) {
            const hcg_node *bw = &b->nodes[p->inputs[1]];
            if (shared) {
                CHECK(hcg_attr_int(p, "transpose_b") == 1 && bw->op == HCG_OP_PARAM,
                      "a weight also read as a product's a is left as it is");
            } else if (CHECK(hcg_attr_int(p, "transpose_b") == 0 && bw->op == HCG_OP_CONSTANT && bw->value &&
                                 bw->shape.rank == 2 && bw->shape.dims[0] == 16 && bw->shape.dims[1] == 12,
                             "the product reads a [16, 12] constant untransposed")) {
                const float *t = bw->value->data;
                int bad = 0;
                for (int r = 0; r < 16; r++)
                    for (int c = 0; c < 12; c++) bad += t[r * 12 + c] != w[c * 16 + r];
                CHECK(bad == 0, "the constant is W transposed (%d elements differ)", bad);
                bool param_left = false;
                for (int i = 0; i < b->n_nodes; i++) param_left |= b->nodes[i].op == HCG_OP_PARAM;
                CHECK(!param_left, "the original weight is not kept in the bound graph");
            }
        }
        hcg_graph_free(b);
        b = bound(g, xd, "transpose_weights", true);
        p = product_of(b, HCG_OP_MATMUL);
        CHECK(p && hcg_attr_int(p, "transpose_b") == 1 && b->nodes[p->inputs[1]].op == HCG_OP_PARAM,
              "params that vary (training) keep their layout");
        hcg_graph_free(b);
        if (!shared) check_pass(g, in, "transpose_weights", HCG_OP_MATMUL, 0);
        hcg_graph_free(g);
    }
    /* Weights stored small, read by the products themselves: f16 (fused_matmul) and int8 with a
     * scale per output column (quant_matmul) are stored transposed; int8 with scales per block along
     * K (whose scales would need transposing too) is left as it is. */
    int64_t sxd[3] = {2, 5, 40};
    hcg_tensor *sin[1] = {rand_tensor(3, sxd, 26, -1, 1)};
    for (int layout = 0; layout < 3; layout++) {
        hcg_op want = layout == 0 ? HCG_OP_FUSED_MATMUL : HCG_OP_QUANT_MATMUL;
        hcg_graph *g = small_weight_graph(layout, true, true, sxd);
        hcg_graph *b = bound(g, sxd, "dequantize_matmul,transpose_weights", false);
        const hcg_node *p = product_of(b, want);
        if (CHECK(p, "layout %d: the product reads the small weight", layout)) {
            bool flipped = hcg_attr_int(p, "transpose_b") == 0;
            const hcg_node *bw = &b->nodes[p->inputs[1]];
            CHECK(flipped == (layout != 2), "layout %d: transposed %s", layout, flipped ? "yes" : "no");
            if (flipped && CHECK(bw->op == HCG_OP_CONSTANT && bw->shape.dims[0] == 40 && bw->shape.dims[1] == 24,
                                 "layout %d: the weight is stored [40, 24]", layout)) {
                const hcg_tensor *orig = g->nodes[hcg_graph_find(g, layout == 0 ? "w16" : "wq")].value;
                size_t es = hcg_dtype_size(orig->dtype);
                int bad = 0;
                for (int r = 0; r < 40; r++)
                    for (int c = 0; c < 24; c++)
                        bad += memcmp((const char *)bw->value->data + (size_t)(r * 24 + c) * es,
                                      (const char *)orig->data + (size_t)(c * 40 + r) * es, es) != 0;
                CHECK(bad == 0, "layout %d: the stored weight is the original transposed (%d differ)", layout, bad);
            }
        }
        hcg_graph_free(b);
        check_pass(g, sin, "dequantize_matmul,transpose_weights,matmul_bias,matmul_activation", want, 3);
        hcg_graph_free(g);
    }
    hcg_tensor_free(sin[0]);
    hcg_tensor_free(in[0]);
}

/* A session plans once per input shape; the weight transpose_weights stores transposed is made once
 * and shared by the plans (host and device), and each shape's output is x @ W^T, computed here in
 * double from the original W. */
static void test_transposed_weights_shared(void)
{
    static const char *const devs[] = {"cpu", "opencl:0"};
    int64_t wd[2] = {24, 40};
    hcg_tensor *wt = rand_tensor(2, wd, 43, -1, 1);
    const float *w = wt->data;
    hcg_graph *g = hcg_graph_new();
    int64_t xd[2] = {hcg_sym(g, "N"), 40};
    hcg_id y = hcg_matmul(g, hcg_input(g, "x", HCG_F32, 2, xd), hcg_param(g, "w", wt), false, true);
    hcg_output(g, y, "y");
    for (int d = 0; d < 2; d++) {
        if (!hcg_device_find(devs[d])) continue;
        hcg_session *s = NULL;
        hcg_session_options opt = {.devices = devs[d]};
        if (!CHECK_OK(hcg_session_new(g, &opt, &s))) continue;
        const void *stored[2] = {NULL, NULL};
        size_t uploaded[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            int64_t rows = k ? 3 : 5, shape[2] = {rows, 40};
            hcg_tensor *in[1] = {rand_tensor(2, shape, 44 + k, -1, 1)}, *out = NULL;
            if (CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)in, &out))) {
                const hcg_graph *b = s->last_plan->bound;
                const hcg_node *p = product_of(b, HCG_OP_MATMUL);
                if (CHECK(p && hcg_attr_int(p, "transpose_b") == 0, "%s, %lld rows: the product reads W stored "
                          "transposed", devs[d], (long long)rows))
                    stored[k] = b->nodes[p->inputs[1]].value->data;
                uploaded[k] = s->weight_bytes_uploaded;
                const float *x = in[0]->data, *o = out->data;
                double worst = 0;
                for (int64_t r = 0; r < rows; r++)
                    for (int c = 0; c < 24; c++) {
                        double ref = 0;
                        for (int i = 0; i < 40; i++) ref += (double)x[r * 40 + i] * w[c * 40 + i];
                        double e = fabs(o[r * 24 + c] - ref) / (1e-6 + 1e-5 * fabs(ref));
                        if (e > worst) worst = e;
                    }
                CHECK(worst <= 1, "%s, %lld rows: x @ W^T within tolerance (worst %.2f of it)", devs[d],
                      (long long)rows, worst);
            }
            hcg_tensor_free(in[0]);
            hcg_tensor_free(out);
        }
        CHECK(s->n_plans == 2, "%s: one plan per shape (%d)", devs[d], s->n_plans);
        CHECK(stored[0] && stored[0] == stored[1], "%s: the two plans share one transposed W", devs[d]);
        CHECK(uploaded[1] == uploaded[0], "%s: the second plan uploads no weight again (%zu then %zu bytes)",
              devs[d], uploaded[0], uploaded[1]);
        hcg_session_free(s);
    }
    hcg_graph_free(g);
}

static void test_spec(void)
{
    int64_t ad[3] = {1, 2, 4}, bd[2] = {3, 4};
    hcg_graph *g = product_graph(2, ad, bd);
    hcg_tensor *in[1] = {rand_tensor(3, ad, 5, -2, 2)}, *out = NULL;
    hcg_session *s = NULL;
    hcg_session_options opt = {.devices = "cpu", .passes = "gelu,nonsense"};
    CHECK_OK(hcg_session_new(g, &opt, &s));
    CHECK_FAILS(hcg_session_run(s, (const hcg_tensor *const *)in, &out), HCG_ERR_ARG, "unknown rewrite pass 'nonsense'");
    hcg_session_free(s);
    hcg_tensor_free(in[0]);
    hcg_graph_free(g);
}

int main(void)
{
    test_layer_norm();
    test_gelu();
    test_products();
    test_attention(false);
    test_attention(true);
    test_small_weights();
    test_small_table();
    test_transpose_weights();
    test_transposed_weights_shared();
    test_spec();
    return tl_finish();
}
