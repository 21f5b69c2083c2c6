/* ocl_elementwise.c — the elementwise op families on OpenCL: binary ops with broadcasting and
 * where (cl/binary.cl), unary ops and clip (cl/unary.cl), cast (cl/cast.cl), causal_mask, trilu
 * and constant_of_shape (cl/fill.cl), and range and shape, whose few values the host computes
 * exactly as the CPU does and uploads. Each family has a supports() that names the kernel a node
 * needs and asks whether the embedded table (cl/embed.cmake) has it, and a prepare() that fixes the
 * kernel, its index space and its constant arguments once per node. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ocl.h"
#include "graph/half.h"
#include "graph/op_table.h"

#define IN(g, n, i) (&(g)->nodes[(n)->inputs[(i)]])

/* The kernel-name suffix of a dtype; bool tensors use the u8 kernels where bools are bytes. */
static const char *dt_name(hcg_dtype t, bool bool_as_u8)
{
    switch (t) {
    case HCG_F32: return "f32";
    case HCG_F16: return "f16";
    case HCG_I32: return "i32";
    case HCG_I64: return "i64";
    case HCG_U8: return "u8";
    case HCG_I8: return "i8";
    case HCG_BOOL: return bool_as_u8 ? "u8" : "bool";
    default: return "?";
    }
}

static hcg_status get_kernel(ocl_dev *dev, const hcg_exec_node *en, ocl_node *ns, const char *program, const char *name,
                             size_t *kwg)
{
    return ocl_node_kernel(dev, en, program, name, &ns->kernel, &ns->kname, kwg);
}

/* ---------------------------------------------------------------- binary, where */

static void binary_name(const hcg_graph *g, const hcg_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "%s_%s", hcg_op_name(n->op), dt_name(IN(g, n, 0)->dtype, true));
}

static bool binary_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    binary_name(g, n, name, sizeof name);
    return ocl_kernel_listed("binary", name);
}

typedef struct binary_ctx {
    hcg_exec_node *en;
    cl_mem err_buf;
    cl_int tag;
} binary_ctx;

static void binary_args(ocl_args *a, const ocl_nd_k *k, const int64_t *off, void *ctx)
{
    binary_ctx *c = ctx;
    hcg_exec_node *en = c->en;
    ocl_arg(a, sizeof *k, k);
    ocl_arg_mem(a, (cl_mem)en->out.buf->handle);
    ocl_arg_ulong(a, ocl_elem_offset(&en->out) + (cl_ulong)off[0]);
    for (int i = 0; i < en->n_in; i++) {
        ocl_arg_mem(a, (cl_mem)en->in[i].buf->handle);
        ocl_arg_ulong(a, ocl_elem_offset(&en->in[i]) + (cl_ulong)off[i + 1]);
    }
    if (en->node->op != HCG_OP_WHERE) {
        ocl_arg_mem(a, c->err_buf);
        ocl_arg_int(a, c->tag);
    }
}

static hcg_status binary_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    binary_ctx c = {en, dev->err_buf, rc->tag};
    return ocl_nd_launch(dev, en, ns->kernel, ns->kname, ns->kwg, &ns->nd, binary_args, &c, rc);
}

/* Operand 0 the output, then each input broadcast to it. */
static void broadcast_nd(hcg_exec_node *en, ocl_nd *nd)
{
    int64_t strides[4][HCG_MAX_RANK];
    ocl_contiguous_strides(&en->out.shape, strides[0]);
    for (int i = 0; i < en->n_in && i < 3; i++) ocl_broadcast_strides(&en->out.shape, &en->in[i].shape, strides[i + 1]);
    ocl_nd_make(nd, en->out.shape.rank, en->out.shape.dims, en->n_in + 1, (const int64_t(*)[HCG_MAX_RANK])strides);
}

static hcg_status binary_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    char name[64];
    size_t kwg;
    binary_name(en->g, en->node, name, sizeof name);
    hcg_status st = get_kernel(dev, en, ns, "binary", name, &kwg);
    if (st) return st;
    broadcast_nd(en, &ns->nd);
    ns->kwg = kwg;
    ns->may_fail = en->node->op == HCG_OP_DIV && en->in[0].dtype != HCG_F32;
    ns->run = binary_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_binary = {"binary", binary_supports, binary_prepare};

static void where_name(const hcg_graph *g, const hcg_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "where_%zu", hcg_dtype_size(IN(g, n, 1)->dtype));
}

static bool where_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    where_name(g, n, name, sizeof name);
    return ocl_kernel_listed("binary", name);
}

static hcg_status where_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    char name[64];
    size_t kwg;
    where_name(en->g, en->node, name, sizeof name);
    hcg_status st = get_kernel(dev, en, ns, "binary", name, &kwg);
    if (st) return st;
    broadcast_nd(en, &ns->nd);
    ns->kwg = kwg;
    ns->run = binary_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_where = {"binary", where_supports, where_prepare};

/* ---------------------------------------------------------------- unary, clip */

static void unary_name(const hcg_graph *g, const hcg_node *n, char *buf, size_t len)
{
    const char *op = hcg_op_name(n->op);
    if (n->op == HCG_OP_GELU && strcmp(hcg_attr_string(n, "approximate"), "tanh") == 0) op = "gelu_tanh";
    snprintf(buf, len, "%s_%s", op, dt_name(IN(g, n, 0)->dtype, true));
}

static bool unary_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    unary_name(g, n, name, sizeof name);
    return ocl_kernel_listed("unary", name);
}

/* Flat kernels: (n, out, in, [f0, f1, l0, l1]). p[0] says whether the clip parameters follow. */
static hcg_status flat_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ocl_numel(&en->out.shape));
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    if (ns->p[0]) {
        ocl_arg_float(&a, (cl_float)ns->f[0]);
        ocl_arg_float(&a, (cl_float)ns->f[1]);
        ocl_arg_long(&a, ns->p[1]);
        ocl_arg_long(&a, ns->p[2]);
    }
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

static hcg_status unary_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    char name[64];
    size_t kwg;
    unary_name(en->g, en->node, name, sizeof name);
    hcg_status st = get_kernel(dev, en, ns, "unary", name, &kwg);
    if (st) return st;
    ocl_flat_geometry(dev, kwg, ocl_numel(&en->out.shape), ns->global, ns->local);
    ns->p[0] = 1;
    if (en->node->op == HCG_OP_CLIP) {
        double lo = hcg_attr_float(en->node, "min"), hi = hcg_attr_float(en->node, "max");
        ns->f[0] = lo;
        ns->f[1] = hi;
        bool i32 = en->in[0].dtype == HCG_I32;
        int64_t tmin = i32 ? INT32_MIN : INT64_MIN, tmax = i32 ? INT32_MAX : INT64_MAX;
        ns->p[1] = hcg_clip_int_bound(lo, true, tmin, tmax);
        ns->p[2] = hcg_clip_int_bound(hi, false, tmin, tmax);
    }
    ns->run = flat_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_unary = {"unary", unary_supports, unary_prepare};

/* ---------------------------------------------------------------- cast */

static bool same_bits(hcg_dtype from, hcg_dtype to) { return from == to || (from == HCG_BOOL && to == HCG_U8); }

static void cast_name(const hcg_graph *g, const hcg_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "cast_%s_%s", dt_name(IN(g, n, 0)->dtype, false), dt_name(n->dtype, false));
}

static bool cast_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    cast_name(g, n, name, sizeof name);
    return same_bits(IN(g, n, 0)->dtype, n->dtype) || ocl_kernel_listed("cast", name);
}

static hcg_status cast_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    if (same_bits(en->in[0].dtype, en->out.dtype)) {
        ns->run = ocl_run_plain_copy;
        return HCG_OK;
    }
    char name[64];
    size_t kwg;
    cast_name(en->g, en->node, name, sizeof name);
    hcg_status st = get_kernel(dev, en, ns, "cast", name, &kwg);
    if (st) return st;
    ocl_flat_geometry(dev, kwg, ocl_numel(&en->out.shape), ns->global, ns->local);
    ns->run = flat_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_cast = {"cast", cast_supports, cast_prepare};

/* ---------------------------------------------------------------- causal_mask, trilu */

/* The tensor as [batch, rows, cols]. */
static void matrix_dims(const hcg_shape *s, int64_t *batch, int64_t *rows, int64_t *cols)
{
    *rows = s->dims[s->rank - 2];
    *cols = s->dims[s->rank - 1];
    *batch = 1;
    for (int i = 0; i < s->rank - 2; i++) *batch *= s->dims[i];
}

static hcg_status mask_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_int(&a, (cl_int)ns->p[2]);
    if (en->node->op == HCG_OP_CAUSAL_MASK) {
        ocl_arg_float(&a, (cl_float)ns->f[0]);
    } else {
        ocl_arg_long(&a, ns->p[3]);
        ocl_arg_int(&a, (cl_int)ns->p[4]);
    }
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    return ocl_launch(dev, en, &a, 3, ns->global, ns->local, rc);
}

static hcg_status mask_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, const char *name)
{
    size_t kwg;
    hcg_status st = get_kernel(dev, en, ns, "fill", name, &kwg);
    if (st) return st;
    matrix_dims(&en->out.shape, &ns->p[0], &ns->p[1], &ns->p[2]);
    ocl_grid_geometry(dev, kwg, ns->p[2], ns->p[1], ns->p[0], ns->global, ns->local);
    ns->run = mask_run;
    return HCG_OK;
}

static hcg_status causal_mask_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    ns->f[0] = hcg_attr_float(en->node, "value");
    return mask_prepare(dev, en, ns, "causal_mask_f32");
}

const ocl_op_family ocl_fam_causal_mask = {"fill", NULL, causal_mask_prepare};

static void trilu_name(const hcg_graph *g, const hcg_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "trilu_%zu", hcg_dtype_size(IN(g, n, 0)->dtype));
}

static bool trilu_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    trilu_name(g, n, name, sizeof name);
    return ocl_kernel_listed("fill", name);
}

static hcg_status trilu_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    char name[64];
    trilu_name(en->g, en->node, name, sizeof name);
    ns->p[3] = hcg_attr_int(en->node, "k");
    ns->p[4] = hcg_attr_int(en->node, "upper") != 0;
    return mask_prepare(dev, en, ns, name);
}

const ocl_op_family ocl_fam_trilu = {"fill", trilu_supports, trilu_prepare};

/* ---------------------------------------------------------------- constant_of_shape */

static hcg_status fill_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ocl_numel(&en->out.shape));
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_ulong(&a, (cl_ulong)ns->p[0]);
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

/* Float to integer as cast defines it (truncation, saturation, NaN gives 0). */
static int64_t float_to_int(double v, int64_t tmin, int64_t tmax)
{
    if (v != v) return 0;
    if (v <= (double)tmin) return tmin;
    if (v >= (double)tmax) return tmax;
    return (int64_t)v;
}

/* The bits of value in dtype t, converted as the CPU's constant_of_shape converts it. */
static uint64_t value_bits(hcg_dtype t, double v)
{
    switch (t) {
    case HCG_F32: {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        return u;
    }
    case HCG_F16: return hcg_float_to_half((float)v);
    case HCG_I32: return (uint32_t)(int32_t)float_to_int(v, INT32_MIN, INT32_MAX);
    case HCG_I64: return (uint64_t)float_to_int(v, INT64_MIN, INT64_MAX);
    case HCG_U8: return (uint8_t)float_to_int(v, 0, UINT8_MAX);
    case HCG_I8: return (uint8_t)(int8_t)float_to_int(v, INT8_MIN, INT8_MAX);
    case HCG_BOOL: return v != 0;
    default: return 0;
    }
}

static hcg_status fill_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    char name[64];
    size_t kwg;
    snprintf(name, sizeof name, "fill_%zu", hcg_dtype_size(en->out.dtype));
    hcg_status st = get_kernel(dev, en, ns, "fill", name, &kwg);
    if (st) return st;
    ns->p[0] = (int64_t)value_bits(en->out.dtype, hcg_attr_float(en->node, "value"));
    ocl_flat_geometry(dev, kwg, ocl_numel(&en->out.shape), ns->global, ns->local);
    ns->run = fill_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_fill = {"fill", NULL, fill_prepare};

/* ---------------------------------------------------------------- range, shape */

static hcg_status host_data_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    cl_event ev;
    cl_int err = clEnqueueWriteBuffer(dev->queue, (cl_mem)en->out.buf->handle, CL_FALSE, en->out.offset,
                                      ns->host_bytes, ns->host, 0, NULL, ocl_run_evp(rc, &ev));
    if (err != CL_SUCCESS) return ocl_node_fail(en, dev, err, "clEnqueueWriteBuffer(%zu bytes)", ns->host_bytes);
    ocl_run_event(rc, ev);
    return HCG_OK;
}

/* The values the CPU kernels compute (backend/cpu/cpu_movement.c), computed here once. */
static hcg_status host_data_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    (void)dev;
    int64_t n = ocl_numel(&en->out.shape);
    size_t bytes = (size_t)n * hcg_dtype_size(en->out.dtype);
    if (!(ns->host = malloc(bytes ? bytes : 1))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    ns->host_bytes = bytes;
    const hcg_node *node = en->node;
    if (node->op == HCG_OP_SHAPE) {
        const hcg_shape *xs = &en->in[0].shape;
        int64_t rank = xs->rank, s = hcg_attr_int(node, "start"), e = hcg_attr_int(node, "end");
        if (s < 0) s += rank;
        if (e < 0) e += rank;
        s = s < 0 ? 0 : s > rank ? rank : s;
        int64_t *o = ns->host;
        for (int64_t i = 0; i < n; i++) o[i] = xs->dims[s + i];
    } else {
        double start = hcg_attr_float(node, "start"), delta = hcg_attr_float(node, "delta");
        int64_t is = (int64_t)start, id = (int64_t)delta;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)((uint64_t)is + (uint64_t)i * (uint64_t)id);
            switch (en->out.dtype) {
            case HCG_F32: ((float *)ns->host)[i] = (float)(start + (double)i * delta); break;
            case HCG_I32: ((int32_t *)ns->host)[i] = (int32_t)v; break;
            case HCG_I64: ((int64_t *)ns->host)[i] = v; break;
            default: return hcg_node_error(en->g, node, HCG_ERR_UNSUPPORTED, "range of dtype %s", hcg_dtype_name(en->out.dtype));
            }
        }
    }
    ns->run = host_data_run;
    return HCG_OK;
}

static bool host_data_supports(const hcg_graph *g, const hcg_node *n)
{
    (void)g;
    return n->op == HCG_OP_SHAPE || n->dtype == HCG_F32 || n->dtype == HCG_I32 || n->dtype == HCG_I64;
}

const ocl_op_family ocl_fam_host_data = {NULL, host_data_supports, host_data_prepare};
