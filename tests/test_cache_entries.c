/* test_cache_entries.c — the cache folder's checked entries (backend/cache.h) and the cost-profile
 * cache. An entry stored and loaded back is the same bytes; every kind of damage (truncated, a bit
 * flipped, longer than its header says, made for another device or from another source, another
 * format version, a folder or a FIFO where the file should be) is found, the entry deleted, and
 * the load reports it (promptly: a FIFO does not block). Cost profiles outside what a real device
 * can have (0 or 1e308 GFLOP/s) are refused and deleted. A cache folder that cannot be made (its
 * parent is a file) or whose name is too long is reported, never silently cut. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/cache.h"
#include "testlib.h"

static const hcg_cache_key key = {.what = "test", .identity = "test device; driver 1", .source = 0x1234, .max_length = 4096};

static char *entry_path(const char *name)
{
    static char path[4][1024];
    static int k;
    k = (k + 1) % 4;
    CHECK(hcg_cache_path(path[k], sizeof path[k], "test/%s", name), "a path in the cache folder");
    return path[k];
}

static bool gone(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) != 0;
}

/* Stores the payload, applies damage, expects the load to refuse and delete it. */
static void damaged(const char *what, void (*damage)(const char *path), const hcg_cache_key *load_key)
{
    const char *path = entry_path(what);
    const char payload[] = "the payload of a cache entry, long enough to damage in its second half";
    if (!CHECK_OK(hcg_cache_store(path, &key, payload, sizeof payload))) return;
    damage(path);
    void *data = NULL;
    size_t len = 0;
    hcg_cache_result r = hcg_cache_load(path, load_key ? load_key : &key, &data, &len);
    CHECK(r == HCG_CACHE_DAMAGED && !data, "%s: the entry is found damaged (%d)", what, (int)r);
    CHECK(gone(path), "%s: the damaged entry is deleted", what);
    free(data);
}

static void truncate_it(const char *path) { CHECK(truncate(path, 40) == 0, "truncate"); }
static void lengthen_it(const char *path)
{
    FILE *f = fopen(path, "ab");
    fputs("more", f);
    fclose(f);
}
static void flip_a_bit(const char *path)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, -10, SEEK_END);
    int c = fgetc(f);
    fseek(f, -10, SEEK_END);
    fputc(c ^ 0x04, f);
    fclose(f);
}
static void old_version(const char *path)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, 10, SEEK_SET); /* "hcg-cache 1" */
    fputc('7', f);
    fclose(f);
}
static void make_folder(const char *path)
{
    unlink(path);
    CHECK(mkdir(path, 0755) == 0, "mkdir");
}
static void make_fifo(const char *path)
{
    unlink(path);
    CHECK(mkfifo(path, 0644) == 0, "mkfifo");
}
static void nothing(const char *path) { (void)path; }

static void test_entries(void)
{
    const char *path = entry_path("good");
    const char payload[] = "binary\0payload";
    CHECK_OK(hcg_cache_store(path, &key, payload, sizeof payload));
    void *data = NULL;
    size_t len = 0;
    CHECK(hcg_cache_load(path, &key, &data, &len) == HCG_CACHE_OK && len == sizeof payload &&
              memcmp(data, payload, len) == 0,
          "an entry loads back as stored");
    free(data);
    CHECK(hcg_cache_load(entry_path("missing"), &key, &data, &len) == HCG_CACHE_MISSING, "no entry: missing");

    damaged("truncated", truncate_it, NULL);
    damaged("longer", lengthen_it, NULL);
    damaged("bit-flipped", flip_a_bit, NULL);
    damaged("version", old_version, NULL);
    damaged("folder", make_folder, NULL);
    damaged("fifo", make_fifo, NULL); /* returns at once: the open does not wait for a writer */
    hcg_cache_key other_device = key, other_source = key, smaller = key;
    other_device.identity = "another device; driver 1";
    other_source.source = 0x4321;
    smaller.max_length = 8;
    damaged("other-device", nothing, &other_device);
    damaged("other-source", nothing, &other_source);
    damaged("too-long", nothing, &smaller);
}

static void test_cost_profiles(void)
{
    hcg_device *cpu = hcg_device_find("cpu");
    if (!CHECK(cpu != NULL, "a cpu device")) return;
    hcg_cost_profile saved = cpu->cost;
    const double bad[] = {0, 1e308, -1};
    for (int i = 0; i < 3; i++) {
        cpu->cost = saved;
        cpu->cost.gflops = bad[i];
        CHECK_OK(hcg_cost_store(cpu));
        cpu->cost = saved;
        CHECK(!hcg_cost_load(cpu) && cpu->cost.gflops == saved.gflops, "a profile with %g GFLOP/s is refused", bad[i]);
    }
    cpu->cost = saved;
    cpu->cost.gflops = 123.5;
    cpu->cost.mem_gbps = 17;
    CHECK_OK(hcg_cost_store(cpu));
    cpu->cost = saved;
    CHECK(hcg_cost_load(cpu) && cpu->cost.gflops == 123.5 && cpu->cost.mem_gbps == 17 && cpu->cost.calibrated,
          "a sane profile loads");
    cpu->cost = saved;
}

/* Folders that cannot be used: reported in `hcg devices`' notes, nothing cut. */
static void test_bad_folders(void)
{
    char cmd[12000], out[16384], file[600];
    snprintf(file, sizeof file, "%s/a-file", tl_tmpdir());
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(cmd, sizeof cmd, "XDG_CACHE_HOME='%s' '%s' devices", file, tl_hcg_bin());
    int rc = tl_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "cannot create the folder") && strstr(out, "nothing is cached"),
          "a cache folder under a file is reported (%d):\n%s", rc, out);
    char longdir[5000];
    memset(longdir, 'x', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = 0;
    snprintf(cmd, sizeof cmd, "XDG_CACHE_HOME='%s' '%s' devices", longdir, tl_hcg_bin());
    rc = tl_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "is longer than") && strstr(out, "nothing is cached"),
          "an over-long XDG_CACHE_HOME is reported, not cut (%d):\n%s", rc, out);
}

int main(void)
{
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache", tl_tmpdir());
    setenv("XDG_CACHE_HOME", cache, 1); /* before the first use of the cache folder */
    if (!CHECK(hcg_cache_dir() != NULL, "a cache folder: %s", hcg_cache_problem() ? hcg_cache_problem() : "")) return tl_finish();
    test_entries();
    test_cost_profiles();
    test_bad_folders();
    return tl_finish();
}
