#!/usr/bin/env bash
# test_target.sh — the whole zero-shot pipeline on the target: a cross-built zsq (run through the
# emulator, e.g. qemu-aarch64) synthesises calibration images from the bundled teacher, quantizes it
# to W4A4 and runs the result on its integer runtime with the target's kernels; the .zsq must
# score the same (within one image) on the build host's zsq when one is built beside it
# (SOURCE_DIR/build/zsq).
# usage: test_target.sh ZSQ SOURCE_DIR [EMULATOR ARGS...]
set -euo pipefail
zsq=$1
src=$2
shift 2
run=("$@" "$zsq")
model=$src/models/resnet20.onnx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
step() { # command... : runs it on the target, output in $tmp/out
  if ! "${run[@]}" "$@" >"$tmp/out" 2>&1; then
    sed 's/^/    /' "$tmp/out"
    fail "zsq $*"
  fi
}

step inspect --isa
grep -Eq '^isa: neon' "$tmp/out" || fail "the target did not pick a NEON tier: $(head -1 "$tmp/out")"
isa=$(sed -n 's/^isa: \([a-z-]*\).*/\1/p' "$tmp/out")
# Tiny sizes: under qemu the float engine runs on soft-float emulation (~100x slower).
step synth "$model" --method intraq --count 4 --batch 4 --iters 2 --threads 2 -o "$tmp/c.zsd"
step quantize "$model" --bits w4a4 --calib "$tmp/c.zsd" --threads 2 -o "$tmp/m.zsq"
step eval "$tmp/m.zsq" --data fmnist --limit 100 --threads 2
grep -q "integer runtime (zsq_qu8_.*__${isa//-/}" "$tmp/out" || fail "eval did not run the $isa integer kernels: $(cat "$tmp/out")"
int=$(sed -n 's/.*top-1 \([0-9.]*\) %.*/\1/p' "$tmp/out")
echo "target ($isa): W4A4 calibrated on 4 images synthesised on the target: $int % on 100 test images"
host=$src/build/zsq
if [[ -x $host ]]; then
  "$host" eval "$tmp/m.zsq" --data fmnist --limit 100 >"$tmp/host" 2>&1 || fail "the host cannot run the target's .zsq"
  h=$(sed -n 's/.*top-1 \([0-9.]*\) %.*/\1/p' "$tmp/host")
  echo "host: the same .zsq scores $h %"
  # Both run the integer runtime (within one code of the simulation): within one image.
  awk -v a="$h" -v b="$int" 'BEGIN { d = a - b; exit !(d <= 1 && d >= -1) }' ||
    fail "host $h % vs target $int %"
fi
echo "target pipeline passed"
