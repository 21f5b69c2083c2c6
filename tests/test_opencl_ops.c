/* test_opencl_ops.c — the OpenCL backend, on every OpenCL device present, against the CPU backend
 * (the reference semantics) and against the golden references:
 *   - every program of cl/ builds on the device and defines exactly the kernels the embedded table
 *     holds (cl/embed.cmake reads them from the preprocessed source: the device's compiler must
 *     find the same ones);
 *   - every golden op case (tests/golden/cases.json) runs through a session on the device: its
 *     output must match the golden reference within the case's tolerance and the CPU's output
 *     within per-op, per-dtype thresholds on the normalised mean squared error and the maximum
 *     relative error; every op of the op table must pass at least one case;
 *   - a table of edge cases (size 1, odd sizes, sizes that are not multiples of the work-group
 *     size, broadcasting in every arrangement, ranks that need the kernels' slow index path, long
 *     reductions, empty operands) compared with the CPU the same way;
 *   - generators that binding would fold (range, shape, constant_of_shape), through the backend's
 *     interface directly, against hcg_cpu_eval;
 *   - bad data (a gather index out of range, an integer division by zero) is an error, not a
 *     crash, and the device works afterwards;
 *   - sessions on two threads share a device safely;
 *   - no program is built twice for a device;
 *   - with two or more devices (POCL_DEVICES="pthread pthread", see tests/opencl.cmake): device
 *     names and selection, and one graph split over two OpenCL devices.
 * Without an OpenCL device (or without the OpenCL build) the test passes with a note.
 * HCG_OCL_FILTER=<text> runs only the golden and edge cases whose name contains <text>. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "golden_cases.h"
#include "graph/bind.h"
#include "graph/half.h"
#include "graph/op_table.h"

#ifdef HCG_HAVE_OPENCL
#include "backend/opencl/ocl.h"
#include "backend/opencl/opencl.h"
#endif

static const char *filter;

static bool selected(const char *name) { return !filter || strstr(name, filter); }

/* ---------------------------------------------------------------- thresholds */

/* Pass when NMSE <= nmse and every element has |got - want| <= rel * |want| + abs * max|want| (abs
 * allows for cancellation: a sum or a centred value near zero carries the rounding of its much
 * larger terms). All zero means bit-exact (NaN matches NaN). Failures print the NMSE and the
 * normwise maximum relative error max|got - want| / max|want|. */
typedef struct tol {
    double nmse, rel, abs;
} tol;

static tol tolerance_for(hcg_op op, hcg_dtype out)
{
    static const tol exact = {0, 0, 0};
    if (out != HCG_F32) return exact; /* integers, bools, and f16 (cast rounds the same way) */
    switch (op) {
    case HCG_OP_DIV: case HCG_OP_SQRT: case HCG_OP_RSQRT: case HCG_OP_RECIPROCAL:
        return (tol){1e-12, 1e-6, 0}; /* OpenCL allows a few ulp for divide and sqrt */
    case HCG_OP_EXP: case HCG_OP_LOG: case HCG_OP_TANH: case HCG_OP_SIGMOID: case HCG_OP_SILU:
    case HCG_OP_ERF: case HCG_OP_GELU: case HCG_OP_POW:
        return (tol){1e-10, 1e-5, 1e-6}; /* the device's libm: a few ulp (gelu cancels near -3) */
    case HCG_OP_REDUCE_SUM: case HCG_OP_REDUCE_MEAN:
        return (tol){1e-12, 1e-5, 1e-5}; /* another summation order */
    case HCG_OP_REDUCE_PROD:
        return (tol){1e-12, 1e-5, 0}; /* float products (the CPU's are in double): a rounding per factor */
    case HCG_OP_SOFTMAX: case HCG_OP_LOG_SOFTMAX: case HCG_OP_LAYER_NORM: case HCG_OP_RMS_NORM:
        return (tol){1e-11, 1e-5, 1e-5};
    case HCG_OP_MATMUL: case HCG_OP_GEMM: case HCG_OP_FUSED_MATMUL: case HCG_OP_QUANT_MATMUL:
        /* CLBlast's tiles, or hcg's own (quant_matmul, an f16 weight), sum in another order (then the
         * epilogue's libm) */
        return (tol){1e-11, 1e-4, 1e-5};
    case HCG_OP_ATTENTION:
        return (tol){1e-11, 1e-5, 1e-5}; /* dot products and the online softmax in another order */
    case HCG_OP_UNARY_GRAD:
        return (tol){1e-10, 1e-5, 1e-6}; /* the device's libm, as the unary ops */
    case HCG_OP_SOFTMAX_GRAD: case HCG_OP_LOG_SOFTMAX_GRAD: case HCG_OP_LAYER_NORM_GRAD: case HCG_OP_RMS_NORM_GRAD:
        return (tol){1e-11, 1e-5, 1e-5}; /* row sums in float with compensation, as the forward norms */
    case HCG_OP_SOFTMAX_CROSS_ENTROPY: case HCG_OP_NLL_LOSS: case HCG_OP_KL_DIV: case HCG_OP_MSE_LOSS:
        return (tol){1e-11, 1e-5, 1e-5}; /* log-sum-exp per row, then compensated float sums */
    default:
        return exact; /* add, sub, mul, max, min, clip, cast, data movement, masks, one_hot, argmax,
                       * slice_grad, gather_grad (it adds in the CPU's order): IEEE-exact */
    }
}

static bool compare(const hcg_tensor *got, const hcg_tensor *want, tol t, const char *what)
{
    if (!CHECK(got->dtype == want->dtype && hcg_shape_equal(&got->shape, &want->shape), "%s: dtype or shape differs",
               what))
        return false;
    int64_t n = 0;
    hcg_shape_numel(&want->shape, &n);
    double max_abs = 0;
    for (int64_t i = 0; i < n; i++) {
        double w = fabs(tl_get(want, (long)i));
        if (isfinite(w) && w > max_abs) max_abs = w;
    }
    double max_err = 0, err2 = 0, ref2 = 0, worst_excess = -1;
    int64_t bad = 0, worst_at = -1;
    for (int64_t i = 0; i < n; i++) {
        double g = tl_get(got, (long)i), w = tl_get(want, (long)i);
        bool ok;
        if (!isfinite(g) || !isfinite(w)) {
            ok = (isnan(g) && isnan(w)) || g == w;
        } else {
            double e = fabs(g - w), allowed = t.rel * fabs(w) + t.abs * max_abs;
            err2 += e * e;
            ref2 += w * w;
            if (e > max_err) max_err = e;
            ok = e <= allowed;
            if (!ok && e - allowed > worst_excess) worst_excess = e - allowed, worst_at = i;
        }
        if (!ok) {
            if (worst_at < 0) worst_at = i;
            bad++;
        }
    }
    double nmse = err2 == 0 ? 0 : ref2 == 0 ? INFINITY : err2 / ref2;
    double rel = max_abs > 0 ? max_err / max_abs : max_err;
    return CHECK(bad == 0 && nmse <= t.nmse,
                 "%s: NMSE %.3g (limit %.3g), max relative error %.3g, %lld of %lld elements outside rel %.0e + abs %.0e "
                 "* max; element %lld: got %.9g, want %.9g",
                 what, nmse, t.nmse, rel, (long long)bad, (long long)n, t.rel, t.abs, (long long)worst_at,
                 worst_at >= 0 ? tl_get(got, (long)worst_at) : 0.0, worst_at >= 0 ? tl_get(want, (long)worst_at) : 0.0);
}

/* ---------------------------------------------------------------- running graphs */

static hcg_status run_on(const hcg_graph *g, const char *devices, hcg_tensor **inputs, hcg_tensor **out)
{
    hcg_session *s = NULL;
    *out = NULL;
    hcg_status st = hcg_session_new(g, &(hcg_session_options){.devices = devices}, &s);
    if (!st) st = hcg_session_run(s, (const hcg_tensor *const *)inputs, out);
    hcg_session_free(s);
    return st;
}

/* Runs g on dev and on the cpu and compares (and, when golden is given, with it too). */
static bool check_against_cpu(const hcg_graph *g, hcg_tensor **inputs, const char *dev, hcg_op op, const char *what,
                              const hcg_tensor *golden, double g_rtol, double g_atol)
{
    hcg_tensor *got = NULL, *ref = NULL;
    char label[512];
    bool ok = false;
    hcg_status st = run_on(g, dev, inputs, &got);
    if (!CHECK(st == HCG_OK, "%s on %s: %s: %s", what, dev, hcg_status_name(st), hcg_last_error())) goto done;
    st = run_on(g, "cpu", inputs, &ref);
    if (!CHECK(st == HCG_OK, "%s on cpu: %s: %s", what, hcg_status_name(st), hcg_last_error())) goto done;
    snprintf(label, sizeof label, "%s on %s vs cpu", what, dev);
    ok = compare(got, ref, tolerance_for(op, ref->dtype), label);
    if (golden) {
        snprintf(label, sizeof label, "%s on %s vs golden", what, dev);
        ok &= tl_tensor_close(got, golden, g_rtol, g_atol, label);
    }
done:
    hcg_tensor_free(got);
    hcg_tensor_free(ref);
    return ok;
}

/* ---------------------------------------------------------------- golden cases */

static void golden_on(const char *dev, const gc_suite *s)
{
    int passed[HCG_OP_COUNT] = {0}, failed[HCG_OP_COUNT] = {0};
    for (int i = 0; i < s->n_cases; i++) {
        const gc_case *c = &s->cases[i];
        if (!selected(c->name)) continue;
        bool ok;
        if (c->error || c->n_states) { /* states: against the golden values only */
            ok = gc_run(s, c, &(gc_options){.devices = dev}) == GC_PASS;
        } else {
            hcg_graph *g = NULL;
            hcg_tensor **inputs = NULL, *want = NULL;
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", s->dir, c->output);
            ok = CHECK_OK(gc_build(s, c, &g, &inputs)) && CHECK_OK(hcg_npy_load(path, &want));
            if (ok) {
                double rtol, atol;
                gc_default_tolerance(want->dtype, &rtol, &atol);
                if (c->rtol >= 0) rtol = c->rtol;
                if (c->atol >= 0) atol = c->atol;
                ok = check_against_cpu(g, inputs, dev, c->op, c->name, want, rtol, atol);
            }
            hcg_tensor_free(want);
            gc_free_tensors(inputs, c->n_inputs);
            hcg_graph_free(g);
        }
        (ok ? passed : failed)[c->op]++;
    }
    int total_passed = 0, total_failed = 0;
    for (int op = 0; op < HCG_OP_COUNT; op++) {
        total_passed += passed[op];
        total_failed += failed[op];
        if (failed[op]) printf("  %s: %s: %d of %d golden cases failed\n", dev, hcg_op_name((hcg_op)op), failed[op],
                               passed[op] + failed[op]);
        /* sources have no kernels; the ops between ranks run on the cpu only (they hand host memory to MPI) */
        if (filter || (hcg_op_info_get((hcg_op)op)->flags & (HCG_OPF_SOURCE | HCG_OPF_HOST_ONLY))) continue;
        CHECK(passed[op] > 0, "%s: op %s passed no golden case (every v1 op must run on OpenCL)", dev,
              hcg_op_name((hcg_op)op));
    }
    printf("%s: golden cases: %d passed, %d failed\n", dev, total_passed, total_failed);
}

/* ---------------------------------------------------------------- edge cases */

/* A case: an op, its attributes ("name=value", lists with commas, separated by spaces) and its
 * inputs ("dtype[d0,d1]" separated by spaces; after the dtype, "+" asks for positive values, "*"
 * for floats in [-200, 200] (worth converting to integers) and "{lo..hi}" for integers in
 * [lo, hi]; floats are otherwise in [-3, 3]). */
typedef struct edge_case {
    const char *label;
    hcg_op op;
    const char *attrs;
    const char *inputs;
} edge_case;

#define E(label, op, attrs, inputs) {label, HCG_OP_##op, attrs, inputs}

static const edge_case edge_cases[] = {
    /* binary ops: sizes around the work-group size, every broadcast arrangement, high ranks */
    E("add_1", ADD, "", "f32[1] f32[1]"),
    E("add_257", ADD, "", "f32[257] f32[257]"),
    E("add_scalar_4097", ADD, "", "f32[4097] f32[]"),
    E("add_row", ADD, "", "f32[7,13] f32[13]"),
    E("add_col", ADD, "", "f32[7,13] f32[7,1]"),
    E("add_both", ADD, "", "f32[3,1,5] f32[1,4,1]"),
    E("add_rank5", ADD, "", "f32[2,3,4,5,6] f32[5,1]"),
    E("add_rank6_alternating", ADD, "", "f32[2,1,3,1,5,1] f32[1,4,1,6,1,7]"),
    E("add_narrow_tall", ADD, "", "f32[3000,3] f32[3]"),
    E("add_i64_bcast", ADD, "", "i64[5,1,3] i64[4,1]"),
    E("sub_i32", SUB, "", "i32[33,17] i32[17]"),
    E("mul_65x65", MUL, "", "f32[65,65] f32[65,1]"),
    E("div_f32", DIV, "", "f32[129] f32+[129]"),
    E("div_i32", DIV, "", "i32{-100..100}[300] i32{1..9}[300]"),
    E("div_i64_bcast", DIV, "", "i64{-1000..1000}[20,30] i64{-7..-1}[30]"),
    E("pow", POW, "", "f32+[200] f32[200]"),
    E("max_bcast", MAX, "", "f32[6,1,7] f32[5,7]"),
    E("min_i64", MIN, "", "i64[100] i64[1]"),
    E("equal_i32", EQUAL, "", "i32{0..3}[50,3] i32{0..3}[3]"),
    E("equal_bool", EQUAL, "", "bool[9,9] bool[9,1]"),
    E("equal_u8", EQUAL, "", "u8{0..2}[300] u8{0..2}[300]"),
    E("less_f32", LESS, "", "f32[17,19] f32[19]"),
    E("greater_i64", GREATER, "", "i64[1,8] i64[8,1]"),
    E("and", AND, "", "bool[4,5,6] bool[6]"),
    E("or", OR, "", "bool[1000] bool[1]"),
    E("where_f32", WHERE, "", "bool[5,1] f32[1,7] f32[5,7]"),
    E("where_i64", WHERE, "", "bool[3,4] i64[4] i64[3,1]"),
    E("where_f16", WHERE, "", "bool[33] f16[33] f16[1]"),
    E("where_bool", WHERE, "", "bool[2,3,4] bool[4] bool[3,1]"),
    E("where_rank5", WHERE, "", "bool[2,1,3,1,2] f32[1,2,1,4,1] f32[2,1,1,1,2]"),

    /* unary ops */
    E("neg_1", NEG, "", "f32[1]"), E("neg_i32", NEG, "", "i32[257]"), E("neg_i64", NEG, "", "i64[3]"),
    E("abs", ABS, "", "f32[1000]"), E("abs_i64", ABS, "", "i64[99]"),
    E("relu", RELU, "", "f32[4097]"), E("relu_i32", RELU, "", "i32[7]"),
    E("exp", EXP, "", "f32[513]"), E("log", LOG, "", "f32+[513]"), E("sqrt", SQRT, "", "f32+[65]"),
    E("rsqrt", RSQRT, "", "f32+[65]"), E("tanh", TANH, "", "f32[300]"), E("sigmoid", SIGMOID, "", "f32[300]"),
    E("silu", SILU, "", "f32[300]"), E("erf", ERF, "", "f32[300]"), E("reciprocal", RECIPROCAL, "", "f32+[31]"),
    E("gelu", GELU, "", "f32[1025]"), E("gelu_tanh", GELU, "approximate=tanh", "f32[1025]"),
    E("not", NOT, "", "bool[33]"),
    E("clip_f32", CLIP, "min=-0.5 max=0.75", "f32[257]"),
    E("clip_i32", CLIP, "min=-2.5 max=7.5", "i32{-10..10}[100]"),
    E("clip_i64_low_only", CLIP, "min=3", "i64{-10..10}[100]"),

    /* casts: every pair appears in the golden cases; here sizes and extremes */
    E("cast_f32_f16", CAST, "to=f16", "f32[1001]"),
    E("cast_f16_f32", CAST, "to=f32", "f16[1001]"),
    E("cast_f32_i32", CAST, "to=i32", "f32*[300]"),
    E("cast_f32_u8", CAST, "to=u8", "f32*[300]"),
    E("cast_f32_i64", CAST, "to=i64", "f32*[300]"),
    E("cast_i64_i32", CAST, "to=i32", "i64[300]"),
    E("cast_i32_bool", CAST, "to=bool", "i32{-1..1}[300]"),
    E("cast_bool_f32", CAST, "to=f32", "bool[300]"),
    E("cast_u8_f16", CAST, "to=f16", "u8[300]"),
    E("cast_f16_i64", CAST, "to=i64", "f16[300]"),
    E("cast_bool_u8", CAST, "to=u8", "bool[17]"),

    /* reductions: long ones, many short ones, axes apart, everything */
    E("sum_all_1", REDUCE_SUM, "", "f32[1]"),
    E("sum_all_large", REDUCE_SUM, "", "f32[1048576]"),
    E("sum_rows", REDUCE_SUM, "axes=1", "f32[37,1025]"),
    E("sum_cols", REDUCE_SUM, "axes=0", "f32[37,1025]"),
    E("sum_apart", REDUCE_SUM, "axes=0,2 keepdims=0", "f32[4,5,6,7]"),
    E("sum_apart2", REDUCE_SUM, "axes=1,3", "f32[4,5,6,7]"),
    E("sum_i32", REDUCE_SUM, "axes=0", "i32[1000,3]"),
    E("sum_i64_rows", REDUCE_SUM, "axes=-1", "i64[3,1000]"),
    E("mean_rows", REDUCE_MEAN, "axes=-1", "f32[65,300]"),
    E("mean_all_large", REDUCE_MEAN, "keepdims=0", "f32[512,1024]"),
    E("max_rows", REDUCE_MAX, "axes=1", "f32[9,4097]"),
    E("max_middle", REDUCE_MAX, "axes=1", "f32[3,50,7]"),
    E("max_i32", REDUCE_MAX, "", "i32[12345]"),
    E("max_i64_cols", REDUCE_MAX, "axes=0", "i64[77,5]"),

    /* softmax and norms */
    E("softmax_1", SOFTMAX, "", "f32[1,1]"),
    E("softmax_rows", SOFTMAX, "", "f32[3,1000]"),
    E("softmax_vocab", SOFTMAX, "", "f32[2,50000]"),
    E("softmax_middle", SOFTMAX, "axis=1", "f32[4,5,6]"),
    E("softmax_first", SOFTMAX, "axis=0", "f32[70,3]"),
    E("log_softmax_rows", LOG_SOFTMAX, "", "f32[5,333]"),
    E("log_softmax_middle", LOG_SOFTMAX, "axis=-2", "f32[2,9,4]"),
    E("layer_norm", LAYER_NORM, "", "f32[5,7] f32[7] f32[7]"),
    E("layer_norm_axis1", LAYER_NORM, "axis=1", "f32[3,4,5] f32[4,5] f32[4,5]"),
    E("layer_norm_noscale", LAYER_NORM, "epsilon=0.001", "f32[2,4097]"),
    E("layer_norm_scale_only", LAYER_NORM, "", "f32[6,384] f32[384]"),
    E("rms_norm", RMS_NORM, "", "f32[6,300] f32[300]"),
    E("rms_norm_1", RMS_NORM, "", "f32[3,1]"),

    /* matrix products: CLBlast */
    E("matmul_1", MATMUL, "", "f32[1,1] f32[1,1]"),
    E("matmul_odd", MATMUL, "", "f32[7,13] f32[13,5]"),
    E("matmul_stacked", MATMUL, "", "f32[2,3,7,13] f32[13,5]"),
    E("matmul_batched", MATMUL, "", "f32[2,3,7,13] f32[2,3,13,5]"),
    E("matmul_bcast_a", MATMUL, "", "f32[7,13] f32[4,13,5]"),
    E("matmul_bcast_mixed", MATMUL, "", "f32[2,1,7,13] f32[1,3,13,5]"),
    E("matmul_bcast_inner", MATMUL, "", "f32[3,1,7,13] f32[3,4,13,5]"),
    E("matmul_vec_b", MATMUL, "", "f32[4,7,13] f32[13]"),
    E("matmul_vec_a", MATMUL, "", "f32[13] f32[4,13,5]"),
    E("matmul_vec_vec", MATMUL, "", "f32[13] f32[13]"),
    E("matmul_ta_tb", MATMUL, "transpose_a=1 transpose_b=1", "f32[13,7] f32[5,13]"),
    E("matmul_attention_qk", MATMUL, "transpose_b=1", "f32[2,4,16,8] f32[2,4,16,8]"),
    E("matmul_ta_batched", MATMUL, "transpose_a=1", "f32[3,13,7] f32[3,13,5]"),
    E("matmul_k0", MATMUL, "", "f32[3,0] f32[0,4]"),
    E("matmul_wide", MATMUL, "", "f32[65,129] f32[129,257]"),
    E("gemm", GEMM, "", "f32[7,13] f32[13,5]"),
    E("gemm_bias_row", GEMM, "alpha=0.5 beta=2", "f32[7,13] f32[13,5] f32[5]"),
    E("gemm_bias_col", GEMM, "transpose_a=1", "f32[13,7] f32[13,5] f32[7,1]"),
    E("gemm_bias_scalar", GEMM, "transpose_b=1 beta=-1", "f32[7,13] f32[5,13] f32[]"),
    E("gemm_bias_full", GEMM, "transpose_a=1 transpose_b=1", "f32[13,7] f32[5,13] f32[7,5]"),
    E("gemm_k0_bias", GEMM, "beta=3", "f32[4,0] f32[0,6] f32[6]"),

    /* data movement, every element size */
    E("transpose_f32", TRANSPOSE, "perm=3,1,0,2", "f32[2,3,4,5]"),
    E("transpose_i64", TRANSPOSE, "perm=0,2,1", "i64[3,17,5]"),
    E("transpose_u8", TRANSPOSE, "", "u8[257,3]"),
    E("transpose_f16", TRANSPOSE, "perm=1,0,2", "f16[5,6,7]"),
    E("transpose_rank6", TRANSPOSE, "perm=5,4,3,2,1,0", "f32[2,3,2,3,2,3]"),
    E("slice_neg_steps", SLICE, "starts=-1,2,0 ends=-11,18,30 axes=0,1,2 steps=-2,3,7", "f32[10,20,30]"),
    E("slice_i64", SLICE, "starts=1 ends=1000 axes=1", "i64[4,9]"),
    E("split_last", SPLIT, "axis=1 parts=3 index=2", "f32[7,9]"),
    E("split_sizes_u8", SPLIT, "axis=0 sizes=2,5 index=1", "u8[7,3]"),
    E("concat_with_empty", CONCAT, "axis=1", "f32[4,3,5] f32[4,0,5] f32[4,2,5]"),
    E("concat_first", CONCAT, "axis=0", "i64[1,3] i64[2,3] i64[3,3]"),
    E("concat_f16_last", CONCAT, "axis=-1", "f16[2,2,1] f16[2,2,7]"),
    E("expand", EXPAND, "shape=2,3,5", "f32[3,1]"),
    E("expand_bool", EXPAND, "shape=4,1,6", "bool[3,1]"),
    E("gather_rows_neg", GATHER, "axis=0", "f32[10,6] i64{-10..9}[4,3]"),
    E("gather_cols_i32", GATHER, "axis=1", "f32[5,10,3] i32{0..9}[7]"),
    E("gather_last_u8", GATHER, "axis=-1", "u8[4,9] i64{-9..8}[2,2]"),
    E("gather_scalar_index", GATHER, "axis=0", "i64[6,4] i64{0..5}[]"),
    E("gather_embedding", GATHER, "axis=0", "f32[1000,64] i64{0..999}[2,17]"),
    E("reshape", RESHAPE, "shape=3,-1", "f32[6,5]"),
    E("flatten", FLATTEN, "axis=2", "i32[2,3,4,5]"),
    E("squeeze", SQUEEZE, "axes=1", "f16[3,1,4]"),
    E("unsqueeze", UNSQUEEZE, "axes=0,3", "u8[3,4]"),

    /* masks */
    E("trilu_lower", TRILU, "upper=0 k=1", "f32[3,5,7]"),
    E("trilu_upper_neg", TRILU, "k=-2", "i64[4,6]"),
    E("trilu_bool", TRILU, "upper=1", "bool[2,9,3]"),
    E("causal_mask", CAUSAL_MASK, "", "f32[2,5,7]"),
    E("causal_mask_tall", CAUSAL_MASK, "value=-1000", "f32[7,5]"),
    E("causal_mask_long", CAUSAL_MASK, "", "f32[1,300,300]"),

    /* training ops: long rows and many short ones, sizes around the work-group size, every index
     * dtype, sums over a million elements */
    E("one_hot_depth_1000", ONE_HOT, "depth=1000", "i64{-5..1004}[3,33]"),
    E("one_hot_axis0_i32", ONE_HOT, "depth=7 axis=0", "i32{0..6}[4097]"),
    E("argmax_vocab", ARGMAX, "", "f32[3,50000]"),
    E("argmax_rows_i32", ARGMAX, "axis=1 keepdims=1", "i32{-5..5}[65,300]"),
    E("argmax_cols_i64", ARGMAX, "axis=0", "i64{-3..3}[999,5]"),
    E("unary_grad_gelu", UNARY_GRAD, "of=gelu", "f32[4097] f32[4097]"),
    E("unary_grad_silu", UNARY_GRAD, "of=silu", "f32[1025] f32[1025]"),
    E("softmax_grad_vocab", SOFTMAX_GRAD, "", "f32[2,50000] f32[2,50000]"),
    E("log_softmax_grad_middle", LOG_SOFTMAX_GRAD, "axis=1", "f32[4,70,6] f32[4,70,6]"),
    E("layer_norm_grad_4097", LAYER_NORM_GRAD, "", "f32[3,4097] f32[3,4097] f32[4097]"),
    E("layer_norm_grad_noscale", LAYER_NORM_GRAD, "axis=1 epsilon=0.001", "f32[5,6,7] f32[5,6,7]"),
    E("rms_norm_grad_rows", RMS_NORM_GRAD, "", "f32[65,384] f32[65,384] f32[384]"),
    E("gather_grad_embedding", GATHER_GRAD, "shape=1000,64", "f32[2,17,64] i64{-1000..999}[2,17]"),
    E("gather_grad_cols_i32", GATHER_GRAD, "axis=1 shape=5,10,3", "f32[5,300,3] i32{0..9}[300]"),
    E("slice_grad_neg_steps", SLICE_GRAD, "shape=10,20,30 starts=-1,2,0 ends=-11,18,30 axes=0,1,2 steps=-2,3,7",
      "f32[5,6,5]"),
    E("slice_grad_u8", SLICE_GRAD, "shape=4,9 starts=1 ends=1000 axes=1", "u8[4,8]"),
    E("sce_vocab", SOFTMAX_CROSS_ENTROPY, "", "f32[3,50000] i64{0..49999}[3]"),
    E("sce_many_rows_smooth", SOFTMAX_CROSS_ENTROPY, "label_smoothing=0.1 reduction=sum", "f32[4097,3] i32{0..2}[4097]"),
    E("sce_probs_last_axis", SOFTMAX_CROSS_ENTROPY, "axis=-1", "f32[9,65,33] f32+[9,65,33]"),
    /* (positive scores, as log-probabilities negated would be: a loss whose terms cancel to near 0
     * is only as exact as the float sum of its terms' magnitudes, not as the result's) */
    E("nll_many_rows", NLL_LOSS, "ignore_index=1", "f32+[3000,5] i64{0..4}[3000]"),
    E("kl_div_rows", KL_DIV, "temperature=2", "f32[300,129] f32+[300,129]"),
    E("mse_loss_large", MSE_LOSS, "", "f32[1048576] f32[1048576]"),
    E("mse_loss_none", MSE_LOSS, "reduction=none", "f32[4097] f32[4097]"),
};

/* A deterministic generator (xorshift). */
static uint64_t rng_state = 88172645463325252ull;
static double rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Parses one input spec and makes a tensor of random values. */
static bool make_input(const char *spec, hcg_tensor **out)
{
    char dt_name[16];
    size_t i = 0;
    while (spec[i] && !strchr("[+*{", spec[i]) && i < sizeof dt_name - 1) {
        dt_name[i] = spec[i];
        i++;
    }
    dt_name[i] = 0;
    hcg_dtype dt;
    if (!hcg_dtype_parse(dt_name, &dt)) return false;
    bool positive = false, wide = false;
    long lo = -50, hi = 50;
    if (dt == HCG_U8) lo = 0, hi = 255;
    if (dt == HCG_I8) lo = -128, hi = 127;
    if (dt == HCG_BOOL) lo = 0, hi = 1;
    const char *p = spec + i;
    if (*p == '+') positive = true, p++;
    if (*p == '*') wide = true, p++;
    if (*p == '{') {
        if (sscanf(p, "{%ld..%ld}", &lo, &hi) != 2) return false;
        p = strchr(p, '}') + 1;
    }
    if (*p != '[') return false;
    int64_t dims[HCG_MAX_RANK];
    int rank = 0;
    p++;
    while (*p && *p != ']') {
        dims[rank++] = strtoll(p, (char **)&p, 10);
        if (*p == ',') p++;
    }
    hcg_shape shape = hcg_shape_make(rank, dims);
    if (hcg_tensor_new(dt, &shape, out)) return false;
    int64_t n = 0;
    hcg_shape_numel(&shape, &n);
    for (int64_t k = 0; k < n; k++) {
        double u = rnd();
        double f = positive ? 0.05 + 3 * u : wide ? -200 + 400 * u : -3 + 6 * u;
        long v = lo + (long)(u * (double)(hi - lo + 1));
        if (v > hi) v = hi;
        switch (dt) {
        case HCG_F32: ((float *)(*out)->data)[k] = (float)f; break;
        case HCG_F16: ((uint16_t *)(*out)->data)[k] = hcg_float_to_half((float)(f * 20)); break;
        case HCG_I32: ((int32_t *)(*out)->data)[k] = (int32_t)v; break;
        case HCG_I64: ((int64_t *)(*out)->data)[k] = v; break;
        case HCG_U8:
        case HCG_BOOL: ((uint8_t *)(*out)->data)[k] = (uint8_t)v; break;
        case HCG_I8: ((int8_t *)(*out)->data)[k] = (int8_t)v; break;
        default: break;
        }
    }
    return true;
}

/* Attributes "a=1 b=2,3 c=x" converted with the op's schema. */
static int parse_attrs(hcg_op op, const char *text, hcg_attr *attrs, int64_t ints[][HCG_MAX_RANK], char names[][32],
                       char strs[][32])
{
    int n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *eq = strchr(p, '='), *end = strchr(p, ' ');
        if (!end) end = p + strlen(p);
        snprintf(names[n], 32, "%.*s", (int)(eq - p), p);
        char value[64];
        snprintf(value, sizeof value, "%.*s", (int)(end - eq - 1), eq + 1);
        int slot = hcg_attr_slot_accepting(op, names[n]);
        hcg_attr_kind kind = slot >= 0 ? hcg_op_info_get(op)->attrs[slot].kind : HCG_ATTR_STRING;
        hcg_attr *a = &attrs[n];
        if (kind == HCG_ATTR_INT) {
            *a = HCG_ATTR_I(names[n], strtoll(value, NULL, 10));
        } else if (kind == HCG_ATTR_FLOAT) {
            *a = HCG_ATTR_F(names[n], strtod(value, NULL));
        } else if (kind == HCG_ATTR_INTS) {
            int cnt = 0;
            for (char *q = value; *q;) {
                ints[n][cnt++] = strtoll(q, &q, 10);
                if (*q == ',') q++;
            }
            *a = HCG_ATTR_IS(names[n], ints[n], cnt);
        } else {
            snprintf(strs[n], 32, "%s", value);
            *a = HCG_ATTR_S(names[n], strs[n]);
        }
        n++;
        p = end;
    }
    return n;
}

static void edge_case_on(const char *dev, const edge_case *c)
{
    hcg_graph *g = hcg_graph_new();
    hcg_tensor *inputs[8] = {NULL};
    hcg_id ids[8];
    int n_in = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", c->inputs);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        if (!CHECK(make_input(tok, &inputs[n_in]), "%s: bad input spec '%s'", c->label, tok)) goto done;
        char name[16];
        snprintf(name, sizeof name, "x%d", n_in);
        ids[n_in] = hcg_input(g, name, inputs[n_in]->dtype, inputs[n_in]->shape.rank, inputs[n_in]->shape.dims);
        n_in++;
    }
    hcg_attr attrs[8];
    int64_t ints[8][HCG_MAX_RANK];
    char names[8][32], strs[8][32];
    int n_attrs = parse_attrs(c->op, c->attrs, attrs, ints, names, strs);
    hcg_id y = hcg_add_node(g, c->op, "node", ids, n_in, attrs, n_attrs);
    if (!CHECK(y >= 0 && hcg_output(g, y, "y") == HCG_OK, "%s: building: %s", c->label, hcg_last_error())) goto done;
    check_against_cpu(g, inputs, dev, c->op, c->label, NULL, 0, 0);
done:
    for (int i = 0; i < n_in; i++) hcg_tensor_free(inputs[i]);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- bad data */

static void bad_data_on(const char *dev)
{
    /* a gather index out of range */
    hcg_graph *g = hcg_graph_new();
    int64_t dd[2] = {5, 3}, di[1] = {4};
    hcg_id ins[2] = {hcg_input(g, "data", HCG_F32, 2, dd), hcg_input(g, "idx", HCG_I64, 1, di)};
    hcg_id y = hcg_add_node(g, HCG_OP_GATHER, "lookup", ins, 2, NULL, 0);
    hcg_output(g, y, "y");
    hcg_tensor *data = NULL, *idx = NULL, *out = NULL;
    hcg_tensor_new(HCG_F32, &(hcg_shape){2, {5, 3}}, &data);
    hcg_tensor_new(HCG_I64, &(hcg_shape){1, {4}}, &idx);
    int64_t *iv = idx->data;
    iv[0] = 0, iv[1] = 7, iv[2] = -1, iv[3] = 2;
    hcg_tensor *inputs[2] = {data, idx};
    hcg_status st = run_on(g, dev, inputs, &out);
    CHECK_FAILS(st, HCG_ERR_RUNTIME, "index 7 (at position 1) is out of range");
    CHECK(strstr(hcg_last_error(), "lookup") != NULL, "the message names the node: %s", hcg_last_error());
    hcg_tensor_free(out);
    /* the error buffer was cleared: the same graph with good indices works */
    iv[1] = -5;
    st = run_on(g, dev, inputs, &out);
    CHECK(st == HCG_OK, "gather after a failed gather on %s: %s", dev, hcg_last_error());
    if (!st) CHECK(out->shape.rank == 2 && out->shape.dims[0] == 4, "gather output shape");
    hcg_tensor_free(out);
    hcg_tensor_free(data);
    hcg_tensor_free(idx);
    hcg_graph_free(g);

    /* an integer division by zero */
    g = hcg_graph_new();
    int64_t dn[1] = {6};
    hcg_id a = hcg_input(g, "a", HCG_I32, 1, dn), b = hcg_input(g, "b", HCG_I32, 1, dn);
    hcg_output(g, hcg_div(g, a, b), "q");
    hcg_tensor *ta = NULL, *tb = NULL;
    hcg_tensor_new(HCG_I32, &(hcg_shape){1, {6}}, &ta);
    hcg_tensor_new(HCG_I32, &(hcg_shape){1, {6}}, &tb);
    for (int i = 0; i < 6; i++) ((int32_t *)ta->data)[i] = 10 * i, ((int32_t *)tb->data)[i] = i == 4 ? 0 : i + 1;
    hcg_tensor *in2[2] = {ta, tb};
    st = run_on(g, dev, in2, &out);
    CHECK_FAILS(st, HCG_ERR_RUNTIME, "division by zero");
    hcg_tensor_free(out);
    hcg_tensor_free(ta);
    hcg_tensor_free(tb);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- generators, directly */

#ifdef HCG_HAVE_OPENCL
/* Binds g without folding, runs node `name` on d through the interface (its operands in buffers
 * of their own: the view ops copy), compares with the CPU. Constant inputs carry their data;
 * others only their shape. With profile set, the node's measured time must be filled in. */
static void direct_on(hcg_device *d, hcg_graph *g, const hcg_shape *shapes, const char *name, bool profile)
{
    hcg_graph *bound = NULL;
    hcg_buffer bufs[4];
    int n_bufs = 0;
    hcg_tensor *ref = NULL, *got = NULL;
    if (!CHECK_OK(hcg_graph_bind(g, shapes, &(hcg_bind_options){0}, &bound))) return;
    hcg_id id = hcg_graph_find(bound, name);
    const hcg_node *n = &bound->nodes[id];
    CHECK(d->iface->supports(d, bound, n), "%s supports %s", d->name, name);
    hcg_dev_tensor in[3];
    hcg_exec_node en = {.g = bound, .node = n, .id = id, .n_in = n->n_inputs, .in = in};
    for (int i = 0; i < n->n_inputs; i++) {
        const hcg_node *x = &bound->nodes[n->inputs[i]];
        if (!CHECK_OK(d->iface->buffer_alloc(d, hcg_node_nbytes(x), &bufs[n_bufs]))) goto done;
        in[i] = (hcg_dev_tensor){.dtype = x->dtype, .shape = x->shape, .buf = &bufs[n_bufs++]};
        if (x->value && !CHECK_OK(d->iface->write(d, in[i].buf, 0, x->value->data, x->value->nbytes))) goto done;
    }
    if (!CHECK_OK(d->iface->buffer_alloc(d, hcg_node_nbytes(n), &bufs[n_bufs]))) goto done;
    en.out = (hcg_dev_tensor){.dtype = n->dtype, .shape = n->shape, .buf = &bufs[n_bufs++]};
    if (!CHECK_OK(hcg_tensor_new(n->dtype, &n->shape, &got)) || !CHECK_OK(d->iface->prepare(d, &en)) ||
        !CHECK_OK(d->iface->run(d, &en, 1, profile)) || !CHECK_OK(d->iface->synchronize(d)) ||
        !CHECK_OK(d->iface->read(d, en.out.buf, 0, got->data, got->nbytes)) || !CHECK_OK(hcg_cpu_eval(bound, n, &ref)))
        goto done;
    char label[128];
    snprintf(label, sizeof label, "%s directly on %s", name, d->name);
    compare(got, ref, tolerance_for(n->op, n->dtype), label);
    if (profile) CHECK(en.measured_s > 0 && en.start_s == 0, "%s: profiled time %g s", label, en.measured_s);
done:
    if (en.state) d->iface->release(d, &en);
    for (int i = 0; i < n_bufs; i++) d->iface->buffer_free(d, &bufs[i]);
    hcg_tensor_free(ref);
    hcg_tensor_free(got);
    hcg_graph_free(bound);
}

static void generators_on(hcg_device *d)
{
    hcg_graph *g = hcg_graph_new();
    int64_t xd[3] = {2, 3, 4}, shape5[2] = {5, 7};
    hcg_id x = hcg_input(g, "x", HCG_F32, 3, xd);
    hcg_attr range_f[] = {HCG_ATTR_F("start", 2.5), HCG_ATTR_F("limit", 700), HCG_ATTR_F("delta", 1.25),
                          HCG_ATTR_S("dtype", "f32")};
    hcg_attr range_i[] = {HCG_ATTR_F("start", -7), HCG_ATTR_F("limit", 300), HCG_ATTR_F("delta", 3),
                          HCG_ATTR_S("dtype", "i64")};
    hcg_attr shape_a[] = {HCG_ATTR_I("start", 1)};
    hcg_attr fill_i[] = {HCG_ATTR_IS("shape", shape5, 2), HCG_ATTR_F("value", -3.7), HCG_ATTR_S("dtype", "i32")};
    hcg_attr fill_h[] = {HCG_ATTR_IS("shape", shape5, 2), HCG_ATTR_F("value", 0.1), HCG_ATTR_S("dtype", "f16")};
    hcg_attr fill_b[] = {HCG_ATTR_IS("shape", shape5, 2), HCG_ATTR_F("value", 2), HCG_ATTR_S("dtype", "bool")};
    hcg_output(g, hcg_add_node(g, HCG_OP_RANGE, "range_f32", NULL, 0, range_f, 4), NULL);
    hcg_output(g, hcg_add_node(g, HCG_OP_RANGE, "range_i64", NULL, 0, range_i, 4), NULL);
    hcg_output(g, hcg_add_node(g, HCG_OP_SHAPE, "shape", &x, 1, shape_a, 1), NULL);
    hcg_output(g, hcg_add_node(g, HCG_OP_CONSTANT_OF_SHAPE, "fill_i32", NULL, 0, fill_i, 3), NULL);
    hcg_output(g, hcg_add_node(g, HCG_OP_CONSTANT_OF_SHAPE, "fill_f16", NULL, 0, fill_h, 3), NULL);
    hcg_output(g, hcg_add_node(g, HCG_OP_CONSTANT_OF_SHAPE, "fill_bool", NULL, 0, fill_b, 3), NULL);
    /* a view and a same-bits cast copy when their output has its own buffer */
    int64_t rd[2] = {3, 8};
    hcg_tensor *c = NULL, *flags = NULL;
    make_input("f32[4,6]", &c);
    make_input("bool[5]", &flags);
    hcg_attr rs[] = {HCG_ATTR_IS("shape", rd, 2)}, to_u8[] = {HCG_ATTR_S("to", "u8")};
    hcg_id cid = hcg_constant(g, "c", c), fid = hcg_constant(g, "flags", flags);
    hcg_output(g, hcg_add_node(g, HCG_OP_RESHAPE, "reshape", &cid, 1, rs, 1), NULL);
    hcg_output(g, hcg_add_node(g, HCG_OP_CAST, "bool_to_u8", &fid, 1, to_u8, 1), NULL);
    /* a product, profiled */
    hcg_id cc[2] = {cid, cid};
    hcg_attr tb[] = {HCG_ATTR_I("transpose_b", 1)};
    hcg_output(g, hcg_add_node(g, HCG_OP_MATMUL, "matmul", cc, 2, tb, 1), NULL);
    hcg_shape shapes[1] = {hcg_shape_make(3, xd)};
    const char *names[] = {"range_f32", "range_i64", "shape", "fill_i32", "fill_f16", "fill_bool", "reshape",
                           "bool_to_u8"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) direct_on(d, g, shapes, names[i], false);
    direct_on(d, g, shapes, "matmul", true);
    hcg_graph_free(g);

    /* a buffer beyond the device's limit is an error with the device's name, not a crash */
    hcg_buffer big;
    CHECK_FAILS(d->iface->buffer_alloc(d, (size_t)d->max_alloc + 1, &big), HCG_ERR_NOMEM, d->name);
}

/* ---------------------------------------------------------------- programs */

/* Every program builds on d and defines exactly the kernels its table row holds. */
static void programs_on(hcg_device *d)
{
    ocl_dev *dev = ocl_of(d);
    for (int p = 0; p < hcg_cl_program_count; p++) {
        const hcg_cl_program_src *src = &hcg_cl_programs[p];
        bool ok = true;
        for (int k = 0; k < src->n_kernels && ok; k++) {
            cl_kernel kn;
            ok = CHECK(ocl_kernel_get(dev, src->name, src->kernels[k], &kn, NULL) == HCG_OK, "%s: %s: %s", d->name,
                       src->kernels[k], hcg_last_error());
        }
        if (!ok) continue;
        cl_uint n = 0;
        CHECK(clCreateKernelsInProgram(dev->progs[p].program, 0, NULL, &n) == CL_SUCCESS &&
                  n == (cl_uint)src->n_kernels,
              "%s defines %u kernels, the table (cl/embed.cmake) has %d", src->path, n, src->n_kernels);
    }
    /* a program that does not compile: the error names it and the device and carries the log */
    static const char broken[] = "__kernel void broken(__global float *x) { x[0] = undeclared; }\n";
    hcg_cl_program_src bad = {"broken", "cl/broken.cl", broken, sizeof broken - 1, NULL, 0};
    cl_program prog = NULL;
    CHECK_FAILS(ocl_build_program(dev, &bad, &prog), HCG_ERR_DEVICE, "cl/broken.cl");
    const char *msg = hcg_last_error();
    CHECK(strstr(msg, d->name) && strstr(msg, "CL_BUILD_PROGRAM_FAILURE") && strstr(msg, "undeclared"),
          "a build failure names the device, the error and the log: %s", msg);
    CHECK(prog == NULL, "no program is returned from a failed build");
}
#endif

/* ---------------------------------------------------------------- several devices */

static void multi_device(int n_ocl)
{
    hcg_device *sel[16];
    int n = 0;
    CHECK_OK(hcg_devices_select("opencl", sel, 16, &n));
    CHECK(n == n_ocl, "'opencl' selects %d devices, %d exist", n, n_ocl);
    CHECK_OK(hcg_devices_select("opencl:1,cpu", sel, 16, &n));
    CHECK(n == 2 && strcmp(sel[0]->name, "opencl:1") == 0, "'opencl:1,cpu' selects opencl:1 first");
    CHECK(hcg_device_find("opencl:0") != hcg_device_find("opencl:1"), "two distinct devices");

    /* y = (a @ w) + softmax(b) with the branches pinned to different devices, against the CPU */
    hcg_graph *g[2];
    for (int pinned = 0; pinned < 2; pinned++) {
        g[pinned] = hcg_graph_new();
        int64_t ad[2] = {33, 17}, wd[2] = {17, 9}, bd[2] = {33, 9};
        hcg_id a = hcg_input(g[pinned], "a", HCG_F32, 2, ad), w = hcg_input(g[pinned], "w", HCG_F32, 2, wd);
        hcg_id b = hcg_input(g[pinned], "b", HCG_F32, 2, bd);
        hcg_id mm = hcg_matmul(g[pinned], a, w, false, false), sm = hcg_softmax(g[pinned], b, -1);
        hcg_id y = hcg_add(g[pinned], mm, sm);
        if (pinned) {
            hcg_pin(g[pinned], mm, "opencl:0");
            hcg_pin(g[pinned], sm, "opencl:1");
            hcg_pin(g[pinned], y, "opencl:1");
        }
        hcg_output(g[pinned], y, "y");
    }
    hcg_tensor *inputs[3] = {NULL}, *got = NULL, *ref = NULL;
    make_input("f32[33,17]", &inputs[0]);
    make_input("f32[17,9]", &inputs[1]);
    make_input("f32[33,9]", &inputs[2]);
    if (CHECK_OK(run_on(g[1], "opencl:0,opencl:1", inputs, &got)) && CHECK_OK(run_on(g[0], "cpu", inputs, &ref)))
        compare(got, ref, tolerance_for(HCG_OP_MATMUL, HCG_F32), "a graph split over opencl:0 and opencl:1");
    hcg_tensor_free(got);
    hcg_tensor_free(ref);
    for (int i = 0; i < 3; i++) hcg_tensor_free(inputs[i]);
    hcg_graph_free(g[0]);
    hcg_graph_free(g[1]);
}

/* ---------------------------------------------------------------- sessions on several threads */

typedef struct thread_job {
    const char *dev;
    const hcg_graph *g;
    hcg_tensor **inputs;
    const hcg_tensor *want;
    int bad;
} thread_job;

static void *thread_runs(void *arg)
{
    thread_job *j = arg;
    for (int r = 0; r < 10; r++) {
        hcg_tensor *got = NULL;
        if (run_on(j->g, j->dev, j->inputs, &got) || got->nbytes != j->want->nbytes ||
            memcmp(got->data, j->want->data, got->nbytes) != 0)
            j->bad++;
        hcg_tensor_free(got);
    }
    return NULL;
}

/* Two threads run sessions of the same graph on one device at once (each session its own plan,
 * the device's queue, kernels and error buffer shared): every result equals a lone run's. */
static void threads_on(const char *dev)
{
    hcg_graph *g = hcg_graph_new();
    int64_t xd[2] = {64, 96}, idx_d[1] = {40};
    hcg_id x = hcg_input(g, "x", HCG_F32, 2, xd), idx = hcg_input(g, "idx", HCG_I64, 1, idx_d);
    hcg_id ins[2] = {hcg_softmax(g, hcg_add(g, x, x), -1), idx};
    hcg_output(g, hcg_add_node(g, HCG_OP_GATHER, "rows", ins, 2, NULL, 0), "y");
    hcg_tensor *inputs[2] = {NULL, NULL}, *want = NULL;
    make_input("f32[64,96]", &inputs[0]);
    make_input("i64{-64..63}[40]", &inputs[1]);
    if (CHECK_OK(run_on(g, dev, inputs, &want))) {
        pthread_t th[2];
        thread_job jobs[2] = {{dev, g, inputs, want, 0}, {dev, g, inputs, want, 0}};
        for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, thread_runs, &jobs[i]);
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        CHECK(jobs[0].bad == 0 && jobs[1].bad == 0, "%s: %d and %d of 10 concurrent runs differ or fail", dev,
              jobs[0].bad, jobs[1].bad);
    }
    hcg_tensor_free(want);
    hcg_tensor_free(inputs[0]);
    hcg_tensor_free(inputs[1]);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    filter = getenv("HCG_OCL_FILTER");
    int n_ocl = 0;
    char names[16][32];
    for (int i = 0; i < hcg_device_count(); i++) {
        hcg_device *d = hcg_device_get(i);
        if (strcmp(d->iface->name, "opencl") == 0 && n_ocl < 16) snprintf(names[n_ocl++], 32, "%s", d->name);
    }
    if (n_ocl == 0) {
        return tl_skip("no OpenCL device (%s)", hcg_device_notes());
    }
    gc_suite suite;
    bool have_golden = CHECK(gc_load(tl_src("tests/golden"), &suite), "loading the golden cases");
    for (int k = 0; k < n_ocl; k++) {
        const char *dev = names[k];
        hcg_device *d = hcg_device_find(dev);
        printf("%s: %s\n", dev, hcg_device_description(d));
#ifdef HCG_HAVE_OPENCL
        if (!filter) programs_on(d);
#endif
        if (have_golden) golden_on(dev, &suite);
        int before = tl_failed;
        int n_edge = 0;
        for (size_t i = 0; i < sizeof edge_cases / sizeof edge_cases[0]; i++) {
            if (!selected(edge_cases[i].label)) continue;
            edge_case_on(dev, &edge_cases[i]);
            n_edge++;
        }
        printf("%s: edge cases: %d run, %d checks failed\n", dev, n_edge, tl_failed - before);
        if (!filter) {
            bad_data_on(dev);
            threads_on(dev);
#ifdef HCG_HAVE_OPENCL
            generators_on(d);
#endif
        }
    }
    if (n_ocl >= 2 && !filter) multi_device(n_ocl);
#ifdef HCG_HAVE_OPENCL
    int builds = 0, loads = 0;
    hcg_opencl_stats(&builds, &loads);
    printf("programs: %d built, %d loaded from the cache (%d programs, %d devices)\n", builds, loads,
           hcg_cl_program_count, n_ocl);
    CHECK(builds + loads <= hcg_cl_program_count * n_ocl, "no program is built twice for a device");
#endif
    if (have_golden) gc_free(&suite);
    return tl_finish();
}
