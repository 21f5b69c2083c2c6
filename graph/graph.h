/* graph.h — the internal IR: nodes, attributes, graphs, and the helpers every module uses to
 * build, inspect and report errors about them. A graph is a list of nodes in topological order;
 * a node's id is its index and its single output is named by that id. */
#ifndef HCG_GRAPH_H
#define HCG_GRAPH_H

#include "hcg/hcg.h"
#include "graph/compiler.h"
#include "graph/strmap.h"

#define HCG_MAX_ATTRS 8

/* An attribute's value inside a node, stored in the slot its op's schema gives it. */
typedef struct hcg_attr_value {
    hcg_attr_kind kind; /* HCG_ATTR_NONE: not set and no default */
    bool set;           /* given explicitly (false: the schema default) */
    int64_t i;
    double f;
    int n;
    int64_t *ints;
    double *floats;
    char *s;
} hcg_attr_value;

typedef struct hcg_node {
    hcg_op op;
    char *name;
    int n_inputs;
    hcg_id *inputs;
    hcg_attr_value attrs[HCG_MAX_ATTRS]; /* by slot, see hcg_op_info.attrs */
    /* Output type. Input nodes: as declared (dims may be symbols). Other nodes: set by shape
     * inference in a bound graph; unknown (rank -1) in an unbound one. */
    hcg_dtype dtype;
    hcg_shape shape;
    /* Constants, params and (in bound graphs) folded nodes: the data. */
    hcg_tensor *value;
    bool value_owned;  /* free value with the graph */
    char *pin;         /* device name the node is pinned to, or NULL */
    char *weight_key;  /* params: the tensor's name in its weights file */
    char *weight_file; /* params: the weights file as written in the graph file */
    int line, col;     /* where the node was defined in a text file (0 if not) */
    /* Bound graphs: nodes that must finish before this one starts although it does not read
     * their outputs (it overwrites a state tensor they read: see the op table's inplace_inputs). */
    hcg_id *after;
    int n_after;
} hcg_node;

struct hcg_graph {
    hcg_node *nodes;
    int n_nodes, cap_nodes;
    hcg_id *inputs; /* input nodes in declaration order */
    int n_inputs, cap_inputs;
    hcg_id *outputs;
    char **output_names;
    int n_outputs, cap_outputs;
    char **syms; /* symbolic dim names, by id */
    int n_syms, cap_syms;
    hcg_strmap names; /* node name -> id */
    /* Resources the graph keeps alive (mapped weight files), released with it. */
    void **resources;
    void (**resource_free)(void *);
    int n_resources, cap_resources;
    char *path;     /* the file the graph came from, or NULL */
    int auto_names; /* counter for made-up node names */
    /* Bound graphs: the node each node came from in the unbound graph (-1 if made by a pass). */
    hcg_id *origin;
    /* Bound graphs: what the rewrite passes did, one line each (`hcg run --explain` prints them). */
    char **notes;
    int n_notes, cap_notes;
};

/* ---------------------------------------------------------------- errors */

/* The longest error message kept (longer ones are cut): room for several paths of PATH_MAX. */
#define HCG_ERROR_LEN 16384

/* hcg_error (sets the thread's message and returns code) and hcg_error_prefix (prepends context
 * such as "model.hcg:3:5: ") are public: hcg.h. */
/* An error about a node: "node 'name' (op): message", with the node's file position if known. */
hcg_status hcg_node_error(const hcg_graph *g, const hcg_node *n, hcg_status code, const char *fmt,
                          ...) HCG_PRINTF(4, 5);

/* ---------------------------------------------------------------- nodes and attributes */

static inline hcg_node *hcg_graph_node(const hcg_graph *g, hcg_id id) { return &g->nodes[id]; }
static inline hcg_node *hcg_input_node(const hcg_graph *g, const hcg_node *n, int i)
{
    return &g->nodes[n->inputs[i]];
}

/* Attribute access by name (defaults applied). Asking for a name the op's schema lacks is a bug in
 * hcg: it returns the zero value, prints "hcg: internal error: ..." once and is counted, and every
 * test fails when its process made one (tl_finish asks hcg_attr_misuses). */
const hcg_attr_value *hcg_attr_get(const hcg_node *n, const char *name);
/* How many lookups named an attribute their op lacks; first (may be NULL) gets the first one. */
int hcg_attr_misuses(char *first, size_t n);
int64_t hcg_attr_int(const hcg_node *n, const char *name);
double hcg_attr_float(const hcg_node *n, const char *name);
const int64_t *hcg_attr_ints(const hcg_node *n, const char *name, int *count);
const char *hcg_attr_string(const hcg_node *n, const char *name);
/* Sets an attribute on a node (used by passes and readers); checks the schema's kind. */
hcg_status hcg_node_set_attr(const hcg_graph *g, hcg_node *n, const hcg_attr *a);

/* Resolves a possibly negative axis against rank; false if out of range. */
bool hcg_norm_axis(int64_t axis, int rank, int *out);

/* Size in bytes of a node's output in a bound graph. */
size_t hcg_node_nbytes(const hcg_node *n);

/* Formats a shape, naming symbols ("[B, S, 64]"). */
void hcg_graph_format_shape(const hcg_graph *g, const hcg_shape *s, char *buf, size_t n);
/* "f32[2, 3]" */
void hcg_format_type(const hcg_graph *g, hcg_dtype t, const hcg_shape *s, char *buf, size_t n);

/* Adds a node without schema checks other than arity and attribute names; for readers and passes
 * that have checked already. Returns the id or negative. */
hcg_id hcg_graph_add_node(hcg_graph *g, hcg_op op, const char *name, const hcg_id *inputs,
                          int n_inputs, const hcg_attr *attrs, int n_attrs);
/* Appends a copy of node src (from another graph) to g: op, name, attributes, pin, weight
 * reference, declared dtype and shape, position; inputs mapped through remap (src's graph id ->
 * g's). The value is not copied (the caller decides: borrow or own). Returns the id or negative. */
hcg_id hcg_graph_copy_node(hcg_graph *g, const hcg_node *src, const hcg_id *remap);
/* Releases what a node owns (name, inputs, attributes, owned value, pin, ...); the node's memory
 * itself belongs to the graph. */
void hcg_node_clear(hcg_node *n);
/* Turns node n into another op in place (a rewrite pass's fused op): new inputs, the op's default
 * attributes, then attrs. Its name, dtype, shape and position stay. */
hcg_status hcg_node_retarget(hcg_graph *g, hcg_node *n, hcg_op op, const hcg_id *inputs, int n_inputs,
                             const hcg_attr *attrs, int n_attrs);
/* Appends a line to g->notes. */
hcg_status hcg_graph_note(hcg_graph *g, const char *fmt, ...) HCG_PRINTF(2, 3);
/* Keeps a resource alive until the graph is freed. */
hcg_status hcg_graph_keep(hcg_graph *g, void *resource, void (*release)(void *));

/* A heap copy of s (NULL for NULL, or when out of memory). */
char *hcg_strdup(const char *s);

/* Deep-copies attribute values (used when passes copy nodes). */
hcg_status hcg_attr_value_copy(hcg_attr_value *dst, const hcg_attr_value *src);
void hcg_attr_value_clear(hcg_attr_value *v);

#endif
