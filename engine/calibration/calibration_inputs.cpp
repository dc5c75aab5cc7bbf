#include "engine/calibration/calibration_inputs.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace quench::calib {
namespace {

namespace fs = std::filesystem;

// The .npy files directly in `dir`, sorted by name.
Result<std::vector<std::string>> npy_files(const fs::path& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".npy" && it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  if (ec) return error(StatusCode::kIoError, "cannot list calibration folder '", dir.string(), "': ", ec.message());
  if (files.empty())
    return error(StatusCode::kNotFound, "calibration folder '", dir.string(), "' holds no .npy file");
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

Result<std::vector<SampleFiles>> list_calibration_samples(const std::string& dir, const ir::Graph& g) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return error(StatusCode::kNotFound, "calibration folder '", dir, "' does not exist or is not a folder");
  if (g.inputs.empty()) return error(StatusCode::kInvalidArgument, "the model has no inputs to calibrate with");
  std::vector<std::vector<std::string>> per_input;
  for (const std::string& name : g.inputs) {
    const fs::path sub = fs::path(dir) / name;
    const bool has_folder = name.find('/') == std::string::npos && fs::is_directory(sub, ec);
    if (!has_folder && g.inputs.size() > 1)
      return error(StatusCode::kNotFound, "calibration folder '", dir, "' has no sub-folder for input '", name,
                   "'; a model with several inputs needs DIR/<input name>/*.npy");
    QUENCH_ASSIGN(auto files, npy_files(has_folder ? sub : fs::path(dir)));
    if (!per_input.empty() && files.size() != per_input.front().size())
      return error(StatusCode::kInvalidArgument, "calibration folder '", dir, "': input '", name, "' has ",
                   files.size(), " files but input '", g.inputs.front(), "' has ", per_input.front().size(),
                   "; every input needs one file per sample");
    per_input.push_back(std::move(files));
  }
  std::vector<SampleFiles> samples(per_input.front().size());
  for (size_t i = 0; i < g.inputs.size(); ++i)
    for (size_t k = 0; k < samples.size(); ++k) samples[k][g.inputs[i]] = per_input[i][k];
  return samples;
}

Result<TensorMap> load_calibration_sample(const SampleFiles& files, const ir::Graph& g) {
  TensorMap feeds;
  for (const std::string& name : g.inputs) {
    auto f = files.find(name);
    if (f == files.end()) return error(StatusCode::kNotFound, "no calibration file for input '", name, "'");
    const ir::Value* v = g.find(name);
    if (!v || !v->shape_is_static())
      return error(StatusCode::kInvalidArgument, "input '", name, "' has no static shape to calibrate with");
    QUENCH_ASSIGN(Tensor t, load_npy(f->second));
    if (t.dtype() == DType::kF64 && v->dtype == DType::kF32) {
      Tensor c = Tensor::zeros(DType::kF32, t.shape());
      for (int64_t i = 0; i < t.numel(); ++i) c.mutable_data_as<float>()[i] = static_cast<float>(t.value_as_double(i));
      t = std::move(c);
    }
    if (t.dtype() != v->dtype)
      return error(StatusCode::kInvalidArgument, "calibration file '", f->second, "' holds ", dtype_name(t.dtype()),
                   " but input '", name, "' is ", dtype_name(v->dtype));
    const bool unbatched = !v->shape.empty() && v->shape[0] == 1 &&
                           t.shape() == Shape(v->shape.begin() + 1, v->shape.end());
    if (t.shape() != v->shape && !unbatched)
      return error(StatusCode::kInvalidArgument, "calibration file '", f->second, "' has shape ", shape_str(t.shape()),
                   " but input '", name, "' is ", shape_str(v->shape));
    if (unbatched) {
      QUENCH_ASSIGN(t, t.reshaped(v->shape));
    }
    feeds[name] = std::move(t);
  }
  return feeds;
}

}  // namespace quench::calib
