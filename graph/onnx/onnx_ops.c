/* onnx_ops.c — the ONNX op mapping table (op type -> mapper, oldest opset mapped, dtypes, which
 * inputs carry attributes), the dispatcher, and the mappers of elementwise ops: arithmetic,
 * comparisons, logic, unary math, variadic Min/Max/Sum, Pow, Where, Clip, Cast, Gelu, Identity
 * and Dropout (when it drops nothing). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/onnx/onnx_internal.h"

#define M_F32 ONNX_M_F32
#define M_NUM ONNX_M_NUM
#define M_BOOL ONNX_M_BOOL
#define M_ANY ONNX_M_ANY

/* ---------------------------------------------------------------- the table */

#define E(type, since, fn, hop, mask, attr_in) {type, since, fn, HCG_OP_##hop, mask, attr_in}

static const onnx_op_map op_maps[] = {
    /* Binary elementwise with numpy broadcasting (opset 7 introduced it). */
    E("Add", 7, onnx_map_elementwise, ADD, M_NUM, 0),
    E("Sub", 7, onnx_map_elementwise, SUB, M_NUM, 0),
    E("Mul", 7, onnx_map_elementwise, MUL, M_NUM, 0),
    E("Div", 7, onnx_map_elementwise, DIV, M_NUM, 0),
    E("Equal", 7, onnx_map_elementwise, EQUAL, M_NUM | M_BOOL | ONNX_M_U8, 0),
    E("Less", 7, onnx_map_elementwise, LESS, M_NUM, 0),
    E("Greater", 7, onnx_map_elementwise, GREATER, M_NUM, 0),
    E("And", 7, onnx_map_elementwise, AND, M_BOOL, 0),
    E("Or", 7, onnx_map_elementwise, OR, M_BOOL, 0),
    E("Pow", 7, onnx_map_pow, POW, M_F32, 0),
    E("Where", 9, onnx_map_where, WHERE, M_BOOL, 0),
    /* Unary (opset 6 dropped the legacy consumed_inputs attribute). */
    E("Sqrt", 6, onnx_map_unary, SQRT, M_F32, 0),
    E("Reciprocal", 6, onnx_map_unary, RECIPROCAL, M_F32, 0),
    E("Exp", 6, onnx_map_unary, EXP, M_F32, 0),
    E("Log", 6, onnx_map_unary, LOG, M_F32, 0),
    E("Tanh", 6, onnx_map_unary, TANH, M_F32, 0),
    E("Sigmoid", 6, onnx_map_unary, SIGMOID, M_F32, 0),
    E("Erf", 9, onnx_map_unary, ERF, M_F32, 0),
    E("Neg", 6, onnx_map_unary, NEG, M_NUM, 0),
    E("Relu", 6, onnx_map_unary, RELU, M_NUM, 0),
    E("Abs", 6, onnx_map_unary, ABS, M_NUM, 0),
    E("Not", 1, onnx_map_unary, NOT, M_BOOL, 0),
    E("Gelu", 20, onnx_map_gelu, GELU, M_F32, 0),
    /* Variadic, as chains of binary nodes (opset 8 added broadcasting). */
    E("Min", 8, onnx_map_variadic, MIN, M_NUM, 0),
    E("Max", 8, onnx_map_variadic, MAX, M_NUM, 0),
    E("Sum", 8, onnx_map_variadic, ADD, M_NUM, 0),
    E("Clip", 6, onnx_map_clip, CLIP, M_NUM, 0x6),
    E("Cast", 6, onnx_map_cast, CAST, M_ANY, 0),
    E("Identity", 1, onnx_map_identity, INPUT, M_ANY, 0),
    E("Dropout", 7, onnx_map_dropout, INPUT, M_ANY, 0x6),
    /* Linear algebra, normalisation, reductions (onnx_ops_nn.c). */
    E("MatMul", 1, onnx_map_matmul, MATMUL, M_F32, 0),
    E("Gemm", 7, onnx_map_gemm, GEMM, M_F32, 0),
    E("Softmax", 1, onnx_map_softmax, SOFTMAX, M_F32, 0),
    E("LogSoftmax", 1, onnx_map_softmax, LOG_SOFTMAX, M_F32, 0),
    E("LayerNormalization", 17, onnx_map_layer_norm, LAYER_NORM, M_F32, 0),
    E("ReduceMean", 1, onnx_map_reduce, REDUCE_MEAN, M_F32, 0x2),
    E("ReduceSum", 1, onnx_map_reduce, REDUCE_SUM, M_NUM, 0x2),
    E("ReduceMax", 1, onnx_map_reduce, REDUCE_MAX, M_NUM, 0x2),
    E("ReduceProd", 1, onnx_map_reduce, REDUCE_PROD, M_NUM, 0x2),
    E("ReduceL1", 1, onnx_map_reduce_composite, REDUCE_SUM, M_NUM, 0x2),
    E("ReduceL2", 1, onnx_map_reduce_composite, REDUCE_SUM, M_F32, 0x2),
    E("ReduceSumSquare", 1, onnx_map_reduce_composite, REDUCE_SUM, M_NUM, 0x2),
    E("ReduceLogSumExp", 1, onnx_map_reduce_composite, REDUCE_SUM, M_F32, 0x2),
    E("ReduceLogSum", 1, onnx_map_reduce_composite, REDUCE_SUM, M_F32, 0x2),
    /* Data movement and shapes (onnx_ops_shape.c). */
    E("Transpose", 1, onnx_map_transpose, TRANSPOSE, M_ANY, 0),
    E("Reshape", 5, onnx_map_reshape, RESHAPE, M_ANY, 0x2),
    E("Flatten", 1, onnx_map_flatten, FLATTEN, M_ANY, 0),
    E("Squeeze", 1, onnx_map_squeeze, SQUEEZE, M_ANY, 0x2),
    E("Unsqueeze", 1, onnx_map_squeeze, UNSQUEEZE, M_ANY, 0x2),
    E("Concat", 4, onnx_map_concat, CONCAT, M_ANY, 0),
    E("Split", 2, onnx_map_split, SPLIT, M_ANY, 0x2),
    E("Slice", 1, onnx_map_slice, SLICE, M_ANY, 0x1e),
    E("Gather", 1, onnx_map_gather, GATHER, M_ANY, 0),
    E("Expand", 8, onnx_map_expand, EXPAND, M_ANY, 0x2),
    E("Trilu", 14, onnx_map_trilu, TRILU, M_ANY, 0x2),
    E("Shape", 1, onnx_map_shape, SHAPE, M_ANY, 0),
    E("Constant", 1, onnx_map_constant, CONSTANT, M_ANY, 0),
    E("ConstantOfShape", 9, onnx_map_constant_of_shape, CONSTANT_OF_SHAPE, M_ANY, 0x1),
    E("Range", 11, onnx_map_range, RANGE, M_NUM, 0x7),
    /* Quantization, as ONNX Runtime's quantizer writes it (onnx_ops_quant.c). */
    E("DequantizeLinear", 10, onnx_map_dequantize_linear, DEQUANTIZE, ONNX_M_I8 | ONNX_M_U8 | ONNX_M_I32, 0),
    E("QuantizeLinear", 10, onnx_map_quantize_linear, QUANTIZE, M_F32, 0),
    E("MatMulInteger", 10, onnx_map_matmul_integer, MATMUL_INTEGER, ONNX_M_I8 | ONNX_M_U8, 0),
    E("DynamicQuantizeLinear", 11, onnx_map_dynamic_quantize_linear, QUANTIZE, M_F32, 0),
    /* Training losses (onnx_ops_loss.c). */
    E("SoftmaxCrossEntropyLoss", 12, onnx_map_class_loss, SOFTMAX_CROSS_ENTROPY, M_F32, 0),
    E("NegativeLogLikelihoodLoss", 12, onnx_map_class_loss, NLL_LOSS, M_F32, 0),
};
#undef E

const onnx_op_map *onnx_find_op(const char *op_type)
{
    if (!op_type) return NULL;
    for (size_t i = 0; i < sizeof op_maps / sizeof op_maps[0]; i++)
        if (strcmp(op_maps[i].op_type, op_type) == 0) return &op_maps[i];
    return NULL;
}

bool hcg_onnx_op_mapped(const char *op_type) { return onnx_find_op(op_type) != NULL; }

bool hcg_onnx_is_attr_input(const char *op_type, int index)
{
    const onnx_op_map *m = onnx_find_op(op_type);
    return m && index >= 0 && index < 32 && ((m->attr_inputs >> index) & 1u);
}

hcg_status onnx_map_node(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const char *domain = n->domain ? n->domain : "";
    if (!n->op_type || !*n->op_type) return onnx_node_fail(c, HCG_ERR_FORMAT, "the node has no op_type");
    if (*domain && strcmp(domain, "ai.onnx") != 0)
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "op '%s' of domain '%s' is not supported by hcg", n->op_type,
                              domain);
    if (c->opset < 0) return onnx_node_fail(c, HCG_ERR_FORMAT, "the model imports no default-domain (ai.onnx) opset");
    const onnx_op_map *m = onnx_find_op(n->op_type);
    if (!m) return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "op '%s' is not supported by hcg", n->op_type);
    if (c->opset < m->min_opset)
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "hcg maps %s from opset %d on", n->op_type, m->min_opset);
    c->op = m;
    return m->map(c, n);
}

/* ---------------------------------------------------------------- shared checks */

static hcg_status same_dtype(onnx_ctx *c, int i, const onnx_value *a, const onnx_value *b)
{
    if (a->dtype == b->dtype) return HCG_OK;
    return onnx_node_fail(c, HCG_ERR_FORMAT, "input %d ('%s', %s) must have the dtype of '%s' (%s)", i, b->name,
                          onnx_dtype_name(onnx_dtype_from_hcg(b->dtype)), a->name,
                          onnx_dtype_name(onnx_dtype_from_hcg(a->dtype)));
}

static bool is_comparison(hcg_op op) { return op == HCG_OP_EQUAL || op == HCG_OP_LESS || op == HCG_OP_GREATER; }

/* ---------------------------------------------------------------- mappers */

hcg_status onnx_map_elementwise(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *a, *b;
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 2)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &a)) ||
        (st = onnx_input(c, 1, &b)) || (st = onnx_want_computable(c, 0, a, c->op->dtypes)) || (st = same_dtype(c, 1, a, b)))
        return st;
    hcg_id in[2] = {onnx_compute_in(c, a), onnx_compute_in(c, b)};
    hcg_dtype dt = is_comparison(c->op->op) ? HCG_BOOL : a->dtype;
    hcg_id id = onnx_emit_out(c, c->op->op, n->output[0], dt, in, 2, NULL, 0);
    return onnx_define(c, n->output[0], id, dt);
}

hcg_status onnx_map_unary(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *x;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_want_computable(c, 0, x, c->op->dtypes)))
        return st;
    hcg_id in = onnx_compute_in(c, x);
    hcg_id id = onnx_emit_out(c, c->op->op, n->output[0], x->dtype, &in, 1, NULL, 0);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_gelu(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"approximate", NULL};
    const onnx_value *x;
    char approx[16];
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_want_computable(c, 0, x, M_F32)) || (st = onnx_attr_string(c, "approximate", "none", approx, sizeof approx)))
        return st;
    if (strcmp(approx, "none") != 0 && strcmp(approx, "tanh") != 0)
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "approximate='%s' is not supported (none, tanh)", approx);
    hcg_attr at = HCG_ATTR_S("approximate", approx);
    hcg_id in = onnx_compute_in(c, x);
    hcg_id id = onnx_emit_out(c, HCG_OP_GELU, n->output[0], x->dtype, &in, 1, &at, 1);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_variadic(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *first, *v;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, -1)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &first)) ||
        (st = onnx_want_computable(c, 0, first, c->op->dtypes)))
        return st;
    int k = onnx_num_inputs(n);
    /* One input: the result is that input (an alias, no node). */
    if (k == 1) return onnx_define(c, n->output[0], first->id, first->dtype);
    hcg_id acc = onnx_compute_in(c, first);
    for (int i = 1; i < k; i++) {
        if ((st = onnx_input(c, i, &v)) || (st = same_dtype(c, i, first, v))) return st;
        hcg_id in[2] = {acc, onnx_compute_in(c, v)};
        if (i < k - 1) acc = onnx_emit(c, c->op->op, NULL, NULL, in, 2, NULL, 0);
        else acc = onnx_emit_out(c, c->op->op, n->output[0], first->dtype, in, 2, NULL, 0);
        if (acc < 0) return (hcg_status)-acc;
    }
    return onnx_define(c, n->output[0], acc, first->dtype);
}

hcg_status onnx_map_pow(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *x, *y;
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 2)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_input(c, 1, &y)) || (st = onnx_want_computable(c, 0, x, M_F32)) || (st = onnx_want_computable(c, 1, y, M_NUM)))
        return st;
    hcg_id exponent;
    if (y->dtype != HCG_F32 && y->dtype != HCG_F16) { /* ONNX allows integer exponents of a float base (opset 12+) */
        hcg_attr to = HCG_ATTR_S("to", "f32");
        exponent = onnx_emit(c, HCG_OP_CAST, NULL, "exponent_f32", &y->id, 1, &to, 1);
    } else {
        exponent = onnx_compute_in(c, y);
    }
    hcg_id in[2] = {onnx_compute_in(c, x), exponent};
    hcg_id id = onnx_emit_out(c, HCG_OP_POW, n->output[0], x->dtype, in, 2, NULL, 0);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_where(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *cond, *x, *y;
    hcg_status st;
    if ((st = onnx_check_arity(c, 3, 3)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &cond)) ||
        (st = onnx_input(c, 1, &x)) || (st = onnx_input(c, 2, &y)) || (st = onnx_want_dtype(c, 0, cond, M_BOOL)) ||
        (st = same_dtype(c, 2, x, y)))
        return st;
    hcg_id in[3] = {cond->id, x->id, y->id};
    hcg_id id = onnx_emit(c, HCG_OP_WHERE, n->output[0], NULL, in, 3, NULL, 0);
    return onnx_define(c, n->output[0], id, x->dtype);
}

/* The lowest value of a dtype, standing in for an absent Clip min. */
static double lowest(hcg_dtype dt)
{
    switch (dt) {
    case HCG_I32: return (double)INT32_MIN;
    case HCG_I64: return (double)INT64_MIN;
    default: return -INFINITY;
    }
}

hcg_status onnx_map_clip(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *x, *lo = NULL, *hi = NULL;
    hcg_status st;
    if (c->opset < 11) { /* min and max are attributes */
        static const char *const known[] = {"min", "max", NULL};
        double vmin, vmax;
        if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
            (st = onnx_want_computable(c, 0, x, M_F32)) || (st = onnx_attr_float(c, "min", -INFINITY, &vmin)) ||
            (st = onnx_attr_float(c, "max", INFINITY, &vmax)))
            return st;
        hcg_attr at[2] = {HCG_ATTR_F("min", vmin), HCG_ATTR_F("max", vmax)};
        hcg_id in = onnx_compute_in(c, x);
        hcg_id id = onnx_emit_out(c, HCG_OP_CLIP, n->output[0], x->dtype, &in, 1, at, 2);
        return onnx_define(c, n->output[0], id, x->dtype);
    }
    if ((st = onnx_check_arity(c, 1, 3)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_want_computable(c, 0, x, M_NUM)))
        return st;
    if (onnx_has_input(n, 1) && ((st = onnx_input(c, 1, &lo)) || (st = same_dtype(c, 1, x, lo)))) return st;
    if (onnx_has_input(n, 2) && ((st = onnx_input(c, 2, &hi)) || (st = same_dtype(c, 2, x, hi)))) return st;
    hcg_id in[3] = {onnx_compute_in(c, x), lo ? onnx_compute_in(c, lo) : -1, hi ? onnx_compute_in(c, hi) : -1};
    int k = hi ? 3 : lo ? 2 : 1;
    hcg_dtype compute = onnx_compute_dtype(x->dtype);
    if (hi && !lo) /* Clip(x, '', max): the default min takes the empty slot */
        in[1] = onnx_emit_scalar(c, "min_default", compute, lowest(compute));
    hcg_id id = onnx_emit_out(c, HCG_OP_CLIP, n->output[0], x->dtype, in, k, NULL, 0);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_cast(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"to", "saturate", NULL};
    const onnx_value *x;
    int64_t to;
    hcg_dtype dt;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_attr_int(c, "to", -1, &to)))
        return st;
    if (to < 0) return onnx_node_fail(c, HCG_ERR_FORMAT, "attribute 'to' is required");
    if (to > INT32_MAX || !onnx_dtype_to_hcg((int32_t)to, false, &dt))
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "casting to %s is not supported",
                              onnx_dtype_name(to > INT32_MAX ? -1 : (int32_t)to));
    hcg_attr at = HCG_ATTR_S("to", hcg_dtype_name(dt));
    hcg_id id = onnx_emit(c, HCG_OP_CAST, n->output[0], NULL, &x->id, 1, &at, 1);
    return onnx_define(c, n->output[0], id, dt);
}

hcg_status onnx_map_identity(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *x;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &x))) return st;
    return onnx_define(c, n->output[0], x->id, x->dtype); /* an alias: no node */
}

/* Dropout that drops nothing: at inference (training_mode false, the default) or with ratio 0 (a
 * model exported for training with dropout off) it is the identity; its optional mask output is
 * all true. Dropping with a ratio > 0 while training is not supported. */
hcg_status onnx_map_dropout(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"ratio", "seed", NULL};
    const onnx_value *x, *mode, *ratio_v;
    hcg_status st;
    if ((st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x))) return st;
    if (onnx_num_inputs(n) > 3 || n->n_output < 1 || n->n_output > 2 || !onnx_output(n, 0))
        return onnx_node_fail(c, HCG_ERR_FORMAT, "takes 1 to 3 inputs and gives 1 or 2 outputs");
    if (onnx_has_input(n, 2)) {
        if ((st = onnx_input(c, 2, &mode))) return st;
        const hcg_tensor *t = onnx_const_value(c, mode);
        if (!t || t->dtype != HCG_BOOL || t->nbytes != 1)
            return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "training_mode must be a constant");
        double ratio = 0.5; /* the default (opset 12+), and an opset 7 attribute's */
        if (onnx_has_input(n, 1)) {
            if ((st = onnx_input(c, 1, &ratio_v))) return st;
            const hcg_tensor *r = onnx_const_value(c, ratio_v);
            if (!r || r->nbytes != sizeof(float) || r->dtype != HCG_F32)
                return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "ratio must be a constant f32 scalar");
            ratio = *(const float *)r->data;
        }
        if (((const uint8_t *)t->data)[0] && ratio != 0)
            return onnx_node_fail(c, HCG_ERR_UNSUPPORTED,
                                  "dropout with ratio %g in training mode is not supported (export with ratio 0 or in eval mode)",
                                  ratio);
    }
    if ((st = onnx_define(c, n->output[0], x->id, x->dtype))) return st;
    const char *mask = onnx_output(n, 1);
    if (!mask) return HCG_OK;
    hcg_id shape = onnx_emit(c, HCG_OP_SHAPE, NULL, "shape", &x->id, 1, NULL, 0);
    hcg_attr at[2] = {HCG_ATTR_F("value", 1), HCG_ATTR_S("dtype", "bool")};
    hcg_id id = onnx_emit(c, HCG_OP_CONSTANT_OF_SHAPE, mask, NULL, &shape, 1, at, 2);
    return onnx_define(c, mask, id, HCG_BOOL);
}
