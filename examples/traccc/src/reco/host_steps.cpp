#include "host_steps.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "following.hpp"

namespace traccc {
namespace {

[[noreturn]] void bad_cell(size_t row, const std::string& what) {
  std::ostringstream os;
  os << "CELL_POSITIONS row " << row << ": " << what;
  throw std::invalid_argument(os.str());
}

}  // namespace

void index_cells(const Detector& det, const CellsView& cells, ModuleCells* out) {
  if (cells.n > static_cast<size_t>(1) << 30) throw std::invalid_argument("too many cells in one event");
  const int n = static_cast<int>(cells.n);
  std::vector<int> module(n);
  bool sorted = true;
  int prev_mod = -1;
  int64_t prev_c1 = 0;
  int64_t prev_c0 = 0;
  int64_t last_gid = 0;  // cells come grouped by module: decode each geometry id once
  int last_mod = -1;
  const LayerDesc* last_layer = nullptr;
  for (int i = 0; i < n; ++i) {
    const int64_t* p = cells.positions + 4 * static_cast<size_t>(i);
    const int m = p[0] == last_gid && last_mod >= 0 ? last_mod : module_of_geometry_id(det, static_cast<uint64_t>(p[0]));
    if (m < 0) {
      std::ostringstream os;
      os << "geometry id " << p[0] << " (0x" << std::hex << static_cast<uint64_t>(p[0])
         << ") is not a module of the detector";
      bad_cell(i, os.str());
    }
    if (m != last_mod) {
      last_gid = p[0];
      last_mod = m;
      last_layer = &det.layers[layer_of_module(det, m)];
    }
    const LayerDesc& l = *last_layer;
    if (p[2] < 0 || p[2] >= l.n_ch0 || p[3] < 0 || p[3] >= l.n_ch1) {
      std::ostringstream os;
      os << "channel (" << p[2] << ", " << p[3] << ") is outside the module's " << l.n_ch0 << " x " << l.n_ch1
         << " cells";
      bad_cell(i, os.str());
    }
    const float t = cells.properties[2 * static_cast<size_t>(i)];
    const float v = cells.properties[2 * static_cast<size_t>(i) + 1];
    if (!std::isfinite(t) || !std::isfinite(v)) bad_cell(i, "CELL_PROPERTIES holds a NaN or infinity");
    module[i] = m;
    if (sorted && i > 0 &&
        (m < prev_mod || (m == prev_mod && (p[3] < prev_c1 || (p[3] == prev_c1 && p[2] < prev_c0)))))
      sorted = false;
    prev_mod = m;
    prev_c1 = p[3];
    prev_c0 = p[2];
  }
  out->n = n;
  out->positions = cells.positions;
  out->properties = cells.properties;
  out->sorted_positions.clear();
  out->sorted_properties.clear();
  if (!sorted) {
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      if (module[a] != module[b]) return module[a] < module[b];
      const int64_t* pa = cells.positions + 4 * static_cast<size_t>(a);
      const int64_t* pb = cells.positions + 4 * static_cast<size_t>(b);
      if (pa[3] != pb[3]) return pa[3] < pb[3];
      return pa[2] < pb[2];
    });
    out->sorted_positions.resize(4 * static_cast<size_t>(n));
    out->sorted_properties.resize(2 * static_cast<size_t>(n));
    std::vector<int> sorted_module(n);
    for (int i = 0; i < n; ++i) {
      const size_t s = static_cast<size_t>(order[i]);
      std::copy_n(cells.positions + 4 * s, 4, out->sorted_positions.data() + 4 * static_cast<size_t>(i));
      std::copy_n(cells.properties + 2 * s, 2, out->sorted_properties.data() + 2 * static_cast<size_t>(i));
      sorted_module[i] = module[order[i]];
    }
    module.swap(sorted_module);
    out->positions = out->sorted_positions.data();
    out->properties = out->sorted_properties.data();
  }
  out->cell_begin.assign(det.n_modules + 1, 0);
  for (int i = 0; i < n; ++i) ++out->cell_begin[module[i] + 1];
  for (int m = 0; m < det.n_modules; ++m) out->cell_begin[m + 1] += out->cell_begin[m];
}

std::vector<int> resolve_ambiguities(const RecoConfig& cfg, const Candidate* cands, size_t n_cands,
                                     size_t n_measurements) {
  std::vector<int> order;
  order.reserve(n_cands);
  for (size_t i = 0; i < n_cands; ++i)
    if (passes_fit_quality(cfg, cands[i])) order.push_back(static_cast<int>(i));
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const Candidate& x = cands[a];
    const Candidate& y = cands[b];
    if (x.n != y.n) return x.n > y.n;
    if (x.chi2 != y.chi2) return x.chi2 < y.chi2;
    return x.seed < y.seed;
  });
  std::vector<uint8_t> used(n_measurements, 0);
  std::vector<int> selected;
  for (int i : order) {
    const Candidate& c = cands[i];
    int shared = 0;
    for (int k = 0; k < c.n; ++k) shared += used[c.hits[k]];
    if (shared > cfg.max_shared) continue;
    for (int k = 0; k < c.n; ++k) used[c.hits[k]] = 1;
    selected.push_back(i);
  }
  return selected;
}

size_t track_rows(const Candidate* cands, const std::vector<int>& selected, std::vector<int>* row_of_track) {
  row_of_track->resize(selected.size());
  size_t row = 0;
  for (size_t t = 0; t < selected.size(); ++t) {
    if (t > 0) ++row;  // the 0-separator
    (*row_of_track)[t] = static_cast<int>(row);
    row += static_cast<size_t>(cands[selected[t]].n);
  }
  return row;
}

}  // namespace traccc
