/* test_opencl_train.c — training on every OpenCL device present, against the CPU backend (the
 * reference semantics; tests/test_train_parity.c holds the CPU to PyTorch):
 *   - the optimizer updates: SGD (plain; momentum with dampening and weight decay; Nesterov), Adam
 *     with L2 weight decay, AdamW with clipping by global norm and a warm-up + cosine schedule, SGD
 *     with clipping and a linear schedule. The loss is a sum of mean squared errors of the
 *     parameters against per-step targets, whose gradient is elementwise and IEEE-exact, so the
 *     CPU and the device compute the same gradients and only the update kernels (and the clipping
 *     norm's sum) differ: every parameter after the steps, and every step's loss, must agree
 *     within a few float roundings per step;
 *   - `hcg train` end to end: the two-layer GELU MLP of models/mlp with a softmax cross-entropy
 *     loss, SGD with momentum, 20 steps of 16 samples, --devices opencl:0 (and, with two devices,
 *     opencl:0,opencl:1) against --devices cpu: the saved parameters must agree within the
 *     rounding a float32 step carries, summed over the steps.
 * Without an OpenCL device the test passes with a note. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/safetensors.h"
#include "testlib.h"

/* A deterministic generator (xorshift), uniform in [0, 1). */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static double rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static hcg_tensor *random_tensor(int64_t n, double lo, double hi)
{
    hcg_tensor *t = NULL;
    hcg_shape s = hcg_shape_make(1, &n);
    if (hcg_tensor_new(HCG_F32, &s, &t)) return NULL;
    for (int64_t i = 0; i < n; i++) ((float *)t->data)[i] = (float)(lo + (hi - lo) * rnd());
    return t;
}

/* Normwise: max |got - want| <= tol_rel * max |want|. */
static bool params_close(const hcg_tensor *got, const hcg_tensor *want, double tol_rel, const char *what)
{
    int64_t n = 0;
    hcg_shape_numel(&want->shape, &n);
    double max_want = 0, max_err = 0;
    long worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double w = tl_get(want, (long)i), e = fabs(tl_get(got, (long)i) - w);
        if (fabs(w) > max_want) max_want = fabs(w);
        if (!(e <= max_err)) max_err = e, worst = (long)i;
    }
    return CHECK(max_err <= tol_rel * max_want, "%s: max |error| %.3g at %ld (got %.9g, want %.9g), allowed %.3g", what,
                 max_err, worst, tl_get(got, worst), tl_get(want, worst), tol_rel * max_want);
}

/* ---------------------------------------------------------------- optimizer updates */

#define N_PARAMS 3
static const int64_t param_sizes[N_PARAMS] = {1000, 1, 257}; /* sizes around the work-group size */

/* loss = mse(w0, t0, sum) + mse(w1, t1) + mse(w2, t2): trainable w_i, per-step targets t_i. */
static hcg_graph *quadratic_graph(void)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id loss = -1;
    for (int i = 0; i < N_PARAMS; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        hcg_id t = hcg_input(g, name, HCG_F32, 1, &param_sizes[i]);
        snprintf(name, sizeof name, "w%d", i);
        hcg_id w = hcg_param(g, name, random_tensor(param_sizes[i], -2, 2));
        hcg_id in[2] = {w, t};
        hcg_attr red = HCG_ATTR_S("reduction", i == 0 ? "sum" : "mean");
        hcg_id l = hcg_add_node(g, HCG_OP_MSE_LOSS, NULL, in, 2, &red, 1);
        loss = loss < 0 ? l : hcg_add(g, loss, l);
    }
    hcg_output(g, loss, "loss");
    return g;
}

typedef struct opt_case {
    const char *label;
    hcg_train_options opt;
} opt_case;

static void optimizer_case(const hcg_graph *g, const opt_case *c, const char *dev)
{
    enum { STEPS = 12 };
    hcg_train_options o = c->opt;
    hcg_train_session *ref = NULL, *t = NULL;
    hcg_tensor *targets[STEPS][N_PARAMS] = {{NULL}};
    o.loss = "loss";
    o.devices = "cpu";
    bool ok = CHECK_OK(hcg_train_session_new(g, &o, &ref));
    o.devices = dev;
    ok = ok && CHECK_OK(hcg_train_session_new(g, &o, &t));
    /* Per step, every float operation rounds at most half an ulp; an update is a handful of them
     * (and clipping adds a norm whose float sum and double sum differ by about as much). */
    double tol = STEPS * 16 * FLT_EPSILON;
    for (int k = 0; k < STEPS && ok; k++) {
        for (int i = 0; i < N_PARAMS; i++) targets[k][i] = random_tensor(param_sizes[i], -1, 1);
        float loss_ref = 0, loss = 0;
        ok = CHECK_OK(hcg_train_step(ref, (const hcg_tensor *const *)targets[k], &loss_ref)) &&
             CHECK_OK(hcg_train_step(t, (const hcg_tensor *const *)targets[k], &loss));
        ok = ok && CHECK(fabs(loss - loss_ref) <= tol * fabs(loss_ref), "%s on %s: step %d loss %.9g, cpu %.9g", c->label,
                         dev, k, loss, loss_ref);
    }
    for (int i = 0; i < N_PARAMS && ok; i++) {
        hcg_tensor *got = NULL, *want = NULL;
        const char *name = hcg_train_param_name(ref, i);
        char what[160];
        snprintf(what, sizeof what, "%s on %s: %s after %d steps", c->label, dev, name, STEPS);
        if (CHECK_OK(hcg_train_get_param(t, name, &got)) && CHECK_OK(hcg_train_get_param(ref, name, &want)))
            params_close(got, want, tol, what);
        hcg_tensor_free(got);
        hcg_tensor_free(want);
    }
    for (int k = 0; k < STEPS; k++)
        for (int i = 0; i < N_PARAMS; i++) hcg_tensor_free(targets[k][i]);
    hcg_train_session_free(t);
    hcg_train_session_free(ref);
}

static void optimizers_on(const char *dev)
{
    static const opt_case cases[] = {
        {"sgd", {.optimizer = HCG_OPTIM_SGD, .lr = 0.1}},
        {"sgd_momentum_dampening_wd",
         {.optimizer = HCG_OPTIM_SGD, .lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01}},
        {"sgd_nesterov", {.optimizer = HCG_OPTIM_SGD, .lr = 0.05, .momentum = 0.8, .nesterov = true, .weight_decay = 1e-3}},
        {"adam_l2", {.optimizer = HCG_OPTIM_ADAM, .lr = 0.01, .weight_decay = 0.01}},
        {"adamw_clip_cosine",
         {.optimizer = HCG_OPTIM_ADAMW, .lr = 0.02, .weight_decay = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6,
          .clip_norm = 0.5, .schedule = HCG_LR_COSINE, .warmup_steps = 3, .total_steps = 10, .min_lr = 1e-3}},
        {"sgd_clip_linear",
         {.optimizer = HCG_OPTIM_SGD, .lr = 0.1, .momentum = 0.9, .clip_norm = 1.0, .schedule = HCG_LR_LINEAR,
          .total_steps = 12}},
    };
    hcg_graph *g = quadratic_graph();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) optimizer_case(g, &cases[i], dev);
    hcg_graph_free(g);
}

/* ---------------------------------------------------------------- hcg train, end to end */

static const char mlp_loss_hcg[] =
    "# models/mlp's MLP with a cross-entropy loss (written by tests/test_opencl_train.c)\n"
    "weights \"mlp.safetensors\"\n"
    "input x: f32[N, 32]\n"
    "input y: i64[N]\n"
    "param l_w1: f32[32, 64]\n"
    "param l_b1: f32[64]\n"
    "param l_w2: f32[64, 10]\n"
    "param l_b2: f32[10]\n"
    "h_raw = matmul(x, l_w1)\n"
    "h_b = add(h_raw, l_b1)\n"
    "h = gelu(h_b)\n"
    "logits_raw = matmul(h, l_w2)\n"
    "logits = add(logits_raw, l_b2)\n"
    "loss = softmax_cross_entropy(logits, y)\n"
    "output loss\n";

static bool write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f) ok &= fclose(f) == 0;
    return CHECK(ok, "writing %s", path);
}

/* The model, its weights and 64 samples in a folder of their own. */
static bool write_mlp_setup(const char *dir)
{
    char path[1024];
    size_t len = 0;
    char *weights = tl_read_file(tl_src("models/mlp/mlp.safetensors"), &len);
    snprintf(path, sizeof path, "%s/mlp.safetensors", dir);
    bool ok = CHECK(weights != NULL, "reading models/mlp/mlp.safetensors") && write_file(path, weights, len);
    free(weights);
    snprintf(path, sizeof path, "%s/mlp_loss.hcg", dir);
    ok = ok && write_file(path, mlp_loss_hcg, sizeof mlp_loss_hcg - 1);
    int64_t xd[2] = {64, 32}, yd[1] = {64};
    hcg_tensor *x = NULL, *y = NULL;
    hcg_shape xs = hcg_shape_make(2, xd), ys = hcg_shape_make(1, yd);
    ok = ok && CHECK_OK(hcg_tensor_new(HCG_F32, &xs, &x)) && CHECK_OK(hcg_tensor_new(HCG_I64, &ys, &y));
    for (int i = 0; ok && i < 64 * 32; i++) ((float *)x->data)[i] = (float)(6 * rnd() - 3);
    for (int i = 0; ok && i < 64; i++) ((int64_t *)y->data)[i] = (int64_t)(10 * rnd()) % 10;
    snprintf(path, sizeof path, "%s/x.npy", dir);
    ok = ok && CHECK_OK(hcg_npy_save(path, x));
    snprintf(path, sizeof path, "%s/y.npy", dir);
    ok = ok && CHECK_OK(hcg_npy_save(path, y));
    hcg_tensor_free(x);
    hcg_tensor_free(y);
    return ok;
}

static bool train_cli(const char *dir, const char *devices, const char *save)
{
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' train mlp_loss.hcg --loss loss --data x=x.npy --data y=y.npy --optimizer sgd --lr 0.1 "
             "--momentum 0.9 --batch 16 --steps 20 --save %s --devices %s",
             dir, tl_hcg_bin(), save, devices);
    int rc = tl_run(cmd, out, sizeof out);
    return CHECK(rc == 0, "hcg train --devices %s: exit %d: %s", devices, rc, out);
}

static void train_cli_on(const char *dir, const char *devices)
{
    char path[1024], ref_path[1024];
    snprintf(ref_path, sizeof ref_path, "%s/cpu.safetensors", dir);
    if (!train_cli(dir, devices, "dev.safetensors")) return;
    snprintf(path, sizeof path, "%s/dev.safetensors", dir);
    hcg_st_file *got = NULL, *want = NULL;
    if (CHECK_OK(hcg_st_open(path, &got)) && CHECK_OK(hcg_st_open(ref_path, &want))) {
        CHECK(hcg_st_count(got) == 4 && hcg_st_count(want) == 4, "4 parameters saved (%d and %d)", hcg_st_count(got),
              hcg_st_count(want));
        /* Every float sum of a step (dot products of up to 64 terms: the hidden width) rounds by at
         * most 64 half-ulps; the parameters carry those of each of the 20 steps. */
        double tol = 20 * 64 * (FLT_EPSILON / 2);
        for (int i = 0; i < hcg_st_count(want); i++) {
            const hcg_st_entry *w = hcg_st_get(want, i), *gentry = hcg_st_find(got, w->name);
            hcg_tensor *a = NULL, *b = NULL;
            char what[256];
            snprintf(what, sizeof what, "hcg train --devices %s vs cpu: %s", devices, w->name);
            if (CHECK(gentry != NULL, "%s is saved", w->name) && CHECK_OK(hcg_st_tensor(got, gentry, &a)) &&
                CHECK_OK(hcg_st_tensor(want, w, &b)))
                params_close(a, b, tol, what);
            hcg_tensor_free(a);
            hcg_tensor_free(b);
        }
    }
    if (got) hcg_st_close(got);
    if (want) hcg_st_close(want);
}

int main(void)
{
    char devs[16][32];
    int n_ocl = 0;
    for (int i = 0; i < hcg_device_count() && n_ocl < 16; i++)
        if (strncmp(hcg_device_name(hcg_device_get(i)), "opencl:", 7) == 0)
            snprintf(devs[n_ocl++], sizeof devs[0], "%s", hcg_device_name(hcg_device_get(i)));
    if (n_ocl == 0) {
        return tl_skip("no OpenCL device");
    }
    for (int k = 0; k < n_ocl; k++) optimizers_on(devs[k]);
    const char *dir = tl_tmpdir();
    if (write_mlp_setup(dir) && train_cli(dir, "cpu", "cpu.safetensors")) {
        train_cli_on(dir, "opencl:0");
        if (n_ocl >= 2) train_cli_on(dir, "opencl:0,opencl:1");
    }
    return tl_finish();
}
