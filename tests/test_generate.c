/* test_generate.c — text generation (issue 11) against PyTorch: the trained GPT of models/gpt as
 * hcg's cached decoder (gpt.hcg, kind 3), and its ONNX exports (tests/gen.cmake exports them into
 * the build tree: gpt.onnx, kind 1; gpt_past.onnx with past_key_values / present, kind 2).
 *
 * - greedy tokens of the kind-1 ONNX decoder equal PyTorch's (tests/gen/greedy_b2_16.npy, batch 2,
 *   16 new tokens) on cpu and opencl:0;
 * - a real Hugging Face GPT-2 exported with past_key_values (kind 2) gives transformers' greedy tokens;
 * - the cached paths (kinds 2 and 3) give the same 80 new tokens as recomputing the prefix and as
 *   PyTorch (greedy_b2_80.npy) on cpu, opencl:0, and (in the two-device run) two POCL devices with
 *   and without the layers pipelined over them (then the caches live on the device of their
 *   layer), with the rewrite passes and without;
 * - the sampler against an independent implementation (tests/gen/sampler_ref.py): single rows,
 *   and seeded sampling on PyTorch's logits (sampled_b2_24.npy), the same on every device;
 * - eos padding; state tensors persisting across runs of a session (set, get, reset);
 * - bad input: a prompt longer than the positions, token ids outside the vocabulary, a model
 *   whose first output is not [B, T, V], sampling options out of range; through the API and
 *   through `hcg generate`, which also streams text and writes tokens.npy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "backend/decoder_impl.h"
#include "backend/sampler.h"
#include "testlib.h"

static char onnx_dir[1024];

static const char *onnx_path(const char *name)
{
    static char buf[4][1200];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 1200, "%s/%s", onnx_dir, name);
    return p;
}

/* OpenCL device names, in order. */
static int opencl_devices(char names[][32], int max)
{
    int n = 0;
    for (int i = 0; i < hcg_device_count() && n < max; i++) {
        const char *name = hcg_device_name(hcg_device_get(i));
        if (strncmp(name, "opencl:", 7) == 0) snprintf(names[n++], 32, "%s", name);
    }
    return n;
}

static bool same_tokens(const hcg_tensor *got, const hcg_tensor *want, const char *what)
{
    if (!CHECK(got && want && got->dtype == HCG_I64 && hcg_shape_equal(&got->shape, &want->shape),
               "%s: tokens of the wrong type", what))
        return false;
    const int64_t *g = got->data, *w = want->data;
    int64_t width = got->shape.dims[1];
    for (int64_t i = 0; i < width * got->shape.dims[0]; i++)
        if (g[i] != w[i])
            return CHECK(false, "%s: row %lld, column %lld: token %lld, want %lld", what, (long long)(i / width),
                         (long long)(i % width), (long long)g[i], (long long)w[i]);
    return CHECK(true, "%s", what);
}

typedef struct gen_run {
    const char *model, *devices, *passes;
    bool pipeline, recompute;
    hcg_decoder_kind kind;
    int64_t n;
    hcg_generate_options opt; /* greedy unless set */
} gen_run;

/* Generates with a fresh decoder; checks the kind. */
static hcg_tensor *generate(const gen_run *r, const hcg_tensor *prompt)
{
    hcg_graph *g = NULL;
    hcg_decoder *d = NULL;
    hcg_tensor *tokens = NULL;
    if (!CHECK_OK(hcg_load(r->model, &g))) return NULL;
    hcg_decoder_options o = {.devices = r->devices, .passes = r->passes, .pipeline = r->pipeline};
    if (CHECK_OK(hcg_decoder_new(g, &o, &d))) {
        CHECK(hcg_decoder_get_kind(d) == r->kind, "%s is a kind-%d decoder, not %d", r->model,
              (int)hcg_decoder_get_kind(d), (int)r->kind);
        hcg_generate_options go = r->opt;
        if (!go.temperature) go.greedy = true;
        go.max_new_tokens = r->n;
        go.recompute = r->recompute;
        hcg_status st = hcg_decoder_generate(d, prompt, &go, &tokens);
        CHECK(st == HCG_OK, "%s on %s: %s", r->model, r->devices, st ? hcg_last_error() : "");
    }
    hcg_decoder_free(d);
    hcg_graph_free(g);
    return tokens;
}

/* ---------------------------------------------------------------- the sampler */

static void test_sampler_cases(void)
{
    size_t len;
    char *text = tl_read_file(tl_src("tests/gen/sampler_cases.json"), &len);
    cJSON *root = cJSON_Parse(text);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases"), *c;
    int n = 0;
    cJSON_ArrayForEach(c, cases)
    {
        const cJSON *lg = cJSON_GetObjectItemCaseSensitive(c, "logits"), *v;
        float logits[64];
        int64_t nl = 0;
        cJSON_ArrayForEach(v, lg) logits[nl++] = cJSON_IsNumber(v) ? (float)v->valuedouble : -INFINITY;
        /* JSON has no -inf: the generator writes null for it */
        hcg_sampler s;
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        if (!CHECK_OK(hcg_sampler_init(&s, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "greedy")),
                                       cJSON_GetObjectItemCaseSensitive(c, "temperature")->valuedouble,
                                       (int64_t)cJSON_GetObjectItemCaseSensitive(c, "top_k")->valuedouble,
                                       cJSON_GetObjectItemCaseSensitive(c, "top_p")->valuedouble,
                                       (uint64_t)cJSON_GetObjectItemCaseSensitive(c, "seed")->valuedouble)))
            continue;
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "tokens"), *w;
        int k = 0;
        cJSON_ArrayForEach(w, want)
        {
            int64_t tok = -1;
            CHECK_OK(hcg_sampler_pick(&s, logits, nl, &tok));
            CHECK(tok == (int64_t)w->valuedouble, "sampler case %s, pick %d: token %lld, want %d", name, k,
                  (long long)tok, (int)w->valuedouble);
            k++;
        }
        hcg_sampler_free(&s);
        n++;
    }
    CHECK(n >= 30, "the sampler cases were read (%d)", n);
    cJSON_Delete(root);
    free(text);
    /* options out of range */
    hcg_sampler s;
    CHECK_FAILS(hcg_sampler_init(&s, false, 1.0, 0, 0.0, 1), HCG_ERR_ARG, "top-p must be in (0, 1]");
    CHECK_FAILS(hcg_sampler_init(&s, false, 1.0, 0, 1.5, 1), HCG_ERR_ARG, "top-p must be in (0, 1]");
    CHECK_FAILS(hcg_sampler_init(&s, false, 0.0, 0, 1.0, 1), HCG_ERR_ARG, "temperature must be a number > 0");
    CHECK_FAILS(hcg_sampler_init(&s, false, 1.0, -2, 1.0, 1), HCG_ERR_ARG, "top-k must be >= 0");
    float nan_row[3] = {0, NAN, 1};
    int64_t tok;
    if (CHECK_OK(hcg_sampler_init(&s, true, 1, 0, 1, 1)))
        CHECK_FAILS(hcg_sampler_pick(&s, nan_row, 3, &tok), HCG_ERR_RUNTIME, "the logits hold NaN");
    hcg_sampler_free(&s);
}

/* ---------------------------------------------------------------- state tensors in a session */

static void test_session_states(const char *devices)
{
    hcg_graph *g = hcg_graph_new();
    int64_t six = 6, two = 2;
    hcg_id acc = hcg_state(g, "acc", HCG_F32, 1, &six);
    hcg_id v = hcg_input(g, "v", HCG_F32, 1, &two);
    hcg_id pos = hcg_input(g, "pos", HCG_I64, 0, NULL);
    hcg_id in[3] = {acc, v, pos};
    hcg_attr axis = HCG_ATTR_I("axis", 0);
    hcg_id w = hcg_add_node(g, HCG_OP_CACHE_WRITE, "w", in, 3, &axis, 1);
    hcg_session *s = NULL;
    if (!CHECK(w >= 0 && hcg_output(g, acc, "acc") == HCG_OK, "the state graph builds") ||
        !CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = devices}, &s))) {
        hcg_graph_free(g);
        return;
    }
    hcg_tensor *tv = NULL, *tp = NULL, *out = NULL, *got = NULL;
    hcg_shape s2 = hcg_shape_make(1, &two), s0 = hcg_shape_make(0, NULL);
    hcg_tensor_new(HCG_F32, &s2, &tv);
    hcg_tensor_new(HCG_I64, &s0, &tp);
    float *vd = tv->data;
    int64_t *pd = tp->data;
    const hcg_tensor *ins[2] = {tv, tp};
    /* runs write at pos; what they wrote stays for the next run */
    static const float want1[6] = {1, 2, 0, 0, 0, 0}, want2[6] = {1, 2, 0, 5, 6, 0}, want3[6] = {0, 7, 8, 0, 0, 0};
    vd[0] = 1, vd[1] = 2, *pd = 0;
    if (CHECK_OK(hcg_session_run(s, ins, &out)))
        CHECK(memcmp(out->data, want1, sizeof want1) == 0, "%s: the first run wrote at 0", devices);
    hcg_tensor_free(out);
    vd[0] = 5, vd[1] = 6, *pd = 3;
    if (CHECK_OK(hcg_session_run(s, ins, &out)))
        CHECK(memcmp(out->data, want2, sizeof want2) == 0, "%s: the second run kept the first's values", devices);
    hcg_tensor_free(out);
    if (CHECK_OK(hcg_session_get_state(s, "acc", &got)))
        CHECK(memcmp(got->data, want2, sizeof want2) == 0, "%s: get_state reads the device's value", devices);
    hcg_tensor_free(got);
    /* a position that does not fit: an error naming the node, the state untouched */
    *pd = 5;
    CHECK_FAILS(hcg_session_run(s, ins, &out), HCG_ERR_RUNTIME, "position 5 with 2 new entries does not fit the cache's 6 positions");
    if (CHECK_OK(hcg_session_get_state(s, "acc", &got)))
        CHECK(memcmp(got->data, want2, sizeof want2) == 0, "%s: a failed write leaves the state", devices);
    hcg_tensor_free(got);
    /* reset: zeros again */
    CHECK_OK(hcg_session_reset_states(s));
    vd[0] = 7, vd[1] = 8, *pd = 1;
    if (CHECK_OK(hcg_session_run(s, ins, &out)))
        CHECK(memcmp(out->data, want3, sizeof want3) == 0, "%s: after a reset the state starts at zeros", devices);
    hcg_tensor_free(out);
    CHECK_FAILS(hcg_session_get_state(s, "nope", &got), HCG_ERR_NOT_FOUND, "no state 'nope'");
    hcg_tensor_free(tv);
    hcg_tensor_free(tp);
    hcg_session_free(s);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- greedy against PyTorch */

static void test_kind1_pytorch(const char *devices, const hcg_tensor *prompt)
{
    hcg_tensor *want = tl_load_npy("tests/gen", "greedy_b2_16.npy");
    gen_run r = {.model = onnx_path("gpt.onnx"), .devices = devices, .kind = HCG_DECODER_RECOMPUTE, .n = 16};
    hcg_tensor *got = generate(&r, prompt);
    char what[256];
    snprintf(what, sizeof what, "kind-1 ONNX decoder, greedy, batch 2, 16 tokens on %s = PyTorch", devices);
    same_tokens(got, want, what);
    hcg_tensor_free(got);
    hcg_tensor_free(want);
}

/* Kinds 3 and 2 cached, against recomputing and PyTorch, 80 new tokens. */
static void test_cached(const char *devices, bool pipeline, const char *passes, const hcg_tensor *prompt,
                        const hcg_tensor *want)
{
    gen_run runs[] = {
        {.model = tl_src("models/gpt/gpt.hcg"), .kind = HCG_DECODER_STATE_KV},
        {.model = tl_src("models/gpt/gpt.hcg"), .kind = HCG_DECODER_STATE_KV, .recompute = true},
        {.model = onnx_path("gpt_past.onnx"), .kind = HCG_DECODER_PAST_KV},
        {.model = onnx_path("gpt.onnx"), .kind = HCG_DECODER_RECOMPUTE},
    };
    static const char *const label[] = {"gpt.hcg cached (kind 3)", "gpt.hcg recomputing", "gpt_past.onnx cached (kind 2)",
                                        "gpt.onnx recomputing (kind 1)"};
    hcg_tensor *first = NULL;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        if (pipeline && runs[i].recompute) continue;
        runs[i].devices = devices;
        runs[i].passes = passes;
        runs[i].pipeline = pipeline;
        runs[i].n = 80;
        hcg_graph *g = NULL;
        hcg_decoder *d = NULL;
        hcg_tensor *got = NULL;
        if (!CHECK_OK(hcg_load(runs[i].model, &g))) continue;
        hcg_decoder_options o = {.devices = devices, .passes = passes, .pipeline = pipeline};
        if (CHECK_OK(hcg_decoder_new(g, &o, &d))) {
            CHECK(hcg_decoder_get_kind(d) == runs[i].kind, "%s: kind %d", label[i], (int)hcg_decoder_get_kind(d));
            hcg_generate_options go = {.greedy = true, .max_new_tokens = 80, .recompute = runs[i].recompute};
            if (!CHECK_OK(hcg_decoder_generate(d, prompt, &go, &got))) got = NULL;
        }
        char what[512];
        snprintf(what, sizeof what, "%s on %s%s, passes %s: 80 greedy tokens = PyTorch's", label[i], devices,
                 pipeline ? " (pipelined)" : "", passes ? passes : "all");
        if (got) same_tokens(got, want, what);
        if (got && !first) first = got;
        else hcg_tensor_free(got);
        /* plans: kind 3 one for the prompt and one for every later token; kind 2 the prompt, then
         * one per cache bucket of 32 (cached lengths 12 .. 91); recomputing one per padded length */
        static const int plans[] = {2, 3, 4, 3};
        hcg_session *ses = d ? hcg_decoder_get_session(d) : NULL;
        if (ses && !pipeline)
            CHECK(ses->plans_built == plans[i], "%s on %s: %d plans for 80 tokens, want %d", label[i], devices,
                  ses->plans_built, plans[i]);
        if (d && !pipeline && i == 0) {
            /* the cache on the device: positions 0 .. 90 (12 + 80 - 1 fed) written, the rest zeros */
            hcg_tensor *kc = NULL;
            if (CHECK_OK(hcg_session_get_state(hcg_decoder_get_session(d), "h0.k_cache", &kc))) {
                const float *c = kc->data;
                bool shape = kc->shape.rank == 4 && kc->shape.dims[0] == 2 && kc->shape.dims[2] == 128;
                int64_t p = shape ? kc->shape.dims[2] : 0, dh = shape ? kc->shape.dims[3] : 0, written = 0, zero = 0;
                for (int64_t bh = 0; shape && bh < kc->shape.dims[0] * kc->shape.dims[1]; bh++)
                    for (int64_t t = 0; t < p; t++) {
                        bool any = false;
                        for (int64_t e = 0; e < dh; e++) any |= c[(bh * p + t) * dh + e] != 0;
                        written += t < 91 && any;
                        zero += t >= 91 && !any;
                    }
                CHECK(shape && written == 8 * 91 && zero == 8 * 37,
                      "%s on %s: the key cache holds positions 0 .. 90 of every row and head (%lld written, %lld zero)",
                      label[i], devices, (long long)written, (long long)zero);
            }
            hcg_tensor_free(kc);
        }
        if (d && pipeline && runs[i].kind != HCG_DECODER_RECOMPUTE) {
            /* each layer's cache on its layer's device: the first and the last differ */
            hcg_session *s = hcg_decoder_get_session(d);
            hcg_state_store *store = s->ext.states;
            const hcg_device *d0 = store && store->n ? store->e[0]->device : NULL;
            const hcg_device *dn = store && store->n ? store->e[store->n - 1]->device : NULL;
            CHECK(d0 && dn && d0 != dn, "%s pipelined on %s: the first and last layers' caches on %s and %s", label[i],
                  devices, d0 ? d0->name : "?", dn ? dn->name : "?");
        }
        hcg_decoder_free(d);
        hcg_graph_free(g);
    }
    hcg_tensor_free(first);
}

/* Seeded sampling: the reference (sampler_ref.py on PyTorch's logits), on every device. */
static void test_sampling(const char *devices, const hcg_tensor *prompt)
{
    hcg_tensor *want = tl_load_npy("tests/gen", "sampled_b2_24.npy");
    const char *models[] = {onnx_path("gpt.onnx"), tl_src("models/gpt/gpt.hcg")};
    hcg_decoder_kind kinds[] = {HCG_DECODER_RECOMPUTE, HCG_DECODER_STATE_KV};
    for (int i = 0; i < 2; i++) {
        gen_run r = {.model = models[i], .devices = devices, .kind = kinds[i], .n = 24,
                     .opt = {.temperature = 0.8, .top_k = 20, .top_p = 0.9, .seed = 1234}};
        hcg_tensor *got = generate(&r, prompt);
        char what[512];
        snprintf(what, sizeof what, "seeded sampling (T 0.8, top-k 20, top-p 0.9) with %s on %s = the reference",
                 models[i], devices);
        same_tokens(got, want, what);
        hcg_tensor_free(got);
    }
    hcg_tensor_free(want);
}

/* A row that produces eos stops there: the rest of it is eos. */
static void test_eos(const hcg_tensor *prompt, const hcg_tensor *greedy)
{
    int64_t s = prompt->shape.dims[1], w = greedy->shape.dims[1], n = 40;
    const int64_t *g = greedy->data;
    int64_t eos = g[s + 5]; /* row 0's sixth new token */
    hcg_tensor *want = NULL;
    hcg_shape ws = hcg_shape_make(2, (int64_t[]){2, s + n});
    if (!CHECK_OK(hcg_tensor_new(HCG_I64, &ws, &want))) return;
    int64_t *wd = want->data;
    for (int64_t b = 0; b < 2; b++) {
        bool done = false;
        for (int64_t t = 0; t < s + n; t++) {
            wd[b * (s + n) + t] = done ? eos : g[b * w + t];
            if (t >= s && g[b * w + t] == eos) done = true;
        }
    }
    gen_run r = {.model = tl_src("models/gpt/gpt.hcg"), .devices = "cpu", .kind = HCG_DECODER_STATE_KV, .n = n,
                 .opt = {.has_eos = true, .eos = eos}};
    hcg_tensor *got = generate(&r, prompt);
    same_tokens(got, want, "rows that hit eos are padded with it");
    hcg_tensor_free(got);
    hcg_tensor_free(want);
}

/* A real Hugging Face GPT-2 export with past_key_values (tests/gen/export_hf_gpt2.py): hcg's kind-2
 * path gives transformers' own greedy tokens. */
static void test_hf_gpt2(const char *devices, bool pipeline)
{
    const char *dir = getenv("HCG_HF_GPT2");
    if (!CHECK(dir != NULL, "HCG_HF_GPT2 names the exported Hugging Face GPT-2 (tests/gen.cmake)")) return;
    char path[3][1200];
    snprintf(path[0], sizeof path[0], "%s/hf_gpt2_past.onnx", dir);
    snprintf(path[1], sizeof path[1], "%s/prompt.npy", dir);
    snprintf(path[2], sizeof path[2], "%s/hf_greedy.npy", dir);
    hcg_tensor *prompt = NULL, *want = NULL;
    if (!CHECK_OK(hcg_npy_load(path[1], &prompt)) || !CHECK_OK(hcg_npy_load(path[2], &want))) goto done;
    gen_run r = {.model = path[0], .devices = devices, .pipeline = pipeline, .kind = HCG_DECODER_PAST_KV, .n = 24};
    hcg_tensor *got = generate(&r, prompt);
    char what[256];
    snprintf(what, sizeof what, "Hugging Face GPT-2 with past_key_values on %s%s = transformers' greedy tokens", devices,
             pipeline ? " (pipelined)" : "");
    same_tokens(got, want, what);
    hcg_tensor_free(got);
done:
    hcg_tensor_free(prompt);
    hcg_tensor_free(want);
}

/* ---------------------------------------------------------------- bad input */

static void expect_generate_fails(const char *model, const hcg_tensor *prompt, const hcg_generate_options *o,
                                  hcg_status want, const char *needle)
{
    hcg_graph *g = NULL;
    hcg_decoder *d = NULL;
    hcg_tensor *tokens = NULL;
    if (!CHECK_OK(hcg_load(model, &g))) return;
    if (CHECK_OK(hcg_decoder_new(g, &(hcg_decoder_options){.devices = "cpu"}, &d))) {
        hcg_status st = hcg_decoder_generate(d, prompt, o, &tokens);
        CHECK(st == want && strstr(hcg_last_error(), needle) && !tokens, "%s: wanted %s mentioning '%s', got %s: %s",
              model, hcg_status_name(want), needle, hcg_status_name(st), st ? hcg_last_error() : "success");
    }
    hcg_tensor_free(tokens);
    hcg_decoder_free(d);
    hcg_graph_free(g);
}

static hcg_tensor *ids(int64_t rows, int64_t cols, int64_t value)
{
    hcg_tensor *t = NULL;
    hcg_shape s = hcg_shape_make(2, (int64_t[]){rows, cols});
    hcg_tensor_new(HCG_I64, &s, &t);
    for (int64_t i = 0; t && i < rows * cols; i++) ((int64_t *)t->data)[i] = (value + i) % 80;
    return t;
}

static void test_bad_inputs(void)
{
    hcg_generate_options greedy = {.greedy = true, .max_new_tokens = 4};
    const char *models[] = {tl_src("models/gpt/gpt.hcg"), onnx_path("gpt.onnx"), onnx_path("gpt_past.onnx")};
    hcg_tensor *long_prompt = ids(1, 129, 3), *fits = ids(2, 100, 1), *bad = ids(2, 5, 1);
    for (int i = 0; i < 3; i++) {
        expect_generate_fails(models[i], long_prompt, &greedy, HCG_ERR_ARG, "the prompt has 129 tokens, more than the model's 128 positions");
        hcg_generate_options many = {.greedy = true, .max_new_tokens = 40};
        expect_generate_fails(models[i], fits, &many, HCG_ERR_ARG, "100 prompt tokens and 40 new ones need 139 positions");
        ((int64_t *)bad->data)[7] = 89;
        expect_generate_fails(models[i], bad, &greedy, HCG_ERR_ARG, "token id 89 at [1, 2] of the prompt is outside the vocabulary [0, 89)");
        ((int64_t *)bad->data)[7] = -1;
        expect_generate_fails(models[i], bad, &greedy, HCG_ERR_ARG, "token id -1 at [1, 2]");
        ((int64_t *)bad->data)[7] = 1;
        hcg_generate_options top_p = {.temperature = 1, .top_p = 0, .seed = 1, .max_new_tokens = 2};
        expect_generate_fails(models[i], bad, &top_p, HCG_ERR_ARG, "top-p must be in (0, 1], got 0");
        top_p.top_p = 1.25;
        expect_generate_fails(models[i], bad, &top_p, HCG_ERR_ARG, "top-p must be in (0, 1], got 1.25");
        hcg_generate_options eos = {.greedy = true, .max_new_tokens = 2, .has_eos = true, .eos = 500};
        expect_generate_fails(models[i], bad, &eos, HCG_ERR_ARG, "end-of-sequence id 500 is outside the vocabulary");
    }
    hcg_tensor *i32 = NULL;
    hcg_shape s = hcg_shape_make(2, (int64_t[]){1, 3});
    hcg_tensor_new(HCG_I32, &s, &i32);
    expect_generate_fails(models[0], i32, &greedy, HCG_ERR_ARG, "the prompt must be token ids, i64 [B, S]");
    hcg_tensor_free(i32);
    /* a model whose first output is not [B, T, V] */
    hcg_graph *g = hcg_graph_new();
    int64_t dims[2] = {hcg_sym(g, "B"), hcg_sym(g, "T")};
    hcg_id x = hcg_input(g, "ids", HCG_I64, 2, dims);
    hcg_attr to = HCG_ATTR_S("to", "f32");
    hcg_id f = hcg_add_node(g, HCG_OP_CAST, "f", &x, 1, &to, 1);
    int64_t ax = 1;
    hcg_attr red[2] = {HCG_ATTR_IS("axes", &ax, 1), HCG_ATTR_I("keepdims", 0)};
    hcg_id y = hcg_add_node(g, HCG_OP_REDUCE_SUM, "y", &f, 1, red, 2);
    hcg_decoder *d = NULL;
    hcg_tensor *tokens = NULL;
    if (CHECK(y >= 0 && hcg_output(g, y, "scores") == HCG_OK, "a non-decoder builds") &&
        CHECK_OK(hcg_decoder_new(g, &(hcg_decoder_options){.devices = "cpu"}, &d)))
        CHECK_FAILS(hcg_decoder_generate(d, bad, &greedy, &tokens), HCG_ERR_SHAPE,
                    "the model's first output 'scores' is f32[2] for token ids [2, 32] (the prompt [2, 5] padded to a "
                    "bucket of 32); a decoder's first output must be the logits, f32 [B, T, V]");
    hcg_decoder_free(d);
    hcg_graph_free(g);
    /* a graph whose first input is not token ids */
    g = hcg_graph_new();
    x = hcg_input(g, "x", HCG_F32, 2, (int64_t[]){2, 3});
    y = hcg_add_node(g, HCG_OP_RELU, "y", &x, 1, NULL, 0);
    hcg_output(g, y, "y");
    CHECK_FAILS(hcg_decoder_new(g, NULL, &d), HCG_ERR_GRAPH, "a decoder's first input must be token ids [B, T] (i64 or i32); 'x' is f32[2, 3]");
    hcg_graph_free(g);
    hcg_tensor_free(long_prompt);
    hcg_tensor_free(fits);
    hcg_tensor_free(bad);
}

/* ---------------------------------------------------------------- the command */

static void test_cli(const hcg_tensor *prompt, const hcg_tensor *greedy)
{
    char cmd[4096], out[16384], dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/cli", tl_tmpdir());
    /* --prompt-text streams the text; tokens.npy holds the prompt and the new tokens */
    snprintf(cmd, sizeof cmd, "'%s' generate '%s' --prompt-text 'The best way' --max-new-tokens 30 --greedy --devices cpu "
             "--output-dir '%s'", tl_hcg_bin(), tl_src("models/gpt/gpt.hcg"), dir);
    int rc = tl_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "The best way") && strstr(out, "generated 30 tokens x 1 row") && strstr(out, "ran on: cpu"),
          "hcg generate --prompt-text: exit %d\n%s", rc, out);
    snprintf(path, sizeof path, "%s/tokens.npy", dir);
    hcg_tensor *got = NULL;
    if (CHECK_OK(hcg_npy_load(path, &got))) {
        const int64_t *g = got->data, *w = greedy->data;
        int64_t ww = greedy->shape.dims[1];
        bool same = got->shape.dims[0] == 1 && got->shape.dims[1] == 42;
        for (int64_t t = 0; same && t < 42; t++) same = g[t] == w[ww + t]; /* row 1 of the reference */
        CHECK(same, "hcg generate --prompt-text gives the reference's tokens for the same prompt");
    }
    hcg_tensor_free(got);
    snprintf(path, sizeof path, "%s/timing.json", dir);
    size_t len;
    char *timing = tl_read_file(path, &len);
    CHECK(timing && strstr(timing, "\"step_seconds\"") && strstr(timing, "\"kind\":\t3"), "timing.json is written");
    free(timing);
    /* --prompt FILE.npy with batch 2 on the kind-2 model prints each row */
    snprintf(cmd, sizeof cmd, "'%s' generate '%s' --prompt '%s' --max-new-tokens 16 --devices cpu", tl_hcg_bin(),
             onnx_path("gpt_past.onnx"), tl_src("tests/gen/prompt_b2.npy"));
    rc = tl_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "[0] Q:") && strstr(out, "[1] The best way") && strstr(out, "past_key_values caches"),
          "hcg generate --prompt with batch 2: exit %d\n%s", rc, out);
    /* bad input: non-zero exit, a clear message, nothing written */
    static const struct {
        const char *args, *needle;
    } bad[] = {
        {"--prompt-text 'The ' --max-new-tokens 4 --temperature 1 --top-p 0 --seed 1", "--top-p '0' is outside (0, 1]"},
        {"--prompt-text 'The ' --max-new-tokens 4 --temperature 1 --top-p 1.5 --seed 1", "--top-p '1.5' is outside (0, 1]"},
        {"--prompt-text 'The ' --max-new-tokens 4 --temperature 0.7", "sampling needs --seed S"},
        {"--prompt-text 'The ' --max-new-tokens 4 --greedy --top-k 3 --seed 1", "exclude each other"},
        {"--prompt-text 'The \xc3\xa9t\xc3\xa9' --max-new-tokens 4", "the text's character '\xc3\xa9' (byte 4) is not in the vocabulary"},
        {"--prompt-text 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' --max-new-tokens 4",
         "the prompt has 136 tokens, more than the model's 128 positions"},
        {"--prompt-text 'The ' --max-new-tokens 200", "4 prompt tokens and 200 new ones need 203 positions"},
        {"--prompt-text 'The ' --max-new-tokens 4 --eos 999", "end-of-sequence id 999 is outside the vocabulary [0, 89)"},
        {"--max-new-tokens 4", "give one of --prompt FILE.npy and --prompt-text TEXT"},
        {"--prompt-text 'The '", "--max-new-tokens N is required"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(dir, sizeof dir, "%s/bad%zu", tl_tmpdir(), i);
        snprintf(cmd, sizeof cmd, "'%s' generate '%s' %s --devices cpu --output-dir '%s'", tl_hcg_bin(),
                 tl_src("models/gpt/gpt.hcg"), bad[i].args, dir);
        rc = tl_run(cmd, out, sizeof out);
        struct stat st;
        CHECK(rc != 0 && rc < 128 && strstr(out, bad[i].needle) && stat(dir, &st) != 0,
              "hcg generate %s: wanted a clean failure mentioning \"%s\" and no output folder, got exit %d: %s",
              bad[i].args, bad[i].needle, rc, out);
    }
    /* --prompt-text needs a tokenizer */
    snprintf(cmd, sizeof cmd, "'%s' generate '%s' --prompt-text 'x' --max-new-tokens 2", tl_hcg_bin(),
             tl_src("models/mlp/mlp.hcg"));
    rc = tl_run(cmd, out, sizeof out);
    CHECK(rc != 0 && rc < 128 && strstr(out, "has no tokenizer"), "--prompt-text without a tokenizer: exit %d: %s", rc, out);
    /* a model that is not a decoder */
    snprintf(cmd, sizeof cmd, "'%s' generate '%s' --prompt '%s' --max-new-tokens 2", tl_hcg_bin(),
             tl_src("models/mlp/mlp.hcg"), tl_src("tests/gen/prompt_b2.npy"));
    rc = tl_run(cmd, out, sizeof out);
    CHECK(rc != 0 && rc < 128 && strstr(out, "a decoder's first input must be token ids"), "a non-decoder: exit %d: %s", rc,
          out);
}

int main(void)
{
    const char *dir = getenv("HCG_GPT_ONNX");
    snprintf(onnx_dir, sizeof onnx_dir, "%s", dir ? dir : "");
    if (!CHECK(dir != NULL, "HCG_GPT_ONNX names the exported models (tests/gen.cmake)")) return tl_finish();
    test_sampler_cases();
    hcg_tensor *prompt = tl_load_npy("tests/gen", "prompt_b2.npy"), *greedy = tl_load_npy("tests/gen", "greedy_b2_80.npy");
    char ocl[8][32];
    int n_ocl = opencl_devices(ocl, 8);
    bool two = getenv("HCG_TEST_TWO_DEVICES") != NULL;
    if (two) { /* the run with two POCL devices: the multi-device paths only */
        if (n_ocl < 2) { /* a CPU-only build, or an OpenCL that ignores POCL_DEVICES */
            hcg_tensor_free(prompt);
            hcg_tensor_free(greedy);
            return tl_skip("fewer than two OpenCL devices (%d) for the two-device run", n_ocl);
        }
        {
            char both[80];
            snprintf(both, sizeof both, "%s,%s", ocl[0], ocl[1]);
            test_cached(both, false, NULL, prompt, greedy);
            test_cached(both, true, NULL, prompt, greedy);
            test_hf_gpt2(both, true);
            test_sampling(both, prompt);
            test_session_states(ocl[1]);
        }
    } else {
        test_session_states("cpu");
        test_kind1_pytorch("cpu", prompt);
        test_cached("cpu", false, NULL, prompt, greedy);
        test_cached("cpu", false, "none", prompt, greedy);
        test_hf_gpt2("cpu", false);
        test_sampling("cpu", prompt);
        test_eos(prompt, greedy);
        test_bad_inputs();
        test_cli(prompt, greedy);
        if (n_ocl >= 1) {
            test_session_states(ocl[0]);
            test_kind1_pytorch(ocl[0], prompt);
            test_cached(ocl[0], false, NULL, prompt, greedy);
            test_hf_gpt2(ocl[0], false);
            test_sampling(ocl[0], prompt);
        }
    }
    hcg_tensor_free(prompt);
    hcg_tensor_free(greedy);
    return tl_finish();
}
