#include "loaders/onnx/wire.h"

namespace quench::loaders::wire {

const char* wire_type_name(WireType t) {
  switch (t) {
    case WireType::kVarint: return "VARINT";
    case WireType::kFixed64: return "FIXED64";
    case WireType::kLen: return "LEN";
    case WireType::kGroupStart: return "SGROUP";
    case WireType::kGroupEnd: return "EGROUP";
    case WireType::kFixed32: return "FIXED32";
  }
  return "?";
}

Status read_varint(const uint8_t*& p, const uint8_t* end, const uint8_t* origin, uint64_t* out) {
  const uint8_t* start = p;
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (p >= end) return error(StatusCode::kParseError, "truncated varint at byte ", start - origin);
    const uint8_t b = *p++;
    // The 10th byte may only carry the 64th bit: more bits, or an 11th byte, overflow.
    if (i == 9 && b > 1) return error(StatusCode::kParseError, "varint overflows 64 bits at byte ", start - origin);
    v |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80u) == 0) {
      *out = v;
      return {};
    }
  }
  return error(StatusCode::kInternal, "unreachable: varint loop");
}

Status Reader::next(Field* f) {
  *f = Field{};
  f->offset = static_cast<size_t>(p_ - origin_);
  uint64_t tag = 0;
  QUENCH_TRY(read_varint(p_, end_, origin_, &tag));
  const uint64_t number = tag >> 3;
  const auto type = static_cast<uint32_t>(tag & 7);
  // Field numbers are 29-bit and start at 1.
  if (number == 0 || number > (uint64_t{1} << 29) - 1)
    return error(StatusCode::kParseError, "invalid field number ", number, " at byte ", f->offset);
  f->number = static_cast<uint32_t>(number);
  f->type = static_cast<WireType>(type);
  f->payload_offset = static_cast<size_t>(p_ - origin_);
  const size_t left = static_cast<size_t>(end_ - p_);
  switch (type) {
    case 0:
      return read_varint(p_, end_, origin_, &f->value);
    case 1:
      if (left < 8)
        return error(StatusCode::kParseError, "field ", number, ": truncated fixed64 at byte ", f->payload_offset);
      f->value = load_le64(p_);
      p_ += 8;
      return {};
    case 5:
      if (left < 4)
        return error(StatusCode::kParseError, "field ", number, ": truncated fixed32 at byte ", f->payload_offset);
      f->value = load_le32(p_);
      p_ += 4;
      return {};
    case 2: {
      uint64_t len = 0;
      QUENCH_TRY(read_varint(p_, end_, origin_, &len));
      f->payload_offset = static_cast<size_t>(p_ - origin_);
      if (len > static_cast<uint64_t>(end_ - p_))
        return error(StatusCode::kParseError, "field ", number, ": length ", len, " at byte ", f->offset,
                     " runs past the end of its message (", end_ - p_, " bytes left)");
      f->data = p_;
      f->size = static_cast<size_t>(len);
      p_ += len;
      return {};
    }
    case 3:
    case 4:
      return error(StatusCode::kParseError, "field ", number, ": protobuf groups (wire type ", type,
                   ") are not supported, at byte ", f->offset);
    default:
      return error(StatusCode::kParseError, "field ", number, ": invalid wire type ", type, " at byte ", f->offset);
  }
}

Status wrong_wire_type(const Field& f, WireType elem) {
  return error(StatusCode::kParseError, "field ", f.number, " has wire type ", wire_type_name(f.type), " at byte ",
               f.offset, ", expected ", wire_type_name(elem), " or LEN (packed)");
}

Status count_elements(const Field& f, WireType elem, size_t* count) {
  if (f.type == elem) {
    *count = 1;
    return {};
  }
  if (f.type != WireType::kLen) return wrong_wire_type(f, elem);
  switch (elem) {
    case WireType::kFixed32:
    case WireType::kFixed64: {
      const size_t w = elem == WireType::kFixed32 ? 4 : 8;
      if (f.size % w != 0)
        return error(StatusCode::kParseError, "field ", f.number, ": packed ", wire_type_name(elem), " payload of ",
                     f.size, " bytes at byte ", f.payload_offset, " is not a multiple of ", w);
      *count = f.size / w;
      return {};
    }
    case WireType::kVarint: {
      // Each varint ends with the one byte whose top bit is clear.
      size_t n = 0;
      for (size_t i = 0; i < f.size; ++i) n += (f.data[i] & 0x80u) == 0;
      if (f.size > 0 && (f.data[f.size - 1] & 0x80u) != 0)
        return error(StatusCode::kParseError, "field ", f.number, ": truncated varint at byte ",
                     f.payload_offset + f.size - 1);
      *count = n;
      return {};
    }
    default:
      return error(StatusCode::kInternal, "count_elements: element wire type ", wire_type_name(elem));
  }
}

}  // namespace quench::loaders::wire
