/* pass_weights.c — transpose_weights: a weight matrix whose value is fixed (a param of a graph bound
 * for inference, or a constant) and which every reader reads with transpose_b (PyTorch's Linear
 * weight [out, in], as hcg's own graphs keep it) is stored transposed once, as a constant [in, out],
 * and its readers flip transpose_b off. Why: oneDNN's sgemm with b transposed runs at about half
 * speed for the few rows of a short batch (bench/README.md, quantization), and the CPU's widening of
 * an f16 or int8 weight writes its panels in the layout the product reads them. Readers: matmul and
 * fused_matmul (f32; fused_matmul also f16) and quant_matmul with scales per output column (a scale
 * per block along K would need its scales transposed too; such weights are left as they are).
 *
 * Not while params vary (training binds with params_variable): the weight's value is then not the
 * one the graph holds. The original param loses its readers and is dropped from the bound graph, so
 * a session holds the weight once (the transposed one) on each device. */
#include <stdio.h>
#include <string.h>

#include "graph/op_table.h"
#include "graph/passes.h"

#define NODE(id) hcg_pnode(c, (id))

/* Whether node id reads weight w (dtype, rank 2) as its b with transpose_b, in a form that reads the
 * same weight [K, N] untransposed, and only there. */
static bool reads_transposed(const hcg_pass_ctx *c, hcg_id id, hcg_id w)
{
    const hcg_node *n = NODE(id), *wn = NODE(w);
    if (n->n_inputs < 2 || n->inputs[1] != w || n->inputs[0] == w) return false;
    for (int k = 2; k < n->n_inputs; k++)
        if (n->inputs[k] == w) return false;
    bool dtype_ok;
    switch (n->op) {
    case HCG_OP_MATMUL: dtype_ok = wn->dtype == HCG_F32; break;
    case HCG_OP_FUSED_MATMUL: dtype_ok = wn->dtype == HCG_F32 || wn->dtype == HCG_F16; break;
    case HCG_OP_QUANT_MATMUL: dtype_ok = wn->dtype == HCG_I8 && hcg_attr_int(n, "block_size") == 0; break;
    default: return false; /* other readers have no transpose_b */
    }
    return dtype_ok && wn->shape.rank == 2 && hcg_attr_int(n, "transpose_b") != 0;
}

/* t [cols, rows] of a [rows, cols] matrix of elements of size bytes, in blocks that stay in cache. */
static void transpose_bytes(const unsigned char *src, unsigned char *dst, int64_t rows, int64_t cols, size_t size)
{
    const int64_t B = 32;
    for (int64_t r0 = 0; r0 < rows; r0 += B)
        for (int64_t c0 = 0; c0 < cols; c0 += B)
            for (int64_t r = r0; r < rows && r < r0 + B; r++)
                for (int64_t col = c0; col < cols && col < c0 + B; col++)
                    memcpy(dst + (size_t)(col * rows + r) * size, src + (size_t)(r * cols + col) * size, size);
}

/* *out: w's value transposed. A weight the bound graph borrows from the graph it was bound from (a
 * param, a constant of the model) is transposed once per weight cache and *out is the cache's copy
 * (*borrowed), so a session's plans (one per input shape), and the device buffers made from them,
 * share it. A value folded in this bound graph is transposed for it alone (the graph owns *out). */
static hcg_status transposed(hcg_pass_ctx *c, const hcg_node *w, hcg_tensor **out, bool *borrowed)
{
    int64_t rows = w->shape.dims[0], cols = w->shape.dims[1];
    hcg_shape ts = hcg_shape_make(2, (int64_t[]){cols, rows});
    *borrowed = c->weight_cache && !w->value_owned;
    if (*borrowed && (*out = hcg_weight_cache_find(c->weight_cache, w->value))) return HCG_OK;
    hcg_status st = hcg_tensor_new(w->dtype, &ts, out);
    if (st) return st;
    transpose_bytes(w->value->data, (*out)->data, rows, cols, hcg_dtype_size(w->dtype));
    return *borrowed ? hcg_weight_cache_add(c->weight_cache, w->value, *out) : HCG_OK;
}

/* Adds the constant holding t: owned by the graph, or the cache's tensor itself, borrowed (a node
 * that borrows its value shares device buffers across the session's plans). */
static hcg_id add_transposed(hcg_pass_ctx *c, const char *hint, hcg_tensor *t, bool borrowed)
{
    hcg_tensor *arg = t;
    hcg_status st;
    /* hcg_pass_add_constant owns what it is given, also on failure: a borrowed value goes in as a
     * wrapper, replaced by the value itself once the node exists */
    if (borrowed && (st = hcg_tensor_wrap(t->dtype, &t->shape, t->data, &arg))) return -st;
    hcg_id id = hcg_pass_add_constant(c, hint, arg);
    if (id >= 0 && borrowed) {
        hcg_tensor_free(NODE(id)->value);
        NODE(id)->value = t;
        NODE(id)->value_owned = false;
    }
    return id;
}

hcg_status hcg_pass_transpose_weights(hcg_pass_ctx *c)
{
    if (!c->weights_fixed) return HCG_OK;
    int n_nodes = c->g->n_nodes; /* the constants added below are not candidates */
    for (hcg_id w = 0; w < n_nodes; w++) {
        const hcg_node *wn = NODE(w);
        bool stored = hcg_pass_is(c, w, HCG_OP_PARAM) || hcg_pass_is(c, w, HCG_OP_CONSTANT);
        if (!stored || !wn->value || wn->shape.rank != 2) continue;
        /* every live use must be a transposed read (a graph output counts 2 and never matches) */
        int reads = 0;
        bool others = false;
        for (hcg_id id = w + 1; id < n_nodes && !others; id++) {
            if (c->uses[id] == 0) continue;
            const hcg_node *n = NODE(id);
            bool uses_w = false;
            for (int k = 0; k < n->n_inputs; k++) uses_w |= n->inputs[k] == w;
            if (!uses_w) continue;
            if (reads_transposed(c, id, w)) reads++;
            else others = true;
        }
        if (others || reads == 0 || reads != c->uses[w]) continue;

        int64_t rows = wn->shape.dims[0], cols = wn->shape.dims[1];
        hcg_tensor *t = NULL;
        bool borrowed;
        hcg_status st = transposed(c, wn, &t, &borrowed);
        if (st) return st;
        char hint[200];
        snprintf(hint, sizeof hint, "%.180s_transposed", wn->name);
        hcg_id tw = add_transposed(c, hint, t, borrowed);
        if (tw < 0) return (hcg_status)-tw;
        hcg_id last = -1;
        for (hcg_id id = w + 1; id < n_nodes; id++) {
            if (c->uses[id] == 0 || NODE(id)->n_inputs < 2 || NODE(id)->inputs[1] != w) continue;
            last = id;
            hcg_node *n = NODE(id);
            if ((st = hcg_node_set_attr(c->g, n, &HCG_ATTR_I("transpose_b", 0)))) return st;
            n->inputs[1] = tw;
            c->uses[tw]++;
            c->uses[w]--;
        }
        c->single[tw] = c->uses[tw] == 1 ? last : -1;
        c->rewrites++;
        if ((st = hcg_graph_note(c->g, "%s '%s': stored transposed [%lld, %lld] for its %d product%s (read with "
                                       "transpose_b)",
                                 hcg_op_name(NODE(w)->op), NODE(w)->name, (long long)cols, (long long)rows, reads,
                                 reads == 1 ? "" : "s")))
            return st;
    }
    return HCG_OK;
}
