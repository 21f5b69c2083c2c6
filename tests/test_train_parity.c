/* test_train_parity.c — training parity with PyTorch: for every case of tests/train/cases.json
 * (an MLP and a transformer-encoder classifier, each as ONNX exported with its loss and as .hcg;
 * SGD with momentum and AdamW), trains with hcg for the same steps on the same batches and compares
 * every final parameter with PyTorch's float64 result, within the tolerance make_train_golden.py
 * derived from PyTorch's own float32-vs-float64 difference. The devices come from
 * $HCG_TEST_DEVICES (default cpu); tests/train.cmake runs it again on opencl:0 and on two POCL
 * devices (opencl:0,opencl:1), the scheduler free to split the step (given the cpu as well, it
 * keeps the whole step on the cpu). Devices that are not present: a note, nothing tested. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "graph/safetensors.h"
#include "testlib.h"

#define MAX_IN 8


/* Copies rows [first, first + n) of a into b (b already has n rows). */
static void take_rows(const hcg_tensor *a, int64_t first, hcg_tensor *b)
{
    size_t row = a->nbytes / (size_t)a->shape.dims[0];
    memcpy(b->data, (const char *)a->data + (size_t)first * row, b->nbytes);
}


static void run_case(const cJSON *c, const char *devices)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    char rel[256];
    snprintf(rel, sizeof rel, "tests/train/%s", cJSON_GetObjectItem(c, "model")->valuestring);
    hcg_graph *g = NULL;
    hcg_train_session *t = NULL;
    hcg_tensor *data[MAX_IN] = {NULL}, *batch[MAX_IN] = {NULL};
    hcg_st_file *expected = NULL;
    if (!CHECK_OK(hcg_load(tl_src(rel), &g))) return;
    int n_in = hcg_graph_num_inputs(g);
    int64_t b = cJSON_GetObjectItem(c, "batch")->valueint, steps = cJSON_GetObjectItem(c, "steps")->valueint;
    const cJSON *d = cJSON_GetObjectItem(c, "data");
    bool ok = n_in <= MAX_IN;
    for (int i = 0; i < n_in && ok; i++) {
        const cJSON *f = cJSON_GetObjectItem(d, hcg_graph_input_name(g, i));
        ok = CHECK(f != NULL, "%s: data for input %s", name, hcg_graph_input_name(g, i)) && (data[i] = tl_load_npy("tests/train", f->valuestring)) != NULL;
        hcg_shape s = ok ? data[i]->shape : (hcg_shape){0};
        s.dims[0] = b;
        ok = ok && CHECK_OK(hcg_tensor_new(data[i]->dtype, &s, &batch[i]));
    }
    hcg_train_options opt = {.loss = cJSON_GetObjectItem(c, "loss")->valuestring, .devices = devices};
    tl_train_options_from(cJSON_GetObjectItem(c, "options"), &opt);
    ok = ok && CHECK_OK(hcg_train_session_new(g, &opt, &t));
    int64_t per_epoch = ok ? data[0]->shape.dims[0] / b : 1;
    for (int64_t k = 0; k < steps && ok; k++) {
        for (int i = 0; i < n_in; i++) take_rows(data[i], (k % per_epoch) * b, batch[i]);
        float loss;
        ok = CHECK_OK(hcg_train_step(t, (const hcg_tensor *const *)batch, &loss));
    }
    snprintf(rel, sizeof rel, "tests/train/%s", cJSON_GetObjectItem(c, "expected")->valuestring);
    ok = ok && CHECK_OK(hcg_st_open(tl_src(rel), &expected));
    const cJSON *tols = cJSON_GetObjectItem(c, "tolerance"), *tol;
    int compared = 0;
    double worst = 0;
    cJSON_ArrayForEach(tol, tols)
    {
        if (!ok) break;
        const hcg_st_entry *e = hcg_st_find(expected, tol->string);
        hcg_tensor *want = NULL, *got = NULL;
        if (CHECK(e != NULL, "%s: %s in the reference", name, tol->string) && CHECK_OK(hcg_st_tensor(expected, e, &want)) &&
            CHECK_OK(hcg_train_get_param(t, tol->string, &got))) {
            char what[256];
            snprintf(what, sizeof what, "%s on %s: %s", name, devices, tol->string);
            tl_tensor_close(got, want, 0, tol->valuedouble, what);
            int64_t n = 0;
            hcg_shape_numel(&want->shape, &n);
            for (int64_t i = 0; i < n; i++) {
                double err = fabs(tl_get(got, (long)i) - tl_get(want, (long)i)) / tol->valuedouble;
                worst = err > worst ? err : worst;
            }
            compared++;
        }
        hcg_tensor_free(want);
        hcg_tensor_free(got);
    }
    if (ok) {
        CHECK(compared == hcg_train_num_params(t), "%s: %d params compared, %d trained", name, compared,
              hcg_train_num_params(t));
        printf("%-16s on %-22s %2d params, worst error %.2f of its tolerance\n", name, devices, compared, worst);
    }
    if (expected) hcg_st_close(expected);
    for (int i = 0; i < MAX_IN; i++) {
        hcg_tensor_free(data[i]);
        hcg_tensor_free(batch[i]);
    }
    hcg_train_session_free(t);
    hcg_graph_free(g);
}

int main(void)
{
    const char *devices = tl_test_devices();
    if (!devices) return tl_skip("the devices of HCG_TEST_DEVICES are not all here");
    size_t len = 0;
    char *text = tl_read_file(tl_src("tests/train/cases.json"), &len);
    cJSON *cases = text ? cJSON_Parse(text) : NULL;
    if (!CHECK(cases != NULL, "reading tests/train/cases.json")) return tl_finish();
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) run_case(c, devices);
    cJSON_Delete(cases);
    free(text);
    return tl_finish();
}
