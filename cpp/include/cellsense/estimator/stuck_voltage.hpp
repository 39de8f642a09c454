// SPDX-License-Identifier: Apache-2.0
// Stuck voltage sensor (issue #12, dirty logs) over a log's columns: the rule the whole-log loop uses to
// step a sample without its voltage reading (status kStatusVoltageStuck, estimator/status.hpp). It lived
// in the Python bindings; the core owns it (issue #13) so every caller applies the same rule.
//
// A run of at least kStuckMinSamples bit-identical finite voltage readings is stuck when, inside it, the
// current (1) stepped up AND down between consecutive samples by more than dI = kStuckMinStep_V / R0_min
// (R0_min: the cell's smallest ohmic resistance over its SOC x temperature table, the smallest
// instantaneous voltage response per ampere), and (2) was both a discharge above dI and a charge above dI.
// A real cell's terminal voltage moves by at least R0 |delta i| the moment the current steps; 5 mV is 5 LSB
// of a 1 mV logger (10 LSB of a 0.5 mV one), far above the 1-LSB coincidences of a quantised reading. (2)
// exempts a voltage-regulated phase: a charger's or cycler's CV holds the terminal voltage flat on purpose
// while the current varies, but in one direction only (the Panasonic 10 degC NN log clamps at 4.20007 V for
// 6 s while the regen current moves -2.24..-2.67 A; (1) alone flagged it). A rest (current constant) never
// has a step at all. Every sample of a stuck run is marked except its first (a genuine reading); the whole
// run is looked at (also ahead of a sample), so all of it is marked, not just its tail.
// A second rule, the charge a run carried (CS-CLK-010): a run of kStuckMinSamples or more whose current stayed
// on one side (all discharge or all charge beyond the rest threshold C/20, which a current sensor's offset at rest
// does not reach) without tapering (|i| at its end >= kStuckTaper x |i| at its start: a charger's or cycler's CV
// phase tapers), away from the OCV's full end while charging and its empty end while discharging (within
// kStuckRegulatedBand_V: a CV or a tester's clamp at a cut-off), and moved at least stuck_charge_Ah(): the least charge that raises or lowers the cell's OCV by
// kStuckMinStep_V anywhere on its table, at any temperature row. A frozen reading through a constant-current
// charge or discharge, which rule (1) cannot see (no current step), is marked the same way. A flat plateau needs
// more charge (LFP: often none is enough, and nothing is marked).
// No heap (the caller provides the output), no I/O.
#pragma once

#include <cstddef>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "cellsense/math/matrix.hpp"
#include "cellsense/math/table.hpp"

namespace cellsense {

/// Shortest run of identical readings that can be stuck (samples).
inline constexpr int kStuckMinSamples = 5;
/// Voltage response (V) a current step must have caused through the smallest R0 to count.
inline constexpr double kStuckMinStep_V = 5e-3;

/// The current step dI (A) of the rule: kStuckMinStep_V / the smallest R0 of the parameter table
/// (model::EcmParams); +inf, i.e. no detection, when that minimum is not positive and finite.
template <class Params>
double stuck_current_step_A(const Params& p) {
  double r0_min = std::numeric_limits<double>::infinity();
  for (int it = 0; it < p.grid.n_temperature; ++it) {
    for (int is = 0; is < p.grid.n_soc; ++is) {
      const double r = static_cast<double>(p.r0_Ohm.value[it][is]);
      r0_min = r < r0_min ? r : r0_min;
    }
  }
  return r0_min > 0.0 && math::is_finite(r0_min) ? kStuckMinStep_V / r0_min : std::numeric_limits<double>::infinity();
}

/// The charge rule's |i| at a run's end below this fraction of its start: a tapering (voltage-regulated) phase.
inline constexpr double kStuckTaper = 0.8;
/// The charge rule's regulated band (V): a reading this close to, or beyond, the OCV's full end while charging
/// (its empty end while discharging) is a charger's CV or a tester's clamp at a cut-off, not a stuck sensor.
inline constexpr double kStuckRegulatedBand_V = 0.05;

namespace detail {
/// OCV of temperature row `it` at SOC z: the model's own bilinear look-up (math::locate / math::lookup) at that
/// row's temperature, linear between the SOC breakpoints and held beyond them.
template <class Params>
double ocv_row_at(const Params& p, int it, double z) {
  using T = std::remove_cv_t<std::remove_reference_t<decltype(p.capacity_Ah)>>;
  return static_cast<double>(math::lookup(p.ocv_V, math::locate(p.grid, static_cast<T>(z), p.grid.temperature_degC[it])));
}

/// The least OCV(z + dz) - OCV(z) over the table's SOC span and temperature rows (V). The difference of two
/// piecewise-linear functions is piecewise linear with its corners at z = s_k and z = s_k - dz, so those are the
/// only points to look at.
template <class Params>
double least_ocv_rise_V(const Params& p, double dz) {
  const int n = p.grid.n_soc;
  const double lo = static_cast<double>(p.grid.soc[0]);
  const double hi = static_cast<double>(p.grid.soc[n - 1]) - dz;
  double least = std::numeric_limits<double>::infinity();
  for (int it = 0; it < p.grid.n_temperature; ++it) {
    for (int k = 0; k < n; ++k) {
      for (int side = 0; side < 2; ++side) {
        const double z = static_cast<double>(p.grid.soc[k]) - (side == 0 ? 0.0 : dz);
        if (z < lo || z > hi) { continue; }
        const double rise = ocv_row_at(p, it, z + dz) - ocv_row_at(p, it, z);
        least = rise < least ? rise : least;
      }
    }
  }
  return least;
}
}  // namespace detail

/// The charge rule's threshold (A h): the capacity times the least SOC change dz that moves the cell's OCV by at
/// least `min_move_V` (kStuckMinStep_V here; a pack replay passes its sensor's resolution when coarser) wherever it
/// starts on the table, at every temperature row (bisection on dz, to 1e-4 of the span: the least rise grows with
/// dz for an increasing OCV). +inf, i.e. no detection, when no dz within the table's span is enough (a plateau as
/// long as the span), the capacity or `min_move_V` is not positive and finite, or the table not finite.
template <class Params>
double stuck_charge_Ah(const Params& p, double min_move_V = kStuckMinStep_V) {
  const double q = static_cast<double>(p.capacity_Ah);
  const double span = static_cast<double>(p.grid.soc[p.grid.n_soc - 1]) - static_cast<double>(p.grid.soc[0]);
  const double inf = std::numeric_limits<double>::infinity();
  if (!(q > 0.0) || !math::is_finite(q) || !(span > 0.0) || !(min_move_V > 0.0) || !math::is_finite(min_move_V)) {
    return inf;
  }
  if (!(detail::least_ocv_rise_V(p, span) >= min_move_V)) { return inf; }  // NaN: no detection either
  double a = 0.0;   // not enough
  double b = span;  // enough
  for (int k = 0; k < 40 && b - a > 1e-4 * span; ++k) {
    const double m = 0.5 * (a + b);
    if (detail::least_ocv_rise_V(p, m) >= min_move_V) { b = m; } else { a = m; }
  }
  return q * b;
}

/// The OCV's empty and full ends (V): the lowest at the first SOC breakpoint and the highest at the last, over the
/// temperature rows (the charge rule's regulated band).
template <class Params>
void ocv_ends_V(const Params& p, double& empty_V, double& full_V) {
  empty_V = std::numeric_limits<double>::infinity();
  full_V = -std::numeric_limits<double>::infinity();
  for (int it = 0; it < p.grid.n_temperature; ++it) {
    const double e = static_cast<double>(p.ocv_V.value[it][0]);
    const double f = static_cast<double>(p.ocv_V.value[it][p.grid.n_soc - 1]);
    empty_V = e < empty_V ? e : empty_V;
    full_V = f > full_V ? f : full_V;
  }
}

/// The run of identical voltage readings a previous call ended in (a log fed in pieces).
template <typename T>
struct StuckRun {
  T v = std::numeric_limits<T>::quiet_NaN();       ///< its reading (NaN: none)
  std::ptrdiff_t len = 0;                          ///< its length so far (samples)
  bool up = false, down = false;                   ///< current stepped up / down inside it
  bool pos = false, neg = false;                   ///< discharge / charge above the step inside it
  bool stuck = false;                              ///< already identified as stuck
  T prev_i = std::numeric_limits<T>::quiet_NaN();  ///< last finite current inside it
  // the charge rule (CS-CLK-010)
  double charge_As = 0.0;                          ///< charge counted inside it while beyond the rest threshold (A s)
  bool off_side = false;                           ///< a current at rest or of the other sign inside it
  double first_i = std::numeric_limits<double>::quiet_NaN();  ///< its first finite current (A)
  double prev_t = std::numeric_limits<double>::quiet_NaN();   ///< its last finite time (s)
  void reset() { *this = StuckRun{}; }
};


/// The charge rule's settings (CS-CLK-010): the threshold and the bounds a regulated phase sits at.
struct StuckCharge {
  double charge_Ah = std::numeric_limits<double>::infinity();  ///< stuck_charge_Ah() (+inf: the rule is off)
  double rest_A = 0.0;                                         ///< |i| at or below it is a rest (C/20): not counted
  double empty_V = -std::numeric_limits<double>::infinity();   ///< ocv_ends_V()'s empty end
  double full_V = std::numeric_limits<double>::infinity();     ///< ocv_ends_V()'s full end
};

/// The settings of the charge rule for a cell's parameters.
template <class Params>
StuckCharge stuck_charge_rule(const Params& p) {
  StuckCharge c;
  c.charge_Ah = stuck_charge_Ah(p);
  c.rest_A = static_cast<double>(p.capacity_Ah) / 20.0;
  ocv_ends_V(p, c.empty_V, c.full_V);
  return c;
}

/// Marks the samples of a log that lie in a stuck voltage reading by either rule (CS-CLK-007: the current's steps,
/// `step_A` = stuck_current_step_A(), +inf: off; CS-CLK-010: the charge, `time_s` the samples' times and `rule`
/// stuck_charge_rule(); null times or rule.charge_Ah = +inf: off): stuck[k] = 1 if sample k does, else 0, for k < n.
/// With both rules off nothing is marked, and an empty log ends the carried run. `run` carries a run across calls:
/// a run continuing from the previous call keeps its length, steps and charge (its samples before this call cannot
/// be re-labelled) and is updated to the run this call ends in.
template <typename T>
void mark_stuck_voltage(const T* voltage_V, const T* current_A, const double* time_s, std::ptrdiff_t n, T step_A,
                        const StuckCharge& rule, StuckRun<T>& run, unsigned char* stuck) {
  const double charge_Ah = rule.charge_Ah;
  const double rest_A = rule.rest_A;
  const bool by_charge = time_s != nullptr && charge_Ah < std::numeric_limits<double>::infinity();
  for (std::ptrdiff_t k = 0; k < n; ++k) { stuck[k] = 0; }
  if (n == 0 || (!(step_A < std::numeric_limits<T>::infinity()) && !by_charge)) {  // nothing to look at: no run carried on
    run.reset();
    return;
  }
  auto same = [](T a, T b) { return std::memcmp(&a, &b, sizeof a) == 0; };  // bit-identical readings
  std::ptrdiff_t k = 0;
  while (k < n) {
    const T vk = voltage_V[k];
    if (!math::is_finite(vk)) {
      run.reset();
      ++k;
      continue;
    }
    const bool carried = k == 0 && run.len > 0 && same(vk, run.v);
    std::ptrdiff_t len = carried ? run.len : 0;
    bool up = carried && run.up;
    bool down = carried && run.down;
    bool pos = carried && run.pos;
    bool neg = carried && run.neg;
    T prev_i = carried ? run.prev_i : std::numeric_limits<T>::quiet_NaN();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    double charge_As = carried ? run.charge_As : 0.0;
    bool off_side = carried && run.off_side;
    double first_i = carried ? run.first_i : nan;
    double prev_t = carried ? run.prev_t : nan;
    double last_i = nan;
    std::ptrdiff_t j = k;
    for (; j < n && same(voltage_V[j], vk); ++j) {
      const T i = current_A[j];
      if (by_charge) {
        const double t = time_s[j];
        const double id = static_cast<double>(i);
        if (math::is_finite(id)) {
          if (!math::is_finite(first_i)) { first_i = id; }
          // beyond the rest threshold and on the run's first side, else the charge rule does not apply to it
          if (!(id > rest_A || id < -rest_A) || id * first_i < 0.0) { off_side = true; }
          if (math::is_finite(t) && math::is_finite(prev_t) && t > prev_t) { charge_As += id * (t - prev_t); }
          last_i = id;
        }
        if (math::is_finite(t)) { prev_t = t; }
      }
      if (math::is_finite(i)) {
        const T di = i - prev_i;  // NaN on the run's first sample: no step into the run counts
        if (di > step_A) { up = true; }
        if (di < -step_A) { down = true; }
        if (i > step_A) { pos = true; }
        if (i < -step_A) { neg = true; }
        prev_i = i;
      }
      ++len;
    }
    const bool tapering = math::is_finite(last_i) && std::fabs(last_i) < kStuckTaper * std::fabs(first_i);
    const double vd = static_cast<double>(vk);
    const bool regulated = (first_i < 0.0 && vd >= rule.full_V - kStuckRegulatedBand_V) ||
                           (first_i > 0.0 && vd <= rule.empty_V + kStuckRegulatedBand_V);
    const bool by_charge_moved = by_charge && !off_side && !tapering && !regulated && len >= kStuckMinSamples &&
                                 std::fabs(charge_As) >= charge_Ah * 3600.0;
    const bool is_stuck =
        (carried && run.stuck) || (len >= kStuckMinSamples && up && down && pos && neg) || by_charge_moved;
    if (is_stuck) {
      for (std::ptrdiff_t m = carried ? k : k + 1; m < j; ++m) { stuck[m] = 1; }
    }
    run.v = vk;
    run.len = len;
    run.up = up;
    run.down = down;
    run.pos = pos;
    run.neg = neg;
    run.stuck = is_stuck;
    run.prev_i = prev_i;
    run.charge_As = charge_As;
    run.off_side = off_side;
    run.first_i = first_i;
    run.prev_t = prev_t;
    k = j;
  }
}

/// The current-step rule alone (CS-CLK-007), as above without times.
template <typename T>
void mark_stuck_voltage(const T* voltage_V, const T* current_A, std::ptrdiff_t n, T step_A, StuckRun<T>& run,
                        unsigned char* stuck) {
  mark_stuck_voltage(voltage_V, current_A, static_cast<const double*>(nullptr), n, step_A, StuckCharge{}, run, stuck);
}

}  // namespace cellsense
