#!/usr/bin/env python3
"""Makes the example models' weights, inputs and reference outputs.

The graphs themselves (*.hcg) are written by hand; this script writes their safetensors weights
(fixed seeds), example inputs, and the outputs PyTorch computes for them (the independent
reference the end-to-end tests compare against). Run from anywhere:
    python3 models/make_examples.py
Needs numpy, torch and safetensors from PyPI; the library and its tests never need Python.
"""
import math
import os

import numpy as np
import torch
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def save_npy(path, array):
    np.save(path, np.ascontiguousarray(array))


def attention():
    """A pre-norm causal self-attention block (GPT style): y = x + Attn(LN(x))."""
    d, heads = 64, 4
    hd = d // heads
    rng = np.random.default_rng(1)
    w = {
        "ln_scale": (1.0 + 0.1 * rng.standard_normal(d)).astype(np.float32),
        "ln_bias": (0.1 * rng.standard_normal(d)).astype(np.float32),
        "w_qkv": (rng.standard_normal((3 * d, d)) / math.sqrt(d)).astype(np.float32),
        "b_qkv": (0.02 * rng.standard_normal(3 * d)).astype(np.float32),
        "w_out": (rng.standard_normal((d, d)) / math.sqrt(d)).astype(np.float32),
        "b_out": (0.02 * rng.standard_normal(d)).astype(np.float32),
    }
    out = os.path.join(HERE, "attention")
    save_file(w, os.path.join(out, "attention.safetensors"))
    t = {k: torch.from_numpy(v).double() for k, v in w.items()}

    def reference(x):
        x = torch.from_numpy(x).double()
        b, s, _ = x.shape
        h = torch.nn.functional.layer_norm(x, (d,), t["ln_scale"], t["ln_bias"], eps=1e-5)
        qkv = h @ t["w_qkv"].T + t["b_qkv"]
        q, k, v = qkv.split(d, dim=-1)
        q, k, v = (m.reshape(b, s, heads, hd).transpose(1, 2) for m in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        mask = torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(mask, float("-inf"))
        ctx = torch.softmax(scores, dim=-1) @ v
        ctx = ctx.transpose(1, 2).reshape(b, s, d)
        return (x + ctx @ t["w_out"].T + t["b_out"]).float().numpy()

    for name, (b, s) in {"x": (2, 16), "x_b3_s7": (3, 7)}.items():
        x = rng.standard_normal((b, s, d)).astype(np.float32)
        save_npy(os.path.join(out, f"{name}.npy"), x)
        save_npy(os.path.join(out, f"expected_{name}.npy"), reference(x))


def mlp(name, seed, hidden):
    """A two-layer GELU MLP: y = W2 gelu(W1 x + b1) + b2."""
    rng = np.random.default_rng(seed)
    d_in, d_out = 32, 10
    return {
        f"{name}_w1": (rng.standard_normal((d_in, hidden)) / math.sqrt(d_in)).astype(np.float32),
        f"{name}_b1": (0.1 * rng.standard_normal(hidden)).astype(np.float32),
        f"{name}_w2": (rng.standard_normal((hidden, d_out)) / math.sqrt(hidden)).astype(np.float32),
        f"{name}_b2": (0.1 * rng.standard_normal(d_out)).astype(np.float32),
    }


def mlp_reference(w, name, x):
    t = {k: torch.from_numpy(v).double() for k, v in w.items()}
    h = torch.nn.functional.gelu(torch.from_numpy(x).double() @ t[f"{name}_w1"] + t[f"{name}_b1"])
    return h @ t[f"{name}_w2"] + t[f"{name}_b2"]


def mlp_example():
    w = mlp("l", 2, 64)
    out = os.path.join(HERE, "mlp")
    save_file(w, os.path.join(out, "mlp.safetensors"))
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 32)).astype(np.float32)
    save_npy(os.path.join(out, "x.npy"), x)
    logits = mlp_reference(w, "l", x)
    save_npy(os.path.join(out, "expected_probs.npy"), torch.softmax(logits, -1).float().numpy())


def ensemble_example():
    """Two independent MLPs (ensemble members) on the same input; their softmax outputs averaged."""
    w = {**mlp("a", 4, 256), **mlp("b", 5, 256)}
    out = os.path.join(HERE, "ensemble")
    save_file(w, os.path.join(out, "ensemble.safetensors"))
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 32)).astype(np.float32)
    save_npy(os.path.join(out, "x.npy"), x)
    pa = torch.softmax(mlp_reference(w, "a", x), -1)
    pb = torch.softmax(mlp_reference(w, "b", x), -1)
    save_npy(os.path.join(out, "expected_mean.npy"), ((pa + pb) / 2).float().numpy())


if __name__ == "__main__":
    for sub in ("attention", "mlp", "ensemble"):
        os.makedirs(os.path.join(HERE, sub), exist_ok=True)
    attention()
    mlp_example()
    ensemble_example()
    print("wrote example weights, inputs and PyTorch references under", HERE)
