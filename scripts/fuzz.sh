#!/usr/bin/env bash
# Fuzzes the ONNX loader: builds tests/fuzz with clang (libFuzzer + ASan + UBSan, the library
# instrumented too) into build/fuzz and runs it for $1 seconds (default 600) over a seed corpus
# of the models in Debian's libonnx-testdata. Prints the number of executions; a finding stops
# the run with its reproducer in build/fuzz/artifacts/. JOBS sets build parallelism.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
secs="${1:-600}"
jobs="${JOBS:-$(nproc)}"
export PATH="/usr/local/cuda/bin:$PATH"

# The newest clang installed: clang 14 rejects C++20 lambdas that capture structured bindings,
# which the ops use; CC/CXX override the choice.
cc="${CC:-}" cxx="${CXX:-}"
if [[ -z "$cxx" ]]; then
  for v in 19 18 17 16 15 ""; do
    if command -v "clang++${v:+-$v}" >/dev/null && command -v "clang${v:+-$v}" >/dev/null; then
      cc="$(command -v "clang${v:+-$v}")" cxx="$(command -v "clang++${v:+-$v}")"
      break
    fi
  done
fi
if [[ -z "$cc" || -z "$cxx" ]]; then
  echo "fuzz.sh: clang is needed (apt-get install clang-16 libclang-rt-16-dev)" >&2
  exit 1
fi
echo "fuzz.sh: building with $cxx"

out=build/fuzz
# A build dir configured with another compiler cannot be switched in place.
if [[ -f "$out/CMakeCache.txt" ]] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=$cxx\$" "$out/CMakeCache.txt"; then
  rm -rf "$out"
fi
cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DQUENCH_SANITIZE=fuzzer-no-link,address,undefined -DQUENCH_BUILD_FUZZ=ON \
  -DQUENCH_BUILD_BENCH=OFF -DQUENCH_BUILD_EXAMPLES=OFF -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$out" -j "$jobs" --target onnx_loader_fuzz

# Seeds: every model of the conformance data (named after its test), plus a few TensorProtos.
corpus="$out/corpus"
mkdir -p "$corpus" "$out/artifacts"
data=/usr/share/libonnx-testdata/data
if [[ -d "$data" ]]; then
  for m in "$data"/*/*/model.onnx; do
    t="$(basename "$(dirname "$m")")"
    cp -n "$m" "$corpus/$t.onnx" 2>/dev/null || true
  done
  for p in "$data"/node/test_conv*/test_data_set_0/*.pb; do
    t="$(basename "$(dirname "$(dirname "$p")")")"
    cp -n "$p" "$corpus/$t.$(basename "$p")" 2>/dev/null || true
  done
else
  echo "fuzz.sh: $data missing (apt-get install libonnx-testdata); starting from an empty corpus" >&2
fi
echo "fuzz.sh: $(ls "$corpus" | wc -l) seeds, ${secs} s"

log="$out/fuzz.log"
set +e
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$out/tests/fuzz/onnx_loader_fuzz" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=4096 \
  -artifact_prefix="$out/artifacts/" "$corpus" >"$log" 2>&1
rc=$?
set -e
tail -n 25 "$log"
execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
echo "fuzz.sh: executions: ${execs:-unknown}; exit status $rc; log $log"
exit "$rc"
