"""The pack description file (docs/pack-file.md): how a log maps onto the pack - series (and parallel) topology,
the cell file, each series element's voltage signal and its capacity / resistance spread, the current and
temperature sensors with their scaling and sign, an optional reference SOC, and how time gaps are handled.
`load_pack()` validates it; errors name the file and the field."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import file_number
from ..cells.ecm import Cell
from ..cells.load import load_cell


FORMAT_KEY = "cellsense pack file"
FORMAT_VERSION = 1
MAX_CELLS = 512          #: the Python build's capacity (python/bindings/pack.cpp kMaxCells)
MAX_TEMPERATURE_SENSORS = 16


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
    cell_file: str | None = None     #: the cell file read (None: a bundled cell)

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
    """A pack-file number (the one check, _io.file_number), errors naming the file and the field."""
    return file_number(lambda w, msg: _err(source, w, msg), where, v, MAX_PACK_NUMBER, "the plausible range", positive)


def _signal(source: str, where: str, v: Any, extra: tuple[str, ...] = ()) -> Signal:
    if isinstance(v, str) and v:
        return Signal(v)
    if isinstance(v, dict):
        unknown = set(v) - {"signal", "scale", "offset"}
        if unknown:
            keys = ", ".join(("signal", "scale", "offset") + extra)
            raise _err(source, f"{where}.{sorted(unknown)[0]}", f"unknown key (expected {keys})")
        name = v.get("signal")
        if not isinstance(name, str) or not name:
            raise _err(source, f"{where}.signal", "expected a signal / column name")
        return Signal(name, _num(source, f"{where}.scale", v.get("scale", 1.0)),
                      _num(source, f"{where}.offset", v.get("offset", 0.0)))
    raise _err(source, where, "expected a signal name or {\"signal\": ..., \"scale\": ..., \"offset\": ...}")


#: the keys each pack-file section takes (docs/pack-file.md); any other is refused, naming the file and the key path
SECTION_KEYS = {"topology": ("series", "parallel"), "voltage": ("pattern", "scale", "offset"),
                "can": ("sample_period_s", "stale_s", "bus"), "gaps": ("policy", "gap_s", "reinit_after_s"),
                "estimator": ("filter", "dtype", "initial_soc")}


def _refuse_unknown_keys(source: str, where: str, section: dict) -> None:
    """A typo in a section ("gap": 5, "filtr": "ukf") was ignored: the default ran instead of what was written."""
    unknown = sorted(set(section) - set(SECTION_KEYS[where]), key=str)
    if unknown:
        raise _err(source, f"{where}.{unknown[0]}", f"unknown key (expected {', '.join(SECTION_KEYS[where])})")


def _refuse_shared_voltage(src: str, cells: list[CellSpec], listed: bool) -> None:
    """Each series element reads its own voltage signal: the same one twice (a copied line) would run two estimators
    on one cell and none on the other, with every figure of the pack quietly wrong."""
    first: dict[str, int] = {}
    for k, c in enumerate(cells):
        j = first.setdefault(c.voltage.name, k)
        if j == k:
            continue
        if not listed:
            raise _err(src, "voltage.pattern", f"gives \"{c.voltage.name}\" for index {j + 1} and {k + 1}: put "
                       "{index} in it (e.g. \"cell{index:02d}_V\")")
        raise _err(src, f"cells[{k}].voltage", f"\"{c.voltage.name}\" is also cells[{j}].voltage: each series element "
                   "needs its own voltage signal")


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
    _refuse_unknown_keys(src, "topology", topo)
    series, parallel = topo.get("series"), topo.get("parallel", 1)
    if not isinstance(series, int) or isinstance(series, bool) or not 1 <= series <= 1024:
        raise _err(src, "topology.series", f"expected an integer 1..1024, got {series!r}")
    if not isinstance(parallel, int) or isinstance(parallel, bool) or not 1 <= parallel <= 1000:
        raise _err(src, "topology.parallel", f"expected an integer 1..1000, got {parallel!r}")
    cell_ref = data.get("cell")
    if not isinstance(cell_ref, str) or not cell_ref:
        raise _err(src, '"cell"', "expected a cell file path (relative to the pack file) or a bundled cell name")
    cell_path = (base_dir / cell_ref) if base_dir is not None and (base_dir / cell_ref).is_file() else Path(cell_ref)
    cell_file = str(cell_path) if cell_path.is_file() else None
    try:
        cell = load_cell(cell_file or cell_ref)
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
    current = _signal(src, "current", cur, extra=("positive",))
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
        if cl is not None and "voltage" in data:  # one of the two says where the cell voltages are, not both
            raise _err(src, '"voltage"', 'given with "cells": the cells\' own "voltage" entries are read; remove one '
                       'of the two')
        if cl is None:
            v = data.get("voltage")
            if not isinstance(v, dict) or not isinstance(v.get("pattern"), str):
                raise _err(src, '"cells"', 'missing: give "cells" (one entry per series element) or '
                           '"voltage": {"pattern": "cell{index:02d}_V"}')
            _refuse_unknown_keys(src, "voltage", v)
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
        _refuse_shared_voltage(src, cells, "cells" in data)
    if len(cells) > MAX_CELLS:
        raise _err(src, '"cells"', f"{len(cells)} series elements; this build handles {MAX_CELLS}")

    time_sig = _signal(src, "time", data["time"]) if "time" in data else None
    ref = _signal(src, "reference_soc", data["reference_soc"]) if "reference_soc" in data else None

    can = data.get("can", {}) or {}
    if not isinstance(can, dict):
        raise _err(src, '"can"', "expected an object")
    _refuse_unknown_keys(src, "can", can)
    period = _num(src, "can.sample_period_s", can.get("sample_period_s", 1.0), positive=True)
    stale = _num(src, "can.stale_s", can.get("stale_s", 5.0 * period), positive=True)
    bus = can.get("bus")
    if bus is not None and (not isinstance(bus, int) or isinstance(bus, bool)):
        raise _err(src, "can.bus", f"expected an integer channel, got {bus!r}")

    est = data.get("estimator", {}) or {}
    if not isinstance(est, dict):
        raise _err(src, '"estimator"', "expected an object")
    _refuse_unknown_keys(src, "estimator", est)
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
    _refuse_unknown_keys(src, "gaps", g)
    gaps = GapSpec(g.get("policy", "rest"), _num(src, "gaps.gap_s", g.get("gap_s", 30.0), positive=True),
                   _num(src, "gaps.reinit_after_s", g.get("reinit_after_s", 3600.0), positive=True))
    if gaps.policy not in ("rest", "reinit"):
        raise _err(src, "gaps.policy", f'expected "rest" or "reinit", got {gaps.policy!r}')
    if gaps.reinit_after_s < gaps.gap_s:
        raise _err(src, "gaps.reinit_after_s", f"must be >= gaps.gap_s ({gaps.gap_s})")
    return PackSpec(name=str(data.get("name") or Path(source).stem), source=src, series=series, parallel=parallel,
                    cell=cell, cells=cells, current=current, temperatures=temperatures, time=time_sig,
                    reference_soc=ref, mean_cell=mean_cell, pack_voltage=pack_voltage, sample_period_s=period,
                    stale_s=stale, can_bus=bus, gaps=gaps, filter=filt, dtype=dtype, initial_soc=init, raw=data,
                    cell_file=cell_file)
