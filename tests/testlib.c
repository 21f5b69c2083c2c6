/* testlib.c — the test harness: counting checks, comparing tensors, paths and subprocesses. */
#include "testlib.h"

#include "graph/graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

int tl_passed, tl_failed;

bool tl_check(bool cond, const char *file, int line, const char *fmt, ...)
{
    if (cond) {
        tl_passed++;
        return true;
    }
    tl_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return false;
}

bool tl_check_status(hcg_status got, hcg_status want, const char *what, const char *file, int line)
{
    return tl_check(got == want, file, line, "%s returned %s, wanted %s: %s", what, hcg_status_name(got),
                    hcg_status_name(want), hcg_last_error());
}

bool tl_check_fails(hcg_status got, hcg_status want, const char *needle, const char *what, const char *file,
                    int line)
{
    const char *msg = hcg_last_error();
    bool ok = got == want && (!needle || strstr(msg, needle));
    return tl_check(ok, file, line, "%s: wanted %s containing '%s', got %s: '%s'", what, hcg_status_name(want),
                    needle ? needle : "", hcg_status_name(got), msg);
}

static char tmpdir_path[256];

static void remove_tmpdir(void)
{
    if (tmpdir_path[0] && !getenv("HCG_KEEP_TMP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_path);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir_path);
    }
}

const char *tl_tmpdir(void)
{
    if (!tmpdir_path[0]) {
        snprintf(tmpdir_path, sizeof tmpdir_path, "/tmp/hcg-test-XXXXXX");
        if (!mkdtemp(tmpdir_path)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(remove_tmpdir);
    }
    return tmpdir_path;
}

/* An attribute looked up by a name its op lacks is a bug that reads as zero: it fails the test. */
static void check_attr_lookups(void)
{
    char first[256];
    int misuses = hcg_attr_misuses(first, sizeof first);
    if (misuses) CHECK(false, "hcg looked up attributes their ops lack %d times; the first: %s", misuses, first);
}

int tl_finish(void)
{
    check_attr_lookups();
    printf("%d passed, %d failed\n", tl_passed, tl_failed);
    return tl_failed ? 1 : (tl_passed ? 0 : 1);
}

int tl_skip(const char *fmt, ...)
{
    va_list ap;
    printf("skipped: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    check_attr_lookups();
    if (tl_failed) return tl_finish();
    printf("%d passed, %d failed before skipping\n", tl_passed, tl_failed);
    return TL_SKIP;
}

/* f16 to f32 written here on purpose, differently from the library's graph/half.c: the reference
 * tensors are read without the code under test. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (!man) bits = sign;
        else {
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

double tl_get(const hcg_tensor *t, long i)
{
    switch (t->dtype) {
    case HCG_F32: return ((const float *)t->data)[i];
    case HCG_F16: return half_to_float(((const uint16_t *)t->data)[i]);
    case HCG_I32: return ((const int32_t *)t->data)[i];
    case HCG_I64: return (double)((const int64_t *)t->data)[i];
    case HCG_U8:
    case HCG_BOOL: return ((const uint8_t *)t->data)[i];
    case HCG_I8: return ((const int8_t *)t->data)[i];
    default: return NAN;
    }
}

static long numel(const hcg_tensor *t)
{
    int64_t n = 0;
    hcg_shape_numel(&t->shape, &n);
    return (long)n;
}

bool tl_tensor_close(const hcg_tensor *got, const hcg_tensor *want, double rtol, double atol, const char *what)
{
    char a[128], b[128];
    if (!got || !want) return CHECK(false, "%s: missing tensor", what);
    hcg_shape_format(&got->shape, a, sizeof a);
    hcg_shape_format(&want->shape, b, sizeof b);
    if (!CHECK(hcg_shape_equal(&got->shape, &want->shape) && got->dtype == want->dtype,
               "%s: got %s%s, want %s%s", what, hcg_dtype_name(got->dtype), a, hcg_dtype_name(want->dtype), b))
        return false;
    long n = numel(got), worst = -1, bad = 0;
    double worst_excess = 0;
    for (long i = 0; i < n; i++) {
        double g = tl_get(got, i), w = tl_get(want, i);
        if (isnan(w) && isnan(g)) continue;
        if (isinf(w) && g == w) continue;
        double err = fabs(g - w), lim = atol + rtol * fabs(w);
        if (!(err <= lim)) {
            bad++;
            double excess = isnan(err) ? INFINITY : err - lim;
            if (worst < 0 || excess > worst_excess) {
                worst = i;
                worst_excess = excess;
            }
        }
    }
    if (worst >= 0)
        return CHECK(false, "%s: %ld of %ld elements differ; worst at %ld: got %.9g, want %.9g (rtol %g, atol %g)",
                     what, bad, n, worst, tl_get(got, worst), tl_get(want, worst), rtol, atol);
    return CHECK(true, "%s", what);
}

double tl_nmse(const hcg_tensor *got, const hcg_tensor *want)
{
    long n = numel(want);
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        double g = tl_get(got, i), w = tl_get(want, i);
        num += (g - w) * (g - w);
        den += w * w;
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

const char *tl_src(const char *rel)
{
    static char bufs[8][1024];
    static int next;
    const char *root = getenv("HCG_SOURCE_DIR");
    char *b = bufs[next++ % 8];
    snprintf(b, 1024, "%s/%s", root ? root : ".", rel);
    return b;
}

hcg_tensor *tl_load_npy(const char *dir, const char *file)
{
    char rel[1024];
    hcg_tensor *t = NULL;
    snprintf(rel, sizeof rel, "%s/%s", dir, file);
    CHECK_OK(hcg_npy_load(tl_src(rel), &t));
    return t;
}

hcg_graph *tl_load_model(const char *dir, const char *file)
{
    char rel[1024];
    hcg_graph *g = NULL;
    snprintf(rel, sizeof rel, "%s/%s", dir, file);
    CHECK_OK(hcg_load(tl_src(rel), &g));
    return g;
}

void tl_train_options_from(const cJSON *o, hcg_train_options *opt)
{
    const char *name = cJSON_GetObjectItem(o, "optimizer")->valuestring;
    opt->optimizer = strcmp(name, "sgd") == 0 ? HCG_OPTIM_SGD : strcmp(name, "adam") == 0 ? HCG_OPTIM_ADAM : HCG_OPTIM_ADAMW;
    const cJSON *v;
    if ((v = cJSON_GetObjectItem(o, "lr"))) opt->lr = v->valuedouble;
    if ((v = cJSON_GetObjectItem(o, "momentum"))) opt->momentum = v->valuedouble;
    if ((v = cJSON_GetObjectItem(o, "weight_decay"))) opt->weight_decay = v->valuedouble;
}

const char *tl_test_devices(void)
{
    const char *spec = getenv("HCG_TEST_DEVICES");
    if (!spec || !*spec) return "cpu";
    hcg_device *sel[16];
    int n = 0;
    if (hcg_devices_select(spec, sel, 16, &n) != HCG_OK) {
        printf("devices '%s' are not all present (%s)\n", spec, hcg_last_error());
        return NULL;
    }
    return spec;
}

const char *tl_hcg_bin(void)
{
    const char *b = getenv("HCG_BIN");
    return b ? b : "hcg";
}

int tl_run(const char *cmd, char *out, size_t out_len)
{
    char full[8192];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t used = 0;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out && used + 1 < out_len) {
            size_t take = got < out_len - 1 - used ? got : out_len - 1 - used;
            memcpy(out + used, buf, take);
            used += take;
        }
    }
    if (out && out_len) out[used] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + (WIFSIGNALED(rc) ? WTERMSIG(rc) : 0);
}

char *tl_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len) *len = (size_t)n;
    }
    return buf;
}

int tl_sh(char *out, size_t out_len, const char *fmt, ...)
{
    char body[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s", tl_src("."), body);
    return tl_run(cmd, out, out_len);
}

const char *tl_tmp(const char *name)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tl_tmpdir(), name);
    return p;
}

bool tl_save_f32(const char *path, const float *values, int n)
{
    hcg_tensor *t = NULL;
    hcg_shape s = {.rank = 1, .dims = {n}};
    bool ok = hcg_tensor_new(HCG_F32, &s, &t) == HCG_OK;
    if (ok) {
        memcpy(t->data, values, sizeof(float) * (size_t)n);
        ok = hcg_npy_save(path, t) == HCG_OK;
    }
    hcg_tensor_free(t);
    return ok;
}
