/* fake_backend.c — fake devices, for testing the scheduler and executor without accelerators.
 * HCG_FAKE_DEVICES=N registers N devices "fake:0".."fake:N-1" of type accelerator. Their memory
 * is private (not host memory), so every tensor that crosses to or from them goes through the
 * executor's real copy paths; they compute with the CPU kernels on their own memory. Options:
 *   HCG_FAKE_UNSUPPORTED=softmax,gather   ops the fake devices refuse (tests fallback placement);
 *   HCG_FAKE_DELAY_US=2000                a sleep per node (makes concurrency visible in traces);
 *   HCG_FAKE_GFLOPS=...                   their cost profile's GFLOP/s (default 100);
 *   HCG_FAKE_MEMORY=bytes                 the memory they report (default: none, no limit);
 *   HCG_FAKE_MAX_ALLOC=bytes              their largest buffer (default: no limit), which splits
 *                                         arenas into several buffers.
 * HCG_FAULT (backend/fault.h) fails their calls as "FAKE_DEVICE_ERROR"; their "build" is
 * preparing a node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/cpu.h"
#include "backend/fake/fake.h"
#include "backend/fault.h"
#include "graph/op_table.h"

#define MAX_FAKE 8

typedef struct fake_ctx {
    bool unsupported[HCG_OP_COUNT];
} fake_ctx;

static bool fake_supports(hcg_device *d, const hcg_graph *g, const hcg_node *n)
{
    fake_ctx *c = d->ctx;
    (void)g;
    unsigned flags = hcg_op_info_get(n->op)->flags;
    if (flags & HCG_OPF_SOURCE) return true;
    return hcg_cpu_kernels[n->op] != NULL && !c->unsupported[n->op] && !(flags & HCG_OPF_HOST_ONLY);
}

/* An injected failure (HCG_FAULT), reported as a device reports its errors. */
static hcg_status injected(const hcg_device *d, const char *what)
{
    hcg_fault_note("FAKE_DEVICE_ERROR");
    return hcg_error(HCG_ERR_DEVICE, "%s (%s): %s failed: FAKE_DEVICE_ERROR [injected by HCG_FAULT]", d->name,
                     d->device_name, what);
}

static hcg_status fake_alloc(hcg_device *d, size_t size, hcg_buffer *out)
{
    if (hcg_fault_inject(d, HCG_CALL_ALLOC)) return injected(d, "allocating a buffer");
    if (d->max_alloc && size > d->max_alloc)
        return hcg_error(HCG_ERR_DEVICE, "%s: a buffer of %zu bytes is larger than the device allows (%llu bytes)",
                         d->name, size, (unsigned long long)d->max_alloc);
    void *p = malloc(size ? size : 1);
    if (!p) return hcg_error(HCG_ERR_NOMEM, "%s: out of memory allocating %zu bytes", d->name, size);
    out->device = d;
    out->size = size;
    out->host = NULL; /* private memory: nobody may touch it but this backend */
    out->handle = p;
    return HCG_OK;
}

static void fake_free(hcg_device *d, hcg_buffer *b)
{
    (void)d;
    free(b->handle);
    b->handle = NULL;
}

static hcg_status fake_write(hcg_device *d, hcg_buffer *dst, size_t off, const void *src, size_t n)
{
    if (hcg_fault_inject(d, HCG_CALL_WRITE)) return injected(d, "a write");
    if (off > dst->size || n > dst->size - off) return hcg_error(HCG_ERR_INTERNAL, "%s: write out of bounds", d->name);
    if (n) memcpy((char *)dst->handle + off, src, n);
    return HCG_OK;
}

static hcg_status fake_read(hcg_device *d, const hcg_buffer *src, size_t off, void *dst, size_t n)
{
    if (hcg_fault_inject(d, HCG_CALL_READ)) return injected(d, "a read");
    if (off > src->size || n > src->size - off) return hcg_error(HCG_ERR_INTERNAL, "%s: read out of bounds", d->name);
    if (n) memcpy(dst, (const char *)src->handle + off, n);
    return HCG_OK;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Runs each node with the CPU kernel on views of this device's private buffers. */
static hcg_status fake_run(hcg_device *d, hcg_exec_node *nodes, int n, bool profile)
{
    if (hcg_fault_inject(d, HCG_CALL_RUN)) return injected(d, "running a segment");
    /* read per segment, so a test can change it between runs */
    const char *delay = getenv("HCG_FAKE_DELAY_US");
    long delay_us = delay ? atol(delay) : 0;
    double t0 = hcg_now();
    for (int i = 0; i < n; i++) {
        hcg_exec_node *en = &nodes[i];
        hcg_buffer shadow_in[16], shadow_out;
        hcg_dev_tensor ins[16];
        if (en->n_in > 16) return hcg_node_error(en->g, en->node, HCG_ERR_UNSUPPORTED, "%s: too many inputs", d->name);
        for (int k = 0; k < en->n_in; k++) {
            const hcg_buffer *b = en->in[k].buf;
            if (b->device != d) return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "%s: input %d lives elsewhere", d->name, k);
            shadow_in[k] = (hcg_buffer){.device = d, .size = b->size, .host = b->handle};
            ins[k] = en->in[k];
            ins[k].buf = &shadow_in[k];
        }
        shadow_out = (hcg_buffer){.device = d, .size = en->out.buf->size, .host = en->out.buf->handle};
        hcg_exec_node view = *en;
        view.in = ins;
        view.out.buf = &shadow_out;
        double ts = hcg_now();
        if (delay_us > 0) sleep_us(delay_us);
        hcg_status st = hcg_cpu_kernels[en->node->op](&view);
        if (st) return hcg_error_prefix(st, "%s: ", d->name);
        if (profile) {
            en->start_s = ts - t0;
            en->measured_s = hcg_now() - ts;
        }
    }
    return HCG_OK;
}

/* Nothing to prepare (the CPU kernels need no set-up): here for HCG_FAULT's "build". */
static hcg_status fake_prepare(hcg_device *d, hcg_exec_node *en)
{
    (void)en;
    return hcg_fault_inject(d, HCG_CALL_BUILD) ? injected(d, "preparing a node") : HCG_OK;
}

static hcg_status fake_sync(hcg_device *d)
{
    (void)d;
    return HCG_OK;
}

static const hcg_backend_iface fake_iface = {
    .version = HCG_BACKEND_IFACE_VERSION,
    .name = "fake",
    .supports = fake_supports,
    .buffer_alloc = fake_alloc,
    .buffer_free = fake_free,
    .write = fake_write,
    .read = fake_read,
    .prepare = fake_prepare,
    .run = fake_run,
    .synchronize = fake_sync,
};

hcg_status hcg_fake_register(void)
{
    static hcg_device devices[MAX_FAKE];
    static fake_ctx ctx;
    const char *count = getenv("HCG_FAKE_DEVICES");
    int n = count ? atoi(count) : 0;
    if (n <= 0) return HCG_OK;
    if (n > MAX_FAKE) n = MAX_FAKE;
    const char *unsupported = getenv("HCG_FAKE_UNSUPPORTED");
    const char *gflops = getenv("HCG_FAKE_GFLOPS"), *memory = getenv("HCG_FAKE_MEMORY"),
               *max_alloc = getenv("HCG_FAKE_MAX_ALLOC");
    if (unsupported) {
        char list[1024];
        snprintf(list, sizeof list, "%s", unsupported);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            hcg_op op;
            if (hcg_op_parse(tok, &op)) ctx.unsupported[op] = true;
        }
    }
    for (int i = 0; i < n; i++) {
        hcg_device *d = &devices[i];
        memset(d, 0, sizeof *d);
        d->iface = &fake_iface;
        d->ctx = &ctx;
        snprintf(d->name, sizeof d->name, "fake:%d", i);
        d->type = HCG_DEVICE_ACCELERATOR;
        snprintf(d->device_name, sizeof d->device_name, "fake device %d", i);
        snprintf(d->platform, sizeof d->platform, "hcg test");
        snprintf(d->vendor, sizeof d->vendor, "hcg");
        snprintf(d->driver, sizeof d->driver, "fake");
        d->align = 64;
        d->global_mem = memory ? strtoull(memory, NULL, 10) : 0;
        d->max_alloc = max_alloc ? strtoull(max_alloc, NULL, 10) : 0;
        d->cost = (hcg_cost_profile){.gflops = gflops ? atof(gflops) : 100, .mem_gbps = 20, .launch_us = 5,
                                     .h2d_gbps = 10, .d2h_gbps = 10, .link_latency_us = 5};
        snprintf(d->description, sizeof d->description, "fake accelerator for tests (CPU kernels on private memory)");
        hcg_status st = hcg_registry_add(d);
        if (st) return st;
    }
    return HCG_OK;
}
