// SPDX-License-Identifier: Apache-2.0
// Pack estimation: one ECM estimator per series element (a cell, or a parallel group of cells),
// all sharing ONE const parameter set, plus the pack's usable SOC and its imbalance.
// docs/pack-file.md describes the pack; docs/replay.md the harness that replays logs through it.
//
// Sized at build time: PackEstimator<Model, Filter, MaxCells> holds MaxCells estimators by value
// (no heap); a run may use fewer (n_cells <= MaxCells), so one host build serves every pack and a
// firmware sets MaxCells to its pack exactly.
//
// Per-cell spread without per-cell tables. Cell k differs from the shared parameters by a
// capacity scale c_k and a resistance scale r_k (all resistances: R0 and every R_j). ScaledCellModel
// feeds the shared model the current r_k i, which scales every resistive voltage term exactly
// (R0 r_k i, R_j (1 - a_j) r_k i), and corrects the three places where the current enters
// otherwise:
//   SOC gain:    soc_gain' = soc_gain / (c_k r_k), so soc_gain' (r_k i) = eta dt i / (3600 c_k Q)
//   hysteresis:  A_h = exp(-|i| gamma eta dt / (3600 c_k Q)) and the sign s from the true |i|
//   current noise: sigma_i' = r_k sigma_i, so b' b'^T sigma_i'^2 = b b^T sigma_i^2 for the true
//                  input gain b = [-soc_gain / c_k, R_j (1 - a_j) r_k, 0]
// (Plett 2004 "Part 2" eqs. 1-5 with Q -> c_k Q and R -> r_k R.) With c_k = r_k = 1 nothing is
// touched: the cell is bit for bit the plain Estimator.
//
// Pack SOC (series string; Plett, "Battery Management Systems, Vol. II", Artech House 2016,
// sec. 4.11 "pack SOC"): with cell SOC z_k in the window [z_lo, z_hi] and capacity Q_k,
//   dischargeable D = min_k (z_k - z_lo) Q_k  (A h; the first cell to reach empty ends discharge)
//   chargeable    C = min_k (z_hi - z_k) Q_k  (A h; the first cell to reach full ends charge)
//   usable SOC    = D / (D + C),  usable capacity D + C (A h)
// (each term floored at 0). Imbalance is max_k z_k - min_k z_k. These use the SOC means: the
// SOC uncertainty is reported per cell (soc_sigma), not folded into the pack figures.
//
// Time gaps (logger or vehicle off). A step whose dt exceeds GapConfig::gap_s is not integrated as
// one long step. Policy kRest: the gap is a rest (zero current): per cell, the RC voltages decay
// exactly, x' = F(dt, i = 0) x, SOC and hysteresis stay (A_h = 1 at i = 0), and the covariance
// grows by the random walks only, P' = F P F^T + diag(q^2) dt, each variance capped at its ceiling
// (the initial variance; for SOC the "unknown" variance (z_hi - z_lo)^2 / 12): the current-noise
// term b b^T sigma_i^2 of a normal step is left out because no current flowed. Policy kReinit (and
// kRest when the gap exceeds GapConfig::reinit_after_s): every cell restarts from OCV^-1 of its
// voltage at the gap's end (the cell has rested), with the initial covariance. Either way the
// sample's voltage is not fused (its status says which); the next sample continues normally.
//
// SOH hook: capacity_Ah(k) is the ONE place the pack reads a cell's capacity, and
// set_capacity_scale(k, c) changes it while keeping the cell's state; when the SOH estimator
// (cellsense/soh/) lands, it feeds its per-cell capacity through set_capacity_scale().
#pragma once

#include <cstdint>

#include "cellsense/estimator/estimator.hpp"
#include "cellsense/estimator/status.hpp"
#include "cellsense/math/exp.hpp"
#include "cellsense/math/matrix.hpp"
#include "cellsense/math/table.hpp"

namespace cellsense {
namespace pack {

/// How one cell differs from the shared parameter set.
template <typename T>
struct CellVariation {
  T capacity_scale = T(1);    ///< Q_k / Q (1), > 0
  T resistance_scale = T(1);  ///< R_k / R for R0 and every R_j (1), > 0
};

/// The shared ECM with one cell's capacity and resistance scales (see the header comment).
template <class Base>
class ScaledCellModel : public Base {
 public:
  using T = typename Base::Scalar;
  using Params = typename Base::Params;
  using Noise = typename Base::Noise;
  using State = typename Base::State;
  using Aux = typename Base::Aux;
  using Step = typename Base::Step;

  ScaledCellModel() = default;
  ScaledCellModel(const Params* params, const Noise& noise, const CellVariation<T>& v)
      : Base(params, scaled_noise(noise, v)), variation_(v) {
    // Exact 1.0 on both: the plain model's arithmetic, untouched (no -Wfloat-equal: ordered tests).
    scaled_ = v.capacity_scale < T(1) || v.capacity_scale > T(1) || v.resistance_scale < T(1) ||
              v.resistance_scale > T(1);
    inv_capacity_scale_ = T(1) / v.capacity_scale;
    inv_resistance_scale_ = T(1) / v.resistance_scale;
  }

  const CellVariation<T>& variation() const { return variation_; }
  /// This cell's capacity (A h): the shared capacity times its scale.
  T capacity_Ah() const { return this->params().capacity_Ah * variation_.capacity_scale; }

  Step prepare(const State& x_prior, const Aux& aux, T dt_s, T current_A, T temperature_degC) const {
    if (!scaled_) { return Base::prepare(x_prior, aux, dt_s, current_A, temperature_degC); }
    Step s = Base::prepare_horizon(x_prior, dt_s, temperature_degC);
    set_step_current(s, aux, current_A);
    return s;
  }

  /// The current-dependent part of prepare() (Base::set_step_current with this cell's scales).
  void set_step_current(Step& s, const Aux& aux, T current_A) const {
    if (!scaled_) {
      Base::set_step_current(s, aux, current_A);
      return;
    }
    Base::set_step_current(s, aux, current_A * variation_.resistance_scale);
    const Params& p = this->params();
    const T gain = s.soc_gain * inv_capacity_scale_;   // eta dt / (3600 c Q)
    s.soc_gain = gain * inv_resistance_scale_;         // applied to the scaled current r i
    const T abs_i = current_A < T(0) ? -current_A : current_A;
    s.a_h = math::exp(-(abs_i * p.hysteresis_rate * gain));  // A_h with the true current
    const T sgn_i = current_A > T(0) ? T(1) : (current_A < T(0) ? T(-1) : T(0));
    s.u_h = -(T(1) - s.a_h) * sgn_i;
    s.sign = abs_i > p.sign_deadband_A ? sgn_i : aux.current_sign;
    s.current_A = current_A * variation_.resistance_scale;
  }

 private:
  static Noise scaled_noise(Noise n, const CellVariation<T>& v) {
    n.current_sigma_A = n.current_sigma_A * v.resistance_scale;
    return n;
  }
  CellVariation<T> variation_{};
  T inv_capacity_scale_ = T(1);
  T inv_resistance_scale_ = T(1);
  bool scaled_ = false;
};

/// What happened to the pack in one step.
enum class PackEvent : std::uint8_t {
  kStep = 0,    ///< every cell stepped (each cell's own status says fused / rejected)
  kRest = 1,    ///< gap: rest propagation, voltage not fused
  kReinit = 2,  ///< gap: every cell restarted from OCV^-1(voltage)
};

/// The pack's event byte (the event column of a pack run and of the replay link): a PackEvent, or one
/// of the whole-log loop's samples without a pack step (estimator/log_clock.hpp). Never renumber.
constexpr std::uint8_t kEventClockReanchored = 3;  ///< the log clock re-anchored on this sample: no step
constexpr std::uint8_t kEventInitial = 255;        ///< the first sample of a log: sets the clock, no step

/// Every pack event code, ascending.
constexpr std::uint8_t kEventCodes[] = {0, 1, 2, kEventClockReanchored, kEventInitial};
constexpr int kEventCodeCount = static_cast<int>(sizeof(kEventCodes) / sizeof(kEventCodes[0]));

/// Short, stable identifier of a pack event code; "unknown" for a byte outside the space.
constexpr const char* event_name(std::uint8_t code) {
  switch (code) {
    case static_cast<std::uint8_t>(PackEvent::kStep): return "step";
    case static_cast<std::uint8_t>(PackEvent::kRest): return "rest";
    case static_cast<std::uint8_t>(PackEvent::kReinit): return "reinit";
    case kEventClockReanchored: return "clock_reanchored";
    case kEventInitial: return "initial";
    default: return "unknown";
  }
}

/// Per-cell status codes beyond StepStatus: the pack's codes of the one status code space
/// (estimator/status.hpp, which names them).
constexpr std::uint8_t kCellStatusRest = kStatusRest;                  ///< rest propagation over a gap
constexpr std::uint8_t kCellStatusReinit = kStatusReinit;              ///< restarted from OCV after a gap
constexpr std::uint8_t kCellStatusReinitFailed = kStatusReinitFailed;  ///< restart refused (voltage not finite): state kept

enum class GapPolicy : std::uint8_t { kRest = 0, kReinit = 1 };

/// Gap handling (see the header comment).
template <typename T>
struct GapConfig {
  GapPolicy policy = GapPolicy::kRest;
  T gap_s = T(30);              ///< a step longer than this is a gap (s); must be <= dt_max_s
  T reinit_after_s = T(3600);   ///< kRest: gaps longer than this re-initialise from OCV (s)
};

/// The gap settings a pack uses with an estimator whose dt_max_s is `dt_max_s` (the rule every caller applies
/// before init, which refuses the others): gap_s at most dt_max_s, since a step the estimator would refuse as
/// too long is a gap, and reinit_after_s at least that gap_s. The policy is kept.
template <typename T>
GapConfig<T> gap_within(const GapConfig<T>& g, T dt_max_s) {
  GapConfig<T> out = g;
  if (dt_max_s < out.gap_s) { out.gap_s = dt_max_s; }
  if (out.reinit_after_s < out.gap_s) { out.reinit_after_s = out.gap_s; }
  return out;
}

/// One cell's outcome of a pack step (what the HIL link carries per cell).
template <typename T>
struct CellReport {
  std::uint8_t status;  ///< StepStatus code, or kCellStatus*
  T soc;                ///< SOC after the step (1)
  T soc_sigma;          ///< its standard deviation (1)
};

/// The pack after a step.
template <typename T>
struct PackSummary {
  PackEvent event;
  std::uint16_t n_rejected;   ///< cells whose step was rejected (state unchanged)
  std::uint16_t index_min;    ///< cell with the lowest SOC
  std::uint16_t index_max;    ///< cell with the highest SOC
  T soc_min;                  ///< (1)
  T soc_max;                  ///< (1)
  T soc_mean;                 ///< (1)
  T imbalance;                ///< soc_max - soc_min (1)
  T dischargeable_Ah;         ///< D = min_k (z_k - z_lo) Q_k (A h)
  T chargeable_Ah;            ///< C = min_k (z_hi - z_k) Q_k (A h)
  T usable_soc;               ///< D / (D + C) (1); 0 when D + C = 0
};

/// Everything a pack needs besides the parameters and the per-cell variations.
template <class CellEstimator>
struct PackConfig {
  using T = typename CellEstimator::T;
  using Model = typename CellEstimator::Model;
  EstimatorConfig<T> estimator{};
  typename CellEstimator::FilterConfig filter{};
  typename Model::Noise noise{};
  T initial_soc_sigma = T(0.25);      ///< (1)
  T initial_v_rc_sigma_V = T(0.02);   ///< (V)
  T initial_hysteresis = T(0);        ///< (1)
  T initial_hysteresis_sigma = T(0.5);///< (1)
  T usable_soc_low = T(0);            ///< z_lo of the usable window (1)
  T usable_soc_high = T(1);           ///< z_hi of the usable window (1)
  GapConfig<T> gap{};
};

/// N series elements, each its own estimator over the shared parameters.
template <class BaseModel, template <class> class FilterT, int MaxCells>
class PackEstimator {
 public:
  static_assert(MaxCells >= 1 && MaxCells <= 1024, "MaxCells must be in [1, 1024]");
  using Model = ScaledCellModel<BaseModel>;
  using CellEstimator = Estimator<Model, FilterT>;
  using T = typename Model::T;
  using Params = typename Model::Params;
  using State = typename Model::State;
  using Cov = typename Model::Cov;
  using Idx = typename Model::Idx;
  using Config = PackConfig<CellEstimator>;
  static constexpr int kMaxCells = MaxCells;
  static constexpr int N = Model::kStates;

  /// Set up n_cells estimators over `params` (validated by the caller: model::validate), cell k
  /// with variations[k] (NULL: all 1) and initial SOC initial_soc[k]. On failure the pack is not
  /// initialised (step() answers kNotInitialised for every cell) and the failing cell is in *bad_cell.
  InitStatus init(const Params* params, int n_cells, const CellVariation<T>* variations, const T* initial_soc,
                  const Config& config, int* bad_cell = nullptr) {
    n_cells_ = 0;
    if (params == nullptr || initial_soc == nullptr || n_cells < 1 || n_cells > MaxCells) {
      return InitStatus::kBadConfig;
    }
    if (!(config.usable_soc_low < config.usable_soc_high) || !math::is_finite(config.usable_soc_low) ||
        !math::is_finite(config.usable_soc_high) || !(config.gap.gap_s > T(0)) ||
        !(config.gap.gap_s <= config.estimator.dt_max_s) || !(config.gap.reinit_after_s >= config.gap.gap_s)) {
      return InitStatus::kBadConfig;
    }
    params_ = params;
    config_ = config;
    for (int k = 0; k < n_cells; ++k) {
      const CellVariation<T> v = variations != nullptr ? variations[k] : CellVariation<T>{};
      if (!(v.capacity_scale > T(0)) || !(v.resistance_scale > T(0)) || !math::is_finite(v.capacity_scale) ||
          !math::is_finite(v.resistance_scale)) {
        if (bad_cell != nullptr) { *bad_cell = k; }
        return InitStatus::kBadConfig;
      }
      State x;
      Cov p;
      Model::initial(initial_soc[k], config.initial_soc_sigma, config.initial_v_rc_sigma_V,
                     config.initial_hysteresis, config.initial_hysteresis_sigma, x, p);
      const InitStatus s = cells_[k].init(Model(params, config.noise, v), config.estimator, config.filter, x, p,
                                          typename Model::Aux{T(0)});
      if (s != InitStatus::kOk) {
        if (bad_cell != nullptr) { *bad_cell = k; }
        return s;
      }
    }
    n_cells_ = n_cells;
    return InitStatus::kOk;
  }

  int n_cells() const { return n_cells_; }
  bool initialised() const { return n_cells_ > 0; }
  const CellEstimator& cell(int k) const { return cells_[k]; }
  const Config& config() const { return config_; }

  /// Cell k's capacity (A h): the SOH hook (see the header comment).
  T capacity_Ah(int k) const { return cells_[k].model().capacity_Ah(); }

  /// Change cell k's capacity scale, keeping its state and covariance. False (nothing changed) on
  /// a bad index, a non-positive scale, or an uninitialised pack.
  bool set_capacity_scale(int k, T capacity_scale) {
    if (k < 0 || k >= n_cells_ || !(capacity_scale > T(0)) || !math::is_finite(capacity_scale)) { return false; }
    CellEstimator& e = cells_[k];
    CellVariation<T> v = e.model().variation();
    v.capacity_scale = capacity_scale;
    const State x = e.state();
    const Cov p = e.covariance();
    const typename Model::Aux aux = e.aux();
    CellEstimator fresh;
    // Accepted whenever the cell was: the same configuration, and the state and covariance the cell holds
    // (in bounds and SPD after every step); Estimator::init does not look at the model. Checked all the same.
    const bool ok =
        fresh.init(Model(params_, config_.noise, v), config_.estimator, config_.filter, x, p, aux) == InitStatus::kOk;
    if (ok) { e = fresh; }
    return ok;
  }

  /// One sample for the whole pack: dt since the previous sample (s), the pack current held over it
  /// (A, + = discharge; the current of each series element), every cell's voltage (V) and
  /// temperature (degC) at its end. Fills cells_out[0 .. n_cells) if not NULL.
  PackSummary<T> step(T dt_s, T current_A, const T* voltage_V, const T* temperature_degC, CellReport<T>* cells_out) {
    PackSummary<T> sum{};
    sum.event = PackEvent::kStep;
    if (n_cells_ == 0 || voltage_V == nullptr || temperature_degC == nullptr) {
      for (int k = 0; k < n_cells_ && cells_out != nullptr; ++k) {
        cells_out[k] = CellReport<T>{static_cast<std::uint8_t>(StepStatus::kNotInitialised), T(0), T(0)};
      }
      sum.n_rejected = static_cast<std::uint16_t>(n_cells_);
      summarise(sum);
      return sum;
    }
    if (math::is_finite(dt_s) && dt_s > config_.gap.gap_s) {
      const bool reinit = config_.gap.policy == GapPolicy::kReinit || dt_s > config_.gap.reinit_after_s;
      sum.event = reinit ? PackEvent::kReinit : PackEvent::kRest;
      for (int k = 0; k < n_cells_; ++k) {
        std::uint8_t st = kCellStatusRest;
        if (reinit) {
          st = reinit_cell(k, voltage_V[k], temperature_degC[k]) ? kCellStatusReinit : kCellStatusReinitFailed;
        } else {
          rest_cell(k, dt_s, temperature_degC[k]);
        }
        if (cells_out != nullptr) { cells_out[k] = CellReport<T>{st, cells_[k].soc(), cells_[k].soc_sigma()}; }
      }
      summarise(sum);
      return sum;
    }
    std::uint16_t rejected = 0;
    const T v_mid = (params_->voltage_min_V + params_->voltage_max_V) / T(2);  // a dropped reading's stand-in (below)
    for (int k = 0; k < n_cells_; ++k) {
      // A dropped voltage reading (non-finite: a stale CAN signal, a stuck span the replay dropped) with the string's
      // current and the cell's temperature usable: the cell's charge is counted without the reading (predict only,
      // Estimator::predict_only, whose voltage guard is given the middle of the plausible range; the reading itself
      // is not used), status kPredictedOnly. Before, the step was rejected and the charge over the dropped span lost:
      // a 150 s span at 1C left the cell 4.0 SOC points off at a 1.1 % sigma (2026-12-07, CS-PACK-008).
      const bool dropped = !math::is_finite(voltage_V[k]) && math::is_finite(dt_s) && math::is_finite(current_A) &&
                           math::is_finite(temperature_degC[k]);
      const StepReport<T> r = dropped ? cells_[k].predict_only(dt_s, current_A, v_mid, temperature_degC[k])
                                      : cells_[k].step(dt_s, current_A, voltage_V[k], temperature_degC[k]);
      if (is_rejected(r.status)) { ++rejected; }
      if (cells_out != nullptr) { cells_out[k] = CellReport<T>{static_cast<std::uint8_t>(r.status), r.soc, r.soc_sigma}; }
    }
    sum.n_rejected = rejected;
    summarise(sum);
    return sum;
  }

  /// Pack figures from the current cell estimates (see the header comment).
  void summarise(PackSummary<T>& s) const {
    s.index_min = 0;
    s.index_max = 0;
    s.soc_min = T(0);
    s.soc_max = T(0);
    s.soc_mean = T(0);
    s.imbalance = T(0);
    s.dischargeable_Ah = T(0);
    s.chargeable_Ah = T(0);
    s.usable_soc = T(0);
    if (n_cells_ == 0) { return; }
    T sum = T(0);
    T d_min = T(0);
    T c_min = T(0);
    for (int k = 0; k < n_cells_; ++k) {
      const T z = cells_[k].soc();
      const T q = capacity_Ah(k);
      T d = (z - config_.usable_soc_low) * q;
      T c = (config_.usable_soc_high - z) * q;
      d = d > T(0) ? d : T(0);
      c = c > T(0) ? c : T(0);
      if (k == 0 || z < s.soc_min) {
        s.soc_min = z;
        s.index_min = static_cast<std::uint16_t>(k);
      }
      if (k == 0 || z > s.soc_max) {
        s.soc_max = z;
        s.index_max = static_cast<std::uint16_t>(k);
      }
      if (k == 0 || d < d_min) { d_min = d; }
      if (k == 0 || c < c_min) { c_min = c; }
      sum = sum + z;
    }
    s.soc_mean = sum / static_cast<T>(n_cells_);
    s.imbalance = s.soc_max - s.soc_min;
    s.dischargeable_Ah = d_min;
    s.chargeable_Ah = c_min;
    const T total = d_min + c_min;
    s.usable_soc = total > T(0) ? d_min / total : T(0);
  }

  /// SOC whose OCV at `temperature_degC` is `voltage_V` (bisection on the OCV table, which the
  /// parameters guarantee strictly increasing), clamped to the estimator's SOC bounds.
  T soc_from_ocv(T voltage_V, T temperature_degC) const {
    const auto& g = params_->grid;
    const math::TempPoint<T> tp = math::locate_temperature(g, temperature_degC);
    T lo = config_.estimator.soc_min;
    T hi = config_.estimator.soc_max;
    for (int it = 0; it < 40; ++it) {  // bounded: 40 halvings of an interval of ~1 (float: < 1 ulp)
      const T mid = (lo + hi) * T(0.5);
      if (!(mid > lo && mid < hi)) { break; }
      const math::GridPoint<T> gp = math::locate(g, mid, tp, -1);
      if (math::lookup_extrapolated(params_->ocv_V, gp) < voltage_V) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return (lo + hi) * T(0.5);
  }

 private:
  // Rest over a gap: x' = F x (i = 0), P' = F P F^T + diag(q^2) dt, variances capped (header comment).
  void rest_cell(int k, T dt_s, T temperature_degC) {
    CellEstimator& e = cells_[k];
    const Model& m = e.model();
    const State x = e.state();
    const Cov p = e.covariance();
    const T t = math::is_finite(temperature_degC) ? temperature_degC : T(25);
    const typename Model::Step s = m.prepare(x, e.aux(), dt_s, T(0), t);
    const State xn = m.predict(s, x);
    const State f = m.process_jacobian_diagonal(s);
    const auto& n = m.noise();
    T q[N];
    T ceiling[N];
    q[Idx::soc] = n.soc_per_sqrt_s * n.soc_per_sqrt_s * dt_s;
    ceiling[Idx::soc] = config_.estimator.soc_unknown_variance();
    for (int j = 0; j < Model::kRcPairs; ++j) {
      q[Idx::v_rc(j)] = n.v_rc_V_per_sqrt_s * n.v_rc_V_per_sqrt_s * dt_s;
      ceiling[Idx::v_rc(j)] = config_.initial_v_rc_sigma_V * config_.initial_v_rc_sigma_V;
    }
    q[Idx::hysteresis] = n.hysteresis_per_sqrt_s * n.hysteresis_per_sqrt_s * dt_s;
    ceiling[Idx::hysteresis] = config_.initial_hysteresis_sigma * config_.initial_hysteresis_sigma;
    Cov pn;
    for (int i = 0; i < N; ++i) {
      for (int j = i; j < N; ++j) {
        const T v = f(i, 0) * p(i, j) * f(j, 0);
        pn(i, j) = v;
        pn(j, i) = v;
      }
    }
    for (int i = 0; i < N; ++i) {
      T v = pn(i, i) + q[i];
      const T cap = ceiling[i] > p(i, i) ? ceiling[i] : p(i, i);  // never shrink below the prior
      if (v > cap) { v = cap; }
      pn(i, i) = v;
    }
    (void)e.set_state(xn, pn, e.aux());  // refused only if not SPD: then the state is kept
  }

  bool reinit_cell(int k, T voltage_V, T temperature_degC) {
    if (!math::is_finite(voltage_V) || !math::is_finite(temperature_degC)) { return false; }
    CellEstimator& e = cells_[k];
    State x;
    Cov p;
    Model::initial(soc_from_ocv(voltage_V, temperature_degC), config_.initial_soc_sigma,
                   config_.initial_v_rc_sigma_V, config_.initial_hysteresis, config_.initial_hysteresis_sigma, x, p);
    return e.set_state(x, p, typename Model::Aux{T(0)});
  }

  const Params* params_ = nullptr;
  Config config_{};
  CellEstimator cells_[MaxCells];
  int n_cells_ = 0;
};

}  // namespace pack
}  // namespace cellsense
