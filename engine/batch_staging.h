// What the dynamic batcher knows about one request (the per-sample shape of every input and
// output) and the per-worker buffers it gathers requests into and splits results out of.
#pragma once

#include <string>
#include <vector>

#include "quench/quench.h"

namespace quench {

// Every engine input and output, with the batch (leading) dim taken out.
struct BatchSpec {
  struct Slot {
    std::string name;
    DType dtype = DType::kUndefined;
    Shape sample_shape;  // leading dim 1
    size_t sample_bytes = 0;
  };
  std::vector<Slot> inputs, outputs;

  // Fails (kUnsupported, naming the tensor) unless every input and output of `engine` has the
  // engine's max_batch as its leading dim, so that a batch is a concatenation along dim 0.
  static Result<BatchSpec> from_engine(const Engine& engine);

  // One request: exactly the model's inputs, each with its sample shape and dtype.
  Status validate_request(const TensorMap& request) const;
  // A run's outputs at batch `b`: each present, with dtype and shape [b, sample dims...].
  Status check_outputs(const TensorMap& got, int b) const;
};

// One worker's staging: an input buffer per model input at max_batch, seen as [b, ...] for
// every batch size b, and an output map per batch size that the context writes in place.
class BatchStaging {
 public:
  static Result<BatchStaging> make(const BatchSpec& spec, int max_batch);

  // Copies one validated request's inputs into slot `slot` of the input buffers.
  void gather(int slot, const TensorMap& request);
  const TensorMap& inputs(int b) const { return input_views_[b]; }
  TensorMap& outputs(int b) { return output_maps_[b]; }
  // Slot `slot` of the outputs at batch `b` (already checked), as owned tensors.
  TensorMap split(int b, int slot) const;

 private:
  BatchSpec spec_;
  std::vector<Tensor> input_buffers_;     // by spec input, [max_batch, ...]
  std::vector<TensorMap> input_views_;    // by batch size, read-only views of the buffers
  std::vector<TensorMap> output_maps_;    // by batch size
};

}  // namespace quench
