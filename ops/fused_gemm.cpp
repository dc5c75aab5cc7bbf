// Fused matrix products in the "quench" domain, made by the graph optimizer:
//
//   FusedGemm    A, B, [C], [R]   Gemm (its attributes: transA, transB, alpha, beta) + epilogue
//   FusedMatMul  A, B, [R]        MatMul + epilogue
//
// The epilogue (activation, residual R of the output's exact shape) follows ops/epilogue.h.
// The CPU reference runs the Gemm / MatMul schema's own reference and then the epilogue, so
// the result equals the unfused sequence up to float rounding. Floating types only.
#include <algorithm>

#include "ops/epilogue.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace quench::ops {
namespace {

// The ONNX op a fused op extends; looked up once (the registry is immutable).
const OpSchema& base_schema(std::string_view op_type) {
  static const OpSchema* gemm = find_schema("Gemm", "");
  static const OpSchema* matmul = find_schema("MatMul", "");
  return *(op_type == "FusedGemm" ? gemm : matmul);
}

// Inputs the base op takes: Gemm's A, B, C; MatMul's A, B.
size_t base_inputs(const NodeDesc& n, size_t given) {
  return std::min<size_t>(given, n.op_type == "FusedGemm" ? 3 : 2);
}
size_t residual_index(const NodeDesc& n) { return n.op_type == "FusedGemm" ? 3 : 2; }

Status infer(const NodeDesc& n, std::span<const ValueDesc> in, std::span<ValueDesc> out) {
  if (!dtype_is_float(in[0].dtype))
    return error(StatusCode::kUnsupported, n.where(), ": input has element type ", dtype_name(in[0].dtype), "; ",
                 n.op_type, " needs a floating type");
  QUENCH_TRY(base_schema(n.op_type).infer(n, in.first(base_inputs(n, in.size())), out));
  QUENCH_TRY(check_activation(n, kActivationAttrs));
  const size_t r = residual_index(n);
  if (in.size() > r && in[r].present) {
    if (in[r].dtype != out[0].dtype || in[r].shape != out[0].shape)
      return error(StatusCode::kShapeError, n.where(), ": the residual input is ", dtype_name(in[r].dtype),
                   shape_str(in[r].shape), " but the output is ", dtype_name(out[0].dtype), shape_str(out[0].shape),
                   "; they must match exactly");
    QUENCH_ASSIGN(int64_t after, int_attr(n, kResidualAfterAttr, 0));
    if (after != 0 && after != 1)
      return error(StatusCode::kInvalidArgument, n.where(), ": ", kResidualAfterAttr, " must be 0 or 1, got ", after);
  }
  return {};
}

Status run(const NodeDesc& n, std::span<const TensorView> in, std::span<const TensorView> out, void* ws) {
  QUENCH_ASSIGN(Activation act, read_activation(n, kActivationAttrs));
  QUENCH_ASSIGN(int64_t after, int_attr(n, kResidualAfterAttr, 0));
  QUENCH_TRY(base_schema(n.op_type).run_cpu(n, in.first(base_inputs(n, in.size())), out, ws));
  const size_t r = residual_index(n);
  const void* residual = in.size() > r ? in[r].data : nullptr;
  return apply_epilogue(n, out[0].dtype, out[0].data, residual, out[0].numel(), act, after != 0);
}

const OpSchema kSchemas[] = {
    {"FusedGemm", 2, 4, 1, 1, infer, run, nullptr},
    {"FusedMatMul", 2, 3, 1, 1, infer, run, nullptr},
};

}  // namespace

std::span<const OpSchema> fused_gemm_schemas() { return kSchemas; }

}  // namespace quench::ops
