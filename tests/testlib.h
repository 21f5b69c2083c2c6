/* testlib.h — the small test harness every test program uses: checks that count and report,
 * tensor comparison against references (max error, NMSE), data paths, and running the CLI. */
#ifndef HCG_TESTLIB_H
#define HCG_TESTLIB_H

#include <stdbool.h>
#include <stdio.h>

#include "graph/compiler.h"
#include "hcg/hcg.h"

extern int tl_passed, tl_failed;

/* Records one check; prints the failure with its location. Returns cond. */
bool tl_check(bool cond, const char *file, int line, const char *fmt, ...)
    HCG_PRINTF(4, 5);
#define CHECK(cond, ...) tl_check((cond), __FILE__, __LINE__, __VA_ARGS__)
/* A call that must return HCG_OK; prints hcg_last_error otherwise. */
#define CHECK_OK(expr) tl_check_status((expr), HCG_OK, #expr, __FILE__, __LINE__)
bool tl_check_status(hcg_status got, hcg_status want, const char *what, const char *file, int line);
/* A call that must fail with status want and an error message containing needle. */
#define CHECK_FAILS(expr, want, needle) tl_check_fails((expr), (want), (needle), #expr, __FILE__, __LINE__)
bool tl_check_fails(hcg_status got, hcg_status want, const char *needle, const char *what, const char *file,
                    int line);

/* Prints "N passed, N failed" and returns the exit code for main (a test that checked nothing
 * fails: it must have skipped instead). */
int tl_finish(void);
/* The test cannot run here (no OpenCL device, the devices of $HCG_TEST_DEVICES absent, a build
 * without the feature): prints "skipped: why" and returns TL_SKIP for main, which ctest reports as
 * skipped (SKIP_RETURN_CODE, tests/CMakeLists.txt) rather than passed or failed. Checks that ran
 * before and failed still fail the test. */
#define TL_SKIP 77
int tl_skip(const char *fmt, ...) HCG_PRINTF(1, 2);

/* Compares got with want elementwise (dtypes and shapes must match; f16/f32 compared as floats):
 * |got - want| <= atol + rtol * |want| everywhere. Reports the worst element. */
bool tl_tensor_close(const hcg_tensor *got, const hcg_tensor *want, double rtol, double atol, const char *what);
/* Normalised mean squared error sum((g-w)^2) / sum(w^2) (0 when both are zero). */
double tl_nmse(const hcg_tensor *got, const hcg_tensor *want);
/* The tensor's element i as a double. */
double tl_get(const hcg_tensor *t, long i);

/* $HCG_SOURCE_DIR/rel (static buffer rotation of 8). */
const char *tl_src(const char *rel);
/* The .npy file and the model (.hcg or .onnx) dir/file of the source folder, loaded; a failure is a
 * failed check and gives NULL. */
hcg_tensor *tl_load_npy(const char *dir, const char *file);
hcg_graph *tl_load_model(const char *dir, const char *file);
/* The optimizer options of a training case (tests/train/cases*.json: "optimizer", "lr",
 * "momentum", "weight_decay") into opt. */
struct cJSON;
void tl_train_options_from(const struct cJSON *o, hcg_train_options *opt);
/* A fresh temporary directory for this test (removed at exit). */
const char *tl_tmpdir(void);
/* Runs a shell command, capturing stdout+stderr into out (may be NULL); returns the exit code. */
int tl_run(const char *cmd, char *out, size_t out_len);
/* tl_run of a formatted command in the source folder ($HCG_SOURCE_DIR). */
int tl_sh(char *out, size_t out_len, const char *fmt, ...) HCG_PRINTF(3, 4);
/* tl_tmpdir()/name (static buffer rotation of 8). */
const char *tl_tmp(const char *name);
/* Writes a one-dimensional f32 .npy of n values to path (through hcg_npy_save). */
bool tl_save_f32(const char *path, const float *values, int n);
/* The device spec a test runs on: $HCG_TEST_DEVICES, default "cpu". NULL (with a note printed)
 * when those devices are not all present: the test then skips (tl_skip). */
const char *tl_test_devices(void);
/* The hcg CLI binary ($HCG_BIN). */
const char *tl_hcg_bin(void);
/* Reads a whole file (NULL if missing); caller frees. */
char *tl_read_file(const char *path, size_t *len);

#endif
