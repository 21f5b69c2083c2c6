#!/usr/bin/env python3
"""bench_train.py — time per training step of hcg against PyTorch, side by side, and hcg's peak
activation memory against the liveness lower bound.

Models: the digits MLP and transformer (models/digits/*.hcg; the same architectures are written
here in PyTorch with the same initial weights). For each model and batch size, alternately
(A B A B ...): `hcg train` runs STEPS steps of AdamW and its per-step times come from the JSON log
(step_ms, measured around hcg_train_step); PyTorch runs the same steps (forward, backward,
AdamW step) with torch.set_num_threads(THREADS). The first WARMUP steps of each run are dropped;
the figure is the median over all runs. Memory: `hcg plan --loss loss --explain` gives the arena
planned for one step against the liveness lower bound (the peak of simultaneously live tensors).

Run: /usr/bin/python3 bench/bench_train.py [--hcg build/hcg] [--devices cpu] [--runs 5]
(Debian's python3-torch 1.13 and numpy.)
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "pyref"))
from hcg_ref import load_safetensors  # noqa: E402
DIGITS = os.path.join(ROOT, "models", "digits")
STEPS, WARMUP = 60, 10




def mlp(p, x):
    h = F.gelu(F.layer_norm(x @ p["fc1.weight"].T + p["fc1.bias"], (128,), p["ln.weight"], p["ln.bias"]))
    return h @ p["fc2.weight"].T + p["fc2.bias"]


def transformer(p, x):
    n = x.shape[0]
    e = x.reshape(n, 8, 8) @ p["embed.weight"].T + p["embed.bias"] + p["pos"]
    q, k, v = (F.layer_norm(e, (32,), p["ln1.weight"], p["ln1.bias"]) @ p["qkv.weight"].T).split(32, -1)
    q = q.reshape(n, 8, 2, 16).transpose(1, 2)
    k = k.reshape(n, 8, 2, 16).permute(0, 2, 3, 1)
    v = v.reshape(n, 8, 2, 16).transpose(1, 2)
    ctx = (torch.softmax((q @ k) * 0.25, -1) @ v).transpose(1, 2).reshape(n, 8, 32)
    x1 = e + ctx @ p["proj.weight"].T + p["proj.bias"]
    f = F.gelu(F.layer_norm(x1, (32,), p["ln2.weight"], p["ln2.bias"]) @ p["ff1.weight"].T + p["ff1.bias"])
    x2 = x1 + f @ p["ff2.weight"].T + p["ff2.bias"]
    pooled = F.layer_norm(x2, (32,), p["lnf.weight"], p["lnf.bias"]).mean(1)
    return pooled @ p["head.weight"].T + p["head.bias"]


def torch_steps(fn, weights, x, y, batch):
    p = {k: v.clone().requires_grad_(True) for k, v in weights.items()}
    opt = torch.optim.AdamW(list(p.values()), lr=1e-3, weight_decay=0.01)
    times = []
    per_epoch = len(y) // batch
    for k in range(STEPS):
        r = slice((k % per_epoch) * batch, (k % per_epoch) * batch + batch)
        t0 = time.perf_counter()
        loss = F.cross_entropy(fn(p, x[r]), y[r])
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return times[WARMUP:]


def hcg_steps(hcg, model, devices, batch, tmp):
    log = os.path.join(tmp, "log.jsonl")
    cmd = [hcg, "train", os.path.join(DIGITS, model + ".hcg"), "--loss", "loss",
           "--data", "x=" + os.path.join(DIGITS, "x_train.npy"), "--data", "y=" + os.path.join(DIGITS, "y_train.npy"),
           "--optimizer", "adamw", "--lr", "0.001", "--weight-decay", "0.01", "--batch", str(batch),
           "--steps", str(STEPS), "--devices", devices, "--quiet", "--log", log,
           "--save", os.path.join(tmp, "out.safetensors")]
    subprocess.run(cmd, check=True)
    with open(log) as f:
        return [json.loads(line)["step_ms"] / 1e3 for line in f][WARMUP:]


def memory(hcg, model, devices, batch):
    out = subprocess.run([hcg, "plan", os.path.join(DIGITS, model + ".hcg"), "--loss", "loss", "--optimizer", "adamw",
                          "--shape", "x=%dx64" % batch, "--devices", devices, "--explain"],
                         check=True, capture_output=True, text=True).stdout
    rows = re.findall(r"^(\S+)\s+\d+ nodes.*arena (\d+) bytes(?: in \d+ buffers?)? \(liveness lower bound (\d+)\)(?:, state (\d+) bytes)?", out, re.M)
    return [(d, int(a), int(lb), int(s or 0)) for d, a, lb, s in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hcg", default=os.path.join(ROOT, "build", "hcg"))
    ap.add_argument("--devices", default="cpu")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.environ["HCG_CPU_THREADS"] = str(a.threads)
    x = torch.tensor(np.load(os.path.join(DIGITS, "x_train.npy")).astype(np.float32) / 16.0)
    y = torch.tensor(np.load(os.path.join(DIGITS, "y_train.npy")))
    print("devices %s, %d threads, AdamW, %d steps per run (first %d dropped), %d interleaved runs"
          % (a.devices, a.threads, STEPS, WARMUP, a.runs))
    print("%-12s %6s %12s %12s %8s   %s" % ("model", "batch", "hcg ms/step", "torch ms/step", "torch/hcg",
                                          "arena / liveness bound (bytes), state"))
    with tempfile.TemporaryDirectory() as tmp:
        for model, fn in (("mlp", mlp), ("transformer", transformer)):
            weights = {k: torch.tensor(v) for k, v in load_safetensors(os.path.join(DIGITS, model + ".safetensors")).items()}
            for batch in (32, 256):
                h, t = [], []
                for _ in range(a.runs):
                    h += hcg_steps(a.hcg, model, a.devices, batch, tmp)
                    t += torch_steps(fn, weights, x, y, batch)
                hm, tm = statistics.median(h) * 1e3, statistics.median(t) * 1e3
                mem = "; ".join("%s %d / %d (%.2fx), state %d" % (d, ar, lb, ar / lb if lb else 0, s)
                                for d, ar, lb, s in memory(a.hcg, model, a.devices, batch))
                print("%-12s %6d %12.3f %12.3f %8.2f   %s" % (model, batch, hm, tm, tm / hm, mem))


if __name__ == "__main__":
    main()
