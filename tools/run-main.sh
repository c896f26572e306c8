#!/usr/bin/env bash
# run-main.sh — the main job on the bundled teacher: build zsq, import and evaluate the float
# model on the Fashion-MNIST test set, then the zero-shot pipeline: synthesise calibration images
# from the model alone, quantize to W4A4 and print float against quantized accuracy with the time
# each stage took; then run the saved .zsq on the integer runtime (accuracy and speed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build >/dev/null
model=${1:-models/resnet20.onnx}
threads=$(nproc)
./build/zsq inspect "$model" | tail -3
./build/zsq eval "$model" --data fmnist --threads "$threads"
./build/zsq quantize "$model" --bits w4a4 --calib synth:intraq --calib-count 256 --synth-iters 200 \
  --bias-correction --threads "$threads" --eval -o build/main-w4a4.zsq
./build/zsq eval build/main-w4a4.zsq --data fmnist --threads "$threads" --batch 500
./build/zsq bench "$model" --batch 64 --threads "$threads"
./build/zsq bench build/main-w4a4.zsq --batch 64 --threads "$threads"
