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
 * [soc_min, soc_max] with a finite, positive sigma. Built for the Cortex-M4F only (tests/mcu/CMakeLists.txt).
 *
 * Every other C API entry point is timed in the same runs, with inputs from the same generator: cs_init
 * (each re-init), cs_save_state, cs_soc / cs_soc_sigma, the state of power (cs_power_limits at 2 / 10 / 30 s
 * or a raw horizon, nominal or conservative, raw or plausible temperatures; cs_energy; cs_time_to_full) after
 * every 7th step, and the SOH tracker's calls on a second estimator stepped with cs_step_soh over the same
 * kind of inputs (cs_soh_init, cs_step_soh, cs_soh_save_state / cs_soh_restore_state, cs_soh_close_pair,
 * cs_soh_restart_pairing(_rested), cs_soh_ocv_nodes):
 *   wcet <filter> <call> max_insn=<instructions> budget <instructions> ok|OVER */
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
 * worst path, not noise (+-1 SysTick tick = +-40 instructions). cs_restore_state is 800 since 2026-12-07 (the
 * covariance's variance ceilings, CS-EST-018), within its unchanged 1,000. */
#ifndef WCET_BUDGET_EKF
#define WCET_BUDGET_EKF 3200u
#endif
#ifndef WCET_BUDGET_UKF
#define WCET_BUDGET_UKF 7000u
#endif
#define WCET_BUDGET_RESTORE 1000u

/* The other entry points: the largest count per call in each filter's run, against its budget (instructions,
 * M4F -O2, about 1.5x the worst measured on 2026-12-06: cs_init 26,720 (parameter validation over every
 * table), cs_save_state 200, cs_soc 40, cs_soc_sigma 80, cs_power_limits 13,120 (one horizon, raw ones too: the
 * direct solve, at most 17 model evaluations per call; 115,120 with the former 32-step bisection),
 * cs_power_limits_horizons_2_10_30s the same three in one call (mean 6,407 / 8,092 at e7a0098, worst 25,320;
 * three cs_power_limits calls 7,959 / 10,356, worst 27,400), cs_power_limits_2_10_30s 29,280 (the three horizons at one state, summed; mean 8,430 nominal / 11,310
 * conservative; with the derating table in cs_power_config, 2026-12-06: 13,160 / 29,400 and 8,589 / 11,358 with
 * no table (+40 per call at worst: the table's copy and check), 13,160 / 27,640 and 8,598 / 11,465 with a 6-point
 * table in half of the calls: a derated rating binds more often and needs fewer trials), cs_energy 132,560 (three integrations to the cut-off), cs_time_to_full 120, cs_soh_init 38,960,
 * cs_step_soh 5,400 / 8,200 (EKF / UKF), cs_soh_save_state 440, cs_soh_restore_state 1,680,
 * cs_soh_close_pair 400, cs_soh_restart_pairing 80, cs_soh_ocv_nodes 80; a floor of 200 where a SysTick tick
 * (40 instructions) is a large share). */
enum {
  E_INIT, E_SAVE, E_SOC, E_SOC_SIGMA, E_POWER, E_POWER3, E_POWER3H, E_ENERGY, E_TTF, E_SOH_INIT, E_STEP_SOH, E_SOH_SAVE, E_SOH_RESTORE,
  E_SOH_CLOSE, E_SOH_RESTART, E_SOH_OCV, E_COUNT
};
static const char* const k_entry_name[E_COUNT] = {
    "cs_init", "cs_save_state", "cs_soc", "cs_soc_sigma", "cs_power_limits", "cs_power_limits_2_10_30s",
    "cs_power_limits_horizons_2_10_30s", "cs_energy",
    "cs_time_to_full",
    "cs_soh_init", "cs_step_soh", "cs_soh_save_state", "cs_soh_restore_state", "cs_soh_close_pair",
    "cs_soh_restart_pairing", "cs_soh_ocv_nodes"};
#ifndef WCET_BUDGETS
#define WCET_BUDGETS {40000u, 400u, 200u, 200u, 20000u, 45000u, 45000u, 200000u, 400u, 60000u, 12000u, 700u, 2500u, 600u, 200u, 200u}
#endif
static const uint32_t k_entry_budget[E_COUNT] = WCET_BUDGETS;
static uint32_t g_entry_max[2][E_COUNT]; /* [filter run][entry point], instructions */
static uint32_t g_run;                    /* 0: EKF, 1: UKF */
static uint32_t g_power_ok, g_energy_ok;  /* calls that computed a result (not refused) */
/* the three horizons 2 / 10 / 30 s at one state (plausible temperature): instructions summed over the three calls,
 * [filter run][nominal, conservative] */
static uint64_t g_power3_sum[2][2];
static uint32_t g_power3_n[2][2];
/* the same three horizons in one cs_power_limits_horizons call */
static uint64_t g_power3h_sum[2][2];
static uint32_t g_t0;
static void tic(void) { g_t0 = platform_ticks(); }
static uint32_t insn_of(uint32_t ticks);
static void toc(uint32_t entry) {
  const uint32_t n = insn_of((platform_ticks() - g_t0) & 0x00FFFFFFu);
  if (n > g_entry_max[g_run][entry]) { g_entry_max[g_run][entry] = n; }
}

static cs_estimator g_est; /* static storage, no heap */
static cs_estimator g_est_soh;
static cs_soh g_soh;
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
  cfg.model_error_voltage_V = CELL_PARAMS_MODEL_ERROR_VOLTAGE_V;
#endif
  g_soc_min = cfg.soc_min;
  g_soc_max = cfg.soc_max;
  tic();
  const int rc = cs_init(&g_est, &cell_params, &cfg);
  toc(E_INIT);
  return rc;
}

/* A sample from the generator (run() and run_soh()): a quarter raw bit patterns in one or all inputs, the rest
 * plausible samples near the last one with current steps (some out of range), bad timestamps, gaps, cold and hot
 * temperatures and voltage spikes. */
typedef struct {
  float dt, current, voltage, t;
} sample;
static void next_sample(sample* x) {
  const float v_lo = cell_params.ecm.voltage_min_V, v_hi = cell_params.ecm.voltage_max_V;
  x->dt = 1.0f;
  x->t = 25.0f;
  const uint32_t mode = next_u32() & 15u;
  if (mode < 4u) { /* raw bits in one or all inputs */
    const float f = raw_float();
    switch (mode) {
      case 0: x->dt = f; break;
      case 1: x->current = f; break;
      case 2: x->voltage = f; break;
      default: x->dt = raw_float(); x->current = raw_float(); x->voltage = raw_float(); x->t = raw_float(); break;
    }
  } else {
    if ((next_u32() & 7u) == 0u) { /* steps, some out of range */
      x->current = uniform(cell_params.ecm.current_min_A * 1.2f, cell_params.ecm.current_max_A * 1.2f);
    }
    x->voltage = x->voltage + uniform(-0.02f, 0.02f);
    if (!(x->voltage >= v_lo && x->voltage <= v_hi)) { x->voltage = uniform(v_lo, v_hi); }
    const uint32_t r = next_u32() & 63u;
    x->dt = r == 0u ? 0.0f : (r == 1u ? -1.0f : (r == 2u ? uniform(30.0f, 100.0f) : uniform(0.05f, 10.0f)));
    x->t = (next_u32() & 31u) == 0u ? uniform(-60.0f, 90.0f) : uniform(-20.0f, 50.0f);
    if ((next_u32() & 31u) == 0u) { x->voltage = x->voltage + uniform(-1.5f, 1.5f); } /* spike */
  }
}
static void reset_nonfinite(sample* x) {
  if (!(x->voltage >= -1e6f && x->voltage <= 1e6f)) { x->voltage = 0.5f * (cell_params.ecm.voltage_min_V + cell_params.ecm.voltage_max_V); }
  if (!(x->current >= -1e6f && x->current <= 1e6f)) { x->current = 0.0f; }
}

/* The state of power of g_est's present state: every output finite when the call succeeds. */
static void time_power(uint32_t k) {
  static const float horizons_s[3] = {2.0f, 10.0f, 30.0f};
  cs_power_config pc;
  /* the cell's cut-offs and a 4C rating, as the SOH firmware's parity check uses (run_soh.c) */
  cs_power_config_default(&pc, 2.5f, 4.2f, 4.0f * cell_params.ecm.capacity_Ah);
  const uint32_t r = next_u32();
  pc.horizon_s = (r & 7u) == 0u ? raw_float() : horizons_s[r % 3u];
  if (r & 8u) {
    pc.soc_sigma_k = 3.0f;
    pc.voltage_sigma_k = 3.0f;
  }
  if (r & 0x100u) {
    /* half of the calls with a full derating table (6 breakpoints over -20..50 degC, issue #15's
     * temperature-dependent ratings): the worst case walks all six */
    static const float t[CS_POWER_MAX_DERATING] = {-20.0f, -10.0f, 0.0f, 10.0f, 40.0f, 50.0f};
    static const float d[CS_POWER_MAX_DERATING] = {0.3f, 0.5f, 0.8f, 1.0f, 1.0f, 0.6f};
    static const float g[CS_POWER_MAX_DERATING] = {0.0f, 0.0f, 0.1f, 0.5f, 1.0f, 0.8f};
    pc.derating_count = CS_POWER_MAX_DERATING;
    for (int j = 0; j < CS_POWER_MAX_DERATING; ++j) {
      pc.derating_temperature_degC[j] = t[j];
      pc.derating_discharge_factor[j] = d[j];
      pc.derating_charge_factor[j] = g[j];
    }
  }
  const float temp = (r & 0x30u) == 0u ? raw_float() : uniform(-20.0f, 50.0f);
  cs_power_result pr;
  tic();
  const int rc = cs_power_limits(&g_est, temp, &pc, &pr);
  toc(E_POWER);
  if (rc == CS_POWER_OK && !(pr.discharge_current_A >= 0.0f && pr.charge_current_A >= 0.0f &&
                             pr.discharge_power_W < 1e30f && pr.charge_power_W < 1e30f)) {
    fail("cs_power_limits result not finite / negative", k);
  }
  /* the three horizons of issue #15 at this state: one figure for all three calls */
  if ((r & 0x30u) != 0u) {
    uint32_t sum = 0u;
    int all_ok = 1;
    cs_power_result p3[3], ph[3];
    memset(p3, 0, sizeof p3); /* the padding too: compared with memcmp below */
    memset(ph, 0, sizeof ph);
    for (uint32_t j = 0u; j < 3u; ++j) {
      pc.horizon_s = horizons_s[j];
      tic();
      const int rj = cs_power_limits(&g_est, temp, &pc, &p3[j]);
      const uint32_t n = insn_of((platform_ticks() - g_t0) & 0x00FFFFFFu);
      sum += n;
      all_ok = all_ok && rj == CS_POWER_OK;
    }
    /* the one call for the three: the same results, bit for bit */
    tic();
    const int rh = cs_power_limits_horizons(&g_est, temp, &pc, horizons_s, 3, ph);
    const uint32_t nh = insn_of((platform_ticks() - g_t0) & 0x00FFFFFFu);
    if ((rh == CS_POWER_OK) != (all_ok != 0) || (all_ok && memcmp(ph, p3, sizeof ph) != 0)) {
      fail("cs_power_limits_horizons differs from three cs_power_limits calls", k);
    }
    if (all_ok) {
      const uint32_t kind = (r & 8u) ? 1u : 0u;
      if (sum > g_entry_max[g_run][E_POWER3]) { g_entry_max[g_run][E_POWER3] = sum; }
      if (nh > g_entry_max[g_run][E_POWER3H]) { g_entry_max[g_run][E_POWER3H] = nh; }
      g_power3_sum[g_run][kind] += sum;
      g_power3h_sum[g_run][kind] += nh;
      g_power3_n[g_run][kind] += 1u;
    }
  }
  cs_energy_result er;
  const float power_W = (r & 0x40u) ? raw_float() : uniform(0.1f, 4.0f * 3.7f * cell_params.ecm.capacity_Ah);
  tic();
  const int re = cs_energy(&g_est, temp, power_W, 2.5f, 0.0f, (r & 0x80u) ? 3.0f : 0.0f, &er);
  toc(E_ENERGY);
  if (re == CS_POWER_OK) {
    ++g_energy_ok;
    if (!(er.energy_Wh >= 0.0f && er.energy_Wh < 1e30f)) { fail("cs_energy result not finite / negative", k); }
  }
  if (rc == CS_POWER_OK) { ++g_power_ok; }
  float ttf = 0.0f, ttf_sigma = 0.0f;
  tic();
  (void)cs_time_to_full(&g_est, (r & 0x100u) ? raw_float() : uniform(0.1f, 10.0f), 1.0f, &ttf, &ttf_sigma);
  toc(E_TTF);
  volatile float sink;
  tic();
  sink = cs_soc(&g_est);
  toc(E_SOC);
  tic();
  sink = cs_soc_sigma(&g_est);
  toc(E_SOC_SIGMA);
  (void)sink;
}

/* The SOH tracker's calls: a second estimator stepped with cs_step_soh over the same kind of inputs. */
static void run_soh(uint8_t filter, uint32_t steps) {
  cs_config cfg;
  cs_config_default(&cfg);
  cfg.filter = filter;
  cfg.initial_soc = uniform(0.3f, 0.95f);
  if (cs_init(&g_est_soh, &cell_params, &cfg) != CS_INIT_OK) {
    fail("SOH run: cs_init", 0u);
    return;
  }
  cs_soh_config sc;
  cs_soh_config_default(&sc, cell_params.ecm.capacity_Ah);
  tic();
  const int rc = cs_soh_init(&g_soh, &g_est_soh, &sc);
  toc(E_SOH_INIT);
  if (rc != CS_SOH_OK) {
    fail("cs_soh_init", 0u);
    return;
  }
  sample x = {1.0f, 0.0f, 0.5f * (cell_params.ecm.voltage_min_V + cell_params.ecm.voltage_max_V), 25.0f};
  for (uint32_t k = 0; k < steps; ++k) {
    next_sample(&x);
    if ((next_u32() & 3u) != 0u) { x.t = uniform(20.0f, 45.0f); } /* mostly inside the learning window */
    if ((next_u32() & 63u) == 0u) { x.current = 0.0f; }           /* rests: anchors and pairs */
    cs_report rep;
    cs_soh_report srep;
    tic();
    const uint8_t s = cs_step_soh(&g_est_soh, &g_soh, x.dt, x.current, x.voltage, x.t, &rep, &srep);
    toc(E_STEP_SOH);
    if (!cs_is_rejected(s) && !(srep.capacity_Ah > 0.0f && srep.capacity_Ah < 1e30f)) {
      fail("cs_step_soh left a capacity not finite / positive", k);
    }
    reset_nonfinite(&x);
    if (k % 997u == 996u) {
      cs_soh_state st;
      tic();
      const int sv = cs_soh_save_state(&g_soh, &st);
      toc(E_SOH_SAVE);
      tic();
      const int rs = cs_soh_restore_state(&g_soh, &g_est_soh, &st);
      toc(E_SOH_RESTORE);
      if (sv != CS_SOH_OK || rs != CS_SOH_OK) { fail("cs_soh_save_state / cs_soh_restore_state", k); }
    }
    if (k % 1999u == 1998u) {
      tic();
      (void)cs_soh_close_pair(&g_est_soh, &g_soh);
      toc(E_SOH_CLOSE);
      tic();
      if (k & 1u) {
        cs_soh_restart_pairing(&g_soh);
      } else {
        cs_soh_restart_pairing_rested(&g_soh);
      }
      toc(E_SOH_RESTART);
      float nodes[CS_SOH_OCV_NODES];
      tic();
      (void)cs_soh_ocv_nodes(&g_soh, nodes);
      toc(E_SOH_OCV);
    }
  }
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
  sample x = {1.0f, 0.0f, 0.5f * (cell_params.ecm.voltage_min_V + cell_params.ecm.voltage_max_V), 25.0f};
  for (uint32_t k = 0; k < WCET_STEPS; ++k) {
    next_sample(&x);
    cs_report rep;
    const uint32_t t0 = platform_ticks();
    const uint8_t s = cs_step(&g_est, x.dt, x.current, x.voltage, x.t, &rep);
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
    reset_nonfinite(&x);
    if (k % 7u == 6u) { time_power(k); }
    if (k % 997u == 996u) {
      cs_state saved;
      tic();
      const int sv = cs_save_state(&g_est, &saved);
      toc(E_SAVE);
      if (sv != CS_STATE_OK) { fail("cs_save_state", k); }
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

/* verifies: CS-PLAT-005 */
static void report_power3(const char* name) {
  for (uint32_t kind = 0u; kind < 2u; ++kind) {
    const uint32_t n = g_power3_n[g_run][kind];
    platform_write("wcet ");
    platform_write(name);
    platform_write(kind ? " cs_power_limits_2_10_30s conservative" : " cs_power_limits_2_10_30s nominal");
    platform_write(" mean_insn=");
    put_dec(n != 0u ? (uint32_t)(g_power3_sum[g_run][kind] / n) : 0u);
    platform_write(" one_call_mean_insn=");
    put_dec(n != 0u ? (uint32_t)(g_power3h_sum[g_run][kind] / n) : 0u);
    platform_write(" n=");
    put_dec(n);
    platform_write("\n");
  }
}

static void report_entries(const char* name) {
  for (uint32_t e = 0; e < E_COUNT; ++e) {
    const uint32_t m = g_entry_max[g_run][e];
    platform_write("wcet ");
    platform_write(name);
    platform_write(" ");
    platform_write(k_entry_name[e]);
    platform_write(" max_insn=");
    put_dec(m);
    platform_write(" budget ");
    put_dec(k_entry_budget[e]);
    platform_write(m <= k_entry_budget[e] ? " ok\n" : " OVER\n");
    if (m > k_entry_budget[e]) { fail(k_entry_name[e], 0u); }
  }
}

int main(void) {
  platform_ticks_start();
  g_run = 0u;
  run(CS_FILTER_EKF, "ekf", WCET_BUDGET_EKF);
  run_soh(CS_FILTER_EKF, WCET_STEPS / 2u);
  report_entries("ekf");
  report_power3("ekf");
  g_run = 1u;
  run(CS_FILTER_UKF, "ukf", WCET_BUDGET_UKF);
  run_soh(CS_FILTER_UKF, WCET_STEPS / 2u);
  report_entries("ukf");
  report_power3("ukf");
  platform_write("wcet power calls computed ");
  put_dec(g_power_ok);
  platform_write(", energy calls computed ");
  put_dec(g_energy_ok);
  platform_write("\n");
  if (g_power_ok == 0u || g_energy_ok == 0u) { fail("no power / energy call computed a result", 0u); }
  platform_write(g_failed ? "done rc=1\n" : "done rc=0\n");
  platform_exit(g_failed ? 1 : 0);
}
