/* compose.h — importing one graph into another under a name prefix (graph/compose.c), the
 * building block of ensembles and distillation (graph/workloads.c). */
#ifndef HCG_COMPOSE_H
#define HCG_COMPOSE_H

#include "graph/graph.h"

typedef struct hcg_import {
    const char *what;         /* the source, for messages ("member 2 (b.onnx)") */
    const char *prefix;       /* prepended to every imported node's name */
    /* NULL: the source's inputs are the target's inputs of the same name (added when missing,
     * else they must agree in dtype and shape); else inputs of their own under this prefix */
    const char *input_prefix;
    bool params_as_constants; /* frozen: the source's params become constants */
    /* >= 0: import only what src's output `only_output` needs (its inputs included); the other
     * outputs' ids are -1. Set it to -1 (or use HCG_IMPORT_ALL) to import everything. */
    int only_output;
    /* (optional) Imports a source node (param, constant, state) its own way: returns the id in dst
     * that stands for it (named name), a negative status, or HCG_IMPORT_DEFAULT to copy it as usual.
     * `hcg quantize` replaces weights by their small form and the node that widens it. */
    hcg_id (*source)(void *ctx, hcg_graph *dst, const hcg_node *n, const char *name);
    void *source_ctx;
} hcg_import;

#define HCG_IMPORT_DEFAULT INT32_MIN

#define HCG_IMPORT_ALL (-1)

/* Copies every node of src into dst (values cloned, attributes with symbols mapped) and stores in
 * outputs[k] the id in dst of src's output k. */
hcg_status hcg_graph_import(hcg_graph *dst, const hcg_graph *src, const hcg_import *o, hcg_id *outputs);

#endif
