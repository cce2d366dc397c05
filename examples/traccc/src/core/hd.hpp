// Host/device qualifiers: the per-element functions of the reconstruction are compiled for the
// CPU (plain C++17) and, unchanged, for CUDA kernels. The CPU tests therefore exercise the very
// code the GPU runs.
#pragma once

#if defined(__CUDACC__)
#define TRACCC_HD __host__ __device__
#else
#define TRACCC_HD
#endif

#include <cmath>
#include <cstdint>

namespace traccc {

constexpr double kPi = 3.14159265358979323846;
constexpr double kTwoPi = 2.0 * kPi;

/** Wraps an angle into (-pi, pi]. */
TRACCC_HD inline double wrap_phi(double a) {
  if (a > kPi || a <= -kPi) {
    a = std::fmod(a + kPi, kTwoPi);
    if (a <= 0.0) a += kTwoPi;
    a -= kPi;
  }
  return a;
}

template <class T>
TRACCC_HD inline T min_val(T a, T b) {
  return a < b ? a : b;
}

template <class T>
TRACCC_HD inline T max_val(T a, T b) {
  return a > b ? a : b;
}

}  // namespace traccc
