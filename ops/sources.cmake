# One file per operator family; registry.cpp lists their schema functions.
set(QUENCH_OPS_SOURCES
  ops/attributes.cpp ops/op_util.cpp ops/parallel.cpp ops/registry.cpp
  ops/unary.cpp ops/binary.cpp ops/conv.cpp ops/conv_transpose.cpp ops/gemm.cpp
  ops/batchnorm.cpp ops/pool.cpp ops/softmax.cpp ops/reduce.cpp ops/resize.cpp ops/pad.cpp
  ops/reshape.cpp ops/concat_split.cpp ops/slice_gather.cpp ops/transpose.cpp ops/constant.cpp
  ops/cast.cpp ops/window.cpp
  ops/epilogue.cpp ops/fused_conv.cpp ops/fused_gemm.cpp
  ops/quant_epilogue.cpp ops/quant_conv.cpp ops/quant_gemm.cpp ops/quant_convert.cpp
  # The CUDA side of the families (ops/gpu_op.h).
  ops/gpu_registry.cpp ops/gpu_util.cpp ops/conv_gpu_shape.cpp ops/conv_gpu.cpp ops/gemm_gpu.cpp ops/elementwise_gpu.cpp
  ops/pool_gpu.cpp ops/softmax_gpu.cpp ops/resize_gpu.cpp ops/pad_gpu.cpp ops/transpose_gpu.cpp
  ops/copy_gpu.cpp ops/slice_copy_gpu.cpp ops/conv_transpose_gpu.cpp ops/reduce_gpu.cpp ops/batchnorm_gpu.cpp
  ops/quant_gpu.cpp
)
