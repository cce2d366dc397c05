// Stage 5-6 per element: track following from one seed, layer by layer outwards with a Kalman
// filter and a chi-square cut, and the final fit (a backward Kalman filter over the chosen
// measurements) that writes the service's output rows.
#pragma once

#include "kalman.hpp"
#include "seeding.hpp"

namespace traccc {

/** The best measurement of layer `li` for the predicted state, or -1. */
TRACCC_HD inline int best_measurement(const SeedInputs& in, int li, const TrackState& s, double* chi2_out) {
  const LayerDesc& l = in.det.layers[li];
  const double ns = in.cfg.window_sigmas;
  const double wphi = ns * std::sqrt(s.C[0] + l.pitch0 * l.pitch0 / (12.0 * l.r * l.r)) + l.pitch0 / l.r;
  const double wz = ns * std::sqrt(s.C[6] + l.pitch1 * l.pitch1 / 12.0) + l.pitch1;
  const double bin = kTwoPi / l.n_phi;
  const int ip0 = static_cast<int>(std::floor((s.x[0] - wphi + kPi) / bin));
  const int ip1 = static_cast<int>(std::floor((s.x[0] + wphi + kPi) / bin));
  const int iz0 = max_val(0, static_cast<int>(std::floor((s.x[1] - wz + l.half_z) / l.mod_l)));
  const int iz1 = min_val(l.n_z - 1, static_cast<int>(std::floor((s.x[1] + wz + l.half_z) / l.mod_l)));
  const int nphi = min_val(ip1 - ip0 + 1, l.n_phi);
  int best = -1;
  double best_chi2 = in.cfg.chi2_max;
  for (int iz = iz0; iz <= iz1; ++iz) {
    for (int k = 0; k < nphi; ++k) {
      int ip = (ip0 + k) % l.n_phi;
      if (ip < 0) ip += l.n_phi;
      const int mod = l.module_offset + iz * l.n_phi + ip;
      for (int j = in.meas_begin[mod]; j < in.meas_begin[mod + 1]; ++j) {
        const MeasuredPoint mp = measured_point(in.det, in.meas[j]);
        if (std::fabs(mp.z - s.x[1]) > wz || std::fabs(wrap_phi(mp.phi - s.x[0])) > wphi) continue;
        const double chi2 = kalman_chi2(s, mp);
        if (chi2 < best_chi2) {  // strict: among equals the first in storage order wins
          best_chi2 = chi2;
          best = j;
        }
      }
    }
  }
  *chi2_out = best_chi2;
  return best;
}

/** Follows seed `seed_index` outwards; a candidate with n = 0 was abandoned. */
TRACCC_HD inline void follow_seed(const SeedInputs& in, const Seed* seeds, int seed_index, Candidate* out) {
  const Seed sd = seeds[seed_index];
  Candidate c;
  c.n = 0;
  c.chi2 = 0.0f;
  c.seed = seed_index;
  TrackState s = seed_state(in, sd);
  int layer = in.sps[sd.b].layer;
  const int lm = in.sps[sd.m].layer;
  const int lt = in.sps[sd.t].layer;
  c.hits[c.n++] = sd.b;
  scatter(in.det, layer, &s);
  double chi2 = 0.0;
  int holes = 0;
  for (int li = layer + 1; li < kNumLayers; ++li) {
    const LayerDesc& l = in.det.layers[li];
    if (!transport(in.det.bz, in.det.layers[layer].r, l.r, +1, &s)) break;  // curls up
    layer = li;
    const bool seeded = (li == lm || li == lt);
    if (!seeded && std::fabs(s.x[1]) >= l.half_z) continue;  // past this layer's end: no material
    if (!seeded && li < lt) {
      // A layer the seed skipped: until its three points are in, the momentum is too loose to
      // pick a hit here (a wrong one would spoil the rest), so it is crossed, not searched.
      scatter(in.det, li, &s);
      continue;
    }
    int hit;
    if (seeded) {
      hit = (li == lm) ? sd.m : sd.t;
    } else {
      double best;
      hit = best_measurement(in, li, s, &best);
    }
    if (hit >= 0) {
      chi2 += kalman_update(&s, measured_point(in.det, in.meas[hit]));
      c.hits[c.n++] = hit;
    } else if (++holes > in.cfg.max_holes) {
      break;
    }
    scatter(in.det, li, &s);
  }
  if (layer < lt) c.n = 0;  // never reached its own top spacepoint
  c.chi2 = static_cast<float>(chi2);
  *out = c;
}

/** Degrees of freedom of a candidate's fit: two per measurement, less the five track parameters. */
TRACCC_HD inline int track_ndf(const Candidate& c) { return 2 * c.n - 5; }

/**
 * The candidate pre-selection of the ambiguity resolution: enough hits and a good chi2/ndf. The
 * CUDA chain applies it on the device to copy back only these candidates, the host steps apply it
 * again; one function keeps the two from disagreeing. Written as "keep when chi2 <= max * ndf" so
 * that a NaN chi2 fails it.
 */
TRACCC_HD inline bool passes_fit_quality(const RecoConfig& cfg, const Candidate& c) {
  return c.n >= cfg.min_hits && c.chi2 <= cfg.chi2_ndf_max * track_ndf(c);
}

/** Output rows for one track: its TRK_PARAMS row and `n` MEASUREMENTS rows and geometry ids. */
struct FitOutputs {
  float* trk_params;    // [T, 8]
  float* measurements;  // [M, 6]
  int64_t* geometry_ids;
};

/**
 * Fits a candidate with a Kalman filter running inwards from its outermost measurement (the
 * forward filter's last state is the starting point, its covariance loosened), so the
 * parameters reported at the first measurement use every hit. Writes TRK_PARAMS row `track` and
 * MEASUREMENTS/GEOMETRY_IDS rows from `row` on, innermost first.
 */
TRACCC_HD inline void fit_track(const SeedInputs& in, const Seed* seeds, const Candidate& c, int track, int row,
                                FitOutputs out) {
  // Re-run the forward filter over the chosen hits to get the outermost state.
  TrackState s = seed_state(in, seeds[c.seed]);
  int layer = in.sps[c.hits[0]].layer;
  scatter(in.det, layer, &s);
  int k = 1;
  for (int li = layer + 1; li < kNumLayers && k < c.n; ++li) {
    if (!transport(in.det.bz, in.det.layers[layer].r, in.det.layers[li].r, +1, &s)) break;
    layer = li;
    if (in.sps[c.hits[k]].layer == li) kalman_update(&s, measured_point(in.det, in.meas[c.hits[k++]]));
    if (std::fabs(s.x[1]) < in.det.layers[li].half_z) scatter(in.det, li, &s);
  }
  // Loosen to a weak prior around the forward estimate, then filter inwards.
  const double k4 = max_val(0.3 * std::fabs(s.x[4]), 0.05);
  for (double& v : s.C) v = 0.0;
  s.C[0] = 1e-2;
  s.C[6] = 1e2;
  s.C[12] = 1e-2;
  s.C[18] = 1e-2 * (1.0 + s.x[3] * s.x[3]);
  s.C[24] = k4 * k4;
  double chi2 = 0.0;
  double time = 0.0;
  for (int h = c.n - 1; h >= 0; --h) {
    const Measurement& m = in.meas[c.hits[h]];
    const int li = layer_of_module(in.det, m.module);
    while (layer > li) {
      const int next = layer - 1;
      if (!transport(in.det.bz, in.det.layers[layer].r, in.det.layers[next].r, -1, &s)) break;
      layer = next;
      if (layer > li && std::fabs(s.x[1]) < in.det.layers[layer].half_z) scatter(in.det, layer, &s);
    }
    chi2 += kalman_update(&s, measured_point(in.det, m));
    const double theta = std::atan2(1.0, s.x[3]);
    const double qop = s.x[4] * std::sin(theta);
    float* mr = out.measurements + static_cast<size_t>(row + h) * kMeasurementColumns;
    mr[0] = m.loc0;
    mr[1] = m.loc1;
    mr[2] = static_cast<float>(s.x[2]);
    mr[3] = static_cast<float>(theta);
    mr[4] = static_cast<float>(qop);
    mr[5] = m.time;
    out.geometry_ids[row + h] = static_cast<int64_t>(geometry_id_of_module(in.det, m.module));
    time += m.time;
    if (h > 0) scatter(in.det, li, &s);
  }
  double loc0;
  double loc1;
  to_local(in.det, in.meas[c.hits[0]].module, s.x[0], s.x[1], &loc0, &loc1);
  const double theta = std::atan2(1.0, s.x[3]);
  float* tp = out.trk_params + static_cast<size_t>(track) * kTrkParamColumns;
  tp[0] = static_cast<float>(chi2);
  tp[1] = static_cast<float>(track_ndf(c));
  tp[2] = static_cast<float>(loc0);
  tp[3] = static_cast<float>(loc1);
  tp[4] = static_cast<float>(s.x[2]);
  tp[5] = static_cast<float>(theta);
  tp[6] = static_cast<float>(s.x[4] * std::sin(theta));
  tp[7] = static_cast<float>(time / c.n);
}

}  // namespace traccc
