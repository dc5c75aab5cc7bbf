// What the whole-model tests share: where the models are, which must be there, and the error
// measure. Environment: QUENCH_MODELS_DIR (default <source>/.models) and QUENCH_REQUIRE_MODELS=1
// (a missing model fails its test instead of skipping it; scripts/test.sh sets it).
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "quench/tensor.h"

namespace quench::testing {

struct ModelCase {
  std::string dir;   // "zoo" or "real"
  std::string name;  // file stem
};
void PrintTo(const ModelCase& c, std::ostream* os);

std::filesystem::path models_dir();
bool require_models();
// The models scripts/make_models.sh makes, plus any other NAME.onnx with NAME.input.npy
// beside it in zoo/ or real/.
std::vector<ModelCase> model_cases();
// ||a - b|| / ||b|| over all elements, in double.
double rel_l2(const Tensor& a, const Tensor& b);

}  // namespace quench::testing
