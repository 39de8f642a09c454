/* SPDX-License-Identifier: Apache-2.0 */
/* Host test of the C API's edges (issue #16, coverage): every NULL or not-initialised argument of the
 * state-of-power and SOH entry points answered with its "not initialised" code and the outputs untouched;
 * the SOH entry points the other host tests do not reach (cs_soh_close_pair, pairs closing and reported
 * through cs_step_soh, an explicit initial capacity, a tracker stepped with the other filter's estimator,
 * restored SOCs below the SOC filter's bounds). Strict C99. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cell_params.h"
#include "cellsense/c_api.h"

#include "expect.h"

static cs_estimator est, est_ukf;
static cs_soh soh, soh2;

static void init_est(cs_estimator* e, uint8_t filter, float soc0) {
  cs_config c;
  cs_config_default(&c);
  c.filter = filter;
  c.initial_soc = soc0;
  EXPECT(cs_init(e, &cell_params, &c) == CS_INIT_OK);
}

/* verifies: CS-CAPI-008 */
static void test_power_null_arguments(void) {
  cs_power_config pc;
  cs_power_result pr;
  cs_energy_result er;
  float t = -7.0f, ts = -7.0f;
  init_est(&est, CS_FILTER_EKF, 0.5f);
  cs_power_config_default(NULL, 2.5f, 4.2f, 10.0f); /* no effect, no crash */
  cs_power_config_default(&pc, 2.5f, 4.2f, 10.0f);
  memset(&pr, 0x5A, sizeof pr);
  memset(&er, 0x5A, sizeof er);
  {
    const cs_power_result pr0 = pr;
    const cs_energy_result er0 = er;
    EXPECT(cs_power_limits(NULL, 25.0f, &pc, &pr) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_power_limits(&est, 25.0f, NULL, &pr) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_power_limits(&est, 25.0f, &pc, NULL) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_energy(NULL, 25.0f, 5.0f, 2.5f, 0.0f, 0.0f, &er) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_energy(&est, 25.0f, 5.0f, 2.5f, 0.0f, 0.0f, NULL) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_time_to_full(NULL, 1.0f, 1.0f, &t, &ts) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_time_to_full(&est, 1.0f, 1.0f, NULL, &ts) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_time_to_full(&est, 1.0f, 1.0f, &t, NULL) == CS_POWER_NOT_INITIALISED);
    EXPECT(memcmp(&pr, &pr0, sizeof pr) == 0 && memcmp(&er, &er0, sizeof er) == 0);
    EXPECT(t == -7.0f && ts == -7.0f);
  }
  /* and the same calls with every argument: answered */
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &pr) == CS_POWER_OK);
  EXPECT(cs_energy(&est, 25.0f, 5.0f, 2.5f, 0.0f, 0.0f, &er) == CS_POWER_OK);
  EXPECT(cs_time_to_full(&est, 1.0f, 1.0f, &t, &ts) == CS_POWER_OK && t > 0.0f);
}

/* verifies: CS-CAPI-008 */
static void test_soh_null_arguments(void) {
  cs_soh_config sc;
  cs_soh_state st;
  cs_report r;
  cs_soh_report sr;
  static union {
    double align;
    unsigned char bytes[sizeof(cs_soh) + 8];
  } raw;
  cs_soh* misaligned = (cs_soh*)(void*)(raw.bytes + 1);
  init_est(&est, CS_FILTER_EKF, 0.9f);
  cs_soh_config_default(NULL, 5.0f); /* no effect, no crash */
  cs_soh_config_default(&sc, cell_params.ecm.capacity_Ah);
  EXPECT(cs_soh_init(NULL, &est, &sc) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_init(misaligned, &est, &sc) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_init(&soh, NULL, &sc) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_init(&soh, &est, NULL) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_init(&soh, &est, &sc) == CS_SOH_OK);
  EXPECT(cs_step_soh(&est, misaligned, 1.0f, 0.0f, 3.9f, 25.0f, &r, &sr) == CS_STATUS_NOT_INITIALISED);
  EXPECT(cs_step_soh(&est, NULL, 1.0f, 0.0f, 3.9f, 25.0f, &r, &sr) == CS_STATUS_NOT_INITIALISED);
  EXPECT(cs_step_soh(NULL, &soh, 1.0f, 0.0f, 3.9f, 25.0f, &r, &sr) == CS_STATUS_NOT_INITIALISED);
  EXPECT(isnan(sr.capacity_Ah) && isnan(r.soc));
  EXPECT(cs_soh_close_pair(NULL, &soh) == -CS_SOH_NOT_INITIALISED); /* an error, not "pair not closed" (0) */
  EXPECT(cs_soh_close_pair(&est, NULL) == -CS_SOH_NOT_INITIALISED);
  cs_soh_restart_pairing(NULL);        /* no effect, no crash */
  cs_soh_restart_pairing_rested(NULL);
  EXPECT(cs_soh_save_state(&soh, NULL) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_save_state(&soh, &st) == CS_SOH_OK);
  EXPECT(cs_soh_restore_state(NULL, &est, &st) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_restore_state(&soh, NULL, &st) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_restore_state(&soh, &est, NULL) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_restore_state(&soh, &est, &st) == CS_SOH_OK);
}

/* One sample through the SOH tracker whose voltage is the SOC filter's own prediction from the step
 * before (innovation ~0): a self-consistent log without a cell model in C. Returns capacity_updated. */
static float v_next = 0.0f;
static int step(cs_estimator* e, cs_soh* s, float current_A) {
  cs_report r;
  cs_soh_report sr;
  (void)cs_step_soh(e, s, 1.0f, current_A, v_next, 25.0f, &r, &sr);
  if (isfinite(r.voltage_pred_V)) v_next = r.voltage_pred_V;
  return sr.capacity_updated;
}

/* verifies: CS-SOH-007 */
static void run_pairs_and_edges(uint8_t filter) {
  cs_soh_config sc;
  cs_soh_state st;
  int closed = 0;
  const float q = cell_params.ecm.capacity_Ah;
  const float i_1c = q; /* 1C (A) */
  init_est(&est, filter, 0.9f);
  cs_soh_config_default(&sc, q);
  sc.initial_capacity_Ah = 0.9f * q; /* an explicit starting capacity */
  sc.ocv_learning = 0u;               /* the voltages below are the filter's own: nothing to learn there */
  EXPECT(cs_soh_init(&soh, &est, &sc) == CS_SOH_OK);
  {
    cs_report r;
    cs_soh_report sr;
    (void)cs_step_soh(&est, &soh, 1.0f, 0.0f, 3.9f, 25.0f, &r, &sr);
    EXPECT(sr.capacity_Ah == 0.9f * q);
    v_next = r.voltage_pred_V;
  }
  /* a discharge pair from a rested start, closed by the first rest sample after it (cs_step_soh reports it) */
  cs_soh_restart_pairing_rested(&soh);
  for (int k = 0; k < 300; ++k) closed += step(&est, &soh, 0.0f); /* the SOC sigma falls below pair_max_soc_sigma */
  EXPECT(closed == 0);
  for (int k = 0; k < 1500; ++k) closed += step(&est, &soh, i_1c); /* 0.42 x 0.9 q */
  for (int k = 0; k < 5; ++k) closed += step(&est, &soh, 0.0f);
  EXPECT(closed == 1);
  /* a charge pair from a rested start, the log ending under load: cs_soh_close_pair closes it */
  cs_soh_restart_pairing_rested(&soh);
  for (int k = 0; k < 300; ++k) closed += step(&est, &soh, 0.0f);
  for (int k = 0; k < 1500; ++k) closed += step(&est, &soh, -i_1c);
  EXPECT(cs_soh_close_pair(&est, &soh) == 1);
  EXPECT(cs_soh_close_pair(&est, &soh) == 0); /* nothing open any more */
  cs_soh_restart_pairing(&soh);
  /* a capacity the SOC filter cannot take (beyond float's range for the model) or not finite: refused */
  sc.initial_capacity_Ah = INFINITY;
  EXPECT(cs_soh_init(&soh2, &est, &sc) == CS_SOH_BAD_CONFIG);
  sc.initial_capacity_Ah = 3.2e38f;
  EXPECT(cs_soh_init(&soh2, &est, &sc) == CS_SOH_BAD_CONFIG);
  /* restored SOCs below the SOC filter's lower bound: refused, the tracker unchanged */
  EXPECT(cs_soh_save_state(&soh, &st) == CS_SOH_OK);
  {
    cs_soh keep = soh;
    cs_soh_state bad = st;
    bad.anchor_soc = -1.0f;
    EXPECT(cs_soh_restore_state(&soh, &est, &bad) == CS_SOH_REFUSED);
    bad = st;
    bad.ocv_x[0] = -1.0f;
    EXPECT(cs_soh_restore_state(&soh, &est, &bad) == CS_SOH_REFUSED);
    EXPECT(memcmp(&keep, &soh, sizeof soh) == 0);
  }
  /* a tracker stepped with an estimator of the other filter: another estimator (CS_STATUS_SOH_OTHER_ESTIMATOR); the
     tracker's own storage re-initialised with the other filter: nothing is run, "not initialised" */
  init_est(&est_ukf, filter == CS_FILTER_EKF ? CS_FILTER_UKF : CS_FILTER_EKF, 0.5f);
  {
    cs_estimator e_before = est_ukf;
    cs_soh s_before = soh;
    EXPECT(cs_step_soh(&est_ukf, &soh, 1.0f, 0.0f, 3.9f, 25.0f, NULL, NULL) == CS_STATUS_SOH_OTHER_ESTIMATOR);
    EXPECT(cs_soh_close_pair(&est_ukf, &soh) == -CS_SOH_OTHER_ESTIMATOR);
    EXPECT(cs_soh_restore_state(&soh, &est_ukf, &st) == CS_SOH_REFUSED);
    EXPECT(memcmp(&e_before, &est_ukf, sizeof est_ukf) == 0 && memcmp(&s_before, &soh, sizeof soh) == 0);
    init_est(&est, filter == CS_FILTER_EKF ? CS_FILTER_UKF : CS_FILTER_EKF, 0.5f); /* same storage, other filter */
    e_before = est;
    EXPECT(cs_step_soh(&est, &soh, 1.0f, 0.0f, 3.9f, 25.0f, NULL, NULL) == CS_STATUS_NOT_INITIALISED);
    EXPECT(cs_soh_close_pair(&est, &soh) == -CS_SOH_NOT_INITIALISED);
    EXPECT(memcmp(&e_before, &est, sizeof est) == 0 && memcmp(&s_before, &soh, sizeof soh) == 0);
  }
  printf("filter %u: capacity pairs closed by a rest sample: %d, by cs_soh_close_pair: 1\n", (unsigned)filter, closed);
}

/* cs_soh_config_default with a NaN or infinite capacity: a config cs_soh_init refuses (not a 1 A h cell's) */
/* verifies: CS-CAPI-012 */
static void test_soh_default_not_finite(void) {
  cs_soh_config sc;
  init_est(&est, CS_FILTER_EKF, 0.9f);
  cs_soh_config_default(&sc, NAN);
  EXPECT(isnan(sc.capacity_sigma_Ah) && isnan(sc.rest_current_A));
  EXPECT(cs_soh_init(&soh2, &est, &sc) == CS_SOH_BAD_CONFIG);
  cs_soh_config_default(&sc, INFINITY);
  EXPECT(cs_soh_init(&soh2, &est, &sc) == CS_SOH_BAD_CONFIG);
  cs_soh_config_default(&sc, 0.0f); /* <= 0: a 1 A h cell's settings, accepted */
  EXPECT(sc.rest_current_A == 0.01f && cs_soh_init(&soh2, &est, &sc) == CS_SOH_OK);
}

/* A tracker is bound to the estimator it was set up with: another estimator (even of the same filter and cell) is
 * refused by cs_step_soh and cs_soh_close_pair with nothing changed; cs_soh_restore_state rebinds. */
/* verifies: CS-CAPI-012 */
static void test_soh_bound_estimator(void) {
  static cs_estimator other;
  cs_soh_config sc;
  cs_soh_state st;
  cs_report r;
  cs_soh_report sr;
  init_est(&est, CS_FILTER_EKF, 0.8f);
  init_est(&other, CS_FILTER_EKF, 0.8f);
  cs_soh_config_default(&sc, cell_params.ecm.capacity_Ah);
  sc.initial_capacity_Ah = 2.0f;
  EXPECT(cs_soh_init(&soh2, &est, &sc) == CS_SOH_OK);
  {
    const cs_estimator e0 = other;
    const cs_soh s0 = soh2;
    memset(&r, 0x5A, sizeof r);
    EXPECT(cs_step_soh(&other, &soh2, 1.0f, 1.0f, 3.9f, 25.0f, &r, &sr) == CS_STATUS_SOH_OTHER_ESTIMATOR);
    EXPECT(r.status == CS_STATUS_SOH_OTHER_ESTIMATOR && isnan(r.soc) && isnan(sr.capacity_Ah));
    EXPECT(cs_is_rejected(CS_STATUS_SOH_OTHER_ESTIMATOR) == 1);
    EXPECT(strcmp(cs_status_name(CS_STATUS_SOH_OTHER_ESTIMATOR), "soh_other_estimator") == 0);
    EXPECT(cs_soh_close_pair(&other, &soh2) == -CS_SOH_OTHER_ESTIMATOR);
    EXPECT(memcmp(&e0, &other, sizeof other) == 0 && memcmp(&s0, &soh2, sizeof soh2) == 0);
  }
  EXPECT(cs_step_soh(&est, &soh2, 1.0f, 1.0f, 3.9f, 25.0f, &r, &sr) < CS_STATUS_REJECTED_NONFINITE);
  EXPECT(sr.capacity_Ah == 2.0f);
  /* after a "reboot" the estimator lives elsewhere: restoring binds the tracker to it */
  EXPECT(cs_soh_save_state(&soh2, &st) == CS_SOH_OK);
  EXPECT(cs_soh_restore_state(&soh2, &other, &st) == CS_SOH_OK);
  EXPECT(cs_step_soh(&other, &soh2, 1.0f, 1.0f, 3.9f, 25.0f, &r, &sr) < CS_STATUS_REJECTED_NONFINITE);
  EXPECT(cs_step_soh(&est, &soh2, 1.0f, 1.0f, 3.9f, 25.0f, &r, &sr) == CS_STATUS_SOH_OTHER_ESTIMATOR);
  EXPECT(cs_soh_close_pair(&other, &soh2) >= 0);
}

int main(void) {
  test_power_null_arguments();
  test_soh_null_arguments();
  run_pairs_and_edges(CS_FILTER_EKF);
  run_pairs_and_edges(CS_FILTER_UKF);
  test_soh_default_not_finite();
  test_soh_bound_estimator();
  if (failures == 0) printf("test_c_api_edges_host: ok\n");
  return failures == 0 ? 0 : 1;
}
