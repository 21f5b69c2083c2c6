#!/usr/bin/env python3
"""make_reference.py — the reference data of tests/test_generate.c, from PyTorch (models/gpt/gpt_torch.py
with models/gpt/gpt.safetensors, float32, eval mode) and sampler_ref.py:

  prompt_b2.npy        i64 [2, 12]: two prompts, encoded with models/gpt/gpt.tokenizer.json
  greedy_b2_16.npy     i64 [2, 28]: PyTorch's greedy tokens, 16 new (recomputing the prefix)
  greedy_b2_80.npy     i64 [2, 92]: 80 new; PyTorch's cached path (use_cache=True) gives the same
  sampled_b2_24.npy    i64 [2, 36]: seeded sampling (temperature 0.8, top-k 20, top-p 0.9, seed 1234)
                       of 24 new tokens, sampler_ref.py on PyTorch's logits, one draw per row per step
  sampler_cases.json   rows of logits with options and seeds and the tokens of 8 successive picks

It also prints the smallest gap between the two largest logits along the greedy paths: greedy
tokens from another implementation can only differ where float rounding (about 1e-6 here)
crosses such a gap.

Run: /usr/bin/python3 tests/gen/make_reference.py   (Debian's python3-torch and python3-numpy)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "models", "gpt"))
from gpt_torch import GPT  # noqa: E402
import sampler_ref  # noqa: E402

PROMPTS = ["Q:\tWhat is t", "The best way"]
SAMPLING = {"temperature": 0.8, "top_k": 20, "top_p": 0.9, "seed": 1234}


def encode(vocab, text):
    return [vocab.index(c) for c in text]


@torch.no_grad()
def min_gap(m, tokens, s):
    logits, _ = m(torch.from_numpy(tokens))
    top2 = torch.topk(logits[:, s - 1:-1, :], 2, dim=-1).values
    return float((top2[..., 0] - top2[..., 1]).min())


@torch.no_grad()
def sampled(m, prompt, n):
    stream = sampler_ref.Stream(SAMPLING["seed"])
    ids = prompt.copy()
    for _ in range(n):
        logits, _ = m(torch.from_numpy(ids))
        nxt = [sampler_ref.pick(logits[b, -1].numpy(), stream, SAMPLING["temperature"], SAMPLING["top_k"],
                                SAMPLING["top_p"]) for b in range(ids.shape[0])]
        ids = np.concatenate([ids, np.array(nxt, np.int64)[:, None]], axis=1)
    return ids


def sampler_cases():
    rng = np.random.default_rng(7)
    rows = {
        "normal": rng.standard_normal(50).astype(np.float32) * 2,
        "ties": np.array([1, 3, 3, 0, 3, -1, 2], np.float32),
        "neg_inf": np.array([-np.inf, 0.5, -np.inf, 0.25, 0.5], np.float32),
        "peaked": np.array([0, 9, 0, 8.5, 0, 0], np.float32),
        "flat": np.zeros(10, np.float32),
    }
    options = [{"greedy": True}, {"temperature": 1.0}, {"temperature": 0.5, "top_k": 3},
               {"temperature": 1.5, "top_p": 0.6}, {"temperature": 0.9, "top_k": 4, "top_p": 0.8},
               {"temperature": 2.0, "top_k": 1}, {"temperature": 1.0, "top_p": 1e-9}]
    cases = []
    for name, row in rows.items():
        for k, o in enumerate(options):
            seed = 1000 + k
            st = sampler_ref.Stream(seed)
            picks = [sampler_ref.pick(row, st, o.get("temperature", 1.0), o.get("top_k", 0), o.get("top_p", 1.0),
                                      o.get("greedy", False)) for _ in range(8)]
            # JSON has no -inf: null stands for it
            cases.append({"name": "%s_%d" % (name, k), "logits": [float(v) if np.isfinite(v) else None for v in row],
                          "seed": seed,
                          "greedy": o.get("greedy", False), "temperature": o.get("temperature", 1.0),
                          "top_k": o.get("top_k", 0), "top_p": o.get("top_p", 1.0), "tokens": picks})
    return cases


def main():
    weights = os.path.join(ROOT, "models", "gpt", "gpt.safetensors")
    vocab = json.load(open(os.path.join(ROOT, "models", "gpt", "gpt.tokenizer.json")))["vocab"]
    m = GPT.load(weights)
    prompt = np.array([encode(vocab, p) for p in PROMPTS], np.int64)
    s = prompt.shape[1]
    np.save(os.path.join(HERE, "prompt_b2.npy"), prompt)
    g16 = m.generate_greedy(torch.from_numpy(prompt), 16, use_cache=False).numpy()
    np.save(os.path.join(HERE, "greedy_b2_16.npy"), g16)
    g80 = m.generate_greedy(torch.from_numpy(prompt), 80, use_cache=False).numpy()
    g80c = m.generate_greedy(torch.from_numpy(prompt), 80, use_cache=True).numpy()
    assert (g80 == g80c).all(), "PyTorch's cached and recomputing greedy tokens differ"
    assert (g80[:, :s + 16] == g16).all()
    np.save(os.path.join(HERE, "greedy_b2_80.npy"), g80)
    np.save(os.path.join(HERE, "sampled_b2_24.npy"), sampled(m, prompt, 24))
    with open(os.path.join(HERE, "sampler_cases.json"), "w") as f:
        json.dump({"generator": "tests/gen/make_reference.py", "cases": sampler_cases()}, f, indent=1)
        f.write("\n")
    for r in range(2):
        print(repr("".join(vocab[i] for i in g80[r])))
    print("smallest gap between the two largest logits on the greedy path: %.3g" % min_gap(m, g80, s))


if __name__ == "__main__":
    main()
