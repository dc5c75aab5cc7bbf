#!/usr/bin/env bash
# The quench demo: sets up, builds the `quench` tool, makes the default model (MobileNetV2 with
# seeded random weights, from the model zoo) and shows `quench inspect` and `quench run` on it,
# on the GPU when there is one and the CUDA backend is built, otherwise on the CPU reference
# backend, saying which and why. Where the zoo also stored PyTorch's output for its reference
# input, the run is fed that input and its output is compared with PyTorch's.
#
# Environment: QUENCH_BUILD_DIR (default build/release), QUENCH_JOBS (default: all cores),
# QUENCH_DEMO_ITERATIONS / QUENCH_DEMO_WARMUP (default 200/20 on the GPU, 10/2 on the CPU),
# QUENCH_DEMO_SKIP_SETUP=1 to skip scripts/setup.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
build="${QUENCH_BUILD_DIR:-build/release}"
jobs="${QUENCH_JOBS:-$(nproc)}"
py=/usr/bin/python3  # Debian's interpreter: it has numpy, onnx and torch
start=$SECONDS

step() { echo; echo "== $* ($((SECONDS - start)) s)"; }

if [[ "${QUENCH_DEMO_SKIP_SETUP:-0}" != 1 ]]; then
  step "setup"
  scripts/setup.sh
fi
export PATH="/usr/local/cuda/bin:$PATH"

step "build ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" -j "$jobs" quench_cli
quench="$build/examples/quench"

step "model"
model="$here/.models/zoo/mobilenetv2.onnx"
reference_in="$here/.models/zoo/mobilenetv2.input.npy"
reference_out="$here/.models/zoo/mobilenetv2.torch.npy"
if [[ -x scripts/make_models.sh ]]; then
  scripts/make_models.sh mobilenetv2 || echo "demo: make_models.sh failed; falling back to a small generated model" >&2
fi
if [[ ! -f $model ]]; then
  # No zoo: a small MobileNet-like CNN (stem, depthwise-separable blocks, classifier) made
  # with onnx.helper and seeded random weights.
  model="$here/.models/demo/small_cnn.onnx"
  reference_in=""
  mkdir -p "$(dirname "$model")"
  echo "demo: scripts/make_models.sh did not give MobileNetV2; using a generated small CNN ($model)"
  "$py" - "$model" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)
inits, nodes = [], []

def weight(name, shape, scale):
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
    return name

def conv_bn_relu(x, name, cin, cout, k, stride, group=1):
    w = weight(name + ".w", (cout, cin // group, k, k), (2.0 / (cin // group * k * k)) ** 0.5)
    nodes.append(helper.make_node("Conv", [x, w], [name + ".conv"], name=name + ".conv", group=group,
                                  strides=[stride, stride], pads=[k // 2] * 4))
    # Inference-mode BatchNormalization with a scale near 1 and a positive variance.
    inits.append(numpy_helper.from_array((1 + 0.1 * rng.standard_normal(cout)).astype(np.float32), name + ".scale"))
    bias, mean = weight(name + ".bias", (cout,), 0.1), weight(name + ".mean", (cout,), 0.1)
    inits.append(numpy_helper.from_array((0.5 + np.abs(rng.standard_normal(cout))).astype(np.float32), name + ".var"))
    nodes.append(helper.make_node("BatchNormalization", [name + ".conv", name + ".scale", bias, mean, name + ".var"],
                                  [name + ".bn"], name=name + ".bn"))
    nodes.append(helper.make_node("Relu", [name + ".bn"], [name + ".out"], name=name + ".relu"))
    return name + ".out"

x = conv_bn_relu("input", "stem", 3, 16, 3, 2)
c = 16
for i, (cout, stride) in enumerate([(24, 2), (32, 2), (64, 2), (96, 1)]):
    x = conv_bn_relu(x, f"block{i}.dw", c, c, 3, stride, group=c)
    x = conv_bn_relu(x, f"block{i}.pw", c, cout, 1, 1)
    c = cout
nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"))
nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"))
nodes.append(helper.make_node("Gemm", ["flat", weight("fc.w", (10, c), 0.1), weight("fc.b", (10,), 0.1)], ["output"],
                              name="classifier", transB=1))
g = helper.make_graph(nodes, "small_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 128, 128])],
                      [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])], inits)
m = helper.make_model(g, producer_name="quench-demo", opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
EOF
fi
echo "demo: model $model"

step "quench inspect"
"$quench" inspect "$model"

step "choosing the backend"
backend=cpu
if command -v nvidia-smi >/dev/null && gpus="$(nvidia-smi -L 2>/dev/null)" && [[ -n $gpus ]]; then
  echo "demo: GPU found: $(head -n 1 <<<"$gpus")"
  # One short run tells whether this build has a CUDA backend; its error says why not.
  if probe="$("$quench" run "$model" --backend cuda --iterations 1 --warmup 0 2>&1 >/dev/null)"; then
    backend=cuda
    echo "demo: running on the GPU (--backend cuda)"
  else
    echo "demo: the CUDA backend cannot run here, so the CPU reference backend runs instead:"
    echo "      $probe"
  fi
else
  echo "demo: no GPU found (nvidia-smi -L lists none), so the CPU reference backend runs"
fi
if [[ $backend == cuda ]]; then
  iterations="${QUENCH_DEMO_ITERATIONS:-200}"; warmup="${QUENCH_DEMO_WARMUP:-20}"
else
  iterations="${QUENCH_DEMO_ITERATIONS:-10}"; warmup="${QUENCH_DEMO_WARMUP:-2}"
fi

step "quench run (--backend $backend)"
outdir="$(mktemp -d)"
trap 'rm -rf "$outdir"' EXIT
input_args=()
[[ -n $reference_in && -f $reference_in ]] && input_args=(--input "input=$reference_in")
"$quench" run "$model" --backend "$backend" --iterations "$iterations" --warmup "$warmup" \
  "${input_args[@]}" --save-outputs "$outdir"

if [[ -n $reference_in && -f $reference_out ]]; then
  step "output vs PyTorch"
  "$py" - "$outdir/output.npy" "$reference_out" <<'EOF'
import sys
import numpy as np
got, ref = np.load(sys.argv[1]).astype(np.float64), np.load(sys.argv[2]).astype(np.float64)
err = np.abs(got - ref).max()
print(f"demo: max |quench - PyTorch| = {err:.3g} (output range {ref.min():.3g} .. {ref.max():.3g}); "
      f"top-1 class {got.reshape(len(got), -1).argmax(1).tolist()} vs {ref.reshape(len(ref), -1).argmax(1).tolist()}")
EOF
fi
step "demo done in $((SECONDS - start)) s"
