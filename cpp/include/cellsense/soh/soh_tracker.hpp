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
// R0 measurement ("differenced residual"): with e_k the SOC filter's innovation at sample k and
// rho_{k-1} = e_{k-1} R / S_{k-1} the residual after the update at k-1 (for a scalar linearised
// update y - h(x+) = (1 - H K)(y - h(x-)) = (R / S)(y - h(x-)); Simon 2006, eq. 5.19 rearranged),
//   d_k = e_k - rho_{k-1} = -(theta_true - theta) (g_k - g_{k-1}) + n,   g_k = R0_table(z_k, T_k) i_k,
// because the model's voltage carries -theta R0_table i and slow model errors cancel in the
// difference. Scalar Kalman filter on theta (Simon 2006, sec. 5.1): random walk
// P <- P + q^2 dt (capped at the initial variance), H = -(g_k - g_{k-1}), S = H^2 P + 2 sigma_dv^2,
// K = P H / S, theta <- theta + K d, P <- (1 - K H) P = P 2 sigma_dv^2 / S (> 0 by construction).
// After an update the stored residual is re-expressed under the new theta: rho += (theta' - theta) g.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "cellsense/estimator/status.hpp"
#include "cellsense/math/matrix.hpp"
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
  T r0_scale_sigma = T(0.3);           ///< 1 sigma of the initial R0 factor (1)
  T r0_scale_per_sqrt_s = T(2e-4);     ///< random walk of the R0 factor (1/sqrt(s))
  T r0_min_step_A = T(1.0);            ///< |i_k - i_{k-1}| needed for an R0 update (A)
  T r0_max_dt_s = T(2.0);              ///< longest sample interval used for an R0 update (s)
  T r0_voltage_sigma_V = T(0.005);     ///< noise of one voltage sample in a difference (V)
  T r0_gate_nis = T(16);               ///< chi-square gate of the R0 update (1 dof)
  T r0_scale_min = T(0.2);             ///< bounds of the R0 factor (1)
  T r0_scale_max = T(5.0);
};

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
  std::uint8_t anchored;      ///< 1 when a capacity pair is open
  std::uint8_t prev_valid;    ///< 1 when the previous accepted sample was fused
};

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
  bool capacity_updated;      ///< a capacity pair closed in this step
  bool r0_updated;            ///< the R0 factor was updated in this step
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
    typename CapacityAwtls<T>::Config cc;
    cc.forgetting = c.capacity_forgetting;
    cc.capacity_min_Ah = c.capacity_min_Ah > T(0) ? c.capacity_min_Ah : T(0.3) * q0;
    cc.capacity_max_Ah = c.capacity_max_Ah > T(0) ? c.capacity_max_Ah : T(1.5) * q0;
    if (!positive(c.pair_min_delta_soc) || !positive(c.pair_max_soc_sigma) || !(c.rest_current_A >= T(0)) ||
        !finite(c.rest_current_A) || !(c.current_sigma_A >= T(0)) || !finite(c.current_sigma_A) ||
        !positive(c.r0_scale_sigma) || !(c.r0_scale_per_sqrt_s >= T(0)) || !finite(c.r0_scale_per_sqrt_s) ||
        !positive(c.r0_min_step_A) || !positive(c.r0_max_dt_s) || !positive(c.r0_voltage_sigma_V) ||
        !positive(c.r0_gate_nis) || !positive(c.r0_scale_min) || !(c.r0_scale_max > c.r0_scale_min) ||
        !finite(c.r0_scale_max) || !(r0 >= c.r0_scale_min && r0 <= c.r0_scale_max)) {
      return false;
    }
    CapacityAwtls<T> cap;
    if (!cap.init(q0, c.capacity_sigma_Ah, cc)) { return false; }
    config_ = c;
    cap_ = cap;
    st_ = SohState<T>{};
    st_.capacity = cap.sums();
    st_.r0_scale = r0;
    st_.r0_scale_var = c.r0_scale_sigma * c.r0_scale_sigma;
    st_.anchored = 0;
    st_.prev_valid = 0;
    initialised_ = est.set_model_health(q0, r0);
    return initialised_;
  }

  /// One sample through the estimator, then the SOH updates. Rejected steps change nothing.
  SohStepReport<T> step(EstimatorT& est, T dt_s, T current_A, T voltage_V, T temperature_degC) {
    const StepReport<T> r = est.step(dt_s, current_A, voltage_V, temperature_degC);
    if (!initialised_ || is_rejected(r.status)) { return report(r, false, false, nullptr); }
    const auto& model = est.model();
    bool cap_updated = false;
    bool r0_updated = false;
    // Charge since the anchor, as the SOC filter counts it (eta on charge; model/ecm.hpp).
    const T eta = current_A < T(0) ? model.params().coulombic_efficiency : T(1);
    const T dq_Ah = eta * current_A * dt_s / T(3600);
    const T sq_Ah = eta * config_.current_sigma_A * dt_s / T(3600);
    st_.charge_Ah = st_.charge_Ah + dq_Ah;
    st_.charge_var_Ah2 = st_.charge_var_Ah2 + sq_Ah * sq_Ah;
    // R0 factor: random-walk prediction, capped at the initial variance (no growth without bound in rests).
    const T var_cap = config_.r0_scale_sigma * config_.r0_scale_sigma;
    T pv = st_.r0_scale_var + config_.r0_scale_per_sqrt_s * config_.r0_scale_per_sqrt_s * dt_s;
    st_.r0_scale_var = pv < var_cap ? pv : var_cap;

    const T soc = est.soc();
    const bool fused = r.status == StepStatus::kFused || r.status == StepStatus::kFusedAfterGateTimeout;
    T r0_table = T(0);
    if (fused) {
      r0_table = model.r0_table_Ohm(soc, temperature_degC);
      const T g = r0_table * current_A;
      const T rv = est.config().voltage_sigma_V * est.config().voltage_sigma_V;
      T rho = r.innovation_V * rv / r.innovation_variance_V2;  // residual after the update
      const T di = current_A - st_.prev_current_A;
      const T adi = di < T(0) ? -di : di;
      if (st_.prev_valid != 0 && dt_s <= config_.r0_max_dt_s && adi >= config_.r0_min_step_A) {
        const T d = r.innovation_V - st_.prev_residual_V;
        const T h = -(g - st_.prev_g_V);
        const T rd = T(2) * config_.r0_voltage_sigma_V * config_.r0_voltage_sigma_V;
        const T s = h * h * st_.r0_scale_var + rd;
        const T nis = d * d / s;
        if (s > T(0) && nis <= config_.r0_gate_nis) {
          const T k = st_.r0_scale_var * h / s;
          const T theta = math::clamp(st_.r0_scale + k * d, config_.r0_scale_min, config_.r0_scale_max);
          const T var = st_.r0_scale_var * rd / s;  // (1 - K H) P
          if (finite(theta) && var > T(0) && finite(var)) {
            rho = rho + (theta - st_.r0_scale) * g;
            st_.r0_scale = theta;
            st_.r0_scale_var = var;
            r0_updated = true;
          }
        }
      }
      st_.prev_residual_V = rho;
      st_.prev_g_V = g;
      st_.prev_current_A = current_A;
      st_.prev_valid = 1;
    } else {
      st_.prev_valid = 0;  // predicted only: no residual to difference against
    }

    // Capacity pair: open / close at rest samples with a well-known SOC away from the clamps.
    const T soc_var = est.covariance()(0, 0);
    const auto& ec = est.config();
    const bool soc_ok = soc_var <= config_.pair_max_soc_sigma * config_.pair_max_soc_sigma && soc > ec.soc_min &&
                        soc < ec.soc_max;
    const T abs_i = current_A < T(0) ? -current_A : current_A;
    if (soc_ok && abs_i <= config_.rest_current_A) {
      if (st_.anchored == 0) {
        open_pair(soc, soc_var);
      } else {
        const T x = st_.anchor_soc - soc;
        const T ax = x < T(0) ? -x : x;
        if (ax >= config_.pair_min_delta_soc) {
          if (cap_.update(x, st_.anchor_soc_var + soc_var, st_.charge_Ah, st_.charge_var_Ah2)) {
            st_.capacity = cap_.sums();
            cap_updated = true;
          }
          open_pair(soc, soc_var);
        } else if (soc_var < st_.anchor_soc_var && (st_.charge_Ah < T(0) ? -st_.charge_Ah : st_.charge_Ah) <=
                                                        config_.pair_min_delta_soc * T(0.01) * cap_.capacity_Ah()) {
          open_pair(soc, soc_var);  // still at the start (no charge moved): a better-known start point
        }
      }
    }
    if (cap_updated || r0_updated) { est.set_model_health(cap_.capacity_Ah(), st_.r0_scale); }
    return report(r, cap_updated, r0_updated, fused ? &r0_table : nullptr);
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
    const T x = st_.anchor_soc - soc;
    if (!((x < T(0) ? -x : x) >= config_.pair_min_delta_soc)) { return false; }
    CapacityAwtls<T> cap = cap_;
    if (!cap.update(x, st_.anchor_soc_var + soc_var, st_.charge_Ah, st_.charge_var_Ah2)) { return false; }
    if (!est.set_model_health(cap.capacity_Ah(), st_.r0_scale)) { return false; }
    cap_ = cap;
    st_.capacity = cap_.sums();
    open_pair(soc, soc_var);
    return true;
  }

  /// Forget the open capacity pair and the previous residual: call after the SOC state was
  /// replaced from outside (e.g. SOC re-initialised from a rested OCV at the start of a log).
  void restart_pairing() {
    st_.anchored = 0;
    st_.prev_valid = 0;
    st_.charge_Ah = T(0);
    st_.charge_var_Ah2 = T(0);
  }

  bool initialised() const { return initialised_; }
  const SohState<T>& state() const { return st_; }
  const SohConfig<T>& config() const { return config_; }
  T capacity_Ah() const { return cap_.capacity_Ah(); }
  T capacity_sigma_Ah() const { return cap_.sigma_Ah(); }
  T r0_scale() const { return st_.r0_scale; }
  T r0_scale_sigma() const { return st_.r0_scale_var > T(0) ? std::sqrt(st_.r0_scale_var) : T(0); }

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
        !finite(in.prev_current_A) || in.anchored > 1 || in.prev_valid > 1) {
      return false;
    }
    if (!est.set_model_health(cap.capacity_Ah(), in.r0_scale)) { return false; }
    cap_ = cap;
    st_ = in;
    return true;
  }

 private:
  static constexpr T kBig = T(3.0e38);
  static bool finite(T v) { return std::fabs(v) <= kBig; }
  static bool positive(T v) { return v > T(0) && v <= kBig; }

  void open_pair(T soc, T soc_var) {
    st_.anchor_soc = soc;
    st_.anchor_soc_var = soc_var;
    st_.charge_Ah = T(0);
    st_.charge_var_Ah2 = T(0);
    st_.anchored = 1;
  }

  SohStepReport<T> report(const StepReport<T>& r, bool cap_updated, bool r0_updated, const T* r0_table) const {
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
    return o;
  }

  SohConfig<T> config_{};
  CapacityAwtls<T> cap_{};
  SohState<T> st_{};
  bool initialised_ = false;
};

}  // namespace soh
}  // namespace cellsense
