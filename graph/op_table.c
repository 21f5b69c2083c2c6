/* op_table.c — the one table of ops: name, arity, attribute schema, shape rule, cost rule and
 * flags for every op, and the shape rules themselves. The reference semantics of each op are its
 * CPU kernel (backend/cpu/); docs/ops.md describes them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/op_rules.h"

/* ---------------------------------------------------------------- helpers for shape rules */

#define IN(i) (&g->nodes[n->inputs[(i)]])

static void fmt_type(const hcg_graph *g, const hcg_node *x, char *buf, size_t len)
{
    hcg_format_type(g, x->dtype, &x->shape, buf, len);
}

static hcg_status want_dtype(const hcg_graph *g, hcg_node *n, int i, unsigned allowed_mask)
{
    const hcg_node *x = IN(i);
    if (allowed_mask & (1u << x->dtype)) return HCG_OK;
    char allowed[96] = "", t[256];
    size_t used = 0;
    for (int d = 0; d < HCG_DTYPE_COUNT; d++) {
        if (!(allowed_mask & (1u << d))) continue;
        int w = snprintf(allowed + used, sizeof allowed - used, "%s%s", used ? ", " : "", hcg_dtype_name(d));
        if (w > 0 && (size_t)w < sizeof allowed - used) used += (size_t)w;
    }
    fmt_type(g, x, t, sizeof t);
    return hcg_node_error(g, n, HCG_ERR_SHAPE, "input %d ('%s', %s) must be %s", i, x->name, t, allowed);
}

#define M_F32 (1u << HCG_F32)
#define M_INT ((1u << HCG_I32) | (1u << HCG_I64))
#define M_NUM (M_F32 | M_INT)
#define M_BOOL (1u << HCG_BOOL)
#define M_ANY ((1u << HCG_DTYPE_COUNT) - 1)

static hcg_status same_dtype(const hcg_graph *g, hcg_node *n, int i, int j)
{
    if (IN(i)->dtype == IN(j)->dtype) return HCG_OK;
    char a[256], b[256];
    fmt_type(g, IN(i), a, sizeof a);
    fmt_type(g, IN(j), b, sizeof b);
    return hcg_node_error(g, n, HCG_ERR_SHAPE, "inputs '%s' (%s) and '%s' (%s) must have the same dtype",
                          IN(i)->name, a, IN(j)->name, b);
}

/* numpy broadcasting of two shapes. */
static bool broadcast(const hcg_shape *a, const hcg_shape *b, hcg_shape *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    hcg_shape s;
    memset(&s, 0, sizeof s);
    s.rank = r;
    for (int i = 0; i < r; i++) {
        int ia = a->rank - r + i, ib = b->rank - r + i;
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1) s.dims[i] = da;
        else if (da == 1) s.dims[i] = db;
        else return false;
    }
    *out = s;
    return true;
}

static hcg_status broadcast_inputs(const hcg_graph *g, hcg_node *n, int first, hcg_shape *out)
{
    hcg_shape s = IN(first)->shape;
    for (int i = first + 1; i < n->n_inputs; i++) {
        if (!broadcast(&s, &IN(i)->shape, &s)) {
            char a[256], b[256];
            fmt_type(g, IN(first), a, sizeof a);
            fmt_type(g, IN(i), b, sizeof b);
            return hcg_node_error(g, n, HCG_ERR_SHAPE,
                                  "shapes do not broadcast: '%s' is %s and '%s' is %s", IN(first)->name,
                                  a, IN(i)->name, b);
        }
    }
    *out = s;
    return HCG_OK;
}

static hcg_status set_out(hcg_node *n, hcg_dtype dt, const hcg_shape *s)
{
    n->dtype = dt;
    n->shape = *s;
    return HCG_OK;
}

static hcg_status get_axis(const hcg_graph *g, hcg_node *n, const char *attr, int rank, int *out)
{
    int64_t axis = hcg_attr_int(n, attr);
    if (!hcg_norm_axis(axis, rank, out))
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "%s %lld is out of range for rank %d", attr,
                              (long long)axis, rank);
    return HCG_OK;
}

/* ---------------------------------------------------------------- shape rules */

static hcg_status infer_arith(const hcg_graph *g, hcg_node *n)
{
    hcg_shape s;
    hcg_status st;
    unsigned mask = n->op == HCG_OP_POW ? M_F32 : M_NUM;
    if ((st = want_dtype(g, n, 0, mask)) || (st = same_dtype(g, n, 0, 1)) || (st = broadcast_inputs(g, n, 0, &s)))
        return st;
    return set_out(n, IN(0)->dtype, &s);
}

static hcg_status infer_compare(const hcg_graph *g, hcg_node *n)
{
    hcg_shape s;
    hcg_status st;
    unsigned mask = n->op == HCG_OP_EQUAL ? (M_NUM | M_BOOL | (1u << HCG_U8)) : M_NUM;
    if ((st = want_dtype(g, n, 0, mask)) || (st = same_dtype(g, n, 0, 1)) || (st = broadcast_inputs(g, n, 0, &s)))
        return st;
    return set_out(n, HCG_BOOL, &s);
}

static hcg_status infer_logical(const hcg_graph *g, hcg_node *n)
{
    hcg_shape s;
    hcg_status st;
    for (int i = 0; i < n->n_inputs; i++)
        if ((st = want_dtype(g, n, i, M_BOOL))) return st;
    if ((st = broadcast_inputs(g, n, 0, &s))) return st;
    return set_out(n, HCG_BOOL, &s);
}

static hcg_status infer_where(const hcg_graph *g, hcg_node *n)
{
    hcg_shape s;
    hcg_status st;
    if ((st = want_dtype(g, n, 0, M_BOOL)) || (st = same_dtype(g, n, 1, 2)) || (st = broadcast_inputs(g, n, 0, &s)))
        return st;
    return set_out(n, IN(1)->dtype, &s);
}

static hcg_status infer_unary_float(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = want_dtype(g, n, 0, M_F32);
    return st ? st : set_out(n, IN(0)->dtype, &IN(0)->shape);
}

static hcg_status infer_unary_num(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = want_dtype(g, n, 0, M_NUM);
    return st ? st : set_out(n, IN(0)->dtype, &IN(0)->shape);
}

static hcg_status infer_not(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = want_dtype(g, n, 0, M_BOOL);
    return st ? st : set_out(n, HCG_BOOL, &IN(0)->shape);
}

static hcg_status infer_gelu(const hcg_graph *g, hcg_node *n)
{
    const char *a = hcg_attr_string(n, "approximate");
    if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0)
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "approximate must be none or tanh, got '%s'", a);
    return infer_unary_float(g, n);
}

static hcg_status parse_dtype_attr(const hcg_graph *g, hcg_node *n, const char *attr, hcg_dtype *out)
{
    const char *s = hcg_attr_string(n, attr);
    if (!s || !hcg_dtype_parse(s, out))
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "%s '%s' is not a dtype (f32, f16, i32, i64, u8, bool)",
                              attr, s ? s : "");
    return HCG_OK;
}

static hcg_status infer_cast(const hcg_graph *g, hcg_node *n)
{
    hcg_dtype to;
    hcg_status st = parse_dtype_attr(g, n, "to", &to);
    return st ? st : set_out(n, to, &IN(0)->shape);
}

void hcg_matmul_operands(const hcg_node *n, hcg_shape *a, hcg_shape *b, bool *ta, bool *tb)
{
    /* matmul_integer (ONNX's MatMulInteger) has no transposes */
    *ta = hcg_attr_slot(n->op, "transpose_a") >= 0 && hcg_attr_int(n, "transpose_a") != 0;
    *tb = hcg_attr_slot(n->op, "transpose_b") >= 0 && hcg_attr_int(n, "transpose_b") != 0;
    /* numpy: a 1-D a is a row vector [1, K], a 1-D b a column vector [K, 1] (flags ignored). */
    if (a->rank == 1) {
        a->rank = 2;
        a->dims[1] = a->dims[0];
        a->dims[0] = 1;
        *ta = false;
    }
    if (b->rank == 1) {
        b->rank = 2;
        b->dims[1] = 1;
        *tb = false;
    }
}

void hcg_matmul_batch_strides(int br, const int64_t *bd, int orank, const int64_t *od, int64_t *out)
{
    int64_t st = 1;
    for (int d = br - 1; d >= 0; d--) {
        int oi = orank - br + d;
        int64_t own = oi >= 0 ? od[oi] : 1;
        out[d] = own == 1 && bd[d] != 1 ? 0 : st;
        st *= own;
    }
}

void hcg_matmul_batch_plan(const hcg_shape *a, const hcg_shape *b, hcg_matmul_batch *out)
{
    int a_brank = a->rank - 2, b_brank = b->rank - 2;
    out->rank = a_brank > b_brank ? a_brank : b_brank;
    out->count = out->a_count = out->b_count = 1;
    for (int d = 0; d < out->rank; d++) {
        int ai = a_brank - out->rank + d, bi = b_brank - out->rank + d;
        int64_t da = ai >= 0 ? a->dims[ai] : 1, db = bi >= 0 ? b->dims[bi] : 1;
        out->dims[d] = da == 1 ? db : da;
        out->count *= out->dims[d];
    }
    for (int d = 0; d < a_brank; d++) out->a_count *= a->dims[d];
    for (int d = 0; d < b_brank; d++) out->b_count *= b->dims[d];
    hcg_matmul_batch_strides(out->rank, out->dims, a_brank, a->dims, out->a_stride);
    hcg_matmul_batch_strides(out->rank, out->dims, b_brank, b->dims, out->b_stride);
}

int64_t hcg_clip_int_bound(double v, bool is_lo, int64_t tmin, int64_t tmax)
{
    if (isnan(v)) return is_lo ? tmin : tmax;
    v = is_lo ? ceil(v) : floor(v);
    if (v <= (double)tmin) return tmin;
    if (v >= (double)tmax) return tmax;
    return (int64_t)v;
}

/* The result shape of a product of inputs 0 and 1 (numpy's matmul with the node's transpose flags;
 * matmul_integer has none, so they read as 0), whatever their dtypes. */
static hcg_status matmul_shape(const hcg_graph *g, hcg_node *n, hcg_shape *result)
{
    hcg_shape a = IN(0)->shape, b = IN(1)->shape;
    bool ta, tb;
    char sa[256], sb[256];
    fmt_type(g, IN(0), sa, sizeof sa);
    fmt_type(g, IN(1), sb, sizeof sb);
    if (a.rank < 1 || b.rank < 1)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "inputs must have rank >= 1, got %s and %s", sa, sb);
    /* numpy: a 1-D a is a row vector, a 1-D b a column vector; those dims are dropped after. */
    bool a_vec = a.rank == 1, b_vec = b.rank == 1;
    hcg_matmul_operands(n, &a, &b, &ta, &tb);
    int64_t m = a.dims[a.rank - (ta ? 1 : 2)], ka = a.dims[a.rank - (ta ? 2 : 1)];
    int64_t kb = b.dims[b.rank - (tb ? 1 : 2)], nn = b.dims[b.rank - (tb ? 2 : 1)];
    if (ka != kb)
        return hcg_node_error(g, n, HCG_ERR_SHAPE,
                              "inner dimensions differ: '%s' is %s and '%s' is %s (transpose_a=%d, transpose_b=%d)",
                              IN(0)->name, sa, IN(1)->name, sb, (int)ta, (int)tb);
    hcg_shape ba = a, bb = b, batch;
    ba.rank -= 2;
    bb.rank -= 2;
    if (!broadcast(&ba, &bb, &batch))
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "batch dimensions do not broadcast: %s and %s", sa, sb);
    hcg_shape out = batch;
    if (!a_vec) out.dims[out.rank++] = m;
    if (!b_vec) out.dims[out.rank++] = nn;
    if (out.rank > HCG_MAX_RANK) return hcg_node_error(g, n, HCG_ERR_SHAPE, "result rank exceeds %d", HCG_MAX_RANK);
    *result = out;
    return HCG_OK;
}

static hcg_status infer_matmul(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    hcg_shape out;
    if ((st = want_dtype(g, n, 0, M_F32)) || (st = want_dtype(g, n, 1, M_F32)) || (st = matmul_shape(g, n, &out)))
        return st;
    return set_out(n, HCG_F32, &out);
}

hcg_status hcg_rule_matmul_shape(const hcg_graph *g, hcg_node *n, hcg_shape *out) { return matmul_shape(g, n, out); }

hcg_status hcg_rule_epilogue(const hcg_graph *g, hcg_node *n, int bias_input)
{
    if (hcg_activation_parse(hcg_attr_string(n, "activation")) < 0)
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "activation must be none, gelu, gelu_tanh or relu, got '%s'",
                              hcg_attr_string(n, "activation"));
    if (n->n_inputs <= bias_input) return HCG_OK;
    hcg_status st = want_dtype(g, n, bias_input, M_F32);
    if (st) return st;
    const hcg_shape *bs = &IN(bias_input)->shape;
    int64_t cols = n->shape.rank ? n->shape.dims[n->shape.rank - 1] : 1;
    if (bs->rank != 1 || bs->dims[0] != cols) {
        char t[256];
        fmt_type(g, IN(bias_input), t, sizeof t);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "bias '%s' is %s but must be a vector of the result's %lld columns",
                              IN(bias_input)->name, t, (long long)cols);
    }
    return HCG_OK;
}

/* matmul's rule, then the epilogue's: activation one of none, gelu, gelu_tanh, relu, and a bias
 * that is a vector of the result's last dim. b may also be an f16 matrix (a weight stored in half
 * precision: the product reads it converted, accumulating in f32). */
static hcg_status infer_fused_matmul(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    hcg_shape out;
    if ((st = want_dtype(g, n, 0, M_F32)) || (st = want_dtype(g, n, 1, M_F32 | (1u << HCG_F16))) ||
        (st = matmul_shape(g, n, &out)))
        return st;
    if (IN(1)->dtype == HCG_F16 && IN(1)->shape.rank != 2) {
        char t[256];
        fmt_type(g, IN(1), t, sizeof t);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "an f16 b ('%s', %s) must be a matrix (a weight)", IN(1)->name, t);
    }
    set_out(n, HCG_F32, &out);
    return hcg_rule_epilogue(g, n, 2);
}

int hcg_activation_parse(const char *s)
{
    static const char *const names[] = {"none", "gelu", "gelu_tanh", "relu"};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

bool hcg_attention_dims(const hcg_graph *g, const hcg_node *n, hcg_attention_geom *a)
{
    const hcg_shape *q = &IN(0)->shape, *k = &IN(1)->shape, *v = &IN(2)->shape;
    memset(a, 0, sizeof *a);
    a->bshd = strcmp(hcg_attr_string(n, "layout"), "bshd") == 0;
    a->scale = (float)hcg_attr_float(n, "scale");
    if (a->bshd) {
        if (q->rank != 4 || k->rank != 4 || v->rank != 4) return false;
        a->batch = q->dims[0];
        a->heads = q->dims[2];
        a->sq = q->dims[1];
        a->sk = k->dims[1];
        a->d = q->dims[3];
        a->dv = v->dims[3];
        return k->dims[0] == a->batch && v->dims[0] == a->batch && k->dims[2] == a->heads && v->dims[2] == a->heads &&
               v->dims[1] == a->sk && k->dims[3] == a->d;
    }
    if (q->rank < 2 || k->rank != q->rank || v->rank != q->rank) return false;
    a->batch = 1;
    for (int i = 0; i < q->rank - 2; i++) {
        if (k->dims[i] != q->dims[i] || v->dims[i] != q->dims[i]) return false;
        a->batch *= q->dims[i];
    }
    a->heads = 1;
    a->sq = q->dims[q->rank - 2];
    a->sk = k->dims[k->rank - 2];
    a->d = q->dims[q->rank - 1];
    a->dv = v->dims[v->rank - 1];
    return k->dims[k->rank - 1] == a->d && v->dims[v->rank - 2] == a->sk;
}

void hcg_attention_scores_shape(const hcg_graph *g, const hcg_node *n, const hcg_attention_geom *a, hcg_shape *s)
{
    const hcg_shape *q = &IN(0)->shape;
    if (a->bshd) {
        int64_t d[4] = {a->batch, a->heads, a->sq, a->sk};
        *s = hcg_shape_make(4, d);
        return;
    }
    *s = *q;
    s->dims[q->rank - 1] = a->sk;
}

static hcg_status infer_attention(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    for (int i = 0; i < n->n_inputs; i++)
        if ((st = want_dtype(g, n, i, M_F32))) return st;
    const char *layout = hcg_attr_string(n, "layout");
    if (strcmp(layout, "bhsd") != 0 && strcmp(layout, "bshd") != 0)
        return hcg_node_error(g, n, HCG_ERR_GRAPH, "layout must be bhsd or bshd, got '%s'", layout);
    hcg_attention_geom a;
    if (!hcg_attention_dims(g, n, &a)) {
        char q[256], k[256], v[256];
        fmt_type(g, IN(0), q, sizeof q);
        fmt_type(g, IN(1), k, sizeof k);
        fmt_type(g, IN(2), v, sizeof v);
        return hcg_node_error(g, n, HCG_ERR_SHAPE,
                              "q %s, k %s and v %s do not fit layout %s (q [.., Sq, D], k [.., Sk, D], v [.., Sk, Dv]%s)",
                              q, k, v, layout, a.bshd ? " as [B, S, H, D]" : " with equal batch dims");
    }
    hcg_shape scores, bc;
    hcg_attention_scores_shape(g, n, &a, &scores);
    if (n->n_inputs > 3 && (!broadcast(&IN(3)->shape, &scores, &bc) || !hcg_shape_equal(&bc, &scores))) {
        char m[256], sc[256];
        fmt_type(g, IN(3), m, sizeof m);
        hcg_shape_format(&scores, sc, sizeof sc);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "mask %s does not broadcast to the scores %s", m, sc);
    }
    if (a.sk == 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot attend over no keys (Sk = 0)");
    hcg_shape out = IN(0)->shape;
    out.dims[out.rank - 1] = a.dv;
    return set_out(n, HCG_F32, &out);
}

static hcg_status infer_gemm(const hcg_graph *g, hcg_node *n)
{
    hcg_status st;
    for (int i = 0; i < n->n_inputs; i++)
        if ((st = want_dtype(g, n, i, M_F32))) return st;
    const hcg_shape *a = &IN(0)->shape, *b = &IN(1)->shape;
    char sa[256], sb[256];
    fmt_type(g, IN(0), sa, sizeof sa);
    fmt_type(g, IN(1), sb, sizeof sb);
    if (a->rank != 2 || b->rank != 2)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "inputs must be matrices, got %s and %s", sa, sb);
    bool ta = hcg_attr_int(n, "transpose_a") != 0, tb = hcg_attr_int(n, "transpose_b") != 0;
    int64_t m = a->dims[ta ? 1 : 0], k = a->dims[ta ? 0 : 1];
    int64_t k2 = b->dims[tb ? 1 : 0], nn = b->dims[tb ? 0 : 1];
    if (k != k2)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "inner dimensions differ: %s and %s (transpose_a=%d, transpose_b=%d)",
                              sa, sb, (int)ta, (int)tb);
    int64_t dims[2] = {m, nn};
    hcg_shape out = hcg_shape_make(2, dims), bc;
    if (n->n_inputs == 3) {
        if (!broadcast(&IN(2)->shape, &out, &bc) || !hcg_shape_equal(&bc, &out)) {
            char sc[256];
            fmt_type(g, IN(2), sc, sizeof sc);
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "bias %s does not broadcast to [%lld, %lld]", sc,
                                  (long long)m, (long long)nn);
        }
    }
    return set_out(n, HCG_F32, &out);
}

/* Resolves a reduction's axes into a mask; empty axes means all. */
hcg_status hcg_reduce_mask(const hcg_graph *g, const hcg_node *n, int rank, bool mask[HCG_MAX_RANK])
{
    int cnt;
    const int64_t *axes = hcg_attr_ints(n, "axes", &cnt);
    memset(mask, 0, sizeof(bool) * HCG_MAX_RANK);
    if (cnt == 0) {
        for (int i = 0; i < rank; i++) mask[i] = true;
        return HCG_OK;
    }
    for (int i = 0; i < cnt; i++) {
        int ax;
        if (!hcg_norm_axis(axes[i], rank, &ax) || rank == 0)
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "axis %lld is out of range for rank %d",
                                  (long long)axes[i], rank);
        if (mask[ax]) return hcg_node_error(g, n, HCG_ERR_SHAPE, "axis %lld is repeated", (long long)axes[i]);
        mask[ax] = true;
    }
    return HCG_OK;
}

static hcg_status infer_reduce(const hcg_graph *g, hcg_node *n)
{
    bool mask[HCG_MAX_RANK];
    hcg_status st = want_dtype(g, n, 0, n->op == HCG_OP_REDUCE_MEAN ? M_F32 : M_NUM);
    if (st) return st;
    const hcg_shape *x = &IN(0)->shape;
    if ((st = hcg_reduce_mask(g, n, x->rank, mask))) return st;
    bool keep = hcg_attr_int(n, "keepdims") != 0;
    hcg_shape out;
    memset(&out, 0, sizeof out);
    for (int i = 0; i < x->rank; i++) {
        if (mask[i] && x->dims[i] == 0) {
            char t[256];
            fmt_type(g, IN(0), t, sizeof t);
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot reduce over the empty axis %d of %s", i, t);
        }
        if (!mask[i]) out.dims[out.rank++] = x->dims[i];
        else if (keep) out.dims[out.rank++] = 1;
    }
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_softmax(const hcg_graph *g, hcg_node *n)
{
    int axis;
    hcg_status st = want_dtype(g, n, 0, M_F32);
    if (st || (st = get_axis(g, n, "axis", IN(0)->shape.rank, &axis))) return st;
    if (IN(0)->shape.rank > 0 && IN(0)->shape.dims[axis] == 0)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot take a softmax over an empty axis");
    return set_out(n, HCG_F32, &IN(0)->shape);
}

static hcg_status infer_norm(const hcg_graph *g, hcg_node *n)
{
    int axis;
    hcg_status st;
    for (int i = 0; i < n->n_inputs; i++)
        if ((st = want_dtype(g, n, i, M_F32))) return st;
    const hcg_shape *x = &IN(0)->shape;
    if (x->rank < 1) return hcg_node_error(g, n, HCG_ERR_SHAPE, "input must have rank >= 1");
    if ((st = get_axis(g, n, "axis", x->rank, &axis))) return st;
    int64_t inner = 1;
    for (int i = axis; i < x->rank; i++) inner *= x->dims[i];
    if (inner == 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot normalise over an empty axis");
    for (int i = 1; i < n->n_inputs; i++) {
        int64_t numel;
        hcg_shape_numel(&IN(i)->shape, &numel);
        if (numel != inner) {
            char a[256], b[256];
            fmt_type(g, IN(0), a, sizeof a);
            fmt_type(g, IN(i), b, sizeof b);
            return hcg_node_error(g, n, HCG_ERR_SHAPE,
                                  "'%s' is %s but must have the %lld elements of the normalised dims of '%s' (%s)",
                                  IN(i)->name, b, (long long)inner, IN(0)->name, a);
        }
    }
    return set_out(n, HCG_F32, x);
}

static hcg_status infer_reshape(const hcg_graph *g, hcg_node *n)
{
    int cnt;
    const int64_t *dims = hcg_attr_ints(n, "shape", &cnt);
    const hcg_shape *x = &IN(0)->shape;
    bool allowzero = hcg_attr_int(n, "allowzero") != 0;
    int64_t in_numel, known = 1;
    int infer_at = -1;
    char t[256];
    fmt_type(g, IN(0), t, sizeof t);
    if (cnt > HCG_MAX_RANK) return hcg_node_error(g, n, HCG_ERR_SHAPE, "target rank %d exceeds %d", cnt, HCG_MAX_RANK);
    hcg_shape out;
    memset(&out, 0, sizeof out);
    out.rank = cnt;
    for (int i = 0; i < cnt; i++) {
        int64_t d = dims[i];
        if (d == 0 && !allowzero) {
            if (i >= x->rank) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape[%d] = 0 copies a dim %s lacks", i, t);
            d = x->dims[i];
        }
        if (d == -1) {
            if (infer_at >= 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape has more than one -1");
            infer_at = i;
            continue;
        }
        if (d < 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape[%d] = %lld is negative", i, (long long)d);
        if (hcg_mul_overflow_i64(known, d, &known)) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape overflows");
        out.dims[i] = d;
    }
    hcg_shape_numel(x, &in_numel);
    if (infer_at >= 0) {
        if (known == 0 || in_numel % known != 0)
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot reshape %s: %lld elements do not divide by %lld",
                                  t, (long long)in_numel, (long long)known);
        out.dims[infer_at] = in_numel / known;
    } else if (known != in_numel) {
        char o[256];
        hcg_shape_format(&out, o, sizeof o);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s (%lld elements)", t,
                              (long long)in_numel, o, (long long)known);
    }
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_squeeze(const hcg_graph *g, hcg_node *n)
{
    bool mask[HCG_MAX_RANK];
    int cnt;
    const hcg_shape *x = &IN(0)->shape;
    hcg_attr_ints(n, "axes", &cnt);
    hcg_status st = hcg_reduce_mask(g, n, x->rank, mask);
    if (st) return st;
    hcg_shape out;
    memset(&out, 0, sizeof out);
    for (int i = 0; i < x->rank; i++) {
        if (mask[i] && x->dims[i] != 1 && cnt > 0) {
            char t[256];
            fmt_type(g, IN(0), t, sizeof t);
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot squeeze axis %d of %s: it is not 1", i, t);
        }
        if (!(mask[i] && x->dims[i] == 1)) out.dims[out.rank++] = x->dims[i];
    }
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_unsqueeze(const hcg_graph *g, hcg_node *n)
{
    int cnt;
    const int64_t *axes = hcg_attr_ints(n, "axes", &cnt);
    const hcg_shape *x = &IN(0)->shape;
    int rank = x->rank + cnt;
    bool mask[HCG_MAX_RANK] = {false};
    if (rank > HCG_MAX_RANK) return hcg_node_error(g, n, HCG_ERR_SHAPE, "result rank %d exceeds %d", rank, HCG_MAX_RANK);
    for (int i = 0; i < cnt; i++) {
        int ax;
        if (!hcg_norm_axis(axes[i], rank, &ax) || mask[ax])
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "axis %lld is out of range or repeated for rank %d",
                                  (long long)axes[i], rank);
        mask[ax] = true;
    }
    hcg_shape out;
    memset(&out, 0, sizeof out);
    out.rank = rank;
    for (int i = 0, j = 0; i < rank; i++) out.dims[i] = mask[i] ? 1 : x->dims[j++];
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_flatten(const hcg_graph *g, hcg_node *n)
{
    const hcg_shape *x = &IN(0)->shape;
    int64_t axis = hcg_attr_int(n, "axis");
    if (axis < -x->rank || axis > x->rank)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    if (axis < 0) axis += x->rank;
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++) dims[i < axis ? 0 : 1] *= x->dims[i];
    hcg_shape out = hcg_shape_make(2, dims);
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_transpose(const hcg_graph *g, hcg_node *n)
{
    int cnt;
    const int64_t *perm = hcg_attr_ints(n, "perm", &cnt);
    const hcg_shape *x = &IN(0)->shape;
    hcg_shape out;
    memset(&out, 0, sizeof out);
    out.rank = x->rank;
    if (cnt == 0) {
        for (int i = 0; i < x->rank; i++) out.dims[i] = x->dims[x->rank - 1 - i];
        return set_out(n, IN(0)->dtype, &out);
    }
    bool seen[HCG_MAX_RANK] = {false};
    if (cnt != x->rank)
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "perm has %d entries but the input has rank %d", cnt, x->rank);
    for (int i = 0; i < cnt; i++) {
        int p;
        if (!hcg_norm_axis(perm[i], x->rank, &p) || seen[p])
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "perm is not a permutation of 0..%d", x->rank - 1);
        seen[p] = true;
        out.dims[i] = x->dims[p];
    }
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_concat(const hcg_graph *g, hcg_node *n)
{
    int axis;
    hcg_status st;
    const hcg_shape *x = &IN(0)->shape;
    if (x->rank == 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot concatenate scalars");
    if ((st = get_axis(g, n, "axis", x->rank, &axis))) return st;
    hcg_shape out = *x;
    for (int i = 1; i < n->n_inputs; i++) {
        const hcg_shape *y = &IN(i)->shape;
        if ((st = same_dtype(g, n, 0, i))) return st;
        bool ok = y->rank == x->rank;
        for (int d = 0; ok && d < x->rank; d++)
            if (d != axis && y->dims[d] != x->dims[d]) ok = false;
        if (!ok) {
            char a[256], b[256];
            fmt_type(g, IN(0), a, sizeof a);
            fmt_type(g, IN(i), b, sizeof b);
            return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot concatenate '%s' %s and '%s' %s on axis %d",
                                  IN(0)->name, a, IN(i)->name, b, axis);
        }
        out.dims[axis] += y->dims[axis];
    }
    return set_out(n, IN(0)->dtype, &out);
}

hcg_status hcg_slice_params(const hcg_graph *g, const hcg_node *n, const hcg_shape *x, int64_t start[],
                            int64_t step[], int64_t count[])
{
    int ns, ne, na, nst;
    const int64_t *starts = hcg_attr_ints(n, "starts", &ns), *ends = hcg_attr_ints(n, "ends", &ne);
    const int64_t *axes = hcg_attr_ints(n, "axes", &na), *steps = hcg_attr_ints(n, "steps", &nst);
    hcg_node *mn = (hcg_node *)n;
    for (int i = 0; i < x->rank; i++) {
        start[i] = 0;
        step[i] = 1;
        count[i] = x->dims[i];
    }
    if (ns != ne || (na && na != ns) || (nst && nst != ns))
        return hcg_node_error(g, mn, HCG_ERR_SHAPE, "starts, ends, axes and steps must have the same length");
    bool seen[HCG_MAX_RANK] = {false};
    for (int i = 0; i < ns; i++) {
        int ax;
        int64_t a = na ? axes[i] : i;
        if (!hcg_norm_axis(a, x->rank, &ax) || x->rank == 0 || seen[ax])
            return hcg_node_error(g, mn, HCG_ERR_SHAPE, "slice axis %lld is out of range or repeated for rank %d",
                                  (long long)a, x->rank);
        seen[ax] = true;
        int64_t dim = x->dims[ax], s = starts[i], e = ends[i], st = nst ? steps[i] : 1;
        if (st == 0) return hcg_node_error(g, mn, HCG_ERR_SHAPE, "slice step is 0");
        if (s < 0) s += dim;
        if (e < 0 && e > INT64_MIN / 2) e += dim;
        if (st > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            count[ax] = e > s ? 1 + (e - s - 1) / st : 0; /* (no e - s + st: st may be INT64_MAX) */
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            count[ax] = s > e ? 1 + (s - e - 1) / (st == INT64_MIN ? INT64_MAX : -st) : 0;
        }
        start[ax] = s;
        step[ax] = st;
    }
    return HCG_OK;
}

static hcg_status infer_slice(const hcg_graph *g, hcg_node *n)
{
    int64_t start[HCG_MAX_RANK], step[HCG_MAX_RANK], count[HCG_MAX_RANK];
    const hcg_shape *x = &IN(0)->shape;
    hcg_status st = hcg_slice_params(g, n, x, start, step, count);
    if (st) return st;
    hcg_shape out = hcg_shape_make(x->rank, count);
    return set_out(n, IN(0)->dtype, &out);
}

hcg_status hcg_split_part(const hcg_graph *g, const hcg_node *n, const hcg_shape *x, int *axis,
                          int64_t *start, int64_t *size)
{
    hcg_node *mn = (hcg_node *)n;
    int cnt;
    hcg_status st = get_axis(g, mn, "axis", x->rank, axis);
    if (st) return st;
    if (x->rank == 0) return hcg_node_error(g, mn, HCG_ERR_SHAPE, "cannot split a scalar");
    const int64_t *sizes = hcg_attr_ints(n, "sizes", &cnt);
    int64_t parts = hcg_attr_int(n, "parts"), index = hcg_attr_int(n, "index"), dim = x->dims[*axis];
    if (cnt > 0) {
        int64_t total = 0;
        for (int i = 0; i < cnt; i++) {
            if (sizes[i] < 0) return hcg_node_error(g, mn, HCG_ERR_SHAPE, "split size %lld is negative", (long long)sizes[i]);
            if (sizes[i] > INT64_MAX - total)
                return hcg_node_error(g, mn, HCG_ERR_SHAPE, "split sizes add up to more than 2^63");
            total += sizes[i];
        }
        if (total != dim)
            return hcg_node_error(g, mn, HCG_ERR_SHAPE, "split sizes add up to %lld but axis %d has %lld",
                                  (long long)total, *axis, (long long)dim);
        if (index < 0 || index >= cnt)
            return hcg_node_error(g, mn, HCG_ERR_SHAPE, "part index %lld is not in 0..%d", (long long)index, cnt - 1);
        *start = 0;
        for (int i = 0; i < index; i++) *start += sizes[i];
        *size = sizes[index];
        return HCG_OK;
    }
    if (parts < 1) return hcg_node_error(g, mn, HCG_ERR_SHAPE, "split needs sizes or parts >= 1");
    if (index < 0 || index >= parts)
        return hcg_node_error(g, mn, HCG_ERR_SHAPE, "part index %lld is not in 0..%lld", (long long)index,
                              (long long)parts - 1);
    int64_t chunk = dim / parts + (dim % parts != 0); /* ceil; the last part may be smaller (ONNX opset 18) */
    *start = index * chunk < dim ? index * chunk : dim;
    *size = *start + chunk <= dim ? chunk : dim - *start;
    return HCG_OK;
}

static hcg_status infer_split(const hcg_graph *g, hcg_node *n)
{
    int axis;
    int64_t start, size;
    hcg_status st = hcg_split_part(g, n, &IN(0)->shape, &axis, &start, &size);
    if (st) return st;
    hcg_shape out = IN(0)->shape;
    out.dims[axis] = size;
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_gather(const hcg_graph *g, hcg_node *n)
{
    int axis;
    hcg_status st = want_dtype(g, n, 1, M_INT);
    const hcg_shape *x = &IN(0)->shape, *idx = &IN(1)->shape;
    if (st || (st = get_axis(g, n, "axis", x->rank, &axis))) return st;
    if (x->rank == 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot gather from a scalar");
    int rank = x->rank - 1 + idx->rank;
    if (rank > HCG_MAX_RANK) return hcg_node_error(g, n, HCG_ERR_SHAPE, "result rank %d exceeds %d", rank, HCG_MAX_RANK);
    hcg_shape out;
    memset(&out, 0, sizeof out);
    for (int i = 0; i < axis; i++) out.dims[out.rank++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++) out.dims[out.rank++] = idx->dims[i];
    for (int i = axis + 1; i < x->rank; i++) out.dims[out.rank++] = x->dims[i];
    if (x->dims[axis] == 0 && out.rank > 0) {
        int64_t cnt;
        hcg_shape_numel(idx, &cnt);
        if (cnt > 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot gather from an empty axis");
    }
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_expand(const hcg_graph *g, hcg_node *n)
{
    int cnt;
    const int64_t *dims = hcg_attr_ints(n, "shape", &cnt);
    if (cnt > HCG_MAX_RANK) return hcg_node_error(g, n, HCG_ERR_SHAPE, "target rank %d exceeds %d", cnt, HCG_MAX_RANK);
    for (int i = 0; i < cnt; i++)
        if (dims[i] < 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape[%d] = %lld is negative", i, (long long)dims[i]);
    hcg_shape target = hcg_shape_make(cnt, dims), out;
    if (!broadcast(&IN(0)->shape, &target, &out)) {
        char a[256], b[256];
        fmt_type(g, IN(0), a, sizeof a);
        hcg_shape_format(&target, b, sizeof b);
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "cannot expand %s to %s", a, b);
    }
    return set_out(n, IN(0)->dtype, &out);
}

static hcg_status infer_range(const hcg_graph *g, hcg_node *n)
{
    hcg_dtype dt;
    hcg_status st;
    /* The dtype follows the inputs when the bounds came as inputs (ONNX), else the attribute. */
    if (n->n_inputs > 0 && !hcg_attr_get(n, "dtype")->set) dt = IN(0)->dtype;
    else if ((st = parse_dtype_attr(g, n, "dtype", &dt))) return st;
    if (!((M_NUM) & (1u << dt))) return hcg_node_error(g, n, HCG_ERR_SHAPE, "dtype must be f32, i32 or i64");
    double start = hcg_attr_float(n, "start"), limit = hcg_attr_float(n, "limit"), delta = hcg_attr_float(n, "delta");
    if (delta == 0 || !isfinite(start) || !isfinite(limit) || !isfinite(delta))
        return hcg_node_error(g, n, HCG_ERR_SHAPE, "range needs finite bounds and a non-zero delta");
    double cnt = ceil((limit - start) / delta);
    if (cnt < 0) cnt = 0;
    if (cnt > 4e18) return hcg_node_error(g, n, HCG_ERR_SHAPE, "range is too long");
    int64_t len = (int64_t)cnt;
    hcg_shape out = hcg_shape_make(1, &len);
    return set_out(n, dt, &out);
}

static hcg_status infer_shape(const hcg_graph *g, hcg_node *n)
{
    int rank = IN(0)->shape.rank;
    int64_t s = hcg_attr_int(n, "start"), e = hcg_attr_int(n, "end");
    (void)g;
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    int64_t len = e > s ? e - s : 0;
    hcg_shape out = hcg_shape_make(1, &len);
    return set_out(n, HCG_I64, &out);
}

static hcg_status infer_constant_of_shape(const hcg_graph *g, hcg_node *n)
{
    int cnt;
    hcg_dtype dt;
    const int64_t *dims = hcg_attr_ints(n, "shape", &cnt);
    hcg_status st = parse_dtype_attr(g, n, "dtype", &dt);
    if (st) return st;
    if (cnt > HCG_MAX_RANK) return hcg_node_error(g, n, HCG_ERR_SHAPE, "rank %d exceeds %d", cnt, HCG_MAX_RANK);
    for (int i = 0; i < cnt; i++)
        if (dims[i] < 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape[%d] = %lld is negative", i, (long long)dims[i]);
    hcg_shape out = hcg_shape_make(cnt, dims);
    int64_t numel;
    if (!hcg_shape_numel(&out, &numel)) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape overflows");
    return set_out(n, dt, &out);
}

static hcg_status infer_trilu(const hcg_graph *g, hcg_node *n)
{
    if (IN(0)->shape.rank < 2) return hcg_node_error(g, n, HCG_ERR_SHAPE, "input must have rank >= 2");
    return set_out(n, IN(0)->dtype, &IN(0)->shape);
}

static hcg_status infer_causal_mask(const hcg_graph *g, hcg_node *n)
{
    hcg_status st = want_dtype(g, n, 0, M_F32);
    if (st) return st;
    return infer_trilu(g, n);
}

static hcg_status infer_clip(const hcg_graph *g, hcg_node *n) { return infer_unary_num(g, n); }

/* ---------------------------------------------------------------- cost rules */

static double numel_of(const hcg_node *x)
{
    int64_t v = 0;
    return hcg_shape_numel(&x->shape, &v) ? (double)v : 0.0;
}

static double io_bytes(const hcg_graph *g, const hcg_node *n)
{
    double b = (double)hcg_node_nbytes(n);
    for (int i = 0; i < n->n_inputs; i++) b += (double)hcg_node_nbytes(IN(i));
    return b;
}

static void cost_matmul(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    const hcg_shape *a = &IN(0)->shape;
    /* matmul, fused_matmul and gemm alike; matmul_integer has no transposes */
    bool ta = hcg_attr_slot(n->op, "transpose_a") >= 0 && hcg_attr_int(n, "transpose_a") != 0;
    double k = a->rank == 1 ? (double)a->dims[0] : (double)a->dims[a->rank - (ta ? 2 : 1)];
    *flops = 2.0 * numel_of(n) * k;
    *bytes = io_bytes(g, n);
}

static void cost_attention(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    hcg_attention_geom a;
    hcg_attention_dims(g, n, &a);
    double pairs = (double)a.batch * (double)a.heads * (double)a.sq * (double)a.sk;
    *flops = pairs * (2.0 * (double)(a.d + a.dv) + 8.0); /* two products and the softmax */
    *bytes = io_bytes(g, n);
}

static void cost_heavy(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    *flops = 8.0 * numel_of(n); /* exp/erf/tanh and normalisations cost several flops per element */
    *bytes = io_bytes(g, n);
}

static void cost_free(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    (void)g;
    (void)n;
    *flops = 0;
    *bytes = 0;
}

/* ---------------------------------------------------------------- the table */

#define A_INT(nm, d) {.name = nm, .kind = HCG_ATTR_INT, .def_i = d}
#define A_FLOAT(nm, d) {.name = nm, .kind = HCG_ATTR_FLOAT, .def_f = d}
#define A_INTS(nm) {.name = nm, .kind = HCG_ATTR_INTS}
#define A_STR(nm, d) {.name = nm, .kind = HCG_ATTR_STRING, .def_s = d}
#define A_REQ(nm, kind_) {.name = nm, .kind = kind_, .required = true}

#define BINARY(rule, grad_, doc_)                                                                 \
    {.min_inputs = 2, .max_inputs = 2, .infer = rule, .grad = grad_,                   \
     .flags = HCG_OPF_ELEMENTWISE, .doc = doc_}
#define UNARY(rule, cost_, grad_, doc_)                                                            \
    {.min_inputs = 1, .max_inputs = 1, .infer = rule, .cost = cost_, .grad = grad_,    \
     .flags = HCG_OPF_ELEMENTWISE, .doc = doc_}
#define REDUCE(doc_)                                                                               \
    {.min_inputs = 1, .max_inputs = 1,                                                 \
     .attrs = {{.name = "axes", .kind = HCG_ATTR_INTS, .from_input = 2}, A_INT("keepdims", 1)},   \
     .infer = infer_reduce, .grad = hcg_grad_reduce, .doc = doc_}

static const hcg_op_info op_table[HCG_OP_COUNT] = {
    [HCG_OP_INPUT] = {.cost = cost_free, .flags = HCG_OPF_SOURCE | HCG_OPF_NO_FOLD,
                      .doc = "a graph input, bound when the graph runs"},
    [HCG_OP_PARAM] = {.cost = cost_free, .flags = HCG_OPF_SOURCE,
                      .doc = "a trained parameter, read from a safetensors file"},
    [HCG_OP_CONSTANT] = {.cost = cost_free, .flags = HCG_OPF_SOURCE,
                         .doc = "a constant tensor written in the graph"},

    [HCG_OP_ADD] = BINARY(infer_arith, hcg_grad_arith, "a + b"),
    [HCG_OP_SUB] = BINARY(infer_arith, hcg_grad_arith, "a - b"),
    [HCG_OP_MUL] = BINARY(infer_arith, hcg_grad_arith, "a * b"),
    [HCG_OP_DIV] = BINARY(infer_arith, hcg_grad_arith, "a / b (integers: truncated; division by zero is an error)"),
    [HCG_OP_POW] = BINARY(infer_arith, hcg_grad_pow, "a ** b (f32)"),
    [HCG_OP_MAX] = BINARY(infer_arith, hcg_grad_minmax, "elementwise maximum (NaN wins)"),
    [HCG_OP_MIN] = BINARY(infer_arith, hcg_grad_minmax, "elementwise minimum (NaN wins)"),
    [HCG_OP_EQUAL] = BINARY(infer_compare, NULL, "a == b, giving bool"),
    [HCG_OP_LESS] = BINARY(infer_compare, NULL, "a < b, giving bool"),
    [HCG_OP_GREATER] = BINARY(infer_compare, NULL, "a > b, giving bool"),
    [HCG_OP_AND] = BINARY(infer_logical, NULL, "logical and of bools"),
    [HCG_OP_OR] = BINARY(infer_logical, NULL, "logical or of bools"),
    [HCG_OP_WHERE] = {.min_inputs = 3, .max_inputs = 3, .infer = infer_where,
                      .grad = hcg_grad_where, .flags = HCG_OPF_ELEMENTWISE, .doc = "cond ? x : y, all three broadcast"},

    [HCG_OP_NEG] = UNARY(infer_unary_num, NULL, hcg_grad_neg, "-x"),
    [HCG_OP_EXP] = UNARY(infer_unary_float, cost_heavy, hcg_grad_unary, "e ** x"),
    [HCG_OP_LOG] = UNARY(infer_unary_float, cost_heavy, hcg_grad_unary, "natural logarithm"),
    [HCG_OP_SQRT] = UNARY(infer_unary_float, NULL, hcg_grad_unary, "square root"),
    [HCG_OP_RSQRT] = UNARY(infer_unary_float, NULL, hcg_grad_unary, "1 / sqrt(x)"),
    [HCG_OP_TANH] = UNARY(infer_unary_float, cost_heavy, hcg_grad_unary, "hyperbolic tangent"),
    [HCG_OP_SIGMOID] = UNARY(infer_unary_float, cost_heavy, hcg_grad_unary, "1 / (1 + e ** -x)"),
    [HCG_OP_RELU] = UNARY(infer_unary_num, NULL, hcg_grad_unary, "max(x, 0)"),
    [HCG_OP_GELU] = {.min_inputs = 1, .max_inputs = 1, .attrs = {A_STR("approximate", "none")},
                     .infer = infer_gelu, .cost = cost_heavy, .grad = hcg_grad_unary, .flags = HCG_OPF_ELEMENTWISE,
                     .doc = "x * Phi(x); approximate=tanh uses the tanh form"},
    [HCG_OP_SILU] = UNARY(infer_unary_float, cost_heavy, hcg_grad_unary, "x * sigmoid(x)"),
    [HCG_OP_ERF] = UNARY(infer_unary_float, cost_heavy, hcg_grad_unary, "the error function"),
    [HCG_OP_ABS] = UNARY(infer_unary_num, NULL, hcg_grad_unary, "|x|"),
    [HCG_OP_RECIPROCAL] = UNARY(infer_unary_float, NULL, hcg_grad_unary, "1 / x"),
    [HCG_OP_NOT] = UNARY(infer_not, NULL, NULL, "logical not of a bool"),
    [HCG_OP_CLIP] = {.min_inputs = 1, .max_inputs = 1,
                     .attrs = {{.name = "min", .kind = HCG_ATTR_FLOAT, .def_f = -INFINITY, .from_input = 2},
                               {.name = "max", .kind = HCG_ATTR_FLOAT, .def_f = INFINITY, .from_input = 3}},
                     .infer = infer_clip, .grad = hcg_grad_clip, .flags = HCG_OPF_ELEMENTWISE,
                     .doc = "min(max(x, min), max)"},
    [HCG_OP_CAST] = {.min_inputs = 1, .max_inputs = 1, .attrs = {A_REQ("to", HCG_ATTR_STRING)},
                     .infer = infer_cast, .grad = hcg_grad_cast, .flags = HCG_OPF_ELEMENTWISE,
                     .doc = "converts to dtype `to` (float to int truncates toward zero)"},

    [HCG_OP_MATMUL] = {.min_inputs = 2, .max_inputs = 2,
                       .attrs = {A_INT("transpose_a", 0), A_INT("transpose_b", 0)}, .infer = infer_matmul,
                       .cost = cost_matmul, .grad = hcg_grad_matmul,
                       .doc = "batched matrix product with numpy batch broadcasting and 1-D rules"},
    [HCG_OP_GEMM] = {.min_inputs = 2, .max_inputs = 3,
                     .attrs = {A_FLOAT("alpha", 1.0), A_FLOAT("beta", 1.0),
                               {.name = "transpose_a", .kind = HCG_ATTR_INT, .alias = "trans_a"},
                               {.name = "transpose_b", .kind = HCG_ATTR_INT, .alias = "trans_b"}},
                     .infer = infer_gemm, .cost = cost_matmul, .grad = hcg_grad_gemm,
                     .doc = "alpha * op(a) @ op(b) + beta * c for matrices, c broadcast to the result"},

    [HCG_OP_REDUCE_SUM] = REDUCE("sum over axes (empty: all)"),
    [HCG_OP_REDUCE_MEAN] = REDUCE("mean over axes (empty: all)"),
    [HCG_OP_REDUCE_MAX] = REDUCE("maximum over axes (empty: all)"),
    [HCG_OP_REDUCE_PROD] = REDUCE("product over axes (empty: all; integers wrap around)"),

    [HCG_OP_SOFTMAX] = {.min_inputs = 1, .max_inputs = 1, .attrs = {A_INT("axis", -1)},
                        .infer = infer_softmax, .cost = cost_heavy, .grad = hcg_grad_softmax,
                        .doc = "softmax along axis"},
    [HCG_OP_LOG_SOFTMAX] = {.min_inputs = 1, .max_inputs = 1,
                            .attrs = {A_INT("axis", -1)}, .infer = infer_softmax, .cost = cost_heavy,
                            .grad = hcg_grad_softmax, .doc = "log of softmax along axis"},
    [HCG_OP_LAYER_NORM] = {.min_inputs = 1, .max_inputs = 3,
                           .attrs = {A_INT("axis", -1), A_FLOAT("epsilon", 1e-5)}, .infer = infer_norm,
                           .cost = cost_heavy, .grad = hcg_grad_norm,
                           .doc = "(x - mean) / sqrt(var + epsilon) * scale + bias over dims axis.."},
    [HCG_OP_RMS_NORM] = {.min_inputs = 1, .max_inputs = 2,
                         .attrs = {A_INT("axis", -1), A_FLOAT("epsilon", 1e-6)}, .infer = infer_norm,
                         .cost = cost_heavy, .grad = hcg_grad_norm, .doc = "x / sqrt(mean(x^2) + epsilon) * scale over dims axis.."},

    [HCG_OP_RESHAPE] = {.min_inputs = 1, .max_inputs = 1,
                        .attrs = {{.name = "shape", .kind = HCG_ATTR_INTS, .required = true, .from_input = 2},
                                  A_INT("allowzero", 0)},
                        .infer = infer_reshape, .cost = cost_free, .grad = hcg_grad_view, .flags = HCG_OPF_VIEW,
                        .doc = "same data, new shape (0 copies a dim, -1 is inferred)"},
    [HCG_OP_SQUEEZE] = {.min_inputs = 1, .max_inputs = 1,
                        .attrs = {{.name = "axes", .kind = HCG_ATTR_INTS, .from_input = 2}},
                        .infer = infer_squeeze, .cost = cost_free, .grad = hcg_grad_view, .flags = HCG_OPF_VIEW,
                        .doc = "drops size-1 dims (axes, or all)"},
    [HCG_OP_UNSQUEEZE] = {.min_inputs = 1, .max_inputs = 1,
                          .attrs = {{.name = "axes", .kind = HCG_ATTR_INTS, .required = true, .from_input = 2}},
                          .infer = infer_unsqueeze, .cost = cost_free, .grad = hcg_grad_view,
                          .flags = HCG_OPF_VIEW,
                          .doc = "inserts size-1 dims at axes of the result"},
    [HCG_OP_FLATTEN] = {.min_inputs = 1, .max_inputs = 1, .attrs = {A_INT("axis", 1)},
                        .infer = infer_flatten, .cost = cost_free, .grad = hcg_grad_view, .flags = HCG_OPF_VIEW,
                        .doc = "to a matrix [prod(dims before axis), prod(dims from axis)]"},
    [HCG_OP_TRANSPOSE] = {.min_inputs = 1, .max_inputs = 1, .attrs = {A_INTS("perm")},
                          .infer = infer_transpose, .grad = hcg_grad_transpose,
                          .doc = "permutes dims (default: reverses them)"},
    [HCG_OP_CONCAT] = {.min_inputs = 1, .max_inputs = -1, .attrs = {A_REQ("axis", HCG_ATTR_INT)},
                       .infer = infer_concat, .grad = hcg_grad_concat, .doc = "joins inputs along axis"},
    [HCG_OP_SLICE] = {.min_inputs = 1, .max_inputs = 1,
                      .attrs = {{.name = "starts", .kind = HCG_ATTR_INTS, .required = true, .from_input = 2},
                                {.name = "ends", .kind = HCG_ATTR_INTS, .required = true, .from_input = 3},
                                {.name = "axes", .kind = HCG_ATTR_INTS, .from_input = 4},
                                {.name = "steps", .kind = HCG_ATTR_INTS, .from_input = 5}},
                      .infer = infer_slice, .grad = hcg_grad_slice, .doc = "ONNX Slice: starts, ends, axes, steps (negative, clamped)"},
    [HCG_OP_SPLIT] = {.min_inputs = 1, .max_inputs = 1,
                      .attrs = {A_INT("axis", 0), {.name = "sizes", .kind = HCG_ATTR_INTS, .from_input = 2},
                                A_INT("parts", 0), A_INT("index", 0)},
                      .infer = infer_split, .grad = hcg_grad_slice,
                      .doc = "part `index` of x split along axis into `sizes` or `parts` equal parts"},
    [HCG_OP_GATHER] = {.min_inputs = 2, .max_inputs = 2, .attrs = {A_INT("axis", 0)},
                       .infer = infer_gather, .grad = hcg_grad_gather,
                       .doc = "takes entries of data at indices along axis (embedding lookup)"},
    [HCG_OP_EXPAND] = {.min_inputs = 1, .max_inputs = 1,
                       .attrs = {{.name = "shape", .kind = HCG_ATTR_INTS, .required = true, .from_input = 2}},
                       .infer = infer_expand, .grad = hcg_grad_expand, .doc = "broadcasts x and shape together"},
    [HCG_OP_RANGE] = {.min_inputs = 0, .max_inputs = 0,
                      .attrs = {{.name = "start", .kind = HCG_ATTR_FLOAT, .def_f = 0, .from_input = 1},
                                {.name = "limit", .kind = HCG_ATTR_FLOAT, .required = true, .from_input = 2},
                                {.name = "delta", .kind = HCG_ATTR_FLOAT, .def_f = 1, .from_input = 3},
                                A_STR("dtype", "i64")},
                      .infer = infer_range, .doc = "start, start + delta, ... up to limit (exclusive)"},
    [HCG_OP_SHAPE] = {.min_inputs = 1, .max_inputs = 1,
                      .attrs = {A_INT("start", 0), A_INT("end", INT64_MAX)}, .infer = infer_shape,
                      .cost = cost_free, .flags = HCG_OPF_SHAPE_ONLY, .doc = "the dims of x as i64"},
    [HCG_OP_CONSTANT_OF_SHAPE] = {.min_inputs = 0, .max_inputs = 0,
                                  .attrs = {{.name = "shape", .kind = HCG_ATTR_INTS, .required = true, .from_input = 1},
                                            A_FLOAT("value", 0), A_STR("dtype", "f32")},
                                  .infer = infer_constant_of_shape,
                                  .doc = "a tensor of shape filled with value"},
    [HCG_OP_TRILU] = {.min_inputs = 1, .max_inputs = 1,
                      .attrs = {A_INT("upper", 1), {.name = "k", .kind = HCG_ATTR_INT, .from_input = 2}},
                      .infer = infer_trilu, .grad = hcg_grad_masked,
                      .doc = "keeps the upper (or lower) triangle of the last two dims from diagonal k"},
    [HCG_OP_FUSED_MATMUL] = {.min_inputs = 2, .max_inputs = 3,
                             .attrs = {A_INT("transpose_a", 0), A_INT("transpose_b", 0), A_FLOAT("alpha", 1.0),
                                       A_STR("activation", "none")},
                             .infer = infer_fused_matmul, .cost = cost_matmul,
                             .doc = "activation(alpha * matmul(a, b) + bias): a matrix product with its epilogue "
                                    "(made by the rewrite passes)"},
    [HCG_OP_ATTENTION] = {.min_inputs = 3, .max_inputs = 4,
                          .attrs = {A_FLOAT("scale", 1.0), A_STR("layout", "bhsd")},
                          .infer = infer_attention, .cost = cost_attention,
                          .doc = "softmax(scale * q @ k^T + mask) @ v in one pass over the keys (made by the "
                                 "rewrite passes)"},
    [HCG_OP_CAUSAL_MASK] = {.min_inputs = 1, .max_inputs = 1,
                            .attrs = {A_FLOAT("value", -INFINITY)}, .infer = infer_causal_mask,
                            .grad = hcg_grad_masked,
                            .doc = "sets x[.., i, j] = value where j > i + (cols - rows): a causal mask "
                                   "that also fits a KV cache"},

    /* decoding: updates of a key/value cache (a state tensor) in place; rules in op_shapes_decode.c */
    [HCG_OP_KV_ATTENTION] = {.min_inputs = 6, .max_inputs = 6, .attrs = {A_FLOAT("scale", 1.0)},
                             .infer = hcg_infer_kv_attention, .cost = hcg_cost_kv_attention, .inplace_inputs = 0x18,
                             .doc = "attention with a key/value cache: (q, k, v [B, T, H, D], k_cache, v_cache [B, H, "
                                    "P, D] states, pos i64) writes k and v into the caches at positions pos .. pos + "
                                    "T - 1, then query t attends over cache positions 0 .. pos + t: softmax(scale * q "
                                    "k^T) v, [B, T, H, Dv]"},
    [HCG_OP_CACHE_WRITE] = {.min_inputs = 3, .max_inputs = 3, .attrs = {A_INT("axis", -2)},
                            .infer = hcg_infer_cache_write, .cost = hcg_cost_cache_write, .inplace_inputs = 0x1,
                            .doc = "writes values into the state cache at positions pos .. pos + T - 1 along axis "
                                   "(cache, values, pos i64); the values have the cache's dims but T along axis; the "
                                   "output is a scalar 0 (the write is the effect)"},

    /* training: state, one_hot and argmax, gradient ops (emitted by graph/autodiff.c), losses and
     * optimizer updates; shape rules in op_shapes_train.c, gradient rules in op_grad.c */
    [HCG_OP_STATE] = {.cost = cost_free, .flags = HCG_OPF_SOURCE | HCG_OPF_NO_FOLD,
                      .doc = "a tensor that stays on one device across runs of a session (trained parameters, "
                             "optimizer moments, key/value caches), starting at zeros, updated in place by optimizer "
                             "and cache ops"},
    [HCG_OP_ONE_HOT] = {.min_inputs = 1, .max_inputs = 1,
                        .attrs = {A_REQ("depth", HCG_ATTR_INT), A_INT("axis", -1)}, .infer = hcg_infer_one_hot,
                        .doc = "f32 one-hot rows of integer indices, the new dim of size depth at axis; an index "
                               "outside [0, depth) gives a row of zeros"},
    [HCG_OP_ARGMAX] = {.min_inputs = 1, .max_inputs = 1,
                       .attrs = {A_INT("axis", -1), A_INT("keepdims", 0)}, .infer = hcg_infer_argmax,
                       .doc = "i64 index of the largest value along axis (the first of equal ones; NaN wins)"},
    [HCG_OP_UNARY_GRAD] = {.min_inputs = 2, .max_inputs = 2,
                           .attrs = {A_REQ("of", HCG_ATTR_STRING)}, .infer = hcg_infer_unary_grad,
                           .cost = cost_heavy, .flags = HCG_OPF_ELEMENTWISE,
                           .doc = "dy * f'(x) for the unary function named by `of` (the gradient of exp, log, "
                                  "sqrt, rsqrt, tanh, sigmoid, relu, gelu, gelu_tanh, silu, erf, abs, reciprocal)"},
    [HCG_OP_SOFTMAX_GRAD] = {.min_inputs = 2, .max_inputs = 2, .attrs = {A_INT("axis", -1)},
                             .infer = hcg_infer_softmax_grad, .cost = cost_heavy,
                             .doc = "y * (dy - sum(dy * y)) along axis, y = softmax(x): softmax's gradient"},
    [HCG_OP_LOG_SOFTMAX_GRAD] = {.min_inputs = 2, .max_inputs = 2,
                                 .attrs = {A_INT("axis", -1)}, .infer = hcg_infer_softmax_grad, .cost = cost_heavy,
                                 .doc = "dy - exp(y) * sum(dy) along axis, y = log_softmax(x): its gradient"},
    [HCG_OP_LAYER_NORM_GRAD] = {.min_inputs = 2, .max_inputs = 3,
                                .attrs = {A_INT("axis", -1), A_FLOAT("epsilon", 1e-5)}, .infer = hcg_infer_norm_grad,
                                .cost = cost_heavy,
                                .doc = "the gradient of layer_norm(x, scale) with respect to x, given dy"},
    [HCG_OP_RMS_NORM_GRAD] = {.min_inputs = 2, .max_inputs = 3,
                              .attrs = {A_INT("axis", -1), A_FLOAT("epsilon", 1e-6)}, .infer = hcg_infer_norm_grad,
                              .cost = cost_heavy, .doc = "the gradient of rms_norm(x, scale) with respect to x, given dy"},
    [HCG_OP_GATHER_GRAD] = {.min_inputs = 2, .max_inputs = 2,
                            .attrs = {A_INT("axis", 0), A_REQ("shape", HCG_ATTR_INTS)}, .infer = hcg_infer_gather_grad,
                            .doc = "zeros of `shape` with the rows of dy added at indices along axis (scatter-add: "
                                   "gather's gradient)"},
    [HCG_OP_SLICE_GRAD] = {.min_inputs = 1, .max_inputs = 1,
                           .attrs = {A_REQ("shape", HCG_ATTR_INTS), A_REQ("starts", HCG_ATTR_INTS),
                                     A_REQ("ends", HCG_ATTR_INTS), A_INTS("axes"), A_INTS("steps")},
                           .infer = hcg_infer_slice_grad,
                           .doc = "zeros of `shape` with dy written where slice(starts, ends, axes, steps) reads: "
                                  "slice's gradient"},
    [HCG_OP_SOFTMAX_CROSS_ENTROPY] = {.min_inputs = 2, .max_inputs = 2,
                                      .attrs = {A_INT("axis", 1), A_INT("ignore_index", HCG_NO_IGNORE_INDEX),
                                                A_FLOAT("label_smoothing", 0), A_STR("reduction", "mean")},
                                      .infer = hcg_infer_class_loss, .cost = hcg_cost_loss, .grad = hcg_grad_class_loss,
                                      .doc = "cross-entropy of softmax(scores) along axis with class-index targets "
                                             "(ignore_index, label_smoothing) or probability targets; mean over "
                                             "the counted rows, sum or none"},
    [HCG_OP_NLL_LOSS] = {.min_inputs = 2, .max_inputs = 2,
                         .attrs = {A_INT("axis", 1), A_INT("ignore_index", HCG_NO_IGNORE_INDEX),
                                   A_STR("reduction", "mean")},
                         .infer = hcg_infer_class_loss, .cost = hcg_cost_loss, .grad = hcg_grad_class_loss,
                         .doc = "negative log-likelihood: -log_probs[target] along axis; mean over the counted "
                                "rows, sum or none"},
    [HCG_OP_KL_DIV] = {.min_inputs = 2, .max_inputs = 2,
                       .attrs = {A_INT("axis", 1), A_FLOAT("temperature", 1)}, .infer = hcg_infer_kl_div,
                       .cost = hcg_cost_loss, .grad = hcg_grad_kl_div,
                       .doc = "distillation loss T^2 * mean over rows of sum(p * (log p - log_softmax(s / T))) "
                              "along axis, s student logits, p target probabilities"},
    [HCG_OP_MSE_LOSS] = {.min_inputs = 2, .max_inputs = 2, .attrs = {A_STR("reduction", "mean")},
                         .infer = hcg_infer_mse_loss, .cost = hcg_cost_loss, .grad = hcg_grad_mse_loss,
                         .doc = "(a - b)^2: mean, sum or none"},
    [HCG_OP_SGD_UPDATE] = {.min_inputs = 4, .max_inputs = 5,
                           .attrs = {A_FLOAT("momentum", 0), A_FLOAT("dampening", 0), A_FLOAT("weight_decay", 0),
                                     A_INT("nesterov", 0)},
                           .infer = hcg_infer_optimizer, .cost = hcg_cost_optimizer, .inplace_inputs = 0x11,
                           .doc = "SGD step in place on (param, grad, hyper, grad_scale[, momentum buffer]), "
                                  "PyTorch's rule; hyper = [lr, step size, sqrt(bias correction 2), step]"},
    [HCG_OP_ASSIGN] = {.min_inputs = 2, .max_inputs = 2, .infer = hcg_infer_assign,
                       .cost = hcg_cost_assign, .inplace_inputs = 0x1,
                       .doc = "copies value (input 1) into the state tensor (input 0) in place, for later runs to read"},
    [HCG_OP_ADAM_UPDATE] = {.min_inputs = 6, .max_inputs = 6,
                            .attrs = {A_FLOAT("beta1", 0.9), A_FLOAT("beta2", 0.999), A_FLOAT("eps", 1e-8),
                                      A_FLOAT("weight_decay", 0), A_INT("decoupled", 0)},
                            .infer = hcg_infer_optimizer, .cost = hcg_cost_optimizer, .inplace_inputs = 0x31,
                            .doc = "Adam step in place on (param, grad, hyper, grad_scale, m, v), PyTorch's rule; "
                                   "decoupled=1 is AdamW"},
    /* between the ranks of an MPI job (backend/dist/); shape rules in op_shapes_dist.c */
    [HCG_OP_ALLREDUCE_START] = {.min_inputs = 1, .max_inputs = -1,
                                .attrs = {A_INT("bucket", 0)}, .infer = hcg_infer_allreduce_start,
                                .cost = hcg_cost_dist,
                                .flags = HCG_OPF_NO_FOLD | HCG_OPF_HOST_ONLY | HCG_OPF_ASYNC,
                                .doc = "packs its f32 inputs into one vector and starts summing it over every rank "
                                       "of the MPI job in place (gradient bucket `bucket`); returns at once"},
    [HCG_OP_ALLREDUCE_WAIT] = {.min_inputs = 1, .max_inputs = 1,
                               .attrs = {A_REQ("offset", HCG_ATTR_INT), A_REQ("shape", HCG_ATTR_INTS)},
                               .infer = hcg_infer_allreduce_wait, .cost = hcg_cost_dist,
                               .flags = HCG_OPF_NO_FOLD | HCG_OPF_HOST_ONLY,
                               .doc = "waits for the sum its allreduce_start began and gives elements [offset, "
                                      "offset + numel(shape)) divided by the number of ranks (the mean), as shape"},
    [HCG_OP_SEND] = {.min_inputs = 1, .max_inputs = 1,
                     .attrs = {A_REQ("to", HCG_ATTR_INT), A_REQ("tag", HCG_ATTR_INT)}, .infer = hcg_infer_send,
                     .cost = hcg_cost_dist,
                     .flags = HCG_OPF_NO_FOLD | HCG_OPF_HOST_ONLY | HCG_OPF_EFFECT | HCG_OPF_ASYNC,
                     .doc = "sends its input to rank `to` of the MPI job (message `tag`) without waiting for the "
                            "receiver; gives f32 0"},
    [HCG_OP_RECV] = {.min_inputs = 0, .max_inputs = 0,
                     .attrs = {A_REQ("from", HCG_ATTR_INT), A_REQ("tag", HCG_ATTR_INT), A_REQ("dtype", HCG_ATTR_STRING),
                               A_REQ("shape", HCG_ATTR_INTS)},
                     .infer = hcg_infer_recv, .cost = hcg_cost_dist, .flags = HCG_OPF_NO_FOLD | HCG_OPF_HOST_ONLY,
                     .doc = "receives a tensor of `dtype` and `shape` sent by rank `from` (message `tag`)"},

    /* quantization (shape rules in op_shapes_quant.c; scale layouts in graph/quant.h) */
    [HCG_OP_DEQUANTIZE] = {.min_inputs = 2, .max_inputs = 3,
                           .attrs = {A_INT("axis", 1), A_INT("block_size", 0)}, .infer = hcg_infer_dequantize,
                           .flags = HCG_OPF_NO_FOLD,
                           .doc = "(x - zero_point) * scale as f32, x i8, u8 or i32; one scale (and zero point) for "
                                  "x, one per index of `axis`, or one per `block_size` indices along it (ONNX's "
                                  "DequantizeLinear); never folded, so that quantized weights stay small"},
    [HCG_OP_QUANTIZE] = {.min_inputs = 2, .max_inputs = 3,
                         .attrs = {A_INT("axis", 1), A_INT("block_size", 0), A_STR("dtype", "u8")},
                         .infer = hcg_infer_quantize,
                         .doc = "saturate(round(x / scale) + zero_point), rounding half to even, to the zero point's "
                                "dtype or `dtype` (i8, u8); scales laid out as dequantize's (ONNX's QuantizeLinear)"},
    [HCG_OP_MATMUL_INTEGER] = {.min_inputs = 2, .max_inputs = 4, .infer = hcg_infer_matmul_integer,
                               .cost = cost_matmul,
                               .doc = "(a - a_zero_point) @ (b - b_zero_point) in i32 for i8 / u8 operands, matmul's "
                                      "batch rules; zero points one value, per row of a or per column of b (ONNX's "
                                      "MatMulInteger)"},
    [HCG_OP_QUANT_MATMUL] = {.min_inputs = 3, .max_inputs = 4,
                             .attrs = {A_INT("transpose_a", 0), A_INT("transpose_b", 0), A_FLOAT("alpha", 1.0),
                                       A_STR("activation", "none"), A_INT("block_size", 0), A_STR("activations", "f32")},
                             .infer = hcg_infer_quant_matmul, .cost = hcg_cost_quant_matmul,
                             .doc = "activation(alpha * a @ (b * scale) + bias) with b an int8 matrix and f32 or f16 "
                                    "scales per output column (block_size 0) or per block_size rows of K, f32 "
                                    "accumulation (made by the rewrite passes); activations=int8: a's rows quantized "
                                    "to uint8 on the fly and int32 accumulation (the CPU only)"},
};

/* Every op's name, from the name column of HCG_OP_LIST (hcg.h): the one place it is written. */
static const char *const op_names[HCG_OP_COUNT] = {
#define HCG_OP_NAME_(id, name) [HCG_OP_##id] = name,
    HCG_OP_LIST(HCG_OP_NAME_)
#undef HCG_OP_NAME_
};

const hcg_op_info *hcg_op_info_get(hcg_op op) { return &op_table[op]; }

const char *hcg_op_name(hcg_op op) { return (unsigned)op < HCG_OP_COUNT ? op_names[op] : "?"; }

bool hcg_op_parse(const char *name, hcg_op *out)
{
    for (int i = 0; name && i < HCG_OP_COUNT; i++) {
        if (strcmp(op_names[i], name) == 0) {
            *out = (hcg_op)i;
            return true;
        }
    }
    return false;
}

void hcg_op_arity(hcg_op op, int *min_inputs, int *max_inputs)
{
    const hcg_op_info *info = (unsigned)op < HCG_OP_COUNT ? &op_table[op] : NULL;
    if (min_inputs) *min_inputs = info ? info->min_inputs : 0;
    if (max_inputs) *max_inputs = info ? info->max_inputs : 0;
}

const char *hcg_op_attr_name(hcg_op op, int slot, bool *required)
{
    if ((unsigned)op >= HCG_OP_COUNT || slot < 0 || slot >= HCG_MAX_ATTRS || !op_table[op].attrs[slot].name) return NULL;
    if (required) *required = op_table[op].attrs[slot].required;
    return op_table[op].attrs[slot].name;
}

const char *hcg_op_doc(hcg_op op) { return (unsigned)op < HCG_OP_COUNT && op_table[op].doc ? op_table[op].doc : ""; }

int hcg_attr_slot(hcg_op op, const char *name)
{
    if ((unsigned)op >= HCG_OP_COUNT || !name) return -1;
    for (int i = 0; i < HCG_MAX_ATTRS && op_table[op].attrs[i].name; i++)
        if (strcmp(op_table[op].attrs[i].name, name) == 0) return i;
    return -1;
}

int hcg_attr_slot_accepting(hcg_op op, const char *name)
{
    int slot = hcg_attr_slot(op, name);
    for (int i = 0; slot < 0 && name && (unsigned)op < HCG_OP_COUNT && i < HCG_MAX_ATTRS && op_table[op].attrs[i].name; i++)
        if (op_table[op].attrs[i].alias && strcmp(op_table[op].attrs[i].alias, name) == 0) slot = i;
    return slot;
}

void hcg_op_attr_list(hcg_op op, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; (unsigned)op < HCG_OP_COUNT && i < HCG_MAX_ATTRS && op_table[op].attrs[i].name; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", op_table[op].attrs[i].name);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

int hcg_op_max_total_inputs(hcg_op op)
{
    const hcg_op_info *info = &op_table[op];
    if (info->max_inputs < 0) return -1;
    int m = info->max_inputs;
    for (int i = 0; i < HCG_MAX_ATTRS && info->attrs[i].name; i++)
        if (info->attrs[i].from_input > m) m = info->attrs[i].from_input;
    return m;
}

void hcg_node_cost(const hcg_graph *g, const hcg_node *n, double *flops, double *bytes)
{
    const hcg_op_info *info = &op_table[n->op];
    if (info->cost) {
        info->cost(g, n, flops, bytes);
        return;
    }
    *flops = numel_of(n);
    *bytes = io_bytes(g, n);
}

/* ---------------------------------------------------------------- helpers lent to op_rules.h */

hcg_status hcg_rule_want_dtype(const hcg_graph *g, hcg_node *n, int i, unsigned allowed_mask)
{
    return want_dtype(g, n, i, allowed_mask);
}

hcg_status hcg_rule_same_type(const hcg_graph *g, hcg_node *n, int i, int j)
{
    hcg_status st = same_dtype(g, n, i, j);
    if (st || hcg_shape_equal(&IN(i)->shape, &IN(j)->shape)) return st;
    char a[256], b[256];
    fmt_type(g, IN(i), a, sizeof a);
    fmt_type(g, IN(j), b, sizeof b);
    return hcg_node_error(g, n, HCG_ERR_SHAPE, "inputs '%s' (%s) and '%s' (%s) must have the same shape", IN(i)->name,
                          a, IN(j)->name, b);
}

hcg_status hcg_rule_shape_attr(const hcg_graph *g, hcg_node *n, hcg_shape *out)
{
    int cnt;
    const int64_t *dims = hcg_attr_ints(n, "shape", &cnt);
    if (cnt > HCG_MAX_RANK) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape has rank %d, more than %d", cnt, HCG_MAX_RANK);
    for (int i = 0; i < cnt; i++)
        if (dims[i] < 0) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape[%d] = %lld is negative", i, (long long)dims[i]);
    *out = hcg_shape_make(cnt, dims);
    int64_t numel;
    if (!hcg_shape_numel(out, &numel)) return hcg_node_error(g, n, HCG_ERR_SHAPE, "shape overflows");
    return HCG_OK;
}

hcg_status hcg_rule_axis(const hcg_graph *g, hcg_node *n, const char *attr, int rank, int *out)
{
    return get_axis(g, n, attr, rank, out);
}

bool hcg_broadcast_shapes(const hcg_shape *a, const hcg_shape *b, hcg_shape *out) { return broadcast(a, b, out); }

double hcg_rule_numel(const hcg_node *x) { return numel_of(x); }

double hcg_rule_io_bytes(const hcg_graph *g, const hcg_node *n) { return io_bytes(g, n); }
