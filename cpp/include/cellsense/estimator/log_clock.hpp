// SPDX-License-Identifier: Apache-2.0
// The log clock: the ONE rule that turns a log's timestamps into the dt each step takes.
//
// The estimators take dt, not time (the core has no clock). Whoever replays a log - the Python
// bindings' whole-log loop, the pack path and the replay link that feeds the firmware - turns the
// timestamps into dt through this class, so a cell and a pack see the same clock.
//
// Sample k at time t_k (s), the clock c (the latest finite time seen):
//   - the first finite t_k starts the clock: c = t_k, no step (status kStatusInitial); a non-finite t_k
//     before that cannot start it: no step (status kRejectedNonFinite);
//   - otherwise the sample is stepped with dt_k = t_k - c (ecm.hpp: sample k covers (t_{k-1}, t_k]),
//     and the clock advances, c = max(c, t_k), on every finite t_k, whatever the step's outcome:
//       * t_k NaN or +-Inf: dt_k is not finite, the step rejects it (kRejectedNonFinite), c stays;
//       * t_k = c (repeated) or t_k < c (backwards): dt_k <= 0, rejected (kRejectedDt);
//       * dt_k above the estimator's dt_max_s: rejected (kRejectedDtTooLarge), but the clock moved: the
//         next sample is stepped from t_k (a logger gap is not integrated as one long step). The gap is
//         handed to the caller with the next forward step (ClockTick::gap_s) so it can account for the
//         unlogged interval (the bindings widen the SOC variance; a pack's own GapConfig handles a gap
//         below dt_max_s by rest propagation, pack.hpp);
//   - the kReanchorAfter-th backwards timestamp in a row re-anchors the clock on itself: c = t_k, no
//     step (status kStatusClockReanchored). One or two out-of-order samples stay rejected; a third in a
//     row means the clock itself jumped (a glitch far into the future left c there, or the logger's
//     clock restarted), which would otherwise reject every later sample (issue #12 item 1).
// A non-finite time neither counts as backwards nor resets the count.
//
// Heap-free, no I/O; T is the scalar of the timestamps (double on the host: a float32 clock loses
// whole seconds after ~4.6 h of epoch-free time and every sample after ~194 days).
#pragma once

#include <cstdint>
#include <limits>

#include "cellsense/estimator/status.hpp"

namespace cellsense {

namespace detail {
/// Exactly IEEE finiteness (math::is_finite's +-3e38 bound would call a double time of 1e300 non-finite).
template <typename T>
constexpr bool finite_time(T v) {
  return v >= -std::numeric_limits<T>::max() && v <= std::numeric_limits<T>::max();
}
}  // namespace detail

/// What the log clock makes of one sample.
enum class ClockAction : std::uint8_t {
  kStart = 0,                  ///< the first finite time: the clock starts, no step (kStatusInitial)
  kStep = 1,                   ///< step with ClockTick::dt_s (its guards may reject it)
  kReanchor = 2,               ///< backwards kReanchorAfter times in a row: clock moved back, no step
  kNonFiniteBeforeStart = 3,   ///< a non-finite time before the clock started: no step (kRejectedNonFinite)
};

/// One sample's outcome of LogClock::tick().
template <typename T>
struct ClockTick {
  ClockAction action;
  T dt_s;   ///< kStep: t_k - clock (s; may be <= 0 or not finite: the step rejects it); NaN otherwise
  T gap_s;  ///< kStep: > 0 when a step rejected as too long precedes this first forward step (s); else 0

  /// True when the sample is stepped.
  constexpr bool steps() const { return action == ClockAction::kStep; }

  /// The status of a sample that is not stepped (kStart, kReanchor, kNonFiniteBeforeStart).
  constexpr std::uint8_t no_step_status() const {
    return action == ClockAction::kStart      ? kStatusInitial
           : action == ClockAction::kReanchor ? kStatusClockReanchored
                                              : static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite);
  }

  /// The tick as one number, the dt column of a pack run and of the replay link (hil/firmware/replay):
  /// NaN = no step; a step's dt, with a non-finite time's dt as +Inf (every step rejects it as non-finite,
  /// state unchanged, as the single-cell loop does) so that NaN keeps meaning "no step". A non-finite time
  /// before the clock started is such a step too (kRejectedNonFinite on every cell).
  T encoded_dt_s() const {
    if (action == ClockAction::kNonFiniteBeforeStart) { return std::numeric_limits<T>::infinity(); }
    if (action != ClockAction::kStep) { return std::numeric_limits<T>::quiet_NaN(); }
    return detail::finite_time(dt_s) ? dt_s : std::numeric_limits<T>::infinity();
  }
};

/// The log clock (see the header comment). A value type: copy it to save and restore a run's clock.
template <typename T>
class LogClock {
 public:
  /// Backwards timestamps in a row after which the clock re-anchors on the latest one.
  static constexpr int kReanchorAfter = 3;

  /// The clock of sample `time_s`. For a kStep tick call stepped() with the step's status afterwards.
  ClockTick<T> tick(T time_s) {
    const bool finite = detail::finite_time(time_s);
    if (!started_) {
      if (!finite) { return {ClockAction::kNonFiniteBeforeStart, std::numeric_limits<T>::quiet_NaN(), T(0)}; }
      started_ = true;
      last_time_s_ = time_s;
      backwards_ = 0;
      return {ClockAction::kStart, std::numeric_limits<T>::quiet_NaN(), T(0)};
    }
    const T dt = time_s - last_time_s_;
    T gap = T(0);
    if (finite) {
      if (dt < T(0)) {
        if (++backwards_ >= kReanchorAfter) {
          last_time_s_ = time_s;
          backwards_ = 0;
          pending_gap_s_ = T(0);  // the forward jump was a glitch, not elapsed time
          return {ClockAction::kReanchor, std::numeric_limits<T>::quiet_NaN(), T(0)};
        }
      } else {
        backwards_ = 0;
        if (dt > T(0) && pending_gap_s_ > T(0)) {
          gap = pending_gap_s_;
          pending_gap_s_ = T(0);
        }
      }
      if (time_s > last_time_s_) { last_time_s_ = time_s; }
    }
    return {ClockAction::kStep, dt, gap};
  }

  /// The outcome of a kStep tick's step: a step rejected as too long (a logger gap) is remembered and
  /// handed out with the next forward step (ClockTick::gap_s).
  void stepped(const ClockTick<T>& tick, std::uint8_t status) {
    if (status == static_cast<std::uint8_t>(StepStatus::kRejectedDtTooLarge) && detail::finite_time(tick.dt_s)) {
      pending_gap_s_ = tick.dt_s;
    }
  }

  bool started() const { return started_; }
  T last_time_s() const { return last_time_s_; }

  /// Restart the clock: the next finite time starts it.
  void reset() { *this = LogClock{}; }
  /// Continue from a known time (a saved run's last time); a non-finite time resets the clock.
  void set(T last_time_s) {
    *this = LogClock{};
    last_time_s_ = last_time_s;
    started_ = detail::finite_time(last_time_s);
  }

 private:
  T last_time_s_ = T(0);
  T pending_gap_s_ = T(0);  ///< a step rejected as too long, not yet followed by a forward step (s)
  int backwards_ = 0;       ///< backwards timestamps in a row
  bool started_ = false;
};

}  // namespace cellsense
