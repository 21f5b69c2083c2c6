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

/* erf for gelu: Abramowitz & Stegun 7.1.28, absolute error below 3e-7 - a few float ulps of
 * 1 + erf, which is what gelu adds it to - in straight-line arithmetic. Some implementations'
 * erf is far slower than the rest of gelu (POCL's by about 20x); the erf op itself keeps the
 * library's. */
float f_erf_gelu(float x)
{
    float t = fabs(x);
    float p = 1.0f + t * (0.0705230784f + t * (0.0422820123f + t * (0.0092705272f +
                     t * (0.0001520143f + t * (0.0002765672f + t * 0.0000430638f)))));
    p = p * p; /* p^16 in four squarings */
    p = p * p;
    p = p * p;
    p = p * p;
    return copysign(1.0f - 1.0f / p, x);
}

float f_gelu_erf(float x) { return 0.5f * x * (1.0f + f_erf_gelu(x * 0.70710678118654752f)); }

/* tanh(y) as 1 - 2 / (e^2y + 1): exact where gelu needs it (it adds 1 to it), no overflow (the
 * quotient goes to 0 or 2). */
float f_gelu_tanh(float x)
{
    const float k = 0.79788456080286536f; /* sqrt(2 / pi) */
    float y = k * (x + 0.044715f * x * x * x);
    return 0.5f * x * (2.0f - 2.0f / (exp(2.0f * y) + 1.0f));
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
        out += out_off;                                                                            \
        in += in_off;                                                                              \
        if (i >= n) return;                                                                        \
        T v = in[i];                                                                               \
        out[i] = (EXPR);                                                                           \
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
