// SPDX-License-Identifier: Apache-2.0
// State of power and energy (docs/power.md): from the estimator's current state, the largest constant
// discharge and charge current the cell can carry for the next `horizon_s` seconds without leaving its
// voltage window, its SOC window or its current rating; the matching power; the energy left to the
// discharge cut-off at a constant power, time to empty and time to full, each with its uncertainty.
//
// Method: Plett, "High-performance battery-pack power estimation using a dynamic cell model", IEEE Trans.
// Veh. Technol. 53(5), 2004, sec. III (the "dynamic" method): the cell model is run forward over the horizon
// with a constant current i, and the largest |i| whose predicted terminal voltage stays within the cut-offs
// is found. Here the model's own exact discretisation over one step of length horizon_s is used
// (model.prepare(x, aux, horizon_s, i, T) then predict and measure: RC voltages a v + R (1 - a) i with
// a = exp(-horizon / tau), SOC z - eta i horizon / (3600 Q), the hysteresis state likewise); v(horizon)
// decreases monotonically with i for the ECM (every term is linear or, for the hysteresis, monotone in i). For
// the ECM the step is prepared once per horizon (prepare_horizon) and each trial current only sets the
// current's part (set_step_current): the limit is bracketed and closed by a safeguarded secant on each
// constraint's margin (limit_direct); for other models by bisection (limit_one, power_limits_bisection). The
// voltage is checked at both ends of the horizon: at its start (RC voltages as now, the R0 drop applied) and
// at its end.
// Conservative option (Plett 2004, sec. III-C): the SOC is taken k_soc sigma towards the limit (lower for
// discharge, higher for charge), and the cut-offs are tightened by k_v times the voltage model's one-sample
// error sigma at that current (Estimator::measurement_variance with no correlation scaling), so the limit is
// one the cell can deliver when the model is as wrong as its own error budget says.
// Energy: quasi-static discharge at constant power P (RC voltages at their steady state R_j i, hysteresis at
// its discharge branch h = -1), integrated in SOC from the (conservative) SOC down to soc_min or to the
// voltage cut-off, E = Q sum v dz (midpoint rule over kEnergySteps steps), i solving i v(z, i) = P by a
// fixed-point iteration; time to empty E / P. Time to full at a constant charge current I: (soc_max - z) 3600
// Q / (eta I) (constant-current phase only: the constant-voltage tail is not modelled). Uncertainties from the
// SOC sigma: half the difference of the result at z + sigma and z - sigma.
// No heap, no exceptions, no I/O; failures are a status. Conventions: current + = discharge; every limit
// is reported as a positive magnitude.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "cellsense/math/exp.hpp"
#include "cellsense/math/log.hpp"
#include "cellsense/math/matrix.hpp"
#include "cellsense/math/table.hpp"

namespace cellsense {
namespace power {

/// What a power calculation returns.
enum class PowerStatus : std::uint8_t {
  kOk = 0,
  kNotInitialised = 1,   ///< the estimator is not initialised
  kBadConfig = 2,        ///< a setting is out of range (PowerConfig::valid)
  kBadInput = 3,         ///< temperature or power not finite / out of range
};

/// Which constraint set a limit.
enum class LimitedBy : std::uint8_t {
  kVoltage = 0,   ///< the predicted terminal voltage reaches the cut-off
  kSoc = 1,       ///< the SOC would leave [soc_min, soc_max] within the horizon
  kCurrent = 2,   ///< the cell's current rating
  kNone = 3,      ///< no current is possible (the cell is already at or beyond a limit): the limit is 0
  kTransport = 4, ///< the transport (Sand) limit K(SOC) / sqrt(horizon) of PowerConfig's transport table
};

constexpr const char* limited_by_name(LimitedBy l) {
  return l == LimitedBy::kVoltage   ? "voltage"
         : l == LimitedBy::kSoc     ? "soc"
         : l == LimitedBy::kCurrent ? "current"
         : l == LimitedBy::kTransport ? "transport"
                                      : "none";
}

/// Which PowerConfig setting is out of range (PowerConfig::check): the one rule, named, that the C API
/// (CS_POWER_BAD_CONFIG), the bindings and cellsense.power.PowerSettings report.
enum class PowerConfigIssue : std::uint8_t {
  kOk = 0,
  kHorizon = 1,          ///< horizon_s outside (0, 86400] s
  kVoltageWindow = 2,    ///< voltage_min_V / voltage_max_V not finite, or min not below max
  kSocWindow = 3,        ///< soc_min / soc_max not finite, or min not below max
  kDischargeRating = 4,  ///< discharge_current_max_A outside (0, 1e6] A
  kChargeRating = 5,     ///< charge_current_max_A outside (0, 1e6] A
  kSocSigmaK = 6,        ///< soc_sigma_k outside [0, 10]
  kVoltageSigmaK = 7,    ///< voltage_sigma_k outside [0, 10]
  kDeratingCount = 8,    ///< derating_count outside [0, kMaxDeratingPoints]
  kDeratingTemperature = 9,      ///< a derating breakpoint outside [-100, 200] degC, or not strictly increasing
  kDeratingDischargeFactor = 10, ///< a discharge derating factor outside [0, 1]
  kDeratingChargeFactor = 11,    ///< a charge derating factor outside [0, 1]
  kOverpotentialCount = 12,        ///< overpotential_count outside [0, kMaxOverpotentialPoints]
  kOverpotentialTemperature = 13,  ///< an overpotential breakpoint outside [-100, 200] degC, or not strictly increasing
  kOverpotentialCurrent = 14,      ///< an overpotential reference current outside [1e-3, 1e6] A
  kTransportCount = 15,            ///< transport_count outside [0, kMaxTransportPoints]
  kTransportSoc = 16,              ///< a transport SOC breakpoint outside [-0.5, 1.5], or not strictly increasing
  kTransportLimit = 17,            ///< a transport limit outside (0, 1e7] A s^0.5
  kTransportSlope = 18,            ///< a transport slope outside [-100, 100] s^0.5
  kOverpotentialChargeCurrent = 19,  ///< a charge reference current outside [1e-3, 1e6] A (or 0 at every breakpoint)
  kTransportCharge = 20,             ///< a charge transport limit outside (0, 1e7] A s^0.5 (or 0 at every breakpoint),
                                     ///< or its slope outside [-100, 100] s^0.5
};

/// Most breakpoints of a PowerConfig's temperature derating table.
constexpr int kMaxDeratingPoints = 6;
/// Most breakpoints of a PowerConfig's overpotential reference-current table (one per temperature row of a cell
/// file: model::EcmParams' MaxTemp).
constexpr int kMaxOverpotentialPoints = 8;
/// Most breakpoints of a PowerConfig's transport-limit table (over SOC).
constexpr int kMaxTransportPoints = 8;

/// The PowerConfig field(s) an issue is about (their names: the C struct's and the settings dict's keys).
constexpr const char* power_config_field(PowerConfigIssue i) {
  switch (i) {
    case PowerConfigIssue::kOk: return "";
    case PowerConfigIssue::kHorizon: return "horizon_s";
    case PowerConfigIssue::kVoltageWindow: return "voltage_min_V/voltage_max_V";
    case PowerConfigIssue::kSocWindow: return "soc_min/soc_max";
    case PowerConfigIssue::kDischargeRating: return "discharge_current_max_A";
    case PowerConfigIssue::kChargeRating: return "charge_current_max_A";
    case PowerConfigIssue::kSocSigmaK: return "soc_sigma_k";
    case PowerConfigIssue::kVoltageSigmaK: return "voltage_sigma_k";
    case PowerConfigIssue::kDeratingCount: return "derating_count";
    case PowerConfigIssue::kDeratingTemperature: return "derating_temperature_degC";
    case PowerConfigIssue::kDeratingDischargeFactor: return "derating_discharge_factor";
    case PowerConfigIssue::kDeratingChargeFactor: return "derating_charge_factor";
    case PowerConfigIssue::kOverpotentialCount: return "overpotential_count";
    case PowerConfigIssue::kOverpotentialTemperature: return "overpotential_temperature_degC";
    case PowerConfigIssue::kOverpotentialCurrent: return "overpotential_current_A";
    case PowerConfigIssue::kTransportCount: return "transport_count";
    case PowerConfigIssue::kTransportSoc: return "transport_soc";
    case PowerConfigIssue::kTransportLimit: return "transport_limit_A_sqrt_s";
    case PowerConfigIssue::kTransportSlope: return "transport_slope_sqrt_s";
    case PowerConfigIssue::kOverpotentialChargeCurrent: return "overpotential_charge_current_A";
    case PowerConfigIssue::kTransportCharge: return "transport_charge_limit_A_sqrt_s/transport_charge_slope_sqrt_s";
  }
  return "unknown";
}

/// The rule an issue breaks, in words (the bounds PowerConfig::check applies).
constexpr const char* power_config_message(PowerConfigIssue i) {
  switch (i) {
    case PowerConfigIssue::kOk: return "ok";
    case PowerConfigIssue::kHorizon: return "horizon_s must be in (0, 86400] s";
    case PowerConfigIssue::kVoltageWindow: return "voltage_min_V must be below voltage_max_V, both finite";
    case PowerConfigIssue::kSocWindow: return "soc_min must be below soc_max, both finite";
    case PowerConfigIssue::kDischargeRating:
      return "discharge_current_max_A must be in (0, 1e6] A (a positive magnitude)";
    case PowerConfigIssue::kChargeRating: return "charge_current_max_A must be in (0, 1e6] A (a positive magnitude)";
    case PowerConfigIssue::kSocSigmaK: return "soc_sigma_k must be in [0, 10]";
    case PowerConfigIssue::kVoltageSigmaK: return "voltage_sigma_k must be in [0, 10]";
    case PowerConfigIssue::kDeratingCount: return "derating_count must be in [0, 6] (0: no derating)";
    case PowerConfigIssue::kDeratingTemperature:
      return "derating_temperature_degC must be strictly increasing, each in [-100, 200] degC";
    case PowerConfigIssue::kDeratingDischargeFactor: return "derating_discharge_factor must be in [0, 1] at every breakpoint";
    case PowerConfigIssue::kDeratingChargeFactor: return "derating_charge_factor must be in [0, 1] at every breakpoint";
    case PowerConfigIssue::kOverpotentialCount: return "overpotential_count must be in [0, 8] (0: overpotential linear in the current)";
    case PowerConfigIssue::kOverpotentialTemperature:
      return "overpotential_temperature_degC must be strictly increasing, each in [-100, 200] degC";
    case PowerConfigIssue::kOverpotentialCurrent:
      return "overpotential_current_A must be in [1e-3, 1e6] A at every breakpoint";
    case PowerConfigIssue::kTransportCount: return "transport_count must be in [0, 8] (0: no transport limit)";
    case PowerConfigIssue::kTransportSoc: return "transport_soc must be strictly increasing, each in [-0.5, 1.5]";
    case PowerConfigIssue::kTransportLimit:
      return "transport_limit_A_sqrt_s must be in (0, 1e7] A s^0.5 at every breakpoint";
    case PowerConfigIssue::kTransportSlope:
      return "transport_slope_sqrt_s must be in [-100, 100] s^0.5 at every breakpoint";
    case PowerConfigIssue::kOverpotentialChargeCurrent:
      return "overpotential_charge_current_A must be 0 at every breakpoint (charge linear) or in [1e-3, 1e6] A at every one";
    case PowerConfigIssue::kTransportCharge:
      return "transport_charge_limit_A_sqrt_s must be 0 at every breakpoint (no charge cap) or in (0, 1e7] A s^0.5 at "
             "every one, transport_charge_slope_sqrt_s in [-100, 100] s^0.5 (0 without the cap)";
  }
  return "unknown";
}

/// Settings of one power-limit calculation.
template <typename T>
struct PowerConfig {
  T horizon_s = T(10);              ///< how long the constant current must be sustained (s), (0, 86400]
  T voltage_min_V = T(2.5);         ///< discharge cut-off (V)
  T voltage_max_V = T(4.2);         ///< charge cut-off (V)
  T soc_min = T(0);                 ///< SOC the discharge may not go below within the horizon (1)
  T soc_max = T(1);                 ///< SOC the charge may not go above within the horizon (1)
  T discharge_current_max_A = T(0); ///< discharge current rating, positive (A); > 0
  T charge_current_max_A = T(0);    ///< charge current rating, positive magnitude (A); > 0
  T soc_sigma_k = T(0);             ///< conservative: SOC taken this many sigma towards the limit (0: nominal)
  T voltage_sigma_k = T(0);         ///< conservative: cut-offs tightened by this many model-error sigma (0: nominal)
  /// Temperature derating of the two ratings (a cell datasheet's continuous current vs temperature, issue #15:
  /// "the cell's current and temperature-dependent limits"): the rating at the cell temperature T is
  /// rating x factor(T), factor piecewise-linear in T between the first derating_count breakpoints and held at the
  /// end values beyond them. 0 (default): no derating, the ratings as given.
  int derating_count = 0;
  T derating_temperature_degC[kMaxDeratingPoints] = {};  ///< breakpoints (degC), strictly increasing, [-100, 200]
  T derating_discharge_factor[kMaxDeratingPoints] = {};  ///< discharge rating factor at each breakpoint, [0, 1]
  T derating_charge_factor[kMaxDeratingPoints] = {};     ///< charge rating factor at each breakpoint, [0, 1]
  /// Current-dependent overpotential of the horizon prediction (docs/power.md "Current-dependent overpotential"):
  /// with overpotential_count >= 1 the resistive terms of the prediction (R0 and every RC pair's input) see the
  /// overpotential of a symmetric Butler-Volmer charge transfer, R I_ref asinh(i / I_ref), instead of R i, I_ref at
  /// the cell temperature piecewise-linear between the breakpoints and held beyond them (a cell file's
  /// "Overpotential reference current [A]", identified from the HPPC's pulse amplitudes). Used by power_limits() only;
  /// the filter's model is not changed. 0 (default): the resistances as the tables, the limits bit for bit as before.
  int overpotential_count = 0;
  T overpotential_temperature_degC[kMaxOverpotentialPoints] = {};  ///< breakpoints (degC), strictly increasing
  T overpotential_current_A[kMaxOverpotentialPoints] = {};         ///< I_ref at each breakpoint (A), [1e-3, 1e6]
  /// I_ref of the charge direction at each breakpoint (A), [1e-3, 1e6]; 0 at every breakpoint (default): the charge
  /// limits keep R i (a table identified on discharge pulses only must not raise a charge limit: plating)
  T overpotential_charge_current_A[kMaxOverpotentialPoints] = {};
  /// Transport limit of the discharge current (docs/power.md "Transport limit"): a constant current i drives the
  /// cell to its cut-off once the concentration at the particle and electrolyte interfaces is exhausted, at a time t
  /// with i sqrt(t) = K (Sand's law of semi-infinite diffusion: Sand, Phil. Mag. 1 (1901) 45; Bard & Faulkner,
  /// "Electrochemical Methods", 2nd ed., 2001, eq. 8.2.14). K grows a little with the current (the ohmic drop brings
  /// the cut-off earlier at lower currents): i sqrt(t) = K0 + c i, so over a horizon H the discharge current is at
  /// most K0 / (sqrt(H) - c) (none where sqrt(H) <= c), K0 and c piecewise-linear in the horizon's start SOC between
  /// the breakpoints and held beyond them (a cell file's "Transport limit [SOC, A.s^0.5, s^0.5]", identified from
  /// constant-current pulses to the cut-off). The linear model has no such limit: its 30 s limit at high rates was
  /// 20-57 % above the DFN's. 0 (default): none.
  int transport_count = 0;
  T transport_soc[kMaxTransportPoints] = {};             ///< SOC breakpoints, strictly increasing, [-0.5, 1.5]
  T transport_limit_A_sqrt_s[kMaxTransportPoints] = {};  ///< K0 at each breakpoint (A s^0.5), (0, 1e7]
  T transport_slope_sqrt_s[kMaxTransportPoints] = {};    ///< c at each breakpoint (s^0.5), [-100, 100]
  /// The charge direction's K0 and c at the same SOC breakpoints (charge pulses from rest to the upper cut-off); 0 at
  /// every breakpoint (default): no charge cap
  T transport_charge_limit_A_sqrt_s[kMaxTransportPoints] = {};
  T transport_charge_slope_sqrt_s[kMaxTransportPoints] = {};

  /// The first setting out of range, kOk if none (NaN fails every bound).
  PowerConfigIssue check() const {
    if (!horizon_ok(horizon_s)) { return PowerConfigIssue::kHorizon; }
    return check_settings();
  }
  /// A horizon (s) the limits are computed for: (0, 1 day] (NaN fails).
  static bool horizon_ok(T h) { return h > T(0) && h <= T(86400); }
  bool valid() const { return check() == PowerConfigIssue::kOk; }

  /// check() without the horizon (power_limits_horizons: the horizons are given apart).
  PowerConfigIssue check_settings() const {
    const T big = T(3.0e38);
    auto fin = [big](T v) { return v >= -big && v <= big; };
    if (!(fin(voltage_min_V) && fin(voltage_max_V) && voltage_min_V < voltage_max_V)) {
      return PowerConfigIssue::kVoltageWindow;
    }
    if (!(fin(soc_min) && fin(soc_max) && soc_min < soc_max)) { return PowerConfigIssue::kSocWindow; }
    if (!(discharge_current_max_A > T(0) && discharge_current_max_A <= T(1.0e6))) {
      return PowerConfigIssue::kDischargeRating;
    }
    if (!(charge_current_max_A > T(0) && charge_current_max_A <= T(1.0e6))) { return PowerConfigIssue::kChargeRating; }
    if (!(soc_sigma_k >= T(0) && soc_sigma_k <= T(10))) { return PowerConfigIssue::kSocSigmaK; }
    if (!(voltage_sigma_k >= T(0) && voltage_sigma_k <= T(10))) { return PowerConfigIssue::kVoltageSigmaK; }
    const PowerConfigIssue derating = check_derating();
    if (derating != PowerConfigIssue::kOk) { return derating; }
    const PowerConfigIssue over = check_overpotential();
    return over != PowerConfigIssue::kOk ? over : check_transport();
  }

  /// The transport table's rules (check()): only the first transport_count entries are read.
  PowerConfigIssue check_transport() const {
    const TableRule rule = check_breakpoints(transport_soc, transport_count, T(-0.5), T(1.5));
    if (rule == TableRule::kCount) { return PowerConfigIssue::kTransportCount; }
    if (rule == TableRule::kTemperature) { return PowerConfigIssue::kTransportSoc; }
    for (int k = 0; k < transport_count; ++k) {
      const T a = transport_limit_A_sqrt_s[k];
      if (!(a > T(0) && a <= T(1.0e7))) { return PowerConfigIssue::kTransportLimit; }
    }
    for (int k = 0; k < transport_count; ++k) {
      const T c = transport_slope_sqrt_s[k];
      if (!(c >= T(-100) && c <= T(100))) { return PowerConfigIssue::kTransportSlope; }
    }
    // the charge columns: all zeros (no charge cap; exactly 0, NaN is not) or every K0 in range, decided by the first
    const bool charge = transport_count > 0 && transport_charge_limit_A_sqrt_s[0] > T(0);
    for (int k = 0; k < transport_count; ++k) {
      const T a = transport_charge_limit_A_sqrt_s[k];
      const T c = transport_charge_slope_sqrt_s[k];
      const bool ok = charge ? (a > T(0) && a <= T(1.0e7) && c >= T(-100) && c <= T(100))
                             : (a >= T(0) && a <= T(0) && c >= T(0) && c <= T(0));
      if (!ok) { return PowerConfigIssue::kTransportCharge; }
    }
    return PowerConfigIssue::kOk;
  }

  /// The transport limit of the discharge current over a horizon of h_s from SOC `soc` (A): K0(soc) / (sqrt(h_s) -
  /// c(soc)) (Sand's law with its current term, above); 3e38 (none) without the table or where sqrt(h_s) <= c. sqrt
  /// is IEEE correctly rounded (no libm transcendental).
  T transport_cap_A(T soc, T h_s) const {
    if (transport_count == 0) { return T(3.0e38); }
    return sand_cap(transport_limit_A_sqrt_s, transport_slope_sqrt_s, soc, h_s);
  }
  /// The same for the charge direction (A, magnitude): its own K0 and c; 3e38 (none) without the charge columns.
  T transport_charge_cap_A(T soc, T h_s) const {
    if (transport_count == 0 || !(transport_charge_limit_A_sqrt_s[0] > T(0))) { return T(3.0e38); }
    return sand_cap(transport_charge_limit_A_sqrt_s, transport_charge_slope_sqrt_s, soc, h_s);
  }
  /// K0(soc) / (sqrt(h_s) - c(soc)) from one pair of columns over transport_soc; 3e38 where sqrt(h_s) <= c.
  T sand_cap(const T (&k0)[kMaxTransportPoints], const T (&c)[kMaxTransportPoints], T soc, T h_s) const {
    const T d = std::sqrt(h_s) - table_at(transport_soc, c, transport_count, soc);
    if (!(d > T(0))) { return T(3.0e38); }
    // K0 <= 1e7 and d >= an ulp of sqrt(h_s) > 0: the quotient stays far below 3e38 (float: below 1e14)
    return table_at(transport_soc, k0, transport_count, soc) / d;
  }

  /// The overpotential table's rules (check()): only the first overpotential_count entries are read.
  PowerConfigIssue check_overpotential() const {
    const TableRule rule = check_breakpoints(overpotential_temperature_degC, overpotential_count, T(-100), T(200));
    if (rule == TableRule::kCount) { return PowerConfigIssue::kOverpotentialCount; }
    if (rule == TableRule::kTemperature) { return PowerConfigIssue::kOverpotentialTemperature; }
    for (int k = 0; k < overpotential_count; ++k) {
      const T a = overpotential_current_A[k];
      if (!(a >= T(1.0e-3) && a <= T(1.0e6))) { return PowerConfigIssue::kOverpotentialCurrent; }
    }
    // the charge column is all zeros (off; exactly 0, NaN is not) or all in range, decided by its first entry
    const bool charge = overpotential_count > 0 && overpotential_charge_current_A[0] > T(0);
    for (int k = 0; k < overpotential_count; ++k) {
      const T a = overpotential_charge_current_A[k];
      if (charge ? !(a >= T(1.0e-3) && a <= T(1.0e6)) : !(a >= T(0) && a <= T(0))) {
        return PowerConfigIssue::kOverpotentialChargeCurrent;
      }
    }
    return PowerConfigIssue::kOk;
  }

  /// I_ref of the charge direction at the cell temperature (A); 0 without a charge table (the charge keeps R i).
  T overpotential_charge_reference_A(T temperature_degC) const {
    if (overpotential_count == 0 || !(overpotential_charge_current_A[0] > T(0))) { return T(0); }
    return table_at(overpotential_temperature_degC, overpotential_charge_current_A, overpotential_count,
                    temperature_degC);
  }

  /// Which rule of a table's breakpoints is broken (check_breakpoints).
  enum class TableRule { kOk, kCount, kTemperature };
  /// The breakpoint rule the derating, overpotential and transport tables share: a count in [0, M] and, of the first
  /// n breakpoints, each within [lo, hi] and above the one before (NaN fails; kTemperature names the breakpoints).
  template <int M>
  static TableRule check_breakpoints(const T (&t)[M], int n, T lo, T hi) {
    if (!(n >= 0 && n <= M)) { return TableRule::kCount; }
    for (int k = 0; k < n; ++k) {
      if (!(t[k] >= lo && t[k] <= hi && (k == 0 || t[k] > t[k - 1]))) { return TableRule::kTemperature; }
    }
    return TableRule::kOk;
  }

  /// I_ref at the cell temperature (A); 0 without the table (overpotential linear in the current). Piecewise-linear
  /// between the breakpoints, held at the end values beyond them (as derating_factor; no libm).
  T overpotential_reference_A(T temperature_degC) const {
    if (overpotential_count == 0) { return T(0); }
    return table_at(overpotential_temperature_degC, overpotential_current_A, overpotential_count, temperature_degC);
  }

  /// The derating table's rules (check()): only the first derating_count entries are read.
  PowerConfigIssue check_derating() const {
    const TableRule rule = check_breakpoints(derating_temperature_degC, derating_count, T(-100), T(200));
    if (rule == TableRule::kCount) { return PowerConfigIssue::kDeratingCount; }
    if (rule == TableRule::kTemperature) { return PowerConfigIssue::kDeratingTemperature; }
    for (int k = 0; k < derating_count; ++k) {
      const T f = derating_discharge_factor[k];
      if (!(f >= T(0) && f <= T(1))) { return PowerConfigIssue::kDeratingDischargeFactor; }
    }
    for (int k = 0; k < derating_count; ++k) {
      const T f = derating_charge_factor[k];
      if (!(f >= T(0) && f <= T(1))) { return PowerConfigIssue::kDeratingChargeFactor; }
    }
    return PowerConfigIssue::kOk;
  }

  /// The discharge rating at the cell temperature (A): discharge_current_max_A x the derating factor.
  T discharge_rating_A(T temperature_degC) const {
    return derating_count == 0 ? discharge_current_max_A
                               : discharge_current_max_A * derating_factor(derating_discharge_factor, temperature_degC);
  }
  /// The charge rating at the cell temperature (A, magnitude): charge_current_max_A x the derating factor.
  T charge_rating_A(T temperature_degC) const {
    return derating_count == 0 ? charge_current_max_A
                               : charge_current_max_A * derating_factor(derating_charge_factor, temperature_degC);
  }

  /// The factor at T from one factor column (derating_count >= 1): piecewise-linear between the breakpoints,
  /// f = f_{k-1} + (f_k - f_{k-1}) (T - T_{k-1}) / (T_k - T_{k-1}) on [T_{k-1}, T_k], held at f_0 below T_0 and at
  /// f_{n-1} above T_{n-1} (a datasheet's derating curve read as its corner points; no libm).
  T derating_factor(const T (&f)[kMaxDeratingPoints], T temperature_degC) const {
    return table_at(derating_temperature_degC, f, derating_count, temperature_degC);
  }

  /// A column v over the breakpoints t (n >= 1, strictly increasing) at x: v_{k-1} + (v_k - v_{k-1})
  /// (x - t_{k-1}) / (t_k - t_{k-1}) on [t_{k-1}, t_k], held at v_0 below t_0 and at v_{n-1} above t_{n-1} (the
  /// derating factors and the overpotential's I_ref over temperature, the transport limit over SOC; no libm).
  template <int M>
  static T table_at(const T (&t)[M], const T (&v)[M], int n, T x) {
    // t and v are members of M >= 1 entries and every caller passes n >= 1 (the count checked before the call):
    // cppcheck 2.10's whole-program analysis reports t[0] out of bounds here (docs/safety.md)
    // cppcheck-suppress ctuArrayIndex
    if (!(x > t[0])) { return v[0]; }
    for (int k = 1; k < n; ++k) {
      if (x <= t[k]) { return v[k - 1] + (v[k] - v[k - 1]) * ((x - t[k - 1]) / (t[k] - t[k - 1])); }
    }
    return v[n - 1];
  }
};

/// The limits for one horizon. Currents and powers are positive magnitudes.
template <typename T>
struct PowerLimits {
  T discharge_current_A;   ///< largest constant discharge current over the horizon (A)
  T charge_current_A;      ///< largest constant charge current over the horizon (A, magnitude)
  T discharge_power_W;     ///< discharge_current_A x the predicted voltage at the horizon's end (W)
  T charge_power_W;        ///< charge_current_A x the predicted voltage at the horizon's end (W)
  T discharge_voltage_V;   ///< predicted terminal voltage at the horizon's end at the discharge limit (V)
  T charge_voltage_V;      ///< the same at the charge limit (V)
  LimitedBy discharge_limited_by;
  LimitedBy charge_limited_by;
};

/// Remaining energy at a constant discharge power, and the times.
template <typename T>
struct EnergyEstimate {
  T energy_Wh;             ///< energy to the discharge cut-off (or soc_min) at the power asked (W h)
  T energy_sigma_Wh;       ///< its 1 sigma from the SOC sigma (W h)
  T time_to_empty_s;       ///< energy_Wh x 3600 / power (s)
  T time_to_empty_sigma_s; ///< its 1 sigma (s)
};

/// Steps of the energy integral in SOC.
constexpr int kEnergySteps = 64;
/// Bisection steps of the current limit (the general method): 2^-32 of the rating, below float32's resolution.
constexpr int kBisectionSteps = 32;
/// The ECM's direct solve (detail::EcmHorizon): it stops when the bracket [lo, hi] around the limit is at most
/// hi x 2^-22 (double) / 2^-20 (float: 8 ulps) wide, or after this many model evaluations inside the bracket.
constexpr int kSolveSteps = 48;

namespace detail {

/// The chord factor of a symmetric Butler-Volmer overpotential (PowerConfig::overpotential_count): with the
/// charge-transfer overpotential eta(i) = R I_ref asinh(i / I_ref) (Butler-Volmer with transfer coefficients
/// 1/2, i = 2 i0 sinh(eta / (2 R i0)) solved for eta, R the small-signal resistance and I_ref = 2 i0 its
/// linear range: Bard & Faulkner, "Electrochemical Methods", 2nd ed., Wiley 2001, eq. 3.4.11 with alpha = 1/2;
/// Plett, "Battery Management Systems, Vol. I", Artech House 2015, sec. 3.10), eta(i) = R i f(i) with
/// f(i) = asinh(u) / u, u = |i| / I_ref: 1 at i = 0, falling with |i| (f(I_ref) = 0.881, f(5 I_ref) = 0.462).
/// Below u = 2^-8 the series 1 - u^2/6 + 3 u^4/40 (truncation below 5 u^6/112 < 2^-49 relative), else
/// math::asinh (library arithmetic, 4 ulp: no libm, host and Cortex-M the same bits).
template <typename T>
T overpotential_factor(T current_A, T reference_A) {
  const T u = (current_A < T(0) ? -current_A : current_A) / reference_A;
  if (u < T(0.00390625)) {
    const T u2 = u * u;
    return T(1) - u2 * (T(1) / T(6) - u2 * (T(3) / T(40)));
  }
  return math::asinh(u) / u;
}

template <class M, class = void>
struct HasDirectSolve;

/// The ECM's horizon end with R0 and the RC inputs at their chord resistance (overpotential_factor f; the
/// Predictor and EcmHorizon paths of the overpotential table): the step's b_j x f, then the voltage with R0 x f.
/// Writes the end state; returns the end voltage (V).
template <class Model>
typename Model::Scalar end_at_chord(const Model& m, const typename Model::Step& s, const typename Model::State& x,
                                    typename Model::Scalar f, typename Model::State& xe) {
  auto sf = s;
  for (auto& b : sf.b_rc) { b = b * f; }
  xe = m.predict(sf, x);
  auto mp = m.measure_point(sf, xe(Model::Idx::soc, 0));
  mp.r0_Ohm = mp.r0_Ohm * f;
  return m.measure_at(sf, mp, xe);
}
/// The start voltage with R0 x f: the measurement point `mp0` at the start with its R0 scaled.
template <class Model, class Point>
typename Model::Scalar start_at_chord(const Model& m, const typename Model::Step& s, Point mp0,
                                      const typename Model::State& x, typename Model::Scalar f) {
  mp0.r0_Ohm = mp0.r0_Ohm * f;
  return m.measure_at(s, mp0, x);
}

template <class EstimatorT>
struct Predictor {
  using T = typename EstimatorT::T;
  using Model = typename EstimatorT::Model;
  using State = typename Model::State;
  using Idx = typename Model::Idx;
  const EstimatorT& est;
  State x;           ///< the state the horizon starts from (SOC possibly moved by the conservative option)
  T temperature_degC;
  T horizon_s;
  T voltage_sigma_k;
  T overpotential_A;  ///< I_ref of the current-dependent overpotential at this temperature (A); 0: off

  /// Terminal voltage at the end of the horizon under constant current i, and its model-error sigma
  /// margin applied (towards the cut-off: subtracted for discharge, added for charge); also the SOC at the end.
  void end(T current_A, T& v_end_V, T& v_start_V, T& soc_end) const {
    const Model& m = est.model();
    const auto s = m.prepare(x, est.aux(), horizon_s, current_A, temperature_degC);
    const auto s0 = m.prepare(x, est.aux(), T(0), current_A, temperature_degC);
    State xe;
    if constexpr (HasDirectSolve<Model>::value) {
      if (overpotential_A > T(0)) {  // the ECM's resistive terms at their chord resistance (overpotential_factor)
        const T f = overpotential_factor(current_A, overpotential_A);
        v_end_V = end_at_chord(m, s, x, f, xe);
        v_start_V = start_at_chord(m, s0, m.measure_point(s0, x(Idx::soc, 0)), x, f);
      } else {
        xe = m.predict(s, x);
        v_end_V = m.measure(s, xe);
        v_start_V = m.measure(s0, x);
      }
    } else {
      xe = m.predict(s, x);
      v_end_V = m.measure(s, xe);
      v_start_V = m.measure(s0, x);
    }
    soc_end = xe(Idx::soc, 0);
    if (voltage_sigma_k > T(0)) {
      const T sd_end = sqrt_nonneg(est.measurement_variance(s, xe, current_A, T(0)));
      const T sd_start = sqrt_nonneg(est.measurement_variance(s0, x, current_A, T(0)));
      // towards the cut-off the current drives to (the charge direction's zero, -0, towards the charge cut-off)
      const T sign = std::signbit(current_A) ? T(-1) : T(1);
      v_end_V = v_end_V - sign * voltage_sigma_k * sd_end;
      v_start_V = v_start_V - sign * voltage_sigma_k * sd_start;
    }
  }
  static T sqrt_nonneg(T v) { return v > T(0) ? std::sqrt(v) : T(0); }
};

/// The predictor for one direction (dir = +1: discharge, -1: charge) from the estimator's present state, the
/// SOC moved cfg.soc_sigma_k sigma towards that direction's limit (the conservative option; 0: as estimated).
template <class EstimatorT>
Predictor<EstimatorT> predictor(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                                const PowerConfig<typename EstimatorT::T>& cfg, typename EstimatorT::T dir) {
  using Idx = typename EstimatorT::Model::Idx;
  // the charge direction has its own I_ref (0 unless identified on charge pulses: a charge limit raised by an
  // unvalidated fall of the resistance could plate a cold cell)
  Predictor<EstimatorT> p{est, est.state(), temperature_degC, cfg.horizon_s, cfg.voltage_sigma_k,
                          dir > typename EstimatorT::T(0) ? cfg.overpotential_reference_A(temperature_degC)
                                                          : cfg.overpotential_charge_reference_A(temperature_degC)};
  p.x(Idx::soc, 0) = p.x(Idx::soc, 0) - dir * cfg.soc_sigma_k * est.soc_sigma();
  return p;
}

/// One direction. dir = +1: discharge (current > 0, voltage >= vmin, SOC >= soc_min); -1: charge.
template <class EstimatorT>
void limit_one(const Predictor<EstimatorT>& p, typename EstimatorT::T dir, typename EstimatorT::T i_max,
               const PowerConfig<typename EstimatorT::T>& c, typename EstimatorT::T& i_lim,
               typename EstimatorT::T& v_lim, LimitedBy& by) {
  using T = typename EstimatorT::T;
  auto ok = [&](T mag, T& v_end) {
    T v_start, soc_end;
    p.end(dir * mag, v_end, v_start, soc_end);
    if (dir > T(0)) { return v_end >= c.voltage_min_V && v_start >= c.voltage_min_V && soc_end >= c.soc_min; }
    return v_end <= c.voltage_max_V && v_start <= c.voltage_max_V && soc_end <= c.soc_max;
  };
  T v_hi;
  if (ok(i_max, v_hi)) {
    i_lim = i_max;
    v_lim = v_hi;
    by = LimitedBy::kCurrent;
    return;
  }
  T v_lo;
  if (!ok(T(0), v_lo)) {  // already at a limit: nothing may flow this way
    i_lim = T(0);
    v_lim = v_lo;
    by = LimitedBy::kNone;
    return;
  }
  T lo = T(0);
  T hi = i_max;
  for (int k = 0; k < kBisectionSteps; ++k) {
    const T mid = T(0.5) * (lo + hi);
    T v_mid;
    if (ok(mid, v_mid)) {
      lo = mid;
      v_lo = v_mid;
    } else {
      hi = mid;
    }
  }
  i_lim = lo;
  v_lim = v_lo;
  // which constraint bound it: the SOC one if the SOC at the end is (within a step) at its bound
  T ve, vs, se;
  p.end(dir * hi, ve, vs, se);
  const bool soc_bound = dir > T(0) ? se < c.soc_min : se > c.soc_max;
  const bool volt_bound = dir > T(0) ? (ve < c.voltage_min_V || vs < c.voltage_min_V)
                                     : (ve > c.voltage_max_V || vs > c.voltage_max_V);
  by = soc_bound && !volt_bound ? LimitedBy::kSoc : LimitedBy::kVoltage;
}

/// The current a direction's solve may not exceed (A, magnitude): the derated rating, or that direction's transport
/// limit K0(z0) / (sqrt(H) - c(z0)) from the horizon's start SOC z0 where that is lower. dir +1: discharge, -1: charge.
template <typename T>
T ceiling_A(const PowerConfig<T>& c, T dir, T rating_A, T soc_start, T horizon_s) {
  const T cap = dir > T(0) ? c.transport_cap_A(soc_start, horizon_s) : c.transport_charge_cap_A(soc_start, horizon_s);
  return cap < rating_A ? cap : rating_A;
}

/// A limit that ended at its ceiling (kCurrent) is the transport limit's when the ceiling was below the rating.
template <typename T>
LimitedBy transport_bound(LimitedBy by, T ceiling_A, T rating_A) {
  return by == LimitedBy::kCurrent && ceiling_A < rating_A ? LimitedBy::kTransport : by;
}

/// A temperature the power functions compute at: within [-100, 200] degC and the model's plausible range (the cell
/// file's limits, the range step() accepts): outside it the tables are extrapolated and a limit would be a guess (a
/// 150 degC sample read a higher charge limit than 25 degC). NaN fails.
template <class EstimatorT>
bool temperature_computable(const EstimatorT& est, typename EstimatorT::T temperature_degC) {
  using T = typename EstimatorT::T;
  return temperature_degC >= T(-100) && temperature_degC <= T(200) && est.model().temperature_in_range(temperature_degC);
}

/// A cut-off is a reading the cell can give: above 0 V and within the model's plausible voltage range (the cell
/// file's limits, what a step accepts). A cut-off in another unit (2500 for 2.5 V) or a pack's voltage would
/// otherwise give a 0 A limit "by none" or an unbounded one.
template <class EstimatorT>
bool cutoff_plausible(const EstimatorT& est, typename EstimatorT::T voltage_V) {
  using T = typename EstimatorT::T;
  return voltage_V > T(0) && est.model().voltage_in_range(voltage_V);
}

/// Why power_limits() / power_limits_horizons() refuse (kOk: they compute), for the horizons `horizons_s[0 ..
/// n_horizons - 1]` (cfg.horizon_s is not read: power_limits passes &cfg.horizon_s). The one home of the refusals:
/// not initialised; a cut-off the cell cannot read, a horizon outside (0, 1 day] or a setting out of range (all
/// kBadConfig; the cut-offs are checked before the horizon loop, which costs the M4F no stack there); then a
/// temperature the model cannot compute at (kBadInput).
template <class EstimatorT>
PowerStatus limits_input_status(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                                const PowerConfig<typename EstimatorT::T>& cfg,
                                const typename EstimatorT::T* horizons_s, int n_horizons) {
  if (!est.initialised()) { return PowerStatus::kNotInitialised; }
  if (!cutoff_plausible(est, cfg.voltage_min_V) || !cutoff_plausible(est, cfg.voltage_max_V)) {
    return PowerStatus::kBadConfig;
  }
  for (int k = 0; k < n_horizons; ++k) {
    if (!PowerConfig<typename EstimatorT::T>::horizon_ok(horizons_s[k])) { return PowerStatus::kBadConfig; }
  }
  if (cfg.check_settings() != PowerConfigIssue::kOk) { return PowerStatus::kBadConfig; }
  if (!temperature_computable(est, temperature_degC)) { return PowerStatus::kBadInput; }
  return PowerStatus::kOk;
}

/// limits_input_status() for the configuration's own horizon (power_limits()).
template <class EstimatorT>
PowerStatus limits_input_status(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                                const PowerConfig<typename EstimatorT::T>& cfg) {
  return limits_input_status(est, temperature_degC, cfg, &cfg.horizon_s, 1);
}

/// Both directions by the bisection (limit_one): the general method, for any model.
template <class EstimatorT>
void limits_bisection(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                      const PowerConfig<typename EstimatorT::T>& cfg, PowerLimits<typename EstimatorT::T>& r) {
  using T = typename EstimatorT::T;
  using Idx = typename EstimatorT::Model::Idx;
  const Predictor<EstimatorT> dis = predictor(est, temperature_degC, cfg, T(1));
  const Predictor<EstimatorT> chg = predictor(est, temperature_degC, cfg, T(-1));
  const T rating_dis = cfg.discharge_rating_A(temperature_degC);
  const T i_dis = ceiling_A(cfg, T(1), rating_dis, dis.x(Idx::soc, 0), cfg.horizon_s);
  limit_one(dis, T(1), i_dis, cfg, r.discharge_current_A, r.discharge_voltage_V, r.discharge_limited_by);
  r.discharge_limited_by = transport_bound(r.discharge_limited_by, i_dis, rating_dis);
  const T rating_chg = cfg.charge_rating_A(temperature_degC);
  const T i_chg = ceiling_A(cfg, T(-1), rating_chg, chg.x(Idx::soc, 0), cfg.horizon_s);
  limit_one(chg, T(-1), i_chg, cfg, r.charge_current_A, r.charge_voltage_V, r.charge_limited_by);
  r.charge_limited_by = transport_bound(r.charge_limited_by, i_chg, rating_chg);
}

/// Whether the model has the ECM's structure the direct solve uses (model/ecm.hpp, pack/pack.hpp's scaled cell):
/// prepare() split into a current-independent prepare_horizon() and set_step_current(), and a measurement split
/// into table values at one SOC (measure_point) and a part affine in the state (measure_at). Other models (the
/// SPMe) use the bisection.
template <class M, class>
struct HasDirectSolve : std::false_type {};
template <class M>
struct HasDirectSolve<
    M, std::void_t<decltype(std::declval<const M&>().prepare_horizon(std::declval<const typename M::State&>(),
                                                                    typename M::Scalar(), typename M::Scalar())),
                   decltype(std::declval<const M&>().set_step_current(std::declval<typename M::Step&>(),
                                                                     std::declval<const typename M::Aux&>(),
                                                                     typename M::Scalar())),
                   decltype(std::declval<const M&>().measure_at(
                       std::declval<const typename M::Step&>(),
                       std::declval<const M&>().measure_point(std::declval<const typename M::Step&>(),
                                                              typename M::Scalar()),
                       std::declval<const typename M::State&>()))>> : std::true_type {};

/// One direction's constraints at one current magnitude (EcmHorizon::at).
template <typename T>
struct LimitPoint {
  bool ok;         ///< every constraint holds (the bisection's test, bit for bit)
  bool soc_fail;   ///< the SOC at the horizon's end is beyond its bound
  bool volt_fail;  ///< the voltage at the horizon's start or end is beyond its cut-off
  T margin[3];     ///< each constraint's margin, decreasing in the current: voltage at the end, at the start (V), SOC
  T v_end_V;       ///< terminal voltage at the horizon's end (the sigma margin applied)
};

/// The ECM over one horizon in one direction with the model's transition prepared once (Plett 2004, sec. III:
/// the model run forward over the horizon with a constant current). prepare() reads R_j and tau_j at the
/// start's SOC, so a_j = exp(-H / tau_j) and b_j = R_j (1 - a_j) do not depend on the current
/// (Model::prepare_horizon, once per direction); the SOC gain's efficiency, the hysteresis rate A_h =
/// exp(-|i| gamma soc_gain), its input -(1 - A_h) sgn(i) and the instantaneous sign do (Model::set_step_current,
/// model/ecm.hpp, Plett 2004 "Part 2" eq. 4). prepare() is these two, so with predict / measure /
/// measurement_variance unchanged at(m) is the bisection's Predictor::end(dir m) to the bit, for one
/// exponential instead of a prepare() (NRC + 1 exponentials and every table look-up), with the
/// start-of-horizon table values looked up once.
template <class EstimatorT>
struct EcmHorizon {
  using T = typename EstimatorT::T;
  using Model = typename EstimatorT::Model;
  using State = typename Model::State;
  using Step = typename Model::Step;
  using Idx = typename Model::Idx;
  const EstimatorT& est;
  State x;                              ///< the state the horizon starts from (SOC moved by the conservative option)
  Step s;                               ///< prepared over the horizon for this direction's sign of current
  typename Model::MeasurePoint mp0;     ///< the measurement's tables at x's SOC (the horizon's start)
  T dir;                                ///< +1 discharge, -1 charge
  T voltage_sigma_k;
  T overpotential_A;                    ///< I_ref of the current-dependent overpotential (A); 0: off

  /// The constraints at current dir x mag (the bisection's ok() and its LimitedBy test, the same arithmetic).
  LimitPoint<T> at(T mag, const PowerConfig<T>& c) {
    const Model& m = est.model();
    const T i = dir * mag;
    m.set_step_current(s, est.aux(), i);  // the rest of prepare(x, aux, H, i, T): the bisection's Step
    State xe;
    T v_end;
    T v_start;
    if (overpotential_A > T(0)) {  // as Predictor::end: R0 and the RC inputs at their chord resistance
      const T f = overpotential_factor(i, overpotential_A);
      v_end = end_at_chord(m, s, x, f, xe);
      v_start = start_at_chord(m, s, mp0, x, f);
    } else {
      xe = m.predict(s, x);
      // measure(s, xe) = measure_at(s, measure_point(s, soc_end), xe); at zero current (the magnitudes are >= 0)
      // soc_end is x's SOC exactly (z - soc_gain x (+-0)), whose table values are mp0 (the same look-up): not
      // looked up again
      v_end = mag > T(0) ? m.measure(s, xe) : m.measure_at(s, mp0, xe);
      v_start = m.measure_at(s, mp0, x);  // v at the start: RC voltages as now, the R0 drop at i
    }
    const T soc_end = xe(Idx::soc, 0);
    if (voltage_sigma_k > T(0)) {
      const T sd_end = Predictor<EstimatorT>::sqrt_nonneg(est.measurement_variance(s, xe, i, T(0)));
      const T sd_start = Predictor<EstimatorT>::sqrt_nonneg(est.measurement_variance(s, x, i, T(0)));
      const T sign = std::signbit(i) ? T(-1) : T(1);  // as Predictor::end
      v_end = v_end - sign * voltage_sigma_k * sd_end;
      v_start = v_start - sign * voltage_sigma_k * sd_start;
    }
    LimitPoint<T> r;
    if (dir > T(0)) {
      r.ok = v_end >= c.voltage_min_V && v_start >= c.voltage_min_V && soc_end >= c.soc_min;
      r.soc_fail = soc_end < c.soc_min;
      r.volt_fail = v_end < c.voltage_min_V || v_start < c.voltage_min_V;
      r.margin[0] = v_end - c.voltage_min_V;
      r.margin[1] = v_start - c.voltage_min_V;
      r.margin[2] = soc_end - c.soc_min;
    } else {
      r.ok = v_end <= c.voltage_max_V && v_start <= c.voltage_max_V && soc_end <= c.soc_max;
      r.soc_fail = soc_end > c.soc_max;
      r.volt_fail = v_end > c.voltage_max_V || v_start > c.voltage_max_V;
      r.margin[0] = c.voltage_max_V - v_end;
      r.margin[1] = c.voltage_max_V - v_start;
      r.margin[2] = c.soc_max - soc_end;
    }
    r.v_end_V = v_end;
    return r;
  }
};

/// The horizon in direction dir (+1 / -1) from the estimator's state, the SOC moved cfg.soc_sigma_k sigma towards
/// that direction's limit; `same` (not null): the other direction's horizon when it starts from the same state,
/// whose prepared step is reused (only the SOC gain's efficiency differs, set as prepare() sets it).
template <class EstimatorT>
EcmHorizon<EstimatorT> ecm_horizon(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                                   const PowerConfig<typename EstimatorT::T>& cfg, typename EstimatorT::T dir,
                                   const EcmHorizon<EstimatorT>* same, typename EstimatorT::T horizon_s) {
  using Idx = typename EstimatorT::Model::Idx;
  const auto& m = est.model();
  typename EstimatorT::State x = est.state();
  x(Idx::soc, 0) = x(Idx::soc, 0) - dir * cfg.soc_sigma_k * est.soc_sigma();
  // each direction's own I_ref (as predictor())
  const typename EstimatorT::T i_ref_A = dir > typename EstimatorT::T(0)
                                             ? cfg.overpotential_reference_A(temperature_degC)
                                             : cfg.overpotential_charge_reference_A(temperature_degC);
  // the discharge start (z - k sigma) is never above the charge start (z + k sigma): not below it is the same
  if (same != nullptr && !(same->x(Idx::soc, 0) < x(Idx::soc, 0))) {
    return EcmHorizon<EstimatorT>{est, x, same->s, same->mp0, dir, cfg.voltage_sigma_k, i_ref_A};
  }
  const auto s = m.prepare_horizon(x, horizon_s, temperature_degC);
  return EcmHorizon<EstimatorT>{est, x, s, m.measure_point(s, x(Idx::soc, 0)), dir, cfg.voltage_sigma_k, i_ref_A};
}

/// The RC pairs' table values at a horizon's start (R_j, tau_j at the start's SOC and the step's temperature, as
/// Model::prepare_horizon reads them), so that another horizon from the same start needs only a_j = exp(-H /
/// tau_j) and b_j = R_j (1 - a_j): rescale() is prepare_horizon's arithmetic for those (power_limits_horizons;
/// tests/cpp/test_power.cpp checks its results bit for bit against power_limits() per horizon).
template <class Model>
struct RcStart {
  using T = typename Model::Scalar;
  T tau_s[Model::kRcPairs];
  T r_Ohm[Model::kRcPairs];
  RcStart(const Model& m, const typename Model::State& x, const typename Model::Step& s) {
    const auto& p = m.params();
    const math::GridPoint<T> gp = math::locate(p.grid, x(Model::Idx::soc, 0), s.temp, -1);
    for (int j = 0; j < Model::kRcPairs; ++j) {
      tau_s[j] = math::lookup(p.rc_tau_s[j], gp);
      r_Ohm[j] = math::lookup(p.rc_r_Ohm[j], gp);
    }
  }
  /// s prepared over dt_s instead (every other member, the start's, unchanged).
  void rescale(typename Model::Step& s, T dt_s) const {
    s.dt_s = dt_s;
    for (int j = 0; j < Model::kRcPairs; ++j) {
      s.a_rc[j] = math::exp(-dt_s / tau_s[j]);  // as Model::prepare_horizon
      s.b_rc[j] = r_Ohm[j] * (T(1) - s.a_rc[j]);
    }
  }
};

/// Both directions' horizons from the estimator's state (ecm_horizon), prepared for `horizon0_s`, and moved to
/// further horizons from the same start by set_horizon() (RcStart::rescale): the set-up power_limits_horizons and
/// pack_power_limits_horizons' string voltages share. When both directions start from the same SOC (nominal) one
/// prepared step serves both.
template <class EstimatorT>
struct HorizonPair {
  using T = typename EstimatorT::T;
  using Model = typename EstimatorT::Model;
  EcmHorizon<EstimatorT> dis;
  EcmHorizon<EstimatorT> chg;
  bool same;  ///< the charge start is the discharge start
  RcStart<Model> rc_dis;
  RcStart<Model> rc_chg;
  HorizonPair(const EstimatorT& est, T temperature_degC, const PowerConfig<T>& c, T horizon0_s)
      : dis(ecm_horizon<EstimatorT>(est, temperature_degC, c, T(1), nullptr, horizon0_s)),
        chg(ecm_horizon(est, temperature_degC, c, T(-1), &dis, horizon0_s)),
        same(!(dis.x(Model::Idx::soc, 0) < chg.x(Model::Idx::soc, 0))),
        rc_dis(est.model(), dis.x, dis.s),
        rc_chg(same ? rc_dis : RcStart<Model>(est.model(), chg.x, chg.s)) {}
  /// Both directions prepared over horizon_s instead: the start's look-ups are those of horizon0_s (same state, same
  /// temperature), only a_j, b_j change.
  void set_horizon(T horizon_s) {
    rc_dis.rescale(dis.s, horizon_s);
    if (same) {
      chg.s = dis.s;
    } else {
      rc_chg.rescale(chg.s, horizon_s);
    }
  }
};

/// One direction by the direct solve: the same answer as limit_one()'s bisection (the largest current at which
/// the model keeps every limit, to a few float32 ulps), from about 5 model evaluations instead of 34. The limit is
/// bracketed, [lo, hi] with every constraint holding at lo and one broken at hi (first [0, rating]), and the
/// bracket closed by the secant method on the smallest margin through the two latest trials, safeguarded: each
/// trial at least a quarter of the tolerance inside the bracket (so that it closes on both sides next to the
/// limit), the midpoint after three trials that did not halve the bracket (Press et al., "Numerical Recipes",
/// 3rd ed., sec. 9.2-9.3). The margin is linear in the current except for the OCV table's
/// corners, the SOC dependence of R0 / M / M0 and the hysteresis exponential, so a trial from the secant lands
/// next to the limit. Which constraint bound it: as the bisection, from the constraints broken at hi.
template <class EstimatorT>
void limit_direct(EcmHorizon<EstimatorT>& h, typename EstimatorT::T i_max,
                  const PowerConfig<typename EstimatorT::T>& c, typename EstimatorT::T& i_lim,
                  typename EstimatorT::T& v_lim, LimitedBy& by) {
  using T = typename EstimatorT::T;
  const LimitPoint<T> at_max = h.at(i_max, c);
  if (at_max.ok) {
    i_lim = i_max;
    v_lim = at_max.v_end_V;
    by = LimitedBy::kCurrent;
    return;
  }
  const LimitPoint<T> at_zero = h.at(T(0), c);
  if (!at_zero.ok) {  // already at a limit: nothing may flow this way
    i_lim = T(0);
    v_lim = at_zero.v_end_V;
    by = LimitedBy::kNone;
    return;
  }
  T lo = T(0);
  T hi = i_max;
  T v_lo = at_zero.v_end_V;
  LimitPoint<T> hi_point = at_max;
  T a = T(0);  // the secant's two latest trials (a the older one) and their constraints: first the bracket's ends
  LimitPoint<T> q_a = at_zero;
  T b = i_max;
  LimitPoint<T> q_b = at_max;
  T width = hi - lo;  // the bracket's width when it last halved
  int slow = 0;        // trials since then
  T push = T(1);       // the step inside the bracket, in `edge`s
  // the tolerance relative to the limit: 2^-22, or 8 ulps where that is finer than the type (float: 2^-20; the
  // float margin is flat for a few ulps of the current next to the limit, where the voltage rounds to the cut-off)
  const T kTol = std::numeric_limits<T>::epsilon() * T(8) > T(1.0 / 4194304.0) ? std::numeric_limits<T>::epsilon() * T(8)
                                                                             : T(1.0 / 4194304.0);
  // the SOC constraint's own resolution in current: its margin moves in ulps of the SOC bound (about eps x bound)
  // per soc_gain of current; where the SOC binds, a bracket that narrow is as close as the model can tell
  const T bound = h.dir > T(0) ? c.soc_min : c.soc_max;
  const T soc_res_A = std::numeric_limits<T>::epsilon() * std::fabs(bound) / h.s.soc_gain;
  // a limit below 2 ulps of the rating (float: 2^-22 of it; double: 2^-36) is 0 to the bracket
  const T floor_A = i_max * (std::numeric_limits<T>::epsilon() * T(2) > T(1.0 / 68719476736.0)
                                 ? std::numeric_limits<T>::epsilon() * T(2)
                                 : T(1.0 / 68719476736.0));
  for (int k = 0; k < kSolveSteps; ++k) {
    T tol = hi * kTol;
    if (tol < floor_A) { tol = floor_A; }  // a jump right above 0 (at(0) keeps the limits, any current breaks one)
    if (hi_point.soc_fail && soc_res_A > tol) { tol = soc_res_A; }
    if (!(hi - lo > tol)) { break; }
    const T edge = T(0.25) * tol;
    // the secant through the two latest trials for each constraint that decreases between them, the smallest of
    // their roots (the limit is the first constraint to break: a kink in the smallest margin does not mislead
    // it). No root inside the bracket (a jump: the hysteresis sign at the deadband), or three secant trials that
    // did not halve the bracket: its midpoint. No decreasing constraint at all (the float margins flat next to
    // the limit): a push from b, the latest trial, an end of the bracket.
    T p = b;
    T root = T(0);
    bool decreasing = false;
    for (int j = 0; j < 3; ++j) {
      const T slope = (q_b.margin[j] - q_a.margin[j]) / (b - a);
      const T r_j = b - q_b.margin[j] / slope;
      if (slope < T(0) && (!decreasing || r_j < root)) {
        root = r_j;
        decreasing = true;
      }
    }
    if (decreasing) { p = root < hi && slow < 3 ? root : T(0.5) * (lo + hi); }
    // at least `edge` inside, so that the bracket closes on both sides; doubled on each repeat (the float margin
    // is flat where the voltage rounds to the cut-off itself: a band of a few ulps, crossed in a few steps)
    if (p < lo + edge) {
      p = lo + edge * push;
      push = T(2) * push;
    } else if (p > hi - edge) {
      p = hi - edge * push;
      push = T(2) * push;
    } else {
      push = T(1);
    }
    if (!(p > lo && p < hi)) { p = T(0.5) * (lo + hi); }  // a push beyond the bracket: its midpoint
    const LimitPoint<T> q = h.at(p, c);
    if (q.ok) {
      lo = p;
      v_lo = q.v_end_V;
    } else {
      hi = p;
      hi_point = q;
    }
    a = b;
    q_a = q_b;
    b = p;
    q_b = q;
    if (hi - lo <= T(0.5) * width) {
      width = hi - lo;
      slow = 0;
    } else if (push < T(2)) {  // a secant trial (pushes double: they count for themselves)
      ++slow;
    }
  }
  i_lim = lo;
  v_lim = v_lo;
  by = hi_point.soc_fail && !hi_point.volt_fail ? LimitedBy::kSoc : LimitedBy::kVoltage;
}

}  // namespace detail

/// The discharge and charge limits of the estimator's present state over cfg.horizon_s at the cell
/// temperature `temperature_degC` (the estimator is not changed). kOk fills `out`; otherwise `out` is untouched.
template <class EstimatorT>
PowerStatus power_limits(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                         const PowerConfig<typename EstimatorT::T>& cfg, PowerLimits<typename EstimatorT::T>& out) {
  using T = typename EstimatorT::T;
  const PowerStatus st = detail::limits_input_status(est, temperature_degC, cfg);
  if (st != PowerStatus::kOk) { return st; }
  PowerLimits<T> r{};
  if constexpr (detail::HasDirectSolve<typename EstimatorT::Model>::value) {
    detail::EcmHorizon<EstimatorT> dis =
        detail::ecm_horizon<EstimatorT>(est, temperature_degC, cfg, T(1), nullptr, cfg.horizon_s);
    detail::EcmHorizon<EstimatorT> chg = detail::ecm_horizon(est, temperature_degC, cfg, T(-1), &dis, cfg.horizon_s);
    const T rating_dis = cfg.discharge_rating_A(temperature_degC);
    const T i_dis = detail::ceiling_A(cfg, T(1), rating_dis, dis.x(EstimatorT::Model::Idx::soc, 0), cfg.horizon_s);
    detail::limit_direct(dis, i_dis, cfg, r.discharge_current_A, r.discharge_voltage_V, r.discharge_limited_by);
    r.discharge_limited_by = detail::transport_bound(r.discharge_limited_by, i_dis, rating_dis);
    const T rating_chg = cfg.charge_rating_A(temperature_degC);
    const T i_chg = detail::ceiling_A(cfg, T(-1), rating_chg, chg.x(EstimatorT::Model::Idx::soc, 0), cfg.horizon_s);
    detail::limit_direct(chg, i_chg, cfg, r.charge_current_A, r.charge_voltage_V, r.charge_limited_by);
    r.charge_limited_by = detail::transport_bound(r.charge_limited_by, i_chg, rating_chg);
  } else {
    detail::limits_bisection(est, temperature_degC, cfg, r);
  }
  // P = |i| v at the horizon's end (Plett 2004, eq. 14: the power the cell delivers / accepts at the limit)
  r.discharge_power_W = r.discharge_current_A * r.discharge_voltage_V;
  r.charge_power_W = r.charge_current_A * r.charge_voltage_V;
  out = r;
  return PowerStatus::kOk;
}

/// Most horizons of one power_limits_horizons() call.
constexpr int kMaxHorizons = 8;

namespace detail {

/// Whether a direction's limit cannot be below `m` (the string's smallest limit so far, pack_power_limits_horizons):
/// m is 0, or the cell keeps every constraint at m (1 + 2^-17) below its rating. The ECM's margins decrease with the
/// current except within a few ulps where the float voltage rounds to the cut-off, so the solve's limit (its bracket
/// closed to 2^-20) is then at least m: the solve is not needed, the minimum does not change.
template <class EstimatorT>
bool not_below(EcmHorizon<EstimatorT>& h, typename EstimatorT::T rating_A, typename EstimatorT::T m,
               const PowerConfig<typename EstimatorT::T>& c) {
  using T = typename EstimatorT::T;
  if (!(m < T(3.0e38))) { return false; }  // no minimum yet
  if (!(m > T(0))) { return true; }        // no limit is below 0
  const T probe = m * (T(1) + T(1.0 / 131072.0));
  if (!(rating_A > probe)) { return false; }
  return h.at(probe, c).ok;
}

/// The ECM's limits for horizons_s[0 .. n) (c: the checked configuration, its horizon_s the first): the start's
/// look-ups once, the RC factors per horizon (RcStart), limit_direct per direction. `screen` (not null: the string's
/// smallest discharge and charge limits so far per horizon, [2 j] and [2 j + 1]): a direction whose limit cannot be
/// below it (not_below) is not solved and reported as 3e38 A (pack_power_limits_horizons).
template <class EstimatorT>
void direct_horizons(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                     const PowerConfig<typename EstimatorT::T>& c, const typename EstimatorT::T* horizons_s, int n_horizons,
                     PowerLimits<typename EstimatorT::T>* r, const typename EstimatorT::T* screen) {
  using T = typename EstimatorT::T;
  HorizonPair<EstimatorT> h(est, temperature_degC, c, horizons_s[0]);
  EcmHorizon<EstimatorT>& dis = h.dis;
  EcmHorizon<EstimatorT>& chg = h.chg;
  const T rating_dis = c.discharge_rating_A(temperature_degC);
  const T rating_chg = c.charge_rating_A(temperature_degC);
  for (int k = 0; k < n_horizons; ++k) {
    // the solve reads c's windows, ratings and sigma factors, not its horizon_s
    if (k > 0) { h.set_horizon(horizons_s[k]); }
    const T i_dis = ceiling_A(c, T(1), rating_dis, dis.x(EstimatorT::Model::Idx::soc, 0), horizons_s[k]);
    if (screen != nullptr && not_below(dis, i_dis, screen[2 * k], c)) {
      r[k].discharge_current_A = T(3.0e38);
    } else {
      limit_direct(dis, i_dis, c, r[k].discharge_current_A, r[k].discharge_voltage_V, r[k].discharge_limited_by);
      r[k].discharge_limited_by = transport_bound(r[k].discharge_limited_by, i_dis, rating_dis);
    }
    const T i_chg = ceiling_A(c, T(-1), rating_chg, chg.x(EstimatorT::Model::Idx::soc, 0), horizons_s[k]);
    if (screen != nullptr && not_below(chg, i_chg, screen[2 * k + 1], c)) {
      r[k].charge_current_A = T(3.0e38);
    } else {
      limit_direct(chg, i_chg, c, r[k].charge_current_A, r[k].charge_voltage_V, r[k].charge_limited_by);
      r[k].charge_limited_by = transport_bound(r[k].charge_limited_by, i_chg, rating_chg);
    }
  }
}

}  // namespace detail

/// power_limits() for several horizons at one state in one call (issue #15's 2 / 10 / 30 s on the MCU): the
/// configuration is checked once (cfg.horizon_s is ignored: each horizons_s[k] must be in (0, 86400] s, 1 <=
/// n_horizons <= kMaxHorizons), the start states, the start's table values and the derated ratings are computed
/// once; for the ECM only the RC pairs' exponentials are redone per horizon (Model::prepare_horizon). out[k] is
/// bit for bit power_limits() with cfg.horizon_s = horizons_s[k]. kOk fills out[0 .. n_horizons - 1]; otherwise
/// `out` is untouched.
template <class EstimatorT>
PowerStatus power_limits_horizons(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                                  const PowerConfig<typename EstimatorT::T>& cfg,
                                  const typename EstimatorT::T* horizons_s, int n_horizons,
                                  PowerLimits<typename EstimatorT::T>* out) {
  using T = typename EstimatorT::T;
  if (horizons_s == nullptr || out == nullptr || !(n_horizons >= 1 && n_horizons <= kMaxHorizons)) {
    return PowerStatus::kBadConfig;
  }
  // power_limits()'s refusals, every horizon checked as its horizon_s, without a copy of the configuration
  const PowerStatus st = detail::limits_input_status(est, temperature_degC, cfg, horizons_s, n_horizons);
  if (st != PowerStatus::kOk) { return st; }
  // nothing is refused from here on: the results go to `out` directly
  if constexpr (detail::HasDirectSolve<typename EstimatorT::Model>::value) {
    detail::direct_horizons(est, temperature_degC, cfg, horizons_s, n_horizons, out, static_cast<const T*>(nullptr));
  } else {
    PowerConfig<T> c = cfg;
    for (int k = 0; k < n_horizons; ++k) {
      c.horizon_s = horizons_s[k];
      detail::limits_bisection(est, temperature_degC, c, out[k]);
    }
  }
  for (int k = 0; k < n_horizons; ++k) {
    out[k].discharge_power_W = out[k].discharge_current_A * out[k].discharge_voltage_V;  // Plett 2004, eq. 14
    out[k].charge_power_W = out[k].charge_current_A * out[k].charge_voltage_V;
  }
  return PowerStatus::kOk;
}

/// power_limits() by the general method for every model, the bisection (32 model predictions per direction):
/// the reference the ECM's direct solve is checked against (tests/cpp/test_power.cpp). Same refusals.
template <class EstimatorT>
PowerStatus power_limits_bisection(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                                   const PowerConfig<typename EstimatorT::T>& cfg,
                                   PowerLimits<typename EstimatorT::T>& out) {
  using T = typename EstimatorT::T;
  const PowerStatus st = detail::limits_input_status(est, temperature_degC, cfg);
  if (st != PowerStatus::kOk) { return st; }
  PowerLimits<T> r{};
  detail::limits_bisection(est, temperature_degC, cfg, r);
  r.discharge_power_W = r.discharge_current_A * r.discharge_voltage_V;  // Plett 2004, eq. 14
  r.charge_power_W = r.charge_current_A * r.charge_voltage_V;
  out = r;
  return PowerStatus::kOk;
}

namespace detail {

/// Energy to the cut-off from SOC z0 at constant power P (header comment). Returns W h (>= 0).
template <class EstimatorT>
typename EstimatorT::T energy_from(const EstimatorT& est, typename EstimatorT::T z0, typename EstimatorT::T power_W,
                                   typename EstimatorT::T temperature_degC, typename EstimatorT::T voltage_min_V,
                                   typename EstimatorT::T soc_min) {
  using T = typename EstimatorT::T;
  using Model = typename EstimatorT::Model;
  using State = typename Model::State;
  using Idx = typename Model::Idx;
  const Model& m = est.model();
  if (!(z0 > soc_min)) { return T(0); }
  const T dz = (z0 - soc_min) / T(kEnergySteps);
  const T q_Ah = m.capacity_Ah();
  T e_Wh = T(0);
  T i_A = T(0);
  for (int k = 0; k < kEnergySteps; ++k) {
    const T z = z0 - (T(k) + T(0.5)) * dz;  // midpoint of the step
    State x = est.state();
    x(Idx::soc, 0) = z;
    x(Idx::hysteresis, 0) = T(-1);          // sustained discharge: the discharge branch
    T v = T(0);
    if constexpr (HasDirectSolve<Model>::value) {
      // as below, with prepare() = prepare_horizon() + set_step_current() and measure() = measure_at() of
      // measure_point(): the parts that do not depend on i once per SOC step, the same arithmetic
      auto s = m.prepare_horizon(x, T(1.0e5), temperature_degC);
      const auto mp = m.measure_point(s, z);
      for (int it = 0; it < 4; ++it) {
        m.set_step_current(s, est.aux(), i_A);
        State xs = m.predict(s, x);
        xs(Idx::soc, 0) = z;
        xs(Idx::hysteresis, 0) = T(-1);
        v = m.measure_at(s, mp, xs);
        if (!(v > T(0))) { return e_Wh; }
        i_A = power_W / v;
      }
    } else {
      for (int it = 0; it < 4; ++it) {        // i v(z, i) = P, fixed point from the previous step's i
        // steady state of every RC pair under i: prepare over a long step (a -> 0) and predict from x
        const auto s = m.prepare(x, est.aux(), T(1.0e5), i_A, temperature_degC);
        State xs = m.predict(s, x);
        xs(Idx::soc, 0) = z;
        xs(Idx::hysteresis, 0) = T(-1);
        v = m.measure(s, xs);
        if (!(v > T(0))) { return e_Wh; }
        i_A = power_W / v;
      }
    }
    if (!(v >= voltage_min_V)) { break; }   // the cut-off is reached within this step
    e_Wh = e_Wh + v * dz * q_Ah;            // E = sum v dq, dq = Q dz (A h)
  }
  return e_Wh;
}

}  // namespace detail

/// Energy left to the discharge cut-off at a constant power `power_W` (> 0) and the time to empty, with
/// their 1 sigma from the SOC sigma. The SOC is taken `soc_sigma_k` sigma lower (conservative option; 0: the
/// estimate). kOk fills `out`; otherwise `out` is untouched.
template <class EstimatorT>
PowerStatus remaining_energy(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                             typename EstimatorT::T power_W, typename EstimatorT::T voltage_min_V,
                             typename EstimatorT::T soc_min, typename EstimatorT::T soc_sigma_k,
                             EnergyEstimate<typename EstimatorT::T>& out) {
  using T = typename EstimatorT::T;
  if (!est.initialised()) { return PowerStatus::kNotInitialised; }
  if (!(power_W > T(0) && power_W <= T(1.0e9)) || !detail::temperature_computable(est, temperature_degC)) {
    return PowerStatus::kBadInput;
  }
  // the cut-off: above 0 V and within the cell's plausible voltage range (detail::cutoff_plausible)
  if (!detail::cutoff_plausible(est, voltage_min_V) || !(soc_min >= T(-1) && soc_min < T(1)) ||
      !(soc_sigma_k >= T(0) && soc_sigma_k <= T(10))) {
    return PowerStatus::kBadConfig;
  }
  const T sigma = est.soc_sigma();
  const T z = est.soc() - soc_sigma_k * sigma;
  EnergyEstimate<T> r{};
  r.energy_Wh = detail::energy_from(est, z, power_W, temperature_degC, voltage_min_V, soc_min);
  const T e_hi = detail::energy_from(est, z + sigma, power_W, temperature_degC, voltage_min_V, soc_min);
  const T e_lo = detail::energy_from(est, z - sigma, power_W, temperature_degC, voltage_min_V, soc_min);
  r.energy_sigma_Wh = T(0.5) * (e_hi - e_lo);
  r.time_to_empty_s = r.energy_Wh * T(3600) / power_W;
  r.time_to_empty_sigma_s = r.energy_sigma_Wh * T(3600) / power_W;
  out = r;
  return PowerStatus::kOk;
}

/// Time to full (constant-current phase) at charge current `charge_current_A` (a positive magnitude) up to
/// `soc_max` (a SOC fraction in (0, 1]: full is 1; the Python time_to_full's range), and its 1 sigma:
/// (soc_max - z) 3600 Q / (eta I). kOk fills the outputs; otherwise untouched.
template <class EstimatorT>
PowerStatus time_to_full(const EstimatorT& est, typename EstimatorT::T charge_current_A, typename EstimatorT::T soc_max,
                         typename EstimatorT::T& time_s, typename EstimatorT::T& time_sigma_s) {
  using T = typename EstimatorT::T;
  if (!est.initialised()) { return PowerStatus::kNotInitialised; }
  if (!(charge_current_A > T(0) && charge_current_A <= T(1.0e6)) || !(soc_max > T(0) && soc_max <= T(1))) {
    return PowerStatus::kBadInput;
  }
  const auto& m = est.model();
  const T eta = m.params().coulombic_efficiency;
  const T per_soc_s = T(3600) * m.capacity_Ah() / (eta * charge_current_A);  // seconds per unit SOC
  const T left = soc_max - est.soc();
  time_s = left > T(0) ? left * per_soc_s : T(0);
  time_sigma_s = est.soc_sigma() * per_soc_s;
  return PowerStatus::kOk;
}

/// The limits of a series string: every cell carries the same current, so the string's limit in each direction
/// is its weakest cell's (the smallest over cells), reported with that cell's index and constraint; the power is
/// that current times the sum of every cell's predicted voltage at the horizon's end at that current.
template <typename T>
struct PackPowerLimits {
  T discharge_current_A;      ///< smallest discharge limit over the cells (A)
  T charge_current_A;         ///< smallest charge limit over the cells (A, magnitude)
  T discharge_power_W;        ///< discharge_current_A x sum of the cells' voltages at the horizon's end (W)
  T charge_power_W;           ///< the same for charge (W)
  int discharge_cell;         ///< which cell limits the discharge (0-based)
  int charge_cell;            ///< which cell limits the charge
  LimitedBy discharge_limited_by;  ///< that cell's constraint
  LimitedBy charge_limited_by;
};

namespace detail {

/// Every cell's predicted voltage at the horizon's end under the string's limits, added into v_dis[j] / v_chg[j]
/// (pack_power_limits_horizons' second pass). For the ECM the cell's horizons are prepared once per cell (both
/// directions from one prepared step when they start from the same SOC, the further horizons rescaled as in
/// power_limits_horizons) and each voltage is one EcmHorizon::at() - bit for bit Predictor::end's v_end (the same
/// prepare / predict / measure and sigma margin); other models: Predictor::end.
template <class EstimatorT>
void add_string_voltages(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                         const PowerConfig<typename EstimatorT::T>& cfg, const typename EstimatorT::T* horizons_s,
                         int n_horizons, const PackPowerLimits<typename EstimatorT::T>* r, typename EstimatorT::T* v_dis,
                         typename EstimatorT::T* v_chg) {
  using T = typename EstimatorT::T;
  PowerConfig<T> c = cfg;
  c.horizon_s = horizons_s[0];
  if constexpr (HasDirectSolve<typename EstimatorT::Model>::value) {
    HorizonPair<EstimatorT> h(est, temperature_degC, c, horizons_s[0]);
    for (int j = 0; j < n_horizons; ++j) {
      if (j > 0) { h.set_horizon(horizons_s[j]); }  // as power_limits_horizons
      v_dis[j] = v_dis[j] + h.dis.at(r[j].discharge_current_A, c).v_end_V;
      v_chg[j] = v_chg[j] + h.chg.at(r[j].charge_current_A, c).v_end_V;
    }
  } else {
    for (int j = 0; j < n_horizons; ++j) {
      c.horizon_s = horizons_s[j];
      T ve, vs, se;
      predictor(est, temperature_degC, c, T(1)).end(r[j].discharge_current_A, ve, vs, se);
      v_dis[j] = v_dis[j] + ve;
      predictor(est, temperature_degC, c, T(-1)).end(-r[j].charge_current_A, ve, vs, se);
      v_chg[j] = v_chg[j] + ve;
    }
  }
}

}  // namespace detail

namespace detail {

/// One cell's limits for the string (pack_power_limits_horizons): for the ECM the directions whose limit cannot be
/// below the string's smallest so far (r) are not solved (3e38 A: not the weakest); otherwise power_limits_horizons.
/// Refusals as power_limits_horizons (the configuration and horizons already checked).
template <class EstimatorT>
PowerStatus cell_limits_screened(const EstimatorT& est, typename EstimatorT::T temperature_degC,
                                 const PowerConfig<typename EstimatorT::T>& cfg, const typename EstimatorT::T* horizons_s,
                                 int n_horizons, const PackPowerLimits<typename EstimatorT::T>* r,
                                 PowerLimits<typename EstimatorT::T>* out) {
  using T = typename EstimatorT::T;
  if constexpr (HasDirectSolve<typename EstimatorT::Model>::value) {
    const PowerStatus st = limits_input_status(est, temperature_degC, cfg);
    if (st != PowerStatus::kOk) { return st; }
    T screen[2 * kMaxHorizons];
    for (int j = 0; j < n_horizons; ++j) {
      screen[2 * j] = r[j].discharge_current_A;
      screen[2 * j + 1] = r[j].charge_current_A;
    }
    direct_horizons(est, temperature_degC, cfg, horizons_s, n_horizons, out, screen);
    return PowerStatus::kOk;
  } else {
    return power_limits_horizons(est, temperature_degC, cfg, horizons_s, n_horizons, out);
  }
}

/// pack_power_limits_horizons' tie-break where the string's limit in a direction is 0 A: among the cells whose own
/// limit at `horizon_s` is 0 A, the one furthest along that direction (highest SOC for charge, lowest for discharge;
/// the lowest index among equals), with its constraint.
template <class PackT, typename T>
void name_furthest_at_zero(const PackT& pack, const T* temperature_degC, const PowerConfig<T>& c0, T horizon_s,
                           PackPowerLimits<T>& r) {
  const bool dis = !(r.discharge_current_A > T(0));
  const bool chg = !(r.charge_current_A > T(0));
  for (int k = 0; k < pack.n_cells(); ++k) {
    // every cell was computable in the first pass (its status would have been returned), so this one is too
    PowerLimits<T> lim{};
    power_limits_horizons(pack.cell(k), temperature_degC[k], c0, &horizon_s, 1, &lim);
    const T z = pack.cell(k).soc();
    if (dis && !(lim.discharge_current_A > T(0)) && z < pack.cell(r.discharge_cell).soc()) {
      r.discharge_cell = k;
      r.discharge_limited_by = lim.discharge_limited_by;
    }
    if (chg && !(lim.charge_current_A > T(0)) && z > pack.cell(r.charge_cell).soc()) {
      r.charge_cell = k;
      r.charge_limited_by = lim.charge_limited_by;
    }
  }
}

}  // namespace detail

/// pack_power_limits() for several horizons in one pass over the cells (the whole-log pack power, issue #15):
/// each cell's limits by power_limits_horizons() (its set-up shared by the horizons), then each cell's voltages at
/// the string's limits from its horizons prepared once. out[j] is bit for bit pack_power_limits() with
/// cfg.horizon_s = horizons_s[j] (cfg.horizon_s itself is not read). 1 <= n_horizons <= kMaxHorizons, each horizon
/// in (0, 86400] s. kOk fills out[0 .. n_horizons - 1]; otherwise `out` is untouched.
template <class PackT, typename T>
PowerStatus pack_power_limits_horizons(const PackT& pack, const T* temperature_degC, const PowerConfig<T>& cfg,
                                       const T* horizons_s, int n_horizons, PackPowerLimits<T>* out) {
  if (!pack.initialised() || pack.n_cells() < 1) { return PowerStatus::kNotInitialised; }
  if (horizons_s == nullptr || out == nullptr || !(n_horizons >= 1 && n_horizons <= kMaxHorizons)) {
    return PowerStatus::kBadConfig;
  }
  PowerConfig<T> c0 = cfg;
  c0.horizon_s = horizons_s[0];
  if (!c0.valid()) { return PowerStatus::kBadConfig; }
  for (int j = 1; j < n_horizons; ++j) {
    if (!PowerConfig<T>::horizon_ok(horizons_s[j])) { return PowerStatus::kBadConfig; }
  }
  if (temperature_degC == nullptr) { return PowerStatus::kBadInput; }
  PackPowerLimits<T> r[kMaxHorizons] = {};
  for (int j = 0; j < n_horizons; ++j) {
    r[j].discharge_current_A = T(3.0e38);
    r[j].charge_current_A = T(3.0e38);
  }
  for (int k = 0; k < pack.n_cells(); ++k) {
    PowerLimits<T> c[kMaxHorizons] = {};
    const PowerStatus st = detail::cell_limits_screened(pack.cell(k), temperature_degC[k], c0, horizons_s, n_horizons,
                                                        r, c);
    if (st != PowerStatus::kOk) { return st; }
    for (int j = 0; j < n_horizons; ++j) {
      if (c[j].discharge_current_A < r[j].discharge_current_A) {
        r[j].discharge_current_A = c[j].discharge_current_A;
        r[j].discharge_cell = k;
        r[j].discharge_limited_by = c[j].discharge_limited_by;
      }
      if (c[j].charge_current_A < r[j].charge_current_A) {
        r[j].charge_current_A = c[j].charge_current_A;
        r[j].charge_cell = k;
        r[j].charge_limited_by = c[j].charge_limited_by;
      }
    }
  }
  // Ties at 0 A: the screen above solves no cell once one is at 0 A, so the first such cell was named; name the one
  // furthest along instead (the fullest for charge, the emptiest for discharge), the cell that stops the string (a
  // 14s2p sweep named cell 2 or 4 at full where cell 9, the fullest, was also at 0 A). Only where the string's
  // limit is 0 A: each cell's limit at that horizon, unscreened.
  for (int j = 0; j < n_horizons; ++j) {
    if (!(r[j].discharge_current_A > T(0)) || !(r[j].charge_current_A > T(0))) {
      detail::name_furthest_at_zero(pack, temperature_degC, c0, horizons_s[j], r[j]);
    }
  }
  // the string's power: every cell's voltage at the horizon's end under the string's current
  T v_dis[kMaxHorizons] = {};
  T v_chg[kMaxHorizons] = {};
  for (int k = 0; k < pack.n_cells(); ++k) {
    detail::add_string_voltages(pack.cell(k), temperature_degC[k], c0, horizons_s, n_horizons, r, v_dis, v_chg);
  }
  for (int j = 0; j < n_horizons; ++j) {
    r[j].discharge_power_W = r[j].discharge_current_A * v_dis[j];
    r[j].charge_power_W = r[j].charge_current_A * v_chg[j];
    out[j] = r[j];
  }
  return PowerStatus::kOk;
}

/// Series-string limits of a pack (pack/pack.hpp's PackEstimator, or anything with n_cells() and cell(k)), each
/// cell at its own temperature `temperature_degC[k]`. kOk fills `out`; otherwise `out` is untouched.
template <class PackT, typename T>
PowerStatus pack_power_limits(const PackT& pack, const T* temperature_degC, const PowerConfig<T>& cfg,
                              PackPowerLimits<T>& out) {
  return pack_power_limits_horizons(pack, temperature_degC, cfg, &cfg.horizon_s, 1, &out);
}

}  // namespace power
}  // namespace cellsense
