#include "engine/batch_staging.h"

#include <cstring>
#include <memory>

namespace quench {

namespace {

Result<BatchSpec::Slot> slot_of(const TensorInfo& t, int64_t max_batch, const char* kind) {
  if (t.shape.empty() || t.shape[0] != max_batch)
    return error(StatusCode::kUnsupported, kind, " '", t.name, "' is ", shape_str(t.shape),
                 ": the batcher needs the batch (", max_batch, ") as its leading dim");
  const size_t elem = dtype_size(t.dtype);
  if (elem == 0) return error(StatusCode::kUnsupported, kind, " '", t.name, "' has dtype ", dtype_name(t.dtype));
  BatchSpec::Slot s;
  s.name = t.name;
  s.dtype = t.dtype;
  s.sample_shape = t.shape;
  s.sample_shape[0] = 1;
  for (int64_t d : s.sample_shape)
    if (d < 0) return error(StatusCode::kUnsupported, kind, " '", t.name, "' has an unknown dim: ", shape_str(t.shape));
  s.sample_bytes = static_cast<size_t>(shape_numel(s.sample_shape)) * elem;
  return s;
}

std::string describe(DType d, const Shape& s) { return std::string(dtype_name(d)) + shape_str(s); }

}  // namespace

Result<BatchSpec> BatchSpec::from_engine(const Engine& engine) {
  const int64_t max_batch = engine.options().max_batch;
  if (engine.inputs().empty()) return error(StatusCode::kUnsupported, "the batcher needs a model with inputs");
  BatchSpec spec;
  for (const TensorInfo& t : engine.inputs()) {
    QUENCH_ASSIGN(auto s, slot_of(t, max_batch, "input"));
    spec.inputs.push_back(std::move(s));
  }
  for (const TensorInfo& t : engine.outputs()) {
    QUENCH_ASSIGN(auto s, slot_of(t, max_batch, "output"));
    spec.outputs.push_back(std::move(s));
  }
  return spec;
}

Status BatchSpec::validate_request(const TensorMap& request) const {
  for (const Slot& s : inputs) {
    auto it = request.find(s.name);
    if (it == request.end())
      return error(StatusCode::kInvalidArgument, "request lacks input '", s.name, "' (expected ",
                   describe(s.dtype, s.sample_shape), ")");
    const Tensor& t = it->second;
    if (t.dtype() != s.dtype || t.shape() != s.sample_shape)
      return error(StatusCode::kInvalidArgument, "request input '", s.name, "' is ", describe(t.dtype(), t.shape()),
                   " but one request must be ", describe(s.dtype, s.sample_shape));
    if (t.bytes() > 0 && t.data() == nullptr)
      return error(StatusCode::kInvalidArgument, "request input '", s.name, "' has no data");
  }
  // Every input was found, so a larger map holds a name that is not an input.
  if (request.size() != inputs.size())
    for (const auto& [name, t] : request) {
      bool known = false;
      for (const Slot& s : inputs) known = known || s.name == name;
      if (!known)
        return error(StatusCode::kInvalidArgument, "request names '", name, "', which is not an input of this model");
    }
  return {};
}

Status BatchSpec::check_outputs(const TensorMap& got, int b) const {
  for (const Slot& s : outputs) {
    Shape want = s.sample_shape;
    want[0] = b;
    auto it = got.find(s.name);
    if (it == got.end()) return error(StatusCode::kInternal, "the run did not produce output '", s.name, "'");
    if (it->second.dtype() != s.dtype || it->second.shape() != want)
      return error(StatusCode::kShapeError, "output '", s.name, "' at batch ", b, " is ",
                   describe(it->second.dtype(), it->second.shape()), ", not ", describe(s.dtype, want),
                   ": it does not scale with the batch");
  }
  return {};
}

Result<BatchStaging> BatchStaging::make(const BatchSpec& spec, int max_batch) {
  BatchStaging st;
  st.spec_ = spec;
  st.input_views_.resize(static_cast<size_t>(max_batch) + 1);
  st.output_maps_.resize(static_cast<size_t>(max_batch) + 1);
  for (const BatchSpec::Slot& s : spec.inputs) {
    Shape full = s.sample_shape;
    full[0] = max_batch;
    Tensor buffer = Tensor::zeros(s.dtype, full);
    // The views share the buffer's bytes; this handle keeps them alive as their owner.
    auto owner = std::make_shared<Tensor>(buffer);
    for (int b = 1; b <= max_batch; ++b) {
      Shape shape = s.sample_shape;
      shape[0] = b;
      st.input_views_[b][s.name] = Tensor::view(s.dtype, shape, buffer.data(), owner);
    }
    st.input_buffers_.push_back(std::move(buffer));
  }
  // Outputs preallocated at each size, so the context writes them in place.
  for (const BatchSpec::Slot& s : spec.outputs)
    for (int b = 1; b <= max_batch; ++b) {
      Shape shape = s.sample_shape;
      shape[0] = b;
      st.output_maps_[b][s.name] = Tensor::zeros(s.dtype, shape);
    }
  return st;
}

void BatchStaging::gather(int slot, const TensorMap& request) {
  for (size_t i = 0; i < spec_.inputs.size(); ++i) {
    const BatchSpec::Slot& s = spec_.inputs[i];
    const Tensor& src = request.find(s.name)->second;
    auto* dst = static_cast<std::byte*>(input_buffers_[i].mutable_data());
    if (s.sample_bytes) std::memcpy(dst + static_cast<size_t>(slot) * s.sample_bytes, src.data(), s.sample_bytes);
  }
}

TensorMap BatchStaging::split(int b, int slot) const {
  TensorMap out;
  for (const BatchSpec::Slot& s : spec_.outputs) {
    const Tensor& batch = output_maps_[b].find(s.name)->second;
    const auto* src = static_cast<const std::byte*>(batch.data());
    out[s.name] = Tensor::copy_of(s.dtype, s.sample_shape, src + static_cast<size_t>(slot) * s.sample_bytes);
  }
  return out;
}

}  // namespace quench
