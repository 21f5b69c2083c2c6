/* test_npy.c — .npy reading and writing against files numpy wrote
 * (tests/data/formats/make_format_files.py): every dtype, scalars, empty dims, format versions
 * 1-3, our writer's bytes equal to numpy's, round trips, and malformed files rejected with a
 * message naming the file and the problem. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

/* tl_src copies into its own rotating buffers, so the result outlives rel. */
static const char *npy(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/formats/npy/%s", name);
    return tl_src(rel);
}

static bool shape_is(const hcg_tensor *t, int rank, const int64_t *dims)
{
    if (t->shape.rank != rank) return false;
    for (int i = 0; i < rank; i++)
        if (t->shape.dims[i] != dims[i]) return false;
    return true;
}

static void test_good_files(void)
{
    hcg_tensor *t = NULL;

    /* f32_2x3 = arange(6) * 0.5 - 1.25 */
    if (CHECK_OK(hcg_npy_load(npy("f32_2x3.npy"), &t))) {
        CHECK(t->dtype == HCG_F32 && shape_is(t, 2, (int64_t[]){2, 3}), "f32_2x3: dtype/shape");
        for (int i = 0; i < 6; i++) CHECK(((float *)t->data)[i] == i * 0.5f - 1.25f, "f32_2x3[%d]", i);
        hcg_tensor_free(t);
    }
    /* f16 bit patterns of 0, 1, -2.5, 65504, 2^-14 (IEEE binary16). */
    if (CHECK_OK(hcg_npy_load(npy("f16_5.npy"), &t))) {
        static const uint16_t want[5] = {0x0000, 0x3c00, 0xc100, 0x7bff, 0x0400};
        CHECK(t->dtype == HCG_F16 && shape_is(t, 1, (int64_t[]){5}), "f16_5: dtype/shape");
        CHECK(memcmp(t->data, want, sizeof want) == 0, "f16_5: bits");
        hcg_tensor_free(t);
    }
    if (CHECK_OK(hcg_npy_load(npy("i32_3x1x2.npy"), &t))) {
        CHECK(t->dtype == HCG_I32 && shape_is(t, 3, (int64_t[]){3, 1, 2}), "i32: dtype/shape");
        for (int i = 0; i < 6; i++) CHECK(((int32_t *)t->data)[i] == i - 3, "i32[%d]", i);
        hcg_tensor_free(t);
    }
    if (CHECK_OK(hcg_npy_load(npy("i64_4.npy"), &t))) {
        const int64_t want[4] = {-(INT64_C(1) << 62), -1, 0, (INT64_C(1) << 62) + 3};
        CHECK(t->dtype == HCG_I64 && shape_is(t, 1, (int64_t[]){4}), "i64: dtype/shape");
        CHECK(memcmp(t->data, want, sizeof want) == 0, "i64 values");
        hcg_tensor_free(t);
    }
    if (CHECK_OK(hcg_npy_load(npy("u8_2x2.npy"), &t))) {
        const uint8_t want[4] = {0, 1, 254, 255};
        CHECK(t->dtype == HCG_U8 && shape_is(t, 2, (int64_t[]){2, 2}), "u8: dtype/shape");
        CHECK(memcmp(t->data, want, sizeof want) == 0, "u8 values");
        hcg_tensor_free(t);
    }
    if (CHECK_OK(hcg_npy_load(npy("bool_3.npy"), &t))) {
        const uint8_t want[3] = {1, 0, 1};
        CHECK(t->dtype == HCG_BOOL && shape_is(t, 1, (int64_t[]){3}), "bool: dtype/shape");
        CHECK(memcmp(t->data, want, sizeof want) == 0, "bool values");
        hcg_tensor_free(t);
    }
    if (CHECK_OK(hcg_npy_load(npy("scalar_f32.npy"), &t))) {
        CHECK(t->dtype == HCG_F32 && t->shape.rank == 0 && t->nbytes == 4, "scalar: rank 0");
        CHECK(((float *)t->data)[0] == 3.5f, "scalar value");
        hcg_tensor_free(t);
    }
    if (CHECK_OK(hcg_npy_load(npy("empty_0x3_f32.npy"), &t))) {
        CHECK(shape_is(t, 2, (int64_t[]){0, 3}) && t->nbytes == 0, "empty: shape [0, 3], no bytes");
        hcg_tensor_free(t);
    }
    if (CHECK_OK(hcg_npy_load(npy("v2_f32_4.npy"), &t))) {
        CHECK(t->dtype == HCG_F32 && shape_is(t, 1, (int64_t[]){4}), "v2: shape");
        for (int i = 0; i < 4; i++) CHECK(((float *)t->data)[i] == (float)i, "v2[%d]", i);
        hcg_tensor_free(t);
    }
    if (CHECK_OK(hcg_npy_load(npy("v3_i32_3.npy"), &t))) {
        CHECK(t->dtype == HCG_I32 && shape_is(t, 1, (int64_t[]){3}), "v3: shape");
        for (int i = 0; i < 3; i++) CHECK(((int32_t *)t->data)[i] == 7 * i, "v3[%d]", i);
        hcg_tensor_free(t);
    }
}

/* Loading a numpy-written file and saving it again gives numpy's exact bytes. */
static void test_writer_matches_numpy(void)
{
    static const char *files[] = {"f32_2x3.npy", "f16_5.npy",    "i32_3x1x2.npy",     "i64_4.npy",
                                  "u8_2x2.npy",  "bool_3.npy",   "scalar_f32.npy",    "empty_0x3_f32.npy"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        hcg_tensor *t = NULL;
        char out[512];
        snprintf(out, sizeof out, "%s/%s", tl_tmpdir(), files[i]);
        if (!CHECK_OK(hcg_npy_load(npy(files[i]), &t))) continue;
        if (CHECK_OK(hcg_npy_save(out, t))) {
            size_t n1 = 0, n2 = 0;
            char *a = tl_read_file(npy(files[i]), &n1), *b = tl_read_file(out, &n2);
            CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0, "%s: saved bytes differ from numpy's", files[i]);
            free(a);
            free(b);
        }
        hcg_tensor_free(t);
    }
}

/* A made-up tensor of every dtype and a few shapes survives save + load bit for bit. */
static void test_round_trip(void)
{
    const hcg_shape shapes[] = {hcg_shape_make(0, NULL), hcg_shape_make(1, (int64_t[]){7}),
                                hcg_shape_make(3, (int64_t[]){2, 0, 5}),
                                hcg_shape_make(8, (int64_t[]){1, 2, 1, 3, 1, 2, 1, 2})};
    for (int d = 0; d < HCG_DTYPE_COUNT; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            hcg_tensor *t = NULL, *back = NULL;
            if (!CHECK_OK(hcg_tensor_new((hcg_dtype)d, &shapes[s], &t))) continue;
            unsigned char *p = t->data;
            for (size_t i = 0; i < t->nbytes; i++) p[i] = (unsigned char)(d == HCG_BOOL ? i % 2 : i * 37 + 11);
            char path[512];
            snprintf(path, sizeof path, "%s/rt_%d_%zu.npy", tl_tmpdir(), d, s);
            if (CHECK_OK(hcg_npy_save(path, t)) && CHECK_OK(hcg_npy_load(path, &back))) {
                CHECK(back->dtype == t->dtype && hcg_shape_equal(&back->shape, &t->shape) && back->nbytes == t->nbytes &&
                          (t->nbytes == 0 || memcmp(back->data, t->data, t->nbytes) == 0),
                      "round trip of %s shape #%zu", hcg_dtype_name((hcg_dtype)d), s);
            }
            hcg_tensor_free(back);
            hcg_tensor_free(t);
        }
    }
}

static void expect_bad(const char *file, hcg_status want, const char *needle)
{
    hcg_tensor *t = (hcg_tensor *)1;
    const char *path = npy(file);
    hcg_status st = hcg_npy_load(path, &t);
    CHECK_FAILS(st, want, needle);
    CHECK(t == NULL, "%s: *out is NULL after a failure", file);
    CHECK(strstr(hcg_last_error(), file) != NULL, "%s: the message names the file: %s", file, hcg_last_error());
}

static void test_bad_files(void)
{
    expect_bad("bad_bad_magic.npy", HCG_ERR_FORMAT, "bad magic");
    expect_bad("bad_truncated_preamble.npy", HCG_ERR_FORMAT, "truncated");
    expect_bad("bad_truncated_header.npy", HCG_ERR_FORMAT, "runs past the end");
    expect_bad("bad_header_past_end.npy", HCG_ERR_FORMAT, "header length 5000 runs past the end");
    expect_bad("bad_truncated_data.npy", HCG_ERR_FORMAT, "data is truncated: shape [2, 3] of <f4 needs 24 bytes, the file has 20");
    expect_bad("bad_trailing_data.npy", HCG_ERR_FORMAT, "4 unexpected bytes after the data");
    expect_bad("bad_fortran.npy", HCG_ERR_UNSUPPORTED, "Fortran-order");
    expect_bad("bad_big_endian.npy", HCG_ERR_UNSUPPORTED, "big-endian data ('>f4')");
    expect_bad("bad_f64.npy", HCG_ERR_UNSUPPORTED, "dtype '<f8' is not supported");
    expect_bad("bad_overflow_shape.npy", HCG_ERR_FORMAT, "element count of shape [4611686018427387904, 4] overflows");
    expect_bad("bad_huge_dim.npy", HCG_ERR_FORMAT, "does not fit in 64 bits");
    expect_bad("bad_garbage_dict.npy", HCG_ERR_FORMAT, "expected a quoted key");
    expect_bad("bad_missing_key.npy", HCG_ERR_FORMAT, "lacks the key 'fortran_order'");
    expect_bad("bad_extra_key.npy", HCG_ERR_FORMAT, "unexpected key 'x'");
    expect_bad("bad_not_tuple.npy", HCG_ERR_FORMAT, "is not a tuple");
    expect_bad("bad_negative_dim.npy", HCG_ERR_FORMAT, "non-negative integer");
    expect_bad("bad_bad_bool.npy", HCG_ERR_FORMAT, "bool element 1 holds 2");
    expect_bad("bad_version_4.npy", HCG_ERR_UNSUPPORTED, "version 4.0");
    expect_bad("bad_structured.npy", HCG_ERR_FORMAT, "structured dtypes are not supported");
    hcg_tensor *t = NULL;
    CHECK_FAILS(hcg_npy_load(npy("no_such_file.npy"), &t), HCG_ERR_IO, "no_such_file.npy: cannot open");
}

static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Saves replace the target whole or not at all, and leave no temporary file behind. */
static void test_atomic_save(void)
{
    char dir[512], path[600], sub[600];
    snprintf(dir, sizeof dir, "%s/atomic", tl_tmpdir());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/a.npy", dir);
    hcg_tensor *t = NULL, *back = NULL;
    if (!CHECK_OK(hcg_tensor_new(HCG_F32, &(hcg_shape){.rank = 1, .dims = {3}}, &t))) return;
    ((float *)t->data)[0] = 1;
    CHECK_OK(hcg_npy_save(path, t));
    ((float *)t->data)[0] = 2;
    CHECK_OK(hcg_npy_save(path, t)); /* replaces */
    if (CHECK_OK(hcg_npy_load(path, &back))) CHECK(((float *)back->data)[0] == 2, "the second save replaced the file");
    hcg_tensor_free(back);
    CHECK(count_entries(dir) == 1, "only a.npy in the folder");
    /* Renaming over a directory fails after the temporary file was written: it must be removed. */
    snprintf(sub, sizeof sub, "%s/sub.npy", dir);
    mkdir(sub, 0755);
    CHECK_FAILS(hcg_npy_save(sub, t), HCG_ERR_IO, "sub.npy");
    CHECK(count_entries(dir) == 2, "a failed save leaves no temporary file (%d entries)", count_entries(dir));
    snprintf(sub, sizeof sub, "%s/missing/x.npy", dir);
    CHECK_FAILS(hcg_npy_save(sub, t), HCG_ERR_IO, "missing/x.npy");
    /* A tensor whose byte count disagrees with its shape is refused before anything is written. */
    t->nbytes = 8;
    CHECK_FAILS(hcg_npy_save(path, t), HCG_ERR_ARG, "does not match its shape");
    t->nbytes = 12;
    hcg_tensor_free(t);
}

int main(void)
{
    test_good_files();
    test_writer_matches_numpy();
    test_round_trip();
    test_bad_files();
    test_atomic_save();
    return tl_finish();
}
