/* op_table.h — the op table: for every op its name, arity, attribute schema, shape rule, cost
 * rule and flags. graph/op_table.c holds the one table; backends key their kernels by hcg_op. */
#ifndef HCG_OP_TABLE_H
#define HCG_OP_TABLE_H

#include "graph/graph.h"

/* One attribute of an op's schema. */
typedef struct hcg_attr_spec {
    const char *name;
    hcg_attr_kind kind;
    bool required;
    int64_t def_i;     /* default for INT */
    double def_f;      /* default for FLOAT */
    const char *def_s; /* default for STRING */
    /* ONNX-style "attribute given as an input": if > 0 and a node has an input at this
     * position, the input must fold to a constant when the graph is bound, and its values
     * become this attribute. */
    int from_input;
    /* An older name of the attribute, still accepted where graphs are built or read (the builder,
     * the .hcg reader: files written before the rename keep working), never written and never
     * used by lookups (deprecated: gemm's trans_a / trans_b are transpose_a / transpose_b). */
    const char *alias;
} hcg_attr_spec;

enum {
    HCG_OPF_SOURCE = 1 << 0,      /* input / param / constant: no compute */
    HCG_OPF_VIEW = 1 << 1,        /* output is input 0's memory with another shape */
    HCG_OPF_ELEMENTWISE = 1 << 2, /* elementwise with numpy broadcasting */
    HCG_OPF_SHAPE_ONLY = 1 << 3,  /* the result depends only on input shapes (always folds) */
    HCG_OPF_NO_FOLD = 1 << 4,     /* never constant-fold (would grow the graph's data) */
    /* runs on the CPU device only: it hands host memory to MPI (backend/dist/) */
    HCG_OPF_HOST_ONLY = 1 << 5,
    /* starts communication that a later node (its reader) completes: the scheduler runs it as early
     * as it can, and its readers wait for the communication's predicted time */
    HCG_OPF_ASYNC = 1 << 6,
    /* has an effect beyond its output (a message to another rank): never pruned */
    HCG_OPF_EFFECT = 1 << 7
};

/* A shape rule: sets n->dtype and n->shape from its inputs (types in g, constant values in
 * their value field where known) and checks them; errors go through hcg_node_error. */
typedef hcg_status (*hcg_shape_rule)(const hcg_graph *g, hcg_node *n);

/* A cost rule: floating-point operations and bytes read + written by a bound node. */
typedef void (*hcg_cost_rule)(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);

/* A gradient rule (graph/op_grad.c, used by the autodiff pass in graph/autodiff.c): given node
 * `node` of a bound graph and dy, the gradient of the loss with respect to its output, adds the
 * nodes that compute the gradient with respect to each input i for which wants[i] is set and
 * stores its id in dx[i] (-1: no gradient flows there, e.g. an integer index). The rule builds
 * through the context's helpers, which infer shapes as they go. */
typedef struct hcg_grad_ctx hcg_grad_ctx;
typedef hcg_status (*hcg_grad_rule)(hcg_grad_ctx *c, hcg_id node, hcg_id dy, const bool *wants, hcg_id *dx);

/* An op's name is not here: it is the name column of HCG_OP_LIST (hcg.h), read by hcg_op_name. */
typedef struct hcg_op_info {
    int min_inputs, max_inputs; /* data inputs; max_inputs -1: any number */
    hcg_attr_spec attrs[HCG_MAX_ATTRS];
    hcg_shape_rule infer;
    hcg_cost_rule cost; /* NULL: one flop per output element, bytes of inputs and output */
    unsigned flags;
    const char *doc; /* one-line description for docs/ops.md and `hcg ops` */
    hcg_grad_rule grad; /* NULL: not differentiable (an error if a gradient must pass through) */
    /* Inputs the op overwrites in place (bit i: input i), which must be state tensors: optimizer
     * updates. The planner orders every other reader of those tensors before the node. */
    unsigned inplace_inputs;
} hcg_op_info;

const hcg_op_info *hcg_op_info_get(hcg_op op);
/* The slot of a named attribute in op's schema, or -1. */
int hcg_attr_slot(hcg_op op, const char *name);
/* The same, also accepting an attribute's older name (hcg_attr_spec.alias): for names that come
 * from outside (the builder, the .hcg reader, test data). */
int hcg_attr_slot_accepting(hcg_op op, const char *name);
/* The op's attribute names, "a, b, c" ("" if none), for messages. */
void hcg_op_attr_list(hcg_op op, char *buf, size_t n);
/* Number of inputs a node has beyond its data inputs that carry attributes (ONNX style). */
int hcg_op_max_total_inputs(hcg_op op);

/* Resolves a bound slice node into per-axis start, step and element count (ONNX Slice
 * semantics: negative indices, clamping, negative steps). Used by shape inference and kernels. */
hcg_status hcg_slice_params(const hcg_graph *g, const hcg_node *n, const hcg_shape *x, int64_t start[],
                            int64_t step[], int64_t count[]);
/* Resolves a bound split node into its axis and the start and size of its part. */
hcg_status hcg_split_part(const hcg_graph *g, const hcg_node *n, const hcg_shape *x, int *axis,
                          int64_t *start, int64_t *size);

/* A reduction's axes as a mask over rank dims (empty axes: all); checks range and repeats. */
hcg_status hcg_reduce_mask(const hcg_graph *g, const hcg_node *n, int rank, bool mask[HCG_MAX_RANK]);
/* A matmul node's operand shapes after numpy's 1-D rules (a vector a becomes [1, K], a vector b
 * [K, 1]) and its transpose flags (ignored for vectors). a and b come in as the input shapes. */
void hcg_matmul_operands(const hcg_node *n, hcg_shape *a, hcg_shape *b, bool *ta, bool *tb);

/* Strides (in matrices) of an operand's batch dims od[0..orank) against the broadcast batch dims
 * bd[0..br), right-aligned: a dim the operand broadcasts gets stride 0. */
void hcg_matmul_batch_strides(int br, const int64_t *bd, int orank, const int64_t *od, int64_t *out);

/* The batches of a product of operands a and b (shapes after hcg_matmul_operands: rank >= 2): the
 * broadcast batch dims, each operand's strides along them in matrices, and the counts. */
typedef struct hcg_matmul_batch {
    int rank;
    int64_t dims[HCG_MAX_RANK], a_stride[HCG_MAX_RANK], b_stride[HCG_MAX_RANK];
    int64_t count, a_count, b_count; /* result matrices; a's and b's own matrices */
} hcg_matmul_batch;
void hcg_matmul_batch_plan(const hcg_shape *a, const hcg_shape *b, hcg_matmul_batch *out);
/* The matrices of a and b that result matrix t reads. */
static inline void hcg_matmul_batch_at(const hcg_matmul_batch *m, int64_t t, int64_t *ai, int64_t *bi)
{
    int64_t rest = t;
    *ai = *bi = 0;
    for (int d = m->rank - 1; d >= 0; d--) {
        int64_t i = rest % m->dims[d];
        rest /= m->dims[d];
        *ai += i * m->a_stride[d];
        *bi += i * m->b_stride[d];
    }
}
/* clip on integers: a float bound as an integer bound of the type's range [tmin, tmax] (lo rounds
 * up, hi down, both saturate; NaN gives no bound). */
int64_t hcg_clip_int_bound(double v, bool is_lo, int64_t tmin, int64_t tmax);

/* fused_matmul's activation by name: 0 none, 1 gelu (erf form), 2 gelu_tanh, 3 relu; -1 unknown. */
enum { HCG_ACT_NONE = 0, HCG_ACT_GELU, HCG_ACT_GELU_TANH, HCG_ACT_RELU };
int hcg_activation_parse(const char *s);

/* An attention node's geometry: batch (the product of the batch dims; B in bshd) and heads (H in
 * bshd, 1 in bhsd), query and key counts, the head sizes of q/k and of v, and the layout. */
typedef struct hcg_attention_geom {
    int64_t batch, heads, sq, sk, d, dv;
    float scale;
    bool bshd;
} hcg_attention_geom;
/* Fills a from the node's input shapes; false if they do not fit its layout. */
bool hcg_attention_dims(const hcg_graph *g, const hcg_node *n, hcg_attention_geom *a);
/* The logical shape of the scores (what a mask broadcasts to): [.., Sq, Sk], or [B, H, Sq, Sk]. */
void hcg_attention_scores_shape(const hcg_graph *g, const hcg_node *n, const hcg_attention_geom *a, hcg_shape *s);

/* A kv_attention node's geometry: q [batch, t, heads, d], v [.., dv], caches [batch, heads,
 * positions, d or dv]. */
typedef struct hcg_kv_geom {
    int64_t batch, t, heads, d, dv, positions;
    float scale;
} hcg_kv_geom;
/* Fills a from the node's input shapes; false if they do not fit. */
bool hcg_kv_attention_dims(const hcg_graph *g, const hcg_node *n, hcg_kv_geom *a);
/* A cache_write node's geometry: the cache as [outer, positions, inner], the values as [outer, t,
 * inner] (the axis in the middle); false if the shapes do not fit. */
bool hcg_cache_write_dims(const hcg_graph *g, const hcg_node *n, int64_t *outer, int64_t *t, int64_t *inner,
                          int64_t *positions);

/* Predicted work of a bound node. */
void hcg_node_cost(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes);

#endif
