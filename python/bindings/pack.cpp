// pybind11 bindings for the pack part of the core (registered from core.cpp).
// One class per (filter, RC pairs, scalar): Pack{Ekf,Ukf}{1,2,3}_{f32,f64}, each a
// cellsense::pack::PackEstimator sized for kMaxCells cells (a run uses n_cells <= kMaxCells).
// cellsense.pack (python/cellsense/pack.py) picks the class; users never touch this module.
#include "common.hpp"
#include "power_columns.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cellsense/cellsense.hpp"
#include "cellsense/pack/pack.hpp"

namespace py = pybind11;
using namespace cellsense;

namespace {

constexpr int kMaxCells = 512;
using cellsense::kStatusInitial;      // first sample: sets the clock, no step (estimator/status.hpp)
using cellsense::pack::kEventInitial;  // its pack event (pack/pack.hpp)

using cellsense_py::Arr;

using cellsense_py::scalar;

/// The limiting-cell index of a sample whose pack limits were not computed (a cell's temperature not finite, or
/// refused): outside the 0-based cell indices; exposed as _core.PACK_CELL_NOT_COMPUTED.
constexpr std::int16_t kPackCellNotComputed = -1;

/// PyPack::run_power's per-sample output: the series string's limits (power::pack_power_limits) after every
/// sample for every horizon, each cell at its own temperature: the cell sinks' columns (power_columns.hpp) plus the
/// limiting cell in each direction.
template <typename T>
class PackPowerColumns : public cellsense_py::LimitColumns<T> {
 public:
  PackPowerColumns(py::ssize_t n, const typename cellsense_py::LimitColumns<T>::Horizons& horizons_s,
                   const py::dict& cfg)
      : cellsense_py::LimitColumns<T>(n, horizons_s, cfg) {
    const py::ssize_t nh = this->horizons();
    for (int q = 0; q < 2; ++q) {
      cell_[q] = py::array_t<std::int16_t>({n, nh});
      cell_ptr_[q] = cell_[q].mutable_data();
    }
  }

  /// The string's limits of `pack`'s present state (cell c at temperature_degC[c]), as sample k's row.
  template <class PackT>
  void record(const PackT& pack, const T* temperature_degC, py::ssize_t k) const {
    const py::ssize_t nh = this->horizons();
    const power::PowerConfig<T> c = this->base_config();
    // the horizons in groups of power::kMaxHorizons, each group in one pass over the cells (the cells' set-up
    // shared by its horizons); each row bit for bit pack_power_limits() at its horizon
    for (py::ssize_t j0 = 0; j0 < nh; j0 += power::kMaxHorizons) {
      const int n = static_cast<int>(nh - j0 < power::kMaxHorizons ? nh - j0 : power::kMaxHorizons);
      power::PackPowerLimits<T> r[power::kMaxHorizons] = {};
      const bool done = power::pack_power_limits_horizons(pack, temperature_degC, c, this->horizons_s() + j0, n, r) ==
                        power::PowerStatus::kOk;
      for (int q = 0; q < n; ++q) {
        const py::ssize_t at = k * nh + j0 + q;
        this->write(at, done, r[q]);
        cell_ptr_[0][at] = done ? static_cast<std::int16_t>(r[q].discharge_cell) : kPackCellNotComputed;
        cell_ptr_[1][at] = done ? static_cast<std::int16_t>(r[q].charge_cell) : kPackCellNotComputed;
      }
    }
  }

  void put(py::dict& out) const {
    cellsense_py::LimitColumns<T>::put(out);
    out["discharge_cell"] = cell_[0];
    out["charge_cell"] = cell_[1];
  }

 private:
  py::array_t<std::int16_t> cell_[2];
  std::int16_t* cell_ptr_[2] = {};
};

template <class PackT>
class PyPack {
 public:
  using T = typename PackT::T;
  using Model = typename PackT::Model;
  using Params = typename Model::Params;
  using OutT = py::array_t<T>;
  using Sensors = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

  PyPack(const py::dict& params, const Arr& capacity_scale, const Arr& resistance_scale, const Arr& initial_soc,
         const py::dict& settings, const py::dict& filter_config)
      : params_(std::make_unique<Params>()), pack_(std::make_unique<PackT>()) {
    cellsense_py::load_ecm_params(*params_, params);
    const py::ssize_t n = initial_soc.shape(0);
    if (initial_soc.ndim() != 1 || n < 1 || n > kMaxCells || capacity_scale.shape(0) != n ||
        resistance_scale.shape(0) != n) {
      throw py::value_error("pack: need 1.." + std::to_string(kMaxCells) +
                            " cells and one capacity scale, resistance scale and initial SOC per cell");
    }
    typename PackT::Config c{};
    c.estimator = cellsense_py::load_estimator_config<T>(settings);
    c.noise = cellsense_py::load_ecm_noise<typename Model::Noise>(settings);
    c.initial_soc_sigma = static_cast<T>(scalar(settings, "initial_soc_sigma"));
    c.initial_v_rc_sigma_V = static_cast<T>(scalar(settings, "initial_v_rc_sigma_V"));
    c.initial_hysteresis = static_cast<T>(scalar(settings, "initial_hysteresis"));
    c.initial_hysteresis_sigma = static_cast<T>(scalar(settings, "initial_hysteresis_sigma"));
    c.usable_soc_low = static_cast<T>(scalar(settings, "usable_soc_low"));
    c.usable_soc_high = static_cast<T>(scalar(settings, "usable_soc_high"));
    c.gap.policy = scalar(settings, "gap_reinit") != 0.0 ? pack::GapPolicy::kReinit : pack::GapPolicy::kRest;
    c.gap.gap_s = static_cast<T>(scalar(settings, "gap_s"));
    c.gap.reinit_after_s = static_cast<T>(scalar(settings, "reinit_after_s"));
    cellsense_py::load_filter_config(c.filter, filter_config);
    std::vector<pack::CellVariation<T>> var(static_cast<size_t>(n));
    std::vector<T> soc0(static_cast<size_t>(n));
    for (py::ssize_t k = 0; k < n; ++k) {
      var[static_cast<size_t>(k)] = {static_cast<T>(capacity_scale.at(k)), static_cast<T>(resistance_scale.at(k))};
      soc0[static_cast<size_t>(k)] = static_cast<T>(initial_soc.at(k));
    }
    int bad = -1;
    const InitStatus s = pack_->init(params_.get(), static_cast<int>(n), var.data(), soc0.data(), c, &bad);
    if (s != InitStatus::kOk) {
      const EstimatorConfigIssue issue = c.estimator.check();  // the core's rule, when it is the refusal
      throw py::value_error(std::string("pack init failed: ") + init_status_name(s) +
                            (bad >= 0 ? " (cell " + std::to_string(bad + 1) + ")" : std::string()) +
                            (s == InitStatus::kBadConfig && issue != EstimatorConfigIssue::kOk
                                 ? std::string(": ") + estimator_config_message(issue)
                                 : std::string()));
    }
  }

  /// A whole log. dt_s[k] NaN marks a sample that only sets the clock (status kStatusInitial). voltage_V is
  /// (n, cells); temperature_degC is (n, sensors) with cell_sensor[k] the sensor of cell k.
  py::dict run(const Arr& dt_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC,
               const Sensors& cell_sensor) {
    return run_with(dt_s, current_A, voltage_V, temperature_degC, cell_sensor, nullptr);
  }

  /// run() plus, after every sample, the series string's limits (power::pack_power_limits, each cell at its own
  /// sensor's temperature) for each horizon (cfg: PowerConfig fields; its horizon_s replaced by each of
  /// `horizons_s`). Extra columns [sample, horizon]: discharge/charge current (A), power (W), limiting cell
  /// (0-based; PACK_CELL_NOT_COMPUTED where not computed), limited_by (LIMITED_BY_NOT_COMPUTED where not computed:
  /// a cell's temperature not finite, or refused). The estimate is the same as run()'s (the limits only read it).
  py::dict run_power(const Arr& dt_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC,
                     const Sensors& cell_sensor, const Arr& horizons_s, const py::dict& cfg) {
    if (dt_s.ndim() != 1) { throw py::value_error("pack run_power(): dt_s (n) expected"); }
    const PackPowerColumns<T> sink(dt_s.shape(0), horizons_s, cfg);
    py::dict out = run_with(dt_s, current_A, voltage_V, temperature_degC, cell_sensor, &sink);
    sink.put(out);
    return out;
  }

 private:
  py::dict run_with(const Arr& dt_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC,
                    const Sensors& cell_sensor, const PackPowerColumns<T>* power) {
    const int nc = pack_->n_cells();
    const py::ssize_t n = dt_s.shape(0);
    if (dt_s.ndim() != 1 || current_A.ndim() != 1 || current_A.shape(0) != n || voltage_V.ndim() != 2 ||
        voltage_V.shape(0) != n || voltage_V.shape(1) != nc || temperature_degC.ndim() != 2 ||
        temperature_degC.shape(0) != n || cell_sensor.ndim() != 1 || cell_sensor.shape(0) != nc) {
      throw py::value_error("pack run(): dt_s (n), current_A (n), voltage_V (n, cells), temperature_degC (n, sensors), "
                            "cell_sensor (cells) expected");
    }
    const py::ssize_t ns = temperature_degC.shape(1);
    for (int k = 0; k < nc; ++k) {
      if (cell_sensor.at(k) < 0 || cell_sensor.at(k) >= ns) { throw py::value_error("pack run(): cell_sensor out of range"); }
    }
    OutT soc({n, static_cast<py::ssize_t>(nc)}), sigma({n, static_cast<py::ssize_t>(nc)});
    py::array_t<std::uint8_t> status({n, static_cast<py::ssize_t>(nc)}), event(n);
    OutT usable(n), smin(n), smax(n), smean(n), imb(n), dis(n), chg(n);
    py::array_t<std::uint16_t> imin(n), imax(n), nrej(n);
    const double* dt = dt_s.data();
    const double* cur = current_A.data();
    const double* v = voltage_V.data();
    const double* th = temperature_degC.data();
    const std::int32_t* map = cell_sensor.data();
    T* o_soc = soc.mutable_data();
    T* o_sig = sigma.mutable_data();
    std::uint8_t* o_st = status.mutable_data();
    std::uint8_t* o_ev = event.mutable_data();
    T *o_us = usable.mutable_data(), *o_mn = smin.mutable_data(), *o_mx = smax.mutable_data(),
      *o_me = smean.mutable_data(), *o_im = imb.mutable_data(), *o_d = dis.mutable_data(), *o_c = chg.mutable_data();
    std::uint16_t *o_imin = imin.mutable_data(), *o_imax = imax.mutable_data(), *o_nr = nrej.mutable_data();
    {
      py::gil_scoped_release release;
      std::vector<T> vv(static_cast<size_t>(nc)), tt(static_cast<size_t>(nc));
      std::vector<pack::CellReport<T>> rep(static_cast<size_t>(nc));
      for (py::ssize_t k = 0; k < n; ++k) {
        pack::PackSummary<T> s{};
        for (int c = 0; c < nc; ++c) {
          tt[static_cast<size_t>(c)] = static_cast<T>(th[static_cast<size_t>(k) * static_cast<size_t>(ns) + static_cast<size_t>(map[c])]);
        }
        if (std::isnan(dt[k])) {
          pack_->summarise(s);
          o_ev[k] = kEventInitial;
          for (int c = 0; c < nc; ++c) {
            const size_t o = static_cast<size_t>(k) * static_cast<size_t>(nc) + static_cast<size_t>(c);
            o_st[o] = kStatusInitial;
            o_soc[o] = pack_->cell(c).soc();
            o_sig[o] = pack_->cell(c).soc_sigma();
          }
        } else {
          for (int c = 0; c < nc; ++c) {
            vv[static_cast<size_t>(c)] = static_cast<T>(v[static_cast<size_t>(k) * static_cast<size_t>(nc) + static_cast<size_t>(c)]);
          }
          s = pack_->step(static_cast<T>(dt[k]), static_cast<T>(cur[k]), vv.data(), tt.data(), rep.data());
          o_ev[k] = static_cast<std::uint8_t>(s.event);
          for (int c = 0; c < nc; ++c) {
            const size_t o = static_cast<size_t>(k) * static_cast<size_t>(nc) + static_cast<size_t>(c);
            o_st[o] = rep[static_cast<size_t>(c)].status;
            o_soc[o] = rep[static_cast<size_t>(c)].soc;
            o_sig[o] = rep[static_cast<size_t>(c)].soc_sigma;
          }
        }
        o_us[k] = s.usable_soc;
        o_mn[k] = s.soc_min;
        o_mx[k] = s.soc_max;
        o_me[k] = s.soc_mean;
        o_im[k] = s.imbalance;
        o_d[k] = s.dischargeable_Ah;
        o_c[k] = s.chargeable_Ah;
        o_imin[k] = s.index_min;
        o_imax[k] = s.index_max;
        o_nr[k] = s.n_rejected;
        if (power != nullptr) { power->record(*pack_, tt.data(), k); }
      }
    }
    py::dict out;
    out["status"] = status;
    out["soc"] = soc;
    out["soc_sigma"] = sigma;
    out["event"] = event;
    out["usable_soc"] = usable;
    out["soc_min"] = smin;
    out["soc_max"] = smax;
    out["soc_mean"] = smean;
    out["imbalance"] = imb;
    out["dischargeable_Ah"] = dis;
    out["chargeable_Ah"] = chg;
    out["index_min"] = imin;
    out["index_max"] = imax;
    out["n_rejected"] = nrej;
    return out;
  }

 public:
  int n_cells() const { return pack_->n_cells(); }
  double capacity_Ah(int k) const { check(k); return static_cast<double>(pack_->capacity_Ah(k)); }
  bool set_capacity_scale(int k, double c) { check(k); return pack_->set_capacity_scale(k, static_cast<T>(c)); }
  double soc_from_ocv(double v, double t) const { return static_cast<double>(pack_->soc_from_ocv(static_cast<T>(v), static_cast<T>(t))); }
  /// Series-string limits (power::pack_power_limits) at each cell's temperature; ValueError when refused.
  py::dict power_limits(const Arr& temperature_degC, const py::dict& cfg) const {
    const auto t = temperature_degC.template unchecked<1>();
    if (t.shape(0) != pack_->n_cells()) {
      throw py::value_error("power_limits: temperature_degC needs one value per cell (" + std::to_string(pack_->n_cells()) + ")");
    }
    std::vector<T> temps(static_cast<std::size_t>(pack_->n_cells()));
    for (int k = 0; k < pack_->n_cells(); ++k) { temps[static_cast<std::size_t>(k)] = static_cast<T>(t(k)); }
    power::PackPowerLimits<T> r{};
    const power::PowerConfig<T> c = cellsense_py::load_power_config<T>(cfg);
    const auto st = power::pack_power_limits(*pack_, temps.data(), c, r);
    if (st != power::PowerStatus::kOk) { throw py::value_error(cellsense_py::power_refusal(st, c)); }
    py::dict d;
    d["discharge_current_A"] = static_cast<double>(r.discharge_current_A);
    d["charge_current_A"] = static_cast<double>(r.charge_current_A);
    d["discharge_power_W"] = static_cast<double>(r.discharge_power_W);
    d["charge_power_W"] = static_cast<double>(r.charge_power_W);
    d["discharge_cell"] = r.discharge_cell;
    d["charge_cell"] = r.charge_cell;
    d["discharge_limited_by"] = power::limited_by_name(r.discharge_limited_by);
    d["charge_limited_by"] = power::limited_by_name(r.charge_limited_by);
    return d;
  }
  py::array_t<double> soc() const {
    py::array_t<double> a(pack_->n_cells());
    for (int k = 0; k < pack_->n_cells(); ++k) a.mutable_at(k) = static_cast<double>(pack_->cell(k).soc());
    return a;
  }

 private:
  void check(int k) const {
    if (k < 0 || k >= pack_->n_cells()) { throw py::index_error("cell index out of range"); }
  }
  std::unique_ptr<Params> params_;  // the pack keeps a pointer: must outlive pack_
  std::unique_ptr<PackT> pack_;
};

template <class PackT>
void bind_one(py::module_& m, const std::string& name) {
  using PP = PyPack<PackT>;
  py::class_<PP>(m, name.c_str())
      .def(py::init<const py::dict&, const Arr&, const Arr&, const Arr&, const py::dict&, const py::dict&>(),
           py::arg("params"), py::arg("capacity_scale"), py::arg("resistance_scale"), py::arg("initial_soc"),
           py::arg("settings"), py::arg("filter_config"))
      .def("run", &PP::run, py::arg("dt_s"), py::arg("current_A"), py::arg("voltage_V"), py::arg("temperature_degC"),
           py::arg("cell_sensor"))
      .def("run_power", &PP::run_power, py::arg("dt_s"), py::arg("current_A"), py::arg("voltage_V"),
           py::arg("temperature_degC"), py::arg("cell_sensor"), py::arg("horizons_s"), py::arg("config"))
      .def("capacity_Ah", &PP::capacity_Ah)
      .def("set_capacity_scale", &PP::set_capacity_scale)
      .def("soc_from_ocv", &PP::soc_from_ocv)
      .def("soc", &PP::soc)
      .def("power_limits", &PP::power_limits, py::arg("temperature_degC"), py::arg("config"))
      .def_property_readonly("n_cells", &PP::n_cells)
      .def_property_readonly_static("max_cells", [](py::object) { return kMaxCells; })
      .def_property_readonly_static("sizeof_cell", [](py::object) { return sizeof(typename PackT::CellEstimator); })
      .def_property_readonly_static("sizeof_pack", [](py::object) { return sizeof(PackT); });
}

template <typename T, int NRC>
void bind_rc(py::module_& m, const std::string& suffix) {
  using Base = model::EcmModel<T, NRC>;
  bind_one<pack::PackEstimator<Base, filter::Ekf, kMaxCells>>(m, "PackEkf" + std::to_string(NRC) + suffix);
  bind_one<pack::PackEstimator<Base, filter::Ukf, kMaxCells>>(m, "PackUkf" + std::to_string(NRC) + suffix);
}

}  // namespace

void bind_pack(py::module_& m) {
  bind_rc<float, 1>(m, "_f32");
  bind_rc<float, 2>(m, "_f32");
  bind_rc<float, 3>(m, "_f32");
  bind_rc<double, 1>(m, "_f64");
  bind_rc<double, 2>(m, "_f64");
  bind_rc<double, 3>(m, "_f64");
  m.attr("PACK_STATUS_REST") = pack::kCellStatusRest;
  m.attr("PACK_STATUS_REINIT") = pack::kCellStatusReinit;
  m.attr("PACK_STATUS_REINIT_FAILED") = pack::kCellStatusReinitFailed;
  m.attr("PACK_EVENT_CLOCK_REANCHORED") = pack::kEventClockReanchored;
  m.attr("PACK_EVENT_INITIAL") = pack::kEventInitial;
  m.attr("PACK_CELL_NOT_COMPUTED") = kPackCellNotComputed;
  m.def(
      "pack_gap_within",
      [](double gap_s, double reinit_after_s, double dt_max_s) {
        pack::GapConfig<double> g{};
        g.gap_s = gap_s;
        g.reinit_after_s = reinit_after_s;
        const pack::GapConfig<double> r = pack::gap_within(g, dt_max_s);
        return py::make_tuple(r.gap_s, r.reinit_after_s);
      },
      py::arg("gap_s"), py::arg("reinit_after_s"), py::arg("dt_max_s"),
      "(gap_s, reinit_after_s) a pack uses with the estimators' dt_max_s: the core's rule (pack::gap_within): "
      "gap_s at most dt_max_s, reinit_after_s at least that gap_s.");
}
