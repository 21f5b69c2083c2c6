#!/bin/sh
# run_fuzz.sh — runs the ONNX reader's libFuzzer target for a bounded time.
#   fuzz/run_fuzz.sh FUZZER [SECONDS]   runs a built fuzz_onnx (the ctest fuzz_onnx does this)
#   fuzz/run_fuzz.sh --build [SECONDS]  configures build-fuzz with clang, builds and runs it
# Seeds: the hand-written models in tests/onnx_data and the ONNX node tests' models when
# libonnx-testdata is installed. New inputs go to a temporary corpus; crashes are written to
# $HCG_FUZZ_ARTIFACTS (default: the current folder) as crash-<sha1>.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--build" ]; then
    cmake -S "$here" -B "$here/build-fuzz" -DCMAKE_C_COMPILER=clang -DHCG_FUZZ=ON -DHCG_OPENCL=OFF \
        -DHCG_TESTS=OFF -DHCG_BENCH=OFF >/dev/null
    cmake --build "$here/build-fuzz" --target fuzz_onnx -j2 >/dev/null
    fuzzer="$here/build-fuzz/fuzz_onnx"
else
    fuzzer=${1:?usage: run_fuzz.sh FUZZER [SECONDS] | --build [SECONDS]}
fi
seconds=${2:-30}
corpus=$(mktemp -d)
seeds="$corpus/seeds"
mkdir -p "$seeds"
trap 'rm -rf "$corpus"' EXIT
cp "$here"/tests/onnx_data/*.onnx "$seeds"/
nodes=/usr/share/libonnx-testdata/data/node
if [ -d "$nodes" ]; then
    for d in "$nodes"/test_*; do
        [ -f "$d/model.onnx" ] && cp "$d/model.onnx" "$seeds/$(basename "$d").onnx"
    done
fi
mkdir -p "$corpus/new"
artifacts=${HCG_FUZZ_ARTIFACTS:-.}
# -rss_limit_mb bounds what a decoded model may allocate; -timeout catches hangs.
# HCG_FUZZ_SEED fixes libFuzzer's random seed (CI sets it, so a run explores the same inputs each time).
seed_opt=""
[ -n "${HCG_FUZZ_SEED:-}" ] && seed_opt="-seed=$HCG_FUZZ_SEED"
exec "$fuzzer" $seed_opt -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus/new" "$seeds"
