// SPDX-License-Identifier: Apache-2.0
// SPMe test firmware (issue #6): the reduced electrochemical model (model/spme.hpp, float32, Pade
// [3/3] particles, 2 electrolyte modes) under the EKF and the UKF over a compiled-in log, with the
// core's headers used directly (no C API). Identical source on every Cortex-M board and on the
// host (hil/firmware/host/platform_host.c); tests/mcu/parity.py compares the two outputs bit for
// bit. Output format as hil/firmware/common/run_log.c ("s" lines: status, soc, soc_sigma, v_pred,
// innovation, S, NIS as float32 bit patterns, ticks, stack bytes); the per-step plating margin
// (anode surface potential at the separator) is printed on "a" lines and enters the hash.
// Exit code: 0 all checks passed, 1 an init failed, 2 a self-check failed.
#include <stdint.h>
#include <string.h>

#include <new>

extern "C" {
#include "fw_print.h"
#include "platform.h"
}
#include "cellsense/estimator/estimator.hpp"
#include "cellsense/filter/ekf.hpp"
#include "cellsense/filter/ukf.hpp"
#include "cellsense/model/spme.hpp"
#include "spme_log.h"     // generated: hil/firmware/tools/make_spme_data.py
#include "spme_params.h"  // generated: hil/firmware/tools/make_spme_data.py

namespace {

using Model = cellsense::model::SpmeModel<float, 3, 2, 96>;
using EkfE = cellsense::Estimator<Model, cellsense::filter::Ekf>;
using UkfE = cellsense::Estimator<Model, cellsense::filter::Ukf>;

// Static storage for one estimator (the larger of the two), constructed in place: no heap, no
// static constructors.
constexpr unsigned kStorage = sizeof(EkfE) > sizeof(UkfE) ? sizeof(EkfE) : sizeof(UkfE);
alignas(EkfE) alignas(UkfE) unsigned char g_storage[kStorage];
alignas(EkfE) alignas(UkfE) unsigned char g_storage2[kStorage];

uint32_t g_hash = 2166136261u;
int g_failed = 0;

void hash_word(uint32_t w) { fnv1a_word(&g_hash, w); }
void check(const char* name, bool ok) {
  platform_write("check ");
  platform_write(name);
  platform_write(ok ? " ok\n" : " FAIL\n");
  if (!ok) { g_failed = 1; }
}

cellsense::EstimatorConfig<float> config() {
  cellsense::EstimatorConfig<float> c;
  c.dt_max_s = 60.0f;
  c.soc_min = -0.05f;
  c.soc_max = 1.05f;
  c.voltage_sigma_V = 0.04f;
  return c;
}

Model model() {
  Model::Noise n{};
  n.soc_per_sqrt_s = 3e-4f;
  n.particle_per_sqrt_s = 2e-5f;
  n.electrolyte_A_per_sqrt_s = 0.02f;
  n.current_sigma_A = 0.05f;
  return Model(&kSpmeParams, n);
}

template <class E>
int run_filter(const char* name) {
  E* est = ::new (static_cast<void*>(g_storage)) E();
  Model::State x0;
  Model::Cov p0;
  Model::initial(CS_SPME_LOG_INITIAL_SOC, 0.25f, 0.005f, 1.0f, x0, p0);
  const Model m = model();
  const cellsense::InitStatus rc = est->init(m, config(), typename E::FilterConfig{}, x0, p0, Model::Aux{});
  platform_write("init ");
  platform_write(name);
  platform_write(" rc=");
  platform_write(cellsense::init_status_name(rc));
  platform_write(" used_bytes=");
  put_dec(static_cast<uint32_t>(sizeof(E)));
  platform_write("\n");
  if (rc != cellsense::InitStatus::kOk) { return 1; }

  g_hash = 2166136261u;
  fw_step_stats stats = {0u, 0u, 0u};
  for (uint32_t k = 0; k < CS_SPME_LOG_STEPS; ++k) {
    const float* row = cs_spme_log[k];
    const uintptr_t sp = platform_sp();
    platform_stack_paint(sp);
    const uint32_t t0 = platform_ticks();
    const cellsense::StepReport<float> r = est->step(row[0], row[1], row[2], row[3]);
    const uint32_t t1 = platform_ticks();
    const uint32_t stack = platform_stack_used(sp);
    const uint32_t ticks = (t1 - t0) & 0x00FFFFFFu;
    fw_stats_add(&stats, ticks, stack);
    const uint32_t w[7] = {static_cast<uint32_t>(r.status), bits(r.soc), bits(r.soc_sigma), bits(r.voltage_pred_V),
                           bits(r.innovation_V), bits(r.innovation_variance_V2), bits(r.nis)};
    put_step_line(name, k, w, ticks, stack, &g_hash);
    // The plating margin at the step's estimate (outside the timed step: an output, not the filter).
    const float dt = row[0] > 0.0f ? row[0] : 1.0f;
    const auto s = m.prepare(est->state(), est->aux(), dt, row[1], row[3]);
    const auto o = m.outputs(s, est->state());
    platform_write("a ");
    platform_write(name);
    put_uint(k);
    put_hex(bits(o.anode_surface_potential_V));
    platform_write("\n");
    hash_word(bits(o.anode_surface_potential_V));
  }
  platform_write("x ");
  platform_write(name);
  for (int i = 0; i < Model::kStates; ++i) { put_hex(bits(est->state()(i, 0))); }
  for (int i = 0; i < Model::kStates; ++i) {
    for (int j = 0; j < Model::kStates; ++j) { put_hex(bits(est->covariance()(i, j))); }
  }
  platform_write("\n");
  put_sum_head(name, CS_SPME_LOG_STEPS, &stats);
  platform_write(" hash=");
  put_hex_bare(g_hash);
  platform_write("\n");

  // Restore into a fresh estimator: continues bit for bit; a bad covariance is refused.
  E* est2 = ::new (static_cast<void*>(g_storage2)) E();
  bool ok = est2->init(m, config(), typename E::FilterConfig{}, x0, p0, Model::Aux{}) == cellsense::InitStatus::kOk &&
            est2->set_state(est->state(), est->covariance(), Model::Aux{});
  const float* last = cs_spme_log[CS_SPME_LOG_STEPS - 1];
  const auto ra = est->step(last[0], last[1], last[2], last[3]);
  const auto rb = est2->step(last[0], last[1], last[2], last[3]);
  ok = ok && ra.status == rb.status && bits(ra.soc) == bits(rb.soc) && bits(ra.soc_sigma) == bits(rb.soc_sigma) &&
       bits(ra.voltage_pred_V) == bits(rb.voltage_pred_V);
  check("restore_continues_bit_for_bit", ok);
  Model::Cov bad = est->covariance();
  bad(0, 0) = -1.0f;
  check("restore_refuses_bad_covariance", !est2->set_state(est->state(), bad, Model::Aux{}));
  // The estimate converged from the wrong start to the log's truth.
  const float err = est->soc() - CS_SPME_LOG_TRUE_FINAL_SOC;
  check("soc_converged", err < 0.02f && err > -0.02f);
  return 0;
}

}  // namespace

int main() {
  platform_ticks_start();
  put_fw_banner(" steps=", CS_SPME_LOG_STEPS);
  put_tick_overhead();
  check("params_valid", cellsense::model::validate(kSpmeParams) == cellsense::model::SpmeParamError::kOk);
  int exit_code = 0;
  if (run_filter<EkfE>("ekf") != 0) { exit_code = 1; }
  if (run_filter<UkfE>("ukf") != 0) { exit_code = 1; }
  if (exit_code == 0 && g_failed) { exit_code = 2; }
  platform_write("done rc=");
  put_dec(static_cast<uint32_t>(exit_code));
  platform_write("\n");
  platform_exit(exit_code);
}
