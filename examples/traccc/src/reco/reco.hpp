// The reconstruction's narrow interface: cells in, fitted tracks out, with the tensors of the
// traccc service. The same chain runs on the CPU (the reference, and the CI path) and in CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "types.hpp"

namespace traccc {

/** CELL_POSITIONS INT64 [n, 4] and CELL_PROPERTIES FP32 [n, 2], row-major. */
struct CellsView {
  const int64_t* positions;
  const float* properties;
  size_t n;
};

/** Sizes and stage timings of one reconstruction, for logs and benchmarks. */
struct RecoStats {
  size_t cells = 0;
  size_t measurements = 0;
  size_t seeds = 0;
  size_t candidates = 0;
  size_t tracks = 0;
  double ms_prepare = 0;
  double ms_clustering = 0;
  double ms_seeding = 0;
  double ms_following = 0;
  double ms_ambiguity = 0;
  double ms_fit = 0;
  double ms_total = 0;
};

/**
 * TRK_PARAMS FP32 [T, 8] (chi2, ndf, loc0, loc1, phi, theta, q/p, time);
 * MEASUREMENTS FP32 [M, 6] (loc0, loc1 of the measurement; phi, theta, q/p of the fitted track on
 * its surface; time); GEOMETRY_IDS INT64 [M]. The rows of consecutive tracks are separated by one
 * row whose geometry id is 0 (and whose measurement row is zeros), so M = hits + T - 1.
 */
struct TracksResult {
  std::vector<float> trk_params;
  std::vector<float> measurements;
  std::vector<int64_t> geometry_ids;
  size_t n_tracks = 0;
  size_t n_rows = 0;
  RecoStats stats;
};

class Reconstructor {
 public:
  virtual ~Reconstructor() = default;
  /** Reconstructs one event; throws std::invalid_argument for malformed cells. */
  virtual void run(const CellsView& cells, TracksResult* out) = 0;
};

/**
 * The CPU chain. `shuffle` != 0 runs every per-element stage in a pseudo-random order (seeded by
 * it) instead of index order: the tests use it to show that no stage depends on the order its
 * elements run in, which is what running them as parallel GPU threads needs.
 */
std::unique_ptr<Reconstructor> make_cpu_reconstructor(const RecoConfig& config = {}, uint64_t shuffle = 0);

/** Throws std::runtime_error when built without CUDA or when no GPU is usable. */
std::unique_ptr<Reconstructor> make_cuda_reconstructor(const RecoConfig& config = {}, int device = 0);

bool cuda_available();

}  // namespace traccc
