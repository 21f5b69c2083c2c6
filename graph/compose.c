/* compose.c — importing one graph into another: every node copied under a name prefix, params
 * and constants with their values (so the result stands alone), the source's inputs shared with
 * the target's inputs of the same name (or kept apart under a prefix), and symbolic dims unified
 * by position where inputs are shared, so attributes that use them (a reshape to [B, S, 64]) keep
 * their meaning. Ensembles and distillation (graph/workloads.c) are built with it. */
#include "graph/compose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/op_table.h"

static hcg_status prefixed(const char *prefix, const char *name, char *buf, size_t n)
{
    int w = snprintf(buf, n, "%s%s", prefix ? prefix : "", name);
    return w > 0 && (size_t)w < n ? HCG_OK : hcg_error(HCG_ERR_ARG, "node name '%s%s' is too long", prefix, name);
}

/* The target's dim for a source dim: a number stays, a source symbol maps through sym_map. */
static int64_t map_dim(const hcg_graph *src, const int64_t *sym_map, int64_t v)
{
    if (!HCG_DIM_IS_SYM(v) || v <= HCG_SYM_DIM(src->n_syms)) return v;
    return sym_map[HCG_DIM_SYM_ID(v)];
}

/* Shares (or adds) the target input for source input `in`, unifying its symbols. */
static hcg_id import_input(hcg_graph *dst, const hcg_graph *src, const hcg_node *in, const hcg_import *o, int64_t *sym_map,
                           bool *mapped)
{
    char name[512];
    hcg_status st = prefixed(o->input_prefix, in->name, name, sizeof name);
    if (st) return -(hcg_id)st;
    hcg_id have = hcg_graph_find(dst, name);
    if (have >= 0 && dst->nodes[have].op != HCG_OP_INPUT)
        return -(hcg_id)hcg_error(HCG_ERR_GRAPH, "%s: input '%s' collides with a node of the same name", o->what, name);
    if (have < 0) {
        int64_t dims[HCG_MAX_RANK];
        for (int d = 0; d < in->shape.rank; d++) {
            int64_t v = in->shape.dims[d];
            if (HCG_DIM_IS_SYM(v) && !mapped[HCG_DIM_SYM_ID(v)]) {
                sym_map[HCG_DIM_SYM_ID(v)] = hcg_sym(dst, src->syms[HCG_DIM_SYM_ID(v)]);
                mapped[HCG_DIM_SYM_ID(v)] = true;
            }
            dims[d] = map_dim(src, sym_map, v);
        }
        return hcg_input(dst, name, in->dtype, in->shape.rank, dims);
    }
    const hcg_node *d = &dst->nodes[have];
    bool same = d->dtype == in->dtype && d->shape.rank == in->shape.rank;
    for (int k = 0; same && k < in->shape.rank; k++) {
        int64_t v = in->shape.dims[k], w = d->shape.dims[k];
        if (HCG_DIM_IS_SYM(v) && !mapped[HCG_DIM_SYM_ID(v)]) { /* the target's dim (symbol or size) stands for it */
            sym_map[HCG_DIM_SYM_ID(v)] = w;
            mapped[HCG_DIM_SYM_ID(v)] = true;
        }
        same = map_dim(src, sym_map, v) == w;
    }
    if (!same) {
        char a[256], b[256];
        hcg_format_type(src, in->dtype, &in->shape, a, sizeof a);
        hcg_format_type(dst, d->dtype, &d->shape, b, sizeof b);
        return -(hcg_id)hcg_error(HCG_ERR_SHAPE, "%s: input '%s' is %s, but an earlier model has it as %s", o->what,
                                  in->name, a, b);
    }
    return have;
}

static hcg_id import_source(hcg_graph *dst, const hcg_node *n, const char *name, const hcg_import *o)
{
    hcg_tensor *v = NULL;
    hcg_status st = n->value ? hcg_tensor_clone(n->value, &v) : HCG_OK;
    if (st) return -(hcg_id)st;
    if (n->op == HCG_OP_CONSTANT || (n->op == HCG_OP_PARAM && o->params_as_constants)) return hcg_constant(dst, name, v);
    if (n->op == HCG_OP_PARAM) return hcg_param(dst, name, v);
    hcg_id id = hcg_graph_add_node(dst, n->op, name, NULL, 0, NULL, 0); /* a state */
    if (id < 0) {
        hcg_tensor_free(v);
        return id;
    }
    dst->nodes[id].dtype = n->dtype;
    dst->nodes[id].shape = n->shape;
    dst->nodes[id].value = v;
    dst->nodes[id].value_owned = v != NULL;
    return id;
}

hcg_status hcg_graph_import(hcg_graph *dst, const hcg_graph *src, const hcg_import *o, hcg_id *outputs)
{
    hcg_id *remap = malloc(sizeof(hcg_id) * ((size_t)src->n_nodes + 1));
    int64_t *sym_map = calloc((size_t)src->n_syms + 1, sizeof(int64_t));
    bool *mapped = calloc((size_t)src->n_syms + 1, sizeof(bool));
    bool *needed = calloc((size_t)src->n_nodes + 1, sizeof(bool));
    hcg_status st = remap && sym_map && mapped && needed ? HCG_OK : hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (hcg_id id = 0; id < src->n_nodes && !st; id++) {
        remap[id] = -1;
        needed[id] = o->only_output < 0;
    }
    if (!st && o->only_output >= 0) { /* what the one output reads, transitively */
        if (o->only_output >= src->n_outputs) st = hcg_error(HCG_ERR_ARG, "%s has no output %d", o->what, o->only_output);
        else needed[src->outputs[o->only_output]] = true;
        for (hcg_id id = src->n_nodes - 1; id >= 0 && !st; id--)
            if (needed[id])
                for (int i = 0; i < src->nodes[id].n_inputs; i++) needed[src->nodes[id].inputs[i]] = true;
    }
    /* inputs first, in the source's declaration order: they settle the symbols */
    for (int i = 0; i < src->n_inputs && !st; i++) {
        if (!needed[src->inputs[i]]) continue;
        hcg_id id = import_input(dst, src, &src->nodes[src->inputs[i]], o, sym_map, mapped);
        if (id < 0) st = (hcg_status)-id;
        else remap[src->inputs[i]] = id;
    }
    for (int s = 0; s < src->n_syms && !st; s++) /* symbols no input uses keep their names */
        if (!mapped[s]) sym_map[s] = hcg_sym(dst, src->syms[s]);
    for (hcg_id id = 0; id < src->n_nodes && !st; id++) {
        const hcg_node *n = &src->nodes[id];
        if (n->op == HCG_OP_INPUT || !needed[id]) continue;
        char name[512];
        if ((st = prefixed(o->prefix, n->name, name, sizeof name))) break;
        hcg_id nid;
        if (hcg_op_info_get(n->op)->flags & HCG_OPF_SOURCE) {
            nid = o->source ? o->source(o->source_ctx, dst, n, name) : HCG_IMPORT_DEFAULT;
            if (nid == HCG_IMPORT_DEFAULT) nid = import_source(dst, n, name, o);
        } else {
            hcg_id in[64], *ins = n->n_inputs <= 64 ? in : malloc(sizeof(hcg_id) * (size_t)n->n_inputs);
            if (!ins) {
                st = hcg_error(HCG_ERR_NOMEM, "out of memory");
                break;
            }
            for (int i = 0; i < n->n_inputs; i++) ins[i] = remap[n->inputs[i]];
            nid = hcg_graph_add_node(dst, n->op, name, ins, n->n_inputs, NULL, 0);
            if (ins != in) free(ins);
            for (int a = 0; a < HCG_MAX_ATTRS && nid >= 0 && !st; a++) {
                hcg_attr_value *v = &dst->nodes[nid].attrs[a];
                hcg_attr_value_clear(v);
                if ((st = hcg_attr_value_copy(v, &n->attrs[a]))) break;
                if (v->kind == HCG_ATTR_INT) v->i = map_dim(src, sym_map, v->i);
                for (int k = 0; v->kind == HCG_ATTR_INTS && k < v->n; k++) v->ints[k] = map_dim(src, sym_map, v->ints[k]);
                if (v->kind == HCG_ATTR_FLOAT && v->f <= (double)HCG_SYM_BASE && v->f > (double)HCG_SYM_DIM(src->n_syms))
                    v->f = (double)map_dim(src, sym_map, (int64_t)v->f);
            }
        }
        if (nid < 0) {
            st = (hcg_status)-nid;
            break;
        }
        if (st) break;
        if (n->pin && !(dst->nodes[nid].pin = hcg_strdup(n->pin))) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        remap[id] = nid;
    }
    for (int j = 0; j < src->n_outputs && !st; j++) outputs[j] = remap[src->outputs[j]];
    if (st) hcg_error_prefix(st, "%s: ", o->what);
    free(remap);
    free(sym_map);
    free(mapped);
    free(needed);
    return st;
}
