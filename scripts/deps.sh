#!/usr/bin/env bash
# deps.sh — installs the Debian 12 packages hcg needs, if any is missing (sourced by demo.sh
# and test.sh). Uses sudo when not root.
set -euo pipefail

HCG_APT_PACKAGES=(
  build-essential cmake pkg-config
  ocl-icd-opencl-dev opencl-c-headers clinfo pocl-opencl-icd
  libclblast-dev clblast-utils
  libopenblas-dev
  libcjson-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata
  clang libclang-rt-14-dev
  libdnnl-dev
  libopenmpi-dev openmpi-bin
  python3-torch python3-onnx python3-numpy python3-pip python3-venv
)

hcg_install_deps() {
  local missing=()
  for p in "${HCG_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}
