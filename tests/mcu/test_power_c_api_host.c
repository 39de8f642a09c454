/* SPDX-License-Identifier: Apache-2.0 */
/* Host test of the C API's state of power and energy (docs/power.md): limits for three horizons, the
 * conservative option, refusals that leave the output untouched, energy and time to full, the
 * not-initialised paths. The core's own arithmetic is tested in tests/cpp/test_power.cpp. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cell_params.h"
#include "cellsense/c_api.h"

#include "expect.h"

static cs_estimator est;

/* verifies: CS-PWR-002, CS-PWR-004, CS-PWR-009 */
static void run_filter(uint8_t filter) {
  cs_config c;
  cs_config_default(&c);
  c.filter = filter;
  c.initial_soc = 0.6f;
  EXPECT(cs_init(&est, &cell_params, &c) == CS_INIT_OK);
  cs_power_config pc;
  cs_power_config_default(&pc, 2.5f, 4.2f, 50.0f);
  EXPECT(pc.horizon_s == 10.0f && pc.soc_min == 0.0f && pc.soc_max == 1.0f && pc.soc_sigma_k == 0.0f);
  cs_power_result r2, r10, r30, rc;
  pc.horizon_s = 2.0f;
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &r2) == CS_POWER_OK);
  pc.horizon_s = 10.0f;
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &r10) == CS_POWER_OK);
  pc.horizon_s = 30.0f;
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &r30) == CS_POWER_OK);
  EXPECT(r2.discharge_current_A >= r10.discharge_current_A && r10.discharge_current_A >= r30.discharge_current_A);
  EXPECT(r2.charge_current_A >= r10.charge_current_A && r10.charge_current_A >= r30.charge_current_A);
  EXPECT(r30.discharge_current_A > 0.0f && r30.charge_current_A > 0.0f);
  EXPECT(r10.discharge_power_W > 0.0f && r10.charge_power_W > 0.0f);
  EXPECT(r10.discharge_limited_by <= CS_LIMITED_BY_NONE && r10.charge_limited_by <= CS_LIMITED_BY_NONE);
  if (r10.discharge_limited_by == CS_LIMITED_BY_VOLTAGE) { EXPECT(fabsf(r10.discharge_voltage_V - 2.5f) < 0.01f); }
  pc.horizon_s = 10.0f;
  pc.soc_sigma_k = 3.0f;
  pc.voltage_sigma_k = 3.0f;
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &rc) == CS_POWER_OK);
  EXPECT(rc.discharge_current_A <= r10.discharge_current_A && rc.charge_current_A <= r10.charge_current_A);
  /* refusals: the output untouched */
  cs_power_result keep;
  memset(&keep, 0xA5, sizeof keep);
  cs_power_result out = keep;
  cs_power_config bad = pc;
  bad.horizon_s = 0.0f;
  EXPECT(cs_power_limits(&est, 25.0f, &bad, &out) == CS_POWER_BAD_CONFIG);
  bad = pc;
  bad.voltage_min_V = 5.0f;
  EXPECT(cs_power_limits(&est, 25.0f, &bad, &out) == CS_POWER_BAD_CONFIG);
  bad = pc;
  bad.discharge_current_max_A = NAN;
  EXPECT(cs_power_limits(&est, 25.0f, &bad, &out) == CS_POWER_BAD_CONFIG);
  EXPECT(cs_power_limits(&est, NAN, &pc, &out) == CS_POWER_BAD_INPUT);
  EXPECT(cs_power_limits(NULL, 25.0f, &pc, &out) == CS_POWER_NOT_INITIALISED);
  EXPECT(cs_power_limits(&est, 25.0f, NULL, &out) == CS_POWER_NOT_INITIALISED);
  EXPECT(memcmp(&out, &keep, sizeof out) == 0);
  /* the three horizons in one call: bit for bit the three calls (nominal and conservative); refusals */
  for (int conservative = 0; conservative < 2; ++conservative) {
    cs_power_config hc = pc;
    hc.soc_sigma_k = conservative ? 3.0f : 0.0f;
    hc.voltage_sigma_k = conservative ? 3.0f : 0.0f;
    static const float hs[3] = {2.0f, 10.0f, 30.0f};
    cs_power_result one[3], multi[3];
    memset(one, 0, sizeof one);
    memset(multi, 0, sizeof multi);
    for (int k = 0; k < 3; ++k) {
      hc.horizon_s = hs[k];
      EXPECT(cs_power_limits(&est, 25.0f, &hc, &one[k]) == CS_POWER_OK);
    }
    hc.horizon_s = -1.0f; /* not read */
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &hc, hs, 3, multi) == CS_POWER_OK);
    EXPECT(memcmp(one, multi, sizeof one) == 0);
  }
  {
    static const float hs_bad[2] = {10.0f, 0.0f};
    static const float hs[CS_POWER_MAX_HORIZONS + 1] = {2.0f, 10.0f, 30.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
    cs_power_result mk[CS_POWER_MAX_HORIZONS + 1], mo[CS_POWER_MAX_HORIZONS + 1];
    memset(mk, 0xA5, sizeof mk);
    memcpy(mo, mk, sizeof mo);
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, hs_bad, 2, mo) == CS_POWER_BAD_CONFIG);
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, hs, 0, mo) == CS_POWER_BAD_CONFIG);
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, hs, CS_POWER_MAX_HORIZONS + 1, mo) == CS_POWER_BAD_CONFIG);
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, NULL, 3, mo) == CS_POWER_BAD_CONFIG);
    EXPECT(cs_power_limits_horizons(&est, NAN, &pc, hs, 3, mo) == CS_POWER_BAD_INPUT);
    EXPECT(cs_power_limits_horizons(NULL, 25.0f, &pc, hs, 3, mo) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_power_limits_horizons(&est, 25.0f, NULL, hs, 3, mo) == CS_POWER_NOT_INITIALISED);
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, hs, 3, NULL) == CS_POWER_NOT_INITIALISED);
    /* a bad horizon in the second chunk of four (the C API computes the horizons four at a time): refused, nothing
     * written */
    static const float hs_bad_late[6] = {2.0f, 10.0f, 30.0f, 5.0f, 20.0f, 90000.0f};
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, hs_bad_late, 6, mo) == CS_POWER_BAD_CONFIG);
    static const float hs_zero_late[5] = {2.0f, 10.0f, 30.0f, 5.0f, 0.0f};
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, hs_zero_late, 5, mo) == CS_POWER_BAD_CONFIG);
    EXPECT(memcmp(mo, mk, sizeof mo) == 0);
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, hs, CS_POWER_MAX_HORIZONS, mo) == CS_POWER_OK);
    /* eight horizons (two chunks): bit for bit the single calls, and nothing written past them */
    static const float hs8[CS_POWER_MAX_HORIZONS] = {2.0f, 10.0f, 30.0f, 1.0f, 60.0f, 5.0f, 120.0f, 0.5f};
    memcpy(mo, mk, sizeof mo);
    EXPECT(cs_power_limits_horizons(&est, 25.0f, &pc, hs8, CS_POWER_MAX_HORIZONS, mo) == CS_POWER_OK);
    for (int k = 0; k < CS_POWER_MAX_HORIZONS; ++k) {
      cs_power_config h1 = pc;
      cs_power_result one;
      h1.horizon_s = hs8[k];
      EXPECT(cs_power_limits(&est, 25.0f, &h1, &one) == CS_POWER_OK);
      /* the fields, bit for bit (the struct's padding is whatever each buffer held) */
      EXPECT(memcmp(&one.discharge_current_A, &mo[k].discharge_current_A, 6 * sizeof(float)) == 0);
      EXPECT(one.discharge_limited_by == mo[k].discharge_limited_by && one.charge_limited_by == mo[k].charge_limited_by);
    }
    EXPECT(memcmp(&mo[CS_POWER_MAX_HORIZONS], &mk[CS_POWER_MAX_HORIZONS], sizeof mo[0]) == 0);
  }
  /* energy and times */
  cs_energy_result e, e_hi;
  EXPECT(cs_energy(&est, 25.0f, 1.0f, 2.5f, 0.0f, 0.0f, &e) == CS_POWER_OK);
  EXPECT(cs_energy(&est, 25.0f, 50.0f, 2.5f, 0.0f, 0.0f, &e_hi) == CS_POWER_OK);
  EXPECT(e.energy_Wh > 0.0f && e_hi.energy_Wh < e.energy_Wh && e.energy_sigma_Wh > 0.0f);
  EXPECT(fabsf(e.time_to_empty_s - e.energy_Wh * 3600.0f / 1.0f) <= 1e-3f * e.time_to_empty_s);
  cs_energy_result ekeep;
  memset(&ekeep, 0x5A, sizeof ekeep);
  cs_energy_result eout = ekeep;
  EXPECT(cs_energy(&est, 25.0f, -1.0f, 2.5f, 0.0f, 0.0f, &eout) == CS_POWER_BAD_INPUT);
  EXPECT(cs_energy(&est, 25.0f, 1.0f, 2.5f, 0.0f, -1.0f, &eout) == CS_POWER_BAD_CONFIG);
  EXPECT(memcmp(&eout, &ekeep, sizeof eout) == 0);
  float t = -1.0f, ts = -1.0f;
  EXPECT(cs_time_to_full(&est, 1.0f, 1.0f, &t, &ts) == CS_POWER_OK);
  EXPECT(fabsf(t - (1.0f - cs_soc(&est)) * 3600.0f * cell_params.ecm.capacity_Ah / 1.0f) <= 1e-3f * t + 1.0f);
  EXPECT(ts > 0.0f);
  t = -1.0f;
  EXPECT(cs_time_to_full(&est, 0.0f, 1.0f, &t, &ts) == CS_POWER_BAD_INPUT && t == -1.0f);
  /* the estimator was not changed by any of it */
  EXPECT(cs_soc(&est) == 0.6f);
}

/* The derating table: charge 0 A at and below 0 degC, half at 10 degC, full from 45; discharge half at -20 degC,
 * full from 0 to 45, a quarter at 60. A low rating so that it binds: the limits follow rating x factor(T); count 0
 * gives the results without a table; a broken table is refused with its words. */
/* verifies: CS-PWR-008 */
static void run_derating(void) {
  cs_config c;
  cs_config_default(&c);
  c.initial_soc = 0.6f;
  EXPECT(cs_init(&est, &cell_params, &c) == CS_INIT_OK);
  cs_power_config pc;
  cs_power_config_default(&pc, 2.5f, 4.2f, 1.0f);
  EXPECT(pc.derating_count == 0);
  cs_power_result plain;
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &plain) == CS_POWER_OK);
  EXPECT(plain.discharge_limited_by == CS_LIMITED_BY_CURRENT && plain.charge_limited_by == CS_LIMITED_BY_CURRENT);
  static const float t[4] = {-20.0f, 0.0f, 45.0f, 60.0f};
  static const float d[4] = {0.5f, 1.0f, 1.0f, 0.25f};
  static const float g[4] = {0.0f, 0.0f, 1.0f, 1.0f};
  pc.derating_count = 4;
  for (int k = 0; k < 4; ++k) {
    pc.derating_temperature_degC[k] = t[k];
    pc.derating_discharge_factor[k] = d[k];
    pc.derating_charge_factor[k] = g[k];
  }
  EXPECT(strcmp(cs_power_config_problem(&pc), "ok") == 0);
  static const float temps[6] = {-30.0f, -10.0f, 0.0f, 22.5f, 52.5f, 70.0f};
  for (int j = 0; j < 6; ++j) {
    const float tc = temps[j];
    float fd = d[0], fg = g[0];  /* the table read independently: linear between the corners, held beyond */
    for (int k = 1; k < 4; ++k) {
      if (tc > t[k - 1] && tc <= t[k]) {
        fd = d[k - 1] + (d[k] - d[k - 1]) * (tc - t[k - 1]) / (t[k] - t[k - 1]);
        fg = g[k - 1] + (g[k] - g[k - 1]) * (tc - t[k - 1]) / (t[k] - t[k - 1]);
      }
    }
    if (tc > t[3]) { fd = d[3]; fg = g[3]; }
    cs_power_result r;
    EXPECT(cs_power_limits(&est, tc, &pc, &r) == CS_POWER_OK);
    EXPECT(fabsf(r.discharge_current_A - fd) <= 1e-6f && fabsf(r.charge_current_A - fg) <= 1e-6f);
    EXPECT(r.discharge_limited_by == CS_LIMITED_BY_CURRENT && r.charge_limited_by == CS_LIMITED_BY_CURRENT);
    if (tc <= 0.0f) { EXPECT(r.charge_current_A == 0.0f && r.charge_power_W == 0.0f); }
  }
  cs_power_result r0;
  pc.derating_count = 0;
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &r0) == CS_POWER_OK);
  /* field by field (the struct's padding is not part of the result) */
  EXPECT(r0.discharge_current_A == plain.discharge_current_A && r0.charge_current_A == plain.charge_current_A &&
         r0.discharge_power_W == plain.discharge_power_W && r0.charge_power_W == plain.charge_power_W &&
         r0.discharge_voltage_V == plain.discharge_voltage_V && r0.charge_voltage_V == plain.charge_voltage_V &&
         r0.discharge_limited_by == plain.discharge_limited_by && r0.charge_limited_by == plain.charge_limited_by);
  cs_power_result keep;
  memset(&keep, 0xA5, sizeof keep);
  cs_power_result out = keep;
  pc.derating_count = CS_POWER_MAX_DERATING + 1;
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &out) == CS_POWER_BAD_CONFIG);
  EXPECT(strstr(cs_power_config_problem(&pc), "derating_count") != NULL);
  pc.derating_count = 4;
  pc.derating_temperature_degC[2] = -5.0f;
  EXPECT(cs_power_limits(&est, 25.0f, &pc, &out) == CS_POWER_BAD_CONFIG);
  EXPECT(strstr(cs_power_config_problem(&pc), "derating_temperature_degC") != NULL);
  pc.derating_temperature_degC[2] = 45.0f;
  pc.derating_charge_factor[1] = 1.5f;
  EXPECT(strstr(cs_power_config_problem(&pc), "derating_charge_factor") != NULL);
  EXPECT(memcmp(&out, &keep, sizeof out) == 0);
  EXPECT(strcmp(cs_power_config_problem(NULL), "config is NULL") == 0);
}

int main(void) {
  run_filter(CS_FILTER_EKF);
  run_filter(CS_FILTER_UKF);
  run_derating();
  cs_estimator zero;
  memset(&zero, 0, sizeof zero);
  cs_power_config pc;
  cs_power_config_default(&pc, 2.5f, 4.2f, 10.0f);
  cs_power_result r;
  EXPECT(cs_power_limits(&zero, 25.0f, &pc, &r) == CS_POWER_NOT_INITIALISED);
  cs_energy_result e;
  EXPECT(cs_energy(&zero, 25.0f, 1.0f, 2.5f, 0.0f, 0.0f, &e) == CS_POWER_NOT_INITIALISED);
  float t, ts;
  EXPECT(cs_time_to_full(&zero, 1.0f, 1.0f, &t, &ts) == CS_POWER_NOT_INITIALISED);
  printf("test_power_c_api_host: %s (%d failure(s))\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}
