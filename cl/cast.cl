/* cast.cl - conversion between every pair of dtypes (f32, f16, i32, i64, u8, i8, bool) on contiguous
 * tensors. OpenCL C 1.2, no extensions: f16 is storage only, read with vload_half and written
 * with vstore_half (both core; round to nearest even), so devices without cl_khr_fp16 run it.
 *
 * Kernels are cast_<from>_<to>(n, out, out_off, in, in_off). The rules follow the CPU kernel
 * (backend/cpu/cpu_elementwise.c): floats to integers truncate toward zero, saturate at the
 * target's range and give 0 for NaN (OpenCL's _sat_rtz conversions do exactly that); integers
 * among themselves wrap around; anything to bool is != 0; bool is 0 or 1. */

/* Loading a source element as the value to convert (f16 becomes float). */
#define LOAD_f32(p, i) p[i]
#define LOAD_f16(p, i) vload_half(i, p)
#define LOAD_i32(p, i) p[i]
#define LOAD_i64(p, i) p[i]
#define LOAD_u8(p, i) p[i]
#define LOAD_i8(p, i) p[i]
#define LOAD_bool(p, i) p[i]

#define TYPE_f32 float
#define TYPE_f16 half
#define TYPE_i32 int
#define TYPE_i64 long
#define TYPE_u8 uchar
#define TYPE_i8 char
#define TYPE_bool uchar

/* Conversions of a float value v to each target. */
#define FCONV_f32(v) (v)
#define FCONV_i32(v) convert_int_sat_rtz(v)
#define FCONV_i64(v) convert_long_sat_rtz(v)
#define FCONV_u8(v) convert_uchar_sat_rtz(v)
#define FCONV_i8(v) convert_char_sat_rtz(v)
#define FCONV_bool(v) (uchar)((v) != 0.0f ? 1 : 0)

/* Conversions of an integer value v (long) to each target: modular for integers. */
#define ICONV_f32(v) convert_float(v)
#define ICONV_i32(v) as_int((uint)(ulong)(v))
#define ICONV_i64(v) (v)
#define ICONV_u8(v) (uchar)(ulong)(v)
#define ICONV_i8(v) as_char((uchar)(ulong)(v))
#define ICONV_bool(v) (uchar)((v) != 0 ? 1 : 0)

#define CAST_BODY(SRC, DST, CONVERT)                                                               \
    __kernel void cast_##SRC##_##DST(int n, __global TYPE_##DST *out, ulong out_off,               \
                                     __global const TYPE_##SRC *in, ulong in_off)                  \
    {                                                                                              \
        int i = get_global_id(0);                                                                  \
        out += out_off;                                                                            \
        in += in_off;                                                                              \
        if (i >= n) return;                                                                        \
        CONVERT;                                                                                   \
    }

/* from a float source */
#define CAST_F(SRC)                                                                                \
    CAST_BODY(SRC, f32, out[i] = LOAD_##SRC(in, i))                             \
    CAST_BODY(SRC, f16, vstore_half(LOAD_##SRC(in, i), i, out))                 \
    CAST_BODY(SRC, i32, out[i] = FCONV_i32(LOAD_##SRC(in, i)))                  \
    CAST_BODY(SRC, i64, out[i] = FCONV_i64(LOAD_##SRC(in, i)))                  \
    CAST_BODY(SRC, u8, out[i] = FCONV_u8(LOAD_##SRC(in, i)))                    \
    CAST_BODY(SRC, i8, out[i] = FCONV_i8(LOAD_##SRC(in, i)))                    \
    CAST_BODY(SRC, bool, out[i] = FCONV_bool(LOAD_##SRC(in, i)))

/* from an integer source (widened to long first: exact for every integer dtype) */
#define CAST_I(SRC)                                                                                \
    CAST_BODY(SRC, f32, out[i] = ICONV_f32((long)in[i]))                        \
    CAST_BODY(SRC, f16, vstore_half(ICONV_f32((long)in[i]), i, out))            \
    CAST_BODY(SRC, i32, out[i] = ICONV_i32((long)in[i]))                        \
    CAST_BODY(SRC, i64, out[i] = ICONV_i64((long)in[i]))                        \
    CAST_BODY(SRC, u8, out[i] = ICONV_u8((long)in[i]))                          \
    CAST_BODY(SRC, i8, out[i] = ICONV_i8((long)in[i]))                          \
    CAST_BODY(SRC, bool, out[i] = ICONV_bool((long)in[i]))

CAST_F(f32)
CAST_F(f16)
CAST_I(i32)
CAST_I(i64)
CAST_I(u8)
CAST_I(i8)
CAST_I(bool)
