/* norm.cl - the normalisations: softmax and log_softmax along an axis, layer_norm and rms_norm
 * over the trailing dims. OpenCL C 1.2, no extensions; -D WG_SIZE=<n> sets the work-group size (a
 * power of two). f32 only.
 *
 * One work-group per row. A softmax row is K elements `inner` apart (the tensor seen as
 * [outer, K, inner]; row r is outer index r / inner, column r % inner); a norm row is K contiguous
 * elements. Each pass strides the group's items through the row and combines their partial
 * results in local memory. The formulas follow the CPU kernels (backend/cpu/cpu_reduce.c), which
 * keep their statistics in double; without fp64 these kernels sum with compensation (Kahan) and
 * centre rows on a mean held as two floats, which matches them to about a float ulp even for
 * rows with a large common offset. softmax subtracts the row maximum (NaN wins) before
 * exponentiating; log_softmax is (x - max) - log(sum), in that order, with log(sum) taken as
 * log1p(sum - 1) since the maximum's term is exactly 1. */

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

/* A compensated sum: s - c is the running total. */
typedef struct ksum {
    float s, c;
} ksum;

ksum ksum_add(ksum a, float v)
{
    float y = v - a.c;
    float t = a.s + y;
    a.c = (t - a.s) - y;
    a.s = t;
    return a;
}

/* The group's total of every item's compensated sum, as a compensated sum (tmp holds
 * 2 * WG_SIZE floats). */
ksum group_ksum(ksum v, __local float *tmp)
{
    int lid = get_local_id(0);
    tmp[lid] = v.s;
    tmp[WG_SIZE + lid] = v.c;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = WG_SIZE / 2; h > 0; h >>= 1) {
        if (lid < h) {
            ksum a = {tmp[lid], tmp[WG_SIZE + lid]};
            a = ksum_add(a, tmp[lid + h]);
            a = ksum_add(a, -tmp[WG_SIZE + lid + h]);
            tmp[lid] = a.s;
            tmp[WG_SIZE + lid] = a.c;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    ksum r = {tmp[0], tmp[WG_SIZE]};
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

float group_sum(ksum v, __local float *tmp)
{
    ksum r = group_ksum(v, tmp);
    return r.s - r.c;
}

/* ---------------------------------------------------------------- softmax, log_softmax */

#define SOFTMAX(NAME, LOG)                                                                         \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int K, int inner, __global float *out, ulong out_off, __global const float *in,            \
        ulong in_off)                                                                              \
    {                                                                                              \
        __local float tmp[2 * WG_SIZE];                                                            \
        int row = get_group_id(0), lid = get_local_id(0);                                          \
        int o = row / inner, c = row - o * inner;                                                  \
        __global const float *x = in + in_off + ((long)o * K * inner + c);                         \
        __global float *y = out + out_off + ((long)o * K * inner + c);                             \
        float m = -INFINITY;                                                                       \
        for (int k = lid; k < K; k += WG_SIZE) m = maxnan(m, x[k * inner]);                        \
        m = group_max(m, tmp);                                                                     \
        ksum part = {0.0f, 0.0f};                                                                  \
        for (int k = lid; k < K; k += WG_SIZE) part = ksum_add(part, exp(x[k * inner] - m));       \
        ksum total = group_ksum(part, tmp);                                                        \
        float sum = total.s - total.c;                                                             \
        if (LOG) {                                                                                 \
            /* the maximum's term is exactly 1: log1p of the rest keeps the small digits */        \
            float lse = log1p((total.s - 1.0f) - total.c);                                         \
            for (int k = lid; k < K; k += WG_SIZE) y[k * inner] = (x[k * inner] - m) - lse;        \
        } else {                                                                                   \
            float inv = 1.0f / sum;                                                                \
            for (int k = lid; k < K; k += WG_SIZE) y[k * inner] = exp(x[k * inner] - m) * inv;     \
        }                                                                                          \
    }

SOFTMAX(softmax_f32, 0)
SOFTMAX(log_softmax_f32, 1)

/* ---------------------------------------------------------------- layer_norm, rms_norm */

/* flags: 1 = scale given, 2 = bias given (absent ones are never read). The mean is m0 + lo: m0
 * the rounded compensated mean, lo the mean of x - m0 (each x - m0 is exact near the mean). */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void layer_norm_f32(
    int K, float eps, int flags, __global float *out, ulong out_off, __global const float *in,
    ulong in_off, __global const float *scale, ulong scale_off, __global const float *bias,
    ulong bias_off)
{
    __local float tmp[2 * WG_SIZE];
    int row = get_group_id(0), lid = get_local_id(0);
    __global const float *x = in + in_off + (long)row * K;
    __global float *y = out + out_off + (long)row * K;
    ksum s = {0.0f, 0.0f};
    for (int k = lid; k < K; k += WG_SIZE) s = ksum_add(s, x[k]);
    float m0 = group_sum(s, tmp) / (float)K;
    s = (ksum){0.0f, 0.0f};
    for (int k = lid; k < K; k += WG_SIZE) s = ksum_add(s, x[k] - m0);
    float lo = group_sum(s, tmp) / (float)K;
    s = (ksum){0.0f, 0.0f};
    for (int k = lid; k < K; k += WG_SIZE) {
        float d = (x[k] - m0) - lo;
        s = ksum_add(s, d * d);
    }
    float rstd = 1.0f / sqrt(group_sum(s, tmp) / (float)K + eps);
    for (int k = lid; k < K; k += WG_SIZE) {
        float v = ((x[k] - m0) - lo) * rstd;
        if (flags & 1) v *= scale[scale_off + k];
        if (flags & 2) v += bias[bias_off + k];
        y[k] = v;
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void rms_norm_f32(
    int K, float eps, int flags, __global float *out, ulong out_off, __global const float *in,
    ulong in_off, __global const float *scale, ulong scale_off)
{
    __local float tmp[2 * WG_SIZE];
    int row = get_group_id(0), lid = get_local_id(0);
    __global const float *x = in + in_off + (long)row * K;
    __global float *y = out + out_off + (long)row * K;
    ksum s = {0.0f, 0.0f};
    for (int k = lid; k < K; k += WG_SIZE) s = ksum_add(s, x[k] * x[k]);
    float rstd = 1.0f / sqrt(group_sum(s, tmp) / (float)K + eps);
    for (int k = lid; k < K; k += WG_SIZE) {
        float v = x[k] * rstd;
        if (flags & 1) v *= scale[scale_off + k];
        y[k] = v;
    }
}
