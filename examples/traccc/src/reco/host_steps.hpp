// The host-side steps shared by the CPU and CUDA pipelines: validating and indexing the input
// cells, the greedy ambiguity resolution between track candidates, and the stage timings.
#pragma once

#include <chrono>
#include <vector>

#include "reco.hpp"

namespace traccc {

/** Wall-clock timings of the stages of one event (RecoStats' ms_* fields). */
class StageTimer {
 public:
  /** Milliseconds since the previous lap (the first: since construction). */
  double lap() {
    const Clock::time_point now = Clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
    return ms;
  }
  /** Milliseconds since construction. */
  double total() const { return std::chrono::duration<double, std::milli>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

/** Input cells grouped by module: `cell_begin` is the CSR over dense module indices. */
struct ModuleCells {
  const int64_t* positions = nullptr;
  const float* properties = nullptr;
  int n = 0;
  std::vector<int> cell_begin;
  std::vector<int64_t> sorted_positions;  // used only when the input was not in module order
  std::vector<float> sorted_properties;
};

/**
 * Checks every cell (known geometry id, channels inside the module, finite values) and indexes
 * them by module. Cells should come sorted by (geometry id, channel1, channel0), as the traccc
 * clients send them; otherwise they are sorted here (a copy). Throws std::invalid_argument
 * naming the first bad row.
 */
void index_cells(const Detector& det, const CellsView& cells, ModuleCells* out);

/**
 * Greedy ambiguity resolution: candidates with enough hits and a good chi2/ndf
 * (passes_fit_quality), best first
 * (more hits, then lower chi2, then seed order), each accepted unless it shares more than
 * cfg.max_shared measurements with those already accepted. Returns indices into `cands`.
 */
std::vector<int> resolve_ambiguities(const RecoConfig& cfg, const Candidate* cands, size_t n_cands,
                                     size_t n_measurements);

/** Row offsets of each selected track in MEASUREMENTS (with the 0-separators) and the total. */
size_t track_rows(const Candidate* cands, const std::vector<int>& selected, std::vector<int>* row_of_track);

}  // namespace traccc
