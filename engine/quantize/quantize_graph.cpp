#include "engine/quantize/quantize_graph.h"

#include <algorithm>
#include <map>
#include <optional>

#include "engine/calibration/weight_scales.h"
#include "engine/optimizer/graph_edit.h"
#include "kernels/quant/quant_math.h"
#include "ops/registry.h"

namespace quench::quant_pass {
namespace {

using optimizer::constant_of;
using optimizer::is_onnx;
using optimizer::is_quench;

enum class Kind { kConv, kGemm, kMatMul };

// What the rewrite needs to know about a candidate, read once.
struct Product {
  Kind kind = Kind::kConv;
  int w_axis = 0;              // the weight's output-channel axis
  const Tensor* w = nullptr;   // float32
  const Tensor* b = nullptr;   // float32 bias (Conv's B, Gemm's C), or null
  int residual = -1;           // input index of the fused residual, -1 without one
  float alpha = 1, beta = 1;   // Gemm's
  bool residual_after = false; // residual_after_activation
  bool has_activation = false;
};

std::optional<Kind> kind_of(const ir::Node& n) {
  if (is_onnx(n, "Conv") || is_quench(n, "FusedConv")) return Kind::kConv;
  if (is_onnx(n, "Gemm") || is_quench(n, "FusedGemm")) return Kind::kGemm;
  if (is_onnx(n, "MatMul") || is_quench(n, "FusedMatMul")) return Kind::kMatMul;
  return std::nullopt;
}

const char* int8_op(Kind k) {
  switch (k) {
    case Kind::kConv: return "Int8Conv";
    case Kind::kGemm: return "Int8Gemm";
    case Kind::kMatMul: return "Int8MatMul";
  }
  return "";
}

const std::string& input_or_empty(const ir::Node& n, size_t i) {
  static const std::string kNone;
  return i < n.inputs.size() ? n.inputs[i] : kNone;
}

float float_attr_or(const ir::Node& n, std::string_view name, float dflt) {
  const ops::Attribute* a = n.attrs.find(name);
  return a && a->kind == ops::Attribute::Kind::kFloat ? a->f : dflt;
}

// Reads a candidate's operands, or says (in `why`) why its form has no INT8 equivalent.
std::optional<Product> read_product(const ir::Graph& g, const ir::Node& n, Kind kind, std::string* why) {
  Product p;
  p.kind = kind;
  p.w = constant_of(g, input_or_empty(n, 1));
  if (!p.w) return *why = "its weight '" + input_or_empty(n, 1) + "' is not a constant", std::nullopt;
  if (p.w->dtype() != DType::kF32) return *why = "its weight is not float32", std::nullopt;
  const ir::Value* x = g.find(n.inputs[0]);
  if (x && x->dtype != DType::kUndefined && x->dtype != DType::kF32)
    return *why = "its input is " + std::string(dtype_name(x->dtype)) + ", not float32", std::nullopt;
  const Shape& ws = p.w->shape();
  const bool fused = n.domain == ops::kQuenchDomain;
  int64_t reduction = 0;
  int bias_index = -1;  // MatMul has no bias operand
  if (kind == Kind::kConv) {
    if (ws.size() < 3) return *why = "its weight has rank " + std::to_string(ws.size()), std::nullopt;
    reduction = shape_numel(ws) / std::max<int64_t>(ws[0], 1);
    bias_index = 2;
    p.residual = fused ? 3 : -1;
  } else {
    if (ws.size() != 2) return *why = "its weight has rank " + std::to_string(ws.size()) + ", not 2", std::nullopt;
    if (kind == Kind::kGemm) {
      if (optimizer::int_of(n, "transA", 0).value_or(1) != 0) return *why = "transA = 1", std::nullopt;
      const bool trans_b = optimizer::int_of(n, "transB", 0).value_or(0) != 0;
      p.w_axis = trans_b ? 0 : 1;
      reduction = trans_b ? ws[1] : ws[0];
      p.alpha = float_attr_or(n, "alpha", 1.0f);
      p.beta = float_attr_or(n, "beta", 1.0f);
      bias_index = 2;
      p.residual = fused ? 3 : -1;
    } else {
      p.w_axis = 1;
      reduction = ws[0];
      p.residual = fused ? 2 : -1;
    }
  }
  if (reduction > quant::kMaxReduction)
    return *why = "its reduction of " + std::to_string(reduction) + " terms could overflow INT32", std::nullopt;
  const std::string& b = bias_index < 0 ? std::string() : input_or_empty(n, static_cast<size_t>(bias_index));
  if (!b.empty()) {
    p.b = constant_of(g, b);
    const int64_t channels = ws[p.w_axis];
    if (!p.b || p.b->dtype() != DType::kF32)
      return *why = "its bias '" + b + "' is not a float32 constant", std::nullopt;
    const Shape& bs = p.b->shape();
    const bool per_channel = bs == Shape{channels} || bs == Shape{1, channels};
    if (!per_channel) return *why = "its bias has shape " + shape_str(bs) + ", not one value per output channel",
                             std::nullopt;
  }
  if (p.residual >= 0 && input_or_empty(n, p.residual).empty()) p.residual = -1;
  p.residual_after = optimizer::int_of(n, "residual_after_activation", 0).value_or(0) != 0;
  const ops::Attribute* act = n.attrs.find("activation");
  p.has_activation = act && act->kind == ops::Attribute::Kind::kString && !act->s.empty();
  return p;
}

LayerPrecision examine(const ir::Graph& g, const ir::Node& n, Kind kind, const calib::CalibrationTable& table,
                       std::optional<Product>* product) {
  LayerPrecision l;
  l.node = n.name;
  l.op_type = n.op_type;
  std::string why;
  *product = read_product(g, n, kind, &why);
  if (!*product) {
    l.reason = Reason::kUnsupportedForm;
    l.detail = why;
  } else if (!table.find(n.inputs[0])) {
    l.reason = Reason::kNotCalibrated;
    l.detail = "input '" + n.inputs[0] + "' has no calibration entry";
    product->reset();
  } else {
    l.int8 = true;
    l.reason = Reason::kQuantized;
  }
  return l;
}

// The weight, bias and scale constants of one INT8 product.
struct QuantWeights {
  Tensor w, w_scale, bias;  // bias undefined without one
};

Result<QuantWeights> quantize_operands(const ir::Node& n, const Product& p, float x_scale) {
  Tensor w = *p.w;
  if (p.alpha != 1.0f) {  // Gemm's alpha, folded into the weights before they are scaled
    w = Tensor::copy_of(DType::kF32, w.shape(), w.data());
    float* d = w.mutable_data_as<float>();
    for (int64_t i = 0; i < w.numel(); ++i) d[i] *= p.alpha;
  }
  QuantWeights q;
  QUENCH_ASSIGN(std::vector<float> scales, calib::channel_weight_scales(w, p.w_axis, n.name));
  QUENCH_ASSIGN(q.w, calib::quantize_weights(w, p.w_axis, scales, n.name));
  q.w_scale = Tensor::from_values(DType::kF32, {static_cast<int64_t>(scales.size())}, scales);
  if (p.b) {
    Tensor b = Tensor::copy_of(DType::kF32, {p.b->numel()}, p.b->data());
    if (p.kind == Kind::kGemm && p.beta != 1.0f) {
      float* d = b.mutable_data_as<float>();
      for (int64_t i = 0; i < b.numel(); ++i) d[i] *= p.beta;
    }
    QUENCH_ASSIGN(q.bias, calib::quantize_bias(b, x_scale, scales, n.name));
  }
  return q;
}

struct Candidate {
  size_t node = 0;
  Product product;
  bool int8_out = false;
};

// The rewrite's bookkeeping: which tensors need an INT8 twin and which a float one.
class Rewriter {
 public:
  Rewriter(ir::Graph& g, const calib::CalibrationTable& table) : g_(g), table_(table), idx_(g) {}

  Status run(std::map<std::string, Candidate, std::less<>> cands);

 private:
  float scale(std::string_view tensor) const { return table_.find(tensor)->scale; }
  bool calibrated(std::string_view tensor) const { return table_.find(tensor) != nullptr; }
  const Candidate* quantized_producer(std::string_view tensor) const;
  void decide_outputs();
  std::string int8_name(const std::string& tensor);
  Result<ir::Node> int8_node(const ir::Node& n, const Candidate& c);
  ir::Node convert(const char* op, const std::string& name, const std::string& in, const std::string& out,
                   float scale) const;

  ir::Graph& g_;
  const calib::CalibrationTable& table_;
  optimizer::GraphIndex idx_;
  std::map<std::string, Candidate, std::less<>> cands_;  // by node name
  std::map<std::string, std::string, std::less<>> int8_names_;  // float tensor -> its INT8 twin
  std::set<std::string, std::less<>> need_int8_, need_float_;
};

const Candidate* Rewriter::quantized_producer(std::string_view tensor) const {
  const int p = idx_.producer(tensor);
  if (p < 0) return nullptr;
  auto it = cands_.find(g_.nodes[static_cast<size_t>(p)].name);
  return it == cands_.end() ? nullptr : &it->second;
}

// A product writes INT8 when a quantized reader takes its output as X, or as the residual of
// a reader that itself writes INT8 (grown to a fixed point); a residual after an activation
// cannot be added in the INT8 domain, and an uncalibrated output cannot be requantized.
void Rewriter::decide_outputs() {
  auto can_write_int8 = [&](const Candidate& c) {
    const ir::Node& n = g_.nodes[c.node];
    const bool residual_ok = c.product.residual < 0 ||
                             (calibrated(n.inputs[c.product.residual]) &&
                              !(c.product.residual_after && c.product.has_activation));
    return calibrated(n.outputs[0]) && residual_ok;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& [name, c] : cands_) {
      if (c.int8_out || !can_write_int8(c)) continue;
      const std::string& y = g_.nodes[c.node].outputs[0];
      for (size_t r : idx_.readers(y)) {
        auto it = cands_.find(g_.nodes[r].name);
        if (it == cands_.end()) continue;
        const ir::Node& reader = g_.nodes[r];
        const bool as_x = reader.inputs[0] == y;
        const int ri = it->second.product.residual;
        const bool as_int8_residual = ri >= 0 && reader.inputs[ri] == y && it->second.int8_out;
        if (as_x || as_int8_residual) {
          c.int8_out = changed = true;
          break;
        }
      }
    }
  }
  // Which twin each tensor needs.
  for (const auto& [name, c] : cands_) {
    const ir::Node& n = g_.nodes[c.node];
    need_int8_.insert(n.inputs[0]);
    if (c.product.residual >= 0) {
      const std::string& r = n.inputs[c.product.residual];
      (c.int8_out ? need_int8_ : need_float_).insert(r);
    }
  }
  for (const ir::Node& n : g_.nodes) {
    if (cands_.count(n.name)) continue;
    for (const auto& in : n.inputs)
      if (!in.empty()) need_float_.insert(in);
  }
  for (const auto& out : g_.outputs) need_float_.insert(out);
}

std::string Rewriter::int8_name(const std::string& tensor) {
  auto it = int8_names_.find(tensor);
  if (it != int8_names_.end()) return it->second;
  std::string name = optimizer::unique_value_name(g_, tensor + ".int8");
  ir::Value& v = g_.get_or_add(name);  // reserve the name at once
  const ir::Value* f = g_.find(tensor);
  v.dtype = DType::kI8;
  if (f) {
    v.shape = f->shape;
    v.dim_params = f->dim_params;
    v.has_shape = f->has_shape;
  }
  int8_names_.emplace(tensor, name);
  return name;
}

ir::Node Rewriter::convert(const char* op, const std::string& name, const std::string& in, const std::string& out,
                           float s) const {
  ir::Node c;
  c.name = name;
  c.op_type = op;
  c.domain = std::string(ops::kQuenchDomain);
  c.opset = 1;
  c.attrs.set("scale", optimizer::float_attribute(s));
  c.inputs = {in};
  c.outputs = {out};
  c.schema = ops::find_schema(c.op_type, c.domain);
  return c;
}

Result<ir::Node> Rewriter::int8_node(const ir::Node& n, const Candidate& c) {
  const Product& p = c.product;
  const float x_scale = scale(n.inputs[0]);
  QUENCH_ASSIGN(QuantWeights q, quantize_operands(n, p, x_scale));
  ir::Node out;
  out.name = n.name;
  out.op_type = int8_op(p.kind);
  out.domain = std::string(ops::kQuenchDomain);
  out.opset = 1;
  for (const auto& [key, a] : n.attrs.all())
    if (key != "alpha" && key != "beta" && key != "transA") out.attrs.set(key, a);
  out.attrs.set("x_scale", optimizer::float_attribute(x_scale));
  out.attrs.set("output_type", optimizer::int_attribute(static_cast<int64_t>(c.int8_out ? DType::kI8 : DType::kF32)));
  auto constant = [&](const char* suffix, Tensor t) {
    std::string name = optimizer::unique_value_name(g_, n.name + suffix);
    optimizer::add_constant(g_, name, std::move(t));
    return name;
  };
  out.inputs = {int8_name(n.inputs[0]), constant(".w_int8", std::move(q.w)), constant(".w_scale", std::move(q.w_scale)),
                q.bias.defined() ? constant(".b_int32", std::move(q.bias)) : std::string()};
  if (p.residual >= 0) {
    const std::string& r = n.inputs[p.residual];
    out.inputs.push_back(c.int8_out ? int8_name(r) : r);
    if (c.int8_out) out.attrs.set("r_scale", optimizer::float_attribute(scale(r)));
  } else if (out.inputs.back().empty()) {
    out.inputs.pop_back();
  }
  const std::string& y = n.outputs[0];
  if (c.int8_out) {
    out.attrs.set("y_scale", optimizer::float_attribute(scale(y)));
    out.outputs = {int8_name(y)};
  } else {
    out.outputs = {y};
  }
  out.schema = ops::find_schema(out.op_type, out.domain);
  if (!out.schema) return error(StatusCode::kInternal, "no schema for ", out.op_type);
  return out;
}

Status Rewriter::run(std::map<std::string, Candidate, std::less<>> cands) {
  cands_ = std::move(cands);
  decide_outputs();
  std::vector<ir::Node> nodes;
  nodes.reserve(g_.nodes.size() * 2);
  // A float tensor that a quantized reader needs in INT8 and that no quantized product
  // writes gets one Int8Quantize, right after it is made.
  auto quantize_if_needed = [&](const std::string& t) {
    const Candidate* producer = quantized_producer(t);
    if (!need_int8_.count(t) || (producer && producer->int8_out)) return;
    const std::string q = int8_name(t);
    nodes.push_back(convert("Int8Quantize", optimizer::unique_value_name(g_, q + ".quantize"), t, q, scale(t)));
  };
  for (const auto& in : g_.inputs) quantize_if_needed(in);
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const ir::Node& n = g_.nodes[i];
    auto it = cands_.find(n.name);
    if (it == cands_.end()) {
      nodes.push_back(n);
      for (const auto& out : n.outputs)
        if (!out.empty()) quantize_if_needed(out);
      continue;
    }
    QUENCH_ASSIGN(ir::Node q, int8_node(n, it->second));
    nodes.push_back(std::move(q));
    const std::string& y = n.outputs[0];
    if (!it->second.int8_out) {
      quantize_if_needed(y);  // a float product read in INT8 (its own output was uncalibrated)
    } else {
      if (need_float_.count(y)) {
        const std::string yq = int8_names_.at(y);
        nodes.push_back(convert("Int8Dequantize", optimizer::unique_value_name(g_, yq + ".dequantize"), yq, y,
                                scale(y)));
      } else {
        g_.values.erase(y);  // only its INT8 twin remains
      }
    }
  }
  // The float weights and biases the products replaced, unless another node still reads them.
  std::set<std::string, std::less<>> used(g_.outputs.begin(), g_.outputs.end());
  for (const auto& n : nodes) used.insert(n.inputs.begin(), n.inputs.end());
  for (const auto& [name, c] : cands_)
    for (const auto& in : g_.nodes[c.node].inputs)
      if (!in.empty() && !used.count(in) && constant_of(g_, in)) g_.values.erase(in);
  g_.nodes = std::move(nodes);
  return {};
}

}  // namespace

const char* reason_name(Reason r) {
  switch (r) {
    case Reason::kQuantized: return "int8";
    case Reason::kUnsupportedForm: return "unsupported form";
    case Reason::kNotCalibrated: return "not calibrated";
    case Reason::kUserFloat: return "kept float by the user";
    case Reason::kSensitivity: return "kept float for accuracy";
  }
  return "?";
}

namespace {

// Every candidate's report, in graph order; `cands` (may be null) receives those to rewrite.
std::vector<LayerPrecision> examine_all(const ir::Graph& g, const calib::CalibrationTable& table,
                                        const QuantizeOptions& opt, std::map<std::string, Candidate, std::less<>>* cands) {
  std::vector<LayerPrecision> report;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    const auto kind = kind_of(n);
    if (!kind) continue;
    std::optional<Product> p;
    LayerPrecision l = examine(g, n, *kind, table, &p);
    if (l.int8 && (opt.keep_float.count(n.name) || opt.for_accuracy.count(n.name))) {
      l.int8 = false;
      const bool user = opt.keep_float.count(n.name) > 0;
      l.reason = user ? Reason::kUserFloat : Reason::kSensitivity;
      l.detail = user ? "listed to stay float" : "";
    }
    if (l.int8 && cands) cands->emplace(n.name, Candidate{i, *p, false});
    report.push_back(std::move(l));
  }
  return report;
}

}  // namespace

std::vector<LayerPrecision> int8_candidates(const ir::Graph& g, const calib::CalibrationTable& table) {
  return examine_all(g, table, {}, nullptr);
}

Status quantize_graph(ir::Graph& g, const calib::CalibrationTable& table, const QuantizeOptions& opt,
                      std::vector<LayerPrecision>* layers) {
  std::map<std::string, Candidate, std::less<>> cands;
  std::vector<LayerPrecision> report = examine_all(g, table, opt, &cands);
  Rewriter rw(g, table);
  QUENCH_TRY(rw.run(std::move(cands)));
  QUENCH_TRY(ir::validate(g).with_context("after the INT8 quantization pass"));
  QUENCH_TRY(ir::bind_schemas(g).with_context("after the INT8 quantization pass"));
  if (layers) *layers = std::move(report);
  return {};
}

}  // namespace quench::quant_pass
