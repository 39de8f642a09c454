// SPDX-License-Identifier: Apache-2.0
// Bilinear lookup tables over (SOC, temperature), fixed capacity, clamped at the grid ends.
#pragma once

#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace math {

/// The breakpoints shared by every table of a cell. Capacities are compile-time; the used
/// counts are data. SOC breakpoints are strictly increasing (validated at init);
/// temperature breakpoints too (one temperature point means "no temperature dependence").
template <typename T, int MaxSoc, int MaxTemp>
struct Grid {
  static_assert(MaxSoc >= 2 && MaxTemp >= 1, "grid needs at least 2 SOC and 1 temperature point");
  int n_soc;                       ///< used SOC breakpoints (2..MaxSoc)
  int n_temperature;               ///< used temperature breakpoints (1..MaxTemp)
  T soc[MaxSoc];                   ///< SOC breakpoints (1), strictly increasing
  T temperature_degC[MaxTemp];     ///< temperature breakpoints (degC), strictly increasing
};

/// A value on the grid, indexed [temperature][soc].
template <typename T, int MaxSoc, int MaxTemp>
struct Table {
  T value[MaxTemp][MaxSoc];
};

/// Where a query point falls on the grid: segment indices and interpolation weights. Computed
/// once per (soc, temperature) and reused for every table of the cell.
template <typename T>
struct GridPoint {
  int i_soc;        ///< lower SOC breakpoint of the segment
  int i_temp;       ///< lower temperature breakpoint of the segment (== upper when n_temperature == 1)
  int i_temp_hi;    ///< upper temperature breakpoint
  T w_soc;          ///< weight of the upper SOC breakpoint, in [0, 1]
  T w_soc_extrap;   ///< the same weight without clamping (< 0 or > 1 outside the grid)
  T w_temp;         ///< weight of the upper temperature breakpoint, in [0, 1]
  T inv_dsoc;       ///< 1 / (soc[i+1] - soc[i]), for slopes
  bool soc_clamped; ///< query SOC was outside the grid: value held, slope 0
};

namespace detail {
/// Largest i in [0, n-2] with bp[i] <= x (binary search; x inside [bp[0], bp[n-1]]).
template <typename T>
int find_segment(const T* bp, int n, T x) {
  int lo = 0;
  int hi = n - 1;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (bp[mid] <= x) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}
}  // namespace detail

/// Locate (soc, temperature) on the grid. Outside the grid the point is clamped to its edge
/// (values held constant; the SOC slope is reported as 0 there).
template <typename T, int MaxSoc, int MaxTemp>
GridPoint<T> locate(const Grid<T, MaxSoc, MaxTemp>& g, T soc, T temperature_degC) {
  GridPoint<T> p{};
  const T s_lo = g.soc[0];
  const T s_hi = g.soc[g.n_soc - 1];
  p.soc_clamped = !(soc >= s_lo && soc <= s_hi);
  const T s = clamp(soc, s_lo, s_hi);
  p.i_soc = detail::find_segment(g.soc, g.n_soc, s);
  p.inv_dsoc = T(1) / (g.soc[p.i_soc + 1] - g.soc[p.i_soc]);
  p.w_soc = (s - g.soc[p.i_soc]) * p.inv_dsoc;
  p.w_soc_extrap = (soc - g.soc[p.i_soc]) * p.inv_dsoc;
  if (g.n_temperature == 1) {
    p.i_temp = 0;
    p.i_temp_hi = 0;
    p.w_temp = T(0);
  } else {
    const T t = clamp(temperature_degC, g.temperature_degC[0], g.temperature_degC[g.n_temperature - 1]);
    p.i_temp = detail::find_segment(g.temperature_degC, g.n_temperature, t);
    p.i_temp_hi = p.i_temp + 1;
    p.w_temp = (t - g.temperature_degC[p.i_temp]) /
               (g.temperature_degC[p.i_temp_hi] - g.temperature_degC[p.i_temp]);
  }
  return p;
}

/// Bilinear value: linear in SOC within the segment, then linear in temperature.
template <typename T, int MaxSoc, int MaxTemp>
T lookup(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p) {
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T v_lo = lo[p.i_soc] + (lo[p.i_soc + 1] - lo[p.i_soc]) * p.w_soc;
  const T v_hi = hi[p.i_soc] + (hi[p.i_soc + 1] - hi[p.i_soc]) * p.w_soc;
  return v_lo + (v_hi - v_lo) * p.w_temp;
}

/// Like lookup(), but continued linearly in SOC beyond the grid with the end segment's slope (used
/// for the OCV, so that states or sigma points just outside [0, 1] still see a sloped OCV instead of
/// a flat one; temperature stays clamped).
template <typename T, int MaxSoc, int MaxTemp>
T lookup_extrapolated(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p) {
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T v_lo = lo[p.i_soc] + (lo[p.i_soc + 1] - lo[p.i_soc]) * p.w_soc_extrap;
  const T v_hi = hi[p.i_soc] + (hi[p.i_soc + 1] - hi[p.i_soc]) * p.w_soc_extrap;
  return v_lo + (v_hi - v_lo) * p.w_temp;
}

/// d(lookup_extrapolated)/d(soc): the segment slope, also outside the grid.
template <typename T, int MaxSoc, int MaxTemp>
T slope_soc_extrapolated(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p) {
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T d_lo = (lo[p.i_soc + 1] - lo[p.i_soc]) * p.inv_dsoc;
  const T d_hi = (hi[p.i_soc + 1] - hi[p.i_soc]) * p.inv_dsoc;
  return d_lo + (d_hi - d_lo) * p.w_temp;
}

/// d(value)/d(soc) of the bilinear interpolant inside the segment (0 where SOC was clamped).
template <typename T, int MaxSoc, int MaxTemp>
T slope_soc(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p) {
  if (p.soc_clamped) { return T(0); }
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T d_lo = (lo[p.i_soc + 1] - lo[p.i_soc]) * p.inv_dsoc;
  const T d_hi = (hi[p.i_soc + 1] - hi[p.i_soc]) * p.inv_dsoc;
  return d_lo + (d_hi - d_lo) * p.w_temp;
}

}  // namespace math
}  // namespace cellsense
