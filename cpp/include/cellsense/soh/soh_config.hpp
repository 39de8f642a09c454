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
  T r0_voltage_sigma_V = T(0.005);     ///< noise of one voltage sample in a difference (V)
  T r0_gate_nis = T(16);               ///< chi-square gate of the R0 update (1 dof)
  T r0_scale_min = T(0.2);             ///< bounds of the R0 factor (1)
  T r0_scale_max = T(5.0);
  bool ocv_learning = true;            ///< learn the OCV correction (OCV ageing)
  T ocv_sigma_V = T(0.05);             ///< 1 sigma of each OCV node's prior (and cap of its variance) (V); 30 mV before 2026-12-06 (docs/soh.md)
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
};

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
};

/// Cap of SohState::rest_s (s): bounded state; far beyond any anchor_rest_s in use.
constexpr float kRestCap_s = 1.0e6f;

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

}  // namespace soh
}  // namespace cellsense
