#include "options.hpp"

#include <cmath>
#include <stdexcept>

namespace traccc {
namespace {

struct Field {
  const char* name;
  double RecoConfig::*d;
  int RecoConfig::*i;
  double lo;
  double hi;
};

const Field kFields[] = {
    {"seed_pt_min", &RecoConfig::seed_pt_min, nullptr, 0.1, 100},
    {"seed_dr_min", &RecoConfig::seed_dr_min, nullptr, 0, 1000},
    {"seed_dr_max", &RecoConfig::seed_dr_max, nullptr, 0, 1000},
    {"seed_z0_max", &RecoConfig::seed_z0_max, nullptr, 0, 1000},
    {"seed_d0_max", &RecoConfig::seed_d0_max, nullptr, 0, 100},
    {"seed_cot_max", &RecoConfig::seed_cot_max, nullptr, 0, 100},
    {"seed_scatter_sigmas", &RecoConfig::seed_scatter_sigmas, nullptr, 0, 100},
    {"seed_max_per_middle", nullptr, &RecoConfig::seed_max_per_middle, 1, kMaxSeedsPerMiddle},
    {"seed_layers", nullptr, &RecoConfig::seed_layers, 3, kNumLayers},
    {"chi2_max", &RecoConfig::chi2_max, nullptr, 0, 1e6},
    {"window_sigmas", &RecoConfig::window_sigmas, nullptr, 0, 100},
    {"max_holes", nullptr, &RecoConfig::max_holes, 0, kNumLayers},
    {"min_hits", nullptr, &RecoConfig::min_hits, 3, kNumLayers},
    {"chi2_ndf_max", &RecoConfig::chi2_ndf_max, nullptr, 0, 1e6},
    {"max_shared", nullptr, &RecoConfig::max_shared, 0, kNumLayers},
};

}  // namespace

void set_option(RecoConfig* cfg, const std::string& key, double value) {
  for (const Field& f : kFields) {
    if (key != f.name) continue;
    if (!std::isfinite(value) || value < f.lo || value > f.hi)
      throw std::invalid_argument("option " + key + " must be within [" + std::to_string(f.lo) + ", " +
                                  std::to_string(f.hi) + "]");
    if (f.d) cfg->*f.d = value;
    else cfg->*f.i = static_cast<int>(value);
    return;
  }
  throw std::invalid_argument("unknown reconstruction option: " + key);
}

}  // namespace traccc
