/* ocl_gemm.c — matmul and gemm on OpenCL through CLBlast (fused_matmul with an f16 weight goes to
 * ocl_quant.c's own product instead): one CLBlastSgemm for a matrix product
 * (and for x[B, S, K] @ W[K, N], whose rows stack into one product), CLBlastSgemmStridedBatched for
 * batches (attention: Q @ K^T, P @ V), with stride 0 for a side whose batch dims broadcast and a
 * host loop over the batch dims that no single stride describes. Transpose flags map onto
 * CLBlast's; gemm's bias is first broadcast into the output (cl/layout.cl) and CLBlast's beta
 * scales it. CLBlast's errors are reported by name with the product's sizes. */
#include <pthread.h>
#include <string.h>

#include <clblast_c.h>

#include "backend/opencl/ocl.h"
#include "graph/op_table.h"

static hcg_status clblast_fail(const hcg_exec_node *en, const ocl_dev *dev, CLBlastStatusCode s, const char *what,
                               const ocl_gemm *g)
{
    return hcg_node_error(en->g, en->node, HCG_ERR_DEVICE,
                          "on %s (%s): %s (m=%zu n=%zu k=%zu, transpose a=%d b=%d) failed: %s (%d)", dev->d->name,
                          dev->d->device_name, what, g->m, g->n, g->k, (int)g->ta, (int)g->tb,
                          hcg_clblast_status_name((int)s), (int)s);
}

/* CLBlast 1.5 is not thread-safe while it sets up a routine (its parameter database is copied and
 * freed without a lock: two devices' workers making their first GEMM at once crash in
 * clblast::Database). Every CLBlast call in hcg holds this lock. It covers only the host-side
 * enqueue: the products still run on the devices at the same time. */
static pthread_mutex_t clblast_mutex = PTHREAD_MUTEX_INITIALIZER;
void ocl_clblast_lock(void) { pthread_mutex_lock(&clblast_mutex); }

void ocl_clblast_forget(void)
{
    ocl_clblast_lock();
    CLBlastClearCache(); /* its compiled routines hold the contexts being released */
    ocl_clblast_unlock();
}
void ocl_clblast_unlock(void) { pthread_mutex_unlock(&clblast_mutex); }

/* Every product of g: C (at element c0) from A (a0) and B (b0). */
static hcg_status run_products(ocl_dev *dev, hcg_exec_node *en, const ocl_gemm *g, cl_mem A, size_t a0, cl_mem B,
                               size_t b0, cl_mem C, size_t c0, ocl_run *rc)
{
    CLBlastTranspose ta = g->ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = g->tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    for (int64_t t = 0; t < g->n_outer; t++) {
        int64_t rest = t, ai = 0, bi = 0;
        for (int d = g->outer_rank - 1; d >= 0; d--) {
            int64_t i = rest % g->outer_dims[d];
            rest /= g->outer_dims[d];
            ai += i * g->outer_a[d];
            bi += i * g->outer_b[d];
        }
        size_t ao = a0 + (size_t)ai * g->a_mat, bo = b0 + (size_t)bi * g->b_mat;
        size_t co = c0 + (size_t)t * g->inner_count * g->c_mat;
        cl_event ev;
        cl_event *evp = ocl_run_evp(rc, &ev);
        CLBlastStatusCode s;
        ocl_clblast_lock();
        if (g->inner_count == 1)
            s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, g->m, g->n, g->k, g->alpha, A, ao, g->lda, B, bo, g->ldb,
                             g->beta, C, co, g->ldc, &dev->queue, evp);
        else
            s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, g->m, g->n, g->k, g->alpha, A, ao, g->lda,
                                           g->inner_a, B, bo, g->ldb, g->inner_b, g->beta, C, co, g->ldc, g->c_mat,
                                           g->inner_count, &dev->queue, evp);
        ocl_clblast_unlock();
        if (s != CLBlastSuccess)
            return clblast_fail(en, dev, s, g->inner_count == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched", g);
        ocl_run_event(rc, evp ? ev : NULL);
    }
    return HCG_OK;
}

/* An empty sum (k == 0): the output is zero. */
static hcg_status fill_zero(ocl_dev *dev, hcg_exec_node *en, ocl_run *rc)
{
    cl_float zero = 0;
    cl_event ev;
    size_t bytes = (size_t)ocl_numel(&en->out.shape) * sizeof(float);
    cl_int err = clEnqueueFillBuffer(dev->queue, (cl_mem)en->out.buf->handle, &zero, sizeof zero, en->out.offset,
                                     bytes, 0, NULL, ocl_run_evp(rc, &ev));
    if (err != CL_SUCCESS) return ocl_node_fail(en, dev, err, "clEnqueueFillBuffer(%zu bytes)", bytes);
    ocl_run_event(rc, ev);
    return HCG_OK;
}

/* ---------------------------------------------------------------- matmul */

static hcg_status matmul_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    if (ns->gemm.k == 0) return fill_zero(dev, en, rc); /* (alpha * 0 = 0: fused_matmul too) */
    return run_products(dev, en, &ns->gemm, (cl_mem)en->in[0].buf->handle, ocl_elem_offset(&en->in[0]),
                        (cl_mem)en->in[1].buf->handle, ocl_elem_offset(&en->in[1]), (cl_mem)en->out.buf->handle,
                        ocl_elem_offset(&en->out), rc);
}

/* Splits the batch dims into the inner ones one strided-batched call covers and the outer ones. */
static void plan_batches(ocl_gemm *g, int br, const int64_t *bd, const int64_t *sa, const int64_t *sb)
{
    g->n_outer = 1;
    g->inner_count = 1;
    g->inner_a = g->inner_b = 0;
    g->outer_rank = 0;
    int d = br - 1;
    while (d >= 0 && bd[d] == 1) d--;
    if (d < 0) return;
    int64_t cnt = bd[d], ua = sa[d], ub = sb[d];
    for (d--; d >= 0; d--) {
        if (bd[d] == 1) continue;
        if (sa[d] != ua * cnt || sb[d] != ub * cnt) break;
        cnt *= bd[d];
    }
    g->inner_count = (size_t)cnt;
    g->inner_a = (size_t)ua * g->a_mat;
    g->inner_b = (size_t)ub * g->b_mat;
    for (int i = 0; i <= d; i++) {
        g->outer_dims[g->outer_rank] = bd[i];
        g->outer_a[g->outer_rank] = sa[i];
        g->outer_b[g->outer_rank] = sb[i];
        g->outer_rank++;
        g->n_outer *= bd[i];
    }
}

static hcg_status matmul_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    (void)dev;
    hcg_shape a = en->in[0].shape, b = en->in[1].shape;
    bool ta, tb;
    hcg_matmul_operands(en->node, &a, &b, &ta, &tb);
    int64_t ar = a.dims[a.rank - 2], ac = a.dims[a.rank - 1], brows = b.dims[b.rank - 2], bcols = b.dims[b.rank - 1];
    ocl_gemm *g = &ns->gemm;
    *g = (ocl_gemm){.ta = ta, .tb = tb, .m = (size_t)(ta ? ac : ar), .k = (size_t)(ta ? ar : ac),
                    .n = (size_t)(tb ? brows : bcols), .alpha = 1, .beta = 0};
    g->lda = ac > 0 ? (size_t)ac : 1;
    g->ldb = bcols > 0 ? (size_t)bcols : 1;
    g->ldc = g->n > 0 ? g->n : 1;
    g->a_mat = (size_t)(ar * ac);
    g->b_mat = (size_t)(brows * bcols);
    g->c_mat = g->m * g->n;

    int a_brank = a.rank - 2, b_brank = b.rank - 2, br = a_brank > b_brank ? a_brank : b_brank;
    int64_t bd[HCG_MAX_RANK], sa[HCG_MAX_RANK], sb[HCG_MAX_RANK], n_batch = 1, a_batch = 1, b_batch = 1;
    for (int d = 0; d < br; d++) {
        int ai = a_brank - br + d, bi = b_brank - br + d;
        int64_t da = ai >= 0 ? a.dims[ai] : 1, db = bi >= 0 ? b.dims[bi] : 1;
        bd[d] = da == 1 ? db : da;
        n_batch *= bd[d];
    }
    for (int d = 0; d < a_brank; d++) a_batch *= a.dims[d];
    for (int d = 0; d < b_brank; d++) b_batch *= b.dims[d];
    hcg_matmul_batch_strides(br, bd, a_brank, a.dims, sa);
    hcg_matmul_batch_strides(br, bd, b_brank, b.dims, sb);
    if (b_batch == 1 && !ta && a_batch == n_batch) {
        /* x[B, S, K] @ W[K, N]: the stacked rows of x are one [B * S, K] matrix. */
        g->m *= (size_t)n_batch;
        g->c_mat = g->m * g->n;
        g->n_outer = 1;
        g->inner_count = 1;
    } else {
        plan_batches(g, br, bd, sa, sb);
    }
    ns->run = matmul_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_matmul = {NULL, NULL, matmul_prepare};

/* ---------------------------------------------------------------- fused_matmul */

/* The product with alpha (CLBlast), then the epilogue (bias, activation) in place over the
 * result when there is one (cl/fused.cl). p[0]: has bias, p[1]: activation, p[2]: rows, p[3]: cols. */
static hcg_status fused_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    hcg_status st = matmul_run(dev, en, ns, rc);
    if (st || !ns->kernel) return st;
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_int(&a, (cl_int)ns->p[2]);
    ocl_arg_int(&a, (cl_int)ns->p[3]);
    ocl_arg_int(&a, (cl_int)ns->p[0]);
    ocl_arg_int(&a, (cl_int)ns->p[1]);
    ocl_arg_tensor(&a, &en->out);
    ocl_arg_tensor(&a, ns->p[0] ? &en->in[2] : &en->out);
    return ocl_launch(dev, en, &a, 1, ns->global, ns->local, rc);
}

static hcg_status fused_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    if (en->in[1].dtype == HCG_F16) return ocl_qmm_prepare(dev, en, ns); /* an f16 weight: hcg's own product */
    hcg_status st = matmul_prepare(dev, en, ns);
    if (st) return st;
    ns->gemm.alpha = (float)hcg_attr_float(en->node, "alpha");
    ns->run = fused_run;
    ns->p[0] = en->n_in > 2;
    ns->p[1] = hcg_activation_parse(hcg_attr_string(en->node, "activation"));
    const hcg_shape *os = &en->out.shape;
    ns->p[3] = os->rank ? os->dims[os->rank - 1] : 1;
    ns->p[2] = ns->p[3] ? ocl_numel(os) / ns->p[3] : 0;
    if ((!ns->p[0] && ns->p[1] == HCG_ACT_NONE) || ns->p[2] * ns->p[3] == 0) return HCG_OK;
    size_t kwg;
    if ((st = ocl_kernel_get(dev, "fused", "epilogue_f32", &ns->kernel, &kwg)))
        return hcg_error_prefix(st, "node '%s' (%s): ", en->node->name, hcg_op_name(en->node->op));
    ns->kname = ocl_kernel_name("fused", "epilogue_f32");
    ns->dim = 1;
    ocl_flat_geometry(dev, kwg, ns->p[2] * ns->p[3], ns->global, ns->local);
    return HCG_OK;
}

const ocl_op_family ocl_fam_fused_matmul = {"fused", NULL, fused_prepare};

/* ---------------------------------------------------------------- gemm */

static hcg_status gemm_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    ocl_gemm *g = &ns->gemm;
    bool bias = ns->kernel != NULL;
    hcg_status st;
    if (bias && (st = ocl_copy_launch(dev, en, ns->kernel, ns->kname, ns->kwg, &ns->nd, &en->out, 0, &en->in[2], 0, rc)))
        return st;
    if (g->k > 0)
        return run_products(dev, en, g, (cl_mem)en->in[0].buf->handle, ocl_elem_offset(&en->in[0]),
                            (cl_mem)en->in[1].buf->handle, ocl_elem_offset(&en->in[1]), (cl_mem)en->out.buf->handle,
                            ocl_elem_offset(&en->out), rc);
    if (!bias) return fill_zero(dev, en, rc);
    if (g->beta == 1.0f) return HCG_OK;
    /* An empty product: out = beta * c. */
    cl_event ev;
    cl_event *evp = ocl_run_evp(rc, &ev);
    ocl_clblast_lock();
    CLBlastStatusCode s = CLBlastSscal(g->m * g->n, g->beta, (cl_mem)en->out.buf->handle, ocl_elem_offset(&en->out), 1,
                                       &dev->queue, evp);
    ocl_clblast_unlock();
    if (s != CLBlastSuccess) return clblast_fail(en, dev, s, "CLBlastSscal", g);
    ocl_run_event(rc, evp ? ev : NULL);
    return HCG_OK;
}

static hcg_status gemm_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    const hcg_shape *a = &en->in[0].shape, *b = &en->in[1].shape;
    bool ta = hcg_attr_int(en->node, "transpose_a") != 0, tb = hcg_attr_int(en->node, "transpose_b") != 0;
    int64_t ar = a->dims[0], ac = a->dims[1], brows = b->dims[0], bcols = b->dims[1];
    ocl_gemm *g = &ns->gemm;
    *g = (ocl_gemm){.ta = ta, .tb = tb, .m = (size_t)(ta ? ac : ar), .k = (size_t)(ta ? ar : ac),
                    .n = (size_t)(tb ? brows : bcols), .alpha = (float)hcg_attr_float(en->node, "alpha"),
                    .beta = 0, .n_outer = 1, .inner_count = 1};
    g->lda = ac > 0 ? (size_t)ac : 1;
    g->ldb = bcols > 0 ? (size_t)bcols : 1;
    g->ldc = g->n > 0 ? g->n : 1;
    g->a_mat = (size_t)(ar * ac);
    g->b_mat = (size_t)(brows * bcols);
    g->c_mat = g->m * g->n;
    float beta = (float)hcg_attr_float(en->node, "beta");
    /* beta = 0 leaves the bias out altogether (CLBlast then never reads C). */
    if (en->n_in == 3 && beta != 0.0f) {
        hcg_status st = ocl_copy_prepare(dev, sizeof(float), &ns->kernel, &ns->kname, &ns->kwg);
        if (st) return hcg_error_prefix(st, "node '%s' (gemm): ", en->node->name);
        int64_t strides[2][HCG_MAX_RANK];
        ocl_contiguous_strides(&en->out.shape, strides[0]);
        ocl_broadcast_strides(&en->out.shape, &en->in[2].shape, strides[1]);
        ocl_nd_make(&ns->nd, 2, en->out.shape.dims, 2, (const int64_t(*)[HCG_MAX_RANK])strides);
        g->beta = beta;
    }
    ns->run = gemm_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_gemm = {NULL, NULL, gemm_prepare};
