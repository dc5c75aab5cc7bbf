set(QUENCH_LOADER_SOURCES loaders/onnx/onnx_reader.cpp)
