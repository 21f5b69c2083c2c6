/* ocl_train.c — the op families training adds, on OpenCL: one_hot, argmax, unary_grad and
 * gather_grad (cl/grad.cl); slice_grad (fill.cl's zero fill, then layout.cl's strided copy); the
 * losses, whose per-row terms (cl/norm.cl, or nll_loss_rows of cl/train.cl) one work-group sums
 * on the device into the scalar (cl/train.cl: loss_total), so a loss never visits the host; and
 * the optimizer updates (cl/train.cl), which write their state inputs (the parameter, momentum,
 * Adam's moments) in place and read the step's scalars from device memory. Bad data (a
 * gather_grad index or a class target out of range) goes through the device's error buffer, with
 * the CPU's messages. The gradients of softmax, log_softmax, layer_norm and rms_norm run in their
 * forward ops' families (ocl_reduce.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend/opencl/ocl.h"
#include "graph/op_rules.h"

#define IN(g, n, i) (&(g)->nodes[(n)->inputs[(i)]])

static const char *dt_name(hcg_dtype t) { return t == HCG_F32 ? "f32" : t == HCG_I32 ? "i32" : t == HCG_I64 ? "i64" : "?"; }

static bool listed(const char *program, const char *fmt, const char *a, const char *b)
{
    char name[96];
    snprintf(name, sizeof name, fmt, a, b);
    return ocl_kernel_listed(program, name);
}

/* The node's main kernel (ns->kernel), named by fmt with a and b. */
static hcg_status main_kernel(ocl_dev *dev, const hcg_exec_node *en, ocl_node *ns, const char *program, const char *fmt,
                              const char *a, const char *b)
{
    char name[96];
    snprintf(name, sizeof name, fmt, a, b);
    return ocl_node_kernel(dev, en, program, name, &ns->kernel, &ns->kname, &ns->kwg);
}

/* [outer, D, inner] around axis of s. */
static void split_at(const hcg_shape *s, int axis, int64_t *outer, int64_t *D, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= s->dims[i];
    for (int i = axis + 1; i < s->rank; i++) *inner *= s->dims[i];
    *D = s->dims[axis];
}

static hcg_status node_axis(const hcg_exec_node *en, int rank, int *axis)
{
    if (hcg_norm_axis(hcg_attr_int(en->node, "axis"), rank, axis)) return HCG_OK;
    return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "axis out of range");
}

/* The node's scratch buffer as an f32 tensor from element `at`. */
static hcg_dev_tensor scratch_at(ocl_node *ns, int64_t at)
{
    hcg_dev_tensor t = {.dtype = HCG_F32, .buf = &ns->scratch_buf, .offset = (size_t)at * sizeof(float)};
    return t;
}

/* Launches a kernel of one work-group. */
static hcg_status launch_one_group(ocl_dev *dev, const hcg_exec_node *en, ocl_args *a, ocl_run *rc)
{
    size_t global[3], local[3];
    ocl_group_geometry(dev, 1, global, local);
    return ocl_launch(dev, en, a, 1, global, local, rc);
}

/* ---------------------------------------------------------------- one_hot */

static bool one_hot_supports(const hcg_graph *g, const hcg_node *n)
{
    return listed("grad", "one_hot_%s%s", dt_name(IN(g, n, 0)->dtype), "");
}

/* p: [0] depth, [1] inner. */
static hcg_status one_hot_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    return ocl_launch(dev, en, &a, 3, ns->global, ns->local, rc);
}

static hcg_status one_hot_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    int axis;
    int64_t outer, depth, inner;
    hcg_status st = node_axis(en, en->out.shape.rank, &axis);
    if (st || ocl_numel(&en->out.shape) == 0) return st;
    split_at(&en->out.shape, axis, &outer, &depth, &inner);
    if ((st = main_kernel(dev, en, ns, "grad", "one_hot_%s%s", dt_name(en->in[0].dtype), ""))) return st;
    ns->p[0] = depth;
    ns->p[1] = inner;
    ocl_grid_geometry(dev, ns->kwg, inner, depth, outer, ns->global, ns->local);
    ns->run = one_hot_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_one_hot = {"grad", one_hot_supports, one_hot_prepare};

/* ---------------------------------------------------------------- argmax */

static bool argmax_supports(const hcg_graph *g, const hcg_node *n)
{
    return listed("grad", "argmax_%s%s", dt_name(IN(g, n, 0)->dtype), "_row");
}

/* p: [0] D, [1] inner, [2] outer; inner == 1 uses the row kernel. */
static hcg_status argmax_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    if (ns->p[1] > 1) {
        ocl_arg_int(&a, (cl_int)ns->p[1]);
        ocl_arg_int(&a, (cl_int)ns->p[2]);
    }
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    return ocl_launch(dev, en, &a, ns->p[1] > 1 ? 2 : 1, ns->global, ns->local, rc);
}

static hcg_status argmax_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    int axis;
    int64_t outer, D, inner;
    hcg_status st = node_axis(en, en->in[0].shape.rank, &axis);
    if (st || ocl_numel(&en->out.shape) == 0) return st;
    split_at(&en->in[0].shape, axis, &outer, &D, &inner);
    const char *dt = dt_name(en->in[0].dtype);
    if ((st = main_kernel(dev, en, ns, "grad", "argmax_%s%s", dt, inner > 1 ? "_col" : "_row"))) return st;
    ns->p[0] = D;
    ns->p[1] = inner;
    ns->p[2] = outer;
    if (inner > 1) ocl_grid_geometry(dev, ns->kwg, inner, outer, 1, ns->global, ns->local);
    else ocl_group_geometry(dev, outer, ns->global, ns->local);
    ns->run = argmax_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_argmax = {"grad", argmax_supports, argmax_prepare};

/* ---------------------------------------------------------------- unary_grad */

static bool unary_grad_supports(const hcg_graph *g, const hcg_node *n)
{
    (void)g;
    return listed("grad", "unary_grad_%s%s", hcg_attr_string(n, "of"), "_f32");
}

/* Flat kernels over the output: (n, out, in[0], in[1]). */
static hcg_status flat2_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ocl_numel(&en->out.shape));
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    ocl_arg_tensor(&a, &en->in[1]);
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

static hcg_status unary_grad_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    int64_t n = ocl_numel(&en->out.shape);
    if (n == 0) return HCG_OK;
    hcg_status st = main_kernel(dev, en, ns, "grad", "unary_grad_%s%s", hcg_attr_string(en->node, "of"), "_f32");
    if (st) return st;
    ocl_flat_geometry(dev, ns->kwg, n, ns->global, ns->local);
    ns->run = flat2_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_unary_grad = {"grad", unary_grad_supports, unary_grad_prepare};

/* ---------------------------------------------------------------- gather_grad */

static bool gather_grad_supports(const hcg_graph *g, const hcg_node *n)
{
    return listed("grad", "gather_grad_%s%s", dt_name(IN(g, n, 1)->dtype), "");
}

/* p: [0] outer, [1] indices, [2] axis dim, [3] inner, [4] axis. The check (kernel2) runs first. */
static hcg_status gather_grad_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    hcg_status st;
    if (ns->p[1] > 0) {
        ocl_args_begin(&a, ns->kernel2, ns->kname2);
        ocl_arg_int(&a, (cl_int)ns->p[1]);
        ocl_arg_int(&a, (cl_int)ns->p[2]);
        ocl_arg_tensor(&a, &en->in[1]);
        ocl_arg_mem(&a, dev->err_buf);
        ocl_arg_int(&a, rc->tag);
        if ((st = launch_one_group(dev, en, &a, rc))) return st;
    }
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_int(&a, (cl_int)ns->p[3]);
    ocl_arg_int(&a, (cl_int)ns->p[2]);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    ocl_arg_tensor(&a, &en->in[1]);
    return ocl_launch(dev, en, &a, 3, ns->global, ns->local, rc);
}

static hcg_status gather_grad_bad_index(const hcg_exec_node *en, const ocl_node *ns, int where, int64_t value)
{
    return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME,
                          "index %lld (at position %d) is out of range for axis %lld of size %lld", (long long)value,
                          where, (long long)ns->p[4], (long long)ns->p[2]);
}

static hcg_status gather_grad_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    int axis;
    int64_t outer, axis_dim, inner;
    hcg_status st = node_axis(en, en->out.shape.rank, &axis);
    if (st || ocl_numel(&en->out.shape) == 0) return st;
    split_at(&en->out.shape, axis, &outer, &axis_dim, &inner);
    const char *it = dt_name(en->in[1].dtype);
    if ((st = main_kernel(dev, en, ns, "grad", "gather_grad_%s%s", it, ""))) return st;
    char name[64];
    snprintf(name, sizeof name, "gather_grad_check_%s", it);
    if ((st = ocl_node_kernel(dev, en, "grad", name, &ns->kernel2, &ns->kname2, NULL))) return st;
    ns->p[0] = outer;
    ns->p[1] = ocl_numel(&en->in[1].shape);
    ns->p[2] = axis_dim;
    ns->p[3] = inner;
    ns->p[4] = axis;
    ocl_grid_geometry(dev, ns->kwg, inner, axis_dim, outer, ns->global, ns->local);
    ns->may_fail = ns->p[1] > 0;
    ns->bad_data = gather_grad_bad_index;
    ns->run = gather_grad_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_gather_grad = {"grad", gather_grad_supports, gather_grad_prepare};

/* ---------------------------------------------------------------- slice_grad */

static bool slice_grad_supports(const hcg_graph *g, const hcg_node *n)
{
    (void)g;
    size_t es = hcg_dtype_size(n->dtype);
    return es == 1 || es == 2 || es == 4 || es == 8;
}

/* Zeros (kernel2: fill), then dy into the places the slice reads (kernel: a strided copy over
 * ns->nd into the output from element p[0]). p[1]: whether dy has elements. */
static hcg_status slice_grad_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel2, ns->kname2);
    ocl_arg_int(&a, (cl_int)ocl_numel(&en->out.shape));
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_ulong(&a, 0);
    hcg_status st = ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
    if (st || !ns->p[1]) return st;
    return ocl_copy_launch(dev, en, ns->kernel, ns->kname, ns->kwg, &ns->nd, &en->out, ns->p[0], &en->in[0], 0, rc);
}

static hcg_status slice_grad_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *xs = &en->out.shape, *ds = &en->in[0].shape;
    int64_t start[HCG_MAX_RANK], step[HCG_MAX_RANK], count[HCG_MAX_RANK];
    hcg_status st = hcg_slice_params(en->g, en->node, xs, start, step, count);
    if (st || ocl_numel(xs) == 0) return st;
    size_t esize = hcg_dtype_size(en->out.dtype), fill_wg;
    char name[32];
    snprintf(name, sizeof name, "fill_%zu", esize);
    if ((st = ocl_node_kernel(dev, en, "fill", name, &ns->kernel2, &ns->kname2, &fill_wg))) return st;
    ocl_flat_geometry(dev, fill_wg, ocl_numel(xs), ns->global, ns->local);
    ns->p[1] = ocl_numel(ds) > 0;
    if (ns->p[1]) {
        if ((st = ocl_copy_prepare(dev, esize, &ns->kernel, &ns->kname, &ns->kwg)))
            return hcg_error_prefix(st, "node '%s' (slice_grad): ", en->node->name);
        int64_t out_strides[HCG_MAX_RANK], strides[2][HCG_MAX_RANK];
        ocl_contiguous_strides(xs, out_strides);
        ocl_contiguous_strides(ds, strides[1]);
        ns->p[0] = 0;
        for (int i = 0; i < xs->rank; i++) {
            strides[0][i] = out_strides[i] * step[i];
            ns->p[0] += start[i] * out_strides[i];
        }
        ocl_nd_make(&ns->nd, ds->rank, ds->dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides);
    }
    ns->run = slice_grad_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_slice_grad = {"fill", slice_grad_supports, slice_grad_prepare};

/* ---------------------------------------------------------------- losses */

/* What the loss kernels share. p: [0] C (classes), [1] inner, [2] rows, [3] reduction, [4] has
 * ignore, [5] ignore, [6] probability targets; f: [0] label smoothing or temperature, [1] the
 * total's multiplier, [2] its divisor (NaN: the counted rows). Kernels: the rows' terms (kernel),
 * the targets' check (kernel2, class indices only), the total (kernel3, unless reduction is none).
 * The scratch holds loss[rows] and weight[rows] (loss goes to the output for reduction none). */

/* Sums the scratch's `n` terms (and weights) into the scalar output. */
static hcg_status total_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, int64_t n, int64_t weights_at, ocl_run *rc)
{
    hcg_dev_tensor loss = scratch_at(ns, 0), weight = scratch_at(ns, weights_at);
    bool weighted = isnan(ns->f[2]);
    ocl_args a;
    ocl_args_begin(&a, ns->kernel3, ns->kname3);
    ocl_arg_int(&a, (cl_int)n);
    ocl_arg_float(&a, (cl_float)ns->f[1]);
    ocl_arg_float(&a, weighted ? 1.0f : (cl_float)ns->f[2]);
    ocl_arg_int(&a, weighted);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &loss);
    ocl_arg_tensor(&a, &weight);
    return launch_one_group(dev, en, &a, rc);
}

static hcg_status total_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, double mul, double div)
{
    ns->f[1] = mul;
    ns->f[2] = div;
    return ocl_node_kernel(dev, en, "train", "loss_total", &ns->kernel3, &ns->kname3, NULL);
}

static bool class_loss_supports(const hcg_graph *g, const hcg_node *n)
{
    const char *t = dt_name(IN(g, n, 1)->dtype);
    return n->op == HCG_OP_NLL_LOSS ? listed("train", "nll_loss_rows_%s%s", t, "")
                                    : listed("norm", "softmax_cross_entropy_rows_%s%s", t, "");
}

static hcg_status class_loss_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    int64_t rows = ns->p[2];
    bool none = ns->p[3] == HCG_REDUCE_NONE;
    hcg_dev_tensor loss = none ? en->out : scratch_at(ns, 0), weight = scratch_at(ns, rows);
    hcg_status st;
    ocl_args a;
    if (rows > 0) {
        bool nll = en->node->op == HCG_OP_NLL_LOSS;
        size_t global[3], local[3];
        ocl_args_begin(&a, ns->kernel, ns->kname);
        if (nll) ocl_arg_int(&a, (cl_int)rows);
        ocl_arg_int(&a, (cl_int)ns->p[0]);
        ocl_arg_int(&a, (cl_int)ns->p[1]);
        if (!nll) ocl_arg_float(&a, (cl_float)ns->f[0]);
        ocl_arg_long(&a, ns->p[5]);
        ocl_arg_int(&a, (cl_int)ns->p[4]);
        ocl_arg_tensor(&a, &loss);
        ocl_arg_tensor(&a, &weight);
        ocl_arg_tensor(&a, &en->in[0]);
        ocl_arg_tensor(&a, &en->in[1]);
        if (nll) ocl_flat_geometry(dev, ns->kwg, rows, global, local);
        else ocl_group_geometry(dev, rows, global, local);
        if ((st = ocl_launch(dev, en, &a, 1, global, local, rc))) return st;
        if (!ns->p[6]) {
            ocl_args_begin(&a, ns->kernel2, ns->kname2);
            ocl_arg_int(&a, (cl_int)rows);
            ocl_arg_int(&a, (cl_int)ns->p[0]);
            ocl_arg_long(&a, ns->p[5]);
            ocl_arg_int(&a, (cl_int)ns->p[4]);
            ocl_arg_tensor(&a, &en->in[1]);
            ocl_arg_mem(&a, dev->err_buf);
            ocl_arg_int(&a, rc->tag);
            if ((st = launch_one_group(dev, en, &a, rc))) return st;
        }
    }
    return none ? HCG_OK : total_run(dev, en, ns, rows, rows, rc);
}

static hcg_status class_loss_bad_target(const hcg_exec_node *en, const ocl_node *ns, int where, int64_t value)
{
    return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME, "target %lld (row %d) is not a class index in [0, %lld)",
                          (long long)value, where, (long long)ns->p[0]);
}

/* The scores as [outer, C, inner] around the node's class axis: p[0] C, p[1] inner, p[2] rows. */
static hcg_status class_axis(const hcg_exec_node *en, ocl_node *ns)
{
    int axis;
    int64_t outer;
    hcg_status st = node_axis(en, en->in[0].shape.rank, &axis);
    if (!st) {
        split_at(&en->in[0].shape, axis, &outer, &ns->p[0], &ns->p[1]);
        ns->p[2] = outer * ns->p[1];
    }
    return st;
}

static hcg_status class_loss_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_node *n = en->node;
    bool nll = n->op == HCG_OP_NLL_LOSS;
    hcg_status st = class_axis(en, ns);
    if (st) return st;
    int64_t rows = ns->p[2], ignore = hcg_attr_int(n, "ignore_index");
    hcg_reduction red = hcg_loss_reduction(n);
    if (red == HCG_REDUCE_NONE && rows == 0) return HCG_OK;
    ns->p[3] = red;
    ns->p[4] = ignore != HCG_NO_IGNORE_INDEX;
    ns->p[5] = ns->p[4] ? ignore : 0;
    ns->p[6] = en->in[1].dtype == HCG_F32;
    ns->f[0] = nll ? 0 : hcg_attr_float(n, "label_smoothing");
    const char *t = dt_name(en->in[1].dtype);
    if ((st = main_kernel(dev, en, ns, nll ? "train" : "norm", nll ? "nll_loss_rows_%s%s" : "softmax_cross_entropy_rows_%s%s",
                          t, "")))
        return st;
    if (!ns->p[6]) {
        char name[64];
        snprintf(name, sizeof name, "class_check_%s", t);
        if ((st = ocl_node_kernel(dev, en, "train", name, &ns->kernel2, &ns->kname2, NULL))) return st;
        ns->may_fail = rows > 0;
        ns->bad_data = class_loss_bad_target;
    }
    /* a mean over the counted rows (weights), over every row (probabilities), or a sum */
    double div = red == HCG_REDUCE_SUM ? 1 : ns->p[6] ? (double)rows : NAN;
    if ((red != HCG_REDUCE_NONE && (st = total_prepare(dev, en, ns, 1, div))) ||
        (st = ocl_node_scratch(dev, en, ns, (size_t)(2 * rows) * sizeof(float))))
        return st;
    ns->run = class_loss_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_class_loss = {"norm", class_loss_supports, class_loss_prepare};

/* kl_div: the rows' terms (kernel), then T^2 * their mean (kernel3). */
static hcg_status kl_div_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    int64_t rows = ns->p[2];
    if (rows > 0) {
        hcg_dev_tensor loss = scratch_at(ns, 0);
        size_t global[3], local[3];
        ocl_args a;
        ocl_args_begin(&a, ns->kernel, ns->kname);
        ocl_arg_int(&a, (cl_int)ns->p[0]);
        ocl_arg_int(&a, (cl_int)ns->p[1]);
        ocl_arg_float(&a, (cl_float)ns->f[0]);
        ocl_arg_tensor(&a, &loss);
        ocl_arg_tensor(&a, &en->in[0]);
        ocl_arg_tensor(&a, &en->in[1]);
        ocl_group_geometry(dev, rows, global, local);
        hcg_status st = ocl_launch(dev, en, &a, 1, global, local, rc);
        if (st) return st;
    }
    return total_run(dev, en, ns, rows, 0, rc);
}

static hcg_status kl_div_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    hcg_status st = class_axis(en, ns);
    if (st) return st;
    double t = hcg_attr_float(en->node, "temperature");
    ns->f[0] = t;
    if ((st = main_kernel(dev, en, ns, "norm", "kl_div_rows_f32%s%s", "", "")) ||
        (st = total_prepare(dev, en, ns, (float)(t * t), (double)ns->p[2])) ||
        (st = ocl_node_scratch(dev, en, ns, (size_t)ns->p[2] * sizeof(float))))
        return st;
    ns->run = kl_div_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_kl_div = {"norm", NULL, kl_div_prepare};

/* mse_loss: the squares (reduction none), or partial sums per work-group (kernel, p[0] groups)
 * and their total (kernel3). */
static hcg_status mse_loss_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    if (ns->p[1] == HCG_REDUCE_NONE) return flat2_run(dev, en, ns, rc);
    hcg_dev_tensor partial = scratch_at(ns, 0);
    size_t global[3], local[3];
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ocl_numel(&en->in[0].shape));
    ocl_arg_tensor(&a, &partial);
    ocl_arg_tensor(&a, &en->in[0]);
    ocl_arg_tensor(&a, &en->in[1]);
    ocl_group_geometry(dev, ns->p[0], global, local);
    hcg_status st = ocl_launch(dev, en, &a, 1, global, local, rc);
    return st ? st : total_run(dev, en, ns, ns->p[0], 0, rc);
}

static hcg_status mse_loss_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    int64_t n = ocl_numel(&en->in[0].shape);
    hcg_reduction red = hcg_loss_reduction(en->node);
    hcg_status st;
    ns->p[1] = red;
    if (red == HCG_REDUCE_NONE) {
        if (n == 0) return HCG_OK;
        if ((st = main_kernel(dev, en, ns, "train", "mse_loss_none%s%s", "", ""))) return st;
        ocl_flat_geometry(dev, ns->kwg, n, ns->global, ns->local);
    } else {
        /* enough groups to fill the device, few enough for one group to add their sums */
        int64_t groups = (n + (int64_t)dev->red_wg * 16 - 1) / ((int64_t)dev->red_wg * 16);
        ns->p[0] = groups < 1 ? 1 : groups > 256 ? 256 : groups;
        if ((st = main_kernel(dev, en, ns, "train", "mse_loss_partial%s%s", "", "")) ||
            (st = total_prepare(dev, en, ns, 1, red == HCG_REDUCE_MEAN ? (double)n : 1)) ||
            (st = ocl_node_scratch(dev, en, ns, (size_t)ns->p[0] * sizeof(float))))
            return st;
    }
    ns->run = mse_loss_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_mse_loss = {"train", NULL, mse_loss_prepare};

/* ---------------------------------------------------------------- optimizer updates */

/* Both: (n, attributes..., out, param, grad, hyper, grad_scale, state slots...); f and p hold the
 * attributes as the CPU kernels round them. */
static hcg_status update_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    bool adam = en->node->op == HCG_OP_ADAM_UPDATE;
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ocl_numel(&en->in[0].shape));
    if (adam) {
        ocl_arg_float(&a, (cl_float)ns->f[0]);
        ocl_arg_float(&a, (cl_float)(1 - ns->f[0]));
        ocl_arg_float(&a, (cl_float)ns->f[1]);
        ocl_arg_float(&a, (cl_float)(1 - ns->f[1]));
        ocl_arg_float(&a, (cl_float)ns->f[2]);
    } else {
        ocl_arg_float(&a, (cl_float)ns->f[0]);
        ocl_arg_float(&a, (cl_float)ns->f[1]);
    }
    ocl_arg_float(&a, (cl_float)ns->f[3]);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    if (!adam) ocl_arg_int(&a, en->n_in > 4);
    ocl_arg_tensor(&a, &en->out);
    for (int i = 0; i < 4; i++) ocl_arg_tensor(&a, &en->in[i]);
    if (adam) {
        ocl_arg_tensor(&a, &en->in[4]);
        ocl_arg_tensor(&a, &en->in[5]);
    } else {
        ocl_arg_tensor(&a, &en->in[en->n_in > 4 ? 4 : 0]); /* no momentum: never read */
    }
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

static hcg_status update_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_node *n = en->node;
    bool adam = n->op == HCG_OP_ADAM_UPDATE;
    hcg_status st = main_kernel(dev, en, ns, "train", adam ? "adam_update_f32%s%s" : "sgd_update_f32%s%s", "", "");
    if (st) return st;
    if (adam) {
        ns->f[0] = hcg_attr_float(n, "beta1");
        ns->f[1] = hcg_attr_float(n, "beta2");
        ns->f[2] = hcg_attr_float(n, "eps");
        ns->p[0] = hcg_attr_int(n, "decoupled") != 0;
    } else {
        ns->f[0] = hcg_attr_float(n, "momentum");
        ns->f[1] = hcg_attr_float(n, "dampening");
        ns->p[0] = hcg_attr_int(n, "nesterov") != 0;
    }
    ns->f[3] = hcg_attr_float(n, "weight_decay");
    /* at least one item: item 0 writes the output */
    ocl_flat_geometry(dev, ns->kwg, ocl_numel(&en->in[0].shape), ns->global, ns->local);
    ns->run = update_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_sgd_update = {"train", NULL, update_prepare};
const ocl_op_family ocl_fam_adam_update = {"train", NULL, update_prepare};
