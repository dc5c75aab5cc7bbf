#!/usr/bin/env bash
# The one GPU entry point. On a machine with an NVIDIA GPU, the CUDA toolkit, CMake and ninja (no
# network, no GoogleTest/Benchmark installed: run scripts/prepare_device_deps.sh beforehand where
# they are, and bring .devdeps/ along), it
#   1. configures a build for this GPU only and builds quench_gpu_tests and quench_kernel_bench,
#   2. runs the GPU tests (GoogleTest JSON), then the kernel benchmarks (Google Benchmark JSON),
#   3. runs a subset of the tests under compute-sanitizer (memcheck, racecheck) if time allows,
#   4. writes raw JSON, logs and a generated summary, stamped with commit, GPU, driver and date,
#      into bench/results/ and into OUTDIR (argument, else $OUT, if set), and prints a short table.
#
# Usage: scripts/gpu_check.sh [OUTDIR]
# Environment: QUENCH_COMMIT (used when there is no .git), CUDNN_ROOT, QUENCH_CUDA_ARCH (default:
# the GPU's compute capability), QUENCH_BENCH_FILTER (a --benchmark_filter regex),
# QUENCH_TEST_FILTER, QUENCH_SANITIZE=0 to skip step 3, QUENCH_TIME_BUDGET (seconds, default 540).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
export PATH="/usr/local/cuda/bin:$PATH"
out="${1:-${OUT:-}}"
budget="${QUENCH_TIME_BUDGET:-540}"
start=$SECONDS
work="$(mktemp -d)"
build="${QUENCH_GPU_BUILD:-$here/build/gpu-check}"
jobs="$(nproc)"
elapsed() { echo $((SECONDS - start)); }
left() { echo $((budget - (SECONDS - start))); }
say() { echo "[gpu_check $(elapsed)s] $*"; }

# ---- metadata ---------------------------------------------------------------------------------
commit="${QUENCH_COMMIT:-}"
# The copy may belong to another user than the one running this (git then refuses the repo).
gitq() { git -c safe.directory='*' -C "$here" "$@"; }
if [[ -z "$commit" ]] && gitq rev-parse HEAD >/dev/null 2>&1; then
  commit="$(gitq rev-parse --short=12 HEAD)"
  [[ -n "$(gitq status --porcelain --untracked-files=no 2>/dev/null)" ]] && commit="$commit+uncommitted-changes"
fi
commit="${commit:-unknown}"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU visible (nvidia-smi)"; exit 2
fi
gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
driver="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')"
arch="${QUENCH_CUDA_ARCH:-${cap:-90}}"
cuda="$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
date_iso="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
stamp="$(date -u +%Y-%m-%dT%H%MZ)"
slug="$(echo "$gpu" | tr 'A-Z' 'a-z' | sed -e 's/nvidia //' -e 's/[^a-z0-9]\+/-/g' -e 's/^-//' -e 's/-$//')"
prefix="$stamp-$slug-kernels"

# cuDNN: the system's if CMake finds it, else PyTorch's pip wheel.
cudnn_root="${CUDNN_ROOT:-}"
sys_cudnn=""
for h in /usr/include/cudnn.h /usr/include/*/cudnn.h /usr/local/cuda/include/cudnn.h; do
  [[ -f "$h" ]] && { sys_cudnn="$h"; break; }
done
if [[ -z "$cudnn_root" && -z "$sys_cudnn" ]]; then
  cudnn_root="$(python3 -c 'import nvidia.cudnn, os; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null || true)"
fi
cudnn_h=""
for h in ${cudnn_root:+$cudnn_root/include/cudnn_version.h} ${sys_cudnn:+$(dirname "$sys_cudnn")/cudnn_version.h}; do
  [[ -f "$h" ]] && { cudnn_h="$h"; break; }
done
cudnn_ver="none found"
if [[ -n "$cudnn_h" ]]; then
  cudnn_ver="$(awk '/#define CUDNN_MAJOR /{a=$3} /#define CUDNN_MINOR /{b=$3} /#define CUDNN_PATCHLEVEL /{c=$3} END{print a"."b"."c}' "$cudnn_h") ($cudnn_h)"
fi
say "commit $commit | $gpu (sm_$cap) | driver $driver | CUDA $cuda | cuDNN $cudnn_ver | build for sm_$arch"

# ---- models for the whole-model tests (CudaModel*), made while the build runs ------------------
# .models/real comes from .devdeps (prepare_device_deps.sh); the zoo is generated here when
# PyTorch and torchvision can (about a minute; QUENCH_MAKE_ZOO=0 skips it). Missing models make
# their tests skip, never fail.
if [[ ! -d .models/real && -d .devdeps/models/real ]]; then mkdir -p .models && cp -a .devdeps/models/real .models/real; fi
zoo_pid=""
if [[ "${QUENCH_MAKE_ZOO:-1}" == 1 ]] && ! ls .models/zoo/*.onnx >/dev/null 2>&1 &&
   python3 -c 'import torch, torchvision, onnx' >/dev/null 2>&1; then
  say "generating the model zoo in the background"
  timeout 300 python3 scripts/model_zoo.py --out .models/zoo >"$work/zoo.log" 2>&1 &
  zoo_pid=$!
fi

# ---- configure + build ------------------------------------------------------------------------
cmake_args=(-G Ninja -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CUDA_ARCHITECTURES=$arch")
[[ -f .devdeps/googletest/CMakeLists.txt ]] && cmake_args+=("-DQUENCH_GTEST_SOURCE_DIR=$here/.devdeps/googletest")
bcfg="$(ls -d .devdeps/benchmark/lib/*/cmake/benchmark 2>/dev/null | head -1)"
[[ -n "$bcfg" ]] && cmake_args+=("-Dbenchmark_DIR=$here/$bcfg")
[[ -n "$cudnn_root" ]] && cmake_args+=("-DCUDNN_ROOT=$cudnn_root")
built=0
for attempt in 1 2; do
  if cmake "${cmake_args[@]}" >"$work/build.log" 2>&1; then
    if timeout "$(( $(left) > 60 ? $(left) - 60 : 10 ))" ninja -C "$build" -j "$jobs" quench_gpu_tests quench_kernel_bench quench_cli >>"$work/build.log" 2>&1; then
      built=1
      break
    fi
  fi
  say "configure/build attempt $attempt failed (tail of the log):"
  tail -n 15 "$work/build.log"
  [[ $attempt == 1 ]] && sleep 5
done
tests_bin="$build/tests/gpu/quench_gpu_tests"
bench_bin="$build/bench/quench_kernel_bench"
if [[ $built == 1 ]]; then
  say "built"
  if command -v cuobjdump >/dev/null; then
    { echo "== resource usage (cuobjdump --dump-resource-usage, quench kernels)";
      cuobjdump --dump-resource-usage "$tests_bin" 2>/dev/null | grep -E "Function|REG|STACK|LOCAL" | grep -A1 -E "gemm_kernel|depthwise_kernel|conv_kernel" | grep -v "^--"; } >>"$work/build.log" 2>&1
  fi
fi

# ---- tests ------------------------------------------------------------------------------------
sanitizer_note=""
if [[ $built == 1 ]]; then
  if [[ -n "$zoo_pid" ]]; then wait "$zoo_pid"; say "model zoo: exit $? ($(ls .models/zoo/*.onnx 2>/dev/null | wc -l) models)"; fi
  say "running GPU tests"
  timeout "$(( $(left) > 300 ? 240 : $(left) / 2 ))" "$tests_bin" --gtest_output="json:$work/gpu_tests.json" \
    ${QUENCH_TEST_FILTER:+--gtest_filter=$QUENCH_TEST_FILTER} >"$work/tests.log" 2>&1
  say "tests exit code $?: $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$work/tests.log" | tr '\n' ' ')"

  # ---- whole models: latency with and without CUDA graphs, per-layer profiles -------------------
  # One JSON report per command in $work/models/ (issue 7: p99/p50 over 10,000 runs; issue 8:
  # profile tables, traces and layer sums). A missing model skips its commands.
  cli="$build/examples/quench"
  mkdir -p "$work/models"
  model_run() {  # NAME TIMEOUT ARGS...: one report, its exit code in the log
    local name="$1" t="$2"; shift 2
    (( $(left) > t + 60 )) || { echo "$name: skipped (time)" >>"$work/models.log"; return; }
    timeout "$t" "$cli" "$@" --json >"$work/models/$name.json" 2>>"$work/models.log"
    echo "$name: exit $?" >>"$work/models.log"
  }
  : >"$work/models.log"
  if [[ -x "$cli" ]]; then
    say "running whole-model latency and profiles"
    for m in mobilenetv2 resnet50; do
      f=".models/zoo/$m.onnx"
      [[ -f "$f" ]] || { echo "$m: missing $f" >>"$work/models.log"; continue; }
      for g in on off; do
        model_run "run-$m-b1-graph-$g" 60 run "$f" --backend cuda --iterations 10000 --warmup 100 --cuda-graph "$g"
      done
      model_run "profile-$m-b1" 60 profile "$f" --backend cuda --iterations 50 --trace "$work/models/trace-$m-b1.json"
    done
    # Independent branches on several streams (BuildOptions::cuda_streams): one beside four.
    f=".models/zoo/yolo_style.onnx"
    if [[ -f "$f" ]]; then
      for s in 1 4; do
        model_run "run-yolo_style-b1-streams-$s" 60 run "$f" --backend cuda --iterations 2000 --warmup 50 --streams "$s"
      done
    fi
    f=".models/zoo/mobilenetv2_dynamic.onnx"
    [[ -f "$f" ]] && model_run "profile-mobilenetv2-b32" 60 profile "$f" --backend cuda --batch 32 --iterations 20 \
      --trace "$work/models/trace-mobilenetv2-b32.json"
    # Issue 7: the Batcher under 64 closed-loop clients, batched vs unbatched (docs/batching.md).
    [[ -f "$f" ]] && model_run "serve-bench-mobilenetv2-b32" 60 serve-bench "$f" --backend cuda --batch 32 --clients 64 \
      --workers 2 --max-delay-us 2000 --seconds 10
    say "whole models: $(tr '\n' ' ' <"$work/models.log")"
  fi

  # ---- benchmarks -----------------------------------------------------------------------------
  if (( $(left) > 60 )); then
    say "running kernel benchmarks"
    timeout "$(( $(left) - 30 ))" "$bench_bin" --benchmark_out="$work/kernel_bench.json" --benchmark_out_format=json \
      ${QUENCH_BENCH_FILTER:+--benchmark_filter=$QUENCH_BENCH_FILTER} >"$work/bench.log" 2>&1
    say "benchmarks exit code $?"
  else
    say "no time left for the benchmarks"
  fi

  # ---- compute-sanitizer on a subset ------------------------------------------------------------
  if [[ "${QUENCH_SANITIZE:-1}" == 1 ]] && command -v compute-sanitizer >/dev/null; then
    filter='Epilogues/*m7_n1001_k72_relu_bias_res:Shapes/GemmTest.*m7_n1001_k144*:Shapes/GemmTest.*m1_n16_k8*:Epilogues/DepthwiseTest.*n1_h13_w11_c19_k5_s2_p2112_silu_bias_res:Shapes/DepthwiseTest.*n7_h15_w15_c17*:Shapes/DepthwiseTest.*n1_h7_w9_c40*:Shapes/ConvTest.*n2_10x10x12_to20*:Shapes/ConvTest.*n2_10x10x16_to24*:Shapes/ConvTest.*n7_5x5x8_to8*:Broadcast/BinaryTest.*add_as_7_33_3_bs_7_33_3_none*:Cases/PadTest.*edge_f32_d_5_12*:Cases/TransposeTest.*f16_d_1_3_224_224_perm0231:Geometries/ResizeTest.*n1_c2_h1_w9*:Rows/SoftmaxTest.*logsoftmax_r33_c77*:Shapes/PoolTest.*max_n7_c144_h9_w9*:Shapes/GlobalPoolTest.*max_n1_c34_h3_w17:Int8Shapes/Int8GemmTest.*m7_n1001_k144*:Int8Shapes/Int8ConvTest.*n2_10x10x16_to24*:Int8Shapes/Int8ConvTest.*n1_17x19x7_to24*:Int8Shapes/Int8DepthwiseTest.*n7_h15_w15_c17*:Int8Sizes/Int8ConvertTest.*f32_n1003_off1*:GpuTest.*'
    : >"$work/sanitizer.log"
    for tool in memcheck racecheck; do
      if (( $(left) > 45 )); then
        timeout "$(( $(left) - 20 ))" compute-sanitizer --tool "$tool" --error-exitcode 99 "$tests_bin" \
          --gtest_filter="$filter" >>"$work/sanitizer.log" 2>&1
        rc=$?
        sanitizer_note+="$tool exit $rc ($( ((rc == 0)) && echo clean || echo 'see sanitizer log')); "
        say "compute-sanitizer $tool: exit $rc"
      else
        sanitizer_note+="$tool not run (time); "
      fi
    done
    sanitizer_note+="subset: $filter"
  fi
fi

# ---- metadata, summary, copies ------------------------------------------------------------------
python3 - "$work/meta.json" <<EOF
import json, sys
json.dump({"commit": "$commit", "gpu": "$gpu", "driver": "$driver", "cuda": "$cuda", "cudnn": "$cudnn_ver",
           "date": "$date_iso", "host": "$(hostname)", "arch": "sm_$arch", "built": $built,
           "sanitizer": """$sanitizer_note"""}, open(sys.argv[1], "w"), indent=1)
EOF
python3 bench/kernels/summarize.py --meta "$work/meta.json" --tests "$work/gpu_tests.json" \
  --bench "$work/kernel_bench.json" --out "$work/summary.md"

mkdir -p bench/results
declare -A names=([summary.md]="$prefix.md" [meta.json]="$prefix-meta.json" [gpu_tests.json]="$prefix-gpu-tests.json"
                  [kernel_bench.json]="$prefix-bench.json" [build.log]="$prefix-build.log" [tests.log]="$prefix-tests.log"
                  [bench.log]="$prefix-bench.log" [sanitizer.log]="$prefix-sanitizer.log")
for f in "${!names[@]}"; do
  [[ -f "$work/$f" ]] || continue
  cp "$work/$f" "bench/results/${names[$f]}"
  [[ -n "$out" ]] && mkdir -p "$out" && cp "$work/$f" "$out/${names[$f]}"
done
if [[ -f "$work/models.log" ]]; then
  mkdir -p "bench/results/$prefix-models"
  cp "$work/models.log" "$work"/models/*.json "bench/results/$prefix-models/" 2>/dev/null
  [[ -n "$out" ]] && mkdir -p "$out/$prefix-models" && cp "$work/models.log" "$work"/models/*.json "$out/$prefix-models/" 2>/dev/null
fi
say "done: bench/results/$prefix.md${out:+ (and $out)}"
[[ $built == 1 ]]
