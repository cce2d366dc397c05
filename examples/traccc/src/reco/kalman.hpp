// Kalman filter steps on cylinder states (phi, z, psi, cot(theta), q/pT): transport through the
// field, scattering in a layer, and the update with a measurement of (phi, z).
#pragma once

#include "../core/helix.hpp"
#include "types.hpp"

namespace traccc {

TRACCC_HD inline CylState to_cyl(const TrackState& s) { return CylState{s.x[0], s.x[1], s.x[2], s.x[3], s.x[4]}; }

TRACCC_HD inline void from_cyl(const CylState& c, TrackState* s) {
  s->x[0] = c.phi;
  s->x[1] = c.z;
  s->x[2] = c.psi;
  s->x[3] = c.t;
  s->x[4] = c.kappa;
}

TRACCC_HD inline void symmetrize(double P[25]) {
  for (int i = 0; i < 5; ++i)
    for (int j = i + 1; j < 5; ++j) {
      const double v = 0.5 * (P[i * 5 + j] + P[j * 5 + i]);
      P[i * 5 + j] = v;
      P[j * 5 + i] = v;
    }
}

/** Moves state and covariance from radius r0 to r1 (dir = +1 outwards along the momentum). */
TRACCC_HD inline bool transport(double bz, double r0, double r1, int dir, TrackState* s) {
  const CylState in = to_cyl(*s);
  CylState out;
  double path;
  if (!propagate(bz, r0, in, r1, dir, &out, &path)) return false;
  double J[25];
  if (!propagate_jacobian(bz, r0, in, r1, dir, out, J)) return false;
  double T[25];
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) {
      double acc = 0.0;
      for (int k = 0; k < 5; ++k) acc += J[i * 5 + k] * s->C[k * 5 + j];
      T[i * 5 + j] = acc;
    }
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) {
      double acc = 0.0;
      for (int k = 0; k < 5; ++k) acc += T[i * 5 + k] * J[j * 5 + k];
      s->C[i * 5 + j] = acc;
    }
  symmetrize(s->C);
  from_cyl(out, s);
  return true;
}

/** A measurement expressed in state coordinates: phi (rad) and z (mm) with variances. */
struct MeasuredPoint {
  double phi;
  double z;
  double v_phi;
  double v_z;
};

TRACCC_HD inline MeasuredPoint measured_point(const Detector& det, const Measurement& m) {
  const double r = det.layers[layer_of_module(det, m.module)].r;
  MeasuredPoint p;
  to_global(det, m.module, m.loc0, m.loc1, &p.phi, &p.z);
  p.v_phi = m.var0 / (r * r);
  p.v_z = m.var1;
  return p;
}

/** Chi-square of a measurement against the predicted state (2 dof). */
TRACCC_HD inline double kalman_chi2(const TrackState& s, const MeasuredPoint& m) {
  const double r0 = wrap_phi(m.phi - s.x[0]);
  const double r1 = m.z - s.x[1];
  const double s00 = s.C[0] + m.v_phi;
  const double s01 = s.C[1];
  const double s11 = s.C[6] + m.v_z;
  const double det = s00 * s11 - s01 * s01;
  if (!(det > 0.0)) return 1e30;
  return (r0 * r0 * s11 - 2.0 * r0 * r1 * s01 + r1 * r1 * s00) / det;
}

/** Updates the state with a measurement; returns its chi-square. */
TRACCC_HD inline double kalman_update(TrackState* s, const MeasuredPoint& m) {
  const double r0 = wrap_phi(m.phi - s->x[0]);
  const double r1 = m.z - s->x[1];
  const double s00 = s->C[0] + m.v_phi;
  const double s01 = s->C[1];
  const double s11 = s->C[6] + m.v_z;
  const double det = s00 * s11 - s01 * s01;
  if (!(det > 0.0)) return 1e30;
  const double i00 = s11 / det;
  const double i01 = -s01 / det;
  const double i11 = s00 / det;
  const double chi2 = r0 * (i00 * r0 + i01 * r1) + r1 * (i01 * r0 + i11 * r1);
  double K[10];  // 5 x 2 gain: P H^T S^-1
  for (int i = 0; i < 5; ++i) {
    const double p0 = s->C[i * 5 + 0];
    const double p1 = s->C[i * 5 + 1];
    K[i * 2 + 0] = p0 * i00 + p1 * i01;
    K[i * 2 + 1] = p0 * i01 + p1 * i11;
  }
  for (int i = 0; i < 5; ++i) s->x[i] += K[i * 2] * r0 + K[i * 2 + 1] * r1;
  s->x[0] = wrap_phi(s->x[0]);
  s->x[2] = wrap_phi(s->x[2]);
  double HP[10];  // rows 0 and 1 of P
  for (int j = 0; j < 5; ++j) {
    HP[j] = s->C[j];
    HP[5 + j] = s->C[5 + j];
  }
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) s->C[i * 5 + j] -= K[i * 2] * HP[j] + K[i * 2 + 1] * HP[5 + j];
  symmetrize(s->C);
  return chi2;
}

/** Scattering in layer `li` enlarges the direction and momentum uncertainties. */
TRACCC_HD inline void scatter(const Detector& det, int li, TrackState* s) {
  add_scattering(det.layers[li], to_cyl(*s), s->C);
}

}  // namespace traccc
