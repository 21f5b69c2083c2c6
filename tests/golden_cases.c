/* golden_cases.c — loading the golden op cases, building their graphs and running them through a
 * session (see golden_cases.h). */
#include "golden_cases.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/op_table.h"

/* ---------------------------------------------------------------- loading */

static const char *json_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_number(const cJSON *obj, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static bool load_case(const cJSON *j, gc_case *c)
{
    memset(c, 0, sizeof *c);
    c->name = json_string(j, "name");
    c->op_name = json_string(j, "op");
    c->attrs = cJSON_GetObjectItemCaseSensitive(j, "attrs");
    c->output = json_string(j, "output");
    c->error = json_string(j, "error");
    c->status = json_string(j, "status");
    c->rtol = json_number(j, "rtol", -1);
    c->atol = json_number(j, "atol", -1);
    if (!c->name || !c->op_name) return false;
    if (!hcg_op_parse(c->op_name, &c->op)) {
        fprintf(stderr, "case %s: unknown op '%s'\n", c->name, c->op_name);
        return false;
    }
    if (!c->output && !c->error) return false;
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(j, "inputs"), *in;
    if (!cJSON_IsArray(ins)) return false;
    cJSON_ArrayForEach(in, ins)
    {
        if (!cJSON_IsString(in) || c->n_inputs == GC_MAX_INPUTS) return false;
        c->inputs[c->n_inputs++] = in->valuestring;
    }
    const cJSON *states = cJSON_GetObjectItemCaseSensitive(j, "states");
    const cJSON *finals = cJSON_GetObjectItemCaseSensitive(j, "state_outputs"), *f = NULL;
    if (!states) return true;
    if (!cJSON_IsArray(states) || (c->output && cJSON_GetArraySize(finals) != cJSON_GetArraySize(states))) return false;
    if (finals) f = finals->child;
    cJSON_ArrayForEach(in, states)
    {
        if (!cJSON_IsNumber(in) || in->valueint < 0 || in->valueint >= c->n_inputs) return false;
        if (f && !cJSON_IsString(f)) return false;
        c->states[c->n_states] = in->valueint;
        c->state_outputs[c->n_states++] = f ? f->valuestring : NULL;
        if (f) f = f->next;
    }
    return true;
}

static int state_index(const gc_case *c, int input)
{
    for (int k = 0; k < c->n_states; k++)
        if (c->states[k] == input) return k;
    return -1;
}

bool gc_load(const char *dir, gc_suite *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    char path[1200];
    snprintf(path, sizeof path, "%s/cases.json", dir);
    size_t len;
    char *text = tl_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "cannot read %s (run tests/golden/make_golden.py)\n", path);
        return false;
    }
    out->root = cJSON_Parse(text);
    free(text);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(out->root, "cases"), *j;
    if (!cJSON_IsArray(cases)) {
        fprintf(stderr, "%s: no \"cases\" array\n", path);
        gc_free(out);
        return false;
    }
    out->cases = calloc((size_t)cJSON_GetArraySize(cases) + 1, sizeof(gc_case));
    if (!out->cases) {
        gc_free(out);
        return false;
    }
    cJSON_ArrayForEach(j, cases)
    {
        if (!load_case(j, &out->cases[out->n_cases])) {
            fprintf(stderr, "%s: case %d is malformed\n", path, out->n_cases);
            gc_free(out);
            return false;
        }
        out->n_cases++;
    }
    return true;
}

void gc_free(gc_suite *s)
{
    cJSON_Delete(s->root);
    free(s->cases);
    memset(s, 0, sizeof *s);
}

void gc_default_tolerance(hcg_dtype dt, double *rtol, double *atol)
{
    if (dt == HCG_F32) {
        *rtol = 1e-5;
        *atol = 1e-6;
    } else {
        *rtol = 0;
        *atol = 0;
    }
}

/* ---------------------------------------------------------------- building */

/* A JSON number as an int64 (the cases write INT64_MAX/MIN as slice bounds; cJSON keeps numbers
 * as doubles, where those become +-2^63: clamp them back). */
static int64_t json_int64(double v)
{
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
}

/* Converts one JSON attribute to an hcg_attr of the kind the op's schema gives it (JSON does not
 * tell 1 from 1.0). Unknown names keep a kind guessed from the JSON, for the builder to reject. */
bool gc_convert_attr(hcg_op op, const cJSON *j, hcg_attr *a, void **storage)
{
    int slot = hcg_attr_slot_accepting(op, j->string);
    hcg_attr_kind kind = slot >= 0 ? hcg_op_info_get(op)->attrs[slot].kind : HCG_ATTR_NONE;
    memset(a, 0, sizeof *a);
    a->name = j->string;
    *storage = NULL;
    if (kind == HCG_ATTR_NONE) {
        if (cJSON_IsString(j)) kind = HCG_ATTR_STRING;
        else if (cJSON_IsArray(j)) kind = HCG_ATTR_INTS;
        else if (cJSON_IsNumber(j)) kind = j->valuedouble == floor(j->valuedouble) ? HCG_ATTR_INT : HCG_ATTR_FLOAT;
        else return false;
    }
    a->kind = kind;
    switch (kind) {
    case HCG_ATTR_INT:
        if (!cJSON_IsNumber(j)) return false;
        a->i = json_int64(j->valuedouble);
        return true;
    case HCG_ATTR_FLOAT:
        if (!cJSON_IsNumber(j)) return false;
        a->f = j->valuedouble;
        return true;
    case HCG_ATTR_STRING:
        if (!cJSON_IsString(j)) return false;
        a->s = j->valuestring;
        return true;
    case HCG_ATTR_INTS:
    case HCG_ATTR_FLOATS: {
        if (!cJSON_IsArray(j)) return false;
        int n = cJSON_GetArraySize(j), i = 0;
        const cJSON *e;
        void *p = calloc((size_t)n + 1, 8);
        if (!p) return false;
        cJSON_ArrayForEach(e, j)
        {
            if (!cJSON_IsNumber(e)) {
                free(p);
                return false;
            }
            if (kind == HCG_ATTR_INTS) ((int64_t *)p)[i++] = json_int64(e->valuedouble);
            else ((double *)p)[i++] = e->valuedouble;
        }
        *storage = p;
        a->n = n;
        if (kind == HCG_ATTR_INTS) a->ints = p;
        else a->floats = p;
        return true;
    }
    default: return false;
    }
}

void gc_free_tensors(hcg_tensor **t, int n)
{
    if (!t) return;
    for (int i = 0; i < n; i++) hcg_tensor_free(t[i]);
    free(t);
}

hcg_status gc_build(const gc_suite *s, const gc_case *c, hcg_graph **gout, hcg_tensor ***inputs_out)
{
    char path[1400];
    hcg_status st = HCG_OK;
    hcg_graph *g = hcg_graph_new();
    hcg_tensor **inputs = calloc((size_t)c->n_inputs + 1, sizeof *inputs);
    hcg_attr attrs[HCG_MAX_ATTRS + 4];
    void *storage[HCG_MAX_ATTRS + 4] = {NULL};
    int n_attrs = 0;
    hcg_id ids[GC_MAX_INPUTS];
    *gout = NULL;
    *inputs_out = NULL;
    if (!g || !inputs) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < c->n_inputs; i++) {
        char name[16];
        snprintf(path, sizeof path, "%s/%s", s->dir, c->inputs[i]);
        if ((st = hcg_npy_load(path, &inputs[i]))) goto fail;
        snprintf(name, sizeof name, "x%d", i);
        ids[i] = state_index(c, i) >= 0
                     ? hcg_state(g, name, inputs[i]->dtype, inputs[i]->shape.rank, inputs[i]->shape.dims)
                     : hcg_input(g, name, inputs[i]->dtype, inputs[i]->shape.rank, inputs[i]->shape.dims);
    }
    const cJSON *j;
    cJSON_ArrayForEach(j, c->attrs)
    {
        if (n_attrs == (int)(sizeof attrs / sizeof attrs[0]) || !gc_convert_attr(c->op, j, &attrs[n_attrs], &storage[n_attrs])) {
            st = hcg_error(HCG_ERR_ARG, "case %s: attribute '%s' cannot be converted", c->name, j->string);
            goto fail;
        }
        n_attrs++;
    }
    hcg_id y = hcg_add_node(g, c->op, "node", ids, c->n_inputs, attrs, n_attrs);
    if (y < 0) {
        st = (hcg_status)-y;
        goto fail;
    }
    if ((st = hcg_output(g, y, "y"))) goto fail;
    for (int k = 0; k < c->n_states; k++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", c->states[k]);
        if ((st = hcg_output(g, ids[c->states[k]], name))) goto fail;
    }
    for (int i = 0; i < n_attrs; i++) free(storage[i]);
    *gout = g;
    *inputs_out = inputs;
    return HCG_OK;
fail:
    for (int i = 0; i < n_attrs; i++) free(storage[i]);
    gc_free_tensors(inputs, c->n_inputs);
    hcg_graph_free(g);
    return st;
}

/* ---------------------------------------------------------------- running */

hcg_status gc_session_run(const gc_case *c, hcg_session *s, hcg_tensor **inputs, hcg_tensor **outputs)
{
    const hcg_tensor *run_inputs[GC_MAX_INPUTS];
    int n = 0;
    for (int i = 0; i < c->n_inputs; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        hcg_status st = state_index(c, i) >= 0 ? hcg_session_set_state(s, name, inputs[i]) : HCG_OK;
        if (st) return st;
        if (state_index(c, i) < 0) run_inputs[n++] = inputs[i];
    }
    return hcg_session_run(s, run_inputs, outputs);
}

/* Whether msg contains one of the '|'-separated alternatives of want. */
static bool message_matches(const char *msg, const char *want)
{
    char alt[512];
    for (const char *p = want;;) {
        size_t n = strcspn(p, "|");
        snprintf(alt, sizeof alt, "%.*s", (int)n, p);
        if (strstr(msg, alt)) return true;
        if (!p[n]) return false;
        p += n + 1;
    }
}

/* An expected failure: status and message must match. */
static gc_outcome expect_error(const gc_case *c, hcg_status st, const char *stage)
{
    const char *msg = hcg_last_error();
    bool ok = st != HCG_OK && strcmp(hcg_status_name(st), c->status ? c->status : "shape error") == 0 &&
              message_matches(msg, c->error);
    CHECK(ok, "%s: expected '%s' containing \"%s\", got %s at %s: %s", c->name, c->status ? c->status : "shape error",
          c->error, st ? hcg_status_name(st) : "success", stage, st ? msg : "");
    return ok ? GC_PASS : GC_FAIL;
}

gc_outcome gc_run(const gc_suite *s, const gc_case *c, const gc_options *opt)
{
    hcg_graph *g = NULL;
    hcg_tensor **inputs = NULL, *got[1 + GC_MAX_INPUTS] = {NULL}, *want = NULL;
    hcg_session *sess = NULL;
    gc_outcome out = GC_FAIL;
    const char *stage = "build";
    hcg_status st = gc_build(s, c, &g, &inputs);
    if (!st && opt->pin) {
        stage = "pin";
        st = hcg_pin(g, hcg_graph_find(g, "node"), opt->pin);
    }
    if (!st) {
        stage = "session";
        st = hcg_session_new(g, &(hcg_session_options){.devices = opt->devices}, &sess);
    }
    if (!st) {
        stage = "run";
        st = gc_session_run(c, sess, inputs, got);
    }
    if (st == HCG_ERR_UNSUPPORTED && opt->skip_unsupported) {
        out = GC_SKIP;
    } else if (c->error) {
        out = expect_error(c, st, stage);
    } else if (st) {
        CHECK(false, "%s: %s failed: %s: %s", c->name, stage, hcg_status_name(st), hcg_last_error());
    } else {
        out = GC_PASS;
        for (int k = -1; k < c->n_states; k++) { /* y, then the states' final values */
            char path[1400], what[300];
            snprintf(path, sizeof path, "%s/%s", s->dir, k < 0 ? c->output : c->state_outputs[k]);
            snprintf(what, sizeof what, "%s%s", c->name, k < 0 ? "" : " (final state)");
            hcg_tensor_free(want);
            want = NULL;
            if (!CHECK_OK(hcg_npy_load(path, &want))) {
                out = GC_FAIL;
                break;
            }
            double rtol, atol;
            gc_default_tolerance(want->dtype, &rtol, &atol);
            if (c->rtol >= 0) rtol = c->rtol;
            if (c->atol >= 0) atol = c->atol;
            if (!tl_tensor_close(got[k + 1], want, rtol, atol, what)) out = GC_FAIL;
        }
    }
    for (int k = 0; k <= c->n_states; k++) hcg_tensor_free(got[k]);
    hcg_tensor_free(want);
    hcg_session_free(sess);
    gc_free_tensors(inputs, c->n_inputs);
    hcg_graph_free(g);
    return out;
}
