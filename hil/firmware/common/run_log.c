/* SPDX-License-Identifier: Apache-2.0 */
/* The test firmware's body, identical on every Cortex-M board and on the host: run the EKF and the
 * UKF (float32, 2 RC + hysteresis, through the C API) over the compiled-in cell log and print
 * every step's report as float32 bit patterns, with per-step instruction counts and stack use.
 * The host build (hil/firmware/host) prints the same lines with zero counts; tests/mcu compares
 * the two outputs field by field (docs/mcu.md, "Parity").
 *
 * Output lines (all numbers of estimates in hex bit patterns):
 *   fw <platform> steps=<n> insn_per_tick=<num>/<den>
 *   init <filter> rc=<cs_init result> used_bytes=<n>
 *   s <filter> <k> <status> <soc> <soc_sigma> <v_pred> <innov> <S> <nis> <ticks> <stack_bytes>
 *   x <filter> <x[4] P[16] sign: 21 bit patterns>      final state (cs_save_state)
 *   sum <filter> steps=<n> ticks=<total> ticks_max=<max> stack_max=<bytes> hash=<fnv1a-32>
 *   check <name> ok|FAIL
 *   done rc=<exit code>
 * Exit code: 0 all checks passed, 1 an init failed, 2 a self-check failed (3: fault handler). */
#include <stdint.h>
#include <string.h>

#include "cell_log.h"     /* generated: hil/firmware/tools/make_cell_log.py */
#include "cell_params.h"  /* generated: cellsense export-c */
#include "cellsense/c_api.h"
#include "fw_print.h"
#include "platform.h"

static cs_estimator g_est;      /* per-cell state: static storage, no heap */
static cs_estimator g_restored; /* a second one for the save / restore round trip */

static uint32_t g_hash = 2166136261u;
static int g_failed;

static void check(const char* name, int ok) {
  platform_write("check ");
  platform_write(name);
  platform_write(ok ? " ok\n" : " FAIL\n");
  if (!ok) { g_failed = 1; }
}

static int same_report(const cs_report* a, const cs_report* b) {
  return a->status == b->status && bits(a->soc) == bits(b->soc) && bits(a->soc_sigma) == bits(b->soc_sigma) &&
         bits(a->voltage_pred_V) == bits(b->voltage_pred_V) && bits(a->innovation_V) == bits(b->innovation_V) &&
         bits(a->innovation_variance_V2) == bits(b->innovation_variance_V2) && bits(a->nis) == bits(b->nis);
}

/* One filter over the whole log. Returns the cs_init result. */
static int run_filter(uint8_t filter, const char* name) {
  cs_config cfg;
  cs_config_default(&cfg);
  cfg.filter = filter;
  cfg.initial_soc = CS_LOG_INITIAL_SOC;
#ifdef CELL_PARAMS_MODEL_ERROR_CURRENT_A
  /* the measurement noise the Python estimator uses for this cell (export-c), model error included */
  cfg.voltage_sigma_V = CELL_PARAMS_VOLTAGE_SIGMA_V;
  cfg.model_error_current_A = CELL_PARAMS_MODEL_ERROR_CURRENT_A;
  cfg.model_error_relative = CELL_PARAMS_MODEL_ERROR_RELATIVE;
  cfg.model_error_correlation_s = CELL_PARAMS_MODEL_ERROR_CORRELATION_S;
  cfg.model_error_voltage_V = CELL_PARAMS_MODEL_ERROR_VOLTAGE_V;
#endif
  const int rc = cs_init(&g_est, &cell_params, &cfg);
  platform_write("init ");
  platform_write(name);
  platform_write(" rc=");
  platform_write(cs_init_result_name(rc));
  platform_write(" used_bytes=");
  put_dec((uint32_t)cs_estimator_used_bytes(filter));
  platform_write("\n");
  if (rc != CS_INIT_OK) { return rc; }

  g_hash = 2166136261u;
  fw_step_stats stats = {0u, 0u, 0u};
  for (uint32_t k = 0; k < CS_LOG_STEPS; ++k) {
    const float* row = cs_log[k];
    cs_report r;
    const uintptr_t sp = platform_sp();
    platform_stack_paint(sp);
    const uint32_t t0 = platform_ticks();
    (void)cs_step(&g_est, row[0], row[1], row[2], row[3], &r);
    const uint32_t t1 = platform_ticks();
    const uint32_t stack = platform_stack_used(sp);
    const uint32_t ticks = (t1 - t0) & 0x00FFFFFFu;
    fw_stats_add(&stats, ticks, stack);

    const uint32_t w[7] = {r.status, bits(r.soc), bits(r.soc_sigma), bits(r.voltage_pred_V), bits(r.innovation_V),
                           bits(r.innovation_variance_V2), bits(r.nis)};
    put_step_line(name, k, w, ticks, stack, &g_hash);
  }

  cs_state st;
  check("save_state", cs_save_state(&g_est, &st) == CS_STATE_OK);
  platform_write("x ");
  platform_write(name);
  for (int i = 0; i < CS_STATES; ++i) { put_hex(bits(st.x[i])); }
  for (int i = 0; i < CS_STATES; ++i) {
    for (int j = 0; j < CS_STATES; ++j) { put_hex(bits(st.P[i][j])); }
  }
  put_hex(bits(st.hysteresis_sign));
  platform_write("\n");

  put_sum_head(name, CS_LOG_STEPS, &stats);
  platform_write(" hash=");
  put_hex_bare(g_hash);
  platform_write("\n");

  /* Power cycle: a fresh estimator restored from the saved record continues bit for bit. */
  int ok = cs_init(&g_restored, &cell_params, &cfg) == CS_INIT_OK && cs_restore_state(&g_restored, &st) == CS_STATE_OK;
  cs_report a, b;
  const float* last = cs_log[CS_LOG_STEPS - 1];
  (void)cs_step(&g_est, last[0], last[1], last[2], last[3], &a);
  (void)cs_step(&g_restored, last[0], last[1], last[2], last[3], &b);
  check("restore_continues_bit_for_bit", ok && same_report(&a, &b));
  st.P[0][0] = -1.0f;
  check("restore_refuses_bad_covariance", cs_restore_state(&g_restored, &st) == CS_STATE_REFUSED);
  return rc;
}

int main(void) {
  platform_ticks_start();
  put_fw_banner(" steps=", CS_LOG_STEPS);

  put_tick_overhead();

  int exit_code = 0;
  if (run_filter(CS_FILTER_EKF, "ekf") != CS_INIT_OK) { exit_code = 1; }
  if (run_filter(CS_FILTER_UKF, "ukf") != CS_INIT_OK) { exit_code = 1; }

  /* Error paths that need no extra RAM (the bad-parameter paths are tested on the host). */
  cs_config cfg;
  cs_config_default(&cfg);
  cfg.soc_min = 0.9f;
  cfg.soc_max = 0.1f;
  check("init_bad_config", cs_init(&g_est, &cell_params, &cfg) == CS_INIT_BAD_CONFIG);
  check("step_after_failed_init", cs_step(&g_est, 1.0f, 0.0f, 3.7f, 25.0f, 0) == CS_STATUS_NOT_INITIALISED);
  cs_config_default(&cfg);
  cfg.initial_soc_sigma = 0.0f;
  check("init_bad_covariance", cs_init(&g_est, &cell_params, &cfg) == CS_INIT_BAD_COVARIANCE);

  if (exit_code == 0 && g_failed) { exit_code = 2; }
  platform_write("done rc=");
  put_dec((uint32_t)exit_code);
  platform_write("\n");
  platform_exit(exit_code);
}
