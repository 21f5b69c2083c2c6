/* text_read.c — the .hcg text reader: statements (version, weights, input, param, const, state,
 * node, output) parsed into a graph through the builder, with every error reported as
 * "file:line:column: message", weights read from safetensors files inside the graph's folder,
 * and all memory freed on failure. The grammar is in docs/graph-format.md. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/fileio.h"
#include "graph/graph.h"
#include "graph/half.h"
#include "graph/op_table.h"
#include "graph/safetensors.h"
#include "graph/text_format.h"
#include "graph/text_lexer.h"

/* The format version this reader understands (`hcg 1`). */
#define HCG_TEXT_VERSION 1

typedef struct weights_file {
    char *real; /* realpath of the file */
    hcg_st_file *f;  /* kept alive by the graph */
} weights_file;

typedef struct parser {
    hcg_lexer lx;
    hcg_token tok;  /* the current token */
    hcg_token next; /* one token of lookahead, if have_next */
    bool have_next;
    const char *path;     /* the graph file as given, for messages */
    const char *base_dir; /* weights files are resolved here (NULL: refused) */
    hcg_graph *g;
    char *weights; /* the default weights file, as written */
    int weights_line;
    weights_file *files;
    int n_files, cap_files;
    int n_statements;
} parser;

/* A parsed attribute value, before the op's schema says what it means. */
typedef enum pval_kind { PV_INT, PV_FLOAT, PV_WORD, PV_LIST } pval_kind;

typedef struct pval {
    pval_kind kind;
    bool quoted; /* PV_WORD: written as a "string" (never a literal like inf or true) */
    int64_t i;
    double f;
    char *s;
    struct pval *items; /* PV_LIST */
    int n;
    int line, col;
} pval;

typedef struct parsed_attr {
    char *name;
    int line, col;
    pval v;
} parsed_attr;

/* ---------------------------------------------------------------- errors and tokens */

static hcg_status perr(const parser *p, hcg_status code, int line, int col, const char *fmt, ...) HCG_PRINTF(5, 6);
static hcg_status perr(const parser *p, hcg_status code, int line, int col, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hcg_error(code, "%s:%d:%d: %s", p->path, line, col, msg);
}

/* Adds "file:line:col: " to the message a builder call left. */
static hcg_status prefix_at(const parser *p, hcg_status code, int line, int col)
{
    return hcg_error_prefix(code, "%s:%d:%d: ", p->path, line, col);
}

static hcg_status advance(parser *p)
{
    if (p->have_next) {
        hcg_token_clear(&p->tok);
        p->tok = p->next;
        memset(&p->next, 0, sizeof p->next);
        p->have_next = false;
        return HCG_OK;
    }
    return hcg_lex_next(&p->lx, &p->tok);
}

static hcg_status peek_kind(parser *p, hcg_tok_kind *kind)
{
    if (!p->have_next) {
        hcg_status st = hcg_lex_next(&p->lx, &p->next);
        if (st) return st;
        p->have_next = true;
    }
    *kind = p->next.kind;
    return HCG_OK;
}

static hcg_status unexpected(const parser *p, const char *wanted)
{
    char got[128];
    hcg_token_describe(&p->tok, got, sizeof got);
    return perr(p, HCG_ERR_PARSE, p->tok.line, p->tok.col, "expected %s, got %s", wanted, got);
}

static hcg_status expect(parser *p, hcg_tok_kind kind, const char *wanted)
{
    if (p->tok.kind != kind) return unexpected(p, wanted);
    return advance(p);
}

static bool tok_is_word(const parser *p, const char *w)
{
    return p->tok.kind == HCG_TOK_NAME && strcmp(p->tok.text, w) == 0;
}

/* Takes the current token's text and moves on; on failure nothing is taken. */
static hcg_status take_text(parser *p, char **out)
{
    *out = p->tok.text;
    p->tok.text = NULL;
    hcg_status st = advance(p);
    if (st) {
        free(*out);
        *out = NULL;
    }
    return st;
}

/* A name: a bare NAME or a "quoted string". Takes ownership of the text. */
static hcg_status parse_name(parser *p, const char *what, char **out, int *line, int *col)
{
    if (p->tok.kind != HCG_TOK_NAME && p->tok.kind != HCG_TOK_STRING) return unexpected(p, what);
    if (!p->tok.text[0]) return perr(p, HCG_ERR_PARSE, p->tok.line, p->tok.col, "a name may not be empty");
    *line = p->tok.line;
    *col = p->tok.col;
    return take_text(p, out);
}

/* The node a name refers to. */
static hcg_status lookup(const parser *p, const char *name, int line, int col, hcg_id *out)
{
    hcg_id id = hcg_graph_find(p->g, name);
    if (id < 0) return perr(p, HCG_ERR_GRAPH, line, col, "'%s' is not defined (names must be defined before use)", name);
    *out = id;
    return HCG_OK;
}

static hcg_status check_new_name(const parser *p, const char *name, int line, int col)
{
    hcg_id id = hcg_graph_find(p->g, name);
    if (id < 0) return HCG_OK;
    const hcg_node *n = &p->g->nodes[id];
    if (n->line > 0)
        return perr(p, HCG_ERR_GRAPH, line, col, "'%s' is already defined at line %d", name, n->line);
    return perr(p, HCG_ERR_GRAPH, line, col, "'%s' is already defined", name);
}

/* An optional @device at the end of a statement. */
static hcg_status parse_pin(parser *p, char **pin, int *line, int *col)
{
    *pin = NULL;
    if (p->tok.kind != HCG_TOK_PIN) return HCG_OK;
    *line = p->tok.line;
    *col = p->tok.col;
    return take_text(p, pin);
}

static hcg_status apply_pin(parser *p, hcg_id id, const char *pin, int line, int col)
{
    if (!pin) return HCG_OK;
    hcg_status st = hcg_pin(p->g, id, pin);
    return st ? prefix_at(p, st, line, col) : HCG_OK;
}

/* A source node (input, state, param, constant) just added as id: reports a builder failure at the
 * statement's position, else records that position on the node. */
static hcg_status placed(parser *p, hcg_id id, int line, int col)
{
    if (id < 0) return prefix_at(p, (hcg_status)-id, line, col);
    p->g->nodes[id].line = line;
    p->g->nodes[id].col = col;
    return HCG_OK;
}

/* ---------------------------------------------------------------- types */

/* dtype "[" [ dim { "," dim } ] "]"; symbols allowed only where allow_syms. */
static hcg_status parse_type(parser *p, bool allow_syms, const char *what, hcg_dtype *dtype, hcg_shape *shape)
{
    int line = p->tok.line, col = p->tok.col;
    if (p->tok.kind != HCG_TOK_NAME) return unexpected(p, "a type such as f32[2, 3]");
    if (!hcg_dtype_parse(p->tok.text, dtype))
        return perr(p, HCG_ERR_PARSE, line, col, "unknown dtype '%s' (f32, f16, i32, i64, u8, bool)", p->tok.text);
    hcg_status st = advance(p);
    if (st || (st = expect(p, HCG_TOK_LBRACKET, "'[' and the dims (write f32[] for a scalar)"))) return st;
    memset(shape, 0, sizeof *shape);
    while (p->tok.kind != HCG_TOK_RBRACKET) {
        int dl = p->tok.line, dc = p->tok.col;
        if (shape->rank == HCG_MAX_RANK)
            return perr(p, HCG_ERR_PARSE, dl, dc, "more than %d dims (the most hcg supports)", HCG_MAX_RANK);
        int64_t d;
        if (p->tok.kind == HCG_TOK_INT) {
            if (p->tok.overflow || p->tok.u > (uint64_t)INT64_MAX)
                return perr(p, HCG_ERR_PARSE, dl, dc, "dimension out of range");
            d = (int64_t)p->tok.u;
        } else if (p->tok.kind == HCG_TOK_NAME || p->tok.kind == HCG_TOK_STRING) {
            if (!allow_syms)
                return perr(p, HCG_ERR_PARSE, dl, dc, "%s needs concrete dims, but '%s' is a symbol", what, p->tok.text);
            if (!p->tok.text[0]) return perr(p, HCG_ERR_PARSE, dl, dc, "a symbol may not be empty");
            d = hcg_sym(p->g, p->tok.text);
            if (d == 0) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        } else {
            return unexpected(p, "a dimension (a non-negative integer or a symbol such as B)");
        }
        shape->dims[shape->rank++] = d;
        if ((st = advance(p))) return st;
        if (p->tok.kind == HCG_TOK_COMMA) {
            if ((st = advance(p))) return st;
        } else if (p->tok.kind != HCG_TOK_RBRACKET) {
            return unexpected(p, "',' or ']'");
        }
    }
    if ((st = advance(p))) return st;
    /* The element count of the concrete dims (symbols count as 1 here) must fit, in bytes too. */
    int64_t numel = 1;
    size_t bytes;
    bool overflow = false;
    for (int i = 0; i < shape->rank; i++)
        if (!HCG_DIM_IS_SYM(shape->dims[i])) overflow |= hcg_mul_overflow_i64(numel, shape->dims[i], &numel);
    if (overflow || hcg_mul_overflow_size((size_t)numel, hcg_dtype_size(*dtype), &bytes)) {
        char t[300];
        hcg_format_type(p->g, *dtype, shape, t, sizeof t);
        return perr(p, HCG_ERR_SHAPE, line, col, "the size of %s overflows", t);
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- weights files */

/* Rejects absolute paths and ".." components: weights live in the graph's folder or below. */
static bool path_stays_inside(const char *path)
{
    if (!path[0] || path[0] == '/') return false;
    for (const char *s = path; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') return false;
        s += n;
        while (*s == '/') s++;
    }
    return true;
}

/* Opens (once per load) the weights file `written`, as named in the graph at line:col. */
static hcg_status open_weights(parser *p, const char *written, int line, int col, hcg_st_file **out)
{
    if (!path_stays_inside(written))
        return perr(p, HCG_ERR_GRAPH, line, col,
                    "the weights path '%s' leaves the graph's folder (use a relative path without '..')", written);
    if (!p->base_dir)
        return perr(p, HCG_ERR_GRAPH, line, col, "weights file '%s': this graph was parsed without a folder", written);
    size_t n = strlen(p->base_dir) + strlen(written) + 2;
    char *full = malloc(n), *real = NULL, *dir_real = NULL;
    hcg_status st = HCG_OK;
    hcg_st_file *f = NULL;
    if (!full) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    snprintf(full, n, "%s/%s", p->base_dir, written);
    if (!(real = realpath(full, NULL))) {
        st = perr(p, errno == ENOENT ? HCG_ERR_NOT_FOUND : HCG_ERR_IO, line, col, "weights file '%s' (%s): %s", written,
                  full, strerror(errno));
        goto done;
    }
    if (!(dir_real = realpath(p->base_dir, NULL))) {
        st = perr(p, HCG_ERR_IO, line, col, "the graph's folder '%s': %s", p->base_dir, strerror(errno));
        goto done;
    }
    size_t dn = strlen(dir_real);
    bool inside = strcmp(dir_real, "/") == 0 || (strncmp(real, dir_real, dn) == 0 && real[dn] == '/');
    if (!inside) {
        st = perr(p, HCG_ERR_GRAPH, line, col, "the weights path '%s' resolves to '%s', outside the graph's folder '%s'",
                  written, real, dir_real);
        goto done;
    }
    for (int i = 0; i < p->n_files; i++) {
        if (strcmp(p->files[i].real, real) == 0) {
            *out = p->files[i].f;
            goto done;
        }
    }
    if (p->n_files == p->cap_files) {
        int cap = p->cap_files ? p->cap_files * 2 : 4;
        weights_file *a = realloc(p->files, sizeof *a * (size_t)cap);
        if (!a) {
            st = hcg_error(HCG_ERR_NOMEM, "out of memory");
            goto done;
        }
        p->files = a;
        p->cap_files = cap;
    }
    if ((st = hcg_st_open(real, &f))) {
        prefix_at(p, st, line, col);
        goto done;
    }
    if ((st = hcg_graph_keep(p->g, f, hcg_st_release))) {
        hcg_st_close(f);
        goto done;
    }
    p->files[p->n_files].real = real;
    p->files[p->n_files++].f = f;
    real = NULL;
    *out = f;
done:
    free(full);
    free(real);
    free(dir_real);
    return st;
}

/* The tensor `key` of the weights file for a param or const declared as dtype/shape. */
typedef struct src_pos {
    int file_line, file_col; /* the weights file: its "from" string, else the declared name */
    int key_line, key_col;   /* the tensor: its "key" string, else the declared name */
    int type_line, type_col; /* the declared type */
} src_pos;

static hcg_status weight_tensor(parser *p, const char *kind, const char *name, const char *key, const char *file,
                                const src_pos *at, hcg_dtype dtype, const hcg_shape *shape, hcg_tensor **out)
{
    hcg_st_file *f = NULL;
    hcg_status st = open_weights(p, file, at->file_line, at->file_col, &f);
    if (st) return st;
    const hcg_st_entry *e = hcg_st_find(f, key);
    if (!e)
        return perr(p, HCG_ERR_NOT_FOUND, at->key_line, at->key_col, "%s '%s': no tensor '%s' in '%s'", kind, name, key,
                    file);
    if (!e->supported)
        return perr(p, HCG_ERR_UNSUPPORTED, at->key_line, at->key_col,
                    "%s '%s': the tensor '%s' in '%s' has dtype %s, which hcg does not support (it reads F32, F16, I32, "
                    "I64, U8, I8 and BOOL)", kind, name, key, file, e->st_dtype);
    if (e->dtype != dtype || !hcg_shape_equal(&e->shape, shape)) {
        char want[300], got[300];
        hcg_format_type(p->g, dtype, shape, want, sizeof want);
        hcg_format_type(p->g, e->dtype, &e->shape, got, sizeof got);
        return perr(p, HCG_ERR_SHAPE, at->type_line, at->type_col,
                    "%s '%s' is declared %s, but the tensor '%s' in '%s' is %s", kind, name, want, key, file, got);
    }
    if ((st = hcg_st_tensor(f, e, out))) prefix_at(p, st, at->key_line, at->key_col);
    return st;
}

/* Records where a param's or const's data came from, so hcg_save keeps the tensor's name. */
static hcg_status set_weight_ref(hcg_graph *g, hcg_id id, const char *key, const char *file)
{
    hcg_node *n = &g->nodes[id];
    size_t kn = strlen(key) + 1, fn = strlen(file) + 1;
    if (!(n->weight_key = malloc(kn)) || !(n->weight_file = malloc(fn))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    memcpy(n->weight_key, key, kn);
    memcpy(n->weight_file, file, fn);
    return HCG_OK;
}

/* A STRING token's text, taken over (with its position). */
static hcg_status take_string(parser *p, const char *wanted, char **out, int *line, int *col)
{
    if (p->tok.kind != HCG_TOK_STRING) return unexpected(p, wanted);
    *line = p->tok.line;
    *col = p->tok.col;
    return take_text(p, out);
}

/* [ "from" STRING ]: another weights file than the default. */
static hcg_status parse_from(parser *p, char **file, int *line, int *col)
{
    *file = NULL;
    if (!tok_is_word(p, "from")) return HCG_OK;
    hcg_status st = advance(p);
    return st ? st : take_string(p, "a weights file name as a \"string\"", file, line, col);
}

/* ---------------------------------------------------------------- statements: header, weights, input, output */

static hcg_status parse_version(parser *p)
{
    int line = p->tok.line, col = p->tok.col;
    if (p->n_statements > 1) return perr(p, HCG_ERR_PARSE, line, col, "'hcg <version>' must be the first statement");
    hcg_status st = advance(p);
    if (st) return st;
    if (p->tok.kind != HCG_TOK_INT) return unexpected(p, "the format version (1)");
    if (p->tok.overflow || p->tok.u != HCG_TEXT_VERSION)
        return perr(p, HCG_ERR_UNSUPPORTED, p->tok.line, p->tok.col,
                    "format version %s is not supported (this hcg reads version %d)",
                    p->tok.overflow ? "(huge)" : "other than 1", HCG_TEXT_VERSION);
    return advance(p);
}

static hcg_status parse_weights(parser *p)
{
    int line = p->tok.line, col = p->tok.col;
    hcg_status st = advance(p);
    if (st) return st;
    if (p->weights)
        return perr(p, HCG_ERR_PARSE, line, col, "a second weights statement (the first is at line %d)", p->weights_line);
    if (p->tok.kind != HCG_TOK_STRING) return unexpected(p, "the weights file name as a \"string\"");
    if (!path_stays_inside(p->tok.text))
        return perr(p, HCG_ERR_GRAPH, p->tok.line, p->tok.col,
                    "the weights path '%s' leaves the graph's folder (use a relative path without '..')", p->tok.text);
    p->weights = p->tok.text;
    p->weights_line = line;
    p->tok.text = NULL;
    return advance(p);
}

/* "input" name ":" type [ pin ]  and  "state" name ":" type [ pin ]: the same shape of statement. */
static hcg_status parse_declared(parser *p, bool is_state)
{
    const char *what = is_state ? "state" : "input";
    char *name = NULL, *pin = NULL, expecting[64];
    int line, col, pl = 0, pc = 0;
    hcg_dtype dtype;
    hcg_shape shape;
    hcg_status st = advance(p);
    snprintf(expecting, sizeof expecting, "the %s's name", what);
    if (st || (st = parse_name(p, expecting, &name, &line, &col))) goto done;
    if ((st = check_new_name(p, name, line, col))) goto done;
    snprintf(expecting, sizeof expecting, "':' and the %s's type", what);
    if ((st = expect(p, HCG_TOK_COLON, expecting))) goto done;
    if ((st = parse_type(p, true, is_state ? "a state" : "an input", &dtype, &shape))) goto done;
    if ((st = parse_pin(p, &pin, &pl, &pc))) goto done;
    hcg_id id = is_state ? hcg_state(p->g, name, dtype, shape.rank, shape.dims)
                         : hcg_input(p->g, name, dtype, shape.rank, shape.dims);
    if ((st = placed(p, id, line, col))) goto done;
    st = apply_pin(p, id, pin, pl, pc);
done:
    free(name);
    free(pin);
    return st;
}

static hcg_status parse_output(parser *p)
{
    hcg_status st = advance(p);
    while (!st) {
        char *first = NULL, *second = NULL;
        int l1 = 0, c1 = 0, l2 = 0, c2 = 0;
        hcg_id id = -1;
        if ((st = parse_name(p, "the name of an output", &first, &l1, &c1))) break;
        if (p->tok.kind == HCG_TOK_EQUALS) {
            if ((st = advance(p)) || (st = parse_name(p, "the node the output names", &second, &l2, &c2))) goto item_done;
        }
        /* "output y" outputs node y; "output logits = y" outputs node y under the name logits. */
        if ((st = lookup(p, second ? second : first, second ? l2 : l1, second ? c2 : c1, &id))) goto item_done;
        if ((st = hcg_output(p->g, id, first))) prefix_at(p, st, l1, c1);
    item_done:
        free(first);
        free(second);
        if (st || p->tok.kind != HCG_TOK_COMMA) break;
        st = advance(p);
    }
    return st;
}

/* ---------------------------------------------------------------- constants */

typedef struct leaf {
    pval_kind kind; /* PV_INT or PV_FLOAT; bools are PV_INT with is_bool */
    bool is_bool;
    int64_t i;
    double f;
    int line, col;
} leaf;

typedef struct leaves {
    leaf *v;
    size_t n, cap;
} leaves;

/* [ "-" ] ( INT | FLOAT | inf | nan ) | true | false. */
static hcg_status parse_number(parser *p, leaf *out, bool allow_bool)
{
    memset(out, 0, sizeof *out);
    out->line = p->tok.line;
    out->col = p->tok.col;
    bool neg = false;
    hcg_status st;
    if (allow_bool && (tok_is_word(p, "true") || tok_is_word(p, "false"))) {
        out->kind = PV_INT;
        out->is_bool = true;
        out->i = tok_is_word(p, "true");
        return advance(p);
    }
    if (p->tok.kind == HCG_TOK_MINUS) {
        neg = true;
        if ((st = advance(p))) return st;
    }
    if (p->tok.kind == HCG_TOK_INT) {
        if (p->tok.overflow || p->tok.u > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
            return perr(p, HCG_ERR_PARSE, out->line, out->col, "integer out of range (64 bits)");
        out->kind = PV_INT;
        out->i = neg ? (int64_t)(0 - p->tok.u) : (int64_t)p->tok.u;
        out->f = neg ? -(double)p->tok.u : (double)p->tok.u;
    } else if (p->tok.kind == HCG_TOK_FLOAT) {
        out->kind = PV_FLOAT;
        out->f = neg ? -p->tok.f : p->tok.f;
    } else if (tok_is_word(p, "inf") || tok_is_word(p, "nan")) {
        out->kind = PV_FLOAT;
        out->f = tok_is_word(p, "inf") ? INFINITY : NAN;
        if (neg) out->f = -out->f;
    } else {
        return unexpected(p, neg ? "a number after '-'" : allow_bool ? "a number, true or false" : "a number");
    }
    return advance(p);
}

static bool leaves_push(leaves *l, const leaf *v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        leaf *a = realloc(l->v, sizeof *a * cap);
        if (!a) return false;
        l->v = a;
        l->cap = cap;
    }
    l->v[l->n++] = *v;
    return true;
}

/* A list at nesting depth `depth`. Nested lists follow the shape exactly; a flat list at the top
 * holds every element. */
static hcg_status parse_const_list(parser *p, const hcg_shape *s, hcg_dtype dtype, int depth, bool nested, leaves *out)
{
    int line = p->tok.line, col = p->tok.col;
    hcg_status st = expect(p, HCG_TOK_LBRACKET, "'['");
    if (st) return st;
    if (depth == 0 && s->rank >= 2) nested = p->tok.kind == HCG_TOK_LBRACKET;
    bool holds_lists = nested && depth < s->rank - 1;
    int64_t count = 0;
    while (p->tok.kind != HCG_TOK_RBRACKET) {
        if (holds_lists) {
            if (p->tok.kind != HCG_TOK_LBRACKET) return unexpected(p, "'[' (a nested list for the next dim)");
            if ((st = parse_const_list(p, s, dtype, depth + 1, true, out))) return st;
        } else {
            leaf v;
            if ((st = parse_number(p, &v, dtype == HCG_BOOL))) return st;
            if (!leaves_push(out, &v)) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
        count++;
        if (p->tok.kind == HCG_TOK_COMMA) {
            if ((st = advance(p))) return st;
        } else if (p->tok.kind != HCG_TOK_RBRACKET) {
            return unexpected(p, "',' or ']'");
        }
    }
    int64_t want;
    char t[300];
    hcg_format_type(p->g, dtype, s, t, sizeof t);
    if (nested || s->rank == 1) {
        want = s->dims[depth];
        if (count != want)
            return perr(p, HCG_ERR_SHAPE, line, col, "%s needs %lld values in this list (dim %d), got %lld", t,
                        (long long)want, depth, (long long)count);
    } else {
        hcg_shape_numel(s, &want);
        if (count != want)
            return perr(p, HCG_ERR_SHAPE, line, col, "%s needs %lld values, got %lld", t, (long long)want, (long long)count);
    }
    return advance(p);
}

/* Stores the parsed values into t, checking each fits the dtype. */
static hcg_status fill_constant(const parser *p, const leaves *l, hcg_tensor *t)
{
    for (size_t i = 0; i < l->n; i++) {
        const leaf *v = &l->v[i];
        const char *dn = hcg_dtype_name(t->dtype);
        bool is_int = v->kind == PV_INT;
        switch (t->dtype) {
        case HCG_F32:
        case HCG_F16: {
            if (v->is_bool) return perr(p, HCG_ERR_PARSE, v->line, v->col, "a %s constant needs numbers", dn);
            double d = is_int ? (double)v->i : v->f;
            /* Beyond the largest finite value plus half an ulp a value rounds to infinity. */
            double limit = t->dtype == HCG_F32 ? 0x1.ffffffp+127 : 65520.0;
            if (isfinite(d) && fabs(d) >= limit)
                return perr(p, HCG_ERR_PARSE, v->line, v->col, "%.17g does not fit in %s", d, dn);
            float fv = (float)d;
            if (t->dtype == HCG_F32) {
                ((float *)t->data)[i] = fv;
            } else {
                uint16_t h = hcg_float_to_half(fv);
                if (isfinite(d) && (h & 0x7fffu) == 0x7c00u)
                    return perr(p, HCG_ERR_PARSE, v->line, v->col, "%.17g does not fit in %s", d, dn);
                ((uint16_t *)t->data)[i] = h;
            }
            break;
        }
        case HCG_I32:
        case HCG_I64:
        case HCG_U8:
        case HCG_I8: {
            if (!is_int || v->is_bool) return perr(p, HCG_ERR_PARSE, v->line, v->col, "a %s constant needs integers", dn);
            int64_t lo = t->dtype == HCG_I32 ? INT32_MIN : t->dtype == HCG_U8 ? 0 : t->dtype == HCG_I8 ? INT8_MIN : INT64_MIN;
            int64_t hi = t->dtype == HCG_I32 ? INT32_MAX : t->dtype == HCG_U8 ? 255 : t->dtype == HCG_I8 ? INT8_MAX : INT64_MAX;
            if (v->i < lo || v->i > hi)
                return perr(p, HCG_ERR_PARSE, v->line, v->col, "%lld does not fit in %s", (long long)v->i, dn);
            if (t->dtype == HCG_I32) ((int32_t *)t->data)[i] = (int32_t)v->i;
            else if (t->dtype == HCG_I64) ((int64_t *)t->data)[i] = v->i;
            else if (t->dtype == HCG_I8) ((int8_t *)t->data)[i] = (int8_t)v->i;
            else ((uint8_t *)t->data)[i] = (uint8_t)v->i;
            break;
        }
        case HCG_BOOL:
            if (!is_int || (v->i != 0 && v->i != 1))
                return perr(p, HCG_ERR_PARSE, v->line, v->col, "a bool constant needs true, false, 0 or 1");
            ((uint8_t *)t->data)[i] = (uint8_t)v->i;
            break;
        default: return perr(p, HCG_ERR_INTERNAL, v->line, v->col, "bad dtype");
        }
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- statements: param, const */

/* "param" name ":" type [ "=" STRING ] [ "from" STRING ] [ pin ]
 * "const" name ":" type "=" ( value | STRING [ "from" STRING ] ) [ pin ] */
static hcg_status parse_source(parser *p, bool is_param)
{
    const char *kind = is_param ? "param" : "const";
    char *name = NULL, *key = NULL, *file = NULL, *pin = NULL;
    int line = 0, col = 0, pl = 0, pc = 0;
    src_pos at = {0};
    hcg_dtype dtype;
    hcg_shape shape;
    hcg_tensor *t = NULL;
    leaves vals = {0};
    hcg_status st = advance(p);
    if (st || (st = parse_name(p, is_param ? "the param's name" : "the constant's name", &name, &line, &col))) goto done;
    if ((st = check_new_name(p, name, line, col))) goto done;
    if ((st = expect(p, HCG_TOK_COLON, is_param ? "':' and the param's type" : "':' and the constant's type"))) goto done;
    at.type_line = p->tok.line;
    at.type_col = p->tok.col;
    if ((st = parse_type(p, false, is_param ? "a param" : "a constant", &dtype, &shape))) goto done;
    bool from_file = is_param;
    if (!is_param) {
        if ((st = expect(p, HCG_TOK_EQUALS, "'=' and the constant's value"))) goto done;
        if (p->tok.kind == HCG_TOK_STRING) {
            from_file = true;
            if ((st = take_string(p, "a tensor name", &key, &at.key_line, &at.key_col)) ||
                (st = parse_from(p, &file, &at.file_line, &at.file_col)))
                goto done;
        } else if (shape.rank == 0) {
            leaf v;
            if ((st = parse_number(p, &v, dtype == HCG_BOOL))) goto done;
            if (!leaves_push(&vals, &v)) {
                st = hcg_error(HCG_ERR_NOMEM, "out of memory");
                goto done;
            }
        } else {
            if (p->tok.kind != HCG_TOK_LBRACKET) {
                st = unexpected(p, "a list of values in [ ] (or a \"tensor name\" in the weights file)");
                goto done;
            }
            if ((st = parse_const_list(p, &shape, dtype, 0, true, &vals))) goto done;
        }
    } else {
        if (p->tok.kind == HCG_TOK_EQUALS) {
            if ((st = advance(p)) ||
                (st = take_string(p, "the tensor's name in the weights file, as a \"string\"", &key, &at.key_line,
                                 &at.key_col)))
                goto done;
        }
        if ((st = parse_from(p, &file, &at.file_line, &at.file_col))) goto done;
    }
    if ((st = parse_pin(p, &pin, &pl, &pc))) goto done;

    if (from_file) {
        const char *use_file = file ? file : p->weights;
        if (!use_file) {
            st = perr(p, HCG_ERR_GRAPH, line, col,
                      "%s '%s': no weights file (add `weights \"file.safetensors\"` or `from \"file.safetensors\"`)",
                      kind, name);
            goto done;
        }
        const char *use_key = key ? key : name;
        if (!at.file_line) {
            at.file_line = line;
            at.file_col = col;
        }
        if (!at.key_line) {
            at.key_line = line;
            at.key_col = col;
        }
        if ((st = weight_tensor(p, kind, name, use_key, use_file, &at, dtype, &shape, &t))) goto done;
        hcg_id id = is_param ? hcg_param(p->g, name, t) : hcg_constant(p->g, name, t);
        t = NULL; /* the graph owns it now, or freed it */
        if ((st = placed(p, id, line, col)) || (st = set_weight_ref(p->g, id, use_key, use_file))) goto done;
        st = apply_pin(p, id, pin, pl, pc);
    } else {
        if ((st = hcg_tensor_new(dtype, &shape, &t))) {
            prefix_at(p, st, at.type_line, at.type_col);
            goto done;
        }
        if ((st = fill_constant(p, &vals, t))) goto done;
        hcg_id id = hcg_constant(p->g, name, t);
        t = NULL;
        if ((st = placed(p, id, line, col))) goto done;
        st = apply_pin(p, id, pin, pl, pc);
    }
done:
    hcg_tensor_free(t);
    free(vals.v);
    free(name);
    free(key);
    free(file);
    free(pin);
    return st;
}

/* ---------------------------------------------------------------- attribute values */

static void pval_clear(pval *v)
{
    free(v->s);
    for (int i = 0; i < v->n; i++) pval_clear(&v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

/* scalar = [ "-" ] ( INT | FLOAT | inf ) | nan | true | false | NAME | STRING */
static hcg_status parse_attr_scalar(parser *p, pval *out)
{
    memset(out, 0, sizeof *out);
    out->line = p->tok.line;
    out->col = p->tok.col;
    bool literal_word = tok_is_word(p, "inf") || tok_is_word(p, "nan") || tok_is_word(p, "true") ||
                        tok_is_word(p, "false");
    if ((p->tok.kind == HCG_TOK_NAME && !literal_word) || p->tok.kind == HCG_TOK_STRING) {
        out->kind = PV_WORD;
        out->quoted = p->tok.kind == HCG_TOK_STRING;
        return take_text(p, &out->s);
    }
    leaf v;
    hcg_status st = parse_number(p, &v, true);
    if (st) return st;
    out->kind = v.kind;
    out->i = v.i;
    out->f = v.kind == PV_INT ? (double)v.i : v.f;
    return HCG_OK;
}

/* value = scalar | "[" [ scalar { "," scalar } [ "," ] ] "]" */
static hcg_status parse_attr_value(parser *p, pval *out)
{
    if (p->tok.kind != HCG_TOK_LBRACKET) return parse_attr_scalar(p, out);
    memset(out, 0, sizeof *out);
    out->kind = PV_LIST;
    out->line = p->tok.line;
    out->col = p->tok.col;
    hcg_status st = advance(p);
    int cap = 0;
    while (!st && p->tok.kind != HCG_TOK_RBRACKET) {
        if (p->tok.kind == HCG_TOK_LBRACKET)
            return perr(p, HCG_ERR_PARSE, p->tok.line, p->tok.col, "attribute lists cannot be nested");
        if (out->n == cap) {
            if (cap >= INT_MAX / 2) return perr(p, HCG_ERR_PARSE, out->line, out->col, "list too long");
            cap = cap ? cap * 2 : 8;
            pval *a = realloc(out->items, sizeof *a * (size_t)cap);
            if (!a) return hcg_error(HCG_ERR_NOMEM, "out of memory");
            out->items = a;
        }
        st = parse_attr_scalar(p, &out->items[out->n++]); /* counted even on failure, so it is freed */
        if (st) return st;
        if (p->tok.kind == HCG_TOK_COMMA) st = advance(p);
        else if (p->tok.kind != HCG_TOK_RBRACKET) return unexpected(p, "',' or ']'");
    }
    return st ? st : advance(p);
}

/* An integer-valued item: an integer, or a symbol (a name or "quoted" name). */
static hcg_status pval_int(parser *p, const pval *v, const char *attr, int64_t *out)
{
    if (v->kind == PV_INT) {
        *out = v->i;
        return HCG_OK;
    }
    if (v->kind == PV_WORD) {
        if (!v->s[0]) return perr(p, HCG_ERR_PARSE, v->line, v->col, "a symbol may not be empty");
        *out = hcg_sym(p->g, v->s);
        return *out ? HCG_OK : hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    return perr(p, HCG_ERR_GRAPH, v->line, v->col, "attribute '%s' needs integers or symbols, got %s", attr,
                v->kind == PV_LIST ? "a list" : "a fraction");
}

/* Storage for the hcg_attr values built from parsed ones. */
typedef struct attr_store {
    hcg_attr *attrs;
    int64_t **ints;
    double **floats;
    int n;   /* attrs in use */
    int cap; /* slots allocated */
} attr_store;

static void attr_store_free(attr_store *s)
{
    for (int i = 0; i < s->cap; i++) {
        if (s->ints) free(s->ints[i]);
        if (s->floats) free(s->floats[i]);
    }
    free(s->attrs);
    free(s->ints);
    free(s->floats);
    memset(s, 0, sizeof *s);
}

/* Interprets parsed attribute a by the kind op's schema gives it. */
static hcg_status convert_attr(parser *p, hcg_op op, const parsed_attr *a, attr_store *s, int k)
{
    const hcg_op_info *info = hcg_op_info_get(op);
    int slot = hcg_attr_slot_accepting(op, a->name);
    if (slot < 0) {
        char known[256];
        hcg_op_attr_list(op, known, sizeof known);
        return perr(p, HCG_ERR_GRAPH, a->line, a->col, "%s has no attribute '%s' (%s%s)", hcg_op_name(op), a->name,
                    known[0] ? "it takes: " : "it takes none", known);
    }
    hcg_attr_kind kind = info->attrs[slot].kind;
    hcg_attr *out = &s->attrs[k];
    const pval *v = &a->v;
    hcg_status st;
    out->name = a->name;
    switch (kind) {
    case HCG_ATTR_INT:
        out->kind = HCG_ATTR_INT;
        return pval_int(p, v, a->name, &out->i);
    case HCG_ATTR_FLOAT:
        if (v->kind == PV_FLOAT) {
            out->kind = HCG_ATTR_FLOAT;
            out->f = v->f;
            return HCG_OK;
        }
        /* An integer, or a symbol (bound to its value when the graph is bound). */
        out->kind = HCG_ATTR_FLOAT;
        int64_t iv;
        if ((st = pval_int(p, v, a->name, &iv))) return st;
        out->f = (double)iv;
        return HCG_OK;
    case HCG_ATTR_INTS:
    case HCG_ATTR_FLOATS: {
        int n = v->kind == PV_LIST ? v->n : 1;
        const pval *items = v->kind == PV_LIST ? v->items : v;
        out->kind = kind;
        out->n = n;
        if (kind == HCG_ATTR_INTS) {
            if (!(s->ints[k] = malloc(sizeof(int64_t) * (size_t)(n ? n : 1)))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
            for (int i = 0; i < n; i++)
                if ((st = pval_int(p, &items[i], a->name, &s->ints[k][i]))) return st;
            out->ints = s->ints[k];
        } else {
            if (!(s->floats[k] = malloc(sizeof(double) * (size_t)(n ? n : 1)))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
            for (int i = 0; i < n; i++) {
                if (items[i].kind != PV_INT && items[i].kind != PV_FLOAT)
                    return perr(p, HCG_ERR_GRAPH, items[i].line, items[i].col, "attribute '%s' needs numbers", a->name);
                s->floats[k][i] = items[i].f;
            }
            out->floats = s->floats[k];
        }
        return HCG_OK;
    }
    case HCG_ATTR_STRING:
        if (v->kind != PV_WORD)
            return perr(p, HCG_ERR_GRAPH, v->line, v->col, "attribute '%s' needs a name or a \"string\"", a->name);
        out->kind = HCG_ATTR_STRING;
        out->s = v->s;
        return HCG_OK;
    default: return perr(p, HCG_ERR_INTERNAL, a->line, a->col, "attribute '%s' has no kind", a->name);
    }
}

/* ---------------------------------------------------------------- node statements */

static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int row[64];
    if (na >= 63 || nb >= 63) return 99;
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

static hcg_status unknown_op(const parser *p, const char *name, int line, int col)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < HCG_OP_COUNT; i++) {
        const hcg_op_info *info = hcg_op_info_get((hcg_op)i);
        if (info->flags & HCG_OPF_SOURCE) continue;
        int d = edit_distance(name, hcg_op_name((hcg_op)i));
        if (d < best_d) {
            best_d = d;
            best = hcg_op_name((hcg_op)i);
        }
    }
    if (best) return perr(p, HCG_ERR_GRAPH, line, col, "unknown op '%s' (did you mean '%s'?)", name, best);
    return perr(p, HCG_ERR_GRAPH, line, col, "unknown op '%s' (`hcg ops` lists them)", name);
}

typedef struct node_stmt {
    char **names; /* results */
    int *name_line, *name_col;
    int n_names, cap_names;
    int op_line, op_col;
    hcg_id *inputs;
    int n_inputs, cap_inputs;
    parsed_attr *attrs;
    int n_attrs, cap_attrs;
    char *pin;
    int pin_line, pin_col;
} node_stmt;

static void node_stmt_free(node_stmt *s)
{
    for (int i = 0; i < s->n_names; i++) free(s->names[i]);
    free(s->names);
    free(s->name_line);
    free(s->name_col);
    free(s->inputs);
    for (int i = 0; i < s->n_attrs; i++) {
        free(s->attrs[i].name);
        pval_clear(&s->attrs[i].v);
    }
    free(s->attrs);
    free(s->pin);
}

/* Grows an array of elem-sized items to hold one more. */
static bool grow(void **arr, int *cap, int n, size_t elem)
{
    if (n < *cap) return true;
    if (*cap >= INT_MAX / 2) return false;
    int c = *cap ? *cap * 2 : 4;
    void *a = realloc(*arr, elem * (size_t)c);
    if (!a) return false;
    *arr = a;
    *cap = c;
    return true;
}

static hcg_status push_name(node_stmt *s, char *name, int line, int col)
{
    int cap = s->cap_names;
    if (!grow((void **)&s->names, &cap, s->n_names, sizeof(char *))) goto nomem;
    cap = s->cap_names;
    if (!grow((void **)&s->name_line, &cap, s->n_names, sizeof(int))) goto nomem;
    cap = s->cap_names;
    if (!grow((void **)&s->name_col, &cap, s->n_names, sizeof(int))) goto nomem;
    s->cap_names = cap;
    s->names[s->n_names] = name;
    s->name_line[s->n_names] = line;
    s->name_col[s->n_names++] = col;
    return HCG_OK;
nomem:
    free(name);
    return hcg_error(HCG_ERR_NOMEM, "out of memory");
}

/* name { "," name } "=" op "(" [ arg { "," arg } [ "," ] ] ")" [ pin ] */
static hcg_status parse_node_syntax(parser *p, node_stmt *s, hcg_op *op)
{
    hcg_status st;
    for (;;) {
        char *name = NULL;
        int line = 0, col = 0;
        if ((st = parse_name(p, "a result name", &name, &line, &col))) return st;
        if ((st = push_name(s, name, line, col))) return st;
        if (p->tok.kind != HCG_TOK_COMMA) break;
        if ((st = advance(p))) return st;
    }
    if ((st = expect(p, HCG_TOK_EQUALS, s->n_names > 1 ? "',' or '='" : "'=' (name = op(inputs, attributes))")))
        return st;
    if (p->tok.kind != HCG_TOK_NAME) return unexpected(p, "an op name");
    s->op_line = p->tok.line;
    s->op_col = p->tok.col;
    if (!hcg_op_parse(p->tok.text, op)) return unknown_op(p, p->tok.text, s->op_line, s->op_col);
    if (hcg_op_info_get(*op)->flags & HCG_OPF_SOURCE)
        return perr(p, HCG_ERR_GRAPH, s->op_line, s->op_col, "'%s' is not an op to call: declare it with a%s %s statement",
                    p->tok.text, *op == HCG_OP_INPUT ? "n" : "", *op == HCG_OP_CONSTANT ? "const" : p->tok.text);
    if ((st = advance(p))) return st;
    int open_line = p->tok.line, open_col = p->tok.col;
    if ((st = expect(p, HCG_TOK_LPAREN, "'(' and the op's inputs"))) return st;
    while (p->tok.kind != HCG_TOK_RPAREN) {
        hcg_tok_kind after;
        if (p->tok.kind == HCG_TOK_NAME) {
            if ((st = peek_kind(p, &after))) return st;
        } else {
            after = HCG_TOK_EOF;
        }
        if (after == HCG_TOK_EQUALS) {
            parsed_attr a;
            memset(&a, 0, sizeof a);
            a.line = p->tok.line;
            a.col = p->tok.col;
            for (int i = 0; i < s->n_attrs; i++)
                if (strcmp(s->attrs[i].name, p->tok.text) == 0)
                    return perr(p, HCG_ERR_PARSE, a.line, a.col, "attribute '%s' is given twice", p->tok.text);
            a.name = p->tok.text;
            p->tok.text = NULL;
            if ((st = advance(p)) || (st = advance(p)) || (st = parse_attr_value(p, &a.v))) {
                free(a.name);
                pval_clear(&a.v);
                return st;
            }
            if (!grow((void **)&s->attrs, &s->cap_attrs, s->n_attrs, sizeof a)) {
                free(a.name);
                pval_clear(&a.v);
                return hcg_error(HCG_ERR_NOMEM, "out of memory");
            }
            s->attrs[s->n_attrs++] = a;
        } else {
            if (s->n_attrs > 0) return perr(p, HCG_ERR_PARSE, p->tok.line, p->tok.col, "an input after an attribute (inputs come first)");
            char *name;
            int line, col;
            hcg_id id = -1;
            if ((st = parse_name(p, "an input name or attribute=value", &name, &line, &col))) return st;
            st = lookup(p, name, line, col, &id);
            free(name);
            if (st) return st;
            if (!grow((void **)&s->inputs, &s->cap_inputs, s->n_inputs, sizeof(hcg_id)))
                return hcg_error(HCG_ERR_NOMEM, "out of memory");
            s->inputs[s->n_inputs++] = id;
        }
        if (p->tok.kind == HCG_TOK_COMMA) {
            if ((st = advance(p))) return st;
        } else if (p->tok.kind != HCG_TOK_RPAREN) {
            char want[96];
            snprintf(want, sizeof want, "',' or ')' (to close the '(' at %d:%d)", open_line, open_col);
            return unexpected(p, want);
        }
    }
    if ((st = advance(p))) return st;
    return parse_pin(p, &s->pin, &s->pin_line, &s->pin_col);
}

static const parsed_attr *find_parsed(const node_stmt *s, const char *name)
{
    for (int i = 0; i < s->n_attrs; i++)
        if (strcmp(s->attrs[i].name, name) == 0) return &s->attrs[i];
    return NULL;
}

/* `a, b, c = split(...)`: checks the results agree with parts or sizes (adding parts when
 * neither is given); the index attribute is set per result. */
static hcg_status check_multi_result(parser *p, node_stmt *s, hcg_op op, attr_store *store)
{
    int k = s->n_names;
    if (op != HCG_OP_SPLIT)
        return perr(p, HCG_ERR_GRAPH, s->name_line[1], s->name_col[1], "only split gives several results; %s gives one",
                    hcg_op_name(op));
    const parsed_attr *idx = find_parsed(s, "index"), *parts = find_parsed(s, "parts"), *sizes = find_parsed(s, "sizes");
    if (idx)
        return perr(p, HCG_ERR_GRAPH, idx->line, idx->col, "index is implied by the %d result names; drop it", k);
    if (parts && parts->v.kind == PV_INT && parts->v.i != k)
        return perr(p, HCG_ERR_GRAPH, parts->line, parts->col, "parts=%lld, but %d results are named",
                    (long long)parts->v.i, k);
    if (sizes && sizes->v.kind == PV_LIST && sizes->v.n != k)
        return perr(p, HCG_ERR_GRAPH, sizes->line, sizes->col, "sizes has %d entries, but %d results are named",
                    sizes->v.n, k);
    if (!parts && !sizes && s->n_inputs < 2) store->attrs[store->n++] = HCG_ATTR_I("parts", k);
    return HCG_OK;
}

static hcg_status parse_node(parser *p)
{
    node_stmt s;
    attr_store store;
    hcg_op op = HCG_OP_ADD;
    memset(&s, 0, sizeof s);
    memset(&store, 0, sizeof store);
    hcg_status st = parse_node_syntax(p, &s, &op);
    if (st) goto done;
    for (int i = 0; i < s.n_names; i++) {
        if ((st = check_new_name(p, s.names[i], s.name_line[i], s.name_col[i]))) goto done;
        for (int j = 0; j < i; j++)
            if (strcmp(s.names[i], s.names[j]) == 0) {
                st = perr(p, HCG_ERR_GRAPH, s.name_line[i], s.name_col[i], "'%s' is named twice", s.names[i]);
                goto done;
            }
    }
    /* Room for the parsed attributes plus parts and index. */
    size_t cap = (size_t)s.n_attrs + 2;
    store.attrs = calloc(cap, sizeof *store.attrs);
    store.ints = calloc(cap, sizeof *store.ints);
    store.floats = calloc(cap, sizeof *store.floats);
    store.cap = (int)cap;
    if (!store.attrs || !store.ints || !store.floats) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < s.n_attrs; i++) {
        store.n = i + 1;
        if ((st = convert_attr(p, op, &s.attrs[i], &store, i))) goto done;
    }
    store.n = s.n_attrs;
    if (s.n_names > 1 && (st = check_multi_result(p, &s, op, &store))) goto done;
    int n_attrs = store.n;
    for (int r = 0; r < s.n_names; r++) {
        if (s.n_names > 1) store.attrs[n_attrs] = HCG_ATTR_I("index", r);
        hcg_id id = hcg_add_node(p->g, op, s.names[r], s.inputs, s.n_inputs, store.attrs, n_attrs + (s.n_names > 1));
        if (id < 0) {
            st = prefix_at(p, (hcg_status)-id, s.op_line, s.op_col);
            goto done;
        }
        p->g->nodes[id].line = s.name_line[r];
        p->g->nodes[id].col = s.name_col[r];
        if ((st = apply_pin(p, id, s.pin, s.pin_line, s.pin_col))) goto done;
    }
done:
    attr_store_free(&store);
    node_stmt_free(&s);
    return st;
}

/* ---------------------------------------------------------------- files */

static hcg_status parse_statement(parser *p)
{
    hcg_status st;
    if (p->tok.kind == HCG_TOK_NEWLINE) return advance(p);
    p->n_statements++;
    if (p->tok.kind == HCG_TOK_NAME) {
        /* Keywords start statements only when no '=' or ',' follows, so `input = relu(x)` defines
         * a node named input. */
        hcg_tok_kind after;
        if ((st = peek_kind(p, &after))) return st;
        bool keyword = after != HCG_TOK_EQUALS && after != HCG_TOK_COMMA;
        const char *w = p->tok.text;
        if (keyword && strcmp(w, "hcg") == 0) st = parse_version(p);
        else if (keyword && strcmp(w, "weights") == 0) st = parse_weights(p);
        else if (keyword && strcmp(w, "input") == 0) st = parse_declared(p, false);
        else if (keyword && strcmp(w, "state") == 0) st = parse_declared(p, true);
        else if (keyword && strcmp(w, "param") == 0) st = parse_source(p, true);
        else if (keyword && strcmp(w, "const") == 0) st = parse_source(p, false);
        else if (keyword && strcmp(w, "output") == 0) st = parse_output(p);
        else st = parse_node(p);
    } else if (p->tok.kind == HCG_TOK_STRING) {
        st = parse_node(p);
    } else {
        return unexpected(p, "a statement (input, param, const, state, output, weights, or name = op(...))");
    }
    if (st) return st;
    if (p->tok.kind != HCG_TOK_NEWLINE && p->tok.kind != HCG_TOK_EOF) return unexpected(p, "the end of the line");
    return HCG_OK;
}

hcg_status hcg_text_parse(const char *src, size_t len, const char *path, const char *base_dir, hcg_graph **out)
{
    if (!out || (!src && len)) return hcg_error(HCG_ERR_ARG, "hcg_text_parse: bad arguments");
    *out = NULL;
    if (!path) path = "<text>";
    parser p;
    memset(&p, 0, sizeof p);
    p.path = path;
    p.base_dir = base_dir;
    hcg_lexer_init(&p.lx, path, src ? src : "", len);
    if (!(p.g = hcg_graph_new())) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    size_t pn = strlen(path) + 1;
    if (!(p.g->path = malloc(pn))) {
        hcg_graph_free(p.g);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    memcpy(p.g->path, path, pn);
    /* Numbers are read with strtod, which follows the locale: use "C" (decimal point '.') on
     * this thread for the duration. */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old_locale = c_locale ? uselocale(c_locale) : (locale_t)0;
    hcg_status st = advance(&p);
    while (!st && p.tok.kind != HCG_TOK_EOF) st = parse_statement(&p);
    if (c_locale) {
        uselocale(old_locale);
        freelocale(c_locale);
    }
    hcg_token_clear(&p.tok);
    hcg_token_clear(&p.next);
    free(p.weights);
    for (int i = 0; i < p.n_files; i++) free(p.files[i].real);
    free(p.files);
    if (st) {
        hcg_graph_free(p.g);
        return st;
    }
    *out = p.g;
    return HCG_OK;
}

hcg_status hcg_text_load(const char *path, hcg_graph **out)
{
    if (!path || !out) return hcg_error(HCG_ERR_ARG, "hcg_load: no path or output");
    *out = NULL;
    char *src;
    size_t len;
    hcg_status st = hcg_read_file(path, &src, &len);
    if (st) return st;
    /* Weights are resolved in the graph file's folder. */
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (!slash) {
        dir = malloc(2);
        if (dir) memcpy(dir, ".", 2);
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = 0;
        }
    }
    if (!dir) {
        free(src);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    st = hcg_text_parse(src, len, path, dir, out);
    free(dir);
    free(src);
    return st;
}
