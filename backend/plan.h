/* plan.h — an execution plan for one bound graph on a set of devices: where each node runs
 * (placement), where each tensor lives on each device that needs it (residency), the steps
 * (segments of consecutive nodes on one device, and copies between devices) with their
 * dependencies, and the memory plan (one arena per device). backend/plan.c builds it,
 * backend/sched.c places nodes, backend/memplan.c assigns arena offsets, backend/exec.c runs it. */
#ifndef HCG_PLAN_H
#define HCG_PLAN_H

#include "backend/backend.h"

/* HCG_MAX_DEVICES (devices one session or plan uses at most) is in hcg.h. */

/* Where a tensor's memory comes from. */
typedef enum hcg_mem_kind {
    HCG_MEM_NONE = 0,
    HCG_MEM_ARENA,  /* the device's arena, at an offset from the memory planner */
    HCG_MEM_INPUT,  /* a graph input's host memory (CPU device only, set per run) */
    HCG_MEM_OUTPUT, /* a graph output's host tensor, written directly (CPU device only, per run) */
    HCG_MEM_WEIGHT, /* a constant or parameter, resident on the device for the session */
    HCG_MEM_STATE   /* a state tensor, resident on its one device (the session's state store) */
} hcg_mem_kind;

/* A tensor's home on one device. Views share the home of the tensor they view. */
typedef struct hcg_home {
    hcg_mem_kind kind;
    int index;     /* MEM_INPUT / MEM_OUTPUT: which input or output; MEM_ARENA: allocation id */
    hcg_dev_tensor t; /* dtype, shape, buffer and offset (the buffer is set once memory exists) */
} hcg_home;

typedef enum hcg_step_kind { HCG_STEP_SEGMENT, HCG_STEP_COPY } hcg_step_kind;

/* A unit of work for one device's worker. */
typedef struct hcg_step {
    hcg_step_kind kind;
    int device;            /* the device whose worker runs the step (a copy: the destination) */
    int first, count;      /* SEGMENT: exec nodes [first, first + count) of plan->exec */
    hcg_id tensor;         /* COPY: the node whose output is copied */
    int src_device;        /* COPY: from (-1: from host memory, a graph input) */
    void *staging;         /* COPY between two non-host devices: host staging memory */
    bool direct;           /* COPY: the last run copied device to device (iface->copy), no staging */
    int *deps, n_deps;     /* steps that must finish first */
    double pred_start, pred_end; /* predicted by the scheduler, seconds */
    double t_start, t_end;       /* measured in the last run, seconds from its start */
} hcg_step;

/* One arena allocation (an alias group of tensors on one device). */
typedef struct hcg_alloc {
    int device;
    int chunk;           /* which of the device's arena buffers (see hcg_plan.arena) */
    size_t size, offset; /* offset inside that buffer */
    int first_pos, last_pos; /* positions in the global order where it is written first / read last */
    int last_step;           /* the step of its last reader (for reuse dependencies) */
    int first_step;          /* the step that writes it first */
} hcg_alloc;

typedef struct hcg_plan {
    hcg_graph *bound; /* owned */
    int n_dev;
    hcg_device *devs[HCG_MAX_DEVICES];
    int *place;          /* per node: device index; -1 for sources and inputs */
    int *state_owner;    /* per node: for state tensors, the device they live on (-1: none) */
    hcg_home *home;      /* per node x device: home[id * n_dev + dev] */
    double *pred_time;   /* per node: predicted seconds on its device */
    double *pred_start;  /* per node: predicted start, seconds (the scheduler's timeline) */
    double pred_makespan;
    hcg_exec_node *exec; /* compute nodes in execution order, grouped by segment */
    int n_exec;
    hcg_dev_tensor *exec_inputs; /* storage for every exec node's inputs */
    hcg_step *steps;
    int n_steps;
    hcg_alloc *allocs;
    int n_allocs;
    /* Per device: the arena, in n_arenas buffers ("chunks") of at most the device's max_alloc
     * bytes each; arena_size is their sum. */
    hcg_buffer *arena[HCG_MAX_DEVICES];
    int n_arenas[HCG_MAX_DEVICES];
    size_t arena_size[HCG_MAX_DEVICES], arena_lower_bound[HCG_MAX_DEVICES];
    /* What the plan needs on each device: arena, resident weights, and on the host the outputs. */
    size_t need[HCG_MAX_DEVICES];
    /* Limits the plan was built under (hcg_plan_options). */
    size_t budget[HCG_MAX_DEVICES];    /* bytes a device may hold (0: no limit) */
    bool excluded[HCG_MAX_DEVICES];    /* no compute goes there (it did not fit its budget) */
    const char *const *released_pins; /* pins to these device names are ignored */
    int n_released_pins;
    /* Per-run host memory of graph inputs/outputs, for homes of kind MEM_INPUT / MEM_OUTPUT. */
    hcg_buffer *input_bufs, *output_bufs;
    bool *output_direct; /* output j is written in place into the caller's tensor */
    double plan_seconds; /* time spent planning */
} hcg_plan;

/* Measured per-node seconds from profiled runs, keyed by the unbound graph's node id and device
 * index (NaN: not measured). */
typedef struct hcg_measurements {
    double *seconds; /* [n_nodes * n_dev] */
    int n_nodes, n_dev;
} hcg_measurements;

/* Places every compute node of plan->bound on one of plan->devs (fills plan->place and
 * plan->pred_time), honouring pins and supports(), minimising the predicted makespan. */
hcg_status hcg_sched_place(hcg_plan *plan, const hcg_measurements *measured);

/* Predicted seconds of node id on device index dev (measured if known, else the cost model). */
double hcg_sched_node_time(const hcg_plan *plan, const hcg_measurements *measured, hcg_id id, int dev);

/* What a plan is built under. Every member may be zero. */
typedef struct hcg_plan_options {
    const hcg_measurements *measured; /* node times from profiled runs */
    const size_t *budget;             /* per device (as devs): bytes it may hold, 0: no limit */
    const char *const *released_pins; /* device names whose pins are ignored (dropped devices) */
    int n_released_pins;
} hcg_plan_options;

/* Builds a plan (placement, residency, steps, memory) for a bound graph. Takes ownership of
 * bound. When a device's share does not fit its budget, the plan is built again without compute
 * on that device; if nothing fits, the error says "too large for DEVICE (needs X, has Y)". The
 * arenas are allocated last (a device's fault there is recorded, backend/fault.h). Weights are
 * bound by the session afterwards. */
hcg_status hcg_plan_build(hcg_graph *bound, hcg_device **devs, int n_dev, const hcg_plan_options *opt, hcg_plan **out);
void hcg_plan_free(hcg_plan *plan);

/* Assigns every allocation of plan->allocs a chunk and an offset (chunks of at most the device's
 * max_alloc bytes); fills n_arenas, arena_size and arena_lower_bound and makes the (empty) arena
 * buffer records. Allocates no device memory. */
hcg_status hcg_memplan_assign(hcg_plan *plan);
/* Allocates each device's arena chunks. */
hcg_status hcg_memplan_allocate(hcg_plan *plan);

#endif
