"""gpt_torch.py — the character-level GPT of models/gpt in PyTorch, the reference hcg is compared
with: the same parameters (read from gpt.safetensors, or any weights file make_gpt.py wrote), the
same arithmetic as gpt_train.hcg / gpt.hcg (pre-LN layers, exact GELU, LayerNorm eps 1e-5,
attention scaled by 1/sqrt(head size)), and a key/value cache in the convention of Hugging Face
decoders: forward(input_ids, attention_mask, position_ids, past_key_values) -> logits and the
presents (past + new keys and values per layer, [B, heads, length, head size]).

Used by export_onnx.py (the ONNX exports of kinds 1 and 2), tests/gen/make_reference.py (the
reference tokens) and bench/bench_generate.py (PyTorch with use_cache=True)."""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "pyref"))
import hcg_ref  # noqa: E402


def config_of(weights):
    vocab, width = weights["tok.weight"].shape
    layers = sum(1 for k in weights if k.endswith(".ln1.weight"))
    return {"vocab": vocab, "width": width, "positions": weights["pos.weight"].shape[0], "layers": layers}


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.fc, self.out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x, bias, past):
        b, t, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=-1)
        q, k, v = (z.reshape(b, t, self.heads, d).transpose(1, 2) for z in (q, k, v))  # [B, H, T, D]
        if past is not None:
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = torch.softmax(scores, dim=-1) @ v
        x = x + self.proj(ctx.transpose(1, 2).reshape(b, t, c))
        x = x + self.out(F.gelu(self.fc(self.ln2(x))))
        return x, (k, v)


class GPT(nn.Module):
    def __init__(self, vocab, width, positions, layers, heads):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(positions, width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)

    @staticmethod
    def load(path, heads=4):
        w = hcg_ref.load_safetensors(path)
        cfg = config_of(w)
        m = GPT(cfg["vocab"], cfg["width"], cfg["positions"], cfg["layers"], heads)
        sd = {"tok.weight": w["tok.weight"], "pos.weight": w["pos.weight"], "ln_f.weight": w["ln_f.weight"],
              "ln_f.bias": w["ln_f.bias"], "head.weight": w["head.weight"]}
        names = {"ln1": "ln1", "ln2": "ln2", "qkv": "attn.qkv", "proj": "attn.proj", "fc": "mlp.fc", "out": "mlp.proj"}
        for l in range(cfg["layers"]):
            for mine, theirs in names.items():
                for p in ("weight", "bias"):
                    sd["blocks.%d.%s.%s" % (l, mine, p)] = w["h%d.%s.%s" % (l, theirs, p)]
        m.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        return m.eval()

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None):
        b, t = input_ids.shape
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if position_ids is None:
            position_ids = torch.arange(past_len, past_len + t).unsqueeze(0)
        x = self.tok(input_ids) + self.pos(position_ids)
        # causal: query i (at past_len + i) sees keys j <= past_len + i
        i = torch.arange(t).unsqueeze(1) + past_len
        j = torch.arange(past_len + t).unsqueeze(0)
        bias = torch.where(j < i + 1, torch.tensor(0.0), torch.tensor(torch.finfo(torch.float32).min))
        if attention_mask is not None:  # [B, past + T]: 0 where a key must not be seen
            keep = attention_mask.to(torch.float32)[:, None, None, :]
            bias = bias + (1.0 - keep) * torch.finfo(torch.float32).min
        presents = []
        for l, blk in enumerate(self.blocks):
            x, present = blk(x, bias, None if past_key_values is None else past_key_values[l])
            presents.append(present)
        return self.head(self.ln_f(x)), presents

    @torch.no_grad()
    def generate_greedy(self, prompt, n, use_cache=True):
        """Greedy tokens after prompt (int64 [B, S]): [B, S + n]."""
        ids = prompt.clone()
        past, feed = None, ids
        for _ in range(n):
            if use_cache:
                logits, past = self(feed, past_key_values=past)
            else:
                logits, _ = self(ids)
            nxt = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            ids = torch.cat((ids, nxt), dim=1)
            feed = nxt
        return ids
