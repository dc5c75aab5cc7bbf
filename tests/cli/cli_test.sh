#!/usr/bin/env bash
# End-to-end tests of the `quench` tool on the tiny models in tests/data/:
#   cli_test.sh PATH/TO/quench PATH/TO/tests/data
# Checks that reports parse as JSON and hold the right numbers, that outputs saved as .npy
# read back in numpy with the right shape and match a numpy re-computation of the model, and
# that every bad invocation exits non-zero with one line on stderr.
set -uo pipefail
quench="$1"
data="$2"
py=/usr/bin/python3  # Debian's interpreter, which has numpy (a pyenv python3 may not)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run_cli EXPECTED_EXIT -- ARGS...: runs quench, leaves stdout/stderr in $work/out, $work/err.
run_cli() {
  local want="$1"; shift
  "$quench" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [[ $rc != "$want" ]]; then
    fail "quench $* exited $rc, expected $want; stderr: $(head -c 600 "$work/err")"
    return 1
  fi
  return 0
}

# expect_error EXIT NEEDLE ARGS...: a failure with exactly one line on stderr containing NEEDLE.
expect_error() {
  local want="$1" needle="$2"; shift 2
  run_cli "$want" "$@" || return
  local lines
  lines=$(wc -l <"$work/err")
  [[ $lines == 1 ]] || fail "quench $*: $lines lines on stderr, expected 1: $(cat "$work/err")"
  grep -qF -- "$needle" "$work/err" || fail "quench $*: stderr lacks '$needle': $(cat "$work/err")"
  [[ -s $work/out ]] && fail "quench $*: wrote to stdout on error: $(head -c 300 "$work/out")"
  return 0
}

# check_py 'python code' FILE...: runs a numpy check; the code sees sys.argv.
check_py() {
  local code="$1"; shift
  "$py" -c "import json, sys; import numpy as np
$code" "$@" || fail "python check failed: $code"
}

cnn="$data/tiny_cnn.onnx"
dyn="$data/tiny_dynamic.onnx"

# --- help and usage -----------------------------------------------------------------------
run_cli 0 --help && grep -q "usage: quench COMMAND" "$work/out" || fail "--help"
run_cli 0 help && grep -q "inspect" "$work/out" || fail "help"
run_cli 0 help run && grep -q -- "--iterations N" "$work/out" && grep -q -- "--save-outputs DIR" "$work/out" || fail "help run"
run_cli 0 run --help && grep -q -- "--warmup N" "$work/out" || fail "run --help"
run_cli 0 help inspect && grep -q -- "--batch N" "$work/out" || fail "help inspect"
run_cli 2 || fail "no arguments"
expect_error 2 "unknown command 'frobnicate'" frobnicate "$cnn"
expect_error 2 "no help for unknown command" help frobnicate
run_cli 0 help validate && grep -q -- "--iou-threshold T" "$work/out" || fail "help validate"

# --- inspect --------------------------------------------------------------------------------
# Hand count at batch 1: conv 2*4*8*8*27 + 256 bias = 14080, relu 256, gap 256, flatten 0,
# gemm 2*5*4 + 5 = 45: 14637 FLOPs. Parameters 108 + 4 + 20 + 5 = 137.
if run_cli 0 inspect "$cnn"; then
  grep -q "14.64 K per run of batch 1" "$work/out" || fail "inspect text FLOPs: $(cat "$work/out")"
  grep -Eq "^  Conv +1$" "$work/out" || fail "inspect text histogram"
  grep -q "parameters  137 (548 B)" "$work/out" || fail "inspect text parameters"
fi
if run_cli 0 inspect "$cnn" --json --batch 2; then
  check_py '
r = json.load(open(sys.argv[1]))
assert r["total_flops"] == 2 * 14637, r["total_flops"]
assert r["parameters"] == 137 and r["parameter_bytes"] == 548
assert r["batch"] == 2
assert r["inputs"][0] == {"name": "x", "dtype": "float32", "shape": [2, 3, 8, 8]}, r["inputs"]
assert [l["op_type"] for l in r["layers"]] == ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"]
assert [l["flops"] for l in r["layers"]] == [2 * 14080, 2 * 256, 2 * 256, 0, 2 * 45]
assert r["layers"][0]["inputs"][1] == {"name": "w1", "dtype": "float32", "shape": [4, 3, 3, 3], "constant": True}
assert r["op_histogram"] == {"Conv": 1, "Relu": 1, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
assert r["opsets"] == {"ai.onnx": 13} and r["producer"] == "quench-test"
' "$work/out"
fi
expect_error 1 "'x' has unknown dim 2 ('L')" inspect "$dyn"
if run_cli 0 inspect "$dyn" --shape x=3x4x7 --json; then
  check_py '
r = json.load(open(sys.argv[1]))
assert r["batch"] == 3
outs = {o["name"]: o["shape"] for o in r["outputs"]}
assert outs == {"abs \"q\"\\\t\u00e9": [3, 4, 7], "gathered": [3, 3, 2]}, outs
' "$work/out"
fi

# --- inspect --optimized --------------------------------------------------------------------
# Conv + Relu fuse into one FusedConv: launches 4 -> 3 (the Flatten is a view, no launch).
if run_cli 0 inspect "$cnn" --optimized --json; then
  check_py '
r = json.load(open(sys.argv[1]))
o = r["optimization"]
assert [l["op_type"] for l in r["layers"]] == ["quench.FusedConv", "GlobalAveragePool", "Flatten", "Gemm"], r["layers"]
assert (o["launches_unoptimized"], o["launches"], r["launches"]) == (4, 3, 3), o
assert (o["layers_unoptimized"], o["layers"]) == (5, 4), o
assert o["fusions"] == [{"node": "conv1", "op_type": "quench.FusedConv", "absorbed": ["conv1", "relu1"]}], o["fusions"]
assert [p["rewrites"] for p in o["passes"] if p["pass"] == "fold_activations"] == [1, 0], o["passes"]
' "$work/out"
fi
if run_cli 0 inspect "$cnn" --optimized; then
  grep -q "launches    3 per inference, optimized (4 unoptimized" "$work/out" || fail "inspect --optimized launches: $(cat "$work/out")"
  grep -q "quench.FusedConv conv1 <- conv1, relu1" "$work/out" || fail "inspect --optimized fused nodes"
fi
expect_error 2 "unknown option '--optimized'" run "$cnn" --optimized

# --- run ------------------------------------------------------------------------------------
if run_cli 0 run "$cnn" --json --batch 2 --iterations 7 --warmup 2 --seed 5 --save-outputs "$work/saved"; then
  cp "$work/out" "$work/run1.json"
  check_py '
r = json.load(open(sys.argv[1]))
assert r["backend"] == "cpu" and r["precision"] == "fp32" and r["batch"] == 2 and r["seed"] == 5
assert r["device"].startswith("cpu: ")
L = r["latency_ms"]
assert L["count"] == 7 and r["iterations"] == 7 and r["warmup"] == 2
assert 0 < L["min"] <= L["p50"] <= L["p90"] <= L["p99"] <= L["max"], L
assert L["min"] <= L["mean"] <= L["max"] and L["stddev"] >= 0
assert abs(L["p99_over_p50"] - L["p99"] / L["p50"]) < 1e-9
assert abs(r["throughput"]["inferences_per_s"] - 2 * 1000 / L["mean"]) < 1e-6 * r["throughput"]["inferences_per_s"]
(o,) = r["outputs"]
assert o["name"] == "logits/out:0" and o["shape"] == [2, 5] and o["dtype"] == "float32"
a = np.load(o["saved"])
assert o["saved"].endswith("/logits_out_0.npy"), o["saved"]
assert a.shape == (2, 5) and a.dtype == np.float32, (a.shape, a.dtype)
assert np.allclose(a.ravel()[:5], o["first"], rtol=0, atol=0)
assert abs(a.min() - o["min"]) == 0 and abs(a.max() - o["max"]) == 0 and abs(a.mean() - o["mean"]) < 1e-6
' "$work/out"
fi
# Same seed, same outputs; another seed, other outputs.
if run_cli 0 run "$cnn" --json --batch 2 --iterations 1 --warmup 0 --seed 5; then
  check_py 'a, b = (json.load(open(f))["outputs"][0]["first"] for f in sys.argv[1:]); assert a == b, (a, b)' \
    "$work/run1.json" "$work/out"
fi
if run_cli 0 run "$cnn" --json --batch 2 --iterations 1 --warmup 0 --seed 6; then
  check_py 'a, b = (json.load(open(f))["outputs"][0]["first"] for f in sys.argv[1:]); assert a != b, (a, b)' \
    "$work/run1.json" "$work/out"
fi
run_cli 0 run "$cnn" --iterations 3 && grep -q "p99/p50" "$work/out" && grep -q "^device      cpu: " "$work/out" &&
  grep -q "^batch       1$" "$work/out" && grep -q "inferences/s" "$work/out" || fail "run text report: $(cat "$work/out")"

# --cuda-graph on|off: the cpu backend accepts and ignores it (its report says no graphs ran),
# giving the same outputs; any other value is a usage error.
if run_cli 0 run "$cnn" --json --batch 2 --iterations 1 --warmup 0 --seed 5 --cuda-graph off; then
  check_py '
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert b["cuda_graph"] is False and a["cuda_graph"] is False, (a["cuda_graph"], b["cuda_graph"])
assert a["outputs"][0]["first"] == b["outputs"][0]["first"]
assert b["engine"]["context_ms"] >= 0, b["engine"]
' "$work/run1.json" "$work/out"
fi
run_cli 0 run "$cnn" --iterations 1 --cuda-graph=on && grep -q "^context     created in " "$work/out" ||
  fail "run --cuda-graph=on text report: $(cat "$work/out")"
expect_error 2 "--cuda-graph is on or off, not 'maybe'" run "$cnn" --cuda-graph maybe
# --streams N: 1..16, accepted by every command that builds; the cpu backend ignores it.
run_cli 0 run "$cnn" --iterations 1 --warmup 0 --streams 4 || fail "run --streams 4 on the cpu backend"
expect_error 2 "--streams wants an integer in 1..16, got '17'" run "$cnn" --streams 17
expect_error 2 "--streams wants an integer in 1..16, got '0'" build "$cnn" -o "$work/x.qplan" --streams 0
run_cli 0 help build && grep -q -- "--streams N" "$work/out" || fail "help build: --streams"
expect_error 2 "option --cuda-graph needs a value" run "$cnn" --cuda-graph
expect_error 2 "unknown option '--cuda-graph'" inspect "$cnn" --cuda-graph off
run_cli 0 help run && grep -q -- "--cuda-graph on|off" "$work/out" || fail "help run: --cuda-graph"

# --input: the engine's output equals numpy's computation of the same model on the same input;
# the batch (3) comes from the file.
"$py" - "$work" <<'EOF' || fail "writing input.npy"
import sys, numpy as np
rng = np.random.default_rng(1)
np.save(sys.argv[1] + "/in.npy", rng.standard_normal((3, 3, 8, 8)).astype(np.float32))
np.save(sys.argv[1] + "/in64.npy", rng.standard_normal((3, 3, 8, 8)))  # float64: converted
np.save(sys.argv[1] + "/bad_shape.npy", np.zeros((3, 3, 8, 9), np.float32))
np.save(sys.argv[1] + "/ints.npy", np.zeros((1, 3, 8, 8), np.int32))
np.save(sys.argv[1] + "/fortran.npy", np.asfortranarray(np.zeros((3, 4), np.float32)))  # written fortran_order True
EOF
reference='
import onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[3])
W = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
x = np.load(sys.argv[2]).astype(np.float32).astype(np.float64)
xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
conv = np.zeros((x.shape[0], 4, 8, 8))
for i in range(3):
  for j in range(3):
    conv += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 8, j:j + 8], W["w1"][:, :, i, j])
conv += W["b1"][None, :, None, None]
f = np.maximum(conv, 0).mean(axis=(2, 3))
ref = f @ W["w2"].T + W["b2"]
r = json.load(open(sys.argv[1]))
assert r["batch"] == 3 and r["inputs"][0]["source"] == sys.argv[2], r["inputs"]
got = np.load(r["outputs"][0]["saved"])
assert got.shape == (3, 5), got.shape
err = np.abs(got - ref).max()
assert err < 1e-5, err
'
if "$py" -c "import onnx" 2>/dev/null; then
  if run_cli 0 run "$cnn" --json --input "x=$work/in.npy" --iterations 1 --save-outputs "$work/ref"; then
    check_py "$reference" "$work/out" "$work/in.npy" "$cnn"
  fi
  if run_cli 0 run "$cnn" --json --input "x=$work/in64.npy" --iterations 1 --save-outputs "$work/ref64"; then
    grep -q "converted from float64 to float32" "$work/err" || fail "float64 input: no conversion note"
    check_py "$reference" "$work/out" "$work/in64.npy" "$cnn"
  fi
else
  echo "note: python3-onnx is not installed: the numpy re-computation of tiny_cnn is skipped" >&2
fi

# Dynamic dims: --shape gives them; int64 indices are drawn in range for the 10-row table.
expect_error 1 "'x' has unknown dim 2 ('L')" run "$dyn"
if run_cli 0 run "$dyn" --shape x=2x4x3 --json --iterations 2 --save-outputs "$work/dyn"; then
  check_py '
r = json.load(open(sys.argv[1]))
outs = {o["name"]: o for o in r["outputs"]}
a = outs["abs \"q\"\\\t\u00e9"]
assert a["shape"] == [2, 4, 3] and a["min"] >= 0 and a["max"] <= 1, a
assert a["saved"].endswith("/abs__q_____.npy"), a["saved"]
g = np.load(outs["gathered"]["saved"])
assert g.shape == (2, 3, 2)
assert (g[..., 1] == g[..., 0] + 1).all() and (g[..., 0] % 2 == 0).all() and g.min() >= 0 and g.max() <= 19, g
assert [i["dtype"] for i in r["inputs"]] == ["float32", "int64"]
' "$work/out"
fi

# A tensor name that is not valid UTF-8 (bytes patched into the file; the protobuf lengths
# stay the same) still gives valid JSON, with U+FFFD in its place.
"$py" -c '
import sys
b = open(sys.argv[1], "rb").read()
assert b.count(b"gathered") >= 2
open(sys.argv[2], "wb").write(b.replace(b"gathered", b"gath\xffred"))' "$dyn" "$work/bad_utf8.onnx" || fail "patching a model"
if run_cli 0 run "$work/bad_utf8.onnx" --shape x=1x4x2 --json --iterations 1 --save-outputs "$work/utf8"; then
  check_py '
r = json.load(open(sys.argv[1]))
names = [o["name"] for o in r["outputs"]]
assert "gath\ufffdred" in names, names
assert any(o["saved"].endswith("/gath_red.npy") for o in r["outputs"])
' "$work/out"
fi

# --- build and plan files -------------------------------------------------------------------
# A plan built for batches 1..3, run at batch 2 from given inputs, gives exactly what running
# the model itself at batch 2 gives; running it reports the plan as the engine's source.
"$py" -c 'import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(5).uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32))' "$work/x2.npy"
if run_cli 0 build "$cnn" -o "$work/cnn.qplan" --batch 3 --json; then
  check_py 'r = json.load(open(sys.argv[1])); assert r["command"] == "build" and r["max_batch"] == 3, r
assert r["plan_bytes"] > 0 and r["load_ms"] >= 0, r
m = r["memory"]; assert m["lower_bound_bytes"] <= m["arena_bytes"] <= m["naive_bytes"], m' "$work/out"
fi
run_cli 0 build "$cnn" -o "$work/cnn_text.qplan" && grep -q "batches 1..1" "$work/out" || fail "build text report"
if run_cli 0 run "$work/cnn.qplan" --batch 2 --input "x=$work/x2.npy" --save-outputs "$work/from_plan" --json --iterations 2; then
  check_py 'r = json.load(open(sys.argv[1])); assert r["engine"]["source"] == "plan" and r["batch"] == 2, r' "$work/out"
fi
if run_cli 0 run "$cnn" --batch 2 --input "x=$work/x2.npy" --save-outputs "$work/from_model" --iterations 1; then
  check_py 'import glob, os
names = sorted(os.path.basename(f) for f in glob.glob(sys.argv[1] + "/*.npy"))
assert names, "no outputs saved"
for n in names:
    a, b = np.load(sys.argv[1] + "/" + n), np.load(sys.argv[2] + "/" + n)
    assert a.shape[0] == 2 and a.dtype == b.dtype and np.array_equal(a, b), n' "$work/from_plan" "$work/from_model"
fi
expect_error 2 "larger than the plan's max batch 3" run "$work/cnn.qplan" --batch 4
expect_error 2 "does not apply to a plan file" run "$work/cnn.qplan" --shape x=1x3x8x8
expect_error 2 "no plan file given" build "$cnn"
expect_error 2 "already a plan file" build "$work/cnn.qplan" -o "$work/again.qplan"
expect_error 1 "cannot open" build "$cnn" -o "$work/no/such/dir/x.qplan"
head -c 1000 "$work/cnn.qplan" >"$work/cut.qplan"
expect_error 1 "truncated" run "$work/cut.qplan"

# --- profile --------------------------------------------------------------------------------
run_cli 0 help profile && grep -q -- "--trace FILE" "$work/out" && grep -q -- "--top N" "$work/out" || fail "help profile"
if run_cli 0 profile "$cnn" --iterations 5 --warmup 1 --top 3; then
  grep -Eq "top 3 of [45] layers by time" "$work/out" || fail "profile table header: $(cat "$work/out")"
  grep -Eq "\([12] more layers\)" "$work/out" || fail "profile table rest line"
  grep -q "sum of layers .* of the whole-model median" "$work/out" || fail "profile totals line"
fi
# The trace: valid JSON, one complete slice per layer of the report (the optimizer's graph), in
# plan order, one after another; fusion keeps the model's 14637 FLOPs.
if run_cli 0 profile "$cnn" --iterations 5 --warmup 1 --json --trace "$work/trace.json"; then
  check_py '
r = json.load(open(sys.argv[1]))
t = json.load(open(sys.argv[2]))
ev = t["traceEvents"]
slices = [e for e in ev if e["ph"] == "X"]
assert [e["name"] for e in slices] == [l["name"] for l in r["layers"]], ([e["name"] for e in slices], r["layers"])
assert [e["args"]["flops"] for e in slices] == [l["flops"] for l in r["layers"]]
assert sum(l["flops"] for l in r["layers"]) == r["total_flops"] == 14637, r["total_flops"]
assert all(e["cat"] == "layer" and e["dur"] > 0 and e["ts"] >= 0 for e in slices), slices
assert len({(e["pid"], e["tid"]) for e in slices}) == 1
for a, b in zip(slices, slices[1:]):
    assert a["ts"] + a["dur"] <= b["ts"] + 1e-6, (a, b)
assert {e["name"] for e in ev if e["ph"] == "M"} == {"process_name", "thread_name"}
' "$work/out" "$work/trace.json"
fi
# Hand counts at batch 2 (see inspect above), the nodes as written; conv bytes: x 384 + w 108 +
# b 4 + y 512 floats.
if run_cli 0 profile "$cnn" --json --batch 2 --iterations 3 --warmup 0 --no-optimize; then
  check_py '
r = json.load(open(sys.argv[1]))
assert r["command"] == "profile" and r["batch"] == 2 and r["iterations"] == 3 and r["warmup"] == 0
assert r["model_ms"]["count"] == 3 and r["model_ms"]["p50"] > 0
L = r["layers"]
assert [l["flops"] for l in L] == [2 * 14080, 2 * 256, 2 * 256, 0, 2 * 45], [l["flops"] for l in L]
assert L[0]["bytes"] == 4 * (384 + 108 + 4 + 512) and L[0]["weight_bytes"] == 4 * 112, L[0]
assert r["total_flops"] == 2 * 14637
assert abs(sum(l["share"] for l in L) - 1) < 1e-9
assert abs(sum(l["ms"] for l in L) - r["layer_sum_ms"]) < 1e-9 * r["layer_sum_ms"] + 1e-12
assert all(l["bound"] in ("memory", "compute", "overhead") for l in L)
assert all(l["min_ms"] <= l["ms"] <= l["max_ms"] and l["min_ms"] <= l["median_ms"] <= l["max_ms"] for l in L)
c = r["ceilings"]
assert c["bytes_per_s"] > 0 and c["flop_per_s"] > 0 and c["overhead_s"] > 0
' "$work/out"
fi
# The roofline plot needs matplotlib (scripts/setup.sh installs python3-matplotlib).
if "$py" -c "import matplotlib" 2>/dev/null; then
  if run_cli 0 profile "$cnn" --iterations 2 --plot "$work/roofline.png"; then
    check_py 'assert open(sys.argv[1], "rb").read(8) == b"\x89PNG\r\n\x1a\n"' "$work/roofline.png"
  fi
else
  echo "cli_test: SKIP the roofline plot: $py has no matplotlib"
fi
expect_error 2 "--top wants an integer >= 1" profile "$cnn" --top 0
expect_error 2 "unknown option '--input'" profile "$cnn" --input "x=$work/in.npy"
expect_error 2 "unknown option '--top'" run "$cnn" --top 3
expect_error 1 "--trace: cannot write" profile "$cnn" --trace "$work/no_such_dir/trace.json"
QUENCH_ROOFLINE_SCRIPT="$work/no_such_script.py" expect_error 1 "cannot find the plotting script" profile "$cnn" --plot "$work/r.png"
expect_error 1 "Gemm node 'fc'" profile "$cnn" --backend cuda

# --- serve-bench ----------------------------------------------------------------------------
# A short closed-loop load on the dynamic-batch model; the numbers must agree with each other.
run_cli 0 help serve-bench && grep -q -- "--clients N" "$work/out" && grep -q -- "--preferred LIST" "$work/out" ||
  fail "help serve-bench"
run_cli 0 --help && grep -q "serve-bench" "$work/out" || fail "--help lists serve-bench"
if run_cli 0 serve-bench "$dyn" --shape x=4x4x3 --batch 4 --clients 8 --workers 1 --seconds 0.3 --warmup-seconds 0.1 --json; then
  check_py '
r = json.load(open(sys.argv[1]))
assert r["command"] == "serve-bench" and r["max_batch"] == 4 and r["clients"] == 8 and r["workers"] == 1, r
assert r["max_delay_us"] == 2000 and r["seconds"] == 0.3 and "note" not in r, r
c = r["compute_us"]
assert c["batch"] == 4 and c["runs"] == 20 and 0 < c["min"] <= c["median"] <= c["max"], c
b, u = r["phases"]["batched"], r["phases"]["unbatched"]
assert (b["max_batch"], b["max_delay_us"], u["max_batch"], u["max_delay_us"]) == (4, 2000, 1, 0), (b, u)
for p in (b, u):
    assert p["requests"] > 0 and p["failures"] == 0 and p["throughput_per_s"] > 0, p
    assert abs(p["throughput_per_s"] - p["requests"] / 0.3) < 1e-6 * p["throughput_per_s"], p
    L = p["latency_us"]
    assert L["count"] > 0 and 0 < L["min"] <= L["p50"] <= L["p90"] <= L["p99"] <= L["max"], L
    h = p["batch_size_histogram"]
    assert len(h) == p["max_batch"] + 1 and h[0] == 0 and sum(h) == p["batches"] > 0, p
    assert abs(p["mean_batch_size"] - sum(k * n for k, n in enumerate(h)) / sum(h)) < 1e-9, p
    assert p["queue_wait_us"]["p50"] <= p["queue_wait_us"]["p99"], p
assert 1 <= b["mean_batch_size"] <= 4 and u["mean_batch_size"] == 1, (b["mean_batch_size"], u["mean_batch_size"])
assert abs(r["throughput_ratio"] - b["throughput_per_s"] / u["throughput_per_s"]) < 1e-9 * r["throughput_ratio"], r
assert abs(r["bound_us"] - (2000 + c["median"])) < 1e-6 and r["batched_p99_us"] == b["latency_us"]["p99"], r
assert r["bound_met"] == (b["latency_us"]["p99"] <= r["bound_us"]), r
' "$work/out"
fi
if run_cli 0 serve-bench "$dyn" --shape x=2x4x3 --batch 2 --clients 4 --seconds 0.1 --warmup-seconds 0 --preferred 2; then
  grep -Eq "^ratio       [0-9.]+x \(batched [0-9.]+ / unbatched [0-9.]+ inferences/s\)$" "$work/out" ||
    fail "serve-bench text ratio line: $(cat "$work/out")"
  grep -Eq "^bound       .* us = delay 2000 us \+ one batch's compute .*: (met|not met)$" "$work/out" ||
    fail "serve-bench text bound line"
  grep -q "^batched (max batch 2, delay 2000 us, preferred 2, 2 workers)$" "$work/out" || fail "serve-bench text phase header"
fi
# A plan whose max batch is 1 (and, with python3-onnx, a model whose batch is fixed at 1) still
# runs, saying that batching cannot help; asking for a larger batch of it is a usage error.
if run_cli 0 build "$cnn" -o "$work/b1.qplan"; then
  run_cli 0 serve-bench "$work/b1.qplan" --clients 2 --workers 1 --seconds 0.1 --warmup-seconds 0 &&
    grep -q "^note        the plan's max batch is 1: batching cannot help" "$work/out" ||
    fail "serve-bench on a batch-1 plan: $(cat "$work/out")"
  expect_error 2 "larger than the plan's max batch 1" serve-bench "$work/b1.qplan" --batch 4
fi
if "$py" -c "import onnx" 2>/dev/null; then
  "$py" -c '
import onnx, sys
m = onnx.load(sys.argv[1])
for v in list(m.graph.input) + list(m.graph.output):
    d = v.type.tensor_type.shape.dim[0]
    d.Clear(); d.dim_value = 1
onnx.save(m, sys.argv[2])' "$cnn" "$work/fixed1.onnx" || fail "writing a fixed-batch model"
  if run_cli 0 serve-bench "$work/fixed1.onnx" --clients 2 --workers 1 --seconds 0.1 --warmup-seconds 0 --json; then
    check_py 'r = json.load(open(sys.argv[1]))
assert r["max_batch"] == 1 and "batch is fixed at 1" in r["note"], r
assert r["phases"]["batched"]["batch_size_histogram"][0] == 0 and len(r["phases"]["batched"]["batch_size_histogram"]) == 2, r' "$work/out"
  fi
  expect_error 2 "has a fixed batch of 1, so batch 4 cannot be used" serve-bench "$work/fixed1.onnx" --batch 4
  # An output without the batch as its leading dim: the Batcher's own error.
  "$py" -c '
import onnx, sys
from onnx import helper, TensorProto
n = helper.make_node("ReduceSum", ["x"], ["y"], keepdims=0, axes=[0])
g = helper.make_graph([n], "sum_over_batch", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
m.ir_version = 8
onnx.save(m, sys.argv[1])' "$work/sum_batch.onnx" || fail "writing a model whose output drops the batch"
  expect_error 1 "output 'y' is [3]: the batcher needs the batch (8) as its leading dim" serve-bench "$work/sum_batch.onnx"
else
  echo "note: python3-onnx is not installed: serve-bench on fixed-batch and batch-dropping models is skipped" >&2
fi
expect_error 2 "--clients wants an integer in 1..4096, got '0'" serve-bench "$cnn" --clients 0
expect_error 2 "--clients wants an integer" serve-bench "$cnn" --clients -2
expect_error 2 "--workers wants an integer in 1..1024, got '0'" serve-bench "$cnn" --workers 0
expect_error 2 "--seconds wants a number of seconds > 0" serve-bench "$cnn" --seconds 0
expect_error 2 "--warmup-seconds wants a number of seconds >= 0" serve-bench "$cnn" --warmup-seconds -1
expect_error 2 "--preferred 9 is outside 1..4 (the max batch)" serve-bench "$cnn" --batch 4 --preferred 2,9
expect_error 2 "--preferred wants batch sizes >= 1" serve-bench "$cnn" --preferred 2,x
expect_error 2 "--max-delay-us wants microseconds" serve-bench "$cnn" --max-delay-us -1
expect_error 2 "unknown option '--iterations'" serve-bench "$cnn" --iterations 3
expect_error 2 "unknown option '--clients'" run "$cnn" --clients 3
expect_error 2 "no model given" serve-bench --clients 3
expect_error 1 "cannot load" serve-bench "$work/no_such_model.onnx"

# --- errors ---------------------------------------------------------------------------------
expect_error 2 "unknown option '--frobnicate'" run "$cnn" --frobnicate
expect_error 2 "unknown option '--iterations'" inspect "$cnn" --iterations 3
expect_error 2 "no model given" run --iterations 3
expect_error 2 "unexpected argument" run "$cnn" "$cnn"
expect_error 2 "needs a value" run "$cnn" --batch
expect_error 2 "--batch wants an integer >= 1" run "$cnn" --batch 0
expect_error 2 "--iterations wants an integer >= 1" run "$cnn" --iterations 1e3
expect_error 2 "--backend is cpu or cuda" run "$cnn" --backend tpu
expect_error 2 "--precision is fp32, fp16 or int8" run "$cnn" --precision fp64
expect_error 2 "dims must be positive integers" run "$cnn" --shape x=1x3xfoox8
expect_error 2 "dims must be positive integers" run "$cnn" --shape x=1x0x8x8
expect_error 2 "--shape wants NAME=DIMS" run "$cnn" --shape 1x3x8x8
expect_error 2 "not a model input (inputs: 'x')" run "$cnn" --shape y=1x3x8x8
expect_error 2 "not a model input" run "$cnn" --input "y=$work/in.npy"
expect_error 2 "but the batch is 2" run "$cnn" --batch 2 --shape x=1x3x8x8
expect_error 1 "cannot load" run "$work/no_such_model.onnx"
head -c 3000 /dev/urandom >"$work/garbage.onnx"
expect_error 1 "cannot load" run "$work/garbage.onnx"
expect_error 1 "cannot load" inspect "$work/garbage.onnx"
expect_error 1 "Gemm node 'fc'" run "$cnn" --backend cuda
expect_error 1 "runs fp32 and int8" run "$cnn" --precision fp16
expect_error 1 "has shape [3,3,8,9] but the engine input is [3,3,8,8]" run "$cnn" --input "x=$work/bad_shape.npy" --batch 3
expect_error 1 "holds int32 but the model input is float32" run "$cnn" --input "x=$work/ints.npy"
expect_error 1 "not found" run "$cnn" --input "x=$work/missing.npy"
expect_error 1 "Fortran" run "$cnn" --input "x=$work/fortran.npy"
touch "$work/file"
expect_error 1 "--save-outputs: cannot create directory" run "$cnn" --save-outputs "$work/file/sub"
# An error in --json mode still goes to stderr as one line, with nothing on stdout.
expect_error 1 "Gemm node 'fc'" run "$cnn" --backend cuda --json

# --- INT8 and validate -----------------------------------------------------------------------
mkdir -p "$work/calib" "$work/eval"
"$py" -c "import numpy as np, sys
for k in range(12):
    np.save(f'{sys.argv[1]}/{k:02d}.npy', np.random.default_rng(k).uniform(-1, 1, (3, 8, 8)).astype(np.float32))
    np.save(f'{sys.argv[2]}/{k:02d}.npy', np.random.default_rng(100 + k).uniform(-1, 1, (3, 8, 8)).astype(np.float32))
" "$work/calib" "$work/eval" || fail "writing calibration samples"
if run_cli 0 validate "$cnn" --inputs "$work/eval" --json; then
  check_py 'r = json.load(open(sys.argv[1]))
assert r["samples"] == 12 and r["precision"] == "fp32", r
assert r["error"] < 1e-6 and r["first_failing"] == -1, r["error"]
assert all(l["rel_l2"] < 1e-5 for l in r["layers"] if l["rel_l2"] >= 0), r["layers"]' "$work/out"
fi
if run_cli 0 validate "$cnn" --precision int8 --calib "$work/calib" --inputs "$work/eval" --json; then
  check_py 'r = json.load(open(sys.argv[1]))
assert r["precision"] == "int8" and r["int8"]["calibration_samples"] == 12, r
assert [l["precision"] for l in r["int8"]["layers"]] == ["int8", "int8"], r["int8"]
assert 0 < r["error"] < 0.1, r["error"]
assert any(l["op"] == "Int8Conv" for l in r["layers"]), r["layers"]' "$work/out"
fi
if run_cli 0 build "$cnn" --precision int8 --calib "$work/calib" --calib-method percentile --save-calib "$work/t.txt" -o "$work/i8.qplan"; then
  head -1 "$work/t.txt" | grep -q "quench-calibration 1" || fail "build --save-calib: $(head -3 "$work/t.txt")"
  grep -q "^method percentile" "$work/t.txt" || fail "build --save-calib method"
  grep -q "int8        2 of 2 matrix products in INT8" "$work/out" || fail "build int8 report: $(cat "$work/out")"
  run_cli 0 run "$work/i8.qplan" --json && check_py 'r = json.load(open(sys.argv[1])); assert r["precision"] == "int8", r' "$work/out"
  run_cli 0 run "$cnn" --precision int8 --calib-table "$work/t.txt" --iterations 2 || fail "run with --calib-table"
fi
# --backend cuda --precision int8: the CPU backend's INT8 build, then the CUDA backend (docs/cuda-backend.md).
# Without a GPU the build gets as far as the device, every INT8 node prepared for its kernels.
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  run_cli 0 run "$cnn" --backend cuda --precision int8 --calib "$work/calib" --iterations 2 ||
    fail "run --backend cuda --precision int8"
else
  # (stderr also has the calibration's progress line)
  if run_cli 1 run "$cnn" --backend cuda --precision int8 --calib "$work/calib" --iterations 2; then
    grep -qF "no CUDA device" "$work/err" || fail "run --backend cuda --precision int8: $(cat "$work/err")"
    grep -q "calibration: 12/12 samples" "$work/err" || fail "run --backend cuda --precision int8 calibrated: $(cat "$work/err")"
  fi
fi
expect_error 2 "no sample inputs" validate "$cnn"
expect_error 2 "need --precision int8" build "$cnn" --calib "$work/calib" -o "$work/x.qplan"
expect_error 1 "needs activation scales" run "$cnn" --precision int8
expect_error 2 "--int8-budget wants" validate "$cnn" --precision int8 --calib "$work/calib" --int8-budget -1
expect_error 1 "cannot build the engine" validate "$cnn" --precision int8 --calib "$work/missing"

if ((failures)); then
  echo "cli_test: $failures failure(s)" >&2
  exit 1
fi
echo "cli_test: all checks passed"
