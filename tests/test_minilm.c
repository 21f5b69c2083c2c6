/* test_minilm.c — the real sentence encoder all-MiniLM-L6-v2 on 8 real sentences, twice: the ONNX
 * export with sentence-transformers' mean pooling and L2 normalisation (models/minilm/export.sh,
 * into the build tree), and models/minilm/minilm.hcg, the same model written as a .hcg graph that
 * reads the Hugging Face model.safetensors of the package directly. On cpu, opencl:0 and auto,
 * every embedding must have cosine >= 0.9999 with PyTorch's
 * (models/minilm/data/expected_embeddings.npy) and a max abs difference <= 1e-4; the rewrite
 * passes must have fused attention and the 36 matrix products with their epilogues. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/session_impl.h"
#include "testlib.h"

static void run_on(const hcg_graph *g, const char *devices, hcg_tensor **in, const hcg_tensor *want)
{
    hcg_session *s = NULL;
    hcg_session_options opt = {.devices = devices};
    hcg_tensor *out = NULL;
    if (!CHECK_OK(hcg_session_new(g, &opt, &s))) return;
    if (CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)in, &out)) &&
        CHECK(out->nbytes == want->nbytes, "%s: output size", devices)) {
        const float *a = out->data, *b = want->data;
        int rows = (int)want->shape.dims[0], cols = (int)want->shape.dims[1];
        double worst_cos = 1, worst_abs = 0;
        for (int r = 0; r < rows; r++) {
            double ab = 0, aa = 0, bb = 0;
            for (int c = 0; c < cols; c++) {
                double x = a[r * cols + c], y = b[r * cols + c];
                ab += x * y;
                aa += x * x;
                bb += y * y;
                if (fabs(x - y) > worst_abs || isnan(x)) worst_abs = isnan(x) ? INFINITY : fabs(x - y);
            }
            double cs = ab / sqrt(aa * bb);
            if (!(cs >= worst_cos)) worst_cos = cs;
        }
        CHECK(worst_cos >= 0.9999 && worst_abs <= 1e-4, "%s: worst cosine %.7f, max abs %.3g", devices, worst_cos,
              worst_abs);
        int fused_attention = 0, fused_mm = 0, plain_mm = 0;
        const hcg_graph *b2 = s->last_plan->bound;
        for (int i = 0; i < b2->n_nodes; i++) {
            fused_attention += b2->nodes[i].op == HCG_OP_ATTENTION;
            fused_mm += b2->nodes[i].op == HCG_OP_FUSED_MATMUL;
            plain_mm += b2->nodes[i].op == HCG_OP_MATMUL;
        }
        CHECK(fused_attention == 6, "%s: the 6 layers' attention is fused (%d attention nodes)", devices, fused_attention);
        CHECK(fused_mm == 36 && plain_mm == 0, "%s: the 36 products carry their bias (and gelu): %d fused, %d plain",
              devices, fused_mm, plain_mm);
        printf("%s: worst cosine %.7f, max abs %.3g, %d rewrites\n", devices, worst_cos, worst_abs, b2->n_notes);
    }
    hcg_tensor_free(out);
    hcg_session_free(s);
}

static void run_model(const char *path, hcg_tensor **in, const hcg_tensor *want)
{
    hcg_graph *g = NULL;
    printf("%s\n", path);
    if (!CHECK_OK(hcg_load(path, &g))) return;
    run_on(g, "cpu", in, want);
    if (hcg_device_find("opencl:0")) run_on(g, "opencl:0", in, want);
    run_on(g, "auto", in, want);
    hcg_graph_free(g);
}

int main(void)
{
    const char *onnx = getenv("HCG_MINILM_ONNX"), *hcg = getenv("HCG_MINILM_HCG");
    hcg_tensor *in[2] = {NULL, NULL}, *want = NULL;
    if (!CHECK(onnx && hcg, "HCG_MINILM_ONNX and HCG_MINILM_HCG name the models (ctest sets them)")) return tl_finish();
    CHECK_OK(hcg_npy_load(tl_src("models/minilm/data/input_ids.npy"), &in[0]));
    CHECK_OK(hcg_npy_load(tl_src("models/minilm/data/attention_mask.npy"), &in[1]));
    CHECK_OK(hcg_npy_load(tl_src("models/minilm/data/expected_embeddings.npy"), &want));
    if (in[0] && in[1] && want) {
        run_model(onnx, in, want);
        run_model(hcg, in, want);
    }
    hcg_tensor_free(in[0]);
    hcg_tensor_free(in[1]);
    hcg_tensor_free(want);
    return tl_finish();
}
