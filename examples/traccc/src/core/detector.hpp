// The synthetic detector of the traccc example: a 2 T solenoid along z and ten barrel layers
// (four pixel layers, six strip-like layers out to 1 m). Each layer is a cylinder tiled into
// n_phi x n_z modules; a module is a cylinder segment whose local coordinates are
// loc0 = r * (phi - phi_centre) (the r-phi arc, mm) and loc1 = z - z_centre (mm).
//
// Geometry ids follow the ACTS bit layout: volume << 56 | layer << 36 | sensitive, with
// sensitive = 1 + iz * n_phi + iphi, so a geometry id is never 0 (0 separates tracks in the
// service's GEOMETRY_IDS output) and sorting by geometry id sorts by the dense module index.
#pragma once

#include "hd.hpp"

namespace traccc {

constexpr int kNumLayers = 10;
constexpr int kNumPixelLayers = 4;

struct LayerDesc {
  double r;           // mm
  double half_z;      // mm
  double pitch0;      // mm, along r-phi
  double pitch1;      // mm, along z
  double thickness;   // mm, sensor thickness (cluster shapes, charge)
  double x_over_x0;   // material per crossing at normal incidence
  int n_phi;          // modules around phi
  int n_z;            // modules along z
  int n_ch0;          // channels per module along r-phi
  int n_ch1;          // channels per module along z
  int volume;         // geometry id volume field
  int layer;          // geometry id layer field
  int module_offset;  // dense index of this layer's first module
  double mod_w;       // module arc width, mm
  double mod_l;       // module length, mm
};

struct Detector {
  LayerDesc layers[kNumLayers];
  int n_modules;
  double bz;  // tesla
};

/** Curvature per unit q/pT: 1/R [1/mm] = kCurv * B[T] * |q/pT| [1/GeV]. */
constexpr double kCurvPerTesla = 0.299792458e-3;
constexpr double kPionMass = 0.13957;  // GeV
constexpr double kSpeedOfLight = 299.792458;  // mm/ns

inline Detector make_detector() {
  struct Spec {
    double r, half_z, p0, p1, thick, x0;
    int n_z;
    double target_w;
    int volume, layer;
  };
  const Spec specs[kNumLayers] = {
      {32, 490, 0.05, 0.05, 0.15, 0.015, 24, 20, 17, 2},
      {72, 490, 0.05, 0.05, 0.15, 0.015, 24, 20, 17, 4},
      {116, 490, 0.05, 0.05, 0.15, 0.015, 24, 20, 17, 6},
      {172, 490, 0.05, 0.05, 0.15, 0.015, 24, 20, 17, 8},
      {260, 1200, 0.08, 1.0, 0.3, 0.02, 24, 100, 24, 2},
      {360, 1200, 0.08, 1.0, 0.3, 0.02, 24, 100, 24, 4},
      {500, 1200, 0.08, 1.0, 0.3, 0.02, 24, 100, 24, 6},
      {660, 1200, 0.08, 1.0, 0.3, 0.02, 24, 100, 24, 8},
      {820, 1200, 0.08, 1.0, 0.3, 0.02, 24, 100, 24, 10},
      {1000, 1200, 0.08, 1.0, 0.3, 0.02, 24, 100, 24, 12},
  };
  Detector d{};
  d.bz = 2.0;
  int offset = 0;
  for (int i = 0; i < kNumLayers; ++i) {
    const Spec& s = specs[i];
    LayerDesc& l = d.layers[i];
    l.r = s.r;
    l.half_z = s.half_z;
    l.pitch0 = s.p0;
    l.pitch1 = s.p1;
    l.thickness = s.thick;
    l.x_over_x0 = s.x0;
    l.n_phi = static_cast<int>(std::lround(kTwoPi * s.r / s.target_w));
    l.n_z = s.n_z;
    l.mod_w = kTwoPi * s.r / l.n_phi;
    l.mod_l = 2.0 * s.half_z / s.n_z;
    l.n_ch0 = static_cast<int>(l.mod_w / s.p0);
    l.n_ch1 = static_cast<int>(l.mod_l / s.p1 + 1e-9);
    l.volume = s.volume;
    l.layer = s.layer;
    l.module_offset = offset;
    offset += l.n_phi * l.n_z;
  }
  d.n_modules = offset;
  return d;
}

TRACCC_HD inline uint64_t make_geometry_id(const Detector& d, int layer, int iphi, int iz) {
  const LayerDesc& l = d.layers[layer];
  return (static_cast<uint64_t>(l.volume) << 56) | (static_cast<uint64_t>(l.layer) << 36) |
         static_cast<uint64_t>(1 + iz * l.n_phi + iphi);
}

/** Layer index of a dense module index. */
TRACCC_HD inline int layer_of_module(const Detector& d, int module) {
  int l = 0;
  while (l + 1 < kNumLayers && module >= d.layers[l + 1].module_offset) ++l;
  return l;
}

TRACCC_HD inline uint64_t geometry_id_of_module(const Detector& d, int module) {
  const int l = layer_of_module(d, module);
  const int local = module - d.layers[l].module_offset;
  return make_geometry_id(d, l, local % d.layers[l].n_phi, local / d.layers[l].n_phi);
}

/** Dense module index of a geometry id, or -1 when it names no module of this detector. */
TRACCC_HD inline int module_of_geometry_id(const Detector& d, uint64_t gid) {
  const int volume = static_cast<int>(gid >> 56);
  const int layer = static_cast<int>((gid >> 36) & 0xfff);
  const uint64_t sensitive = gid & 0xfffffULL;
  if (((gid >> 20) & 0xffffULL) != 0) return -1;  // bits between layer and sensitive must be 0
  for (int i = 0; i < kNumLayers; ++i) {
    const LayerDesc& l = d.layers[i];
    if (l.volume == volume && l.layer == layer) {
      if (sensitive < 1 || sensitive > static_cast<uint64_t>(l.n_phi * l.n_z)) return -1;
      return l.module_offset + static_cast<int>(sensitive - 1);
    }
  }
  return -1;
}

/** Centre (phi, z) of a dense module. */
TRACCC_HD inline void module_centre(const Detector& d, int module, double* phi_c, double* z_c) {
  const int li = layer_of_module(d, module);
  const LayerDesc& l = d.layers[li];
  const int local = module - l.module_offset;
  const int iphi = local % l.n_phi;
  const int iz = local / l.n_phi;
  *phi_c = -kPi + (iphi + 0.5) * (kTwoPi / l.n_phi);
  *z_c = -l.half_z + (iz + 0.5) * l.mod_l;
}

/** Local coordinates (loc0, loc1) on `module` of the global point (phi, z) of its layer. */
TRACCC_HD inline void to_local(const Detector& d, int module, double phi, double z, double* loc0, double* loc1) {
  const double r = d.layers[layer_of_module(d, module)].r;
  double phi_c;
  double z_c;
  module_centre(d, module, &phi_c, &z_c);
  *loc0 = r * wrap_phi(phi - phi_c);
  *loc1 = z - z_c;
}

/** Global (phi, z) of the local coordinates (loc0, loc1) on `module`: the inverse of to_local. */
TRACCC_HD inline void to_global(const Detector& d, int module, double loc0, double loc1, double* phi, double* z) {
  const double r = d.layers[layer_of_module(d, module)].r;
  double phi_c;
  double z_c;
  module_centre(d, module, &phi_c, &z_c);
  *phi = wrap_phi(phi_c + loc0 / r);
  *z = z_c + loc1;
}

/** Module indices (iphi, iz) containing a point of layer `layer`; false outside |z| <= half_z. */
TRACCC_HD inline bool locate(const Detector& d, int layer, double phi, double z, int* iphi, int* iz) {
  const LayerDesc& l = d.layers[layer];
  if (!(z >= -l.half_z && z < l.half_z)) return false;
  int ip = static_cast<int>(std::floor((wrap_phi(phi) + kPi) / (kTwoPi / l.n_phi)));
  if (ip >= l.n_phi) ip -= l.n_phi;
  if (ip < 0) ip += l.n_phi;
  int izz = static_cast<int>(std::floor((z + l.half_z) / l.mod_l));
  if (izz >= l.n_z) izz = l.n_z - 1;
  *iphi = ip;
  *iz = izz;
  return true;
}

/** Local position -> cell channel; false when it falls outside the module's pixel matrix. */
TRACCC_HD inline bool channel_of(const LayerDesc& l, double loc0, double loc1, int* ch0, int* ch1) {
  const double u = loc0 + 0.5 * l.n_ch0 * l.pitch0;
  const double v = loc1 + 0.5 * l.n_ch1 * l.pitch1;
  if (u < 0 || v < 0) return false;
  const int c0 = static_cast<int>(u / l.pitch0);
  const int c1 = static_cast<int>(v / l.pitch1);
  if (c0 >= l.n_ch0 || c1 >= l.n_ch1) return false;
  *ch0 = c0;
  *ch1 = c1;
  return true;
}

/** Cell centre in local coordinates. */
TRACCC_HD inline double cell_loc0(const LayerDesc& l, int ch0) { return (ch0 + 0.5 - 0.5 * l.n_ch0) * l.pitch0; }
TRACCC_HD inline double cell_loc1(const LayerDesc& l, int ch1) { return (ch1 + 0.5 - 0.5 * l.n_ch1) * l.pitch1; }

/** Highland's multiple-scattering angle for a pion crossing `x_over_x0` of material. */
TRACCC_HD inline double highland_theta0(double p, double x_over_x0) {
  const double e = std::sqrt(p * p + kPionMass * kPionMass);
  const double beta = p / e;
  return 0.0136 / (beta * p) * std::sqrt(x_over_x0) * (1.0 + 0.038 * std::log(x_over_x0));
}

}  // namespace traccc
