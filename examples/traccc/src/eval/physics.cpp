#include "physics.hpp"

#include <cmath>
#include <unordered_map>
#include <vector>

namespace traccc {

void PhysicsCounts::add(const PhysicsCounts& o) {
  selected += o.selected;
  found += o.found;
  tracks += o.tracks;
  fakes += o.fakes;
  duplicates += o.duplicates;
  sum_dpt2 += o.sum_dpt2;
  n_dpt += o.n_dpt;
}

PhysicsCounts evaluate(const Detector& det, const Event& truth, const TracksResult& res, double pt_min,
                       int min_hits) {
  std::unordered_map<int64_t, std::vector<size_t>> by_module;
  for (size_t h = 0; h < truth.n_hits(); ++h) by_module[truth.hit_ids[2 * h]].push_back(h);

  std::unordered_map<int64_t, size_t> particle_row;
  for (size_t p = 0; p < truth.n_particles(); ++p)
    particle_row[static_cast<int64_t>(truth.particles[p * kParticleColumns + kPartId])] = p;

  PhysicsCounts pc;
  std::unordered_map<int64_t, int> tracks_of;
  size_t row = 0;
  for (size_t t = 0; t < res.n_tracks; ++t) {
    std::unordered_map<int64_t, int> votes;
    int n = 0;
    for (; row < res.n_rows && res.geometry_ids[row] != 0; ++row, ++n) {
      const int64_t gid = res.geometry_ids[row];
      const int mod = module_of_geometry_id(det, static_cast<uint64_t>(gid));
      const auto it = by_module.find(gid);
      if (mod < 0 || it == by_module.end()) continue;
      const LayerDesc& l = det.layers[layer_of_module(det, mod)];
      const float u = res.measurements[row * kMeasurementColumns];
      const float v = res.measurements[row * kMeasurementColumns + 1];
      double best = 9.0;  // (3 pitches)^2
      int64_t who = -1;
      for (size_t h : it->second) {
        const double du = (truth.hit_local[2 * h] - u) / l.pitch0;
        const double dv = (truth.hit_local[2 * h + 1] - v) / l.pitch1;
        const double d2 = du * du + dv * dv;
        if (d2 < best) {
          best = d2;
          who = truth.hit_ids[2 * h + 1];
        }
      }
      if (who >= 0) ++votes[who];
    }
    ++row;  // the separator
    int64_t owner = 0;
    int most = 0;
    for (const auto& [p, c] : votes)
      if (p != 0 && (c > most || (c == most && p < owner))) {
        most = c;
        owner = p;
      }
    ++pc.tracks;
    if (owner == 0 || 2 * most < n) {
      ++pc.fakes;
      continue;
    }
    if (tracks_of[owner]++ > 0) {
      ++pc.duplicates;
      continue;
    }
    const auto pr = particle_row.find(owner);
    if (pr == particle_row.end()) continue;
    const double* prt = &truth.particles[pr->second * kParticleColumns];
    if (prt[kPartPt] > pt_min && prt[kPartNHits] >= min_hits) {
      const double qop = res.trk_params[t * kTrkParamColumns + 6];
      const double theta = res.trk_params[t * kTrkParamColumns + 5];
      if (qop != 0.0) {
        const double pt_fit = std::fabs(std::sin(theta) / qop);
        const double d = pt_fit / prt[kPartPt] - 1.0;
        pc.sum_dpt2 += d * d;
        ++pc.n_dpt;
      }
    }
  }
  for (size_t p = 0; p < truth.n_particles(); ++p) {
    const double* prt = &truth.particles[p * kParticleColumns];
    if (prt[kPartPt] <= pt_min || prt[kPartNHits] < min_hits) continue;
    ++pc.selected;
    if (tracks_of.count(static_cast<int64_t>(prt[kPartId]))) ++pc.found;
  }
  return pc;
}

}  // namespace traccc
