// quench's kernels beside the vendor libraries, on the layer shapes that matter:
//
//   gemm/...       our tensor-core GEMM vs cuBLASLt FP16 (FP32 compute, the heuristic's best
//                  algorithm), both with bias + ReLU fused, on the 1x1-conv (and classifier) GEMMs
//                  of MobileNetV2 and ResNet-50 at batch 1 and 32 (M = batch*H*W, N = Cout, K = Cin)
//                  and on 4096^3.
//   depthwise/...  our NHWC depthwise conv (bias + ReLU6 fused) vs cuDNN FP16 NHWC grouped conv
//                  (fastest algorithm and math mode found by cudnnFindConvolutionForwardAlgorithmEx,
//                  convolution only: cuDNN would need another kernel for bias + ReLU6, so the ratio
//                  is conservative) on MobileNetV2's depthwise layers at batch 1 and 32.
//   ceiling/...    the two measured ceilings the floors are computed from: a large device-to-device
//                  copy (bytes read + written per second) and cuBLASLt FP16 8192^3 (TFLOP/s).
//
// Each benchmark runs once (Iterations(1), manual time = our median time per launch) and times both
// sides itself: CUDA-graph replay of many launches that rotate over enough buffer sets to exceed
// twice the L2, on random non-zero data; median of 15 samples. Counters: ours_us, base_us,
// ratio = base_us / ours_us (> 1: we are faster), TFLOPs and GBs (ours; GB/s over the minimum
// bytes: each input read once, the output written once), flops, bytes.
#include <benchmark/benchmark.h>
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench/kernels/bench_util.h"
#include "bench/kernels/conv_bench.h"
#include "bench/kernels/dw_pw_bench.h"
#include "bench/kernels/int8_bench.h"
#include "bench/kernels/memory_bound_bench.h"
#include "kernels/depthwise/depthwise.cuh"
#include "kernels/gemm/gemm.cuh"

#if QUENCH_BENCH_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace quench::bench {
namespace {

namespace gemm = kernels::gemm;
namespace dw = kernels::depthwise;

// ---- process-wide state ------------------------------------------------------------------------

struct Context {
  cudaStream_t stream = nullptr;
  cublasLtHandle_t lt = nullptr;
  size_t l2_bytes = 0;
  int sms = 0;
  std::unique_ptr<DeviceMemory> lt_workspace;  // cuBLASLt workspace
  static constexpr size_t kLtWorkspace = 32u << 20;
#if QUENCH_BENCH_HAVE_CUDNN
  cudnnHandle_t dnn = nullptr;
  std::unique_ptr<DeviceMemory> dnn_workspace;
  static constexpr size_t kDnnWorkspace = 256u << 20;
#endif
};

Context& ctx() {
  static Context c;
  return c;
}

bool init_context(std::string* err) {
  Context& c = ctx();
  int dev = 0;
  cudaDeviceProp prop{};
  if (!cuda_ok(cudaGetDevice(&dev), "cudaGetDevice", err)) return false;
  if (!cuda_ok(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties", err)) return false;
  c.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
  c.sms = prop.multiProcessorCount;
  if (!cuda_ok(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking), "cudaStreamCreate", err)) return false;
  if (cublasLtCreate(&c.lt) != CUBLAS_STATUS_SUCCESS) {
    *err = "cublasLtCreate failed";
    return false;
  }
  c.lt_workspace = std::make_unique<DeviceMemory>(Context::kLtWorkspace);
  if (!cuda_ok(c.lt_workspace->status(), "cudaMalloc (cuBLASLt workspace)", err)) return false;
#if QUENCH_BENCH_HAVE_CUDNN
  if (cudnnCreate(&c.dnn) != CUDNN_STATUS_SUCCESS) {
    *err = "cudnnCreate failed";
    return false;
  }
  cudnnSetStream(c.dnn, c.stream);
  c.dnn_workspace = std::make_unique<DeviceMemory>(Context::kDnnWorkspace);
  if (!cuda_ok(c.dnn_workspace->status(), "cudaMalloc (cuDNN workspace)", err)) return false;
#endif
  return true;
}

// Rotation footprint: twice the L2, so that a pass over the sets evicts what the last pass left.
size_t footprint() { return 2 * ctx().l2_bytes; }

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

void report(benchmark::State& state, const Timing& ours, const Timing* base, double flops, double bytes,
            const std::string& label) {
  state.SetIterationTime(ours.median_us * 1e-6);
  state.counters["ours_us"] = ours.median_us;
  state.counters["flops"] = flops;
  state.counters["bytes"] = bytes;
  state.counters["TFLOPs"] = flops / (ours.median_us * 1e-6) / 1e12;
  state.counters["GBs"] = bytes / (ours.median_us * 1e-6) / 1e9;
  if (base) {
    state.counters["base_us"] = base->median_us;
    state.counters["ratio"] = base->median_us / ours.median_us;
  }
  state.SetLabel(label);
}

// ---- cuBLASLt: row-major C[M,N] = A[M,K] . B[N,K]^T as column-major C^T = B^T(op T) . A^T ------

struct LtGemm {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  cublasLtMatmulHeuristicResult_t algo{};
  bool epilogue = false;  // bias + ReLU fused (else plain GEMM)
  ~LtGemm() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
  }

  // want_epilogue: ask for bias + ReLU; falls back to the plain GEMM if no algorithm offers it.
  bool init(int64_t m, int64_t n, int64_t k, const void* some_bias, bool want_epilogue, std::string* err) {
    auto fail = [&](const char* what) {
      *err = std::string("cuBLASLt: ") + what;
      return false;
    };
    if (cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F) != CUBLAS_STATUS_SUCCESS) return fail("desc");
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
    // "A" = our B buffer: K x N column-major (ld K), transposed -> N x K. "B" = our A: K x M.
    if (cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, k, n, k) != CUBLAS_STATUS_SUCCESS) return fail("layout A");
    if (cublasLtMatrixLayoutCreate(&lb, CUDA_R_16F, k, m, k) != CUBLAS_STATUS_SUCCESS) return fail("layout B");
    if (cublasLtMatrixLayoutCreate(&lc, CUDA_R_16F, n, m, n) != CUBLAS_STATUS_SUCCESS) return fail("layout C");
    if (cublasLtMatmulPreferenceCreate(&pref) != CUBLAS_STATUS_SUCCESS) return fail("preference");
    const uint64_t ws = Context::kLtWorkspace;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    for (bool with_epi : {want_epilogue, false}) {
      const cublasLtEpilogue_t e = with_epi ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
      cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof(e));
      if (with_epi) cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &some_bias, sizeof(some_bias));
      int found = 0;
      if (cublasLtMatmulAlgoGetHeuristic(ctx().lt, op, la, lb, lc, lc, pref, 1, &algo, &found) == CUBLAS_STATUS_SUCCESS &&
          found > 0) {
        epilogue = with_epi;
        return true;
      }
      if (!with_epi) break;
    }
    return fail("no algorithm from the heuristic");
  }

  bool run(const void* a, const void* b, void* c, const void* bias, cudaStream_t s, std::string* err) {
    const float alpha = 1.0f, beta = 0.0f;
    if (epilogue) cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
    const cublasStatus_t st = cublasLtMatmul(ctx().lt, op, &alpha, b, la, a, lb, &beta, c, lc, c, lc, &algo.algo,
                                             ctx().lt_workspace->get(), Context::kLtWorkspace, s);
    if (st != CUBLAS_STATUS_SUCCESS) {
      *err = "cublasLtMatmul failed with status " + std::to_string(static_cast<int>(st));
      return false;
    }
    return true;
  }
};

// ---- GEMM benchmark --------------------------------------------------------------------------

struct GemmShape {
  std::string net, layer;
  int batch;
  int64_t hw, n, k;  // M = batch * hw
  gemm::Tile tile = gemm::Tile::kAuto;  // variants pin the tile or the K split
  int split_k = 0;
  std::string variant;
};

GemmShape gemm_shape(std::string net, std::string layer, int batch, int64_t hw, int64_t n, int64_t k) {
  GemmShape s;
  s.net = std::move(net);
  s.layer = std::move(layer);
  s.batch = batch;
  s.hw = hw;
  s.n = n;
  s.k = k;
  return s;
}

void bench_gemm(benchmark::State& state, const GemmShape& s) {
  std::string err;
  const int64_t m = s.batch * s.hw, n = s.n, k = s.k;
  // One set: A, B, C (ours), C (cuBLASLt), float bias, half bias; 256-byte aligned pieces.
  const size_t a_b = align_up(m * k * 2, 256), b_b = align_up(n * k * 2, 256), c_b = align_up(m * n * 2, 256);
  const size_t fb_b = align_up(n * 4, 256), hb_b = align_up(n * 2, 256);
  const size_t set_b = a_b + b_b + 2 * c_b + fb_b + hb_b;
  const int sets = rotation_sets(a_b + b_b + c_b, footprint());
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (gemm sets)", &err)) return state.SkipWithError(err.c_str());
  auto off = [&](int set, size_t within) { return set * set_b + within; };
  for (int i = 0; i < sets; ++i) {
    bool ok = cuda_ok(fill_random_half(mem.as<__half>(off(i, 0)), m * k, 1000 + i, -1, 1, ctx().stream), "fill", &err) &&
              cuda_ok(fill_random_half(mem.as<__half>(off(i, a_b)), n * k, 2000 + i, -1, 1, ctx().stream), "fill", &err) &&
              cuda_ok(fill_random_float(mem.as<float>(off(i, a_b + b_b + 2 * c_b)), n, 3000 + i, -1, 1, ctx().stream), "fill", &err) &&
              cuda_ok(fill_random_half(mem.as<__half>(off(i, a_b + b_b + 2 * c_b + fb_b)), n, 3000 + i, -1, 1, ctx().stream), "fill", &err);
    if (!ok) return state.SkipWithError(err.c_str());
  }

  gemm::GemmArgs<__half> args;
  args.m = m;
  args.n = n;
  args.k = k;
  args.epilogue.activation = kernels::Activation::kRelu;
  args.tile = s.tile;
  args.split_k = s.split_k;
  const gemm::GemmPlan plan = gemm::plan(args, ctx().sms);
  DeviceMemory workspace(gemm::workspace_bytes(args, ctx().sms));
  if (!cuda_ok(workspace.status(), "cudaMalloc (gemm workspace)", &err)) return state.SkipWithError(err.c_str());
  {
    const Status init = gemm::initialize_workspace(args, workspace.get(), ctx().stream);
    if (!init.ok()) return state.SkipWithError(init.message().c_str());
  }
  auto ours = [&](int set, cudaStream_t st, std::string* e) {
    gemm::GemmArgs<__half> a = args;
    a.a = mem.as<__half>(off(set, 0));
    a.b = mem.as<__half>(off(set, a_b));
    a.c = mem.as<__half>(off(set, a_b + b_b));
    a.bias = mem.as<float>(off(set, a_b + b_b + 2 * c_b));
    const Status status = gemm::run(a, workspace.get(), st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };
  LtGemm lt;
  if (!lt.init(m, n, k, mem.as<__half>(off(0, a_b + b_b + 2 * c_b + fb_b)), true, &err))
    return state.SkipWithError(err.c_str());
  auto base = [&](int set, cudaStream_t st, std::string* e) {
    return lt.run(mem.as<__half>(off(set, 0)), mem.as<__half>(off(set, a_b)), mem.as<__half>(off(set, a_b + b_b + c_b)),
                  mem.as<__half>(off(set, a_b + b_b + 2 * c_b + fb_b)), st, e);
  };

  for (auto _ : state) {
    Timing t_ours, t_base;
    if (!time_launches(ours, sets, ctx().stream, &t_ours, &err)) return state.SkipWithError(err.c_str());
    if (!time_launches(base, sets, ctx().stream, &t_base, &err)) return state.SkipWithError(err.c_str());
    const double flops = 2.0 * m * n * k, bytes = 2.0 * (m * k + n * k + m * n);
    std::ostringstream label;
    label << s.net << " b" << s.batch << " " << s.layer << " M=" << m << " N=" << n << " K=" << k
          << " tile=" << gemm::tile_name(plan.tile) << " split_k=" << plan.split_k << " base_epilogue=" << (lt.epilogue ? "bias_relu" : "none")
          << " sets=" << sets << (t_ours.graph && t_base.graph ? "" : " (host-launched)");
    report(state, t_ours, &t_base, flops, bytes, label.str());
    state.counters["M"] = static_cast<double>(m);
    state.counters["N"] = static_cast<double>(n);
    state.counters["K"] = static_cast<double>(k);
  }
}

// ---- depthwise benchmark -----------------------------------------------------------------------

struct DwShape {
  int batch;
  int64_t hw, c;
  int kernel, stride, pad;
  dw::Strip strip = dw::Strip::kAuto;  // variants pin the strip width
  std::string variant;
};

DwShape dw_shape(int batch, int64_t hw, int64_t c, int kernel, int stride, int pad) {
  DwShape s;
  s.batch = batch;
  s.hw = hw;
  s.c = c;
  s.kernel = kernel;
  s.stride = stride;
  s.pad = pad;
  return s;
}

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

// Fastest (algorithm, math mode) by cudnnFindConvolutionForwardAlgorithmEx on the real buffers.
bool dnn_setup(DnnConv& d, const DwShape& s, int64_t oh, const void* x, const void* w, void* y, std::string* err) {
  auto check = [&](cudnnStatus_t st, const char* what) {
    if (st == CUDNN_STATUS_SUCCESS) return true;
    *err = std::string("cuDNN ") + what + ": " + cudnnGetErrorString(st);
    return false;
  };
  const int n = s.batch, c = static_cast<int>(s.c), h = static_cast<int>(s.hw);
  if (!check(cudnnCreateTensorDescriptor(&d.x), "x desc") || !check(cudnnCreateTensorDescriptor(&d.y), "y desc") ||
      !check(cudnnCreateFilterDescriptor(&d.w), "w desc") || !check(cudnnCreateConvolutionDescriptor(&d.conv), "conv desc"))
    return false;
  if (!check(cudnnSetTensor4dDescriptor(d.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, c, h, h), "x shape") ||
      !check(cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, c, static_cast<int>(oh), static_cast<int>(oh)), "y shape") ||
      !check(cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, c, 1, s.kernel, s.kernel), "w shape") ||
      !check(cudnnSetConvolution2dDescriptor(d.conv, s.pad, s.pad, s.stride, s.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                             CUDNN_DATA_FLOAT), "conv") ||
      !check(cudnnSetConvolutionGroupCount(d.conv, c), "groups"))
    return false;
  float best = 1e30f;
  bool found = false;
  cudnnMathType_t best_math = CUDNN_DEFAULT_MATH;
  for (cudnnMathType_t math : {CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH}) {
    if (!check(cudnnSetConvolutionMathType(d.conv, math), "math type")) return false;
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    if (!check(cudnnFindConvolutionForwardAlgorithmEx(ctx().dnn, d.x, x, d.w, w, d.conv, d.y, y,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf,
                                                      ctx().dnn_workspace->get(), Context::kDnnWorkspace),
               "find"))
      return false;
    for (int i = 0; i < returned; ++i) {
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].time >= 0 && perf[i].memory <= Context::kDnnWorkspace &&
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
    *err = "cuDNN: no forward algorithm for this depthwise shape";
    return false;
  }
  d.algo_name = "algo" + std::to_string(static_cast<int>(d.algo)) + (best_math == CUDNN_TENSOR_OP_MATH ? "_tensorop" : "_default");
  return check(cudnnSetConvolutionMathType(d.conv, best_math), "math type");
}
#endif

void bench_depthwise(benchmark::State& state, const DwShape& s) {
  std::string err;
  dw::DepthwiseArgs<__half> args;
  args.n = s.batch;
  args.h = args.w = s.hw;
  args.c = s.c;
  args.kernel = s.kernel;
  args.stride = s.stride;
  args.pad_top = args.pad_left = args.pad_bottom = args.pad_right = s.pad;
  args.epilogue = kernels::EpilogueParams::relu6();
  args.strip = s.strip;
  const int64_t oh = dw::out_h(args), ow = dw::out_w(args);
  const int64_t x_n = s.batch * s.hw * s.hw * s.c, y_n = s.batch * oh * ow * s.c, w_n = s.kernel * s.kernel * s.c;
  const size_t x_b = align_up(x_n * 2, 256), y_b = align_up(y_n * 2, 256), w_b = align_up(w_n * 2, 256);
  const size_t bias_b = align_up(s.c * 4, 256);
  const size_t set_b = x_b + 2 * y_b + w_b + bias_b;
  const int sets = rotation_sets(x_b + y_b + w_b, footprint());
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (depthwise sets)", &err)) return state.SkipWithError(err.c_str());
  auto off = [&](int set, size_t within) { return set * set_b + within; };
  for (int i = 0; i < sets; ++i) {
    bool ok = cuda_ok(fill_random_half(mem.as<__half>(off(i, 0)), x_n, 4000 + i, -1, 1, ctx().stream), "fill", &err) &&
              cuda_ok(fill_random_half(mem.as<__half>(off(i, x_b + 2 * y_b)), w_n, 5000 + i, -1, 1, ctx().stream), "fill", &err) &&
              cuda_ok(fill_random_float(mem.as<float>(off(i, x_b + 2 * y_b + w_b)), s.c, 6000 + i, -1, 1, ctx().stream), "fill", &err);
    if (!ok) return state.SkipWithError(err.c_str());
  }
  auto ours = [&](int set, cudaStream_t st, std::string* e) {
    dw::DepthwiseArgs<__half> a = args;
    a.x = mem.as<__half>(off(set, 0));
    a.y = mem.as<__half>(off(set, x_b));
    a.weight = mem.as<__half>(off(set, x_b + 2 * y_b));
    a.bias = mem.as<float>(off(set, x_b + 2 * y_b + w_b));
    const Status status = dw::run(a, nullptr, st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };
  const double flops = 2.0 * y_n * s.kernel * s.kernel, bytes = 2.0 * (x_n + y_n + w_n);
  std::ostringstream label;
  label << "mobilenetv2 b" << s.batch << " " << s.hw << "x" << s.hw << "x" << s.c << " k" << s.kernel << " s" << s.stride
        << " vec=" << dw::vector_width(args) << " strip=" << static_cast<int>(s.strip) << " sets=" << sets;

  for (auto _ : state) {
    Timing t_ours;
    if (!time_launches(ours, sets, ctx().stream, &t_ours, &err)) return state.SkipWithError(err.c_str());
#if QUENCH_BENCH_HAVE_CUDNN
    DnnConv d;
    if (!dnn_setup(d, s, oh, mem.as<__half>(off(0, 0)), mem.as<__half>(off(0, x_b + 2 * y_b)),
                   mem.as<__half>(off(0, x_b + y_b)), &err))
      return state.SkipWithError(err.c_str());
    auto base = [&](int set, cudaStream_t st, std::string* e) {
      const float alpha = 1.0f, beta = 0.0f;
      cudnnSetStream(ctx().dnn, st);
      const cudnnStatus_t r = cudnnConvolutionForward(
          ctx().dnn, &alpha, d.x, mem.as<__half>(off(set, 0)), d.w, mem.as<__half>(off(set, x_b + 2 * y_b)), d.conv,
          d.algo, ctx().dnn_workspace->get(), d.ws, &beta, d.y, mem.as<__half>(off(set, x_b + y_b)));
      if (r != CUDNN_STATUS_SUCCESS) *e = std::string("cudnnConvolutionForward: ") + cudnnGetErrorString(r);
      return r == CUDNN_STATUS_SUCCESS;
    };
    Timing t_base;
    if (!time_launches(base, sets, ctx().stream, &t_base, &err)) return state.SkipWithError(err.c_str());
    label << " base=" << d.algo_name << (t_ours.graph && t_base.graph ? "" : " (host-launched)");
    report(state, t_ours, &t_base, flops, bytes, label.str());
#else
    label << " base=none (no cuDNN)";
    report(state, t_ours, nullptr, flops, bytes, label.str());
#endif
  }
}

// ---- ceilings ----------------------------------------------------------------------------------

void bench_copy(benchmark::State& state) {
  std::string err;
  const size_t bytes = size_t{2} << 30;  // 2 GiB each way
  DeviceMemory src(bytes), dst(bytes);
  if (!cuda_ok(src.status(), "cudaMalloc", &err) || !cuda_ok(dst.status(), "cudaMalloc", &err))
    return state.SkipWithError(err.c_str());
  if (!cuda_ok(fill_random_half(src.as<__half>(), bytes / 2, 7, -1, 1, ctx().stream), "fill", &err))
    return state.SkipWithError(err.c_str());
  auto copy = [&](int, cudaStream_t st, std::string* e) {
    return cuda_ok(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, st), "cudaMemcpyAsync", e);
  };
  for (auto _ : state) {
    Timing t;
    if (!time_launches(copy, 1, ctx().stream, &t, &err, 9, 20000)) return state.SkipWithError(err.c_str());
    state.SetIterationTime(t.median_us * 1e-6);
    state.counters["GBs"] = 2.0 * bytes / (t.median_us * 1e-6) / 1e9;  // read + written
    state.counters["bytes"] = 2.0 * bytes;
    state.SetLabel("device-to-device copy, 2 GiB, bytes read + written");
  }
}

void bench_lt_peak(benchmark::State& state) {
  std::string err;
  const int64_t s = 8192;
  DeviceMemory a(s * s * 2), b(s * s * 2), c(s * s * 2);
  if (!cuda_ok(a.status(), "cudaMalloc", &err) || !cuda_ok(b.status(), "cudaMalloc", &err) ||
      !cuda_ok(c.status(), "cudaMalloc", &err))
    return state.SkipWithError(err.c_str());
  if (!cuda_ok(fill_random_half(a.as<__half>(), s * s, 8, -1, 1, ctx().stream), "fill", &err) ||
      !cuda_ok(fill_random_half(b.as<__half>(), s * s, 9, -1, 1, ctx().stream), "fill", &err))
    return state.SkipWithError(err.c_str());
  LtGemm lt;
  if (!lt.init(s, s, s, nullptr, false, &err)) return state.SkipWithError(err.c_str());
  auto run = [&](int, cudaStream_t st, std::string* e) { return lt.run(a.get(), b.get(), c.get(), nullptr, st, e); };
  for (auto _ : state) {
    Timing t;
    if (!time_launches(run, 1, ctx().stream, &t, &err, 9, 20000)) return state.SkipWithError(err.c_str());
    state.SetIterationTime(t.median_us * 1e-6);
    const double flops = 2.0 * s * s * s;
    state.counters["TFLOPs"] = flops / (t.median_us * 1e-6) / 1e12;
    state.counters["flops"] = flops;
    state.SetLabel("cuBLASLt FP16 8192^3, FP32 compute, heuristic's best");
  }
}

// ---- shapes ------------------------------------------------------------------------------------

// 1x1 convolutions (and the classifier) of MobileNetV2 at 224x224: (H*W, Cout, Cin).
std::vector<GemmShape> mobilenetv2_gemms() {
  struct L {
    const char* name;
    int64_t hw, n, k;
  };
  const L layers[] = {
      {"b1_project", 12544, 16, 32},   {"b2_expand", 12544, 96, 16},     {"b2_project", 3136, 24, 96},
      {"b3_expand", 3136, 144, 24},    {"b3_project", 3136, 24, 144},    {"b4_project", 784, 32, 144},
      {"b5_expand", 784, 192, 32},     {"b5_project", 784, 32, 192},     {"b7_project", 196, 64, 192},
      {"b8_expand", 196, 384, 64},     {"b8_project", 196, 64, 384},     {"b11_project", 196, 96, 384},
      {"b12_expand", 196, 576, 96},    {"b12_project", 196, 96, 576},    {"b14_project", 49, 160, 576},
      {"b15_expand", 49, 960, 160},    {"b15_project", 49, 160, 960},    {"b17_project", 49, 320, 960},
      {"last_conv", 49, 1280, 320},    {"classifier", 1, 1000, 1280},
  };
  std::vector<GemmShape> out;
  for (int batch : {1, 32})
    for (const L& l : layers) out.push_back(gemm_shape("mobilenetv2", l.name, batch, l.hw, l.n, l.k));
  return out;
}

// 1x1 convolutions (torchvision ResNet-50 v1.5: stride in the 3x3) and the classifier.
std::vector<GemmShape> resnet50_gemms() {
  struct L {
    const char* name;
    int64_t hw, n, k;
  };
  const L layers[] = {
      {"c2_reduce_first", 3136, 64, 64}, {"c2_expand", 3136, 256, 64},     {"c2_reduce", 3136, 64, 256},
      {"c3_reduce_first", 3136, 128, 256}, {"c3_expand", 784, 512, 128},   {"c3_reduce", 784, 128, 512},
      {"c3_downsample", 784, 512, 256},  {"c4_reduce_first", 784, 256, 512}, {"c4_expand", 196, 1024, 256},
      {"c4_reduce", 196, 256, 1024},     {"c4_downsample", 196, 1024, 512}, {"c5_reduce_first", 196, 512, 1024},
      {"c5_expand", 49, 2048, 512},      {"c5_reduce", 49, 512, 2048},     {"c5_downsample", 49, 2048, 1024},
      {"classifier", 1, 1000, 2048},
  };
  std::vector<GemmShape> out;
  for (int batch : {1, 32})
    for (const L& l : layers) out.push_back(gemm_shape("resnet50", l.name, batch, l.hw, l.n, l.k));
  return out;
}

// MobileNetV2's depthwise layers (all 3x3, pad 1): (input H=W, C, stride).
std::vector<DwShape> mobilenetv2_depthwise() {
  struct L {
    int64_t hw, c;
    int stride;
  };
  const L layers[] = {{112, 32, 1}, {112, 96, 2}, {56, 144, 1}, {56, 144, 2}, {28, 192, 1},
                      {28, 192, 2}, {14, 384, 1}, {14, 576, 1}, {14, 576, 2}, {7, 960, 1}};
  std::vector<DwShape> out;
  for (int batch : {1, 32})
    for (const L& l : layers) out.push_back(dw_shape(batch, l.hw, l.c, 3, l.stride, 1));
  return out;
}

std::string gemm_name(const GemmShape& s) {
  std::ostringstream os;
  os << (s.variant.empty() ? "gemm/" : "gemm_variant/") << s.net << "/b" << s.batch << "/" << s.layer << "/M"
     << s.batch * s.hw << "_N" << s.n << "_K" << s.k;
  if (!s.variant.empty()) os << "/" << s.variant;
  return os.str();
}

std::string dw_name(const DwShape& s) {
  std::ostringstream os;
  os << (s.variant.empty() ? "depthwise/" : "depthwise_variant/") << "mobilenetv2/b" << s.batch << "/h" << s.hw << "_c"
     << s.c << "_k" << s.kernel << "_s" << s.stride;
  if (!s.variant.empty()) os << "/" << s.variant;
  return os.str();
}

// Pinned tiles, K splits and strip widths beside the automatic choice, on the shapes where the
// choice is least obvious: data for a measured tactic selection later.
void add_variants(std::vector<GemmShape>* gemms, std::vector<DwShape>* dws) {
  std::vector<GemmShape> base;
  for (const auto& s : mobilenetv2_gemms())
    if (s.batch == 1 && (s.layer == "classifier" || s.layer == "b15_project" || s.layer == "b12_project")) base.push_back(s);
  for (const auto& s : resnet50_gemms())
    if (s.batch == 1 && (s.layer == "classifier" || s.layer == "c5_reduce" || s.layer == "c4_reduce")) base.push_back(s);
  for (GemmShape s : base) {
    s.split_k = 1;
    s.variant = "split1";
    gemms->push_back(s);
  }
  std::vector<GemmShape> tiled;
  for (const auto& s : resnet50_gemms())
    if (s.batch == 32 && (s.layer == "c4_reduce" || s.layer == "c5_downsample")) tiled.push_back(s);
  for (const auto& s : mobilenetv2_gemms())
    if (s.batch == 32 && (s.layer == "b1_project" || s.layer == "b2_expand" || s.layer == "last_conv")) tiled.push_back(s);
  tiled.push_back(gemm_shape("square", "4096", 1, 4096, 4096, 4096));
  for (const auto& s : tiled) {
    {
      for (auto [tile, name] : {std::pair{gemm::Tile::k128x128x64, "tile128x128"}, std::pair{gemm::Tile::k128x64x64, "tile128x64"},
                                std::pair{gemm::Tile::k64x64x64, "tile64x64"}}) {
        GemmShape v = s;
        v.tile = tile;
        v.split_k = 1;
        v.variant = name;
        gemms->push_back(v);
      }
    }
  }
  for (DwShape s : mobilenetv2_depthwise()) {
    if (s.batch != 32) continue;
    for (auto [strip, name] : {std::pair{dw::Strip::kNarrow, "strip1"}, std::pair{dw::Strip::kMedium, "strip2"},
                               std::pair{dw::Strip::kWide, "strip4"}}) {
      DwShape v = s;
      v.strip = strip;
      v.variant = name;
      dws->push_back(v);
    }
  }
}

void register_all() {
  benchmark::RegisterBenchmark("ceiling/d2d_copy", bench_copy)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("ceiling/cublaslt_fp16_8192", bench_lt_peak)
      ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  std::vector<GemmShape> gemms = mobilenetv2_gemms();
  for (const auto& s : resnet50_gemms()) gemms.push_back(s);
  gemms.push_back(gemm_shape("square", "4096", 1, 4096, 4096, 4096));
  std::vector<DwShape> dws = mobilenetv2_depthwise();
  add_variants(&gemms, &dws);
  for (const GemmShape& s : gemms) {
    benchmark::RegisterBenchmark(gemm_name(s).c_str(), [s](benchmark::State& st) { bench_gemm(st, s); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  }
  for (const DwShape& s : dws) {
    benchmark::RegisterBenchmark(dw_name(s).c_str(), [s](benchmark::State& st) { bench_depthwise(st, s); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  }
  register_conv_benchmarks();  // conv_bench.cpp
  register_memory_bound_benchmarks();  // memory_bound_bench.cpp
  register_int8_benchmarks();  // int8_bench.cpp
  register_dw_pw_benchmarks();  // dw_pw_bench.cpp
}

}  // namespace
}  // namespace quench::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device: kernel benchmarks skipped\n");
    return 0;
  }
  std::string err;
  if (!quench::bench::init_context(&err)) {
    std::fprintf(stderr, "kernel bench: %s\n", err.c_str());
    return 1;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  benchmark::AddCustomContext("gpu", prop.name);
  benchmark::AddCustomContext("sms", std::to_string(prop.multiProcessorCount));
  benchmark::AddCustomContext("l2_bytes", std::to_string(prop.l2CacheSize));
  quench::bench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
