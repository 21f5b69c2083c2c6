#!/usr/bin/env python3
"""make_gpt.py — the character-level GPT of models/gpt: its corpus, vocabulary, graphs and initial
weights.

Corpus: the fortune cookie files of Debian's `fortunes` package (/usr/share/games/fortunes, the
files that `fortune-mod` reads; BSD licence, see README.md), the offensive ones (off/) left out.
Fortunes are kept when every character is one of the corpus's common characters (seen at least
MIN_COUNT times), then split with a seeded permutation into 95% training and 5% validation text,
each fortune followed by "%\n" as in the files. Training and validation windows of T + 1
characters (stride T, T = the model's positions) become `ids` and `targets` (int64 [N, T],
targets = ids shifted by one).

Graphs (written here, weights read from gpt.safetensors):
  gpt_train.hcg  ids i64[B, T] (T <= positions), targets i64[B, T] -> loss (mean cross-entropy
                 per character), logits f32[B, T, V]. Plain ops only (matmul, softmax, causal_mask):
                 what `hcg train` differentiates, and a kind-1 decoder (recomputes the prefix).
  gpt.hcg        ids i64[B, T], pos i64[] -> logits f32[B, T, V], with a key and a value cache per
                 layer (`state` tensors [B, heads, positions, head size]) that kv_attention writes
                 at pos and attends over: hcg's cached decoder (kind 3), O(T) per new token.
The two graphs share every parameter name, so one weights file serves both.

Run: /usr/bin/python3 models/gpt/make_gpt.py [--out DIR] [--data-dir DIR] [--layers N --width C
     --heads H --positions P --name NAME] [--vocab N]   (Debian's python3-numpy; the `fortunes`
     package for the corpus, unless --vocab makes up a vocabulary, as bench/bench_generate.py does)
Without options it writes the committed model's graphs, tokenizer and initial weights into
models/gpt/ and the training data into --data-dir (default /tmp/hcg-gpt).
"""
import argparse
import collections
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "pyref"))
import hcg_ref  # noqa: E402
FORTUNES = "/usr/share/games/fortunes"
MIN_COUNT = 200


def read_fortunes():
    if not os.path.isdir(FORTUNES):
        raise SystemExit("make_gpt.py: %s is missing: apt-get install fortunes" % FORTUNES)
    out = []
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if not os.path.isfile(path) or "." in name or os.path.islink(path):
            continue
        text = open(path, "rb").read().decode("utf-8", errors="replace")
        for f in text.split("\n%\n"):
            f = f.strip("\n%")
            if f.strip():
                out.append(f + "\n")
    return out


def corpus():
    fortunes = read_fortunes()
    counts = collections.Counter("".join(fortunes))
    chars = sorted(set(c for c, n in counts.items() if n >= MIN_COUNT and (c >= " " or c in "\t\n") and c != "\ufffd") | set("%\n"))
    allowed = set(chars)
    kept = [f for f in fortunes if set(f) <= allowed]
    perm = np.random.default_rng(2024).permutation(len(kept))
    n_val = len(kept) // 20
    val = "".join(kept[i] + "%\n" for i in perm[:n_val])
    train = "".join(kept[i] + "%\n" for i in perm[n_val:])
    return chars, train, val, len(fortunes), len(kept)


def windows(text, stoi, t):
    ids = np.array([stoi[c] for c in text], np.int64)
    n = (len(ids) - 1) // t
    x = ids[: n * t].reshape(n, t)
    y = ids[1 : n * t + 1].reshape(n, t)
    return x, y


def init_weights(cfg, seed):
    """GPT-2's initialisation: normal(0, 0.02), residual projections scaled by 1/sqrt(2 layers)."""
    rng = np.random.default_rng(seed)
    v, c, p, n = cfg["vocab"], cfg["width"], cfg["positions"], cfg["layers"]
    w = {"tok.weight": rng.normal(0, 0.02, (v, c)), "pos.weight": rng.normal(0, 0.01, (p, c))}
    resid = 0.02 / np.sqrt(2 * n)
    for l in range(n):
        pre = "h%d." % l
        w[pre + "ln1.weight"], w[pre + "ln1.bias"] = np.ones(c), np.zeros(c)
        w[pre + "attn.qkv.weight"], w[pre + "attn.qkv.bias"] = rng.normal(0, 0.02, (3 * c, c)), np.zeros(3 * c)
        w[pre + "attn.proj.weight"], w[pre + "attn.proj.bias"] = rng.normal(0, resid, (c, c)), np.zeros(c)
        w[pre + "ln2.weight"], w[pre + "ln2.bias"] = np.ones(c), np.zeros(c)
        w[pre + "mlp.fc.weight"], w[pre + "mlp.fc.bias"] = rng.normal(0, 0.02, (4 * c, c)), np.zeros(4 * c)
        w[pre + "mlp.proj.weight"], w[pre + "mlp.proj.bias"] = rng.normal(0, resid, (c, 4 * c)), np.zeros(c)
    w["ln_f.weight"], w["ln_f.bias"] = np.ones(c), np.zeros(c)
    w["head.weight"] = rng.normal(0, 0.02, (v, c))
    return w


def params(cfg):
    v, c, p = cfg["vocab"], cfg["width"], cfg["positions"]
    out = ["param tok.weight: f32[%d, %d]" % (v, c), "param pos.weight: f32[%d, %d]" % (p, c)]
    for l in range(cfg["layers"]):
        pre = "h%d." % l
        out += ["param %sln1.weight: f32[%d]" % (pre, c), "param %sln1.bias: f32[%d]" % (pre, c),
                "param %sattn.qkv.weight: f32[%d, %d]" % (pre, 3 * c, c), "param %sattn.qkv.bias: f32[%d]" % (pre, 3 * c),
                "param %sattn.proj.weight: f32[%d, %d]" % (pre, c, c), "param %sattn.proj.bias: f32[%d]" % (pre, c),
                "param %sln2.weight: f32[%d]" % (pre, c), "param %sln2.bias: f32[%d]" % (pre, c),
                "param %smlp.fc.weight: f32[%d, %d]" % (pre, 4 * c, c), "param %smlp.fc.bias: f32[%d]" % (pre, 4 * c),
                "param %smlp.proj.weight: f32[%d, %d]" % (pre, c, 4 * c), "param %smlp.proj.bias: f32[%d]" % (pre, c)]
    out += ["param ln_f.weight: f32[%d]" % c, "param ln_f.bias: f32[%d]" % c, "param head.weight: f32[%d, %d]" % (v, c)]
    return out


def block(cfg, l, x, attention):
    """One pre-LN layer: x + attn(ln1(x)), then + mlp(ln2(.)); attention(l, q, k, v) -> [B, T, C]."""
    pre, c = "h%d." % l, cfg["width"]
    s = "l%d_" % l
    lines = [
        "%sh = layer_norm(%s, %sln1.weight, %sln1.bias, axis=-1, epsilon=1e-5)" % (s, x, pre, pre),
        "%sqkv_raw = matmul(%sh, %sattn.qkv.weight, transpose_b=1)" % (s, s, pre),
        "%sqkv = add(%sqkv_raw, %sattn.qkv.bias)" % (s, s, pre),
        "%sq, %sk, %sv = split(%sqkv, axis=-1, parts=3)" % (s, s, s, s),
    ]
    lines += attention(l, s + "q", s + "k", s + "v", s + "ctx")
    lines += [
        "%so_raw = matmul(%sctx, %sattn.proj.weight, transpose_b=1)" % (s, s, pre),
        "%so = add(%so_raw, %sattn.proj.bias)" % (s, s, pre),
        "%sx1 = add(%s, %so)" % (s, x, s),
        "%sh2 = layer_norm(%sx1, %sln2.weight, %sln2.bias, axis=-1, epsilon=1e-5)" % (s, s, pre, pre),
        "%sf_raw = matmul(%sh2, %smlp.fc.weight, transpose_b=1)" % (s, s, pre),
        "%sf = add(%sf_raw, %smlp.fc.bias)" % (s, s, pre),
        "%sg = gelu(%sf)" % (s, s),
        "%sm_raw = matmul(%sg, %smlp.proj.weight, transpose_b=1)" % (s, s, pre),
        "%sm = add(%sm_raw, %smlp.proj.bias)" % (s, s, pre),
        "%sout = add(%sx1, %sm)" % (s, s, s),
    ]
    return lines, s + "out"


def split_heads(s, q, k, v, h, d):
    """q, k, v [B, T, C] -> <s>q4, <s>k4, <s>v4 [B, T, heads, head size]."""
    return ["%s%s4 = reshape(%s, shape=[B, T, %d, %d])" % (s, name, x, h, d) for name, x in (("q", q), ("k", k), ("v", v))]


def head(x):
    return ["xf = layer_norm(%s, ln_f.weight, ln_f.bias, axis=-1, epsilon=1e-5)" % x,
            "logits = matmul(xf, head.weight, transpose_b=1)"]


def trunk(cfg, attention):
    """Embeddings of ids at `positions`, the layers, the final norm and the logits."""
    lines = ["tok_e = gather(tok.weight, ids, axis=0)",
             "pos_e = gather(pos.weight, positions, axis=0)",
             "x0 = add(tok_e, pos_e)"]
    x = "x0"
    for l in range(cfg["layers"]):
        body, x = block(cfg, l, x, attention)
        lines += body
    return lines + head(x)


def header(cfg, what, weights):
    return ["# %s" % line for line in what] + ["hcg 1", 'weights "%s"' % weights]


def train_graph(cfg, weights):
    c, h = cfg["width"], cfg["heads"]
    d = c // h
    scale = 1.0 / np.sqrt(d)

    def attention(l, q, k, v, out):
        s = "l%d_" % l
        return split_heads(s, q, k, v, h, d) + [
            "%sqt = transpose(%sq4, perm=[0, 2, 1, 3])" % (s, s),
            "%skt = transpose(%sk4, perm=[0, 2, 3, 1])" % (s, s),
            "%svt = transpose(%sv4, perm=[0, 2, 1, 3])" % (s, s),
            "%sscores = matmul(%sqt, %skt)" % (s, s, s),
            "%sscaled = mul(%sscores, attn_scale)" % (s, s),
            "%smasked = causal_mask(%sscaled)" % (s, s),
            "%satt = softmax(%smasked, axis=-1)" % (s, s),
            "%sctx_h = matmul(%satt, %svt)" % (s, s, s),
            "%sctx_t = transpose(%sctx_h, perm=[0, 2, 1, 3])" % (s, s),
            "%s = reshape(%sctx_t, shape=[B, T, %d])" % (out, s, c),
        ]

    what = ["A character-level GPT (%d layers, width %d, %d heads, %d positions, %d characters) for" %
            (cfg["layers"], c, h, cfg["positions"], cfg["vocab"]),
            "training: ids -> loss (mean cross-entropy of the next character) and logits. It recomputes",
            "the whole prefix (a kind-1 decoder for hcg generate); gpt.hcg is the same model with a KV",
            "cache. Written by models/gpt/make_gpt.py."]
    lines = header(cfg, what, weights)
    lines += ["input ids: i64[B, T]", "input targets: i64[B, T]"] + params(cfg)
    lines += ["const attn_scale: f32[] = %r" % float(np.float32(scale)),
              "positions = range(limit=T)"]
    lines += trunk(cfg, attention)
    lines += ["flat_logits = reshape(logits, shape=[-1, %d])" % cfg["vocab"],
              "flat_targets = reshape(targets, shape=[-1])",
              "loss = softmax_cross_entropy(flat_logits, flat_targets)",
              "output loss, logits"]
    return "\n".join(lines) + "\n"


def cached_graph(cfg, weights):
    c, h, p = cfg["width"], cfg["heads"], cfg["positions"]
    d = c // h
    scale = 1.0 / np.sqrt(d)

    def attention(l, q, k, v, out):
        s = "l%d_" % l
        return split_heads(s, q, k, v, h, d) + [
            "%sctx4 = kv_attention(%sq4, %sk4, %sv4, h%d.k_cache, h%d.v_cache, pos, scale=%r)" %
            (s, s, s, s, l, l, float(np.float32(scale))),
            "%s = reshape(%sctx4, shape=[B, T, %d])" % (out, s, c),
        ]

    what = ["A character-level GPT (%d layers, width %d, %d heads, %d positions, %d characters) with a" %
            (cfg["layers"], c, h, p, cfg["vocab"]),
            "KV cache: ids [B, T] at positions pos .. pos + T - 1 -> logits. Each layer's keys and values",
            "stay on its device in state tensors between runs; kv_attention writes the new ones at pos",
            "and attends over positions 0 .. pos + i, so a new token costs O(pos), not O(pos^2).",
            "Same parameters as gpt_train.hcg. Written by models/gpt/make_gpt.py."]
    lines = header(cfg, what, weights)
    lines += ["input ids: i64[B, T]", "input pos: i64[]"] + params(cfg)
    for l in range(cfg["layers"]):
        lines += ["state h%d.k_cache: f32[B, %d, %d, %d]" % (l, h, p, d),
                  "state h%d.v_cache: f32[B, %d, %d, %d]" % (l, h, p, d)]
    lines += ["positions_0 = range(limit=T)",
              "positions = add(positions_0, pos)"]
    lines += trunk(cfg, attention)
    lines += ["output logits"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "hcg-gpt"))
    ap.add_argument("--name", default="gpt")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=96)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--positions", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1975)
    ap.add_argument("--no-data", action="store_true", help="graphs and weights only")
    ap.add_argument("--vocab", type=int, default=0,
                    help="a made-up vocabulary of this many characters instead of the corpus's (benchmarks; "
                         "implies --no-data)")
    a = ap.parse_args()
    if a.vocab:
        chars = [chr(32 + i) for i in range(a.vocab)]
        train = val = ""
        n_all = n_kept = 0
        a.no_data = True
    else:
        chars, train, val, n_all, n_kept = corpus()
    cfg = {"vocab": len(chars), "width": a.width, "heads": a.heads, "layers": a.layers, "positions": a.positions}
    os.makedirs(a.out, exist_ok=True)
    weights = a.name + ".safetensors"
    with open(os.path.join(a.out, a.name + "_train.hcg"), "w") as f:
        f.write(train_graph(cfg, weights))
    with open(os.path.join(a.out, a.name + ".hcg"), "w") as f:
        f.write(cached_graph(cfg, weights))
    tok = {"type": "characters", "vocab": chars}
    for g in (a.name, a.name + "_train"):
        with open(os.path.join(a.out, g + ".tokenizer.json"), "w") as f:
            json.dump(tok, f, ensure_ascii=False, indent=0)
            f.write("\n")
    weights = {k: v.astype(np.float32) for k, v in init_weights(cfg, a.seed).items()}
    hcg_ref.save_safetensors(os.path.join(a.out, "%s.init.safetensors" % a.name), weights)
    print("%d fortunes, %d kept; %d characters; train %d, validation %d characters" %
          (n_all, n_kept, len(chars), len(train), len(val)))
    if a.no_data:
        return
    os.makedirs(a.data_dir, exist_ok=True)
    stoi = {ch: i for i, ch in enumerate(chars)}
    for split, text in (("train", train), ("val", val)):
        x, y = windows(text, stoi, a.positions)
        np.save(os.path.join(a.data_dir, "ids_%s.npy" % split), x)
        np.save(os.path.join(a.data_dir, "targets_%s.npy" % split), y)
        print("%s: %d windows of %d" % (split, len(x), a.positions))


if __name__ == "__main__":
    main()
