/* SPDX-License-Identifier: Apache-2.0 */
/* Unit test of the C API on the host: every cs_init() error, the not-initialised paths, a rejected
 * step leaving the state bit-for-bit unchanged, save / restore. The bad-parameter cases need a
 * writable copy of the parameters (16 KiB), which is why they run here and not on the micro:bit. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cell_params.h"
#include "cellsense/c_api.h"

#include "expect.h"

static cs_cell_params p;  /* writable copy */
static cs_estimator est;

static int init_with(const cs_cell_params* params, const cs_config* c) { return cs_init(&est, params, c); }

static int init_default(uint8_t filter) {
  cs_config c;
  cs_config_default(&c);
  c.filter = filter;
  c.initial_soc = 0.8f;
  return init_with(&cell_params, &c);
}

/* verifies: CS-CAPI-001, CS-ECM-001, CS-EST-007 */
static void test_param_errors(void) {
  cs_config c;
  cs_config_default(&c);
  p = cell_params;
  EXPECT(init_with(&p, &c) == CS_INIT_OK);
  p.ecm.capacity_Ah = 0.0f;
  EXPECT(init_with(&p, &c) == CS_INIT_PARAM_CAPACITY);
  p = cell_params;
  p.ecm.ocv_V.value[0][3] = p.ecm.ocv_V.value[0][2];
  EXPECT(init_with(&p, &c) == CS_INIT_PARAM_OCV_NOT_INCREASING);
  p = cell_params;
  p.ecm.grid.n_soc = CS_MAX_SOC_POINTS + 1;
  EXPECT(init_with(&p, &c) == CS_INIT_PARAM_GRID_SIZE);
  p = cell_params;
  p.ecm.rc_tau_s[1].value[0][0] = 0.0f;
  EXPECT(init_with(&p, &c) == CS_INIT_PARAM_NON_POSITIVE_TAU);
  p = cell_params;
  p.ecm.r0_Ohm.value[0][0] = NAN;
  EXPECT(init_with(&p, &c) == CS_INIT_PARAM_NON_FINITE);
  p = cell_params;
  p.ecm.voltage_min_V = p.ecm.voltage_max_V;
  EXPECT(init_with(&p, &c) == CS_INIT_PARAM_LIMITS);
  p = cell_params;
  p.layout ^= 1u;
  EXPECT(init_with(&p, &c) == CS_INIT_BAD_LAYOUT);
  EXPECT(cs_step(&est, 1.0f, 0.0f, 3.7f, 25.0f, NULL) == CS_STATUS_NOT_INITIALISED);
  EXPECT(strcmp(cs_init_result_name(CS_INIT_PARAM_OCV_NOT_INCREASING), "param_ocv_not_increasing") == 0);
}

/* verifies: CS-CAPI-001, CS-FLT-003 */
static void test_config_errors(void) {
  cs_config c;
  cs_config_default(&c);
  EXPECT(cs_init(NULL, &cell_params, &c) == CS_INIT_BAD_ARGUMENT);
  EXPECT(init_with(NULL, &c) == CS_INIT_BAD_ARGUMENT);
  EXPECT(init_with(&cell_params, NULL) == CS_INIT_BAD_ARGUMENT);
  c.filter = 7;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_ARGUMENT);
  cs_config_default(&c);
  c.dt_max_s = 0.0f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
  cs_config_default(&c);
  c.gate_policy = 9;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
  cs_config_default(&c);
  c.current_sigma_A = -1.0f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
  cs_config_default(&c);
  c.filter = CS_FILTER_UKF;
  c.ukf_kappa = -5.0f;  /* n + lambda = alpha^2 (n + kappa) <= 0 */
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_FILTER_CONFIG);
  cs_config_default(&c);
  c.initial_soc = 1.5f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_INITIAL_STATE);
  cs_config_default(&c);
  c.initial_hysteresis_sign = 0.5f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_INITIAL_STATE);
  cs_config_default(&c);
  c.initial_v_rc_sigma_V = 0.0f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_COVARIANCE);
  EXPECT(isnan(cs_soc(&est)));
}

/* verifies: CS-CAPI-002, CS-CAPI-003, CS-CAPI-005, CS-EST-004 */
static void test_steps(uint8_t filter) {
  EXPECT(init_default(filter) == CS_INIT_OK);
  EXPECT(cs_soc(&est) > 0.79f && cs_soc(&est) < 0.81f);
  cs_report r;
  for (int k = 0; k < 50; ++k) {
    EXPECT(cs_step(&est, 1.0f, 2.0f, 3.95f, 25.0f, &r) == CS_STATUS_FUSED);
  }
  EXPECT(r.status == CS_STATUS_FUSED && isfinite(r.nis) && r.innovation_variance_V2 > 0.0f);
  cs_state before, after;
  EXPECT(cs_save_state(&est, &before) == CS_STATE_OK);
  const cs_estimator copy = est;
  EXPECT(cs_step(&est, 1.0f, 2.0f, NAN, 25.0f, &r) == CS_STATUS_REJECTED_NONFINITE);
  EXPECT(cs_is_rejected(r.status) && isnan(r.nis));
  EXPECT(cs_step(&est, 0.0f, 2.0f, 3.9f, 25.0f, &r) == CS_STATUS_REJECTED_DT_NONPOSITIVE);
  EXPECT(cs_step(&est, 1.0f, 2.0f, 3.9f, 200.0f, &r) == CS_STATUS_REJECTED_TEMPERATURE_RANGE);
  EXPECT(cs_save_state(&est, &after) == CS_STATE_OK);
  EXPECT(memcmp(&before, &after, sizeof before) == 0);
  EXPECT(memcmp(&copy, &est, sizeof est) == 0);
  EXPECT(strcmp(cs_status_name(CS_STATUS_REJECTED_NONFINITE), "rejected_nonfinite") == 0);

  cs_state bad = before;
  bad.tag ^= 1u;
  EXPECT(cs_restore_state(&est, &bad) == CS_STATE_BAD_TAG);
  bad = before;
  bad.x[CS_IDX_HYSTERESIS] = 1.5f;
  EXPECT(cs_restore_state(&est, &bad) == CS_STATE_REFUSED);
  bad = before;
  bad.P[0][1] = bad.P[0][1] + 1.0f;  /* not symmetric */
  EXPECT(cs_restore_state(&est, &bad) == CS_STATE_REFUSED);
  /* issue #12 item 3: every field within the bounds the estimator keeps while running */
  const float absurd[][2] = {{CS_IDX_V_RC1, 1e6f}, {CS_IDX_V_RC2, -5.5f}, {CS_IDX_V_RC1, NAN}, {CS_IDX_HYSTERESIS, 7.0f},
                             {CS_IDX_SOC, 1.5f}, {CS_IDX_SOC, -0.5f}, {CS_IDX_SOC, NAN}};
  for (unsigned k = 0; k < sizeof absurd / sizeof absurd[0]; ++k) {
    bad = before;
    bad.x[(int)absurd[k][0]] = absurd[k][1];
    EXPECT(cs_restore_state(&est, &bad) == CS_STATE_REFUSED);
  }
  /* a covariance that is SPD but absurd: each variance above its ceiling (SOC 1, RC 25 V^2, h 1) is refused */
  for (int k = 0; k < CS_STATES; ++k) {
    const float ceiling = (k == CS_IDX_SOC || k == CS_IDX_HYSTERESIS) ? 1.0f : CS_STATE_V_RC_MAX_V * CS_STATE_V_RC_MAX_V;
    bad = before;
    bad.P[k][k] = ceiling * 1.001f;
    EXPECT(cs_restore_state(&est, &bad) == CS_STATE_REFUSED);
    bad.P[k][k] = ceiling; /* at the ceiling: accepted */
    EXPECT(cs_restore_state(&est, &bad) == CS_STATE_OK);
    EXPECT(cs_restore_state(&est, &before) == CS_STATE_OK);
  }
  bad = before;
  bad.hysteresis_sign = 42.0f;
  EXPECT(cs_restore_state(&est, &bad) == CS_STATE_REFUSED);
  bad = before;
  bad.x[CS_IDX_V_RC1] = 4.9f; /* within the bound */
  EXPECT(cs_restore_state(&est, &bad) == CS_STATE_OK);
  EXPECT(memcmp(&copy, &est, sizeof est) != 0);
  EXPECT(cs_restore_state(&est, &before) == CS_STATE_OK);
  EXPECT(cs_estimator_used_bytes(filter) <= CS_ESTIMATOR_SIZE);
}

/* issue #12 item 13: storage not aligned for the implementation, and stale memory holding the marker */
/* verifies: CS-CAPI-004 */
static void test_storage(uint8_t filter) {
  static union {
    cs_estimator e[2];
    unsigned char bytes[2 * sizeof(cs_estimator)];
  } buf;
  cs_config c;
  cs_config_default(&c);
  c.filter = filter;
  /* misaligned: refused, storage untouched, every call answers "not initialised" */
  for (unsigned off = 1; off < CS_ESTIMATOR_ALIGN; ++off) {
    memset(buf.bytes, 0x5a, sizeof buf.bytes);
    cs_estimator* mis = (cs_estimator*)(void*)(buf.bytes + off);
    EXPECT(cs_init(mis, &cell_params, &c) == CS_INIT_BAD_ARGUMENT);
    EXPECT(buf.bytes[off] == 0x5a && buf.bytes[off + sizeof(cs_estimator) - 1] == 0x5a);
    EXPECT(cs_step(mis, 1.0f, 0.0f, 3.7f, 25.0f, NULL) == CS_STATUS_NOT_INITIALISED);
    EXPECT(isnan(cs_soc(mis)));
  }
  /* a valid estimator copied to a misaligned place is not used there either */
  EXPECT(cs_init(&buf.e[0], &cell_params, &c) == CS_INIT_OK);
  memmove(buf.bytes + 4, buf.bytes, sizeof(cs_estimator));
  {
    cs_state s;
    EXPECT(cs_save_state((cs_estimator*)(void*)(buf.bytes + 4), &s) == CS_STATE_NOT_INITIALISED);
  }
  /* the right 4-byte marker followed by garbage: not initialised (was read as an estimator) */
  EXPECT(cs_init(&buf.e[0], &cell_params, &c) == CS_INIT_OK);
  cs_estimator stale = buf.e[0];
  memset(stale.opaque + 4, 0xab, sizeof stale.opaque - 4);
  EXPECT(cs_step(&stale, 1.0f, 0.0f, 3.7f, 25.0f, NULL) == CS_STATUS_NOT_INITIALISED);
  {
    cs_state s;
    EXPECT(cs_save_state(&stale, &s) == CS_STATE_NOT_INITIALISED);
    EXPECT(cs_restore_state(&stale, &s) == CS_STATE_NOT_INITIALISED);
  }
  /* every single header byte flipped: not initialised */
  for (unsigned k = 0; k < 8; ++k) {
    cs_estimator h = buf.e[0];
    h.opaque[k] ^= 0x10;
    EXPECT(cs_step(&h, 1.0f, 0.0f, 3.7f, 25.0f, NULL) == CS_STATUS_NOT_INITIALISED);
  }
  /* normal init and a copy of it still work */
  cs_estimator good = buf.e[0];
  EXPECT(cs_step(&good, 1.0f, 0.5f, 3.9f, 25.0f, NULL) == CS_STATUS_FUSED);
  EXPECT(cs_step(&buf.e[0], 1.0f, 0.5f, 3.9f, 25.0f, NULL) == CS_STATUS_FUSED);
}

/* Every cs_init() result has its own name, anything else is "unknown"; cs_soc / cs_soc_sigma are NaN
 * when not initialised and finite after init. */
/* verifies: CS-CAPI-005 */
static void test_names_and_reads(void) {
  const int codes[] = {CS_INIT_OK, CS_INIT_PARAM_GRID_SIZE, CS_INIT_PARAM_SOC_BREAKPOINTS,
                       CS_INIT_PARAM_TEMPERATURE_BREAKPOINTS, CS_INIT_PARAM_NON_FINITE, CS_INIT_PARAM_CAPACITY,
                       CS_INIT_PARAM_COULOMBIC_EFFICIENCY, CS_INIT_PARAM_OCV_NOT_INCREASING,
                       CS_INIT_PARAM_NEGATIVE_RESISTANCE, CS_INIT_PARAM_NON_POSITIVE_TAU,
                       CS_INIT_PARAM_NEGATIVE_HYSTERESIS, CS_INIT_PARAM_LIMITS, CS_INIT_BAD_CONFIG,
                       CS_INIT_BAD_FILTER_CONFIG, CS_INIT_BAD_INITIAL_STATE, CS_INIT_BAD_COVARIANCE,
                       CS_INIT_BAD_ARGUMENT, CS_INIT_BAD_LAYOUT};
  const unsigned n = (unsigned)(sizeof codes / sizeof codes[0]);
  for (unsigned i = 0; i < n; ++i) {
    EXPECT(strcmp(cs_init_result_name(codes[i]), "unknown") != 0);
    for (unsigned j = 0; j < i; ++j) { EXPECT(strcmp(cs_init_result_name(codes[i]), cs_init_result_name(codes[j])) != 0); }
  }
  EXPECT(strcmp(cs_init_result_name(999), "unknown") == 0);
  cs_estimator none;
  memset(&none, 0, sizeof none);
  EXPECT(isnan(cs_soc(&none)) && isnan(cs_soc_sigma(&none)));
  EXPECT(init_default(CS_FILTER_UKF) == CS_INIT_OK);
  EXPECT(isfinite(cs_soc_sigma(&est)) && cs_soc_sigma(&est) > 0.0f);
}

/* The remaining cs_init configuration checks one by one, NULL outputs, NULL configs. */
/* verifies: CS-CAPI-001, CS-CAPI-003 */
static void test_config_fields_and_nulls(void) {
  cs_config c;
  cs_config_default(&c);
  c.soc_per_sqrt_s = -1.0f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
  cs_config_default(&c);
  c.v_rc_V_per_sqrt_s = NAN;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
  cs_config_default(&c);
  c.hysteresis_per_sqrt_s = INFINITY;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
  cs_config_default(&c);
  c.gate_nis = NAN;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
  cs_config_default(&c);
  c.initial_hysteresis = NAN;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_INITIAL_STATE);
  cs_config_default(&c);
  c.initial_hysteresis = -1.5f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_INITIAL_STATE);
  cs_config_default(&c);
  c.initial_hysteresis = 1.5f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_INITIAL_STATE);
  cs_config_default(NULL);                                /* no effect, no crash */
  cs_soh_config sc;
  cs_soh_config_default(&sc, 0.0f);                       /* capacity unknown: still a usable default */
  cs_soh_config_default(NULL, 5.0f);
  EXPECT(cs_estimator_used_bytes(7) == 0 || cs_estimator_used_bytes(7) <= CS_ESTIMATOR_SIZE);
  EXPECT(init_default(CS_FILTER_EKF) == CS_INIT_OK);
  cs_state st;
  EXPECT(cs_save_state(&est, NULL) == CS_STATE_NOT_INITIALISED);
  EXPECT(cs_restore_state(&est, NULL) == CS_STATE_NOT_INITIALISED);
  EXPECT(cs_save_state(NULL, &st) == CS_STATE_NOT_INITIALISED);
  EXPECT(isnan(cs_soc(NULL)));
}

/* cs_config_problem: one configuration per CS_INIT_BAD_CONFIG rule; cs_init refuses it and cs_config_problem
 * names the field, every message distinct; the default is "ok". */
/* The current sensor's consider terms are not in the C API build: a configuration that sets them (within their
   range) is refused by cs_init, and cs_config_problem says so, naming both fields. */
/* verifies: CS-CAPI-009, CS-EST-019 */
static void test_consider_not_built(void) {
  cs_config c;
  cs_config_default(&c);
  EXPECT(c.current_offset_sigma_A == 0.0f && c.current_gain_sigma == 0.0f);
  c.current_offset_sigma_A = 0.05f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
  EXPECT(strstr(cs_config_problem(&c), "current_offset_sigma_A") != NULL &&
         strstr(cs_config_problem(&c), "current_gain_sigma") != NULL);
  c.current_offset_sigma_A = 0.0f;
  c.current_gain_sigma = 0.01f;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG && strstr(cs_config_problem(&c), "must be 0") != NULL);
}

/* verifies: CS-CAPI-009 */
static void test_config_problem(void) {
  static const char* const fields[] = {"gate_policy", "current_sigma_A", "soc_per_sqrt_s", "v_rc_V_per_sqrt_s",
                                       "hysteresis_per_sqrt_s", "gate_nis", "dt_max_s", "soc_min",
                                       "voltage_sigma_V", "gate_nis", "model_error_current_A",
                                       "model_error_relative", "model_error_correlation_s", "model_error_voltage_V",
                                       "current_offset_sigma_A", "current_gain_sigma"};
  const char* seen[16];
  cs_config c;
  cs_config_default(&c);
  EXPECT(strcmp(cs_config_problem(&c), "ok") == 0);
  EXPECT(strcmp(cs_config_problem(NULL), "config is NULL") == 0);
  for (unsigned k = 0; k < 16u; ++k) {
    cs_config_default(&c);
    switch (k) {
      case 0: c.gate_policy = 9; break;
      case 1: c.current_sigma_A = -1.0f; break;
      case 2: c.soc_per_sqrt_s = NAN; break;
      case 3: c.v_rc_V_per_sqrt_s = -1.0f; break;
      case 4: c.hysteresis_per_sqrt_s = INFINITY; break;
      case 5: c.gate_nis = INFINITY; break;
      case 6: c.dt_max_s = 0.0f; break;
      case 7: c.soc_min = 2.0f; break;
      case 8: c.voltage_sigma_V = 0.0f; break;
      case 9: c.gate_nis = 0.0f; break;
      case 10: c.model_error_current_A = 2000.0f; break;
      case 11: c.model_error_relative = -1.0f; break;
      case 12: c.model_error_correlation_s = 1.0e6f; break;
      case 13: c.model_error_voltage_V = 11.0f; break;
      case 14: c.current_offset_sigma_A = -0.1f; break;
      default: c.current_gain_sigma = NAN; break;
    }
    seen[k] = cs_config_problem(&c);
    EXPECT(init_with(&cell_params, &c) == CS_INIT_BAD_CONFIG);
    EXPECT(strstr(seen[k], fields[k]) != NULL);
    for (unsigned j = 0; j < k; ++j) { EXPECT(strcmp(seen[k], seen[j]) != 0); }
  }
}

/* A gated step (CS_STATUS_REJECTED_INNOVATION_GATE) leaves the estimate, the covariance and every other byte of the
 * storage unchanged but the consecutive-gated counter (a uint16: at most 2 adjacent bytes), which makes the gate
 * timeout fire after gate_timeout_steps gated steps in a row. */
/* verifies: CS-CAPI-010 */
static void test_gate_counter_only(uint8_t filter) {
  const uint16_t timeout = 3;
  cs_config c;
  cs_report r;
  cs_config_default(&c);
  c.filter = filter;
  c.initial_soc = 0.8f;
  c.gate_timeout_steps = timeout;
  EXPECT(init_with(&cell_params, &c) == CS_INIT_OK);
  for (int k = 0; k < 20; ++k) { (void)cs_step(&est, 1.0f, 2.0f, 3.9f, 25.0f, &r); }
  for (uint16_t k = 0; k < timeout; ++k) {
    const cs_estimator before = est;
    cs_state s0, s1;
    unsigned first = CS_ESTIMATOR_SIZE, last = 0, n = 0;
    EXPECT(cs_save_state(&est, &s0) == CS_STATE_OK);
    EXPECT(cs_step(&est, 1.0f, 2.0f, 3.0f, 25.0f, &r) == CS_STATUS_REJECTED_INNOVATION_GATE);
    EXPECT(cs_is_rejected(r.status));
    EXPECT(cs_save_state(&est, &s1) == CS_STATE_OK && memcmp(&s0, &s1, sizeof s0) == 0);
    EXPECT(cs_soc(&est) == cs_soc(&before) && cs_soc_sigma(&est) == cs_soc_sigma(&before));
    for (unsigned b = 0; b < CS_ESTIMATOR_SIZE; ++b) {
      if (est.opaque[b] != before.opaque[b]) {
        if (b < first) { first = b; }
        last = b;
        ++n;
      }
    }
    EXPECT(n >= 1u && n <= 2u && last - first <= 1u); /* the counter, and nothing else */
  }
  {
    const float soc_gated = cs_soc(&est);
    EXPECT(cs_step(&est, 1.0f, 2.0f, 3.0f, 25.0f, &r) == CS_STATUS_FUSED_GATE_TIMEOUT);
    EXPECT(cs_soc(&est) < soc_gated); /* the timed-out sample was fused */
  }
}

/* Every rule cs_init applies to a cs_config alone: cs_init's code, and cs_config_problem naming the field (items of
 * issue: filter id, initial SOC, initial state, UKF weights, initial sigmas; the package's ranges of the process
 * noise, gate and UKF parameters, NaN in a UKF parameter with the EKF). */
/* verifies: CS-CAPI-009, CS-CAPI-011 */
static void test_config_problem_every_rule(void) {
  enum { kRules = 29 };
  static const char* const field[kRules] = {
      "filter", "initial_soc", "initial_soc", "initial_hysteresis", "initial_hysteresis_sign", "ukf_kappa",
      "initial_soc_sigma", "initial_v_rc_sigma_V", "initial_hysteresis_sigma", "initial_soc_sigma",
      "v_rc_V_per_sqrt_s", "current_sigma_A", "soc_per_sqrt_s", "hysteresis_per_sqrt_s", "gate_nis",
      "voltage_sigma_V", "ukf_alpha", "ukf_alpha", "ukf_alpha", "ukf_beta", "ukf_kappa", "ukf_kappa", "soc_min",
      "soc_max", "initial_v_rc_sigma_V", "initial_hysteresis_sigma", "ukf_beta", "initial_soc", "ukf_alpha"};
  static const int code[kRules] = {
      CS_INIT_BAD_ARGUMENT, CS_INIT_BAD_INITIAL_STATE, CS_INIT_BAD_INITIAL_STATE, CS_INIT_BAD_INITIAL_STATE,
      CS_INIT_BAD_INITIAL_STATE, CS_INIT_BAD_FILTER_CONFIG, CS_INIT_BAD_COVARIANCE, CS_INIT_BAD_COVARIANCE,
      CS_INIT_BAD_COVARIANCE, CS_INIT_BAD_COVARIANCE, CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG,
      CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG,
      CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG, CS_INIT_BAD_CONFIG,
      CS_INIT_BAD_CONFIG, CS_INIT_BAD_COVARIANCE, CS_INIT_BAD_COVARIANCE, CS_INIT_BAD_CONFIG,
      CS_INIT_BAD_INITIAL_STATE, CS_INIT_BAD_FILTER_CONFIG};
  cs_config c;
  for (unsigned k = 0; k < kRules; ++k) {
    cs_config_default(&c);
    switch (k) {
      case 0: c.filter = 7; break;
      case 1: c.initial_soc = 80.0f; break;          /* a percentage, not a fraction */
      case 2: c.initial_soc = NAN; break;
      case 3: c.initial_hysteresis = 2.0f; break;
      case 4: c.initial_hysteresis_sign = 0.5f; break;
      case 5: c.filter = CS_FILTER_UKF; c.ukf_kappa = -5.0f; break; /* n + lambda <= 0 */
      case 6: c.initial_soc_sigma = 0.0f; break;
      case 7: c.initial_v_rc_sigma_V = NAN; break;
      case 8: c.initial_hysteresis_sigma = -1.0f; break;
      case 9: c.initial_soc_sigma = 11.0f; break;
      case 10: c.v_rc_V_per_sqrt_s = 1e30f; break;   /* every step rejected_numerical before */
      case 11: c.current_sigma_A = 2e6f; break;
      case 12: c.soc_per_sqrt_s = 1.5f; break;
      case 13: c.hysteresis_per_sqrt_s = 11.0f; break;
      case 14: c.gate_nis = 1e16f; break;
      case 15: c.voltage_sigma_V = 11.0f; break;
      case 16: c.ukf_alpha = NAN; break;             /* the EKF chosen: still refused */
      case 17: c.ukf_alpha = 0.0f; break;
      case 18: c.ukf_alpha = 11.0f; break;
      case 19: c.ukf_beta = 11.0f; break;
      case 20: c.ukf_kappa = NAN; break;
      case 21: c.ukf_kappa = 2000.0f; break;
      case 22: c.soc_min = -2.0f; break;
      case 23: c.soc_max = 3.0f; break;
      case 24: c.initial_v_rc_sigma_V = 11.0f; break;
      case 25: c.initial_hysteresis_sigma = 1e-7f; break;
      case 26: c.ukf_beta = INFINITY; break;
      case 27: c.soc_min = 0.1f; c.initial_soc = 0.05f; break; /* below soc_min */
      default: c.filter = CS_FILTER_UKF; c.ukf_alpha = 1e-20f; break; /* alpha^2 underflows: weights infinite */
    }
    EXPECT(init_with(&cell_params, &c) == code[k]);
    EXPECT(strcmp(cs_config_problem(&c), "ok") != 0);
    if (strstr(cs_config_problem(&c), field[k]) == NULL) {
      fprintf(stderr, "rule %u: '%s' does not name %s\n", k, cs_config_problem(&c), field[k]);
      ++failures;
    }
  }
  /* the bounds themselves are accepted (the Python package accepts them too) */
  cs_config_default(&c);
  c.v_rc_V_per_sqrt_s = 10.0f;
  c.current_sigma_A = 1e6f;
  c.soc_per_sqrt_s = 1.0f;
  c.hysteresis_per_sqrt_s = 10.0f;
  c.gate_nis = 1e15f;
  c.ukf_alpha = 10.0f;
  c.ukf_beta = -10.0f;
  c.ukf_kappa = 1000.0f;
  c.initial_soc_sigma = 1e-6f;
  EXPECT(strcmp(cs_config_problem(&c), "ok") == 0);
  EXPECT(init_with(&cell_params, &c) == CS_INIT_OK);
  c.filter = CS_FILTER_UKF;
  EXPECT(strcmp(cs_config_problem(&c), "ok") == 0);
  EXPECT(init_with(&cell_params, &c) == CS_INIT_OK);
}

int main(void) {
  cs_estimator zero;
  memset(&zero, 0, sizeof zero);
  EXPECT(cs_step(&zero, 1.0f, 0.0f, 3.7f, 25.0f, NULL) == CS_STATUS_NOT_INITIALISED);
  cs_state s;
  EXPECT(cs_save_state(&zero, &s) == CS_STATE_NOT_INITIALISED);
  test_param_errors();
  test_config_errors();
  test_steps(CS_FILTER_EKF);
  test_steps(CS_FILTER_UKF);
  test_storage(CS_FILTER_EKF);
  test_storage(CS_FILTER_UKF);
  test_names_and_reads();
  test_config_fields_and_nulls();
  test_config_problem();
  test_consider_not_built();
  test_gate_counter_only(CS_FILTER_EKF);
  test_gate_counter_only(CS_FILTER_UKF);
  test_config_problem_every_rule();
  printf("c_api host test: %s (%d failures); used bytes EKF %u, UKF %u of %u\n", failures ? "FAIL" : "ok", failures,
         (unsigned)cs_estimator_used_bytes(CS_FILTER_EKF), (unsigned)cs_estimator_used_bytes(CS_FILTER_UKF),
         (unsigned)CS_ESTIMATOR_SIZE);
  return failures ? 1 : 0;
}
