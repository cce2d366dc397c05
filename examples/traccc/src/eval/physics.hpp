// Scores reconstructed tracks against the generator's truth, with the definitions the clients
// use (examples/traccc/README.md):
//  - each output measurement is matched to the nearest truth hit of its module (within three
//    pitches); a track belongs to the particle that holds >= 50% of its measurements, else it is
//    a fake;
//  - a particle is selected with pT > pt_min and >= min_hits truth hits, and found when a track
//    belongs to it; efficiency = found / selected;
//  - fake rate = fake tracks / tracks; duplicate rate = tracks beyond the first of each particle
//    / tracks.
#pragma once

#include "../core/detector.hpp"
#include "../gen/event.hpp"
#include "../reco/reco.hpp"

namespace traccc {

struct PhysicsCounts {
  size_t selected = 0;  // particles in the efficiency denominator
  size_t found = 0;
  size_t tracks = 0;
  size_t fakes = 0;
  size_t duplicates = 0;
  double sum_dpt2 = 0;  // (pT_fit / pT_true - 1)^2 over matched selected particles
  size_t n_dpt = 0;

  void add(const PhysicsCounts& o);
  double efficiency() const { return selected ? static_cast<double>(found) / selected : 0.0; }
  double fake_rate() const { return tracks ? static_cast<double>(fakes) / tracks : 0.0; }
  double duplicate_rate() const { return tracks ? static_cast<double>(duplicates) / tracks : 0.0; }
};

PhysicsCounts evaluate(const Detector& det, const Event& truth, const TracksResult& tracks, double pt_min = 1.0,
                       int min_hits = 5);

}  // namespace traccc
