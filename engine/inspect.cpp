// The inspect report: the graph as build() would see it at a batch (shapes inferred, constants
// folded), with per-layer FLOPs by the rules stated in include/quench/inspect.h.
#include "quench/inspect.h"

#include <limits>
#include <set>
#include <string_view>

#include "engine/api_impl.h"

namespace quench {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Saturating arithmetic: a hostile shape must give a huge count, never signed overflow.
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

bool is_data_movement(std::string_view op) {
  static const std::set<std::string_view> kOps = {
      "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Shape", "Transpose", "Concat",
      "Split", "Slice", "Gather", "Pad", "Identity", "Cast", "Constant", "ConstantOfShape",
      "Range", "Dropout", "Tile", "DepthToSpace", "SpaceToDepth", "Size"};
  return kOps.count(op) > 0;
}

// `in`/`out` hold every input/output shape (empty for an omitted one); `present` marks inputs.
int64_t layer_flops(const ir::Node& n, const std::vector<Shape>& in, const std::vector<bool>& present,
                    const std::vector<Shape>& out) {
  const std::string_view op = n.op_type;
  const Shape empty;
  const Shape& x = in.empty() ? empty : in[0];
  const Shape& y = out.empty() ? empty : out[0];
  const bool has_bias = in.size() > 2 && present[2];
  if (op == "Conv") {
    if (in.size() < 2 || in[1].size() < 2) return 0;
    const Shape& w = in[1];  // [Cout, Cin/group, k...]
    const int64_t macs = mul(numel(y), mul(w[1], prod(w, 2)));
    return add(mul(2, macs), has_bias ? numel(y) : 0);
  }
  if (op == "ConvTranspose") {
    if (in.size() < 2 || in[1].size() < 2) return 0;
    const Shape& w = in[1];  // [Cin, Cout/group, k...]: every input element meets Cout/group*k weights
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
    Shape kernel = k.ok() ? *k : Shape{};
    return mul(numel(y), prod(kernel, 0));
  }
  if (op.starts_with("Global") || op.starts_with("Reduce")) return numel(x);
  if (op == "BatchNormalization") return mul(2, numel(y));
  if (op == "Softmax" || op == "LogSoftmax") return mul(3, numel(y));
  if (is_data_movement(op)) return 0;
  return numel(y);
}

// Constants that count as weights: not shapes, axes or indices.
bool is_parameter(const ir::Value& v) {
  return v.is_constant() && v.dtype != DType::kI64 && v.dtype != DType::kBool;
}

int64_t value_bytes(const ir::Value& v) {
  return mul(numel(v.shape), static_cast<int64_t>(dtype_size(v.dtype)));
}

}  // namespace

Result<ModelReport> inspect(const Model& model, const BuildOptions& options) {
  if (options.max_batch < 1)
    return error(StatusCode::kInvalidArgument, "batch must be at least 1, got ", options.max_batch);
  // The same inference and folding build() does, without a backend.
  detail::EngineImpl eng;
  eng.model = std::shared_ptr<const detail::ModelImpl>(&model.impl(), [](const detail::ModelImpl*) {});
  eng.options = options;
  QUENCH_ASSIGN(auto graph, eng.graph_for_batch(options.max_batch));
  const ir::Graph& g = *graph;
  const ir::Model& m = model.impl().model;

  ModelReport r;
  r.source = m.source;
  r.producer = m.producer_name;
  if (!m.producer_version.empty()) r.producer += (r.producer.empty() ? "" : " ") + m.producer_version;
  r.ir_version = m.ir_version;
  for (const auto& [domain, version] : m.graph.opsets) r.opsets[domain] = version;
  r.batch = options.max_batch;
  r.nodes_in_file = static_cast<int64_t>(m.graph.nodes.size());
  for (const auto& name : g.inputs) r.inputs.push_back({name, g.find(name)->dtype, g.find(name)->shape});
  for (const auto& name : g.outputs) r.outputs.push_back({name, g.find(name)->dtype, g.find(name)->shape});

  std::set<std::string_view> counted;  // parameters shared by several nodes count once
  std::vector<Shape> in_shapes, out_shapes;
  std::vector<bool> present;
  for (const ir::Node& n : g.nodes) {
    LayerInfo L;
    L.name = n.name;
    L.op_type = n.domain.empty() || n.domain == "ai.onnx" ? n.op_type : n.domain + "." + n.op_type;
    in_shapes.clear();
    out_shapes.clear();
    present.clear();
    for (const auto& name : n.inputs) {
      const ir::Value* v = name.empty() ? nullptr : g.find(name);
      present.push_back(v != nullptr);
      if (!v) {
        L.inputs.push_back({});
        L.input_is_constant.push_back(false);
        in_shapes.emplace_back();
        continue;
      }
      L.inputs.push_back({name, v->dtype, v->shape});
      L.input_is_constant.push_back(v->is_constant());
      in_shapes.push_back(v->shape);
      L.bytes = add(L.bytes, value_bytes(*v));
      if (is_parameter(*v)) {
        L.params = add(L.params, numel(v->shape));
        if (counted.insert(name).second) {
          r.parameters = add(r.parameters, numel(v->shape));
          r.parameter_bytes = add(r.parameter_bytes, value_bytes(*v));
        }
      }
    }
    for (const auto& name : n.outputs) {
      const ir::Value* v = name.empty() ? nullptr : g.find(name);
      if (!v) {
        L.outputs.push_back({});
        out_shapes.emplace_back();
        continue;
      }
      L.outputs.push_back({name, v->dtype, v->shape});
      out_shapes.push_back(v->shape);
      L.bytes = add(L.bytes, value_bytes(*v));
    }
    L.flops = layer_flops(n, in_shapes, present, out_shapes);
    r.total_flops = add(r.total_flops, L.flops);
    ++r.op_histogram[L.op_type];
    r.layers.push_back(std::move(L));
  }
  return r;
}

}  // namespace quench
