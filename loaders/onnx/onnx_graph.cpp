// GraphProto and NodeProto -> ir::Graph.
#include "loaders/onnx/onnx_graph.h"

#include <set>
#include <vector>

#include "loaders/onnx/tensor_proto.h"
#include "loaders/onnx/value_info.h"

namespace quench::loaders::onnx {
namespace {

using wire::Field;
using wire::WireType;

// NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, doc_string = 6,
// domain = 7 (overload = 8 and metadata_props = 9 of later versions are skipped).
Status parse_node(ParseContext& ctx, const Field& f, const Path& graph_path, int64_t index, ir::Node* n) {
  Path p = graph_path.child("node", index);
  // Name and op type first, so that errors inside the attributes can name the node.
  QUENCH_TRY(peek_string(ctx, p, f.data, f.size, 3, &n->name));
  QUENCH_TRY(peek_string(ctx, p, f.data, f.size, 4, &n->op_type));
  p.label = !n->name.empty() ? n->name : n->op_type.empty() ? "" : n->op_type + "_" + std::to_string(index);
  DepthGuard guard(ctx);
  QUENCH_TRY(guard.check(p));
  int64_t n_attrs = 0;
  wire::Reader r(ctx.origin, f);
  while (!r.done()) {
    Field v;
    QUENCH_TRY(ctx.wrap(p, r.next(&v)));
    switch (v.number) {
      case 1:
        QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "input"));
        n->inputs.push_back(as_string(v));
        break;
      case 2:
        QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "output"));
        n->outputs.push_back(as_string(v));
        break;
      case 3: QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "name")); break;
      case 4: QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "op_type")); break;
      case 6: QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "doc_string")); break;
      case 7:
        QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "domain"));
        n->domain = as_string(v);
        break;
      case 5: {
        QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "attribute"));
        std::string name;
        ops::Attribute a;
        QUENCH_TRY(parse_attribute(ctx, v, p, n_attrs++, &name, &a));
        if (n->attrs.has(name)) {
          Path ap = p.child("attribute");
          ap.label = name;
          ap.bare_label = true;
          return ctx.fail(ap, StatusCode::kParseError, "attribute appears twice");
        }
        n->attrs.set(std::move(name), std::move(a));
        break;
      }
      default: break;
    }
  }
  if (n->op_type.empty()) return ctx.fail(p, StatusCode::kParseError, "node has no op_type");
  const std::string_view domain = n->domain == "ai.onnx" ? std::string_view() : std::string_view(n->domain);
  auto it = ctx.opsets.find(domain);
  n->opset = it == ctx.opsets.end() ? 0 : it->second;
  return {};
}

void apply(const ValueInfo& vi, ir::Value* v) {
  v->dtype = vi.dtype;
  v->has_shape = vi.has_shape;
  v->shape = vi.shape;
  v->dim_params = vi.dim_params;
}

}  // namespace

// GraphProto: node = 1, name = 2, initializer = 5, doc_string = 10, input = 11, output = 12,
// value_info = 13, quantization_annotation = 14, sparse_initializer = 15.
Status parse_graph(ParseContext& ctx, const uint8_t* data, size_t size, const Path& path, ir::Graph* g) {
  DepthGuard guard(ctx);
  QUENCH_TRY(guard.check(path));
  g->opsets = ctx.opsets;
  std::vector<ParsedTensor> inits;
  std::vector<ValueInfo> inputs, outputs, infos;
  wire::Reader r(ctx.origin, data, data + size);
  while (!r.done()) {
    Field v;
    QUENCH_TRY(ctx.wrap(path, r.next(&v)));
    switch (v.number) {
      case 1: {
        QUENCH_TRY(expect_type(ctx, path, v, WireType::kLen, "node"));
        ir::Node n;
        QUENCH_TRY(parse_node(ctx, v, path, static_cast<int64_t>(g->nodes.size()), &n));
        g->nodes.push_back(std::move(n));
        break;
      }
      case 2:
        QUENCH_TRY(expect_type(ctx, path, v, WireType::kLen, "name"));
        g->name = as_string(v);
        break;
      case 5: {
        QUENCH_TRY(expect_type(ctx, path, v, WireType::kLen, "initializer"));
        QUENCH_ASSIGN(auto t, parse_tensor(ctx, v.data, v.size,
                                           path.child("initializer", static_cast<int64_t>(inits.size()))));
        inits.push_back(std::move(t));
        break;
      }
      case 11: case 12: case 13: {
        const char* what = v.number == 11 ? "input" : v.number == 12 ? "output" : "value_info";
        auto& list = v.number == 11 ? inputs : v.number == 12 ? outputs : infos;
        QUENCH_TRY(expect_type(ctx, path, v, WireType::kLen, what));
        ValueInfo vi;
        QUENCH_TRY(parse_value_info(ctx, v, path.child(what, static_cast<int64_t>(list.size())), &vi));
        list.push_back(std::move(vi));
        break;
      }
      case 10: QUENCH_TRY(expect_type(ctx, path, v, WireType::kLen, "doc_string")); break;
      case 14: QUENCH_TRY(expect_type(ctx, path, v, WireType::kLen, "quantization_annotation")); break;
      case 15:
        QUENCH_TRY(expect_type(ctx, path, v, WireType::kLen, "sparse_initializer"));
        return ctx.fail(path, StatusCode::kUnsupported, "sparse initializers are not supported");
      default: break;
    }
  }

  for (size_t i = 0; i < inits.size(); ++i) {
    ParsedTensor& t = inits[i];
    const Path ip = path.child("initializer", static_cast<int64_t>(i));
    if (t.name.empty()) return ctx.fail(ip, StatusCode::kParseError, "initializer has no name");
    ir::Value& v = g->get_or_add(t.name);
    if (v.is_constant()) {
      Path np = ip;
      np.label = t.name;
      return ctx.fail(np, StatusCode::kParseError, "a second initializer with this name");
    }
    v.dtype = t.tensor.dtype();
    v.shape = t.tensor.shape();
    v.dim_params.assign(v.shape.size(), std::string());
    v.has_shape = true;
    v.constant = std::move(t.tensor);
  }
  // Inputs and outputs must be tensors; value_info of other kinds only annotates values
  // quench will never hold, so it is skipped.
  auto check_io = [&](const ValueInfo& vi, const char* what, size_t i) -> Status {
    Path vp = path.child(what, static_cast<int64_t>(i));
    vp.label = vi.name;
    if (vi.name.empty()) return ctx.fail(vp, StatusCode::kParseError, "graph ", what, " has no name");
    if (vi.non_tensor_kind)
      return ctx.fail(vp, StatusCode::kUnsupported, "graph ", what, " of ", vi.non_tensor_kind,
                      " type; only tensors are supported");
    return {};
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& vi = inputs[i];
    QUENCH_TRY(check_io(vi, "input", i));
    ir::Value& v = g->get_or_add(vi.name);
    if (v.is_constant()) {
      // An initializer listed as an input is a default the caller could override; quench
      // treats it as a constant, so it is not a runtime input.
      if (vi.dtype != DType::kUndefined && vi.dtype != v.dtype) {
        Path vp = path.child("input", static_cast<int64_t>(i));
        vp.label = vi.name;
        return ctx.fail(vp, StatusCode::kParseError, "declared ", dtype_name(vi.dtype), " but its initializer is ",
                        dtype_name(v.dtype));
      }
      continue;
    }
    g->inputs.push_back(vi.name);
    apply(vi, &v);
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const ValueInfo& vi = outputs[i];
    QUENCH_TRY(check_io(vi, "output", i));
    g->outputs.push_back(vi.name);
    ir::Value& v = g->get_or_add(vi.name);
    if (!v.is_constant()) apply(vi, &v);
  }
  std::set<std::string, std::less<>> described(g->inputs.begin(), g->inputs.end());
  described.insert(g->outputs.begin(), g->outputs.end());
  for (const ValueInfo& vi : infos) {
    if (vi.name.empty() || vi.non_tensor_kind || !vi.has_type || described.count(vi.name)) continue;
    ir::Value& v = g->get_or_add(vi.name);
    if (!v.is_constant()) apply(vi, &v);
  }

  // Unnamed nodes become "<OpType>_<index>" (docs/decisions.md), made unique against the
  // names the file does give, so that every error can name its node.
  std::set<std::string, std::less<>> used;
  for (const ir::Node& n : g->nodes)
    if (!n.name.empty()) used.insert(n.name);
  for (size_t i = 0; i < g->nodes.size(); ++i) {
    ir::Node& n = g->nodes[i];
    if (!n.name.empty()) continue;
    std::string name = n.op_type + "_" + std::to_string(i);
    for (int k = 1; used.count(name); ++k) name = n.op_type + "_" + std::to_string(i) + "_" + std::to_string(k);
    used.insert(name);
    n.name = std::move(name);
  }
  return {};
}

}  // namespace quench::loaders::onnx
