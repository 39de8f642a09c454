// Float32 soak: millions of steps (default 10,000,000 = ~116 days at 1 Hz) of drive, charge and
// rest with sensor noise and occasional faults (spikes, stuck readings, dropouts, clock glitches).
// The truth is the same ECM in double precision. Checked: the float32 covariance stays symmetric
// positive definite (Cholesky every 1,000 steps), no NaN/Inf appears, SOC stays in its bounds and
// its error stays bounded; every injected fault is rejected with the right status.
// verifies: CS-EST-012, CS-FLT-004, CS-EST-004
// The scenario lives in soak_scenario.hpp, shared with the Cortex-M soak (tests/mcu/soak_mcu.cpp).
//   soak [steps] [ekf|ukf]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "soak_scenario.hpp"

using namespace cellsense;

namespace {

template <class E>
int run(long steps, const char* name) {
  using S = cssoak::Soak<E>;
  static S soak;  // large: the models point at the parameters held here
  if (!soak.run(steps)) {
    std::printf("%s: init failed\n", name);
    return 1;
  }
  const cssoak::Tally& c = soak.tally;
  const double rmse = soak.rmse();
  std::printf("%s: %ld float32 steps (%.1f days at 1 Hz): fused %ld, rejected %ld; SOC RMSE %.4f %%, max |error| %.4f %% "
              "(after the first hour); spikes %ld (rejected %ld), dropouts %ld (rejected %ld), clock glitches %ld (rejected %ld); "
              "non-finite outputs %ld, SOC out of bounds %ld, covariance checks failed %ld\n",
              name, steps, static_cast<double>(steps) / 86400.0, c.fused, c.rejected, 100 * rmse, 100 * c.max_err, c.spikes,
              c.spikes_rejected, c.dropouts, c.dropouts_rejected, c.glitches, c.glitches_rejected, c.nonfinite,
              c.out_of_bounds, c.spd_fail);
  bool ok[S::kChecks];
  const int failed = soak.checks_failed(ok);
  std::printf("%s: %d passed, %d failed\n", name, S::kChecks - failed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const long steps = argc > 1 ? std::atol(argv[1]) : 10000000L;
  const bool ukf = argc > 2 && std::strcmp(argv[2], "ukf") == 0;
  return ukf ? run<EcmUkf<float, 2>>(steps, "soak ukf f32") : run<EcmEkf<float, 2>>(steps, "soak ekf f32");
}
