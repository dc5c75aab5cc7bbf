// The implicit-GEMM convolution benchmarks (conv_bench.cpp), registered by kernel_bench's main.
#pragma once

namespace quench::bench {

// Registers conv/... (ResNet-50 3x3, 7x7 stem and strided 1x1 layers, the MobileNetV2 stem, at
// batch 1 and 32, each beside cuDNN) and conv_variant/... (pinned tiles, K splits and paths).
// Call only when a CUDA device is present; the benchmarks set up their own stream and handles.
void register_conv_benchmarks();

}  // namespace quench::bench
