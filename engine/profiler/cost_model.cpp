#include "engine/profiler/cost_model.h"

#include <limits>
#include <set>

#include "ops/registry.h"

namespace quench::profiler {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t mul(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0) return 0;
  return a > kMax / b ? kMax : a * b;
}
int64_t add(int64_t a, int64_t b) { return a > kMax - b ? kMax : a + b; }

int64_t numel(const Shape& s) {
  const int64_t n = shape_numel(s);
  return n < 0 ? kMax : n;
}

int64_t prod(const Shape& s, size_t from) {
  int64_t p = 1;
  for (size_t i = from; i < s.size(); ++i) p = mul(p, s[i]);
  return p;
}

int64_t operand_bytes(const Operand& o) {
  return o.present() ? mul(numel(*o.shape), static_cast<int64_t>(dtype_size(o.dtype))) : 0;
}

bool is_data_movement(std::string_view op) {
  static const std::set<std::string_view> kOps = {
      "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Shape", "Transpose", "Concat",
      "Split", "Slice", "Gather", "Pad", "Identity", "Cast", "Constant", "ConstantOfShape",
      "Range", "Dropout", "Tile", "DepthToSpace", "SpaceToDepth", "Size"};
  return kOps.count(op) > 0;
}

const Shape* shape_at(std::span<const Operand> ops, size_t i) {
  return i < ops.size() && ops[i].present() ? ops[i].shape : nullptr;
}

// numel(out) for each activation the stage applies (as the unfused activation node counts).
int64_t activation_flops(const ir::Node& n, std::string_view attr, int64_t elements) {
  auto kind = n.attrs.get_string(attr, "", n.where());
  return kind.ok() && !kind->empty() ? elements : 0;
}

// Multiply-adds of a conv stage with weight [Cout, Cin/group, k...] producing `out_elements`.
int64_t conv_macs(const Shape& w, int64_t out_elements) { return mul(out_elements, mul(w[1], prod(w, 2))); }

// `elements` scaled from `from_channels` to `to_channels` at the same N and spatial dims.
int64_t rechannel(int64_t elements, int64_t from_channels, int64_t to_channels) {
  return from_channels > 0 ? mul(elements / from_channels, to_channels) : 0;
}

// The optimizer's fused ops (ops/fused_conv.cpp, ops/fused_gemm.cpp) count as the nodes they
// replace: each stage's product and bias, each stage's activation, the residual add. -1 for
// an op that is not one of them.
int64_t fused_flops(const ir::Node& n, std::span<const Operand> in, const Shape& y) {
  if (n.domain != ops::kQuenchDomain) return -1;
  const std::string_view op = n.op_type;
  const int64_t ny = numel(y);
  auto bias = [&](size_t i, int64_t elements) { return shape_at(in, i) ? elements : 0; };
  auto weight = [&](size_t i) { return shape_at(in, i) && shape_at(in, i)->size() >= 2 ? shape_at(in, i) : nullptr; };
  if (op == "FusedConv") {  // X, W, [B], [R]
    const Shape* w = weight(1);
    if (!w) return 0;
    int64_t f = add(mul(2, conv_macs(*w, ny)), bias(2, ny));
    f = add(f, activation_flops(n, "activation", ny));
    return add(f, bias(3, ny));
  }
  if (op == "DwPwConv") {  // X, Wd, [Bd], Wp, [Bp], [R]
    const Shape *wd = weight(1), *wp = weight(3);
    if (!wd || !wp) return 0;
    const int64_t nd = rechannel(ny, (*wp)[0], (*wd)[0]);  // the depthwise output, never stored
    int64_t f = add(mul(2, conv_macs(*wd, nd)), bias(2, nd));
    f = add(f, activation_flops(n, "dw_activation", nd));
    f = add(f, add(mul(2, conv_macs(*wp, ny)), bias(4, ny)));
    f = add(f, activation_flops(n, "pw_activation", ny));
    return add(f, bias(5, ny));
  }
  if (op == "InvertedResidual") {  // X, We, [Be], Wd, [Bd], Wp, [Bp], [R]
    const Shape *we = weight(1), *wd = weight(3), *wp = weight(5);
    const Shape* x = shape_at(in, 0);
    if (!we || !wd || !wp || !x || x->size() < 2) return 0;
    const int64_t ne = rechannel(numel(*x), (*x)[1], (*we)[0]);  // expanded, at the input's size
    const int64_t nd = rechannel(ny, (*wp)[0], (*wd)[0]);        // depthwise, at the output's size
    int64_t f = add(mul(2, conv_macs(*we, ne)), bias(2, ne));
    f = add(f, activation_flops(n, "expand_activation", ne));
    f = add(f, add(mul(2, conv_macs(*wd, nd)), bias(4, nd)));
    f = add(f, activation_flops(n, "dw_activation", nd));
    f = add(f, add(mul(2, conv_macs(*wp, ny)), bias(6, ny)));
    f = add(f, activation_flops(n, "project_activation", ny));
    return add(f, bias(7, ny));
  }
  if (op == "FusedGemm" || op == "FusedMatMul") {  // A, B, [C], [R] / A, B, [R]
    const Shape* a = shape_at(in, 0);
    if (!a || a->empty()) return 0;
    const bool gemm = op == "FusedGemm";
    int64_t k = a->back();
    if (gemm) {
      auto trans_a = n.attrs.get_int("transA", 0, n.where());
      if (a->size() != 2) return 0;
      k = (trans_a.ok() && *trans_a) ? (*a)[0] : (*a)[1];
    }
    int64_t f = add(mul(2, mul(ny, k)), gemm ? bias(2, ny) : 0);
    f = add(f, activation_flops(n, "activation", ny));
    return add(f, bias(gemm ? 3 : 2, ny));
  }
  return -1;
}

// The rules of include/quench/inspect.h.
int64_t layer_flops(const ir::Node& n, std::span<const Operand> in, std::span<const Operand> out) {
  const std::string_view op = n.op_type;
  const Shape empty;
  const Shape& x = !in.empty() && in[0].present() ? *in[0].shape : empty;
  const Shape& y = !out.empty() && out[0].present() ? *out[0].shape : empty;
  const bool has_bias = in.size() > 2 && in[2].present();
  if (const int64_t f = fused_flops(n, in, y); f >= 0) return f;
  if (op == "Conv") {
    if (in.size() < 2 || !in[1].present() || in[1].shape->size() < 2) return 0;
    const Shape& w = *in[1].shape;  // [Cout, Cin/group, k...]
    const int64_t macs = mul(numel(y), mul(w[1], prod(w, 2)));
    return add(mul(2, macs), has_bias ? numel(y) : 0);
  }
  if (op == "ConvTranspose") {
    if (in.size() < 2 || !in[1].present() || in[1].shape->size() < 2) return 0;
    const Shape& w = *in[1].shape;  // [Cin, Cout/group, k...]: every input element meets Cout/group*k weights
    const int64_t macs = mul(numel(x), mul(w[1], prod(w, 2)));
    return add(mul(2, macs), has_bias ? numel(y) : 0);
  }
  if (op == "Gemm") {
    if (in.size() < 2 || x.size() != 2 || y.size() != 2) return 0;
    auto trans_a = n.attrs.get_int("transA", 0, n.where());
    const int64_t k = (trans_a.ok() && *trans_a) ? x[0] : x[1];
    return add(mul(2, mul(numel(y), k)), has_bias ? numel(y) : 0);
  }
  if (op == "MatMul") {
    if (x.empty()) return 0;
    return mul(2, mul(numel(y), x.back()));  // K is A's last dim, also for a 1-D A
  }
  if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") {
    auto k = n.attrs.get_ints("kernel_shape", {}, n.where());
    const Shape kernel = k.ok() ? *k : Shape{};
    return mul(numel(y), prod(kernel, 0));
  }
  if (op.starts_with("Global") || op.starts_with("Reduce")) return numel(x);
  if (op == "BatchNormalization") return mul(2, numel(y));
  if (op == "Softmax" || op == "LogSoftmax") return mul(3, numel(y));
  if (is_data_movement(op)) return 0;
  return numel(y);
}

}  // namespace

int64_t LayerCost::bytes() const { return add(input_bytes, output_bytes); }

LayerCost layer_cost(const ir::Node& node, std::span<const Operand> inputs, std::span<const Operand> outputs) {
  LayerCost c;
  c.flops = layer_flops(node, inputs, outputs);
  // An input given twice (Mul(x, x)) is read once.
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Operand& o = inputs[i];
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = inputs[j].present() && inputs[j].name == o.name;
    if (seen || !o.present()) continue;
    c.input_bytes = add(c.input_bytes, operand_bytes(o));
    if (o.constant) c.weight_bytes = add(c.weight_bytes, operand_bytes(o));
  }
  for (const Operand& o : outputs) c.output_bytes = add(c.output_bytes, operand_bytes(o));
  return c;
}

LayerCost step_cost(const ExecutionPlan& plan, const PlannedStep& step, std::span<const DType> dtypes) {
  auto operands = [&](const std::vector<int>& ids) {
    std::vector<Operand> ops;
    ops.reserve(ids.size());
    for (int v : ids) {
      if (v < 0) {
        ops.emplace_back();
        continue;
      }
      const PlannedValue& pv = plan.values[static_cast<size_t>(v)];
      const DType dt = dtypes.empty() ? pv.dtype : dtypes[static_cast<size_t>(v)];
      ops.push_back({pv.name, dt, &pv.shape, pv.constant != nullptr});
    }
    return ops;
  };
  const std::vector<Operand> in = operands(step.inputs), out = operands(step.outputs);
  return layer_cost(*step.node, in, out);
}

Achieved achieved(const LayerCost& cost, double seconds) {
  if (!(seconds > 0)) return {};
  return {static_cast<double>(cost.flops) / seconds, static_cast<double>(cost.bytes()) / seconds};
}

}  // namespace quench::profiler
