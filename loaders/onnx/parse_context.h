// What every ONNX message parser shares: the buffer, the options, the nesting depth, and the
// path of the message being read, so that an error says where it is ("graph.node[12]
// ('Conv_3').attribute 'pads'") and at which byte.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loaders/onnx/external_data.h"
#include "loaders/onnx/onnx_reader.h"
#include "loaders/onnx/wire.h"

namespace quench::loaders::onnx {

// One step of a message path, linked to its parent on the stack; rendered only on error.
struct Path {
  const Path* parent = nullptr;
  std::string_view field;  // "graph", "node", "attribute", ...
  int64_t index = -1;      // position in a repeated field, or -1
  std::string label;       // node / tensor / value name, or attribute name
  bool bare_label = false; // attribute style ("attribute 'pads'") instead of "node[3] ('Conv_3')"

  Path child(std::string_view f, int64_t i = -1) const { return Path{this, f, i, {}, false}; }
  std::string str() const;
};

// Only the payload kinds a ModelProto needs; every field's expected wire type is checked.
struct ParseContext {
  std::string source;                  // file name for messages
  const uint8_t* origin = nullptr;     // start of the buffer: byte offsets count from here
  std::shared_ptr<const void> owner;   // keeps the buffer alive; null: tensors are copied
  OnnxReadOptions opt;
  ExternalData* external = nullptr;    // null: external data is refused
  std::map<std::string, int64_t, std::less<>> opsets;  // set before graphs are read
  int depth = 0;

  static constexpr int kMaxDepth = 64;

  // "<source>: <path>: <message>"
  template <class... Parts>
  Status fail(const Path& p, StatusCode code, const Parts&... parts) const {
    return error(code, prefix(p), parts...);
  }
  // Puts source and path in front of a wire-level error.
  Status wrap(const Path& p, const Status& s) const {
    return s.ok() ? s : Status(s.code(), prefix(p) + s.message());
  }
  std::string prefix(const Path& p) const;
};

// Counts one level of message nesting for as long as it lives. Recursion (graphs inside
// attributes inside graphs) is bounded by kMaxDepth, so hostile nesting errors instead of
// exhausting the stack.
class DepthGuard {
 public:
  explicit DepthGuard(ParseContext& ctx) : ctx_(ctx) { ++ctx_.depth; }
  ~DepthGuard() { --ctx_.depth; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
  Status check(const Path& p) const {
    if (ctx_.depth > ParseContext::kMaxDepth)
      return ctx_.fail(p, StatusCode::kParseError, "messages nested deeper than ", ParseContext::kMaxDepth, " levels");
    return {};
  }

 private:
  ParseContext& ctx_;
};

// Wire-type checks for a field of a known meaning; errors name the field.
Status expect_type(const ParseContext& ctx, const Path& p, const wire::Field& f, wire::WireType want,
                   std::string_view field_name);
// A repeated scalar: its element's wire type, or LEN for the packed encoding.
Status expect_repeated(const ParseContext& ctx, const Path& p, const wire::Field& f, wire::WireType elem,
                       std::string_view field_name);

// The bytes of a LEN field as a string (names, op types, string attributes).
inline std::string as_string(const wire::Field& f) {
  return std::string(reinterpret_cast<const char*>(f.data), f.size);
}

// Reads the last occurrence of LEN field `number` from a message without interpreting the
// rest (a node's name before its attributes, so their errors can name the node).
Status peek_string(const ParseContext& ctx, const Path& p, const uint8_t* data, size_t size, uint32_t number,
                   std::string* out);

}  // namespace quench::loaders::onnx
