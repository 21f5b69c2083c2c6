#!/bin/sh
# run_fuzz.sh — runs hcg's libFuzzer targets for a bounded time.
#   fuzz/run_fuzz.sh FUZZER [SECONDS]   runs one built target (fuzz_onnx, fuzz_text, fuzz_npy,
#                                       fuzz_safetensors; the ctests fuzz_* do this)
#   fuzz/run_fuzz.sh --build [SECONDS]  configures build-fuzz with clang, builds every target and
#                                       runs each for SECONDS (default 30)
# Seeds: the target's corpus kept in the repository (fuzz/corpus/<format>/) and the format's test
# files and models (for ONNX also the node tests' models when libonnx-testdata is installed). New
# inputs go to a temporary corpus; crashes are written to $HCG_FUZZ_ARTIFACTS (default: the current
# folder) as crash-<sha1>. HCG_FUZZ_SEED fixes libFuzzer's random seed (CI sets it, so a run
# explores the same inputs each time). HCG_FUZZ_KEEP=DIR keeps the new inputs in DIR/<format>/.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--build" ]; then
    seconds=${2:-30}
    cmake -S "$here" -B "$here/build-fuzz" -DCMAKE_C_COMPILER=clang -DHCG_FUZZ=ON -DHCG_OPENCL=OFF \
        -DHCG_TESTS=OFF -DHCG_BENCH=OFF >/dev/null
    cmake --build "$here/build-fuzz" --target fuzz_onnx fuzz_text fuzz_npy fuzz_safetensors -j2 >/dev/null
    for t in fuzz_onnx fuzz_text fuzz_npy fuzz_safetensors; do
        echo "== $t for $seconds s"
        "$0" "$here/build-fuzz/$t" "$seconds"
    done
    exit 0
fi
fuzzer=${1:?usage: run_fuzz.sh FUZZER [SECONDS] | --build [SECONDS]}
seconds=${2:-30}
format=$(basename "$fuzzer" | sed 's/^fuzz_//')
work=$(mktemp -d)
seeds="$work/seeds"
mkdir -p "$seeds" "$work/new"
trap 'rm -rf "$work"' EXIT
copy() { for f in "$@"; do [ -f "$f" ] && cp "$f" "$seeds/$(echo "$f" | sed "s|^$here/||; s|/|_|g")"; done; return 0; }
max_len=65536
case "$format" in
onnx)
    copy "$here"/tests/onnx_data/*.onnx
    nodes=/usr/share/libonnx-testdata/data/node
    if [ -d "$nodes" ]; then
        for d in "$nodes"/test_*; do copy "$d/model.onnx"; done
    fi
    max_len=1048576 ;;
text) copy "$here"/models/*/*.hcg ;;
npy) copy "$here"/tests/data/formats/npy/*.npy "$here"/models/*/*.npy ;;
safetensors) copy "$here"/tests/data/formats/safetensors/*.safetensors "$here"/tests/data/formats/text/*.safetensors ;;
*) echo "run_fuzz.sh: unknown target $fuzzer" >&2; exit 2 ;;
esac
[ -d "$here/fuzz/corpus/$format" ] && cp "$here/fuzz/corpus/$format"/* "$seeds"/ 2>/dev/null || true
artifacts=${HCG_FUZZ_ARTIFACTS:-.}
# the npy and safetensors targets write each input to a file: in memory where there is a tmpfs
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
# -rss_limit_mb bounds what a decoded input may allocate; -timeout catches hangs.
seed_opt=""
[ -n "${HCG_FUZZ_SEED:-}" ] && seed_opt="-seed=$HCG_FUZZ_SEED"
status=0
"$fuzzer" $seed_opt -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work/new" "$seeds" || status=$?
if [ -n "${HCG_FUZZ_KEEP:-}" ]; then
    mkdir -p "$HCG_FUZZ_KEEP/$format"
    cp "$work/new"/* "$HCG_FUZZ_KEEP/$format"/ 2>/dev/null || true
fi
exit $status
