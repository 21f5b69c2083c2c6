/* tokenizer.c — the character vocabularies `hcg generate` reads beside a model (see tokenizer.h). */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>


void cli_tokenizer_free(cli_tokenizer *t)
{
    if (!t) return;
    for (int64_t i = 0; i < t->n; i++) free(t->pieces[i]);
    free(t->pieces);
    free(t->path);
    free(t);
}

static hcg_status parse(cli_tokenizer *t, const char *text)
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(root, "vocab"), *v;
    hcg_status st = HCG_OK;
    if (!root) st = hcg_error(HCG_ERR_FORMAT, "%s: not JSON", t->path);
    else if (!cJSON_IsString(type) || strcmp(type->valuestring, "characters") != 0)
        st = hcg_error(HCG_ERR_FORMAT, "%s: \"type\" must be \"characters\" (hcg reads character vocabularies only)",
                       t->path);
    else if (!cJSON_IsArray(vocab) || cJSON_GetArraySize(vocab) == 0)
        st = hcg_error(HCG_ERR_FORMAT, "%s: \"vocab\" must be a non-empty array of strings", t->path);
    else if (!(t->pieces = calloc((size_t)cJSON_GetArraySize(vocab), sizeof(char *))))
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (!st) {
        cJSON_ArrayForEach(v, vocab)
        {
            if (!cJSON_IsString(v) || !v->valuestring[0]) {
                st = hcg_error(HCG_ERR_FORMAT, "%s: vocab[%lld] is not a non-empty string", t->path, (long long)t->n);
                break;
            }
            if (!(t->pieces[t->n++] = strdup(v->valuestring))) {
                st = hcg_error(HCG_ERR_NOMEM, "out of memory");
                break;
            }
        }
    }
    cJSON_Delete(root);
    return st;
}

hcg_status cli_tokenizer_load(const char *path, cli_tokenizer **out)
{
    *out = NULL;
    cli_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    size_t len = 0;
    char *text = NULL;
    hcg_status st = hcg_read_file(path, &text, &len);
    if (!st) st = parse(t, text);
    free(text);
    if (st) {
        cli_tokenizer_free(t);
        return st;
    }
    *out = t;
    return HCG_OK;
}

hcg_status cli_tokenizer_find(const char *model_path, cli_tokenizer **out)
{
    *out = NULL;
    size_t n = strlen(model_path);
    char *path = malloc(n + sizeof "tokenizer.json" + 16);
    if (!path) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    const char *slash = strrchr(model_path, '/'), *base = slash ? slash + 1 : model_path;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - model_path) : n;
    memcpy(path, model_path, stem);
    strcpy(path + stem, ".tokenizer.json");
    FILE *f = fopen(path, "rb");
    if (!f) { /* tokenizer.json in the model's folder */
        size_t dir = (size_t)(base - model_path);
        memcpy(path, model_path, dir);
        strcpy(path + dir, "tokenizer.json");
        f = fopen(path, "rb");
    }
    hcg_status st = HCG_OK;
    if (f) {
        fclose(f);
        st = cli_tokenizer_load(path, out);
    }
    free(path);
    return st;
}

hcg_status cli_tokenizer_encode(const cli_tokenizer *t, const char *text, int64_t **ids, int64_t *n)
{
    size_t len = strlen(text);
    *n = 0;
    *ids = malloc(sizeof(int64_t) * (len + 1));
    if (!*ids) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    for (size_t at = 0; at < len;) {
        int64_t best = -1;
        size_t best_len = 0;
        for (int64_t i = 0; i < t->n; i++) {
            size_t pl = strlen(t->pieces[i]);
            if (pl > best_len && pl <= len - at && memcmp(text + at, t->pieces[i], pl) == 0) {
                best = i;
                best_len = pl;
            }
        }
        if (best < 0) {
            size_t cl = 1; /* the UTF-8 character at `at`, for the message */
            while (at + cl < len && ((unsigned char)text[at + cl] & 0xC0) == 0x80) cl++;
            free(*ids);
            *ids = NULL;
            return hcg_error(HCG_ERR_ARG, "the text's character '%.*s' (byte %zu) is not in the vocabulary of %s",
                             (int)cl, text + at, at, t->path);
        }
        (*ids)[(*n)++] = best;
        at += best_len;
    }
    return HCG_OK;
}

const char *cli_tokenizer_piece(const cli_tokenizer *t, int64_t id) { return id >= 0 && id < t->n ? t->pieces[id] : NULL; }

int64_t cli_tokenizer_id(const cli_tokenizer *t, const char *piece)
{
    for (int64_t i = 0; i < t->n; i++)
        if (strcmp(t->pieces[i], piece) == 0) return i;
    return -1;
}
