#include "compare.hpp"

#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <vector>

namespace traccc {
namespace {

std::map<std::string, size_t> track_keys(const TracksResult& r) {
  std::map<std::string, size_t> keys;
  size_t row = 0;
  for (size_t t = 0; t < r.n_tracks; ++t) {
    std::string key;
    for (; row < r.n_rows && r.geometry_ids[row] != 0; ++row) {
      char buf[8 + 2 * sizeof(float)];
      std::memcpy(buf, &r.geometry_ids[row], 8);
      std::memcpy(buf + 8, &r.measurements[row * kMeasurementColumns], 2 * sizeof(float));
      key.append(buf, sizeof buf);
    }
    ++row;
    keys.emplace(std::move(key), t);
  }
  return keys;
}

double rel_diff(double a, double b) { return std::fabs(a - b) / std::fmax(1.0, std::fmax(std::fabs(a), std::fabs(b))); }

}  // namespace

Agreement compare_results(const TracksResult& a, const TracksResult& b) {
  Agreement ag;
  ag.tracks_a = a.n_tracks;
  ag.tracks_b = b.n_tracks;
  const auto ka = track_keys(a);
  const auto kb = track_keys(b);
  for (const auto& [key, ta] : ka) {
    const auto it = kb.find(key);
    if (it == kb.end()) continue;
    ++ag.matched;
    const float* pa = &a.trk_params[ta * kTrkParamColumns];
    const float* pb = &b.trk_params[it->second * kTrkParamColumns];
    ag.max_chi2_diff = std::fmax(ag.max_chi2_diff, rel_diff(pa[0], pb[0]));
    for (int c = 2; c < kTrkParamColumns; ++c) ag.max_param_diff = std::fmax(ag.max_param_diff, rel_diff(pa[c], pb[c]));
  }
  return ag;
}

std::string Agreement::summary() const {
  std::ostringstream os;
  os << "tracks " << tracks_a << " vs " << tracks_b << ", identical measurements " << matched << " ("
     << 100.0 * match_fraction() << "%), max parameter difference " << max_param_diff << ", max chi2 difference "
     << max_chi2_diff;
  return os.str();
}

}  // namespace traccc
