/* text_lexer.c — turns .hcg text into tokens: names, strings with escapes, numbers, punctuation,
 * device pins, comments and statement-ending newlines, each with its line and column. Any byte
 * sequence either lexes or yields an HCG_ERR_PARSE naming the position; nothing is assumed
 * about the input (NUL bytes, binary data and very long tokens are handled). */
#include "graph/text_lexer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

static bool is_name_start(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_name_char(int c) { return is_name_start(c) || is_digit(c) || c == '.'; }
static bool is_pin_char(int c) { return is_name_char(c) || c == ':' || c == '-'; }

bool hcg_text_is_name(const char *s)
{
    if (!s || !is_name_start((unsigned char)*s)) return false;
    for (const char *p = s; *p; p++)
        if (!is_name_char((unsigned char)*p)) return false;
    return true;
}

void hcg_lexer_init(hcg_lexer *lx, const char *path, const char *src, size_t len)
{
    memset(lx, 0, sizeof *lx);
    lx->path = path;
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
    /* Some editors start UTF-8 files with a byte order mark: skip it (columns start after it). */
    if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) lx->pos = 3;
}

void hcg_token_clear(hcg_token *tok)
{
    free(tok->text);
    memset(tok, 0, sizeof *tok);
}

static hcg_status lex_error(const hcg_lexer *lx, int line, int col, const char *fmt, ...) HCG_PRINTF(4, 5);
static hcg_status lex_error(const hcg_lexer *lx, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hcg_error(HCG_ERR_PARSE, "%s:%d:%d: %s", lx->path, line, col, msg);
}

static int peek(const hcg_lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

/* Advances one byte, keeping line and column. */
static void advance(hcg_lexer *lx)
{
    if (lx->src[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else if (lx->col < INT32_MAX) {
        lx->col++;
    }
    lx->pos++;
}

/* A growable buffer for decoded strings. */
typedef struct str_buf {
    char *p;
    size_t n, cap;
} str_buf;

static bool sb_push(str_buf *b, char c)
{
    if (b->n + 1 >= b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = c;
    b->p[b->n] = 0;
    return true;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static hcg_status lex_string(hcg_lexer *lx, hcg_token *tok)
{
    str_buf b = {0};
    if (!sb_push(&b, 0)) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    b.n = 0;
    advance(lx); /* the opening quote */
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0 || c == '\n') {
            free(b.p);
            return lex_error(lx, tok->line, tok->col, "this string is not closed before the end of the %s",
                             c < 0 ? "file" : "line");
        }
        if (c == '"') {
            advance(lx);
            break;
        }
        int line = lx->line, col = lx->col;
        char out;
        if (c == '\\') {
            int e = peek(lx, 1);
            if (e == 'x') {
                int h1 = hex_value(peek(lx, 2)), h2 = h1 < 0 ? -1 : hex_value(peek(lx, 3));
                if (h2 < 0) {
                    free(b.p);
                    return lex_error(lx, line, col, "\\x must be followed by two hex digits");
                }
                out = (char)(h1 * 16 + h2);
                for (int i = 0; i < 4; i++) advance(lx);
            } else {
                switch (e) {
                case '"': out = '"'; break;
                case '\\': out = '\\'; break;
                case 'n': out = '\n'; break;
                case 't': out = '\t'; break;
                case 'r': out = '\r'; break;
                default:
                    free(b.p);
                    return lex_error(lx, line, col, "unknown escape in a string (use \\\" \\\\ \\n \\t \\r or \\xNN)");
                }
                advance(lx);
                advance(lx);
            }
        } else if (c < 0x20 && c != '\t') {
            free(b.p);
            return lex_error(lx, line, col, "control byte 0x%02x in a string (write it as \\x%02x)", c, c);
        } else {
            out = (char)c;
            advance(lx);
        }
        if (out == 0) {
            free(b.p);
            return lex_error(lx, line, col, "a string may not hold a NUL byte");
        }
        if (!sb_push(&b, out)) {
            free(b.p);
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
    }
    tok->kind = HCG_TOK_STRING;
    tok->text = b.p;
    return HCG_OK;
}

/* digits [ "." digits* ] [ ("e" | "E") [ "+" | "-" ] digits ] */
static hcg_status lex_number(hcg_lexer *lx, hcg_token *tok)
{
    size_t start = lx->pos;
    bool is_float = false;
    while (is_digit(peek(lx, 0))) advance(lx);
    if (peek(lx, 0) == '.') {
        is_float = true;
        advance(lx);
        while (is_digit(peek(lx, 0))) advance(lx);
    }
    if (peek(lx, 0) == 'e' || peek(lx, 0) == 'E') {
        int sign = peek(lx, 1) == '+' || peek(lx, 1) == '-';
        if (!is_digit(peek(lx, 1 + (size_t)sign)))
            return lex_error(lx, tok->line, tok->col, "malformed number: an exponent needs digits");
        is_float = true;
        advance(lx);
        if (sign) advance(lx);
        while (is_digit(peek(lx, 0))) advance(lx);
    }
    if (is_name_char(peek(lx, 0)))
        return lex_error(lx, tok->line, tok->col, "malformed number: '%c' follows the digits", peek(lx, 0));
    size_t n = lx->pos - start;
    if (!is_float) {
        uint64_t v = 0;
        tok->overflow = false;
        for (size_t i = start; i < lx->pos; i++) {
            unsigned d = (unsigned)(lx->src[i] - '0');
            if (v > (UINT64_MAX - d) / 10) tok->overflow = true;
            else v = v * 10 + d;
        }
        tok->kind = HCG_TOK_INT;
        tok->u = v;
        return HCG_OK;
    }
    /* strtod needs a NUL-terminated copy; the reader runs in the "C" locale (decimal point '.'). */
    char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    memcpy(buf, lx->src + start, n);
    buf[n] = 0;
    errno = 0;
    double v = strtod(buf, NULL);
    if (buf != small) free(buf);
    if (isinf(v)) return lex_error(lx, tok->line, tok->col, "number out of range (larger than a double holds)");
    tok->kind = HCG_TOK_FLOAT;
    tok->f = v;
    return HCG_OK;
}

static hcg_status lex_word(hcg_lexer *lx, hcg_token *tok, bool (*is_char)(int), hcg_tok_kind kind)
{
    size_t start = lx->pos;
    while (is_char(peek(lx, 0))) advance(lx);
    size_t n = lx->pos - start;
    if (!(tok->text = malloc(n + 1))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    memcpy(tok->text, lx->src + start, n);
    tok->text[n] = 0;
    tok->kind = kind;
    return HCG_OK;
}

hcg_status hcg_lex_next(hcg_lexer *lx, hcg_token *tok)
{
    hcg_token_clear(tok);
    for (;;) {
        int c = peek(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r') {
            advance(lx);
        } else if (c == '#') {
            while (peek(lx, 0) >= 0 && peek(lx, 0) != '\n') advance(lx);
        } else if (c == '\n' && lx->depth > 0) {
            advance(lx);
        } else {
            break;
        }
    }
    tok->line = lx->line;
    tok->col = lx->col;
    int c = peek(lx, 0);
    if (c < 0) {
        tok->kind = HCG_TOK_EOF;
        return HCG_OK;
    }
    if (is_name_start(c)) return lex_word(lx, tok, is_name_char, HCG_TOK_NAME);
    if (is_digit(c)) return lex_number(lx, tok);
    if (c == '"') return lex_string(lx, tok);
    if (c == '@') {
        advance(lx);
        if (peek(lx, 0) == '"') {
            hcg_status st = lex_string(lx, tok);
            if (st) return st;
            tok->kind = HCG_TOK_PIN;
        } else {
            hcg_status st = lex_word(lx, tok, is_pin_char, HCG_TOK_PIN);
            if (st) return st;
        }
        if (!tok->text[0]) return lex_error(lx, tok->line, tok->col, "'@' must be followed by a device name (@cpu, @opencl:0)");
        return HCG_OK;
    }
    static const struct {
        char c;
        hcg_tok_kind kind;
        int depth;
    } punct[] = {
        {'\n', HCG_TOK_NEWLINE, 0}, {'(', HCG_TOK_LPAREN, 1},    {')', HCG_TOK_RPAREN, -1},
        {'[', HCG_TOK_LBRACKET, 1}, {']', HCG_TOK_RBRACKET, -1}, {',', HCG_TOK_COMMA, 0},
        {'=', HCG_TOK_EQUALS, 0},   {':', HCG_TOK_COLON, 0},     {'-', HCG_TOK_MINUS, 0},
    };
    for (size_t i = 0; i < sizeof punct / sizeof punct[0]; i++) {
        if (c != punct[i].c) continue;
        advance(lx);
        tok->kind = punct[i].kind;
        if (punct[i].depth > 0 && lx->depth < INT32_MAX) lx->depth++;
        if (punct[i].depth < 0 && lx->depth > 0) lx->depth--;
        return HCG_OK;
    }
    if (c >= 0x21 && c < 0x7f) return lex_error(lx, tok->line, tok->col, "unexpected character '%c'", c);
    return lex_error(lx, tok->line, tok->col, "unexpected byte 0x%02x", c);
}

void hcg_token_describe(const hcg_token *tok, char *buf, size_t n)
{
    switch (tok->kind) {
    case HCG_TOK_EOF: snprintf(buf, n, "the end of the file"); break;
    case HCG_TOK_NEWLINE: snprintf(buf, n, "the end of the line"); break;
    case HCG_TOK_NAME: snprintf(buf, n, "'%.60s'", tok->text); break;
    case HCG_TOK_STRING: snprintf(buf, n, "the string \"%.60s\"", tok->text); break;
    case HCG_TOK_INT: snprintf(buf, n, "a number"); break;
    case HCG_TOK_FLOAT: snprintf(buf, n, "a number"); break;
    case HCG_TOK_PIN: snprintf(buf, n, "'@%.60s'", tok->text); break;
    case HCG_TOK_LPAREN: snprintf(buf, n, "'('"); break;
    case HCG_TOK_RPAREN: snprintf(buf, n, "')'"); break;
    case HCG_TOK_LBRACKET: snprintf(buf, n, "'['"); break;
    case HCG_TOK_RBRACKET: snprintf(buf, n, "']'"); break;
    case HCG_TOK_COMMA: snprintf(buf, n, "','"); break;
    case HCG_TOK_EQUALS: snprintf(buf, n, "'='"); break;
    case HCG_TOK_COLON: snprintf(buf, n, "':'"); break;
    case HCG_TOK_MINUS: snprintf(buf, n, "'-'"); break;
    }
}
