/* cpu_simd_impl.c — the CPU's vectorised inner loops (see backend/cpu/cpu_simd.h), compiled once
 * per instruction set with HCG_SIMD_NAME set (avx512, avx2, baseline) and the matching -m flags.
 * Everything here is branch-free scalar C over arrays that GCC vectorises: exp by range reduction
 * (results that would be subnormal flushed to zero)
 * and a degree-6 polynomial (Cephes), erf by two minimax polynomials (|x| below and above 0.9277,
 * the latter through exp; about 1 ulp), tanh by an odd polynomial below 0.625 and through exp
 * above. Selections replace branches, so NaN and the infinities are handled explicitly. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_simd.h"
#include "graph/compiler.h"

#ifndef HCG_SIMD_NAME
#error "compile with -DHCG_SIMD_NAME=avx512|avx2|baseline"
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)

/* ---------------------------------------------------------------- scalar kernels (inlined) */

static inline float pow2i(int32_t n) /* 2^n for n in [-126, 127] */
{
    union {
        uint32_t u;
        float f;
    } b = {.u = (uint32_t)(n + 127) << 23};
    return b.f;
}

/* exp(x). Results below float's smallest normal (x < -87: e^-87 = 1.6e-38) are flushed to zero:
 * arithmetic on subnormal numbers costs some processors a hundred cycles a lane, and they arise
 * in every masked attention score and far in a GELU's tail. */
#define EXP_FLUSH_BELOW -87.0f
static inline float v_exp(float x)
{
    float xc = x < EXP_FLUSH_BELOW ? EXP_FLUSH_BELOW : x > 88.8f ? 88.8f : x;
    float t = xc * 1.44269504088896341f;
    float fx = (t + 12582912.0f) - 12582912.0f; /* round to nearest (|t| < 2^22) */
    float r = xc - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    float z = r * r;
    float y = ((((1.9875691500E-4f * r + 1.3981999507E-3f) * r + 8.3334519073E-3f) * r + 4.1665795894E-2f) * r +
               1.6666665459E-1f) * r + 5.0000001201E-1f;
    y = y * z + r + 1.0f;
    int32_t n = (int32_t)fx, h = n >> 1;
    float e = y * pow2i(h) * pow2i(n - h); /* two factors: n may reach 128 */
    e = x > 88.72283935546875f ? INFINITY : e;
    e = x < EXP_FLUSH_BELOW ? 0.0f : e;
    return x != x ? x : e;
}

/* erf(t) for t >= 0.9277 is 1 - exp(erf_big(t)). */
static inline float erf_big(float t)
{
    float s = t * t;
    float r = -1.72853470e-5f * t + 3.83197126e-4f;
    float u = -3.88396438e-3f * t + 2.42546219e-2f;
    r = r * s + u;
    r = r * t + -1.06777877e-1f;
    r = r * t + -6.34846687e-1f;
    r = r * t + -1.28717512e-1f;
    return r * t - t;
}

static inline float erf_small(float a) /* |a| <= 0.9277 */
{
    float s = a * a;
    float r = -5.96761703e-4f;
    r = r * s + 4.99119423e-3f;
    r = r * s + -2.67681349e-2f;
    r = r * s + 1.12819925e-1f;
    r = r * s + -3.76125336e-1f;
    r = r * s + 1.28379166e-1f;
    return r * a + a;
}

static inline float v_erf(float a)
{
    float t = fabsf(a);
    float big = 1.0f - v_exp(erf_big(t > 10.0f ? 10.0f : t));
    big = a < 0 ? -big : big;
    float r = t > 0.927734375f ? big : erf_small(a);
    return a != a ? a : r;
}

/* 1 + erf(a) without cancellation for negative a (GELU's Phi). */
static inline float v_one_plus_erf(float a)
{
    float t = fabsf(a);
    float e = v_exp(erf_big(t > 10.0f ? 10.0f : t)); /* 1 - erf(t) */
    float big = a < 0 ? e : 2.0f - e;
    return t > 0.927734375f ? big : 1.0f + erf_small(a);
}

static inline float v_tanh(float x)
{
    float t = fabsf(x);
    float z = x * x;
    float small = ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z + 1.33314422036E-1f) * z -
                   3.33332819422E-1f) * z * x + x;
    float big = 1.0f - 2.0f / (v_exp(2.0f * (t > 20.0f ? 20.0f : t)) + 1.0f);
    big = x < 0 ? -big : big;
    float r = t < 0.625f ? small : big;
    return x != x ? x : r;
}

static inline float v_gelu(float x) { return 0.5f * x * v_one_plus_erf(x * 0.70710678118654752f); }

static inline float v_gelu_tanh(float x)
{
    float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    /* 0.5 * x * (1 + tanh(u)) = x / (1 + exp(-2u)) */
    float r = x / (1.0f + v_exp(-2.0f * u));
    r = u > 40.0f ? x : r;
    r = u < -40.0f ? 0.0f * x : r;
    return r;
}

static inline float v_sigmoid(float x) { return 1.0f / (1.0f + v_exp(-x)); }

/* ---------------------------------------------------------------- array loops */

#define ARRAY_FN(name, fn)                                                                         \
    static void name(const float *restrict x, float *restrict o, int64_t n)                        \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) o[i] = fn(x[i]);                                           \
    }                                                                                              \
    static void name##_inplace(float *o, int64_t n)                                                \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) o[i] = fn(o[i]);                                           \
    }
ARRAY_FN(a_exp, v_exp)
ARRAY_FN(a_erf, v_erf)
ARRAY_FN(a_tanh, v_tanh)
ARRAY_FN(a_gelu, v_gelu)
ARRAY_FN(a_gelu_tanh, v_gelu_tanh)
ARRAY_FN(a_sigmoid, v_sigmoid)

/* The same operation in and out of place (the kernels may alias o and x). */
#define ALIAS_SAFE(name)                                                                           \
    static void name##_any(const float *x, float *o, int64_t n)                                    \
    {                                                                                              \
        if (x == o) name##_inplace(o, n);                                                          \
        else name(x, o, n);                                                                        \
    }
ALIAS_SAFE(a_exp)
ALIAS_SAFE(a_erf)
ALIAS_SAFE(a_tanh)
ALIAS_SAFE(a_gelu)
ALIAS_SAFE(a_gelu_tanh)
ALIAS_SAFE(a_sigmoid)

/* Row reductions: the maximum (NaN ignored), the sum in double, and the sum and sum of squares in
 * double. With the compiler's vector types each is a loop over whole registers of the ISA this
 * file is built for (GCC does not vectorise reductions over lane arrays by itself); without them,
 * 8 scalar lanes. */
#if HCG_HAVE_VECTOR_EXT
#if defined(__AVX512F__)
#define VBYTES 64
#elif defined(__AVX__)
#define VBYTES 32
#else
#define VBYTES 16
#endif
#define NL (VBYTES / 4)
HCG_VECTOR_TYPE(vf, float, VBYTES);
HCG_VECTOR_TYPE(vi, int32_t, VBYTES);
HCG_VECTOR_TYPE(vd, double, VBYTES * 2);

static inline vf vf_load(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The maximum ignoring NaN; *nan tells whether there was one. */
static float row_max_nan(const float *x, int64_t n, bool *nan)
{
    vf m = {0};
    vi bad = {0};
    m -= INFINITY;
    int64_t i = 0;
    for (; i + NL <= n; i += NL) {
        vf v = vf_load(x + i);
        vi gt = v > m;
        m = (vf)(((vi)v & gt) | ((vi)m & ~gt));
        bad |= v != v;
    }
    float r = -INFINITY;
    bool any = false;
    for (int l = 0; l < NL; l++) {
        r = m[l] > r ? m[l] : r;
        any |= bad[l] != 0;
    }
    for (; i < n; i++) {
        r = x[i] > r ? x[i] : r;
        any |= x[i] != x[i];
    }
    *nan = any;
    return r;
}

static double row_sum_d(const float *x, int64_t n)
{
    vd s = {0};
    int64_t i = 0;
    for (; i + NL <= n; i += NL) s += HCG_VEC_CONVERT(vf_load(x + i), vd);
    double r = 0;
    for (int l = 0; l < NL; l++) r += s[l];
    for (; i < n; i++) r += x[i];
    return r;
}

static void row_sums_d(const float *x, int64_t n, double *sum, double *sq)
{
    vd s = {0}, q = {0};
    int64_t i = 0;
    for (; i + NL <= n; i += NL) {
        vd v = HCG_VEC_CONVERT(vf_load(x + i), vd);
        s += v;
        q += v * v;
    }
    double rs = 0, rq = 0;
    for (int l = 0; l < NL; l++) {
        rs += s[l];
        rq += q[l];
    }
    for (; i < n; i++) {
        rs += x[i];
        rq += (double)x[i] * x[i];
    }
    *sum = rs;
    *sq = rq;
}
#else
static float row_max_nan(const float *x, int64_t n, bool *nan)
{
    float m[8];
    bool any = false;
    int64_t i = 0;
    for (int l = 0; l < 8; l++) m[l] = -INFINITY;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
    float r = -INFINITY;
    for (int l = 0; l < 8; l++) r = m[l] > r ? m[l] : r;
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    for (i = 0; i < n; i++) any |= x[i] != x[i];
    *nan = any;
    return r;
}

static void row_sums_d(const float *x, int64_t n, double *sum, double *sq)
{
    double s[8] = {0}, q[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            double v = x[i + l];
            s[l] += v;
            q[l] += v * v;
        }
    double rs = 0, rq = 0;
    for (int l = 0; l < 8; l++) {
        rs += s[l];
        rq += q[l];
    }
    for (; i < n; i++) {
        rs += x[i];
        rq += (double)x[i] * x[i];
    }
    *sum = rs;
    *sq = rq;
}

static double row_sum_d(const float *x, int64_t n)
{
    double s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) s[l] += x[i + l];
    double r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++) r += x[i];
    return r;
}
#endif

static float row_max(const float *x, int64_t n)
{
    bool nan;
    return row_max_nan(x, n, &nan);
}

/* Softmax blocks: each block's exponentials are taken against the block's own maximum while the
 * block is in L1 (one pass over x); the blocks are then rescaled to the row's maximum. */
#define SM_BLOCK 512
static void softmax_row(const float *x, float *o, int64_t n, int log_out)
{
    int64_t nb = (n + SM_BLOCK - 1) / SM_BLOCK;
    float bm_local[64], *bm = nb <= 64 ? bm_local : malloc(sizeof(float) * (size_t)nb);
    double bs_local[64], *bs = nb <= 64 ? bs_local : malloc(sizeof(double) * (size_t)nb);
    float tmp[SM_BLOCK];
    if (!bm || !bs) { /* no memory for the block table: one block, three passes */
        if (bm != bm_local) free(bm);
        if (bs != bs_local) free(bs);
        float m = row_max(x, n);
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += v_exp(x[i] - m);
        float inv = (float)(1.0 / s), lse = (float)log(s);
        for (int64_t i = 0; i < n; i++) o[i] = log_out ? (x[i] - m) - lse : v_exp(x[i] - m) * inv;
        return;
    }
    float m = -INFINITY;
    bool nan = false;
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * SM_BLOCK, w = n - i0 < SM_BLOCK ? n - i0 : SM_BLOCK;
        const float *xb = x + i0;
        float *eb = log_out ? tmp : o + i0;
        bool nan_b;
        float mb = row_max_nan(xb, w, &nan_b);
        nan |= nan_b;
        for (int64_t j = 0; j < w; j++) eb[j] = v_exp(xb[j] - mb);
        bm[b] = mb;
        bs[b] = row_sum_d(eb, w);
        m = mb > m ? mb : m;
    }
    if (nan) m = NAN; /* NaN anywhere makes the row NaN, as the reference does */
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += bs[b] * (double)v_exp(bm[b] - m);
    if (log_out) {
        float lse = (float)log(s);
        for (int64_t i = 0; i < n; i++) o[i] = (x[i] - m) - lse;
    } else {
        for (int64_t b = 0; b < nb; b++) {
            int64_t i0 = b * SM_BLOCK, w = n - i0 < SM_BLOCK ? n - i0 : SM_BLOCK;
            float f = (float)((double)v_exp(bm[b] - m) / s);
            for (int64_t j = 0; j < w; j++) o[i0 + j] *= f;
        }
    }
    if (bm != bm_local) free(bm);
    if (bs != bs_local) free(bs);
}

/* layer_norm / rms_norm of one row: sum and sum of squares in one pass, in double lanes (exact
 * products of floats), then the output with the mean as a float pair hi + lo. */
static void norm_row(const float *x, float *o, int64_t n, float eps, int rms, const float *scale, const float *bias)
{
    double sum, sq;
    row_sums_d(x, n, &sum, &sq);
    double mean = rms ? 0.0 : sum / (double)n;
    double var = sq / (double)n - mean * mean;
    if (var < 0) var = 0;
    float hi = (float)mean, lo = (float)(mean - hi), r = (float)(1.0 / sqrt(var + eps));
    if (scale && bias) {
        for (int64_t j = 0; j < n; j++) o[j] = ((x[j] - hi) - lo) * r * scale[j] + bias[j];
    } else if (scale) {
        for (int64_t j = 0; j < n; j++) o[j] = ((x[j] - hi) - lo) * r * scale[j];
    } else if (bias) {
        for (int64_t j = 0; j < n; j++) o[j] = ((x[j] - hi) - lo) * r + bias[j];
    } else {
        for (int64_t j = 0; j < n; j++) o[j] = ((x[j] - hi) - lo) * r;
    }
}

/* c = act(c + bias), row by row while each row is in cache. act: 0 none, 1 gelu, 2 gelu_tanh, 3 relu. */
/* One row of the epilogue: the bias add and the activation in one loop (bias never aliases c). */
#define EPILOGUE_ROW(row, bias, cols, f)                                                           \
    do {                                                                                           \
        if (bias)                                                                                  \
            for (int64_t j = 0; j < (cols); j++) (row)[j] = f((row)[j] + (bias)[j]);               \
        else                                                                                       \
            for (int64_t j = 0; j < (cols); j++) (row)[j] = f((row)[j]);                           \
    } while (0)

static inline float v_relu(float x) { return x > 0 ? x : (x != x ? x : 0.0f); }
static inline float v_identity(float x) { return x; }

static void epilogue(float *c, int64_t rows, int64_t cols, int64_t ld, const float *bias, int act)
{
    for (int64_t r = 0; r < rows; r++) {
        float *restrict row = c + r * ld;
        const float *restrict b = bias;
        switch (act) {
        case 1: EPILOGUE_ROW(row, b, cols, v_gelu); break;
        case 2: EPILOGUE_ROW(row, b, cols, v_gelu_tanh); break;
        case 3: EPILOGUE_ROW(row, b, cols, v_relu); break;
        default: EPILOGUE_ROW(row, b, cols, v_identity); break;
        }
    }
}

/* ---------------------------------------------------------------- attention */

/* One block of attention scores s [rows][n] (rows ld apart), in place: the mask is added, each
 * row's running maximum m and running sum l take the block in (online softmax), s becomes
 * exp(s - m_new) and corr = exp(m_old - m_new) is what the row's context so far must be scaled
 * by. A row whose keys so far are all masked out (-inf) contributes zeros. NaN anywhere in a row
 * makes its maximum NaN, so the row's result is NaN, as softmax gives. */
static void attn_softmax_block(float *s, int64_t rows, int64_t n, int64_t ld, const float *mask, int64_t mask_ld,
                               int64_t mask_cs, float *m, float *l, float *corr)
{
    for (int64_t i = 0; i < rows; i++) {
        float *restrict si = s + i * ld;
        if (mask) {
            const float *mr = mask + i * mask_ld;
            if (mask_cs == 1)
                for (int64_t j = 0; j < n; j++) si[j] += mr[j];
            else
                for (int64_t j = 0; j < n; j++) si[j] += mr[0];
        }
        bool nan;
        float mb = row_max_nan(si, n, &nan), mnew = mb > m[i] ? mb : m[i];
        if (nan) mnew = NAN;
        if (mnew == -INFINITY) { /* every key so far masked out: nothing to add */
            for (int64_t j = 0; j < n; j++) si[j] = 0;
            corr[i] = 1;
            continue;
        }
        float c = v_exp(m[i] - mnew);
        for (int64_t j = 0; j < n; j++) si[j] = v_exp(si[j] - mnew);
        l[i] = l[i] * c + (float)row_sum_d(si, n);
        corr[i] = c;
        m[i] = mnew;
    }
}

/* ---------------------------------------------------------------- weights stored small */

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__F16C__)
#include <immintrin.h>
#endif

/* Half to float without F16C: the half's exponent and mantissa bits placed in a float's and the
 * result scaled by 2^112 (exact for normal and subnormal halves), infinities and NaNs given the
 * float's top exponent; branch-free, so it vectorises. */
static inline float half_bits_to_float(uint16_t h)
{
    uint32_t em = (uint32_t)(h & 0x7fffu), u = em << 13, r;
    float f;
    memcpy(&f, &u, sizeof f);
    f *= 0x1p112f;
    memcpy(&r, &f, sizeof r);
    r = em >= 0x7c00u ? (u | 0x7f800000u) : r;
    r |= (uint32_t)(h & 0x8000u) << 16;
    memcpy(&f, &r, sizeof f);
    return f;
}

static void half_to_float(const uint16_t *restrict h, float *restrict o, int64_t n)
{
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(o + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i))));
#elif defined(__F16C__)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
#endif
    for (; i < n; i++) o[i] = half_bits_to_float(h[i]);
}

static void dequant_i8(const int8_t *restrict q, float *restrict o, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++) o[i] = (float)q[i] * scale;
}

static void dequant_i8_each(const int8_t *restrict q, float *restrict o, int64_t n, const float *restrict scales)
{
    for (int64_t i = 0; i < n; i++) o[i] = (float)q[i] * scales[i];
}

/* Columns [at, at + NL) of an int8 b, widened into a register (not yet scaled). */
#if HCG_HAVE_VECTOR_EXT
HCG_VECTOR_TYPE(vq8, int8_t, NL);

static inline vf wide_lanes(const int8_t *b, int64_t at)
{
#if defined(__AVX512F__)
    return (vf)_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + at))));
#elif defined(__AVX2__) && VBYTES == 32
    return (vf)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + at))));
#else
    vq8 q; /* (GCC converts these lane by lane) */
    memcpy(&q, b + at, sizeof q);
    return HCG_VEC_CONVERT(q, vf);
#endif
}

/* Rows [0, R) x columns [j, j + V NL) of small_rows (below); R and V are constants where it is
 * called, so the sums stay in registers. Two steps of K at a time into two sets of sums, so that
 * at least eight chains of additions are in flight. The sums of each block of K (all of K with
 * block 0) are scaled once per block. */
static inline void small_rows_tile(const int R, const int V, const float *restrict a, int64_t lda,
                                   const int8_t *restrict b, int64_t ldb, int64_t k, int64_t j,
                                   const float *restrict scales, int64_t block, int64_t scale_ld, float alpha,
                                   float *restrict c, int64_t ldc)
{
    vf tot[4][4] = {{{0}}};
    int64_t seg = block > 0 ? block : k;
    for (int64_t p0 = 0; p0 < k; p0 += seg) {
        int64_t p1 = k - p0 < seg ? k : p0 + seg, p = p0;
        vf acc[2][4][4] = {{{{0}}}};
        for (; p + 2 <= p1; p += 2)
            for (int u = 0; u < 2; u++)
                for (int v = 0; v < V; v++) {
                    vf wv = wide_lanes(b, (p + u) * ldb + j + v * NL);
                    for (int r = 0; r < R; r++) acc[u][r][v] += ((vf){0} + a[r * lda + p + u]) * wv;
                }
        for (; p < p1; p++)
            for (int v = 0; v < V; v++) {
                vf wv = wide_lanes(b, p * ldb + j + v * NL);
                for (int r = 0; r < R; r++) acc[0][r][v] += ((vf){0} + a[r * lda + p]) * wv;
            }
        const float *sc = scales + (block > 0 ? p0 / block : 0) * scale_ld + j;
        for (int v = 0; v < V; v++) {
            vf s = vf_load(sc + v * NL);
            for (int r = 0; r < R; r++) tot[r][v] += (acc[0][r][v] + acc[1][r][v]) * s;
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            vf o = tot[r][v] * alpha;
            memcpy(c + r * ldc + j + v * NL, &o, sizeof o);
        }
}

/* small_rows_tile with R and V as constants (V 1, 2 or 4; R 1-4; V 4 only for R <= 2). */
static void small_rows_tiles(int64_t R, int V, const float *a, int64_t lda, const int8_t *b, int64_t ldb,
                             int64_t k, int64_t j, const float *scales, int64_t block, int64_t scale_ld, float alpha,
                             float *c, int64_t ldc)
{
#define SMALL_ROWS_CASE(r, v)                                                                      \
    case r * 8 + v: small_rows_tile(r, v, a, lda, b, ldb, k, j, scales, block, scale_ld, alpha, c, ldc); break
    switch (R * 8 + V) {
        SMALL_ROWS_CASE(1, 4);
        SMALL_ROWS_CASE(1, 2);
        SMALL_ROWS_CASE(1, 1);
        SMALL_ROWS_CASE(2, 4);
        SMALL_ROWS_CASE(2, 2);
        SMALL_ROWS_CASE(2, 1);
        SMALL_ROWS_CASE(3, 2);
        SMALL_ROWS_CASE(3, 1);
        SMALL_ROWS_CASE(4, 2);
        SMALL_ROWS_CASE(4, 1);
    default: break;
    }
#undef SMALL_ROWS_CASE
}
#endif

/* cpu_simd.h: a few rows times an int8 weight [k][n], four rows at a time, the widest tiles of
 * columns first. */
static void small_rows(const float *restrict a, int64_t lda, int64_t m, const int8_t *restrict b, int64_t ldb,
                       int64_t k, int64_t w, const float *restrict scales, int64_t block,
                       int64_t scale_ld, float alpha, float *restrict c, int64_t ldc)
{
    for (int64_t r0 = 0; r0 < m; r0 += 4) {
        int64_t rows = m - r0 < 4 ? m - r0 : 4;
        const float *ar = a + r0 * lda;
        float *cr = c + r0 * ldc;
        int64_t j = 0;
#if HCG_HAVE_VECTOR_EXT
        /* rows 1-2: four registers of columns, rows 3-4: two (at most 16 sums per set), then the
         * rest a register at a time */
        for (int v = rows <= 2 ? 4 : 2; v >= 1; v /= 2)
            for (; j + v * NL <= w; j += v * NL)
                small_rows_tiles(rows, v, ar, lda, b, ldb, k, j, scales, block, scale_ld, alpha, cr, ldc);
#endif
        for (; j < w; j++)
            for (int64_t r = 0; r < rows; r++) {
                float acc = 0;
                for (int64_t p = 0; p < k; p++)
                    acc += ar[r * lda + p] * (float)b[p * ldb + j] * scales[(block > 0 ? p / block : 0) * scale_ld + j];
                cr[r * ldc + j] = alpha * acc;
            }
    }
}

/* ---------------------------------------------------------------- dynamic int8 activations */

static void quantize_row_u8(const float *restrict x, int64_t k, uint8_t *restrict q, float *scale, int32_t *zero)
{
    float lo = 0, hi = 0;
    int64_t i = 0;
#if HCG_HAVE_VECTOR_EXT
    vf vlo = {0}, vhi = {0};
    for (; i + NL <= k; i += NL) {
        vf v = vf_load(x + i);
        vi lt = v < vlo, gt = v > vhi;
        vlo = (vf)(((vi)v & lt) | ((vi)vlo & ~lt));
        vhi = (vf)(((vi)v & gt) | ((vi)vhi & ~gt));
    }
    for (int l = 0; l < NL; l++) {
        lo = vlo[l] < lo ? vlo[l] : lo;
        hi = vhi[l] > hi ? vhi[l] : hi;
    }
#endif
    for (; i < k; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    float s = (hi - lo) / 255.0f;
    if (!(s > 0) || !(s < INFINITY)) s = 1.0f;
    float z = rintf(-lo / s);
    z = z < 0 ? 0 : z > 255 ? 255 : z;
    for (int64_t j = 0; j < k; j++) {
        float v = rintf(x[j] / s) + z;
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        v = v == v ? v : z; /* NaN: the zero point */
        q[j] = (uint8_t)(int32_t)v;
    }
    *scale = s;
    *zero = (int32_t)z;
}

static void int32_to_f32_row(float *c, int64_t n, int32_t zero, const int32_t *restrict colsum, float rscale,
                             const float *restrict wscale)
{
    for (int64_t j = 0; j < n; j++) {
        int32_t s;
        memcpy(&s, &c[j], sizeof s);
        c[j] = (float)(s - zero * colsum[j]) * rscale * wscale[j];
    }
}

const hcg_simd_fns CAT(hcg_simd_, HCG_SIMD_NAME) = {
    .isa = STR(HCG_SIMD_NAME),
    .exp = a_exp_any,
    .erf = a_erf_any,
    .tanh = a_tanh_any,
    .gelu = a_gelu_any,
    .gelu_tanh = a_gelu_tanh_any,
    .sigmoid = a_sigmoid_any,
    .softmax_row = softmax_row,
    .norm_row = norm_row,
    .epilogue = epilogue,
    .attn_softmax_block = attn_softmax_block,
    .half_to_float = half_to_float,
    .dequant_i8 = dequant_i8,
    .dequant_i8_each = dequant_i8_each,
    .small_rows = small_rows,
    .quantize_row_u8 = quantize_row_u8,
    .int32_to_f32_row = int32_to_f32_row,
};
