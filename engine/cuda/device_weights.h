// The weights of a CUDA engine: every op's device-form weights (packed convolution weights,
// float32 biases, float16 constants), collected on the host at build through ops::WeightSink,
// then uploaded once into one device allocation that every context of the engine reads.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/cuda/device_memory.h"
#include "ops/gpu_op.h"

namespace quench::cuda {

class DeviceWeights final : public ops::WeightSink {
 public:
  int find(const void* source, std::string_view transform) const override;
  int add(const void* source, std::string_view transform, std::vector<std::byte> bytes) override;

  // One cudaMalloc and one copy for all of them (each 256-byte aligned); frees the host copies.
  Status upload();
  // The device address of weight `index` after upload(); null for -1 (an absent weight).
  void* data(int index) const;
  int64_t bytes() const { return total_; }
  size_t count() const { return offsets_.size(); }

 private:
  std::map<std::pair<const void*, std::string>, int, std::less<>> index_;
  std::vector<std::vector<std::byte>> host_;
  std::vector<int64_t> offsets_;
  int64_t total_ = 0;
  DeviceBuffer device_;
};

}  // namespace quench::cuda
