/* SPDX-License-Identifier: Apache-2.0 */
/* A firmware / application that uses cellsense through its C API only (tests/consumer, docs/mcu.md).
 * Built by tests/consumer/build.sh three ways (find_package after `cmake --install`, add_subdirectory,
 * FetchContent) for the host, where it runs, and for Cortex-M4F, where it links.
 *
 * The cell is a small hand-made one (linear OCV, constant resistances) so this file needs nothing
 * generated. The "measured" voltage comes from the same ECM in double precision; the estimator
 * starts 0.40 off in SOC and must end within 0.02 of the truth after an hour at 1 A (exit 1 if not). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cellsense/c_api.h"

static cs_cell_params cell; /* static: 16.5 KiB, not on the stack */
static cs_estimator estimator;

static double ocv_V(double soc) { return 3.0 + 1.2 * soc; }

static void make_cell(void) {
  cs_ecm_params* p = &cell.ecm;
  memset(&cell, 0, sizeof cell);
  cell.layout = CS_PARAMS_LAYOUT;
  p->capacity_Ah = 2.0f;
  p->coulombic_efficiency = 1.0f;
  p->hysteresis_rate = 0.0f;
  p->sign_deadband_A = 0.01f;
  p->grid.n_soc = 2;
  p->grid.n_temperature = 1;
  p->grid.soc[0] = 0.0f;
  p->grid.soc[1] = 1.0f;
  p->grid.temperature_degC[0] = 25.0f;
  for (int s = 0; s < 2; ++s) {
    p->ocv_V.value[0][s] = (float)ocv_V((double)s);
    p->r0_Ohm.value[0][s] = 0.02f;
    p->rc_r_Ohm[0].value[0][s] = 0.01f;
    p->rc_r_Ohm[1].value[0][s] = 0.01f;
    p->rc_tau_s[0].value[0][s] = 10.0f;
    p->rc_tau_s[1].value[0][s] = 200.0f;
  }
  p->voltage_min_V = 2.5f;
  p->voltage_max_V = 4.5f;
  p->current_min_A = -20.0f;
  p->current_max_A = 20.0f;
  p->temperature_min_degC = -40.0f;
  p->temperature_max_degC = 80.0f;
}

int main(void) {
  make_cell();
  cs_config cfg;
  cs_config_default(&cfg);
  cfg.filter = CS_FILTER_EKF;
  cfg.initial_soc = 0.5f;
  const int init = cs_init(&estimator, &cell, &cfg);
  if (init != CS_INIT_OK) {
    printf("cs_init: %s\n", cs_init_result_name(init));
    return 1;
  }
  /* Truth: 1 A discharge for 3600 s from SOC 0.9 (ends at 0.4), two RC pairs, exact discrete update. */
  double soc = 0.9, v1 = 0.0, v2 = 0.0;
  const double current_A = 1.0, dt_s = 1.0;
  int fused = 0;
  for (int k = 0; k < 3600; ++k) {
    soc -= current_A * dt_s / (3600.0 * 2.0);
    v1 = v1 * exp(-dt_s / 10.0) + 0.01 * current_A * (1.0 - exp(-dt_s / 10.0));
    v2 = v2 * exp(-dt_s / 200.0) + 0.01 * current_A * (1.0 - exp(-dt_s / 200.0));
    const double v = ocv_V(soc) - 0.02 * current_A - v1 - v2;
    cs_report r;
    const uint8_t status = cs_step(&estimator, (float)dt_s, (float)current_A, (float)v, 25.0f, &r);
    fused += status == CS_STATUS_FUSED;
  }
  const double err = (double)cs_soc(&estimator) - soc;
  printf("cellsense consumer: %d/3600 steps fused, SOC %.4f (truth %.4f, error %+.4f, 1 sigma %.4f)\n", fused,
         (double)cs_soc(&estimator), soc, err, (double)cs_soc_sigma(&estimator));
  return (fused > 3000 && fabs(err) < 0.02) ? 0 : 1;
}
