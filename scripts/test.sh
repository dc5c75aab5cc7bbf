#!/usr/bin/env bash
# Sets everything up and runs every test that this machine can run.
# No GPU needed: GPU tests report themselves as skipped. Sanitizer builds are part of the run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
start=$SECONDS
"$here/scripts/setup.sh"
export PATH="/usr/local/cuda/bin:$PATH"
jobs="$(nproc)"

step() { echo; echo "== $* ($((SECONDS - start)) s)"; }

step "release build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$jobs"

step "model zoo (generated once, cached in .models/)"
if [[ -x scripts/make_models.sh ]]; then scripts/make_models.sh; fi
# The model tests fail, rather than skip, when a model is missing.
export QUENCH_REQUIRE_MODELS=1

step "tests (release)"
# GPU tests are included: without a device they report themselves as skipped.
ctest --test-dir build/release --output-on-failure -j "$jobs"
# ctest shows only failing tests' output: repeat the conformance runner's summary line.
grep -h '^conformance: [0-9]* passed' build/release/Testing/Temporary/LastTest.log || true

step "memory plans (docs/memory.md; arena must stay within 1.10x of the lower bound)"
/usr/bin/python3 scripts/write_memory_doc.py build/release/examples/quench

step "kernel launches per inference (docs/fusion.md; MobileNetV2 <= 40, ResNet-50 <= 60)"
/usr/bin/python3 scripts/write_fusion_doc.py build/release/examples/quench

# The sanitizer builds link the release build's kernel library (device code is not
# instrumented, so compiling the kernels again would only cost time); ccache serves the
# host objects the two sanitizer builds share.
kernels_lib="$here/build/release/kernels/libquench_kernels.a"
# clang compiles the sanitizer builds' unoptimized host code about twice as fast as g++, and those
# two builds are the longest part of the run (docs/decisions.md); g++ when there is no clang.
sanitizer_cxx=()
if command -v clang++ >/dev/null; then sanitizer_cxx=(-DCMAKE_CXX_COMPILER=clang++); fi
cache=()
if command -v ccache >/dev/null; then
  export CCACHE_DIR="$here/build/ccache" CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1
  cache=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi

step "INT8 accuracy: PP-OCR classifier, 256 calibration / 200 evaluation images (top-1 agreement >= 99%)"
/usr/bin/python3 scripts/int8_study.py --quench build/release/examples/quench --check

step "sanitizer build: address,undefined"
# Only host code is instrumented; one CUDA architecture is enough to link.
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DQUENCH_SANITIZE=address,undefined \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DQUENCH_BUILD_BENCH=OFF -DQUENCH_BUILD_EXAMPLES=OFF \
  -DQUENCH_KERNELS_LIBRARY="$kernels_lib" "${sanitizer_cxx[@]}" "${cache[@]}" >/dev/null
cmake --build build/asan -j "$jobs" --target quench_unit_tests
# Two shards side by side: one test process would leave the other core idle for two minutes.
# ResNet-50's INT8 build (one FP32 calibration run of the whole network, a minute unoptimized
# under ASan) runs in the release stage only; MobileNetV2's takes the same code path here.
asan_shard() {
  GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX="$1" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    build/asan/tests/quench_unit_tests --gtest_brief=1 \
    --gtest_filter='-Zoo/CudaInt8Zoo.EveryQuantizedNodePreparesAndOnlyTheDeviceIsMissing/resnet50' \
    >"build/asan/unit-shard$1.log" 2>&1
}
asan_shard 0 & shard0=$!
asan_shard 1 & shard1=$!
asan_ok=1
wait "$shard0" || asan_ok=0
wait "$shard1" || asan_ok=0
if ((asan_ok)); then
  grep -h "^\[  PASSED  \]" build/asan/unit-shard0.log build/asan/unit-shard1.log
else
  cat build/asan/unit-shard0.log build/asan/unit-shard1.log
  echo "sanitizer build: address,undefined: unit tests failed" >&2
  exit 1
fi

step "sanitizer build: thread (the batcher and concurrency tests)"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DQUENCH_SANITIZE=thread \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DQUENCH_BUILD_BENCH=OFF -DQUENCH_BUILD_EXAMPLES=OFF \
  -DQUENCH_KERNELS_LIBRARY="$kernels_lib" "${sanitizer_cxx[@]}" "${cache[@]}" >/dev/null
cmake --build build/tsan -j "$jobs" --target quench_thread_tests
TSAN_OPTIONS=halt_on_error=1 build/tsan/tests/quench_thread_tests

step "all tests passed in $((SECONDS - start)) s"
