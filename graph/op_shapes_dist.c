/* op_shapes_dist.c — shape and cost rules of the ops that talk to other ranks of an MPI job
 * (backend/dist/): allreduce_start packs gradients for a sum over the ranks, allreduce_wait takes
 * one of them back as the mean, send and recv move a tensor between the parts of a graph split
 * across ranks. The op table (op_table.c) points here; the kernels are in backend/cpu/cpu_dist.c. */
#include <stdio.h>
#include <string.h>

#include "graph/op_rules.h"

#define IN(i) (&g->nodes[n->inputs[(i)]])

static hcg_status rank_attr(const hcg_graph *g, hcg_node *n, const char *name)
{
    int64_t r = hcg_attr_int(n, name);
    if (r < 0 || r > INT32_MAX) return hcg_node_error(g, n, HCG_ERR_ARG, "%s = %lld is not a rank", name, (long long)r);
    int64_t tag = hcg_attr_int(n, "tag");
    if (tag < 0 || tag > 32767) /* MPI promises tags up to 32767 */
        return hcg_node_error(g, n, HCG_ERR_ARG, "tag = %lld is outside [0, 32767]", (long long)tag);
    return HCG_OK;
}

hcg_status hcg_infer_allreduce_start(const hcg_graph *g, hcg_node *n)
{
    int64_t total = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        hcg_status st = hcg_rule_want_dtype(g, n, i, HCG_M_F32);
        int64_t k;
        if (st) return st;
        if (!hcg_shape_numel(&IN(i)->shape, &k) || k > INT64_MAX - total)
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "the packed gradients overflow");
        total += k;
    }
    n->dtype = HCG_F32;
    n->shape = hcg_shape_make(1, &total);
    return HCG_OK;
}

hcg_status hcg_infer_allreduce_wait(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = hcg_rule_want_dtype(g, n, 0, HCG_M_F32);
    hcg_shape s;
    if (st || (st = hcg_rule_shape_attr(g, n, &s))) return st;
    if (IN(0)->op != HCG_OP_ALLREDUCE_START)
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "input '%s' must be an allreduce_start node", IN(0)->name);
    int64_t numel = 0, offset = hcg_attr_int(n, "offset"), packed = IN(0)->shape.dims[0];
    hcg_shape_numel(&s, &numel);
    if (offset < 0 || offset > packed || numel > packed - offset)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "elements [%lld, %lld) are outside the %lld packed ones",
                              (long long)offset, (long long)(offset + numel), (long long)packed);
    n->dtype = HCG_F32;
    n->shape = s;
    return HCG_OK;
}

hcg_status hcg_infer_send(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = rank_attr(g, n, "to");
    if (st) return st;
    n->dtype = HCG_F32;
    memset(&n->shape, 0, sizeof n->shape);
    return HCG_OK;
}

hcg_status hcg_infer_recv(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = rank_attr(g, n, "from");
    hcg_shape s;
    hcg_dtype dt;
    if (st || (st = hcg_rule_shape_attr(g, n, &s))) return st;
    if (!hcg_dtype_parse(hcg_attr_string(n, "dtype"), &dt))
        return hcg_node_error(g, n, HCG_ERR_ARG, "dtype '%s' is not a dtype", hcg_attr_string(n, "dtype"));
    n->dtype = dt;
    n->shape = s;
    return HCG_OK;
}

/* Moving bytes, not computing: the packing copy, or a message's bytes through host memory. */
void hcg_cost_dist(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    *flops = 0;
    *bytes = n->op == HCG_OP_SEND ? 2.0 * (double)hcg_node_nbytes(IN(0)) : 2.0 * (double)hcg_node_nbytes(n);
}
