#!/usr/bin/env bash
# bench_threads.sh — thread scaling of `zsq bench` over the models in DIR (BENCHMARKS.md, integer
# runtime on whole models). DIR holds zsq, lib/ (its shared libraries, for a machine without
# them), the quantized models and the float ONNX files named below.
# usage: tools/bench_threads.sh DIR [THREADS...]   (default 1 2 4 8 16)
set -uo pipefail
dir=$1
shift
threads=${*:-1 2 4 8 16}
cd "$dir"
export LD_LIBRARY_PATH=$PWD/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
lscpu | grep -E "Model name|^CPU\(s\)|L2|L3"
./zsq inspect --isa | head -3
for m in "r20-w4a4.zsq 64" "r20-w8a8.zsq 64" "resnet20.onnx 64" "r18-w8a8.zsq 1" "mbv2-w8a8.zsq 1" \
  "mobilenet_v2.onnx 1" "r18-w8a8.zsq 16"; do
  set -- $m
  [[ -f $1 ]] || continue
  for t in $threads; do ./zsq bench "$1" --batch "$2" --threads "$t" --runs 15 --format json; done
done
