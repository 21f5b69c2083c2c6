/* golden_cases.h — the golden op cases (tests/golden/cases.json, made by
 * tests/golden/make_golden.py): loading them, building each case's one-op graph with the public
 * builder, running it through a session on a device spec and comparing with the reference.
 * test_ops_cpu.c runs every case on "cpu"; a backend's test runs the same cases on its devices. */
#ifndef HCG_GOLDEN_CASES_H
#define HCG_GOLDEN_CASES_H

#include <cjson/cJSON.h>

#include "testlib.h"

#define GC_MAX_INPUTS 8

typedef struct gc_case {
    const char *name;
    const char *op_name;
    hcg_op op;
    const cJSON *attrs; /* an object: name -> number, string, or list of numbers */
    int n_inputs;
    const char *inputs[GC_MAX_INPUTS]; /* .npy files in the suite's folder */
    const char *output;                /* the reference .npy, NULL for an error case */
    const char *error;                 /* error cases: a substring of the expected message ('|' separates alternatives) */
    const char *status;                /* error cases: hcg_status_name of the expected status */
    double rtol, atol;                 /* negative: the defaults for the output dtype */
    /* Inputs that are state tensors (ops that update them in place): declared with hcg_state,
     * started at their .npy value, and also outputs (named x<i>) compared after the run with
     * state_outputs[k] (the expected final value). */
    int states[GC_MAX_INPUTS];
    const char *state_outputs[GC_MAX_INPUTS];
    int n_states;
} gc_case;

typedef struct gc_suite {
    char dir[1024];
    cJSON *root;
    gc_case *cases;
    int n_cases;
} gc_suite;

/* Loads dir/cases.json. Returns false (and prints why) if it is missing or malformed. */
bool gc_load(const char *dir, gc_suite *out);
void gc_free(gc_suite *s);

typedef enum gc_outcome { GC_PASS, GC_FAIL, GC_SKIP } gc_outcome;

typedef struct gc_options {
    const char *devices; /* device spec for the session ("cpu", "opencl:0", ...) */
    /* Count a case as skipped, not failed, when the devices cannot run its op
     * (HCG_ERR_UNSUPPORTED): for backends that implement a subset of the ops. */
    bool skip_unsupported;
    /* Also pin the node to this device (NULL: let the scheduler place it). */
    const char *pin;
} gc_options;

/* Default tolerances for an output dtype: f32 rtol 1e-5 / atol 1e-6, everything else exact. */
void gc_default_tolerance(hcg_dtype dt, double *rtol, double *atol);

/* Runs one case: builds the graph (inputs x0, x1, ... with the .npy files' dtypes and shapes, one
 * node with the case's attributes, output y), runs it on opt->devices and compares with the
 * reference (tl_tensor_close, so the result is also recorded as a check), or for an error case
 * checks that building/binding/running fails with the expected status and message. */
gc_outcome gc_run(const gc_suite *s, const gc_case *c, const gc_options *opt);

/* Builds case c's graph (for callers that want to run it their own way). *inputs receives
 * c->n_inputs loaded tensors (free with gc_free_tensors). Returns HCG_OK or the builder's error.
 * A case with states has 1 + n_states outputs and must be run with gc_session_run. */
hcg_status gc_build(const gc_suite *s, const gc_case *c, hcg_graph **g, hcg_tensor ***inputs);
void gc_free_tensors(hcg_tensor **t, int n);
/* Runs case c's graph in session s: sets the states' starting values, passes the other inputs,
 * and fills outputs[0] (y) and outputs[1 + k] (state k after the run). */
hcg_status gc_session_run(const gc_case *c, hcg_session *s, hcg_tensor **inputs, hcg_tensor **outputs);
/* One JSON attribute as an hcg_attr of the kind op's schema gives it; *storage (free it) holds a
 * list's values. False if the JSON does not fit. */
bool gc_convert_attr(hcg_op op, const cJSON *j, hcg_attr *a, void **storage);

#endif
