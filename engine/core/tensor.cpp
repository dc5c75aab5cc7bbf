#include "quench/tensor.h"

#include <cstring>
#include <new>

#include "quench/float16.h"

namespace quench {
namespace {

struct AlignedBuffer {
  void* p;
  explicit AlignedBuffer(size_t n) : p(::operator new(n == 0 ? 64 : n, std::align_val_t{64})) { std::memset(p, 0, n); }
  ~AlignedBuffer() { ::operator delete(p, std::align_val_t{64}); }
};

template <class T>
T load(const void* base, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + i * sizeof(T), sizeof(T));
  return v;
}

}  // namespace

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  const int64_t n = t.numel();
  const size_t bytes = n > 0 ? static_cast<size_t>(n) * dtype_size(dtype) : 0;
  auto buf = std::make_shared<AlignedBuffer>(bytes);
  t.data_ = buf->p;
  t.writable_ = true;
  t.owner_ = std::shared_ptr<const void>(buf, buf->p);
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  t.writable_ = false;
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::copy_of(DType dtype, Shape shape, const void* bytes) {
  Tensor t = zeros(dtype, std::move(shape));
  if (t.bytes() > 0) std::memcpy(t.mutable_data(), bytes, t.bytes());
  return t;
}

bool Tensor::aligned() const {
  const size_t a = dtype_size(dtype_);
  return a == 0 || reinterpret_cast<uintptr_t>(data_) % a == 0;
}

Tensor Tensor::clone() const { return copy_of(dtype_, shape_, data_); }

Result<Tensor> Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel())
    return error(StatusCode::kShapeError, "cannot reshape ", shape_str(shape_), " to ", shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

double Tensor::value_as_double(int64_t i) const {
  switch (dtype_) {
    case DType::kF32: return load<float>(data_, i);
    case DType::kF64: return load<double>(data_, i);
    case DType::kF16: return half_to_float(load<uint16_t>(data_, i));
    case DType::kBF16: return bf16_to_float(load<uint16_t>(data_, i));
    case DType::kI8: return load<int8_t>(data_, i);
    case DType::kU8: return load<uint8_t>(data_, i);
    case DType::kBool: return load<uint8_t>(data_, i) != 0;
    case DType::kI16: return load<int16_t>(data_, i);
    case DType::kU16: return load<uint16_t>(data_, i);
    case DType::kI32: return load<int32_t>(data_, i);
    case DType::kU32: return load<uint32_t>(data_, i);
    case DType::kI64: return static_cast<double>(load<int64_t>(data_, i));
    case DType::kU64: return static_cast<double>(load<uint64_t>(data_, i));
    default: return 0.0;
  }
}

int64_t Tensor::value_as_int64(int64_t i) const {
  switch (dtype_) {
    case DType::kI64: return load<int64_t>(data_, i);
    case DType::kU64: return static_cast<int64_t>(load<uint64_t>(data_, i));
    case DType::kI32: return load<int32_t>(data_, i);
    case DType::kU32: return load<uint32_t>(data_, i);
    case DType::kI16: return load<int16_t>(data_, i);
    case DType::kU16: return load<uint16_t>(data_, i);
    case DType::kI8: return load<int8_t>(data_, i);
    case DType::kU8: case DType::kBool: return load<uint8_t>(data_, i);
    default: {
      const double d = value_as_double(i);
      if (!(d > -9.2e18 && d < 9.2e18)) return 0;  // nan or out of range: no UB
      return static_cast<int64_t>(d);
    }
  }
}

}  // namespace quench
