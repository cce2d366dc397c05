// Event files and streams. An event is five .npy arrays, in this order:
//   cell_positions  INT64 [N, 4]   geometry_id, measurement_id, channel0, channel1
//   cell_properties FP32  [N, 2]   timestamp (ns), value (ke)
//   hit_ids         INT64 [H, 2]   geometry_id, particle_id (0 = noise)
//   hit_local       FP32  [H, 2]   true loc0, loc1 (mm)
//   particles       FP64  [P, 8]   id, charge, pT, eta, phi, vz, n_hits, vertex
// In a directory they are eventNNNNNNNNN-<name>.npy next to a meta.json; in a stream (a pipe)
// they simply follow each other, event after event.
#pragma once

#include <iosfwd>
#include <string>

#include "../gen/event.hpp"

namespace traccc {

extern const char* const kEventArrays[5];

std::string event_file(const std::string& dir, uint64_t index, const char* array);
void write_event_files(const std::string& dir, uint64_t index, const Event& ev);
Event read_event_files(const std::string& dir, uint64_t index);
void write_event_stream(std::ostream& os, const Event& ev);
/** Returns false at a clean end of the stream. */
bool read_event_stream(std::istream& is, Event* ev);

}  // namespace traccc
