// Resize (opsets 10 to 19) and Upsample (7, 9): nearest, linear and cubic interpolation over
// any number of axes, with every coordinate_transformation_mode, nearest_mode, exclude_outside,
// cubic_coeff_a, antialias, axes and keep_aspect_ratio_policy.
//
// The arithmetic follows ONNX's reference implementation (onnx/reference/ops/op_resize.py, the
// source of the conformance data) step for step in double precision, including its choices
// where the spec is loose: the "output width" in the coordinate formulas is scale * in_dim
// (not the rounded size), out-of-range taps read the edge element, and when a coordinate
// falls exactly on a sample the taps are placed so that the weight 1 lands on it.
//
// Interpolation is separable: for every output axis we precompute, into the workspace, the
// input indices and weights ("taps") of each output coordinate; an output element is the sum
// over the product of its per-axis taps. Integer outputs are rounded to nearest and saturated.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

bool before(const NodeDesc& n, int64_t version) { return n.opset > 0 && n.opset < version; }

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord { kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNN,
                   kTfCropAndResize };
// kSimple: Upsample and Resize-10, which had no nearest_mode (ONNX Runtime's rule: floor, or
// ceil when downsampling).
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct Params {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kAsymmetric;
  Nearest nearest = Nearest::kSimple;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation = 0.0;
  std::vector<double> scale;  // per dim, as used by the coordinate formulas
  std::vector<double> roi;    // [starts..., ends...] per dim; only for tf_crop_and_resize
  Shape out;
};

// Values of the optional inputs; null when absent or empty.
struct Given {
  const std::vector<double>* roi = nullptr;
  const std::vector<double>* scales = nullptr;
  const std::vector<int64_t>* sizes = nullptr;
};

// Which input holds roi, scales and sizes (-1: none).
struct Slots {
  int roi = -1, scales = -1, sizes = -1;
};

Slots slots_of(const NodeDesc& n) {
  if (n.op_type == "Upsample") return before(n, 9) ? Slots{} : Slots{-1, 1, -1};
  if (before(n, 11)) return Slots{-1, 1, -1};  // Resize-10: X, scales
  return Slots{1, 2, 3};
}

template <class E>
Result<E> pick(const NodeDesc& n, std::string_view attr, const std::string& value,
               std::initializer_list<std::pair<std::string_view, E>> options) {
  for (const auto& [name, e] : options)
    if (name == value) return e;
  return error(StatusCode::kUnsupported, n.where(), ": ", attr, " '", value, "' is not supported");
}

Result<Params> make_params(const NodeDesc& n, const Shape& is, const Given& g) {
  const std::string w = n.where();
  const int64_t r = static_cast<int64_t>(is.size());
  if (r > kMaxRank) return error(StatusCode::kUnsupported, w, ": input rank ", r, " exceeds ", kMaxRank);
  Params p;
  QUENCH_ASSIGN(std::string mode, n.attrs.get_string("mode", "nearest", w));
  QUENCH_ASSIGN(p.mode, pick<Mode>(n, "mode", mode,
                                   {{"nearest", Mode::kNearest}, {"linear", Mode::kLinear}, {"bilinear", Mode::kLinear},
                                    {"cubic", Mode::kCubic}}));
  const bool modern = n.op_type == "Resize" && !before(n, 11);
  if (!modern && p.mode == Mode::kCubic)
    return error(StatusCode::kUnsupported, w, ": mode 'cubic' needs Resize from opset 11");
  if (modern) {
    QUENCH_ASSIGN(std::string ct, n.attrs.get_string("coordinate_transformation_mode", "half_pixel", w));
    QUENCH_ASSIGN(p.coord, pick<Coord>(n, "coordinate_transformation_mode", ct,
                                       {{"half_pixel", Coord::kHalfPixel},
                                        {"half_pixel_symmetric", Coord::kHalfPixelSymmetric},
                                        {"pytorch_half_pixel", Coord::kPytorchHalfPixel},
                                        {"align_corners", Coord::kAlignCorners},
                                        {"asymmetric", Coord::kAsymmetric},
                                        {"tf_half_pixel_for_nn", Coord::kTfHalfPixelForNN},
                                        {"tf_crop_and_resize", Coord::kTfCropAndResize}}));
    QUENCH_ASSIGN(std::string nm, n.attrs.get_string("nearest_mode", "round_prefer_floor", w));
    QUENCH_ASSIGN(p.nearest, pick<Nearest>(n, "nearest_mode", nm,
                                           {{"round_prefer_floor", Nearest::kRoundPreferFloor},
                                            {"round_prefer_ceil", Nearest::kRoundPreferCeil},
                                            {"floor", Nearest::kFloor},
                                            {"ceil", Nearest::kCeil}}));
    QUENCH_ASSIGN(float a, n.attrs.get_float("cubic_coeff_a", -0.75f, w));
    QUENCH_ASSIGN(int64_t ex, n.attrs.get_int("exclude_outside", 0, w));
    QUENCH_ASSIGN(int64_t aa, n.attrs.get_int("antialias", 0, w));
    QUENCH_ASSIGN(float ev, n.attrs.get_float("extrapolation_value", 0.0f, w));
    p.cubic_a = a;
    p.exclude_outside = ex != 0;
    p.antialias = aa != 0;
    p.extrapolation = ev;
    if (p.antialias && p.mode == Mode::kNearest)
      return error(StatusCode::kInvalidArgument, w, ": antialias applies to linear and cubic modes only");
  }

  // The axes the scales/sizes/roi speak of (opset 18); all dims otherwise.
  std::vector<int64_t> axes;
  const bool has_axes = n.attrs.has("axes");
  QUENCH_ASSIGN(axes, n.attrs.get_ints("axes", {}, w));
  if (!has_axes)
    for (int64_t d = 0; d < r; ++d) axes.push_back(d);
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (int64_t& a : axes) {
    QUENCH_ASSIGN(a, normalize_axis(a, r, n));
    if (seen[a]) return error(StatusCode::kInvalidArgument, w, ": axis ", a, " is repeated");
    seen[a] = true;
  }
  const size_t k = axes.size();

  std::vector<float> attr_scales;
  const std::vector<double>* scales = g.scales;
  std::vector<double> scales_holder;
  if (n.op_type == "Upsample" && before(n, 9)) {
    if (!n.attrs.has("scales")) return error(StatusCode::kInvalidArgument, w, ": required attribute 'scales' is missing");
    QUENCH_ASSIGN(attr_scales, n.attrs.get_floats("scales", {}, w));
    scales_holder.assign(attr_scales.begin(), attr_scales.end());
    scales = &scales_holder;
  }
  if (scales && g.sizes) return error(StatusCode::kInvalidArgument, w, ": give scales or sizes, not both");
  if (!scales && !g.sizes) return error(StatusCode::kInvalidArgument, w, ": one of scales and sizes is required");

  p.scale.assign(static_cast<size_t>(r), 1.0);
  p.out = is;
  if (scales) {
    if (scales->size() != k)
      return error(StatusCode::kInvalidArgument, w, ": scales has ", scales->size(), " values for ", k, " axes");
    for (size_t i = 0; i < k; ++i) {
      const double s = (*scales)[i];
      if (!(s > 0) || !std::isfinite(s))
        return error(StatusCode::kInvalidArgument, w, ": scale ", s, " on axis ", axes[i], " must be positive");
      const double o = std::floor(s * static_cast<double>(is[axes[i]]));
      if (o > static_cast<double>(int64_t{1} << 40))
        return error(StatusCode::kInvalidArgument, w, ": scale ", s, " makes axis ", axes[i], " too large");
      p.scale[axes[i]] = s;
      p.out[axes[i]] = static_cast<int64_t>(o);
    }
  } else {
    const std::vector<int64_t>& sizes = *g.sizes;
    if (sizes.size() != k)
      return error(StatusCode::kInvalidArgument, w, ": sizes has ", sizes.size(), " values for ", k, " axes");
    for (size_t i = 0; i < k; ++i) {
      const int64_t a = axes[i];
      if (sizes[i] < 0) return error(StatusCode::kInvalidArgument, w, ": size ", sizes[i], " on axis ", a, " is negative");
      if (is[a] == 0 && sizes[i] > 0)
        return error(StatusCode::kShapeError, w, ": cannot resize axis ", a, " from 0 elements to ", sizes[i]);
      p.out[a] = sizes[i];
      p.scale[a] = is[a] == 0 ? 1.0 : static_cast<double>(sizes[i]) / static_cast<double>(is[a]);
    }
    QUENCH_ASSIGN(std::string policy, n.attrs.get_string("keep_aspect_ratio_policy", "stretch", w));
    if (policy == "not_larger" || policy == "not_smaller") {
      // One scale for all the axes, the smallest (largest) of theirs; sizes rounded half up.
      double s = p.scale[axes.empty() ? 0 : axes[0]];
      for (int64_t a : axes) s = policy == "not_larger" ? std::min(s, p.scale[a]) : std::max(s, p.scale[a]);
      for (int64_t a : axes) {
        const double o = s * static_cast<double>(is[a]) + 0.5;
        if (o > static_cast<double>(int64_t{1} << 40))
          return error(StatusCode::kInvalidArgument, w, ": keep_aspect_ratio_policy makes axis ", a, " too large");
        p.scale[a] = s;
        p.out[a] = static_cast<int64_t>(o);
      }
    } else if (policy != "stretch") {
      return error(StatusCode::kUnsupported, w, ": keep_aspect_ratio_policy '", policy, "' is not supported");
    }
  }

  if (p.coord == Coord::kTfCropAndResize) {
    p.roi.resize(2 * static_cast<size_t>(r));
    for (int64_t d = 0; d < r; ++d) { p.roi[d] = 0.0; p.roi[r + d] = 1.0; }
    if (g.roi) {
      if (g.roi->size() != 2 * k)
        return error(StatusCode::kInvalidArgument, w, ": roi has ", g.roi->size(), " values; expected ", 2 * k);
      for (size_t i = 0; i < k; ++i) {
        p.roi[axes[i]] = (*g.roi)[i];
        p.roi[r + axes[i]] = (*g.roi)[k + i];
      }
    }
  }
  return p;
}

// ------------------------------------------------------------------------------------- taps

// Coordinate in the input of output coordinate x along one axis; `outside` for
// tf_crop_and_resize points outside the input (which take the extrapolation value).
double source_coord(const Params& p, int d, int64_t x_int, int64_t in, int64_t out_int, bool& outside) {
  const double x = static_cast<double>(x_int);
  const double scale = p.scale[d];
  const double in_w = static_cast<double>(in);
  const double out_w = scale * in_w;  // the reference's float "output width"
  outside = false;
  switch (p.coord) {
    case Coord::kAlignCorners: return out_w == 1 ? 0.0 : x * (in_w - 1) / (out_w - 1);
    case Coord::kAsymmetric: return x / scale;
    case Coord::kTfHalfPixelForNN: return (x + 0.5) / scale;
    case Coord::kPytorchHalfPixel: return out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case Coord::kHalfPixel: return (x + 0.5) / scale - 0.5;
    case Coord::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out_int) / out_w;
      const double center = in_w / 2;
      const double offset = center * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case Coord::kTfCropAndResize: {
      const size_t r = p.scale.size();
      const double r0 = p.roi[d], r1 = p.roi[r + d];
      double v = out_w == 1 ? (r1 - r0) * (in_w - 1) / 2 : x * (r1 - r0) * (in_w - 1) / (out_w - 1);
      v += r0 * (in_w - 1);
      outside = !(v >= 0 && v <= in_w - 1);
      return v;
    }
  }
  return x;
}

// Number of taps per output coordinate along axis d (before dropping zero weights).
int64_t tap_count(const Params& p, int d) {
  if (p.mode == Mode::kNearest || p.out[d] == 0 || !(p.scale[d] > 0)) return 1;
  const int64_t support = p.mode == Mode::kLinear ? 1 : 2;
  if (!p.antialias || p.scale[d] >= 1.0) return 2 * support;
  // The filter is stretched by 1/scale: indices floor(-support/scale)+1 .. -that+support.
  const double start = std::max(std::floor(-static_cast<double>(support) / p.scale[d]) + 1, -1e12);
  return 2 - 2 * static_cast<int64_t>(start);
}

// Taps of one axis: count[o] in [-1, T] (-1: extrapolate), then index and weight arrays of T
// per output coordinate.
struct AxisTaps {
  int64_t stride = 0;  // T
  int64_t* count = nullptr;
  int64_t* index = nullptr;
  double* weight = nullptr;
};

size_t axis_bytes(int64_t out, int64_t taps) {
  return static_cast<size_t>(out) * (sizeof(int64_t) * (1 + taps) + sizeof(double) * taps);
}

double cubic_kernel(double x, double A) {  // the Keys cubic, as the reference's antialias path
  x = std::fabs(x);
  if (x <= 1) return (A + 2) * x * x * x - (A + 3) * x * x + 1;
  if (x < 2) return A * x * x * x - 5 * A * x * x + 8 * A * x - 4 * A;
  return 0.0;
}

void build_taps(const Params& p, int d, int64_t in, int64_t out, AxisTaps& t, double* coeffs) {
  const int64_t T = t.stride;
  for (int64_t o = 0; o < out; ++o) {
    bool outside = false;
    double xo = source_coord(p, d, o, in, out, outside);
    if (outside) { t.count[o] = -1; continue; }
    // Far-off coordinates only ever read edge elements; bounding them keeps the casts defined.
    xo = std::clamp(xo, -1e12, 1e12);
    // The taps sit so that the ratio lies in (0, 1]: a coordinate on a sample puts weight 1 on it.
    const double fl = std::floor(xo);
    const bool on_sample = xo == fl;
    const int64_t base = static_cast<int64_t>(fl) - (on_sample ? 1 : 0);
    const double ratio = on_sample ? 1.0 : xo - fl;
    int64_t first = 0;  // offset of coeffs[0] from base
    if (p.mode == Mode::kNearest) {
      int64_t pick = base + 1;  // on a sample
      if (!on_sample) {
        switch (p.nearest) {
          case Nearest::kRoundPreferFloor: pick = ratio <= 0.5 ? base : base + 1; break;
          case Nearest::kRoundPreferCeil: pick = ratio < 0.5 ? base : base + 1; break;
          case Nearest::kFloor: pick = base; break;
          case Nearest::kCeil: pick = base + 1; break;
          case Nearest::kSimple: pick = p.scale[d] < 1.0 ? base + 1 : base; break;
        }
      }
      coeffs[0] = 1.0;
      first = pick - base;
    } else if (p.mode == Mode::kLinear && (!p.antialias || p.scale[d] >= 1.0)) {
      coeffs[0] = 1 - ratio;
      coeffs[1] = ratio;
    } else if (p.mode == Mode::kCubic && (!p.antialias || p.scale[d] >= 1.0)) {
      const double A = p.cubic_a, r = ratio, q = 1 - ratio;
      coeffs[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
      coeffs[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
      coeffs[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
      coeffs[3] = ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A;
      first = -1;
    } else {  // antialiased downsampling: the filter stretched by 1/scale, normalized
      const double s = p.scale[d];
      first = 1 - T / 2;
      double sum = 0;
      for (int64_t i = 0; i < T; ++i) {
        const double arg = s * (static_cast<double>(first + i) - ratio);
        coeffs[i] = p.mode == Mode::kLinear ? std::clamp(1 - std::fabs(arg), 0.0, 1.0) : cubic_kernel(arg, p.cubic_a);
        sum += coeffs[i];
      }
      for (int64_t i = 0; i < T; ++i) coeffs[i] /= sum;
    }
    const int64_t n = p.mode == Mode::kNearest ? 1 : T;
    if (p.exclude_outside) {
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t idx = base + first + i;
        if (idx < 0 || idx >= in) coeffs[i] = 0;
        sum += coeffs[i];
      }
      if (sum != 0)
        for (int64_t i = 0; i < n; ++i) coeffs[i] /= sum;
    }
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (coeffs[i] == 0 && p.mode != Mode::kNearest) continue;  // a zero weight adds nothing
      t.index[o * T + c] = std::clamp<int64_t>(base + first + i, 0, in - 1);  // edge padding
      t.weight[o * T + c] = coeffs[i];
      ++c;
    }
    t.count[o] = c;
  }
}

// Lays the per-axis tap tables out in `ws` (which holds workspace_size(p, is) bytes).
void build_all_taps(const Params& p, const Shape& is, void* ws, AxisTaps* taps) {
  auto* cur = static_cast<std::byte*>(ws);
  int64_t max_t = 1;
  for (size_t d = 0; d < is.size(); ++d) max_t = std::max(max_t, tap_count(p, static_cast<int>(d)));
  auto* coeffs = reinterpret_cast<double*>(cur);
  cur += sizeof(double) * static_cast<size_t>(max_t);
  for (size_t d = 0; d < is.size(); ++d) {
    AxisTaps& t = taps[d];
    const int64_t out = p.out[d];
    t.stride = tap_count(p, static_cast<int>(d));
    t.weight = reinterpret_cast<double*>(cur);
    cur += sizeof(double) * static_cast<size_t>(out * t.stride);
    t.count = reinterpret_cast<int64_t*>(cur);
    cur += sizeof(int64_t) * static_cast<size_t>(out);
    t.index = reinterpret_cast<int64_t*>(cur);
    cur += sizeof(int64_t) * static_cast<size_t>(out * t.stride);
    build_taps(p, static_cast<int>(d), is[d], out, t, coeffs);
  }
}

size_t workspace_size(const Params& p, const Shape& is) {
  int64_t max_t = 1;
  size_t bytes = 0;
  for (size_t d = 0; d < is.size(); ++d) {
    const int64_t t = tap_count(p, static_cast<int>(d));
    max_t = std::max(max_t, t);
    bytes += axis_bytes(p.out[d], t);
  }
  return bytes + sizeof(double) * static_cast<size_t>(max_t);
}

// Tap tables beyond this are refused (a hostile scale, not a real model), so that the sizes
// computed above stay far from overflow.
Status check_workspace(const NodeDesc& n, const Params& p, const Shape& is) {
  double bytes = 0;
  for (size_t d = 0; d < is.size(); ++d)
    bytes += static_cast<double>(p.out[d]) * (1 + 2 * static_cast<double>(tap_count(p, static_cast<int>(d)))) * 8;
  if (bytes > static_cast<double>(int64_t{1} << 34))
    return error(StatusCode::kUnsupported, n.where(), ": this resize needs more than 16 GiB of filter tables");
  return {};
}

// ------------------------------------------------------------------------------ the kernels

// Nearest: one tap per axis, so elements are copied as bytes (any dtype).
template <class T>
void run_nearest(const Params& p, const Shape& is, const AxisTaps* taps, const T* x, T* y, T extrapolated) {
  const int rank = static_cast<int>(is.size());
  const Index st = contiguous_strides(is);
  const int64_t total = shape_numel(p.out);
  parallel_for(total, 1 << 12, [&](int64_t b, int64_t e) {
    Index idx{};
    int64_t rem = b;
    for (int d = rank - 1; d >= 0; --d) {
      idx[d] = rem % p.out[d];
      rem /= p.out[d];
    }
    for (int64_t i = b; i < e; ++i) {
      int64_t off = 0;
      bool outside = false;
      for (int d = 0; d < rank; ++d) {
        const AxisTaps& t = taps[d];
        if (t.count[idx[d]] < 0) { outside = true; break; }
        off += t.index[idx[d] * t.stride] * st[d];
      }
      y[i] = outside ? extrapolated : x[off];
      for (int d = rank - 1; d >= 0; --d) {
        if (++idx[d] < p.out[d]) break;
        idx[d] = 0;
      }
    }
  });
}

template <class T>
T to_output(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    return saturate_cast<T>(std::nearbyint(v));
  }
}

// Linear and cubic: the sum over the product of each axis's taps.
template <class T>
void run_interp(const Params& p, const Shape& is, const AxisTaps* taps, const T* x, T* y) {
  const int rank = static_cast<int>(is.size());
  const Index st = contiguous_strides(is);
  const int64_t total = shape_numel(p.out);
  parallel_for(total, 1 << 10, [&](int64_t b, int64_t e) {
    Index idx{};
    int64_t rem = b;
    for (int d = rank - 1; d >= 0; --d) {
      idx[d] = rem % p.out[d];
      rem /= p.out[d];
    }
    for (int64_t i = b; i < e; ++i) {
      Index cnt{}, base{};
      bool outside = false, empty = false;
      for (int d = 0; d < rank; ++d) {
        cnt[d] = taps[d].count[idx[d]];
        base[d] = idx[d] * taps[d].stride;
        if (cnt[d] < 0) outside = true;
        if (cnt[d] == 0) empty = true;
      }
      double acc = 0;
      if (outside) {
        acc = p.extrapolation;
      } else if (!empty) {
        Index k{};  // odometer over the taps of every axis
        while (true) {
          double wgt = 1;
          int64_t off = 0;
          for (int d = 0; d < rank; ++d) {
            wgt *= taps[d].weight[base[d] + k[d]];
            off += taps[d].index[base[d] + k[d]] * st[d];
          }
          acc += wgt * static_cast<double>(x[off]);
          int d = rank - 1;
          for (; d >= 0; --d) {
            if (++k[d] < cnt[d]) break;
            k[d] = 0;
          }
          if (d < 0) break;
        }
      }
      y[i] = to_output<T>(acc);
      for (int d = rank - 1; d >= 0; --d) {
        if (++idx[d] < p.out[d]) break;
        idx[d] = 0;
      }
    }
  });
}

// ----------------------------------------------------------------------- infer, workspace, run

bool usable(const ValueDesc& v) { return v.present && shape_numel(v.shape) > 0; }

// Gathers the optional inputs' values at build time; scales and sizes fix the output shape and
// must be known, roi is read only when it is (it is needed at run time only).
Result<Params> params_from_desc(const NodeDesc& n, std::span<const ValueDesc> in, std::vector<double>& roi,
                                std::vector<double>& scales, std::vector<int64_t>& sizes) {
  const Slots s = slots_of(n);
  Given g;
  auto has = [&](int slot) { return slot >= 0 && in.size() > static_cast<size_t>(slot) && usable(in[slot]); };
  if (has(s.roi) && in[s.roi].constant) {
    QUENCH_ASSIGN(roi, constant_doubles(in[s.roi], n, "input 1 (roi)"));
    g.roi = &roi;
  }
  if (has(s.scales)) {
    QUENCH_ASSIGN(scales, constant_doubles(in[s.scales], n, "input " + std::to_string(s.scales) + " (scales)"));
    g.scales = &scales;
  }
  if (has(s.sizes)) {
    QUENCH_ASSIGN(sizes, constant_ints(in[s.sizes], n, "input 3 (sizes)"));
    g.sizes = &sizes;
  }
  return make_params(n, in[0].shape, g);
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  if (dtype_size(in[0].dtype) == 0)
    return error(StatusCode::kUnsupported, n.where(), ": element type ", dtype_name(in[0].dtype),
                 " cannot be held in a tensor");
  std::vector<double> roi, scales;
  std::vector<int64_t> sizes;
  QUENCH_ASSIGN(Params p, params_from_desc(n, in, roi, scales, sizes));
  QUENCH_TRY(check_workspace(n, p, in[0].shape));
  if (p.mode != Mode::kNearest && !dtype_is_integer(in[0].dtype) && in[0].dtype != DType::kF32 &&
      in[0].dtype != DType::kF64)
    return error(StatusCode::kUnsupported, n.where(), ": ", p.mode == Mode::kLinear ? "linear" : "cubic",
                 " interpolation of ", dtype_name(in[0].dtype), " is not supported by the CPU reference");
  out[0].dtype = in[0].dtype;
  out[0].shape = p.out;
  return {};
}

size_t workspace(const NodeDesc& n, std::span<const ValueDesc> in, std::span<const ValueDesc>) {
  std::vector<double> roi, scales;
  std::vector<int64_t> sizes;
  auto p = params_from_desc(n, in, roi, scales, sizes);
  return p.ok() && check_workspace(n, *p, in[0].shape).ok() ? workspace_size(*p, in[0].shape) : 0;
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void* ws) {
  const Slots s = slots_of(n);
  auto has = [&](int slot) {
    return slot >= 0 && in.size() > static_cast<size_t>(slot) && in[slot].present() && in[slot].numel() > 0;
  };
  auto doubles = [&](int slot) {
    std::vector<double> v(static_cast<size_t>(in[slot].numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = view_value_as_double(in[slot], static_cast<int64_t>(i));
    return v;
  };
  std::vector<double> roi, scales;
  std::vector<int64_t> sizes;
  Given g;
  if (has(s.roi)) { roi = doubles(s.roi); g.roi = &roi; }
  if (has(s.scales)) { scales = doubles(s.scales); g.scales = &scales; }
  if (has(s.sizes)) {
    QUENCH_ASSIGN(sizes, view_ints(in[s.sizes], n, "input 3 (sizes)"));
    g.sizes = &sizes;
  }
  const Shape& is = in[0].shape;
  QUENCH_ASSIGN(Params p, make_params(n, is, g));
  QUENCH_TRY(check_workspace(n, p, is));
  if (p.out != out[0].shape)
    return error(StatusCode::kInternal, n.where(), ": output is ", shape_str(out[0].shape), ", expected ",
                 shape_str(p.out));
  if (out[0].numel() == 0) return {};
  if (!ws) return error(StatusCode::kInternal, n.where(), ": no workspace");
  AxisTaps taps[kMaxRank];
  build_all_taps(p, is, ws, taps);
  if (is.empty()) {  // a scalar resizes to itself
    copy_elements(in[0].data, out[0].data, 1, in[0].dtype);
    return {};
  }
  if (p.mode == Mode::kNearest) {
    uint64_t bits = 0;
    store_value_as(p.extrapolation, in[0].dtype, &bits);
    return dispatch_by_size(in[0].dtype, n, [&](auto tag) -> Status {
      using T = decltype(tag);
      T ext;
      std::memcpy(&ext, &bits, sizeof(T));
      run_nearest<T>(p, is, taps, in[0].as<T>(), out[0].as<T>(), ext);
      return {};
    });
  }
  if (in[0].dtype == DType::kBool)
    return error(StatusCode::kUnsupported, n.where(), ": interpolation of bool is not supported");
  return dispatch_numeric(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    run_interp<T>(p, is, taps, in[0].as<T>(), out[0].as<T>());
    return {};
  });
}

const OpSchema kSchemas[] = {
    {"Resize", 1, 4, 1, 1, infer, run, workspace, false},
    {"Upsample", 1, 2, 1, 1, infer, run, workspace, false},
};

}  // namespace

std::span<const OpSchema> resize_schemas() { return kSchemas; }

}  // namespace quench::ops
