/* SPDX-License-Identifier: Apache-2.0 */
/* The SOH-enabled estimator (docs/soh.md) over the compiled-in log, EKF then UKF: cs_step_soh()
 * per sample, instructions and stack per step, and the final SOC / SOH state (capacity, R0 factor,
 * the OCV correction's nodes and the last step's OCV shift) as float32 bit patterns ("final"
 * lines), which tests/mcu/soh_parity.py compares with the host build of this same file.
 * The "sum" and "overhead" lines are read by `cellsense bench --mcu` (python/cellsense/mcu.py).
 * Exit code 0 when both filters initialised, the save -> restore round trip continued bit for bit
 * (OCV filter included), an old "CSH1" record was refused, and with OCV learning off every step's
 * OCV shift was 0 ("check" lines). */
#include <stdint.h>
#include <string.h>

#include "cell_log.h"
#include "cell_params.h"
#include "cellsense/c_api.h"
#include "fw_print.h"
#include "platform.h"

static cs_estimator g_est, g_est2;
static cs_soh g_soh, g_soh2;
static int g_failed;

/* An estimator + SOH tracker pair for `filter` at the log's initial SOC, default settings. */
static int init_pair(cs_estimator* est, cs_soh* soh, uint8_t filter, uint8_t ocv_learning) {
  cs_config cfg;
  cs_config_default(&cfg);
  cfg.filter = filter;
  cfg.initial_soc = CS_LOG_INITIAL_SOC;
  cs_soh_config sc;
  cs_soh_config_default(&sc, cell_params.ecm.capacity_Ah);
  sc.ocv_learning = ocv_learning;
  if (cs_init(est, &cell_params, &cfg) != CS_INIT_OK || cs_soh_init(soh, est, &sc) != CS_SOH_OK) { return 0; }
  /* the log starts at a known, rested SOC: its first rest sample is a trusted anchor (docs/soh.md) */
  cs_soh_restart_pairing_rested(soh);
  return 1;
}

static void run_filter(uint8_t filter, const char* name) {
  if (!init_pair(&g_est, &g_soh, filter, 1u)) {
    platform_write("soh init failed\n");
    g_failed = 1;
    return;
  }
  fw_step_stats stats = {0u, 0u, 0u};
  uint32_t n_cap = 0, n_r0 = 0, n_ocv = 0;
  cs_soh_report sr;
  memset(&sr, 0, sizeof sr);
  for (uint32_t k = 0; k < CS_LOG_STEPS; ++k) {
    const float* row = cs_log[k];
    cs_report r;
    const uintptr_t sp = platform_sp();
    platform_stack_paint(sp);
    const uint32_t t0 = platform_ticks();
    (void)cs_step_soh(&g_est, &g_soh, row[0], row[1], row[2], row[3], &r, &sr);
    const uint32_t t1 = platform_ticks();
    const uint32_t stack = platform_stack_used(sp);
    const uint32_t ticks = (t1 - t0) & 0x00FFFFFFu;
    fw_stats_add(&stats, ticks, stack);
    n_cap += sr.capacity_updated;
    n_r0 += sr.r0_updated;
    n_ocv += sr.ocv_updated;
  }
  cs_state st;
  cs_soh_state hs;
  (void)cs_save_state(&g_est, &st);
  (void)cs_soh_save_state(&g_soh, &hs);
  platform_write("final ");
  platform_write(name);
  put_hex(bits(cs_soc(&g_est)));
  put_hex(bits(hs.capacity_Ah));
  put_hex(bits(hs.a_xx));
  put_hex(bits(hs.r0_scale));
  put_hex(bits(hs.r0_scale_var));
  put_hex(bits(sr.r0_Ohm));
  put_hex(bits(sr.ocv_shift_V));
  float nodes[CS_SOH_OCV_NODES];
  if (cs_soh_ocv_nodes(&g_soh, nodes) != CS_SOH_OK) { g_failed = 1; }
  for (int j = 0; j < CS_SOH_OCV_NODES; ++j) { put_hex(bits(nodes[j])); }
  platform_write("\n");
  /* state of power and energy at the end of the log (docs/power.md): the same bits on every core */
  {
    const float last_T = cs_log[CS_LOG_STEPS - 1][3];
    cs_power_config pc;
    cs_power_config_default(&pc, 2.5f, 4.2f, 4.0f * cell_params.ecm.capacity_Ah);
    cs_power_result pr, pk;
    cs_energy_result er;
    float ttf = 0.0f, ttf_sd = 0.0f;
    if (cs_power_limits(&g_est, last_T, &pc, &pr) != CS_POWER_OK) { g_failed = 1; }
    pc.soc_sigma_k = 3.0f;
    pc.voltage_sigma_k = 3.0f;
    if (cs_power_limits(&g_est, last_T, &pc, &pk) != CS_POWER_OK) { g_failed = 1; }
    /* with a current-dependent overpotential table (docs/power.md): the asinh of the library, the same bits too */
    cs_power_result po;
    pc.soc_sigma_k = 0.0f;
    pc.voltage_sigma_k = 0.0f;
    pc.discharge_current_max_A = 1000.0f;
    pc.charge_current_max_A = 1000.0f;
    pc.overpotential_count = 2;
    pc.overpotential_temperature_degC[0] = 0.0f;
    pc.overpotential_temperature_degC[1] = 40.0f;
    pc.overpotential_current_A[0] = 5.0f;
    pc.overpotential_current_A[1] = 25.0f;
    if (cs_power_limits(&g_est, last_T, &pc, &po) != CS_POWER_OK) { g_failed = 1; }
    if (cs_energy(&g_est, last_T, 3.7f * cell_params.ecm.capacity_Ah, 2.5f, 0.0f, 0.0f, &er) != CS_POWER_OK) { g_failed = 1; }
    if (cs_time_to_full(&g_est, cell_params.ecm.capacity_Ah, 1.0f, &ttf, &ttf_sd) != CS_POWER_OK) { g_failed = 1; }
    platform_write("final power ");
    platform_write(name);
    put_hex(bits(pr.discharge_current_A));
    put_hex(bits(pr.charge_current_A));
    put_hex(bits(pr.discharge_power_W));
    put_hex(bits(pr.charge_power_W));
    put_hex(bits(pk.discharge_current_A));
    put_hex(bits(pk.charge_current_A));
    put_hex(bits(po.discharge_current_A));
    put_hex(bits(po.charge_current_A));
    put_hex(bits(er.energy_Wh));
    put_hex(bits(er.time_to_empty_s));
    put_hex(bits(ttf));
    platform_write("\n");
    /* the 2 / 10 / 30 s limits in one call (cs_power_limits_horizons), nominal and conservative: the same bits as
     * one cs_power_limits call per horizon (checked here), and on every core as on the host (soh_parity.py) */
    static const float horizons_s[3] = {2.0f, 10.0f, 30.0f};
    platform_write("final power3 ");
    platform_write(name);
    for (int kind = 0; kind < 2; ++kind) {
      pc.soc_sigma_k = kind ? 3.0f : 0.0f;
      pc.voltage_sigma_k = kind ? 3.0f : 0.0f;
      cs_power_result ph[3];
      if (cs_power_limits_horizons(&g_est, last_T, &pc, horizons_s, 3, ph) != CS_POWER_OK) { g_failed = 1; }
      for (int j = 0; j < 3; ++j) {
        cs_power_result one;
        pc.horizon_s = horizons_s[j];
        if (cs_power_limits(&g_est, last_T, &pc, &one) != CS_POWER_OK) { g_failed = 1; }
        if (bits(one.discharge_current_A) != bits(ph[j].discharge_current_A) ||
            bits(one.charge_current_A) != bits(ph[j].charge_current_A) ||
            bits(one.discharge_power_W) != bits(ph[j].discharge_power_W) ||
            bits(one.charge_power_W) != bits(ph[j].charge_power_W) ||
            one.discharge_limited_by != ph[j].discharge_limited_by || one.charge_limited_by != ph[j].charge_limited_by) {
          g_failed = 1;
        }
        put_hex(bits(ph[j].discharge_current_A));
        put_hex(bits(ph[j].charge_current_A));
        put_hex(bits(ph[j].discharge_power_W));
        put_hex(bits(ph[j].charge_power_W));
      }
    }
    platform_write("\n");
  }
  put_sum_head(name, CS_LOG_STEPS, &stats);
  platform_write(" r0_updates=");
  put_dec(n_r0);
  platform_write(" capacity_updates=");
  put_dec(n_cap);
  platform_write(" ocv_updates=");
  put_dec(n_ocv);
  platform_write(" insn_per_tick=");
  put_dec(platform_insn_per_tick_num());
  platform_write("/");
  put_dec(platform_insn_per_tick_den());
  platform_write("\n");
  /* save -> restore into fresh storage continues bit for bit */
  int ok = init_pair(&g_est2, &g_soh2, filter, 1u) && cs_restore_state(&g_est2, &st) == CS_STATE_OK && cs_soh_restore_state(&g_soh2, &g_est2, &hs) == CS_SOH_OK;
  const float* last = cs_log[CS_LOG_STEPS - 1];
  cs_report a, b;
  cs_soh_report sa, sb;
  (void)cs_step_soh(&g_est, &g_soh, last[0], last[1], last[2], last[3], &a, &sa);
  (void)cs_step_soh(&g_est2, &g_soh2, last[0], last[1], last[2], last[3], &b, &sb);
  ok = ok && bits(a.soc) == bits(b.soc) && bits(sa.capacity_Ah) == bits(sb.capacity_Ah) &&
       bits(sa.r0_scale) == bits(sb.r0_scale) && bits(sa.ocv_shift_V) == bits(sb.ocv_shift_V) &&
       sa.ocv_updated == sb.ocv_updated;
  cs_soh_state ha, hb; /* the whole records, OCV filter included (save zeroes the padding) */
  ok = ok && cs_soh_save_state(&g_soh, &ha) == CS_SOH_OK && cs_soh_save_state(&g_soh2, &hb) == CS_SOH_OK &&
       memcmp(&ha, &hb, sizeof ha) == 0;
  platform_write(ok ? "check soh_restore ok\n" : "check soh_restore FAIL\n");
  if (!ok) { g_failed = 1; }
  /* a record of the layout before OCV learning ("CSH1") is refused and changes nothing */
  cs_soh keep = g_soh2;
  cs_soh_state old = hs;
  old.tag = 0x43534831u;
  ok = cs_soh_restore_state(&g_soh2, &g_est2, &old) == CS_SOH_BAD_TAG && memcmp(&keep, &g_soh2, sizeof keep) == 0;
  platform_write(ok ? "check soh_old_tag ok\n" : "check soh_old_tag FAIL\n");
  if (!ok) { g_failed = 1; }
  /* The rest of the SOH API, on the copy (after everything above is printed), so that this image
   * links all of it: `cellsense bench --mcu` reads the SOH code's flash from this image's map. */
  (void)cs_soh_close_pair(&g_est2, &g_soh2);
  cs_soh_restart_pairing(&g_soh2);
  ok = cs_soh_save_state(&g_soh2, &hs) == CS_SOH_OK && hs.anchored == 0u;
  platform_write(ok ? "check soh_restart_pairing ok\n" : "check soh_restart_pairing FAIL\n");
  if (!ok) { g_failed = 1; }
}

/* OCV learning off (on the copies, after the measured runs): the OCV shift is 0 at every step. */
static void run_without_ocv(uint8_t filter, const char* name) {
  int ok = init_pair(&g_est2, &g_soh2, filter, 0u);
  for (uint32_t k = 0; ok && k < CS_LOG_STEPS; ++k) {
    const float* row = cs_log[k];
    cs_soh_report sr;
    (void)cs_step_soh(&g_est2, &g_soh2, row[0], row[1], row[2], row[3], NULL, &sr);
    ok = bits(sr.ocv_shift_V) == 0u && sr.ocv_updated == 0u;
  }
  platform_write("check soh_ocv_off_");
  platform_write(name);
  platform_write(ok ? " ok\n" : " FAIL\n");
  if (!ok) { g_failed = 1; }
}

int main(void) {
  platform_ticks_start();
  platform_write("soh ");
  platform_write(platform_name());
  platform_write("\n");
  put_tick_overhead();
  run_filter(CS_FILTER_EKF, "ekf");
  run_filter(CS_FILTER_UKF, "ukf");
  run_without_ocv(CS_FILTER_EKF, "ekf");
  run_without_ocv(CS_FILTER_UKF, "ukf");
  platform_flush();
  platform_exit(g_failed);
}
