/* cpu_attention.c — the attention op on the CPU: softmax(scale * q @ k^T + mask) @ v, split into
 * units of (batch entry, head, block of query rows) over the thread pool. Each unit streams the
 * keys in blocks (flash attention's loop): a block's scores are one small matrix product
 * (hcg_cpu_sgemm on the unit's thread: oneDNN's register-blocked kernels), the online-softmax
 * step updates each row's running maximum and sum (hcg_simd_fns.attn_softmax_block, vectorised
 * exp), and the block's probabilities times its values are a second product accumulated straight
 * into the output rows, rescaled when a later block raises a row's maximum. So the [Sq, Sk]
 * scores exist at most one block (ATTN_ROWS x ATTN_KEYS floats) at a time and nothing else is
 * stored. Layout bhsd reads q [.., S, D]; bshd reads q [B, S, H, D] in place (the heads' rows are
 * H * D floats apart: the products take leading dims), which is how the rewrite folds the head
 * transposes away. The mask is read through broadcast strides at its own small shape. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_simd.h"
#include "graph/op_table.h"

/* Query rows per unit (HCG_ATTN_ROWS, cpu_kernels.h) and keys per block: one block's scores fit in
 * L2 with room for k and v. */
#define ATTN_ROWS HCG_ATTN_ROWS
#define ATTN_KEYS 256

typedef struct attn_ctx {
    hcg_attention_geom a;
    const float *q, *k, *v, *mask;
    float *o;
    int64_t mstride[4]; /* mask element strides over (batch, head, query, key) */
    int64_t row_blocks;
    /* bhsd with several batch dims: each flattened batch index's mask offset */
    const int64_t *mask_batch_off;
} attn_ctx;

size_t hcg_attn_scratch_floats(void) { return (size_t)ATTN_ROWS * ATTN_KEYS + 3 * ATTN_ROWS; }

void hcg_attn_run_unit(const hcg_attn_unit *u, float *scratch)
{
    float *s = scratch, *m = s + ATTN_ROWS * ATTN_KEYS, *l = m + ATTN_ROWS, *corr = l + ATTN_ROWS;
    if (u->sk == 0) { /* softmax over no keys: 0 / 0 */
        for (int64_t i = 0; i < u->rows; i++)
            for (int64_t e = 0; e < u->dv; e++) u->o[i * u->o_ld + e] = NAN;
        return;
    }
    for (int64_t i = 0; i < u->rows; i++) {
        m[i] = -INFINITY;
        l[i] = 0;
    }
    for (int64_t kb = 0; kb < u->sk; kb += ATTN_KEYS) {
        int64_t n = u->sk - kb < ATTN_KEYS ? u->sk - kb : ATTN_KEYS;
        if (u->d > 0)
            hcg_cpu_sgemm(false, true, u->rows, n, u->d, u->scale, u->q, u->q_ld, u->k + kb * u->k_ld, u->k_ld, 0.0f, s,
                          ATTN_KEYS, false);
        else
            for (int64_t i = 0; i < u->rows; i++) memset(s + i * ATTN_KEYS, 0, sizeof(float) * (size_t)n);
        hcg_simd()->attn_softmax_block(s, u->rows, n, ATTN_KEYS, u->mask ? u->mask + kb * u->mask_cs : NULL, u->mask_ld,
                                       u->mask_cs, m, l, corr);
        if (kb > 0) /* a later block may have raised a row's maximum: rescale what the row has */
            for (int64_t i = 0; i < u->rows; i++)
                if (corr[i] != 1.0f)
                    for (int64_t e = 0; e < u->dv; e++) u->o[i * u->o_ld + e] *= corr[i];
        hcg_cpu_sgemm(false, false, u->rows, u->dv, n, 1.0f, s, ATTN_KEYS, u->v + kb * u->v_ld, u->v_ld,
                      kb > 0 ? 1.0f : 0.0f, u->o, u->o_ld, false);
    }
    for (int64_t i = 0; i < u->rows; i++) {
        float inv = 1.0f / l[i]; /* every key masked: 0 / 0, NaN, as softmax gives */
        for (int64_t e = 0; e < u->dv; e++) u->o[i * u->o_ld + e] *= inv;
    }
}

static void attn_units(void *ctx, int64_t begin, int64_t end)
{
    const attn_ctx *c = ctx;
    const hcg_attention_geom *a = &c->a;
    float *scratch = malloc(sizeof(float) * hcg_attn_scratch_floats());
    if (!scratch) return; /* checked by the caller beforehand: cannot happen but for a race on memory */
    int64_t H = a->heads;
    for (int64_t w = begin; w < end; w++) {
        int64_t bh = w / c->row_blocks, r0 = (w % c->row_blocks) * ATTN_ROWS;
        int64_t b = bh / H, h = bh % H;
        hcg_attn_unit u = {.rows = a->sq - r0 < ATTN_ROWS ? a->sq - r0 : ATTN_ROWS, .sk = a->sk, .d = a->d,
                           .dv = a->dv, .scale = a->scale};
        if (a->bshd) { /* [B, S, H, D] */
            u.q_ld = H * a->d;
            u.k_ld = H * a->d;
            u.v_ld = H * a->dv;
            u.o_ld = H * a->dv;
            u.q = c->q + (b * a->sq + r0) * u.q_ld + h * a->d;
            u.k = c->k + b * a->sk * u.k_ld + h * a->d;
            u.v = c->v + b * a->sk * u.v_ld + h * a->dv;
            u.o = c->o + (b * a->sq + r0) * u.o_ld + h * a->dv;
        } else { /* [.., S, D] */
            u.q_ld = a->d;
            u.k_ld = a->d;
            u.v_ld = a->dv;
            u.o_ld = a->dv;
            u.q = c->q + (bh * a->sq + r0) * a->d;
            u.k = c->k + bh * a->sk * a->d;
            u.v = c->v + bh * a->sk * a->dv;
            u.o = c->o + (bh * a->sq + r0) * a->dv;
        }
        /* the products want leading dims >= 1 even when a dim is 0 */
        if (u.q_ld < 1) u.q_ld = 1;
        if (u.k_ld < 1) u.k_ld = 1;
        if (c->mask) {
            int64_t off = c->mask_batch_off ? c->mask_batch_off[bh] : b * c->mstride[0] + h * c->mstride[1];
            u.mask = c->mask + off + r0 * c->mstride[2];
            u.mask_ld = c->mstride[2];
            u.mask_cs = c->mstride[3];
        }
        hcg_attn_run_unit(&u, scratch);
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
    void *probe = malloc(sizeof(float) * hcg_attn_scratch_floats());
    if (!probe) {
        free(offs);
        return hcg_node_error(en->g, en->node, HCG_ERR_NOMEM, "out of memory for attention scratch");
    }
    free(probe);
    c.row_blocks = (c.a.sq + ATTN_ROWS - 1) / ATTN_ROWS;
    int64_t units = c.a.batch * c.a.heads * c.row_blocks;
    int64_t per_unit = ATTN_ROWS * c.a.sk * (2 * (c.a.d + c.a.dv) + 16);
    hcg_parallel_for(units, hcg_grain_for(per_unit), attn_units, &c);
    free(offs);
    return HCG_OK;
}
