/* autodiff.h — reverse-mode automatic differentiation on a bound graph: a pass that appends the
 * nodes computing the gradient of a scalar loss with respect to chosen nodes (the trainable
 * parameters), and the builder helpers the gradient rules (graph/op_grad.c) use. */
#ifndef HCG_AUTODIFF_H
#define HCG_AUTODIFF_H

#include "graph/op_rules.h"

/* Appends to bound graph g the gradient of node `loss` (a scalar f32) with respect to each of
 * wrt[0..n_wrt): grads[k] receives the node holding d loss / d wrt[k], or -1 when the loss does
 * not depend on it. Gradients flow through floating-point nodes only; a node on the way that has
 * no gradient rule is an error naming it, its op and its file position. */
hcg_status hcg_autodiff(hcg_graph *g, hcg_id loss, const hcg_id *wrt, int n_wrt, hcg_id *grads);

/* ---------------------------------------------------------------- helpers for gradient rules
 *
 * Every helper adds a node to the bound graph and infers its type at once. A helper given a
 * negative id returns it unchanged (an earlier call failed; the message stands), so a rule checks
 * only its final ids. Node pointers move when nodes are added: rules keep ids, not pointers. */

/* A builder context: the graph, and the node the new nodes are named after ("<name>/d<k>") and
 * take their file position from. Passes may make one on the stack. */
struct hcg_grad_ctx {
    hcg_graph *g;
    hcg_id fwd;
    int counter;
};

hcg_graph *hcg_grad_graph(hcg_grad_ctx *c);
/* Any op: inputs, attributes. */
hcg_id hcg_grad_op(hcg_grad_ctx *c, hcg_op op, const hcg_id *in, int n_in, const hcg_attr *attrs, int n_attrs);
hcg_id hcg_grad_op1(hcg_grad_ctx *c, hcg_op op, hcg_id a);
hcg_id hcg_grad_op2(hcg_grad_ctx *c, hcg_op op, hcg_id a, hcg_id b);
/* An f32 constant: a scalar, or a tensor of a node's shape filled with v. */
hcg_id hcg_grad_scalar(hcg_grad_ctx *c, double v);
/* x reshaped (a view). */
hcg_id hcg_grad_reshape(hcg_grad_ctx *c, hcg_id x, const hcg_shape *shape);
/* A gradient of a broadcast result summed back to the shape of the operand that was broadcast. */
hcg_id hcg_grad_sum_to(hcg_grad_ctx *c, hcg_id x, const hcg_shape *shape);
/* Sums x over its leading dims [0, axis), giving shape dims[axis:] reshaped to `shape`. */
hcg_id hcg_grad_sum_leading(hcg_grad_ctx *c, hcg_id x, int axis, const hcg_shape *shape);
/* where(cond, a, 0) and where(cond, 0, a). */
hcg_id hcg_grad_mask(hcg_grad_ctx *c, hcg_id cond, hcg_id a, bool keep_where_true);

#endif
