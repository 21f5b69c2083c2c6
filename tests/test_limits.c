/* test_limits.c — memory limits, checked when a plan is made, before anything is allocated:
 *  - the amplification graphs (a [1] input expanded to [100000, 50000], range and
 *    constant_of_shape of the same size) are refused by `hcg run --max-memory 4G` with "too large
 *    for cpu (needs 18.6 GiB, has 4.0 GiB)", quickly, writing nothing and staying small (the
 *    children's peak RSS); 1e12-element versions are refused with the devices' own limits;
 *  - --max-memory per device moves work off a device whose share does not fit, and a size that
 *    no selected device can hold is an error naming each device's limit;
 *  - arenas are split so no buffer exceeds a device's largest buffer (fake devices with
 *    HCG_FAKE_MAX_ALLOC; POCL with POCL_MEMORY_LIMIT=1, whose largest buffer is 256 MiB), and the
 *    results stay right (against libm's tanh, and a sum known in closed form);
 *  - a tensor larger than the largest buffer is reported as too large, never as an op the device
 *    does not support. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "backend/session_impl.h"
#include "testlib.h"

static char out[1 << 16];


static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void amplification(void)
{
    static const struct {
        const char *name, *node;
        const char *text;
        const char *needs;
    } graphs[] = {
        {"expand", "y", "input x: f32[1]\ny = expand(x, shape=[100000, 50000])\noutput y\n", "needs 18.6 GiB"},
        {"range", "r", "input x: f32[1]\nr = range(limit=5000000000, dtype=f32)\noutput r\n", "needs 18.6 GiB"},
        {"constant_of_shape", "c", "input x: f32[1]\nc = constant_of_shape(shape=[100000, 50000], value=1.5)\noutput c\n",
         "needs 18.6 GiB"},
        {"huge expand", "y", "input x: f32[1]\ny = expand(x, shape=[1000000, 1000000])\noutput y\n", "needs 3.6 TiB"},
    };
    const float one = 1;
    CHECK(tl_save_f32(tl_tmp("one.npy"), &one, 1), "x = [1]");
    for (size_t i = 0; i < sizeof graphs / sizeof graphs[0]; i++) {
        char path[64], outdir[64];
        snprintf(path, sizeof path, "amp%zu.hcg", i);
        snprintf(outdir, sizeof outdir, "amp%zu", i);
        write_text(tl_tmp(path), graphs[i].text);
        bool huge = strstr(graphs[i].needs, "TiB") != NULL;
        int rc = tl_sh(out, sizeof out, "timeout 120 '%s' run '%s' --input x='%s' --output-dir '%s' %s", tl_hcg_bin(), tl_tmp(path),
                    tl_tmp("one.npy"), tl_tmp(outdir), huge ? "" : "--max-memory 4G");
        char needle[128];
        snprintf(needle, sizeof needle, "too large for cpu (%s, has %s", graphs[i].needs, huge ? "" : "4.0 GiB");
        CHECK(rc == 1 && strstr(out, needle) && strstr(out, graphs[i].node), "%s: refused (%d):\n%s", graphs[i].name, rc,
              out);
        CHECK(!strstr(out, "does not support"), "%s: a size, not an op, is the problem:\n%s", graphs[i].name, out);
        char file[1200];
        snprintf(file, sizeof file, "%s/%s.npy", tl_tmp(outdir), graphs[i].node);
        struct stat sb;
        CHECK(stat(file, &sb) != 0, "%s: nothing is written", graphs[i].name);
    }
    /* refused before allocating: no child ever grew big (ASan's shadow memory included) */
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    CHECK(ru.ru_maxrss < 2L * 1024 * 1024, "the largest child stayed under 2 GiB (%ld KiB)", ru.ru_maxrss);
}

/* A chain of ten tanh over x [1024] (4 KiB each), every link an output: each node needs 8 KiB,
 * the whole plan over 40 KiB. */
static hcg_graph *chain(void)
{
    hcg_graph *g = hcg_graph_new();
    hcg_id v = hcg_input(g, "x", HCG_F32, 1, (int64_t[]){1024});
    for (int i = 0; i < 10; i++) {
        char name[16];
        v = hcg_unary(g, HCG_OP_TANH, v);
        snprintf(name, sizeof name, "t%d", i);
        hcg_output(g, v, name);
    }
    return g;
}

static void check_chain(hcg_tensor *const *y, const hcg_tensor *x, const char *what)
{
    bool ok = true;
    for (int i = 0; i < 1024 && ok; i++) {
        float v = ((const float *)x->data)[i];
        for (int k = 0; k < 10 && ok; k++) {
            v = tanhf(v);
            float got = ((const float *)y[k]->data)[i];
            ok = fabsf(got - v) <= 1e-6f + 1e-5f * fabsf(v);
            if (!ok) CHECK(false, "%s: t%d[%d] = %g, tanh gives %g", what, k, i, got, v);
        }
    }
    CHECK(ok, "%s: the ten tanh agree with libm", what);
}

static hcg_tensor *chain_input(void)
{
    hcg_tensor *x = NULL;
    hcg_tensor_new(HCG_F32, &(hcg_shape){.rank = 1, .dims = {1024}}, &x);
    for (int i = 0; i < 1024; i++) ((float *)x->data)[i] = (float)(i - 512) / 200.0f;
    return x;
}

/* --max-memory per device: a device whose share does not fit gets no work; nowhere to go is an
 * error naming the device's need and budget. */
static void budgets_move_work(void)
{
    hcg_graph *g = chain();
    hcg_tensor *x = chain_input(), *y[10] = {NULL};
    /* with 20 KiB every node fits on fake:0, but not the whole plan; with 4 KiB no node does */
    const char *limits[] = {NULL, "fake:0=20K", "fake:0=4K"};
    for (int k = 0; k < 3; k++) {
        hcg_session *s = NULL;
        if (!CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "fake:0,fake:1", .max_memory = limits[k]}, &s)))
            continue;
        if (CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, y))) {
            check_chain(y, x, limits[k] ? limits[k] : "no limit");
            int on_fake = 0;
            const hcg_plan *p = s->last_plan;
            for (int i = 0; i < p->n_exec; i++) on_fake += p->place[p->exec[i].id] == 0;
            CHECK(k == 0 || on_fake == 0, "%s: %d nodes on fake:0", limits[k] ? limits[k] : "no limit", on_fake);
            for (int d = 0; d < p->n_dev; d++)
                CHECK(!p->budget[d] || p->need[d] <= p->budget[d], "%s holds %zu of its %zu bytes", p->devs[d]->name,
                      p->need[d], p->budget[d]);
        }
        for (int i = 0; i < 10; i++) {
            hcg_tensor_free(y[i]);
            y[i] = NULL;
        }
        hcg_session_free(s);
    }
    /* nowhere to go: the plan's need and the budget */
    hcg_session *s = NULL;
    if (CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "fake:0", .max_memory = "20K"}, &s)))
        CHECK_FAILS(hcg_session_run(s, (const hcg_tensor *const *)&x, y), HCG_ERR_NOMEM,
                    "too large for fake:0 (needs 40.0 KiB, has 20.0 KiB)");
    hcg_session_free(s);
    CHECK_FAILS(hcg_session_new(g, &(hcg_session_options){.devices = "cpu", .max_memory = "opencl:9=1G"}, &s),
                HCG_ERR_ARG, "'opencl:9' is not one of the session's devices");
    CHECK_FAILS(hcg_session_new(g, &(hcg_session_options){.devices = "cpu", .max_memory = "4Q"}, &s), HCG_ERR_ARG,
                "'4Q' is not a size");
    hcg_tensor_free(x);
    hcg_graph_free(g);
}

/* HCG_FAKE_MAX_ALLOC=16384: the chain's 40 KiB arena on fake:0 takes several buffers. */
static void arenas_split_on_fakes(void)
{
    hcg_graph *g = chain();
    hcg_tensor *x = chain_input(), *y[10] = {NULL};
    hcg_session *s = NULL;
    if (CHECK_OK(hcg_session_new(g, &(hcg_session_options){.devices = "fake:0"}, &s)) &&
        CHECK_OK(hcg_session_run(s, (const hcg_tensor *const *)&x, y))) {
        check_chain(y, x, "a split arena");
        const hcg_plan *p = s->last_plan;
        CHECK(p->n_arenas[0] >= 3, "the arena (%zu bytes) is split (%d buffers)", p->arena_size[0], p->n_arenas[0]);
        for (int c = 0; c < p->n_arenas[0]; c++)
            CHECK(p->arena[0][c].size <= 16384, "buffer %d: %zu bytes", c, p->arena[0][c].size);
        for (int i = 0; i < p->n_allocs; i++)
            CHECK(p->allocs[i].offset + p->allocs[i].size <= p->arena[p->allocs[i].device][p->allocs[i].chunk].size,
                  "alloc %d lies inside its buffer", i);
    }
    for (int i = 0; i < 10; i++) hcg_tensor_free(y[i]);
    hcg_tensor_free(x);
    hcg_session_free(s);
    hcg_graph_free(g);
}

/* POCL_MEMORY_LIMIT=1: 1 GiB of device memory, 256 MiB per buffer. */
static void opencl_max_alloc(void)
{
    tl_sh(out, sizeof out, "'%s' devices", tl_hcg_bin());
    if (!strstr(out, "opencl:0")) {
        printf("no OpenCL device: the max-alloc checks on POCL are not run\n");
        return;
    }
    /* three live 120 MB tensors: 360 MB of arena in buffers of at most 256 MiB; sum = 2 * 30M */
    write_text(tl_tmp("big.hcg"), "input x: f32[1]\na = expand(x, shape=[30000000])\nb = add(a, a)\nc = mul(a, b)\n"
                               "d = add(c, a)\ns = reduce_sum(d, axes=[0], keepdims=0)\noutput s\n");
    int rc = tl_sh(out, sizeof out, "POCL_MEMORY_LIMIT=1 '%s' run '%s' --devices opencl:0 --input x='%s' --explain --output-dir '%s'",
                tl_hcg_bin(), tl_tmp("big.hcg"), tl_tmp("one.npy"), tl_tmp("big_out"));
    CHECK(rc == 0 && strstr(out, "in 2 buffers"), "the arena is split on opencl:0 (%d):\n%s", rc, out);
    hcg_tensor *s = NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/s.npy", tl_tmp("big_out"));
    if (rc == 0 && CHECK_OK(hcg_npy_load(path, &s)))
        CHECK(((float *)s->data)[0] > 0.999f * 9e7f && ((float *)s->data)[0] < 1.001f * 9e7f, "sum of 3 = %g (want 9e7)",
              ((float *)s->data)[0]);
    hcg_tensor_free(s);
    /* a matmul input larger than the largest buffer: too large, not "does not support matmul" */
    write_text(tl_tmp("mm.hcg"), "input x: f32[N, 8192]\ninput w: f32[8192, 4]\ny = matmul(x, w)\noutput y\n");
    rc = tl_sh(out, sizeof out, "POCL_MEMORY_LIMIT=1 '%s' plan '%s' --devices opencl:0 --shape x=9000x8192 --shape w=8192x4", tl_hcg_bin(),
            tl_tmp("mm.hcg"));
    CHECK(rc == 1 && strstr(out, "too large for opencl:0 ('x' needs one buffer of 281.2 MiB, the largest it allows is "
                                 "256.0 MiB)") &&
              !strstr(out, "does not support"),
          "an input over max-alloc is too large (%d):\n%s", rc, out);
}

int main(void)
{
    setenv("HCG_FAKE_DEVICES", "2", 1);
    setenv("HCG_FAKE_MAX_ALLOC", "16384", 1);
    amplification();
    budgets_move_work();
    arenas_split_on_fakes();
    opencl_max_alloc();
    return tl_finish();
}
