#!/usr/bin/env python3
"""export_hf_gpt2.py OUT_DIR — a real Hugging Face decoder for hcg generate's kind 2: a small
GPT-2 (transformers' GPT2LMHeadModel: 2 layers, width 32, 4 heads, 64 positions, 97 tokens,
random weights, seeded) exported with torch.onnx.export in the convention of Hugging Face's
decoders with past (input_ids, attention_mask, position_ids, past_key_values.<l>.key / .value ->
logits, present.<l>.key / .value). Writes OUT_DIR/hf_gpt2_past.onnx, a prompt (i64 [2, 7],
prompt.npy) and transformers' own greedy generation of 24 tokens from it (hf_greedy.npy,
model.generate with use_cache, attention_mask of ones).

Run by tests/gen.cmake with the transformers that tests/minilm.cmake's fixture installs into the
build tree (BUILD_DIR/minilm/py, next to Debian's python3-torch)."""
import os
import sys

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

LAYERS, HEADS, WIDTH = 2, 4, 32


class WithPast(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, position_ids, *past):
        pkv = tuple((past[2 * l], past[2 * l + 1]) for l in range(len(past) // 2))
        o = self.m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, past_key_values=pkv,
                   use_cache=True)
        return (o.logits,) + tuple(t for kv in o.past_key_values for t in kv)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=97, n_positions=64, n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS, resid_pdrop=0,
                     embd_pdrop=0, attn_pdrop=0)
    m = GPT2LMHeadModel(cfg).eval()
    ids, p = torch.randint(0, 97, (2, 5)), 3
    past = [torch.randn(2, HEADS, p, WIDTH // HEADS) for _ in range(2 * LAYERS)]
    names_in = ["input_ids", "attention_mask", "position_ids"] + [
        "past_key_values.%d.%s" % (l, k) for l in range(LAYERS) for k in ("key", "value")]
    names_out = ["logits"] + ["present.%d.%s" % (l, k) for l in range(LAYERS) for k in ("key", "value")]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total"},
            "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    axes.update({n: {0: "batch", 2: "past"} for n in names_in[3:]})
    axes.update({n: {0: "batch", 2: "total"} for n in names_out[1:]})
    mask = torch.ones(2, p + 5, dtype=torch.int64)
    positions = torch.arange(p, p + 5).repeat(2, 1)
    torch.onnx.export(WithPast(m), (ids, mask, positions, *past), os.path.join(out, "hf_gpt2_past.onnx"),
                      opset_version=17, input_names=names_in, output_names=names_out, dynamic_axes=axes)
    prompt = torch.randint(0, 97, (2, 7))
    with torch.no_grad():
        greedy = m.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=24, do_sample=False,
                            pad_token_id=96)
    np.save(os.path.join(out, "prompt.npy"), prompt.numpy())
    np.save(os.path.join(out, "hf_greedy.npy"), greedy.numpy())
    print("wrote %s/hf_gpt2_past.onnx, prompt.npy, hf_greedy.npy" % out)


if __name__ == "__main__":
    main()
