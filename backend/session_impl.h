/* session_impl.h — the session object's insides, shared by session.c, trace.c and the CLI's
 * planning commands (which inspect plans and timings). */
#ifndef HCG_SESSION_IMPL_H
#define HCG_SESSION_IMPL_H

#include "backend/plan.h"
#include "backend/state.h"
#include "graph/weight_cache.h"

/* What training (backend/train.c) and other internal users add to a session. */
typedef struct hcg_session_ext {
    hcg_state_store *states; /* state tensors, possibly shared with other sessions (NULL: none) */
    bool params_variable;    /* bind without folding params: every param stays a node */
    /* After binding, before planning: may add nodes, inputs (given to runs after the graph's own)
     * and replace the outputs of the bound graph. */
    hcg_status (*transform)(void *ctx, hcg_graph *bound);
    void *transform_ctx;
    int n_extra_inputs;
} hcg_session_ext;

/* A weight resident on a device. Weights of the graph itself are shared by every plan; weights
 * made by constant folding belong to the plan whose bound graph holds them (owner). */
typedef struct hcg_weight {
    const void *data;
    size_t nbytes;
    hcg_device *device;
    hcg_buffer *buf;
    bool borrowed; /* host memory of the tensor itself */
    const hcg_plan *owner;
} hcg_weight;

typedef struct hcg_cached_plan {
    hcg_shape *shapes; /* the input-shape signature */
    hcg_plan *plan;
} hcg_cached_plan;

struct hcg_session {
    const hcg_graph *g;
    hcg_device *devs[HCG_MAX_DEVICES];
    int n_dev;
    size_t budget[HCG_MAX_DEVICES]; /* per device: bytes its share of a plan may take (0: no limit) */
    bool profile;
    /* Fault tolerance (see hcg_session_warnings): devices dropped after a fault, by name (pins
     * to them are released). A session that holds state on its devices that cannot move to
     * another device (e.g. parameters a training step updates in place) sets no_fallback: then a
     * device fault ends the run as an error instead. */
    char dropped[HCG_MAX_DEVICES][32];
    const char *dropped_names[HCG_MAX_DEVICES];
    int n_dropped;
    bool no_fallback;
    bool quiet;
    char *warnings; /* one line each */
    char *passes; /* the rewrite pass list for bind (hcg_session_options.passes, resolved) */
    /* weights the passes store otherwise (transposed), shared by every plan; freed with the session */
    hcg_weight_cache *weight_cache;
    hcg_cached_plan plans[16];
    int n_plans;
    hcg_weight *weights;
    int n_weights, cap_weights;
    size_t weight_bytes_uploaded;
    hcg_measurements measured;
    bool measurements_pending; /* a profiled multi-device run: replan to use the measurements */
    /* the last run */
    hcg_plan *last_plan;
    double last_t0;
    bool last_profiled;
    double last_run_seconds; /* wall time of the last run (hcg_session_run and friends) */
    double last_setup_seconds, last_bind_seconds; /* binding + planning + preparing the last new plan */
    int plans_built, runs;
    hcg_session_ext ext;
    hcg_state_store *own_states; /* the session's own store when ext gave none and the graph has states */
};

/* A session with internal extensions (ext is copied; its store must outlive the session). */
hcg_status hcg_session_new_ex(const hcg_graph *g, const hcg_session_options *opt, const hcg_session_ext *ext,
                              hcg_session **out);
/* Runs with the graph's inputs followed by ext.n_extra_inputs more, writing the bound graph's
 * outputs (after the transform) into caller-owned tensors, or new ones where outputs[j] is NULL. */
hcg_status hcg_session_run_ex(hcg_session *s, const hcg_tensor *const *inputs, hcg_tensor **outputs);

/* The plan for input shapes (built and cached on first use). */
hcg_status hcg_session_plan(hcg_session *s, const hcg_shape *shapes, hcg_plan **out);
/* Chrome-trace JSON of a plan's predicted timeline. */
hcg_status hcg_plan_write_trace(const hcg_plan *p, const char *path);

#endif
