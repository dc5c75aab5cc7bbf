// Walks back from the graph outputs: a node none of whose outputs is needed is dead, and so is
// a value (an unused initializer, an intermediate a fusion left behind) that nothing mentions.
#include <algorithm>
#include <set>

#include "engine/optimizer/passes.h"

namespace quench::optimizer {

Result<bool> remove_dead_nodes(ir::Graph& g, PassLog& log) {
  log.begin("remove_dead_nodes");
  std::set<std::string, std::less<>> needed(g.outputs.begin(), g.outputs.end());
  std::vector<bool> live(g.nodes.size(), false);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const ir::Node& n = g.nodes[i];
    for (const auto& o : n.outputs)
      if (!o.empty() && needed.count(o)) live[i] = true;
    if (live[i])
      for (const auto& in : n.inputs)
        if (!in.empty()) needed.insert(in);
  }
  if (std::find(live.begin(), live.end(), false) != live.end()) {
    std::vector<ir::Node> kept;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (live[i]) {
        kept.push_back(std::move(g.nodes[i]));
      } else {
        log.rewrite(g.nodes[i].op_type + " '" + g.nodes[i].name + "' removed: no output is used");
      }
    }
    g.nodes = std::move(kept);
  }
  std::set<std::string, std::less<>> mentioned(g.inputs.begin(), g.inputs.end());
  mentioned.insert(g.outputs.begin(), g.outputs.end());
  for (const ir::Node& n : g.nodes) {
    mentioned.insert(n.inputs.begin(), n.inputs.end());
    mentioned.insert(n.outputs.begin(), n.outputs.end());
  }
  int64_t dropped = 0;
  for (auto it = g.values.begin(); it != g.values.end();) {
    if (mentioned.count(it->first)) {
      ++it;
    } else {
      it = g.values.erase(it);
      ++dropped;
    }
  }
  if (dropped > 0) log.rewrite(std::to_string(dropped) + " values no node uses removed");
  return log.rewrites() > 0;
}

}  // namespace quench::optimizer
