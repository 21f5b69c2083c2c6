/* backend.h — the device interface every backend implements (a table of function pointers per
 * backend), the device object, device buffers and tensors, and the registry that backends add
 * their devices to.
 *
 * Threading contract: the scheduler gives each device one worker thread; buffer I/O, run and
 * synchronize for a device are only ever called from one thread at a time. supports() and
 * estimate() are called while planning, from the session's thread, and must only read. */
#ifndef HCG_BACKEND_H
#define HCG_BACKEND_H

#include <stdio.h>

#include "graph/graph.h"

typedef struct hcg_backend_iface hcg_backend_iface;

/* A block of device memory. */
typedef struct hcg_buffer {
    hcg_device *device;
    size_t size;
    void *host;   /* host-addressable memory (the CPU backend), else NULL */
    void *handle; /* the backend's handle (cl_mem) */
} hcg_buffer;

/* A tensor that lives in a device buffer at an offset. */
typedef struct hcg_dev_tensor {
    hcg_dtype dtype;
    hcg_shape shape;
    hcg_buffer *buf;
    size_t offset;
} hcg_dev_tensor;

/* A node ready to run on a device: its bound node, where its inputs and output live, and the
 * backend's per-node state from prepare(). */
typedef struct hcg_exec_node {
    const hcg_graph *g;
    const hcg_node *node;
    hcg_id id;
    int n_in;
    hcg_dev_tensor *in;
    hcg_dev_tensor out;
    void *state;       /* owned by the backend: set by prepare, freed by release */
    double measured_s; /* filled by run() when profiling */
    double start_s;    /* profiling: start relative to the run's start, if the backend knows */
} hcg_exec_node;

/* What a device costs: measured by `hcg devices --calibrate`, defaults before that. */
typedef struct hcg_cost_profile {
    double gflops;          /* sustained single-precision GEMM GFLOP/s */
    double mem_gbps;        /* device memory bandwidth, GB/s */
    double launch_us;       /* per-kernel launch latency, microseconds */
    double h2d_gbps;        /* host to device bandwidth, GB/s (CPU: memcpy bandwidth) */
    double d2h_gbps;        /* device to host bandwidth, GB/s */
    double link_latency_us; /* latency of one transfer, microseconds */
    bool calibrated;        /* measured (true) or defaults (false) */
} hcg_cost_profile;

struct hcg_device {
    const hcg_backend_iface *iface;
    char name[32]; /* "cpu", "opencl:0" */
    hcg_device_type type;
    char description[512]; /* one line for `hcg devices` */
    char platform[128], vendor[128], device_name[128], version[128], driver[64];
    uint64_t global_mem, local_mem, max_alloc;
    int compute_units;
    bool fp16, fp64, subgroups;
    size_t align; /* alignment of buffer offsets, bytes */
    bool host_memory; /* buffers are host memory (hcg_buffer.host): moves to or from the host are free */
    /* The compute the device's kernels run on, when other devices may share it: "host" for the CPU
     * backend and for OpenCL devices of type CPU (POCL), which run on the same cores. Empty: hardware
     * of its own (GPUs, accelerators, fake and simulated devices unless told otherwise). Devices that
     * share it and together want more cores than it has contend (hcg_devices_contend): the
     * scheduler never expects them to run at the same time. */
    char shares[16];
    int cores;        /* how many of those cores the device's kernels keep busy (0: all of them) */
    int shared_cores; /* how many cores the shared compute has (0: unknown) */
    hcg_cost_profile cost;
    void *ctx; /* the backend's */
};

struct hcg_backend_iface {
    const char *name; /* "cpu", "opencl" */
    /* Whether d can run node n of bound graph g (op, dtypes, shapes). */
    bool (*supports)(hcg_device *d, const hcg_graph *g, const hcg_node *n);
    hcg_status (*buffer_alloc)(hcg_device *d, size_t size, hcg_buffer *out);
    void (*buffer_free)(hcg_device *d, hcg_buffer *b);
    /* Blocking transfers between host memory and a buffer; read waits for queued work. */
    hcg_status (*write)(hcg_device *d, hcg_buffer *dst, size_t offset, const void *src, size_t n);
    hcg_status (*read)(hcg_device *d, const hcg_buffer *src, size_t offset, void *dst, size_t n);
    /* Copy within the device (optional: NULL means through the host). */
    hcg_status (*copy)(hcg_device *d, const hcg_buffer *src, size_t src_off, hcg_buffer *dst,
                       size_t dst_off, size_t n);
    /* (optional) Per-node set-up at plan time: pick kernels, build programs, compute constants. */
    hcg_status (*prepare)(hcg_device *d, hcg_exec_node *en);
    /* (optional) Frees what prepare made. */
    void (*release)(hcg_device *d, hcg_exec_node *en);
    /* Runs (or enqueues) a segment of nodes in order. When profile is set, fills each node's
     * measured_s (and start_s) before returning. */
    hcg_status (*run)(hcg_device *d, hcg_exec_node *nodes, int n, bool profile);
    /* Waits for everything enqueued on the device. */
    hcg_status (*synchronize)(hcg_device *d);
    /* (optional) Predicted seconds for node n; NULL: the cost model from d->cost. */
    double (*estimate)(hcg_device *d, const hcg_graph *g, const hcg_node *n);
    /* (optional) Measures the device's cost profile (and tunes what it can), stores the results
     * in the cache (hcg_cost_store) and applies them. Progress goes to log. */
    hcg_status (*calibrate)(hcg_device *d, FILE *log);
    /* Frees the device's context. */
    void (*destroy)(hcg_device *d);
};

/* Adds a device to the registry (called by backends during discovery). Takes ownership. */
hcg_status hcg_registry_add(hcg_device *d);
/* Records a note about discovery ("no OpenCL platform found: running on the CPU"), printed once
 * by the CLI. */
void hcg_registry_note(const char *fmt, ...) HCG_PRINTF(1, 2);
const char *hcg_registry_notes(void);

/* Predicted seconds for node n on d: the backend's estimate, else
 * launch latency + max(flops / GFLOP/s, bytes / bandwidth). */
double hcg_device_estimate(hcg_device *d, const hcg_graph *g, const hcg_node *n);
/* Whether a and b (a != b) share compute (`shares`) and together want more cores than it has, so
 * that work on one slows work on the other: the scheduler treats them as one worker. Unknown core
 * counts contend (the conservative answer). */
bool hcg_devices_contend(const hcg_device *a, const hcg_device *b);
/* The host's online cores (at least 1). */
int hcg_host_cores(void);
/* Predicted seconds to move bytes from device a to device b (0 when a == b; NULL is the host). */
double hcg_transfer_estimate(const hcg_device *a, const hcg_device *b, size_t bytes);

/* Loads a device's stored cost profile into d->cost (true if one was found). The key is the
 * backend, device name, and driver version. */
bool hcg_cost_load(hcg_device *d);
/* Adds a cost profile's numbers to a JSON object (cJSON). */
struct cJSON;
void hcg_cost_add_json(struct cJSON *o, const hcg_cost_profile *c);
/* Stores d->cost for later processes. */
hcg_status hcg_cost_store(const hcg_device *d);
/* Calibrates a device (iface->calibrate); devices without one keep their defaults. */
hcg_status hcg_device_calibrate(hcg_device *d, FILE *log);
/* Seconds on a monotonic clock. */
double hcg_now(void);

/* The pointer to a tensor's first byte, for backends with host memory. */
static inline void *hcg_dev_tensor_ptr(const hcg_dev_tensor *t)
{
    return (char *)t->buf->host + t->offset;
}

#endif
