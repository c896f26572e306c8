#!/usr/bin/env bash
# run-main.sh — the main job on the bundled teacher: build zsq, import the model, evaluate it on
# the Fashion-MNIST test set and print the accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build >/dev/null
model=${1:-models/resnet20.onnx}
./build/zsq inspect "$model" | tail -3
./build/zsq eval "$model" --data fmnist
