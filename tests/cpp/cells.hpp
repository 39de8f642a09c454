// Synthetic cells for the unit tests (not real cells: shapes chosen to exercise the code).
#pragma once

#include "cellsense/cellsense.hpp"

namespace cstest {

/// The estimator settings these tests were written against: EstimatorConfig's defaults before 2026-12-06
/// (SOC bounds [0, 1], voltage sigma 10 mV; the core's defaults are now the package's and the C API's,
/// [-0.05, 1.05] and 40 mV). The tests keep their numbers by asking for these explicitly.
template <typename T>
cellsense::EstimatorConfig<T> config_2025() {
  cellsense::EstimatorConfig<T> c{};
  c.soc_min = T(0);
  c.soc_max = T(1);
  c.voltage_sigma_V = T(0.01);
  return c;
}

/// A 2.5 Ah cell on an 11 x 2 grid (0 and 40 degC) with a nonlinear OCV and SOC-dependent R0.
template <typename T, int NRC>
void make_cell(cellsense::model::EcmParams<T, NRC>& p) {
  p = cellsense::model::EcmParams<T, NRC>{};
  p.capacity_Ah = T(2.5);
  p.coulombic_efficiency = T(0.99);
  p.hysteresis_rate = T(20);
  p.sign_deadband_A = T(0.025);
  p.grid.n_soc = 11;
  p.grid.n_temperature = 2;
  p.grid.temperature_degC[0] = T(0);
  p.grid.temperature_degC[1] = T(40);
  for (int i = 0; i < 11; ++i) {
    const T z = T(i) / T(10);
    p.grid.soc[i] = z;
    for (int t = 0; t < 2; ++t) {
      const T cold = t == 0 ? T(1.6) : T(1);
      // OCV: 3.2 V + 0.9 z + a bump; strictly increasing.
      p.ocv_V.value[t][i] = T(3.2) + T(0.9) * z + T(0.15) * z * z * (T(1) - z) + T(0.01) * T(t);
      p.r0_Ohm.value[t][i] = cold * (T(0.02) + T(0.01) * (T(1) - z) * (T(1) - z));
      for (int j = 0; j < NRC; ++j) {
        p.rc_r_Ohm[j].value[t][i] = cold * T(0.01) * T(j + 1);
        p.rc_tau_s[j].value[t][i] = T(10) * T((j + 1) * (j + 1) * 5);
      }
      p.hysteresis_V.value[t][i] = T(0.01);
      p.hysteresis_instant_V.value[t][i] = T(0.002);
    }
  }
  p.voltage_min_V = T(0);
  p.voltage_max_V = T(5);
  p.current_min_A = T(-50);
  p.current_max_A = T(50);
  p.temperature_min_degC = T(-40);
  p.temperature_max_degC = T(85);
}

/// The same cell with a flat OCV plateau between SOC 0.4 and 0.6 (every temperature), as on an LFP cell:
/// OCV(0.4) = OCV(0.5) = OCV(0.6) on the table.
template <typename T, int NRC>
void make_flat_cell(cellsense::model::EcmParams<T, NRC>& p) {
  make_cell(p);
  for (int t = 0; t < p.grid.n_temperature; ++t) {
    p.ocv_V.value[t][4] = p.ocv_V.value[t][5];
    p.ocv_V.value[t][6] = p.ocv_V.value[t][5];
  }
}

/// Deterministic pseudo-random numbers (xorshift32) for test drive profiles.
struct Rng {
  unsigned state = 2463534242u;
  double uniform() {  // [0, 1)
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return static_cast<double>(state) / 4294967296.0;
  }
  double normal() {  // sum of 12 uniforms: approximately N(0, 1), no libm needed
    double s = 0;
    for (int i = 0; i < 12; ++i) { s += uniform(); }
    return s - 6.0;
  }
};

}  // namespace cstest
