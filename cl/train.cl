/* train.cl - the losses' reductions to a scalar and the optimizer updates. OpenCL C 1.2, no
 * extensions. Defines: WG_SIZE the work-group size of the one-group kernels (a power of two).
 *
 * Losses: the per-row terms come from norm.cl (softmax_cross_entropy_rows_*, kl_div_rows_f32) or
 * from nll_loss_rows_* here (one work-item per row), as loss[r] and weight[r]; loss_total (one
 * work-group) sums them with compensation (the CPU sums in double) and writes
 * sum(loss) * mul / div, div being sum(weight) for a mean over the counted rows: 0 / 0 = NaN when
 * none counts, as PyTorch. mse_loss_partial sums (a - b)^2 over a grid-stride share per work-group
 * into partial sums for loss_total; mse_loss_none writes the squares. class_check_<index dtype>
 * (one work-group) finds the first row whose target is neither ignored nor a class index and
 * records it in err (as gather does, cl/layout.cl): the first row, as the CPU reports it.
 *
 * Optimizers: sgd_update_f32 and adam_update_f32 update the parameter and its state (momentum
 * buffer; Adam's moments) in place, step by step as the CPU kernels (backend/cpu/cpu_train.c)
 * and PyTorch's single-tensor SGD and Adam/AdamW do, reading the step's scalars from device
 * memory: hyper = [lr, step size, sqrt(bias correction 2), step] and the gradient scale, so a step
 * never waits for the host. Work-item 0 writes the op's output, the scalar 0. */

/* A compensated sum: s - c is the total (with no compensation once it is infinite, as norm.cl). */
#define KSUM_ADD(s, c, v)                                                                          \
    {                                                                                              \
        float y_ = (v) - (c);                                                                      \
        float t_ = (s) + y_;                                                                       \
        (c) = isinf(t_) ? 0.0f : (t_ - (s)) - y_;                                                  \
        (s) = t_;                                                                                  \
    }

/* Every item's compensated partial sums (s, c) of up to two quantities, combined by item 0 with
 * compensation; l holds 4 * WG_SIZE floats. Only item 0's result is the total. (One barrier,
 * outside any branch: an earlier loss_total with a second barrier under `if (weighted)` hung on
 * POCL 3.1, although every item takes that branch alike.) */
float2 group_ksum2(float4 sc, __local float *l)
{
    int lid = get_local_id(0);
    l[lid] = sc.x;
    l[WG_SIZE + lid] = sc.y;
    l[2 * WG_SIZE + lid] = sc.z;
    l[3 * WG_SIZE + lid] = sc.w;
    barrier(CLK_LOCAL_MEM_FENCE);
    float s = 0.0f, c = 0.0f, t = 0.0f, d = 0.0f;
    if (lid == 0)
        for (int i = 0; i < WG_SIZE; i++) {
            KSUM_ADD(s, c, l[i]);
            KSUM_ADD(s, c, -l[WG_SIZE + i]);
            KSUM_ADD(t, d, l[2 * WG_SIZE + i]);
            KSUM_ADD(t, d, -l[3 * WG_SIZE + i]);
        }
    return (float2)(s - c, t - d);
}

/* ---------------------------------------------------------------- losses */

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void loss_total(
    int n, float mul, float div, int weighted, __global float *out, ulong out_off,
    __global const float *loss, ulong loss_off, __global const float *weight, ulong weight_off)
{
    __local float l[4 * WG_SIZE];
    float4 sc = 0.0f; /* loss: x - y; weight: z - w */
    for (int i = get_local_id(0); i < n; i += WG_SIZE) {
        KSUM_ADD(sc.x, sc.y, loss[loss_off + i]);
        if (weighted) KSUM_ADD(sc.z, sc.w, weight[weight_off + i]);
    }
    float2 total = group_ksum2(sc, l);
    if (get_local_id(0) == 0) out[out_off] = total.x * mul / (weighted ? total.y : div);
}

#define CLASS_LOSS(SUF, TI)                                                                        \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void class_check_##SUF(          \
        int rows, int C, long ignore, int has_ignore, __global const TI *target, ulong t_off,      \
        __global int *err, int tag)                                                                \
    {                                                                                              \
        __local int first[WG_SIZE];                                                                \
        int lid = get_local_id(0), bad = rows;                                                     \
        target += t_off;                                                                           \
        for (int r = lid; r < rows; r += WG_SIZE) {                                                \
            long t = target[r];                                                                    \
            if (!(has_ignore && t == ignore) && (t < 0 || t >= C)) {                               \
                bad = r;                                                                           \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
        first[lid] = bad;                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        if (lid == 0) {                                                                            \
            for (int i = 1; i < WG_SIZE; i++) bad = min(bad, first[i]);                            \
            if (bad < rows) report(err, tag, bad, target[bad]);                                    \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    /* nll_loss: -x[t] of each row (scores as [outer, C, inner]); ignored and bad rows weigh 0. */ \
    __kernel void nll_loss_rows_##SUF(int rows, int C, int inner, long ignore, int has_ignore,     \
                                      __global float *loss, ulong loss_off, __global float *weight, \
                                      ulong weight_off, __global const float *x, ulong x_off,      \
                                      __global const TI *target, ulong t_off)                      \
    {                                                                                              \
        int r = get_global_id(0);                                                                  \
        if (r >= rows) return;                                                                     \
        int o0 = r / inner, c0 = r - o0 * inner;                                                   \
        long t = target[t_off + r];                                                                \
        bool counted = !(has_ignore && t == ignore) && t >= 0 && t < C;                            \
        loss[loss_off + r] = counted ? -x[x_off + ((long)o0 * C + t) * inner + c0] : 0.0f;         \
        weight[weight_off + r] = counted ? 1.0f : 0.0f;                                            \
    }

CLASS_LOSS(i32, int)
CLASS_LOSS(i64, long)

__kernel void mse_loss_none(int n, __global float *out, ulong out_off, __global const float *a,
                            ulong a_off, __global const float *b, ulong b_off)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float d = a[a_off + i] - b[b_off + i];
    out[out_off + i] = d * d;
}

/* Work-group g sums elements g * WG_SIZE + lid, then every groups * WG_SIZE further. */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void mse_loss_partial(
    int n, __global float *partial, ulong partial_off, __global const float *a, ulong a_off,
    __global const float *b, ulong b_off)
{
    __local float l[4 * WG_SIZE];
    int stride = get_num_groups(0) * WG_SIZE;
    float4 sc = 0.0f;
    for (int i = get_global_id(0); i < n; i += stride) {
        float d = a[a_off + i] - b[b_off + i];
        KSUM_ADD(sc.x, sc.y, d * d);
    }
    float2 total = group_ksum2(sc, l);
    if (get_local_id(0) == 0) partial[partial_off + get_group_id(0)] = total.x;
}

/* ---------------------------------------------------------------- optimizers */

__kernel void sgd_update_f32(int n, float momentum, float dampening, float wd, int nesterov,
                             int has_buf, __global float *out, ulong out_off, __global float *p,
                             ulong p_off, __global const float *g, ulong g_off,
                             __global const float *hyper, ulong hyper_off,
                             __global const float *scale, ulong scale_off, __global float *buf,
                             ulong buf_off)
{
    int i = get_global_id(0);
    if (i == 0) out[out_off] = 0.0f;
    if (i >= n) return;
    p += p_off;
    buf += buf_off;
    float lr = hyper[hyper_off], d = g[g_off + i] * scale[scale_off], pi = p[i];
    if (wd != 0.0f) d = d + wd * pi;
    if (has_buf) {
        float b = hyper[hyper_off + 3] <= 1.0f ? d : buf[i] * momentum + (1.0f - dampening) * d;
        buf[i] = b;
        d = nesterov ? d + momentum * b : b;
    }
    p[i] = pi + (-lr) * d;
}

__kernel void adam_update_f32(int n, float beta1, float one_minus_beta1, float beta2,
                              float one_minus_beta2, float eps, float wd, int decoupled,
                              __global float *out, ulong out_off, __global float *p, ulong p_off,
                              __global const float *g, ulong g_off, __global const float *hyper,
                              ulong hyper_off, __global const float *scale, ulong scale_off,
                              __global float *m, ulong m_off, __global float *v, ulong v_off)
{
    int i = get_global_id(0);
    if (i == 0) out[out_off] = 0.0f;
    if (i >= n) return;
    p += p_off;
    m += m_off;
    v += v_off;
    hyper += hyper_off;
    float gi = g[g_off + i] * scale[scale_off], pi = p[i];
    if (decoupled) pi = pi * (1.0f - hyper[0] * wd); /* AdamW: 1 - lr * weight_decay */
    else if (wd != 0.0f) gi = gi + wd * pi;
    float mi = m[i] * beta1 + one_minus_beta1 * gi;
    float vi = v[i] * beta2 + one_minus_beta2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    float denom = sqrt(vi) / hyper[2] + eps;
    p[i] = pi + (-hyper[1]) * (mi / denom);
}
