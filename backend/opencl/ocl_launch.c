/* ocl_launch.c — launching hcg's own kernels: index spaces (collapsed dims and per-operand
 * strides, the nd_t the kernels read), NDRange geometry, kernel arguments with deferred error
 * checking, the enqueue itself, and the profiling events of a node.
 *
 * Geometry: work-groups never have one item on a CPU device (POCL loses ~30x that way), global
 * sizes are rounded up to the local size (kernels bounds-check), and local sizes come from a small
 * fixed set, because some implementations (POCL) compile a kernel once per local size. */
#include <string.h>

#include "backend/opencl/ocl.h"

/* ---------------------------------------------------------------- shapes and strides */

int64_t ocl_numel(const hcg_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->dims[i];
    return n;
}

void ocl_contiguous_strides(const hcg_shape *s, int64_t strides[HCG_MAX_RANK])
{
    int64_t st = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        strides[i] = st;
        st *= s->dims[i];
    }
}

void ocl_broadcast_strides(const hcg_shape *out, const hcg_shape *in, int64_t strides[HCG_MAX_RANK])
{
    int64_t own[HCG_MAX_RANK];
    ocl_contiguous_strides(in, own);
    for (int i = 0; i < out->rank; i++) {
        int j = in->rank - out->rank + i;
        strides[i] = j < 0 || in->dims[j] == 1 ? 0 : own[j];
    }
}

void ocl_nd_make(ocl_nd *nd, int rank, const int64_t *dims, int n_ops, const int64_t (*strides)[HCG_MAX_RANK])
{
    memset(nd, 0, sizeof *nd);
    nd->n_ops = n_ops;
    int r = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 1) continue;
        bool merge = r > 0;
        for (int k = 0; k < n_ops && merge; k++) merge = nd->stride[k][r - 1] == strides[k][i] * dims[i];
        if (merge) {
            /* dim r-1 and this one walk every operand as one dim of their product */
            nd->dims[r - 1] *= dims[i];
            for (int k = 0; k < n_ops; k++) nd->stride[k][r - 1] = strides[k][i];
            continue;
        }
        nd->dims[r] = dims[i];
        for (int k = 0; k < n_ops; k++) nd->stride[k][r] = strides[k][i];
        r++;
    }
    if (r == 0) { /* a scalar, or only size-1 dims */
        r = 1;
        nd->dims[0] = 1;
    }
    nd->rank = r;
}

/* ---------------------------------------------------------------- geometry */

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}

static size_t round_up(int64_t v, size_t m) { return ((size_t)v + m - 1) / m * m; }

/* The items per group for a kernel: the device's choice, within what the kernel allows. */
static size_t group_size(const ocl_dev *dev, size_t kernel_wg)
{
    size_t wg = dev->wg;
    if (kernel_wg > 0 && kernel_wg < wg) wg = pow2_floor(kernel_wg);
    return wg;
}

void ocl_grid_geometry(const ocl_dev *dev, size_t kernel_wg, int64_t x, int64_t y, int64_t z, size_t global[3],
                       size_t local[3])
{
    size_t wg = group_size(dev, kernel_wg), lx = wg;
    /* A short last dim shares the group with rows: 4, 16 or 64 columns, the rest rows. */
    static const size_t narrow[] = {4, 16, 64};
    for (size_t i = 0; i < sizeof narrow / sizeof narrow[0]; i++) {
        if (narrow[i] < wg && x <= (int64_t)narrow[i]) {
            lx = narrow[i];
            break;
        }
    }
    size_t ly = wg / lx;
    if (ly > dev->max_dim1) ly = pow2_floor(dev->max_dim1);
    if (y <= 1) ly = 1;
    local[0] = lx;
    local[1] = ly;
    local[2] = 1;
    global[0] = round_up(x, lx);
    global[1] = round_up(y < 1 ? 1 : y, ly);
    global[2] = (size_t)(z < 1 ? 1 : z);
}

void ocl_flat_geometry(const ocl_dev *dev, size_t kernel_wg, int64_t n, size_t global[3], size_t local[3])
{
    size_t wg = group_size(dev, kernel_wg);
    local[0] = wg;
    local[1] = local[2] = 1;
    global[0] = round_up(n < 1 ? 1 : n, wg);
    global[1] = global[2] = 1;
}

void ocl_group_geometry(const ocl_dev *dev, int64_t groups, size_t global[3], size_t local[3])
{
    local[0] = dev->red_wg;
    global[0] = (size_t)groups * dev->red_wg;
    local[1] = local[2] = global[1] = global[2] = 1;
}

/* ---------------------------------------------------------------- arguments */

void ocl_args_begin(ocl_args *a, cl_kernel k, const char *name)
{
    a->k = k;
    a->name = name;
    a->n = 0;
    a->err = CL_SUCCESS;
    a->failed_at = 0;
}

void ocl_arg(ocl_args *a, size_t size, const void *value)
{
    if (a->err == CL_SUCCESS) {
        a->err = clSetKernelArg(a->k, a->n, size, value);
        if (a->err != CL_SUCCESS) a->failed_at = a->n;
    }
    a->n++;
}

void ocl_arg_int(ocl_args *a, cl_int v) { ocl_arg(a, sizeof v, &v); }
void ocl_arg_long(ocl_args *a, cl_long v) { ocl_arg(a, sizeof v, &v); }
void ocl_arg_ulong(ocl_args *a, cl_ulong v) { ocl_arg(a, sizeof v, &v); }
void ocl_arg_float(ocl_args *a, cl_float v) { ocl_arg(a, sizeof v, &v); }
void ocl_arg_mem(ocl_args *a, cl_mem m) { ocl_arg(a, sizeof m, &m); }

cl_ulong ocl_elem_offset(const hcg_dev_tensor *t) { return (cl_ulong)(t->offset / hcg_dtype_size(t->dtype)); }

void ocl_arg_tensor(ocl_args *a, const hcg_dev_tensor *t)
{
    ocl_arg_mem(a, (cl_mem)t->buf->handle);
    ocl_arg_ulong(a, ocl_elem_offset(t));
}

/* ---------------------------------------------------------------- index-space launches */

/* The innermost three dims of nd as a kernel sees them. */
static void nd_kernel_view(const ocl_nd *nd, ocl_nd_k *kn)
{
    int r = nd->rank, inner = r < 3 ? r : 3;
    memset(kn, 0, sizeof *kn);
    kn->X = (cl_int)nd->dims[r - 1];
    kn->Y = inner >= 2 ? (cl_int)nd->dims[r - 2] : 1;
    kn->Z = inner >= 3 ? (cl_int)nd->dims[r - 3] : 1;
    for (int op = 0; op < nd->n_ops; op++) {
        kn->sx[op] = (cl_int)nd->stride[op][r - 1];
        kn->sy[op] = inner >= 2 ? (cl_int)nd->stride[op][r - 2] : 0;
        kn->sz[op] = inner >= 3 ? (cl_int)nd->stride[op][r - 3] : 0;
    }
}

/* One launch per index of nd's dims beyond the innermost three, with the given geometry. */
static hcg_status nd_launch_outer(ocl_dev *dev, const hcg_exec_node *en, cl_kernel k, const char *kname,
                                  const ocl_nd *nd, const ocl_nd_k *kn, const size_t *global, const size_t *local,
                                  ocl_nd_args_fn set_args, void *ctx, ocl_run *rc)
{
    int r = nd->rank, outer = r - (r < 3 ? r : 3);
    int64_t n_outer = 1;
    for (int d = 0; d < outer; d++) n_outer *= nd->dims[d];
    for (int64_t t = 0; t < n_outer; t++) {
        int64_t off[4] = {0, 0, 0, 0}, rest = t;
        for (int d = outer - 1; d >= 0; d--) {
            int64_t i = rest % nd->dims[d];
            rest /= nd->dims[d];
            for (int op = 0; op < nd->n_ops; op++) off[op] += i * nd->stride[op][d];
        }
        ocl_args a;
        ocl_args_begin(&a, k, kname);
        set_args(&a, kn, off, ctx);
        hcg_status st = ocl_launch(dev, en, &a, 3, global, local, rc);
        if (st) return st;
    }
    return HCG_OK;
}

hcg_status ocl_nd_launch(ocl_dev *dev, const hcg_exec_node *en, cl_kernel k, const char *kname, size_t kwg,
                         const ocl_nd *nd, ocl_nd_args_fn set_args, void *ctx, ocl_run *rc)
{
    ocl_nd_k kn;
    nd_kernel_view(nd, &kn);
    size_t global[3], local[3];
    ocl_grid_geometry(dev, kwg, kn.X, kn.Y, kn.Z, global, local);
    return nd_launch_outer(dev, en, k, kname, nd, &kn, global, local, set_args, ctx, rc);
}

hcg_status ocl_nd_launch_tiles(ocl_dev *dev, const hcg_exec_node *en, cl_kernel k, const char *kname, size_t tile,
                               size_t items, const ocl_nd *nd, ocl_nd_args_fn set_args, void *ctx, ocl_run *rc)
{
    ocl_nd_k kn;
    nd_kernel_view(nd, &kn);
    size_t local[3] = {items, items, 1};
    size_t global[3] = {(size_t)(kn.X + tile - 1) / tile * items, (size_t)(kn.Y + tile - 1) / tile * items,
                        (size_t)(kn.Z < 1 ? 1 : kn.Z)};
    return nd_launch_outer(dev, en, k, kname, nd, &kn, global, local, set_args, ctx, rc);
}

/* ---------------------------------------------------------------- enqueue and events */

void ocl_run_event(ocl_run *rc, cl_event ev)
{
    if (!ev) return;
    if (!rc->first) {
        rc->first = ev;
        return;
    }
    if (rc->last) clReleaseEvent(rc->last);
    rc->last = ev;
}

hcg_status ocl_launch(ocl_dev *dev, const hcg_exec_node *en, ocl_args *a, cl_uint dim, const size_t *global,
                      const size_t *local, ocl_run *rc)
{
    if (a->err != CL_SUCCESS) return ocl_node_fail(en, dev, a->err, "clSetKernelArg(%s, argument %u)", a->name, a->failed_at);
    cl_event ev;
    cl_int err = clEnqueueNDRangeKernel(dev->queue, a->k, dim, NULL, global, local, 0, NULL, ocl_run_evp(rc, &ev));
    if (err != CL_SUCCESS)
        return ocl_node_fail(en, dev, err, "clEnqueueNDRangeKernel(%s, global %zux%zux%zu, local %zux%zux%zu)", a->name,
                             global[0], dim > 1 ? global[1] : 1, dim > 2 ? global[2] : 1, local[0],
                             dim > 1 ? local[1] : 1, dim > 2 ? local[2] : 1);
    ocl_run_event(rc, ev);
    return HCG_OK;
}
