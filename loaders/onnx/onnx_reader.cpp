// ModelProto -> ir::Model, and the reader's entry points (file, bytes, one TensorProto).
#include "loaders/onnx/onnx_reader.h"

#include <filesystem>

#include "loaders/onnx/external_data.h"
#include "loaders/onnx/mapped_file.h"
#include "loaders/onnx/onnx_graph.h"
#include "loaders/onnx/parse_context.h"
#include "loaders/onnx/tensor_proto.h"

namespace quench::loaders {
namespace {

using onnx::ParseContext;
using onnx::Path;
using wire::Field;
using wire::WireType;

// OperatorSetIdProto: domain = 1, version = 2.
Status parse_opset(ParseContext& ctx, const Field& f, const Path& p, std::map<std::string, int64_t, std::less<>>* opsets) {
  std::string domain;
  int64_t version = 0;
  wire::Reader r(ctx.origin, f);
  while (!r.done()) {
    Field v;
    QUENCH_TRY(ctx.wrap(p, r.next(&v)));
    if (v.number == 1) {
      QUENCH_TRY(onnx::expect_type(ctx, p, v, WireType::kLen, "domain"));
      domain = onnx::as_string(v);
    } else if (v.number == 2) {
      QUENCH_TRY(onnx::expect_type(ctx, p, v, WireType::kVarint, "version"));
      version = static_cast<int64_t>(v.value);
    }
  }
  if (domain == "ai.onnx") domain.clear();  // the same domain under its two spellings
  auto [it, inserted] = opsets->emplace(domain, version);
  if (!inserted && it->second != version)
    return ctx.fail(p, StatusCode::kParseError, "domain '", domain, "' is imported at versions ", it->second, " and ",
                    version);
  return {};
}

// ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, domain = 4,
// model_version = 5, doc_string = 6, graph = 7, opset_import = 8, metadata_props = 14,
// training_info = 20, functions = 25.
Result<ir::Model> parse_model(ParseContext& ctx, const uint8_t* data, size_t size) {
  const Path root;
  onnx::DepthGuard guard(ctx);
  ir::Model m;
  const Field* graph = nullptr;
  Field graph_field;
  std::map<std::string, int64_t, std::less<>> opsets;
  int64_t n_opsets = 0;
  wire::Reader r(ctx.origin, data, data + size);
  while (!r.done()) {
    Field v;
    QUENCH_TRY(ctx.wrap(root, r.next(&v)));
    switch (v.number) {
      case 1:
        QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kVarint, "ir_version"));
        m.ir_version = static_cast<int64_t>(v.value);
        break;
      case 2:
        QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "producer_name"));
        m.producer_name = onnx::as_string(v);
        break;
      case 3:
        QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "producer_version"));
        m.producer_version = onnx::as_string(v);
        break;
      case 4: QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "domain")); break;
      case 5: QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kVarint, "model_version")); break;
      case 6:
        QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "doc_string"));
        m.doc = onnx::as_string(v);
        break;
      case 7:
        QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "graph"));
        if (graph) return ctx.fail(root, StatusCode::kParseError, "model holds two graphs (second at byte ", v.offset, ")");
        graph_field = v;
        graph = &graph_field;
        break;
      case 8:
        QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "opset_import"));
        QUENCH_TRY(parse_opset(ctx, v, root.child("opset_import", n_opsets++), &opsets));
        break;
      case 14: QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "metadata_props")); break;
      case 20: QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "training_info")); break;
      case 25: QUENCH_TRY(onnx::expect_type(ctx, root, v, WireType::kLen, "functions")); break;
      default: break;
    }
  }
  if (!graph) return ctx.fail(root, StatusCode::kParseError, "model has no graph");
  // The graph is read last: its nodes need the opsets, which files list after it.
  ctx.opsets = opsets;
  QUENCH_TRY(onnx::parse_graph(ctx, graph->data, graph->size, root.child("graph"), &m.graph));
  return m;
}

}  // namespace

Result<ir::Model> read_onnx_bytes(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                  const std::string& name, const std::string& base_dir, const OnnxReadOptions& opt) {
  if (!data && size > 0) return error(StatusCode::kInvalidArgument, name, ": null data of ", size, " bytes");
  ExternalData external(base_dir, opt.max_tensor_bytes);
  ParseContext ctx;
  ctx.source = name;
  ctx.origin = data;
  ctx.owner = owner;
  ctx.opt = opt;
  ctx.external = base_dir.empty() ? nullptr : &external;
  QUENCH_ASSIGN(ir::Model m, parse_model(ctx, data, size));
  m.source = name;
  if (owner) m.keep_alive.push_back(std::move(owner));
  for (auto& o : external.owners()) m.keep_alive.push_back(std::move(o));
  return m;
}

Result<ir::Model> read_onnx_file(const std::string& path, const OnnxReadOptions& opt) {
  QUENCH_ASSIGN(auto mapped, map_file(path));
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = std::filesystem::path(".");
  const uint8_t* data = mapped->data;
  const size_t size = mapped->size;
  // Aliasing owner: tensors hold the mapping alive while pointing at bytes inside it.
  std::shared_ptr<const void> owner(mapped, data);
  return read_onnx_bytes(std::move(owner), data, size, path, dir.string(), opt);
}

Result<Tensor> read_tensor_proto(const uint8_t* data, size_t size, const std::string& name) {
  if (!data && size > 0) return error(StatusCode::kInvalidArgument, name, ": null data of ", size, " bytes");
  ParseContext ctx;
  ctx.source = name;
  ctx.origin = data;  // no owner: the caller's bytes may go away, so tensors are copied
  Path root;
  root.field = "tensor";
  QUENCH_ASSIGN(auto t, onnx::parse_tensor(ctx, data, size, root));
  return std::move(t.tensor);
}

}  // namespace quench::loaders
