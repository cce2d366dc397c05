// traccc-gen: writes synthetic events as .npy files (plus meta.json) or streams them to stdout.
//   traccc-gen --mu 200 --events 10 --seed 1 --out events/mu200
//   traccc-gen --mu 20 --events 100 --stream | consumer
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "../src/gen/generator.hpp"
#include "../src/io/event_io.hpp"

using namespace traccc;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: traccc-gen --mu MU [--events N] [--first K] [--seed S] (--out DIR | --stream)\n"
               "  --mu         mean pile-up (20..300)\n"
               "  --events     number of events (default 10)\n"
               "  --first      index of the first event (default 0)\n"
               "  --seed       stream seed (default 1); event i is a pure function of (seed, i, mu)\n"
               "  --out DIR    write eventNNNNNNNNN-<array>.npy files and meta.json\n"
               "  --stream     write the events' .npy arrays one after another to stdout\n");
}

void write_meta(const std::string& dir, const GeneratorConfig& g, uint64_t first, uint64_t n, const Detector& d) {
  std::ofstream os(dir + "/meta.json");
  os << "{\n  \"format\": \"traccc-events/1\",\n  \"mu\": " << g.mu << ",\n  \"seed\": " << g.seed
     << ",\n  \"first\": " << first << ",\n  \"events\": " << n << ",\n"
     << "  \"arrays\": [\"cell_positions\", \"cell_properties\", \"hit_ids\", \"hit_local\", \"particles\"],\n"
     << "  \"particle_columns\": [\"id\", \"charge\", \"pt\", \"eta\", \"phi\", \"vz\", \"n_hits\", \"vertex\"],\n"
     << "  \"bz_tesla\": " << d.bz << ",\n  \"layers\": [\n";
  for (int i = 0; i < kNumLayers; ++i) {
    const LayerDesc& l = d.layers[i];
    os << "    {\"volume\": " << l.volume << ", \"layer\": " << l.layer << ", \"r\": " << l.r
       << ", \"half_z\": " << l.half_z << ", \"pitch0\": " << l.pitch0 << ", \"pitch1\": " << l.pitch1
       << ", \"n_phi\": " << l.n_phi << ", \"n_z\": " << l.n_z << ", \"n_ch0\": " << l.n_ch0
       << ", \"n_ch1\": " << l.n_ch1 << "}" << (i + 1 < kNumLayers ? ",\n" : "\n");
  }
  os << "  ]\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  GeneratorConfig g;
  uint64_t n = 10;
  uint64_t first = 0;
  std::string out;
  bool stream = false;
  bool have_mu = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--mu") {
      g.mu = std::stod(value());
      have_mu = true;
    } else if (a == "--events") {
      n = std::stoull(value());
    } else if (a == "--first") {
      first = std::stoull(value());
    } else if (a == "--seed") {
      g.seed = std::stoull(value());
    } else if (a == "--out") {
      out = value();
    } else if (a == "--stream") {
      stream = true;
    } else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (!have_mu || (out.empty() == !stream) || g.mu < 0 || g.mu > 1000) {
    usage();
    return 2;
  }
  const Detector det = make_detector();
  if (stream) {
    std::ios::sync_with_stdio(false);
    for (uint64_t e = first; e < first + n; ++e) write_event_stream(std::cout, generate_event(det, g, e));
    std::cout.flush();
    return std::cout ? 0 : 1;
  }
  std::filesystem::create_directories(out);
  for (uint64_t e = first; e < first + n; ++e) write_event_files(out, e, generate_event(det, g, e));
  write_meta(out, g, first, n, det);
  std::fprintf(stderr, "wrote %llu events (mu %.0f, seed %llu) to %s\n", static_cast<unsigned long long>(n), g.mu,
               static_cast<unsigned long long>(g.seed), out.c_str());
  return 0;
}
