#include "engine/optimizer/graph_edit.h"

#include <algorithm>
#include <set>

#include "ops/registry.h"

namespace quench::optimizer {

GraphIndex::GraphIndex(const ir::Graph& g) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    for (const auto& in : n.inputs)
      if (!in.empty()) readers_[in].push_back(i);
    for (const auto& out : n.outputs)
      if (!out.empty()) producer_[out] = static_cast<int>(i);
  }
  for (const auto& o : g.outputs) ++outputs_[o];
}

int GraphIndex::producer(std::string_view value) const {
  auto it = producer_.find(value);
  return it == producer_.end() ? -1 : it->second;
}

const std::vector<size_t>& GraphIndex::readers(std::string_view value) const {
  static const std::vector<size_t> kNone;
  auto it = readers_.find(value);
  return it == readers_.end() ? kNone : it->second;
}

bool GraphIndex::is_graph_output(std::string_view value) const { return outputs_.find(value) != outputs_.end(); }

int GraphIndex::uses(std::string_view value) const {
  auto it = outputs_.find(value);
  return static_cast<int>(readers(value).size()) + (it == outputs_.end() ? 0 : it->second);
}

void PassLog::begin(std::string pass) {
  if (report_) {
    report_->passes.push_back({std::move(pass), 0, {}});
    current_ = &report_->passes.back();
  } else {
    scratch_ = {std::move(pass), 0, {}};
    current_ = &scratch_;
  }
}

void PassLog::rewrite(std::string detail) {
  ++current_->rewrites;
  if (report_) current_->details.push_back(std::move(detail));
}

void PassLog::note(std::string detail) {
  if (report_) current_->details.push_back(std::move(detail));
}

void PassLog::absorb(const std::string& into, const std::string& absorbed) {
  if (!report_) return;
  auto& fused = report_->fused;
  std::vector<std::string> list = fused.count(into) ? fused[into] : std::vector<std::string>{into};
  if (auto it = fused.find(absorbed); it != fused.end()) {
    list.insert(list.end(), it->second.begin(), it->second.end());
    fused.erase(it);
  } else {
    list.push_back(absorbed);
  }
  fused[into] = std::move(list);
}

bool is_onnx(const ir::Node& n, std::string_view op_type) {
  return n.op_type == op_type && (n.domain.empty() || n.domain == "ai.onnx");
}

bool is_quench(const ir::Node& n, std::string_view op_type) {
  return n.op_type == op_type && n.domain == ops::kQuenchDomain;
}

const Tensor* constant_of(const ir::Graph& g, std::string_view name) {
  if (name.empty()) return nullptr;
  const ir::Value* v = g.find(name);
  return v && v->is_constant() ? &v->constant : nullptr;
}

bool bypass_node(ir::Graph& g, const GraphIndex& idx, size_t i) {
  const std::string in = g.nodes[i].inputs.at(0), out = g.nodes[i].outputs.at(0);
  if (in.empty() || out.empty() || in == out) return false;
  if (!idx.is_graph_output(out)) {
    for (ir::Node& n : g.nodes)
      std::replace(n.inputs.begin(), n.inputs.end(), out, in);
    g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    return true;
  }
  // The output's name must survive: the input's producer writes it instead.
  const int p = idx.producer(in);
  if (p < 0 || idx.is_graph_output(in)) return false;
  for (ir::Node& n : g.nodes) {
    std::replace(n.inputs.begin(), n.inputs.end(), in, out);
    std::replace(n.outputs.begin(), n.outputs.end(), in, out);
  }
  g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(i));
  return true;
}

void replace_nodes(ir::Graph& g, const std::vector<size_t>& absorbed, ir::Node fused) {
  fused.schema = ops::find_schema(fused.op_type, fused.domain);
  const size_t last = *std::max_element(absorbed.begin(), absorbed.end());
  g.nodes[last] = std::move(fused);
  std::set<size_t> drop(absorbed.begin(), absorbed.end());
  drop.erase(last);
  std::vector<ir::Node> kept;
  kept.reserve(g.nodes.size() - drop.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!drop.count(i)) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

std::string unique_value_name(const ir::Graph& g, const std::string& base) {
  if (!g.find(base)) return base;
  for (int k = 1;; ++k) {
    std::string name = base + "_" + std::to_string(k);
    if (!g.find(name)) return name;
  }
}

void add_constant(ir::Graph& g, const std::string& name, Tensor t) {
  ir::Value& v = g.get_or_add(name);
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.has_shape = true;
  v.constant = std::move(t);
}

ops::Attribute string_attribute(std::string s) {
  ops::Attribute a;
  a.kind = ops::Attribute::Kind::kString;
  a.s = std::move(s);
  return a;
}

ops::Attribute float_attribute(float f) {
  ops::Attribute a;
  a.kind = ops::Attribute::Kind::kFloat;
  a.f = f;
  return a;
}

ops::Attribute int_attribute(int64_t i) {
  ops::Attribute a;
  a.kind = ops::Attribute::Kind::kInt;
  a.i = i;
  return a;
}

ops::Attribute ints_attribute(std::vector<int64_t> v) {
  ops::Attribute a;
  a.kind = ops::Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}

std::optional<std::vector<int64_t>> ints_of(const ir::Node& n, std::string_view name) {
  const ops::Attribute* a = n.attrs.find(name);
  if (!a || a->kind != ops::Attribute::Kind::kInts) return std::nullopt;
  return a->ints;
}

std::optional<int64_t> int_of(const ir::Node& n, std::string_view name, int64_t dflt) {
  const ops::Attribute* a = n.attrs.find(name);
  if (!a) return dflt;
  if (a->kind != ops::Attribute::Kind::kInt) return std::nullopt;
  return a->i;
}

}  // namespace quench::optimizer
