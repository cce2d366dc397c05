// Stage 4 per element: triplet seeding around one middle spacepoint, with traccc-like cuts
// (minimum pT, Delta R window, transverse impact, collision region, scattering-compatible
// polar angles), and the initial track parameters of a seed.
//
// The measurements are stored per module (CSR `meas_begin`), and modules tile each layer in phi
// and z, so the module grid doubles as the spatial binning of the seed finder.
#pragma once

#include "../core/helix.hpp"
#include "types.hpp"

namespace traccc {

struct SeedInputs {
  Detector det;
  RecoConfig cfg;
  const Spacepoint* sps;
  const Measurement* meas;
  const int* meas_begin;  // [n_modules + 1]
};

/** Spacepoints of layer `li` compatible with middle spacepoint `m` as bottom or top partner. */
TRACCC_HD inline int seed_partners(const SeedInputs& in, int li, const Spacepoint& m, int* out, int n) {
  const LayerDesc& l = in.det.layers[li];
  const RecoConfig& c = in.cfg;
  const double rn = l.r;
  const double rm = m.r;
  const double dr = std::fabs(rn - rm);
  // z window: lines from the collision region through the middle point, and the |cot| cut.
  const double za = -c.seed_z0_max + (m.z + c.seed_z0_max) * rn / rm;
  const double zb = c.seed_z0_max + (m.z - c.seed_z0_max) * rn / rm;
  const double margin = 1.0 + 3.0 * l.pitch1;
  double zlo = max_val(min_val(za, zb), m.z - c.seed_cot_max * dr) - margin;
  double zhi = min_val(max_val(za, zb), m.z + c.seed_cot_max * dr) + margin;
  if (zhi < -l.half_z || zlo > l.half_z) return n;
  // phi window: the bend of the softest allowed track between the two radii, plus the impact.
  const double two_r = 2.0 * c.seed_pt_min / (kCurvPerTesla * in.det.bz);
  if (rn >= two_r || rm >= two_r) return n;
  const double dphi = std::fabs(std::asin(rn / two_r) - std::asin(rm / two_r)) +
                      c.seed_d0_max * std::fabs(1.0 / rn - 1.0 / rm) + 0.002;
  const double bin = kTwoPi / l.n_phi;
  const int ip0 = static_cast<int>(std::floor((m.phi - dphi + kPi) / bin));
  const int ip1 = static_cast<int>(std::floor((m.phi + dphi + kPi) / bin));
  const int iz0 = max_val(0, static_cast<int>(std::floor((zlo + l.half_z) / l.mod_l)));
  const int iz1 = min_val(l.n_z - 1, static_cast<int>(std::floor((zhi + l.half_z) / l.mod_l)));
  const int nphi = min_val(ip1 - ip0 + 1, l.n_phi);
  for (int iz = iz0; iz <= iz1; ++iz) {
    for (int k = 0; k < nphi; ++k) {
      int ip = (ip0 + k) % l.n_phi;
      if (ip < 0) ip += l.n_phi;
      const int mod = l.module_offset + iz * l.n_phi + ip;
      for (int j = in.meas_begin[mod]; j < in.meas_begin[mod + 1]; ++j) {
        const Spacepoint& s = in.sps[j];
        if (s.z < zlo || s.z > zhi) continue;
        if (std::fabs(wrap_phi(s.phi - m.phi)) > dphi) continue;
        if (n < kMaxSeedCandidates) out[n++] = j;
      }
    }
  }
  return n;
}

/** Circle through three points of the transverse plane. */
struct Circle {
  double cx;
  double cy;
  double radius;  // 0 for a straight line
  double turn;    // sign of the cross product (b->m) x (m->t): > 0 turns counter-clockwise
};

TRACCC_HD inline Circle circle_through(double bx, double by, double mx, double my, double tx, double ty) {
  const double x1 = mx - bx;
  const double y1 = my - by;
  const double x2 = tx - bx;
  const double y2 = ty - by;
  const double d = 2.0 * (x1 * y2 - y1 * x2);
  Circle c;
  c.turn = d;
  const double n1 = x1 * x1 + y1 * y1;
  const double n2 = x2 * x2 + y2 * y2;
  if (std::fabs(d) < 1e-9 * n1) {
    c.cx = c.cy = 0.0;
    c.radius = 0.0;
    return c;
  }
  const double ux = (y2 * n1 - y1 * n2) / d;
  const double uy = (x1 * n2 - x2 * n1) / d;
  c.cx = bx + ux;
  c.cy = by + uy;
  c.radius = std::sqrt(ux * ux + uy * uy);
  return c;
}

/** Arc length of a chord on a circle of radius R (R = 0: straight line). */
TRACCC_HD inline double arc_of_chord(double chord, double radius) {
  if (radius <= 0.0) return chord;
  const double x = min_val(chord / (2.0 * radius), 1.0);
  return 2.0 * radius * std::asin(x);
}

/** Quality of a triplet (lower is better), or a negative value when it fails a cut. */
TRACCC_HD inline double triplet_quality(const SeedInputs& in, const Spacepoint& b, const Spacepoint& m,
                                        const Spacepoint& t) {
  const RecoConfig& c = in.cfg;
  const Circle ci = circle_through(b.x, b.y, m.x, m.y, t.x, t.y);
  const double kb = kCurvPerTesla * in.det.bz;
  double pt = 1e4;
  double d0;
  if (ci.radius > 0.0) {
    pt = ci.radius * kb;
    if (pt < c.seed_pt_min) return -1.0;
    d0 = std::fabs(std::sqrt(ci.cx * ci.cx + ci.cy * ci.cy) - ci.radius);
  } else {
    const double dx = t.x - b.x;
    const double dy = t.y - b.y;
    d0 = std::fabs(b.x * dy - b.y * dx) / std::sqrt(dx * dx + dy * dy);
  }
  if (d0 > c.seed_d0_max) return -1.0;
  const double s_bm = arc_of_chord(std::hypot(m.x - b.x, m.y - b.y), ci.radius);
  const double s_mt = arc_of_chord(std::hypot(t.x - m.x, t.y - m.y), ci.radius);
  const double t1 = (m.z - b.z) / s_bm;
  const double t2 = (t.z - m.z) / s_mt;
  const double tt = (t.z - b.z) / (s_bm + s_mt);
  if (std::fabs(tt) > c.seed_cot_max) return -1.0;
  const double z0 = b.z - tt * arc_of_chord(b.r, ci.radius);
  if (std::fabs(z0) > c.seed_z0_max) return -1.0;
  // Expected bend of cot(theta) at the middle layer: scattering at the estimated momentum.
  const double one_t2 = 1.0 + tt * tt;
  const double p = max_val(pt, c.seed_pt_min) * std::sqrt(one_t2);
  const LayerDesc& lm = in.det.layers[m.layer];
  const double th0 = highland_theta0(p, lm.x_over_x0 * std::sqrt(one_t2));
  const double var_ms = th0 * th0 * one_t2 * one_t2;
  const LayerDesc& lb = in.det.layers[b.layer];
  const LayerDesc& lt = in.det.layers[t.layer];
  const double vb = lb.pitch1 * lb.pitch1 / 12.0;
  const double vm = lm.pitch1 * lm.pitch1 / 12.0;
  const double vt = lt.pitch1 * lt.pitch1 / 12.0;
  const double var_meas = (vb + vm) / (s_bm * s_bm) + (vm + vt) / (s_mt * s_mt);
  const double pull2 = (t1 - t2) * (t1 - t2) / (var_ms + var_meas);
  const double n2 = c.seed_scatter_sigmas * c.seed_scatter_sigmas;
  if (pull2 > n2) return -1.0;
  return pull2 / n2 + (d0 / c.seed_d0_max) * (d0 / c.seed_d0_max);
}

/** Insertion sort of partner indices by their cot(theta) to the middle point (stable). */
TRACCC_HD inline void sort_by_cot(int* idx, float* cot, int n) {
  for (int i = 1; i < n; ++i) {
    const float c = cot[i];
    const int v = idx[i];
    int j = i - 1;
    while (j >= 0 && cot[j] > c) {
      cot[j + 1] = cot[j];
      idx[j + 1] = idx[j];
      --j;
    }
    cot[j + 1] = c;
    idx[j + 1] = v;
  }
}

/**
 * Finds the best seeds (up to cfg.seed_max_per_middle) whose middle spacepoint is `mid`; writes
 * them to `out` and returns their number. Tops are sorted by cot(theta), so each bottom only
 * meets the tops whose polar angle scattering at the minimum pT could explain (as ACTS does).
 */
TRACCC_HD inline int find_seeds(const SeedInputs& in, int mid, Seed* out) {
  const Spacepoint m = in.sps[mid];
  const RecoConfig& c = in.cfg;
  int n_out = 0;
  if (m.layer < 1 || m.layer + 1 >= c.seed_layers) return 0;
  int bottoms[kMaxSeedCandidates];
  int tops[kMaxSeedCandidates];
  float cot_t[kMaxSeedCandidates];
  int nb = 0;
  int nt = 0;
  for (int li = 0; li < c.seed_layers; ++li) {
    const double dr = in.det.layers[li].r - m.r;
    if (dr < 0 && -dr >= c.seed_dr_min && -dr <= c.seed_dr_max) nb = seed_partners(in, li, m, bottoms, nb);
    if (dr > 0 && dr >= c.seed_dr_min && dr <= c.seed_dr_max) nt = seed_partners(in, li, m, tops, nt);
  }
  if (nb == 0 || nt == 0) return 0;
  double min_chord_t = 1e30;
  double max_var_t = 0.0;
  for (int j = 0; j < nt; ++j) {
    const Spacepoint& t = in.sps[tops[j]];
    const double chord = std::hypot(t.x - m.x, t.y - m.y);
    cot_t[j] = static_cast<float>((t.z - m.z) / chord);
    min_chord_t = min_val(min_chord_t, chord);
    const LayerDesc& lt = in.det.layers[t.layer];
    max_var_t = max_val(max_var_t, lt.pitch1 * lt.pitch1 / 12.0);
  }
  sort_by_cot(tops, cot_t, nt);
  const LayerDesc& lm = in.det.layers[m.layer];
  const double vm = lm.pitch1 * lm.pitch1 / 12.0;
  const double n2 = c.seed_scatter_sigmas * c.seed_scatter_sigmas;
  const int keep = min_val(c.seed_max_per_middle, kMaxSeedsPerMiddle);
  for (int i = 0; i < nb; ++i) {
    const Spacepoint b = in.sps[bottoms[i]];
    const double chord_b = std::hypot(m.x - b.x, m.y - b.y);
    const double cb = (m.z - b.z) / chord_b;
    // Widest cot(theta) bend a triplet_quality-passing top may show: scattering at the minimum
    // pT, measurement errors with the shortest top chord, and a margin for arc vs chord.
    const double one_t2 = 1.0 + cb * cb;
    const double th0 = highland_theta0(c.seed_pt_min * std::sqrt(one_t2), lm.x_over_x0 * std::sqrt(one_t2));
    const LayerDesc& lb = in.det.layers[b.layer];
    const double var = th0 * th0 * one_t2 * one_t2 + (lb.pitch1 * lb.pitch1 / 12.0 + vm) / (chord_b * chord_b) +
                       (vm + max_var_t) / (min_chord_t * min_chord_t);
    const double tol = 1.1 * std::sqrt(n2 * var) + 2e-3 * std::fabs(cb);
    int lo = 0;
    int hi = nt;
    while (lo < hi) {  // first top with cot >= cb - tol
      const int mid_i = (lo + hi) / 2;
      if (cot_t[mid_i] < cb - tol) lo = mid_i + 1;
      else hi = mid_i;
    }
    for (int j = lo; j < nt && cot_t[j] <= cb + tol; ++j) {
      const double q = triplet_quality(in, b, m, in.sps[tops[j]]);
      if (q < 0.0) continue;
      // Insertion into the sorted best-`keep` list; ties keep the earlier (b, t) pair.
      int pos = n_out;
      while (pos > 0 && out[pos - 1].quality > q) --pos;
      if (pos >= keep) continue;
      const int last = min_val(n_out, keep - 1);
      for (int k = last; k > pos; --k) out[k] = out[k - 1];
      out[pos] = Seed{bottoms[i], mid, tops[j], static_cast<float>(q)};
      if (n_out < keep) ++n_out;
    }
  }
  return n_out;
}

/**
 * The seeding stage for middle spacepoint `j`: its seeds go to the fixed slots
 * [j * keep, j * keep + k) of `slots` and their number k to slot_count[j], so middles can run in
 * any order (`keep` = min(cfg.seed_max_per_middle, kMaxSeedsPerMiddle)). The slots are compacted
 * in middle order afterwards.
 */
TRACCC_HD inline void seed_slots(const SeedInputs& in, int j, int keep, Seed* slots, int* slot_count) {
  Seed tmp[kMaxSeedsPerMiddle];
  const int k = find_seeds(in, j, tmp);
  for (int i = 0; i < k; ++i) slots[static_cast<size_t>(j) * keep + i] = tmp[i];
  slot_count[j] = k;
}

/** Initial parameters at the seed's bottom spacepoint, with a deliberately loose covariance. */
TRACCC_HD inline TrackState seed_state(const SeedInputs& in, const Seed& s) {
  const Spacepoint b = in.sps[s.b];
  const Spacepoint m = in.sps[s.m];
  const Spacepoint t = in.sps[s.t];
  const Circle ci = circle_through(b.x, b.y, m.x, m.y, t.x, t.y);
  double dx;
  double dy;
  double kappa = 0.0;
  if (ci.radius > 0.0) {
    const double ux = b.x - ci.cx;
    const double uy = b.y - ci.cy;
    dx = -uy;
    dy = ux;
    if (dx * (m.x - b.x) + dy * (m.y - b.y) < 0) {
      dx = -dx;
      dy = -dy;
    }
    kappa = (ci.turn > 0 ? -1.0 : 1.0) / (ci.radius * kCurvPerTesla * in.det.bz);
  } else {
    dx = t.x - b.x;
    dy = t.y - b.y;
  }
  const double s_bt = arc_of_chord(std::hypot(t.x - b.x, t.y - b.y), ci.radius);
  const double cot = (t.z - b.z) / s_bt;
  TrackState st;
  st.x[0] = b.phi;
  st.x[1] = b.z;
  st.x[2] = std::atan2(dy, dx);
  st.x[3] = cot;
  st.x[4] = kappa;
  for (double& v : st.C) v = 0.0;
  const Measurement& mb = in.meas[s.b];
  st.C[0] = mb.var0 / (b.r * b.r);
  st.C[6] = mb.var1;
  st.C[12] = 0.02 * 0.02;
  st.C[18] = 0.05 * 0.05 * (1.0 + cot * cot);
  const double sk = max_val(0.3 * std::fabs(kappa), 0.1);
  st.C[24] = sk * sk;
  return st;
}

}  // namespace traccc
