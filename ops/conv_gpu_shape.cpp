#include "ops/conv_gpu_shape.h"

#include "ops/gpu_util.h"

namespace quench::ops {

Result<kernels::conv::ConvShape> kernel_conv_shape(const NodeDesc& n, const ConvGeom& g) {
  if (g.win.rank != 2) return gpu_unsupported(n, "a convolution over ", g.win.rank, " spatial dims (2-D only)");
  kernels::conv::ConvShape s;
  s.n = g.batch;
  s.h = g.win.in[0];
  s.w = g.win.in[1];
  s.c = g.in_ch;
  s.out_c = g.out_ch;
  s.kernel_h = static_cast<int>(g.win.kernel[0]);
  s.kernel_w = static_cast<int>(g.win.kernel[1]);
  s.stride_h = static_cast<int>(g.win.stride[0]);
  s.stride_w = static_cast<int>(g.win.stride[1]);
  s.dilation_h = static_cast<int>(g.win.dilation[0]);
  s.dilation_w = static_cast<int>(g.win.dilation[1]);
  s.pad_top = static_cast<int>(g.win.pad_begin[0]);
  s.pad_left = static_cast<int>(g.win.pad_begin[1]);
  s.pad_bottom = static_cast<int>(g.win.pad_end[0]);
  s.pad_right = static_cast<int>(g.win.pad_end[1]);
  s.groups = static_cast<int>(g.group);
  if (kernels::conv::out_h(s) != g.win.out[0] || kernels::conv::out_w(s) != g.win.out[1])
    return gpu_unsupported(n, "this padding (the kernels' output size differs from ONNX's)");
  return s;
}

bool depthwise_form(const kernels::conv::ConvShape& s) {
  return s.groups == s.c && s.out_c == s.c && s.c > 1 && s.kernel_h == s.kernel_w &&
         (s.kernel_h == 3 || s.kernel_h == 5) && s.stride_h == s.stride_w && (s.stride_h == 1 || s.stride_h == 2) &&
         s.dilation_h == 1 && s.dilation_w == 1;
}

}  // namespace quench::ops
