#!/usr/bin/env python3
"""export_onnx.py - the ONNX end-to-end workloads: a small BERT-style encoder (token + position
embeddings, a padding mask from attention_mask, 2 post-LN layers, mean pooling over the unmasked
tokens) and a small GPT-style decoder (pre-LN, causal mask, logits), randomly initialised with a
fixed seed and exported with torch.onnx.export (opset 17, the TorchScript exporter) with dynamic
batch and sequence axes.

Writes into models/transformer/onnx/:
  encoder.onnx, decoder.onnx
  encoder_input_ids[_b3_s5].npy, encoder_attention_mask[_b3_s5].npy, encoder_expected_pooled[_b3_s5].npy
  decoder_input_ids[_b3_s5].npy, decoder_expected_logits[_b3_s5].npy
The plain files are the export shape (batch 2, sequence 8); the _b3_s5 files a different batch
and sequence length. Expected outputs are PyTorch's (float32, eval mode); the script also checks
that onnxruntime agrees and that every op in the exported graphs is one hcg's reader maps.

Run: python3 models/transformer/export_onnx.py   (needs torch, numpy, onnx, onnxruntime)
"""
import math
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx")
OPSET = 17
VOCAB, D_MODEL, HEADS, D_FF, LAYERS, MAX_POS = 64, 32, 2, 64, 2, 32

# The op types graph/onnx maps (see docs/onnx.md); the export must stay inside this set.
HCG_ONNX_OPS = set("""Add Sub Mul Div Pow Sqrt Reciprocal Neg Exp Log Erf Tanh Sigmoid Relu Abs Not And
Or Gelu Softmax LogSoftmax MatMul Gemm LayerNormalization ReduceMean ReduceSum ReduceMax Transpose
Reshape Flatten Squeeze Unsqueeze Concat Split Slice Gather Expand Where Equal Less Greater Cast
Shape ConstantOfShape Constant Identity Range Trilu Min Max Sum Clip Dropout""".split())


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.out = nn.Linear(D_MODEL, D_MODEL)

    def forward(self, x, bias):
        # x: (B, S, D); bias: broadcastable to (B, H, S, S), 0 where attending, -inf / large where not
        b, s, _ = x.shape
        q, k, v = self.qkv(x).split(D_MODEL, dim=-1)
        q = q.reshape(b, s, HEADS, D_MODEL // HEADS).transpose(1, 2)  # (B, H, S, Dh)
        k = k.reshape(b, s, HEADS, D_MODEL // HEADS).transpose(1, 2)
        v = v.reshape(b, s, HEADS, D_MODEL // HEADS).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(D_MODEL // HEADS) + bias
        ctx = torch.softmax(scores, dim=-1) @ v  # (B, H, S, Dh)
        return self.out(ctx.transpose(1, 2).reshape(b, s, D_MODEL))


class FeedForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.Linear(D_MODEL, D_FF)
        self.down = nn.Linear(D_FF, D_MODEL)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))  # exact (erf) GELU


class EncoderLayer(nn.Module):  # BERT: post-LN
    def __init__(self):
        super().__init__()
        self.attn, self.ln1, self.ff, self.ln2 = SelfAttention(), nn.LayerNorm(D_MODEL), FeedForward(), nn.LayerNorm(D_MODEL)

    def forward(self, x, bias):
        x = self.ln1(x + self.attn(x, bias))
        return self.ln2(x + self.ff(x))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Embedding(MAX_POS, D_MODEL)
        self.ln = nn.LayerNorm(D_MODEL)
        self.layers = nn.ModuleList([EncoderLayer() for _ in range(LAYERS)])

    def forward(self, input_ids, attention_mask):
        # input_ids, attention_mask: (B, S) int64; mask 1 for tokens, 0 for padding
        s = input_ids.shape[1]
        pos = torch.arange(s, device=input_ids.device)
        x = self.ln(self.tok(input_ids) + self.pos(pos))
        keep = attention_mask.to(torch.float32)  # (B, S)
        bias = (1.0 - keep)[:, None, None, :] * -1e9  # (B, 1, 1, S): padding keys get no weight
        for layer in self.layers:
            x = layer(x, bias)
        summed = (x * keep[:, :, None]).sum(dim=1)  # (B, D)
        count = keep.sum(dim=1, keepdim=True).clamp(min=1.0)  # (B, 1)
        return summed / count


class DecoderLayer(nn.Module):  # GPT-2: pre-LN
    def __init__(self):
        super().__init__()
        self.ln1, self.attn, self.ln2, self.ff = nn.LayerNorm(D_MODEL), SelfAttention(), nn.LayerNorm(D_MODEL), FeedForward()

    def forward(self, x, bias):
        x = x + self.attn(self.ln1(x), bias)
        return x + self.ff(self.ln2(x))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Embedding(MAX_POS, D_MODEL)
        self.layers = nn.ModuleList([DecoderLayer() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, VOCAB, bias=False)

    def forward(self, input_ids):
        # input_ids: (B, S) int64 -> logits (B, S, VOCAB)
        s = input_ids.shape[1]
        pos = torch.arange(s, device=input_ids.device)
        x = self.tok(input_ids) + self.pos(pos)
        future = torch.triu(torch.ones(s, s, dtype=torch.bool, device=input_ids.device), diagonal=1)
        bias = torch.zeros(s, s).masked_fill(future, float("-inf"))  # (S, S): 0 on and below the diagonal
        for layer in self.layers:
            x = layer(x, bias)
        return self.head(self.ln_f(x))


def export(model, args, names, outputs, dynamic, path):
    torch.onnx.export(model, args, path, input_names=names, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = {n.op_type for n in m.graph.node}
    missing = ops - HCG_ONNX_OPS
    if missing:
        sys.exit(f"{path}: ops hcg does not map: {sorted(missing)}")
    size = os.path.getsize(path)
    print(f"{os.path.basename(path)}: {len(m.graph.node)} nodes, {size} bytes, ops {sorted(ops)}")
    if size > 1 << 20:
        sys.exit(f"{path} is over 1 MB")


def check_ort(path, feeds, expected):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)[0]
    err = np.abs(got - expected).max()
    print(f"  onnxruntime vs PyTorch: max abs error {err:.3g}")
    if err > 1e-5:
        sys.exit(f"{path}: onnxruntime disagrees with PyTorch ({err})")


def padded_mask(rng, b, s):
    """1 for tokens, 0 for padding at the end; every row keeps at least one token."""
    lengths = rng.integers(1, s + 1, size=b)
    lengths[0] = s  # one full row
    return (np.arange(s)[None, :] < lengths[:, None]).astype(np.int64)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    encoder, decoder = Encoder().eval(), Decoder().eval()
    shapes = [("", 2, 8), ("_b3_s5", 3, 5)]

    for suffix, b, s in shapes:
        ids = rng.integers(0, VOCAB, size=(b, s), dtype=np.int64)
        mask = padded_mask(rng, b, s)
        with torch.no_grad():
            pooled = encoder(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        np.save(f"{OUT}/encoder_input_ids{suffix}.npy", ids)
        np.save(f"{OUT}/encoder_attention_mask{suffix}.npy", mask)
        np.save(f"{OUT}/encoder_expected_pooled{suffix}.npy", pooled.astype(np.float32))
        if suffix == "":
            export(encoder, (torch.from_numpy(ids), torch.from_numpy(mask)), ["input_ids", "attention_mask"],
                   ["pooled"], {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                "pooled": {0: "batch"}}, f"{OUT}/encoder.onnx")
        check_ort(f"{OUT}/encoder.onnx", {"input_ids": ids, "attention_mask": mask}, pooled)

        ids = rng.integers(0, VOCAB, size=(b, s), dtype=np.int64)
        with torch.no_grad():
            logits = decoder(torch.from_numpy(ids)).numpy()
        np.save(f"{OUT}/decoder_input_ids{suffix}.npy", ids)
        np.save(f"{OUT}/decoder_expected_logits{suffix}.npy", logits.astype(np.float32))
        if suffix == "":
            export(decoder, (torch.from_numpy(ids),), ["input_ids"], ["logits"],
                   {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}, f"{OUT}/decoder.onnx")
        check_ort(f"{OUT}/decoder.onnx", {"input_ids": ids}, logits)


if __name__ == "__main__":
    main()
