// The fused depthwise-separable kernel (kernels/fused/dw_pw) beside the unfused sequence it
// replaces, on the same buffers:
//
//   dw_pw/...          ours: one dw_pw launch (depthwise 3x3 + bias + ReLU6, kept on chip, then the
//                      pointwise 1x1 + bias); base: kernels/depthwise writing the intermediate
//                      tensor, then kernels/conv's 1x1 (GEMM path) reading it. MobileNetV2's
//                      depthwise + project layers (the first block's is a DwPwConv node; in the
//                      others the same pair is an InvertedResidual's second half), batch 1 and 32.
//   dw_pw_variant/...  pinned tiles at batch 32: data for replacing dw_pw::plan's guess.
//
// Timing as in kernel_bench.cpp (bench_util.h): CUDA-graph replay over buffer sets rotating through
// twice the L2, median of 15 samples. Counters: ours_us, base_us, ratio = base_us / ours_us (> 1:
// fused is faster; issue 5's target is >= 1.5), saved_bytes (the intermediate written and read
// once: what fusion removes), bytes (fused minimum: x, both weights, biases, y once each), GBs
// (ours, over bytes), flops (depthwise + pointwise multiply-adds, x2).
#include "bench/kernels/dw_pw_bench.h"

#include <benchmark/benchmark.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench/kernels/bench_util.h"
#include "kernels/conv/conv.cuh"
#include "kernels/depthwise/depthwise.cuh"
#include "kernels/fused/dw_pw.cuh"

namespace quench::bench {
namespace {

namespace fz = kernels::dw_pw;
namespace dw = kernels::depthwise;
namespace conv = kernels::conv;

struct DwPwContext {
  bool ready = false;
  std::string error;
  cudaStream_t stream = nullptr;
  size_t l2_bytes = 0;
  int sms = 0;
};

DwPwContext& dw_pw_ctx() {
  static DwPwContext c = [] {
    DwPwContext k;
    int dev = 0;
    cudaDeviceProp prop{};
    if (!cuda_ok(cudaGetDevice(&dev), "cudaGetDevice", &k.error) ||
        !cuda_ok(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties", &k.error) ||
        !cuda_ok(cudaStreamCreateWithFlags(&k.stream, cudaStreamNonBlocking), "cudaStreamCreate", &k.error))
      return k;
    k.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
    k.sms = prop.multiProcessorCount;
    k.ready = true;
    return k;
  }();
  return c;
}

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

struct DwPwBenchShape {
  std::string layer;
  int64_t n = 1, hw = 1, c = 8, out_c = 8;
  int stride = 1;
  fz::Tile tile = fz::Tile::kAuto;
  std::string variant;
};

// MobileNetV2 (width 1.0, 224x224): each block's depthwise 3x3 (on the expanded channels) and
// its linear 1x1 projection.
std::vector<DwPwBenchShape> dw_pw_shapes() {
  struct L {
    const char* layer;
    int64_t hw, c, out_c;
    int stride;
  };
  const L layers[] = {
      {"b1_112x32_to16", 112, 32, 16, 1},   {"b2_112x96_to24_s2", 112, 96, 24, 2},
      {"b3_56x144_to24", 56, 144, 24, 1},   {"b4_56x144_to32_s2", 56, 144, 32, 2},
      {"b5_28x192_to32", 28, 192, 32, 1},   {"b7_28x192_to64_s2", 28, 192, 64, 2},
      {"b8_14x384_to64", 14, 384, 64, 1},   {"b11_14x384_to96", 14, 384, 96, 1},
      {"b12_14x576_to96", 14, 576, 96, 1},  {"b14_14x576_to160_s2", 14, 576, 160, 2},
      {"b15_7x960_to160", 7, 960, 160, 1},  {"b17_7x960_to320", 7, 960, 320, 1},
  };
  std::vector<DwPwBenchShape> out;
  for (int64_t batch : {1, 32})
    for (const L& l : layers) {
      DwPwBenchShape b;
      b.layer = l.layer;
      b.n = batch;
      b.hw = l.hw;
      b.c = l.c;
      b.out_c = l.out_c;
      b.stride = l.stride;
      out.push_back(b);
    }
  return out;
}

std::vector<DwPwBenchShape> dw_pw_variants() {
  std::vector<DwPwBenchShape> out;
  for (const DwPwBenchShape& b : dw_pw_shapes()) {
    if (b.n != 32) continue;
    for (auto [tile, name] : {std::pair{fz::Tile::k64x64x64, "tile64x64"}, std::pair{fz::Tile::k64x128x64, "tile64x128"}}) {
      DwPwBenchShape v = b;
      v.tile = tile;
      v.variant = name;
      out.push_back(v);
    }
  }
  return out;
}

std::string dw_pw_name(const DwPwBenchShape& b) {
  std::ostringstream os;
  os << (b.variant.empty() ? "dw_pw/" : "dw_pw_variant/") << "mobilenetv2/b" << b.n << "/" << b.layer;
  if (!b.variant.empty()) os << "/" << b.variant;
  return os.str();
}

void bench_dw_pw(benchmark::State& state, const DwPwBenchShape& b) {
  DwPwContext& c = dw_pw_ctx();
  if (!c.ready) return state.SkipWithError(c.error.c_str());
  std::string err;

  fz::DwPwArgs<__half> args;
  args.n = b.n;
  args.h = args.w = b.hw;
  args.c = b.c;
  args.out_c = b.out_c;
  args.kernel = 3;
  args.stride = b.stride;
  // PyTorch's padding 1 on both sides (ONNX export of MobileNetV2).
  args.pad_top = args.pad_left = args.pad_bottom = args.pad_right = 1;
  args.dw_epilogue = kernels::EpilogueParams::relu6();
  args.tile = b.tile;
  const int64_t oh = fz::out_h(args), ow = fz::out_w(args), m = b.n * oh * ow;
  const int64_t x_n = b.n * b.hw * b.hw * b.c, mid_n = m * b.c, y_n = m * b.out_c;
  const int64_t wd_n = 9 * b.c, wp_n = b.out_c * b.c;
  const size_t x_b = align_up(x_n * 2, 256), mid_b = align_up(mid_n * 2, 256), y_b = align_up(y_n * 2, 256);
  const size_t wd_b = align_up(wd_n * 2, 256), wp_b = align_up(wp_n * 2, 256);
  const size_t bd_b = align_up(b.c * 4, 256), bp_b = align_up(b.out_c * 4, 256);
  // One set: x, y (ours), mid and y (unfused), weights, biases.
  const size_t at_y = x_b, at_mid = at_y + y_b, at_y2 = at_mid + mid_b, at_wd = at_y2 + y_b, at_wp = at_wd + wd_b,
               at_bd = at_wp + wp_b, at_bp = at_bd + bd_b, set_b = at_bp + bp_b;
  const int sets = rotation_sets(x_b + y_b + wd_b + wp_b, 2 * c.l2_bytes);
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (dw_pw sets)", &err)) return state.SkipWithError(err.c_str());
  auto at = [&](int set, size_t within) { return set * set_b + within; };
  for (int i = 0; i < sets; ++i) {
    const bool ok =
        cuda_ok(fill_random_half(mem.as<__half>(at(i, 0)), x_n, 11000 + i, -1, 1, c.stream), "fill", &err) &&
        cuda_ok(fill_random_half(mem.as<__half>(at(i, at_wd)), wd_n, 12000 + i, -0.5f, 0.5f, c.stream), "fill", &err) &&
        cuda_ok(fill_random_half(mem.as<__half>(at(i, at_wp)), wp_n, 13000 + i, -0.1f, 0.1f, c.stream), "fill", &err) &&
        cuda_ok(fill_random_float(mem.as<float>(at(i, at_bd)), b.c, 14000 + i, -1, 1, c.stream), "fill", &err) &&
        cuda_ok(fill_random_float(mem.as<float>(at(i, at_bp)), b.out_c, 15000 + i, -1, 1, c.stream), "fill", &err);
    if (!ok) return state.SkipWithError(err.c_str());
  }
  auto bind_fused = [&](int set) {
    fz::DwPwArgs<__half> a = args;
    a.x = mem.as<__half>(at(set, 0));
    a.y = mem.as<__half>(at(set, at_y));
    a.dw_weight = mem.as<__half>(at(set, at_wd));
    a.pw_weight = mem.as<__half>(at(set, at_wp));
    a.dw_bias = mem.as<float>(at(set, at_bd));
    a.pw_bias = mem.as<float>(at(set, at_bp));
    return a;
  };
  {
    const Status ok = fz::can_implement(bind_fused(0));
    if (!ok.ok()) return state.SkipWithError(ok.message().c_str());
  }

  // The unfused sequence's arguments (same weights: the 1x1's packed form is [Cout][C]).
  dw::DepthwiseArgs<__half> da;
  da.n = b.n;
  da.h = da.w = b.hw;
  da.c = b.c;
  da.kernel = 3;
  da.stride = b.stride;
  da.pad_top = da.pad_left = da.pad_bottom = da.pad_right = 1;
  da.epilogue = args.dw_epilogue;
  conv::ConvArgs<__half> ca;
  ca.shape.n = b.n;
  ca.shape.h = oh;
  ca.shape.w = ow;
  ca.shape.c = b.c;
  ca.shape.out_c = b.out_c;
  auto bind_unfused = [&](int set, dw::DepthwiseArgs<__half>* d, conv::ConvArgs<__half>* p) {
    *d = da;
    d->x = mem.as<__half>(at(set, 0));
    d->weight = mem.as<__half>(at(set, at_wd));
    d->bias = mem.as<float>(at(set, at_bd));
    d->y = mem.as<__half>(at(set, at_mid));
    *p = ca;
    p->x = d->y;
    p->weight = mem.as<__half>(at(set, at_wp));
    p->bias = mem.as<float>(at(set, at_bp));
    p->y = mem.as<__half>(at(set, at_y2));
  };
  {
    dw::DepthwiseArgs<__half> d;
    conv::ConvArgs<__half> p;
    bind_unfused(0, &d, &p);
    const Status ok = conv::can_implement(p);
    if (!ok.ok()) return state.SkipWithError(ok.message().c_str());
  }
  DeviceMemory workspace(conv::workspace_bytes(ca, c.sms));
  if (!cuda_ok(workspace.status(), "cudaMalloc (conv workspace)", &err)) return state.SkipWithError(err.c_str());
  {
    const Status init = conv::initialize_workspace(ca, workspace.get(), c.stream);
    if (!init.ok()) return state.SkipWithError(init.message().c_str());
  }

  auto ours = [&](int set, cudaStream_t st, std::string* e) {
    const Status status = fz::run(bind_fused(set), nullptr, st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };
  auto base = [&](int set, cudaStream_t st, std::string* e) {
    dw::DepthwiseArgs<__half> d;
    conv::ConvArgs<__half> p;
    bind_unfused(set, &d, &p);
    Status status = dw::run(d, nullptr, st);
    if (status.ok()) status = conv::run(p, workspace.get(), st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };

  const double flops = 2.0 * (static_cast<double>(mid_n) * 9 + static_cast<double>(m) * b.c * b.out_c);
  const double bytes = 2.0 * (x_n + wd_n + wp_n + y_n) + 4.0 * (b.c + b.out_c);
  const double saved = 2.0 * 2.0 * mid_n;  // the intermediate, written once and read once
  std::ostringstream label;
  label << "mobilenetv2 b" << b.n << " " << b.hw << "x" << b.hw << "x" << b.c << " dw3x3 s" << b.stride << " -> " << oh
        << "x" << ow << "x" << b.out_c << " tile=" << fz::tile_name(fz::plan(args, c.sms)) << " sets=" << sets;

  for (auto _ : state) {
    Timing t_ours, t_base;
    if (!time_launches(ours, sets, c.stream, &t_ours, &err)) return state.SkipWithError(err.c_str());
    if (!time_launches(base, sets, c.stream, &t_base, &err)) return state.SkipWithError(err.c_str());
    state.SetIterationTime(t_ours.median_us * 1e-6);
    state.counters["ours_us"] = t_ours.median_us;
    state.counters["base_us"] = t_base.median_us;
    state.counters["ratio"] = t_base.median_us / t_ours.median_us;
    state.counters["flops"] = flops;
    state.counters["bytes"] = bytes;
    state.counters["saved_bytes"] = saved;
    state.counters["GBs"] = bytes / (t_ours.median_us * 1e-6) / 1e9;
    state.counters["TFLOPs"] = flops / (t_ours.median_us * 1e-6) / 1e12;
    if (!(t_ours.graph && t_base.graph)) label << " (host-launched)";
    state.SetLabel(label.str());
  }
}

}  // namespace

void register_dw_pw_benchmarks() {
  std::vector<DwPwBenchShape> all = dw_pw_shapes();
  for (const DwPwBenchShape& v : dw_pw_variants()) all.push_back(v);
  for (const DwPwBenchShape& b : all) {
    benchmark::RegisterBenchmark(dw_pw_name(b).c_str(), [b](benchmark::State& st) { bench_dw_pw(st, b); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace quench::bench
