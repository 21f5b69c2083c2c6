/* ocl_reduce.c — reductions and normalisations on OpenCL: reduce_sum / reduce_mean / reduce_max
 * over any axes (cl/reduce.cl, on the input seen as [outer, R, inner]: a work-group per row when
 * the reduced elements are contiguous, a work-item per column group otherwise; axes apart are
 * first moved to the end with a strided copy into a scratch buffer), softmax and log_softmax
 * along an axis, layer_norm and rms_norm over the trailing dims, and the gradients of all four
 * (cl/norm.cl: a work-group per row; on CPU devices the four forward ops take a work-item per
 * contiguous row). */
#include <string.h>

#include "backend/opencl/ocl.h"
#include "graph/op_table.h"

#define IN(g, n, i) (&(g)->nodes[(n)->inputs[(i)]])

static const char *dt_name(hcg_dtype t) { return t == HCG_F32 ? "f32" : t == HCG_I32 ? "i32" : t == HCG_I64 ? "i64" : "?"; }

static hcg_status get_kernel(ocl_dev *dev, const hcg_exec_node *en, ocl_node *ns, const char *program, const char *name,
                             size_t *kwg)
{
    return ocl_node_kernel(dev, en, program, name, &ns->kernel, &ns->kname, kwg);
}

/* A launch of whole work-groups of the program's WG_SIZE, one per row or output. */
static void group_geometry(const ocl_dev *dev, int64_t groups, ocl_node *ns)
{
    ns->dim = 1;
    ocl_group_geometry(dev, groups, ns->global, ns->local);
}

/* A CPU device runs contiguous rows one per work-item (cl/norm.cl's *_item_f32): groups sized so
 * that every core gets a few. p[2] = 1 marks it for the run functions. */
static bool item_rows(const ocl_dev *dev) { return dev->d->type == HCG_DEVICE_CPU; }

static void item_geometry(const ocl_dev *dev, int64_t rows, ocl_node *ns)
{
    int64_t per_group = rows / (4 * (dev->d->compute_units > 0 ? dev->d->compute_units : 1));
    size_t local = 1;
    while (local * 2 <= (size_t)per_group && local * 2 <= dev->wg) local *= 2;
    ns->dim = 1;
    ns->local[0] = local;
    ns->global[0] = ((size_t)rows + local - 1) / local * local;
    ns->local[1] = ns->local[2] = ns->global[1] = ns->global[2] = 1;
    ns->p[2] = 1;
    ns->p[3] = rows;
}

/* ---------------------------------------------------------------- reduce_* */

static bool reduce_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    snprintf(name, sizeof name, "%s_%s_row", hcg_op_name(n->op), dt_name(IN(g, n, 0)->dtype));
    return ocl_kernel_listed("reduce", name);
}

/* p: [0] outer, [1] R, [2] inner; the reduction reads the scratch copy when there is one. */
static hcg_status reduce_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    hcg_dev_tensor src = en->in[0];
    if (ns->scratch) {
        /* the reduced axes to the end first: x[kept..., reduced...] */
        src.buf = &ns->scratch_buf;
        src.offset = 0;
        hcg_status st = ocl_copy_launch(dev, en, ns->kernel2, ns->kname2, ns->kwg, &ns->nd, &src, 0, &en->in[0], 0, rc);
        if (st) return st;
    }
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    if (ns->p[2] > 1) {
        ocl_arg_int(&a, (cl_int)ns->p[2]);
        ocl_arg_int(&a, (cl_int)ns->p[0]);
    }
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &src);
    return ocl_launch(dev, en, &a, ns->dim, ns->global, ns->local, rc);
}

static hcg_status reduce_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *xs = &en->in[0].shape;
    bool mask[HCG_MAX_RANK];
    hcg_status mst = hcg_reduce_mask(en->g, en->node, xs->rank, mask);
    if (mst) return mst;
    /* [outer, R, inner] when the reduced dims (of size > 1) are neighbours */
    int64_t outer = 1, R = 1, inner = 1;
    int runs = 0, last = -1;
    for (int i = 0; i < xs->rank; i++) {
        if (xs->dims[i] == 1) continue;
        if (mask[i] && last != 1) runs++;
        last = mask[i];
        if (mask[i]) R *= xs->dims[i];
        else if (runs == 0) outer *= xs->dims[i];
        else inner *= xs->dims[i];
    }
    hcg_status st;
    if (runs > 1) {
        /* reduced dims apart: copy x with the kept dims first and the reduced ones last */
        size_t esize = hcg_dtype_size(en->in[0].dtype), bytes = (size_t)ocl_numel(xs) * esize;
        int64_t in_strides[HCG_MAX_RANK], strides[2][HCG_MAX_RANK], dims[HCG_MAX_RANK];
        int np = 0;
        ocl_contiguous_strides(xs, in_strides);
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < xs->rank; i++)
                if (mask[i] == (pass == 1)) {
                    dims[np] = xs->dims[i];
                    strides[1][np++] = in_strides[i];
                }
        hcg_shape ps = hcg_shape_make(xs->rank, dims);
        ocl_contiguous_strides(&ps, strides[0]);
        ocl_nd_make(&ns->nd, xs->rank, dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides);
        if ((st = ocl_copy_prepare(dev, esize, &ns->kernel2, &ns->kname2, &ns->kwg)))
            return hcg_error_prefix(st, "node '%s' (%s): ", en->node->name, hcg_op_name(en->node->op));
        if ((st = ocl_node_scratch(dev, en, ns, bytes))) return st;
        outer = ocl_numel(&en->out.shape);
        inner = 1;
    }
    ns->p[0] = outer;
    ns->p[1] = R;
    ns->p[2] = inner;
    char name[64];
    size_t kwg;
    snprintf(name, sizeof name, "%s_%s_%s", hcg_op_name(en->node->op), dt_name(en->in[0].dtype),
             inner == 1 ? "row" : "col");
    if ((st = get_kernel(dev, en, ns, "reduce", name, &kwg))) return st;
    if (inner == 1) {
        group_geometry(dev, outer, ns); /* a group per row */
    } else {
        ns->dim = 2; /* an item per VEC columns of an outer index */
        ocl_grid_geometry(dev, kwg, (inner + dev->vec - 1) / dev->vec, outer, 1, ns->global, ns->local);
    }
    ns->run = reduce_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_reduce = {"reduce", reduce_supports, reduce_prepare};

/* ---------------------------------------------------------------- softmax, log_softmax */

/* p: [0] K (the axis), [1] inner: 1 uses the row kernels. */
static hcg_status softmax_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    if (ns->p[2]) ocl_arg_int(&a, (cl_int)ns->p[3]);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    if (ns->p[1] > 1) ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_tensor(&a, &en->out);
    for (int i = 0; i < en->n_in; i++) ocl_arg_tensor(&a, &en->in[i]); /* x; the gradients: y, dy */
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

/* softmax, log_softmax and their gradients: the kernel <op>[_inner]_f32. */
static hcg_status softmax_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *s = &en->in[0].shape;
    int axis = 0;
    if (s->rank > 0 && !hcg_norm_axis(hcg_attr_int(en->node, "axis"), s->rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    int64_t outer = 1, inner = 1, K = s->rank ? s->dims[axis] : 1;
    for (int i = 0; i < axis; i++) outer *= s->dims[i];
    for (int i = axis + 1; i < s->rank; i++) inner *= s->dims[i];
    char name[64];
    size_t kwg;
    hcg_op op = en->node->op;
    bool items = inner == 1 && item_rows(dev) && (op == HCG_OP_SOFTMAX || op == HCG_OP_LOG_SOFTMAX);
    snprintf(name, sizeof name, "%s%s_f32", hcg_op_name(op), inner > 1 ? "_inner" : items ? "_item" : "");
    hcg_status st = get_kernel(dev, en, ns, "norm", name, &kwg);
    if (st) return st;
    ns->p[0] = K;
    ns->p[1] = inner;
    if (items) item_geometry(dev, outer, ns);
    else group_geometry(dev, outer * inner, ns);
    ns->run = softmax_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_softmax = {"norm", NULL, softmax_prepare};

/* ---------------------------------------------------------------- layer_norm, rms_norm */

/* The data inputs before the optional scale: x, or for the gradients x and dy. */
static int norm_data_inputs(const hcg_node *n)
{
    return n->op == HCG_OP_LAYER_NORM_GRAD || n->op == HCG_OP_RMS_NORM_GRAD ? 2 : 1;
}

/* p: [0] K (elements per row), [1] flags (1 scale, 2 bias); f[0] epsilon. */
static hcg_status norm_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    int data = norm_data_inputs(en->node);
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    if (ns->p[2]) ocl_arg_int(&a, (cl_int)ns->p[3]);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    ocl_arg_float(&a, (cl_float)ns->f[0]);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_tensor(&a, &en->out);
    for (int i = 0; i < data; i++) ocl_arg_tensor(&a, &en->in[i]);
    /* absent scale or bias: the input stands in (never read) */
    ocl_arg_tensor(&a, &en->in[en->n_in > data ? data : 0]);
    if (en->node->op == HCG_OP_LAYER_NORM) ocl_arg_tensor(&a, &en->in[en->n_in > 2 ? 2 : 0]);
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

static hcg_status norm_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *s = &en->in[0].shape;
    int axis;
    if (s->rank < 1 || !hcg_norm_axis(hcg_attr_int(en->node, "axis"), s->rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    int64_t rows = 1, K = 1;
    for (int i = 0; i < axis; i++) rows *= s->dims[i];
    for (int i = axis; i < s->rank; i++) K *= s->dims[i];
    char name[64];
    size_t kwg;
    bool layer = en->node->op == HCG_OP_LAYER_NORM;
    bool items = item_rows(dev) && (layer || en->node->op == HCG_OP_RMS_NORM);
    snprintf(name, sizeof name, "%s%s_f32", hcg_op_name(en->node->op), items ? "_item" : "");
    hcg_status st = get_kernel(dev, en, ns, "norm", name, &kwg);
    if (st) return st;
    ns->p[0] = K;
    ns->p[1] = (en->n_in > norm_data_inputs(en->node) ? 1 : 0) | (layer && en->n_in > 2 ? 2 : 0);
    ns->f[0] = hcg_attr_float(en->node, "epsilon");
    if (items) item_geometry(dev, rows, ns);
    else group_geometry(dev, rows, ns);
    ns->run = norm_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_norm = {"norm", NULL, norm_prepare};
