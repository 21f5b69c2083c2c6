/* onnx_ops_shape.c — mappers for ONNX data movement and shape ops: Transpose, Reshape, Flatten,
 * Squeeze/Unsqueeze, Concat, Split (one hcg split node per output), Slice, Gather, Expand, Trilu,
 * Shape, Constant, ConstantOfShape and Range. Inputs that newer opsets use for what used to be
 * attributes are passed to hcg at the op's attribute-input position; hcg folds them to
 * attributes when the graph is bound. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/onnx/onnx_internal.h"

/* Checks that an attribute-like input (shape, axes, starts, ...) holds integers. */
static hcg_status int_input(onnx_ctx *c, int i, const onnx_value **out)
{
    hcg_status st = onnx_input(c, i, out);
    return st ? st : onnx_want_dtype(c, i, *out, ONNX_M_INT);
}

hcg_status onnx_map_transpose(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"perm", NULL};
    const onnx_value *x;
    const int64_t *perm;
    int n_perm;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_attr_ints(c, "perm", &perm, &n_perm)))
        return st;
    hcg_attr at = HCG_ATTR_IS("perm", perm, n_perm);
    hcg_id id = onnx_emit(c, HCG_OP_TRANSPOSE, n->output[0], NULL, &x->id, 1, &at, n_perm >= 0 ? 1 : 0);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_reshape(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"allowzero", NULL};
    const onnx_value *x, *shape;
    int64_t allowzero;
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 2)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = int_input(c, 1, &shape)) || (st = onnx_attr_int(c, "allowzero", 0, &allowzero)))
        return st;
    hcg_id in[2] = {x->id, shape->id};
    hcg_attr at = HCG_ATTR_I("allowzero", allowzero != 0);
    hcg_id id = onnx_emit(c, HCG_OP_RESHAPE, n->output[0], NULL, in, 2, &at, 1);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_flatten(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"axis", NULL};
    const onnx_value *x;
    int64_t axis;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_attr_int(c, "axis", 1, &axis)))
        return st;
    hcg_attr at = HCG_ATTR_I("axis", axis);
    hcg_id id = onnx_emit(c, HCG_OP_FLATTEN, n->output[0], NULL, &x->id, 1, &at, 1);
    return onnx_define(c, n->output[0], id, x->dtype);
}

/* Squeeze and Unsqueeze: axes is an attribute before opset 13, an input from 13 on. */
hcg_status onnx_map_squeeze(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known_attr[] = {"axes", NULL};
    const onnx_value *x, *axes_v;
    hcg_status st;
    bool unsqueeze = c->op->op == HCG_OP_UNSQUEEZE, axes_input = c->opset >= 13;
    if ((st = onnx_check_arity(c, 1, axes_input ? 2 : 1)) || (st = onnx_check_attrs(c, axes_input ? NULL : known_attr)) ||
        (st = onnx_input(c, 0, &x)))
        return st;
    hcg_id in[2] = {x->id, -1};
    int k = 1, n_at = 0;
    hcg_attr at;
    if (axes_input) {
        if (onnx_has_input(n, 1)) {
            if ((st = int_input(c, 1, &axes_v))) return st;
            in[1] = axes_v->id;
            k = 2;
        }
    } else {
        const int64_t *axes;
        int n_axes;
        if ((st = onnx_attr_ints(c, "axes", &axes, &n_axes))) return st;
        if (n_axes >= 0) {
            at = HCG_ATTR_IS("axes", axes, n_axes);
            n_at = 1;
        }
    }
    if (unsqueeze && k == 1 && n_at == 0) return onnx_node_fail(c, HCG_ERR_FORMAT, "axes are required");
    hcg_id id = onnx_emit(c, c->op->op, n->output[0], NULL, in, k, &at, n_at);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_concat(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"axis", NULL};
    const onnx_value *first, *v;
    int64_t axis;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, -1)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &first)) ||
        (st = onnx_attr_int(c, "axis", INT64_MIN, &axis)))
        return st;
    if (axis == INT64_MIN) return onnx_node_fail(c, HCG_ERR_FORMAT, "attribute 'axis' is required");
    int k = onnx_num_inputs(n);
    if (k > 4096) return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "%d inputs is too many", k);
    hcg_id in[4096];
    for (int i = 0; i < k; i++) {
        if ((st = onnx_input(c, i, &v))) return st;
        if (v->dtype != first->dtype)
            return onnx_node_fail(c, HCG_ERR_FORMAT, "input %d ('%s') has another dtype than input 0", i, v->name);
        in[i] = v->id;
    }
    hcg_attr at = HCG_ATTR_I("axis", axis);
    hcg_id id = onnx_emit(c, HCG_OP_CONCAT, n->output[0], NULL, in, k, &at, 1);
    return onnx_define(c, n->output[0], id, first->dtype);
}

/* Split: one hcg split node per output, each picking part `index`. The sizes come from the
 * 'split' attribute (opsets < 13), the 'split' input (13+) or equal parts (the output count, or
 * num_outputs from opset 18, where the last part may be smaller). */
hcg_status onnx_map_split(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known_old[] = {"axis", "split", NULL};
    static const char *const known_13[] = {"axis", NULL};
    static const char *const known_18[] = {"axis", "num_outputs", NULL};
    const onnx_value *x, *sizes_v = NULL;
    const int64_t *sizes = NULL;
    int n_sizes = -1;
    int64_t axis, num_outputs = -1;
    hcg_status st;
    bool sizes_input = c->opset >= 13;
    const char *const *known = c->opset >= 18 ? known_18 : sizes_input ? known_13 : known_old;
    int k = onnx_num_inputs(n);
    if (k < 1 || k > (sizes_input ? 2 : 1) || n->n_output < 1)
        return onnx_node_fail(c, HCG_ERR_FORMAT, "takes 1%s inputs and gives at least one output", sizes_input ? " or 2" : "");
    if (n->n_output > 4096) return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "%zu outputs is too many", n->n_output);
    if ((st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) || (st = onnx_attr_int(c, "axis", 0, &axis)))
        return st;
    if (sizes_input && onnx_has_input(n, 1) && (st = int_input(c, 1, &sizes_v))) return st;
    if (!sizes_input && (st = onnx_attr_ints(c, "split", &sizes, &n_sizes))) return st;
    if (c->opset >= 18 && (st = onnx_attr_int(c, "num_outputs", -1, &num_outputs))) return st;
    if (num_outputs >= 0 && (sizes_v || num_outputs != (int64_t)n->n_output))
        return onnx_node_fail(c, HCG_ERR_FORMAT, "num_outputs %lld must match the %zu outputs and exclude 'split'",
                              (long long)num_outputs, n->n_output);
    if (c->opset >= 18 && !sizes_v && num_outputs < 0)
        return onnx_node_fail(c, HCG_ERR_FORMAT, "needs the 'split' input or num_outputs");
    if (n_sizes >= 0 && n_sizes != (int)n->n_output)
        return onnx_node_fail(c, HCG_ERR_FORMAT, "'split' has %d sizes for %zu outputs", n_sizes, n->n_output);
    hcg_id in[2] = {x->id, sizes_v ? sizes_v->id : -1};
    for (size_t i = 0; i < n->n_output; i++) {
        const char *out = onnx_output(n, (int)i);
        if (!out) continue;
        hcg_attr at[3] = {HCG_ATTR_I("axis", axis), HCG_ATTR_I("index", (int64_t)i)};
        if (n_sizes > 0) at[2] = HCG_ATTR_IS("sizes", sizes, n_sizes);
        else at[2] = HCG_ATTR_I("parts", (int64_t)n->n_output);
        hcg_id id = onnx_emit(c, HCG_OP_SPLIT, out, NULL, in, sizes_v ? 2 : 1, at, sizes_v ? 2 : 3);
        if ((st = onnx_define(c, out, id, x->dtype))) return st;
    }
    return HCG_OK;
}

/* Slice: attributes starts/ends/axes before opset 10, inputs (data, starts, ends, axes?, steps?)
 * from 10 on. An absent axes before given steps becomes an empty list, which means 0..n-1. */
hcg_status onnx_map_slice(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *x, *v;
    hcg_status st;
    if (c->opset < 10) {
        static const char *const known[] = {"starts", "ends", "axes", NULL};
        const int64_t *starts, *ends, *axes;
        int ns, ne, na;
        if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
            (st = onnx_attr_ints(c, "starts", &starts, &ns)) || (st = onnx_attr_ints(c, "ends", &ends, &ne)) ||
            (st = onnx_attr_ints(c, "axes", &axes, &na)))
            return st;
        if (ns < 0 || ne < 0) return onnx_node_fail(c, HCG_ERR_FORMAT, "attributes 'starts' and 'ends' are required");
        hcg_attr at[3] = {HCG_ATTR_IS("starts", starts, ns), HCG_ATTR_IS("ends", ends, ne),
                          HCG_ATTR_IS("axes", axes, na < 0 ? 0 : na)};
        hcg_id id = onnx_emit(c, HCG_OP_SLICE, n->output[0], NULL, &x->id, 1, at, na >= 0 ? 3 : 2);
        return onnx_define(c, n->output[0], id, x->dtype);
    }
    if ((st = onnx_check_arity(c, 3, 5)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &x))) return st;
    int k = onnx_num_inputs(n);
    hcg_id in[5] = {x->id};
    for (int i = 1; i < k; i++) {
        if (!onnx_has_input(n, i)) { /* only axes (3) can be absent before a given input */
            if (i != 3) return onnx_node_fail(c, HCG_ERR_FORMAT, "input %d is required", i);
            in[i] = onnx_emit_i64s(c, "axes_default", NULL, 0);
            continue;
        }
        if ((st = int_input(c, i, &v))) return st;
        in[i] = v->id;
    }
    hcg_id id = onnx_emit(c, HCG_OP_SLICE, n->output[0], NULL, in, k, NULL, 0);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_gather(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"axis", NULL};
    const onnx_value *x, *idx;
    int64_t axis;
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 2)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = int_input(c, 1, &idx)) || (st = onnx_attr_int(c, "axis", 0, &axis)))
        return st;
    hcg_id in[2] = {x->id, idx->id};
    hcg_attr at = HCG_ATTR_I("axis", axis);
    hcg_id id = onnx_emit(c, HCG_OP_GATHER, n->output[0], NULL, in, 2, &at, 1);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_expand(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *x, *shape;
    hcg_status st;
    if ((st = onnx_check_arity(c, 2, 2)) || (st = onnx_check_attrs(c, NULL)) || (st = onnx_input(c, 0, &x)) ||
        (st = int_input(c, 1, &shape)))
        return st;
    hcg_id in[2] = {x->id, shape->id};
    hcg_id id = onnx_emit(c, HCG_OP_EXPAND, n->output[0], NULL, in, 2, NULL, 0);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_trilu(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"upper", NULL};
    const onnx_value *x, *k_v;
    int64_t upper;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 2)) || (st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) ||
        (st = onnx_attr_int(c, "upper", 1, &upper)))
        return st;
    hcg_id in[2] = {x->id, -1};
    int k = 1;
    if (onnx_has_input(n, 1)) {
        if ((st = int_input(c, 1, &k_v))) return st;
        in[1] = k_v->id;
        k = 2;
    }
    hcg_attr at = HCG_ATTR_I("upper", upper != 0);
    hcg_id id = onnx_emit(c, HCG_OP_TRILU, n->output[0], NULL, in, k, &at, 1);
    return onnx_define(c, n->output[0], id, x->dtype);
}

hcg_status onnx_map_shape(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"start", "end", NULL};
    const onnx_value *x;
    int64_t start, end;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, c->opset >= 15 ? known : NULL)) ||
        (st = onnx_input(c, 0, &x)) || (st = onnx_attr_int(c, "start", 0, &start)) ||
        (st = onnx_attr_int(c, "end", INT64_MAX, &end)))
        return st;
    hcg_attr at[2] = {HCG_ATTR_I("start", start), HCG_ATTR_I("end", end)};
    hcg_id id = onnx_emit(c, HCG_OP_SHAPE, n->output[0], NULL, &x->id, 1, at, 2);
    return onnx_define(c, n->output[0], id, HCG_I64);
}

/* ---------------------------------------------------------------- constants */

static double half_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v = exp == 0 ? ldexp(man, -24) : exp == 31 ? (man ? NAN : INFINITY) : ldexp(man | 0x400, exp - 25);
    return sign ? -v : v;
}

hcg_status onnx_map_constant(onnx_ctx *c, const Onnx__NodeProto *n)
{
    hcg_status st;
    if ((st = onnx_check_arity(c, 0, 0))) return st;
    if (n->n_attribute != 1) return onnx_node_fail(c, HCG_ERR_FORMAT, "needs exactly one value attribute");
    const Onnx__AttributeProto *a = n->attribute[0];
    const char *nm = a->name ? a->name : "";
    hcg_tensor *t = NULL;
    if (strcmp(nm, "value") == 0) {
        if (!a->t) return onnx_node_fail(c, HCG_ERR_FORMAT, "attribute 'value' must be TENSOR");
        if ((st = onnx_tensor_to_hcg(a->t, c->base_dir, true, n->output[0], &t)))
            return onnx_node_fail(c, st, "%s", hcg_last_error());
    } else if (strcmp(nm, "value_float") == 0 || strcmp(nm, "value_int") == 0) {
        bool is_float = nm[6] == 'f';
        double v = 0;
        int64_t iv = 0;
        if ((st = is_float ? onnx_attr_float(c, nm, 0, &v) : onnx_attr_int(c, nm, 0, &iv))) return st;
        hcg_shape s = hcg_shape_make(0, NULL);
        if ((st = hcg_tensor_new(is_float ? HCG_F32 : HCG_I64, &s, &t))) return st;
        if (is_float) *(float *)t->data = (float)v;
        else *(int64_t *)t->data = iv;
    } else if (strcmp(nm, "value_floats") == 0 || strcmp(nm, "value_ints") == 0) {
        bool is_float = nm[6] == 'f';
        int want = is_float ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        if (a->has_type && (int)a->type != want)
            return onnx_node_fail(c, HCG_ERR_FORMAT, "attribute '%s' has the wrong type", nm);
        int64_t len = is_float ? (int64_t)a->n_floats : (int64_t)a->n_ints;
        hcg_shape s = hcg_shape_make(1, &len);
        if ((st = hcg_tensor_new(is_float ? HCG_F32 : HCG_I64, &s, &t))) return st;
        if (len && is_float) memcpy(t->data, a->floats, sizeof(float) * (size_t)len);
        else if (len) memcpy(t->data, a->ints, sizeof(int64_t) * (size_t)len);
    } else {
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "a constant given by '%s' is not supported", nm);
    }
    hcg_dtype dt = t->dtype;
    hcg_id id = onnx_emit_const(c, n->output[0], NULL, t);
    return onnx_define(c, n->output[0], id, dt);
}

hcg_status onnx_map_constant_of_shape(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"value", NULL};
    const onnx_value *shape;
    hcg_status st;
    if ((st = onnx_check_arity(c, 1, 1)) || (st = onnx_check_attrs(c, known)) || (st = int_input(c, 0, &shape))) return st;
    const Onnx__AttributeProto *a = onnx_attr(n, "value");
    double value = 0;
    hcg_dtype dt = HCG_F32;
    if (a) {
        hcg_tensor *t;
        if (!a->t) return onnx_node_fail(c, HCG_ERR_FORMAT, "attribute 'value' must be TENSOR");
        if ((st = onnx_tensor_to_hcg(a->t, c->base_dir, false, "value", &t)))
            return onnx_node_fail(c, st, "%s", hcg_last_error());
        int64_t numel = 0;
        hcg_shape_numel(&t->shape, &numel);
        dt = t->dtype;
        if (numel == 1) {
            switch (dt) {
            case HCG_F32: value = *(const float *)t->data; break;
            case HCG_F16: value = half_to_double(*(const uint16_t *)t->data); break;
            case HCG_I32: value = *(const int32_t *)t->data; break;
            case HCG_I64:
                value = (double)*(const int64_t *)t->data;
                if ((int64_t)value != *(const int64_t *)t->data) numel = -1; /* not exact as a double */
                break;
            default: value = *(const uint8_t *)t->data; break;
            }
        }
        hcg_tensor_free(t);
        if (numel != 1)
            return onnx_node_fail(c, numel < 0 ? HCG_ERR_UNSUPPORTED : HCG_ERR_FORMAT,
                                  "attribute 'value' must hold one value%s", numel < 0 ? " exact as a double" : "");
    }
    hcg_attr at[2] = {HCG_ATTR_F("value", value), HCG_ATTR_S("dtype", hcg_dtype_name(dt))};
    hcg_id id = onnx_emit(c, HCG_OP_CONSTANT_OF_SHAPE, n->output[0], NULL, &shape->id, 1, at, 2);
    return onnx_define(c, n->output[0], id, dt);
}

hcg_status onnx_map_range(onnx_ctx *c, const Onnx__NodeProto *n)
{
    const onnx_value *v[3];
    hcg_status st;
    if ((st = onnx_check_arity(c, 3, 3)) || (st = onnx_check_attrs(c, NULL))) return st;
    hcg_id in[3];
    for (int i = 0; i < 3; i++) {
        if ((st = onnx_input(c, i, &v[i])) || (st = onnx_want_dtype(c, i, v[i], ONNX_M_NUM))) return st;
        if (v[i]->dtype != v[0]->dtype)
            return onnx_node_fail(c, HCG_ERR_FORMAT, "start, limit and delta must have one dtype");
        in[i] = v[i]->id;
    }
    hcg_attr at = HCG_ATTR_S("dtype", hcg_dtype_name(v[0]->dtype));
    hcg_id id = onnx_emit(c, HCG_OP_RANGE, n->output[0], NULL, in, 3, &at, 1);
    return onnx_define(c, n->output[0], id, v[0]->dtype);
}
