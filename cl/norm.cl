/* norm.cl - the normalisations: softmax and log_softmax along an axis, layer_norm and rms_norm
 * over the trailing dims; their gradients (softmax_grad, log_softmax_grad, layer_norm_grad,
 * rms_norm_grad, with the CPU's formulas: backend/cpu/cpu_grad.c); and the per-row terms of the
 * losses over a class axis (softmax_cross_entropy, kl_div: backend/cpu/cpu_train.c), which
 * cl/train.cl sums. OpenCL C 1.2, no extensions. Defines: WG_SIZE the work-group size (a
 * power of two), VEC the vector width (1, 2, 4, 8 or 16: the device's preferred float width).
 * f32 only.
 *
 * One work-group per row. A row of K contiguous elements (layer_norm, rms_norm, softmax_f32 and
 * log_softmax_f32, which the host uses when the axis is the last) is walked by the group's items
 * VEC elements at a time with vector loads, so that implementations running a work-item's loop as
 * scalar code (POCL) still use SIMD; each item folds its vector in halves and item 0 combines the
 * items' results (two barriers: a tree of barriers costs far more than it saves on CPU devices). softmax_inner_f32 and log_softmax_inner_f32 take a
 * softmax along a non-last axis: the tensor as [outer, K, inner], row r being outer index
 * r / inner and column r % inner, its K elements inner apart.
 *
 * The formulas follow the CPU kernels (backend/cpu/cpu_reduce.c), which keep their statistics in
 * double; without fp64 these kernels sum pairwise within an item's vector and with compensation
 * (Kahan) across items, and centre rows on a mean held as two floats (m0 + lo, lo the mean of the
 * exact differences x - m0), which matches them to about a float ulp even for rows with a large
 * common offset. softmax subtracts the row maximum (NaN wins) before exponentiating; log_softmax is
 * (x - max) - log(sum), in that order, with log(sum) taken as log1p(sum - 1) since the maximum's
 * term is exactly 1. */

#if VEC == 1
#define VT(T) T
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#else
#define VT(T) CAT(T, VEC)
#define VLOAD(p) CAT(vload, VEC)(0, p)
#define VSTORE(v, p) CAT(vstore, VEC)(v, 0, p)
#endif

/* NaN wins (and stays), scalar or vector. */
#define MAXNAN(a, v) select(a, v, isgreater(v, a) | isnan(v))

/* A compensated sum of type T (scalar or vector): s - c is the total. Once the total is infinite
 * the compensation stays 0 (inf - inf would make it NaN): the sum is inf, as a plain sum's. */
#define KSUM_ADD(T, s, c, v)                                                                       \
    {                                                                                              \
        T y_ = (v) - (c);                                                                          \
        T t_ = (s) + y_;                                                                           \
        (c) = select((t_ - (s)) - y_, (T)(0.0f), isinf(t_));                                       \
        (s) = t_;                                                                                  \
    }

/* Halving folds of a vector to a scalar: NAME<n>(v) for n = 1, 2, 4, 8, 16. */
#define DEFINE_FOLDS(NAME, T, OP)                                                                  \
    T NAME##1(T v) { return v; }                                                                   \
    T NAME##2(CAT(T, 2) v) { return OP(v.x, v.y); }                                                \
    T NAME##4(CAT(T, 4) v) { return NAME##2(OP(v.lo, v.hi)); }                                     \
    T NAME##8(CAT(T, 8) v) { return NAME##4(OP(v.lo, v.hi)); }                                     \
    T NAME##16(CAT(T, 16) v) { return NAME##8(OP(v.lo, v.hi)); }
#define FOLD(NAME, v) CAT(NAME, VEC)(v)
#define ADD(a, b) ((a) + (b))

DEFINE_FOLDS(fold_add, float, ADD)
DEFINE_FOLDS(fold_max, float, MAXNAN)

/* ---------------------------------------------------------------- group combines */

/* Every item's partial sum, combined by item 0 with compensation and given to every item; l holds
 * WG_SIZE + 1 floats. Two barriers, and the result has its own slot, so calls may follow each
 * other. The _k form returns the sum as hi + lo. */
float2 group_sum_k(float v, __local float *l)
{
    int lid = get_local_id(0);
    l[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        float s = 0.0f, c = 0.0f;
        for (int i = 0; i < WG_SIZE; i++) KSUM_ADD(float, s, c, l[i]);
        float hi = s - c;
        l[WG_SIZE] = hi;
        l[WG_SIZE + 1] = isinf(hi) ? 0.0f : (s - hi) - c;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return (float2)(l[WG_SIZE], l[WG_SIZE + 1]);
}

float group_sum(float v, __local float *l) { return group_sum_k(v, l).x; }

float group_max(float v, __local float *l)
{
    int lid = get_local_id(0);
    l[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        float m = l[0];
        for (int i = 1; i < WG_SIZE; i++) m = MAXNAN(m, l[i]);
        l[WG_SIZE] = m;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return l[WG_SIZE];
}

/* Two sums at once with the same two barriers; l holds 2 * WG_SIZE + 4 floats (L2_SIZE). The
 * parts are placed so that no call's inputs overwrite the result slots of the call before it,
 * of this function or of group_sum (l[WG_SIZE], l[WG_SIZE + 1]): calls may follow each other. */
#define L2_SIZE (2 * WG_SIZE + 4)
float2 group_sum2(float a, float b, __local float *l)
{
    int lid = get_local_id(0);
    l[lid] = a;
    l[WG_SIZE + 2 + lid] = b;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        float s = 0.0f, c = 0.0f, t = 0.0f, d = 0.0f;
        for (int i = 0; i < WG_SIZE; i++) {
            KSUM_ADD(float, s, c, l[i]);
            KSUM_ADD(float, t, d, l[WG_SIZE + 2 + i]);
        }
        l[2 * WG_SIZE + 2] = s - c;
        l[2 * WG_SIZE + 3] = t - d;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return (float2)(l[2 * WG_SIZE + 2], l[2 * WG_SIZE + 3]);
}

/* The vector loop over a contiguous row of K (k the first element of a chunk) and its scalar
 * tail (j), split over the group's items. */
#define ROW_VEC(k) for (int k = get_local_id(0) * VEC; k + VEC <= K; k += WG_SIZE * VEC)
#define ROW_TAIL(j) for (int j = K / VEC * VEC + (int)get_local_id(0); j < K; j += WG_SIZE)

/* A row's mean, as m0 + lo (m0 the rounded mean, lo the mean of x - m0, each difference exact near
 * the mean), and r = 1 / sqrt(var + eps), var the mean of (x - m0)^2 less lo^2 (lo is tiny next to
 * the spread: nothing cancels). l holds L2_SIZE floats. */
float3 row_mean_rstd(__global const float *x, int K, float eps, __local float *l)
{
    VT(float) v1 = 0.0f;
    ROW_VEC(k) v1 += VLOAD(x + k);
    float s = FOLD(fold_add, v1);
    ROW_TAIL(j) s += x[j];
    float m0 = group_sum(s, l) / (float)K;

    VT(float) vd = 0.0f, vq = 0.0f;
    ROW_VEC(k)
    {
        VT(float) d = VLOAD(x + k) - m0;
        vd += d;
        vq += d * d;
    }
    float sd = FOLD(fold_add, vd), sq = FOLD(fold_add, vq);
    ROW_TAIL(j)
    {
        float d = x[j] - m0;
        sd += d;
        sq += d * d;
    }
    float2 dq = group_sum2(sd, sq, l);
    float lo = dq.x / (float)K;
    float var = dq.y / (float)K - lo * lo;
    return (float3)(m0, lo, 1.0f / sqrt(fmax(var, 0.0f) + eps));
}

/* ---------------------------------------------------------------- softmax along the last axis */

#define SOFTMAX_ROW(NAME, LOG)                                                                     \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int K, __global float *out, ulong out_off, __global const float *in, ulong in_off)         \
    {                                                                                              \
        __local float l[WG_SIZE + 2];                                                              \
        int row = get_group_id(0);                                                                 \
        __global const float *x = in + (long)in_off + (long)row * K;                               \
        __global float *y = out + (long)out_off + (long)row * K;                                   \
        VT(float) vm = -INFINITY;                                                                  \
        ROW_VEC(k) vm = MAXNAN(vm, VLOAD(x + k));                                                  \
        float m = FOLD(fold_max, vm);                                                              \
        ROW_TAIL(j) m = MAXNAN(m, x[j]);                                                           \
        m = group_max(m, l);                                                                       \
        VT(float) vs = 0.0f;                                                                       \
        ROW_VEC(k) vs += exp(VLOAD(x + k) - m);                                                    \
        float s = FOLD(fold_add, vs);                                                              \
        ROW_TAIL(j) s += exp(x[j] - m);                                                            \
        float2 total = group_sum_k(s, l);                                                          \
        if (LOG) {                                                                                 \
            /* the maximum's term is exactly 1: log1p of the rest keeps the small digits */        \
            float lse = log1p((total.x - 1.0f) + total.y);                                         \
            ROW_VEC(k) VSTORE((VLOAD(x + k) - m) - lse, y + k);                                    \
            ROW_TAIL(j) y[j] = (x[j] - m) - lse;                                                   \
        } else {                                                                                   \
            float inv = 1.0f / total.x;                                                            \
            ROW_VEC(k) VSTORE(exp(VLOAD(x + k) - m) * inv, y + k);                                 \
            ROW_TAIL(j) y[j] = exp(x[j] - m) * inv;                                                \
        }                                                                                          \
    }

SOFTMAX_ROW(softmax_f32, 0)
SOFTMAX_ROW(log_softmax_f32, 1)

/* ---------------------------------------------------------------- softmax along another axis */

#define SOFTMAX_INNER(NAME, LOG)                                                                   \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int K, int inner, __global float *out, ulong out_off, __global const float *in,            \
        ulong in_off)                                                                              \
    {                                                                                              \
        __local float l[WG_SIZE + 2];                                                              \
        int row = get_group_id(0), lid = get_local_id(0);                                          \
        int o = row / inner, c0 = row - o * inner;                                                 \
        __global const float *x = in + (long)in_off + ((long)o * K * inner + c0);                  \
        __global float *y = out + (long)out_off + ((long)o * K * inner + c0);                      \
        float m = -INFINITY;                                                                       \
        for (int k = lid; k < K; k += WG_SIZE) m = MAXNAN(m, x[k * inner]);                        \
        m = group_max(m, l);                                                                       \
        float s = 0.0f;                                                                            \
        for (int k = lid; k < K; k += WG_SIZE) s += exp(x[k * inner] - m);                         \
        float2 total = group_sum_k(s, l);                                                          \
        if (LOG) {                                                                                 \
            float lse = log1p((total.x - 1.0f) + total.y);                                         \
            for (int k = lid; k < K; k += WG_SIZE) y[k * inner] = (x[k * inner] - m) - lse;        \
        } else {                                                                                   \
            float inv = 1.0f / total.x;                                                            \
            for (int k = lid; k < K; k += WG_SIZE) y[k * inner] = exp(x[k * inner] - m) * inv;     \
        }                                                                                          \
    }

SOFTMAX_INNER(softmax_inner_f32, 0)
SOFTMAX_INNER(log_softmax_inner_f32, 1)

/* The normalised row written out (layer_norm: ((x - m0) - lo) * rstd; rms_norm: x * rstd; then
 * scale and bias where flags say), with the row loops of a group (ROW_VEC, ROW_TAIL) or of one
 * item (ROW_ITEM_VEC, ROW_ITEM_TAIL). */
#define LAYER_NORM_OUT(VLOOP, TLOOP)                                                               \
    VLOOP(k)                                                                                       \
    {                                                                                              \
        VT(float) v = ((VLOAD(x + k) - m0) - lo) * rstd;                                           \
        if (flags & 1) v *= VLOAD(scale + k);                                                      \
        if (flags & 2) v += VLOAD(bias + k);                                                       \
        VSTORE(v, y + k);                                                                          \
    }                                                                                              \
    TLOOP(j)                                                                                       \
    {                                                                                              \
        float v = ((x[j] - m0) - lo) * rstd;                                                       \
        if (flags & 1) v *= scale[j];                                                              \
        if (flags & 2) v += bias[j];                                                               \
        y[j] = v;                                                                                  \
    }
#define RMS_NORM_OUT(VLOOP, TLOOP)                                                                 \
    VLOOP(k)                                                                                       \
    {                                                                                              \
        VT(float) v = VLOAD(x + k) * rstd;                                                         \
        if (flags & 1) v *= VLOAD(scale + k);                                                      \
        VSTORE(v, y + k);                                                                          \
    }                                                                                              \
    TLOOP(j)                                                                                       \
    {                                                                                              \
        float v = x[j] * rstd;                                                                     \
        if (flags & 1) v *= scale[j];                                                              \
        y[j] = v;                                                                                  \
    }

/* ---------------------------------------------------------------- one item per row (CPU devices) */

/* On a CPU device (POCL) a work-group is a loop on one core and each group costs about a
 * microsecond to schedule, as long as a short row takes: there the host runs these instead, one
 * work-item per contiguous row (rows of them, the NDRange rounded up), each walking its row VEC
 * elements at a time: a pass for the statistics, softmax's exp taken once and written, and a
 * last pass over the row, which is in the core's cache by then. Sums are compensated (Kahan) per
 * lane and across lanes, as the group kernels do across items. */

/* The lanes of a compensated vector sum (s - c per lane) as hi + lo. */
float2 lanes_sum_k(VT(float) s, VT(float) c)
{
    float ls[VEC], lc[VEC];
#if VEC == 1
    ls[0] = s;
    lc[0] = c;
#else
    CAT(vstore, VEC)(s, 0, ls);
    CAT(vstore, VEC)(c, 0, lc);
#endif
    float t = 0.0f, tc = 0.0f;
    for (int i = 0; i < VEC; i++) {
        KSUM_ADD(float, t, tc, ls[i]);
        KSUM_ADD(float, t, tc, -lc[i]);
    }
    float hi = t - tc;
    return (float2)(hi, (t - hi) - tc);
}

#define ROW_ITEM_VEC(k) for (int k = 0; k + VEC <= K; k += VEC)
#define ROW_ITEM_TAIL(j) for (int j = K / VEC * VEC; j < K; j++)

#define SOFTMAX_ITEM(NAME, LOG)                                                                    \
    __kernel void NAME(int rows, int K, __global float *out, ulong out_off, __global const float *in, \
                       ulong in_off)                                                               \
    {                                                                                              \
        int row = get_global_id(0);                                                                \
        if (row >= rows) return;                                                                   \
        __global const float *x = in + (long)in_off + (long)row * K;                               \
        __global float *y = out + (long)out_off + (long)row * K;                                   \
        VT(float) vm = -INFINITY;                                                                  \
        ROW_ITEM_VEC(k) vm = MAXNAN(vm, VLOAD(x + k));                                             \
        float m = FOLD(fold_max, vm);                                                              \
        ROW_ITEM_TAIL(j) m = MAXNAN(m, x[j]);                                                      \
        VT(float) vs = 0.0f, vc = 0.0f;                                                            \
        float ts = 0.0f, tc = 0.0f;                                                                \
        ROW_ITEM_VEC(k)                                                                            \
        {                                                                                          \
            VT(float) e = exp(VLOAD(x + k) - m);                                                   \
            if (!LOG) VSTORE(e, y + k);                                                            \
            KSUM_ADD(VT(float), vs, vc, e);                                                        \
        }                                                                                          \
        ROW_ITEM_TAIL(j)                                                                           \
        {                                                                                          \
            float e = exp(x[j] - m);                                                               \
            if (!LOG) y[j] = e;                                                                    \
            KSUM_ADD(float, ts, tc, e);                                                            \
        }                                                                                          \
        float2 total = lanes_sum_k(vs, vc);                                                        \
        total.y += ts - tc;                                                                        \
        if (LOG) {                                                                                 \
            float lse = log1p((total.x - 1.0f) + total.y);                                         \
            ROW_ITEM_VEC(k) VSTORE((VLOAD(x + k) - m) - lse, y + k);                               \
            ROW_ITEM_TAIL(j) y[j] = (x[j] - m) - lse;                                              \
        } else {                                                                                   \
            float inv = 1.0f / (total.x + total.y);                                                \
            ROW_ITEM_VEC(k) VSTORE(VLOAD(y + k) * inv, y + k);                                     \
            ROW_ITEM_TAIL(j) y[j] *= inv;                                                          \
        }                                                                                          \
    }

SOFTMAX_ITEM(softmax_item_f32, 0)
SOFTMAX_ITEM(log_softmax_item_f32, 1)

/* Compensated sum of a row's values f(x) (f an expression of v), as hi + lo. */
#define ROW_ITEM_SUM(result, f)                                                                    \
    {                                                                                              \
        VT(float) s_ = 0.0f, c_ = 0.0f;                                                            \
        float ts_ = 0.0f, tc_ = 0.0f;                                                              \
        ROW_ITEM_VEC(k)                                                                            \
        {                                                                                          \
            VT(float) v = VLOAD(x + k);                                                            \
            KSUM_ADD(VT(float), s_, c_, (f));                                                      \
        }                                                                                          \
        ROW_ITEM_TAIL(j)                                                                           \
        {                                                                                          \
            float v = x[j];                                                                        \
            KSUM_ADD(float, ts_, tc_, (f));                                                        \
        }                                                                                          \
        result = lanes_sum_k(s_, c_);                                                              \
        result.y += ts_ - tc_;                                                                     \
    }

/* layer_norm and rms_norm as the group kernels below compute them, one item per row. */
__kernel void layer_norm_item_f32(int rows, int K, float eps, int flags, __global float *out, ulong out_off,
                                  __global const float *in, ulong in_off, __global const float *scale,
                                  ulong scale_off, __global const float *bias, ulong bias_off)
{
    int row = get_global_id(0);
    if (row >= rows) return;
    __global const float *x = in + (long)in_off + (long)row * K;
    __global float *y = out + (long)out_off + (long)row * K;
    scale += scale_off;
    bias += bias_off;
    float2 t;
    ROW_ITEM_SUM(t, v);
    float m0 = (t.x + t.y) / (float)K;
    float2 td, tq;
    ROW_ITEM_SUM(td, v - m0);
    ROW_ITEM_SUM(tq, (v - m0) * (v - m0));
    float lo = (td.x + td.y) / (float)K;
    float var = (tq.x + tq.y) / (float)K - lo * lo;
    float rstd = 1.0f / sqrt(fmax(var, 0.0f) + eps);
    LAYER_NORM_OUT(ROW_ITEM_VEC, ROW_ITEM_TAIL);
}

__kernel void rms_norm_item_f32(int rows, int K, float eps, int flags, __global float *out, ulong out_off,
                                __global const float *in, ulong in_off, __global const float *scale, ulong scale_off)
{
    int row = get_global_id(0);
    if (row >= rows) return;
    __global const float *x = in + (long)in_off + (long)row * K;
    __global float *y = out + (long)out_off + (long)row * K;
    scale += scale_off;
    float2 tq;
    ROW_ITEM_SUM(tq, v * v);
    float rstd = 1.0f / sqrt((tq.x + tq.y) / (float)K + eps);
    RMS_NORM_OUT(ROW_ITEM_VEC, ROW_ITEM_TAIL);
}

/* ---------------------------------------------------------------- layer_norm, rms_norm */

/* flags: 1 = scale given, 2 = bias given (absent ones are never read). The mean and variance as
 * row_mean_rstd takes them. */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void layer_norm_f32(
    int K, float eps, int flags, __global float *out, ulong out_off, __global const float *in,
    ulong in_off, __global const float *scale, ulong scale_off, __global const float *bias,
    ulong bias_off)
{
    __local float l[L2_SIZE];
    int row = get_group_id(0);
    __global const float *x = in + (long)in_off + (long)row * K;
    __global float *y = out + (long)out_off + (long)row * K;
    scale += scale_off;
    bias += bias_off;
    float3 st = row_mean_rstd(x, K, eps, l);
    float m0 = st.x, lo = st.y, rstd = st.z;

    LAYER_NORM_OUT(ROW_VEC, ROW_TAIL);
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void rms_norm_f32(
    int K, float eps, int flags, __global float *out, ulong out_off, __global const float *in,
    ulong in_off, __global const float *scale, ulong scale_off)
{
    __local float l[WG_SIZE + 2];
    int row = get_group_id(0);
    __global const float *x = in + (long)in_off + (long)row * K;
    __global float *y = out + (long)out_off + (long)row * K;
    scale += scale_off;
    VT(float) vq = 0.0f;
    ROW_VEC(k)
    {
        VT(float) v = VLOAD(x + k);
        vq += v * v;
    }
    float sq = FOLD(fold_add, vq);
    ROW_TAIL(j) sq += x[j] * x[j];
    float rstd = 1.0f / sqrt(group_sum(sq, l) / (float)K + eps);
    RMS_NORM_OUT(ROW_VEC, ROW_TAIL);
}

/* ---------------------------------------------------------------- gradients */

/* softmax_grad: y * (dy - sum(dy * y)); log_softmax_grad: dy - exp(y) * sum(dy); y is the forward
 * op's output. Rows along the last axis (contiguous), and along another axis (K elements inner
 * apart, as softmax_inner_f32). */
#define SOFTMAX_GRAD_ROW(NAME, LOG)                                                                \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int K, __global float *out, ulong out_off, __global const float *yin, ulong y_off,         \
        __global const float *dyin, ulong dy_off)                                                  \
    {                                                                                              \
        __local float l[WG_SIZE + 2];                                                              \
        long base = (long)get_group_id(0) * K;                                                     \
        __global const float *y = yin + (long)y_off + base, *g = dyin + (long)dy_off + base;       \
        __global float *o = out + (long)out_off + base;                                            \
        VT(float) vs = 0.0f;                                                                       \
        ROW_VEC(k) vs += LOG ? VLOAD(g + k) : VLOAD(g + k) * VLOAD(y + k);                         \
        float s = FOLD(fold_add, vs);                                                              \
        ROW_TAIL(j) s += LOG ? g[j] : g[j] * y[j];                                                 \
        s = group_sum(s, l);                                                                       \
        if (LOG) {                                                                                 \
            ROW_VEC(k) VSTORE(VLOAD(g + k) - exp(VLOAD(y + k)) * s, o + k);                        \
            ROW_TAIL(j) o[j] = g[j] - exp(y[j]) * s;                                               \
        } else {                                                                                   \
            ROW_VEC(k) VSTORE(VLOAD(y + k) * (VLOAD(g + k) - s), o + k);                           \
            ROW_TAIL(j) o[j] = y[j] * (g[j] - s);                                                  \
        }                                                                                          \
    }

SOFTMAX_GRAD_ROW(softmax_grad_f32, 0)
SOFTMAX_GRAD_ROW(log_softmax_grad_f32, 1)

#define SOFTMAX_GRAD_INNER(NAME, LOG)                                                              \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int K, int inner, __global float *out, ulong out_off, __global const float *yin,           \
        ulong y_off, __global const float *dyin, ulong dy_off)                                     \
    {                                                                                              \
        __local float l[WG_SIZE + 2];                                                              \
        int row = get_group_id(0), lid = get_local_id(0);                                          \
        int o0 = row / inner, c0 = row - o0 * inner;                                               \
        long base = (long)o0 * K * inner + c0;                                                     \
        __global const float *y = yin + (long)y_off + base, *g = dyin + (long)dy_off + base;       \
        __global float *o = out + (long)out_off + base;                                            \
        float s = 0.0f;                                                                            \
        for (int k = lid; k < K; k += WG_SIZE) s += LOG ? g[k * inner] : g[k * inner] * y[k * inner]; \
        s = group_sum(s, l);                                                                       \
        for (int k = lid; k < K; k += WG_SIZE)                                                     \
            o[k * inner] = LOG ? g[k * inner] - exp(y[k * inner]) * s : y[k * inner] * (g[k * inner] - s); \
    }

SOFTMAX_GRAD_INNER(softmax_grad_inner_f32, 0)
SOFTMAX_GRAD_INNER(log_softmax_grad_inner_f32, 1)

/* The gradient of layer_norm(x, scale) with respect to x, given dy; flags: 1 = scale given. With
 * g = dy * scale, r = 1 / sqrt(var + eps) and xhat = (x - mean) * r (the mean as m0 + lo, as
 * row_mean_rstd takes it): dx = r * (g - mean(g) - xhat * mean(g * xhat)). */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void layer_norm_grad_f32(
    int K, float eps, int flags, __global float *out, ulong out_off, __global const float *in,
    ulong in_off, __global const float *dyin, ulong dy_off, __global const float *scale,
    ulong scale_off)
{
    __local float l[L2_SIZE];
    long base = (long)get_group_id(0) * K;
    __global const float *x = in + (long)in_off + base, *dy = dyin + (long)dy_off + base;
    __global float *y = out + (long)out_off + base;
    scale += scale_off;
    float3 st = row_mean_rstd(x, K, eps, l);
    float m0 = st.x, lo = st.y, r = st.z;

    /* sums of g and of g * (x - mean) */
    VT(float) vg = 0.0f, vgx = 0.0f;
    ROW_VEC(k)
    {
        VT(float) g = VLOAD(dy + k);
        if (flags & 1) g *= VLOAD(scale + k);
        vg += g;
        vgx += g * ((VLOAD(x + k) - m0) - lo);
    }
    float sg = FOLD(fold_add, vg), sgx = FOLD(fold_add, vgx);
    ROW_TAIL(j)
    {
        float g = (flags & 1) ? dy[j] * scale[j] : dy[j];
        sg += g;
        sgx += g * ((x[j] - m0) - lo);
    }
    float2 gs = group_sum2(sg, sgx, l);
    float mg = gs.x / (float)K, mgx = gs.y * r / (float)K;
    ROW_VEC(k)
    {
        VT(float) g = VLOAD(dy + k);
        if (flags & 1) g *= VLOAD(scale + k);
        VT(float) xhat = ((VLOAD(x + k) - m0) - lo) * r;
        VSTORE(r * (g - mg - xhat * mgx), y + k);
    }
    ROW_TAIL(j)
    {
        float g = (flags & 1) ? dy[j] * scale[j] : dy[j];
        float xhat = ((x[j] - m0) - lo) * r;
        y[j] = r * (g - mg - xhat * mgx);
    }
}

/* The gradient of rms_norm(x, scale): dx = r * g - x * r^3 * mean(g * x), g = dy * scale,
 * r = 1 / sqrt(mean(x^2) + eps). */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void rms_norm_grad_f32(
    int K, float eps, int flags, __global float *out, ulong out_off, __global const float *in,
    ulong in_off, __global const float *dyin, ulong dy_off, __global const float *scale,
    ulong scale_off)
{
    __local float l[L2_SIZE];
    long base = (long)get_group_id(0) * K;
    __global const float *x = in + (long)in_off + base, *dy = dyin + (long)dy_off + base;
    __global float *y = out + (long)out_off + base;
    scale += scale_off;
    VT(float) vq = 0.0f, vgx = 0.0f;
    ROW_VEC(k)
    {
        VT(float) v = VLOAD(x + k), g = VLOAD(dy + k);
        if (flags & 1) g *= VLOAD(scale + k);
        vq += v * v;
        vgx += g * v;
    }
    float sq = FOLD(fold_add, vq), sgx = FOLD(fold_add, vgx);
    ROW_TAIL(j)
    {
        float g = (flags & 1) ? dy[j] * scale[j] : dy[j];
        sq += x[j] * x[j];
        sgx += g * x[j];
    }
    float2 s = group_sum2(sq, sgx, l);
    float r = 1.0f / sqrt(s.x / (float)K + eps);
    float k3 = r * r * r * s.y / (float)K;
    ROW_VEC(k)
    {
        VT(float) g = VLOAD(dy + k);
        if (flags & 1) g *= VLOAD(scale + k);
        VSTORE(r * g - VLOAD(x + k) * k3, y + k);
    }
    ROW_TAIL(j)
    {
        float g = (flags & 1) ? dy[j] * scale[j] : dy[j];
        y[j] = r * g - x[j] * k3;
    }
}

/* ---------------------------------------------------------------- loss rows */

/* The per-row terms of the losses over a class axis: scores as [outer, C, inner], row r = outer
 * index r / inner and column r % inner, its C scores inner apart; one work-group per row writes
 * loss[r] and weight[r] (1 if the row counts towards a mean, 0 if its target is ignored), and
 * cl/train.cl's loss_total sums them. log_softmax as norm.cl takes it: lp = (x - max) - lse with
 * lse = log1p(sum(exp(x - max)) - 1); NaN anywhere in a row makes its loss NaN, as on the CPU. */
#define ROW_SETUP                                                                                  \
    __local float l[L2_SIZE];                                                              \
    int row = get_group_id(0), lid = get_local_id(0);                                              \
    int o0 = row / inner, c0 = row - o0 * inner;                                                   \
    long base = (long)o0 * C * inner + c0;                                                         \
    __global const float *x = xin + (long)x_off + base;

/* The row's maximum and log-sum-exp of the scores x / temperature (x / 1 is x). */
float2 row_max_lse(__global const float *x, int C, int inner, float temperature, __local float *l)
{
    int lid = get_local_id(0);
    float m = -INFINITY;
    for (int k = lid; k < C; k += WG_SIZE) m = MAXNAN(m, x[k * inner] / temperature);
    m = group_max(m, l);
    float s = 0.0f;
    for (int k = lid; k < C; k += WG_SIZE) s += exp(x[k * inner] / temperature - m);
    float2 total = group_sum_k(s, l);
    return (float2)(m, log1p((total.x - 1.0f) + total.y));
}

/* softmax_cross_entropy with class-index targets: -lp[t], with label smoothing ls
 * (1 - ls) * -lp[t] + ls * mean(-lp); a target equal to ignore (when has_ignore) weighs 0. A
 * target out of range gives 0 here (cl/train.cl's class_check reports it). */
#define SCE_ROWS(NAME, TI)                                                                         \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int C, int inner, float ls, long ignore, int has_ignore, __global float *loss,             \
        ulong loss_off, __global float *weight, ulong weight_off, __global const float *xin,       \
        ulong x_off, __global const TI *target, ulong t_off)                                       \
    {                                                                                              \
        ROW_SETUP                                                                                  \
        long t = target[t_off + row];                                                              \
        if ((has_ignore && t == ignore) || t < 0 || t >= C) {                                      \
            if (lid == 0) loss[loss_off + row] = 0.0f, weight[weight_off + row] = 0.0f;            \
            return;                                                                                \
        }                                                                                          \
        float2 ml = row_max_lse(x, C, inner, 1.0f, l);                                             \
        float smooth = 0.0f;                                                                       \
        if (ls > 0.0f) { /* -sum(lp) = C * lse + sum(max - x): two non-negative terms */           \
            float d = 0.0f;                                                                        \
            for (int k = lid; k < C; k += WG_SIZE) d += ml.x - x[k * inner];                       \
            smooth = ((float)C * ml.y + group_sum(d, l)) / (float)C;                               \
        }                                                                                          \
        if (lid == 0) {                                                                            \
            float nll = ml.y - (x[(int)t * inner] - ml.x);                                         \
            loss[loss_off + row] = ls > 0.0f ? (1.0f - ls) * nll + ls * smooth : nll;              \
            weight[weight_off + row] = 1.0f;                                                       \
        }                                                                                          \
    }

SCE_ROWS(softmax_cross_entropy_rows_i32, int)
SCE_ROWS(softmax_cross_entropy_rows_i64, long)

/* softmax_cross_entropy with probability targets p: -sum((p * (1 - ls) + ls / C) * lp). */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void softmax_cross_entropy_rows_f32(
    int C, int inner, float ls, long ignore, int has_ignore, __global float *loss, ulong loss_off,
    __global float *weight, ulong weight_off, __global const float *xin, ulong x_off,
    __global const float *target, ulong t_off)
{
    ROW_SETUP
    __global const float *p = target + (long)t_off + base;
    float2 ml = row_max_lse(x, C, inner, 1.0f, l);
    float s = 0.0f, c = 0.0f;
    for (int k = lid; k < C; k += WG_SIZE) {
        float t = p[k * inner] * (1.0f - ls) + ls / (float)C;
        KSUM_ADD(float, s, c, t * ((x[k * inner] - ml.x) - ml.y));
    }
    float total = group_sum(s - c, l);
    if (lid == 0) {
        loss[loss_off + row] = -total;
        weight[weight_off + row] = 1.0f;
    }
}

/* kl_div: sum(xlogy(p, p) - p * lp) along the row, lp = log_softmax(x / T) (x / T divides, as
 * the CPU does); xlogy(0, 0) = 0, a negative p gives NaN. */
__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void kl_div_rows_f32(
    int C, int inner, float temperature, __global float *loss, ulong loss_off,
    __global const float *xin, ulong x_off, __global const float *target, ulong t_off)
{
    ROW_SETUP
    __global const float *p = target + (long)t_off + base;
    float2 ml = row_max_lse(x, C, inner, temperature, l);
    float s = 0.0f, c = 0.0f;
    for (int k = lid; k < C; k += WG_SIZE) {
        float t = p[k * inner];
        float xlogy = t > 0.0f ? t * log(t) : (t == 0.0f ? 0.0f : NAN);
        KSUM_ADD(float, s, c, xlogy - t * ((x[k * inner] / temperature - ml.x) - ml.y));
    }
    float total = group_sum(s - c, l);
    if (lid == 0) loss[loss_off + row] = total;
}
