/* ocl_attention.c — the attention op on OpenCL: cl/fused.cl's attention_f32, one work-item per
 * (query row, batch and head) streaming the keys with an online softmax. The operands are read
 * through element strides per (batch, head, row), so the bshd layout needs no transposed copy,
 * and the mask through broadcast strides at its own shape. Limits: v's head size up to 128 (the
 * work-item's accumulator) and at most two batch dims in layout bhsd. */
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ocl.h"
#include "graph/op_table.h"

#define MAX_DV 128

/* Element strides of shape m broadcast (right-aligned) to the scores s; 0 along broadcast dims. */
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

static bool attention_supports(const hcg_graph *g, const hcg_node *n)
{
    hcg_attention_geom a;
    if (!hcg_attention_dims(g, n, &a) || a.dv > MAX_DV) return false;
    return a.bshd || g->nodes[n->inputs[0]].shape.rank <= 4;
}

/* p: [0] heads, [1] batch x heads, [2] sq, [3] sk, [4] d, [5] dv; host: the 16 strides. */
typedef struct attn_strides {
    int64_t s[16]; /* q (b, h, s), k, v, o, then mask (b, h, q, k) */
} attn_strides;

static hcg_status attention_run(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns, ocl_run *rc)
{
    const attn_strides *st = ns->host;
    ocl_args a;
    ocl_args_begin(&a, ns->kernel, ns->kname);
    ocl_arg_tensor(&a, &en->out);
    for (int i = 0; i < 3; i++) ocl_arg_tensor(&a, &en->in[i]);
    ocl_arg_tensor(&a, en->n_in > 3 ? &en->in[3] : &en->in[0]);
    ocl_arg_int(&a, en->n_in > 3);
    for (int i = 0; i < 6; i++) ocl_arg_int(&a, (cl_int)ns->p[i]);
    for (int i = 0; i < 16; i++) ocl_arg_long(&a, (cl_long)st->s[i]);
    ocl_arg_float(&a, (cl_float)ns->f[0]);
    return ocl_launch(dev, en, &a, 2, ns->global, ns->local, rc);
}

static hcg_status attention_prepare(ocl_dev *dev, hcg_exec_node *en, ocl_node *ns)
{
    hcg_attention_geom a;
    if (!hcg_attention_dims(en->g, en->node, &a))
        return hcg_node_error(en->g, en->node, HCG_ERR_INTERNAL, "operand shapes do not fit the layout");
    if (ocl_numel(&en->out.shape) == 0) return HCG_OK;
    attn_strides *st = calloc(1, sizeof *st);
    if (!st) return hcg_error(HCG_ERR_NOMEM, "out of memory");
    ns->host = st;
    ns->host_bytes = sizeof *st;
    int64_t heads = a.heads, nb = a.batch;
    int qrank = en->in[0].shape.rank;
    if (!a.bshd) { /* [.., H?, S, D]: the last batch dim as heads, the one before as batch */
        heads = qrank >= 3 ? en->in[0].shape.dims[qrank - 3] : 1;
        nb = a.batch / (heads ? heads : 1);
    }
    int64_t rows_d[4] = {a.d, a.d, a.dv, a.dv}; /* q, k, v, o: head sizes */
    int64_t seq[4] = {a.sq, a.sk, a.sk, a.sq};
    for (int t = 0; t < 4; t++) {
        if (a.bshd) { /* [B, S, H, x] */
            st->s[3 * t + 0] = seq[t] * a.heads * rows_d[t];
            st->s[3 * t + 1] = rows_d[t];
            st->s[3 * t + 2] = a.heads * rows_d[t];
        } else { /* [B, H, S, x] */
            st->s[3 * t + 0] = heads * seq[t] * rows_d[t];
            st->s[3 * t + 1] = seq[t] * rows_d[t];
            st->s[3 * t + 2] = rows_d[t];
        }
    }
    if (en->n_in > 3) {
        hcg_shape s;
        int64_t ms[HCG_MAX_RANK];
        hcg_attention_scores_shape(en->g, en->node, &a, &s);
        bcast_strides(&en->in[3].shape, &s, ms);
        int r = s.rank;
        st->s[12] = r >= 4 ? ms[r - 4] : 0;
        st->s[13] = r >= 3 ? ms[r - 3] : 0;
        st->s[14] = ms[r - 2];
        st->s[15] = ms[r - 1];
    }
    ns->p[0] = heads;
    ns->p[1] = nb * heads;
    ns->p[2] = a.sq;
    ns->p[3] = a.sk;
    ns->p[4] = a.d;
    ns->p[5] = a.dv;
    ns->f[0] = a.scale;
    size_t kwg;
    hcg_status err = ocl_kernel_get(dev, "fused", "attention_f32", &ns->kernel, &kwg);
    if (err) return hcg_error_prefix(err, "node '%s' (%s): ", en->node->name, hcg_op_name(en->node->op));
    ns->kname = ocl_kernel_name("fused", "attention_f32");
    ns->dim = 2;
    ocl_grid_geometry(dev, kwg, a.sq, nb * heads, 1, ns->global, ns->local);
    ns->run = attention_run;
    return HCG_OK;
}

const ocl_op_family ocl_fam_attention = {"fused", attention_supports, attention_prepare};
