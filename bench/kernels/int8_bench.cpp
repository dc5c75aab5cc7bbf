// quench's INT8 kernels beside the vendor libraries' INT8 paths and beside quench's own FP16
// kernels, on the layer shapes that matter:
//
//   int8_gemm/...          ours (INT8 out, bias + ReLU requantized in the epilogue) vs cuBLASLt
//                          INT8 (CUDA_R_8I A and B, CUBLAS_COMPUTE_32I; INT8 output with a float
//                          scale when the heuristic offers it, else INT32 output; no epilogue, so
//                          the ratio is conservative), with our FP16 GEMM (bias + ReLU) timed on
//                          the same shape: 4096^3, ResNet-50's 1x1 convolutions and the ResNet-50
//                          and MobileNetV2 classifiers, batch 1 and 32.
//   int8_gemm_variant/...  pinned tiles on a few shapes: data for a measured tile rule.
//   int8_conv/...          ours (INT8 out, bias + ReLU) vs cuDNN INT8 on NHWC (INT8_CONFIG: INT8 x, w
//                          and y, INT32 compute; else INT8_EXT_CONFIG with a float y), the fastest
//                          algorithm cudnnFindConvolutionForwardAlgorithmEx measures; where cuDNN
//                          refuses every configuration, the benchmark's error says why (with our
//                          time in it). ResNet-50's 3x3 / 7x7 / strided 1x1 layers and the
//                          MobileNetV2 stem.
//   int8_depthwise/...     ours (INT8 out, bias + ReLU6) on MobileNetV2's depthwise layers beside
//                          our FP16 depthwise kernel (base = FP16: ratio > 1 means INT8 is faster).
//   ceiling/cublaslt_int8_8192  the INT8 tensor-core rate the INT8 floors are computed from.
//
// Timing as in kernel_bench.cpp (bench_util.h): CUDA-graph replay over buffer sets rotating through
// twice the L2, median of 15 samples. Counters: ours_us, base_us, ratio = base_us / ours_us,
// TOPS (= TFLOPs: 2 operations per multiply-add), GBs (ours, over the minimum bytes), flops, bytes,
// fp16_us and ratio_fp16 = fp16_us / ours_us where our FP16 kernel ran too.
#include "bench/kernels/int8_bench.h"

#include <benchmark/benchmark.h>
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench/kernels/bench_util.h"
#include "kernels/depthwise/depthwise.cuh"
#include "kernels/gemm/gemm.cuh"
#include "kernels/quant/int8_conv.cuh"
#include "kernels/quant/int8_depthwise.cuh"
#include "kernels/quant/int8_gemm.cuh"

#if QUENCH_BENCH_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace quench::bench {
namespace {

namespace int8 = kernels::int8;
namespace qgemm = kernels::int8::gemm;
namespace qconv = kernels::int8::conv;
namespace qdw = kernels::int8::depthwise;

// ---- state shared by the INT8 benchmarks, made on first use ------------------------------------

struct Int8Context {
  bool ready = false;
  std::string error;
  cudaStream_t stream = nullptr;
  size_t l2_bytes = 0;
  int sms = 0;
  cublasLtHandle_t lt = nullptr;
  std::unique_ptr<DeviceMemory> lt_workspace;
  static constexpr size_t kLtWorkspace = 32u << 20;
#if QUENCH_BENCH_HAVE_CUDNN
  cudnnHandle_t dnn = nullptr;
  std::unique_ptr<DeviceMemory> dnn_workspace;
  static constexpr size_t kDnnWorkspace = 256u << 20;
#endif
};

Int8Context& ictx() {
  static Int8Context c = [] {
    Int8Context k;
    int dev = 0;
    cudaDeviceProp prop{};
    if (!cuda_ok(cudaGetDevice(&dev), "cudaGetDevice", &k.error) ||
        !cuda_ok(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties", &k.error) ||
        !cuda_ok(cudaStreamCreateWithFlags(&k.stream, cudaStreamNonBlocking), "cudaStreamCreate", &k.error))
      return k;
    k.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
    k.sms = prop.multiProcessorCount;
    if (cublasLtCreate(&k.lt) != CUBLAS_STATUS_SUCCESS) {
      k.error = "cublasLtCreate failed";
      return k;
    }
    k.lt_workspace = std::make_unique<DeviceMemory>(Int8Context::kLtWorkspace);
    if (!cuda_ok(k.lt_workspace->status(), "cudaMalloc (cuBLASLt workspace)", &k.error)) return k;
#if QUENCH_BENCH_HAVE_CUDNN
    if (cudnnCreate(&k.dnn) != CUDNN_STATUS_SUCCESS) {
      k.error = "cudnnCreate failed";
      return k;
    }
    k.dnn_workspace = std::make_unique<DeviceMemory>(Int8Context::kDnnWorkspace);
    if (!cuda_ok(k.dnn_workspace->status(), "cudaMalloc (cuDNN workspace)", &k.error)) return k;
#endif
    k.ready = true;
    return k;
  }();
  return c;
}

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// An epilogue with bias and `act`, INT8 output, scales that keep typical outputs inside the INT8
// range, uploaded once. The values do not change the kernels' speed, only that they are valid.
struct BenchEpilogue {
  int8::Epilogue epi;
  std::unique_ptr<DeviceMemory> table;
};

bool bench_epilogue(int64_t channels, const kernels::EpilogueParams& act, BenchEpilogue* out, std::string* err) {
  std::vector<float> ws(static_cast<size_t>(channels), 1.0f / 64);
  std::vector<int32_t> bias(static_cast<size_t>(channels), 1000);
  std::vector<int32_t> table(int8::table_words(channels));
  int8::EpilogueSpec spec;
  spec.x_scale = 0.02f;
  spec.y_scale = 0.05f;
  spec.activation = act;
  const Status st = int8::make_epilogue(spec, channels, ws.data(), bias.data(), &out->epi, table.data());
  if (!st.ok()) {
    *err = st.message();
    return false;
  }
  out->table = std::make_unique<DeviceMemory>(int8::table_bytes(channels));
  return cuda_ok(out->table->status(), "cudaMalloc (channel table)", err) &&
         cuda_ok(cudaMemcpy(out->table->get(), table.data(), int8::table_bytes(channels), cudaMemcpyHostToDevice),
                 "upload channel table", err);
}

void report(benchmark::State& state, const Timing& ours, const Timing* base, double flops, double bytes,
            const std::string& label) {
  state.SetIterationTime(ours.median_us * 1e-6);
  state.counters["ours_us"] = ours.median_us;
  state.counters["flops"] = flops;
  state.counters["bytes"] = bytes;
  state.counters["TOPS"] = flops / (ours.median_us * 1e-6) / 1e12;
  state.counters["TFLOPs"] = state.counters["TOPS"];  // the summary's column
  state.counters["GBs"] = bytes / (ours.median_us * 1e-6) / 1e9;
  if (base) {
    state.counters["base_us"] = base->median_us;
    state.counters["ratio"] = base->median_us / ours.median_us;
  }
  state.SetLabel(label);
}

// ---- cuBLASLt INT8: row-major y[M,N] = X[M,K] . W[N,K]^T as column-major y^T = W^T(op T) . X^T ----

struct LtInt8 {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  cublasLtMatmulHeuristicResult_t algo{};
  bool int8_out = false;  // else INT32 output
  ~LtInt8() { release(); }
  void release() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    pref = nullptr;
    lc = lb = la = nullptr;
    op = nullptr;
  }

  // INT8 output (float scale) first, then INT32 output (int scale); the reason when neither works.
  bool init(int64_t m, int64_t n, int64_t k, std::string* err) {
    std::string why;
    for (bool out8 : {true, false}) {
      release();
      const cudaDataType_t scale = out8 ? CUDA_R_32F : CUDA_R_32I, ctype = out8 ? CUDA_R_8I : CUDA_R_32I;
      cublasStatus_t s = cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32I, scale);
      const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
      if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
      if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
      if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&la, CUDA_R_8I, k, n, k);
      if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&lb, CUDA_R_8I, k, m, k);
      if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&lc, ctype, n, m, n);
      if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulPreferenceCreate(&pref);
      const uint64_t ws = Int8Context::kLtWorkspace;
      if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
      int found = 0;
      if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(ictx().lt, op, la, lb, lc, lc, pref, 1, &algo, &found);
      if (s == CUBLAS_STATUS_SUCCESS && found > 0) {
        int8_out = out8;
        return true;
      }
      why += std::string(out8 ? "int8 output: " : "; int32 output: ") +
             (s != CUBLAS_STATUS_SUCCESS ? "status " + std::to_string(static_cast<int>(s)) : "no algorithm");
    }
    *err = "cuBLASLt INT8 refused this shape (" + why + ")";
    return false;
  }

  bool run(const void* x, const void* w, void* c, cudaStream_t s, std::string* err) {
    const float alpha_f = 1.0f / 256, beta_f = 0.0f;  // INT8 output: some scale back into range
    const int32_t alpha_i = 1, beta_i = 0;
    const void* alpha = int8_out ? static_cast<const void*>(&alpha_f) : static_cast<const void*>(&alpha_i);
    const void* beta = int8_out ? static_cast<const void*>(&beta_f) : static_cast<const void*>(&beta_i);
    const cublasStatus_t st = cublasLtMatmul(ictx().lt, op, alpha, w, la, x, lb, beta, c, lc, c, lc, &algo.algo,
                                             ictx().lt_workspace->get(), Int8Context::kLtWorkspace, s);
    if (st != CUBLAS_STATUS_SUCCESS) {
      *err = "cublasLtMatmul (INT8) failed with status " + std::to_string(static_cast<int>(st));
      return false;
    }
    return true;
  }
};

// ---- GEMM --------------------------------------------------------------------------------------

struct GemmShape {
  std::string net, layer;
  int batch;
  int64_t hw, n, k;  // M = batch * hw
  qgemm::Tile tile = qgemm::Tile::kAuto;
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

void bench_int8_gemm(benchmark::State& state, const GemmShape& s) {
  Int8Context& c = ictx();
  if (!c.ready) return state.SkipWithError(c.error.c_str());
  std::string err;
  const int64_t m = s.batch * s.hw, n = s.n, k = s.k, kp = qgemm::packed_k(k);
  // One set: X, W (packed; cuBLASLt reads the same rows when k == kp), y ours, C cuBLASLt (int32
  // room), FP16 A, B, C and FP32 bias for our FP16 GEMM.
  const size_t x_b = align_up(m * kp, 256), w_b = align_up(n * kp, 256), y_b = align_up(m * n, 256);
  const size_t lc_b = align_up(m * n * 4, 256), ha_b = align_up(m * k * 2, 256), hb_b = align_up(n * k * 2, 256);
  const size_t hc_b = align_up(m * n * 2, 256), fb_b = align_up(n * 4, 256);
  const size_t at_w = x_b, at_y = at_w + w_b, at_lc = at_y + y_b, at_ha = at_lc + lc_b, at_hb = at_ha + ha_b;
  const size_t at_hc = at_hb + hb_b, at_fb = at_hc + hc_b, set_b = at_fb + fb_b;
  const int sets = rotation_sets(x_b + w_b + y_b, 2 * c.l2_bytes);
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (int8 gemm sets)", &err)) return state.SkipWithError(err.c_str());
  auto off = [&](int set, size_t within) { return set * set_b + within; };
  for (int i = 0; i < sets; ++i) {
    const bool ok =
        cuda_ok(fill_random_int8(mem.as<int8_t>(off(i, 0)), m * kp, 100 + i, c.stream), "fill", &err) &&
        cuda_ok(fill_random_int8(mem.as<int8_t>(off(i, at_w)), n * kp, 200 + i, c.stream), "fill", &err) &&
        cuda_ok(fill_random_half(mem.as<__half>(off(i, at_ha)), m * k, 300 + i, -1, 1, c.stream), "fill", &err) &&
        cuda_ok(fill_random_half(mem.as<__half>(off(i, at_hb)), n * k, 400 + i, -1, 1, c.stream), "fill", &err) &&
        cuda_ok(fill_random_float(mem.as<float>(off(i, at_fb)), n, 500 + i, -1, 1, c.stream), "fill", &err);
    if (!ok) return state.SkipWithError(err.c_str());
  }
  BenchEpilogue be;
  kernels::EpilogueParams relu;
  relu.activation = kernels::Activation::kRelu;
  if (!bench_epilogue(n, relu, &be, &err)) return state.SkipWithError(err.c_str());

  qgemm::GemmArgs<int8_t> args;
  args.m = m;
  args.n = n;
  args.k = k;
  args.ldx = kp;
  args.channel_table = static_cast<const int32_t*>(be.table->get());
  args.epilogue = be.epi;
  args.tile = s.tile;
  args.split_k = s.tile == qgemm::Tile::kAuto ? 0 : 1;
  const qgemm::GemmPlan plan = qgemm::plan(args, c.sms);
  DeviceMemory workspace(qgemm::workspace_bytes(args, c.sms));
  if (!cuda_ok(workspace.status(), "cudaMalloc (int8 gemm workspace)", &err)) return state.SkipWithError(err.c_str());
  {
    const Status init = qgemm::initialize_workspace(args, workspace.get(), c.stream);
    if (!init.ok()) return state.SkipWithError(init.message().c_str());
  }
  auto ours = [&](int set, cudaStream_t st, std::string* e) {
    qgemm::GemmArgs<int8_t> a = args;
    a.x = mem.as<int8_t>(off(set, 0));
    a.w = mem.as<int8_t>(off(set, at_w));
    a.y = mem.as<int8_t>(off(set, at_y));
    const Status status = qgemm::run(a, workspace.get(), st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };

  kernels::gemm::GemmArgs<__half> h;
  h.m = m;
  h.n = n;
  h.k = k;
  h.epilogue.activation = kernels::Activation::kRelu;
  DeviceMemory h_workspace(kernels::gemm::workspace_bytes(h, c.sms));
  if (!cuda_ok(h_workspace.status(), "cudaMalloc (fp16 gemm workspace)", &err)) return state.SkipWithError(err.c_str());
  {
    const Status init = kernels::gemm::initialize_workspace(h, h_workspace.get(), c.stream);
    if (!init.ok()) return state.SkipWithError(init.message().c_str());
  }
  auto fp16 = [&](int set, cudaStream_t st, std::string* e) {
    kernels::gemm::GemmArgs<__half> a = h;
    a.a = mem.as<__half>(off(set, at_ha));
    a.b = mem.as<__half>(off(set, at_hb));
    a.c = mem.as<__half>(off(set, at_hc));
    a.bias = mem.as<float>(off(set, at_fb));
    const Status status = kernels::gemm::run(a, h_workspace.get(), st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };

  for (auto _ : state) {
    Timing t_ours, t_fp16;
    if (!time_launches(ours, sets, c.stream, &t_ours, &err)) return state.SkipWithError(err.c_str());
    const bool fp16_ok = k % 8 == 0 && time_launches(fp16, sets, c.stream, &t_fp16, &err);
    std::ostringstream label;
    label << s.net << " b" << s.batch << " " << s.layer << " M=" << m << " N=" << n << " K=" << k
          << " tile=" << qgemm::tile_name(plan.tile) << " split_k=" << plan.split_k << " sets=" << sets;
    const double flops = 2.0 * m * n * k, bytes = static_cast<double>(m * k + n * k + m * n);
    LtInt8 lt;  // reads X as dense [m, k] rows: every shape here has k == packed_k(k)
    if (!lt.init(m, n, k, &err)) {
      const std::string msg = err + " (ours: " + std::to_string(t_ours.median_us) + " us)";
      return state.SkipWithError(msg.c_str());
    }
    auto base = [&](int set, cudaStream_t st, std::string* e) {
      return lt.run(mem.as<int8_t>(off(set, 0)), mem.as<int8_t>(off(set, at_w)), mem.as<void>(off(set, at_lc)), st, e);
    };
    Timing t_base;
    if (!time_launches(base, sets, c.stream, &t_base, &err)) return state.SkipWithError(err.c_str());
    label << " base=cublaslt_int8_" << (lt.int8_out ? "int8out" : "int32out")
          << (t_ours.graph && t_base.graph ? "" : " (host-launched)");
    report(state, t_ours, &t_base, flops, bytes, label.str());
    if (fp16_ok) {
      state.counters["fp16_us"] = t_fp16.median_us;
      state.counters["ratio_fp16"] = t_fp16.median_us / t_ours.median_us;
    }
    state.counters["M"] = static_cast<double>(m);
    state.counters["N"] = static_cast<double>(n);
    state.counters["K"] = static_cast<double>(k);
  }
}

void bench_lt_int8_peak(benchmark::State& state) {
  Int8Context& c = ictx();
  if (!c.ready) return state.SkipWithError(c.error.c_str());
  std::string err;
  const int64_t s = 8192;
  DeviceMemory a(s * s), b(s * s), out(s * s * 4);
  if (!cuda_ok(a.status(), "cudaMalloc", &err) || !cuda_ok(b.status(), "cudaMalloc", &err) ||
      !cuda_ok(out.status(), "cudaMalloc", &err))
    return state.SkipWithError(err.c_str());
  if (!cuda_ok(fill_random_int8(a.as<int8_t>(), s * s, 8, c.stream), "fill", &err) ||
      !cuda_ok(fill_random_int8(b.as<int8_t>(), s * s, 9, c.stream), "fill", &err))
    return state.SkipWithError(err.c_str());
  LtInt8 lt;
  if (!lt.init(s, s, s, &err)) return state.SkipWithError(err.c_str());
  auto run = [&](int, cudaStream_t st, std::string* e) { return lt.run(a.get(), b.get(), out.get(), st, e); };
  for (auto _ : state) {
    Timing t;
    if (!time_launches(run, 1, c.stream, &t, &err, 9, 20000)) return state.SkipWithError(err.c_str());
    state.SetIterationTime(t.median_us * 1e-6);
    const double flops = 2.0 * s * s * s;
    state.counters["TOPS"] = flops / (t.median_us * 1e-6) / 1e12;
    state.counters["flops"] = flops;
    state.SetLabel(std::string("cuBLASLt INT8 8192^3, INT32 compute, ") + (lt.int8_out ? "INT8" : "INT32") +
                   " output, heuristic's best");
  }
}

// ---- convolution ---------------------------------------------------------------------------------

struct ConvShape {
  std::string net, layer;
  kernels::conv::ConvShape s;
};

ConvShape square_conv(std::string net, std::string layer, int batch, int64_t hw, int64_t c, int64_t out_c, int k,
                      int stride, int pad) {
  ConvShape b;
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

#if QUENCH_BENCH_HAVE_CUDNN
struct DnnInt8Conv {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo{};
  size_t ws = 0;
  std::string name;
  ~DnnInt8Conv() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

// INT8_CONFIG (INT8 y), then INT8_EXT_CONFIG (FP32 y): the fastest algorithm that succeeds on the
// real buffers. Fills *err with every configuration's refusal when none does.
bool dnn_int8_setup(DnnInt8Conv& d, const kernels::conv::ConvShape& s, const void* x, const void* w, void* y,
                    std::string* err) {
  Int8Context& c = ictx();
  const int n = static_cast<int>(s.n), ch = static_cast<int>(s.c), h = static_cast<int>(s.h), wd = static_cast<int>(s.w);
  const int k = static_cast<int>(s.out_c), oh = static_cast<int>(kernels::conv::out_h(s)),
            ow = static_cast<int>(kernels::conv::out_w(s));
  std::string why;
  for (cudnnDataType_t ytype : {CUDNN_DATA_INT8, CUDNN_DATA_FLOAT}) {
    const char* cfg = ytype == CUDNN_DATA_INT8 ? "INT8_CONFIG" : "INT8_EXT_CONFIG";
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    if (!d.x) st = cudnnCreateTensorDescriptor(&d.x);
    if (st == CUDNN_STATUS_SUCCESS && !d.y) st = cudnnCreateTensorDescriptor(&d.y);
    if (st == CUDNN_STATUS_SUCCESS && !d.w) st = cudnnCreateFilterDescriptor(&d.w);
    if (st == CUDNN_STATUS_SUCCESS && !d.conv) st = cudnnCreateConvolutionDescriptor(&d.conv);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnSetTensor4dDescriptor(d.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_INT8, n, ch, h, wd);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NHWC, ytype, n, k, oh, ow);
    if (st == CUDNN_STATUS_SUCCESS)
      st = cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_INT8, CUDNN_TENSOR_NHWC, k, ch / s.groups, s.kernel_h, s.kernel_w);
    if (st == CUDNN_STATUS_SUCCESS)
      st = cudnnSetConvolution2dDescriptor(d.conv, s.pad_top, s.pad_left, s.stride_h, s.stride_w, s.dilation_h,
                                           s.dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_INT32);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnSetConvolutionGroupCount(d.conv, s.groups);
    if (st != CUDNN_STATUS_SUCCESS) {
      why += std::string(why.empty() ? "" : "; ") + cfg + ": " + cudnnGetErrorString(st);
      continue;
    }
    cudnnSetStream(c.dnn, c.stream);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    st = cudnnFindConvolutionForwardAlgorithmEx(c.dnn, d.x, x, d.w, w, d.conv, d.y, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                &returned, perf, c.dnn_workspace->get(), Int8Context::kDnnWorkspace);
    if (st != CUDNN_STATUS_SUCCESS) {
      why += std::string(why.empty() ? "" : "; ") + cfg + ": find: " + cudnnGetErrorString(st);
      continue;
    }
    float best = 1e30f;
    bool found = false;
    std::string statuses;
    for (int i = 0; i < returned; ++i) {
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].time >= 0 && perf[i].memory <= Int8Context::kDnnWorkspace &&
          perf[i].time < best) {
        best = perf[i].time;
        d.algo = perf[i].algo;
        d.ws = perf[i].memory;
        found = true;
      }
      if (i < 3) statuses += std::string(statuses.empty() ? "" : ", ") + "algo" + std::to_string(perf[i].algo) + " " +
                             cudnnGetErrorString(perf[i].status);
    }
    if (found) {
      d.name = std::string(cfg) + "_algo" + std::to_string(static_cast<int>(d.algo));
      return true;
    }
    why += std::string(why.empty() ? "" : "; ") + cfg + ": no algorithm (" + statuses + ")";
  }
  *err = "cuDNN INT8 NHWC refused: " + why;
  return false;
}
#endif

void bench_int8_conv(benchmark::State& state, const ConvShape& b) {
  Int8Context& c = ictx();
  if (!c.ready) return state.SkipWithError(c.error.c_str());
  std::string err;
  const kernels::conv::ConvShape& s = b.s;
  const int64_t oh = kernels::conv::out_h(s), ow = kernels::conv::out_w(s);
  const int64_t x_n = s.n * s.h * s.w * s.c, y_n = s.n * oh * ow * s.out_c;
  const int64_t w_n = qconv::packed_weight_count(s), dnn_w_n = s.out_c * s.kernel_h * s.kernel_w * (s.c / s.groups);
  // One set: x, y (ours), y (cuDNN, room for FP32), packed weight, cuDNN weight.
  const size_t x_b = align_up(x_n, 256), y_b = align_up(y_n, 256), dy_b = align_up(y_n * 4, 256);
  const size_t w_b = align_up(w_n, 256), dw_b = align_up(dnn_w_n, 256);
  const size_t at_y = x_b, at_dy = at_y + y_b, at_w = at_dy + dy_b, at_dw = at_w + w_b, set_b = at_dw + dw_b;
  const int sets = rotation_sets(x_b + y_b + w_b, 2 * c.l2_bytes);
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (int8 conv sets)", &err)) return state.SkipWithError(err.c_str());
  auto off = [&](int set, size_t within) { return set * set_b + within; };
  for (int i = 0; i < sets; ++i) {
    const bool ok = cuda_ok(fill_random_int8(mem.as<int8_t>(off(i, 0)), x_n, 600 + i, c.stream), "fill", &err) &&
                    cuda_ok(fill_random_int8(mem.as<int8_t>(off(i, at_w)), w_n, 700 + i, c.stream), "fill", &err) &&
                    cuda_ok(fill_random_int8(mem.as<int8_t>(off(i, at_dw)), dnn_w_n, 700 + i, c.stream), "fill", &err);
    if (!ok) return state.SkipWithError(err.c_str());
  }
  BenchEpilogue be;
  kernels::EpilogueParams relu;
  relu.activation = kernels::Activation::kRelu;
  if (!bench_epilogue(s.out_c, relu, &be, &err)) return state.SkipWithError(err.c_str());
  qconv::ConvArgs<int8_t> args;
  args.shape = s;
  args.x = mem.as<int8_t>(off(0, 0));
  args.y = mem.as<int8_t>(off(0, at_y));
  args.weight = mem.as<int8_t>(off(0, at_w));
  args.channel_table = static_cast<const int32_t*>(be.table->get());
  args.epilogue = be.epi;
  {
    const Status ok = qconv::can_implement(args);
    if (!ok.ok()) return state.SkipWithError(ok.message().c_str());
  }
  const qconv::ConvPlan plan = qconv::plan(args, c.sms);
  DeviceMemory workspace(qconv::workspace_bytes(args, c.sms));
  if (!cuda_ok(workspace.status(), "cudaMalloc (int8 conv workspace)", &err)) return state.SkipWithError(err.c_str());
  {
    const Status init = qconv::initialize_workspace(args, workspace.get(), c.stream);
    if (!init.ok()) return state.SkipWithError(init.message().c_str());
  }
  auto ours = [&](int set, cudaStream_t st, std::string* e) {
    qconv::ConvArgs<int8_t> a = args;
    a.x = mem.as<int8_t>(off(set, 0));
    a.y = mem.as<int8_t>(off(set, at_y));
    a.weight = mem.as<int8_t>(off(set, at_w));
    const Status status = qconv::run(a, workspace.get(), st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };
  const int64_t m = s.n * oh * ow, k = kernels::conv::gemm_k(s);
  const double flops = 2.0 * m * s.out_c * k, bytes = static_cast<double>(x_n + dnn_w_n + y_n);
  std::ostringstream label;
  label << b.net << " b" << s.n << " " << b.layer << " " << s.h << "x" << s.w << "x" << s.c << " -> " << oh << "x" << ow
        << "x" << s.out_c << " M=" << m << " N=" << s.out_c << " K=" << k << " path=" << kernels::conv::path_name(plan.path)
        << " tile=" << (plan.path == kernels::conv::Path::kGemm ? qgemm::tile_name(plan.gemm_tile) : qconv::tile_name(plan.tile))
        << " split_k=" << plan.split_k << " sets=" << sets;

  for (auto _ : state) {
    Timing t_ours;
    if (!time_launches(ours, sets, c.stream, &t_ours, &err)) return state.SkipWithError(err.c_str());
#if QUENCH_BENCH_HAVE_CUDNN
    DnnInt8Conv d;
    if (!dnn_int8_setup(d, s, mem.as<int8_t>(off(0, 0)), mem.as<int8_t>(off(0, at_dw)), mem.as<void>(off(0, at_dy)), &err)) {
      const std::string msg = err + " (ours: " + std::to_string(t_ours.median_us) + " us, " + label.str() + ")";
      return state.SkipWithError(msg.c_str());
    }
    auto base = [&](int set, cudaStream_t st, std::string* e) {
      const float alpha = 1.0f / 256, beta = 0.0f;
      cudnnSetStream(c.dnn, st);
      const cudnnStatus_t r = cudnnConvolutionForward(c.dnn, &alpha, d.x, mem.as<int8_t>(off(set, 0)), d.w,
                                                      mem.as<int8_t>(off(set, at_dw)), d.conv, d.algo,
                                                      c.dnn_workspace->get(), d.ws, &beta, d.y, mem.as<void>(off(set, at_dy)));
      if (r != CUDNN_STATUS_SUCCESS) *e = std::string("cudnnConvolutionForward (INT8): ") + cudnnGetErrorString(r);
      return r == CUDNN_STATUS_SUCCESS;
    };
    Timing t_base;
    if (!time_launches(base, sets, c.stream, &t_base, &err)) return state.SkipWithError(err.c_str());
    label << " base=" << d.name << (t_ours.graph && t_base.graph ? "" : " (host-launched)");
    report(state, t_ours, &t_base, flops, bytes, label.str());
#else
    label << " base=none (no cuDNN)";
    report(state, t_ours, nullptr, flops, bytes, label.str());
#endif
  }
}

// ---- depthwise -----------------------------------------------------------------------------------

struct DwShape {
  int batch;
  int64_t hw, c;
  int stride;
};

void bench_int8_depthwise(benchmark::State& state, const DwShape& s) {
  Int8Context& c = ictx();
  if (!c.ready) return state.SkipWithError(c.error.c_str());
  std::string err;
  qdw::DepthwiseArgs<int8_t> args;
  args.n = s.batch;
  args.h = args.w = s.hw;
  args.c = s.c;
  args.kernel = 3;
  args.stride = s.stride;
  args.pad_top = args.pad_left = args.pad_bottom = args.pad_right = 1;
  const int64_t oh = qdw::out_h(args), ow = qdw::out_w(args);
  const int64_t x_n = s.batch * s.hw * s.hw * s.c, y_n = s.batch * oh * ow * s.c, w_n = 9 * s.c;
  // One set: INT8 x, y, w; FP16 x, y, w and FP32 bias for our FP16 kernel.
  const size_t x_b = align_up(x_n, 256), y_b = align_up(y_n, 256), w_b = align_up(w_n, 256);
  const size_t hx_b = align_up(x_n * 2, 256), hy_b = align_up(y_n * 2, 256), hw_b = align_up(w_n * 2, 256);
  const size_t at_y = x_b, at_w = at_y + y_b, at_hx = at_w + w_b, at_hy = at_hx + hx_b, at_hw = at_hy + hy_b;
  const size_t at_fb = at_hw + hw_b, set_b = at_fb + align_up(s.c * 4, 256);
  const int sets = rotation_sets(x_b + y_b + w_b, 2 * c.l2_bytes);
  DeviceMemory mem(set_b * sets);
  if (!cuda_ok(mem.status(), "cudaMalloc (int8 depthwise sets)", &err)) return state.SkipWithError(err.c_str());
  auto off = [&](int set, size_t within) { return set * set_b + within; };
  for (int i = 0; i < sets; ++i) {
    const bool ok = cuda_ok(fill_random_int8(mem.as<int8_t>(off(i, 0)), x_n, 800 + i, c.stream), "fill", &err) &&
                    cuda_ok(fill_random_int8(mem.as<int8_t>(off(i, at_w)), w_n, 900 + i, c.stream), "fill", &err) &&
                    cuda_ok(fill_random_half(mem.as<__half>(off(i, at_hx)), x_n, 1000 + i, -1, 1, c.stream), "fill", &err) &&
                    cuda_ok(fill_random_half(mem.as<__half>(off(i, at_hw)), w_n, 1100 + i, -1, 1, c.stream), "fill", &err) &&
                    cuda_ok(fill_random_float(mem.as<float>(off(i, at_fb)), s.c, 1200 + i, -1, 1, c.stream), "fill", &err);
    if (!ok) return state.SkipWithError(err.c_str());
  }
  BenchEpilogue be;
  if (!bench_epilogue(s.c, kernels::EpilogueParams::relu6(), &be, &err)) return state.SkipWithError(err.c_str());
  args.channel_table = static_cast<const int32_t*>(be.table->get());
  args.epilogue = be.epi;
  auto ours = [&](int set, cudaStream_t st, std::string* e) {
    qdw::DepthwiseArgs<int8_t> a = args;
    a.x = mem.as<int8_t>(off(set, 0));
    a.y = mem.as<int8_t>(off(set, at_y));
    a.weight = mem.as<int8_t>(off(set, at_w));
    const Status status = qdw::run(a, nullptr, st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };
  kernels::depthwise::DepthwiseArgs<__half> h;
  h.n = s.batch;
  h.h = h.w = s.hw;
  h.c = s.c;
  h.kernel = 3;
  h.stride = s.stride;
  h.pad_top = h.pad_left = h.pad_bottom = h.pad_right = 1;
  h.epilogue = kernels::EpilogueParams::relu6();
  auto fp16 = [&](int set, cudaStream_t st, std::string* e) {
    kernels::depthwise::DepthwiseArgs<__half> a = h;
    a.x = mem.as<__half>(off(set, at_hx));
    a.y = mem.as<__half>(off(set, at_hy));
    a.weight = mem.as<__half>(off(set, at_hw));
    a.bias = mem.as<float>(off(set, at_fb));
    const Status status = kernels::depthwise::run(a, nullptr, st);
    if (!status.ok()) *e = status.message();
    return status.ok();
  };
  args.x = mem.as<int8_t>(off(0, 0));
  args.y = mem.as<int8_t>(off(0, at_y));
  args.weight = mem.as<int8_t>(off(0, at_w));
  const double flops = 2.0 * y_n * 9, bytes = static_cast<double>(x_n + y_n + w_n);
  std::ostringstream label;
  label << "mobilenetv2 b" << s.batch << " " << s.hw << "x" << s.hw << "x" << s.c << " k3 s" << s.stride
        << " vec=" << qdw::vector_width(args) << " sets=" << sets << " base=quench FP16 depthwise";
  for (auto _ : state) {
    Timing t_ours, t_fp16;
    if (!time_launches(ours, sets, c.stream, &t_ours, &err)) return state.SkipWithError(err.c_str());
    if (!time_launches(fp16, sets, c.stream, &t_fp16, &err)) return state.SkipWithError(err.c_str());
    report(state, t_ours, &t_fp16, flops, bytes, label.str());
    state.counters["fp16_us"] = t_fp16.median_us;
    state.counters["ratio_fp16"] = t_fp16.median_us / t_ours.median_us;
  }
}

// ---- shapes ------------------------------------------------------------------------------------

std::vector<GemmShape> gemm_shapes() {
  struct L {
    const char* net;
    const char* name;
    int64_t hw, n, k;
  };
  // ResNet-50 (torchvision v1.5) 1x1 convolutions and classifier; MobileNetV2's classifier.
  const L layers[] = {
      {"resnet50", "c2_reduce_first", 3136, 64, 64},  {"resnet50", "c2_expand", 3136, 256, 64},
      {"resnet50", "c2_reduce", 3136, 64, 256},       {"resnet50", "c3_reduce_first", 3136, 128, 256},
      {"resnet50", "c3_expand", 784, 512, 128},       {"resnet50", "c3_reduce", 784, 128, 512},
      {"resnet50", "c3_downsample", 784, 512, 256},   {"resnet50", "c4_reduce_first", 784, 256, 512},
      {"resnet50", "c4_expand", 196, 1024, 256},      {"resnet50", "c4_reduce", 196, 256, 1024},
      {"resnet50", "c4_downsample", 196, 1024, 512},  {"resnet50", "c5_reduce_first", 196, 512, 1024},
      {"resnet50", "c5_expand", 49, 2048, 512},       {"resnet50", "c5_reduce", 49, 512, 2048},
      {"resnet50", "c5_downsample", 49, 2048, 1024},  {"resnet50", "classifier", 1, 1000, 2048},
      {"mobilenetv2", "classifier", 1, 1000, 1280},
  };
  std::vector<GemmShape> out;
  for (int batch : {1, 32})
    for (const L& l : layers) out.push_back(gemm_shape(l.net, l.name, batch, l.hw, l.n, l.k));
  out.push_back(gemm_shape("square", "4096", 1, 4096, 4096, 4096));
  return out;
}

std::vector<GemmShape> gemm_variants() {
  std::vector<GemmShape> base = {gemm_shape("square", "4096", 1, 4096, 4096, 4096),
                                 gemm_shape("resnet50", "c4_reduce", 32, 196, 256, 1024),
                                 gemm_shape("resnet50", "c5_downsample", 32, 49, 2048, 1024)};
  std::vector<GemmShape> out;
  for (const GemmShape& s : base)
    for (auto [tile, name] : {std::pair{qgemm::Tile::k128x128x128, "tile128x128"},
                              std::pair{qgemm::Tile::k128x64x128, "tile128x64"},
                              std::pair{qgemm::Tile::k64x64x128, "tile64x64"}}) {
      GemmShape v = s;
      v.tile = tile;
      v.variant = name;
      out.push_back(v);
    }
  return out;
}

std::vector<ConvShape> conv_shapes() {
  struct L {
    const char* net;
    const char* layer;
    int64_t hw, c, out_c;
    int k, stride, pad;
  };
  const L layers[] = {
      {"resnet50", "stem_7x7", 224, 3, 64, 7, 2, 3},           {"resnet50", "c2_3x3", 56, 64, 64, 3, 1, 1},
      {"resnet50", "c3_3x3_s2", 56, 128, 128, 3, 2, 1},        {"resnet50", "c3_3x3", 28, 128, 128, 3, 1, 1},
      {"resnet50", "c4_3x3_s2", 28, 256, 256, 3, 2, 1},        {"resnet50", "c4_3x3", 14, 256, 256, 3, 1, 1},
      {"resnet50", "c5_3x3_s2", 14, 512, 512, 3, 2, 1},        {"resnet50", "c5_3x3", 7, 512, 512, 3, 1, 1},
      {"resnet50", "c3_down_1x1_s2", 56, 256, 512, 1, 2, 0},   {"resnet50", "c4_down_1x1_s2", 28, 512, 1024, 1, 2, 0},
      {"resnet50", "c5_down_1x1_s2", 14, 1024, 2048, 1, 2, 0}, {"mobilenetv2", "stem_3x3_s2", 224, 3, 32, 3, 2, 1},
  };
  std::vector<ConvShape> out;
  for (int batch : {1, 32})
    for (const L& l : layers) out.push_back(square_conv(l.net, l.layer, batch, l.hw, l.c, l.out_c, l.k, l.stride, l.pad));
  return out;
}

std::vector<DwShape> dw_shapes() {
  const DwShape layers[] = {{1, 112, 32, 1}, {1, 112, 96, 2}, {1, 56, 144, 1}, {1, 56, 144, 2}, {1, 28, 192, 1},
                            {1, 28, 192, 2}, {1, 14, 384, 1}, {1, 14, 576, 1}, {1, 14, 576, 2}, {1, 7, 960, 1}};
  std::vector<DwShape> out;
  for (int batch : {1, 32})
    for (DwShape s : layers) {
      s.batch = batch;
      out.push_back(s);
    }
  return out;
}

std::string gemm_name(const GemmShape& s) {
  std::ostringstream os;
  os << (s.variant.empty() ? "int8_gemm/" : "int8_gemm_variant/") << s.net << "/b" << s.batch << "/" << s.layer << "/M"
     << s.batch * s.hw << "_N" << s.n << "_K" << s.k;
  if (!s.variant.empty()) os << "/" << s.variant;
  return os.str();
}

std::string conv_name(const ConvShape& b) {
  std::ostringstream os;
  os << "int8_conv/" << b.net << "/b" << b.s.n << "/" << b.layer << "/h" << b.s.h << "_c" << b.s.c << "_k" << b.s.out_c
     << "_r" << b.s.kernel_h << "_s" << b.s.stride_h;
  return os.str();
}

std::string dw_name(const DwShape& s) {
  std::ostringstream os;
  os << "int8_depthwise/mobilenetv2/b" << s.batch << "/h" << s.hw << "_c" << s.c << "_k3_s" << s.stride;
  return os.str();
}

}  // namespace

void register_int8_benchmarks() {
  benchmark::RegisterBenchmark("ceiling/cublaslt_int8_8192", bench_lt_int8_peak)
      ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  std::vector<GemmShape> gemms = gemm_shapes();
  for (const GemmShape& v : gemm_variants()) gemms.push_back(v);
  for (const GemmShape& s : gemms)
    benchmark::RegisterBenchmark(gemm_name(s).c_str(), [s](benchmark::State& st) { bench_int8_gemm(st, s); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  for (const ConvShape& b : conv_shapes())
    benchmark::RegisterBenchmark(conv_name(b).c_str(), [b](benchmark::State& st) { bench_int8_conv(st, b); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  for (const DwShape& s : dw_shapes())
    benchmark::RegisterBenchmark(dw_name(s).c_str(), [s](benchmark::State& st) { bench_int8_depthwise(st, s); })
        ->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
}

}  // namespace quench::bench
