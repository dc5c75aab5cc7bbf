// Identity and inference-mode Dropout copy their input; readers can take the input itself.
#include "engine/optimizer/passes.h"

namespace quench::optimizer {
namespace {

bool is_copy(const ir::Node& n, const GraphIndex& idx) {
  if (n.inputs.empty() || n.outputs.empty()) return false;
  if (is_onnx(n, "Identity")) return true;
  if (!is_onnx(n, "Dropout")) return false;
  // The mask (all true at inference) is a real output when someone reads it.
  return n.outputs.size() < 2 || n.outputs[1].empty() || idx.uses(n.outputs[1]) == 0;
}

}  // namespace

Result<bool> remove_copies(ir::Graph& g, PassLog& log) {
  log.begin("remove_copies");
  bool changed = true;
  while (changed) {  // one bypass per scan: indices shift after each
    changed = false;
    GraphIndex idx(g);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (!is_copy(g.nodes[i], idx)) continue;
      const std::string what = g.nodes[i].op_type + " '" + g.nodes[i].name + "' removed";
      if (!bypass_node(g, idx, i)) continue;
      log.rewrite(what);
      changed = true;
      break;
    }
  }
  return log.rewrites() > 0;
}

}  // namespace quench::optimizer
