// Gemm (Y = alpha * op(A) * op(B) + beta * C, C broadcast to [M, N]) and MatMul (numpy
// semantics: 1-D operands promoted to a matrix and the added dim removed afterwards, leading
// batch dims broadcast).
//
// Both run on one kernel: a strided matrix product, one task per output row, accumulating in
// double (64-bit for integer types). The inner loop walks whichever of B's dims is contiguous:
// a row-axpy over N when B is row-major, a dot product over K when B is transposed.
#include <algorithm>
#include <type_traits>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/registry.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

constexpr int64_t kTile = 256;  // output columns accumulated at once, per task, on the stack

// Element types ONNX allows: Gemm takes floating types (alpha and beta are floats), MatMul
// also 32- and 64-bit integers.
Status check_dtype(const NodeDesc& n, DType t, std::string_view what, bool integers) {
  if (integers)
    return require_dtype(t, {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI32, DType::kI64,
                             DType::kU32, DType::kU64},
                         n, what);
  return require_dtype(t, {DType::kF32, DType::kF64, DType::kF16, DType::kBF16}, n, what);
}

// One matrix product: out[i, j] = sum_k a[i*a_i + k*a_k] * b[k*b_k + j*b_j], for `batches`
// (M x N) outputs laid out one after another; a_off/b_off give each batch's operand offsets.
struct Product {
  int64_t batches = 0, m = 0, n = 0, k = 0;
  int64_t a_i = 0, a_k = 0, b_k = 0, b_j = 0;
};

template <class T, class Acc, class Epilogue, class Offsets>
void matmul_cpu(const Product& p, const T* a, const T* b, T* y, Offsets offsets, Epilogue epilogue) {
  const int64_t rows = p.batches * p.m;
  const int64_t cost = std::max<int64_t>(1, p.n * p.k);
  parallel_for(rows, std::max<int64_t>(1, (int64_t{1} << 16) / cost), [&](int64_t r_begin, int64_t r_end) {
    Acc acc[kTile];
    for (int64_t r = r_begin; r < r_end; ++r) {
      const int64_t bt = r / p.m, i = r % p.m;
      const auto [a_off, b_off] = offsets(bt);
      const T* arow = a + a_off + i * p.a_i;
      const T* bb = b + b_off;
      for (int64_t j0 = 0; j0 < p.n; j0 += kTile) {
        const int64_t j1 = std::min(p.n, j0 + kTile), len = j1 - j0;
        if (p.b_j == 1) {
          // B row-major: accumulate a[i,k] * B[k, j0:j1] into the row, contiguous in j.
          std::fill(acc, acc + len, Acc{0});
          for (int64_t kk = 0; kk < p.k; ++kk) {
            const Acc av = static_cast<Acc>(arow[kk * p.a_k]);
            const T* brow = bb + kk * p.b_k + j0;
            for (int64_t j = 0; j < len; ++j) acc[j] += av * static_cast<Acc>(brow[j]);
          }
        } else {
          // B transposed (or strided): one dot product per output, along B's k stride.
          for (int64_t j = 0; j < len; ++j) {
            const T* bcol = bb + (j0 + j) * p.b_j;
            Acc s{0};
            for (int64_t kk = 0; kk < p.k; ++kk) s += static_cast<Acc>(arow[kk * p.a_k]) * static_cast<Acc>(bcol[kk * p.b_k]);
            acc[j] = s;
          }
        }
        T* yrow = y + r * p.n + j0;
        for (int64_t j = 0; j < len; ++j) yrow[j] = epilogue(acc[j], i, j0 + j);
      }
    }
  });
}

// Integers accumulate in uint64_t so that overflow wraps (defined) instead of being undefined;
// the low bits, all the result keeps, are the same.
template <class T>
using AccOf = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

// ---- Gemm ----------------------------------------------------------------------------------

struct GemmAttrs {
  bool trans_a = false, trans_b = false;
  double alpha = 1.0, beta = 1.0;
};

Result<GemmAttrs> gemm_attrs(const NodeDesc& n) {
  GemmAttrs g;
  QUENCH_ASSIGN(int64_t ta, int_attr(n, "transA", 0));
  QUENCH_ASSIGN(int64_t tb, int_attr(n, "transB", 0));
  QUENCH_ASSIGN(float alpha, float_attr(n, "alpha", 1.0f));
  QUENCH_ASSIGN(float beta, float_attr(n, "beta", 1.0f));
  g.trans_a = ta != 0;
  g.trans_b = tb != 0;
  g.alpha = alpha;
  g.beta = beta;
  return g;
}

// Output [M, N] and K from A and B, checking their inner dims agree.
Result<Product> gemm_product(const NodeDesc& n, const GemmAttrs& g, const Shape& a, const Shape& b) {
  if (a.size() != 2 || b.size() != 2)
    return error(StatusCode::kShapeError, n.where(), ": A ", shape_str(a), " and B ", shape_str(b),
                 " must both be matrices (rank 2)");
  Product p;
  p.batches = 1;
  p.m = g.trans_a ? a[1] : a[0];
  p.k = g.trans_a ? a[0] : a[1];
  const int64_t kb = g.trans_b ? b[1] : b[0];
  p.n = g.trans_b ? b[0] : b[1];
  if (p.k != kb)
    return error(StatusCode::kShapeError, n.where(), ": A ", shape_str(a), (g.trans_a ? " (transposed)" : ""),
                 " has inner dim ", p.k, " but B ", shape_str(b), (g.trans_b ? " (transposed)" : ""), " has ", kb);
  p.a_i = g.trans_a ? 1 : a[1];
  p.a_k = g.trans_a ? a[1] : 1;
  p.b_k = g.trans_b ? 1 : b[1];
  p.b_j = g.trans_b ? b[1] : 1;
  return p;
}

// C must broadcast one way to [M, N]: rank <= 2, each dim 1 or equal.
Status check_c(const NodeDesc& n, const Shape& c, int64_t m, int64_t nn) {
  const int64_t y[2] = {m, nn};
  bool ok = c.size() <= 2;
  for (size_t i = 0; ok && i < c.size(); ++i) {
    const int64_t d = c[c.size() - 1 - i];
    ok = d == 1 || d == y[1 - i];
  }
  if (!ok)
    return error(StatusCode::kShapeError, n.where(), ": C has shape ", shape_str(c), ", which does not broadcast to [",
                 m, ",", nn, "]");
  return {};
}

// C's element strides along Y's rows and columns: 0 where C is broadcast.
std::pair<int64_t, int64_t> c_strides(const Shape& c) {
  const int64_t rows = c.size() == 2 ? c[0] : 1, cols = c.empty() ? 1 : c.back();
  return {rows == 1 ? 0 : cols, cols == 1 ? 0 : 1};
}

Status gemm_infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_TRY(check_dtype(n, in[0].dtype, "A", false));
  if (in[1].dtype != in[0].dtype)
    return error(StatusCode::kInvalidArgument, n.where(), ": B is ", dtype_name(in[1].dtype), " but A is ",
                 dtype_name(in[0].dtype));
  QUENCH_ASSIGN(GemmAttrs g, gemm_attrs(n));
  QUENCH_ASSIGN(Product p, gemm_product(n, g, in[0].shape, in[1].shape));
  const bool has_c = in.size() > 2 && in[2].present;
  if (has_c) {
    if (in[2].dtype != in[0].dtype)
      return error(StatusCode::kInvalidArgument, n.where(), ": C is ", dtype_name(in[2].dtype), " but A is ",
                   dtype_name(in[0].dtype));
    QUENCH_TRY(check_c(n, in[2].shape, p.m, p.n));
  } else if (n.opset > 0 && n.opset < 11) {
    return error(StatusCode::kInvalidArgument, n.where(), ": C is required before opset 11");
  }
  out[0].dtype = in[0].dtype;
  out[0].shape = {p.m, p.n};
  return check_output_size(n, out[0].shape, out[0].dtype);
}

Status gemm_run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(GemmAttrs g, gemm_attrs(n));
  QUENCH_ASSIGN(Product p, gemm_product(n, g, in[0].shape, in[1].shape));
  const TensorView* c = in.size() > 2 && in[2].data ? &in[2] : nullptr;
  if (c) QUENCH_TRY(check_c(n, c->shape, p.m, p.n));
  // Plain variables, not a structured binding: the lambda below captures them (clang 14 cannot).
  const std::pair<int64_t, int64_t> c_step = c ? c_strides(c->shape) : std::pair<int64_t, int64_t>{0, 0};
  const int64_t c_row = c_step.first, c_col = c_step.second;
  return dispatch_float(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    using Acc = double;
    const T* cv = c ? c->as<T>() : nullptr;
    auto offsets = [](int64_t) { return std::pair<int64_t, int64_t>{0, 0}; };
    auto epilogue = [&](Acc s, int64_t i, int64_t j) {
      double v = g.alpha * s;
      if (cv) v += g.beta * static_cast<double>(cv[i * c_row + j * c_col]);
      return static_cast<T>(v);
    };
    matmul_cpu<T, Acc>(p, in[0].as<T>(), in[1].as<T>(), out[0].as<T>(), offsets, epilogue);
    return {};
  });
}

// ---- MatMul --------------------------------------------------------------------------------

struct MatMulGeom {
  Product p;
  int batch_rank = 0;
  Index batch{};           // broadcast batch dims
  Index a_bst{}, b_bst{};  // per batch dim, element offset between A's (B's) matrices; 0: broadcast
  bool a_vector = false, b_vector = false;  // 1-D operands, whose promoted dim leaves the result
};

// Fixed arrays only, so that run allocates nothing.
Result<MatMulGeom> matmul_geometry(const NodeDesc& n, const Shape& a, const Shape& b) {
  if (a.empty() || b.empty())
    return error(StatusCode::kShapeError, n.where(), ": MatMul needs operands of rank >= 1, got A ", shape_str(a),
                 " and B ", shape_str(b));
  QUENCH_TRY(require_rank_at_most(a, n, "A"));
  QUENCH_TRY(require_rank_at_most(b, n, "B"));
  MatMulGeom g;
  Product& p = g.p;
  // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1].
  g.a_vector = a.size() == 1;
  g.b_vector = b.size() == 1;
  const int ra = g.a_vector ? 0 : static_cast<int>(a.size()) - 2;  // batch dims of each
  const int rb = g.b_vector ? 0 : static_cast<int>(b.size()) - 2;
  p.m = g.a_vector ? 1 : a[ra];
  p.k = a.back();
  const int64_t kb = g.b_vector ? b[0] : b[rb];
  p.n = g.b_vector ? 1 : b.back();
  if (kb != p.k)
    return error(StatusCode::kShapeError, n.where(), ": A ", shape_str(a), " has inner dim ", p.k, " but B ",
                 shape_str(b), " has ", kb);
  g.batch_rank = std::max(ra, rb);
  if (g.batch_rank + 2 > kMaxRank) return error(StatusCode::kUnsupported, n.where(), ": output rank exceeds ", kMaxRank);
  // Batch dims right-aligned and broadcast; strides in elements, built from the innermost out.
  int64_t a_acc = p.m * p.k, b_acc = p.k * p.n;
  p.batches = 1;
  for (int d = g.batch_rank - 1; d >= 0; --d) {
    const int ia = d - (g.batch_rank - ra), ib = d - (g.batch_rank - rb);
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return error(StatusCode::kShapeError, n.where(), ": batch dims of A ", shape_str(a), " and B ", shape_str(b),
                   " do not broadcast");
    g.batch[d] = da == 1 ? db : da;
    g.a_bst[d] = da == 1 ? 0 : a_acc;
    g.b_bst[d] = db == 1 ? 0 : b_acc;
    a_acc *= da;
    b_acc *= db;
    p.batches *= g.batch[d];
  }
  p.a_i = p.k;
  p.a_k = 1;
  p.b_k = p.n;
  p.b_j = 1;
  return g;
}

Status matmul_infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_TRY(check_dtype(n, in[0].dtype, "A", true));
  if (in[1].dtype != in[0].dtype)
    return error(StatusCode::kInvalidArgument, n.where(), ": B is ", dtype_name(in[1].dtype), " but A is ",
                 dtype_name(in[0].dtype));
  QUENCH_ASSIGN(MatMulGeom g, matmul_geometry(n, in[0].shape, in[1].shape));
  out[0].dtype = in[0].dtype;
  out[0].shape.assign(g.batch.begin(), g.batch.begin() + g.batch_rank);
  if (!g.a_vector) out[0].shape.push_back(g.p.m);
  if (!g.b_vector) out[0].shape.push_back(g.p.n);
  return check_output_size(n, out[0].shape, out[0].dtype);
}

Status matmul_run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(MatMulGeom g, matmul_geometry(n, in[0].shape, in[1].shape));
  const int nb = g.batch_rank;
  return dispatch_numeric(in[0].dtype, n, [&](auto tag) -> Status {
    using T = decltype(tag);
    using Acc = AccOf<T>;
    auto offsets = [&](int64_t bt) {
      int64_t ao = 0, bo = 0;
      for (int d = nb - 1; d >= 0; --d) {
        const int64_t idx = bt % g.batch[d];
        bt /= g.batch[d];
        ao += idx * g.a_bst[d];
        bo += idx * g.b_bst[d];
      }
      return std::pair<int64_t, int64_t>{ao, bo};
    };
    auto epilogue = [](Acc s, int64_t, int64_t) { return static_cast<T>(s); };
    matmul_cpu<T, Acc>(g.p, in[0].as<T>(), in[1].as<T>(), out[0].as<T>(), offsets, epilogue);
    return {};
  });
}

const OpSchema kSchemas[] = {
    {"Gemm", 2, 3, 1, 1, gemm_infer, gemm_run, nullptr},
    {"MatMul", 2, 2, 1, 1, matmul_infer, matmul_run, nullptr},
};

}  // namespace

std::span<const OpSchema> gemm_schemas() { return kSchemas; }

}  // namespace quench::ops
