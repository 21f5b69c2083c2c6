/* reduce.cl - reduce_sum, reduce_mean and reduce_max over any set of axes. OpenCL C 1.2, no
 * extensions; -D WG_SIZE=<n> sets the work-group size of the _wg kernels (a power of two).
 *
 * The host describes a reduction as a red_t: the kept dims (in output order) and the reduced dims,
 * each with the input's element strides, merged where they are adjacent. Two kernels per op and
 * dtype: <op>_<dtype>_wg runs one work-group per output element (long reductions: the group's
 * items stride through the reduced elements, then combine in local memory) and <op>_<dtype>_wi
 * one work-item per output element (short reductions, many outputs).
 *
 * Semantics follow the CPU kernels (backend/cpu/cpu_reduce.c): float sums are compensated (Kahan)
 * so long rows keep their precision, integer sums wrap around, max lets NaN win. */

#ifndef WG_SIZE
#define WG_SIZE 64
#endif

#define RED_MAX_RANK 8

typedef struct red_t {
    int n_out, n_red;            /* output elements, reduced elements per output */
    int krank, rrank;            /* kept and reduced dims */
    int kdims[RED_MAX_RANK], kstride[RED_MAX_RANK];
    int rdims[RED_MAX_RANK], rstride[RED_MAX_RANK];
} red_t;

/* Element offset of flat index i over dims with strides (row-major). */
int red_off(int rank, const int *dims, const int *stride, int i)
{
    if (rank == 1) return i * stride[0];
    int off = 0;
    for (int d = rank - 1; d >= 0; d--) {
        int q = i / dims[d];
        off += (i - q * dims[d]) * stride[d];
        i = q;
    }
    return off;
}

/* ---------------------------------------------------------------- accumulators */

/* A compensated float sum: s + c holds the running total. */
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

ksum ksum_merge(ksum a, ksum b)
{
    a = ksum_add(a, b.s);
    return ksum_add(a, -b.c);
}

float maxnan(float a, float v) { return (v > a || isnan(v)) ? v : a; }

/* Per op: accumulator type, identity, adding one element, merging two accumulators, result. */
#define SUMF_ACC ksum
#define SUMF_INIT ((ksum){0.0f, 0.0f})
#define SUMF_ADD(a, v) ksum_add(a, v)
#define SUMF_MERGE(a, b) ksum_merge(a, b)
#define SUMF_DONE(a, n) (a.s - a.c)
#define MEANF_DONE(a, n) ((a.s - a.c) / (float)(n))
#define MAXF_ACC float
#define MAXF_INIT (-INFINITY)
#define MAXF_ADD(a, v) maxnan(a, v)
#define MAXF_MERGE(a, b) maxnan(a, b)
#define SAME_DONE(a, n) (a)

#define SUMI_ADD(a, v) ((a) + (v))
#define SUMI_MERGE(a, b) ((a) + (b))
#define MAXI_ADD(a, v) ((v) > (a) ? (v) : (a))
#define MAXI_MERGE(a, b) MAXI_ADD(a, b)

/* ---------------------------------------------------------------- kernels */

#define REDUCE(NAME, T, ACC, INIT, ADD, MERGE, DONE)                                               \
    __kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1))) void NAME##_wg(                  \
        const red_t s, __global T *out, ulong out_off, __global const T *in, ulong in_off)         \
    {                                                                                              \
        __local ACC part[WG_SIZE];                                                                 \
        int lid = get_local_id(0), o = get_group_id(0);                                            \
        int base = red_off(s.krank, s.kdims, s.kstride, o);                                        \
        ACC acc = INIT;                                                                            \
        for (int r = lid; r < s.n_red; r += WG_SIZE)                                               \
            acc = ADD(acc, in[in_off + base + red_off(s.rrank, s.rdims, s.rstride, r)]);           \
        part[lid] = acc;                                                                           \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        for (int h = WG_SIZE / 2; h > 0; h >>= 1) {                                                \
            if (lid < h) part[lid] = MERGE(part[lid], part[lid + h]);                              \
            barrier(CLK_LOCAL_MEM_FENCE);                                                          \
        }                                                                                          \
        if (lid == 0) out[out_off + o] = (T)(DONE(part[0], s.n_red));                              \
    }                                                                                              \
    __kernel void NAME##_wi(const red_t s, __global T *out, ulong out_off, __global const T *in,   \
                            ulong in_off)                                                          \
    {                                                                                              \
        int o = get_global_id(0);                                                                  \
        if (o >= s.n_out) return;                                                                  \
        int base = red_off(s.krank, s.kdims, s.kstride, o);                                        \
        ACC acc = INIT;                                                                            \
        for (int r = 0; r < s.n_red; r++)                                                          \
            acc = ADD(acc, in[in_off + base + red_off(s.rrank, s.rdims, s.rstride, r)]);           \
        out[out_off + o] = (T)(DONE(acc, s.n_red));                                                \
    }

REDUCE(reduce_sum_f32, float, SUMF_ACC, SUMF_INIT, SUMF_ADD, SUMF_MERGE, SUMF_DONE)
REDUCE(reduce_mean_f32, float, SUMF_ACC, SUMF_INIT, SUMF_ADD, SUMF_MERGE, MEANF_DONE)
REDUCE(reduce_max_f32, float, MAXF_ACC, MAXF_INIT, MAXF_ADD, MAXF_MERGE, SAME_DONE)
REDUCE(reduce_sum_i32, int, uint, 0u, SUMI_ADD, SUMI_MERGE, SAME_DONE)
REDUCE(reduce_max_i32, int, int, INT_MIN, MAXI_ADD, MAXI_MERGE, SAME_DONE)
REDUCE(reduce_sum_i64, long, ulong, 0ul, SUMI_ADD, SUMI_MERGE, SAME_DONE)
REDUCE(reduce_max_i64, long, long, LONG_MIN, MAXI_ADD, MAXI_MERGE, SAME_DONE)
