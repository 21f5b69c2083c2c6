/* test_quant.c — `hcg quantize` end to end on a small model (an embedding table, two products with
 * bias and gelu, an i64 table beside them): the stored int8 values and scales equal an independent
 * recomputation (max |w| / 127 per output column, row or block; round half to even), f16 weights
 * are the weights rounded to half, and the quantized model on the CPU and on OpenCL matches a
 * double-precision forward pass over the stored weights (and stays within quantization error of
 * the f32 model). Bad input gets clear messages: a group that does not divide K, a non-float
 * tensor asked for, a weight f16 cannot hold, a corrupt scale tensor (another tensor's values, a
 * NaN, another dtype, a truncated file), options out of range, and training a quantized model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/backend.h" /* hcg_device_estimate */
#include "backend/cpu/cpu.h"  /* hcg_float_to_half */
#include "graph/bind.h"
#include "graph/op_table.h"
#include "graph/graph.h"
#include "testlib.h"
#include "graph/half.h"

#define V 40  /* embedding rows */
#define D 16  /* embedding width = K of the first product */
#define H 32  /* hidden = N of the first product, K of the second */
#define O 8   /* outputs */
#define B 2
#define S 5

static char out[1 << 16];

static hcg_tensor *tensor(hcg_dtype dt, int rank, const int64_t *dims)
{
    hcg_shape s = hcg_shape_make(rank, dims);
    hcg_tensor *t = NULL;
    hcg_tensor_new(dt, &s, &t);
    return t;
}

static unsigned seed = 12345;
static float frand(float lo, float hi)
{
    seed = seed * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((seed >> 8) & 0xffff) / 65535.0f;
}

static hcg_tensor *rand_f32(int rank, const int64_t *dims, float scale)
{
    hcg_tensor *t = tensor(HCG_F32, rank, dims);
    for (size_t i = 0; i < t->nbytes / 4; i++) ((float *)t->data)[i] = frand(-scale, scale);
    return t;
}

/* ids [B, S] -> gather(E) -> gelu(@ W1^T + b1) -> @ W2 + b2, plus a column of sums from the i64
 * table lut (read by a gather too, but not f32): y [B, S, O]. big: W2 holds a value f16 cannot. */
static hcg_graph *make_model(bool big)
{
    hcg_graph *g = hcg_graph_new();
    int64_t ids_d[2] = {B, S}, e_d[2] = {V, D}, w1_d[2] = {H, D}, w2_d[2] = {H, O}, h = H, o = O, lut_d[2] = {V, H};
    hcg_id ids = hcg_input(g, "ids", HCG_I64, 2, ids_d);
    hcg_id e = hcg_param(g, "E", rand_f32(2, e_d, 1.0f));
    hcg_id w1 = hcg_param(g, "W1", rand_f32(2, w1_d, 0.5f));
    hcg_id b1 = hcg_param(g, "b1", rand_f32(1, &h, 0.5f));
    hcg_tensor *w2t = rand_f32(2, w2_d, 0.5f);
    if (big) ((float *)w2t->data)[5] = 1e6f;
    hcg_id w2 = hcg_param(g, "W2", w2t);
    hcg_id b2 = hcg_param(g, "b2", rand_f32(1, &o, 0.5f));
    hcg_tensor *lt = tensor(HCG_I64, 2, lut_d);
    for (int i = 0; i < V * H; i++) ((int64_t *)lt->data)[i] = i % 7 - 3;
    hcg_id lut = hcg_param(g, "lut", lt);
    hcg_attr axis0 = HCG_ATTR_I("axis", 0);
    hcg_id gi[2] = {e, ids}, li[2] = {lut, ids};
    hcg_id emb = hcg_add_node(g, HCG_OP_GATHER, "emb", gi, 2, &axis0, 1);
    hcg_id hid = hcg_unary(g, HCG_OP_GELU, hcg_add(g, hcg_matmul(g, emb, w1, false, true), b1));
    hcg_id y = hcg_add(g, hcg_matmul(g, hid, w2, false, false), b2);
    hcg_id lrows = hcg_add_node(g, HCG_OP_GATHER, "lut_rows", li, 2, &axis0, 1);
    hcg_id lf = hcg_add_node(g, HCG_OP_CAST, "lut_f", &lrows, 1, &HCG_ATTR_S("to", "f32"), 1);
    hcg_attr red[2] = {HCG_ATTR_IS("axes", (int64_t[]){-1}, 1), HCG_ATTR_I("keepdims", 1)};
    hcg_id lsum = hcg_add_node(g, HCG_OP_REDUCE_SUM, "lut_sum", &lf, 1, red, 2);
    hcg_output(g, hcg_add(g, y, lsum), "y");
    return g;
}

static hcg_tensor *ids_tensor(void)
{
    int64_t d[2] = {B, S};
    hcg_tensor *t = tensor(HCG_I64, 2, d);
    int64_t v[B * S] = {0, 39, 7, 7, 12, 3, 33, 20, 1, 38};
    memcpy(t->data, v, sizeof v);
    return t;
}

static const float *param(const hcg_graph *g, const char *name)
{
    hcg_id id = hcg_graph_find(g, name);
    return id >= 0 && g->nodes[id].value ? g->nodes[id].value->data : NULL;
}

/* ---------------------------------------------------------------- the reference */

/* The weights as the quantized model stores them, widened in double: w[r][c] of a [rows, cols]
 * weight (f32, f16, or int8 times its scale from `scale`, per row, column or block along K). */
typedef struct wview {
    const hcg_node *n; /* the param (f32 / f16) or the int8 param */
    const hcg_node *s; /* int8: the scales */
    bool k_rows;       /* K runs along the rows (a [K, N] weight): scales per column / blocks of rows */
    int64_t block;
} wview;

static double w_at(const wview *w, int64_t r, int64_t c)
{
    int64_t cols = w->n->value->shape.dims[1];
    int64_t i = r * cols + c;
    const void *p = w->n->value->data;
    if (w->n->value->dtype == HCG_F32) return ((const float *)p)[i];
    if (w->n->value->dtype == HCG_F16) return hcg_half_to_float(((const uint16_t *)p)[i]);
    double q = ((const int8_t *)p)[i];
    const float *sc = w->s->value->data;
    int64_t si;
    if (!w->block) si = w->k_rows ? c : r;
    else if (w->k_rows) si = (r / w->block) * cols + c;
    else si = r * w->s->value->shape.dims[1] + c / w->block;
    return q * sc[si];
}

static wview view(const hcg_graph *g, const char *name, bool k_rows)
{
    wview w = {.k_rows = k_rows};
    hcg_id id = hcg_graph_find(g, name);
    if (id < 0) return w;
    const hcg_node *n = &g->nodes[id];
    if (n->op == HCG_OP_PARAM) {
        w.n = n;
        return w;
    }
    w.n = &g->nodes[n->inputs[0]];
    if (n->op == HCG_OP_DEQUANTIZE) {
        w.s = &g->nodes[n->inputs[1]];
        w.block = hcg_attr_int(n, "block_size");
    }
    return w;
}

/* The model's forward pass in double over g's stored weights. */
static void reference(const hcg_graph *g, const int64_t *ids, double *y)
{
    wview e = view(g, "E", false), w1 = view(g, "W1", false), w2 = view(g, "W2", true);
    const float *b1 = param(g, "b1"), *b2 = param(g, "b2");
    for (int t = 0; t < B * S; t++) {
        double hid[H];
        for (int j = 0; j < H; j++) {
            double acc = b1[j];
            for (int k = 0; k < D; k++) acc += w_at(&e, ids[t], k) * w_at(&w1, j, k);
            hid[j] = 0.5 * acc * (1.0 + erf(acc / sqrt(2.0)));
        }
        double lsum = 0;
        for (int j = 0; j < H; j++) lsum += (double)((ids[t] * H + j) % 7 - 3);
        for (int o = 0; o < O; o++) {
            double acc = b2[o];
            for (int j = 0; j < H; j++) acc += hid[j] * w_at(&w2, j, o);
            y[t * O + o] = acc + lsum;
        }
    }
}

static hcg_tensor *run(const hcg_graph *g, const char *devices)
{
    hcg_session *s = NULL;
    hcg_session_options opt = {.devices = devices};
    hcg_tensor *ids = ids_tensor(), *y = NULL;
    if (CHECK_OK(hcg_session_new(g, &opt, &s))) CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&ids, &y));
    hcg_session_free(s);
    hcg_tensor_free(ids);
    return y;
}

/* ---------------------------------------------------------------- quantized models */

static int quantize(const char *in, const char *outp, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s' %s 2>&1", tl_hcg_bin(), in, outp, args);
    return tl_run(cmd, out, sizeof out);
}

/* The int8 values and scales of weight name ([rows, cols], K along rows when k_rows) equal
 * max |w| / 127 per output column / row (block: per block of K) and round(w / scale). */
static void check_int8(const hcg_graph *f, const hcg_graph *q, const char *name, bool k_rows, int64_t block)
{
    const hcg_node *orig = &f->nodes[hcg_graph_find(f, name)];
    wview w = view(q, name, k_rows);
    if (!CHECK(w.s && w.n && w.n->value->dtype == HCG_I8, "%s is int8 with scales", name)) return;
    int64_t rows = orig->value->shape.dims[0], cols = orig->value->shape.dims[1];
    int64_t n = k_rows ? cols : rows, k = k_rows ? rows : cols, glen = block ? block : k;
    const float *x = orig->value->data, *sc = w.s->value->data;
    const int8_t *qv = w.n->value->data;
    int bad = 0;
    for (int64_t c = 0; c < n; c++) {
        for (int64_t k0 = 0; k0 < k; k0 += glen) {
            float amax = 0;
            for (int64_t kk = k0; kk < k0 + glen; kk++) amax = fmaxf(amax, fabsf(x[k_rows ? kk * cols + c : c * cols + kk]));
            float s = amax / 127.0f;
            int64_t si = !block ? c : k_rows ? (k0 / glen) * n + c : c * (k / glen) + k0 / glen;
            bad += sc[si] != s;
            for (int64_t kk = k0; kk < k0 + glen; kk++) {
                int64_t i = k_rows ? kk * cols + c : c * cols + kk;
                bad += qv[i] != (int8_t)rintf(x[i] / s);
            }
        }
    }
    CHECK(bad == 0, "%s: %d stored int8 values or scales differ from max|w|/127 and round(w / scale)", name, bad);
}

static void check_outputs(const hcg_graph *f, const hcg_graph *q, const char *what)
{
    hcg_tensor *ids = ids_tensor(), *ref = NULL, *fy = run(f, "cpu");
    int64_t d[3] = {B, S, O};
    ref = tensor(HCG_F32, 3, d);
    double y[B * S * O];
    reference(q, ids->data, y);
    for (int i = 0; i < B * S * O; i++) ((float *)ref->data)[i] = (float)y[i];
    const char *devs[2] = {"cpu", "opencl:0"};
    for (int k = 0; k < 2; k++) {
        if (!hcg_device_find(devs[k])) continue;
        hcg_tensor *got = run(q, devs[k]);
        char label[256];
        snprintf(label, sizeof label, "%s on %s vs the double-precision forward pass", what, devs[k]);
        if (got) tl_tensor_close(got, ref, 1e-5, 1e-4, label);
        if (got && fy) {
            double dot = 0, nn = 0, ff = 0;
            for (int i = 0; i < B * S * O; i++) {
                double a = ((float *)got->data)[i], b = ((float *)fy->data)[i];
                dot += a * b;
                nn += a * a;
                ff += b * b;
            }
            CHECK(dot / sqrt(nn * ff) >= 0.999, "%s on %s: cosine with the f32 model %.6f", what, devs[k],
                  dot / sqrt(nn * ff));
        }
        hcg_tensor_free(got);
    }
    hcg_tensor_free(ref);
    hcg_tensor_free(fy);
    hcg_tensor_free(ids);
}

static void test_quantized_models(const hcg_graph *f, const char *model)
{
    hcg_graph *q = NULL;
    /* a scale per output column, then per block of 8 along K */
    static const struct {
        const char *file, *options, *says, *what;
        int group;
    } forms[] = {{"q8.hcg", "--weights int8 --min-elements 200", "quantized W2", "int8 per column", 0},
                 {"g8.hcg", "--weights int8 --group 8 --min-elements 200", "a f32 scale per 8 along K",
                  "int8 per block of 8", 8}};
    int rc;
    for (int i = 0; i < 2; i++) {
        rc = quantize(model, tl_tmp(forms[i].file), forms[i].options);
        CHECK(rc == 0 && strstr(out, "quantized E") && strstr(out, "quantized W1") && strstr(out, forms[i].says) &&
                  strstr(out, "kept      lut") && strstr(out, "it is i64"),
              "hcg quantize %s lists what it did: %s", forms[i].options, out);
        if (rc == 0 && CHECK_OK(hcg_load(tl_tmp(forms[i].file), &q))) {
            check_int8(f, q, "E", false, forms[i].group);
            check_int8(f, q, "W1", false, forms[i].group);
            check_int8(f, q, "W2", true, forms[i].group);
            check_outputs(f, q, forms[i].what);
        }
        hcg_graph_free(q);
        q = NULL;
    }
    rc = quantize(model, tl_tmp("a8.hcg"), "--weights int8 --activations int8 --min-elements 200");
    if (CHECK(rc == 0, "--activations int8: %s", out) && CHECK_OK(hcg_load(tl_tmp("a8.hcg"), &q))) {
        int products = 0, dequantized = 0;
        for (int i = 0; i < q->n_nodes; i++) {
            products += q->nodes[i].op == HCG_OP_QUANT_MATMUL &&
                        strcmp(hcg_attr_string(&q->nodes[i], "activations"), "int8") == 0;
            dequantized += q->nodes[i].op == HCG_OP_DEQUANTIZE;
        }
        CHECK(products == 2 && dequantized == 1,
              "--activations int8: both products are quant_matmul with int8 activations (%d), E stays dequantized (%d)",
              products, dequantized);
        hcg_tensor *fy = run(f, "cpu"), *qy = run(q, "cpu");
        if (fy && qy) {
            double dot = 0, aa = 0, bb = 0;
            for (int i = 0; i < B * S * O; i++) {
                double a = ((float *)qy->data)[i], b = ((float *)fy->data)[i];
                dot += a * b, aa += a * a, bb += b * b;
            }
            CHECK(dot / sqrt(aa * bb) >= 0.999, "int8 activations: cosine with the f32 model %.6f", dot / sqrt(aa * bb));
        }
        hcg_tensor_free(fy);
        hcg_tensor_free(qy);
    }
    hcg_graph_free(q);
    q = NULL;
    rc = quantize(model, tl_tmp("h.hcg"), "--weights f16 --skip 'W2' --min-elements 200");
    CHECK(rc == 0 && strstr(out, "kept      W2") && strstr(out, "--skip 'W2'"), "--weights f16 --skip W2: %s", out);
    if (rc == 0 && CHECK_OK(hcg_load(tl_tmp("h.hcg"), &q)) && CHECK(hcg_graph_find(q, "E.f16") >= 0, "E.f16 exists")) {
        const hcg_node *w = &q->nodes[hcg_graph_find(q, "E.f16")];
        const float *x = param(f, "E");
        int bad = 0;
        for (int i = 0; i < V * D; i++) bad += ((const uint16_t *)w->value->data)[i] != hcg_float_to_half(x[i]);
        CHECK(w->value->dtype == HCG_F16 && bad == 0, "E.f16 holds E rounded to half (%d differ)", bad);
        CHECK(q->nodes[hcg_graph_find(q, "W2")].op == HCG_OP_PARAM, "W2 was skipped");
        check_outputs(f, q, "f16");
    }
    hcg_graph_free(q);
}

/* ---------------------------------------------------------------- bad input */

static void expect_cli_error(const char *model, const char *outp, const char *args, const char *needle)
{
    int rc = quantize(model, outp, args);
    CHECK(rc != 0 && strstr(out, needle), "hcg quantize %s: exit %d, wants '%s' in: %s", args, rc, needle, out);
}

/* Copies src to dst, letting edit change the copy's n bytes first (with room for 256 more). */
static bool copy_file(const char *src, const char *dst, void (*edit)(char *buf, size_t *n, void *ctx), void *ctx)
{
    size_t n = 0;
    char *data = tl_read_file(src, &n), *buf = data ? calloc(n + 257, 1) : NULL;
    if (buf) memcpy(buf, data, n);
    free(data);
    if (!buf) return false;
    if (edit) edit(buf, &n, ctx);
    FILE *f = fopen(dst, "wb");
    bool ok = f && fwrite(buf, 1, n, f) == n;
    if (f) fclose(f);
    free(buf);
    return ok;
}

/* The data offset (from the file's start) of tensor key in a safetensors file held in buf. */
static long tensor_offset(const char *buf, const char *key, long *end)
{
    uint64_t hlen;
    memcpy(&hlen, buf, 8);
    cJSON *h = cJSON_ParseWithLength(buf + 8, (size_t)hlen);
    const cJSON *e = cJSON_GetObjectItem(h, key), *offs = cJSON_GetObjectItem(e, "data_offsets");
    long at = -1;
    if (cJSON_GetArraySize(offs) == 2) {
        at = 8 + (long)hlen + (long)cJSON_GetArrayItem(offs, 0)->valuedouble;
        *end = 8 + (long)hlen + (long)cJSON_GetArrayItem(offs, 1)->valuedouble;
    }
    cJSON_Delete(h);
    return at;
}

static void nan_scale(char *buf, size_t *n, void *ctx)
{
    (void)n;
    long end, at = tensor_offset(buf, ctx, &end);
    float nan = NAN;
    if (at >= 0) memcpy(buf + at, &nan, 4); /* the first scale: a NaN */
}

static void int_scale(char *buf, size_t *n, void *ctx)
{
    (void)n;
    (void)ctx;
    char *p = strstr(buf + 8, "\"W1.scale\"");
    char *dt = p ? strstr(p, "\"F32\"") : NULL;
    if (dt) memcpy(dt, "\"I32\"", 5); /* the same length: the header stays valid JSON */
}

static void truncate_file(char *buf, size_t *n, void *ctx)
{
    (void)buf;
    (void)ctx;
    *n = *n * 2 / 3;
}

/* Replaces the first `from` in buf (n bytes, room for 256 more) with `to` (at most 256 longer). */
static void replace(char *buf, size_t *n, const char *from, const char *to)
{
    char *p = strstr(buf, from);
    size_t old = strlen(from), neu = strlen(to);
    if (!p) return;
    memmove(p + neu, p + old, *n - (size_t)(p - buf) - old);
    memcpy(p, to, neu);
    *n = *n - old + neu;
    buf[*n] = 0;
}

/* A copy of the quantized graph's text reading its weights from the file ctx.safetensors. */
static void rename_weights(char *buf, size_t *n, void *ctx)
{
    char to[64];
    snprintf(to, sizeof to, "weights \"%s.safetensors\"", (const char *)ctx);
    replace(buf, n, "weights \"c.safetensors\"", to);
}

/* The same, with W1's scales read from b1's data (32 floats, some negative). */
static void swap_key(char *buf, size_t *n, void *ctx)
{
    rename_weights(buf, n, ctx);
    replace(buf, n, "param W1.scale: f32[32]\n", "param W1.scale: f32[32] = \"b1\"\n");
}

static void expect_run_error(const char *graph, hcg_status want, const char *needle, const char *what)
{
    hcg_graph *g = NULL;
    hcg_status st = hcg_load(graph, &g);
    if (st == HCG_OK) {
        hcg_session *s = NULL;
        hcg_session_options opt = {.devices = "cpu"};
        hcg_tensor *ids = ids_tensor(), *y = NULL;
        st = hcg_session_new(g, &opt, &s);
        if (!st) st = hcg_session_run(s, (const hcg_tensor *const *)&ids, &y);
        hcg_tensor_free(y);
        hcg_tensor_free(ids);
        hcg_session_free(s);
    }
    CHECK(st == want && strstr(hcg_last_error(), needle), "%s: %s (want %s with '%s'): %s", what, hcg_status_name(st),
          hcg_status_name(want), needle, hcg_last_error());
    hcg_graph_free(g);
}

static void test_bad_input(const char *model)
{
    expect_cli_error(model, tl_tmp("x.hcg"), "--weights int8 --group 5 --min-elements 200", "--group 5 does not divide K = 16 of weight 'E'");
    expect_cli_error(model, tl_tmp("x.hcg"), "--weights int8 --group 0", "--group must be a positive integer");
    expect_cli_error(model, tl_tmp("x.hcg"), "--weights f16 --group 8", "--group applies to int8 weights only");
    expect_cli_error(model, tl_tmp("x.hcg"), "--weights int8 --only lut",
                     "weight 'lut' (i64[40, 32]), named by --only 'lut', cannot be quantized: it is i64");
    expect_cli_error(model, tl_tmp("x.hcg"), "--weights int8 --only 'b*'", "cannot be quantized: it is not a matrix");
    expect_cli_error(model, tl_tmp("x.hcg"), "--weights int8 --only 'nothing*'", "--only 'nothing*' names no weight");
    expect_cli_error(model, tl_tmp("x.hcg"), "--weights int4", "--weights must be f16 or int8");
    expect_cli_error(model, tl_tmp("x.onnx"), "--weights int8", "OUT must be a .hcg file");
    expect_cli_error(model, tl_tmp("x.hcg"), "", "usage: hcg quantize");
    size_t len;
    char *written = tl_read_file(tl_tmp("x.hcg"), &len);
    CHECK(!written, "a refused quantization writes nothing");
    free(written);

    hcg_graph *big = make_model(true);
    if (CHECK_OK(hcg_save(big, tl_tmp("big.hcg"))))
        expect_cli_error(tl_tmp("big.hcg"), tl_tmp("x.hcg"), "--weights f16 --min-elements 200",
                         "weight 'W2' holds 1e+06 at element 5, beyond f16's range (65504)");
    hcg_graph_free(big);

    /* Corrupt scale tensors of a good int8 model. */
    if (quantize(model, tl_tmp("c.hcg"), "--weights int8 --min-elements 200") != 0) return;
    copy_file(tl_tmp("c.hcg"), tl_tmp("s.hcg"), swap_key, "c");
    expect_run_error(tl_tmp("s.hcg"), HCG_ERR_SHAPE, "scale tensor 'W1.scale' holds -",
                     "W1's scales read from another tensor");
    copy_file(tl_tmp("c.hcg"), tl_tmp("n.hcg"), rename_weights, "n");
    copy_file(tl_tmp("c.safetensors"), tl_tmp("n.safetensors"), nan_scale, "W2.scale");
    expect_run_error(tl_tmp("n.hcg"), HCG_ERR_SHAPE,
                     "scale tensor 'W2.scale' holds nan at element 0: scales must be finite and positive",
                     "a NaN in W2's scales");
    copy_file(tl_tmp("c.hcg"), tl_tmp("i.hcg"), rename_weights, "i");
    copy_file(tl_tmp("c.safetensors"), tl_tmp("i.safetensors"), int_scale, NULL);
    expect_run_error(tl_tmp("i.hcg"), HCG_ERR_SHAPE, "W1.scale", "W1's scales stored as I32");
    copy_file(tl_tmp("c.hcg"), tl_tmp("t.hcg"), rename_weights, "t");
    copy_file(tl_tmp("c.safetensors"), tl_tmp("t.safetensors"), truncate_file, NULL);
    expect_run_error(tl_tmp("t.hcg"), HCG_ERR_FORMAT, "t.safetensors", "a truncated weights file");

    /* Training a quantized model: refused, with the way out. */
    hcg_graph *q = NULL;
    if (CHECK_OK(hcg_load(tl_tmp("c.hcg"), &q))) {
        int64_t d[3] = {B, S, O};
        hcg_id target = hcg_input(q, "target", HCG_F32, 3, d);
        hcg_id in[2] = {q->outputs[0], target};
        hcg_id loss = hcg_add_node(q, HCG_OP_MSE_LOSS, "loss", in, 2, NULL, 0);
        hcg_output(q, loss, "loss");
        hcg_train_session *t = NULL;
        hcg_train_options to = {.loss = "loss", .lr = 0.1, .devices = "cpu"};
        CHECK_FAILS(hcg_train_session_new(q, &to, &t), HCG_ERR_UNSUPPORTED, "quantized models are for inference");
        hcg_train_session_free(t);
        hcg_graph_free(q);
    }
}

/* The scheduler's cost of a product reading an f16 weight: widening each half costs one operation
 * where the device converts in hardware (hcg_device.fp16) and more where it does not. */
static void test_half_cost(void)
{
    hcg_graph *g = hcg_graph_new(), *b = NULL;
    int64_t xd[2] = {4, 64}, wd[2] = {64, 32};
    hcg_tensor *w = tensor(HCG_F16, 2, wd);
    hcg_id x = hcg_input(g, "x", HCG_F32, 2, xd), wp = hcg_param(g, "w", w);
    hcg_id in[2] = {x, wp};
    hcg_output(g, hcg_add_node(g, HCG_OP_FUSED_MATMUL, "mm", in, 2, NULL, 0), "y");
    hcg_shape shapes[1] = {hcg_shape_make(2, xd)};
    hcg_bind_options bo = {0};
    hcg_device *cpu = hcg_device_find("cpu");
    if (CHECK_OK(hcg_graph_bind(g, shapes, &bo, &b)) && cpu) {
        hcg_device soft = *cpu, hard = *cpu;
        soft.fp16 = false;
        hard.fp16 = true;
        const hcg_node *mm = &b->nodes[b->outputs[0]];
        double ts = hcg_device_estimate(&soft, b, mm), th = hcg_device_estimate(&hard, b, mm), flops, bytes;
        hcg_node_cost(b, mm, &flops, &bytes);
        const hcg_cost_profile *c = &cpu->cost;
        double mem = bytes / (c->mem_gbps * 1e9), halves = 64.0 * 32.0;
        double want_h = c->launch_us * 1e-6 + fmax((flops + halves) / (c->gflops * 1e9), mem);
        double want_s = c->launch_us * 1e-6 + fmax((flops + 12.0 * halves) / (c->gflops * 1e9), mem);
        CHECK(ts > th && fabs(ts - want_s) <= 1e-9 * want_s && fabs(th - want_h) <= 1e-9 * want_h,
              "widening the f16 weight: %.4g s in hardware, %.4g s in software (want %.4g, %.4g)", th, ts, want_h,
              want_s);
        printf("cpu: fp16 %s; the product with an f16 weight: %.3g us with hardware conversion, %.3g us without\n",
               cpu->fp16 ? "in hardware (F16C)" : "in software", th * 1e6, ts * 1e6);
    }
    hcg_graph_free(b);
    hcg_graph_free(g);
}

/* quant_matmul with activations=int8 against its definition, computed here: each row of x to uint8
 * over [min(row, 0), max(row, 0)] in 255 steps (float32 arithmetic, rounding half to even), the
 * integer sums, then scaled back in double; K = 37 leaves a tail after every vector width. On the
 * CPU (oneDNN's VNNI GEMM where the processor has it, the loop elsewhere: the same integers). */
static void test_int8_activations(void)
{
    enum { M = 5, K = 37, N = 11 };
    for (int tb = 0; tb < 2; tb++) {
        hcg_graph *g = hcg_graph_new();
        int64_t xd[2] = {M, K}, wd[2] = {tb ? N : K, tb ? K : N}, n = N;
        hcg_tensor *x = rand_f32(2, xd, 2.0f), *w = tensor(HCG_I8, 2, wd), *s = rand_f32(1, &n, 0.02f);
        hcg_tensor *bias = rand_f32(1, &n, 1.0f);
        for (int i = 0; i < N * K; i++) ((int8_t *)w->data)[i] = (int8_t)((i * 37 + 11) % 255 - 127);
        for (int i = 0; i < N; i++) ((float *)s->data)[i] = fabsf(((float *)s->data)[i]) + 0.001f;
        ((float *)x->data)[3] = 0.5f * (2.0f / 255.0f); /* (a value near a rounding tie) */
        hcg_id in[4] = {hcg_input(g, "x", HCG_F32, 2, xd), hcg_param(g, "w", w), hcg_param(g, "s", s),
                        hcg_param(g, "b", bias)};
        hcg_attr at[4] = {HCG_ATTR_I("transpose_b", tb), HCG_ATTR_S("activations", "int8"),
                          HCG_ATTR_S("activation", "gelu"), HCG_ATTR_F("alpha", 0.5)};
        hcg_output(g, hcg_add_node(g, HCG_OP_QUANT_MATMUL, "y", in, 4, at, 4), "y");
        int64_t yd[2] = {M, N};
        hcg_tensor *want = tensor(HCG_F32, 2, yd);
        const float *xv = x->data, *sv = s->data, *bv = bias->data;
        const int8_t *wv = w->data;
        for (int r = 0; r < M; r++) {
            float lo = 0, hi = 0;
            for (int k = 0; k < K; k++) lo = fminf(lo, xv[r * K + k]), hi = fmaxf(hi, xv[r * K + k]);
            float sc = (hi - lo) / 255.0f, z = fminf(fmaxf(rintf(-lo / sc), 0), 255);
            for (int j = 0; j < N; j++) {
                int64_t acc = 0;
                for (int k = 0; k < K; k++) {
                    float q = fminf(fmaxf(rintf(xv[r * K + k] / sc) + z, 0), 255);
                    acc += ((int64_t)q - (int64_t)z) * wv[tb ? j * K + k : k * N + j];
                }
                double v = 0.5 * (double)acc * sc * sv[j] + bv[j];
                ((float *)want->data)[r * N + j] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
            }
        }
        hcg_session *se = NULL;
        hcg_session_options opt = {.devices = "cpu"};
        hcg_tensor *got = NULL;
        char what[128];
        snprintf(what, sizeof what, "quant_matmul activations=int8 (transpose_b=%d) vs its definition", tb);
        if (CHECK_OK(hcg_session_new(g, &opt, &se)) && CHECK_OK(hcg_session_run(se, (const hcg_tensor *const *)&x, &got)))
            tl_tensor_close(got, want, 1e-5, 1e-5, what);
        hcg_tensor_free(got);
        hcg_session_free(se);
        se = NULL;
        got = NULL;
        if (tb && hcg_device_find("opencl:0")) { /* a CPU feature: refused where only OpenCL may run it */
            opt.devices = "opencl:0";
            hcg_status st = hcg_session_new(g, &opt, &se);
            if (!st) st = hcg_session_run(se, (const hcg_tensor *const *)&x, &got);
            CHECK(st == HCG_ERR_UNSUPPORTED && strstr(hcg_last_error(), "quant_matmul"),
                  "int8 activations on opencl:0 alone: %s: %s", hcg_status_name(st), hcg_last_error());
            hcg_tensor_free(got);
            hcg_session_free(se);
        }
        hcg_tensor_free(want);
        hcg_tensor_free(x);
        hcg_graph_free(g);
    }
}

int main(void)
{
    test_half_cost();
    test_int8_activations();
    hcg_graph *f = make_model(false);
    char model[1024]; /* (tl_tmp's buffers are reused) */
    snprintf(model, sizeof model, "%s", tl_tmp("model.hcg"));
    if (CHECK_OK(hcg_save(f, model))) {
        hcg_graph_free(f);
        f = NULL;
        if (CHECK_OK(hcg_load(model, &f))) {
            test_quantized_models(f, model);
            test_bad_input(model);
        }
    }
    hcg_graph_free(f);
    return tl_finish();
}
