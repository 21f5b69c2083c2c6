/* workloads.c — the graphs of hcg's two composite workloads, built from model graphs with
 * graph/compose.c: ensembles (members sharing inputs by name, combined by a weighted average of
 * their outputs or probabilities, a weighted vote, or a head model over their concatenated
 * outputs; optionally with a loss so the members train jointly) and knowledge distillation (a
 * student and frozen teachers, the loss A * KL(teachers' mixed soft targets || student at
 * temperature T) + (1 - A) * cross-entropy with the labels). Inputs are checked by binding the
 * composition with trial sizes, so a mismatch names the model and the shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "graph/bind.h"
#include "graph/compose.h"
#include "graph/op_table.h"

/* ---------------------------------------------------------------- helpers */

static hcg_id scalar(hcg_graph *g, const char *name, double v)
{
    hcg_tensor *t = NULL;
    hcg_shape s;
    memset(&s, 0, sizeof s);
    hcg_status st = hcg_tensor_new(HCG_F32, &s, &t);
    if (st) return -(hcg_id)st;
    *(float *)t->data = (float)v;
    return hcg_constant(g, name, t);
}

static hcg_id op1(hcg_graph *g, hcg_op op, const char *name, hcg_id a, const hcg_attr *attrs, int n_attrs)
{
    return hcg_add_node(g, op, name, &a, 1, attrs, n_attrs);
}

static hcg_id op2(hcg_graph *g, hcg_op op, const char *name, hcg_id a, hcg_id b)
{
    hcg_id in[2] = {a, b};
    return hcg_add_node(g, op, name, in, 2, NULL, 0);
}

/* Normalised, checked weights (NULL: equal). */
static hcg_status check_weights(const double *w, int n, const char *what, double *out)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double v = w ? w[i] : 1.0;
        if (!(v >= 0) || !isfinite(v)) return hcg_error(HCG_ERR_ARG, "%s %d has the weight %g: weights must be >= 0", what, i + 1, v);
        sum += v;
        out[i] = v;
    }
    if (!(sum > 0)) return hcg_error(HCG_ERR_ARG, "the %s weights are all zero", what);
    for (int i = 0; i < n; i++) out[i] /= sum;
    return HCG_OK;
}

/* The output named name of src (NULL: the first). */
static hcg_status pick_output(const hcg_graph *src, const char *name, const char *what, int *out)
{
    if (src->n_outputs == 0) return hcg_error(HCG_ERR_GRAPH, "%s has no outputs", what);
    *out = 0;
    if (!name) return HCG_OK;
    for (int j = 0; j < src->n_outputs; j++)
        if (strcmp(src->output_names[j], name) == 0) {
            *out = j;
            return HCG_OK;
        }
    return hcg_error(HCG_ERR_NOT_FOUND, "%s has no output '%s'", what, name);
}

/* Binds g with trial sizes (every symbol `bump` more than its usual trial value) and checks that
 * the nodes ids[0..n) (the outputs of the models what[]) have equal types; *type receives theirs.
 * The nodes are made outputs for the check and removed after. */
static hcg_status check_same_types(hcg_graph *g, const hcg_id *ids, int n, const char *const *what, int64_t bump,
                                   hcg_shape *type)
{
    int base = g->n_outputs;
    hcg_status st = HCG_OK;
    for (int i = 0; i < n && !st; i++) {
        char name[32];
        snprintf(name, sizeof name, "hcg:check%d", i);
        st = hcg_output(g, ids[i], name);
    }
    hcg_shape *shapes = calloc((size_t)g->n_inputs + 1, sizeof(hcg_shape));
    const char **sym_names = calloc((size_t)g->n_syms + 1, sizeof(char *));
    int64_t *sym_values = calloc((size_t)g->n_syms + 1, sizeof(int64_t));
    hcg_graph *b = NULL;
    if (!st && (!shapes || !sym_names || !sym_values)) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int k = 0; k < g->n_syms && !st; k++) {
        sym_names[k] = g->syms[k];
        sym_values[k] = 3 + 2 * k + bump;
    }
    if (!st) st = hcg_graph_input_shapes(g, sym_names, sym_values, g->n_syms, shapes);
    hcg_bind_options bo = {.eval = hcg_cpu_eval, .params_variable = true};
    if (!st) st = hcg_graph_bind(g, shapes, &bo, &b);
    for (int i = 0; i < n && !st; i++) {
        const hcg_node *x = &b->nodes[b->outputs[base]], *y = &b->nodes[b->outputs[base + i]];
        if (x->dtype != y->dtype || !hcg_shape_equal(&x->shape, &y->shape)) {
            char a[256], c[256];
            hcg_format_type(b, x->dtype, &x->shape, a, sizeof a);
            hcg_format_type(b, y->dtype, &y->shape, c, sizeof c);
            st = hcg_error(HCG_ERR_SHAPE, "%s gives %s but %s gives %s (with every symbolic size set to a trial value)",
                           what[i], c, what[0], a);
        }
        if (i == 0) *type = x->shape;
    }
    hcg_graph_free(b);
    free(shapes);
    free(sym_names);
    free(sym_values);
    for (int j = base; j < g->n_outputs; j++) free(g->output_names[j]);
    g->n_outputs = base;
    return st;
}

/* The class count of n models' outputs [..., C]: the last dim, which must not depend on the
 * inputs' symbolic sizes. */
static hcg_status class_count(hcg_graph *g, const hcg_id *ids, int n, const char *const *what, int64_t *classes)
{
    hcg_shape a, b;
    hcg_status st = check_same_types(g, ids, n, what, 0, &a);
    if (!st) st = check_same_types(g, ids, n, what, 1, &b);
    if (st) return st;
    if (a.rank < 1 || b.rank < 1 || a.dims[a.rank - 1] != b.dims[b.rank - 1] || a.dims[a.rank - 1] < 1)
        return hcg_error(HCG_ERR_SHAPE, "%s must give scores [..., C] with a fixed number of classes C", what[0]);
    *classes = a.dims[a.rank - 1];
    return HCG_OK;
}

/* An int64 labels input [N] whose N is the batch symbol of the first input's first dim. */
static hcg_id labels_input(hcg_graph *g, const char *name)
{
    if (hcg_graph_find(g, name) >= 0)
        return -(hcg_id)hcg_error(HCG_ERR_GRAPH, "the labels input '%s' collides with a node of the models", name);
    if (g->n_inputs == 0 || g->nodes[g->inputs[0]].shape.rank < 1)
        return -(hcg_id)hcg_error(HCG_ERR_GRAPH, "labels need a model input whose first axis is the samples");
    int64_t n = g->nodes[g->inputs[0]].shape.dims[0];
    return hcg_input(g, name, HCG_I64, 1, &n);
}

/* A zero-initialised f32 state [N, classes], N the first input's first dim. */
static hcg_id state_like_scores(hcg_graph *g, const char *name, int64_t classes)
{
    hcg_id id = hcg_graph_add_node(g, HCG_OP_STATE, name, NULL, 0, NULL, 0);
    if (id < 0) return id;
    int64_t dims[2] = {g->nodes[g->inputs[0]].shape.dims[0], classes};
    g->nodes[id].dtype = HCG_F32;
    g->nodes[id].shape = hcg_shape_make(2, dims);
    return id;
}

/* accuracy = mean(argmax(scores) == labels) */
static hcg_id accuracy(hcg_graph *g, hcg_id scores, hcg_id labels)
{
    hcg_attr last = HCG_ATTR_I("axis", -1), f32 = HCG_ATTR_S("to", "f32"), all = HCG_ATTR_I("keepdims", 0);
    hcg_id pred = op1(g, HCG_OP_ARGMAX, "hcg:pred", scores, &last, 1);
    hcg_id hit = op1(g, HCG_OP_CAST, "hcg:hit", op2(g, HCG_OP_EQUAL, "hcg:hit_bool", pred, labels), &f32, 1);
    return op1(g, HCG_OP_REDUCE_MEAN, "hcg:accuracy", hit, &all, 1);
}

static hcg_status finish(hcg_graph *g, hcg_status st, hcg_graph **out)
{
    if (st) {
        hcg_graph_free(g);
        return st;
    }
    *out = g;
    return HCG_OK;
}

/* ---------------------------------------------------------------- ensembles */

hcg_status hcg_ensemble_build(const hcg_graph *const *members, const char *const *names, const double *weights, int n,
                              const hcg_ensemble_options *opt, hcg_graph **out)
{
    *out = NULL;
    if (n < 1 || !members) return hcg_error(HCG_ERR_ARG, "an ensemble needs at least one member");
    hcg_ensemble_options o = opt ? *opt : (hcg_ensemble_options){0};
    if ((o.combine == HCG_COMBINE_CONCAT) != (o.head != NULL))
        return hcg_error(HCG_ERR_ARG, o.head ? "a head model goes with the concat combination only"
                                             : "concat needs a head model for the concatenated outputs");
    double *w = malloc(sizeof(double) * (size_t)n);
    hcg_id *outs = malloc(sizeof(hcg_id) * (size_t)(n + 1)), head_out[64];
    char (*what)[384] = malloc(sizeof *what * (size_t)(n + 1));
    const char **whatp = malloc(sizeof(char *) * (size_t)(n + 1));
    hcg_graph *g = hcg_graph_new();
    hcg_status st = w && outs && what && whatp && g ? check_weights(weights, n, "member", w) : hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !st; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "m%d/", i);
        snprintf(what[i], sizeof what[i], "member %d (%s)", i + 1, names && names[i] ? names[i] : "a graph");
        whatp[i] = what[i];
        hcg_id *mo = malloc(sizeof(hcg_id) * ((size_t)members[i]->n_outputs + 1));
        hcg_import im = {.what = what[i], .prefix = prefix, .only_output = 0};
        if (!mo) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        else if (members[i]->n_outputs == 0) st = hcg_error(HCG_ERR_GRAPH, "%s has no outputs", what[i]);
        else if (!(st = hcg_graph_import(g, members[i], &im, mo))) outs[i] = mo[0];
        free(mo);
    }
    int64_t classes = 0; /* concat fuses features of any widths: its members need not agree */
    if (!st && o.combine != HCG_COMBINE_CONCAT) st = class_count(g, outs, n, whatp, &classes);
    hcg_id combined = -1, labels = -1;
    hcg_attr last = HCG_ATTR_I("axis", -1);
    if (!st && o.labels && (labels = labels_input(g, o.labels)) < 0) st = (hcg_status)-labels;
    if (!st && o.combine == HCG_COMBINE_WEIGHTED) {
        for (int i = 0; i < n; i++) {
            char name[64];
            hcg_id x = outs[i];
            if (o.softmax) {
                snprintf(name, sizeof name, "hcg:probs%d", i);
                x = op1(g, HCG_OP_SOFTMAX, name, x, &last, 1);
            }
            snprintf(name, sizeof name, "hcg:weight%d", i);
            hcg_id wx = op2(g, HCG_OP_MUL, NULL, x, scalar(g, name, w[i]));
            combined = combined < 0 ? wx : op2(g, HCG_OP_ADD, NULL, combined, wx);
        }
    } else if (!st && o.combine == HCG_COMBINE_VOTE) {
        /* each member votes for its argmax with its weight; the tally's argmax is the class with
         * the most weight, the lowest index on a tie */
        hcg_attr oh[2] = {HCG_ATTR_I("depth", classes), HCG_ATTR_I("axis", -1)};
        hcg_id tally = -1;
        for (int i = 0; i < n; i++) {
            char name[64];
            hcg_id vote = op1(g, HCG_OP_ONE_HOT, NULL, op1(g, HCG_OP_ARGMAX, NULL, outs[i], &last, 1), oh, 2);
            snprintf(name, sizeof name, "hcg:weight%d", i);
            hcg_id wv = op2(g, HCG_OP_MUL, NULL, vote, scalar(g, name, w[i]));
            tally = tally < 0 ? wv : op2(g, HCG_OP_ADD, NULL, tally, wv);
        }
        combined = op1(g, HCG_OP_ARGMAX, NULL, tally, &last, 1);
    } else if (!st) { /* concat -> head */
        hcg_attr cat = HCG_ATTR_I("axis", -1);
        hcg_id c = hcg_add_node(g, HCG_OP_CONCAT, "hcg:features", outs, n, &cat, 1);
        hcg_import im = {.what = "the head model", .prefix = "head/", .input_prefix = "hcg:head_in/",
                         .only_output = HCG_IMPORT_ALL};
        if (c < 0) st = (hcg_status)-c;
        else if (o.head->n_inputs != 1) st = hcg_error(HCG_ERR_GRAPH, "the head model must have one input, it has %d", o.head->n_inputs);
        else if (o.head->n_outputs < 1 || o.head->n_outputs > 64) st = hcg_error(HCG_ERR_GRAPH, "the head model needs an output");
        else st = hcg_graph_import(g, o.head, &im, head_out);
        if (!st) { /* the head's input is the concatenation: rewire its readers */
            hcg_id hin = g->inputs[g->n_inputs - 1];
            for (hcg_id id = 0; id < g->n_nodes; id++)
                for (int k = 0; k < g->nodes[id].n_inputs; k++)
                    if (g->nodes[id].inputs[k] == hin) g->nodes[id].inputs[k] = c;
            g->n_inputs--; /* the node stays, unread, and binding drops it */
            combined = head_out[0];
        }
    }
    if (!st) st = hcg_output(g, combined, "ensemble");
    if (!st && o.labels && o.combine == HCG_COMBINE_VOTE) { /* no gradient: accuracy only */
        hcg_attr f32 = HCG_ATTR_S("to", "f32"), all = HCG_ATTR_I("keepdims", 0);
        hcg_id hit = op1(g, HCG_OP_CAST, "hcg:hit", op2(g, HCG_OP_EQUAL, "hcg:hit_bool", combined, labels), &f32, 1);
        hcg_id acc = op1(g, HCG_OP_REDUCE_MEAN, "hcg:accuracy", hit, &all, 1);
        st = acc < 0 ? (hcg_status)-acc : hcg_output(g, acc, "accuracy");
    } else if (!st && o.labels) {
        /* averaged probabilities: -log of the mixture's probability of the label (NLL); scores:
         * softmax cross-entropy */
        hcg_id loss;
        if (o.combine == HCG_COMBINE_WEIGHTED && o.softmax)
            loss = op2(g, HCG_OP_NLL_LOSS, "hcg:loss", op1(g, HCG_OP_LOG, "hcg:log_probs", combined, NULL, 0), labels);
        else
            loss = op2(g, HCG_OP_SOFTMAX_CROSS_ENTROPY, "hcg:loss", combined, labels);
        hcg_id acc = accuracy(g, combined, labels);
        if (loss < 0 || acc < 0) st = (hcg_status)-(loss < 0 ? loss : acc);
        if (!st) st = hcg_output(g, loss, "loss");
        if (!st) st = hcg_output(g, acc, "accuracy");
    }
    free(w);
    free(outs);
    free(what);
    free(whatp);
    return finish(g, st, out);
}

/* ---------------------------------------------------------------- distillation */

hcg_status hcg_distill_build(const hcg_graph *student, const hcg_graph *const *teachers, const char *const *names,
                             const double *weights, int n, const hcg_distill_options *opt, hcg_graph **out)
{
    *out = NULL;
    hcg_distill_options o = opt ? *opt : (hcg_distill_options){.temperature = 1, .alpha = 0.5};
    if (!student || n < 1 || !teachers) return hcg_error(HCG_ERR_ARG, "distillation needs a student and at least one teacher");
    if (!(o.temperature > 0) || !isfinite(o.temperature))
        return hcg_error(HCG_ERR_ARG, "the temperature must be > 0, got %g", o.temperature);
    if (!(o.alpha >= 0 && o.alpha <= 1)) return hcg_error(HCG_ERR_ARG, "alpha must be in [0, 1], got %g", o.alpha);
    double *w = malloc(sizeof(double) * (size_t)n);
    hcg_id *outs = malloc(sizeof(hcg_id) * (size_t)(n + 2)), *so = NULL;
    char (*what)[384] = malloc(sizeof *what * (size_t)(n + 2));
    const char **whatp = malloc(sizeof(char *) * (size_t)(n + 2));
    hcg_graph *g = hcg_graph_new();
    hcg_status st = w && outs && what && whatp && g ? check_weights(weights, n, "teacher", w) : hcg_error(HCG_ERR_NOMEM, "out of memory");
    int pick = 0;
    /* the student keeps its node names (its params are saved under them); teachers are frozen */
    snprintf(what[0], sizeof what[0], "the student (%s)", names && names[0] ? names[0] : "a graph");
    whatp[0] = what[0];
    if (!st && !(st = pick_output(student, o.student_output, what[0], &pick))) {
        if (!(so = malloc(sizeof(hcg_id) * ((size_t)student->n_outputs + 1)))) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        hcg_import im = {.what = what[0], .only_output = HCG_IMPORT_ALL};
        if (!st && !(st = hcg_graph_import(g, student, &im, so))) outs[0] = so[pick];
    }
    for (int i = 0; i < n && !st; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "teacher%d/", i);
        snprintf(what[i + 1], sizeof what[i + 1], "teacher %d (%s)", i + 1, names && names[i + 1] ? names[i + 1] : "a graph");
        whatp[i + 1] = what[i + 1];
        hcg_id *to = malloc(sizeof(hcg_id) * ((size_t)teachers[i]->n_outputs + 1));
        hcg_import im = {.what = what[i + 1], .prefix = prefix, .params_as_constants = true,
                         .input_prefix = o.pipeline ? HCG_PIPELINE_INPUT_PREFIX : NULL};
        if (!to) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        else if (!(st = pick_output(teachers[i], o.teacher_output, what[i + 1], &pick))) {
            im.only_output = pick; /* teachers contribute their logits and nothing else */
            if (!(st = hcg_graph_import(g, teachers[i], &im, to))) outs[i + 1] = to[pick];
        }
        free(to);
    }
    int64_t classes = 0;
    if (!st) st = class_count(g, outs, n + 1, whatp, &classes);
    hcg_id labels = -1;
    if (!st && (labels = labels_input(g, o.labels ? o.labels : "labels")) < 0) st = (hcg_status)-labels;
    if (!st) {
        /* p = sum_i w_i softmax(t_i / T); loss = A * kl_div(s, p, T) + (1 - A) * cross_entropy(s, labels) */
        hcg_attr last = HCG_ATTR_I("axis", -1);
        hcg_attr kl_attrs[2] = {last, HCG_ATTR_F("temperature", o.temperature)};
        hcg_id inv_t = scalar(g, "hcg:inv_temperature", 1.0 / o.temperature), mix = -1, s = outs[0];
        for (int i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof name, "hcg:teacher%d_probs", i);
            hcg_id p = op1(g, HCG_OP_SOFTMAX, name, op2(g, HCG_OP_MUL, NULL, outs[i + 1], inv_t), &last, 1);
            snprintf(name, sizeof name, "hcg:teacher%d_weight", i);
            hcg_id wp = op2(g, HCG_OP_MUL, NULL, p, scalar(g, name, w[i]));
            mix = mix < 0 ? wp : op2(g, HCG_OP_ADD, i == n - 1 ? "hcg:soft_targets" : NULL, mix, wp);
        }
        hcg_id targets = mix;
        if (o.pipeline) {
            /* the teachers' soft targets for the next batch go into a state; this batch's came
             * from the previous step (the planner orders every reader before the assign) */
            targets = state_like_scores(g, "hcg:soft_targets_of_this_batch", classes);
            hcg_id in_assign[2] = {targets, mix};
            hcg_id a = hcg_add_node(g, HCG_OP_ASSIGN, "hcg:next_soft_targets", in_assign, 2, NULL, 0);
            if (a < 0) targets = a;
        }
        hcg_id in2[2] = {s, targets};
        hcg_id kd = hcg_add_node(g, HCG_OP_KL_DIV, "hcg:kd_loss", in2, 2, kl_attrs, 2);
        hcg_attr ce_axis = HCG_ATTR_I("axis", -1);
        hcg_id in3[2] = {s, labels};
        hcg_id ce = hcg_add_node(g, HCG_OP_SOFTMAX_CROSS_ENTROPY, "hcg:ce_loss", in3, 2, &ce_axis, 1);
        hcg_id loss = o.alpha == 1 ? op2(g, HCG_OP_MUL, "hcg:loss", kd, scalar(g, "hcg:alpha", 1.0))
                      : o.alpha == 0 ? op2(g, HCG_OP_MUL, "hcg:loss", ce, scalar(g, "hcg:alpha", 1.0))
                                     : op2(g, HCG_OP_ADD, "hcg:loss", op2(g, HCG_OP_MUL, NULL, kd, scalar(g, "hcg:alpha", o.alpha)),
                                           op2(g, HCG_OP_MUL, NULL, ce, scalar(g, "hcg:one_minus_alpha", 1 - o.alpha)));
        hcg_id acc = accuracy(g, s, labels);
        hcg_id ids[4] = {loss, kd, ce, acc};
        const char *onames[4] = {"loss", "kd_loss", "ce_loss", "accuracy"};
        for (int k = 0; k < 4 && !st; k++) st = ids[k] < 0 ? (hcg_status)-ids[k] : hcg_output(g, ids[k], onames[k]);
        /* and the student's own outputs, for evaluation */
        for (int j = 0; j < student->n_outputs && !st; j++) {
            bool taken = false;
            for (int k = 0; k < 4; k++) taken |= strcmp(student->output_names[j], onames[k]) == 0;
            if (!taken) st = hcg_output(g, so[j], student->output_names[j]);
        }
    }
    free(w);
    free(outs);
    free(so);
    free(what);
    free(whatp);
    return finish(g, st, out);
}

/* ---------------------------------------------------------------- placement */

static bool in_group(const char *name, const char *group)
{
    if (strcmp(group, "student") == 0) /* everything but the teachers (and what feeds them) */
        return strncmp(name, "teacher", 7) != 0 && strncmp(name, HCG_PIPELINE_INPUT_PREFIX, strlen(HCG_PIPELINE_INPUT_PREFIX)) != 0;
    size_t n = strlen(group);
    return strncmp(name, group, n) == 0 && name[n] == '/';
}

hcg_status hcg_workload_pin(hcg_graph *g, const char *group, const char *device)
{
    if (!g || !group || !device || !*device) return hcg_error(HCG_ERR_ARG, "pin: a graph, a group and a device are required");
    int pinned = 0;
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        hcg_node *n = &g->nodes[id];
        if ((hcg_op_info_get(n->op)->flags & HCG_OPF_SOURCE) || !in_group(n->name, group)) continue;
        free(n->pin);
        if (!(n->pin = hcg_strdup(device))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        pinned++;
    }
    return pinned ? HCG_OK : hcg_error(HCG_ERR_NOT_FOUND, "no node of '%s' to pin", group);
}
