#!/usr/bin/env python3
"""Writes docs/memory.md: the memory planner's three numbers for the zoo models, from
`quench run --json` (CPU backend, FP32, batch 1 and 8). Usage: write_memory_doc.py QUENCH_BINARY"""
import datetime, json, os, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
quench = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build/release/examples/quench")
# The zoo exports a fixed batch of 1; the dynamic-batch MobileNetV2 shows how the plan scales.
models = [("mobilenetv2", 1), ("mobilenetv3_large", 1), ("efficientnet_b0", 1), ("resnet50", 1), ("yolo_style", 1),
          ("mobilenetv2_dynamic", 1), ("mobilenetv2_dynamic", 8)]
commit = subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
rows, worst = [], 0.0
for name, batch in models:
    path = os.path.join(root, ".models/zoo", name + ".onnx")
    if not os.path.exists(path):
        sys.exit(f"write_memory_doc: {path} is missing; run scripts/make_models.sh first")
    out = subprocess.run([quench, "run", path, "--batch", str(batch), "--iterations", "1", "--warmup", "0", "--json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"write_memory_doc: quench run {name} failed: {out.stderr.strip()}")
    m = json.loads(out.stdout)["memory"]
    ratio = m["arena_bytes"] / m["lower_bound_bytes"]
    worst = max(worst, ratio)
    rows.append((name, batch, m, ratio))

mib = 1024 * 1024
lines = [
    "# Activation memory planned ahead of time",
    "",
    f"Written by `scripts/write_memory_doc.py` at commit `{commit}{'+changes' if dirty else ''}` on "
    f"{datetime.date.today().isoformat()}; the plan is device independent (computed on the CPU, FP32 activations).",
    "",
    "`arena` is one context's activation arena; `lower bound` the largest sum of live bytes at any single step "
    "(no placement can use less); `naive` every tensor in its own 256-byte-aligned buffer; `weights` are shared by all contexts.",
    "",
    "| model | batch | arena MiB | lower bound MiB | naive MiB | arena / lower bound | naive / arena | weights MiB |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]
for name, batch, m, ratio in rows:
    lines.append(f"| {name} | {batch} | {m['arena_bytes']/mib:.2f} | {m['lower_bound_bytes']/mib:.2f} | "
                 f"{m['naive_bytes']/mib:.2f} | {ratio:.3f} | {m['naive_bytes']/m['arena_bytes']:.1f} | {m['weights_bytes']/mib:.2f} |")
lines += ["", f"Largest arena / lower bound: {worst:.3f} (target: at most 1.10)."]
with open(os.path.join(root, "docs/memory.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines[-len(rows) - 3:]))
sys.exit(0 if worst <= 1.10 else 1)
