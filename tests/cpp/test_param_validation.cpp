// Unit tests: ECM parameter validation with its field and message (model/ecm.hpp validate_detail,
// param_field_name, param_error_message), float and double.
// The error codes are the ones validate() returned before it became validate_detail().error: the test keeps
// that earlier function (reference_validate, copied from ecm.hpp at eb3a775) and compares on many single-
// and double-field corruptions.
#include <cstring>
#include <limits>

#include "cells.hpp"
#include "cellsense/model/ecm.hpp"
#include "cellsense/model/spme.hpp"
#include "check.hpp"

using namespace cellsense;
using model::ParamError;
using model::ParamField;

namespace {

// ---- validate() as it was (eb3a775), the reference for the error codes ------------------------
template <typename T, int MaxSoc, int MaxTemp>
bool ref_table_finite(const math::Table<T, MaxSoc, MaxTemp>& t, int n_soc, int n_temp) {
  for (int it = 0; it < n_temp; ++it)
    for (int is = 0; is < n_soc; ++is)
      if (!math::is_finite(t.value[it][is])) return false;
  return true;
}
template <typename T, int MaxSoc, int MaxTemp>
bool ref_table_at_least(const math::Table<T, MaxSoc, MaxTemp>& t, int n_soc, int n_temp, T floor, bool strict) {
  for (int it = 0; it < n_temp; ++it)
    for (int is = 0; is < n_soc; ++is) {
      const T v = t.value[it][is];
      if (strict ? !(v > floor) : !(v >= floor)) return false;
    }
  return true;
}
template <typename T, int NRC, int MaxSoc, int MaxTemp>
ParamError reference_validate(const model::EcmParams<T, NRC, MaxSoc, MaxTemp>& p) {
  const auto& g = p.grid;
  if (g.n_soc < 2 || g.n_soc > MaxSoc || g.n_temperature < 1 || g.n_temperature > MaxTemp) return ParamError::kGridSize;
  const int ns = g.n_soc;
  const int nt = g.n_temperature;
  for (int i = 0; i < ns; ++i)
    if (!math::is_finite(g.soc[i])) return ParamError::kNonFinite;
  for (int i = 0; i < nt; ++i)
    if (!math::is_finite(g.temperature_degC[i])) return ParamError::kNonFinite;
  if (g.soc[0] > T(0) || g.soc[ns - 1] < T(1)) return ParamError::kSocBreakpoints;
  for (int i = 1; i < ns; ++i)
    if (!(g.soc[i] > g.soc[i - 1])) return ParamError::kSocBreakpoints;
  for (int i = 1; i < nt; ++i)
    if (!(g.temperature_degC[i] > g.temperature_degC[i - 1])) return ParamError::kTemperatureBreakpoints;
  const T scalars[] = {p.capacity_Ah, p.coulombic_efficiency, p.hysteresis_rate, p.sign_deadband_A,
                       p.voltage_min_V, p.voltage_max_V, p.current_min_A, p.current_max_A,
                       p.temperature_min_degC, p.temperature_max_degC};
  for (T v : scalars)
    if (!math::is_finite(v)) return ParamError::kNonFinite;
  bool finite = ref_table_finite(p.ocv_V, ns, nt) && ref_table_finite(p.r0_Ohm, ns, nt) &&
                ref_table_finite(p.hysteresis_V, ns, nt) && ref_table_finite(p.hysteresis_instant_V, ns, nt);
  for (int j = 0; j < NRC; ++j)
    finite = finite && ref_table_finite(p.rc_r_Ohm[j], ns, nt) && ref_table_finite(p.rc_tau_s[j], ns, nt);
  if (!finite) return ParamError::kNonFinite;
  if (!(p.capacity_Ah >= T(1e-3) && p.capacity_Ah <= T(1e6))) return ParamError::kCapacity;
  if (!(p.coulombic_efficiency > T(0) && p.coulombic_efficiency <= T(1))) return ParamError::kCoulombicEfficiency;
  for (int it = 0; it < nt; ++it)
    for (int is = 1; is < ns; ++is)
      if (!(p.ocv_V.value[it][is] > p.ocv_V.value[it][is - 1])) return ParamError::kOcvNotIncreasing;
  if (!ref_table_at_least(p.r0_Ohm, ns, nt, T(0), false)) return ParamError::kNegativeResistance;
  for (int j = 0; j < NRC; ++j) {
    if (!ref_table_at_least(p.rc_r_Ohm[j], ns, nt, T(0), false)) return ParamError::kNegativeResistance;
    if (!ref_table_at_least(p.rc_tau_s[j], ns, nt, T(0), true)) return ParamError::kNonPositiveTau;
  }
  if (!ref_table_at_least(p.hysteresis_V, ns, nt, T(0), false) ||
      !ref_table_at_least(p.hysteresis_instant_V, ns, nt, T(0), false) || !(p.hysteresis_rate >= T(0)) ||
      !(p.sign_deadband_A >= T(0)))
    return ParamError::kNegativeHysteresis;
  if (!(p.voltage_min_V < p.voltage_max_V) || !(p.current_min_A < p.current_max_A) ||
      !(p.temperature_min_degC < p.temperature_max_degC))
    return ParamError::kLimits;
  return ParamError::kOk;
}

// ---- corruptions -------------------------------------------------------------------------------
/// Corruption number `m` of `p` (one field set to a bad / edge value); false when m is past the end.
template <typename T, int NRC>
bool corrupt(model::EcmParams<T, NRC>& p, int m) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T values[] = {nan, T(-1), T(0), T(1e-4), T(2e6), T(1), T(2), std::numeric_limits<T>::infinity()};
  constexpr int nv = 8;
  const int field = m / nv;
  const T v = values[m % nv];
  switch (field) {
    case 0: p.capacity_Ah = v; return true;
    case 1: p.coulombic_efficiency = v; return true;
    case 2: p.hysteresis_rate = v; return true;
    case 3: p.sign_deadband_A = v; return true;
    case 4: p.voltage_min_V = v + T(3); return true;
    case 5: p.current_max_A = v; return true;
    case 6: p.temperature_max_degC = v - T(40); return true;
    case 7: p.ocv_V.value[1][4] = v + T(3); return true;
    case 8: p.r0_Ohm.value[0][7] = v; return true;
    case 9: p.rc_r_Ohm[NRC - 1].value[1][2] = v; return true;
    case 10: p.rc_tau_s[NRC - 1].value[0][10] = v; return true;
    case 11: p.hysteresis_V.value[1][0] = v; return true;
    case 12: p.hysteresis_instant_V.value[0][5] = v; return true;
    case 13: p.grid.soc[3] = v - T(0.7); return true;
    case 14: p.grid.temperature_degC[1] = v; return true;
    case 15: p.grid.soc[0] = v; return true;
    case 16: p.grid.n_soc = static_cast<int>(v); return true;
    default: return false;
  }
}

// verifies: CS-ECM-006, CS-ECM-001
template <typename T, int NRC>
void test_same_codes_as_before() {
  model::EcmParams<T, NRC> base;
  cstest::make_cell(base);
  CHECK_T(model::validate(base) == ParamError::kOk && reference_validate(base) == ParamError::kOk);
  int n = 0;
  for (int a = 0;; ++a) {
    model::EcmParams<T, NRC> p = base;
    if (!corrupt(p, a)) { break; }
    CHECK_T(model::validate(p) == reference_validate(p));
    CHECK_T(model::validate_detail(p).error == model::validate(p));
    ++n;
    for (int b = a + 8; b < 17 * 8; b += 13) {  // pairs: the first problem wins in the same order
      model::EcmParams<T, NRC> q = p;
      corrupt(q, b);
      CHECK_T(model::validate(q) == reference_validate(q));
      ++n;
    }
  }
  CHECK_T(n > 300);
}

// verifies: CS-ECM-006
template <typename T>
void test_detail_names_field_and_place() {
  model::EcmParams<T, 2> p;
  cstest::make_cell(p);
  model::EcmParams<T, 2> q = p;
  q.capacity_Ah = T(1e-4);
  model::ParamIssue pi = model::validate_detail(q);
  CHECK_T(pi.error == ParamError::kCapacity && pi.field == ParamField::kCapacity);
  CHECK_T(std::strcmp(model::param_field_name(pi.field), "capacity_Ah") == 0);
  CHECK_T(std::strstr(model::param_error_message(pi.error), "[1e-3, 1e6] A h") != nullptr);
  q = p;
  q.rc_tau_s[1].value[1][6] = T(0);
  pi = model::validate_detail(q);
  CHECK_T(pi.error == ParamError::kNonPositiveTau && pi.field == ParamField::kRcTau && pi.rc_pair == 1 &&
          pi.temperature_index == 1 && pi.soc_index == 6);
  q = p;
  q.ocv_V.value[0][3] = q.ocv_V.value[0][2];
  pi = model::validate_detail(q);
  CHECK_T(pi.error == ParamError::kOcvNotIncreasing && pi.field == ParamField::kOcv && pi.temperature_index == 0 &&
          pi.soc_index == 3);
  q = p;
  q.current_min_A = q.current_max_A;
  pi = model::validate_detail(q);
  CHECK_T(pi.error == ParamError::kLimits && pi.field == ParamField::kCurrentRange);
  q = p;
  q.grid.soc[10] = T(0.95);
  pi = model::validate_detail(q);
  CHECK_T(pi.error == ParamError::kSocBreakpoints && pi.field == ParamField::kSocBreakpoints && pi.soc_index == 10);
  // the capacity bounds the message states are the ones checked
  q = p;
  q.capacity_Ah = T(model::kCapacityMin_Ah);
  CHECK_T(model::validate(q) == ParamError::kOk);
  q.capacity_Ah = T(model::kCapacityMax_Ah);
  CHECK_T(model::validate(q) == ParamError::kOk);
}

// verifies: CS-ECM-007
void test_every_code_has_a_message() {
  for (int e = 0; e <= static_cast<int>(ParamError::kLimits); ++e) {
    const char* m = model::param_error_message(static_cast<ParamError>(e));
    CHECK(std::strcmp(m, "unknown") != 0 && m[0] != '\0');
  }
  for (int f = 1; f <= static_cast<int>(ParamField::kTemperatureRange); ++f) {
    const char* n = model::param_field_name(static_cast<ParamField>(f));
    CHECK(std::strcmp(n, "unknown") != 0 && n[0] != '\0');
    // every name but the grid's sizes is one row of the parameter table, or two joined by '/' (#13: one list)
    if (static_cast<ParamField>(f) == ParamField::kGrid) {  // the grid's sizes: no row of the table
      CHECK(model::ecm_param_index(n) == -1);
      continue;
    }
    char first[48] = {};
    const char* slash = std::strchr(n, '/');
    std::strncpy(first, n, slash != nullptr ? static_cast<std::size_t>(slash - n) : sizeof first - 1);
    CHECK(model::ecm_param_index(first) >= 0);
    CHECK(slash == nullptr || model::ecm_param_index(slash + 1) == model::ecm_param_index(first) + 1);
  }
  for (int e = 0; e <= static_cast<int>(model::SpmeParamError::kLimits); ++e) {
    CHECK(std::strcmp(model::spme_param_error_message(static_cast<model::SpmeParamError>(e)), "unknown") != 0);
  }
  static_assert(model::param_error_message(ParamError::kCapacity)[0] == 'c', "constexpr message");
  // no field: the empty name; a byte outside the enums (from a C caller or a saved code): "unknown"
  CHECK(model::param_field_name(ParamField::kNone)[0] == '\0');
  CHECK(std::strcmp(model::param_error_message(static_cast<ParamError>(200)), "unknown") == 0);
  CHECK(std::strcmp(model::param_field_name(static_cast<ParamField>(200)), "unknown") == 0);
  CHECK(std::strcmp(model::spme_param_error_message(static_cast<model::SpmeParamError>(200)), "unknown") == 0);
}

}  // namespace

int main() {
  test_same_codes_as_before<float, 1>();
  test_same_codes_as_before<float, 2>();
  test_same_codes_as_before<double, 2>();
  test_same_codes_as_before<double, 3>();
  test_detail_names_field_and_place<float>();
  test_detail_names_field_and_place<double>();
  test_every_code_has_a_message();
  return cstest::finish("test_param_validation");
}
