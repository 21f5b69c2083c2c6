/* rank_split.c — a bound graph split between the ranks of an MPI job: nodes pinned to
 * "rankN:DEVICE" run on rank N (on its DEVICE), each rank keeps its own part, and every tensor one
 * rank computes and another reads crosses by a send on the first and a recv on the second (the ops
 * of backend/cpu/cpu_dist.c). Every rank binds the same graph with the same inputs, so every rank
 * computes the same split and the messages match by tag without talking about it.
 *
 * Where a node runs: its pin's rank; else the rank of its inputs when they all come from one rank;
 * else rank 0 (sources — inputs, params, constants — are on every rank). The graph's outputs are
 * delivered to every rank. A state tensor lives on one rank: every node that reads it must be
 * there (no model parallel training across ranks). */
#include "graph/rank_split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/bind.h"
#include "graph/op_table.h"

/* "rankN:REST" -> N and the offset of REST; -1 if the pin names no rank. */
static int pin_rank(const char *pin, size_t *rest)
{
    if (!pin || strncmp(pin, "rank", 4) != 0) return -1;
    char *end;
    long r = strtol(pin + 4, &end, 10);
    if (end == pin + 4 || *end != ':' || r < 0 || r > 1 << 20) return -2;
    *rest = (size_t)(end + 1 - pin);
    return (int)r;
}

bool hcg_graph_names_ranks(const hcg_graph *g)
{
    size_t rest;
    for (hcg_id id = 0; id < g->n_nodes; id++)
        if (pin_rank(g->nodes[id].pin, &rest) != -1) return true;
    return false;
}

static bool is_source(const hcg_node *n) { return (hcg_op_info_get(n->op)->flags & HCG_OPF_SOURCE) != 0; }

/* Where every node runs (-1: a source, on every rank); checks the pins and the states. */
static hcg_status assign_ranks(const hcg_graph *b, int ranks, int *where)
{
    int *state_rank = malloc(sizeof(int) * ((size_t)b->n_nodes + 1));
    if (!state_rank) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    hcg_status st = HCG_OK;
    /* a state lives on the rank of the pinned nodes that read it, else on rank 0 */
    for (hcg_id id = 0; id < b->n_nodes; id++) state_rank[id] = 0;
    for (hcg_id id = 0; id < b->n_nodes; id++) {
        const hcg_node *n = &b->nodes[id];
        size_t rest;
        int r = pin_rank(n->pin, &rest);
        for (int i = 0; i < n->n_inputs && r >= 0 && !is_source(n); i++)
            if (b->nodes[n->inputs[i]].op == HCG_OP_STATE) state_rank[n->inputs[i]] = r;
    }
    for (hcg_id id = 0; id < b->n_nodes && !st; id++) {
        const hcg_node *n = &b->nodes[id];
        if (is_source(n)) {
            where[id] = -1;
            continue;
        }
        size_t rest;
        int r = pin_rank(n->pin, &rest);
        if (r == -2) {
            st = hcg_node_error(b, n, HCG_ERR_ARG, "pinned to '%s': a rank is named rankN:DEVICE", n->pin);
            break;
        }
        if (r >= ranks) {
            st = hcg_node_error(b, n, HCG_ERR_ARG, "pinned to '%s', but the job has %d rank%s (start it with mpirun -np %d)",
                                n->pin, ranks, ranks == 1 ? "" : "s", r + 1);
            break;
        }
        for (int i = 0; i < n->n_inputs && r < 0; i++) /* where the states it reads live */
            if (b->nodes[n->inputs[i]].op == HCG_OP_STATE) r = state_rank[n->inputs[i]];
        if (r < 0) { /* its inputs' rank, when they agree */
            for (int i = 0; i < n->n_inputs; i++) {
                int q = where[n->inputs[i]];
                if (q < 0) continue;
                r = r < 0 || r == q ? q : 0;
            }
            if (r < 0) r = 0;
        }
        where[id] = r;
        for (int i = 0; i < n->n_inputs; i++) {
            const hcg_node *in = &b->nodes[n->inputs[i]];
            if (in->op == HCG_OP_STATE && state_rank[n->inputs[i]] != r)
                st = hcg_node_error(b, n, HCG_ERR_UNSUPPORTED,
                                    "reads state '%s' on rank %d, but it lives on rank %d: a state lives on one rank "
                                    "(hcg does not train one model across ranks)",
                                    in->name, r, state_rank[n->inputs[i]]);
        }
    }
    free(state_rank);
    return st;
}

hcg_status hcg_graph_split_ranks(hcg_graph *b, int me, int ranks)
{
    int n = b->n_nodes;
    int *where = malloc(sizeof(int) * ((size_t)n + 1)), *tag = malloc(sizeof(int) * ((size_t)n + 1));
    /* dest[id * ranks + q]: node id's value must reach rank q */
    bool *dest = calloc((size_t)n * (size_t)ranks + 1, sizeof(bool)), *drop = calloc((size_t)n + 1, sizeof(bool));
    hcg_status st = where && tag && dest && drop ? assign_ranks(b, ranks, where) : hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (hcg_id v = 0; v < n && !st; v++) {
        const hcg_node *nv = &b->nodes[v];
        for (int i = 0; i < nv->n_inputs && where[v] >= 0; i++) {
            hcg_id u = nv->inputs[i];
            if (where[u] >= 0 && where[u] != where[v]) dest[(size_t)u * ranks + where[v]] = true;
        }
    }
    for (int j = 0; j < b->n_outputs && !st; j++) /* outputs reach every rank */
        for (int q = 0; q < ranks; q++)
            if (where[b->outputs[j]] >= 0 && q != where[b->outputs[j]]) dest[(size_t)b->outputs[j] * ranks + q] = true;
    int n_tags = 0;
    for (hcg_id u = 0; u < n && !st; u++) {
        tag[u] = -1;
        for (int q = 0; q < ranks && tag[u] < 0; q++)
            if (dest[(size_t)u * ranks + q]) tag[u] = n_tags++;
    }
    if (!st && n_tags > 32767) st = hcg_error(HCG_ERR_UNSUPPORTED, "%d tensors cross between ranks: at most 32768", n_tags);
    for (hcg_id u = 0; u < n && !st; u++) {
        hcg_node *nu = &b->nodes[u];
        size_t at;
        int pr = pin_rank(nu->pin, &at);
        if (where[u] < 0 && pr >= 0) { /* a source is on every rank: only its own keeps the pin */
            char *local = pr == me ? hcg_strdup(nu->pin + at) : NULL;
            free(nu->pin);
            nu->pin = local;
        }
        if (where[u] < 0) continue;
        if (where[u] == me) {
            size_t rest;
            if (pin_rank(nu->pin, &rest) >= 0) { /* the device on this rank */
                char *local = hcg_strdup(nu->pin + rest);
                if (!local) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
                free(nu->pin);
                nu->pin = local;
            }
            for (int q = 0; q < ranks && !st; q++) {
                if (!dest[(size_t)u * ranks + q]) continue;
                char name[512];
                snprintf(name, sizeof name, "%s/send_to_rank%d", b->nodes[u].name, q);
                hcg_attr a[2] = {HCG_ATTR_I("to", q), HCG_ATTR_I("tag", tag[u])};
                hcg_id s = hcg_graph_add_node(b, HCG_OP_SEND, name, &u, 1, a, 2);
                if (s < 0) st = (hcg_status)-s;
                else st = hcg_op_info_get(HCG_OP_SEND)->infer(b, &b->nodes[s]);
            }
        } else if (dest[(size_t)u * ranks + me]) { /* computed elsewhere, needed here: received */
            hcg_attr a[4] = {HCG_ATTR_I("from", where[u]), HCG_ATTR_I("tag", tag[u]),
                             HCG_ATTR_S("dtype", hcg_dtype_name(nu->dtype)), HCG_ATTR_IS("shape", nu->shape.dims, nu->shape.rank)};
            st = hcg_node_retarget(b, nu, HCG_OP_RECV, NULL, 0, a, 4);
            free(nu->pin);
            nu->pin = NULL;
            free(nu->after);
            nu->after = NULL;
            nu->n_after = 0;
        } else {
            drop[u] = true; /* another rank's */
        }
    }
    if (!st) { /* the sends added since are this rank's */
        bool *grown = realloc(drop, sizeof(bool) * ((size_t)b->n_nodes + 1));
        if (!grown) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        else {
            drop = grown;
            memset(drop + n, 0, sizeof(bool) * (size_t)(b->n_nodes - n + 1));
        }
    }
    if (!st) st = hcg_graph_prune_dropping(b, drop);
    free(where);
    free(tag);
    free(dest);
    free(drop);
    return st;
}
