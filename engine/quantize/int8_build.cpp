#include "engine/quantize/int8_build.h"

#include "engine/batch_graph.h"
#include "engine/calibration/calibration_inputs.h"
#include "engine/calibration/calibrator.h"
#include "engine/optimizer/optimizer.h"
#include "engine/quantize/sensitivity.h"

namespace quench::quant_pass {
namespace {

// Calibration runs at batch 1, or at the batch a fixed-batch model has.
int64_t sample_batch(const ir::Graph& g, const BuildOptions& opt) { return batch_is_open(g) ? 1 : opt.max_batch; }

Result<calib::CalibrationTable> table_for(const ir::Graph& g, const BuildOptions& opt, const std::string& source) {
  const Int8Options& o = opt.int8;
  if (!o.calibration_table.empty()) return calib::load_calibration_table(o.calibration_table);
  if (o.calibration_dir.empty())
    return error(StatusCode::kInvalidArgument,
                 "precision int8 needs activation scales: give calibration samples (Int8Options::calibration_dir, "
                 "--calib DIR) or a saved table (Int8Options::calibration_table, --calib-table FILE)");
  calib::CalibrationOptions co;
  if (!calib::method_from_name(o.method, &co.method))
    return error(StatusCode::kInvalidArgument, "unknown calibration method '", o.method,
                 "' (use max, percentile or entropy)");
  co.percentile = o.percentile;
  co.max_samples = o.max_samples;
  if (o.progress)
    co.progress = [&](int64_t done, int64_t total) {
      if (done == total || done % 16 == 0)
        o.progress("calibration: " + std::to_string(done) + "/" + std::to_string(total) + " samples");
    };
  QUENCH_ASSIGN(auto specialized, specialize_optimized(g, opt, sample_batch(g, opt), source, nullptr));
  return calib::calibrate(std::move(specialized), o.calibration_dir, co);
}

Result<std::vector<TensorMap>> sensitivity_samples(const ir::Graph& g, const BuildOptions& opt,
                                                   const std::string& source) {
  const Int8Options& o = opt.int8;
  if (o.calibration_dir.empty())
    return error(StatusCode::kInvalidArgument,
                 "an INT8 accuracy budget needs sample inputs to measure with: give calibration samples "
                 "(--calib DIR) as well as the table");
  QUENCH_ASSIGN(auto specialized, specialize_optimized(g, opt, sample_batch(g, opt), source, nullptr));
  QUENCH_ASSIGN(auto files, calib::list_calibration_samples(o.calibration_dir, *specialized));
  const size_t n = std::min(files.size(), static_cast<size_t>(std::max<int64_t>(o.sensitivity_samples, 1)));
  std::vector<TensorMap> samples;
  for (size_t k = 0; k < n; ++k) {
    QUENCH_ASSIGN(TensorMap s, calib::load_calibration_sample(files[k], *specialized));
    samples.push_back(std::move(s));
  }
  return samples;
}

}  // namespace

Result<Int8Graph> build_int8_graph(const ir::Graph& optimized, const BuildOptions& opt, const std::string& source) {
  const Int8Options& o = opt.int8;
  Int8Graph out;
  QUENCH_ASSIGN(out.table, table_for(optimized, opt, source));
  out.report.method = o.calibration_table.empty() ? o.method : "table " + o.calibration_table;
  out.report.samples = out.table.samples;
  out.report.budget = o.budget;

  QuantizeOptions qo{NameSet(o.keep_float.begin(), o.keep_float.end()), {}};
  std::map<std::string, double, std::less<>> sensitivity;
  if (o.budget > 0) {
    SensitivityInputs in;
    in.graph = &optimized;
    in.table = &out.table;
    in.build = &opt;
    in.batch = sample_batch(optimized, opt);
    in.source = source;
    QUENCH_ASSIGN(in.samples, sensitivity_samples(optimized, opt, source));
    in.budget = o.budget;
    in.keep_float = qo.keep_float;
    in.progress = o.progress;
    QUENCH_ASSIGN(SensitivityResult r, choose_float_layers(in));
    qo.for_accuracy = std::move(r.for_accuracy);
    sensitivity = std::move(r.sensitivity);
    out.report.error = r.error;
  }
  out.graph = optimized;
  std::vector<LayerPrecision> layers;
  QUENCH_TRY(quantize_graph(out.graph, out.table, qo, &layers).with_context(source));
  for (auto& l : layers) {
    auto s = sensitivity.find(l.node);
    if (s != sensitivity.end()) l.sensitivity = s->second;
    std::string why = reason_name(l.reason);
    if (!l.detail.empty()) why += ": " + l.detail;
    out.report.layers.push_back({l.node, l.op_type, l.int8 ? Precision::kINT8 : Precision::kFP32, why, l.sensitivity});
  }
  return out;
}

}  // namespace quench::quant_pass
