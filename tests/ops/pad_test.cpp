#include <gtest/gtest.h>

#include <limits>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

bool has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

Result<Tensor> pad1d(std::vector<float> x, int64_t begin, int64_t end, const std::string& mode) {
  OpRun r = make_run("Pad", {{f32({static_cast<int64_t>(x.size())}, x)}, constant(i64({2}, {begin, end}))}, 19);
  r.attrs.set("mode", attr_string(mode));
  QUENCH_ASSIGN(auto out, run_op(r));
  return out[0];
}

TEST(Pad, ConstantWithValueInput) {
  OpRun r = make_run("Pad", {{f32({2, 2}, {1, 2, 3, 4})}, constant(i64({4}, {1, 0, 0, 1})), {f32({}, {9})}});
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{9, 9, 9, 1, 2, 9, 3, 4, 9}));

  auto zero = run_op(make_run("Pad", {{f32({1, 1}, {5})}, constant(i64({4}, {0, 1, 0, 1}))}));
  ASSERT_TRUE(zero.ok()) << zero.status().to_string();
  EXPECT_EQ(values_f32((*zero)[0]), (std::vector<float>{0, 5, 0}));
}

TEST(Pad, ReflectEdgeWrap) {
  // Hand-computed (and what numpy.pad gives for these modes).
  auto r = pad1d({1, 2, 3}, 2, 2, "reflect");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(values_f32(*r), (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
  auto e = pad1d({1, 2, 3}, 2, 2, "edge");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(values_f32(*e), (std::vector<float>{1, 1, 1, 2, 3, 3, 3}));
  auto w = pad1d({1, 2, 3}, 2, 2, "wrap");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(values_f32(*w), (std::vector<float>{2, 3, 1, 2, 3, 1, 2}));
  // Pads wider than the input keep reflecting.
  auto big = pad1d({1, 2, 3}, 5, 4, "reflect");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(values_f32(*big), (std::vector<float>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3}));
}

TEST(Pad, ReflectIn2D) {
  OpRun r = make_run("Pad", {{f32({2, 3}, {1, 2, 3, 4, 5, 6})}, constant(i64({4}, {1, 1, 0, 0}))});
  r.attrs.set("mode", attr_string("reflect"));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 4}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{5, 4, 5, 6, 2, 1, 2, 3, 5, 4, 5, 6}));
}

TEST(Pad, NegativePadsCrop) {
  auto c = pad1d({1, 2, 3, 4}, -1, 1, "constant");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(values_f32(*c), (std::vector<float>{2, 3, 4, 0}));
  // The crop applies first; edge then repeats what is left.
  auto e = pad1d({1, 2, 3, 4}, 2, -2, "edge");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(values_f32(*e), (std::vector<float>{1, 1, 1, 2}));
  auto all = pad1d({1, 2}, -1, -1, "constant");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->shape(), (Shape{0}));
}

TEST(Pad, AttributesBeforeOpset11) {
  OpRun r = make_run("Pad", {{f32({2}, {1, 2})}}, 2);
  r.attrs.set("pads", attr_ints({1, 2}));
  r.attrs.set("value", attr_float(-1.5f));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{-1.5f, 1, 2, -1.5f, -1.5f}));

  OpRun p1 = make_run("Pad", {{f32({2}, {1, 2})}}, 1);  // opset 1 called them paddings
  p1.attrs.set("paddings", attr_ints({0, 1}));
  p1.attrs.set("mode", attr_string("edge"));
  auto out1 = run_op(p1);
  ASSERT_TRUE(out1.ok()) << out1.status().to_string();
  EXPECT_EQ(values_f32((*out1)[0]), (std::vector<float>{1, 2, 2}));
}

TEST(Pad, AxesInputAndIntegerValue) {
  // Opset 18: pads for axis -1 only; the fill value keeps the input's dtype.
  OpRun r = make_run("Pad", {{i64({2, 2}, {1, 2, 3, 4})}, constant(i64({2}, {0, 2})), {i64({}, {-7})},
                             constant(i64({1}, {-1}))}, 18);
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(values_i64((*out)[0]), (std::vector<int64_t>{1, 2, -7, -7, 3, 4, -7, -7}));

  OpRun b = make_run("Pad", {{boolean({2}, {1, 1})}, constant(i64({2}, {1, 0}))});
  auto outb = run_op(b);
  ASSERT_TRUE(outb.ok()) << outb.status().to_string();
  EXPECT_EQ(values_i64((*outb)[0]), (std::vector<int64_t>{0, 1, 1}));
}

TEST(Pad, Errors) {
  auto a = pad1d({1, 2}, -2, -1, "constant");
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(has(a.status(), "Pad node 'node0': pads -2 and -1 crop axis 0 (size 2) below zero"))
      << a.status().message();
  EXPECT_FALSE(pad1d({1, 2}, -2, 1, "reflect").ok());  // nothing left to reflect
  EXPECT_FALSE(pad1d({1, 2}, 1, 1, "mirror").ok());
  EXPECT_FALSE(run_op(make_run("Pad", {{f32({2}, {1, 2})}, constant(i64({3}, {1, 1, 1}))})).ok());
  // constant_value of another dtype.
  EXPECT_FALSE(run_op(make_run("Pad", {{f32({2}, {1, 2})}, constant(i64({2}, {1, 1})), {i64({}, {1})}})).ok());
  // pads must be known at build time.
  EXPECT_FALSE(run_op(make_run("Pad", {{f32({2}, {1, 2})}, {i64({2}, {1, 1})}})).ok());
}

}  // namespace
}  // namespace quench::testing

namespace quench::testing {
namespace {

TEST(Pad, HostilePadsAreErrors) {
  EXPECT_FALSE(pad1d({1, 2}, std::numeric_limits<int64_t>::min(), 0, "constant").ok());
  EXPECT_FALSE(pad1d({1, 2}, std::numeric_limits<int64_t>::max(), 1, "constant").ok());
}

}  // namespace
}  // namespace quench::testing
