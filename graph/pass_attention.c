/* pass_attention.c — attention as one op: matmul(q, k^T) -> scale (div or mul by a scalar) ->
 * + mask -> softmax over the keys -> matmul with v becomes attention(q, k, v, mask). When q, k
 * and v come from [B, S, H, D] tensors through the head transposes (perm 0,2,1,3; k's 0,2,3,1)
 * and the context goes back through transpose 0,2,1,3 (the BERT and GPT exports), those
 * transposes fold into the op's bshd layout: it reads and writes the [B, S, H, D] tensors with
 * strides, and no transposed copy is made. The mask stays its small broadcast shape. */
#include <stdio.h>

#include "graph/op_table.h"
#include "graph/passes.h"

#define NODE(id) hcg_pnode(c, (id))
#define IN(id, k) (NODE(id)->inputs[(k)])

/* Whether id is a transpose of rank 4 with perm want (and, unless it is the root, used once). */
static bool perm_is_any_use(const hcg_pass_ctx *c, hcg_id id, const int64_t want[4])
{
    if (!hcg_pass_is(c, id, HCG_OP_TRANSPOSE) || NODE(id)->shape.rank != 4) return false;
    int cnt;
    const int64_t *perm = hcg_attr_ints(NODE(id), "perm", &cnt);
    if (cnt != 4) return false;
    for (int i = 0; i < 4; i++)
        if (perm[i] != want[i]) return false;
    return true;
}

static bool perm_is(const hcg_pass_ctx *c, hcg_id id, const int64_t want[4])
{
    return perm_is_any_use(c, id, want) && hcg_pass_single_use(c, id);
}

static const int64_t heads_first[4] = {0, 2, 1, 3}, keys_transposed[4] = {0, 2, 3, 1};

static bool flags(const hcg_pass_ctx *c, hcg_id mm, int ta, int tb)
{
    return hcg_attr_int(NODE(mm), "transpose_a") == ta && hcg_attr_int(NODE(mm), "transpose_b") == tb;
}

/* Whether shape m broadcasts to s without changing it. */
static bool broadcasts_to(const hcg_shape *m, const hcg_shape *s)
{
    if (m->rank > s->rank) return false;
    for (int i = 0; i < m->rank; i++) {
        int64_t md = m->dims[m->rank - 1 - i], sd = s->dims[s->rank - 1 - i];
        if (md != 1 && md != sd) return false;
    }
    return true;
}

typedef struct match {
    hcg_id q, k, v, mask;
    double scale;
    bool bshd;
    int n_transposes;
} match;

/* softmax input: [+ mask] over [scale] over scores = matmul(q, k). */
static bool match_scores(const hcg_pass_ctx *c, hcg_id a, match *m)
{
    hcg_id scaled = a;
    m->mask = -1;
    if (hcg_pass_is(c, a, HCG_OP_ADD) && hcg_pass_single_use(c, a)) {
        for (int side = 0; side < 2 && m->mask < 0; side++) {
            hcg_id s = IN(a, side), mk = IN(a, 1 - side);
            if ((hcg_pass_is(c, s, HCG_OP_MATMUL) || hcg_pass_is(c, s, HCG_OP_DIV) || hcg_pass_is(c, s, HCG_OP_MUL)) &&
                NODE(mk)->dtype == HCG_F32 && broadcasts_to(&NODE(mk)->shape, &NODE(a)->shape) &&
                hcg_shape_equal(&NODE(s)->shape, &NODE(a)->shape)) {
                scaled = s;
                m->mask = mk;
            }
        }
        if (m->mask < 0) return false;
    }
    hcg_id s = scaled;
    m->scale = 1.0;
    if (!hcg_pass_single_use(c, scaled)) return false;
    if (hcg_pass_is(c, scaled, HCG_OP_DIV)) {
        double v;
        if (!hcg_pass_scalar(c, IN(scaled, 1), &v) || v == 0) return false;
        m->scale = 1.0 / v;
        s = IN(scaled, 0);
    } else if (hcg_pass_is(c, scaled, HCG_OP_MUL)) {
        int side = hcg_pass_is(c, IN(scaled, 0), HCG_OP_MATMUL) ? 0 : 1;
        if (!hcg_pass_scalar(c, IN(scaled, 1 - side), &m->scale)) return false;
        s = IN(scaled, side);
    }
    if (!hcg_pass_is(c, s, HCG_OP_MATMUL) || !hcg_pass_single_use(c, s)) return false;
    hcg_id q = IN(s, 0), k = IN(s, 1);
    if (m->bshd) {
        if (!perm_is(c, q, heads_first)) return false;
        if (flags(c, s, 0, 0) && perm_is(c, k, keys_transposed)) m->k = IN(k, 0);
        else if (flags(c, s, 0, 1) && perm_is(c, k, heads_first)) m->k = IN(k, 0);
        else return false;
        m->q = IN(q, 0);
        m->n_transposes += 2;
        return true;
    }
    if (!flags(c, s, 0, 1)) return false;
    m->q = q;
    m->k = k;
    return true;
}

static bool match_attention(const hcg_pass_ctx *c, hcg_id root, match *m)
{
    hcg_id p = root;
    m->bshd = false;
    m->n_transposes = 0;
    if (perm_is_any_use(c, root, heads_first)) {
        p = IN(root, 0);
        m->bshd = true;
        m->n_transposes = 1;
        if (!hcg_pass_single_use(c, p)) return false;
    } else if (!hcg_pass_is(c, root, HCG_OP_MATMUL)) {
        return false;
    }
    if (!hcg_pass_is(c, p, HCG_OP_MATMUL) || !flags(c, p, 0, 0)) return false;
    hcg_id sm = IN(p, 0), v = IN(p, 1);
    if (!hcg_pass_is(c, sm, HCG_OP_SOFTMAX) || !hcg_pass_single_use(c, sm)) return false;
    int rank = NODE(sm)->shape.rank, axis;
    if (rank < 2 || !hcg_norm_axis(hcg_attr_int(NODE(sm), "axis"), rank, &axis) || axis != rank - 1) return false;
    if (m->bshd) {
        if (!perm_is(c, v, heads_first)) return false;
        m->v = IN(v, 0);
        m->n_transposes++;
    } else {
        m->v = v;
    }
    if (!match_scores(c, IN(sm, 0), m)) return false;
    /* q, k, v as the op's layout wants them */
    const hcg_shape *qs = &NODE(m->q)->shape, *ks = &NODE(m->k)->shape, *vs = &NODE(m->v)->shape;
    if (NODE(m->q)->dtype != HCG_F32 || NODE(m->k)->dtype != HCG_F32 || NODE(m->v)->dtype != HCG_F32) return false;
    if (qs->rank != ks->rank || qs->rank != vs->rank || qs->rank < 2) return false;
    int batch_dims = m->bshd ? 1 : qs->rank - 2;
    for (int i = 0; i < batch_dims; i++)
        if (ks->dims[i] != qs->dims[i] || vs->dims[i] != qs->dims[i]) return false;
    if (m->bshd && (ks->dims[2] != qs->dims[2] || vs->dims[2] != qs->dims[2])) return false; /* heads */
    return true;
}

hcg_status hcg_pass_attention(hcg_pass_ctx *c)
{
    for (hcg_id id = 0; id < c->g->n_nodes; id++) {
        match m;
        if (!match_attention(c, id, &m)) continue;
        hcg_id in[4] = {m.q, m.k, m.v, m.mask};
        hcg_attr at[2] = {HCG_ATTR_F("scale", m.scale), HCG_ATTR_S("layout", m.bshd ? "bshd" : "bhsd")};
        char what[200];
        snprintf(what, sizeof what, "from matmul, %s%ssoftmax, matmul%s; layout %s, scale %g%s",
                 m.scale != 1.0 ? "scale, " : "", m.mask >= 0 ? "mask add, " : "",
                 m.n_transposes ? " and the head transposes" : "", m.bshd ? "bshd" : "bhsd", m.scale,
                 m.mask >= 0 ? ", the mask kept at its broadcast shape" : "");
        hcg_status st = hcg_pass_rewrite(c, id, HCG_OP_ATTENTION, in, m.mask >= 0 ? 4 : 3, at, 2, what);
        if (st) return st;
    }
    return HCG_OK;
}
