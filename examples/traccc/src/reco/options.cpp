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

void set_option(RecoConfig* cfg, const std::string& key_value) {
  const auto eq = key_value.find('=');
  if (eq == std::string::npos) throw std::invalid_argument("'" + key_value + "' is not key=value");
  const std::string key = key_value.substr(0, eq);
  const std::string text = key_value.substr(eq + 1);
  double value = 0;
  size_t used = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  // std::stod stops at the first character it cannot read: "6x" must not pass as 6.
  if (used == 0 || text.find_first_not_of(" \t", used) != std::string::npos)
    throw std::invalid_argument("option " + key + ": '" + text + "' is not a number");
  set_option(cfg, key, value);
}

}  // namespace traccc
