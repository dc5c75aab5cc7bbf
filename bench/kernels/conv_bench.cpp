// quench's implicit-GEMM convolution (kernels/conv) beside cuDNN on the same shapes:
//
//   conv/...          ours (bias + ReLU fused, automatic path, tile and K split) vs cuDNN FP16 NHWC
//                     (FP32 accumulation; the fastest (algorithm, math mode) that
//                     cudnnFindConvolutionForwardAlgorithmEx measures on the real buffers; convolution
//                     only, since cuDNN would need another kernel for bias + ReLU, so the ratio is
//                     conservative) on ResNet-50's 3x3 layers, its 7x7 stem and strided 1x1
//                     downsamples (torchvision v1.5: stride in the 3x3) and the MobileNetV2 stem, at
//                     batch 1 and 32.
//   conv_variant/...  pinned tiles, K splits and the general (element-wise) gather on shapes where
//                     the automatic choice is least obvious: data for measured tactic selection.
//
// Timing as in kernel_bench.cpp (bench_util.h): CUDA-graph replay over buffer sets rotating through
// twice the L2, median of 15 samples. Counters: ours_us, base_us, ratio = base_us / ours_us (> 1:
// ours is faster), TFLOPs and GBs (ours; bytes = input, weight and output once each), flops, bytes.
#include "bench/kernels/conv_bench.h"

#include <benchmark/benchmark.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench/kernels/bench_util.h"
#include "kernels/conv/conv.cuh"

#if QUENCH_BENCH_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace quench::bench {
namespace {

namespace conv = kernels::conv;

// ---- state shared by the conv benchmarks, made on first use ------------------------------------

struct ConvContext {
  bool ready = false;
  std::string error;
  cudaStream_t stream = nullptr;
  size_t l2_bytes = 0;
  int sms = 0;
#if QUENCH_BENCH_HAVE_CUDNN
  cudnnHandle_t dnn = nullptr;
  std::unique_ptr<DeviceMemory> dnn_workspace;
  static constexpr size_t kDnnWorkspace = 256u << 20;
#endif
};

ConvContext& conv_ctx() {
  static ConvContext c = [] {
    ConvContext k;
    int dev = 0;
    cudaDeviceProp prop{};
    if (!cuda_ok(cudaGetDevice(&dev), "cudaGetDevice", &k.error) ||
        !cuda_ok(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties", &k.error) ||
        !cuda_ok(cudaStreamCreateWithFlags(&k.stream, cudaStreamNonBlocking), "cudaStreamCreate", &k.error))
      return k;
    k.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
    k.sms = prop.multiProcessorCount;
#if QUENCH_BENCH_HAVE_CUDNN
    if (cudnnCreate(&k.dnn) != CUDNN_STATUS_SUCCESS) {
      k.error = "cudnnCreate failed";
      return k;
    }
    k.dnn_workspace = std::make_unique<DeviceMemory>(ConvContext::kDnnWorkspace);
    if (!cuda_ok(k.dnn_workspace->status(), "cudaMalloc (cuDNN workspace)", &k.error)) return k;
#endif
    k.ready = true;
    return k;
  }();
  return c;
}

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// ---- shapes --------------------------------------------------------------------------------------

struct ConvBenchShape {
  std::string net, layer;
  conv::ConvShape s;
  conv::Path path = conv::Path::kAuto;  // variants pin these
  conv::Tile tile = conv::Tile::kAuto;
  int split_k = 0;
  std::string variant;
};

ConvBenchShape square_conv(std::string net, std::string layer, int batch, int64_t hw, int64_t c, int64_t out_c, int k,
                           int stride, int pad) {
  ConvBenchShape b;
  b.net = std::move(net);
  b.layer = std::move(layer);
  b.s.n = batch;
  b.s.h = b.s.w = hw;
  b.s.c = c;
  b.s.out_c = out_c;
  b.s.kernel_h = b.s.kernel_w = k;
  b.s.stride_h = b.s.stride_w = stride;
  b.s.pad_top = b.s.pad_left = b.s.pad_bottom = b.s.pad_right = pad;
  return b;
}

// ResNet-50 (torchvision v1.5) convolutions that are not plain GEMMs, and the MobileNetV2 stem.
std::vector<ConvBenchShape> conv_shapes() {
  struct L {
    const char* net;
    const char* layer;
    int64_t hw, c, out_c;
    int k, stride, pad;
  };
  const L layers[] = {
      {"resnet50", "stem_7x7", 224, 3, 64, 7, 2, 3},
      {"resnet50", "c2_3x3", 56, 64, 64, 3, 1, 1},
      {"resnet50", "c3_3x3_s2", 56, 128, 128, 3, 2, 1},
      {"resnet50", "c3_3x3", 28, 128, 128, 3, 1, 1},
      {"resnet50", "c4_3x3_s2", 28, 256, 256, 3, 2, 1},
      {"resnet50", "c4_3x3", 14, 256, 256, 3, 1, 1},
      {"resnet50", "c5_3x3_s2", 14, 512, 512, 3, 2, 1},
      {"resnet50", "c5_3x3", 7, 512, 512, 3, 1, 1},
      {"resnet50", "c3_down_1x1_s2", 56, 256, 512, 1, 2, 0},
      {"resnet50", "c4_down_1x1_s2", 28, 512, 1024, 1, 2, 0},
      {"resnet50", "c5_down_1x1_s2", 14, 1024, 2048, 1, 2, 0},
      {"mobilenetv2", "stem_3x3_s2", 224, 3, 32, 3, 2, 1},
  };
  std::vector<ConvBenchShape> out;
  for (int batch : {1, 32})
    for (const L& l : layers) out.push_back(square_conv(l.net, l.layer, batch, l.hw, l.c, l.out_c, l.k, l.stride, l.pad));
  return out;
}

std::vector<ConvBenchShape> conv_variants() {
  std::vector<ConvBenchShape> out;
  for (const ConvBenchShape& b : conv_shapes()) {
    const bool is_3x3 = b.s.kernel_h == 3 && b.net == "resnet50";
    if (b.s.n == 32 && is_3x3) {
      for (auto [tile, name] : {std::pair{conv::Tile::k128x128x32, "tile128x128"}, std::pair{conv::Tile::k128x64x64, "tile128x64"},
                                std::pair{conv::Tile::k64x64x64, "tile64x64"}}) {
        ConvBenchShape v = b;
        v.tile = tile;
        v.split_k = 1;
        v.variant = name;
        out.push_back(v);
      }
    }
    if (b.s.n == 1 && is_3x3) {
      ConvBenchShape v = b;
      v.split_k = 1;
      v.variant = "split1";
      out.push_back(v);
    }
    if (b.s.n == 32 && (b.layer == "c2_3x3" || b.layer == "c4_3x3")) {
      ConvBenchShape v = b;  // what the element-wise gather costs where the 16-byte one applies
      v.path = conv::Path::kImplicitGeneral;
      v.variant = "general_gather";
      out.push_back(v);
    }
  }
  return out;
}

std::string conv_name(const ConvBenchShape& b) {
  std::ostringstream os;
  os << (b.variant.empty() ? "conv/" : "conv_variant/") << b.net << "/b" << b.s.n << "/" << b.layer << "/h" << b.s.h << "_c"
     << b.s.c << "_k" << b.s.out_c << "_r" << b.s.kernel_h << "_s" << b.s.stride_h;
  if (!b.variant.empty()) os << "/" << b.variant;
  return os.str();
}

// ---- cuDNN ---------------------------------------------------------------------------------------

#if QUENCH_BENCH_HAVE_CUDNN
struct DnnConv {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo{};
  size_t ws = 0;
  std::string algo_name;
  ~DnnConv() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

// NHWC FP16 tensors and KRSC filter, FP32 accumulation; the fastest (algorithm, math mode) measured
// by cudnnFindConvolutionForwardAlgorithmEx on these buffers.
bool dnn_setup(DnnConv& d, const conv::ConvShape& s, const void* x, const void* w, void* y, std::string* err) {
  auto check = [&](cudnnStatus_t st, const char* what) {
    if (st == CUDNN_STATUS_SUCCESS) return true;
    *err = std::string("cuDNN ") + what + ": " + cudnnGetErrorString(st);
    return false;
  };
  ConvContext& c = conv_ctx();
  const int n = static_cast<int>(s.n), ch = static_cast<int>(s.c), h = static_cast<int>(s.h), wd = static_cast<int>(s.w);
  const int k = static_cast<int>(s.out_c), oh = static_cast<int>(conv::out_h(s)), ow = static_cast<int>(conv::out_w(s));
  if (!check(cudnnCreateTensorDescriptor(&d.x), "x desc") || !check(cudnnCreateTensorDescriptor(&d.y), "y desc") ||
      !check(cudnnCreateFilterDescriptor(&d.w), "w desc") || !check(cudnnCreateConvolutionDescriptor(&d.conv), "conv desc"))
    return false;
  if (!check(cudnnSetTensor4dDescriptor(d.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, ch, h, wd), "x shape") ||
      !check(cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, k, oh, ow), "y shape") ||
      !check(cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, k, ch / s.groups, s.kernel_h, s.kernel_w),
             "w shape") ||
      !check(cudnnSetConvolution2dDescriptor(d.conv, s.pad_top, s.pad_left, s.stride_h, s.stride_w, s.dilation_h,
                                             s.dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
             "conv") ||
      !check(cudnnSetConvolutionGroupCount(d.conv, s.groups), "groups"))
    return false;
  cudnnSetStream(c.dnn, c.stream);
  float best = 1e30f;
  bool found = false;
  cudnnMathType_t best_math = CUDNN_DEFAULT_MATH;
  for (cudnnMathType_t math : {CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH}) {
    if (!check(cudnnSetConvolutionMathType(d.conv, math), "math type")) return false;
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    if (!check(cudnnFindConvolutionForwardAlgorithmEx(c.dnn, d.x, x, d.w, w, d.conv, d.y, y,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf,
                                                      c.dnn_workspace->get(), ConvContext::kDnnWorkspace),
               "find"))
      return false;
    for (int i = 0; i < returned; ++i) {
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].time >= 0 && perf[i].memory <= ConvContext::kDnnWorkspace &&
          perf[i].time < best) {
        best = perf[i].time;
        d.algo = perf[i].algo;
        d.ws = perf[i].memory;
        best_math = math;
        found = true;
      }
    }
  }
  if (!found) {
    *err = "cuDNN: no forward algorithm for this convolution";
    return false;
  }
  d.algo_name = "algo" + std::to_string(static_cast<int>(d.algo)) + (best_math == CUDNN_TENSOR_OP_MATH ? "_tensorop" : "_default");
  return check(cudnnSetConvolutionMathType(d.conv, best_math), "math type");
}
#endif

// ---- the benchmark -------------------------------------------------------------------------------

void bench_conv(benchmark::State& state, const ConvBenchShape& b) {
  ConvContext& c = conv_ctx();
  if (!c.ready) return state.SkipWithError(c.error.c_str());
  std::string err;
  const conv::ConvShape& s = b.s;
  const int64_t oh = conv::out_h(s), ow = conv::out_w(s);
  const int64_t x_n = s.n * s.h * s.w * s.c, y_n = s.n * oh * ow * s.out_c;
  const int64_t w_n = conv::packed_weight_count(s);                                    // ours (K padded to 8)
  const int64_t dnn_w_n = s.out_c * s.kernel_h * s.kernel_w * (s.c / s.groups);       // cuDNN's KRSC
  const size_t x_b = align_up(x_n * 2, 256), y_b = align_up(y_n * 2, 256), w_b = align_up(w_n * 2, 256);
  const size_t dw_b = align_up(dnn_w_n * 2, 256), bias_b = align_up(s.out_c * 4, 256);
  // One set: x, y (ours), y (cuDNN), packed weight, cuDNN weight, bias.
  const size_t set_b = x_b + 2 * y_b + w_b + dw_b + bias_b;
  const int sets = rotation_sets(x_b + y_b + w_b, 2 * c.l2_bytes);
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (conv sets)", &err)) return state.SkipWithError(err.c_str());
  auto off = [&](int set, size_t within) { return set * set_b + within; };
  const size_t at_w = x_b + 2 * y_b, at_dw = at_w + w_b, at_bias = at_dw + dw_b;
  for (int i = 0; i < sets; ++i) {
    const bool ok =
        cuda_ok(fill_random_half(mem.as<__half>(off(i, 0)), x_n, 7000 + i, -1, 1, c.stream), "fill", &err) &&
        cuda_ok(fill_random_half(mem.as<__half>(off(i, at_w)), w_n, 8000 + i, -1, 1, c.stream), "fill", &err) &&
        cuda_ok(fill_random_half(mem.as<__half>(off(i, at_dw)), dnn_w_n, 8000 + i, -1, 1, c.stream), "fill", &err) &&
        cuda_ok(fill_random_float(mem.as<float>(off(i, at_bias)), s.out_c, 9000 + i, -1, 1, c.stream), "fill", &err);
    if (!ok) return state.SkipWithError(err.c_str());
  }

  conv::ConvArgs<__half> args;
  args.shape = s;
  args.x = mem.as<__half>(off(0, 0));
  args.y = mem.as<__half>(off(0, x_b));
  args.weight = mem.as<__half>(off(0, at_w));
  args.bias = mem.as<float>(off(0, at_bias));
  args.epilogue.activation = kernels::Activation::kRelu;
  args.path = b.path;
  args.tile = b.tile;
  args.split_k = b.split_k;
  {
    const Status ok = conv::can_implement(args);
    if (!ok.ok()) return state.SkipWithError(ok.message().c_str());
  }
  const conv::ConvPlan plan = conv::plan(args, c.sms);
  DeviceMemory workspace(conv::workspace_bytes(args, c.sms));
  if (!cuda_ok(workspace.status(), "cudaMalloc (conv workspace)", &err)) return state.SkipWithError(err.c_str());
  {
    const Status init = conv::initialize_workspace(args, workspace.get(), c.stream);
    if (!init.ok()) return state.SkipWithError(init.message().c_str());
  }
  auto ours = [&](int set, cudaStream_t st, std::string* e) {
    conv::ConvArgs<__half> a = args;
    a.x = mem.as<__half>(off(set, 0));
    a.y = mem.as<__half>(off(set, x_b));
    a.weight = mem.as<__half>(off(set, at_w));
    a.bias = mem.as<float>(off(set, at_bias));
    const Status status = conv::run(a, workspace.get(), st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };
  const int64_t m = s.n * oh * ow, k = conv::gemm_k(s);
  const double flops = 2.0 * m * s.out_c * k, bytes = 2.0 * (x_n + dnn_w_n + y_n);
  std::ostringstream label;
  label << b.net << " b" << s.n << " " << b.layer << " " << s.h << "x" << s.w << "x" << s.c << " -> " << oh << "x" << ow
        << "x" << s.out_c << " M=" << m << " N=" << s.out_c << " K=" << k << " path=" << conv::path_name(plan.path)
        << " tile="
        << (plan.path == conv::Path::kGemm ? kernels::gemm::tile_name(plan.gemm_tile) : conv::tile_name(plan.tile))
        << " split_k=" << plan.split_k << " sets=" << sets;

  for (auto _ : state) {
    Timing t_ours;
    if (!time_launches(ours, sets, c.stream, &t_ours, &err)) return state.SkipWithError(err.c_str());
    state.SetIterationTime(t_ours.median_us * 1e-6);
    state.counters["ours_us"] = t_ours.median_us;
    state.counters["flops"] = flops;
    state.counters["bytes"] = bytes;
    state.counters["TFLOPs"] = flops / (t_ours.median_us * 1e-6) / 1e12;
    state.counters["GBs"] = bytes / (t_ours.median_us * 1e-6) / 1e9;
    state.counters["M"] = static_cast<double>(m);
    state.counters["N"] = static_cast<double>(s.out_c);
    state.counters["K"] = static_cast<double>(k);
#if QUENCH_BENCH_HAVE_CUDNN
    DnnConv d;
    if (!dnn_setup(d, s, mem.as<__half>(off(0, 0)), mem.as<__half>(off(0, at_dw)), mem.as<__half>(off(0, x_b + y_b)), &err))
      return state.SkipWithError(err.c_str());
    auto base = [&](int set, cudaStream_t st, std::string* e) {
      const float alpha = 1.0f, beta = 0.0f;
      cudnnSetStream(c.dnn, st);
      const cudnnStatus_t r = cudnnConvolutionForward(c.dnn, &alpha, d.x, mem.as<__half>(off(set, 0)), d.w,
                                                      mem.as<__half>(off(set, at_dw)), d.conv, d.algo,
                                                      c.dnn_workspace->get(), d.ws, &beta, d.y,
                                                      mem.as<__half>(off(set, x_b + y_b)));
      if (r != CUDNN_STATUS_SUCCESS) *e = std::string("cudnnConvolutionForward: ") + cudnnGetErrorString(r);
      return r == CUDNN_STATUS_SUCCESS;
    };
    Timing t_base;
    if (!time_launches(base, sets, c.stream, &t_base, &err)) return state.SkipWithError(err.c_str());
    state.counters["base_us"] = t_base.median_us;
    state.counters["ratio"] = t_base.median_us / t_ours.median_us;
    label << " base=" << d.algo_name << (t_ours.graph && t_base.graph ? "" : " (host-launched)");
#else
    label << " base=none (no cuDNN)";
#endif
    state.SetLabel(label.str());
  }
}

}  // namespace

void register_conv_benchmarks() {
  std::vector<ConvBenchShape> all = conv_shapes();
  for (const ConvBenchShape& v : conv_variants()) all.push_back(v);
  for (const ConvBenchShape& b : all) {
    benchmark::RegisterBenchmark(conv_name(b).c_str(), [b](benchmark::State& st) { bench_conv(st, b); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace quench::bench
