// libFuzzer harness over the C API's init and step (clang -fsanitize=fuzzer,address,undefined).
// verifies: CS-CAPI-007
//
// Input layout: byte 0 selects filter / gate policy / which parameter to corrupt; bytes 1..8 give
// a config field override and a parameter corruption (raw float bit patterns: NaN, Inf, negative,
// denormal all reachable); the rest is a stream of steps, 16 bytes each (dt, current, voltage,
// temperature as raw float32). Half of the steps are nudged into the plausible range so that the
// filter is also exercised deep into fused operation, not only at the guards.
// Steps whose first byte ends in binary 110 instead restore the current state with one field (x, P,
// hysteresis sign or tag) overwritten by raw bits: refused and unchanged, or accepted within bounds.
// Invariants (abort on violation): no crash or sanitizer report; init either fails with a code or
// yields a usable estimator; after every step the state and covariance are finite, P is symmetric
// and positive definite (Cholesky in double), SOC is within its bounds; a rejected step leaves the
// saved state byte-for-byte unchanged.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cell_params.h"
#include "cellsense/c_api.h"

namespace {

float f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool spd(const cs_state& s) {
  double a[CS_STATES][CS_STATES];
  for (int r = 0; r < CS_STATES; ++r) {
    for (int c = 0; c < CS_STATES; ++c) {
      if (!std::isfinite(s.P[r][c])) return false;
      if (s.P[r][c] != s.P[c][r]) return false;
      a[r][c] = s.P[r][c];
    }
  }
  for (int j = 0; j < CS_STATES; ++j) {  // Cholesky, in place, double
    double d = a[j][j];
    for (int k = 0; k < j; ++k) d -= a[j][k] * a[j][k];
    if (!(d > 0)) return false;
    const double l = std::sqrt(d);
    a[j][j] = l;
    for (int i = j + 1; i < CS_STATES; ++i) {
      double v = a[i][j];
      for (int k = 0; k < j; ++k) v -= a[i][k] * a[j][k];
      a[i][j] = v / l;
    }
  }
  return true;
}

void check_at(bool ok, int line) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_c_api.cpp:%d: invariant violated\n", line);
    std::abort();
  }
}
#define check(cond) check_at((cond), __LINE__)

cs_cell_params g_params;  // harness scratch (the library itself has no globals)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  cs_config cfg;
  cs_config_default(&cfg);
  const uint8_t sel = data[0];
  cfg.filter = (sel & 1u) ? CS_FILTER_UKF : CS_FILTER_EKF;
  cfg.gate_policy = (sel & 2u) ? CS_GATE_PREDICT_ONLY : CS_GATE_REJECT_STEP;
  const float cfg_value = f32(data + 1);
  switch ((sel >> 2) & 7u) {  // one config field overridden by raw bits (or none)
    case 1: cfg.voltage_sigma_V = cfg_value; break;
    case 2: cfg.initial_soc = cfg_value; break;
    case 3: cfg.dt_max_s = cfg_value; break;
    case 4: cfg.ukf_kappa = cfg_value; break;
    case 5: cfg.gate_nis = cfg_value; break;
    case 6: cfg.soc_per_sqrt_s = cfg_value; break;
    case 7:  // the resistance-scaled model error (issue #17), its scale by raw bits
      cfg.model_error_current_A = cfg_value;
      cfg.model_error_relative = 0.15f;
      cfg.model_error_correlation_s = 100.0f;
      break;
    default: break;
  }
  g_params = cell_params;
  const float par_value = f32(data + 5);
  const unsigned which = sel >> 5;  // one parameter corrupted by raw bits (or none)
  switch (which) {
    case 1: g_params.ecm.ocv_V.value[0][3] = par_value; break;
    case 2: g_params.ecm.r0_Ohm.value[0][5] = par_value; break;
    case 3: g_params.ecm.rc_tau_s[1].value[0][2] = par_value; break;
    case 4: g_params.ecm.capacity_Ah = par_value; break;
    case 5: g_params.ecm.grid.soc[1] = par_value; break;
    default: break;
  }
  cs_estimator est;
  std::memset(&est, 0, sizeof est);
  const int rc = cs_init(&est, &g_params, &cfg);
  cs_report r;
  if (rc != CS_INIT_OK) {
    check(cs_step(&est, 1.0f, 1.0f, 3.7f, 25.0f, &r) == CS_STATUS_NOT_INITIALISED);
    return 0;
  }
  cs_state before, after;
  check(cs_save_state(&est, &before) == CS_STATE_OK);
  check(spd(before));
  for (size_t off = 9; off + 16 <= size; off += 16) {
    if ((data[off] & 7u) == 6u) {  // a saved state with one field overwritten by raw bits, restored
      cs_state mutated = before;
      const float value = f32(data + off + 4);
      const unsigned field = data[off + 1] % (1u + CS_STATES + CS_STATES * CS_STATES + 1u);
      if (field == 0) {
        mutated.hysteresis_sign = value;
      } else if (field <= CS_STATES) {
        mutated.x[field - 1] = value;
      } else if (field <= CS_STATES + CS_STATES * CS_STATES) {
        const unsigned k = field - 1 - CS_STATES;
        mutated.P[k / CS_STATES][k % CS_STATES] = value;
      } else {
        std::memcpy(&mutated.tag, data + off + 4, sizeof mutated.tag);
      }
      const int rs = cs_restore_state(&est, &mutated);
      check(cs_save_state(&est, &after) == CS_STATE_OK);
      if (rs != CS_STATE_OK) {  // refused: nothing changed
        check(std::memcmp(&before, &after, sizeof before) == 0);
      } else {  // accepted: what the estimator enforces while running holds
        for (int k = 0; k < CS_STATES; ++k) check(std::isfinite(after.x[k]));
        check(spd(after));
        check(after.x[CS_IDX_SOC] >= cfg.soc_min && after.x[CS_IDX_SOC] <= cfg.soc_max);
        check(std::fabs(after.x[CS_IDX_V_RC1]) <= CS_STATE_V_RC_MAX_V);
        check(std::fabs(after.x[CS_IDX_V_RC2]) <= CS_STATE_V_RC_MAX_V);
        check(std::fabs(after.x[CS_IDX_HYSTERESIS]) <= 1.0f);
        check(after.hysteresis_sign == -1.0f || after.hysteresis_sign == 0.0f || after.hysteresis_sign == 1.0f);
      }
      before = after;
      continue;
    }
    float dt = f32(data + off), i = f32(data + off + 4), v = f32(data + off + 8), t = f32(data + off + 12);
    if (data[off] & 1u) {  // nudge into the plausible range, keeping the fuzzer's entropy
      dt = 0.1f + std::fmod(std::fabs(std::isfinite(dt) ? dt : 1.0f), 30.0f);
      i = std::fmod(std::isfinite(i) ? i : 0.0f, 20.0f);
      v = 2.5f + std::fmod(std::fabs(std::isfinite(v) ? v : 1.0f), 1.7f);
      t = std::fmod(std::isfinite(t) ? t : 25.0f, 60.0f);
    }
    const uint8_t st = cs_step(&est, dt, i, v, t, &r);
    check(cs_save_state(&est, &after) == CS_STATE_OK);
    if (cs_is_rejected(st)) {
      check(std::memcmp(&before, &after, sizeof before) == 0);
    } else {
      for (int k = 0; k < CS_STATES; ++k) check(std::isfinite(after.x[k]));
      check(spd(after));
      check(after.x[CS_IDX_SOC] >= cfg.soc_min && after.x[CS_IDX_SOC] <= cfg.soc_max);
      check(std::isfinite(r.soc) && std::isfinite(r.soc_sigma));
    }
    before = after;
  }
  return 0;
}
