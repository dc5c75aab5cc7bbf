#include "engine/optimizer/fuse_blocks.h"

#include "ops/registry.h"

namespace quench::optimizer {

ir::Node block_node(const ir::Node& dw, std::string name, std::string op_type, const ops::StageAttrs& dw_names) {
  ir::Node n;
  n.name = std::move(name);
  n.op_type = std::move(op_type);
  n.domain = std::string(ops::kQuenchDomain);
  const ops::StageAttrs& act = ops::kActivationAttrs;
  for (const auto& [key, value] : dw.attrs.all())
    if (key != act.kind && key != act.alpha && key != act.beta && key != ops::kResidualAfterAttr)
      n.attrs.set(key, value);
  copy_activation(dw, n, dw_names);
  return n;
}

std::string input_or_empty(const ir::Node& n, size_t i) { return i < n.inputs.size() ? n.inputs[i] : std::string(); }

std::optional<size_t> sole_reader(const GraphIndex& idx, const std::string& value) {
  if (idx.uses(value) != 1 || idx.readers(value).size() != 1) return std::nullopt;
  return idx.readers(value)[0];
}

}  // namespace quench::optimizer
