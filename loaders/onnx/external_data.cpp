#include "loaders/onnx/external_data.h"

namespace quench::loaders {

Status check_external_location(std::string_view loc) {
  if (loc.empty()) return error(StatusCode::kInvalidArgument, "external data location is empty");
  if (loc.find('\0') != std::string_view::npos || loc.find('\\') != std::string_view::npos)
    return error(StatusCode::kInvalidArgument, "external data location '", loc, "' holds a NUL or backslash");
  if (loc.front() == '/')
    return error(StatusCode::kInvalidArgument, "external data location '", loc,
                 "' is absolute; it must lie inside the model's folder");
  size_t start = 0;
  while (start <= loc.size()) {
    size_t end = loc.find('/', start);
    if (end == std::string_view::npos) end = loc.size();
    if (loc.substr(start, end - start) == "..")
      return error(StatusCode::kInvalidArgument, "external data location '", loc,
                   "' leaves the model's folder through '..'");
    start = end + 1;
  }
  return {};
}

Result<ExternalData::Bytes> ExternalData::read(std::string_view location, uint64_t offset, bool has_length,
                                               uint64_t length) {
  QUENCH_TRY(check_external_location(location));
  auto it = files_.find(location);
  if (it == files_.end()) {
    const std::string path = base_dir_.empty() ? std::string(location) : base_dir_ + "/" + std::string(location);
    QUENCH_ASSIGN(auto mapped, map_file(path));
    if (mapped->size > max_bytes_)
      return error(StatusCode::kOutOfRange, "external data file '", path, "' holds ", mapped->size,
                   " bytes, more than the limit of ", max_bytes_);
    it = files_.emplace(std::string(location), std::move(mapped)).first;
  }
  const MappedFile& f = *it->second;
  if (offset > f.size)
    return error(StatusCode::kOutOfRange, "external data offset ", offset, " lies beyond the end of '", location,
                 "' (", f.size, " bytes)");
  if (!has_length) length = f.size - offset;
  if (length > f.size - offset)
    return error(StatusCode::kOutOfRange, "external data [", offset, ", +", length, ") runs beyond the end of '",
                 location, "' (", f.size, " bytes)");
  if (length > max_bytes_)
    return error(StatusCode::kOutOfRange, "external data of ", length, " bytes exceeds the limit of ", max_bytes_);
  Bytes b;
  b.data = f.data ? f.data + offset : nullptr;
  b.size = static_cast<size_t>(length);
  b.owner = std::shared_ptr<const void>(it->second, f.data);
  return b;
}

std::vector<std::shared_ptr<const void>> ExternalData::owners() const {
  std::vector<std::shared_ptr<const void>> v;
  for (const auto& [name, f] : files_) v.emplace_back(f);
  return v;
}

}  // namespace quench::loaders
