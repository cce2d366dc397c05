# CMake helper for tensorbind native models, built with cmake-js.
#
#   cmake_minimum_required(VERSION 3.18)
#   project(my_model LANGUAGES CXX)
#   include(path/to/tensorbind/native/cmake/tensorbind.cmake)
#   tensorbind_add_model(my_model SOURCES model.cc CUDA_SOURCES kernels.cu)
#
# builds build/Release/my_model.node. CUDA is switched on when a CUDA compiler is found (nvcc
# on PATH, $CUDACXX, or /usr/local/cuda) and off otherwise: then the CUDA_SOURCES are left out,
# TENSORBIND_CUDA is 0 and the build still succeeds, so `npm install` never fails for want of a
# GPU toolchain. Pass REQUIRE_CUDA to make a missing compiler an error instead.
#
# Options (cache variables, e.g. `cmake-js compile --CDTENSORBIND_CUDA=OFF`):
#   TENSORBIND_CUDA                 ON/OFF/AUTO (default AUTO: on when a compiler is found)
#   TENSORBIND_CUDA_ARCHITECTURES   default: every major architecture the compiler supports up to
#                                   Hopper and newer (sm_90 included), real code for each plus
#                                   PTX of the newest, so future GPUs can JIT-compile it.
include_guard(GLOBAL)

set(TENSORBIND_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../include" CACHE PATH "tensorbind's native headers")
set(TENSORBIND_CUDA "AUTO" CACHE STRING "Build CUDA sources: ON, OFF or AUTO (when a CUDA compiler is found)")
set(TENSORBIND_CUDA_ARCHITECTURES "" CACHE STRING "CUDA architectures (default: chosen by compiler version)")

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release)
endif()
if(NOT DEFINED CMAKE_CXX_STANDARD)
  set(CMAKE_CXX_STANDARD 17)
  set(CMAKE_CXX_STANDARD_REQUIRED ON)
endif()

# enable_language() must run at file scope, so the detection happens when this file is included.
set(TENSORBIND_HAS_CUDA OFF)
if(NOT TENSORBIND_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Placeholder so enable_language() does not probe; targets get their list below.
      set(CMAKE_CUDA_ARCHITECTURES OFF)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit)
    if(CUDAToolkit_FOUND)
      set(TENSORBIND_HAS_CUDA ON)
    endif()
  endif()
  if(NOT TENSORBIND_HAS_CUDA AND TENSORBIND_CUDA STREQUAL "ON")
    message(FATAL_ERROR "tensorbind: TENSORBIND_CUDA=ON but no usable CUDA compiler/toolkit was found")
  endif()
endif()

if(TENSORBIND_HAS_CUDA AND NOT TENSORBIND_CUDA_ARCHITECTURES)
  set(_v "${CMAKE_CUDA_COMPILER_VERSION}")
  if(_v VERSION_GREATER_EQUAL 13.0)
    set(TENSORBIND_CUDA_ARCHITECTURES "75-real;80-real;86-real;89-real;90-real;100-real;120")
  elseif(_v VERSION_GREATER_EQUAL 12.8)
    set(TENSORBIND_CUDA_ARCHITECTURES "70-real;75-real;80-real;86-real;89-real;90-real;100-real;120")
  elseif(_v VERSION_GREATER_EQUAL 11.8)
    set(TENSORBIND_CUDA_ARCHITECTURES "70-real;75-real;80-real;86-real;89-real;90")
  else()
    set(TENSORBIND_CUDA_ARCHITECTURES "70-real;75-real;80-real;86")
    message(WARNING "tensorbind: CUDA ${_v} cannot build for Hopper (sm_90); use CUDA >= 11.8")
  endif()
endif()

if(TENSORBIND_HAS_CUDA)
  message(STATUS "tensorbind: CUDA on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${TENSORBIND_CUDA_ARCHITECTURES})")
else()
  message(STATUS "tensorbind: CUDA off (no CUDA compiler found, or TENSORBIND_CUDA=OFF): CPU-only build")
endif()

# tensorbind_add_model(<target> SOURCES <files...> [CUDA_SOURCES <files...>] [REQUIRE_CUDA])
function(tensorbind_add_model target)
  cmake_parse_arguments(TB "REQUIRE_CUDA" "" "SOURCES;CUDA_SOURCES" ${ARGN})
  if(TB_REQUIRE_CUDA AND NOT TENSORBIND_HAS_CUDA)
    message(FATAL_ERROR "tensorbind: ${target} requires CUDA, and no CUDA compiler was found")
  endif()
  set(_sources ${TB_SOURCES})
  if(TENSORBIND_HAS_CUDA)
    list(APPEND _sources ${TB_CUDA_SOURCES})
  endif()
  add_library(${target} SHARED ${_sources} ${CMAKE_JS_SRC})
  set_target_properties(${target} PROPERTIES PREFIX "" SUFFIX ".node"
    CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_include_directories(${target} PRIVATE ${CMAKE_JS_INC} ${TENSORBIND_INCLUDE_DIR})
  target_link_libraries(${target} PRIVATE ${CMAKE_JS_LIB})
  target_compile_definitions(${target} PRIVATE NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS NODE_ADDON_API_DISABLE_DEPRECATED
    NODE_GYP_MODULE_NAME=${target})
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -fexceptions>)
  find_package(Threads REQUIRED)
  target_link_libraries(${target} PRIVATE Threads::Threads)
  if(TENSORBIND_HAS_CUDA)
    target_compile_definitions(${target} PRIVATE TENSORBIND_CUDA=1)
    set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${TENSORBIND_CUDA_ARCHITECTURES}"
      CUDA_STANDARD 17 CUDA_RUNTIME_LIBRARY None)
    # The static runtime loads the driver (libcuda) only when first used, so the addon loads,
    # and declares its models, on a machine without a GPU.
    target_link_libraries(${target} PRIVATE CUDA::cudart_static)
  else()
    target_compile_definitions(${target} PRIVATE TENSORBIND_CUDA=0)
  endif()
  if(MSVC AND CMAKE_JS_NODELIB_DEF AND CMAKE_JS_NODELIB_TARGET)
    execute_process(COMMAND ${CMAKE_AR} /def:${CMAKE_JS_NODELIB_DEF} /out:${CMAKE_JS_NODELIB_TARGET} ${CMAKE_STATIC_LINKER_FLAGS})
  endif()
endfunction()
