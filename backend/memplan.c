/* memplan.c — the memory planner: one arena per device, split into chunks that each fit the
 * device's largest buffer (max_alloc). Allocations (tensors, with views sharing their base) are
 * live from the position of their first write to the position of their last read in the plan's
 * global order; the planner replays that order as a best-fit allocator over the chunks with
 * coalescing free holes, so memory of dead tensors is reused. It reports the arena size next to
 * the liveness lower bound (the peak of bytes live at once), and allocates the chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/fault.h"
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

void hcg_format_bytes(double bytes, char *buf, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024 && u < 6) {
        bytes /= 1024;
        u++;
    }
    if (u == 0) snprintf(buf, n, "%.0f B", bytes);
    else snprintf(buf, n, "%.1f %s", bytes, units[u]);
}

/* A device's arena as chunks, each a best-fit allocator over at most cap bytes. */
typedef struct chunks {
    arena_sim *c;
    size_t *high; /* per chunk: its high-water mark */
    int n, cap_n;
    size_t cap;   /* bytes per chunk at most (the device's max_alloc; SIZE_MAX: one chunk) */
} chunks;

/* Places size bytes: the best-fitting hole of any chunk, else the top of the first chunk with
 * room, else a new chunk. */
static bool chunks_take(chunks *cs, size_t size, int *chunk, size_t *offset)
{
    int best_c = -1, best_h = -1;
    for (int c = 0; c < cs->n; c++)
        for (int h = 0; h < cs->c[c].n; h++)
            if (cs->c[c].holes[h].size >= size &&
                (best_c < 0 || cs->c[c].holes[h].size < cs->c[best_c].holes[best_h].size)) {
                best_c = c;
                best_h = h;
            }
    int c = best_c;
    for (int k = 0; c < 0 && k < cs->n; k++)
        if (cs->c[k].top <= cs->cap && size <= cs->cap - cs->c[k].top) c = k;
    if (c < 0) {
        if (cs->n == cs->cap_n) {
            int nc = cs->cap_n ? cs->cap_n * 2 : 4;
            arena_sim *q = realloc(cs->c, sizeof *q * (size_t)nc);
            if (!q) return false;
            cs->c = q;
            size_t *hq = realloc(cs->high, sizeof *hq * (size_t)nc);
            if (!hq) return false;
            cs->high = hq;
            cs->cap_n = nc;
        }
        c = cs->n++;
        cs->c[c] = (arena_sim){NULL, 0, 0, 0};
        cs->high[c] = 0;
    }
    *chunk = c;
    *offset = holes_take(&cs->c[c], size, &cs->high[c]);
    return true;
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
        const hcg_device *dev = p->devs[d];
        size_t align = dev->align < 64 ? 64 : dev->align;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (p->allocs[i].device == d) by_start[m++] = i;
        memcpy(by_end, by_start, sizeof(int) * (size_t)m);
        sort_allocs = p->allocs;
        qsort(by_start, (size_t)m, sizeof(int), by_first);
        qsort(by_end, (size_t)m, sizeof(int), by_last);
        /* Devices limit one buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE), often to a quarter of their
         * memory: the arena is split into chunks that each stay within it. */
        chunks cs = {NULL, NULL, 0, 0, !dev->host_memory && dev->max_alloc ? (size_t)dev->max_alloc / align * align : SIZE_MAX};
        size_t live = 0, peak = 0;
        int i = 0, j = 0;
        while (!st && (i < m || j < m)) {
            /* at equal positions, allocate before freeing: a node's output never overlaps its inputs */
            if (i < m && (j >= m || p->allocs[by_start[i]].first_pos <= p->allocs[by_end[j]].last_pos)) {
                hcg_alloc *al = &p->allocs[by_start[i++]];
                size_t sz = (al->size + align - 1) / align * align;
                if (!sz) sz = align;
                if (sz > cs.cap) {
                    char need[32], has[32];
                    hcg_format_bytes((double)al->size, need, sizeof need);
                    hcg_format_bytes((double)dev->max_alloc, has, sizeof has);
                    st = hcg_error(HCG_ERR_NOMEM, "too large for %s (a tensor needs one buffer of %s, the largest it allows is %s)",
                                   dev->name, need, has);
                } else if (!chunks_take(&cs, sz, &al->chunk, &al->offset)) {
                    st = hcg_error(HCG_ERR_NOMEM, "out of memory while planning memory");
                }
                live += al->size;
                if (live > peak) peak = live;
            } else {
                hcg_alloc *al = &p->allocs[by_end[j++]];
                size_t sz = (al->size + align - 1) / align * align;
                if (!holes_insert(&cs.c[al->chunk], al->offset, sz ? sz : align))
                    st = hcg_error(HCG_ERR_NOMEM, "out of memory");
                live -= al->size;
            }
        }
        p->arena_size[d] = 0;
        p->n_arenas[d] = 0;
        p->arena_lower_bound[d] = peak;
        if (!st && cs.n > 0 && !(p->arena[d] = calloc((size_t)cs.n, sizeof(hcg_buffer))))
            st = hcg_error(HCG_ERR_NOMEM, "out of memory while planning memory");
        for (int c = 0; c < cs.n; c++) {
            if (!st) {
                p->arena[d][c].device = p->devs[d];
                p->arena[d][c].size = cs.high[c];
                p->arena_size[d] += cs.high[c];
            }
            free(cs.c[c].holes);
        }
        if (!st) p->n_arenas[d] = cs.n;
        free(cs.c);
        free(cs.high);
    }
    free(by_start);
    free(by_end);
    return st;
}

hcg_status hcg_memplan_allocate(hcg_plan *p)
{
    for (int d = 0; d < p->n_dev; d++) {
        for (int c = 0; c < p->n_arenas[d]; c++) {
            hcg_buffer *b = &p->arena[d][c];
            size_t size = b->size;
            if (!size) continue;
            hcg_status st = hcg_dev_alloc(p->devs[d], size, b);
            if (st) {
                memset(b, 0, sizeof *b);
                return hcg_error_prefix(st, "%s: allocating a %zu-byte arena: ", p->devs[d]->name, size);
            }
        }
    }
    return HCG_OK;
}
