/* strmap.h — a small open-addressing hash map from strings to ints (node names, symbols). */
#ifndef HCG_STRMAP_H
#define HCG_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hcg_strmap_entry {
    const char *key; /* borrowed: the owner keeps the string alive */
    int value;
} hcg_strmap_entry;

typedef struct hcg_strmap {
    hcg_strmap_entry *slots;
    size_t cap, count;
} hcg_strmap;

void hcg_strmap_init(hcg_strmap *m);
void hcg_strmap_free(hcg_strmap *m);
/* Inserts or replaces; false on out of memory. */
bool hcg_strmap_put(hcg_strmap *m, const char *key, int value);
/* Returns the value or -1. */
int hcg_strmap_get(const hcg_strmap *m, const char *key);

#endif
