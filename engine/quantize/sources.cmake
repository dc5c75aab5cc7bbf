# INT8 quantization: the pass that rewrites products into INT8 ops, mixed precision, the build step.
set(QUENCH_QUANTIZE_SOURCES
  engine/quantize/quantize_graph.cpp engine/quantize/sample_runner.cpp
  engine/quantize/sensitivity.cpp engine/quantize/int8_build.cpp
)
