/* test_files.c — files a hostile or unlucky user hands to `hcg run`:
 *  - a FIFO as the graph file (.hcg, .onnx), the weights file, an npy input or a cost-profile cache
 *    entry ends promptly with "not a regular file (a FIFO)" (each run under `timeout`, so a hang
 *    fails the test instead of blocking it);
 *  - two outputs whose names map to one file, or an output file name taken by a folder, are
 *    refused before anything runs;
 *  - a write that fails (past `ulimit -f`, SIGXFSZ ignored) leaves the folder as it was; an output
 *    set interrupted while it is written (the process killed by SIGXFSZ) is recognisable (manifest.json says "complete": false, temporary files remain)
 *    and the next run into the folder cleans it up and writes a complete set;
 *  - an error about a path longer than the old 2 KB message limit still ends with its cause. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "testlib.h"

static char out[1 << 16];


static void fifo_refused(const char *what, const char *cmd, const char *fifo)
{
    unlink(fifo);
    if (!CHECK(mkfifo(fifo, 0644) == 0, "mkfifo %s: %s", fifo, strerror(errno))) return;
    int rc = tl_sh(out, sizeof out, "timeout 60 %s", cmd);
    CHECK(rc != 124, "%s: a FIFO makes hcg hang (killed after 60 s):\n%s", what, out);
    CHECK(rc == 1 && strstr(out, "not a regular file (a FIFO)"), "%s: refused at once (%d):\n%s", what, rc, out);
    unlink(fifo);
}

static void test_fifos(void)
{
    const char *bin = tl_hcg_bin();
    char cmd[4096];
    /* the graph file */
    snprintf(cmd, sizeof cmd, "'%s' run '%s' --input x=models/attention/x.npy", bin, tl_tmp("graph.hcg"));
    fifo_refused("graph file", cmd, tl_tmp("graph.hcg"));
#ifdef HCG_HAVE_ONNX
    snprintf(cmd, sizeof cmd, "'%s' run '%s'", bin, tl_tmp("graph.onnx"));
    fifo_refused("ONNX file", cmd, tl_tmp("graph.onnx"));
#endif
    /* an npy input */
    snprintf(cmd, sizeof cmd, "'%s' run models/attention/attention.hcg --input x='%s'", bin, tl_tmp("x.npy"));
    fifo_refused("npy input", cmd, tl_tmp("x.npy"));
    /* the weights file beside a copy of the graph */
    mkdir(tl_tmp("model"), 0755);
    char *text = tl_read_file(tl_src("models/attention/attention.hcg"), NULL);
    FILE *f = fopen(tl_tmp("model/attention.hcg"), "w");
    if (text && f) fputs(text, f);
    if (f) fclose(f);
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' run '%s' --input x=models/attention/x.npy", bin, tl_tmp("model/attention.hcg"));
    fifo_refused("weights file", cmd, tl_tmp("model/attention.safetensors"));
    /* a cost-profile cache entry: stored here, then replaced by a FIFO */
    hcg_device *cpu = hcg_device_find("cpu");
    if (CHECK(cpu && hcg_cost_store(cpu) == HCG_OK, "store the cpu's cost profile: %s", hcg_last_error())) {
        int rc = tl_sh(out, sizeof out, "ls '%s'/hcg/cost/", tl_tmp("cache"));
        char name[512] = "";
        sscanf(out, "%511s", name);
        char entry[1200];
        snprintf(entry, sizeof entry, "%s/hcg/cost/%s", tl_tmp("cache"), name);
        snprintf(cmd, sizeof cmd, "env XDG_CACHE_HOME='%s' '%s' devices", tl_tmp("cache"), bin);
        if (CHECK(rc == 0 && name[0], "the entry is in the cache: %s", out)) {
            unlink(entry);
            CHECK(mkfifo(entry, 0644) == 0, "mkfifo");
            rc = tl_sh(out, sizeof out, "timeout 60 %s", cmd);
            CHECK(rc == 0 && strstr(out, "(not a regular file); deleted"), "cost cache FIFO: noted and deleted (%d):\n%s",
                  rc, out);
            struct stat sb;
            CHECK(lstat(entry, &sb) != 0, "the FIFO is gone");
        }
    }
}

static void test_colliding_outputs(void)
{
    FILE *f = fopen(tl_tmp("collide.hcg"), "w");
    fputs("input x: f32[2]\ny = relu(x)\nz = neg(x)\noutput \"a/b\" = y, a_b = z\n", f);
    fclose(f);
    int rc = tl_sh(out, sizeof out, "'%s' run '%s' --input x=tests/data/formats/npy/f32_2x3.npy --output-dir '%s' 2>&1; ls '%s' | wc -l",
                tl_hcg_bin(), tl_tmp("collide.hcg"), tl_tmp("collide_out"), tl_tmp("collide_out"));
    (void)rc;
    CHECK(strstr(out, "the outputs 'a/b' and 'a_b' would both be written to") != NULL,
          "colliding output names are refused:\n%s", out);
    /* refused before running: the inputs do not even match the graph, yet that is not the error */
    CHECK(strstr(out, "must be") == NULL, "refused before the run:\n%s", out);
    /* an output's file name taken by a folder */
    mkdir(tl_tmp("taken"), 0755);
    mkdir(tl_tmp("taken/y.npy"), 0755);
    rc = tl_sh(out, sizeof out, "'%s' run models/attention/attention.hcg --input x=models/attention/x.npy --output-dir '%s'", tl_hcg_bin(),
            tl_tmp("taken"));
    CHECK(rc == 1 && strstr(out, "y.npy exists and is not a regular file"), "a folder in an output's place (%d):\n%s", rc,
          out);
}

/* manifest.json's "complete", or -1 when there is none. */
static int manifest_complete(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *text = tl_read_file(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    int r = root ? cJSON_IsTrue(cJSON_GetObjectItem(root, "complete")) : -1;
    cJSON_Delete(root);
    return r;
}

static int temp_files(const char *dir)
{
    tl_sh(out, sizeof out, "ls -a '%s' | grep -c '\\.tmp\\.' || true", dir);
    return atoi(out);
}

static void test_interrupted_outputs(void)
{
    /* small a, then big b (4 MiB): ulimit -f 256 (KiB) kills the process while it writes b */
    FILE *f = fopen(tl_tmp("two.hcg"), "w");
    fputs("input x: f32[1]\na = neg(x)\nb = expand(x, shape=[1024, 1024])\noutput a, b\n", f);
    fclose(f);
    const float v = 2.5f;
    CHECK(tl_save_f32(tl_tmp("x1.npy"), &v, 1), "x = [2.5]");
    const char *dir = tl_tmp("set");
    char run[4096];
    snprintf(run, sizeof run, "'%s' run '%s' --input x='%s' --output-dir '%s'", tl_hcg_bin(), tl_tmp("two.hcg"),
             tl_tmp("x1.npy"), dir);
    int rc = tl_sh(out, sizeof out, "%s", run);
    CHECK(rc == 0 && manifest_complete(dir) == 1, "a complete set says so (%d):\n%s", rc, out);
    /* a write that fails (SIGXFSZ ignored: EFBIG) leaves the folder as it was */
    rc = tl_sh(out, sizeof out, "(trap '' XFSZ; ulimit -f 256; %s)", run);
    CHECK(rc == 1 && strstr(out, "File too large"), "the write fails (exit %d):\n%s", rc, out);
    CHECK(manifest_complete(dir) == 1 && temp_files(dir) == 0, "the earlier complete set is left as it was");
    /* killed while writing (SIGXFSZ's default action; without an OpenCL runtime loaded, since
     * POCL's LLVM catches SIGXFSZ and the write then fails instead) */
    rc = tl_sh(out, sizeof out, "(ulimit -f 256; OCL_ICD_VENDORS=/nonexistent %s)", run);
    CHECK(rc != 0 && rc != 1, "the run is killed while it writes (exit %d):\n%s", rc, out);
    CHECK(manifest_complete(dir) == 0, "the interrupted set is marked incomplete");
    CHECK(temp_files(dir) > 0, "its temporary files are there");
    rc = tl_sh(out, sizeof out, "%s", run);
    CHECK(rc == 0 && strstr(out, "held an incomplete output set") && strstr(out, "temporary file"),
          "the next run cleans up and says so (%d):\n%s", rc, out);
    CHECK(manifest_complete(dir) == 1 && temp_files(dir) == 0, "then the set is complete, nothing temporary is left");
    hcg_tensor *a = NULL, *b = NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    if (CHECK_OK(hcg_npy_load(path, &a))) CHECK(((float *)a->data)[0] == -2.5f, "a = -x");
    snprintf(path, sizeof path, "%s/b.npy", dir);
    if (CHECK_OK(hcg_npy_load(path, &b))) {
        bool all = b->nbytes == 4u << 20;
        for (size_t i = 0; all && i < b->nbytes / 4; i++) all = ((float *)b->data)[i] == 2.5f;
        CHECK(all, "b is x everywhere");
    }
    hcg_tensor_free(a);
    hcg_tensor_free(b);
}

static void test_long_paths(void)
{
    /* a folder path of ~3000 bytes (the error messages were cut at 2 KB, losing the cause) */
    char path[4096];
    snprintf(path, sizeof path, "%s", tl_tmpdir());
    for (int i = 0; i < 12; i++) {
        size_t n = strlen(path);
        path[n] = '/';
        memset(path + n + 1, 'd', 240);
        path[n + 241] = 0;
        mkdir(path, 0755);
    }
    strcat(path, "/junk.npy");
    FILE *f = fopen(path, "w");
    if (!CHECK(f != NULL, "a file under a long path")) return;
    fputs("not an npy file at all", f);
    fclose(f);
    hcg_tensor *t = NULL;
    CHECK_FAILS(hcg_npy_load(path, &t), HCG_ERR_FORMAT, "junk.npy: not a .npy file (bad magic bytes)");
    int rc = tl_sh(out, sizeof out, "'%s' run models/attention/attention.hcg --input x='%s'", tl_hcg_bin(), path);
    CHECK(rc == 1 && strstr(out, "(bad magic bytes)"), "the command's message keeps the cause (%d):\n%.300s...", rc, out);
}

int main(void)
{
    setenv("XDG_CACHE_HOME", tl_tmp("cache"), 1);
    signal(SIGXFSZ, SIG_DFL); /* inherited by the runs: writing past `ulimit -f` kills them */
    test_fifos();
    test_colliding_outputs();
    test_interrupted_outputs();
    test_long_paths();
    return tl_finish();
}
