/* SPDX-License-Identifier: Apache-2.0 */
/* Host test of the C API's SOH additions (docs/soh.md): init, stepping, a rejected step leaving the
 * estimator and the SOH storage byte-for-byte unchanged, save / restore continuing bit for bit (OCV
 * filter included), refusals (an old "CSH1" record among them), OCV learning switched off, and the
 * not-initialised paths. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cell_params.h"
#include "cellsense/c_api.h"

#include "expect.h"

static cs_estimator est, est2;
static cs_soh soh, soh2;

static float current_at(int k) { return ((k / 30) % 3 == 0) ? 0.0f : (((k / 30) % 3 == 1) ? 5.0f : 1.5f); }
static float voltage_at(int k) { return 4.0f - 0.00004f * (float)k - 0.02f * current_at(k); }

/* *e (filter, SOC 0.9) and the default SOH configuration in *sc (ocv_learning set). */
static void init_est(cs_estimator* e, uint8_t filter, cs_soh_config* sc, uint8_t ocv_learning) {
  cs_config c;
  cs_config_default(&c);
  c.filter = filter;
  c.initial_soc = 0.9f;
  EXPECT(cs_init(e, &cell_params, &c) == CS_INIT_OK);
  cs_soh_config_default(sc, cell_params.ecm.capacity_Ah);
  sc->ocv_learning = ocv_learning;
}

/* verifies: CS-SOH-007 */
static void run_filter(uint8_t filter) {
  cs_soh_config sc;
  init_est(&est, filter, &sc, 1u);
  EXPECT(cs_soh_init(&soh, &est, &sc) == CS_SOH_OK);
  EXPECT(sc.anchor_rest_s > 0.0f && sc.current_offset_sigma_A > 0.0f);
  /* the log starts at a known, rested SOC: a trusted anchor (its rests of 30 s are shorter than anchor_rest_s) */
  cs_soh_restart_pairing_rested(&soh);
  cs_soh_config bad = sc;
  bad.capacity_forgetting = 0.0f;
  EXPECT(cs_soh_init(&soh2, &est, &bad) == CS_SOH_BAD_CONFIG);
  bad = sc;
  bad.ocv_learning = 2u;
  EXPECT(cs_soh_init(&soh2, &est, &bad) == CS_SOH_BAD_CONFIG);
  bad = sc;
  bad.ocv_sigma_V = 0.0f;
  EXPECT(cs_soh_init(&soh2, &est, &bad) == CS_SOH_BAD_CONFIG);
  bad.ocv_learning = 0u; /* the OCV settings are not checked when learning is off */
  EXPECT(cs_soh_init(&soh2, &est, &bad) == CS_SOH_OK);
  memset(&soh2, 0, sizeof soh2);
  EXPECT(sc.ocv_learning == 1u && sc.ocv_sigma_V > 0.0f && sc.ocv_load_fraction >= 0.0f);
  EXPECT(cs_step_soh(&est, &soh2, 1.0f, 1.0f, 3.9f, 25.0f, NULL, NULL) == CS_STATUS_NOT_INITIALISED);
  cs_report r;
  cs_soh_report sr;
  int r0_updates = 0, ocv_updates = 0;
  float nodes[CS_SOH_OCV_NODES];
  EXPECT(cs_soh_ocv_nodes(&soh, nodes) == CS_SOH_OK);
  for (int j = 0; j < CS_SOH_OCV_NODES; ++j) EXPECT(nodes[j] == 0.0f); /* the prior: no correction */
  for (int k = 0; k < 3000; ++k) {
    if (k == 1000) {
      cs_estimator e_before = est;
      cs_soh s_before = soh;
      uint8_t st = cs_step_soh(&est, &soh, 1.0f, 1.0f, NAN, 25.0f, &r, &sr);
      EXPECT(cs_is_rejected(st));
      EXPECT(memcmp(&e_before, &est, sizeof est) == 0 && memcmp(&s_before, &soh, sizeof soh) == 0);
      st = cs_step_soh(&est, &soh, -1.0f, 1.0f, 3.9f, 25.0f, &r, &sr);
      EXPECT(cs_is_rejected(st));
      EXPECT(memcmp(&e_before, &est, sizeof est) == 0 && memcmp(&s_before, &soh, sizeof soh) == 0);
    }
    (void)cs_step_soh(&est, &soh, 1.0f, current_at(k), voltage_at(k), 25.0f, &r, &sr);
    r0_updates += sr.r0_updated;
    ocv_updates += sr.ocv_updated;
    EXPECT(sr.capacity_sigma_Ah > 0.0f && isfinite(sr.capacity_Ah) && isfinite(sr.r0_scale));
    EXPECT(isfinite(sr.ocv_shift_V) && fabsf(sr.ocv_shift_V) <= 1.0f && sr.ocv_updated <= 1u);
  }
  EXPECT(r0_updates > 10);
  EXPECT(ocv_updates > 10);
  EXPECT(cs_soh_ocv_nodes(&soh, nodes) == CS_SOH_OK);
  {
    int moved = 0;
    for (int j = 0; j < CS_SOH_OCV_NODES; ++j) {
      EXPECT(isfinite(nodes[j]) && fabsf(nodes[j]) <= 1.0f);
      moved = moved || nodes[j] != 0.0f;
    }
    EXPECT(moved);
  }
  /* save -> restore into fresh storage continues bit for bit */
  cs_state s;
  cs_soh_state hs;
  EXPECT(cs_save_state(&est, &s) == CS_STATE_OK);
  EXPECT(cs_soh_save_state(&soh, &hs) == CS_SOH_OK);
  init_est(&est2, filter, &sc, 1u);
  EXPECT(cs_soh_init(&soh2, &est2, &sc) == CS_SOH_OK);
  EXPECT(cs_restore_state(&est2, &s) == CS_STATE_OK);
  EXPECT(cs_soh_restore_state(&soh2, &est2, &hs) == CS_SOH_OK);
  int same = 1;
  for (int k = 3000; k < 3300; ++k) {
    cs_report ra, rb;
    cs_soh_report sa, sb;
    (void)cs_step_soh(&est, &soh, 1.0f, current_at(k), voltage_at(k), 25.0f, &ra, &sa);
    (void)cs_step_soh(&est2, &soh2, 1.0f, current_at(k), voltage_at(k), 25.0f, &rb, &sb);
    same = same && memcmp(&ra.soc, &rb.soc, sizeof ra.soc) == 0 && memcmp(&sa.capacity_Ah, &sb.capacity_Ah, sizeof(float)) == 0 &&
           memcmp(&sa.r0_scale, &sb.r0_scale, sizeof(float)) == 0 &&
           memcmp(&sa.ocv_shift_V, &sb.ocv_shift_V, sizeof(float)) == 0 && sa.ocv_updated == sb.ocv_updated;
  }
  EXPECT(same);
  {
    cs_soh_state a, b; /* the whole saved records (OCV filter included) agree byte for byte */
    float na[CS_SOH_OCV_NODES], nb[CS_SOH_OCV_NODES];
    EXPECT(cs_soh_save_state(&soh, &a) == CS_SOH_OK && cs_soh_save_state(&soh2, &b) == CS_SOH_OK);
    EXPECT(memcmp(&a, &b, sizeof a) == 0);
    EXPECT(cs_soh_ocv_nodes(&soh, na) == CS_SOH_OK && cs_soh_ocv_nodes(&soh2, nb) == CS_SOH_OK);
    EXPECT(memcmp(na, nb, sizeof na) == 0 && memcmp(na, &a.ocv_x[1], sizeof na) == 0);
  }
  /* refusals leave the storage unchanged */
  cs_soh keep = soh2;
  cs_soh_state bad_state = hs;
  bad_state.tag = 0;
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_BAD_TAG);
  bad_state.tag = 0x43534831u; /* "CSH1": a record of the layout before OCV learning */
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_BAD_TAG);
  bad_state = hs;
  bad_state.ocv_P[1][2] = bad_state.ocv_P[1][2] + 1e-3f; /* not symmetric */
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_REFUSED);
  bad_state = hs;
  bad_state.ocv_P[3][3] = -1.0f; /* not positive definite */
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_REFUSED);
  bad_state = hs;
  bad_state.ocv_x[2] = NAN;
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_REFUSED);
  bad_state = hs;
  bad_state.anchor_soc = 5.0f; /* issue #12 item 3: SOCs outside the SOC filter's bounds */
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_REFUSED);
  bad_state = hs;
  bad_state.ocv_x[0] = 50.0f;
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_REFUSED);
  bad_state = hs;
  bad_state.ocv_resync = 2u;
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_REFUSED);
  bad_state = hs;
  bad_state.r0_scale_var = -1.0f;
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_REFUSED);
  bad_state = hs;
  bad_state.capacity_Ah = NAN;
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_REFUSED);
  EXPECT(memcmp(&keep, &soh2, sizeof keep) == 0);
  cs_soh zero;
  memset(&zero, 0, sizeof zero);
  EXPECT(cs_step_soh(&est, &zero, 1.0f, 1.0f, 3.9f, 25.0f, NULL, NULL) == CS_STATUS_NOT_INITIALISED);
  EXPECT(cs_soh_save_state(&zero, &hs) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_ocv_nodes(&zero, nodes) == CS_SOH_NOT_INITIALISED);
  EXPECT(cs_soh_ocv_nodes(NULL, nodes) == CS_SOH_NOT_INITIALISED && cs_soh_ocv_nodes(&soh, NULL) == CS_SOH_NOT_INITIALISED);
  printf("filter %u: capacity %.4f Ah, R0 factor %.4f, OCV nodes %.4f %.4f %.4f %.4f %.4f V (%d updates)\n",
         (unsigned)filter, (double)sr.capacity_Ah, (double)sr.r0_scale, (double)nodes[0], (double)nodes[1],
         (double)nodes[2], (double)nodes[3], (double)nodes[4], ocv_updates);
}

/* OCV learning off: no shift at any step, no update, the nodes stay 0; the rest of SOH still works. */
/* verifies: CS-SOH-007 */
static void run_without_ocv(uint8_t filter) {
  cs_soh_config sc;
  init_est(&est, filter, &sc, 0u);
  EXPECT(cs_soh_init(&soh, &est, &sc) == CS_SOH_OK);
  int nonzero_shift = 0, ocv_updates = 0, r0_updates = 0;
  for (int k = 0; k < 3000; ++k) {
    cs_soh_report sr;
    (void)cs_step_soh(&est, &soh, 1.0f, current_at(k), voltage_at(k), 25.0f, NULL, &sr);
    nonzero_shift += sr.ocv_shift_V != 0.0f;
    ocv_updates += sr.ocv_updated;
    r0_updates += sr.r0_updated;
  }
  EXPECT(nonzero_shift == 0 && ocv_updates == 0 && r0_updates > 10);
  float nodes[CS_SOH_OCV_NODES];
  EXPECT(cs_soh_ocv_nodes(&soh, nodes) == CS_SOH_OK);
  for (int j = 0; j < CS_SOH_OCV_NODES; ++j) EXPECT(nodes[j] == 0.0f);
  /* its saved state restores too (same configuration) */
  cs_soh_state hs;
  EXPECT(cs_soh_save_state(&soh, &hs) == CS_SOH_OK && hs.tag == CS_SOH_STATE_TAG);
  init_est(&est2, filter, &sc, 0u);
  EXPECT(cs_soh_init(&soh2, &est2, &sc) == CS_SOH_OK);
  EXPECT(cs_soh_restore_state(&soh2, &est2, &hs) == CS_SOH_OK);
}

int main(void) {
  run_filter(CS_FILTER_EKF);
  run_filter(CS_FILTER_UKF);
  run_without_ocv(CS_FILTER_EKF);
  run_without_ocv(CS_FILTER_UKF);
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("test_soh_c_api_host: ok\n");
  return 0;
}
