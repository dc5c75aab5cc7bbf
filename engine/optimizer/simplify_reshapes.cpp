// After shape inference every shape is static, so Reshape-like nodes (Reshape, Flatten,
// Squeeze, Unsqueeze) can be judged by their shapes: one that keeps its input's shape is a
// copy and is bypassed; two in a row (the first read only by the second) become one Reshape
// straight to the final shape, through a new int64 shape constant.
#include "engine/optimizer/passes.h"
#include "ops/registry.h"

namespace quench::optimizer {
namespace {

bool is_reshape_like(const ir::Node& n) {
  return (is_onnx(n, "Reshape") || is_onnx(n, "Flatten") || is_onnx(n, "Squeeze") || is_onnx(n, "Unsqueeze")) &&
         !n.inputs.empty() && !n.inputs[0].empty() && n.outputs.size() == 1;
}

const ir::Value* static_value(const ir::Graph& g, const std::string& name) {
  const ir::Value* v = g.find(name);
  return v && v->shape_is_static() ? v : nullptr;
}

bool rewrite_at(ir::Graph& g, const GraphIndex& idx, size_t i, PassLog& log) {
  const ir::Node& r2 = g.nodes[i];
  if (!is_reshape_like(r2)) return false;
  const ir::Value* in = static_value(g, r2.inputs[0]);
  const ir::Value* out = static_value(g, r2.outputs[0]);
  if (!in || !out || in->dtype != out->dtype) return false;
  if (in->shape == out->shape) {
    const std::string what =
        r2.op_type + " '" + r2.name + "' keeps its input's shape " + shape_str(in->shape) + "; removed";
    if (!bypass_node(g, idx, i)) return false;
    log.rewrite(what);
    return true;
  }
  const int j = idx.producer(r2.inputs[0]);
  if (j < 0 || !is_reshape_like(g.nodes[j]) || idx.uses(r2.inputs[0]) != 1) return false;
  const ir::Node& r1 = g.nodes[j];
  // A 0 in Reshape's shape means "copy this dim" unless allowzero; keep to shapes without one.
  for (int64_t d : out->shape)
    if (d == 0) return false;
  const std::string shape_name = unique_value_name(g, r2.name + "/shape");
  Tensor shape = Tensor::zeros(DType::kI64, {static_cast<int64_t>(out->shape.size())});
  for (size_t d = 0; d < out->shape.size(); ++d) shape.mutable_data_as<int64_t>()[d] = out->shape[d];
  ir::Node merged;
  merged.name = r2.name;
  merged.op_type = "Reshape";
  merged.opset = ir::opset_for(g, "");
  merged.inputs = {r1.inputs[0], shape_name};
  merged.outputs = {r2.outputs[0]};
  const std::string what = r1.op_type + " '" + r1.name + "' and " + r2.op_type + " '" + r2.name +
                           "' merged into one Reshape to " + shape_str(out->shape);
  log.absorb(r2.name, r1.name);
  add_constant(g, shape_name, std::move(shape));
  replace_nodes(g, {static_cast<size_t>(j), i}, std::move(merged));
  log.rewrite(what);
  return true;
}

}  // namespace

Result<bool> simplify_reshapes(ir::Graph& g, PassLog& log) {
  log.begin("simplify_reshapes");
  return rewrite_to_fixed_point(g, log, [&](ir::Graph& gr, const GraphIndex& idx, size_t i) {
    return rewrite_at(gr, idx, i, log);
  });
}

}  // namespace quench::optimizer
