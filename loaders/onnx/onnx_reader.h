// Reads an ONNX ModelProto into the graph IR with quench's own protobuf wire reader.
// No validation beyond the file's own structure: engine/ir validates the graph.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/ir/graph.h"

namespace quench::loaders {

struct OnnxReadOptions {
  // Largest external-data side file or tensor accepted, a guard against hostile sizes.
  uint64_t max_tensor_bytes = uint64_t{1} << 34;
};

// Memory-maps `path`; raw_data initializers become views into the mapping (kept alive by
// Model::keep_alive). External data is read relative to the file's folder.
Result<ir::Model> read_onnx_file(const std::string& path, const OnnxReadOptions& opt = {});

// Parses bytes that `owner` keeps alive. `base_dir` resolves external data ("" = none allowed).
Result<ir::Model> read_onnx_bytes(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                  const std::string& name, const std::string& base_dir,
                                  const OnnxReadOptions& opt = {});

// Parses one TensorProto (as the conformance data's input_N.pb files hold).
Result<Tensor> read_tensor_proto(const uint8_t* data, size_t size, const std::string& name);

}  // namespace quench::loaders
