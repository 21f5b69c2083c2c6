#!/usr/bin/env python3
"""export_onnx.py — ONNX exports of models/gpt's GPT (gpt_torch.py, weights from a safetensors file)
for hcg generate, with torch.onnx.export (opset 17):

  gpt.onnx       kind 1: input_ids [batch, sequence] -> logits [batch, sequence, vocab]; recomputes
                 the prefix every step.
  gpt_past.onnx  kind 2, Hugging Face's convention: input_ids, attention_mask [batch, past +
                 sequence], position_ids [batch, sequence] and past_key_values.<layer>.key / .value
                 [batch, heads, past, head size] -> logits and present.<layer>.key / .value (past +
                 new). Exported with a past of 3 positions so the cache path is traced.

Both get the tokenizer beside them (tokenizer.json in OUT). The tests export into the build tree
(tests/gen.cmake); nothing here is committed.

Run: /usr/bin/python3 models/gpt/export_onnx.py OUT_DIR [WEIGHTS] [--heads H] [--tokenizer FILE]
     (Debian's python3-torch, python3-onnx; defaults: models/gpt's weights, 4 heads, its tokenizer)
"""
import argparse
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gpt_torch import GPT  # noqa: E402

OPSET = 17


class Recompute(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids)[0]


class WithPast(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, position_ids, *past):
        pairs = [(past[2 * l], past[2 * l + 1]) for l in range(len(past) // 2)]
        logits, presents = self.m(input_ids, attention_mask, position_ids, pairs)
        return (logits,) + tuple(t for kv in presents for t in kv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("weights", nargs="?", default=os.path.join(HERE, "gpt.safetensors"))
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "gpt.tokenizer.json"))
    a = ap.parse_args()
    out = a.out
    os.makedirs(out, exist_ok=True)
    m = GPT.load(a.weights, heads=a.heads)
    layers, heads = len(m.blocks), m.blocks[0].heads
    d = m.tok.weight.shape[1] // heads
    ids = torch.randint(0, m.tok.weight.shape[0], (2, 5))
    torch.onnx.export(Recompute(m), (ids,), os.path.join(out, "gpt.onnx"), opset_version=OPSET,
                      input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}})
    past_len = 3
    past = []
    names_in, names_out, axes = ["input_ids", "attention_mask", "position_ids"], ["logits"], {
        "input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total"},
        "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for l in range(layers):
        for kv in ("key", "value"):
            past.append(torch.randn(2, heads, past_len, d))
            names_in.append("past_key_values.%d.%s" % (l, kv))
            names_out.append("present.%d.%s" % (l, kv))
            axes[names_in[-1]] = {0: "batch", 2: "past"}
            axes[names_out[-1]] = {0: "batch", 2: "total"}
    mask = torch.ones(2, past_len + 5, dtype=torch.int64)
    positions = torch.arange(past_len, past_len + 5).unsqueeze(0).repeat(2, 1)
    torch.onnx.export(WithPast(m), (ids, mask, positions, *past), os.path.join(out, "gpt_past.onnx"), opset_version=OPSET,
                      input_names=names_in, output_names=names_out, dynamic_axes=axes)
    shutil.copy(a.tokenizer, os.path.join(out, "tokenizer.json"))
    print("wrote %s/gpt.onnx and %s/gpt_past.onnx (%d layers, %d heads)" % (out, out, layers, heads))


if __name__ == "__main__":
    main()
