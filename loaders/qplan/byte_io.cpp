#include "loaders/qplan/byte_io.h"

namespace quench::loaders {
namespace {

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t mix(uint64_t h, uint64_t w) { return rotl(h + w * kPrime2, 31) * kPrime1; }

}  // namespace

uint64_t checksum64(const uint8_t* data, size_t size, uint64_t seed) {
  uint64_t lane[4] = {seed + kPrime1, seed + kPrime2, seed, seed - kPrime1};
  size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, data + i + 8 * k, 8);
      lane[k] = mix(lane[k], w);
    }
  uint64_t h = rotl(lane[0], 1) + rotl(lane[1], 7) + rotl(lane[2], 12) + rotl(lane[3], 18) + size;
  for (; i < size; ++i) h = mix(h, data[i]);
  h ^= h >> 33;
  h *= kPrime2;
  return h ^ (h >> 29);
}

void ByteWriter::raw(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  bytes_.insert(bytes_.end(), b, b + n);
}

void ByteWriter::str(const std::string& s) {
  u32(static_cast<uint32_t>(s.size()));
  raw(s.data(), s.size());
}

void ByteWriter::shape(const Shape& s) {
  u32(static_cast<uint32_t>(s.size()));
  for (int64_t d : s) i64(d);
}

void ByteWriter::strings(const std::vector<std::string>& v) {
  u32(static_cast<uint32_t>(v.size()));
  for (const auto& s : v) str(s);
}

void ByteWriter::pad_to(size_t alignment) {
  while (bytes_.size() % alignment) bytes_.push_back(0);
}

Status ByteReader::raw(void* out, size_t n, const char* what) {
  if (static_cast<size_t>(end_ - p_) < n)
    return error(StatusCode::kParseError, "a ", what, " at byte ", offset(), " is cut off by the end of the section");
  std::memcpy(out, p_, n);
  p_ += n;
  return {};
}

Status ByteReader::count(uint32_t* n, size_t min_item_bytes, const char* what) {
  const size_t at = offset();
  QUENCH_TRY(u32(n));
  if (static_cast<uint64_t>(*n) * min_item_bytes > static_cast<uint64_t>(end_ - p_))
    return error(StatusCode::kParseError, "the count of ", what, " at byte ", at, " (", *n,
                 ") is more than the section can hold");
  return {};
}

Status ByteReader::bounded(int64_t* v, int64_t limit, const char* what) {
  const size_t at = offset();
  QUENCH_TRY(i64(v));
  if (*v < 0 || *v > limit)
    return error(StatusCode::kParseError, what, " at byte ", at, " is ", *v, ", outside 0..", limit);
  return {};
}

Status ByteReader::str(std::string* s) {
  uint32_t n = 0;
  QUENCH_TRY(count(&n, 1, "string bytes"));
  s->assign(reinterpret_cast<const char*>(p_), n);
  p_ += n;
  return {};
}

Status ByteReader::shape(Shape* s) {
  uint32_t n = 0;
  QUENCH_TRY(count(&n, 8, "dims"));
  s->resize(n);
  for (auto& d : *s) QUENCH_TRY(i64(&d));
  return {};
}

Status ByteReader::strings(std::vector<std::string>* v) {
  uint32_t n = 0;
  QUENCH_TRY(count(&n, 4, "strings"));
  v->resize(n);
  for (auto& s : *v) QUENCH_TRY(str(&s));
  return {};
}

}  // namespace quench::loaders
