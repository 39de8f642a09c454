/* SPDX-License-Identifier: Apache-2.0 */
/* Host test of the C API's SOH additions (docs/soh.md): init, stepping, a rejected step leaving the
 * estimator and the SOH storage byte-for-byte unchanged, save / restore continuing bit for bit,
 * refusals, and the not-initialised paths. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cell_params.h"
#include "cellsense/c_api.h"

static int failures;
#define EXPECT(cond)                                                     \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

static cs_estimator est, est2;
static cs_soh soh, soh2;

static float current_at(int k) { return ((k / 30) % 3 == 0) ? 0.0f : (((k / 30) % 3 == 1) ? 5.0f : 1.5f); }
static float voltage_at(int k) { return 4.0f - 0.00004f * (float)k - 0.02f * current_at(k); }

static void run_filter(uint8_t filter) {
  cs_config c;
  cs_config_default(&c);
  c.filter = filter;
  c.initial_soc = 0.9f;
  EXPECT(cs_init(&est, &cell_params, &c) == CS_INIT_OK);
  cs_soh_config sc;
  cs_soh_config_default(&sc, cell_params.ecm.capacity_Ah);
  EXPECT(cs_soh_init(&soh, &est, &sc) == CS_SOH_OK);
  cs_soh_config bad = sc;
  bad.capacity_forgetting = 0.0f;
  EXPECT(cs_soh_init(&soh2, &est, &bad) == CS_SOH_BAD_CONFIG);
  EXPECT(cs_step_soh(&est, &soh2, 1.0f, 1.0f, 3.9f, 25.0f, NULL, NULL) == CS_STATUS_NOT_INITIALISED);
  cs_report r;
  cs_soh_report sr;
  int r0_updates = 0;
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
    EXPECT(sr.capacity_sigma_Ah > 0.0f && isfinite(sr.capacity_Ah) && isfinite(sr.r0_scale));
  }
  EXPECT(r0_updates > 10);
  /* save -> restore into fresh storage continues bit for bit */
  cs_state s;
  cs_soh_state hs;
  EXPECT(cs_save_state(&est, &s) == CS_STATE_OK);
  EXPECT(cs_soh_save_state(&soh, &hs) == CS_SOH_OK);
  EXPECT(cs_init(&est2, &cell_params, &c) == CS_INIT_OK);
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
           memcmp(&sa.r0_scale, &sb.r0_scale, sizeof(float)) == 0;
  }
  EXPECT(same);
  /* refusals leave the storage unchanged */
  cs_soh keep = soh2;
  cs_soh_state bad_state = hs;
  bad_state.tag = 0;
  EXPECT(cs_soh_restore_state(&soh2, &est2, &bad_state) == CS_SOH_BAD_TAG);
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
  printf("filter %u: capacity %.4f Ah, R0 factor %.4f\n", (unsigned)filter, (double)sr.capacity_Ah, (double)sr.r0_scale);
}

int main(void) {
  run_filter(CS_FILTER_EKF);
  run_filter(CS_FILTER_UKF);
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("test_soh_c_api_host: ok\n");
  return 0;
}
