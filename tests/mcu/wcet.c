/* SPDX-License-Identifier: Apache-2.0 */
/* Worst-case instructions per C API call over adversarial inputs (issue #16; docs/safety.md
 * "Bounded resources"). For the EKF and the UKF: WCET_STEPS calls of cs_step() with inputs from a
 * seeded generator in the style of the C API fuzzer (tests/fuzz/fuzz_c_api.cpp): a quarter raw
 * float bit patterns (NaN, Inf, denormals, huge values), the rest plausible samples near the cell's
 * operating point with spikes, steps in the current, out-of-range values, repeated and backwards
 * timestamps and gaps; every 997 calls the state is saved and restored (cs_restore_state timed too),
 * every 4099 calls the estimator is re-initialised. Each call is timed with the instruction counter
 * (QEMU -icount, SysTick); the largest count per outcome and overall are printed:
 *   wcet <filter> <call> status=<name> n=<calls> max_insn=<instructions>
 *   wcet <filter> worst cs_step <instructions> budget <instructions>
 * Exit 0 when every call stayed within its budget and every accepted step left a finite SOC in
 * [soc_min, soc_max] with a finite, positive sigma. Built for the Cortex-M4F only (tests/mcu/CMakeLists.txt). */
#include <stdint.h>
#include <string.h>

#include "cell_params.h"
#include "cellsense/c_api.h"
#include "fw_print.h"
#include "platform.h"

#ifndef WCET_STEPS
#define WCET_STEPS 20000u
#endif
/* Budgets in instructions (M4F, -O2): about 1.5x the measured worst case (EKF 2,120 and UKF 4,600 on
 * the gate-timeout path, cs_restore_state 680; 2026-12-06), so the check catches a regression of the
 * worst path, not noise (+-1 SysTick tick = +-40 instructions). */
#ifndef WCET_BUDGET_EKF
#define WCET_BUDGET_EKF 3200u
#endif
#ifndef WCET_BUDGET_UKF
#define WCET_BUDGET_UKF 7000u
#endif
#define WCET_BUDGET_RESTORE 1000u

static cs_estimator g_est; /* static storage, no heap */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static int g_failed;
static float g_soc_min, g_soc_max; /* the configuration's SOC bounds */

static void fail(const char* what, uint32_t k) {
  if (!g_failed) {
    platform_write("wcet FAIL ");
    platform_write(what);
    platform_write(" at call");
    put_dec(k);
    platform_write("\n");
  }
  g_failed = 1;
}

static uint32_t next_u32(void) { /* xorshift64* */
  g_rng ^= g_rng >> 12u;
  g_rng ^= g_rng << 25u;
  g_rng ^= g_rng >> 27u;
  return (uint32_t)((g_rng * 0x2545F4914F6CDD1Dull) >> 32u);
}
static float raw_float(void) {
  const uint32_t w = next_u32();
  float f;
  memcpy(&f, &w, sizeof f);
  return f;
}
static float uniform(float lo, float hi) { return lo + (hi - lo) * (float)(next_u32() >> 8u) * (1.0f / 16777216.0f); }

static uint32_t insn_of(uint32_t ticks) {
  const uint32_t num = platform_insn_per_tick_num();
  const uint32_t den = platform_insn_per_tick_den();
  return den != 0u ? (uint32_t)(((uint64_t)ticks * num) / den) : ticks;
}

#define N_STATUS 32u
typedef struct {
  uint32_t n[N_STATUS];
  uint32_t max_ticks[N_STATUS];
} per_status;

static int init_filter(uint8_t filter) {
  cs_config cfg;
  cs_config_default(&cfg);
  cfg.filter = filter;
  cfg.initial_soc = uniform(0.05f, 0.95f);
  cfg.gate_policy = (next_u32() & 1u) ? CS_GATE_PREDICT_ONLY : CS_GATE_REJECT_STEP;
#ifdef CELL_PARAMS_MODEL_ERROR_CURRENT_A
  cfg.voltage_sigma_V = CELL_PARAMS_VOLTAGE_SIGMA_V;
  cfg.model_error_current_A = CELL_PARAMS_MODEL_ERROR_CURRENT_A;
  cfg.model_error_relative = CELL_PARAMS_MODEL_ERROR_RELATIVE;
  cfg.model_error_correlation_s = CELL_PARAMS_MODEL_ERROR_CORRELATION_S;
#endif
  g_soc_min = cfg.soc_min;
  g_soc_max = cfg.soc_max;
  return cs_init(&g_est, &cell_params, &cfg);
}

/* verifies: CS-PLAT-004 */
static void run(uint8_t filter, const char* name, uint32_t budget) {
  static per_status st;
  memset(&st, 0, sizeof st);
  uint32_t restore_max = 0u;
  if (init_filter(filter) != CS_INIT_OK) {
    fail("init", 0u);
    return;
  }
  const float v_lo = cell_params.ecm.voltage_min_V;
  const float v_hi = cell_params.ecm.voltage_max_V;
  const float i_lo = cell_params.ecm.current_min_A;
  const float i_hi = cell_params.ecm.current_max_A;
  float current = 0.0f;
  float voltage = 0.5f * (v_lo + v_hi);
  for (uint32_t k = 0; k < WCET_STEPS; ++k) {
    float dt = 1.0f, t = 25.0f;
    const uint32_t mode = next_u32() & 15u;
    if (mode < 4u) { /* raw bits in one or all inputs */
      const float f = raw_float();
      switch (mode) {
        case 0: dt = f; break;
        case 1: current = f; break;
        case 2: voltage = f; break;
        default: dt = raw_float(); current = raw_float(); voltage = raw_float(); t = raw_float(); break;
      }
    } else {
      if ((next_u32() & 7u) == 0u) { current = uniform(i_lo * 1.2f, i_hi * 1.2f); } /* steps, some out of range */
      voltage = voltage + uniform(-0.02f, 0.02f);
      if (voltage < v_lo || voltage > v_hi || !(voltage == voltage)) { voltage = uniform(v_lo, v_hi); }
      const uint32_t r = next_u32() & 63u;
      dt = r == 0u ? 0.0f : (r == 1u ? -1.0f : (r == 2u ? uniform(30.0f, 100.0f) : uniform(0.05f, 10.0f)));
      t = (next_u32() & 31u) == 0u ? uniform(-60.0f, 90.0f) : uniform(-20.0f, 50.0f);
      if ((next_u32() & 31u) == 0u) { voltage = voltage + uniform(-1.5f, 1.5f); } /* spike */
    }
    cs_report rep;
    const uint32_t t0 = platform_ticks();
    const uint8_t s = cs_step(&g_est, dt, current, voltage, t, &rep);
    const uint32_t t1 = platform_ticks();
    const uint32_t ticks = (t1 - t0) & 0x00FFFFFFu;
    const uint32_t si = s < N_STATUS ? s : N_STATUS - 1u;
    ++st.n[si];
    if (ticks > st.max_ticks[si]) { st.max_ticks[si] = ticks; }
    if (!cs_is_rejected(s)) {
      const float soc = cs_soc(&g_est), sig = cs_soc_sigma(&g_est);
      if (!(soc >= g_soc_min && soc <= g_soc_max) || !(sig > 0.0f && sig < 1e30f)) {
        fail("accepted step left SOC / sigma out of range", k);
      }
    }
    if (!(voltage == voltage) || voltage < -1e6f || voltage > 1e6f) { voltage = 0.5f * (v_lo + v_hi); }
    if (!(current == current) || current < -1e6f || current > 1e6f) { current = 0.0f; }
    if (k % 997u == 996u) {
      cs_state saved;
      if (cs_save_state(&g_est, &saved) != CS_STATE_OK) { fail("cs_save_state", k); }
      const uint32_t r0 = platform_ticks();
      const int rc = cs_restore_state(&g_est, &saved);
      const uint32_t r1 = platform_ticks();
      const uint32_t rt = (r1 - r0) & 0x00FFFFFFu;
      if (rt > restore_max) { restore_max = rt; }
      if (rc != CS_STATE_OK) { fail("cs_restore_state of a saved state", k); }
    }
    if (k % 4099u == 4098u && init_filter(filter) != CS_INIT_OK) { fail("re-init", k); }
  }
  uint32_t worst = 0u;
  for (uint32_t i = 0; i < N_STATUS; ++i) {
    if (st.n[i] == 0u) { continue; }
    platform_write("wcet ");
    platform_write(name);
    platform_write(" cs_step status=");
    platform_write(cs_status_name((uint8_t)i));
    platform_write(" n=");
    put_dec(st.n[i]);
    platform_write(" max_insn=");
    put_dec(insn_of(st.max_ticks[i]));
    platform_write("\n");
    if (insn_of(st.max_ticks[i]) > worst) { worst = insn_of(st.max_ticks[i]); }
  }
  platform_write("wcet ");
  platform_write(name);
  platform_write(" cs_restore_state max_insn=");
  put_dec(insn_of(restore_max));
  platform_write("\nwcet ");
  platform_write(name);
  platform_write(" worst cs_step ");
  put_dec(worst);
  platform_write(" budget ");
  put_dec(budget);
  platform_write(worst <= budget ? " ok\n" : " OVER\n");
  if (worst > budget || insn_of(restore_max) > WCET_BUDGET_RESTORE) { fail("budget", WCET_STEPS); }
}

int main(void) {
  platform_ticks_start();
  run(CS_FILTER_EKF, "ekf", WCET_BUDGET_EKF);
  run(CS_FILTER_UKF, "ukf", WCET_BUDGET_UKF);
  platform_write(g_failed ? "done rc=1\n" : "done rc=0\n");
  platform_exit(g_failed ? 1 : 0);
}
