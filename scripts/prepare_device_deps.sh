#!/usr/bin/env bash
# Run HERE (a Debian machine with libgtest-dev and libbenchmark-dev): copies GoogleTest's sources and
# Google Benchmark's headers, library and CMake config into .devdeps/, which travels with the
# working tree to a GPU machine that has neither and no network. scripts/gpu_check.sh uses it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dst="$here/.devdeps"
rm -rf "$dst"
mkdir -p "$dst"

# GoogleTest: Debian ships the sources; the build compiles them in-tree (QUENCH_GTEST_SOURCE_DIR).
[[ -f /usr/src/googletest/CMakeLists.txt ]] || { echo "prepare_device_deps: /usr/src/googletest missing (apt-get install libgtest-dev)" >&2; exit 1; }
cp -a /usr/src/googletest "$dst/googletest"

# Google Benchmark: the files of libbenchmark-dev plus the shared library they point at, under the
# same prefix layout, so that its benchmarkConfig.cmake (which locates everything relative to
# itself) works from .devdeps/benchmark.
dpkg -s libbenchmark-dev >/dev/null 2>&1 || { echo "prepare_device_deps: libbenchmark-dev missing" >&2; exit 1; }
bench="$dst/benchmark"
mkdir -p "$bench"
while read -r f; do
  [[ -f "$f" || -L "$f" ]] || continue
  case "$f" in
    /usr/include/*|/usr/lib/*) ;;
    *) continue ;;
  esac
  rel="${f#/usr/}"
  mkdir -p "$bench/$(dirname "$rel")"
  cp -a "$f" "$bench/$rel"
done < <(dpkg -L libbenchmark-dev)
# The versioned shared object the -dev symlink and the CMake targets name.
for so in /usr/lib/x86_64-linux-gnu/libbenchmark.so.*; do
  cp -a "$so" "$bench/lib/x86_64-linux-gnu/"
done
# The real models (PP-OCR, about 23 MB) for the whole-model GPU tests: the GPU machine cannot make
# them (they come from a PyPI wheel). The zoo (about 190 MB, over the carry limit) is generated
# there by gpu_check.sh when PyTorch and torchvision are present.
if [[ -d "$here/.models/real" ]]; then
  mkdir -p "$dst/models/real"
  cp -a "$here"/.models/real/*.onnx "$here"/.models/real/*.npy "$dst/models/real/"
fi
echo "prepare_device_deps: $(du -sh "$dst" | cut -f1) in $dst"
ls "$bench/lib/x86_64-linux-gnu" "$bench/lib/x86_64-linux-gnu/cmake/benchmark"
