#!/usr/bin/env bash
# workloads.sh — the distillation and ensemble example of docs/workloads.md, with hcg commands
# only: trains three teachers of different sizes (transformer, mlp, small), combines them
# 0.5/0.3/0.2 by weighted probabilities and by vote, and trains the student alone and distilled
# from the three teachers (T = 8, alpha = 0.9; both 40 epochs at lr 0.01), three seeds each;
# prints the table of held-out accuracies. Usage: models/digits/workloads.sh [HCG_BINARY] [DEVICES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hcg="${1:-$here/../../build/hcg}"
devices="${2:-cpu}"
out="${TMPDIR:-/tmp}/hcg-digits-workloads"
mkdir -p "$out"
data=(--data x="$here/x_train.npy" --data y="$here/y_train.npy")
evaldata=(--eval x="$here/x_test.npy" --eval y="$here/y_test.npy")
opts=(--optimizer adamw --lr 0.003 --weight-decay 0.01 --batch 32 --schedule cosine --devices "$devices")

# The held-out accuracy from an `eval after step ...` line, or from `hcg run`'s accuracy summary.
eval_accuracy() { sed -n 's/.*eval after step [0-9]*:.*accuracy \([0-9.e-]*\).*/\1/p' | tail -1; }
run_accuracy() { sed -n 's/^accuracy: .*mean \([0-9.e-]*\)).*/\1/p'; }
mean() { awk '{ s += $1; n++ } END { printf "%.4f", s / n }'; }
row() { printf "| %-40s | %s |\n" "$1" "$2"; }

declare -A acc
for t in "transformer 30 50" "mlp 20 20" "small 20 20"; do
  set -- $t
  acc[$1]=$("$hcg" train "$here/$1.hcg" --loss loss "${data[@]}" "${evaldata[@]}" "${opts[@]}" --epochs "$2" \
    --warmup-steps "$3" --shuffle 1 --save "$out/$1.trained.safetensors" --save-model "$out/$1.hcg" | eval_accuracy)
done
members=(--member "$out/transformer.hcg:0.5" --member "$out/mlp.hcg:0.3" --member "$out/small.hcg:0.2")
for combine in weighted vote; do
  extra=(); [ "$combine" = weighted ] && extra=(--softmax)
  "$hcg" ensemble "$out/$combine.hcg" "${members[@]}" --combine "$combine" "${extra[@]}" --labels y > /dev/null
  acc[$combine]=$("$hcg" run "$out/$combine.hcg" --input x="$here/x_test.npy" --input y="$here/y_test.npy" \
    --devices "$devices" | run_accuracy)
done
alone=(); distilled=()
student=(--optimizer adamw --lr 0.01 --weight-decay 0.01 --batch 32 --schedule cosine --epochs 40 --warmup-steps 20
         --devices "$devices")
for seed in 1 2 3; do
  alone+=("$("$hcg" train "$here/student.hcg" --loss loss "${data[@]}" "${evaldata[@]}" "${student[@]}" \
    --shuffle "$seed" --save "$out/student.alone.safetensors" | eval_accuracy)")
  distilled+=("$("$hcg" distill --student "$here/student.hcg" "${members[@]/--member/--teacher}" "${data[@]}" \
    --labels "$here/y_train.npy" "${evaldata[@]}" --eval-labels "$here/y_test.npy" --temperature 8 --alpha 0.9 \
    "${student[@]}" --shuffle "$seed" --save "$out/student.distilled.safetensors" | eval_accuracy)")
done
echo "| model | held-out accuracy (360 images) |"
echo "| --- | --- |"
row "teacher: transformer (9,386 params)" "${acc[transformer]}"
row "teacher: mlp (9,866 params)" "${acc[mlp]}"
row "teacher: small (2,410 params)" "${acc[small]}"
row "ensemble, weighted probabilities 0.5/0.3/0.2" "${acc[weighted]}"
row "ensemble, vote 0.5/0.3/0.2" "${acc[vote]}"
row "student (910 params) alone, mean of 3 seeds" "$(printf '%s\n' "${alone[@]}" | mean) (${alone[*]})"
row "student distilled, mean of 3 seeds" "$(printf '%s\n' "${distilled[@]}" | mean) (${distilled[*]})"
