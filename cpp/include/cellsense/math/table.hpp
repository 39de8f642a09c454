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

/// Where a temperature falls on the grid's temperature axis. Every table read in one sample is
/// at the sample's temperature, so this part of a grid location is computed once per sample.
template <typename T>
struct TempPoint {
  int i_temp;       ///< lower temperature breakpoint of the segment (== upper when n_temperature == 1)
  int i_temp_hi;    ///< upper temperature breakpoint
  T w_temp;         ///< weight of the upper temperature breakpoint, in [0, 1]
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

/// The same segment as find_segment() (largest i in [0, n-2] with bp[i] <= x, for x inside
/// [bp[0], bp[n-1]]), found by walking from a nearby segment `hint` instead of bisecting: one or
/// two comparisons when x is in or next to the hinted segment (the SOC moves little within a
/// sample). The result does not depend on the hint, only the number of comparisons does.
template <typename T>
int find_segment_from(const T* bp, int n, T x, int hint) {
  int i = hint < 0 ? 0 : (hint > n - 2 ? n - 2 : hint);
  while (i > 0 && x < bp[i]) { --i; }
  while (i < n - 2 && bp[i + 1] <= x) { ++i; }
  return i;
}

/// find_segment() by walking from the segment that x would fall in on an evenly spaced grid with
/// the same ends (exact on such a grid, close on a smooth one): the same index as the bisection
/// (the walk is exact), in fewer comparisons than log2(n) for the SOC grids cells use.
/// x inside [bp[0], bp[n-1]].
template <typename T>
int find_segment_guessed(const T* bp, int n, T x) {
  const T g = (x - bp[0]) * (static_cast<T>(n - 1) / (bp[n - 1] - bp[0]));
  const int hint = g >= T(0) && g < static_cast<T>(n) ? static_cast<int>(g) : 0;  // NaN: 0
  return find_segment_from(bp, n, x, hint);
}
}  // namespace detail

/// Locate a temperature on the grid (clamped to its ends).
template <typename T, int MaxSoc, int MaxTemp>
TempPoint<T> locate_temperature(const Grid<T, MaxSoc, MaxTemp>& g, T temperature_degC) {
  TempPoint<T> p{};
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

namespace detail {
/// The SOC part of a grid location; `segment` is the SOC segment of the clamped query (from
/// find_segment or find_segment_from: the same index).
template <typename T, int MaxSoc, int MaxTemp>
void fill_soc(const Grid<T, MaxSoc, MaxTemp>& g, T soc, T s_clamped, bool clamped, int segment,
              GridPoint<T>& p) {
  p.soc_clamped = clamped;
  p.i_soc = segment;
  p.inv_dsoc = T(1) / (g.soc[segment + 1] - g.soc[segment]);
  p.w_soc = (s_clamped - g.soc[segment]) * p.inv_dsoc;
  p.w_soc_extrap = (soc - g.soc[segment]) * p.inv_dsoc;
}
}  // namespace detail

/// Locate (soc, temperature) on the grid. Outside the grid the point is clamped to its edge
/// (values held constant; the SOC slope is reported as 0 there).
template <typename T, int MaxSoc, int MaxTemp>
GridPoint<T> locate(const Grid<T, MaxSoc, MaxTemp>& g, T soc, T temperature_degC) {
  const TempPoint<T> tp = locate_temperature(g, temperature_degC);
  GridPoint<T> p{};
  const T s_lo = g.soc[0];
  const T s_hi = g.soc[g.n_soc - 1];
  const bool clamped = !(soc >= s_lo && soc <= s_hi);
  const T s = clamp(soc, s_lo, s_hi);
  detail::fill_soc(g, soc, s, clamped, detail::find_segment(g.soc, g.n_soc, s), p);
  p.i_temp = tp.i_temp;
  p.i_temp_hi = tp.i_temp_hi;
  p.w_temp = tp.w_temp;
  return p;
}

/// locate() with the temperature part already known (locate_temperature() at the same
/// temperature) and the SOC segment searched from `hint` (bisected when hint < 0): the same
/// GridPoint, cheaper when several SOCs are located at one temperature within a sample.
template <typename T, int MaxSoc, int MaxTemp>
GridPoint<T> locate(const Grid<T, MaxSoc, MaxTemp>& g, T soc, const TempPoint<T>& tp, int hint) {
  GridPoint<T> p{};
  const T s_lo = g.soc[0];
  const T s_hi = g.soc[g.n_soc - 1];
  const bool clamped = !(soc >= s_lo && soc <= s_hi);
  const T s = clamp(soc, s_lo, s_hi);
  const int segment = hint < 0 ? detail::find_segment_guessed(g.soc, g.n_soc, s)
                               : detail::find_segment_from(g.soc, g.n_soc, s, hint);
  detail::fill_soc(g, soc, s, clamped, segment, p);
  p.i_temp = tp.i_temp;
  p.i_temp_hi = tp.i_temp_hi;
  p.w_temp = tp.w_temp;
  return p;
}

/// Bilinear value: linear in SOC within the segment, then linear in temperature.
template <typename T, int MaxSoc, int MaxTemp>
CELLSENSE_ALWAYS_INLINE T lookup(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p) {
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
CELLSENSE_ALWAYS_INLINE T lookup_extrapolated(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p) {
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T v_lo = lo[p.i_soc] + (lo[p.i_soc + 1] - lo[p.i_soc]) * p.w_soc_extrap;
  const T v_hi = hi[p.i_soc] + (hi[p.i_soc + 1] - hi[p.i_soc]) * p.w_soc_extrap;
  return v_lo + (v_hi - v_lo) * p.w_temp;
}

/// d(lookup_extrapolated)/d(soc): the segment slope, also outside the grid.
template <typename T, int MaxSoc, int MaxTemp>
CELLSENSE_ALWAYS_INLINE T slope_soc_extrapolated(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p) {
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T d_lo = (lo[p.i_soc + 1] - lo[p.i_soc]) * p.inv_dsoc;
  const T d_hi = (hi[p.i_soc + 1] - hi[p.i_soc]) * p.inv_dsoc;
  return d_lo + (d_hi - d_lo) * p.w_temp;
}

/// d(value)/d(soc) of the bilinear interpolant inside the segment (0 where SOC was clamped).
template <typename T, int MaxSoc, int MaxTemp>
CELLSENSE_ALWAYS_INLINE T slope_soc(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p) {
  if (p.soc_clamped) { return T(0); }
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T d_lo = (lo[p.i_soc + 1] - lo[p.i_soc]) * p.inv_dsoc;
  const T d_hi = (hi[p.i_soc + 1] - hi[p.i_soc]) * p.inv_dsoc;
  return d_lo + (d_hi - d_lo) * p.w_temp;
}

/// lookup() and slope_soc() of one table at one point, sharing the loads (the same arithmetic as
/// the two calls, so the same bits).
template <typename T, int MaxSoc, int MaxTemp>
CELLSENSE_ALWAYS_INLINE T lookup_with_slope(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p, T& slope) {
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T dv_lo = lo[p.i_soc + 1] - lo[p.i_soc];
  const T dv_hi = hi[p.i_soc + 1] - hi[p.i_soc];
  const T v_lo = lo[p.i_soc] + dv_lo * p.w_soc;
  const T v_hi = hi[p.i_soc] + dv_hi * p.w_soc;
  if (p.soc_clamped) {
    slope = T(0);
  } else {
    const T d_lo = dv_lo * p.inv_dsoc;
    const T d_hi = dv_hi * p.inv_dsoc;
    slope = d_lo + (d_hi - d_lo) * p.w_temp;
  }
  return v_lo + (v_hi - v_lo) * p.w_temp;
}

/// lookup_extrapolated() and slope_soc_extrapolated() of one table at one point, sharing the loads
/// (the same arithmetic as the two calls, so the same bits).
template <typename T, int MaxSoc, int MaxTemp>
CELLSENSE_ALWAYS_INLINE T lookup_extrapolated_with_slope(const Table<T, MaxSoc, MaxTemp>& tab, const GridPoint<T>& p, T& slope) {
  const T* lo = tab.value[p.i_temp];
  const T* hi = tab.value[p.i_temp_hi];
  const T dv_lo = lo[p.i_soc + 1] - lo[p.i_soc];
  const T dv_hi = hi[p.i_soc + 1] - hi[p.i_soc];
  const T v_lo = lo[p.i_soc] + dv_lo * p.w_soc_extrap;
  const T v_hi = hi[p.i_soc] + dv_hi * p.w_soc_extrap;
  const T d_lo = dv_lo * p.inv_dsoc;
  const T d_hi = dv_hi * p.inv_dsoc;
  slope = d_lo + (d_hi - d_lo) * p.w_temp;
  return v_lo + (v_hi - v_lo) * p.w_temp;
}

}  // namespace math
}  // namespace cellsense
