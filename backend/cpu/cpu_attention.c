/* cpu_attention.c — the attention op on the CPU: softmax(scale * q @ k^T + mask) @ v, split into
 * units of (batch entry, head, block of query rows) over the thread pool, each unit streaming the
 * keys in blocks with an online softmax (hcg_simd_fns.attention_rows), so the [Sq, Sk] scores are
 * never stored. Layout bhsd reads q [.., S, D]; bshd reads q [B, S, H, D] in place (the heads'
 * rows are H * D floats apart), which is how the rewrite folds the head transposes away. The mask
 * is read through broadcast strides at its own small shape. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_simd.h"
#include "graph/op_table.h"

typedef struct attn_ctx {
    hcg_attention_geom a;
    const float *q, *k, *v, *mask;
    float *o;
    int64_t mstride[4]; /* mask element strides over (batch, head, query, key) */
    int64_t row_blocks;
    /* bhsd with several batch dims: each flattened batch index's mask offset */
    const int64_t *mask_batch_off;
} attn_ctx;

static void attn_units(void *ctx, int64_t begin, int64_t end)
{
    const attn_ctx *c = ctx;
    const hcg_attention_geom *a = &c->a;
    float *scratch = malloc(sizeof(float) * (size_t)hcg_attn_scratch_floats(a->d, a->dv));
    if (!scratch) return; /* checked by the caller beforehand: cannot happen but for a race on memory */
    int64_t H = a->heads;
    for (int64_t u = begin; u < end; u++) {
        int64_t bh = u / c->row_blocks, r0 = (u % c->row_blocks) * HCG_ATTN_ROWS;
        int64_t b = bh / H, h = bh % H;
        hcg_attn_rows r = {.rows = a->sq - r0 < HCG_ATTN_ROWS ? a->sq - r0 : HCG_ATTN_ROWS, .sk = a->sk, .d = a->d,
                           .dv = a->dv, .scale = a->scale, .scratch = scratch};
        if (a->bshd) { /* [B, S, H, D] */
            r.q_ld = H * a->d;
            r.k_ld = H * a->d;
            r.v_ld = H * a->dv;
            r.o_ld = H * a->dv;
            r.q = c->q + (b * a->sq + r0) * r.q_ld + h * a->d;
            r.k = c->k + b * a->sk * r.k_ld + h * a->d;
            r.v = c->v + b * a->sk * r.v_ld + h * a->dv;
            r.o = c->o + (b * a->sq + r0) * r.o_ld + h * a->dv;
        } else { /* [.., S, D] */
            r.q_ld = a->d;
            r.k_ld = a->d;
            r.v_ld = a->dv;
            r.o_ld = a->dv;
            r.q = c->q + (bh * a->sq + r0) * a->d;
            r.k = c->k + bh * a->sk * a->d;
            r.v = c->v + bh * a->sk * a->dv;
            r.o = c->o + (bh * a->sq + r0) * a->dv;
        }
        if (c->mask) {
            int64_t off = c->mask_batch_off ? c->mask_batch_off[bh] : b * c->mstride[0] + h * c->mstride[1];
            r.mask = c->mask + off + r0 * c->mstride[2];
            r.mask_ld = c->mstride[2];
            r.mask_cs = c->mstride[3];
        }
        hcg_simd()->attention_rows(&r);
    }
    free(scratch);
}

/* Element strides of a mask of shape m broadcast to the scores s (right-aligned; 0 where m is 1). */
static void bcast_strides(const hcg_shape *m, const hcg_shape *s, int64_t *out)
{
    int64_t st = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        int mi = m->rank - s->rank + i;
        int64_t md = mi >= 0 ? m->dims[mi] : 1;
        out[i] = md == 1 ? 0 : st;
        st *= md;
    }
}

hcg_status hcg_k_attention(hcg_exec_node *en)
{
    attn_ctx c = {.q = hcg_dev_tensor_ptr(&en->in[0]), .k = hcg_dev_tensor_ptr(&en->in[1]),
                  .v = hcg_dev_tensor_ptr(&en->in[2]), .o = hcg_dev_tensor_ptr(&en->out)};
    if (!hcg_attention_dims(en->g, en->node, &c.a))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "operand shapes do not fit the layout");
    if (hcg_cpu_numel(&en->out) == 0) return HCG_OK;
    int64_t *offs = NULL;
    if (en->n_in > 3) {
        hcg_shape s;
        int64_t st[HCG_MAX_RANK];
        hcg_attention_scores_shape(en->g, en->node, &c.a, &s);
        c.mask = hcg_dev_tensor_ptr(&en->in[3]);
        bcast_strides(&en->in[3].shape, &s, st);
        int r = s.rank;
        c.mstride[2] = st[r - 2];
        c.mstride[3] = st[r - 1];
        if (c.a.bshd) {
            c.mstride[0] = st[0];
            c.mstride[1] = st[1];
        } else if (r > 2) { /* batch dims: an offset per flattened batch index */
            if (!(offs = malloc(sizeof(int64_t) * (size_t)c.a.batch)))
                return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory");
            for (int64_t bi = 0; bi < c.a.batch; bi++) {
                int64_t rest = bi, off = 0;
                for (int d = r - 3; d >= 0; d--) {
                    off += (rest % s.dims[d]) * st[d];
                    rest /= s.dims[d];
                }
                offs[bi] = off;
            }
            c.mask_batch_off = offs;
        }
    }
    void *probe = malloc(sizeof(float) * (size_t)hcg_attn_scratch_floats(c.a.d, c.a.dv));
    if (!probe) {
        free(offs);
        return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory for attention scratch");
    }
    free(probe);
    c.row_blocks = (c.a.sq + HCG_ATTN_ROWS - 1) / HCG_ATTN_ROWS;
    int64_t units = c.a.batch * c.a.heads * c.row_blocks;
    int64_t per_unit = HCG_ATTN_ROWS * c.a.sk * (2 * (c.a.d + c.a.dv) + 16);
    hcg_parallel_for(units, hcg_grain_for(per_unit), attn_units, &c);
    free(offs);
    return HCG_OK;
}
