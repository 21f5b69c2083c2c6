/* backend.h — the device interface every backend implements (a table of function pointers per
 * backend, its contract written member by member below), the device object, device buffers and
 * tensors, and the registry that backends add their devices to.
 *
 * Who calls a backend. Nothing outside backend/ calls a member directly: sessions, plans and the
 * executor go through the hcg_dev_* wrappers of backend/fault.c (which record a device's faults)
 * and the scheduler calls supports(). Calls come from two kinds of threads:
 *   - a *session thread*: the application's thread inside hcg_session_run / prepare / free (also
 *     training sessions and decoders, which are sessions inside): planning (supports), memory
 *     (buffer_alloc, buffer_free), weights, states and outputs (write, read), prepare, release;
 *   - an *executor worker* (backend/exec.c): one thread per device of a multi-device run (the
 *     session thread is the worker of one of them; a single-device run has no other thread):
 *     run and synchronize of its device, and the copies that arrive on it (write to it, read from
 *     the source device, or copy).
 * Within one run the executor holds a per-device lock around every call it makes for a device,
 * so a device sees one call at a time from that run. But sessions are independent: two sessions
 * on two threads (test_threads, hcg_session on several threads, a decoder beside a training
 * session) may call the same device at the same time, so every member must be safe to call
 * concurrently with any other member for different buffers and nodes, and must serialise
 * internally what it shares (the OpenCL backend: one segment at a time per device, because kernel
 * objects and the error buffer are shared; the CPU backend: one parallel loop at a time on the
 * pool, others run inline). The only members that never overlap with anything on their device
 * are calibrate (the application promises no session uses the device) and destroy.
 *
 * What a backend may assume: every buffer passed in is one its buffer_alloc made for that device
 * (copy's source: one made for a device can_copy accepted), offsets and lengths lie inside it;
 * an exec node's inputs and output live on the device it runs on, as dense row-major tensors of
 * the bound graph's dtypes and shapes; prepare ran for a node (successfully) before it is run, and
 * release runs after its plan's last run; a buffer is not freed while a call that uses it runs.
 *
 * Out-of-tree backends set .version = HCG_BACKEND_IFACE_VERSION; hcg_registry_add refuses a
 * device whose backend was built against another version of this interface. */
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

/* hcg_cost_profile (what a device costs: measured by `hcg devices --calibrate`, defaults before
 * that) is public: hcg.h. */

struct hcg_device {
    const hcg_backend_iface *iface;
    char name[32]; /* "cpu", "opencl:0" */
    hcg_device_type type;
    char description[512]; /* one line for `hcg devices` */
    char platform[128], vendor[128], device_name[128], version[128], driver[64];
    uint64_t global_mem, local_mem, max_alloc;
    int compute_units;
    /* fp16: the device converts f16 in hardware (F16C; OpenCL's cl_khr_fp16): the cost model charges
     * widening f16 operands less (backend/cost.c) */
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

/* The version of the interface below. Raise it whenever a member is added, removed or changes its
 * meaning (2: the version member, copy between devices with can_copy, estimate removed, prepare
 * only at plan time). */
#define HCG_BACKEND_IFACE_VERSION 2

struct hcg_backend_iface {
    int version;      /* HCG_BACKEND_IFACE_VERSION, as the backend was built */
    const char *name; /* "cpu", "opencl", "fake", "sim" */
    /* Whether d can run node n of bound graph g (op, dtypes, shapes; sizes against the device's
     * limits are the scheduler's). Called by the scheduler while planning, on a session thread,
     * many times per plan: it must be quick, only read, and build nothing. */
    bool (*supports)(hcg_device *d, const hcg_graph *g, const hcg_node *n);
    /* A buffer of size bytes (size may be 0: a valid, empty buffer). On a session thread: arenas
     * when a plan is made, weights and state tensors when first used. A failure that is the
     * device's (out of its memory, a lost device) returns HCG_ERR_DEVICE (or HCG_ERR_NOMEM for
     * devices with memory of their own): the session drops the device and plans again. */
    hcg_status (*buffer_alloc)(hcg_device *d, size_t size, hcg_buffer *out);
    /* Frees a buffer buffer_alloc made; on a session thread, when nothing uses it any more. */
    void (*buffer_free)(hcg_device *d, hcg_buffer *b);
    /* Blocking transfers between host memory and a buffer: when they return, the bytes are there
     * (write) or in host memory (read). read waits for the device's queued work. On a session
     * thread (weights, states, outputs) or an executor worker (copies between devices). */
    hcg_status (*write)(hcg_device *d, hcg_buffer *dst, size_t offset, const void *src, size_t n);
    hcg_status (*read)(hcg_device *d, const hcg_buffer *src, size_t offset, void *dst, size_t n);
    /* (optional, both or neither) Copies between two devices of this backend without the host:
     * can_copy says whether dst can read src's buffers directly (OpenCL: the same context); the
     * executor then calls copy on dst's worker, holding the run's locks of both devices, instead of
     * a read into host memory and a write. copy is blocking like write. The source's producer
     * has finished (its segment was synchronized) before copy is called. */
    bool (*can_copy)(const hcg_device *dst, const hcg_device *src);
    hcg_status (*copy)(hcg_device *dst, hcg_buffer *to, size_t to_offset, const hcg_buffer *from, size_t from_offset,
                       size_t n);
    /* (optional) Per-node set-up when a plan is made, on the session thread, after the node's
     * weights and states have their buffers and before the plan's first run: pick kernels, build
     * programs (a "build" fault), compute constants, allocate scratch. Sets en->state (the
     * backend's). Never called from run. */
    hcg_status (*prepare)(hcg_device *d, hcg_exec_node *en);
    /* (optional) Frees what prepare made, when the plan is freed (session thread). */
    void (*release)(hcg_device *d, hcg_exec_node *en);
    /* Runs (or enqueues) a segment of prepared nodes in order, on the device's executor worker.
     * When profile is set, fills each node's measured_s (and start_s) before returning. Bad data
     * (an index out of range) is HCG_ERR_RUNTIME naming the node; the device's own failure is
     * HCG_ERR_DEVICE. */
    hcg_status (*run)(hcg_device *d, hcg_exec_node *nodes, int n, bool profile);
    /* Waits for everything enqueued on the device; called after run for devices whose buffers are
     * not host memory, on the same thread. */
    hcg_status (*synchronize)(hcg_device *d);
    /* (optional) Measures the device's cost profile (and tunes what it can), stores the results
     * in the cache (hcg_cost_store) and applies them. Progress goes to log. Called by
     * hcg_device_calibrate on the application's thread while no session uses the device. */
    hcg_status (*calibrate)(hcg_device *d, FILE *log);
    /* (optional) Gives the device back: frees its context, queues, programs and threads, and the
     * hcg_device itself if the backend allocated it. Called by hcg_shutdown (registry.c) once no
     * session is left and no other call runs; the registry forgets the device afterwards. */
    void (*destroy)(hcg_device *d);
};

/* Adds a device to the registry (called by backends during discovery): it is refused when its
 * backend's interface version is not HCG_BACKEND_IFACE_VERSION or a required member is missing.
 * The registry keeps it until hcg_shutdown, which calls iface->destroy. */
hcg_status hcg_registry_add(hcg_device *d);
/* Records a note about discovery ("no OpenCL platform found: running on the CPU"); programs read
 * them with hcg_device_notes (hcg.h). */
void hcg_registry_note(const char *fmt, ...) HCG_PRINTF(1, 2);

/* Predicted seconds for node n on d from its cost profile:
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
/* hcg_device_calibrate (iface->calibrate; devices without one keep their defaults) and hcg_now
 * (seconds on a monotonic clock) are public: hcg.h. */

/* The pointer to a tensor's first byte, for backends with host memory. */
static inline void *hcg_dev_tensor_ptr(const hcg_dev_tensor *t)
{
    return (char *)t->buf->host + t->offset;
}

#endif
