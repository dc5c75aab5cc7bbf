#include <gtest/gtest.h>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

std::string message_of(const OpRun& r) {
  auto out = run_op(r);
  return out.ok() ? std::string("ok") : out.status().message();
}

// A = [[1 2 3], [4 5 6]], B = [[1 2], [3 4], [5 6]]: A * B = [[22 28], [49 64]].
const std::vector<float> kA{1, 2, 3, 4, 5, 6}, kB{1, 2, 3, 4, 5, 6};

TEST(Gemm, PlainProductAndScalarBias) {
  auto out = run_op(make_run("Gemm", {{f32({2, 3}, kA)}, {f32({3, 2}, kB)}, {f32({}, {1})}}));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{23, 29, 50, 65}));
}

TEST(Gemm, AlphaBetaAndBroadcastC) {
  OpRun r = make_run("Gemm", {{f32({2, 3}, kA)}, {f32({3, 2}, kB)}, {f32({1, 2}, {10, 20})}});
  r.attrs.set("alpha", attr_float(0.5f));
  r.attrs.set("beta", attr_float(2.0f));
  auto row = run_op(r);  // C as a row, repeated down the rows
  ASSERT_TRUE(row.ok()) << row.status().to_string();
  EXPECT_EQ(values_f32((*row)[0]), (std::vector<float>{11 + 20, 14 + 40, 24.5f + 20, 32 + 40}));
  r.inputs[2] = {f32({2, 1}, {10, 20})};  // C as a column, repeated across
  auto col = run_op(r);
  ASSERT_TRUE(col.ok()) << col.status().to_string();
  EXPECT_EQ(values_f32((*col)[0]), (std::vector<float>{11 + 20, 14 + 20, 24.5f + 40, 32 + 40}));
  r.inputs[2] = {f32({2}, {10, 20})};  // 1-D C broadcasts as a row
  auto vec = run_op(r);
  ASSERT_TRUE(vec.ok()) << vec.status().to_string();
  EXPECT_EQ(values_f32((*vec)[0]), (std::vector<float>{11 + 20, 14 + 40, 24.5f + 20, 32 + 40}));
}

TEST(Gemm, Transposes) {
  // A given as A^T (3x2) and B as B^T (2x3): the same product.
  const std::vector<float> at{1, 4, 2, 5, 3, 6}, bt{1, 3, 5, 2, 4, 6};
  OpRun r = make_run("Gemm", {{f32({3, 2}, at)}, {f32({3, 2}, kB)}});
  r.attrs.set("transA", attr_int(1));
  auto ta = run_op(r);
  ASSERT_TRUE(ta.ok()) << ta.status().to_string();
  EXPECT_EQ(values_f32((*ta)[0]), (std::vector<float>{22, 28, 49, 64}));

  OpRun r2 = make_run("Gemm", {{f32({2, 3}, kA)}, {f32({2, 3}, bt)}});
  r2.attrs.set("transB", attr_int(1));
  auto tb = run_op(r2);
  ASSERT_TRUE(tb.ok()) << tb.status().to_string();
  EXPECT_EQ(values_f32((*tb)[0]), (std::vector<float>{22, 28, 49, 64}));

  OpRun r3 = make_run("Gemm", {{f32({3, 2}, at)}, {f32({2, 3}, bt)}});
  r3.attrs.set("transA", attr_int(1));
  r3.attrs.set("transB", attr_int(1));
  auto both = run_op(r3);
  ASSERT_TRUE(both.ok()) << both.status().to_string();
  EXPECT_EQ(values_f32((*both)[0]), (std::vector<float>{22, 28, 49, 64}));
}

TEST(Gemm, LargeTransposedBAgainstNaive) {
  // 3 x 300 output (more than one accumulator tile) with B transposed, as in a Linear layer.
  const int64_t M = 3, K = 37, N = 300;
  Tensor a = f32_random({M, K}, 1), b = f32_random({N, K}, 2), c = f32_random({N}, 3);
  for (int tb = 0; tb < 2; ++tb) {
    SCOPED_TRACE(tb);
    Tensor bb = tb ? b : f32_random({K, N}, 2);
    OpRun r = make_run("Gemm", {{a}, {bb}, {c}});
    r.attrs.set("transB", attr_int(tb));
    auto out = run_op(r);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const auto av = values_f32(a), bv = values_f32(bb), cv = values_f32(c);
    std::vector<float> want(static_cast<size_t>(M * N));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = cv[j];
        for (int64_t k = 0; k < K; ++k) s += static_cast<double>(av[i * K + k]) * (tb ? bv[j * K + k] : bv[k * N + j]);
        want[i * N + j] = static_cast<float>(s);
      }
    EXPECT_TRUE(all_near(values_f32((*out)[0]), want, 1e-5, 1e-5));
  }
}

TEST(Gemm, NoCAndEmptyK) {
  auto no_c = run_op(make_run("Gemm", {{f32({2, 3}, kA)}, {f32({3, 2}, kB)}}));
  ASSERT_TRUE(no_c.ok()) << no_c.status().to_string();
  EXPECT_EQ(values_f32((*no_c)[0]), (std::vector<float>{22, 28, 49, 64}));
  auto empty_k = run_op(make_run("Gemm", {{f32({2, 0}, {})}, {f32({0, 2}, {})}, {f32({1}, {7})}}));
  ASSERT_TRUE(empty_k.ok()) << empty_k.status().to_string();
  EXPECT_EQ(values_f32((*empty_k)[0]), (std::vector<float>{7, 7, 7, 7}));
}

TEST(Gemm, Errors) {
  EXPECT_NE(message_of(make_run("Gemm", {{f32({2, 3}, kA)}, {f32({2, 3}, kB)}}))
                .find("Gemm node 'node0': A [2,3] has inner dim 3 but B [2,3] has 2"),
            std::string::npos);
  EXPECT_NE(message_of(make_run("Gemm", {{f32({2, 3}, kA)}, {f32({3, 2}, kB)}, {f32({3}, {1, 2, 3})}}))
                .find("C has shape [3], which does not broadcast to [2,2]"),
            std::string::npos);
  EXPECT_NE(message_of(make_run("Gemm", {{f32({6}, kA)}, {f32({3, 2}, kB)}})).find("must both be matrices"),
            std::string::npos);
  EXPECT_NE(message_of(make_run("Gemm", {{i64({1, 1}, {1})}, {i64({1, 1}, {1})}})).find("does not support"),
            std::string::npos);
  OpRun old = make_run("Gemm", {{f32({2, 3}, kA)}, {f32({3, 2}, kB)}}, 9);
  EXPECT_NE(message_of(old).find("C is required before opset 11"), std::string::npos);
}

TEST(MatMul, TwoDAndVectorPromotion) {
  auto mm = run_op(make_run("MatMul", {{f32({2, 3}, kA)}, {f32({3, 2}, kB)}}));
  ASSERT_TRUE(mm.ok()) << mm.status().to_string();
  EXPECT_EQ((*mm)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values_f32((*mm)[0]), (std::vector<float>{22, 28, 49, 64}));

  auto vm = run_op(make_run("MatMul", {{f32({3}, {1, 0, 2})}, {f32({3, 2}, kB)}}));  // [K] x [K, N] -> [N]
  ASSERT_TRUE(vm.ok()) << vm.status().to_string();
  EXPECT_EQ((*vm)[0].shape(), (Shape{2}));
  EXPECT_EQ(values_f32((*vm)[0]), (std::vector<float>{11, 14}));

  auto mv = run_op(make_run("MatMul", {{f32({2, 3}, kA)}, {f32({3}, {1, 0, 2})}}));  // [M, K] x [K] -> [M]
  ASSERT_TRUE(mv.ok()) << mv.status().to_string();
  EXPECT_EQ((*mv)[0].shape(), (Shape{2}));
  EXPECT_EQ(values_f32((*mv)[0]), (std::vector<float>{7, 16}));

  auto vv = run_op(make_run("MatMul", {{f32({3}, {1, 2, 3})}, {f32({3}, {4, 5, 6})}}));  // -> scalar
  ASSERT_TRUE(vv.ok()) << vv.status().to_string();
  EXPECT_EQ((*vv)[0].shape(), (Shape{}));
  EXPECT_EQ(values_f32((*vv)[0]), (std::vector<float>{32}));

  // A batch of vectors against one: [2, 1, 3] x [3] -> [2, 1].
  auto bv = run_op(make_run("MatMul", {{f32({2, 1, 3}, kA)}, {f32({3}, {1, 1, 1})}}));
  ASSERT_TRUE(bv.ok()) << bv.status().to_string();
  EXPECT_EQ((*bv)[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values_f32((*bv)[0]), (std::vector<float>{6, 15}));
}

TEST(MatMul, BatchBroadcastingAgainstNaive) {
  // [2, 1, 4, 3] x [3, 3, 5] -> [2, 3, 4, 5]: A's dim 1 and B's missing dim 0 broadcast.
  Tensor a = f32_random({2, 1, 4, 3}, 1), b = f32_random({3, 3, 5}, 2);
  auto out = run_op(make_run("MatMul", {{a}, {b}}));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 3, 4, 5}));
  const auto av = values_f32(a), bv = values_f32(b);
  std::vector<float> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int m = 0; m < 4; ++m)
        for (int n = 0; n < 5; ++n) {
          double s = 0;
          for (int k = 0; k < 3; ++k) s += static_cast<double>(av[(i * 4 + m) * 3 + k]) * bv[(j * 3 + k) * 5 + n];
          want.push_back(static_cast<float>(s));
        }
  EXPECT_TRUE(all_near(values_f32((*out)[0]), want, 1e-6, 1e-6));

  // And B broadcast against a batched A: [2, 2, 3] x [3, 2] -> B used for both.
  auto shared = run_op(make_run("MatMul", {{f32({2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0})}, {f32({3, 2}, kB)}}));
  ASSERT_TRUE(shared.ok()) << shared.status().to_string();
  EXPECT_EQ(values_f32((*shared)[0]), (std::vector<float>{22, 28, 49, 64, 1, 2, 3, 4}));
}

TEST(MatMul, IntegersAndDoubles) {
  auto ints = run_op(make_run("MatMul", {{i32({2, 2}, {1, -2, 3, 4})}, {i32({2, 1}, {5, 6})}}));
  ASSERT_TRUE(ints.ok()) << ints.status().to_string();
  EXPECT_EQ((*ints)[0].dtype(), DType::kI32);
  EXPECT_EQ(values_i64((*ints)[0]), (std::vector<int64_t>{-7, 39}));
  auto dbl = run_op(make_run("MatMul", {{f64({1, 2}, {0.1, 0.2})}, {f64({2, 1}, {3, 4})}}));
  ASSERT_TRUE(dbl.ok()) << dbl.status().to_string();
  EXPECT_DOUBLE_EQ(values_f64((*dbl)[0])[0], 0.1 * 3 + 0.2 * 4);
}

TEST(MatMul, Errors) {
  EXPECT_NE(message_of(make_run("MatMul", {{f32({2, 3}, kA)}, {f32({2, 3}, kB)}}))
                .find("MatMul node 'node0': A [2,3] has inner dim 3 but B [2,3] has 2"),
            std::string::npos);
  EXPECT_NE(message_of(make_run("MatMul", {{f32({2, 1, 3}, kA)}, {f32({3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9})}}))
                .find("do not broadcast"),
            std::string::npos);
  EXPECT_NE(message_of(make_run("MatMul", {{f32({}, {1})}, {f32({1}, {1})}})).find("rank >= 1"), std::string::npos);
  EXPECT_NE(message_of(make_run("MatMul", {{f32({2, 3}, kA)}, {f64({3, 2}, {1, 2, 3, 4, 5, 6})}})).find("B is float64"),
            std::string::npos);
}

TEST(MatMul, EmptyDims) {
  auto out = run_op(make_run("MatMul", {{f32({0, 2, 3}, {})}, {f32({3, 4}, std::vector<float>(12, 1.0f))}}));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].shape(), (Shape{0, 2, 4}));
  auto k0 = run_op(make_run("MatMul", {{f32({2, 0}, {})}, {f32({0, 3}, {})}}));
  ASSERT_TRUE(k0.ok()) << k0.status().to_string();
  EXPECT_EQ(values_f32((*k0)[0]), std::vector<float>(6, 0.0f));
}

}  // namespace
}  // namespace quench::testing
