/* quant.cl - quantized tensors. OpenCL C 1.2, no extensions: f16 scales are read with vload_half
 * (core), so devices without cl_khr_fp16 run every kernel; arithmetic is f32, integer products
 * sum in 32-bit integers.
 *
 * dequantize_<x>: (x - zero) * scale to f32, x i8 / u8 / i32, one work-item per element; the
 * scale layout (graph/quant.h) is mode 0 (one scale), 1 (one per index of the axis) or 2 (one per
 * block along it) over the tensor seen as [outer, dim, inner]; scales f32 or f16 (scale_f16).
 * quantize_<y>: saturate(rint(x / scale) + zero) to i8 / u8 (rint rounds half to even).
 * matmul_integer_<a>_<b>: (a - za) @ (b - zb) in 32 bits (wrapping, as the CPU's), one work-item
 * per output element, rows of a stacked over its batch dims, b a matrix; zero points none, one, or
 * per row of a / per column of b.
 * The products with small weights (quant_matmul, fused_matmul with an f16 weight) are in
 * cl/fused.cl, beside fused_matmul's epilogue. */

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
