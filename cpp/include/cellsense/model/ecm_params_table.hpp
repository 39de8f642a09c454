// SPDX-License-Identifier: Apache-2.0
// The ECM's parameters by name: one row per model::EcmParams member (model/ecm.hpp) in member order,
// the grid's two breakpoint vectors in its place, with the unit and the shape of each. This is the one
// written list every other one is held to (issue #13):
//   - the C API's cs_ecm_params (cellsense/c_api.h): cpp/src/c_api.cpp static_asserts each field's
//     name against this table, in order, beside its offset against EcmParams;
//   - the Python parameter dict (cellsense.cell.Cell.core_params(), read by the bindings'
//     load_ecm_params, which asks for the keys of this table) and the export-c header writer
//     (cellsense.export_c.ECM_FIELDS): tests/python/test_ecm_params_table.py holds both to
//     cellsense._core.ECM_PARAMETERS, which the bindings build from this table.
// Constant data only: no heap, no I/O; nothing is linked unless a program reads the table at run time.
#pragma once

#include <cstdint>

namespace cellsense {
namespace model {

/// The shape of one ECM parameter.
enum class EcmParamKind : std::uint8_t {
  kScalar = 0,       ///< one number
  kBreakpoints = 1,  ///< a breakpoint vector of the grid (grid.soc, grid.temperature_degC)
  kTable = 2,        ///< a [temperature][soc] table on the grid
  kRcTables = 3,     ///< one [temperature][soc] table per RC pair
};

/// One ECM parameter: its name (the EcmParams member, the cs_ecm_params field, the parameter-dict
/// key), its unit ("1": dimensionless) and its shape.
struct EcmParamInfo {
  const char* name;  // cppcheck-suppress unusedStructMember ; read by the bindings and static_asserts
  const char* unit;  // cppcheck-suppress unusedStructMember ; read by the bindings
  EcmParamKind kind;
};

/// Every ECM parameter, in EcmParams member order.
inline constexpr EcmParamInfo kEcmParams[] = {
    {"capacity_Ah", "A h", EcmParamKind::kScalar},
    {"coulombic_efficiency", "1", EcmParamKind::kScalar},
    {"hysteresis_rate", "1", EcmParamKind::kScalar},
    {"sign_deadband_A", "A", EcmParamKind::kScalar},
    {"soc", "1", EcmParamKind::kBreakpoints},
    {"temperature_degC", "degC", EcmParamKind::kBreakpoints},
    {"ocv_V", "V", EcmParamKind::kTable},
    {"r0_Ohm", "Ohm", EcmParamKind::kTable},
    {"rc_r_Ohm", "Ohm", EcmParamKind::kRcTables},
    {"rc_tau_s", "s", EcmParamKind::kRcTables},
    {"hysteresis_V", "V", EcmParamKind::kTable},
    {"hysteresis_instant_V", "V", EcmParamKind::kTable},
    {"voltage_min_V", "V", EcmParamKind::kScalar},
    {"voltage_max_V", "V", EcmParamKind::kScalar},
    {"current_min_A", "A", EcmParamKind::kScalar},
    {"current_max_A", "A", EcmParamKind::kScalar},
    {"temperature_min_degC", "degC", EcmParamKind::kScalar},
    {"temperature_max_degC", "degC", EcmParamKind::kScalar},
};

/// The number of rows of kEcmParams.
inline constexpr int kEcmParamCount = static_cast<int>(sizeof(kEcmParams) / sizeof(kEcmParams[0]));

/// The kind's name as the Python side spells it ("scalar", "breakpoints", "table", "rc_tables").
constexpr const char* ecm_param_kind_name(EcmParamKind k) {
  switch (k) {
    case EcmParamKind::kScalar: return "scalar";
    case EcmParamKind::kBreakpoints: return "breakpoints";
    case EcmParamKind::kTable: return "table";
    case EcmParamKind::kRcTables: return "rc_tables";
  }
  return "unknown";
}

namespace detail {
constexpr bool same_name(const char* a, const char* b) {
  for (; *a != '\0' && *a == *b; ++a, ++b) {}
  return *a == *b;
}
}  // namespace detail

/// The row of the parameter called `name`, -1 if there is none (usable in static_assert).
constexpr int ecm_param_index(const char* name) {
  for (int i = 0; i < kEcmParamCount; ++i) {
    if (detail::same_name(kEcmParams[i].name, name)) { return i; }
  }
  return -1;
}

/// True if row `index` is the parameter called `name` (static_assert-ed by the C API per field).
constexpr bool ecm_param_is(int index, const char* name) {
  return index >= 0 && index < kEcmParamCount && detail::same_name(kEcmParams[index].name, name);
}

}  // namespace model
}  // namespace cellsense
