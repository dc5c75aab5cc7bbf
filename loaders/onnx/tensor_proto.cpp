#include "loaders/onnx/tensor_proto.h"

#include <bit>
#include <cstring>
#include <limits>
#include <vector>

namespace quench::loaders::onnx {

// raw_data and fixed-width payloads are little-endian; viewing them in place needs the same.
static_assert(std::endian::native == std::endian::little, "quench's ONNX reader assumes a little-endian host");

using wire::Field;
using wire::WireType;

const char* onnx_type_name(int32_t t) {
  static const char* const kNames[] = {
      "UNDEFINED", "FLOAT",     "UINT8",      "INT8",         "UINT16",     "INT16",
      "INT32",     "INT64",     "STRING",     "BOOL",         "FLOAT16",    "DOUBLE",
      "UINT32",    "UINT64",    "COMPLEX64",  "COMPLEX128",   "BFLOAT16",   "FLOAT8E4M3FN",
      "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1"};
  if (t < 0 || t >= static_cast<int32_t>(sizeof(kNames) / sizeof(kNames[0]))) return "?";
  return kNames[t];
}

namespace {

// TensorProto field numbers (onnx.proto).
enum : uint32_t {
  kDims = 1, kDataType = 2, kSegment = 3, kFloatData = 4, kInt32Data = 5, kStringData = 6, kInt64Data = 7,
  kName = 8, kRawData = 9, kDoubleData = 10, kUint64Data = 11, kDocString = 12, kExternalData = 13,
  kDataLocation = 14,
};

const char* typed_field_name(uint32_t n) {
  switch (n) {
    case kFloatData: return "float_data";
    case kInt32Data: return "int32_data";
    case kInt64Data: return "int64_data";
    case kDoubleData: return "double_data";
    case kUint64Data: return "uint64_data";
    default: return "?";
  }
}

WireType typed_elem(uint32_t n) {
  if (n == kFloatData) return WireType::kFixed32;
  if (n == kDoubleData) return WireType::kFixed64;
  return WireType::kVarint;
}

// The typed field that carries each data type, as onnx.proto's comments assign them.
uint32_t typed_field_for(DType t) {
  switch (t) {
    case DType::kF32: return kFloatData;
    case DType::kF64: return kDoubleData;
    case DType::kI64: return kInt64Data;
    case DType::kU32: case DType::kU64: return kUint64Data;
    case DType::kI32: case DType::kI16: case DType::kI8: case DType::kU16: case DType::kU8: case DType::kBool:
    case DType::kF16: case DType::kBF16: return kInt32Data;
    default: return 0;
  }
}

template <class T>
void put(uint8_t* base, size_t i, T v) {
  std::memcpy(base + i * sizeof(T), &v, sizeof(T));
}

// Stores element i of a typed field into the tensor's bytes, checking that it fits the type.
Status store_element(DType t, uint64_t raw, uint8_t* out, size_t i, uint32_t field) {
  switch (t) {
    case DType::kF32: put(out, i, static_cast<uint32_t>(raw)); return {};  // float bits
    case DType::kF64: case DType::kI64: case DType::kU64: put(out, i, raw); return {};
    case DType::kU32:
      if (raw > std::numeric_limits<uint32_t>::max())
        return error(StatusCode::kOutOfRange, typed_field_name(field), "[", i, "] = ", raw, " does not fit uint32");
      put(out, i, static_cast<uint32_t>(raw));
      return {};
    default: break;
  }
  // int32_data: protobuf keeps the low 32 bits of the (sign-extended) varint.
  const auto v = static_cast<int32_t>(static_cast<uint32_t>(raw));
  int64_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  switch (t) {
    case DType::kI32: break;
    case DType::kI16: lo = -32768; hi = 32767; break;
    case DType::kU16: lo = 0; hi = 65535; break;
    case DType::kI8: lo = -128; hi = 127; break;
    case DType::kU8: lo = 0; hi = 255; break;
    case DType::kBool: lo = 0; hi = 1; break;
    // Half-precision bit patterns; some writers store them sign-extended.
    case DType::kF16: case DType::kBF16: lo = -32768; hi = 65535; break;
    default: return error(StatusCode::kInternal, "no typed storage for ", dtype_name(t));
  }
  if (v < lo || v > hi)
    return error(StatusCode::kOutOfRange, typed_field_name(field), "[", i, "] = ", v, " does not fit ", dtype_name(t));
  switch (dtype_size(t)) {
    case 1: put(out, i, static_cast<uint8_t>(v)); break;
    case 2: put(out, i, static_cast<uint16_t>(v)); break;
    default: put(out, i, v); break;
  }
  return {};
}

// Decimal digits only (external_data's offset and length are strings).
bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// A StringStringEntryProto: key = 1, value = 2.
Status parse_entry(ParseContext& ctx, const Field& f, const Path& p, std::string* key, std::string* value) {
  wire::Reader r(ctx.origin, f);
  while (!r.done()) {
    Field e;
    QUENCH_TRY(ctx.wrap(p, r.next(&e)));
    if (e.number == 1) {
      QUENCH_TRY(expect_type(ctx, p, e, WireType::kLen, "key"));
      *key = as_string(e);
    } else if (e.number == 2) {
      QUENCH_TRY(expect_type(ctx, p, e, WireType::kLen, "value"));
      *value = as_string(e);
    }
  }
  return {};
}

// Bytes that already hold the tensor in its own layout: viewed in place when something keeps
// them alive and they are aligned for the element type, otherwise copied.
Tensor tensor_from_bytes(DType t, Shape shape, const uint8_t* p, size_t n, const std::shared_ptr<const void>& owner) {
  if (n == 0) return Tensor::zeros(t, std::move(shape));
  if (owner && reinterpret_cast<uintptr_t>(p) % dtype_size(t) == 0) return Tensor::view(t, std::move(shape), p, owner);
  return Tensor::copy_of(t, std::move(shape), p);
}

}  // namespace

Result<ParsedTensor> parse_tensor(ParseContext& ctx, const uint8_t* data, size_t size, const Path& path) {
  DepthGuard guard(ctx);
  QUENCH_TRY(guard.check(path));
  Shape dims;
  int32_t data_type = 0;
  std::string name;
  bool has_raw = false;
  Field raw;
  std::vector<Field> typed;  // occurrences of the one typed field in use
  uint32_t typed_number = 0;
  bool has_strings = false;
  uint64_t location = 0;
  std::vector<std::pair<std::string, std::string>> external;

  wire::Reader r(ctx.origin, data, data + size);
  while (!r.done()) {
    Field f;
    QUENCH_TRY(ctx.wrap(path, r.next(&f)));
    switch (f.number) {
      case kDims:
        QUENCH_TRY(expect_repeated(ctx, path, f, WireType::kVarint, "dims"));
        QUENCH_TRY(ctx.wrap(path, wire::for_each_element(f, WireType::kVarint, ctx.origin, [&](uint64_t v) {
          dims.push_back(static_cast<int64_t>(v));
          return Status{};
        })));
        break;
      case kDataType:
        QUENCH_TRY(expect_type(ctx, path, f, WireType::kVarint, "data_type"));
        data_type = static_cast<int32_t>(static_cast<uint32_t>(f.value));
        break;
      case kSegment:
        return ctx.fail(path, StatusCode::kUnsupported, "segmented tensors are not supported");
      case kFloatData: case kInt32Data: case kInt64Data: case kDoubleData: case kUint64Data:
        QUENCH_TRY(expect_repeated(ctx, path, f, typed_elem(f.number), typed_field_name(f.number)));
        if (typed_number != 0 && typed_number != f.number)
          return ctx.fail(path, StatusCode::kParseError, "holds both ", typed_field_name(typed_number), " and ",
                          typed_field_name(f.number));
        typed_number = f.number;
        typed.push_back(f);
        break;
      case kStringData:
        QUENCH_TRY(expect_type(ctx, path, f, WireType::kLen, "string_data"));
        has_strings = true;
        break;
      case kName:
        QUENCH_TRY(expect_type(ctx, path, f, WireType::kLen, "name"));
        name = as_string(f);
        break;
      case kRawData:
        QUENCH_TRY(expect_type(ctx, path, f, WireType::kLen, "raw_data"));
        has_raw = true;
        raw = f;
        break;
      case kDocString:
        QUENCH_TRY(expect_type(ctx, path, f, WireType::kLen, "doc_string"));
        break;
      case kExternalData: {
        QUENCH_TRY(expect_type(ctx, path, f, WireType::kLen, "external_data"));
        std::string key, value;
        QUENCH_TRY(parse_entry(ctx, f, path.child("external_data", static_cast<int64_t>(external.size())), &key, &value));
        external.emplace_back(std::move(key), std::move(value));
        break;
      }
      case kDataLocation:
        QUENCH_TRY(expect_type(ctx, path, f, WireType::kVarint, "data_location"));
        location = f.value;
        break;
      default:
        break;  // fields of later ONNX versions
    }
  }

  // From here on errors can name the tensor.
  Path here = path;
  here.label = name;
  if (data_type == 0) return ctx.fail(here, StatusCode::kParseError, "tensor has no data type");
  DType dtype = DType::kUndefined;
  if (!dtype_from_onnx(data_type, &dtype) || dtype == DType::kString)
    return ctx.fail(here, StatusCode::kUnsupported, "tensor data type ", data_type, " (", onnx_type_name(data_type),
                    ") is not supported");
  const size_t esize = dtype_size(dtype);
  uint64_t numel = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) return ctx.fail(here, StatusCode::kParseError, "dims[", i, "] is negative (", dims[i], ")");
    const auto d = static_cast<uint64_t>(dims[i]);
    if (d != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / d)
      return ctx.fail(here, StatusCode::kOutOfRange, "element count of dims ", shape_str(dims), " overflows");
    numel *= d;
  }
  if (numel > std::numeric_limits<uint64_t>::max() / esize || numel * esize > ctx.opt.max_tensor_bytes)
    return ctx.fail(here, StatusCode::kOutOfRange, "tensor ", shape_str(dims), " of ", dtype_name(dtype),
                    " exceeds the limit of ", ctx.opt.max_tensor_bytes, " bytes");
  const uint64_t nbytes = numel * esize;
  if (has_strings) return ctx.fail(here, StatusCode::kParseError, "string_data in a ", dtype_name(dtype), " tensor");
  if (location > 1) return ctx.fail(here, StatusCode::kParseError, "unknown data_location ", location);
  if (has_raw && typed_number != 0)
    return ctx.fail(here, StatusCode::kParseError, "holds both raw_data and ", typed_field_name(typed_number));

  ParsedTensor out;
  out.name = name;
  const uint8_t* bytes = nullptr;  // data already in the tensor's layout, if any
  size_t bytes_size = 0;
  std::shared_ptr<const void> bytes_owner;
  if (location == 1) {
    if (has_raw || typed_number != 0)
      return ctx.fail(here, StatusCode::kParseError, "external tensor also holds data in the model");
    if (!ctx.external)
      return ctx.fail(here, StatusCode::kInvalidArgument,
                      "tensor refers to external data, which needs a model file (not bytes in memory)");
    std::string loc;
    uint64_t offset = 0, length = 0;
    bool has_loc = false, has_length = false;
    for (const auto& [key, value] : external) {
      if (key == "location") {
        loc = value;
        has_loc = true;
      } else if (key == "offset" || key == "length") {
        uint64_t v = 0;
        if (!parse_u64(value, &v))
          return ctx.fail(here, StatusCode::kParseError, "external_data ", key, " '", value, "' is not a number");
        (key == "offset" ? offset : length) = v;
        has_length |= key == "length";
      }
    }
    if (!has_loc) return ctx.fail(here, StatusCode::kParseError, "external tensor has no location");
    auto ext = ctx.external->read(loc, offset, has_length, length);
    if (!ext.ok()) return ctx.wrap(here, ext.status());
    bytes = ext->data;
    bytes_size = ext->size;
    bytes_owner = ext->owner;
    if (bytes_size != nbytes)
      return ctx.fail(here, StatusCode::kParseError, "external data holds ", bytes_size, " bytes; ", shape_str(dims),
                      " of ", dtype_name(dtype), " needs ", nbytes);
  } else if (has_raw) {
    bytes = raw.data;
    bytes_size = raw.size;
    bytes_owner = ctx.owner;
    if (bytes_size != nbytes)
      return ctx.fail(here, StatusCode::kParseError, "raw_data holds ", bytes_size, " bytes; ", shape_str(dims), " of ",
                      dtype_name(dtype), " needs ", nbytes);
  }

  if (location == 1 || has_raw) {
    // Bool bytes other than 0 and 1 would be undefined behaviour wherever they are read as bool.
    if (dtype == DType::kBool) {
      for (size_t i = 0; i < bytes_size; ++i)
        if (bytes[i] > 1)
          return ctx.fail(here, StatusCode::kOutOfRange, "bool element ", i, " holds byte ", int{bytes[i]});
    }
    out.tensor = tensor_from_bytes(dtype, dims, bytes, bytes_size, bytes_owner);
    return out;
  }

  if (typed_number != 0) {
    if (typed_field_for(dtype) != typed_number)
      return ctx.fail(here, StatusCode::kParseError, "a ", dtype_name(dtype), " tensor stored in ",
                      typed_field_name(typed_number));
    const WireType elem = typed_elem(typed_number);
    uint64_t count = 0;
    for (const Field& f : typed) {
      size_t n = 0;
      QUENCH_TRY(ctx.wrap(here, wire::count_elements(f, elem, &n)));
      count += n;
    }
    if (count != numel)
      return ctx.fail(here, StatusCode::kParseError, typed_field_name(typed_number), " holds ", count,
                      " elements; dims ", shape_str(dims), " declare ", numel);
    Tensor t = Tensor::zeros(dtype, dims);
    auto* dst = static_cast<uint8_t*>(t.mutable_data());
    size_t i = 0;
    for (const Field& f : typed) {
      QUENCH_TRY(ctx.wrap(here, wire::for_each_element(f, elem, ctx.origin, [&](uint64_t v) {
        return store_element(dtype, v, dst, i++, typed_number);
      })));
    }
    out.tensor = std::move(t);
    return out;
  }

  if (numel != 0)
    return ctx.fail(here, StatusCode::kParseError, "tensor ", shape_str(dims), " declares ", numel,
                    " elements but holds no data");
  out.tensor = Tensor::zeros(dtype, dims);
  return out;
}

}  // namespace quench::loaders::onnx
