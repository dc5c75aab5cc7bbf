// The plan file (.qplan): a built engine, written once and mapped back without re-inference
// or re-planning. Layout, little-endian:
//
//   header, 64 bytes   "QUENCHPL" | u32 format version | u32 header bytes (64) | u64 file bytes
//                      | u64 metadata offset | u64 metadata bytes | u64 weights offset
//                      | u64 weights bytes | u64 checksum of every byte but these last 8
//   metadata           producer, source, build options, the tensor table (dtype, shape and
//                      place of every constant in the weights section), the calibration table
//                      (u32 entries; when nonzero: u8 method, f64 percentile, i64 samples,
//                      then per entry the tensor name, f64 amax, f32 scale),
//                      then for each batch 1..max_batch its graph (values, nodes with their
//                      attributes, inputs, outputs) and its plan (arena offsets, workspaces,
//                      elided and in-place steps, chosen implementations, memory figures)
//   weights            256-byte aligned; each constant 64-byte aligned, stored once however
//                      many batches' graphs use it, and viewed in place after loading
//
// The version is checked before the checksum, so a file from another quench says so instead
// of reporting corruption. Everything read is bounds-checked, and the loaded plans go through
// check_execution_plan (engine/execution_plan.h) before any run can use them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/calibration/calibration_table.h"
#include "engine/execution_plan.h"
#include "quench/quench.h"

namespace quench::loaders {

inline constexpr char kQPlanMagic[8] = {'Q', 'U', 'E', 'N', 'C', 'H', 'P', 'L'};
inline constexpr uint32_t kQPlanVersion = 1;
inline constexpr size_t kQPlanHeaderBytes = 64;

struct PlanBundle {
  BuildOptions options;
  std::string source;  // the model the engine was built from
  std::vector<std::shared_ptr<const ExecutionPlan>> plans;  // [b - 1] for batch b
  std::shared_ptr<const void> keep_alive;                   // the mapped file, after reading
  calib::CalibrationTable calibration;                      // INT8 engines' activation scales
};

Status write_qplan(const std::string& path, const PlanBundle& bundle);
Result<PlanBundle> read_qplan(const std::string& path);
// From bytes in memory (the fuzz target and tests); `owner` keeps them alive.
Result<PlanBundle> read_qplan_bytes(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                    const std::string& name);

}  // namespace quench::loaders
