/* cpu_train.c — the CPU kernels of the losses (softmax_cross_entropy, nll_loss, kl_div,
 * mse_loss) and of the optimizer updates (sgd_update, adam_update), which write their state
 * inputs (the parameter, momentum, Adam's moments) in place. Losses sum in double. The updates
 * follow PyTorch's single-tensor SGD and Adam/AdamW step by step in float, with the step's scalars
 * (step size, bias correction) computed in double on the host as PyTorch computes them in Python.
 * assign copies a value into a state tensor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "graph/op_rules.h"

/* ---------------------------------------------------------------- class losses */

static int64_t target_at(const hcg_dev_tensor *t, int64_t i)
{
    const void *p = hcg_dev_tensor_ptr(t);
    return t->dtype == HCG_I32 ? ((const int32_t *)p)[i] : ((const int64_t *)p)[i];
}

/* log_softmax of one row of C values `st` apart into lp (double). */
static void row_log_softmax(const float *x, int64_t C, int64_t st, double *lp)
{
    double mx = x[0];
    bool nan = false;
    for (int64_t c = 0; c < C; c++) {
        nan |= isnan(x[c * st]);
        if (x[c * st] > mx) mx = x[c * st];
    }
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += exp(x[c * st] - mx);
    double lse = log(s);
    for (int64_t c = 0; c < C; c++) lp[c] = nan ? NAN : (x[c * st] - mx) - lse;
}

hcg_status hcg_k_class_loss(hcg_exec_node *en)
{
    const hcg_node *n = en->node;
    bool sce = n->op == HCG_OP_SOFTMAX_CROSS_ENTROPY;
    const hcg_dev_tensor *X = &en->in[0], *T = &en->in[1];
    int axis;
    hcg_norm_axis(hcg_attr_int(n, "axis"), X->shape.rank, &axis);
    int64_t C = X->shape.dims[axis], outer = hcg_dims_prod(&X->shape, 0, axis);
    int64_t inner = hcg_dims_prod(&X->shape, axis + 1, X->shape.rank), ignore = hcg_attr_int(n, "ignore_index");
    double ls = sce ? hcg_attr_float(n, "label_smoothing") : 0;
    bool probs = T->dtype == HCG_F32;
    hcg_reduction red = hcg_loss_reduction(n);
    const float *x = hcg_dev_tensor_ptr(X), *tp = probs ? hcg_dev_tensor_ptr(T) : NULL;
    float *o = hcg_dev_tensor_ptr(&en->out);
    double *lp = malloc(sizeof(double) * (size_t)(C + 1));
    if (!lp) return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory");
    double total = 0, counted = 0;
    for (int64_t p = 0; p < outer; p++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t row = p * inner + i, base = p * C * inner + i;
            double loss = 0;
            if (probs) {
                row_log_softmax(x + base, C, inner, lp);
                for (int64_t c = 0; c < C; c++) {
                    double t = tp[base + c * inner] * (1 - ls) + ls / (double)C;
                    loss -= t * lp[c];
                }
                counted += 1;
            } else {
                int64_t t = target_at(T, row);
                if (ignore != HCG_NO_IGNORE_INDEX && t == ignore) {
                    if (red == HCG_REDUCE_NONE) o[row] = 0;
                    continue;
                }
                if (t < 0 || t >= C) {
                    free(lp);
                    return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME,
                                          "target %lld (row %lld) is not a class index in [0, %lld)", (long long)t,
                                          (long long)row, (long long)C);
                }
                if (sce) {
                    row_log_softmax(x + base, C, inner, lp);
                    loss = -lp[t];
                    if (ls > 0) {
                        double smooth = 0;
                        for (int64_t c = 0; c < C; c++) smooth -= lp[c];
                        loss = (1 - ls) * loss + ls * smooth / (double)C;
                    }
                } else {
                    loss = -(double)x[base + t * inner];
                }
                counted += 1;
            }
            if (red == HCG_REDUCE_NONE) o[row] = (float)loss;
            total += loss;
        }
    free(lp);
    if (red == HCG_REDUCE_SUM) o[0] = (float)total;
    else if (red == HCG_REDUCE_MEAN) o[0] = (float)(total / counted); /* no counted row: NaN, as PyTorch */
    return HCG_OK;
}

hcg_status hcg_k_kl_div(hcg_exec_node *en)
{
    const hcg_dev_tensor *S = &en->in[0], *P = &en->in[1];
    int axis;
    hcg_norm_axis(hcg_attr_int(en->node, "axis"), S->shape.rank, &axis);
    double T = hcg_attr_float(en->node, "temperature");
    int64_t C = S->shape.dims[axis], outer = hcg_dims_prod(&S->shape, 0, axis);
    int64_t inner = hcg_dims_prod(&S->shape, axis + 1, S->shape.rank);
    const float *s = hcg_dev_tensor_ptr(S), *pp = hcg_dev_tensor_ptr(P);
    double *lp = malloc(sizeof(double) * (size_t)(C + 1));
    float *z = malloc(sizeof(float) * (size_t)(C + 1));
    if (!lp || !z) {
        free(lp);
        free(z);
        return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory");
    }
    double total = 0;
    for (int64_t p = 0; p < outer; p++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = p * C * inner + i;
            for (int64_t c = 0; c < C; c++) z[c] = (float)(s[base + c * inner] / T);
            row_log_softmax(z, C, 1, lp);
            for (int64_t c = 0; c < C; c++) {
                double t = pp[base + c * inner];
                /* t * log t is 0 at t = 0 (xlogy), as PyTorch's kl_div */
                total += (t > 0 ? t * log(t) : t == 0 ? 0 : NAN) - t * lp[c];
            }
        }
    free(lp);
    free(z);
    *(float *)hcg_dev_tensor_ptr(&en->out) = (float)(total * T * T / (double)(outer * inner));
    return HCG_OK;
}

hcg_status hcg_k_mse_loss(hcg_exec_node *en)
{
    const float *a = hcg_dev_tensor_ptr(&en->in[0]), *b = hcg_dev_tensor_ptr(&en->in[1]);
    float *o = hcg_dev_tensor_ptr(&en->out);
    int64_t n = hcg_cpu_numel(&en->in[0]);
    hcg_reduction red = hcg_loss_reduction(en->node);
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        if (red == HCG_REDUCE_NONE) o[i] = d * d;
        else total += (double)d * d;
    }
    if (red == HCG_REDUCE_SUM) o[0] = (float)total;
    else if (red == HCG_REDUCE_MEAN) o[0] = (float)(total / (double)n);
    return HCG_OK;
}

/* ---------------------------------------------------------------- optimizer updates */

typedef struct opt_ctx {
    float *p, *m, *v;
    const float *g;
    float scale, lr, step_size, bc2_sqrt;
    bool first;
    /* sgd */
    float momentum, dampening, wd;
    bool nesterov;
    /* adam */
    float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, decay; /* decay: AdamW's 1 - lr * wd */
    bool decoupled;
} opt_ctx;

static void sgd_range(void *ctx, int64_t begin, int64_t end)
{
    const opt_ctx *c = ctx;
    for (int64_t i = begin; i < end; i++) {
        float d = c->g[i] * c->scale;
        if (c->wd != 0) d = d + c->wd * c->p[i];
        if (c->m) {
            float buf = c->first ? d : c->m[i] * c->momentum + (1 - c->dampening) * d;
            c->m[i] = buf;
            d = c->nesterov ? d + c->momentum * buf : buf;
        }
        c->p[i] = c->p[i] + (-c->lr) * d;
    }
}

static void adam_range(void *ctx, int64_t begin, int64_t end)
{
    const opt_ctx *c = ctx;
    for (int64_t i = begin; i < end; i++) {
        float g = c->g[i] * c->scale, p = c->p[i];
        if (c->decoupled) p = p * c->decay;
        else if (c->wd != 0) g = g + c->wd * p;
        float m = c->m[i] * c->beta1 + c->one_minus_beta1 * g;
        float v = c->v[i] * c->beta2 + c->one_minus_beta2 * (g * g);
        c->m[i] = m;
        c->v[i] = v;
        float denom = sqrtf(v) / c->bc2_sqrt + c->eps;
        c->p[i] = p + (-c->step_size) * (m / denom);
    }
}

static opt_ctx opt_begin(hcg_exec_node *en)
{
    const float *hyper = hcg_dev_tensor_ptr(&en->in[2]);
    opt_ctx c = {.p = hcg_dev_tensor_ptr(&en->in[0]), .g = hcg_dev_tensor_ptr(&en->in[1]),
                 .scale = *(const float *)hcg_dev_tensor_ptr(&en->in[3]), .lr = hyper[0], .step_size = hyper[1],
                 .bc2_sqrt = hyper[2], .first = hyper[3] <= 1.0f,
                 .wd = (float)hcg_attr_float(en->node, "weight_decay")};
    *(float *)hcg_dev_tensor_ptr(&en->out) = 0;
    return c;
}

hcg_status hcg_k_sgd_update(hcg_exec_node *en)
{
    opt_ctx c = opt_begin(en);
    const hcg_node *n = en->node;
    c.momentum = (float)hcg_attr_float(n, "momentum");
    c.dampening = (float)hcg_attr_float(n, "dampening");
    c.nesterov = hcg_attr_int(n, "nesterov") != 0;
    if (en->n_in > 4) c.m = hcg_dev_tensor_ptr(&en->in[4]);
    hcg_parallel_for(hcg_cpu_numel(&en->in[0]), hcg_grain_for(4), sgd_range, &c);
    return HCG_OK;
}

hcg_status hcg_k_adam_update(hcg_exec_node *en)
{
    opt_ctx c = opt_begin(en);
    const hcg_node *n = en->node;
    double b1 = hcg_attr_float(n, "beta1"), b2 = hcg_attr_float(n, "beta2"), wd = hcg_attr_float(n, "weight_decay");
    c.m = hcg_dev_tensor_ptr(&en->in[4]);
    c.v = hcg_dev_tensor_ptr(&en->in[5]);
    c.beta1 = (float)b1;
    c.one_minus_beta1 = (float)(1 - b1);
    c.beta2 = (float)b2;
    c.one_minus_beta2 = (float)(1 - b2);
    c.eps = (float)hcg_attr_float(n, "eps");
    c.decoupled = hcg_attr_int(n, "decoupled") != 0;
    c.decay = (float)(1 - (double)c.lr * wd);
    hcg_parallel_for(hcg_cpu_numel(&en->in[0]), hcg_grain_for(8), adam_range, &c);
    return HCG_OK;
}

/* ---------------------------------------------------------------- assign */

hcg_status hcg_k_assign(hcg_exec_node *en)
{
    size_t n = (size_t)hcg_cpu_numel(&en->in[1]) * hcg_dtype_size(en->in[1].dtype);
    if (n) memmove(hcg_dev_tensor_ptr(&en->in[0]), hcg_dev_tensor_ptr(&en->in[1]), n);
    *(float *)hcg_dev_tensor_ptr(&en->out) = 0;
    return HCG_OK;
}
