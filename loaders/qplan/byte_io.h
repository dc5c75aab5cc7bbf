// Little-endian scalars, strings and shapes to and from a byte buffer, for the plan file.
// The reader checks every read against the bytes that remain and names the byte offset of
// whatever is cut off or implausible, so a damaged file gives an error, never a crash.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "quench/status.h"
#include "quench/types.h"

namespace quench::loaders {

// 64-bit checksum (four independent multiply-rotate lanes, so it runs near memory speed)
// of `size` bytes; `seed` chains several ranges.
uint64_t checksum64(const uint8_t* data, size_t size, uint64_t seed = 0);

class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void f32(float v) { raw(&v, sizeof v); }
  void f64(double v) { raw(&v, sizeof v); }
  void str(const std::string& s);
  void shape(const Shape& s);
  void strings(const std::vector<std::string>& v);
  void raw(const void* p, size_t n);
  void pad_to(size_t alignment);  // zero bytes up to a multiple of `alignment`
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  // Offsets in errors count from `origin` (the start of the file).
  ByteReader(const uint8_t* origin, const uint8_t* begin, const uint8_t* end) : origin_(origin), p_(begin), end_(end) {}

  Status u8(uint8_t* v) { return raw(v, sizeof *v, "byte"); }
  Status u32(uint32_t* v) { return raw(v, sizeof *v, "u32"); }
  Status i64(int64_t* v) { return raw(v, sizeof *v, "i64"); }
  Status f32(float* v) { return raw(v, sizeof *v, "f32"); }
  Status f64(double* v) { return raw(v, sizeof *v, "f64"); }
  Status str(std::string* s);
  Status shape(Shape* s);
  Status strings(std::vector<std::string>* v);
  // A count of items each at least `min_item_bytes` long, refused when the bytes left could
  // not hold that many (a corrupt count must not drive a huge allocation).
  Status count(uint32_t* n, size_t min_item_bytes, const char* what);
  // A non-negative value that fits in `limit`.
  Status bounded(int64_t* v, int64_t limit, const char* what);
  size_t offset() const { return static_cast<size_t>(p_ - origin_); }
  bool done() const { return p_ == end_; }

 private:
  Status raw(void* out, size_t n, const char* what);
  const uint8_t* origin_;
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace quench::loaders
