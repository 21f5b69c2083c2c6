/* norm.cl - the normalisations: softmax and log_softmax along an axis, layer_norm and rms_norm
 * over the trailing dims. OpenCL C 1.2, no extensions; -D WG_SIZE=<n> sets the work-group size (a
 * power of two). f32 only.
 *
 * One work-group per row. A softmax row is K elements `inner` apart (the tensor seen as
 * [outer, K, inner]; row r is outer index r / inner, column r % inner); a norm row is K contiguous
 * elements. Each pass strides the group's items through the row and combines their partial
 * results in local memory. The formulas follow the CPU kernels (backend/cpu/cpu_reduce.c):
 * softmax subtracts the row maximum (NaN wins) before exponentiating, layer_norm takes the
 * variance about the mean in a second pass. */

#ifndef WG_SIZE
#define WG_SIZE 64
#endif

float maxnan(float a, float v) { return (v > a || isnan(v)) ? v : a; }

/* Combines every item's v over the work-group; every item gets the result. */
float group_max(float v, __local float *tmp)
{
    int lid = get_local_id(0);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = WG_SIZE / 2; h > 0; h >>= 1) {
        if (lid < h) tmp[lid] = maxnan(tmp[lid], tmp[lid + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = tmp[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* tmp is reused by the next call */
    return r;
}

float group_sum(float v, __local float *tmp)
{
    int lid = get_local_id(0);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = WG_SIZE / 2; h > 0; h >>= 1) {
        if (lid < h) tmp[lid] += tmp[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = tmp[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* ---------------------------------------------------------------- softmax, log_softmax */

#define SOFTMAX(NAME, LOG)                                                                         \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int K, int inner, __global float *out, ulong out_off, __global const float *in,            \
        ulong in_off)                                                                              \
    {                                                                                              \
        __local float tmp[WG_SIZE];                                                                \
        int row = get_group_id(0), lid = get_local_id(0);                                          \
        int o = row / inner, c = row - o * inner;                                                  \
        __global const float *x = in + in_off + (o * K * inner + c);                               \
        __global float *y = out + out_off + (o * K * inner + c);                                   \
        float m = -INFINITY;                                                                       \
        for (int k = lid; k < K; k += WG_SIZE) m = maxnan(m, x[k * inner]);                        \
        m = group_max(m, tmp);                                                                     \
        float sum = 0.0f;                                                                          \
        for (int k = lid; k < K; k += WG_SIZE) sum += exp(x[k * inner] - m);                       \
        sum = group_sum(sum, tmp);                                                                 \
        if (LOG) {                                                                                 \
            float shift = m + log(sum);                                                            \
            for (int k = lid; k < K; k += WG_SIZE) y[k * inner] = x[k * inner] - shift;            \
        } else {                                                                                   \
            float inv = 1.0f / sum;                                                                \
            for (int k = lid; k < K; k += WG_SIZE) y[k * inner] = exp(x[k * inner] - m) * inv;     \
        }                                                                                          \
    }

SOFTMAX(softmax_f32, 0)
SOFTMAX(log_softmax_f32, 1)

/* ---------------------------------------------------------------- layer_norm, rms_norm */

/* flags: 1 = scale given, 2 = bias given (absent ones are never read). */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void layer_norm_f32(
    int K, float eps, int flags, __global float *out, ulong out_off, __global const float *in,
    ulong in_off, __global const float *scale, ulong scale_off, __global const float *bias,
    ulong bias_off)
{
    __local float tmp[WG_SIZE];
    int row = get_group_id(0), lid = get_local_id(0);
    __global const float *x = in + in_off + row * K;
    __global float *y = out + out_off + row * K;
    float s = 0.0f;
    for (int k = lid; k < K; k += WG_SIZE) s += x[k];
    float mean = group_sum(s, tmp) / (float)K;
    float ss = 0.0f;
    for (int k = lid; k < K; k += WG_SIZE) {
        float d = x[k] - mean;
        ss += d * d;
    }
    float rstd = 1.0f / sqrt(group_sum(ss, tmp) / (float)K + eps);
    for (int k = lid; k < K; k += WG_SIZE) {
        float v = (x[k] - mean) * rstd;
        if (flags & 1) v *= scale[scale_off + k];
        if (flags & 2) v += bias[bias_off + k];
        y[k] = v;
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void rms_norm_f32(
    int K, float eps, int flags, __global float *out, ulong out_off, __global const float *in,
    ulong in_off, __global const float *scale, ulong scale_off)
{
    __local float tmp[WG_SIZE];
    int row = get_group_id(0), lid = get_local_id(0);
    __global const float *x = in + in_off + row * K;
    __global float *y = out + out_off + row * K;
    float ss = 0.0f;
    for (int k = lid; k < K; k += WG_SIZE) ss += x[k] * x[k];
    float rstd = 1.0f / sqrt(group_sum(ss, tmp) / (float)K + eps);
    for (int k = lid; k < K; k += WG_SIZE) {
        float v = x[k] * rstd;
        if (flags & 1) v *= scale[scale_off + k];
        y[k] = v;
    }
}
