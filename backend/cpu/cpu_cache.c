/* cpu_cache.c — the decoding ops on the CPU: cache_write (values into a state cache at pos along
 * an axis) and kv_attention (the new keys and values into the caches at pos, then each query row
 * attends over the cache up to its own position). The attention streams the cache's keys with
 * the attention op's units (hcg_attn_run_unit: block products and an online softmax), per (batch
 * entry, head, block of query rows), with a causal mask for the block's own new positions; a
 * block of rows reads only the pos + rows keys it can see, so a new token costs O(pos). */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "graph/op_table.h"

/* The run-time position pos (an i64 input) checked against the cache: pos .. pos + t - 1 must
 * be positions of it. */
static hcg_status read_position(hcg_exec_node *en, int input, int64_t t, int64_t positions, int64_t *pos)
{
    *pos = *(const int64_t *)hcg_dev_tensor_ptr(&en->in[input]);
    if (*pos < 0 || *pos > positions - t)
        return hcg_node_error(en->g, en->node, HCG_ERR_RUNTIME,
                              "position %lld with %lld new entries does not fit the cache's %lld positions",
                              (long long)*pos, (long long)t, (long long)positions);
    return HCG_OK;
}

hcg_status hcg_k_cache_write(hcg_exec_node *en)
{
    int64_t outer, t, inner, positions, pos;
    if (!hcg_cache_write_dims(en->g, en->node, &outer, &t, &inner, &positions))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "operand shapes do not fit");
    *(float *)hcg_dev_tensor_ptr(&en->out) = 0;
    hcg_status st = read_position(en, 2, t, positions, &pos);
    if (st || t == 0 || inner == 0) return st;
    float *cache = hcg_dev_tensor_ptr(&en->in[0]);
    const float *v = hcg_dev_tensor_ptr(&en->in[1]);
    for (int64_t o = 0; o < outer; o++)
        memcpy(cache + (o * positions + pos) * inner, v + o * t * inner, sizeof(float) * (size_t)(t * inner));
    return HCG_OK;
}

typedef struct kv_ctx {
    hcg_kv_geom a;
    int64_t pos, row_blocks;
    const float *q, *kc, *vc;
    float *o;
} kv_ctx;

static void kv_units(void *ctx, int64_t begin, int64_t end)
{
    const kv_ctx *c = ctx;
    const hcg_kv_geom *a = &c->a;
    int64_t most_keys = c->pos + a->t;
    float *scratch = malloc(sizeof(float) * (hcg_attn_scratch_floats() + (size_t)(HCG_ATTN_ROWS * most_keys)));
    if (!scratch) return; /* checked by the caller beforehand: cannot happen but for a race on memory */
    float *mask = scratch + hcg_attn_scratch_floats();
    for (int64_t w = begin; w < end; w++) {
        int64_t bh = w / c->row_blocks, r0 = (w % c->row_blocks) * HCG_ATTN_ROWS;
        int64_t b = bh / a->heads, h = bh % a->heads;
        int64_t rows = a->t - r0 < HCG_ATTN_ROWS ? a->t - r0 : HCG_ATTN_ROWS;
        int64_t keys = c->pos + r0 + rows; /* the last row sees these; earlier rows fewer */
        hcg_attn_unit u = {.rows = rows, .sk = keys, .d = a->d, .dv = a->dv, .scale = a->scale};
        u.q_ld = a->heads * a->d;
        u.o_ld = a->heads * a->dv;
        u.k_ld = a->d;
        u.v_ld = a->dv;
        u.q = c->q + (b * a->t + r0) * u.q_ld + h * a->d;
        u.o = c->o + (b * a->t + r0) * u.o_ld + h * a->dv;
        u.k = c->kc + bh * a->positions * a->d;
        u.v = c->vc + bh * a->positions * a->dv;
        if (rows > 1) { /* row i sees keys 0 .. pos + r0 + i */
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < keys; j++) mask[i * keys + j] = j <= c->pos + r0 + i ? 0.0f : -INFINITY;
            u.mask = mask;
            u.mask_ld = keys;
            u.mask_cs = 1;
        }
        hcg_attn_run_unit(&u, scratch);
    }
    free(scratch);
}

/* Copies rows [B, T, H, x] into the cache [B, H, P, x] at positions pos .. pos + T - 1. */
static void store_rows(float *cache, const float *src, const hcg_kv_geom *a, int64_t width, int64_t pos)
{
    for (int64_t b = 0; b < a->batch; b++)
        for (int64_t t = 0; t < a->t; t++)
            for (int64_t h = 0; h < a->heads; h++)
                memcpy(cache + ((b * a->heads + h) * a->positions + pos + t) * width,
                       src + ((b * a->t + t) * a->heads + h) * width, sizeof(float) * (size_t)width);
}

hcg_status hcg_k_kv_attention(hcg_exec_node *en)
{
    kv_ctx c = {.q = hcg_dev_tensor_ptr(&en->in[0]), .kc = hcg_dev_tensor_ptr(&en->in[3]),
                .vc = hcg_dev_tensor_ptr(&en->in[4]), .o = hcg_dev_tensor_ptr(&en->out)};
    if (!hcg_kv_attention_dims(en->g, en->node, &c.a))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "operand shapes do not fit");
    hcg_status st = read_position(en, 5, c.a.t, c.a.positions, &c.pos);
    if (st || hcg_cpu_numel(&en->out) == 0) return st;
    store_rows(hcg_dev_tensor_ptr(&en->in[3]), hcg_dev_tensor_ptr(&en->in[1]), &c.a, c.a.d, c.pos);
    store_rows(hcg_dev_tensor_ptr(&en->in[4]), hcg_dev_tensor_ptr(&en->in[2]), &c.a, c.a.dv, c.pos);
    size_t scratch = sizeof(float) * (hcg_attn_scratch_floats() + (size_t)(HCG_ATTN_ROWS * (c.pos + c.a.t)));
    void *probe = malloc(scratch);
    if (!probe) return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory for attention scratch");
    free(probe);
    c.row_blocks = (c.a.t + HCG_ATTN_ROWS - 1) / HCG_ATTN_ROWS;
    int64_t units = c.a.batch * c.a.heads * c.row_blocks;
    int64_t rows = c.a.t < HCG_ATTN_ROWS ? c.a.t : HCG_ATTN_ROWS; /* one when decoding */
    int64_t per_unit = rows * (c.pos + c.a.t) * (2 * (c.a.d + c.a.dv) + 16);
    hcg_parallel_for(units, hcg_grain_for(per_unit), kv_units, &c);
    return HCG_OK;
}
