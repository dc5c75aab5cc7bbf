// TensorProto -> quench::Tensor: dims, data type, and the data from raw_data (viewed in place
// when the buffer has an owner and the bytes are aligned), from the typed repeated fields
// (packed or not), or from an external side file.
#pragma once

#include <string>

#include "loaders/onnx/parse_context.h"
#include "quench/tensor.h"

namespace quench::loaders::onnx {

struct ParsedTensor {
  std::string name;
  Tensor tensor;
};

// Parses the TensorProto payload [data, data + size); `path` names it in errors.
Result<ParsedTensor> parse_tensor(ParseContext& ctx, const uint8_t* data, size_t size, const Path& path);

// ONNX's name for a TensorProto.DataType number ("FLOAT8E4M3FN"), or "?" when unknown.
const char* onnx_type_name(int32_t t);

}  // namespace quench::loaders::onnx
