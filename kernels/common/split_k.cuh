// Host-side planning of the serial split-K reduction (mma::split_k_reduce), shared by the GEMM
// and the implicit-GEMM convolution: how many K slices, and the workspace they need.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace quench::kernels::split_k {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline size_t align16(size_t v) { return (v + 15) / 16 * 16; }

// Slices of K for `tiles` output tiles of `k_tiles` k-tiles each on `sms` multiprocessors: split
// only when the tiles alone cannot fill half the GPU and K is long; then enough blocks to cover
// the GPU about once, each slice at least 4 k-tiles, at most 16 slices.
inline int auto_splits(int64_t tiles, int64_t k_tiles, int sms) {
  if (tiles * 2 > sms || k_tiles < 8) return 1;
  const int64_t want = std::min<int64_t>(ceil_div(sms, tiles), 16);
  const int64_t by_k = k_tiles / 4;
  return static_cast<int>(std::max<int64_t>(1, std::min(want, by_k)));
}

// Final (splits, k-tiles per split) for a requested split count: no empty slice.
inline void normalize_splits(int64_t k_tiles, int* splits, int* per_split) {
  const int64_t s = std::clamp<int64_t>(*splits, 1, k_tiles);
  const int64_t per = ceil_div(k_tiles, s);
  *per_split = static_cast<int>(per);
  *splits = static_cast<int>(ceil_div(k_tiles, per));
}

// Workspace of a split launch: FP32 partial tiles ([tiles][splits][threads * acc per thread]),
// then one counter per tile. Empty when splits <= 1.
struct WorkspaceLayout {
  size_t partial_bytes = 0, counter_bytes = 0;
  size_t total() const { return partial_bytes + counter_bytes; }
};

inline WorkspaceLayout workspace_layout(int64_t tiles, int splits, int threads, int acc_per_thread) {
  WorkspaceLayout w;
  if (splits <= 1) return w;
  w.partial_bytes = align16(static_cast<size_t>(tiles) * splits * threads * acc_per_thread * sizeof(float));
  w.counter_bytes = align16(static_cast<size_t>(tiles) * sizeof(unsigned));
  return w;
}

}  // namespace quench::kernels::split_k
