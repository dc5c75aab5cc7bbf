// quench's memory-bound kernels on the layer shapes of ResNet-50 and MobileNetV2:
//
//   pool/...         NHWC FP16 max pooling (ResNet-50's 3x3 stride-2 stem pool) and global average
//                    pooling (the ResNet-50 and MobileNetV2 heads) beside cuDNN's cudnnPoolingForward
//                    on the same NHWC FP16 tensors and window, at batch 1 and 32.
//   elementwise/...  residual adds (ResNet-50 with the ReLU fused, MobileNetV2 plain), a per-channel
//                    broadcast add and ReLU6 alone, at batch 1 and 32. No vendor baseline: the figure
//                    that matters is GB/s against the device-to-device copy ceiling measured in the
//                    same run (ceiling/d2d_copy; the summary prints the percentage).
//
// Timing as in kernel_bench.cpp (bench_util.h): CUDA-graph replay over buffer sets rotating through
// twice the L2, median of 15 samples. Counters: ours_us, base_us, ratio = base_us / ours_us (> 1:
// ours is faster), GBs (ours, over the minimum bytes: each input read once, the output written
// once), bytes, flops (0: these kernels have no arithmetic worth counting).
#include "bench/kernels/memory_bound_bench.h"

#include <benchmark/benchmark.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench/kernels/bench_util.h"
#include "kernels/elementwise/elementwise.cuh"
#include "kernels/pool/pool.cuh"

#if QUENCH_BENCH_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace quench::bench {
namespace {

namespace pl = kernels::pool;
namespace ew = kernels::elementwise;

// ---- state shared by these benchmarks, made on first use ---------------------------------------

struct MemContext {
  bool ready = false;
  std::string error;
  cudaStream_t stream = nullptr;
  size_t l2_bytes = 0;
#if QUENCH_BENCH_HAVE_CUDNN
  cudnnHandle_t dnn = nullptr;
#endif
};

MemContext& mem_ctx() {
  static MemContext c = [] {
    MemContext k;
    int dev = 0;
    cudaDeviceProp prop{};
    if (!cuda_ok(cudaGetDevice(&dev), "cudaGetDevice", &k.error) ||
        !cuda_ok(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties", &k.error) ||
        !cuda_ok(cudaStreamCreateWithFlags(&k.stream, cudaStreamNonBlocking), "cudaStreamCreate", &k.error))
      return k;
    k.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
#if QUENCH_BENCH_HAVE_CUDNN
    if (cudnnCreate(&k.dnn) != CUDNN_STATUS_SUCCESS) {
      k.error = "cudnnCreate failed";
      return k;
    }
    cudnnSetStream(k.dnn, k.stream);
#endif
    k.ready = true;
    return k;
  }();
  return c;
}

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

void report(benchmark::State& state, const Timing& ours, const Timing* base, double bytes, const std::string& label) {
  state.SetIterationTime(ours.median_us * 1e-6);
  state.counters["ours_us"] = ours.median_us;
  state.counters["flops"] = 0;
  state.counters["bytes"] = bytes;
  state.counters["GBs"] = bytes / (ours.median_us * 1e-6) / 1e9;
  if (base) {
    state.counters["base_us"] = base->median_us;
    state.counters["ratio"] = base->median_us / ours.median_us;
  }
  state.SetLabel(label);
}

// ---- pooling -----------------------------------------------------------------------------------

struct PoolShape {
  std::string net, layer;
  int batch = 1;
  int64_t h = 0, w = 0, c = 0;
  pl::PoolKind kind = pl::PoolKind::kMax;
  bool global = false;
  int kernel = 1, stride = 1, pad = 0;  // window pooling only
};

int64_t pooled(int64_t in, const PoolShape& s) { return (in + 2 * s.pad - s.kernel) / s.stride + 1; }

#if QUENCH_BENCH_HAVE_CUDNN
struct DnnPool {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnPoolingDescriptor_t pool = nullptr;
  ~DnnPool() {
    if (pool) cudnnDestroyPoolingDescriptor(pool);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

bool dnn_pool_setup(DnnPool& d, const PoolShape& s, int64_t oh, int64_t ow, std::string* err) {
  auto check = [&](cudnnStatus_t st, const char* what) {
    if (st == CUDNN_STATUS_SUCCESS) return true;
    *err = std::string("cuDNN ") + what + ": " + cudnnGetErrorString(st);
    return false;
  };
  const int n = s.batch, c = static_cast<int>(s.c), h = static_cast<int>(s.h), w = static_cast<int>(s.w);
  const int kh = s.global ? h : s.kernel, kw = s.global ? w : s.kernel;
  const int pad = s.global ? 0 : s.pad, stride = s.global ? 1 : s.stride;
  const cudnnPoolingMode_t mode =
      s.kind == pl::PoolKind::kMax ? CUDNN_POOLING_MAX : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  return check(cudnnCreateTensorDescriptor(&d.x), "x desc") && check(cudnnCreateTensorDescriptor(&d.y), "y desc") &&
         check(cudnnCreatePoolingDescriptor(&d.pool), "pool desc") &&
         check(cudnnSetTensor4dDescriptor(d.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, c, h, w), "x shape") &&
         check(cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, c, static_cast<int>(oh),
                                          static_cast<int>(ow)), "y shape") &&
         check(cudnnSetPooling2dDescriptor(d.pool, mode, CUDNN_NOT_PROPAGATE_NAN, kh, kw, pad, pad, stride, stride),
               "pooling");
}
#endif

void bench_pool(benchmark::State& state, const PoolShape& s) {
  MemContext& c = mem_ctx();
  if (!c.ready) return state.SkipWithError(c.error.c_str());
  std::string err;
  const int64_t oh = s.global ? 1 : pooled(s.h, s), ow = s.global ? 1 : pooled(s.w, s);
  const int64_t x_n = s.batch * s.h * s.w * s.c, y_n = s.batch * oh * ow * s.c;
  const size_t x_b = align_up(x_n * 2, 256), y_b = align_up(y_n * 2, 256);
  const size_t set_b = x_b + 2 * y_b;  // x, ours, cuDNN's
  const int sets = rotation_sets(x_b + y_b, 2 * c.l2_bytes);
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (pool sets)", &err)) return state.SkipWithError(err.c_str());
  auto off = [&](int set, size_t within) { return set * set_b + within; };
  for (int i = 0; i < sets; ++i)
    if (!cuda_ok(fill_random_half(mem.as<__half>(off(i, 0)), x_n, 11000 + i, -1, 1, c.stream), "fill", &err))
      return state.SkipWithError(err.c_str());

  std::function<bool(int, cudaStream_t, std::string*)> ours;
  int vec = 0;
  if (s.global) {
    pl::GlobalPoolArgs<__half> args;
    args.kind = s.kind;
    args.n = s.batch;
    args.hw = s.h * s.w;
    args.c = s.c;
    args.x = mem.as<__half>(0);
    args.y = mem.as<__half>(x_b);
    vec = pl::vector_width(args);
    ours = [&mem, args, off, x_b](int set, cudaStream_t st, std::string* e) {
      pl::GlobalPoolArgs<__half> a = args;
      a.x = mem.as<__half>(off(set, 0));
      a.y = mem.as<__half>(off(set, x_b));
      const Status status = pl::run(a, nullptr, st);
      if (!status.ok()) *e = status.message();
      return status.ok();
    };
  } else {
    pl::PoolArgs<__half> args;
    args.kind = s.kind;
    args.n = s.batch;
    args.h = s.h;
    args.w = s.w;
    args.c = s.c;
    args.out_h = oh;
    args.out_w = ow;
    args.kernel_h = args.kernel_w = s.kernel;
    args.stride_h = args.stride_w = s.stride;
    args.pad_top = args.pad_left = args.pad_bottom = args.pad_right = s.pad;
    args.x = mem.as<__half>(0);
    args.y = mem.as<__half>(x_b);
    vec = pl::vector_width(args);
    ours = [&mem, args, off, x_b](int set, cudaStream_t st, std::string* e) {
      pl::PoolArgs<__half> a = args;
      a.x = mem.as<__half>(off(set, 0));
      a.y = mem.as<__half>(off(set, x_b));
      const Status status = pl::run(a, nullptr, st);
      if (!status.ok()) *e = status.message();
      return status.ok();
    };
  }
  const double bytes = 2.0 * (x_n + y_n);
  std::ostringstream label;
  label << s.net << " b" << s.batch << " " << s.layer << " " << s.h << "x" << s.w << "x" << s.c << " -> " << oh << "x"
        << ow << "x" << s.c << " vec=" << vec << " sets=" << sets;
  for (auto _ : state) {
    Timing t_ours;
    if (!time_launches(ours, sets, c.stream, &t_ours, &err)) return state.SkipWithError(err.c_str());
#if QUENCH_BENCH_HAVE_CUDNN
    DnnPool d;
    if (!dnn_pool_setup(d, s, oh, ow, &err)) return state.SkipWithError(err.c_str());
    auto base = [&](int set, cudaStream_t st, std::string* e) {
      const float alpha = 1.0f, beta = 0.0f;
      cudnnSetStream(c.dnn, st);
      const cudnnStatus_t r = cudnnPoolingForward(c.dnn, d.pool, &alpha, d.x, mem.as<__half>(off(set, 0)), &beta, d.y,
                                                  mem.as<__half>(off(set, x_b + y_b)));
      if (r != CUDNN_STATUS_SUCCESS) *e = std::string("cudnnPoolingForward: ") + cudnnGetErrorString(r);
      return r == CUDNN_STATUS_SUCCESS;
    };
    Timing t_base;
    if (!time_launches(base, sets, c.stream, &t_base, &err)) return state.SkipWithError(err.c_str());
    label << " base=cudnnPoolingForward" << (t_ours.graph && t_base.graph ? "" : " (host-launched)");
    report(state, t_ours, &t_base, bytes, label.str());
#else
    label << " base=none (no cuDNN)";
    report(state, t_ours, nullptr, bytes, label.str());
#endif
  }
}

std::vector<PoolShape> pool_shapes() {
  std::vector<PoolShape> out;
  for (int batch : {1, 32}) {
    PoolShape stem;
    stem.net = "resnet50";
    stem.layer = "stem_maxpool";
    stem.batch = batch;
    stem.h = stem.w = 112;
    stem.c = 64;
    stem.kind = pl::PoolKind::kMax;
    stem.kernel = 3;
    stem.stride = 2;
    stem.pad = 1;
    out.push_back(stem);
    for (auto [net, c] : {std::pair<const char*, int64_t>{"resnet50", 2048}, {"mobilenetv2", 1280}}) {
      PoolShape g;
      g.net = net;
      g.layer = "global_avgpool";
      g.batch = batch;
      g.h = g.w = 7;
      g.c = c;
      g.kind = pl::PoolKind::kAverage;
      g.global = true;
      out.push_back(g);
    }
  }
  return out;
}

std::string pool_name(const PoolShape& s) {
  std::ostringstream os;
  os << "pool/" << s.net << "/b" << s.batch << "/" << s.layer << "/h" << s.h << "_w" << s.w << "_c" << s.c;
  return os.str();
}

// ---- elementwise -------------------------------------------------------------------------------

enum class EwKind { kResidual, kChannelBias, kActivation };

struct EwShape {
  std::string net, layer;
  int batch = 1;
  int64_t h = 0, w = 0, c = 0;
  EwKind kind = EwKind::kResidual;
  kernels::EpilogueParams act;
};

void bench_elementwise(benchmark::State& state, const EwShape& s) {
  MemContext& c = mem_ctx();
  if (!c.ready) return state.SkipWithError(c.error.c_str());
  std::string err;
  const int64_t n = s.batch * s.h * s.w * s.c;
  const int64_t b_n = s.kind == EwKind::kResidual ? n : s.kind == EwKind::kChannelBias ? s.c : 0;
  const size_t a_b = align_up(n * 2, 256), b_b = align_up(b_n * 2 + 2, 256), y_b = a_b;
  const size_t set_b = a_b + b_b + y_b;
  const int sets = rotation_sets(set_b, 2 * c.l2_bytes);
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (elementwise sets)", &err)) return state.SkipWithError(err.c_str());
  auto off = [&](int set, size_t within) { return set * set_b + within; };
  for (int i = 0; i < sets; ++i) {
    bool ok = cuda_ok(fill_random_half(mem.as<__half>(off(i, 0)), n, 12000 + i, -1, 1, c.stream), "fill", &err);
    if (ok && b_n > 0)
      ok = cuda_ok(fill_random_half(mem.as<__half>(off(i, a_b)), b_n, 13000 + i, -1, 1, c.stream), "fill", &err);
    if (!ok) return state.SkipWithError(err.c_str());
  }
  std::function<bool(int, cudaStream_t, std::string*)> ours;
  int vec = 0;
  if (s.kind == EwKind::kActivation) {
    ew::UnaryArgs<__half> args;
    args.count = n;
    args.activation = s.act;
    args.x = mem.as<__half>(0);
    args.y = mem.as<__half>(a_b + b_b);
    vec = ew::vector_width(args);
    ours = [&mem, args, off, a_b, b_b](int set, cudaStream_t st, std::string* e) {
      ew::UnaryArgs<__half> a = args;
      a.x = mem.as<__half>(off(set, 0));
      a.y = mem.as<__half>(off(set, a_b + b_b));
      const Status status = ew::run(a, nullptr, st);
      if (!status.ok()) *e = status.message();
      return status.ok();
    };
  } else {
    ew::BinaryArgs<__half> args;
    args.op = ew::BinaryOp::kAdd;
    args.a_shape = ew::Dims::of({s.batch, s.h, s.w, s.c});
    args.b_shape = s.kind == EwKind::kResidual ? args.a_shape : ew::Dims::of({s.c});
    args.activation = s.act;
    args.a = mem.as<__half>(0);
    args.b = mem.as<__half>(a_b);
    args.y = mem.as<__half>(a_b + b_b);
    vec = ew::vector_width(args);
    ours = [&mem, args, off, a_b, b_b](int set, cudaStream_t st, std::string* e) {
      ew::BinaryArgs<__half> a = args;
      a.a = mem.as<__half>(off(set, 0));
      a.b = mem.as<__half>(off(set, a_b));
      a.y = mem.as<__half>(off(set, a_b + b_b));
      const Status status = ew::run(a, nullptr, st);
      if (!status.ok()) *e = status.message();
      return status.ok();
    };
  }
  const double bytes = 2.0 * (2 * n + b_n);
  std::ostringstream label;
  label << s.net << " b" << s.batch << " " << s.layer << " " << s.h << "x" << s.w << "x" << s.c << " "
        << kernels::activation_name(s.act.activation) << " vec=" << vec << " sets=" << sets
        << " base=none (see % of copy BW)";
  for (auto _ : state) {
    Timing t;
    if (!time_launches(ours, sets, c.stream, &t, &err)) return state.SkipWithError(err.c_str());
    report(state, t, nullptr, bytes, label.str() + (t.graph ? "" : " (host-launched)"));
  }
}

std::vector<EwShape> elementwise_shapes() {
  struct L {
    const char* net;
    const char* layer;
    int64_t hw, c;
    EwKind kind;
    kernels::Activation act;
  };
  using A = kernels::Activation;
  const L layers[] = {
      {"resnet50", "c2_residual_relu", 56, 256, EwKind::kResidual, A::kRelu},
      {"resnet50", "c3_residual_relu", 28, 512, EwKind::kResidual, A::kRelu},
      {"resnet50", "c4_residual_relu", 14, 1024, EwKind::kResidual, A::kRelu},
      {"resnet50", "c5_residual_relu", 7, 2048, EwKind::kResidual, A::kRelu},
      {"mobilenetv2", "b2_residual", 56, 24, EwKind::kResidual, A::kNone},
      {"mobilenetv2", "b4_residual", 28, 32, EwKind::kResidual, A::kNone},
      {"mobilenetv2", "b8_residual", 14, 64, EwKind::kResidual, A::kNone},
      {"mobilenetv2", "b12_residual", 14, 96, EwKind::kResidual, A::kNone},
      {"mobilenetv2", "b15_residual", 7, 160, EwKind::kResidual, A::kNone},
      {"mobilenetv2", "stem_channel_bias", 112, 32, EwKind::kChannelBias, A::kNone},
      {"mobilenetv2", "b2_expand_relu6", 112, 96, EwKind::kActivation, A::kClip},
  };
  std::vector<EwShape> out;
  for (int batch : {1, 32}) {
    for (const L& l : layers) {
      EwShape s;
      s.net = l.net;
      s.layer = l.layer;
      s.batch = batch;
      s.h = s.w = l.hw;
      s.c = l.c;
      s.kind = l.kind;
      s.act = l.act == A::kClip ? kernels::EpilogueParams::relu6() : kernels::EpilogueParams{};
      s.act.activation = l.act;
      out.push_back(s);
    }
  }
  return out;
}

std::string elementwise_name(const EwShape& s) {
  std::ostringstream os;
  os << "elementwise/" << s.net << "/b" << s.batch << "/" << s.layer << "/h" << s.h << "_w" << s.w << "_c" << s.c;
  return os.str();
}

}  // namespace

void register_memory_bound_benchmarks() {
  for (const PoolShape& s : pool_shapes()) {
    benchmark::RegisterBenchmark(pool_name(s).c_str(), [s](benchmark::State& st) { bench_pool(st, s); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  }
  for (const EwShape& s : elementwise_shapes()) {
    benchmark::RegisterBenchmark(elementwise_name(s).c_str(), [s](benchmark::State& st) { bench_elementwise(st, s); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace quench::bench
