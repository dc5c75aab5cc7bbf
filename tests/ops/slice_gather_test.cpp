#include <gtest/gtest.h>

#include <limits>
#include <numeric>

#include "tests/ops/op_test_util.h"

namespace quench::testing {
namespace {

bool has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// 3x4: value = 10 * row + col.
Tensor grid() { return f32({3, 4}, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23}); }

Result<Tensor> slice(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes,
                     std::vector<int64_t> steps, Tensor x = grid()) {
  auto len = [](const std::vector<int64_t>& v) { return static_cast<int64_t>(v.size()); };
  std::vector<OpInput> in = {{x}, constant(i64({len(starts)}, starts)), constant(i64({len(ends)}, ends))};
  in.push_back(axes.empty() ? OpInput{} : constant(i64({len(axes)}, axes)));
  if (!steps.empty()) in.push_back(constant(i64({len(steps)}, steps)));
  QUENCH_ASSIGN(auto out, run_op(make_run("Slice", in, 13)));
  return out[0];
}

// ------------------------------------------------------------------------------------ Slice

TEST(Slice, WindowsAndDefaults) {
  auto a = slice({1, 1}, {3, 3}, {}, {});
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->shape(), (Shape{2, 2}));
  EXPECT_EQ(values_f32(*a), (std::vector<float>{11, 12, 21, 22}));

  auto b = slice({1}, {kMax}, {-1}, {2});  // every other column from 1, end clamped
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b->shape(), (Shape{3, 2}));
  EXPECT_EQ(values_f32(*b), (std::vector<float>{1, 3, 11, 13, 21, 23}));

  auto c = slice({-2}, {1000}, {0}, {});  // negative start counts from the end
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(values_f32(*c), (std::vector<float>{10, 11, 12, 13, 20, 21, 22, 23}));

  auto d = slice({3}, {1}, {1}, {});  // start after end: empty
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shape(), (Shape{3, 0}));

  auto e = slice({-100}, {2}, {1}, {});  // start clamped to 0
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(values_f32(*e), (std::vector<float>{0, 1, 10, 11, 20, 21}));
}

TEST(Slice, NegativeSteps) {
  auto a = slice({-1}, {kMin}, {1}, {-1});  // each row reversed
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(values_f32(*a), (std::vector<float>{3, 2, 1, 0, 13, 12, 11, 10, 23, 22, 21, 20}));

  auto b = slice({20, 3}, {0, -5}, {0, 1}, {-1, -2});  // rows 2,1; cols 3,1
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b->shape(), (Shape{2, 2}));
  EXPECT_EQ(values_f32(*b), (std::vector<float>{23, 21, 13, 11}));

  auto c = slice({0}, {2}, {0}, {-1});  // backwards from 0 to 2: nothing
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->shape(), (Shape{0, 4}));
}

TEST(Slice, AttributesBeforeOpset10) {
  OpRun r = make_run("Slice", {{grid()}}, 9);
  r.attrs.set("starts", attr_ints({1, 0}));
  r.attrs.set("ends", attr_ints({2, -1}));
  auto out = run_op(r);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(values_f32((*out)[0]), (std::vector<float>{10, 11, 12}));

  OpRun a = make_run("Slice", {{grid()}}, 1);
  a.attrs.set("starts", attr_ints({2}));
  a.attrs.set("ends", attr_ints({4}));
  a.attrs.set("axes", attr_ints({1}));
  auto outa = run_op(a);
  ASSERT_TRUE(outa.ok()) << outa.status().to_string();
  EXPECT_EQ(values_f32((*outa)[0]), (std::vector<float>{2, 3, 12, 13, 22, 23}));
}

TEST(Slice, MovesIntegersAndBools) {
  auto a = slice({1}, {3}, {}, {}, i64({4}, {-1, 1LL << 50, 3, 4}));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(values_i64(*a), (std::vector<int64_t>{1LL << 50, 3}));
  auto b = slice({3}, {kMin}, {}, {-2}, boolean({4}, {1, 0, 0, 1}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(values_i64(*b), (std::vector<int64_t>{1, 0}));
}

TEST(Slice, Errors) {
  auto a = slice({0}, {2}, {1}, {0});
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(has(a.status(), "Slice node 'node0': step 0")) << a.status().message();
  EXPECT_FALSE(slice({0, 0}, {1, 1}, {1, -1}, {}).ok());  // repeated axis
  EXPECT_FALSE(slice({0}, {1}, {2}, {}).ok());            // axis out of range
  EXPECT_FALSE(slice({0, 0}, {1}, {}, {}).ok());          // lengths differ
  // starts must be known at build time.
  auto e = run_op(make_run("Slice", {{grid()}, {i64({1}, {0})}, constant(i64({1}, {1}))}, 13));
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(has(e.status(), "known at build time")) << e.status().message();
}

// ----------------------------------------------------------------------------------- Gather

TEST(Gather, RowsColumnsAndNegativeIndices) {
  auto a = run_op(make_run("Gather", {{grid()}, {i64({2}, {2, -3})}}));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(values_f32((*a)[0]), (std::vector<float>{20, 21, 22, 23, 0, 1, 2, 3}));

  OpRun r = make_run("Gather", {{grid()}, {i32({2, 2}, {3, 0, -1, 1})}});
  r.attrs.set("axis", attr_int(-1));
  auto b = run_op(r);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ((*b)[0].shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(values_f32((*b)[0]), (std::vector<float>{3, 0, 3, 1, 13, 10, 13, 11, 23, 20, 23, 21}));

  // A scalar index drops the axis: the Shape -> Gather(0) pattern.
  auto c = run_op(make_run("Gather", {{i64({3}, {7, 8, 9})}, constant(i64({}, {-1}))}));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ((*c)[0].shape(), (Shape{}));
  EXPECT_EQ(values_i64((*c)[0]), (std::vector<int64_t>{9}));
}

TEST(Gather, OutOfRangeIndexIsAnErrorNotACrash) {
  // At run time (indices are a graph input)...
  auto a = run_op(make_run("Gather", {{grid()}, {i64({2}, {1, 3})}}));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(has(a.status(), "Gather node 'node0': index 3")) << a.status().message();
  EXPECT_TRUE(has(a.status(), "axis 0 of size 3")) << a.status().message();
  EXPECT_FALSE(run_op(make_run("Gather", {{grid()}, {i32({1}, {-4})}})).ok());
  EXPECT_FALSE(run_op(make_run("Gather", {{grid()}, {i64({1}, {kMin})}})).ok());
  // ...and at build time when they are constant.
  auto b = run_op(make_run("Gather", {{grid()}, constant(i64({1}, {100}))}));
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(has(b.status(), "index 100")) << b.status().message();
}

TEST(Gather, OtherErrors) {
  EXPECT_FALSE(run_op(make_run("Gather", {{grid()}, {f32({1}, {0})}})).ok());      // float indices
  EXPECT_FALSE(run_op(make_run("Gather", {{f32({}, {1})}, {i64({1}, {0})}})).ok());  // scalar data
  OpRun r = make_run("Gather", {{grid()}, {i64({1}, {0})}});
  r.attrs.set("axis", attr_int(2));
  EXPECT_FALSE(run_op(r).ok());
}

}  // namespace
}  // namespace quench::testing

namespace quench::testing {
namespace {

TEST(Slice, ExtremeStepsDoNotOverflow) {
  auto a = slice({kMax}, {kMin}, {1}, {kMin});  // one element, from the end
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(values_f32(*a), (std::vector<float>{3, 13, 23}));
  auto b = slice({0}, {kMax}, {0}, {kMax});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(values_f32(*b), (std::vector<float>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace quench::testing
