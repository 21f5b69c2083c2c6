/* op_shapes_quant.c — shape and cost rules of the quantization ops: dequantize and quantize (ONNX's
 * DequantizeLinear / QuantizeLinear: per tensor, per axis or per block), matmul_integer (ONNX's
 * MatMulInteger: int8 / uint8 operands with zero points, int32 result) and quant_matmul (the product
 * with an int8 weight and its scales that the rewrite passes make, fused_matmul's epilogue
 * included); the scale layouts (graph/quant.h) and the check of known scale values. The op table
 * (op_table.c) points here. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend/cpu/cpu.h" /* hcg_half_to_float */
#include "graph/op_rules.h"
#include "graph/quant.h"
#include "graph/half.h"

#define IN(i) (&g->nodes[n->inputs[(i)]])
#define M_F16 (1u << HCG_F16)
#define M_I8 (1u << HCG_I8)
#define M_U8 (1u << HCG_U8)
#define M_I32 (1u << HCG_I32)

static void fmt(const hcg_graph *g, const hcg_node *x, char *buf, size_t len)
{
    hcg_format_type(g, x->dtype, &x->shape, buf, len);
}

/* ---------------------------------------------------------------- layouts and scale values */

hcg_status hcg_qlayout_of(const hcg_graph *g, const hcg_node *n, const hcg_shape *x, const hcg_shape *scale,
                          hcg_qlayout *out)
{
    memset(out, 0, sizeof *out);
    int64_t numel = 1, block = hcg_attr_int(n, "block_size");
    hcg_shape_numel(scale, &numel);
    out->outer = out->dim = out->inner = 1;
    for (int i = 0; i < x->rank; i++) out->dim *= x->dims[i];
    char xs[256], ss[256];
    hcg_shape_format(x, xs, sizeof xs);
    hcg_shape_format(scale, ss, sizeof ss);
    if (block < 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "block_size must be 0 or positive, got %lld", (long long)block);
    if (block == 0 && scale->rank <= 1 && numel == 1) return HCG_OK; /* one scale for the tensor */
    int axis;
    if (!hcg_norm_axis(hcg_attr_int(n, "axis"), x->rank, &axis) || x->rank == 0)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "axis %lld is out of range for %s (scales %s)",
                              (long long)hcg_attr_int(n, "axis"), xs, ss);
    out->axis = axis;
    out->outer = 1;
    out->inner = 1;
    for (int i = 0; i < axis; i++) out->outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) out->inner *= x->dims[i];
    out->dim = x->dims[axis];
    if (block == 0) {
        if (scale->rank != 1 || scale->dims[0] != out->dim)
            return hcg_node_error(g, n, HCG_ERR_SHAPE,
                                  "scales %s fit neither one scale for the tensor nor one per index of axis %d of %s "
                                  "(a vector of %lld)", ss, axis, xs, (long long)out->dim);
        out->mode = HCG_Q_AXIS;
        return HCG_OK;
    }
    out->mode = HCG_Q_BLOCKED;
    out->block = block;
    out->blocks = (out->dim + block - 1) / block;
    bool fits = scale->rank == x->rank;
    for (int i = 0; fits && i < x->rank; i++) fits = scale->dims[i] == (i == axis ? out->blocks : x->dims[i]);
    if (!fits)
        return hcg_node_error(g, n, HCG_ERR_SHAPE,
                              "scales %s do not fit blocks of %lld along axis %d of %s: they must have its shape with "
                              "%lld (= ceil(%lld / %lld)) at axis %d", ss, (long long)block, axis, xs,
                              (long long)out->blocks, (long long)out->dim, (long long)block, axis);
    return HCG_OK;
}

float hcg_scale_at(const hcg_tensor *t, int64_t i)
{
    if (t->dtype == HCG_F16) return hcg_half_to_float(((const uint16_t *)t->data)[i]);
    return ((const float *)t->data)[i];
}

hcg_status hcg_check_scales(const hcg_graph *g, const hcg_node *n, const hcg_node *scale)
{
    const hcg_tensor *t = scale->value;
    int64_t numel = 0;
    if (!t || (t->dtype != HCG_F32 && t->dtype != HCG_F16) || !hcg_shape_numel(&t->shape, &numel)) return HCG_OK;
    for (int64_t i = 0; i < numel; i++) {
        float v = hcg_scale_at(t, i);
        if (!(isfinite(v) && v > 0))
            return hcg_node_error(g, n, HCG_ERR_SHAPE,
                                  "scale tensor '%s' holds %g at element %lld: scales must be finite and positive (a "
                                  "corrupt or mismatched scale tensor?)", scale->name, (double)v, (long long)i);
    }
    return HCG_OK;
}

/* The scale (input 1) and zero point (input 2, optional) of dequantize and quantize: dtypes,
 * shapes (the zero point's must be the scale's) and known values. */
static hcg_status check_scale_and_zero(const hcg_graph *g, hcg_node *n, const hcg_shape *x, hcg_qlayout *l)
{
    hcg_status st = hcg_rule_want_dtype(g, n, 1, HCG_M_F32 | M_F16);
    if (st || (st = hcg_qlayout_of(g, n, x, &IN(1)->shape, l)) || (st = hcg_check_scales(g, n, IN(1)))) return st;
    if (n->n_inputs > 2 && !hcg_shape_equal(&IN(2)->shape, &IN(1)->shape)) {
        char z[256], s[256];
        fmt(g, IN(2), z, sizeof z);
        fmt(g, IN(1), s, sizeof s);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "zero point '%s' (%s) must have the scale's shape (%s)", IN(2)->name,
                              z, s);
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- dequantize, quantize */

hcg_status hcg_infer_dequantize(const hcg_graph *g, hcg_node *n)
{
    hcg_qlayout l;
    hcg_status st = hcg_rule_want_dtype(g, n, 0, M_I8 | M_U8 | M_I32);
    if (st || (st = check_scale_and_zero(g, n, &IN(0)->shape, &l))) return st;
    if (n->n_inputs > 2 && IN(2)->dtype != IN(0)->dtype) {
        char z[256], x[256];
        fmt(g, IN(2), z, sizeof z);
        fmt(g, IN(0), x, sizeof x);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "zero point '%s' (%s) must have x's dtype (%s)", IN(2)->name, z, x);
    }
    n->dtype = HCG_F32;
    n->shape = IN(0)->shape;
    return HCG_OK;
}

hcg_status hcg_infer_quantize(const hcg_graph *g, hcg_node *n)
{
    hcg_qlayout l;
    hcg_status st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32);
    if (st || (st = check_scale_and_zero(g, n, &IN(0)->shape, &l))) return st;
    hcg_dtype to;
    const char *name = hcg_attr_string(n, "dtype");
    if (n->n_inputs > 2) {
        to = IN(2)->dtype;
        if (to != HCG_I8 && to != HCG_U8) return hcg_rule_want_dtype(g, n, 2, M_I8 | M_U8);
    } else if (!name || !hcg_dtype_parse(name, &to) || (to != HCG_I8 && to != HCG_U8)) {
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "dtype must be i8 or u8, got '%s'", name ? name : "");
    }
    n->dtype = to;
    n->shape = IN(0)->shape;
    return HCG_OK;
}

/* ---------------------------------------------------------------- matmul_integer */

/* A zero point of a matmul_integer operand: one value, or one per row of a ([M]) or per column of
 * b ([N]). */
static hcg_status check_mm_zero(const hcg_graph *g, hcg_node *n, int i, int operand, int64_t want)
{
    if (n->n_inputs <= i) return HCG_OK;
    const hcg_node *z = IN(i);
    int64_t numel = 0;
    hcg_shape_numel(&z->shape, &numel);
    char t[256], o[256];
    fmt(g, z, t, sizeof t);
    fmt(g, IN(operand), o, sizeof o);
    if (z->dtype != IN(operand)->dtype)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "zero point '%s' (%s) must have the dtype of '%s' (%s)", z->name, t,
                              IN(operand)->name, o);
    if ((z->shape.rank <= 1 && numel == 1) || (z->shape.rank == 1 && numel == want)) return HCG_OK;
    return hcg_node_error(g, n, HCG_ERR_SHAPE, "zero point '%s' (%s) must be one value or a vector of the %lld %s of '%s'",
                          z->name, t, (long long)want, operand == 0 ? "rows" : "columns", IN(operand)->name);
}

hcg_status hcg_infer_matmul_integer(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    hcg_shape out;
    if ((st = hcg_rule_want_dtype(g, n, 0, M_I8 | M_U8)) || (st = hcg_rule_want_dtype(g, n, 1, M_I8 | M_U8)) ||
        (st = hcg_rule_matmul_shape(g, n, &out)))
        return st;
    const hcg_shape *a = &IN(0)->shape, *b = &IN(1)->shape;
    int64_t m = a->rank >= 2 ? a->dims[a->rank - 2] : 1, cols = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if ((st = check_mm_zero(g, n, 2, 0, m)) || (st = check_mm_zero(g, n, 3, 1, cols))) return st;
    n->dtype = HCG_I32;
    n->shape = out;
    return HCG_OK;
}

/* ---------------------------------------------------------------- quant_matmul */

hcg_status hcg_infer_quant_matmul(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    hcg_shape out;
    if ((st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32)) || (st = hcg_rule_want_dtype(g, n, 1, M_I8)) ||
        (st = hcg_rule_want_dtype(g, n, 2, HCG_M_F32 | M_F16)))
        return st;
    const hcg_node *b = IN(1), *s = IN(2);
    char bt[256], stt[256];
    fmt(g, b, bt, sizeof bt);
    fmt(g, s, stt, sizeof stt);
    if (b->shape.rank != 2)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "the int8 weight '%s' (%s) must be a matrix", b->name, bt);
    if ((st = hcg_rule_matmul_shape(g, n, &out))) return st;
    bool tb = hcg_attr_int(n, "transpose_b") != 0;
    int64_t cols = b->shape.dims[tb ? 0 : 1], k = b->shape.dims[tb ? 1 : 0], block = hcg_attr_int(n, "block_size");
    if (block < 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "block_size must be 0 or positive, got %lld", (long long)block);
    if (block == 0 && (s->shape.rank != 1 || s->shape.dims[0] != cols))
        return hcg_node_error(g, n, HCG_ERR_SHAPE,
                              "scales '%s' (%s) must be one per output column of '%s' (%s): a vector of %lld", s->name,
                              stt, b->name, bt, (long long)cols);
    if (block > 0) {
        int64_t blocks = (k + block - 1) / block;
        int64_t want[2] = {tb ? cols : blocks, tb ? blocks : cols};
        if (s->shape.rank != 2 || s->shape.dims[0] != want[0] || s->shape.dims[1] != want[1])
            return hcg_node_error(g, n, HCG_ERR_SHAPE,
                                  "scales '%s' (%s) do not fit blocks of %lld along K = %lld of '%s' (%s): they must be "
                                  "[%lld, %lld]", s->name, stt, (long long)block, (long long)k, b->name, bt,
                                  (long long)want[0], (long long)want[1]);
    }
    if ((st = hcg_check_scales(g, n, s))) return st;
    const char *acts = hcg_attr_string(n, "activations");
    if (strcmp(acts, "f32") != 0 && strcmp(acts, "int8") != 0)
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "activations must be f32 or int8, got '%s'", acts);
    if (strcmp(acts, "int8") == 0 && (block > 0 || hcg_attr_int(n, "transpose_a")))
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "activations=int8 takes a untransposed and scales per output "
                              "column (block_size 0)");
    n->dtype = HCG_F32;
    n->shape = out;
    return hcg_rule_epilogue(g, n, 3);
}

void hcg_cost_quant_matmul(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    const hcg_shape *a = &IN(0)->shape, *b = &IN(1)->shape;
    bool ta = hcg_attr_int(n, "transpose_a") != 0;
    double k = a->rank == 1 ? (double)a->dims[0] : (double)a->dims[a->rank - (ta ? 2 : 1)];
    /* the product, and converting each weight once */
    *flops = 2.0 * hcg_rule_numel(n) * k + (double)b->dims[0] * (double)b->dims[1];
    *bytes = hcg_rule_io_bytes(g, n);
}
