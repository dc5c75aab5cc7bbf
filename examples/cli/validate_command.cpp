// `quench validate MODEL`: builds the engine the options describe, runs it and the model's FP32
// CPU reference on sample inputs, and reports the outputs' error (relative L2, top-1 agreement
// for classifiers, IoU for probability maps) and every layer's error beside its time, naming
// the first layer over the tolerance (quench::validate, include/quench/validate.h).
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/int8_report.h"
#include "cli/json_writer.h"
#include "cli/util.h"
#include "quench/validate.h"

namespace quench::cli {
namespace {

void print_layer(const LayerValidation& l) {
  std::printf("  %5lld  %-36s %-16s %-5s %12s %10s%s\n", static_cast<long long>(l.step), l.node.c_str(),
              l.op_type.c_str(), precision_name(l.precision), l.rel_l2 < 0 ? "-" : fixed(l.rel_l2, 6).c_str(),
              fixed(l.seconds * 1e3, 3).c_str(), l.fails ? "  over" : "");
}

void print_text(const Options& o, const std::string& samples_from, const Engine& engine, const ValidationReport& r) {
  std::printf("model       %s\n", o.model.c_str());
  std::printf("engine      %s %s\n", backend_name(engine.options().backend), precision_name(engine.options().precision));
  std::printf("samples     %lld from %s\n", static_cast<long long>(r.samples), samples_from.c_str());
  std::printf("error       %s (relative L2 of all outputs against the FP32 reference, mean over samples)\n",
              fixed(r.error, 6).c_str());
  std::printf("\noutputs\n");
  for (const auto& out : r.outputs) {
    std::printf("  %s  rel L2 mean %s max %s", out.name.c_str(), fixed(out.rel_l2_mean, 6).c_str(),
                fixed(out.rel_l2_max, 6).c_str());
    if (out.top1_total > 0)
      std::printf("  top-1 agreement %lld/%lld (%s%%)", static_cast<long long>(out.top1_agree),
                  static_cast<long long>(out.top1_total), fixed(100.0 * out.top1_agree / out.top1_total, 2).c_str());
    if (out.iou_mean >= 0)
      std::printf("  IoU@%s mean %s min %s", fixed(o.iou_threshold, 2).c_str(), fixed(out.iou_mean, 4).c_str(),
                  fixed(out.iou_min, 4).c_str());
    std::printf("\n");
  }
  if (!engine.int8_report().layers.empty()) {
    std::printf("\n");
    print_int8_report(engine.int8_report(), false);
  }
  int64_t compared = 0;
  for (const auto& l : r.layers) compared += l.rel_l2 >= 0;
  const double tol = r.layers.empty() ? 0 : r.layers.front().tolerance;
  std::printf("\nlayers      %lld run, %lld compared with the reference tensor of the same name; tolerance %s\n",
              static_cast<long long>(r.layers.size()), static_cast<long long>(compared), fixed(tol, 6).c_str());
  if (r.first_failing >= 0) {
    const auto& l = r.layers[static_cast<size_t>(r.first_failing)];
    std::printf("first over  step %lld '%s' (%s, %s): rel L2 %s\n", static_cast<long long>(l.step), l.node.c_str(),
                l.op_type.c_str(), precision_name(l.precision), fixed(l.rel_l2, 6).c_str());
  } else {
    std::printf("first over  none\n");
  }
  // The largest errors, in execution order so that error growth reads top to bottom.
  std::vector<size_t> idx;
  for (size_t i = 0; i < r.layers.size(); ++i) idx.push_back(i);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return r.layers[a].rel_l2 > r.layers[b].rel_l2; });
  idx.resize(std::min<size_t>(idx.size(), static_cast<size_t>(o.top)));
  std::sort(idx.begin(), idx.end());
  std::printf("\n  %5s  %-36s %-16s %-5s %12s %10s\n", "step", "layer", "op", "prec", "rel L2", "time ms");
  for (size_t i : idx) print_layer(r.layers[i]);
}

void print_json(const Options& o, const std::string& samples_from, const Engine& engine, const ValidationReport& r) {
  JsonWriter j;
  j.begin_object().field("command", "validate").field("model", o.model);
  j.field("backend", backend_name(engine.options().backend)).field("precision", precision_name(engine.options().precision));
  j.field("samples", r.samples).field("samples_from", samples_from).field("error", r.error);
  j.key("outputs").begin_array();
  for (const auto& out : r.outputs) {
    j.begin_object().field("name", out.name).field("rel_l2_mean", out.rel_l2_mean).field("rel_l2_max", out.rel_l2_max);
    if (out.top1_total > 0) j.field("top1_agree", out.top1_agree).field("top1_total", out.top1_total);
    if (out.iou_mean >= 0) j.field("iou_threshold", o.iou_threshold).field("iou_mean", out.iou_mean).field("iou_min", out.iou_min);
    j.end_object();
  }
  j.end_array();
  write_int8_report(j, engine.int8_report());
  j.field("first_failing", r.first_failing).key("layers").begin_array();
  for (const auto& l : r.layers)
    j.begin_object().field("step", l.step).field("node", l.node).field("op", l.op_type).field("tensor", l.tensor)
        .field("precision", precision_name(l.precision)).field("rel_l2", l.rel_l2).field("tolerance", l.tolerance)
        .field("fails", l.fails).field("seconds", l.seconds).end_object();
  j.end_array().end_object();
  std::fputs(j.str().c_str(), stdout);
}

}  // namespace

int validate_command(const Options& o) {
  const std::string cmd = "validate";
  if (is_plan_file(o.model))
    return report_error(cmd, {kExitUsage, "validate needs the ONNX model (its FP32 graph is the reference), not a plan file"});
  Model model;
  BuildOptions bo;
  bool explicit_batch = false;
  if (auto e = load_model_and_options(o, &model, &bo, &explicit_batch)) return report_error(cmd, *e);
  const std::string samples_from = !o.inputs_dir.empty() ? o.inputs_dir : o.calib_dir;
  if (samples_from.empty())
    return report_error(cmd, {kExitUsage, "no sample inputs: give --inputs DIR (or --calib DIR, which validates on the "
                                          "calibration samples themselves)"});
  auto engine = build(model, bo);
  if (!engine.ok()) return report_error(cmd, {kExitRuntime, "cannot build the engine: " + engine.status().to_string()});
  ValidateOptions vo;
  vo.samples_dir = samples_from;
  vo.max_samples = o.samples;
  vo.tolerance = o.tolerance;
  vo.iou_threshold = o.iou_threshold;
  auto report = validate(model, *engine, vo);
  if (!report.ok()) return report_error(cmd, {kExitRuntime, report.status().to_string()});
  if (o.json)
    print_json(o, samples_from, *engine, *report);
  else
    print_text(o, samples_from, *engine, *report);
  return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
}

}  // namespace quench::cli
