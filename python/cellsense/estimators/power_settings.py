"""`PowerSettings`: what the state-of-power limits respect (issue #15, docs/power.md): horizons, cut-offs, SOC
window, current ratings, conservative factors and the tables, checked by the core's rule
(power::PowerConfig::check through cellsense._core.power_config_issue) and resolved for a cell (`core_dict`).
Importable from cellsense.estimators.power."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .base import _core
from .power_tables import (K_OVERPOTENTIAL, K_TRANSPORT, L_DERATING, _derating_rows, _pair_rows, _transport_rows,
                           cell_overpotential, cell_transport, current_derating, rating_sources,
                           warn_rating_fallback)

#: how a rating is given, in the RatingFallbackWarning
RATING_HOW = ("PowerSettings.discharge_current_max_A / charge_current_max_A; cellsense estimate / replay: "
              "--current-max-A; cellsense export-c: --current-max-A")


@dataclass
class PowerSettings:
    """What the limits respect. None: from the cell file (cut-offs; current ratings = the currents its model was
    identified on, `identified_current_range`, else its plausible current range, with a RatingFallbackWarning: give
    the cell's datasheet rating when you know it)."""

    #: how long each constant current must be sustained (s): a sequence or a 1-D numpy array (kept as a tuple of
    #: floats), each horizon once
    horizons_s: Sequence[float] = (2.0, 10.0, 30.0)
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
        horizon list that is neither a sequence nor a 1-D numpy array (an array is kept as a tuple of floats), a
        horizon given twice, a table that is not a sequence of rows, and every bound of the core's rule that does
        not depend on the cell (power::PowerConfig::check through _core.power_config_issue: the horizons, the SOC
        window, the ratings, the sigma factors, the cut-offs given, the rows of a table given here; the same
        messages as `core_dict`). The cell-dependent rest (a cut-off against the cell's other one, the cell file's
        tables) is checked with the cell (`core_dict`). Runs again on dataclasses.replace."""
        if isinstance(self.horizons_s, np.ndarray):
            if self.horizons_s.ndim != 1:
                raise ValueError(f"PowerSettings.horizons_s: expected a 1-D array of horizons (s), got shape "
                                 f"{self.horizons_s.shape}")
            self.horizons_s = tuple(self.horizons_s.tolist())
        if isinstance(self.horizons_s, (str, bytes)) or not isinstance(self.horizons_s, Sequence):
            raise ValueError(f"PowerSettings.horizons_s: expected a sequence (or 1-D numpy array) of horizons (s), got "
                             f"{self.horizons_s!r:.40}")
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
        hz = [float(h) for h in self.horizons_s]
        twice = sorted({h for h in hz if hz.count(h) > 1})
        if twice:
            raise ValueError(f"PowerSettings.horizons_s: {hz!r}: {', '.join(f'{h:g} s' for h in twice)} given more than "
                             "once: give each horizon once")
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
        given = {}
        for name, key, parse in (("derating", "derating", _derating_rows), ("overpotential", "overpotential", _pair_rows),
                                 ("transport", "transport", _transport_rows)):
            v = getattr(self, name)
            if v:  # a table given here: the core's rules of its rows do not depend on the cell
                given[key] = parse(v, f"PowerSettings.{name}")
        d.update(given)
        for h in [float(h) for h in self.horizons_s] or [10.0]:
            self._raise_issue(core.power_config_issue({**d, "horizon_s": h}), d, given.get("derating"),
                              given.get("overpotential"), given.get("transport"))

    def _raise_issue(self, issue, d: dict, rows=None, over=None, trans=None, where: dict | None = None) -> None:
        """ValueError for the core's (code, field, rule) on the settings dict d; nothing when issue is None. `where`:
        a table's origin by name ('derating', 'overpotential', 'transport': the cell file and key when it came from
        there), default PowerSettings.<name>."""
        if issue is None:
            return
        _code, fld, rule = issue
        if fld == "horizon_s":
            raise ValueError(f"PowerSettings.horizons_s: {list(self.horizons_s)!r}: {rule}")
        for name, table in (("derating", rows), ("overpotential", over), ("transport", trans)):
            if fld.startswith(name):
                origin = (where or {}).get(name, f"PowerSettings.{name}")
                raise ValueError(f"{origin} ({fld}): {table!r}: {rule}")
        given = ", ".join(f"{k} = {d[k]!r}" for k in fld.split("/"))
        raise ValueError(f"PowerSettings.{fld}: {given}: {rule}")

    @classmethod
    def conservative(cls, k: float = 3.0, **kw) -> "PowerSettings":
        """The limit the cell can deliver when the SOC and the voltage model are k sigma wrong."""
        return cls(soc_sigma_k=k, voltage_sigma_k=k, **kw)

    def core_dict(self, cell, warn_ratings: bool = True) -> dict[str, Any]:
        """The core's PowerConfig fields (horizon_s excepted) for `cell`, checked by the core's rule
        (power::PowerConfig::check, through cellsense._core.power_config_issue): ValueError naming the setting (a
        table from the cell file: the file and the key). A default rating (None) that falls back to the cell file's
        plausible current range warns (RatingFallbackWarning) unless `warn_ratings` is False (a caller that does
        not use the ratings: remaining_energy)."""
        hz = [float(h) for h in self.horizons_s]
        if not hz:
            raise ValueError("PowerSettings.horizons_s: empty: give at least one horizon (s)")
        vmin, vmax = cell.voltage_cutoff_V
        given = {"discharge": self.discharge_current_max_A, "charge": self.charge_current_max_A}
        src = warn_rating_fallback(cell, given, RATING_HOW) if warn_ratings else rating_sources(cell)
        d = {"voltage_min_V": vmin if self.voltage_min_V is None else float(self.voltage_min_V),
             "voltage_max_V": vmax if self.voltage_max_V is None else float(self.voltage_max_V),
             "soc_min": float(self.soc_min), "soc_max": float(self.soc_max),
             "discharge_current_max_A": src["discharge"][0] if self.discharge_current_max_A is None
             else float(self.discharge_current_max_A),
             "charge_current_max_A": src["charge"][0] if self.charge_current_max_A is None
             else float(self.charge_current_max_A),
             "soc_sigma_k": float(self.soc_sigma_k), "voltage_sigma_k": float(self.voltage_sigma_k)}
        where = {}  # a table from the cell file: its errors name the file and the key
        tables = {}
        for name, from_cell, key, parse in (
                ("derating", current_derating, f'limits."{L_DERATING}"', _derating_rows),
                ("overpotential", cell_overpotential, f'parameters."{K_OVERPOTENTIAL}"', _pair_rows),
                ("transport", cell_transport, f'parameters."{K_TRANSPORT}"', _transport_rows)):
            given = getattr(self, name)
            if given is None:
                tables[name], where[name] = from_cell(cell), f"{cell.source}: {key}"
            else:
                tables[name] = parse(given, f"PowerSettings.{name}")
            if tables[name]:
                d[name] = tables[name]
        rows, over, trans = tables["derating"], tables["overpotential"], tables["transport"]
        for h in hz:
            self._raise_issue(_core().power_config_issue({**d, "horizon_s": h}), d, rows, over, trans, where)
        check_cutoffs(cell, d, {"voltage_min_V": self.voltage_min_V, "voltage_max_V": self.voltage_max_V})
        return d


def check_cutoffs(cell, d: dict[str, Any], given: dict[str, Any]) -> None:
    """The cut-offs are readings the cell can give: above 0 V and within its plausible voltage range (the cell file's
    "Voltage range [V]", what a step accepts), as the core refuses otherwise (power::detail::cutoff_plausible:
    kBadConfig). ValueError naming the setting (or the cell file, for its own cut-off) and the cell's range."""
    lo, hi = (float(v) for v in cell.voltage_range_V)
    for name in ("voltage_min_V", "voltage_max_V"):
        v = float(d[name])
        if not (v > 0 and lo <= v <= hi):
            origin = f"PowerSettings.{name}" if given[name] is not None else f"{cell.source}: cut-off ({name})"
            raise ValueError(f"{origin}: {v:g} V: a cut-off must be above 0 V and within the cell's plausible voltage "
                             f"range [{lo:g}, {hi:g}] V (a value in mV, or a pack's voltage, is not a cell's cut-off)")
