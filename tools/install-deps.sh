#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages zsq's build, tests and main job need.
# Idempotent and quiet when everything is present. --tools adds PyTorch for tools/*.py.
set -euo pipefail

pkgs=(
  cmake ninja-build clang clang-format pkg-config g++
  libxnnpack-dev libpthreadpool-dev libcpuinfo-dev zlib1g-dev
  libprotobuf-c-dev protobuf-c-compiler python3-onnx
  libgtest-dev libbenchmark-dev libdnnl-dev
  libonnx-testdata dataset-fashion-mnist
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user
)
if [[ "${1:-}" == "--tools" ]]; then
  pkgs+=(python3-torch python3-torchvision python3-numpy)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
