/* train.c — training sessions (hcg_train_*): the graph's loss, its gradient (graph/autodiff.c)
 * and one optimizer update per trainable parameter, planned and run as one step on the selected
 * devices. Trainable parameters become state tensors (backend/state.c) that stay on the device
 * that updates them, with the optimizer's moments beside them; the per-step scalars (learning
 * rate from the schedule, Adam's bias corrections) come in as one small input. An evaluation
 * session on the plain graph reads the same states. Checkpoints hold every state tensor, the step
 * and the caller's JSON. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/dist/dist.h"
#include "backend/session_impl.h"
#include "backend/train_dist.h"
#include "graph/autodiff.h"
#include "graph/bind.h"
#include "graph/compose.h"
#include "graph/fileio.h"
#include "graph/rank_split.h"
#include "graph/safetensors.h"

#define HYPER_INPUT "hcg:hyper"
#define CHECKPOINT_FORMAT "hcg-checkpoint"

struct hcg_train_session {
    const hcg_graph *g;
    hcg_train_options opt; /* its strings point at the copies below: the caller's are borrowed for the call */
    char *loss_name;
    char *devices;
    char **freeze;
    int loss_out;   /* the loss's index among the graph's outputs */
    char **params;  /* trainable parameter names */
    int n_params;
    hcg_state_store store;
    hcg_session *step_s, *eval_s;
    int64_t step;
    hcg_tensor *hyper;
    /* the ranks of an MPI job share this session: data parallel, or the graph split between them
     * (nodes pinned to rankN:...); rank 0 holds the trained values and writes them */
    bool multi_rank;
};

static const char *optimizer_name(hcg_optimizer o)
{
    return o == HCG_OPTIM_ADAM ? "adam" : o == HCG_OPTIM_ADAMW ? "adamw" : "sgd";
}

/* The optimizer's state tensors beside each parameter, by suffix. */
static int slot_names(const hcg_train_options *o, const char *names[2])
{
    if (o->optimizer != HCG_OPTIM_SGD) {
        names[0] = ":adam_m";
        names[1] = ":adam_v";
        return 2;
    }
    if (o->momentum != 0) {
        names[0] = ":momentum";
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- which params train */

static bool frozen(const hcg_train_session *t, const char *name)
{
    for (int i = 0; i < t->opt.n_freeze; i++)
        if (fnmatch(t->freeze[i], name, 0) == 0) return true;
    return false;
}

/* f32 params the loss output reaches through data inputs (attribute inputs carry no gradient). */
static hcg_status find_trainable(hcg_train_session *t)
{
    const hcg_graph *g = t->g;
    bool *reach = calloc((size_t)g->n_nodes + 1, sizeof(bool));
    t->params = calloc((size_t)g->n_nodes + 1, sizeof(char *));
    if (!reach || !t->params) {
        free(reach);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    reach[g->outputs[t->loss_out]] = true;
    for (hcg_id id = g->n_nodes - 1; id >= 0; id--) {
        if (!reach[id]) continue;
        const hcg_node *n = &g->nodes[id];
        int max = hcg_op_info_get(n->op)->max_inputs, k = max >= 0 && max < n->n_inputs ? max : n->n_inputs;
        for (int i = 0; i < k; i++) reach[n->inputs[i]] = true;
    }
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        const hcg_node *n = &g->nodes[id];
        /* Weights stored small (hcg quantize) have no gradient to follow: int8 values, f16 ones. */
        if (n->op == HCG_OP_PARAM && reach[id] && (n->value->dtype == HCG_I8 || n->value->dtype == HCG_F16) &&
            !frozen(t, n->name)) {
            char ty[256];
            hcg_format_type(g, n->value->dtype, &n->value->shape, ty, sizeof ty);
            free(reach);
            return hcg_error(HCG_ERR_UNSUPPORTED,
                             "the model's weights are quantized (param '%s' is %s): quantized models are for inference; "
                             "train the f32 model and quantize it after (hcg quantize), or freeze the quantized weights "
                             "(--freeze) to train the rest", n->name, ty);
        }
        if (n->op != HCG_OP_PARAM || !reach[id] || n->value->dtype != HCG_F32 || frozen(t, n->name)) continue;
        if (!(t->params[t->n_params++] = hcg_strdup(n->name))) {
            free(reach);
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
    }
    free(reach);
    if (t->n_params == 0)
        return hcg_error(HCG_ERR_GRAPH, "the loss '%s' depends on no trainable parameter (f32 params%s)", t->loss_name,
                         t->opt.n_freeze ? " not frozen" : "");
    return HCG_OK;
}

static bool is_trainable(const hcg_train_session *t, const char *name)
{
    for (int i = 0; i < t->n_params; i++)
        if (strcmp(t->params[i], name) == 0) return true;
    return false;
}

/* A state already on a device keeps its place: pin the node there. */
static hcg_status pin_to_store(hcg_train_session *t, hcg_node *n)
{
    hcg_state_entry *e = hcg_state_find(&t->store, n->name);
    if (!e || !e->device || n->pin) return HCG_OK;
    return (n->pin = hcg_strdup(e->device->name)) ? HCG_OK : hcg_error(HCG_ERR_NOMEM, "out of memory");
}

/* ---------------------------------------------------------------- the step graph */

/* min(clip / (norm + 1e-6), 1) over every gradient, PyTorch's clip_grad_norm_ factor. */
static hcg_id clip_factor(hcg_grad_ctx *c, const hcg_id *grads, int n, double clip)
{
    hcg_id total = -1;
    for (int k = 0; k < n; k++) {
        if (grads[k] < 0) continue;
        hcg_id sq = hcg_grad_op2(c, HCG_OP_MUL, grads[k], grads[k]);
        hcg_attr all = HCG_ATTR_I("keepdims", 0);
        sq = hcg_grad_op(c, HCG_OP_REDUCE_SUM, &sq, 1, &all, 1);
        total = total == -1 ? sq : hcg_grad_op2(c, HCG_OP_ADD, total, sq);
    }
    hcg_id norm = hcg_grad_op1(c, HCG_OP_SQRT, total);
    hcg_id f = hcg_grad_op2(c, HCG_OP_DIV, hcg_grad_scalar(c, clip),
                            hcg_grad_op2(c, HCG_OP_ADD, norm, hcg_grad_scalar(c, 1e-6)));
    return hcg_grad_op2(c, HCG_OP_MIN, f, hcg_grad_scalar(c, 1.0));
}

static hcg_id add_update(hcg_train_session *t, hcg_grad_ctx *c, hcg_id param, hcg_id grad, hcg_id hyper, hcg_id scale)
{
    hcg_graph *b = c->g;
    const hcg_train_options *o = &t->opt;
    const char *slots[2];
    int n_slots = slot_names(o, slots);
    hcg_id in[6] = {param, grad, hyper, scale};
    for (int k = 0; k < n_slots; k++) {
        char name[512];
        snprintf(name, sizeof name, "%s%s", b->nodes[param].name, slots[k]);
        hcg_id id = hcg_graph_add_node(b, HCG_OP_STATE, name, NULL, 0, NULL, 0);
        if (id < 0) return id;
        b->nodes[id].dtype = b->nodes[param].dtype;
        b->nodes[id].shape = b->nodes[param].shape; /* no value: starts at zero */
        hcg_status st = pin_to_store(t, &b->nodes[id]);
        if (st) return -(hcg_id)st;
        in[4 + k] = id;
    }
    if (o->optimizer == HCG_OPTIM_SGD) {
        hcg_attr a[4] = {HCG_ATTR_F("momentum", o->momentum), HCG_ATTR_F("dampening", o->dampening),
                         HCG_ATTR_F("weight_decay", o->weight_decay), HCG_ATTR_I("nesterov", o->nesterov)};
        return hcg_grad_op(c, HCG_OP_SGD_UPDATE, in, 4 + n_slots, a, 4);
    }
    hcg_attr a[5] = {HCG_ATTR_F("beta1", o->beta1), HCG_ATTR_F("beta2", o->beta2), HCG_ATTR_F("eps", o->eps),
                     HCG_ATTR_F("weight_decay", o->weight_decay), HCG_ATTR_I("decoupled", o->optimizer == HCG_OPTIM_ADAMW)};
    return hcg_grad_op(c, HCG_OP_ADAM_UPDATE, in, 6, a, 5);
}

/* After binding: gradients of the loss, trainable params turned into states, one update each; the
 * loss is the only output. */
static hcg_status step_transform(void *ctx, hcg_graph *b)
{
    hcg_train_session *t = ctx;
    hcg_id loss = b->outputs[t->loss_out];
    hcg_id *wrt = malloc(sizeof(hcg_id) * ((size_t)t->n_params + 1));
    hcg_id *grads = malloc(sizeof(hcg_id) * ((size_t)t->n_params + 1));
    int n = 0;
    hcg_status st = HCG_OK;
    if (!wrt || !grads) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (hcg_id id = 0; id < b->n_nodes; id++)
        if (b->nodes[id].op == HCG_OP_PARAM && is_trainable(t, b->nodes[id].name)) wrt[n++] = id;
    if ((st = hcg_autodiff(b, loss, wrt, n, grads))) goto done;
    /* data parallel: every reader (clipping, the updates) sees the mean over the ranks */
    if (t->opt.distributed && (st = hcg_train_reduce_gradients(b, wrt, grads, n, t->opt.bucket_bytes))) goto done;
    int64_t four = 4;
    hcg_id hyper = hcg_input(b, HYPER_INPUT, HCG_F32, 1, &four);
    hcg_grad_ctx c = {.g = b, .fwd = loss, .counter = 0};
    hcg_id scale = t->opt.clip_norm > 0 ? clip_factor(&c, grads, n, t->opt.clip_norm) : hcg_grad_scalar(&c, 1.0);
    if (hyper < 0 || scale < 0) {
        st = (hcg_status)-(hyper < 0 ? hyper : scale);
        goto done;
    }
    for (int k = 0; k < n; k++) {
        if (grads[k] < 0) continue; /* through integers only: not trained */
        b->nodes[wrt[k]].op = HCG_OP_STATE;
        if ((st = pin_to_store(t, &b->nodes[wrt[k]]))) goto done;
        hcg_grad_ctx pc = {.g = b, .fwd = wrt[k], .counter = 0};
        hcg_id u = add_update(t, &pc, wrt[k], grads[k], hyper, scale);
        if (u < 0) {
            st = (hcg_status)-u;
            goto done;
        }
    }
    for (int j = 0; j < b->n_outputs; j++)
        if (j != t->loss_out) free(b->output_names[j]);
    b->outputs[0] = loss;
    b->output_names[0] = b->output_names[t->loss_out];
    b->n_outputs = 1;
    st = hcg_graph_prune(b); /* what only the other outputs needed */
done:
    free(wrt);
    free(grads);
    return st;
}

/* Evaluation plans read the trained values: trainable params are the same states. */
static hcg_status eval_transform(void *ctx, hcg_graph *b)
{
    hcg_train_session *t = ctx;
    for (hcg_id id = 0; id < b->n_nodes; id++) {
        hcg_node *n = &b->nodes[id];
        if (n->op != HCG_OP_PARAM || !is_trainable(t, n->name)) continue;
        n->op = HCG_OP_STATE;
        hcg_status st = pin_to_store(t, n);
        if (st) return st;
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- sessions */

void hcg_train_session_free(hcg_train_session *t)
{
    if (!t) return;
    hcg_session_free(t->step_s);
    hcg_session_free(t->eval_s);
    hcg_state_store_free(&t->store);
    for (int i = 0; i < t->n_params; i++) free(t->params[i]);
    free(t->params);
    for (int i = 0; i < t->opt.n_freeze; i++) free(t->freeze[i]);
    free(t->freeze);
    free(t->loss_name);
    free(t->devices);
    hcg_tensor_free(t->hyper);
    free(t);
}

static hcg_status check_options(const hcg_train_options *o)
{
    if (!(o->lr >= 0) || !isfinite(o->lr)) return hcg_error(HCG_ERR_ARG, "the learning rate must be >= 0, got %g", o->lr);
    if ((unsigned)o->optimizer > HCG_OPTIM_ADAMW) return hcg_error(HCG_ERR_ARG, "unknown optimizer %d", (int)o->optimizer);
    if (!(o->momentum >= 0) || !(o->dampening >= 0 && o->dampening <= 1))
        return hcg_error(HCG_ERR_ARG, "momentum must be >= 0 and dampening in [0, 1]");
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return hcg_error(HCG_ERR_ARG, "Nesterov momentum needs a momentum > 0 and no dampening");
    if (!(o->weight_decay >= 0)) return hcg_error(HCG_ERR_ARG, "weight decay must be >= 0, got %g", o->weight_decay);
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
        return hcg_error(HCG_ERR_ARG, "betas must be in [0, 1), got %g, %g", o->beta1, o->beta2);
    if (!(o->eps > 0)) return hcg_error(HCG_ERR_ARG, "eps must be > 0, got %g", o->eps);
    if (!(o->clip_norm >= 0)) return hcg_error(HCG_ERR_ARG, "the clipping norm must be > 0, got %g", o->clip_norm);
    if (o->warmup_steps < 0 || o->total_steps < 0 || !(o->min_lr >= 0))
        return hcg_error(HCG_ERR_ARG, "warm-up steps, total steps and the minimum learning rate must be >= 0");
    if (o->schedule != HCG_LR_CONSTANT && o->total_steps <= o->warmup_steps)
        return hcg_error(HCG_ERR_ARG, "a decaying schedule needs total steps (%lld) beyond the warm-up (%lld)",
                         (long long)o->total_steps, (long long)o->warmup_steps);
    return HCG_OK;
}

/* Data parallel: joins the MPI job and starts every rank from rank 0's parameters. */
static hcg_status join_ranks(hcg_train_session *t)
{
    if (t->opt.bucket_bytes < 0) return hcg_error(HCG_ERR_ARG, "the bucket size must be >= 0");
    hcg_status st = hcg_dist_init();
    if (st) return hcg_error_prefix(st, "data-parallel training: ");
    hcg_tensor **values = calloc((size_t)t->n_params + 1, sizeof(hcg_tensor *));
    if (!values) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->n_params && !st; i++) st = hcg_train_get_param(t, t->params[i], &values[i]);
    if (!st) st = hcg_train_broadcast_values((const char *const *)t->params, values, t->n_params);
    for (int i = 0; i < t->n_params && !st; i++) st = hcg_state_write(&t->store, t->params[i], values[i]);
    for (int i = 0; i < t->n_params; i++) hcg_tensor_free(values[i]);
    free(values);
    return st;
}

hcg_status hcg_train_session_new(const hcg_graph *g, const hcg_train_options *opt, hcg_train_session **out)
{
    *out = NULL;
    if (!g || !opt || !opt->loss) return hcg_error(HCG_ERR_ARG, "training: a graph and a loss output are required");
    hcg_train_session *t = calloc(1, sizeof *t);
    if (!t) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    t->g = g;
    t->opt = *opt;
    if (t->opt.optimizer != HCG_OPTIM_SGD) {
        if (t->opt.beta1 == 0 && t->opt.beta2 == 0) {
            t->opt.beta1 = 0.9;
            t->opt.beta2 = 0.999;
        }
        if (t->opt.eps == 0) t->opt.eps = 1e-8;
    } else if (t->opt.eps == 0) {
        t->opt.eps = 1e-8; /* unused by SGD */
    }
    hcg_status st = check_options(&t->opt);
    t->loss_out = -1;
    for (int j = 0; j < g->n_outputs; j++)
        if (strcmp(g->output_names[j], opt->loss) == 0) t->loss_out = j;
    if (!st && t->loss_out < 0) {
        char names[1024] = "";
        size_t used = 0;
        for (int j = 0; j < g->n_outputs && used < sizeof names - 1; j++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", j ? ", " : "", g->output_names[j]);
            if (w > 0) used += (size_t)w;
        }
        st = hcg_error(HCG_ERR_NOT_FOUND, "the loss '%s' is not an output of the graph (outputs: %s)", opt->loss, names);
    }
    t->freeze = calloc((size_t)opt->n_freeze + 1, sizeof(char *));
    if (!st && (!(t->loss_name = hcg_strdup(opt->loss)) || !t->freeze)) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < opt->n_freeze && !st; i++)
        if (!(t->freeze[i] = hcg_strdup(opt->freeze[i]))) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (!st && opt->devices && !(t->devices = hcg_strdup(opt->devices))) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
    t->opt.freeze = NULL;
    t->opt.loss = t->loss_name;
    t->opt.devices = t->devices;
    if (!st) st = find_trainable(t);
    if (!st && opt->distributed && hcg_graph_names_ranks(g))
        st = hcg_error(HCG_ERR_UNSUPPORTED, "data-parallel training and nodes placed on ranks (rankN:...) do not mix");
    if (!st && opt->distributed) st = join_ranks(t);
    t->multi_rank = opt->distributed || (hcg_graph_names_ranks(g) && hcg_dist_size() > 1);
    int64_t four = 4;
    hcg_shape hs = hcg_shape_make(1, &four);
    if (!st) st = hcg_tensor_new(HCG_F32, &hs, &t->hyper);
    /* no rewrite passes: fused ops have no gradient rules */
    hcg_session_options so = {.devices = opt->devices, .profile = opt->profile, .passes = "none"};
    hcg_session_ext ext = {.states = &t->store, .params_variable = true, .transform = step_transform,
                           .transform_ctx = t, .n_extra_inputs = 1};
    if (!st) st = hcg_session_new_ex(g, &so, &ext, &t->step_s);
    if (st) {
        hcg_train_session_free(t);
        return st;
    }
    *out = t;
    return HCG_OK;
}

double hcg_train_lr_at(const hcg_train_session *t, int64_t k)
{
    const hcg_train_options *o = &t->opt;
    if (k < o->warmup_steps) return o->lr * (double)(k + 1) / (double)o->warmup_steps;
    if (o->schedule == HCG_LR_CONSTANT) return o->lr;
    double p = (double)(k - o->warmup_steps) / (double)(o->total_steps - o->warmup_steps);
    if (p > 1) p = 1;
    if (o->schedule == HCG_LR_COSINE) return o->min_lr + (o->lr - o->min_lr) * 0.5 * (1 + cos(M_PI * p));
    return o->lr + (o->min_lr - o->lr) * p;
}

hcg_status hcg_train_step(hcg_train_session *t, const hcg_tensor *const *inputs, float *loss)
{
    if (!t || !inputs) return hcg_error(HCG_ERR_ARG, "train step: no session or no inputs");
    int n_in = t->g->n_inputs;
    const hcg_tensor **in = malloc(sizeof(hcg_tensor *) * ((size_t)n_in + 2));
    hcg_tensor *loss_t = NULL;
    hcg_shape scalar;
    memset(&scalar, 0, sizeof scalar);
    hcg_status st = in ? hcg_tensor_new(HCG_F32, &scalar, &loss_t) : hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (st) {
        free(in);
        return st;
    }
    /* the step's scalars, in double as PyTorch computes them, then rounded once */
    int64_t k = t->step, n = k + 1;
    double lr = hcg_train_lr_at(t, k), step_size = lr, bc2_sqrt = 1;
    if (t->opt.optimizer != HCG_OPTIM_SGD) {
        step_size = lr / (1 - pow(t->opt.beta1, (double)n));
        bc2_sqrt = sqrt(1 - pow(t->opt.beta2, (double)n));
    }
    float *h = t->hyper->data;
    h[0] = (float)lr;
    h[1] = (float)step_size;
    h[2] = (float)bc2_sqrt;
    h[3] = (float)n;
    for (int i = 0; i < n_in; i++) in[i] = inputs[i];
    in[n_in] = t->hyper;
    st = hcg_session_run_ex(t->step_s, in, &loss_t);
    free(in);
    if (!st) {
        float v = *(float *)loss_t->data;
        if (t->opt.distributed) { /* the global batch's loss: the mean of the ranks' */
            double sum = v;
            st = hcg_dist_sum(&sum, 1, "the loss's mean over the ranks");
            v = (float)(sum / hcg_dist_size());
        }
        if (loss) *loss = v;
        t->step++;
        if (!st && !isfinite(v))
            st = hcg_error(HCG_ERR_RUNTIME, "the loss '%s' is %s at step %lld", t->loss_name,
                           isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf", (long long)t->step);
    }
    hcg_tensor_free(loss_t);
    return st;
}

hcg_status hcg_train_prepare(hcg_train_session *t, const hcg_shape *shapes)
{
    if (!t) return hcg_error(HCG_ERR_ARG, "train_prepare: no training session");
    return hcg_session_prepare(t->step_s, shapes); /* the step's plan becomes its session's current plan */
}

hcg_status hcg_train_eval(hcg_train_session *t, const hcg_tensor *const *inputs, hcg_tensor **outputs)
{
    if (!t->eval_s) {
        hcg_session_options so = {.devices = t->opt.devices};
        hcg_session_ext ext = {.states = &t->store, .params_variable = true, .transform = eval_transform,
                               .transform_ctx = t};
        hcg_status st = hcg_session_new_ex(t->g, &so, &ext, &t->eval_s);
        if (st) return st;
    }
    return hcg_session_run(t->eval_s, inputs, outputs);
}

int64_t hcg_train_steps_done(const hcg_train_session *t) { return t->step; }
int hcg_train_num_params(const hcg_train_session *t) { return t->n_params; }
const char *hcg_train_param_name(const hcg_train_session *t, int i)
{
    return i >= 0 && i < t->n_params ? t->params[i] : NULL;
}
hcg_session *hcg_train_get_session(hcg_train_session *t) { return t->step_s; }

hcg_status hcg_train_get_param(hcg_train_session *t, const char *name, hcg_tensor **out)
{
    hcg_state_entry *e = hcg_state_find(&t->store, name);
    if (e) return hcg_state_read(e, out);
    hcg_id id = hcg_graph_find(t->g, name);
    if (id < 0 || t->g->nodes[id].op != HCG_OP_PARAM) return hcg_error(HCG_ERR_NOT_FOUND, "no parameter '%s'", name);
    return hcg_tensor_clone(t->g->nodes[id].value, out);
}

/* Every state tensor (or only the trainable parameters) as host tensors, by name. */
static hcg_status collect(hcg_train_session *t, bool params_only, char ***names, hcg_tensor ***tensors, int *n)
{
    int cap = params_only ? t->n_params : t->store.n > t->n_params ? t->store.n : t->n_params;
    *names = calloc((size_t)cap + 1, sizeof(char *));
    *tensors = calloc((size_t)cap + 1, sizeof(hcg_tensor *));
    *n = 0;
    if (!*names || !*tensors) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->n_params; i++) {
        (*names)[*n] = t->params[i];
        hcg_status st = hcg_train_get_param(t, t->params[i], &(*tensors)[*n]);
        if (st) return st;
        (*n)++;
    }
    for (int i = 0; i < t->store.n && !params_only; i++) {
        if (is_trainable(t, t->store.e[i]->name)) continue;
        (*names)[*n] = t->store.e[i]->name;
        hcg_status st = hcg_state_read(t->store.e[i], &(*tensors)[*n]);
        if (st) return st;
        (*n)++;
    }
    return HCG_OK;
}

static hcg_status save_tensors(hcg_train_session *t, bool params_only, const char *path)
{
    char **names = NULL;
    hcg_tensor **tensors = NULL;
    int n = 0;
    hcg_status st = collect(t, params_only, &names, &tensors, &n);
    if (!st) st = hcg_st_save(path, (const char *const *)names, (const hcg_tensor *const *)tensors, n);
    for (int i = 0; tensors && i < n; i++) hcg_tensor_free(tensors[i]);
    free(names);
    free(tensors);
    return st;
}

/* Data parallel: every rank holds the same values, rank 0 alone writes them, and every rank
 * returns rank 0's status (so no rank goes on alone after a failed write). */
static bool writes_here(const hcg_train_session *t) { return !t->multi_rank || hcg_dist_rank() == 0; }
static hcg_status shared_status(const hcg_train_session *t, hcg_status st, const char *what)
{
    return t->multi_rank ? hcg_dist_agree(st, what) : st;
}

static hcg_status save_model(hcg_train_session *t, const char *path);

hcg_status hcg_train_save(hcg_train_session *t, const char *path)
{
    return shared_status(t, writes_here(t) ? save_tensors(t, true, path) : HCG_OK, "saving the params");
}

hcg_status hcg_train_save_model(hcg_train_session *t, const char *path)
{
    return shared_status(t, writes_here(t) ? save_model(t, path) : HCG_OK, "saving the model");
}

static hcg_status save_model(hcg_train_session *t, const char *path)
{
    hcg_graph *m = hcg_graph_new();
    hcg_id *outs = malloc(sizeof(hcg_id) * ((size_t)t->g->n_outputs + 1));
    hcg_import im = {.what = "the model", .only_output = HCG_IMPORT_ALL};
    hcg_status st = m && outs ? hcg_graph_import(m, t->g, &im, outs) : hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int j = 0; j < t->g->n_outputs && !st; j++) st = hcg_output(m, outs[j], t->g->output_names[j]);
    for (int i = 0; i < t->n_params && !st; i++) { /* the trained values replace the initial ones */
        hcg_id id = hcg_graph_find(m, t->params[i]);
        hcg_tensor *v = NULL;
        if (id < 0 || (st = hcg_train_get_param(t, t->params[i], &v))) break;
        if (m->nodes[id].value_owned) hcg_tensor_free(m->nodes[id].value);
        m->nodes[id].value = v;
        m->nodes[id].value_owned = true;
    }
    if (!st) st = hcg_save(m, path);
    hcg_graph_free(m);
    free(outs);
    return st;
}

static char *join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", file);
    return p;
}

/* Writes one checkpoint's files into folder dir. */
static hcg_status write_checkpoint_files(hcg_train_session *t, const char *dir, const char *user_json)
{
    char *st_path = join(dir, "state.safetensors"), *js_path = join(dir, "checkpoint.json"), *text = NULL;
    cJSON *o = cJSON_CreateObject(), *user = user_json ? cJSON_Parse(user_json) : cJSON_CreateObject();
    hcg_status st = HCG_OK;
    if (!st_path || !js_path || !o || !user) {
        st = user_json && !user ? hcg_error(HCG_ERR_ARG, "the caller's data is not JSON")
                                : hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = save_tensors(t, false, st_path))) goto done;
    cJSON_AddStringToObject(o, "format", CHECKPOINT_FORMAT);
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddNumberToObject(o, "step", (double)t->step);
    cJSON_AddStringToObject(o, "optimizer", optimizer_name(t->opt.optimizer));
    cJSON_AddStringToObject(o, "loss", t->loss_name);
    cJSON_AddItemToObject(o, "user", user);
    user = NULL;
    if (!(text = cJSON_Print(o))) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    st = hcg_write_file_atomic(js_path, text, strlen(text));
done:
    cJSON_Delete(o);
    cJSON_Delete(user);
    free(text);
    free(st_path);
    free(js_path);
    return st;
}

/* Removes a checkpoint folder hcg wrote (its two files, then the folder). */
static void remove_checkpoint_dir(const char *path)
{
    char *a = join(path, "state.safetensors"), *b = join(path, "checkpoint.json");
    if (a) unlink(a);
    if (b) unlink(b);
    rmdir(path);
    free(a);
    free(b);
}

/* Keeps the newest `keep` step folders (and the one just written); removes older ones and
 * temporary folders of interrupted writes. */
static void prune_checkpoints(const char *dir, const char *current, int keep)
{
    DIR *d = opendir(dir);
    if (!d) return;
    long long steps[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        long long k;
        char tail;
        if (sscanf(e->d_name, "step-%lld%c", &k, &tail) == 1) steps[n++] = k;
        else if (strncmp(e->d_name, ".tmp-step-", 10) == 0) {
            char *path = join(dir, e->d_name);
            if (path) remove_checkpoint_dir(path);
            free(path);
        }
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        int newer = 0;
        for (int j = 0; j < n; j++) newer += steps[j] > steps[i];
        char name[64], *path;
        snprintf(name, sizeof name, "step-%09lld", steps[i]);
        if (newer < keep || strcmp(name, current) == 0 || !(path = join(dir, name))) continue;
        remove_checkpoint_dir(path);
        free(path);
    }
}

static hcg_status checkpoint_save(hcg_train_session *t, const char *dir, const char *user_json);

hcg_status hcg_train_checkpoint_save(hcg_train_session *t, const char *dir, const char *user_json)
{
    return shared_status(t, writes_here(t) ? checkpoint_save(t, dir, user_json) : HCG_OK, "writing a checkpoint");
}

static hcg_status checkpoint_save(hcg_train_session *t, const char *dir, const char *user_json)
{
    char name[64], tmpname[96];
    snprintf(name, sizeof name, "step-%09lld", (long long)t->step);
    snprintf(tmpname, sizeof tmpname, ".tmp-%s.%ld", name, (long)getpid());
    char *final = join(dir, name), *tmp = join(dir, tmpname), *latest = join(dir, "latest");
    hcg_status st = final && tmp && latest ? hcg_make_dirs(dir) : hcg_error(HCG_ERR_NOMEM, "out of memory");
    /* the folder is filled under a temporary name and renamed whole; "latest" names it last */
    if (!st) remove_checkpoint_dir(tmp);
    if (!st) st = hcg_make_dirs(tmp);
    if (!st) st = write_checkpoint_files(t, tmp, user_json);
    if (!st) {
        remove_checkpoint_dir(final);
        if (rename(tmp, final) != 0) st = hcg_error(HCG_ERR_IO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
    }
    if (!st) st = hcg_write_file_atomic(latest, name, strlen(name));
    if (st) {
        remove_checkpoint_dir(tmp);
        hcg_error_prefix(st, "writing the checkpoint in '%s': ", dir);
    } else {
        prune_checkpoints(dir, name, 2);
    }
    free(final);
    free(tmp);
    free(latest);
    return st;
}

/* The folder of the newest complete checkpoint under dir (dir/latest), or dir itself. */
static char *checkpoint_folder(const char *dir)
{
    char *latest = join(dir, "latest"), *name = NULL, *folder = NULL;
    size_t len = 0;
    if (latest && access(latest, F_OK) == 0 && hcg_read_file(latest, &name, &len) == HCG_OK && len > 0 &&
        !strchr(name, '/') && strcmp(name, "..") != 0)
        folder = join(dir, name);
    else
        folder = hcg_strdup(dir);
    free(latest);
    free(name);
    return folder;
}

static hcg_status checkpoint_load(hcg_train_session *t, const char *dir, char **user_json);

hcg_status hcg_train_checkpoint_load(hcg_train_session *t, const char *dir, char **user_json)
{
    hcg_status st = shared_status(t, checkpoint_load(t, dir, user_json), "resuming");
    if (st && user_json) {
        free(*user_json);
        *user_json = NULL;
    }
    return st;
}

static hcg_status checkpoint_load(hcg_train_session *t, const char *dir, char **user_json)
{
    char *folder = checkpoint_folder(dir);
    char *st_path = folder ? join(folder, "state.safetensors") : NULL;
    char *js_path = folder ? join(folder, "checkpoint.json") : NULL, *text = NULL;
    size_t len = 0;
    cJSON *o = NULL;
    hcg_st_file *f = NULL;
    hcg_status st = st_path && js_path ? hcg_read_file(js_path, &text, &len) : hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (user_json) *user_json = NULL;
    if (st) goto done;
    o = cJSON_Parse(text);
    const cJSON *fmt = cJSON_GetObjectItem(o, "format"), *ver = cJSON_GetObjectItem(o, "version");
    const cJSON *step = cJSON_GetObjectItem(o, "step"), *optim = cJSON_GetObjectItem(o, "optimizer");
    if (!o || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, CHECKPOINT_FORMAT) != 0 || !cJSON_IsNumber(ver) ||
        !cJSON_IsNumber(step) || step->valuedouble < 0 || !cJSON_IsString(optim)) {
        st = hcg_error(HCG_ERR_FORMAT, "%s is not an hcg checkpoint", js_path);
        goto done;
    }
    if (ver->valueint != 1) {
        st = hcg_error(HCG_ERR_UNSUPPORTED, "%s: checkpoint version %d is not supported", js_path, ver->valueint);
        goto done;
    }
    if (strcmp(optim->valuestring, optimizer_name(t->opt.optimizer)) != 0) {
        st = hcg_error(HCG_ERR_ARG, "the checkpoint in '%s' was made with the %s optimizer, not %s", dir,
                       optim->valuestring, optimizer_name(t->opt.optimizer));
        goto done;
    }
    if ((st = hcg_st_open(st_path, &f))) goto done;
    /* every parameter and every optimizer slot must be there */
    const char *slots[2];
    int n_slots = slot_names(&t->opt, slots);
    for (int i = 0; i < t->n_params && !st; i++) {
        for (int k = -1; k < n_slots && !st; k++) {
            char name[512];
            snprintf(name, sizeof name, "%s%s", t->params[i], k < 0 ? "" : slots[k]);
            const hcg_st_entry *e = hcg_st_find(f, name);
            hcg_tensor *v = NULL;
            if (!e) {
                st = hcg_error(HCG_ERR_FORMAT, "%s has no tensor '%s'", st_path, name);
                break;
            }
            if (!(st = hcg_st_tensor(f, e, &v))) st = hcg_state_write(&t->store, name, v);
            hcg_tensor_free(v);
        }
    }
    if (st) goto done;
    t->step = (int64_t)step->valuedouble;
    const cJSON *user = cJSON_GetObjectItem(o, "user");
    if (user_json && user && !(*user_json = cJSON_PrintUnformatted(user))) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
done:
    if (st) hcg_error_prefix(st, "resuming from '%s': ", dir);
    if (f) hcg_st_close(f);
    cJSON_Delete(o);
    free(text);
    free(st_path);
    free(js_path);
    free(folder);
    return st;
}
