/* npy.c — NumPy .npy files (format versions 1.0, 2.0 and 3.0): reading with the header's
 * Python-literal dict parsed strictly and every size checked against the file, and atomic
 * writing in the same layout numpy writes (version 1.0, header padded to 64 bytes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/fileio.h"
#include "graph/graph.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* numpy pads the header so the data starts at a multiple of this. */
#define NPY_ALIGN 64
/* Headers are a few hundred bytes; a larger one is a corrupt or hostile file. */
#define NPY_MAX_HEADER (1u << 20)

/* The descr strings of hcg's dtypes, as numpy writes them. */
static const char *const npy_descr[HCG_DTYPE_COUNT] = {
    [HCG_F32] = "<f4", [HCG_F16] = "<f2", [HCG_I32] = "<i4", [HCG_I64] = "<i8", [HCG_U8] = "|u1", [HCG_BOOL] = "|b1",
    [HCG_I8] = "|i1",
};

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* ---------------------------------------------------------------- the header dict */

/* A cursor over the header text. Errors go to msg (the caller adds the file name). */
typedef struct dict_parser {
    const char *start, *p, *end;
    char msg[256];
} dict_parser;

static bool dp_fail(dict_parser *d, const char *what)
{
    snprintf(d->msg, sizeof d->msg, "%s (at byte %ld of the header)", what, (long)(d->p - d->start));
    return false;
}

static void dp_ws(dict_parser *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r')) d->p++;
}

static bool dp_eat(dict_parser *d, char c)
{
    dp_ws(d);
    if (d->p < d->end && *d->p == c) {
        d->p++;
        return true;
    }
    return false;
}

/* A Python string literal in single or double quotes, without escapes. */
static bool dp_string(dict_parser *d, const char **s, size_t *n)
{
    dp_ws(d);
    if (d->p >= d->end || (*d->p != '\'' && *d->p != '"')) return false;
    char q = *d->p++;
    const char *start = d->p;
    while (d->p < d->end && *d->p != q) {
        if (*d->p == '\\' || *d->p == '\n' || *d->p == 0) return false;
        d->p++;
    }
    if (d->p >= d->end) return false;
    *s = start;
    *n = (size_t)(d->p - start);
    d->p++;
    return true;
}

static bool dp_word(dict_parser *d, const char *w)
{
    dp_ws(d);
    size_t n = strlen(w);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, w, n) != 0) return false;
    const char *after = d->p + n;
    if (after < d->end && (*after == '_' || (*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                           (*after >= '0' && *after <= '9')))
        return false;
    d->p = after;
    return true;
}

/* A non-negative Python int (no sign, no leading zeros), with an optional Python 2 'L'. */
static bool dp_int(dict_parser *d, int64_t *out, bool *overflow)
{
    dp_ws(d);
    const char *start = d->p;
    int64_t v = 0;
    *overflow = false;
    while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
        int digit = *d->p - '0';
        if (v > (INT64_MAX - digit) / 10) *overflow = true;
        else v = v * 10 + digit;
        d->p++;
    }
    if (d->p == start) return false;
    if (d->p - start > 1 && *start == '0') return false;
    if (d->p < d->end && *d->p == 'L') d->p++;
    *out = v;
    return true;
}

/* "(2, 3)", "(5,)" or "()". */
static bool dp_shape(dict_parser *d, hcg_shape *shape)
{
    memset(shape, 0, sizeof *shape);
    if (!dp_eat(d, '(')) return dp_fail(d, "'shape' is not a tuple");
    if (dp_eat(d, ')')) return true;
    for (;;) {
        int64_t v;
        bool overflow;
        if (!dp_int(d, &v, &overflow)) return dp_fail(d, "'shape' holds something other than a non-negative integer");
        if (overflow) return dp_fail(d, "a dimension in 'shape' does not fit in 64 bits");
        if (shape->rank == HCG_MAX_RANK) {
            snprintf(d->msg, sizeof d->msg, "'shape' has more than %d dimensions, the most hcg supports",
                     HCG_MAX_RANK);
            return false;
        }
        shape->dims[shape->rank++] = v;
        bool comma = dp_eat(d, ',');
        if (dp_eat(d, ')')) {
            /* (5) is the int 5 in Python, not a tuple. */
            if (shape->rank == 1 && !comma) return dp_fail(d, "'shape' (n) is not a tuple (a 1-tuple is written (n,))");
            return true;
        }
        if (!comma) return dp_fail(d, "expected ',' or ')' in 'shape'");
    }
}

typedef struct npy_header {
    char descr[16];
    bool fortran_order;
    hcg_shape shape;
} npy_header;

static bool parse_header_dict(dict_parser *d, npy_header *h)
{
    bool have_descr = false, have_fortran = false, have_shape = false;
    if (!dp_eat(d, '{')) return dp_fail(d, "the header is not a Python dict");
    while (!dp_eat(d, '}')) {
        const char *key;
        size_t kn;
        if (!dp_string(d, &key, &kn)) return dp_fail(d, "expected a quoted key or '}'");
        if (!dp_eat(d, ':')) return dp_fail(d, "expected ':' after a key");
        if (kn == 5 && memcmp(key, "descr", 5) == 0) {
            const char *s;
            size_t sn;
            if (have_descr) return dp_fail(d, "'descr' appears twice");
            if (!dp_string(d, &s, &sn)) return dp_fail(d, "'descr' is not a simple type string (structured dtypes are not supported)");
            if (sn >= sizeof h->descr) return dp_fail(d, "'descr' is too long");
            memcpy(h->descr, s, sn);
            h->descr[sn] = 0;
            have_descr = true;
        } else if (kn == 13 && memcmp(key, "fortran_order", 13) == 0) {
            if (have_fortran) return dp_fail(d, "'fortran_order' appears twice");
            if (dp_word(d, "True")) h->fortran_order = true;
            else if (dp_word(d, "False")) h->fortran_order = false;
            else return dp_fail(d, "'fortran_order' is not True or False");
            have_fortran = true;
        } else if (kn == 5 && memcmp(key, "shape", 5) == 0) {
            if (have_shape) return dp_fail(d, "'shape' appears twice");
            if (!dp_shape(d, &h->shape)) return false;
            have_shape = true;
        } else {
            snprintf(d->msg, sizeof d->msg, "unexpected key '%.*s' in the header", (int)(kn > 40 ? 40 : kn), key);
            return false;
        }
        if (!dp_eat(d, ',')) {
            if (dp_eat(d, '}')) break;
            return dp_fail(d, "expected ',' or '}'");
        }
    }
    dp_ws(d);
    if (d->p != d->end) return dp_fail(d, "unexpected text after the header dict");
    if (!have_descr || !have_fortran || !have_shape) {
        snprintf(d->msg, sizeof d->msg, "the header lacks the key '%s'",
                 !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
        return false;
    }
    return true;
}

/* Maps a descr onto an hcg dtype. */
static hcg_status descr_dtype(const char *path, const char *descr, hcg_dtype *out)
{
    size_t n = strlen(descr);
    if (n >= 2) {
        char order = descr[0];
        const char *code = descr + 1;
        for (int t = 0; t < HCG_DTYPE_COUNT; t++) {
            if (strcmp(code, npy_descr[t] + 1) != 0) continue;
            bool single_byte = hcg_dtype_size((hcg_dtype)t) == 1;
            /* Byte order does not matter for one-byte types; numpy writes '|'. */
            if (order == '<' || (single_byte && (order == '|' || order == '>' || order == '='))) {
                *out = (hcg_dtype)t;
                return HCG_OK;
            }
            if (order == '>')
                return hcg_error(HCG_ERR_UNSUPPORTED,
                                 "%s: big-endian data ('%s') is not supported; save it little-endian "
                                 "(a.astype('<%s'))",
                                 path, descr, code);
            return hcg_error(HCG_ERR_FORMAT, "%s: descr '%s' has byte order '%c'; hcg reads little-endian ('<')",
                             path, descr, order);
        }
    }
    return hcg_error(HCG_ERR_UNSUPPORTED,
                     "%s: dtype '%s' is not supported (hcg reads <f4, <f2, <i4, <i8, |u1 and |b1)", path, descr);
}

/* ---------------------------------------------------------------- reading */

static uint32_t read_le(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

hcg_status hcg_npy_load(const char *path, hcg_tensor **out)
{
    if (!path || !out) return hcg_error(HCG_ERR_ARG, "hcg_npy_load: no path or output");
    *out = NULL;
    if (!host_is_little_endian()) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: .npy needs a little-endian host", path);
    FILE *f;
    struct stat sb;
    hcg_status st = hcg_fopen_regular(path, &f, &sb);
    if (st) return st;
    char *header = NULL;
    hcg_tensor *t = NULL;
    unsigned char pre[12];
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 10 || fread(pre, 1, 10, f) != 10) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: truncated: %llu bytes is shorter than the .npy preamble", path,
                       (unsigned long long)size);
        goto done;
    }
    if (memcmp(pre, npy_magic, sizeof npy_magic) != 0) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: not a .npy file (bad magic bytes)", path);
        goto done;
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        st = hcg_error(HCG_ERR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported (1.0 to 3.0 are)", path,
                       major, minor);
        goto done;
    }
    uint64_t header_start = major == 1 ? 10 : 12;
    if (major > 1 && (size < 12 || fread(pre + 10, 1, 2, f) != 2)) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: truncated inside the header length", path);
        goto done;
    }
    uint64_t header_len = read_le(pre + 8, major == 1 ? 2 : 4);
    if (header_len > size - header_start) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: the header length %llu runs past the end of the file (%llu bytes)", path,
                       (unsigned long long)header_len, (unsigned long long)size);
        goto done;
    }
    if (header_len > NPY_MAX_HEADER) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: a %llu-byte header is larger than the %u bytes hcg accepts", path,
                       (unsigned long long)header_len, NPY_MAX_HEADER);
        goto done;
    }
    if (!(header = malloc((size_t)header_len + 1))) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (fread(header, 1, (size_t)header_len, f) != header_len) {
        st = hcg_error(HCG_ERR_IO, "%s: read failed", path);
        goto done;
    }
    header[header_len] = 0;
    npy_header h;
    memset(&h, 0, sizeof h);
    dict_parser d = {.start = header, .p = header, .end = header + header_len};
    if (memchr(header, 0, (size_t)header_len)) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: the header holds a NUL byte", path);
        goto done;
    }
    if (!parse_header_dict(&d, &h)) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: bad header: %s", path, d.msg);
        goto done;
    }
    hcg_dtype dtype = HCG_F32;
    if ((st = descr_dtype(path, h.descr, &dtype))) goto done;
    if (h.fortran_order) {
        st = hcg_error(HCG_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported; save a C-order array "
                       "(np.ascontiguousarray)", path);
        goto done;
    }
    int64_t numel;
    size_t nbytes;
    if (!hcg_shape_numel(&h.shape, &numel) || hcg_mul_overflow_size((size_t)numel, hcg_dtype_size(dtype), &nbytes)) {
        char sh[256];
        hcg_shape_format(&h.shape, sh, sizeof sh);
        st = hcg_error(HCG_ERR_FORMAT, "%s: the element count of shape %s overflows", path, sh);
        goto done;
    }
    uint64_t data_start = header_start + header_len, avail = size - data_start;
    if (avail != (uint64_t)nbytes) {
        char sh[256];
        hcg_shape_format(&h.shape, sh, sizeof sh);
        if (avail < (uint64_t)nbytes)
            st = hcg_error(HCG_ERR_FORMAT, "%s: the data is truncated: shape %s of %s needs %zu bytes, the file has %llu",
                           path, sh, h.descr, nbytes, (unsigned long long)avail);
        else
            st = hcg_error(HCG_ERR_FORMAT, "%s: %llu unexpected bytes after the data of shape %s of %s", path,
                           (unsigned long long)(avail - nbytes), sh, h.descr);
        goto done;
    }
    if ((st = hcg_tensor_new(dtype, &h.shape, &t))) {
        hcg_error_prefix(st, "%s: ", path);
        goto done;
    }
    if (nbytes && fread(t->data, 1, nbytes, f) != nbytes) {
        st = hcg_error(HCG_ERR_IO, "%s: read failed", path);
        goto done;
    }
    if (dtype == HCG_BOOL) {
        const uint8_t *b = t->data;
        for (size_t i = 0; i < nbytes; i++) {
            if (b[i] > 1) {
                st = hcg_error(HCG_ERR_FORMAT, "%s: bool element %zu holds %u (must be 0 or 1)", path, i, b[i]);
                goto done;
            }
        }
    }
    *out = t;
    t = NULL;
done:
    hcg_tensor_free(t);
    free(header);
    fclose(f);
    return st;
}

/* ---------------------------------------------------------------- writing */

/* Writes t to a temporary file beside path and syncs it, without renaming it over path:
 * hcg_atomic_commit(af) does that (or hcg_atomic_abort removes it). On failure af is released. */
static hcg_status write_uncommitted(const char *path, const hcg_tensor *t, hcg_atomic_file *af);

hcg_status hcg_npy_save(const char *path, const hcg_tensor *t)
{
    hcg_atomic_file af;
    hcg_status st = write_uncommitted(path, t, &af);
    return st ? st : hcg_atomic_commit(&af);
}

hcg_status hcg_npy_save_pending(const char *path, const hcg_tensor *t, hcg_pending_file **out)
{
    if (!out) return hcg_error(HCG_ERR_ARG, "hcg_npy_save_pending: no output");
    *out = calloc(1, sizeof **out);
    if (!*out) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    hcg_status st = write_uncommitted(path, t, &(*out)->af);
    if (st) {
        free(*out);
        *out = NULL;
    }
    return st;
}

static hcg_status write_uncommitted(const char *path, const hcg_tensor *t, hcg_atomic_file *af)
{
    memset(af, 0, sizeof *af);
    if (!path || !t) return hcg_error(HCG_ERR_ARG, "hcg_npy_save: no path or tensor");
    if ((unsigned)t->dtype >= HCG_DTYPE_COUNT || t->shape.rank < 0 || t->shape.rank > HCG_MAX_RANK)
        return hcg_error(HCG_ERR_ARG, "%s: invalid tensor", path);
    if (!host_is_little_endian()) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: .npy needs a little-endian host", path);
    int64_t numel;
    size_t nbytes;
    if (!hcg_shape_numel(&t->shape, &numel) || hcg_mul_overflow_size((size_t)numel, hcg_dtype_size(t->dtype), &nbytes) ||
        nbytes != t->nbytes || (nbytes && !t->data))
        return hcg_error(HCG_ERR_ARG, "%s: the tensor's size does not match its shape", path);

    /* The header numpy writes: the dict, spaces, '\n', the whole preamble a multiple of 64. */
    char dict[512];
    size_t used = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                   npy_descr[t->dtype]);
    for (int i = 0; i < t->shape.rank; i++)
        used += (size_t)snprintf(dict + used, sizeof dict - used, "%s%lld", i ? ", " : "", (long long)t->shape.dims[i]);
    used += (size_t)snprintf(dict + used, sizeof dict - used, "%s), }", t->shape.rank == 1 ? "," : "");
    size_t total = 10 + used + 1;
    size_t padded = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t header_len = padded - 10; /* always < 65536 here: the dict is at most ~300 bytes */
    unsigned char preamble[NPY_ALIGN * 8];
    memcpy(preamble, npy_magic, 6);
    preamble[6] = 1;
    preamble[7] = 0;
    preamble[8] = (unsigned char)(header_len & 0xff);
    preamble[9] = (unsigned char)(header_len >> 8);
    memcpy(preamble + 10, dict, used);
    memset(preamble + 10 + used, ' ', padded - 10 - used - 1);
    preamble[padded - 1] = '\n';

    hcg_status st = hcg_atomic_begin(af, path);
    if (st) return st;
    if ((st = hcg_atomic_write(af, preamble, padded)) || (st = hcg_atomic_write(af, t->data, nbytes)) ||
        (st = hcg_atomic_sync(af)))
        hcg_atomic_abort(af);
    return st;
}

size_t hcg_npy_file_size(const hcg_tensor *t)
{
    return 128 + t->nbytes; /* the preamble is at most 128 bytes for hcg's ranks */
}
