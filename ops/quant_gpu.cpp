// The CUDA kernels for the INT8 family (ops/quant_conv.cpp, ops/quant_gemm.cpp,
// ops/quant_convert.cpp), all in the "quench" domain:
//
//   Int8Conv              kernels/quant/int8_depthwise for the depthwise form the FP16 backend
//                         also runs on kernels/depthwise (group = C = Cout, square 3x3 / 5x5,
//                         equal strides 1 or 2, no dilation); every other 2-D form on
//                         kernels/quant/int8_conv (implicit GEMM on INT8 tensor cores)
//   Int8Gemm, Int8MatMul  kernels/quant/int8_gemm with a constant weight; a K that is not a
//                         multiple of 16 (the GEMM reads X rows as 16-byte vectors) runs as a
//                         1x1 convolution on int8_conv's byte gather instead
//   Int8Quantize          kernels/quant/int8_convert: float16 -> int8
//   Int8Dequantize        kernels/quant/int8_convert: int8 -> float16
//
// Operands on the device: INT8 values are int8 (NHWC when 4-D, engine/cuda/layout.h), float
// values float16. A product's output is int8 (requantized) or, with output_type float32,
// float16: the kernels' Out is int8_t or __half, chosen by the output's device dtype. A float
// residual is then float16 as well.
//
// Weights are packed once at build through the WeightSink in the kernels' formats
// (int8::conv::pack_weights, depthwise [K][K][C], int8::gemm::pack_weights). The epilogue's
// per-channel table (bias, requantization and residual multipliers, dequantization scale) is made
// on the host by int8::make_epilogue from the node's attributes and its constant W_scale and B,
// and every entry is then checked against ops::channel_quant, the function the CPU INT8
// reference (ops/quant_epilogue.cpp) derives its constants with: a table that differs from the
// reference's constants fails the build naming the node, so the two can never drift apart.
#include <cmath>
#include <cstring>
#include <sstream>

#include "kernels/quant/int8_conv.cuh"
#include "kernels/quant/int8_convert.cuh"
#include "kernels/quant/int8_depthwise.cuh"
#include "kernels/quant/int8_epilogue.cuh"
#include "kernels/quant/int8_gemm.cuh"
#include "ops/conv.h"
#include "ops/conv_gpu_shape.h"
#include "ops/gpu_util.h"
#include "ops/op_util.h"
#include "ops/quant_epilogue.h"

namespace quench::ops {
namespace {

namespace ki = kernels::int8;
namespace kqc = kernels::int8::conv;
namespace kqg = kernels::int8::gemm;
namespace kqd = kernels::int8::depthwise;

constexpr size_t kWScale = 2, kBias = 3, kResidual = 4;

bool has(std::span<const GpuValueDesc> in, size_t i) { return i < in.size() && in[i].present; }

// How one INT8 product runs, decided from its node and operand descriptions.
enum class Kind { kConv, kDepthwise, kGemm };

struct Product {
  Kind kind = Kind::kConv;
  kqc::ConvShape shape;          // kConv, kDepthwise (a GEMM with K % 16 != 0 as a 1x1 conv)
  int64_t m = 0, k = 0, n = 0;   // kGemm: rows, reduction, output channels
  bool w_nk = false;             // the GEMM's W is [N, K] (Int8Gemm transB = 1)
  bool gemm_node = false;        // Int8Gemm / Int8MatMul (else Int8Conv)
  int64_t channels = 0;          // output channels
  DType out = DType::kI8;        // the output's device dtype: kI8 or kF16
  bool residual = false;
  ki::EpilogueSpec spec;
};

Result<Product> conv_product(const NodeDesc& n, std::span<const GpuValueDesc> in, Product p) {
  if (in[0].layout != GpuLayout::kNHWC || in[0].shape.size() != 4)
    return gpu_unsupported(n, "an INT8 convolution over a ", in[0].shape.size(), "-D ",
                           gpu_layout_name(in[0].layout), " input (2-D NHWC only)");
  QUENCH_ASSIGN(ConvGeom g, conv_geometry(n, in[0].shape, in[1].shape));
  QUENCH_ASSIGN(p.shape, kernel_conv_shape(n, g));
  p.kind = depthwise_form(p.shape) ? Kind::kDepthwise : Kind::kConv;
  p.channels = g.out_ch;
  return p;
}

Result<Product> gemm_product(const NodeDesc& n, std::span<const GpuValueDesc> in, Product p) {
  p.gemm_node = true;
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  if (in[0].layout != GpuLayout::kLogical)
    return gpu_unsupported(n, "an INT8 matrix product over an NHWC input");
  if (n.op_type == "Int8Gemm") {
    QUENCH_ASSIGN(int64_t trans_a, int_attr(n, "transA", 0));
    QUENCH_ASSIGN(int64_t trans_b, int_attr(n, "transB", 0));
    if (trans_a != 0) return gpu_unsupported(n, "transA = 1");
    p.w_nk = trans_b != 0;
  }
  if (x.empty() || w.size() != 2) return gpu_unsupported(n, "X ", shape_str(x), " with W ", shape_str(w));
  p.k = x.back();
  p.m = 1;
  for (size_t i = 0; i + 1 < x.size(); ++i) p.m *= x[i];
  p.n = p.w_nk ? w[0] : w[1];
  if ((p.w_nk ? w[1] : w[0]) != p.k) return gpu_unsupported(n, "X ", shape_str(x), " with W ", shape_str(w));
  p.channels = p.n;
  if (p.k % 16 == 0) {
    p.kind = Kind::kGemm;
    return p;
  }
  // X rows of K bytes are not 16-byte vectors: a 1x1 convolution over [m, 1, 1, K] (byte gather).
  p.kind = Kind::kConv;
  p.shape.n = p.m;
  p.shape.h = p.shape.w = 1;
  p.shape.c = p.k;
  p.shape.out_c = p.n;
  return p;
}

Result<Product> product_of(const NodeDesc& n, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc> out) {
  Product p;
  if (in[0].dtype != DType::kI8) return gpu_unsupported(n, "an input of element type ", dtype_name(in[0].dtype));
  if (!in[1].constant) return gpu_unsupported(n, "an INT8 product whose weight is not a constant");
  if (in[1].constant->dtype() != DType::kI8) return gpu_unsupported(n, "a weight of element type ", dtype_name(in[1].constant->dtype()));
  if (!has(in, kWScale) || !in[kWScale].constant) return gpu_unsupported(n, "weight scales that are not a constant");
  if (has(in, kBias) && !in[kBias].constant) return gpu_unsupported(n, "a bias that is not a constant");
  if (n.op_type == "Int8Conv") {
    QUENCH_ASSIGN(p, conv_product(n, in, p));
  } else {
    QUENCH_ASSIGN(p, gemm_product(n, in, p));
  }
  p.out = out[0].dtype;
  if (p.out != DType::kI8 && p.out != DType::kF16)
    return gpu_unsupported(n, "an output of element type ", dtype_name(p.out));
  p.residual = has(in, kResidual);
  if (p.residual && (in[kResidual].dtype != p.out || in[kResidual].shape != out[0].shape ||
                     in[kResidual].layout != out[0].layout))
    return gpu_unsupported(n, "a residual input of another type, shape or layout than the output");
  if (p.kind != Kind::kGemm && p.gemm_node && out[0].layout != GpuLayout::kLogical)
    return gpu_unsupported(n, "an NHWC output of a matrix product");
  if ((p.kind == Kind::kConv || p.kind == Kind::kDepthwise) && !p.gemm_node && out[0].layout != GpuLayout::kNHWC)
    return gpu_unsupported(n, "a convolution output in ", gpu_layout_name(out[0].layout), " layout");
  QUENCH_ASSIGN(QuantAttrs a, read_quant_attrs(n, p.residual));
  if ((a.out_dtype == DType::kI8) != (p.out == DType::kI8))
    return error(StatusCode::kInternal, n.where(), ": output_type and the output's device type ",
                 dtype_name(p.out), " disagree");
  p.spec.x_scale = a.x_scale;
  p.spec.y_scale = a.y_scale;
  p.spec.r_scale = a.r_scale;
  p.spec.output = p.out == DType::kI8 ? ki::Output::kInt8 : ki::Output::kFloat16;
  QUENCH_ASSIGN(p.spec.activation, kernel_epilogue(n, a.act, a.residual_after));
  return p;
}

// The per-tensor epilogue and the channel table of a product, from its constant W_scale and B;
// every channel's constants checked against the CPU reference's own derivation.
struct EpilogueTable {
  ki::Epilogue epilogue;
  std::vector<int32_t> table;
};

Result<EpilogueTable> epilogue_table(const NodeDesc& n, const Product& p, std::span<const GpuValueDesc> in) {
  const Tensor& ws = *in[kWScale].constant;
  if (ws.dtype() != DType::kF32 || ws.numel() != p.channels)
    return gpu_unsupported(n, "weight scales of type ", dtype_name(ws.dtype()), shape_str(ws.shape()));
  std::vector<float> scale(static_cast<size_t>(p.channels));
  std::memcpy(scale.data(), ws.data(), scale.size() * sizeof(float));
  std::vector<int32_t> bias;
  if (has(in, kBias)) {
    const Tensor& b = *in[kBias].constant;
    if (b.dtype() != DType::kI32 || b.numel() != p.channels)
      return gpu_unsupported(n, "a bias of type ", dtype_name(b.dtype()), shape_str(b.shape()));
    bias.resize(static_cast<size_t>(p.channels));
    std::memcpy(bias.data(), b.data(), bias.size() * sizeof(int32_t));
  }
  EpilogueTable t;
  t.table.assign(ki::table_words(p.channels), 0);
  QUENCH_TRY(ki::make_epilogue(p.spec, p.channels, scale.data(), bias.empty() ? nullptr : bias.data(), &t.epilogue,
                               t.table.data())
                 .with_context(n.where()));
  // The reference's constants, channel by channel (ops/quant_epilogue.h).
  QUENCH_ASSIGN(QuantAttrs a, read_quant_attrs(n, p.residual));
  const int64_t stride = ki::table_stride(p.channels);
  const bool int8_out = p.out == DType::kI8;
  for (int64_t c = 0; c < p.channels; ++c) {
    QUENCH_ASSIGN(ChannelQuant cq, channel_quant(n, a, scale[static_cast<size_t>(c)], c));
    int32_t dequant_bits = 0;
    std::memcpy(&dequant_bits, &cq.dequant, sizeof(dequant_bits));
    const int32_t* tab = t.table.data();
    bool same = tab[ki::kBias * stride + c] == (bias.empty() ? 0 : bias[static_cast<size_t>(c)]) &&
                tab[ki::kDequant * stride + c] == dequant_bits;
    if (int8_out) {
      same = same && tab[ki::kRequantMult * stride + c] == cq.requant.mult &&
             tab[ki::kRequantShift * stride + c] == cq.requant.shift;
      if (p.residual)
        same = same && tab[ki::kResidualMult * stride + c] == cq.residual.mult &&
               tab[ki::kResidualShift * stride + c] == cq.residual.shift;
      if (a.int_clamp) same = same && t.epilogue.int_clamp && t.epilogue.lo == cq.lo && t.epilogue.hi == cq.hi;
    }
    if (!same)
      return error(StatusCode::kInternal, n.where(), ": the GPU epilogue's constants of output channel ", c,
                   " differ from the CPU INT8 reference's");
  }
  return t;
}

std::string table_transform(const NodeDesc& n, const Product& p, std::span<const GpuValueDesc> in) {
  std::ostringstream os;
  os.precision(9);
  const auto& act = p.spec.activation;
  os << "int8.table[" << p.channels << "] x" << p.spec.x_scale << " y" << p.spec.y_scale << " r" << p.spec.r_scale
     << " o" << static_cast<int>(p.spec.output) << " a" << static_cast<int>(act.activation) << "," << act.alpha << ","
     << act.clip_min << "," << act.clip_max << "," << act.residual_after_activation << " b"
     << (has(in, kBias) ? in[kBias].constant->data() : nullptr);
  return os.str();
}

std::string weight_transform(const Product& p, const Tensor& w) {
  std::ostringstream os;
  switch (p.kind) {
    case Kind::kDepthwise: os << "int8.depthwise.kkc"; break;
    case Kind::kGemm: os << "int8.gemm.packed" << (p.w_nk ? ".nk" : ".kn"); break;
    case Kind::kConv: os << "int8.conv.packed" << (p.gemm_node && !p.w_nk ? ".kn" : ""); break;
  }
  os << shape_str(w.shape());
  return os.str();
}

Result<std::vector<std::byte>> pack(const NodeDesc& n, const Product& p, const Tensor& wt) {
  const auto* w = static_cast<const int8_t*>(wt.data());
  switch (p.kind) {
    case Kind::kDepthwise: {  // ONNX [C, 1, K, K] -> [K, K, C]
      const int64_t c = p.shape.c, kk = int64_t{p.shape.kernel_h} * p.shape.kernel_w;
      std::vector<int8_t> t(static_cast<size_t>(c * kk));
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t k = 0; k < kk; ++k) t[static_cast<size_t>(k * c + ch)] = w[ch * kk + k];
      return as_bytes_vector(t);
    }
    case Kind::kGemm: {
      std::vector<int8_t> packed(static_cast<size_t>(p.n * kqg::packed_k(p.k)));
      QUENCH_TRY(kqg::pack_weights(p.n, p.k, w, p.w_nk, packed.data()).with_context(n.where()));
      return as_bytes_vector(packed);
    }
    case Kind::kConv: {
      std::vector<int8_t> rows;
      if (p.gemm_node && !p.w_nk) {  // [K, N] -> [N, K]: the conv weight [Cout][Cin][1][1]
        rows.resize(static_cast<size_t>(p.n * p.k));
        for (int64_t kk = 0; kk < p.k; ++kk)
          for (int64_t j = 0; j < p.n; ++j) rows[static_cast<size_t>(j * p.k + kk)] = w[kk * p.n + j];
        w = rows.data();
      }
      std::vector<int8_t> packed(static_cast<size_t>(kqc::packed_weight_count(p.shape)));
      QUENCH_TRY(kqc::pack_weights(p.shape, w, packed.data()).with_context(n.where()));
      return as_bytes_vector(packed);
    }
  }
  return error(StatusCode::kInternal, n.where(), ": unknown INT8 product kind");
}

// Kernel arguments of a product (pointers left to the caller).
template <class Out>
kqc::ConvArgs<Out> conv_args(const Product& p, const ki::Epilogue& e) {
  kqc::ConvArgs<Out> a;
  a.shape = p.shape;
  a.epilogue = e;
  return a;
}

template <class Out>
kqd::DepthwiseArgs<Out> depthwise_args(const Product& p, const ki::Epilogue& e) {
  kqd::DepthwiseArgs<Out> a;
  a.n = p.shape.n;
  a.h = p.shape.h;
  a.w = p.shape.w;
  a.c = p.shape.c;
  a.kernel = p.shape.kernel_h;
  a.stride = p.shape.stride_h;
  a.pad_top = p.shape.pad_top;
  a.pad_left = p.shape.pad_left;
  a.pad_bottom = p.shape.pad_bottom;
  a.pad_right = p.shape.pad_right;
  a.epilogue = e;
  return a;
}

template <class Out>
kqg::GemmArgs<Out> gemm_args(const Product& p, const ki::Epilogue& e) {
  kqg::GemmArgs<Out> a;
  a.m = p.m;
  a.n = p.n;
  a.k = p.k;
  a.epilogue = e;
  return a;
}

// The pointers of one launch: x, packed weight, channel table, residual (may be null), y.
struct Pointers {
  const void* x = nullptr;
  const void* w = nullptr;
  const void* table = nullptr;
  const void* residual = nullptr;
  void* y = nullptr;
};

template <class Out>
struct Launch {
  Kind kind = Kind::kConv;
  kqc::ConvArgs<Out> conv;
  kqd::DepthwiseArgs<Out> dw;
  kqg::GemmArgs<Out> gemm;
};

// Fills the arguments, checks them against the kernels' contracts; `persistent` receives the
// split-K workspace the launch needs on `multiprocessors` SMs (0: the current device's).
template <class Out>
Result<Launch<Out>> make_launch(const NodeDesc& n, const Product& p, const ki::Epilogue& e, const Pointers& ptr,
                                int multiprocessors, size_t& persistent) {
  Launch<Out> l;
  l.kind = p.kind;
  const auto* x = static_cast<const int8_t*>(ptr.x);
  const auto* w = static_cast<const int8_t*>(ptr.w);
  const auto* table = static_cast<const int32_t*>(ptr.table);
  const auto* r = static_cast<const Out*>(ptr.residual);
  auto* y = static_cast<Out*>(ptr.y);
  switch (p.kind) {
    case Kind::kDepthwise:
      l.dw = depthwise_args<Out>(p, e);
      l.dw.x = x;
      l.dw.weight = w;
      l.dw.channel_table = table;
      l.dw.residual = r;
      l.dw.y = y;
      QUENCH_TRY(kqd::can_implement(l.dw).with_context(n.where()));
      persistent = kqd::workspace_bytes(l.dw);
      break;
    case Kind::kConv:
      l.conv = conv_args<Out>(p, e);
      l.conv.x = x;
      l.conv.weight = w;
      l.conv.channel_table = table;
      l.conv.residual = r;
      l.conv.y = y;
      QUENCH_TRY(kqc::can_implement(l.conv).with_context(n.where()));
      persistent = multiprocessors > 0 ? kqc::workspace_bytes(l.conv, multiprocessors) : kqc::workspace_bytes(l.conv);
      break;
    case Kind::kGemm:
      l.gemm = gemm_args<Out>(p, e);
      l.gemm.x = x;
      l.gemm.w = w;
      l.gemm.channel_table = table;
      l.gemm.residual = r;
      l.gemm.y = y;
      QUENCH_TRY(kqg::can_implement(l.gemm).with_context(n.where()));
      persistent = multiprocessors > 0 ? kqg::workspace_bytes(l.gemm, multiprocessors) : kqg::workspace_bytes(l.gemm);
      break;
  }
  return l;
}

bool product_accepts_nhwc(const NodeDesc& n, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc>) {
  // Convolutions run on NHWC; a matrix product reads its X in ONNX order (a 2-D or 3-D X is
  // logical anyway).
  return n.op_type == "Int8Conv" && in[0].layout == GpuLayout::kNHWC;
}

Status product_prepare(const GpuPrepareArgs& a, GpuPrepared& out) {
  const NodeDesc& n = a.node;
  QUENCH_ASSIGN(Product p, product_of(n, a.inputs, a.outputs));
  QUENCH_ASSIGN(EpilogueTable et, epilogue_table(n, p, a.inputs));
  const Tensor& wt = *a.inputs[1].constant;
  QUENCH_ASSIGN(int wi, find_or_add_weight(a.weights, wt.data(), weight_transform(p, wt),
                                           [&]() { return pack(n, p, wt); }));
  const void* table_source = a.inputs[kWScale].constant->data();
  QUENCH_ASSIGN(int ti, find_or_add_weight(a.weights, table_source, table_transform(n, p, a.inputs),
                                           [&]() -> Result<std::vector<std::byte>> { return as_bytes_vector(et.table); }));
  out.weights = {wi, ti};
  out.claim(1);
  out.claim(kWScale);
  if (has(a.inputs, kBias)) out.claim(kBias);
  // The kernels' own contracts on the shapes (stand-in pointers: nothing runs).
  Pointers ptr{probe_ptr<int8_t>(0), probe_ptr<int8_t>(2), probe_ptr<int32_t>(3),
               p.residual ? probe_ptr<int8_t>(4) : nullptr, probe_ptr<int8_t>(1)};
  size_t persistent = 0;
  if (p.out == DType::kI8) {
    QUENCH_TRY(make_launch<int8_t>(n, p, et.epilogue, ptr, a.multiprocessors, persistent).status());
  } else {
    QUENCH_TRY(make_launch<__half>(n, p, et.epilogue, ptr, a.multiprocessors, persistent).status());
  }
  out.persistent_bytes = persistent;
  return {};
}

template <class Out>
Result<GpuLaunch> bind_as(const GpuBindArgs& a, const Product& p, const ki::Epilogue& e) {
  const NodeDesc& n = a.node;
  Pointers ptr{a.inputs[0].data, a.weights[0], a.weights[1],
               p.residual ? a.inputs[kResidual].data : nullptr, a.outputs[0].data};
  size_t need = 0;
  QUENCH_ASSIGN(Launch<Out> l, make_launch<Out>(n, p, e, ptr, 0, need));
  if (need > a.persistent_bytes)
    return error(StatusCode::kInternal, n.where(), ": the split-K workspace holds ", a.persistent_bytes,
                 " bytes; the INT8 product needs ", need);
  void* ws = a.persistent;
  return GpuLaunch([l, ws](cudaStream_t stream) -> Status {
    switch (l.kind) {
      case Kind::kDepthwise: return kqd::run(l.dw, nullptr, stream);
      case Kind::kConv: return kqc::run(l.conv, ws, stream);
      case Kind::kGemm: return kqg::run(l.gemm, ws, stream);
    }
    return {};
  });
}

Result<GpuLaunch> product_bind(const GpuBindArgs& a) {
  const NodeDesc& n = a.node;
  const std::vector<GpuValueDesc> in = descs_of(a.inputs), out = descs_of(a.outputs);
  QUENCH_ASSIGN(Product p, product_of(n, in, out));
  QUENCH_ASSIGN(EpilogueTable et, epilogue_table(n, p, in));
  if (a.weights.size() != 2 || !a.weights[0] || !a.weights[1])
    return error(StatusCode::kInternal, n.where(), ": the packed weight or the channel table is missing");
  if (p.out == DType::kI8) return bind_as<int8_t>(a, p, et.epilogue);
  return bind_as<__half>(a, p, et.epilogue);
}

// ---- Int8Quantize / Int8Dequantize ---------------------------------------------------------------

Result<float> convert_scale(const NodeDesc& n) {
  QUENCH_ASSIGN(float s, float_attr(n, "scale", 0.0f));
  if (!(s > 0) || !std::isfinite(s)) return gpu_unsupported(n, "the scale ", s);
  return s;
}

Status convert_check(const NodeDesc& n, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc> out) {
  const bool quantize = n.op_type == "Int8Quantize";
  const DType want_in = quantize ? DType::kF16 : DType::kI8, want_out = quantize ? DType::kI8 : DType::kF16;
  if (in[0].dtype != want_in || out[0].dtype != want_out)
    return gpu_unsupported(n, dtype_name(in[0].dtype), " -> ", dtype_name(out[0].dtype), " (", dtype_name(want_in),
                           " -> ", dtype_name(want_out), " only)");
  if (in[0].layout != out[0].layout)
    return gpu_unsupported(n, "an input and an output of different layouts");
  return {};
}

// Elementwise: runs on any layout as long as input and output share it.
bool convert_accepts_nhwc(const NodeDesc&, std::span<const GpuValueDesc> in, std::span<const GpuValueDesc> out) {
  return in[0].layout == out[0].layout;
}

Status convert_prepare(const GpuPrepareArgs& a, GpuPrepared&) {
  const NodeDesc& n = a.node;
  QUENCH_TRY(convert_check(n, a.inputs, a.outputs));
  QUENCH_ASSIGN(float s, convert_scale(n));
  const int64_t count = shape_numel(a.inputs[0].shape);
  if (n.op_type == "Int8Quantize") {
    ki::QuantizeArgs<__half> q{count, probe_ptr<__half>(0), probe_ptr<int8_t>(1), s};
    return ki::can_implement(q).with_context(n.where());
  }
  ki::DequantizeArgs<__half> d{count, probe_ptr<int8_t>(0), probe_ptr<__half>(1), s};
  return ki::can_implement(d).with_context(n.where());
}

Result<GpuLaunch> convert_bind(const GpuBindArgs& a) {
  const NodeDesc& n = a.node;
  QUENCH_TRY(convert_check(n, descs_of(a.inputs), descs_of(a.outputs)));
  QUENCH_ASSIGN(float s, convert_scale(n));
  const int64_t count = a.inputs[0].numel();
  if (n.op_type == "Int8Quantize") {
    ki::QuantizeArgs<__half> q{count, half_ptr(a.inputs[0].data), static_cast<int8_t*>(a.outputs[0].data), s};
    QUENCH_TRY(ki::can_implement(q).with_context(n.where()));
    return GpuLaunch([q](cudaStream_t stream) { return ki::quantize(q, stream); });
  }
  ki::DequantizeArgs<__half> d{count, static_cast<const int8_t*>(a.inputs[0].data), half_ptr(a.outputs[0].data), s};
  QUENCH_TRY(ki::can_implement(d).with_context(n.where()));
  return GpuLaunch([d](cudaStream_t stream) { return ki::dequantize(d, stream); });
}

const GpuOp kOps[] = {
    {"Int8Conv", "quench", product_accepts_nhwc, product_prepare, product_bind},
    {"Int8Gemm", "quench", product_accepts_nhwc, product_prepare, product_bind},
    {"Int8MatMul", "quench", product_accepts_nhwc, product_prepare, product_bind},
    {"Int8Quantize", "quench", convert_accepts_nhwc, convert_prepare, convert_bind},
    {"Int8Dequantize", "quench", convert_accepts_nhwc, convert_prepare, convert_bind},
};

}  // namespace

std::span<const GpuOp> quant_gpu_ops() { return kOps; }

}  // namespace quench::ops
