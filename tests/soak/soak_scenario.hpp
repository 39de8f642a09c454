// SPDX-License-Identifier: Apache-2.0
// The float32 soak scenario, shared by the host soak (tests/soak/soak.cpp, 10 M steps) and the
// Cortex-M soak under QEMU (tests/mcu/soak_mcu.cpp): drive, charge and rest with sensor noise and
// occasional faults (spikes, stuck readings, dropouts, clock glitches). The truth is the same ECM in
// double precision; the estimator under test runs in float32.
//
// Embedded rules, so that the same code runs on the host and on a Cortex-M and gives the same bytes:
// no heap, no I/O, no exceptions, no libm (xorshift32 integer PRNG, a sum of 12 uniforms for the
// normal, comparisons instead of fmin/fmax/fabs, __builtin_nanf for the dropout); only float and
// double + - * / and std::sqrt (correctly rounded on both, as in the core), compiled with -ffp-contract=off.
// The caller provides the storage (a static object: the models point at the parameters held here).
#pragma once

#include <cmath>

#include "cellsense/cellsense.hpp"
#include "../cpp/cells.hpp"

namespace cssoak {

/// What a soak run counted. All counts are over the steps run so far.
struct Tally {
  long steps = 0, fused = 0, rejected = 0;
  long spikes = 0, spikes_rejected = 0, dropouts = 0, dropouts_rejected = 0, glitches = 0, glitches_rejected = 0;
  long nonfinite = 0, out_of_bounds = 0, spd_fail = 0;
  double max_err = 0, sum_sq = 0;  // |SOC error| after the first hour (3600 steps)
  long n_err = 0;
};

inline double abs_d(double v) { return v < 0 ? -v : v; }

template <class E>
struct Soak {
  using M = typename E::Model;
  using MT = cellsense::model::EcmModel<double, 2>;
  static constexpr int kChecks = 8;

  typename M::Params pf;
  MT::Params pd;
  E est;
  cellsense::EstimatorConfig<float> cfg;
  MT::State xt;  // the truth's state at the end
  Tally tally;

  /// Runs `steps` steps of the scenario from the start. false: the estimator's init failed.
  /// `every_1000(k)` is called after steps 999, 1999, ... (the MCU soak samples its tick counter there).
  bool run(long steps) {
    return run(steps, [](long) {});
  }
  template <class Hook>
  bool run(long steps, Hook&& every_1000) {
    using cellsense::StepStatus;
    cstest::make_cell(pf);
    cstest::make_cell(pd);
    const MT truth(&pd, MT::Noise{});
    MT::Cov unused;
    MT::initial(0.9, 0, 0, 0, 0, xt, unused);
    MT::Aux aux{0};

    const M m(&pf, typename M::Noise{3e-4f, 5e-4f, 1e-3f, 0.05f});
    typename M::State x;
    typename M::Cov P;
    M::initial(0.6f, 0.25f, 0.02f, 0.0f, 0.5f, x, P);
    cfg = cellsense::EstimatorConfig<float>{};
    cfg.soc_min = -0.05f;
    cfg.soc_max = 1.05f;
    cfg.voltage_sigma_V = 0.02f;
    tally = Tally{};
    if (est.init(m, cfg, {}, x, P, {0.0f}) != cellsense::InitStatus::kOk) { return false; }
    cstest::Rng rng;
    enum Phase { kDrive, kCharge, kRest } phase = kDrive;
    long phase_left = 0;
    double current = 0, temperature = 25;
    long stuck_left = 0;
    float stuck_v = 0;
    Tally& c = tally;
    for (long k = 0; k < steps; ++k) {
      // Profile: drive to SOC 0.15, charge at C/2 to 0.95, rest 10 min .. 5 h; temperature drifts 5..40 degC.
      if (phase == kDrive && xt(0, 0) < 0.15) { phase = kCharge; }
      if (phase == kCharge && xt(0, 0) > 0.95) { phase = kRest; phase_left = 600 + static_cast<long>(rng.uniform() * 17400); }
      if (phase == kRest && --phase_left <= 0) { phase = kDrive; }
      if (phase == kDrive) {
        if (k % 15 == 0) current = 7.0 * rng.uniform() - 2.0;  // -2 .. 5 A (2.5 Ah cell: up to 2C)
      } else if (phase == kCharge) {
        current = -1.25;
      } else {
        current = 0;
      }
      if (k % 600 == 0) {
        const double drifted = temperature + 4.0 * (rng.uniform() - 0.5);
        temperature = drifted > 40.0 ? 40.0 : (drifted < 5.0 ? 5.0 : drifted);
      }
      const auto s = truth.prepare(xt, aux, 1.0, current, temperature);
      xt = truth.predict(s, xt);
      aux = MT::next_aux(s);
      const double v_true = truth.measure(s, xt);

      // Sensor: 2 mV voltage noise, 10 mA current noise + 20 mA offset, 0.2 degC temperature noise.
      float dt = 1.0f;
      float v = static_cast<float>(v_true + 0.002 * rng.normal());
      const float i = static_cast<float>(current + 0.02 + 0.01 * rng.normal());
      const float t = static_cast<float>(temperature + 0.2 * rng.normal());
      bool spike = false, dropout = false, glitch = false;
      const double u = rng.uniform();
      if (stuck_left > 0) {
        --stuck_left;
        v = stuck_v;  // a stuck reading: plausible but stale
      } else if (u < 1e-4) {
        spike = true;
        v = v + 0.6f;
      } else if (u < 2e-4) {
        dropout = true;
        v = __builtin_nanf("");
      } else if (u < 2.5e-4) {
        glitch = true;
        dt = rng.uniform() < 0.5 ? 0.0f : -1.0f;
      } else if (u < 2.6e-4) {
        stuck_left = 30;
        stuck_v = v;
      }
      const auto r = est.step(dt, i, v, t);
      if (spike) {
        ++c.spikes;
        c.spikes_rejected += r.status == StepStatus::kRejectedInnovationGate || r.status == StepStatus::kRejectedVoltage;
      }
      if (dropout) {
        ++c.dropouts;
        c.dropouts_rejected += r.status == StepStatus::kRejectedNonFinite;
      }
      if (glitch) {
        ++c.glitches;
        c.glitches_rejected += r.status == StepStatus::kRejectedDt;
      }
      if (cellsense::is_rejected(r.status)) {
        ++c.rejected;
      } else {
        ++c.fused;
      }
      if (!cellsense::math::is_finite(r.soc) || !cellsense::math::is_finite(r.soc_sigma)) ++c.nonfinite;
      if (r.soc < cfg.soc_min || r.soc > cfg.soc_max) ++c.out_of_bounds;
      if (k % 1000 == 999) {
        if (!covariance_ok()) ++c.spd_fail;
        every_1000(k);
      }
      if (k >= 3600) {
        const double e = abs_d(static_cast<double>(r.soc) - xt(0, 0));
        if (e > c.max_err) c.max_err = e;
        c.sum_sq += e * e;
        ++c.n_err;
      }
      ++c.steps;
    }
    return true;
  }

  /// P exactly symmetric, Cholesky succeeds (SPD), state finite.
  bool covariance_ok() const {
    typename M::Cov l;
    const auto& Pk = est.covariance();
    bool sym = true;
    for (int a = 0; a < M::kStates; ++a)
      for (int b = 0; b < M::kStates; ++b) sym = sym && !(Pk(a, b) < Pk(b, a) || Pk(a, b) > Pk(b, a));
    return sym && cellsense::math::cholesky(Pk, l) && cellsense::math::all_finite(est.state());
  }

  double rmse() const {
    return std::sqrt(tally.sum_sq / static_cast<double>(tally.n_err > 0 ? tally.n_err : 1));
  }

  /// The soak's pass/fail checks, in the order the host soak prints them; returns how many failed.
  int checks_failed(bool (&ok)[kChecks]) const {
    const Tally& c = tally;
    ok[0] = c.nonfinite == 0;
    ok[1] = c.out_of_bounds == 0;
    ok[2] = c.spd_fail == 0;
    ok[3] = c.dropouts_rejected == c.dropouts;
    ok[4] = c.glitches_rejected == c.glitches;
    ok[5] = c.spikes_rejected == c.spikes;
    ok[6] = c.max_err < 0.05;
    ok[7] = rmse() < 0.01;
    int failed = 0;
    for (bool b : ok) failed += !b;
    return failed;
  }
  static const char* check_name(int i) {
    static const char* const kNames[kChecks] = {"no_nonfinite_output", "soc_in_bounds",      "covariance_spd",
                                                "dropouts_rejected",   "glitches_rejected",  "spikes_rejected",
                                                "max_soc_error_lt_5pct", "soc_rmse_lt_1pct"};
    return kNames[i];
  }
};

}  // namespace cssoak
