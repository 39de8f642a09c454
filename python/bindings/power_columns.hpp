// SPDX-License-Identifier: Apache-2.0
// The state of power over a whole log: the limits of the state after every sample for every horizon
// (power/power_limits.hpp, docs/power.md). LimitColumns holds the columns every sink writes; PowerColumns is the
// cell estimators' sink (PyEstimator::run_power in core.cpp, PySoh::run_power in soh.cpp), the pack's sink
// (pack.cpp) adds the limiting cell.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "cellsense/power/power_limits.hpp"
#include "common.hpp"

namespace cellsense_py {

/// The limited_by code of a sample whose limits were not computed (a non-finite temperature, or refused): outside
/// power::LimitedBy's codes; exposed as _core.LIMITED_BY_NOT_COMPUTED (cellsense.estimators.power.LIMITED_BY).
constexpr std::uint8_t kLimitedByNotComputed = 255;

/// The columns every whole-log power sink writes: the configuration checked for every horizon and the arrays
/// allocated with the GIL held, one row per sample and horizon written from the whole-log loop (no Python calls),
/// put() into the run's dict afterwards. R: power::PowerLimits or power::PackPowerLimits (the same six fields).
template <typename T>
class LimitColumns {
 public:
  using Horizons = py::array_t<double, py::array::c_style | py::array::forcecast>;

  LimitColumns(py::ssize_t n, const Horizons& horizons_s, const py::dict& cfg) : config_(load_power_config<T>(cfg)) {
    const auto hz = horizons_s.template unchecked<1>();
    for (py::ssize_t j = 0; j < hz.shape(0); ++j) {
      cellsense::power::PowerConfig<T> c = config_;
      c.horizon_s = static_cast<T>(hz(j));
      if (!c.valid()) { throw py::value_error(power_refusal(cellsense::power::PowerStatus::kBadConfig, c)); }
      horizons_s_.push_back(c.horizon_s);
    }
    const py::ssize_t nh = horizons();
    for (int q = 0; q < 4; ++q) {
      cols_[q] = py::array_t<double>({n, nh});
      col_[q] = cols_[q].mutable_data();
    }
    for (int q = 0; q < 2; ++q) {
      by_[q] = py::array_t<std::uint8_t>({n, nh});
      by_ptr_[q] = by_[q].mutable_data();
    }
  }

  py::ssize_t horizons() const { return static_cast<py::ssize_t>(horizons_s_.size()); }
  /// The checked horizons (s), horizons() of them.
  const T* horizons_s() const { return horizons_s_.data(); }
  /// The checked configuration (its horizon_s: the first horizon's).
  cellsense::power::PowerConfig<T> base_config() const { return config(0); }
  /// The configuration of horizon j (the checked one with its horizon_s).
  cellsense::power::PowerConfig<T> config(py::ssize_t j) const {
    cellsense::power::PowerConfig<T> c = config_;
    c.horizon_s = horizons_s_[static_cast<std::size_t>(j)];
    return c;
  }
  /// Row `at` (sample k x horizons + j): the limits `r` if `done`, else NaN / kLimitedByNotComputed.
  template <class R>
  void write(py::ssize_t at, bool done, const R& r) const {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    col_[0][at] = done ? static_cast<double>(r.discharge_current_A) : nan;
    col_[1][at] = done ? static_cast<double>(r.charge_current_A) : nan;
    col_[2][at] = done ? static_cast<double>(r.discharge_power_W) : nan;
    col_[3][at] = done ? static_cast<double>(r.charge_power_W) : nan;
    by_ptr_[0][at] = done ? static_cast<std::uint8_t>(r.discharge_limited_by) : kLimitedByNotComputed;
    by_ptr_[1][at] = done ? static_cast<std::uint8_t>(r.charge_limited_by) : kLimitedByNotComputed;
  }
  /// The columns, under PyEstimator::run_power's names.
  void put(py::dict& out) const {
    out["discharge_current_A"] = cols_[0];
    out["charge_current_A"] = cols_[1];
    out["discharge_power_W"] = cols_[2];
    out["charge_power_W"] = cols_[3];
    out["discharge_limited_by"] = by_[0];
    out["charge_limited_by"] = by_[1];
  }

 private:
  cellsense::power::PowerConfig<T> config_;
  std::vector<T> horizons_s_;
  py::array_t<double> cols_[4];
  double* col_[4] = {};
  py::array_t<std::uint8_t> by_[2];
  std::uint8_t* by_ptr_[2] = {};
};

/// A cell estimator's sink (PyEstimator, PySoh): the limits of its present state after every sample.
template <typename T>
class PowerColumns : public LimitColumns<T> {
 public:
  PowerColumns(py::ssize_t n, const typename LimitColumns<T>::Horizons& horizons_s, const py::dict& cfg,
               const double* temperature_degC)
      : LimitColumns<T>(n, horizons_s, cfg), temperature_degC_(temperature_degC) {}

  /// The limits of `est`'s present state, as sample k's row (NaN / kLimitedByNotComputed where refused).
  template <class E>
  void record(const E& est, py::ssize_t k) const {
    const py::ssize_t nh = this->horizons();
    const cellsense::power::PowerConfig<T> c = this->base_config();
    // the horizons in groups of kMaxHorizons, each group in one call (the set-up shared): each row bit for bit
    // power_limits() at its horizon
    for (py::ssize_t j0 = 0; j0 < nh; j0 += cellsense::power::kMaxHorizons) {
      const int n = static_cast<int>(nh - j0 < cellsense::power::kMaxHorizons ? nh - j0 : cellsense::power::kMaxHorizons);
      cellsense::power::PowerLimits<T> r[cellsense::power::kMaxHorizons] = {};
      const bool done = cellsense::power::power_limits_horizons(est, static_cast<T>(temperature_degC_[k]), c,
                                                                this->horizons_s() + j0, n, r) ==
                        cellsense::power::PowerStatus::kOk;
      for (int q = 0; q < n; ++q) { this->write(k * nh + j0 + q, done, r[q]); }
    }
  }

 private:
  const double* temperature_degC_;
};

/// The run_power of every cell estimator binding (ECM, SOH, SPMe): `run(time, current, voltage, temperature)` with
/// `slot` (the binding's power sink member, read by its per-sample record hook) pointing at the columns of
/// `horizons_s` x the log's samples for the call, then the columns put into run()'s dict.
template <typename T, class Run>
py::dict run_power_columns(const PowerColumns<T>*& slot, const Arr& time_s, const Arr& current_A, const Arr& voltage_V,
                           const Arr& temperature_degC, const Arr& horizons_s, const py::dict& cfg, Run&& run) {
  const LogInputs in = log_inputs(time_s, current_A, voltage_V, temperature_degC);
  const PowerColumns<T> cols(in.n, horizons_s, cfg, in.temperature_degC);
  slot = &cols;
  py::dict out;
  try {
    out = run(time_s, current_A, voltage_V, temperature_degC);
  } catch (...) {
    slot = nullptr;
    throw;
  }
  slot = nullptr;
  cols.put(out);
  return out;
}

/// The limits of `est`'s present state as a dict (currents and powers positive, the constraint named:
/// power::limited_by_name); ValueError naming the status when refused. Every estimator binding's power_limits.
template <typename T, class E>
py::dict present_power_limits(const E& est, double temperature_degC, const py::dict& cfg) {
  cellsense::power::PowerLimits<T> r{};
  const cellsense::power::PowerConfig<T> c = load_power_config<T>(cfg);
  const auto st = cellsense::power::power_limits(est, static_cast<T>(temperature_degC), c, r);
  if (st != cellsense::power::PowerStatus::kOk) { throw py::value_error(power_refusal(st, c)); }
  py::dict d;
  d["discharge_current_A"] = static_cast<double>(r.discharge_current_A);
  d["charge_current_A"] = static_cast<double>(r.charge_current_A);
  d["discharge_power_W"] = static_cast<double>(r.discharge_power_W);
  d["charge_power_W"] = static_cast<double>(r.charge_power_W);
  d["discharge_voltage_V"] = static_cast<double>(r.discharge_voltage_V);
  d["charge_voltage_V"] = static_cast<double>(r.charge_voltage_V);
  d["discharge_limited_by"] = cellsense::power::limited_by_name(r.discharge_limited_by);
  d["charge_limited_by"] = cellsense::power::limited_by_name(r.charge_limited_by);
  return d;
}

/// Energy left to the discharge cut-off at a constant power, time to empty, their 1 sigma (power::remaining_energy)
/// as a dict; ValueError naming the status when refused. Every estimator binding's energy().
template <typename T, class E>
py::dict present_energy(const E& est, double temperature_degC, double power_W, double voltage_min_V, double soc_min,
                        double soc_sigma_k) {
  cellsense::power::EnergyEstimate<T> e{};
  const auto st = cellsense::power::remaining_energy(est, static_cast<T>(temperature_degC), static_cast<T>(power_W),
                                                     static_cast<T>(voltage_min_V), static_cast<T>(soc_min),
                                                     static_cast<T>(soc_sigma_k), e);
  if (st != cellsense::power::PowerStatus::kOk) { throw py::value_error(power_status_message(st)); }
  py::dict d;
  d["energy_Wh"] = static_cast<double>(e.energy_Wh);
  d["energy_sigma_Wh"] = static_cast<double>(e.energy_sigma_Wh);
  d["time_to_empty_s"] = static_cast<double>(e.time_to_empty_s);
  d["time_to_empty_sigma_s"] = static_cast<double>(e.time_to_empty_sigma_s);
  return d;
}

/// Time to full at a charge current and its 1 sigma (power::time_to_full) as (s, s); ValueError when refused.
template <typename T, class E>
py::tuple present_time_to_full(const E& est, double charge_current_A, double soc_max) {
  T t = T(0);
  T ts = T(0);
  const auto st = cellsense::power::time_to_full(est, static_cast<T>(charge_current_A), static_cast<T>(soc_max), t, ts);
  if (st != cellsense::power::PowerStatus::kOk) { throw py::value_error(power_status_message(st)); }
  return py::make_tuple(static_cast<double>(t), static_cast<double>(ts));
}

}  // namespace cellsense_py
