// The CPU chain: each stage is a loop over the same per-element functions the CUDA kernels call.
#include <algorithm>
#include <numeric>

#include "../core/rng.hpp"
#include "clustering.hpp"
#include "following.hpp"
#include "host_steps.hpp"
#include "reco.hpp"

namespace traccc {
namespace {

class CpuReconstructor final : public Reconstructor {
 public:
  CpuReconstructor(const RecoConfig& cfg, uint64_t shuffle) : cfg_(cfg), det_(make_detector()), shuffle_(shuffle) {}

  void run(const CellsView& cells, TracksResult* out) override {
    RecoStats st;
    StageTimer timer;
    index_cells(det_, cells, &mc_);
    st.cells = cells.n;
    st.ms_prepare = timer.lap();

    // Clustering and measurements, one module per element.
    const int n_mod = det_.n_modules;
    parent_.resize(mc_.n);
    cluster_.resize(mc_.n);
    counts_.assign(n_mod, 0);
    for_each(n_mod, [&](int m) {
      counts_[m] = ccl_module(mc_.positions, mc_.cell_begin[m], mc_.cell_begin[m + 1], parent_.data(), cluster_.data());
    });
    meas_begin_.assign(n_mod + 1, 0);
    for (int m = 0; m < n_mod; ++m) meas_begin_[m + 1] = meas_begin_[m] + counts_[m];
    const int n_meas = meas_begin_[n_mod];
    meas_.resize(n_meas);
    for_each(n_mod, [&](int m) {
      measure_module(det_, m, mc_.positions, mc_.properties, mc_.cell_begin[m], mc_.cell_begin[m + 1],
                     cluster_.data(), counts_[m], meas_.data() + meas_begin_[m]);
    });
    sps_.resize(n_meas);
    for_each(n_meas, [&](int j) { sps_[j] = make_spacepoint(det_, meas_[j]); });
    st.measurements = static_cast<size_t>(n_meas);
    st.ms_clustering = timer.lap();

    // Seeding: fixed slots per middle spacepoint, compacted in middle order.
    const SeedInputs in{det_, cfg_, sps_.data(), meas_.data(), meas_begin_.data()};
    const int keep = std::min(cfg_.seed_max_per_middle, kMaxSeedsPerMiddle);
    slots_.resize(static_cast<size_t>(n_meas) * keep);
    slot_count_.assign(n_meas, 0);
    for_each(n_meas, [&](int j) { seed_slots(in, j, keep, slots_.data(), slot_count_.data()); });
    seeds_.clear();
    for (int j = 0; j < n_meas; ++j)
      seeds_.insert(seeds_.end(), slots_.begin() + static_cast<ptrdiff_t>(j) * keep,
                    slots_.begin() + static_cast<ptrdiff_t>(j) * keep + slot_count_[j]);
    st.seeds = seeds_.size();
    st.ms_seeding = timer.lap();

    // Track following, one seed per element.
    cands_.resize(seeds_.size());
    for_each(static_cast<int>(seeds_.size()), [&](int s) { follow_seed(in, seeds_.data(), s, &cands_[s]); });
    st.candidates = cands_.size();
    st.ms_following = timer.lap();

    const std::vector<int> selected = resolve_ambiguities(cfg_, cands_.data(), cands_.size(), n_meas);
    std::vector<int> rows;
    const size_t n_rows = track_rows(cands_.data(), selected, &rows);
    st.ms_ambiguity = timer.lap();

    out->n_tracks = selected.size();
    out->n_rows = n_rows;
    out->trk_params.assign(selected.size() * kTrkParamColumns, 0.0f);
    out->measurements.assign(n_rows * kMeasurementColumns, 0.0f);
    out->geometry_ids.assign(n_rows, 0);
    const FitOutputs fo{out->trk_params.data(), out->measurements.data(), out->geometry_ids.data()};
    for_each(static_cast<int>(selected.size()),
             [&](int t) { fit_track(in, seeds_.data(), cands_[selected[t]], t, rows[t], fo); });
    st.tracks = selected.size();
    st.ms_fit = timer.lap();
    st.ms_total = timer.total();
    out->stats = st;
  }

 private:
  template <class F>
  void for_each(int n, F&& f) {
    if (shuffle_ == 0) {
      for (int i = 0; i < n; ++i) f(i);
      return;
    }
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    Rng rng(shuffle_ + static_cast<uint64_t>(n));
    for (int i = n - 1; i > 0; --i) std::swap(order_[i], order_[static_cast<int>(rng.uniform() * (i + 1))]);
    for (int i : order_) f(i);
  }

  RecoConfig cfg_;
  Detector det_;
  uint64_t shuffle_;
  ModuleCells mc_;
  std::vector<int> parent_, cluster_, counts_, meas_begin_, slot_count_, order_;
  std::vector<Measurement> meas_;
  std::vector<Spacepoint> sps_;
  std::vector<Seed> slots_, seeds_;
  std::vector<Candidate> cands_;
};

}  // namespace

std::unique_ptr<Reconstructor> make_cpu_reconstructor(const RecoConfig& config, uint64_t shuffle) {
  return std::make_unique<CpuReconstructor>(config, shuffle);
}

}  // namespace traccc
