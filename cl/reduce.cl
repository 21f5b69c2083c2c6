/* reduce.cl - reduce_sum, reduce_mean, reduce_max and reduce_prod of a tensor seen as [outer, R, inner]: R
 * reduced elements `inner` apart for each of outer * inner outputs (the host merges adjacent axes
 * and first transposes axes that are apart). OpenCL C 1.2, no extensions. Defines: WG_SIZE the
 * work-group size of the _row kernels (a power of two), VEC the vector width (1, 2, 4, 8 or 16:
 * the device's preferred float width).
 *
 * <op>_<dtype>_row (inner == 1): one work-group per row; each item strides through the row VEC
 * elements at a time (vector loads: implementations that run a work-item's loop as scalar code,
 * like POCL, still use SIMD), folds its vector in halves, and item 0 combines the items' results
 * (two barriers; a tree of barriers costs far more than it saves on CPU devices).
 * <op>_<dtype>_col (inner > 1): one work-item per VEC adjacent outputs of an outer index (NDRange
 * dimension 0 over inner / VEC, dimension 1 over outer, both rounded up to the work-group size:
 * items beyond them return), walking the R rows with vector loads.
 *
 * Semantics follow the CPU kernels (backend/cpu/cpu_reduce.c): float sums are pairwise within an
 * item's vector and compensated (Kahan) where many terms meet - across items, down columns - since
 * the CPU sums in double; integer sums wrap around; max lets NaN win. */

#if VEC == 1
#define VT(T) T
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#define AS_VT(T, v) CAT(as_, T)(v)
#else
#define VT(T) CAT(T, VEC)
#define VLOAD(p) CAT(vload, VEC)(0, p)
#define VSTORE(v, p) CAT(vstore, VEC)(v, 0, p)
#define AS_VT(T, v) CAT(as_, VT(T))(v)
#endif

/* ---------------------------------------------------------------- accumulators */

/* A compensated sum of type T (scalar or vector): s - c is the total. Once the total is infinite
 * the compensation stays 0 (inf - inf would make it NaN): the sum is inf, as a plain sum's. */
#define KSUM_ADD(T, s, c, v)                                                                       \
    {                                                                                              \
        T y_ = (v) - (c);                                                                          \
        T t_ = (s) + y_;                                                                           \
        (c) = select((t_ - (s)) - y_, (T)(0.0f), isinf(t_));                                       \
        (s) = t_;                                                                                  \
    }

/* ---------------------------------------------------------------- float sums and means */

/* Halving folds of a vector to a scalar: NAME<n>(v) for n = 1, 2, 4, 8, 16. */
#define DEFINE_FOLDS(NAME, T, OP)                                                                  \
    T NAME##1(T v) { return v; }                                                                   \
    T NAME##2(CAT(T, 2) v) { return OP(v.x, v.y); }                                                \
    T NAME##4(CAT(T, 4) v) { return NAME##2(OP(v.lo, v.hi)); }                                     \
    T NAME##8(CAT(T, 8) v) { return NAME##4(OP(v.lo, v.hi)); }                                     \
    T NAME##16(CAT(T, 16) v) { return NAME##8(OP(v.lo, v.hi)); }
#define FOLD(NAME, v) CAT(NAME, VEC)(v)

#define ADD(a, b) ((a) + (b))
/* NaN wins (and stays): select(a, v, v > a || isnan(v)), for floats; plain max for integers. */
#define MAXF(a, v) select(a, v, isgreater(v, a) | isnan(v))
#define MAXI(a, v) max(a, v)
#define MUL(a, b) ((a) * (b))

DEFINE_FOLDS(fold_add_f, float, ADD)
DEFINE_FOLDS(fold_max_f, float, MAXF)
DEFINE_FOLDS(fold_max_i, int, MAXI)
DEFINE_FOLDS(fold_max_l, long, MAXI)
DEFINE_FOLDS(fold_add_u, uint, ADD)
DEFINE_FOLDS(fold_add_ul, ulong, ADD)
DEFINE_FOLDS(fold_mul_f, float, MUL)
DEFINE_FOLDS(fold_mul_u, uint, MUL)
DEFINE_FOLDS(fold_mul_ul, ulong, MUL)

/* Every item's partial sum, combined by item 0 with compensation; l holds WG_SIZE + 1 floats.
 * Two barriers, and the result lands in its own slot, so calls may follow each other. */
float group_sum(float v, __local float *l)
{
    int lid = get_local_id(0);
    l[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        float s = 0.0f, c = 0.0f;
        for (int i = 0; i < WG_SIZE; i++) KSUM_ADD(float, s, c, l[i]);
        l[WG_SIZE] = s - c;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return l[WG_SIZE];
}

#define SUM_ROW(NAME, DONE)                                                                        \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int R, __global float *out, ulong out_off, __global const float *in, ulong in_off)         \
    {                                                                                              \
        __local float l[WG_SIZE + 1];                                                              \
        int row = get_group_id(0), lid = get_local_id(0);                                          \
        __global const float *x = in + (long)in_off + (long)row * R;                               \
        VT(float) v = 0.0f;                                                                        \
        for (int k = lid * VEC; k + VEC <= R; k += WG_SIZE * VEC) v += VLOAD(x + k);               \
        float s = FOLD(fold_add_f, v);                                                             \
        for (int k = R / VEC * VEC + lid; k < R; k += WG_SIZE) s += x[k];                          \
        float total = group_sum(s, l);                                                             \
        if (lid == 0) out[out_off + row] = DONE(total, R);                                         \
    }

#define SUM_COL(NAME, DONE)                                                                        \
    __kernel void NAME(int R, int inner, int outer, __global float *out, ulong out_off,            \
                       __global const float *in, ulong in_off)                                     \
    {                                                                                              \
        int j = get_global_id(0) * VEC, o = get_global_id(1);                                      \
        if (o >= outer) return;                                                                    \
        __global const float *x = in + (long)in_off + (long)o * R * inner;                         \
        out += (long)out_off + (long)o * inner;                                                    \
        if (j + VEC <= inner) {                                                                    \
            VT(float) s = 0.0f, c = 0.0f;                                                          \
            for (int r = 0; r < R; r++) KSUM_ADD(VT(float), s, c, VLOAD(x + r * inner + j));       \
            VSTORE(DONE(s - c, R), out + j);                                                       \
        } else {                                                                                   \
            for (; j < inner; j++) {                                                               \
                float s = 0.0f, c = 0.0f;                                                          \
                for (int r = 0; r < R; r++) KSUM_ADD(float, s, c, x[r * inner + j]);               \
                out[j] = DONE(s - c, R);                                                           \
            }                                                                                      \
        }                                                                                          \
    }

#define SUM_DONE(t, R) (t)
#define MEAN_DONE(t, R) ((t) / (float)(R))

SUM_ROW(reduce_sum_f32_row, SUM_DONE)
SUM_ROW(reduce_mean_f32_row, MEAN_DONE)
SUM_COL(reduce_sum_f32_col, SUM_DONE)
SUM_COL(reduce_mean_f32_col, MEAN_DONE)

/* ---------------------------------------------------------------- max and integer sums */

/* The items' results, combined by item 0 (T the type, FN the combine). */
#define GROUP_COMBINE(NAME, T, FN)                                                                 \
    T NAME(T v, __local T *l)                                                                      \
    {                                                                                              \
        int lid = get_local_id(0);                                                                 \
        l[lid] = v;                                                                                \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        if (lid == 0) {                                                                            \
            T t = l[0];                                                                            \
            for (int i = 1; i < WG_SIZE; i++) t = FN(t, l[i]);                                     \
            l[WG_SIZE] = t;                                                                        \
        }                                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        return l[WG_SIZE];                                                                         \
    }

/* T the element type, U the accumulator (unsigned for wrapping integer sums), FN the combine,
 * INIT its identity. */
#define PLAIN_ROW(NAME, T, U, FN, FOLDER, COMBINE, INIT)                                           \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME(                       \
        int R, __global T *out, ulong out_off, __global const T *in, ulong in_off)                 \
    {                                                                                              \
        __local U l[WG_SIZE + 1];                                                                  \
        int row = get_group_id(0), lid = get_local_id(0);                                          \
        __global const T *x = in + (long)in_off + (long)row * R;                                   \
        VT(U) va = (U)(INIT);                                                                      \
        for (int k = lid * VEC; k + VEC <= R; k += WG_SIZE * VEC)                                  \
            va = FN(va, AS_VT(U, VLOAD(x + k)));                                                   \
        U a = FOLD(FOLDER, va);                                                                    \
        for (int k = R / VEC * VEC + lid; k < R; k += WG_SIZE) a = FN(a, (U)x[k]);                 \
        U total = COMBINE(a, l);                                                                   \
        if (lid == 0) out[out_off + row] = (T)total;                                               \
    }

#define PLAIN_COL(NAME, T, U, FN, INIT)                                                            \
    __kernel void NAME(int R, int inner, int outer, __global T *out, ulong out_off,                \
                       __global const T *in, ulong in_off)                                         \
    {                                                                                              \
        int j = get_global_id(0) * VEC, o = get_global_id(1);                                      \
        if (o >= outer) return;                                                                    \
        __global const T *x = in + (long)in_off + (long)o * R * inner;                             \
        out += (long)out_off + (long)o * inner;                                                    \
        if (j + VEC <= inner) {                                                                    \
            VT(U) a = (U)(INIT);                                                                   \
            for (int r = 0; r < R; r++) a = FN(a, AS_VT(U, VLOAD(x + r * inner + j)));             \
            VSTORE(AS_VT(T, a), out + j);                                                          \
        } else {                                                                                   \
            for (; j < inner; j++) {                                                               \
                U a = (U)(INIT);                                                                   \
                for (int r = 0; r < R; r++) a = FN(a, (U)x[r * inner + j]);                        \
                out[j] = (T)a;                                                                     \
            }                                                                                      \
        }                                                                                          \
    }

GROUP_COMBINE(group_max_f, float, MAXF)
GROUP_COMBINE(group_max_i, int, MAXI)
GROUP_COMBINE(group_max_l, long, MAXI)
GROUP_COMBINE(group_add_u, uint, ADD)
GROUP_COMBINE(group_add_ul, ulong, ADD)
GROUP_COMBINE(group_mul_f, float, MUL)
GROUP_COMBINE(group_mul_u, uint, MUL)
GROUP_COMBINE(group_mul_ul, ulong, MUL)

PLAIN_ROW(reduce_max_f32_row, float, float, MAXF, fold_max_f, group_max_f, -INFINITY)
PLAIN_COL(reduce_max_f32_col, float, float, MAXF, -INFINITY)
PLAIN_ROW(reduce_max_i32_row, int, int, MAXI, fold_max_i, group_max_i, INT_MIN)
PLAIN_COL(reduce_max_i32_col, int, int, MAXI, INT_MIN)
PLAIN_ROW(reduce_max_i64_row, long, long, MAXI, fold_max_l, group_max_l, LONG_MIN)
PLAIN_COL(reduce_max_i64_col, long, long, MAXI, LONG_MIN)
PLAIN_ROW(reduce_sum_i32_row, int, uint, ADD, fold_add_u, group_add_u, 0)
PLAIN_COL(reduce_sum_i32_col, int, uint, ADD, 0)
PLAIN_ROW(reduce_sum_i64_row, long, ulong, ADD, fold_add_ul, group_add_ul, 0)
PLAIN_COL(reduce_sum_i64_col, long, ulong, ADD, 0)
/* Products (integers wrap around, as the CPU's); floats multiply in float. */
PLAIN_ROW(reduce_prod_f32_row, float, float, MUL, fold_mul_f, group_mul_f, 1.0f)
PLAIN_COL(reduce_prod_f32_col, float, float, MUL, 1.0f)
PLAIN_ROW(reduce_prod_i32_row, int, uint, MUL, fold_mul_u, group_mul_u, 1)
PLAIN_COL(reduce_prod_i32_col, int, uint, MUL, 1)
PLAIN_ROW(reduce_prod_i64_row, long, ulong, MUL, fold_mul_ul, group_mul_ul, 1)
PLAIN_COL(reduce_prod_i64_col, long, ulong, MUL, 1)
