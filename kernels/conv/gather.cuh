// Index arithmetic of the implicit-GEMM A gather (im2col on the fly), host and device: the conv
// kernel runs it, and a host test replays it over whole A tiles against a plain im2col.
//
// Row p of one group's A is output pixel (img, oh, ow); column k = (kh*KW + kw)*Cin_g + c. The
// element is x[img, oh*sh - pad_top + kh*dh, ow*sw - pad_left + kw*dw, group*Cin_g + c], zero
// outside the image and past K. A loader keeps, per row, the pixel's top-left input corner and the
// corner's element offset (RowCorner), and per chunk the (kh, kw, c) of its first k (Tap), which
// moves along K incrementally. All offsets fit in 32 bits (conv::can_implement checks the reach).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace quench::kernels::conv {

struct ConvShape;  // conv.cuh

struct GatherGeometry {
  int h, w, ldx, cin_g;  // input height, width, elements between pixels, channels per group
  int ohw, ow;           // output pixels per image, per row
  int kernel_h, kernel_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
};

// The geometry of `s` with `ldx` elements between input pixels (host; s passed check_shape).
GatherGeometry gather_geometry(const ConvShape& s, int64_t ldx);

// Marks a row past M: ih = kRowOutside + kh*dh stays negative (kh*dh < 2^30), so every element
// of the row reads as padding.
constexpr int kRowOutside = -(1 << 30);

struct RowCorner {
  int off;  // element offset of (img, ih, iw, group*Cin_g) from x; may be negative (padding)
  int ih, iw;
};

struct Tap {
  int c, kw, kh;  // channel within the group, kernel column, kernel row (kh >= KH: past K)
};

__host__ __device__ __forceinline__ RowCorner row_corner(const GatherGeometry& g, int gm, int m, int group) {
  RowCorner r;
  if (gm < m) {
    const int img = gm / g.ohw, rest = gm - img * g.ohw;
    const int oh = rest / g.ow, ow = rest - oh * g.ow;
    r.ih = oh * g.stride_h - g.pad_top;
    r.iw = ow * g.stride_w - g.pad_left;
    r.off = ((img * g.h + r.ih) * g.w + r.iw) * g.ldx + group * g.cin_g;
  } else {
    r.ih = kRowOutside;
    r.iw = 0;
    r.off = 0;
  }
  return r;
}

__host__ __device__ __forceinline__ Tap tap_of(const GatherGeometry& g, int k) {
  Tap t;
  const int tap = k / g.cin_g;
  t.c = k - tap * g.cin_g;
  t.kh = tap / g.kernel_w;
  t.kw = tap - t.kh * g.kernel_w;
  return t;
}

// `t` moved `step` columns along K (any step >= 0).
__host__ __device__ __forceinline__ void advance(const GatherGeometry& g, Tap& t, int step) {
  t.c += step;
  if (t.c >= g.cin_g) {
    const int q = t.c / g.cin_g;
    t.c -= q * g.cin_g;
    t.kw += q;
    if (t.kw >= g.kernel_w) {
      const int r = t.kw / g.kernel_w;
      t.kw -= r * g.kernel_w;
      t.kh += r;
    }
  }
}

// `t` moved one column along K (cheaper than advance(g, t, 1)).
__host__ __device__ __forceinline__ void step_one(const GatherGeometry& g, Tap& t) {
  if (++t.c == g.cin_g) {
    t.c = 0;
    if (++t.kw == g.kernel_w) {
      t.kw = 0;
      ++t.kh;
    }
  }
}

// The input offset of tap `t` relative to a row's corner, and its (kh*dh, kw*dw) displacement.
struct TapOffset {
  int delta, dh, dw;
  bool in_k;  // false past K
};

__host__ __device__ __forceinline__ TapOffset tap_offset(const GatherGeometry& g, const Tap& t) {
  TapOffset o;
  o.in_k = t.kh < g.kernel_h;
  o.dh = t.kh * g.dil_h;
  o.dw = t.kw * g.dil_w;
  o.delta = (o.dh * g.w + o.dw) * g.ldx + t.c;
  return o;
}

// True when (row, tap) is inside the image and K; the element is then x[r.off + o.delta].
__host__ __device__ __forceinline__ bool inside(const GatherGeometry& g, const RowCorner& r, const TapOffset& o) {
  return o.in_k && static_cast<unsigned>(r.ih + o.dh) < static_cast<unsigned>(g.h) &&
         static_cast<unsigned>(r.iw + o.dw) < static_cast<unsigned>(g.w);
}

}  // namespace quench::kernels::conv
