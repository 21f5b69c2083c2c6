/* text_lexer.h — the tokens of the .hcg text format (docs/graph-format.md) and the lexer that
 * makes them from a byte buffer, tracking line and column (both from 1; columns count bytes). */
#ifndef HCG_TEXT_LEXER_H
#define HCG_TEXT_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcg/hcg.h"

typedef enum hcg_tok_kind {
    HCG_TOK_EOF = 0,
    HCG_TOK_NEWLINE, /* the end of a statement; newlines inside () and [] are not tokens */
    HCG_TOK_NAME,    /* [A-Za-z_][A-Za-z0-9_.]* */
    HCG_TOK_STRING,  /* "..." with escapes decoded */
    HCG_TOK_INT,     /* digits: the magnitude in u (overflow set if it exceeds 2^64 - 1) */
    HCG_TOK_FLOAT,   /* digits with a fraction or exponent: the value in f */
    HCG_TOK_PIN,     /* @device: the device name in text */
    HCG_TOK_LPAREN,
    HCG_TOK_RPAREN,
    HCG_TOK_LBRACKET,
    HCG_TOK_RBRACKET,
    HCG_TOK_COMMA,
    HCG_TOK_EQUALS,
    HCG_TOK_COLON,
    HCG_TOK_MINUS
} hcg_tok_kind;

typedef struct hcg_token {
    hcg_tok_kind kind;
    int line, col;
    char *text; /* NAME, STRING, PIN: NUL-terminated, owned by the token */
    uint64_t u;
    bool overflow;
    double f;
} hcg_token;

typedef struct hcg_lexer {
    const char *path; /* for messages */
    const char *src;
    size_t len, pos;
    int line, col;
    int depth; /* open ( and [ */
} hcg_lexer;

void hcg_lexer_init(hcg_lexer *lx, const char *path, const char *src, size_t len);
/* The next token (tok->text freed first). Errors are HCG_ERR_PARSE with "path:line:col: ". */
hcg_status hcg_lex_next(hcg_lexer *lx, hcg_token *tok);
void hcg_token_clear(hcg_token *tok);
/* A short description of a token for messages ("name 'x'", "')'", "end of line"). */
void hcg_token_describe(const hcg_token *tok, char *buf, size_t n);

/* True if s can be written as a bare NAME token. */
bool hcg_text_is_name(const char *s);

#endif
