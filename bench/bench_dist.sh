#!/usr/bin/env bash
# bench_dist.sh — data-parallel training scaling on this machine (bench/README.md): bench_dist on
# 1 and 2 ranks, one core each (HCG_CPU_THREADS=1, OPENBLAS_NUM_THREADS=1), interleaved (1 2 1 2 ...)
# for REPS repetitions and two global batches, a compute sweep per repetition, then
# dist_projection.py's tables (medians over the repetitions).
# Usage: bench/bench_dist.sh [BUILD_DIR] (default build); REPS=5 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
reps="${REPS:-5}"
out="$build/bench-dist"
mkdir -p "$out"
: > "$out/runs.jsonl"
: > "$out/sweep.jsonl"
mpirun=(mpirun --oversubscribe)
if [ "$(id -u)" -eq 0 ]; then mpirun+=(--allow-run-as-root); fi
export HCG_CPU_THREADS=1 OPENBLAS_NUM_THREADS=1
for rep in $(seq "$reps"); do
  for batch in 128 256; do
    for np in 1 2; do
      "${mpirun[@]}" -np "$np" "$build/bench/bench_dist" --batch "$batch" --steps 60 >> "$out/runs.jsonl"
    done
  done
  # the compute of one rank's share for 1..64 ranks (one process: one core)
  "${mpirun[@]}" -np 1 "$build/bench/bench_dist" --batch 256 --steps 40 --sweep >> "$out/sweep.jsonl"
  echo "repetition $rep of $reps done" >&2
done
python3 bench/dist_projection.py "$out/runs.jsonl" "$out/sweep.jsonl"
