"""Battery packs: the pack description file (docs/pack-file.md) and pack estimation over the core.

A pack file says how a log maps onto the pack: series (and parallel) topology, the cell file, each
series element's voltage signal and its capacity / resistance spread, the current and temperature
sensors with their scaling and sign, an optional reference SOC (e.g. the vehicle BMS's own), and how
time gaps are handled. `load_pack()` validates it; errors name the file and the field.

`PackEstimator` runs `cellsense::pack::PackEstimator` (cpp/include/cellsense/pack/pack.hpp): one
ECM estimator per series element sharing one parameter set; the whole log runs in C++ with the GIL
released.

    spec = load_pack("pack.json")
    log = cellsense.replay.read_log("drive.csv", spec)
    res = PackEstimator(spec, dtype="float32").run(log)
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import status as _status
from ..cells.ecm import Cell
from ..cells.load import load_cell
from ..estimators.base import _core
from ..estimators.settings import EstimatorSettings, NoiseSettings, resolve_voltage_sigma

FORMAT_KEY = "cellsense pack file"
FORMAT_VERSION = 1
MAX_CELLS = 512          #: the Python build's capacity (python/bindings/pack.cpp kMaxCells)
MAX_TEMPERATURE_SENSORS = 16

# Per-cell status and pack event codes: the core's (cellsense.status, held to the core's tables by a test).
STATUS_INITIAL = _status.INITIAL
STATUS_REST = _status.REST
STATUS_REINIT = _status.REINIT
STATUS_REINIT_FAILED = _status.REINIT_FAILED
STATUS_CLOCK_REANCHORED = _status.CLOCK_REANCHORED  #: the clock re-anchored on this sample (no step); as a single estimator's
EVENT_CLOCK_REANCHORED = _status.EVENT_CLOCK_REANCHORED
EVENTS = dict(_status.EVENT_NAMES)
#: Backwards timestamps in a row after which the log clock re-anchors on the latest one (the core's
#: cellsense::LogClock::kReanchorAfter, exposed as _core.CLOCK_REANCHOR_AFTER; tests hold them equal).
CLOCK_REANCHOR_AFTER = 3


class PackFileError(ValueError):
    """A pack file is malformed. The message names the file and the field."""


@dataclass(frozen=True)
class Signal:
    """A log signal and its conversion to SI: physical = raw * scale + offset.

    `name` is a CSV column, or for CAN logs a DBC signal as "Message.Signal" (or "Signal" when unique)."""

    name: str
    scale: float = 1.0
    offset: float = 0.0

    def convert(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw, dtype=float) * self.scale + self.offset


@dataclass
class CellSpec:
    voltage: Signal
    capacity_scale: float = 1.0     #: this series element's capacity / the cell file's (1)
    resistance_scale: float = 1.0   #: this series element's resistances / the cell file's (1)
    temperature_sensor: int = 0     #: index into PackSpec.temperatures


@dataclass
class GapSpec:
    policy: str = "rest"            #: "rest" or "reinit"
    gap_s: float = 30.0             #: a step longer than this is a gap (s)
    reinit_after_s: float = 3600.0  #: "rest": gaps longer than this re-initialise from OCV (s)


@dataclass
class PackSpec:
    name: str
    source: str
    series: int
    parallel: int
    cell: Cell
    cells: list[CellSpec]            #: one per modelled series element
    current: Signal                  #: converted so that + = discharge
    temperatures: list[Signal]
    time: Signal | None = None       #: CSV time column (CAN logs use frame timestamps)
    reference_soc: Signal | None = None  #: converted to a fraction 0..1
    mean_cell: bool = False          #: one estimator for the average cell (pack voltage / series)
    pack_voltage: Signal | None = None
    sample_period_s: float = 1.0     #: CAN logs: resampling period (s)
    stale_s: float = 5.0             #: CAN logs: a signal older than this is a dropped reading (s)
    can_bus: int | None = None       #: CAN logs: only frames of this bus / channel
    gaps: GapSpec = field(default_factory=GapSpec)
    filter: str = "ekf"
    dtype: str = "float32"
    initial_soc: float | None = None  #: None: from OCV at each cell's first voltage
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        """Modelled series elements (1 in mean-cell mode)."""
        return len(self.cells)

    def signals(self) -> list[str]:
        """Every log signal the pack reads."""
        names = [c.voltage.name for c in self.cells if not self.mean_cell]
        if self.mean_cell and self.pack_voltage is not None:
            names.append(self.pack_voltage.name)
        names += [self.current.name] + [t.name for t in self.temperatures]
        if self.reference_soc is not None:
            names.append(self.reference_soc.name)
        return list(dict.fromkeys(names))


def _err(source: str, where: str, msg: str) -> PackFileError:
    return PackFileError(f"{source}: {where}: {msg}")


#: |value| of any pack-file number (scales, offsets, periods; epoch offsets in us are ~1.7e15): beyond it
#: a conversion of a 64-bit raw value can overflow float64
MAX_PACK_NUMBER = 1e18


def _num(source: str, where: str, v: Any, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _err(source, where, f"expected a finite number, got {v!r:.60}")
    try:
        finite = math.isfinite(v)
    except OverflowError:  # an integer literal with hundreds of digits
        raise _err(source, where, f"integer with {len(str(abs(v)))} digits is beyond float range") from None
    if not finite:
        raise _err(source, where, f"expected a finite number, got {v!r}")
    if abs(v) > MAX_PACK_NUMBER:
        raise _err(source, where, f"{v:g} is beyond the plausible range (|value| <= {MAX_PACK_NUMBER:g})")
    if positive and v <= 0:
        raise _err(source, where, f"must be positive, got {v}")
    return float(v)


def _signal(source: str, where: str, v: Any) -> Signal:
    if isinstance(v, str) and v:
        return Signal(v)
    if isinstance(v, dict):
        unknown = set(v) - {"signal", "scale", "offset"}
        if unknown:
            raise _err(source, f"{where}.{sorted(unknown)[0]}", "unknown key (expected signal, scale, offset)")
        name = v.get("signal")
        if not isinstance(name, str) or not name:
            raise _err(source, f"{where}.signal", "expected a signal / column name")
        return Signal(name, _num(source, f"{where}.scale", v.get("scale", 1.0)),
                      _num(source, f"{where}.offset", v.get("offset", 0.0)))
    raise _err(source, where, "expected a signal name or {\"signal\": ..., \"scale\": ..., \"offset\": ...}")


def load_pack(path: str | os.PathLike) -> PackSpec:
    """Load and validate a pack file. The cell file is resolved relative to the pack file (or a bundled name)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise PackFileError(f"{path}: byte {e.start}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise PackFileError(f"{path}: cannot read: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise PackFileError(f"{path}: line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}") from None
    except RecursionError:
        raise PackFileError(f"{path}: JSON nested too deeply") from None
    except ValueError as e:  # an integer literal beyond Python's digit limit
        raise PackFileError(f"{path}: invalid JSON: {e}") from None
    return pack_from_dict(data, source=str(path), base_dir=path.parent)


def pack_from_dict(data: dict[str, Any], source: str = "<pack>", base_dir: Path | None = None) -> PackSpec:
    """Validate a pack-file dict (see docs/pack-file.md)."""
    src = source
    if not isinstance(data, dict):
        raise _err(src, "top level", "expected a JSON object")
    if data.get(FORMAT_KEY) != FORMAT_VERSION:
        raise _err(src, f'"{FORMAT_KEY}"', f"expected format version {FORMAT_VERSION}, got {data.get(FORMAT_KEY)!r}")
    known = {FORMAT_KEY, "name", "description", "topology", "cell", "cells", "voltage", "mean_cell", "pack_voltage",
             "current", "temperature", "time", "reference_soc", "can", "gaps", "estimator", "provenance"}
    unknown = set(data) - known
    if unknown:
        raise _err(src, f'"{sorted(unknown)[0]}"', "unknown key")
    topo = data.get("topology")
    if not isinstance(topo, dict):
        raise _err(src, '"topology"', 'missing or not an object ({"series": S, "parallel": P})')
    series, parallel = topo.get("series"), topo.get("parallel", 1)
    if not isinstance(series, int) or isinstance(series, bool) or not 1 <= series <= 1024:
        raise _err(src, "topology.series", f"expected an integer 1..1024, got {series!r}")
    if not isinstance(parallel, int) or isinstance(parallel, bool) or not 1 <= parallel <= 1000:
        raise _err(src, "topology.parallel", f"expected an integer 1..1000, got {parallel!r}")
    cell_ref = data.get("cell")
    if not isinstance(cell_ref, str) or not cell_ref:
        raise _err(src, '"cell"', "expected a cell file path (relative to the pack file) or a bundled cell name")
    cell_path = (base_dir / cell_ref) if base_dir is not None and (base_dir / cell_ref).is_file() else Path(cell_ref)
    try:
        cell = load_cell(str(cell_path) if cell_path.is_file() else cell_ref)
    except ValueError as e:
        raise _err(src, '"cell"', str(e)) from None
    if not isinstance(cell, Cell):
        raise _err(src, '"cell"', f"{cell_ref!r} is a {getattr(cell, 'model', type(cell).__name__)!r} cell; pack "
                   "estimation runs equivalent-circuit cells (\"model\": \"ecm\")")

    temps_raw = data.get("temperature")
    if temps_raw is None:
        raise _err(src, '"temperature"', "missing (a signal, or a list of sensor signals)")
    temps_list = temps_raw if isinstance(temps_raw, list) else [temps_raw]
    if not temps_list or len(temps_list) > MAX_TEMPERATURE_SENSORS:
        raise _err(src, '"temperature"', f"expected 1..{MAX_TEMPERATURE_SENSORS} sensors")
    temperatures = [_signal(src, f"temperature[{i}]", t) for i, t in enumerate(temps_list)]

    cur = data.get("current")
    if cur is None:
        raise _err(src, '"current"', "missing")
    positive = "discharge"
    if isinstance(cur, dict) and "positive" in cur:
        positive = cur["positive"]
        cur = {k: v for k, v in cur.items() if k != "positive"}
        if positive not in ("discharge", "charge"):
            raise _err(src, "current.positive", f'expected "discharge" or "charge", got {positive!r}')
    current = _signal(src, "current", cur)
    if positive == "charge":  # convert at the edge: + = discharge everywhere inside
        current = Signal(current.name, -current.scale, -current.offset)

    mean_cell = bool(data.get("mean_cell", False))
    pack_voltage = None
    cells: list[CellSpec] = []
    # Parallel groups: an element of P cells has P times the capacity and 1/P times the resistance.
    if mean_cell:
        if "cells" in data or "voltage" in data:
            raise _err(src, '"mean_cell"', 'mean-cell mode reads "pack_voltage"; remove "cells" / "voltage"')
        pv = data.get("pack_voltage")
        if pv is None:
            raise _err(src, '"pack_voltage"', "missing (mean-cell mode)")
        pack_voltage = _signal(src, "pack_voltage", pv)
        cells = [CellSpec(Signal(pack_voltage.name, pack_voltage.scale / series, pack_voltage.offset / series),
                          float(parallel), 1.0 / parallel, 0)]
    else:
        cl = data.get("cells")
        if cl is None:
            v = data.get("voltage")
            if not isinstance(v, dict) or not isinstance(v.get("pattern"), str):
                raise _err(src, '"cells"', 'missing: give "cells" (one entry per series element) or '
                           '"voltage": {"pattern": "cell{index:02d}_V"}')
            try:
                names = [v["pattern"].format(index=k + 1) for k in range(series)]
            except (KeyError, IndexError, ValueError) as e:
                raise _err(src, "voltage.pattern", f"cannot format: {e}") from None
            extra = {k: v[k] for k in ("scale", "offset") if k in v}
            cl = [{"voltage": {"signal": n, **extra}} for n in names]
        if not isinstance(cl, list) or len(cl) != series:
            raise _err(src, '"cells"', f"expected a list of {series} entries (topology.series), "
                       f"got {len(cl) if isinstance(cl, list) else type(cl).__name__}")
        for k, c in enumerate(cl):
            where = f"cells[{k}]"
            if isinstance(c, str):
                c = {"voltage": c}
            if not isinstance(c, dict):
                raise _err(src, where, "expected an object or a signal name")
            unknown = set(c) - {"voltage", "capacity_scale", "resistance_scale", "temperature_sensor"}
            if unknown:
                raise _err(src, f"{where}.{sorted(unknown)[0]}", "unknown key")
            if "voltage" not in c:
                raise _err(src, f"{where}.voltage", "missing")
            ts = c.get("temperature_sensor", 0)
            if not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts < len(temperatures):
                raise _err(src, f"{where}.temperature_sensor", f"expected an index 0..{len(temperatures) - 1}, got {ts!r}")
            cs = _num(src, f"{where}.capacity_scale", c.get("capacity_scale", 1.0), positive=True)
            rs = _num(src, f"{where}.resistance_scale", c.get("resistance_scale", 1.0), positive=True)
            if not (0.2 <= cs <= 5 and 0.2 <= rs <= 5):
                raise _err(src, where, f"capacity_scale {cs} / resistance_scale {rs} outside 0.2..5 (a typo?)")
            cells.append(CellSpec(_signal(src, f"{where}.voltage", c["voltage"]), cs * parallel, rs / parallel, ts))
    if len(cells) > MAX_CELLS:
        raise _err(src, '"cells"', f"{len(cells)} series elements; this build handles {MAX_CELLS}")

    time_sig = _signal(src, "time", data["time"]) if "time" in data else None
    ref = _signal(src, "reference_soc", data["reference_soc"]) if "reference_soc" in data else None

    can = data.get("can", {}) or {}
    if not isinstance(can, dict):
        raise _err(src, '"can"', "expected an object")
    period = _num(src, "can.sample_period_s", can.get("sample_period_s", 1.0), positive=True)
    stale = _num(src, "can.stale_s", can.get("stale_s", 5.0 * period), positive=True)
    bus = can.get("bus")
    if bus is not None and (not isinstance(bus, int) or isinstance(bus, bool)):
        raise _err(src, "can.bus", f"expected an integer channel, got {bus!r}")

    est = data.get("estimator", {}) or {}
    if not isinstance(est, dict):
        raise _err(src, '"estimator"', "expected an object")
    filt = est.get("filter", "ekf")
    if filt not in ("ekf", "ukf"):
        raise _err(src, "estimator.filter", f'expected "ekf" or "ukf", got {filt!r}')
    dtype = est.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise _err(src, "estimator.dtype", f'expected "float32" or "float64", got {dtype!r}')
    init = est.get("initial_soc")
    if init is not None:
        init = _num(src, "estimator.initial_soc", init)
        if not 0 <= init <= 1:
            raise _err(src, "estimator.initial_soc", f"must be in 0..1, got {init}")

    g = data.get("gaps", {}) or {}
    if not isinstance(g, dict):
        raise _err(src, '"gaps"', "expected an object")
    gaps = GapSpec(g.get("policy", "rest"), _num(src, "gaps.gap_s", g.get("gap_s", 30.0), positive=True),
                   _num(src, "gaps.reinit_after_s", g.get("reinit_after_s", 3600.0), positive=True))
    if gaps.policy not in ("rest", "reinit"):
        raise _err(src, "gaps.policy", f'expected "rest" or "reinit", got {gaps.policy!r}')
    if gaps.reinit_after_s < gaps.gap_s:
        raise _err(src, "gaps.reinit_after_s", f"must be >= gaps.gap_s ({gaps.gap_s})")
    return PackSpec(name=str(data.get("name") or Path(source).stem), source=src, series=series, parallel=parallel,
                    cell=cell, cells=cells, current=current, temperatures=temperatures, time=time_sig,
                    reference_soc=ref, mean_cell=mean_cell, pack_voltage=pack_voltage, sample_period_s=period,
                    stale_s=stale, can_bus=bus, gaps=gaps, filter=filt, dtype=dtype, initial_soc=init, raw=data)


@dataclass
class PackLog:
    """A pack log converted to the package's conventions (SI units, current + = discharge).

    voltage_V is (n, cells), temperature_degC (n, sensors). `counts` says what the reader skipped."""

    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    temperature_degC: np.ndarray
    reference_soc: np.ndarray | None = None
    source: str = "<memory>"
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.time_s)


def clock_dt(time_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dt per sample by the core's log clock, and the samples on which the clock re-anchored.

    The rule is `cellsense::LogClock` (cpp/include/cellsense/estimator/log_clock.hpp), the one the single-cell
    estimators' whole-log loop runs, so a cell and a pack see the same clock. dt is what the pack binding and
    the replay link take: NaN = no step (the first finite sample sets the clock: "initial"; the
    CLOCK_REANCHOR_AFTER-th backwards timestamp in a row re-anchors it: `reanchored` True), +inf = a step on a
    non-finite time (every cell rejects it as non-finite, state unchanged), otherwise time - clock (<= 0 for a
    repeated or backwards timestamp: rejected)."""
    core = _core()
    out = core.log_clock(np.ascontiguousarray(time_s, dtype=float))
    return out["dt_s"], out["action"] == core.CLOCK_ACTION_REANCHOR


def step_dt(time_s: np.ndarray) -> np.ndarray:
    """dt per sample by the core's clock rule (`clock_dt`): NaN where a sample only sets the clock."""
    return clock_dt(time_s)[0]


def mark_reanchored(status: np.ndarray, event: np.ndarray, reanchored: np.ndarray) -> None:
    """Label the samples on which the clock re-anchored (run with dt NaN: no step) in place."""
    m = np.asarray(reanchored, bool)[:len(event)]
    status[:len(m)][m] = STATUS_CLOCK_REANCHORED
    event[:len(m)][m] = EVENT_CLOCK_REANCHORED


def status_names() -> dict[int, str]:
    """Per-cell status code -> name: the core's one status code space (step, pack gap and log-clock codes)."""
    return {int(k): str(v) for k, v in _core().status_names().items()}


@dataclass
class PackResult:
    time_s: np.ndarray
    dt_s: np.ndarray
    status: np.ndarray       #: (n, cells) uint8
    soc: np.ndarray          #: (n, cells) in the estimator's dtype
    soc_sigma: np.ndarray    #: (n, cells)
    event: np.ndarray        #: (n,) uint8 (EVENTS)
    summary: dict[str, np.ndarray]  #: usable_soc, soc_min, soc_max, soc_mean, imbalance, dischargeable_Ah, ...
    reference_soc: np.ndarray | None = None

    def counts(self) -> dict[str, int]:
        names = status_names()
        codes, n = np.unique(self.status, return_counts=True)
        return {names.get(int(c), str(c)): int(k) for c, k in zip(codes, n)}


class PackEstimator:
    """Pack estimation over the core: one estimator per series element, shared parameters."""

    def __init__(self, spec: PackSpec, filter: str | None = None, dtype: str | None = None,
                 noise=None, settings=None) -> None:
        self.spec = spec
        self.filter = filter or spec.filter
        self.dtype = dtype or spec.dtype
        if self.filter not in ("ekf", "ukf") or self.dtype not in ("float32", "float64"):
            raise ValueError(f"filter {self.filter!r} / dtype {self.dtype!r}")
        noise = noise or NoiseSettings()
        self.noise = replace(noise, voltage_sigma_V=resolve_voltage_sigma(noise, spec.cell))
        self.settings = settings or EstimatorSettings()
        gap_s = min(spec.gaps.gap_s, self.settings.dt_max_s)
        self.gap_s = gap_s
        self._cls = getattr(_core(), f"Pack{self.filter.capitalize()}{spec.cell.rc_pairs}_"
                                     f"{'f32' if self.dtype == 'float32' else 'f64'}")

    def settings_dict(self) -> dict[str, float]:
        """Every scalar setting, as the core and the HIL configuration frame take them."""
        s, n, g = self.settings, self.noise, self.spec.gaps
        return {"dt_max_s": s.dt_max_s, "soc_min": s.soc_min, "soc_max": s.soc_max,
                "voltage_sigma_V": n.voltage_sigma_V, "gate_nis": s.gate_nis,
                "gate_predict_only": 1.0 if s.gate_predict_only else 0.0,
                "gate_timeout_steps": float(s.gate_timeout_steps),
                "soc_per_sqrt_s": n.soc_per_sqrt_s, "v_rc_V_per_sqrt_s": n.v_rc_V_per_sqrt_s,
                "hysteresis_per_sqrt_s": n.hysteresis_per_sqrt_s, "current_sigma_A": n.current_sigma_A,
                "initial_soc_sigma": n.initial_soc_sigma, "initial_v_rc_sigma_V": n.initial_v_rc_sigma_V,
                "initial_hysteresis": n.initial_hysteresis, "initial_hysteresis_sigma": n.initial_hysteresis_sigma,
                "usable_soc_low": 0.0, "usable_soc_high": 1.0, "gap_reinit": 1.0 if g.policy == "reinit" else 0.0,
                "gap_s": self.gap_s, "reinit_after_s": max(g.reinit_after_s, self.gap_s),
                "ukf_alpha": s.ukf_alpha, "ukf_beta": s.ukf_beta, "ukf_kappa": s.ukf_kappa}

    def initial_soc(self, log: PackLog) -> np.ndarray:
        """Per cell: the pack file's initial SOC, else OCV^-1 of the cell's first finite voltage (rested start)."""
        nc = self.spec.n_cells
        if self.spec.initial_soc is not None:
            return np.full(nc, float(self.spec.initial_soc))
        out = np.full(nc, 0.5)
        for k in range(nc):
            v = log.voltage_V[:, k]
            sensor = self.spec.cells[k].temperature_sensor
            ok = np.nonzero(np.isfinite(v) & np.isfinite(log.temperature_degC[:, sensor]))[0]
            if ok.size:
                out[k] = self.spec.cell.soc_from_ocv(float(v[ok[0]]), float(log.temperature_degC[ok[0], sensor]))
        return np.clip(out, self.settings.soc_min, self.settings.soc_max)

    def make_core(self, initial_soc: np.ndarray):
        sd = self.settings_dict()
        return self._cls(self.spec.cell.core_params(), np.array([c.capacity_scale for c in self.spec.cells]),
                         np.array([c.resistance_scale for c in self.spec.cells]), np.asarray(initial_soc, float),
                         sd, {"alpha": sd["ukf_alpha"], "beta": sd["ukf_beta"], "kappa": sd["ukf_kappa"]})

    def cell_sensor(self) -> np.ndarray:
        return np.array([c.temperature_sensor for c in self.spec.cells], dtype=np.int32)

    def run(self, log: PackLog, initial_soc: np.ndarray | None = None) -> PackResult:
        """The whole log in C++ (GIL released)."""
        soc0 = self.initial_soc(log) if initial_soc is None else np.asarray(initial_soc, float)
        core = self.make_core(soc0)
        dt, reanchored = clock_dt(log.time_s)
        out = core.run(dt, np.ascontiguousarray(log.current_A, float), np.ascontiguousarray(log.voltage_V, float),
                       np.ascontiguousarray(log.temperature_degC, float), self.cell_sensor())
        mark_reanchored(out["status"], out["event"], reanchored)
        self.last_core = core  # the pack's state at the log's end (cellsense.estimators.power.pack_power_limits_now)
        summary = {k: out[k] for k in ("usable_soc", "soc_min", "soc_max", "soc_mean", "imbalance", "dischargeable_Ah",
                                       "chargeable_Ah", "index_min", "index_max", "n_rejected")}
        return PackResult(time_s=np.asarray(log.time_s, float), dt_s=dt, status=out["status"], soc=out["soc"],
                          soc_sigma=out["soc_sigma"], event=out["event"], summary=summary,
                          reference_soc=log.reference_soc)

    @staticmethod
    def sizeof_cell(filter: str = "ekf", rc_pairs: int = 2, dtype: str = "float32") -> int:
        """Host bytes of one cell's estimator inside a pack (the MCU figure comes from the firmware)."""
        return getattr(_core(), f"Pack{filter.capitalize()}{rc_pairs}_{'f32' if dtype == 'float32' else 'f64'}").sizeof_cell
