// Placeholder until the ONNX reader is written.
#include "loaders/onnx/onnx_reader.h"

namespace quench::loaders {
Result<ir::Model> read_onnx_file(const std::string& path, const OnnxReadOptions&) {
  return error(StatusCode::kUnsupported, "onnx reader not written yet: ", path);
}
Result<ir::Model> read_onnx_bytes(std::shared_ptr<const void>, const uint8_t*, size_t, const std::string& name,
                                  const std::string&, const OnnxReadOptions&) {
  return error(StatusCode::kUnsupported, "onnx reader not written yet: ", name);
}
Result<Tensor> read_tensor_proto(const uint8_t*, size_t, const std::string& name) {
  return error(StatusCode::kUnsupported, "onnx reader not written yet: ", name);
}
}  // namespace quench::loaders
