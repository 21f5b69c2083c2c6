/* ocl_quant.c — the quantization op families on OpenCL (cl/quant.cl): dequantize and quantize
 * (one work-item per element, the scale layouts of graph/quant.h), matmul_integer (one work-item
 * per output element; batches that do not stack into rows are launched one matrix at a time), and
 * the products with a weight stored small, which CLBlast cannot do: quant_matmul (int8 weight and
 * scales) and fused_matmul with an f16 weight, both through hcg's own kernels with the epilogue
 * inside: the tiled qmm_* on GPUs and accelerators, and on CPU devices (POCL), whose work-items
 * run their loops as scalar code unless written with vectors, qmm_rows_* / qmm_cols_* (a block of C
 * per item, VEC floats at a time along K or N). */
#include <string.h>

#include "backend/opencl/ocl.h"
#include "graph/op_table.h"
#include "graph/quant.h"

#define IN(g, n, i) (&(g)->nodes[(n)->inputs[(i)]])

static const char *q_name(hcg_dtype t)
{
    switch (t) {
    case HCG_I8: return "i8";
    case HCG_U8: return "u8";
    case HCG_I32: return "i32";
    default: return "?";
    }
}

/* ---------------------------------------------------------------- dequantize, quantize */

/* p: [0] elements, [1] mode, [2] inner, [3] dim, [4] block, [5] blocks. */
static hcg_status qelem_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, &en->in[0]);
    ocl_arg_tensor(&a, &en->in[1]);
    ocl_arg_int(&a, en->in[1].dtype == HCG_F16);
    ocl_arg_tensor(&a, en->n_in > 2 ? &en->in[2] : &en->in[0]);
    ocl_arg_int(&a, en->n_in > 2);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    for (int i = 2; i < 6; i++) ocl_arg_long(&a, (cl_long)ns->p[i]);
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

static hcg_status qelem_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    hcg_qlayout l;
    hcg_status st = hcg_qlayout_of(en->g, en->node, &en->in[0].shape, &en->in[1].shape, &l);
    if (st) return st;
    bool deq = en->node->op == HCG_OP_DEQUANTIZE;
    char name[64];
    snprintf(name, sizeof name, "%s_%s", deq ? "dequantize" : "quantize", q_name(deq ? en->in[0].dtype : en->out.dtype));
    size_t kwg;
    if ((st = ocl_node_kernel(dev, en, "quant", name, &ns->kernel, &ns->kname, &kwg))) return st;
    ns->p[0] = ocl_numel(&en->out.shape);
    ns->p[1] = l.mode;
    ns->p[2] = l.inner;
    ns->p[3] = l.dim;
    ns->p[4] = l.block;
    ns->p[5] = l.blocks;
    ocl_flat_geometry(dev, kwg, ns->p[0], ns->global, ns->local);
    ns->run = qelem_run;
    return HCG_OK;
}

static bool qelem_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    bool deq = n->op == HCG_OP_DEQUANTIZE;
    snprintf(name, sizeof name, "%s_%s", deq ? "dequantize" : "quantize", q_name(deq ? IN(g, n, 0)->dtype : n->dtype));
    return ocl_kernel_listed("quant", name);
}

const ocl_op_family ocl_fam_qelem = {"quant", qelem_supports, qelem_prepare};

/* ---------------------------------------------------------------- matmul_integer */

/* p: [0] m, [1] n, [2] k, [3] stacked (one launch over every row), [4] zero points of a, [5] of b;
 * host: the batches (hcg_matmul_batch), looped when they do not stack. */
static hcg_status mmi_launch(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, int64_t rows, int64_t a_el, int64_t b_el,
                             int64_t c_el, ocl_run *rc)
{
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)rows);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_int(&a, (cl_int)ns->p[2]);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    ocl_arg_mem(&a, (cl_mem)en->out.buf->handle);
    ocl_arg_ulong(&a, ocl_elem_offset(&en->out) + (cl_ulong)c_el);
    ocl_arg_mem(&a, (cl_mem)en->in[0].buf->handle);
    ocl_arg_ulong(&a, ocl_elem_offset(&en->in[0]) + (cl_ulong)a_el);
    ocl_arg_mem(&a, (cl_mem)en->in[1].buf->handle);
    ocl_arg_ulong(&a, ocl_elem_offset(&en->in[1]) + (cl_ulong)b_el);
    for (int z = 0; z < 2; z++) {
        const hcg_dev_tensor *t = en->n_in > 2 + z ? &en->in[2 + z] : &en->in[z];
        ocl_arg_tensor(&a, t);
        ocl_arg_int(&a, (cl_int)ns->p[4 + z]);
    }
    size_t global[3], local[3];
    ocl_grid_geometry(dev, ns->kwg, ns->p[1], rows, 1, global, local);
    return ocl_launch(dev, en, &a, 2, global, local, rc);
}

static hcg_status mmi_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    const hcg_matmul_batch *b = ns->host;
    int64_t m = ns->p[0], n = ns->p[1], k = ns->p[2];
    if (ns->p[3]) return mmi_launch(dev, en, ns, b->count * m, 0, 0, 0, rc);
    for (int64_t t = 0; t < b->count; t++) {
        int64_t ai, bi;
        hcg_matmul_batch_at(b, t, &ai, &bi);
        hcg_status st = mmi_launch(dev, en, ns, m, ai * m * k, bi * k * n, t * m * n, rc);
        if (st) return st;
    }
    return HCG_OK;
}

static hcg_status mmi_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    hcg_shape a = en->in[0].shape, b = en->in[1].shape;
    bool ta, tb;
    hcg_matmul_operands(en->node, &a, &b, &ta, &tb);
    int64_t m = a.dims[a.rank - 2], k = a.dims[a.rank - 1], n = b.dims[b.rank - 1];
    ns->p[0] = m;
    ns->p[1] = n;
    ns->p[2] = k;
    for (int z = 0; z < 2; z++) ns->p[4 + z] = en->n_in > 2 + z ? ocl_numel(&en->in[2 + z].shape) : 0;
    hcg_matmul_batch *batch = calloc(1, sizeof *batch);
    if (!batch) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    ns->host = batch;
    ns->host_bytes = sizeof *batch;
    hcg_matmul_batch_plan(&a, &b, batch);
    ns->p[3] = batch->b_count == 1 && batch->a_count == batch->count; /* rows of a stack over one b */
    char name[64];
    snprintf(name, sizeof name, "matmul_integer_%s_%s", q_name(en->in[0].dtype), q_name(en->in[1].dtype));
    hcg_status st = ocl_node_kernel(dev, en, "quant", name, &ns->kernel, &ns->kname, &ns->kwg);
    if (st) return st;
    ns->run = mmi_run;
    return HCG_OK;
}

static bool mmi_supports(const hcg_graph *g, const hcg_node *n)
{
    char name[64];
    snprintf(name, sizeof name, "matmul_integer_%s_%s", q_name(IN(g, n, 0)->dtype), q_name(IN(g, n, 1)->dtype));
    return ocl_kernel_listed("quant", name);
}

const ocl_op_family ocl_fam_matmul_integer = {"quant", mmi_supports, mmi_prepare};

/* ---------------------------------------------------------------- products with small weights */

#define QMM_TILE 32
#define QMM_ITEMS 8

/* A product's sizes and strides (elements), computed once at prepare (ns->host). */
typedef struct qmm_params {
    int64_t m, n, k, batches, a_bs, a_ms, a_ks, w_ks, w_ns;
    int block, blocks, act, has_scale, has_bias, bias_input;
    float alpha;
    bool cpu_kernel; /* qmm_rows_* / qmm_cols_* */
} qmm_params;

#define QMM_CPU_ROWS 4 /* CM and CN of cl/quant.cl */

/* The arguments both forms start with: m, n, k, C and its batch stride, A, its batch and row strides. */
static void qmm_args_begin(ocl_args *a, const hcg_exec_node *en, const ocl_node *ns, const qmm_params *q)
{
    ocl_args_begin(a, ns->kernel, ns->kname);
    ocl_arg_int(a, (cl_int)q->m);
    ocl_arg_int(a, (cl_int)q->n);
    ocl_arg_int(a, (cl_int)q->k);
    ocl_arg_tensor(a, &en->out);
    ocl_arg_long(a, (cl_long)(q->m * q->n));
    ocl_arg_tensor(a, &en->in[0]);
    ocl_arg_long(a, (cl_long)q->a_bs);
    ocl_arg_long(a, (cl_long)q->a_ms);
}

/* The arguments both qmm forms end with (the scales' dtype, blocks, bias, activation, alpha),
 * then the launch. */
static hcg_status qmm_args_end_launch(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, const qmm_params *q, ocl_args *a,
                                      ocl_run *rc)
{
    ocl_arg_int(a, q->has_scale && en->in[2].dtype == HCG_F16);
    ocl_arg_int(a, q->block);
    ocl_arg_int(a, q->blocks);
    ocl_arg_tensor(a, q->has_bias ? &en->in[q->bias_input] : &en->in[0]);
    ocl_arg_int(a, q->has_bias);
    ocl_arg_int(a, q->act);
    ocl_arg_float(a, q->alpha);
    return ocl_launch(dev, en, a, 3, ns->global, ns->local, rc);
}

static hcg_status qmm_cpu_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    const qmm_params *q = ns->host;
    ocl_args a;
    qmm_args_begin(&a, en, ns, q);
    ocl_arg_tensor(&a, &en->in[1]);
    ocl_arg_tensor(&a, q->has_scale ? &en->in[2] : &en->in[1]);
    ocl_arg_int(&a, q->has_scale);
    return qmm_args_end_launch(dev, en, ns, q, &a, rc);
}

static hcg_status qmm_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    const qmm_params *q = ns->host;
    ocl_args a;
    qmm_args_begin(&a, en, ns, q);
    ocl_arg_long(&a, (cl_long)q->a_ks);
    ocl_arg_tensor(&a, &en->in[1]);
    ocl_arg_long(&a, (cl_long)q->w_ks);
    ocl_arg_long(&a, (cl_long)q->w_ns);
    ocl_arg_int(&a, q->w_ks == 1);
    ocl_arg_tensor(&a, q->has_scale ? &en->in[2] : &en->in[1]);
    return qmm_args_end_launch(dev, en, ns, q, &a, rc);
}

hcg_status ocl_qmm_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    bool int8 = en->node->op == HCG_OP_QUANT_MATMUL;
    hcg_shape a = en->in[0].shape, b = en->in[1].shape;
    bool ta, tb;
    hcg_matmul_operands(en->node, &a, &b, &ta, &tb);
    qmm_params *q = calloc(1, sizeof *q);
    if (!q) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    ns->host = q;
    ns->host_bytes = sizeof *q;
    int64_t ar = a.dims[a.rank - 2], ac = a.dims[a.rank - 1];
    q->m = ta ? ac : ar;
    q->k = ta ? ar : ac;
    q->n = b.dims[tb ? 0 : 1];
    q->batches = 1;
    for (int d = 0; d < a.rank - 2; d++) q->batches *= a.dims[d];
    q->a_bs = ar * ac;
    q->a_ms = ta ? 1 : ac;
    q->a_ks = ta ? ac : 1;
    if (!ta) { /* stacked rows: one product over every batch (x[B, S, K] @ W) */
        q->m *= q->batches;
        q->batches = 1;
    }
    q->w_ks = tb ? 1 : q->n; /* W(k, n): tb: [N, K], else [K, N] */
    q->w_ns = tb ? q->k : 1;
    q->has_scale = int8;
    q->block = int8 ? (int)hcg_attr_int(en->node, "block_size") : 0;
    q->blocks = q->block > 0 ? (int)((q->k + q->block - 1) / q->block) : 0;
    q->bias_input = int8 ? 3 : 2;
    q->has_bias = en->n_in > q->bias_input;
    q->act = hcg_activation_parse(hcg_attr_string(en->node, "activation"));
    q->alpha = (float)hcg_attr_float(en->node, "alpha");
    if (q->m > INT32_MAX || q->n > INT32_MAX || q->k > INT32_MAX || q->batches > INT32_MAX)
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "a matrix dim exceeds the kernel's int range");
    hcg_status st;
    if (dev->d->type == HCG_DEVICE_CPU && !ta) { /* rows of A along K: the CPU device's kernels */
        char name[32];
        snprintf(name, sizeof name, "qmm_%s_%s", tb ? "rows" : "cols", int8 ? "i8" : "f16");
        if ((st = ocl_node_kernel(dev, en, "fused", name, &ns->kernel, &ns->kname, &ns->kwg))) return st;
        q->cpu_kernel = true;
        int64_t cols = tb ? (q->n + QMM_CPU_ROWS - 1) / QMM_CPU_ROWS : (q->n + dev->vec - 1) / dev->vec;
        ocl_grid_geometry(dev, ns->kwg, cols, (q->m + QMM_CPU_ROWS - 1) / QMM_CPU_ROWS, q->batches, ns->global,
                          ns->local);
        ns->dim = 3;
        ns->run = qmm_cpu_run;
        return HCG_OK;
    }
    st = ocl_node_kernel(dev, en, "fused", int8 ? "qmm_i8" : "qmm_f16", &ns->kernel, &ns->kname, &ns->kwg);
    if (st) return st;
    if (ns->kwg < QMM_ITEMS * QMM_ITEMS)
        return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED,
                              "%s allows work-groups of %zu items; the tiled product needs %d", dev->d->name, ns->kwg,
                              QMM_ITEMS * QMM_ITEMS);
    ns->local[0] = ns->local[1] = QMM_ITEMS;
    ns->local[2] = 1;
    ns->global[0] = (size_t)((q->n + QMM_TILE - 1) / QMM_TILE) * QMM_ITEMS;
    ns->global[1] = (size_t)((q->m + QMM_TILE - 1) / QMM_TILE) * QMM_ITEMS;
    ns->global[2] = (size_t)q->batches;
    ns->dim = 3;
    ns->run = qmm_run; /* (K = 0 needs nothing special: the kernel's sums are then 0) */
    return HCG_OK;
}

/* activations=int8 is the CPU's integer product (cpu_qgemm.c) */
static bool qmm_supports(const hcg_graph *g, const hcg_node *n)
{
    (void)g;
    return strcmp(hcg_attr_string(n, "activations"), "int8") != 0;
}

const ocl_op_family ocl_fam_quant_matmul = {"fused", qmm_supports, ocl_qmm_prepare};
