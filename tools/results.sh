#!/usr/bin/env bash
# results.sh — regenerates the generated parts of docs/RESULTS.md (each between its own results.sh
# markers): synthesis quality per teacher × method, and top-1 per bits × calibration × algorithm
# for each teacher.
# usage: tools/results.sh [--quick] [--threads N] [--jobs J] [--part P]
#   full:    every method (default steps), W8A8…W2A2, the whole test set, 150 reconstruction
#            steps per unit: synth about 2 h, grid-resnet20 about 1 h, grid-mobilenetv2 about 2 h
#            on 2 cores with --jobs 2 --threads 1.
#   --quick: synthesis at 200 steps, the grid on W4A4/W2A4 × noise/intraq/fmnist only, the first
#            2000 test images: about an hour per part on 2 cores.
#   --part P regenerates one block: synth, grid-resnet20 or grid-mobilenetv2; all (default):
#            synth and the grids (with --quick: ResNet-20's grid only).
#   --jobs J runs J syntheses or quantizations at once (each with --threads N threads; the
#            default 1 × 2 threads suits 2 cores, J × 1 thread scales to a machine with J cores).
set -euo pipefail
cd "$(dirname "$0")/.."
zsq=./build/zsq
[[ -x $zsq ]] || { echo "build first: cmake --build build" >&2; exit 2; }
quick=0
threads=2
jobs=1
part=all
usage() {
  echo "usage: tools/results.sh [--quick] [--threads N] [--jobs J] [--part synth|grid-resnet20|grid-mobilenetv2|all]" >&2
  exit 2
}
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1 ;;
    --threads) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || usage; threads=$2; shift ;;
    --jobs) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || usage; jobs=$2; shift ;;
    --part) [[ ${2-} =~ ^(synth|grid-resnet20|grid-mobilenetv2|all)$ ]] || usage; part=$2; shift ;;
    *) usage ;;
  esac
  shift
done
count=256
synth_models=()
grid_models=()
methods=(noise zeroq dsg intraq hast centres genie gzsq)
bits=(w8a8 w4a8 w4a4 w3a3 w2a4 w2a2)
calibs=(noise zeroq intraq fmnist) # intraq: the best synthetic set in docs/synthesis.md
limit=()
iters=()
recon_iters=150
case $part in
  synth) synth_models=(resnet20 mobilenetv2) ;;
  grid-*) grid_models=("${part#grid-}") ;;
  all) synth_models=(resnet20 mobilenetv2); grid_models=(resnet20 mobilenetv2) ;;
esac
if [[ $quick == 1 ]]; then
  [[ $part == all ]] && grid_models=(resnet20)
  bits=(w4a4 w2a4); calibs=(noise intraq fmnist)
  limit=(--limit 2000); iters=(--iters 200)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/cells"
touch "$tmp/log"
# runs "$@" in the background, at most $jobs at once (a failure is recorded by the job itself)
pool() {
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  "$@" &
}
acc() { sed -n 's/.*W[0-9]A[0-9] \([0-9.]*\) %.*/\1/p'; }
# cell KEY ARGS...: the top-1 of `zsq quantize ARGS` into $tmp/cells/KEY, or "fail" (the command
# is in the log)
cell() {
  local key=$1 r
  shift
  if r=$($zsq quantize "$@" --eval "${limit[@]}" --threads "$threads" 2>"$tmp/cells/$key.log" | acc) &&
    [[ -n $r ]]; then
    echo "$r" >"$tmp/cells/$key"
  else
    echo "fail: $*" >>"$tmp/log"; echo fail >"$tmp/cells/$key"
  fi
}
get() { cat "$tmp/cells/$1" 2>/dev/null || echo fail; }
recon=(--recon brecq --recon-iters "$recon_iters" --qdrop 0.5)
synth() { # model method -> $tmp/model-method.zsd and .json
  local extra=()
  [[ $2 == gzsq ]] && extra=(--fold-bn)
  $zsq synth "models/$1.onnx" --method "$2" --count $count --threads "$threads" "${iters[@]}" \
    "${extra[@]}" -o "$tmp/$1-$2.zsd" --format json 2>"$tmp/$1-$2.log" >"$tmp/$1-$2.json" ||
    { echo "fail: synth $1 $2" >>"$tmp/log"; rm -f "$tmp/$1-$2.json"; }
}
calib_of() { [[ $2 == fmnist ]] && echo fmnist || echo "$tmp/$1-$2.zsd"; }
float_top1() {
  $zsq eval "models/$1.onnx" --data fmnist "${limit[@]}" --threads "$threads" 2>/dev/null |
    sed -n 's/.*top-1 \([0-9.]*\) %.*/\1/p' >"$tmp/cells/$1-float"
}

# every synthesis first (each set once), then every quantization: each a job of the pool
declare -A wanted=()
for m in "${synth_models[@]}"; do for meth in "${methods[@]}"; do wanted[$m-$meth]="$m $meth"; done; done
for m in "${grid_models[@]}"; do
  for meth in "${calibs[@]}"; do [[ $meth == fmnist ]] || wanted[$m-$meth]="$m $meth"; done
done
for k in "${!wanted[@]}"; do
  echo "synth ${wanted[$k]}" >&2
  pool synth ${wanted[$k]}
done
wait
for m in "${synth_models[@]}"; do
  for meth in "${methods[@]}"; do
    pool cell "$m-$meth-w4" "models/$m.onnx" --bits w4a4 --calib "$tmp/$m-$meth.zsd" --bias-correction
    [[ $m == resnet20 ]] &&
      pool cell "$m-$meth-w2" "models/$m.onnx" --bits w2a4 --calib "$tmp/$m-$meth.zsd" "${recon[@]}"
  done
done
for m in "${grid_models[@]}"; do
  pool float_top1 "$m"
  for b in "${bits[@]}"; do
    for meth in "${calibs[@]}"; do
      echo "quantize $m $b $meth" >&2
      c=(--bits "$b" --calib "$(calib_of "$m" "$meth")" --calib-count $count)
      k=$m-$b-$meth
      pool cell "$k-minmax" "models/$m.onnx" "${c[@]}" --range minmax --weight-range minmax
      pool cell "$k-mse" "models/$m.onnx" "${c[@]}" --bias-correction
      pool cell "$k-recon" "models/$m.onnx" "${c[@]}" "${recon[@]}"
      pool cell "$k-aquant" "models/$m.onnx" "${c[@]}" "${recon[@]}" --border aquant
      pool cell "$k-pd" "models/$m.onnx" "${c[@]}" "${recon[@]}" --pd-loss
    done
  done
done
wait

# the commit, "-dirty" when a tracked file other than RESULTS.md (which earlier parts write) differs
rev() {
  local r
  r=$(git rev-parse --short HEAD)
  git diff --quiet HEAD -- . ':!docs/RESULTS.md' || r+=-dirty
  echo "$r"
}
# block NAME: the begin marker and the lines every block starts with
block() {
  echo "<!-- results.sh $1 begin: generated by \`tools/results.sh$([[ $quick == 1 ]] && echo " --quick") --part $1\` at $(rev), do not edit by hand -->"
  echo
  echo "Generated on $(date -u +%Y-%m-%d) ($(nproc) cores, $jobs × $threads threads). Top-1 (%) is simulated on"
  echo "the Fashion-MNIST test set$([[ ${#limit[@]} -gt 0 ]] && echo " (first ${limit[1]} images)"); $count calibration images per set. Scheme: BN"
  echo "folded, per-channel symmetric weights, per-tensor activations (unsigned after ReLU), first and"
  echo "last layer 8-bit (docs/quantization.md). Reconstruction: \`${recon[*]}\` (+ PD-Quant: with \`--pd-loss\`)."
  echo
}
if [[ ${#synth_models[@]} -gt 0 ]]; then
  {
    block synth
    echo "### Synthesis quality ($count images, $([[ ${#iters[@]} -gt 0 ]] && echo "${iters[1]} steps" || echo "each method's default steps"))"
    echo
    echo "W4A4: MSE ranges + bias correction; W2A4: BRECQ + QDrop (ResNet-20 only). gzsq runs on the"
    echo "teacher with its BatchNorm folded away (\`--fold-bn\`). The seconds column is the synthesis"
    echo "time with $jobs job(s) sharing the machine."
    echo
    echo "| model | method | BN distance | teacher confidence | label agreement | class balance | seconds | W4A4 | W2A4 |"
    echo "|---|---|---|---|---|---|---|---|---|"
  } >"$tmp/synth.md"
  for m in "${synth_models[@]}"; do
    for meth in "${methods[@]}"; do
      if [[ ! -s $tmp/$m-$meth.json ]]; then
        echo "| $m | $meth | fail | | | | | | |" >>"$tmp/synth.md"; continue
      fi
      w2=—
      [[ $m == resnet20 ]] && w2=$(get "$m-$meth-w2")
      /usr/bin/python3 - "$tmp/$m-$meth.json" "$m" "$meth" "$(get "$m-$meth-w4")" "$w2" >>"$tmp/synth.md" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def f(key, spec):  # gzsq on a BN-folded teacher has no BN distance
    return "—" if d.get(key) is None else format(d[key], spec)
print(f"| {sys.argv[2]} | {sys.argv[3]} | {f('bn_distance', '.4g')} | {f('mean_confidence', '.3f')} | "
      f"{f('label_agreement', '.3f')} | {f('class_entropy', '.3f')} | {f('seconds', '.0f')} | "
      f"{sys.argv[4]} | {sys.argv[5]} |")
PY
    done
  done
  printf '\n<!-- results.sh synth end -->\n' >>"$tmp/synth.md"
fi
for m in "${grid_models[@]}"; do
  {
    block "grid-$m"
    echo "### $m: top-1 (%) per bits × calibration × algorithm"
    echo
    echo "| bits | calibration | min/max | MSE + bias corr. | BRECQ + QDrop | + AQuant borders | + PD-Quant loss |"
    echo "|---|---|---|---|---|---|---|"
    float=$(get "$m-float")
    echo "| float | — | $float | $float | $float | $float | $float |"
    for b in "${bits[@]}"; do
      for meth in "${calibs[@]}"; do
        k=$m-$b-$meth
        echo "| ${b^^} | $meth | $(get "$k-minmax") | $(get "$k-mse") | $(get "$k-recon") | $(get "$k-aquant") | $(get "$k-pd") |"
      done
    done
    printf '\n<!-- results.sh grid-%s end -->\n' "$m"
  } >"$tmp/grid-$m.md"
done
# each block replaces the one of its name in docs/RESULTS.md
for f in "$tmp"/synth.md "$tmp"/grid-*.md; do
  [[ -f $f ]] || continue
  name=$(basename "$f" .md)
  /usr/bin/python3 - docs/RESULTS.md "$f" "$name" <<'PY'
import sys
doc, new, name = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
end = f"<!-- results.sh {name} end -->"
b, e = doc.find(f"<!-- results.sh {name} begin"), doc.find(end)
if b < 0 or e < 0:
    sys.exit(f"docs/RESULTS.md has no results.sh {name} markers")
open(sys.argv[1], "w").write(doc[:b] + new + doc[e + len(end) + 1:])
PY
done
if grep -q '^fail: ' "$tmp/log"; then
  echo "some runs failed (cells marked fail):" >&2
  grep '^fail: ' "$tmp/log" >&2
fi
echo "updated docs/RESULTS.md" >&2
