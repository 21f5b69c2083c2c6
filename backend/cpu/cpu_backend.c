/* cpu_backend.c — the CPU device: its interface table (buffers are host memory, run calls the
 * kernel table node by node), its description and cost profile (defaults, calibration), and
 * evaluation of single nodes on host tensors for constant folding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_simd.h"
#include "backend/fault.h"
#include "graph/op_table.h"

#define CPU_ALIGN 64

static bool cpu_supports(hcg_device *d, const hcg_graph *g, const hcg_node *n)
{
    (void)d;
    (void)g;
    return (hcg_op_info_get(n->op)->flags & HCG_OPF_SOURCE) || hcg_cpu_kernels[n->op] != NULL;
}

/* An injected failure (HCG_FAULT, backend/fault.h). */
static hcg_status injected(const char *what)
{
    hcg_fault_note("CPU_DEVICE_ERROR");
    return hcg_error(HCG_ERR_DEVICE, "cpu: %s failed [injected by HCG_FAULT]", what);
}

static hcg_status cpu_alloc(hcg_device *d, size_t size, hcg_buffer *out)
{
    if (hcg_fault_inject(d, HCG_CALL_ALLOC)) return injected("allocating a buffer");
    size_t rounded = (size + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    void *p = aligned_alloc(CPU_ALIGN, rounded ? rounded : CPU_ALIGN);
    if (!p) return hcg_error(HCG_ERR_NOMEM, "cpu: out of memory allocating %zu bytes", size);
    out->device = d;
    out->size = size;
    out->host = p;
    out->handle = NULL;
    return HCG_OK;
}

static void cpu_free(hcg_device *d, hcg_buffer *b)
{
    (void)d;
    free(b->host);
    b->host = NULL;
}

static hcg_status cpu_write(hcg_device *d, hcg_buffer *dst, size_t off, const void *src, size_t n)
{
    if (hcg_fault_inject(d, HCG_CALL_WRITE)) return injected("a write");
    if (off > dst->size || n > dst->size - off) return hcg_error(HCG_ERR_INTERNAL, "cpu: write out of bounds");
    if (n) memmove((char *)dst->host + off, src, n);
    return HCG_OK;
}

static hcg_status cpu_read(hcg_device *d, const hcg_buffer *src, size_t off, void *dst, size_t n)
{
    if (hcg_fault_inject(d, HCG_CALL_READ)) return injected("a read");
    if (off > src->size || n > src->size - off) return hcg_error(HCG_ERR_INTERNAL, "cpu: read out of bounds");
    if (n) memmove(dst, (const char *)src->host + off, n);
    return HCG_OK;
}

/* The device itself is static; what it holds is the pool's threads (started on first use again). */
static void cpu_destroy(hcg_device *d)
{
    (void)d;
    hcg_cpu_pool_stop();
}

static hcg_status cpu_run(hcg_device *d, hcg_exec_node *nodes, int n, bool profile)
{
    if (hcg_fault_inject(d, HCG_CALL_RUN)) return injected("running a segment");
    double t0 = profile ? hcg_now() : 0;
    for (int i = 0; i < n; i++) {
        hcg_exec_node *en = &nodes[i];
        hcg_cpu_kernel k = hcg_cpu_kernels[en->node->op];
        double ts = profile ? hcg_now() : 0;
        if (!k) return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "the cpu device has no kernel for this op");
        hcg_status st = k(en);
        if (st) return st;
        if (profile) {
            double te = hcg_now();
            en->start_s = ts - t0;
            en->measured_s = te - ts;
        }
    }
    return HCG_OK;
}

static hcg_status cpu_sync(hcg_device *d)
{
    (void)d;
    return HCG_OK;
}

/* ---------------------------------------------------------------- calibration */

static double measure_gemm_gflops(int size)
{
    float *a = calloc((size_t)size * size, sizeof(float)), *b = calloc((size_t)size * size, sizeof(float));
    float *c = calloc((size_t)size * size, sizeof(float));
    double best = 0;
    if (a && b && c) {
        for (long i = 0; i < (long)size * size; i++) {
            a[i] = (float)(i % 7) * 0.25f;
            b[i] = (float)(i % 5) * 0.5f;
        }
        /* the best of many: at least 4 runs and a quarter of a second (other load only slows runs down) */
        double until = hcg_now() + 0.25;
        for (int rep = 0; rep < 4 || hcg_now() < until; rep++) {
            double t = hcg_now();
            /* the product the matmul kernels run (oneDNN on the pool's threads, or OpenBLAS) */
            hcg_cpu_sgemm(false, false, size, size, size, 1.0f, a, size, b, size, 0.0f, c, size, true);
            t = hcg_now() - t;
            double g = 2.0 * size * size * (double)size / t / 1e9;
            if (g > best) best = g;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static double measure_copy_gbps(size_t bytes)
{
    char *a = malloc(bytes), *b = malloc(bytes);
    double best = 0;
    if (a && b) {
        memset(a, 1, bytes);
        memset(b, 2, bytes);
        for (int rep = 0; rep < 5; rep++) {
            double t = hcg_now();
            memcpy(b, a, bytes);
            t = hcg_now() - t;
            double g = 2.0 * (double)bytes / t / 1e9; /* read + write */
            if (g > best) best = g;
        }
    }
    free(a);
    free(b);
    return best;
}

static hcg_status cpu_calibrate(hcg_device *d, FILE *log)
{
    double gflops = measure_gemm_gflops(1024);
    double gbps = measure_copy_gbps((size_t)64 << 20);
    d->cost.gflops = gflops;
    d->cost.mem_gbps = gbps;
    d->cost.launch_us = 1.0;
    d->cost.h2d_gbps = d->cost.d2h_gbps = gbps / 2;
    d->cost.link_latency_us = 0;
    d->cost.calibrated = true;
    if (log) fprintf(log, "%s: sgemm %.1f GFLOP/s, memory %.1f GB/s\n", d->name, gflops, gbps);
    return hcg_cost_store(d);
}

/* ---------------------------------------------------------------- the device */

static const hcg_backend_iface cpu_iface = {
    .version = HCG_BACKEND_IFACE_VERSION,
    .name = "cpu",
    .supports = cpu_supports,
    .buffer_alloc = cpu_alloc,
    .buffer_free = cpu_free,
    .write = cpu_write,
    .read = cpu_read,
    .destroy = cpu_destroy,
    .run = cpu_run,
    .synchronize = cpu_sync,
    .calibrate = cpu_calibrate,
};

static void read_cpu_model(char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, n, "unknown processor");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ') colon++;
                colon[strcspn(colon, "\n")] = 0;
                snprintf(buf, n, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

hcg_status hcg_cpu_register(void)
{
    static hcg_device cpu;
    hcg_device *d = &cpu;
    memset(d, 0, sizeof *d);
    d->iface = &cpu_iface;
    snprintf(d->name, sizeof d->name, "cpu");
    d->type = HCG_DEVICE_CPU;
    read_cpu_model(d->device_name, sizeof d->device_name);
    snprintf(d->platform, sizeof d->platform, "host");
    snprintf(d->vendor, sizeof d->vendor, "host");
#if defined(HCG_HAVE_DNNL)
    const char *products = "oneDNN";
#elif defined(HCG_HAVE_BLAS)
    const char *products = "OpenBLAS";
#else
    const char *products = "hcg's loop";
#endif
    snprintf(d->version, sizeof d->version, "hcg cpu backend, matrix products: %s, vector loops: %s", products,
             hcg_simd()->isa);
    snprintf(d->driver, sizeof d->driver, "hcg-%s", "0.1");
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    d->global_mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    /* what this process may use: its address-space and data limits too (ulimit -v, -d) */
    static const int limits[] = {RLIMIT_AS, RLIMIT_DATA};
    for (int i = 0; i < 2; i++) {
        struct rlimit rl;
        if (getrlimit(limits[i], &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (uint64_t)rl.rlim_cur < d->global_mem)
            d->global_mem = (uint64_t)rl.rlim_cur;
    }
    d->max_alloc = d->global_mem;
    d->compute_units = hcg_cpu_threads();
    /* f16 is widened in hardware (F16C: the vectorised loops, cpu_simd.h) where the processor has it */
#if defined(__x86_64__) || defined(__i386__)
    d->fp16 = hcg_cpu_has_f16c();
#else
    d->fp16 = false;
#endif
    d->fp64 = true;
    d->align = CPU_ALIGN;
    d->host_memory = true;
    snprintf(d->shares, sizeof d->shares, "host");
    d->cores = d->compute_units;
    d->shared_cores = hcg_host_cores();
    /* Defaults until `hcg devices --calibrate` measures them. */
    d->cost = (hcg_cost_profile){.gflops = 25.0 * d->compute_units, .mem_gbps = 10, .launch_us = 1,
                                 .h2d_gbps = 5, .d2h_gbps = 5, .link_latency_us = 0};
    hcg_cost_load(d);
    snprintf(d->description, sizeof d->description, "%s, %d threads, %.1f GiB (host)", d->device_name,
             d->compute_units, (double)d->global_mem / (1 << 30));
    return hcg_registry_add(d);
}

/* ---------------------------------------------------------------- folding */

hcg_status hcg_cpu_eval(const hcg_graph *g, const hcg_node *n, hcg_tensor **out)
{
    hcg_cpu_kernel k = hcg_cpu_kernels[n->op];
    if (!k) return hcg_node_error(g, n, HCG_ERR_UNSUPPORTED, "cannot evaluate this op on the cpu");
    hcg_tensor *t = NULL;
    hcg_status st = hcg_tensor_new(n->dtype, &n->shape, &t);
    if (st) return st;
    int nin = n->n_inputs;
    hcg_buffer *bufs = calloc((size_t)nin + 1, sizeof *bufs);
    hcg_dev_tensor *ins = calloc((size_t)nin + 1, sizeof *ins);
    if (!bufs || !ins) {
        free(bufs);
        free(ins);
        hcg_tensor_free(t);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < nin; i++) {
        const hcg_node *in = &g->nodes[n->inputs[i]];
        bufs[i].host = in->value ? in->value->data : NULL;
        bufs[i].size = in->value ? in->value->nbytes : 0;
        ins[i] = (hcg_dev_tensor){.dtype = in->dtype, .shape = in->shape, .buf = &bufs[i], .offset = 0};
    }
    bufs[nin].host = t->data;
    bufs[nin].size = t->nbytes;
    hcg_exec_node en = {.g = g, .node = n, .id = (hcg_id)(n - g->nodes), .n_in = nin, .in = ins,
                        .out = {.dtype = n->dtype, .shape = n->shape, .buf = &bufs[nin], .offset = 0}};
    st = k(&en);
    free(bufs);
    free(ins);
    if (st) {
        hcg_tensor_free(t);
        return st;
    }
    *out = t;
    return HCG_OK;
}
