/* op_rules.h — the rules the op table (graph/op_table.c) points to that live outside it: the
 * shape and cost rules of the training ops (graph/op_shapes_train.c) and of the decoding ops
 * (graph/op_shapes_decode.c), the gradient rules of every
 * differentiable op (graph/op_grad.c), and the checking helpers op_table.c lends them. Internal to
 * graph/. */
#ifndef HCG_OP_RULES_H
#define HCG_OP_RULES_H

#include "graph/op_table.h"

/* ---------------------------------------------------------------- helpers from op_table.c */

#define HCG_M_F32 (1u << HCG_F32)
#define HCG_M_INT ((1u << HCG_I32) | (1u << HCG_I64))
#define HCG_M_NUM (HCG_M_F32 | HCG_M_INT)

/* Input i must have one of the dtypes in allowed_mask (bit d: dtype d). */
hcg_status hcg_rule_want_dtype(const hcg_graph *g, hcg_node *n, int i, unsigned allowed_mask);
/* Inputs i and j must have equal shapes (and dtypes). */
hcg_status hcg_rule_same_type(const hcg_graph *g, hcg_node *n, int i, int j);
/* The node's `shape` attribute as a concrete shape: rank at most HCG_MAX_RANK, no negative dim,
 * an element count that fits (the ops that are told their output's shape: gradients, receives). */
hcg_status hcg_rule_shape_attr(const hcg_graph *g, hcg_node *n, hcg_shape *out);
/* Resolves the int attribute attr as an axis of a rank-`rank` tensor. */
hcg_status hcg_rule_axis(const hcg_graph *g, hcg_node *n, const char *attr, int rank, int *out);
/* numpy broadcasting of two shapes; false if they do not broadcast. */
bool hcg_broadcast_shapes(const hcg_shape *a, const hcg_shape *b, hcg_shape *out);
/* Elements of a bound node's output (0 if unknown). */
double hcg_rule_numel(const hcg_node *x);
/* Bytes of a node's inputs and output. */
double hcg_rule_io_bytes(const hcg_graph *g, const hcg_node *n);

/* ---------------------------------------------------------------- training ops (op_shapes_train.c) */

hcg_status hcg_infer_one_hot(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_argmax(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_unary_grad(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_softmax_grad(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_norm_grad(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_gather_grad(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_slice_grad(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_class_loss(const hcg_graph *g, hcg_node *n); /* softmax_cross_entropy, nll_loss */
hcg_status hcg_infer_kl_div(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_mse_loss(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_optimizer(const hcg_graph *g, hcg_node *n); /* sgd_update, adam_update */
hcg_status hcg_infer_assign(const hcg_graph *g, hcg_node *n);
void hcg_cost_assign(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);

/* The result shape of a product of inputs 0 and 1 (numpy's matmul rules, the node's transpose
 * flags), whatever their dtypes. */
hcg_status hcg_rule_matmul_shape(const hcg_graph *g, hcg_node *n, hcg_shape *out);
/* fused_matmul's epilogue on node n (its shape set): the activation attribute, and the bias at
 * input bias_input (if given) a vector of the result's columns. */
hcg_status hcg_rule_epilogue(const hcg_graph *g, hcg_node *n, int bias_input);

/* ---------------------------------------------------------------- quantization ops (op_shapes_quant.c) */

hcg_status hcg_infer_dequantize(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_quantize(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_matmul_integer(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_quant_matmul(const hcg_graph *g, hcg_node *n);
void hcg_cost_quant_matmul(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);

/* ---------------------------------------------------------------- ops between ranks (op_shapes_dist.c) */

hcg_status hcg_infer_allreduce_start(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_allreduce_wait(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_send(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_recv(const hcg_graph *g, hcg_node *n);
void hcg_cost_dist(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);

void hcg_cost_loss(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);
void hcg_cost_optimizer(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);

/* The functions unary_grad knows by name (its `of` attribute); NULL-terminated. */
extern const char *const hcg_unary_grad_functions[];

/* A class-axis loss's reduction ("mean", "sum", "none"). */
typedef enum hcg_reduction { HCG_REDUCE_MEAN, HCG_REDUCE_SUM, HCG_REDUCE_NONE } hcg_reduction;
hcg_reduction hcg_loss_reduction(const hcg_node *n);
/* softmax_cross_entropy and nll_loss: no ignore index is this value of the attribute. */
#define HCG_NO_IGNORE_INDEX INT64_MIN

/* The state inputs of an optimizer node: param, then its slots (momentum buffer; Adam's m and v). */
int hcg_optimizer_state_inputs(const hcg_node *n, int idx[3]);

/* ---------------------------------------------------------------- decoding ops (op_shapes_decode.c) */

hcg_status hcg_infer_kv_attention(const hcg_graph *g, hcg_node *n);
hcg_status hcg_infer_cache_write(const hcg_graph *g, hcg_node *n);
void hcg_cost_kv_attention(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);
void hcg_cost_cache_write(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);

/* ---------------------------------------------------------------- gradient rules (op_grad.c) */

hcg_status hcg_grad_arith(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);   /* add sub mul div */
hcg_status hcg_grad_pow(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_minmax(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);  /* max min */
hcg_status hcg_grad_where(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_neg(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_unary(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);   /* via unary_grad */
hcg_status hcg_grad_clip(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_cast(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_matmul(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_gemm(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_reduce(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);  /* reduce_* */
hcg_status hcg_grad_softmax(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx); /* and log_softmax */
hcg_status hcg_grad_norm(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);    /* layer_norm rms_norm */
hcg_status hcg_grad_view(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);    /* reshape-like */
hcg_status hcg_grad_transpose(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_concat(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_slice(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);   /* slice split */
hcg_status hcg_grad_gather(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_expand(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_masked(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);  /* causal_mask trilu */
hcg_status hcg_grad_class_loss(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_kl_div(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);
hcg_status hcg_grad_mse_loss(hcg_grad_ctx *c, hcg_id v, hcg_id dy, const bool *wants, hcg_id *dx);

#endif
