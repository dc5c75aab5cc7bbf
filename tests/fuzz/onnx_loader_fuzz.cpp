// libFuzzer target: any bytes through the ONNX reader (as a model and as a lone TensorProto),
// and every model that loads through the IR's structural checks. Built by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/ir/graph.h"
#include "loaders/onnx/onnx_reader.h"

namespace {

// Reads every byte a constant views, so that ASan sees any view reaching past its buffer.
uint8_t touch(const quench::Tensor& t) {
  uint8_t x = 0;
  const auto* p = static_cast<const uint8_t*>(t.data());
  for (size_t i = 0; i < t.bytes(); ++i) x ^= p[i];
  return x;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A non-owning owner: the model dies before this call returns, and an owner makes the
  // reader view raw_data in place, the path a memory-mapped file takes.
  std::shared_ptr<const void> owner(data, [](const void*) {});
  quench::loaders::OnnxReadOptions opt;
  opt.max_tensor_bytes = uint64_t{1} << 26;
  auto m = quench::loaders::read_onnx_bytes(owner, data, size, "fuzz.onnx", "", opt);
  volatile uint8_t sink = 0;
  if (m.ok()) {
    for (const auto& [name, v] : m->graph.values)
      if (v.is_constant()) sink = sink ^ touch(v.constant);
    if (quench::ir::validate(m->graph).ok()) (void)quench::ir::bind_schemas(m->graph);
  }
  auto t = quench::loaders::read_tensor_proto(data, size, "fuzz.pb");
  if (t.ok()) sink = sink ^ touch(*t);
  (void)sink;
  return 0;
}
