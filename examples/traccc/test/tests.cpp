// C++ tests of the traccc example: the per-element functions the CPU loops and the CUDA kernels
// share, the host steps, the generator, and the whole chain. Prints one line per test and ends
// with "N passed, N failed, N skipped". `traccc-tests NAME...` runs the tests whose name contains
// one of the arguments, `--exact NAME` that test only, `--list` prints the names. The CUDA agreement tests run only where a GPU is usable (bench/gpu).
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/helix.hpp"
#include "eval/compare.hpp"
#include "eval/physics.hpp"
#include "gen/generator.hpp"
#include "io/event_io.hpp"
#include "io/npy.hpp"
#include "reco/clustering.hpp"
#include "reco/following.hpp"
#include "reco/host_steps.hpp"
#include "reco/options.hpp"
#include "reco/reco.hpp"

using namespace traccc;

namespace {

struct Skip {
  std::string why;
};

struct TestCase {
  const char* name;
  std::function<void()> fn;
};

std::vector<TestCase>& tests() {
  static std::vector<TestCase> t;
  return t;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { tests().push_back({name, std::move(fn)}); }
};

#define TEST(name)                                   \
  void name();                                       \
  const Register reg_##name(#name, name);            \
  void name()

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond)) throw std::runtime_error(std::string(__FILE__ ":") + std::to_string(__LINE__) + ": " #cond); \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                         \
  do {                                                                                                \
    const double va_ = (a), vb_ = (b);                                                                \
    if (!(std::fabs(va_ - vb_) <= (tol))) {                                                           \
      std::ostringstream os_;                                                                         \
      os_ << __FILE__ << ":" << __LINE__ << ": " #a " = " << va_ << ", " #b " = " << vb_ << ", tol " << (tol); \
      throw std::runtime_error(os_.str());                                                            \
    }                                                                                                 \
  } while (0)

const Detector kDet = make_detector();

CellsView view(const Event& ev) { return CellsView{ev.cell_positions.data(), ev.cell_properties.data(), ev.n_cells()}; }

TracksResult reconstruct(Reconstructor& r, const Event& ev) {
  TracksResult out;
  r.run(view(ev), &out);
  return out;
}

bool same_bytes(const TracksResult& a, const TracksResult& b) {
  return a.n_tracks == b.n_tracks && a.n_rows == b.n_rows && a.trk_params == b.trk_params &&
         a.measurements == b.measurements && a.geometry_ids == b.geometry_ids;
}

// ---- helices

TEST(propagate_round_trip_returns_to_the_start) {
  for (double kappa : {-2.0, -0.5, 0.3, 1.0 / 20.0, 1e-13}) {
    for (double psi : {0.3, 0.9, -0.2}) {  // outwards from phi = 0.4
      const CylState a{0.4, 12.0, psi, 1.5, kappa};
      CylState b;
      CylState c;
      double s1;
      double s2;
      CHECK(propagate(2.0, 32.0, a, 172.0, +1, &b, &s1));
      CHECK(s1 > 0);
      CHECK(propagate(2.0, 172.0, b, 32.0, -1, &c, &s2));
      CHECK_NEAR(s1 + s2, 0.0, 1e-8);
      CHECK_NEAR(wrap_phi(c.phi - a.phi), 0.0, 1e-11);
      CHECK_NEAR(c.z, a.z, 1e-9);
      CHECK_NEAR(wrap_phi(c.psi - a.psi), 0.0, 1e-11);
    }
  }
}

TEST(propagate_follows_the_circle_of_the_field) {
  // A q/pT = 1/GeV track from the beam line: radius R = 1/(0.2998e-3 * 2) mm; the chord to
  // r = 500 mm subtends 2 asin(r / 2R) of bend.
  const CylState a{0.0, 0.0, 0.0, 0.0, 1.0};
  CylState b;
  double s;
  CHECK(propagate(2.0, 0.0, a, 500.0, +1, &b, &s));
  const double R = 1.0 / (kCurvPerTesla * 2.0);
  CHECK_NEAR(s, 2.0 * R * std::asin(500.0 / (2.0 * R)), 1e-9);
  CHECK_NEAR(b.psi, -2.0 * std::asin(500.0 / (2.0 * R)), 1e-12);  // positive charge turns clockwise
  CHECK_NEAR(b.phi, -std::asin(500.0 / (2.0 * R)), 1e-12);
  // Beyond 2R the particle never arrives.
  CHECK(!propagate(2.0, 0.0, a, 2.0 * R + 1.0, +1, &b, &s));
}

TEST(jacobian_matches_central_differences) {
  const CylState a{0.2, -30.0, 0.25, 0.8, -0.7};
  CylState b;
  double s;
  CHECK(propagate(2.0, 72.0, a, 360.0, +1, &b, &s));
  double J[25];
  CHECK(propagate_jacobian(2.0, 72.0, a, 360.0, +1, b, J));
  const double h[5] = {1e-5, 1e-3, 1e-5, 1e-5, 1e-5};
  for (int j = 0; j < 5; ++j) {
    CylState p = a;
    CylState m = a;
    (&p.phi)[j] += h[j];
    (&m.phi)[j] -= h[j];
    CylState bp;
    CylState bm;
    CHECK(propagate(2.0, 72.0, p, 360.0, +1, &bp, &s));
    CHECK(propagate(2.0, 72.0, m, 360.0, +1, &bm, &s));
    const double d[5] = {wrap_phi(bp.phi - bm.phi), bp.z - bm.z, wrap_phi(bp.psi - bm.psi), bp.t - bm.t,
                         bp.kappa - bm.kappa};
    for (int i = 0; i < 5; ++i) CHECK_NEAR(J[i * 5 + j], d[i] / (2 * h[j]), 1e-3 * (1 + std::fabs(J[i * 5 + j])));
  }
}

TEST(kalman_update_pulls_towards_the_measurement_and_shrinks_the_covariance) {
  TrackState s{};
  s.x[0] = 0.1;
  s.x[1] = 5.0;
  s.x[4] = 0.5;
  for (int i = 0; i < 5; ++i) s.C[i * 6] = 1e-2;
  s.C[1] = s.C[5] = 1e-3;
  const MeasuredPoint m{0.11, 5.2, 1e-6, 1e-4};
  const double expected = kalman_chi2(s, m);
  const double chi2 = kalman_update(&s, m);
  CHECK_NEAR(chi2, expected, 1e-12);
  CHECK(std::fabs(s.x[0] - 0.11) < 1e-3 && std::fabs(s.x[1] - 5.2) < 2e-2);
  CHECK(s.C[0] < 2e-6 && s.C[6] < 2e-4);
  CHECK_NEAR(s.C[1], s.C[5], 0.0);
}

// ---- detector

TEST(geometry_ids_round_trip_and_unknown_ones_are_refused) {
  for (int m = 0; m < kDet.n_modules; ++m) {
    const uint64_t gid = geometry_id_of_module(kDet, m);
    CHECK(gid != 0);
    CHECK(module_of_geometry_id(kDet, gid) == m);
  }
  CHECK(module_of_geometry_id(kDet, 0) < 0);
  CHECK(module_of_geometry_id(kDet, (17ULL << 56) | (3ULL << 36) | 1) < 0);  // no layer 3 in volume 17
  CHECK(module_of_geometry_id(kDet, (17ULL << 56) | (2ULL << 36) | 100000) < 0);
  CHECK(module_of_geometry_id(kDet, (17ULL << 56) | (2ULL << 36) | (1ULL << 20) | 1) < 0);
}

TEST(local_and_global_coordinates_round_trip) {
  for (int m : {0, 17, kDet.layers[3].module_offset + 5, kDet.n_modules - 1}) {
    double phi_c;
    double z_c;
    module_centre(kDet, m, &phi_c, &z_c);
    double loc0;
    double loc1;
    to_local(kDet, m, phi_c, z_c, &loc0, &loc1);
    CHECK(loc0 == 0.0 && loc1 == 0.0);
    double phi;
    double z;
    to_global(kDet, m, 1.25, -3.5, &phi, &z);
    to_local(kDet, m, phi, z, &loc0, &loc1);
    CHECK_NEAR(loc0, 1.25, 1e-9);
    CHECK_NEAR(loc1, -3.5, 1e-9);
  }
}

// ---- clustering

TEST(ccl_finds_8_connected_clusters_and_numbers_them_by_first_cell) {
  const int64_t g = static_cast<int64_t>(geometry_id_of_module(kDet, 0));
  // (ch0, ch1), sorted by ch1 then ch0: a diagonal pair, a lone cell, an L of three.
  const int cells[][2] = {{10, 5}, {40, 5}, {11, 6}, {60, 6}, {61, 6}, {61, 7}};
  std::vector<int64_t> pos;
  for (const auto& c : cells) pos.insert(pos.end(), {g, 0, c[0], c[1]});
  std::vector<int> parent(6);
  std::vector<int> cluster(6);
  const int n = ccl_module(pos.data(), 0, 6, parent.data(), cluster.data());
  CHECK(n == 3);
  const int expect[] = {0, 1, 0, 2, 2, 2};
  for (int i = 0; i < 6; ++i) CHECK(cluster[i] == expect[i]);
}

TEST(measurements_are_charge_weighted_centroids) {
  const int64_t g = static_cast<int64_t>(geometry_id_of_module(kDet, 5));
  const std::vector<int64_t> pos = {g, 0, 100, 200, g, 0, 101, 200};
  const std::vector<float> prop = {1.0f, 3.0f, 3.0f, 1.0f};
  const std::vector<int> cluster = {0, 0};
  Measurement m{};
  measure_module(kDet, 5, pos.data(), prop.data(), 0, 2, cluster.data(), 1, &m);
  const LayerDesc& l = kDet.layers[0];
  CHECK_NEAR(m.loc0, 0.75 * cell_loc0(l, 100) + 0.25 * cell_loc0(l, 101), 1e-6);
  CHECK_NEAR(m.loc1, cell_loc1(l, 200), 1e-6);
  CHECK_NEAR(m.time, 2.0, 1e-6);
  CHECK(m.module == 5);
}

// ---- host steps

TEST(bad_cells_are_refused_with_their_row) {
  Event ev = generate_event(kDet, GeneratorConfig{5, 3}, 0);
  ModuleCells mc;
  auto expect_error = [&](const Event& e, const std::string& fragment) {
    try {
      index_cells(kDet, view(e), &mc);
    } catch (const std::invalid_argument& err) {
      CHECK(std::string(err.what()).find(fragment) != std::string::npos);
      return;
    }
    throw std::runtime_error("no error for " + fragment);
  };
  Event bad = ev;
  bad.cell_positions[4 * 7] = 12345;
  expect_error(bad, "row 7: geometry id 12345");
  bad = ev;
  bad.cell_positions[4 * 3 + 2] = 99999;
  expect_error(bad, "row 3: channel");
  bad = ev;
  bad.cell_properties[2 * 9 + 1] = std::nanf("");
  expect_error(bad, "row 9: CELL_PROPERTIES");
}

TEST(unsorted_cells_give_the_same_tracks) {
  const Event ev = generate_event(kDet, GeneratorConfig{20, 4}, 0);
  Event rev = ev;
  const size_t n = ev.n_cells();
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(&ev.cell_positions[4 * (n - 1 - i)], 4, &rev.cell_positions[4 * i]);
    std::copy_n(&ev.cell_properties[2 * (n - 1 - i)], 2, &rev.cell_properties[2 * i]);
  }
  auto cpu = make_cpu_reconstructor();
  CHECK(same_bytes(reconstruct(*cpu, ev), reconstruct(*cpu, rev)));
}

TEST(fit_quality_cut_drops_short_bad_and_nan_fits) {
  RecoConfig cfg;  // min_hits 5, chi2_ndf_max 4
  auto candidate = [](int n, float chi2, int first_hit) {
    Candidate c{};
    c.n = n;
    for (int k = 0; k < n; ++k) c.hits[k] = first_hit + k;
    c.chi2 = chi2;
    return c;
  };
  const Candidate good = candidate(6, 4.0f * 7, 0);  // ndf 7: exactly at the cut
  const Candidate bad = candidate(6, 4.0f * 7 + 0.01f, 10);
  const Candidate nan = candidate(6, std::nanf(""), 20);
  const Candidate few = candidate(4, 0.0f, 30);
  CHECK(track_ndf(good) == 7);
  CHECK(passes_fit_quality(cfg, good));
  CHECK(!passes_fit_quality(cfg, bad) && !passes_fit_quality(cfg, nan) && !passes_fit_quality(cfg, few));
  const Candidate cands[] = {bad, nan, good, few};
  const std::vector<int> selected = resolve_ambiguities(cfg, cands, 4, 40);
  CHECK(selected.size() == 1 && selected[0] == 2);
}

TEST(options_are_set_by_name_and_checked) {
  RecoConfig c;
  set_option(&c, "chi2_max", 9);
  set_option(&c, "min_hits", 6);
  CHECK(c.chi2_max == 9 && c.min_hits == 6);
  bool threw = false;
  try {
    set_option(&c, "no_such_cut", 1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    set_option(&c, "min_hits", 99);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  set_option(&c, "max_holes=3");
  set_option(&c, "chi2_ndf_max=2.5 ");
  CHECK(c.max_holes == 3 && c.chi2_ndf_max == 2.5);
  for (const char* bad : {"max_holes", "max_holes=", "max_holes=abc", "max_holes=3x", "max_holes=99", "nope=1"}) {
    threw = false;
    try {
      set_option(&c, bad);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    CHECK(threw);
  }
  CHECK(c.max_holes == 3);
}

// ---- generator and files

TEST(events_are_a_pure_function_of_seed_and_index) {
  const GeneratorConfig g{20, 7};
  const Event a = generate_event(kDet, g, 3);
  const Event b = generate_event(kDet, g, 3);
  const Event c = generate_event(kDet, g, 4);
  CHECK(a.cell_positions == b.cell_positions && a.cell_properties == b.cell_properties && a.particles == b.particles);
  CHECK(a.cell_positions != c.cell_positions);
  CHECK(a.n_cells() > 1000 && a.n_hits() > 500 && a.n_particles() > 100);
}

TEST(generated_particles_keep_to_the_pt_range) {
  for (const auto& range : {std::pair<double, double>{2.0, 5.0}, {150.0, 400.0}}) {
    GeneratorConfig g{5, 5};
    g.pt_min = range.first;
    g.pt_max = range.second;
    const Event ev = generate_event(kDet, g, 0);
    CHECK(ev.n_particles() > 50);
    double lo = 1e30;
    double hi = 0;
    for (size_t p = 0; p < ev.n_particles(); ++p) {
      const double pt = ev.particles[p * kParticleColumns + kPartPt];
      lo = std::fmin(lo, pt);
      hi = std::fmax(hi, pt);
    }
    CHECK(lo >= g.pt_min && hi <= g.pt_max);
    CHECK(hi > lo);
  }
  for (const auto& range : {std::pair<double, double>{5.0, 5.0}, {0.0, 1.0}, {3.0, 2.0}}) {
    GeneratorConfig g{2, 5};
    g.pt_min = range.first;
    g.pt_max = range.second;
    bool threw = false;
    try {
      generate_event(kDet, g, 0);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    CHECK(threw);
  }
}

TEST(events_look_like_the_workload) {
  const Event ev = generate_event(kDet, GeneratorConfig{200, 1}, 0);
  // ~10^4 particles, ~10^5 hits and a ~5-10 MB request at mu = 200.
  CHECK(ev.n_particles() > 7000 && ev.n_particles() < 13000);
  CHECK(ev.n_hits() > 50000 && ev.n_hits() < 150000);
  const double mb = ev.n_cells() * 40.0 / 1e6;
  CHECK(mb > 4 && mb < 15);
  size_t noise = 0;
  for (size_t h = 0; h < ev.n_hits(); ++h) noise += ev.hit_ids[2 * h + 1] == 0;
  const double frac = static_cast<double>(noise) / ev.n_hits();
  CHECK(frac > 0.01 && frac < 0.03);
  // Clusters of 1-4 cells: cells per hit between 1 and 4.
  const double cells_per_hit = static_cast<double>(ev.n_cells()) / ev.n_hits();
  CHECK(cells_per_hit > 1.5 && cells_per_hit < 4.0);
}

TEST(npy_streams_round_trip) {
  const Event ev = generate_event(kDet, GeneratorConfig{5, 2}, 1);
  std::stringstream ss;
  write_event_stream(ss, ev);
  write_event_stream(ss, ev);
  Event a;
  Event b;
  Event c;
  CHECK(read_event_stream(ss, &a));
  CHECK(read_event_stream(ss, &b));
  CHECK(!read_event_stream(ss, &c));
  CHECK(a.cell_positions == ev.cell_positions && b.hit_local == ev.hit_local && b.particles == ev.particles);
}

// ---- the chain

TEST(empty_event_gives_no_tracks) {
  auto cpu = make_cpu_reconstructor();
  TracksResult out;
  cpu->run(CellsView{nullptr, nullptr, 0}, &out);
  CHECK(out.n_tracks == 0 && out.n_rows == 0 && out.trk_params.empty() && out.geometry_ids.empty());
}

TEST(output_layout_has_one_zero_row_between_tracks) {
  const Event ev = generate_event(kDet, GeneratorConfig{20, 5}, 0);
  auto cpu = make_cpu_reconstructor();
  const TracksResult r = reconstruct(*cpu, ev);
  CHECK(r.n_tracks > 50);
  size_t zeros = 0;
  size_t hits = 0;
  for (size_t i = 0; i < r.n_rows; ++i) {
    if (r.geometry_ids[i] == 0) {
      ++zeros;
      for (int c = 0; c < kMeasurementColumns; ++c) CHECK(r.measurements[i * kMeasurementColumns + c] == 0.0f);
    } else {
      ++hits;
    }
  }
  CHECK(zeros == r.n_tracks - 1);
  size_t ndf_hits = 0;
  for (size_t t = 0; t < r.n_tracks; ++t) ndf_hits += static_cast<size_t>((r.trk_params[t * 8 + 1] + 5) / 2);
  CHECK(ndf_hits == hits);
  CHECK(r.geometry_ids.front() != 0 && r.geometry_ids.back() != 0);
}

TEST(physics_targets_at_mu_20) {
  auto cpu = make_cpu_reconstructor();
  PhysicsCounts total;
  for (int e = 0; e < 4; ++e) {
    const Event ev = generate_event(kDet, GeneratorConfig{20, 11}, e);
    total.add(evaluate(kDet, ev, reconstruct(*cpu, ev)));
  }
  std::printf("    efficiency %.4f, fake rate %.4f, duplicate rate %.4f over %zu particles\n", total.efficiency(),
              total.fake_rate(), total.duplicate_rate(), total.selected);
  CHECK(total.selected > 300);
  CHECK(total.efficiency() >= 0.90);
  CHECK(total.fake_rate() <= 0.05);
}

TEST(fitted_parameters_match_a_single_particle) {
  // One vertex, few particles: every selected particle is found with its charge and momentum.
  GeneratorConfig g{2, 21};
  g.particles_per_vertex = 40;
  auto cpu = make_cpu_reconstructor();
  int checked = 0;
  for (int e = 0; e < 6; ++e) {
    const Event ev = generate_event(kDet, g, e);
    const TracksResult r = reconstruct(*cpu, ev);
    const PhysicsCounts pc = evaluate(kDet, ev, r);
    CHECK(pc.fakes == 0);
    CHECK(pc.found + 1 >= pc.selected);
    if (pc.n_dpt > 0) CHECK(std::sqrt(pc.sum_dpt2 / pc.n_dpt) < 0.1);
    checked += static_cast<int>(pc.selected);
  }
  CHECK(checked > 10);
}

TEST(reconstruction_is_deterministic) {
  const Event ev = generate_event(kDet, GeneratorConfig{50, 6}, 0);
  auto a = make_cpu_reconstructor();
  auto b = make_cpu_reconstructor();
  const TracksResult first = reconstruct(*a, ev);
  CHECK(same_bytes(first, reconstruct(*a, ev)));
  CHECK(same_bytes(first, reconstruct(*b, ev)));
}

TEST(per_element_stages_do_not_depend_on_execution_order) {
  // What running every element as an independent GPU thread needs: any order, same bytes.
  for (double mu : {20.0, 100.0}) {
    const Event ev = generate_event(kDet, GeneratorConfig{mu, 8}, 0);
    auto ordered = make_cpu_reconstructor();
    auto shuffled = make_cpu_reconstructor({}, 99);
    auto shuffled2 = make_cpu_reconstructor({}, 7);
    const TracksResult a = reconstruct(*ordered, ev);
    CHECK(same_bytes(a, reconstruct(*shuffled, ev)));
    CHECK(same_bytes(a, reconstruct(*shuffled2, ev)));
  }
}

// ---- CUDA (where a GPU is usable)

TEST(cuda_agrees_with_cpu) {
  if (!cuda_available()) throw Skip{"no usable CUDA device"};
  auto cpu = make_cpu_reconstructor();
  auto gpu = make_cuda_reconstructor();
  for (double mu : {20.0, 200.0}) {
    const Event ev = generate_event(kDet, GeneratorConfig{mu, 9}, 0);
    const TracksResult a = reconstruct(*cpu, ev);
    const TracksResult b = reconstruct(*gpu, ev);
    const Agreement ag = compare_results(a, b);
    std::printf("    mu %.0f: %s\n", mu, ag.summary().c_str());
    CHECK(ag.match_fraction() >= 0.995);
    CHECK(ag.max_param_diff <= 1e-3);
  }
}

TEST(cuda_instances_run_concurrently_and_agree) {
  if (!cuda_available()) throw Skip{"no usable CUDA device"};
  const Event ev = generate_event(kDet, GeneratorConfig{50, 10}, 0);
  auto g1 = make_cuda_reconstructor();
  auto g2 = make_cuda_reconstructor();
  const TracksResult a = reconstruct(*g1, ev);
  CHECK(same_bytes(a, reconstruct(*g2, ev)));
  CHECK(same_bytes(a, reconstruct(*g1, ev)));
}

TEST(cuda_handles_empty_tiny_and_bad_events) {
  if (!cuda_available()) throw Skip{"no usable CUDA device"};
  auto cpu = make_cpu_reconstructor();
  auto gpu = make_cuda_reconstructor();
  TracksResult out;
  gpu->run(CellsView{nullptr, nullptr, 0}, &out);
  CHECK(out.n_tracks == 0 && out.n_rows == 0);
  const Event one = generate_event(kDet, GeneratorConfig{3, 12}, 0);
  // Identical outputs match 100%: this one comparison also covers the bit-identical case.
  CHECK(compare_results(reconstruct(*cpu, one), reconstruct(*gpu, one)).match_fraction() >= 0.99);
  Event single = one;
  single.cell_positions.resize(4);
  single.cell_properties.resize(2);
  gpu->run(view(single), &out);
  CHECK(out.n_tracks == 0);
  Event bad = one;
  bad.cell_positions[0] = 7;
  bool threw = false;
  try {
    gpu->run(view(bad), &out);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  gpu->run(view(one), &out);  // still usable after refusing bad input
  CHECK(out.n_tracks > 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (const TestCase& t : tests()) std::printf("%s\n", t.name);
    return 0;
  }
  const bool exact = argc == 3 && std::string(argv[1]) == "--exact";
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  for (const TestCase& t : tests()) {
    bool selected = argc < 2;
    if (exact) selected = std::string(t.name) == argv[2];
    else
      for (int i = 1; i < argc; ++i) selected = selected || std::string(t.name).find(argv[i]) != std::string::npos;
    if (!selected) continue;
    try {
      t.fn();
      std::printf("ok   %s\n", t.name);
      ++passed;
    } catch (const Skip& s) {
      std::printf("skip %s (%s)\n", t.name, s.why.c_str());
      ++skipped;
    } catch (const std::exception& e) {
      std::printf("FAIL %s: %s\n", t.name, e.what());
      ++failed;
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed > 0 ? 1 : 0;
}
