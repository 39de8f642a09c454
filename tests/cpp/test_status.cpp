// Unit tests: the one status code space (estimator/status.hpp) and the pack event codes (pack/pack.hpp):
// every code named, no two codes sharing a name, the numbers the file formats and the replay link carry.
#include <cstdint>
#include <cstring>

#include "cellsense/estimator/status.hpp"
#include "cellsense/pack/pack.hpp"
#include "check.hpp"

using namespace cellsense;

namespace {

bool same(const char* a, const char* b) { return std::strcmp(a, b) == 0; }

// verifies: CS-STS-001
void test_every_code_named_once() {
  CHECK(kStatusCodeCount == 18);
  for (int i = 0; i < kStatusCodeCount; ++i) {
    const char* n = status_name(kStatusCodes[i]);
    CHECK_CTX(n != nullptr && n[0] != '\0' && !same(n, "unknown"), n);
    if (i > 0) { CHECK(kStatusCodes[i] > kStatusCodes[i - 1]); }
    for (int j = 0; j < i; ++j) { CHECK_CTX(!same(n, status_name(kStatusCodes[j])), n); }
  }
  // every byte outside the space is "unknown"
  int named = 0;
  for (int code = 0; code < 256; ++code) {
    if (!same(status_name(static_cast<std::uint8_t>(code)), "unknown")) { ++named; }
  }
  CHECK(named == kStatusCodeCount);
}

// verifies: CS-STS-002
void test_step_status_and_host_codes() {
  // The StepStatus overload is the same table.
  const StepStatus all[] = {StepStatus::kFused, StepStatus::kFusedAfterGateTimeout, StepStatus::kPredictedOnly,
                            StepStatus::kRejectedNonFinite, StepStatus::kRejectedDt, StepStatus::kRejectedDtTooLarge,
                            StepStatus::kRejectedCurrent, StepStatus::kRejectedVoltage,
                            StepStatus::kRejectedTemperature, StepStatus::kRejectedInnovationGate,
                            StepStatus::kRejectedNumerical, StepStatus::kNotInitialised};
  for (StepStatus s : all) { CHECK(same(status_name(s), status_name(static_cast<std::uint8_t>(s)))); }
  CHECK(same(status_name(StepStatus::kRejectedDt), "rejected_dt_nonpositive"));
  // The numbers tools depend on (CSV files, replay link, c_api.h): unchanged.
  CHECK(kStatusRest == 20 && kStatusReinit == 21 && kStatusReinitFailed == 22);
  CHECK(kStatusVoltageStuck == 253 && kStatusClockReanchored == 254 && kStatusInitial == 255);
  CHECK(same(status_name(kStatusInitial), "initial"));
  CHECK(same(status_name(kStatusClockReanchored), "clock_reanchored"));
  CHECK(same(status_name(kStatusVoltageStuck), "voltage_stuck"));
  CHECK(same(status_name(kStatusReinitFailed), "reinit_failed"));
  // The pack's names for them are the same codes.
  CHECK(pack::kCellStatusRest == kStatusRest && pack::kCellStatusReinit == kStatusReinit &&
        pack::kCellStatusReinitFailed == kStatusReinitFailed);
  // usable in constant expressions (no heap, no run-time table)
  static_assert(status_name(std::uint8_t{255})[0] == 'i', "constexpr name");
}

// verifies: CS-STS-003
void test_pack_events() {
  CHECK(pack::kEventCodeCount == 5);
  for (int i = 0; i < pack::kEventCodeCount; ++i) {
    const char* n = pack::event_name(pack::kEventCodes[i]);
    CHECK_CTX(!same(n, "unknown"), n);
    for (int j = 0; j < i; ++j) { CHECK_CTX(!same(n, pack::event_name(pack::kEventCodes[j])), n); }
  }
  CHECK(same(pack::event_name(static_cast<std::uint8_t>(pack::PackEvent::kRest)), "rest"));
  CHECK(pack::kEventClockReanchored == 3 && pack::kEventInitial == 255);
  CHECK(same(pack::event_name(4), "unknown"));
}

}  // namespace

int main() {
  test_every_code_named_once();
  test_step_status_and_host_codes();
  test_pack_events();
  return cstest::finish("test_status");
}
