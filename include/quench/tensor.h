// quench::Tensor: a host tensor handle (dtype, shape, bytes). Copies share the bytes;
// clone() makes a deep copy. A tensor may also view memory it does not own (a memory-mapped
// weight), kept alive by a shared owner; such a view is read-only.
#pragma once

#include <memory>

#include "quench/status.h"
#include "quench/types.h"

namespace quench {

class Tensor {
 public:
  Tensor() = default;

  // Owned, zero-filled, 64-byte aligned storage.
  static Tensor zeros(DType dtype, Shape shape);
  // Read-only view of `data`; `owner` keeps it alive. `data` need not be aligned.
  static Tensor view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> owner);
  // Owned copy of `bytes` (which must hold numel * dtype_size bytes).
  static Tensor copy_of(DType dtype, Shape shape, const void* bytes);

  template <class T>
  static Tensor from_values(DType dtype, Shape shape, const std::vector<T>& values) {
    Tensor t = zeros(dtype, std::move(shape));
    T* p = static_cast<T*>(t.mutable_data());
    for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t.numel(); ++i) p[i] = values[i];
    return t;
  }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_numel(shape_); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_view() const { return !writable_; }
  // True when data() is aligned for its element type (a mapped weight may not be).
  bool aligned() const;

  const void* data() const { return data_; }
  // nullptr for a read-only view.
  void* mutable_data() { return writable_ ? const_cast<void*>(data_) : nullptr; }
  template <class T>
  const T* data_as() const { return static_cast<const T*>(data_); }
  template <class T>
  T* mutable_data_as() { return static_cast<T*>(mutable_data()); }

  Tensor clone() const;  // owned, aligned deep copy
  // Same bytes, another shape with the same element count.
  Result<Tensor> reshaped(Shape shape) const;

  // Element i converted to double / int64 whatever the dtype (slow; for constants and tests).
  double value_as_double(int64_t i) const;
  int64_t value_as_int64(int64_t i) const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  const void* data_ = nullptr;
  bool writable_ = false;
  std::shared_ptr<const void> owner_;
};

// .npy files (format 1.0-3.0, little-endian, C order), so any framework's tensors can be
// compared with quench's.
Result<Tensor> load_npy(const std::string& path);
Status save_npy(const std::string& path, const Tensor& t);

}  // namespace quench
