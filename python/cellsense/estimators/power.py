"""State of power and energy (issue #15, docs/power.md): how much current and power the cell can take for the
next 2, 10 and 30 s, how much energy is left, time to empty and to full - from the estimator's state, with
the core's heap-free implementation (cpp/include/cellsense/power/power_limits.hpp, also in the C API).

Conventions: current + = discharge; every limit is a positive magnitude. Method: Plett, IEEE Trans. Veh.
Technol. 53(5), 2004 (the model run forward over the horizon at a constant current; the largest current whose
predicted voltage stays within the cut-offs, the SOC window and the current rating).

    from cellsense import Estimator
    from cellsense.estimators.power import PowerSettings, estimate_power, power_limits_now
    est = Estimator("panasonic_18650pf", initial_soc=0.8)
    res = estimate_power(est, log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    res.discharge_current_A[:, 1]     # 10 s discharge limit per sample (A)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .base import RunResult, _core, log_arrays, run_columns

#: limited_by codes (power::LimitedBy) -> name; 255 = _core.LIMITED_BY_NOT_COMPUTED (bindings/power_columns.hpp): not
#: computed (non-finite temperature or refused); test_power holds the codes to the core's
LIMITED_BY = {0: "voltage", 1: "soc", 2: "current", 3: "none", 4: "transport", 255: "not computed"}


@dataclass
class PowerSettings:
    """What the limits respect. None: from the cell file (cut-offs; current ratings = the currents its model was
    identified on, `identified_current_range`, else its plausible current range: give the cell's datasheet
    rating when you know it)."""

    horizons_s: Sequence[float] = (2.0, 10.0, 30.0)   #: how long each constant current must be sustained (s)
    voltage_min_V: float | None = None                #: discharge cut-off (V); None: the cell file's
    voltage_max_V: float | None = None                #: charge cut-off (V); None: the cell file's
    soc_min: float = 0.0                              #: SOC window the horizon may not leave
    soc_max: float = 1.0
    discharge_current_max_A: float | None = None      #: discharge rating (A, positive); None: identified_current_range
    charge_current_max_A: float | None = None         #: charge rating (A, positive); None: identified_current_range
    #: conservative option: the SOC taken this many sigma towards the limit and the cut-offs tightened by this
    #: many model-error sigma (docs/power.md); 0: the nominal limit
    soc_sigma_k: float = 0.0
    voltage_sigma_k: float = 0.0
    #: temperature derating of both ratings: rows (temperature degC, discharge factor, charge factor), up to 6,
    #: temperatures strictly increasing in [-100, 200] degC, factors in [0, 1]; the rating at the cell temperature
    #: is the rating x the factor, linear between the rows and held beyond them (a datasheet's current vs
    #: temperature: e.g. charge factor 0 below 0 degC). None: the cell file's `limits."Current derating ..."` if it
    #: has one, else none; (): none
    derating: Sequence[Sequence[float]] | None = None
    #: current-dependent overpotential of the horizon prediction (docs/power.md): rows (temperature degC, I_ref A[,
    #: charge I_ref A]), up to 8, temperatures strictly increasing in [-100, 200] degC, I_ref in [1e-3, 1e6] A; R0 and
    #: the RC inputs see R I_ref asinh(i / I_ref) instead of R i (the SOC filter is not affected); without the third
    #: column the charge limits keep R i. None: the cell file's `parameters."Overpotential reference current [A]"`
    #: (and `"..., charge [A]"`) if it has one, else none; (): none
    overpotential: Sequence[Sequence[float]] | None = None
    #: transport limit of the discharge current (docs/power.md "Transport limit"): rows (SOC, K0 A s^0.5, c s^0.5),
    #: up to 8, SOCs strictly increasing in [-0.5, 1.5], K0 in (0, 1e7], c in [-100, 100]; over a horizon H the
    #: discharge current is at most K0(SOC) / (sqrt(H) - c(SOC)) (Sand's law i sqrt(t) = K0 + c i; limited_by
    #: "transport"); two more columns (charge K0, charge c) cap the charge current the same way. None: the cell
    #: file's `parameters."Transport limit [SOC, A.s^0.5, s^0.5]"` if it has one, else none; (): none
    transport: Sequence[Sequence[float]] | None = None

    def __post_init__(self) -> None:
        """Refuse at construction, naming the field, what no cell could use: a value that is not a real number, a
        horizon list that is not a sequence, a table that is not a sequence of rows, and every bound of the core's
        rule that does not depend on the cell (power::PowerConfig::check through _core.power_config_issue: the
        horizons, the SOC window, the ratings, the sigma factors, the cut-offs given; the same messages as
        `core_dict`). The cell-dependent rest (a cut-off against the cell's other one, the tables' rows) is
        checked with the cell (`core_dict`). Runs again on dataclasses.replace."""
        import numbers

        if isinstance(self.horizons_s, (str, bytes)) or not isinstance(self.horizons_s, Sequence):
            raise ValueError(f"PowerSettings.horizons_s: expected a sequence of horizons (s), got {self.horizons_s!r:.40}")
        named = [(f"horizons_s[{k}]", h, False) for k, h in enumerate(self.horizons_s)] + [
            (n, getattr(self, n), n in ("voltage_min_V", "voltage_max_V", "discharge_current_max_A",
                                       "charge_current_max_A"))
            for n in ("voltage_min_V", "voltage_max_V", "soc_min", "soc_max", "discharge_current_max_A",
                      "charge_current_max_A", "soc_sigma_k", "voltage_sigma_k")]
        for name, v, none_ok in named:
            if v is None and none_ok:
                continue
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
                raise ValueError(f"PowerSettings.{name}: expected a number, got {type(v).__name__} {v!r:.40}")
        for name in ("derating", "overpotential", "transport"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, (str, bytes)) or not isinstance(v, Sequence)):
                raise ValueError(f"PowerSettings.{name}: expected rows of numbers (or None / ()), got {v!r:.40}")
        try:
            core = _core()
        except ImportError:  # settings resolved without the compiled module (export-c): the rule runs in core_dict
            return
        vmin, vmax = self.voltage_min_V, self.voltage_max_V
        d = {"voltage_min_V": float(vmin) if vmin is not None else min(2.5, 0.5 * float(vmax)) if vmax is not None
             and math.isfinite(float(vmax)) else 2.5,
             "voltage_max_V": float(vmax) if vmax is not None else max(4.2, float(vmin) + 1.0) if vmin is not None
             and math.isfinite(float(vmin)) else 4.2,
             "soc_min": float(self.soc_min), "soc_max": float(self.soc_max),
             "discharge_current_max_A": 1.0 if self.discharge_current_max_A is None else float(self.discharge_current_max_A),
             "charge_current_max_A": 1.0 if self.charge_current_max_A is None else float(self.charge_current_max_A),
             "soc_sigma_k": float(self.soc_sigma_k), "voltage_sigma_k": float(self.voltage_sigma_k)}
        for h in [float(h) for h in self.horizons_s] or [10.0]:
            self._raise_issue(core.power_config_issue({**d, "horizon_s": h}), d)

    def _raise_issue(self, issue, d: dict, rows=None, over=None, trans=None) -> None:
        """ValueError for the core's (code, field, rule) on the settings dict d; nothing when issue is None."""
        if issue is None:
            return
        _code, fld, rule = issue
        if fld == "horizon_s":
            raise ValueError(f"PowerSettings.horizons_s: {list(self.horizons_s)!r}: {rule}")
        if fld.startswith("derating"):
            raise ValueError(f"PowerSettings.derating ({fld}): {rows!r}: {rule}")
        if fld.startswith("overpotential"):
            raise ValueError(f"PowerSettings.overpotential ({fld}): {over!r}: {rule}")
        if fld.startswith("transport"):
            raise ValueError(f"PowerSettings.transport ({fld}): {trans!r}: {rule}")
        given = ", ".join(f"{k} = {d[k]!r}" for k in fld.split("/"))
        raise ValueError(f"PowerSettings.{fld}: {given}: {rule}")

    @classmethod
    def conservative(cls, k: float = 3.0, **kw) -> "PowerSettings":
        """The limit the cell can deliver when the SOC and the voltage model are k sigma wrong."""
        return cls(soc_sigma_k=k, voltage_sigma_k=k, **kw)

    def core_dict(self, cell) -> dict[str, Any]:
        """The core's PowerConfig fields (horizon_s excepted) for `cell`, checked by the core's rule
        (power::PowerConfig::check, through cellsense._core.power_config_issue): ValueError naming the setting."""
        hz = [float(h) for h in self.horizons_s]
        if not hz:
            raise ValueError("PowerSettings.horizons_s: empty: give at least one horizon (s)")
        vmin, vmax = cell.voltage_cutoff_V
        imin, imax = identified_current_range(cell)
        d = {"voltage_min_V": vmin if self.voltage_min_V is None else float(self.voltage_min_V),
             "voltage_max_V": vmax if self.voltage_max_V is None else float(self.voltage_max_V),
             "soc_min": float(self.soc_min), "soc_max": float(self.soc_max),
             "discharge_current_max_A": imax if self.discharge_current_max_A is None else float(self.discharge_current_max_A),
             "charge_current_max_A": -imin if self.charge_current_max_A is None else float(self.charge_current_max_A),
             "soc_sigma_k": float(self.soc_sigma_k), "voltage_sigma_k": float(self.voltage_sigma_k)}
        rows = current_derating(cell) if self.derating is None else _derating_rows(self.derating, "PowerSettings.derating")
        if rows:
            d["derating"] = rows
        over = (cell_overpotential(cell) if self.overpotential is None
                else _pair_rows(self.overpotential, "PowerSettings.overpotential"))
        if over:
            d["overpotential"] = over
        trans = (cell_transport(cell) if self.transport is None
                 else _transport_rows(self.transport, "PowerSettings.transport"))
        if trans:
            d["transport"] = trans
        for h in hz:
            self._raise_issue(_core().power_config_issue({**d, "horizon_s": h}), d, rows, over, trans)
        return d


from .power_tables import (  # noqa: E402,F401  (the cell-file tables; their names stay importable from here)
    K_OVERPOTENTIAL, K_OVERPOTENTIAL_CHARGE, K_TRANSPORT, L_DERATING, L_IDENTIFIED, _derating_rows, _float_rows,
    _pair_rows, _per_temperature, _transport_rows, cell_overpotential, cell_transport, current_derating,
    identified_current_range)


def limit_columns(res) -> dict[str, np.ndarray]:
    """The CSV columns of whole-log limits (`res`: horizons_s and [sample, horizon] arrays discharge/charge
    current and power, as PowerResult and cellsense.pack.PackPowerResult have): i_dis_max_<h>s_A, i_chg_max_<h>s_A,
    p_dis_max_<h>s_W, p_chg_max_<h>s_W per horizon, the one naming of estimate's and replay's CSVs."""
    out = {}
    for j, h in enumerate(res.horizons_s):
        tag = f"{h:g}s"
        out[f"i_dis_max_{tag}_A"] = res.discharge_current_A[:, j]
        out[f"i_chg_max_{tag}_A"] = res.charge_current_A[:, j]
        out[f"p_dis_max_{tag}_W"] = res.discharge_power_W[:, j]
        out[f"p_chg_max_{tag}_W"] = res.charge_power_W[:, j]
    return out


def add_power_cli(p, power_help: str, rating_help: str) -> None:
    """The state-of-power options of a verb (cellsense estimate, cellsense replay): --power H[,H..],
    --power-conservative K, --current-max-A A, --derating T:D:C[,..]; `power_help` / `rating_help` say what they
    mean for that verb. Read back with `power_settings_from_cli`."""
    p.add_argument("--power", default=None, metavar="H[,H..]", help=power_help)
    p.add_argument("--power-conservative", type=float, default=None, metavar="K",
                   help="with --power: the limit at SOC - K sigma with the cut-offs tightened by K model-error sigma")
    p.add_argument("--current-max-A", type=float, default=None, help=rating_help)
    add_derating_cli(p, "with --power: ")


def add_derating_cli(p, prefix: str = "") -> None:
    """The --derating T:D:C[,..] option (read back with `parse_derating`): add_power_cli's, and `cellsense export-c`'s
    (the table it writes into the header's cs_power_config)."""
    p.add_argument("--derating", default=None, metavar="T:D:C[,T:D:C..]",
                   help=f"{prefix}the ratings' temperature derating, rows of cell temperature (degC), discharge "
                        "and charge factor in [0, 1], linear between, held beyond (e.g. 0:0.5:0,10:1:0.5,45:1:1: no "
                        "charge at or below 0 degC; a first T below 0: --derating=-10:0.5:0,...); default: the cell "
                        "file's, if any (docs/power.md)")


def power_settings_from_cli(a) -> "PowerSettings | None":
    """The PowerSettings of `add_power_cli`'s options (None without --power; ValueError naming the option). A verb
    that declares only --power (replay-bench) gets the defaults of the others."""
    conservative = getattr(a, "power_conservative", None)
    current_max_A = getattr(a, "current_max_A", None)
    derating_text = getattr(a, "derating", None)
    if a.power is None:
        if conservative is not None or current_max_A is not None or derating_text is not None:
            raise ValueError("--power-conservative / --current-max-A / --derating need --power")
        return None
    try:
        hz = tuple(float(h) for h in str(a.power).split(",") if h.strip())
    except ValueError:
        raise ValueError(f"--power {a.power!r}: expected horizons in seconds, e.g. 2,10,30") from None
    k = 0.0 if conservative is None else float(conservative)
    derating = None if derating_text is None else parse_derating(derating_text)
    return PowerSettings(horizons_s=hz, soc_sigma_k=k, voltage_sigma_k=k, discharge_current_max_A=current_max_A,
                         charge_current_max_A=current_max_A, derating=derating)


def parse_derating(text: str) -> list[tuple[float, float, float]]:
    """The CLI's --derating "T:d:c,T:d:c,..." (degC, discharge factor, charge factor) as rows."""
    rows = [part.split(":") for part in str(text).split(",") if part.strip()]
    return _derating_rows(rows, f"--derating {text!r}")


@dataclass
class PowerResult:
    """A whole log with the limits after every sample: arrays [sample, horizon] (positive magnitudes, NaN where
    not computed); `run` is the estimator's RunResult for the same samples."""

    horizons_s: tuple
    discharge_current_A: np.ndarray
    charge_current_A: np.ndarray
    discharge_power_W: np.ndarray
    charge_power_W: np.ndarray
    discharge_limited_by: np.ndarray    #: codes, LIMITED_BY
    charge_limited_by: np.ndarray
    run: Any = field(repr=False, default=None)

    def __repr__(self) -> str:
        n = self.discharge_current_A.shape[0]
        return f"PowerResult({n} samples, horizons {list(self.horizons_s)} s)"

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns for a CSV: i_dis_max_<h>s_A, i_chg_max_<h>s_A, p_dis_max_<h>s_W, p_chg_max_<h>s_W."""
        return limit_columns(self)


def _impl(est, need: str = "run_power"):
    """The binding object of an estimator that has `need` (the limits: every cell estimator, ECM and SPMe; the
    energy and time to full: the ECM ones, which have the hysteresis state and coulombic efficiency they use)."""
    impl = getattr(est, "_impl", None)
    if impl is None or not hasattr(impl, need):
        what = "an Estimator, SohEstimator or SpmeEstimator" if need == "run_power" else \
            "an Estimator or SohEstimator over an ECM cell (the SPMe has power limits, not energy)"
        raise TypeError(f"power: needs {what}, got {type(est).__name__}")
    return impl


def _exclusive(fn):
    """The estimator's one-thread guard (EstimatorBase._exclusive_block) around a function of the estimator `est`
    (its first argument): these functions call into its core as its own methods do, so a second thread inside the
    same estimator gets RuntimeError at once instead of racing it (two threads in one core with the GIL released)."""
    import functools

    @functools.wraps(fn)
    def guarded(est, *args, **kwargs):
        block = getattr(est, "_exclusive_block", None)
        if block is None:
            return fn(est, *args, **kwargs)
        with block():
            return fn(est, *args, **kwargs)

    return guarded


def _finite_arg(name: str, value, positive: bool = False) -> float:
    """A scalar argument as a float; ValueError naming it when it is not a finite real number (or not > 0)."""
    import numbers

    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"power: {name}: expected a finite number, got {value!r:.40}")
    if positive and not float(value) > 0:
        raise ValueError(f"power: {name}: must be above 0, got {value!r:.40}")
    return float(value)


@_exclusive
def estimate_power(est, time_s, current_A, voltage_V, temperature_degC,
                   settings: PowerSettings | None = None) -> PowerResult:
    """Run the estimator over a log (as `Estimator.run`, same rules for clock, gaps, bad samples) and compute the
    limits of the state after every sample for every horizon."""
    s = settings or PowerSettings()
    cfg = s.core_dict(est.cell)
    impl = _impl(est)
    arrays = log_arrays(time_s, current_A, voltage_V, temperature_degC)
    est._ocv_init_from_log(arrays)
    hz = np.asarray([float(h) for h in s.horizons_s], float)
    out = impl.run_power(*arrays, hz, cfg)
    power_cols = {k: out.pop(k) for k in ("discharge_current_A", "charge_current_A", "discharge_power_W",
                                            "charge_power_W", "discharge_limited_by", "charge_limited_by")}
    make = getattr(est, "_run_result", None)  # the SOH / SPMe estimators: their results with their own columns
    run = make(arrays[0], out) if make is not None else RunResult(**run_columns(arrays[0], out, est._status_names))
    return PowerResult(tuple(float(h) for h in hz), run=run, **power_cols)


@_exclusive
def power_limits_now(est, temperature_degC: float, settings: PowerSettings | None = None) -> list[dict[str, Any]]:
    """The limits of the estimator's present state, one dict per horizon (currents and powers positive; which
    constraint bound each: 'voltage', 'soc', 'current' or 'none')."""
    _finite_arg("temperature_degC", temperature_degC)
    s = settings or PowerSettings()
    cfg = s.core_dict(est.cell)
    impl = _impl(est)
    out = []
    for h in s.horizons_s:
        d = impl.power_limits(float(temperature_degC), {**cfg, "horizon_s": float(h)})
        d["horizon_s"] = float(h)
        out.append(d)
    return out


@_exclusive
def remaining_energy(est, temperature_degC: float, power_W: float, settings: PowerSettings | None = None) -> dict:
    """Energy left to the discharge cut-off at a constant power (W h), time to empty (s), their 1 sigma from the
    SOC sigma. `settings.soc_sigma_k` > 0 takes the SOC that many sigma lower (conservative)."""
    _finite_arg("temperature_degC", temperature_degC)
    _finite_arg("power_W (discharge power, a positive magnitude)", power_W, positive=True)
    s = settings or PowerSettings()
    cfg = s.core_dict(est.cell)
    return _impl(est, "energy").energy(float(temperature_degC), float(power_W), cfg["voltage_min_V"], cfg["soc_min"],
                                       cfg["soc_sigma_k"])


@_exclusive
def time_to_full(est, charge_current_A: float, soc_max: float = 1.0) -> tuple[float, float]:
    """Time to full (constant-current phase, s) at a charge current (a positive magnitude) and its 1 sigma."""
    _finite_arg("charge_current_A (a positive magnitude)", charge_current_A, positive=True)
    _finite_arg("soc_max", soc_max)
    return _impl(est, "time_to_full").time_to_full(float(charge_current_A), float(soc_max))


def pack_power_config(pack_est, settings: PowerSettings | None = None) -> dict[str, float]:
    """The core's PowerConfig fields (horizon_s excepted) for a pack's series elements (`pack_est`: a
    cellsense.pack.PackEstimator): the cell file's, through `PowerSettings.core_dict` (checked by the core's rule),
    with a default rating (None) scaled to the parallel group, which shares the string's current; a rating given
    explicitly is the string's current."""
    s = settings or PowerSettings()
    cfg = s.core_dict(pack_est.spec.cell)
    p = float(pack_est.spec.parallel)
    if s.discharge_current_max_A is None:
        cfg["discharge_current_max_A"] *= p
    if s.charge_current_max_A is None:
        cfg["charge_current_max_A"] *= p
    return cfg


def pack_power_limits_now(pack_est, temperature_degC, settings: PowerSettings | None = None) -> list[dict[str, Any]]:
    """A series string's limits after `PackEstimator.run` (its state at the log's end), one dict per horizon: the
    smallest limit over the cells in each direction, which cell sets it (``discharge_cell`` / ``charge_cell``,
    0-based) and why, the string's power (that current times the sum of the cells' predicted voltages; a mean-cell
    pack's times the series count). Ratings as `pack_power_config`: the same as cellsense.pack.estimate_pack_power's
    rows, whose last row this is. `temperature_degC`: one value per cell, or one for all."""
    core = getattr(pack_est, "last_core", None)
    if core is None:
        raise ValueError("pack_power_limits_now: run the PackEstimator over a log first (PackEstimator.run)")
    s = settings or PowerSettings()
    cfg = pack_power_config(pack_est, s)
    t = np.broadcast_to(np.asarray(temperature_degC, float), (core.n_cells,)).copy()
    k = float(pack_est.spec.series) if pack_est.spec.mean_cell else 1.0
    out = []
    for h in s.horizons_s:
        d = core.power_limits(t, {**cfg, "horizon_s": float(h)})
        d["discharge_power_W"] *= k
        d["charge_power_W"] *= k
        d["horizon_s"] = float(h)
        out.append(d)
    return out
