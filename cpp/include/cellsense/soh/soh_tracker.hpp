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
//
// OCV ageing (docs/soh.md): loss of lithium inventory and of active material move the electrodes'
// stoichiometry windows, so the aged cell's OCV at a given fraction of its (smaller) capacity is no
// longer the fresh cell's (Birkl et al., J. Power Sources 341 (2017) 373-386). The tracker learns a
// piecewise-linear correction dOCV(z) = sum_j c_j phi_j(z) (model/ecm.hpp; pinned to 0 at SOC 0
// and 1, where the cut-off voltages define the SOC at every age) with a second, slow filter beside
// the SOC filter (a dual filter; Wan and Nelson, "Dual extended Kalman filter methods", in Haykin
// (ed.), Kalman Filtering and Neural Networks, Wiley 2001, ch. 5). Its state is [z_c, c_1..c_K]:
// its own coulomb-counted SOC z_c, so that a voltage error is not simply absorbed by the SOC, and the
// node values c_j (random walks). Model: z_c,k = z_c,k-1 - eta i dt / (3600 Q); c_k = c_k-1;
//   v_k = OCV(z_c) + dOCV(z_c) + M h - M0 s - sum_j v_j - theta R0 i,
// with h, v_j and s the SOC filter's posterior (known inputs to this filter). EKF update with
// H = [dv/dz_c, phi_1(z_c) .. phi_K(z_c)] (Simon 2006, sec. 13.2), gated on the SOC filter's NIS gate.
// The SOC filter uses the corrected OCV from the next step on.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "cellsense/estimator/status.hpp"
#include "cellsense/math/matrix.hpp"
#include "cellsense/math/cholesky.hpp"
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
  T ocv_sigma_V = T(0.03);             ///< 1 sigma of each OCV node's prior (and cap of its variance) (V)
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
    typename CapacityAwtls<T>::Config cc;
    cc.forgetting = c.capacity_forgetting;
    cc.capacity_min_Ah = c.capacity_min_Ah > T(0) ? c.capacity_min_Ah : T(0.3) * q0;
    cc.capacity_max_Ah = c.capacity_max_Ah > T(0) ? c.capacity_max_Ah : T(1.5) * q0;
    if (!positive(c.pair_min_delta_soc) || !positive(c.pair_max_soc_sigma) || !(c.rest_current_A >= T(0)) ||
        !finite(c.rest_current_A) || !(c.current_sigma_A >= T(0)) || !finite(c.current_sigma_A) ||
        !(c.current_offset_sigma_A >= T(0)) || !(c.current_offset_sigma_A <= T(1e6)) ||
        !(c.anchor_rest_s >= T(0)) || !(c.anchor_rest_s <= T(kRestCap_s)) ||
        !positive(c.r0_scale_sigma) || !(c.r0_scale_per_sqrt_s >= T(0)) || !finite(c.r0_scale_per_sqrt_s) ||
        !positive(c.r0_min_step_A) || !positive(c.r0_max_dt_s) || !positive(c.r0_voltage_sigma_V) ||
        !positive(c.r0_gate_nis) || !positive(c.r0_scale_min) || !(c.r0_scale_max > c.r0_scale_min) ||
        !finite(c.r0_scale_max) || !(r0 >= c.r0_scale_min && r0 <= c.r0_scale_max) ||
        (c.ocv_learning && (!positive(c.ocv_sigma_V) || !(c.ocv_sigma_V <= T(1)) || !(c.ocv_V_per_sqrt_s >= T(0)) ||
                            !finite(c.ocv_V_per_sqrt_s) || !(c.ocv_soc_per_sqrt_s >= T(0)) ||
                            !finite(c.ocv_soc_per_sqrt_s) || !(c.ocv_load_fraction >= T(0)) ||
                            !finite(c.ocv_load_fraction) || !(c.ocv_max_V > T(0) && c.ocv_max_V <= T(1)))) ||
        !finite(c.learn_min_temperature_degC) || !finite(c.learn_max_temperature_degC) ||
        !(c.learn_min_temperature_degC <= c.learn_max_temperature_degC)) {
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
    st_.rest_s = T(0);
    st_.anchor_age_s = T(kRestCap_s);
    // Node prior: sigma^2 rho^|i - j| (an exponential kernel, positive definite for |rho| < 1): a
    // node the data does not reach follows its neighbours instead of swinging freely.
    for (int r = 1; r < kOcvFilterStates; ++r) {
      st_.ocv_x[r] = T(0);
      T v = c.ocv_sigma_V * c.ocv_sigma_V;
      for (int k = r; k < kOcvFilterStates; ++k) {
        st_.ocv_P[r][k] = v;
        st_.ocv_P[k][r] = v;
        v = v * T(kOcvPriorCorrelation);
      }
    }
    restart_ocv_soc(est);
    set_ocv_max_drop(est);
    initialised_ = est.set_model_health(q0, r0) && (!c.ocv_learning || est.set_model_ocv_correction(st_.ocv_x + 1));
    return initialised_;
  }

  /// One sample through the estimator, then the SOH updates. Rejected steps change nothing.
  SohStepReport<T> step(EstimatorT& est, T dt_s, T current_A, T voltage_V, T temperature_degC) {
    const StepReport<T> r = est.step(dt_s, current_A, voltage_V, temperature_degC);
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
    // R0 factor: random-walk prediction, capped at the initial variance (no growth without bound in rests).
    const T var_cap = config_.r0_scale_sigma * config_.r0_scale_sigma;
    T pv = st_.r0_scale_var + config_.r0_scale_per_sqrt_s * config_.r0_scale_per_sqrt_s * dt_s;
    st_.r0_scale_var = pv < var_cap ? pv : var_cap;

    const T soc = est.soc();
    const bool fused = r.status == StepStatus::kFused || r.status == StepStatus::kFusedAfterGateTimeout;
    // Learn only inside the temperature window (SohConfig::learn_min/max_temperature_degC).
    const bool learn = temperature_degC >= config_.learn_min_temperature_degC &&
                       temperature_degC <= config_.learn_max_temperature_degC;
    T r0_table = T(0);
    if (fused) {
      r0_table = model.r0_table_Ohm(soc, temperature_degC);
      const T g = r0_table * current_A;
      // the step's own measurement variance (with a resistance-scaled model error it is not sigma^2)
      const T rv = r.measurement_variance_V2;
      T rho = r.innovation_V * rv / r.innovation_variance_V2;  // residual after the update
      const T di = current_A - st_.prev_current_A;
      const T adi = di < T(0) ? -di : di;
      if (learn && st_.prev_valid != 0 && dt_s <= config_.r0_max_dt_s && adi >= config_.r0_min_step_A) {
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
      ocv_updated = ocv_step(est, dt_s, current_A, voltage_V, temperature_degC, fused && learn);
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
          if (cap_.update(x, st_.anchor_soc_var + soc_var, st_.charge_Ah, st_.charge_var_Ah2)) {
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
    if (!((x < T(0) ? -x : x) >= config_.pair_min_delta_soc)) { return false; }
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
    drop_pair();
  }

  bool initialised() const { return initialised_; }
  const SohState<T>& state() const { return st_; }
  const SohConfig<T>& config() const { return config_; }
  T capacity_Ah() const { return cap_.capacity_Ah(); }
  T capacity_sigma_Ah() const { return cap_.sigma_Ah(); }
  T r0_scale() const { return st_.r0_scale; }
  T r0_scale_sigma() const { return st_.r0_scale_var > T(0) ? std::sqrt(st_.r0_scale_var) : T(0); }
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
        !(in.anchor_age_s >= T(0)) || !(in.anchor_age_s <= T(kRestCap_s)) || in.anchored > 1 || in.prev_valid > 1 || in.ocv_resync > 1 || !ocv_state_ok(in) ||
        !ocv_nodes_in_bound(in)) {
      return false;
    }
    if (!est.set_model_health(cap.capacity_Ah(), in.r0_scale)) { return false; }
    // cannot be refused: ocv_state_ok() checked the nodes finite and within +-1 V, as the model does
    if (config_.ocv_learning) { est.set_model_ocv_correction(in.ocv_x + 1); }
    cap_ = cap;
    st_ = in;
    return true;
  }

 private:
  static constexpr T kBig = T(3.0e38);
  static bool finite(T v) { return std::fabs(v) <= kBig; }
  static bool positive(T v) { return v > T(0) && v <= kBig; }

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

  /// Largest drop of the correction across each of its segments (kEcmOcvNodes + 1 of them, between
  /// the knots j/6 and (j+1)/6) that keeps the corrected OCV increasing: half the smallest slope of
  /// the OCV table in the segment (any temperature) times the segment's width. Derived from the cell's
  /// parameters at init (not state). A correction that made the OCV non-monotonic would give the SOC
  /// filter two SOCs for one voltage (found on a flat-topped OCV: the SOC stuck at 0.92).
  void set_ocv_max_drop(const EstimatorT& est) {
    const auto& model = est.model();
    const auto& g = model.params().grid;
    constexpr int kSeg = model::kEcmOcvNodes + 1;
    constexpr int kSamples = 8;
    for (int j = 0; j < kSeg; ++j) {
      T smin = T(3.0e38);
      for (int q = 0; q <= kSamples; ++q) {
        const T z = (T(j) + T(q) / T(kSamples)) / T(kSeg);
        for (int it = 0; it < g.n_temperature; ++it) {
          const T slope = model.ocv_table_slope_V(z, g.temperature_degC[it]);
          if (slope < smin) { smin = slope; }
        }
      }
      const T drop = T(0.5) * smin / T(kSeg);
      ocv_max_drop_V_[j] = drop > T(0) ? drop : T(0);
    }
  }

  /// Project the nodes onto "corrected OCV increasing": c_j >= c_j-1 - drop_j from SOC 0 up (c_0 = 0
  /// at SOC 0), then c_j <= c_j+1 + drop_j+1 from SOC 1 down (0 at SOC 1).
  void keep_ocv_monotonic(T* c) const {
    constexpr int k = model::kEcmOcvNodes;
    T prev = T(0);
    for (int j = 0; j < k; ++j) {
      const T lo = prev - ocv_max_drop_V_[j];
      if (c[j] < lo) { c[j] = lo; }
      prev = c[j];
    }
    T next = T(0);
    for (int j = k - 1; j >= 0; --j) {
      const T hi = next + ocv_max_drop_V_[j + 1];
      if (c[j] > hi) { c[j] = hi; }
      next = c[j];
    }
  }

  bool ocv_nodes_in_bound(const SohState<T>& in) const {
    for (int j = 1; j < kOcvFilterStates; ++j) {
      if (!(in.ocv_x[j] >= -config_.ocv_max_V && in.ocv_x[j] <= config_.ocv_max_V)) { return false; }
    }
    return true;
  }

  static bool ocv_state_ok(const SohState<T>& in) {
    for (int r = 0; r < kOcvFilterStates; ++r) {
      if (!finite(in.ocv_x[r])) { return false; }
      for (int c = 0; c < kOcvFilterStates; ++c) {
        if (!finite(in.ocv_P[r][c]) || in.ocv_P[r][c] < in.ocv_P[c][r] || in.ocv_P[r][c] > in.ocv_P[c][r]) { return false; }
      }
    }
    for (int j = 1; j < kOcvFilterStates; ++j) {  // what EcmModel::set_ocv_correction accepts
      if (!(in.ocv_x[j] >= T(-1) && in.ocv_x[j] <= T(1))) { return false; }
    }
    math::Matrix<T, kOcvFilterStates, kOcvFilterStates> p, l;
    for (int r = 0; r < kOcvFilterStates; ++r) {
      for (int c = 0; c < kOcvFilterStates; ++c) { p(r, c) = in.ocv_P[r][c]; }
    }
    return math::cholesky(p, l);
  }

  /// The OCV filter's SOC := the SOC filter's, with its variance; cross-covariances cleared.
  void restart_ocv_soc(const EstimatorT& est) {
    st_.ocv_x[0] = est.soc();
    for (int j = 0; j < kOcvFilterStates; ++j) {
      st_.ocv_P[0][j] = T(0);
      st_.ocv_P[j][0] = T(0);
    }
    st_.ocv_P[0][0] = est.covariance()(0, 0);
  }

  /// One step of the OCV filter (header comment): predict always, update when the SOC filter fused
  /// the sample. Every result is checked before it is stored; on any failure the filter keeps its
  /// prediction (or, for a non-finite prediction, its previous state). True when the nodes changed.
  bool ocv_step(EstimatorT& est, T dt_s, T current_A, T voltage_V, T temperature_degC, bool fused) {
    constexpr int n = kOcvFilterStates;
    if (st_.ocv_resync != 0) {  // the SOC state was replaced: start from the SOC filter's posterior
      restart_ocv_soc(est);
      st_.ocv_resync = 0;
      return false;
    }
    const auto& model = est.model();
    const auto& ec = est.config();
    T x[n];
    T p[n][n];
    for (int r = 0; r < n; ++r) {
      x[r] = st_.ocv_x[r];
      for (int c = 0; c < n; ++c) { p[r][c] = st_.ocv_P[r][c]; }
    }
    // Predict: z_c -= eta i dt / (3600 Q) (model/ecm.hpp); P += Q_k.
    const T eta = current_A < T(0) ? model.params().coulombic_efficiency : T(1);
    const T gain = eta * dt_s / (T(3600) * model.capacity_Ah());
    x[0] = x[0] - gain * current_A;
    const T gi = gain * config_.current_sigma_A;
    p[0][0] = p[0][0] + gi * gi + config_.ocv_soc_per_sqrt_s * config_.ocv_soc_per_sqrt_s * dt_s;
    const T cap = config_.ocv_sigma_V * config_.ocv_sigma_V;
    for (int j = 1; j < n; ++j) {
      const T v = p[j][j] + config_.ocv_V_per_sqrt_s * config_.ocv_V_per_sqrt_s * dt_s;
      p[j][j] = v < cap ? v : cap;
    }
    x[0] = math::clamp(x[0], ec.soc_min, ec.soc_max);
    bool updated = false;
    const T abs_i = current_A < T(0) ? -current_A : current_A;
    const bool rest = abs_i <= config_.rest_current_A;
    // With a current-sensor offset in the error model the count z_c is trusted only after a trusted
    // anchor (below: its error grows with the anchor's age).
    const bool offset_model = config_.current_offset_sigma_A > T(0);
    const bool count_anchored = !offset_model || st_.anchor_age_s < T(kRestCap_s);
    if (fused && count_anchored && (rest || config_.ocv_load_fraction > T(0))) {
      // v(z_c) with the SOC filter's posterior RC voltages, hysteresis and sign.
      auto xs = est.state();
      xs(0, 0) = x[0];
      // the measurement's table look-ups only (no transition: no exponentials)
      const auto step = model.measurement_step(est.aux(), current_A, temperature_degC);
      typename EstimatorT::Model::Row hrow;
      const T v_pred = model.measure_with_jacobian(step, xs, hrow);
      // H has at most three non-zeros: z_c and the two nodes around it (idx / hv, nh of them)
      int idx[3];
      T hv[3];
      int nh = 0;
      idx[nh] = 0;
      hv[nh++] = hrow(0, 0);
      int seg = 0;
      T w = T(0);
      if (EstimatorT::Model::ocv_correction_segment(x[0], seg, w)) {
        if (seg >= 1) {  // node seg - 1 is state seg
          idx[nh] = seg;
          hv[nh++] = T(1) - w;
        }
        if (seg < n - 1) {  // node seg is state seg + 1
          idx[nh] = seg + 1;
          hv[nh++] = w;
        }
      }
      T ph[n];
      // under load the dynamics' model error adds a sigma of ocv_load_fraction x the R0 drop
      const T di = rest ? T(0)
                        : config_.ocv_load_fraction * model.r0_table_Ohm(x[0], temperature_degC) * model.r0_scale() * abs_i;
      T s = est.measurement_variance(step, xs, current_A, dt_s) + di * di;  // the SOC filter's R at z_c, + load term
      if (offset_model) {
        // The coulomb count z_c carries a current-sensor offset b (1 sigma sigma_b) since it was last
        // anchored: its error grows linearly, b t / (3600 Q), and reaches the voltage through the OCV
        // slope. Counted as measurement noise, not estimated (Schmidt's "consider" treatment of a bias),
        // so the nodes stop learning as the count ages, and never learn before the first trusted anchor:
        // a node moved by 10 mV moves the SOC by 1-3 %, and a 50 mA offset shifts a 2.8 Ah cell's count
        // by 1.8 % per hour (docs/soh.md "Trusted anchors").
        const T dz = config_.current_offset_sigma_A * st_.anchor_age_s / (T(3600) * model.capacity_Ah());
        const T dv = hrow(0, 0) * dz;
        s = s + dv * dv;
      }
      for (int r = 0; r < n; ++r) {
        T acc = T(0);
        for (int q = 0; q < nh; ++q) { acc = acc + p[r][idx[q]] * hv[q]; }
        ph[r] = acc;
      }
      for (int q = 0; q < nh; ++q) { s = s + hv[q] * ph[idx[q]]; }
      const T e = voltage_V - v_pred;
      if (s > T(0) && finite(s) && finite(e) && e * e <= ec.gate_nis * s) {
        T xn[n];
        T pn[n][n];
        bool ok = true;
        for (int r = 0; r < n; ++r) {
          const T k = ph[r] / s;
          xn[r] = x[r] + k * e;
          for (int c = r; c < n; ++c) {  // P - (P h)(P h)^T / S, one triangle mirrored
            const T v = p[r][c] - ph[r] * ph[c] / s;
            pn[r][c] = v;
            pn[c][r] = v;
          }
          ok = ok && finite(xn[r]) && pn[r][r] > T(0);
        }
        // nodes within +-ocv_max_V: an ageing OCV shift is tens of mV; a larger value is the filter
        // absorbing something else (found on a 0 degC cell learning at rests only: nodes of 0.5 V made
        // the corrected OCV non-monotonic and the SOC filter stuck)
        for (int j = 1; ok && j < n; ++j) { xn[j] = math::clamp(xn[j], -config_.ocv_max_V, config_.ocv_max_V); }
        keep_ocv_monotonic(xn + 1);
        if (ok) {
          for (int r = 0; r < n; ++r) {
            x[r] = xn[r];
            for (int c = 0; c < n; ++c) { p[r][c] = pn[r][c]; }
          }
          x[0] = math::clamp(x[0], ec.soc_min, ec.soc_max);
          updated = true;
        }
      }
    }
    bool finite_all = true;
    for (int r = 0; r < n; ++r) {
      finite_all = finite_all && finite(x[r]);
      for (int c = 0; c < n; ++c) { finite_all = finite_all && finite(p[r][c]); }
    }
    if (!finite_all) { return false; }
    for (int r = 0; r < n; ++r) {
      st_.ocv_x[r] = x[r];
      for (int c = 0; c < n; ++c) { st_.ocv_P[r][c] = p[r][c]; }
    }
    return updated;
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
  T ocv_max_drop_V_[model::kEcmOcvNodes + 1] = {};  ///< see set_ocv_max_drop()
  CapacityAwtls<T> cap_{};
  SohState<T> st_{};
  bool initialised_ = false;
};

}  // namespace soh
}  // namespace cellsense
