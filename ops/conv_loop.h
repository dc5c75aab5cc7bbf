// The direct convolution loop shared by the float Conv reference (ops/conv.cpp) and the INT8
// one (ops/quant_conv.cpp), so that both walk the window the same way: one task per output
// row (n, m, every spatial index but the last), kConvTile outputs of that row accumulated at
// once on the stack. For every kernel position the valid range of the last output index is
// computed up front, so the innermost loop is a branch-free acc[i] += w * x[i * stride] that
// the compiler vectorizes. No im2col, no allocation.
#pragma once

#include <algorithm>

#include "ops/conv.h"
#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/window.h"

namespace quench::ops {

inline constexpr int64_t kConvTile = 256;  // output positions per accumulator tile

// acc[i] += w * x[i * stride] for i in [0, len): the one hot loop, kept trivial.
template <class Acc, class X>
inline void conv_axpy(Acc* acc, const X* x, int64_t stride, int64_t len, Acc w) {
  if (stride == 1) {
    for (int64_t i = 0; i < len; ++i) acc[i] += w * static_cast<Acc>(x[i]);
  } else {
    for (int64_t i = 0; i < len; ++i) acc[i] += w * static_cast<Acc>(x[i * stride]);
  }
}

// Sums w * x over each output's window in Acc and hands every tile to
// finish(first, m, o0, o1, acc): outputs first + o0 .. first + o1 - 1 (element indices into
// y, NCHW order) of output channel m, with acc[i - o0] the sum for output first + i. Tiles of
// different rows are finished concurrently.
template <class Acc, class X, class W, class Finish>
void conv_direct(const ConvGeom& g, const X* x, const W* w, const Finish& finish) {
  Window win = g.win;
  // A 1x1 kernel with unit strides and no pads maps the spatial dims one to one: treat them as
  // one long row, so the inner loop runs over the whole plane instead of one short row.
  bool pointwise = true;
  for (int d = 0; d < win.rank; ++d)
    pointwise = pointwise && win.kernel[d] == 1 && win.stride[d] == 1 && win.pad_begin[d] == 0 && win.pad_end[d] == 0;
  if (pointwise) {
    int64_t plane = 1;
    for (int d = 0; d < win.rank; ++d) plane *= win.in[d];
    win.rank = 1;
    win.in[0] = win.out[0] = plane;
  }
  const int last = win.rank - 1;
  int64_t in_rows = 1, out_rows = 1, k_rows = 1;
  for (int d = 0; d < last; ++d) {
    in_rows *= win.in[d];
    out_rows *= win.out[d];
    k_rows *= win.kernel[d];
  }
  const int64_t in_w = win.in[last], out_w = win.out[last], k_w = win.kernel[last];
  const int64_t s_w = win.stride[last], d_w = win.dilation[last], p_w = win.pad_begin[last];
  const int64_t in_plane = in_rows * in_w, k_size = k_rows * k_w;
  const int64_t cg = g.in_ch / g.group, mg = g.out_ch / g.group;
  const int64_t tasks = g.batch * g.out_ch * out_rows;
  const int64_t task_cost = std::max<int64_t>(1, cg * k_size * std::min(out_w, kConvTile));

  parallel_for(tasks, std::max<int64_t>(1, (int64_t{1} << 16) / task_cost), [&](int64_t t_begin, int64_t t_end) {
    Acc acc[kConvTile];
    for (int64_t t = t_begin; t < t_end; ++t) {
      const int64_t r = t % out_rows, m = (t / out_rows) % g.out_ch, nb = t / (out_rows * g.out_ch);
      Index o{};  // output index of this row, spatial dims but the last
      for (int64_t d = last - 1, rem = r; d >= 0; --d) {
        o[d] = rem % win.out[d];
        rem /= win.out[d];
      }
      const X* xg = x + (nb * g.in_ch + (m / mg) * cg) * in_plane;  // first input channel of m's group
      const W* wm = w + m * cg * k_size;
      for (int64_t o0 = 0; o0 < out_w; o0 += kConvTile) {
        const int64_t o1 = std::min(out_w, o0 + kConvTile);
        std::fill(acc, acc + (o1 - o0), Acc{0});
        for (int64_t kr = 0; kr < k_rows; ++kr) {
          // The input row this kernel row reads, or none when it falls in the padding.
          int64_t row = 0;
          bool inside = true;
          for (int64_t d = 0, rem = kr, div = k_rows; d < last; ++d) {
            div /= win.kernel[d];
            const int64_t k = rem / div;
            rem %= div;
            const int64_t i = o[d] * win.stride[d] - win.pad_begin[d] + k * win.dilation[d];
            inside = inside && i >= 0 && i < win.in[d];
            row = row * win.in[d] + i;
          }
          if (!inside) continue;
          for (int64_t kw = 0; kw < k_w; ++kw) {
            // Output ow reads input column ow * s_w + base; keep those inside [0, in_w).
            const int64_t base = kw * d_w - p_w;
            const int64_t lo = std::max(o0, ceil_div(-base, s_w)), hi = std::min(o1, ceil_div(in_w - base, s_w));
            if (lo >= hi) continue;
            for (int64_t c = 0; c < cg; ++c) {
              const Acc wv = static_cast<Acc>(wm[c * k_size + kr * k_w + kw]);
              conv_axpy(acc + (lo - o0), xg + (c * in_plane + row * in_w + base + lo * s_w), s_w, hi - lo, wv);
            }
          }
        }
        finish(t * out_w, m, o0, o1, static_cast<const Acc*>(acc));
      }
    }
  });
}

}  // namespace quench::ops
