#!/usr/bin/env python3
"""Writes docs/fusion.md: kernel launches per inference at batch 1, before and after the graph
optimizer, for every zoo and real model, from `quench inspect --optimized --json`.
Usage: write_fusion_doc.py QUENCH_BINARY"""
import datetime, glob, json, os, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
quench = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build/release/examples/quench")
# The targets (docs: issue 5): launches per inference at batch 1.
targets = {"mobilenetv2": 40, "resnet50": 60}


def npy_shape(path):
    """The shape in a .npy header (format 1.0-3.0), without numpy."""
    with open(path, "rb") as f:
        head = f.read(12)
        major = head[6]
        n = int.from_bytes(head[8:10] if major == 1 else head[8:12], "little")
        f.seek(10 if major == 1 else 12)
        header = f.read(n).decode("latin1")
    dims = header.split("'shape':")[1].split("(")[1].split(")")[0]
    return [int(d) for d in dims.replace(" ", "").split(",") if d]


def varint(b, i):
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field number, wire type, value) of one protobuf message; length-delimited values as bytes."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield num, wt, v


def runtime_inputs(onnx_path):
    """Names of the graph inputs that are no initializers (ModelProto.graph = 7; GraphProto
    input = 11, initializer = 5; ValueInfoProto.name = 1; TensorProto.name = 8)."""
    with open(onnx_path, "rb") as f:
        model = f.read()
    graph = next(v for num, wt, v in fields(model) if num == 7 and wt == 2)
    inputs, inits = [], set()
    for num, wt, v in fields(graph):
        if num == 11 and wt == 2:
            inputs += [x.decode() for n, w, x in fields(v) if n == 1 and w == 2]
        elif num == 5 and wt == 2:
            inits.update(x.decode() for n, w, x in fields(v) if n == 8 and w == 2)
    return [i for i in inputs if i not in inits]


def inspect(path, shape_args):
    out = subprocess.run([quench, "inspect", path, "--optimized", "--json", "--batch", "1"] + shape_args,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"write_fusion_doc: quench inspect {path} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


rows = []
for kind in ("zoo", "real"):
    for path in sorted(glob.glob(os.path.join(root, ".models", kind, "*.onnx"))):
        name = os.path.basename(path)[:-5]
        npy = path[:-5] + ".input.npy"
        shape_args = []
        if kind == "real" and os.path.exists(npy):
            # Real models leave spatial dims open; their recorded input gives them, at batch 1.
            dims = npy_shape(npy)
            dims[0] = 1
            shape_args = ["--shape", runtime_inputs(path)[0] + "=" + "x".join(str(d) for d in dims)]
        r = inspect(path, shape_args)
        o = r["optimization"]
        kinds = {}
        for f in o["fusions"]:
            kinds[f["op_type"]] = kinds.get(f["op_type"], 0) + 1
        # GPU kernels: an InvertedResidual step is two (expand, then the fused dw_pw), and each graph input and
        # output adds one boundary conversion.
        gpu = o["launches"] + kinds.get("quench.InvertedResidual", 0) + len(r["inputs"]) + len(r["outputs"])
        rows.append((kind, name, r["inputs"][0]["shape"], o, kinds, gpu))
if not rows:
    sys.exit("write_fusion_doc: no models in .models/zoo or .models/real; run scripts/make_models.sh first")

commit = subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                       text=True).stdout.strip()
lines = [
    "# Fusion: kernel launches per inference",
    "",
    f"Written by `scripts/write_fusion_doc.py` at commit `{commit}{'+changes' if dirty else ''}` on "
    f"{datetime.date.today().isoformat()}, from `quench inspect MODEL --optimized --json` at batch 1. The count is a "
    "property of the graph and the plan, not of a device: it is the same on any machine. The fused ops have CPU "
    "references today; their GPU kernels are what turns fewer launches into less time.",
    "",
    "A launch is one step of the execution plan that is neither elided (a Concat whose inputs were written straight "
    "into its output) nor a pure alias (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout without a mask: "
    "the output is the input's bytes, a view). A fused node is one step, hence one launch; constants folded at build "
    "time are no steps. (`ModelReport::launches` in include/quench/inspect.h states the rule.)",
    "",
    "| model | input | launches before | launches after | ratio | layers before → after | fused nodes | target | met |",
    "| --- | --- | ---: | ---: | ---: | --- | --- | ---: | --- |",
]
failed = []
for kind, name, shape, o, kinds, _ in rows:
    target = targets.get(name)
    met = "" if target is None else ("yes" if o["launches"] <= target else "**no**")
    if target is not None and o["launches"] > target:
        failed.append(name)
    fused = ", ".join(f"{n} {k.replace('quench.', '')}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    lines.append(f"| {kind}/{name} | {'x'.join(str(d) for d in shape)} | {o['launches_unoptimized']} | {o['launches']} | "
                 f"{o['launches_unoptimized'] / max(1, o['launches']):.1f} | {o['layers_unoptimized']} → {o['layers']} | "
                 f"{fused or '-'} | {'≤ ' + str(target) if target else '-'} | {met or '-'} |")
lines += [
    "",
    "Fused nodes are counted by their op: a `Conv` there is a Conv that absorbed a BatchNormalization or a per-channel Mul / Add; `FusedConv`, "
    "`DwPwConv` and `InvertedResidual` are the `quench` domain's fused ops (ops/fused_conv.cpp).",
    "",
    "## Targets",
    "",
]
for name, target in targets.items():
    got = [(o["launches"], gpu) for k, n, s, o, _, gpu in rows if n == name]
    if not got:
        lines.append(f"- {name}: model missing, not measured (target ≤ {target}).")
    else:
        state = "met" if got[0][0] <= target else "NOT met"
        lines.append(f"- {name}: {got[0][0]} launches at batch 1, target ≤ {target}: {state}. On the GPU "
                     f"{got[0][1]} kernels (below).")
lines += [
    "",
    "## Where the passes stop",
    "",
    "- Squeeze-and-excitation blocks (MobileNetV3, EfficientNet-B0) read the depthwise output twice (pool and scale), "
    "so their blocks stay separate FusedConvs plus the pool, the two small convs and the Mul; no InvertedResidual.",
    "- The PP-OCR models' written-out HardSwish (`x * Clip(x + 3, 0, 6) / 6`) and per-channel `Mul`/`Add` after a "
    "conv are recognized; what is left of them is the scalar `Mul`/`Add` *after* each activation (PP-LCNet's "
    "learnable affine), which the fused epilogue (residual, activation) cannot express, and in the recognizer "
    "the transformer blocks (MatMul + bias Add, LayerNorm written out, Softmax), which no pass fuses yet.",
    "- Fusion never broadcasts: a residual Add folds only when both operands have the same shape at batch 1, 2 and "
    "max_batch.",
    "",
    "## On the GPU",
    "",
    "- `DwPwConv` runs as one kernel, `kernels/fused/dw_pw`, when its `can_implement` accepts the node (C a multiple "
    "of 8, square 3x3 or 5x5 depthwise kernel, equal strides 1 or 2, no dilation); otherwise as its two stages "
    "(depthwise kernel, then the 1x1 convolution) with the intermediate in the arena workspace (ops/conv_gpu.cpp). "
    "The fused kernel is the GEMM's tensor-core main loop (kernels/common/mma_pipeline.cuh) with a new A-operand "
    "producer: for each K tile of 64 channels the block computes the depthwise outputs (bias, activation) of its 64 "
    "pixels straight into the A shared-memory tile, while the pointwise weight arrives by cp.async; the depthwise "
    "output never reaches device memory. It is rounded to float16 before the pointwise product, where the unfused "
    "sequence stores its intermediate tensor, with the same summation order as kernels/depthwise, so the fused result "
    "equals the unfused one up to the pointwise accumulation order (`DwPwTest` in quench_gpu_tests checks both).",
    "- `InvertedResidual` runs its expand 1x1 as before (output in the arena workspace), then its depthwise and "
    "project stages as one `dw_pw` launch when the kernel accepts them: two kernels instead of three, one "
    "intermediate stored instead of two. Every MobileNetV2 block qualifies (expanded channels 96 to 960, all "
    "multiples of 8).",
    "- The launch counts in the table count plan steps. On the GPU an `InvertedResidual` step is two kernels "
    "(expand, then `dw_pw`) and each graph input and output adds one boundary conversion kernel; the GPU kernel "
    "counts under \"Targets\" add those (host-device copies not counted).",
    "- **Not yet run on a GPU**: the fused kernel was written and compiled (sm_80, sm_90, no spills) on a machine "
    "without one; its tests skip there and its speed is a prediction (docs/perf-notes.md).",
]
with open(os.path.join(root, "docs/fusion.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines[8:8 + len(rows) + 2]))
sys.exit(1 if failed else 0)
