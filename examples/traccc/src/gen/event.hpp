// One generated collision event: the service's two input tensors plus the truth the clients
// need to score the reconstruction.
#pragma once

#include <cstdint>
#include <vector>

namespace traccc {

/** Columns of the particle table (FP64 [P, kParticleColumns]). */
enum ParticleColumn {
  kPartId = 0,     // 1-based; hits of noise carry particle id 0
  kPartCharge,     // +-1
  kPartPt,         // GeV
  kPartEta,
  kPartPhi,        // direction azimuth at the vertex
  kPartVz,         // mm
  kPartNHits,      // truth hits that made cells
  kPartVertex,     // pile-up vertex index
  kParticleColumns
};

struct Event {
  std::vector<int64_t> cell_positions;  // [N, 4]: geometry_id, measurement_id, channel0, channel1
  std::vector<float> cell_properties;   // [N, 2]: timestamp (ns), value (charge, ke)
  std::vector<int64_t> hit_ids;         // [H, 2]: geometry_id, particle_id (0 = noise)
  std::vector<float> hit_local;         // [H, 2]: true loc0, loc1 (mm)
  std::vector<double> particles;        // [P, kParticleColumns]

  size_t n_cells() const { return cell_positions.size() / 4; }
  size_t n_hits() const { return hit_ids.size() / 2; }
  size_t n_particles() const { return particles.size() / kParticleColumns; }
};

}  // namespace traccc
