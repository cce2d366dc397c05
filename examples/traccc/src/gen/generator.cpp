#include "generator.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "../core/helix.hpp"
#include "../core/rng.hpp"

namespace traccc {
namespace {

// Falling pT spectrum, f(pT) ~ pT (1 + pT / (n T))^-n (Tsallis-like), on [lo, hi]: with the
// default 0.1-100 GeV, ~17% of particles above 1 GeV and a power-law tail. Sampled through a
// tabulated inverse CDF on a log grid.
class PtSpectrum {
 public:
  PtSpectrum(double lo, double hi) : lo_(lo), hi_(hi) {
    const double n = 5.0;
    const double temp = 0.12;
    const double llo = std::log(lo);
    const double lhi = std::log(hi);
    pt_.resize(kBins + 1);
    cdf_.resize(kBins + 1);
    double acc = 0;
    for (int i = 0; i <= kBins; ++i) {
      const double p = std::exp(llo + (lhi - llo) * i / kBins);
      pt_[i] = p;
      // d(pT) = pT d(ln pT): the density per log bin carries an extra pT.
      const double f = p * p * std::pow(1.0 + p / (n * temp), -n);
      if (i > 0) acc += 0.5 * (f + last_) * (std::log(p) - std::log(pt_[i - 1]));
      cdf_[i] = acc;
      last_ = f;
    }
    for (auto& c : cdf_) c /= acc;
  }

  bool covers(double lo, double hi) const { return lo == lo_ && hi == hi_; }

  /** A pT in [lo, hi]: the clamp only catches the last-bit rounding of exp(log(x)) at the ends. */
  double sample(Rng& rng) const {
    const double u = rng.uniform();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    const size_t i = std::min<size_t>(std::max<size_t>(it - cdf_.begin(), 1), kBins);
    const double f = (u - cdf_[i - 1]) / std::max(cdf_[i] - cdf_[i - 1], 1e-300);
    return std::clamp(std::exp(std::log(pt_[i - 1]) + f * (std::log(pt_[i]) - std::log(pt_[i - 1]))), lo_, hi_);
  }

 private:
  static constexpr int kBins = 4000;
  double lo_;
  double hi_;
  std::vector<double> pt_;
  std::vector<double> cdf_;
  double last_ = 0;
};

/** The spectrum of the configured range, tabulated once per thread and range (not per event). */
const PtSpectrum& spectrum_for(const GeneratorConfig& cfg) {
  if (!(cfg.pt_min > 0 && cfg.pt_min < cfg.pt_max && std::isfinite(cfg.pt_max)))
    throw std::invalid_argument("generator pT range must satisfy 0 < pt_min < pt_max, got [" +
                                std::to_string(cfg.pt_min) + ", " + std::to_string(cfg.pt_max) + "]");
  thread_local std::unique_ptr<PtSpectrum> cached;
  if (!cached || !cached->covers(cfg.pt_min, cfg.pt_max)) cached = std::make_unique<PtSpectrum>(cfg.pt_min, cfg.pt_max);
  return *cached;
}

struct CellAcc {
  int module;
  int ch0;
  int ch1;
  float time;
  float value;
  float best;  // largest single-hit contribution: decides the cell's measurement_id
  int64_t hit;
};

class EventBuilder {
 public:
  explicit EventBuilder(const Detector& det) : det_(det) {}

  int64_t add_hit(int module, int64_t particle, double loc0, double loc1) {
    const int64_t id = static_cast<int64_t>(hit_ids_.size() / 2);
    hit_ids_.push_back(static_cast<int64_t>(geometry_id_of_module(det_, module)));
    hit_ids_.push_back(particle);
    hit_local_.push_back(static_cast<float>(loc0));
    hit_local_.push_back(static_cast<float>(loc1));
    return id;
  }

  void add_cell(int module, int ch0, int ch1, double time, double value, int64_t hit) {
    const uint64_t key = (static_cast<uint64_t>(module) << 40) | (static_cast<uint64_t>(ch0) << 20) |
                         static_cast<uint64_t>(ch1);
    auto [it, inserted] = index_.try_emplace(key, cells_.size());
    if (inserted) {
      cells_.push_back(CellAcc{module, ch0, ch1, static_cast<float>(time), static_cast<float>(value),
                               static_cast<float>(value), hit});
      return;
    }
    CellAcc& c = cells_[it->second];
    c.value += static_cast<float>(value);
    c.time = std::min(c.time, static_cast<float>(time));  // the earlier pulse sets the timestamp
    if (value > c.best) {
      c.best = static_cast<float>(value);
      c.hit = hit;
    }
  }

  size_t n_hits() const { return hit_ids_.size() / 2; }

  Event finish(std::vector<double>&& particles) {
    std::vector<size_t> order(cells_.size());
    std::iota(order.begin(), order.end(), 0);
    // Cells sorted by module, then channel1, then channel0: the order a detector readout and the
    // traccc clients deliver, and the order sparse CCL expects.
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const CellAcc& x = cells_[a];
      const CellAcc& y = cells_[b];
      if (x.module != y.module) return x.module < y.module;
      if (x.ch1 != y.ch1) return x.ch1 < y.ch1;
      return x.ch0 < y.ch0;
    });
    Event ev;
    ev.cell_positions.reserve(order.size() * 4);
    ev.cell_properties.reserve(order.size() * 2);
    for (size_t i : order) {
      const CellAcc& c = cells_[i];
      ev.cell_positions.push_back(static_cast<int64_t>(geometry_id_of_module(det_, c.module)));
      ev.cell_positions.push_back(c.hit);
      ev.cell_positions.push_back(c.ch0);
      ev.cell_positions.push_back(c.ch1);
      ev.cell_properties.push_back(c.time);
      ev.cell_properties.push_back(c.value);
    }
    ev.hit_ids = std::move(hit_ids_);
    ev.hit_local = std::move(hit_local_);
    ev.particles = std::move(particles);
    return ev;
  }

 private:
  const Detector& det_;
  std::vector<int64_t> hit_ids_;
  std::vector<float> hit_local_;
  std::vector<CellAcc> cells_;
  std::unordered_map<uint64_t, size_t> index_;
};

/** Overlap of [a, b] with the cells of pitch p: first cell index and fractions of at most two. */
int spread(double a, double b, double offset, double pitch, double frac[2]) {
  const double width = b - a;
  const int first = static_cast<int>(std::floor((a - offset) / pitch));
  const double edge = offset + (first + 1) * pitch;
  if (b <= edge || width <= 0) {
    frac[0] = 1.0;
    frac[1] = 0.0;
  } else {
    frac[0] = (edge - a) / width;
    frac[1] = 1.0 - frac[0];
  }
  return first;
}

/**
 * Digitises one crossing into 1-4 cells: the charge deposited along the track's path through
 * the sensor, projected on the module (plus a little diffusion) and shared between the cells it
 * covers. The projected cloud is capped below one pitch, so clusters stay within 2 x 2 cells.
 */
void digitise(EventBuilder& out, const LayerDesc& l, int module, const CylState& s, double loc0,
              double loc1, double time, double threshold, int64_t hit, Rng& rng) {
  const double sin_t = 1.0 / std::sqrt(1.0 + s.t * s.t);
  const double cos_t = s.t * sin_t;
  const double dn = std::max(std::fabs(sin_t * std::cos(s.psi - s.phi)), 0.05);
  const double du = l.thickness * sin_t * std::sin(s.psi - s.phi) / dn;
  const double dv = l.thickness * cos_t / dn;
  // Diffusion and the readout's charge sharing widen the cloud by ~40% of a pitch.
  const double wu = std::min(std::fabs(du) + 0.4 * l.pitch0, 0.9 * l.pitch0);
  const double wv = std::min(std::fabs(dv) + 0.4 * l.pitch1, 0.9 * l.pitch1);
  const double off0 = -0.5 * l.n_ch0 * l.pitch0;
  const double off1 = -0.5 * l.n_ch1 * l.pitch1;
  double fu[2];
  double fv[2];
  const int c0 = spread(loc0 - 0.5 * wu, loc0 + 0.5 * wu, off0, l.pitch0, fu);
  const int c1 = spread(loc1 - 0.5 * wv, loc1 + 0.5 * wv, off1, l.pitch1, fv);
  // Charge: ~80 e-/um of silicon along the path, Landau-like upward fluctuations; in ke.
  const double mip = 0.08 * l.thickness * 1000.0 / dn;
  const double charge = mip * (1.0 + 0.08 * rng.normal()) + rng.exponential(0.25 * mip);
  double best = 0;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) best = std::max(best, fu[a] * fv[b]);
  for (int a = 0; a < 2; ++a) {
    for (int b = 0; b < 2; ++b) {
      const double f = fu[a] * fv[b];
      if (f <= 0 || (f < threshold && f < best)) continue;
      const int ch0 = c0 + a;
      const int ch1 = c1 + b;
      if (ch0 < 0 || ch1 < 0 || ch0 >= l.n_ch0 || ch1 >= l.n_ch1) continue;
      out.add_cell(module, ch0, ch1, time + 0.01 * rng.normal(), std::max(charge * f, 0.1), hit);
    }
  }
}

}  // namespace

Event generate_event(const Detector& det, const GeneratorConfig& cfg, uint64_t index) {
  const PtSpectrum& spectrum = spectrum_for(cfg);
  uint64_t mix = cfg.seed * 0x9e3779b97f4a7c15ULL + index;
  Rng rng(splitmix64(mix));
  EventBuilder out(det);
  std::vector<double> particles;

  const int n_vertices = rng.poisson(cfg.mu);
  int64_t particle_id = 0;
  for (int v = 0; v < n_vertices; ++v) {
    const double vx = cfg.vertex_sigma_xy * rng.normal();
    const double vy = cfg.vertex_sigma_xy * rng.normal();
    const double vz = cfg.vertex_sigma_z * rng.normal();
    const double vt = cfg.vertex_sigma_t * rng.normal();
    const int n = rng.poisson(cfg.particles_per_vertex);
    for (int k = 0; k < n; ++k) {
      ++particle_id;
      const double pt = spectrum.sample(rng);
      const double eta = rng.uniform(-cfg.eta_max, cfg.eta_max);
      const double phi = rng.uniform(-kPi, kPi);
      const double q = rng.uniform() < 0.5 ? -1.0 : 1.0;
      CylState s{std::atan2(vy, vx), vz, phi, std::sinh(eta), q / pt};
      double r = std::hypot(vx, vy);
      double time = vt;
      const double p = pt * std::cosh(eta);
      const double beta = p / std::sqrt(p * p + kPionMass * kPionMass);
      int n_hits = 0;
      for (int li = 0; li < kNumLayers; ++li) {
        const LayerDesc& l = det.layers[li];
        CylState next;
        double path;
        if (!propagate(det.bz, r, s, l.r, +1, &next, &path)) break;  // curls up before this layer
        time += path * std::sqrt(1.0 + s.t * s.t) / (beta * kSpeedOfLight);
        s = next;
        r = l.r;
        int iphi;
        int iz;
        if (!locate(det, li, s.phi, s.z, &iphi, &iz)) {
          if (std::fabs(s.z) > 3000.0) break;
          continue;  // beyond this layer's length: no material, no hit
        }
        const int module = l.module_offset + iz * l.n_phi + iphi;
        double loc0;
        double loc1;
        to_local(det, module, s.phi, s.z, &loc0, &loc1);
        int ch0;
        int ch1;
        if (rng.uniform() < cfg.hit_efficiency && channel_of(l, loc0, loc1, &ch0, &ch1)) {
          const int64_t hit = static_cast<int64_t>(out.n_hits());
          out.add_hit(module, particle_id, loc0, loc1);
          digitise(out, l, module, s, loc0, loc1, time, cfg.cell_threshold, hit, rng);
          ++n_hits;
        }
        // Multiple scattering in the layer: two Gaussian deflections perpendicular to the track.
        const double theta0 = highland_theta0(p, l.x_over_x0 * crossing_factor(s));
        const double a = theta0 * rng.normal();
        const double b = theta0 * rng.normal();
        const double sin_t = 1.0 / std::sqrt(1.0 + s.t * s.t);
        const double theta = std::atan2(1.0, s.t) + b;
        s.psi = wrap_phi(s.psi + a / sin_t);
        if (theta > 1e-3 && theta < kPi - 1e-3) {
          s.t = std::cos(theta) / std::sin(theta);
          s.kappa = q / (p * std::sin(theta));
        }
      }
      const double row[kParticleColumns] = {static_cast<double>(particle_id), q, pt, eta, phi, vz,
                                            static_cast<double>(n_hits), static_cast<double>(v)};
      particles.insert(particles.end(), row, row + kParticleColumns);
    }
  }

  // Noise: single cells (now and then a pair) anywhere in the detector, out of time.
  const int n_noise = static_cast<int>(std::lround(cfg.noise_fraction * out.n_hits()));
  for (int k = 0; k < n_noise; ++k) {
    const int module = static_cast<int>(rng.uniform() * det.n_modules);
    const LayerDesc& l = det.layers[layer_of_module(det, module)];
    const int ch0 = static_cast<int>(rng.uniform() * l.n_ch0);
    const int ch1 = static_cast<int>(rng.uniform() * l.n_ch1);
    const int64_t hit = static_cast<int64_t>(out.n_hits());
    out.add_hit(module, 0, cell_loc0(l, ch0), cell_loc1(l, ch1));
    const double time = rng.uniform(-5.0, 20.0);
    const double thr = 0.08 * l.thickness * 1000.0 * cfg.cell_threshold;
    out.add_cell(module, ch0, ch1, time, thr * (1.0 + rng.exponential(1.0)), hit);
    if (rng.uniform() < 0.2 && ch0 + 1 < l.n_ch0) out.add_cell(module, ch0 + 1, ch1, time, thr, hit);
  }
  return out.finish(std::move(particles));
}

}  // namespace traccc
