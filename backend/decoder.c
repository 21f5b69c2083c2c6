/* decoder.c — text generation (hcg_decoder_*): the decoding loop over a session. A generation
 * runs the prompt once, then one step per new token: kind 3 decoders feed the new token at its
 * position (their caches are state tensors that stay on the device), kind 2 decoders run the step
 * graph of decoder_graph.c (the model's presents written into device caches, the cached length
 * rounded up to a bucket so one plan serves many steps), kind 1 decoders (and any kind with
 * `recompute`) feed the whole sequence, padded at the end to a bucket (a decoder is causal:
 * positions after the last token do not change its logits). The next token of every row is
 * chosen on the host from the last position's logits (backend/sampler.c). */
#include <stdlib.h>
#include <string.h>

#include "backend/decoder_impl.h"
#include "backend/sampler.h"

#define DEFAULT_BUCKET 32

/* ---------------------------------------------------------------- decoders */

hcg_status hcg_decoder_new(const hcg_graph *g, const hcg_decoder_options *opt, hcg_decoder **out)
{
    *out = NULL;
    if (!g) return hcg_error(HCG_ERR_ARG, "decoder: no graph");
    hcg_decoder *d = calloc(1, sizeof *d);
    if (!d) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    d->g = g;
    d->built_batch = -1;
    if (opt) d->opt = *opt;
    if ((opt && opt->devices && !(d->devices = hcg_strdup(opt->devices))) ||
        (opt && opt->passes && !(d->passes = hcg_strdup(opt->passes)))) {
        hcg_decoder_free(d);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    d->opt.devices = d->devices;
    d->opt.passes = d->passes;
    hcg_status st = hcg_decoder_inspect(d);
    if (st) {
        hcg_decoder_free(d);
        return st;
    }
    *out = d;
    return HCG_OK;
}

void hcg_decoder_free(hcg_decoder *d)
{
    if (!d) return;
    hcg_session_free(d->session);
    hcg_graph_free(d->step);
    free(d->devices);
    free(d->passes);
    free(d->step_s);
    free(d);
}

hcg_decoder_kind hcg_decoder_get_kind(const hcg_decoder *d) { return d->kind; }

int64_t hcg_decoder_max_positions(const hcg_decoder *d) { return d->max_positions; }

hcg_session *hcg_decoder_get_session(hcg_decoder *d) { return d->session; }

int64_t hcg_decoder_step_times(const hcg_decoder *d, const double **seconds)
{
    *seconds = d->step_s;
    return d->n_steps;
}

/* The session for batch rows (kind 2: and caches of `capacity` positions). */
static hcg_status ensure_session(hcg_decoder *d, int64_t batch, int64_t capacity)
{
    hcg_status st;
    if (d->kind == HCG_DECODER_PAST_KV && (!d->step || d->capacity != capacity)) {
        hcg_session_free(d->session);
        d->session = NULL;
        if ((st = hcg_decoder_build_step(d, capacity))) return st;
    }
    if (d->session && d->built_batch != batch && (st = hcg_session_reset_states(d->session))) return st;
    if (!d->session) {
        hcg_session_options so = {.devices = d->opt.devices, .profile = d->opt.profile, .passes = d->opt.passes};
        hcg_session_ext ext = {.transform = d->opt.pipeline ? hcg_decoder_pipeline : NULL, .transform_ctx = d};
        if ((st = hcg_session_new_ex(d->step ? d->step : d->g, &so, &ext, &d->session))) return st;
    }
    d->built_batch = batch;
    return HCG_OK;
}

/* ---------------------------------------------------------------- one step's inputs */

typedef struct step_feed {
    const hcg_graph *g; /* the session's graph */
    hcg_tensor *in[8];  /* by the graph's input index */
    int n;
} step_feed;

static void feed_free(step_feed *f)
{
    for (int i = 0; i < f->n; i++) hcg_tensor_free(f->in[i]);
    memset(f->in, 0, sizeof f->in);
}

/* The tensor for role r, shaped [rows, cols] (cols < 0: a scalar), or NULL when the graph has no
 * such input. */
static hcg_status feed_make(const hcg_decoder *d, step_feed *f, dec_role r, hcg_dtype dt, int64_t rows, int64_t cols,
                            hcg_tensor **out)
{
    *out = NULL;
    int i = d->input_of[r];
    if (i < 0) return HCG_OK;
    int64_t dims[2] = {rows, cols};
    hcg_shape s = hcg_shape_make(cols < 0 ? 0 : 2, dims);
    hcg_status st = hcg_tensor_new(dt, &s, &f->in[i]);
    *out = f->in[i];
    return st;
}

static void set_int(hcg_tensor *t, int64_t i, int64_t v)
{
    switch (t->dtype) {
    case HCG_I64: ((int64_t *)t->data)[i] = v; break;
    case HCG_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case HCG_F32: ((float *)t->data)[i] = (float)v; break;
    case HCG_F16: ((uint16_t *)t->data)[i] = v ? 0x3c00 : 0; break; /* masks: 1.0 or 0 */
    default: ((uint8_t *)t->data)[i] = (uint8_t)(v != 0); break;
    }
}

/* Fills the step's inputs: ids = tokens[:, from .. from + len) of a [B, width] buffer, padded
 * with token 0 to `fed` columns; positions from `first`; kind 2: `cached` positions held in a
 * cache of length past_len. */
static hcg_status feed_step(const hcg_decoder *d, step_feed *f, const int64_t *tokens, int64_t batch, int64_t width,
                            int64_t from, int64_t len, int64_t fed, int64_t first, int64_t cached, int64_t past_len)
{
    hcg_tensor *ids, *pos, *mask, *past, *positions;
    f->n = f->g->n_inputs;
    hcg_status st = feed_make(d, f, DEC_IDS, d->ids_dtype, batch, fed, &ids);
    if (!st) st = feed_make(d, f, DEC_POS, HCG_I64, 1, -1, &pos);
    if (!st) st = feed_make(d, f, DEC_MASK, d->mask_dtype, batch, fed, &mask);
    if (!st) st = feed_make(d, f, DEC_PAST_MASK, d->kind == HCG_DECODER_PAST_KV && d->input_of[DEC_MASK] >= 0
                                                     ? d->mask_dtype : HCG_I64, batch, past_len, &past);
    if (!st) st = feed_make(d, f, DEC_POSITIONS, d->positions_dtype, batch, fed, &positions);
    if (st) return st;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t t = 0; t < fed; t++) {
            set_int(ids, b * fed + t, t < len ? tokens[b * width + from + t] : 0);
            if (mask) set_int(mask, b * fed + t, t < len);
            if (positions) set_int(positions, b * fed + t, first + t);
        }
    for (int64_t i = 0; past && i < batch * past_len; i++) set_int(past, i, i % past_len < cached);
    if (pos) set_int(pos, 0, d->kind == HCG_DECODER_PAST_KV ? cached : first);
    return HCG_OK;
}

/* ---------------------------------------------------------------- generation */

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* The first step's plan: the model's first output must be logits [B, T, V]; returns V. */
static hcg_status check_logits(hcg_decoder *d, step_feed *f, int64_t batch, int64_t len, int64_t fed, int64_t *vocab)
{
    hcg_shape shapes[8];
    for (int i = 0; i < f->n; i++) shapes[i] = f->in[i]->shape;
    hcg_plan *p = NULL;
    hcg_status st = hcg_session_plan(d->session, shapes, &p);
    if (st) return st;
    const hcg_graph *b = p->bound;
    const hcg_node *y = &b->nodes[b->outputs[0]];
    if (y->dtype != HCG_F32 || y->shape.rank != 3 || y->shape.dims[0] != batch || y->shape.dims[1] != fed ||
        y->shape.dims[2] < 1) {
        char t[256], padded[128] = "";
        hcg_format_type(b, y->dtype, &y->shape, t, sizeof t);
        if (fed != len)
            snprintf(padded, sizeof padded, " (the prompt [%lld, %lld] padded to a bucket of %lld)", (long long)batch,
                     (long long)len, (long long)fed);
        return hcg_error(HCG_ERR_SHAPE,
                         "the model's first output '%s' is %s for token ids [%lld, %lld]%s; a decoder's first output "
                         "must be the logits, f32 [B, T, V]",
                         b->output_names[0], t, (long long)batch, (long long)fed, padded);
    }
    *vocab = y->shape.dims[2];
    return HCG_OK;
}

static hcg_status check_request(const hcg_decoder *d, const hcg_tensor *prompt, const hcg_generate_options *o)
{
    if (!prompt || prompt->dtype != HCG_I64 || prompt->shape.rank != 2 || prompt->shape.dims[0] < 1 ||
        prompt->shape.dims[1] < 1) {
        char t[256] = "nothing";
        if (prompt) hcg_format_type(d->g, prompt->dtype, &prompt->shape, t, sizeof t);
        return hcg_error(HCG_ERR_ARG, "the prompt must be token ids, i64 [B, S] with B, S >= 1; got %s", t);
    }
    if (o->max_new_tokens < 0) return hcg_error(HCG_ERR_ARG, "max new tokens must be >= 0");
    if (o->bucket < 0) return hcg_error(HCG_ERR_ARG, "the bucket must be >= 1 (0: the default)");
    int64_t s = prompt->shape.dims[1], n = o->max_new_tokens, p = d->max_positions;
    if (p >= 0 && s > p)
        return hcg_error(HCG_ERR_ARG, "the prompt has %lld tokens, more than the model's %lld positions", (long long)s,
                         (long long)p);
    if (p >= 0 && n > 0 && s + n - 1 > p)
        return hcg_error(HCG_ERR_ARG,
                         "%lld prompt tokens and %lld new ones need %lld positions (the last new token is not fed "
                         "back); the model has %lld",
                         (long long)s, (long long)n, (long long)(s + n - 1), (long long)p);
    return HCG_OK;
}

/* Token ids outside [0, vocab) are refused before anything runs. */
static hcg_status check_ids(const hcg_tensor *prompt, int64_t vocab, const hcg_generate_options *o)
{
    const int64_t *ids = prompt->data;
    int64_t s = prompt->shape.dims[1];
    for (int64_t i = 0; i < prompt->shape.dims[0] * s; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return hcg_error(HCG_ERR_ARG, "token id %lld at [%lld, %lld] of the prompt is outside the vocabulary [0, %lld)",
                             (long long)ids[i], (long long)(i / s), (long long)(i % s), (long long)vocab);
    if (o->has_eos && (o->eos < 0 || o->eos >= vocab))
        return hcg_error(HCG_ERR_ARG, "the end-of-sequence id %lld is outside the vocabulary [0, %lld)", (long long)o->eos,
                         (long long)vocab);
    return HCG_OK;
}

static hcg_status note_time(hcg_decoder *d, double seconds)
{
    if (d->n_steps == d->cap_steps) {
        int64_t cap = d->cap_steps ? d->cap_steps * 2 : 64;
        double *q = realloc(d->step_s, sizeof(double) * (size_t)cap);
        if (!q) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        d->step_s = q;
        d->cap_steps = cap;
    }
    d->step_s[d->n_steps++] = seconds;
    return HCG_OK;
}

typedef struct gen_state {
    hcg_decoder *d;
    const hcg_generate_options *o;
    const hcg_tensor *prompt;
    int64_t batch, s, n, width, bucket, vocab;
    bool cached;         /* feeds new tokens only (kinds 2, 3 without recompute) */
    bool exact_cache;    /* kind 2 without a mask or position input: the cache length is exact */
    int64_t *tokens;     /* [batch, width] */
    bool *done;
    int64_t *picked;     /* [batch] */
    hcg_sampler sampler;
    hcg_tensor **outs;   /* the session graph's outputs */
} gen_state;

/* Runs the step that feeds tokens [from, from + len) (from 0 unless cached) and samples one new
 * token per row into column `at`. */
static hcg_status run_step(gen_state *g, int64_t from, int64_t len, int64_t at, bool first)
{
    hcg_decoder *d = g->d;
    double t0 = hcg_now();
    step_feed f = {.g = d->step ? d->step : d->g};
    int64_t fed = len, cached = 0, past_len = 0;
    if (g->cached) {
        cached = from;
        past_len = g->exact_cache ? from : round_up(from, g->bucket);
        if (d->capacity > 0 && past_len > d->capacity) past_len = d->capacity;
    } else {
        fed = round_up(len, g->bucket);
        if (d->max_positions >= len && fed > d->max_positions) fed = d->max_positions;
        if (d->kind == HCG_DECODER_PAST_KV && fed > d->capacity) fed = d->capacity;
    }
    hcg_status st = feed_step(d, &f, g->tokens, g->batch, g->width, from, len, fed, g->cached ? from : 0, cached,
                              past_len);
    if (!st && first) st = check_logits(d, &f, g->batch, len, fed, &g->vocab);
    if (!st && first) st = check_ids(g->prompt, g->vocab, g->o);
    const hcg_graph *sg = f.g;
    for (int j = 0; j < sg->n_outputs; j++) g->outs[j] = NULL;
    if (!st) {
        st = hcg_session_run(d->session, (const hcg_tensor *const *)f.in, g->outs);
        if (st) hcg_error_prefix(st, "running the step with %lld token%s at position %lld: ", (long long)len,
                                 len == 1 ? "" : "s", (long long)from);
    }
    feed_free(&f);
    if (st) return st;
    const float *logits = g->outs[0]->data;
    int64_t rows = g->outs[0]->shape.dims[1], last = len - 1; /* the last real token's logits */
    for (int64_t b = 0; b < g->batch && !st; b++) {
        int64_t tok;
        st = hcg_sampler_pick(&g->sampler, logits + (b * rows + last) * g->vocab, g->vocab, &tok);
        if (st) break;
        if (g->done[b]) tok = g->o->eos;
        if (g->o->has_eos && tok == g->o->eos) g->done[b] = true;
        g->picked[b] = tok;
        g->tokens[b * g->width + at] = tok;
    }
    for (int j = 0; j < sg->n_outputs; j++) {
        hcg_tensor_free(g->outs[j]);
        g->outs[j] = NULL;
    }
    if (!st) st = note_time(d, hcg_now() - t0);
    if (!st && g->o->on_step) st = g->o->on_step(g->o->ctx, at - g->s, g->picked, g->batch);
    return st;
}

hcg_status hcg_decoder_generate(hcg_decoder *d, const hcg_tensor *prompt, const hcg_generate_options *o,
                                hcg_tensor **tokens)
{
    *tokens = NULL;
    if (!d || !o) return hcg_error(HCG_ERR_ARG, "generate: no decoder or no options");
    hcg_status st = check_request(d, prompt, o);
    if (st) return st;
    gen_state g = {.d = d, .o = o, .prompt = prompt, .batch = prompt->shape.dims[0], .s = prompt->shape.dims[1],
                   .n = o->max_new_tokens};
    g.width = g.s + g.n;
    g.bucket = o->bucket ? o->bucket : DEFAULT_BUCKET;
    g.cached = d->kind != HCG_DECODER_RECOMPUTE && !o->recompute;
    g.exact_cache = d->kind == HCG_DECODER_PAST_KV && (d->input_of[DEC_MASK] < 0 || d->input_of[DEC_POSITIONS] < 0);
    if ((st = hcg_sampler_init(&g.sampler, o->greedy, o->temperature, o->top_k, o->top_p, o->seed))) return st;
    int64_t capacity = d->max_positions >= 0 ? d->max_positions : round_up(g.width, 256);
    hcg_shape ts = hcg_shape_make(2, (int64_t[]){g.batch, g.width});
    g.done = calloc((size_t)g.batch, sizeof(bool));
    g.picked = calloc((size_t)g.batch, sizeof(int64_t));
    if (!g.done || !g.picked || (st = hcg_tensor_new(HCG_I64, &ts, tokens))) {
        if (!st) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = ensure_session(d, g.batch, capacity))) goto done;
    const hcg_graph *sg = d->step ? d->step : d->g;
    if (!(g.outs = calloc((size_t)sg->n_outputs + 1, sizeof(hcg_tensor *)))) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    g.tokens = (*tokens)->data;
    for (int64_t b = 0; b < g.batch; b++) {
        memcpy(g.tokens + b * g.width, (const int64_t *)prompt->data + b * g.s, sizeof(int64_t) * (size_t)g.s);
        for (int64_t t = g.s; t < g.width; t++) g.tokens[b * g.width + t] = o->has_eos ? o->eos : 0;
    }
    d->n_steps = 0;
    for (int64_t k = 0; k < g.n && !st; k++) {
        int64_t at = g.s + k; /* the column this step fills */
        if (k == 0 || !g.cached) st = run_step(&g, 0, at, at, k == 0);
        else st = run_step(&g, at - 1, 1, at, false);
        bool all = o->has_eos;
        for (int64_t b = 0; b < g.batch; b++) all &= g.done[b];
        if (all) break; /* the remaining columns hold eos already */
    }
done:
    hcg_sampler_free(&g.sampler);
    free(g.done);
    free(g.picked);
    free(g.outs);
    if (st) {
        hcg_tensor_free(*tokens);
        *tokens = NULL;
    }
    return st;
}
