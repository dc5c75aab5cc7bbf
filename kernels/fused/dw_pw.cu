// Depthwise-separable convolution in one kernel, see dw_pw.cuh.
//
// One thread block computes a BM x BN tile of y: BM output pixels (rows m) by BN output channels
// (columns o). The pointwise product is the GEMM's: mma::mainloop (ldmatrix + mma.sync over a
// multi-stage pipeline of swizzled shared-memory tiles) and the staged epilogue (bias, residual,
// activation, 16-byte stores). What is new is the producer of the A tile. For K tile t (channels
// 64t .. 64t+63) each thread owns one 16-byte chunk column (8 channels) and Cfg::kALoads pixel rows;
// for each of its rows it computes the depthwise convolution of those 8 channels (KxK taps, each a
// 16-byte __ldg of x from L1/L2, the tap's weights a 16-byte __ldg shared by a group of 2 rows in
// the 64x64 tile, 4 in the 64x128 one: what their registers allow beside the tensor-core
// accumulators), adds the depthwise bias, applies the depthwise activation, rounds to float16 and
// stores the chunk into the A tile with one st.shared.v4 at its swizzled position. The B tile (the pointwise weight rows of
// the block's output channels) arrives by cp.async in the same call, zero-filled past Cout and C.
//
// mainloop calls the producer for K tile t + Stages - 1 right after the barrier that frees that
// buffer and before the math on K tile t, and the next barrier precedes any read of it, so plain
// shared-memory stores are as safe as cp.async there; the depthwise loads' latency is hidden by the
// other warps' tensor-core math and by the other resident blocks, not by the pipeline itself.
//
// The depthwise sum of each value is formed in kernels/depthwise's order (filter rows outer,
// columns inner, fmaf into an FP32 accumulator starting at 0, taps in the padding contributing
// fmaf(0, w, acc)), then acc + bias and the activation through the same apply_epilogue: the
// float16 A tile holds exactly the values the unfused sequence writes to its intermediate tensor.
//
// Pixel rows past M compute act(bias) from an all-padding window (finite, and never stored: rows of
// the product are independent); channel chunks at or past C are stored as zeros, matching B's
// zero-filled columns.
//
// Registers (ptxas of CUDA 13.0, no spills): 64x64 tile 136 (3x3) / 161 (5x5) on sm_80, 140 / 164 on
// sm_90, under the 168 that three blocks of 128 threads allow; 64x128 tile 220 / 255 on sm_80,
// 236 / 254 on sm_90, under 255. Dynamic shared memory: 64 KiB (64x64, 4 stages), 72 KiB (64x128,
// 3 stages). No split K: at 7x7 and 14x14 with batch 1 the grid is small (docs/perf-notes.md).
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/mma_pipeline.cuh"
#include "kernels/fused/dw_pw.cuh"

namespace quench::kernels::dw_pw {
namespace {

using mma::Cfg64x64;
// 64 pixels x 128 output channels: 4 warps of 32x64, 3 stages (two blocks fit an A100's shared
// memory), at most 255 registers a thread.
using Cfg64x128 = mma::TileConfig<64, 128, 64, 32, 64, 3, 2>;

// Pixel rows whose depthwise sums a thread keeps live at once, by the registers the tile leaves.
template <class Cfg>
struct TileTraits {
  static constexpr int kGroup = 2;
};
template <>
struct TileTraits<Cfg64x128> {
  static constexpr int kGroup = 4;
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <class T>
struct Params {
  int h, w, c, oh, ow, out_c, m;
  int pad_top, pad_left;
  int ldw;        // pointwise weight row stride (elements)
  int n_tiles;    // output-channel tiles; blockIdx.x = m_tile * n_tiles + n_tile
  const T* x;
  const T* dw_weight;
  const float* dw_bias;
  const T* pw_weight;
  const float* pw_bias;
  const T* residual;
  T* y;
  EpilogueParams dw_epi, epi;
  bool vector_store;  // y (and residual) rows allow 16-byte accesses at multiples of 8 columns
  bool vector_bias;   // pw_bias is 16-byte aligned
};

__device__ __forceinline__ void unpack8(const uint4& raw, float (&f)[8]) {
  const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 t = __half22float2(h[i]);
    f[2 * i] = t.x;
    f[2 * i + 1] = t.y;
  }
}

// The A-tile producer (depthwise on the fly) and B-tile loader (cp.async) of one block; called by
// mma::mainloop as load_stage(stage, k_tile).
template <class T, class Cfg, int K, int S, int Group>
struct DwPwProducer {
  static constexpr int kRows = Cfg::kALoads;   // pixel rows per thread
  static constexpr int kBRows = Cfg::kBLoads;  // weight rows per thread
  static constexpr int kGroup = Group;         // pixel rows computed together
  static_assert(kRows % kGroup == 0, "whole groups of rows");
  static_assert(Cfg::kBK * sizeof(T) == 128, "one K tile is 64 channels of 8-channel chunks");
  static_assert(2 * K <= 32, "the tap masks hold K row bits and K column bits");

  const T* x;
  const T* dw_weight;
  const float* dw_bias;
  const T* pw_weight;
  int c, row_stride;  // channels; elements from one input row to the next (w * c)
  EpilogueParams dw_epi;
  uint32_t smem_base;
  int k_chunk;               // first channel of this thread's chunk within a K tile
  int x_base[kRows];         // element offset of (image, ih0, iw0, 0); may be negative (never read)
  uint32_t tap_mask[kRows];  // bit i: filter row i inside the image; bit K + j: filter column j
  uint32_t a_dst[kRows];
  const T* b_src[kBRows];
  uint32_t b_dst[kBRows];
  bool b_ok[kBRows];

  __device__ __forceinline__ DwPwProducer(const Params<T>& p, uint32_t smem_base_, int block_m, int block_n)
      : x(p.x), dw_weight(p.dw_weight), dw_bias(p.dw_bias), pw_weight(p.pw_weight), c(p.c), row_stride(p.w * p.c),
        dw_epi(p.dw_epi), smem_base(smem_base_) {
    const int tid = threadIdx.x;
    const int ld_chunk = tid % Cfg::kChunks, ld_row = tid / Cfg::kChunks;
    k_chunk = ld_chunk * 8;
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int row = ld_row + r * Cfg::kRowStep, gm = block_m + row;
      a_dst[r] = mma::swizzled_chunk<Cfg::kChunks>(row, ld_chunk) * 16;
      uint32_t mask = 0;
      int base = 0;
      if (gm < p.m) {
        const int ow = gm % p.ow, rest = gm / p.ow;
        const int oh = rest % p.oh, img = rest / p.oh;
        const int ih0 = oh * S - p.pad_top, iw0 = ow * S - p.pad_left;
#pragma unroll
        for (int i = 0; i < K; ++i) {
          if (ih0 + i >= 0 && ih0 + i < p.h) mask |= 1u << i;
          if (iw0 + i >= 0 && iw0 + i < p.w) mask |= 1u << (K + i);
        }
        base = ((img * p.h + ih0) * p.w + iw0) * p.c;
      }
      tap_mask[r] = mask;
      x_base[r] = base;
    }
#pragma unroll
    for (int j = 0; j < kBRows; ++j) {
      const int row = ld_row + j * Cfg::kRowStep, gn = block_n + row;
      b_ok[j] = gn < p.out_c;
      b_src[j] = p.pw_weight + (b_ok[j] ? static_cast<int64_t>(gn) * p.ldw : 0) + k_chunk;
      b_dst[j] = Cfg::kATileBytes + mma::swizzled_chunk<Cfg::kChunks>(row, ld_chunk) * 16;
    }
  }

  __device__ __forceinline__ void operator()(int stage, int kt) const {
    const uint32_t base = smem_base + stage * Cfg::kStageBytes;
    const int k0 = kt * Cfg::kBK, c0 = k0 + k_chunk;
    const bool k_ok = c0 < c;
    // B: the pointwise weight chunk of each owned row, asynchronously.
#pragma unroll
    for (int j = 0; j < kBRows; ++j) {
      const bool ok = b_ok[j] && k_ok;
      mma::cp_async_16(base + b_dst[j], ok ? b_src[j] + k0 : pw_weight, ok);
    }
    // A: the depthwise outputs of the owned rows for channels c0 .. c0+7.
    if (!k_ok) {
      const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
      for (int r = 0; r < kRows; ++r) mma::st_shared_16(base + a_dst[r], zero);
      return;
    }
    float bias[8];
    if (dw_bias) {
      const float4 b0 = __ldg(reinterpret_cast<const float4*>(dw_bias + c0));
      const float4 b1 = __ldg(reinterpret_cast<const float4*>(dw_bias + c0 + 4));
      bias[0] = b0.x, bias[1] = b0.y, bias[2] = b0.z, bias[3] = b0.w;
      bias[4] = b1.x, bias[5] = b1.y, bias[6] = b1.z, bias[7] = b1.w;
    } else {
#pragma unroll
      for (int v = 0; v < 8; ++v) bias[v] = 0.0f;
    }
    const T* xc = x + c0;
    // Rows in groups of kGroup: a tap's weights are loaded once per group (from L1 after the
    // first group), and only kGroup x 8 depthwise accumulators are live beside the tensor-core
    // accumulators.
#pragma unroll
    for (int g = 0; g < kRows; g += kGroup) {
      float acc[kGroup][8];
#pragma unroll
      for (int r = 0; r < kGroup; ++r)
#pragma unroll
        for (int v = 0; v < 8; ++v) acc[r][v] = 0.0f;
      // One filter row per iteration (K weight and K x kGroup input loads in flight): unrolling
      // the rows too would let the scheduler hoist every load of the window and spill.
#pragma unroll 1
      for (int i = 0; i < K; ++i) {
#pragma unroll
        for (int j = 0; j < K; ++j) {
          float wv[8];
          unpack8(__ldg(reinterpret_cast<const uint4*>(dw_weight + (i * K + j) * c + c0)), wv);
          const int tap = i * row_stride + j * c;
#pragma unroll
          for (int r = 0; r < kGroup; ++r) {
            const uint32_t mask = tap_mask[g + r];
            const bool ok = (mask >> i) & (mask >> (K + j)) & 1u;
            uint4 raw = make_uint4(0u, 0u, 0u, 0u);
            if (ok) raw = __ldg(reinterpret_cast<const uint4*>(xc + x_base[g + r] + tap));
            float xv[8];
            unpack8(raw, xv);
#pragma unroll
            for (int v = 0; v < 8; ++v) acc[r][v] = fmaf(xv[v], wv[v], acc[r][v]);
          }
        }
      }
      with_activation(dw_epi.activation, [&](auto act) {
        constexpr Activation A = decltype(act)::value;
#pragma unroll
        for (int r = 0; r < kGroup; ++r) {
          uint4 packed;
          __half2* h = reinterpret_cast<__half2*>(&packed);
#pragma unroll
          for (int v = 0; v < 4; ++v) {
            h[v] = __floats2half2_rn(apply_epilogue<A>(acc[r][2 * v] + bias[2 * v], 0.0f, dw_epi),
                                     apply_epilogue<A>(acc[r][2 * v + 1] + bias[2 * v + 1], 0.0f, dw_epi));
          }
          mma::st_shared_16(base + a_dst[g + r], packed);
        }
      });
    }
  }
};

template <class T, class Cfg, int K, int S>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks) dw_pw_kernel(const Params<T> p) {
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t smem_base = mma::smem_addr(smem);
  // Output-channel tiles of one pixel tile are neighbours in launch order: they read the same
  // input window, which L2 then serves.
  const int n_tile = static_cast<int>(blockIdx.x % static_cast<unsigned>(p.n_tiles));
  const int m_tile = static_cast<int>(blockIdx.x / static_cast<unsigned>(p.n_tiles));
  const int block_m = m_tile * Cfg::kBM, block_n = n_tile * Cfg::kBN;
  const int k_tiles = (p.c + Cfg::kBK - 1) / Cfg::kBK;

  const DwPwProducer<T, Cfg, K, S, TileTraits<Cfg>::kGroup> load_stage(p, smem_base, block_m, block_n);
  mma::Accumulators<Cfg> acc;
  mma::mainloop<T, Cfg>(acc, smem_base, k_tiles, load_stage);

  const mma::OutputTile<T> out{p.m, p.out_c, p.y, p.out_c, p.out_c, p.pw_bias, p.residual, p.epi, p.vector_store,
                               p.vector_bias};
  mma::store_accumulators<T, Cfg>(out, acc, smem, block_m, block_n);
}

// ---- host side ------------------------------------------------------------------------------

template <class Cfg>
int64_t tiles_for(int64_t m, int64_t n) {
  return ceil_div(m, Cfg::kBM) * ceil_div(n, Cfg::kBN);
}

template <class T, class Cfg, int K, int S>
Status launch(Params<T> p, cudaStream_t stream) {
  p.n_tiles = static_cast<int>(ceil_div(p.out_c, Cfg::kBN));
  const int64_t blocks = ceil_div(p.m, Cfg::kBM) * p.n_tiles;
  if (blocks > INT32_MAX) return error(StatusCode::kUnsupported, "dw_pw: ", blocks, " blocks exceed one launch");
  auto kernel = dw_pw_kernel<T, Cfg, K, S>;
  QUENCH_TRY(cuda_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes),
                         "dw_pw: cudaFuncSetAttribute"));
  kernel<<<static_cast<unsigned>(blocks), Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p);
  return launch_status("dw_pw_kernel");
}

template <class T, class Cfg>
Status launch_shape(const Params<T>& p, int kernel, int stride, cudaStream_t stream) {
  if (kernel == 3) return stride == 1 ? launch<T, Cfg, 3, 1>(p, stream) : launch<T, Cfg, 3, 2>(p, stream);
  return stride == 1 ? launch<T, Cfg, 5, 1>(p, stream) : launch<T, Cfg, 5, 2>(p, stream);
}

bool overlaps(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const auto a0 = reinterpret_cast<uintptr_t>(a), b0 = reinterpret_cast<uintptr_t>(b);
  return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

}  // namespace

const char* tile_name(Tile t) {
  switch (t) {
    case Tile::kAuto: return "auto";
    case Tile::k64x64x64: return "64x64x64";
    case Tile::k64x128x64: return "64x128x64";
  }
  return "unknown";
}

template <class T>
Status can_implement(const DwPwArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "dw_pw: only FP16 is instantiated so far");
  if (a.n <= 0 || a.h <= 0 || a.w <= 0 || a.c <= 0 || a.out_c <= 0)
    return error(StatusCode::kInvalidArgument, "dw_pw: N, H, W, C, Cout must be positive (got ", a.n, ", ", a.h, ", ",
                 a.w, ", ", a.c, ", ", a.out_c, ")");
  if (a.kernel != 3 && a.kernel != 5)
    return error(StatusCode::kUnsupported, "dw_pw: depthwise kernel ", a.kernel, "x", a.kernel, " (3x3 and 5x5 only)");
  if (a.stride != 1 && a.stride != 2) return error(StatusCode::kUnsupported, "dw_pw: stride ", a.stride, " (1 or 2 only)");
  if (a.dilation != 1) return error(StatusCode::kUnsupported, "dw_pw: dilation ", a.dilation, " (1 only)");
  if (a.c % 8 != 0) return error(StatusCode::kUnsupported, "dw_pw: C = ", a.c, " is not a multiple of 8");
  if (a.pad_top < 0 || a.pad_left < 0 || a.pad_bottom < 0 || a.pad_right < 0)
    return error(StatusCode::kInvalidArgument, "dw_pw: negative padding");
  if (a.h + a.pad_top + a.pad_bottom < a.kernel || a.w + a.pad_left + a.pad_right < a.kernel)
    return error(StatusCode::kShapeError, "dw_pw: the padded input is smaller than the kernel");
  const int64_t ldw = a.ldw ? a.ldw : a.c;
  if (ldw < a.c) return error(StatusCode::kInvalidArgument, "dw_pw: ldw = ", ldw, " is smaller than C = ", a.c);
  if (ldw % 8 != 0) return error(StatusCode::kUnsupported, "dw_pw: ldw = ", ldw, " is not a multiple of 8");
  // 32-bit element offsets inside the kernel (x, the pixel index, the weight rows).
  const int64_t oh = out_h(a), ow = out_w(a);
  if (a.h > INT32_MAX / 4 || a.w > INT32_MAX / 4 || a.pad_top > INT32_MAX / 4 || a.pad_left > INT32_MAX / 4 ||
      a.pad_bottom > INT32_MAX / 4 || a.pad_right > INT32_MAX / 4 ||
      (a.n * a.h + a.pad_top + a.pad_bottom + 1) * (a.w + a.pad_left + a.pad_right + 1) * a.c >= INT32_MAX ||
      a.n * oh * ow * a.out_c >= INT32_MAX || a.out_c * ldw >= INT32_MAX)
    return error(StatusCode::kUnsupported, "dw_pw: tensor too large for 32-bit indexing");
  if (!a.x || !a.dw_weight || !a.pw_weight || !a.y)
    return error(StatusCode::kInvalidArgument, "dw_pw: x, dw_weight, pw_weight and y must be non-null");
  if (!aligned_to(a.x, 16) || !aligned_to(a.dw_weight, 16) || !aligned_to(a.pw_weight, 16) ||
      (a.dw_bias && !aligned_to(a.dw_bias, 16)))
    return error(StatusCode::kUnsupported, "dw_pw: x, the weights and the depthwise bias must be 16-byte aligned");
  if (!aligned_to(a.y, sizeof(T)) || (a.residual && !aligned_to(a.residual, sizeof(T))) ||
      (a.pw_bias && !aligned_to(a.pw_bias, sizeof(float))))
    return error(StatusCode::kInvalidArgument, "dw_pw: y, the residual and the bias must be aligned to their element");
  const size_t x_bytes = static_cast<size_t>(a.n * a.h * a.w * a.c) * sizeof(T);
  const size_t y_bytes = static_cast<size_t>(a.n * oh * ow * a.out_c) * sizeof(T);
  if (overlaps(a.x, x_bytes, a.y, y_bytes))
    return error(StatusCode::kInvalidArgument, "dw_pw: y overlaps x (other blocks still read x)");
  if (!epilogue_params_valid(a.dw_epilogue) || !epilogue_params_valid(a.epilogue))
    return error(StatusCode::kInvalidArgument, "dw_pw: bad epilogue parameters");
  if (a.tile != Tile::kAuto && a.tile != Tile::k64x64x64 && a.tile != Tile::k64x128x64)
    return error(StatusCode::kInvalidArgument, "dw_pw: unknown tile");
  return Status::ok_status();
}

// The wide tile computes each depthwise value once per 128 output channels instead of once per
// 64, with as many threads and twice the tensor-core work per block: taken when Cout needs more
// than one 64-wide tile and the wide tiles still give every multiprocessor a block (a guess, like
// gemm's thresholds before they were measured; bench dw_pw_variant rows are the data to replace it).
template <class T>
Tile plan(const DwPwArgs<T>& a, int sms) {
  if (a.tile != Tile::kAuto) return a.tile;
  const int64_t m = a.n * out_h(a) * out_w(a);
  if (a.out_c > 64 && tiles_for<Cfg64x128>(m, a.out_c) >= static_cast<int64_t>(std::max(sms, 1)))
    return Tile::k64x128x64;
  return Tile::k64x64x64;
}

template <class T>
size_t workspace_bytes(const DwPwArgs<T>&) {
  return 0;
}

template <class T>
Status run(const DwPwArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  Params<T> p;
  p.h = static_cast<int>(a.h);
  p.w = static_cast<int>(a.w);
  p.c = static_cast<int>(a.c);
  p.oh = static_cast<int>(out_h(a));
  p.ow = static_cast<int>(out_w(a));
  p.out_c = static_cast<int>(a.out_c);
  p.m = static_cast<int>(a.n * p.oh * p.ow);
  p.pad_top = a.pad_top;
  p.pad_left = a.pad_left;
  p.ldw = static_cast<int>(a.ldw ? a.ldw : a.c);
  p.n_tiles = 1;
  p.x = a.x;
  p.dw_weight = a.dw_weight;
  p.dw_bias = a.dw_bias;
  p.pw_weight = a.pw_weight;
  p.pw_bias = a.pw_bias;
  p.residual = a.residual;
  p.y = a.y;
  p.dw_epi = a.dw_epilogue;
  p.dw_epi.residual_after_activation = false;  // no residual in the depthwise stage
  p.epi = a.epilogue;
  p.vector_store = p.out_c % 8 == 0 && aligned_to(a.y, 16) && (!a.residual || aligned_to(a.residual, 16));
  p.vector_bias = a.pw_bias && aligned_to(a.pw_bias, 16);

  int sms = 1;
  if (a.tile == Tile::kAuto) {
    int device = 0;
    QUENCH_TRY(cuda_status(cudaGetDevice(&device), "dw_pw: cudaGetDevice"));
    QUENCH_TRY(cuda_status(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
                           "dw_pw: cudaDeviceGetAttribute"));
  }
  switch (plan(a, sms)) {
    case Tile::k64x128x64: return launch_shape<T, Cfg64x128>(p, a.kernel, a.stride, stream);
    case Tile::k64x64x64: return launch_shape<T, Cfg64x64>(p, a.kernel, a.stride, stream);
    case Tile::kAuto: break;
  }
  return error(StatusCode::kInternal, "dw_pw: no tile selected");
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const DwPwArgs<__half>&);
template Tile plan<__half>(const DwPwArgs<__half>&, int);
template size_t workspace_bytes<__half>(const DwPwArgs<__half>&);
template Status run<__half>(const DwPwArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::dw_pw
