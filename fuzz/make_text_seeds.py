#!/usr/bin/env python3
"""Writes fuzz/corpus/text/seed_*.hcg: small .hcg graphs, one per op family, whose operands are
constants (so binding folds them on the CPU kernels) or inputs with symbolic dims (so binding
infers shapes), to seed fuzz_text. The fuzzer's own finds are kept beside them."""
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "text")

C = "const a: f32[2, 3] = [[1, -2, 3], [4, 5.5, -6]]\nconst b: f32[3] = [0.5, 1, 2]\n"
I = "input x: f32[B, 3]\n"
SEEDS = {
    "binary": C + "".join(f"{op} = {op}(a, b)\n" for op in ["add", "sub", "mul", "div", "pow", "max", "min"])
    + "e = equal(a, b)\nl = less(a, b)\ng = greater(a, b)\nn = and(e, l)\no = or(n, g)\nw = where(o, a, b)\noutput w, add, div\n",
    "unary": C + "".join(f"{op} = {op}(a)\n" for op in ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu",
                                                     "gelu", "silu", "erf", "abs", "reciprocal"])
    + "c = clip(a, min=-1, max=1)\nk = cast(a, to=i64)\nh = cast(k, to=f16)\noutput c, h, erf\n",
    "matmul": C + "const m: f32[3, 2] = [[1, 2], [3, 4], [5, 6]]\ny = matmul(a, m)\nz = matmul(a, a, transpose_b=1)\n"
    "g = gemm(a, m, alpha=2.0, beta=1)\noutput y, z, g\n",
    "reduce": C + "s = reduce_sum(a, axes=[1], keepdims=1)\nm = reduce_mean(a)\nx = reduce_max(a, axes=[0])\n"
    "p = softmax(a, axis=-1)\nq = log_softmax(a, axis=0)\nn = layer_norm(a, b, b, axis=-1, epsilon=1e-5)\n"
    "r = rms_norm(a, b)\noutput s, m, x, p, q, n, r\n",
    "layout": C + "r = reshape(a, shape=[3, 2])\nu = unsqueeze(r, axes=[0])\nq = squeeze(u, axes=[0])\nf = flatten(u, axis=1)\n"
    "t = transpose(a, perm=[1, 0])\nc = concat(a, a, axis=0)\nl = slice(c, starts=[1], ends=[3], axes=[0], steps=[1])\n"
    "p, s2 = split(a, axis=1, sizes=[1, 2])\ne = expand(b, shape=[4, 3])\noutput q, f, t, l, p, s2, e\n",
    "gather": C + "const i: i64[2] = [1, -1]\ng = gather(a, i, axis=1)\nconst t: i64[2] = [0, 2]\n"
    "o = one_hot(t, depth=3)\nm = argmax(a, axis=1, keepdims=0)\noutput g, o, m\n",
    "sources": "input x: f32[N]\nr = range(start=0, limit=N, delta=1, dtype=f32)\ny = add(x, r)\n"
    "s = shape(y)\nc = constant_of_shape(shape=[2, N], value=1.5)\nk = trilu(c, upper=1, k=0)\n"
    "m = causal_mask(k)\noutput y, s, m\n",
    "symbols": I + "input z: f32[B, S]\nr = reshape(x, shape=[3, B])\nt = transpose(r, perm=[1, 0])\nm = matmul(t, z, transpose_a=0)\n"
    "s = softmax(m, axis=-1)\noutput s\n",
    "pinned": I + "y = relu(x) @cpu\nz = add(y, x) @\"opencl:0\"\noutput z\n",
    "losses": C + "const t: i64[2] = [0, 2]\nl = softmax_cross_entropy(a, t, reduction=mean)\nn = nll_loss(a, t)\n"
    "m = mse_loss(a, a)\nk = kl_div(a, a, axis=-1)\noutput l, n, m, k\n",
}

if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    for name, text in SEEDS.items():
        with open(os.path.join(HERE, f"seed_{name}.hcg"), "w") as f:
            f.write("# fuzz seed (fuzz/make_text_seeds.py)\n" + text)
