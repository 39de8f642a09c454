// SPDX-License-Identifier: Apache-2.0
// State of health beside the SOC filter: total capacity (recursive AWTLS, soh/capacity_awtls.hpp)
// and the series resistance R0 (a scalar Kalman filter on a factor of the cell's R0 table), each
// with its uncertainty. The SOC filter uses both from the next step on (Estimator::set_model_health).
//
// The tracker does not own the estimator: step() runs Estimator::step() and then updates itself from
// what the step reported. A rejected step (status >= 10) changes neither the estimator nor the
// tracker, bit for bit. Updates are gated on evidence (docs/soh.md):
//  - capacity: a pair (x = SOC change, y = charge) is closed only at a rest sample (|i| <= rest
//    current), when |x| >= pair_min_delta_soc (enough charge throughput) and the SOC filter's sigma
//    is <= pair_max_soc_sigma; rests and constant-current plateaus add no pair by themselves.
//  - R0: only at a current step |i_k - i_{k-1}| >= r0_min_step_A (enough excitation), over
//    dt <= r0_max_dt_s, both samples fused, and the R0 filter's own NIS within its gate.
// The R0 filter (measurement, equations, sources) is soh/r0_filter.hpp; the OCV filter (OCV ageing:
// the learned OCV correction, a dual filter beside the SOC filter) is soh/ocv_filter.hpp; the
// configuration and the saved state of all three parts are soh/soh_config.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "cellsense/estimator/status.hpp"
#include "cellsense/math/matrix.hpp"
#include "cellsense/model/ecm.hpp"
#include "cellsense/soh/capacity_awtls.hpp"
#include "cellsense/soh/ocv_filter.hpp"
#include "cellsense/soh/r0_filter.hpp"
#include "cellsense/soh/soh_config.hpp"

namespace cellsense {
namespace soh {

/// One step of the SOC filter plus what SOH did with it.
template <typename T>
struct SohStepReport {
  StepReport<T> soc;          ///< the SOC filter's report
  T capacity_Ah;              ///< capacity in use after the step (A h)
  T capacity_sigma_Ah;        ///< its 1 sigma (A h)
  T r0_Ohm;                   ///< R0 in use at the SOC and temperature of the step (Ohm); NaN if rejected
  T r0_sigma_Ohm;             ///< its 1 sigma (Ohm); NaN if rejected
  T r0_scale;                 ///< factor on the R0 table (1)
  T r0_scale_sigma;           ///< its 1 sigma (1)
  T ocv_shift_V;              ///< OCV correction in use at the step's SOC (V); 0 when OCV learning is off
  bool capacity_updated;      ///< a capacity pair closed in this step
  bool r0_updated;            ///< the R0 factor was updated in this step
  bool ocv_updated;           ///< the OCV correction was updated in this step
};

/// SOH tracker for an Estimator over the ECM (estimator/estimator.hpp, model/ecm.hpp).
template <class EstimatorT>
class SohTracker {
 public:
  using T = typename EstimatorT::T;

  /// Set up from the estimator's model (capacity prior = the capacity it uses now, R0 factor
  /// prior = its factor). The estimator is then told to use them. False (tracker unusable,
  /// estimator unchanged) when the configuration is out of range.
  bool init(EstimatorT& est, const SohConfig<T>& c) {
    initialised_ = false;
    const T q0 = est.model().capacity_Ah();
    const T r0 = est.model().r0_scale();
    // The one rule (SohConfig::check, soh/soh_config.hpp), including the capacity estimator's (CapacityAwtls::check).
    if (c.check(q0, r0) != SohConfigIssue::kOk) { return false; }
    CapacityAwtls<T> cap;
    // Cannot fail: check() applied CapacityAwtls::check to these same arguments.
    static_cast<void>(cap.init(q0, c.capacity_sigma_Ah, c.capacity_config(q0)));
    config_ = c;
    cap_ = cap;
    st_ = SohState<T>{};
    st_.capacity = cap.sums();
    st_.r0_scale = r0;
    st_.r0_scale_var = c.r0_scale_sigma * c.r0_scale_sigma;
    st_.anchored = 0;
    st_.prev_valid = 0;
    st_.rest_s = T(0);
    st_.anchor_age_s = T(kRestCap_s);
    st_.r0_window_s = T(0);
    ocv_.init(est, c, st_);
    initialised_ = est.set_model_health(q0, r0) && (!c.ocv_learning || est.set_model_ocv_correction(st_.ocv_x + 1));
    return initialised_;
  }

  /// One sample through the estimator, then the SOH updates. Rejected steps change nothing, except a step rejected
  /// as a logger gap (StepStatus::kRejectedDtTooLarge: dt above the estimator's dt_max_s): the charge that moved in
  /// it is counted nowhere, so a capacity pair open across it would read the SOC change without that charge (a
  /// 10-minute gap in a 25 degC UDDS log took the capacity 13 % low), the OCV filter's own charge count is broken
  /// and the R0 difference has no previous sample. The tracker then forgets all three (restart_pairing(false): no
  /// pair until the next trusted anchor); the capacity, the R0 factor, the OCV nodes and the SOC filter keep their
  /// bits.
  SohStepReport<T> step(EstimatorT& est, T dt_s, T current_A, T voltage_V, T temperature_degC) {
    const StepReport<T> r = est.step(dt_s, current_A, voltage_V, temperature_degC);
    if (initialised_ && r.status == StepStatus::kRejectedDtTooLarge) { restart_pairing(false); }
    if (!initialised_ || is_rejected(r.status)) { return report(r, false, false, nullptr, false, est.soc()); }
    const auto& model = est.model();
    bool cap_updated = false;
    bool r0_updated = false;
    // Charge since the anchor, as the SOC filter counts it (eta on charge; model/ecm.hpp).
    const T eta = current_A < T(0) ? model.params().coulombic_efficiency : T(1);
    const T dq_Ah = eta * current_A * dt_s / T(3600);
    const T sq_Ah = eta * config_.current_sigma_A * dt_s / T(3600);
    st_.charge_Ah = st_.charge_Ah + dq_Ah;
    if (config_.current_offset_sigma_A > T(0)) {
      // fully correlated offset: standard deviations add (see SohConfig::current_offset_sigma_A)
      const T sd_Ah = std::sqrt(st_.charge_var_Ah2) + config_.current_offset_sigma_A * dt_s / T(3600);
      st_.charge_var_Ah2 = sd_Ah * sd_Ah + sq_Ah * sq_Ah;
    } else {
      st_.charge_var_Ah2 = st_.charge_var_Ah2 + sq_Ah * sq_Ah;
    }
    r0_predict(config_, st_, dt_s);  // R0 factor: random walk (soh/r0_filter.hpp)

    const T soc = est.soc();
    const bool fused = r.status == StepStatus::kFused || r.status == StepStatus::kFusedAfterGateTimeout;
    // Learn only inside the temperature window (SohConfig::learn_min/max_temperature_degC).
    const bool learn = temperature_degC >= config_.learn_min_temperature_degC &&
                       temperature_degC <= config_.learn_max_temperature_degC;
    T r0_table = T(0);
    if (fused) {
      r0_table = model.r0_table_Ohm(soc, temperature_degC);
      r0_updated = r0_fused_sample(config_, st_, r, r0_table * current_A, dt_s, current_A, learn);
    } else {
      r0_unfused_sample(st_);  // predicted only: no residual to difference against
    }

    // Rest timer (the time the current has stayed at rest, this sample's interval included) and the
    // age of the last trusted anchor (SohConfig::anchor_rest_s): a physical fact, whatever the temperature.
    const T abs_i = current_A < T(0) ? -current_A : current_A;
    if (abs_i <= config_.rest_current_A) {
      const T rest_s = st_.rest_s + dt_s;
      st_.rest_s = rest_s < T(kRestCap_s) ? rest_s : T(kRestCap_s);
    } else {
      st_.rest_s = T(0);
    }
    const bool anchor = abs_i <= config_.rest_current_A && st_.rest_s >= config_.anchor_rest_s;
    if (anchor) {
      st_.anchor_age_s = T(0);
    } else {
      const T age_s = st_.anchor_age_s + dt_s;
      st_.anchor_age_s = age_s < T(kRestCap_s) ? age_s : T(kRestCap_s);
    }

    bool ocv_updated = false;
    if (config_.ocv_learning) {
      ocv_updated = ocv_.step(est, config_, st_, dt_s, current_A, voltage_V, temperature_degC, fused && learn);
    }

    // Capacity pair: rest samples with a well-known SOC away from the clamps (below).
    last_temperature_degC_ = temperature_degC;
    const T soc_var = est.covariance()(0, 0);
    const auto& ec = est.config();
    const bool soc_ok = learn && soc_var <= config_.pair_max_soc_sigma * config_.pair_max_soc_sigma &&
                        soc > ec.soc_min && soc < ec.soc_max;
    // Capacity pair: opens only at a trusted anchor (a rest of anchor_rest_s, or the SOC just set from a
    // rested OCV); closes at the first rest sample once |SOC change| >= pair_min_delta_soc (e.g. the end
    // of a discharge, whose rest may not be logged in full), and the next pair starts there only if that
    // sample is itself a trusted anchor.
    const bool rest_sample = abs_i <= config_.rest_current_A;
    if (soc_ok && rest_sample && (anchor || st_.anchored != 0)) {
      const T pz = pair_soc(est, soc, temperature_degC);
      if (st_.anchored == 0) {
        open_pair(pz, soc_var);
      } else {
        const T x = st_.anchor_soc - pz;
        const T ax = x < T(0) ? -x : x;
        if (ax >= config_.pair_min_delta_soc) {
          if (charge_agrees(ax) && cap_.update(x, st_.anchor_soc_var + soc_var, st_.charge_Ah, st_.charge_var_Ah2)) {
            st_.capacity = cap_.sums();
            cap_updated = true;
          }
          if (anchor) {
            open_pair(pz, soc_var);
          } else {
            drop_pair();
          }
        } else if (anchor && soc_var < st_.anchor_soc_var &&
                   (st_.charge_Ah < T(0) ? -st_.charge_Ah : st_.charge_Ah) <=
                       config_.pair_min_delta_soc * T(0.01) * cap_.capacity_Ah()) {
          open_pair(pz, soc_var);  // still at the start (no charge moved): a better-known start point
        }
      }
    }
    if (cap_updated || r0_updated) { est.set_model_health(cap_.capacity_Ah(), st_.r0_scale); }
    if (ocv_updated) { est.set_model_ocv_correction(st_.ocv_x + 1); }
    return report(r, cap_updated, r0_updated, fused ? &r0_table : nullptr, ocv_updated, soc);
  }

  /// Close the open capacity pair now, without waiting for a rest sample (the gates on |x| and on the
  /// SOC sigma still apply): for a log that ends under load, e.g. at a discharge cut-off. True when
  /// a pair closed (the estimator then uses the new capacity). Otherwise nothing changes.
  bool close_pair(EstimatorT& est) {
    if (!initialised_ || st_.anchored == 0) { return false; }
    const T soc = est.soc();
    const T soc_var = est.covariance()(0, 0);
    const auto& ec = est.config();
    if (!(soc_var <= config_.pair_max_soc_sigma * config_.pair_max_soc_sigma) || !(soc > ec.soc_min) ||
        !(soc < ec.soc_max)) {
      return false;
    }
    const T pz = pair_soc(est, soc, last_temperature_degC_);
    const T x = st_.anchor_soc - pz;
    const T ax = x < T(0) ? -x : x;
    if (!(ax >= config_.pair_min_delta_soc) || !charge_agrees(ax)) { return false; }
    CapacityAwtls<T> cap = cap_;
    if (!cap.update(x, st_.anchor_soc_var + soc_var, st_.charge_Ah, st_.charge_var_Ah2)) { return false; }
    if (!est.set_model_health(cap.capacity_Ah(), st_.r0_scale)) { return false; }
    cap_ = cap;
    st_.capacity = cap_.sums();
    drop_pair();  // under load: not a trusted anchor, so no new pair starts here (SohConfig::anchor_rest_s)
    return true;
  }

  /// Forget the open capacity pair and the previous residual: call after the SOC state was
  /// replaced from outside (e.g. SOC re-initialised from a rested OCV at the start of a log).
  /// The OCV filter restarts its SOC from the SOC filter's at the next step (its nodes are kept).
  /// `rested`: the SOC was just set from a rested OCV, so the first rest sample is a trusted anchor
  /// (SohConfig::anchor_rest_s); otherwise the rest timer restarts from 0.
  void restart_pairing(bool rested = false) {
    st_.rest_s = rested ? config_.anchor_rest_s : T(0);
    st_.anchor_age_s = rested ? T(0) : T(kRestCap_s);
    st_.ocv_resync = 1;
    st_.prev_valid = 0;
    st_.r0_window_s = T(0);
    drop_pair();
  }

  bool initialised() const { return initialised_; }
  const SohState<T>& state() const { return st_; }
  const SohConfig<T>& config() const { return config_; }
  T capacity_Ah() const { return cap_.capacity_Ah(); }
  T capacity_sigma_Ah() const { return cap_.sigma_Ah(); }
  T r0_scale() const { return st_.r0_scale; }
  /// 1 sigma of the R0 factor. Its variance is never negative (init: sigma^2; r0_predict: the minimum of
  /// a sum of squares; r0_fused_sample and set_state: only positive values), so no guard is needed.
  T r0_scale_sigma() const { return std::sqrt(st_.r0_scale_var); }
  /// OCV correction node values (V), kOcvFilterStates - 1 of them.
  const T* ocv_nodes_V() const { return st_.ocv_x + 1; }

  /// Restore a saved state and tell the estimator to use its capacity and R0 factor. Refused
  /// (false; tracker and estimator unchanged) unless every value is finite, the variances are
  /// positive (non-negative for the charge), the estimates within their bounds and the flags 0/1.
  bool set_state(EstimatorT& est, const SohState<T>& in) {
    if (!initialised_) { return false; }
    CapacityAwtls<T> cap = cap_;
    if (!cap.set_sums(in.capacity)) { return false; }
    if (!finite(in.r0_scale) || !(in.r0_scale >= config_.r0_scale_min && in.r0_scale <= config_.r0_scale_max) ||
        !positive(in.r0_scale_var) || !finite(in.anchor_soc) || !(in.anchor_soc_var >= T(0)) ||
        !finite(in.anchor_soc_var) || !finite(in.charge_Ah) || !(in.charge_var_Ah2 >= T(0)) ||
        !finite(in.charge_var_Ah2) || !finite(in.prev_residual_V) || !finite(in.prev_g_V) ||
        !finite(in.prev_current_A) || !(in.rest_s >= T(0)) || !(in.rest_s <= T(kRestCap_s)) ||
        !(in.anchor_age_s >= T(0)) || !(in.anchor_age_s <= T(kRestCap_s)) ||
        !(in.r0_window_s >= T(0)) || !(in.r0_window_s <= config_.r0_max_dt_s) || in.anchored > 1 || in.prev_valid > 1 || in.ocv_resync > 1 || !OcvFilter<EstimatorT>::state_ok(in) ||
        !OcvFilter<EstimatorT>::nodes_in_bound(config_, in)) {
      return false;
    }
    if (!est.set_model_health(cap.capacity_Ah(), in.r0_scale)) { return false; }
    // cannot be refused: OcvFilter::state_ok() checked the nodes finite and within +-1 V, as the model does
    if (config_.ocv_learning) { est.set_model_ocv_correction(in.ocv_x + 1); }
    cap_ = cap;
    st_ = in;
    return true;
  }

 private:
  static bool finite(T v) { return detail::finite(v); }
  static bool positive(T v) { return detail::positive(v); }

  /// The SOC a capacity pair uses. With OCV learning, the SOC the cell's own (uncorrected) OCV gives
  /// for the same voltage, z + dOCV(z) / OCV'(z) (first order): capacity pairs then stay on the OCV
  /// scale the capacity was defined on and are not confounded with the correction, which is itself
  /// learned with this capacity (a correction that absorbed a capacity error would otherwise keep
  /// that error). Slopes below 0.05 V per unit SOC (flat OCV) are taken as 0.05 V.
  T pair_soc(const EstimatorT& est, T soc, T temperature_degC) const {
    const auto& model = est.model();
    if (!config_.ocv_learning || !model.ocv_corrected()) { return soc; }
    T unused;
    const T shift = model.ocv_correction_at(soc, unused);
    T slope = model.ocv_table_slope_V(soc, temperature_degC);
    if (!(slope >= T(0.05))) { slope = T(0.05); }
    return soc + shift / slope;
  }

  /// The open pair's counted charge agrees with its SOC change |x| (kPairChargeRatio): |y| in [|x| Q / r, r |x| Q].
  bool charge_agrees(T ax) const {
    const T ay = st_.charge_Ah < T(0) ? -st_.charge_Ah : st_.charge_Ah;
    const T expect_Ah = ax * cap_.capacity_Ah();
    const T r = T(kPairChargeRatio);
    return ay * r >= expect_Ah && ay <= r * expect_Ah;
  }

  void drop_pair() {
    st_.anchored = 0;
    st_.charge_Ah = T(0);
    st_.charge_var_Ah2 = T(0);
  }

  void open_pair(T soc, T soc_var) {
    st_.anchor_soc = soc;
    st_.anchor_soc_var = soc_var;
    st_.charge_Ah = T(0);
    st_.charge_var_Ah2 = T(0);
    st_.anchored = 1;
  }

  SohStepReport<T> report(const StepReport<T>& r, bool cap_updated, bool r0_updated, const T* r0_table,
                          bool ocv_updated = false, T soc = T(-1)) const {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    SohStepReport<T> o{};
    o.soc = r;
    o.capacity_Ah = cap_.capacity_Ah();
    o.capacity_sigma_Ah = cap_.sigma_Ah();
    o.r0_scale = st_.r0_scale;
    o.r0_scale_sigma = r0_scale_sigma();
    o.r0_Ohm = r0_table != nullptr ? *r0_table * st_.r0_scale : nan;
    o.r0_sigma_Ohm = r0_table != nullptr ? *r0_table * o.r0_scale_sigma : nan;
    o.capacity_updated = cap_updated;
    o.r0_updated = r0_updated;
    o.ocv_updated = ocv_updated;
    T unused;
    o.ocv_shift_V = config_.ocv_learning ? EstimatorT::Model::ocv_correction_of(st_.ocv_x + 1, soc, unused) : T(0);
    return o;
  }

  SohConfig<T> config_{};
  T last_temperature_degC_ = T(25);  ///< temperature of the last accepted sample (close_pair's slope)
  OcvFilter<EstimatorT> ocv_{};  ///< the OCV filter's drop limits (its state is in st_)
  CapacityAwtls<T> cap_{};
  SohState<T> st_{};
  bool initialised_ = false;
};

}  // namespace soh
}  // namespace cellsense
