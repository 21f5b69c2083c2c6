/* op_shapes_decode.c — shape and cost rules of the decoding ops, which update a key/value cache (a
 * state tensor) in place: kv_attention (write the new keys and values at pos, attend over the
 * cache up to each query's position) and cache_write (write values into a cache along an axis at
 * pos). The op table (op_table.c) points here; the kernels read the geometry through
 * hcg_kv_attention_dims and hcg_cache_write_dims. */
#include <stdio.h>
#include <string.h>

#include "graph/op_rules.h"

#define IN(i) (&g->nodes[n->inputs[(i)]])

static void fmt(const hcg_graph *g, const hcg_node *x, char *buf, size_t len)
{
    hcg_format_type(g, x->dtype, &x->shape, buf, len);
}

/* Input i must be a state tensor (it is written in place) of dtype f32. */
static hcg_status want_state(const hcg_graph *g, hcg_node *n, int i, const char *what)
{
    if (IN(i)->op != HCG_OP_STATE)
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "input %d ('%s', the %s) must be a state tensor: it is written in place",
                              i, IN(i)->name, what);
    return hcg_rule_want_dtype(g, n, i, HCG_M_F32);
}

/* pos: an i64 scalar (one value) given as data, read by the kernels at run time. */
static hcg_status want_position(const hcg_graph *g, hcg_node *n, int i)
{
    int64_t numel = 0;
    hcg_shape_numel(&IN(i)->shape, &numel);
    if (IN(i)->dtype != HCG_I64 || numel != 1) {
        char t[256];
        fmt(g, IN(i), t, sizeof t);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "the position '%s' must be one i64 value, got %s", IN(i)->name, t);
    }
    return HCG_OK;
}

/* ---------------------------------------------------------------- kv_attention */

bool hcg_kv_attention_dims(const hcg_graph *g, const hcg_node *n, hcg_kv_geom *a)
{
    const hcg_shape *q = &IN(0)->shape, *k = &IN(1)->shape, *v = &IN(2)->shape, *kc = &IN(3)->shape,
                    *vc = &IN(4)->shape;
    memset(a, 0, sizeof *a);
    a->scale = (float)hcg_attr_float(n, "scale");
    if (q->rank != 4 || k->rank != 4 || v->rank != 4 || kc->rank != 4 || vc->rank != 4) return false;
    a->batch = q->dims[0];
    a->t = q->dims[1];
    a->heads = q->dims[2];
    a->d = q->dims[3];
    a->dv = v->dims[3];
    a->positions = kc->dims[2];
    for (int i = 0; i < 3; i++) /* k and v: [B, T, H, .] like q */
        if ((i ? v : k)->dims[i] != q->dims[i]) return false;
    return k->dims[3] == a->d && kc->dims[0] == a->batch && kc->dims[1] == a->heads && kc->dims[3] == a->d &&
           vc->dims[0] == a->batch && vc->dims[1] == a->heads && vc->dims[2] == a->positions && vc->dims[3] == a->dv;
}

hcg_status hcg_infer_kv_attention(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    for (int i = 0; i < 3; i++)
        if ((st = hcg_rule_want_dtype(g, n, i, HCG_M_F32))) return st;
    if ((st = want_state(g, n, 3, "key cache")) || (st = want_state(g, n, 4, "value cache")) ||
        (st = want_position(g, n, 5)))
        return st;
    hcg_kv_geom a;
    if (!hcg_kv_attention_dims(g, n, &a)) {
        char t[5][256];
        for (int i = 0; i < 5; i++) fmt(g, IN(i), t[i], sizeof t[i]);
        return hcg_node_error(g, n, HCG_ERR_SHAPE,
                              "q %s, k %s, v %s, key cache %s and value cache %s do not fit (q, k [B, T, H, D], v "
                              "[B, T, H, Dv], caches [B, H, P, D] and [B, H, P, Dv])",
                              t[0], t[1], t[2], t[3], t[4]);
    }
    if (a.t > a.positions)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "%lld new positions do not fit a cache of %lld", (long long)a.t,
                              (long long)a.positions);
    hcg_shape out = IN(0)->shape;
    out.dims[3] = a.dv;
    n->dtype = HCG_F32;
    n->shape = out;
    return HCG_OK;
}

void hcg_cost_kv_attention(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    hcg_kv_geom a;
    hcg_kv_attention_dims(g, n, &a);
    /* the keys attended depend on pos, known only at run time: count half the cache */
    double keys = (double)a.positions / 2 + (double)a.t;
    double pairs = (double)a.batch * (double)a.heads * (double)a.t * keys;
    *flops = pairs * (2.0 * (double)(a.d + a.dv) + 8.0);
    /* the cache rows attended (once per batch entry and head), q, k, v and the output */
    *bytes = (double)a.batch * (double)a.heads * keys * 4.0 * (double)(a.d + a.dv) +
             (double)(hcg_node_nbytes(IN(0)) + hcg_node_nbytes(IN(1)) + hcg_node_nbytes(IN(2)) + hcg_node_nbytes(n));
}

/* ---------------------------------------------------------------- cache_write */

bool hcg_cache_write_dims(const hcg_graph *g, const hcg_node *n, int64_t *outer, int64_t *t, int64_t *inner,
                          int64_t *positions)
{
    const hcg_shape *c = &IN(0)->shape, *v = &IN(1)->shape;
    int axis;
    if (c->rank != v->rank || !hcg_norm_axis(hcg_attr_int(n, "axis"), c->rank, &axis)) return false;
    *outer = *inner = 1;
    for (int i = 0; i < c->rank; i++) {
        if (i != axis && c->dims[i] != v->dims[i]) return false;
        if (i < axis) *outer *= c->dims[i];
        if (i > axis) *inner *= c->dims[i];
    }
    *t = v->dims[axis];
    *positions = c->dims[axis];
    return true;
}

hcg_status hcg_infer_cache_write(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    if ((st = want_state(g, n, 0, "cache")) || (st = hcg_rule_want_dtype(g, n, 1, HCG_M_F32)) ||
        (st = want_position(g, n, 2)))
        return st;
    int axis;
    if ((st = hcg_rule_axis(g, n, "axis", IN(0)->shape.rank, &axis))) return st;
    int64_t outer, t, inner, positions;
    if (!hcg_cache_write_dims(g, n, &outer, &t, &inner, &positions) || t > positions) {
        char c[256], v[256];
        fmt(g, IN(0), c, sizeof c);
        fmt(g, IN(1), v, sizeof v);
        return hcg_node_error(g, n, HCG_ERR_SHAPE,
                              "values %s do not fit the cache %s: the same dims but along axis %d, where they may be "
                              "fewer",
                              v, c, axis);
    }
    memset(&n->shape, 0, sizeof n->shape); /* a scalar nobody reads: the effect is the write */
    n->dtype = HCG_F32;
    return HCG_OK;
}

void hcg_cost_cache_write(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    *flops = 0;
    *bytes = 2.0 * (double)hcg_node_nbytes(IN(1));
}
