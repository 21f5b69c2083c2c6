/* bind.h — binding a graph to concrete input shapes: symbols resolved, shapes inferred,
 * attribute inputs folded into attributes, constant subgraphs folded, dead nodes removed. */
#ifndef HCG_BIND_H
#define HCG_BIND_H

#include "graph/graph.h"
#include "graph/weight_cache.h"

/* Evaluates node n of a bound graph whose inputs all have values (or whose op needs only their
 * shapes); *out is a new tensor. The CPU backend provides it (hcg_cpu_eval). */
typedef hcg_status (*hcg_eval_fn)(const hcg_graph *g, const hcg_node *n, hcg_tensor **out);

typedef struct hcg_bind_options {
    hcg_eval_fn eval; /* NULL: no folding (then attribute inputs must be constants already) */
    /* Fold a node only if its output is at most this many bytes larger than its inputs, so that
     * expanding a scalar into a large mask stays a kernel (0: a default of 1 MiB). */
    size_t fold_growth_limit;
    /* Params are variables, not constants: nothing that reads one is folded, so every use of a
     * param stays a node the autodiff pass can differentiate (training). */
    bool params_variable;
    /* Rewrite passes to run on the bound graph (graph/passes.h): NULL none, "all", "none" or a
     * comma list of pass names. */
    const char *passes;
    /* Where the passes keep weights they store otherwise (transposed) so that every graph bound
     * with this cache shares them (a session's plans); NULL: each bound graph owns its own. */
    hcg_weight_cache *weight_cache;
} hcg_bind_options;

/* Binds g to input shapes (one per graph input, in input order). The bound graph borrows the
 * values of g's params and constants: g must outlive it. */
hcg_status hcg_graph_bind(const hcg_graph *g, const hcg_shape *input_shapes, const hcg_bind_options *opt,
                          hcg_graph **out);

/* Removes the nodes of a bound graph that no output, input or in-place update needs, renumbering
 * the rest (origin, names and control dependencies follow). */
hcg_status hcg_graph_prune(hcg_graph *b);
/* The same, where nodes with drop[id] set are not kept for their effects (another rank runs them). */
hcg_status hcg_graph_prune_dropping(hcg_graph *b, const bool *drop);

/* Puts the nodes of a bound graph in an order where every node comes after its inputs (and its
 * control dependencies), keeping the order nodes already have wherever it is one: a node a pass
 * added at the end moves to just before its first reader. Ids are renumbered as by prune. */
hcg_status hcg_graph_toposort(hcg_graph *b);

/* Binds with trial values for every symbol, to report shape errors early (used by `hcg plan`
 * without --shape, and by loaders that want to validate). */
hcg_status hcg_graph_check(const hcg_graph *g, const hcg_bind_options *opt);

/* hcg_graph_input_shapes (the concrete input shapes with each symbol set from a name=value list)
 * is public: hcg.h. */

#endif
