// Synthetic pile-up events for the detector of core/detector.hpp.
#pragma once

#include "../core/detector.hpp"
#include "event.hpp"

namespace traccc {

struct GeneratorConfig {
  double mu = 20;                     // mean number of pile-up vertices (Poisson)
  uint64_t seed = 1;                  // events are a pure function of (seed, event index)
  double particles_per_vertex = 50;   // mean charged multiplicity (Poisson)
  double eta_max = 2.5;
  double pt_min = 0.1;                // GeV
  double pt_max = 100.0;              // GeV
  double vertex_sigma_z = 45.0;       // mm
  double vertex_sigma_xy = 0.015;     // mm
  double vertex_sigma_t = 0.18;       // ns
  double hit_efficiency = 0.985;
  double noise_fraction = 0.02;       // noise clusters per particle hit
  double cell_threshold = 0.05;       // fraction of a hit's charge a cell needs to fire
};

/**
 * Generates event `index` of the stream defined by `config` (deterministic). Throws
 * std::invalid_argument unless 0 < pt_min < pt_max.
 */
Event generate_event(const Detector& det, const GeneratorConfig& config, uint64_t index);

}  // namespace traccc
