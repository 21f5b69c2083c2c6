/* hcg.h — the public C API of hcg: status codes, dtypes and shapes, host tensors, the graph
 * builder, loading and saving graphs, devices and sessions that plan and run a graph.
 * This is the only header a user includes. */
#ifndef HCG_HCG_H
#define HCG_HCG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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

const char *hcg_status_name(hcg_status s);
/* The message of the last failure on this thread ("" if none). */
const char *hcg_last_error(void);

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

size_t hcg_dtype_size(hcg_dtype t);
const char *hcg_dtype_name(hcg_dtype t); /* "f32", "f16", "i32", "i64", "u8", "bool", "i8" */
/* Parses a dtype name; returns false if unknown. */
bool hcg_dtype_parse(const char *name, hcg_dtype *out);

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
hcg_shape hcg_shape_make(int rank, const int64_t *dims);
/* Element count of a concrete shape; false if it overflows (or holds a symbol). */
bool hcg_shape_numel(const hcg_shape *s, int64_t *out);
bool hcg_shape_equal(const hcg_shape *a, const hcg_shape *b);
/* Writes "[2, 3, 4]" (symbols need a graph: see hcg_graph_format_shape). */
void hcg_shape_format(const hcg_shape *s, char *buf, size_t n);

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
hcg_status hcg_tensor_new(hcg_dtype dtype, const hcg_shape *shape, hcg_tensor **out);
/* Wraps memory the caller keeps alive (not freed by hcg_tensor_free). */
hcg_status hcg_tensor_wrap(hcg_dtype dtype, const hcg_shape *shape, void *data, hcg_tensor **out);
hcg_status hcg_tensor_clone(const hcg_tensor *t, hcg_tensor **out);
void hcg_tensor_free(hcg_tensor *t);

/* .npy files: f32, f16, i32, i64, u8, bool, i8, little-endian, C order. Saving writes a temporary
 * file beside the target and renames it, so no half-written file is ever left. */
hcg_status hcg_npy_load(const char *path, hcg_tensor **out);
hcg_status hcg_npy_save(const char *path, const hcg_tensor *t);

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

const char *hcg_op_name(hcg_op op);
/* Looks an op up by its name; false if there is none. */
bool hcg_op_parse(const char *name, hcg_op *out);

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

hcg_graph *hcg_graph_new(void);
void hcg_graph_free(hcg_graph *g);

/* A named symbolic dimension ("B", "S"), created on first use; returns its encoded dim value. */
int64_t hcg_sym(hcg_graph *g, const char *name);

/* A graph input; dims may hold symbols from hcg_sym. */
hcg_id hcg_input(hcg_graph *g, const char *name, hcg_dtype dtype, int rank, const int64_t *dims);
/* A state tensor: it lives on one device across the runs of a session, starting at zeros, and ops
 * that update it in place (kv_attention's caches, cache_write, optimizer updates) change it for
 * later runs (a decoder's key/value cache). dims may hold symbols bound by the inputs' shapes. */
hcg_id hcg_state(hcg_graph *g, const char *name, hcg_dtype dtype, int rank, const int64_t *dims);
/* A trained parameter. The graph takes ownership of the tensor. */
hcg_id hcg_param(hcg_graph *g, const char *name, hcg_tensor *value);
/* A constant. The graph takes ownership of the tensor. */
hcg_id hcg_constant(hcg_graph *g, const char *name, hcg_tensor *value);
/* Any op. name may be NULL (a unique name is made up). Attributes are checked against the op's
 * schema; shapes are checked when the graph is bound to input shapes. */
hcg_id hcg_add_node(hcg_graph *g, hcg_op op, const char *name, const hcg_id *inputs, int n_inputs,
                const hcg_attr *attrs, int n_attrs);
/* Marks a node as a graph output, named out_name (NULL: the node's name). */
hcg_status hcg_output(hcg_graph *g, hcg_id id, const char *out_name);
/* Pins a node to a device ("cpu", "opencl:1"); the scheduler honours it or fails. */
hcg_status hcg_pin(hcg_graph *g, hcg_id id, const char *device);

/* Convenience builders for the common ops. */
hcg_id hcg_add(hcg_graph *g, hcg_id a, hcg_id b);
hcg_id hcg_sub(hcg_graph *g, hcg_id a, hcg_id b);
hcg_id hcg_mul(hcg_graph *g, hcg_id a, hcg_id b);
hcg_id hcg_div(hcg_graph *g, hcg_id a, hcg_id b);
hcg_id hcg_matmul(hcg_graph *g, hcg_id a, hcg_id b, bool transpose_a, bool transpose_b);
hcg_id hcg_unary(hcg_graph *g, hcg_op op, hcg_id x);
hcg_id hcg_softmax(hcg_graph *g, hcg_id x, int axis);
hcg_id hcg_layer_norm(hcg_graph *g, hcg_id x, hcg_id scale, hcg_id bias, int axis, double eps);
hcg_id hcg_reshape(hcg_graph *g, hcg_id x, int rank, const int64_t *dims);
hcg_id hcg_transpose(hcg_graph *g, hcg_id x, int rank, const int64_t *perm);

/* Introspection. */
int hcg_graph_num_nodes(const hcg_graph *g);
int hcg_graph_num_inputs(const hcg_graph *g);
int hcg_graph_num_outputs(const hcg_graph *g);
const char *hcg_graph_input_name(const hcg_graph *g, int i);
const char *hcg_graph_output_name(const hcg_graph *g, int i);
/* Looks a node up by name; negative if absent. */
hcg_id hcg_graph_find(const hcg_graph *g, const char *name);

/* Loads a graph: ".hcg" text (weights from the safetensors files it names) or ".onnx". */
hcg_status hcg_load(const char *path, hcg_graph **out);
/* Writes the text format; parameters go to a safetensors file named like the graph
 * ("model.hcg" -> "model.safetensors"). Both files are written atomically. */
hcg_status hcg_save(const hcg_graph *g, const char *path);

/* ---------------------------------------------------------------- devices */

typedef enum hcg_device_type {
    HCG_DEVICE_CPU = 0,
    HCG_DEVICE_GPU,
    HCG_DEVICE_ACCELERATOR
} hcg_device_type;

const char *hcg_device_type_name(hcg_device_type t); /* "cpu", "gpu", "accelerator" */

typedef struct hcg_device hcg_device;

/* All devices found (the CPU first, then OpenCL devices in platform/device order).
 * Devices are discovered once per process. */
int hcg_device_count(void);
hcg_device *hcg_device_get(int index);
hcg_device *hcg_device_find(const char *name);
const char *hcg_device_name(const hcg_device *d);        /* "cpu", "opencl:0", ... */
hcg_device_type hcg_device_get_type(const hcg_device *d); /* the device's type */
const char *hcg_device_description(const hcg_device *d);  /* one line */
/* A JSON object describing the device (caller frees with free()). */
char *hcg_device_json(const hcg_device *d);

/* Selects devices from a spec: a comma list of names ("opencl:1,cpu"), a type ("cpu", "gpu",
 * "accelerator"), "opencl" (every OpenCL device) or "auto" (every device). NULL or "" means
 * $HCG_DEVICES, else "auto". Fills up to max devices. */
hcg_status hcg_devices_select(const char *spec, hcg_device **devices, int max, int *n_out);

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
hcg_status hcg_session_new(const hcg_graph *g, const hcg_session_options *opt, hcg_session **out);
void hcg_session_free(hcg_session *s);

/* Runs the graph. inputs are given in the graph's input order (hcg_graph_input_name); outputs
 * (an array of hcg_graph_num_outputs pointers) receive new tensors the caller frees. */
hcg_status hcg_session_run(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor **outputs);

/* Like hcg_session_run, but writes into caller-owned output tensors (outputs[j] must have the
 * output's dtype and shape), so repeated runs allocate nothing. */
hcg_status hcg_session_run_into(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor *const *outputs);

/* State tensors (hcg_state, `state` in a .hcg file) live on the device that updates them, from the
 * first run that uses them (zeros, or a value set before) to the end of the session: a decoder's
 * key/value cache is written by one run and read by the next without leaving the device.
 * get copies a state's current value to a new host tensor; set replaces it (before any run: its
 * starting value); reset forgets every state and the plans that used them, so the next run starts
 * from zeros. A state whose declared shape has symbols (a cache [B, ...]) exists once per bound
 * shape, named "name@[2, 4, 128, 24]": get finds it by its plain name when there is one shape;
 * set needs the full name. */
hcg_status hcg_session_get_state(hcg_session *s, const char *name, hcg_tensor **out);
hcg_status hcg_session_set_state(hcg_session *s, const char *name, const hcg_tensor *t);
hcg_status hcg_session_reset_states(hcg_session *s);
/* A device that fails during a run (an allocation, a program build, a transfer, a kernel) is
 * dropped from the session with a warning, and the run is planned again on the remaining
 * selected devices and repeated from its inputs, so its outputs are what a clean run gives.
 * Only when no selected device is left does the run fail, naming the device and the call.
 * The warnings so far, one per line ("" if none). */
const char *hcg_session_warnings(const hcg_session *s);

/* Writes a Chrome-trace JSON (Perfetto, chrome://tracing) of the last run. */
hcg_status hcg_session_write_trace(const hcg_session *s, const char *path);

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

hcg_status hcg_train_session_new(const hcg_graph *g, const hcg_train_options *opt, hcg_train_session **out);
void hcg_train_session_free(hcg_train_session *t);
/* One step on a batch (inputs in the graph's input order); *loss (may be NULL) gets its loss. A
 * loss that is not finite is an error (HCG_ERR_RUNTIME) naming the step. */
hcg_status hcg_train_step(hcg_train_session *t, const hcg_tensor *const *inputs, float *loss);
/* Runs the graph (all its outputs, as hcg_session_run) with the current parameters. */
hcg_status hcg_train_eval(hcg_train_session *t, const hcg_tensor *const *inputs, hcg_tensor **outputs);
/* Plans a step for these input shapes (one per graph input) without running it. */
hcg_status hcg_train_prepare(hcg_train_session *t, const hcg_shape *shapes);
/* Steps taken (restored by hcg_train_checkpoint_load). */
int64_t hcg_train_steps_done(const hcg_train_session *t);
/* The learning rate the schedule gives step k (from 0). */
double hcg_train_lr_at(const hcg_train_session *t, int64_t step);
/* The trainable parameters, by name. */
int hcg_train_num_params(const hcg_train_session *t);
const char *hcg_train_param_name(const hcg_train_session *t, int i);
/* A parameter's current value (a new tensor). */
hcg_status hcg_train_get_param(hcg_train_session *t, const char *name, hcg_tensor **out);
/* Writes every trainable parameter under its name (f32 safetensors, atomically). */
hcg_status hcg_train_save(hcg_train_session *t, const char *path);
/* Writes the whole model with the trained values (path.hcg and its .safetensors, as hcg_save). */
hcg_status hcg_train_save_model(hcg_train_session *t, const char *path);
/* A checkpoint in folder dir: parameters and optimizer state (state.safetensors), the step count
 * and the caller's JSON object user_json (checkpoint.json, written last, so a folder with it is
 * complete). Both files are written atomically. */
hcg_status hcg_train_checkpoint_save(hcg_train_session *t, const char *dir, const char *user_json);
/* Restores a checkpoint; *user_json (may be NULL) receives the caller's JSON (free()). */
hcg_status hcg_train_checkpoint_load(hcg_train_session *t, const char *dir, char **user_json);
/* The session that runs the training step (placement, traces, explain). */
hcg_session *hcg_train_get_session(hcg_train_session *t);

/* ---------------------------------------------------------------- distributed runs (MPI) */

/* Whether hcg was built with MPI (the CMake option HCG_MPI and Open MPI found). */
bool hcg_dist_available(void);
/* Whether this process was started by an MPI launcher (mpirun, mpiexec). */
bool hcg_dist_launched(void);
/* Joins the MPI job (MPI_Init_thread once per process; later calls do nothing). Without MPI:
 * HCG_ERR_UNSUPPORTED, saying so. A single process started without mpirun is a job of one. */
hcg_status hcg_dist_init(void);
/* This process's rank and the number of ranks (0 and 1 before hcg_dist_init). */
int hcg_dist_rank(void);
int hcg_dist_size(void);
/* Ends every rank of the job at once (MPI_Abort): what a rank does after an error that the others
 * cannot know about, so that none of them waits forever. Never returns. */
void hcg_dist_abort(int code);
/* Leaves the MPI job (every rank must call it; also done at exit). */
void hcg_dist_finalize(void);

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
hcg_status hcg_ensemble_build(const hcg_graph *const *members, const char *const *names, const double *weights, int n,
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
hcg_status hcg_distill_build(const hcg_graph *student, const hcg_graph *const *teachers, const char *const *names,
                             const double *weights, int n, const hcg_distill_options *opt, hcg_graph **out);

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
hcg_status hcg_decoder_new(const hcg_graph *g, const hcg_decoder_options *opt, hcg_decoder **out);
void hcg_decoder_free(hcg_decoder *d);
hcg_decoder_kind hcg_decoder_get_kind(const hcg_decoder *d);
/* The positions the model has (its position table, its caches' length), or -1 if unknown. */
int64_t hcg_decoder_max_positions(const hcg_decoder *d);
/* Generates up to max_new_tokens after prompt (i64 [B, S]): *tokens gets i64 [B, S + N], rows that
 * hit eos padded with it. */
hcg_status hcg_decoder_generate(hcg_decoder *d, const hcg_tensor *prompt, const hcg_generate_options *opt,
                                hcg_tensor **tokens);
/* Seconds of each step of the last generation: [0] the prompt, then one per new token. */
int64_t hcg_decoder_step_times(const hcg_decoder *d, const double **seconds);
/* The session that runs the steps (placement, traces, states); NULL before the first generation. */
hcg_session *hcg_decoder_get_session(hcg_decoder *d);
/* Pins every compute node of a workload's part to a device: group "teacher<i>" or "m<i>" (the
 * teacher or member i of a graph these functions built) or "student" (all but the teachers). */
hcg_status hcg_workload_pin(hcg_graph *g, const char *group, const char *device);

#ifdef __cplusplus
}
#endif
#endif
