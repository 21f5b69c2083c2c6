/* hcg.h — the public C API of hcg: status codes, dtypes and shapes, host tensors, the graph
 * builder, loading and saving graphs, devices, sessions that plan and run a graph (and what their
 * plans are: placement, timings, the explain table), training, distributed runs, ensembles and
 * distillation, text generation, and the small file helpers the `hcg` command uses.
 * This is the only header a user includes; the `hcg` command itself is built on it alone.
 *
 * Ownership. A call that returns a new object or a new tensor through an `out` pointer gives it
 * to the caller (free it with the matching *_free; strings returned as `char *` with hcg_free or
 * free()). A `const char *` result is borrowed: it lives as long as the object it describes (a
 * graph's names as long as the graph; a session's plan strings until its next run, prepare,
 * replan or free). Inputs are borrowed for the call (options structs and their strings too: what
 * an object keeps of them it copies), except where a call says it takes ownership:
 * hcg_param and hcg_constant take their tensor *even when they fail* (the tensor is freed then),
 * so a chain of builder calls needs no clean-up of values. A graph must outlive the sessions,
 * training sessions and decoders made from it.
 *
 * Threads. Every call may be made from any thread. Errors are per thread (hcg_last_error).
 * Different objects may be used from different threads at the same time: sessions on different
 * threads may run at once, even over the same graph and the same devices (devices serialise
 * their own work). One object is not used by two threads at once: a session, a training session,
 * a decoder or a graph being built needs the caller to serialise its calls (a graph only read by
 * sessions may be shared). Devices (hcg_device) are shared process-wide and read-only, except
 * hcg_device_calibrate, which must not run while sessions use the device. hcg_shutdown ends
 * everything and is called when no other hcg call is running. */
#ifndef HCG_HCG_H
#define HCG_HCG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- the library */

/* HCG_API marks the library's exported functions: libhcg is built with hidden visibility, so
 * only what this header declares is visible to programs. HCG_API_PRINTF lets the compiler check
 * printf-style arguments. (Portable spellings of compiler attributes; the library's own code
 * uses graph/compiler.h.) */
#if defined(__GNUC__) || defined(__clang__)
#define HCG_API __attribute__((visibility("default")))
#define HCG_API_PRINTF(fmt_index, args_index) __attribute__((format(printf, fmt_index, args_index)))
#else
#define HCG_API
#define HCG_API_PRINTF(fmt_index, args_index)
#endif

/* The version of this header (CMakeLists.txt reads the project's version from here). Before 1.0
 * the shared library's SONAME carries major.minor: a new minor version may change the ABI. */
#define HCG_VERSION_MAJOR 0
#define HCG_VERSION_MINOR 2
#define HCG_VERSION_PATCH 0
#define HCG_VERSION_STRING "0.2.0"
#define HCG_VERSION_NUMBER (HCG_VERSION_MAJOR * 10000 + HCG_VERSION_MINOR * 100 + HCG_VERSION_PATCH)

/* The version of the library loaded at run time ("0.2.0"), which may differ from the header's. */
HCG_API const char *hcg_version(void);
/* The same as HCG_VERSION_NUMBER computes it. */
HCG_API int hcg_version_number(void);

/* Frees what hcg returns as `char *` (JSON, text) or hands over as a raw block. */
HCG_API void hcg_free(void *p);

/* Releases every device (the backends' contexts, queues, programs and threads). Call it once no
 * session, training session or decoder is left and no other hcg call runs; later calls discover
 * the devices again. Not needed at exit: the operating system reclaims everything. */
HCG_API void hcg_shutdown(void);

/* Seconds on a monotonic clock (for timing runs). */
HCG_API double hcg_now(void);

/* ---------------------------------------------------------------- status and errors */

/* Every fallible call returns an hcg_status; on failure hcg_last_error() (per thread) holds a
 * message with context: file:line:column for parse errors, op and node for run errors, the
 * OpenCL error name for device errors. */
typedef enum hcg_status {
    HCG_OK = 0,
    HCG_ERR_ARG,         /* a bad argument to an API call */
    HCG_ERR_PARSE,       /* a syntax error in a graph file */
    HCG_ERR_GRAPH,       /* a graph that is not well formed: unknown op, arity, attribute */
    HCG_ERR_SHAPE,       /* a shape or dtype mismatch found by shape inference */
    HCG_ERR_FORMAT,      /* a malformed or truncated file (safetensors, npy, onnx) */
    HCG_ERR_IO,          /* a file could not be opened, read or written */
    HCG_ERR_NOMEM,       /* out of host memory */
    HCG_ERR_UNSUPPORTED, /* no selected device supports an op, or a feature is missing */
    HCG_ERR_DEVICE,      /* a device (OpenCL, CLBlast) call failed */
    HCG_ERR_NOT_FOUND,   /* a named thing (device, tensor, input) does not exist */
    HCG_ERR_RUNTIME,     /* bad data found while running (an index out of range, ...) */
    HCG_ERR_INTERNAL     /* a bug in hcg */
} hcg_status;

HCG_API const char *hcg_status_name(hcg_status s);
/* The message of the last failure on this thread ("" if none). */
HCG_API const char *hcg_last_error(void);
/* Sets this thread's message and returns code: for callbacks that fail (hcg_generate_options.on_step)
 * and programs that report their own errors the way hcg does. */
HCG_API hcg_status hcg_error(hcg_status code, const char *fmt, ...) HCG_API_PRINTF(2, 3);
/* Puts context ("model.hcg:3:5: ") in front of this thread's message; returns code. */
HCG_API hcg_status hcg_error_prefix(hcg_status code, const char *fmt, ...) HCG_API_PRINTF(2, 3);

/* ---------------------------------------------------------------- dtypes and shapes */

typedef enum hcg_dtype {
    HCG_F32 = 0,
    HCG_F16, /* storage only: compute ops take f32; cast converts */
    HCG_I32,
    HCG_I64,
    HCG_U8,
    HCG_BOOL, /* one byte, 0 or 1 */
    HCG_I8,   /* storage and quantized weights: compute ops take f32 or i32; cast, dequantize convert */
    HCG_DTYPE_COUNT
} hcg_dtype;

HCG_API size_t hcg_dtype_size(hcg_dtype t);
HCG_API const char *hcg_dtype_name(hcg_dtype t); /* "f32", "f16", "i32", "i64", "u8", "bool", "i8" */
/* Parses a dtype name; returns false if unknown. */
HCG_API bool hcg_dtype_parse(const char *name, hcg_dtype *out);

#define HCG_MAX_RANK 8

/* A dimension is a non-negative size, or (in declared input shapes and shape attributes) a named
 * symbol such as B or S, encoded by hcg_sym() as a value <= HCG_SYM_BASE. */
#define HCG_SYM_BASE (-(INT64_C(1) << 40))
#define HCG_DIM_IS_SYM(d) ((d) <= HCG_SYM_BASE)
#define HCG_DIM_SYM_ID(d) ((int)(HCG_SYM_BASE - (d)))
#define HCG_SYM_DIM(id) (HCG_SYM_BASE - (int64_t)(id))

typedef struct hcg_shape {
    int rank;
    int64_t dims[HCG_MAX_RANK];
} hcg_shape;

/* Builds a shape from rank and dims (dims may be NULL when rank is 0). */
HCG_API hcg_shape hcg_shape_make(int rank, const int64_t *dims);
/* Element count of a concrete shape; false if it overflows (or holds a symbol). */
HCG_API bool hcg_shape_numel(const hcg_shape *s, int64_t *out);
HCG_API bool hcg_shape_equal(const hcg_shape *a, const hcg_shape *b);
/* Writes "[2, 3, 4]" (symbols need a graph: see hcg_graph_format_shape). */
HCG_API void hcg_shape_format(const hcg_shape *s, char *buf, size_t n);

/* ---------------------------------------------------------------- host tensors */

/* A dense row-major tensor in host memory. Tensors made by hcg own their data; a tensor may also
 * borrow memory (owns_data false), e.g. a weight mapped from a safetensors file. */
typedef struct hcg_tensor {
    hcg_dtype dtype;
    hcg_shape shape;
    void *data;
    size_t nbytes;
    bool owns_data;
} hcg_tensor;

/* Allocates a zero-filled tensor. */
HCG_API hcg_status hcg_tensor_new(hcg_dtype dtype, const hcg_shape *shape, hcg_tensor **out);
/* Wraps memory the caller keeps alive (not freed by hcg_tensor_free). */
HCG_API hcg_status hcg_tensor_wrap(hcg_dtype dtype, const hcg_shape *shape, void *data, hcg_tensor **out);
HCG_API hcg_status hcg_tensor_clone(const hcg_tensor *t, hcg_tensor **out);
HCG_API void hcg_tensor_free(hcg_tensor *t);

/* .npy files: f32, f16, i32, i64, u8, bool, i8, little-endian, C order. Saving writes a temporary
 * file beside the target and renames it, so no half-written file is ever left. */
HCG_API hcg_status hcg_npy_load(const char *path, hcg_tensor **out);
HCG_API hcg_status hcg_npy_save(const char *path, const hcg_tensor *t);

/* ---------------------------------------------------------------- ops and graphs */

/* The op list. Every op's arity, attributes, shape rule and reference semantics live in one
 * table (graph/op_table.c); docs/ops.md documents them. */
#define HCG_OP_LIST(X)                                                                         \
    X(INPUT, "input") X(PARAM, "param") X(CONSTANT, "constant")                                \
    X(ADD, "add") X(SUB, "sub") X(MUL, "mul") X(DIV, "div") X(POW, "pow") X(MAX, "max")        \
    X(MIN, "min") X(EQUAL, "equal") X(LESS, "less") X(GREATER, "greater") X(AND, "and")        \
    X(OR, "or") X(WHERE, "where")                                                              \
    X(NEG, "neg") X(EXP, "exp") X(LOG, "log") X(SQRT, "sqrt") X(RSQRT, "rsqrt")                \
    X(TANH, "tanh") X(SIGMOID, "sigmoid") X(RELU, "relu") X(GELU, "gelu") X(SILU, "silu")      \
    X(ERF, "erf") X(ABS, "abs") X(RECIPROCAL, "reciprocal") X(NOT, "not") X(CLIP, "clip")      \
    X(CAST, "cast")                                                                            \
    X(MATMUL, "matmul") X(GEMM, "gemm")                                                        \
    X(REDUCE_SUM, "reduce_sum") X(REDUCE_MEAN, "reduce_mean") X(REDUCE_MAX, "reduce_max")      \
    X(REDUCE_PROD, "reduce_prod")                                                              \
    X(SOFTMAX, "softmax") X(LOG_SOFTMAX, "log_softmax")                                        \
    X(LAYER_NORM, "layer_norm") X(RMS_NORM, "rms_norm")                                        \
    X(RESHAPE, "reshape") X(SQUEEZE, "squeeze") X(UNSQUEEZE, "unsqueeze")                      \
    X(FLATTEN, "flatten") X(TRANSPOSE, "transpose") X(CONCAT, "concat") X(SLICE, "slice")      \
    X(SPLIT, "split") X(GATHER, "gather") X(EXPAND, "expand") X(RANGE, "range")                \
    X(SHAPE, "shape") X(CONSTANT_OF_SHAPE, "constant_of_shape") X(TRILU, "trilu")              \
    X(CAUSAL_MASK, "causal_mask")                                                              \
    X(STATE, "state") X(ONE_HOT, "one_hot") X(ARGMAX, "argmax")                                \
    X(UNARY_GRAD, "unary_grad") X(SOFTMAX_GRAD, "softmax_grad")                                \
    X(LOG_SOFTMAX_GRAD, "log_softmax_grad") X(LAYER_NORM_GRAD, "layer_norm_grad")              \
    X(RMS_NORM_GRAD, "rms_norm_grad") X(GATHER_GRAD, "gather_grad") X(SLICE_GRAD, "slice_grad") \
    X(SOFTMAX_CROSS_ENTROPY, "softmax_cross_entropy") X(NLL_LOSS, "nll_loss")                  \
    X(KL_DIV, "kl_div") X(MSE_LOSS, "mse_loss")                                                \
    X(SGD_UPDATE, "sgd_update") X(ADAM_UPDATE, "adam_update")                                                        \
    X(FUSED_MATMUL, "fused_matmul") X(ATTENTION, "attention") X(ASSIGN, "assign")              \
    X(KV_ATTENTION, "kv_attention") X(CACHE_WRITE, "cache_write")                              \
    X(ALLREDUCE_START, "allreduce_start") X(ALLREDUCE_WAIT, "allreduce_wait") X(SEND, "send")  \
    X(RECV, "recv")                                                                            \
    X(DEQUANTIZE, "dequantize") X(QUANTIZE, "quantize") X(MATMUL_INTEGER, "matmul_integer")    \
    X(QUANT_MATMUL, "quant_matmul")

typedef enum hcg_op {
#define HCG_OP_ENUM_(id, name) HCG_OP_##id,
    HCG_OP_LIST(HCG_OP_ENUM_)
#undef HCG_OP_ENUM_
    HCG_OP_COUNT
} hcg_op;

HCG_API const char *hcg_op_name(hcg_op op);
/* Looks an op up by its name; false if there is none. */
HCG_API bool hcg_op_parse(const char *name, hcg_op *out);
/* The op table (docs/ops.md, `hcg ops`): how many data inputs an op takes (max -1: any number),
 * its attributes by slot (NULL past the last; *required says whether a node must give it), and a
 * one-line description. */
HCG_API void hcg_op_arity(hcg_op op, int *min_inputs, int *max_inputs);
HCG_API const char *hcg_op_attr_name(hcg_op op, int slot, bool *required);
HCG_API const char *hcg_op_doc(hcg_op op);

/* A node id. Builder calls return a negative id on failure (hcg_last_error says why) and accept
 * negative ids as inputs by failing again, so a chain of builder calls needs one check at the end. */
typedef int32_t hcg_id;

typedef enum hcg_attr_kind {
    HCG_ATTR_NONE = 0,
    HCG_ATTR_INT,    /* int64 */
    HCG_ATTR_FLOAT,  /* double */
    HCG_ATTR_INTS,   /* list of int64; may hold symbols (HCG_SYM_DIM) in shape lists */
    HCG_ATTR_FLOATS, /* list of double */
    HCG_ATTR_STRING
} hcg_attr_kind;

/* An attribute as passed to the builder. */
typedef struct hcg_attr {
    const char *name;
    hcg_attr_kind kind;
    int64_t i;
    double f;
    const int64_t *ints;
    const double *floats;
    int n; /* length of ints / floats */
    const char *s;
} hcg_attr;

#define HCG_ATTR_I(nm, v) ((hcg_attr){.name = (nm), .kind = HCG_ATTR_INT, .i = (v)})
#define HCG_ATTR_F(nm, v) ((hcg_attr){.name = (nm), .kind = HCG_ATTR_FLOAT, .f = (v)})
#define HCG_ATTR_IS(nm, p, cnt) ((hcg_attr){.name = (nm), .kind = HCG_ATTR_INTS, .ints = (p), .n = (cnt)})
#define HCG_ATTR_FS(nm, p, cnt) ((hcg_attr){.name = (nm), .kind = HCG_ATTR_FLOATS, .floats = (p), .n = (cnt)})
#define HCG_ATTR_S(nm, v) ((hcg_attr){.name = (nm), .kind = HCG_ATTR_STRING, .s = (v)})

typedef struct hcg_graph hcg_graph;

HCG_API hcg_graph *hcg_graph_new(void);
HCG_API void hcg_graph_free(hcg_graph *g);

/* A named symbolic dimension ("B", "S"), created on first use; returns its encoded dim value. */
HCG_API int64_t hcg_sym(hcg_graph *g, const char *name);

/* A graph input; dims may hold symbols from hcg_sym. */
HCG_API hcg_id hcg_input(hcg_graph *g, const char *name, hcg_dtype dtype, int rank, const int64_t *dims);
/* A state tensor: it lives on one device across the runs of a session, starting at zeros, and ops
 * that update it in place (kv_attention's caches, cache_write, optimizer updates) change it for
 * later runs (a decoder's key/value cache). dims may hold symbols bound by the inputs' shapes. */
HCG_API hcg_id hcg_state(hcg_graph *g, const char *name, hcg_dtype dtype, int rank, const int64_t *dims);
/* A trained parameter. The graph takes ownership of the tensor, even when the call fails (the
 * tensor is freed then): pass a tensor you will not use again. */
HCG_API hcg_id hcg_param(hcg_graph *g, const char *name, hcg_tensor *value);
/* A constant. The graph takes ownership of the tensor, even when the call fails (freed then). */
HCG_API hcg_id hcg_constant(hcg_graph *g, const char *name, hcg_tensor *value);
/* Any op. name may be NULL (a unique name is made up). Attributes are checked against the op's
 * schema; shapes are checked when the graph is bound to input shapes. */
HCG_API hcg_id hcg_add_node(hcg_graph *g, hcg_op op, const char *name, const hcg_id *inputs, int n_inputs,
                const hcg_attr *attrs, int n_attrs);
/* Marks a node as a graph output, named out_name (NULL: the node's name). */
HCG_API hcg_status hcg_output(hcg_graph *g, hcg_id id, const char *out_name);
/* Pins a node to a device ("cpu", "opencl:1"); the scheduler honours it or fails. */
HCG_API hcg_status hcg_pin(hcg_graph *g, hcg_id id, const char *device);

/* Convenience builders for the common ops. */
HCG_API hcg_id hcg_add(hcg_graph *g, hcg_id a, hcg_id b);
HCG_API hcg_id hcg_sub(hcg_graph *g, hcg_id a, hcg_id b);
HCG_API hcg_id hcg_mul(hcg_graph *g, hcg_id a, hcg_id b);
HCG_API hcg_id hcg_div(hcg_graph *g, hcg_id a, hcg_id b);
HCG_API hcg_id hcg_matmul(hcg_graph *g, hcg_id a, hcg_id b, bool transpose_a, bool transpose_b);
HCG_API hcg_id hcg_unary(hcg_graph *g, hcg_op op, hcg_id x);
HCG_API hcg_id hcg_softmax(hcg_graph *g, hcg_id x, int axis);
HCG_API hcg_id hcg_layer_norm(hcg_graph *g, hcg_id x, hcg_id scale, hcg_id bias, int axis, double eps);
HCG_API hcg_id hcg_reshape(hcg_graph *g, hcg_id x, int rank, const int64_t *dims);
HCG_API hcg_id hcg_transpose(hcg_graph *g, hcg_id x, int rank, const int64_t *perm);

/* Introspection. */
HCG_API int hcg_graph_num_nodes(const hcg_graph *g);
HCG_API int hcg_graph_num_inputs(const hcg_graph *g);
HCG_API int hcg_graph_num_outputs(const hcg_graph *g);
HCG_API const char *hcg_graph_input_name(const hcg_graph *g, int i);
HCG_API const char *hcg_graph_output_name(const hcg_graph *g, int i);
/* Looks a node up by name; negative if absent. */
HCG_API hcg_id hcg_graph_find(const hcg_graph *g, const char *name);
/* A node's name, op and pin (the device it is pinned to, NULL if none); NULL / HCG_OP_COUNT for an
 * id that is not a node of g. Ids run from 0 to hcg_graph_num_nodes(g) - 1. */
HCG_API const char *hcg_graph_node_name(const hcg_graph *g, hcg_id id);
HCG_API hcg_op hcg_graph_node_op(const hcg_graph *g, hcg_id id);
HCG_API const char *hcg_graph_node_pin(const hcg_graph *g, hcg_id id);
/* The weights file a param's value was read from, as the graph file names it (relative to the
 * graph file's folder unless absolute); NULL for other nodes and params without one. */
HCG_API const char *hcg_graph_node_weight_file(const hcg_graph *g, hcg_id id);
/* Input i's declared dtype and shape (dims may be symbols: HCG_DIM_IS_SYM). */
HCG_API hcg_status hcg_graph_input_type(const hcg_graph *g, int i, hcg_dtype *dtype, hcg_shape *shape);
/* The name of a symbolic dim ("B"), or NULL if dim is not one of g's symbols. */
HCG_API const char *hcg_graph_sym_name(const hcg_graph *g, int64_t dim);
/* Every input's concrete shape, with each symbol set from the name=value list (symbols the list
 * does not name get a small trial value). shapes has hcg_graph_num_inputs entries. */
HCG_API hcg_status hcg_graph_input_shapes(const hcg_graph *g, const char *const *sym_names, const int64_t *sym_values,
                                          int n_syms, hcg_shape *shapes);
/* Whether nodes are pinned to devices of other MPI ranks ("rank1:cpu"): sessions then run each
 * rank's part under mpirun (hcg_dist_init). */
HCG_API bool hcg_graph_names_ranks(const hcg_graph *g);

/* Loads a graph: ".hcg" text (weights from the safetensors files it names) or ".onnx". */
HCG_API hcg_status hcg_load(const char *path, hcg_graph **out);
/* Writes the text format; parameters go to a safetensors file named like the graph
 * ("model.hcg" -> "model.safetensors"). Both files are written atomically. */
HCG_API hcg_status hcg_save(const hcg_graph *g, const char *path);

/* ---------------------------------------------------------------- devices */

typedef enum hcg_device_type {
    HCG_DEVICE_CPU = 0,
    HCG_DEVICE_GPU,
    HCG_DEVICE_ACCELERATOR
} hcg_device_type;

HCG_API const char *hcg_device_type_name(hcg_device_type t); /* "cpu", "gpu", "accelerator" */

typedef struct hcg_device hcg_device;

/* All devices found (the CPU first, then OpenCL devices in platform/device order).
 * Devices are discovered once per process. */
HCG_API int hcg_device_count(void);
HCG_API hcg_device *hcg_device_get(int index);
HCG_API hcg_device *hcg_device_find(const char *name);
HCG_API const char *hcg_device_name(const hcg_device *d);        /* "cpu", "opencl:0", ... */
HCG_API hcg_device_type hcg_device_get_type(const hcg_device *d); /* the device's type */
HCG_API const char *hcg_device_description(const hcg_device *d);  /* one line */
/* A JSON object describing the device (caller frees with hcg_free or free()). */
HCG_API char *hcg_device_json(const hcg_device *d);
/* The backend that runs the device: "cpu", "opencl", "fake" (test devices), "sim" (hcg_simulate). */
HCG_API const char *hcg_device_backend(const hcg_device *d);

/* What a device costs the scheduler: measured by hcg_device_calibrate (`hcg devices
 * --calibrate`) and stored for later processes, defaults before that. */
typedef struct hcg_cost_profile {
    double gflops;          /* sustained single-precision GEMM GFLOP/s */
    double mem_gbps;        /* device memory bandwidth, GB/s */
    double launch_us;       /* per-kernel launch latency, microseconds */
    double h2d_gbps;        /* host to device bandwidth, GB/s (CPU: memcpy bandwidth) */
    double d2h_gbps;        /* device to host bandwidth, GB/s */
    double link_latency_us; /* latency of one transfer, microseconds */
    bool calibrated;        /* measured (true) or defaults (false) */
} hcg_cost_profile;

HCG_API hcg_cost_profile hcg_device_cost(const hcg_device *d);
/* The compute the device shares with others ("host" for the cpu device and OpenCL CPU devices,
 * which run on the same cores; "" for hardware of its own); *cores (may be NULL) gets how many of
 * those cores its kernels keep busy (0: all), *of (may be NULL) how many there are. */
HCG_API const char *hcg_device_shares(const hcg_device *d, int *cores, int *of);
/* Notes from device discovery, one per line ("no OpenCL platform found: running on the CPU",
 * a cache folder that cannot be used); "" if none. */
HCG_API const char *hcg_device_notes(void);
/* Measures the device's cost profile (and tunes what it can: CLBlast's GEMM), applies it and stores
 * it for later processes. Progress goes to log (may be NULL). Not while sessions use the device. */
HCG_API hcg_status hcg_device_calibrate(hcg_device *d, FILE *log);

/* Selects devices from a spec: a comma list of names ("opencl:1,cpu"), a type ("cpu", "gpu",
 * "accelerator"), "opencl" (every OpenCL device) or "auto" (every device). NULL or "" means
 * $HCG_DEVICES, else "auto". Fills up to max devices. */
HCG_API hcg_status hcg_devices_select(const char *spec, hcg_device **devices, int max, int *n_out);

/* ---------------------------------------------------------------- sessions */

typedef struct hcg_session hcg_session;

typedef struct hcg_session_options {
    const char *devices; /* a device spec, as for hcg_devices_select */
    bool profile;        /* measure each node's time; later plans use the measurements */
    /* Memory each device may hold for the session, checked when a plan is made (before anything
     * is allocated): "4G" for every device, or per device "opencl:0=2G,cpu=8G" (K, M, G, T are
     * binary units). It only lowers what each device reports. NULL: what the devices report. */
    const char *max_memory;
    /* Warnings (a device dropped after a failure, pins released) are printed to stderr unless
     * quiet; hcg_session_warnings returns them either way. */
    bool quiet;
    /* The graph rewrites run on each bound graph (fusions into fused_matmul, attention, gelu,
     * layer_norm): NULL means $HCG_PASSES, else "all"; "none" binds without any (training does:
     * fused ops have no gradient rules); or a comma list of pass names (`hcg run --help`). */
    const char *passes;
} hcg_session_options;

/* A session runs one graph on a set of devices. It keeps weights resident on the devices that
 * use them and caches a plan per input shape signature. The graph must outlive the session. */
HCG_API hcg_status hcg_session_new(const hcg_graph *g, const hcg_session_options *opt, hcg_session **out);
HCG_API void hcg_session_free(hcg_session *s);

/* Runs the graph. inputs are given in the graph's input order (hcg_graph_input_name); outputs
 * (an array of hcg_graph_num_outputs pointers) receive new tensors the caller frees. */
HCG_API hcg_status hcg_session_run(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor **outputs);

/* Like hcg_session_run, but writes into caller-owned output tensors (outputs[j] must have the
 * output's dtype and shape), so repeated runs allocate nothing. */
HCG_API hcg_status hcg_session_run_into(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor *const *outputs);

/* State tensors (hcg_state, `state` in a .hcg file) live on the device that updates them, from the
 * first run that uses them (zeros, or a value set before) to the end of the session: a decoder's
 * key/value cache is written by one run and read by the next without leaving the device.
 * get copies a state's current value to a new host tensor; set replaces it (before any run: its
 * starting value); reset forgets every state and the plans that used them, so the next run starts
 * from zeros. A state whose declared shape has symbols (a cache [B, ...]) exists once per bound
 * shape, named "name@[2, 4, 128, 24]": get finds it by its plain name when there is one shape;
 * set needs the full name. */
HCG_API hcg_status hcg_session_get_state(hcg_session *s, const char *name, hcg_tensor **out);
HCG_API hcg_status hcg_session_set_state(hcg_session *s, const char *name, const hcg_tensor *t);
HCG_API hcg_status hcg_session_reset_states(hcg_session *s);
/* A device that fails during a run (an allocation, a program build, a transfer, a kernel) is
 * dropped from the session with a warning, and the run is planned again on the remaining
 * selected devices and repeated from its inputs, so its outputs are what a clean run gives.
 * Only when no selected device is left does the run fail, naming the device and the call.
 * The warnings so far, one per line ("" if none). */
HCG_API const char *hcg_session_warnings(const hcg_session *s);

/* Writes a Chrome-trace JSON (Perfetto, chrome://tracing) of the last run. */
HCG_API hcg_status hcg_session_write_trace(const hcg_session *s, const char *path);

/* ---------------------------------------------------------------- what a session planned */

/* A session's current plan is the one its last run used, or the one hcg_session_prepare made
 * last. The calls below describe it; strings they return live until the session's next run,
 * prepare, replan or free. Without a current plan they fail with HCG_ERR_NOT_FOUND. */

/* Binds the graph to these input shapes (one per graph input), places every node, allocates and
 * prepares it (kernels built, weights uploaded) without running: the plan becomes the current one
 * and a run with inputs of these shapes uses it. */
HCG_API hcg_status hcg_session_prepare(hcg_session *s, const hcg_shape *shapes);
/* Forgets the cached plans, so that the next run or prepare places the graph again, with the node
 * times measured by profiled runs so far (a profiled session: measured times replace the cost
 * model's estimates). */
HCG_API hcg_status hcg_session_replan(hcg_session *s);

typedef struct hcg_plan_info {
    int n_nodes;              /* nodes that run (rows of the table: hcg_session_plan_node) */
    int n_devices;            /* devices of the plan (hcg_session_plan_device), used or not */
    int n_segments, n_copies; /* runs of nodes on one device, and copies between devices */
    int n_rewrites;           /* fusions the rewrite passes made (hcg_session_plan_rewrite) */
    double predicted_seconds; /* the scheduler's predicted makespan */
    double plan_seconds;      /* time spent placing the nodes */
    /* When the plan was made: binding, placing, allocating and preparing it, of which binding. */
    double setup_seconds, bind_seconds;
    bool measured;            /* the last run was profiled: the rows have measured times */
    double last_run_seconds;  /* wall time of the last run (0 before one) */
} hcg_plan_info;
HCG_API hcg_status hcg_session_plan_info(const hcg_session *s, hcg_plan_info *out);

/* One row of the placement table: a node that runs, in execution order. */
typedef struct hcg_plan_node {
    const char *name;           /* the node's name in the bound graph (a fused node keeps its last name) */
    hcg_op op;
    const char *device;         /* where it runs */
    hcg_dtype dtype;
    hcg_shape shape;            /* its output's */
    double predicted_start;     /* seconds from the run's start, as the scheduler predicts */
    double predicted_seconds;
    double measured_start;      /* from the last profiled run (NaN if not measured) */
    double measured_seconds;
} hcg_plan_node;
HCG_API hcg_status hcg_session_plan_node(const hcg_session *s, int i, hcg_plan_node *out);

/* Per device of the plan: its work and memory. */
typedef struct hcg_plan_device {
    const char *name;
    int n_nodes;
    double predicted_busy_seconds;
    size_t arena_bytes;       /* the device's arena (intermediate tensors) */
    int arena_buffers;        /* in this many buffers (none larger than the device allows) */
    size_t arena_lower_bound; /* the most bytes alive at once: what any arena needs */
    size_t state_bytes;       /* state tensors living there */
} hcg_plan_device;
HCG_API hcg_status hcg_session_plan_device(const hcg_session *s, int d, hcg_plan_device *out);
/* A rewrite the passes made ("attention 'attn': softmax(q k^T / 8) v"), i < n_rewrites. */
HCG_API const char *hcg_session_plan_rewrite(const hcg_session *s, int i);
/* Where a node of the session's graph runs in the current plan: a device name, or NULL when the
 * node does not run there (an input or weight, folded into a constant, fused into another node,
 * or not a node of the graph). */
HCG_API const char *hcg_session_node_device(const hcg_session *s, const char *node);
/* The placement table as text (what `hcg run --explain` prints): the rows, the predicted makespan,
 * per-device work and memory, predicted overlap between devices and the rewrites. */
HCG_API hcg_status hcg_session_explain(const hcg_session *s, FILE *f);
/* The same as a string (free with hcg_free), NULL on failure. */
HCG_API char *hcg_session_explain_text(const hcg_session *s);
/* A Chrome trace of the current plan's predicted timeline (hcg_session_write_trace: the last run's). */
HCG_API hcg_status hcg_session_write_plan_trace(const hcg_session *s, const char *path);
/* The rewrite passes the session binds with ("all", "none" or a list). */
HCG_API const char *hcg_session_passes(const hcg_session *s);

/* ---------------------------------------------------------------- simulated devices */

#define HCG_MAX_DEVICES 16

/* What hcg would do on devices that are not here: planning for devices described by cost
 * profiles, and the predicted makespans of the alternatives. */
typedef struct hcg_simulation {
    int n_devices;
    char device[HCG_MAX_DEVICES][32];  /* the simulated devices' names */
    int n_nodes;                       /* of the bound graph */
    double chosen;                     /* seconds: the plan hcg would use (the best of the next two) */
    double heft;                       /* hcg's placement over all devices */
    double single[HCG_MAX_DEVICES];    /* everything on one device (INFINITY: it cannot run every node) */
    double greedy;                     /* a greedy priority list (GPUs, accelerators, then the rest) */
    int choice;                        /* -1: the HEFT placement; else the single device chosen */
} hcg_simulation;

/* Binds g to shapes and plans it for the devices of a JSON file of cost profiles:
 * {"devices": [{"name", "type", "host", "gflops", "mem_gbps", "launch_us", "h2d_gbps", "d2h_gbps",
 * "link_latency_us", "shares", "cores", "shared_cores", "supports" | "unsupported": [ops]}]}. */
HCG_API hcg_status hcg_simulate(const hcg_graph *g, const hcg_shape *shapes, const char *profiles_path,
                                hcg_simulation *out);

/* ---------------------------------------------------------------- training */

typedef enum hcg_optimizer { HCG_OPTIM_SGD = 0, HCG_OPTIM_ADAM, HCG_OPTIM_ADAMW } hcg_optimizer;
typedef enum hcg_lr_schedule { HCG_LR_CONSTANT = 0, HCG_LR_COSINE, HCG_LR_LINEAR } hcg_lr_schedule;

/* How to train. Zero-initialised options are plain SGD without momentum; lr must be set. The
 * update rules are PyTorch's (torch.optim.SGD, Adam, AdamW) step for step. */
typedef struct hcg_train_options {
    const char *loss;           /* the graph output to minimise: an f32 scalar */
    hcg_optimizer optimizer;
    double lr;
    double momentum, dampening; /* SGD */
    bool nesterov;              /* SGD */
    double weight_decay;        /* SGD, Adam: L2 added to the gradient; AdamW: decoupled decay */
    double beta1, beta2, eps;   /* Adam, AdamW; 0 means PyTorch's defaults 0.9, 0.999, 1e-8 */
    double clip_norm;           /* > 0: scale the gradients so their global L2 norm is at most this */
    /* The learning rate at step k (from 0): lr * (k + 1) / warmup_steps during the warm-up, then
     * constant, or decaying to min_lr at total_steps (cosine or linear). */
    hcg_lr_schedule schedule;
    int64_t warmup_steps, total_steps;
    double min_lr;
    const char *const *freeze; /* fnmatch patterns: params whose names match are not trained */
    int n_freeze;
    const char *devices; /* a device spec, as for sessions */
    bool profile;
    /* Data-parallel training over MPI (hcg_dist_init; an error when hcg has no MPI): every rank runs
     * the session on its share of each global batch (the same number of rows on every rank) and
     * the gradients are averaged over the ranks before the updates (MPI all-reduce, in buckets of
     * about bucket_bytes (0: 1 MiB) that start as soon as their gradients exist), so every rank
     * keeps the same parameters. Rank 0's initial parameters are broadcast; hcg_train_step's loss
     * is the mean over the ranks; rank 0 alone writes checkpoints and saved params. */
    bool distributed;
    int64_t bucket_bytes;
} hcg_train_options;

/* A training session: the graph's loss, its gradient (reverse-mode autodiff as graph nodes) and
 * the optimizer's updates planned as one step on the selected devices. Trainable parameters and
 * optimizer state stay on the device that updates them between steps; a step never copies them to
 * the host. The graph must outlive the session. Trainable: every f32 param the loss depends on
 * whose name matches no freeze pattern. */
typedef struct hcg_train_session hcg_train_session;

HCG_API hcg_status hcg_train_session_new(const hcg_graph *g, const hcg_train_options *opt, hcg_train_session **out);
HCG_API void hcg_train_session_free(hcg_train_session *t);
/* One step on a batch (inputs in the graph's input order); *loss (may be NULL) gets its loss. A
 * loss that is not finite is an error (HCG_ERR_RUNTIME) naming the step. */
HCG_API hcg_status hcg_train_step(hcg_train_session *t, const hcg_tensor *const *inputs, float *loss);
/* Runs the graph (all its outputs, as hcg_session_run) with the current parameters. */
HCG_API hcg_status hcg_train_eval(hcg_train_session *t, const hcg_tensor *const *inputs, hcg_tensor **outputs);
/* Plans a step for these input shapes (one per graph input) without running it; the plan becomes
 * the current plan of hcg_train_get_session(t) (hcg_session_plan_info, hcg_session_explain). */
HCG_API hcg_status hcg_train_prepare(hcg_train_session *t, const hcg_shape *shapes);
/* Steps taken (restored by hcg_train_checkpoint_load). */
HCG_API int64_t hcg_train_steps_done(const hcg_train_session *t);
/* The learning rate the schedule gives step k (from 0). */
HCG_API double hcg_train_lr_at(const hcg_train_session *t, int64_t step);
/* The trainable parameters, by name. */
HCG_API int hcg_train_num_params(const hcg_train_session *t);
HCG_API const char *hcg_train_param_name(const hcg_train_session *t, int i);
/* A parameter's current value (a new tensor). */
HCG_API hcg_status hcg_train_get_param(hcg_train_session *t, const char *name, hcg_tensor **out);
/* Writes every trainable parameter under its name (f32 safetensors, atomically). */
HCG_API hcg_status hcg_train_save(hcg_train_session *t, const char *path);
/* Writes the whole model with the trained values (path.hcg and its .safetensors, as hcg_save). */
HCG_API hcg_status hcg_train_save_model(hcg_train_session *t, const char *path);
/* A checkpoint in folder dir: parameters and optimizer state (state.safetensors), the step count
 * and the caller's JSON object user_json (checkpoint.json, written last, so a folder with it is
 * complete). Both files are written atomically. */
HCG_API hcg_status hcg_train_checkpoint_save(hcg_train_session *t, const char *dir, const char *user_json);
/* Restores a checkpoint; *user_json (may be NULL) receives the caller's JSON (hcg_free). */
HCG_API hcg_status hcg_train_checkpoint_load(hcg_train_session *t, const char *dir, char **user_json);
/* The session that runs the training step (placement, traces, explain); it belongs to t. */
HCG_API hcg_session *hcg_train_get_session(hcg_train_session *t);

/* ---------------------------------------------------------------- distributed runs (MPI) */

/* Whether hcg was built with MPI (the CMake option HCG_MPI and Open MPI found). */
HCG_API bool hcg_dist_available(void);
/* Whether this process was started by an MPI launcher (mpirun, mpiexec). */
HCG_API bool hcg_dist_launched(void);
/* Joins the MPI job (MPI_Init_thread once per process; later calls do nothing). Without MPI:
 * HCG_ERR_UNSUPPORTED, saying so. A single process started without mpirun is a job of one. */
HCG_API hcg_status hcg_dist_init(void);
/* This process's rank and the number of ranks (0 and 1 before hcg_dist_init). */
HCG_API int hcg_dist_rank(void);
HCG_API int hcg_dist_size(void);
/* Ends every rank of the job at once (MPI_Abort): what a rank does after an error that the others
 * cannot know about, so that none of them waits forever. Does not return while this process is in
 * a job of several ranks; otherwise (a job of one, MPI absent) it returns and the caller ends its
 * own process as it would anyway (the library itself never calls exit). */
HCG_API void hcg_dist_abort(int code);
/* Leaves the MPI job (every rank must call it; also done at exit). */
HCG_API void hcg_dist_finalize(void);
/* Collectives for programs driving a job, called in the same order on every rank, each waiting at
 * most $HCG_DIST_TIMEOUT seconds (what names it in messages): v[0..n) summed over the ranks in
 * place; every rank's `bytes` bytes at mine gathered into all[rank * bytes] on rank root. */
HCG_API hcg_status hcg_dist_sum(double *v, int n, const char *what);
HCG_API hcg_status hcg_dist_gather(const void *mine, size_t bytes, void *all, int root, const char *what);

/* ---------------------------------------------------------------- ensembles and distillation */

typedef enum hcg_combine { HCG_COMBINE_WEIGHTED = 0, HCG_COMBINE_VOTE, HCG_COMBINE_CONCAT } hcg_combine;

typedef struct hcg_ensemble_options {
    hcg_combine combine;
    bool softmax;          /* weighted: average the members' probabilities (softmax of each output) */
    const hcg_graph *head; /* concat: the model the concatenated outputs feed (its one input) */
    /* Non-NULL: an int64 [N] labels input of this name, and the outputs loss (cross-entropy of the
     * combined scores, or negative log-likelihood of averaged probabilities) and accuracy, so that
     * `hcg train` trains the members jointly through the combination (a vote: accuracy only). */
    const char *labels;
} hcg_ensemble_options;

/* One standalone graph of members (their first outputs) combined into the output "ensemble":
 * weighted: sum of w_i * out_i (weights normalised; NULL: equal); vote: an int64 class per row,
 * the class whose voters' weights add up most (the lowest on a tie); concat: the outputs joined on
 * the last axis, through the head model. Members share inputs by name; node names get "m<i>/".
 * names (may be NULL) name the members in messages. The result owns copies of the values. */
HCG_API hcg_status hcg_ensemble_build(const hcg_graph *const *members, const char *const *names, const double *weights, int n,
                              const hcg_ensemble_options *opt, hcg_graph **out);

typedef struct hcg_distill_options {
    double temperature, alpha;
    const char *student_output, *teacher_output; /* which outputs are the logits (NULL: the first) */
    const char *labels;                          /* the labels input's name (NULL: "labels") */
    /* Pipelined: the teachers read their own inputs, named HCG_PIPELINE_INPUT_PREFIX + the
     * student's, which a caller feeds with the next batch; their soft targets wait in a state
     * tensor for the next step. So the teachers' forward for batch k+1 may run while the student
     * trains on batch k (on another device). The teachers are frozen, so the result is the same;
     * the state must first be filled by one evaluation run with the first batch as both. */
    bool pipeline;
} hcg_distill_options;

#define HCG_PIPELINE_INPUT_PREFIX "hcg:next/"

/* A distillation graph: the student (node names kept), the frozen teachers (params as constants,
 * names "teacher<i>/..."), an int64 labels input, and the outputs loss =
 * alpha * kd_loss + (1 - alpha) * ce_loss with kd_loss = T^2 * mean over rows of
 * KL(p || softmax(s / T)), p = sum_i w_i softmax(t_i / T) (weights normalised), ce_loss the
 * student's cross-entropy with the labels; also accuracy and the student's own outputs. Train it
 * with a training session on "loss": only the student's params train. names[0] names the
 * student, names[1..n] the teachers (may be NULL). */
HCG_API hcg_status hcg_distill_build(const hcg_graph *student, const hcg_graph *const *teachers, const char *const *names,
                             const double *weights, int n, const hcg_distill_options *opt, hcg_graph **out);

/* ---------------------------------------------------------------- quantization */

/* Making a model's weights smaller (`hcg quantize`): each weight a matrix product reads as b
 * (matmul, fused_matmul) or a gather reads rows of (an embedding table) is stored as f16, or as
 * symmetric int8 with f32 or f16 scales per output column / row or per block of K, followed by the
 * node that widens it (cast, dequantize) under the weight's own name, which the rewrite passes then
 * fold into the reader. hcg_save writes the result (.hcg + safetensors). */
typedef enum hcg_weight_format { HCG_WEIGHTS_F16 = 1, HCG_WEIGHTS_INT8 } hcg_weight_format;

typedef struct hcg_quantize_options {
    hcg_weight_format weights;
    int64_t group;         /* int8: one scale per `group` elements along K (0: one per output column / row) */
    hcg_dtype scale_dtype; /* int8 scales: HCG_F32 (the default, 0) or HCG_F16 */
    const char *const *skip; /* fnmatch patterns: matching weights stay as they are */
    int n_skip;
    /* fnmatch patterns: only the weights these match (each must match one, and each it matches must
     * be quantizable: an error says why not). NULL: every weight that can be. */
    const char *const *only;
    int n_only;
    int64_t min_elements; /* smaller weights stay (0: 1024; biases and norms are tiny anyway) */
    /* int8 with a scale per output column: the products quantize their activations too (rows to
     * uint8 on the fly, int32 sums: quant_matmul's activations=int8, a CPU feature), written as
     * quant_matmul nodes. */
    bool int8_activations;
} hcg_quantize_options;

/* What happened to one weight of at least min_elements (or one an --only pattern names). */
typedef struct hcg_quantize_entry {
    char name[256];
    hcg_dtype dtype; /* as it was */
    hcg_shape shape;
    bool quantized;
    size_t bytes_before, bytes_after; /* after: the small weight and its scales */
    char how[128];                    /* "int8, a scale per output column (f32)", "f16", or why it stayed */
} hcg_quantize_entry;

typedef struct hcg_quantize_report {
    hcg_quantize_entry *entries;
    int n;
    size_t weights_before, weights_after; /* bytes of every param and constant value */
} hcg_quantize_report;

/* A copy of g with its weights made small as opt says; *report lists what was done (free with
 * hcg_quantize_report_free). Errors: a bad option (a group < 1, one that does not divide a weight's
 * K), an --only pattern naming nothing or a weight that cannot be quantized (not f32, not read by a
 * product or gather, ...), values f16 cannot hold or that are not finite. */
HCG_API hcg_status hcg_quantize_graph(const hcg_graph *g, const hcg_quantize_options *opt, hcg_graph **out,
                                      hcg_quantize_report *report);
HCG_API void hcg_quantize_report_free(hcg_quantize_report *r);

/* ---------------------------------------------------------------- text generation */

/* How a graph decodes (docs/generate.md). Every kind takes token ids as its first input and gives
 * logits [B, T, V] as its first output. */
typedef enum hcg_decoder_kind {
    /* ids [B, T] -> logits [B, T, V] (optionally attention_mask, position_ids): each step runs the
     * whole sequence again */
    HCG_DECODER_RECOMPUTE = 1,
    /* ONNX decoders with explicit caches (past_key_values.* inputs, present.* outputs, as Hugging
     * Face exports): the presents are written into device-resident caches (state tensors) and
     * fed back from there */
    HCG_DECODER_PAST_KV = 2,
    /* hcg decoders with state caches: (ids [B, T], pos i64) -> logits, kv_attention over caches
     * that stay on the device between runs; a step costs O(T) */
    HCG_DECODER_STATE_KV = 3
} hcg_decoder_kind;

typedef struct hcg_decoder_options {
    const char *devices; /* a device spec, as for sessions */
    const char *passes;  /* the rewrite passes, as for sessions */
    /* With several devices: split the layers over them in order, each layer's cache where the
     * layer runs (else the scheduler places every node). */
    bool pipeline;
    bool profile;
} hcg_decoder_options;

typedef struct hcg_generate_options {
    int64_t max_new_tokens;
    bool greedy;        /* the largest logit; else seeded sampling: */
    double temperature; /* > 0 */
    int64_t top_k;      /* 0: every token */
    double top_p;       /* (0, 1] */
    uint64_t seed;
    bool has_eos;       /* a row that produces eos is finished: the rest of it is eos */
    int64_t eos;
    /* Run the whole sequence each step even where the decoder has a cache (for comparison). */
    bool recompute;
    /* Sequence lengths (kind 1, recompute) and cache lengths (kind 2) are rounded up to a multiple
     * of this, so one plan serves that many steps (0: 32; 1: exact lengths, a plan per length). */
    int64_t bucket;
    /* Called after every step with the token each row got ([batch]); a non-zero status stops. */
    hcg_status (*on_step)(void *ctx, int64_t step, const int64_t *tokens, int64_t batch);
    void *ctx;
} hcg_generate_options;

typedef struct hcg_decoder hcg_decoder;

/* A decoder over graph g (which must outlive it): its kind is found from the graph. */
HCG_API hcg_status hcg_decoder_new(const hcg_graph *g, const hcg_decoder_options *opt, hcg_decoder **out);
HCG_API void hcg_decoder_free(hcg_decoder *d);
HCG_API hcg_decoder_kind hcg_decoder_get_kind(const hcg_decoder *d);
/* The positions the model has (its position table, its caches' length), or -1 if unknown. */
HCG_API int64_t hcg_decoder_max_positions(const hcg_decoder *d);
/* Generates up to max_new_tokens after prompt (i64 [B, S]): *tokens gets i64 [B, S + N], rows that
 * hit eos padded with it. */
HCG_API hcg_status hcg_decoder_generate(hcg_decoder *d, const hcg_tensor *prompt, const hcg_generate_options *opt,
                                hcg_tensor **tokens);
/* Seconds of each step of the last generation: [0] the prompt, then one per new token. */
HCG_API int64_t hcg_decoder_step_times(const hcg_decoder *d, const double **seconds);
/* The session that runs the steps (placement, traces, states); NULL before the first generation. */
HCG_API hcg_session *hcg_decoder_get_session(hcg_decoder *d);
/* Pins every compute node of a workload's part to a device: group "teacher<i>" or "m<i>" (the
 * teacher or member i of a graph these functions built) or "student" (all but the teachers). */
HCG_API hcg_status hcg_workload_pin(hcg_graph *g, const char *group, const char *device);

/* ---------------------------------------------------------------- files */

/* The way hcg writes files, for programs that write beside it: a temporary file in the target's
 * folder ("NAME.tmp.PID.N"), synced, then renamed over the target, so a reader never sees half a
 * file. */
HCG_API hcg_status hcg_write_file_atomic(const char *path, const void *data, size_t n);
/* Creates a folder and its parents (existing ones are fine). */
HCG_API hcg_status hcg_make_dirs(const char *path);
/* Reads a whole regular file (FIFOs and folders are refused at once) into a NUL-terminated buffer
 * the caller frees (hcg_free or free()); *len excludes the NUL. */
HCG_API hcg_status hcg_read_file(const char *path, char **data, size_t *len);

/* Several files written as one set: each is written completely to its temporary file first
 * (hcg_npy_save_pending), and only when all are on disk are they renamed into place one by one
 * (hcg_pending_commit); hcg_pending_abort removes a temporary file instead. Both free f. */
typedef struct hcg_pending_file hcg_pending_file;
HCG_API hcg_status hcg_npy_save_pending(const char *path, const hcg_tensor *t, hcg_pending_file **out);
HCG_API hcg_status hcg_pending_commit(hcg_pending_file *f);
HCG_API void hcg_pending_abort(hcg_pending_file *f);
/* The most bytes t's .npy file takes (to check the free space before writing). */
HCG_API size_t hcg_npy_file_size(const hcg_tensor *t);
/* "1.5 GiB", "300.0 MiB", "12.0 KiB", "100 B". */
HCG_API void hcg_format_bytes(double bytes, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
