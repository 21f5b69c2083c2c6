/* unary.cl - elementwise ops of one input on contiguous tensors: the math ops on f32 (neg exp log
 * sqrt rsqrt tanh sigmoid relu gelu gelu_tanh silu erf abs reciprocal clip), the integer ones on
 * i32 and i64 (neg relu abs clip) and not on bool. OpenCL C 1.2, no extensions.
 *
 * One kernel per op and dtype, <op>_<dtype>, all with the same arguments: the element count, the
 * output and input (buffer, element offset), and two float and two long parameters that only clip
 * reads (its bounds; the host rounds float bounds to integer ones for integer tensors). The
 * formulas follow the CPU kernels (backend/cpu/cpu_elementwise.c): relu keeps NaN, sigmoid never
 * exponentiates a large positive number, integer negation wraps. */

float f_sigmoid(float x)
{
    if (x >= 0) return 1.0f / (1.0f + exp(-x));
    float e = exp(x);
    return e / (1.0f + e);
}

float f_gelu_erf(float x) { return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f)); }

float f_gelu_tanh(float x)
{
    const float k = 0.79788456080286536f; /* sqrt(2 / pi) */
    return 0.5f * x * (1.0f + tanh(k * (x + 0.044715f * x * x * x)));
}

float f_clip(float v, float lo, float hi)
{
    if (isnan(v)) return v;
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

#define UNARY(NAME, T, EXPR)                                                                       \
    __kernel void NAME(int n, __global T *out, ulong out_off, __global const T *in, ulong in_off,  \
                       float f0, float f1, long l0, long l1)                                       \
    {                                                                                              \
        int i = get_global_id(0);                                                                  \
        if (i >= n) return;                                                                        \
        T v = in[in_off + i];                                                                      \
        out[out_off + i] = (EXPR);                                                                 \
    }

UNARY(neg_f32, float, -v)
UNARY(abs_f32, float, fabs(v))
UNARY(relu_f32, float, v > 0 ? v : (isnan(v) ? v : 0.0f))
UNARY(exp_f32, float, exp(v))
UNARY(log_f32, float, log(v))
UNARY(sqrt_f32, float, sqrt(v))
UNARY(rsqrt_f32, float, 1.0f / sqrt(v))
UNARY(tanh_f32, float, tanh(v))
UNARY(sigmoid_f32, float, f_sigmoid(v))
UNARY(silu_f32, float, v * f_sigmoid(v))
UNARY(erf_f32, float, erf(v))
UNARY(reciprocal_f32, float, 1.0f / v)
UNARY(gelu_f32, float, f_gelu_erf(v))
UNARY(gelu_tanh_f32, float, f_gelu_tanh(v))
UNARY(clip_f32, float, f_clip(v, f0, f1))

#define UNARY_INT(T, U, SUF)                                                                       \
    UNARY(neg_##SUF, T, (T)((U)0 - (U)v))                                                          \
    UNARY(abs_##SUF, T, v < 0 ? (T)((U)0 - (U)v) : v)                                              \
    UNARY(relu_##SUF, T, v > 0 ? v : 0)                                                            \
    UNARY(clip_##SUF, T, v < (T)l0 ? (T)l0 : (v > (T)l1 ? (T)l1 : v))

UNARY_INT(int, uint, i32)
UNARY_INT(long, ulong, i64)

UNARY(not_u8, uchar, v == 0 ? 1 : 0)
