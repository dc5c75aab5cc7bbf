// Transpose(Transpose(x, p1), p2) is Transpose(x, c) with c[k] = p1[p2[k]]: removed when c is
// the identity, one node otherwise. Only explicit perms are composed (a default perm needs the
// rank, which is not known before shape inference).
#include <algorithm>
#include <numeric>

#include "engine/optimizer/passes.h"

namespace quench::optimizer {
namespace {

bool is_permutation(const std::vector<int64_t>& p) {
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i)
    if (sorted[i] != static_cast<int64_t>(i)) return false;
  return true;
}

bool is_identity(const std::vector<int64_t>& p) {
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<int64_t>(i)) return false;
  return true;
}

std::optional<std::vector<int64_t>> perm_of(const ir::Node& n) {
  if (!is_onnx(n, "Transpose") || n.inputs.size() != 1 || n.outputs.size() != 1) return std::nullopt;
  auto p = ints_of(n, "perm");
  if (!p || !is_permutation(*p)) return std::nullopt;
  return p;
}

// One rewrite at node i, if any applies.
bool rewrite_at(ir::Graph& g, const GraphIndex& idx, size_t i, PassLog& log) {
  const ir::Node& t2 = g.nodes[i];
  auto p2 = perm_of(t2);
  if (!p2) return false;
  if (is_identity(*p2)) {
    const std::string what = "Transpose '" + t2.name + "' (identity perm) removed";
    if (!bypass_node(g, idx, i)) return false;
    log.rewrite(what);
    return true;
  }
  const int j = idx.producer(t2.inputs[0]);
  if (j < 0) return false;
  const ir::Node& t1 = g.nodes[j];
  auto p1 = perm_of(t1);
  if (!p1 || p1->size() != p2->size() || idx.uses(t1.outputs[0]) != 1) return false;
  std::vector<int64_t> c(p2->size());
  for (size_t k = 0; k < c.size(); ++k) c[k] = (*p1)[(*p2)[k]];
  ir::Node merged = t2;
  merged.inputs[0] = t1.inputs[0];
  merged.attrs.set("perm", ints_attribute(c));
  const std::string t1_name = t1.name, t2_name = t2.name;
  replace_nodes(g, {static_cast<size_t>(j), i}, std::move(merged));
  if (is_identity(c)) {
    // The merged node is now an identity: bypass it when its output's name allows.
    // It sits where t2 was, one place earlier now that t1 (before it) is gone.
    if (bypass_node(g, GraphIndex(g), i - 1)) {
      log.rewrite("Transpose '" + t1_name + "' and '" + t2_name + "' cancel; removed");
      return true;
    }
  }
  log.absorb(t2_name, t1_name);
  log.rewrite("Transpose '" + t1_name + "' merged into Transpose '" + t2_name + "'");
  return true;
}

}  // namespace

Result<bool> fold_transpose_pairs(ir::Graph& g, PassLog& log) {
  log.begin("fold_transpose_pairs");
  return rewrite_to_fixed_point(g, log, [&](ir::Graph& gr, const GraphIndex& idx, size_t i) {
    return rewrite_at(gr, idx, i, log);
  });
}

}  // namespace quench::optimizer
