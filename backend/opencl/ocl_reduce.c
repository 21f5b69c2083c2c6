/* ocl_reduce.c — reductions and normalisations on OpenCL: reduce_sum / reduce_mean / reduce_max
 * over any axes (cl/reduce.cl: one work-group per output for long reductions, one work-item per
 * output for short ones), softmax and log_softmax along an axis, layer_norm and rms_norm over the
 * trailing dims (cl/norm.cl: one work-group per row). */
#include <string.h>

#include "backend/opencl/ocl.h"

#define IN(g, n, i) (&(g)->nodes[(n)->inputs[(i)]])

static const char *dt_name(hcg_dtype t) { return t == HCG_F32 ? "f32" : t == HCG_I32 ? "i32" : t == HCG_I64 ? "i64" : "?"; }

static hcg_status get_kernel(ocl_dev *dev, const hcg_exec_node *en, ocl_node *ns, const char *program, const char *name,
                             size_t *kwg)
{
    hcg_status st = ocl_kernel_get(dev, program, name, &ns->kernel, kwg);
    if (st) return hcg_error_prefix(st, "node '%s' (%s): ", en->node->name, hcg_op_name(en->node->op));
    ns->kname = ocl_kernel_name(program, name);
    return HCG_OK;
}

/* A launch of whole work-groups of the program's WG_SIZE, one per row or output. */
static void group_geometry(const ocl_dev *dev, int64_t groups, ocl_node *ns)
{
    ns->dim = 1;
    ns->local[0] = dev->red_wg;
    ns->global[0] = (size_t)groups * dev->red_wg;
    ns->local[1] = ns->local[2] = ns->global[1] = ns->global[2] = 1;
}

/* ---------------------------------------------------------------- reduce_* */

static bool reduce_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    snprintf(name, sizeof name, "%s_%s_wg", hcg_op_name(n->op), dt_name(IN(g, n, 0)->dtype));
    return ocl_kernel_listed("reduce", name);
}

static hcg_status reduce_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg(&a, sizeof ns->red, &ns->red);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    return ocl_launch(dev, en, &a, ns->dim, ns->global, ns->local, rc);
}

/* The input's dims as runs of kept and reduced dims (size-1 dims dropped, neighbours of the same
 * kind merged: the input is contiguous, so a run walks as one dim). */
static void reduce_layout(const hcg_shape *xs, const bool *mask, ocl_red *red)
{
    int64_t strides[HCG_MAX_RANK];
    ocl_contiguous_strides(xs, strides);
    memset(red, 0, sizeof *red);
    int last_kind = -1; /* 0 kept, 1 reduced */
    int64_t n_out = 1, n_red = 1;
    for (int i = 0; i < xs->rank; i++) {
        if (xs->dims[i] == 1) continue;
        int kind = mask[i] ? 1 : 0;
        cl_int *dims = kind ? red->rdims : red->kdims, *st = kind ? red->rstride : red->kstride;
        cl_int *rank = kind ? &red->rrank : &red->krank;
        if (kind == last_kind) {
            dims[*rank - 1] *= (cl_int)xs->dims[i];
            st[*rank - 1] = (cl_int)strides[i];
        } else {
            dims[*rank] = (cl_int)xs->dims[i];
            st[*rank] = (cl_int)strides[i];
            (*rank)++;
        }
        last_kind = kind;
        if (kind) n_red *= xs->dims[i];
        else n_out *= xs->dims[i];
    }
    red->n_out = (cl_int)n_out;
    red->n_red = (cl_int)n_red;
}

static hcg_status reduce_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *xs = &en->in[0].shape;
    bool mask[HCG_MAX_RANK] = {false};
    int n_axes;
    const int64_t *axes = hcg_attr_ints(en->node, "axes", &n_axes);
    for (int i = 0; i < xs->rank; i++) mask[i] = n_axes == 0;
    for (int i = 0; i < n_axes; i++) {
        int ax;
        if (!hcg_norm_axis(axes[i], xs->rank, &ax))
            return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis %lld out of range", (long long)axes[i]);
        mask[ax] = true;
    }
    reduce_layout(xs, mask, &ns->red);
    /* A group per output when each output sums many elements or there are few outputs to spread
     * over the device; otherwise an item per output. */
    bool per_group = ns->red.n_red >= 128 || ns->red.n_out <= 64;
    char name[64];
    size_t kwg;
    snprintf(name, sizeof name, "%s_%s_%s", hcg_op_name(en->node->op), dt_name(en->in[0].dtype), per_group ? "wg" : "wi");
    hcg_status st = get_kernel(dev, en, ns, "reduce", name, &kwg);
    if (st) return st;
    if (per_group) group_geometry(dev, ns->red.n_out, ns);
    else {
        ns->dim = 1;
        ocl_flat_geometry(dev, kwg, ns->red.n_out, ns->global, ns->local);
    }
    ns->run = reduce_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_reduce = {"reduce", reduce_supports, reduce_prepare};

/* ---------------------------------------------------------------- softmax, log_softmax */

/* p: [0] K (the axis), [1] inner. */
static hcg_status softmax_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

static hcg_status softmax_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *s = &en->in[0].shape;
    int axis = 0;
    if (s->rank > 0 && !hcg_norm_axis(hcg_attr_int(en->node, "axis"), s->rank, &axis))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
    int64_t outer = 1, inner = 1, K = s->rank ? s->dims[axis] : 1;
    for (int i = 0; i < axis; i++) outer *= s->dims[i];
    for (int i = axis + 1; i < s->rank; i++) inner *= s->dims[i];
    size_t kwg;
    hcg_status st = get_kernel(dev, en, ns, "norm", en->node->op == HCG_OP_SOFTMAX ? "softmax_f32" : "log_softmax_f32", &kwg);
    if (st) return st;
    ns->p[0] = K;
    ns->p[1] = inner;
    group_geometry(dev, outer * inner, ns);
    ns->run = softmax_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_softmax = {"norm", NULL, softmax_prepare};

/* ---------------------------------------------------------------- layer_norm, rms_norm */

/* p: [0] K (elements per row), [1] flags (1 scale, 2 bias); f[0] epsilon. */
static hcg_status norm_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    ocl_arg_float(&a, (cl_float)ns->f[0]);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    /* absent scale or bias: the input stands in (never read) */
    ocl_arg_tensor(&a, &en->in[en->n_in > 1 ? 1 : 0]);
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
    size_t kwg;
    bool layer = en->node->op == HCG_OP_LAYER_NORM;
    hcg_status st = get_kernel(dev, en, ns, "norm", layer ? "layer_norm_f32" : "rms_norm_f32", &kwg);
    if (st) return st;
    ns->p[0] = K;
    ns->p[1] = (en->n_in > 1 ? 1 : 0) | (layer && en->n_in > 2 ? 2 : 0);
    ns->f[0] = hcg_attr_float(en->node, "epsilon");
    group_geometry(dev, rows, ns);
    ns->run = norm_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_norm = {"norm", NULL, norm_prepare};
