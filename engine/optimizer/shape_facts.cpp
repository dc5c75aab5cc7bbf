#include "engine/optimizer/shape_facts.h"

#include "engine/batch_graph.h"

namespace quench::optimizer {

ShapeFacts ShapeFacts::probe(const ir::Graph& g, const OptimizeOptions& opt) {
  ShapeFacts f;
  std::vector<int64_t> batches = {1};
  if (opt.max_batch >= 2) batches.push_back(2);
  if (opt.max_batch > 2) batches.push_back(opt.max_batch);
  BuildOptions bo;
  bo.max_batch = static_cast<int>(opt.max_batch);
  bo.input_shapes = opt.input_shapes;
  for (int64_t b : batches) {
    auto sg = specialize_for_batch(g, bo, b, "shape probe");
    if (!sg.ok()) {
      f.probes_.clear();
      f.why_ = "shapes unknown at batch " + std::to_string(b) + " (" + sg.status().message() + ")";
      return f;
    }
    auto& m = f.probes_.emplace_back();
    for (const auto& [name, v] : (*sg)->values)
      if (v.shape_is_static()) m[name] = {v.dtype, v.shape};
  }
  return f;
}

bool ShapeFacts::same(std::string_view a, std::string_view b) const {
  if (probes_.empty()) return false;
  for (const auto& m : probes_) {
    auto ia = m.find(a), ib = m.find(b);
    if (ia == m.end() || ib == m.end()) return false;
    if (ia->second.dtype != ib->second.dtype || ia->second.shape != ib->second.shape) return false;
  }
  return true;
}

}  // namespace quench::optimizer
