/* weight_cache.h — values the rewrite passes derive from a graph's fixed weights (a weight matrix
 * stored transposed), kept once for every graph bound with the same cache: a session binds its
 * graph once per input-shape signature, and without the cache each plan would hold its own copy
 * of every derived weight (on the host and, uploaded, on each device). */
#ifndef HCG_WEIGHT_CACHE_H
#define HCG_WEIGHT_CACHE_H

#include "hcg/hcg.h"

typedef struct hcg_weight_cache hcg_weight_cache;

hcg_weight_cache *hcg_weight_cache_new(void); /* NULL when out of memory */
/* Frees the cache and its values: after every graph bound with it. */
void hcg_weight_cache_free(hcg_weight_cache *c);
/* The value derived from source (today's one derivation: transposed, by transpose_weights), or
 * NULL. source must be a value the bound graphs borrow from the graph they were bound from (it
 * outlives the cache), so that its address names it. */
hcg_tensor *hcg_weight_cache_find(const hcg_weight_cache *c, const hcg_tensor *source);
/* Keeps value as derived from source; the cache owns value from here, also on failure. */
hcg_status hcg_weight_cache_add(hcg_weight_cache *c, const hcg_tensor *source, hcg_tensor *value);

#endif
