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
// No heap (the caller provides the output), no I/O.
#pragma once

#include <cstddef>
#include <cstring>
#include <limits>

#include "cellsense/math/matrix.hpp"

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

/// The run of identical voltage readings a previous call ended in (a log fed in pieces).
template <typename T>
struct StuckRun {
  T v = std::numeric_limits<T>::quiet_NaN();       ///< its reading (NaN: none)
  std::ptrdiff_t len = 0;                          ///< its length so far (samples)
  bool up = false, down = false;                   ///< current stepped up / down inside it
  bool pos = false, neg = false;                   ///< discharge / charge above the step inside it
  bool stuck = false;                              ///< already identified as stuck
  T prev_i = std::numeric_limits<T>::quiet_NaN();  ///< last finite current inside it
  void reset() { *this = StuckRun{}; }
};

/// Marks the samples of a log that lie in a stuck voltage reading: stuck[k] = 1 if sample k does, else 0,
/// for k < n. `step_A`: stuck_current_step_A() (not below +inf: nothing is marked, and an empty log or no
/// detection ends the carried run). `run` carries a run across calls: a run continuing from the previous call keeps its length and steps (its samples before this call
/// cannot be re-labelled) and is updated to the run this call ends in.
template <typename T>
void mark_stuck_voltage(const T* voltage_V, const T* current_A, std::ptrdiff_t n, T step_A, StuckRun<T>& run,
                        unsigned char* stuck) {
  for (std::ptrdiff_t k = 0; k < n; ++k) { stuck[k] = 0; }
  if (n == 0 || !(step_A < std::numeric_limits<T>::infinity())) {  // nothing to look at: no run carried on
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
    std::ptrdiff_t j = k;
    for (; j < n && same(voltage_V[j], vk); ++j) {
      const T i = current_A[j];
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
    const bool is_stuck = (carried && run.stuck) || (len >= kStuckMinSamples && up && down && pos && neg);
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
    k = j;
  }
}

}  // namespace cellsense
