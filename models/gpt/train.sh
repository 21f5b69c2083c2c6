#!/usr/bin/env bash
# train.sh — makes the GPT's data from the fortunes package (make_gpt.py) and trains it with
# `hcg train`, writing the trained weights to models/gpt/gpt.safetensors and the step log (with
# the validation loss every 500 steps) to $TMPDIR/hcg-gpt/train/log.jsonl (models/gpt/README.md).
# Usage: models/gpt/train.sh [HCG_BINARY] [DEVICES]    (resumes from the last checkpoint if any)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hcg="${1:-$here/../../build/hcg}"
devices="${2:-cpu}"
data="${TMPDIR:-/tmp}/hcg-gpt"
work="$data/train"
/usr/bin/python3 "$here/make_gpt.py" --data-dir "$data"
mkdir -p "$work"
cp "$here/gpt_train.hcg" "$work/"
cp "$here/gpt.init.safetensors" "$work/gpt.safetensors"
resume=()
if [ -f "$work/ckpt/checkpoint.json" ]; then resume=(--resume "$work/ckpt"); fi
"$hcg" train "$work/gpt_train.hcg" --loss loss \
    --data ids="$data/ids_train.npy" --data targets="$data/targets_train.npy" \
    --eval ids="$data/ids_val.npy" --eval targets="$data/targets_val.npy" --eval-every 500 \
    --optimizer adamw --lr 0.002 --betas 0.9,0.99 --weight-decay 0.01 --clip-norm 1 \
    --schedule cosine --warmup-steps 100 --min-lr 0.0002 --batch 32 --steps 3000 --shuffle 1 \
    --devices "$devices" --log "$work/log.jsonl" --checkpoint-dir "$work/ckpt" --checkpoint-every 250 \
    "${resume[@]}" --save "$work/gpt.trained.safetensors"
cp "$work/gpt.trained.safetensors" "$here/gpt.safetensors"
