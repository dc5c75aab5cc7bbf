#include "tests/models/model_cases.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#ifndef QUENCH_SOURCE_DIR
#define QUENCH_SOURCE_DIR "."
#endif

namespace quench::testing {

namespace fs = std::filesystem;

// With QUENCH_REQUIRE_MODELS=1 each of these must be there.
const ModelCase kRequired[] = {
    {"zoo", "mobilenetv2"}, {"zoo", "mobilenetv3_large"}, {"zoo", "efficientnet_b0"},
    {"zoo", "resnet50"},    {"zoo", "yolo_style"},        {"zoo", "mobilenetv2_dynamic"},
    {"real", "ppocr_det"},  {"real", "ppocr_cls"},        {"real", "ppocr_rec"},
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.dir << "/" << c.name; }

fs::path models_dir() {
  const char* env = std::getenv("QUENCH_MODELS_DIR");
  return env && *env ? fs::path(env) : fs::path(QUENCH_SOURCE_DIR) / ".models";
}

bool require_models() {
  const char* env = std::getenv("QUENCH_REQUIRE_MODELS");
  return env && std::string(env) == "1";
}

std::vector<ModelCase> model_cases() {
  std::vector<ModelCase> out(std::begin(kRequired), std::end(kRequired));
  std::set<std::string> known;
  for (const auto& c : out) known.insert(c.dir + "/" + c.name);
  for (const char* dir : {"zoo", "real"}) {
    std::error_code ec;
    std::vector<ModelCase> extra;
    for (const auto& e : fs::directory_iterator(models_dir() / dir, ec)) {
      const std::string stem = e.path().stem().string();
      if (e.path().extension() != ".onnx" || known.count(std::string(dir) + "/" + stem) ||
          !fs::exists(models_dir() / dir / (stem + ".input.npy")))
        continue;
      extra.push_back({dir, stem});
    }
    std::sort(extra.begin(), extra.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    out.insert(out.end(), extra.begin(), extra.end());
  }
  return out;
}

double rel_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double x = a.value_as_double(i), y = b.value_as_double(i);
    num += (x - y) * (x - y);
    den += y * y;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace quench::testing
