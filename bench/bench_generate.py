#!/usr/bin/env python3
"""bench_generate.py - greedy text generation on one GPT (models/gpt's architecture, 6 layers of
width 256, 8 heads, 512 positions, random weights, made by make_gpt.py into the build tree):

  hcg kind 3   hcg generate on the .hcg decoder with state caches (kv_attention)
  hcg kind 2   hcg generate on its ONNX export with past_key_values / present (caches on the device)
  hcg recomp.  hcg generate --recompute on the .hcg decoder: the whole sequence every step
  torch        PyTorch (models/gpt/gpt_torch.py) with use_cache=True: past_key_values fed back

at prompt lengths 16 and 256, NEW new tokens, batch 1, on the CPU with the same number of threads
THREADS (torch.set_num_threads; hcg's pool, OpenMP (oneDNN) and OpenBLAS through HCG_CPU_THREADS,
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS; default: the cores). Runs interleave A B C D A B C D; every hcg run
generates once untimed first (--warmup: plans built, as PyTorch's first call is untimed too), then
reports the seconds of each step (timing.json). Prints the medians over rounds of the prompt's time
and of the tokens per second over the new tokens, and the median milliseconds of a step in each
window of 32 new tokens over all rounds (flat when a step costs the same whatever the length:
kinds 2 and 3; growing when it recomputes); then the ratios torch / hcg.

Run: /usr/bin/python3 bench/bench_generate.py BUILD_DIR [ROUNDS] [NEW] [THREADS]   (Debian's python3-torch)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models", "gpt"))
from gpt_torch import GPT  # noqa: E402

build = os.path.abspath(sys.argv[1])
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
NEW = int(sys.argv[3]) if len(sys.argv) > 3 else 128
THREADS = int(sys.argv[4]) if len(sys.argv) > 4 else os.cpu_count()
HCG_ENV = dict(os.environ, HCG_CPU_THREADS=str(THREADS), OMP_NUM_THREADS=str(THREADS), OPENBLAS_NUM_THREADS=str(THREADS))
WINDOW = 32
hcg = os.path.join(build, "hcg")
model_dir = os.path.join(build, "bench-gpt")
CFG = ["--layers", "6", "--width", "256", "--heads", "8", "--positions", "512", "--vocab", "96"]


def make_model():
    if os.path.exists(os.path.join(model_dir, "onnx", "gpt_past.onnx")):
        return
    gpt = os.path.join(HERE, "..", "models", "gpt")
    subprocess.run(["/usr/bin/python3", os.path.join(gpt, "make_gpt.py"), "--out", model_dir, "--name", "bench"] + CFG,
                   check=True)
    os.replace(os.path.join(model_dir, "bench.init.safetensors"), os.path.join(model_dir, "bench.safetensors"))
    subprocess.run(["/usr/bin/python3", os.path.join(gpt, "export_onnx.py"), os.path.join(model_dir, "onnx"),
                    os.path.join(model_dir, "bench.safetensors"), "--heads", "8",
                    "--tokenizer", os.path.join(model_dir, "bench.tokenizer.json")], check=True)


def hcg_steps(model, prompt_path, extra):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([hcg, "generate", model, "--prompt", prompt_path, "--max-new-tokens", str(NEW), "--greedy",
                        "--devices", "cpu", "--warmup", "--quiet", "--output-dir", out] + extra, check=True, env=HCG_ENV)
        with open(os.path.join(out, "timing.json")) as f:
            return json.load(f)["step_seconds"]


@torch.no_grad()
def torch_steps(m, prompt):
    def run():
        steps, past, feed = [], None, torch.from_numpy(prompt)
        for _ in range(NEW):
            t = time.perf_counter()
            logits, past = m(feed, past_key_values=past)
            feed = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            steps.append(time.perf_counter() - t)
        return steps
    run()  # untimed, as hcg's --warmup
    return run()


def summary(runs):
    """median over rounds of: prompt seconds, tokens/s after it, ms per token per window."""
    prompt = statistics.median(r[0] for r in runs)
    tps = statistics.median((len(r) - 1) / sum(r[1:]) for r in runs)
    windows = []
    for w in range(1, NEW, WINDOW):  # the median step of the window, over every round's steps
        windows.append(1e3 * statistics.median(t for r in runs for t in r[w:w + WINDOW]))
    return prompt, tps, windows


def main():
    make_model()
    torch.set_num_threads(THREADS)
    m = GPT.load(os.path.join(model_dir, "bench.safetensors"), heads=8)
    hcg_model = os.path.join(model_dir, "bench.hcg")
    past_model = os.path.join(model_dir, "onnx", "gpt_past.onnx")
    print("GPT: 6 layers, width 256, 8 heads, 512 positions; batch 1, %d new tokens, %d threads, %d rounds"
          % (NEW, THREADS, rounds))
    for plen in (16, 256):
        prompt = np.random.default_rng(plen).integers(0, 96, (1, plen)).astype(np.int64)
        ppath = os.path.join(model_dir, "prompt_%d.npy" % plen)
        np.save(ppath, prompt)
        variants = {"hcg kind 3": lambda: hcg_steps(hcg_model, ppath, []),
                    "hcg kind 2": lambda: hcg_steps(past_model, ppath, []),
                    "hcg recomp.": lambda: hcg_steps(hcg_model, ppath, ["--recompute"]),
                    "torch": lambda: torch_steps(m, prompt)}
        runs = {k: [] for k in variants}
        for _ in range(rounds):  # A B C D A B C D
            for k, fn in variants.items():
                runs[k].append(fn())
        print("\nprompt %d tokens" % plen)
        head = "%-12s %10s %9s  " % ("", "prompt ms", "tokens/s") + " ".join(
            "%7s" % ("%d-%d" % (w, min(w + WINDOW, NEW) - 1)) for w in range(1, NEW, WINDOW))
        print(head + "   (median ms per token in each window of new tokens)")
        res = {k: summary(v) for k, v in runs.items()}
        for k, (p, tps, win) in res.items():
            print("%-12s %10.1f %9.1f  " % (k, p * 1e3, tps) + " ".join("%7.2f" % x for x in win))
        t = res["torch"][1]
        print("tokens/s, torch / hcg: kind 3 %.2f, kind 2 %.2f, recomputing %.2f" %
              (t / res["hcg kind 3"][1], t / res["hcg kind 2"][1], t / res["hcg recomp."][1]))


if __name__ == "__main__":
    main()
