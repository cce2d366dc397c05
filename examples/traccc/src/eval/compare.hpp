// Agreement of two reconstructions of the same event (CPU vs GPU, or two execution orders):
// tracks are matched by their measurements; matched tracks' parameters are compared.
#pragma once

#include <string>

#include "../reco/reco.hpp"

namespace traccc {

struct Agreement {
  size_t tracks_a = 0;
  size_t tracks_b = 0;
  size_t matched = 0;         // tracks with exactly the same measurements in both
  double max_param_diff = 0;  // over matched tracks and TRK_PARAMS columns 2..7, relative above 1
  double max_chi2_diff = 0;   // relative

  /** Every track matched and parameters within `tol`. */
  bool identical(double tol) const {
    return tracks_a == tracks_b && matched == tracks_a && max_param_diff <= tol;
  }
  /** Fraction of the larger track list that is matched. */
  double match_fraction() const {
    const size_t n = tracks_a > tracks_b ? tracks_a : tracks_b;
    return n ? static_cast<double>(matched) / n : 1.0;
  }
  std::string summary() const;
};

Agreement compare_results(const TracksResult& a, const TracksResult& b);

}  // namespace traccc
