// traccc-reco: the standalone driver. Reconstructs generated events in-process (no server),
// scores them against the truth, times them, and compares devices.
//   traccc-reco --mu 20 --events 20                      generate on the fly, CPU
//   traccc-reco --dir events/mu200 --device cuda         read event files, GPU
//   traccc-reco --mu 200 --events 5 --compare cuda       CPU vs GPU agreement
//   traccc-reco --mu 20 --events 5 --compare shuffle     CPU vs CPU in shuffled element order
//   traccc-reco --dir events/mu200 --device cuda --threads 4 --throughput 5
//                                                        events/s of 4 in-process instances for 5 s
//   --set key=value (repeatable) overrides a reconstruction cut; --json FILE writes a summary.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../src/eval/compare.hpp"
#include "../src/eval/physics.hpp"
#include "../src/gen/generator.hpp"
#include "../src/io/event_io.hpp"
#include "../src/io/npy.hpp"
#include "../src/reco/options.hpp"
#include "../src/reco/reco.hpp"

using namespace traccc;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: traccc-reco (--dir DIR | --mu MU) [--events N] [--first K] [--seed S]\n"
               "                   [--device cpu|cuda] [--compare cuda|shuffle] [--repeat R]\n"
               "                   [--threads N --throughput SECONDS [--gpus G]] [--physics-events K]\n"
               "                   [--set key=value]... [--json FILE] [--dump DIR] [--quiet]\n");
}

std::unique_ptr<Reconstructor> make(const std::string& device, const RecoConfig& cfg, int gpu = 0) {
  if (device == "cuda") return make_cuda_reconstructor(cfg, gpu);
  if (device == "cpu") return make_cpu_reconstructor(cfg);
  if (device == "shuffle") return make_cpu_reconstructor(cfg, 12345);
  throw std::invalid_argument("unknown device " + device);
}

void write_outputs(const std::string& dir, uint64_t e, const TracksResult& r) {
  std::filesystem::create_directories(dir);
  auto put = [&](const char* name, auto write) {
    std::ofstream os(event_file(dir, e, name), std::ios::binary);
    write(os);
  };
  put("trk_params", [&](std::ostream& os) { npy::write(os, {r.n_tracks, kTrkParamColumns}, r.trk_params); });
  put("measurements", [&](std::ostream& os) { npy::write(os, {r.n_rows, kMeasurementColumns}, r.measurements); });
  put("geometry_ids", [&](std::ostream& os) { npy::write(os, {r.n_rows}, r.geometry_ids); });
}

}  // namespace

int main(int argc, char** argv) try {
  std::string dir;
  std::string device = "cpu";
  std::string compare;
  std::string json;
  std::string dump;  // write each event's outputs as eventNNNNNNNNN-{trk_params,measurements,geometry_ids}.npy
  GeneratorConfig g;
  bool have_mu = false;
  uint64_t n = 10;
  uint64_t first = 0;
  int repeat = 1;
  int threads = 1;
  int gpus = 1;  // --throughput with --device cuda: thread i runs on GPU i % gpus (as the server places instances)
  uint64_t physics_events = ~0ULL;  // evaluate (and time one by one) only the first K events
  double throughput_s = 0;
  bool quiet = false;
  RecoConfig cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") dir = value();
    else if (a == "--mu") {
      g.mu = std::stod(value());
      have_mu = true;
    } else if (a == "--events") n = std::stoull(value());
    else if (a == "--first") first = std::stoull(value());
    else if (a == "--seed") g.seed = std::stoull(value());
    else if (a == "--device") device = value();
    else if (a == "--compare") compare = value();
    else if (a == "--repeat") repeat = std::max(1, std::stoi(value()));
    else if (a == "--threads") threads = std::max(1, std::stoi(value()));
    else if (a == "--gpus") gpus = std::max(1, std::stoi(value()));
    else if (a == "--throughput") throughput_s = std::stod(value());
    else if (a == "--physics-events") physics_events = std::stoull(value());
    else if (a == "--dump") dump = value();
    else if (a == "--json") json = value();
    else if (a == "--quiet") quiet = true;
    else if (a == "--set") set_option(&cfg, value());
    else {
      usage();
      return 2;
    }
  }
  if (dir.empty() == !have_mu) {
    usage();
    return 2;
  }
  const Detector det = make_detector();
  auto reco = make(device, cfg);
  std::unique_ptr<Reconstructor> other = compare.empty() ? nullptr : make(compare, cfg);

  PhysicsCounts total;
  std::vector<double> times;
  double cells = 0;
  double tracks = 0;
  double sum_chi2_ndf = 0;
  size_t agree_events = 0;
  double worst_match = 1.0;
  double worst_param = 0.0;
  const uint64_t n_eval = std::max<uint64_t>(1, std::min<uint64_t>(n, physics_events));
  std::vector<Event> events;
  for (uint64_t e = first; e < first + n; ++e)
    events.push_back(dir.empty() ? generate_event(det, g, e) : read_event_files(dir, e));
  for (uint64_t e = first; e < first + std::min<uint64_t>(n, physics_events); ++e) {
    const Event& ev = events[e - first];
    const CellsView cv{ev.cell_positions.data(), ev.cell_properties.data(), ev.n_cells()};
    TracksResult res;
    for (int r = 0; r < repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      reco->run(cv, &res);
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    const PhysicsCounts pc = evaluate(det, ev, res);
    if (!dump.empty()) write_outputs(dump, e, res);
    total.add(pc);
    cells += ev.n_cells();
    tracks += res.n_tracks;
    for (size_t t = 0; t < res.n_tracks; ++t)
      sum_chi2_ndf += res.trk_params[t * kTrkParamColumns] / std::max(1.0f, res.trk_params[t * kTrkParamColumns + 1]);
    const RecoStats& s = res.stats;
    if (!quiet)
      std::printf(
          "event %llu: cells %zu meas %zu seeds %zu tracks %zu | eff %.3f fake %.3f dup %.3f | %.1f ms "
          "(prep %.1f clus %.1f seed %.1f follow %.1f amb %.1f fit %.1f)\n",
          static_cast<unsigned long long>(e), s.cells, s.measurements, s.seeds, s.tracks, pc.efficiency(),
          pc.fake_rate(), pc.duplicate_rate(), s.ms_total, s.ms_prepare, s.ms_clustering, s.ms_seeding,
          s.ms_following, s.ms_ambiguity, s.ms_fit);
    if (other) {
      TracksResult res2;
      other->run(cv, &res2);
      const Agreement ag = compare_results(res, res2);
      if (!quiet) std::printf("  %s vs %s: %s\n", device.c_str(), compare.c_str(), ag.summary().c_str());
      if (ag.identical(1e-4)) ++agree_events;
      worst_match = std::min(worst_match, ag.match_fraction());
      worst_param = std::max(worst_param, ag.max_param_diff);
    }
  }
  // Throughput of `threads` in-process instances (each its own Reconstructor, as the service's
  // instances are), events taken round-robin for `throughput_s` seconds after one warm-up each.
  double throughput = 0;
  size_t throughput_events = 0;
  if (throughput_s > 0) {
    std::vector<std::unique_ptr<Reconstructor>> pool;
    for (int i = 0; i < threads; ++i) pool.push_back(make(device, cfg, device == "cuda" ? i % gpus : 0));
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::vector<size_t> done(threads, 0);
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
      TracksResult warm;
      const Event& ev = events[i % events.size()];
      pool[i]->run(CellsView{ev.cell_positions.data(), ev.cell_properties.data(), ev.n_cells()}, &warm);
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < threads; ++i)
      workers.emplace_back([&, i] {
        TracksResult out;
        while (!stop.load()) {
          const Event& ev = events[next++ % events.size()];
          pool[i]->run(CellsView{ev.cell_positions.data(), ev.cell_properties.data(), ev.n_cells()}, &out);
          ++done[i];
        }
      });
    std::this_thread::sleep_for(std::chrono::duration<double>(throughput_s));
    stop = true;
    for (auto& w : workers) w.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t d : done) throughput_events += d;
    throughput = throughput_events / secs;
    std::printf("throughput: %.2f events/s with %d in-process instance(s) (%zu events in %.2f s)\n", throughput,
                threads, throughput_events, secs);
  }
  std::sort(times.begin(), times.end());
  const double median = times.empty() ? 0 : times[times.size() / 2];
  const double pt_res = total.n_dpt ? std::sqrt(total.sum_dpt2 / total.n_dpt) : 0.0;
  std::printf(
      "summary: %llu events, mu %.0f, %s: efficiency %.4f (%zu/%zu), fake rate %.4f (%zu/%zu), duplicate rate "
      "%.4f, pT resolution (rms) %.4f, median %.2f ms/event, %.0f cells/event, %.0f tracks/event, mean chi2/ndf %.2f\n",
      static_cast<unsigned long long>(n), g.mu, device.c_str(), total.efficiency(), total.found, total.selected,
      total.fake_rate(), total.fakes, total.tracks, total.duplicate_rate(), pt_res, median, cells / n_eval, tracks / n_eval,
      tracks > 0 ? sum_chi2_ndf / tracks : 0.0);
  if (other)
    std::printf("agreement %s vs %s: %zu/%llu events identical, worst match fraction %.5f, worst parameter diff %.3g\n",
                device.c_str(), compare.c_str(), agree_events, static_cast<unsigned long long>(n), worst_match,
                worst_param);
  if (!json.empty()) {
    std::ofstream os(json);
    os << "{\"events\": " << n << ", \"mu\": " << g.mu << ", \"device\": \"" << device << "\", \"efficiency\": "
       << total.efficiency() << ", \"fake_rate\": " << total.fake_rate() << ", \"duplicate_rate\": "
       << total.duplicate_rate() << ", \"pt_resolution\": " << pt_res << ", \"selected\": " << total.selected
       << ", \"found\": " << total.found << ", \"tracks\": " << total.tracks << ", \"median_ms\": " << median
       << ", \"events_per_s\": " << (median > 0 ? 1000.0 / median : 0) << ", \"cells_per_event\": " << cells / n_eval
       << ", \"threads\": " << threads << ", \"throughput_events_per_s\": " << throughput
       << ", \"throughput_events\": " << throughput_events;
    if (other)
      os << ", \"compare\": \"" << compare << "\", \"identical_events\": " << agree_events
         << ", \"worst_match_fraction\": " << worst_match << ", \"worst_param_diff\": " << worst_param;
    os << "}\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "traccc-reco: %s\n", e.what());
  return 1;
}
