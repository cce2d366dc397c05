#include "event_io.hpp"

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "npy.hpp"

namespace traccc {

const char* const kEventArrays[5] = {"cell_positions", "cell_properties", "hit_ids", "hit_local", "particles"};

std::string event_file(const std::string& dir, uint64_t index, const char* array) {
  char name[64];
  std::snprintf(name, sizeof name, "event%09llu-", static_cast<unsigned long long>(index));
  return dir + "/" + name + array + ".npy";
}

void write_event_stream(std::ostream& os, const Event& ev) {
  npy::write(os, {ev.n_cells(), 4}, ev.cell_positions);
  npy::write(os, {ev.n_cells(), 2}, ev.cell_properties);
  npy::write(os, {ev.n_hits(), 2}, ev.hit_ids);
  npy::write(os, {ev.n_hits(), 2}, ev.hit_local);
  npy::write(os, {ev.n_particles(), static_cast<size_t>(kParticleColumns)}, ev.particles);
}

namespace {

template <class T>
void write_one(const std::string& path, const std::vector<size_t>& shape, const std::vector<T>& data) {
  std::ofstream os(path, std::ios::binary);
  if (!os) throw std::runtime_error("cannot write " + path);
  npy::write(os, shape, data);
  if (!os) throw std::runtime_error("write failed: " + path);
}

template <class T>
std::vector<T> read_one(const std::string& path) {
  std::ifstream is(path, std::ios::binary);
  if (!is) throw std::runtime_error("cannot read " + path);
  return npy::read<T>(is, nullptr);
}

}  // namespace

void write_event_files(const std::string& dir, uint64_t index, const Event& ev) {
  write_one(event_file(dir, index, kEventArrays[0]), {ev.n_cells(), 4}, ev.cell_positions);
  write_one(event_file(dir, index, kEventArrays[1]), {ev.n_cells(), 2}, ev.cell_properties);
  write_one(event_file(dir, index, kEventArrays[2]), {ev.n_hits(), 2}, ev.hit_ids);
  write_one(event_file(dir, index, kEventArrays[3]), {ev.n_hits(), 2}, ev.hit_local);
  write_one(event_file(dir, index, kEventArrays[4]), {ev.n_particles(), static_cast<size_t>(kParticleColumns)},
            ev.particles);
}

Event read_event_files(const std::string& dir, uint64_t index) {
  Event ev;
  ev.cell_positions = read_one<int64_t>(event_file(dir, index, kEventArrays[0]));
  ev.cell_properties = read_one<float>(event_file(dir, index, kEventArrays[1]));
  ev.hit_ids = read_one<int64_t>(event_file(dir, index, kEventArrays[2]));
  ev.hit_local = read_one<float>(event_file(dir, index, kEventArrays[3]));
  ev.particles = read_one<double>(event_file(dir, index, kEventArrays[4]));
  return ev;
}

bool read_event_stream(std::istream& is, Event* ev) {
  if (is.peek() == std::char_traits<char>::eof()) return false;
  ev->cell_positions = npy::read<int64_t>(is, nullptr);
  ev->cell_properties = npy::read<float>(is, nullptr);
  ev->hit_ids = npy::read<int64_t>(is, nullptr);
  ev->hit_local = npy::read<float>(is, nullptr);
  ev->particles = npy::read<double>(is, nullptr);
  return true;
}

}  // namespace traccc
