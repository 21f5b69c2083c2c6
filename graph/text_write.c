/* text_write.c — hcg_save: writes a graph as .hcg text plus a safetensors file beside it
 * ("model.hcg" -> "model.safetensors") holding the params and the large constants, both
 * atomically. Numbers are printed so that reading them back gives the same bits. */
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

/* Constants with at most this many elements are written inline; larger ones go to the weights
 * file (docs/graph-format.md). */
#define HCG_TEXT_INLINE_MAX 256
/* Inline values per line in a long constant. */
#define VALUES_PER_LINE 16

/* ---------------------------------------------------------------- a growable text buffer */

typedef struct text_buf {
    char *p;
    size_t n, cap;
    bool failed; /* out of memory */
} text_buf;

static void tb_printf(text_buf *b, const char *fmt, ...) HCG_PRINTF(2, 3);
static void tb_printf(text_buf *b, const char *fmt, ...)
{
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int w = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)w < room) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n <= (size_t)w) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Words the reader takes as literals where a number may stand. */
static bool is_reserved(const char *s)
{
    return strcmp(s, "true") == 0 || strcmp(s, "false") == 0 || strcmp(s, "inf") == 0 || strcmp(s, "nan") == 0;
}

/* A "quoted string" with escapes for quotes, backslashes and control bytes. */
static void tb_string(text_buf *b, const char *s)
{
    tb_printf(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') tb_printf(b, "\\%c", *c);
        else if (*c == '\n') tb_printf(b, "\\n");
        else if (*c == '\t') tb_printf(b, "\\t");
        else if (*c == '\r') tb_printf(b, "\\r");
        else if (*c < 0x20 || *c == 0x7f) tb_printf(b, "\\x%02x", *c);
        else tb_printf(b, "%c", *c);
    }
    tb_printf(b, "\"");
}

/* A name: bare when it lexes as one NAME that is not a literal word, else quoted. */
static void tb_name(text_buf *b, const char *s)
{
    if (hcg_text_is_name(s) && !is_reserved(s)) tb_printf(b, "%s", s);
    else tb_string(b, s);
}

/* ---------------------------------------------------------------- numbers */

/* The shortest %.Ng (N from lo to hi) that reads back as exactly v via strtod (and, for f32,
 * a cast to float). Negative zero keeps its sign as "-0.0". */
static void format_real(char *buf, size_t n, double v, bool as_f32)
{
    if (isnan(v)) {
        snprintf(buf, n, "%s", signbit(v) ? "-nan" : "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, "%s", v < 0 ? "-inf" : "inf");
        return;
    }
    if (v == 0) {
        snprintf(buf, n, "%s", signbit(v) ? "-0.0" : "0");
        return;
    }
    int lo = as_f32 ? 6 : 15, hi = as_f32 ? 9 : 17;
    for (int digits = lo; digits <= hi; digits++) {
        snprintf(buf, n, "%.*g", digits, v);
        double back = strtod(buf, NULL);
        if (as_f32 ? (float)back == (float)v : back == v) return;
    }
}

/* A symbol's value as its name, if d is one of g's symbols. */
static const char *symbol_name(const hcg_graph *g, int64_t d)
{
    /* Values far below the symbol range (INT64_MIN as a slice end) are plain numbers. */
    if (!HCG_DIM_IS_SYM(d) || HCG_SYM_BASE - d >= g->n_syms) return NULL;
    return g->syms[HCG_DIM_SYM_ID(d)];
}

static void tb_int_or_symbol(text_buf *b, const hcg_graph *g, int64_t v)
{
    const char *sym = symbol_name(g, v);
    if (sym) tb_name(b, sym);
    else tb_printf(b, "%lld", (long long)v);
}

static void tb_type(text_buf *b, const hcg_graph *g, hcg_dtype dtype, const hcg_shape *s)
{
    tb_printf(b, "%s[", hcg_dtype_name(dtype));
    for (int i = 0; i < s->rank; i++) {
        if (i) tb_printf(b, ", ");
        tb_int_or_symbol(b, g, s->dims[i]);
    }
    tb_printf(b, "]");
}

/* ---------------------------------------------------------------- constants */

static bool canonical_nans(const hcg_tensor *t, int64_t numel)
{
    for (int64_t i = 0; i < numel; i++) {
        if (t->dtype == HCG_F32) {
            uint32_t u;
            memcpy(&u, (const char *)t->data + 4 * i, 4);
            if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu) && (u & 0x7fffffffu) != 0x7fc00000u) return false;
        } else if (t->dtype == HCG_F16) {
            uint16_t h;
            memcpy(&h, (const char *)t->data + 2 * i, 2);
            if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) && (h & 0x7fffu) != 0x7e00u) return false;
        }
    }
    return true;
}

/* Small constants are written inline unless they hold NaNs whose payload text cannot keep. */
static bool inline_constant(const hcg_tensor *t)
{
    int64_t numel;
    return hcg_shape_numel(&t->shape, &numel) && numel <= HCG_TEXT_INLINE_MAX && canonical_nans(t, numel);
}

static void tb_element(text_buf *b, const hcg_tensor *t, int64_t i)
{
    char num[64];
    const char *d = t->data;
    switch (t->dtype) {
    case HCG_F32: {
        float f;
        memcpy(&f, d + 4 * i, 4);
        format_real(num, sizeof num, f, true);
        tb_printf(b, "%s", num);
        break;
    }
    case HCG_F16: {
        uint16_t h;
        memcpy(&h, d + 2 * i, 2);
        format_real(num, sizeof num, hcg_half_to_float(h), true);
        tb_printf(b, "%s", num);
        break;
    }
    case HCG_I32: {
        int32_t v;
        memcpy(&v, d + 4 * i, 4);
        tb_printf(b, "%d", (int)v);
        break;
    }
    case HCG_I64: {
        int64_t v;
        memcpy(&v, d + 8 * i, 8);
        tb_printf(b, "%lld", (long long)v);
        break;
    }
    case HCG_U8: tb_printf(b, "%u", (unsigned)(unsigned char)d[i]); break;
    case HCG_I8: tb_printf(b, "%d", (int)(signed char)d[i]); break;
    case HCG_BOOL: tb_printf(b, "%s", d[i] ? "true" : "false"); break;
    default: tb_printf(b, "0"); break;
    }
}

static void tb_constant_value(text_buf *b, const hcg_tensor *t)
{
    int64_t numel = 0;
    hcg_shape_numel(&t->shape, &numel);
    if (t->shape.rank == 0) {
        tb_element(b, t, 0);
        return;
    }
    tb_printf(b, "[");
    for (int64_t i = 0; i < numel; i++) {
        if (i) tb_printf(b, numel > VALUES_PER_LINE && i % VALUES_PER_LINE == 0 ? ",\n    " : ", ");
        tb_element(b, t, i);
    }
    tb_printf(b, "]");
}

/* ---------------------------------------------------------------- attributes and nodes */

static void tb_real_attr(text_buf *b, const hcg_graph *g, double f)
{
    /* A symbol stored in a float attribute (a range's limit=S). */
    if (f <= (double)HCG_SYM_BASE && f >= (double)HCG_SYM_DIM(g->n_syms - 1) && floor(f) == f &&
        symbol_name(g, (int64_t)f)) {
        tb_name(b, symbol_name(g, (int64_t)f));
        return;
    }
    char num[64];
    format_real(num, sizeof num, f, false);
    tb_printf(b, "%s", num);
}

static void tb_attr_value(text_buf *b, const hcg_graph *g, const hcg_attr_value *v)
{
    switch (v->kind) {
    case HCG_ATTR_INT: tb_int_or_symbol(b, g, v->i); break;
    case HCG_ATTR_FLOAT: tb_real_attr(b, g, v->f); break;
    case HCG_ATTR_INTS:
        tb_printf(b, "[");
        for (int i = 0; i < v->n; i++) {
            if (i) tb_printf(b, ", ");
            tb_int_or_symbol(b, g, v->ints[i]);
        }
        tb_printf(b, "]");
        break;
    case HCG_ATTR_FLOATS:
        tb_printf(b, "[");
        for (int i = 0; i < v->n; i++) {
            if (i) tb_printf(b, ", ");
            tb_real_attr(b, g, v->floats[i]);
        }
        tb_printf(b, "]");
        break;
    case HCG_ATTR_STRING: tb_name(b, v->s ? v->s : ""); break;
    default: break;
    }
}

static void tb_pin(text_buf *b, const char *pin)
{
    if (!pin) return;
    bool bare = *pin != 0;
    for (const char *c = pin; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '.' || *c == ':' || *c == '-'))
            bare = false;
    tb_printf(b, " @");
    if (bare) tb_printf(b, "%s", pin);
    else tb_string(b, pin);
}

static bool attr_equal(const hcg_attr_value *a, const hcg_attr_value *b)
{
    if (a->kind != b->kind || a->set != b->set || a->i != b->i || a->n != b->n) return false;
    if (memcmp(&a->f, &b->f, sizeof a->f) != 0) return false;
    if (a->n && a->ints && (!b->ints || memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n))) return false;
    if (a->n && a->floats && (!b->floats || memcmp(a->floats, b->floats, sizeof(double) * (size_t)a->n))) return false;
    if ((a->s == NULL) != (b->s == NULL) || (a->s && strcmp(a->s, b->s) != 0)) return false;
    return true;
}

/* How many split nodes starting at id form one `a, b = split(...)` statement the reader
 * rebuilds exactly: parts (or sizes) given and equal to their count, index 0, 1, ... set, the
 * same input, attributes and pin. 1 if none. */
static int split_group(const hcg_graph *g, hcg_id id)
{
    const hcg_node *first = &g->nodes[id];
    int idx_slot = hcg_attr_slot(HCG_OP_SPLIT, "index"), parts_slot = hcg_attr_slot(HCG_OP_SPLIT, "parts");
    int sizes_slot = hcg_attr_slot(HCG_OP_SPLIT, "sizes");
    if (first->op != HCG_OP_SPLIT || !first->attrs[idx_slot].set || first->attrs[idx_slot].i != 0) return 1;
    int want;
    if (first->attrs[parts_slot].set) want = (int)first->attrs[parts_slot].i;
    else if (first->attrs[sizes_slot].set) want = first->attrs[sizes_slot].n;
    else return 1;
    if (want < 2 || want > g->n_nodes - id) return 1;
    for (int k = 1; k < want; k++) {
        const hcg_node *n = &g->nodes[id + k];
        if (n->op != HCG_OP_SPLIT || n->n_inputs != first->n_inputs ||
            memcmp(n->inputs, first->inputs, sizeof(hcg_id) * (size_t)n->n_inputs) != 0)
            return 1;
        if ((n->pin == NULL) != (first->pin == NULL) || (n->pin && strcmp(n->pin, first->pin) != 0)) return 1;
        for (int a = 0; a < HCG_MAX_ATTRS; a++) {
            if (a == idx_slot) {
                if (!n->attrs[a].set || n->attrs[a].i != k) return 1;
            } else if (!attr_equal(&n->attrs[a], &first->attrs[a])) {
                return 1;
            }
        }
    }
    return want;
}

/* Writes the node statement for nodes id .. id+count-1 (count > 1: a split group). */
static void tb_node(text_buf *b, const hcg_graph *g, hcg_id id, int count)
{
    const hcg_node *n = &g->nodes[id];
    const hcg_op_info *info = hcg_op_info_get(n->op);
    for (int k = 0; k < count; k++) {
        if (k) tb_printf(b, ", ");
        tb_name(b, g->nodes[id + k].name);
    }
    tb_printf(b, " = %s(", hcg_op_name(n->op));
    bool any = false;
    for (int i = 0; i < n->n_inputs; i++) {
        tb_printf(b, "%s", any ? ", " : "");
        tb_name(b, g->nodes[n->inputs[i]].name);
        any = true;
    }
    for (int a = 0; a < HCG_MAX_ATTRS && info->attrs[a].name; a++) {
        const hcg_attr_value *v = &n->attrs[a];
        if (!v->set || (count > 1 && strcmp(info->attrs[a].name, "index") == 0)) continue;
        tb_printf(b, "%s%s=", any ? ", " : "", info->attrs[a].name);
        tb_attr_value(b, g, v);
        any = true;
    }
    tb_printf(b, ")");
    tb_pin(b, n->pin);
    tb_printf(b, "\n");
}

/* ---------------------------------------------------------------- the weights file */

typedef struct weights_out {
    const char **names; /* by node id: the tensor's key in the weights file, or NULL */
    char **owned;       /* keys made up here */
    const char **keys;  /* in file order, for hcg_st_save */
    const hcg_tensor **tensors;
    int n;
    hcg_strmap used;
} weights_out;

static void weights_out_free(weights_out *w, int n_nodes)
{
    if (w->owned)
        for (int i = 0; i < n_nodes; i++) free(w->owned[i]);
    free(w->owned);
    free(w->names);
    free(w->keys);
    free(w->tensors);
    hcg_strmap_free(&w->used);
}

/* Picks a unique key for node id: its weight_key when free, else its name, else name_N. */
static hcg_status assign_key(weights_out *w, const hcg_graph *g, hcg_id id)
{
    const hcg_node *n = &g->nodes[id];
    const char *key = NULL;
    if (n->weight_key && *n->weight_key && strcmp(n->weight_key, "__metadata__") != 0 &&
        hcg_strmap_get(&w->used, n->weight_key) < 0)
        key = n->weight_key;
    else if (hcg_strmap_get(&w->used, n->name) < 0 && strcmp(n->name, "__metadata__") != 0)
        key = n->name;
    for (int k = 1; !key; k++) {
        size_t len = strlen(n->name) + 24;
        char *s = malloc(len);
        if (!s) return hcg_error(HCG_ERR_NOMEM, "out of memory");
        snprintf(s, len, "%s_%d", n->name, k);
        if (hcg_strmap_get(&w->used, s) < 0) {
            w->owned[id] = s;
            key = s;
        } else {
            free(s);
        }
    }
    if (!hcg_strmap_put(&w->used, key, id)) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    w->names[id] = key;
    w->keys[w->n] = key;
    w->tensors[w->n++] = n->value;
    return HCG_OK;
}

/* "dir/model.hcg" -> "dir/model.safetensors" (the extension replaced, or added). */
static char *weights_path_for(const char *path)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - path) : strlen(path);
    char *out = malloc(stem + sizeof ".safetensors");
    if (!out) return NULL;
    memcpy(out, path, stem);
    memcpy(out + stem, ".safetensors", sizeof ".safetensors");
    return out;
}

/* ---------------------------------------------------------------- hcg_save */

static hcg_status write_text(const hcg_graph *g, const weights_out *w, const char *weights_base, text_buf *b)
{
    tb_printf(b, "# hcg graph, written by hcg_save\nhcg 1\n");
    if (w->n) {
        tb_printf(b, "weights ");
        tb_string(b, weights_base);
        tb_printf(b, "\n");
    }
    tb_printf(b, "\n");
    for (hcg_id id = 0; id < g->n_nodes; id++) {
        const hcg_node *n = &g->nodes[id];
        if (n->op == HCG_OP_INPUT || n->op == HCG_OP_STATE || n->op == HCG_OP_PARAM || n->op == HCG_OP_CONSTANT) {
            bool has_value = n->op == HCG_OP_PARAM || n->op == HCG_OP_CONSTANT;
            if (has_value && !n->value)
                return hcg_error(HCG_ERR_GRAPH, "node '%s' (%s) has no value to save", n->name, hcg_op_name(n->op));
            if (n->op == HCG_OP_STATE && n->value) /* states start at zero in the format */
                return hcg_error(HCG_ERR_GRAPH, "state '%s' has an initial value, which the text format cannot hold",
                                 n->name);
            tb_printf(b, "%s ", n->op == HCG_OP_INPUT   ? "input"
                                : n->op == HCG_OP_STATE ? "state"
                                : n->op == HCG_OP_PARAM ? "param"
                                                        : "const");
            tb_name(b, n->name);
            tb_printf(b, ": ");
            if (has_value) tb_type(b, g, n->value->dtype, &n->value->shape);
            else tb_type(b, g, n->dtype, &n->shape);
            if (has_value && w->names[id]) {
                if (n->op == HCG_OP_CONSTANT || strcmp(w->names[id], n->name) != 0) {
                    tb_printf(b, " = ");
                    tb_string(b, w->names[id]);
                }
            } else if (has_value) {
                tb_printf(b, " = ");
                tb_constant_value(b, n->value);
            }
            tb_pin(b, n->pin);
            tb_printf(b, "\n");
            continue;
        }
        int count = split_group(g, id);
        tb_node(b, g, id, count);
        id += count - 1;
    }
    if (g->n_outputs) tb_printf(b, "\n");
    for (int i = 0; i < g->n_outputs; i++) {
        const hcg_node *n = &g->nodes[g->outputs[i]];
        tb_printf(b, "output ");
        tb_name(b, g->output_names[i]);
        if (strcmp(g->output_names[i], n->name) != 0) {
            tb_printf(b, " = ");
            tb_name(b, n->name);
        }
        tb_printf(b, "\n");
    }
    return b->failed ? hcg_error(HCG_ERR_NOMEM, "out of memory") : HCG_OK;
}

hcg_status hcg_save(const hcg_graph *g, const char *path)
{
    if (!g || !path || !*path) return hcg_error(HCG_ERR_ARG, "hcg_save: no graph or path");
    hcg_status st = HCG_OK;
    weights_out w;
    text_buf b = {0};
    memset(&w, 0, sizeof w);
    hcg_strmap_init(&w.used);
    char *weights_path = weights_path_for(path);
    size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1);
    w.names = calloc(nn, sizeof *w.names);
    w.owned = calloc(nn, sizeof *w.owned);
    w.keys = calloc(nn, sizeof *w.keys);
    w.tensors = calloc(nn, sizeof *w.tensors);
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old_locale = c_locale ? uselocale(c_locale) : (locale_t)0;
    if (weights_path && strcmp(weights_path, path) == 0) {
        st = hcg_error(HCG_ERR_ARG, "hcg_save: '%s' would be both the graph and its weights file; name the graph "
                       "*.hcg", path);
        goto done;
    }
    if (!weights_path || !w.names || !w.owned || !w.keys || !w.tensors) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* Params, then large constants, take keys in node order. */
    for (int pass = 0; pass < 2 && !st; pass++) {
        for (hcg_id id = 0; id < g->n_nodes && !st; id++) {
            const hcg_node *n = &g->nodes[id];
            bool to_file = pass == 0 ? n->op == HCG_OP_PARAM
                                     : n->op == HCG_OP_CONSTANT && n->value && !inline_constant(n->value);
            if (!to_file) continue;
            if (!n->value) {
                st = hcg_error(HCG_ERR_GRAPH, "%s: node '%s' (%s) has no value to save", path, n->name,
                               hcg_op_name(n->op));
                break;
            }
            st = assign_key(&w, g, id);
        }
    }
    if (st) goto done;
    const char *slash = strrchr(weights_path, '/');
    if ((st = write_text(g, &w, slash ? slash + 1 : weights_path, &b))) goto done;
    if (w.n && (st = hcg_st_save(weights_path, w.keys, w.tensors, w.n))) goto done;
    hcg_atomic_file af;
    if ((st = hcg_atomic_begin(&af, path))) goto done;
    if ((st = hcg_atomic_write(&af, b.p, b.n))) hcg_atomic_abort(&af);
    else st = hcg_atomic_commit(&af);
done:
    if (c_locale) {
        uselocale(old_locale);
        freelocale(c_locale);
    }
    weights_out_free(&w, g->n_nodes);
    free(b.p);
    free(weights_path);
    return st;
}
