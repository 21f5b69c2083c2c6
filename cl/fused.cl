/* fused.cl - the fused ops the rewrite passes make (graph/passes.h). OpenCL C 1.2.
 *
 * qmm_*: products whose weight is stored small (int8 with scales, f16), below.
 * epilogue_f32: fused_matmul's epilogue on the product CLBlast wrote: c = act(c + bias) over
 * [rows, cols] (one work-item per element; has_bias 0 or 1; act 0 none, 1 gelu, 2 gelu_tanh,
 * 3 relu), the same formulas as cl/unary.cl.
 * attention_f32: softmax(scale * q . k + mask) @ v with one work-item per (query row, batch and
 * head), streaming the keys in blocks of VEC with an online softmax (running maximum, rescaled sum
 * and context), so no score matrix and no expanded mask exist; rows are read VEC floats at a time
 * (explicit vectors: a CPU implementation runs a work-item's loops as scalar code otherwise). Operands are read through element strides (batch,
 * head, row), which covers both layouts, bhsd and bshd; the mask through broadcast strides. */

float f_erf(float x) /* Abramowitz & Stegun 7.1.28 (as cl/unary.cl's gelu) */
{
    float t = fabs(x);
    float p = 1.0f + t * (0.0705230784f + t * (0.0422820123f + t * (0.0092705272f +
              t * (0.0001520143f + t * (0.0002765672f + t * 0.0000430638f)))));
    p = p * p;
    p = p * p;
    p = p * p;
    p = p * p;
    float r = 1.0f - 1.0f / p;
    return x < 0 ? -r : r;
}

float f_act(float x, int act)
{
    if (act == 1) return 0.5f * x * (1.0f + f_erf(x * 0.70710678118654752f));
    if (act == 2) {
        float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
        return x / (1.0f + exp(-2.0f * u));
    }
    if (act == 3) return x > 0 ? x : (isnan(x) ? x : 0.0f);
    return x;
}

__kernel void epilogue_f32(int rows, int cols, int has_bias, int act, __global float *c, ulong c_off,
                           __global const float *bias, ulong b_off)
{
    long i = get_global_id(0);
    if (i >= (long)rows * cols) return;
    float x = c[c_off + i];
    if (has_bias) x += bias[b_off + i % cols];
    c[c_off + i] = f_act(x, act);
}

#define MAX_DV 128

#if VEC == 1
#define VF float
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#else
#define VF CAT(float, VEC)
#define VLOAD(p) CAT(vload, VEC)(0, p)
#define VSTORE(v, p) CAT(vstore, VEC)(v, 0, p)
#endif
#define MAXNAN(a, v) select(a, v, isgreater(v, a) | isnan(v))

/* The lanes of v folded with + or MAXNAN (NaN wins). */
float lanes_add(VF v)
{
    float t[VEC], r = 0.0f;
    VSTORE(v, t);
    for (int i = 0; i < VEC; i++) r += t[i];
    return r;
}

float lanes_max(VF v)
{
    float t[VEC], r = -INFINITY;
    VSTORE(v, t);
    for (int i = 0; i < VEC; i++) r = MAXNAN(r, t[i]);
    return r;
}

/* a . b over n floats, VEC at a time. */
float dot_row(__global const float *a, __global const float *b, int n)
{
    VF acc = 0.0f;
    int t = 0;
    for (; t + VEC <= n; t += VEC) acc += VLOAD(a + t) * VLOAD(b + t);
    float r = lanes_add(acc);
    for (; t < n; t++) r += a[t] * b[t];
    return r;
}

/* The keys go by in blocks of VEC: a block's scores are one vector, so its maximum, its
 * exponentials and its sum are vector operations, and the context is updated VEC values of v at
 * a time; a block that raises the row's maximum rescales the sum and the context once. */
__kernel void attention_f32(__global float *o, ulong o_off, __global const float *q, ulong q_off,
                            __global const float *k, ulong k_off, __global const float *v, ulong v_off,
                            __global const float *mask, ulong m_off, int has_mask, int heads, int nbh, int sq,
                            int sk, int d, int dv, long q_b, long q_h, long q_s, long k_b, long k_h, long k_s,
                            long v_b, long v_h, long v_s, long o_b, long o_h, long o_s, long m_b, long m_h,
                            long m_q, long m_k, float scale)
{
    int i = get_global_id(0), bh = get_global_id(1);
    if (i >= sq || bh >= nbh) return;
    long b = bh / heads, h = bh % heads;
    __global const float *qi = q + q_off + b * q_b + h * q_h + i * q_s;
    __global const float *kb = k + k_off + b * k_b + h * k_h;
    __global const float *vb = v + v_off + b * v_b + h * v_h;
    __global const float *mi = mask + m_off + b * m_b + h * m_h + i * m_q;
    float acc[MAX_DV], sc[VEC];
    int dv_vec = dv / VEC * VEC;
    for (int e = 0; e < dv; e++) acc[e] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int j0 = 0; j0 < sk; j0 += VEC) {
        int n = sk - j0 < VEC ? sk - j0 : VEC;
        for (int jj = 0; jj < VEC; jj++) {
            float s = -INFINITY;
            if (jj < n) {
                s = dot_row(qi, kb + (j0 + jj) * k_s, d) * scale;
                if (has_mask) s += mi[(j0 + jj) * m_k];
            }
            sc[jj] = s;
        }
        VF sv = VLOAD(sc);
        float mn = MAXNAN(m, lanes_max(sv));
        if (mn == -INFINITY) continue; /* every key so far masked out */
        float corr = exp(m - mn);
        VF p = exp(sv - mn); /* the block's keys past sk give exp(-inf) = 0 */
        l = l * corr + lanes_add(p);
        VSTORE(p, sc);
        for (int e = 0; e < dv_vec; e += VEC) {
            VF a = VLOAD(acc + e) * corr;
            for (int jj = 0; jj < n; jj++) a += sc[jj] * VLOAD(vb + (j0 + jj) * v_s + e);
            VSTORE(a, acc + e);
        }
        for (int e = dv_vec; e < dv; e++) {
            float a = acc[e] * corr;
            for (int jj = 0; jj < n; jj++) a += sc[jj] * vb[(j0 + jj) * v_s + e];
            acc[e] = a;
        }
        m = mn;
    }
    __global float *oi = o + o_off + b * o_b + h * o_h + i * o_s;
    float inv = 1.0f / l;
    for (int e = 0; e < dv; e++) oi[e] = acc[e] * inv;
}

/* ---------------------------------------------------------------- products with small weights
 *
 * qmm_*: C = act(alpha * A @ W + bias) with W an int8 matrix times its scales (per output column,
 * or per block along K: graph/quant.h) or an f16 matrix (vload_half: devices without cl_khr_fp16
 * run it), sums in f32. CLBlast has no such GEMM, so these are hcg's own, with f_act's epilogue
 * applied on the registers before the one write of C. qmm_i8, qmm_f16 (GPUs): a classic tiled one,
 * a work-group of 8 x 8 items computing a 32 x 32 tile of C, each item 4 x 4 outputs, over steps of
 * 16 along K whose A and W tiles are staged in local memory, W widened (and scaled) as it is
 * staged; operands read through element strides (rows, K, batch of A), so transposed and stacked
 * operands need no copies; edges padded with zeros. */

/* Scale i of a scale tensor (f32, or f16 when f16 is set). */
float q_scale(__global const uchar *s, int i, int f16)
{
    return f16 ? vload_half(i, (__global const half *)s) : ((__global const float *)s)[i];
}

#define TM 32
#define TN 32
#define TK 16
#define WX 8 /* items per group along N */
#define WY 8 /* along M */
#define RM (TM / WY)
#define RN (TN / WX)

/* W(kk, nn) of the int8 weight: its value times the scale of its column (block 0) or of its
 * column's block along K; w_kfast: the weight is [N, K] (transposed), else [K, N]. */
#define W_I8(w, kk, nn)                                                                            \
    ((float)w[(long)(kk) * w_ks + (long)(nn) * w_ns] *                                             \
     q_scale(scale, (int)s_off + (block == 0 ? (nn) : w_kfast ? (nn) * blocks + (kk) / block        \
                                                            : ((kk) / block) * n + (nn)), scale_f16))
#define W_F16(w, kk, nn) vload_half((long)(kk) * w_ks + (long)(nn) * w_ns, w)

#define QMM(NAME, WT, WLOAD)                                                                       \
    __kernel __attribute__((reqd_work_group_size(WX, WY, 1))) void qmm_##NAME(                     \
        int m, int n, int k, __global float *c, ulong c_off, long c_bs, __global const float *a,     \
        ulong a_off, long a_bs, long a_ms, long a_ks, __global const WT *w_base, ulong w_off, long w_ks,  \
        long w_ns, int w_kfast, __global const uchar *scale, ulong s_off, int scale_f16, int block,  \
        int blocks, __global const float *bias, ulong bias_off, int has_bias, int act, float alpha)  \
    {                                                                                              \
        __local float As[TK][TM + 1];                                                              \
        __local float Ws[TK][TN + 1];                                                              \
        int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WX + tx;                        \
        int n0 = get_group_id(0) * TN, m0 = get_group_id(1) * TM;                                  \
        long bt = get_global_id(2);                                                                \
        __global const float *ab = a + a_off + bt * a_bs;                                          \
        __global const WT *w = w_base + w_off;                                                     \
        float acc[RM][RN];                                                                         \
        for (int i = 0; i < RM; i++)                                                               \
            for (int j = 0; j < RN; j++) acc[i][j] = 0.0f;                                         \
        for (int k0 = 0; k0 < k; k0 += TK) {                                                       \
            /* A's tile: consecutive items along K when A's rows run along K, else along M */      \
            for (int e = lid; e < TM * TK; e += WX * WY) {                                         \
                int kk = a_ks == 1 ? e % TK : e / TM, mm = a_ks == 1 ? e / TK : e % TM;            \
                int gm = m0 + mm, gk = k0 + kk;                                                    \
                As[kk][mm] = gm < m && gk < k ? ab[(long)gm * a_ms + (long)gk * a_ks] : 0.0f;        \
            }                                                                                      \
            for (int e = lid; e < TN * TK; e += WX * WY) {                                         \
                int kk = w_kfast ? e % TK : e / TN, nn = w_kfast ? e / TK : e % TN;                \
                int gn = n0 + nn, gk = k0 + kk;                                                    \
                Ws[kk][nn] = gn < n && gk < k ? WLOAD(w, gk, gn) : 0.0f;                          \
            }                                                                                      \
            barrier(CLK_LOCAL_MEM_FENCE);                                                          \
            for (int kk = 0; kk < TK; kk++) {                                                      \
                float ar[RM], wr[RN];                                                              \
                for (int i = 0; i < RM; i++) ar[i] = As[kk][ty + i * WY];                          \
                for (int j = 0; j < RN; j++) wr[j] = Ws[kk][tx + j * WX];                          \
                for (int i = 0; i < RM; i++)                                                       \
                    for (int j = 0; j < RN; j++) acc[i][j] = mad(ar[i], wr[j], acc[i][j]);         \
            }                                                                                      \
            barrier(CLK_LOCAL_MEM_FENCE);                                                          \
        }                                                                                          \
        __global float *cb = c + c_off + bt * c_bs;                                                \
        for (int i = 0; i < RM; i++) {                                                             \
            int gm = m0 + ty + i * WY;                                                             \
            if (gm >= m) continue;                                                                 \
            for (int j = 0; j < RN; j++) {                                                         \
                int gn = n0 + tx + j * WX;                                                         \
                if (gn >= n) continue;                                                             \
                float v = alpha * acc[i][j];                                                       \
                if (has_bias) v += bias[bias_off + gn];                                            \
                cb[(long)gm * n + gn] = f_act(v, act);                                             \
            }                                                                                      \
        }                                                                                          \
    }

QMM(i8, char, W_I8)
QMM(f16, half, W_F16)

/* ---------------------------------------------------------------- CPU devices */

/* On a CPU device (POCL) a work-group is a loop over its items on one core, and a work-item's loops
 * run as scalar code unless written with vectors: the tiled product above, whose items share local
 * memory across barriers, runs 3x slower than CLBlast there. These kernels give each item a block of
 * C and walk K (or N) with explicit vectors of VEC floats: qmm_rows_* for a weight laid out [N, K]
 * (transpose_b: rows of A and rows of W are both contiguous along K, dot products), qmm_cols_* for
 * [K, N] (a row of W is contiguous along N: outer products). Scales per output column multiply the
 * finished sums; scales per block multiply each block's partial sums (rows) or the widened weight
 * row (cols). */

#if VEC == 1
#define QVLOAD_I8(p) ((float)*(p))
#define QVLOAD_F16(p) vload_half(0, p)
#else
#define QVLOAD_I8(p) CAT(convert_float, VEC)(CAT(vload, VEC)(0, p))
#define QVLOAD_F16(p) CAT(vload_half, VEC)(0, p)
#endif
#define QLOAD1_I8(p, i) ((float)(p)[i])
#define QLOAD1_F16(p, i) vload_half(i, p)
#define CM 4 /* rows of C per item */
#define CN 4 /* columns of C per item (qmm_rows_*) */

/* VEC scales of consecutive columns starting at i (f32 or f16). */
VF q_scales(__global const uchar *s, int i, int f16)
{
#if VEC == 1
    return q_scale(s, i, f16);
#else
    return f16 ? CAT(vload_half, VEC)(0, (__global const half *)s + i) : VLOAD((__global const float *)s + i);
#endif
}

/* The parameters of both forms below (ocl_quant.c's qmm_args_begin / qmm_args_end_launch). */
#define QMM_BLOCK_PARAMS(WT)                                                                       \
    int m, int n, int k, __global float *c, ulong c_off, long c_bs, __global const float *a, ulong a_off, \
        long a_bs, long a_ms, __global const WT *w, ulong w_off, __global const uchar *scale, ulong s_off, \
        int has_scale, int scale_f16, int block, int blocks, __global const float *bias, ulong bias_off, \
        int has_bias, int act, float alpha

/* Stores C[row][col] = act(alpha * v + bias[col]) when the element exists. */
void q_store(__global float *cb, int m, int n, int row, int col, float v, float alpha, __global const float *bias,
             int has_bias, int act)
{
    if (row >= m || col >= n) return;
    v *= alpha;
    if (has_bias) v += bias[col];
    cb[(long)row * n + col] = f_act(v, act);
}

#define QMM_ROWS(NAME, WT, WVLOAD, WLOAD1)                                                         \
    __kernel void qmm_rows_##NAME(QMM_BLOCK_PARAMS(WT))                                          \
    {                                                                                              \
        int n0 = get_global_id(0) * CN, m0 = get_global_id(1) * CM;                                \
        long bt = get_global_id(2);                                                                \
        if (n0 >= n || m0 >= m) return;                                                            \
        __global const float *ar[CM];                                                              \
        __global const WT *wr[CN];                                                                 \
        for (int r = 0; r < CM; r++) ar[r] = a + a_off + bt * a_bs + (long)min(m0 + r, m - 1) * a_ms; \
        for (int j = 0; j < CN; j++) wr[j] = w + w_off + (long)min(n0 + j, n - 1) * k;            \
        float sum[CM][CN];                                                                         \
        for (int r = 0; r < CM; r++)                                                               \
            for (int j = 0; j < CN; j++) sum[r][j] = 0.0f;                                         \
        int seg = block > 0 ? block : k;                                                           \
        for (int s0 = 0; s0 < k; s0 += seg) {                                                      \
            int s1 = min(k, s0 + seg), kk = s0;                                                    \
            VF acc[CM][CN];                                                                       \
            for (int r = 0; r < CM; r++)                                                           \
                for (int j = 0; j < CN; j++) acc[r][j] = 0.0f;                                     \
            for (; kk + VEC <= s1; kk += VEC) {                                                    \
                VF av[CM], wv[CN];                                                                \
                for (int r = 0; r < CM; r++) av[r] = VLOAD(ar[r] + kk);                           \
                for (int j = 0; j < CN; j++) wv[j] = WVLOAD(wr[j] + kk);                           \
                for (int r = 0; r < CM; r++)                                                       \
                    for (int j = 0; j < CN; j++) acc[r][j] = mad(av[r], wv[j], acc[r][j]);         \
            }                                                                                      \
            for (int j = 0; j < CN; j++) {                                                         \
                float sc = has_scale && block > 0                                                  \
                               ? q_scale(scale, (int)s_off + min(n0 + j, n - 1) * blocks + s0 / block, scale_f16) \
                               : 1.0f;                                                             \
                for (int r = 0; r < CM; r++) {                                                     \
                    float p = lanes_add(acc[r][j]);                                              \
                    for (int t = kk; t < s1; t++) p += ar[r][t] * WLOAD1(wr[j], t);               \
                    sum[r][j] += p * sc;                                                           \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        __global float *cb = c + c_off + bt * c_bs;                                                \
        for (int j = 0; j < CN; j++) {                                                             \
            float sc = has_scale && block == 0 ? q_scale(scale, (int)s_off + min(n0 + j, n - 1), scale_f16) : 1.0f; \
            for (int r = 0; r < CM; r++)                                                           \
                q_store(cb, m, n, m0 + r, n0 + j, sum[r][j] * sc, alpha, bias + bias_off, has_bias, act); \
        }                                                                                          \
    }

QMM_ROWS(i8, char, QVLOAD_I8, QLOAD1_I8)
QMM_ROWS(f16, half, QVLOAD_F16, QLOAD1_F16)

/* W [K, N]: an item computes CM rows x VEC columns, one widened (and, per block, scaled) row of W
 * per step along K; columns past N (the last item of a row) go one at a time. */
#define QMM_COLS(NAME, WT, WVLOAD, WLOAD1)                                                         \
    __kernel void qmm_cols_##NAME(QMM_BLOCK_PARAMS(WT))                                          \
    {                                                                                              \
        int n0 = get_global_id(0) * VEC, m0 = get_global_id(1) * CM;                               \
        long bt = get_global_id(2);                                                                \
        if (n0 >= n || m0 >= m) return;                                                            \
        __global const float *ar[CM];                                                              \
        for (int r = 0; r < CM; r++) ar[r] = a + a_off + bt * a_bs + (long)min(m0 + r, m - 1) * a_ms; \
        __global const WT *wb = w + w_off;                                                         \
        __global float *cb = c + c_off + bt * c_bs;                                                \
        if (n0 + VEC <= n) {                                                                       \
            VF acc[CM];                                                                           \
            for (int r = 0; r < CM; r++) acc[r] = 0.0f;                                            \
            for (int kk = 0; kk < k; kk++) {                                                       \
                VF wv = WVLOAD(wb + (long)kk * n + n0);                                           \
                if (has_scale && block > 0) wv *= q_scales(scale, (int)s_off + (kk / block) * n + n0, scale_f16); \
                for (int r = 0; r < CM; r++) acc[r] = mad((VF)(ar[r][kk]), wv, acc[r]);           \
            }                                                                                      \
            if (has_scale && block == 0)                                                           \
                for (int r = 0; r < CM; r++) acc[r] *= q_scales(scale, (int)s_off + n0, scale_f16); \
            for (int r = 0; r < CM; r++) {                                                         \
                float t[VEC];                                                                      \
                VSTORE(acc[r], t);                                                                \
                for (int j = 0; j < VEC; j++)                                                      \
                    q_store(cb, m, n, m0 + r, n0 + j, t[j], alpha, bias + bias_off, has_bias, act);  \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int col = n0; col < n; col++) {                                                       \
            float s[CM];                                                                           \
            for (int r = 0; r < CM; r++) s[r] = 0.0f;                                              \
            for (int kk = 0; kk < k; kk++) {                                                       \
                float wv = WLOAD1(wb, (long)kk * n + col);                                         \
                if (has_scale) wv *= q_scale(scale, (int)s_off + (block > 0 ? (kk / block) * n + col : col), scale_f16); \
                for (int r = 0; r < CM; r++) s[r] = mad(ar[r][kk], wv, s[r]);                      \
            }                                                                                      \
            for (int r = 0; r < CM; r++) q_store(cb, m, n, m0 + r, col, s[r], alpha, bias + bias_off, has_bias, act); \
        }                                                                                          \
    }

QMM_COLS(i8, char, QVLOAD_I8, QLOAD1_I8)
QMM_COLS(f16, half, QVLOAD_F16, QLOAD1_F16)
