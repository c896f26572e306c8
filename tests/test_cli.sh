#!/usr/bin/env bash
# test_cli.sh — the zsq program's contract: exit codes, messages, stdout/stderr split, JSON output.
# usage: test_cli.sh ZSQ_BINARY SOURCE_DIR
set -uo pipefail
zsq=$1
src=$2
model=$src/models/resnet20.onnx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# expect CODE PATTERN -- ARGS...: runs zsq ARGS, checks the exit code and that stdout+stderr match PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 3
  "$zsq" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  # grep reads the files itself: `cat | grep -q` under pipefail fails when grep exits early and
  # cat gets SIGPIPE (a flaky FAIL on long outputs that do match).
  if [[ $rc -ne $code ]] || ! grep -Eqh -- "$pattern" "$tmp/out" "$tmp/err"; then
    echo "FAIL: zsq $* -> exit $rc (want $code), output:"
    sed 's/^/    /' "$tmp/out" "$tmp/err" | head -20
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

expect 0 '^zsq [0-9]+\.[0-9]+\.[0-9]+' -- --version
expect 0 'usage: zsq' -- --help
expect 2 'usage: zsq' --
expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 'report: no model given' -- report
expect 2 'run: no model given' -- run
expect 0 'usage: zsq bench' -- bench --help
expect 0 'usage: zsq inspect' -- inspect --help
expect 0 '^zsq [0-9]' -- inspect --version
expect 0 '^zsq [0-9]' -- eval --version
expect 0 'usage: zsq eval' -- eval --help
expect 2 'usage: zsq inspect' -- inspect
expect 0 '^isa: (avx512vnni|avx2|scalar|neon|neon-dot)' -- inspect --isa
expect 0 'depthwise 3x3: zsq_qu8_qc8w_dwconv3x3' -- inspect --isa
expect 3 'cannot open' -- inspect /nonexistent/model.onnx
expect 2 "unknown option '--bogus'" -- inspect "$model" --bogus
expect 0 'BatchNorm layers \([1-9][0-9]*\)' -- inspect "$model"
expect 0 'MACs per image' -- inspect "$model"

head -c 3000 "$model" >"$tmp/truncated.onnx"
expect 3 'truncated' -- inspect "$tmp/truncated.onnx"
printf 'not a model at all' >"$tmp/text.onnx"
expect 3 'not a valid ONNX model' -- inspect "$tmp/text.onnx"
expect 3 'is a directory' -- inspect "$tmp"
: >"$tmp/empty.onnx"
expect 3 'not a valid ONNX model|empty' -- inspect "$tmp/empty.onnx"
expect 3 'not a regular file' -- inspect <(cat "$model")

"$zsq" inspect "$model" --format json >"$tmp/inspect.json" 2>/dev/null
if /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['macs'] > 0 and len(d['layers']) > 10" "$tmp/inspect.json"; then
  pass=$((pass + 1))
else
  echo "FAIL: inspect --format json is not the expected JSON"
  fail=$((fail + 1))
fi

expect 2 'no model given' -- eval
expect 2 '--swing must be on or off' -- synth "$model" --method genie --count 4 -o "$tmp/s.zsd" --swing maybe
expect 2 '--data fmnist is required' -- eval "$model"
expect 2 "only 'fmnist'" -- eval "$model" --data imagenet
expect 2 '--limit expects an integer' -- eval "$model" --data fmnist --limit 12x
expect 2 '--limit expects an integer' -- eval "$model" --data fmnist --limit 0
expect 3 'dataset-fashion-mnist' -- eval "$model" --data fmnist --data-dir /nonexistent
expect 2 'normalisation mean' -- eval "$model" --data fmnist --mean 0.1,abc --std 0.3
expect 0 'top-1 [0-9.]+ % \([0-9]+/200\)' -- eval "$model" --data fmnist --limit 200

# A model without normalisation metadata: eval must say which flags it needs.
/usr/bin/python3 -c "
import onnx, sys
m = onnx.load(sys.argv[1]); del m.metadata_props[:]; onnx.save(m, sys.argv[2])" "$model" "$tmp/nometa.onnx"
expect 2 'pass --mean M --std S' -- eval "$tmp/nometa.onnx" --data fmnist --limit 10
expect 0 '\(10/10\)|\([0-9]/10\)' -- eval "$tmp/nometa.onnx" --data fmnist --limit 10 --mean 0.2860 --std 0.3530
# synthesis keeps images in the pixel range only where the metadata gives it, or says it cannot
expect 2 'pass --mean M --std S' -- synth "$tmp/nometa.onnx" --method zeroq --count 2 --iters 1 --clamp on -o "$tmp/c.zsd"
expect 0 'BN-statistic distance' -- synth "$tmp/nometa.onnx" --method zeroq --count 2 --iters 1 -o "$tmp/c.zsd"
expect 0 'BN-statistic distance' -- synth "$tmp/nometa.onnx" --method zeroq --count 2 --iters 1 --clamp on --mean 0.2860 --std 0.3530 -o "$tmp/c.zsd"
expect 2 '--std needs a value' -- synth "$model" --method zeroq --count 2 -o "$tmp/c.zsd" --std
expect 2 "genie's generator output is not clamped" -- synth "$model" --method genie --count 2 --clamp on -o "$tmp/c.zsd"
expect 2 '--clamp must be on or off' -- synth "$model" --method zeroq --count 2 -o "$tmp/c.zsd" --clamp yes

# Results on stdout, progress on stderr; JSON parses.
"$zsq" eval "$model" --data fmnist --limit 300 --format json >"$tmp/eval.json" 2>"$tmp/eval.err"
if /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['images'] == 300 and 0 <= d['correct'] <= 300" "$tmp/eval.json" &&
  grep -q 'eval:' "$tmp/eval.err"; then
  pass=$((pass + 1))
else
  echo "FAIL: eval --format json / progress on stderr"
  fail=$((fail + 1))
fi

# synth and quantize: flags, unimplemented methods, and a tiny end-to-end run through a .zsq file
expect 0 'usage: zsq synth' -- synth --help
expect 2 '--method is required' -- synth "$model" --count 4 -o "$tmp/a.zsd"
expect 3 'unknown synthesis method' -- synth "$model" --method deepinversion --count 4 -o "$tmp/a.zsd"
expect 3 'use --method gzsq' -- synth "$model" --method intraq --fold-bn --count 4 -o "$tmp/a.zsd"
expect 2 '--mdc expects' -- synth "$model" --method intraq --mdc 0.8,0.1 --count 4 -o "$tmp/a.zsd"
expect 0 'distance n/a' -- synth "$model" --method gzsq --fold-bn --count 4 --iters 2 -o "$tmp/a.zsd"
expect 0 'BN-statistic distance' -- synth "$model" --method zeroq --count 4 --iters 2 -o "$tmp/a.zsd"
expect 0 'usage: zsq quantize' -- quantize --help
expect 2 '--bits expects wXaY' -- quantize "$model" --bits w5a4
expect 2 'expects adaround or brecq' -- quantize "$model" --bits w4a4 --recon genie-m
expect 3 'cannot open' -- quantize "$model" --bits w4a4 --calib /nonexistent.zsd
expect 2 'need --recon adaround or brecq' -- quantize "$model" --bits w4a4 --recon-iters 5
expect 2 'need --recon adaround or brecq' -- quantize "$model" --bits w4a4 --qdrop 0.5
expect 2 'need --recon adaround or brecq' -- quantize "$model" --bits w4a4 --border aquant
expect 2 'need --recon adaround or brecq' -- quantize "$model" --bits w4a4 --lsq
expect 2 'need --recon adaround or brecq' -- quantize "$model" --bits w4a4 --genie-m
expect 2 'need --recon adaround or brecq' -- quantize "$model" --bits w4a4 --pd-loss
expect 2 'need --recon adaround or brecq' -- quantize "$model" --bits w4a4 --pd-dc
expect 2 '--pd-dc-lamb and --pd-dc-steps need --pd-dc' -- quantize "$model" --bits w4a4 --recon brecq --pd-dc-steps 5
expect 2 '--pd-dc-lamb expects a positive number' -- quantize "$model" --bits w4a4 --recon brecq --pd-dc --pd-dc-lamb -1
expect 2 '--pd-dc-lamb expects a positive number' -- quantize "$model" --bits w4a4 --recon brecq --pd-dc --pd-dc-lamb 0.0x
expect 2 'pd-dc-steps' -- quantize "$model" --bits w4a4 --recon brecq --pd-dc --pd-dc-steps 0
expect 2 '0 < P < 1' -- quantize "$model" --bits w4a4 --recon brecq --qdrop 1
expect 2 "--bias-correction expects empirical or analytic, not 'foo'" -- quantize "$model" --bits w4a4 --bias-correction foo
expect 2 "--bias-correction expects empirical or analytic, not 'exact'" -- quantize "$model" --bits w4a4 --bias-correction=exact
expect 0 'wrote .*m.zsq' -- quantize "$model" --bits w8a8 --calib "$tmp/a.zsd" -o "$tmp/m.zsq"
expect 0 'integer runtime \(zsq_qu8_' -- eval "$tmp/m.zsq" --data fmnist --limit 50
: >"$tmp/empty.zsq"
expect 3 'empty' -- eval "$tmp/empty.zsq" --data fmnist --limit 20
# DFQ: a bare --bias-correction before another flag stays empirical; CLE + analytic runs end to end.
expect 0 'W8A8 \(first/last 8-bit, empirical bias correction\)' -- quantize "$model" --bits w8a8 --calib "$tmp/a.zsd" --bias-correction --threads 2
expect 0 'W4A8 \(first/last 8-bit, CLE, analytic bias correction\)' -- quantize "$model" --bits w4a8 --calib "$tmp/a.zsd" --cle --bias-correction analytic -o "$tmp/dfq.zsq"
expect 0 'integer runtime \(zsq_qu8_' -- eval "$tmp/dfq.zsq" --data fmnist --limit 50
expect 0 'float simulation' -- eval "$tmp/m.zsq" --data fmnist --limit 50 --simulate
expect 0 'integer runtime \(zsq_qu8_qc8w_gemm_requant_ukernel_1x1c1__scalar' -- eval "$tmp/m.zsq" --data fmnist --limit 20 --isa scalar
expect 2 "unknown isa .sse9." -- eval "$tmp/m.zsq" --data fmnist --limit 20 --isa sse9
expect 0 'images/s' -- bench "$tmp/m.zsq" --runs 3
expect 0 '"engine": "integer runtime' -- bench "$tmp/m.zsq" --runs 3 --batch 4 --format json
# run: raw float32 images in, top classes out; a file of the wrong size is refused.
head -c $((784 * 4 * 3)) /dev/zero >"$tmp/x.f32"
expect 0 'image 2: class [0-9]' -- run "$tmp/m.zsq" --input "$tmp/x.f32"
expect 0 '"top1": \[[0-9], [0-9], [0-9]\]' -- run "$model" --input "$tmp/x.f32" --format json
expect 0 'written to' -- run "$tmp/m.zsq" --input "$tmp/x.f32" -o "$tmp/y.f32"
if [[ $(stat -c %s "$tmp/y.f32") -ne 120 ]]; then echo "FAIL: run -o wrote $(stat -c %s "$tmp/y.f32") bytes, want 120"; fail=$((fail + 1)); fi
head -c 100 /dev/zero >"$tmp/bad.f32"
expect 3 'not a whole number' -- run "$tmp/m.zsq" --input "$tmp/bad.f32"
expect 0 'BatchNorm layers \(0\)' -- inspect "$tmp/m.zsq"
expect 0 'hurts most' -- report "$tmp/m.zsq"
expect 0 '"weight_code_bytes": [0-9]+' -- report "$tmp/m.zsq" --format json
expect 3 'not a quantized model' -- report "$model"
expect 0 'wrote .*g.zsq' -- quantize "$model" --bits w4a4 --calib "$tmp/a.zsd" --recon brecq --recon-iters 2 --lsq --genie-m -o "$tmp/g.zsq"
expect 0 'wrote .*p.zsq' -- quantize "$model" --bits w4a4 --calib "$tmp/a.zsd" --recon brecq --recon-iters 2 --qdrop 0.5 --pd-loss -o "$tmp/p.zsq"
# PD-Quant's counts on stderr and in the report: every ResNet-20 block's output cuts the network
# (PD term everywhere); the head (pool + classifier) has no BN to correct.
expect 0 'pd-dc: 10 of 11 units corrected' -- quantize "$model" --bits w4a4 --calib "$tmp/a.zsd" --recon brecq --recon-iters 1 --pd-loss --pd-dc --pd-dc-steps 1 --pd-dc-lamb 0.05 --report "$tmp/dc.json"
if ! grep -q 'pd-loss: 11 of 11 units' "$tmp/err" || ! grep -q '"recon_units": 11, "pd_units": 11, "dc_units": 10' "$tmp/dc.json"; then
  echo "FAIL: --pd-loss --pd-dc counts: $(cat "$tmp/err") / $(grep -o '"recon_units.*' "$tmp/dc.json")"
  fail=$((fail + 1))
fi
expect 0 'integer runtime' -- eval "$tmp/g.zsq" --data fmnist --limit 50
# Asymmetric weights: zero points below 8 bits (the report's W zp column), the integer runtime on
# the 8-bit-weight kernels, BRECQ with GENIE-M steps on top, mixed precision on top.
expect 2 '--weight-scheme expects sym or asym' -- quantize "$model" --bits w4a4 --weight-scheme zero
expect 2 '--weight-scheme expects sym or asym' -- quantize "$model" --bits w4a4 --weight-scheme
expect 0 'W2A4 \(first/last 8-bit, asymmetric weights\)' -- quantize "$model" --bits w2a4 --calib "$tmp/a.zsd" --weight-scheme asym --weight-range minmax -o "$tmp/z.zsq"
expect 0 'layers\.0/conv1/Conv +2 +[0-3]\.\.[0-3] ' -- report "$tmp/z.zsq"
expect 0 '"weight_scheme": "asym", "weight_zero_point_min": [0-3]' -- report "$tmp/z.zsq" --format json
expect 0 'integer runtime \(zsq_qu8_qc8w_' -- eval "$tmp/z.zsq" --data fmnist --limit 50
expect 0 'wrote .*zg.zsq' -- quantize "$model" --bits w3a4 --calib "$tmp/a.zsd" --weight-scheme asym --recon brecq --recon-iters 2 --genie-m -o "$tmp/zg.zsq"
expect 0 'integer runtime' -- eval "$tmp/zg.zsq" --data fmnist --limit 50
expect 0 'weights: [0-9]+ codes in [0-9]+ bytes \(3\.[0-9]+ bits' -- quantize "$model" --bits w4a4 --calib "$tmp/a.zsd" --weight-scheme asym --budget 45%
expect 2 '--budget expects' -- quantize "$model" --bits w4a4 --budget 120%
expect 0 'weights: [0-9]+ codes in [0-9]+ bytes \(3\.[0-9]+ bits' -- quantize "$model" --bits w4a4 --calib "$tmp/a.zsd" --budget 45%
# A latency budget: times per image with --threads, measured here; unknown units, zero, two
# budgets at once and a budget below the fastest choice are usage errors.
expect 2 '--budget expects .*a time per image' -- quantize "$model" --bits w4a4 --budget 1.5sec
expect 2 '--budget expects' -- quantize "$model" --bits w4a4 --budget 0ms
expect 2 '--budget expects' -- quantize "$model" --bits w4a4 --budget ms
expect 2 'give one budget' -- quantize "$model" --bits w4a4 --calib "$tmp/a.zsd" --budget 45% --budget 2ms
expect 2 'latency budget of 0\.001 ms is below the fastest choice: [0-9.e+-]+ ms per image as measured here with 1 thread' -- quantize "$model" --bits w4a4 --calib "$tmp/a.zsd" --weight-range minmax --budget 1us
expect 0 'latency per image \(batch 1, 1 thread, measured here\): budget 2500 ms, predicted' -- quantize "$model" --bits w4a4 --calib "$tmp/a.zsd" --weight-range minmax --budget 2.5e0s --report "$tmp/lat.json"
if ! grep -Eq '^  /layers/layers\.0/conv1/Conv +[2348]-bit weights +[0-9.]+ us$' "$tmp/err" ||
  ! /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); l=d['latency']; assert 0 < l['fastest_s'] <= l['predicted_s'] <= l['budget_s'] == 2.5 and l['batch'] == 1 and all(x['seconds'] > 0 for x in d['layers'])" "$tmp/lat.json"; then
  echo "FAIL: latency report: $(head -3 "$tmp/err") / $(grep -o '"latency.*' "$tmp/lat.json")"
  fail=$((fail + 1))
else
  pass=$((pass + 1))
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
