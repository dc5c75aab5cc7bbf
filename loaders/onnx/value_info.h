// ValueInfoProto -> name, element type and (possibly symbolic) shape of a graph value.
#pragma once

#include <string>
#include <vector>

#include "loaders/onnx/parse_context.h"

namespace quench::loaders::onnx {

struct ValueInfo {
  std::string name;
  bool has_type = false;
  const char* non_tensor_kind = nullptr;  // "sequence", "map", ... when the type is not a tensor
  DType dtype = DType::kUndefined;
  bool has_shape = false;
  Shape shape;                           // -1 for unknown dims
  std::vector<std::string> dim_params;   // same length as shape; "" where none
};

// Parses the ValueInfoProto payload of `f`; `path` names it in errors.
Status parse_value_info(ParseContext& ctx, const wire::Field& f, const Path& path, ValueInfo* out);

}  // namespace quench::loaders::onnx
