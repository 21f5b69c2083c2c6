#!/usr/bin/env python3
"""make_golden.py — writes the golden op cases for hcg's op tests: tests/golden/cases.json and one
small .npy file per input and output. The references come from numpy (float64 where it matters,
then rounded to the op's dtype) and, where it is the better reference, from torch (gelu,
log_softmax, layer_norm). Seeds are fixed, so re-running writes the same files.

Every op of the op table except the sources (input, param, constant) has cases over edge shapes:
size-1 and size-0 dims, broadcasting both ways, odd sizes, rank-0 scalars, integer dtypes where the
op takes them, negative axes. Error cases carry "error" (a substring of the expected message; "a|b": either) and
"status" (hcg_status_name of the expected status) and no output.

Case format (tests/golden_cases.h reads it):
  {"name", "op", "attrs": {...}, "inputs": ["file.npy", ...], "output": "file.npy", "rtol", "atol"}
Inputs are all graph inputs named x0, x1, ...; rtol/atol are omitted where the defaults apply
(f32: rtol 1e-5, atol 1e-6; integers and bools: exact). A case with "states" (input indices) makes
those inputs state tensors that start at the input's value, and "state_outputs" lists their
expected values after the run (ops that update a state in place: golden_decode.py's cache ops).

The ops training adds (one_hot, argmax, gradient ops, losses, optimizer updates) have their cases
in golden_train.py; the quantization ops (dequantize, quantize, matmul_integer, quant_matmul) and
fused_matmul with an f16 weight theirs in golden_quant.py, and the decoding ops theirs in golden_decode.py;
each of these has a random generator of its own, so cases added there never move the others' data.

Run: /usr/bin/python3 tests/golden/make_golden.py   (numpy and torch needed; never needed by the tests)
"""
import json
import math
import os

import numpy as np
import torch

import golden_decode
import golden_quant
import golden_train

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = HERE
rng = np.random.default_rng(20240601)
# Start from an empty folder (but this script), so renamed cases leave no stale files.
for _f in os.listdir(OUT_DIR):
    if _f.endswith(".npy") or _f == "cases.json":
        os.remove(os.path.join(OUT_DIR, _f))
cases = []
names = set()

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def f32(*shape, lo=-3.0, hi=3.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def normal(*shape, scale=1.0):
    return (rng.standard_normal(size=shape) * scale).astype(np.float32)


def ints(dtype, *shape, lo=-50, hi=50):
    return rng.integers(lo, hi, size=shape).astype(dtype)


def bools(*shape):
    return rng.integers(0, 2, size=shape).astype(np.bool_)


saved = {}  # (dtype, shape, bytes) -> file: identical arrays are written once and shared


def save(fname, arr):
    arr = np.array(arr, order="C")  # (not ascontiguousarray: that makes 0-d arrays 1-d)
    key = (arr.dtype.str, arr.shape, arr.tobytes())
    if key not in saved:
        np.save(os.path.join(OUT_DIR, fname), arr, allow_pickle=False)
        saved[key] = fname
    return saved[key]


def case(name, op, inputs, output, attrs=None, rtol=None, atol=None):
    """A case that must run and match output."""
    assert name not in names, name
    names.add(name)
    c = {"name": name, "op": op, "attrs": attrs or {},
         "inputs": [save(f"{name}.{i}.npy", x) for i, x in enumerate(inputs)],
         "output": save(f"{name}.out.npy", output)}
    if rtol is not None:
        c["rtol"] = rtol
    if atol is not None:
        c["atol"] = atol
    cases.append(c)


def state_case(name, op, inputs, states, output=None, finals=None, attrs=None, rtol=None, atol=None, error=None,
               status="runtime error"):
    """A case whose inputs listed in states (indices) are state tensors the op updates in place:
    they start at their given values and must end at finals (or, with error, the run must fail)."""
    assert name not in names, name
    names.add(name)
    c = {"name": name, "op": op, "attrs": attrs or {},
         "inputs": [save(f"{name}.{i}.npy", x) for i, x in enumerate(inputs)], "states": list(states)}
    if error is None:
        c["output"] = save(f"{name}.out.npy", output)
        c["state_outputs"] = [save(f"{name}.s{i}.npy", x) for i, x in zip(states, finals)]
    else:
        c["error"], c["status"] = error, status
    if rtol is not None:
        c["rtol"] = rtol
    if atol is not None:
        c["atol"] = atol
    cases.append(c)


def error_case(name, op, inputs, error, attrs=None, status="shape error"):
    """A case that must fail (at bind time for shape errors, while running for runtime errors)
    with a message containing error."""
    assert name not in names, name
    names.add(name)
    cases.append({"name": name, "op": op, "attrs": attrs or {},
                  "inputs": [save(f"{name}.{i}.npy", x) for i, x in enumerate(inputs)],
                  "error": error, "status": status})


def tf64(x):
    return torch.from_numpy(np.asarray(x, dtype=np.float64))


# ------------------------------------------------------------------ binary arithmetic

def trunc_div(a, b):
    """Integer division truncating toward zero (C, ONNX), in the inputs' dtype."""
    q = np.abs(a.astype(np.int64)) // np.abs(b.astype(np.int64))
    return (np.sign(a.astype(np.int64)) * np.sign(b.astype(np.int64)) * q).astype(a.dtype)


def nan_max(a, b):
    return np.maximum(a, b)  # numpy's maximum propagates NaN, as hcg's max does


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": None,  # special: truncating for ints
    "max": np.maximum,
    "min": np.minimum,
}


def binary_ref(op, a, b):
    with np.errstate(all="ignore"):
        if op == "div":
            if a.dtype.kind == "i":
                return trunc_div(*np.broadcast_arrays(a, b))
            return (a.astype(np.float64) / b.astype(np.float64)).astype(np.float32)
        if a.dtype == np.float32:
            return BINARY[op](a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
        return BINARY[op](a, b).astype(a.dtype)


def nonzero_ints(dtype, *shape):
    x = ints(dtype, *shape, lo=-20, hi=20)
    x[x == 0] = 7
    return x


for op in BINARY:
    def den(*shape):
        # divisors away from zero keep the f32 results well conditioned
        if op != "div":
            return f32(*shape)
        x = f32(*shape, lo=0.5, hi=3.0)
        return x * np.where(rng.integers(0, 2, size=shape) == 1, 1, -1).astype(np.float32)

    shapes = [("same", (7, 13), (7, 13)), ("bc_both", (3, 1), (1, 4)), ("bc_rank", (4,), (2, 3, 4)),
              ("bc_rank_rev", (2, 3, 4), (4,)), ("col", (129, 7), (129, 1)), ("scalar_b", (257,), ()),
              ("scalar_a", (), (1000,)), ("scalars", (), ()), ("empty", (0, 3), (3,)), ("ones", (1, 1, 5), (5, 1, 1))]
    for tag, sa, sb in shapes:
        a, b = f32(*sa), den(*sb)
        case(f"{op}_{tag}", op, [a, b], binary_ref(op, a, b))
    for dt, tag in ((np.int32, "i32"), (np.int64, "i64")):
        a = ints(dt, 5, 1)
        b = nonzero_ints(dt, 6) if op == "div" else ints(dt, 6)
        case(f"{op}_{tag}_bc", op, [a, b], binary_ref(op, a, b))
        a = ints(dt, 1000, lo=-1000, hi=1000)
        b = nonzero_ints(dt, 1000) if op == "div" else ints(dt, 1000)
        case(f"{op}_{tag}_1000", op, [a, b], binary_ref(op, a, b))

# float division by zero is IEEE (inf, nan), integer division truncates toward zero
a = np.array([1, -1, 0, 3], np.float32)
b = np.array([0, 0, 0, -0.0], np.float32)
case("div_by_zero_f32", "div", [a, b], binary_ref("div", a, b))
a = np.array([7, -7, 7, -7, 0, 1, -1], np.int32)
b = np.array([2, 2, -2, -2, 5, 3, 3], np.int32)
case("div_i32_trunc", "div", [a, b], trunc_div(a, b))
# integer overflow wraps around (two's complement)
a = np.array([2**31 - 1, -(2**31), 5], np.int32)
b = np.array([1, -1, 2**30], np.int32)
with np.errstate(all="ignore"):
    case("add_i32_wrap", "add", [a, b], (a + b).astype(np.int32))
    case("mul_i32_wrap", "mul", [a, b], (a * b).astype(np.int32))
# max/min: NaN wins from either side
a = np.array([1, np.nan, 3, np.nan, -np.inf], np.float32)
b = np.array([np.nan, 2, 1, np.nan, 5], np.float32)
case("max_nan", "max", [a, b], np.maximum(a, b))
case("min_nan", "min", [a, b], np.minimum(a, b))

# pow: f32 only; negative bases with integral exponents
a, b = f32(7, 13, lo=0.1, hi=3.0), f32(7, 13, lo=-2.0, hi=2.0)
case("pow_same", "pow", [a, b], np.power(a.astype(np.float64), b).astype(np.float32))
a, b = f32(3, 1, lo=0.1, hi=3.0), f32(1, 4, lo=-2, hi=2)
case("pow_bc", "pow", [a, b], np.power(a.astype(np.float64), b).astype(np.float32))
a, b = np.array([-2, -3, 2, 0, 4], np.float32), np.array([3.0, 2.0, -1.0, 2.0, 0.5], np.float32)
case("pow_special", "pow", [a, b], np.power(a.astype(np.float64), b).astype(np.float32))
a = f32(257, lo=0, hi=2)
case("pow_scalar_exp", "pow", [a, np.array(2.0, np.float32)], (a.astype(np.float64) ** 2).astype(np.float32))

# ------------------------------------------------------------------ comparisons, logic, where

CMP = {"equal": np.equal, "less": np.less, "greater": np.greater}
for op, fn in CMP.items():
    a, b = ints(np.float32, 7, 13, lo=-2, hi=3), ints(np.float32, 7, 13, lo=-2, hi=3)
    case(f"{op}_f32", op, [a, b], fn(a, b))
    a, b = ints(np.float32, 3, 1, lo=-2, hi=3), ints(np.float32, 1, 4, lo=-2, hi=3)
    case(f"{op}_bc", op, [a, b], fn(a, b))
    a, b = ints(np.int32, 4, lo=-2, hi=3), ints(np.int32, 2, 3, 4, lo=-2, hi=3)
    case(f"{op}_i32_bc", op, [a, b], fn(a, b))
    a, b = ints(np.int64, 1000, lo=-3, hi=3), ints(np.int64, 1000, lo=-3, hi=3)
    case(f"{op}_i64", op, [a, b], fn(a, b))
    a, b = np.array(1.5, np.float32), np.array(1.5, np.float32)
    case(f"{op}_scalars", op, [a, b], fn(a, b))
    a = np.array([np.nan, 1, np.inf, -np.inf], np.float32)
    b = np.array([np.nan, np.nan, np.inf, 0], np.float32)
    case(f"{op}_special", op, [a, b], fn(a, b))
a, b = bools(3, 1), bools(1, 4)
case("equal_bool", "equal", [a, b], np.equal(a, b))
a, b = ints(np.uint8, 257, lo=0, hi=3), ints(np.uint8, 257, lo=0, hi=3)
case("equal_u8", "equal", [a, b], np.equal(a, b))

for op, fn in (("and", np.logical_and), ("or", np.logical_or)):
    a, b = bools(7, 13), bools(7, 13)
    case(f"{op}_same", op, [a, b], fn(a, b))
    a, b = bools(3, 1), bools(1, 4)
    case(f"{op}_bc", op, [a, b], fn(a, b))
    a, b = bools(4), bools(2, 3, 4)
    case(f"{op}_bc_rank", op, [a, b], fn(a, b))
    a, b = np.array(True), bools(257)
    case(f"{op}_scalar", op, [a, b], fn(a, b))

c, x, y = bools(3, 1), f32(1, 4), f32(3, 4)
case("where_bc", "where", [c, x, y], np.where(c, x, y))
c, x, y = bools(2, 3, 4), f32(4), np.array(-1.0, np.float32)
case("where_bc_rank", "where", [c, x, y], np.where(c, x, y))
c, x, y = np.array(False), ints(np.int64, 1000), ints(np.int64, 1000)
case("where_scalar_cond_i64", "where", [c, x, y], np.where(c, x, y))
c, x, y = bools(7, 13), ints(np.int32, 7, 13), ints(np.int32, 13)
case("where_i32", "where", [c, x, y], np.where(c, x, y))
c, x, y = bools(129), f32(129).astype(np.float16), f32(129).astype(np.float16)
case("where_f16", "where", [c, x, y], np.where(c, x, y))
c, x, y = bools(5, 1), bools(1, 6), bools(5, 6)
case("where_bool", "where", [c, x, y], np.where(c, x, y))
c, x, y = bools(4), ints(np.uint8, 4, lo=0, hi=255), ints(np.uint8, 3, 4, lo=0, hi=255)
case("where_u8", "where", [c, x, y], np.where(c, x, y))
c, x, y = bools(0, 3), f32(3), f32(1, 3)
case("where_empty", "where", [c, x, y], np.where(c, x, y))

# ------------------------------------------------------------------ unary ops


def gelu_ref(x, approximate="none"):
    return torch.nn.functional.gelu(tf64(x), approximate=approximate).numpy().astype(np.float32)


UNARY = {
    "neg": (lambda x: -x, (-5, 5)),
    "exp": (np.exp, (-20, 20)),
    "log": (np.log, (0.001, 100)),
    "sqrt": (np.sqrt, (0, 100)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.01, 100)),
    "tanh": (np.tanh, (-10, 10)),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-30, 30)),
    "relu": (lambda x: np.maximum(x, 0), (-5, 5)),
    "gelu": (gelu_ref, (-6, 6)),
    "silu": (lambda x: x / (1 + np.exp(-x)), (-30, 30)),
    "erf": (lambda x: torch.erf(tf64(x)).numpy(), (-4, 4)),
    "abs": (np.abs, (-5, 5)),
    "reciprocal": (lambda x: 1 / x, (0.1, 10)),
}
for op, (fn, (lo, hi)) in UNARY.items():
    for tag, shape in (("1000", (1000,)), ("7x13", (7, 13)), ("scalar", ()), ("empty", (0, 4))):
        x = f32(*shape, lo=lo, hi=hi)
        if op == "reciprocal" and shape == (7, 13):
            x = x * np.where(rng.integers(0, 2, size=shape) == 1, 1, -1).astype(np.float32)
        with np.errstate(all="ignore"):
            y = np.asarray(fn(x.astype(np.float64))).astype(np.float32)
        case(f"{op}_{tag}", op, [x], y)

with np.errstate(all="ignore"):
    x = np.array([0, -0.0, np.inf, -np.inf, np.nan, 100, -100, 88.8], np.float32)
    case("exp_special", "exp", [x], np.exp(x.astype(np.float64)).astype(np.float32))
    case("sigmoid_special", "sigmoid", [x], (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32))
    case("tanh_special", "tanh", [x], np.tanh(x.astype(np.float64)).astype(np.float32))
    x = np.array([0, -1, np.inf, 1, 1e-30], np.float32)
    case("log_special", "log", [x], np.log(x.astype(np.float64)).astype(np.float32))
    case("sqrt_special", "sqrt", [x], np.sqrt(x.astype(np.float64)).astype(np.float32))
    x = np.array([0, -0.0, np.inf, 2], np.float32)
    case("reciprocal_special", "reciprocal", [x], (1 / x.astype(np.float64)).astype(np.float32))
x = f32(7, 13, lo=-6, hi=6)
case("gelu_tanh", "gelu", [x], gelu_ref(x, "tanh"), attrs={"approximate": "tanh"})
x = f32(1000, lo=-6, hi=6)
case("gelu_none_attr", "gelu", [x], gelu_ref(x), attrs={"approximate": "none"})

for op, fn in (("neg", lambda v: -v), ("abs", np.abs), ("relu", lambda v: np.maximum(v, 0))):
    for dt, tag in ((np.int32, "i32"), (np.int64, "i64")):
        x = ints(dt, 257, lo=-1000, hi=1000)
        case(f"{op}_{tag}", op, [x], fn(x).astype(dt))
with np.errstate(all="ignore"):
    x = np.array([-(2**31), 2**31 - 1, 0], np.int32)
    case("neg_i32_min", "neg", [x], (-x).astype(np.int32))  # wraps: -INT_MIN == INT_MIN

for tag, shape in (("1000", (1000,)), ("bc_shape", (3, 1, 4)), ("scalar", ())):
    x = bools(*shape)
    case(f"not_{tag}", "not", [x], np.logical_not(x))

# clip: the bounds are attributes (min, max); min > max gives max everywhere (numpy, ONNX)
x = f32(7, 13, lo=-5, hi=5)
case("clip_both", "clip", [x], np.minimum(np.maximum(x, -1.5), 2.25), attrs={"min": -1.5, "max": 2.25})
case("clip_min_only", "clip", [x], np.maximum(x, 0.5), attrs={"min": 0.5})
case("clip_max_only", "clip", [x], np.minimum(x, -0.5), attrs={"max": -0.5})
case("clip_min_gt_max", "clip", [x], np.minimum(np.maximum(x, 2.0), 1.0), attrs={"min": 2.0, "max": 1.0})
x = np.array([np.nan, -np.inf, np.inf, 0], np.float32)
case("clip_special", "clip", [x], np.clip(x, -1, 1), attrs={"min": -1.0, "max": 1.0})
x = ints(np.int32, 1000, lo=-100, hi=100)
case("clip_i32", "clip", [x], np.clip(x, -3, 5).astype(np.int32), attrs={"min": -3.0, "max": 5.0})
x = ints(np.int64, 13, lo=-100, hi=100)
case("clip_i64", "clip", [x], np.maximum(x, -7).astype(np.int64), attrs={"min": -7.0})
x = np.array(3.5, np.float32)
case("clip_scalar", "clip", [x], np.array(1.0, np.float32), attrs={"max": 1.0})

# ------------------------------------------------------------------ cast

DTYPES = {"f32": np.float32, "f16": np.float16, "i32": np.int32, "i64": np.int64, "u8": np.uint8, "bool": np.bool_}


def cast_source(src, dst):
    """Values whose conversion numpy defines (no NaN or out-of-range float -> int)."""
    if src in ("f32", "f16"):
        if dst == "u8":
            v = [0, 0.5, 1.5, 2.9, 100.25, 254.9, 7, 0.0]
        elif dst in ("i32", "i64"):
            v = [-3.7, -1.5, -0.5, 0, 0.5, 1.5, 2.9, 100.25, -1000.75, 2047]
        elif dst == "bool":
            v = [0, -0.0, 0.5, -2, np.inf, np.nan, 1e-3, 3]
        else:
            v = [-3.7, 0.1, 1 / 3, 65504, 7e4, -1e-6, 1e-8, 6e-5, np.inf, np.nan, -0.0, 2.0**-24, 2.0**-25,
                 1.00048828125, 1.000732421875]
        with np.errstate(over="ignore"):
            return np.array(v, DTYPES[src])
    if src == "bool":
        return bools(13)
    if src == "u8":
        return ints(np.uint8, 13, lo=0, hi=256)
    v = [0, 1, -1, 127, 128, 255, 256, 300, -129, 2**24 + 1, 65504, 70000, -(2**31), 2**31 - 1]
    if src == "i64":
        v += [2**33 + 5, -(2**40) - 3]
    return np.array(v, DTYPES[src])


for src in DTYPES:
    for dst in DTYPES:
        x = cast_source(src, dst)
        with np.errstate(all="ignore"):
            if src == "i64" and dst == "f16":
                y = x.astype(np.float64).astype(np.float16)  # one rounding, as numpy does
            else:
                y = x.astype(DTYPES[dst])
        case(f"cast_{src}_{dst}", "cast", [x], y, attrs={"to": dst})
x = f32(3, 0)
case("cast_empty", "cast", [x], x.astype(np.int32), attrs={"to": "i32"})
x = np.array(2.75, np.float32)
case("cast_scalar", "cast", [x], x.astype(np.int64), attrs={"to": "i64"})
# f16 -> f32 over every subnormal, both zeros, the infinities, NaNs, and a stride through the normals
bits = np.concatenate([np.arange(0, 0x400), np.arange(0x8000, 0x8400), np.arange(0x400, 0x7C00, 13),
                       np.arange(0x8400, 0xFC00, 29), [0x7C00, 0xFC00, 0x7C01, 0x7E00, 0xFE00, 0x7FFF]])
someh = bits.astype(np.uint16).view(np.float16)
case("cast_f16_bits_f32", "cast", [someh], someh.astype(np.float32), attrs={"to": "f32"})
allh = np.arange(65536, dtype=np.uint16).view(np.float16)
# f32 values halfway between f16 neighbours and around the subnormal/normal boundary
mid = (allh[:31744:97].astype(np.float64) + allh[1:31745:97].astype(np.float64)) / 2
mid = np.concatenate([mid, -mid, [6.097555160522461e-05, 6.103515625e-05, 2.9802322387695312e-08]]).astype(np.float32)
case("cast_f32_f16_ties", "cast", [mid], mid.astype(np.float16), attrs={"to": "f16"})

# ------------------------------------------------------------------ matmul, gemm

MM_TOL = {"rtol": 1e-4, "atol": 1e-4}  # f32 sums of up to ~130 products, BLAS order


def mm_ref(a, b, ta=False, tb=False):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if ta and a.ndim >= 2:
        a64 = np.swapaxes(a64, -1, -2)
    if tb and b.ndim >= 2:
        b64 = np.swapaxes(b64, -1, -2)
    return np.asarray(np.matmul(a64, b64)).astype(np.float32)


def mm_case(name, sa, sb, ta=0, tb=0):
    a, b = normal(*sa), normal(*sb)
    attrs = {}
    if ta:
        attrs["transpose_a"] = 1
    if tb:
        attrs["transpose_b"] = 1
    case(name, "matmul", [a, b], mm_ref(a, b, ta, tb), attrs=attrs, **MM_TOL)


mm_case("matmul_small", (3, 4), (4, 5))
mm_case("matmul_odd", (7, 13), (13, 129))
mm_case("matmul_vec_mat", (4,), (4, 5))
mm_case("matmul_mat_vec", (3, 4), (4,))
mm_case("matmul_vec_vec", (4,), (4,))
mm_case("matmul_batch_vec", (2, 3, 4), (4,))
mm_case("matmul_vec_batch", (4,), (2, 4, 5))
mm_case("matmul_bc_batch", (2, 1, 3, 4), (5, 4, 6))
mm_case("matmul_batch_shared_b", (2, 3, 4), (4, 5))
mm_case("matmul_shared_a", (4, 5), (2, 5, 3))
mm_case("matmul_ta", (4, 3), (4, 5), ta=1)
mm_case("matmul_tb", (3, 4), (5, 4), tb=1)
mm_case("matmul_ta_tb", (4, 3), (5, 4), ta=1, tb=1)
mm_case("matmul_attn_tb", (2, 3, 5, 8), (2, 3, 7, 8), tb=1)
mm_case("matmul_batch_ta_bc", (2, 1, 6, 3), (1, 4, 6, 5), ta=1)
mm_case("matmul_vec_flags", (4,), (4, 5), ta=1)  # flags do not apply to 1-D operands
mm_case("matmul_k0", (3, 0), (0, 4))
mm_case("matmul_m0", (0, 4), (4, 5))
mm_case("matmul_big", (64, 129), (129, 65))
mm_case("matmul_many_small", (40, 3, 5), (40, 5, 2))
mm_case("matmul_ones", (1, 1), (1, 1))


def gemm_case(name, sa, sb, sc, alpha=1.0, beta=1.0, ta=0, tb=0):
    a, b = normal(*sa), normal(*sb)
    ins = [a, b]
    ref = alpha * mm_ref(a, b, ta, tb).astype(np.float64)
    if sc is not None:
        c = normal(*sc)
        ins.append(c)
        ref = ref + beta * c.astype(np.float64)
    attrs = {}
    if alpha != 1.0:
        attrs["alpha"] = alpha
    if beta != 1.0:
        attrs["beta"] = beta
    if ta:
        attrs["transpose_a"] = 1
    if tb:
        attrs["transpose_b"] = 1
    case(name, "gemm", ins, ref.astype(np.float32), attrs=attrs, **MM_TOL)


gemm_case("gemm_row_bias", (3, 4), (4, 5), (5,), alpha=0.5, beta=2.0)
gemm_case("gemm_col_bias", (3, 4), (4, 5), (3, 1))
gemm_case("gemm_full_bias", (7, 13), (13, 9), (7, 9), beta=-1.0)
gemm_case("gemm_scalar_bias", (3, 4), (4, 5), ())
gemm_case("gemm_no_bias", (3, 4), (4, 5), None, alpha=2.0)
gemm_case("gemm_ta", (4, 3), (4, 5), (1, 5), ta=1)
gemm_case("gemm_tb", (3, 4), (5, 4), (5,), tb=1)
gemm_case("gemm_ta_tb", (4, 3), (5, 4), (3, 5), ta=1, tb=1, alpha=-1.5, beta=0.25)
gemm_case("gemm_k0", (3, 0), (0, 5), (5,), beta=3.0)
gemm_case("gemm_beta0", (3, 4), (4, 5), (5,), beta=0.0)

# ------------------------------------------------------------------ reductions

REDUCE = {"reduce_sum": np.sum, "reduce_mean": np.mean, "reduce_max": np.max}


def red_ref(op, x, axes, keepdims):
    ax = None if not axes else tuple(axes)
    if x.dtype == np.float32:
        return np.asarray(REDUCE[op](x.astype(np.float64), axis=ax, keepdims=keepdims)).astype(np.float32)
    return np.asarray(REDUCE[op](x, axis=ax, keepdims=keepdims)).astype(x.dtype)


def red_case(op, tag, x, axes, keepdims=1):
    attrs = {"axes": list(axes)}
    if keepdims != 1:
        attrs["keepdims"] = keepdims
    case(f"{op}_{tag}", op, [x], red_ref(op, x, axes, bool(keepdims)), attrs=attrs)


RED_F32 = [("rows_4x5000", normal(4, 5000), [1], 1), ("cols_3000x3", normal(3000, 3), [0], 0),
           ("outer_inner", normal(2, 3, 4), [0, 2], 1), ("outer_inner_nokeep", normal(2, 3, 4), [2, 0], 0),
           ("all", normal(3, 5, 7), [], 0), ("all_keep", normal(3, 5, 7), [], 1), ("neg_axis", normal(6, 7), [-1], 0),
           ("middle", normal(2, 300, 5), [1], 1), ("wide_inner", normal(3, 5, 300), [-2], 1),
           ("alternating", normal(2, 3, 4, 5, 3), [1, 3], 0), ("scalar", np.array(2.5, np.float32), [], 0),
           ("ones", normal(1, 7, 1), [0], 1), ("size1_axis", normal(4, 1, 3), [1], 0),
           ("empty_kept", normal(0, 3), [1], 0), ("odd_129", normal(129, 13), [0, 1], 0)]
RED_INT = [("i32", ints(np.int32, 7, 13, lo=-1000, hi=1000), [1], 1),
           ("i64_cols", ints(np.int64, 1000, 3, lo=-1000, hi=1000), [0], 0),
           ("i64_all", ints(np.int64, 4, 5, lo=-1000, hi=1000), [], 0)]
for op in REDUCE:
    for tag, x, axes, keep in RED_F32 + (RED_INT if op != "reduce_mean" else []):
        red_case(op, tag, x, axes, keepdims=keep)
x = np.array([[1, np.nan, 3], [4, 5, 6]], np.float32)
case("reduce_max_nan", "reduce_max", [x], np.max(x, axis=1), attrs={"axes": [1], "keepdims": 0})
x = np.array([[1, -np.inf, 3], [-np.inf, -np.inf, -np.inf]], np.float32)
case("reduce_max_inf", "reduce_max", [x], np.max(x, axis=1), attrs={"axes": [1], "keepdims": 0})
# infinities: the sum is inf (or NaN where inf meets -inf), whatever the summation order
x = np.array([[1, np.inf, 2, 3], [-np.inf, 1, 2, 3], [np.inf, -np.inf, 1, 2], [3, 4, 5, 6]], np.float32)
with np.errstate(all="ignore"):
    case("reduce_sum_inf", "reduce_sum", [x], np.sum(x.astype(np.float64), axis=1).astype(np.float32),
         attrs={"axes": [1], "keepdims": 0})
    case("reduce_mean_inf_cols", "reduce_mean", [np.ascontiguousarray(x.T)],
         np.mean(x.T.astype(np.float64), axis=0).astype(np.float32), attrs={"axes": [0], "keepdims": 0})
# a long sum whose f32 running total would lose the small terms
x = np.concatenate([np.full(1, 1e8), np.full(10000 - 1, 1.0)]).astype(np.float32).reshape(1, -1)
case("reduce_sum_long_accuracy", "reduce_sum", [x], np.sum(x.astype(np.float64), axis=1).astype(np.float32),
     attrs={"axes": [1], "keepdims": 0})

# ------------------------------------------------------------------ softmax, log_softmax


def softmax_ref(op, x, axis):
    t = tf64(x)
    y = torch.softmax(t, dim=axis) if op == "softmax" else torch.log_softmax(t, dim=axis)
    return y.numpy().astype(np.float32)


SOFTMAX_INPUTS = [("rows_4x1000", normal(4, 1000, scale=3), -1), ("axis1", normal(3, 5, 7), 1),
                  ("axis0_wide", normal(2, 3, 300), 0), ("single", normal(5, 1), -1),
                  ("stable", normal(2, 7) + 1000, -1), ("stable_neg", normal(3, 129) * 50 - 1e4, 1),
                  ("odd_257", normal(3, 257), -1), ("empty_outer", normal(0, 5), -1), ("rank1", normal(13), 0)]
masked = normal(4, 6)
masked[np.triu_indices(4, 1, 6)] = -np.inf  # a causal mask: every row keeps at least one entry
SOFTMAX_INPUTS.append(("masked", masked, -1))
for op in ("softmax", "log_softmax"):
    for tag, x, axis in SOFTMAX_INPUTS:
        attrs = {} if axis == -1 else {"axis": axis}
        case(f"{op}_{tag}", op, [x], softmax_ref(op, x, axis), attrs=attrs)

# ------------------------------------------------------------------ layer_norm, rms_norm

NORM_TOL = {"rtol": 1e-5, "atol": 1e-5}  # the normalised values pass through a few f32 roundings


def ln_ref(x, axis, scale, bias, eps):
    axis = axis % x.ndim
    shape = x.shape[axis:]
    w = None if scale is None else tf64(scale).reshape(shape)
    b = None if bias is None else tf64(bias).reshape(shape)
    return torch.nn.functional.layer_norm(tf64(x), shape, w, b, eps).numpy().astype(np.float32)


def rms_ref(x, axis, scale, eps):
    axis = axis % x.ndim
    x64 = x.astype(np.float64)
    axes = tuple(range(axis, x.ndim))
    y = x64 / np.sqrt(np.mean(x64 * x64, axis=axes, keepdims=True) + eps)
    if scale is not None:
        y = y * scale.astype(np.float64).reshape(x.shape[axis:])
    return y.astype(np.float32)


def ln_case(tag, x, axis=-1, scale_shape=None, bias_shape=None, eps=None):
    scale = None if scale_shape is None else normal(*scale_shape)
    bias = None if bias_shape is None else normal(*bias_shape)
    ins = [x] + [t for t in (scale, bias) if t is not None]
    attrs = {}
    if axis != -1:
        attrs["axis"] = axis
    if eps is not None:
        attrs["epsilon"] = eps
    case(f"layer_norm_{tag}", "layer_norm", ins, ln_ref(x, axis, scale, bias, 1e-5 if eps is None else eps),
         attrs=attrs, **NORM_TOL)


ln_case("rows", normal(4, 7), scale_shape=(7,), bias_shape=(7,))
ln_case("axis1", normal(2, 3, 5), axis=1, scale_shape=(3, 5), bias_shape=(15,))
ln_case("scale_only", normal(3, 129), scale_shape=(129,))
ln_case("plain", normal(5, 13))
ln_case("offset_5000", normal(2, 5000) + 1000, scale_shape=(5000,), bias_shape=(5000,))
ln_case("eps", normal(3, 4) * 1e-2, scale_shape=(4,), bias_shape=(4,), eps=1e-3)
ln_case("constant_rows", np.full((2, 8), 3.0, np.float32), scale_shape=(8,), bias_shape=(8,))
ln_case("neg_axis2", normal(2, 3, 4, 5), axis=-2, scale_shape=(4, 5), bias_shape=(4, 5))
ln_case("rank1", normal(257), scale_shape=(257,), bias_shape=(257,))
ln_case("empty_rows", normal(0, 6), scale_shape=(6,), bias_shape=(6,))


def rms_case(tag, x, axis=-1, scale_shape=None, eps=None):
    scale = None if scale_shape is None else normal(*scale_shape)
    ins = [x] + ([scale] if scale is not None else [])
    attrs = {}
    if axis != -1:
        attrs["axis"] = axis
    if eps is not None:
        attrs["epsilon"] = eps
    case(f"rms_norm_{tag}", "rms_norm", ins, rms_ref(x, axis, scale, 1e-6 if eps is None else eps), attrs=attrs,
         **NORM_TOL)


rms_case("rows", normal(4, 7), scale_shape=(7,))
rms_case("plain", normal(3, 129))
rms_case("axis_neg2", normal(2, 3, 4), axis=-2, scale_shape=(12,))
rms_case("long", normal(2, 5000) + 3, scale_shape=(5000,))
rms_case("eps", normal(3, 4) * 1e-3, scale_shape=(4,), eps=1e-2)
rms_case("zeros", np.zeros((2, 5), np.float32), scale_shape=(5,))

# ------------------------------------------------------------------ views

x = normal(2, 3, 4)
case("reshape_infer", "reshape", [x], x.reshape(4, -1), attrs={"shape": [4, -1]})
case("reshape_copy_dim", "reshape", [x], x.reshape(2, 12), attrs={"shape": [0, 12]})
case("reshape_flat", "reshape", [x], x.reshape(-1), attrs={"shape": [-1]})
case("reshape_to_scalar", "reshape", [np.array([7.5], np.float32)], np.array(7.5, np.float32), attrs={"shape": []})
case("reshape_from_scalar", "reshape", [np.array(7.5, np.float32)], np.array([[7.5]], np.float32),
     attrs={"shape": [1, 1]})
x = np.zeros((0, 3), np.float32)
case("reshape_allowzero", "reshape", [x], x.reshape(3, 0), attrs={"shape": [3, 0], "allowzero": 1})
x = ints(np.int64, 6, 5)
case("reshape_i64", "reshape", [x], x.reshape(3, 2, 5), attrs={"shape": [3, -1, 5]})

x = normal(1, 3, 1, 4)
case("squeeze_all", "squeeze", [x], x.reshape(3, 4))
case("squeeze_axis", "squeeze", [x], x.reshape(1, 3, 4), attrs={"axes": [-2]})
case("squeeze_axes", "squeeze", [x], x.reshape(3, 4), attrs={"axes": [0, 2]})
x = bools(1)
case("squeeze_to_scalar", "squeeze", [x], x.reshape(()))
x = normal(3, 4)
case("unsqueeze_ends", "unsqueeze", [x], x.reshape(1, 3, 4, 1), attrs={"axes": [0, -1]})
case("unsqueeze_middle", "unsqueeze", [x], x.reshape(3, 1, 4), attrs={"axes": [1]})
x = np.array(2, np.int32)
case("unsqueeze_scalar", "unsqueeze", [x], x.reshape(1), attrs={"axes": [0]})
x = normal(2, 3, 4)
case("flatten_default", "flatten", [x], x.reshape(2, 12))
case("flatten_axis0", "flatten", [x], x.reshape(1, 24), attrs={"axis": 0})
case("flatten_axis_end", "flatten", [x], x.reshape(24, 1), attrs={"axis": 3})
case("flatten_neg", "flatten", [x], x.reshape(6, 4), attrs={"axis": -1})
x = np.array(3.0, np.float32)
case("flatten_scalar", "flatten", [x], x.reshape(1, 1), attrs={"axis": 0})

# ------------------------------------------------------------------ transpose

for tag, x, perm in (("3d_102", normal(2, 3, 4), [1, 0, 2]), ("3d_201", normal(2, 3, 4), [2, 0, 1]),
                     ("default", normal(2, 3, 4), None), ("2d_odd", normal(7, 13), [1, 0]),
                     ("big_2d", normal(129, 65), [1, 0]), ("neg_perm", normal(3, 5, 2), [-1, 0, 1]),
                     ("ones", normal(2, 1, 3), [2, 1, 0]), ("rank1", normal(5), [0]),
                     ("scalar", np.array(1.5, np.float32), None), ("empty", normal(0, 3, 2), [2, 0, 1]),
                     ("4d_attn", normal(2, 5, 3, 8), [0, 2, 1, 3]),
                     ("f16", normal(3, 4, 5).astype(np.float16), [2, 1, 0]),
                     ("i64", ints(np.int64, 4, 6), [1, 0]), ("bool", bools(3, 5, 2), [1, 2, 0]),
                     ("u8", ints(np.uint8, 5, 7, lo=0, hi=255), [1, 0]),
                     ("i32_5d", ints(np.int32, 2, 3, 1, 4, 2), [4, 2, 0, 3, 1]),
                     # blocked 2-D transposes: batches, partial tiles, every element size
                     ("tiles_batched", normal(3, 40, 70), [0, 2, 1]), ("tiles_f16", normal(70, 9).astype(np.float16), [1, 0]),
                     ("tiles_u8", ints(np.uint8, 33, 65, lo=0, hi=255), [1, 0]),
                     ("tiles_i64_outer", ints(np.int64, 9, 2, 33), [2, 1, 0])):
    attrs = {} if perm is None else {"perm": perm}
    case(f"transpose_{tag}", "transpose", [x], np.transpose(x, perm), attrs=attrs)

# ------------------------------------------------------------------ concat, slice, split, gather

a, b = normal(2, 3), normal(4, 3)
case("concat_axis0", "concat", [a, b], np.concatenate([a, b], 0), attrs={"axis": 0})
a, b, c = normal(2, 1, 4), normal(2, 5, 4), normal(2, 2, 4)
case("concat_three_axis1", "concat", [a, b, c], np.concatenate([a, b, c], 1), attrs={"axis": 1})
a, b = normal(3, 7), normal(3, 13)
case("concat_neg_axis", "concat", [a, b], np.concatenate([a, b], -1), attrs={"axis": -1})
a, b = normal(3, 0), normal(3, 4)
case("concat_empty_part", "concat", [a, b], np.concatenate([a, b], 1), attrs={"axis": 1})
a = ints(np.int64, 5)
case("concat_single", "concat", [a], a, attrs={"axis": 0})
a, b = normal(2, 3).astype(np.float16), normal(2, 3).astype(np.float16)
case("concat_f16", "concat", [a, b], np.concatenate([a, b], 0), attrs={"axis": 0})
a, b = bools(4, 2), bools(4, 3)
case("concat_bool", "concat", [a, b], np.concatenate([a, b], 1), attrs={"axis": 1})
a, b = ints(np.int32, 1, 1000), ints(np.int32, 1, 1000)
case("concat_i32", "concat", [a, b], np.concatenate([a, b], 0), attrs={"axis": 0})


def onnx_slice(x, starts, ends, axes=None, steps=None):
    """ONNX Slice as its spec states it (golden_train.slice_index)."""
    return x[np.ix_(*golden_train.slice_index(x.shape, starts, ends, axes, steps))]


def slice_case(tag, x, starts, ends, axes=None, steps=None):
    attrs = {"starts": starts, "ends": ends}
    if axes is not None:
        attrs["axes"] = axes
    if steps is not None:
        attrs["steps"] = steps
    case(f"slice_{tag}", "slice", [x], onnx_slice(x, starts, ends, axes, steps), attrs=attrs)


x13 = normal(13)
x3d = normal(4, 5, 6)
slice_case("basic", x13, [2], [9])
slice_case("step2", x13, [1], [12], steps=[2])
slice_case("neg_idx", x13, [-5], [-1])
slice_case("clamped", x13, [-1000], [1000])
slice_case("int64_max_end", x13, [3], [INT64_MAX])
slice_case("reverse", x13, [-1], [-1000], steps=[-1])
slice_case("reverse_int64_min", x13, [12], [INT64_MIN], steps=[-1])
slice_case("neg_step3", x13, [11], [1], steps=[-3])
slice_case("empty", x13, [5], [2])
slice_case("empty_neg_step", x13, [2], [5], steps=[-1])
slice_case("axes", x3d, [1, -3], [4, 5], axes=[2, 0])
slice_case("neg_axes_steps", x3d, [4, 0], [0, 5], axes=[-1, -2], steps=[-2, 2])
slice_case("all_axes", x3d, [1, 1, 1], [3, 4, 5], steps=[1, 2, 3])
slice_case("f16", normal(6, 8).astype(np.float16), [1], [-1], axes=[1])
slice_case("i64_reverse_rows", ints(np.int64, 5, 3), [-1], [-6], axes=[0], steps=[-1])
slice_case("bool", bools(7, 7), [2, 0], [7, 7], steps=[2, 3])
slice_case("size1", normal(1, 5), [0], [1], axes=[0])
slice_case("huge_step", x13, [1], [13], steps=[INT64_MAX])
slice_case("huge_neg_step", x13, [12], [INT64_MIN], steps=[INT64_MIN])


def split_case(tag, x, axis, index, sizes=None, parts=None):
    attrs = {"axis": axis, "index": index}
    if sizes is not None:
        attrs["sizes"] = sizes
        bounds = np.cumsum([0] + sizes)
    else:
        attrs["parts"] = parts
        d = x.shape[axis]
        chunk = -(-d // parts)
        bounds = {i: min(i * chunk, d) for i in (index, index + 1)}
    sl = [slice(None)] * x.ndim
    sl[axis] = slice(bounds[index], bounds[index + 1])
    case(f"split_{tag}", "split", [x], x[tuple(sl)], attrs=attrs)


x = normal(7, 4)
for i in range(3):
    split_case(f"parts_uneven_{i}", x, 0, i, parts=3)
split_case("sizes_1", normal(3, 7), 1, 1, sizes=[2, 5])
split_case("sizes_neg_axis", normal(3, 7), -1, 0, sizes=[2, 5])
split_case("zero_size", normal(4, 3), 0, 1, sizes=[4, 0])
split_case("i32", ints(np.int32, 2, 6, 3), 1, 2, parts=3)
split_case("f16_last", normal(2, 10).astype(np.float16), 1, 3, parts=4)
split_case("huge_parts", normal(7, 2), 0, 0, parts=INT64_MAX)


def gather_case(tag, x, idx, axis=0):
    attrs = {} if axis == 0 else {"axis": axis}
    case(f"gather_{tag}", "gather", [x, idx], np.take(x, idx, axis=axis), attrs=attrs)


emb = normal(10, 4)
gather_case("embedding", emb, np.array([[0, 3, 9], [-1, -10, 2]], np.int64))
gather_case("i32_idx", emb, np.array([5, 5, -3], np.int32))
gather_case("axis1", normal(3, 7, 2), np.array([6, 0, -1, 3], np.int64), axis=1)
gather_case("neg_axis", normal(3, 7), np.array([[1], [-2]], np.int32), axis=-1)
gather_case("scalar_idx", emb, np.array(-2, np.int64))
gather_case("scalar_idx_axis1", normal(3, 5), np.array(4, np.int32), axis=1)
gather_case("empty_idx", emb, np.zeros((0, 2), np.int64))
gather_case("f16", normal(6, 3).astype(np.float16), np.array([1, -1], np.int64))
gather_case("bool", bools(4, 5), np.array([3, 0], np.int64), axis=1)
gather_case("i64_data", ints(np.int64, 1000), np.array([999, -1000, 500], np.int64))

# ------------------------------------------------------------------ expand, trilu, causal_mask


def expand_case(tag, x, shape):
    out = x * np.ones(shape, dtype=x.dtype) if x.dtype != np.bool_ else np.logical_and(x, np.ones(shape, np.bool_))
    case(f"expand_{tag}", "expand", [x], out.astype(x.dtype), attrs={"shape": list(shape)})


expand_case("col_to_3d", normal(3, 1), (2, 3, 4))
expand_case("row", normal(4), (3, 4))
expand_case("smaller_target", normal(3, 4), (1, 1))
expand_case("scalar", np.array(2.5, np.float32), (2, 2))
expand_case("i64", ints(np.int64, 1, 5), (7, 5))
expand_case("f16_both", normal(2, 1, 3).astype(np.float16), (4, 3))
expand_case("bool", bools(1), (257,))
expand_case("to_empty", normal(3, 1), (0, 3, 1))
expand_case("same", normal(2, 3), (2, 3))


def trilu_ref(x, upper, k):
    return np.triu(x, k) if upper else np.tril(x, k)


for tag, x, upper, k in (("upper", normal(5, 5), 1, 0), ("lower", normal(5, 5), 0, 0), ("upper_k1", normal(5, 5), 1, 1),
                         ("lower_km2", normal(5, 5), 0, -2), ("upper_wide_batch", normal(2, 3, 4, 6), 1, -1),
                         ("lower_tall", normal(7, 3), 0, 1), ("upper_k_big", normal(4, 4), 1, 100),
                         ("lower_k_neg_big", normal(4, 4), 0, -100), ("i64", ints(np.int64, 3, 4), 1, 0),
                         ("bool", bools(4, 4), 0, 0), ("f16", normal(3, 5).astype(np.float16), 1, 2),
                         ("empty", normal(0, 4, 4), 1, 0), ("ones", normal(1, 1), 0, -1)):
    attrs = {"upper": upper}
    if k:
        attrs["k"] = k
    case(f"trilu_{tag}", "trilu", [x], trilu_ref(x, upper, k), attrs=attrs)


def causal_ref(x, value):
    rows, cols = x.shape[-2], x.shape[-1]
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    return np.where(j > i + (cols - rows), np.float32(value), x).astype(np.float32)


for tag, x, value in (("square", normal(4, 4), None), ("kv_cache", normal(2, 3, 5), None),
                      ("tall", normal(5, 3), -1e9), ("one", normal(1, 1), None), ("batch4d", normal(2, 2, 3, 7), 0.0),
                      ("odd", normal(13, 129), -1e4)):
    attrs = {} if value is None else {"value": value}
    case(f"causal_mask_{tag}", "causal_mask", [x], causal_ref(x, -np.inf if value is None else value), attrs=attrs)

# ------------------------------------------------------------------ generators


def range_case(tag, start, limit, delta, dtype):
    n = max(math.ceil((limit - start) / delta), 0)
    if dtype == "f32":
        out = (start + np.arange(n, dtype=np.float64) * delta).astype(np.float32)
    else:
        out = (int(start) + np.arange(n, dtype=np.int64) * int(delta)).astype(DTYPES[dtype])
    case(f"range_{tag}", "range", [], out, attrs={"start": start, "limit": limit, "delta": delta, "dtype": dtype})


range_case("f32", 0.5, 3.0, 0.25, "f32")
range_case("i64_down", 10, 0, -3, "i64")
range_case("i32", -4, 9, 2, "i32")
range_case("empty", 5, 0, 1, "i64")
range_case("f32_frac_count", 0.0, 1.0, 0.3, "f32")
range_case("i64_default_1000", 0, 1000, 1, "i64")

x = normal(2, 3, 4)
case("shape_all", "shape", [x], np.array([2, 3, 4], np.int64))
case("shape_start", "shape", [x], np.array([3, 4], np.int64), attrs={"start": 1})
case("shape_end_neg", "shape", [x], np.array([2, 3], np.int64), attrs={"end": -1})
case("shape_start_neg", "shape", [x], np.array([3, 4], np.int64), attrs={"start": -2})
case("shape_clamped", "shape", [x], np.array([2, 3, 4], np.int64), attrs={"start": -10, "end": 10})
case("shape_empty_range", "shape", [x], np.zeros(0, np.int64), attrs={"start": 2, "end": 1})
case("shape_scalar", "shape", [np.array(1.0, np.float32)], np.zeros(0, np.int64))
case("shape_i64_input", "shape", [ints(np.int64, 0, 7)], np.array([0, 7], np.int64))

for tag, shape, value, dtype in (("f32", [2, 3], 1.5, "f32"), ("i64", [4], 7, "i64"), ("i32_trunc", [3, 1], -2.7, "i32"),
                                 ("bool", [2, 2], 1, "bool"), ("f16", [5], 0.5, "f16"), ("scalar", [], 3.0, "f32"),
                                 ("empty", [0, 3], 1.0, "f32"), ("u8", [257], 200, "u8"), ("default_zero", [3], None, None)):
    attrs = {"shape": shape}
    if value is not None:
        attrs["value"] = value
    if dtype is not None:
        attrs["dtype"] = dtype
    dt = DTYPES[dtype or "f32"]
    v = np.array(value or 0.0, np.float64)
    out = np.full(shape, v.astype(dt) if dt != np.int32 else np.trunc(v).astype(np.int32), dtype=dt)
    case(f"constant_of_shape_{tag}", "constant_of_shape", [], out, attrs=attrs)

# ------------------------------------------------------------------ errors (must fail)

z = np.zeros
error_case("err_add_broadcast", "add", [z(3, np.float32), z(4, np.float32)], "do not broadcast")
error_case("err_add_dtype", "add", [z(3, np.float32), z(3, np.int32)], "same dtype")
error_case("err_pow_int", "pow", [z(3, np.int32), z(3, np.int32)], "must be f32")
error_case("err_matmul_inner", "matmul", [z((2, 3), np.float32), z((4, 5), np.float32)], "inner dimensions differ")
error_case("err_matmul_batch", "matmul", [z((2, 3, 4), np.float32), z((3, 4, 5), np.float32)], "batch dimensions")
error_case("err_matmul_scalar", "matmul", [z((), np.float32), z(3, np.float32)], "rank >= 1")
error_case("err_gemm_bias", "gemm", [z((2, 3), np.float32), z((3, 4), np.float32), z(3, np.float32)], "does not broadcast")
error_case("err_reduce_empty_axis", "reduce_sum", [z((3, 0), np.float32)], "empty axis", attrs={"axes": [1]})
error_case("err_reduce_axis_range", "reduce_max", [z((3, 4), np.float32)], "out of range", attrs={"axes": [2]})
error_case("err_reduce_repeated", "reduce_sum", [z((3, 4), np.float32)], "repeated", attrs={"axes": [1, -1]})
error_case("err_reduce_mean_int", "reduce_mean", [z((3, 4), np.int32)], "must be f32")
error_case("err_softmax_axis", "softmax", [z((3, 4), np.float32)], "out of range", attrs={"axis": 2})
error_case("err_softmax_empty", "softmax", [z((3, 0), np.float32)], "empty axis")
error_case("err_layer_norm_scale", "layer_norm", [z((3, 4), np.float32), z(3, np.float32)], "normalised dims")
error_case("err_concat_shape", "concat", [z((2, 3), np.float32), z((3, 4), np.float32)], "cannot concatenate",
           attrs={"axis": 0})
error_case("err_concat_scalar", "concat", [z((), np.float32), z((), np.float32)], "out of range|cannot concatenate scalars",
           attrs={"axis": 0})
error_case("err_reshape_count", "reshape", [z((2, 3), np.float32)], "cannot reshape", attrs={"shape": [4, 2]})
error_case("err_reshape_two_infer", "reshape", [z((2, 3), np.float32)], "more than one -1", attrs={"shape": [-1, -1]})
error_case("err_transpose_perm", "transpose", [z((2, 3), np.float32)], "not a permutation", attrs={"perm": [0, 0]})
error_case("err_slice_step0", "slice", [z(5, np.float32)], "step is 0", attrs={"starts": [0], "ends": [3], "steps": [0]})
error_case("err_split_sizes", "split", [z((5, 2), np.float32)], "add up to", attrs={"sizes": [2, 2]})
error_case("err_split_sizes_overflow", "split", [z((5, 2), np.float32)], "add up to",
           attrs={"sizes": [INT64_MAX, INT64_MAX, 3]})
error_case("err_gather_float_idx", "gather", [z((5, 2), np.float32), z(2, np.float32)], "must be i32, i64")
error_case("err_gather_scalar", "gather", [z((), np.float32), z(2, np.int64)], "out of range|cannot gather from a scalar")
error_case("err_expand", "expand", [z((3,), np.float32)], "cannot expand", attrs={"shape": [2, 4]})
error_case("err_squeeze_not_1", "squeeze", [z((1, 3), np.float32)], "it is not 1", attrs={"axes": [1]})
error_case("err_where_cond", "where", [z(3, np.float32), z(3, np.float32), z(3, np.float32)], "must be bool")
error_case("err_where_dtypes", "where", [z(3, np.bool_), z(3, np.float32), z(3, np.int32)], "same dtype")
error_case("err_trilu_rank", "trilu", [z(3, np.float32)], "rank >= 2")
error_case("err_exp_int", "exp", [z(3, np.int32)], "must be f32")
error_case("err_not_float", "not", [z(3, np.float32)], "must be bool")
error_case("err_range_delta0", "range", [], "non-zero delta", attrs={"start": 0, "limit": 5, "delta": 0})
# data errors found while running
error_case("err_gather_index_range", "gather", [z((5, 2), np.float32), np.array([1, 5], np.int64)], "index 5",
           status="runtime error")
error_case("err_gather_index_neg", "gather", [z((5, 2), np.float32), np.array([-6], np.int32)], "index -6",
           status="runtime error")
error_case("err_div_int_zero", "div", [np.ones(3, np.int32), np.array([1, 0, 2], np.int32)], "division by zero",
           status="runtime error")

# ------------------------------------------------------------------ training ops (golden_train.py)

golden_train.add_cases(case, error_case)


# ------------------------------------------------------------------ reduce_prod (own generator: earlier files stay as they were)

rng = np.random.default_rng(20250101)
PROD_CASES = [("rows", f32(4, 50, lo=0.8, hi=1.25), [1], 1), ("cols", f32(300, 3, lo=0.95, hi=1.05), [0], 0),
              ("outer_inner", normal(2, 3, 4), [0, 2], 1), ("all", f32(3, 5, 7, lo=0.8, hi=1.2), [], 0),
              ("scalar", np.array(2.5, np.float32), [], 0), ("empty_kept", normal(0, 3), [1], 0),
              ("alternating", f32(2, 3, 4, 5, 3, lo=0.7, hi=1.3), [1, 3], 0), ("zero", np.array([[1, 0, 3], [2, 2, 2]], np.float32), [1], 0),
              ("i32", ints(np.int32, 7, 13, lo=-3, hi=4), [1], 1),
              ("i64_wraps", ints(np.int64, 40, 3, lo=-9, hi=10), [0], 0)]
REDUCE["reduce_prod"] = np.prod
for tag, x, axes, keep in PROD_CASES:
    red_case("reduce_prod", tag, x, axes, keepdims=keep)


# ------------------------------------------------------------------ fused ops (made by the rewrite passes)

rng = np.random.default_rng(20250202)


def gelu_ref(y):
    return (0.5 * y * (1.0 + np.vectorize(math.erf)(y / math.sqrt(2.0))))


def gelu_tanh_ref(y):
    return 0.5 * y * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (y + 0.044715 * y ** 3)))


ACTS = {"none": lambda y: y, "gelu": gelu_ref, "gelu_tanh": gelu_tanh_ref, "relu": lambda y: np.maximum(y, 0.0)}


def fused_case(tag, ashape, bshape, ta=0, tb=0, alpha=1.0, act="none", bias=True):
    a, b = normal(*ashape), normal(*bshape)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if ta:
        a64 = np.swapaxes(a64, -1, -2)
    if tb:
        b64 = np.swapaxes(b64, -1, -2)
    y = alpha * np.matmul(a64, b64)
    ins = [a, b]
    if bias:
        bv = normal(y.shape[-1])
        y = y + bv.astype(np.float64)
        ins.append(bv)
    y = ACTS[act](y)
    attrs = {"transpose_a": ta, "transpose_b": tb, "alpha": alpha, "activation": act}
    case(f"fused_matmul_{tag}", "fused_matmul", ins, y.astype(np.float32), attrs=attrs, atol=2e-6)


fused_case("bias_gelu", (2, 3, 5), (5, 4), act="gelu")
fused_case("bias_only", (7, 16), (16, 9))
fused_case("alpha_no_bias", (3, 4), (4, 6), alpha=0.125, bias=False)
fused_case("transposes_relu", (2, 5, 3), (2, 4, 5), ta=1, tb=1, act="relu")
fused_case("gelu_tanh", (4, 33), (33, 17), act="gelu_tanh")
fused_case("batch_broadcast", (2, 1, 3, 4), (3, 4, 5), act="gelu", alpha=-0.5)
fused_case("size1", (1, 1), (1, 1), act="gelu")
fused_case("k0", (3, 0), (0, 4), act="gelu")
fused_case("m0", (0, 5), (5, 3), act="relu")
fused_case("wide", (65, 130), (130, 257), act="gelu")


def attention_ref(q, k, v, mask, scale, bshd):
    q64, k64, v64 = q.astype(np.float64), k.astype(np.float64), v.astype(np.float64)
    if bshd:
        q64, k64, v64 = (np.transpose(t, (0, 2, 1, 3)) for t in (q64, k64, v64))
    s = scale * np.matmul(q64, np.swapaxes(k64, -1, -2))
    if mask is not None:
        s = s + mask.astype(np.float64)
    with np.errstate(invalid="ignore"):
        m = np.max(s, axis=-1, keepdims=True)
        e = np.exp(s - m)
        p = e / np.sum(e, axis=-1, keepdims=True)
    o = np.matmul(p, v64)
    if bshd:
        o = np.transpose(o, (0, 2, 1, 3))
    return o.astype(np.float32)


def attention_case(tag, qshape, sk, dv=None, mask_shape=None, scale=0.5, bshd=False, mask_fill=None, mask_edit=None):
    d = qshape[-1]
    dv = dv or d
    if bshd:
        b, sq, h, _ = qshape
        kshape, vshape = (b, sk, h, d), (b, sk, h, dv)
    else:
        kshape = qshape[:-2] + (sk, d)
        vshape = qshape[:-2] + (sk, dv)
    q, k, v = normal(*qshape), normal(*kshape), normal(*vshape)
    ins = [q, k, v]
    mask = None
    if mask_shape is not None:
        mask = normal(*mask_shape)
        if mask_fill is not None:
            mask = np.where(rng.random(mask_shape) < 0.3, np.float32(mask_fill), mask).astype(np.float32)
        if mask_edit is not None:
            mask_edit(mask)
        ins.append(mask)
    attrs = {"scale": scale, "layout": "bshd" if bshd else "bhsd"}
    case(f"attention_{tag}", "attention", ins, attention_ref(q, k, v, mask, scale, bshd), attrs=attrs, atol=2e-6)


attention_case("bhsd_mask", (2, 3, 5, 4), 7, mask_shape=(2, 1, 1, 7))
attention_case("no_mask", (3, 6, 8), 6, scale=1.0)
attention_case("bshd_mask", (2, 5, 3, 4), 6, mask_shape=(2, 1, 1, 6), bshd=True)
attention_case("dv_differs", (2, 4, 8), 9, dv=5, mask_shape=(4, 9))
attention_case("sq1", (1, 2, 1, 16), 10, mask_shape=(1, 1, 1, 10))
attention_case("sk1", (2, 3, 1), 1, dv=2)
attention_case("long_keys", (1, 2, 3, 8), 300, mask_shape=(1, 1, 3, 300), scale=0.35)
attention_case("many_rows", (1, 70, 2, 8), 20, mask_shape=(1, 2, 70, 20), bshd=True)
attention_case("minus_inf_mask", (2, 6, 4), 9, mask_shape=(2, 6, 9), mask_fill=-np.inf)
attention_case("large_mask", (1, 2, 4, 8), 12, mask_shape=(1, 1, 1, 12), mask_fill=-3.4028235e38)
attention_case("bshd_heads_mask", (2, 3, 4, 8), 5, mask_shape=(1, 4, 3, 5), bshd=True, scale=0.125)


def mask_key_blocks(mask):
    """The CPU kernel streams keys in blocks of 256 and query rows in units of 64: row 0 sees no
    key of the first block, row 1 none of the second, row 65 (in the second unit) only key 299,
    and row 3 has its largest score in the last block (its maximum rises late)."""
    mask[..., 0, :256] = -np.inf
    mask[..., 1, 256:] = -np.inf
    mask[..., 65, :299] = -np.inf
    mask[..., 3, 290] = 40.0


attention_case("key_blocks", (1, 2, 70, 8), 300, mask_shape=(1, 1, 70, 300), scale=0.35, mask_edit=mask_key_blocks)

# Rows longer than the OpenCL row kernels keep in registers (4 vectors per item: 4096 floats with
# 64 items of 16): those read the row once per pass. (Here, after the others, so that their
# random inputs stay as they were.)
for op in ("softmax", "log_softmax"):
    x = normal(2, 5000, scale=3)
    case(f"{op}_rows_2x5000", op, [x], softmax_ref(op, x, -1))

# ------------------------------------------------------------------ quantization (golden_quant.py; last, with
# a generator of its own, so the cases above keep their data)

golden_quant.add_cases(case, error_case)


# ------------------------------------------------------------------ decoding ops (golden_decode.py)

golden_decode.add_cases(case, state_case, error_case)


def main():
    with open(os.path.join(OUT_DIR, "cases.json"), "w") as f:
        json.dump({"generator": "tests/golden/make_golden.py", "cases": cases}, f, indent=1)
        f.write("\n")
    ops = sorted({c["op"] for c in cases})
    total = sum(os.path.getsize(os.path.join(OUT_DIR, n)) for n in os.listdir(OUT_DIR))
    print(f"{len(cases)} cases over {len(ops)} ops, {total / 1e6:.2f} MB in {OUT_DIR}")


if __name__ == "__main__":
    main()
