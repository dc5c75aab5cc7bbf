// `quench inspect MODEL`: interface, op histogram, parameters and per-layer shapes and FLOPs.
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/util.h"
#include "quench/inspect.h"

namespace quench::cli {
namespace {

void write_tensor(JsonWriter& j, const TensorInfo& t) {
  j.begin_object().field("name", t.name).field("dtype", dtype_name(t.dtype)).shape("shape", t.shape).end_object();
}

// --optimized: launches before and after, every pass, every fused node.
void write_optimization(JsonWriter& j, const ModelReport& r) {
  j.key("optimization").begin_object();
  j.field("launches_unoptimized", r.launches_unoptimized).field("launches", r.launches);
  j.field("layers_unoptimized", r.layers_unoptimized).field("layers", static_cast<int64_t>(r.layers.size()));
  j.key("passes").begin_array();
  for (const auto& p : r.passes) {
    j.begin_object().field("pass", p.pass).field("rewrites", p.rewrites);
    j.key("details").begin_array();
    for (const auto& d : p.details) j.value(d);
    j.end_array().end_object();
  }
  j.end_array();
  j.key("fusions").begin_array();
  for (const auto& f : r.fusions) {
    j.begin_object().field("node", f.node).field("op_type", f.op_type);
    j.key("absorbed").begin_array(true);
    for (const auto& a : f.absorbed) j.value(a);
    j.end_array().end_object();
  }
  j.end_array();
  j.end_object();
}

std::string report_json(const ModelReport& r) {
  JsonWriter j;
  j.begin_object();
  j.field("command", "inspect").field("model", r.source).field("producer", r.producer).field("ir_version", r.ir_version);
  j.key("opsets").begin_object();
  for (const auto& [domain, v] : r.opsets) j.field(domain.empty() ? "ai.onnx" : domain, v);
  j.end_object();
  j.field("batch", r.batch);
  j.key("inputs").begin_array();
  for (const auto& t : r.inputs) write_tensor(j, t);
  j.end_array();
  j.key("outputs").begin_array();
  for (const auto& t : r.outputs) write_tensor(j, t);
  j.end_array();
  j.field("nodes_in_file", r.nodes_in_file).field("layer_count", static_cast<int64_t>(r.layers.size()));
  j.field("parameters", r.parameters).field("parameter_bytes", r.parameter_bytes).field("total_flops", r.total_flops);
  j.field("launches", r.launches);
  if (r.optimized) write_optimization(j, r);
  j.key("op_histogram").begin_object();
  for (const auto& [op, n] : r.op_histogram) j.field(op, n);
  j.end_object();
  j.key("layers").begin_array();
  for (const auto& l : r.layers) {
    j.begin_object().field("name", l.name).field("op_type", l.op_type);
    j.key("inputs").begin_array();
    for (size_t i = 0; i < l.inputs.size(); ++i) {
      const TensorInfo& t = l.inputs[i];
      j.begin_object().field("name", t.name);
      if (!t.name.empty())
        j.field("dtype", dtype_name(t.dtype)).shape("shape", t.shape).field("constant", static_cast<bool>(l.input_is_constant[i]));
      j.end_object();
    }
    j.end_array();
    j.key("outputs").begin_array();
    for (const auto& t : l.outputs) write_tensor(j, t);
    j.end_array();
    j.field("flops", l.flops).field("params", l.params).field("bytes", l.bytes).end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

// Shapes of the activation (non-constant) inputs, or of the constant ones.
std::string shapes_of(const LayerInfo& l, bool constants) {
  std::string s;
  for (size_t i = 0; i < l.inputs.size(); ++i) {
    if (l.inputs[i].name.empty() || l.input_is_constant[i] != constants) continue;
    if (!s.empty()) s += ' ';
    s += shape_str(l.inputs[i].shape);
  }
  return s.empty() ? "-" : s;
}

std::string output_shapes(const LayerInfo& l) {
  std::string s;
  for (const auto& o : l.outputs) {
    if (!s.empty()) s += ' ';
    s += shape_str(o.shape);
  }
  return s;
}

void print_optimization(const ModelReport& r) {
  std::printf("\noptimizer passes\n");
  for (const auto& p : r.passes) {
    std::printf("  %-26s %lld rewrites\n", p.pass.c_str(), static_cast<long long>(p.rewrites));
    if (p.rewrites == 0)
      for (const auto& d : p.details) std::printf("    %s\n", d.c_str());  // why it did not run
  }
  std::printf("\nfused nodes (node <- the model's nodes it stands for)\n");
  if (r.fusions.empty()) std::printf("  none\n");
  for (const auto& f : r.fusions) {
    std::string from;
    for (const auto& a : f.absorbed) from += (from.empty() ? "" : ", ") + a;
    std::printf("  %s %s <- %s\n", f.op_type.c_str(), f.node.c_str(), from.c_str());
  }
}

void print_text(const ModelReport& r) {
  std::printf("model       %s\n", r.source.c_str());
  std::string opsets;
  for (const auto& [domain, v] : r.opsets) {
    if (!opsets.empty()) opsets += ", ";
    opsets += domain.empty() ? "ai.onnx" : domain;
    opsets += ' ';
    opsets += std::to_string(v);
  }
  std::printf("producer    %s (ir_version %lld; opset %s)\n", r.producer.empty() ? "unknown" : r.producer.c_str(),
              static_cast<long long>(r.ir_version), opsets.c_str());
  std::printf("batch       %lld\n", static_cast<long long>(r.batch));
  for (size_t i = 0; i < r.inputs.size(); ++i)
    std::printf("%-11s %s  %s\n", i ? "" : "inputs", r.inputs[i].name.c_str(), describe(r.inputs[i]).c_str());
  for (size_t i = 0; i < r.outputs.size(); ++i)
    std::printf("%-11s %s  %s\n", i ? "" : "outputs", r.outputs[i].name.c_str(), describe(r.outputs[i]).c_str());
  const int64_t folded = r.nodes_in_file - static_cast<int64_t>(r.layers.size());
  if (r.optimized)
    std::printf("layers      %zu after the optimizer (%lld nodes in the file, %lld after constant folding alone)\n",
                r.layers.size(), static_cast<long long>(r.nodes_in_file), static_cast<long long>(r.layers_unoptimized));
  else if (folded > 0)
    std::printf("layers      %zu (%lld nodes in the file, %lld folded into constants at build time)\n", r.layers.size(),
                static_cast<long long>(r.nodes_in_file), static_cast<long long>(folded));
  else
    std::printf("layers      %zu\n", r.layers.size());
  std::printf("parameters  %s (%s)\n", si(static_cast<double>(r.parameters)).c_str(),
              bytes_str(static_cast<double>(r.parameter_bytes)).c_str());
  std::printf("FLOPs       %s per run of batch %lld (multiply-add = 2)\n", si(static_cast<double>(r.total_flops)).c_str(),
              static_cast<long long>(r.batch));
  if (r.optimized)
    std::printf("launches    %lld per inference, optimized (%lld unoptimized, %lld layers)\n",
                static_cast<long long>(r.launches), static_cast<long long>(r.launches_unoptimized),
                static_cast<long long>(r.layers_unoptimized));
  else
    std::printf("launches    %lld per inference\n", static_cast<long long>(r.launches));
  if (r.optimized) print_optimization(r);

  std::vector<std::pair<std::string, int64_t>> hist(r.op_histogram.begin(), r.op_histogram.end());
  std::stable_sort(hist.begin(), hist.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::printf("\nop histogram\n");
  for (const auto& [op, n] : hist) std::printf("  %-24s %lld\n", op.c_str(), static_cast<long long>(n));

  size_t name_w = 4, op_w = 2, in_w = 5, out_w = 6;
  for (const auto& l : r.layers) {
    name_w = std::max(name_w, l.name.size());
    op_w = std::max(op_w, l.op_type.size());
    in_w = std::max(in_w, shapes_of(l, false).size());
    const std::string outs = output_shapes(l);
    out_w = std::max(out_w, outs.size());
  }
  name_w = std::min<size_t>(name_w, 40);  // long exporter names would push the numbers off screen
  std::printf("\nlayers\n  %-4s %-*s %-*s %-*s %-*s %10s %9s  %s\n", "#", static_cast<int>(name_w), "name",
              static_cast<int>(op_w), "op", static_cast<int>(in_w), "input", static_cast<int>(out_w), "output",
              "FLOPs", "params", "weights");
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const LayerInfo& l = r.layers[i];
    const std::string outs = output_shapes(l);
    // Long exporter names keep their informative tail.
    const std::string name = l.name.size() > name_w ? "..." + l.name.substr(l.name.size() - (name_w - 3)) : l.name;
    std::printf("  %-4zu %-*s %-*s %-*s %-*s %10s %9s  %s\n", i, static_cast<int>(name_w), name.c_str(),
                static_cast<int>(op_w), l.op_type.c_str(), static_cast<int>(in_w), shapes_of(l, false).c_str(),
                static_cast<int>(out_w), outs.c_str(), si(static_cast<double>(l.flops)).c_str(),
                si(static_cast<double>(l.params)).c_str(), shapes_of(l, true).c_str());
  }
}

}  // namespace

int inspect_command(const Options& o) {
  Model model;
  BuildOptions bo;
  bool explicit_batch = false;
  if (auto e = load_model_and_options(o, &model, &bo, &explicit_batch)) return report_error("inspect", *e);
  InspectOptions io;
  io.optimized = o.optimized;
  auto rep = inspect(model, bo, io);
  if (!rep.ok()) return report_error("inspect", {kExitRuntime, rep.status().to_string()});
  int64_t batch = 1;
  if (auto e = check_batch(rep->inputs, bo.max_batch, explicit_batch, &batch)) return report_error("inspect", *e);
  rep->batch = batch;
  if (o.json) {
    std::fputs(report_json(*rep).c_str(), stdout);
  } else {
    print_text(*rep);
  }
  return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
}

}  // namespace quench::cli
