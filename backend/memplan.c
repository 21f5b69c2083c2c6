/* memplan.c — the memory planner: one arena per device. Allocations (tensors, with views sharing
 * their base) are live from the position of their first write to the position of their last read
 * in the plan's global order; the planner replays that order as a best-fit allocator over the
 * arena with coalescing free holes, so memory of dead tensors is reused. It reports the arena
 * size next to the liveness lower bound (the peak of bytes live at once). */
#include <stdlib.h>
#include <string.h>

#include "backend/plan.h"

typedef struct hole {
    size_t offset, size;
} hole;

typedef struct arena_sim {
    hole *holes; /* sorted by offset, coalesced */
    int n, cap;
    size_t top; /* high-water mark */
} arena_sim;

static bool holes_insert(arena_sim *a, size_t offset, size_t size)
{
    int i = 0;
    while (i < a->n && a->holes[i].offset < offset) i++;
    /* merge with the previous and/or next hole when adjacent */
    bool prev = i > 0 && a->holes[i - 1].offset + a->holes[i - 1].size == offset;
    bool next = i < a->n && offset + size == a->holes[i].offset;
    if (prev && next) {
        a->holes[i - 1].size += size + a->holes[i].size;
        memmove(&a->holes[i], &a->holes[i + 1], sizeof(hole) * (size_t)(a->n - i - 1));
        a->n--;
    } else if (prev) {
        a->holes[i - 1].size += size;
    } else if (next) {
        a->holes[i].offset = offset;
        a->holes[i].size += size;
    } else {
        if (a->n == a->cap) {
            int c = a->cap ? a->cap * 2 : 16;
            hole *q = realloc(a->holes, sizeof(hole) * (size_t)c);
            if (!q) return false;
            a->holes = q;
            a->cap = c;
        }
        memmove(&a->holes[i + 1], &a->holes[i], sizeof(hole) * (size_t)(a->n - i));
        a->holes[i] = (hole){offset, size};
        a->n++;
    }
    /* a hole touching the top gives its memory back to the top */
    if (a->n && a->holes[a->n - 1].offset + a->holes[a->n - 1].size == a->top) {
        a->top = a->holes[a->n - 1].offset;
        a->n--;
    }
    return true;
}

static size_t holes_take(arena_sim *a, size_t size, size_t *high_water)
{
    int best = -1;
    for (int i = 0; i < a->n; i++)
        if (a->holes[i].size >= size && (best < 0 || a->holes[i].size < a->holes[best].size)) best = i;
    if (best >= 0) {
        size_t off = a->holes[best].offset;
        a->holes[best].offset += size;
        a->holes[best].size -= size;
        if (!a->holes[best].size) {
            memmove(&a->holes[best], &a->holes[best + 1], sizeof(hole) * (size_t)(a->n - best - 1));
            a->n--;
        }
        return off;
    }
    size_t off = a->top;
    a->top += size;
    if (a->top > *high_water) *high_water = a->top;
    return off;
}

static _Thread_local const hcg_alloc *sort_allocs;
static int by_first(const void *x, const void *y)
{
    const hcg_alloc *a = &sort_allocs[*(const int *)x], *b = &sort_allocs[*(const int *)y];
    return a->first_pos < b->first_pos ? -1 : a->first_pos > b->first_pos;
}
static int by_last(const void *x, const void *y)
{
    const hcg_alloc *a = &sort_allocs[*(const int *)x], *b = &sort_allocs[*(const int *)y];
    return a->last_pos < b->last_pos ? -1 : a->last_pos > b->last_pos;
}

hcg_status hcg_memplan_assign(hcg_plan *p)
{
    int n = p->n_allocs;
    int *by_start = malloc(sizeof(int) * ((size_t)n + 1)), *by_end = malloc(sizeof(int) * ((size_t)n + 1));
    if (!by_start || !by_end) {
        free(by_start);
        free(by_end);
        return hcg_error(HCG_ERR_NOMEM, "out of memory while planning memory");
    }
    hcg_status st = HCG_OK;
    for (int d = 0; d < p->n_dev && !st; d++) {
        size_t align = p->devs[d]->align < 64 ? 64 : p->devs[d]->align;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (p->allocs[i].device == d) by_start[m++] = i;
        memcpy(by_end, by_start, sizeof(int) * (size_t)m);
        sort_allocs = p->allocs;
        qsort(by_start, (size_t)m, sizeof(int), by_first);
        qsort(by_end, (size_t)m, sizeof(int), by_last);
        arena_sim a = {NULL, 0, 0, 0};
        size_t high = 0, live = 0, peak = 0;
        int i = 0, j = 0;
        while (i < m || j < m) {
            /* at equal positions, allocate before freeing: a node's output never overlaps its inputs */
            if (i < m && (j >= m || p->allocs[by_start[i]].first_pos <= p->allocs[by_end[j]].last_pos)) {
                hcg_alloc *al = &p->allocs[by_start[i++]];
                size_t sz = (al->size + align - 1) / align * align;
                al->offset = holes_take(&a, sz ? sz : align, &high);
                live += al->size;
                if (live > peak) peak = live;
            } else {
                hcg_alloc *al = &p->allocs[by_end[j++]];
                size_t sz = (al->size + align - 1) / align * align;
                if (!holes_insert(&a, al->offset, sz ? sz : align)) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
                live -= al->size;
            }
        }
        free(a.holes);
        p->arena_size[d] = high;
        p->arena_lower_bound[d] = peak;
        if (!st && high > 0) {
            st = p->devs[d]->iface->buffer_alloc(p->devs[d], high, &p->arena[d]);
            if (st) hcg_error_prefix(st, "%s: allocating a %zu-byte arena: ", p->devs[d]->name, high);
        }
    }
    free(by_start);
    free(by_end);
    return st;
}
