"""ECM cell files: validate, and convert to the core's parameter set (loading by name or path, and the
dispatch to SPMe files, is cells.load.load_cell).

One JSON file per cell (docs/cell-file.md). Keys follow PyBaMM's "Name [unit]" style so a cell
file reads like a `pybamm.ParameterValues`. Every table is indexed [temperature][soc] and may be
given as a scalar or a 1-D list over SOC (broadcast over temperature). Validation errors name
the file and the field (and the table cell) at fault.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import file_number
from .ecm_reference import interpolate
from .files import MAX_CELL_NUMBER, CellFileError

FORMAT_KEY = "cellsense cell file"
FORMAT_VERSION = 1
MAX_SOC_POINTS = 64
MAX_TEMPERATURE_POINTS = 8
#: physical bounds beyond which a parameter only makes every step fail (issue #12): refused by the loader
MAX_CELL_VOLTAGE_V = 10.0      #: OCV, cut-offs (V): above any single cell's chemistry
MAX_RESISTANCE_OHM = 1e3       #: R0 and RC resistances (Ohm)
MAX_TAU_S = 1e7                #: RC time constants (s), ~116 days
MAX_HYSTERESIS_RATE = 1e6      #: hysteresis rate constant (1)
MAX_CURRENT_A = 1e7            #: current range and sign deadband (A)

K_CAPACITY = "Nominal cell capacity [A.h]"
K_EFFICIENCY = "Coulombic efficiency"
K_SOC = "SOC breakpoints"
K_TEMP = "Temperature breakpoints [degC]"
K_OCV = "Open-circuit voltage [V]"
K_R0 = "R0 [Ohm]"
K_HYST = "Hysteresis maximum [V]"
K_HYST0 = "Instantaneous hysteresis [V]"
K_GAMMA = "Hysteresis rate constant"
K_DEADBAND = "Hysteresis sign deadband [A]"
K_VMIN = "Lower voltage cut-off [V]"
K_VMAX = "Upper voltage cut-off [V]"
K_MODEL_ERROR = "Model voltage error [V]"
#: optional: correlation time of the model's voltage error; when present the estimator scales the model
#: error with the cell's resistance and the sample interval (cellsense.estimators.settings.resolve_model_error)
K_MODEL_ERROR_TAU = "Model error correlation [s]"
#: largest "Model error correlation [s]" a cell file may state: the core's bound on
#: EstimatorConfig::model_error_correlation_s (kMaxDt_s, estimator/estimator.hpp; the cell layer loads without
#: the compiled module, so the number is written here and tests/python/estimators/test_core_rules.py holds it
#: to the core's check)
MODEL_ERROR_CORRELATION_MAX_S = 86400.0
L_VOLTAGE = "Voltage range [V]"
L_CURRENT = "Current range [A]"
L_TEMPERATURE = "Temperature range [degC]"
#: optional keys the power limits read (cellsense.estimators.power_tables, docs/power.md); named here, where the
#: loader's list of known keys is, so that a cell file's key has one home
L_IDENTIFIED = "Identified current range [A]"
L_DERATING = "Current derating [degC, discharge factor, charge factor]"
K_OVERPOTENTIAL = "Overpotential reference current [A]"
K_OVERPOTENTIAL_CHARGE = "Overpotential reference current, charge [A]"
K_TRANSPORT = "Transport limit [SOC, A.s^0.5, s^0.5]"
#: every key an ECM cell file may have (docs/cell-file.md); any other is refused as a likely typo (an optional key
#: misspelt, "Model error corelation [s]", was silently ignored, and export-c wrote a firmware cell without it).
#: Keys starting with "_" are comments.
KNOWN_TOP_KEYS = frozenset({FORMAT_KEY, "model", "name", "description", "RC pairs", "parameters", "limits",
                            "provenance", "placeholder", "fit residuals"})
KNOWN_PARAMETER_KEYS = frozenset({K_CAPACITY, K_EFFICIENCY, K_SOC, K_TEMP, K_OCV, K_R0, K_HYST, K_HYST0, K_GAMMA,
                                  K_DEADBAND, K_VMIN, K_VMAX, K_MODEL_ERROR, K_MODEL_ERROR_TAU, K_OVERPOTENTIAL,
                                  K_OVERPOTENTIAL_CHARGE, K_TRANSPORT,
                                  "R1 [Ohm]", "tau1 [s]", "R2 [Ohm]", "tau2 [s]", "R3 [Ohm]", "tau3 [s]"})
KNOWN_LIMIT_KEYS = frozenset({L_VOLTAGE, L_CURRENT, L_TEMPERATURE, L_IDENTIFIED, L_DERATING})


def _unknown_key(source: str, where: str, keys, known: frozenset) -> None:
    """CellFileError naming the first key of `keys` that is not in `known` (nor a "_" comment), with the nearest
    known key as a suggestion."""
    import difflib

    for k in keys:
        if not isinstance(k, str) or (k not in known and not k.startswith("_")):
            near = difflib.get_close_matches(str(k), sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else " (docs/cell-file.md lists the keys)"
            raise _err(source, f'{where}"{k}"', f"unknown key{hint}")


def rc_keys(j: int) -> tuple[str, str]:
    """Keys of RC pair j (1-based): resistance and time constant."""
    return f"R{j} [Ohm]", f"tau{j} [s]"


@dataclass
class Cell:
    """A validated equivalent-circuit cell."""

    name: str
    source: str
    rc_pairs: int
    capacity_Ah: float
    coulombic_efficiency: float
    soc: np.ndarray
    temperature_degC: np.ndarray
    ocv_V: np.ndarray
    r0_Ohm: np.ndarray
    rc_r_Ohm: list[np.ndarray]
    rc_tau_s: list[np.ndarray]
    hysteresis_V: np.ndarray
    hysteresis_instant_V: np.ndarray
    hysteresis_rate: float
    sign_deadband_A: float
    voltage_cutoff_V: tuple[float, float]
    voltage_range_V: tuple[float, float]
    current_range_A: tuple[float, float]
    temperature_range_degC: tuple[float, float]
    placeholder: bool = False
    #: the model's identified voltage error (RMS, V), from the fit; None if the file does not say
    model_voltage_error_V: float | None = None
    model_error_correlation_s: float | None = None
    description: str = ""
    provenance: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # one line; the tables are in the attributes (print(cell.ocv_V) etc.)
        t = self.temperature_degC
        return (f"Cell({self.name!r}, {self.rc_pairs} RC pair{'s' if self.rc_pairs != 1 else ''}, "
                f"{self.capacity_Ah:.4g} Ah, {len(self.soc)} SOC x {len(t)} temperature breakpoints "
                f"({float(t[0]):g}..{float(t[-1]):g} degC), source={self.source!r}"
                + (", placeholder" if self.placeholder else "") + ")")

    def core_params(self) -> dict[str, Any]:
        """The parameter dict the compiled core takes: the keys of the core's parameter table, in its order
        (model/ecm_params_table.hpp, cellsense._core.ECM_PARAMETERS; tests/python/cells/test_ecm_params_table.py)."""
        return {
            "capacity_Ah": self.capacity_Ah, "coulombic_efficiency": self.coulombic_efficiency,
            "hysteresis_rate": self.hysteresis_rate, "sign_deadband_A": self.sign_deadband_A,
            "soc": self.soc, "temperature_degC": self.temperature_degC,
            "ocv_V": self.ocv_V, "r0_Ohm": self.r0_Ohm,
            "rc_r_Ohm": list(self.rc_r_Ohm), "rc_tau_s": list(self.rc_tau_s),
            "hysteresis_V": self.hysteresis_V, "hysteresis_instant_V": self.hysteresis_instant_V,
            "voltage_min_V": self.voltage_range_V[0], "voltage_max_V": self.voltage_range_V[1],
            "current_min_A": self.current_range_A[0], "current_max_A": self.current_range_A[1],
            "temperature_min_degC": self.temperature_range_degC[0],
            "temperature_max_degC": self.temperature_range_degC[1],
        }

    def ocv(self, soc: np.ndarray | float, temperature_degC: float = 25.0) -> np.ndarray:
        """OCV(SOC, T) by the core's bilinear rule, clamped at the grid ends (cells.ecm_reference.interpolate)."""
        return interpolate(self.ocv_V, self.soc, self.temperature_degC, soc, temperature_degC)

    def soc_from_ocv(self, voltage_V: float, temperature_degC: float = 25.0) -> float:
        """Invert OCV(SOC, T) at one temperature (the rested-cell start-up estimate)."""
        t = float(np.clip(temperature_degC, self.temperature_degC[0], self.temperature_degC[-1]))
        curve = interpolate(self.ocv_V, self.soc, self.temperature_degC, self.soc, t)
        return float(np.clip(np.interp(voltage_V, curve, self.soc), 0.0, 1.0))


def _err(source: str, where: str, msg: str) -> CellFileError:
    return CellFileError(f"{source}: {where}: {msg}")


def _number(source: str, where: str, v: Any) -> float:
    """A cell-file number (the one check, _io.file_number), errors naming the file and the field."""
    return file_number(lambda w, msg: _err(source, w, msg), where, v, MAX_CELL_NUMBER, "float32 range")


def _vector(source: str, where: str, v: Any) -> np.ndarray:
    if not isinstance(v, list) or not v:
        raise _err(source, where, "expected a non-empty list of numbers")
    return np.array([_number(source, f"{where}[{i}]", x) for i, x in enumerate(v)])


def _table(source: str, key: str, v: Any, nt: int, ns: int) -> np.ndarray:
    where = f'parameters."{key}"'
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return np.full((nt, ns), _number(source, where, v))
    if not isinstance(v, list) or not v:
        raise _err(source, where, "expected a number, a list over SOC, or a [temperature][soc] table")
    if all(not isinstance(x, list) for x in v):
        row = _vector(source, where, v)
        if len(row) != ns:
            raise _err(source, where, f"has {len(row)} values but there are {ns} SOC breakpoints")
        return np.tile(row, (nt, 1))
    if len(v) != nt:
        raise _err(source, where, f"has {len(v)} rows but there are {nt} temperature breakpoints")
    rows = []
    for it, r in enumerate(v):
        row = _vector(source, f"{where}[{it}]", r)
        if len(row) != ns:
            raise _err(source, f"{where}[{it}]", f"has {len(row)} values but there are {ns} SOC breakpoints")
        rows.append(row)
    return np.array(rows)


def _range(source: str, where: str, v: Any, default: tuple[float, float]) -> tuple[float, float]:
    if v is None:
        return default
    if not isinstance(v, list) or len(v) != 2:
        raise _err(source, where, "expected [min, max]")
    lo, hi = _number(source, f"{where}[0]", v[0]), _number(source, f"{where}[1]", v[1])
    if not lo < hi:
        raise _err(source, where, f"min {lo} must be below max {hi}")
    return lo, hi


def cell_from_dict(data: dict[str, Any], source: str = "<cell>") -> Cell:
    """Validate a cell-file dict and build a Cell; raises CellFileError naming the field."""
    if not isinstance(data, dict):
        raise _err(source, "top level", "expected a JSON object")
    version = data.get(FORMAT_KEY)
    if version != FORMAT_VERSION:
        raise _err(source, f'"{FORMAT_KEY}"', f"expected format version {FORMAT_VERSION}, got {version!r}")
    if data.get("model", "ecm") != "ecm":
        raise _err(source, '"model"', f"this loader reads equivalent-circuit cells ('ecm'), got {data.get('model')!r}")
    n_rc = data.get("RC pairs")
    if n_rc not in (1, 2, 3):
        raise _err(source, '"RC pairs"', f"must be 1, 2 or 3, got {n_rc!r}")
    p = data.get("parameters")
    if not isinstance(p, dict):
        raise _err(source, '"parameters"', "missing or not an object")
    _unknown_key(source, "", data.keys(), KNOWN_TOP_KEYS)
    _unknown_key(source, "parameters.", p.keys(), KNOWN_PARAMETER_KEYS)

    def need(key: str) -> Any:
        if key not in p:
            raise _err(source, f'parameters."{key}"', "missing")
        return p[key]

    soc = _vector(source, f'parameters."{K_SOC}"', need(K_SOC))
    temp = _vector(source, f'parameters."{K_TEMP}"', need(K_TEMP))
    if not 2 <= len(soc) <= MAX_SOC_POINTS:
        raise _err(source, f'parameters."{K_SOC}"', f"needs 2..{MAX_SOC_POINTS} points, has {len(soc)}")
    if not 1 <= len(temp) <= MAX_TEMPERATURE_POINTS:
        raise _err(source, f'parameters."{K_TEMP}"', f"needs 1..{MAX_TEMPERATURE_POINTS} points, has {len(temp)}")
    if soc[0] > 0.0 or soc[-1] < 1.0:
        raise _err(source, f'parameters."{K_SOC}"', f"must cover 0..1: start at or below 0 and end at or above 1 "
                   f"(got {soc[0]} .. {soc[-1]})")
    for name, bp in ((K_SOC, soc), (K_TEMP, temp)):
        bad = np.nonzero(np.diff(bp) <= 0)[0]
        if bad.size:
            i = int(bad[0]) + 1
            raise _err(source, f'parameters."{name}"[{i}]', f"breakpoints must increase strictly ({bp[i-1]} then {bp[i]})")
    nt, ns = len(temp), len(soc)
    capacity = _number(source, f'parameters."{K_CAPACITY}"', need(K_CAPACITY))
    if not 1e-3 <= capacity <= 1e6:
        raise _err(source, f'parameters."{K_CAPACITY}"', f"must be positive and plausible (1e-3 .. 1e6 A.h), got {capacity}")
    eta = _number(source, f'parameters."{K_EFFICIENCY}"', p.get(K_EFFICIENCY, 1.0))
    if not 0 < eta <= 1:
        raise _err(source, f'parameters."{K_EFFICIENCY}"', f"must be in (0, 1], got {eta}")
    ocv = _table(source, K_OCV, need(K_OCV), nt, ns)
    for it in range(nt):
        bad = np.nonzero(np.diff(ocv[it]) <= 0)[0]
        if bad.size:
            i = int(bad[0]) + 1
            raise _err(source, f'parameters."{K_OCV}"[{it}][{i}]',
                       f"OCV must increase strictly with SOC ({ocv[it][i-1]} V at SOC {soc[i-1]}, {ocv[it][i]} V at SOC {soc[i]}; "
                       f"temperature {temp[it]} degC)")

    def nonneg(key: str, unit: str, strict: bool = False) -> np.ndarray:
        t = _table(source, key, need(key) if key != K_HYST0 else p.get(key, 0.0), nt, ns)
        bad = np.argwhere(t <= 0) if strict else np.argwhere(t < 0)
        if bad.size:
            it, i = (int(x) for x in bad[0])
            what = "must be positive" if strict else ("negative resistance" if "Ohm" in unit else "must not be negative")
            raise _err(source, f'parameters."{key}"[{it}][{i}]', f"{what}: {t[it, i]} {unit}")
        return t

    r0 = nonneg(K_R0, "Ohm")
    rc_r, rc_tau = [], []
    for j in range(1, n_rc + 1):
        kr, kt = rc_keys(j)
        rc_r.append(nonneg(kr, "Ohm"))
        rc_tau.append(nonneg(kt, "s", strict=True))
    for j in range(n_rc + 1, 4):
        if rc_keys(j)[0] in p:
            raise _err(source, f'parameters."{rc_keys(j)[0]}"', f'present but "RC pairs" is {n_rc}')
    hyst = nonneg(K_HYST, "V")
    hyst0 = nonneg(K_HYST0, "V")
    gamma = _number(source, f'parameters."{K_GAMMA}"', need(K_GAMMA))
    if gamma < 0:
        raise _err(source, f'parameters."{K_GAMMA}"', f"must not be negative, got {gamma}")
    deadband = _number(source, f'parameters."{K_DEADBAND}"', p.get(K_DEADBAND, capacity / 100.0))
    if deadband < 0:
        raise _err(source, f'parameters."{K_DEADBAND}"', f"must not be negative, got {deadband}")
    vmin = _number(source, f'parameters."{K_VMIN}"', need(K_VMIN))
    vmax = _number(source, f'parameters."{K_VMAX}"', need(K_VMAX))
    if not vmin < vmax:
        raise _err(source, f'parameters."{K_VMIN}"', f"lower cut-off {vmin} V must be below upper cut-off {vmax} V")
    # physical bounds (issue #12): a value beyond these passes the core's checks but makes every step fail
    for key, v in ((K_VMIN, vmin), (K_VMAX, vmax)):
        if not 0.0 < v <= MAX_CELL_VOLTAGE_V:
            raise _err(source, f'parameters."{key}"', f"must be in (0, {MAX_CELL_VOLTAGE_V}] V, got {v}")

    def at_most(key: str, t: np.ndarray, hi: float, unit: str, why: str, lo: float | None = None) -> None:
        bad = np.argwhere((t > hi) | ((t <= lo) if lo is not None else False))
        if bad.size:
            it, i = (int(x) for x in bad[0])
            rng = f"({lo:g}, {hi:g}]" if lo is not None else f"<= {hi:g}"
            raise _err(source, f'parameters."{key}"[{it}][{i}]', f"{t[it, i]:g} {unit} is not physical: must be {rng} {unit} ({why})")

    at_most(K_OCV, ocv, MAX_CELL_VOLTAGE_V, "V", "a cell's open-circuit voltage", lo=0.0)
    window = vmax - vmin
    at_most(K_HYST, hyst, window, "V", f"the hysteresis cannot exceed the cut-off window {vmin:g} .. {vmax:g} V")
    at_most(K_HYST0, hyst0, window, "V", f"the hysteresis cannot exceed the cut-off window {vmin:g} .. {vmax:g} V")
    at_most(K_R0, r0, MAX_RESISTANCE_OHM, "Ohm", "cell resistance")
    for j in range(n_rc):
        at_most(rc_keys(j + 1)[0], rc_r[j], MAX_RESISTANCE_OHM, "Ohm", "cell resistance")
        at_most(rc_keys(j + 1)[1], rc_tau[j], MAX_TAU_S, "s", "RC time constant")
    if gamma > MAX_HYSTERESIS_RATE:
        raise _err(source, f'parameters."{K_GAMMA}"', f"{gamma:g} is not physical (<= {MAX_HYSTERESIS_RATE:g})")
    if deadband > MAX_CURRENT_A:
        raise _err(source, f'parameters."{K_DEADBAND}"', f"{deadband:g} A is not physical (<= {MAX_CURRENT_A:g} A)")
    model_err = None
    if K_MODEL_ERROR in p:
        model_err = _number(source, f'parameters."{K_MODEL_ERROR}"', p[K_MODEL_ERROR])
        if not 0.0 <= model_err <= 1.0:
            raise _err(source, f'parameters."{K_MODEL_ERROR}"', f"must be in [0, 1] V, got {model_err}")
    model_tau = None
    if K_MODEL_ERROR_TAU in p:
        model_tau = _number(source, f'parameters."{K_MODEL_ERROR_TAU}"', p[K_MODEL_ERROR_TAU])
        if not 0.0 <= model_tau <= MODEL_ERROR_CORRELATION_MAX_S:
            raise _err(source, f'parameters."{K_MODEL_ERROR_TAU}"',
                       f"must be in [0, {MODEL_ERROR_CORRELATION_MAX_S:g}] s, got {model_tau}")
    limits = data.get("limits", {}) or {}
    if not isinstance(limits, dict):
        raise _err(source, '"limits"', "expected an object")
    _unknown_key(source, "limits.", limits.keys(), KNOWN_LIMIT_KEYS)
    vr = _range(source, f'limits."{L_VOLTAGE}"', limits.get(L_VOLTAGE), (0.0, vmax + 1.0))
    ir = _range(source, f'limits."{L_CURRENT}"', limits.get(L_CURRENT), (-20.0 * capacity, 20.0 * capacity))
    tr = _range(source, f'limits."{L_TEMPERATURE}"', limits.get(L_TEMPERATURE), (-40.0, 85.0))
    if not (-MAX_CURRENT_A <= ir[0] and ir[1] <= MAX_CURRENT_A):
        raise _err(source, f'limits."{L_CURRENT}"', f"{ir} A is not physical (|current| <= {MAX_CURRENT_A:g} A)")
    if not (-10 * MAX_CELL_VOLTAGE_V <= vr[0] and vr[1] <= 10 * MAX_CELL_VOLTAGE_V):
        raise _err(source, f'limits."{L_VOLTAGE}"', f"{vr} V is not physical (|voltage| <= {10 * MAX_CELL_VOLTAGE_V:g} V)")
    if not (-273.15 < tr[0] and tr[1] < 200.0):
        raise _err(source, f'limits."{L_TEMPERATURE}"', f"impossible temperature range {tr}")
    if not (vr[0] <= vmin and vmax <= vr[1]):
        raise _err(source, f'limits."{L_VOLTAGE}"', f"{vr} must contain the cut-offs [{vmin}, {vmax}] V")
    prov = data.get("provenance", {}) or {}
    if not isinstance(prov, dict):
        raise _err(source, '"provenance"', "expected an object")
    return Cell(
        name=str(data.get("name") or Path(source).stem), source=source, rc_pairs=int(n_rc), capacity_Ah=capacity,
        coulombic_efficiency=eta, soc=soc, temperature_degC=temp, ocv_V=ocv, r0_Ohm=r0, rc_r_Ohm=rc_r,
        rc_tau_s=rc_tau, hysteresis_V=hyst, hysteresis_instant_V=hyst0, hysteresis_rate=gamma,
        sign_deadband_A=deadband, voltage_cutoff_V=(vmin, vmax), voltage_range_V=vr, current_range_A=ir,
        temperature_range_degC=tr, placeholder=bool(data.get("placeholder", False)), model_voltage_error_V=model_err,
        model_error_correlation_s=model_tau,
        description=str(data.get("description", "")), provenance={str(k): str(v) for k, v in prov.items()}, raw=data)
