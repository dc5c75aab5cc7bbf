// Pooling: MaxPool (with the optional Indices output and storage_order), AveragePool
// (count_include_pad), GlobalAveragePool and GlobalMaxPool, over 1 to 6 spatial dims.
//
// The CPU reference computes each output on its own: it clips the window to the input in
// every dim first, then walks the positions left. Padding is never read: MaxPool ignores it,
// AveragePool divides by the positions inside the input, or with count_include_pad by those
// inside input plus pads (not the part of a ceil_mode window past the end pad, as ONNX
// Runtime and PyTorch do). A window with no input position gives the type's lowest value
// (Indices -1) for MaxPool and NaN (0/0) for AveragePool.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

enum class Kind { kMax, kAverage, kGlobalMax, kGlobalAverage };

Kind kind_of(std::string_view op) {
  if (op == "MaxPool") return Kind::kMax;
  if (op == "AveragePool") return Kind::kAverage;
  if (op == "GlobalMaxPool") return Kind::kGlobalMax;
  return Kind::kGlobalAverage;
}

struct PoolGeom {
  int64_t planes = 0;  // N * C
  Window win;
  int64_t in_numel = 1, out_numel = 1;  // per plane
};

Result<PoolGeom> geometry(const NodeDesc& n, const Shape& x) {
  const Kind kind = kind_of(n.op_type);
  const bool global = kind == Kind::kGlobalMax || kind == Kind::kGlobalAverage;
  const size_t min_rank = global ? 2 : 3;
  if (x.size() < min_rank || x.size() > kMaxRank)
    return error(StatusCode::kShapeError, n.where(), ": input has shape ", shape_str(x), "; ", n.op_type,
                 " needs [N, C, spatial...] with ", global ? 0 : 1, " to ", kMaxRank - 2, " spatial dims");
  PoolGeom g;
  g.planes = x[0] * x[1];
  const int rank = static_cast<int>(x.size()) - 2;
  const std::span<const int64_t> in(x.data() + 2, x.size() - 2);
  if (global) {
    g.win.rank = rank;
    for (int d = 0; d < rank; ++d) {
      g.win.in[d] = in[d];
      g.win.out[d] = 1;
    }
  } else {
    QUENCH_ASSIGN(WindowAttrs a, parse_window(n, rank, {}, true));
    QUENCH_ASSIGN(g.win, resolve_window(n, a, in));
  }
  for (int d = 0; d < rank; ++d) {
    g.in_numel *= g.win.in[d];
    // Huge pads can make the output plane unrepresentable; refuse before multiplying.
    if (g.win.out[d] != 0 && g.out_numel > (int64_t{1} << 40) / g.win.out[d])
      return error(StatusCode::kShapeError, n.where(), ": output spatial dims are too large to allocate");
    g.out_numel *= g.win.out[d];
  }
  return g;
}

Shape output_shape(const Shape& x, const PoolGeom& g) {
  Shape s{x[0], x[1]};
  for (int d = 0; d < g.win.rank; ++d) s.push_back(g.win.out[d]);
  return s;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  const Kind kind = kind_of(n.op_type);
  const DType t = in[0].dtype;
  // MaxPool also takes 8-bit integers (opset 12); the averages need a floating type.
  if (!dtype_is_float(t) && !(kind == Kind::kMax && (t == DType::kI8 || t == DType::kU8)))
    return error(StatusCode::kUnsupported, n.where(), ": input has element type ", dtype_name(t), ", which ", n.op_type,
                 " does not support");
  QUENCH_ASSIGN(PoolGeom g, geometry(n, in[0].shape));
  if (kind == Kind::kMax) {
    QUENCH_ASSIGN(int64_t order, int_attr(n, "storage_order", 0));
    if (order != 0 && order != 1)
      return error(StatusCode::kInvalidArgument, n.where(), ": storage_order must be 0 or 1, got ", order);
  }
  if (kind == Kind::kAverage) {
    QUENCH_ASSIGN(int64_t cip, int_attr(n, "count_include_pad", 0));
    if (cip != 0 && cip != 1)
      return error(StatusCode::kInvalidArgument, n.where(), ": count_include_pad must be 0 or 1, got ", cip);
  }
  out[0].dtype = t;
  out[0].shape = output_shape(in[0].shape, g);
  if (out.size() > 1 && out[1].present) {  // MaxPool's Indices
    out[1].dtype = DType::kI64;
    out[1].shape = out[0].shape;
  }
  return check_output_size(n, out[0].shape, out[0].dtype);
}

// The part of output `o`'s window that lies inside the input: kernel index range [lo, hi) per
// dim, and the window's first input position `start` (may be negative, in the padding).
struct Clipped {
  Index start{}, lo{}, hi{};
  bool empty = false;
};

Clipped clip(const Window& w, const Index& o) {
  Clipped c;
  for (int d = 0; d < w.rank; ++d) {
    c.start[d] = o[d] * w.stride[d] - w.pad_begin[d];
    c.lo[d] = std::max<int64_t>(0, ceil_div(-c.start[d], w.dilation[d]));
    c.hi[d] = std::min(w.kernel[d], ceil_div(w.in[d] - c.start[d], w.dilation[d]));
    c.empty = c.empty || c.lo[d] >= c.hi[d];
  }
  return c;
}

// Calls f(pos) with the spatial input index of every position of the clipped window, in
// row-major order.
template <class F>
void for_each_position(const Window& w, const Clipped& c, F&& f) {
  if (c.empty) return;
  Index k = c.lo, pos{};
  for (;;) {
    for (int d = 0; d < w.rank; ++d) pos[d] = c.start[d] + k[d] * w.dilation[d];
    f(pos);
    int d = w.rank - 1;
    for (; d >= 0; --d) {
      if (++k[d] < c.hi[d]) break;
      k[d] = c.lo[d];
    }
    if (d < 0) return;
  }
}

int64_t offset_of(const Window& w, const Index& pos) {
  int64_t off = 0;
  for (int d = 0; d < w.rank; ++d) off = off * w.in[d] + pos[d];
  return off;
}

// Offset with the first spatial dim fastest (storage_order=1, column major).
int64_t column_major_offset(const Window& w, const Index& pos) {
  int64_t off = 0;
  for (int d = w.rank - 1; d >= 0; --d) off = off * w.in[d] + pos[d];
  return off;
}

Index output_index(const Window& w, int64_t flat) {
  Index o{};
  for (int d = w.rank - 1; d >= 0; --d) {
    o[d] = flat % w.out[d];
    flat /= w.out[d];
  }
  return o;
}

template <class T>
void max_pool(const PoolGeom& g, bool column_major, const T* x, T* y, int64_t* indices) {
  const Window& w = g.win;
  int64_t window = 1;
  for (int d = 0; d < w.rank; ++d) window *= w.kernel[d];
  parallel_for(g.planes * g.out_numel, std::max<int64_t>(1, 4096 / window), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t plane = t / g.out_numel;
      const T* xp = x + plane * g.in_numel;
      const Clipped c = clip(w, output_index(w, t % g.out_numel));
      T best = std::numeric_limits<T>::lowest();
      Index best_pos{};
      bool found = false;
      for_each_position(w, c, [&](const Index& pos) {
        const T v = xp[offset_of(w, pos)];
        if (!found || v > best) {  // first maximum wins; NaN never replaces a number
          best = v;
          best_pos = pos;
          found = true;
        }
      });
      y[t] = best;
      if (indices)
        indices[t] = !found ? -1
                            : plane * g.in_numel +
                                  (column_major ? column_major_offset(w, best_pos) : offset_of(w, best_pos));
    }
  });
}

template <class T>
void average_pool(const PoolGeom& g, bool count_include_pad, const T* x, T* y) {
  const Window& w = g.win;
  int64_t window = 1;
  for (int d = 0; d < w.rank; ++d) window *= w.kernel[d];
  parallel_for(g.planes * g.out_numel, std::max<int64_t>(1, 4096 / window), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const T* xp = x + (t / g.out_numel) * g.in_numel;
      const Clipped c = clip(w, output_index(w, t % g.out_numel));
      double sum = 0.0;
      int64_t count = 0;
      for_each_position(w, c, [&](const Index& pos) {
        sum += static_cast<double>(xp[offset_of(w, pos)]);
        ++count;
      });
      if (count_include_pad) {
        // Window positions inside [-pad_begin, in + pad_end), the padded input.
        count = 1;
        for (int d = 0; d < w.rank; ++d) {
          const int64_t lo = std::max<int64_t>(0, ceil_div(-w.pad_begin[d] - c.start[d], w.dilation[d]));
          const int64_t hi = std::min(w.kernel[d], ceil_div(w.in[d] + w.pad_end[d] - c.start[d], w.dilation[d]));
          count *= std::max<int64_t>(0, hi - lo);
        }
      }
      y[t] = static_cast<T>(sum / static_cast<double>(count));
    }
  });
}

template <class T>
void global_pool(const PoolGeom& g, bool average, const T* x, T* y) {
  const int64_t inner = g.in_numel;
  parallel_for(g.planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * inner;
      if (average) {
        double sum = 0.0;
        for (int64_t i = 0; i < inner; ++i) sum += static_cast<double>(xp[i]);
        y[p] = static_cast<T>(sum / static_cast<double>(inner));  // NaN for an empty plane, like a mean of nothing
      } else {
        T best = std::numeric_limits<T>::lowest();
        for (int64_t i = 0; i < inner; ++i)
          if (i == 0 || xp[i] > best) best = xp[i];
        y[p] = best;
      }
    }
  });
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  const Kind kind = kind_of(n.op_type);
  QUENCH_ASSIGN(PoolGeom g, geometry(n, in[0].shape));
  switch (kind) {
    case Kind::kMax: {
      QUENCH_ASSIGN(int64_t order, int_attr(n, "storage_order", 0));
      int64_t* indices = out.size() > 1 && out[1].data ? out[1].as<int64_t>() : nullptr;
      return dispatch_numeric(in[0].dtype, n, [&](auto tag) -> Status {
        using T = decltype(tag);
        max_pool<T>(g, order == 1, in[0].as<T>(), out[0].as<T>(), indices);
        return {};
      });
    }
    case Kind::kAverage: {
      QUENCH_ASSIGN(int64_t cip, int_attr(n, "count_include_pad", 0));
      return dispatch_float(in[0].dtype, n, [&](auto tag) -> Status {
        using T = decltype(tag);
        average_pool<T>(g, cip == 1, in[0].as<T>(), out[0].as<T>());
        return {};
      });
    }
    case Kind::kGlobalMax:
    case Kind::kGlobalAverage:
      return dispatch_float(in[0].dtype, n, [&](auto tag) -> Status {
        using T = decltype(tag);
        global_pool<T>(g, kind == Kind::kGlobalAverage, in[0].as<T>(), out[0].as<T>());
        return {};
      });
  }
  return error(StatusCode::kInternal, n.where(), ": unknown pooling kind");
}

const OpSchema kSchemas[] = {
    {"MaxPool", 1, 1, 1, 2, infer, run, nullptr},
    {"AveragePool", 1, 1, 1, 1, infer, run, nullptr},
    {"GlobalMaxPool", 1, 1, 1, 1, infer, run, nullptr},
    {"GlobalAveragePool", 1, 1, 1, 1, infer, run, nullptr},
};

}  // namespace

std::span<const OpSchema> pool_schemas() { return kSchemas; }

}  // namespace quench::ops
