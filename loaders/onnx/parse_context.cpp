#include "loaders/onnx/parse_context.h"

namespace quench::loaders::onnx {

std::string Path::str() const {
  std::vector<const Path*> steps;
  for (const Path* p = this; p; p = p->parent) steps.push_back(p);
  std::string s;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    const Path& p = **it;
    if (p.field.empty()) continue;  // the root message names itself through the source
    if (!s.empty()) s += '.';
    s += p.field;
    if (p.index >= 0) {
      s += '[';
      s += std::to_string(p.index);
      s += ']';
    }
    if (!p.label.empty()) {
      s += p.bare_label ? " '" : " ('";
      s += p.label;
      s += p.bare_label ? "'" : "')";
    }
  }
  return s;
}

std::string ParseContext::prefix(const Path& p) const {
  std::string s = source.empty() ? std::string("<onnx>") : source;
  s += ": ";
  const std::string where = p.str();
  if (!where.empty()) s += where + ": ";
  return s;
}

Status expect_type(const ParseContext& ctx, const Path& p, const wire::Field& f, wire::WireType want,
                   std::string_view field_name) {
  if (f.type == want) return {};
  return ctx.fail(p, StatusCode::kParseError, "field '", field_name, "' (", f.number, ") has wire type ",
                  wire::wire_type_name(f.type), " at byte ", f.offset, ", expected ", wire::wire_type_name(want));
}

Status expect_repeated(const ParseContext& ctx, const Path& p, const wire::Field& f, wire::WireType elem,
                       std::string_view field_name) {
  if (f.type == elem || f.type == wire::WireType::kLen) return {};
  return ctx.fail(p, StatusCode::kParseError, "field '", field_name, "' (", f.number, ") has wire type ",
                  wire::wire_type_name(f.type), " at byte ", f.offset, ", expected ", wire::wire_type_name(elem),
                  " or LEN (packed)");
}

Status peek_string(const ParseContext& ctx, const Path& p, const uint8_t* data, size_t size, uint32_t number,
                   std::string* out) {
  wire::Reader r(ctx.origin, data, data + size);
  while (!r.done()) {
    wire::Field f;
    QUENCH_TRY(ctx.wrap(p, r.next(&f)));
    if (f.number == number && f.type == wire::WireType::kLen) *out = as_string(f);
  }
  return {};
}

}  // namespace quench::loaders::onnx
