/* cpu_matmul.c — matmul (numpy semantics: 1-D operands, broadcast batch dims, transpose flags),
 * fused_matmul (the same product with alpha and an epilogue: bias, gelu, relu; b may be an f16
 * weight), quant_matmul (the same with an int8 weight and its scales; with activations=int8 it is
 * cpu_qgemm.c's integer product) and gemm
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
 * broadcast simply keeps its pointer (stride 0).
 *
 * A product of at most four rows with an int8 weight [k][n] (a token at a time, a short prompt)
 * skips the panels: the SIMD table's small_rows loop widens the weight in registers as it
 * multiplies, so the weight is read once at its small size (at one row: 3x faster than the f32
 * product here). Otherwise weights stored small (f16, int8 + scales) are widened to f32 one panel
 * of columns at a time,
 * inside the tile that uses it (a per-thread buffer, cpu_threads.c), so the full-size f32 weight
 * never exists: a tile converts its columns of b (all of K, 100-600 KB for MiniLM's products,
 * which stays in L2 for the product that follows) and oneDNN multiplies. Tiles run column panel by
 * column panel, so a chunk of tiles converts each panel once. Converting costs one pass over the
 * weight per product, against 2 M flops per weight element for the product itself. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef HCG_HAVE_BLAS
#include <cblas.h>
#endif
#include "backend/cpu/cpu_dnnl.h"
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

/* A weight b stored small, which products widen to f32 as they go. */
typedef struct small_b {
    hcg_dtype dtype;       /* HCG_F16 or HCG_I8 */
    const void *data;      /* b as stored: [n, k] when transposed, else [k, n] */
    const float *scales;   /* int8: per column [n], or per block (graph/quant.h) */
    int64_t block, blocks; /* int8: 0 (per column), or the block size along k and ceil(k / block) */
} small_b;

/* Widens columns [c0, c0 + w) of the product's b (all of its k rows) into panel: [w][k] when b is
 * transposed (ldb k), else [k][w] (ldb w). */
static void widen_panel(const small_b *sb, bool tb, int64_t n, int64_t k, int64_t c0, int64_t w, float *panel)
{
    const hcg_simd_fns *v = hcg_simd();
    if (sb->dtype == HCG_F16) {
        const uint16_t *h = sb->data;
        if (tb) v->half_to_float(h + c0 * k, panel, w * k);
        else
            for (int64_t r = 0; r < k; r++) v->half_to_float(h + r * n + c0, panel + r * w, w);
        return;
    }
    const int8_t *q = sb->data;
    if (tb) {
        for (int64_t c = 0; c < w; c++) {
            const int8_t *row = q + (c0 + c) * k;
            float *out = panel + c * k;
            if (sb->block == 0) {
                v->dequant_i8(row, out, k, sb->scales[c0 + c]);
                continue;
            }
            for (int64_t j = 0; j < sb->blocks; j++) {
                int64_t s = j * sb->block, len = k - s < sb->block ? k - s : sb->block;
                v->dequant_i8(row + s, out + s, len, sb->scales[(c0 + c) * sb->blocks + j]);
            }
        }
        return;
    }
    for (int64_t r = 0; r < k; r++) {
        const float *sc = sb->block == 0 ? sb->scales + c0 : sb->scales + (r / sb->block) * n + c0;
        v->dequant_i8_each(q + r * n + c0, panel + r * w, w, sc);
    }
}

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
    int saved = hcg_dnnl_single_begin();
    dnnl_status_t st = dnnl_sgemm(g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k, g->alpha, a, g->lda, b, g->ldb,
                                  g->beta, c, g->ldc);
    hcg_dnnl_single_end(saved);
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
    int64_t tm, tn, n_cols, n_rows; /* tile size; tiles per row and per column of tiles */
    const epilogue *e;
    const small_b *sb; /* b stored small (then b is NULL): tiles go column panel by column panel */
    bool failed;       /* a panel buffer could not be had */
} tiles;

static void tile_range(void *ctx, int64_t begin, int64_t end)
{
    tiles *t = ctx;
    const sgemm_args *g = t->g;
    float *panel = NULL;
    int64_t panel_c0 = -1;
    for (int64_t i = begin; i < end; i++) {
        int64_t r0 = (i / t->n_cols) * t->tm, c0 = (i % t->n_cols) * t->tn;
        if (t->sb) {
            r0 = (i % t->n_rows) * t->tm;
            c0 = (i / t->n_rows) * t->tn;
        }
        sgemm_args s = *g;
        s.m = g->m - r0 < t->tm ? g->m - r0 : t->tm;
        s.n = g->n - c0 < t->tn ? g->n - c0 : t->tn;
        float *c = t->c + r0 * g->ldc + c0;
        const float *b = g->tb ? t->b + c0 * g->ldb : t->b + c0;
        if (t->sb) {
            if (c0 != panel_c0) {
                if (!(panel = hcg_cpu_scratch((size_t)(s.n * g->k) * sizeof(float)))) {
                    t->failed = true;
                    return;
                }
                widen_panel(t->sb, g->tb, g->n, g->k, c0, s.n, panel);
                panel_c0 = c0;
            }
            b = panel;
            s.ldb = g->tb ? g->k : s.n;
        }
        sgemm_call(&s, g->ta ? t->a + r0 : t->a + r0 * g->lda, b, c);
        if (has_epilogue(t->e))
            hcg_simd()->epilogue(c, s.m, s.n, g->ldc, t->e->bias ? t->e->bias + c0 : NULL, t->e->act);
    }
}
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
 * is worth. With sb (builds with tiles only) b is NULL and the tiles widen sb as they go; false if
 * a panel buffer could not be had. */
static bool sgemm_parallel_small(const sgemm_args *g, const float *a, const float *b, const small_b *sb, float *c,
                                 const epilogue *e);

static void sgemm_parallel(const sgemm_args *g, const float *a, const float *b, float *c, const epilogue *e)
{
    sgemm_parallel_small(g, a, b, NULL, c, e);
}

static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

void hcg_cpu_tile_plan(int64_t m, int64_t n, int64_t k, int64_t *tm, int64_t *tn)
{
    /* One tile per thread, across the columns while they stay at least 64 wide, then across rows
     * of at least 16 (with many rows, see below, the grid closest to square tiles); each tile at
     * least half a MFLOP. A product too small to share runs in one piece on this thread. Why one:
     * every oneDNN call packs its slices of a and b again, and on MiniLM (2 threads) four tiles per
     * thread took 11-13% longer at 1 x 128 and 1 x 32 than one, and were no better with a third
     * process keeping one of the two cores busy (bench/README.md, transformer inference). */
    int64_t threads = hcg_cpu_threads();
    double flops = 2.0 * (double)m * (double)n * (double)k;
    int64_t want = threads <= 1 || flops < 8.0 * (double)hcg_cpu_grain_elems() ? 1 : threads;
    if ((double)want > flops / 5e5) want = (int64_t)(flops / 5e5) > 1 ? (int64_t)(flops / 5e5) : 1;
    int64_t pn = n / 64 < want ? n / 64 : want;
    if (pn < 1) pn = 1;
    int64_t pm = want / pn < m / 16 ? want / pn : m / 16;
    if (pm < 1) pm = 1;
    if (m >= 512) {
        /* Many rows (a batch of sequences): the grid of about `want` tiles whose tiles are closest
         * to square, since oneDNN packs its slices of a and of b on every call and the traffic over
         * all the tiles goes as 1/tm + 1/tn (MiniLM at 8 x 128, 1024 rows: 5% less time than
         * strips of columns 1024 rows tall). With few rows the weight b is the larger operand
         * and strips of columns are as fast or faster. */
        double best = 1e300;
        for (int64_t cn = 1; cn <= want; cn++) {
            int64_t cm = want / cn;
            if ((cn > 1 && n / cn < 64) || (cm > 1 && m / cm < 16)) continue;
            double c = 1.0 / (double)((m + cm - 1) / cm) + 1.0 / (double)((n + cn - 1) / cn);
            if (c < best) {
                best = c;
                pn = cn;
                pm = cm;
            }
        }
    }
    *tn = round_up((n + pn - 1) / pn, 16);
    *tm = round_up((m + pm - 1) / pm, 8);
}

/* A product of at most this many rows with an int8 weight [k][n] runs the SIMD table's small_rows
 * loop, which widens the weight in registers: the weight is read once, small, and no panel is
 * written (for so few rows, widening panels costs about as much as the product). f16 weights keep
 * the panels: through small_rows they were slower here (MiniLM, 4 tokens: 1.55-1.79 ms against
 * 1.03 with panels), likely because its column strips walk down twice as many bytes per row of
 * K as int8's, one cache line pair per row, a pattern the prefetchers do not stream. */
#define SMALL_ROWS_MAX 4

typedef struct small_rows_ctx {
    const sgemm_args *g;
    const float *a;
    const small_b *sb;
    float *c;
    const epilogue *e;
    int64_t tn; /* columns per task */
} small_rows_ctx;

static void small_rows_range(void *ctx, int64_t begin, int64_t end)
{
    const small_rows_ctx *t = ctx;
    const sgemm_args *g = t->g;
    for (int64_t i = begin; i < end; i++) {
        int64_t c0 = i * t->tn, w = g->n - c0 < t->tn ? g->n - c0 : t->tn;
        hcg_simd()->small_rows(t->a, g->lda, g->m, (const int8_t *)t->sb->data + c0, g->n, g->k, w,
                               t->sb->scales + c0, t->sb->block, g->n, g->alpha, t->c + c0, g->ldc);
        if (has_epilogue(t->e))
            hcg_simd()->epilogue(t->c + c0, g->m, w, g->ldc, t->e->bias ? t->e->bias + c0 : NULL, t->e->act);
    }
}

static bool sgemm_parallel_small(const sgemm_args *g, const float *a, const float *b, const small_b *sb, float *c,
                                 const epilogue *e)
{
    if (g->m == 0 || g->n == 0) return true;
    if (sb && sb->dtype == HCG_I8 && !g->ta && !g->tb && g->m <= SMALL_ROWS_MAX && g->beta == 0) {
        small_rows_ctx t = {.g = g, .a = a, .sb = sb, .c = c, .e = e};
        int64_t tm;
        hcg_cpu_tile_plan(g->m, g->n, g->k, &tm, &t.tn);
        hcg_parallel_for((g->n + t.tn - 1) / t.tn, 1, small_rows_range, &t);
        return true;
    }
#ifdef DNNL_TILES
    tiles t = {.g = g, .a = a, .b = b, .c = c, .e = e, .sb = sb};
    hcg_cpu_tile_plan(g->m, g->n, g->k, &t.tm, &t.tn);
    t.n_cols = (g->n + t.tn - 1) / t.tn;
    t.n_rows = (g->m + t.tm - 1) / t.tm;
    hcg_parallel_for(t.n_cols * t.n_rows, 1, tile_range, &t);
    return !t.failed;
#else
    rows_ctx r = {.g = g, .a = a, .b = b, .c = c, .e = e};
    int64_t row_cost = has_epilogue(e) ? 24 * g->n : 0;
    int64_t threads = hcg_cpu_threads();
    double flops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
#ifdef HCG_HAVE_BLAS
    sgemm_call(g, a, b, c); /* OpenBLAS threads it */
    if (!has_epilogue(e)) return true;
#else
    row_cost += 2 * g->n * (g->k + 1);
#endif
    (void)threads;
    (void)flops;
    (void)sb; /* (never given without tiles: the caller widens b first) */
    hcg_parallel_for(g->m, hcg_grain_for(row_cost), rows_range, &r);
    return true;
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
    hcg_matmul_batch batch; /* batch index -> matrix index of a and b (broadcast dims step 0) */
    int64_t a_mat, b_mat, c_mat;                            /* elements per matrix */
    bool parallel_inside;
    const epilogue *e;
} batch_ctx;

static void batch_range(void *ctx, int64_t begin, int64_t end)
{
    const batch_ctx *bc = ctx;
    for (int64_t t = begin; t < end; t++) {
        int64_t ai, bi;
        hcg_matmul_batch_at(&bc->batch, t, &ai, &bi);
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

/* The product of a node's inputs 0 and 1 (b as stored, or small: sb, then a matrix), times alpha,
 * then the epilogue e (may be NULL). */
static hcg_status matmul_alpha(hcg_exec_node *en, float alpha, const epilogue *e, const small_b *sb)
{
    const hcg_dev_tensor *A = &en->in[0], *B = &en->in[1];
    if (A->dtype != HCG_F32 || (!sb && B->dtype != HCG_F32) || (sb && B->shape.rank != 2))
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "matmul needs f32 operands (or a small b matrix)");
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
    batch_ctx bc = {.g = g, .a = hcg_dev_tensor_ptr(A), .b = sb ? NULL : hcg_dev_tensor_ptr(B), .c = out,
                    .a_mat = ar * ac, .b_mat = br_ * bcols, .c_mat = g.m * g.n, .e = e};
    hcg_matmul_batch_plan(&a, &b, &bc.batch);
    int64_t n_batch = bc.batch.count, a_batch = bc.batch.a_count, b_batch = bc.batch.b_count;

    /* The common x[B, S, K] @ W[K, N]: a stack of untransposed rows times one matrix is a single
     * product with B * S rows, which BLAS runs far better than B small ones. */
    if (b_batch == 1 && !ta && a_batch == n_batch && fits_int(n_batch * g.m)) {
        sgemm_args big = g;
        big.m = n_batch * g.m;
#ifdef DNNL_TILES
        if (sb) return sgemm_parallel_small(&big, bc.a, NULL, sb, out, e)
                           ? HCG_OK
                           : hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory for a weight panel");
#endif
        if (!sb) {
            sgemm_parallel(&big, bc.a, bc.b, out, e);
            return HCG_OK;
        }
    }
    /* Otherwise a small b is widened whole, once, and the product runs as an f32 one. */
    float *wide = NULL;
    if (sb) {
        if (!(wide = malloc((size_t)(g.n * g.k) * sizeof(float))))
            return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory widening the weight");
        widen_panel(sb, tb, g.n, g.k, 0, g.n, wide);
        bc.b = wide;
    }
    /* Small matrices: one thread per batch entry; large ones: one at a time, each threaded. */
    int64_t flops = 2 * g.m * g.n * g.k;
    bc.parallel_inside = flops >= 4 * hcg_cpu_grain_elems() || n_batch == 1;
    if (bc.parallel_inside) batch_range(&bc, 0, n_batch);
    else hcg_parallel_for(n_batch, hcg_grain_for(flops), batch_range, &bc);
    free(wide);
    return HCG_OK;
}

hcg_status hcg_k_matmul(hcg_exec_node *en) { return matmul_alpha(en, 1.0f, NULL, NULL); }

/* ---------------------------------------------------------------- fused_matmul */

hcg_status hcg_k_fused_matmul(hcg_exec_node *en)
{
    epilogue e = {.bias = en->n_in > 2 ? hcg_dev_tensor_ptr(&en->in[2]) : NULL,
                  .act = hcg_activation_parse(hcg_attr_string(en->node, "activation"))};
    small_b half = {.dtype = HCG_F16, .data = hcg_dev_tensor_ptr(&en->in[1])};
    return matmul_alpha(en, (float)hcg_attr_float(en->node, "alpha"), &e, en->in[1].dtype == HCG_F16 ? &half : NULL);
}

/* ---------------------------------------------------------------- quant_matmul */

hcg_status hcg_k_quant_matmul(hcg_exec_node *en)
{
    const hcg_dev_tensor *B = &en->in[1], *S = &en->in[2];
    epilogue e = {.bias = en->n_in > 3 ? hcg_dev_tensor_ptr(&en->in[3]) : NULL,
                  .act = hcg_activation_parse(hcg_attr_string(en->node, "activation"))};
    bool tb = hcg_attr_int(en->node, "transpose_b") != 0;
    int64_t k = B->shape.dims[tb ? 1 : 0], block = hcg_attr_int(en->node, "block_size");
    small_b sb = {.dtype = HCG_I8, .data = hcg_dev_tensor_ptr(B), .scales = hcg_dev_tensor_ptr(S), .block = block,
                  .blocks = block > 0 ? (k + block - 1) / block : 0};
    float *wide_scales = NULL;
    if (S->dtype == HCG_F16) { /* f16 scales: widened once per run (one per column or block) */
        int64_t n = hcg_cpu_numel(S);
        if (!(wide_scales = malloc((size_t)(n ? n : 1) * sizeof(float))))
            return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory");
        hcg_simd()->half_to_float(hcg_dev_tensor_ptr(S), wide_scales, n);
        sb.scales = wide_scales;
    }
    hcg_status st = strcmp(hcg_attr_string(en->node, "activations"), "int8") == 0
                        ? hcg_cpu_quant_matmul_int8(en, sb.scales)
                        : matmul_alpha(en, (float)hcg_attr_float(en->node, "alpha"), &e, &sb);
    free(wide_scales);
    return st;
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
