# INT8 calibration: activation histograms, scale methods, the calibration table.
set(QUENCH_CALIBRATION_SOURCES
  engine/calibration/histogram.cpp engine/calibration/scale_methods.cpp
  engine/calibration/calibration_table.cpp engine/calibration/calibration_inputs.cpp
  engine/calibration/calibrator.cpp engine/calibration/weight_scales.cpp
)
