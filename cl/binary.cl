/* binary.cl - elementwise ops of two inputs with numpy broadcasting (add sub mul div pow max min,
 * equal less greater, and or) and where (three inputs). OpenCL C 1.2, no extensions.
 *
 * One kernel per op and dtype, named <op>_<dtype> (f32, i32, i64, u8; bool tensors use the u8
 * kernels); where is where_<element size in bytes>. Every kernel walks the same index space: the
 * host collapses the output's dims (merging dims every operand walks contiguously) and hands the
 * innermost three to the kernel as an nd_t: X along NDRange dimension 0, Y along 1, Z along 2,
 * each with per-operand element strides (0: broadcast). Outer dims, when the collapsed rank
 * exceeds 3, are looped by the host, one launch each. Work-items beyond X or Y (sizes rounded up
 * to the work-group size) return at once.
 *
 * Kernels move the 64-bit buffer offsets and the Z term into their pointers first and index with
 * 32-bit ints: implementations that vectorise across work-items (POCL) then see contiguous
 * accesses. Integer arithmetic wraps around (it is done in the unsigned type); an integer
 * division by zero writes 0 and records `tag` in err[0] (the first failing node of a segment
 * wins), which the host reads after the segment. */

typedef struct nd_t {
    int X, Y, Z;     /* extents along NDRange dimensions 0, 1, 2 */
    int sx[4];       /* element strides along X: operand 0 is the output, 1.. the inputs */
    int sy[4];       /* ... along Y */
    int sz[4];       /* ... along Z */
} nd_t;

/* ---------------------------------------------------------------- scalar operations */

float f_max(float a, float b) { return isnan(a) ? a : isnan(b) ? b : (a > b ? a : b); }
float f_min(float a, float b) { return isnan(a) ? a : isnan(b) ? b : (a < b ? a : b); }

#define INT_OPS(T, U, SUF)                                                                         \
    T do_add_##SUF(T a, T b) { return (T)((U)a + (U)b); }                                          \
    T do_sub_##SUF(T a, T b) { return (T)((U)a - (U)b); }                                          \
    T do_mul_##SUF(T a, T b) { return (T)((U)a * (U)b); }                                          \
    T do_max_##SUF(T a, T b) { return a > b ? a : b; }                                             \
    T do_min_##SUF(T a, T b) { return a < b ? a : b; }                                             \
    T do_div_##SUF(T a, T b, __global int *err, int tag)                                           \
    {                                                                                              \
        if (b == 0) {                                                                              \
            atomic_cmpxchg(err, 0, tag);                                                           \
            return 0;                                                                              \
        }                                                                                          \
        return b == -1 ? (T)((U)0 - (U)a) : a / b; /* MIN / -1 wraps instead of trapping */        \
    }

INT_OPS(int, uint, i32)
INT_OPS(long, ulong, i64)

/* ---------------------------------------------------------------- kernels */

#define BINARY(NAME, T, TO, EXPR)                                                                  \
    __kernel void NAME(const nd_t s, __global TO *out, ulong out_off, __global const T *a,         \
                       ulong a_off, __global const T *b, ulong b_off, __global int *err, int tag)  \
    {                                                                                              \
        int x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);                      \
        out += (long)out_off + (long)z * s.sz[0];                                                  \
        a += (long)a_off + (long)z * s.sz[1];                                                      \
        b += (long)b_off + (long)z * s.sz[2];                                                      \
        if (x >= s.X || y >= s.Y) return;                                                          \
        T va = a[x * s.sx[1] + y * s.sy[1]];                                                       \
        T vb = b[x * s.sx[2] + y * s.sy[2]];                                                       \
        out[x * s.sx[0] + y * s.sy[0]] = (EXPR);                                                   \
    }

BINARY(add_f32, float, float, va + vb)
BINARY(sub_f32, float, float, va - vb)
BINARY(mul_f32, float, float, va * vb)
BINARY(div_f32, float, float, va / vb)
BINARY(pow_f32, float, float, pow(va, vb))
BINARY(max_f32, float, float, f_max(va, vb))
BINARY(min_f32, float, float, f_min(va, vb))

#define ARITH_INT(T, SUF)                                                                          \
    BINARY(add_##SUF, T, T, do_add_##SUF(va, vb))                                                  \
    BINARY(sub_##SUF, T, T, do_sub_##SUF(va, vb))                                                  \
    BINARY(mul_##SUF, T, T, do_mul_##SUF(va, vb))                                                  \
    BINARY(div_##SUF, T, T, do_div_##SUF(va, vb, err, tag))                                        \
    BINARY(max_##SUF, T, T, do_max_##SUF(va, vb))                                                  \
    BINARY(min_##SUF, T, T, do_min_##SUF(va, vb))

ARITH_INT(int, i32)
ARITH_INT(long, i64)

#define COMPARE(T, SUF)                                                                            \
    BINARY(equal_##SUF, T, uchar, va == vb ? 1 : 0)                                                \
    BINARY(less_##SUF, T, uchar, va < vb ? 1 : 0)                                                  \
    BINARY(greater_##SUF, T, uchar, va > vb ? 1 : 0)

COMPARE(float, f32)
COMPARE(int, i32)
COMPARE(long, i64)
BINARY(equal_u8, uchar, uchar, va == vb ? 1 : 0)
BINARY(and_u8, uchar, uchar, (va != 0 && vb != 0) ? 1 : 0)
BINARY(or_u8, uchar, uchar, (va != 0 || vb != 0) ? 1 : 0)

/* where: out = cond ? x : y, by element size (any dtype). */
#define WHERE(NAME, T)                                                                             \
    __kernel void NAME(const nd_t s, __global T *out, ulong out_off, __global const uchar *c,      \
                       ulong c_off, __global const T *a, ulong a_off, __global const T *b,         \
                       ulong b_off)                                                                \
    {                                                                                              \
        int x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);                      \
        out += (long)out_off + (long)z * s.sz[0];                                                  \
        c += (long)c_off + (long)z * s.sz[1];                                                      \
        a += (long)a_off + (long)z * s.sz[2];                                                      \
        b += (long)b_off + (long)z * s.sz[3];                                                      \
        if (x >= s.X || y >= s.Y) return;                                                          \
        bool cond = c[x * s.sx[1] + y * s.sy[1]] != 0;                                             \
        out[x * s.sx[0] + y * s.sy[0]] = cond ? a[x * s.sx[2] + y * s.sy[2]] : b[x * s.sx[3] + y * s.sy[3]]; \
    }

WHERE(where_1, uchar)
WHERE(where_2, ushort)
WHERE(where_4, uint)
WHERE(where_8, ulong)
