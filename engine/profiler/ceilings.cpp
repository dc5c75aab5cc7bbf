// What the ceilings mean for the CPU reference backend. The reference is deliberately simple
// (direct loops, double accumulation, one task per output row), so the hardware's peak FLOP
// rate would put every layer at a few percent and say nothing. The compute ceiling is instead
// the rate the reference's own best kernel, its Gemm, reaches on a large cache-friendly
// product: "% of ceiling" reads as "how close this layer comes to the reference's best". The
// bandwidth ceiling is the hardware's, as far as the reference's thread pool can drive it: a
// large copy split across the same workers the ops use.
#include "engine/profiler/ceilings.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::profiler {
namespace {

using Clock = std::chrono::steady_clock;

// Below a few microseconds a step's fixed costs (the call through its schema, the thread
// pool handing out and joining its chunks, the first touches of cold cache lines) are a large
// part of its time, whatever its FLOPs and bytes.
constexpr double kCpuOverheadSeconds = 5e-6;
// A layer under 5% of its roofline floor spends its time on neither resource.
constexpr double kOverheadFraction = 0.05;

// Each measurement is repeated until it has run this long (and at least twice, the first
// being a warm-up for caches and the thread pool); the best repetition counts, as a ceiling
// is what the machine can do, not what it usually does.
constexpr double kMeasureSeconds = 0.25;
constexpr int kMinReps = 2, kMaxReps = 20;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte[], FreeDeleter>;

Buffer allocate(size_t bytes) { return Buffer(static_cast<std::byte*>(std::aligned_alloc(4096, bytes))); }

// Fastest seconds of `body` over the repetitions.
template <class F>
double best_seconds(F&& body) {
  double best = 0, total = 0;
  for (int rep = 0; rep < kMaxReps && (rep < kMinReps || total < kMeasureSeconds); ++rep) {
    const Clock::time_point t0 = Clock::now();
    body();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    total += s;
    if (rep == 0 || s < best) best = s;
  }
  return best;
}

// A copy of 64 MiB, more than the last-level cache of common server CPUs, so that it streams
// from and to memory rather than between caches.
void measure_bandwidth(DeviceCeilings* c) {
  constexpr size_t kBytes = size_t{64} << 20, kChunk = size_t{1} << 20;
  Buffer src = allocate(kBytes), dst = allocate(kBytes);
  if (!src || !dst) {
    c->bandwidth_method = "not measured: cannot allocate two 64 MiB buffers";
    return;
  }
  // Touched first, so that page faults are not timed.
  std::memset(src.get(), 1, kBytes);
  std::memset(dst.get(), 0, kBytes);
  const double s = best_seconds([&] {
    ops::parallel_for(static_cast<int64_t>(kBytes / kChunk), 1, [&](int64_t b, int64_t e) {
      std::memcpy(dst.get() + b * kChunk, src.get() + b * kChunk, static_cast<size_t>(e - b) * kChunk);
    });
  });
  c->bytes_per_s = 2.0 * static_cast<double>(kBytes) / s;  // every byte read once and written once
  c->bandwidth_method = "memcpy of 64 MiB in 1 MiB chunks over the reference thread pool (" +
                        std::to_string(ops::num_threads()) + " threads), bytes read + written, best of repeats";
}

// The reference Gemm, fp32 with double accumulation, on [384 x 384] x [384 x 384]: operands
// of 576 KiB each, which the caches hold, so that the rate is arithmetic, not memory.
void measure_compute(DeviceCeilings* c) {
  constexpr int64_t kN = 384;
  const ops::OpSchema* gemm = ops::find_schema("Gemm", "");
  if (!gemm || !gemm->run_cpu) {
    c->compute_method = "not measured: no reference Gemm";
    return;
  }
  Tensor a = Tensor::zeros(DType::kF32, {kN, kN}), b = Tensor::zeros(DType::kF32, {kN, kN});
  Tensor y = Tensor::zeros(DType::kF32, {kN, kN});
  for (int64_t i = 0; i < kN * kN; ++i) {
    a.mutable_data_as<float>()[i] = 0.5f + 0.01f * static_cast<float>(i % 13);
    b.mutable_data_as<float>()[i] = 0.25f - 0.01f * static_cast<float>(i % 7);
  }
  ops::NodeDesc node;
  node.name = "ceiling";
  node.op_type = "Gemm";
  node.opset = 17;
  const ops::TensorView in[2] = {{DType::kF32, a.shape(), a.mutable_data()},
                                 {DType::kF32, b.shape(), b.mutable_data()}};
  const ops::TensorView out[1] = {{DType::kF32, y.shape(), y.mutable_data()}};
  Status status;
  const double s = best_seconds([&] {
    if (status.ok()) status = gemm->run_cpu(node, std::span(in), std::span(out), nullptr);
  });
  if (!status.ok()) {
    c->compute_method = "not measured: " + status.to_string();
    return;
  }
  c->flop_per_s = 2.0 * static_cast<double>(kN * kN * kN) / s;
  c->compute_method = "reference Gemm fp32 (double accumulation) 384x384x384 over " +
                      std::to_string(ops::num_threads()) + " threads, best of repeats";
}

}  // namespace

const DeviceCeilings& cpu_ceilings() {
  static const DeviceCeilings ceilings = [] {
    DeviceCeilings c;
    c.overhead_s = kCpuOverheadSeconds;
    c.overhead_fraction = kOverheadFraction;
    measure_bandwidth(&c);
    measure_compute(&c);
    return c;
  }();
  return ceilings;
}

}  // namespace quench::profiler
