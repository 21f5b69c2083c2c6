#!/usr/bin/env bash
# test.sh — builds hcg and runs the whole test suite: installs what is missing, builds with
# -Werror and runs ctest (the OpenCL tests run for real on POCL), runs it again with no OpenCL
# platform (the OpenCL tests must report skipped), checks hcg as an installed package
# (scripts/test_install.sh: find_package, pkg-config, exported symbols, the Python package in a
# fresh venv, the examples), runs each libFuzzer target briefly with a fixed seed, then builds
# again with AddressSanitizer + UndefinedBehaviorSanitizer and runs the suite under them, and with
# ThreadSanitizer and runs the threaded tests under it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
hcg_install_deps

jobs=$(nproc)
# OpenCL on the CPU through POCL; tests that need two devices set POCL_DEVICES themselves.
export POCL_DEVICES="${POCL_DEVICES:-pthread}"
export HCG_TEST_MODE=1

echo "== build (-Werror)"
opts=(-DHCG_WERROR=ON -DHCG_OPENCL=ON -DHCG_BLAS=ON -DHCG_ONNX=ON)
cmake -S . -B build-test "${opts[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-test.log 2>&1 || { cat build-test.log; exit 1; }
cmake --build build-test -j"$jobs" >> build-test.log 2>&1 || { grep -E "error|warning" build-test.log | head -50; tail -30 build-test.log; exit 1; }

echo "== tests"
(cd build-test && ctest --output-on-failure -j"$jobs" --timeout 900)

echo "== tests with no OpenCL platform (an empty ICD folder): OpenCL tests skip, the rest pass"
mkdir -p build-test/no-opencl-icd
(cd build-test && OCL_ICD_VENDORS="$PWD/no-opencl-icd" ctest --output-on-failure -j"$jobs" --timeout 900 -LE python |
   tee no-opencl.log | tail -n 25)
grep -q "Skipped" build-test/no-opencl.log || { echo "no test reported skipped without OpenCL"; exit 1; }

echo "== hcg as an installed package"
./scripts/test_install.sh build-test

if [ "${HCG_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzzing the ONNX, .hcg, npy and safetensors readers, ${HCG_FUZZ_SECONDS:-10} s each (libFuzzer, ASan + UBSan)"
  HCG_FUZZ_SEED="${HCG_FUZZ_SEED:-1}" ./fuzz/run_fuzz.sh --build "${HCG_FUZZ_SECONDS:-10}"
fi

if [ "${HCG_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
  cmake -S . -B build-asan "${opts[@]}" -DHCG_SANITIZE=ON -DHCG_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug > build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
  cmake --build build-asan -j"$jobs" >> build-asan.log 2>&1 || { grep -E "error|warning" build-asan.log | head -50; exit 1; }
  echo "== tests under sanitizers"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  # LeakSanitizer's own tracer (the thread that stops the process to scan it at exit) now and then
  # dies of a SIGSEGV under load ("Tracer caught signal 11 ... LeakSanitizer has encountered a
  # fatal error"): a crash of the checker, not a finding. Tests that failed only that way run once
  # more; any other failure (a report, a failed check) fails the suite.
  if ! (cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 1500 -LE no_sanitizer 2>&1 |
        tee sanitizers.log; exit "${PIPESTATUS[0]}"); then
    listed=$(sed -n '/The following tests FAILED/,$p' build-asan/sanitizers.log | grep -cE '^[[:space:]]*[0-9]+ - ' || true)
    failed=$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Failed\)' build-asan/sanitizers.log || true)
    tracer=$(grep -c "LeakSanitizer has encountered a fatal error" build-asan/sanitizers.log || true)
    reports=$(grep -cE "ERROR: (AddressSanitizer|LeakSanitizer: detected)|runtime error:|^FAIL " build-asan/sanitizers.log || true)
    if [ "$listed" -gt 0 ] && [ "$failed" -eq "$listed" ] && [ "$tracer" -ge "$failed" ] && [ "$reports" -eq 0 ]; then
      echo "== $failed test(s) failed only by LeakSanitizer's tracer crashing: once more"
      (cd build-asan && ctest --output-on-failure --timeout 1500 --rerun-failed)
    else
      exit 1
    fi
  fi
fi

if [ "${HCG_SKIP_TSAN:-0}" != "1" ]; then
  echo "== build (ThreadSanitizer)"
  cmake -S . -B build-tsan "${opts[@]}" -DHCG_TSAN=ON -DHCG_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug > build-tsan.log 2>&1 || { cat build-tsan.log; exit 1; }
  cmake --build build-tsan -j"$jobs" >> build-tsan.log 2>&1 || { grep -E "error|warning" build-tsan.log | head -50; exit 1; }
  echo "== threaded tests under ThreadSanitizer"
  # OpenBLAS's own threads are not instrumented: one BLAS thread keeps the reports about hcg
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" OPENBLAS_NUM_THREADS=1 \
     ctest --output-on-failure -j"$jobs" --timeout 900 -L threads)
fi
