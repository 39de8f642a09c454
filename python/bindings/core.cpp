// pybind11 bindings: the ONLY place that sees both numpy and the core (docs/architecture.md).
// Exposes one class per (scalar, RC pairs, filter): Ecm{Ekf,Ukf}{1,2,3}_{f32,f64}.
// The Python package (cellsense.estimator) picks the class; users never touch this module.
#include "common.hpp"
#include "power_columns.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cellsense/cellsense.hpp"
#include "cellsense/model/ecm_params_table.hpp"
#include "cellsense/model/ecm_state_check.hpp"
#include "cellsense/pack/pack.hpp"
#include "cellsense/power/power_limits.hpp"

namespace py = pybind11;
using namespace cellsense;

namespace {

using cellsense_py::Arr;

template <class E>
class PyEstimator {
 public:
  using T = typename E::T;
  using M = typename E::Model;
  using P = typename M::Params;
  static constexpr int N = M::kStates;
  using Arr = cellsense_py::Arr;

  PyEstimator(const py::dict& params, const py::dict& config, const py::dict& noise,
              const py::dict& filter_config, const Arr& x0, const Arr& p0, double hysteresis_sign)
      : params_(std::make_unique<P>()) {
    cellsense_py::load_ecm_params(*params_, params);
    cellsense_py::init_estimator(est_, M(params_.get(), cellsense_py::load_ecm_noise<typename M::Noise>(noise)),
                                 config, filter_config, x0, p0, typename M::Aux{static_cast<T>(hysteresis_sign)});
    // Stuck-voltage threshold: the core's rule (estimator/stuck_voltage.hpp).
    stuck_step_A_ = stuck_current_step_A(*params_);
    stuck_charge_ = cellsense::stuck_charge_rule(*params_);
  }

  py::tuple step(double dt_s, double current_A, double voltage_V, double temperature_degC) {
    const auto r = est_.step(static_cast<T>(dt_s), static_cast<T>(current_A), static_cast<T>(voltage_V),
                             static_cast<T>(temperature_degC));
    return py::make_tuple(static_cast<int>(r.status), static_cast<double>(r.soc), static_cast<double>(r.soc_sigma),
                          static_cast<double>(r.voltage_pred_V), static_cast<double>(r.innovation_V),
                          static_cast<double>(r.innovation_variance_V2), static_cast<double>(r.nis));
  }

  /// Whole log: the loop runs in C++ with the GIL released (cellsense_py::run_log). dt[k] =
  /// time[k] - time[k-1]; the very first sample of the estimator's life only sets the clock
  /// (status kStatusInitial, "initial").
  py::dict run(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC) {
    const cellsense_py::LogInputs in = cellsense_py::log_inputs(time_s, current_A, voltage_V, temperature_degC);
    const cellsense_py::RunColumns out(in.n, {CELLSENSE_PY_REPORT_COLUMNS});
    cellsense_py::run_log(
        in, clock_, out.status(),
        [&](py::ssize_t k) {
          out.put_initial(k, est_.soc(), est_.soc_sigma());
          record(k);
        },
        [&](py::ssize_t k, double dt) {
          const auto r = est_.step(static_cast<T>(dt), static_cast<T>(in.current_A[k]), static_cast<T>(in.voltage_V[k]),
                                   static_cast<T>(in.temperature_degC[k]));
          out.put_report(k, r);
          gap_.after_step(est_, dt, in.current_A[k], static_cast<std::uint8_t>(r.status),
                          static_cast<double>(params_->capacity_Ah), &out[1][k]);
          record(k);
          return static_cast<std::uint8_t>(r.status);
        },
        [&](py::ssize_t, double gap_s) { widen_for_gap(gap_s); }, StuckHook{this, &in, &out});
    return out.dict();
  }

  /// run_log's stuck-voltage hook: the sample is stepped without its voltage (the core's
  /// Estimator::predict_only: the charge is counted, the covariance grows, the stuck reading is not fused;
  /// a guard's rejection (dt, ranges) is returned as is).
  struct StuckHook {
    PyEstimator* self;
    const cellsense_py::LogInputs* in;
    const cellsense_py::RunColumns* out;
    double current_step_A() const { return self->stuck_step_A_; }
    const cellsense::StuckCharge& charge_rule() const { return self->stuck_charge_; }
    std::uint8_t operator()(py::ssize_t k, double dt) const { return self->predict_only(*in, *out, k, dt); }
  };
  std::uint8_t predict_only(const cellsense_py::LogInputs& in, const cellsense_py::RunColumns& out, py::ssize_t k,
                            double dt) {
    const auto r = est_.predict_only(static_cast<T>(dt), static_cast<T>(in.current_A[k]),
                                     static_cast<T>(in.voltage_V[k]), static_cast<T>(in.temperature_degC[k]));
    out.put_report(k, r);
    record(k);
    const std::uint8_t st = is_rejected(r.status) ? static_cast<std::uint8_t>(r.status) : cellsense_py::kStatusVoltageStuck;
    gap_.after_step(est_, dt, in.current_A[k], st, static_cast<double>(params_->capacity_Ah));
    if (is_rejected(r.status)) { return st; }
    stuck_samples_ += 1;
    return cellsense_py::kStatusVoltageStuck;
  }
  int stuck_samples() const { return stuck_samples_; }

  // ---- state of power and energy (power/power_limits.hpp, docs/power.md) ---------------------------
  /// run_power()'s per-sample output (power_columns.hpp, shared with the SOH estimator's binding): the limits
  /// of the state after sample k for every horizon, computed from the live estimator as the whole-log loop
  /// leaves each sample (no-op outside run_power()).
  void record(py::ssize_t k) {
    if (power_ != nullptr) { power_->record(est_, k); }
  }
  /// Limits of the present state (ValueError naming the status when refused).
  py::dict power_limits(double temperature_degC, const py::dict& cfg) const {
    return cellsense_py::present_power_limits<T>(est_, temperature_degC, cfg);
  }
  py::dict energy(double temperature_degC, double power_W, double voltage_min_V, double soc_min, double soc_sigma_k) const {
    return cellsense_py::present_energy<T>(est_, temperature_degC, power_W, voltage_min_V, soc_min, soc_sigma_k);
  }
  py::tuple time_to_full(double charge_current_A, double soc_max) const {
    return cellsense_py::present_time_to_full<T>(est_, charge_current_A, soc_max);
  }
  /// run() plus, after every sample, the limits of the state for each horizon (cfg: PowerConfig fields;
  /// its horizon_s is replaced by each of `horizons_s`). Extra columns: <name>[k, j] for sample k, horizon j;
  /// NaN where the sample's temperature is not finite (or the calculation was refused).
  py::dict run_power(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC,
                     const Arr& horizons_s, const py::dict& cfg) {
    return cellsense_py::run_power_columns<T>(power_, time_s, current_A, voltage_V, temperature_degC, horizons_s, cfg,
                                              [this](const Arr& t, const Arr& i, const Arr& v, const Arr& T_degC) {
                                                return run(t, i, v, T_degC);
                                              });
  }
  double stuck_step_A() const { return stuck_step_A_; }
  double stuck_charge_Ah() const { return stuck_charge_.charge_Ah; }

  /// Logger gap (run_log's gap hook): the core's rule (estimator/gap_widening.hpp) widens the SOC variance
  /// for the unlogged interval from the recent mean |current| it tracks over the stepped samples.
  void track_current(double dt, double current_A) { gap_.track(dt, current_A); }
  void widen_for_gap(double gap_s) { gap_.widen(est_, gap_s, static_cast<double>(params_->capacity_Ah)); }
  int gaps_widened() const { return gap_.widened; }
  int lost_charge_widened() const { return gap_.lost_widened; }

  py::array_t<double> state() const { return cellsense_py::to_numpy_vector(est_.state()); }
  py::array_t<double> covariance() const { return cellsense_py::to_numpy_matrix(est_.covariance()); }
  /// Raw bytes of state + covariance: for bit-for-bit comparisons in tests.
  py::bytes state_bytes() const { return cellsense_py::raw_bytes(est_.state(), est_.covariance()); }
  double hysteresis_sign() const { return static_cast<double>(est_.aux().current_sign); }
  bool set_state(const Arr& x, const Arr& p, double hysteresis_sign) {
    typename M::State xs;
    typename M::Cov cs;
    cellsense_py::from_numpy_vector(x, xs);
    cellsense_py::from_numpy_matrix(p, cs);
    return est_.set_state(xs, cs, typename M::Aux{static_cast<T>(hysteresis_sign)});
  }
  /// The current sensor's consider sensitivities (offset per A, gain per unit): EstimatorConfig::current_offset_sigma_A.
  py::tuple consider() const { return cellsense_py::consider_of(est_); }
  bool set_consider(const Arr& offset, const Arr& gain) { return cellsense_py::set_consider_of(est_, offset, gain); }
  py::object last_time() const { return clock_.get(); }
  void set_last_time(const py::object& t) { clock_.set(t); }
  double soc() const { return static_cast<double>(est_.soc()); }
  double soc_sigma() const { return static_cast<double>(est_.soc_sigma()); }

 private:
  std::unique_ptr<P> params_;  // the core keeps a pointer to it: must outlive est_
  E est_{};
  cellsense_py::RunClock clock_{};
  cellsense_py::GapHook gap_{};   ///< logger gaps: the core's rule and the count of widened gaps
  double stuck_step_A_ = 0;      ///< current step that must move the voltage (A); infinite: no detection
  cellsense::StuckCharge stuck_charge_;  ///< the stuck-voltage charge rule's settings (stuck_charge_rule)
  const cellsense_py::PowerColumns<T>* power_ = nullptr;   ///< set while run_power() runs
  int stuck_samples_ = 0;
};

template <class E>
void bind(py::module_& m, const char* name) {
  using PE = PyEstimator<E>;
  py::class_<PE>(m, name)
      .def(py::init<const py::dict&, const py::dict&, const py::dict&, const py::dict&, const typename PE::Arr&,
                    const typename PE::Arr&, double>(),
           py::arg("params"), py::arg("config"), py::arg("noise"), py::arg("filter_config"), py::arg("x0"),
           py::arg("p0"), py::arg("hysteresis_sign") = 0.0)
      .def("step", &PE::step, py::arg("dt_s"), py::arg("current_A"), py::arg("voltage_V"), py::arg("temperature_degC"))
      .def("run", &PE::run, py::arg("time_s"), py::arg("current_A"), py::arg("voltage_V"), py::arg("temperature_degC"))
      .def("state", &PE::state)
      .def("covariance", &PE::covariance)
      .def("state_bytes", &PE::state_bytes)
      .def("set_state", &PE::set_state, py::arg("x"), py::arg("p"), py::arg("hysteresis_sign"))
      .def_property_readonly("hysteresis_sign", &PE::hysteresis_sign)
      .def("consider", &PE::consider)
      .def("set_consider", &PE::set_consider, py::arg("offset"), py::arg("gain"))
      .def_property("last_time_s", &PE::last_time, &PE::set_last_time)
      .def_property_readonly("soc", &PE::soc)
      .def_property_readonly("soc_sigma", &PE::soc_sigma)
      .def_property_readonly("gaps_widened", &PE::gaps_widened)
      .def_property_readonly("lost_charge_widened", &PE::lost_charge_widened)
      .def_property_readonly("stuck_samples", &PE::stuck_samples)
      .def_property_readonly("stuck_step_A", &PE::stuck_step_A)
      .def_property_readonly("stuck_charge_Ah", &PE::stuck_charge_Ah)
      .def("power_limits", &PE::power_limits, py::arg("temperature_degC"), py::arg("config"))
      .def("energy", &PE::energy, py::arg("temperature_degC"), py::arg("power_W"), py::arg("voltage_min_V"),
           py::arg("soc_min"), py::arg("soc_sigma_k"))
      .def("time_to_full", &PE::time_to_full, py::arg("charge_current_A"), py::arg("soc_max"))
      .def("run_power", &PE::run_power, py::arg("time_s"), py::arg("current_A"), py::arg("voltage_V"),
           py::arg("temperature_degC"), py::arg("horizons_s"), py::arg("config"))
      .def_static("restored_state_issue", [](const typename PE::Arr& x, double hysteresis_sign) -> py::object {
        // The core's rule for a restored state's values (model/ecm_state_check.hpp), in double.
        math::Matrix<double, PE::N, 1> v{};
        cellsense_py::from_numpy_vector(x, v);
        int where = -1;
        const auto issue = model::check_restored_state<typename E::Model>(v, hysteresis_sign, where);
        if (issue == model::RestoredStateIssue::kOk) { return py::none(); }
        return py::make_tuple(where, model::restored_state_message(issue));
      }, py::arg("x"), py::arg("hysteresis_sign"),
         "None if the state's RC voltages, hysteresis state and sign pass the core's restore rule, else "
         "(state index or -1 for the sign, message) of the first that does not (model/ecm_state_check.hpp).")
      .def_static("restored_covariance_issue", [](const typename PE::Arr& p) -> py::object {
        // The core's ceilings on a restored covariance's variances (model/ecm_state_check.hpp), in double.
        math::Matrix<double, PE::N, PE::N> m{};
        cellsense_py::from_numpy_matrix(p, m);
        int where = -1;
        const auto issue = model::check_restored_covariance<typename E::Model>(m, where);
        if (issue == model::RestoredStateIssue::kOk) { return py::none(); }
        return py::make_tuple(where, model::restored_state_message(issue));
      }, py::arg("P"),
         "None if every variance of P passes the core's restore ceilings, else (state index, message) of the "
         "first that does not (model/ecm_state_check.hpp).")
      .def_property_readonly_static("n_states", [](py::object) { return PE::N; })
      // the MCU build's size: the C API's estimators carry no consider sensitivities (estimator.hpp kConsider)
      .def_property_readonly_static("sizeof_estimator", [](py::object) { return sizeof(typename E::Plain); });
}

template <typename T, int NRC>
void bind_rc(py::module_& m, const std::string& suffix) {
  bind<Estimator<model::EcmModel<T, NRC>, filter::Ekf, true>>(m, ("EcmEkf" + std::to_string(NRC) + suffix).c_str());
  bind<Estimator<model::EcmModel<T, NRC>, filter::Ukf, true>>(m, ("EcmUkf" + std::to_string(NRC) + suffix).c_str());
}

}  // namespace

/// The core's stuck-voltage charge threshold (stuck_charge_Ah) for a parameter dict with NRC pairs.
template <int NRC>
double stuck_charge_threshold_Ah(const py::dict& params, double min_move_V) {
  auto p = std::make_unique<model::EcmParams<double, NRC>>();  // tens of kB: not on the stack
  cellsense_py::load_ecm_params(*p, params);
  return cellsense::stuck_charge_Ah(*p, min_move_V);
}

// Other parts of the core, each in its own binding file.
void bind_pack(py::module_& m);
void bind_soh(py::module_& m);
void bind_spme(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "cellsense core (private): use the cellsense package API instead";
  bind_rc<double, 1>(m, "_f64");
  bind_rc<double, 2>(m, "_f64");
  bind_rc<double, 3>(m, "_f64");
  bind_rc<float, 1>(m, "_f32");
  bind_rc<float, 2>(m, "_f32");
  bind_rc<float, 3>(m, "_f32");
  // The one status code space (estimator/status.hpp): code -> name, from the core's table.
  m.def("status_names", [] {
    py::dict names;
    for (std::uint8_t code : kStatusCodes) { names[py::int_(code)] = status_name(code); }
    return names;
  }, "Status code -> name for every code of the core's status code space (estimator/status.hpp).");
  m.def("pack_event_names", [] {
    py::dict names;
    for (std::uint8_t code : pack::kEventCodes) { names[py::int_(code)] = pack::event_name(code); }
    return names;
  }, "Pack event code -> name (pack/pack.hpp).");
  m.def("status_name", [](int code) { return code < 0 || code > 255 ? "unknown" : status_name(static_cast<std::uint8_t>(code)); },
        py::arg("code"),
        "The core's name of one status code ('unknown' outside the space).");
  // The stuck-voltage charge rule's threshold (estimator/stuck_voltage.hpp, CS-CLK-010) for a cell's parameters
  // and a least OCV move: the pack replay's check (cellsense.replay.stuck) asks the core, as the estimator does.
  m.def("stuck_charge_Ah", [](const py::dict& params, double min_move_V) {
    const std::size_t nrc = params["rc_r_Ohm"].cast<py::list>().size();
    if (nrc == 1) { return stuck_charge_threshold_Ah<1>(params, min_move_V); }
    if (nrc == 2) { return stuck_charge_threshold_Ah<2>(params, min_move_V); }
    if (nrc == 3) { return stuck_charge_threshold_Ah<3>(params, min_move_V); }
    throw py::value_error("rc_r_Ohm: need 1..3 RC pairs");
  }, py::arg("params"), py::arg("min_move_V"),
        "The least charge (A h, at the parameters' capacity) that moves the cell's OCV by min_move_V anywhere on its "
        "table at any temperature row (the core's stuck_charge_Ah; +inf when no charge within the table is enough).");
  m.attr("STATUS_NAMES") = m.attr("status_names")();
  m.attr("STATE_V_RC_MAX_V") = model::kRestoredVRcMax_V;  // bound of a restored RC voltage (V)
  // The state-of-power settings rule (power::PowerConfig::check), for cellsense.power.PowerSettings.
  m.def("power_config_issue", [](const py::dict& cfg) -> py::object {
    const power::PowerConfigIssue i = cellsense_py::load_power_config<double>(cfg).check();
    if (i == power::PowerConfigIssue::kOk) { return py::none(); }
    return py::make_tuple(static_cast<int>(i), power::power_config_field(i), power::power_config_message(i));
  }, py::arg("config"),
        "None if the power settings (PowerConfig fields; missing ones take the core's defaults) pass the core's "
        "check, else (code, field, message) of the first one out of range (power/power_limits.hpp).");
  // The estimator settings rule (EstimatorConfig::check) and defaults, for cellsense.estimators.settings.
  m.def("estimator_config_issue", [](const py::dict& cfg) -> py::object {
    const EstimatorConfigIssue i = cellsense_py::load_estimator_config<double>(cfg, true).check();
    if (i == EstimatorConfigIssue::kOk) { return py::none(); }
    return py::make_tuple(static_cast<int>(i), estimator_config_field(i), estimator_config_message(i));
  }, py::arg("config"),
        "None if the estimator settings (EstimatorConfig fields; missing ones take the core's defaults) pass the "
        "core's check, else (code, field, message) of the first one out of range (estimator/estimator.hpp).");
  m.def("estimator_config_defaults", [] {
    const EstimatorConfig<double> c{};
    py::dict d;
    d["dt_max_s"] = c.dt_max_s;
    d["soc_min"] = c.soc_min;
    d["soc_max"] = c.soc_max;
    d["voltage_sigma_V"] = c.voltage_sigma_V;
    d["gate_nis"] = c.gate_nis;
    d["model_error_current_A"] = c.model_error_current_A;
    d["model_error_relative"] = c.model_error_relative;
    d["model_error_correlation_s"] = c.model_error_correlation_s;
    d["dt_max_rest_s"] = c.dt_max_rest_s;
    d["model_error_voltage_V"] = c.model_error_voltage_V;
    d["current_offset_sigma_A"] = c.current_offset_sigma_A;
    d["current_gain_sigma"] = c.current_gain_sigma;
    d["gate_predict_only"] = c.gate_policy == GatePolicy::kPredictOnly;
    d["gate_timeout_steps"] = static_cast<int>(c.gate_timeout_steps);
    return d;
  }, "The core's default EstimatorConfig (estimator/estimator.hpp), keyed as estimator_config_issue's dict: "
     "the one home of these defaults (the C API's cs_config_default() copies them too).");
  // The ECM's parameters by name (model/ecm_params_table.hpp): (name, unit, kind) per EcmParams member in
  // member order; the parameter dict's keys, the C struct's fields (tests/python/cells/test_ecm_params_table.py).
  {
    py::list rows;
    for (const model::EcmParamInfo& f : model::kEcmParams) {
      rows.append(py::make_tuple(f.name, f.unit, model::ecm_param_kind_name(f.kind)));
    }
    m.attr("ECM_PARAMETERS") = py::tuple(rows);
  }
  m.attr("STATUS_INITIAL") = kStatusInitial;
  m.attr("STATUS_CLOCK_REANCHORED") = kStatusClockReanchored;
  m.attr("CLOCK_REANCHOR_AFTER") = LogClock<double>::kReanchorAfter;
  m.attr("LIMITED_BY_NOT_COMPUTED") = cellsense_py::kLimitedByNotComputed;  // run_power: limits not computed
  // The log clock over a whole time column (estimator/log_clock.hpp), for the pack path and the replay link.
  m.def("log_clock", [](const cellsense_py::Arr& time_s) {
    if (time_s.ndim() != 1) { throw py::value_error("log_clock(): time_s must be 1-D"); }
    const py::ssize_t n = time_s.shape(0);
    py::array_t<double> dt(n);
    py::array_t<std::uint8_t> action(n), status(n);
    const double* t = time_s.data();
    double* o_dt = dt.mutable_data();
    std::uint8_t* o_act = action.mutable_data();
    std::uint8_t* o_st = status.mutable_data();
    {
      py::gil_scoped_release release;
      LogClock<double> clock;
      for (py::ssize_t k = 0; k < n; ++k) {
        const ClockTick<double> tick = clock.tick(t[k]);
        o_dt[k] = tick.encoded_dt_s();
        o_act[k] = static_cast<std::uint8_t>(tick.action);
        o_st[k] = tick.steps() ? std::uint8_t{0} : tick.no_step_status();
      }
    }
    py::dict out;
    out["dt_s"] = dt;
    out["action"] = action;
    out["status"] = status;
    return out;
  }, py::arg("time_s"),
        "The core's log clock over a time column: dt_s (NaN: no step; +inf: a step on a non-finite time), "
        "action (ClockAction: 0 start, 1 step, 2 re-anchor, 3 non-finite before the start) and, where no step, "
        "its status (0 where stepped). The gap hand-over of LogClock::stepped() is not applied (a pack handles "
        "gaps itself).");
  m.attr("CLOCK_ACTION_START") = static_cast<int>(ClockAction::kStart);
  m.attr("CLOCK_ACTION_STEP") = static_cast<int>(ClockAction::kStep);
  m.attr("CLOCK_ACTION_REANCHOR") = static_cast<int>(ClockAction::kReanchor);
  m.attr("CLOCK_ACTION_NONFINITE_BEFORE_START") = static_cast<int>(ClockAction::kNonFiniteBeforeStart);
  m.attr("STATUS_VOLTAGE_STUCK") = kStatusVoltageStuck;
  m.attr("STUCK_MIN_SAMPLES") = cellsense_py::kStuckMinSamples;
  m.attr("STUCK_MIN_STEP_V") = cellsense_py::kStuckMinStep_V;
  bind_pack(m);
  bind_soh(m);
  bind_spme(m);
  m.def("exp_f32", [](float x) { return math::exp(x); }, "The core's float exp (for tests).");
  m.def("exp_f64", [](double x) { return math::exp(x); }, "The core's double exp (for tests).");
}
