// SPDX-License-Identifier: Apache-2.0
// The SOH tracker's OCV filter (soh/soh_tracker.hpp): OCV ageing (docs/soh.md). Loss of lithium
// inventory and of active material move the electrodes' stoichiometry windows, so the aged cell's OCV
// at a given fraction of its (smaller) capacity is no longer the fresh cell's (Birkl et al., J. Power
// Sources 341 (2017) 373-386). The tracker learns a piecewise-linear correction dOCV(z) = sum_j c_j
// phi_j(z) (model/ecm.hpp; pinned to 0 at SOC 0 and 1, where the cut-off voltages define the SOC at
// every age) with this second, slow filter beside the SOC filter (a dual filter; Wan and Nelson,
// "Dual extended Kalman filter methods", in Haykin (ed.), Kalman Filtering and Neural Networks, Wiley
// 2001, ch. 5). Its state is [z_c, c_1..c_K]: its own coulomb-counted SOC z_c, so that a voltage error
// is not simply absorbed by the SOC, and the node values c_j (random walks). Model:
//   z_c,k = z_c,k-1 - eta i dt / (3600 Q); c_k = c_k-1;
//   v_k = OCV(z_c) + dOCV(z_c) + M h - M0 s - sum_j v_j - theta R0 i,
// with h, v_j and s the SOC filter's posterior (known inputs to this filter). EKF update with
// H = [dv/dz_c, phi_1(z_c) .. phi_K(z_c)] (Simon 2006, sec. 13.2), gated on the SOC filter's NIS gate.
// The SOC filter uses the corrected OCV from the next step on (the tracker passes the nodes on).
//
// State: SohState's ocv_x, ocv_P and ocv_resync (with anchor_age_s read for the current-offset
// model). Tuning: SohConfig's ocv_* fields, rest_current_A, current_sigma_A, current_offset_sigma_A.
// The only member is the per-segment drop limit derived from the cell's OCV table at init (not
// state). No heap, no exceptions; every result is checked before it is stored.
#pragma once

#include "cellsense/math/cholesky.hpp"
#include "cellsense/math/matrix.hpp"
#include "cellsense/model/ecm.hpp"
#include "cellsense/soh/soh_config.hpp"

namespace cellsense {
namespace soh {

/// OCV filter for an Estimator over the ECM (estimator/estimator.hpp, model/ecm.hpp).
template <class EstimatorT>
class OcvFilter {
 public:
  using T = typename EstimatorT::T;

  /// Prior of the OCV filter in `st`: the nodes at 0 with covariance sigma^2 rho^|i - j| (an exponential
  /// kernel, positive definite for |rho| < 1: a node the data does not reach follows its neighbours
  /// instead of swinging freely), the filter's SOC from the SOC filter's; and the per-segment drop
  /// limits from the estimator's cell (set_max_drop()). Writes only ocv_x and ocv_P.
  void init(const EstimatorT& est, const SohConfig<T>& c, SohState<T>& st) {
    for (int r = 1; r < kOcvFilterStates; ++r) {
      st.ocv_x[r] = T(0);
      T v = c.ocv_sigma_V * c.ocv_sigma_V;
      for (int k = r; k < kOcvFilterStates; ++k) {
        st.ocv_P[r][k] = v;
        st.ocv_P[k][r] = v;
        v = v * T(kOcvPriorCorrelation);
      }
    }
    restart_soc(est, st);
    set_max_drop(est);
  }

  /// Largest drop (V) the nodes may take across segment j (0 .. kEcmOcvNodes) of the correction.
  T max_drop_V(int j) const { return max_drop_V_[j]; }

  /// Project the nodes onto "corrected OCV increasing": c_j >= c_j-1 - drop_j from SOC 0 up (c_0 = 0
  /// at SOC 0), then c_j <= c_j+1 + drop_j+1 from SOC 1 down (0 at SOC 1).
  void keep_monotonic(T* c) const {
    constexpr int k = model::kEcmOcvNodes;
    T prev = T(0);
    for (int j = 0; j < k; ++j) {
      const T lo = prev - max_drop_V_[j];
      if (c[j] < lo) { c[j] = lo; }
      prev = c[j];
    }
    T next = T(0);
    for (int j = k - 1; j >= 0; --j) {
      const T hi = next + max_drop_V_[j + 1];
      if (c[j] > hi) { c[j] = hi; }
      next = c[j];
    }
  }

  /// Every node of `in` within +-ocv_max_V (what the filter itself keeps them in).
  static bool nodes_in_bound(const SohConfig<T>& config, const SohState<T>& in) {
    for (int j = 1; j < kOcvFilterStates; ++j) {
      if (!(in.ocv_x[j] >= -config.ocv_max_V && in.ocv_x[j] <= config.ocv_max_V)) { return false; }
    }
    return true;
  }

  /// `in`'s OCV filter state is usable: finite, the covariance symmetric bit for bit and positive
  /// definite (Cholesky), the nodes within +-1 V (what EcmModel::set_ocv_correction accepts).
  static bool state_ok(const SohState<T>& in) {
    for (int r = 0; r < kOcvFilterStates; ++r) {
      if (!detail::finite(in.ocv_x[r])) { return false; }
      for (int c = 0; c < kOcvFilterStates; ++c) {
        if (!detail::finite(in.ocv_P[r][c]) || in.ocv_P[r][c] < in.ocv_P[c][r] || in.ocv_P[r][c] > in.ocv_P[c][r]) { return false; }
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
  static void restart_soc(const EstimatorT& est, SohState<T>& st) {
    st.ocv_x[0] = est.soc();
    for (int j = 0; j < kOcvFilterStates; ++j) {
      st.ocv_P[0][j] = T(0);
      st.ocv_P[j][0] = T(0);
    }
    st.ocv_P[0][0] = est.covariance()(0, 0);
  }

  /// One step of the OCV filter (header comment): predict always, update when the SOC filter fused
  /// the sample. Every result is checked before it is stored; on any failure the filter keeps its
  /// prediction (or, for a non-finite prediction, its previous state). True when the nodes changed.
  /// The predicted voltage is the estimator's model's, with the correction it uses: after an update
  /// the caller passes the nodes on (Estimator::set_model_ocv_correction), as SohTracker::step() does.
  bool step(EstimatorT& est, const SohConfig<T>& config, SohState<T>& st, T dt_s, T current_A, T voltage_V,
            T temperature_degC, bool fused) const {
    constexpr int n = kOcvFilterStates;
    if (st.ocv_resync != 0) {  // the SOC state was replaced: start from the SOC filter's posterior
      restart_soc(est, st);
      st.ocv_resync = 0;
      return false;
    }
    const auto& model = est.model();
    const auto& ec = est.config();
    T x[n];
    T p[n][n];
    for (int r = 0; r < n; ++r) {
      x[r] = st.ocv_x[r];
      for (int c = 0; c < n; ++c) { p[r][c] = st.ocv_P[r][c]; }
    }
    // Predict: z_c -= eta i dt / (3600 Q) (model/ecm.hpp); P += Q_k.
    const T eta = current_A < T(0) ? model.params().coulombic_efficiency : T(1);
    const T gain = eta * dt_s / (T(3600) * model.capacity_Ah());
    x[0] = x[0] - gain * current_A;
    const T gi = gain * config.current_sigma_A;
    p[0][0] = p[0][0] + gi * gi + config.ocv_soc_per_sqrt_s * config.ocv_soc_per_sqrt_s * dt_s;
    const T cap = config.ocv_sigma_V * config.ocv_sigma_V;
    for (int j = 1; j < n; ++j) {
      const T v = p[j][j] + config.ocv_V_per_sqrt_s * config.ocv_V_per_sqrt_s * dt_s;
      p[j][j] = v < cap ? v : cap;
    }
    x[0] = math::clamp(x[0], ec.soc_min, ec.soc_max);
    bool updated = false;
    const T abs_i = current_A < T(0) ? -current_A : current_A;
    const bool rest = abs_i <= config.rest_current_A;
    // With a current-sensor offset in the error model the count z_c is trusted only after a trusted
    // anchor (below: its error grows with the anchor's age).
    const bool offset_model = config.current_offset_sigma_A > T(0);
    const bool count_anchored = !offset_model || st.anchor_age_s < T(kRestCap_s);
    // A rest sample is OCV evidence only once the cell has relaxed (kOcvMinRest_s): before that its voltage still
    // carries the slow relaxation the ECM's RC pairs do not reach (soh_config.hpp).
    const bool relaxed = st.rest_s >= T(kOcvMinRest_s);
    if (fused && count_anchored && (rest ? relaxed : config.ocv_load_fraction > T(0))) {
      // v(z_c) with the SOC filter's posterior RC voltages, hysteresis and sign.
      auto xs = est.state();
      xs(0, 0) = x[0];
      // the measurement's table look-ups only (no transition: no exponentials)
      const auto meas = model.measurement_step(est.aux(), current_A, temperature_degC);
      typename EstimatorT::Model::Row hrow;
      const T v_pred = model.measure_with_jacobian(meas, xs, hrow);
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
                        : config.ocv_load_fraction * model.r0_table_Ohm(x[0], temperature_degC) * model.r0_scale() * abs_i;
      T s = est.measurement_variance(meas, xs, current_A, dt_s) + di * di;  // the SOC filter's R at z_c, + load term
      if (offset_model) {
        // The coulomb count z_c carries a current-sensor offset b (1 sigma sigma_b) since it was last
        // anchored: its error grows linearly, b t / (3600 Q), and reaches the voltage through the OCV
        // slope. Counted as measurement noise, not estimated (Schmidt's "consider" treatment of a bias),
        // so the nodes stop learning as the count ages, and never learn before the first trusted anchor:
        // a node moved by 10 mV moves the SOC by 1-3 %, and a 50 mA offset shifts a 2.8 Ah cell's count
        // by 1.8 % per hour (docs/soh.md "Trusted anchors").
        const T dz = config.current_offset_sigma_A * st.anchor_age_s / (T(3600) * model.capacity_Ah());
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
      if (s > T(0) && detail::finite(s) && detail::finite(e) && e * e <= ec.gate_nis * s) {
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
          ok = ok && detail::finite(xn[r]) && pn[r][r] > T(0);
        }
        // nodes within +-ocv_max_V: an ageing OCV shift is tens of mV; a larger value is the filter
        // absorbing something else (found on a 0 degC cell learning at rests only: nodes of 0.5 V made
        // the corrected OCV non-monotonic and the SOC filter stuck)
        for (int j = 1; ok && j < n; ++j) { xn[j] = math::clamp(xn[j], -config.ocv_max_V, config.ocv_max_V); }
        keep_monotonic(xn + 1);
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
      finite_all = finite_all && detail::finite(x[r]);
      for (int c = 0; c < n; ++c) { finite_all = finite_all && detail::finite(p[r][c]); }
    }
    if (!finite_all) { return false; }
    for (int r = 0; r < n; ++r) {
      st.ocv_x[r] = x[r];
      for (int c = 0; c < n; ++c) { st.ocv_P[r][c] = p[r][c]; }
    }
    return updated;
  }

 private:
  /// Largest drop of the correction across each of its segments (kEcmOcvNodes + 1 of them, between
  /// the knots j/6 and (j+1)/6) that keeps the corrected OCV increasing: half the smallest slope of
  /// the OCV table in the segment (any temperature) times the segment's width. Derived from the cell's
  /// parameters at init (not state). A correction that made the OCV non-monotonic would give the SOC
  /// filter two SOCs for one voltage (found on a flat-topped OCV: the SOC stuck at 0.92).
  void set_max_drop(const EstimatorT& est) {
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
      max_drop_V_[j] = drop > T(0) ? drop : T(0);
    }
  }

  T max_drop_V_[model::kEcmOcvNodes + 1] = {};  ///< see set_max_drop()
};

}  // namespace soh
}  // namespace cellsense
