// Depthwise KxK (+activation) -> pointwise 1x1 (+ residual, + activation), the depthwise output
// read by nothing else, becomes one DwPwConv that never writes the depthwise output out.
#include "engine/optimizer/fuse_blocks.h"
#include "engine/optimizer/passes.h"

namespace quench::optimizer {
namespace {

constexpr ops::StageAttrs kDw{"dw_activation", "dw_activation_alpha", "dw_activation_beta"};
constexpr ops::StageAttrs kPw{"pw_activation", "pw_activation_alpha", "pw_activation_beta"};

bool rewrite_at(ir::Graph& g, const GraphIndex& idx, size_t i, PassLog& log) {
  const ir::Node& d = g.nodes[i];
  if (!is_depthwise(g, d) || conv_info(g, d)->has_residual) return false;
  auto pi = sole_reader(idx, d.outputs[0]);
  if (!pi || g.nodes[*pi].inputs[0] != d.outputs[0]) return false;
  const ir::Node& p = g.nodes[*pi];
  if (!is_pointwise(g, p)) return false;
  const Shape &wd = conv_info(g, d)->weight->shape(), &wp = conv_info(g, p)->weight->shape();
  if (wp.size() != wd.size() || wp[1] != wd[0]) return false;

  ir::Node f = block_node(d, d.name, "DwPwConv", kDw);
  copy_activation(p, f, kPw);
  if (const ops::Attribute* a = p.attrs.find(ops::kResidualAfterAttr))
    f.attrs.set(std::string(ops::kResidualAfterAttr), *a);
  f.inputs = {d.inputs[0], d.inputs[1], input_or_empty(d, 2), p.inputs[1], input_or_empty(p, 2)};
  if (conv_info(g, p)->has_residual) f.inputs.push_back(p.inputs[3]);
  f.outputs = {p.outputs[0]};
  const std::string what = "'" + d.name + "' and '" + p.name + "' fused into DwPwConv '" + d.name + "'";
  log.absorb(d.name, p.name);
  replace_nodes(g, {i, *pi}, std::move(f));
  log.rewrite(what);
  return true;
}

}  // namespace

Result<bool> fuse_dw_pw(ir::Graph& g, PassLog& log) {
  log.begin("fuse_dw_pw");
  return rewrite_to_fixed_point(g, log, [&](ir::Graph& gr, const GraphIndex& idx, size_t i) {
    return rewrite_at(gr, idx, i, log);
  });
}

}  // namespace quench::optimizer
