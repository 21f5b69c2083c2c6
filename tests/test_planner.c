/* test_planner.c — the planner and executor on graphs built with the C API: binding with
 * symbols and constant folding, the memory plan (no two tensors live at once share bytes; the
 * arena is at least the liveness peak, computed here by brute force), plan caching per shape
 * signature, and results that do not depend on the device set (checked against the CPU-only run). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/session_impl.h"
#include "graph/bind.h"
#include "testlib.h"

static hcg_tensor *tensor_f32(int rank, const int64_t *dims, unsigned seed)
{
    hcg_shape s = hcg_shape_make(rank, dims);
    hcg_tensor *t = NULL;
    if (hcg_tensor_new(HCG_F32, &s, &t)) return NULL;
    int64_t n;
    hcg_shape_numel(&s, &n);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        ((float *)t->data)[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    return t;
}

/* A graph with branches of different lengths joined at the end, so tensors die at different
 * times: y = sum_b f_b(x @ W) where f_b applies b unary ops. */
static hcg_graph *branchy_graph(int branches)
{
    hcg_graph *g = hcg_graph_new();
    int64_t xd[2] = {hcg_sym(g, "N"), 48}, wd[2] = {48, 40};
    hcg_id x = hcg_input(g, "x", HCG_F32, 2, xd);
    hcg_id w = hcg_param(g, "w", tensor_f32(2, wd, 7));
    hcg_id h = hcg_matmul(g, x, w, false, false);
    hcg_id acc = -1;
    static const hcg_op ops[] = {HCG_OP_TANH, HCG_OP_SIGMOID, HCG_OP_RELU, HCG_OP_NEG, HCG_OP_ABS};
    for (int b = 0; b < branches; b++) {
        hcg_id v = h;
        for (int k = 0; k <= b; k++) v = hcg_unary(g, ops[(b + k) % 5], v);
        acc = acc < 0 ? v : hcg_add(g, acc, v);
    }
    hcg_id y = hcg_softmax(g, acc, -1);
    hcg_output(g, y, "y");
    return g;
}

/* Brute force: no two allocations on one device that are live at the same position overlap. */
static void check_memory_plan(const hcg_plan *p)
{
    for (int i = 0; i < p->n_allocs; i++) {
        const hcg_alloc *a = &p->allocs[i];
        CHECK(a->offset + a->size <= p->arena_size[a->device], "alloc %d fits its arena", i);
        for (int j = i + 1; j < p->n_allocs; j++) {
            const hcg_alloc *b = &p->allocs[j];
            if (a->device != b->device || !a->size || !b->size) continue;
            bool live_together = !(a->last_pos < b->first_pos || b->last_pos < a->first_pos);
            bool overlap = a->offset < b->offset + b->size && b->offset < a->offset + a->size;
            if (live_together && overlap)
                CHECK(false, "allocs %d [%d,%d] and %d [%d,%d] share bytes", i, a->first_pos, a->last_pos, j,
                      b->first_pos, b->last_pos);
        }
    }
    for (int d = 0; d < p->n_dev; d++) {
        int max_pos = 0;
        for (int i = 0; i < p->n_allocs; i++)
            if (p->allocs[i].last_pos > max_pos) max_pos = p->allocs[i].last_pos;
        size_t peak = 0;
        for (int pos = 0; pos <= max_pos; pos++) {
            size_t live = 0;
            for (int i = 0; i < p->n_allocs; i++)
                if (p->allocs[i].device == d && p->allocs[i].first_pos <= pos && pos <= p->allocs[i].last_pos)
                    live += p->allocs[i].size;
            peak = live > peak ? live : peak;
        }
        CHECK(p->arena_lower_bound[d] == peak, "%s: lower bound %zu equals the brute-force peak %zu",
              p->devs[d]->name, p->arena_lower_bound[d], peak);
        CHECK(p->arena_size[d] >= peak, "%s: arena %zu >= peak %zu", p->devs[d]->name, p->arena_size[d], peak);
    }
}

static void test_memory_plan_and_reuse(void)
{
    hcg_graph *g = branchy_graph(5);
    hcg_session *s = NULL;
    CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "cpu"}, &s));
    int64_t xd[2] = {33, 48};
    hcg_tensor *x = tensor_f32(2, xd, 3), *y = NULL;
    CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y));
    const hcg_plan *p = s->last_plan;
    check_memory_plan(p);
    size_t total = 0;
    for (int i = 0; i < p->n_allocs; i++) total += p->allocs[i].size;
    CHECK(p->arena_size[0] < total, "memory is reused: arena %zu < sum of tensors %zu", p->arena_size[0], total);
    /* the same shapes reuse the plan; other shapes make a second one */
    hcg_tensor *y2 = NULL;
    CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, &y2));
    CHECK(s->plans_built == 1, "same shapes: one plan (built %d)", s->plans_built);
    CHECK(tl_tensor_close(y2, y, 0, 0, "second run is identical"), "identical");
    int64_t xd3[2] = {5, 48};
    hcg_tensor *x3 = tensor_f32(2, xd3, 4), *y3 = NULL;
    CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x3, &y3));
    CHECK(s->plans_built == 2 && y3 && y3->shape.dims[0] == 5, "new shape signature: a second plan");
    hcg_tensor_free(x);
    hcg_tensor_free(x3);
    hcg_tensor_free(y);
    hcg_tensor_free(y2);
    hcg_tensor_free(y3);
    hcg_session_free(s);
    hcg_graph_free(g);
}

static void test_bind_errors(void)
{
    hcg_graph *g = hcg_graph_new();
    int64_t ad[2] = {hcg_sym(g, "B"), 4}, bd[2] = {hcg_sym(g, "B"), 3};
    hcg_id a = hcg_input(g, "a", HCG_F32, 2, ad);
    hcg_id b = hcg_input(g, "b", HCG_F32, 2, bd);
    hcg_id c = hcg_add(g, a, b);
    hcg_output(g, c, "c");
    hcg_shape shapes[2] = {hcg_shape_make(2, (int64_t[]){2, 4}), hcg_shape_make(2, (int64_t[]){2, 3})};
    hcg_graph *bound = NULL;
    CHECK_FAILS(hcg_graph_bind(g, shapes, NULL, &bound), HCG_ERR_SHAPE, "[2, 4]");
    CHECK(strstr(hcg_last_error(), "[2, 3]") && strstr(hcg_last_error(), "add"), "names both shapes and the op: %s",
          hcg_last_error());
    shapes[1] = hcg_shape_make(2, (int64_t[]){5, 3});
    CHECK_FAILS(hcg_graph_bind(g, shapes, NULL, &bound), HCG_ERR_SHAPE, "B = 5");
    shapes[1] = hcg_shape_make(2, (int64_t[]){2, 4});
    CHECK_FAILS(hcg_graph_bind(g, shapes, NULL, &bound), HCG_ERR_SHAPE, "dim 1 is 4, not 3");
    hcg_graph_free(g);
}

static void test_folding_reaches_shape_arithmetic(void)
{
    /* reshape(x, shape = concat(shape(x)[0], [-1])): the shape input folds once x's shape is bound */
    hcg_graph *g = hcg_graph_new();
    int64_t xd[3] = {hcg_sym(g, "B"), 3, 5};
    hcg_id x = hcg_input(g, "x", HCG_F32, 3, xd);
    hcg_id shp = hcg_add_node(g, HCG_OP_SHAPE, "shp", &x, 1, NULL, 0);
    hcg_attr sl[3] = {HCG_ATTR_IS("starts", (int64_t[]){0}, 1), HCG_ATTR_IS("ends", (int64_t[]){1}, 1),
                      HCG_ATTR_IS("axes", (int64_t[]){0}, 1)};
    hcg_id first = hcg_add_node(g, HCG_OP_SLICE, "first", &shp, 1, sl, 3);
    hcg_shape one = hcg_shape_make(1, (int64_t[]){1});
    hcg_tensor *m1 = NULL;
    hcg_tensor_new(HCG_I64, &one, &m1);
    ((int64_t *)m1->data)[0] = -1;
    hcg_id minus1 = hcg_constant(g, "minus1", m1);
    hcg_attr ax = HCG_ATTR_I("axis", 0);
    hcg_id target = hcg_add_node(g, HCG_OP_CONCAT, "target", (hcg_id[]){first, minus1}, 2, &ax, 1);
    hcg_id r = hcg_add_node(g, HCG_OP_RESHAPE, "r", (hcg_id[]){x, target}, 2, NULL, 0);
    hcg_output(g, r, "r");
    CHECK(r >= 0, "built: %s", hcg_last_error());
    hcg_session *s = NULL;
    CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "cpu"}, &s));
    int64_t d[3] = {4, 3, 5};
    hcg_tensor *xt = tensor_f32(3, d, 9), *out = NULL;
    CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&xt, &out));
    CHECK(out && out->shape.rank == 2 && out->shape.dims[0] == 4 && out->shape.dims[1] == 15, "reshaped to [4, 15]");
    if (out) CHECK(memcmp(out->data, xt->data, xt->nbytes) == 0, "reshape keeps the data");
    /* only the reshape is left: the shape arithmetic was folded and it is a view, so nothing runs */
    CHECK(s->last_plan->n_exec == 0, "no kernel runs after folding (%d exec nodes)", s->last_plan->n_exec);
    hcg_tensor_free(xt);
    hcg_tensor_free(out);
    hcg_session_free(s);
    hcg_graph_free(g);
}

int main(void)
{
    test_memory_plan_and_reuse();
    test_bind_errors();
    test_folding_reaches_shape_arithmetic();
    return tl_finish();
}
