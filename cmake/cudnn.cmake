# cuDNN ships no CMake config: find it and make an imported target. Only bench/ links it (a
# baseline, never the way quench runs an op). CUDNN_ROOT (cache variable or environment) points at
# an install prefix or an unpacked package, e.g. PyTorch's pip wheel:
#   -DCUDNN_ROOT=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))')
set(CUDNN_ROOT "$ENV{CUDNN_ROOT}" CACHE PATH "cuDNN install prefix (holds include/cudnn.h and lib/libcudnn*)")
set(_quench_cudnn_hints ${CUDNN_ROOT} ${CUDAToolkit_LIBRARY_ROOT} /usr/local/cuda /usr/local /usr)
find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
  PATHS ${_quench_cudnn_hints}
  PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu)
# Pip wheels carry only the versioned library (libcudnn.so.9), so name it too.
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
  HINTS ${CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR}
  PATHS ${_quench_cudnn_hints}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu)
if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY AND NOT TARGET quench_cudnn)
  add_library(quench_cudnn UNKNOWN IMPORTED)
  set_target_properties(quench_cudnn PROPERTIES IMPORTED_LOCATION ${CUDNN_LIBRARY}
                        INTERFACE_INCLUDE_DIRECTORIES ${CUDNN_INCLUDE_DIR})
  set(QUENCH_HAVE_CUDNN ON)
  message(STATUS "cuDNN: ${CUDNN_LIBRARY} (headers ${CUDNN_INCLUDE_DIR})")
elseif(TARGET quench_cudnn)
  set(QUENCH_HAVE_CUDNN ON)
else()
  set(QUENCH_HAVE_CUDNN OFF)
  message(STATUS "cuDNN not found (set CUDNN_ROOT): its baselines in bench/ are skipped")
endif()
