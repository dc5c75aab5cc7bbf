// The fused depthwise-separable kernel's benchmarks (dw_pw_bench.cpp), registered by kernel_bench's main.
#pragma once

namespace quench::bench {

// Registers dw_pw/... (MobileNetV2's depthwise + project layers at batch 1 and 32, the fused
// kernel beside the unfused sequence: kernels/depthwise, then the 1x1 kernels/conv) and
// dw_pw_variant/... (pinned tiles). Call only when a CUDA device is present.
void register_dw_pw_benchmarks();

}  // namespace quench::bench
