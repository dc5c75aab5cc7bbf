// A whole file mapped read-only into memory, unmapped when the last owner lets go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "quench/status.h"

namespace quench::loaders {

struct MappedFile {
  const uint8_t* data = nullptr;  // null for an empty file (nothing to map)
  size_t size = 0;

  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
};

// Maps `path` (a regular file) read-only. Errors: kNotFound when it does not exist, kIoError
// when the system refuses to open or map it.
Result<std::shared_ptr<const MappedFile>> map_file(const std::string& path);

}  // namespace quench::loaders
