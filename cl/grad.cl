/* grad.cl - the index ops training uses (one_hot, argmax) and the elementwise and scatter gradient
 * ops the autodiff pass emits (unary_grad, gather_grad). OpenCL C 1.2, no extensions. Defines:
 * WG_SIZE the work-group size of the one-group kernels (a power of two). The row-wise gradients
 * (softmax, log_softmax, layer_norm, rms_norm) live in norm.cl beside their forward kernels;
 * slice_grad is fill.cl's zero fill and layout.cl's strided copy.
 *
 * one_hot_<index dtype>: out as [outer, depth, inner] (NDRange dimension 0 over inner, 1 over
 * depth, 2 over outer), 1 where the index equals the class and 0 elsewhere, so an index outside
 * [0, depth) gives a row of zeros.
 *
 * argmax_<dtype>_row (the axis is the last: one work-group per row, each item scanning a stride of
 * the row, item 0 combining) and argmax_<dtype>_col (one work-item per output, dimension 0 over
 * inner, 1 over outer): the index of the largest value, the first of equal ones, and for floats
 * the first NaN, as the CPU's argmax (backend/cpu/cpu_grad.c).
 *
 * unary_grad_<function>_f32: dy * f'(x), the CPU's formulas (PyTorch's backward formulas).
 *
 * gather_grad_<index dtype>: the scatter-add that is gather's gradient, without atomics: one
 * work-item per output element (dimension 0 over inner, 1 over the axis, 2 over outer) adds the dy
 * entries of every index that names its row, in index order - the CPU's order, so the sums are
 * the same bits, on every run. gather_grad_check_<index dtype> (one work-group) finds the first
 * index out of range and records it in err as gather does (cl/layout.cl). */

/* ---------------------------------------------------------------- one_hot */

#define ONE_HOT(NAME, TI)                                                                          \
    __kernel void NAME(int depth, int inner, __global float *out, ulong out_off,                   \
                       __global const TI *idx, ulong idx_off)                                      \
    {                                                                                              \
        int x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);                      \
        out += (long)out_off + (long)z * depth * inner;                                            \
        idx += (long)idx_off + (long)z * inner;                                                    \
        if (x >= inner || y >= depth) return;                                                      \
        out[y * inner + x] = (long)idx[x] == (long)y ? 1.0f : 0.0f;                                \
    }

ONE_HOT(one_hot_i32, int)
ONE_HOT(one_hot_i64, long)

/* ---------------------------------------------------------------- argmax */

/* Whether value a at index ia beats value b at ib. */
#define BETTER_F(a, ia, b, ib) (isnan(a) ? (!isnan(b) || (ia) < (ib)) : (!isnan(b) && ((a) > (b) || ((a) == (b) && (ia) < (ib)))))
#define BETTER_I(a, ia, b, ib) ((a) > (b) || ((a) == (b) && (ia) < (ib)))

#define ARGMAX(SUF, T, BETTER)                                                                     \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void argmax_##SUF##_row(         \
        int D, __global long *out, ulong out_off, __global const T *in, ulong in_off)              \
    {                                                                                              \
        __local T lv[WG_SIZE];                                                                     \
        __local int li[WG_SIZE];                                                                   \
        int row = get_group_id(0), lid = get_local_id(0);                                          \
        __global const T *x = in + (long)in_off + (long)row * D;                                   \
        T bv = 0;                                                                                  \
        int bi = -1;                                                                               \
        for (int j = lid; j < D; j += WG_SIZE) {                                                   \
            T v = x[j];                                                                            \
            if (bi < 0 || BETTER(v, j, bv, bi)) bv = v, bi = j;                                    \
        }                                                                                          \
        lv[lid] = bv;                                                                              \
        li[lid] = bi;                                                                              \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        if (lid == 0) {                                                                            \
            for (int i = 1; i < WG_SIZE; i++)                                                      \
                if (li[i] >= 0 && BETTER(lv[i], li[i], bv, bi)) bv = lv[i], bi = li[i];            \
            out[out_off + row] = bi;                                                               \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    __kernel void argmax_##SUF##_col(int D, int inner, int outer, __global long *out,              \
                                     ulong out_off, __global const T *in, ulong in_off)            \
    {                                                                                              \
        int x = get_global_id(0), y = get_global_id(1);                                            \
        if (x >= inner || y >= outer) return;                                                      \
        __global const T *col = in + (long)in_off + (long)y * D * inner + x;                       \
        T bv = col[0];                                                                             \
        int bi = 0;                                                                                \
        for (int d = 1; d < D; d++) {                                                              \
            T v = col[d * inner];                                                                  \
            if (BETTER(v, d, bv, bi)) bv = v, bi = d;                                              \
        }                                                                                          \
        out[out_off + (long)y * inner + x] = bi;                                                   \
    }

ARGMAX(f32, float, BETTER_F)
ARGMAX(i32, int, BETTER_I)
ARGMAX(i64, long, BETTER_I)

/* ---------------------------------------------------------------- unary_grad */

float g_sigmoid(float x)
{
    if (x >= 0) return 1.0f / (1.0f + exp(-x));
    float e = exp(x);
    return e / (1.0f + e);
}

/* With the device's erf: the Abramowitz & Stegun form that unary.cl's gelu uses for speed (error
 * 3e-7) put the trained parameters of tests/train's MLP beyond the tolerance PyTorch's own float32
 * error sets. */
float d_gelu(float x)
{
    float cdf = 0.5f * (1.0f + erf(x * 0.70710678118654752f));
    return cdf + x * 0.39894228040143268f * exp(-0.5f * x * x); /* 1 / sqrt(2 pi) */
}

/* 1 + tanh(y) and 1 - tanh(y)^2 from a = e^-2|y| (no overflow), as the CPU takes them: accurate
 * to a few ulp also where tanh(y) is near -1 or 1 and both are tiny, where 1 + t and 1 - t * t
 * cancel (and carry the error of the device's tanh, which POCL's makes large). */
float2 tanh_terms(float y)
{
    float a = exp(-2.0f * fabs(y)), q = 1.0f / (1.0f + a);
    return (float2)(y >= 0.0f ? 2.0f * q : 2.0f * a * q, 4.0f * a * q * q);
}

float d_gelu_tanh(float x)
{
    const float beta = 0.79788456080286536f, kappa = 0.044715f;
    float x2 = x * x;
    float2 t = tanh_terms(beta * (x + kappa * x2 * x));
    return 0.5f * t.x + 0.5f * x * t.y * beta * (1.0f + 3.0f * kappa * x2);
}

float d_rsqrt(float x)
{
    float r = 1.0f / sqrt(x);
    return -0.5f * r * r * r;
}

float d_tanh(float x) { return tanh_terms(x).y; }

float d_sigmoid(float x)
{
    float s = g_sigmoid(x);
    return s * (1.0f - s);
}

float d_silu(float x)
{
    float s = g_sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}

float d_reciprocal(float x)
{
    float r = 1.0f / x;
    return -r * r;
}

#define UNARY_GRAD(NAME, DERIV)                                                                    \
    __kernel void NAME(int n, __global float *out, ulong out_off, __global const float *xin,       \
                       ulong x_off, __global const float *dy, ulong dy_off)                        \
    {                                                                                              \
        int i = get_global_id(0);                                                                  \
        out += out_off;                                                                            \
        xin += x_off;                                                                              \
        dy += dy_off;                                                                              \
        if (i >= n) return;                                                                        \
        float x = xin[i];                                                                          \
        out[i] = dy[i] * (DERIV);                                                                  \
    }

UNARY_GRAD(unary_grad_exp_f32, exp(x))
UNARY_GRAD(unary_grad_log_f32, 1.0f / x)
UNARY_GRAD(unary_grad_sqrt_f32, 1.0f / (2.0f * sqrt(x)))
UNARY_GRAD(unary_grad_rsqrt_f32, d_rsqrt(x))
UNARY_GRAD(unary_grad_tanh_f32, d_tanh(x))
UNARY_GRAD(unary_grad_sigmoid_f32, d_sigmoid(x))
UNARY_GRAD(unary_grad_relu_f32, x > 0.0f ? 1.0f : 0.0f)
UNARY_GRAD(unary_grad_gelu_f32, d_gelu(x))
UNARY_GRAD(unary_grad_gelu_tanh_f32, d_gelu_tanh(x))
UNARY_GRAD(unary_grad_silu_f32, d_silu(x))
UNARY_GRAD(unary_grad_erf_f32, 1.12837916709551257f * exp(-x * x)) /* 2 / sqrt(pi) */
UNARY_GRAD(unary_grad_abs_f32, x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f))
UNARY_GRAD(unary_grad_reciprocal_f32, d_reciprocal(x))

/* ---------------------------------------------------------------- gather_grad */

#define GATHER_GRAD(SUF, TI)                                                                       \
    __kernel void gather_grad_##SUF(int n_idx, int inner, int axis_dim, __global float *out,       \
                                    ulong out_off, __global const float *dy, ulong dy_off,         \
                                    __global const TI *idx, ulong idx_off)                         \
    {                                                                                              \
        int x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);                      \
        out += (long)out_off + (long)z * axis_dim * inner;                                         \
        dy += (long)dy_off + (long)z * n_idx * inner;                                              \
        idx += idx_off;                                                                            \
        if (x >= inner || y >= axis_dim) return;                                                   \
        float acc = 0.0f;                                                                          \
        for (int i = 0; i < n_idx; i++) {                                                          \
            long v = idx[i];                                                                       \
            if ((v < 0 ? v + axis_dim : v) == y) acc += dy[i * inner + x];                         \
        }                                                                                          \
        out[y * inner + x] = acc;                                                                  \
    }                                                                                              \
                                                                                                   \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void gather_grad_check_##SUF(    \
        int n_idx, int axis_dim, __global const TI *idx, ulong idx_off, __global int *err,         \
        int tag)                                                                                   \
    {                                                                                              \
        __local int first[WG_SIZE];                                                                \
        int lid = get_local_id(0), bad = n_idx;                                                    \
        idx += idx_off;                                                                            \
        for (int i = lid; i < n_idx; i += WG_SIZE) {                                               \
            long v = idx[i], w = v < 0 ? v + axis_dim : v;                                         \
            if (w < 0 || w >= axis_dim) {                                                          \
                bad = i;                                                                           \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
        first[lid] = bad;                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        if (lid == 0) {                                                                            \
            for (int i = 1; i < WG_SIZE; i++) bad = min(bad, first[i]);                            \
            if (bad < n_idx) report(err, tag, bad, idx[bad]);                                      \
        }                                                                                          \
    }

GATHER_GRAD(i32, int)
GATHER_GRAD(i64, long)
