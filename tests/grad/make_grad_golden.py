#!/usr/bin/env python3
"""make_grad_golden.py — reference gradients for hcg's gradient check (tests/test_grad.c).

For every op with a gradient rule, over a few shapes and attribute sets, the case is
    loss = sum(op(inputs...) * w)
with random inputs (rounded to float32) and a random upstream weight w; PyTorch's autograd gives
d loss / d input in float64 from those float32 values, and again in float32. The test builds the
same graph in hcg, differentiates it with hcg's autodiff pass and compares. The tolerance per
gradient is derived from PyTorch's own float32-vs-float64 difference on the case:
    tol = 4 * max|g32 - g64| + 2 * ulp(max|g64|)

Each case is one safetensors file (tests/grad/<name>.safetensors: in0, in1, ..., w, grad0, ...)
and an entry in tests/grad/cases.json:
    {"name", "op", "attrs": {...}, "n_inputs", "wants": [bool per input], "tol": [per input]}
Inputs are f32 unless the op takes integers or bools there (indices, targets, conditions).

Run: /usr/bin/python3 tests/grad/make_grad_golden.py   (Debian's python3-torch 1.13 and numpy)
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "pyref"))
from hcg_ref import save_safetensors  # noqa: E402
rng = np.random.default_rng(20261129)
CASES = []



def f32(shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def case(name, op, inputs, ref, attrs=None, wants=None):
    """inputs: numpy arrays (f32 ones are differentiated unless wants says otherwise); ref: a torch
    function of the input tensors giving the op's output."""
    wants = wants if wants is not None else [a.dtype == np.float32 for a in inputs]
    grads = {}
    for dtype in (torch.float64, torch.float32):
        ts = []
        for a, w in zip(inputs, wants):
            t = torch.tensor(a)
            if a.dtype == np.float32:
                t = t.to(dtype).requires_grad_(w)
            ts.append(t)
        y = ref(*ts)
        if dtype == torch.float64:
            wv = rng.uniform(-1, 1, tuple(y.shape)).astype(np.float32)
        loss = (y.to(dtype) * torch.tensor(wv).to(dtype)).sum()
        req = [t for t, w in zip(ts, wants) if w]
        gs = torch.autograd.grad(loss, req, allow_unused=True)
        it = iter(gs)
        grads[dtype] = [next(it) if w else None for w in wants]
    tensors = {"in%d" % i: a for i, a in enumerate(inputs)}
    tensors["w"] = wv
    tols = []
    for i, w in enumerate(wants):
        if not w:
            tols.append(None)
            continue
        g64, g32 = grads[torch.float64][i], grads[torch.float32][i]
        g64 = torch.zeros_like(torch.tensor(inputs[i]), dtype=torch.float64) if g64 is None else g64.detach()
        g32 = torch.zeros_like(g64, dtype=torch.float32) if g32 is None else g32.detach()
        tensors["grad%d" % i] = g64.numpy().astype(np.float32)
        big = float(g64.abs().max()) if g64.numel() else 0.0
        tols.append(4.0 * float((g32.double() - g64).abs().max() if g64.numel() else 0) +
                    2.0 * float(np.spacing(np.float32(big))))
    save_safetensors(os.path.join(HERE, name + ".safetensors"), tensors)
    CASES.append({"name": name, "op": op, "attrs": attrs or {}, "n_inputs": len(inputs), "wants": wants, "tol": tols})


def binary_cases():
    fns = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
    for op, fn in fns.items():
        case(op + "_same", op, [f32((3, 5)), f32((3, 5))], fn)
        case(op + "_bcast", op, [f32((2, 1, 4)), f32((3, 1))], fn)
        case(op + "_scalar", op, [f32((4, 3)), f32(())], fn)
    b = f32((4, 5), 0.5, 2.0)
    case("pow_tensor", "pow", [f32((4, 5), 0.2, 3.0), f32((4, 5), -1.5, 2.5)], torch.pow)
    case("pow_bcast_exponent", "pow", [f32((3, 4), 0.2, 3.0), f32((4,), -1.0, 2.0)], torch.pow)
    case("pow_const2", "pow", [f32((3, 4)), np.full((), 2.0, np.float32)], torch.pow, wants=[True, False])
    a = f32((4, 5))
    b = f32((4, 5))
    b[0, :3] = a[0, :3]  # ties: the gradient splits in half
    case("max_ties", "max", [a, b], torch.maximum)
    case("min_ties", "min", [a, b], torch.minimum)
    case("max_bcast", "max", [f32((3, 1, 4)), f32((5, 1))], torch.maximum)
    cond = rng.integers(0, 2, (3, 4)).astype(np.bool_)
    case("where_same", "where", [cond, f32((3, 4)), f32((3, 4))], torch.where)
    case("where_bcast", "where", [rng.integers(0, 2, (4, 1)).astype(np.bool_), f32((4, 3)), f32(())], torch.where)


def unary_cases():
    fns = {"neg": torch.neg, "exp": torch.exp, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": F.relu,
           "silu": F.silu, "erf": torch.erf, "abs": torch.abs}
    for op, fn in fns.items():
        case(op, op, [f32((5, 7), -3, 3)], fn)
    pos = {"log": torch.log, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "reciprocal": torch.reciprocal}
    for op, fn in pos.items():
        case(op, op, [f32((5, 7), 0.3, 3)], fn)
    case("gelu", "gelu", [f32((5, 7), -4, 4)], F.gelu)
    case("gelu_tanh", "gelu", [f32((5, 7), -4, 4)], lambda x: F.gelu(x, approximate="tanh"), {"approximate": "tanh"})
    case("clip_both", "clip", [f32((6, 5))], lambda x: torch.clamp(x, -0.5, 0.7), {"min": -0.5, "max": 0.7})
    case("clip_min", "clip", [f32((6, 5))], lambda x: torch.clamp(x, min=0.1), {"min": 0.1})
    case("cast_f16", "cast", [f32((4, 6))], lambda x: x.to(torch.float16).to(x.dtype), {"to": "f16"})


def mm(a, b, ta=False, tb=False):
    if ta and a.dim() > 1:
        a = a.transpose(-1, -2)
    if tb and b.dim() > 1:
        b = b.transpose(-1, -2)
    return torch.matmul(a, b)


def matmul_cases():
    case("matmul_2d", "matmul", [f32((3, 4)), f32((4, 5))], mm)
    case("matmul_ta", "matmul", [f32((4, 3)), f32((4, 5))], lambda a, b: mm(a, b, True), {"transpose_a": 1})
    case("matmul_tb", "matmul", [f32((3, 4)), f32((5, 4))], lambda a, b: mm(a, b, False, True), {"transpose_b": 1})
    case("matmul_tab", "matmul", [f32((4, 3)), f32((5, 4))], lambda a, b: mm(a, b, True, True),
         {"transpose_a": 1, "transpose_b": 1})
    case("matmul_linear", "matmul", [f32((2, 3, 4)), f32((4, 5))], mm)
    case("matmul_linear_tb", "matmul", [f32((2, 3, 4)), f32((5, 4))], lambda a, b: mm(a, b, False, True),
         {"transpose_b": 1})
    case("matmul_batched", "matmul", [f32((2, 3, 4, 5)), f32((2, 3, 5, 2))], mm)
    case("matmul_bcast_batch", "matmul", [f32((2, 1, 3, 4)), f32((3, 4, 2))], mm)
    case("matmul_2d_by_batched", "matmul", [f32((3, 4)), f32((2, 4, 5))], mm)
    case("matmul_vec_a", "matmul", [f32((4,)), f32((2, 4, 3))], mm)
    case("matmul_vec_b", "matmul", [f32((2, 3, 4)), f32((4,))], mm)
    case("matmul_vec_vec", "matmul", [f32((4,)), f32((4,))], mm)
    g = lambda a, b, c, al, be, ta, tb: al * mm(a, b, ta, tb) + be * c
    case("gemm_bias", "gemm", [f32((3, 4)), f32((4, 5)), f32((5,))], lambda a, b, c: g(a, b, c, 1, 1, 0, 0))
    case("gemm_trans_alpha_beta", "gemm", [f32((4, 3)), f32((5, 4)), f32((3, 1))],
         lambda a, b, c: g(a, b, c, 0.5, 2.0, 1, 1), {"alpha": 0.5, "beta": 2.0, "transpose_a": 1, "transpose_b": 1})
    case("gemm_no_c", "gemm", [f32((3, 4)), f32((5, 4))], lambda a, b: mm(a, b, False, True), {"transpose_b": 1})


def reduce_cases():
    x = f32((3, 4, 5))
    case("reduce_sum_all", "reduce_sum", [x], lambda t: t.sum(dim=(0, 1, 2), keepdim=True))
    case("reduce_sum_axis", "reduce_sum", [x], lambda t: t.sum(dim=1), {"axes": [1], "keepdims": 0})
    case("reduce_mean_axes", "reduce_mean", [x], lambda t: t.mean(dim=(0, 2), keepdim=True), {"axes": [0, -1]})
    case("reduce_mean_last", "reduce_mean", [x], lambda t: t.mean(dim=-1), {"axes": [-1], "keepdims": 0})
    case("reduce_max_axis", "reduce_max", [x], lambda t: t.amax(dim=1), {"axes": [1], "keepdims": 0})
    t = f32((3, 4))
    t[1, 2] = t[1, 0] = 5.0  # two maxima share the gradient
    case("reduce_max_ties", "reduce_max", [t], lambda u: u.amax(dim=1, keepdim=True), {"axes": [1]})
    case("reduce_prod_axis", "reduce_prod", [f32((3, 4), 0.5, 1.5)], lambda t: t.prod(dim=1), {"axes": [1], "keepdims": 0})
    z = f32((4, 3), 0.5, 1.5)
    z[1, 1] = 0.0  # one zero: its gradient is the product of the others
    z[2, 0] = z[2, 2] = 0.0  # two zeros: all gradients of the group are 0
    case("reduce_prod_zeros", "reduce_prod", [z], lambda t: t.prod(dim=1, keepdim=True), {"axes": [1]})
    case("softmax_last", "softmax", [f32((3, 7))], lambda t: torch.softmax(t, -1))
    case("softmax_mid", "softmax", [f32((2, 5, 3))], lambda t: torch.softmax(t, 1), {"axis": 1})
    case("log_softmax_last", "log_softmax", [f32((3, 7))], lambda t: torch.log_softmax(t, -1))
    case("log_softmax_first", "log_softmax", [f32((4, 3))], lambda t: torch.log_softmax(t, 0), {"axis": 0})
    x = f32((3, 8))
    case("layer_norm_full", "layer_norm", [x, f32((8,)), f32((8,))],
         lambda t, s, b: F.layer_norm(t, (8,), s, b, 1e-5))
    case("layer_norm_plain", "layer_norm", [f32((3, 8))], lambda t: F.layer_norm(t, (8,), None, None, 1e-5))
    case("layer_norm_axis1", "layer_norm", [f32((2, 3, 4)), f32((3, 4)), f32((12,))],
         lambda t, s, b: F.layer_norm(t, (3, 4), s, b.reshape(3, 4), 1e-3), {"axis": 1, "epsilon": 1e-3})
    rms = lambda t, s, eps, dims: t / torch.sqrt((t * t).mean(dim=dims, keepdim=True) + eps) * s
    case("rms_norm_scale", "rms_norm", [f32((4, 6)), f32((6,))], lambda t, s: rms(t, s, 1e-6, (-1,)))
    case("rms_norm_plain_axis1", "rms_norm", [f32((2, 3, 4))], lambda t: rms(t, 1.0, 1e-6, (1, 2)), {"axis": 1})


def movement_cases():
    x = f32((2, 3, 4))
    case("reshape", "reshape", [x], lambda t: t.reshape(6, 4), {"shape": [6, 4]})
    case("squeeze", "squeeze", [f32((3, 1, 4))], lambda t: t.squeeze(1), {"axes": [1]})
    case("unsqueeze", "unsqueeze", [f32((3, 4))], lambda t: t.unsqueeze(0).unsqueeze(3), {"axes": [0, 3]})
    case("flatten", "flatten", [x], lambda t: t.reshape(2, 12), {"axis": 1})
    case("transpose_perm", "transpose", [x], lambda t: t.permute(2, 0, 1), {"perm": [2, 0, 1]})
    case("transpose_default", "transpose", [x], lambda t: t.permute(2, 1, 0))
    case("concat_axis1", "concat", [f32((2, 3)), f32((2, 1)), f32((2, 4))], lambda a, b, c: torch.cat([a, b, c], 1),
         {"axis": 1})
    case("slice_steps", "slice", [f32((6, 7))], lambda t: t[1:5:2, ::3],
         {"starts": [1, 0], "ends": [5, 7], "axes": [0, 1], "steps": [2, 3]})
    case("slice_negative", "slice", [f32((6, 7))], lambda t: torch.flip(t, [1])[:, 1:6],
         {"starts": [-2], "ends": [-7], "axes": [1], "steps": [-1]})
    case("split_parts", "split", [f32((4, 9))], lambda t: t[:, 3:6], {"axis": 1, "parts": 3, "index": 1})
    case("split_sizes", "split", [f32((5, 3))], lambda t: t[2:5], {"axis": 0, "sizes": [2, 3], "index": 1})
    idx = np.array([[0, 2], [4, 2], [-1, 0]], np.int64)  # repeats and a negative index: gradients add up
    case("gather_embedding", "gather", [f32((5, 3)), idx], lambda t, i: t[i % 5], {"axis": 0})
    case("gather_axis1", "gather", [f32((2, 4, 3)), np.array([3, 1, 1], np.int64)],
         lambda t, i: t[:, i], {"axis": 1})
    case("expand", "expand", [f32((3, 1))], lambda t: t.expand(2, 3, 4), {"shape": [2, 3, 4]})
    mask = lambda t, v: t.masked_fill(torch.ones(t.shape[-2:]).triu(1 + t.shape[-1] - t.shape[-2]).bool(), v)
    case("causal_mask_square", "causal_mask", [f32((2, 4, 4))], lambda t: mask(t, -3.0), {"value": -3.0})
    case("causal_mask_cache", "causal_mask", [f32((3, 5))], lambda t: mask(t, -3.0), {"value": -3.0})
    case("trilu_lower", "trilu", [f32((4, 5))], lambda t: torch.tril(t, 1), {"upper": 0, "k": 1})


def loss_cases():
    x = f32((6, 5), -3, 3)
    t = rng.integers(0, 5, 6).astype(np.int64)
    case("sce_mean", "softmax_cross_entropy", [x, t], lambda a, b: F.cross_entropy(a, b))
    t2 = t.copy()
    t2[[1, 4]] = -100
    case("sce_ignore_smooth", "softmax_cross_entropy", [x, t2],
         lambda a, b: F.cross_entropy(a, b, ignore_index=-100, label_smoothing=0.1),
         {"ignore_index": -100, "label_smoothing": 0.1})
    x3 = f32((2, 4, 3), -3, 3)
    t3 = rng.integers(0, 4, (2, 3)).astype(np.int64)
    case("sce_spatial_sum", "softmax_cross_entropy", [x3, t3], lambda a, b: F.cross_entropy(a, b, reduction="sum"),
         {"reduction": "sum"})
    case("sce_none", "softmax_cross_entropy", [x, t], lambda a, b: F.cross_entropy(a, b, reduction="none"),
         {"reduction": "none"})
    p = rng.dirichlet(np.ones(5), 6).astype(np.float32)
    case("sce_probs", "softmax_cross_entropy", [x, p], lambda a, b: F.cross_entropy(a, b))
    case("sce_probs_smooth", "softmax_cross_entropy", [x, p], lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2),
         {"label_smoothing": 0.2})
    lp = torch.log_softmax(torch.tensor(x).double(), 1).float().numpy()
    case("nll_mean_ignore", "nll_loss", [lp, t2], lambda a, b: F.nll_loss(a, b, ignore_index=-100),
         {"ignore_index": -100})
    case("nll_sum", "nll_loss", [lp, t], lambda a, b: F.nll_loss(a, b, reduction="sum"), {"reduction": "sum"})
    T = 3.0
    kl = lambda s, q, T, dim: T * T * (torch.xlogy(q, q) - q * torch.log_softmax(s / T, dim)).sum() / (s.numel() / s.shape[dim])
    q = rng.dirichlet(np.ones(5), 6).astype(np.float32)
    case("kl_div_T3", "kl_div", [x, q], lambda s, p: kl(s, p, T, 1), {"temperature": T})
    q3 = rng.dirichlet(np.ones(4), (2, 3)).transpose(0, 2, 1).astype(np.float32)
    case("kl_div_axis1_rank3", "kl_div", [x3, np.ascontiguousarray(q3)], lambda s, p: kl(s, p, 2.0, 1),
         {"temperature": 2.0})
    case("mse_mean", "mse_loss", [f32((4, 3)), f32((4, 3))], lambda a, b: F.mse_loss(a, b))
    case("mse_sum", "mse_loss", [f32((4, 3)), f32((4, 3))], lambda a, b: F.mse_loss(a, b, reduction="sum"),
         {"reduction": "sum"})


def main():
    for f in os.listdir(HERE):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(HERE, f))
    binary_cases()
    unary_cases()
    matmul_cases()
    reduce_cases()
    movement_cases()
    loss_cases()
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(CASES, f, indent=1, sort_keys=True)
    print(len(CASES), "cases")


if __name__ == "__main__":
    main()
