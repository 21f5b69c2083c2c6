/* test_grad.c — the gradient check: for every case of tests/grad/cases.json (every op with a
 * gradient rule, over shapes, broadcasting, ties and attributes), builds loss = sum(op(x...) * w),
 * differentiates it with hcg's autodiff pass (as a session transform, so the gradient nodes are
 * planned and run like any others) and compares each input's gradient with PyTorch's float64
 * autograd, within the tolerance make_grad_golden.py derived from PyTorch's own float32-vs-float64
 * difference. Devices from $HCG_TEST_DEVICES (default cpu); tests/train.cmake adds OpenCL runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/session_impl.h"
#include "golden_cases.h"
#include "graph/autodiff.h"
#include "graph/safetensors.h"

#define MAX_IN 4

typedef struct grad_case {
    bool wants[MAX_IN];
    int n_inputs;
} grad_case;

/* After binding: the gradient of the loss (output 0) with respect to the wanted inputs becomes
 * the outputs, in input order. */
static hcg_status differentiate(void *ctx, hcg_graph *b)
{
    const grad_case *gc = ctx;
    hcg_id wrt[MAX_IN] = {0}, grads[MAX_IN] = {0};
    int n = 0;
    for (int i = 0; i < gc->n_inputs; i++)
        if (gc->wants[i]) wrt[n++] = b->inputs[i];
    hcg_status st = hcg_autodiff(b, b->outputs[0], wrt, n, grads);
    if (st) return st;
    char *loss_name = b->output_names[0];
    b->n_outputs = 0;
    for (int k = 0; k < n && !st; k++) {
        char name[32];
        snprintf(name, sizeof name, "grad%d", k);
        if (grads[k] < 0) return hcg_error(HCG_ERR_INTERNAL, "no gradient flows to input %d", k);
        st = hcg_output(b, grads[k], name);
    }
    free(loss_name);
    return st;
}

static hcg_id build_op(hcg_graph *g, const cJSON *c, hcg_op op, const hcg_id *x, int n)
{
    hcg_attr attrs[HCG_MAX_ATTRS];
    void *storage[HCG_MAX_ATTRS] = {NULL};
    int na = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItem(c, "attrs"))
    {
        if (na == HCG_MAX_ATTRS || !gc_convert_attr(op, j, &attrs[na], &storage[na])) return -HCG_ERR_ARG;
        na++;
    }
    hcg_id y;
    if (op == HCG_OP_CAST) { /* to f16 and back: the gradient is rounded to f16 on the way */
        hcg_attr back = HCG_ATTR_S("to", "f32");
        hcg_id h = hcg_add_node(g, HCG_OP_CAST, "op", x, n, attrs, na);
        y = hcg_add_node(g, HCG_OP_CAST, "back", &h, 1, &back, 1);
    } else {
        y = hcg_add_node(g, op, "op", x, n, attrs, na);
    }
    for (int i = 0; i < na; i++) free(storage[i]);
    return y;
}

static void run_case(const cJSON *c, const char *devices, char *worst_name, double *worst)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    hcg_op op;
    char rel[256];
    snprintf(rel, sizeof rel, "tests/grad/%s.safetensors", name);
    hcg_st_file *f = NULL;
    if (!CHECK(hcg_op_parse(cJSON_GetObjectItem(c, "op")->valuestring, &op), "%s: op", name) ||
        !CHECK_OK(hcg_st_open(tl_src(rel), &f)))
        return;
    grad_case gcase = {.n_inputs = cJSON_GetObjectItem(c, "n_inputs")->valueint};
    hcg_tensor *in[MAX_IN + 1] = {NULL}, *outs[MAX_IN] = {NULL};
    hcg_graph *g = hcg_graph_new();
    hcg_session *s = NULL;
    hcg_id x[MAX_IN];
    bool ok = gcase.n_inputs <= MAX_IN;
    for (int i = 0; i <= gcase.n_inputs && ok; i++) {
        char key[16];
        snprintf(key, sizeof key, i < gcase.n_inputs ? "in%d" : "w", i);
        const hcg_st_entry *e = hcg_st_find(f, key);
        ok = CHECK(e != NULL, "%s: %s", name, key) && CHECK_OK(hcg_st_tensor(f, e, &in[i]));
        if (!ok) break;
        hcg_id id = hcg_input(g, key, in[i]->dtype, in[i]->shape.rank, in[i]->shape.dims);
        if (i < gcase.n_inputs) {
            x[i] = id;
            gcase.wants[i] = cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "wants"), i));
        }
    }
    if (ok) {
        hcg_id y = build_op(g, c, op, x, gcase.n_inputs);
        hcg_id w = hcg_graph_find(g, "w");
        hcg_id prod = hcg_mul(g, y, w);
        hcg_attr all = HCG_ATTR_I("keepdims", 0);
        hcg_id loss = hcg_add_node(g, HCG_OP_REDUCE_SUM, "loss", &prod, 1, &all, 1);
        ok = CHECK(loss >= 0, "%s: building the graph: %s", name, hcg_last_error()) && CHECK_OK(hcg_output(g, loss, "loss"));
    }
    hcg_session_options so = {.devices = devices, .passes = "none"};
    hcg_session_ext ext = {.transform = differentiate, .transform_ctx = &gcase};
    ok = ok && CHECK_OK(hcg_session_new_ex(g, &so, &ext, &s));
    if (ok && !CHECK(hcg_session_run_ex(s, (const hcg_tensor *const *)in, outs) == HCG_OK, "%s on %s: %s", name, devices,
                     hcg_last_error()))
        ok = false;
    const cJSON *tols = cJSON_GetObjectItem(c, "tol");
    for (int i = 0, k = 0; i < gcase.n_inputs && ok; i++) {
        if (!gcase.wants[i]) continue;
        char key[16], what[256];
        snprintf(key, sizeof key, "grad%d", i);
        hcg_tensor *want = NULL;
        const hcg_st_entry *e = hcg_st_find(f, key);
        double tol = cJSON_GetArrayItem(tols, i)->valuedouble;
        snprintf(what, sizeof what, "%s on %s: d loss / d input %d", name, devices, i);
        if (CHECK(e != NULL, "%s: %s", name, key) && CHECK_OK(hcg_st_tensor(f, e, &want))) {
            tl_tensor_close(outs[k], want, 0, tol, what);
            int64_t n = 0;
            hcg_shape_numel(&want->shape, &n);
            for (int64_t j = 0; j < n && tol > 0; j++) {
                double err = fabs(tl_get(outs[k], (long)j) - tl_get(want, (long)j)) / tol;
                if (err > *worst) {
                    *worst = err;
                    snprintf(worst_name, 128, "%s", name);
                }
            }
        }
        hcg_tensor_free(want);
        k++;
    }
    for (int i = 0; i < MAX_IN; i++) hcg_tensor_free(outs[i]);
    for (int i = 0; i <= MAX_IN; i++) hcg_tensor_free(in[i]);
    hcg_session_free(s);
    hcg_graph_free(g);
    hcg_st_close(f);
}

int main(void)
{
    const char *devices = tl_test_devices();
    if (!devices) return tl_skip("the devices of HCG_TEST_DEVICES are not all here");
    size_t len = 0;
    char *text = tl_read_file(tl_src("tests/grad/cases.json"), &len);
    cJSON *cases = text ? cJSON_Parse(text) : NULL;
    if (!CHECK(cases != NULL, "reading tests/grad/cases.json")) return tl_finish();
    const cJSON *c;
    int n = 0;
    double worst = 0;
    char worst_name[128] = "";
    /* every op with a gradient rule has a case */
    bool covered[HCG_OP_COUNT] = {false};
    cJSON_ArrayForEach(c, cases)
    {
        hcg_op op;
        if (hcg_op_parse(cJSON_GetObjectItem(c, "op")->valuestring, &op)) covered[op] = true;
        run_case(c, devices, worst_name, &worst);
        n++;
    }
    for (int op = 0; op < HCG_OP_COUNT; op++)
        if (hcg_op_info_get((hcg_op)op)->grad) CHECK(covered[op], "op %s has a gradient rule but no gradient case", hcg_op_name((hcg_op)op));
    printf("%d gradient cases on %s; worst error %.2f of its tolerance (%s)\n", n, devices, worst, worst_name);
    cJSON_Delete(cases);
    free(text);
    return tl_finish();
}
