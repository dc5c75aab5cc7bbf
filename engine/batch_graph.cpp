#include "engine/batch_graph.h"

#include "engine/shape_inference.h"

namespace quench {

bool batch_is_open(const ir::Graph& g) {
  for (const auto& name : g.inputs) {
    const ir::Value* v = g.find(name);
    if (v && (!v->has_shape || (!v->shape.empty() && v->shape[0] < 0))) return true;
  }
  return false;
}

Result<std::shared_ptr<const ir::Graph>> specialize_for_batch(const ir::Graph& model_graph, const BuildOptions& opt,
                                                              int64_t batch, const std::string& source) {
  auto g = std::make_shared<ir::Graph>(model_graph);
  InferOptions io;
  io.batch = batch;
  for (const auto& [name, shape] : opt.input_shapes) {
    Shape s = shape;
    if (!s.empty()) s[0] = batch;
    io.input_shapes[name] = s;
  }
  QUENCH_TRY(infer_shapes(*g, io).with_context(source));
  remove_folded_nodes(*g);
  return std::shared_ptr<const ir::Graph>(std::move(g));
}

}  // namespace quench
