// MobileNetV2's inverted residual: pointwise expand (+activation) -> depthwise KxK
// (+activation) -> pointwise project (+ residual, + activation), each intermediate read only by
// the next stage, becomes one InvertedResidual whose expanded tensors never leave the op.
#include "engine/optimizer/fuse_blocks.h"
#include "engine/optimizer/passes.h"

namespace quench::optimizer {
namespace {

constexpr ops::StageAttrs kExpand{"expand_activation", "expand_activation_alpha", "expand_activation_beta"};
constexpr ops::StageAttrs kDw{"dw_activation", "dw_activation_alpha", "dw_activation_beta"};
constexpr ops::StageAttrs kProject{"project_activation", "project_activation_alpha", "project_activation_beta"};

bool rewrite_at(ir::Graph& g, const GraphIndex& idx, size_t i, PassLog& log) {
  const ir::Node& e = g.nodes[i];
  if (!is_pointwise(g, e) || conv_info(g, e)->has_residual) return false;
  auto di = sole_reader(idx, e.outputs[0]);
  if (!di || g.nodes[*di].inputs[0] != e.outputs[0]) return false;
  const ir::Node& d = g.nodes[*di];
  if (!is_depthwise(g, d) || conv_info(g, d)->has_residual) return false;
  auto pi = sole_reader(idx, d.outputs[0]);
  if (!pi || g.nodes[*pi].inputs[0] != d.outputs[0]) return false;
  const ir::Node& p = g.nodes[*pi];
  if (!is_pointwise(g, p)) return false;
  const Shape &we = conv_info(g, e)->weight->shape(), &wd = conv_info(g, d)->weight->shape(),
              &wp = conv_info(g, p)->weight->shape();
  if (we.size() != wd.size() || wp.size() != wd.size() || wd[0] != we[0] || wp[1] != wd[0]) return false;

  ir::Node ir = block_node(d, e.name, "InvertedResidual", kDw);
  copy_activation(e, ir, kExpand);
  copy_activation(p, ir, kProject);
  if (const ops::Attribute* a = p.attrs.find(ops::kResidualAfterAttr))
    ir.attrs.set(std::string(ops::kResidualAfterAttr), *a);
  ir.inputs = {e.inputs[0], e.inputs[1], input_or_empty(e, 2), d.inputs[1], input_or_empty(d, 2),
               p.inputs[1], input_or_empty(p, 2)};
  if (conv_info(g, p)->has_residual) ir.inputs.push_back(p.inputs[3]);
  ir.outputs = {p.outputs[0]};
  const std::string what = "'" + e.name + "', '" + d.name + "' and '" + p.name + "' fused into InvertedResidual '" +
                           e.name + "'" + (conv_info(g, p)->has_residual ? " (with residual)" : "");
  log.absorb(e.name, d.name);
  log.absorb(e.name, p.name);
  replace_nodes(g, {i, *di, *pi}, std::move(ir));
  log.rewrite(what);
  return true;
}

}  // namespace

Result<bool> fuse_inverted_residuals(ir::Graph& g, PassLog& log) {
  log.begin("fuse_inverted_residuals");
  return rewrite_to_fixed_point(g, log, [&](ir::Graph& gr, const GraphIndex& idx, size_t i) {
    return rewrite_at(gr, idx, i, log);
  });
}

}  // namespace quench::optimizer
