// Element types and shapes shared by every layer of quench.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace quench {

// Numbered as ONNX's TensorProto.DataType so the loader maps them one to one.
enum class DType : int32_t {
  kUndefined = 0,
  kF32 = 1,
  kU8 = 2,
  kI8 = 3,
  kU16 = 4,
  kI16 = 5,
  kI32 = 6,
  kI64 = 7,
  kString = 8,
  kBool = 9,
  kF16 = 10,
  kF64 = 11,
  kU32 = 12,
  kU64 = 13,
  kBF16 = 16,
};

// Bytes per element; 0 for kUndefined and kString (which quench cannot hold in a tensor).
size_t dtype_size(DType t);
const char* dtype_name(DType t);
bool dtype_is_float(DType t);    // F16, BF16, F32, F64
bool dtype_is_integer(DType t);  // signed and unsigned integers, not bool
bool dtype_from_onnx(int32_t onnx_type, DType* out);

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);  // 1 for a scalar (empty shape)
std::string shape_str(const Shape& s);  // "[1,3,224,224]"

}  // namespace quench
