#include <gtest/gtest.h>

#include <numeric>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

bool has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

std::vector<float> iota_f(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(Transpose, DefaultReversesDims) {
  auto a = run_op(make_run("Transpose", {{f32({2, 3}, {1, 2, 3, 4, 5, 6})}}));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values_f32((*a)[0]), (std::vector<float>{1, 4, 2, 5, 3, 6}));

  auto s = run_op(make_run("Transpose", {{f32({}, {5})}}));  // a scalar stays itself
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(values_f32((*s)[0]), (std::vector<float>{5}));
}

TEST(Transpose, EveryPermutationOfRank3) {
  // x[i][j][k] = 100i + 10j + k over [2,3,4]; check y[a][b][c] == x at the permuted index.
  std::vector<float> x;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) x.push_back(static_cast<float>(100 * i + 10 * j + k));
  std::vector<int64_t> perm = {0, 1, 2};
  const int64_t dims[3] = {2, 3, 4};
  do {
    OpRun r = make_run("Transpose", {{f32({2, 3, 4}, x)}});
    r.attrs.set("perm", attr_ints(perm));
    auto out = run_op(r);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const Shape want_shape = {dims[perm[0]], dims[perm[1]], dims[perm[2]]};
    ASSERT_EQ((*out)[0].shape(), want_shape);
    const std::vector<float> y = values_f32((*out)[0]);
    size_t pos = 0;
    for (int64_t a = 0; a < want_shape[0]; ++a)
      for (int64_t b = 0; b < want_shape[1]; ++b)
        for (int64_t c = 0; c < want_shape[2]; ++c) {
          int64_t idx[3];
          idx[perm[0]] = a;
          idx[perm[1]] = b;
          idx[perm[2]] = c;
          EXPECT_EQ(y[pos++], static_cast<float>(100 * idx[0] + 10 * idx[1] + idx[2]))
              << "perm " << perm[0] << perm[1] << perm[2];
        }
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(Transpose, NchwToNhwcOfInt8AndInt64) {
  std::vector<int64_t> v(24);
  std::iota(v.begin(), v.end(), 0);
  OpRun r = make_run("Transpose", {{i64({1, 2, 3, 4}, v)}});
  r.attrs.set("perm", attr_ints({0, 2, 3, 1}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 3, 4, 2}));
  const auto y = values_i64((*out)[0]);
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[1], 12);  // channel 1 of pixel (0,0)
  EXPECT_EQ(y[2], 1);
  EXPECT_EQ(y[23], 23);

  OpRun b = make_run("Transpose", {{Tensor::from_values(DType::kI8, {2, 2}, std::vector<int8_t>{-1, 2, -3, 4})}});
  auto outb = run_op(b);
  ASSERT_TRUE(outb.ok()) << outb.status().to_string();
  EXPECT_EQ(values_i64((*outb)[0]), (std::vector<int64_t>{-1, -3, 2, 4}));
}

TEST(Transpose, BadPermIsAnError) {
  for (std::vector<int64_t> perm : {std::vector<int64_t>{0, 0}, {0}, {0, 2}, {-1, 0}, {1, 0, 2}}) {
    OpRun r = make_run("Transpose", {{f32({2, 3}, iota_f(6))}});
    r.attrs.set("perm", attr_ints(perm));
    auto out = run_op(r);
    ASSERT_FALSE(out.ok());
    EXPECT_TRUE(has(out.status(), "Transpose node 'node0': perm")) << out.status().message();
  }
}

}  // namespace
}  // namespace quench::testing
