// Unit tests: the log clock (estimator/log_clock.hpp), float and double: start, NaN / Inf timestamps,
// repeated and backwards time, re-anchor after three backwards samples, the gap hand-over, set/reset.
#include <cmath>
#include <limits>

#include "cellsense/estimator/log_clock.hpp"
#include "check.hpp"

using namespace cellsense;

namespace {

// verifies: CS-CLK-001
template <typename T>
void test_nan_time_is_one_rejected_step() {
  // t = [0, 1, NaN, 3, 4, 5]: initial, step 1, step NaN (rejected by the step), step 2, 1, 1
  LogClock<T> c;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T t[] = {T(0), T(1), nan, T(3), T(4), T(5)};
  ClockTick<T> k[6];
  for (int i = 0; i < 6; ++i) { k[i] = c.tick(t[i]); }
  CHECK_T(k[0].action == ClockAction::kStart && k[0].no_step_status() == kStatusInitial);
  CHECK_T(std::isnan(k[0].encoded_dt_s()));
  CHECK_T(k[1].steps() && k[1].dt_s == T(1));
  CHECK_T(k[2].steps() && std::isnan(k[2].dt_s) && std::isinf(k[2].encoded_dt_s()));
  CHECK_T(k[3].steps() && k[3].dt_s == T(2) && k[3].encoded_dt_s() == T(2));
  CHECK_T(k[4].dt_s == T(1) && k[5].dt_s == T(1));
  CHECK_T(c.last_time_s() == T(5));
}

// verifies: CS-CLK-002
template <typename T>
void test_nonfinite_before_start() {
  LogClock<T> c;
  const ClockTick<T> a = c.tick(std::numeric_limits<T>::infinity());
  CHECK_T(a.action == ClockAction::kNonFiniteBeforeStart && !c.started());
  CHECK_T(a.no_step_status() == static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite));
  CHECK_T(std::isinf(a.encoded_dt_s()));  // a step every cell rejects as non-finite
  CHECK_T(c.tick(T(7)).action == ClockAction::kStart && c.started() && c.last_time_s() == T(7));
}

// verifies: CS-CLK-003
template <typename T>
void test_backwards_and_reanchor() {
  LogClock<T> c;
  c.tick(T(0));
  CHECK_T(c.tick(T(1)).dt_s == T(1));
  const ClockTick<T> glitch = c.tick(T(1e6));  // forward glitch: the clock moves there
  CHECK_T(glitch.steps() && glitch.dt_s == T(1e6) - T(1));
  const ClockTick<T> b1 = c.tick(T(3));
  const ClockTick<T> b2 = c.tick(T(4));
  CHECK_T(b1.steps() && b1.dt_s < T(0) && b2.steps() && b2.dt_s < T(0));
  const ClockTick<T> b3 = c.tick(T(5));  // the third backwards time in a row re-anchors
  CHECK_T(b3.action == ClockAction::kReanchor && b3.no_step_status() == kStatusClockReanchored);
  CHECK_T(std::isnan(b3.encoded_dt_s()) && c.last_time_s() == T(5));
  CHECK_T(c.tick(T(6)).dt_s == T(1));
  // one or two out-of-order samples stay rejected steps; a forward one resets the count
  CHECK_T(c.tick(T(6)).dt_s == T(0));
  CHECK_T(c.tick(T(5.5)).dt_s < T(0));
  CHECK_T(c.tick(T(7)).dt_s == T(1));
  CHECK_T(c.tick(T(6.5)).steps() && c.tick(T(6.6)).steps() && c.tick(T(8)).steps());
  // a NaN between backwards samples neither counts nor resets
  c.tick(T(1));
  c.tick(std::numeric_limits<T>::quiet_NaN());
  c.tick(T(2));
  CHECK_T(c.tick(T(3)).action == ClockAction::kReanchor);
}

// verifies: CS-CLK-004
template <typename T>
void test_gap_handover() {
  LogClock<T> c;
  c.tick(T(0));
  const ClockTick<T> g = c.tick(T(5000));
  CHECK_T(g.steps() && g.gap_s == T(0));
  c.stepped(g, static_cast<std::uint8_t>(StepStatus::kRejectedDtTooLarge));
  const ClockTick<T> same = c.tick(T(5000));  // dt 0: not a forward step, gap kept
  CHECK_T(same.gap_s == T(0));
  const ClockTick<T> next = c.tick(T(5001));
  CHECK_T(next.dt_s == T(1) && next.gap_s == T(5000));
  CHECK_T(c.tick(T(5002)).gap_s == T(0));  // handed out once
  // a re-anchor cancels a pending gap (the jump was a glitch)
  const ClockTick<T> g2 = c.tick(T(9000));
  c.stepped(g2, static_cast<std::uint8_t>(StepStatus::kRejectedDtTooLarge));
  c.tick(T(1));
  c.tick(T(2));
  CHECK_T(c.tick(T(3)).action == ClockAction::kReanchor);
  CHECK_T(c.tick(T(4)).gap_s == T(0));
}

// verifies: CS-CLK-005
template <typename T>
void test_set_and_reset() {
  LogClock<T> c;
  c.set(T(100));
  CHECK_T(c.started() && c.tick(T(101)).dt_s == T(1));
  c.set(std::numeric_limits<T>::quiet_NaN());
  CHECK_T(!c.started() && c.tick(T(3)).action == ClockAction::kStart);
  c.reset();
  CHECK_T(!c.started());
}

}  // namespace

int main() {
  test_nan_time_is_one_rejected_step<float>();
  test_nan_time_is_one_rejected_step<double>();
  test_nonfinite_before_start<float>();
  test_nonfinite_before_start<double>();
  test_backwards_and_reanchor<float>();
  test_backwards_and_reanchor<double>();
  test_gap_handover<float>();
  test_gap_handover<double>();
  test_set_and_reset<float>();
  test_set_and_reset<double>();
  return cstest::finish("test_log_clock");
}
