// Small helpers shared by the commands: number formatting, file names, the host description.
#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "quench/quench.h"
#include "quench/tensor.h"

namespace quench::cli {

// 1234567 -> "1.23 M"; below 1000 the plain integer.
std::string si(double v);
// Bytes as "12.3 MiB".
std::string bytes_str(double bytes);
// printf("%.*f") into a std::string.
std::string fixed(double v, int decimals);
// Replaces every newline so that an error stays one line.
std::string one_line(std::string s);

// A tensor name as a file name: characters outside [A-Za-z0-9._-] become '_', a leading '.'
// too (no hidden files, no "." or ".."), an empty name becomes "output"; a name already in
// `taken` gets a numeric suffix. The result is added to `taken`.
std::string file_name_for(const std::string& tensor_name, std::set<std::string>* taken);

// "AMD EPYC 7xx (16 threads)": the CPU the reference backend runs on.
std::string cpu_description();
// "cpu: <cpu_description>" or "cuda:0 NVIDIA H100 80GB HBM3 (sm_90)": where a backend runs.
std::string device_description(Backend b);

// Random values for an input of `dtype`, seeded: floats uniform in [-1, 1); uint8 in [0, 255]
// (image-like); other integers in [0, 9], small enough to index any realistic table; bools
// 0 or 1. Unsupported dtypes (string) leave zeros.
void fill_random(Tensor& t, std::mt19937_64& rng);

// `t` converted to `to` when both are floating point (a float64 .npy fed to a float32 input);
// false when the conversion is not one quench does silently.
bool convert_float(const Tensor& t, DType to, Tensor* out);

struct TensorSummary {
  double min = 0, max = 0, mean = 0;
  int64_t nan_count = 0, inf_count = 0;  // min/max/mean are over the finite values
  std::vector<double> first;              // the first few values
};
TensorSummary summarize(const Tensor& t, size_t first_count);

}  // namespace quench::cli
