// The inspect report: the graph as build() would see it at a batch (shapes inferred, constants
// folded), with per-layer FLOPs by the rules stated in include/quench/inspect.h, counted by
// engine/profiler/cost_model (the profiler counts through the same code).
#include "quench/inspect.h"

#include <limits>
#include <set>
#include <string_view>

#include "engine/api_impl.h"
#include "engine/batch_graph.h"
#include "engine/optimizer/inspect_report.h"
#include "engine/profiler/cost_model.h"

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

// Constants that count as weights: not shapes, axes or indices.
bool is_parameter(const ir::Value& v) {
  return v.is_constant() && v.dtype != DType::kI64 && v.dtype != DType::kBool;
}

int64_t value_bytes(const ir::Value& v) {
  return mul(numel(v.shape), static_cast<int64_t>(dtype_size(v.dtype)));
}

}  // namespace

Result<ModelReport> inspect(const Model& model, const BuildOptions& options, const InspectOptions& io) {
  if (options.max_batch < 1)
    return error(StatusCode::kInvalidArgument, "batch must be at least 1, got ", options.max_batch);
  // The same inference and folding build() does, without a backend.
  const ir::Model& m = model.impl().model;
  QUENCH_ASSIGN(auto plain, specialize_for_batch(m.graph, options, options.max_batch, m.source));
  std::shared_ptr<const ir::Graph> graph = plain;
  OptimizeReport optimization;
  if (io.optimized) {
    QUENCH_ASSIGN(graph, optimized_for_inspect(m.graph, options, m.source, &optimization));
  }
  const ir::Graph& g = *graph;

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
  std::vector<profiler::Operand> in_ops, out_ops;
  for (const ir::Node& n : g.nodes) {
    LayerInfo L;
    L.name = n.name;
    L.op_type = n.domain.empty() || n.domain == "ai.onnx" ? n.op_type : n.domain + "." + n.op_type;
    in_ops.clear();
    out_ops.clear();
    for (const auto& name : n.inputs) {
      const ir::Value* v = name.empty() ? nullptr : g.find(name);
      if (!v) {
        L.inputs.push_back({});
        L.input_is_constant.push_back(false);
        in_ops.emplace_back();
        continue;
      }
      L.inputs.push_back({name, v->dtype, v->shape});
      L.input_is_constant.push_back(v->is_constant());
      in_ops.push_back({name, v->dtype, &v->shape, v->is_constant()});
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
        out_ops.emplace_back();
        continue;
      }
      L.outputs.push_back({name, v->dtype, v->shape});
      out_ops.push_back({name, v->dtype, &v->shape, false});
    }
    const profiler::LayerCost cost = profiler::layer_cost(n, in_ops, out_ops);
    L.flops = cost.flops;
    L.bytes = cost.bytes();
    r.total_flops = add(r.total_flops, L.flops);
    ++r.op_histogram[L.op_type];
    r.layers.push_back(std::move(L));
  }
  QUENCH_ASSIGN(r.launches, launches_of(graph));
  if (io.optimized) {
    QUENCH_ASSIGN(r.launches_unoptimized, launches_of(plain));
    r.layers_unoptimized = static_cast<int64_t>(plain->nodes.size());
    describe_optimization(optimization, g, r);
  }
  return r;
}

}  // namespace quench
