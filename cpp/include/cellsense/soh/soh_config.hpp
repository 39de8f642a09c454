// SPDX-License-Identifier: Apache-2.0
// Tuning, saved state and constants shared by the SOH tracker (soh/soh_tracker.hpp) and its two
// filters beside the SOC filter: the R0 filter (soh/r0_filter.hpp) and the OCV filter
// (soh/ocv_filter.hpp). SohState is what the tracker saves and restores (the C API's cs_soh_state
// mirrors it field by field; cpp/src/c_api*.cpp).
#pragma once

#include <cmath>
#include <cstdint>

#include "cellsense/model/ecm.hpp"
#include "cellsense/soh/capacity_awtls.hpp"

namespace cellsense {
namespace soh {

/// Cap of SohState::rest_s (s): bounded state; far beyond any anchor_rest_s in use.
constexpr float kRestCap_s = 1.0e6f;
/// A capacity pair's charge must agree with its SOC change within this factor of the capacity in use: the pair
/// closes (updates the capacity) only if |charge| / (|x| Q) is in [1 / kPairChargeRatio, kPairChargeRatio]. A pair
/// whose SOC "change" came without charge (the SOC filter's or the OCV correction's move over a rest: a learned OCV
/// node moved the own-OCV SOC of a rest 0.074 -> 0.375 with 0 A h counted, and the capacity sigma fell 0.28 -> 0.11 A h
/// with no evidence; 2026-12-07) is dropped. 2: a cell at half or twice the capacity in use is far outside any ageing
/// between two updates, so genuine pairs pass.
constexpr float kPairChargeRatio = 2.0f;
/// The OCV learner (soh/ocv_filter.hpp) takes a rest sample (|i| <= rest_current_A) only after this long at rest (s):
/// a real cell keeps relaxing for minutes after a load, slower than a fitted ECM's RC pairs, and the learner took that
/// relaxation for an OCV shift. On the Panasonic 18650PF with the tester's exact current, US06's final ~200 s rest
/// raised the SOC-1/6 node by 33-48 mV, and the chain US06 -> HWFET_a -> LA92 -> NN with the state carried read 1.11 /
/// 2.50 / 3.45 / 2.35 % SOC RMSE against 1.11 / 0.74 / 0.77 / 0.84 % without OCV learning; with 300 s it reads the
/// latter exactly. Load samples are unchanged (weighted down by ocv_load_fraction). Cost on the PyBaMM ageing truth:
/// aged-cell SOC RMSE (EKF) 1.26 -> 1.34 % (bar 1.5); 600 s gave 1.40 %. 2026-12-07.
constexpr float kOcvMinRest_s = 300.0f;

namespace detail {
/// Largest magnitude the SOH code treats as finite (below float's maximum, so it holds for float and double).
template <typename T>
constexpr T kBig = T(3.0e38);
/// Finite (neither NaN nor +-Inf, nor beyond kBig).
template <typename T>
bool finite(T v) { return std::fabs(v) <= kBig<T>; }
/// In (0, kBig].
template <typename T>
bool positive(T v) { return v > T(0) && v <= kBig<T>; }
}  // namespace detail

/// Which SohConfig setting is out of range (SohConfig::check): the one rule, named, that SohTracker::init,
/// the C API (cs_soh_init), the bindings and cellsense.estimators.soh.SohSettings apply and report. One value
/// per rule; "finite" is |v| <= 3e38 (detail::finite), "above 0" is in (0, 3e38] (detail::positive).
enum class SohConfigIssue : std::uint8_t {
  kOk = 0,
  kPairMinDeltaSoc = 1,      ///< pair_min_delta_soc not above 0
  kPairMaxSocSigma = 2,      ///< pair_max_soc_sigma not above 0
  kRestCurrent = 3,          ///< rest_current_A negative or not finite
  kCurrentSigma = 4,         ///< current_sigma_A negative or not finite
  kCurrentOffsetSigma = 5,   ///< current_offset_sigma_A outside [0, 1e6] A
  kAnchorRest = 6,           ///< anchor_rest_s outside [0, kRestCap_s] s
  kR0ScaleSigma = 7,         ///< r0_scale_sigma not above 0
  kR0ScalePerSqrtS = 8,      ///< r0_scale_per_sqrt_s negative or not finite
  kR0MinStep = 9,            ///< r0_min_step_A not above 0
  kR0MaxDt = 10,             ///< r0_max_dt_s not above 0
  kR0VoltageSigma = 11,      ///< r0_voltage_sigma_V not above 0
  kR0GateNis = 12,           ///< r0_gate_nis not above 0
  kR0ScaleBounds = 13,       ///< r0_scale_min not above 0, or r0_scale_max not above it or not finite
  kR0ScaleOutside = 14,      ///< the model's R0 factor outside [r0_scale_min, r0_scale_max]
  kOcvSigma = 15,            ///< with OCV learning: ocv_sigma_V outside (0, 1] V
  kOcvVPerSqrtS = 16,        ///< with OCV learning: ocv_V_per_sqrt_s negative or not finite
  kOcvSocPerSqrtS = 17,      ///< with OCV learning: ocv_soc_per_sqrt_s negative or not finite
  kOcvLoadFraction = 18,     ///< with OCV learning: ocv_load_fraction negative or not finite
  kOcvMax = 19,              ///< with OCV learning: ocv_max_V outside (0, 1] V
  kLearnTemperatures = 20,   ///< learn_min / learn_max_temperature_degC not finite, or min above max
  kCapacityForgetting = 21,  ///< capacity_forgetting outside (0, 1]
  kCapacityBounds = 22,      ///< capacity bounds (0: 0.3 x / 1.5 x the capacity) not 0 < min < max <= 1e30 A h
  kCapacityOutside = 23,     ///< the model's capacity outside [capacity_min_Ah, capacity_max_Ah]
  kCapacitySigma = 24,       ///< capacity_sigma_Ah outside (0, 1e15] A h
  kR0MinDt = 25,             ///< r0_min_dt_s outside [0, r0_max_dt_s] s
};

/// The last SohConfigIssue value (for loops over every issue).
constexpr SohConfigIssue kLastSohConfigIssue = SohConfigIssue::kR0MinDt;

/// The SohConfig field(s) an issue is about (the C struct's, the bindings' dict keys, SohSettings' field names;
/// initial_r0_scale / initial_capacity_Ah: the model's values, which the Python and C initial settings set).
constexpr const char* soh_config_field(SohConfigIssue i) {
  switch (i) {
    case SohConfigIssue::kOk: return "";
    case SohConfigIssue::kPairMinDeltaSoc: return "pair_min_delta_soc";
    case SohConfigIssue::kPairMaxSocSigma: return "pair_max_soc_sigma";
    case SohConfigIssue::kRestCurrent: return "rest_current_A";
    case SohConfigIssue::kCurrentSigma: return "current_sigma_A";
    case SohConfigIssue::kCurrentOffsetSigma: return "current_offset_sigma_A";
    case SohConfigIssue::kAnchorRest: return "anchor_rest_s";
    case SohConfigIssue::kR0ScaleSigma: return "r0_scale_sigma";
    case SohConfigIssue::kR0ScalePerSqrtS: return "r0_scale_per_sqrt_s";
    case SohConfigIssue::kR0MinStep: return "r0_min_step_A";
    case SohConfigIssue::kR0MaxDt: return "r0_max_dt_s";
    case SohConfigIssue::kR0VoltageSigma: return "r0_voltage_sigma_V";
    case SohConfigIssue::kR0GateNis: return "r0_gate_nis";
    case SohConfigIssue::kR0ScaleBounds: return "r0_scale_min/r0_scale_max";
    case SohConfigIssue::kR0ScaleOutside: return "initial_r0_scale";
    case SohConfigIssue::kOcvSigma: return "ocv_sigma_V";
    case SohConfigIssue::kOcvVPerSqrtS: return "ocv_V_per_sqrt_s";
    case SohConfigIssue::kOcvSocPerSqrtS: return "ocv_soc_per_sqrt_s";
    case SohConfigIssue::kOcvLoadFraction: return "ocv_load_fraction";
    case SohConfigIssue::kOcvMax: return "ocv_max_V";
    case SohConfigIssue::kLearnTemperatures: return "learn_min_temperature_degC/learn_max_temperature_degC";
    case SohConfigIssue::kCapacityForgetting: return "capacity_forgetting";
    case SohConfigIssue::kCapacityBounds: return "capacity_min_Ah/capacity_max_Ah";
    case SohConfigIssue::kCapacityOutside: return "initial_capacity_Ah";
    case SohConfigIssue::kCapacitySigma: return "capacity_sigma_Ah";
    case SohConfigIssue::kR0MinDt: return "r0_min_dt_s";
  }
  return "unknown";
}

/// The rule an issue breaks, in words, naming the field and its range (the bounds SohConfig::check applies).
constexpr const char* soh_config_message(SohConfigIssue i) {
  switch (i) {
    case SohConfigIssue::kOk: return "ok";
    case SohConfigIssue::kPairMinDeltaSoc: return "pair_min_delta_soc must be above 0 and finite";
    case SohConfigIssue::kPairMaxSocSigma: return "pair_max_soc_sigma must be above 0 and finite";
    case SohConfigIssue::kRestCurrent: return "rest_current_A must be finite and at least 0 A";
    case SohConfigIssue::kCurrentSigma: return "current_sigma_A must be finite and at least 0 A";
    case SohConfigIssue::kCurrentOffsetSigma: return "current_offset_sigma_A must be in [0, 1e6] A";
    case SohConfigIssue::kAnchorRest: return "anchor_rest_s must be in [0, 1e6] s";
    case SohConfigIssue::kR0ScaleSigma: return "r0_scale_sigma must be above 0 and finite";
    case SohConfigIssue::kR0ScalePerSqrtS: return "r0_scale_per_sqrt_s must be finite and at least 0";
    case SohConfigIssue::kR0MinStep: return "r0_min_step_A must be above 0 A and finite";
    case SohConfigIssue::kR0MaxDt: return "r0_max_dt_s must be above 0 s and finite";
    case SohConfigIssue::kR0VoltageSigma: return "r0_voltage_sigma_V must be above 0 V and finite";
    case SohConfigIssue::kR0GateNis: return "r0_gate_nis must be above 0 and finite";
    case SohConfigIssue::kR0ScaleBounds: return "r0_scale_min must be above 0 and below r0_scale_max, both finite";
    case SohConfigIssue::kR0ScaleOutside:
      return "initial_r0_scale (the model's R0 factor) must be in [r0_scale_min, r0_scale_max]";
    case SohConfigIssue::kOcvSigma: return "ocv_sigma_V must be in (0, 1] V (with OCV learning)";
    case SohConfigIssue::kOcvVPerSqrtS: return "ocv_V_per_sqrt_s must be finite and at least 0 (with OCV learning)";
    case SohConfigIssue::kOcvSocPerSqrtS:
      return "ocv_soc_per_sqrt_s must be finite and at least 0 (with OCV learning)";
    case SohConfigIssue::kOcvLoadFraction:
      return "ocv_load_fraction must be finite and at least 0 (with OCV learning)";
    case SohConfigIssue::kOcvMax: return "ocv_max_V must be in (0, 1] V (with OCV learning)";
    case SohConfigIssue::kLearnTemperatures:
      return "learn_min_temperature_degC must be at most learn_max_temperature_degC, both finite";
    case SohConfigIssue::kCapacityForgetting: return "capacity_forgetting must be in (0, 1]";
    case SohConfigIssue::kCapacityBounds:
      return "capacity_min_Ah must be above 0 and below capacity_max_Ah <= 1e30 A h (0: 0.3 x / 1.5 x the capacity)";
    case SohConfigIssue::kCapacityOutside:
      return "initial_capacity_Ah (the model's capacity) must be in [capacity_min_Ah, capacity_max_Ah]";
    case SohConfigIssue::kCapacitySigma: return "capacity_sigma_Ah must be in (0, 1e15] A h";
    case SohConfigIssue::kR0MinDt: return "r0_min_dt_s must be in [0, r0_max_dt_s] s";
  }
  return "unknown";
}

/// Tuning and gates of the SOH tracker. Defaults suit a ~5 Ah cell logged at 1 Hz (docs/soh.md).
template <typename T>
struct SohConfig {
  T capacity_sigma_Ah = T(0.5);        ///< 1 sigma of the initial capacity (A h): the prior
  T capacity_forgetting = T(0.8);      ///< fading memory per capacity pair, (0, 1]
  T capacity_min_Ah = T(0);            ///< bounds of the estimate (A h); 0: 0.3 x / 1.5 x the initial
  T capacity_max_Ah = T(0);
  T pair_min_delta_soc = T(0.3);       ///< |SOC change| needed to close a capacity pair (1)
  T pair_max_soc_sigma = T(0.03);      ///< SOC sigma at which a pair may close or open (1)
  T rest_current_A = T(0.05);          ///< |i| at or below this is a rest sample (A)
  T current_sigma_A = T(0.05);         ///< current-sensor noise for the charge's variance (A)
  /// Current-sensor offset, 1 sigma (A): constant over a capacity pair, so its charge error grows with
  /// the pair's duration (sigma_b t), not with its square root: a pair's charge variance is
  /// (sqrt(var) + sigma_b dt / 3600)^2 + (sigma_i dt / 3600)^2 per step. A pair spanning hours of a
  /// biased sensor then weighs little against the capacity prior. 0: white noise only.
  T current_offset_sigma_A = T(0);
  /// Trusted anchors (s): a capacity pair opens or closes only at a rest sample after the current has
  /// stayed at rest (|i| <= rest_current_A) for at least this long, or at the first rest sample after
  /// restart_pairing(true) (the SOC was just set from a rested OCV). A vehicle's stop in a drive cycle
  /// (seconds to a minute) is not a rest: the SOC filter's SOC there carries the dynamics' model error
  /// (1-2 % on the Panasonic 18650PF drive cycles) and a pair read between two such samples takes
  /// that error, and a current sensor's offset, for ageing (docs/soh.md "Trusted anchors"). 0: every rest
  /// sample is an anchor (the behaviour before 2026-12-06).
  T anchor_rest_s = T(45);
  T r0_scale_sigma = T(0.3);           ///< 1 sigma of the initial R0 factor (1)
  T r0_scale_per_sqrt_s = T(2e-4);     ///< random walk of the R0 factor (1/sqrt(s))
  T r0_min_step_A = T(1.0);            ///< |i_k - i_{k-1}| needed for an R0 update (A)
  T r0_max_dt_s = T(2.0);              ///< longest sample interval used for an R0 update (s)
  /// Shortest span of an R0 difference (s). A current step over a shorter interval opens a window that is carried
  /// over the following samples until its span reaches this, at a sample without a further step (soh/r0_filter.hpp).
  /// A voltage sample whose measurement lags the current's by a fraction of a second (the Panasonic 18650PF tester
  /// at 10 Hz: the voltage change at a current step is a third of R0 di at the same sample and the rest one sample
  /// later) shows only part of R0 di over one short interval: R0 learning over single 0.1 s intervals read the factor
  /// down to 0.25 and took the SOC RMSE from 1.05 to 2.07 % (US06) and 0.87 to 2.68 % (HWFET_a); with the 0.5 s
  /// window 1.08 / 0.93 %. Logs at 0.5 s or slower are unchanged (every interval is its own difference), and the
  /// PyBaMM ageing truth's 1 ms step rows are joined with the 1 s row after them (R0 error -8.7 -> -9.5 %, SOC RMSE
  /// 1.40 -> 1.26 %; docs/soh.md "R0"). 0: every interval on its own (the rule before 2026-12-07).
  T r0_min_dt_s = T(0.5);
  T r0_voltage_sigma_V = T(0.005);     ///< noise of one voltage sample in a difference (V)
  T r0_gate_nis = T(16);               ///< chi-square gate of the R0 update (1 dof)
  T r0_scale_min = T(0.2);             ///< bounds of the R0 factor (1)
  T r0_scale_max = T(5.0);
  bool ocv_learning = true;            ///< learn the OCV correction (OCV ageing)
  /// 1 sigma of each OCV node's prior (and cap of its variance) (V): 70 mV since 2026-12-06 (30, then 50 mV before;
  /// the aged PyBaMM cell's mid-SOC node learns 52 mV, which a 50 mV prior pulled back; docs/soh.md)
  T ocv_sigma_V = T(0.07);
  T ocv_V_per_sqrt_s = T(1e-5);        ///< random walk of the OCV nodes (V/sqrt(s))
  T ocv_soc_per_sqrt_s = T(1e-4);      ///< random walk of the OCV filter's SOC (1/sqrt(s))
  T ocv_load_fraction = T(1.0);        ///< under load, sigma += this x R0 |i|; 0: learn at rests only (1)
  T ocv_max_V = T(0.1);                ///< bound of each OCV node (V), in (0, 1]
  /// Learning window (degC): capacity pairs open and close, R0 and the OCV nodes update only at samples
  /// whose temperature lies in [learn_min_temperature_degC, learn_max_temperature_degC]. A cold cell's
  /// model error (resistance, OCV, the charge a cold cell can deliver) is not ageing and must not be
  /// learned as ageing (docs/real-data.md: on the Panasonic 18650PF at 10 .. -20 degC, learning made the
  /// SOC 0.4-10 points worse; a 10 degC chamber run self-heats to 17 degC, hence 20 degC: the OCV is
  /// measured at 25 degC only). Outside the window the SOC filter runs on the health learned so far.
  T learn_min_temperature_degC = T(20);
  T learn_max_temperature_degC = T(50);

  /// The capacity estimator's configuration for a model of capacity `capacity_Ah`: the forgetting factor and
  /// the bounds (capacity_min_Ah / capacity_max_Ah, 0: 0.3 x / 1.5 x the capacity).
  typename CapacityAwtls<T>::Config capacity_config(T capacity_Ah) const {
    typename CapacityAwtls<T>::Config cc;
    cc.forgetting = capacity_forgetting;
    cc.capacity_min_Ah = capacity_min_Ah > T(0) ? capacity_min_Ah : T(0.3) * capacity_Ah;
    cc.capacity_max_Ah = capacity_max_Ah > T(0) ? capacity_max_Ah : T(1.5) * capacity_Ah;
    return cc;
  }

  /// The first setting out of range for a model of capacity `capacity_Ah` and R0 factor `r0_scale` (the
  /// tracker's prior), kOk if none; NaN fails every bound. SohTracker::init refuses exactly these. The bounds
  /// keep every variance, gate and step of the three filters positive and finite (docs/soh.md); the capacity
  /// rules are CapacityAwtls::check's.
  SohConfigIssue check(T capacity_Ah, T r0_scale) const;
};

/// SohConfig::check's body: the rules, in the order they are checked (a free function: gcovr attributes the
/// lines of this body, written as a member of SohConfig, to soh_config_message and loses their branches).
template <typename T>
SohConfigIssue soh_config_issue(const SohConfig<T>& c, T capacity_Ah, T r0_scale) {
  if (!detail::positive(c.pair_min_delta_soc)) { return SohConfigIssue::kPairMinDeltaSoc; }
  if (!detail::positive(c.pair_max_soc_sigma)) { return SohConfigIssue::kPairMaxSocSigma; }
  if (!(c.rest_current_A >= T(0)) || !detail::finite(c.rest_current_A)) { return SohConfigIssue::kRestCurrent; }
  if (!(c.current_sigma_A >= T(0)) || !detail::finite(c.current_sigma_A)) { return SohConfigIssue::kCurrentSigma; }
  if (!(c.current_offset_sigma_A >= T(0)) || !(c.current_offset_sigma_A <= T(1e6))) {
    return SohConfigIssue::kCurrentOffsetSigma;
  }
  if (!(c.anchor_rest_s >= T(0)) || !(c.anchor_rest_s <= T(kRestCap_s))) { return SohConfigIssue::kAnchorRest; }
  if (!detail::positive(c.r0_scale_sigma)) { return SohConfigIssue::kR0ScaleSigma; }
  if (!(c.r0_scale_per_sqrt_s >= T(0)) || !detail::finite(c.r0_scale_per_sqrt_s)) {
    return SohConfigIssue::kR0ScalePerSqrtS;
  }
  if (!detail::positive(c.r0_min_step_A)) { return SohConfigIssue::kR0MinStep; }
  if (!detail::positive(c.r0_max_dt_s)) { return SohConfigIssue::kR0MaxDt; }
  if (!(c.r0_min_dt_s >= T(0)) || !(c.r0_min_dt_s <= c.r0_max_dt_s)) { return SohConfigIssue::kR0MinDt; }
  if (!detail::positive(c.r0_voltage_sigma_V)) { return SohConfigIssue::kR0VoltageSigma; }
  if (!detail::positive(c.r0_gate_nis)) { return SohConfigIssue::kR0GateNis; }
  if (!detail::positive(c.r0_scale_min) || !(c.r0_scale_max > c.r0_scale_min) || !detail::finite(c.r0_scale_max)) {
    return SohConfigIssue::kR0ScaleBounds;
  }
  if (!(r0_scale >= c.r0_scale_min && r0_scale <= c.r0_scale_max)) { return SohConfigIssue::kR0ScaleOutside; }
  if (c.ocv_learning) {
    if (!detail::positive(c.ocv_sigma_V) || !(c.ocv_sigma_V <= T(1))) { return SohConfigIssue::kOcvSigma; }
    if (!(c.ocv_V_per_sqrt_s >= T(0)) || !detail::finite(c.ocv_V_per_sqrt_s)) { return SohConfigIssue::kOcvVPerSqrtS; }
    if (!(c.ocv_soc_per_sqrt_s >= T(0)) || !detail::finite(c.ocv_soc_per_sqrt_s)) {
      return SohConfigIssue::kOcvSocPerSqrtS;
    }
    if (!(c.ocv_load_fraction >= T(0)) || !detail::finite(c.ocv_load_fraction)) {
      return SohConfigIssue::kOcvLoadFraction;
    }
    if (!(c.ocv_max_V > T(0) && c.ocv_max_V <= T(1))) { return SohConfigIssue::kOcvMax; }
  }
  if (!detail::finite(c.learn_min_temperature_degC) || !detail::finite(c.learn_max_temperature_degC) ||
      !(c.learn_min_temperature_degC <= c.learn_max_temperature_degC)) {
    return SohConfigIssue::kLearnTemperatures;
  }
  // CapacityAwtls' issues 1..4 are kCapacityForgetting .. kCapacitySigma, in order (asserted below).
  const auto cap = CapacityAwtls<T>::check(capacity_Ah, c.capacity_sigma_Ah, c.capacity_config(capacity_Ah));
  return cap == CapacityAwtls<T>::Issue::kOk
             ? SohConfigIssue::kOk
             : static_cast<SohConfigIssue>(static_cast<int>(SohConfigIssue::kLearnTemperatures) +
                                           static_cast<int>(cap));
}

template <typename T>
SohConfigIssue SohConfig<T>::check(T capacity_Ah, T r0_scale) const {
  return soh_config_issue(*this, capacity_Ah, r0_scale);
}

static_assert(static_cast<int>(CapacityAwtls<float>::Issue::kForgetting) == 1 &&
                  static_cast<int>(CapacityAwtls<float>::Issue::kBounds) == 2 &&
                  static_cast<int>(CapacityAwtls<float>::Issue::kPriorOutside) == 3 &&
                  static_cast<int>(CapacityAwtls<float>::Issue::kSigma) == 4 &&
                  static_cast<int>(SohConfigIssue::kCapacityForgetting) == 21 &&
                  static_cast<int>(SohConfigIssue::kCapacityBounds) == 22 &&
                  static_cast<int>(SohConfigIssue::kCapacityOutside) == 23 &&
                  static_cast<int>(SohConfigIssue::kCapacitySigma) == 24 &&
                  static_cast<int>(SohConfigIssue::kLearnTemperatures) == 20,
              "SohConfig::check maps CapacityAwtls' issues onto kCapacityForgetting .. kCapacitySigma");

/// Correlation of neighbouring OCV nodes in their prior (1).
constexpr float kOcvPriorCorrelation = 0.6f;

/// Size of the OCV filter's state: [z_c, c_1 .. c_K].
constexpr int kOcvFilterStates = 1 + model::kEcmOcvNodes;

/// Everything the tracker needs to continue (saved with the SOC state between logs).
template <typename T>
struct SohState {
  CapacitySums<T> capacity;   ///< the capacity estimator's sums and estimate
  T r0_scale;                 ///< factor on the R0 table (1)
  T r0_scale_var;             ///< its variance (1)
  T anchor_soc;               ///< SOC at the open capacity pair's start (1)
  T anchor_soc_var;           ///< its variance (1)
  T charge_Ah;                ///< eta i dt / 3600 summed since the anchor (A h)
  T charge_var_Ah2;           ///< its variance (A^2 h^2)
  T prev_residual_V;          ///< rho of the previous fused sample, under the current r0_scale (V)
  T prev_g_V;                 ///< R0_table(z, T) i of the previous fused sample (V)
  T prev_current_A;           ///< current of the previous fused sample (A)
  T ocv_x[kOcvFilterStates];                          ///< OCV filter state [z_c (1), c_1 .. c_K (V)]
  T ocv_P[kOcvFilterStates][kOcvFilterStates];     ///< its covariance
  std::uint8_t anchored;      ///< 1 when a capacity pair is open
  std::uint8_t prev_valid;    ///< 1 when the previous accepted sample was fused
  std::uint8_t ocv_resync;    ///< 1: the OCV filter takes the SOC filter's SOC at the next step
  T rest_s;                   ///< time the current has stayed at rest so far (s), capped at kRestCap_s
  T anchor_age_s;             ///< time since the last trusted anchor (s); kRestCap_s: none yet
  T r0_window_s;              ///< span of the open R0 difference window (s), <= r0_max_dt_s; 0: none open
};

}  // namespace soh
}  // namespace cellsense
