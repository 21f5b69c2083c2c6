/* cpu_iter.c — the strided/broadcast iterator the CPU kernels walk tensors with (see
 * cpu_kernels.h): set-up from strides or from numpy broadcasting, dim merging, visiting a range
 * of elements as innermost-dim runs, the threaded walk, and the generic strided copy that the
 * data-movement kernels are built on. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"

void hcg_iter_init(hcg_iter *it, int rank, const int64_t *dims, int n_ops,
                   const int64_t (*strides)[HCG_MAX_RANK], const int64_t *base)
{
    memset(it, 0, sizeof *it);
    it->n_ops = n_ops;
    it->numel = 1;
    for (int d = 0; d < rank; d++) it->numel *= dims[d];
    for (int k = 0; k < n_ops; k++) it->base[k] = base ? base[k] : 0;
    if (it->numel == 0) return; /* nothing to visit */
    /* Keep the dims that are not 1, merging each into the previous kept dim when every operand
     * steps over the pair as over one dim (outer stride = inner stride * inner size). */
    int r = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 1) continue;
        bool merge = r > 0;
        for (int k = 0; merge && k < n_ops; k++)
            if (it->strides[k][r - 1] != strides[k][d] * dims[d]) merge = false;
        if (merge) {
            it->dims[r - 1] *= dims[d];
            for (int k = 0; k < n_ops; k++) it->strides[k][r - 1] = strides[k][d];
            continue;
        }
        it->dims[r] = dims[d];
        for (int k = 0; k < n_ops; k++) it->strides[k][r] = strides[k][d];
        r++;
    }
    if (r == 0) { /* a single element: one run of length 1 */
        it->dims[0] = 1;
        r = 1;
    }
    it->rank = r;
}

void hcg_iter_broadcast(hcg_iter *it, const hcg_shape *out, const hcg_shape *const in[], int n_in)
{
    int64_t strides[HCG_ITER_MAX_OPS][HCG_MAX_RANK];
    int r = out->rank;
    hcg_contiguous_strides(out, strides[0]);
    for (int k = 0; k < n_in; k++) {
        int64_t own[HCG_MAX_RANK];
        const hcg_shape *s = in[k];
        hcg_contiguous_strides(s, own);
        for (int d = 0; d < r; d++) {
            int sd = s->rank - r + d; /* the input's dim aligned with output dim d, if any */
            strides[k + 1][d] = (sd >= 0 && s->dims[sd] != 1) ? own[sd] : 0;
        }
    }
    hcg_iter_init(it, r, out->dims, n_in + 1, (const int64_t(*)[HCG_MAX_RANK])strides, NULL);
}

void hcg_iter_visit(const hcg_iter *it, int64_t begin, int64_t end, hcg_iter_seg_fn seg, void *ctx)
{
    if (begin >= end || it->numel == 0) return;
    int r = it->rank, n_ops = it->n_ops;
    int64_t inner = it->dims[r - 1];
    int64_t idx[HCG_MAX_RANK], off[HCG_ITER_MAX_OPS], step[HCG_ITER_MAX_OPS];
    /* The multi-index of element begin, and each operand's offset there. */
    int64_t rest = begin;
    for (int d = r - 1; d >= 0; d--) {
        idx[d] = rest % it->dims[d];
        rest /= it->dims[d];
    }
    for (int k = 0; k < n_ops; k++) {
        off[k] = it->base[k];
        for (int d = 0; d < r; d++) off[k] += idx[d] * it->strides[k][d];
        step[k] = it->strides[k][r - 1];
    }
    int64_t pos = begin;
    while (pos < end) {
        int64_t len = inner - idx[r - 1];
        if (len > end - pos) len = end - pos;
        seg(ctx, off, step, len);
        pos += len;
        if (pos >= end) break;
        /* Advance the odometer by len along the innermost dim, carrying outward. */
        idx[r - 1] += len;
        for (int k = 0; k < n_ops; k++) off[k] += len * step[k];
        for (int d = r - 1; d > 0 && idx[d] == it->dims[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
            for (int k = 0; k < n_ops; k++)
                off[k] += it->strides[k][d - 1] - it->dims[d] * it->strides[k][d];
        }
    }
}

typedef struct iter_job {
    const hcg_iter *it;
    hcg_iter_seg_fn seg;
    void *ctx;
} iter_job;

static void iter_range(void *ctx, int64_t begin, int64_t end)
{
    iter_job *j = ctx;
    hcg_iter_visit(j->it, begin, end, j->seg, j->ctx);
}

void hcg_iter_run(const hcg_iter *it, int64_t cost, hcg_iter_seg_fn seg, void *ctx)
{
    iter_job j = {it, seg, ctx};
    hcg_parallel_for(it->numel, hcg_grain_for(cost), iter_range, &j);
}

/* ---------------------------------------------------------------- strided copy */

typedef struct copy_ctx {
    size_t esize;
    char *dst;
    const char *src;
} copy_ctx;

#define COPY_LOOP(T)                                                                              \
    do {                                                                                          \
        T *d_ = (T *)(void *)d;                                                                   \
        const T *s_ = (const T *)(const void *)s;                                                 \
        if (ss == 0) {                                                                            \
            T v_ = *s_;                                                                           \
            for (int64_t i = 0; i < len; i++) d_[i * ds] = v_;                                    \
        } else {                                                                                  \
            for (int64_t i = 0; i < len; i++) d_[i * ds] = s_[i * ss];                            \
        }                                                                                         \
    } while (0)

static void copy_seg(void *ctx, const int64_t off[], const int64_t step[], int64_t len)
{
    copy_ctx *c = ctx;
    size_t es = c->esize;
    char *d = c->dst + off[0] * (int64_t)es;
    const char *s = c->src + off[1] * (int64_t)es;
    int64_t ds = step[0], ss = step[1];
    if (ds == 1 && ss == 1) {
        memcpy(d, s, (size_t)len * es);
        return;
    }
    switch (es) {
    case 1: COPY_LOOP(uint8_t); break;
    case 2: COPY_LOOP(uint16_t); break;
    case 4: COPY_LOOP(uint32_t); break;
    case 8: COPY_LOOP(uint64_t); break;
    default:
        for (int64_t i = 0; i < len; i++) memcpy(d + i * ds * (int64_t)es, s + i * ss * (int64_t)es, es);
    }
}

/* A transpose of the innermost two dims (the output runs along dim r-1, the input along r-2):
 * walking output rows would read the input one cache line per element, so the copy goes in
 * TILE x TILE blocks that stay in cache. */
#define TILE 32

typedef struct tile_ctx {
    const hcg_iter *it;
    size_t esize;
    char *dst;
    const char *src;
    int64_t rows, cols, row_tiles, col_tiles;
} tile_ctx;

#define TILE_LOOP(T)                                                                              \
    for (int64_t i = 0; i < nr; i++) {                                                            \
        T *d_ = (T *)(void *)(d + i * ds_r * es);                                                 \
        const T *s_ = (const T *)(const void *)(s + i * es); /* the input steps 1 along rows */   \
        for (int64_t j = 0; j < nc; j++) d_[j] = s_[j * ss_c];                                    \
    }

static void tile_units(void *ctx, int64_t begin, int64_t end)
{
    const tile_ctx *c = ctx;
    const hcg_iter *it = c->it;
    int r = it->rank;
    int64_t es = (int64_t)c->esize, ds_r = it->strides[0][r - 2], ss_c = it->strides[1][r - 1];
    for (int64_t u = begin; u < end; u++) {
        int64_t tile = u % (c->row_tiles * c->col_tiles), outer = u / (c->row_tiles * c->col_tiles);
        int64_t i0 = (tile / c->col_tiles) * TILE, j0 = (tile % c->col_tiles) * TILE;
        int64_t nr = c->rows - i0 < TILE ? c->rows - i0 : TILE, nc = c->cols - j0 < TILE ? c->cols - j0 : TILE;
        int64_t doff = it->base[0] + i0 * ds_r + j0, soff = it->base[1] + i0 + j0 * ss_c;
        for (int d = r - 3; d >= 0; d--) { /* the outer dims' offsets */
            int64_t idx = outer % it->dims[d];
            outer /= it->dims[d];
            doff += idx * it->strides[0][d];
            soff += idx * it->strides[1][d];
        }
        char *d = c->dst + doff * es;
        const char *s = c->src + soff * es;
        switch (es) {
        case 1: TILE_LOOP(uint8_t) break;
        case 2: TILE_LOOP(uint16_t) break;
        case 4: TILE_LOOP(uint32_t) break;
        case 8: TILE_LOOP(uint64_t) break;
        default:
            for (int64_t i = 0; i < nr; i++)
                for (int64_t j = 0; j < nc; j++) memcpy(d + (i * ds_r + j) * es, s + (i + j * ss_c) * es, (size_t)es);
        }
    }
}

void hcg_strided_copy(const hcg_iter *it, size_t esize, void *dst, const void *src)
{
    int r = it->rank;
    if (r >= 2 && it->strides[0][r - 1] == 1 && it->strides[1][r - 2] == 1 && it->strides[1][r - 1] != 1 &&
        it->dims[r - 1] >= TILE / 4 && it->dims[r - 2] >= TILE / 4) {
        tile_ctx c = {.it = it, .esize = esize, .dst = dst, .src = src, .rows = it->dims[r - 2],
                      .cols = it->dims[r - 1]};
        c.row_tiles = (c.rows + TILE - 1) / TILE;
        c.col_tiles = (c.cols + TILE - 1) / TILE;
        int64_t units = it->numel / (c.rows * c.cols) * c.row_tiles * c.col_tiles;
        hcg_parallel_for(units, hcg_grain_for(2 * TILE * TILE), tile_units, &c);
        return;
    }
    copy_ctx c = {esize, dst, src};
    hcg_iter_run(it, 1, copy_seg, &c);
}
