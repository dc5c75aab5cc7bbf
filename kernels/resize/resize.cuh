// Resize of H and W on NHWC: nearest and bilinear, with ONNX's coordinate transformation modes
// (Resize-11 and later) and nearest modes. FP16 storage, FP32 interpolation.
//
// Output pixel (oh, ow) reads input coordinate (coord_h(oh), coord_w(ow)), per axis with
// in = input size, out = output size, scale = ONNX's scale and L = scale * in:
//   half_pixel            (x + 0.5) / scale - 0.5
//   pytorch_half_pixel    L > 1 ? (x + 0.5) / scale - 0.5 : -0.5
//   half_pixel_symmetric  in/2 * (1 - out/L) + (x + 0.5) / scale - 0.5
//   align_corners         L == 1 ? 0 : x * (in - 1) / (L - 1)
//   asymmetric            x / scale
//   tf_half_pixel_for_nn  (x + 0.5) / scale
// computed in FP64 in the same order as quench's CPU reference (ONNX's reference
// implementation), so that the nearest pick agrees with it exactly, ties included.
// Nearest takes floor / ceil / round-half-down / round-half-up of the coordinate, bilinear the
// two neighbours on each axis; indices beyond the input read the edge. tf_crop_and_resize,
// cubic and antialias are not implemented (can_implement says so).
//
// N and C are never resized here, which is ONNX's meaning only when the transformation maps an
// axis of scale 1 onto itself. Every mode does except tf_half_pixel_for_nn, whose (x + 0.5) / 1
// sends channel c to c + 1 under ceil, round_prefer_ceil and linear: only its floor and
// round_prefer_floor forms are accepted.
//
// Vectorized along channels: 8 (16 bytes), 2 (half2) or 1 channels per thread.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::resize {

enum class ResizeMode : int { kNearest = 0, kLinear };
enum class CoordinateMode : int {
  kHalfPixel = 0,
  kPytorchHalfPixel,
  kHalfPixelSymmetric,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNN,
};
enum class NearestMode : int { kRoundPreferFloor = 0, kRoundPreferCeil, kFloor, kCeil };

template <class T>
struct ResizeArgs {
  ResizeMode mode = ResizeMode::kNearest;
  CoordinateMode coord = CoordinateMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  int64_t n = 0, h = 0, w = 0, c = 0;  // input, NHWC
  int64_t out_h = 0, out_w = 0;
  // ONNX's scales for H and W: the `scales` input, or out / in when the model gave `sizes`.
  double scale_h = 0, scale_w = 0;
  const T* x = nullptr;
  T* y = nullptr;  // [n, out_h, out_w, c]
  int max_vector = 8;  // caps the channel vector width (8, 2 or 1)
};

template <class T>
Status can_implement(const ResizeArgs<T>& args);

template <class T>
size_t workspace_bytes(const ResizeArgs<T>& args);

template <class T>
int vector_width(const ResizeArgs<T>& args);

// Launch on `stream`; checks the arguments and the launch; does not synchronize.
template <class T>
Status run(const ResizeArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::resize
