// INT8 implicit-GEMM convolution on NHWC, see int8_conv.cuh.
//
// The FP16 convolution's kernel structure on bytes: the gather loader
// (kernels/conv/gather_loader.cuh) and the main loop (kernels/common/mma_pipeline.cuh) instantiated
// for int8_t, split K in INT32 (exact), the INT8 epilogue (kernels/quant/int8_store.cuh). Block
// (x, y, z) computes the BM x BN tile (rows y*BM.., columns x*BN.. of group z / splits) over K
// slice z % splits. 1x1 unit-stride unpadded convolutions run the INT8 GEMM.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/mma_pipeline.cuh"
#include "kernels/common/split_k.cuh"
#include "kernels/conv/gather.cuh"
#include "kernels/conv/gather_loader.cuh"
#include "kernels/quant/int8_conv.cuh"
#include "kernels/quant/int8_store.cuh"

namespace quench::kernels::int8::conv {
namespace {

using kernels::conv::ConvTileLoader;
using kernels::conv::GatherGeometry;
using split_k::ceil_div;

// In bytes, the FP16 convolution's three shapes (kernels/conv/conv.cu).
using Cfg128x128 = mma::TileConfig<128, 128, 64, 64, 32, 4, 2, 1>;
using Cfg128x64 = mma::TileConfig<128, 64, 128, 32, 32, 3, 2, 1>;
using Cfg64x64 = mma::TileConfig<64, 64, 128, 32, 32, 4, 3, 1>;

template <class Out>
struct Params {
  int m, n, k, kpad;  // GEMM view per group: M = N*OH*OW, N = Cout_g, K = KH*KW*Cin_g
  GatherGeometry geo;
  const int8_t* x;
  const int8_t* weight;  // [Cout][kpad]
  Int8Tile<Out> out;     // group 0's view; group g is offset by g * Cout_g columns
  Epilogue epi;
  int splits;  // K slices per group (gridDim.z = groups * splits)
  int k_tiles_per_split;
  int32_t* partials;
  unsigned* counters;
};

template <class Out, class Cfg, bool kVector>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks) int8_conv_kernel(const Params<Out> p) {
  constexpr int BK = Cfg::kBK;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t smem_base = mma::smem_addr(smem);

  const int group = blockIdx.z / p.splits, split = blockIdx.z - group * p.splits;
  const int block_m = blockIdx.y * Cfg::kBM, block_n = blockIdx.x * Cfg::kBN;
  const int k_tiles_all = (p.k + BK - 1) / BK;
  const int kt_begin = split * p.k_tiles_per_split;
  const int k_tiles = min(k_tiles_all, kt_begin + p.k_tiles_per_split) - kt_begin;

  ConvTileLoader<int8_t, Cfg, kVector> load_stage(smem_base, p.geo, p.x, p.weight, p.m, p.n, p.kpad, group, block_m,
                                                  block_n, kt_begin);
  mma::Accumulators<Cfg, int32_t> acc;
  mma::mainloop<int8_t, Cfg>(acc, smem_base, k_tiles, load_stage);

  if (p.splits > 1) {
    const int64_t tile = (static_cast<int64_t>(group) * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    if (!mma::split_k_reduce<Cfg>(acc, p.partials, p.counters, tile, split, p.splits)) return;
  }
  const int64_t col0 = static_cast<int64_t>(group) * p.n;  // this group's first output channel
  Int8Tile<Out> out = p.out;
  out.y += col0;
  if (out.residual) out.residual += col0;
  out.table += col0;
  store_int8_accumulators<Cfg, Out>(out, p.epi, acc, smem, block_m, block_n);
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
    case Tile::k128x128x64: return dims_of<Cfg128x128>();
    case Tile::k128x64x128: return dims_of<Cfg128x64>();
    case Tile::k64x64x128: case Tile::kAuto: break;
  }
  return dims_of<Cfg64x64>();
}

gemm::Tile gemm_tile_for(Tile t) {
  switch (t) {
    case Tile::k128x128x64: return gemm::Tile::k128x128x128;
    case Tile::k128x64x128: return gemm::Tile::k128x64x128;
    case Tile::k64x64x128: return gemm::Tile::k64x64x128;
    case Tile::kAuto: break;
  }
  return gemm::Tile::kAuto;
}

int64_t tiles_of(const TileDims& d, int64_t m, int64_t n, int64_t groups) {
  return groups * ceil_div(m, d.bm) * ceil_div(n, d.bn);
}

// The FP16 convolution's rule (kernels/conv/conv.cu); not yet measured for INT8.
Tile choose_tile(int64_t m, int64_t n, int64_t groups, int sms) {
  if (n > 64 && tiles_of(dims_of<Cfg128x128>(), m, n, groups) >= 2 * static_cast<int64_t>(sms)) return Tile::k128x128x64;
  if (2 * tiles_of(dims_of<Cfg128x64>(), m, n, groups) >= 3 * static_cast<int64_t>(sms)) return Tile::k128x64x128;
  return Tile::k64x64x128;
}

template <class Out>
int64_t row_stride_x(const ConvArgs<Out>& a) {
  return a.ldx ? a.ldx : a.shape.c;
}
template <class Out>
int64_t row_stride_y(const ConvArgs<Out>& a) {
  return a.ldy ? a.ldy : a.shape.out_c;
}
template <class Out>
int64_t row_stride_r(const ConvArgs<Out>& a) {
  return a.ldr ? a.ldr : row_stride_y(a);
}

template <class Out>
bool gemm_eligible(const ConvArgs<Out>& a) {
  const ConvShape& s = a.shape;
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0 && s.groups == 1 && s.c % 16 == 0 &&
         row_stride_x(a) % 16 == 0 && aligned_to(a.x, 16);
}

template <class Out>
bool vector_eligible(const ConvArgs<Out>& a) {
  return a.shape.groups > 0 && (a.shape.c / a.shape.groups) % 16 == 0 && row_stride_x(a) % 16 == 0 &&
         aligned_to(a.x, 16);
}

int64_t gemm_m(const ConvShape& s) { return s.n * kernels::conv::out_h(s) * kernels::conv::out_w(s); }

// The 1x1 convolution as the GEMM it is: X = x viewed as [N*H*W, ldx], W = the packed weight
// [Cout, Cin] (packed_k == Cin here).
template <class Out>
gemm::GemmArgs<Out> as_gemm(const ConvArgs<Out>& a) {
  gemm::GemmArgs<Out> g;
  g.m = a.shape.n * a.shape.h * a.shape.w;
  g.n = a.shape.out_c;
  g.k = a.shape.c;
  g.x = a.x;
  g.ldx = row_stride_x(a);
  g.w = a.weight;
  g.y = a.y;
  g.ldy = row_stride_y(a);
  g.residual = a.residual;
  g.ldr = row_stride_r(a);
  g.channel_table = a.channel_table;
  g.epilogue = a.epilogue;
  g.tile = gemm_tile_for(a.tile);
  g.split_k = a.split_k;
  return g;
}

template <class Out>
Path choose_path(const ConvArgs<Out>& a) {
  if (a.path != Path::kAuto) return a.path;
  if (gemm_eligible(a)) return Path::kGemm;
  if (vector_eligible(a)) return Path::kImplicitVector;
  return Path::kImplicitGeneral;
}

split_k::WorkspaceLayout implicit_layout(const ConvShape& s, const ConvPlan& pl) {
  const TileDims d = dims(pl.tile);
  const int64_t tiles = tiles_of(d, gemm_m(s), s.out_c / s.groups, s.groups);
  return split_k::workspace_layout(tiles, pl.split_k, d.threads, d.acc_per_thread);
}

template <class Out>
bool vector_rows(const void* p, int64_t ld) {
  constexpr unsigned kAlign = 8 * sizeof(Out) < 16 ? 8 * sizeof(Out) : 16;
  return ld % 8 == 0 && aligned_to(p, kAlign);
}

template <class Out, class Cfg, bool kVector>
Status launch(const Params<Out>& p, int groups, cudaStream_t stream) {
  const int64_t gx = ceil_div(p.n, Cfg::kBN), gy = ceil_div(p.m, Cfg::kBM), gz = static_cast<int64_t>(groups) * p.splits;
  if (gy > 65535 || gz > 65535 || gx > INT32_MAX)
    return error(StatusCode::kUnsupported, "int8 conv: grid of ", gx, " x ", gy, " x ", gz,
                 " blocks exceeds the launch limits");
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(gz));
  auto kernel = int8_conv_kernel<Out, Cfg, kVector>;
  constexpr int kSmem = int8_smem_bytes<Cfg>();
  QUENCH_TRY(cuda_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem),
                         "int8 conv: cudaFuncSetAttribute"));
  kernel<<<grid, Cfg::kThreads, kSmem, stream>>>(p);
  return launch_status(kVector ? "int8_conv_kernel (vector gather)" : "int8_conv_kernel (general gather)");
}

template <class Out, bool kVector>
Status launch_tile(const Params<Out>& p, int groups, Tile tile, cudaStream_t stream) {
  switch (tile) {
    case Tile::k128x128x64: return launch<Out, Cfg128x128, kVector>(p, groups, stream);
    case Tile::k128x64x128: return launch<Out, Cfg128x64, kVector>(p, groups, stream);
    case Tile::k64x64x128: return launch<Out, Cfg64x64, kVector>(p, groups, stream);
    case Tile::kAuto: break;
  }
  return error(StatusCode::kInternal, "int8 conv: no tile selected");
}

Status multiprocessors(int* sms) {
  int device = 0;
  QUENCH_TRY(cuda_status(cudaGetDevice(&device), "int8 conv: cudaGetDevice"));
  return cuda_status(cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, device),
                     "int8 conv: cudaDeviceGetAttribute");
}

}  // namespace

const char* tile_name(Tile t) {
  switch (t) {
    case Tile::kAuto: return "auto";
    case Tile::k128x128x64: return "128x128x64";
    case Tile::k128x64x128: return "128x64x128";
    case Tile::k64x64x128: return "64x64x128";
  }
  return "unknown";
}

int64_t packed_k(const ConvShape& s) { return (kernels::conv::gemm_k(s) + 15) / 16 * 16; }
int64_t packed_weight_count(const ConvShape& s) { return s.out_c * int8::conv::packed_k(s); }

Status pack_weights(const ConvShape& s, const int8_t* onnx_weight, int8_t* packed) {
  QUENCH_TRY(kernels::conv::check_shape(s));
  if (!onnx_weight || !packed) return error(StatusCode::kInvalidArgument, "int8 conv: pack_weights needs both buffers");
  const int64_t cin_g = s.c / s.groups, kk = int8::conv::packed_k(s), k = kernels::conv::gemm_k(s);
  for (int64_t o = 0; o < s.out_c; ++o) {
    int8_t* row = packed + o * kk;
    std::memset(row + k, 0, static_cast<size_t>(kk - k));
    for (int64_t ci = 0; ci < cin_g; ++ci)
      for (int64_t kh = 0; kh < s.kernel_h; ++kh)
        for (int64_t kw = 0; kw < s.kernel_w; ++kw)
          row[(kh * s.kernel_w + kw) * cin_g + ci] = onnx_weight[((o * cin_g + ci) * s.kernel_h + kh) * s.kernel_w + kw];
  }
  return Status::ok_status();
}

template <class Out>
Status can_implement(const ConvArgs<Out>& a) {
  QUENCH_TRY(kernels::conv::check_shape(a.shape));
  const ConvShape& s = a.shape;
  const int64_t ldx = row_stride_x(a), ldy = row_stride_y(a), ldr = row_stride_r(a);
  if (!a.x || !a.weight || !a.y) return error(StatusCode::kInvalidArgument, "int8 conv: x, weight and y must be non-null");
  if (kernels::conv::gemm_k(s) > quant::kMaxReduction)
    return error(StatusCode::kUnsupported, "int8 conv: each output sums K = ", kernels::conv::gemm_k(s), " INT8 products; more than ",
                 quant::kMaxReduction, " could overflow the INT32 accumulator");
  if (ldx < s.c || ldy < s.out_c || ldr < s.out_c)
    return error(StatusCode::kInvalidArgument, "int8 conv: a pixel stride (ldx ", ldx, ", ldy ", ldy, ", ldr ", ldr,
                 ") is smaller than its channel count");
  // Every offset the loaders form stays in 32 bits (as the FP16 convolution checks, in bytes).
  const double reach = ((static_cast<double>(s.n) * s.h + s.pad_top + s.pad_bottom +
                         static_cast<double>(s.dilation_h) * s.kernel_h + 1) *
                            static_cast<double>(s.w) +
                        s.pad_left + s.pad_right + static_cast<double>(s.dilation_w) * s.kernel_w + 1) *
                       static_cast<double>(ldx);
  if (reach > static_cast<double>(INT32_MAX))
    return error(StatusCode::kUnsupported, "int8 conv: the input is too large for 32-bit offsets");
  if (!aligned_to(a.weight, 16)) return error(StatusCode::kUnsupported, "int8 conv: the packed weight must be 16-byte aligned");
  if (!aligned_to(a.y, sizeof(Out)) || (a.residual && !aligned_to(a.residual, sizeof(Out))))
    return error(StatusCode::kInvalidArgument, "int8 conv: y and the residual must be aligned to their element");
  QUENCH_TRY(check_epilogue(a.epilogue, output_of<Out>(), a.residual != nullptr, s.out_c, a.channel_table, "int8 conv"));
  switch (a.tile) {
    case Tile::kAuto: case Tile::k128x128x64: case Tile::k128x64x128: case Tile::k64x64x128: break;
    default: return error(StatusCode::kInvalidArgument, "int8 conv: unknown tile");
  }
  if (a.split_k < 0 || a.split_k > 64) return error(StatusCode::kInvalidArgument, "int8 conv: split_k must be in 0..64");
  switch (a.path) {
    case Path::kAuto: case Path::kImplicitGeneral: break;
    case Path::kGemm:
      if (!gemm_eligible(a))
        return error(StatusCode::kUnsupported, "int8 conv: the GEMM path needs a 1x1, stride-1, unpadded, ungrouped "
                     "convolution with C and ldx multiples of 16 and x 16-byte aligned");
      break;
    case Path::kImplicitVector:
      if (!vector_eligible(a))
        return error(StatusCode::kUnsupported, "int8 conv: the vector path needs C/groups (", s.c / s.groups,
                     ") and ldx multiples of 16 and x 16-byte aligned");
      break;
    default: return error(StatusCode::kInvalidArgument, "int8 conv: unknown path");
  }
  if (choose_path(a) == Path::kGemm) return gemm::can_implement(as_gemm(a));
  return Status::ok_status();
}

template <class Out>
ConvPlan plan(const ConvArgs<Out>& a, int sms) {
  ConvPlan pl;
  if (!kernels::conv::check_shape(a.shape).ok()) return pl;  // nothing runs (run() says why)
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
  const int64_t k_tiles = std::max<int64_t>(1, ceil_div(kernels::conv::gemm_k(s), d.bk));
  int splits = a.split_k > 0 ? a.split_k : split_k::auto_splits(tiles_of(d, m, n, s.groups), k_tiles, sms);
  splits = static_cast<int>(std::min<int64_t>(splits, std::max<int64_t>(1, 65535 / s.groups)));  // grid.z
  int per_split = 0;
  split_k::normalize_splits(k_tiles, &splits, &per_split);
  pl.split_k = splits;
  return pl;
}

template <class Out>
size_t workspace_bytes(const ConvArgs<Out>& a, int sms) {
  if (!kernels::conv::check_shape(a.shape).ok()) return 0;
  const ConvPlan pl = plan(a, sms);
  if (pl.path == Path::kGemm) return gemm::workspace_bytes(as_gemm(a), sms);
  return implicit_layout(a.shape, pl).total();
}

template <class Out>
size_t workspace_bytes(const ConvArgs<Out>& a) {
  int sms = 1;
  if (!multiprocessors(&sms).ok()) sms = 1;
  return workspace_bytes(a, sms);
}

template <class Out>
Status initialize_workspace(const ConvArgs<Out>& a, void* workspace, cudaStream_t stream) {
  QUENCH_TRY(kernels::conv::check_shape(a.shape));
  if (a.split_k < 0 || a.split_k > 64) return error(StatusCode::kInvalidArgument, "int8 conv: split_k must be in 0..64");
  if (choose_path(a) == Path::kGemm) return gemm::initialize_workspace(as_gemm(a), workspace, stream);
  int sms = 1;
  QUENCH_TRY(multiprocessors(&sms));
  const split_k::WorkspaceLayout w = implicit_layout(a.shape, plan(a, sms));
  if (w.counter_bytes == 0) return Status::ok_status();
  if (!workspace) return error(StatusCode::kInvalidArgument, "int8 conv: split K needs a workspace of ", w.total(), " bytes");
  return cuda_status(cudaMemsetAsync(static_cast<char*>(workspace) + w.partial_bytes, 0, w.counter_bytes, stream),
                     "int8 conv: clearing the split-K counters");
}

template <class Out>
Status run(const ConvArgs<Out>& a, void* workspace, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  int sms = 1;
  QUENCH_TRY(multiprocessors(&sms));
  const ConvPlan pl = plan(a, sms);
  if (pl.path == Path::kGemm) return gemm::run(as_gemm(a), workspace, stream);

  const ConvShape& s = a.shape;
  Params<Out> p;
  p.m = static_cast<int>(gemm_m(s));
  p.n = static_cast<int>(s.out_c / s.groups);
  p.k = static_cast<int>(kernels::conv::gemm_k(s));
  p.kpad = static_cast<int>(int8::conv::packed_k(s));
  p.geo = kernels::conv::gather_geometry(s, row_stride_x(a));
  p.x = a.x;
  p.weight = a.weight;
  p.out.m = p.m;
  p.out.n = p.n;
  p.out.y = a.y;
  p.out.ldy = row_stride_y(a);
  p.out.residual = a.residual;
  p.out.ldr = row_stride_r(a);
  p.out.table = a.channel_table;
  p.out.stride = table_stride(s.out_c);
  // Group g's columns start at g * Cout_g: vectors need that offset to keep the alignment.
  const bool groups_aligned = s.groups == 1 || p.n % 8 == 0;
  p.out.vector_store = groups_aligned && vector_rows<Out>(a.y, p.out.ldy) &&
                       (!a.residual || vector_rows<Out>(a.residual, p.out.ldr));
  p.epi = a.epilogue;
  const TileDims d = dims(pl.tile);
  p.splits = pl.split_k;
  int splits = pl.split_k;
  split_k::normalize_splits(std::max<int64_t>(1, ceil_div(p.k, d.bk)), &splits, &p.k_tiles_per_split);
  p.partials = nullptr;
  p.counters = nullptr;
  if (p.splits > 1) {
    const split_k::WorkspaceLayout w = implicit_layout(s, pl);
    if (!workspace) return error(StatusCode::kInvalidArgument, "int8 conv: split K needs a workspace of ", w.total(), " bytes");
    if (!aligned_to(workspace, 16)) return error(StatusCode::kInvalidArgument, "int8 conv: workspace must be 16-byte aligned");
    p.partials = static_cast<int32_t*>(workspace);
    p.counters = reinterpret_cast<unsigned*>(static_cast<char*>(workspace) + w.partial_bytes);
  }
  if (pl.path == Path::kImplicitVector) return launch_tile<Out, true>(p, s.groups, pl.tile, stream);
  return launch_tile<Out, false>(p, s.groups, pl.tile, stream);
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<int8_t>(const ConvArgs<int8_t>&);
template ConvPlan plan<int8_t>(const ConvArgs<int8_t>&, int);
template size_t workspace_bytes<int8_t>(const ConvArgs<int8_t>&);
template size_t workspace_bytes<int8_t>(const ConvArgs<int8_t>&, int);
template Status initialize_workspace<int8_t>(const ConvArgs<int8_t>&, void*, cudaStream_t);
template Status run<int8_t>(const ConvArgs<int8_t>&, void*, cudaStream_t);
template Status can_implement<__half>(const ConvArgs<__half>&);
template ConvPlan plan<__half>(const ConvArgs<__half>&, int);
template size_t workspace_bytes<__half>(const ConvArgs<__half>&);
template size_t workspace_bytes<__half>(const ConvArgs<__half>&, int);
template Status initialize_workspace<__half>(const ConvArgs<__half>&, void*, cudaStream_t);
template Status run<__half>(const ConvArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::int8::conv
