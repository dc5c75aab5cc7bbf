// quench.Int8Gemm and quench.Int8MatMul: INT8 matrix products, in the "quench" domain (made
// by the INT8 quantization pass; alpha, beta and any transposed X are folded away before).
//
//   Int8Gemm    X int8 [M, K], W int8 [K, N] (transB = 0) or [N, K] (transB = 1),
//               W_scale float32 [N], [B int32 [N]], [R [M, N]]
//   Int8MatMul  X int8 [..., K], W int8 [K, N], W_scale float32 [N], [B int32 [N]],
//               [R [..., N]]                    (a Linear layer over the leading dims)
//
// Output channels are W's N columns. The epilogue and its attributes are
// ops/quant_epilogue.h's. One task per output row; INT32 accumulators, exact in any order.
#include <algorithm>

#include "ops/op_util.h"
#include "ops/parallel.h"
#include "ops/quant_epilogue.h"
#include "ops/registry.h"
#include "ops/window.h"

namespace quench::ops {
namespace {

constexpr int64_t kTile = 256;
constexpr size_t kResidual = 4;

struct Dims {
  int64_t rows = 0, k = 0, n = 0;
  bool w_transposed = false;  // W is [N, K]
};

Result<Dims> dims_of(const NodeDesc& n, const Shape& x, const Shape& w) {
  Dims d;
  const bool gemm = n.op_type == "Int8Gemm";
  if (gemm) {
    QUENCH_ASSIGN(int64_t trans_a, int_attr(n, "transA", 0));
    QUENCH_ASSIGN(int64_t trans_b, int_attr(n, "transB", 0));
    if (trans_a != 0)
      return error(StatusCode::kUnsupported, n.where(), ": transA must be 0 (transpose X before quantizing)");
    d.w_transposed = trans_b != 0;
    if (x.size() != 2)
      return error(StatusCode::kShapeError, n.where(), ": X has shape ", shape_str(x), "; Int8Gemm needs [M, K]");
  } else if (x.empty() || x.size() > kMaxRank) {
    return error(StatusCode::kShapeError, n.where(), ": X has shape ", shape_str(x), "; Int8MatMul needs [..., K]");
  }
  if (w.size() != 2)
    return error(StatusCode::kShapeError, n.where(), ": W has shape ", shape_str(w), "; it must be a matrix");
  d.k = x.back();
  d.rows = 1;
  for (size_t i = 0; i + 1 < x.size(); ++i) d.rows *= x[i];
  const int64_t wk = d.w_transposed ? w[1] : w[0];
  d.n = d.w_transposed ? w[0] : w[1];
  if (wk != d.k)
    return error(StatusCode::kShapeError, n.where(), ": X has shape ", shape_str(x), " and W ", shape_str(w),
                 "; their K dims (", d.k, " and ", wk, ") differ");
  return d;
}

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  QUENCH_ASSIGN(Dims d, dims_of(n, in[0].shape, in[1].shape));
  out[0].shape = in[0].shape;
  out[0].shape.back() = d.n;
  QUENCH_TRY(check_quant_operands(n, in, d.n, d.k, kResidual, out[0]));
  return check_output_size(n, out[0].shape, out[0].dtype);
}

const void* data_or_null(std::span<const TensorView> in, size_t i) { return in.size() > i ? in[i].data : nullptr; }

void qgemm_cpu(const NodeDesc& n, const Dims& d, const QuantAttrs& a, const int8_t* x, const int8_t* w,
               const float* w_scale, const int32_t* bias, const void* residual, void* y) {
  const int64_t cost = std::max<int64_t>(1, d.n * d.k);
  const bool int8_out = a.out_dtype == DType::kI8;
  parallel_for(d.rows, std::max<int64_t>(1, (int64_t{1} << 16) / cost), [&](int64_t r_begin, int64_t r_end) {
    int32_t acc[kTile];
    for (int64_t r = r_begin; r < r_end; ++r) {
      const int8_t* xrow = x + r * d.k;
      for (int64_t j0 = 0; j0 < d.n; j0 += kTile) {
        const int64_t len = std::min(d.n, j0 + kTile) - j0;
        if (!d.w_transposed) {
          std::fill(acc, acc + len, 0);
          for (int64_t kk = 0; kk < d.k; ++kk) {
            const int32_t xv = xrow[kk];
            const int8_t* wrow = w + kk * d.n + j0;
            for (int64_t j = 0; j < len; ++j) acc[j] += xv * int32_t{wrow[j]};
          }
        } else {
          for (int64_t j = 0; j < len; ++j) {
            const int8_t* wrow = w + (j0 + j) * d.k;
            int32_t s = 0;
            for (int64_t kk = 0; kk < d.k; ++kk) s += int32_t{xrow[kk]} * int32_t{wrow[kk]};
            acc[j] = s;
          }
        }
        for (int64_t j = 0; j < len; ++j) {
          const int64_t c = j0 + j, e = r * d.n + c;
          // Recomputed per element: the multipliers are a few integer operations, and keeping
          // them per column on the stack would bound N.
          const ChannelQuant cq = channel_quant(n, a, w_scale[c], c).value();
          const int32_t b = bias ? bias[c] : 0;
          if (int8_out) {
            const int8_t* res = static_cast<const int8_t*>(residual);
            const int32_t total = quant::epilogue_accumulator(acc[j], b, res ? res[e] : 0, res != nullptr, cq.residual);
            static_cast<int8_t*>(y)[e] = epilogue_int8(a, cq, total);
          } else {
            const float* res = static_cast<const float*>(residual);
            const int32_t total = quant::epilogue_accumulator(acc[j], b, 0, false, cq.residual);
            static_cast<float*>(y)[e] = epilogue_float(a, cq, total, res ? res + e : nullptr);
          }
        }
      }
    }
  });
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void*) {
  QUENCH_ASSIGN(Dims d, dims_of(n, in[0].shape, in[1].shape));
  const void* residual = data_or_null(in, kResidual);
  QUENCH_ASSIGN(QuantAttrs a, read_quant_attrs(n, residual != nullptr));
  const float* w_scale = in[2].as<const float>();
  for (int64_t c = 0; c < d.n; ++c) QUENCH_TRY(channel_quant(n, a, w_scale[c], c).status());
  qgemm_cpu(n, d, a, in[0].as<const int8_t>(), in[1].as<const int8_t>(), w_scale,
            static_cast<const int32_t*>(data_or_null(in, 3)), residual, out[0].data);
  return {};
}

const OpSchema kSchemas[] = {
    {"Int8Gemm", 3, 5, 1, 1, infer, run, nullptr},
    {"Int8MatMul", 3, 5, 1, 1, infer, run, nullptr},
};

}  // namespace

std::span<const OpSchema> quant_gemm_schemas() { return kSchemas; }

}  // namespace quench::ops
