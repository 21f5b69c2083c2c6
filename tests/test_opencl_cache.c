/* test_opencl_cache.c — the OpenCL program cache across processes: `hcg run` of the attention
 * example on opencl:0 twice with a fresh hcg cache folder ($XDG_CACHE_HOME): the first run builds
 * its programs from source and stores them, the second builds nothing and loads them from the
 * cache (HCG_VERBOSE logs each build and load); both outputs match the model's PyTorch reference.
 * The set-up time of both runs is printed (not asserted: performance lives in bench/). POCL's own
 * cache stays where it was (POCL_CACHE_DIR), so only hcg's cache starts empty.
 * Then the entries are damaged — truncated to 100 bytes, bytes flipped in their second half,
 * another program's entry copied over one, another program's binary under a forged header with a
 * right checksum, a folder and a FIFO in an entry's place — and each heals: the next run notes
 * the damage, rebuilds from source and gives the right result, and the run after loads everything
 * from the cache again. Without an OpenCL device the test passes with a note. */
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/cache.h"

#include "testlib.h"

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static char pocl_env[1200];

/* One `hcg run` of the attention example with the test's cache folder; the output must match. */
static bool run_once(const char *device, int run, char *out, size_t out_len)
{
    const char *tmp = tl_tmpdir();
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && %sXDG_CACHE_HOME='%s/cache' HCG_VERBOSE=1 timeout 120 '%s' run models/attention/attention.hcg "
             "--devices %s --input x=models/attention/x.npy --output-dir '%s/out%d' && "
             "'%s' compare '%s/out%d/y.npy' models/attention/expected_x.npy --rtol 1e-4 --atol 1e-5",
             tl_src("."), pocl_env, tmp, tl_hcg_bin(), device, tmp, run, tl_hcg_bin(), tmp, run);
    int rc = tl_run(cmd, out, out_len);
    return CHECK(rc == 0, "run %d on %s failed (%d):\n%s", run, device, rc, out);
}

static void run_twice(const char *device)
{
    char out[2][16384];
    for (int run = 0; run < 2; run++) {
        if (!run_once(device, run, out[run], sizeof out[run])) return;
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

/* The cached programs' paths, sorted. */
static int entries(char (*paths)[1024], int max)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/cache/hcg/opencl", tl_tmpdir());
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp") && n < max)
            snprintf(paths[n++], 1024, "%s/%s", dir, e->d_name);
    if (d) closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(paths[i], paths[j]) > 0) {
                char t[1024];
                memcpy(t, paths[i], 1024);
                memcpy(paths[i], paths[j], 1024);
                memcpy(paths[j], t, 1024);
            }
    return n;
}

static bool copy_file(const char *from, const char *to)
{
    size_t len;
    char *data = tl_read_file(from, &len);
    FILE *f = data ? fopen(to, "wb") : NULL;
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f) ok &= fclose(f) == 0;
    free(data);
    return ok;
}

/* Program b's header (its identity and source hash) over program a's binary, checksum right:
 * only the check that every kernel is there can tell. */
static bool forge(const char *a, const char *b)
{
    size_t la, lb;
    char *da = tl_read_file(a, &la), *db = tl_read_file(b, &lb);
    char *ea = da ? memchr(da, '\n', la) : NULL, *eb = db ? memchr(db, '\n', lb) : NULL;
    char *src = db ? strstr(db, "source=") : NULL, *id = db ? strstr(db, " id=") : NULL;
    bool ok = false;
    if (ea && eb && src && id && id < eb) {
        const char *payload = ea + 1;
        size_t n = la - (size_t)(payload - da);
        FILE *f = fopen(b, "wb");
        if (f) {
            fprintf(f, "hcg-cache 1 %.23s length=%zu fnv64=%016" PRIx64 "%.*s\n", src, n, hcg_fnv64(0, payload, n),
                    (int)(eb - id), id);
            ok = fwrite(payload, 1, n, f) == n;
            ok &= fclose(f) == 0;
        }
    }
    free(da);
    free(db);
    return ok;
}

static void heal(const char *device)
{
    char paths[16][1024], out[16384];
    int n = entries(paths, 16);
    if (!CHECK(n >= 4, "the attention example caches at least 4 programs (%d)", n)) return;
    /* 0: truncated; 1: bytes flipped in its second half; 2: program 3's entry; 3: a folder */
    CHECK(truncate(paths[0], 100) == 0, "truncate %s", paths[0]);
    size_t len;
    char *data = tl_read_file(paths[1], &len);
    FILE *f = data ? fopen(paths[1], "wb") : NULL;
    if (f) {
        for (size_t i = len / 2; i < len; i += 997) data[i] = (char)~data[i];
        fwrite(data, 1, len, f);
        fclose(f);
    }
    free(data);
    CHECK(copy_file(paths[3], paths[2]), "copy %s over %s", paths[3], paths[2]);
    CHECK(unlink(paths[3]) == 0 && mkdir(paths[3], 0755) == 0, "a folder at %s", paths[3]);
    if (!run_once(device, 2, out, sizeof out)) return;
    CHECK(count(out, "was damaged") == 4 && strstr(out, "(no valid header)") && strstr(out, "(checksum mismatch)") &&
              strstr(out, "(made for another program, device or driver)") && strstr(out, "(a folder, not a file)"),
          "each damaged entry is noted once, with its damage:\n%s", out);
    CHECK(count(out, "built program") == 4, "the four damaged programs are rebuilt:\n%s", out);
    if (!run_once(device, 3, out, sizeof out)) return;
    CHECK(count(out, "built program") == 0 && count(out, "from the cache") == n, "healed: everything loads:\n%s", out);

    /* a forged header (another program's binary, checksum right) and a FIFO */
    CHECK(forge(paths[0], paths[1]), "forge %s", paths[1]);
    CHECK(unlink(paths[2]) == 0 && mkfifo(paths[2], 0644) == 0, "a FIFO at %s", paths[2]);
    if (!run_once(device, 4, out, sizeof out)) return; /* `timeout 120`: a FIFO must not block */
    CHECK(strstr(out, "(it lacks the kernel") && strstr(out, "(not a regular file)") && count(out, "built program") == 2,
          "a binary without the program's kernels and a FIFO are noted and rebuilt:\n%s", out);
    if (!run_once(device, 5, out, sizeof out)) return;
    CHECK(count(out, "built program") == 0 && count(out, "from the cache") == n, "healed again:\n%s", out);
}

int main(void)
{
    const char *home = getenv("HOME");
    if (!getenv("POCL_CACHE_DIR")) /* POCL would otherwise follow XDG_CACHE_HOME into the empty folder */
        snprintf(pocl_env, sizeof pocl_env, "POCL_CACHE_DIR='%s/.cache/pocl' ", home ? home : "/tmp");
    char out[8192], cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' devices", tl_hcg_bin());
    int rc = tl_run(cmd, out, sizeof out);
    if (!CHECK(rc == 0, "hcg devices failed:\n%s", out)) return tl_finish();
    if (!strstr(out, "opencl:0")) {
        return tl_skip("no OpenCL device");
    }
    run_twice("opencl:0");
    heal("opencl:0");
    return tl_finish();
}
