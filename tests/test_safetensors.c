/* test_safetensors.c — safetensors reading against files the `safetensors` package wrote
 * (tests/data/formats/make_format_files.py): every dtype, scalars, empty tensors, metadata,
 * borrowed (mapped) data, misaligned data; hcg_st_save writing the package's exact bytes;
 * malformed files rejected with a message naming the file, the tensor and the problem; tensors of
 * dtypes hcg does not compute with (BF16, F64) an error only when used. */
#include <stdlib.h>
#include <string.h>

#include "graph/safetensors.h"
#include "testlib.h"

/* tl_src copies into its own rotating buffers, so the result outlives rel. */
static const char *st(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/formats/safetensors/%s", name);
    return tl_src(rel);
}

static bool shape_is(const hcg_shape *s, int rank, const int64_t *dims)
{
    if (s->rank != rank) return false;
    for (int i = 0; i < rank; i++)
        if (s->dims[i] != dims[i]) return false;
    return true;
}

/* The tensors of good.safetensors, as the generator made them. */
static void check_good_entries(hcg_st_file *f)
{
    CHECK(hcg_st_count(f) == 8, "8 tensors (metadata is not one), got %d", hcg_st_count(f));
    const hcg_st_entry *e;
    hcg_tensor *t = NULL;

    /* w_f32 = arange(6).reshape(2, 3) * 0.25 */
    if (CHECK((e = hcg_st_find(f, "w_f32")) != NULL, "w_f32 present")) {
        CHECK(e->dtype == HCG_F32 && shape_is(&e->shape, 2, (int64_t[]){2, 3}), "w_f32 type");
        if (CHECK_OK(hcg_st_tensor(f, e, &t))) {
            CHECK(!t->owns_data && t->data == e->data, "w_f32 borrows the mapping");
            for (int i = 0; i < 6; i++) CHECK(((float *)t->data)[i] == 0.25f * (float)i, "w_f32[%d]", i);
            hcg_tensor_free(t);
        }
    }
    if (CHECK((e = hcg_st_find(f, "h_f16")) != NULL, "h_f16 present")) {
        static const uint16_t want[4] = {0x3c00, 0xb800, 0x7bff, 0x0000}; /* 1, -0.5, 65504, 0 */
        CHECK(e->dtype == HCG_F16 && shape_is(&e->shape, 1, (int64_t[]){4}), "h_f16 type");
        CHECK(memcmp(e->data, want, sizeof want) == 0, "h_f16 bits");
    }
    if (CHECK((e = hcg_st_find(f, "idx_i32")) != NULL, "idx_i32 present")) {
        const int32_t want[3] = {7, -8, 9};
        CHECK(e->dtype == HCG_I32 && memcmp(e->data, want, sizeof want) == 0, "idx_i32");
    }
    if (CHECK((e = hcg_st_find(f, "big_i64")) != NULL, "big_i64 present")) {
        const int64_t want[2] = {(INT64_C(1) << 40) + 1, -5};
        CHECK(e->dtype == HCG_I64 && memcmp(e->data, want, sizeof want) == 0, "big_i64");
    }
    if (CHECK((e = hcg_st_find(f, "bytes_u8")) != NULL, "bytes_u8 present")) {
        const uint8_t want[5] = {0, 128, 255, 1, 2};
        CHECK(e->dtype == HCG_U8 && e->nbytes == 5 && memcmp(e->data, want, 5) == 0, "bytes_u8");
    }
    if (CHECK((e = hcg_st_find(f, "mask_bool")) != NULL, "mask_bool present")) {
        const uint8_t want[3] = {1, 0, 1};
        CHECK(e->dtype == HCG_BOOL && memcmp(e->data, want, 3) == 0, "mask_bool");
        if (CHECK_OK(hcg_st_tensor(f, e, &t))) hcg_tensor_free(t);
    }
    if (CHECK((e = hcg_st_find(f, "scalar")) != NULL, "scalar present")) {
        CHECK(e->dtype == HCG_F32 && e->shape.rank == 0 && e->nbytes == 4 && *(const float *)e->data == -2.5f, "scalar");
    }
    if (CHECK((e = hcg_st_find(f, "empty")) != NULL, "empty present")) {
        CHECK(shape_is(&e->shape, 2, (int64_t[]){0, 3}) && e->nbytes == 0, "empty [0, 3]");
        if (CHECK_OK(hcg_st_tensor(f, e, &t))) {
            CHECK(t->nbytes == 0, "empty tensor has no bytes");
            hcg_tensor_free(t);
        }
    }
    CHECK(hcg_st_find(f, "__metadata__") == NULL && hcg_st_find(f, "nope") == NULL, "no such entries");
}

static void test_good(void)
{
    hcg_st_file *f = NULL;
    if (CHECK_OK(hcg_st_open(st("good.safetensors"), &f))) {
        check_good_entries(f);
        hcg_st_close(f);
    }
    /* Data at an odd offset is copied so that it can be read as floats. */
    if (CHECK_OK(hcg_st_open(st("misaligned.safetensors"), &f))) {
        const hcg_st_entry *e = hcg_st_find(f, "f");
        hcg_tensor *t = NULL;
        if (CHECK(e != NULL, "f present") && CHECK_OK(hcg_st_tensor(f, e, &t))) {
            CHECK(t->owns_data && ((uintptr_t)t->data % 4) == 0, "misaligned data is copied to aligned memory");
            CHECK(((float *)t->data)[0] == 1.5f && ((float *)t->data)[1] == -3.0f, "misaligned values");
            hcg_tensor_free(t);
        }
        hcg_st_close(f);
    }
}

/* hcg_st_save writes the same bytes as the safetensors package for the same tensors. */
static void test_writer(void)
{
    hcg_st_file *f = NULL, *keep;
    if (!CHECK_OK(hcg_st_open(st("good.safetensors"), &f))) return;
    keep = f; /* the tensors below borrow its mapping */
    int n = hcg_st_count(f);
    const char *names[16];
    hcg_tensor *tensors[16];
    /* Given in reverse header order: the writer's layout must not depend on the order. */
    for (int i = 0; i < n; i++) {
        const hcg_st_entry *e = hcg_st_get(f, n - 1 - i);
        names[i] = e->name;
        CHECK_OK(hcg_st_tensor(f, e, &tensors[i]));
    }
    char out[512];
    snprintf(out, sizeof out, "%s/written.safetensors", tl_tmpdir());
    if (CHECK_OK(hcg_st_save(out, names, (const hcg_tensor *const *)tensors, n))) {
        size_t n1 = 0, n2 = 0;
        char *a = tl_read_file(st("good_nometa.safetensors"), &n1), *b = tl_read_file(out, &n2);
        CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0, "hcg_st_save bytes equal the safetensors package's (%zu vs %zu)",
              n1, n2);
        free(a);
        free(b);
        hcg_st_file *g = NULL;
        if (CHECK_OK(hcg_st_open(out, &g))) {
            check_good_entries(g);
            hcg_st_close(g);
        }
    }
    /* Bad arguments. */
    const char *dup[2] = {names[0], names[0]};
    const hcg_tensor *two[2] = {tensors[0], tensors[1]};
    CHECK_FAILS(hcg_st_save(out, dup, two, 2), HCG_ERR_ARG, "used twice");
    const char *meta[1] = {"__metadata__"};
    CHECK_FAILS(hcg_st_save(out, meta, two, 1), HCG_ERR_ARG, "no valid name");
    /* An empty file is valid. */
    char empty[512];
    snprintf(empty, sizeof empty, "%s/empty.safetensors", tl_tmpdir());
    if (CHECK_OK(hcg_st_save(empty, NULL, NULL, 0)) && CHECK_OK(hcg_st_open(empty, &f))) {
        CHECK(hcg_st_count(f) == 0, "an empty file has no tensors");
        hcg_st_close(f);
    }
    for (int i = 0; i < n; i++) hcg_tensor_free(tensors[i]);
    hcg_st_close(keep);
}

/* A small safetensors file written here: the header (padded with spaces to 8 bytes) and n zero
 * bytes of data. */
static const char *write_st(const char *name, const char *header, size_t n)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", tl_tmpdir(), name);
    size_t len = strlen(header), padded = (len + 7) / 8 * 8;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    FILE *f = fopen(path, "wb");
    fwrite(le, 1, 8, f);
    fputs(header, f);
    for (size_t i = len; i < padded; i++) fputc(' ', f);
    for (size_t i = 0; i < n; i++) fputc(0, f);
    fclose(f);
    return path;
}

static void expect_bad(const char *file, hcg_status want, const char *needle)
{
    hcg_st_file *f = (hcg_st_file *)1;
    hcg_status s = hcg_st_open(st(file), &f);
    CHECK_FAILS(s, want, needle);
    CHECK(f == NULL, "%s: *out is NULL after a failure", file);
    CHECK(strstr(hcg_last_error(), file) != NULL, "%s: the message names the file: %s", file, hcg_last_error());
}

static void test_bad(void)
{
    expect_bad("bad_truncated.safetensors", HCG_ERR_FORMAT, "outside the");
    expect_bad("bad_short.safetensors", HCG_ERR_FORMAT, "shorter than the 8-byte header length");
    expect_bad("bad_header_too_long.safetensors", HCG_ERR_FORMAT, "header length 1000000 is larger than the 64 bytes");
    expect_bad("bad_offsets_out_of_range.safetensors", HCG_ERR_FORMAT, "tensor 'a': data_offsets [4, 12] are outside the 8-byte");
    expect_bad("bad_begin_after_end.safetensors", HCG_ERR_FORMAT, "data_offsets [8, 0]");
    expect_bad("bad_size_mismatch.safetensors", HCG_ERR_FORMAT, "tensor 'a': data_offsets [0, 4] hold 4 bytes, but F32 [2] needs 8");
    expect_bad("bad_overlap.safetensors", HCG_ERR_FORMAT, "tensors 'a' [0, 8] and 'b' [4, 12] overlap");
    expect_bad("bad_bad_json.safetensors", HCG_ERR_FORMAT, "not valid JSON");
    expect_bad("bad_not_object.safetensors", HCG_ERR_FORMAT, "not a JSON object");
    expect_bad("bad_trailing_garbage.safetensors", HCG_ERR_FORMAT, "unexpected bytes after the header's JSON");
    expect_bad("bad_dup_name.safetensors", HCG_ERR_FORMAT, "the tensor 'a' appears twice");
    expect_bad("bad_huge_shape.safetensors", HCG_ERR_FORMAT, "element count of shape [1099511627776, 1099511627776] overflows");
    expect_bad("bad_fraction_dim.safetensors", HCG_ERR_FORMAT, "shape[0] is not a non-negative integer");
    expect_bad("bad_missing_offsets.safetensors", HCG_ERR_FORMAT, "lacks a string 'dtype', an array 'shape' or an array 'data_offsets'");
    expect_bad("bad_nul_in_header.safetensors", HCG_ERR_FORMAT, "NUL byte");
    hcg_st_file *f = NULL;
    CHECK_FAILS(hcg_st_open(st("no_such.safetensors"), &f), HCG_ERR_NOT_FOUND, "no_such.safetensors: cannot open");
    /* Dtypes hcg does not compute with open fine; using such a tensor is the error. */
    const char *unsupported[][3] = {{"bad_bf16.safetensors", "a", "tensor 'a' has dtype BF16"},
                                    {"bad_f64.safetensors", "d", "tensor 'd' has dtype F64"}};
    for (int i = 0; i < 2; i++) {
        if (!CHECK_OK(hcg_st_open(st(unsupported[i][0]), &f))) continue;
        const hcg_st_entry *e = hcg_st_find(f, unsupported[i][1]);
        hcg_tensor *t = NULL;
        if (CHECK(e && !e->supported, "%s: the entry is there, marked unsupported", unsupported[i][0]))
            CHECK_FAILS(hcg_st_tensor(f, e, &t), HCG_ERR_UNSUPPORTED, unsupported[i][2]);
        CHECK(t == NULL, "no tensor of an unsupported dtype");
        hcg_st_close(f);
    }
    /* ... still sized and checked like the others; a name the format does not define is refused */
    const char *path = write_st("bf16_size.safetensors", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    CHECK_FAILS(hcg_st_open(path, &f), HCG_ERR_FORMAT, "hold 8 bytes, but BF16 [3] needs 6");
    path = write_st("q7.safetensors", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    CHECK_FAILS(hcg_st_open(path, &f), HCG_ERR_UNSUPPORTED, "has dtype Q7, which the safetensors format does not define");
    /* Bool bytes other than 0 and 1 are found when the tensor is made. */
    if (CHECK_OK(hcg_st_open(st("bad_bad_bool.safetensors"), &f))) {
        hcg_tensor *t = NULL;
        CHECK_FAILS(hcg_st_tensor(f, hcg_st_find(f, "m"), &t), HCG_ERR_FORMAT, "tensor 'm': bool element 1 holds 2");
        CHECK(t == NULL, "no tensor after a failure");
        hcg_st_close(f);
    }
}

int main(void)
{
    test_good();
    test_writer();
    test_bad();
    return tl_finish();
}
