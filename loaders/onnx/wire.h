// The protobuf wire format, read field by field with every length checked against the bytes
// that remain. Knows nothing of ONNX: callers map field numbers to meaning.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::loaders::wire {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kGroupStart = 3,  // deprecated groups: refused, ONNX never uses them
  kGroupEnd = 4,
  kFixed32 = 5,
};

const char* wire_type_name(WireType t);

// One field as it lies in the buffer. `value` holds a varint / fixed32 / fixed64 payload;
// `data`/`size` the payload of a length-delimited field (pointing into the buffer).
struct Field {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t value = 0;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t offset = 0;          // byte offset of the tag, from the reader's origin
  size_t payload_offset = 0;  // byte offset of the payload
};

// Reads the fields of one message in [begin, end). Byte offsets in errors count from `origin`
// (the start of the file), so they point at the same byte a hex dump of the file shows.
class Reader {
 public:
  Reader(const uint8_t* origin, const uint8_t* begin, const uint8_t* end)
      : origin_(origin), p_(begin), end_(end) {}
  Reader(const uint8_t* origin, const Field& len_field)
      : Reader(origin, len_field.data, len_field.data + len_field.size) {}

  bool done() const { return p_ >= end_; }
  // Reads the next tag and its payload; errors name the defect and its byte offset.
  Status next(Field* f);

 private:
  const uint8_t* origin_;
  const uint8_t* p_;
  const uint8_t* end_;
};

// Decodes one varint at `p` (advancing it), never reading at or past `end`. Errors: a varint
// cut off by `end`, or one longer than 10 bytes / wider than 64 bits. `origin` gives offsets.
Status read_varint(const uint8_t*& p, const uint8_t* end, const uint8_t* origin, uint64_t* out);

// Elements in a repeated scalar field occurrence: 1 when unpacked, the packed count when kLen.
// `elem` is the element's own wire type (kVarint, kFixed32 or kFixed64); any other wire type,
// a packed fixed-width payload that is not a whole number of elements, or a packed varint
// payload whose last varint is cut off, is an error.
Status count_elements(const Field& f, WireType elem, size_t* count);

// Calls fn(uint64_t raw) for each element of a repeated scalar field occurrence, packed or not
// (raw is the varint value, or the fixed32/fixed64 bits). Stops at the first error fn returns.
template <class Fn>
Status for_each_element(const Field& f, WireType elem, const uint8_t* origin, Fn&& fn);

// Little-endian loads, spelled out so they hold on any host.
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline uint64_t load_le64(const uint8_t* p) { return uint64_t{load_le32(p)} | uint64_t{load_le32(p + 4)} << 32; }

Status wrong_wire_type(const Field& f, WireType elem);

template <class Fn>
Status for_each_element(const Field& f, WireType elem, const uint8_t* origin, Fn&& fn) {
  if (f.type == elem) return fn(f.value);
  if (f.type != WireType::kLen) return wrong_wire_type(f, elem);
  size_t count = 0;
  QUENCH_TRY(count_elements(f, elem, &count));  // validates the whole payload first
  const uint8_t* p = f.data;
  const uint8_t* end = f.data + f.size;
  while (p < end) {
    uint64_t v = 0;
    if (elem == WireType::kVarint) {
      QUENCH_TRY(read_varint(p, end, origin, &v));
    } else if (elem == WireType::kFixed32) {
      v = load_le32(p);
      p += 4;
    } else {
      v = load_le64(p);
      p += 8;
    }
    QUENCH_TRY(fn(v));
  }
  return {};
}

}  // namespace quench::loaders::wire
