/* onnx_emit.c — the helpers every op mapper uses: a node's inputs and outputs, its attributes
 * read with type checks, dtype checks that say what hcg lacks, and emitting hcg nodes and
 * constants under names that never clash with the model's own value names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/onnx/onnx_internal.h"

/* ---------------------------------------------------------------- inputs and outputs */

int onnx_num_inputs(const Onnx__NodeProto *n)
{
    int k = (int)n->n_input;
    while (k > 0 && !*n->input[k - 1]) k--;
    return k;
}

bool onnx_has_input(const Onnx__NodeProto *n, int i) { return i >= 0 && (size_t)i < n->n_input && *n->input[i]; }

const char *onnx_output(const Onnx__NodeProto *n, int i)
{
    return i >= 0 && (size_t)i < n->n_output && *n->output[i] ? n->output[i] : NULL;
}

hcg_status onnx_input(onnx_ctx *c, int i, const onnx_value **out)
{
    const Onnx__NodeProto *n = c->node;
    *out = NULL;
    if (!onnx_has_input(n, i)) return onnx_node_fail(c, HCG_ERR_FORMAT, "input %d is required but not given", i);
    const onnx_value *v = onnx_lookup(c, n->input[i]);
    if (!v) return onnx_node_fail(c, HCG_ERR_GRAPH, "input %d '%s' is not defined", i, n->input[i]);
    *out = v;
    return HCG_OK;
}

static void mask_names(unsigned mask, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < HCG_DTYPE_COUNT; d++) {
        if (!(mask & (1u << d))) continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", onnx_dtype_name(onnx_dtype_from_hcg(d)));
        if (w > 0 && (size_t)w < len - used) used += (size_t)w;
    }
}

hcg_status onnx_want_dtype(onnx_ctx *c, int i, const onnx_value *v, unsigned mask)
{
    if (mask & (1u << v->dtype)) return HCG_OK;
    char allowed[128];
    mask_names(mask, allowed, sizeof allowed);
    return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "input %d ('%s') is %s; hcg maps %s on %s only", i, v->name,
                          onnx_dtype_name(onnx_dtype_from_hcg(v->dtype)), c->node->op_type, allowed);
}

hcg_dtype onnx_compute_dtype(hcg_dtype t)
{
    return t == HCG_F16 ? HCG_F32 : t == HCG_U8 || t == HCG_I8 ? HCG_I32 : t;
}

hcg_status onnx_want_computable(onnx_ctx *c, int i, const onnx_value *v, unsigned mask)
{
    if (mask & ONNX_M_F32) mask |= ONNX_M_F16;
    if (mask & ONNX_M_I32) mask |= ONNX_M_U8 | ONNX_M_I8;
    return onnx_want_dtype(c, i, v, mask);
}

hcg_id onnx_compute_in(onnx_ctx *c, const onnx_value *v)
{
    hcg_dtype to = onnx_compute_dtype(v->dtype);
    if (to == v->dtype) return v->id;
    char hint[300];
    snprintf(hint, sizeof hint, "%s_%s", v->name, hcg_dtype_name(to));
    for (char *p = hint; *p; p++) /* the hint is one path component of a made-up name */
        if (*p == '/') *p = '_';
    hcg_attr at = HCG_ATTR_S("to", hcg_dtype_name(to));
    return onnx_emit(c, HCG_OP_CAST, NULL, hint, &v->id, 1, &at, 1);
}

hcg_id onnx_emit_out(onnx_ctx *c, hcg_op op, const char *out, hcg_dtype result, const hcg_id *inputs, int n_inputs,
                     const hcg_attr *attrs, int n_attrs)
{
    hcg_dtype computed = onnx_compute_dtype(result);
    if (computed == result) return onnx_emit(c, op, out, NULL, inputs, n_inputs, attrs, n_attrs);
    hcg_id y = onnx_emit(c, op, NULL, hcg_dtype_name(computed), inputs, n_inputs, attrs, n_attrs);
    hcg_attr to = HCG_ATTR_S("to", hcg_dtype_name(result));
    return onnx_emit(c, HCG_OP_CAST, out, NULL, &y, 1, &to, 1);
}

hcg_id onnx_cast_back(onnx_ctx *c, const char *out, hcg_dtype result, hcg_id y)
{
    if (y < 0 || onnx_compute_dtype(result) == result) return y;
    hcg_attr to = HCG_ATTR_S("to", hcg_dtype_name(result));
    return onnx_emit(c, HCG_OP_CAST, out, NULL, &y, 1, &to, 1);
}

const hcg_tensor *onnx_const_value(const onnx_ctx *c, const onnx_value *v)
{
    const hcg_node *nd = hcg_graph_node(c->g, v->id);
    return nd->op == HCG_OP_CONSTANT || nd->op == HCG_OP_PARAM ? nd->value : NULL;
}

hcg_status onnx_check_arity(onnx_ctx *c, int lo, int hi)
{
    const Onnx__NodeProto *n = c->node;
    int k = onnx_num_inputs(n);
    if (k < lo || (hi >= 0 && k > hi)) {
        if (lo == hi) return onnx_node_fail(c, HCG_ERR_FORMAT, "takes %d input%s, got %d", lo, lo == 1 ? "" : "s", k);
        if (hi < 0) return onnx_node_fail(c, HCG_ERR_FORMAT, "takes at least %d inputs, got %d", lo, k);
        return onnx_node_fail(c, HCG_ERR_FORMAT, "takes %d to %d inputs, got %d", lo, hi, k);
    }
    if (!onnx_output(n, 0)) return onnx_node_fail(c, HCG_ERR_FORMAT, "has no output");
    for (size_t i = 1; i < n->n_output; i++)
        if (*n->output[i]) return onnx_node_fail(c, HCG_ERR_FORMAT, "has %zu outputs, the op has one", n->n_output);
    return HCG_OK;
}

/* ---------------------------------------------------------------- attributes */

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0) return n->attribute[i];
    return NULL;
}

static const char *attr_type_name(int t)
{
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "FLOAT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "INT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "STRING";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "GRAPH";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "FLOATS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "INTS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "STRINGS";
    default: return "another type";
    }
}

/* The attribute's type: its type field, or (IR version 1 files) the field that is set. */
static int attr_type(const Onnx__AttributeProto *a)
{
    if (a->has_type) return (int)a->type;
    if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

/* Finds attribute name and checks its type; *out NULL when absent. */
static hcg_status typed_attr(onnx_ctx *c, const char *name, int want, const Onnx__AttributeProto **out)
{
    const Onnx__AttributeProto *a = onnx_attr(c->node, name);
    *out = NULL;
    if (!a) return HCG_OK;
    if (a->ref_attr_name && *a->ref_attr_name)
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "attribute '%s' refers to a function attribute", name);
    int t = attr_type(a);
    if (t != want)
        return onnx_node_fail(c, HCG_ERR_FORMAT, "attribute '%s' must be %s, got %s", name, attr_type_name(want),
                              attr_type_name(t));
    *out = a;
    return HCG_OK;
}

hcg_status onnx_attr_int(onnx_ctx *c, const char *name, int64_t def, int64_t *out)
{
    const Onnx__AttributeProto *a;
    hcg_status st = typed_attr(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, &a);
    *out = a ? a->i : def;
    return st;
}

hcg_status onnx_attr_float(onnx_ctx *c, const char *name, double def, double *out)
{
    const Onnx__AttributeProto *a;
    hcg_status st = typed_attr(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, &a);
    *out = a ? (double)a->f : def;
    return st;
}

hcg_status onnx_attr_string(onnx_ctx *c, const char *name, const char *def, char *buf, size_t len)
{
    const Onnx__AttributeProto *a;
    hcg_status st = typed_attr(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, &a);
    if (st) return st;
    if (!a) {
        snprintf(buf, len, "%s", def);
        return HCG_OK;
    }
    if (a->s.len >= len || (a->s.len && memchr(a->s.data, 0, a->s.len)))
        return onnx_node_fail(c, HCG_ERR_FORMAT, "attribute '%s' is too long or holds a NUL byte", name);
    if (a->s.len) memcpy(buf, a->s.data, a->s.len);
    buf[a->s.len] = '\0';
    return HCG_OK;
}

hcg_status onnx_attr_ints(onnx_ctx *c, const char *name, const int64_t **ints, int *n)
{
    const Onnx__AttributeProto *a;
    hcg_status st = typed_attr(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, &a);
    *ints = NULL;
    *n = -1;
    if (st || !a) return st;
    if (a->n_ints > 1024)
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "attribute '%s' has %zu entries", name, a->n_ints);
    *ints = a->ints;
    *n = (int)a->n_ints;
    return HCG_OK;
}

hcg_status onnx_check_attrs(onnx_ctx *c, const char *const *known)
{
    const Onnx__NodeProto *n = c->node;
    for (size_t i = 0; i < n->n_attribute; i++) {
        const char *nm = n->attribute[i]->name ? n->attribute[i]->name : "";
        bool ok = false;
        for (int k = 0; known && known[k] && !ok; k++) ok = strcmp(known[k], nm) == 0;
        if (!ok) return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "attribute '%s' is not supported", nm);
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- names and nodes */

hcg_status onnx_unique_name(const onnx_ctx *c, const char *base, const char *hint, char *buf, size_t len)
{
    for (int k = 0; k < 1000000; k++) {
        int w = k ? snprintf(buf, len, "%s/%s_%d", base, hint, k) : snprintf(buf, len, "%s/%s", base, hint);
        if (w < 0 || (size_t)w >= len) return hcg_error(HCG_ERR_FORMAT, "%s: value name '%s' is too long", c->label, base);
        if (hcg_graph_find(c->g, buf) < 0 && hcg_strmap_get(&c->reserved, buf) < 0) return HCG_OK;
    }
    return hcg_error(HCG_ERR_INTERNAL, "%s: no free name for '%s/%s'", c->label, base, hint);
}

/* The base of made-up names: the node's first output, else its op type. */
static const char *name_base(const onnx_ctx *c)
{
    const Onnx__NodeProto *n = c->node;
    if (n && onnx_output(n, 0)) return n->output[0];
    return n && n->op_type ? n->op_type : "onnx";
}

hcg_id onnx_emit(onnx_ctx *c, hcg_op op, const char *name, const char *hint, const hcg_id *inputs, int n_inputs,
                 const hcg_attr *attrs, int n_attrs)
{
    char buf[1100];
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] < 0) return inputs[i];
    if (!name) {
        hcg_status st = onnx_unique_name(c, name_base(c), hint ? hint : hcg_op_name(op), buf, sizeof buf);
        if (st) return -st;
        name = buf;
    }
    hcg_id id = hcg_add_node(c->g, op, name, inputs, n_inputs, attrs, n_attrs);
    if (id < 0) return -onnx_node_fail(c, (hcg_status)-id, "%s", hcg_last_error());
    return id;
}

hcg_id onnx_emit_const(onnx_ctx *c, const char *name, const char *hint, hcg_tensor *t)
{
    char buf[1100];
    if (!t) return -HCG_ERR_NOMEM;
    if (!name) {
        hcg_status st = onnx_unique_name(c, name_base(c), hint ? hint : "const", buf, sizeof buf);
        if (st) {
            hcg_tensor_free(t);
            return -st;
        }
        name = buf;
    }
    hcg_id id = hcg_constant(c->g, name, t);
    if (id < 0) return -onnx_node_fail(c, (hcg_status)-id, "%s", hcg_last_error());
    return id;
}

/* Stores v as element i of t (converted to t's dtype). */
static void store(hcg_tensor *t, int64_t i, double v)
{
    switch (t->dtype) {
    case HCG_F32: ((float *)t->data)[i] = (float)v; break;
    case HCG_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case HCG_I64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    case HCG_U8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case HCG_I8: ((int8_t *)t->data)[i] = (int8_t)v; break;
    case HCG_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    default: break; /* f16 constants are never made up */
    }
}

hcg_id onnx_emit_scalar(onnx_ctx *c, const char *hint, hcg_dtype dt, double v)
{
    hcg_tensor *t;
    hcg_shape s = hcg_shape_make(0, NULL);
    hcg_status st = hcg_tensor_new(dt, &s, &t);
    if (st) return -st;
    store(t, 0, v);
    return onnx_emit_const(c, NULL, hint, t);
}

hcg_id onnx_emit_i64s(onnx_ctx *c, const char *hint, const int64_t *v, int n)
{
    hcg_tensor *t;
    int64_t len = n;
    hcg_shape s = hcg_shape_make(1, &len);
    hcg_status st = hcg_tensor_new(HCG_I64, &s, &t);
    if (st) return -st;
    if (n) memcpy(t->data, v, sizeof(int64_t) * (size_t)n);
    return onnx_emit_const(c, NULL, hint, t);
}
