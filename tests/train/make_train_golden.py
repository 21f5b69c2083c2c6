#!/usr/bin/env python3
"""make_train_golden.py — reference data for hcg's training parity test (tests/test_train_parity.c).

Two models, each written twice — exported by PyTorch to ONNX *with its loss* in training mode
(torch.onnx.TrainingMode.TRAINING, opset 17) and written as an .hcg graph reading the same weights
from a safetensors file:
  mlp: Linear(16, 32) -> LayerNorm -> GELU -> Linear(32, 32) -> GELU -> Linear(32, 5), cross-entropy
  enc: a one-layer pre-LN transformer-encoder classifier (token embedding + learned positions,
       2-head self-attention without q/k/v biases, GELU feed-forward, final LayerNorm, mean pooling, linear head)
Each is trained from the same initial weights for STEPS steps on batches of BATCH rows taken in
order (step k reads rows [(k mod P) * BATCH, ... + BATCH), hcg train's rule without --shuffle) with
SGD (momentum 0.9) and with AdamW (weight decay 0.01), once in float32 and once in float64. The
float64 parameters are the reference; the tolerance per parameter is derived from PyTorch's own
float32-vs-float64 difference on that run: tol = 4 * max|p32 - p64| + ulp(max|p64|) (the ulp covers
storing the reference in float32, the factor 4 a different but equally valid summation order).

Data-parallel training (tests/test_train_dist.c) splits every global batch between 2 or 3 MPI
ranks, so its cases (cases_dist.json, <case>_b6.expected.safetensors) train the .hcg models the same
way with a global batch of DIST_BATCH = 6 rows, which both rank counts divide. The reference is still
one PyTorch process on the whole batch: the parity test shows that the ranks together compute it.

Run: /usr/bin/python3 tests/train/make_train_golden.py   (Debian's python3-torch 1.13, numpy, onnx)
Writes into tests/train/: *.onnx, *.hcg, *.safetensors (initial weights), data_*.npy, cases.json,
cases_dist.json and one <case>.expected.safetensors per case (final float64 parameters, stored as
float32).
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
STEPS, BATCH, ROWS = 8, 8, 32
DIST_BATCH = 6



class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.ln = torch.nn.LayerNorm(32)
        self.fc2 = torch.nn.Linear(32, 32)
        self.fc3 = torch.nn.Linear(32, 5)

    def forward(self, x, y):
        h = F.gelu(self.ln(self.fc1(x)))
        h = F.gelu(self.fc2(h))
        logits = self.fc3(h)
        return F.cross_entropy(logits, y), logits


MLP_HCG = """# The training-parity MLP (tests/train/make_train_golden.py writes it).
hcg 1
weights "mlp.safetensors"
input x: f32[N, 16]
input y: i64[N]
param fc1.weight: f32[32, 16]
param fc1.bias: f32[32]
param ln.weight: f32[32]
param ln.bias: f32[32]
param fc2.weight: f32[32, 32]
param fc2.bias: f32[32]
param fc3.weight: f32[5, 32]
param fc3.bias: f32[5]
a1 = matmul(x, fc1.weight, transpose_b=1)
b1 = add(a1, fc1.bias)
n1 = layer_norm(b1, ln.weight, ln.bias, axis=-1, epsilon=1e-5)
h1 = gelu(n1)
a2 = matmul(h1, fc2.weight, transpose_b=1)
b2 = add(a2, fc2.bias)
h2 = gelu(b2)
a3 = matmul(h2, fc3.weight, transpose_b=1)
logits = add(a3, fc3.bias)
loss = softmax_cross_entropy(logits, y)
output loss, logits
"""

V, S, D, H, FF, C = 20, 6, 16, 2, 32, 4


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, D)
        self.pos = torch.nn.Parameter(torch.randn(S, D) * 0.1)
        self.ln1 = torch.nn.LayerNorm(D)
        # no bias: the key bias gets an exactly zero gradient (softmax ignores a shift of a row's
        # scores), which float32 turns into noise that Adam amplifies to a full step
        self.qkv = torch.nn.Linear(D, 3 * D, bias=False)
        self.proj = torch.nn.Linear(D, D)
        self.ln2 = torch.nn.LayerNorm(D)
        self.ff1 = torch.nn.Linear(D, FF)
        self.ff2 = torch.nn.Linear(FF, D)
        self.lnf = torch.nn.LayerNorm(D)
        self.head = torch.nn.Linear(D, C)

    def forward(self, ids, y):
        dh = D // H
        x = self.emb(ids) + self.pos
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)
        q = q.reshape(-1, S, H, dh).transpose(1, 2)
        k = k.reshape(-1, S, H, dh).permute(0, 2, 3, 1)
        v = v.reshape(-1, S, H, dh).transpose(1, 2)
        att = torch.softmax((q @ k) * (1.0 / math.sqrt(dh)), dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(-1, S, D)
        x = x + self.proj(ctx)
        x = x + self.ff2(F.gelu(self.ff1(self.ln2(x))))
        logits = self.head(self.lnf(x).mean(dim=1))
        return F.cross_entropy(logits, y), logits


ENC_HCG = """# The training-parity transformer-encoder classifier (tests/train/make_train_golden.py writes it).
hcg 1
weights "enc.safetensors"
input ids: i64[B, 6]
input y: i64[B]
param emb.weight: f32[20, 16]
param pos: f32[6, 16]
param ln1.weight: f32[16]
param ln1.bias: f32[16]
param qkv.weight: f32[48, 16]
param proj.weight: f32[16, 16]
param proj.bias: f32[16]
param ln2.weight: f32[16]
param ln2.bias: f32[16]
param ff1.weight: f32[32, 16]
param ff1.bias: f32[32]
param ff2.weight: f32[16, 32]
param ff2.bias: f32[16]
param lnf.weight: f32[16]
param lnf.bias: f32[16]
param head.weight: f32[4, 16]
param head.bias: f32[4]
const scale: f32[] = 0.35355339059327373
e = gather(emb.weight, ids, axis=0)
x0 = add(e, pos)
h = layer_norm(x0, ln1.weight, ln1.bias, axis=-1, epsilon=1e-5)
qkv = matmul(h, qkv.weight, transpose_b=1)
q, k, v = split(qkv, axis=-1, parts=3)
q4 = reshape(q, shape=[B, 6, 2, 8])
k4 = reshape(k, shape=[B, 6, 2, 8])
v4 = reshape(v, shape=[B, 6, 2, 8])
qt = transpose(q4, perm=[0, 2, 1, 3])
kt = transpose(k4, perm=[0, 2, 3, 1])
vt = transpose(v4, perm=[0, 2, 1, 3])
scores = matmul(qt, kt)
scaled = mul(scores, scale)
att = softmax(scaled, axis=-1)
ctx = matmul(att, vt)
ctx_t = transpose(ctx, perm=[0, 2, 1, 3])
ctx_r = reshape(ctx_t, shape=[B, 6, 16])
o_raw = matmul(ctx_r, proj.weight, transpose_b=1)
o = add(o_raw, proj.bias)
x1 = add(x0, o)
h2 = layer_norm(x1, ln2.weight, ln2.bias, axis=-1, epsilon=1e-5)
f1_raw = matmul(h2, ff1.weight, transpose_b=1)
f1 = add(f1_raw, ff1.bias)
g = gelu(f1)
f2_raw = matmul(g, ff2.weight, transpose_b=1)
f2 = add(f2_raw, ff2.bias)
x2 = add(x1, f2)
xf = layer_norm(x2, lnf.weight, lnf.bias, axis=-1, epsilon=1e-5)
pooled = reduce_mean(xf, axes=[1], keepdims=0)
logits_raw = matmul(pooled, head.weight, transpose_b=1)
logits = add(logits_raw, head.bias)
loss = softmax_cross_entropy(logits, y)
output loss, logits
"""

OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.01},
}


def train(model, inputs, opt, dtype, n_rows=BATCH):
    m = model.to(dtype)
    params = list(m.parameters())
    if opt["optimizer"] == "sgd":
        o = torch.optim.SGD(params, lr=opt["lr"], momentum=opt["momentum"])
    else:
        o = torch.optim.AdamW(params, lr=opt["lr"], weight_decay=opt["weight_decay"])
    per_epoch = ROWS // n_rows
    for k in range(STEPS):
        r = slice((k % per_epoch) * n_rows, (k % per_epoch) * n_rows + n_rows)
        batch = [torch.tensor(a[r]).to(dtype) if a.dtype == np.float32 else torch.tensor(a[r]) for a in inputs]
        loss, _ = m(*batch)
        o.zero_grad()
        loss.backward()
        o.step()
    return {n: p.detach().to(torch.float64).numpy() for n, p in m.named_parameters()}


def main():
    torch.manual_seed(20261129)
    rng = np.random.default_rng(20261129)
    x = rng.standard_normal((ROWS, 16)).astype(np.float32)
    y5 = rng.integers(0, 5, ROWS).astype(np.int64)
    ids = rng.integers(0, V, (ROWS, S)).astype(np.int64)
    y4 = rng.integers(0, C, ROWS).astype(np.int64)
    np.save(os.path.join(HERE, "data_x.npy"), x)
    np.save(os.path.join(HERE, "data_y5.npy"), y5)
    np.save(os.path.join(HERE, "data_ids.npy"), ids)
    np.save(os.path.join(HERE, "data_y4.npy"), y4)
    models = {
        "mlp": (MLP(), MLP_HCG, [x, y5], {"x": "data_x.npy", "y": "data_y5.npy"}, ["x", "y"], {"x": {0: "N"}, "y": {0: "N"}}),
        "enc": (Encoder(), ENC_HCG, [ids, y4], {"ids": "data_ids.npy", "y": "data_y4.npy"}, ["ids", "y"],
                {"ids": {0: "B"}, "y": {0: "B"}}),
    }
    cases, dist_cases = [], []
    for name, (model, hcg_text, inputs, data, in_names, axes) in models.items():
        init = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
        save_safetensors(os.path.join(HERE, name + ".safetensors"), init)
        with open(os.path.join(HERE, name + ".hcg"), "w") as f:
            f.write(hcg_text)
        example = tuple(torch.tensor(a[:BATCH]) for a in inputs)
        torch.onnx.export(model, example, os.path.join(HERE, name + ".onnx"), input_names=in_names,
                          output_names=["loss", "logits"], opset_version=17, dynamic_axes=axes,
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
        for oname, opt in OPTIMIZERS.items():
            runs = {}
            for dtype in (torch.float32, torch.float64):
                model.load_state_dict({n: torch.tensor(v) for n, v in init.items()})
                runs[dtype] = train(model.to(torch.float32), inputs, opt, dtype)
            p32, p64 = runs[torch.float32], runs[torch.float64]
            expected, tols = {}, {}
            for n in p64:
                big = float(np.abs(p64[n]).max())
                ulp = float(np.spacing(np.float32(big)))
                tols[n] = 4.0 * float(np.abs(p32[n] - p64[n]).max()) + ulp
                expected[n] = p64[n].astype(np.float32)
            case = name + "_" + oname
            save_safetensors(os.path.join(HERE, case + ".expected.safetensors"), expected)
            for fmt in ("hcg", "onnx"):
                cases.append({"name": case + "_" + fmt, "model": name + "." + fmt, "loss": "loss", "data": data,
                              "batch": BATCH, "steps": STEPS, "options": opt,
                              "expected": case + ".expected.safetensors", "tolerance": tols})
            print(case, "max tol %.3g" % max(tols.values()))
            # the same training with the data-parallel tests' global batch
            runs = {}
            for dtype in (torch.float32, torch.float64):
                model.load_state_dict({n: torch.tensor(v) for n, v in init.items()})
                runs[dtype] = train(model.to(torch.float32), inputs, opt, dtype, DIST_BATCH)
            p32, p64 = runs[torch.float32], runs[torch.float64]
            expected, tols = {}, {}
            for n in p64:
                big = float(np.abs(p64[n]).max())
                tols[n] = 4.0 * float(np.abs(p32[n] - p64[n]).max()) + float(np.spacing(np.float32(big)))
                expected[n] = p64[n].astype(np.float32)
            save_safetensors(os.path.join(HERE, case + "_b6.expected.safetensors"), expected)
            dist_cases.append({"name": case + "_b6", "model": name + ".hcg", "loss": "loss", "data": data,
                               "batch": DIST_BATCH, "steps": STEPS, "options": opt,
                               "expected": case + "_b6.expected.safetensors", "tolerance": tols})
            print(case + "_b6", "max tol %.3g" % max(tols.values()))
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
    with open(os.path.join(HERE, "cases_dist.json"), "w") as f:
        json.dump(dist_cases, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
