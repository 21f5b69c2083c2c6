/* state.c — the state store: named tensors resident on one device across runs (see state.h).
 * Entries are created lazily by the first plan that places them, from a pending host value
 * (a resumed checkpoint), the graph's initial value, or zeros. */
#include "backend/state.h"

#include "backend/fault.h"

#include <stdlib.h>
#include <string.h>

void hcg_state_store_free(hcg_state_store *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        hcg_state_entry *e = s->e[i];
        if (e->device && (e->buf.host || e->buf.handle)) e->device->iface->buffer_free(e->device, &e->buf);
        hcg_tensor_free(e->pending);
        free(e->name);
        free(e);
    }
    free(s->e);
    memset(s, 0, sizeof *s);
}

hcg_state_entry *hcg_state_find(hcg_state_store *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->e[i]->name, name) == 0) return s->e[i];
    return NULL;
}

static hcg_state_entry *add_entry(hcg_state_store *s, const char *name, hcg_dtype dtype, const hcg_shape *shape)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 32;
        hcg_state_entry **e = realloc(s->e, sizeof *e * (size_t)cap);
        if (!e) return NULL;
        s->e = e;
        s->cap = cap;
    }
    hcg_state_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->name = hcg_strdup(name))) {
        free(e);
        return NULL;
    }
    s->e[s->n] = e;
    e->dtype = dtype;
    e->shape = *shape;
    int64_t numel = 0;
    hcg_shape_numel(shape, &numel);
    e->nbytes = (size_t)numel * hcg_dtype_size(dtype);
    s->n++;
    return e;
}

static hcg_status check_type(const hcg_state_entry *e, hcg_dtype dtype, const hcg_shape *shape)
{
    if (e->dtype == dtype && hcg_shape_equal(&e->shape, shape)) return HCG_OK;
    char a[128], b[128];
    hcg_shape_format(&e->shape, a, sizeof a);
    hcg_shape_format(shape, b, sizeof b);
    return hcg_error(HCG_ERR_SHAPE, "state '%s' is %s%s, not %s%s", e->name, hcg_dtype_name(e->dtype), a,
                     hcg_dtype_name(dtype), b);
}

hcg_status hcg_state_bind(hcg_state_store *s, const char *name, hcg_dtype dtype, const hcg_shape *shape,
                          const hcg_tensor *init, hcg_device *d, hcg_buffer **out)
{
    hcg_state_entry *e = hcg_state_find(s, name);
    hcg_status st;
    if (!e && !(e = add_entry(s, name, dtype, shape))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    if ((st = check_type(e, dtype, shape))) return st;
    if (e->device) {
        if (e->device != d)
            return hcg_error(HCG_ERR_INTERNAL, "state '%s' lives on %s, not on %s", name, e->device->name, d->name);
        *out = &e->buf;
        return HCG_OK;
    }
    const hcg_tensor *from = e->pending ? e->pending : init;
    if ((st = hcg_dev_alloc(d, e->nbytes ? e->nbytes : 1, &e->buf)))
        return hcg_error_prefix(st, "state '%s' on %s: ", name, d->name);
    e->device = d;
    void *zeros = NULL;
    if (!from && e->nbytes && !(zeros = calloc(1, e->nbytes))) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
    if (!st && e->nbytes) st = hcg_dev_write(d, &e->buf, 0, from ? from->data : zeros, e->nbytes);
    free(zeros);
    if (st) {
        d->iface->buffer_free(d, &e->buf);
        memset(&e->buf, 0, sizeof e->buf);
        e->device = NULL;
        return hcg_error_prefix(st, "uploading state '%s' to %s: ", name, d->name);
    }
    hcg_tensor_free(e->pending);
    e->pending = NULL;
    *out = &e->buf;
    return HCG_OK;
}

hcg_status hcg_state_read(hcg_state_entry *e, hcg_tensor **out)
{
    if (e->pending) return hcg_tensor_clone(e->pending, out);
    hcg_tensor *t = NULL;
    hcg_status st = hcg_tensor_new(e->dtype, &e->shape, &t);
    if (st) return st;
    if (e->device && e->nbytes) st = hcg_dev_read(e->device, &e->buf, 0, t->data, e->nbytes);
    if (st) {
        hcg_tensor_free(t);
        return hcg_error_prefix(st, "reading state '%s' from %s: ", e->name, e->device->name);
    }
    *out = t;
    return HCG_OK;
}

hcg_status hcg_state_write(hcg_state_store *s, const char *name, const hcg_tensor *t)
{
    hcg_state_entry *e = hcg_state_find(s, name);
    hcg_status st;
    if (!e && !(e = add_entry(s, name, t->dtype, &t->shape))) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    if ((st = check_type(e, t->dtype, &t->shape))) return st;
    if (e->device) {
        st = e->nbytes ? hcg_dev_write(e->device, &e->buf, 0, t->data, e->nbytes) : HCG_OK;
        return st ? hcg_error_prefix(st, "writing state '%s' to %s: ", name, e->device->name) : HCG_OK;
    }
    hcg_tensor *copy = NULL;
    if ((st = hcg_tensor_clone(t, &copy))) return st;
    hcg_tensor_free(e->pending);
    e->pending = copy;
    return HCG_OK;
}
