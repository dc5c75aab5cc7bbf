// Tensor bytes stored outside the model file (TensorProto.data_location = EXTERNAL): side
// files next to the model, each mapped once and shared by the tensors that view it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loaders/onnx/mapped_file.h"
#include "quench/status.h"

namespace quench::loaders {

// A location must name a file inside the model's folder: relative, no ".." component, no
// backslash or NUL. Symbolic links are followed: placing one there is the folder owner's choice.
Status check_external_location(std::string_view location);

class ExternalData {
 public:
  // `base_dir`: the model's folder. `max_bytes`: the largest side file and tensor accepted.
  ExternalData(std::string base_dir, uint64_t max_bytes) : base_dir_(std::move(base_dir)), max_bytes_(max_bytes) {}

  struct Bytes {
    const uint8_t* data = nullptr;
    size_t size = 0;
    std::shared_ptr<const void> owner;  // keeps the mapping alive
  };
  // The bytes at [offset, offset + length) of `location`; without a length, up to its end.
  // Errors are bare ("... beyond the end of ..."): the caller names the tensor.
  Result<Bytes> read(std::string_view location, uint64_t offset, bool has_length, uint64_t length);

  // Every side file mapped so far, for ir::Model::keep_alive.
  std::vector<std::shared_ptr<const void>> owners() const;

 private:
  std::string base_dir_;
  uint64_t max_bytes_;
  std::map<std::string, std::shared_ptr<const MappedFile>, std::less<>> files_;
};

}  // namespace quench::loaders
