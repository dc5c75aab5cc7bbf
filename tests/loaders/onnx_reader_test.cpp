// The ONNX reader against hand-encoded protobuf: every attribute kind, typed and raw tensors
// of each dtype, packed and unpacked fields, external data, zero-copy weights, node naming,
// and malformed input of every kind (which must give an error, never a crash).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/ir/graph.h"
#include "loaders/onnx/external_data.h"
#include "loaders/onnx/onnx_reader.h"
#include "loaders/onnx/wire.h"
#include "quench/float16.h"
#include "quench/quench.h"
#include "tests/loaders/onnx_test_encoder.h"

namespace quench {
namespace {

namespace fs = std::filesystem;
using loaders::OnnxReadOptions;
using loaders::read_onnx_bytes;
using loaders::read_onnx_file;
using loaders::read_tensor_proto;
using testing::attr;
using testing::attr_float;
using testing::attr_int;
using testing::attr_ints;
using testing::Dim;
using testing::GraphParts;
using testing::le_bytes;
using testing::Pb;
using testing::raw_tensor;
using testing::tensor_header;
using testing::value_info;
using Kind = ops::Attribute::Kind;

// Parses `bytes` as read_onnx_bytes does for a file's contents, with the bytes kept alive.
Result<ir::Model> load(const std::string& bytes, const std::string& name = "t.onnx", const OnnxReadOptions& opt = {}) {
  auto copy = std::make_shared<std::vector<uint8_t>>(bytes.begin(), bytes.end());
  const uint8_t* p = copy->data();
  return read_onnx_bytes(std::shared_ptr<const void>(copy, p), p, copy->size(), name, "", opt);
}

Result<Tensor> tensor_of(const Pb& t) {
  return read_tensor_proto(reinterpret_cast<const uint8_t*>(t.str().data()), t.size(), "t.pb");
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

#define EXPECT_ERROR_HAS(status_expr, code_, part)                                      \
  do {                                                                                  \
    const ::quench::Status st_ = (status_expr);                                         \
    EXPECT_FALSE(st_.ok());                                                             \
    EXPECT_EQ(st_.code(), code_) << st_.to_string();                                    \
    EXPECT_TRUE(contains(st_.message(), part)) << "'" << part << "' not in: " << st_.message(); \
  } while (0)

// x [N,3] -> Relu -> y, with an initializer "w" that is also listed as an input.
Pb relu_graph() {
  GraphParts p;
  p.nodes.push_back(testing::node("Relu", {"x"}, {"y"}));
  p.initializers.push_back(raw_tensor("w", testing::kFloat, {2}, le_bytes<float>({1.5f, -2.0f})));
  p.inputs.push_back(value_info("x", testing::kFloat, {{-1, "N"}, {3, ""}}));
  p.inputs.push_back(value_info("w", testing::kFloat, {{2, ""}}));
  p.outputs.push_back(value_info("y", testing::kFloat, {{-1, "N"}, {3, ""}}));
  p.value_info.push_back(value_info("unused_annot", testing::kInt64, {{4, ""}}));
  return testing::graph(p);
}

// ---------------------------------------------------------------- wire format

TEST(OnnxWire, VarintsDecodeAndRefuseMalformedOnes) {
  const uint8_t ok[] = {0xac, 0x02};  // 300
  const uint8_t* p = ok;
  uint64_t v = 0;
  ASSERT_TRUE(loaders::wire::read_varint(p, ok + 2, ok, &v).ok());
  EXPECT_EQ(v, 300u);
  EXPECT_EQ(p, ok + 2);

  const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  p = max;
  ASSERT_TRUE(loaders::wire::read_varint(p, max + 10, max, &v).ok());
  EXPECT_EQ(v, ~uint64_t{0});

  const uint8_t wide[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  p = wide;
  EXPECT_ERROR_HAS(loaders::wire::read_varint(p, wide + 10, wide, &v), StatusCode::kParseError,
                   "overflows 64 bits");
  const uint8_t longer[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  p = longer;
  EXPECT_ERROR_HAS(loaders::wire::read_varint(p, longer + 11, longer, &v), StatusCode::kParseError,
                   "overflows 64 bits at byte 0");
  const uint8_t cut[] = {0x00, 0x80, 0x80};
  p = cut + 1;
  EXPECT_ERROR_HAS(loaders::wire::read_varint(p, cut + 3, cut, &v), StatusCode::kParseError,
                   "truncated varint at byte 1");
}

TEST(OnnxWire, ReaderChecksEveryLength) {
  auto read_all = [](const std::string& s) -> Status {
    const auto* b = reinterpret_cast<const uint8_t*>(s.data());
    loaders::wire::Reader r(b, b, b + s.size());
    while (!r.done()) {
      loaders::wire::Field f;
      QUENCH_TRY(r.next(&f));
    }
    return {};
  };
  EXPECT_TRUE(read_all(Pb().varint(1, 5).fixed32(2, 7).fixed64(3, 9).bytes(4, "abc").str()).ok());
  EXPECT_ERROR_HAS(read_all(Pb().key(4, 2).put_varint(4).raw("abc").str()), StatusCode::kParseError,
                   "runs past the end");
  EXPECT_ERROR_HAS(read_all(Pb().key(4, 2).put_varint(uint64_t{1} << 62).str()), StatusCode::kParseError,
                   "runs past the end");
  EXPECT_ERROR_HAS(read_all(Pb().key(2, 5).raw("abc").str()), StatusCode::kParseError, "truncated fixed32");
  EXPECT_ERROR_HAS(read_all(Pb().key(2, 1).raw("abcdefg").str()), StatusCode::kParseError, "truncated fixed64");
  EXPECT_ERROR_HAS(read_all(Pb().key(2, 3).str()), StatusCode::kParseError, "groups");
  EXPECT_ERROR_HAS(read_all(Pb().key(2, 7).str()), StatusCode::kParseError, "invalid wire type 7");
  EXPECT_ERROR_HAS(read_all(Pb().key(0, 0).put_varint(1).str()), StatusCode::kParseError, "invalid field number 0");

  // Packed payloads: whole elements only.
  const std::string s = Pb().bytes(4, "abcde").str();
  const auto* b = reinterpret_cast<const uint8_t*>(s.data());
  loaders::wire::Reader r(b, b, b + s.size());
  loaders::wire::Field f;
  ASSERT_TRUE(r.next(&f).ok());
  size_t n = 0;
  EXPECT_ERROR_HAS(loaders::wire::count_elements(f, loaders::wire::WireType::kFixed32, &n), StatusCode::kParseError,
                   "not a multiple of 4");
  ASSERT_TRUE(loaders::wire::count_elements(f, loaders::wire::WireType::kVarint, &n).ok());
  EXPECT_EQ(n, 5u);  // "abcde": five one-byte varints
  const std::string cut = Pb().bytes(4, "a\x80").str();
  const auto* c = reinterpret_cast<const uint8_t*>(cut.data());
  loaders::wire::Reader rc(c, c, c + cut.size());
  ASSERT_TRUE(rc.next(&f).ok());
  EXPECT_ERROR_HAS(loaders::wire::count_elements(f, loaders::wire::WireType::kVarint, &n), StatusCode::kParseError,
                   "truncated varint at byte 3");
}

// ---------------------------------------------------------------- tensors

TEST(OnnxTensor, RawDataOfEveryDtype) {
  {
    auto t = tensor_of(raw_tensor("a", testing::kFloat, {2, 2}, le_bytes<float>({1.f, -2.f, 3.5f, 0.25f})));
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(t->dtype(), DType::kF32);
    EXPECT_EQ(t->shape(), (Shape{2, 2}));
    EXPECT_EQ(t->data_as<float>()[2], 3.5f);
    EXPECT_EQ(t->data_as<float>()[3], 0.25f);
  }
  {
    auto t = tensor_of(raw_tensor("h", testing::kFloat16, {3},
                                  le_bytes<uint16_t>({float_to_half(1.0f), float_to_half(-0.5f), 0x7c00})));
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(t->dtype(), DType::kF16);
    EXPECT_EQ(t->value_as_double(1), -0.5);
    EXPECT_TRUE(std::isinf(t->value_as_double(2)));
  }
  {
    auto t = tensor_of(raw_tensor("i8", testing::kInt8, {3}, le_bytes<int8_t>({-128, 0, 127})));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->dtype(), DType::kI8);
    EXPECT_EQ(t->value_as_int64(0), -128);
    EXPECT_EQ(t->value_as_int64(2), 127);
  }
  {
    auto t = tensor_of(raw_tensor("u8", testing::kUint8, {2}, le_bytes<uint8_t>({0, 255})));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->dtype(), DType::kU8);
    EXPECT_EQ(t->value_as_int64(1), 255);
  }
  {
    auto t = tensor_of(raw_tensor("i32", testing::kInt32, {2}, le_bytes<int32_t>({-70000, 1 << 30})));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->dtype(), DType::kI32);
    EXPECT_EQ(t->value_as_int64(0), -70000);
    EXPECT_EQ(t->value_as_int64(1), 1 << 30);
  }
  {
    auto t = tensor_of(raw_tensor("i64", testing::kInt64, {2}, le_bytes<int64_t>({-(int64_t{1} << 40), 7})));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->dtype(), DType::kI64);
    EXPECT_EQ(t->value_as_int64(0), -(int64_t{1} << 40));
  }
  {
    auto t = tensor_of(raw_tensor("b", testing::kBool, {3}, le_bytes<uint8_t>({1, 0, 1})));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->dtype(), DType::kBool);
    EXPECT_EQ(t->value_as_int64(0), 1);
    EXPECT_EQ(t->value_as_int64(1), 0);
  }
  {
    auto t = tensor_of(raw_tensor("d", testing::kDouble, {2}, le_bytes<double>({1e300, -0.125})));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->dtype(), DType::kF64);
    EXPECT_EQ(t->value_as_double(0), 1e300);
    EXPECT_EQ(t->value_as_double(1), -0.125);
  }
}

TEST(OnnxTensor, TypedFieldsPackedAndUnpacked) {
  // float_data: packed, then the same values unpacked.
  for (bool packed : {true, false}) {
    Pb t = tensor_header("f", testing::kFloat, {3});
    if (packed) {
      t.packed_f32(4, {1.f, 2.5f, -3.f});
    } else {
      t.f32(4, 1.f).f32(4, 2.5f).f32(4, -3.f);
    }
    auto r = tensor_of(t);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->dtype(), DType::kF32);
    EXPECT_EQ(r->data_as<float>()[1], 2.5f);
    EXPECT_EQ(r->data_as<float>()[2], -3.f);
  }
  // int64_data, mixed: one packed run and one unpacked element.
  {
    Pb t = tensor_header("i", testing::kInt64, {3});
    t.packed_varints(7, {-1, int64_t{1} << 50});
    t.varint(7, 42);
    auto r = tensor_of(t);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->value_as_int64(0), -1);
    EXPECT_EQ(r->value_as_int64(1), int64_t{1} << 50);
    EXPECT_EQ(r->value_as_int64(2), 42);
  }
  // double_data packed and unpacked.
  for (bool packed : {true, false}) {
    Pb t = tensor_header("d", testing::kDouble, {2});
    if (packed) {
      t.packed_f64(10, {0.1, -7.0});
    } else {
      t.f64(10, 0.1).f64(10, -7.0);
    }
    auto r = tensor_of(t);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->value_as_double(0), 0.1);
    EXPECT_EQ(r->value_as_double(1), -7.0);
  }
  // int32_data carries int32, int8 (negative: sign-extended varints), uint8, bool, int16, fp16 bits.
  struct Case {
    int dtype;
    DType want;
    std::vector<int64_t> values;
  };
  const Case cases[] = {
      {testing::kInt32, DType::kI32, {-5, 2147483647}},
      {testing::kInt8, DType::kI8, {-128, 127}},
      {testing::kUint8, DType::kU8, {0, 255}},
      {testing::kBool, DType::kBool, {1, 0}},
      {testing::kInt16, DType::kI16, {-32768, 300}},
      {testing::kFloat16, DType::kF16, {float_to_half(2.0f), float_to_half(-1.5f)}},
  };
  for (const Case& c : cases) {
    for (bool packed : {true, false}) {
      Pb t = tensor_header("x", c.dtype, {2});
      if (packed) {
        t.packed_varints(5, c.values);
      } else {
        for (int64_t v : c.values) t.varint(5, static_cast<uint64_t>(v));
      }
      auto r = tensor_of(t);
      ASSERT_TRUE(r.ok()) << dtype_name(c.want) << ": " << r.status().to_string();
      EXPECT_EQ(r->dtype(), c.want);
      if (c.want == DType::kF16) {
        EXPECT_EQ(r->value_as_double(0), 2.0);
        EXPECT_EQ(r->value_as_double(1), -1.5);
      } else {
        EXPECT_EQ(r->value_as_int64(0), c.values[0]) << dtype_name(c.want);
        EXPECT_EQ(r->value_as_int64(1), c.values[1]) << dtype_name(c.want);
      }
    }
  }
  // uint64_data carries uint64 and uint32.
  {
    Pb t = tensor_header("u", testing::kUint32, {2});
    t.packed_varints(11, {0, 4294967295});
    auto r = tensor_of(t);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->value_as_int64(1), 4294967295);
  }
  // Unpacked dims and a scalar.
  {
    Pb t;
    t.varint(1, 2).varint(1, 1).varint(2, testing::kInt64).bytes(8, "s").packed_varints(7, {3, 4});
    auto r = tensor_of(t);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->shape(), (Shape{2, 1}));
    auto scalar = tensor_of(tensor_header("s", testing::kInt64, {}).varint(7, 9));
    ASSERT_TRUE(scalar.ok());
    EXPECT_TRUE(scalar->shape().empty());
    EXPECT_EQ(scalar->value_as_int64(0), 9);
  }
  // An empty tensor holds no data and needs none.
  {
    auto r = tensor_of(tensor_header("e", testing::kFloat, {0, 3}));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->numel(), 0);
  }
}

TEST(OnnxTensor, MalformedTensorsAreNamedErrors) {
  // Too few / too many elements for the dims.
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kFloat, {4}).packed_f32(4, {1, 2, 3})).status(),
                   StatusCode::kParseError, "float_data holds 3 elements; dims [4] declare 4");
  EXPECT_ERROR_HAS(tensor_of(raw_tensor("w", testing::kFloat, {4}, std::string(15, '\0'))).status(),
                   StatusCode::kParseError, "raw_data holds 15 bytes");
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kFloat, {4})).status(), StatusCode::kParseError,
                   "holds no data");
  // The wrong typed field for the dtype; two data fields; out-of-range values.
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kFloat, {1}).varint(7, 1)).status(), StatusCode::kParseError,
                   "float32 tensor stored in int64_data");
  EXPECT_ERROR_HAS(tensor_of(raw_tensor("w", testing::kFloat, {1}, le_bytes<float>({1})).f32(4, 1)).status(),
                   StatusCode::kParseError, "both raw_data and float_data");
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kFloat, {2}).f32(4, 1).varint(7, 1)).status(),
                   StatusCode::kParseError, "both float_data and int64_data");
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kInt8, {1}).varint(5, 200)).status(),
                   StatusCode::kOutOfRange, "int32_data[0] = 200 does not fit int8");
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kBool, {1}).varint(5, 2)).status(), StatusCode::kOutOfRange,
                   "does not fit bool");
  EXPECT_ERROR_HAS(tensor_of(raw_tensor("w", testing::kBool, {2}, le_bytes<uint8_t>({1, 7}))).status(),
                   StatusCode::kOutOfRange, "bool element 1 holds byte 7");
  // Dims: negative, overflowing.
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kFloat, {2, -3})).status(), StatusCode::kParseError,
                   "dims[1] is negative");
  EXPECT_ERROR_HAS(
      tensor_of(tensor_header("w", testing::kFloat, {int64_t{1} << 40, int64_t{1} << 40})).status(),
      StatusCode::kOutOfRange, "overflows");
  // Types quench cannot hold, named.
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kFloat8E4M3, {1}).bytes(9, "a")).status(),
                   StatusCode::kUnsupported, "17 (FLOAT8E4M3FN)");
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kString, {1}).bytes(6, "abc")).status(),
                   StatusCode::kUnsupported, "(STRING)");
  EXPECT_ERROR_HAS(tensor_of(Pb().packed_varints(1, {1}).bytes(8, "w")).status(), StatusCode::kParseError,
                   "no data type");
  // The error names the tensor.
  EXPECT_ERROR_HAS(tensor_of(raw_tensor("weights_7", testing::kFloat, {4}, "x")).status(), StatusCode::kParseError,
                   "t.pb: tensor ('weights_7'): raw_data holds 1 bytes; [4] of float32 needs 16");
}

TEST(OnnxTensor, SizeLimitIsEnforced) {
  GraphParts p;
  p.nodes.push_back(testing::node("Relu", {"x"}, {"y"}));
  p.initializers.push_back(raw_tensor("big", testing::kFloat, {300}, std::string(1200, '\0')));
  p.inputs.push_back(value_info("x", testing::kFloat, {{3, ""}}));
  p.outputs.push_back(value_info("y", testing::kFloat, {{3, ""}}));
  const std::string bytes = testing::model(testing::graph(p)).str();
  OnnxReadOptions opt;
  opt.max_tensor_bytes = 1000;
  EXPECT_ERROR_HAS(load(bytes, "t.onnx", opt).status(), StatusCode::kOutOfRange, "exceeds the limit of 1000 bytes");
  opt.max_tensor_bytes = 1200;
  EXPECT_TRUE(load(bytes, "t.onnx", opt).ok());
}

// ---------------------------------------------------------------- models

TEST(OnnxModel, ReadsModelGraphValuesAndOpsets) {
  auto m = load(testing::model(relu_graph(), 13).str());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->ir_version, 8);
  EXPECT_EQ(m->producer_name, "quench-test");
  EXPECT_EQ(m->producer_version, "1.0");
  EXPECT_EQ(m->source, "t.onnx");
  EXPECT_FALSE(m->keep_alive.empty());
  const ir::Graph& g = m->graph;
  EXPECT_EQ(g.name, "g");
  EXPECT_EQ(ir::opset_for(g, ""), 13);
  // "w" is an initializer, so not a runtime input.
  EXPECT_EQ(g.inputs, (std::vector<std::string>{"x"}));
  EXPECT_EQ(g.outputs, (std::vector<std::string>{"y"}));
  const ir::Value* x = g.find("x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->dtype, DType::kF32);
  EXPECT_TRUE(x->has_shape);
  EXPECT_EQ(x->shape, (Shape{-1, 3}));
  ASSERT_EQ(x->dim_params.size(), 2u);
  EXPECT_EQ(x->dim_params[0], "N");
  EXPECT_EQ(x->dim_params[1], "");
  const ir::Value* w = g.find("w");
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->is_constant());
  EXPECT_EQ(w->shape, (Shape{2}));
  EXPECT_EQ(w->constant.value_as_double(1), -2.0);
  const ir::Value* annot = g.find("unused_annot");
  ASSERT_NE(annot, nullptr);
  EXPECT_EQ(annot->dtype, DType::kI64);
  EXPECT_EQ(annot->shape, (Shape{4}));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].name, "Relu_0");  // unnamed: <OpType>_<index>
  EXPECT_EQ(g.nodes[0].op_type, "Relu");
  EXPECT_EQ(g.nodes[0].opset, 13);
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<std::string>{"x"}));
  EXPECT_EQ(g.nodes[0].outputs, (std::vector<std::string>{"y"}));
  ir::Graph copy = g;
  EXPECT_TRUE(ir::validate(copy).ok());
  EXPECT_TRUE(ir::bind_schemas(copy).ok());
}

TEST(OnnxModel, UnnamedNodesGetUniqueNames) {
  GraphParts p;
  p.nodes.push_back(testing::node("Relu", {"x"}, {"a"}));               // Relu_0
  p.nodes.push_back(testing::node("Relu", {"a"}, {"b"}, "Relu_2"));     // named like node 2's default
  p.nodes.push_back(testing::node("Relu", {"b"}, {"y"}));               // must not clash: Relu_2_1
  p.inputs.push_back(value_info("x", testing::kFloat, {{3, ""}}));
  p.outputs.push_back(value_info("y", testing::kFloat, {{3, ""}}));
  auto m = load(testing::model(testing::graph(p)).str());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->graph.nodes[0].name, "Relu_0");
  EXPECT_EQ(m->graph.nodes[1].name, "Relu_2");
  EXPECT_EQ(m->graph.nodes[2].name, "Relu_2_1");
  EXPECT_TRUE(ir::validate(m->graph).ok());
}

TEST(OnnxModel, StructuralErrorsNameWhatAndWhere) {
  // No graph at all.
  EXPECT_ERROR_HAS(load(Pb().varint(1, 8).str()).status(), StatusCode::kParseError, "t.onnx: model has no graph");
  // A type-confused top-level field.
  EXPECT_ERROR_HAS(load(Pb().bytes(1, "8").str()).status(), StatusCode::kParseError,
                   "field 'ir_version' (1) has wire type LEN at byte 0, expected VARINT");
  // Wrong wire type deep inside: a node's op_type as a varint.
  {
    GraphParts p;
    p.nodes.push_back(testing::node("Relu", {"x"}, {"y"}, "r"));
    p.nodes.push_back(Pb().bytes(3, "bad").varint(4, 1));
    EXPECT_ERROR_HAS(load(testing::model(testing::graph(p)).str()).status(), StatusCode::kParseError,
                     "graph.node[1] ('bad'): field 'op_type' (4) has wire type VARINT");
  }
  // Truncated attribute payload: the message names file, node and attribute.
  {
    Pb bad_attr = Pb().bytes(1, "pads").varint(20, 7).key(8, 2).put_varint(3).raw(std::string("\x01\x02\x80", 3));
    GraphParts q;
    for (int i = 0; i < 3; ++i) q.nodes.push_back(testing::node("Relu", {"x"}, {"r" + std::to_string(i)}));
    q.nodes.push_back(testing::node("Conv", {"x", "w"}, {"y"}, "", {bad_attr}));
    const Status s = load(testing::model(testing::graph(q)).str(), "model.onnx").status();
    EXPECT_ERROR_HAS(s, StatusCode::kParseError, "model.onnx: graph.node[3] ('Conv_3').attribute 'pads': ");
    EXPECT_ERROR_HAS(s, StatusCode::kParseError, "truncated varint at byte ");
  }
  // An initializer's dtype contradicting its input declaration.
  {
    GraphParts p;
    p.initializers.push_back(raw_tensor("w", testing::kFloat, {1}, le_bytes<float>({1})));
    p.inputs.push_back(value_info("w", testing::kInt64, {{1, ""}}));
    p.outputs.push_back(value_info("w", testing::kFloat, {{1, ""}}));
    EXPECT_ERROR_HAS(load(testing::model(testing::graph(p)).str()).status(), StatusCode::kParseError,
                     "graph.input[0] ('w'): declared int64 but its initializer is float32");
  }
  // Non-tensor graph inputs are refused by name.
  {
    Pb seq_type;
    seq_type.msg(4, Pb().msg(1, Pb().msg(1, Pb().varint(1, 1))));
    GraphParts p;
    p.inputs.push_back(Pb().bytes(1, "s").msg(2, seq_type));
    EXPECT_ERROR_HAS(load(testing::model(testing::graph(p)).str()).status(), StatusCode::kUnsupported,
                     "graph.input[0] ('s'): graph input of sequence type");
  }
  // A second initializer with the same name; a dim_value below zero.
  {
    GraphParts p;
    p.initializers.push_back(raw_tensor("w", testing::kFloat, {1}, le_bytes<float>({1})));
    p.initializers.push_back(raw_tensor("w", testing::kFloat, {1}, le_bytes<float>({2})));
    EXPECT_ERROR_HAS(load(testing::model(testing::graph(p)).str()).status(), StatusCode::kParseError,
                     "second initializer");
    // dim_value = -2 (a ten-byte varint); -1 is read as an unknown dim, as exporters mean it.
    Pb dim = Pb().varint(1, ~uint64_t{1});
    Pb shape = Pb().msg(1, dim);
    Pb vi = Pb().bytes(1, "x").msg(2, Pb().msg(1, Pb().varint(1, 1).msg(2, shape)));
    GraphParts r;
    r.inputs.push_back(vi);
    EXPECT_ERROR_HAS(load(testing::model(testing::graph(r)).str()).status(), StatusCode::kParseError,
                     "dim_value is negative");
  }
}

// ---------------------------------------------------------------- attributes

TEST(OnnxAttribute, EveryKindIsRead) {
  Pb sub_graph = testing::graph([] {
    GraphParts p;
    p.name = "body";
    p.nodes.push_back(testing::node("Relu", {"a"}, {"b"}));
    p.inputs.push_back(value_info("a", testing::kFloat, {{2, ""}}));
    p.outputs.push_back(value_info("b", testing::kFloat, {{2, ""}}));
    return p;
  }());
  const Pb t1 = raw_tensor("t1", testing::kFloat, {2}, le_bytes<float>({4.f, 5.f}));
  const Pb t2 = tensor_header("t2", testing::kInt64, {1}).varint(7, 11);
  std::vector<Pb> attrs = {
      attr_float("f", 0.5f),
      attr_int("i", -3),
      attr("s", 3).bytes(4, "hello"),
      attr("t", 4).msg(5, t1),
      attr("g", 5).msg(6, sub_graph),
      attr("floats", 6).packed_f32(7, {1.f, 2.f}),
      attr("floats_unpacked", 6).f32(7, 3.f).f32(7, 4.f),
      attr_ints("ints", {1, -2, int64_t{1} << 40}),
      attr("ints_unpacked", 7).varint(8, 5).varint(8, static_cast<uint64_t>(-6)),
      attr("strings", 8).bytes(9, "a").bytes(9, "bc"),
      attr("tensors", 9).msg(10, t1).msg(10, t2),
      attr("graphs", 10).msg(11, sub_graph).msg(11, sub_graph),
      attr("empty_ints", 7),
      // Without the type field: the kind comes from the one value present.
      attr("untyped_int", 0).varint(3, 9),
      attr("untyped_floats", 0).packed_f32(7, {7.f}),
  };
  GraphParts p;
  p.nodes.push_back(testing::node("Custom", {"x"}, {"y"}, "c", attrs));
  auto m = load(testing::model(testing::graph(p)).str());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const ops::Attributes& a = m->graph.nodes.at(0).attrs;
  EXPECT_EQ(a.size(), attrs.size());
  EXPECT_EQ(a.find("f")->kind, Kind::kFloat);
  EXPECT_EQ(a.find("f")->f, 0.5f);
  EXPECT_EQ(a.find("i")->kind, Kind::kInt);
  EXPECT_EQ(a.find("i")->i, -3);
  EXPECT_EQ(a.find("s")->kind, Kind::kString);
  EXPECT_EQ(a.find("s")->s, "hello");
  ASSERT_EQ(a.find("t")->kind, Kind::kTensor);
  EXPECT_EQ(a.find("t")->t.shape(), (Shape{2}));
  EXPECT_EQ(a.find("t")->t.value_as_double(1), 5.0);
  ASSERT_EQ(a.find("g")->kind, Kind::kGraph);
  ASSERT_NE(a.find("g")->g, nullptr);
  EXPECT_EQ(a.find("g")->g->name, "body");
  ASSERT_EQ(a.find("g")->g->nodes.size(), 1u);
  EXPECT_EQ(a.find("g")->g->nodes[0].name, "Relu_0");
  EXPECT_EQ(a.find("g")->g->inputs, (std::vector<std::string>{"a"}));
  EXPECT_EQ(a.find("floats")->floats, (std::vector<float>{1.f, 2.f}));
  EXPECT_EQ(a.find("floats_unpacked")->floats, (std::vector<float>{3.f, 4.f}));
  EXPECT_EQ(a.find("ints")->ints, (std::vector<int64_t>{1, -2, int64_t{1} << 40}));
  EXPECT_EQ(a.find("ints_unpacked")->ints, (std::vector<int64_t>{5, -6}));
  EXPECT_EQ(a.find("strings")->strings, (std::vector<std::string>{"a", "bc"}));
  ASSERT_EQ(a.find("tensors")->tensors.size(), 2u);
  EXPECT_EQ(a.find("tensors")->tensors[1].value_as_int64(0), 11);
  EXPECT_EQ(a.find("graphs")->kind, Kind::kGraphs);
  EXPECT_EQ(a.find("graphs")->graphs.size(), 2u);
  EXPECT_EQ(a.find("empty_ints")->kind, Kind::kInts);
  EXPECT_TRUE(a.find("empty_ints")->ints.empty());
  EXPECT_EQ(a.find("untyped_int")->kind, Kind::kInt);
  EXPECT_EQ(a.find("untyped_int")->i, 9);
  EXPECT_EQ(a.find("untyped_floats")->kind, Kind::kFloats);
  // The typed getters ops use see the same values.
  auto pads = a.get_ints("ints", {}, "here");
  ASSERT_TRUE(pads.ok());
  EXPECT_EQ(pads->at(1), -2);
}

TEST(OnnxAttribute, BadAttributesAreRefusedByName) {
  auto load_attr = [](const Pb& a) {
    GraphParts p;
    p.nodes.push_back(testing::node("Conv", {"x"}, {"y"}, "conv1", {a}));
    return load(testing::model(testing::graph(p)).str()).status();
  };
  EXPECT_ERROR_HAS(load_attr(attr("pads", 7).f32(2, 1.f)), StatusCode::kParseError,
                   "graph.node[0] ('conv1').attribute 'pads': declared INTS but holds a FLOAT value");
  EXPECT_ERROR_HAS(load_attr(attr("pads", 0)), StatusCode::kParseError, "neither a type nor a value");
  EXPECT_ERROR_HAS(load_attr(attr("pads", 0).varint(3, 1).f32(2, 1.f)), StatusCode::kParseError, "2 kinds");
  EXPECT_ERROR_HAS(load_attr(attr("pads", 99).varint(3, 1)), StatusCode::kParseError, "unknown attribute type 99");
  EXPECT_ERROR_HAS(load_attr(attr("t", 4)), StatusCode::kParseError, "declared TENSOR but holds none");
  EXPECT_ERROR_HAS(load_attr(attr("sp", 11).bytes(22, "")), StatusCode::kUnsupported,
                   "attribute 'sp': attribute kind SPARSE_TENSOR is not supported");
  EXPECT_ERROR_HAS(load_attr(attr("tp", 13).bytes(14, "")), StatusCode::kUnsupported, "TYPE_PROTO");
  EXPECT_ERROR_HAS(load_attr(attr("alpha", 1).bytes(21, "outer_alpha")), StatusCode::kUnsupported,
                   "refers to function attribute 'outer_alpha'");
  EXPECT_ERROR_HAS(load_attr(Pb().varint(20, 2).varint(3, 1)), StatusCode::kParseError,
                   "attribute[0]: attribute has no name");
  EXPECT_ERROR_HAS(load_attr(attr("i", 2).bytes(3, "x")), StatusCode::kParseError,
                   "attribute 'i': field 'i' (3) has wire type LEN");
  EXPECT_ERROR_HAS(load_attr(attr("f", 1).varint(2, 1)), StatusCode::kParseError, "expected FIXED32");
  {
    GraphParts p;
    p.nodes.push_back(testing::node("Conv", {"x"}, {"y"}, "conv1", {attr_int("group", 1), attr_int("group", 2)}));
    EXPECT_ERROR_HAS(load(testing::model(testing::graph(p)).str()).status(), StatusCode::kParseError,
                     "attribute 'group': attribute appears twice");
  }
}

// ---------------------------------------------------------------- files, zero-copy, external data

class OnnxFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("quench_onnx_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p.string();
  }
  // A model whose one initializer's raw bytes start at a file offset == `mod` (mod 8).
  static std::string model_with_weight_at(int mod, const std::vector<float>& w) {
    for (int pad = 1; pad < 64; ++pad) {
      GraphParts p;
      p.nodes.push_back(testing::node("Relu", {"w"}, {"y"}));
      p.initializers.push_back(raw_tensor("w", testing::kFloat, {static_cast<int64_t>(w.size())}, le_bytes(w)));
      p.outputs.push_back(value_info("y", testing::kFloat, {{static_cast<int64_t>(w.size()), ""}}));
      std::string bytes = testing::model(testing::graph(p), 17, std::string(pad, 'p')).str();
      const size_t at = bytes.find(le_bytes(w));
      if (at != std::string::npos && static_cast<int>(at % 8) == mod) return bytes;
    }
    return {};
  }
  fs::path dir_;
};

TEST_F(OnnxFiles, AlignedRawDataIsViewedInTheMappingWithoutACopy) {
  const std::vector<float> w = {1.f, 2.f, 3.f, 4.f};
  const std::string bytes = model_with_weight_at(0, w);
  ASSERT_FALSE(bytes.empty());
  const std::string path = write("model.onnx", bytes);
  auto m = read_onnx_file(path);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->source, path);
  ASSERT_FALSE(m->keep_alive.empty());
  const auto* base = static_cast<const uint8_t*>(m->keep_alive[0].get());  // the mapping's first byte
  const Tensor& t = m->graph.find("w")->constant;
  const auto* p = static_cast<const uint8_t*>(t.data());
  EXPECT_TRUE(t.is_view());
  EXPECT_GE(p, base);
  EXPECT_LE(p + t.bytes(), base + bytes.size());
  EXPECT_EQ(static_cast<size_t>(p - base), bytes.find(le_bytes(w)));
  EXPECT_EQ(t.data_as<float>()[3], 4.f);
  // The view outlives the model: the tensor holds the mapping.
  Tensor kept = t;
  m = Status(StatusCode::kInternal, "dropped");
  EXPECT_EQ(kept.data_as<float>()[2], 3.f);
}

TEST_F(OnnxFiles, BytesWithoutAnOwnerAreCopied) {
  const std::string bytes = model_with_weight_at(0, {1.f, 2.f});
  auto m = read_onnx_bytes(nullptr, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem", "");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const Tensor& t = m->graph.find("w")->constant;
  EXPECT_FALSE(t.is_view());
  EXPECT_EQ(t.data_as<float>()[1], 2.f);
  EXPECT_TRUE(m->keep_alive.empty());
}

TEST_F(OnnxFiles, PublicLoadOnnxReadsTheFile) {
  const std::string path = write("relu.onnx", testing::model(relu_graph()).str());
  auto model = load_onnx(path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ(model->source(), path);
  ASSERT_EQ(model->inputs().size(), 1u);
  EXPECT_EQ(model->inputs()[0].name, "x");
  EXPECT_EQ(model->inputs()[0].shape, (Shape{-1, 3}));
  ASSERT_EQ(model->outputs().size(), 1u);
  EXPECT_EQ(model->outputs()[0].name, "y");
}

TEST_F(OnnxFiles, UnalignedRawDataIsCopiedAligned) {
  const std::vector<float> w = {5.f, 6.f};
  const std::string bytes = model_with_weight_at(1, w);
  ASSERT_FALSE(bytes.empty());
  auto m = read_onnx_file(write("model.onnx", bytes));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const Tensor& t = m->graph.find("w")->constant;
  EXPECT_FALSE(t.is_view());
  EXPECT_TRUE(t.aligned());
  EXPECT_EQ(t.data_as<float>()[1], 6.f);
}

TEST_F(OnnxFiles, MissingAndEmptyFiles) {
  EXPECT_EQ(read_onnx_file((dir_ / "nope.onnx").string()).status().code(), StatusCode::kNotFound);
  EXPECT_ERROR_HAS(read_onnx_file(write("empty.onnx", "")).status(), StatusCode::kParseError, "model has no graph");
  EXPECT_EQ(read_onnx_file(dir_.string()).status().code(), StatusCode::kIoError);  // a directory
}

Pb external_tensor(const std::string& name, const std::vector<int64_t>& dims, const std::string& location,
                   const std::string& offset, const std::string& length) {
  Pb t = tensor_header(name, testing::kFloat, dims);
  t.msg(13, Pb().bytes(1, "location").bytes(2, location));
  if (!offset.empty()) t.msg(13, Pb().bytes(1, "offset").bytes(2, offset));
  if (!length.empty()) t.msg(13, Pb().bytes(1, "length").bytes(2, length));
  t.varint(14, 1);
  return t;
}

std::string model_with_external(const Pb& tensor) {
  GraphParts p;
  p.nodes.push_back(testing::node("Relu", {"w"}, {"y"}));
  p.initializers.push_back(tensor);
  p.outputs.push_back(value_info("y", testing::kFloat, {{3, ""}}));
  return testing::model(testing::graph(p)).str();
}

TEST_F(OnnxFiles, ExternalDataIsReadFromTheSideFile) {
  // Two tensors in one side file: 8 junk bytes, then 3 floats, then 2 floats.
  write("weights.bin", std::string(8, 'j') + le_bytes<float>({1.f, 2.f, 3.f}) + le_bytes<float>({9.f, 8.f}));
  GraphParts p;
  p.nodes.push_back(testing::node("Relu", {"w"}, {"y"}));
  p.initializers.push_back(external_tensor("w", {3}, "weights.bin", "8", "12"));
  p.initializers.push_back(external_tensor("v", {2}, "weights.bin", "20", ""));  // no length: to the end
  p.outputs.push_back(value_info("y", testing::kFloat, {{3, ""}}));
  auto m = read_onnx_file(write("model.onnx", testing::model(testing::graph(p)).str()));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const Tensor& w = m->graph.find("w")->constant;
  EXPECT_EQ(w.shape(), (Shape{3}));
  EXPECT_TRUE(w.is_view());  // offset 8 of a mapping is aligned for float
  EXPECT_EQ(w.data_as<float>()[0], 1.f);
  EXPECT_EQ(w.data_as<float>()[2], 3.f);
  const Tensor& v = m->graph.find("v")->constant;
  EXPECT_EQ(v.data_as<float>()[1], 8.f);
  EXPECT_EQ(m->keep_alive.size(), 2u);  // the model file and the one side file, mapped once
  // Loading again from a sub folder resolves relative to the model, not the working directory.
  fs::create_directories(dir_ / "sub");
  write("sub/weights.bin", le_bytes<float>({7.f, 7.f, 7.f}));
  auto m2 = read_onnx_file(write("sub/model.onnx", model_with_external(external_tensor("w", {3}, "weights.bin", "", "12"))));
  ASSERT_TRUE(m2.ok()) << m2.status().to_string();
  EXPECT_EQ(m2->graph.find("w")->constant.data_as<float>()[0], 7.f);
}

TEST_F(OnnxFiles, ExternalDataErrors) {
  write("weights.bin", le_bytes<float>({1.f, 2.f, 3.f}));
  write("outside.bin", le_bytes<float>({1.f, 2.f, 3.f}));
  fs::create_directories(dir_ / "m");
  auto try_load = [&](const Pb& t) { return read_onnx_file(write("m/model.onnx", model_with_external(t))).status(); };
  EXPECT_ERROR_HAS(try_load(external_tensor("w", {3}, "../outside.bin", "", "")), StatusCode::kInvalidArgument,
                   "leaves the model's folder");
  EXPECT_ERROR_HAS(try_load(external_tensor("w", {3}, "a/../../outside.bin", "", "")), StatusCode::kInvalidArgument,
                   "'..'");
  EXPECT_ERROR_HAS(try_load(external_tensor("w", {3}, (dir_ / "outside.bin").string(), "", "")),
                   StatusCode::kInvalidArgument, "is absolute");
  EXPECT_ERROR_HAS(try_load(external_tensor("w", {3}, "..\\outside.bin", "", "")), StatusCode::kInvalidArgument,
                   "backslash");
  EXPECT_EQ(try_load(external_tensor("w", {3}, "missing.bin", "", "")).code(), StatusCode::kNotFound);
  write("m/weights.bin", le_bytes<float>({1.f, 2.f, 3.f}));
  EXPECT_ERROR_HAS(try_load(external_tensor("w", {3}, "weights.bin", "4", "12")), StatusCode::kOutOfRange,
                   "runs beyond the end of 'weights.bin' (12 bytes)");
  EXPECT_ERROR_HAS(try_load(external_tensor("w", {3}, "weights.bin", "13", "")), StatusCode::kOutOfRange,
                   "offset 13 lies beyond the end");
  EXPECT_ERROR_HAS(try_load(external_tensor("w", {3}, "weights.bin", "99999999999999999999999", "")),
                   StatusCode::kParseError, "is not a number");
  EXPECT_ERROR_HAS(try_load(external_tensor("w", {2}, "weights.bin", "", "")), StatusCode::kParseError,
                   "graph.initializer[0] ('w'): external data holds 12 bytes; [2] of float32 needs 8");
  EXPECT_TRUE(try_load(external_tensor("w", {3}, "weights.bin", "0", "12")).ok());
  // From bytes in memory there is no folder to resolve against.
  EXPECT_ERROR_HAS(load(model_with_external(external_tensor("w", {3}, "weights.bin", "", ""))).status(),
                   StatusCode::kInvalidArgument, "needs a model file");
  EXPECT_TRUE(loaders::check_external_location("a/b.bin").ok());
  EXPECT_FALSE(loaders::check_external_location("").ok());
  EXPECT_FALSE(loaders::check_external_location("..").ok());
}

// ---------------------------------------------------------------- hostile input

// A model exercising most of the reader: attributes of several kinds, typed and raw tensors,
// value info with symbolic dims, and a subgraph.
std::string rich_model() {
  GraphParts body;
  body.nodes.push_back(testing::node("Relu", {"a"}, {"b"}));
  body.inputs.push_back(value_info("a", testing::kFloat, {{2, ""}}));
  body.outputs.push_back(value_info("b", testing::kFloat, {{2, ""}}));
  GraphParts p;
  p.nodes.push_back(testing::node("Conv", {"x", "w"}, {"c"}, "conv",
                                  {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {1, 1}), attr_int("group", 1),
                                   attr_float("alpha", 0.25f), attr("auto_pad", 3).bytes(4, "NOTSET")}));
  p.nodes.push_back(testing::node("Relu", {"c"}, {"y"}));
  p.nodes.push_back(testing::node("If", {"cond"}, {"z"}, "if", {attr("then_branch", 5).msg(6, testing::graph(body))}));
  p.initializers.push_back(raw_tensor("w", testing::kFloat, {1, 1, 3, 3}, le_bytes<float>(std::vector<float>(9, 1.f))));
  p.initializers.push_back(tensor_header("k", testing::kInt64, {2}).packed_varints(7, {3, -4}));
  p.initializers.push_back(tensor_header("h", testing::kFloat16, {1}).varint(5, 0x3c00));
  p.inputs.push_back(value_info("x", testing::kFloat, {{-1, "batch"}, {1, ""}, {5, ""}, {5, ""}}));
  p.inputs.push_back(value_info("cond", testing::kBool, {}));
  p.outputs.push_back(value_info("y", testing::kFloat, {{-1, "batch"}, {1, ""}, {5, ""}, {5, ""}}));
  p.value_info.push_back(value_info("c", testing::kFloat, {{-1, "batch"}, {1, ""}, {5, ""}, {5, ""}}));
  return testing::model(testing::graph(p)).str();
}

TEST(OnnxHostile, RichModelLoads) {
  auto m = load(rich_model());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->graph.nodes.size(), 3u);
  EXPECT_EQ(m->graph.nodes[1].name, "Relu_1");
  EXPECT_EQ(m->graph.find("k")->constant.value_as_int64(1), -4);
  EXPECT_EQ(m->graph.find("h")->constant.value_as_double(0), 1.0);
}

TEST(OnnxHostile, EveryTruncationIsAnError) {
  const std::string full = rich_model();
  ASSERT_TRUE(load(full).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    auto m = load(full.substr(0, n), "cut.onnx");
    EXPECT_FALSE(m.ok()) << "cut at " << n << " of " << full.size() << " loaded";
    if (!m.ok()) {
      EXPECT_EQ(m.status().message().rfind("cut.onnx: ", 0), 0u) << m.status().message();
    }
  }
}

TEST(OnnxHostile, BitFlipsGiveErrorsOrModelsNeverCrashes) {
  const std::string full = rich_model();
  std::mt19937 rng(12345);
  int failed = 0, loaded = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) s[rng() % s.size()] ^= static_cast<char>(1u << (rng() % 8));
    auto m = load(s, "flip.onnx");
    if (!m.ok()) {
      ++failed;
      EXPECT_EQ(m.status().message().rfind("flip.onnx: ", 0), 0u) << m.status().message();
      EXPECT_NE(m.status().code(), StatusCode::kInternal) << m.status().message();
      continue;
    }
    ++loaded;
    // Whatever loads must survive the next stages too (errors allowed, crashes not).
    ir::Graph g = m->graph;
    if (ir::validate(g).ok()) (void)ir::bind_schemas(g);
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(loaded, 0);  // many flips land in names and values
}

TEST(OnnxHostile, OversizedLengthsAndCounts) {
  // A graph field claiming 2^40 bytes.
  Pb m;
  m.varint(1, 8).key(7, 2).put_varint(uint64_t{1} << 40).raw("xyz");
  EXPECT_ERROR_HAS(load(m.str()).status(), StatusCode::kParseError, "runs past the end of its message");
  // A node inside the graph claiming more than the graph holds.
  Pb g;
  g.key(1, 2).put_varint(1000).raw("abc");
  EXPECT_ERROR_HAS(load(testing::model(g).str()).status(), StatusCode::kParseError, "graph: field 1: length 1000");
  // A tensor declaring 2^31 floats but holding one: refused before any allocation.
  EXPECT_ERROR_HAS(tensor_of(tensor_header("w", testing::kFloat, {int64_t{1} << 31}).f32(4, 1.f)).status(),
                   StatusCode::kParseError, "float_data holds 1 elements");
}

Pb nested_graph(int depth) {
  GraphParts p;
  p.name = "level" + std::to_string(depth);
  if (depth > 0) p.nodes.push_back(testing::node("If", {"c"}, {"o"}, "", {attr("then_branch", 5).msg(6, nested_graph(depth - 1))}));
  return testing::graph(p);
}

TEST(OnnxHostile, NestingIsBounded) {
  // Each level is a graph, a node and an attribute: three messages.
  auto shallow = load(testing::model(nested_graph(10)).str());
  ASSERT_TRUE(shallow.ok()) << shallow.status().to_string();
  const ir::Graph* g = &shallow->graph;
  for (int i = 0; i < 10; ++i) g = g->nodes.at(0).attrs.find("then_branch")->g.get();
  EXPECT_EQ(g->name, "level0");
  EXPECT_ERROR_HAS(load(testing::model(nested_graph(40)).str()).status(), StatusCode::kParseError,
                   "nested deeper than 64 levels");
}

// ---------------------------------------------------------------- Debian's ONNX test data

const char* kTestData = "/usr/share/libonnx-testdata/data";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

TEST(OnnxTestData, ConvWithStridesPadding) {
  const fs::path dir = fs::path(kTestData) / "node/test_conv_with_strides_padding";
  if (!fs::exists(dir / "model.onnx")) GTEST_SKIP() << dir << " not installed (apt-get install libonnx-testdata)";
  auto m = read_onnx_file((dir / "model.onnx").string());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const ir::Graph& g = m->graph;
  ASSERT_EQ(g.nodes.size(), 1u);
  const ir::Node& n = g.nodes[0];
  EXPECT_EQ(n.op_type, "Conv");
  EXPECT_EQ(n.inputs, (std::vector<std::string>{"x", "W"}));
  EXPECT_EQ(n.attrs.find("kernel_shape")->ints, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(n.attrs.find("pads")->ints, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(n.attrs.find("strides")->ints, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(g.inputs, (std::vector<std::string>{"x", "W"}));
  EXPECT_EQ(g.find("x")->shape, (Shape{1, 1, 7, 5}));
  EXPECT_EQ(g.find("W")->shape, (Shape{1, 1, 3, 3}));
  EXPECT_EQ(g.find("y")->shape, (Shape{1, 1, 4, 3}));
  EXPECT_EQ(g.find("x")->dtype, DType::kF32);
  EXPECT_GT(ir::opset_for(g, ""), 0);
  ir::Graph copy = g;
  EXPECT_TRUE(ir::validate(copy).ok());
  EXPECT_TRUE(ir::bind_schemas(copy).ok());

  const std::string in0 = slurp(dir / "test_data_set_0/input_0.pb");
  auto x = read_tensor_proto(reinterpret_cast<const uint8_t*>(in0.data()), in0.size(), "input_0.pb");
  ASSERT_TRUE(x.ok()) << x.status().to_string();
  EXPECT_EQ(x->shape(), (Shape{1, 1, 7, 5}));
  for (int i = 0; i < 35; ++i) EXPECT_EQ(x->value_as_double(i), i);  // np.arange(35)
  const std::string out0 = slurp(dir / "test_data_set_0/output_0.pb");
  auto y = read_tensor_proto(reinterpret_cast<const uint8_t*>(out0.data()), out0.size(), "output_0.pb");
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y->shape(), (Shape{1, 1, 4, 3}));
  // Top-left output: the 3x3 all-ones kernel over padding and x[0:2, 0:2] = 0 + 1 + 5 + 6.
  EXPECT_EQ(y->value_as_double(0), 12.0);
}

// Every model in the test data parses, or is refused only as unsupported (string tensors,
// sequences, float8 ...): the reader never calls a valid file corrupt. The input_N.pb /
// output_N.pb of every model that loads (so whose inputs and outputs are tensors) parse too.
TEST(OnnxTestData, EveryFileParsesOrIsUnsupported) {
  if (!fs::exists(kTestData)) GTEST_SKIP() << kTestData << " not installed";
  int models = 0, loaded = 0, tensors = 0;
  for (const auto& e : fs::recursive_directory_iterator(kTestData)) {
    if (!e.is_regular_file() || e.path().extension() != ".onnx") continue;
    ++models;
    auto m = read_onnx_file(e.path().string());
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), StatusCode::kUnsupported) << m.status().to_string();
      continue;
    }
    ++loaded;
    for (const auto& set : fs::directory_iterator(e.path().parent_path())) {
      if (!set.is_directory()) continue;
      for (const auto& pb : fs::directory_iterator(set.path())) {
        if (pb.path().extension() != ".pb") continue;
        const std::string b = slurp(pb.path());
        auto t = read_tensor_proto(reinterpret_cast<const uint8_t*>(b.data()), b.size(), pb.path().string());
        if (!t.ok()) {
          EXPECT_EQ(t.status().code(), StatusCode::kUnsupported) << t.status().to_string();
        }
        ++tensors;
      }
    }
  }
  EXPECT_GT(models, 100);
  EXPECT_GT(loaded, models / 2);
  EXPECT_GT(tensors, 100);
  std::printf("libonnx-testdata: %d models, %d loaded, %d tensor files read\n", models, loaded, tensors);
}

}  // namespace
}  // namespace quench
