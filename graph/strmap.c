/* strmap.c — open-addressing string -> int hash map (FNV-1a, linear probing, grows at 1/2). */
#include "graph/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void hcg_strmap_init(hcg_strmap *m) { memset(m, 0, sizeof *m); }

void hcg_strmap_free(hcg_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static bool grow(hcg_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    hcg_strmap_entry *slots = calloc(cap, sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        size_t j = hash_str(m->slots[i].key) & (cap - 1);
        while (slots[j].key) j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

bool hcg_strmap_put(hcg_strmap *m, const char *key, int value)
{
    if ((m->count + 1) * 2 > m->cap && !grow(m)) return false;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->slots[j].key) {
        if (strcmp(m->slots[j].key, key) == 0) {
            m->slots[j].value = value;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j].key = key;
    m->slots[j].value = value;
    m->count++;
    return true;
}

int hcg_strmap_get(const hcg_strmap *m, const char *key)
{
    if (!m->cap) return -1;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->slots[j].key) {
        if (strcmp(m->slots[j].key, key) == 0) return m->slots[j].value;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}
