/* ocl_layout.c — data movement on OpenCL: the view ops (a buffer copy when the output is not the
 * input's memory), and transpose, slice, split, expand and concat as strided copies over an index
 * space (copy_<element size> of cl/layout.cl: one kernel for every dtype; a transpose that moves
 * the innermost dim goes through local-memory tiles, transpose_<size>), and gather, which
 * reports an index out of range through the device's error buffer. */
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ocl.h"
#include "graph/op_table.h"

/* ---------------------------------------------------------------- plain copies */

hcg_status ocl_run_plain_copy(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    (void)ns;
    const hcg_dev_tensor *in = &en->in[0], *out = &en->out;
    size_t bytes = (size_t)ocl_numel(&out->shape) * hcg_dtype_size(out->dtype);
    if (bytes == 0 || (in->buf->handle == out->buf->handle && in->offset == out->offset)) return HCG_OK;
    if (in->buf->handle == out->buf->handle && in->offset < out->offset + bytes && out->offset < in->offset + bytes)
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "the output overlaps the input without aliasing it");
    cl_event ev;
    cl_int err = clEnqueueCopyBuffer(dev->queue, (cl_mem)in->buf->handle, (cl_mem)out->buf->handle, in->offset,
                                     out->offset, bytes, 0, NULL, ocl_run_evp(rc, &ev));
    if (err != CL_SUCCESS) return ocl_node_fail(en, dev, err, "clEnqueueCopyBuffer(%zu bytes)", bytes);
    ocl_run_event(rc, ev);
    return HCG_OK;
}

static hcg_status view_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    (void)dev;
    ns->run = ocl_run_plain_copy;
    return HCG_OK;
}

const ocl_op_family ocl_fam_view = {NULL, NULL, view_prepare};

/* assign: the value's bytes into the state tensor (input 0), and 0 into the scalar output. */
static hcg_status run_assign(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    (void)ns;
    const hcg_dev_tensor *state = &en->in[0], *value = &en->in[1];
    size_t bytes = (size_t)ocl_numel(&value->shape) * hcg_dtype_size(value->dtype);
    cl_event ev;
    cl_int err = CL_SUCCESS;
    if (bytes) {
        err = clEnqueueCopyBuffer(dev->queue, (cl_mem)value->buf->handle, (cl_mem)state->buf->handle, value->offset,
                                  state->offset, bytes, 0, NULL, ocl_run_evp(rc, &ev));
        if (err != CL_SUCCESS) return ocl_node_fail(en, dev, err, "clEnqueueCopyBuffer(%zu bytes)", bytes);
        ocl_run_event(rc, ev);
    }
    const cl_float zero = 0;
    err = clEnqueueFillBuffer(dev->queue, (cl_mem)en->out.buf->handle, &zero, sizeof zero, en->out.offset, sizeof zero, 0,
                              NULL, ocl_run_evp(rc, &ev));
    if (err != CL_SUCCESS) return ocl_node_fail(en, dev, err, "clEnqueueFillBuffer");
    ocl_run_event(rc, ev);
    return HCG_OK;
}

static hcg_status assign_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    (void)dev;
    (void)en;
    ns->run = run_assign;
    return HCG_OK;
}

const ocl_op_family ocl_fam_assign = {NULL, NULL, assign_prepare};

/* ---------------------------------------------------------------- strided copies */

static bool copy_size_ok(size_t esize) { return esize == 1 || esize == 2 || esize == 4 || esize == 8; }

hcg_status ocl_copy_prepare(ocl_dev *dev, size_t esize, cl_kernel *k, const char **kname, size_t *kwg)
{
    char name[32];
    snprintf(name, sizeof name, "copy_%zu", esize);
    hcg_status st = ocl_kernel_get(dev, "layout", name, k, kwg);
    if (!st) *kname = ocl_kernel_name("layout", name);
    return st;
}

typedef struct copy_ctx {
    const hcg_dev_tensor *dst, *src;
    int64_t dst_off, src_off;
} copy_ctx;

static void copy_args(ocl_args *a, const ocl_nd_k *k, const int64_t *off, void *ctx)
{
    copy_ctx *c = ctx;
    ocl_arg(a, sizeof *k, k);
    ocl_arg_mem(a, (cl_mem)c->dst->buf->handle);
    ocl_arg_ulong(a, ocl_elem_offset(c->dst) + (cl_ulong)(c->dst_off + off[0]));
    ocl_arg_mem(a, (cl_mem)c->src->buf->handle);
    ocl_arg_ulong(a, ocl_elem_offset(c->src) + (cl_ulong)(c->src_off + off[1]));
}

hcg_status ocl_copy_launch(ocl_dev *dev, const hcg_exec_node *en, cl_kernel k, const char *kname, size_t kwg,
                           const ocl_nd *nd, const hcg_dev_tensor *dst, int64_t dst_off, const hcg_dev_tensor *src,
                           int64_t src_off, ocl_run *rc)
{
    copy_ctx c = {dst, src, dst_off, src_off};
    return ocl_nd_launch(dev, en, k, kname, kwg, nd, copy_args, &c, rc);
}

/* One strided copy from in[0] (from element p[0] on) into the output over ns->nd. */
static hcg_status strided_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    return ocl_copy_launch(dev, en, ns->kernel, ns->kname, ns->kwg, &ns->nd, &en->out, 0, &en->in[0], ns->p[0],
                           rc);
}

/* Prepares strided_run: the output is contiguous, the input is read with in_strides per output
 * dim from element base on. */
static hcg_status strided_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, const int64_t *in_strides, int64_t base)
{
    size_t kwg;
    hcg_status st = ocl_copy_prepare(dev, hcg_dtype_size(en->out.dtype), &ns->kernel, &ns->kname, &kwg);
    if (st) return hcg_error_prefix(st, "node '%s' (%s): ", en->node->name, hcg_op_name(en->node->op));
    int64_t strides[2][HCG_MAX_RANK];
    ocl_contiguous_strides(&en->out.shape, strides[0]);
    memcpy(strides[1], in_strides, sizeof(int64_t) * (size_t)en->out.shape.rank);
    ocl_nd_make(&ns->nd, en->out.shape.rank, en->out.shape.dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides);
    ns->kwg = kwg;
    ns->p[0] = base;
    ns->run = strided_run;
    return HCG_OK;
}

static bool movement_supports(const hcg_graph *g, const hcg_node *n)
{
    (void)g;
    return copy_size_ok(hcg_dtype_size(n->dtype));
}

/* The tile of cl/layout.cl's transpose kernels (TILE) and the items that move one (TILE_ITEMS). */
#define TRANSPOSE_TILE 64
#define TRANSPOSE_ITEMS 16

static hcg_status transpose_tiled_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    copy_ctx c = {&en->out, &en->in[0], 0, 0};
    return ocl_nd_launch_tiles(dev, en, ns->kernel2, ns->kname2, TRANSPOSE_TILE, TRANSPOSE_ITEMS, &ns->nd, copy_args,
                               &c, rc);
}

/* A strided copy that transposes (the output's innermost dim read with a stride, another dim the
 * input's contiguous one, both at least a tile's width) goes through the tiled kernel, with that
 * dim moved next to the innermost one (a copy visits its index space in any order). */
static hcg_status maybe_tiled(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    ocl_nd *nd = &ns->nd;
    int r = nd->rank, j = -1;
    if (r < 2 || nd->stride[0][r - 1] != 1 || nd->stride[1][r - 1] == 1 || nd->dims[r - 1] < TRANSPOSE_ITEMS)
        return HCG_OK;
    for (int d = 0; d < r - 1 && j < 0; d++)
        if (nd->stride[1][d] == 1 && nd->dims[d] >= TRANSPOSE_ITEMS) j = d;
    if (j < 0 || dev->max_dim1 < TRANSPOSE_ITEMS || dev->d->local_mem < 2 * TRANSPOSE_TILE * (TRANSPOSE_TILE + 1) * 8)
        return HCG_OK;
    char name[32];
    size_t kwg;
    snprintf(name, sizeof name, "transpose_%zu", hcg_dtype_size(en->out.dtype));
    hcg_status st = ocl_kernel_get(dev, "layout", name, &ns->kernel2, &kwg);
    if (st) return hcg_error_prefix(st, "node '%s' (%s): ", en->node->name, hcg_op_name(en->node->op));
    if (kwg < TRANSPOSE_ITEMS * TRANSPOSE_ITEMS) return HCG_OK; /* the device cannot run a whole group: plain copy */
    ns->kname2 = ocl_kernel_name("layout", name);
    int64_t t = nd->dims[j];
    nd->dims[j] = nd->dims[r - 2];
    nd->dims[r - 2] = t;
    for (int op = 0; op < nd->n_ops; op++) {
        t = nd->stride[op][j];
        nd->stride[op][j] = nd->stride[op][r - 2];
        nd->stride[op][r - 2] = t;
    }
    ns->run = transpose_tiled_run;
    return HCG_OK;
}

static hcg_status transpose_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *xs = &en->in[0].shape;
    int n_perm, r = xs->rank;
    const int64_t *perm = hcg_attr_ints(en->node, "perm", &n_perm);
    int64_t in_strides[HCG_MAX_RANK], strides[HCG_MAX_RANK];
    ocl_contiguous_strides(xs, in_strides);
    for (int i = 0; i < r; i++) {
        int p = r - 1 - i; /* no perm: reverse the dims */
        if (n_perm && !hcg_norm_axis(perm[i], r, &p))
            return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "bad perm");
        strides[i] = in_strides[p];
    }
    hcg_status st = strided_prepare(dev, en, ns, strides, 0);
    return st ? st : maybe_tiled(dev, en, ns);
}

const ocl_op_family ocl_fam_transpose = {"layout", movement_supports, transpose_prepare};

static hcg_status slice_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *xs = &en->in[0].shape;
    int64_t start[HCG_MAX_RANK] = {0}, step[HCG_MAX_RANK], count[HCG_MAX_RANK], in_strides[HCG_MAX_RANK];
    int64_t strides[HCG_MAX_RANK], base = 0;
    hcg_status st;
    if (en->node->op == HCG_OP_SLICE) {
        if ((st = hcg_slice_params(en->g, en->node, xs, start, step, count))) return st;
    } else {
        int axis;
        int64_t part_start, part_size;
        if ((st = hcg_split_part(en->g, en->node, xs, &axis, &part_start, &part_size))) return st;
        for (int i = 0; i < HCG_MAX_RANK; i++) step[i] = 1;
        start[axis] = part_start;
    }
    ocl_contiguous_strides(xs, in_strides);
    for (int i = 0; i < xs->rank; i++) {
        strides[i] = in_strides[i] * step[i];
        base += start[i] * in_strides[i];
    }
    return strided_prepare(dev, en, ns, strides, base);
}

const ocl_op_family ocl_fam_slice = {"layout", movement_supports, slice_prepare};

static hcg_status expand_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    int64_t strides[HCG_MAX_RANK];
    ocl_broadcast_strides(&en->out.shape, &en->in[0].shape, strides);
    return strided_prepare(dev, en, ns, strides, 0);
}

const ocl_op_family ocl_fam_expand = {"layout", movement_supports, expand_prepare};

/* ---------------------------------------------------------------- concat */

/* One strided copy per non-empty input into its window of the output. */
static hcg_status concat_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    for (int i = 0; i < ns->n_parts; i++) {
        if (ns->parts[i].rank == 0) continue;
        hcg_status st = ocl_copy_launch(dev, en, ns->kernel, ns->kname, ns->kwg, &ns->parts[i], &en->out,
                                        ns->part_off[i], &en->in[i], 0, rc);
        if (st) return st;
    }
    return HCG_OK;
}

static hcg_status concat_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *os = &en->out.shape;
    int axis;
    if (!hcg_norm_axis(hcg_attr_int(en->node, "axis"), os->rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    size_t kwg;
    hcg_status st = ocl_copy_prepare(dev, hcg_dtype_size(en->out.dtype), &ns->kernel, &ns->kname, &kwg);
    if (st) return hcg_error_prefix(st, "node '%s' (concat): ", en->node->name);
    ns->kwg = kwg;
    ns->n_parts = en->n_in;
    ns->parts = calloc((size_t)en->n_in, sizeof *ns->parts);
    ns->part_off = calloc((size_t)en->n_in, sizeof *ns->part_off);
    if (!ns->parts || !ns->part_off) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    int64_t out_strides[HCG_MAX_RANK], at = 0;
    ocl_contiguous_strides(os, out_strides);
    for (int i = 0; i < en->n_in; i++) {
        const hcg_shape *xs = &en->in[i].shape;
        int64_t strides[2][HCG_MAX_RANK];
        memcpy(strides[0], out_strides, sizeof out_strides);
        ocl_contiguous_strides(xs, strides[1]);
        ns->part_off[i] = at * out_strides[axis];
        at += xs->dims[axis];
        if (ocl_numel(xs) == 0) continue; /* rank 0 marks a skipped part */
        ocl_nd_make(&ns->parts[i], xs->rank, xs->dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides);
    }
    ns->run = concat_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_concat = {"layout", movement_supports, concat_prepare};

/* ---------------------------------------------------------------- gather */

static void gather_name(const hcg_graph *g, const hcg_node *n, char *buf, size_t len)
{
    hcg_dtype it = g->nodes[n->inputs[1]].dtype;
    snprintf(buf, len, "gather_%zu_%s", hcg_dtype_size(n->dtype), it == HCG_I32 ? "i32" : "i64");
}

static bool gather_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    gather_name(g, n, name, sizeof name);
    return ocl_kernel_listed("layout", name);
}

/* p: [0] outer, [1] indices, [2] axis dim, [3] inner, [4] axis. */
static hcg_status gather_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_int(&a, (cl_int)ns->p[3]);
    ocl_arg_int(&a, (cl_int)ns->p[2]);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    ocl_arg_tensor(&a, &en->in[1]);
    ocl_arg_mem(&a, dev->err_buf);
    ocl_arg_int(&a, rc->tag);
    return ocl_launch(dev, en, &a, 3, ns->global, ns->local, rc);
}

static hcg_status gather_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *xs = &en->in[0].shape;
    int axis;
    if (!hcg_norm_axis(hcg_attr_int(en->node, "axis"), xs->rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    char name[64];
    size_t kwg;
    gather_name(en->g, en->node, name, sizeof name);
    hcg_status st = ocl_kernel_get(dev, "layout", name, &ns->kernel, &kwg);
    if (st) return hcg_error_prefix(st, "node '%s' (gather): ", en->node->name);
    ns->kname = ocl_kernel_name("layout", name);
    ns->p[0] = 1;
    for (int i = 0; i < axis; i++) ns->p[0] *= xs->dims[i];
    ns->p[1] = ocl_numel(&en->in[1].shape);
    ns->p[2] = xs->dims[axis];
    ns->p[3] = 1;
    for (int i = axis + 1; i < xs->rank; i++) ns->p[3] *= xs->dims[i];
    ns->p[4] = axis;
    ocl_grid_geometry(dev, kwg, ns->p[3], ns->p[1], ns->p[0], ns->global, ns->local);
    ns->may_fail = true;
    ns->run = gather_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_gather = {"layout", gather_supports, gather_prepare};
