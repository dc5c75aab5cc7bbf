// Sliding-window geometry shared by Conv, ConvTranspose and the pools: parsing kernel_shape,
// strides, dilations, pads and auto_pad, and resolving them against an input's spatial dims
// into explicit pads and output dims by the ONNX formulas.
#pragma once

#include <cstdint>
#include <span>

#include "ops/op.h"
#include "ops/op_util.h"

namespace quench::ops {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// The window attributes as given, one entry per spatial dim. Fixed arrays, so that run
// functions parse attributes without allocating.
struct WindowAttrs {
  int rank = 0;  // spatial dims
  Index kernel{}, strides{}, dilations{}, pad_begin{}, pad_end{};
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;
};

// Parses and range-checks the window attributes for `rank` spatial dims. `weight_kernel` is
// the kernel size taken from a weight's shape (Conv); when empty, kernel_shape is required
// (pools). `pooling` enables ceil_mode. Values are capped (kMaxWindowValue) so that no later
// arithmetic on them can overflow. Allocates nothing unless it fails.
Result<WindowAttrs> parse_window(const NodeDesc& n, int rank, std::span<const int64_t> weight_kernel, bool pooling);

// A window resolved against an input: explicit pads and output dims, in fixed arrays so run
// functions index them without allocating.
struct Window {
  int rank = 0;
  Index kernel{}, stride{}, dilation{}, pad_begin{}, pad_end{}, in{}, out{};

  int64_t extent(int d) const { return dilation[d] * (kernel[d] - 1) + 1; }  // dilated kernel size
};

// Output dims of a convolution or pool over `in_spatial` (the ONNX Conv/MaxPool formulas,
// ceil_mode dropping a last window that would start in the end padding, as ONNX Runtime and
// PyTorch do). Errors name the node when the padded input is smaller than the window.
Result<Window> resolve_window(const NodeDesc& n, const WindowAttrs& a, std::span<const int64_t> in_spatial);

// Refuses an output shape whose size cannot be represented or allocated, so that huge pads
// or strides give an error at build time instead of a failed allocation.
Status check_output_size(const NodeDesc& n, const Shape& shape, DType dtype);

// Largest kernel, stride, dilation or pad accepted (2^40): far beyond any real model, small
// enough that sums and products of a few of them stay inside int64.
inline constexpr int64_t kMaxWindowValue = int64_t{1} << 40;

// Conv-family operands: a floating input, a weight of the same type, and an optional bias of
// that type with shape [out_ch]. Errors name the node.
Status check_conv_operands(const NodeDesc& n, std::span<const ValueDesc> in, int64_t out_ch);

// Integer division rounding toward -inf / +inf; b > 0.
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Splits `total` padding (negative crops) the way auto_pad SAME_* does: the odd one goes to the
// end for SAME_UPPER and to the beginning for SAME_LOWER.
inline void split_same_pads(int64_t total, AutoPad mode, int64_t& begin, int64_t& end) {
  const int64_t half = floor_div(total, 2);
  begin = mode == AutoPad::kSameUpper ? half : total - half;
  end = total - begin;
}

}  // namespace quench::ops
