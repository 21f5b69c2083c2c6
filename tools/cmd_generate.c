/* cmd_generate.c — `hcg generate MODEL (--prompt FILE.npy | --prompt-text TEXT) --max-new-tokens N
 * [--greedy | --temperature T [--top-k K] [--top-p P] --seed S] [--eos ID] [--devices LIST]
 * [--output-dir DIR] ...`: text generation with a decoder (backend/decoder.c) of any kind; tokens
 * stream to the terminal as text when the model has a tokenizer (tools/tokenizer.h); DIR gets
 * tokens.npy (i64 [B, S + N]) and timing.json (seconds per step), each written atomically. The
 * usage text below lists every option. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "tokenizer.h"

const char cmd_generate_usage[] =
    "usage: hcg generate MODEL (--prompt FILE.npy | --prompt-text TEXT) --max-new-tokens N\n"
    "                    [--greedy | --temperature T [--top-k K] [--top-p P] --seed S] [--eos ID | --eos-text S]\n"
    "                    [--devices LIST] [--pipeline] [--recompute] [--bucket N] [--passes LIST]\n"
    "                    [--output-dir DIR] [--trace FILE.json] [--warmup] [--quiet]\n"
    "\n"
    "Generates up to N tokens after the prompt with a decoder: a model whose first input is token ids\n"
    "[B, T] and whose first output is logits [B, T, V]; ONNX decoders with past_key_values.* inputs and\n"
    "present.* outputs keep their cache on the device, and .hcg decoders with state caches (kv_attention)\n"
    "feed one token per step (docs/generate.md).\n"
    "  --prompt FILE.npy     token ids, i64 [B, S]\n"
    "  --prompt-text TEXT    text, with the model's tokenizer (MODEL.tokenizer.json or tokenizer.json\n"
    "                        beside it); then the tokens are printed as text as they come\n"
    "  --greedy              the largest logit (the default without sampling options)\n"
    "  --temperature T       sample from softmax(logits / T), T > 0; with --top-k K (the K largest),\n"
    "  --top-p P             the smallest set of tokens with probability >= P, P in (0, 1], and --seed S\n"
    "                        (required): the same seed gives the same tokens on every device\n"
    "  --eos ID              a row that produces ID stops; its remaining tokens are ID\n"
    "  --eos-text S          the same, as the tokenizer's piece S\n"
    "  --pipeline            with several devices, split the layers over them, each cache where its layer runs\n"
    "  --recompute           run the whole sequence each step, even where the model has a cache\n"
    "  --bucket N            lengths rounded up to a multiple of N so a plan serves N steps (default 32)\n"
    "  --output-dir DIR      writes DIR/tokens.npy (i64 [B, S + N]) and DIR/timing.json (seconds per step)\n"
    "  --trace FILE.json     a Chrome trace of the last step (where each node ran, the copies between devices)\n"
    "  --warmup              generate once before, untimed and unprinted (plans and kernels ready: benchmarks)\n"
    "  --quiet               print nothing but errors\n";

typedef struct gen_args {
    const char *model, *prompt, *prompt_text, *devices, *passes, *out_dir, *eos_text, *trace;
    hcg_generate_options opt;
    bool quiet, pipeline, warmup, have_temperature, have_top, have_seed;
} gen_args;

/* Parses the command line; returns 0, -1 after --help, or the exit code after printing the problem. */
static int parse(int argc, char **argv, gen_args *a)
{
    const char *v = NULL;
    int64_t n;
    bool have_max = false;
    memset(a, 0, sizeof *a);
    a->opt.temperature = 1;
    a->opt.top_p = 1;
    const char *missing = NULL;
    for (int i = 1; i < argc && !missing; i++) {
        const char *arg = argv[i];
/* an option with a value; a missing value ends the loop with `missing` set */
#define VALUE(name) (cli_opt(argc, argv, &i, name, &v) && (v || ((missing = name), false)))
        if (VALUE("--prompt")) a->prompt = v;
        else if (VALUE("--prompt-text")) a->prompt_text = v;
        else if (VALUE("--max-new-tokens")) {
            if (!cli_parse_int(v, &a->opt.max_new_tokens) || a->opt.max_new_tokens < 0)
                return cli_fail("generate", "--max-new-tokens '%s' is not a count >= 0", v);
            have_max = true;
        } else if (VALUE("--temperature")) {
            if (!cli_parse_double(v, &a->opt.temperature) || !(a->opt.temperature > 0) || !isfinite(a->opt.temperature))
                return cli_fail("generate", "--temperature '%s' is not a number > 0", v);
            a->have_temperature = true;
        } else if (VALUE("--top-k")) {
            if (!cli_parse_int(v, &a->opt.top_k) || a->opt.top_k < 0)
                return cli_fail("generate", "--top-k '%s' is not a count >= 0 (0: every token)", v);
            a->have_top = true;
        } else if (VALUE("--top-p")) {
            if (!cli_parse_double(v, &a->opt.top_p) || !(a->opt.top_p > 0 && a->opt.top_p <= 1))
                return cli_fail("generate", "--top-p '%s' is outside (0, 1]", v);
            a->have_top = true;
        } else if (VALUE("--seed")) {
            if (!cli_parse_int(v, &n) || n < 0) return cli_fail("generate", "--seed '%s' is not an integer >= 0", v);
            a->opt.seed = (uint64_t)n;
            a->have_seed = true;
        } else if (VALUE("--eos")) {
            if (!cli_parse_int(v, &a->opt.eos)) return cli_fail("generate", "--eos '%s' is not a token id", v);
            a->opt.has_eos = true;
        } else if (VALUE("--eos-text")) a->eos_text = v;
        else if (VALUE("--bucket")) {
            if (!cli_parse_int(v, &a->opt.bucket) || a->opt.bucket < 1)
                return cli_fail("generate", "--bucket '%s' is not a count >= 1", v);
        } else if (VALUE("--devices")) a->devices = v;
        else if (VALUE("--passes")) a->passes = v;
        else if (VALUE("--output-dir")) a->out_dir = v;
        else if (VALUE("--trace")) a->trace = v;
        else if (strcmp(arg, "--greedy") == 0) a->opt.greedy = true;
        else if (strcmp(arg, "--pipeline") == 0) a->pipeline = true;
        else if (strcmp(arg, "--recompute") == 0) a->opt.recompute = true;
        else if (strcmp(arg, "--quiet") == 0) a->quiet = true;
        else if (strcmp(arg, "--warmup") == 0) a->warmup = true;
        else if (missing) break;
        else if (arg[0] == '-') return cli_fail("generate", "unknown option '%s' (see hcg generate --help)", arg);
        else if (!a->model) a->model = arg;
        else return cli_fail("generate", "more than one model given ('%s' and '%s')", a->model, arg);
#undef VALUE
    }
    if (missing) return cli_fail("generate", "%s needs a value", missing);
    if (!a->model) return cli_fail("generate", "no model given (see hcg generate --help)");
    if (!a->prompt == !a->prompt_text) return cli_fail("generate", "give one of --prompt FILE.npy and --prompt-text TEXT");
    if (!have_max) return cli_fail("generate", "--max-new-tokens N is required");
    bool sampling = a->have_temperature || a->have_top;
    if (a->opt.greedy && sampling) return cli_fail("generate", "--greedy and sampling options (--temperature, --top-k, --top-p) exclude each other");
    if (sampling && !a->have_seed) return cli_fail("generate", "sampling needs --seed S (the same seed gives the same tokens)");
    if (a->opt.has_eos && a->eos_text) return cli_fail("generate", "give one of --eos and --eos-text");
    a->opt.greedy = !sampling;
    return 0;
}

/* ---------------------------------------------------------------- streaming */

typedef struct stream {
    const cli_tokenizer *tok;
    const hcg_tensor *prompt;
    bool on;      /* print each token as it comes (one row, a tokenizer, not quiet) */
    bool started; /* the prompt is printed (with the first new token: errors before it print nothing) */
} stream;

static void print_piece(const cli_tokenizer *tok, int64_t id)
{
    const char *piece = cli_tokenizer_piece(tok, id);
    fputs(piece ? piece : "?", stdout);
}

static hcg_status on_step(void *ctx, int64_t step, const int64_t *tokens, int64_t batch)
{
    stream *s = ctx;
    (void)step;
    if (!s->on || batch != 1) return HCG_OK;
    for (int64_t i = 0; !s->started && i < s->prompt->shape.dims[1]; i++)
        print_piece(s->tok, ((const int64_t *)s->prompt->data)[i]);
    s->started = true;
    const char *piece = cli_tokenizer_piece(s->tok, tokens[0]);
    fputs(piece ? piece : "?", stdout);
    fflush(stdout);
    return HCG_OK;
}

/* ---------------------------------------------------------------- outputs */

static hcg_status write_timing(const char *dir, const gen_args *a, const hcg_decoder *d, const hcg_tensor *tokens)
{
    const double *s;
    int64_t n = hcg_decoder_step_times(d, &s);
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "model", a->model);
    cJSON_AddNumberToObject(o, "kind", hcg_decoder_get_kind(d));
    cJSON_AddBoolToObject(o, "recompute", a->opt.recompute);
    cJSON_AddNumberToObject(o, "batch", (double)tokens->shape.dims[0]);
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)(tokens->shape.dims[1] - a->opt.max_new_tokens));
    cJSON_AddNumberToObject(o, "new_tokens", (double)n);
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(s[i]));
    cJSON_AddItemToObject(o, "step_seconds", arr);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/timing.json", dir);
    hcg_status st = hcg_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

static hcg_status write_outputs(const gen_args *a, const hcg_decoder *d, const hcg_tensor *tokens)
{
    char path[4096];
    hcg_status st = hcg_make_dirs(a->out_dir);
    if (st) return st;
    snprintf(path, sizeof path, "%s/tokens.npy", a->out_dir);
    if ((st = hcg_npy_save(path, tokens))) return st;
    return write_timing(a->out_dir, a, d, tokens);
}

static void print_rows(const cli_tokenizer *tok, const hcg_tensor *tokens)
{
    const int64_t *t = tokens->data;
    int64_t b = tokens->shape.dims[0], w = tokens->shape.dims[1];
    for (int64_t r = 0; r < b; r++) {
        printf("[%lld] ", (long long)r);
        for (int64_t i = 0; i < w; i++) print_piece(tok, t[r * w + i]);
        printf("\n");
    }
}

static void print_summary(const hcg_decoder *d, const hcg_tensor *tokens)
{
    const double *s;
    int64_t n = hcg_decoder_step_times(d, &s);
    double total = 0, rest = 0;
    for (int64_t i = 0; i < n; i++) total += s[i];
    for (int64_t i = 1; i < n; i++) rest += s[i];
    static const char *const kinds[] = {"", "recomputing", "past_key_values caches", "state caches"};
    printf("generated %lld token%s x %lld row%s in %.3f s (%s): prompt %.1f ms, then %.2f ms per token (%.1f tokens/s)\n",
           (long long)n, n == 1 ? "" : "s", (long long)tokens->shape.dims[0], tokens->shape.dims[0] == 1 ? "" : "s", total,
           kinds[hcg_decoder_get_kind(d)], n ? s[0] * 1e3 : 0.0, n > 1 ? rest / (double)(n - 1) * 1e3 : 0.0,
           n > 1 && rest > 0 ? (double)(n - 1) / rest : 0.0);
}

int cmd_generate(int argc, char **argv)
{
    gen_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    hcg_graph *g = NULL;
    hcg_decoder *d = NULL;
    cli_tokenizer *tok = NULL;
    hcg_tensor *prompt = NULL, *tokens = NULL;
    int64_t *ids = NULL, n_ids = 0;
    rc = 1;
    if (hcg_load(a.model, &g) || cli_tokenizer_find(a.model, &tok)) goto fail;
    if ((a.prompt_text || a.eos_text) && !tok) {
        hcg_error(HCG_ERR_ARG, "%s has no tokenizer (a .tokenizer.json beside it, or tokenizer.json in its folder): give "
                  "token ids with --prompt FILE.npy%s",
                  a.model, a.eos_text ? " and --eos ID" : "");
        goto fail;
    }
    if (a.eos_text) {
        a.opt.eos = cli_tokenizer_id(tok, a.eos_text);
        a.opt.has_eos = true;
        if (a.opt.eos < 0) {
            hcg_error(HCG_ERR_ARG, "--eos-text '%s' is not a piece of %s", a.eos_text, tok->path);
            goto fail;
        }
    }
    if (a.prompt) {
        if (hcg_npy_load(a.prompt, &prompt)) goto fail;
    } else {
        if (cli_tokenizer_encode(tok, a.prompt_text, &ids, &n_ids)) goto fail;
        int64_t dims[2] = {1, n_ids};
        hcg_shape s = hcg_shape_make(2, dims);
        if (n_ids == 0) {
            hcg_error(HCG_ERR_ARG, "the prompt text is empty");
            goto fail;
        }
        if (hcg_tensor_new(HCG_I64, &s, &prompt)) goto fail;
        memcpy(prompt->data, ids, sizeof(int64_t) * (size_t)n_ids);
    }
    hcg_decoder_options dopt = {.devices = a.devices, .passes = a.passes, .pipeline = a.pipeline, .profile = a.trace != NULL};
    if (hcg_decoder_new(g, &dopt, &d)) goto fail;
    stream s = {.tok = tok, .prompt = prompt, .on = tok && !a.quiet && prompt->shape.dims[0] == 1};
    hcg_status st = HCG_OK;
    if (a.warmup) {
        st = hcg_decoder_generate(d, prompt, &a.opt, &tokens);
        hcg_tensor_free(tokens);
        tokens = NULL;
    }
    a.opt.on_step = on_step;
    a.opt.ctx = &s;
    if (!st) st = hcg_decoder_generate(d, prompt, &a.opt, &tokens);
    if (s.started) printf("\n");
    if (st) goto fail;
    if (a.out_dir && write_outputs(&a, d, tokens)) goto fail;
    if (a.trace && hcg_session_write_trace(hcg_decoder_get_session(d), a.trace)) goto fail;
    if (!a.quiet) {
        if (tok && !s.started) print_rows(tok, tokens);
        print_summary(d, tokens);
        cli_print_placement(hcg_decoder_get_session(d), stdout);
        if (a.out_dir) printf("tokens: i64[%lld, %lld] -> %s/tokens.npy\n", (long long)tokens->shape.dims[0],
                              (long long)tokens->shape.dims[1], a.out_dir);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "hcg generate: %s\n", hcg_last_error());
done:
    hcg_tensor_free(tokens);
    hcg_tensor_free(prompt);
    free(ids);
    hcg_decoder_free(d);
    cli_tokenizer_free(tok);
    hcg_graph_free(g);
    return rc;
}
