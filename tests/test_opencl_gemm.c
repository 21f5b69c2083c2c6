/* test_opencl_gemm.c — matrix products on OpenCL (CLBlast) against cblas_sgemm (OpenBLAS) as the
 * independent reference, on every OpenCL device: CLBlastSgemm called directly on the device's
 * queue, and hcg's matmul and gemm nodes through sessions (transpose flags, batches, broadcast
 * batches, transformer sizes, bias and alpha/beta). Without an OpenCL device or without BLAS the
 * test passes with a note. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#if defined(HCG_HAVE_OPENCL) && defined(HCG_HAVE_BLAS)
#include <cblas.h>
#include <clblast_c.h>

#include "backend/opencl/ocl.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static hcg_tensor *random_tensor(int rank, const int64_t *dims)
{
    hcg_tensor *t = NULL;
    hcg_shape s = hcg_shape_make(rank, dims);
    if (hcg_tensor_new(HCG_F32, &s, &t)) return NULL;
    float *p = t->data;
    for (size_t i = 0; i < t->nbytes / sizeof(float); i++) p[i] = rnd();
    return t;
}

/* NMSE and normwise relative error of got against want (n floats). */
static bool close_enough(const float *got, const float *want, size_t n, const char *what)
{
    double err2 = 0, ref2 = 0, max_err = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        err2 += e * e;
        ref2 += (double)want[i] * want[i];
        if (e > max_err || isnan(e)) max_err = isnan(e) ? INFINITY : e;
        if (fabs(want[i]) > max_ref) max_ref = fabs(want[i]);
    }
    double nmse = ref2 > 0 ? err2 / ref2 : err2, rel = max_ref > 0 ? max_err / max_ref : max_err;
    return CHECK(nmse < 1e-11 && rel < 1e-5, "%s: NMSE %.3g, max relative error %.3g", what, nmse, rel);
}

/* ---------------------------------------------------------------- CLBlast directly */

static void direct_sgemm(hcg_device *d, int m, int n, int k, bool ta, bool tb)
{
    ocl_dev *dev = ocl_of(d);
    size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4), *ref = malloc(nc * 4);
    cl_mem A = NULL, B = NULL, C = NULL;
    cl_int err;
    char what[128];
    snprintf(what, sizeof what, "CLBlastSgemm %dx%dx%d ta=%d tb=%d on %s", m, n, k, ta, tb, d->name);
    if (!a || !b || !c || !ref) goto done;
    for (size_t i = 0; i < na; i++) a[i] = rnd();
    for (size_t i = 0; i < nb; i++) b[i] = rnd();
    for (size_t i = 0; i < nc; i++) c[i] = rnd(); /* beta = 0.5 mixes it in */
    memcpy(ref, c, nc * 4);
    int lda = ta ? m : k, ldb = tb ? k : n;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.5f, a, lda,
                b, ldb, 0.5f, ref, n);
    A = clCreateBuffer(dev->ctx, CL_MEM_COPY_HOST_PTR, na * 4, a, &err);
    if (!CHECK(err == CL_SUCCESS, "%s: buffer A: %s", what, hcg_cl_error_name(err))) goto done;
    B = clCreateBuffer(dev->ctx, CL_MEM_COPY_HOST_PTR, nb * 4, b, &err);
    if (!CHECK(err == CL_SUCCESS, "%s: buffer B: %s", what, hcg_cl_error_name(err))) goto done;
    C = clCreateBuffer(dev->ctx, CL_MEM_COPY_HOST_PTR, nc * 4, c, &err);
    if (!CHECK(err == CL_SUCCESS, "%s: buffer C: %s", what, hcg_cl_error_name(err))) goto done;
    CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                                       tb ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)m, (size_t)n, (size_t)k,
                                       1.5f, A, 0, (size_t)lda, B, 0, (size_t)ldb, 0.5f, C, 0, (size_t)n, &dev->queue,
                                       NULL);
    if (!CHECK(s == CLBlastSuccess, "%s: %s", what, hcg_clblast_status_name(s))) goto done;
    err = clEnqueueReadBuffer(dev->queue, C, CL_TRUE, 0, nc * 4, c, 0, NULL, NULL);
    if (CHECK(err == CL_SUCCESS, "%s: read: %s", what, hcg_cl_error_name(err))) close_enough(c, ref, nc, what);
done:
    if (A) clReleaseMemObject(A);
    if (B) clReleaseMemObject(B);
    if (C) clReleaseMemObject(C);
    free(a);
    free(b);
    free(c);
    free(ref);
}

/* ---------------------------------------------------------------- through sessions */

/* out[batch] = op(a[batch_a]) @ op(b[batch_b]) with cblas, batches broadcast numpy-style over
 * rank-3 operands (batch dim 1 broadcasts). */
static void reference_matmul(const hcg_tensor *A, const hcg_tensor *B, bool ta, bool tb, float *out)
{
    int64_t ba = A->shape.dims[0], bb = B->shape.dims[0], nb = ba > bb ? ba : bb;
    int ar = (int)A->shape.dims[1], ac = (int)A->shape.dims[2], br = (int)B->shape.dims[1], bc = (int)B->shape.dims[2];
    int m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
    for (int64_t t = 0; t < nb; t++) {
        const float *a = (const float *)A->data + (ba == 1 ? 0 : t) * ar * ac;
        const float *b = (const float *)B->data + (bb == 1 ? 0 : t) * br * bc;
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, ac,
                    b, bc, 0.0f, out + t * m * n, n);
    }
}

static void session_matmul(const char *dev, int64_t ba, int64_t bb, int m, int n, int k, bool ta, bool tb)
{
    int64_t ad[3] = {ba, ta ? k : m, ta ? m : k}, bd[3] = {bb, tb ? n : k, tb ? k : n};
    hcg_tensor *A = random_tensor(3, ad), *B = random_tensor(3, bd), *got = NULL;
    hcg_graph *g = hcg_graph_new();
    hcg_id a = hcg_input(g, "a", HCG_F32, 3, ad), b = hcg_input(g, "b", HCG_F32, 3, bd);
    hcg_output(g, hcg_matmul(g, a, b, ta, tb), "y");
    hcg_session *s = NULL;
    const hcg_tensor *in[2] = {A, B};
    char what[160];
    snprintf(what, sizeof what, "matmul [%lld,..]x[%lld,..] %dx%dx%d ta=%d tb=%d on %s", (long long)ba, (long long)bb,
             m, n, k, ta, tb, dev);
    if (CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = dev}, &s)) &&
        CHECK_OK(hcg_session_run(s, in, &got))) {
        int64_t nb = ba > bb ? ba : bb;
        float *ref = malloc(sizeof(float) * (size_t)(nb * m * n));
        reference_matmul(A, B, ta, tb, ref);
        close_enough(got->data, ref, (size_t)(nb * m * n), what);
        free(ref);
    }
    hcg_tensor_free(got);
    hcg_session_free(s);
    hcg_graph_free(g);
    hcg_tensor_free(A);
    hcg_tensor_free(B);
}

/* gemm with a row bias: alpha * a @ b^T + beta * c. */
static void session_gemm(const char *dev, int m, int n, int k)
{
    int64_t ad[2] = {m, k}, bd[2] = {n, k}, cd[1] = {n};
    hcg_tensor *A = random_tensor(2, ad), *B = random_tensor(2, bd), *C = random_tensor(1, cd), *got = NULL;
    hcg_graph *g = hcg_graph_new();
    hcg_id ins[3] = {hcg_input(g, "a", HCG_F32, 2, ad), hcg_input(g, "b", HCG_F32, 2, bd),
                     hcg_input(g, "c", HCG_F32, 1, cd)};
    hcg_attr attrs[3] = {HCG_ATTR_I("transpose_b", 1), HCG_ATTR_F("alpha", 0.25), HCG_ATTR_F("beta", -2)};
    hcg_output(g, hcg_add_node(g, HCG_OP_GEMM, "gemm", ins, 3, attrs, 3), "y");
    hcg_session *s = NULL;
    const hcg_tensor *in[3] = {A, B, C};
    char what[128];
    snprintf(what, sizeof what, "gemm %dx%dx%d with bias on %s", m, n, k, dev);
    if (CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = dev}, &s)) &&
        CHECK_OK(hcg_session_run(s, in, &got))) {
        float *ref = malloc(sizeof(float) * (size_t)m * n);
        for (int i = 0; i < m; i++) memcpy(ref + (size_t)i * n, C->data, sizeof(float) * n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 0.25f, A->data, k, B->data, k, -2.0f, ref, n);
        close_enough(got->data, ref, (size_t)m * n, what);
        free(ref);
    }
    hcg_tensor_free(got);
    hcg_session_free(s);
    hcg_graph_free(g);
    hcg_tensor_free(A);
    hcg_tensor_free(B);
    hcg_tensor_free(C);
}

int main(void)
{
    int n_ocl = 0;
    for (int i = 0; i < hcg_device_count(); i++) {
        hcg_device *d = hcg_device_get(i);
        if (strcmp(d->iface->name, "opencl") != 0) continue;
        n_ocl++;
        direct_sgemm(d, 1, 1, 1, false, false);
        direct_sgemm(d, 33, 65, 17, false, false);
        direct_sgemm(d, 33, 65, 17, true, true);
        direct_sgemm(d, 128, 384, 384, false, true);
        direct_sgemm(d, 256, 256, 256, true, false);
        session_matmul(d->name, 1, 1, 128, 384, 384, false, true);   /* a linear layer */
        session_matmul(d->name, 1, 1, 128, 1536, 384, false, false); /* the MLP's first layer */
        session_matmul(d->name, 8, 8, 64, 64, 32, false, true);      /* attention scores, 8 heads */
        session_matmul(d->name, 8, 8, 64, 32, 64, false, false);     /* attention context */
        session_matmul(d->name, 5, 1, 7, 9, 11, true, false);        /* b broadcast over the batch */
        session_matmul(d->name, 1, 5, 7, 9, 11, false, true);        /* a broadcast over the batch */
        session_gemm(d->name, 37, 29, 45);
    }
    if (n_ocl == 0) return tl_skip("no OpenCL device");
    return tl_finish();
}

#else
int main(void)
{
    return tl_skip("built without OpenCL or without BLAS");
}
#endif
