/* quant.h — how a quantized tensor maps onto its scales (and zero points), shared by the shape rules
 * of dequantize, quantize and quant_matmul (graph/op_shapes_quant.c), their CPU and OpenCL kernels,
 * and `hcg quantize` (graph/quantize.c). The layouts are ONNX's DequantizeLinear ones: one scale
 * for the tensor, one per index along an axis, or one per block of `block` consecutive indices
 * along the axis (the last block may be shorter: the scale has ceil(D / block) entries there). */
#ifndef HCG_QUANT_H
#define HCG_QUANT_H

#include "graph/graph.h"

typedef enum hcg_qmode { HCG_Q_TENSOR = 0, HCG_Q_AXIS, HCG_Q_BLOCKED } hcg_qmode;

/* A tensor seen as [outer, dim, inner] around the quantization axis. Element (o, d, i) has scale
 * index: 0 (tensor), d (axis), or (o * blocks + d / block) * inner + i (blocked). */
typedef struct hcg_qlayout {
    hcg_qmode mode;
    int axis;
    int64_t outer, dim, inner;
    int64_t block, blocks; /* blocked only: block size, ceil(dim / block) */
} hcg_qlayout;

/* The layout of x (shape) with scales of shape `scale` for the node's `axis` and `block_size`
 * attributes; a shape that fits none of the three is an error naming the node and the shapes. */
hcg_status hcg_qlayout_of(const hcg_graph *g, const hcg_node *n, const hcg_shape *x, const hcg_shape *scale,
                          hcg_qlayout *out);

/* The scale index of flat element e of the tensor. */
static inline int64_t hcg_qlayout_index(const hcg_qlayout *l, int64_t e)
{
    if (l->mode == HCG_Q_TENSOR) return 0;
    int64_t i = e % l->inner, od = e / l->inner, d = od % l->dim;
    if (l->mode == HCG_Q_AXIS) return d;
    return ((od / l->dim) * l->blocks + d / l->block) * l->inner + i;
}

/* The value of element i of a floating-point scale tensor (f32 or f16). */
float hcg_scale_at(const hcg_tensor *t, int64_t i);

/* Checks the values of a scale tensor known when the graph is bound (a param or constant): every
 * scale must be finite and positive. A bad one is an error naming the node, the tensor, the index
 * and the value. */
hcg_status hcg_check_scales(const hcg_graph *g, const hcg_node *n, const hcg_node *scale);

/* quant_matmul's weight b [rows, cols] (transpose_b: [N, K], else [K, N]) and its scales: per
 * output column ([N]) when block is 0, else per block of `block` along K (tb: [N, ceil(K/block)],
 * else [ceil(K/block), N]). The scale of b[r][c]: */
static inline int64_t hcg_qweight_scale_index(bool tb, int64_t r, int64_t c, int64_t n, int64_t block, int64_t blocks)
{
    int64_t col = tb ? r : c, k = tb ? c : r;
    if (block == 0) return col;
    return tb ? col * blocks + k / block : (k / block) * n + col;
}

#endif
