/* cpu_kernels.h — what the CPU kernel files share: the kernels each family file defines (the
 * table in cpu_kernels.c maps ops to them), the strided/broadcast iterator every elementwise and
 * data-movement kernel walks tensors with, and small tensor helpers. Internal to backend/cpu/. */
#ifndef HCG_CPU_KERNELS_H
#define HCG_CPU_KERNELS_H

#include <math.h>

#include "backend/cpu/cpu.h"

/* ---------------------------------------------------------------- tensor helpers */

/* Element count of a (concrete, bound) device tensor's shape. */
static inline int64_t hcg_cpu_numel(const hcg_dev_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->shape.rank; i++) n *= t->shape.dims[i];
    return n;
}

/* Product of dims [from, to) of a shape. */
static inline int64_t hcg_dims_prod(const hcg_shape *s, int from, int to)
{
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= s->dims[i];
    return n;
}

/* Row-major element strides of a shape (strides[rank - 1] = 1). */
static inline void hcg_contiguous_strides(const hcg_shape *s, int64_t strides[HCG_MAX_RANK])
{
    int64_t st = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        strides[i] = st;
        st *= s->dims[i];
    }
}

/* Float to integer as cast defines it: truncation toward zero; where C leaves the result
 * undefined, NaN gives 0 and values beyond the target's range [tmin, tmax] saturate. */
static inline int64_t hcg_float_to_int(double v, int64_t tmin, int64_t tmax)
{
    if (v != v) return 0;
    if (v <= (double)tmin) return tmin;
    if (v >= (double)tmax) return tmax; /* (double)INT64_MAX rounds up to 2^63: >= catches it */
    return (int64_t)v;
}

/* Simple operations a parallel chunk must hold at least: HCG_GRAIN_ELEMS, or $HCG_CPU_GRAIN (tests
 * set it tiny so the threaded paths run on small tensors). */
#define HCG_GRAIN_ELEMS ((int64_t)32768)
int64_t hcg_cpu_grain_elems(void);

/* Grain (items per parallel chunk) for loops whose item costs about `cost` simple operations:
 * small loops stay on the calling thread so tiny ops cost about a microsecond. */
static inline int64_t hcg_grain_for(int64_t cost_per_item)
{
    if (cost_per_item < 1) cost_per_item = 1;
    int64_t g = hcg_cpu_grain_elems() / cost_per_item;
    return g < 1 ? 1 : g;
}

/* The logistic function; never exponentiates a large positive number, so it cannot overflow to
 * inf/inf. (unary sigmoid and silu, and their gradients.) */
static inline float hcg_sigmoid_f32(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* ---------------------------------------------------------------- the iterator */

/* A walk over an n-D index space with up to HCG_ITER_MAX_OPS operands, each with its own element
 * strides (0 on broadcast dims, negative for reversed slices) and base offset. Adjacent dims that
 * every operand walks contiguously are merged and size-1 dims dropped, so same-shape tensors become
 * one flat run and row/column broadcasts become two dims: the visitor then sees long runs along
 * the innermost dim, where kernels have their fast loops. Operand 0 is by convention the output. */
#define HCG_ITER_MAX_OPS 4

typedef struct hcg_iter {
    int n_ops;
    int rank;
    int64_t dims[HCG_MAX_RANK];
    int64_t strides[HCG_ITER_MAX_OPS][HCG_MAX_RANK];
    int64_t base[HCG_ITER_MAX_OPS];
    int64_t numel;
} hcg_iter;

/* A run of len elements along the innermost dim: operand k's first element is at element offset
 * off[k] and its next ones step[k] elements apart. */
typedef void (*hcg_iter_seg_fn)(void *ctx, const int64_t off[], const int64_t step[], int64_t len);

/* An iterator over dims (rank entries) where operand k uses strides[k] and starts at base[k]
 * (base may be NULL: all 0). */
void hcg_iter_init(hcg_iter *it, int rank, const int64_t *dims, int n_ops,
                   const int64_t (*strides)[HCG_MAX_RANK], const int64_t *base);
/* numpy broadcasting: operand 0 is the contiguous output of shape out, operands 1..n_in the
 * contiguous inputs in[], each broadcast to out. */
void hcg_iter_broadcast(hcg_iter *it, const hcg_shape *out, const hcg_shape *const in[], int n_in);
/* Visits elements [begin, end) of the index space (row-major order) as runs. */
void hcg_iter_visit(const hcg_iter *it, int64_t begin, int64_t end, hcg_iter_seg_fn seg, void *ctx);
/* Visits the whole space, split over the thread pool when it is large (cost: rough operations
 * per element). */
void hcg_iter_run(const hcg_iter *it, int64_t cost, hcg_iter_seg_fn seg, void *ctx);

/* Copies elements of size esize: operand 0 of it is dst, operand 1 src (strided/broadcast). */
void hcg_strided_copy(const hcg_iter *it, size_t esize, void *dst, const void *src);

/* ---------------------------------------------------------------- kernels by family */

/* cpu_elementwise.c */
hcg_status hcg_k_binary(hcg_exec_node *en);  /* add sub mul div pow max min */
hcg_status hcg_k_compare(hcg_exec_node *en); /* equal less greater */
hcg_status hcg_k_logical(hcg_exec_node *en); /* and or */
hcg_status hcg_k_where(hcg_exec_node *en);
hcg_status hcg_k_unary(hcg_exec_node *en); /* neg exp log sqrt rsqrt tanh sigmoid relu gelu silu erf abs reciprocal not */
hcg_status hcg_k_clip(hcg_exec_node *en);
hcg_status hcg_k_cast(hcg_exec_node *en);
hcg_status hcg_k_causal_mask(hcg_exec_node *en);

/* cpu_matmul.c */
hcg_status hcg_k_matmul(hcg_exec_node *en);
hcg_status hcg_k_gemm(hcg_exec_node *en);
hcg_status hcg_k_fused_matmul(hcg_exec_node *en); /* b f32, or an f16 weight */
hcg_status hcg_k_quant_matmul(hcg_exec_node *en);

/* The tiles hcg's pool cuts a product's C [m, n] into (cpu_matmul.c): tm rows by tn columns. */
void hcg_cpu_tile_plan(int64_t m, int64_t n, int64_t k, int64_t *tm, int64_t *tn);

/* cpu_qgemm.c: integer products */
hcg_status hcg_k_matmul_integer(hcg_exec_node *en);
/* quant_matmul with activations=int8 (its weight scales per output column widened to f32). */
hcg_status hcg_cpu_quant_matmul_int8(hcg_exec_node *en, const float *wscale);
/* Whether oneDNN's integer GEMMs give exact sums here (the processor has VNNI). */
bool hcg_cpu_int8_gemm_exact(void);

/* cpu_quant.c */
hcg_status hcg_k_dequantize(hcg_exec_node *en);
hcg_status hcg_k_quantize(hcg_exec_node *en);

/* cpu_attention.c */
hcg_status hcg_k_attention(hcg_exec_node *en);
/* One unit of attention: `rows` (at most HCG_ATTN_ROWS) query rows against sk keys, each operand
 * a list of rows *_ld floats apart, the mask (NULL: none) through row and key strides (0:
 * broadcast); streamed over blocks of keys with an online softmax. kv_attention runs its blocks of
 * query rows over the cache through it. */
#define HCG_ATTN_ROWS 64
typedef struct hcg_attn_unit {
    const float *q, *k, *v, *mask;
    float *o;
    int64_t q_ld, k_ld, v_ld, o_ld, mask_ld, mask_cs, rows, sk, d, dv;
    float scale;
} hcg_attn_unit;
/* The scratch floats a unit needs (one per thread). */
size_t hcg_attn_scratch_floats(void);
void hcg_attn_run_unit(const hcg_attn_unit *u, float *scratch);

/* cpu_cache.c: the decoding ops (key/value caches updated in place) */
hcg_status hcg_k_kv_attention(hcg_exec_node *en);
hcg_status hcg_k_cache_write(hcg_exec_node *en);

/* cpu_reduce.c */
hcg_status hcg_k_reduce(hcg_exec_node *en); /* reduce_sum reduce_mean reduce_max reduce_prod */
hcg_status hcg_k_softmax(hcg_exec_node *en); /* softmax log_softmax */
hcg_status hcg_k_layer_norm(hcg_exec_node *en);
hcg_status hcg_k_rms_norm(hcg_exec_node *en);

/* cpu_movement.c */
hcg_status hcg_k_view_copy(hcg_exec_node *en); /* reshape squeeze unsqueeze flatten */
hcg_status hcg_k_transpose(hcg_exec_node *en);
hcg_status hcg_k_concat(hcg_exec_node *en);
hcg_status hcg_k_slice(hcg_exec_node *en);
hcg_status hcg_k_split(hcg_exec_node *en);
hcg_status hcg_k_gather(hcg_exec_node *en);
hcg_status hcg_k_expand(hcg_exec_node *en);
hcg_status hcg_k_trilu(hcg_exec_node *en);
hcg_status hcg_k_range(hcg_exec_node *en);
hcg_status hcg_k_shape(hcg_exec_node *en);
hcg_status hcg_k_constant_of_shape(hcg_exec_node *en);

/* cpu_grad.c: gradient ops and the index ops training uses */
hcg_status hcg_k_one_hot(hcg_exec_node *en);
hcg_status hcg_k_argmax(hcg_exec_node *en);
hcg_status hcg_k_unary_grad(hcg_exec_node *en);
hcg_status hcg_k_softmax_grad(hcg_exec_node *en); /* softmax_grad log_softmax_grad */
hcg_status hcg_k_norm_grad(hcg_exec_node *en);    /* layer_norm_grad rms_norm_grad */
hcg_status hcg_k_gather_grad(hcg_exec_node *en);
hcg_status hcg_k_slice_grad(hcg_exec_node *en);

/* cpu_train.c: losses and optimizer updates */
hcg_status hcg_k_class_loss(hcg_exec_node *en); /* softmax_cross_entropy nll_loss */
hcg_status hcg_k_kl_div(hcg_exec_node *en);
hcg_status hcg_k_mse_loss(hcg_exec_node *en);
hcg_status hcg_k_sgd_update(hcg_exec_node *en);
hcg_status hcg_k_adam_update(hcg_exec_node *en);
hcg_status hcg_k_assign(hcg_exec_node *en);
/* between ranks (cpu_dist.c) */
hcg_status hcg_k_allreduce_start(hcg_exec_node *en);
hcg_status hcg_k_allreduce_wait(hcg_exec_node *en);
hcg_status hcg_k_send(hcg_exec_node *en);
hcg_status hcg_k_recv(hcg_exec_node *en);

#endif
