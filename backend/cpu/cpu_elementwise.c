/* cpu_elementwise.c — the CPU's elementwise kernels: binary arithmetic, comparisons and logic
 * with numpy broadcasting, where, the unary math ops, clip, cast between every pair of dtypes,
 * and causal_mask. Broadcasting goes through the iterator of cpu_iter.c, whose runs let each
 * kernel keep three tight loops: both operands contiguous, or one of them a repeated scalar.
 *
 * Integer arithmetic wraps around (two's complement, like numpy) rather than being undefined
 * behaviour as in C: it is done in the unsigned type of the same width. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_simd.h"
#include "graph/half.h"
#include "graph/op_table.h"

/* ---------------------------------------------------------------- scalar operations */

static inline float max_f32(float a, float b) { return isnan(a) ? a : isnan(b) ? b : a > b ? a : b; }
static inline float min_f32(float a, float b) { return isnan(a) ? a : isnan(b) ? b : a < b ? a : b; }

#define DEF_INT_OPS(T, U, SUF)                                                                    \
    static inline T add_##SUF(T a, T b) { return (T)((U)a + (U)b); }                              \
    static inline T sub_##SUF(T a, T b) { return (T)((U)a - (U)b); }                              \
    static inline T mul_##SUF(T a, T b) { return (T)((U)a * (U)b); }                              \
    static inline T neg_##SUF(T a) { return (T)(0 - (U)a); }                                      \
    /* Truncating division (C, ONNX); b != 0 was checked. MIN / -1 wraps to MIN like numpy. */    \
    static inline T div_##SUF(T a, T b) { return b == -1 ? neg_##SUF(a) : (T)(a / b); }           \
    static inline T max_##SUF(T a, T b) { return a > b ? a : b; }                                 \
    static inline T min_##SUF(T a, T b) { return a < b ? a : b; }                                 \
    static inline T abs_##SUF(T a) { return a < 0 ? neg_##SUF(a) : a; }

DEF_INT_OPS(int32_t, uint32_t, i32)
DEF_INT_OPS(int64_t, uint64_t, i64)

/* ---------------------------------------------------------------- binary arithmetic */

/* o[i] = FN(a[i * sa], b[i * sb]) for a run of TI operands giving TO results, with the broadcast
 * cases as separate loops so the compiler vectorises each. */
#define RUN2(TI, TO, FN)                                                                          \
    do {                                                                                          \
        const TI *a_ = a;                                                                         \
        const TI *b_ = b;                                                                         \
        TO *o_ = o;                                                                               \
        if (sa == 1 && sb == 1) {                                                                 \
            for (int64_t i = 0; i < n; i++) o_[i] = FN(a_[i], b_[i]);                             \
        } else if (sa == 0 && sb == 1) {                                                          \
            TI x_ = a_[0];                                                                        \
            for (int64_t i = 0; i < n; i++) o_[i] = FN(x_, b_[i]);                                \
        } else if (sa == 1 && sb == 0) {                                                          \
            TI y_ = b_[0];                                                                        \
            for (int64_t i = 0; i < n; i++) o_[i] = FN(a_[i], y_);                                \
        } else {                                                                                  \
            for (int64_t i = 0; i < n; i++) o_[i * so] = FN(a_[i * sa], b_[i * sb]);              \
        }                                                                                         \
    } while (0)
#define BIN_RUN(T, FN) RUN2(T, T, FN)

#define F_ADD(x, y) ((x) + (y))
#define F_SUB(x, y) ((x) - (y))
#define F_MUL(x, y) ((x) * (y))
#define F_DIV(x, y) ((x) / (y))

static void binary_f32(hcg_op op, const void *a, int64_t sa, const void *b, int64_t sb, void *o, int64_t so,
                       int64_t n)
{
    switch (op) {
    case HCG_OP_ADD: BIN_RUN(float, F_ADD); break;
    case HCG_OP_SUB: BIN_RUN(float, F_SUB); break;
    case HCG_OP_MUL: BIN_RUN(float, F_MUL); break;
    case HCG_OP_DIV: BIN_RUN(float, F_DIV); break;
    case HCG_OP_POW: BIN_RUN(float, powf); break;
    case HCG_OP_MAX: BIN_RUN(float, max_f32); break;
    case HCG_OP_MIN: BIN_RUN(float, min_f32); break;
    default: break;
    }
}

#define DEF_BINARY_INT(T, SUF)                                                                    \
    static void binary_##SUF(hcg_op op, const void *a, int64_t sa, const void *b, int64_t sb, void *o, \
                             int64_t so, int64_t n)                                               \
    {                                                                                             \
        switch (op) {                                                                             \
        case HCG_OP_ADD: BIN_RUN(T, add_##SUF); break;                                            \
        case HCG_OP_SUB: BIN_RUN(T, sub_##SUF); break;                                            \
        case HCG_OP_MUL: BIN_RUN(T, mul_##SUF); break;                                            \
        case HCG_OP_DIV: BIN_RUN(T, div_##SUF); break;                                            \
        case HCG_OP_MAX: BIN_RUN(T, max_##SUF); break;                                            \
        case HCG_OP_MIN: BIN_RUN(T, min_##SUF); break;                                            \
        default: break;                                                                           \
        }                                                                                         \
    }

DEF_BINARY_INT(int32_t, i32)
DEF_BINARY_INT(int64_t, i64)

typedef void (*binary_run_fn)(hcg_op op, const void *a, int64_t sa, const void *b, int64_t sb, void *o,
                              int64_t so, int64_t n);

typedef struct binary_ctx {
    binary_run_fn run;
    hcg_op op;
    size_t esize;  /* of a and b */
    size_t oesize; /* of the output */
    const char *a, *b;
    char *o;
} binary_ctx;

static void binary_seg(void *ctx, const int64_t off[], const int64_t step[], int64_t len)
{
    binary_ctx *c = ctx;
    c->run(c->op, c->a + off[1] * (int64_t)c->esize, step[1], c->b + off[2] * (int64_t)c->esize, step[2],
           c->o + off[0] * (int64_t)c->oesize, step[0], len);
}

static void binary_iter(const hcg_exec_node *en, hcg_iter *it)
{
    const hcg_shape *ins[3];
    for (int i = 0; i < en->n_in && i < 3; i++) ins[i] = &en->in[i].shape;
    hcg_iter_broadcast(it, &en->out.shape, ins, en->n_in);
}

/* Integer division: every divisor element is used (it is broadcast, never skipped), so any zero
 * in b is an error unless the result is empty. */
static hcg_status check_int_divisor(const hcg_exec_node *en)
{
    const hcg_dev_tensor *b = &en->in[1];
    int64_t n = hcg_cpu_numel(b);
    if (hcg_cpu_numel(&en->out) == 0) return HCG_OK;
    const void *p = hcg_dev_tensor_ptr(b);
    for (int64_t i = 0; i < n; i++) {
        bool zero = b->dtype == HCG_I32 ? ((const int32_t *)p)[i] == 0 : ((const int64_t *)p)[i] == 0;
        if (zero)
            return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME, "integer division by zero (divisor element %lld)",
                                  (long long)i);
    }
    return HCG_OK;
}

hcg_status hcg_k_binary(hcg_exec_node *en)
{
    hcg_dtype dt = en->in[0].dtype;
    binary_ctx c = {.op = en->node->op, .esize = hcg_dtype_size(dt), .oesize = hcg_dtype_size(en->out.dtype),
                    .a = hcg_dev_tensor_ptr(&en->in[0]), .b = hcg_dev_tensor_ptr(&en->in[1]),
                    .o = hcg_dev_tensor_ptr(&en->out)};
    switch (dt) {
    case HCG_F32: c.run = binary_f32; break;
    case HCG_I32: c.run = binary_i32; break;
    case HCG_I64: c.run = binary_i64; break;
    default: break;
    }
    if (!c.run || (c.op == HCG_OP_POW && dt != HCG_F32))
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "no cpu kernel for dtype %s", hcg_dtype_name(dt));
    if (c.op == HCG_OP_DIV && dt != HCG_F32) {
        hcg_status st = check_int_divisor(en);
        if (st) return st;
    }
    hcg_iter it;
    binary_iter(en, &it);
    hcg_iter_run(&it, c.op == HCG_OP_POW ? 16 : 1, binary_seg, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- comparisons and logic */

#define F_EQ(x, y) ((uint8_t)((x) == (y)))
#define F_LT(x, y) ((uint8_t)((x) < (y)))
#define F_GT(x, y) ((uint8_t)((x) > (y)))
#define F_AND(x, y) ((uint8_t)((x) != 0 && (y) != 0))
#define F_OR(x, y) ((uint8_t)((x) != 0 || (y) != 0))

/* Like BIN_RUN, with a bool (uint8) result. */
#define CMP_RUN(T, FN) RUN2(T, uint8_t, FN)

#define DEF_COMPARE(T, SUF)                                                                       \
    static void compare_##SUF(hcg_op op, const void *a, int64_t sa, const void *b, int64_t sb, void *o, \
                              int64_t so, int64_t n)                                              \
    {                                                                                             \
        switch (op) {                                                                             \
        case HCG_OP_EQUAL: CMP_RUN(T, F_EQ); break;                                               \
        case HCG_OP_LESS: CMP_RUN(T, F_LT); break;                                                \
        case HCG_OP_GREATER: CMP_RUN(T, F_GT); break;                                             \
        case HCG_OP_AND: CMP_RUN(T, F_AND); break;                                                \
        case HCG_OP_OR: CMP_RUN(T, F_OR); break;                                                  \
        default: break;                                                                           \
        }                                                                                         \
    }

DEF_COMPARE(float, f32)
DEF_COMPARE(int32_t, i32)
DEF_COMPARE(int64_t, i64)
DEF_COMPARE(uint8_t, u8)

static hcg_status compare_or_logical(hcg_exec_node *en)
{
    hcg_dtype dt = en->in[0].dtype;
    binary_ctx c = {.op = en->node->op, .esize = hcg_dtype_size(dt), .oesize = 1,
                    .a = hcg_dev_tensor_ptr(&en->in[0]), .b = hcg_dev_tensor_ptr(&en->in[1]),
                    .o = hcg_dev_tensor_ptr(&en->out)};
    switch (dt) {
    case HCG_F32: c.run = compare_f32; break;
    case HCG_I32: c.run = compare_i32; break;
    case HCG_I64: c.run = compare_i64; break;
    case HCG_U8:
    case HCG_BOOL: c.run = compare_u8; break;
    default:
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "no cpu kernel for dtype %s", hcg_dtype_name(dt));
    }
    hcg_iter it;
    binary_iter(en, &it);
    hcg_iter_run(&it, 1, binary_seg, &c);
    return HCG_OK;
}

hcg_status hcg_k_compare(hcg_exec_node *en) { return compare_or_logical(en); }
hcg_status hcg_k_logical(hcg_exec_node *en) { return compare_or_logical(en); }

/* ---------------------------------------------------------------- where */

typedef struct where_ctx {
    size_t esize;
    const uint8_t *cond;
    const char *x, *y;
    char *o;
} where_ctx;

#define WHERE_RUN(T)                                                                              \
    do {                                                                                          \
        const T *x_ = (const T *)(const void *)x;                                                 \
        const T *y_ = (const T *)(const void *)y;                                                 \
        T *o_ = (T *)(void *)o;                                                                   \
        for (int64_t i = 0; i < len; i++) o_[i * so] = cnd[i * sc] ? x_[i * sx] : y_[i * sy];     \
    } while (0)

static void where_seg(void *ctx, const int64_t off[], const int64_t step[], int64_t len)
{
    where_ctx *c = ctx;
    int64_t es = (int64_t)c->esize, so = step[0], sc = step[1], sx = step[2], sy = step[3];
    char *o = c->o + off[0] * es;
    const uint8_t *cnd = c->cond + off[1];
    const char *x = c->x + off[2] * es, *y = c->y + off[3] * es;
    switch (es) {
    case 1: WHERE_RUN(uint8_t); break;
    case 2: WHERE_RUN(uint16_t); break;
    case 4: WHERE_RUN(uint32_t); break;
    case 8: WHERE_RUN(uint64_t); break;
    default:
        for (int64_t i = 0; i < len; i++) memcpy(o + i * so * es, cnd[i * sc] ? x + i * sx * es : y + i * sy * es, (size_t)es);
    }
}

hcg_status hcg_k_where(hcg_exec_node *en)
{
    where_ctx c = {.esize = hcg_dtype_size(en->out.dtype), .cond = hcg_dev_tensor_ptr(&en->in[0]),
                   .x = hcg_dev_tensor_ptr(&en->in[1]), .y = hcg_dev_tensor_ptr(&en->in[2]),
                   .o = hcg_dev_tensor_ptr(&en->out)};
    hcg_iter it;
    binary_iter(en, &it);
    hcg_iter_run(&it, 1, where_seg, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- unary ops */

typedef struct unary_ctx {
    hcg_op op;
    hcg_dtype dt;
    bool gelu_tanh;
    const void *x;
    void *o;
} unary_ctx;

#define UN_RUN(T, EXPR)                                                                           \
    do {                                                                                          \
        const T *x_ = (const T *)c->x;                                                            \
        T *o_ = (T *)c->o;                                                                        \
        for (int64_t i = begin; i < end; i++) {                                                   \
            T v = x_[i];                                                                          \
            o_[i] = (EXPR);                                                                       \
        }                                                                                         \
    } while (0)

static void unary_f32(const unary_ctx *c, int64_t begin, int64_t end)
{
    /* the transcendental ones through the vectorised loops of this processor (cpu_simd.h) */
    const hcg_simd_fns *fns = hcg_simd();
    void (*simd)(const float *, float *, int64_t) = c->op == HCG_OP_EXP       ? fns->exp
                                                    : c->op == HCG_OP_TANH    ? fns->tanh
                                                    : c->op == HCG_OP_ERF     ? fns->erf
                                                    : c->op == HCG_OP_SIGMOID ? fns->sigmoid
                                                    : c->op == HCG_OP_GELU    ? (c->gelu_tanh ? fns->gelu_tanh : fns->gelu)
                                                                              : NULL;
    if (simd) {
        simd((const float *)c->x + begin, (float *)c->o + begin, end - begin);
        return;
    }
    switch (c->op) {
    case HCG_OP_NEG: UN_RUN(float, -v); break;
    case HCG_OP_ABS: UN_RUN(float, fabsf(v)); break;
    case HCG_OP_RELU: UN_RUN(float, v > 0 ? v : (isnan(v) ? v : 0.0f)); break;
    case HCG_OP_LOG: UN_RUN(float, logf(v)); break;
    case HCG_OP_SQRT: UN_RUN(float, sqrtf(v)); break;
    case HCG_OP_RSQRT: UN_RUN(float, 1.0f / sqrtf(v)); break;
    case HCG_OP_SILU: UN_RUN(float, v * hcg_sigmoid_f32(v)); break;
    case HCG_OP_RECIPROCAL: UN_RUN(float, 1.0f / v); break;
    default: break;
    }
}

#define DEF_UNARY_INT(T, SUF)                                                                     \
    static void unary_##SUF(const unary_ctx *c, int64_t begin, int64_t end)                       \
    {                                                                                             \
        switch (c->op) {                                                                          \
        case HCG_OP_NEG: UN_RUN(T, neg_##SUF(v)); break;                                          \
        case HCG_OP_ABS: UN_RUN(T, abs_##SUF(v)); break;                                          \
        case HCG_OP_RELU: UN_RUN(T, v > 0 ? v : 0); break;                                        \
        default: break;                                                                           \
        }                                                                                         \
    }

DEF_UNARY_INT(int32_t, i32)
DEF_UNARY_INT(int64_t, i64)

static void unary_range(void *ctx, int64_t begin, int64_t end)
{
    const unary_ctx *c = ctx;
    switch (c->dt) {
    case HCG_F32: unary_f32(c, begin, end); break;
    case HCG_I32: unary_i32(c, begin, end); break;
    case HCG_I64: unary_i64(c, begin, end); break;
    case HCG_BOOL:
        if (c->op == HCG_OP_NOT) UN_RUN(uint8_t, (uint8_t)(v == 0));
        break;
    default: break;
    }
}

static bool unary_supported(hcg_op op, hcg_dtype dt)
{
    if (op == HCG_OP_NOT) return dt == HCG_BOOL;
    if (dt == HCG_F32) return true;
    return (dt == HCG_I32 || dt == HCG_I64) && (op == HCG_OP_NEG || op == HCG_OP_ABS || op == HCG_OP_RELU);
}

static int64_t unary_cost(hcg_op op)
{
    switch (op) {
    case HCG_OP_NEG: case HCG_OP_ABS: case HCG_OP_RELU: case HCG_OP_NOT: return 1;
    case HCG_OP_SQRT: case HCG_OP_RSQRT: case HCG_OP_RECIPROCAL: return 4;
    default: return 16;
    }
}

hcg_status hcg_k_unary(hcg_exec_node *en)
{
    hcg_op op = en->node->op;
    hcg_dtype dt = en->in[0].dtype;
    if (!unary_supported(op, dt))
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "no cpu kernel for dtype %s", hcg_dtype_name(dt));
    unary_ctx c = {.op = op, .dt = dt, .x = hcg_dev_tensor_ptr(&en->in[0]), .o = hcg_dev_tensor_ptr(&en->out)};
    if (op == HCG_OP_GELU) {
        const char *approx = hcg_attr_string(en->node, "approximate");
        c.gelu_tanh = approx && strcmp(approx, "tanh") == 0;
    }
    hcg_parallel_for(hcg_cpu_numel(&en->out), hcg_grain_for(unary_cost(op)), unary_range, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- clip */

typedef struct clip_ctx {
    hcg_dtype dt;
    double lo, hi;
    const void *x;
    void *o;
} clip_ctx;

/* min(max(x, lo), hi), so lo > hi gives hi everywhere (numpy, ONNX); NaN stays NaN. */
static inline float clip_f32(float v, float lo, float hi)
{
    if (isnan(v)) return v;
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

static void clip_range(void *ctx, int64_t begin, int64_t end)
{
    const clip_ctx *c = ctx;
    if (c->dt == HCG_F32) {
        const float *x = c->x;
        float *o = c->o, lo = (float)c->lo, hi = (float)c->hi;
        for (int64_t i = begin; i < end; i++) o[i] = clip_f32(x[i], lo, hi);
    } else if (c->dt == HCG_I32) {
        const int32_t *x = c->x;
        int32_t *o = c->o;
        int32_t lo = (int32_t)hcg_clip_int_bound(c->lo, true, INT32_MIN, INT32_MAX);
        int32_t hi = (int32_t)hcg_clip_int_bound(c->hi, false, INT32_MIN, INT32_MAX);
        for (int64_t i = begin; i < end; i++) {
            int32_t v = x[i] < lo ? lo : x[i];
            o[i] = v > hi ? hi : v;
        }
    } else {
        const int64_t *x = c->x;
        int64_t *o = c->o;
        int64_t lo = hcg_clip_int_bound(c->lo, true, INT64_MIN, INT64_MAX);
        int64_t hi = hcg_clip_int_bound(c->hi, false, INT64_MIN, INT64_MAX);
        for (int64_t i = begin; i < end; i++) {
            int64_t v = x[i] < lo ? lo : x[i];
            o[i] = v > hi ? hi : v;
        }
    }
}

hcg_status hcg_k_clip(hcg_exec_node *en)
{
    hcg_dtype dt = en->in[0].dtype;
    if (dt != HCG_F32 && dt != HCG_I32 && dt != HCG_I64)
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "no cpu kernel for dtype %s", hcg_dtype_name(dt));
    clip_ctx c = {.dt = dt, .lo = hcg_attr_float(en->node, "min"), .hi = hcg_attr_float(en->node, "max"),
                  .x = hcg_dev_tensor_ptr(&en->in[0]), .o = hcg_dev_tensor_ptr(&en->out)};
    hcg_parallel_for(hcg_cpu_numel(&en->out), hcg_grain_for(1), clip_range, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- cast */



/* Converts n elements from (src type) to (dst type): integers among themselves wrap around
 * (numpy's astype), anything to bool is != 0, floats to integers as hcg_float_to_int. */
#define CAST_LOOP(ST, DT, CONV)                                                                   \
    do {                                                                                          \
        const ST *s_ = (const ST *)src;                                                           \
        DT *d_ = (DT *)dst;                                                                       \
        for (int64_t i = 0; i < n; i++) {                                                         \
            ST v = s_[i];                                                                         \
            d_[i] = (DT)(CONV);                                                                   \
        }                                                                                         \
    } while (0)

/* Reads a float source (f32, or f16 through a float) and writes any dtype. */
#define CAST_FROM_FLOAT(ST, LOAD)                                                                 \
    switch (to) {                                                                                 \
    case HCG_F32: CAST_LOOP(ST, float, LOAD); break;                                              \
    case HCG_F16: CAST_LOOP(ST, uint16_t, hcg_float_to_half(LOAD)); break;                        \
    case HCG_I32: CAST_LOOP(ST, int32_t, hcg_float_to_int(LOAD, INT32_MIN, INT32_MAX)); break;                 \
    case HCG_I64: CAST_LOOP(ST, int64_t, hcg_float_to_int(LOAD, INT64_MIN, INT64_MAX)); break;                 \
    case HCG_U8: CAST_LOOP(ST, uint8_t, hcg_float_to_int(LOAD, 0, UINT8_MAX)); break;                          \
    case HCG_I8: CAST_LOOP(ST, int8_t, hcg_float_to_int(LOAD, INT8_MIN, INT8_MAX)); break;                     \
    case HCG_BOOL: CAST_LOOP(ST, uint8_t, (LOAD) != 0); break;                                    \
    default: break;                                                                               \
    }

/* Reads an integer source (i32, i64, u8, i8, bool) and writes any dtype. */
#define CAST_FROM_INT(ST)                                                                         \
    switch (to) {                                                                                 \
    case HCG_F32: CAST_LOOP(ST, float, v); break;                                                 \
    case HCG_F16: CAST_LOOP(ST, uint16_t, hcg_float_to_half((float)v)); break;                    \
    case HCG_I32: CAST_LOOP(ST, int32_t, (uint32_t)(uint64_t)(int64_t)v); break;                  \
    case HCG_I64: CAST_LOOP(ST, int64_t, v); break;                                               \
    case HCG_U8: CAST_LOOP(ST, uint8_t, (uint8_t)(uint64_t)(int64_t)v); break;                    \
    case HCG_I8: CAST_LOOP(ST, int8_t, (int8_t)(uint8_t)(uint64_t)(int64_t)v); break;             \
    case HCG_BOOL: CAST_LOOP(ST, uint8_t, v != 0); break;                                         \
    default: break;                                                                               \
    }

static void cast_run(hcg_dtype from, hcg_dtype to, const void *src, void *dst, int64_t n)
{
    switch (from) {
    case HCG_F32: CAST_FROM_FLOAT(float, (double)v); break;
    case HCG_F16: CAST_FROM_FLOAT(uint16_t, (double)hcg_half_to_float(v)); break;
    case HCG_I32: CAST_FROM_INT(int32_t); break;
    case HCG_I64: CAST_FROM_INT(int64_t); break;
    case HCG_U8:
    case HCG_BOOL: CAST_FROM_INT(uint8_t); break;
    case HCG_I8: CAST_FROM_INT(int8_t); break;
    default: break;
    }
}

typedef struct cast_ctx {
    hcg_dtype from, to;
    const char *src;
    char *dst;
} cast_ctx;

static void cast_range(void *ctx, int64_t begin, int64_t end)
{
    const cast_ctx *c = ctx;
    cast_run(c->from, c->to, c->src + begin * (int64_t)hcg_dtype_size(c->from),
             c->dst + begin * (int64_t)hcg_dtype_size(c->to), end - begin);
}

hcg_status hcg_k_cast(hcg_exec_node *en)
{
    cast_ctx c = {.from = en->in[0].dtype, .to = en->out.dtype, .src = hcg_dev_tensor_ptr(&en->in[0]),
                  .dst = hcg_dev_tensor_ptr(&en->out)};
    int64_t n = hcg_cpu_numel(&en->out);
    if (c.from == c.to || (c.from == HCG_BOOL && c.to == HCG_U8)) {
        /* Same bits (bool is 0/1, a valid u8). */
        if (c.dst != c.src) memmove(c.dst, c.src, (size_t)n * hcg_dtype_size(c.to));
        return HCG_OK;
    }
    hcg_parallel_for(n, hcg_grain_for(2), cast_range, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- causal_mask */

typedef struct mask_ctx {
    int64_t rows, cols;
    float value;
    const float *x;
    float *o;
} mask_ctx;

static void mask_rows(void *ctx, int64_t begin, int64_t end)
{
    const mask_ctx *c = ctx;
    for (int64_t r = begin; r < end; r++) {
        int64_t i = r % c->rows;
        /* Columns j <= i + (cols - rows) stay, the rest take value. */
        int64_t keep = i + (c->cols - c->rows) + 1;
        keep = keep < 0 ? 0 : keep > c->cols ? c->cols : keep;
        const float *x = c->x + r * c->cols;
        float *o = c->o + r * c->cols;
        if (o != x) memcpy(o, x, (size_t)keep * sizeof(float));
        for (int64_t j = keep; j < c->cols; j++) o[j] = c->value;
    }
}

hcg_status hcg_k_causal_mask(hcg_exec_node *en)
{
    const hcg_shape *s = &en->out.shape;
    if (s->rank < 2 || en->out.dtype != HCG_F32)
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "causal_mask needs an f32 tensor of rank >= 2");
    mask_ctx c = {.rows = s->dims[s->rank - 2], .cols = s->dims[s->rank - 1],
                  .value = (float)hcg_attr_float(en->node, "value"), .x = hcg_dev_tensor_ptr(&en->in[0]),
                  .o = hcg_dev_tensor_ptr(&en->out)};
    int64_t n_rows = hcg_dims_prod(s, 0, s->rank - 1);
    if (c.cols == 0 || c.rows == 0) return HCG_OK;
    hcg_parallel_for(n_rows, hcg_grain_for(c.cols), mask_rows, &c);
    return HCG_OK;
}
