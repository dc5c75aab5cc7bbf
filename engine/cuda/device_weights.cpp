#include "engine/cuda/device_weights.h"

#include <cstring>

#include "engine/memory_planner.h"

namespace quench::cuda {

int DeviceWeights::find(const void* source, std::string_view transform) const {
  auto it = index_.find(std::pair<const void*, std::string>(source, std::string(transform)));
  return it == index_.end() ? -1 : it->second;
}

int DeviceWeights::add(const void* source, std::string_view transform, std::vector<std::byte> bytes) {
  const int i = static_cast<int>(offsets_.size());
  index_[{source, std::string(transform)}] = i;
  offsets_.push_back(total_);
  total_ += (static_cast<int64_t>(bytes.size()) + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  host_.push_back(std::move(bytes));
  return i;
}

Status DeviceWeights::upload() {
  if (total_ == 0) return {};
  QUENCH_ASSIGN(device_, DeviceBuffer::allocate(static_cast<size_t>(total_), "cudaMalloc (engine weights)"));
  // One staging image, so that the whole upload is one copy.
  std::vector<std::byte> image(static_cast<size_t>(total_));
  for (size_t i = 0; i < host_.size(); ++i)
    if (!host_[i].empty()) std::memcpy(image.data() + offsets_[i], host_[i].data(), host_[i].size());
  QUENCH_TRY(check(cudaMemcpy(device_.data(), image.data(), image.size(), cudaMemcpyHostToDevice),
                   "cudaMemcpy (engine weights)"));
  host_.clear();
  host_.shrink_to_fit();
  return {};
}

void* DeviceWeights::data(int index) const {
  if (index < 0 || !device_.data()) return nullptr;
  return device_.data() + offsets_[static_cast<size_t>(index)];
}

}  // namespace quench::cuda
