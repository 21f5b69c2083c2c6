/* quant.cl - quantized tensors and products with weights stored small. OpenCL C 1.2, no
 * extensions: f16 is read with vload_half (core), so devices without cl_khr_fp16 run every kernel;
 * arithmetic is f32 throughout, products accumulate in f32 (integer ones in 32-bit integers).
 *
 * dequantize_<x>: (x - zero) * scale to f32, x i8 / u8 / i32, one work-item per element; the
 * scale layout (graph/quant.h) is mode 0 (one scale), 1 (one per index of the axis) or 2 (one per
 * block along it) over the tensor seen as [outer, dim, inner]; scales f32 or f16 (scale_f16).
 * quantize_<y>: saturate(rint(x / scale) + zero) to i8 / u8 (rint rounds half to even).
 * matmul_integer_<a>_<b>: (a - za) @ (b - zb) in 32 bits (wrapping, as the CPU's), one work-item
 * per output element, rows of a stacked over its batch dims, b a matrix; zero points none, one, or
 * per row of a / per column of b.
 * qmm_i8, qmm_f16: C = act(alpha * A @ W + bias) with W an int8 matrix times its scales (per
 * output column, or per block along K) or an f16 matrix: CLBlast has no such GEMM, so this is
 * hcg's own, a classic tiled one: a work-group of 8 x 8 items computes a 32 x 32 tile of C, each
 * item 4 x 4 outputs in registers, over steps of 16 along K whose A and W tiles are staged in local
 * memory, W widened to float (and scaled) as it is staged, so each weight is converted once per
 * tile of C. Operands are read through element strides (rows, K, batch of A), so transposed and
 * stacked operands need no copies; edges are padded with zeros. The epilogue (alpha, bias, act:
 * cl/fused.cl's formulas) runs on the registers before the one write of C. */

int q_scale_index(int mode, long e, long inner, long dim, long block, long blocks)
{
    if (mode == 0) return 0;
    long i = e % inner, od = e / inner, d = od % dim;
    if (mode == 1) return (int)d;
    return (int)(((od / dim) * blocks + d / block) * inner + i);
}

float q_scale(__global const uchar *s, int i, int f16)
{
    return f16 ? vload_half(i, (__global const half *)s) : ((__global const float *)s)[i];
}

#define DEQUANT(NAME, T)                                                                           \
    __kernel void dequantize_##NAME(int n, __global float *out, ulong out_off, __global const T *x,  \
                                    ulong x_off, __global const uchar *scale, ulong s_off, int scale_f16, \
                                    __global const T *zero, ulong z_off, int has_zero, int mode,     \
                                    long inner, long dim, long block, long blocks)                  \
    {                                                                                              \
        int e = get_global_id(0);                                                                  \
        if (e >= n) return;                                                                        \
        int si = q_scale_index(mode, e, inner, dim, block, blocks) + (int)s_off;                   \
        float z = has_zero ? (float)zero[z_off + si - s_off] : 0.0f;                               \
        out[out_off + e] = ((float)x[x_off + e] - z) * q_scale(scale, si, scale_f16);              \
    }

DEQUANT(i8, char)
DEQUANT(u8, uchar)
DEQUANT(i32, int)

#define QUANT(NAME, T, LO, HI)                                                                     \
    __kernel void quantize_##NAME(int n, __global T *out, ulong out_off, __global const float *x,   \
                                  ulong x_off, __global const uchar *scale, ulong s_off, int scale_f16, \
                                  __global const T *zero, ulong z_off, int has_zero, int mode,       \
                                  long inner, long dim, long block, long blocks)                    \
    {                                                                                              \
        int e = get_global_id(0);                                                                  \
        if (e >= n) return;                                                                        \
        int si = q_scale_index(mode, e, inner, dim, block, blocks) + (int)s_off;                   \
        float z = has_zero ? (float)zero[z_off + si - s_off] : 0.0f;                               \
        float v = rint(x[x_off + e] / q_scale(scale, si, scale_f16)) + z;                          \
        v = isnan(v) ? z : clamp(v, LO, HI); /* NaN: the zero point, as on the CPU */              \
        out[out_off + e] = (T)v;                                                                   \
    }

QUANT(i8, char, -128.0f, 127.0f)
QUANT(u8, uchar, 0.0f, 255.0f)

/* One output element per item: global (N, rows of the stacked a). */
#define MMI(AN, AT, BN, BT)                                                                        \
    __kernel void matmul_integer_##AN##_##BN(int m_rows, int n, int k, int m, __global int *c, ulong c_off, \
                                             __global const AT *a, ulong a_off, __global const BT *b,   \
                                             ulong b_off, __global const AT *za, ulong za_off, int za_n,  \
                                             __global const BT *zb, ulong zb_off, int zb_n)             \
    {                                                                                              \
        int j = get_global_id(0), r = get_global_id(1);                                            \
        if (j >= n || r >= m_rows) return;                                                         \
        int zav = za_n == 0 ? 0 : (int)za[za_off + (za_n > 1 ? r % m : 0)];                       \
        int zbv = zb_n == 0 ? 0 : (int)zb[zb_off + (zb_n > 1 ? j : 0)];                            \
        __global const AT *ar = a + a_off + (long)r * k;                                           \
        __global const BT *bc = b + b_off + j;                                                     \
        uint acc = 0;                                                                              \
        for (int p = 0; p < k; p++) acc += (uint)(((int)ar[p] - zav) * ((int)bc[(long)p * n] - zbv)); \
        c[c_off + (long)r * n + j] = (int)acc;                                                     \
    }

MMI(u8, uchar, u8, uchar)
MMI(u8, uchar, i8, char)
MMI(i8, char, u8, uchar)
MMI(i8, char, i8, char)

/* ---------------------------------------------------------------- the tiled product */

#define TM 32
#define TN 32
#define TK 16
#define WX 8 /* items per group along N */
#define WY 8 /* along M */
#define RM (TM / WY)
#define RN (TN / WX)

float q_act(float x, int act)
{
    if (act == 1) { /* gelu: Abramowitz & Stegun 7.1.28 erf, as cl/fused.cl */
        float u = x * 0.70710678118654752f, t = fabs(u);
        float p = 1.0f + t * (0.0705230784f + t * (0.0422820123f + t * (0.0092705272f +
                  t * (0.0001520143f + t * (0.0002765672f + t * 0.0000430638f)))));
        p = p * p;
        p = p * p;
        p = p * p;
        p = p * p;
        float r = 1.0f - 1.0f / p;
        return 0.5f * x * (1.0f + (u < 0 ? -r : r));
    }
    if (act == 2) {
        float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
        return x / (1.0f + exp(-2.0f * u));
    }
    if (act == 3) return x > 0 ? x : (isnan(x) ? x : 0.0f);
    return x;
}

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
                cb[(long)gm * n + gn] = q_act(v, act);                                             \
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

#ifndef VEC
#define VEC 4
#endif
#define QCAT_(a, b) a##b
#define QCAT(a, b) QCAT_(a, b)
#if VEC == 1
#define QVF float
#define QVLOAD(p) (*(p))
#define QVSTORE(v, p) (*(p) = (v))
#define QVLOAD_I8(p) ((float)*(p))
#define QVLOAD_F16(p) vload_half(0, p)
#else
#define QVF QCAT(float, VEC)
#define QVLOAD(p) QCAT(vload, VEC)(0, p)
#define QVSTORE(v, p) QCAT(vstore, VEC)(v, 0, p)
#define QVLOAD_I8(p) QCAT(convert_float, VEC)(QCAT(vload, VEC)(0, p))
#define QVLOAD_F16(p) QCAT(vload_half, VEC)(0, p)
#endif
#define QLOAD1_I8(p, i) ((float)(p)[i])
#define QLOAD1_F16(p, i) vload_half(i, p)
#define CM 4 /* rows of C per item */
#define CN 4 /* columns of C per item (qmm_rows_*) */

float q_lanes_add(QVF v)
{
    float t[VEC], r = 0.0f;
    QVSTORE(v, t);
    for (int i = 0; i < VEC; i++) r += t[i];
    return r;
}

/* VEC scales of consecutive columns starting at i (f32 or f16). */
QVF q_scales(__global const uchar *s, int i, int f16)
{
#if VEC == 1
    return q_scale(s, i, f16);
#else
    return f16 ? QCAT(vload_half, VEC)(0, (__global const half *)s + i) : QVLOAD((__global const float *)s + i);
#endif
}

/* Stores C[row][col] = act(alpha * v + bias[col]) when the element exists. */
void q_store(__global float *cb, int m, int n, int row, int col, float v, float alpha, __global const float *bias,
             int has_bias, int act)
{
    if (row >= m || col >= n) return;
    v *= alpha;
    if (has_bias) v += bias[col];
    cb[(long)row * n + col] = q_act(v, act);
}

#define QMM_ROWS(NAME, WT, WVLOAD, WLOAD1)                                                         \
    __kernel void qmm_rows_##NAME(int m, int n, int k, __global float *c, ulong c_off, long c_bs,      \
                                  __global const float *a, ulong a_off, long a_bs, long a_ms,          \
                                  __global const WT *w, ulong w_off, __global const uchar *scale,      \
                                  ulong s_off, int has_scale, int scale_f16, int block, int blocks,    \
                                  __global const float *bias, ulong bias_off, int has_bias, int act,   \
                                  float alpha)                                                     \
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
            QVF acc[CM][CN];                                                                       \
            for (int r = 0; r < CM; r++)                                                           \
                for (int j = 0; j < CN; j++) acc[r][j] = 0.0f;                                     \
            for (; kk + VEC <= s1; kk += VEC) {                                                    \
                QVF av[CM], wv[CN];                                                                \
                for (int r = 0; r < CM; r++) av[r] = QVLOAD(ar[r] + kk);                           \
                for (int j = 0; j < CN; j++) wv[j] = WVLOAD(wr[j] + kk);                           \
                for (int r = 0; r < CM; r++)                                                       \
                    for (int j = 0; j < CN; j++) acc[r][j] = mad(av[r], wv[j], acc[r][j]);         \
            }                                                                                      \
            for (int j = 0; j < CN; j++) {                                                         \
                float sc = has_scale && block > 0                                                  \
                               ? q_scale(scale, (int)s_off + min(n0 + j, n - 1) * blocks + s0 / block, scale_f16) \
                               : 1.0f;                                                             \
                for (int r = 0; r < CM; r++) {                                                     \
                    float p = q_lanes_add(acc[r][j]);                                              \
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
    __kernel void qmm_cols_##NAME(int m, int n, int k, __global float *c, ulong c_off, long c_bs,      \
                                  __global const float *a, ulong a_off, long a_bs, long a_ms,          \
                                  __global const WT *w, ulong w_off, __global const uchar *scale,      \
                                  ulong s_off, int has_scale, int scale_f16, int block, int blocks,    \
                                  __global const float *bias, ulong bias_off, int has_bias, int act,   \
                                  float alpha)                                                     \
    {                                                                                              \
        int n0 = get_global_id(0) * VEC, m0 = get_global_id(1) * CM;                               \
        long bt = get_global_id(2);                                                                \
        if (n0 >= n || m0 >= m) return;                                                            \
        __global const float *ar[CM];                                                              \
        for (int r = 0; r < CM; r++) ar[r] = a + a_off + bt * a_bs + (long)min(m0 + r, m - 1) * a_ms; \
        __global const WT *wb = w + w_off;                                                         \
        __global float *cb = c + c_off + bt * c_bs;                                                \
        if (n0 + VEC <= n) {                                                                       \
            QVF acc[CM];                                                                           \
            for (int r = 0; r < CM; r++) acc[r] = 0.0f;                                            \
            for (int kk = 0; kk < k; kk++) {                                                       \
                QVF wv = WVLOAD(wb + (long)kk * n + n0);                                           \
                if (has_scale && block > 0) wv *= q_scales(scale, (int)s_off + (kk / block) * n + n0, scale_f16); \
                for (int r = 0; r < CM; r++) acc[r] = mad((QVF)(ar[r][kk]), wv, acc[r]);           \
            }                                                                                      \
            if (has_scale && block == 0)                                                           \
                for (int r = 0; r < CM; r++) acc[r] *= q_scales(scale, (int)s_off + n0, scale_f16); \
            for (int r = 0; r < CM; r++) {                                                         \
                float t[VEC];                                                                      \
                QVSTORE(acc[r], t);                                                                \
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
