// tensorbind native model API: datatypes and shapes. No Node-API, no CUDA: safe to include
// from any translation unit, .cu files compiled by nvcc included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

/// The version of the contract between a compiled addon and tensorbind's TypeScript side. The
/// TypeScript side refuses an addon built against another version (rebuild the addon).
#define TENSORBIND_API_VERSION 1

#ifndef TENSORBIND_CUDA
#define TENSORBIND_CUDA 0
#endif

namespace tensorbind {

/// The KServe v2 datatypes. The numeric codes are part of the addon contract (API version).
enum class DataType : std::uint8_t {
  BOOL = 1,
  UINT8 = 2,
  UINT16 = 3,
  UINT32 = 4,
  UINT64 = 5,
  INT8 = 6,
  INT16 = 7,
  INT32 = 8,
  INT64 = 9,
  FP16 = 10,
  BF16 = 11,
  FP32 = 12,
  FP64 = 13,
  BYTES = 14,
};

/// IEEE half and bfloat16 as raw 16-bit words (reinterpret as __half / __nv_bfloat16 in CUDA code).
struct fp16_t {
  std::uint16_t bits;
};
struct bf16_t {
  std::uint16_t bits;
};

inline const char* name_of(DataType t) noexcept {
  switch (t) {
    case DataType::BOOL: return "BOOL";
    case DataType::UINT8: return "UINT8";
    case DataType::UINT16: return "UINT16";
    case DataType::UINT32: return "UINT32";
    case DataType::UINT64: return "UINT64";
    case DataType::INT8: return "INT8";
    case DataType::INT16: return "INT16";
    case DataType::INT32: return "INT32";
    case DataType::INT64: return "INT64";
    case DataType::FP16: return "FP16";
    case DataType::BF16: return "BF16";
    case DataType::FP32: return "FP32";
    case DataType::FP64: return "FP64";
    case DataType::BYTES: return "BYTES";
  }
  return "?";
}

/// Bytes per element; 0 for BYTES (variable length).
inline std::size_t size_of(DataType t) noexcept {
  switch (t) {
    case DataType::BOOL:
    case DataType::UINT8:
    case DataType::INT8: return 1;
    case DataType::UINT16:
    case DataType::INT16:
    case DataType::FP16:
    case DataType::BF16: return 2;
    case DataType::UINT32:
    case DataType::INT32:
    case DataType::FP32: return 4;
    case DataType::UINT64:
    case DataType::INT64:
    case DataType::FP64: return 8;
    case DataType::BYTES: return 0;
  }
  return 0;
}

inline bool is_valid(std::uint32_t code) noexcept { return code >= 1 && code <= 14; }

/// The datatype of a C++ element type: `dtype_of<float>` is FP32.
template <typename T>
struct dtype_traits;
#define TENSORBIND_DTYPE(T, D) \
  template <>                  \
  struct dtype_traits<T> {     \
    static constexpr DataType value = DataType::D; \
  }
TENSORBIND_DTYPE(bool, BOOL);
TENSORBIND_DTYPE(std::uint8_t, UINT8);
TENSORBIND_DTYPE(std::uint16_t, UINT16);
TENSORBIND_DTYPE(std::uint32_t, UINT32);
TENSORBIND_DTYPE(std::uint64_t, UINT64);
TENSORBIND_DTYPE(std::int8_t, INT8);
TENSORBIND_DTYPE(std::int16_t, INT16);
TENSORBIND_DTYPE(std::int32_t, INT32);
TENSORBIND_DTYPE(std::int64_t, INT64);
TENSORBIND_DTYPE(fp16_t, FP16);
TENSORBIND_DTYPE(bf16_t, BF16);
TENSORBIND_DTYPE(float, FP32);
TENSORBIND_DTYPE(double, FP64);
#undef TENSORBIND_DTYPE

template <typename T>
inline constexpr DataType dtype_of = dtype_traits<std::remove_cv_t<T>>::value;

static_assert(sizeof(bool) == 1, "tensorbind maps BOOL to a one-byte bool");

/// A tensor shape: dimensions, outermost first. In declarations -1 means "any size".
using Shape = std::vector<std::int64_t>;

/// Number of elements of a concrete shape (1 for a scalar shape {}).
inline std::size_t element_count(const Shape& shape) noexcept {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d < 0 ? 0 : d);
  return n;
}

inline std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace tensorbind
