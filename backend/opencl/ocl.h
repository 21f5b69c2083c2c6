/* ocl.h — the OpenCL backend's internal interface, shared by the files of backend/opencl/:
 * the per-device context, error reporting with OpenCL's and CLBlast's names, the program cache,
 * kernel launches (arguments, index spaces, work-group geometry, profiling events), the per-node
 * state that prepare() builds and run() uses, and the op families' prepare functions. */
#ifndef HCG_OCL_H
#define HCG_OCL_H

#include <pthread.h>

#include <CL/cl.h>

#include "backend/backend.h"
#include "backend/opencl/cl_sources.h"

/* ---------------------------------------------------------------- devices */

/* A program of cl/ on one device: built (or loaded from the binary cache) on first use, with its
 * kernel objects created on first use too. */
typedef struct ocl_prog {
    cl_program program; /* NULL until built */
    bool failed;        /* the build failed: not retried, the error is reported again */
    cl_kernel *kernels; /* [n_kernels of the program's table row], NULL until created */
    size_t *kernel_wg;  /* CL_KERNEL_WORK_GROUP_SIZE of each created kernel */
} ocl_prog;

/* The backend's context of one device (hcg_device.ctx). */
typedef struct ocl_dev {
    hcg_device *d;
    cl_platform_id platform;
    cl_device_id id;
    int platform_index, device_index; /* positions in the ICD's lists (CLBlast's tuner wants them) */
    cl_context ctx;
    cl_command_queue queue; /* in order, profiling enabled */
    cl_mem err_buf;         /* int[4]: kernels record bad data here (see cl/layout.cl) */
    size_t wg;              /* work-items per group for hcg's own launches (a power of two) */
    size_t red_wg;          /* WG_SIZE of the reduce and norm programs (a power of two) */
    int vec;                /* VEC of the reduce and norm programs: the preferred float width */
    size_t max_dim1;        /* CL_DEVICE_MAX_WORK_ITEM_SIZES[1] */
    char build_options[160];
    char platform_version[128];
    pthread_mutex_t lock;     /* guards progs */
    pthread_mutex_t run_lock; /* one segment at a time: kernels' arguments and the error buffer are shared */
    ocl_prog *progs;      /* [hcg_cl_program_count] */
    bool tuned;           /* stored CLBlast GEMM parameters were applied */
} ocl_dev;

static inline ocl_dev *ocl_of(const hcg_device *d) { return (ocl_dev *)d->ctx; }

/* Writes the device's one-line description (name, platform, version, size, whether tuned). */
void ocl_describe(ocl_dev *dev);

/* ---------------------------------------------------------------- errors */

/* "CL_OUT_OF_RESOURCES" for -5, ...; "CL_UNKNOWN_ERROR" if the code is not known. */
const char *hcg_cl_error_name(cl_int err);
/* CLBlast's status codes by name ("CLBlastInvalidDimension"); OpenCL codes as above. */
const char *hcg_clblast_status_name(int status);
/* A device error: "opencl:0 (name): <what> failed: CL_X (-n)"; returns HCG_ERR_DEVICE. */
hcg_status ocl_fail(const ocl_dev *dev, cl_int err, const char *what_fmt, ...) HCG_PRINTF(3, 4);
/* The same about a node: adds the node and its op (hcg_node_error). */
hcg_status ocl_node_fail(const hcg_exec_node *en, const ocl_dev *dev, cl_int err, const char *what_fmt, ...)
    HCG_PRINTF(4, 5);

/* ---------------------------------------------------------------- programs (ocl_program.c) */

/* Whether the embedded table (cl/embed.cmake, read from the .cl sources) has kernel in program (what supports() asks: nothing is
 * built). */
bool ocl_kernel_listed(const char *program, const char *kernel);
/* The kernel object on dev, building or loading its program first if needed (thread-safe). A
 * failed build reports the program, the device and the build log. max_wg receives the kernel's
 * CL_KERNEL_WORK_GROUP_SIZE (may be NULL). */
hcg_status ocl_kernel_get(ocl_dev *dev, const char *program, const char *kernel, cl_kernel *out, size_t *max_wg);
/* Builds a program from source for dev (no cache); a failure reports the program's path, the
 * device, the build options and the build log. */
hcg_status ocl_build_program(ocl_dev *dev, const hcg_cl_program_src *src, cl_program *out);
/* The table's own copy of a kernel's name (static storage), or "?" if it is not listed. */
const char *ocl_kernel_name(const char *program, const char *kernel);
/* ocl_kernel_get for a node's prepare(): the kernel, its name and CL_KERNEL_WORK_GROUP_SIZE (kwg
 * may be NULL); a failure names the node and its op. */
hcg_status ocl_node_kernel(ocl_dev *dev, const hcg_exec_node *en, const char *program, const char *kernel,
                           cl_kernel *out, const char **kname, size_t *kwg);
/* Releases every program and kernel of dev. */
void ocl_programs_release(ocl_dev *dev);
/* Whether HCG_VERBOSE is set (build and cache log lines go to stderr). */
bool ocl_verbose(void);

/* ---------------------------------------------------------------- launches (ocl_launch.c) */

#define OCL_MAX_RANK 8

/* An index space: the collapsed dims of an output and per-operand element strides (operand 0
 * the output). */
typedef struct ocl_nd {
    int rank;
    int n_ops;
    int64_t dims[OCL_MAX_RANK];
    int64_t stride[4][OCL_MAX_RANK];
} ocl_nd;

/* What one launch sees of an index space: its innermost three dims, the nd_t of cl/binary.cl
 * and cl/layout.cl (ints only, so host and device lay it out alike). */
typedef struct ocl_nd_k {
    cl_int X, Y, Z;
    cl_int sx[4], sy[4], sz[4];
} ocl_nd_k;

/* Row-major element strides of a shape. */
void ocl_contiguous_strides(const hcg_shape *s, int64_t strides[HCG_MAX_RANK]);
/* Strides that read a contiguous tensor of shape in as if broadcast (numpy, right-aligned) to
 * out: 0 along broadcast dims. */
void ocl_broadcast_strides(const hcg_shape *out, const hcg_shape *in, int64_t strides[HCG_MAX_RANK]);
/* Builds an index space over dims (rank entries) for n_ops operands (operand 0 the output) with
 * the given strides: size-1 dims are dropped and neighbours merged where every operand walks them
 * as one. A scalar space becomes rank 1 of size 1. */
void ocl_nd_make(ocl_nd *nd, int rank, const int64_t *dims, int n_ops, const int64_t (*strides)[HCG_MAX_RANK]);
/* NDRange sizes for a flat launch of n items, and for a [z][y][x] space with x along dimension 0,
 * with local sizes from a small fixed set (few distinct compilations on devices that specialise
 * kernels per local size). */
void ocl_flat_geometry(const ocl_dev *dev, size_t kernel_wg, int64_t n, size_t global[3], size_t local[3]);
void ocl_grid_geometry(const ocl_dev *dev, size_t kernel_wg, int64_t x, int64_t y, int64_t z, size_t global[3],
                       size_t local[3]);
/* A flat launch of `groups` whole work-groups of the row programs' WG_SIZE (dev->red_wg): one per
 * row, or one in all. */
void ocl_group_geometry(const ocl_dev *dev, int64_t groups, size_t global[3], size_t local[3]);

/* Events of one node's launches while profiling. */
typedef struct ocl_run {
    bool profile;
    cl_int tag;            /* the node's error tag: its position in the segment + 1 */
    cl_event first, last;  /* the node's first and last command (owned) */
} ocl_run;

/* Takes ownership of a command's event (NULL: none) for the node being run. */
void ocl_run_event(ocl_run *rc, cl_event ev);
/* The event pointer to pass to an enqueue call (NULL when not profiling). */
static inline cl_event *ocl_run_evp(ocl_run *rc, cl_event *slot)
{
    *slot = NULL;
    return rc->profile ? slot : NULL;
}

/* Kernel arguments set one after the other; the first failure is kept and reported by
 * ocl_launch. */
typedef struct ocl_args {
    cl_kernel k;
    const char *name;
    cl_uint n;
    cl_int err;
    cl_uint failed_at;
} ocl_args;

void ocl_args_begin(ocl_args *a, cl_kernel k, const char *name);
void ocl_arg(ocl_args *a, size_t size, const void *value);
void ocl_arg_int(ocl_args *a, cl_int v);
void ocl_arg_long(ocl_args *a, cl_long v);
void ocl_arg_ulong(ocl_args *a, cl_ulong v);
void ocl_arg_float(ocl_args *a, cl_float v);
void ocl_arg_mem(ocl_args *a, cl_mem m);
/* A tensor: its buffer, then its offset in elements (ulong). */
void ocl_arg_tensor(ocl_args *a, const hcg_dev_tensor *t);
/* Enqueues the kernel with the arguments set. */
hcg_status ocl_launch(ocl_dev *dev, const hcg_exec_node *en, ocl_args *a, cl_uint dim, const size_t *global,
                      const size_t *local, ocl_run *rc);
/* Sets one launch's arguments: the nd_t, then for each operand its buffer and element offset
 * (the tensor's own plus off[operand], where this launch's part of the space starts), then
 * whatever else the kernel takes. */
typedef void (*ocl_nd_args_fn)(ocl_args *a, const ocl_nd_k *k, const int64_t *off, void *ctx);
/* Launches kernel k over index space nd: one launch per index of the dims beyond the innermost
 * three (those are few: neighbouring dims merge unless broadcasting separates them). */
hcg_status ocl_nd_launch(ocl_dev *dev, const hcg_exec_node *en, cl_kernel k, const char *kname, size_t kwg,
                         const ocl_nd *nd, ocl_nd_args_fn set_args, void *ctx, ocl_run *rc);
/* The same with a tiled geometry: one group of items x items per tile x tile block of the
 * innermost two dims (a kernel with reqd_work_group_size(items, items, 1)). */
hcg_status ocl_nd_launch_tiles(ocl_dev *dev, const hcg_exec_node *en, cl_kernel k, const char *kname, size_t tile,
                               size_t items, const ocl_nd *nd, ocl_nd_args_fn set_args, void *ctx, ocl_run *rc);
/* The element offset of a tensor in its buffer. */
cl_ulong ocl_elem_offset(const hcg_dev_tensor *t);
/* Elements of a tensor (its shape's product; shapes are bound and checked). */
int64_t ocl_numel(const hcg_shape *s);

/* ---------------------------------------------------------------- nodes */

/* A matrix product for CLBlast (row-major): C[m, n] = alpha * op(A) @ op(B) + beta * C, over
 * batches. The batch dims split into outer ones, looped on the host, and inner ones that every
 * operand walks with one stride, run as one strided-batched call (a broadcast side has stride 0). */
typedef struct ocl_gemm {
    bool ta, tb;
    size_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    size_t a_mat, b_mat, c_mat;    /* elements per matrix */
    int outer_rank;
    int64_t outer_dims[HCG_MAX_RANK], outer_a[HCG_MAX_RANK], outer_b[HCG_MAX_RANK]; /* strides: matrices */
    int64_t n_outer;               /* calls */
    size_t inner_count;            /* matrices per call */
    size_t inner_a, inner_b;       /* strides between a call's matrices, elements (0: broadcast) */
} ocl_gemm;

typedef struct ocl_node ocl_node;
/* Enqueues a node's work (prepare chose the function). */
typedef hcg_status (*ocl_run_fn)(ocl_dev *dev, hcg_exec_node *en, ocl_node *st, ocl_run *rc);

/* What prepare() computes once per node: kernels, launch sizes and constant arguments. */
struct ocl_node {
    ocl_run_fn run;        /* NULL: nothing to do (an empty output, an aliased view) */
    bool may_fail;         /* may record bad data in the device's error buffer */
    cl_kernel kernel, kernel2, kernel3;
    const char *kname, *kname2, *kname3;
    size_t kwg;            /* CL_KERNEL_WORK_GROUP_SIZE of kernel */
    size_t global[3], local[3];
    cl_uint dim;
    ocl_nd nd;             /* elementwise and strided-copy index space */
    cl_mem scratch;        /* reductions over axes apart: the input with those axes last; losses: row terms */
    hcg_buffer scratch_buf;
    ocl_gemm gemm;         /* matmul, gemm */
    ocl_nd *parts;         /* concat: one index space per input (rank 0: an empty input) */
    int64_t *part_off;     /* concat: where each input starts in the output, elements */
    int n_parts;
    int64_t p[8];          /* op parameters (sizes, flags, offsets) */
    double f[4];           /* float parameters */
    void *host;            /* data uploaded by run (shape, range) */
    size_t host_bytes;
    /* The message for bad data the node's kernels recorded in the error buffer (position and value;
     * NULL: the generic ones of ocl_device.c). */
    hcg_status (*bad_data)(const hcg_exec_node *en, const struct ocl_node *ns, int where, int64_t value);
};

/* A scratch buffer of bytes for the node (ns->scratch, released with the node). */
hcg_status ocl_node_scratch(ocl_dev *dev, const hcg_exec_node *en, ocl_node *ns, size_t bytes);

/* The op families: whether dev can run node n (op, dtypes; sizes were checked), and prepare. */
typedef struct ocl_op_family {
    const char *program; /* the cl/ program it launches (NULL: CLBlast or a plain copy) */
    bool (*supports)(const hcg_graph *g, const hcg_node *n);
    hcg_status (*prepare)(ocl_dev *dev, hcg_exec_node *en, ocl_node *st);
} ocl_op_family;

/* ocl_elementwise.c: binary, where, unary, clip, cast, causal_mask, trilu, constant_of_shape,
 * range, shape */
extern const ocl_op_family ocl_fam_binary, ocl_fam_where, ocl_fam_unary, ocl_fam_cast, ocl_fam_causal_mask,
    ocl_fam_trilu, ocl_fam_fill, ocl_fam_host_data;
/* ocl_layout.c: views, transpose, concat, slice, split, expand, gather */
extern const ocl_op_family ocl_fam_view, ocl_fam_transpose, ocl_fam_concat, ocl_fam_slice, ocl_fam_expand,
    ocl_fam_gather, ocl_fam_assign;
/* ocl_reduce.c: reduce_*, softmax, log_softmax, layer_norm, rms_norm, and the gradients of the last four */
extern const ocl_op_family ocl_fam_reduce, ocl_fam_softmax, ocl_fam_norm;
/* ocl_gemm.c: matmul, gemm, fused_matmul through CLBlast (and cl/fused.cl's epilogue) */
extern const ocl_op_family ocl_fam_matmul, ocl_fam_gemm, ocl_fam_fused_matmul;
/* ocl_quant.c: dequantize, quantize, matmul_integer, quant_matmul (cl/quant.cl); ocl_qmm_prepare also
 * prepares fused_matmul with an f16 weight */
extern const ocl_op_family ocl_fam_qelem, ocl_fam_matmul_integer, ocl_fam_quant_matmul;
hcg_status ocl_qmm_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns);
/* ocl_attention.c: attention (cl/fused.cl) */
extern const ocl_op_family ocl_fam_attention;
/* ocl_cache.c: kv_attention, cache_write (cl/cache.cl) */
extern const ocl_op_family ocl_fam_kv_attention, ocl_fam_cache_write;
/* ocl_train.c: one_hot, argmax, unary_grad, gather_grad, slice_grad, the losses, the optimizer updates */
extern const ocl_op_family ocl_fam_one_hot, ocl_fam_argmax, ocl_fam_unary_grad, ocl_fam_gather_grad,
    ocl_fam_slice_grad, ocl_fam_class_loss, ocl_fam_kl_div, ocl_fam_mse_loss, ocl_fam_sgd_update,
    ocl_fam_adam_update;

/* A node whose output is its input's bytes (a view, a cast between same-bit dtypes): copies them
 * unless the output is the input's memory. */
hcg_status ocl_run_plain_copy(ocl_dev *dev, hcg_exec_node *en, ocl_node *st, ocl_run *rc);
/* Prepares a strided copy (copy_<esize> of cl/layout.cl) from src to dst over the index space nd
 * (operand 0 dst, 1 src). Used by several families. */
hcg_status ocl_copy_prepare(ocl_dev *dev, size_t esize, cl_kernel *k, const char **kname, size_t *kwg);
/* Enqueues such a copy: dst/src element offsets are added to the tensors' own. */
hcg_status ocl_copy_launch(ocl_dev *dev, const hcg_exec_node *en, cl_kernel k, const char *kname, size_t kwg,
                           const ocl_nd *nd, const hcg_dev_tensor *dst, int64_t dst_off, const hcg_dev_tensor *src,
                           int64_t src_off, ocl_run *rc);

/* ---------------------------------------------------------------- CLBlast tuning (ocl_calibrate.c) */

/* Applies the GEMM parameters stored for dev by an earlier calibration, if any. */
void ocl_tuning_apply(ocl_dev *dev);

/* CLBlast is not thread-safe while it sets a routine up: every CLBlast call holds this lock
 * (ocl_gemm.c). */
void ocl_clblast_lock(void);
void ocl_clblast_unlock(void);
/* Drops CLBlast's cache of compiled routines (a device's destroy). */
void ocl_clblast_forget(void);

#endif
