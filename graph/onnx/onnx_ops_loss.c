/* onnx_ops_loss.c — mappers for ONNX's training losses: SoftmaxCrossEntropyLoss (with its
 * optional log_prob output) and NegativeLogLikelihoodLoss onto hcg's softmax_cross_entropy and
 * nll_loss (class axis 1, ignore_index, reduction mean/sum/none). Per-class weights are not
 * supported and say so. */
#include <stdio.h>
#include <string.h>

#include "graph/onnx/onnx_internal.h"
#include "graph/op_rules.h"

hcg_status onnx_map_class_loss(onnx_ctx *c, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"ignore_index", "reduction", NULL};
    bool sce = c->op->op == HCG_OP_SOFTMAX_CROSS_ENTROPY;
    const onnx_value *x, *t;
    char reduction[16];
    int64_t ignore;
    hcg_status st;
    int k = onnx_num_inputs(n);
    if (k < 2 || k > 3 || n->n_output < 1 || n->n_output > (sce ? 2 : 1) || !onnx_output(n, 0))
        return onnx_node_fail(c, HCG_ERR_FORMAT, "takes 2 or 3 inputs and gives %s", sce ? "1 or 2 outputs" : "1 output");
    if (onnx_has_input(n, 2))
        return onnx_node_fail(c, HCG_ERR_UNSUPPORTED, "per-class weights (input 2) are not supported by hcg");
    if ((st = onnx_check_attrs(c, known)) || (st = onnx_input(c, 0, &x)) || (st = onnx_input(c, 1, &t)) ||
        (st = onnx_want_computable(c, 0, x, ONNX_M_F32)) || (st = onnx_want_dtype(c, 1, t, ONNX_M_INT)) ||
        (st = onnx_attr_int(c, "ignore_index", HCG_NO_IGNORE_INDEX, &ignore)) ||
        (st = onnx_attr_string(c, "reduction", "mean", reduction, sizeof reduction)))
        return st;
    if (strcmp(reduction, "mean") != 0 && strcmp(reduction, "sum") != 0 && strcmp(reduction, "none") != 0)
        return onnx_node_fail(c, HCG_ERR_FORMAT, "reduction must be mean, sum or none, not '%s'", reduction);
    hcg_id in[2] = {onnx_compute_in(c, x), t->id};
    hcg_attr at[3] = {HCG_ATTR_I("axis", 1), HCG_ATTR_I("ignore_index", ignore), HCG_ATTR_S("reduction", reduction)};
    hcg_id id = onnx_emit_out(c, c->op->op, n->output[0], x->dtype, in, 2, at, 3);
    if ((st = onnx_define(c, n->output[0], id, x->dtype))) return st;
    const char *log_prob = sce ? onnx_output(n, 1) : NULL;
    if (!log_prob) return HCG_OK;
    hcg_attr axis = HCG_ATTR_I("axis", 1);
    hcg_id lp = onnx_emit_out(c, HCG_OP_LOG_SOFTMAX, log_prob, x->dtype, in, 1, &axis, 1);
    return onnx_define(c, log_prob, lp, x->dtype);
}
