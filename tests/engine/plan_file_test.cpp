// Plan files: save -> load -> run gives the saved engine's outputs bit for bit at every
// batch, the weights are stored once, and a damaged file (truncated, corrupted, resealed
// with a valid checksum, another version) is refused with an error, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "loaders/qplan/byte_io.h"
#include "loaders/qplan/qplan.h"
#include "quench/quench.h"
#include "tests/engine/engine_test_models.h"

namespace quench {
namespace {

namespace fs = std::filesystem;
using testing::branchy_model;
using testing::random_input;

Engine build_branchy(int max_batch, int64_t hidden = 10) {
  const std::string bytes = branchy_model(hidden);
  auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "branchy.onnx");
  EXPECT_TRUE(m.ok()) << m.status().message();
  BuildOptions opt;
  opt.max_batch = max_batch;
  auto e = build(*m, opt);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return *e;
}

std::string temp_path(const std::string& name) { return (fs::path(::testing::TempDir()) / name).string(); }

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_all(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

uint64_t u64_at(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}

// Recomputes the size and checksum fields, so the damage reaches the parser behind them.
void reseal(std::vector<uint8_t>& b) {
  uint64_t size = b.size();
  std::memcpy(b.data() + 16, &size, 8);
  const uint64_t sum = loaders::checksum64(b.data() + 64, b.size() - 64, loaders::checksum64(b.data(), 56));
  std::memcpy(b.data() + 56, &sum, 8);
}

TEST(PlanFile, SaveLoadRunIsBitIdenticalAtEveryBatch) {
  Engine built = build_branchy(3);
  const std::string path = temp_path("branchy.qplan");
  ASSERT_TRUE(built.save(path).ok());
  auto loaded = Engine::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->options().max_batch, 3);
  EXPECT_EQ(loaded->memory().arena_bytes, built.memory().arena_bytes);
  EXPECT_EQ(loaded->memory().lower_bound_bytes, built.memory().lower_bound_bytes);
  EXPECT_EQ(loaded->memory().naive_bytes, built.memory().naive_bytes);
  EXPECT_EQ(loaded->memory().weights_bytes, built.memory().weights_bytes);
  ASSERT_EQ(loaded->inputs().size(), 1u);
  EXPECT_EQ(loaded->inputs()[0].shape, (Shape{3, 3, 8, 8}));
  auto c1 = built.create_context();
  auto c2 = loaded->create_context();
  ASSERT_TRUE(c1.ok() && c2.ok());
  for (int batch = 1; batch <= 3; ++batch) {
    TensorMap in{{"x", random_input({batch, 3, 8, 8}, 100 + batch)}}, out1, out2;
    ASSERT_TRUE(c1->run(in, out1).ok());
    ASSERT_TRUE(c2->run(in, out2).ok());
    ASSERT_EQ(out1.at("y").shape(), (Shape{batch, 10}));
    EXPECT_TRUE(testing::same_bits(out1, out2)) << "batch " << batch;
    // Softmax rows sum to 1: the outputs are real numbers, not two equal garbage buffers.
    double sum = 0;
    for (int j = 0; j < 10; ++j) sum += out2.at("y").value_as_double(j);
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
  // A saved loaded engine is the same file.
  const std::string again = temp_path("branchy_again.qplan");
  ASSERT_TRUE(loaded->save(again).ok());
  EXPECT_EQ(read_all(path), read_all(again));
}

// A model exported at a fixed batch runs at that batch only, from a plan file too.
TEST(PlanFile, FixedBatchModelHasOnePlan) {
  const std::string bytes = testing::branchy_model(10, 2);
  auto m = load_onnx_from_bytes(bytes.data(), bytes.size(), "fixed.onnx");
  ASSERT_TRUE(m.ok());
  BuildOptions opt;
  opt.max_batch = 2;
  auto built = build(*m, opt);
  ASSERT_TRUE(built.ok()) << built.status().message();
  const std::string path = temp_path("fixed.qplan");
  ASSERT_TRUE(built->save(path).ok());
  auto loaded = Engine::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto c1 = built->create_context(), c2 = loaded->create_context();
  ASSERT_TRUE(c1.ok() && c2.ok());
  TensorMap in2{{"x", random_input({2, 3, 8, 8}, 5)}}, o1, o2;
  ASSERT_TRUE(c1->run(in2, o1).ok());
  ASSERT_TRUE(c2->run(in2, o2).ok());
  EXPECT_TRUE(testing::same_bits(o1, o2));
  TensorMap in1{{"x", random_input({1, 3, 8, 8}, 6)}}, o3;
  Status s = c2->run(in1, o3);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fixes its batch at 2"), std::string::npos) << s.message();
}

TEST(PlanFile, WeightsAreStoredOnceForAllBatches) {
  // A large Gemm weight: with one copy per batch the 8-batch file would be 7 copies larger.
  const int64_t hidden = 500;
  const std::string p1 = temp_path("one.qplan"), p8 = temp_path("eight.qplan");
  Engine e1 = build_branchy(1, hidden), e8 = build_branchy(8, hidden);
  ASSERT_TRUE(e1.save(p1).ok());
  ASSERT_TRUE(e8.save(p8).ok());
  const auto s1 = static_cast<int64_t>(fs::file_size(p1)), s8 = static_cast<int64_t>(fs::file_size(p8));
  const int64_t weights = 112 * hidden * 4;
  EXPECT_GT(s1, weights);
  EXPECT_LT(s8 - s1, weights / 4) << "1-batch file " << s1 << " bytes, 8-batch file " << s8;
}

TEST(PlanFile, MissingAndEmptyFiles) {
  auto missing = Engine::load(temp_path("does_not_exist.qplan"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  const std::string empty = temp_path("empty.qplan");
  write_all(empty, {});
  auto e = Engine::load(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kParseError);
  EXPECT_NE(e.status().message().find("empty.qplan"), std::string::npos) << e.status().message();
}

TEST(PlanFile, WrongMagicAndWrongVersionSaySo) {
  Engine built = build_branchy(1);
  const std::string path = temp_path("v.qplan");
  ASSERT_TRUE(built.save(path).ok());
  auto b = read_all(path);
  auto onnx = b;
  onnx[0] = 0x08;  // what an ONNX file starts with
  write_all(path, onnx);
  auto e = Engine::load(path);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("not a quench plan file"), std::string::npos) << e.status().message();
  auto v2 = b;
  v2[8] = 2;
  write_all(path, v2);
  e = Engine::load(path);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kParseError);
  EXPECT_NE(e.status().message().find("version 2"), std::string::npos) << e.status().message();
}

TEST(PlanFile, EveryTruncationIsRefused) {
  Engine built = build_branchy(2);
  const std::string path = temp_path("t.qplan");
  ASSERT_TRUE(built.save(path).ok());
  const auto b = read_all(path);
  for (size_t n = 0; n < b.size(); ++n) {
    auto owner = std::make_shared<std::vector<uint8_t>>(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = loaders::read_qplan_bytes(owner, owner->data(), owner->size(), "t.qplan");
    ASSERT_FALSE(r.ok()) << "a file cut to " << n << " of " << b.size() << " bytes loaded";
    ASSERT_EQ(r.status().code(), StatusCode::kParseError) << r.status().message();
  }
}

TEST(PlanFile, AFlippedByteIsACorruptFile) {
  Engine built = build_branchy(2);
  const std::string path = temp_path("c.qplan");
  ASSERT_TRUE(built.save(path).ok());
  const auto b = read_all(path);
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    auto d = b;
    const size_t at = 64 + rng() % (d.size() - 64);
    d[at] ^= static_cast<uint8_t>(1 + rng() % 255);
    auto owner = std::make_shared<std::vector<uint8_t>>(d);
    auto r = loaders::read_qplan_bytes(owner, owner->data(), owner->size(), "c.qplan");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("checksum mismatch"), std::string::npos) << r.status().message();
  }
}

// Damage behind a valid checksum (what a buggy writer or a crafted file gives): the parser
// and check_execution_plan must refuse it or load something consistent, never crash; the
// sanitizer build runs this too.
TEST(PlanFile, ResealedDamageNeverCrashes) {
  Engine built = build_branchy(2);
  const std::string path = temp_path("r.qplan");
  ASSERT_TRUE(built.save(path).ok());
  const auto b = read_all(path);
  const uint64_t meta_offset = u64_at(b, 24), meta_bytes = u64_at(b, 32);
  std::mt19937 rng(11);
  int refused = 0;
  const int kTrials = 3000;
  for (int i = 0; i < kTrials; ++i) {
    auto d = b;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      const size_t at = meta_offset + rng() % meta_bytes;
      d[at] = (rng() % 4 == 0) ? 0xFF : static_cast<uint8_t>(d[at] ^ (1u << (rng() % 8)));
    }
    reseal(d);
    auto owner = std::make_shared<std::vector<uint8_t>>(d);
    auto r = loaders::read_qplan_bytes(owner, owner->data(), owner->size(), "r.qplan");
    if (!r.ok()) {
      ++refused;
      EXPECT_FALSE(r.status().message().empty());
    }
  }
  // Most single-bit damage to names, counts, shapes or offsets must be caught.
  EXPECT_GT(refused, kTrials / 2);
}

TEST(PlanFile, CutMetadataBehindAValidChecksumIsRefused) {
  Engine built = build_branchy(1);
  const std::string path = temp_path("m.qplan");
  ASSERT_TRUE(built.save(path).ok());
  const auto b = read_all(path);
  const uint64_t meta_bytes = u64_at(b, 32);
  for (uint64_t keep = 0; keep < meta_bytes; ++keep) {
    auto d = b;
    std::memcpy(d.data() + 32, &keep, 8);  // the header now says the metadata is shorter
    reseal(d);
    auto owner = std::make_shared<std::vector<uint8_t>>(d);
    auto r = loaders::read_qplan_bytes(owner, owner->data(), owner->size(), "m.qplan");
    ASSERT_FALSE(r.ok()) << "metadata cut to " << keep << " bytes loaded";
    EXPECT_EQ(r.status().code(), StatusCode::kParseError);
  }
}

}  // namespace
}  // namespace quench
