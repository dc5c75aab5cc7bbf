// Implicit-GEMM convolution on NHWC, see conv.cuh.
//
// The kernel is the GEMM's (kernels/common/mma_pipeline.cuh: multi-stage pipeline, ldmatrix +
// mma.sync, serial split K, staged epilogue) with its own A loader. Block (x, y, z) computes the
// BM x BN output tile (rows y*BM.., columns x*BN.. of group z / splits) over K slice z % splits.
//
// The loader (kernels/conv/gather_loader.cuh, shared with the INT8 convolution) gathers A tile by
// tile: per row the output pixel's input corner, per k-tile the tap and channel of each thread's
// chunk. Vector path (Cin_g % 8 == 0): the 8 k of a chunk are 8 channels of one tap, one cp.async
// of 16 bytes, zero-filled in the padding and past K. General path: the 8 k may span taps
// (Cin_g = 3), so each element is loaded on its own and the chunk stored with one 16-byte store.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/mma_pipeline.cuh"
#include "kernels/common/split_k.cuh"
#include "kernels/conv/conv.cuh"
#include "kernels/conv/gather.cuh"
#include "kernels/conv/gather_loader.cuh"

namespace quench::kernels::conv {
namespace {

using Cfg128x128 = mma::TileConfig<128, 128, 32, 64, 32, 4, 2>;  // K step 32: two A rows per thread
using mma::Cfg128x64;
using mma::Cfg64x64;
using split_k::ceil_div;

template <class T>
struct Params {
  int m, n, k, kpad;          // GEMM view per group: M = N*OH*OW, N = Cout_g, K = KH*KW*Cin_g
  GatherGeometry geo;
  const T* x;
  const T* weight;            // [Cout][kpad]
  T* y;
  int64_t ldy, ldr;
  const float* bias;
  const T* residual;
  EpilogueParams epi;
  bool vector_store;          // every group's output columns allow 16-byte accesses
  bool vector_bias;
  int splits;                 // K slices per group (gridDim.z = groups * splits)
  int k_tiles_per_split;
  float* partials;
  unsigned* counters;
};

template <class T, class Cfg, bool kVector>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks) conv_kernel(const Params<T> p) {
  constexpr int BK = Cfg::kBK;

  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t smem_base = mma::smem_addr(smem);

  const int group = blockIdx.z / p.splits, split = blockIdx.z - group * p.splits;
  const int block_m = blockIdx.y * Cfg::kBM, block_n = blockIdx.x * Cfg::kBN;
  const int k_tiles_all = (p.k + BK - 1) / BK;
  const int kt_begin = split * p.k_tiles_per_split;
  const int k_tiles = min(k_tiles_all, kt_begin + p.k_tiles_per_split) - kt_begin;

  ConvTileLoader<T, Cfg, kVector> load_stage(smem_base, p.geo, p.x, p.weight, p.m, p.n, p.kpad, group, block_m, block_n,
                                             kt_begin);

  mma::Accumulators<Cfg> acc;
  mma::mainloop<T, Cfg>(acc, smem_base, k_tiles, load_stage);

  if (p.splits > 1) {
    const int64_t tile = (static_cast<int64_t>(group) * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    if (!mma::split_k_reduce<Cfg>(acc, p.partials, p.counters, tile, split, p.splits)) return;
  }
  const int64_t col0 = static_cast<int64_t>(group) * p.n;  // this group's first output channel
  const mma::OutputTile<T> out{p.m,
                               p.n,
                               p.y + col0,
                               p.ldy,
                               p.ldr,
                               p.bias ? p.bias + col0 : nullptr,
                               p.residual ? p.residual + col0 : nullptr,
                               p.epi,
                               p.vector_store,
                               p.vector_bias};
  mma::store_accumulators<T, Cfg>(out, acc, smem, block_m, block_n);
}

// ---- host side ------------------------------------------------------------------------------

struct TileDims {
  int bm, bn, bk, threads, acc_per_thread;
};

template <class Cfg>
constexpr TileDims dims_of() {
  return {Cfg::kBM, Cfg::kBN, Cfg::kBK, Cfg::kThreads, Cfg::kAccPerThread};
}

TileDims dims(Tile t) {
  switch (t) {
    case Tile::k128x128x32: return dims_of<Cfg128x128>();
    case Tile::k128x64x64: return dims_of<Cfg128x64>();
    case Tile::k64x64x64: case Tile::kAuto: break;
  }
  return dims_of<Cfg64x64>();
}

// The GEMM tile of the same block shape, for the GEMM path.
gemm::Tile gemm_tile_for(Tile t) {
  switch (t) {
    case Tile::k128x128x32: return gemm::Tile::k128x128x64;
    case Tile::k128x64x64: return gemm::Tile::k128x64x64;
    case Tile::k64x64x64: return gemm::Tile::k64x64x64;
    case Tile::kAuto: break;
  }
  return gemm::Tile::kAuto;
}

int64_t tiles_of(const TileDims& d, int64_t m, int64_t n, int64_t groups) {
  return groups * ceil_div(m, d.bm) * ceil_div(n, d.bn);
}

// The same rule as the GEMM's (kernels/gemm/gemm.cu, measured on an H100): blocks in flight matter
// more than operand reuse for this mma.sync loop, so 128x128 only with >= 2 blocks per SM (and
// Cout_g > 64), 128x64 with >= 1.5, else 64x64 and, when even that cannot fill the GPU, split K.
// Groups multiply the blocks. Not yet measured for the convolution: the conv_variant benchmarks
// (pinned tiles and splits) are the data to replace this rule with.
Tile choose_tile(int64_t m, int64_t n, int64_t groups, int sms) {
  if (n > 64 && tiles_of(dims_of<Cfg128x128>(), m, n, groups) >= 2 * static_cast<int64_t>(sms)) return Tile::k128x128x32;
  if (2 * tiles_of(dims_of<Cfg128x64>(), m, n, groups) >= 3 * static_cast<int64_t>(sms)) return Tile::k128x64x64;
  return Tile::k64x64x64;
}

template <class T>
int64_t row_stride_x(const ConvArgs<T>& a) {
  return a.ldx ? a.ldx : a.shape.c;
}
template <class T>
int64_t row_stride_y(const ConvArgs<T>& a) {
  return a.ldy ? a.ldy : a.shape.out_c;
}
template <class T>
int64_t row_stride_r(const ConvArgs<T>& a) {
  return a.ldr ? a.ldr : row_stride_y(a);
}

template <class T>
bool gemm_eligible(const ConvArgs<T>& a) {
  const ConvShape& s = a.shape;
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0 && s.groups == 1 && s.c % 8 == 0 &&
         row_stride_x(a) % 8 == 0 && aligned_to(a.x, 16);
}

template <class T>
bool vector_eligible(const ConvArgs<T>& a) {
  return a.shape.groups > 0 && (a.shape.c / a.shape.groups) % 8 == 0 && row_stride_x(a) % 8 == 0 && aligned_to(a.x, 16);
}

// The 1x1 convolution as the GEMM it is: A = x viewed as [N*H*W, ldx], B = the packed weight
// [Cout, Cin] (packed_k == Cin here), C = y.
template <class T>
gemm::GemmArgs<T> as_gemm(const ConvArgs<T>& a) {
  gemm::GemmArgs<T> g;
  g.m = a.shape.n * a.shape.h * a.shape.w;
  g.n = a.shape.out_c;
  g.k = a.shape.c;
  g.a = a.x;
  g.b = a.weight;
  g.c = a.y;
  g.lda = row_stride_x(a);
  g.ldb = a.shape.c;
  g.ldc = row_stride_y(a);
  g.bias = a.bias;
  g.residual = a.residual;
  g.ldr = row_stride_r(a);
  g.epilogue = a.epilogue;
  g.tile = gemm_tile_for(a.tile);
  g.split_k = a.split_k;
  return g;
}

template <class T>
Path choose_path(const ConvArgs<T>& a) {
  if (a.path != Path::kAuto) return a.path;
  if (gemm_eligible(a)) return Path::kGemm;
  if (vector_eligible(a)) return Path::kImplicitVector;
  return Path::kImplicitGeneral;
}

int64_t gemm_m(const ConvShape& s) { return s.n * out_h(s) * out_w(s); }

}  // namespace

GatherGeometry gather_geometry(const ConvShape& s, int64_t ldx) {
  GatherGeometry g;
  g.h = static_cast<int>(s.h);
  g.w = static_cast<int>(s.w);
  g.ldx = static_cast<int>(ldx);
  g.cin_g = static_cast<int>(s.c / s.groups);
  g.ow = static_cast<int>(out_w(s));
  g.ohw = static_cast<int>(out_h(s) * out_w(s));
  g.kernel_h = s.kernel_h;
  g.kernel_w = s.kernel_w;
  g.stride_h = s.stride_h;
  g.stride_w = s.stride_w;
  g.dil_h = s.dilation_h;
  g.dil_w = s.dilation_w;
  g.pad_top = s.pad_top;
  g.pad_left = s.pad_left;
  return g;
}

namespace {

split_k::WorkspaceLayout implicit_layout(const ConvShape& s, const ConvPlan& pl) {
  const TileDims d = dims(pl.tile);
  const int64_t tiles = tiles_of(d, gemm_m(s), s.out_c / s.groups, s.groups);
  return split_k::workspace_layout(tiles, pl.split_k, d.threads, d.acc_per_thread);
}

template <class T, class Cfg, bool kVector>
Status launch(const Params<T>& p, int groups, cudaStream_t stream) {
  const int64_t gx = ceil_div(p.n, Cfg::kBN), gy = ceil_div(p.m, Cfg::kBM), gz = static_cast<int64_t>(groups) * p.splits;
  if (gy > 65535 || gz > 65535 || gx > INT32_MAX)
    return error(StatusCode::kUnsupported, "conv: grid of ", gx, " x ", gy, " x ", gz, " blocks exceeds the launch limits");
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(gz));
  auto kernel = conv_kernel<T, Cfg, kVector>;
  QUENCH_TRY(cuda_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes),
                         "conv: cudaFuncSetAttribute"));
  kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p);
  return launch_status(kVector ? "conv_kernel (vector gather)" : "conv_kernel (general gather)");
}

template <class T, bool kVector>
Status launch_tile(const Params<T>& p, int groups, Tile tile, cudaStream_t stream) {
  switch (tile) {
    case Tile::k128x128x32: return launch<T, Cfg128x128, kVector>(p, groups, stream);
    case Tile::k128x64x64: return launch<T, Cfg128x64, kVector>(p, groups, stream);
    case Tile::k64x64x64: return launch<T, Cfg64x64, kVector>(p, groups, stream);
    case Tile::kAuto: break;
  }
  return error(StatusCode::kInternal, "conv: no tile selected");
}

Status multiprocessors(int* sms) {
  int device = 0;
  QUENCH_TRY(cuda_status(cudaGetDevice(&device), "conv: cudaGetDevice"));
  return cuda_status(cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, device), "conv: cudaDeviceGetAttribute");
}

}  // namespace

const char* path_name(Path p) {
  switch (p) {
    case Path::kAuto: return "auto";
    case Path::kGemm: return "gemm";
    case Path::kImplicitVector: return "implicit_vector";
    case Path::kImplicitGeneral: return "implicit_general";
  }
  return "unknown";
}

const char* tile_name(Tile t) {
  switch (t) {
    case Tile::kAuto: return "auto";
    case Tile::k128x128x32: return "128x128x32";
    case Tile::k128x64x64: return "128x64x64";
    case Tile::k64x64x64: return "64x64x64";
  }
  return "unknown";
}

TileShape tile_shape(Tile t) {
  const TileDims d = dims(t);
  return {d.bm, d.bn, d.bk, d.threads};
}

int64_t out_h(const ConvShape& s) {
  if (s.stride_h <= 0 || s.dilation_h <= 0) return 0;
  const int64_t extent = static_cast<int64_t>(s.dilation_h) * (s.kernel_h - 1) + 1;
  const int64_t span = s.h + s.pad_top + s.pad_bottom - extent;
  return span < 0 ? 0 : span / s.stride_h + 1;
}

int64_t out_w(const ConvShape& s) {
  if (s.stride_w <= 0 || s.dilation_w <= 0) return 0;
  const int64_t extent = static_cast<int64_t>(s.dilation_w) * (s.kernel_w - 1) + 1;
  const int64_t span = s.w + s.pad_left + s.pad_right - extent;
  return span < 0 ? 0 : span / s.stride_w + 1;
}

int64_t gemm_k(const ConvShape& s) {
  return s.groups > 0 ? static_cast<int64_t>(s.kernel_h) * s.kernel_w * (s.c / s.groups) : 0;
}

int64_t packed_k(const ConvShape& s) { return (gemm_k(s) + 7) / 8 * 8; }

int64_t packed_weight_count(const ConvShape& s) { return s.out_c * packed_k(s); }

Status check_shape(const ConvShape& s) {
  if (s.n <= 0 || s.h <= 0 || s.w <= 0 || s.c <= 0 || s.out_c <= 0)
    return error(StatusCode::kInvalidArgument, "conv: N, H, W, C and Cout must be positive (got ", s.n, ", ", s.h, ", ",
                 s.w, ", ", s.c, ", ", s.out_c, ")");
  if (s.kernel_h <= 0 || s.kernel_w <= 0 || s.stride_h <= 0 || s.stride_w <= 0 || s.dilation_h <= 0 || s.dilation_w <= 0)
    return error(StatusCode::kInvalidArgument, "conv: kernel, stride and dilation must be positive");
  if (s.pad_top < 0 || s.pad_left < 0 || s.pad_bottom < 0 || s.pad_right < 0)
    return error(StatusCode::kInvalidArgument, "conv: negative padding");
  if (s.groups <= 0 || s.c % s.groups != 0 || s.out_c % s.groups != 0)
    return error(StatusCode::kInvalidArgument, "conv: groups ", s.groups, " must divide C = ", s.c, " and Cout = ", s.out_c);
  // Bounds that keep every index of the kernels in 32 bits (kRowOutside included).
  constexpr int64_t kSmall = int64_t{1} << 20;
  if (s.kernel_h > kSmall || s.kernel_w > kSmall || s.stride_h > kSmall || s.stride_w > kSmall ||
      s.dilation_h > kSmall || s.dilation_w > kSmall || s.pad_top > kSmall || s.pad_left > kSmall ||
      s.pad_bottom > kSmall || s.pad_right > kSmall || s.h > kSmall || s.w > kSmall || s.groups > 65535 ||
      static_cast<int64_t>(s.dilation_h) * s.kernel_h > kSmall || static_cast<int64_t>(s.dilation_w) * s.kernel_w > kSmall)
    return error(StatusCode::kUnsupported, "conv: a spatial size, kernel, stride, dilation, pad or group count is too large");
  if (out_h(s) <= 0 || out_w(s) <= 0)
    return error(StatusCode::kShapeError, "conv: the padded input (", s.h, "x", s.w, ") is smaller than the dilated kernel");
  // Products checked by division, so that none of them can overflow on the way.
  const int64_t ohw = out_h(s) * out_w(s), taps = static_cast<int64_t>(s.kernel_h) * s.kernel_w;
  if (s.n > INT32_MAX / ohw || s.c > INT32_MAX || s.out_c > INT32_MAX || s.c / s.groups > (INT32_MAX / 2) / taps)
    return error(StatusCode::kUnsupported, "conv: N*OH*OW, K or Cout does not fit the kernels' 32-bit indexing");
  return Status::ok_status();
}

template <class T>
Status pack_weights(const ConvShape& s, const float* onnx_weight, T* packed) {
  static_assert(std::is_same_v<T, __half>, "conv: only FP16 is instantiated so far");
  QUENCH_TRY(check_shape(s));
  if (!onnx_weight || !packed) return error(StatusCode::kInvalidArgument, "conv: pack_weights needs both buffers");
  const int64_t cin_g = s.c / s.groups, kk = packed_k(s), k = gemm_k(s);
  for (int64_t o = 0; o < s.out_c; ++o) {
    T* row = packed + o * kk;
    for (int64_t i = k; i < kk; ++i) row[i] = __float2half_rn(0.0f);
    for (int64_t ci = 0; ci < cin_g; ++ci)
      for (int64_t kh = 0; kh < s.kernel_h; ++kh)
        for (int64_t kw = 0; kw < s.kernel_w; ++kw)
          row[(kh * s.kernel_w + kw) * cin_g + ci] =
              __float2half_rn(onnx_weight[((o * cin_g + ci) * s.kernel_h + kh) * s.kernel_w + kw]);
  }
  return Status::ok_status();
}

template <class T>
Status can_implement(const ConvArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "conv: only FP16 is instantiated so far");
  QUENCH_TRY(check_shape(a.shape));
  const ConvShape& s = a.shape;
  const int64_t ldx = row_stride_x(a), ldy = row_stride_y(a), ldr = row_stride_r(a);
  if (!a.x || !a.weight || !a.y) return error(StatusCode::kInvalidArgument, "conv: x, weight and y must be non-null");
  if (ldx < s.c || ldy < s.out_c || ldr < s.out_c)
    return error(StatusCode::kInvalidArgument, "conv: a pixel stride (ldx ", ldx, ", ldy ", ldy, ", ldr ", ldr,
                 ") is smaller than its channel count");
  // Every offset the loaders form (pixel corner, tap delta, their sum, padding included) is at
  // most this many elements from x in either direction: keep it in 32 bits.
  // (In double: the product itself may not fit in 64 bits.)
  const double reach = ((static_cast<double>(s.n) * s.h + s.pad_top + s.pad_bottom + static_cast<double>(s.dilation_h) * s.kernel_h + 1) *
                            static_cast<double>(s.w) +
                        s.pad_left + s.pad_right + static_cast<double>(s.dilation_w) * s.kernel_w + 1) *
                       static_cast<double>(ldx);
  if (reach > static_cast<double>(INT32_MAX))
    return error(StatusCode::kUnsupported, "conv: the input is too large for 32-bit offsets");
  if (!aligned_to(a.weight, 16)) return error(StatusCode::kUnsupported, "conv: the packed weight must be 16-byte aligned");
  if (!aligned_to(a.x, sizeof(T)) || !aligned_to(a.y, sizeof(T)) || (a.residual && !aligned_to(a.residual, sizeof(T))) ||
      (a.bias && !aligned_to(a.bias, sizeof(float))))
    return error(StatusCode::kInvalidArgument, "conv: x, y, bias and the residual must be aligned to their element");
  if (!epilogue_params_valid(a.epilogue)) return error(StatusCode::kInvalidArgument, "conv: bad epilogue parameters");
  switch (a.tile) {
    case Tile::kAuto: case Tile::k128x128x32: case Tile::k128x64x64: case Tile::k64x64x64: break;
    default: return error(StatusCode::kInvalidArgument, "conv: unknown tile");
  }
  if (a.split_k < 0 || a.split_k > 64) return error(StatusCode::kInvalidArgument, "conv: split_k must be in 0..64");
  switch (a.path) {
    case Path::kAuto: case Path::kImplicitGeneral: break;
    case Path::kGemm:
      if (!gemm_eligible(a))
        return error(StatusCode::kUnsupported, "conv: the GEMM path needs a 1x1, stride-1, unpadded, ungrouped convolution "
                     "with C and ldx multiples of 8 and x 16-byte aligned");
      break;
    case Path::kImplicitVector:
      if (!vector_eligible(a))
        return error(StatusCode::kUnsupported, "conv: the vector path needs C/groups (", s.c / s.groups,
                     ") and ldx multiples of 8 and x 16-byte aligned");
      break;
    default: return error(StatusCode::kInvalidArgument, "conv: unknown path");
  }
  if (choose_path(a) == Path::kGemm) return gemm::can_implement(as_gemm(a));
  return Status::ok_status();
}

template <class T>
ConvPlan plan(const ConvArgs<T>& a, int sms) {
  ConvPlan pl;
  if (!check_shape(a.shape).ok()) return pl;  // nothing runs (run() says why)
  sms = std::max(sms, 1);
  pl.path = choose_path(a);
  if (pl.path == Path::kGemm) {
    const gemm::GemmPlan g = gemm::plan(as_gemm(a), sms);
    pl.gemm_tile = g.tile;
    pl.split_k = g.split_k;
    return pl;
  }
  const ConvShape& s = a.shape;
  const int64_t m = gemm_m(s), n = s.out_c / s.groups;
  pl.tile = a.tile == Tile::kAuto ? choose_tile(m, n, s.groups, sms) : a.tile;
  const TileDims d = dims(pl.tile);
  const int64_t k_tiles = std::max<int64_t>(1, ceil_div(gemm_k(s), d.bk));
  int splits = a.split_k > 0 ? a.split_k : split_k::auto_splits(tiles_of(d, m, n, s.groups), k_tiles, sms);
  splits = static_cast<int>(std::min<int64_t>(splits, std::max<int64_t>(1, 65535 / s.groups)));  // grid.z
  int per_split = 0;
  split_k::normalize_splits(k_tiles, &splits, &per_split);
  pl.split_k = splits;
  return pl;
}

template <class T>
size_t workspace_bytes(const ConvArgs<T>& a, int sms) {
  if (!check_shape(a.shape).ok()) return 0;
  const ConvPlan pl = plan(a, sms);
  if (pl.path == Path::kGemm) return gemm::workspace_bytes(as_gemm(a), sms);
  return implicit_layout(a.shape, pl).total();
}

template <class T>
size_t workspace_bytes(const ConvArgs<T>& a) {
  int sms = 1;
  if (!multiprocessors(&sms).ok()) sms = 1;
  return workspace_bytes(a, sms);
}

template <class T>
Status initialize_workspace(const ConvArgs<T>& a, void* workspace, cudaStream_t stream) {
  // Only the shape, the plan and the alignment matter here (the operands may not exist yet).
  QUENCH_TRY(check_shape(a.shape));
  if (a.split_k < 0 || a.split_k > 64) return error(StatusCode::kInvalidArgument, "conv: split_k must be in 0..64");
  if (choose_path(a) == Path::kGemm) return gemm::initialize_workspace(as_gemm(a), workspace, stream);
  int sms = 1;
  QUENCH_TRY(multiprocessors(&sms));
  const split_k::WorkspaceLayout w = implicit_layout(a.shape, plan(a, sms));
  if (w.counter_bytes == 0) return Status::ok_status();
  if (!workspace) return error(StatusCode::kInvalidArgument, "conv: split K needs a workspace of ", w.total(), " bytes");
  return cuda_status(cudaMemsetAsync(static_cast<char*>(workspace) + w.partial_bytes, 0, w.counter_bytes, stream),
                     "conv: clearing the split-K counters");
}

template <class T>
Status run(const ConvArgs<T>& a, void* workspace, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  int sms = 1;
  QUENCH_TRY(multiprocessors(&sms));
  const ConvPlan pl = plan(a, sms);
  // 1x1, stride 1, no padding: the GEMM kernel on the NHWC input as it stands.
  if (pl.path == Path::kGemm) return gemm::run(as_gemm(a), workspace, stream);

  const ConvShape& s = a.shape;
  Params<T> p;
  p.m = static_cast<int>(gemm_m(s));
  p.n = static_cast<int>(s.out_c / s.groups);
  p.k = static_cast<int>(gemm_k(s));
  p.kpad = static_cast<int>(packed_k(s));
  p.geo = gather_geometry(s, row_stride_x(a));
  p.x = a.x;
  p.weight = a.weight;
  p.y = a.y;
  p.ldy = row_stride_y(a);
  p.ldr = row_stride_r(a);
  p.bias = a.bias;
  p.residual = a.residual;
  p.epi = a.epilogue;
  // Group g's columns start at g * Cout_g: 16-byte vectors need that offset to keep the alignment.
  const bool groups_aligned = s.groups == 1 || p.n % 8 == 0;
  p.vector_store = groups_aligned && p.ldy % 8 == 0 && aligned_to(a.y, 16) &&
                   (!a.residual || (p.ldr % 8 == 0 && aligned_to(a.residual, 16)));
  p.vector_bias = a.bias && aligned_to(a.bias, 16) && (s.groups == 1 || p.n % 4 == 0);
  const TileDims d = dims(pl.tile);
  p.splits = pl.split_k;
  int splits = pl.split_k;
  split_k::normalize_splits(std::max<int64_t>(1, ceil_div(p.k, d.bk)), &splits, &p.k_tiles_per_split);
  p.partials = nullptr;
  p.counters = nullptr;
  if (p.splits > 1) {
    const split_k::WorkspaceLayout w = implicit_layout(s, pl);
    if (!workspace) return error(StatusCode::kInvalidArgument, "conv: split K needs a workspace of ", w.total(), " bytes");
    if (!aligned_to(workspace, 16)) return error(StatusCode::kInvalidArgument, "conv: workspace must be 16-byte aligned");
    p.partials = static_cast<float*>(workspace);
    p.counters = reinterpret_cast<unsigned*>(static_cast<char*>(workspace) + w.partial_bytes);
  }
  if (pl.path == Path::kImplicitVector) return launch_tile<T, true>(p, s.groups, pl.tile, stream);
  return launch_tile<T, false>(p, s.groups, pl.tile, stream);
}

// ---- instances ------------------------------------------------------------------------------
template Status pack_weights<__half>(const ConvShape&, const float*, __half*);
template Status can_implement<__half>(const ConvArgs<__half>&);
template ConvPlan plan<__half>(const ConvArgs<__half>&, int);
template size_t workspace_bytes<__half>(const ConvArgs<__half>&);
template size_t workspace_bytes<__half>(const ConvArgs<__half>&, int);
template Status initialize_workspace<__half>(const ConvArgs<__half>&, void*, cudaStream_t);
template Status run<__half>(const ConvArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::conv
