# The CUDA backend (docs/cuda-backend.md): layouts, device memory, weights, executor, contexts.
set(QUENCH_CUDA_BACKEND_SOURCES
  engine/cuda/layout.cpp engine/cuda/device_memory.cpp engine/cuda/device_weights.cpp
  engine/cuda/device_plan.cpp engine/cuda/cuda_engine.cpp engine/cuda/cuda_executor.cpp
  engine/cuda/cuda_context.cpp engine/cuda/debug_run.cpp engine/cuda/event_timer.cpp
)
