/* passes.h — graph rewrites after binding: the pass list, what every pass shares (use counts,
 * single consumers, constant checks, the in-place rewrite of a pattern's last node), and running
 * a list of passes on a bound graph. Each pass lives in its own small function, tested alone
 * (tests/test_passes.c); the fused ops they make are in the op table like any other op. */
#ifndef HCG_PASSES_H
#define HCG_PASSES_H

#include "graph/graph.h"
#include "graph/weight_cache.h"

typedef struct hcg_pass_ctx {
    hcg_graph *g;
    int *uses;      /* per node: how many inputs of live nodes name it, + 1 if it is a graph output */
    hcg_id *single; /* per node: its one consumer when uses == 1 and it is not an output, else -1 */
    int cap;        /* entries uses and single have room for */
    int rewrites;   /* rewrites made by the pass running now */
    bool appended;  /* a pass added nodes (at the end): the graph is sorted again afterwards */
    bool weights_fixed; /* params keep their values (inference): passes may store them otherwise */
    hcg_weight_cache *weight_cache; /* where weights stored otherwise are kept across binds (may be NULL) */
} hcg_pass_ctx;

typedef hcg_status (*hcg_pass_fn)(hcg_pass_ctx *c);

typedef struct hcg_pass {
    const char *name;
    hcg_pass_fn run;
    const char *doc;
} hcg_pass;

/* The pass list, in the order passes run. */
const hcg_pass *hcg_pass_list(int *n);

/* Runs the passes named by spec on bound graph g: NULL, "" or "all" every pass; "none" none; else
 * a comma list of pass names (unknown names are an error that lists the known ones). Dead nodes
 * are left for the caller to drop. Notes of what was fused go to g->notes. weights_fixed: the
 * params' values are those the graph holds (not bound with params_variable, as training is).
 * weight_cache (may be NULL): weights the passes store otherwise (transposed) are kept there and
 * borrowed by g, so graphs bound with the same cache share them. */
hcg_status hcg_run_passes(hcg_graph *g, const char *spec, bool weights_fixed, hcg_weight_cache *weight_cache);

/* ---------------------------------------------------------------- helpers for passes */

static inline hcg_node *hcg_pnode(const hcg_pass_ctx *c, hcg_id id) { return &c->g->nodes[id]; }
/* Whether id is op and live. */
bool hcg_pass_is(const hcg_pass_ctx *c, hcg_id id, hcg_op op);
/* Whether id's only use is one consumer (not a graph output). */
bool hcg_pass_single_use(const hcg_pass_ctx *c, hcg_id id);
/* The value of a one-element constant (param, constant or folded node), as double. */
bool hcg_pass_scalar(const hcg_pass_ctx *c, hcg_id id, double *v);
/* Whether the scalar constant id is within 1e-6 (relative) of want. */
bool hcg_pass_scalar_is(const hcg_pass_ctx *c, hcg_id id, double want);
/* Whether id is an f32 constant of n elements whose dims are all 1 but the last. */
bool hcg_pass_const_vector(const hcg_pass_ctx *c, hcg_id id, int64_t n);
/* Adds a node op(inputs, attrs) at the end of the graph (a name made up from hint), infers its
 * type, and counts its uses of its inputs; returns its id or a negative status. The pattern's root,
 * rewritten after, makes it live. Nodes added this way may be read by nodes before them: the
 * runner sorts the graph again (hcg_graph_toposort) once the passes are done. */
hcg_id hcg_pass_append(hcg_pass_ctx *c, hcg_op op, const char *hint, const hcg_id *inputs, int n_inputs,
                       const hcg_attr *attrs, int n_attrs);
/* Adds a constant holding value (the graph owns it from here, also on failure), named from hint;
 * returns its id or a negative status. */
hcg_id hcg_pass_add_constant(hcg_pass_ctx *c, const char *hint, hcg_tensor *value);
/* A product's attributes (matmul, fused_matmul, quant_matmul) as fused_matmul's: transpose_a,
 * transpose_b, alpha, activation (matmul: alpha 1, none), then quant_matmul's block_size and
 * activations; returns how many (4 or 6). */
int hcg_pass_product_attrs(const hcg_pass_ctx *c, hcg_id id, hcg_attr at[6]);
/* Rewrites node root into op(inputs, attrs) in place, keeping use counts right; notes line. */
hcg_status hcg_pass_rewrite(hcg_pass_ctx *c, hcg_id root, hcg_op op, const hcg_id *inputs, int n_inputs,
                            const hcg_attr *attrs, int n_attrs, const char *what);

/* The passes (graph/pass_*.c). */
hcg_status hcg_pass_layer_norm(hcg_pass_ctx *c);
hcg_status hcg_pass_gelu(hcg_pass_ctx *c);
hcg_status hcg_pass_transpose_matmul(hcg_pass_ctx *c);
hcg_status hcg_pass_attention(hcg_pass_ctx *c);
hcg_status hcg_pass_matmul_scale(hcg_pass_ctx *c);
hcg_status hcg_pass_matmul_bias(hcg_pass_ctx *c);
hcg_status hcg_pass_matmul_activation(hcg_pass_ctx *c);
hcg_status hcg_pass_dequantize_matmul(hcg_pass_ctx *c); /* graph/pass_quant.c */
hcg_status hcg_pass_dequantize_gather(hcg_pass_ctx *c);
hcg_status hcg_pass_transpose_weights(hcg_pass_ctx *c); /* graph/pass_weights.c */

#endif
