/* quantize.c — hcg_quantize_graph (`hcg quantize`): a copy of a model whose weights are stored
 * small. A weight qualifies when every reader takes it the same way: as b of a matrix product
 * (matmul, fused_matmul: [N, K] when transpose_b, else [K, N]) or as the table a gather takes rows
 * of along axis 0 ([V, K], laid out like a transposed b). It becomes
 *   f16:  param NAME.f16, and NAME = cast(NAME.f16, to=f32);
 *   int8: param NAME.int8 (round(w / scale), symmetric in [-127, 127]) and NAME.scale (max |w| / 127
 *         of each output column or row, or of each block of `group` along K), and
 *         NAME = dequantize(NAME.int8, NAME.scale, axis, block_size),
 * so every reader still sees NAME; the rewrite passes (graph/pass_quant.c) then fold the widening
 * into the reader. The copy is made by hcg_graph_import with a hook for the weights. With int8
 * activations the products reading such a weight are written as quant_matmul(a, NAME.int8,
 * NAME.scale, activations=int8) themselves (the passes would not know to quantize activations). */
#include "graph/quantize.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h" /* hcg_float_to_half, hcg_half_to_float */
#include "graph/bind.h"
#include "graph/compose.h"
#include "graph/op_table.h"
#include "graph/half.h"

typedef enum role { ROLE_NONE = 0, ROLE_ROWS, ROLE_COLS } role; /* [N or V, K] / [K, N] */

typedef struct qctx {
    const hcg_graph *src;
    const hcg_quantize_options *opt;
    role *roles; /* per source node: how its weight is laid out, ROLE_NONE: left as it is */
    hcg_quantize_report *report;
} qctx;

static const char *node_key(const hcg_node *n) { return n->weight_key && *n->weight_key ? n->weight_key : n->name; }

static bool matches(const hcg_node *n, const char *const *pats, int n_pats, const char **which)
{
    for (int i = 0; i < n_pats; i++) {
        if (fnmatch(pats[i], n->name, 0) == 0 || fnmatch(pats[i], node_key(n), 0) == 0) {
            if (which) *which = pats[i];
            return true;
        }
    }
    return false;
}

/* How node id is read: ROLE_ROWS or ROLE_COLS, or ROLE_NONE with the reason in why. */
static role role_of(const hcg_graph *g, hcg_id id, char *why, size_t len)
{
    role r = ROLE_NONE;
    const char *first = NULL;
    for (hcg_id c = 0; c < g->n_nodes; c++) {
        const hcg_node *n = &g->nodes[c];
        for (int k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] != id) continue;
            role here = ROLE_NONE;
            if ((n->op == HCG_OP_MATMUL || n->op == HCG_OP_FUSED_MATMUL) && k == 1)
                here = hcg_attr_int(n, "transpose_b") ? ROLE_ROWS : ROLE_COLS;
            else if (n->op == HCG_OP_GATHER && k == 0 && hcg_attr_int(n, "axis") == 0)
                here = ROLE_ROWS;
            if (here == ROLE_NONE) {
                snprintf(why, len, "read by %s '%s' (only matrix products and gathers read quantized weights)",
                         hcg_op_name(n->op), n->name);
                return ROLE_NONE;
            }
            if (r != ROLE_NONE && here != r) {
                snprintf(why, len, "read as [K, N] by one node and as [N, K] by another ('%s', '%s')", first, n->name);
                return ROLE_NONE;
            }
            r = here;
            first = n->name;
        }
    }
    if (r == ROLE_NONE) snprintf(why, len, "read by no node");
    return r;
}

/* ---------------------------------------------------------------- the conversions */

static hcg_status not_finite(const char *name, int64_t i, float v)
{
    return hcg_error(HCG_ERR_ARG, "weight '%s' holds %g at element %lld: only finite weights can be quantized "
                     "(--skip it)", name, (double)v, (long long)i);
}

static hcg_status to_f16(const char *name, const hcg_tensor *w, hcg_tensor **out)
{
    hcg_status st = hcg_tensor_new(HCG_F16, &w->shape, out);
    if (st) return st;
    const float *x = w->data;
    uint16_t *h = (*out)->data;
    for (size_t i = 0; i < w->nbytes / 4; i++) {
        if (!isfinite(x[i])) st = not_finite(name, (int64_t)i, x[i]);
        else if (fabsf(x[i]) > 65504.0f)
            st = hcg_error(HCG_ERR_ARG, "weight '%s' holds %g at element %zu, beyond f16's range (65504): it cannot be "
                           "stored as f16 (--skip it)", name, (double)x[i], i);
        if (st) {
            hcg_tensor_free(*out);
            *out = NULL;
            return st;
        }
        h[i] = hcg_float_to_half(x[i]);
    }
    return HCG_OK;
}

/* Symmetric int8 of w [d0, d1] laid out as r, with a scale per output column / row (group 0) or per
 * block of group along K: *q the values, *s the scales (sdt f32 or f16). */
static hcg_status to_int8(const char *name, const hcg_tensor *w, role r, int64_t group, hcg_dtype sdt, hcg_tensor **q,
                          hcg_tensor **s)
{
    int64_t d0 = w->shape.dims[0], d1 = w->shape.dims[1];
    int64_t n = r == ROLE_ROWS ? d0 : d1, k = r == ROLE_ROWS ? d1 : d0;
    int64_t glen = group ? group : k, blocks = group ? k / group : 1;
    int64_t sdims[2] = {r == ROLE_ROWS ? n : blocks, r == ROLE_ROWS ? blocks : n};
    hcg_shape ss = group ? hcg_shape_make(2, sdims) : hcg_shape_make(1, &n);
    hcg_status st = hcg_tensor_new(HCG_I8, &w->shape, q);
    if (!st) st = hcg_tensor_new(sdt, &ss, s);
    const float *x = w->data;
    int8_t *qv = st ? NULL : (*q)->data;
    for (int64_t c = 0; c < n && !st; c++) {
        for (int64_t j = 0; j < blocks && !st; j++) {
            /* element (kk, c) of the [K, N] view */
#define AT(kk) (r == ROLE_ROWS ? c * k + (kk) : (kk) * n + c)
            float amax = 0;
            for (int64_t kk = j * glen; kk < (j + 1) * glen && kk < k; kk++) {
                float v = x[AT(kk)];
                if (!isfinite(v)) {
                    st = not_finite(name, AT(kk), v);
                    break;
                }
                amax = fabsf(v) > amax ? fabsf(v) : amax;
            }
            if (st) break;
            float scale = amax > 0 ? amax / 127.0f : 1.0f; /* an all-zero block: any scale gives zeros */
            int64_t si = group == 0 ? c : r == ROLE_ROWS ? c * blocks + j : j * n + c;
            if (sdt == HCG_F16) {
                uint16_t h = hcg_float_to_half(scale);
                if ((h & 0x7fffu) == 0) h = 1; /* below f16's smallest step: the smallest scale it has */
                if ((h & 0x7c00u) == 0x7c00u) {
                    st = hcg_error(HCG_ERR_ARG, "weight '%s': a scale of %g does not fit f16 (use f32 scales)", name,
                                   (double)scale);
                    break;
                }
                ((uint16_t *)(*s)->data)[si] = h;
                scale = hcg_half_to_float(h);
            } else {
                ((float *)(*s)->data)[si] = scale;
            }
            for (int64_t kk = j * glen; kk < (j + 1) * glen && kk < k; kk++) {
                float v = rintf(x[AT(kk)] / scale);
                qv[AT(kk)] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            }
#undef AT
        }
    }
    if (st) {
        hcg_tensor_free(*q);
        hcg_tensor_free(*s);
        *q = *s = NULL;
    }
    return st;
}

/* ---------------------------------------------------------------- the copy */

/* base + suffix, or base + suffix + _N, a name neither graph has. */
static hcg_status fresh_name(const hcg_graph *src, const hcg_graph *dst, const char *base, const char *suffix, char *buf,
                             size_t len)
{
    for (int i = 0; i < 1000; i++) {
        int w = i ? snprintf(buf, len, "%s%s_%d", base, suffix, i) : snprintf(buf, len, "%s%s", base, suffix);
        if (w < 0 || (size_t)w >= len) return hcg_error(HCG_ERR_ARG, "the name '%s%s' is too long", base, suffix);
        if (hcg_graph_find(src, buf) < 0 && hcg_graph_find(dst, buf) < 0) return HCG_OK;
    }
    return hcg_error(HCG_ERR_GRAPH, "no free name for '%s%s'", base, suffix);
}

/* A param holding t (taken over) named name + suffix, keyed in the weights file as the weight's
 * own key + suffix. */
static hcg_id small_param(qctx *c, hcg_graph *dst, const hcg_node *n, const char *name, const char *suffix, hcg_tensor *t)
{
    char pname[512], key[512];
    hcg_status st = fresh_name(c->src, dst, name, suffix, pname, sizeof pname);
    if (st) {
        hcg_tensor_free(t);
        return -(hcg_id)st;
    }
    hcg_id id = hcg_param(dst, pname, t);
    snprintf(key, sizeof key, "%s%s", node_key(n), suffix);
    if (id >= 0 && !(dst->nodes[id].weight_key = hcg_strdup(key))) return -(hcg_id)hcg_error(HCG_ERR_NOMEM, "out of memory");
    return id;
}

static hcg_id import_weight(void *ctx, hcg_graph *dst, const hcg_node *n, const char *name)
{
    qctx *c = ctx;
    role r = c->roles[n - c->src->nodes];
    if (r == ROLE_NONE) return HCG_IMPORT_DEFAULT;
    const hcg_quantize_options *o = c->opt;
    hcg_status st;
    if (o->weights == HCG_WEIGHTS_F16) {
        hcg_tensor *h = NULL;
        if ((st = to_f16(n->name, n->value, &h))) return -(hcg_id)st;
        hcg_id p = small_param(c, dst, n, name, ".f16", h);
        if (p < 0) return p;
        hcg_attr to = HCG_ATTR_S("to", "f32");
        return hcg_graph_add_node(dst, HCG_OP_CAST, name, &p, 1, &to, 1);
    }
    hcg_tensor *q = NULL, *s = NULL;
    hcg_dtype sdt = o->scale_dtype == HCG_F16 ? HCG_F16 : HCG_F32;
    if ((st = to_int8(n->name, n->value, r, o->group, sdt, &q, &s))) return -(hcg_id)st;
    hcg_id in[2] = {small_param(c, dst, n, name, ".int8", q), -1};
    if (in[0] < 0) {
        hcg_tensor_free(s);
        return in[0];
    }
    if ((in[1] = small_param(c, dst, n, name, ".scale", s)) < 0) return in[1];
    /* scales per output column / row: along N; per block: blocks along K */
    int n_axis = r == ROLE_ROWS ? 0 : 1;
    hcg_attr at[2] = {HCG_ATTR_I("axis", o->group ? 1 - n_axis : n_axis), HCG_ATTR_I("block_size", o->group)};
    return hcg_graph_add_node(dst, HCG_OP_DEQUANTIZE, name, in, 2, at, 2);
}

/* ---------------------------------------------------------------- planning */

static hcg_status add_entry(hcg_quantize_report *r, const hcg_node *n, bool quantized, const char *how)
{
    hcg_quantize_entry *e = realloc(r->entries, sizeof *e * (size_t)(r->n + 1));
    if (!e) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    r->entries = e;
    e = &e[r->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", n->name);
    e->dtype = n->value->dtype;
    e->shape = n->value->shape;
    e->quantized = quantized;
    e->bytes_before = e->bytes_after = n->value->nbytes;
    snprintf(e->how, sizeof e->how, "%s", how);
    return HCG_OK;
}

/* Decides each weight's fate (c->roles) and lists it in the report. */
static hcg_status plan_weights(qctx *c)
{
    const hcg_graph *g = c->src;
    const hcg_quantize_options *o = c->opt;
    int64_t min = o->min_elements > 0 ? o->min_elements : 1024;
    bool *used = calloc((size_t)o->n_only + 1, sizeof *used);
    if (!used) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    hcg_status st = HCG_OK;
    for (hcg_id id = 0; id < g->n_nodes && !st; id++) {
        const hcg_node *n = &g->nodes[id];
        if ((n->op != HCG_OP_PARAM && n->op != HCG_OP_CONSTANT) || !n->value) continue;
        const char *pat = NULL;
        bool asked = o->n_only > 0 && matches(n, o->only, o->n_only, &pat);
        for (int i = 0; asked && i < o->n_only; i++)
            if (o->only[i] == pat) used[i] = true;
        int64_t numel = 0;
        hcg_shape_numel(&n->value->shape, &numel);
        /* (vectors, biases and norms, are never quantized and not worth listing) */
        if (!asked && (numel < min || o->n_only > 0 || n->value->shape.rank < 2)) continue;
        char why[400] = "", t[300];
        hcg_format_type(g, n->value->dtype, &n->value->shape, t, sizeof t);
        role r = ROLE_NONE;
        if (n->value->dtype != HCG_F32) snprintf(why, sizeof why, "it is %s: only f32 weights are quantized", hcg_dtype_name(n->value->dtype));
        else if (n->value->shape.rank != 2) snprintf(why, sizeof why, "it is not a matrix (%s)", t);
        else r = role_of(g, id, why, sizeof why);
        if (r != ROLE_NONE && o->weights == HCG_WEIGHTS_INT8 && o->group > 0) {
            int64_t k = n->value->shape.dims[r == ROLE_ROWS ? 1 : 0];
            if (k % o->group != 0)
                st = hcg_error(HCG_ERR_ARG, "--group %lld does not divide K = %lld of weight '%s' (%s, K along axis %d): "
                               "choose a group that divides every quantized weight's K, --skip the weight, or leave "
                               "--group out (a scale per output column)", (long long)o->group, (long long)k, n->name, t,
                               r == ROLE_ROWS ? 1 : 0);
        }
        if (st) break;
        if (asked && r == ROLE_NONE) {
            st = hcg_error(HCG_ERR_ARG, "weight '%s' (%s), named by --only '%s', cannot be quantized: %s", n->name, t, pat,
                           why);
            break;
        }
        const char *skip = NULL;
        if (r != ROLE_NONE && matches(n, o->skip, o->n_skip, &skip)) {
            r = ROLE_NONE;
            snprintf(why, sizeof why, "--skip '%s'", skip);
        }
        c->roles[id] = r;
        if (r == ROLE_NONE) {
            char how[128];
            snprintf(how, sizeof how, "kept: %.110s", why);
            st = add_entry(c->report, n, false, how);
            continue;
        }
        char how[128];
        if (o->weights == HCG_WEIGHTS_F16) snprintf(how, sizeof how, "f16");
        else if (o->group) snprintf(how, sizeof how, "int8, a %s scale per %lld along K", o->scale_dtype == HCG_F16 ? "f16" : "f32", (long long)o->group);
        else snprintf(how, sizeof how, "int8, a %s scale per output %s", o->scale_dtype == HCG_F16 ? "f16" : "f32",
                      r == ROLE_ROWS ? "row" : "column");
        st = add_entry(c->report, n, true, how);
    }
    for (int i = 0; i < o->n_only && !st; i++)
        if (!used[i]) st = hcg_error(HCG_ERR_NOT_FOUND, "--only '%s' names no weight of the model", o->only[i]);
    free(used);
    return st;
}

/* Products whose b is an int8 weight dequantized per output column become quant_matmul with int8
 * activations; the dequantize nodes left without readers are dropped. */
static hcg_status int8_activation_products(hcg_graph *g)
{
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        hcg_node *p = &g->nodes[id];
        if ((p->op != HCG_OP_MATMUL && p->op != HCG_OP_FUSED_MATMUL) || hcg_attr_int(p, "transpose_a")) continue;
        const hcg_node *d = &g->nodes[p->inputs[1]];
        if (d->op != HCG_OP_DEQUANTIZE || hcg_attr_int(d, "block_size") != 0 ||
            g->nodes[d->inputs[0]].op != HCG_OP_PARAM)
            continue;
        bool fused = p->op == HCG_OP_FUSED_MATMUL;
        hcg_attr at[6] = {HCG_ATTR_I("transpose_a", 0), HCG_ATTR_I("transpose_b", hcg_attr_int(p, "transpose_b")),
                          HCG_ATTR_F("alpha", fused ? hcg_attr_float(p, "alpha") : 1.0),
                          HCG_ATTR_S("activation", fused ? hcg_attr_string(p, "activation") : "none"),
                          HCG_ATTR_I("block_size", 0), HCG_ATTR_S("activations", "int8")};
        hcg_id in[4] = {p->inputs[0], d->inputs[0], d->inputs[1], p->n_inputs > 2 ? p->inputs[2] : -1};
        hcg_status st = hcg_node_retarget(g, p, HCG_OP_QUANT_MATMUL, in, p->n_inputs > 2 ? 4 : 3, at, 6);
        if (st) return st;
    }
    return hcg_graph_prune(g);
}

static size_t value_bytes(const hcg_graph *g)
{
    size_t b = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if ((g->nodes[i].op == HCG_OP_PARAM || g->nodes[i].op == HCG_OP_CONSTANT) && g->nodes[i].value)
            b += g->nodes[i].value->nbytes;
    return b;
}

hcg_status hcg_quantize_graph(const hcg_graph *g, const hcg_quantize_options *opt, hcg_graph **out,
                              hcg_quantize_report *report)
{
    *out = NULL;
    memset(report, 0, sizeof *report);
    if (opt->weights != HCG_WEIGHTS_F16 && opt->weights != HCG_WEIGHTS_INT8)
        return hcg_error(HCG_ERR_ARG, "the weights must become f16 or int8");
    if (opt->group < 0 || (opt->group > 0 && opt->weights != HCG_WEIGHTS_INT8))
        return hcg_error(HCG_ERR_ARG, opt->group < 0 ? "--group must be positive, got %lld"
                                                     : "--group applies to int8 weights only (got %lld with f16)",
                         (long long)opt->group);
    if (opt->int8_activations && (opt->weights != HCG_WEIGHTS_INT8 || opt->group))
        return hcg_error(HCG_ERR_ARG, "int8 activations need int8 weights with a scale per output column (no --group)");
    if (opt->scale_dtype != HCG_F32 && opt->scale_dtype != HCG_F16)
        return hcg_error(HCG_ERR_ARG, "scales are f32 or f16, not %s", hcg_dtype_name(opt->scale_dtype));
    qctx c = {.src = g, .opt = opt, .report = report};
    hcg_graph *dst = hcg_graph_new();
    hcg_id *outs = malloc(sizeof(hcg_id) * ((size_t)g->n_outputs + 1));
    c.roles = calloc((size_t)g->n_nodes + 1, sizeof *c.roles);
    hcg_status st = dst && outs && c.roles ? HCG_OK : hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (!st) st = plan_weights(&c);
    hcg_import im = {.what = g->path ? g->path : "the model", .only_output = HCG_IMPORT_ALL, .source = import_weight,
                     .source_ctx = &c};
    if (!st) st = hcg_graph_import(dst, g, &im, outs);
    for (int i = 0; i < g->n_outputs && !st; i++) st = hcg_output(dst, outs[i], g->output_names[i]);
    if (!st && opt->int8_activations) st = int8_activation_products(dst);
    if (!st) {
        report->weights_before = value_bytes(g);
        report->weights_after = value_bytes(dst);
        for (int i = 0; i < report->n; i++) { /* each quantized weight's new size: its params in dst */
            hcg_quantize_entry *e = &report->entries[i];
            if (!e->quantized) continue;
            hcg_id w = hcg_graph_find(dst, e->name);
            e->bytes_after = 0;
            for (int k = 0; w >= 0 && k < dst->nodes[w].n_inputs; k++) {
                const hcg_node *p = &dst->nodes[dst->nodes[w].inputs[k]];
                if (p->value) e->bytes_after += p->value->nbytes;
            }
        }
    }
    free(outs);
    free(c.roles);
    if (st) {
        hcg_graph_free(dst);
        hcg_quantize_report_free(report);
        return st;
    }
    *out = dst;
    return HCG_OK;
}

void hcg_quantize_report_free(hcg_quantize_report *r)
{
    free(r->entries);
    memset(r, 0, sizeof *r);
}
