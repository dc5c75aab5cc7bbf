// ConvTranspose: the gradient of Conv with respect to its input, used for upsampling. Weight is
// [C, M/group, kernel...]; output dims come from strides, pads, output_padding and dilations,
// or from output_shape (pads then derived), or from auto_pad (output = input * stride).
//
// The CPU reference gathers rather than scatters, so tasks never write the same output: one
// task per output row (n, m, spatial indices but the last); input index i feeds output
// i * stride - pad + k * dilation, so for each kernel position the contributing input range is
// computed up front and the inner loop is a plain strided acc += w * x in doubles.
#include <algorithm>

#include "ops/conv_transpose.h"
#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

constexpr int64_t kTile = 256;  // output positions accumulated at once, per task, on the stack

using Geom = ConvTransposeGeom;

Result<Geom> geometry(const NodeDesc& n, const Shape& x, const Shape& w) {
  if (x.size() < 3 || x.size() > kMaxRank)
    return error(StatusCode::kShapeError, n.where(), ": input has shape ", shape_str(x),
                 "; ConvTranspose needs [N, C, spatial...] with 1 to ", kMaxRank - 2, " spatial dims");
  if (w.size() != x.size())
    return error(StatusCode::kShapeError, n.where(), ": weight has shape ", shape_str(w), " but input has rank ",
                 x.size(), "; the weight must be [C, M/group, kernel...] of the same rank");
  Geom g;
  QUENCH_ASSIGN(g.group, int_attr(n, "group", 1));
  if (g.group < 1) return error(StatusCode::kInvalidArgument, n.where(), ": group must be >= 1, got ", g.group);
  if (w[0] != x[1])
    return error(StatusCode::kShapeError, n.where(), ": weight has ", w[0], " input channels but input has ", x[1],
                 " (group ", g.group, ")");
  if (x[1] % g.group != 0)
    return error(StatusCode::kShapeError, n.where(), ": input has ", x[1], " channels, which group ", g.group,
                 " does not divide");
  if (w[1] > (int64_t{1} << 40) / g.group)
    return error(StatusCode::kShapeError, n.where(), ": group ", g.group, " times ", w[1], " output channels is too large");
  g.batch = x[0];
  g.in_ch = x[1];
  g.out_ch = w[1] * g.group;

  const int rank = static_cast<int>(x.size()) - 2;
  QUENCH_ASSIGN(WindowAttrs a, parse_window(n, rank, std::span<const int64_t>(w).subspan(2), false));
  QUENCH_ASSIGN(std::span<const int64_t> out_pad, ints_attr(n, "output_padding"));
  if (!out_pad.empty() && static_cast<int>(out_pad.size()) != rank)
    return error(StatusCode::kInvalidArgument, n.where(), ": output_padding has ", out_pad.size(), " values but ",
                 rank, " are expected");
  QUENCH_ASSIGN(std::span<const int64_t> out_shape, ints_attr(n, "output_shape"));
  // output_shape may list the spatial dims only, or the whole output shape.
  if (out_shape.size() == static_cast<size_t>(rank) + 2) out_shape = out_shape.subspan(2);
  if (!out_shape.empty() && static_cast<int>(out_shape.size()) != rank)
    return error(StatusCode::kInvalidArgument, n.where(), ": output_shape has ", out_shape.size(), " values but ",
                 rank, " spatial dims are expected");

  Window& win = g.win;
  win.rank = rank;
  for (int d = 0; d < rank; ++d) {
    const int64_t in = x[d + 2], s = a.strides[d], op = out_pad.empty() ? 0 : out_pad[d];
    win.kernel[d] = a.kernel[d];
    win.stride[d] = s;
    win.dilation[d] = a.dilations[d];
    win.in[d] = in;
    if (op < 0 || op > kMaxWindowValue)
      return error(StatusCode::kInvalidArgument, n.where(), ": output_padding value ", op, " is out of range");
    if (in > 1 && in - 1 > (int64_t{1} << 61) / s)
      return error(StatusCode::kShapeError, n.where(), ": stride ", s, " times input size ", in, " is too large");
    // Output size before any padding is taken off.
    const int64_t full = in == 0 ? 0 : s * (in - 1) + op + win.extent(d);
    const bool same = a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower;
    if (!out_shape.empty() || same) {
      int64_t out = 0;
      if (!out_shape.empty()) {
        out = out_shape[d];
        if (out < 0 || out > (int64_t{1} << 61))
          return error(StatusCode::kInvalidArgument, n.where(), ": output_shape value ", out, " is out of range");
      } else {
        out = in * s;
      }
      // Pads that make the output exactly `out` (negative when out is larger than `full`); the
      // odd one goes to the end for SAME_UPPER and to the beginning otherwise, per the spec.
      split_same_pads(full - out, a.auto_pad, win.pad_begin[d], win.pad_end[d]);
      win.out[d] = out;
      continue;
    }
    if (a.auto_pad == AutoPad::kNotSet) {
      win.pad_begin[d] = a.pad_begin[d];
      win.pad_end[d] = a.pad_end[d];
    }
    const int64_t out = full - win.pad_begin[d] - win.pad_end[d];
    if (out < 0 && in > 0)
      return error(StatusCode::kShapeError, n.where(), ": pads ", win.pad_begin[d], "+", win.pad_end[d],
                   " remove more than the whole output (", full, ") in spatial dim ", d);
    win.out[d] = std::max<int64_t>(0, out);
  }
  return g;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(Geom g, geometry(n, in[0].shape, in[1].shape));
  QUENCH_TRY(check_conv_operands(n, in, g.out_ch));
  out[0].dtype = in[0].dtype;
  out[0].shape = {g.batch, g.out_ch};
  for (int d = 0; d < g.win.rank; ++d) out[0].shape.push_back(g.win.out[d]);
  return check_output_size(n, out[0].shape, out[0].dtype);
}

// acc[i * acc_stride] += w * x[i] for i in [0, len).
template <class T>
inline void scatter_axpy(double* acc, int64_t acc_stride, const T* x, int64_t len, double w) {
  if (acc_stride == 1) {
    for (int64_t i = 0; i < len; ++i) acc[i] += w * static_cast<double>(x[i]);
  } else {
    for (int64_t i = 0; i < len; ++i) acc[i * acc_stride] += w * static_cast<double>(x[i]);
  }
}

template <class T>
void conv_transpose_cpu(const Geom& g, const T* x, const T* w, const T* b, T* y) {
  const Window& win = g.win;
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
  const int64_t task_cost = std::max<int64_t>(1, cg * k_size * std::min(out_w, kTile) / s_w);

  parallel_for(tasks, std::max<int64_t>(1, (int64_t{1} << 16) / task_cost), [&](int64_t t_begin, int64_t t_end) {
    double acc[kTile];
    for (int64_t t = t_begin; t < t_end; ++t) {
      const int64_t r = t % out_rows, m = (t / out_rows) % g.out_ch, nb = t / (out_rows * g.out_ch);
      Index o{};
      for (int64_t d = last - 1, rem = r; d >= 0; --d) {
        o[d] = rem % win.out[d];
        rem /= win.out[d];
      }
      const int64_t grp = m / mg, m_local = m % mg;
      const T* xg = x + (nb * g.in_ch + grp * cg) * in_plane;
      const T* wg = w + (grp * cg * mg + m_local) * k_size;  // weight [c, m_local] is at wg + c * mg * k_size
      T* yrow = y + t * out_w;
      const double bias = b ? static_cast<double>(b[m]) : 0.0;
      for (int64_t o0 = 0; o0 < out_w; o0 += kTile) {
        const int64_t o1 = std::min(out_w, o0 + kTile);
        std::fill(acc, acc + (o1 - o0), 0.0);
        for (int64_t kr = 0; kr < k_rows; ++kr) {
          // The input row whose kernel row kr lands on this output row, if any.
          int64_t row = 0;
          bool hit = true;
          for (int64_t d = 0, rem = kr, div = k_rows; d < last; ++d) {
            div /= win.kernel[d];
            const int64_t k = rem / div;
            rem %= div;
            const int64_t num = o[d] + win.pad_begin[d] - k * win.dilation[d];
            const int64_t i = floor_div(num, win.stride[d]);
            hit = hit && num >= 0 && i * win.stride[d] == num && i < win.in[d];
            row = row * win.in[d] + i;
          }
          if (!hit) continue;
          for (int64_t kw = 0; kw < k_w; ++kw) {
            // Input iw lands on output iw * s_w + base; keep those inside this tile.
            const int64_t base = kw * d_w - p_w;
            const int64_t lo = std::max<int64_t>(0, ceil_div(o0 - base, s_w));
            const int64_t hi = std::min(in_w, ceil_div(o1 - base, s_w));
            if (lo >= hi) continue;
            for (int64_t c = 0; c < cg; ++c) {
              const double wv = static_cast<double>(wg[c * mg * k_size + kr * k_w + kw]);
              scatter_axpy(acc + (base + lo * s_w - o0), s_w, xg + (c * in_plane + row * in_w + lo), hi - lo, wv);
            }
          }
        }
        for (int64_t i = o0; i < o1; ++i) yrow[i] = static_cast<T>(acc[i - o0] + bias);
      }
    }
  });
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(Geom g, geometry(n, in[0].shape, in[1].shape));
  const bool has_bias = in.size() > 2 && in[2].data != nullptr;
  return dispatch_float(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    conv_transpose_cpu<T>(g, in[0].as<T>(), in[1].as<T>(), has_bias ? in[2].as<T>() : nullptr, out[0].as<T>());
    return {};
  });
}

const OpSchema kSchemas[] = {
    {"ConvTranspose", 2, 3, 1, 1, infer, run, nullptr},
};

}  // namespace

Result<ConvTransposeGeom> conv_transpose_geometry(const NodeDesc& n, const Shape& x, const Shape& w) {
  return geometry(n, x, w);
}

std::span<const OpSchema> conv_transpose_schemas() { return kSchemas; }

}  // namespace quench::ops
