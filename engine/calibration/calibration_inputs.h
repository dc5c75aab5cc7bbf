// Calibration inputs on disk: .npy files, one tensor per model input per sample.
//
//   DIR/*.npy                      a model with one input: each file is one sample
//   DIR/<input name>/*.npy         any model: one folder per input; the k-th file (by name)
//                                  of every folder together form sample k, so every folder
//                                  must hold the same number of files
// A single-input model may use either layout (the folder wins when DIR/<input name> exists).
// Each file holds the input's exact shape, or that shape without its leading dim when the
// model's batch is 1 (a sample saved without its batch axis). float64 files are accepted for
// float32 inputs and converted (numpy's default dtype); other dtypes must match exactly.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/ir/graph.h"
#include "quench/quench.h"

namespace quench::calib {

// Per sample, the file holding each input.
using SampleFiles = std::map<std::string, std::string, std::less<>>;

// Lists the samples under `dir` for the graph's inputs, in file-name order. Fails naming the
// folder when it is missing, holds no .npy file, or the folders' counts differ.
Result<std::vector<SampleFiles>> list_calibration_samples(const std::string& dir, const ir::Graph& g);

// Reads one sample and checks every tensor against the graph's input (dtype, shape); errors
// name the file and the input.
Result<TensorMap> load_calibration_sample(const SampleFiles& files, const ir::Graph& g);

}  // namespace quench::calib
