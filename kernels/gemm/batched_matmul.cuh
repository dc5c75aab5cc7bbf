// A batch of small products of two activations, C[b] = A[b] . B[b] (ONNX MatMul with a
// non-constant B: attention scores Q.K^T and their product with V). Row-major [m, k], [k, n],
// [m, n] per batch entry; a batch stride of 0 broadcasts one matrix to every entry. FP16
// storage, FP32 accumulation, any m, n, k.
//
// A 16 x 16 output tile per block through shared memory, on CUDA cores: these products are a
// few MFLOPs (40 x 40 x 15 per head in PP-OCR's recognizer), far from where tensor cores pay.
// Larger ones belong on kernels/gemm once it takes an activation B.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "quench/status.h"

namespace quench::kernels::batched_matmul {

template <class T>
struct BatchedMatMulArgs {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  const T* a = nullptr;  // batch entries stride_a apart, each [m, k] dense
  const T* b = nullptr;  // stride_b apart, each [k, n] dense
  T* c = nullptr;        // [batch, m, n] dense; must not overlap a or b
  int64_t stride_a = 0, stride_b = 0;  // elements; 0 broadcasts the one matrix
};

// Ok when run() will accept `args`; otherwise says why.
template <class T>
Status can_implement(const BatchedMatMulArgs<T>& args);

// Launches on `stream`; checks the arguments and the launch; does not synchronize.
template <class T>
Status run(const BatchedMatMulArgs<T>& args, void* workspace, cudaStream_t stream);

}  // namespace quench::kernels::batched_matmul
