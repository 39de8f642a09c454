// SPDX-License-Identifier: Apache-2.0
// Shortened float32 soak on the device (docs/hardening.md): the host soak's scenario
// (tests/soak/soak_scenario.hpp: drive / charge / rest, sensor noise, spikes, stuck readings,
// dropouts, clock glitches; double-precision ECM truth) run for CS_SOAK_STEPS steps through the EKF
// and the UKF in float32, with the same invariants checked on the device. The same source is built
// for the host (hil/firmware/host/platform_host.c); tests/mcu/parity.py compares the two outputs:
// final float32 state and covariance, the double truth state and error sums ("x" lines), the
// checks, and a hash over every counter ("sum" lines), bit for bit.
// verifies: CS-EST-012
// Output: "init" / "t" (counters, SOC error in ppm, ticks) / "x" / "check" / "sum" lines, "done rc=".
// Exit code: 0 all checks passed, 1 an init failed, 2 a check failed.
#include <stdint.h>
#include <string.h>

#include <new>

extern "C" {
#include "fw_print.h"
#include "platform.h"
}
#include "soak_scenario.hpp"

#ifndef CS_SOAK_STEPS
#define CS_SOAK_STEPS 500000
#endif

namespace {

using EkfSoak = cssoak::Soak<cellsense::EcmEkf<float, 2>>;
using UkfSoak = cssoak::Soak<cellsense::EcmUkf<float, 2>>;

// One soak object at a time (about 50 KB each), constructed in place: no heap, no static constructors.
constexpr unsigned kStorage = sizeof(EkfSoak) > sizeof(UkfSoak) ? sizeof(EkfSoak) : sizeof(UkfSoak);
alignas(EkfSoak) alignas(UkfSoak) unsigned char g_storage[kStorage];

int g_failed = 0;
uint32_t g_hash = 2166136261u;

void hash_word(uint32_t w) { fnv1a_word(&g_hash, w); }
void put_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  platform_write(" ");
  put_hex_bare(u);
}
void put_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  platform_write(" ");
  put_hex_bare(static_cast<uint32_t>(u >> 32));
  put_hex_bare(static_cast<uint32_t>(u & 0xFFFFFFFFu));
}
void put_kv(const char* key, long v) {
  platform_write(" ");
  platform_write(key);
  platform_write("=");
  put_dec(static_cast<uint32_t>(v));
  hash_word(static_cast<uint32_t>(v));
}
uint32_t ppm(double v) { return static_cast<uint32_t>(v * 1e6 + 0.5); }

template <class S>
int run_soak(const char* name) {
  S* soak = ::new (static_cast<void*>(g_storage)) S();
  uint32_t ticks_total = 0;
  uint32_t last = platform_ticks();
  const bool init_ok = soak->run(CS_SOAK_STEPS, [&](long) {
    const uint32_t now = platform_ticks();
    ticks_total += (now - last) & 0x00FFFFFFu;
    last = now;
  });
  const uint32_t now = platform_ticks();
  ticks_total += (now - last) & 0x00FFFFFFu;
  platform_write("init ");
  platform_write(name);
  platform_write(init_ok ? " rc=ok\n" : " rc=failed\n");
  if (!init_ok) { return 1; }

  const cssoak::Tally& c = soak->tally;
  g_hash = 2166136261u;
  platform_write("t ");
  platform_write(name);
  put_kv("steps", c.steps);
  put_kv("fused", c.fused);
  put_kv("rejected", c.rejected);
  put_kv("spikes", c.spikes);
  put_kv("spikes_rejected", c.spikes_rejected);
  put_kv("dropouts", c.dropouts);
  put_kv("dropouts_rejected", c.dropouts_rejected);
  put_kv("glitches", c.glitches);
  put_kv("glitches_rejected", c.glitches_rejected);
  put_kv("nonfinite", c.nonfinite);
  put_kv("out_of_bounds", c.out_of_bounds);
  put_kv("spd_fail", c.spd_fail);
  put_kv("soc_rmse_ppm", static_cast<long>(ppm(soak->rmse())));
  put_kv("soc_max_err_ppm", static_cast<long>(ppm(c.max_err)));
  platform_write("\n");

  platform_write("x ");
  platform_write(name);
  for (int i = 0; i < S::M::kStates; ++i) { put_bits(soak->est.state()(i, 0)); }
  for (int i = 0; i < S::M::kStates; ++i) {
    for (int j = 0; j < S::M::kStates; ++j) { put_bits(soak->est.covariance()(i, j)); }
  }
  platform_write("\nx ");
  platform_write(name);
  platform_write("_truth");
  for (int i = 0; i < S::MT::kStates; ++i) { put_bits(soak->xt(i, 0)); }
  put_bits(c.sum_sq);
  put_bits(c.max_err);
  platform_write("\n");

  bool ok[S::kChecks];
  if (soak->checks_failed(ok) != 0) { g_failed = 1; }
  for (int i = 0; i < S::kChecks; ++i) {
    platform_write("check ");
    platform_write(name);
    platform_write("_");
    platform_write(S::check_name(i));
    platform_write(ok[i] ? " ok\n" : " FAIL\n");
  }
  // ticks (instructions / insn_per_tick) cover the whole loop: scenario, double truth and filter.
  platform_write("sum ");
  platform_write(name);
  platform_write(" steps=");
  put_dec(static_cast<uint32_t>(c.steps));
  platform_write(" ticks=");
  put_dec(ticks_total);
  platform_write(" hash=");
  put_hex_bare(g_hash);
  platform_write("\n");
  soak->~S();
  return 0;
}

}  // namespace

int main() {
  platform_ticks_start();
  put_fw_banner(" soak steps=", CS_SOAK_STEPS);
  int exit_code = 0;
  if (run_soak<EkfSoak>("ekf") != 0) { exit_code = 1; }
  if (run_soak<UkfSoak>("ukf") != 0) { exit_code = 1; }
  if (exit_code == 0 && g_failed) { exit_code = 2; }
  platform_write("done rc=");
  put_dec(static_cast<uint32_t>(exit_code));
  platform_write("\n");
  platform_exit(exit_code);
}
