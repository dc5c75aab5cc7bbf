// Small ONNX models for the engine tests, encoded in memory (tests/loaders/onnx_test_encoder.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quench/quench.h"

namespace quench::testing {

// x [N,3,8,8] -> Conv 3x3 pad 1 (4 ch) -> Relu -> MaxPool 2x2 ┐
//             -> AveragePool 2x2 ─────────────────────────────┴ Concat (axis 1) [N,7,4,4]
//   -> Reshape to Concat(Slice(Shape(.), 0, 1), [-1]) = [N,112] -> Gemm (112x`hidden`) -> Softmax.
// Covers what a plan holds: in-place steps, a Concat that is elided at batch 1 only, a
// workspace, and a Shape chain that folds to a different constant at every batch.
// With `fixed_batch` > 0 the input declares that batch instead of a symbolic one.
std::string branchy_model(int64_t hidden = 10, int64_t fixed_batch = 0);

// A chain of convolutions that an INT8 build quantizes from end to end (every node becomes an
// INT8 product; one Int8Quantize of x, the last product dequantizes in its epilogue):
//   x [N,3,8,8] -> Conv 3x3 pad 1 (16) -> Relu = a
//     -> Conv 1x1 (16) -> Add a -> Relu = b            (a residual block)
//     -> depthwise Conv 3x3 pad 1 group 16 -> Clip(0, 6) = d
//     -> Conv 3x3 stride 2 pad 1 (8) = y [N,8,4,4]
std::string int8_chain_model();

// Deterministic values in [-1, 1].
std::vector<float> lcg_floats(size_t n, uint32_t seed);
Tensor random_input(Shape shape, uint32_t seed);

// Bitwise equality of two tensor maps (same names, dtypes, shapes and bytes).
bool same_bits(const TensorMap& a, const TensorMap& b);

}  // namespace quench::testing
