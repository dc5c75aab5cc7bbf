// What the ceilings mean for the CUDA backend. Bandwidth is the device's own: a device-to-device
// copy of 256 MiB, five times the L2 of an H100, so that it streams through HBM. Compute is the
// rate quench's own FP16 tensor-core GEMM (kernels/gemm) reaches on 4096 x 4096 x 4096, the shape
// whose ratio to cuBLASLt the kernel benchmarks report: "% of ceiling" reads as "how close this
// layer comes to quench's best matrix product", and that product's distance from the vendor's is
// in bench/results. Overhead is the time an event pair around a launch that does nearly nothing
// measures: a layer that takes less than twice that spends its time being launched.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/cuda/device_memory.h"
#include "engine/profiler/ceilings.h"
#include "engine/cuda/event_timer.h"
#include "kernels/gemm/gemm.cuh"

namespace quench::profiler {
namespace {

// A layer under 5% of its roofline floor spends its time on neither resource (as on the CPU).
constexpr double kOverheadFraction = 0.05;
// Never below this, whatever the launch measurement says: a few microseconds is the launch
// latency every NVIDIA GPU of this decade shows.
constexpr double kMinOverheadSeconds = 2e-6;
constexpr int kReps = 10;  // each measurement: one warm-up, then the best of kReps

// Fastest of kReps timings of `body` (each an enqueue on `stream`), after one untimed call.
template <class F>
Result<double> best_seconds(cudaStream_t stream, F&& body) {
  QUENCH_ASSIGN(cuda::EventTimer timer, cuda::EventTimer::create(2));
  QUENCH_TRY(body());
  double best = 0;
  for (int r = 0; r < kReps; ++r) {
    QUENCH_TRY(timer.record(0, stream));
    QUENCH_TRY(body());
    QUENCH_TRY(timer.record(1, stream));
    QUENCH_ASSIGN(double s, timer.seconds_between(0, 1));
    if (r == 0 || s < best) best = s;
  }
  return best;
}

Status measure_bandwidth(cudaStream_t stream, DeviceCeilings* c) {
  constexpr size_t kBytes = size_t{256} << 20;
  QUENCH_ASSIGN(auto src, cuda::DeviceBuffer::allocate(kBytes, "cudaMalloc (bandwidth ceiling)"));
  QUENCH_ASSIGN(auto dst, cuda::DeviceBuffer::allocate(kBytes, "cudaMalloc (bandwidth ceiling)"));
  QUENCH_TRY(cuda::check(cudaMemsetAsync(src.data(), 1, kBytes, stream), "cudaMemsetAsync (bandwidth ceiling)"));
  QUENCH_ASSIGN(double s, best_seconds(stream, [&] {
                  return cuda::check(cudaMemcpyAsync(dst.data(), src.data(), kBytes, cudaMemcpyDeviceToDevice, stream),
                                     "cudaMemcpyAsync (bandwidth ceiling)");
                }));
  c->bytes_per_s = 2.0 * static_cast<double>(kBytes) / s;  // every byte read once and written once
  c->bandwidth_method = "cudaMemcpyAsync device to device of 256 MiB, bytes read + written, best of 10";
  return {};
}

Status measure_compute(cudaStream_t stream, DeviceCeilings* c) {
  constexpr int64_t kN = 4096;
  constexpr size_t kMatrix = static_cast<size_t>(kN * kN) * sizeof(__half);
  QUENCH_ASSIGN(auto a, cuda::DeviceBuffer::allocate(kMatrix, "cudaMalloc (compute ceiling)"));
  QUENCH_ASSIGN(auto b, cuda::DeviceBuffer::allocate(kMatrix, "cudaMalloc (compute ceiling)"));
  QUENCH_ASSIGN(auto y, cuda::DeviceBuffer::allocate(kMatrix, "cudaMalloc (compute ceiling)"));
  // 0x3C00 is float16 1.0 with byte 0x3C; 0x3C3C is about 1.06: finite products, no denormals.
  QUENCH_TRY(cuda::check(cudaMemsetAsync(a.data(), 0x3C, kMatrix, stream), "cudaMemsetAsync (compute ceiling)"));
  QUENCH_TRY(cuda::check(cudaMemsetAsync(b.data(), 0x1C, kMatrix, stream), "cudaMemsetAsync (compute ceiling)"));
  kernels::gemm::GemmArgs<__half> g;
  g.m = g.n = g.k = kN;
  g.a = reinterpret_cast<const __half*>(a.data());
  g.b = reinterpret_cast<const __half*>(b.data());
  g.c = reinterpret_cast<__half*>(y.data());
  g.split_k = 1;  // 1024 tiles of 128 x 128 fill any GPU; no workspace
  QUENCH_TRY(kernels::gemm::can_implement(g));
  QUENCH_ASSIGN(double s, best_seconds(stream, [&] { return kernels::gemm::run(g, nullptr, stream); }));
  c->flop_per_s = 2.0 * static_cast<double>(kN) * kN * kN / s;
  c->compute_method = "quench FP16 tensor-core GEMM (kernels/gemm) 4096x4096x4096, FP32 accumulation, best of 10";
  return {};
}

// The shortest a timed step can be: an event pair around a 4-byte memset.
Status measure_overhead(cudaStream_t stream, DeviceCeilings* c) {
  QUENCH_ASSIGN(auto tiny, cuda::DeviceBuffer::allocate(256, "cudaMalloc (overhead ceiling)"));
  QUENCH_ASSIGN(double s, best_seconds(stream, [&] {
                  return cuda::check(cudaMemsetAsync(tiny.data(), 0, 4, stream), "cudaMemsetAsync (overhead ceiling)");
                }));
  c->overhead_s = std::max(kMinOverheadSeconds, 2.0 * s);
  c->overhead_fraction = kOverheadFraction;
  return {};
}

Result<DeviceCeilings> measure() {
  QUENCH_ASSIGN(auto stream, cuda::Stream::create());
  DeviceCeilings c;
  QUENCH_TRY(measure_overhead(stream.get(), &c));
  QUENCH_TRY(measure_bandwidth(stream.get(), &c));
  QUENCH_TRY(measure_compute(stream.get(), &c));
  QUENCH_TRY(cuda::check(cudaStreamSynchronize(stream.get()), "cudaStreamSynchronize (ceilings)"));
  return c;
}

}  // namespace

Result<DeviceCeilings> cuda_ceilings() {
  // Per device: a process may profile engines on different GPUs.
  static std::mutex mu;
  static std::vector<std::optional<DeviceCeilings>> cache;
  QUENCH_ASSIGN(cuda::DeviceInfo d, cuda::current_device());
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() <= static_cast<size_t>(d.device)) cache.resize(static_cast<size_t>(d.device) + 1);
  auto& slot = cache[static_cast<size_t>(d.device)];
  if (!slot) {
    QUENCH_ASSIGN(DeviceCeilings c, measure());
    c.bandwidth_method += " on " + d.name;
    c.compute_method += " on " + d.name;
    slot = std::move(c);
  }
  return *slot;
}

}  // namespace quench::profiler
