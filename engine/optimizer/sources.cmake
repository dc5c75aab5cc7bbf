# Graph optimizer: one file per pass (see optimizer.h for the pipeline).
set(QUENCH_OPTIMIZER_SOURCES
  engine/optimizer/optimizer.cpp engine/optimizer/graph_edit.cpp engine/optimizer/shape_facts.cpp
  engine/optimizer/fusable.cpp engine/optimizer/fuse_blocks.cpp engine/optimizer/remove_copies.cpp
  engine/optimizer/transpose_pairs.cpp engine/optimizer/fold_batchnorm.cpp engine/optimizer/fold_activations.cpp
  engine/optimizer/fold_residual_adds.cpp engine/optimizer/fuse_inverted_residuals.cpp engine/optimizer/fuse_dw_pw.cpp
  engine/optimizer/remove_dead_nodes.cpp engine/optimizer/simplify_reshapes.cpp engine/optimizer/launches.cpp
  engine/optimizer/inspect_report.cpp engine/optimizer/fold_constants.cpp
  engine/optimizer/fold_affine.cpp
)
