/* cpu_kernels.c — the CPU kernel table: for every op of the op table, the kernel that defines
 * its reference semantics (the kernels live in cpu_elementwise.c, cpu_matmul.c, cpu_reduce.c and
 * cpu_movement.c). Sources (input, param, constant) have no kernel: the executor places their
 * data. A NULL entry would mean the CPU cannot run that op; every computing op has one. */
#include "backend/cpu/cpu_kernels.h"

const hcg_cpu_kernel hcg_cpu_kernels[HCG_OP_COUNT] = {
    /* binary arithmetic, comparisons, logic (numpy broadcasting) */
    [HCG_OP_ADD] = hcg_k_binary,
    [HCG_OP_SUB] = hcg_k_binary,
    [HCG_OP_MUL] = hcg_k_binary,
    [HCG_OP_DIV] = hcg_k_binary,
    [HCG_OP_POW] = hcg_k_binary,
    [HCG_OP_MAX] = hcg_k_binary,
    [HCG_OP_MIN] = hcg_k_binary,
    [HCG_OP_EQUAL] = hcg_k_compare,
    [HCG_OP_LESS] = hcg_k_compare,
    [HCG_OP_GREATER] = hcg_k_compare,
    [HCG_OP_AND] = hcg_k_logical,
    [HCG_OP_OR] = hcg_k_logical,
    [HCG_OP_WHERE] = hcg_k_where,

    /* unary */
    [HCG_OP_NEG] = hcg_k_unary,
    [HCG_OP_EXP] = hcg_k_unary,
    [HCG_OP_LOG] = hcg_k_unary,
    [HCG_OP_SQRT] = hcg_k_unary,
    [HCG_OP_RSQRT] = hcg_k_unary,
    [HCG_OP_TANH] = hcg_k_unary,
    [HCG_OP_SIGMOID] = hcg_k_unary,
    [HCG_OP_RELU] = hcg_k_unary,
    [HCG_OP_GELU] = hcg_k_unary,
    [HCG_OP_SILU] = hcg_k_unary,
    [HCG_OP_ERF] = hcg_k_unary,
    [HCG_OP_ABS] = hcg_k_unary,
    [HCG_OP_RECIPROCAL] = hcg_k_unary,
    [HCG_OP_NOT] = hcg_k_unary,
    [HCG_OP_CLIP] = hcg_k_clip,
    [HCG_OP_CAST] = hcg_k_cast,

    /* matrix products */
    [HCG_OP_MATMUL] = hcg_k_matmul,
    [HCG_OP_GEMM] = hcg_k_gemm,

    /* fused ops (made by the rewrite passes, graph/passes.h) */
    [HCG_OP_FUSED_MATMUL] = hcg_k_fused_matmul,
    [HCG_OP_ATTENTION] = hcg_k_attention,

    /* decoding: key/value caches updated in place */
    [HCG_OP_KV_ATTENTION] = hcg_k_kv_attention,
    [HCG_OP_CACHE_WRITE] = hcg_k_cache_write,

    /* reductions and normalisations */
    [HCG_OP_REDUCE_SUM] = hcg_k_reduce,
    [HCG_OP_REDUCE_MEAN] = hcg_k_reduce,
    [HCG_OP_REDUCE_MAX] = hcg_k_reduce,
    [HCG_OP_REDUCE_PROD] = hcg_k_reduce,
    [HCG_OP_SOFTMAX] = hcg_k_softmax,
    [HCG_OP_LOG_SOFTMAX] = hcg_k_softmax,
    [HCG_OP_LAYER_NORM] = hcg_k_layer_norm,
    [HCG_OP_RMS_NORM] = hcg_k_rms_norm,

    /* views (a copy only when the output is not the input's memory) */
    [HCG_OP_RESHAPE] = hcg_k_view_copy,
    [HCG_OP_SQUEEZE] = hcg_k_view_copy,
    [HCG_OP_UNSQUEEZE] = hcg_k_view_copy,
    [HCG_OP_FLATTEN] = hcg_k_view_copy,

    /* data movement */
    [HCG_OP_TRANSPOSE] = hcg_k_transpose,
    [HCG_OP_CONCAT] = hcg_k_concat,
    [HCG_OP_SLICE] = hcg_k_slice,
    [HCG_OP_SPLIT] = hcg_k_split,
    [HCG_OP_GATHER] = hcg_k_gather,
    [HCG_OP_EXPAND] = hcg_k_expand,
    [HCG_OP_TRILU] = hcg_k_trilu,
    [HCG_OP_CAUSAL_MASK] = hcg_k_causal_mask,

    /* generators */
    [HCG_OP_RANGE] = hcg_k_range,
    [HCG_OP_SHAPE] = hcg_k_shape,
    [HCG_OP_CONSTANT_OF_SHAPE] = hcg_k_constant_of_shape,

    /* training: index ops, gradient ops, losses, optimizer updates (in place on state inputs) */
    [HCG_OP_ONE_HOT] = hcg_k_one_hot,
    [HCG_OP_ARGMAX] = hcg_k_argmax,
    [HCG_OP_UNARY_GRAD] = hcg_k_unary_grad,
    [HCG_OP_SOFTMAX_GRAD] = hcg_k_softmax_grad,
    [HCG_OP_LOG_SOFTMAX_GRAD] = hcg_k_softmax_grad,
    [HCG_OP_LAYER_NORM_GRAD] = hcg_k_norm_grad,
    [HCG_OP_RMS_NORM_GRAD] = hcg_k_norm_grad,
    [HCG_OP_GATHER_GRAD] = hcg_k_gather_grad,
    [HCG_OP_SLICE_GRAD] = hcg_k_slice_grad,
    [HCG_OP_SOFTMAX_CROSS_ENTROPY] = hcg_k_class_loss,
    [HCG_OP_NLL_LOSS] = hcg_k_class_loss,
    [HCG_OP_KL_DIV] = hcg_k_kl_div,
    [HCG_OP_MSE_LOSS] = hcg_k_mse_loss,
    [HCG_OP_SGD_UPDATE] = hcg_k_sgd_update,
    [HCG_OP_ADAM_UPDATE] = hcg_k_adam_update,
    [HCG_OP_ASSIGN] = hcg_k_assign,

    /* between the ranks of an MPI job (cpu_dist.c) */
    [HCG_OP_ALLREDUCE_START] = hcg_k_allreduce_start,
    [HCG_OP_ALLREDUCE_WAIT] = hcg_k_allreduce_wait,
    [HCG_OP_SEND] = hcg_k_send,
    [HCG_OP_RECV] = hcg_k_recv,

    /* quantization (cpu_quant.c; the products in cpu_matmul.c) */
    [HCG_OP_DEQUANTIZE] = hcg_k_dequantize,
    [HCG_OP_QUANTIZE] = hcg_k_quantize,
    [HCG_OP_MATMUL_INTEGER] = hcg_k_matmul_integer,
    [HCG_OP_QUANT_MATMUL] = hcg_k_quant_matmul,
};
