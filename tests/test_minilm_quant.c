/* test_minilm_quant.c — the real all-MiniLM-L6-v2 with its weights stored small (hcg_quantize_graph,
 * written with hcg_save and loaded back, as `hcg quantize` does): f16 weights, and int8 weights with
 * a scale per output row. On cpu and opencl:0 the 8 sentence embeddings must have cosine >= 0.9999
 * (f16) and >= 0.999 (int8) with PyTorch's f32 model (models/minilm/data/expected_embeddings.npy),
 * and the passes must read the small weights in the products themselves (36 fused products with f16
 * weights, 36 quant_matmul) and gather only the rows of the word embeddings. Prints and checks the
 * model files' size and the weight memory each device holds, before and after. Also int8 activations
 * on the cpu (cosine >= 0.998), and the ONNX export quantized to int8 (hcg quantize reads ONNX too). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/session_impl.h"
#include "graph/quantize.h"
#include "testlib.h"

static hcg_tensor *in[2], *want;

static double mib(double b) { return b / (1024.0 * 1024.0); }

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Runs g on devices: the worst cosine with PyTorch's embeddings, the weight bytes the session keeps
 * on the device (uploaded ones for OpenCL; on the CPU the tensors it reads in place), and the number
 * of nodes of op `count_op` in the bound graph. */
static double run_on(const hcg_graph *g, const char *devices, size_t *resident, hcg_op count_op, int *count)
{
    hcg_session *s = NULL;
    hcg_session_options opt = {.devices = devices};
    hcg_tensor *out = NULL;
    double worst = -1;
    *resident = 0;
    *count = 0;
    if (!CHECK_OK(hcg_session_new(g, &opt, &s))) return -1;
    if (CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)in, &out)) && CHECK(out->nbytes == want->nbytes, "size")) {
        const float *a = out->data, *b = want->data;
        int rows = (int)want->shape.dims[0], cols = (int)want->shape.dims[1];
        worst = 1;
        for (int r = 0; r < rows; r++) {
            double ab = 0, aa = 0, bb = 0;
            for (int c = 0; c < cols; c++) {
                ab += (double)a[r * cols + c] * b[r * cols + c];
                aa += (double)a[r * cols + c] * a[r * cols + c];
                bb += (double)b[r * cols + c] * b[r * cols + c];
            }
            double cs = ab / sqrt(aa * bb);
            if (!(cs >= worst)) worst = cs;
        }
        for (int i = 0; i < s->n_weights; i++)
            if (strcmp(s->weights[i].device->name, devices) == 0) *resident += s->weights[i].nbytes;
        const hcg_graph *b2 = s->last_plan->bound;
        for (int i = 0; i < b2->n_nodes; i++) *count += b2->nodes[i].op == count_op;
    }
    hcg_tensor_free(out);
    hcg_session_free(s);
    return worst;
}

typedef struct variant {
    const char *name;
    hcg_weight_format weights; /* 0: the f32 model as it is */
    double min_cosine;
    hcg_op product; /* the op the 36 products must become */
} variant;

int main(void)
{
    const char *hcg = getenv("HCG_MINILM_HCG"), *onnx = getenv("HCG_MINILM_ONNX");
    if (!CHECK(hcg && onnx, "HCG_MINILM_HCG and HCG_MINILM_ONNX name the models (ctest sets them)")) return tl_finish();
    CHECK_OK(hcg_npy_load(tl_src("models/minilm/data/input_ids.npy"), &in[0]));
    CHECK_OK(hcg_npy_load(tl_src("models/minilm/data/attention_mask.npy"), &in[1]));
    CHECK_OK(hcg_npy_load(tl_src("models/minilm/data/expected_embeddings.npy"), &want));
    hcg_graph *f32 = NULL;
    if (!in[0] || !in[1] || !want || !CHECK_OK(hcg_load(hcg, &f32))) return tl_finish();
    char weights_file[1024];
    snprintf(weights_file, sizeof weights_file, "%.*s/model.safetensors", (int)(strrchr(hcg, '/') - hcg), hcg);
    long long f32_files = file_size(hcg) + file_size(weights_file);
    const char *devs[2] = {"cpu", "opencl:0"};
    size_t f32_resident[2] = {0, 0};
    const variant variants[] = {{"f32", 0, 0.9999, HCG_OP_FUSED_MATMUL},
                                {"f16", HCG_WEIGHTS_F16, 0.9999, HCG_OP_FUSED_MATMUL},
                                {"int8", HCG_WEIGHTS_INT8, 0.999, HCG_OP_QUANT_MATMUL}};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const variant *var = &variants[v];
        hcg_graph *g = f32, *q = NULL;
        long long files = f32_files;
        if (var->weights) {
            hcg_quantize_options o = {.weights = var->weights};
            hcg_quantize_report r;
            char path[1024], st_path[1024];
            snprintf(path, sizeof path, "%s/minilm_%s.hcg", tl_tmpdir(), var->name);
            snprintf(st_path, sizeof st_path, "%s/minilm_%s.safetensors", tl_tmpdir(), var->name);
            if (!CHECK_OK(hcg_quantize_graph(f32, &o, &q, &r))) continue;
            int quantized = 0;
            for (int i = 0; i < r.n; i++) quantized += r.entries[i].quantized;
            CHECK(quantized == 37, "%s: the 36 product weights and the word embeddings are quantized (%d)", var->name,
                  quantized);
            hcg_quantize_report_free(&r);
            hcg_status st = hcg_save(q, path);
            hcg_graph_free(q);
            q = NULL;
            if (!CHECK_OK(st) || !CHECK_OK(hcg_load(path, &q))) continue;
            g = q;
            files = file_size(path) + file_size(st_path);
        }
        printf("%s: model files %.2f MiB (%.2fx smaller than f32)\n", var->name, mib((double)files),
               (double)f32_files / (double)files);
        if (var->weights == HCG_WEIGHTS_F16) CHECK(files < f32_files * 0.52, "f16: the files are about half");
        if (var->weights == HCG_WEIGHTS_INT8) CHECK(files < f32_files * 0.27, "int8: the files are about a quarter");
        for (int d = 0; d < 2; d++) {
            if (!hcg_device_find(devs[d])) continue;
            size_t resident;
            int products;
            double cs = run_on(g, devs[d], &resident, var->product, &products);
            if (!var->weights) f32_resident[d] = resident;
            printf("%s on %s: worst cosine %.7f, weights resident %.2f MiB (f32: %.2f MiB), %d %s\n", var->name,
                   devs[d], cs, mib((double)resident), mib((double)f32_resident[d]), products,
                   hcg_op_name(var->product));
            CHECK(cs >= var->min_cosine, "%s on %s: worst cosine %.7f with PyTorch's f32 embeddings (want >= %g)",
                  var->name, devs[d], cs, var->min_cosine);
            CHECK(products == 36, "%s on %s: the 36 products are %s (%d)", var->name, devs[d], hcg_op_name(var->product),
                  products);
            if (var->weights == HCG_WEIGHTS_F16)
                CHECK(resident < f32_resident[d] * 0.52, "f16 on %s: the resident weights are about half", devs[d]);
            if (var->weights == HCG_WEIGHTS_INT8)
                CHECK(resident < f32_resident[d] * 0.27, "int8 on %s: the resident weights are about a quarter", devs[d]);
        }
        hcg_graph_free(q);
    }
    /* int8 activations too (the CPU's dynamic quantization of each product's input rows): less
     * exact than weights alone; 0.998 is what 8-bit rows of MiniLM's activations allow. */
    hcg_graph *aq = NULL;
    hcg_quantize_options ao = {.weights = HCG_WEIGHTS_INT8, .int8_activations = true};
    hcg_quantize_report ar;
    if (CHECK_OK(hcg_quantize_graph(f32, &ao, &aq, &ar))) {
        size_t resident;
        int products;
        double cs = run_on(aq, "cpu", &resident, HCG_OP_QUANT_MATMUL, &products);
        printf("int8 weights and activations on cpu: worst cosine %.7f, %d quant_matmul\n", cs, products);
        CHECK(cs >= 0.998 && products == 36, "int8 activations: cosine %.7f, %d quant_matmul", cs, products);
        hcg_quantize_report_free(&ar);
    }
    hcg_graph_free(aq);
    /* The ONNX export, quantized as hcg quantize reads it. */
    hcg_graph *og = NULL, *oq = NULL;
    hcg_quantize_options o = {.weights = HCG_WEIGHTS_INT8};
    hcg_quantize_report r;
    if (CHECK_OK(hcg_load(onnx, &og)) && CHECK_OK(hcg_quantize_graph(og, &o, &oq, &r))) {
        size_t resident;
        int products;
        double cs = run_on(oq, "cpu", &resident, HCG_OP_QUANT_MATMUL, &products);
        printf("the ONNX export as int8 on cpu: worst cosine %.7f, %d quant_matmul\n", cs, products);
        CHECK(cs >= 0.999 && products == 36, "the ONNX export as int8: cosine %.7f, %d quant_matmul", cs, products);
        hcg_quantize_report_free(&r);
    }
    hcg_graph_free(oq);
    hcg_graph_free(og);
    hcg_graph_free(f32);
    hcg_tensor_free(in[0]);
    hcg_tensor_free(in[1]);
    hcg_tensor_free(want);
    return tl_finish();
}
