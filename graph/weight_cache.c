/* weight_cache.c — the derived weights shared by a session's bound graphs (weight_cache.h): a
 * list searched by source address; a session holds a few hundred at most, found
 * once per node per bind. */
#include <stdlib.h>

#include "graph/weight_cache.h"

typedef struct derived {
    const hcg_tensor *source;
    hcg_tensor *value;
} derived;

struct hcg_weight_cache {
    derived *items;
    int n, cap;
};

hcg_weight_cache *hcg_weight_cache_new(void) { return calloc(1, sizeof(hcg_weight_cache)); }

void hcg_weight_cache_free(hcg_weight_cache *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) hcg_tensor_free(c->items[i].value);
    free(c->items);
    free(c);
}

hcg_tensor *hcg_weight_cache_find(const hcg_weight_cache *c, const hcg_tensor *source)
{
    for (int i = 0; c && i < c->n; i++)
        if (c->items[i].source == source) return c->items[i].value;
    return NULL;
}

hcg_status hcg_weight_cache_add(hcg_weight_cache *c, const hcg_tensor *source, hcg_tensor *value)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        derived *items = realloc(c->items, sizeof(derived) * (size_t)cap);
        if (!items) {
            hcg_tensor_free(value);
            return hcg_error(HCG_ERR_NOMEM, "out of memory");
        }
        c->items = items;
        c->cap = cap;
    }
    derived *d = &c->items[c->n++];
    d->source = source;
    d->value = value;
    return HCG_OK;
}
