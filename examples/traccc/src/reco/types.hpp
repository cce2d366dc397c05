// Plain data of the reconstruction chain. Everything here is trivially copyable so that the CPU
// loops and the CUDA kernels share it byte for byte.
#pragma once

#include "../core/detector.hpp"

namespace traccc {

/** Cuts and knobs; the defaults are the tuned values documented in the example's README. */
struct RecoConfig {
  // Seeding (triplets of pixel spacepoints, traccc-like cuts).
  double seed_pt_min = 0.9;        // GeV
  double seed_dr_min = 20.0;       // mm, between consecutive spacepoints of a seed
  double seed_dr_max = 100.0;      // mm
  double seed_z0_max = 150.0;      // mm, collision region
  double seed_d0_max = 2.0;        // mm, transverse impact parameter
  double seed_cot_max = 7.3;       // |cot(theta)|, eta ~ 2.7
  double seed_scatter_sigmas = 5;  // allowed bend in theta, in units of the expected scattering
  int seed_max_per_middle = 3;
  int seed_layers = kNumPixelLayers;  // innermost layers that provide spacepoints for seeds
  // Track following and fit.
  double chi2_max = 15.0;          // per measurement (2 dof) when picking a hit
  double window_sigmas = 5.0;      // search window around the prediction
  int max_holes = 2;               // layers in acceptance without a compatible hit
  int min_hits = 5;
  double chi2_ndf_max = 4.0;       // of the final fit
  int max_shared = 0;              // measurements a track may share with a better one
};

constexpr int kMaxHits = kNumLayers;    // one measurement per layer: particles do not loop here
constexpr int kMaxSeedCandidates = 256;  // bottoms / tops gathered per middle spacepoint
constexpr int kMaxSeedsPerMiddle = 4;

struct Measurement {
  float loc0;
  float loc1;
  float var0;
  float var1;
  float time;
  int module;
};

struct Spacepoint {
  float x;
  float y;
  float z;
  float r;
  float phi;
  int layer;
};

struct Seed {
  int b;
  int m;
  int t;
  float quality;  // lower is better
};

struct Candidate {
  int n;               // measurements, one per layer, innermost first
  int hits[kMaxHits];  // measurement indices
  float chi2;          // of the following (forward) filter
  int seed;
};

/** Track parameters at one surface: cylinder state plus its 5x5 covariance. */
struct TrackState {
  double x[5];   // phi, z, psi, cot(theta), q/pT
  double C[25];
};

/** Columns of TRK_PARAMS and MEASUREMENTS, as in the traccc service. */
constexpr int kTrkParamColumns = 8;     // chi2, ndf, loc0, loc1, phi, theta, q/p, time
constexpr int kMeasurementColumns = 6;  // loc0, loc1, phi, theta, q/p, time

}  // namespace traccc
