# cuDNN ships no CMake config: find it beside the CUDA toolkit and make an imported target.
# Only bench/ links it (a baseline, never the way quench runs an op).
find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/include /usr/include)
find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/lib /usr/lib/x86_64-linux-gnu)
if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY AND NOT TARGET quench_cudnn)
  add_library(quench_cudnn UNKNOWN IMPORTED)
  set_target_properties(quench_cudnn PROPERTIES IMPORTED_LOCATION ${CUDNN_LIBRARY}
                        INTERFACE_INCLUDE_DIRECTORIES ${CUDNN_INCLUDE_DIR})
  set(QUENCH_HAVE_CUDNN ON)
  message(STATUS "cuDNN: ${CUDNN_LIBRARY}")
else()
  set(QUENCH_HAVE_CUDNN OFF)
  message(STATUS "cuDNN not found: its baselines in bench/ are skipped")
endif()
