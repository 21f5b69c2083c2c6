/* tensor.c — dtypes, shapes and host tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

static const struct {
    const char *name;
    size_t size;
} dtype_table[HCG_DTYPE_COUNT] = {
    [HCG_F32] = {"f32", 4}, [HCG_F16] = {"f16", 2}, [HCG_I32] = {"i32", 4},
    [HCG_I64] = {"i64", 8}, [HCG_U8] = {"u8", 1},   [HCG_BOOL] = {"bool", 1},
    [HCG_I8] = {"i8", 1},
};

size_t hcg_dtype_size(hcg_dtype t) { return (unsigned)t < HCG_DTYPE_COUNT ? dtype_table[t].size : 0; }

const char *hcg_dtype_name(hcg_dtype t)
{
    return (unsigned)t < HCG_DTYPE_COUNT ? dtype_table[t].name : "?";
}

bool hcg_dtype_parse(const char *name, hcg_dtype *out)
{
    for (int i = 0; i < HCG_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_table[i].name) == 0) {
            *out = (hcg_dtype)i;
            return true;
        }
    }
    return false;
}

hcg_shape hcg_shape_make(int rank, const int64_t *dims)
{
    hcg_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank < 0 ? 0 : rank > HCG_MAX_RANK ? HCG_MAX_RANK : rank;
    for (int i = 0; i < s.rank; i++) s.dims[i] = dims[i];
    return s;
}

bool hcg_shape_numel(const hcg_shape *s, int64_t *out)
{
    int64_t n = 1;
    if (s->rank < 0 || s->rank > HCG_MAX_RANK) return false;
    for (int i = 0; i < s->rank; i++) {
        if (hcg_mul_overflow_i64(n, s->dims[i], &n)) return false;
    }
    *out = n;
    return true;
}

bool hcg_shape_equal(const hcg_shape *a, const hcg_shape *b)
{
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

void hcg_shape_format(const hcg_shape *s, char *buf, size_t n) { hcg_graph_format_shape(NULL, s, buf, n); }

void hcg_graph_format_shape(const hcg_graph *g, const hcg_shape *s, char *buf, size_t n)
{
    size_t used = 0;
    if (n == 0) return;
    buf[0] = 0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        if (used < n) {                                                                            \
            int w = snprintf(buf + used, n - used, __VA_ARGS__);                                   \
            if (w > 0) used += (size_t)w;                                                          \
        }                                                                                          \
    } while (0)
    if (s->rank < 0) {
        APPEND("[?]");
        return;
    }
    APPEND("[");
    for (int i = 0; i < s->rank; i++) {
        if (i) APPEND(", ");
        int64_t d = s->dims[i];
        if (HCG_DIM_IS_SYM(d)) {
            int id = HCG_DIM_SYM_ID(d);
            if (g && id >= 0 && id < g->n_syms) APPEND("%s", g->syms[id]);
            else APPEND("?%d", id);
        } else {
            APPEND("%lld", (long long)d);
        }
    }
    APPEND("]");
#undef APPEND
}

void hcg_format_type(const hcg_graph *g, hcg_dtype t, const hcg_shape *s, char *buf, size_t n)
{
    char sh[256];
    hcg_graph_format_shape(g, s, sh, sizeof sh);
    snprintf(buf, n, "%s%s", hcg_dtype_name(t), sh);
}

static hcg_status tensor_bytes(hcg_dtype dtype, const hcg_shape *shape, size_t *out)
{
    int64_t numel;
    char sh[256];
    if ((unsigned)dtype >= HCG_DTYPE_COUNT) return hcg_error(HCG_ERR_ARG, "invalid dtype %d", (int)dtype);
    if (shape->rank < 0 || shape->rank > HCG_MAX_RANK)
        return hcg_error(HCG_ERR_ARG, "invalid rank %d (at most %d)", shape->rank, HCG_MAX_RANK);
    for (int i = 0; i < shape->rank; i++) {
        if (shape->dims[i] < 0) {
            hcg_shape_format(shape, sh, sizeof sh);
            return hcg_error(HCG_ERR_ARG, "tensor shape %s has a negative or symbolic dim", sh);
        }
    }
    if (!hcg_shape_numel(shape, &numel) ||
        hcg_mul_overflow_size((size_t)numel, hcg_dtype_size(dtype), out)) {
        hcg_shape_format(shape, sh, sizeof sh);
        return hcg_error(HCG_ERR_ARG, "tensor shape %s: element count overflows", sh);
    }
    return HCG_OK;
}

hcg_status hcg_tensor_new(hcg_dtype dtype, const hcg_shape *shape, hcg_tensor **out)
{
    size_t nbytes;
    hcg_status st = tensor_bytes(dtype, shape, &nbytes);
    if (st) return st;
    hcg_tensor *t = calloc(1, sizeof *t);
    void *data = calloc(1, nbytes ? nbytes : 1);
    if (!t || !data) {
        free(t);
        free(data);
        return hcg_error(HCG_ERR_NOMEM, "out of memory allocating a %zu-byte tensor", nbytes);
    }
    t->dtype = dtype;
    t->shape = *shape;
    t->data = data;
    t->nbytes = nbytes;
    t->owns_data = true;
    *out = t;
    return HCG_OK;
}

hcg_status hcg_tensor_wrap(hcg_dtype dtype, const hcg_shape *shape, void *data, hcg_tensor **out)
{
    size_t nbytes;
    hcg_status st = tensor_bytes(dtype, shape, &nbytes);
    if (st) return st;
    hcg_tensor *t = calloc(1, sizeof *t);
    if (!t) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    t->dtype = dtype;
    t->shape = *shape;
    t->data = data;
    t->nbytes = nbytes;
    t->owns_data = false;
    *out = t;
    return HCG_OK;
}

hcg_status hcg_tensor_clone(const hcg_tensor *t, hcg_tensor **out)
{
    hcg_status st = hcg_tensor_new(t->dtype, &t->shape, out);
    if (st) return st;
    if (t->nbytes) memcpy((*out)->data, t->data, t->nbytes);
    return HCG_OK;
}

void hcg_tensor_free(hcg_tensor *t)
{
    if (!t) return;
    if (t->owns_data) free(t->data);
    free(t);
}
