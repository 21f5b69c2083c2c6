"""golden_quant.py — the golden cases of the quantization ops (dequantize, quantize, matmul_integer,
quant_matmul) and of fused_matmul with an f16 weight, for make_golden.py, which calls add_cases()
with its case writers last. The references are numpy: integer results exactly (quantize divides
in float32 and rounds half to even, as ONNX's reference does; matmul_integer sums in int64), float
results in float64 from the exact stored values (int8 weights times their float32 scales, f16
weights widened), then rounded to float32. A random generator of its own keeps these cases from
moving the others' data.

The edge shapes: size 1 everywhere, K = 257 (odd, past every vector width and tile), N = 257, K
not a multiple of the block (100 in blocks of 32, 70 in blocks of 16), batched and transposed
operands, f16 scales, and the shapes that must be refused (scales that fit neither per column nor
the blocks, a weight that is not int8 or not a matrix)."""
import numpy as np

rng = np.random.default_rng(20261212)

# The products sum K float32 terms in another order than numpy's float64 sum (tiles, vector
# lanes, OpenCL work-items): about K * 2^-24 relative to the sum of |terms|, which for K <= 257
# and unit-sized operands stays inside these.
MM_TOL = {"rtol": 1e-5, "atol": 2e-5}


def normal(*shape, scale=1.0):
    return (rng.standard_normal(size=shape) * scale).astype(np.float32)


def q8(*shape):
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def scales(*shape, dtype=np.float32):
    return rng.uniform(0.004, 0.03, size=shape).astype(dtype)


def widen(scale, axis_shape):
    return np.asarray(scale, dtype=np.float64).reshape(axis_shape)


# ------------------------------------------------------------------ dequantize, quantize

def block_scales(s, axis, block, dim):
    """Scales of a blocked layout repeated to the tensor's shape along axis (the last block may
    be shorter)."""
    return np.repeat(np.asarray(s, dtype=np.float64), block, axis=axis).take(range(dim), axis=axis)


def expand_scale(x_shape, s, axis, block):
    """The scale (or zero point) of every element, as float64, for the three layouts."""
    s = np.asarray(s)
    if block:
        return block_scales(s, axis, block, x_shape[axis])
    if s.size == 1 and s.ndim <= 1:
        return np.full(x_shape, float(s.reshape(-1)[0]))
    shape = [1] * len(x_shape)
    shape[axis] = -1
    return np.broadcast_to(s.astype(np.float64).reshape(shape), x_shape)


def dequant_ref(x, s, z, axis, block):
    zz = expand_scale(x.shape, z, axis, block) if z is not None else 0.0
    return ((x.astype(np.float64) - zz) * expand_scale(x.shape, s, axis, block)).astype(np.float32)


def quant_ref(x, s, z, axis, block, dtype):
    lo, hi = (-128, 127) if dtype == np.int8 else (0, 255)
    sf = expand_scale(x.shape, s, axis, block).astype(np.float32)  # the division is float32's
    zz = expand_scale(x.shape, z, axis, block) if z is not None else 0.0
    return np.clip(np.rint(x.astype(np.float32) / sf) + zz, lo, hi).astype(dtype)


def add_quantize_cases(case, error_case):
    def deq(tag, x, s, z=None, axis=1, block=0):
        ins = [x, s] + ([z] if z is not None else [])
        case(f"dequantize_{tag}", "dequantize", ins, dequant_ref(x, s, z, axis, block),
             attrs={"axis": axis, "block_size": block})

    deq("i8_tensor", q8(3, 5), np.float32(0.02))
    deq("u8_tensor_zero", rng.integers(0, 256, size=(4, 6)).astype(np.uint8), np.float32(0.1), np.uint8(128))
    deq("i8_axis0_zero", q8(4, 6), scales(4), rng.integers(-5, 6, size=4).astype(np.int8), axis=0)
    deq("i8_axis1", q8(4, 6), scales(6))
    deq("i32_tensor_zero", rng.integers(-100000, 100000, size=(2, 3, 4)).astype(np.int32), np.float32(0.5),
        np.int32(-7))
    deq("blocked_ragged", q8(3, 10), scales(3, 3), axis=1, block=4)
    deq("blocked_axis0", q8(7, 2), scales(3, 2), axis=0, block=3)
    deq("f16_scales", q8(5, 4), scales(5, dtype=np.float16), axis=0)
    deq("rank3_axis_neg", q8(2, 3, 4), scales(3), axis=-2)
    deq("size1", q8(1), np.float32(3.0), axis=0)
    deq("blocked_zero", rng.integers(0, 256, size=(2, 9)).astype(np.uint8), scales(2, 2),
        rng.integers(0, 256, size=(2, 2)).astype(np.uint8), axis=1, block=5)
    error_case("dequantize_bad_scale_shape", "dequantize", [q8(4, 6), scales(5)], "fit neither", attrs={"axis": 1})
    error_case("dequantize_bad_blocks", "dequantize", [q8(3, 10), scales(3, 2)], "do not fit blocks of 4",
               attrs={"axis": 1, "block_size": 4})
    error_case("dequantize_zero_dtype", "dequantize", [q8(2, 3), scales(3), rng.integers(0, 3, size=3).astype(np.uint8)],
               "must have x's dtype", attrs={"axis": 1})
    error_case("dequantize_float_x", "dequantize", [normal(2, 3), scales(3)], "must be i32, u8, i8", attrs={"axis": 1})

    def qnt(tag, x, s, z=None, axis=1, block=0, dtype=np.uint8):
        ins = [x, s] + ([z] if z is not None else [])
        attrs = {"axis": axis, "block_size": block}
        if z is None:
            attrs["dtype"] = "i8" if dtype == np.int8 else "u8"
        case(f"quantize_{tag}", "quantize", ins, quant_ref(x, s, z, axis, block, dtype), attrs=attrs)

    # Values on the half-way points between steps, and beyond the range, check the rounding (half to
    # even) and the saturation.
    halves = (np.arange(-12, 13, dtype=np.float32) * 0.5 * 0.25).reshape(5, 5)
    qnt("u8_tensor_zero", halves, np.float32(0.25), np.uint8(3))
    qnt("i8_halves_saturate", np.concatenate([halves.reshape(-1), [300.0, -300.0, 31.875, -32.125]]).astype(np.float32),
        np.float32(0.25), dtype=np.int8, axis=0)
    qnt("i8_axis0_zero", normal(4, 7, scale=2), scales(4) * 10, rng.integers(-3, 4, size=4).astype(np.int8),
        axis=0, dtype=np.int8)
    qnt("u8_default", normal(3, 5, scale=2), np.float32(0.05))
    qnt("blocked_ragged", normal(3, 10), scales(3, 3) * 4, axis=1, block=4, dtype=np.int8)
    qnt("size1", normal(1), np.float32(0.5), dtype=np.int8, axis=0)
    error_case("quantize_bad_dtype", "quantize", [normal(2, 3), np.float32(0.5)], "dtype must be i8 or u8",
               attrs={"dtype": "f32"}, status="invalid graph")
    error_case("quantize_int_x", "quantize", [q8(2, 3), np.float32(0.5)], "must be f32")


# ------------------------------------------------------------------ matmul_integer

def int_ref(a, b, za, zb):
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    if za is not None:
        za = np.asarray(za).astype(np.int64)
        a64 = a64 - (za.reshape(-1, 1) if za.size > 1 else za.reshape(()))
    if zb is not None:
        zb = np.asarray(zb).astype(np.int64)
        b64 = b64 - (zb.reshape(-1) if zb.size > 1 else zb.reshape(()))
    return np.matmul(a64, b64).astype(np.int32)


def add_matmul_integer_cases(case, error_case):
    def u8(*shape):
        return rng.integers(0, 256, size=shape).astype(np.uint8)

    def mi(tag, a, b, za=None, zb=None):
        ins = [a, b]
        if za is not None or zb is not None:
            ins += [za if za is not None else np.zeros((), a.dtype), zb if zb is not None else np.zeros((), b.dtype)]
        case(f"matmul_integer_{tag}", "matmul_integer", ins, int_ref(a, b, za, zb))

    mi("u8_i8_zeros", u8(5, 7), q8(7, 3), np.uint8(130), np.int8(-3))
    mi("i8_i8", q8(4, 9), q8(9, 6))
    mi("u8_u8_rows_cols", u8(3, 5), u8(5, 4), u8(3), u8(4))
    mi("batched_a", u8(2, 3, 4), q8(4, 5), np.uint8(7), np.int8(0))
    mi("batch_broadcast", q8(2, 1, 3, 6), q8(4, 6, 2))
    mi("k257_extremes", np.full((3, 257), 255, np.uint8), np.full((257, 5), -128, np.int8), np.uint8(0), np.int8(0))
    mi("k257", u8(17, 257), q8(257, 33), np.uint8(128), np.int8(1))
    mi("vector_a", u8(6), q8(6, 4), np.uint8(2), np.int8(0))
    mi("size1", u8(1, 1), q8(1, 1), np.uint8(1), np.int8(1))
    error_case("matmul_integer_float", "matmul_integer", [normal(2, 3), q8(3, 2)], "must be u8, i8")
    error_case("matmul_integer_zero_shape", "matmul_integer", [u8(3, 4), q8(4, 2), u8(2), np.int8(0)],
               "must be one value or a vector of the 3 rows")


# ------------------------------------------------------------------ quant_matmul, fused_matmul with f16 b

ACTS = {
    "none": lambda y: y,
    "relu": lambda y: np.maximum(y, 0.0),
    "gelu": lambda y: 0.5 * y * (1.0 + np.vectorize(__import__("math").erf)(y / np.sqrt(2.0))),
}


def weight_f64(q, s, tb, block):
    """The int8 weight times its scales in float64: per output column, or per block along K."""
    q64, s64 = q.astype(np.float64), np.asarray(s, dtype=np.float64)
    if tb:  # q [N, K]
        if block == 0:
            return q64 * s64.reshape(-1, 1)
        return q64 * np.repeat(s64, block, axis=1)[:, :q.shape[1]]
    if block == 0:  # q [K, N]
        return q64 * s64.reshape(1, -1)
    return q64 * np.repeat(s64, block, axis=0)[:q.shape[0], :]


def product(a, w64, ta, tb, alpha, bias, act):
    a64 = a.astype(np.float64)
    if ta:
        a64 = np.swapaxes(a64, -1, -2)
    y = alpha * np.matmul(a64, w64.T if tb else w64)
    if bias is not None:
        y = y + bias.astype(np.float64)
    return ACTS[act](y).astype(np.float32)


def add_quant_matmul_cases(case, error_case):
    def qmm(tag, m, k, n, tb=1, block=0, batch=(), ta=0, alpha=1.0, bias=True, act="none", scale_dtype=np.float32):
        a = normal(*batch, *((k, m) if ta else (m, k)))
        q = q8(*((n, k) if tb else (k, n)))
        blocks = (k + block - 1) // block if block else 0
        s = scales(*(((n,) if block == 0 else (n, blocks)) if tb else ((n,) if block == 0 else (blocks, n))),
                   dtype=scale_dtype)
        bv = normal(n) if bias else None
        ins = [a, q, s] + ([bv] if bias else [])
        attrs = {"transpose_a": ta, "transpose_b": tb, "alpha": alpha, "activation": act, "block_size": block}
        case(f"quant_matmul_{tag}", "quant_matmul", ins, product(a, weight_f64(q, s, tb, block), ta, tb, alpha, bv, act),
             attrs=attrs, **MM_TOL)

    qmm("size1", 1, 1, 1)
    qmm("m1_k257", 1, 257, 9, act="gelu")
    qmm("k257_n257", 5, 257, 257)
    qmm("n257_cols", 3, 40, 257, tb=0, act="relu")
    qmm("blocked_ragged", 4, 100, 6, block=32)
    qmm("blocked_ragged_cols", 3, 70, 5, tb=0, block=16, act="gelu")
    qmm("blocked_k257", 2, 257, 3, block=64, alpha=0.5)
    qmm("block1", 2, 5, 3, block=1)
    qmm("f16_scales", 6, 33, 7, scale_dtype=np.float16)
    qmm("f16_scales_blocked", 2, 50, 4, tb=0, block=8, scale_dtype=np.float16)
    qmm("batched_a", 3, 24, 10, batch=(2,), act="gelu")
    qmm("transpose_a", 4, 9, 5, ta=1, batch=(2,), bias=False)
    qmm("no_bias_alpha", 7, 16, 8, bias=False, alpha=-2.0)
    qmm("wide", 65, 130, 96, act="gelu")

    error_case("quant_matmul_bad_scales", "quant_matmul", [normal(2, 8), q8(4, 8), scales(5)],
               "must be one per output column", attrs={"transpose_b": 1})
    error_case("quant_matmul_bad_blocks", "quant_matmul", [normal(2, 100), q8(4, 100), scales(4, 3)],
               "do not fit blocks of 32", attrs={"transpose_b": 1, "block_size": 32})
    error_case("quant_matmul_float_weight", "quant_matmul", [normal(2, 8), normal(4, 8), scales(4)],
               "must be i8", attrs={"transpose_b": 1})
    error_case("quant_matmul_weight_rank3", "quant_matmul", [normal(2, 8), q8(2, 4, 8), scales(4)],
               "must be a matrix", attrs={"transpose_b": 1})

    def f16mm(tag, m, k, n, tb=0, batch=(), bias=True, act="none"):
        a = normal(*batch, m, k)
        w = normal(*((n, k) if tb else (k, n)), scale=0.3).astype(np.float16)
        bv = normal(n) if bias else None
        ins = [a, w] + ([bv] if bias else [])
        attrs = {"transpose_b": tb, "activation": act}
        case(f"fused_matmul_f16_{tag}", "fused_matmul", ins,
             product(a, w.astype(np.float64), 0, tb, 1.0, bv, act), attrs=attrs, **MM_TOL)

    f16mm("cols", 5, 33, 17)
    f16mm("rows_gelu", 4, 33, 17, tb=1, act="gelu")
    f16mm("batched", 3, 20, 9, batch=(2,), bias=False)
    f16mm("k257", 3, 257, 257, tb=1)
    f16mm("size1", 1, 1, 1)
    error_case("fused_matmul_f16_batched_b", "fused_matmul",
               [normal(2, 3, 4), normal(2, 4, 5).astype(np.float16)], "must be a matrix")

    # A few rows times a weight [K, N] as stored: the CPU widens an int8 one in registers (up to 4
    # rows; rows 1-2 take four registers of columns, 3-4 two, then one register, then single
    # columns; with blocks along K, scaled once per block); f16 ones through panels.
    qmm("rows1_cols", 1, 70, 100, tb=0, act="gelu")
    qmm("rows2_blocked_cols", 2, 100, 130, tb=0, block=32)
    qmm("rows3_cols", 3, 50, 70, tb=0, bias=False, alpha=0.5)
    qmm("rows4_blocked_f16_scales", 4, 41, 67, tb=0, block=8, scale_dtype=np.float16)
    f16mm("rows1", 1, 40, 100)
    f16mm("rows2_gelu", 2, 65, 70, act="gelu")
    f16mm("rows3", 3, 17, 66, bias=False)
    qmm("rows1_n91", 1, 33, 91, tb=0, block=16)   # registers of 4, 2 and 1 and single columns
    f16mm("rows4_n59", 4, 20, 59)


def add_cases(case, error_case):
    add_quantize_cases(case, error_case)
    add_matmul_integer_cases(case, error_case)
    add_quant_matmul_cases(case, error_case)
