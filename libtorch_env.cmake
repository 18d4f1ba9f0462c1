# libtorch_env.cmake — finds LibTorch for oess and says which one it used.
#
# Order (first hit wins; nothing is ever downloaded):
#   1. -DTorch_DIR=...           (a folder holding TorchConfig.cmake), or the LIBTORCH environment
#      variable (an unpacked LibTorch distribution, or any prefix with share/cmake/Torch)
#   2. a Python torch's cmake prefix (`torch.utils.cmake_prefix_path`), tried with OESS_PYTHON,
#      then `python3` on PATH, then /usr/bin/python3 — used only where it really holds TorchConfig.cmake
#   3. the system (Debian 12: libtorch-dev 1.13.1 under /usr/lib/x86_64-linux-gnu/cmake/Torch)
#
# Sets: OESS_TORCH_SOURCE (which of the above), Torch_VERSION, TORCH_LIBRARIES, and the imported target
# `torch`, whose interface carries LibTorch's ABI flag (-D_GLIBCXX_USE_CXX11_ABI=...). C++17 is required by
# LibTorch 2.x and used by oess throughout.

if(NOT CMAKE_CXX_STANDARD)
  set(CMAKE_CXX_STANDARD 17)
endif()
set(CMAKE_CXX_STANDARD_REQUIRED ON)

set(OESS_TORCH_SOURCE "")
if(Torch_DIR AND EXISTS "${Torch_DIR}/TorchConfig.cmake")
  set(OESS_TORCH_SOURCE "-DTorch_DIR")
elseif(DEFINED ENV{LIBTORCH} AND NOT "$ENV{LIBTORCH}" STREQUAL "")
  foreach(_cand "$ENV{LIBTORCH}/share/cmake/Torch" "$ENV{LIBTORCH}/lib/cmake/Torch" "$ENV{LIBTORCH}")
    if(EXISTS "${_cand}/TorchConfig.cmake")
      set(Torch_DIR "${_cand}" CACHE PATH "LibTorch's cmake folder" FORCE)
      set(OESS_TORCH_SOURCE "LIBTORCH=$ENV{LIBTORCH}")
      break()
    endif()
  endforeach()
  if(NOT OESS_TORCH_SOURCE)
    message(FATAL_ERROR "oess: LIBTORCH=$ENV{LIBTORCH} holds no TorchConfig.cmake "
                        "(looked in share/cmake/Torch, lib/cmake/Torch and the folder itself)")
  endif()
endif()

if(NOT OESS_TORCH_SOURCE)
  set(_pythons "")
  if(OESS_PYTHON)
    list(APPEND _pythons "${OESS_PYTHON}")
  endif()
  find_program(_oess_path_python python3)
  if(_oess_path_python)
    list(APPEND _pythons "${_oess_path_python}")
  endif()
  list(APPEND _pythons /usr/bin/python3)
  list(REMOVE_DUPLICATES _pythons)
  foreach(_py IN LISTS _pythons)
    if(NOT EXISTS "${_py}")
      continue()
    endif()
    execute_process(
      COMMAND "${_py}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _prefix OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _rc ERROR_QUIET TIMEOUT 60)
    if(_rc EQUAL 0 AND EXISTS "${_prefix}/Torch/TorchConfig.cmake")
      set(Torch_DIR "${_prefix}/Torch" CACHE PATH "LibTorch's cmake folder" FORCE)
      set(OESS_TORCH_SOURCE "Python torch (${_py})")
      break()
    endif()
  endforeach()
  unset(_oess_path_python CACHE)
endif()

if(NOT OESS_TORCH_SOURCE)
  set(OESS_TORCH_SOURCE "system")
endif()

find_package(Torch REQUIRED)

# TorchConfig puts its ABI flag on the `torch` target; also record it for consumers that inspect it.
get_target_property(_oess_torch_opts torch INTERFACE_COMPILE_OPTIONS)
if(NOT _oess_torch_opts)
  set(_oess_torch_opts "(none)")
endif()
message(STATUS "oess: LibTorch ${Torch_VERSION} from ${OESS_TORCH_SOURCE} (${Torch_DIR}); "
               "compile flags: ${_oess_torch_opts}")
