// The INT8 kernel benchmarks (int8_bench.cpp), registered by kernel_bench's main.
#pragma once

namespace quench::bench {

// Registers ceiling/cublaslt_int8_8192, int8_gemm/... (ours beside cuBLASLt INT8 and our FP16
// GEMM: 4096^3, ResNet-50's 1x1 convolutions and the classifiers), int8_gemm_variant/... (pinned
// tiles), int8_conv/... (ours beside cuDNN INT8, NHWC) and int8_depthwise/... (MobileNetV2's
// depthwise layers beside our FP16 depthwise kernel). Call only when a CUDA device is present.
void register_int8_benchmarks();

}  // namespace quench::bench
