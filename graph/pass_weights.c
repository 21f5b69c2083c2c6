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
    if (wn->shape.rank != 2 || hcg_attr_int(n, "transpose_b") == 0) return false;
    switch (n->op) {
    case HCG_OP_MATMUL: return wn->dtype == HCG_F32;
    case HCG_OP_FUSED_MATMUL: return wn->dtype == HCG_F32 || wn->dtype == HCG_F16;
    case HCG_OP_QUANT_MATMUL: return wn->dtype == HCG_I8 && hcg_attr_int(n, "block_size") == 0;
    default: return false;
    }
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
        hcg_shape ts = hcg_shape_make(2, (int64_t[]){cols, rows});
        hcg_tensor *t = NULL;
        hcg_status st = hcg_tensor_new(wn->dtype, &ts, &t);
        if (st) return st;
        transpose_bytes(wn->value->data, t->data, rows, cols, hcg_dtype_size(wn->dtype));
        char hint[200];
        snprintf(hint, sizeof hint, "%.180s_transposed", wn->name);
        hcg_id tw = hcg_pass_add_constant(c, hint, t);
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
