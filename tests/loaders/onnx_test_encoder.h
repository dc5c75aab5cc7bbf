// A tiny protobuf encoder and ONNX message builders, so loader tests can state the exact bytes
// they feed the reader (including malformed ones) without libprotobuf or checked-in files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace quench::testing {

class Pb {
 public:
  Pb& varint(uint32_t field, uint64_t v) {
    key(field, 0);
    put_varint(v);
    return *this;
  }
  Pb& fixed32(uint32_t field, uint32_t v) {
    key(field, 5);
    put_le(v, 4);
    return *this;
  }
  Pb& fixed64(uint32_t field, uint64_t v) {
    key(field, 1);
    put_le(v, 8);
    return *this;
  }
  Pb& f32(uint32_t field, float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return fixed32(field, b);
  }
  Pb& f64(uint32_t field, double f) {
    uint64_t b;
    std::memcpy(&b, &f, 8);
    return fixed64(field, b);
  }
  Pb& bytes(uint32_t field, std::string_view s) {
    key(field, 2);
    put_varint(s.size());
    b_.append(s);
    return *this;
  }
  Pb& msg(uint32_t field, const Pb& m) { return bytes(field, m.str()); }
  Pb& packed_varints(uint32_t field, const std::vector<int64_t>& v) {
    Pb in;
    for (int64_t x : v) in.put_varint(static_cast<uint64_t>(x));
    return bytes(field, in.str());
  }
  Pb& packed_f32(uint32_t field, const std::vector<float>& v) {
    Pb in;
    for (float x : v) {
      uint32_t b;
      std::memcpy(&b, &x, 4);
      in.put_le(b, 4);
    }
    return bytes(field, in.str());
  }
  Pb& packed_f64(uint32_t field, const std::vector<double>& v) {
    Pb in;
    for (double x : v) {
      uint64_t b;
      std::memcpy(&b, &x, 8);
      in.put_le(b, 8);
    }
    return bytes(field, in.str());
  }
  Pb& raw(std::string_view s) {  // arbitrary bytes, for malformed input
    b_.append(s);
    return *this;
  }
  Pb& key(uint32_t field, int wire_type) {
    put_varint(uint64_t{field} << 3 | static_cast<uint64_t>(wire_type));
    return *this;
  }
  Pb& put_varint(uint64_t v) {
    while (v >= 0x80) {
      b_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    b_.push_back(static_cast<char>(v));
    return *this;
  }
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  const std::string& str() const { return b_; }
  size_t size() const { return b_.size(); }

 private:
  std::string b_;
};

template <class T>
std::string le_bytes(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// ONNX data type numbers used by the tests.
enum OnnxType : int {
  kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7, kString = 8, kBool = 9,
  kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13, kComplex64 = 14, kBfloat16 = 16, kFloat8E4M3 = 17,
};

// TensorProto header: name, data type, dims (packed).
inline Pb tensor_header(const std::string& name, int dtype, const std::vector<int64_t>& dims) {
  Pb t;
  if (!dims.empty()) t.packed_varints(1, dims);
  t.varint(2, static_cast<uint64_t>(dtype));
  if (!name.empty()) t.bytes(8, name);
  return t;
}

inline Pb raw_tensor(const std::string& name, int dtype, const std::vector<int64_t>& dims, const std::string& raw) {
  Pb t = tensor_header(name, dtype, dims);
  t.bytes(9, raw);
  return t;
}

struct Dim {
  int64_t value = -1;  // -1: no dim_value
  std::string param;
};

inline Pb value_info(const std::string& name, int elem, const std::vector<Dim>& dims, bool with_shape = true) {
  Pb shape;
  for (const Dim& d : dims) {
    Pb dim;
    if (d.value >= 0) dim.varint(1, static_cast<uint64_t>(d.value));
    if (!d.param.empty()) dim.bytes(2, d.param);
    shape.msg(1, dim);
  }
  Pb tt;
  tt.varint(1, static_cast<uint64_t>(elem));
  if (with_shape) tt.msg(2, shape);
  Pb type;
  type.msg(1, tt);
  Pb vi;
  vi.bytes(1, name);
  vi.msg(2, type);
  return vi;
}

inline Pb node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
               const std::string& name = "", const std::vector<Pb>& attrs = {}) {
  Pb n;
  for (const auto& s : in) n.bytes(1, s);
  for (const auto& s : out) n.bytes(2, s);
  if (!name.empty()) n.bytes(3, name);
  n.bytes(4, op);
  for (const auto& a : attrs) n.msg(5, a);
  return n;
}

// AttributeProto with its name and declared type (AttributeType number; 0 leaves it out).
inline Pb attr(const std::string& name, int type) {
  Pb a;
  a.bytes(1, name);
  if (type) a.varint(20, static_cast<uint64_t>(type));
  return a;
}
inline Pb attr_int(const std::string& name, int64_t v) { return attr(name, 2).varint(3, static_cast<uint64_t>(v)); }
inline Pb attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  return attr(name, 7).packed_varints(8, v);
}
inline Pb attr_float(const std::string& name, float v) { return attr(name, 1).f32(2, v); }

struct GraphParts {
  std::vector<Pb> nodes, initializers, inputs, outputs, value_info;
  std::string name = "g";
};

inline Pb graph(const GraphParts& p) {
  Pb g;
  for (const auto& n : p.nodes) g.msg(1, n);
  g.bytes(2, p.name);
  for (const auto& t : p.initializers) g.msg(5, t);
  for (const auto& v : p.inputs) g.msg(11, v);
  for (const auto& v : p.outputs) g.msg(12, v);
  for (const auto& v : p.value_info) g.msg(13, v);
  return g;
}

// ModelProto with the graph as its last field, so that cutting the file anywhere cuts the
// graph or loses it (a cut between fields would otherwise leave a valid, shorter model).
inline Pb model(const Pb& g, int64_t opset = 17, const std::string& pad_doc = "") {
  Pb m;
  m.varint(1, 8);
  m.bytes(2, "quench-test");
  m.bytes(3, "1.0");
  Pb op;
  op.bytes(1, "");
  op.varint(2, static_cast<uint64_t>(opset));
  m.msg(8, op);
  if (!pad_doc.empty()) m.bytes(6, pad_doc);
  m.msg(7, g);
  return m;
}

}  // namespace quench::testing
