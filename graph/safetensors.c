/* safetensors.c — reading safetensors files through a read-only mapping, with the header and
 * every entry validated up front, and writing them atomically. */
#include "graph/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/fileio.h"
#include "graph/graph.h"

struct hcg_st_file {
    char *path;
    void *map;       /* the whole file, PROT_READ */
    size_t map_size;
    const unsigned char *data; /* the data section */
    uint64_t data_size;
    hcg_st_entry *entries;
    int n_entries;
    hcg_strmap by_name;
};

/* The safetensors dtype names hcg reads, by hcg dtype. */
static const char *const st_dtype_names[HCG_DTYPE_COUNT] = {
    [HCG_F32] = "F32", [HCG_F16] = "F16", [HCG_I32] = "I32", [HCG_I64] = "I64", [HCG_U8] = "U8", [HCG_BOOL] = "BOOL",
    [HCG_I8] = "I8",
};

/* Integers in the JSON header are doubles to cJSON; beyond 2^53 they are not exact. */
#define ST_MAX_JSON_INT 9007199254740992.0

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* ---------------------------------------------------------------- reading */

void hcg_st_close(hcg_st_file *f)
{
    if (!f) return;
    if (f->map) munmap(f->map, f->map_size);
    for (int i = 0; i < f->n_entries; i++) free((char *)f->entries[i].name);
    free(f->entries);
    hcg_strmap_free(&f->by_name);
    free(f->path);
    free(f);
}

void hcg_st_release(void *f) { hcg_st_close(f); }

const char *hcg_st_path(const hcg_st_file *f) { return f->path; }
int hcg_st_count(const hcg_st_file *f) { return f->n_entries; }
const hcg_st_entry *hcg_st_get(const hcg_st_file *f, int i)
{
    return i >= 0 && i < f->n_entries ? &f->entries[i] : NULL;
}

const hcg_st_entry *hcg_st_find(const hcg_st_file *f, const char *name)
{
    int i = hcg_strmap_get(&f->by_name, name);
    return i < 0 ? NULL : &f->entries[i];
}

/* A JSON number that must be a non-negative integer. */
static bool json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return false;
    double v = j->valuedouble;
    if (!(v >= 0) || v > ST_MAX_JSON_INT || floor(v) != v) return false;
    *out = (uint64_t)v;
    return true;
}

/* Validates one header entry and fills e (name not set). */
static hcg_status parse_entry(const hcg_st_file *f, const cJSON *j, hcg_st_entry *e, uint64_t *begin, uint64_t *end)
{
    const char *name = j->string;
    if (!cJSON_IsObject(j)) return hcg_error(HCG_ERR_FORMAT, "%s: header entry '%s' is not an object", f->path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return hcg_error(HCG_ERR_FORMAT, "%s: tensor '%s' lacks a string 'dtype', an array 'shape' or an array "
                         "'data_offsets'", f->path, name);
    /* Dtypes of the format hcg does not compute with (BF16, F64, ...) are sized and checked like
     * the others; only using such a tensor is an error (hcg_st_tensor). */
    static const struct {
        const char *name;
        size_t size;
    } other_dtypes[] = {{"BF16", 2}, {"F64", 8}, {"I16", 2}, {"U16", 2}, {"U32", 4}, {"U64", 8},
                        {"F8_E5M2", 1}, {"F8_E4M3", 1}};
    size_t esize = 0;
    e->supported = false;
    for (int t = 0; t < HCG_DTYPE_COUNT; t++) {
        if (strcmp(dt->valuestring, st_dtype_names[t]) == 0) {
            e->dtype = (hcg_dtype)t;
            e->supported = true;
            esize = hcg_dtype_size(e->dtype);
        }
    }
    for (size_t t = 0; !esize && t < sizeof other_dtypes / sizeof other_dtypes[0]; t++)
        if (strcmp(dt->valuestring, other_dtypes[t].name) == 0) {
            e->dtype = HCG_F32; /* unused: not supported */
            esize = other_dtypes[t].size;
        }
    if (!esize)
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %.32s, which the safetensors format does "
                         "not define", f->path, name, dt->valuestring);
    snprintf(e->st_dtype, sizeof e->st_dtype, "%s", dt->valuestring);
    int rank = cJSON_GetArraySize(shape);
    if (rank > HCG_MAX_RANK)
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: tensor '%s' has rank %d; hcg supports at most %d", f->path, name,
                         rank, HCG_MAX_RANK);
    memset(&e->shape, 0, sizeof e->shape);
    e->shape.rank = rank;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape)
    {
        uint64_t v;
        if (!json_uint(d, &v))
            return hcg_error(HCG_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", f->path,
                             name, i);
        e->shape.dims[i++] = (int64_t)v;
    }
    if (cJSON_GetArraySize(offs) != 2 || !json_uint(cJSON_GetArrayItem(offs, 0), begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), end))
        return hcg_error(HCG_ERR_FORMAT, "%s: tensor '%s': data_offsets is not [begin, end] of non-negative integers",
                         f->path, name);
    int64_t numel;
    size_t nbytes;
    char sh[256];
    hcg_shape_format(&e->shape, sh, sizeof sh);
    if (!hcg_shape_numel(&e->shape, &numel) || hcg_mul_overflow_size((size_t)numel, esize, &nbytes))
        return hcg_error(HCG_ERR_FORMAT, "%s: tensor '%s': the element count of shape %s overflows", f->path, name, sh);
    if (*begin > *end || *end > f->data_size)
        return hcg_error(HCG_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] are outside the %llu-byte data "
                         "section", f->path, name, (unsigned long long)*begin, (unsigned long long)*end,
                         (unsigned long long)f->data_size);
    if (*end - *begin != (uint64_t)nbytes)
        return hcg_error(HCG_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but %s %s needs "
                         "%zu", f->path, name, (unsigned long long)*begin, (unsigned long long)*end,
                         (unsigned long long)(*end - *begin), e->st_dtype, sh, nbytes);
    e->nbytes = nbytes;
    e->data = f->data + *begin;
    return HCG_OK;
}

typedef struct st_range {
    uint64_t begin, end;
    int entry;
} st_range;

static int cmp_range(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->entry - y->entry;
}

/* Parses the header and fills f's entries. */
static hcg_status parse_header(hcg_st_file *f, const char *header, size_t header_len)
{
    if (memchr(header, 0, header_len))
        return hcg_error(HCG_ERR_FORMAT, "%s: the header holds a NUL byte", f->path);
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, header_len, &parse_end, false);
    if (!root) {
        long at = parse_end ? (long)(parse_end - header) : 0;
        return hcg_error(HCG_ERR_FORMAT, "%s: the header is not valid JSON (error near byte %ld of %zu)", f->path, at,
                         header_len);
    }
    hcg_status st = HCG_OK;
    st_range *ranges = NULL;
    for (const char *p = parse_end; p < header + header_len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = hcg_error(HCG_ERR_FORMAT, "%s: unexpected bytes after the header's JSON (at byte %ld)", f->path,
                           (long)(p - header));
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: the header is not a JSON object", f->path);
        goto done;
    }
    int count = cJSON_GetArraySize(root);
    f->entries = calloc((size_t)(count ? count : 1), sizeof *f->entries);
    ranges = calloc((size_t)(count ? count : 1), sizeof *ranges);
    if (!f->entries || !ranges) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    const cJSON *j;
    bool seen_metadata = false;
    cJSON_ArrayForEach(j, root)
    {
        if (strcmp(j->string, "__metadata__") == 0) {
            if (seen_metadata || !cJSON_IsObject(j)) {
                st = hcg_error(HCG_ERR_FORMAT, "%s: __metadata__ is repeated or not an object", f->path);
                goto done;
            }
            seen_metadata = true;
            continue;
        }
        if (hcg_st_find(f, j->string)) {
            st = hcg_error(HCG_ERR_FORMAT, "%s: the tensor '%s' appears twice in the header", f->path, j->string);
            goto done;
        }
        hcg_st_entry *e = &f->entries[f->n_entries];
        st_range *r = &ranges[f->n_entries];
        if ((st = parse_entry(f, j, e, &r->begin, &r->end))) goto done;
        if (!(e->name = hcg_strdup(j->string)) || !hcg_strmap_put(&f->by_name, e->name, f->n_entries)) {
            free((char *)e->name);
            e->name = NULL;
            st = hcg_error(HCG_ERR_NOMEM, "out of memory");
            goto done;
        }
        r->entry = f->n_entries++;
    }
    /* Tensors may not share bytes (empty tensors take none). */
    qsort(ranges, (size_t)f->n_entries, sizeof *ranges, cmp_range);
    const st_range *prev = NULL;
    for (int i = 0; i < f->n_entries; i++) {
        const st_range *r = &ranges[i];
        if (r->begin == r->end) continue;
        if (prev && r->begin < prev->end) {
            st = hcg_error(HCG_ERR_FORMAT, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap", f->path,
                           f->entries[prev->entry].name, (unsigned long long)prev->begin,
                           (unsigned long long)prev->end, f->entries[r->entry].name, (unsigned long long)r->begin,
                           (unsigned long long)r->end);
            goto done;
        }
        prev = r;
    }
done:
    free(ranges);
    cJSON_Delete(root);
    return st;
}

hcg_status hcg_st_open(const char *path, hcg_st_file **out)
{
    if (!path || !out) return hcg_error(HCG_ERR_ARG, "hcg_st_open: no path or output");
    *out = NULL;
    if (!host_is_little_endian()) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: safetensors needs a little-endian host", path);
    hcg_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = hcg_strdup(path))) {
        free(f);
        return hcg_error(HCG_ERR_NOMEM, "out of memory");
    }
    hcg_strmap_init(&f->by_name);
    hcg_status st = HCG_OK;
    char *header = NULL;
    int fd = -1;
    struct stat sb;
    if ((st = hcg_open_regular(path, &fd, &sb))) {
        if (fd < 0 && errno == ENOENT) st = HCG_ERR_NOT_FOUND;
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: truncated: %llu bytes is shorter than the 8-byte header length", path,
                       (unsigned long long)size);
        goto fail;
    }
    if (size > SIZE_MAX) {
        st = hcg_error(HCG_ERR_IO, "%s: too large to map", path);
        goto fail;
    }
    f->map_size = (size_t)size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        st = hcg_error(HCG_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    const unsigned char *base = f->map;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | base[i];
    if (header_len > size - 8) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: the header length %llu is larger than the %llu bytes after it (truncated "
                       "or not a safetensors file)", path, (unsigned long long)header_len,
                       (unsigned long long)(size - 8));
        goto fail;
    }
    if (header_len < 2) {
        st = hcg_error(HCG_ERR_FORMAT, "%s: the header is empty", path);
        goto fail;
    }
    f->data = base + 8 + header_len;
    f->data_size = size - 8 - header_len;
    if (!(header = malloc((size_t)header_len + 1))) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(header, base + 8, (size_t)header_len);
    header[header_len] = 0;
    if ((st = parse_header(f, header, (size_t)header_len))) goto fail;
    free(header);
    *out = f;
    return HCG_OK;
fail:
    free(header);
    if (fd >= 0) close(fd);
    hcg_st_close(f);
    return st;
}

hcg_status hcg_st_tensor(const hcg_st_file *f, const hcg_st_entry *e, hcg_tensor **out)
{
    hcg_status st;
    *out = NULL;
    if (!e->supported)
        return hcg_error(HCG_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, which hcg does not support (it reads F32, "
                         "F16, I32, I64, U8, I8 and BOOL)", f->path, e->name, e->st_dtype);
    if (e->dtype == HCG_BOOL) {
        const uint8_t *b = e->data;
        for (size_t i = 0; i < e->nbytes; i++)
            if (b[i] > 1)
                return hcg_error(HCG_ERR_FORMAT, "%s: tensor '%s': bool element %zu holds %u (must be 0 or 1)", f->path,
                                 e->name, i, b[i]);
    }
    if ((uintptr_t)e->data % hcg_dtype_size(e->dtype) == 0) {
        st = hcg_tensor_wrap(e->dtype, &e->shape, (void *)e->data, out);
    } else {
        /* Writers align tensors, but the format does not promise it: copy misaligned data so that
         * kernels may read it as its element type. */
        if (!(st = hcg_tensor_new(e->dtype, &e->shape, out)) && e->nbytes) memcpy((*out)->data, e->data, e->nbytes);
    }
    if (st) hcg_error_prefix(st, "%s: tensor '%s': ", f->path, e->name);
    return st;
}

/* ---------------------------------------------------------------- writing */

typedef struct st_item {
    const char *name;
    const hcg_tensor *t;
} st_item;

/* The order the reference implementation (the Python/Rust safetensors package) lays data out
 * in: by dtype, widest first (I64, F32, I32, F16, I8, U8, BOOL), then by name. Every tensor stays
 * aligned without padding, and the same tensors give the same bytes as that package writes. */
static int layout_rank(hcg_dtype t)
{
    static const int rank[HCG_DTYPE_COUNT] = {
        [HCG_I64] = 0, [HCG_F32] = 1, [HCG_I32] = 2, [HCG_F16] = 3, [HCG_I8] = 4, [HCG_U8] = 5, [HCG_BOOL] = 6,
    };
    return rank[t];
}

static int cmp_item(const void *a, const void *b)
{
    const st_item *x = a, *y = b;
    int rx = layout_rank(x->t->dtype), ry = layout_rank(y->t->dtype);
    if (rx != ry) return rx - ry;
    return strcmp(x->name, y->name);
}

static bool add_uint(cJSON *arr, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON *num = cJSON_CreateRaw(buf);
    if (num && cJSON_AddItemToArray(arr, num)) return true;
    cJSON_Delete(num);
    return false;
}

hcg_status hcg_st_save(const char *path, const char *const *names, const hcg_tensor *const *tensors, int n)
{
    if (!path || n < 0 || (n > 0 && (!names || !tensors))) return hcg_error(HCG_ERR_ARG, "hcg_st_save: bad arguments");
    if (!host_is_little_endian()) return hcg_error(HCG_ERR_UNSUPPORTED, "%s: safetensors needs a little-endian host", path);
    hcg_status st = HCG_OK;
    st_item *items = calloc((size_t)(n ? n : 1), sizeof *items);
    cJSON *root = cJSON_CreateObject();
    char *json = NULL;
    hcg_strmap seen;
    hcg_strmap_init(&seen);
    if (!items || !root) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const hcg_tensor *t = tensors[i];
        int64_t numel;
        size_t nbytes;
        if (!names[i] || !*names[i] || strcmp(names[i], "__metadata__") == 0 || !t ||
            (unsigned)t->dtype >= HCG_DTYPE_COUNT || !hcg_shape_numel(&t->shape, &numel) ||
            hcg_mul_overflow_size((size_t)numel, hcg_dtype_size(t->dtype), &nbytes) || nbytes != t->nbytes ||
            (nbytes && !t->data)) {
            st = hcg_error(HCG_ERR_ARG, "%s: tensor %d ('%s') has no valid name or data", path, i,
                           names[i] ? names[i] : "");
            goto done;
        }
        if (hcg_strmap_get(&seen, names[i]) >= 0) {
            st = hcg_error(HCG_ERR_ARG, "%s: the tensor name '%s' is used twice", path, names[i]);
            goto done;
        }
        if (!hcg_strmap_put(&seen, names[i], i)) {
            st = hcg_error(HCG_ERR_NOMEM, "out of memory");
            goto done;
        }
        items[i].name = names[i];
        items[i].t = t;
    }
    qsort(items, (size_t)n, sizeof *items, cmp_item);
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const hcg_tensor *t = items[i].t;
        cJSON *e = cJSON_AddObjectToObject(root, items[i].name);
        bool ok = e && cJSON_AddStringToObject(e, "dtype", st_dtype_names[t->dtype]);
        cJSON *shape = ok ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = offs != NULL;
        for (int d = 0; ok && d < t->shape.rank; d++) ok = add_uint(shape, (uint64_t)t->shape.dims[d]);
        ok = ok && add_uint(offs, offset) && add_uint(offs, offset + t->nbytes);
        if (!ok) {
            st = hcg_error(HCG_ERR_NOMEM, "out of memory");
            goto done;
        }
        offset += t->nbytes;
    }
    if (!(json = cJSON_PrintUnformatted(root))) {
        st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    hcg_atomic_file af;
    if ((st = hcg_atomic_begin(&af, path))) goto done;
    st = hcg_atomic_write(&af, len_bytes, 8);
    if (!st) st = hcg_atomic_write(&af, json, len);
    if (!st) st = hcg_atomic_write(&af, spaces, padded - len);
    for (int i = 0; !st && i < n; i++) st = hcg_atomic_write(&af, items[i].t->data, items[i].t->nbytes);
    if (st) hcg_atomic_abort(&af);
    else st = hcg_atomic_commit(&af);
done:
    free(json);
    cJSON_Delete(root);
    hcg_strmap_free(&seen);
    free(items);
    return st;
}
