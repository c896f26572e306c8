#!/usr/bin/env bash
# run-tests.sh — the test command: installs dependencies, builds, runs the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j2
# aarch64: the whole program cross-compiled against Debian's arm64 libraries (unpacked, not
# installed); under qemu-aarch64 CTest runs the kernel tests and the zero-shot pipeline on the target
# (tests/test_target.sh).
bash tools/aarch64-sysroot.sh "$PWD/build-aarch64-sysroot"
cmake -S . -B build-aarch64 -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
  -DZSQ_AARCH64_SYSROOT="$PWD/build-aarch64-sysroot" -DZSQ_KERNELS_ONLY=OFF -DZSQ_BUILD_BENCH=OFF \
  >/dev/null
cmake --build build-aarch64
ctest --test-dir build-aarch64 --output-on-failure -j2
