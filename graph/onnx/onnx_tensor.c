/* onnx_tensor.c — ONNX tensors into hcg tensors: the dtype mapping, TensorProto data in its typed
 * fields (float_data, int32_data, int64_data, double_data), in raw_data, or in an external file
 * beside the model (bounds-checked, never outside the model's folder), and reading serialized
 * TensorProto files (the ONNX test suite's input_N.pb / output_N.pb). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/fileio.h"
#include "graph/onnx/onnx_internal.h"

/* ---------------------------------------------------------------- dtypes */

typedef struct onnx_dtype_info {
    const char *name;
    int hcg;     /* hcg_dtype, or -1 if hcg lacks it */
    size_t size; /* bytes per element in raw_data (0: not a fixed-size type) */
} onnx_dtype_info;

static const onnx_dtype_info dtype_table[] = {
    [ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED] = {"UNDEFINED", -1, 0},
    [ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT] = {"FLOAT", HCG_F32, 4},
    [ONNX__TENSOR_PROTO__DATA_TYPE__UINT8] = {"UINT8", HCG_U8, 1},
    [ONNX__TENSOR_PROTO__DATA_TYPE__INT8] = {"INT8", HCG_I8, 1},
    [ONNX__TENSOR_PROTO__DATA_TYPE__UINT16] = {"UINT16", -1, 2},
    [ONNX__TENSOR_PROTO__DATA_TYPE__INT16] = {"INT16", -1, 2},
    [ONNX__TENSOR_PROTO__DATA_TYPE__INT32] = {"INT32", HCG_I32, 4},
    [ONNX__TENSOR_PROTO__DATA_TYPE__INT64] = {"INT64", HCG_I64, 8},
    [ONNX__TENSOR_PROTO__DATA_TYPE__STRING] = {"STRING", -1, 0},
    [ONNX__TENSOR_PROTO__DATA_TYPE__BOOL] = {"BOOL", HCG_BOOL, 1},
    [ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16] = {"FLOAT16", HCG_F16, 2},
    [ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE] = {"DOUBLE", -1, 8},
    [ONNX__TENSOR_PROTO__DATA_TYPE__UINT32] = {"UINT32", -1, 4},
    [ONNX__TENSOR_PROTO__DATA_TYPE__UINT64] = {"UINT64", -1, 8},
    [ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64] = {"COMPLEX64", -1, 8},
    [ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX128] = {"COMPLEX128", -1, 16},
    [ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16] = {"BFLOAT16", -1, 2},
};
#define N_DTYPES ((int32_t)(sizeof dtype_table / sizeof dtype_table[0]))

const char *onnx_dtype_name(int32_t t)
{
    static _Thread_local char buf[32];
    if (t >= 0 && t < N_DTYPES && dtype_table[t].name) return dtype_table[t].name;
    snprintf(buf, sizeof buf, "type %d", (int)t);
    return buf;
}

bool onnx_dtype_to_hcg(int32_t t, bool narrow_double, hcg_dtype *out)
{
    if (t == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE && narrow_double) {
        *out = HCG_F32;
        return true;
    }
    if (t < 0 || t >= N_DTYPES || !dtype_table[t].name || dtype_table[t].hcg < 0) return false;
    *out = (hcg_dtype)dtype_table[t].hcg;
    return true;
}

int32_t onnx_dtype_from_hcg(hcg_dtype t)
{
    for (int32_t i = 0; i < N_DTYPES; i++)
        if (dtype_table[i].name && dtype_table[i].hcg == (int)t) return i;
    return ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED;
}

/* ---------------------------------------------------------------- files */

hcg_status onnx_read_file(const char *path, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd;
    struct stat st;
    hcg_status status = hcg_open_regular(path, &fd, &st);
    if (status) return status;
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return hcg_error(HCG_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            close(fd);
            return hcg_error(HCG_ERR_IO, "%s: read failed after %zu of %zu bytes", path, got, size);
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = size;
    return HCG_OK;
}

/* ---------------------------------------------------------------- nesting depth */

static bool read_varint(const uint8_t *data, size_t end, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
        uint8_t b = data[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

hcg_status onnx_check_nesting(const uint8_t *data, size_t len, const ProtobufCMessageDescriptor *root,
                              const char *label)
{
    struct {
        size_t end;
        const ProtobufCMessageDescriptor *desc;
    } stack[ONNX_MAX_NESTING + 1];
    int depth = 0;
    size_t pos = 0;
    stack[0].end = len;
    stack[0].desc = root;
    while (depth >= 0) {
        if (pos >= stack[depth].end) {
            depth--;
            continue;
        }
        uint64_t tag, n;
        if (!read_varint(data, stack[depth].end, &pos, &tag)) return HCG_OK; /* malformed: protobuf-c says so */
        switch (tag & 7) {
        case 0:
            if (!read_varint(data, stack[depth].end, &pos, &n)) return HCG_OK;
            break;
        case 1: pos += 8; break;
        case 5: pos += 4; break;
        case 2: {
            if (!read_varint(data, stack[depth].end, &pos, &n) || n > stack[depth].end - pos) return HCG_OK;
            const ProtobufCFieldDescriptor *f =
                tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(stack[depth].desc, (unsigned)(tag >> 3))
                                       : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth + 1 > ONNX_MAX_NESTING)
                    return hcg_error(HCG_ERR_FORMAT, "%s: messages nest more than %d levels deep", label,
                                     ONNX_MAX_NESTING);
                depth++;
                stack[depth].end = pos + (size_t)n;
                stack[depth].desc = f->descriptor;
            } else {
                pos += (size_t)n;
            }
            break;
        }
        default: return HCG_OK; /* groups and invalid wire types: protobuf-c decides */
        }
    }
    return HCG_OK;
}

/* Parses a non-negative decimal integer written as a string (external data offsets/lengths). */
static bool parse_u64(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v > (INT64_MAX - (*p - '0')) / 10) return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

/* An external data location must name a file inside base_dir: relative, without '..', and (after
 * resolving symlinks) still inside the folder. */
static hcg_status external_path(const char *base_dir, const char *location, const char *what, char *buf,
                                size_t len)
{
    if (!location || !*location)
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s': external data has no location", what);
    if (location[0] == '/')
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s': external data location '%s' is an absolute path", what,
                         location);
    for (const char *p = location; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return hcg_error(HCG_ERR_FORMAT, "tensor '%s': external data location '%s' leaves the model's folder",
                             what, location);
        p += n;
        while (*p == '/') p++;
    }
    int w = snprintf(buf, len, "%s/%s", base_dir, location);
    if (w < 0 || (size_t)w >= len) return hcg_error(HCG_ERR_FORMAT, "tensor '%s': external data path too long", what);
    char real_base[PATH_MAX], real_file[PATH_MAX];
    if (!realpath(base_dir, real_base))
        return hcg_error(HCG_ERR_IO, "tensor '%s': cannot resolve the model folder '%s': %s", what, base_dir,
                         strerror(errno));
    if (!realpath(buf, real_file))
        return hcg_error(HCG_ERR_IO, "tensor '%s': external data file '%s': %s", what, buf, strerror(errno));
    size_t nb = strlen(real_base);
    if (strncmp(real_file, real_base, nb) != 0 || (real_file[nb] != '/' && nb > 1))
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s': external data location '%s' resolves outside the model's folder",
                         what, location);
    return HCG_OK;
}

/* Reads nbytes of external data described by tp's external_data entries into a new buffer. */
static hcg_status read_external(const Onnx__TensorProto *tp, const char *base_dir, const char *what,
                                size_t nbytes, uint8_t **out)
{
    const char *location = NULL;
    int64_t offset = 0, length = -1;
    *out = NULL;
    if (!base_dir)
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s' has external data, but the model has no folder to find it in",
                         what);
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        if (!kv->key) continue;
        if (strcmp(kv->key, "location") == 0) location = kv->value;
        else if (strcmp(kv->key, "offset") == 0 && !parse_u64(kv->value, &offset))
            return hcg_error(HCG_ERR_FORMAT, "tensor '%s': external data offset '%s' is not a number", what,
                             kv->value ? kv->value : "");
        else if (strcmp(kv->key, "length") == 0 && !parse_u64(kv->value, &length))
            return hcg_error(HCG_ERR_FORMAT, "tensor '%s': external data length '%s' is not a number", what,
                             kv->value ? kv->value : "");
    }
    char path[PATH_MAX];
    hcg_status st = external_path(base_dir, location, what, path, sizeof path);
    if (st) return st;
    if (length >= 0 && (uint64_t)length != (uint64_t)nbytes)
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s': external data length %lld does not match its %zu bytes", what,
                         (long long)length, nbytes);
    int fd;
    struct stat sb;
    if ((st = hcg_open_regular(path, &fd, &sb))) return hcg_error_prefix(st, "tensor '%s': ", what);
    if (offset > (int64_t)sb.st_size || (uint64_t)((int64_t)sb.st_size - offset) < (uint64_t)nbytes) {
        close(fd);
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s': %zu bytes at offset %lld run past the end of '%s' (%lld bytes)",
                         what, nbytes, (long long)offset, path, (long long)sb.st_size);
    }
    uint8_t *buf = malloc(nbytes ? nbytes : 1);
    if (!buf) {
        close(fd);
        return hcg_error(HCG_ERR_NOMEM, "tensor '%s': out of memory", what);
    }
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = pread(fd, buf + got, nbytes - got, (off_t)(offset + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            close(fd);
            return hcg_error(HCG_ERR_IO, "tensor '%s': reading '%s' failed", what, path);
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    return HCG_OK;
}

/* ---------------------------------------------------------------- conversion */

/* Copies n elements of raw little-endian ONNX data (type t) into dst (hcg dtype dt). */
static void convert_raw(int32_t t, const uint8_t *src, int64_t n, hcg_dtype dt, void *dst)
{
    if (t == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
        float *d = dst;
        for (int64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            d[i] = (float)v;
        }
    } else if (dt == HCG_BOOL) {
        uint8_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = src[i] != 0;
    } else {
        /* hcg runs on little-endian hosts, the byte order raw_data is stored in. */
        memcpy(dst, src, (size_t)n * hcg_dtype_size(dt));
    }
}

static hcg_status typed_count(const char *what, const char *field, size_t have, int64_t numel)
{
    if ((uint64_t)have == (uint64_t)numel) return HCG_OK;
    return hcg_error(HCG_ERR_FORMAT, "tensor '%s' has %zu values in %s but its dims hold %lld", what, have, field,
                     (long long)numel);
}

/* Copies the typed field matching t into dst. */
static hcg_status convert_typed(const Onnx__TensorProto *tp, int32_t t, const char *what, int64_t numel,
                                hcg_dtype dt, void *dst)
{
    hcg_status st;
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        if ((st = typed_count(what, "float_data", tp->n_float_data, numel))) return st;
        if (numel) memcpy(dst, tp->float_data, (size_t)numel * sizeof(float));
        return HCG_OK;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        if ((st = typed_count(what, "double_data", tp->n_double_data, numel))) return st;
        for (int64_t i = 0; i < numel; i++) ((float *)dst)[i] = (float)tp->double_data[i];
        return HCG_OK;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        if ((st = typed_count(what, "int64_data", tp->n_int64_data, numel))) return st;
        if (numel) memcpy(dst, tp->int64_data, (size_t)numel * sizeof(int64_t));
        return HCG_OK;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
        if ((st = typed_count(what, "int32_data", tp->n_int32_data, numel))) return st;
        for (int64_t i = 0; i < numel; i++) {
            int32_t v = tp->int32_data[i];
            if (dt == HCG_I32) ((int32_t *)dst)[i] = v;
            else if (dt == HCG_F16) ((uint16_t *)dst)[i] = (uint16_t)v; /* the bits, as ONNX stores them */
            else if (dt == HCG_BOOL) ((uint8_t *)dst)[i] = v != 0;
            else if (dt == HCG_I8 && (v < INT8_MIN || v > INT8_MAX))
                return hcg_error(HCG_ERR_FORMAT, "tensor '%s': value %d at %lld does not fit INT8", what, (int)v,
                                 (long long)i);
            else if (dt == HCG_I8) ((int8_t *)dst)[i] = (int8_t)v;
            else if (v < 0 || v > 255)
                return hcg_error(HCG_ERR_FORMAT, "tensor '%s': value %d at %lld does not fit UINT8", what, (int)v,
                                 (long long)i);
            else ((uint8_t *)dst)[i] = (uint8_t)v;
        }
        return HCG_OK;
    default:
        return hcg_error(HCG_ERR_INTERNAL, "tensor '%s': no typed field for %s", what, onnx_dtype_name(t));
    }
}

hcg_status onnx_tensor_to_hcg(const Onnx__TensorProto *tp, const char *base_dir, bool narrow_double,
                              const char *what, hcg_tensor **out)
{
    *out = NULL;
    if (!what || !*what) what = tp->name && *tp->name ? tp->name : "?";
    if (!tp->has_data_type) return hcg_error(HCG_ERR_FORMAT, "tensor '%s' has no data_type", what);
    int32_t t = tp->data_type;
    hcg_dtype dt;
    if (!onnx_dtype_to_hcg(t, narrow_double, &dt))
        return hcg_error(HCG_ERR_UNSUPPORTED, "tensor '%s' has dtype %s, which hcg does not support", what,
                         onnx_dtype_name(t));
    if (tp->segment) return hcg_error(HCG_ERR_UNSUPPORTED, "tensor '%s' is segmented, which hcg does not support", what);
    if (tp->n_dims > HCG_MAX_RANK)
        return hcg_error(HCG_ERR_UNSUPPORTED, "tensor '%s' has rank %zu; hcg supports rank <= %d", what, tp->n_dims,
                         HCG_MAX_RANK);
    hcg_shape shape;
    memset(&shape, 0, sizeof shape);
    shape.rank = (int)tp->n_dims;
    int64_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return hcg_error(HCG_ERR_FORMAT, "tensor '%s': dim %zu is negative (%lld)", what, i, (long long)tp->dims[i]);
        if (hcg_mul_overflow_i64(numel, tp->dims[i], &numel))
            return hcg_error(HCG_ERR_FORMAT, "tensor '%s': the element count overflows", what);
        shape.dims[i] = tp->dims[i];
    }
    size_t esize = dtype_table[t].size, src_bytes;
    if (hcg_mul_overflow_size((size_t)numel, esize, &src_bytes))
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s': the byte size overflows", what);

    bool external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    size_t typed = tp->n_float_data + tp->n_int32_data + tp->n_int64_data + tp->n_double_data + tp->n_uint64_data +
                   tp->n_string_data;
    if ((external ? 1 : 0) + (tp->has_raw_data ? 1 : 0) + (typed ? 1 : 0) > 1)
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s' stores its data in more than one place", what);
    uint8_t *ext = NULL;
    const uint8_t *raw = NULL;
    hcg_status st;
    if (external) {
        if ((st = read_external(tp, base_dir, what, src_bytes, &ext))) return st;
        raw = ext;
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != src_bytes)
            return hcg_error(HCG_ERR_FORMAT, "tensor '%s': raw_data has %zu bytes but %s%s needs %zu", what,
                             tp->raw_data.len, onnx_dtype_name(t), numel == 1 ? "" : " x dims", src_bytes);
        raw = tp->raw_data.data;
    } else if (!typed && numel != 0) {
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s' has %lld elements but no data", what, (long long)numel);
    } else if (typed && typed != (size_t)numel) {
        /* checked before allocating, so dims cannot ask for more memory than the file holds data */
        const char *field = tp->n_float_data ? "float_data" : tp->n_int32_data ? "int32_data"
                            : tp->n_int64_data ? "int64_data" : tp->n_double_data ? "double_data"
                            : tp->n_uint64_data ? "uint64_data" : "string_data";
        return hcg_error(HCG_ERR_FORMAT, "tensor '%s': %s has %zu values but its dims need %lld", what, field, typed,
                         (long long)numel);
    }
    hcg_tensor *tensor = NULL;
    if ((st = hcg_tensor_new(dt, &shape, &tensor))) {
        free(ext);
        return hcg_error_prefix(st, "tensor '%s': ", what);
    }
    if (raw) convert_raw(t, raw, numel, dt, tensor->data);
    else if (numel || typed) st = convert_typed(tp, t, what, numel, dt, tensor->data);
    free(ext);
    if (st) {
        hcg_tensor_free(tensor);
        return st;
    }
    *out = tensor;
    return HCG_OK;
}

/* ---------------------------------------------------------------- TensorProto files */

hcg_status hcg_onnx_read_tensor(const char *path, hcg_tensor **out, char **name)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    if (name) *name = NULL;
    hcg_status st = onnx_read_file(path, &buf, &len);
    if (st) return st;
    if ((st = onnx_check_nesting(buf, len, &onnx__tensor_proto__descriptor, path))) {
        free(buf);
        return st;
    }
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp) return hcg_error(HCG_ERR_FORMAT, "%s: not a valid serialized TensorProto", path);
    st = onnx_tensor_to_hcg(tp, NULL, false, tp->name, out);
    if (!st && name) {
        const char *nm = tp->name ? tp->name : "";
        size_t n = strlen(nm) + 1;
        if (!(*name = malloc(n))) st = hcg_error(HCG_ERR_NOMEM, "out of memory");
        else memcpy(*name, nm, n);
        if (st) {
            hcg_tensor_free(*out);
            *out = NULL;
        }
    }
    if (st) hcg_error_prefix(st, "%s: ", path);
    protobuf_c_message_free_unpacked(&tp->base, NULL);
    return st;
}
