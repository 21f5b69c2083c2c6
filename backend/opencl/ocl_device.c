/* ocl_device.c — the OpenCL devices: discovery through the ICD loader (every platform, every
 * device, registered as opencl:N in that order), one context per platform shared by its devices
 * (so they copy between each other without the host), each device's in-order queue and error
 * buffer, its description and default cost profile, and the backend's interface table: buffers
 * (cl_mem), transfers and copies between devices of one context, supports(), prepare() /
 * release() per node, run() of a segment (with profiling events and the check of the error
 * buffer), synchronize(), destroy(). Sessions on several threads may use one device at once
 * (backend/backend.h): what they share on it is locked here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cache.h"
#include "backend/fault.h"
#include "backend/opencl/ocl.h"
#include "backend/opencl/opencl.h"
#include "graph/op_table.h"

/* Appended to the call of a failure HCG_FAULT injected (backend/fault.h). */
#define INJECTED " [injected by HCG_FAULT]"

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif

/* ---------------------------------------------------------------- the op families */

static const ocl_op_family *const families[HCG_OP_COUNT] = {
    [HCG_OP_ADD] = &ocl_fam_binary,      [HCG_OP_SUB] = &ocl_fam_binary,
    [HCG_OP_MUL] = &ocl_fam_binary,      [HCG_OP_DIV] = &ocl_fam_binary,
    [HCG_OP_POW] = &ocl_fam_binary,      [HCG_OP_MAX] = &ocl_fam_binary,
    [HCG_OP_MIN] = &ocl_fam_binary,      [HCG_OP_EQUAL] = &ocl_fam_binary,
    [HCG_OP_LESS] = &ocl_fam_binary,     [HCG_OP_GREATER] = &ocl_fam_binary,
    [HCG_OP_AND] = &ocl_fam_binary,      [HCG_OP_OR] = &ocl_fam_binary,
    [HCG_OP_WHERE] = &ocl_fam_where,

    [HCG_OP_NEG] = &ocl_fam_unary,       [HCG_OP_EXP] = &ocl_fam_unary,
    [HCG_OP_LOG] = &ocl_fam_unary,       [HCG_OP_SQRT] = &ocl_fam_unary,
    [HCG_OP_RSQRT] = &ocl_fam_unary,     [HCG_OP_TANH] = &ocl_fam_unary,
    [HCG_OP_SIGMOID] = &ocl_fam_unary,   [HCG_OP_RELU] = &ocl_fam_unary,
    [HCG_OP_GELU] = &ocl_fam_unary,      [HCG_OP_SILU] = &ocl_fam_unary,
    [HCG_OP_ERF] = &ocl_fam_unary,       [HCG_OP_ABS] = &ocl_fam_unary,
    [HCG_OP_RECIPROCAL] = &ocl_fam_unary, [HCG_OP_NOT] = &ocl_fam_unary,
    [HCG_OP_CLIP] = &ocl_fam_unary,      [HCG_OP_CAST] = &ocl_fam_cast,

    [HCG_OP_MATMUL] = &ocl_fam_matmul,   [HCG_OP_GEMM] = &ocl_fam_gemm,
    [HCG_OP_FUSED_MATMUL] = &ocl_fam_fused_matmul, [HCG_OP_ATTENTION] = &ocl_fam_attention,
    [HCG_OP_KV_ATTENTION] = &ocl_fam_kv_attention, [HCG_OP_CACHE_WRITE] = &ocl_fam_cache_write,

    [HCG_OP_REDUCE_SUM] = &ocl_fam_reduce, [HCG_OP_REDUCE_MEAN] = &ocl_fam_reduce,
    [HCG_OP_REDUCE_MAX] = &ocl_fam_reduce, [HCG_OP_REDUCE_PROD] = &ocl_fam_reduce, [HCG_OP_SOFTMAX] = &ocl_fam_softmax,
    [HCG_OP_LOG_SOFTMAX] = &ocl_fam_softmax, [HCG_OP_LAYER_NORM] = &ocl_fam_norm,
    [HCG_OP_RMS_NORM] = &ocl_fam_norm,

    [HCG_OP_RESHAPE] = &ocl_fam_view,    [HCG_OP_SQUEEZE] = &ocl_fam_view,
    [HCG_OP_UNSQUEEZE] = &ocl_fam_view,  [HCG_OP_FLATTEN] = &ocl_fam_view,
    [HCG_OP_TRANSPOSE] = &ocl_fam_transpose, [HCG_OP_CONCAT] = &ocl_fam_concat,
    [HCG_OP_SLICE] = &ocl_fam_slice,     [HCG_OP_SPLIT] = &ocl_fam_slice,
    [HCG_OP_GATHER] = &ocl_fam_gather,   [HCG_OP_EXPAND] = &ocl_fam_expand,
    [HCG_OP_TRILU] = &ocl_fam_trilu,     [HCG_OP_CAUSAL_MASK] = &ocl_fam_causal_mask,

    [HCG_OP_RANGE] = &ocl_fam_host_data, [HCG_OP_SHAPE] = &ocl_fam_host_data,
    [HCG_OP_CONSTANT_OF_SHAPE] = &ocl_fam_fill,
    [HCG_OP_ASSIGN] = &ocl_fam_assign,

    [HCG_OP_ONE_HOT] = &ocl_fam_one_hot, [HCG_OP_ARGMAX] = &ocl_fam_argmax,
    [HCG_OP_UNARY_GRAD] = &ocl_fam_unary_grad, [HCG_OP_SOFTMAX_GRAD] = &ocl_fam_softmax,
    [HCG_OP_LOG_SOFTMAX_GRAD] = &ocl_fam_softmax, [HCG_OP_LAYER_NORM_GRAD] = &ocl_fam_norm,
    [HCG_OP_RMS_NORM_GRAD] = &ocl_fam_norm, [HCG_OP_GATHER_GRAD] = &ocl_fam_gather_grad,
    [HCG_OP_SLICE_GRAD] = &ocl_fam_slice_grad, [HCG_OP_SOFTMAX_CROSS_ENTROPY] = &ocl_fam_class_loss,
    [HCG_OP_NLL_LOSS] = &ocl_fam_class_loss, [HCG_OP_KL_DIV] = &ocl_fam_kl_div,
    [HCG_OP_MSE_LOSS] = &ocl_fam_mse_loss, [HCG_OP_SGD_UPDATE] = &ocl_fam_sgd_update,
    [HCG_OP_ADAM_UPDATE] = &ocl_fam_adam_update,

    [HCG_OP_DEQUANTIZE] = &ocl_fam_qelem, [HCG_OP_QUANTIZE] = &ocl_fam_qelem,
    [HCG_OP_MATMUL_INTEGER] = &ocl_fam_matmul_integer, [HCG_OP_QUANT_MATMUL] = &ocl_fam_quant_matmul,
};

/* hcg's kernels index elements with 32-bit ints. */
static bool fits_kernels(const hcg_device *d, const hcg_node *x)
{
    int64_t n;
    if (x->shape.rank > HCG_MAX_RANK || !hcg_shape_numel(&x->shape, &n) || n > INT32_MAX) return false;
    return (uint64_t)n * hcg_dtype_size(x->dtype) <= d->max_alloc;
}

static bool ocl_supports(hcg_device *d, const hcg_graph *g, const hcg_node *n)
{
    if (hcg_op_info_get(n->op)->flags & HCG_OPF_SOURCE) return fits_kernels(d, n);
    const ocl_op_family *fam = families[n->op];
    if (!fam || !fits_kernels(d, n)) return false;
    for (int i = 0; i < n->n_inputs; i++)
        if (!fits_kernels(d, &g->nodes[n->inputs[i]])) return false;
    return !fam->supports || fam->supports(g, n);
}

/* ---------------------------------------------------------------- buffers */

static hcg_status ocl_alloc(hcg_device *d, size_t size, hcg_buffer *out)
{
    ocl_dev *dev = ocl_of(d);
    size_t n = size ? size : d->align; /* OpenCL has no empty buffers */
    if (n > d->max_alloc)
        return hcg_error(HCG_ERR_NOMEM, "%s: a buffer of %zu bytes is larger than the device allows (%llu bytes)",
                         d->name, size, (unsigned long long)d->max_alloc);
    cl_int err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    bool injected = hcg_fault_inject(d, HCG_CALL_ALLOC);
    cl_mem m = injected ? NULL : clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, n, NULL, &err);
    if (err != CL_SUCCESS) return ocl_fail(dev, err, "clCreateBuffer(%zu bytes)%s", n, injected ? INJECTED : "");
    out->device = d;
    out->size = size;
    out->host = NULL;
    out->handle = m;
    return HCG_OK;
}

static void ocl_free(hcg_device *d, hcg_buffer *b)
{
    (void)d;
    if (b->handle) clReleaseMemObject((cl_mem)b->handle);
    b->handle = NULL;
}

static hcg_status check_range(const hcg_device *d, const hcg_buffer *b, size_t off, size_t n, const char *what)
{
    if (off > b->size || n > b->size - off)
        return hcg_error(HCG_ERR_INTERNAL, "%s: %s of %zu bytes at offset %zu is outside a buffer of %zu bytes", d->name,
                         what, n, off, b->size);
    return HCG_OK;
}

static hcg_status ocl_write(hcg_device *d, hcg_buffer *dst, size_t off, const void *src, size_t n)
{
    hcg_status st = check_range(d, dst, off, n, "a write");
    if (st || n == 0) return st;
    bool injected = hcg_fault_inject(d, HCG_CALL_WRITE);
    cl_int err = injected ? CL_OUT_OF_RESOURCES
                          : clEnqueueWriteBuffer(ocl_of(d)->queue, (cl_mem)dst->handle, CL_TRUE, off, n, src, 0, NULL, NULL);
    return err == CL_SUCCESS ? HCG_OK
                             : ocl_fail(ocl_of(d), err, "clEnqueueWriteBuffer(%zu bytes)%s", n, injected ? INJECTED : "");
}

static hcg_status ocl_read(hcg_device *d, const hcg_buffer *src, size_t off, void *dst, size_t n)
{
    hcg_status st = check_range(d, src, off, n, "a read");
    if (st || n == 0) return st;
    bool injected = hcg_fault_inject(d, HCG_CALL_READ);
    cl_int err = injected ? CL_OUT_OF_RESOURCES
                          : clEnqueueReadBuffer(ocl_of(d)->queue, (cl_mem)src->handle, CL_TRUE, off, n, dst, 0, NULL, NULL);
    return err == CL_SUCCESS ? HCG_OK
                             : ocl_fail(ocl_of(d), err, "clEnqueueReadBuffer(%zu bytes)%s", n, injected ? INJECTED : "");
}

/* Devices of one context read each other's buffers: a copy between them is one command. */
static bool ocl_can_copy(const hcg_device *dst, const hcg_device *src)
{
    return ocl_of(dst) && ocl_of(src) && ocl_of(dst)->ctx == ocl_of(src)->ctx;
}

/* A copy into d's buffer from a buffer of a device of the same context, on d's queue, blocking. */
static hcg_status ocl_copy(hcg_device *d, hcg_buffer *dst, size_t doff, const hcg_buffer *src, size_t so, size_t n)
{
    hcg_status st;
    if ((st = check_range(src->device, src, so, n, "a copy's source")) ||
        (st = check_range(d, dst, doff, n, "a copy's destination")))
        return st;
    if (n == 0 || (src == dst && so == doff)) return HCG_OK;
    if (src->handle == dst->handle && so < doff + n && doff < so + n)
        return hcg_error(HCG_ERR_INTERNAL, "%s: a copy within one buffer whose ranges overlap", d->name);
    /* the copy reads the source device's buffer: HCG_FAULT's reads of it fail here */
    if (src->device != d && hcg_fault_inject(src->device, HCG_CALL_READ)) {
        hcg_fault_blame(src->device, HCG_CALL_READ);
        return ocl_fail(ocl_of(src->device), CL_OUT_OF_RESOURCES, "clEnqueueCopyBuffer(%zu bytes to %s)%s", n, d->name,
                        INJECTED);
    }
    bool injected = hcg_fault_inject(d, HCG_CALL_WRITE);
    cl_int err = injected ? CL_OUT_OF_RESOURCES
                          : clEnqueueCopyBuffer(ocl_of(d)->queue, (cl_mem)src->handle, (cl_mem)dst->handle, so, doff, n,
                                                0, NULL, NULL);
    if (err == CL_SUCCESS) err = clFinish(ocl_of(d)->queue);
    return err == CL_SUCCESS ? HCG_OK
                             : ocl_fail(ocl_of(d), err, "clEnqueueCopyBuffer(%zu bytes from %s)%s", n,
                                        src->device ? src->device->name : "?", injected ? INJECTED : "");
}

static hcg_status ocl_sync(hcg_device *d)
{
    cl_int err = clFinish(ocl_of(d)->queue);
    return err == CL_SUCCESS ? HCG_OK : ocl_fail(ocl_of(d), err, "clFinish");
}

/* ---------------------------------------------------------------- nodes */

hcg_status ocl_node_scratch(ocl_dev *dev, const hcg_exec_node *en, ocl_node *ns, size_t bytes)
{
    cl_int err;
    ns->scratch = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes ? bytes : 1, NULL, &err);
    if (err != CL_SUCCESS) {
        ns->scratch = NULL;
        return ocl_node_fail(en, dev, err, "clCreateBuffer(%zu bytes)", bytes);
    }
    ns->scratch_buf = (hcg_buffer){.device = dev->d, .size = bytes, .handle = ns->scratch};
    return HCG_OK;
}

static void ocl_release(hcg_device *d, hcg_exec_node *en)
{
    (void)d;
    ocl_node *ns = en->state;
    if (!ns) return;
    free(ns->parts);
    free(ns->part_off);
    free(ns->host);
    if (ns->scratch) clReleaseMemObject(ns->scratch);
    free(ns);
    en->state = NULL;
}

static hcg_status ocl_prepare(hcg_device *d, hcg_exec_node *en)
{
    ocl_release(d, en);
    const ocl_op_family *fam = families[en->node->op];
    if (!fam) return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "%s has no kernel for this op", d->name);
    ocl_node *ns = calloc(1, sizeof *ns);
    if (!ns) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    en->state = ns;
    if (ocl_numel(&en->out.shape) == 0) return HCG_OK; /* nothing to compute */
    hcg_status st = fam->prepare(ocl_of(d), en, ns);
    if (st) ocl_release(d, en);
    return st;
}

/* Device times of each node from its first and last command's events. */
static hcg_status collect_profile(ocl_dev *dev, hcg_exec_node *nodes, int n, cl_event (*ev)[2])
{
    cl_int err = clFinish(dev->queue);
    if (err != CL_SUCCESS) return ocl_fail(dev, err, "clFinish");
    cl_ulong t0 = 0, prev_end = 0;
    bool have_t0 = false;
    for (int i = 0; i < n; i++) {
        nodes[i].measured_s = 0;
        nodes[i].start_s = have_t0 ? (double)(prev_end - t0) * 1e-9 : 0;
        if (!ev[i][0]) continue;
        cl_ulong start, end;
        err = clGetEventProfilingInfo(ev[i][0], CL_PROFILING_COMMAND_START, sizeof start, &start, NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(ev[i][1] ? ev[i][1] : ev[i][0], CL_PROFILING_COMMAND_END, sizeof end, &end,
                                          NULL);
        if (err != CL_SUCCESS)
            return ocl_node_fail(&nodes[i], dev, err, "clGetEventProfilingInfo");
        if (!have_t0) {
            t0 = start;
            have_t0 = true;
        }
        nodes[i].start_s = start >= t0 ? (double)(start - t0) * 1e-9 : 0;
        nodes[i].measured_s = end >= start ? (double)(end - start) * 1e-9 : 0;
        prev_end = end;
    }
    return HCG_OK;
}

/* Reads the error buffer the kernels of the segment may have written (bad data: a gather index
 * out of range, an integer division by zero) and reports the first failing node. */
static hcg_status check_errors(ocl_dev *dev, hcg_exec_node *nodes, int n)
{
    cl_int e[4] = {0, 0, 0, 0};
    cl_int err = clEnqueueReadBuffer(dev->queue, dev->err_buf, CL_TRUE, 0, sizeof e, e, 0, NULL, NULL);
    if (err != CL_SUCCESS) return ocl_fail(dev, err, "reading the error buffer");
    if (e[0] == 0) return HCG_OK;
    cl_int zero[4] = {0, 0, 0, 0};
    err = clEnqueueWriteBuffer(dev->queue, dev->err_buf, CL_TRUE, 0, sizeof zero, zero, 0, NULL, NULL);
    if (err != CL_SUCCESS) return ocl_fail(dev, err, "clearing the error buffer");
    if (e[0] < 1 || e[0] > n) return hcg_error(HCG_ERR_INTERNAL, "%s: a kernel reported error tag %d", dev->d->name, e[0]);
    hcg_exec_node *en = &nodes[e[0] - 1];
    ocl_node *ns = en->state;
    int64_t value = (int64_t)(((uint64_t)(uint32_t)e[3] << 32) | (uint32_t)e[2]);
    if (ns->bad_data) return ns->bad_data(en, ns, e[1], value);
    if (en->node->op == HCG_OP_GATHER) {
        return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME,
                              "index %lld (at position %d) is out of range for axis %lld of size %lld",
                              (long long)value, e[1], (long long)ns->p[4], (long long)ns->p[2]);
    }
    if (en->node->op == HCG_OP_KV_ATTENTION || en->node->op == HCG_OP_CACHE_WRITE) {
        int64_t pos = (int64_t)(((uint64_t)(uint32_t)e[3] << 32) | (uint32_t)e[2]);
        const hcg_shape *cache = &en->in[en->node->op == HCG_OP_CACHE_WRITE ? 0 : 3].shape;
        int axis = en->node->op == HCG_OP_KV_ATTENTION ? 2 : 0;
        if (en->node->op == HCG_OP_CACHE_WRITE) hcg_norm_axis(hcg_attr_int(en->node, "axis"), cache->rank, &axis);
        return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME,
                              "position %lld with %d new entries does not fit the cache's %lld positions", (long long)pos,
                              e[1], (long long)cache->dims[axis]);
    }
    if (en->node->op == HCG_OP_DIV)
        return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME, "integer division by zero");
    return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME, "the kernel reported bad data");
}

static hcg_status ocl_run_segment(hcg_device *d, hcg_exec_node *nodes, int n, bool profile)
{
    ocl_dev *dev = ocl_of(d);
    hcg_status st = HCG_OK;
    bool check = false;
    cl_event (*ev)[2] = NULL;
    if (hcg_fault_inject(d, HCG_CALL_RUN))
        return ocl_fail(dev, CL_OUT_OF_RESOURCES, "clEnqueueNDRangeKernel%s", INJECTED);
    if (profile && n > 0 && !(ev = calloc((size_t)n, sizeof *ev))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    /* Sessions on other threads may use this device too: a kernel object's arguments are set and
     * enqueued as one step, and the error buffer belongs to one segment at a time. */
    pthread_mutex_lock(&dev->run_lock);
    for (int i = 0; i < n && !st; i++) {
        hcg_exec_node *en = &nodes[i];
        ocl_node *ns = en->state;
        if (!ns) { /* prepare runs when the plan is made (backend.h), never from here */
            st = hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "%s: the node was not prepared", d->name);
            break;
        }
        check |= ns->may_fail;
        if (!ns->run) continue;
        ocl_run rc = {.profile = profile, .tag = i + 1};
        st = ns->run(dev, en, ns, &rc);
        if (ev) {
            ev[i][0] = rc.first;
            ev[i][1] = rc.last;
        }
    }
    if (!st && profile) st = collect_profile(dev, nodes, n, ev);
    if (!st && check) st = check_errors(dev, nodes, n);
    pthread_mutex_unlock(&dev->run_lock);
    for (int i = 0; ev && i < n; i++)
        for (int j = 0; j < 2; j++)
            if (ev[i][j]) clReleaseEvent(ev[i][j]);
    free(ev);
    return st;
}

/* ---------------------------------------------------------------- the device */

/* Releases what make_device made for d (the context: this device's reference to it). */
static void ocl_destroy(hcg_device *d)
{
    ocl_dev *dev = ocl_of(d);
    if (!dev) return;
    ocl_programs_release(dev);
    if (dev->err_buf) clReleaseMemObject(dev->err_buf);
    if (dev->queue) clReleaseCommandQueue(dev->queue);
    if (dev->ctx) clReleaseContext(dev->ctx);
    pthread_mutex_destroy(&dev->lock);
    pthread_mutex_destroy(&dev->run_lock);
    free(dev);
    d->ctx = NULL;
}

/* iface->destroy (hcg_shutdown): the device's context and the device itself. */
static void ocl_device_destroy(hcg_device *d)
{
    ocl_clblast_forget();
    ocl_destroy(d);
    free(d);
}

static const hcg_backend_iface ocl_iface = {
    .version = HCG_BACKEND_IFACE_VERSION,
    .name = "opencl",
    .supports = ocl_supports,
    .buffer_alloc = ocl_alloc,
    .buffer_free = ocl_free,
    .write = ocl_write,
    .read = ocl_read,
    .can_copy = ocl_can_copy,
    .copy = ocl_copy,
    .prepare = ocl_prepare,
    .release = ocl_release,
    .run = ocl_run_segment,
    .synchronize = ocl_sync,
    .calibrate = hcg_opencl_calibrate,
    .destroy = ocl_device_destroy,
};

/* A string property; "" if the query fails. */
static void device_str(cl_device_id id, cl_device_info what, char *buf, size_t n)
{
    buf[0] = 0;
    if (clGetDeviceInfo(id, what, n, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[n - 1] = 0;
}

static void platform_str(cl_platform_id id, cl_platform_info what, char *buf, size_t n)
{
    buf[0] = 0;
    if (clGetPlatformInfo(id, what, n, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[n - 1] = 0;
}

static bool has_extension(const char *list, const char *ext)
{
    size_t len = strlen(ext);
    for (const char *p = list; (p = strstr(p, ext)); p += len)
        if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == 0)) return true;
    return false;
}

/* OpenCL C 1.2 or later ("OpenCL C 1.2 ..."). */
static bool c_version_ok(const char *v)
{
    int major = 0, minor = 0;
    if (sscanf(v, "OpenCL C %d.%d", &major, &minor) != 2) return false;
    return major > 1 || (major == 1 && minor >= 2);
}

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}

/* Defaults until `hcg devices --calibrate` measures the device. */
static hcg_cost_profile default_cost(const hcg_device *d, cl_uint clock_mhz)
{
    hcg_cost_profile c = {.launch_us = 10, .h2d_gbps = 8, .d2h_gbps = 8, .link_latency_us = 10};
    double cu = d->compute_units > 0 ? d->compute_units : 1;
    switch (d->type) {
    case HCG_DEVICE_CPU: /* POCL-like: untuned CLBlast, memory shared with the host */
        c.gflops = 4 * cu;
        c.mem_gbps = 10;
        c.launch_us = 20;
        c.h2d_gbps = c.d2h_gbps = 5;
        break;
    case HCG_DEVICE_GPU: /* a fraction of 128 flops per clock per compute unit */
        c.gflops = 0.3 * cu * (clock_mhz ? clock_mhz : 1000) * 128 * 1e-3;
        c.mem_gbps = 200;
        break;
    default:
        c.gflops = 10 * cu;
        c.mem_gbps = 20;
        break;
    }
    return c;
}

void ocl_describe(ocl_dev *dev)
{
    hcg_device *d = dev->d;
    char version[32] = ""; /* "OpenCL 3.0 PoCL HSTR: ..." -> "3.0" */
    sscanf(d->version, "%*s %31s", version);
    snprintf(d->description, sizeof d->description, "%s (%s, OpenCL %s), %d compute units, %.1f GiB%s",
             d->device_name, d->platform, version, d->compute_units, (double)d->global_mem / (1u << 30),
             dev->tuned ? ", GEMM tuned" : "");
}

/* Sets up one device, in the platform's shared context when there is one (else a context of its
 * own); on failure the device is skipped with a note. */
static hcg_status make_device(cl_platform_id platform, int pi, cl_device_id id, int di, int index, cl_context shared)
{
    hcg_status st = HCG_OK;
    cl_int err;
    hcg_device *d = calloc(1, sizeof *d);
    ocl_dev *dev = calloc(1, sizeof *dev);
    char ext[8192], c_version[128], name[128];
    if (!d || !dev) {
        free(d);
        free(dev);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&dev->lock, NULL);
    pthread_mutex_init(&dev->run_lock, NULL);
    d->iface = &ocl_iface;
    d->ctx = dev;
    dev->d = d;
    dev->platform = platform;
    dev->id = id;
    dev->platform_index = pi;
    dev->device_index = di;
    snprintf(d->name, sizeof d->name, "opencl:%d", index);

    cl_device_type type = 0;
    cl_ulong global_mem = 0, local_mem = 0, max_alloc = 0;
    cl_uint cu = 0, clock = 0, align_bits = 0, dims = 0, vec_float = 0;
    size_t max_wg = 0, items[16] = {0};
    cl_bool available = CL_FALSE, compiler = CL_FALSE;
    if ((err = clGetDeviceInfo(id, CL_DEVICE_TYPE, sizeof type, &type, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global_mem, &global_mem, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local_mem, &local_mem, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof clock, &clock, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vec_float, &vec_float, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, sizeof dims, &dims, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_AVAILABLE, sizeof available, &available, NULL)) ||
        (err = clGetDeviceInfo(id, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL))) {
        st = hcg_error(HCG_ERR_DEVICE, "clGetDeviceInfo failed: %s (%d)", hcg_cl_error_name(err), (int)err);
        goto fail;
    }
    device_str(id, CL_DEVICE_NAME, name, sizeof name);
    snprintf(d->device_name, sizeof d->device_name, "%s", name);
    device_str(id, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
    device_str(id, CL_DEVICE_VERSION, d->version, sizeof d->version);
    device_str(id, CL_DRIVER_VERSION, d->driver, sizeof d->driver);
    device_str(id, CL_DEVICE_OPENCL_C_VERSION, c_version, sizeof c_version);
    device_str(id, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
    platform_str(platform, CL_PLATFORM_NAME, d->platform, sizeof d->platform);
    platform_str(platform, CL_PLATFORM_VERSION, dev->platform_version, sizeof dev->platform_version);
    if (!available || !compiler) {
        st = hcg_error(HCG_ERR_UNSUPPORTED, "%s is not available or has no compiler", name);
        goto fail;
    }
    if (!c_version_ok(c_version)) {
        st = hcg_error(HCG_ERR_UNSUPPORTED, "%s supports only '%s' (hcg needs OpenCL C 1.2)", name, c_version);
        goto fail;
    }

    d->type = type & CL_DEVICE_TYPE_GPU ? HCG_DEVICE_GPU : type & CL_DEVICE_TYPE_CPU ? HCG_DEVICE_CPU
                                                                                     : HCG_DEVICE_ACCELERATOR;
    d->global_mem = global_mem;
    d->local_mem = local_mem;
    d->max_alloc = max_alloc;
    d->compute_units = (int)cu;
    d->fp16 = has_extension(ext, "cl_khr_fp16");
    d->fp64 = has_extension(ext, "cl_khr_fp64");
    d->subgroups = has_extension(ext, "cl_khr_subgroups") || has_extension(ext, "cl_intel_subgroups");
    d->align = align_bits / 8 > 64 ? align_bits / 8 : 64;
    d->host_memory = false;
    if (d->type == HCG_DEVICE_CPU) { /* an OpenCL CPU device (POCL) runs its kernels on the host's cores */
        snprintf(d->shares, sizeof d->shares, "host");
        d->cores = (int)cu;
        d->shared_cores = hcg_host_cores();
    }

    /* Work-group sizes: 256 items for elementwise launches everywhere; reductions use 64 on CPU
     * devices (a group is a loop on one core there, and short rows are common) and 256 elsewhere. */
    dev->wg = pow2_floor(max_wg < 256 ? (max_wg ? max_wg : 1) : 256);
    dev->red_wg = d->type == HCG_DEVICE_CPU && dev->wg > 64 ? 64 : dev->wg;
    dev->max_dim1 = dims >= 2 && items[1] ? items[1] : 1;
    /* Row kernels load VEC floats at a time: the device's preferred width (16 with AVX-512). */
    dev->vec = (int)pow2_floor(vec_float > 16 ? 16 : vec_float ? vec_float : 1);
    snprintf(dev->build_options, sizeof dev->build_options, "-cl-std=CL1.2 -D WG_SIZE=%zu -D VEC=%d", dev->red_wg,
             dev->vec);

    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    if (shared && (err = clRetainContext(shared)) == CL_SUCCESS) dev->ctx = shared;
    else dev->ctx = clCreateContext(props, 1, &id, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = hcg_error(HCG_ERR_DEVICE, "clCreateContext failed: %s (%d)", hcg_cl_error_name(err), (int)err);
        goto fail;
    }
    dev->queue = clCreateCommandQueue(dev->ctx, id, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS) {
        st = hcg_error(HCG_ERR_DEVICE, "clCreateCommandQueue failed: %s (%d)", hcg_cl_error_name(err), (int)err);
        goto fail;
    }
    cl_int zero[4] = {0, 0, 0, 0};
    dev->err_buf = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof zero, zero, &err);
    if (err != CL_SUCCESS) {
        st = hcg_error(HCG_ERR_DEVICE, "clCreateBuffer failed: %s (%d)", hcg_cl_error_name(err), (int)err);
        goto fail;
    }
    dev->progs = calloc((size_t)hcg_cl_program_count, sizeof *dev->progs);
    if (!dev->progs) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto fail;
    }

    d->cost = default_cost(d, clock);
    hcg_cost_load(d);
    ocl_tuning_apply(dev);
    ocl_describe(dev);
    if ((st = hcg_registry_add(d))) goto fail;
    return HCG_OK;
fail:
    ocl_destroy(d);
    free(d);
    return st;
}

hcg_status hcg_opencl_register(void)
{
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && np == 0)) {
        hcg_registry_note("no OpenCL platform found: running on the CPU");
        return HCG_OK;
    }
    if (err != CL_SUCCESS) {
        hcg_registry_note("OpenCL: clGetPlatformIDs failed (%s): running on the CPU", hcg_cl_error_name(err));
        return HCG_OK;
    }
    cl_platform_id *platforms = calloc(np, sizeof *platforms);
    if (!platforms) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    int index = 0;
    if ((err = clGetPlatformIDs(np, platforms, NULL)) != CL_SUCCESS) np = 0;
    for (cl_uint pi = 0; pi < np; pi++) {
        cl_uint nd = 0;
        if ((err = clGetDeviceIDs(platforms[pi], CL_DEVICE_TYPE_ALL, 0, NULL, &nd)) != CL_SUCCESS || nd == 0) {
            char name[128];
            platform_str(platforms[pi], CL_PLATFORM_NAME, name, sizeof name);
            if (err != CL_SUCCESS && err != CL_DEVICE_NOT_FOUND)
                hcg_registry_note("OpenCL platform '%s': clGetDeviceIDs failed: %s", name, hcg_cl_error_name(err));
            else
                hcg_registry_note("OpenCL platform '%s' offers no device%s", name,
                                  hcg_cache_problem() ? " (POCL, for one, keeps a kernel cache under XDG_CACHE_HOME "
                                                        "and offers no device without it)"
                                                      : "");
            continue;
        }
        cl_device_id *ids = calloc(nd, sizeof *ids);
        if (!ids) break;
        if (clGetDeviceIDs(platforms[pi], CL_DEVICE_TYPE_ALL, nd, ids, NULL) != CL_SUCCESS) nd = 0;
        /* One context for the platform's devices, so that they copy between each other directly
         * (iface->copy); where the platform refuses one (a device that is not available), each
         * device gets its own. Each device holds a reference; this one is let go below. */
        cl_context shared = NULL;
        if (nd > 1) {
            cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platforms[pi], 0};
            shared = clCreateContext(props, nd, ids, NULL, NULL, &err);
            if (err != CL_SUCCESS) shared = NULL;
        }
        for (cl_uint di = 0; di < nd; di++) {
            if (make_device(platforms[pi], (int)pi, ids[di], (int)di, index, shared) == HCG_OK) index++;
            else hcg_registry_note("OpenCL device skipped: %s", hcg_last_error());
        }
        if (shared) clReleaseContext(shared);
        free(ids);
    }
    free(platforms);
    if (index == 0) hcg_registry_note("no usable OpenCL device found: running on the CPU");
    return HCG_OK;
}
