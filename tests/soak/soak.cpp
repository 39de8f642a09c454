// Float32 soak: millions of steps (default 10,000,000 = ~116 days at 1 Hz) of drive, charge and
// rest with sensor noise and occasional faults (spikes, stuck readings, dropouts, clock glitches).
// The truth is the same ECM in double precision. Checked: the float32 covariance stays symmetric
// positive definite (Cholesky every 1,000 steps and at the end), no NaN/Inf appears, SOC stays in
// its bounds and its error stays bounded; every injected fault is rejected with the right status.
//   soak [steps] [ekf|ukf]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cellsense/cellsense.hpp"
#include "../cpp/cells.hpp"

using namespace cellsense;

namespace {

template <class E>
int run(long steps, const char* name) {
  using M = typename E::Model;
  using MT = model::EcmModel<double, 2>;
  static typename M::Params pf;
  static MT::Params pd;
  cstest::make_cell(pf);
  cstest::make_cell(pd);
  const MT truth(&pd, MT::Noise{});
  MT::State xt;
  MT::Cov unused;
  MT::initial(0.9, 0, 0, 0, 0, xt, unused);
  MT::Aux aux{0};

  const M m(&pf, typename M::Noise{3e-4f, 5e-4f, 1e-3f, 0.05f});
  typename M::State x;
  typename M::Cov P;
  M::initial(0.6f, 0.25f, 0.02f, 0.0f, 0.5f, x, P);
  EstimatorConfig<float> cfg;
  cfg.soc_min = -0.05f;
  cfg.soc_max = 1.05f;
  cfg.voltage_sigma_V = 0.02f;
  E est;
  if (est.init(m, cfg, {}, x, P, {0.0f}) != InitStatus::kOk) {
    std::printf("%s: init failed\n", name);
    return 1;
  }
  cstest::Rng rng;
  enum Phase { kDrive, kCharge, kRest } phase = kDrive;
  long phase_left = 0;
  double current = 0, temperature = 25;
  long stuck_left = 0;
  float stuck_v = 0;
  long spikes = 0, spikes_rejected = 0, dropouts = 0, dropouts_rejected = 0, glitches = 0, glitches_rejected = 0;
  long nonfinite = 0, spd_fail = 0, out_of_bounds = 0, fused = 0, rejected = 0;
  double max_err = 0, sum_sq = 0;
  long n_err = 0;
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
    if (k % 600 == 0) temperature = std::fmin(40.0, std::fmax(5.0, temperature + 4.0 * (rng.uniform() - 0.5)));
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
      v = std::nanf("");
    } else if (u < 2.5e-4) {
      glitch = true;
      dt = rng.uniform() < 0.5 ? 0.0f : -1.0f;
    } else if (u < 2.6e-4) {
      stuck_left = 30;
      stuck_v = v;
    }
    const auto r = est.step(dt, i, v, t);
    if (spike) { ++spikes; spikes_rejected += r.status == StepStatus::kRejectedInnovationGate || r.status == StepStatus::kRejectedVoltage; }
    if (dropout) { ++dropouts; dropouts_rejected += r.status == StepStatus::kRejectedNonFinite; }
    if (glitch) { ++glitches; glitches_rejected += r.status == StepStatus::kRejectedDt; }
    if (is_rejected(r.status)) {
      ++rejected;
    } else {
      ++fused;
    }
    if (!math::is_finite(r.soc) || !math::is_finite(r.soc_sigma)) ++nonfinite;
    if (r.soc < cfg.soc_min || r.soc > cfg.soc_max) ++out_of_bounds;
    if (k % 1000 == 999) {
      typename M::Cov l;
      const auto& Pk = est.covariance();
      bool sym = true;
      for (int a = 0; a < M::kStates; ++a)
        for (int b = 0; b < M::kStates; ++b) sym = sym && !(Pk(a, b) < Pk(b, a) || Pk(a, b) > Pk(b, a));
      if (!sym || !math::cholesky(Pk, l) || !math::all_finite(est.state())) ++spd_fail;
    }
    if (k >= 3600) {
      const double e = std::fabs(static_cast<double>(r.soc) - xt(0, 0));
      if (e > max_err) max_err = e;
      sum_sq += e * e;
      ++n_err;
    }
  }
  const double rmse = std::sqrt(sum_sq / static_cast<double>(n_err > 0 ? n_err : 1));
  std::printf("%s: %ld float32 steps (%.1f days at 1 Hz): fused %ld, rejected %ld; SOC RMSE %.4f %%, max |error| %.4f %% "
              "(after the first hour); spikes %ld (rejected %ld), dropouts %ld (rejected %ld), clock glitches %ld (rejected %ld); "
              "non-finite outputs %ld, SOC out of bounds %ld, covariance checks failed %ld\n",
              name, steps, static_cast<double>(steps) / 86400.0, fused, rejected, 100 * rmse, 100 * max_err, spikes,
              spikes_rejected, dropouts, dropouts_rejected, glitches, glitches_rejected, nonfinite, out_of_bounds, spd_fail);
  int failed = 0;
  failed += nonfinite != 0;
  failed += out_of_bounds != 0;
  failed += spd_fail != 0;
  failed += dropouts_rejected != dropouts;
  failed += glitches_rejected != glitches;
  failed += spikes_rejected != spikes;
  failed += !(max_err < 0.05);
  failed += !(rmse < 0.01);
  std::printf("%s: %d passed, %d failed\n", name, 8 - failed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const long steps = argc > 1 ? std::atol(argv[1]) : 10000000L;
  const bool ukf = argc > 2 && std::strcmp(argv[2], "ukf") == 0;
  return ukf ? run<EcmUkf<float, 2>>(steps, "soak ukf f32") : run<EcmEkf<float, 2>>(steps, "soak ekf f32");
}
