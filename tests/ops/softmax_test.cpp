#include <gtest/gtest.h>

#include <cmath>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

void expect_near(const std::vector<float>& got, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// softmax of (0, 1, 2): e^k / (1 + e + e^2)
const double kE1 = std::exp(1.0), kE2 = std::exp(2.0), kZ = 1 + kE1 + kE2;

TEST(Softmax, DefaultAxisIsLastFromOpset13) {
  auto y = ok_run(make_run("Softmax", {{f32({2, 3}, {0, 1, 2, 10, 11, 12})}}, 13));
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  // Shift invariance: the second row equals the first.
  expect_near(values_f32(y[0]), {1 / kZ, kE1 / kZ, kE2 / kZ, 1 / kZ, kE1 / kZ, kE2 / kZ});
}

TEST(Softmax, ExplicitAndNegativeAxis) {
  OpRun r = make_run("Softmax", {{f32({2, 3}, {0, 1, 2, 1, 1, 4})}}, 13);
  r.attrs.set("axis", attr_int(0));
  // Over columns: (0,1) (1,1) (2,4).
  const double a = 1 / (1 + std::exp(1.0)), b = 1 / (1 + std::exp(2.0));
  expect_near(values_f32(ok_run(r)[0]), {a, 0.5, b, 1 - a, 0.5, 1 - b});
  r.attrs.set("axis", attr_int(-2));
  expect_near(values_f32(ok_run(r)[0]), {a, 0.5, b, 1 - a, 0.5, 1 - b});
}

TEST(Softmax, BeforeOpset13TheInputIsCoercedTo2D) {
  // [1,2,2] with axis 1: opset 11 normalises over all 4 elements, opset 13 over dim 1 only.
  std::vector<float> x = {0, 1, 2, 3};
  OpRun old = make_run("Softmax", {{f32({1, 2, 2}, x)}}, 11);
  old.attrs.set("axis", attr_int(1));
  const double z = 1 + kE1 + kE2 + std::exp(3.0);
  expect_near(values_f32(ok_run(old)[0]), {1 / z, kE1 / z, kE2 / z, std::exp(3.0) / z});
  // Opset 11's default axis is 1 as well.
  expect_near(values_f32(ok_run(make_run("Softmax", {{f32({1, 2, 2}, x)}}, 11))[0]),
              {1 / z, kE1 / z, kE2 / z, std::exp(3.0) / z});
  OpRun now = old;
  now.opset = 13;
  const double p = 1 / (1 + kE2);  // pairs (0,2) and (1,3)
  expect_near(values_f32(ok_run(now)[0]), {p, p, 1 - p, 1 - p});
}

TEST(Softmax, LogSoftmaxValues) {
  auto y = ok_run(make_run("LogSoftmax", {{f32({3}, {0, 1, 2})}}, 13));
  const double lz = std::log(kZ);
  expect_near(values_f32(y[0]), {-lz, 1 - lz, 2 - lz});
}

TEST(Softmax, LargeInputsStayFinite) {
  auto s = ok_run(make_run("Softmax", {{f32({3}, {1000, 1001, 1002})}}, 13));
  expect_near(values_f32(s[0]), {1 / kZ, kE1 / kZ, kE2 / kZ});
  auto l = ok_run(make_run("LogSoftmax", {{f32({3}, {-1000, 0, 1000})}}, 13));
  expect_near(values_f32(l[0]), {-2000, -1000, 0}, 1e-3);
}

TEST(Softmax, Float64AndFloat16) {
  auto d = ok_run(make_run("Softmax", {{f64({2}, {0, std::log(3.0)})}}, 13));
  EXPECT_EQ(d[0].dtype(), DType::kF64);
  EXPECT_NEAR(values_f64(d[0])[0], 0.25, 1e-15);
  auto h = ok_run(make_run("Softmax", {{typed(DType::kF16, {2}, {0, 0})}}, 13));
  EXPECT_EQ(h[0].dtype(), DType::kF16);
  EXPECT_EQ(values_bits16(h[0]), (std::vector<uint16_t>{0x3800, 0x3800}));  // 0.5
}

TEST(Softmax, ErrorsNameTheNode) {
  OpRun r = make_run("Softmax", {{f32({2, 3}, {})}}, 13);
  r.attrs.set("axis", attr_int(2));
  auto out = run_op(r);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("Softmax node 'node0'"), std::string::npos) << out.status().message();
  auto ints = run_op(make_run("LogSoftmax", {{i64({2}, {1, 2})}}, 13));
  ASSERT_FALSE(ints.ok());
  EXPECT_EQ(ints.status().code(), StatusCode::kUnsupported);
}

TEST(Softmax, EmptyInputIsFine) {
  auto y = ok_run(make_run("Softmax", {{f32({0, 4}, {})}}, 13));
  EXPECT_EQ(y[0].shape(), (Shape{0, 4}));
}

}  // namespace
}  // namespace quench::testing
