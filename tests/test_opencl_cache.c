/* test_opencl_cache.c — the OpenCL program cache across processes: `hcg run` of the attention
 * example on opencl:0 twice with a fresh hcg cache folder ($XDG_CACHE_HOME): the first run builds
 * its programs from source and stores them, the second builds nothing and loads them from the
 * cache (HCG_VERBOSE logs each build and load); both outputs match the model's PyTorch reference.
 * The set-up time of both runs is printed (not asserted: performance lives in bench/). POCL's own
 * cache stays where it was (POCL_CACHE_DIR), so only hcg's cache starts empty. Without an OpenCL
 * device the test passes with a note. */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void run_twice(const char *device)
{
    const char *tmp = tl_tmpdir(), *home = getenv("HOME");
    char pocl_env[1200] = "", cmd[4096], out[2][16384];
    if (!getenv("POCL_CACHE_DIR")) /* POCL would otherwise follow XDG_CACHE_HOME into the empty folder */
        snprintf(pocl_env, sizeof pocl_env, "POCL_CACHE_DIR='%s/.cache/pocl' ", home ? home : "/tmp");
    for (int run = 0; run < 2; run++) {
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && %sXDG_CACHE_HOME='%s/cache' HCG_VERBOSE=1 '%s' run models/attention/attention.hcg "
                 "--devices %s --input x=models/attention/x.npy --output-dir '%s/out%d' && "
                 "'%s' compare '%s/out%d/y.npy' models/attention/expected_x.npy --rtol 1e-4 --atol 1e-5",
                 tl_src("."), pocl_env, tmp, tl_hcg_bin(), device, tmp, run, tl_hcg_bin(), tmp, run);
        int rc = tl_run(cmd, out[run], sizeof out[run]);
        if (!CHECK(rc == 0, "run %d on %s failed (%d):\n%s", run + 1, device, rc, out[run])) return;
        const char *setup = strstr(out[run], "setup ");
        printf("%s run %d: %d programs built, %d loaded from the cache; %.*s\n", device, run + 1,
               count(out[run], "built program"), count(out[run], "from the cache"), setup ? (int)strcspn(setup, ",") : 0,
               setup ? setup : "");
    }
    CHECK(count(out[0], "built program") > 0, "the first run with an empty cache builds its programs:\n%s", out[0]);
    CHECK(count(out[1], "built program") == 0, "the second run builds no program:\n%s", out[1]);
    CHECK(count(out[1], "from the cache") == count(out[0], "built program"),
          "the second run loads from the cache what the first built:\n%s", out[1]);
}

int main(void)
{
    char out[8192], cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' devices", tl_hcg_bin());
    int rc = tl_run(cmd, out, sizeof out);
    if (!CHECK(rc == 0, "hcg devices failed:\n%s", out)) return tl_finish();
    if (!strstr(out, "opencl:0")) {
        printf("no OpenCL device: nothing to test\n");
        return tl_finish();
    }
    run_twice("opencl:0");
    return tl_finish();
}
