// Elementwise binary (broadcast) and unary kernels, see elementwise.cuh.
//
// The host merges the broadcast into at most 6 dims with per-operand element strides (0 along a
// broadcast dim); each thread then handles one vector of V output elements, finding its operands'
// offsets with one FastDivmod per merged dim. Shapes that merge to one dim (equal shapes, or an
// operand that is a single value) take a flat kernel without index arithmetic, whose last few
// threads handle the elements after the last whole vector.
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/cuda_status.cuh"
#include "kernels/common/fast_divmod.cuh"
#include "kernels/common/vector_io.cuh"
#include "kernels/elementwise/elementwise.cuh"

namespace quench::kernels::elementwise {

Dims Dims::of(std::initializer_list<int64_t> dims) {
  Dims r;
  if (dims.size() > static_cast<size_t>(kMaxDims)) {
    r.rank = -1;
    return r;
  }
  for (int64_t v : dims) r.d[r.rank++] = v;
  return r;
}

int64_t Dims::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= d[i];
  return n;
}

bool Dims::operator==(const Dims& o) const {
  if (rank != o.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (d[i] != o.d[i]) return false;
  return true;
}

namespace {

bool dims_valid(const Dims& s) {
  if (s.rank < 0 || s.rank > kMaxDims) return false;
  for (int i = 0; i < s.rank; ++i)
    if (s.d[i] < 0 || s.d[i] >= int64_t{kFastDivmodLimit}) return false;
  return true;
}

}  // namespace

Status broadcast_shape(const Dims& a, const Dims& b, Dims* out) {
  if (!dims_valid(a) || !dims_valid(b))
    return error(StatusCode::kInvalidArgument, "elementwise: operand ranks must lie in [0, ", kMaxDims,
                 "] and dims in [0, 2^31)");
  const int r = a.rank > b.rank ? a.rank : b.rank;
  Dims o;
  o.rank = r;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank), ib = i - (r - b.rank);
    const int64_t da = ia >= 0 ? a.d[ia] : 1, db = ib >= 0 ? b.d[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return error(StatusCode::kShapeError, "elementwise: dim ", i, " of the broadcast is ", da, " in a and ", db,
                   " in b (must be equal or 1)");
    o.d[i] = da == 1 ? db : da;
  }
  *out = o;
  return Status::ok_status();
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "add";
    case BinaryOp::kSub: return "sub";
    case BinaryOp::kMul: return "mul";
    case BinaryOp::kDiv: return "div";
    case BinaryOp::kMax: return "max";
    case BinaryOp::kMin: return "min";
    case BinaryOp::kPow: return "pow";
  }
  return "unknown";
}

namespace {

constexpr int kBlock = 256;

// ---- host: the merged iteration space ---------------------------------------------------------

struct Plan {
  int rank = 0;  // >= 1
  int64_t dim[kMaxDims] = {};  // outermost first
  int64_t a_stride[kMaxDims] = {}, b_stride[kMaxDims] = {};
  int64_t total = 0;  // output elements
};

Plan make_plan(const Dims& a, const Dims& b, const Dims& out) {
  struct Run {
    int64_t n;
    bool a_bcast, b_bcast;
  };
  Run runs[kMaxDims];
  int count = 0;
  const int r = out.rank;
  for (int i = 0; i < r; ++i) {
    if (out.d[i] == 1) continue;  // a size-1 output dim moves no operand
    const int ia = i - (r - a.rank), ib = i - (r - b.rank);
    const bool ab = (ia >= 0 ? a.d[ia] : 1) == 1, bb = (ib >= 0 ? b.d[ib] : 1) == 1;
    if (count > 0 && runs[count - 1].a_bcast == ab && runs[count - 1].b_bcast == bb) {
      runs[count - 1].n *= out.d[i];  // same broadcast pattern: contiguous together in both
    } else {
      runs[count++] = Run{out.d[i], ab, bb};
    }
  }
  if (count == 0) runs[count++] = Run{1, false, false};
  Plan p;
  p.rank = count;
  p.total = 1;
  int64_t sa = 1, sb = 1;
  for (int i = count - 1; i >= 0; --i) {
    p.dim[i] = runs[i].n;
    p.total *= runs[i].n;
    p.a_stride[i] = runs[i].a_bcast ? 0 : sa;
    p.b_stride[i] = runs[i].b_bcast ? 0 : sb;
    if (!runs[i].a_bcast) sa *= runs[i].n;
    if (!runs[i].b_bcast) sb *= runs[i].n;
  }
  return p;
}

bool overlaps(const void* p, int64_t p_bytes, const void* q, int64_t q_bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(q);
  return a < b + static_cast<uintptr_t>(q_bytes) && b < a + static_cast<uintptr_t>(p_bytes);
}

// ---- device -----------------------------------------------------------------------------------

template <BinaryOp Op>
__device__ __forceinline__ float apply_op(float a, float b) {
  if constexpr (Op == BinaryOp::kAdd) {
    return a + b;
  } else if constexpr (Op == BinaryOp::kSub) {
    return a - b;
  } else if constexpr (Op == BinaryOp::kMul) {
    return a * b;
  } else if constexpr (Op == BinaryOp::kDiv) {
    return __fdiv_rn(a, b);
  } else if constexpr (Op == BinaryOp::kMax) {
    return (isnan(a) || isnan(b)) ? __int_as_float(0x7fc00000) : fmaxf(a, b);  // fmaxf would drop the NaN
  } else if constexpr (Op == BinaryOp::kMin) {
    return (isnan(a) || isnan(b)) ? __int_as_float(0x7fc00000) : fminf(a, b);
  } else {
    static_assert(Op == BinaryOp::kPow, "unhandled binary op");
    return powf(a, b);
  }
}

// One operand's V values: a vector, or one value repeated (broadcast along the innermost dim).
template <class T, int V>
__device__ __forceinline__ void load_operand(const T* p, bool vec, float (&f)[V]) {
  if (vec) {
    VecIO<T, V>::load(p, f);
  } else {
    const float v = to_float(*p);
#pragma unroll
    for (int i = 0; i < V; ++i) f[i] = v;
  }
}

template <class T, BinaryOp Op, int V>
__device__ __forceinline__ void combine_store(T* y, const float (&a)[V], const float (&b)[V], const EpilogueParams& e) {
  float out[V];
  with_activation(e.activation, [&](auto act) {
    constexpr Activation A = decltype(act)::value;
#pragma unroll
    for (int i = 0; i < V; ++i) out[i] = activate<A>(apply_op<Op>(a[i], b[i]), e);
  });
  VecIO<T, V>::store(y, out);
}

template <class T>
struct FlatParams {
  const T* a;
  const T* b;
  T* y;
  bool a_vec, b_vec;  // false: the operand is one value
  unsigned vecs;      // whole vectors
  unsigned threads;   // vecs + the elements after them
  EpilogueParams act;
};

// Operands of y's shape, or a single value. Plain (not __ldg) loads: y may alias a or b.
template <class T, BinaryOp Op, int V>
__global__ void __launch_bounds__(kBlock) binary_flat_kernel(const FlatParams<T> p) {
  const unsigned i = blockIdx.x * kBlock + threadIdx.x;
  if (i >= p.threads) return;
  if (i < p.vecs) {
    const int64_t e = static_cast<int64_t>(i) * V;
    float a[V], b[V];
    load_operand<T, V>(p.a_vec ? p.a + e : p.a, p.a_vec, a);
    load_operand<T, V>(p.b_vec ? p.b + e : p.b, p.b_vec, b);
    combine_store<T, Op, V>(p.y + e, a, b, p.act);
  } else {
    const int64_t e = static_cast<int64_t>(p.vecs) * V + (i - p.vecs);
    float a[1], b[1];
    load_operand<T, 1>(p.a_vec ? p.a + e : p.a, true, a);
    load_operand<T, 1>(p.b_vec ? p.b + e : p.b, true, b);
    combine_store<T, Op, 1>(p.y + e, a, b, p.act);
  }
}

template <class T>
struct BroadcastParams {
  const T* a;
  const T* b;
  T* y;
  unsigned total;  // vectors
  int rank;        // merged dims, >= 2
  FastDivmod dim[kMaxDims];                          // innermost first; dim[0] counts vectors
  int64_t a_stride[kMaxDims], b_stride[kMaxDims];    // innermost first, elements per index step
  bool a_vec, b_vec;  // the operand varies along the innermost dim
  EpilogueParams act;
};

template <class T, BinaryOp Op, int V>
__global__ void __launch_bounds__(kBlock) binary_broadcast_kernel(const BroadcastParams<T> p) {
  const unsigned i = blockIdx.x * kBlock + threadIdx.x;
  if (i >= p.total) return;
  unsigned rest = i;
  int64_t ao = 0, bo = 0;
#pragma unroll
  for (int d = 0; d < kMaxDims; ++d) {
    if (d == p.rank - 1) {  // the outermost dim takes what is left, no division
      ao += static_cast<int64_t>(rest) * p.a_stride[d];
      bo += static_cast<int64_t>(rest) * p.b_stride[d];
      break;
    }
    unsigned q, r;
    p.dim[d].divmod(rest, q, r);
    ao += static_cast<int64_t>(r) * p.a_stride[d];
    bo += static_cast<int64_t>(r) * p.b_stride[d];
    rest = q;
  }
  float a[V], b[V];
  load_operand<T, V>(p.a + ao, p.a_vec, a);
  load_operand<T, V>(p.b + bo, p.b_vec, b);
  combine_store<T, Op, V>(p.y + static_cast<int64_t>(i) * V, a, b, p.act);
}

template <class T>
struct UnaryParams {
  const T* x;
  T* y;
  unsigned vecs, threads;
  UnaryFn fn;
  EpilogueParams act;
};

template <class T, int V>
__global__ void __launch_bounds__(kBlock) unary_kernel(const UnaryParams<T> p) {
  const unsigned i = blockIdx.x * kBlock + threadIdx.x;
  if (i >= p.threads) return;
  auto apply = [&](auto width, int64_t e) {
    constexpr int W = decltype(width)::value;
    float v[W];
    VecIO<T, W>::load(p.x + e, v);
    if (p.fn == UnaryFn::kSqrt) {
#pragma unroll
      for (int k = 0; k < W; ++k) v[k] = __fsqrt_rn(v[k]);
    }
    with_activation(p.act.activation, [&](auto act) {
      constexpr Activation A = decltype(act)::value;
#pragma unroll
      for (int k = 0; k < W; ++k) v[k] = activate<A>(v[k], p.act);
    });
    VecIO<T, W>::store(p.y + e, v);
  };
  if (i < p.vecs) {
    apply(std::integral_constant<int, V>{}, static_cast<int64_t>(i) * V);
  } else {
    apply(std::integral_constant<int, 1>{}, static_cast<int64_t>(p.vecs) * V + (i - p.vecs));
  }
}

// ---- host: dispatch ---------------------------------------------------------------------------

unsigned blocks_for(unsigned threads) { return (threads + kBlock - 1) / kBlock; }

template <class T, BinaryOp Op>
Status launch_op(const Plan& plan, const BinaryArgs<T>& args, int v, cudaStream_t stream) {
  auto flat = [&](auto width) {
    constexpr int V = decltype(width)::value;
    FlatParams<T> p;
    p.a = args.a;
    p.b = args.b;
    p.y = args.y;
    p.a_vec = plan.a_stride[0] != 0;
    p.b_vec = plan.b_stride[0] != 0;
    p.vecs = static_cast<unsigned>(plan.total / V);
    p.threads = p.vecs + static_cast<unsigned>(plan.total % V);
    p.act = args.activation;
    binary_flat_kernel<T, Op, V><<<blocks_for(p.threads), kBlock, 0, stream>>>(p);
    return launch_status("binary_flat_kernel");
  };
  auto broadcast = [&](auto width) {
    constexpr int V = decltype(width)::value;
    BroadcastParams<T> p;
    p.a = args.a;
    p.b = args.b;
    p.y = args.y;
    p.total = static_cast<unsigned>(plan.total / V);
    p.rank = plan.rank;
    for (int d = 0; d < plan.rank; ++d) {
      const int src = plan.rank - 1 - d;  // plan is outermost first
      p.dim[d] = FastDivmod(static_cast<uint32_t>(d == 0 ? plan.dim[src] / V : plan.dim[src]));
      p.a_stride[d] = plan.a_stride[src] * (d == 0 ? V : 1);
      p.b_stride[d] = plan.b_stride[src] * (d == 0 ? V : 1);
    }
    for (int d = plan.rank; d < kMaxDims; ++d) {
      p.dim[d] = FastDivmod(1);
      p.a_stride[d] = p.b_stride[d] = 0;
    }
    p.a_vec = plan.a_stride[plan.rank - 1] != 0;
    p.b_vec = plan.b_stride[plan.rank - 1] != 0;
    p.act = args.activation;
    binary_broadcast_kernel<T, Op, V><<<blocks_for(p.total), kBlock, 0, stream>>>(p);
    return launch_status("binary_broadcast_kernel");
  };
  const bool is_flat = plan.rank == 1;
  switch (v) {
    case 8: return is_flat ? flat(std::integral_constant<int, 8>{}) : broadcast(std::integral_constant<int, 8>{});
    case 2: return is_flat ? flat(std::integral_constant<int, 2>{}) : broadcast(std::integral_constant<int, 2>{});
    default: return is_flat ? flat(std::integral_constant<int, 1>{}) : broadcast(std::integral_constant<int, 1>{});
  }
}

template <class T>
Plan plan_of(const BinaryArgs<T>& a) {
  Dims out;
  if (!broadcast_shape(a.a_shape, a.b_shape, &out).ok()) return Plan{};
  return make_plan(a.a_shape, a.b_shape, out);
}

}  // namespace

template <class T>
Status can_implement(const BinaryArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "elementwise: only FP16 is instantiated so far");
  Dims out;
  QUENCH_TRY(broadcast_shape(a.a_shape, a.b_shape, &out));
  if (static_cast<int>(a.op) < 0 || static_cast<int>(a.op) > static_cast<int>(BinaryOp::kPow))
    return error(StatusCode::kInvalidArgument, "elementwise: unknown binary op ", static_cast<int>(a.op));
  const int64_t n = out.numel(), na = a.a_shape.numel(), nb = a.b_shape.numel();
  if (n >= int64_t{kFastDivmodLimit} - kBlock)
    return error(StatusCode::kUnsupported, "elementwise: ", n, " elements exceed one launch (2^31)");
  if (!epilogue_params_valid(a.activation)) return error(StatusCode::kInvalidArgument, "elementwise: bad activation parameters");
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "elementwise: max_vector must be 1, 2 or 8");
  if (n == 0) return Status::ok_status();
  if (!a.a || !a.b || !a.y) return error(StatusCode::kInvalidArgument, "elementwise: a, b and y must be non-null");
  if (!all_aligned(sizeof(T), {a.a, a.b, a.y}))
    return error(StatusCode::kInvalidArgument, "elementwise: pointers must be aligned to their element");
  const int64_t s = static_cast<int64_t>(sizeof(T));
  // In place only over an operand of the output's own shape: a broadcast operand would be read
  // by many threads after one of them had overwritten it.
  struct Operand {
    const T* p;
    int64_t count;
    const char* name;
  };
  const Operand operands[2] = {{a.a, na, "a"}, {a.b, nb, "b"}};
  for (const Operand& o : operands) {
    if (overlaps(a.y, n * s, o.p, o.count * s) && !(o.p == a.y && o.count == n))
      return error(StatusCode::kInvalidArgument, "elementwise: y overlaps ", o.name,
                   " without being exactly it (in place needs an operand of the output's shape)");
  }
  return Status::ok_status();
}

template <class T>
Status can_implement(const UnaryArgs<T>& a) {
  static_assert(std::is_same_v<T, __half>, "elementwise: only FP16 is instantiated so far");
  if (a.count < 0) return error(StatusCode::kInvalidArgument, "elementwise: negative element count ", a.count);
  if (a.count >= int64_t{kFastDivmodLimit} - kBlock)
    return error(StatusCode::kUnsupported, "elementwise: ", a.count, " elements exceed one launch (2^31)");
  if (!epilogue_params_valid(a.activation)) return error(StatusCode::kInvalidArgument, "elementwise: bad activation parameters");
  if (a.fn != UnaryFn::kIdentity && a.fn != UnaryFn::kSqrt)
    return error(StatusCode::kInvalidArgument, "elementwise: unknown unary function ", static_cast<int>(a.fn));
  if (a.max_vector != 1 && a.max_vector != 2 && a.max_vector != 8)
    return error(StatusCode::kInvalidArgument, "elementwise: max_vector must be 1, 2 or 8");
  if (a.count == 0) return Status::ok_status();
  if (!a.x || !a.y) return error(StatusCode::kInvalidArgument, "elementwise: x and y must be non-null");
  if (!all_aligned(sizeof(T), {a.x, a.y}))
    return error(StatusCode::kInvalidArgument, "elementwise: pointers must be aligned to their element");
  const int64_t bytes = a.count * static_cast<int64_t>(sizeof(T));
  if (a.x != a.y && overlaps(a.x, bytes, a.y, bytes))
    return error(StatusCode::kInvalidArgument, "elementwise: y overlaps x without being exactly it");
  return Status::ok_status();
}

template <class T>
size_t workspace_bytes(const BinaryArgs<T>&) {
  return 0;
}
template <class T>
size_t workspace_bytes(const UnaryArgs<T>&) {
  return 0;
}

template <class T>
int merged_rank(const BinaryArgs<T>& a) {
  return plan_of(a).rank;
}

template <class T>
int vector_width(const BinaryArgs<T>& a) {
  const Plan p = plan_of(a);
  if (p.rank == 0) return 1;
  const bool a_vec = p.a_stride[p.rank - 1] != 0, b_vec = p.b_stride[p.rank - 1] != 0;
  // Operands read one value per vector need no alignment beyond their element.
  auto fits = [&](int v) {
    const unsigned bytes = v * sizeof(T);
    const bool inner_ok = p.rank == 1 || p.dim[p.rank - 1] % v == 0;  // the flat kernel has a tail
    return a.max_vector >= v && inner_ok && all_aligned(bytes, {a.y, a_vec ? a.a : nullptr, b_vec ? a.b : nullptr});
  };
  if (fits(8)) return 8;
  if (fits(2)) return 2;
  return 1;
}

template <class T>
int vector_width(const UnaryArgs<T>& a) {
  if (a.max_vector >= 8 && all_aligned(8 * sizeof(T), {a.x, a.y})) return 8;
  if (a.max_vector >= 2 && all_aligned(2 * sizeof(T), {a.x, a.y})) return 2;
  return 1;
}

template <class T>
Status run(const BinaryArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  const Plan plan = plan_of(a);
  if (plan.total == 0) return Status::ok_status();
  const int v = vector_width(a);
  switch (a.op) {
    case BinaryOp::kAdd: return launch_op<T, BinaryOp::kAdd>(plan, a, v, stream);
    case BinaryOp::kSub: return launch_op<T, BinaryOp::kSub>(plan, a, v, stream);
    case BinaryOp::kMul: return launch_op<T, BinaryOp::kMul>(plan, a, v, stream);
    case BinaryOp::kDiv: return launch_op<T, BinaryOp::kDiv>(plan, a, v, stream);
    case BinaryOp::kMax: return launch_op<T, BinaryOp::kMax>(plan, a, v, stream);
    case BinaryOp::kMin: return launch_op<T, BinaryOp::kMin>(plan, a, v, stream);
    case BinaryOp::kPow: return launch_op<T, BinaryOp::kPow>(plan, a, v, stream);
  }
  return error(StatusCode::kInvalidArgument, "elementwise: unknown binary op");
}

template <class T>
Status run(const UnaryArgs<T>& a, void* /*workspace*/, cudaStream_t stream) {
  QUENCH_TRY(can_implement(a));
  if (a.count == 0) return Status::ok_status();
  auto go = [&](auto width) {
    constexpr int V = decltype(width)::value;
    UnaryParams<T> p;
    p.x = a.x;
    p.y = a.y;
    p.vecs = static_cast<unsigned>(a.count / V);
    p.threads = p.vecs + static_cast<unsigned>(a.count % V);
    p.fn = a.fn;
    p.act = a.activation;
    unary_kernel<T, V><<<blocks_for(p.threads), kBlock, 0, stream>>>(p);
    return launch_status("unary_kernel");
  };
  switch (vector_width(a)) {
    case 8: return go(std::integral_constant<int, 8>{});
    case 2: return go(std::integral_constant<int, 2>{});
    default: return go(std::integral_constant<int, 1>{});
  }
}

// ---- instances ------------------------------------------------------------------------------
template Status can_implement<__half>(const BinaryArgs<__half>&);
template Status can_implement<__half>(const UnaryArgs<__half>&);
template size_t workspace_bytes<__half>(const BinaryArgs<__half>&);
template size_t workspace_bytes<__half>(const UnaryArgs<__half>&);
template int vector_width<__half>(const BinaryArgs<__half>&);
template int vector_width<__half>(const UnaryArgs<__half>&);
template int merged_rank<__half>(const BinaryArgs<__half>&);
template Status run<__half>(const BinaryArgs<__half>&, void*, cudaStream_t);
template Status run<__half>(const UnaryArgs<__half>&, void*, cudaStream_t);

}  // namespace quench::kernels::elementwise
