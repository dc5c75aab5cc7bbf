// The CUDA kernel for the matrix products (ops/gemm.cpp, ops/fused_gemm.cpp): Gemm, MatMul,
// FusedGemm and FusedMatMul with a constant 2-D weight run kernels/gemm, C = epilogue(A . B^T).
//
// A is the activation in ONNX order, viewed as [M, K] (MatMul's leading dims folded into M); the
// weight is packed once at build as B [N, K] float16 (transposed when the model's is [K, N]),
// with Gemm's alpha folded in, and Gemm's C (beta folded in) becomes the float32 bias when it
// broadcasts along rows ([N], [1, N] or a scalar). A HardSigmoid activation without a residual is
// folded into the weights and bias as in ops/conv_gpu.cpp. The kernel needs K to be a multiple
// of 8; other products (transA, a per-row C) have no CUDA kernel yet.
//
// A MatMul of two activations (attention's Q.K^T and its product with V) runs
// kernels/gemm/batched_matmul on ONNX-order operands: one product per entry of the broadcast
// leading dims, where each operand's leading dims are either the output's or all 1.
#include <sstream>

#include "kernels/gemm/batched_matmul.cuh"
#include "kernels/gemm/gemm.cuh"
#include "ops/gpu_util.h"
#include "ops/op_util.h"

namespace quench::ops {
namespace {

namespace kg = kernels::gemm;

struct Product {
  int64_t m = 0, n = 0, k = 0;
  bool trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
  size_t bias_input = SIZE_MAX, residual_input = SIZE_MAX;
  kernels::EpilogueParams epilogue;
  float scale = 1.0f, shift = 0.0f;  // folded HardSigmoid
};

bool is_gemm(std::string_view op) { return op == "Gemm" || op == "FusedGemm"; }
bool fused(std::string_view op) { return op == "FusedGemm" || op == "FusedMatMul"; }

Result<Product> product(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  Product p;
  const GpuValueDesc &a = in[0], &b = in[1];
  if (a.dtype != DType::kF16) return gpu_unsupported(n, "element type ", dtype_name(a.dtype));
  if (!b.constant || b.shape.size() != 2) return gpu_unsupported(n, "a product whose B is not a constant matrix");
  if (a.shape.size() < 2) return gpu_unsupported(n, "a 1-D A");
  if (is_gemm(n.op_type)) {
    QUENCH_ASSIGN(int64_t ta, int_attr(n, "transA", 0));
    QUENCH_ASSIGN(int64_t tb, int_attr(n, "transB", 0));
    QUENCH_ASSIGN(p.alpha, float_attr(n, "alpha", 1.0f));
    QUENCH_ASSIGN(p.beta, float_attr(n, "beta", 1.0f));
    if (ta != 0) return gpu_unsupported(n, "transA = 1");
    p.trans_b = tb != 0;
    if (in.size() > 2 && in[2].present) p.bias_input = 2;
  }
  p.k = a.shape.back();
  p.m = shape_numel(a.shape) / std::max<int64_t>(p.k, 1);
  p.n = p.trans_b ? b.shape[0] : b.shape[1];
  if ((p.trans_b ? b.shape[1] : b.shape[0]) != p.k) return gpu_unsupported(n, "these operand shapes");
  if (p.bias_input != SIZE_MAX) {
    const GpuValueDesc& c = in[p.bias_input];
    const int64_t cn = shape_numel(c.shape);
    const bool row = cn == 1 || (cn == p.n && c.shape.back() == p.n);
    if (!c.constant || !row) return gpu_unsupported(n, "a C that is not a constant broadcast along rows");
  }
  Activation act;
  bool after = false;
  if (fused(n.op_type)) {
    QUENCH_ASSIGN(act, read_activation(n, kActivationAttrs));
    QUENCH_ASSIGN(int64_t ra, int_attr(n, kResidualAfterAttr, 0));
    after = ra != 0;
    const size_t r = n.op_type == "FusedGemm" ? 3 : 2;
    if (in.size() > r && in[r].present) p.residual_input = r;
  }
  if (act.kind == ActKind::kHardSigmoid) {
    if (p.residual_input != SIZE_MAX) return gpu_unsupported(n, "HardSigmoid with a residual input");
    p.scale = static_cast<float>(act.params.alpha);
    p.shift = static_cast<float>(act.params.beta);
    act = Activation{};
    act.kind = ActKind::kClip;
    act.params.lo = 0.0;
    act.params.hi = 1.0;
  }
  QUENCH_ASSIGN(p.epilogue, kernel_epilogue(n, act, after));
  return p;
}

namespace kb = kernels::batched_matmul;

bool activation_product(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  return n.op_type == "MatMul" && in.size() == 2 && !in[1].constant;
}

// The batched product of MatMul(A, B) with an activation B.
Result<kb::BatchedMatMulArgs<__half>> batched_args(const NodeDesc& n, std::span<const GpuValueDesc> in) {
  const GpuValueDesc &a = in[0], &b = in[1];
  if (a.dtype != DType::kF16 || b.dtype != DType::kF16)
    return gpu_unsupported(n, "element types ", dtype_name(a.dtype), " x ", dtype_name(b.dtype));
  if (a.shape.size() < 2 || b.shape.size() < 2) return gpu_unsupported(n, "a 1-D operand of a product of activations");
  kb::BatchedMatMulArgs<__half> g;
  g.m = a.shape[a.shape.size() - 2];
  g.k = a.shape.back();
  g.n = b.shape.back();
  if (b.shape[b.shape.size() - 2] != g.k) return gpu_unsupported(n, "these operand shapes");
  // The output's leading dims: the two operands' broadcast (ONNX MatMul follows numpy).
  const Shape lead_a(a.shape.begin(), a.shape.end() - 2), lead_b(b.shape.begin(), b.shape.end() - 2);
  const size_t rank = std::max(lead_a.size(), lead_b.size());
  Shape lead(rank, 1);
  auto dim = [&](const Shape& s, size_t i) { return i + s.size() < rank ? int64_t{1} : s[i + s.size() - rank]; };
  for (size_t i = 0; i < rank; ++i) lead[i] = std::max(dim(lead_a, i), dim(lead_b, i));
  g.batch = shape_numel(lead);
  auto stride = [&](const Shape& s, int64_t matrix) -> Result<int64_t> {
    if (shape_numel(s) == 1) return int64_t{0};
    for (size_t i = 0; i < rank; ++i)
      if (dim(s, i) != lead[i]) return gpu_unsupported(n, "leading dims that broadcast in part");
    return matrix;
  };
  QUENCH_ASSIGN(g.stride_a, stride(lead_a, g.m * g.k));
  QUENCH_ASSIGN(g.stride_b, stride(lead_b, g.k * g.n));
  return g;
}

Status prepare_batched(const GpuPrepareArgs& a) {
  QUENCH_ASSIGN(auto g, batched_args(a.node, a.inputs));
  g.a = probe_ptr<__half>(0);
  g.b = probe_ptr<__half>(1);
  g.c = probe_ptr<__half>(2);
  return kb::can_implement(g).with_context(a.node.where());
}

Result<GpuLaunch> bind_batched(const GpuBindArgs& a) {
  QUENCH_ASSIGN(auto g, batched_args(a.node, descs_of(a.inputs)));
  g.a = half_ptr(a.inputs[0].data);
  g.b = half_ptr(a.inputs[1].data);
  g.c = half_ptr(a.outputs[0].data);
  QUENCH_TRY(kb::can_implement(g).with_context(a.node.where()));
  return GpuLaunch([g](cudaStream_t stream) { return kb::run(g, nullptr, stream); });
}

kg::GemmArgs<__half> gemm_args(const Product& p) {
  kg::GemmArgs<__half> g;
  g.m = p.m;
  g.n = p.n;
  g.k = p.k;
  g.epilogue = p.epilogue;
  return g;
}

// Names the transform of a weight (with its shape, since reshaped views share their bytes).
std::string affine_tag(const char* base, const Product& p, const Tensor& t) {
  std::ostringstream os;
  os << base << shape_str(t.shape()) << ".alpha(" << p.alpha << ").beta(" << p.beta << ")";
  if (p.scale != 1.0f || p.shift != 0.0f) os << ".affine(" << p.scale << "," << p.shift << ")";
  return os.str();
}

Status prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  const NodeDesc& n = a.node;
  if (activation_product(n, a.inputs)) return prepare_batched(a);
  QUENCH_ASSIGN(Product p, product(n, a.inputs));
  kg::GemmArgs<__half> g = gemm_args(p);
  g.a = probe_ptr<__half>(0);
  g.b = probe_ptr<__half>(1);
  g.c = probe_ptr<__half>(2);
  QUENCH_TRY(kg::can_implement(g).with_context(n.where()));
  out.persistent_bytes = kg::workspace_bytes(g, a.multiprocessors);

  const Tensor& bt = *a.inputs[1].constant;
  QUENCH_ASSIGN(int wi, find_or_add_weight(a.weights, bt.data(), affine_tag(p.trans_b ? "gemm.nk" : "gemm.kn->nk", p, bt),
                                           [&]() -> Result<std::vector<std::byte>> {
    QUENCH_ASSIGN(std::vector<float> f, host_floats(n, bt));
    std::vector<float> nk(f.size());
    for (int64_t j = 0; j < p.n; ++j)
      for (int64_t kk = 0; kk < p.k; ++kk)
        nk[j * p.k + kk] = (p.trans_b ? f[j * p.k + kk] : f[kk * p.n + j]) * p.alpha * p.scale;
    return as_bytes_vector(to_half_bits(nk));
  }));
  out.weights.push_back(wi);
  out.claim(1);
  if (p.bias_input == SIZE_MAX && p.shift == 0.0f) {
    out.weights.push_back(-1);
    return {};
  }
  const void* source = p.bias_input != SIZE_MAX ? a.inputs[p.bias_input].constant->data() : bt.data();
  QUENCH_ASSIGN(int bi, find_or_add_weight(a.weights, source, affine_tag("gemm.bias.f32", p, p.bias_input != SIZE_MAX ? *a.inputs[p.bias_input].constant : bt),
                                           [&]() -> Result<std::vector<std::byte>> {
    std::vector<float> bias(static_cast<size_t>(p.n), 0.0f);
    if (p.bias_input != SIZE_MAX) {
      QUENCH_ASSIGN(std::vector<float> c, host_floats(n, *a.inputs[p.bias_input].constant));
      for (int64_t j = 0; j < p.n; ++j) bias[j] = c[c.size() == 1 ? 0 : j] * p.beta;
    }
    for (float& v : bias) v = v * p.scale + p.shift;
    return as_bytes_vector(bias);
  }));
  out.weights.push_back(bi);
  if (p.bias_input != SIZE_MAX) out.claim(p.bias_input);
  return {};
}

Result<GpuLaunch> bind(const GpuBindArgs& a) {
  const NodeDesc& n = a.node;
  if (activation_product(n, descs_of(a.inputs))) return bind_batched(a);
  QUENCH_ASSIGN(Product p, product(n, descs_of(a.inputs)));
  kg::GemmArgs<__half> g = gemm_args(p);
  g.a = half_ptr(a.inputs[0].data);
  g.b = static_cast<const __half*>(a.weights[0]);
  g.bias = static_cast<const float*>(a.weights[1]);
  g.c = half_ptr(a.outputs[0].data);
  if (p.residual_input != SIZE_MAX) g.residual = half_ptr(a.inputs[p.residual_input].data);
  QUENCH_TRY(kg::can_implement(g).with_context(n.where()));
  const size_t need = kg::workspace_bytes(g);
  if (need > a.persistent_bytes)
    return error(StatusCode::kInternal, n.where(), ": the split-K workspace holds ", a.persistent_bytes,
                 " bytes; the product needs ", need);
  void* ws = a.persistent;
  return GpuLaunch([g, ws](cudaStream_t stream) { return kg::run(g, ws, stream); });
}

const GpuOp kOps[] = {
    {"Gemm", "", nullptr, prepare, bind},
    {"MatMul", "", nullptr, prepare, bind},
    {"FusedGemm", "quench", nullptr, prepare, bind},
    {"FusedMatMul", "quench", nullptr, prepare, bind},
};

}  // namespace

std::span<const GpuOp> gemm_gpu_ops() { return kOps; }

}  // namespace quench::ops
