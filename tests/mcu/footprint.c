/* SPDX-License-Identifier: Apache-2.0 */
/* Footprint image: the smallest program that uses the whole C API (init, step, save, restore,
 * estimate) for one filter variant, so the linker map shows what the core costs in flash and RAM.
 * Inputs are volatile so nothing is folded away. Built as fp_{both,ekf,ukf}_<core>. */
#include "cell_params.h"
#include "cellsense/c_api.h"

static cs_estimator g_est;
volatile uint8_t fp_filter = CS_FILTER_EKF;
volatile float fp_in[4] = {1.0f, 1.0f, 3.7f, 25.0f};
volatile float fp_out;

int main(void) {
  cs_config cfg;
  cs_config_default(&cfg);
#if defined(CS_FP_VARIANT_ukf)
  cfg.filter = CS_FILTER_UKF;
#elif defined(CS_FP_VARIANT_both)
  cfg.filter = fp_filter;
#endif
  if (cs_init(&g_est, &cell_params, &cfg) != CS_INIT_OK) { return 1; }
  cs_report r;
  (void)cs_step(&g_est, fp_in[0], fp_in[1], fp_in[2], fp_in[3], &r);
  cs_state s;
  if (cs_save_state(&g_est, &s) != CS_STATE_OK || cs_restore_state(&g_est, &s) != CS_STATE_OK) { return 2; }
  fp_out = r.soc + cs_soc(&g_est) + cs_soc_sigma(&g_est);
  return 0;
}
