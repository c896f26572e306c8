#!/usr/bin/env bash
# run-tests.sh — the test command: installs dependencies, builds, runs the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j2
