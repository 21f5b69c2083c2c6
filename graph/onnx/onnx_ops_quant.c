/* onnx_ops_quant.c — mappers for ONNX's quantization ops, as ONNX Runtime's quantizer writes them:
 * DequantizeLinear and QuantizeLinear (hcg's dequantize / quantize: per tensor, per axis, per
 * block), MatMulInteger (matmul_integer; a zero point given only for b gets a zero one for a), and
 * DynamicQuantizeLinear, which has no op of its own in hcg: its scale and zero point are a few
 * ordinary nodes over the input's range, then quantize. The rewrite passes turn the weights of a
 * QDQ model (DequantizeLinear of an int8 initializer feeding MatMul) into quant_matmul. */
#include <stdio.h>
#include <string.h>

#include "graph/onnx/onnx_internal.h"

#define M_Q (ONNX_M_I8 | ONNX_M_U8)

/* Input i (a scale: FLOAT, or FLOAT16 from opset 19) and the optional zero point after it. */
static hcg_status scale_and_zero(onnx_ctx *c, const onnx_value *x, const onnx_value **s, const onnx_value **z,
                                 unsigned zero_mask)
{
    hcg_status st;
    const Onnx__NodeProto *n = c->node;
    *z = NULL;
    if ((st = onnx_input(c, 1, s)) || (st = onnx_want_dtype(c, 1, *s, ONNX_M_F32 | ONNX_M_F16))) return st;
    if (!onnx_has_input(n, 2)) return HCG_OK;
    if ((st = onnx_input(c, 2, z)) || (st = onnx_want_dtype(c, 2, *z, zero_mask))) return st;
    if (x && (*z)->dtype != x->dtype)
        return onnx_node_fail(c, HCG_ERR_FORMAT, "the zero point '%s' (%s) must have the dtype of '%s' (%s)", (*z)->name,
                              onnx_dtype_name(onnx_dtype_from_hcg((*z)->dtype)), x->name,
                              onnx_dtype_name(onnx_dtype_from_hcg(x->dtype)));
    return HCG_OK;
}

/* The axis and block_size attributes (axis from opset 13, block_size from 21; 0 means none). */
static hcg_status layout_attrs(onnx_ctx *c, hcg_attr at[2])
{
    int64_t axis, block;
    hcg_status st;
    if ((st = onnx_attr_int(c, "axis", 1, &axis)) || (st = onnx_attr_int(c, "block_size", 0, &block))) return st;
    at[0] = HCG_ATTR_I("axis", axis);
    at[1] = HCG_ATTR_I("block_size", block);
    return HCG_OK;
}

hcg_status onnx_map_dequantize_linear(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"axis", "block_size", NULL};
    const onnx_value *x, *s, *z;
    hcg_attr at[2];
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 3)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_want_dtype(c, 0, x, M_Q | ONNX_M_I32)) || (st = scale_and_zero(c, x, &s, &z, M_Q | ONNX_M_I32)) ||
        (st = layout_attrs(c, at)))
        return st;
    hcg_id in[3] = {x->id, s->id, z ? z->id : -1};
    /* The result has the scale's dtype: f32, or f16 (computed in f32, cast back). */
    hcg_id id = onnx_emit_out(c, HCG_OP_DEQUANTIZE, n->output[0], s->dtype, in, z ? 3 : 2, at, 2);
    return onnx_define(c, n->output[0], id, s->dtype);
}

hcg_status onnx_map_quantize_linear(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"axis", "block_size", "saturate", NULL};
    const onnx_value *x, *s, *z;
    hcg_attr at[3];
    hcg_status st;
    int64_t saturate;
    if ((st = onnx_check_arity(c, 2, 3)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_want_computable(c, 0, x, ONNX_M_F32)) || (st = scale_and_zero(c, NULL, &s, &z, M_Q)) ||
        (st = layout_attrs(c, at)) || (st = onnx_attr_int(c, "saturate", 1, &saturate)))
        return st;
    hcg_dtype to = z ? z->dtype : HCG_U8; /* ONNX: uint8 when no zero point gives the type */
    at[2] = HCG_ATTR_S("dtype", hcg_dtype_name(to));
    hcg_id in[3] = {onnx_compute_in(c, x), onnx_compute_in(c, s), z ? z->id : -1};
    hcg_id id = onnx_emit(c, HCG_OP_QUANTIZE, n->output[0], NULL, in, z ? 3 : 2, at, 3);
    return onnx_define(c, n->output[0], id, to);
}

hcg_status onnx_map_matmul_integer(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *v[4] = {NULL, NULL, NULL, NULL};
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 4)) || (st = onnx_check_attrs(c, NULL))) return st;
    hcg_id in[4];
    int k = onnx_num_inputs(n);
    for (int i = 0; i < 4; i++) {
        if (i >= 2 && !onnx_has_input(n, i)) continue;
        if ((st = onnx_input(c, i, &v[i])) || (st = onnx_want_dtype(c, i, v[i], M_Q))) return st;
        in[i] = v[i]->id;
    }
    if (k == 4 && !v[2]) /* MatMulInteger(a, b, '', zb): a's zero point is 0 */
        in[2] = onnx_emit_scalar(c, "a_zero_point", v[0]->dtype, 0);
    hcg_id id = onnx_emit(c, HCG_OP_MATMUL_INTEGER, n->output[0], NULL, in, k, NULL, 0);
    return onnx_define(c, n->output[0], id, HCG_I32);
}

/* y, y_scale, y_zero_point = DynamicQuantizeLinear(x): the range [min(x, 0), max(x, 0)] in 256
 * uint8 steps; y_zero_point = saturate(round(-min / y_scale)), y = saturate(round(x / y_scale) +
 * y_zero_point) (ONNX's definition; both roundings half to even). */
hcg_status onnx_map_dynamic_quantize_linear(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *x;
    hcg_status st;
    if (onnx_num_inputs(n) != 1 || n->n_output != 3)
        return onnx_node_fail(c, HCG_ERR_FORMAT, "takes 1 input and gives 3 outputs");
    if ((st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_want_computable(c, 0, x, ONNX_M_F32)))
        return st;
    hcg_attr all = HCG_ATTR_I("keepdims", 0), u8 = HCG_ATTR_S("dtype", "u8");
    hcg_id xin = onnx_compute_in(c, x), zero = onnx_emit_scalar(c, "zero", HCG_F32, 0);
    hcg_id hi = onnx_emit(c, HCG_OP_REDUCE_MAX, NULL, "max", &xin, 1, &all, 1);
    hcg_id nx = onnx_emit(c, HCG_OP_NEG, NULL, "neg", &xin, 1, NULL, 0);
    hcg_id nlo = onnx_emit(c, HCG_OP_REDUCE_MAX, NULL, "neg_min", &nx, 1, &all, 1); /* -min(x) */
    hcg_id in2[2] = {hi, zero};
    hi = onnx_emit(c, HCG_OP_MAX, NULL, "range_max", in2, 2, NULL, 0);
    in2[0] = nlo;
    nlo = onnx_emit(c, HCG_OP_MAX, NULL, "neg_range_min", in2, 2, NULL, 0); /* -min(min(x), 0) */
    in2[0] = hi;
    in2[1] = nlo;
    hcg_id range = onnx_emit(c, HCG_OP_ADD, NULL, "range", in2, 2, NULL, 0);
    in2[0] = range;
    in2[1] = onnx_emit_scalar(c, "steps", HCG_F32, 255);
    const char *out_scale = onnx_output(n, 1), *out_zero = onnx_output(n, 2), *out_y = onnx_output(n, 0);
    hcg_id scale = onnx_emit(c, HCG_OP_DIV, out_scale, "scale", in2, 2, NULL, 0);
    hcg_id zq[2] = {nlo, scale};
    hcg_id zp = onnx_emit(c, HCG_OP_QUANTIZE, out_zero, "zero_point", zq, 2, &u8, 1);
    hcg_id yq[3] = {xin, scale, zp};
    hcg_id y = onnx_emit(c, HCG_OP_QUANTIZE, out_y, "y", yq, 3, &u8, 1);
    if ((out_y && (st = onnx_define(c, out_y, y, HCG_U8))) || (out_scale && (st = onnx_define(c, out_scale, scale, HCG_F32))) ||
        (out_zero && (st = onnx_define(c, out_zero, zp, HCG_U8))))
        return st;
    return y < 0 ? (hcg_status)-y : HCG_OK;
}
