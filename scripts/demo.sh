#!/usr/bin/env bash
# demo.sh — the main job: installs what is missing, builds hcg, lists the devices, and runs the
# bundled attention block on every device found, printing where each node ran and the result.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
hcg_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j"$(nproc)" >> build.log 2>&1 || { tail -50 build.log; exit 1; }

echo "== devices"
./build/hcg devices
echo
echo "== hcg run models/attention/attention.hcg --devices auto"
./build/hcg run models/attention/attention.hcg --devices "${HCG_DEVICES:-auto}" \
  --input x=models/attention/x.npy --output-dir out/demo --explain
echo
echo "== the result against PyTorch's (models/attention/expected_x.npy)"
./build/hcg compare out/demo/y.npy models/attention/expected_x.npy --rtol 1e-5 --atol 1e-6
echo
echo "== two devices at once: the ensemble with one member pinned to opencl:0 and one to the cpu"
./build/hcg run models/ensemble/ensemble_pinned.hcg --devices "opencl:0,cpu" \
  --input x=models/ensemble/x.npy --output-dir out/demo --trace out/demo/ensemble_trace.json
./build/hcg compare out/demo/mean.npy models/ensemble/expected_mean.npy --rtol 1e-5 --atol 1e-6
echo "(open out/demo/ensemble_trace.json in https://ui.perfetto.dev or chrome://tracing: one track per device)"
