/* cpu_matmul.c — matmul (numpy semantics: 1-D operands, broadcast batch dims, transpose flags),
 * fused_matmul (the same product with alpha and an epilogue: bias, gelu, relu) and gemm
 * (alpha * op(a) @ op(b) + beta * c) on the CPU, and hcg_cpu_sgemm, the one product routine they
 * (and the attention kernel, and the cpu's calibration) use. Matrix products go through oneDNN's
 * sgemm when hcg is built with it (its AVX-512 kernels run 2-4x OpenBLAS's AVX2 ones here:
 * bench/README.md), else cblas_sgemm (OpenBLAS), else a plain loop.
 *
 * Threads: oneDNN runs on the calling thread only (its OpenMP thread count is set to 1 around the
 * call), and a large product is cut into tiles of C that hcg's pool runs, each tile one oneDNN
 * call followed by fused_matmul's epilogue while the tile is in cache. So one set of threads
 * (the pool's) does all the work: oneDNN's OpenMP team, which spins for milliseconds after each
 * call, would otherwise fight the pool's threads for the same cores (bench/README.md). Batches
 * call sgemm once per matrix with pointer strides: nothing is copied, and a side whose batch dims
 * broadcast simply keeps its pointer (stride 0). */
#include <limits.h>
#include <string.h>

#ifdef HCG_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef HCG_HAVE_DNNL
#include <dnnl.h>
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#ifdef HCG_HAVE_OPENMP
#include <omp.h>
#define DNNL_TILES 1 /* oneDNN can be held to the calling thread: the pool runs its tiles */
#endif
#else
#define DNNL_TILES 1 /* a sequential or threadpool oneDNN: nothing to hold back */
#endif
#endif

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_simd.h"
#include "graph/op_table.h"

typedef struct sgemm_args {
    bool ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    int64_t lda, ldb, ldc;
} sgemm_args;

/* What fused_matmul applies to its product: c = act(c + bias[col]). */
typedef struct epilogue {
    const float *bias;
    int act;
} epilogue;

static bool has_epilogue(const epilogue *e) { return e && (e->bias || e->act != HCG_ACT_NONE); }

#ifndef HCG_HAVE_BLAS
/* Rows [r0, r1) of C by the i-k-j loop (no BLAS). */
static void loop_rows(const sgemm_args *g, const float *a, const float *b, float *c0, int64_t r0, int64_t r1)
{
    for (int64_t i = r0; i < r1; i++) {
        float *c = c0 + i * g->ldc;
        for (int64_t j = 0; j < g->n; j++) c[j] = g->beta == 0 ? 0.0f : g->beta * c[j];
        for (int64_t p = 0; p < g->k; p++) {
            float av = g->alpha * (g->ta ? a[p * g->lda + i] : a[i * g->lda + p]);
            if (g->tb) {
                for (int64_t j = 0; j < g->n; j++) c[j] += av * b[j * g->ldb + p];
            } else {
                const float *br = b + p * g->ldb;
                for (int64_t j = 0; j < g->n; j++) c[j] += av * br[j];
            }
        }
    }
}

#endif

/* One product on the calling thread (oneDNN), or threaded by OpenBLAS itself. */
static void sgemm_call(const sgemm_args *g, const float *a, const float *b, float *c)
{
    if (g->m == 0 || g->n == 0) return;
#ifdef HCG_HAVE_DNNL
#if defined(DNNL_TILES) && defined(HCG_HAVE_OPENMP)
    int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
#endif
    dnnl_status_t st = dnnl_sgemm(g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k, g->alpha, a, g->lda, b, g->ldb,
                                  g->beta, c, g->ldc);
#if defined(DNNL_TILES) && defined(HCG_HAVE_OPENMP)
    if (saved != 1) omp_set_num_threads(saved);
#endif
    if (st == dnnl_success) return;
#endif
#ifdef HCG_HAVE_BLAS
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)g->m,
                (int)g->n, (int)g->k, g->alpha, a, (int)g->lda, b, (int)g->ldb, g->beta, c, (int)g->ldc);
#else
    loop_rows(g, a, b, c, 0, g->m);
#endif
}

#ifdef DNNL_TILES
/* Tiles of C run by the pool, each one product plus the epilogue on it. */
typedef struct tiles {
    const sgemm_args *g;
    const float *a, *b;
    float *c;
    int64_t tm, tn, n_cols; /* tile size; tiles per row of tiles */
    const epilogue *e;
} tiles;

static void tile_range(void *ctx, int64_t begin, int64_t end)
{
    const tiles *t = ctx;
    const sgemm_args *g = t->g;
    for (int64_t i = begin; i < end; i++) {
        int64_t r0 = (i / t->n_cols) * t->tm, c0 = (i % t->n_cols) * t->tn;
        sgemm_args s = *g;
        s.m = g->m - r0 < t->tm ? g->m - r0 : t->tm;
        s.n = g->n - c0 < t->tn ? g->n - c0 : t->tn;
        float *c = t->c + r0 * g->ldc + c0;
        sgemm_call(&s, g->ta ? t->a + r0 : t->a + r0 * g->lda, g->tb ? t->b + c0 * g->ldb : t->b + c0, c);
        if (has_epilogue(t->e))
            hcg_simd()->epilogue(c, s.m, s.n, g->ldc, t->e->bias ? t->e->bias + c0 : NULL, t->e->act);
    }
}

static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }
#else
/* Without tiles: rows of C for the loop product and the epilogue. */
typedef struct rows_ctx {
    const sgemm_args *g;
    const float *a, *b;
    float *c;
    const epilogue *e;
} rows_ctx;

static void rows_range(void *ctx, int64_t begin, int64_t end)
{
    const rows_ctx *r = ctx;
#ifndef HCG_HAVE_BLAS
    loop_rows(r->g, r->a, r->b, r->c, begin, end);
#endif
    if (has_epilogue(r->e))
        hcg_simd()->epilogue(r->c + begin * r->g->ldc, end - begin, r->g->n, r->g->ldc, r->e->bias, r->e->act);
}

#endif

/* C = alpha op(A) op(B) + beta C, then the epilogue (may be NULL), with every thread the product
 * is worth. */
static void sgemm_parallel(const sgemm_args *g, const float *a, const float *b, float *c, const epilogue *e)
{
    if (g->m == 0 || g->n == 0) return;
    int64_t threads = hcg_cpu_threads();
    double flops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
#ifdef DNNL_TILES
    /* About four tiles per thread, so a thread the OS holds back leaves little for the others to
     * wait for (oneDNN runs as fast on a 128 x 96 tile as on the whole product here), across the
     * columns while they stay at least 64 wide, then across rows of at least 16; each tile at least
     * half a MFLOP. A product too small to share runs in one piece on this thread. */
    int64_t want = threads <= 1 || flops < 8.0 * (double)hcg_cpu_grain_elems() ? 1 : 4 * threads;
    if ((double)want > flops / 5e5) want = (int64_t)(flops / 5e5) > 1 ? (int64_t)(flops / 5e5) : 1;
    int64_t pn = g->n / 64 < want ? g->n / 64 : want;
    if (pn < 1) pn = 1;
    int64_t pm = want / pn < g->m / 16 ? want / pn : g->m / 16;
    if (pm < 1) pm = 1;
    tiles t = {.g = g, .a = a, .b = b, .c = c, .e = e};
    t.tn = round_up((g->n + pn - 1) / pn, 16);
    t.tm = round_up((g->m + pm - 1) / pm, 8);
    t.n_cols = (g->n + t.tn - 1) / t.tn;
    int64_t n_tiles = t.n_cols * ((g->m + t.tm - 1) / t.tm);
    hcg_parallel_for(n_tiles, 1, tile_range, &t);
#else
    rows_ctx r = {.g = g, .a = a, .b = b, .c = c, .e = e};
    int64_t row_cost = has_epilogue(e) ? 24 * g->n : 0;
#ifdef HCG_HAVE_BLAS
    sgemm_call(g, a, b, c); /* OpenBLAS threads it */
    if (!has_epilogue(e)) return;
#else
    row_cost += 2 * g->n * (g->k + 1);
#endif
    (void)threads;
    (void)flops;
    hcg_parallel_for(g->m, hcg_grain_for(row_cost), rows_range, &r);
#endif
}

void hcg_cpu_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                   const float *b, int64_t ldb, float beta, float *c, int64_t ldc, bool parallel)
{
    sgemm_args g = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta, .lda = lda, .ldb = ldb,
                    .ldc = ldc};
    if (parallel) sgemm_parallel(&g, a, b, c, NULL);
    else sgemm_call(&g, a, b, c);
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
    const epilogue *e;
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
        const float *a = bc->a + ai * bc->a_mat, *b = bc->b + bi * bc->b_mat;
        float *c = bc->c + t * bc->c_mat;
        if (bc->parallel_inside) {
            sgemm_parallel(&bc->g, a, b, c, bc->e);
        } else {
            sgemm_call(&bc->g, a, b, c);
            if (has_epilogue(bc->e)) hcg_simd()->epilogue(c, bc->g.m, bc->g.n, bc->g.ldc, bc->e->bias, bc->e->act);
        }
    }
}

static hcg_status matmul_alpha(hcg_exec_node *en, float alpha, const epilogue *e)
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
        if (has_epilogue(e)) hcg_simd()->epilogue(out, out_numel / g.n, g.n, g.n, e->bias, e->act);
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
                    .a_mat = ar * ac, .b_mat = br_ * bcols, .c_mat = g.m * g.n, .e = e};
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
        sgemm_parallel(&big, bc.a, bc.b, out, e);
        return HCG_OK;
    }
    /* Small matrices: one thread per batch entry; large ones: one at a time, each threaded. */
    int64_t flops = 2 * g.m * g.n * g.k;
    bc.parallel_inside = flops >= 4 * hcg_cpu_grain_elems() || n_batch == 1;
    if (bc.parallel_inside) batch_range(&bc, 0, n_batch);
    else hcg_parallel_for(n_batch, hcg_grain_for(flops), batch_range, &bc);
    return HCG_OK;
}

hcg_status hcg_k_matmul(hcg_exec_node *en) { return matmul_alpha(en, 1.0f, NULL); }

/* ---------------------------------------------------------------- fused_matmul */

hcg_status hcg_k_fused_matmul(hcg_exec_node *en)
{
    epilogue e = {.bias = en->n_in > 2 ? hcg_dev_tensor_ptr(&en->in[2]) : NULL,
                  .act = hcg_activation_parse(hcg_attr_string(en->node, "activation"))};
    return matmul_alpha(en, (float)hcg_attr_float(en->node, "alpha"), &e);
}

/* ---------------------------------------------------------------- gemm */

hcg_status hcg_k_gemm(hcg_exec_node *en)
{
    const hcg_dev_tensor *A = &en->in[0], *B = &en->in[1];
    bool ta = hcg_attr_int(en->node, "transpose_a") != 0, tb = hcg_attr_int(en->node, "transpose_b") != 0;
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
    sgemm_parallel(&g, hcg_dev_tensor_ptr(A), hcg_dev_tensor_ptr(B), out, NULL);
    return HCG_OK;
}
