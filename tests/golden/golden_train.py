"""golden_train.py — the golden cases of the ops training adds (one_hot, argmax, the gradient ops,
the losses, and the optimizer updates as expected errors), for make_golden.py, which calls
add_cases() with its case writers. The references are computed independently of hcg: numpy, and
torch in float64 (its autograd for the gradients of unary functions and norms, its backward
kernels for softmax, F.cross_entropy / nll_loss / kl_div / mse_loss for the losses), then rounded
to the op's dtype. A random generator of its own keeps these cases from moving the others' data.

Optimizer updates and assign write their state inputs in place, and golden inputs are graph
inputs, not state tensors: they appear here only as expected errors; their values are tested
through training sessions (tests/test_opencl_train.c, tests/test_train_parity.c)."""
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20261129)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
NO_IGNORE = -(2**62)  # an ignore_index for torch that no target equals (hcg: attribute absent)

# Tolerances, from the size of the rounding each computation carries (the CPU kernels keep row
# statistics in double, the OpenCL ones in compensated float sums, and both round the last steps in
# float):
#  - unary_grad: one or two float roundings of dy * f'(x) plus the library's few ulp; f'(x) sums
#    terms of size ~1 that may cancel (gelu, silu, tanh near their turning points): |error| ~ 1e-7
#    * |dy|, inside atol 1e-6 for |dy| < 4;
#  - softmax_grad: y * (dy - s) subtracts a row sum s of size up to ~|dy|: ~1e-7 * (|dy| + |s|);
#  - the norm gradients scale every term by r = 1 / sqrt(var + eps) and subtract row means as
#    layer_norm does: the forward norms' tolerance (NORM_TOL in make_golden.py);
#  - the losses are sums of many rows: float sums with compensation land within a few ulp of the
#    double sum, and each row's log-sum-exp carries ~1e-7 relative.
GRAD_TOL = {"rtol": 1e-5, "atol": 1e-6}
ROW_TOL = {"rtol": 1e-5, "atol": 1e-5}
LOSS_TOL = {"rtol": 1e-5, "atol": 1e-6}


def normal(*shape, scale=1.0):
    return (rng.standard_normal(size=shape) * scale).astype(np.float32)


def uniform(lo, hi, *shape):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def ints(dtype, lo, hi, *shape):
    return rng.integers(lo, hi, size=shape).astype(dtype)


def tf64(x):
    return torch.from_numpy(np.asarray(x, dtype=np.float64))


def f32(t):
    """A torch result as a float32 numpy array (0-d stays 0-d)."""
    return np.asarray(t.detach().numpy(), dtype=np.float64).astype(np.float32)


def add_cases(case, error_case):
    index_ops(case, error_case)
    unary_grad(case, error_case)
    softmax_grads(case, error_case)
    norm_grads(case, error_case)
    gather_grad(case, error_case)
    slice_grad(case, error_case)
    class_losses(case, error_case)
    kl_div(case, error_case)
    mse_loss(case, error_case)
    optimizers(error_case)
    between_ranks(error_case)


# ------------------------------------------------------------------ one_hot, argmax

def one_hot_ref(idx, depth, axis):
    oh = (idx.astype(np.int64)[..., None] == np.arange(depth)).astype(np.float32)  # out of range: all zero
    return np.moveaxis(oh, -1, axis % (idx.ndim + 1))


def argmax_ref(x, axis, keepdims):
    y = np.argmax(x, axis=axis)  # the first of equal values; the first NaN wins
    return np.expand_dims(y, axis) if keepdims else y


def index_ops(case, error_case):
    for tag, idx, depth, axis in (
            ("i64_last", ints(np.int64, -2, 8, 4, 3), 5, -1),
            ("i32", ints(np.int32, 0, 3, 7), 3, -1),
            ("axis0", ints(np.int64, 0, 6, 3, 4), 6, 0),
            ("axis_mid", ints(np.int64, -1, 6, 2, 3, 4), 5, 1),
            ("neg_axis", ints(np.int32, 0, 4, 3, 4), 4, -2),
            ("scalar", np.array(2, np.int64), 4, -1),
            ("depth1", np.array([0, 1, -1, 0], np.int64), 1, -1),
            ("depth_257", np.array([0, 256, 257, 100, -1, 255, 3, 3, 128], np.int64), 257, -1),
            ("empty", np.zeros((0, 3), np.int64), 4, -1),
            ("extreme_i64", np.array([2**40, -(2**40), INT64_MIN, INT64_MAX, 1], np.int64), 3, 0),
            ("extreme_i32", np.array([-(2**31), 2**31 - 1, 2], np.int32), 3, -1)):
        attrs = {"depth": depth}
        if axis != -1:
            attrs["axis"] = axis
        case(f"one_hot_{tag}", "one_hot", [idx], one_hot_ref(idx, depth, axis), attrs=attrs)
    z = np.zeros
    error_case("err_one_hot_depth0", "one_hot", [z(3, np.int64)], "depth must be at least 1", attrs={"depth": 0})
    error_case("err_one_hot_float", "one_hot", [z(3, np.float32)], "must be i32, i64", attrs={"depth": 2})
    error_case("err_one_hot_axis", "one_hot", [z(3, np.int64)], "out of range", attrs={"depth": 2, "axis": 2})

    nan_rows = np.array([[1, np.nan, 3, np.nan], [np.nan, 5, 6, 7], [-np.inf, -np.inf, -np.inf, -np.inf],
                         [np.inf, 1, np.inf, 2], [-1, -1, -2, -1], [0, -0.0, 0, 0]], np.float32)
    for tag, x, axis, keep in (
            ("rows", normal(4, 1000), -1, 0),
            ("ties", ints(np.float32, 0, 3, 6, 13), -1, 0),
            ("nan_inf", nan_rows, 1, 0),
            ("nan_col", np.ascontiguousarray(nan_rows.T), 0, 1),
            ("axis0_keep", normal(7, 3), 0, 1),
            ("middle", normal(2, 5, 3), 1, 0),
            ("neg_axis_keep", normal(2, 3, 4, 5), -3, 1),
            ("rank1_257", normal(257), 0, 0),
            ("size1", normal(4, 1), 1, 0),
            ("i32_ties", ints(np.int32, -3, 3, 5, 9), 1, 0),
            ("i64_extremes", np.array([[INT64_MIN, INT64_MIN, -5], [3, INT64_MAX, INT64_MAX], [7, 7, 7]], np.int64),
             -1, 0),
            ("i64_long", ints(np.int64, -10**12, 10**12, 3, 1000), 1, 1),
            ("empty_outer", normal(0, 5), 1, 0),
            ("wide_inner", normal(3, 7, 300), 1, 0),
            ("long_row", normal(2, 5000), -1, 0),
            ("ties_cols", ints(np.float32, 0, 2, 9, 40), 0, 0)):
        attrs = {}
        if axis != -1:
            attrs["axis"] = axis
        if keep:
            attrs["keepdims"] = 1
        case(f"argmax_{tag}", "argmax", [x], argmax_ref(x, axis, keep).astype(np.int64), attrs=attrs)
    error_case("err_argmax_empty_axis", "argmax", [z((3, 0), np.float32)], "empty axis", attrs={"axis": 1})
    error_case("err_argmax_scalar", "argmax", [z((), np.float32)], "rank >= 1")
    error_case("err_argmax_bool", "argmax", [z(3, np.bool_)], "must be f32, i32, i64")


# ------------------------------------------------------------------ unary_grad

def unary_fn(name):
    return {"exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "tanh": torch.tanh,
            "sigmoid": torch.sigmoid, "relu": torch.relu, "gelu": lambda t: F.gelu(t, approximate="none"),
            "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "silu": F.silu, "erf": torch.erf, "abs": torch.abs,
            "reciprocal": torch.reciprocal}[name]


def autograd_ref(fn, x, dy):
    """d/dx of sum(fn(x) * dy), in float64."""
    xt = tf64(x).requires_grad_()
    (g,) = torch.autograd.grad(fn(xt), xt, tf64(dy))
    return f32(g)


UNARY_GRAD_RANGES = {"exp": (-20, 20), "log": (0.001, 100), "sqrt": (0.01, 100), "rsqrt": (0.01, 100),
                     "tanh": (-10, 10), "sigmoid": (-30, 30), "relu": (-5, 5), "gelu": (-6, 6),
                     "gelu_tanh": (-6, 6), "silu": (-30, 30), "erf": (-4, 4), "abs": (-5, 5),
                     "reciprocal": (0.1, 10)}


def unary_grad(case, error_case):
    for of, (lo, hi) in UNARY_GRAD_RANGES.items():
        for tag, shape in (("1000", (1000,)), ("7x13", (7, 13)), ("scalar", ()), ("empty", (0, 4))):
            x = uniform(lo, hi, *shape)
            if of == "reciprocal" and shape == (7, 13):
                x = x * np.where(rng.integers(0, 2, size=shape) == 1, 1, -1).astype(np.float32)
            if of in ("relu", "abs") and x.size >= 7:
                x.reshape(-1)[::7] = 0  # the kink: both take 0 there, as PyTorch does
            dy = normal(*shape)
            case(f"unary_grad_{of}_{tag}", "unary_grad", [x, dy], autograd_ref(unary_fn(of), x, dy), attrs={"of": of},
                 **GRAD_TOL)
    z = np.zeros
    error_case("err_unary_grad_of", "unary_grad", [z(3, np.float32), z(3, np.float32)], "'of' must name",
               attrs={"of": "softmax"}, status="invalid graph")
    error_case("err_unary_grad_shape", "unary_grad", [z(3, np.float32), z(4, np.float32)], "same shape",
               attrs={"of": "exp"})
    error_case("err_unary_grad_int", "unary_grad", [z(3, np.int32), z(3, np.int32)], "must be f32", attrs={"of": "exp"})


# ------------------------------------------------------------------ softmax_grad, log_softmax_grad

def softmax_grads(case, error_case):
    masked = normal(4, 6)
    masked[np.triu_indices(4, 1, 6)] = -np.inf
    inputs = [("rows_4x1000", normal(4, 1000, scale=3), -1), ("axis1", normal(3, 5, 7), 1),
              ("axis0_wide", normal(2, 3, 300), 0), ("single", normal(5, 1), -1), ("rank1", normal(13), 0),
              ("odd_257", normal(3, 257), -1), ("masked", masked, -1), ("empty_outer", normal(0, 5), -1),
              ("neg_axis", normal(2, 9, 4), -2)]
    for op in ("softmax_grad", "log_softmax_grad"):
        for tag, x, axis in inputs:
            t = tf64(x)
            y = f32(torch.softmax(t, dim=axis) if op == "softmax_grad" else torch.log_softmax(t, dim=axis))
            dy = normal(*x.shape)
            if op == "softmax_grad":
                ref = torch.ops.aten._softmax_backward_data(tf64(dy), tf64(y), axis, torch.float64)
            else:
                ref = torch.ops.aten._log_softmax_backward_data(tf64(dy), tf64(y), axis, torch.float64)
            attrs = {} if axis == -1 else {"axis": axis}
            case(f"{op}_{tag}", op, [y, dy], f32(ref), attrs=attrs, **ROW_TOL)
    z = np.zeros
    error_case("err_softmax_grad_shape", "softmax_grad", [z((3, 4), np.float32), z((4, 3), np.float32)], "same shape")
    error_case("err_softmax_grad_axis", "log_softmax_grad", [z((3, 4), np.float32), z((3, 4), np.float32)],
               "out of range", attrs={"axis": 2})
    error_case("err_softmax_grad_scalar", "softmax_grad", [z((), np.float32), z((), np.float32)], "out of range")


# ------------------------------------------------------------------ layer_norm_grad, rms_norm_grad

def rms_norm_t(x, shape, w, eps):
    dims = tuple(range(x.dim() - len(shape), x.dim()))
    y = x / torch.sqrt(torch.mean(x * x, dim=dims, keepdim=True) + eps)
    return y if w is None else y * w


def norm_grads(case, error_case):
    def run(op, tag, x, axis=-1, scale_shape=None, eps=None):
        default_eps = 1e-5 if op == "layer_norm_grad" else 1e-6
        e = default_eps if eps is None else eps
        a = axis % x.ndim
        shape = x.shape[a:]
        scale = None if scale_shape is None else normal(*scale_shape)
        dy = normal(*x.shape)
        xt = tf64(x).requires_grad_()
        w = None if scale is None else tf64(scale).reshape(shape)
        if op == "layer_norm_grad":
            y = F.layer_norm(xt, shape, w, None, e)
        else:
            y = rms_norm_t(xt, shape, w, e)
        (g,) = torch.autograd.grad(y, xt, tf64(dy))
        attrs = {}
        if axis != -1:
            attrs["axis"] = axis
        if eps is not None:
            attrs["epsilon"] = eps
        ins = [x, dy] + ([scale] if scale is not None else [])
        case(f"{op}_{tag}", op, ins, f32(g), attrs=attrs, **ROW_TOL)

    for op in ("layer_norm_grad", "rms_norm_grad"):
        run(op, "rows", normal(4, 7), scale_shape=(7,))
        run(op, "axis1", normal(2, 3, 5), axis=1, scale_shape=(15,))
        run(op, "plain", normal(5, 13))
        run(op, "odd_257", normal(3, 257), scale_shape=(257,))
        run(op, "offset", normal(2, 3000) + 1000, scale_shape=(3000,))
        run(op, "eps", normal(3, 4) * 1e-2, scale_shape=(4,), eps=1e-3)
        run(op, "constant_rows", np.full((2, 8), 3.0, np.float32), scale_shape=(8,))
        run(op, "neg_axis2", normal(2, 3, 4, 5), axis=-2, scale_shape=(4, 5))
        run(op, "rank1", normal(129), scale_shape=(129,))
        # one element per row: x ~ sqrt(eps), where rms_norm's gradient r * g * eps / (x^2 + eps) does
        # not cancel to nothing in float
        run(op, "size1_rows", normal(6, 1) * 1e-3, scale_shape=(1,))
        run(op, "empty_rows", normal(0, 6), scale_shape=(6,))
    run("rms_norm_grad", "zeros", np.zeros((2, 5), np.float32), scale_shape=(5,))
    z = np.zeros
    error_case("err_layer_norm_grad_scale", "layer_norm_grad", [z((3, 4), np.float32), z((3, 4), np.float32),
                                                               z(3, np.float32)], "must have 4 elements")
    error_case("err_rms_norm_grad_dy", "rms_norm_grad", [z((3, 4), np.float32), z((3, 5), np.float32)], "same shape")
    error_case("err_layer_norm_grad_scalar", "layer_norm_grad", [z((), np.float32), z((), np.float32)], "rank >= 1")
    error_case("err_layer_norm_grad_empty", "layer_norm_grad", [z((3, 0), np.float32), z((3, 0), np.float32)],
               "empty axis")


# ------------------------------------------------------------------ gather_grad

def gather_grad_ref(dy, idx, shape, axis):
    axis %= len(shape)
    out = np.zeros(shape, np.float64)
    flat = np.asarray(idx, np.int64).reshape(-1)
    flat = np.where(flat < 0, flat + shape[axis], flat)
    rows = dy.astype(np.float64).reshape(tuple(shape[:axis]) + (flat.size,) + tuple(shape[axis + 1:]))
    np.add.at(np.moveaxis(out, axis, 0), flat, np.moveaxis(rows, axis, 0))
    return out.astype(np.float32)


def gather_grad_dy_shape(idx, shape, axis):
    axis %= len(shape)
    return tuple(shape[:axis]) + np.shape(idx) + tuple(shape[axis + 1:])


def gather_grad(case, error_case):
    def run(tag, shape, idx, axis=0, dy=None, **tol):
        if dy is None:
            dy = normal(*gather_grad_dy_shape(idx, shape, axis))
        attrs = {"shape": list(shape)}
        if axis != 0:
            attrs["axis"] = axis
        case(f"gather_grad_{tag}", "gather_grad", [dy, idx], gather_grad_ref(dy, idx, shape, axis), attrs=attrs,
             **(tol or GRAD_TOL))

    run("embedding", (10, 4), np.array([[0, 3, 9], [-1, 3, -10]], np.int64))
    run("i32_dups", (10, 4), np.array([5, 5, -5, -3], np.int32))
    run("axis1", (3, 7, 2), np.array([6, 0, -1, 3, 0], np.int64), axis=1)
    run("neg_axis", (3, 7), np.array([[1], [-2]], np.int32), axis=-1)
    run("scalar_idx", (10, 4), np.array(-2, np.int64))
    run("scalar_idx_axis1", (3, 5), np.array(4, np.int32), axis=1)
    run("empty_idx", (10, 4), np.zeros((0, 2), np.int64))
    run("rank4_axis2", (2, 3, 4, 5), np.array([[1, 3], [0, 1], [3, 3]], np.int64), axis=2)
    run("size1_dim", (1, 6), np.array([0, 0, -1], np.int64))
    run("empty_out", (0, 4), np.array([1, 2], np.int64), axis=1)
    run("empty_inner", (3, 0), np.array([2, -1], np.int64))
    run("odd_257", (257, 3), ints(np.int64, -257, 257, 600))
    # 300 indices into 5 rows: the sums of eighths are exact in float, whatever the order
    idx = ints(np.int64, 0, 5, 300)
    dy = (ints(np.int64, -16, 17, 300, 3) / 8.0).astype(np.float32)
    run("many_dups_exact", (5, 3), idx, dy=dy)
    z = np.zeros
    error_case("err_gather_grad_range", "gather_grad", [z((2, 4), np.float32), np.array([1, 10], np.int64)],
               "index 10", attrs={"shape": [10, 4]}, status="runtime error")
    error_case("err_gather_grad_neg", "gather_grad", [z((3, 1, 2), np.float32), np.array([-4], np.int32)],
               "index -4", attrs={"shape": [3, 3, 2], "axis": 1}, status="runtime error")
    error_case("err_gather_grad_dy", "gather_grad", [z((2, 5), np.float32), np.array([1, 2], np.int64)],
               "gathering gives", attrs={"shape": [10, 4]})
    error_case("err_gather_grad_float_idx", "gather_grad", [z((2, 4), np.float32), z(2, np.float32)],
               "must be i32, i64", attrs={"shape": [10, 4]})
    error_case("err_gather_grad_scalar", "gather_grad", [z((), np.float32), np.array(0, np.int64)], "rank >= 1",
               attrs={"shape": []})


# ------------------------------------------------------------------ slice_grad

def slice_index(shape, starts, ends, axes, steps):
    """The positions slice(starts, ends, axes, steps) reads, per dim, as ONNX Slice's spec states
    them: negative starts/ends count from the end, then starts clamp to [0, d] ([0, d-1] for
    negative steps) and ends to [0, d] ([-1, d-1])."""
    axes = list(range(len(starts))) if axes is None else [a % len(shape) for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    pos = [np.arange(d) for d in shape]
    for s, e, a, st in zip(starts, ends, axes, steps):
        d = shape[a]
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
        pos[a] = np.arange(s, e, st, dtype=np.int64)
    return pos


def slice_grad(case, error_case):
    def run(tag, shape, starts, ends, axes=None, steps=None, dtype=np.float32):
        pos = slice_index(shape, starts, ends, axes, steps)
        dshape = tuple(len(p) for p in pos)
        if dtype == np.float32 or dtype == np.float16:
            dy = normal(*dshape).astype(dtype)
        elif dtype == np.bool_:
            dy = rng.integers(0, 2, size=dshape).astype(np.bool_)
        else:
            dy = ints(dtype, 1, 100, *dshape)
        out = np.zeros(shape, dtype)
        out[np.ix_(*pos)] = dy
        attrs = {"shape": list(shape), "starts": starts, "ends": ends}
        if axes is not None:
            attrs["axes"] = axes
        if steps is not None:
            attrs["steps"] = steps
        case(f"slice_grad_{tag}", "slice_grad", [dy], out, attrs=attrs)

    run("basic", (13,), [2], [9])
    run("step2", (13,), [1], [12], steps=[2])
    run("neg_idx", (13,), [-5], [-1])
    run("clamped", (13,), [-1000], [1000])
    run("reverse", (13,), [-1], [-1000], steps=[-1])
    run("neg_step3", (13,), [11], [1], steps=[-3])
    run("empty", (13,), [5], [2])
    run("axes", (4, 5, 6), [1, -3], [4, 5], axes=[2, 0])
    run("neg_axes_steps", (4, 5, 6), [4, 0], [0, 5], axes=[-1, -2], steps=[-2, 2])
    run("all_axes", (4, 5, 6), [1, 1, 1], [3, 4, 5], steps=[1, 2, 3])
    run("odd_257", (3, 257), [1], [256], axes=[1], steps=[3])
    run("rank4", (2, 3, 4, 5), [1, 0], [3, 5], axes=[2, 3], steps=[1, 2])
    run("size1", (1, 5), [0], [1], axes=[0])
    run("huge_step", (13,), [1], [13], steps=[INT64_MAX])
    run("int64_max_end", (13,), [3], [INT64_MAX])
    run("f16", (6, 8), [1], [-1], axes=[1], dtype=np.float16)
    run("i64_reverse_rows", (5, 3), [-1], [-6], axes=[0], steps=[-1], dtype=np.int64)
    run("i32", (7, 7), [2, 0], [7, 7], steps=[2, 3], dtype=np.int32)
    run("u8", (9,), [0], [9], steps=[4], dtype=np.uint8)
    run("bool", (7, 7), [2, 0], [7, 7], steps=[2, 3], dtype=np.bool_)
    z = np.zeros
    error_case("err_slice_grad_shape", "slice_grad", [z(5, np.float32)], "but the slice is",
               attrs={"shape": [13], "starts": [2], "ends": [9]})
    error_case("err_slice_grad_step0", "slice_grad", [z(3, np.float32)], "step is 0",
               attrs={"shape": [5], "starts": [0], "ends": [3], "steps": [0]})
    error_case("err_slice_grad_neg_dim", "slice_grad", [z(3, np.float32)], "negative",
               attrs={"shape": [-5], "starts": [0], "ends": [3]})


# ------------------------------------------------------------------ softmax_cross_entropy, nll_loss

def class_loss_ref(op, x, t, axis=1, ignore=None, ls=0.0, reduction="mean"):
    xt = tf64(np.moveaxis(x, axis % x.ndim, 1))
    kw = {"reduction": reduction, "ignore_index": NO_IGNORE if ignore is None else ignore}
    if t.dtype.kind == "f":
        tt = tf64(np.moveaxis(t, axis % x.ndim, 1))
        kw = {"reduction": reduction}
    else:
        tt = torch.from_numpy(t.astype(np.int64))
    if op == "softmax_cross_entropy":
        return f32(F.cross_entropy(xt, tt, label_smoothing=ls, **kw))
    return f32(F.nll_loss(xt, tt, **kw))


def class_losses(case, error_case):
    def run(op, tag, x, t, axis=None, ignore=None, ls=0.0, reduction="mean"):
        attrs = {}
        if axis is not None:
            attrs["axis"] = axis
        if ignore is not None:
            attrs["ignore_index"] = ignore
        if ls:
            attrs["label_smoothing"] = ls
        if reduction != "mean":
            attrs["reduction"] = reduction
        with np.errstate(all="ignore"):
            ref = class_loss_ref(op, x, t, 1 if axis is None else axis, ignore, ls, reduction)
        case(f"{op}_{tag}", op, [x, t], ref, attrs=attrs, **LOSS_TOL)

    sce = "softmax_cross_entropy"

    def labels(n, c, dtype=np.int64):
        return ints(dtype, 0, c, n)

    def probs(*shape):
        return f32(torch.softmax(tf64(normal(*shape, scale=2)), dim=1))

    run(sce, "basic", normal(8, 10, scale=2), labels(8, 10))
    run(sce, "i32", normal(8, 10, scale=2), labels(8, 10, np.int32))
    run(sce, "sum", normal(8, 10, scale=2), labels(8, 10), reduction="sum")
    run(sce, "none", normal(6, 5, scale=2), labels(6, 5), reduction="none")
    t = labels(8, 10)
    t[[1, 4, 5]] = -100
    run(sce, "ignore", normal(8, 10, scale=2), t, ignore=-100)
    t = labels(12, 4)
    t[::3] = 2
    run(sce, "ignore_in_range", normal(12, 4), t, ignore=2)
    run(sce, "smooth", normal(8, 10, scale=2), labels(8, 10), ls=0.1)
    t = labels(9, 6)
    t[[0, 7]] = -1
    run(sce, "smooth_ignore", normal(9, 6, scale=2), t, ignore=-1, ls=0.2)
    run(sce, "smooth_ignore_none", normal(9, 6, scale=2), t, ignore=-1, ls=0.2, reduction="none")
    run(sce, "smooth_sum", normal(5, 7), labels(5, 7), ls=0.5, reduction="sum")
    run(sce, "smooth_one", normal(5, 7), labels(5, 7), ls=1.0)
    run(sce, "probs", normal(8, 10, scale=2), probs(8, 10))
    run(sce, "probs_smooth", normal(8, 10, scale=2), probs(8, 10), ls=0.3)
    run(sce, "probs_none", normal(6, 5), probs(6, 5), reduction="none")
    run(sce, "probs_unnormalised", normal(6, 5), uniform(0, 1, 6, 5), reduction="sum")
    run(sce, "probs_axis_last", normal(2, 3, 5), np.moveaxis(probs(2, 5, 3), 1, -1).copy(), axis=-1)
    run(sce, "axis_last_rank3", normal(2, 3, 5), ints(np.int64, 0, 5, 2, 3), axis=-1)
    run(sce, "kdim", normal(2, 5, 3), ints(np.int64, 0, 5, 2, 3))
    run(sce, "rank4_none", normal(2, 4, 3, 2), ints(np.int32, 0, 4, 2, 3, 2), reduction="none")
    run(sce, "axis0", normal(5, 3), ints(np.int64, 0, 5, 3), axis=0)
    run(sce, "one_class", normal(4, 1), np.zeros(4, np.int64))
    run(sce, "odd_257", normal(3, 257, scale=3), np.array([0, 256, 100], np.int64))
    run(sce, "wide_rows", normal(4, 3000, scale=3), ints(np.int64, 0, 3000, 4))
    run(sce, "many_rows", normal(1000, 3), labels(1000, 3))
    run(sce, "large_logits", normal(6, 9) * 5 + 1000, labels(6, 9))
    x = normal(4, 5)
    x[:, 3] = -np.inf
    run(sce, "neg_inf_logit", x, np.array([0, 1, 2, 4], np.int64), reduction="none")
    run(sce, "neg_inf_logit_smooth", x, np.array([0, 1, 2, 4], np.int64), ls=0.1)
    x = normal(3, 4)
    x[1, 2] = np.nan
    run(sce, "nan_logit", x, np.array([0, 1, 3], np.int64), reduction="none")
    run(sce, "all_ignored", normal(3, 4), np.full(3, 7, np.int64), ignore=7)
    run(sce, "single_row", normal(1, 7), np.array([6], np.int64))
    run(sce, "empty_sum", normal(0, 5), np.zeros(0, np.int64), reduction="sum")
    run(sce, "empty_mean", normal(0, 5), np.zeros(0, np.int64))

    nll = "nll_loss"
    lp = f32(torch.log_softmax(tf64(normal(8, 10, scale=2)), dim=1))
    run(nll, "basic", lp, labels(8, 10))
    run(nll, "raw_scores_sum", normal(8, 10), labels(8, 10), reduction="sum")
    t = labels(8, 10)
    t[[2, 3]] = -100
    run(nll, "ignore", lp, t, ignore=-100)
    run(nll, "none", normal(6, 5), labels(6, 5, np.int32), reduction="none")
    run(nll, "kdim", normal(2, 5, 3), ints(np.int64, 0, 5, 2, 3))
    run(nll, "axis_last", normal(3, 4, 6), ints(np.int64, 0, 6, 3, 4), axis=-1)
    run(nll, "all_ignored", normal(3, 4), np.full(3, -1, np.int64), ignore=-1)
    run(nll, "many_rows", normal(1000, 3), labels(1000, 3))

    z = np.zeros
    error_case("err_sce_target_shape", sce, [z((4, 5), np.float32), z(5, np.int64)], "class-index targets")
    error_case("err_sce_probs_shape", sce, [z((4, 5), np.float32), z((4, 4), np.float32)], "probability targets")
    error_case("err_sce_smoothing_high", sce, [z((4, 5), np.float32), z(4, np.int64)], "label_smoothing must be in",
               attrs={"label_smoothing": 1.5}, status="invalid graph")
    error_case("err_sce_smoothing_neg", sce, [z((4, 5), np.float32), z(4, np.int64)], "label_smoothing must be in",
               attrs={"label_smoothing": -0.1}, status="invalid graph")
    error_case("err_sce_rank1", sce, [z(5, np.float32), z((), np.int64)], "rank >= 2")
    error_case("err_sce_reduction", sce, [z((4, 5), np.float32), z(4, np.int64)], "reduction must be",
               attrs={"reduction": "avg"}, status="invalid graph")
    error_case("err_sce_ignore_probs", sce, [z((4, 5), np.float32), z((4, 5), np.float32)], "ignore_index needs",
               attrs={"ignore_index": 1}, status="invalid graph")
    error_case("err_sce_target_dtype", sce, [z((4, 5), np.float32), z(4, np.uint8)], "must be i32, i64")
    error_case("err_sce_no_classes", sce, [z((4, 0), np.float32), z(4, np.int64)], "no classes")
    error_case("err_nll_probs", nll, [z((4, 5), np.float32), z((4, 5), np.float32)], "must be i32, i64")
    error_case("err_sce_target_range", sce, [z((4, 5), np.float32), np.array([0, 1, 5, 2], np.int64)],
               "target 5 (row 2) is not a class index", status="runtime error")
    error_case("err_sce_target_neg", sce, [z((3, 5), np.float32), np.array([0, -1, 2], np.int32)],
               "target -1 (row 1)", status="runtime error")
    error_case("err_sce_target_not_ignored", sce, [z((3, 5), np.float32), np.array([0, -100, 2], np.int64)],
               "target -100 (row 1)", attrs={"ignore_index": -1}, status="runtime error")
    error_case("err_nll_target_range", nll, [z((2, 3, 2), np.float32), np.array([[0, 1], [2, 3]], np.int64)],
               "target 3 (row 3)", status="runtime error")


# ------------------------------------------------------------------ kl_div

def kl_ref(s, p, axis, temp):
    a = axis % s.ndim
    lp = torch.log_softmax(tf64(np.moveaxis(s, a, -1)) / temp, dim=-1)
    total = F.kl_div(lp, tf64(np.moveaxis(p, a, -1)), reduction="sum")  # xlogy(p, p) - p * lp, summed
    rows = s.size // s.shape[a]
    return f32(total * temp * temp / rows)


def kl_div(case, error_case):
    def run(tag, s, p, axis=None, temp=None):
        attrs = {}
        if axis is not None:
            attrs["axis"] = axis
        if temp is not None:
            attrs["temperature"] = temp
        with np.errstate(all="ignore"):
            ref = kl_ref(s, p, 1 if axis is None else axis, 1.0 if temp is None else temp)
        case(f"kl_div_{tag}", "kl_div", [s, p], ref, attrs=attrs, **LOSS_TOL)

    def probs(*shape, axis=1, scale=2.0):
        return f32(torch.softmax(tf64(normal(*shape, scale=scale)), dim=axis))

    run("basic", normal(8, 10, scale=2), probs(8, 10))
    run("temperature2", normal(8, 10, scale=3), probs(8, 10), temp=2.0)
    run("temperature4", normal(8, 10, scale=3), probs(8, 10), temp=4.0)
    run("temperature_small", normal(8, 10), probs(8, 10), temp=0.5)
    run("axis_last_rank3", normal(2, 3, 5), probs(2, 3, 5, axis=-1), axis=-1, temp=2.0)
    run("axis0", normal(5, 4), probs(5, 4, axis=0), axis=0)
    run("rank4", normal(2, 6, 3, 2), probs(2, 6, 3, 2), temp=3.0)
    p = np.zeros((6, 7), np.float32)
    p[np.arange(6), ints(np.int64, 0, 7, 6)] = 1  # one-hot targets: xlogy(0, 0) = 0
    run("one_hot_targets", normal(6, 7, scale=2), p)
    run("one_class", normal(4, 1), np.ones((4, 1), np.float32))
    run("odd_257", normal(3, 257, scale=2), probs(3, 257))
    run("many_rows", normal(1000, 3), probs(1000, 3))
    run("large_logits", normal(4, 9) * 5 + 1000, probs(4, 9), temp=2.0)
    run("single_row", normal(1, 5), probs(1, 5))
    run("negative_target", normal(2, 3), np.array([[0.5, 0.6, -0.1], [0.2, 0.3, 0.5]], np.float32))
    z = np.zeros
    error_case("err_kl_div_shape", "kl_div", [z((4, 5), np.float32), z((4, 4), np.float32)], "same shape")
    error_case("err_kl_div_temperature", "kl_div", [z((4, 5), np.float32), z((4, 5), np.float32)],
               "temperature must be a positive number", attrs={"temperature": 0.0}, status="invalid graph")
    error_case("err_kl_div_temperature_neg", "kl_div", [z((4, 5), np.float32), z((4, 5), np.float32)],
               "temperature must be a positive number", attrs={"temperature": -1.0}, status="invalid graph")
    error_case("err_kl_div_int", "kl_div", [z((4, 5), np.int32), z((4, 5), np.int32)], "must be f32")
    error_case("err_kl_div_scalar", "kl_div", [z((), np.float32), z((), np.float32)], "rank >= 1")
    error_case("err_kl_div_empty", "kl_div", [z((3, 0), np.float32), z((3, 0), np.float32)], "no classes")


# ------------------------------------------------------------------ mse_loss

def mse_loss(case, error_case):
    def run(tag, a, b, reduction="mean"):
        attrs = {} if reduction == "mean" else {"reduction": reduction}
        with np.errstate(all="ignore"):
            ref = f32(F.mse_loss(tf64(a), tf64(b), reduction=reduction))
        case(f"mse_loss_{tag}", "mse_loss", [a, b], ref, attrs=attrs, **LOSS_TOL)

    run("mean", normal(7, 13), normal(7, 13))
    run("sum", normal(257), normal(257), reduction="sum")
    run("none", normal(3, 4, 5), normal(3, 4, 5), reduction="none")
    run("scalars", np.array(1.5, np.float32), np.array(-0.25, np.float32))
    run("rank4", normal(2, 3, 4, 5), normal(2, 3, 4, 5))
    run("long", normal(10000), normal(10000) + 0.5)
    run("large", normal(50, 20, scale=1000), normal(50, 20, scale=1000), reduction="sum")
    run("empty_mean", normal(0, 3), normal(0, 3))
    run("empty_sum", normal(0, 3), normal(0, 3), reduction="sum")
    z = np.zeros
    error_case("err_mse_loss_shape", "mse_loss", [z(3, np.float32), z(4, np.float32)], "same shape")
    error_case("err_mse_loss_int", "mse_loss", [z(3, np.int64), z(3, np.int64)], "must be f32")
    error_case("err_mse_loss_reduction", "mse_loss", [z(3, np.float32), z(3, np.float32)], "reduction must be",
               attrs={"reduction": "max"}, status="invalid graph")


# ------------------------------------------------------------------ optimizers, assign: expected errors only

def optimizers(error_case):
    z = np.zeros
    p, g, h, s = z(3, np.float32), z(3, np.float32), z(4, np.float32), z((), np.float32)
    error_case("err_sgd_update_not_state", "sgd_update", [p, g, h, s], "must be a state tensor", status="invalid graph")
    error_case("err_sgd_update_momentum_buffer", "sgd_update", [p, g, h, s], "takes 5 inputs",
               attrs={"momentum": 0.9}, status="invalid graph")
    error_case("err_sgd_update_hyper", "sgd_update", [p, g, z(3, np.float32), s], "hyper-parameters")
    error_case("err_sgd_update_scale", "sgd_update", [p, g, h, z(1, np.float32)], "gradient scale")
    error_case("err_sgd_update_grad", "sgd_update", [p, z(4, np.float32), h, s], "same shape")
    error_case("err_adam_update_not_state", "adam_update", [p, g, h, s, p, p], "must be a state tensor",
               status="invalid graph")
    error_case("err_adam_update_int", "adam_update", [z(3, np.int32), g, h, s, p, p], "must be f32")
    # assign writes its state input in place too
    error_case("err_assign_not_state", "assign", [p, g], "must be a state tensor", status="invalid graph")
    error_case("err_assign_shape", "assign", [p, z(4, np.float32)], "same shape")
    error_case("err_assign_dtype", "assign", [p, z(3, np.int32)], "same dtype")


# ------------------------------------------------------------------ ops between ranks

def between_ranks(error_case):
    """allreduce_start, allreduce_wait, send and recv move data between the ranks of an MPI job:
    one process cannot run them (tests/test_train_dist.c and test_workloads_dist.c do, under
    mpirun); their shape rules are checked here."""
    f = np.zeros(3, np.float32)
    error_case("err_allreduce_start_int", "allreduce_start", [f, np.zeros(3, np.int32)], "must be f32")
    error_case("err_allreduce_wait_not_start", "allreduce_wait", [f], "must be an allreduce_start node",
               attrs={"offset": 0, "shape": [3]}, status="invalid graph")
    error_case("err_send_tag", "send", [f], "outside [0, 32767]", attrs={"to": 1, "tag": 40000},
               status="invalid argument")
    error_case("err_send_rank", "send", [f], "is not a rank", attrs={"to": -1, "tag": 0}, status="invalid argument")
    error_case("err_recv_dtype", "recv", [], "is not a dtype",
               attrs={"from": 1, "tag": 0, "dtype": "f99", "shape": [3]}, status="invalid argument")
    error_case("err_recv_shape", "recv", [], "is negative", attrs={"from": 1, "tag": 0, "dtype": "f32", "shape": [-3]})
