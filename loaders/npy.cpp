// NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
//
// Layout: "\x93NUMPY", major, minor, header length (uint16 LE in 1.0, uint32 LE in 2.0/3.0),
// then a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces to a multiple of 64 bytes and ended by '\n', then the raw elements.
// The header is parsed by hand, strictly, because the file may be anything: every length is
// checked against the bytes actually there before anything is allocated.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quench/tensor.h"

namespace quench {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy itself refuses headers longer than this unless told otherwise (a guard against
// hostile lengths); quench does the same.
constexpr size_t kMaxHeaderLen = 1u << 20;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// descr type code (without byte order) <-> DType.
struct DescrEntry {
  const char* code;
  DType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"f2", DType::kF16}, {"f4", DType::kF32}, {"f8", DType::kF64}, {"i1", DType::kI8},
    {"u1", DType::kU8},  {"i2", DType::kI16}, {"u2", DType::kU16}, {"i4", DType::kI32},
    {"u4", DType::kU32}, {"i8", DType::kI64}, {"u8", DType::kU64}, {"b1", DType::kBool},
};

// A recursive-descent reader of the one dict shape numpy writes. Accepts what Python's
// literal syntax allows there (either quote, optional trailing commas, any spacing).
class HeaderParser {
 public:
  HeaderParser(std::string_view s, const std::string& path) : s_(s), path_(path) {}

  Status parse(std::string* descr, bool* fortran, Shape* shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_ws();
    if (!eat('{')) return fail("header is not a dict (no '{')");
    for (;;) {
      skip_ws();
      if (eat('}')) break;
      std::string key;
      QUENCH_TRY(parse_string(&key));
      skip_ws();
      if (!eat(':')) return fail("expected ':' after key '" + key + "'");
      skip_ws();
      if (key == "descr") {
        if (have_descr) return fail("key 'descr' appears twice");
        have_descr = true;
        if (peek() == '[') return error(StatusCode::kUnsupported, path_, ": structured (record) dtypes are not supported");
        QUENCH_TRY(parse_string(descr));
      } else if (key == "fortran_order") {
        if (have_fortran) return fail("key 'fortran_order' appears twice");
        have_fortran = true;
        if (eat_word("True")) *fortran = true;
        else if (eat_word("False")) *fortran = false;
        else return fail("fortran_order is neither True nor False");
      } else if (key == "shape") {
        if (have_shape) return fail("key 'shape' appears twice");
        have_shape = true;
        QUENCH_TRY(parse_shape(shape));
      } else {
        return fail("unexpected key '" + key + "'");
      }
      skip_ws();
      if (eat(',')) continue;
      skip_ws();
      if (eat('}')) break;
      return fail("expected ',' or '}' in the header dict");
    }
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected text after the header dict");
    if (!have_descr || !have_fortran || !have_shape)
      return fail(std::string("header lacks key '") + (!have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape") + "'");
    return {};
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  bool eat_word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  // The padding numpy writes is spaces and the final '\n'; Python would accept any whitespace.
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  Status fail(const std::string& what) const {
    return error(StatusCode::kParseError, path_, ": corrupt .npy header: ", what, " (at byte ", pos_, " of the header)");
  }
  Status parse_string(std::string* out) {
    const char q = peek();
    if (q != '\'' && q != '"') return fail("expected a quoted string");
    ++pos_;
    out->clear();
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\') return fail("escapes in header strings are not supported");
      out->push_back(s_[pos_++]);
    }
    if (!eat(q)) return fail("unterminated string");
    return {};
  }
  Status parse_shape(Shape* shape) {
    shape->clear();
    if (!eat('(')) return fail("shape is not a tuple");
    for (;;) {
      skip_ws();
      if (eat(')')) break;
      if (peek() < '0' || peek() > '9') return fail("shape holds something other than a non-negative integer");
      int64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        const int digit = peek() - '0';
        if (d > (std::numeric_limits<int64_t>::max() - digit) / 10) return fail("shape dim too large");
        d = d * 10 + digit;
        ++pos_;
      }
      eat('L');  // Python 2 longs, as very old numpy wrote them
      shape->push_back(d);
      skip_ws();
      if (eat(',')) continue;
      skip_ws();
      if (eat(')')) break;
      return fail("expected ',' or ')' in the shape tuple");
    }
    return {};
  }

  std::string_view s_;
  size_t pos_ = 0;
  const std::string& path_;
};

Status descr_to_dtype(const std::string& descr, const std::string& path, DType* out) {
  if (descr.size() < 2)
    return error(StatusCode::kParseError, path, ": corrupt .npy header: descr '", descr, "' is not a dtype");
  char order = descr[0];
  std::string code = descr.substr(1);
  if (order != '<' && order != '>' && order != '|' && order != '=') {  // no byte-order mark: 'f4'
    order = '=';
    code = descr;
  }
  const DescrEntry* found = nullptr;
  for (const auto& e : kDescrs)
    if (code == e.code) found = &e;
  if (!found)
    return error(StatusCode::kUnsupported, path, ": .npy dtype '", descr,
                 "' is not supported (supported: f2 f4 f8 i1 u1 i2 u2 i4 u4 i8 u8 b1)");
  const bool multibyte = dtype_size(found->dtype) > 1;
  if (order == '>' && multibyte)
    return error(StatusCode::kUnsupported, path, ": .npy dtype '", descr,
                 "' is big-endian; quench reads little-endian only (convert with arr.astype('<", code, "'))");
  if (order == '|' && multibyte)
    return error(StatusCode::kParseError, path, ": corrupt .npy header: dtype '", descr, "' has no byte order");
  // '=' (native) is taken as little-endian: quench only runs on little-endian hosts.
  *out = found->dtype;
  return {};
}

Status read_exact(std::FILE* f, void* dst, size_t n, const std::string& path, const char* what) {
  if (n == 0) return {};
  if (std::fread(dst, 1, n, f) != n) {
    if (std::ferror(f)) return error(StatusCode::kIoError, path, ": read failed: ", std::strerror(errno));
    return error(StatusCode::kParseError, path, ": truncated .npy file (", what, ")");
  }
  return {};
}

}  // namespace

Result<Tensor> load_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return error(StatusCode::kIoError, path, ": is a directory, not a .npy file");
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    const int e = errno;
    return error(e == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError, path, ": cannot open: ", std::strerror(e));
  }
  // File size, to check lengths before allocating.
  if (std::fseek(f.get(), 0, SEEK_END) != 0) return error(StatusCode::kIoError, path, ": cannot seek (not a regular file?)");
  const long end = std::ftell(f.get());
  if (end < 0 || std::fseek(f.get(), 0, SEEK_SET) != 0)
    return error(StatusCode::kIoError, path, ": cannot seek (not a regular file?)");
  const uint64_t file_size = static_cast<uint64_t>(end);

  unsigned char pre[8];
  if (file_size < 8)
    return error(StatusCode::kParseError, path, ": not a .npy file (", file_size, " bytes, too short for the magic)");
  QUENCH_TRY(read_exact(f.get(), pre, 8, path, "magic"));
  if (std::memcmp(pre, kMagic, kMagicLen) != 0)
    return error(StatusCode::kParseError, path, ": not a .npy file (bad magic)");
  const int major = pre[6], minor = pre[7];
  if (major < 1 || major > 3 || minor != 0)
    return error(StatusCode::kUnsupported, path, ": .npy format version ", major, ".", minor,
                 " is not supported (1.0, 2.0 and 3.0 are)");
  uint64_t header_len = 0;
  uint64_t prefix = 8;
  if (major == 1) {
    unsigned char b[2];
    QUENCH_TRY(read_exact(f.get(), b, 2, path, "header length"));
    header_len = b[0] | (uint64_t{b[1]} << 8);
    prefix += 2;
  } else {
    unsigned char b[4];
    QUENCH_TRY(read_exact(f.get(), b, 4, path, "header length"));
    header_len = b[0] | (uint64_t{b[1]} << 8) | (uint64_t{b[2]} << 16) | (uint64_t{b[3]} << 24);
    prefix += 4;
  }
  if (header_len > kMaxHeaderLen)
    return error(StatusCode::kParseError, path, ": corrupt .npy header: length ", header_len, " is implausibly large");
  if (prefix + header_len > file_size)
    return error(StatusCode::kParseError, path, ": truncated .npy file: header says ", header_len, " bytes but only ",
                 file_size - prefix, " follow");
  std::string header(header_len, '\0');
  QUENCH_TRY(read_exact(f.get(), header.data(), header_len, path, "header"));
  if (header.find('\0') != std::string::npos)
    return error(StatusCode::kParseError, path, ": corrupt .npy header: it contains a NUL byte");

  std::string descr;
  bool fortran = false;
  Shape shape;
  QUENCH_TRY(HeaderParser(header, path).parse(&descr, &fortran, &shape));
  DType dtype = DType::kUndefined;
  QUENCH_TRY(descr_to_dtype(descr, path, &dtype));
  const int64_t numel = shape_numel(shape);
  // A fortran-order array of at most one non-unit dim has the same bytes as a C-order one,
  // but numpy only ever writes fortran_order True for arrays that need it; refuse them all.
  if (fortran)
    return error(StatusCode::kUnsupported, path,
                 ": .npy array is in Fortran (column-major) order; quench reads C order only "
                 "(save np.ascontiguousarray(arr))");
  const uint64_t elem = dtype_size(dtype);
  if (numel < 0 || static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / elem)
    return error(StatusCode::kParseError, path, ": corrupt .npy header: shape ", shape_str(shape), " is too large");
  const uint64_t data_bytes = static_cast<uint64_t>(numel) * elem;
  const uint64_t have = file_size - prefix - header_len;
  if (have < data_bytes)
    return error(StatusCode::kParseError, path, ": truncated .npy file: ", dtype_name(dtype), " ", shape_str(shape),
                 " needs ", data_bytes, " data bytes but only ", have, " are there");
  if (have > data_bytes)
    return error(StatusCode::kParseError, path, ": corrupt .npy file: ", have - data_bytes,
                 " bytes follow the ", dtype_name(dtype), " ", shape_str(shape), " data");
  Tensor t = Tensor::zeros(dtype, shape);
  QUENCH_TRY(read_exact(f.get(), t.mutable_data(), data_bytes, path, "data"));
  if (dtype == DType::kBool) {
    // Any byte other than 0/1 would be a bool no C++ code expects; numpy reads such bytes as True.
    auto* p = static_cast<uint8_t*>(t.mutable_data());
    for (int64_t i = 0; i < numel; ++i) p[i] = p[i] != 0;
  }
  return t;
}

Status save_npy(const std::string& path, const Tensor& t) {
  if (!t.defined()) return error(StatusCode::kInvalidArgument, path, ": cannot save an undefined tensor as .npy");
  const char* code = nullptr;
  for (const auto& e : kDescrs)
    if (e.dtype == t.dtype()) code = e.code;
  if (!code)
    return error(StatusCode::kUnsupported, path, ": ", dtype_name(t.dtype()), " has no .npy dtype quench writes");
  for (int64_t d : t.shape())
    if (d < 0) return error(StatusCode::kInvalidArgument, path, ": cannot save shape ", shape_str(t.shape()));
  if (t.numel() < 0) return error(StatusCode::kInvalidArgument, path, ": shape ", shape_str(t.shape()), " is too large");

  std::string dict = std::string("{'descr': '") + (dtype_size(t.dtype()) == 1 ? "|" : "<") + code +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.shape().size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(t.shape()[i]);
  }
  if (t.shape().size() == 1) dict += ",";  // a one-element Python tuple needs its comma
  dict += "), }";
  // Version 1.0 unless the header does not fit its 16-bit length; pad so data starts at a
  // multiple of 64 bytes, as numpy does.
  const bool v1 = dict.size() + 1 + 10 <= 65535;
  const size_t prefix = v1 ? 10 : 12;
  size_t total = prefix + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  const size_t header_len = total - prefix;
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';

  std::string head(kMagic, kMagicLen);
  head += static_cast<char>(v1 ? 1 : 2);
  head += '\0';
  if (v1) {
    head += static_cast<char>(header_len & 0xff);
    head += static_cast<char>((header_len >> 8) & 0xff);
  } else {
    for (int i = 0; i < 4; ++i) head += static_cast<char>((header_len >> (8 * i)) & 0xff);
  }
  head += dict;

  File f(std::fopen(path.c_str(), "wb"));
  if (!f) return error(StatusCode::kIoError, path, ": cannot create: ", std::strerror(errno));
  if (std::fwrite(head.data(), 1, head.size(), f.get()) != head.size() ||
      (t.bytes() > 0 && std::fwrite(t.data(), 1, t.bytes(), f.get()) != t.bytes()))
    return error(StatusCode::kIoError, path, ": write failed: ", std::strerror(errno));
  if (std::fclose(f.release()) != 0) return error(StatusCode::kIoError, path, ": write failed: ", std::strerror(errno));
  return {};
}

}  // namespace quench
