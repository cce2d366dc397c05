// Helices in the solenoid's uniform field, from one barrel cylinder to another.
//
// A track crossing a cylinder of radius r is described by the state (phi, z, psi, t, kappa):
// the azimuth and z of the crossing, the azimuth psi of the transverse direction, t = cot(theta)
// and kappa = q/pT [1/GeV]. The same functions drive the generator's particles and the
// reconstruction's Kalman filter, on the CPU and in CUDA kernels.
#pragma once

#include "detector.hpp"

namespace traccc {

struct CylState {
  double phi;
  double z;
  double psi;
  double t;
  double kappa;
};

/**
 * Moves a helix from radius r0 to radius r1: dir = +1 follows the momentum, -1 goes backwards.
 * Returns false when the helix never reaches r1 that way (it curls up before, or the radii are
 * equal). `*s_out` receives the signed transverse path length in mm.
 */
TRACCC_HD inline bool propagate(double bz, double r0, const CylState& in, double r1, int dir, CylState* out,
                                double* s_out) {
  const double x0 = r0 * std::cos(in.phi);
  const double y0 = r0 * std::sin(in.phi);
  const double cpsi = std::cos(in.psi);
  const double spsi = std::sin(in.psi);
  const double h = -kCurvPerTesla * bz * in.kappa;  // d(psi)/ds
  double s = 0.0;
  if (std::fabs(h) * r1 < 1e-9) {
    // Straight line: |P0 + s d|^2 = r1^2.
    const double b = x0 * cpsi + y0 * spsi;
    const double c = r0 * r0 - r1 * r1;
    const double disc = b * b - c;
    if (disc < 0) return false;
    const double sq = std::sqrt(disc);
    const double sa = -b - sq;
    const double sb = -b + sq;
    const double eps = 1e-9;
    if (dir > 0) {
      if (sa > eps) s = sa;
      else if (sb > eps) s = sb;
      else return false;
    } else {
      if (sb < -eps) s = sb;
      else if (sa < -eps) s = sa;
      else return false;
    }
  } else {
    // Circle-circle intersection: the track's circle has centre C and radius rho = 1/|h|.
    const double ih = 1.0 / h;
    const double cx = x0 - spsi * ih;
    const double cy = y0 + cpsi * ih;
    const double d2 = cx * cx + cy * cy;
    const double d = std::sqrt(d2);
    if (d < 1e-12) return false;  // circle centred on the beam line: radius never changes
    // d^2 - rho^2 written without cancellation: |P0|^2 + 2 (P0 . v) / h, v = (-sin psi, cos psi).
    const double d2_minus_rho2 = r0 * r0 + 2.0 * (-x0 * spsi + y0 * cpsi) * ih;
    const double a = (r1 * r1 + d2_minus_rho2) / (2.0 * d);
    const double b2 = r1 * r1 - a * a;
    if (b2 < 0) return false;
    const double b = std::sqrt(b2);
    const double ux = cx / d;
    const double uy = cy / d;
    const double period = kTwoPi / std::fabs(h);
    bool found = false;
    for (int k = 0; k < 2; ++k) {
      const double sign = k == 0 ? 1.0 : -1.0;
      const double px = a * ux - sign * b * uy;
      const double py = a * uy + sign * b * ux;
      const double psi1 = std::atan2(h * (px - cx), -h * (py - cy));
      double cand = wrap_phi(psi1 - in.psi) / h;
      const double eps = 1e-9;
      if (dir > 0) {
        while (cand <= eps) cand += period;
        if (!found || cand < s) s = cand;
      } else {
        while (cand >= -eps) cand -= period;
        if (!found || cand > s) s = cand;
      }
      found = true;
    }
    // A circle that reaches r1 only tangentially or goes around first is not a crossing we want
    // when it needs more than half a turn.
    if (std::fabs(s) > 0.5 * period) return false;
  }
  const double psi1 = in.psi + h * s;
  double x1;
  double y1;
  if (std::fabs(h) * std::fabs(s) < 1e-9) {
    x1 = x0 + s * cpsi;
    y1 = y0 + s * spsi;
  } else {
    x1 = x0 + (std::sin(psi1) - spsi) / h;
    y1 = y0 - (std::cos(psi1) - cpsi) / h;
  }
  out->phi = std::atan2(y1, x1);
  out->z = in.z + in.t * s;
  out->psi = wrap_phi(psi1);
  out->t = in.t;
  out->kappa = in.kappa;
  if (s_out) *s_out = s;
  return true;
}

/** d(out)/d(in) of `propagate`, by forward differences (the maths runs in double). */
TRACCC_HD inline bool propagate_jacobian(double bz, double r0, const CylState& in, double r1, int dir,
                                         const CylState& out, double J[25]) {
  const double steps[5] = {1e-7, 1e-5, 1e-7, 1e-7, 1e-7 * max_val(1.0, std::fabs(in.kappa))};
  for (int j = 0; j < 5; ++j) {
    CylState p = in;
    double* pv = &p.phi;
    pv[j] += steps[j];
    CylState q;
    double s;
    if (!propagate(bz, r0, p, r1, dir, &q, &s)) return false;
    const double dv[5] = {wrap_phi(q.phi - out.phi), q.z - out.z, wrap_phi(q.psi - out.psi), q.t - out.t,
                          q.kappa - out.kappa};
    for (int i = 0; i < 5; ++i) J[i * 5 + j] = dv[i] / steps[j];
  }
  return true;
}

/** Path length in material of a crossing, in units of the layer's normal-incidence thickness. */
TRACCC_HD inline double crossing_factor(const CylState& s) {
  const double sin_theta = 1.0 / std::sqrt(1.0 + s.t * s.t);
  const double c = std::fabs(std::cos(s.psi - s.phi)) * sin_theta;
  return 1.0 / max_val(c, 0.05);
}

/** Momentum of a state, GeV. */
TRACCC_HD inline double momentum(const CylState& s) {
  return std::sqrt(1.0 + s.t * s.t) / max_val(std::fabs(s.kappa), 1e-6);
}

/**
 * Multiple scattering in a layer as a covariance of (psi, t, kappa): two independent deflections
 * of width theta0 perpendicular to the direction. Adds it to the 5x5 covariance C.
 */
TRACCC_HD inline void add_scattering(const LayerDesc& l, const CylState& s, double C[25]) {
  const double xx0 = l.x_over_x0 * crossing_factor(s);
  const double th0 = highland_theta0(momentum(s), xx0);
  const double v = th0 * th0;
  const double one_t2 = 1.0 + s.t * s.t;  // 1 / sin^2(theta)
  C[2 * 5 + 2] += v * one_t2;
  C[3 * 5 + 3] += v * one_t2 * one_t2;
  C[4 * 5 + 4] += v * s.kappa * s.kappa * s.t * s.t;
  const double tk = v * s.kappa * s.t * one_t2;
  C[3 * 5 + 4] += tk;
  C[4 * 5 + 3] += tk;
}

}  // namespace traccc
