// .npy reader/writer: round trips, headers written by hand as other writers produce them, and
// corrupt files, which must give errors and never crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "quench/tensor.h"

namespace quench {
namespace {

namespace fs = std::filesystem;

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "quench_npy_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  void write_bytes(const std::string& p, const std::string& bytes) const {
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::string read_bytes(const std::string& p) const {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  // A version-1.0 file around `dict` (no padding: readers must not require it) and `data`.
  static std::string v1(const std::string& dict, const std::string& data) {
    std::string s("\x93NUMPY\x01\x00", 8);
    s += static_cast<char>(dict.size() & 0xff);
    s += static_cast<char>(dict.size() >> 8);
    return s + dict + data;
  }
  static std::string v2(const std::string& dict, const std::string& data, char major = 2) {
    std::string s("\x93NUMPY", 6);
    s += major;
    s += '\0';
    for (int i = 0; i < 4; ++i) s += static_cast<char>((dict.size() >> (8 * i)) & 0xff);
    return s + dict + data;
  }
  template <class T>
  static std::string raw(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  Result<Tensor> load_bytes(const std::string& bytes) {
    const std::string p = path("t.npy");
    write_bytes(p, bytes);
    return load_npy(p);
  }
  // Loads `bytes` and expects an error of `code` whose message contains `needle`.
  void expect_error(const std::string& bytes, StatusCode code, const std::string& needle) {
    auto r = load_bytes(bytes);
    ASSERT_FALSE(r.ok()) << "accepted: " << needle;
    EXPECT_EQ(r.status().code(), code) << r.status().message();
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  }

  fs::path dir_;
};

// Every dtype, with byte patterns that differ per element, through save and load.
TEST_F(NpyTest, NpyRoundTripEveryDtype) {
  const DType dtypes[] = {DType::kF16, DType::kF32, DType::kF64, DType::kI8,  DType::kU8,  DType::kI16,
                          DType::kU16, DType::kI32, DType::kU32, DType::kI64, DType::kU64, DType::kBool};
  for (DType dt : dtypes) {
    Tensor t = Tensor::zeros(dt, {2, 3});
    auto* p = static_cast<uint8_t*>(t.mutable_data());
    for (size_t i = 0; i < t.bytes(); ++i) p[i] = static_cast<uint8_t>(dt == DType::kBool ? i % 2 : i * 37 + 11);
    const std::string file = path(std::string(dtype_name(dt)) + ".npy");
    ASSERT_TRUE(save_npy(file, t).ok()) << dtype_name(dt);
    auto back = load_npy(file);
    ASSERT_TRUE(back.ok()) << dtype_name(dt) << ": " << back.status().message();
    EXPECT_EQ(back->dtype(), dt);
    EXPECT_EQ(back->shape(), (Shape{2, 3}));
    ASSERT_EQ(back->bytes(), t.bytes());
    EXPECT_EQ(std::memcmp(back->data(), t.data(), t.bytes()), 0) << dtype_name(dt);
  }
}

TEST_F(NpyTest, NpyRoundTripScalarEmptyAndOneDim) {
  for (Shape s : {Shape{}, Shape{0}, Shape{0, 3}, Shape{7}, Shape{1, 1, 1, 2}}) {
    std::vector<float> vals;
    for (int64_t i = 0; i < shape_numel(s); ++i) vals.push_back(0.5f * static_cast<float>(i) - 1.0f);
    Tensor t = Tensor::from_values(DType::kF32, s, vals);
    ASSERT_TRUE(save_npy(path("s.npy"), t).ok()) << shape_str(s);
    auto back = load_npy(path("s.npy"));
    ASSERT_TRUE(back.ok()) << shape_str(s) << ": " << back.status().message();
    EXPECT_EQ(back->shape(), s);
    for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(back->value_as_double(i), vals[static_cast<size_t>(i)]);
  }
}

// The writer's exact bytes: what numpy itself writes for the same array.
TEST_F(NpyTest, NpyWriterHeaderBytes) {
  ASSERT_TRUE(save_npy(path("a.npy"), Tensor::from_values(DType::kF32, {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6})).ok());
  const std::string b = read_bytes(path("a.npy"));
  ASSERT_EQ(b.size(), 128u + 24u);  // header padded to 128, then 6 floats
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<uint8_t>(b[8]) | (static_cast<uint8_t>(b[9]) << 8), 118);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(b.substr(10, dict.size()), dict);
  EXPECT_EQ(b[127], '\n');
  EXPECT_EQ(b.substr(10 + dict.size(), 117 - dict.size()), std::string(117 - dict.size(), ' '));
  float third;
  std::memcpy(&third, b.data() + 128 + 8, 4);
  EXPECT_EQ(third, 3.0f);

  ASSERT_TRUE(save_npy(path("b.npy"), Tensor::zeros(DType::kU8, {5})).ok());
  const std::string c = read_bytes(path("b.npy"));
  EXPECT_NE(c.find("{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }"), std::string::npos);
  EXPECT_EQ(c.size(), 128u + 5u);  // 10 + 57 + 1 header bytes round up to 128
  ASSERT_TRUE(save_npy(path("c.npy"), Tensor::zeros(DType::kBool, {})).ok());
  EXPECT_NE(read_bytes(path("c.npy")).find("'descr': '|b1', 'fortran_order': False, 'shape': (), }"), std::string::npos);
}

// Headers as other writers (older numpy, hand-rolled C++ writers) produce them.
TEST_F(NpyTest, NpyHandWrittenHeaders) {
  {  // double quotes, other key order, no trailing comma, no padding
    auto r = load_bytes(v1("{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i4\"}", raw<int32_t>({7, -8, 9})));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->dtype(), DType::kI32);
    EXPECT_EQ(r->shape(), (Shape{3}));
    EXPECT_EQ(r->value_as_int64(1), -8);
  }
  {  // version 2.0, Python-2 long dims
    auto r = load_bytes(v2("{'descr': '<i8', 'fortran_order': False, 'shape': (1L, 2L), }\n", raw<int64_t>({-5, 1LL << 40})));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->shape(), (Shape{1, 2}));
    EXPECT_EQ(r->value_as_int64(1), int64_t{1} << 40);
  }
  {  // version 3.0
    auto r = load_bytes(v2("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", raw<double>({0.25, -3.5}), 3));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->dtype(), DType::kF64);
    EXPECT_EQ(r->value_as_double(1), -3.5);
  }
  {  // one-byte types with any byte-order mark, including '>' (meaningless for one byte)
    for (const char* d : {"|i1", "<i1", ">i1", "=i1"}) {
      auto r = load_bytes(v1(std::string("{'descr': '") + d + "', 'fortran_order': False, 'shape': (2,), }", raw<int8_t>({-3, 4})));
      ASSERT_TRUE(r.ok()) << d << ": " << r.status().message();
      EXPECT_EQ(r->dtype(), DType::kI8);
      EXPECT_EQ(r->value_as_int64(0), -3);
    }
  }
  {  // bool bytes other than 0/1 read as true, as numpy reads them
    auto r = load_bytes(v1("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x00\x02\x01", 3)));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->data_as<uint8_t>()[1], 1);
    EXPECT_EQ(r->data_as<uint8_t>()[0], 0);
  }
  {  // half precision
    auto r = load_bytes(v1("{'descr': '<f2', 'fortran_order': False, 'shape': (), }", raw<uint16_t>({0x3c00})));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->value_as_double(0), 1.0);
  }
}

TEST_F(NpyTest, NpyRefusesFortranOrderAndBigEndian) {
  expect_error(v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", raw<float>({1, 2, 3, 4})),
               StatusCode::kUnsupported, "Fortran");
  expect_error(v1("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", raw<float>({1, 2})),
               StatusCode::kUnsupported, "big-endian");
  expect_error(v1("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", raw<int64_t>({1})),
               StatusCode::kUnsupported, "big-endian");
  expect_error(v1("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", raw<int64_t>({1})),
               StatusCode::kUnsupported, "'|O' is not supported");
  expect_error(v1("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", raw<int64_t>({1})),
               StatusCode::kUnsupported, "'<c8'");
  expect_error(v1("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", raw<float>({1})),
               StatusCode::kUnsupported, "structured");
}

TEST_F(NpyTest, NpyCorruptHeaders) {
  const std::string f2 = raw<float>({1, 2});
  expect_error("", StatusCode::kParseError, "too short");
  expect_error(std::string("\x93NUMPY\x01", 7), StatusCode::kParseError, "too short");
  expect_error(std::string("\x93NUMPX\x01\x00\x10\x00", 10) + std::string(16, ' '), StatusCode::kParseError, "bad magic");
  expect_error(v2("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f2, 4), StatusCode::kUnsupported, "version 4.0");
  // Header length beyond the file, or absurd.
  expect_error(std::string("\x93NUMPY\x01\x00\xff\x7f", 10) + "{'descr'", StatusCode::kParseError, "truncated");
  expect_error(std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + "{}", StatusCode::kParseError, "implausibly large");
  expect_error(std::string("\x93NUMPY\x02\x00\x01", 9), StatusCode::kParseError, "truncated");
  // Malformed dicts.
  expect_error(v1("['descr', '<f4']", f2), StatusCode::kParseError, "not a dict");
  expect_error(v1("{'descr': '<f4', 'shape': (2,), }", f2), StatusCode::kParseError, "lacks key 'fortran_order'");
  expect_error(v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", f2), StatusCode::kParseError, "unexpected key 'x'");
  expect_error(v1("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", f2), StatusCode::kParseError, "twice");
  expect_error(v1("{'descr': '<f4', 'fortran_order': Fals, 'shape': (2,)}", f2), StatusCode::kParseError, "neither True");
  expect_error(v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}", f2), StatusCode::kParseError, "non-negative");
  expect_error(v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", f2), StatusCode::kParseError, "expected ','");
  expect_error(v1("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", f2), StatusCode::kParseError, "not a tuple");
  expect_error(v1("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", f2), StatusCode::kParseError, "expected ',' or '}'");
  expect_error(v1("{'descr': '<f4", f2), StatusCode::kParseError, "unterminated");
  expect_error(v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", f2), StatusCode::kParseError, "after the header");
  expect_error(v1(std::string("{'descr': '<f4'") + '\0' + ", 'fortran_order': False, 'shape': (2,)}", f2), StatusCode::kParseError, "NUL");
  expect_error(v1("{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", f2), StatusCode::kParseError, "no byte order");
  expect_error(v1("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", f2), StatusCode::kParseError, "too large");
  // Shapes whose byte count overflows must not allocate.
  expect_error(v1("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", f2), StatusCode::kParseError, "too large");
  expect_error(v1("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}", f2), StatusCode::kParseError, "too large");
  expect_error(v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,)}", f2), StatusCode::kParseError, "truncated");
}

TEST_F(NpyTest, NpyDataLengthMismatch) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  expect_error(v1(dict, raw<float>({1, 2, 3})), StatusCode::kParseError, "needs 16 data bytes but only 12");
  expect_error(v1(dict, raw<float>({1, 2, 3, 4, 5})), StatusCode::kParseError, "4 bytes follow");
}

// Every prefix of a valid file, and every single-byte corruption of its header, gives an
// error or a tensor, never a crash (run under the sanitizers in scripts/test.sh).
TEST_F(NpyTest, NpyEveryTruncationAndByteFlip) {
  ASSERT_TRUE(save_npy(path("ok.npy"), Tensor::from_values(DType::kI16, {3, 1}, std::vector<int16_t>{1, -2, 3})).ok());
  const std::string good = read_bytes(path("ok.npy"));
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = load_bytes(good.substr(0, n));
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes accepted";
  }
  int accepted = 0;
  for (size_t i = 0; i < 64; ++i) {
    for (int flip : {0x01, 0x20, 0x80}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      auto r = load_bytes(bad);
      if (r.ok()) {
        ++accepted;  // e.g. a changed padding space: must still be the same array
        EXPECT_EQ(r->numel(), 3) << "byte " << i;
      }
    }
  }
  EXPECT_LT(accepted, 64 * 3);
}

TEST_F(NpyTest, NpyFileErrors) {
  auto r = load_npy(path("missing.npy"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("missing.npy"), std::string::npos);
  auto d = load_npy(dir_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("directory"), std::string::npos);

  EXPECT_EQ(save_npy(path("u.npy"), Tensor()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(save_npy(path("bf.npy"), Tensor::zeros(DType::kBF16, {2})).code(), StatusCode::kUnsupported);
  EXPECT_EQ(save_npy(path("no/such/dir/x.npy"), Tensor::zeros(DType::kF32, {2})).code(), StatusCode::kIoError);
}

// A large header (many dims would not do it; a long shape does) switches the writer to 2.0.
TEST_F(NpyTest, NpyWriterUsesVersion2ForHugeHeaders) {
  Shape s(9000, 1);  // "1, " per dim: about 27 KB of header, still version 1.0
  ASSERT_TRUE(save_npy(path("big.npy"), Tensor::zeros(DType::kU8, s)).ok());
  EXPECT_EQ(read_bytes(path("big.npy"))[6], 1);
  Shape s2(30000, 1);  // about 90 KB: needs the 32-bit length of 2.0
  ASSERT_TRUE(save_npy(path("big2.npy"), Tensor::zeros(DType::kU8, s2)).ok());
  const std::string b = read_bytes(path("big2.npy"));
  EXPECT_EQ(b[6], 2);
  EXPECT_EQ((b.size() - 1) % 64, 0u);  // 1 data byte after a 64-aligned header
  auto back = load_npy(path("big2.npy"));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->shape().size(), 30000u);
}

}  // namespace
}  // namespace quench
