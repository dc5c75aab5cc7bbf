// The pooling and elementwise benchmarks (memory_bound_bench.cpp), registered by kernel_bench's main.
#pragma once

namespace quench::bench {

// Registers pool/... (ResNet-50's stem max pool and the global average pools of ResNet-50 and
// MobileNetV2, at batch 1 and 32, each beside cuDNN's pooling) and elementwise/... (residual adds,
// a per-channel broadcast, an activation alone; GB/s against the copy ceiling). Call only when a
// CUDA device is present; the benchmarks set up their own stream and handles.
void register_memory_bound_benchmarks();

}  // namespace quench::bench
