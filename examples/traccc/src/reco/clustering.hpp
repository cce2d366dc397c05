// Stage 1-3 per element: connected-component clustering of one module's cells (sparse CCL, as
// in traccc), the clusters' measurements (charge-weighted centroids) and spacepoints.
#pragma once

#include "types.hpp"

namespace traccc {

TRACCC_HD inline int ccl_find(int* parent, int i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/**
 * Labels the cells [begin, end) of one module (sorted by channel1, then channel0) into 8-connected
 * clusters. `parent` and `cluster` are per-cell scratch/output arrays (global indices). Clusters
 * are numbered 0.. in the order of their first cell, so the result does not depend on who runs
 * which module. Returns the number of clusters.
 */
TRACCC_HD inline int ccl_module(const int64_t* pos, int begin, int end, int* parent, int* cluster) {
  for (int i = begin; i < end; ++i) parent[i] = i;
  for (int i = begin + 1; i < end; ++i) {
    const int64_t c0 = pos[4 * i + 2];
    const int64_t c1 = pos[4 * i + 3];
    for (int j = i - 1; j >= begin; --j) {
      const int64_t d1 = c1 - pos[4 * j + 3];
      if (d1 > 1) break;  // sorted by channel1: nothing earlier can touch cell i
      const int64_t d0 = c0 - pos[4 * j + 2];
      if (d0 >= -1 && d0 <= 1) {
        const int ri = ccl_find(parent, i);
        const int rj = ccl_find(parent, j);
        // The smaller index becomes the root: roots are each cluster's first cell.
        if (ri < rj) parent[rj] = ri;
        else if (rj < ri) parent[ri] = rj;
      }
    }
  }
  int n = 0;
  for (int i = begin; i < end; ++i) {
    const int r = ccl_find(parent, i);
    cluster[i] = (r == i) ? n++ : cluster[r];
  }
  return n;
}

/**
 * Writes the measurements of one module's clusters: charge-weighted centroid, the pitch-based
 * variance, the mean cell time. Accumulates 16 clusters per pass over the module's cells so the
 * scratch stays in registers and the sums run in cell order (reproducible bits).
 */
TRACCC_HD inline void measure_module(const Detector& det, int module, const int64_t* pos, const float* prop,
                                     int begin, int end, const int* cluster, int n_clusters,
                                     Measurement* out) {
  const LayerDesc& l = det.layers[layer_of_module(det, module)];
  constexpr int kChunk = 16;
  for (int c0 = 0; c0 < n_clusters; c0 += kChunk) {
    double sw[kChunk];
    double su[kChunk];
    double sv[kChunk];
    double st[kChunk];
    double pu[kChunk];
    double pv[kChunk];
    int cnt[kChunk];
    for (int k = 0; k < kChunk; ++k) {
      sw[k] = su[k] = sv[k] = st[k] = pu[k] = pv[k] = 0.0;
      cnt[k] = 0;
    }
    for (int i = begin; i < end; ++i) {
      const int k = cluster[i] - c0;
      if (k < 0 || k >= kChunk) continue;
      const double u = cell_loc0(l, static_cast<int>(pos[4 * i + 2]));
      const double v = cell_loc1(l, static_cast<int>(pos[4 * i + 3]));
      const double w = prop[2 * i + 1] > 0.0f ? static_cast<double>(prop[2 * i + 1]) : 0.0;
      sw[k] += w;
      su[k] += w * u;
      sv[k] += w * v;
      pu[k] += u;
      pv[k] += v;
      st[k] += prop[2 * i];
      ++cnt[k];
    }
    const int last = min_val(kChunk, n_clusters - c0);
    for (int k = 0; k < last; ++k) {
      Measurement m;
      if (sw[k] > 0.0) {
        m.loc0 = static_cast<float>(su[k] / sw[k]);
        m.loc1 = static_cast<float>(sv[k] / sw[k]);
      } else {  // no usable charge: geometric centre
        m.loc0 = static_cast<float>(pu[k] / cnt[k]);
        m.loc1 = static_cast<float>(pv[k] / cnt[k]);
      }
      m.var0 = static_cast<float>(l.pitch0 * l.pitch0 / 12.0);
      m.var1 = static_cast<float>(l.pitch1 * l.pitch1 / 12.0);
      m.time = static_cast<float>(st[k] / cnt[k]);
      m.module = module;
      out[c0 + k] = m;
    }
  }
}

/** Global position of a measurement (the point measured_point gives, in x, y, z). */
TRACCC_HD inline Spacepoint make_spacepoint(const Detector& det, const Measurement& m) {
  const int li = layer_of_module(det, m.module);
  const double r = det.layers[li].r;
  double phi;
  double z;
  to_global(det, m.module, m.loc0, m.loc1, &phi, &z);
  Spacepoint sp;
  sp.x = static_cast<float>(r * std::cos(phi));
  sp.y = static_cast<float>(r * std::sin(phi));
  sp.z = static_cast<float>(z);
  sp.r = static_cast<float>(r);
  sp.phi = static_cast<float>(phi);
  sp.layer = li;
  return sp;
}

}  // namespace traccc
