/* tokenizer.h — the vocabularies `hcg generate` reads beside a model, for --prompt-text and for
 * printing tokens as text: MODEL's name with ".tokenizer.json" for its extension, else
 * tokenizer.json in the model's folder. The format is hcg's own: {"type": "characters", "vocab":
 * ["\n", " ", "!", ...]}, token id i being the string vocab[i] (UTF-8; one character each in a
 * character-level model, but any string may be a piece). Encoding takes the longest piece that
 * matches at each point of the text. */
#ifndef HCG_TOKENIZER_H
#define HCG_TOKENIZER_H

#include <stdint.h>

#include "hcg/hcg.h"

typedef struct cli_tokenizer {
    char **pieces;
    int64_t n;
    char *path;
} cli_tokenizer;

/* The tokenizer beside model_path: *out is NULL (and HCG_OK) when there is none. */
hcg_status cli_tokenizer_find(const char *model_path, cli_tokenizer **out);
hcg_status cli_tokenizer_load(const char *path, cli_tokenizer **out);
void cli_tokenizer_free(cli_tokenizer *t);
/* Token ids of text (a new array in *ids, freed by the caller); a character no piece starts with
 * is an error naming its byte offset. */
hcg_status cli_tokenizer_encode(const cli_tokenizer *t, const char *text, int64_t **ids, int64_t *n);
/* The text of token id (NULL if outside the vocabulary). */
const char *cli_tokenizer_piece(const cli_tokenizer *t, int64_t id);
/* The id of a piece, or -1. */
int64_t cli_tokenizer_id(const cli_tokenizer *t, const char *piece);

#endif
