#include "ops/window.h"

#include <algorithm>

namespace quench::ops {
namespace {

// Reads an ints attribute into `dst`: `count` values in [lo, kMaxWindowValue], or `dflt`
// everywhere when absent.
Status window_ints(const NodeDesc& n, std::string_view name, int count, int64_t dflt, int64_t lo, int64_t* dst) {
  QUENCH_ASSIGN(std::span<const int64_t> v, ints_attr(n, name));
  if (!n.attrs.has(name)) {
    std::fill(dst, dst + count, dflt);
    return {};
  }
  if (v.size() != static_cast<size_t>(count))
    return error(StatusCode::kInvalidArgument, n.where(), ": ", name, " has ", v.size(), " values but ", count,
                 " are expected for this input's spatial rank");
  for (int i = 0; i < count; ++i) {
    if (v[i] < lo || v[i] > kMaxWindowValue)
      return error(StatusCode::kInvalidArgument, n.where(), ": ", name, " value ", v[i], " is out of range (",
                   lo == 0 ? "must be >= 0" : "must be >= 1", " and at most 2^40)");
    dst[i] = v[i];
  }
  return {};
}

std::string dims_str(const Index& v, int rank) {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s + "]";
}

}  // namespace

Result<WindowAttrs> parse_window(const NodeDesc& n, int rank, std::span<const int64_t> weight_kernel, bool pooling) {
  WindowAttrs a;
  a.rank = rank;
  if (rank < 1 || rank > kMaxRank - 2)
    return error(StatusCode::kUnsupported, n.where(), ": ", rank, " spatial dims are not supported (1 to ",
                 kMaxRank - 2, ")");
  if (!weight_kernel.empty()) {
    if (weight_kernel.size() != static_cast<size_t>(rank))
      return error(StatusCode::kInternal, n.where(), ": weight kernel rank ", weight_kernel.size(), " against ", rank);
    for (int d = 0; d < rank; ++d) {
      const int64_t k = weight_kernel[d];
      if (k < 1 || k > kMaxWindowValue)
        return error(StatusCode::kInvalidArgument, n.where(), ": weight has kernel size ", k, ", which must be >= 1");
      a.kernel[d] = k;
    }
    if (n.attrs.has("kernel_shape")) {
      Index ks{};
      QUENCH_TRY(window_ints(n, "kernel_shape", rank, 1, 1, ks.data()));
      if (ks != a.kernel)
        return error(StatusCode::kShapeError, n.where(), ": kernel_shape ", dims_str(ks, rank),
                     " does not match the weight's kernel ", dims_str(a.kernel, rank));
    }
  } else {
    if (!n.attrs.has("kernel_shape"))
      return error(StatusCode::kInvalidArgument, n.where(), ": the kernel_shape attribute is required");
    QUENCH_TRY(window_ints(n, "kernel_shape", rank, 1, 1, a.kernel.data()));
  }
  QUENCH_TRY(window_ints(n, "strides", rank, 1, 1, a.strides.data()));
  QUENCH_TRY(window_ints(n, "dilations", rank, 1, 1, a.dilations.data()));
  int64_t pads[2 * kMaxRank];
  QUENCH_TRY(window_ints(n, "pads", 2 * rank, 0, 0, pads));
  std::copy(pads, pads + rank, a.pad_begin.begin());
  std::copy(pads + rank, pads + 2 * rank, a.pad_end.begin());
  QUENCH_ASSIGN(std::string_view ap, string_attr(n, "auto_pad", "NOTSET"));
  // Empty is how some exporters write the default.
  if (ap == "NOTSET" || ap.empty()) a.auto_pad = AutoPad::kNotSet;
  else if (ap == "SAME_UPPER") a.auto_pad = AutoPad::kSameUpper;
  else if (ap == "SAME_LOWER") a.auto_pad = AutoPad::kSameLower;
  else if (ap == "VALID") a.auto_pad = AutoPad::kValid;
  else
    return error(StatusCode::kInvalidArgument, n.where(), ": auto_pad '", ap,
                 "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  if (pooling) {
    QUENCH_ASSIGN(int64_t cm, int_attr(n, "ceil_mode", 0));
    if (cm != 0 && cm != 1)
      return error(StatusCode::kInvalidArgument, n.where(), ": ceil_mode must be 0 or 1, got ", cm);
    a.ceil_mode = cm == 1;
  }
  // The dilated extent must stay far inside int64 (each factor is <= 2^40, their product not).
  for (int d = 0; d < rank; ++d)
    if (a.kernel[d] - 1 > (int64_t{1} << 61) / a.dilations[d])
      return error(StatusCode::kInvalidArgument, n.where(), ": dilation ", a.dilations[d], " times kernel ",
                   a.kernel[d], " is too large");
  return a;
}

Result<Window> resolve_window(const NodeDesc& n, const WindowAttrs& a, std::span<const int64_t> in_spatial) {
  Window win;
  win.rank = a.rank;
  if (static_cast<int>(in_spatial.size()) != a.rank)
    return error(StatusCode::kInternal, n.where(), ": window rank ", a.rank, " against ", in_spatial.size(),
                 " input dims");
  for (int d = 0; d < a.rank; ++d) {
    const int64_t in = in_spatial[d], s = a.strides[d];
    win.kernel[d] = a.kernel[d];
    win.stride[d] = s;
    win.dilation[d] = a.dilations[d];
    win.in[d] = in;
    const int64_t ek = win.extent(d);
    if (a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
      // Output covers ceil(in / stride) windows; the padding needed for that is split evenly,
      // the odd one going to the end (SAME_UPPER) or to the beginning (SAME_LOWER).
      const int64_t out = ceil_div(in, s);
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + ek - in);
      split_same_pads(total, a.auto_pad, win.pad_begin[d], win.pad_end[d]);
      win.out[d] = out;
      continue;
    }
    if (a.auto_pad == AutoPad::kNotSet) {
      win.pad_begin[d] = a.pad_begin[d];
      win.pad_end[d] = a.pad_end[d];
    }
    const int64_t span = in + win.pad_begin[d] + win.pad_end[d] - ek;  // room left for the window to slide
    if (span < 0) {
      if (in == 0) continue;  // an empty input gives an empty output, not an error
      return error(StatusCode::kShapeError, n.where(), ": the window (kernel ", win.kernel[d], ", dilation ",
                   win.dilation[d], ") is larger than the padded input (", in, " + pads ", win.pad_begin[d], "+",
                   win.pad_end[d], ") in spatial dim ", d);
    }
    int64_t out = (a.ceil_mode ? ceil_div(span, s) : span / s) + 1;
    // ceil_mode may add a window that starts in the end padding; ONNX Runtime and PyTorch drop it.
    if (a.ceil_mode && out > 1 && (out - 1) * s >= in + win.pad_begin[d]) --out;
    win.out[d] = out;
  }
  return win;
}

Status check_output_size(const NodeDesc& n, const Shape& shape, DType dtype) {
  const int64_t count = shape_numel(shape);
  const int64_t limit = (int64_t{1} << 40) / static_cast<int64_t>(std::max<size_t>(1, dtype_size(dtype)));
  if (count < 0 || count > limit)
    return error(StatusCode::kShapeError, n.where(), ": output shape ", shape_str(shape),
                 " is too large to allocate (more than 2^40 bytes)");
  return {};
}

Status check_conv_operands(const NodeDesc& n, std::span<const ValueDesc> in, int64_t out_ch) {
  if (!dtype_is_float(in[0].dtype))
    return error(StatusCode::kUnsupported, n.where(), ": input has element type ", dtype_name(in[0].dtype), "; ",
                 n.op_type, " needs a floating type");
  if (in[1].dtype != in[0].dtype)
    return error(StatusCode::kInvalidArgument, n.where(), ": weight is ", dtype_name(in[1].dtype), " but input is ",
                 dtype_name(in[0].dtype));
  if (in.size() > 2 && in[2].present) {
    if (in[2].dtype != in[0].dtype)
      return error(StatusCode::kInvalidArgument, n.where(), ": bias is ", dtype_name(in[2].dtype), " but input is ",
                   dtype_name(in[0].dtype));
    if (in[2].shape != Shape{out_ch})
      return error(StatusCode::kShapeError, n.where(), ": bias has shape ", shape_str(in[2].shape), " but there are ",
                   out_ch, " output channels");
  }
  return {};
}

}  // namespace quench::ops
