#!/usr/bin/env bash
# train.sh — trains the two digits classifiers with `hcg train` and prints their held-out accuracy
# (models/digits/README.md). Usage: models/digits/train.sh [HCG_BINARY] [DEVICES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hcg="${1:-$here/../../build/hcg}"
devices="${2:-cpu}"
out="${TMPDIR:-/tmp}/hcg-digits"
mkdir -p "$out"
common=(--loss loss --data x="$here/x_train.npy" --data y="$here/y_train.npy"
        --eval x="$here/x_test.npy" --eval y="$here/y_test.npy"
        --optimizer adamw --lr 0.003 --weight-decay 0.01 --batch 32 --shuffle 1 --schedule cosine
        --devices "$devices")
"$hcg" train "$here/mlp.hcg" "${common[@]}" --epochs 20 --warmup-steps 20 --save "$out/mlp.trained.safetensors"
"$hcg" train "$here/transformer.hcg" "${common[@]}" --epochs 30 --warmup-steps 50 --save "$out/transformer.trained.safetensors"
