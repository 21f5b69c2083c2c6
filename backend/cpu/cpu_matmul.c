/* cpu_matmul.c — matmul (numpy semantics: 1-D operands, broadcast batch dims, transpose flags),
 * fused_matmul (the same product with alpha and an epilogue: bias, gelu, relu) and gemm
 * (alpha * op(a) @ op(b) + beta * c) on the CPU. Matrix products go through oneDNN's sgemm when
 * hcg is built with it (its AVX-512 kernels run 2-4x OpenBLAS's AVX2 ones here: bench/README.md),
 * else cblas_sgemm (OpenBLAS), else a plain loop. Batches call sgemm once per matrix with pointer
 * strides: nothing is copied, and a side whose batch dims broadcast simply keeps its pointer
 * (stride 0). Many small matrices run one per pool thread through OpenBLAS (oneDNN would start an
 * OpenMP team inside each pool thread). */
#include <limits.h>
#include <string.h>

#ifdef HCG_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef HCG_HAVE_DNNL
#include <dnnl.h>
#endif

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_simd.h"
#include "graph/op_table.h"

/* One row-major product C[m, n] = alpha * op(A) @ op(B) + beta * C with leading dims. */
typedef struct sgemm_args {
    bool ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    int64_t lda, ldb, ldc;
} sgemm_args;

#ifndef HCG_HAVE_BLAS
typedef struct loop_ctx {
    const sgemm_args *g;
    const float *a, *b;
    float *c;
} loop_ctx;

/* Rows [begin, end) of C, accumulated in the i-k-j order so the inner loop runs along rows. */
static void loop_rows(void *ctx, int64_t begin, int64_t end)
{
    const loop_ctx *l = ctx;
    const sgemm_args *g = l->g;
    for (int64_t i = begin; i < end; i++) {
        float *c = l->c + i * g->ldc;
        for (int64_t j = 0; j < g->n; j++) c[j] = g->beta == 0 ? 0.0f : g->beta * c[j];
        for (int64_t p = 0; p < g->k; p++) {
            float av = g->alpha * (g->ta ? l->a[p * g->lda + i] : l->a[i * g->lda + p]);
            if (g->tb) {
                for (int64_t j = 0; j < g->n; j++) c[j] += av * l->b[j * g->ldb + p];
            } else {
                const float *b = l->b + p * g->ldb;
                for (int64_t j = 0; j < g->n; j++) c[j] += av * b[j];
            }
        }
    }
}
#endif

/* Runs one product (threaded by BLAS, or here over rows when parallel is set). */
static void sgemm_one(const sgemm_args *g, const float *a, const float *b, float *c, bool parallel)
{
    if (g->m == 0 || g->n == 0) return;
#ifdef HCG_HAVE_DNNL
    if (parallel) {
        if (dnnl_sgemm(g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k, g->alpha, a, g->lda, b, g->ldb, g->beta, c,
                       g->ldc) == dnnl_success)
            return;
    }
#endif
#ifdef HCG_HAVE_BLAS
    (void)parallel;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)g->m,
                (int)g->n, (int)g->k, g->alpha, a, (int)g->lda, b, (int)g->ldb, g->beta, c, (int)g->ldc);
#else
    loop_ctx l = {g, a, b, c};
    if (parallel) hcg_parallel_for(g->m, hcg_grain_for(2 * g->n * (g->k + 1)), loop_rows, &l);
    else loop_rows(&l, 0, g->m);
#endif
}

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* ---------------------------------------------------------------- matmul */

typedef struct batch_ctx {
    sgemm_args g;
    const float *a, *b;
    float *c;
    /* Batch index -> matrix index of a and b (broadcast dims step 0). */
    int batch_rank;
    int64_t batch_dims[HCG_MAX_RANK];
    int64_t a_stride[HCG_MAX_RANK], b_stride[HCG_MAX_RANK]; /* in matrices */
    int64_t a_mat, b_mat, c_mat;                            /* elements per matrix */
    bool parallel_inside;
} batch_ctx;

static void batch_range(void *ctx, int64_t begin, int64_t end)
{
    const batch_ctx *bc = ctx;
    for (int64_t t = begin; t < end; t++) {
        int64_t rest = t, ai = 0, bi = 0;
        for (int d = bc->batch_rank - 1; d >= 0; d--) {
            int64_t i = rest % bc->batch_dims[d];
            rest /= bc->batch_dims[d];
            ai += i * bc->a_stride[d];
            bi += i * bc->b_stride[d];
        }
        sgemm_one(&bc->g, bc->a + ai * bc->a_mat, bc->b + bi * bc->b_mat, bc->c + t * bc->c_mat, bc->parallel_inside);
    }
}

static hcg_status matmul_alpha(hcg_exec_node *en, float alpha)
{
    const hcg_dev_tensor *A = &en->in[0], *B = &en->in[1];
    if (A->dtype != HCG_F32 || B->dtype != HCG_F32)
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "matmul needs f32 operands");
    hcg_shape a = A->shape, b = B->shape;
    bool ta, tb;
    hcg_matmul_operands(en->node, &a, &b, &ta, &tb);
    int64_t ar = a.dims[a.rank - 2], ac = a.dims[a.rank - 1], br_ = b.dims[b.rank - 2], bcols = b.dims[b.rank - 1];
    sgemm_args g = {.ta = ta, .tb = tb, .m = ta ? ac : ar, .k = ta ? ar : ac, .n = tb ? br_ : bcols, .alpha = alpha,
                    .beta = 0, .lda = ac, .ldb = bcols, .ldc = tb ? br_ : bcols};
    float *out = hcg_dev_tensor_ptr(&en->out);
    int64_t out_numel = hcg_cpu_numel(&en->out);
    if (out_numel == 0) return HCG_OK;
    if (g.k == 0) { /* an empty sum */
        memset(out, 0, (size_t)out_numel * sizeof(float));
        return HCG_OK;
    }
    if (!fits_int(g.m) || !fits_int(g.n) || !fits_int(g.k) || !fits_int(g.lda) || !fits_int(g.ldb))
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "a matrix dim exceeds the BLAS int range");
    /* BLAS wants leading dims >= 1 even for degenerate matrices. */
    if (g.lda < 1) g.lda = 1;
    if (g.ldb < 1) g.ldb = 1;
    if (g.ldc < 1) g.ldc = 1;

    /* Batch dims: the output's, minus its matrix dims. */
    batch_ctx bc = {.g = g, .a = hcg_dev_tensor_ptr(A), .b = hcg_dev_tensor_ptr(B), .c = out,
                    .a_mat = ar * ac, .b_mat = br_ * bcols, .c_mat = g.m * g.n};
    int a_brank = a.rank - 2, b_brank = b.rank - 2;
    bc.batch_rank = a_brank > b_brank ? a_brank : b_brank;
    int64_t n_batch = 1, a_batch = hcg_dims_prod(&a, 0, a_brank), b_batch = hcg_dims_prod(&b, 0, b_brank);
    for (int d = 0; d < bc.batch_rank; d++) {
        int ai = a_brank - bc.batch_rank + d, bi = b_brank - bc.batch_rank + d;
        int64_t da = ai >= 0 ? a.dims[ai] : 1, db = bi >= 0 ? b.dims[bi] : 1;
        bc.batch_dims[d] = da == 1 ? db : da;
        n_batch *= bc.batch_dims[d];
    }
    hcg_matmul_batch_strides(bc.batch_rank, bc.batch_dims, a_brank, a.dims, bc.a_stride);
    hcg_matmul_batch_strides(bc.batch_rank, bc.batch_dims, b_brank, b.dims, bc.b_stride);

    /* The common x[B, S, K] @ W[K, N]: a stack of untransposed rows times one matrix is a single
     * product with B * S rows, which BLAS runs far better than B small ones. */
    if (b_batch == 1 && !ta && a_batch == n_batch && fits_int(n_batch * g.m)) {
        sgemm_args big = g;
        big.m = n_batch * g.m;
        sgemm_one(&big, bc.a, bc.b, out, true);
        return HCG_OK;
    }
    /* Small matrices: one thread per batch entry; large ones: one at a time, each threaded. */
    int64_t flops = 2 * g.m * g.n * g.k;
    bc.parallel_inside = flops >= 4 * hcg_cpu_grain_elems() || n_batch == 1;
    if (bc.parallel_inside) batch_range(&bc, 0, n_batch);
    else hcg_parallel_for(n_batch, hcg_grain_for(flops), batch_range, &bc);
    return HCG_OK;
}

hcg_status hcg_k_matmul(hcg_exec_node *en) { return matmul_alpha(en, 1.0f); }

/* ---------------------------------------------------------------- fused_matmul */

typedef struct epilogue_ctx {
    float *c;
    int64_t cols;
    const float *bias;
    int act;
} epilogue_ctx;

static void epilogue_rows(void *ctx, int64_t begin, int64_t end)
{
    const epilogue_ctx *e = ctx;
    hcg_simd()->epilogue(e->c + begin * e->cols, end - begin, e->cols, e->cols, e->bias, e->act);
}

hcg_status hcg_k_fused_matmul(hcg_exec_node *en)
{
    hcg_status st = matmul_alpha(en, (float)hcg_attr_float(en->node, "alpha"));
    if (st) return st;
    epilogue_ctx e = {.c = hcg_dev_tensor_ptr(&en->out), .bias = en->n_in > 2 ? hcg_dev_tensor_ptr(&en->in[2]) : NULL,
                      .act = hcg_activation_parse(hcg_attr_string(en->node, "activation"))};
    const hcg_shape *os = &en->out.shape;
    e.cols = os->rank ? os->dims[os->rank - 1] : 1;
    int64_t rows = e.cols ? hcg_cpu_numel(&en->out) / e.cols : 0;
    if ((!e.bias && e.act == HCG_ACT_NONE) || rows == 0) return HCG_OK;
    hcg_parallel_for(rows, hcg_grain_for(e.cols * (e.act == HCG_ACT_NONE || e.act == HCG_ACT_RELU ? 1 : 24)),
                     epilogue_rows, &e);
    return HCG_OK;
}

/* ---------------------------------------------------------------- gemm */

hcg_status hcg_k_gemm(hcg_exec_node *en)
{
    const hcg_dev_tensor *A = &en->in[0], *B = &en->in[1];
    bool ta = hcg_attr_int(en->node, "trans_a") != 0, tb = hcg_attr_int(en->node, "trans_b") != 0;
    float alpha = (float)hcg_attr_float(en->node, "alpha"), beta = (float)hcg_attr_float(en->node, "beta");
    int64_t ar = A->shape.dims[0], ac = A->shape.dims[1], br_ = B->shape.dims[0], bcols = B->shape.dims[1];
    sgemm_args g = {.ta = ta, .tb = tb, .m = ta ? ac : ar, .k = ta ? ar : ac, .n = tb ? br_ : bcols,
                    .alpha = alpha, .beta = 0, .lda = ac, .ldb = bcols, .ldc = tb ? br_ : bcols};
    float *out = hcg_dev_tensor_ptr(&en->out);
    int64_t out_numel = hcg_cpu_numel(&en->out);
    if (out_numel == 0) return HCG_OK;
    if (!fits_int(g.m) || !fits_int(g.n) || !fits_int(g.k) || !fits_int(g.lda) || !fits_int(g.ldb))
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "a matrix dim exceeds the BLAS int range");
    if (g.lda < 1) g.lda = 1;
    if (g.ldb < 1) g.ldb = 1;
    if (g.ldc < 1) g.ldc = 1;
    if (en->n_in == 3) {
        /* out = beta * c broadcast, then the product accumulates onto it (BLAS beta = 1). This is
         * the formula as written: beta = 0 with an inf in c gives NaN, as numpy would. */
        hcg_iter it;
        const hcg_shape *cs = &en->in[2].shape;
        hcg_iter_broadcast(&it, &en->out.shape, &cs, 1);
        hcg_strided_copy(&it, sizeof(float), out, hcg_dev_tensor_ptr(&en->in[2]));
        if (beta != 1.0f)
            for (int64_t i = 0; i < out_numel; i++) out[i] *= beta;
        g.beta = 1;
    } else if (g.k == 0) {
        memset(out, 0, (size_t)out_numel * sizeof(float));
    }
    if (g.k == 0) return HCG_OK; /* an empty sum adds nothing */
    sgemm_one(&g, hcg_dev_tensor_ptr(A), hcg_dev_tensor_ptr(B), out, true);
    return HCG_OK;
}
