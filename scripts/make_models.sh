#!/usr/bin/env bash
# Generates the models the model tests and benchmarks use, into .models/ (git-ignored):
#   .models/zoo/   seeded random-weight models with real architectures, exported by Debian's
#                  PyTorch (scripts/model_zoo.py), with PyTorch's reference outputs
#   .models/real/  the PP-OCR det/cls/rec models from the rapidocr-onnxruntime wheel, with
#                  ONNX Runtime's reference outputs (scripts/real_models.py, in .venv)
# Idempotent: a model whose stamp matches its generating script is not made again.
# Needs scripts/setup.sh to have run (Debian's python3-torch/torchvision/onnx, and .venv).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
start=$SECONDS

# Debian's interpreter explicitly: a python3 earlier on PATH (pyenv, a venv) lacks Debian's torch.
/usr/bin/python3 scripts/model_zoo.py --out "$here/.models/zoo" "$@"
echo "make_models: zoo ready ($((SECONDS - start)) s)"

if [[ -x "$here/.venv/bin/python" ]]; then
  "$here/.venv/bin/python" scripts/real_models.py --out "$here/.models/real"
  echo "make_models: real models ready ($((SECONDS - start)) s)"
  # Rendered text lines for the INT8 accuracy check of the PP-OCR classifier (docs/int8.md);
  # the detector's pages (2 GB) are made only by a study run: ocr_samples.py --only det.
  "$here/.venv/bin/python" scripts/ocr_samples.py --only cls --out "$here/.models/study"
else
  echo "make_models: no .venv (run scripts/setup.sh): real models not made" >&2
fi
