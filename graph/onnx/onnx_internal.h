/* onnx_internal.h — what the ONNX reader's files share: the load context (the graph being built,
 * the table of ONNX values already mapped to hcg nodes, the node being mapped), error helpers,
 * attribute access, node emission, tensor conversion and the op mapping table. */
#ifndef HCG_ONNX_INTERNAL_H
#define HCG_ONNX_INTERNAL_H

#include "graph/graph.h"
#include "graph/onnx/onnx.h"
#include "onnx.pb-c.h"

/* The newest default-domain opset whose semantics the reader knows (see docs/onnx.md). */
#define ONNX_MAX_OPSET 20

/* Masks over hcg_dtype, for the dtypes an op accepts. */
#define ONNX_M_F32 (1u << HCG_F32)
#define ONNX_M_F16 (1u << HCG_F16)
#define ONNX_M_I32 (1u << HCG_I32)
#define ONNX_M_I64 (1u << HCG_I64)
#define ONNX_M_U8 (1u << HCG_U8)
#define ONNX_M_I8 (1u << HCG_I8)
#define ONNX_M_BOOL (1u << HCG_BOOL)
#define ONNX_M_INT (ONNX_M_I32 | ONNX_M_I64)
#define ONNX_M_NUM (ONNX_M_F32 | ONNX_M_INT)
#define ONNX_M_ANY ((1u << HCG_DTYPE_COUNT) - 1)

/* An ONNX value (a named tensor) and the hcg node that computes it. */
typedef struct onnx_value {
    const char *name; /* borrowed from the decoded model */
    hcg_id id;
    hcg_dtype dtype;
} onnx_value;

typedef struct onnx_ctx {
    hcg_graph *g;
    const char *label;    /* the file name, prefixed to messages */
    const char *base_dir; /* where external data lives; NULL: refused */
    const hcg_onnx_options *opt;
    int64_t opset; /* the model's default-domain opset */
    /* ONNX value name -> index into vals. Keys are borrowed from the decoded model. */
    hcg_strmap index;
    onnx_value *vals;
    int n_vals, cap_vals;
    /* Every value name the model uses, so that names made up for helper nodes never take one. */
    hcg_strmap reserved;
    /* The node being mapped (for messages and made-up names), and its position. */
    const Onnx__NodeProto *node;
    int node_pos;
    const struct onnx_op_map *op; /* its entry in the mapping table */
} onnx_ctx;

/* ---------------------------------------------------------------- errors (onnx_reader.c) */

/* An error about the node being mapped: "<file>: node '<name>' (<op>, opset N): message". */
hcg_status onnx_node_fail(const onnx_ctx *c, hcg_status code, const char *fmt, ...) HCG_PRINTF(3, 4);

/* ---------------------------------------------------------------- values (onnx_reader.c) */

/* Records that the ONNX value `name` is computed by node id with dtype dt. */
hcg_status onnx_define(onnx_ctx *c, const char *name, hcg_id id, hcg_dtype dt);
/* Looks a value up; NULL if absent. */
const onnx_value *onnx_lookup(const onnx_ctx *c, const char *name);

/* ---------------------------------------------------------------- node helpers (onnx_emit.c) */

/* Number of inputs of node n, not counting trailing absent ('') ones. */
int onnx_num_inputs(const Onnx__NodeProto *n);
/* True if input i is given (present and not ''). */
bool onnx_has_input(const Onnx__NodeProto *n, int i);
/* Input i of the node being mapped; fails if it is absent or undefined. */
hcg_status onnx_input(onnx_ctx *c, int i, const onnx_value **out);
/* Checks that input i has a dtype in mask; otherwise HCG_ERR_UNSUPPORTED naming the dtype. */
hcg_status onnx_want_dtype(onnx_ctx *c, int i, const onnx_value *v, unsigned mask);
/* Storage-only dtypes: hcg stores f16, u8 and i8 but computes on f32 and i32, so ops that ONNX runs
 * on FLOAT16 (UINT8, INT8) get those inputs cast to f32 (i32) and their result cast back: one rounding
 * per op for f16, like numpy's float16 arithmetic, and wrap-around for u8, like numpy's uint8.
 * onnx_want_computable accepts FLOAT16 wherever mask accepts FLOAT and UINT8, INT8 wherever it accepts
 * INT32; onnx_compute_in gives the id to feed the op (a cast node for f16 and u8 values);
 * onnx_emit_out emits the op and, when the ONNX result is FLOAT16, UINT8 or INT8, the cast back,
 * named out. */
hcg_status onnx_want_computable(onnx_ctx *c, int i, const onnx_value *v, unsigned mask);
/* The dtype hcg computes a storage-only dtype in (f16: f32; u8, i8: i32; others: themselves). */
hcg_dtype onnx_compute_dtype(hcg_dtype t);
hcg_id onnx_compute_in(onnx_ctx *c, const onnx_value *v);
/* y (computed in the compute dtype) cast back to result when that differs (named out). */
hcg_id onnx_cast_back(onnx_ctx *c, const char *out, hcg_dtype result, hcg_id y);
hcg_id onnx_emit_out(onnx_ctx *c, hcg_op op, const char *out, hcg_dtype result, const hcg_id *inputs, int n_inputs,
                     const hcg_attr *attrs, int n_attrs);
/* The constant value of an ONNX value known at load time (initializer, Constant), or NULL. */
const hcg_tensor *onnx_const_value(const onnx_ctx *c, const onnx_value *v);

/* Attribute lookup with type checks; absent attributes give def. A present attribute of the
 * wrong type is HCG_ERR_FORMAT. */
const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name);
hcg_status onnx_attr_int(onnx_ctx *c, const char *name, int64_t def, int64_t *out);
hcg_status onnx_attr_float(onnx_ctx *c, const char *name, double def, double *out);
hcg_status onnx_attr_string(onnx_ctx *c, const char *name, const char *def, char *buf, size_t len);
/* An INTS attribute (a pointer into the decoded model); *n = -1 when absent. */
hcg_status onnx_attr_ints(onnx_ctx *c, const char *name, const int64_t **ints, int *n);
/* Fails with HCG_ERR_UNSUPPORTED if the node has an attribute not in the NULL-terminated list. */
hcg_status onnx_check_attrs(onnx_ctx *c, const char *const *known);

/* Adds an op node. name NULL: a made-up name derived from the node's first output and hint. */
hcg_id onnx_emit(onnx_ctx *c, hcg_op op, const char *name, const char *hint, const hcg_id *inputs, int n_inputs,
                 const hcg_attr *attrs, int n_attrs);
/* Adds a constant node holding t (taken over); name NULL: made up from hint. */
hcg_id onnx_emit_const(onnx_ctx *c, const char *name, const char *hint, hcg_tensor *t);
/* A scalar (rank 0) or 1-D constant of dtype dt from doubles. */
hcg_id onnx_emit_scalar(onnx_ctx *c, const char *hint, hcg_dtype dt, double v);
hcg_id onnx_emit_i64s(onnx_ctx *c, const char *hint, const int64_t *v, int n);
/* A name not used by the graph nor by the model: "<base>/<hint>", "<base>/<hint>_1", ... */
hcg_status onnx_unique_name(const onnx_ctx *c, const char *base, const char *hint, char *buf, size_t len);
/* Output i's name, or NULL if absent (''). */
const char *onnx_output(const Onnx__NodeProto *n, int i);
/* Fails unless the node has between lo and hi inputs and exactly one output. */
hcg_status onnx_check_arity(onnx_ctx *c, int lo, int hi);

/* ---------------------------------------------------------------- tensors (onnx_tensor.c) */

/* ONNX TensorProto.DataType -> hcg dtype; false if hcg lacks it. DOUBLE maps to f32 only where
 * narrow_double is set (initializers and Constant values, see docs/onnx.md). */
bool onnx_dtype_to_hcg(int32_t onnx_type, bool narrow_double, hcg_dtype *out);
/* "FLOAT", "INT64", ... or "type N". */
const char *onnx_dtype_name(int32_t onnx_type);
/* hcg dtype -> ONNX DataType. */
int32_t onnx_dtype_from_hcg(hcg_dtype t);
/* Converts a TensorProto (typed fields, raw_data or external data under base_dir) into a new
 * tensor, checking every size. what names the tensor in messages. */
hcg_status onnx_tensor_to_hcg(const Onnx__TensorProto *tp, const char *base_dir, bool narrow_double,
                              const char *what, hcg_tensor **out);
/* protobuf-c decodes nested messages recursively without a depth limit, so a file nesting
 * graphs in attributes in graphs ... a million times deep would overflow the stack. This walks
 * the wire format (tags and lengths only, using the generated descriptors to know which fields
 * are messages) and fails if messages nest deeper than ONNX_MAX_NESTING; malformed bytes are
 * left for protobuf-c to reject. */
#define ONNX_MAX_NESTING 64
hcg_status onnx_check_nesting(const uint8_t *data, size_t len, const ProtobufCMessageDescriptor *root,
                              const char *label);
/* Reads a whole file into a new buffer (caller frees). */
hcg_status onnx_read_file(const char *path, uint8_t **data, size_t *len);

/* ---------------------------------------------------------------- op mapping (onnx_ops*.c) */

typedef hcg_status (*onnx_mapper)(onnx_ctx *c, const Onnx__NodeProto *n);

struct onnx_op_map {
    const char *op_type;
    int min_opset;        /* the oldest opset whose semantics the mapper implements */
    onnx_mapper map;
    hcg_op op;            /* for the shared mappers (elementwise, reductions) */
    unsigned dtypes;      /* the dtypes input 0 may have */
    unsigned attr_inputs; /* bit i: ONNX input i carries an attribute (must be constant when bound) */
};
typedef struct onnx_op_map onnx_op_map;

/* The mapping for an op type of the default domain, or NULL. */
const onnx_op_map *onnx_find_op(const char *op_type);
/* Maps one node (looks it up, checks the opset, calls its mapper). */
hcg_status onnx_map_node(onnx_ctx *c, const Onnx__NodeProto *n);

/* Mappers by family. */
hcg_status onnx_map_elementwise(onnx_ctx *c, const Onnx__NodeProto *n); /* binary ops */
hcg_status onnx_map_unary(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_variadic(onnx_ctx *c, const Onnx__NodeProto *n); /* Min Max Sum */
hcg_status onnx_map_pow(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_where(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_clip(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_cast(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_gelu(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_identity(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_dropout(onnx_ctx *c, const Onnx__NodeProto *n);

hcg_status onnx_map_matmul(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_gemm(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_softmax(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_layer_norm(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_reduce(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_reduce_composite(onnx_ctx *c, const Onnx__NodeProto *n); /* L1 L2 SumSquare LogSum LogSumExp */

hcg_status onnx_map_transpose(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_reshape(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_flatten(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_squeeze(onnx_ctx *c, const Onnx__NodeProto *n); /* Squeeze, Unsqueeze */
hcg_status onnx_map_concat(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_split(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_slice(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_gather(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_expand(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_trilu(onnx_ctx *c, const Onnx__NodeProto *n);

hcg_status onnx_map_shape(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_constant(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_constant_of_shape(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_range(onnx_ctx *c, const Onnx__NodeProto *n);
/* onnx_ops_quant.c */
hcg_status onnx_map_dequantize_linear(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_quantize_linear(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_matmul_integer(onnx_ctx *c, const Onnx__NodeProto *n);
hcg_status onnx_map_dynamic_quantize_linear(onnx_ctx *c, const Onnx__NodeProto *n);
/* onnx_ops_loss.c */
hcg_status onnx_map_class_loss(onnx_ctx *c, const Onnx__NodeProto *n); /* SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss */

#endif
