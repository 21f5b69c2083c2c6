#!/usr/bin/env python3
"""make_digits.py — the handwritten digits data set for hcg's training examples, and the initial
weights of the two models trained on it.

Data: scikit-learn's copy of the UCI "Optical Recognition of Handwritten Digits" test set (1797
8x8 images, pixels 0..16; E. Alpaydin, C. Kaynak, 1998; licence CC BY 4.0, see README.md). A
seeded permutation splits it into 1437 training and 360 held-out images, stored as u8 pixels
(x_*.npy, [N, 64]) and int64 labels (y_*.npy, [N]).

Models (weights drawn with PyTorch's default initialisation, seeded):
  mlp.hcg / mlp.safetensors: pixels / 16 -> Linear(64, 128) -> LayerNorm -> GELU -> Linear(128, 10)
  transformer.hcg / transformer.safetensors: the 8 image rows as 8 tokens of 8 pixels -> Linear(8, 32)
      + learned positions -> one pre-LN encoder layer (2 heads, GELU feed-forward of 64) -> LayerNorm
      -> mean over tokens -> Linear(32, 10)
  small.hcg / student.hcg: pixels / 16 -> Linear(64, 32 or 12) -> GELU -> Linear(., 10): the smallest
      teacher and the student of the distillation example (docs/workloads.md)
All have the outputs logits, loss (softmax cross-entropy) and accuracy (argmax == label, averaged).

Run: /usr/bin/python3 models/digits/make_digits.py   (Debian's python3-sklearn, python3-torch, numpy)
"""
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "pyref"))
from hcg_ref import save_safetensors  # noqa: E402



def linear(name, fan_in, fan_out, out):
    l = torch.nn.Linear(fan_in, fan_out)
    out[name + ".weight"] = l.weight.detach().numpy()
    out[name + ".bias"] = l.bias.detach().numpy()


def layer_norm(name, n, out):
    out[name + ".weight"] = np.ones(n, np.float32)
    out[name + ".bias"] = np.zeros(n, np.float32)


def main():
    d = load_digits()
    x = d.data.astype(np.uint8)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(1998).permutation(len(y))
    train, test = perm[:1437], perm[1437:]
    for split, idx in (("train", train), ("test", test)):
        np.save(os.path.join(HERE, "x_%s.npy" % split), x[idx])
        np.save(os.path.join(HERE, "y_%s.npy" % split), y[idx])
    torch.manual_seed(64)
    w = {}
    linear("fc1", 64, 128, w)
    layer_norm("ln", 128, w)
    linear("fc2", 128, 10, w)
    save_safetensors(os.path.join(HERE, "mlp.safetensors"), w)
    w = {}
    linear("embed", 8, 32, w)
    w["pos"] = (torch.randn(8, 32) * 0.02).numpy()
    layer_norm("ln1", 32, w)
    w["qkv.weight"] = torch.nn.Linear(32, 96, bias=False).weight.detach().numpy()
    linear("proj", 32, 32, w)
    layer_norm("ln2", 32, w)
    linear("ff1", 32, 64, w)
    linear("ff2", 64, 32, w)
    layer_norm("lnf", 32, w)
    linear("head", 32, 10, w)
    save_safetensors(os.path.join(HERE, "transformer.safetensors"), w)
    for name, hidden in (("small", 32), ("student", 12)):
        w = {}
        linear("fc1", 64, hidden, w)
        linear("fc2", hidden, 10, w)
        save_safetensors(os.path.join(HERE, name + ".safetensors"), w)
    print("train %d, test %d" % (len(train), len(test)))


if __name__ == "__main__":
    main()
