// SPDX-License-Identifier: Apache-2.0
// The SOH tracker's R0 filter (soh/soh_tracker.hpp): a scalar Kalman filter on a factor theta on the
// cell's R0 table, beside the SOC filter. Updated only at a current step |i_k - i_{k-1}| >=
// r0_min_step_A (enough excitation), over dt <= r0_max_dt_s, both samples fused, and with the R0
// filter's own NIS within its gate (docs/soh.md "R0").
//
// Measurement ("differenced residual"): with e_k the SOC filter's innovation at sample k and
// rho_{k-1} = e_{k-1} R / S_{k-1} the residual after the update at k-1 (for a scalar linearised
// update y - h(x+) = (1 - H K)(y - h(x-)) = (R / S)(y - h(x-)); Simon 2006, eq. 5.19 rearranged),
//   d_k = e_k - rho_{k-1} = -(theta_true - theta) (g_k - g_{k-1}) + n,   g_k = R0_table(z_k, T_k) i_k,
// because the model's voltage carries -theta R0_table i and slow model errors cancel in the
// difference. Scalar Kalman filter on theta (Simon 2006, sec. 5.1): random walk
// P <- P + q^2 dt (capped at the initial variance), H = -(g_k - g_{k-1}), S = H^2 P + 2 sigma_dv^2,
// K = P H / S, theta <- theta + K d, P <- (1 - K H) P = P 2 sigma_dv^2 / S (> 0 by construction).
// After an update the stored residual is re-expressed under the new theta: rho += (theta' - theta) g.
//
// State: SohState's r0_scale, r0_scale_var, prev_residual_V, prev_g_V, prev_current_A, prev_valid, r0_window_s.
// Tuning: SohConfig's r0_* fields. No heap, no exceptions; a refused update changes only the stored
// residual (the next difference's reference), never theta or its variance.
#pragma once

#include "cellsense/estimator/status.hpp"
#include "cellsense/math/matrix.hpp"
#include "cellsense/soh/soh_config.hpp"

namespace cellsense {
namespace soh {

/// Prediction over dt_s: the variance of theta grows by r0_scale_per_sqrt_s^2 dt, capped at the initial
/// variance r0_scale_sigma^2 (no growth without bound in rests).
template <typename T>
void r0_predict(const SohConfig<T>& c, SohState<T>& st, T dt_s) {
  const T var_cap = c.r0_scale_sigma * c.r0_scale_sigma;
  const T pv = st.r0_scale_var + c.r0_scale_per_sqrt_s * c.r0_scale_per_sqrt_s * dt_s;
  st.r0_scale_var = pv < var_cap ? pv : var_cap;
}

/// A sample the SOC filter fused (report `r`; g_V = R0_table(z, T) i at the sample, V): the update of
/// theta when `learn` (the tracker's temperature window), the previous sample was fused too, the difference
/// spans r0_min_dt_s .. r0_max_dt_s, |i - i_prev| >= r0_min_step_A at the step and the NIS is within r0_gate_nis;
/// theta is clamped to [r0_scale_min, r0_scale_max]. Then the sample's residual, g and current are kept for the
/// next difference. True when theta and its variance changed.
///
/// A step over an interval shorter than r0_min_dt_s opens a window: the difference is carried over the following
/// samples until its span reaches r0_min_dt_s at a sample without a further step (a voltage that shows part of
/// R0 di one sample late, as a tester's at 10 Hz, is then wholly inside it), and dropped if the span passes
/// r0_max_dt_s. The sum of the windowed differences d_j = e_j - rho_{j-1} telescopes to e_end - ref with
/// ref = rho_start - sum over the inner samples of (e_j - rho_j), the filter's own corrections there (each
/// moves the next prediction by the same amount to first order, dt << tau), and h to -(g_end - g_start).
template <typename T>
bool r0_fused_sample(const SohConfig<T>& c, SohState<T>& st, const StepReport<T>& r, T g_V, T dt_s, T current_A,
                     bool learn) {
  bool updated = false;
  // the step's own measurement variance (with a resistance-scaled model error it is not sigma^2)
  const T rv = r.measurement_variance_V2;
  T rho = r.innovation_V * rv / r.innovation_variance_V2;  // residual after the update
  const T di = current_A - st.prev_current_A;
  const T adi = di < T(0) ? -di : di;
  const bool stepped = adi >= c.r0_min_step_A;
  const bool open = st.r0_window_s > T(0);
  const T span_s = open ? st.r0_window_s + dt_s : dt_s;
  bool close = false;  // evaluate the difference over (start, this sample]
  if (learn && st.prev_valid != 0 && span_s <= c.r0_max_dt_s) {
    if (open) {
      if (span_s >= c.r0_min_dt_s && !stepped) {
        close = true;
      } else {  // carry the window on: the filter's correction at this sample leaves the reference
        st.prev_residual_V = st.prev_residual_V - (r.innovation_V - rho);
        st.prev_current_A = current_A;
        st.r0_window_s = span_s;
        return false;
      }
    } else if (stepped) {
      if (dt_s >= c.r0_min_dt_s) {
        close = true;
      } else {  // open a window at this step
        st.prev_residual_V = st.prev_residual_V - (r.innovation_V - rho);
        st.prev_current_A = current_A;
        st.r0_window_s = dt_s;
        return false;
      }
    }
  }
  if (close) {
    const T d = r.innovation_V - st.prev_residual_V;
    const T h = -(g_V - st.prev_g_V);
    const T rd = T(2) * c.r0_voltage_sigma_V * c.r0_voltage_sigma_V;
    const T s = h * h * st.r0_scale_var + rd;
    const T nis = d * d / s;
    if (s > T(0) && nis <= c.r0_gate_nis) {
      const T k = st.r0_scale_var * h / s;
      const T theta = math::clamp(st.r0_scale + k * d, c.r0_scale_min, c.r0_scale_max);
      const T var = st.r0_scale_var * rd / s;  // (1 - K H) P
      if (detail::finite(theta) && var > T(0) && detail::finite(var)) {
        rho = rho + (theta - st.r0_scale) * g_V;
        st.r0_scale = theta;
        st.r0_scale_var = var;
        updated = true;
      }
    }
  }
  st.prev_residual_V = rho;
  st.prev_g_V = g_V;
  st.prev_current_A = current_A;
  st.prev_valid = 1;
  st.r0_window_s = T(0);
  return updated;
}

/// A sample the SOC filter only predicted: no residual to difference the next sample against.
template <typename T>
void r0_unfused_sample(SohState<T>& st) {
  st.prev_valid = 0;
  st.r0_window_s = T(0);
}

}  // namespace soh
}  // namespace cellsense
