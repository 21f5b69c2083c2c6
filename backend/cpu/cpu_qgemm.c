/* cpu_qgemm.c — the CPU's integer matrix products: matmul_integer ((a - za) @ (b - zb) in int32,
 * ONNX's MatMulInteger) and quant_matmul with activations=int8 (each row of a quantized to uint8 on
 * the fly, the product in int32 against the int8 weight, then scaled back: ONNX Runtime's dynamic
 * quantization, per row instead of per tensor).
 *
 * oneDNN's integer GEMMs (u8 x s8 -> s32) are exact only where the processor has VNNI: elsewhere
 * they sum u8 x s8 pairs in saturating int16 (oneDNN's dev_guide_int8_computations). So they run
 * where VNNI is (hcg_cpu_int8_gemm_exact), single-threaded on tiles of hcg's pool as cpu_matmul.c
 * runs sgemm; everything else (and $HCG_SIMD set to a lower instruction set, as tests do) is a
 * plain integer loop that gives the same integers. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_dnnl.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_simd.h"
#include "graph/op_table.h"

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* ---------------------------------------------------------------- matmul_integer */

/* (a - za) @ (b - zb) in int32. oneDNN's integer GEMMs are exact only where the processor has
 * VNNI (elsewhere their u8 x s8 pairs are summed in saturating int16: dev_guide_int8_computations),
 * so they run there, for u8 or s8 a, s8 b, one zero point each; everything else is the loop. */
typedef struct int_mm {
    const void *a, *b;
    int32_t *c;
    bool a_signed, b_signed;
    int64_t m, n, k;                 /* per matrix */
    const void *za, *zb;             /* zero points (NULL: 0) */
    int64_t za_n, zb_n;              /* their element counts: 1, or m (rows of a) / n (columns of b) */
    hcg_matmul_batch batch;
} int_mm;

static int32_t int_at(const void *p, bool is_signed, int64_t i)
{
    return is_signed ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

/* c[j] += av * (b[j] - zb[j]) over a row of b of type T (zero points: none, one, or per column);
 * the sums wrap around in 32 bits as the result type does (unsigned: no undefined overflow). */
#define INT_ROW(T)                                                                                 \
    do {                                                                                           \
        const T *br = (const T *)brow, *z = (const T *)t->zb;                                     \
        if (!z)                                                                                    \
            for (int64_t j = 0; j < t->n; j++) c[j] += (uint32_t)(av * (int32_t)br[j]);           \
        else if (t->zb_n == 1)                                                                     \
            for (int64_t j = 0; j < t->n; j++) c[j] += (uint32_t)(av * ((int32_t)br[j] - (int32_t)z[0])); \
        else                                                                                       \
            for (int64_t j = 0; j < t->n; j++) c[j] += (uint32_t)(av * ((int32_t)br[j] - (int32_t)z[j])); \
    } while (0)

/* The row of matrices (batch entry, row of a) item: c[row][j] = sum_k (a[row][k] - za) (b[k][j] - zb). */
static void int_rows(void *ctx, int64_t begin, int64_t end)
{
    const int_mm *t = ctx;
    for (int64_t item = begin; item < end; item++) {
        int64_t mat = item / t->m, row = item % t->m, ai, bi;
        hcg_matmul_batch_at(&t->batch, mat, &ai, &bi);
        const char *a = (const char *)t->a + (ai * t->m + row) * t->k;
        const char *b = (const char *)t->b + bi * t->k * t->n;
        uint32_t *c = (uint32_t *)(t->c + item * t->n);
        int32_t za = t->za ? int_at(t->za, t->a_signed, t->za_n > 1 ? row : 0) : 0;
        for (int64_t j = 0; j < t->n; j++) c[j] = 0;
        for (int64_t p = 0; p < t->k; p++) {
            int32_t av = int_at(a, t->a_signed, p) - za;
            const char *brow = b + p * t->n;
            if (av == 0) continue;
            if (t->b_signed) INT_ROW(int8_t);
            else INT_ROW(uint8_t);
        }
    }
}

#ifdef HCG_HAVE_DNNL
/* Rows [begin, end) of the stacked product through oneDNN on this thread. */
static void int_dnnl_rows(void *ctx, int64_t begin, int64_t end)
{
    const int_mm *t = ctx;
    const int32_t zero = 0;
    int saved = hcg_dnnl_single_begin();
    int8_t zb = t->zb ? ((const int8_t *)t->zb)[0] : 0;
    if (t->a_signed)
        dnnl_gemm_s8s8s32('N', 'N', 'F', end - begin, t->n, t->k, 1.0f, (const int8_t *)t->a + begin * t->k, t->k,
                          t->za ? ((const int8_t *)t->za)[0] : 0, t->b, t->n, zb, 0.0f, t->c + begin * t->n, t->n,
                          &zero);
    else
        dnnl_gemm_u8s8s32('N', 'N', 'F', end - begin, t->n, t->k, 1.0f, (const uint8_t *)t->a + begin * t->k, t->k,
                          t->za ? ((const uint8_t *)t->za)[0] : 0, t->b, t->n, zb, 0.0f, t->c + begin * t->n, t->n,
                          &zero);
    hcg_dnnl_single_end(saved);
}
#endif

bool hcg_cpu_int8_gemm_exact(void)
{
#if defined(HCG_HAVE_DNNL) && (defined(__x86_64__) || defined(__i386__))
    /* $HCG_SIMD (a lower instruction set for tests) also keeps to the loop, so tests reach it */
    const char *isa = getenv("HCG_SIMD");
    if (isa && *isa && strcmp(isa, "avx512") != 0) return false;
    return HCG_CPU_HAS("avx512vnni") || hcg_cpu_has_avx_vnni();
#else
    return false;
#endif
}

hcg_status hcg_k_matmul_integer(hcg_exec_node *en)
{
    const hcg_dev_tensor *A = &en->in[0], *B = &en->in[1];
    hcg_shape a = A->shape, b = B->shape;
    bool ta, tb;
    hcg_matmul_operands(en->node, &a, &b, &ta, &tb);
    int_mm t = {.a = hcg_dev_tensor_ptr(A), .b = hcg_dev_tensor_ptr(B), .c = hcg_dev_tensor_ptr(&en->out),
                .a_signed = A->dtype == HCG_I8, .b_signed = B->dtype == HCG_I8, .m = a.dims[a.rank - 2],
                .k = a.dims[a.rank - 1], .n = b.dims[b.rank - 1]};
    if (en->n_in > 2) {
        t.za = hcg_dev_tensor_ptr(&en->in[2]);
        t.za_n = hcg_cpu_numel(&en->in[2]);
    }
    if (en->n_in > 3) {
        t.zb = hcg_dev_tensor_ptr(&en->in[3]);
        t.zb_n = hcg_cpu_numel(&en->in[3]);
    }
    int64_t out_numel = hcg_cpu_numel(&en->out);
    if (out_numel == 0) return HCG_OK;
    hcg_matmul_batch_plan(&a, &b, &t.batch);
    int64_t n_batch = t.batch.count, a_batch = t.batch.a_count, b_batch = t.batch.b_count;
    int64_t rows = n_batch * t.m;
#ifdef HCG_HAVE_DNNL
    /* x[B, S, K] @ W[K, N] with one zero point each: the stacked rows are one product. */
    if (b_batch == 1 && a_batch == n_batch && t.b_signed && (!t.za || t.za_n == 1) && (!t.zb || t.zb_n == 1) &&
        t.k > 0 && fits_int(rows) && fits_int(t.n) && fits_int(t.k) && hcg_cpu_int8_gemm_exact()) {
        double flops = 2.0 * (double)rows * (double)t.n * (double)t.k;
        int64_t parts = flops < 8.0 * (double)hcg_cpu_grain_elems() ? 1 : 4 * hcg_cpu_threads();
        int64_t per = (rows + parts - 1) / parts;
        if (per < 16) per = 16;
        hcg_parallel_for(rows, per, int_dnnl_rows, &t);
        return HCG_OK;
    }
#endif
    (void)a_batch;
    (void)b_batch;
    hcg_parallel_for(rows, hcg_grain_for(2 * t.n * t.k + 1), int_rows, &t);
    return HCG_OK;
}

/* ---------------------------------------------------------------- quant_matmul, activations=int8 */

/* A product whose activations are quantized on the fly: rows of a [rows, k], int8 weight b ([n, k]
 * when tb, else [k, n]) with f32 scales per output column. Row r becomes uint8 with its own scale
 * and zero point (the range [min(row, 0), max(row, 0)] in 255 steps, as ONNX's
 * DynamicQuantizeLinear does for a whole tensor); then
 *   c[r][j] = ((sum_k aq[r][k] b[k][j]) - zero[r] colsum[j]) * rscale[r] * wscale[j],
 * the sum in int32, then alpha, bias and the activation. Two passes over the pool: the rows are
 * quantized (into the calling thread's scratch), then tiles of C as cpu_matmul.c cuts an f32
 * product, each one integer GEMM on its rows and columns (oneDNN packs only its columns of b)
 * followed by the conversion and the epilogue while the tile is in cache. */
typedef struct dyn_mm {
    const float *a;
    const int8_t *b;
    bool tb, dnnl;
    int64_t rows, n, k;
    const float *wscale;
    const int32_t *colsum;
    float *c;
    float alpha;
    const float *bias;
    int act;
    uint8_t *aq; /* [rows, k] */
    float *rscale;
    int32_t *rzero;
    int64_t tm, tn, n_rows; /* tiles */
} dyn_mm;

static void dyn_quantize(void *ctx, int64_t begin, int64_t end)
{
    const dyn_mm *t = ctx;
    const hcg_simd_fns *v = hcg_simd();
    for (int64_t r = begin; r < end; r++)
        v->quantize_row_u8(t->a + r * t->k, t->k, t->aq + r * t->k, &t->rscale[r], &t->rzero[r]);
}

static void dyn_tiles(void *ctx, int64_t begin, int64_t end)
{
    const dyn_mm *t = ctx;
    const hcg_simd_fns *v = hcg_simd();
    int64_t k = t->k, n = t->n;
    for (int64_t i = begin; i < end; i++) {
        int64_t r0 = (i % t->n_rows) * t->tm, c0 = (i / t->n_rows) * t->tn;
        int64_t rows = t->rows - r0 < t->tm ? t->rows - r0 : t->tm, w = n - c0 < t->tn ? n - c0 : t->tn;
        const uint8_t *aq = t->aq + r0 * k;
        float *c = t->c + r0 * n + c0;
#ifdef HCG_HAVE_DNNL
        if (t->dnnl) {
            const int32_t zero = 0;
            int saved = hcg_dnnl_single_begin();
            dnnl_gemm_u8s8s32('N', t->tb ? 'T' : 'N', 'F', rows, w, k, 1.0f, aq, k, 0, t->tb ? t->b + c0 * k : t->b + c0,
                              t->tb ? k : n, 0, 0.0f, (int32_t *)c, n, &zero);
            hcg_dnnl_single_end(saved);
        } else
#endif
        {
            for (int64_t r = 0; r < rows; r++) {
                const uint8_t *ar = aq + r * k;
                for (int64_t j = 0; j < w; j++) {
                    int32_t s = 0;
                    if (t->tb)
                        for (int64_t p = 0; p < k; p++) s += (int32_t)ar[p] * t->b[(c0 + j) * k + p];
                    else
                        for (int64_t p = 0; p < k; p++) s += (int32_t)ar[p] * t->b[p * n + c0 + j];
                    memcpy(&c[r * n + j], &s, sizeof s);
                }
            }
        }
        for (int64_t r = 0; r < rows; r++)
            v->int32_to_f32_row(c + r * n, w, t->rzero[r0 + r], t->colsum + c0, t->rscale[r0 + r] * t->alpha,
                                t->wscale + c0);
        if (t->bias || t->act != HCG_ACT_NONE) v->epilogue(c, rows, w, n, t->bias ? t->bias + c0 : NULL, t->act);
    }
}

hcg_status hcg_cpu_quant_matmul_int8(hcg_exec_node *en, const float *wscale)
{
    const hcg_dev_tensor *A = &en->in[0], *B = &en->in[1];
    bool tb = hcg_attr_int(en->node, "transpose_b") != 0;
    dyn_mm t = {.a = hcg_dev_tensor_ptr(A), .b = hcg_dev_tensor_ptr(B), .tb = tb, .wscale = wscale,
                .c = hcg_dev_tensor_ptr(&en->out), .alpha = (float)hcg_attr_float(en->node, "alpha"),
                .bias = en->n_in > 3 ? hcg_dev_tensor_ptr(&en->in[3]) : NULL,
                .act = hcg_activation_parse(hcg_attr_string(en->node, "activation"))};
    t.k = A->shape.dims[A->shape.rank - 1];
    t.n = B->shape.dims[tb ? 0 : 1];
    if (hcg_cpu_numel(&en->out) == 0) return HCG_OK;
    t.rows = hcg_cpu_numel(&en->out) / t.n;
    if (t.k == 0) { /* an empty sum: the epilogue of zeros */
        memset(t.c, 0, (size_t)(t.rows * t.n) * sizeof(float));
        if (t.bias || t.act != HCG_ACT_NONE) hcg_simd()->epilogue(t.c, t.rows, t.n, t.n, t.bias, t.act);
        return HCG_OK;
    }
    /* The quantized rows live in this thread's scratch while the pool's threads read them (the
     * loops here never ask for their own). */
    char *buf = hcg_cpu_scratch((size_t)(t.rows * t.k + t.rows * 8 + t.n * 4 + 64));
    if (!buf) return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory for the quantized rows");
    t.rscale = (float *)buf;
    t.rzero = (int32_t *)(buf + t.rows * 4);
    int32_t *colsum = (int32_t *)(buf + t.rows * 8);
    t.aq = (uint8_t *)(buf + t.rows * 8 + t.n * 4);
    memset(colsum, 0, (size_t)t.n * sizeof *colsum);
    for (int64_t j = 0; tb && j < t.n; j++) {
        int32_t s = 0;
        for (int64_t p = 0; p < t.k; p++) s += t.b[j * t.k + p];
        colsum[j] = s;
    }
    for (int64_t p = 0; !tb && p < t.k; p++)
        for (int64_t j = 0; j < t.n; j++) colsum[j] += t.b[p * t.n + j];
    t.colsum = colsum;
    t.dnnl = hcg_cpu_int8_gemm_exact() && fits_int(t.rows) && fits_int(t.n) && fits_int(t.k);
    hcg_parallel_for(t.rows, hcg_grain_for(4 * t.k), dyn_quantize, &t);
    hcg_cpu_tile_plan(t.rows, t.n, t.k, &t.tm, &t.tn);
    t.n_rows = (t.rows + t.tm - 1) / t.tm;
    hcg_parallel_for(t.n_rows * ((t.n + t.tn - 1) / t.tn), 1, dyn_tiles, &t);
    return HCG_OK;
}
