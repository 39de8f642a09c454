"""`cellsense convert`: importers at the edge for measured data, to the cell-log CSV.

Formats:

- `panasonic`: P. Kollmeyer, "Panasonic 18650PF Li-ion Battery Data", Mendeley Data V1, 2018,
  doi:10.17632/wykht8y7tg.1 (CC BY 4.0). Columns Time [s], Voltage [V], Current [A, NEGATIVE =
  discharge], Ah [tester coulomb counter], ..., Battery_Temp_degC. CSV, optionally gzip.
- `nasa`: B. Saha and K. Goebel (2007), "Battery Data Set", NASA Ames Prognostics Data Repository:
  the per-discharge time-series table (discharge_index, time_s, voltage_measured_V,
  current_measured_A [NEGATIVE = discharge], temperature_measured_C), one discharge selected.

`convert_panasonic_hppc` merges a 5-pulse HPPC file with its interpulse-discharge file into one
continuous log (the source splits every HPPC run in two files with offset clocks); it refuses a pair recorded at
different temperatures (by their file names, then by their measured Battery_Temp_degC).

Both importers negate the current (cellsense: + = discharge), drop rows whose timestamp repeats the
previous one exactly (logger duplicates; counted and reported), and refuse malformed lines with the
file and line named, and a soc_true outside [SOC_TRUE_FLOOR, 1 + SOC_TRUE_CEILING_TOL]. Other time irregularities
are kept: the estimator rejects them visibly.
"""
from __future__ import annotations

import csv
import gzip
import math
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import check_outputs
from .logs import CellLog, write_cell_log

FORMATS = ("panasonic", "nasa")


@dataclass
class ConvertReport:
    rows_in: int
    rows_out: int
    duplicates_dropped: int
    notes: list[str] = field(default_factory=list)


class ConvertError(ValueError):
    """A source file (or option) `cellsense convert` cannot use: the message names the file, line and column or
    the option. A ValueError, so the CLI reports it in one line with exit status 2."""


#: plausible range of a logged temperature (degC); a value outside is a logger fault / sentinel, refused
TEMPERATURE_RANGE_DEGC = (-100.0, 200.0)
_RANGES = {"Battery_Temp_degC": TEMPERATURE_RANGE_DEGC, "temperature_measured_C": TEMPERATURE_RANGE_DEGC}
_READ_ERRORS = (csv.Error, OSError, EOFError, zlib.error)   # gzip.BadGzipFile is an OSError


class _Lines:
    """The text lines of a (possibly gzipped) file, decoded as UTF-8 one line at a time, so a bad byte is
    reported with its line; `n` = lines read so far."""

    def __init__(self, path: Path, raw):
        self.path, self.raw, self.n = path, raw, 0

    def __iter__(self):
        for b in self.raw:
            self.n += 1
            try:
                s = b.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ConvertError(f"{self.path}: line {self.n}: byte {b[e.start]:#04x} at position {e.start + 1} "
                                   "is not UTF-8 text (the file must be UTF-8 or ASCII)") from None
            yield s[1:] if self.n == 1 and s.startswith("\ufeff") else s


def _open_lines(path: Path) -> tuple[_Lines, object]:
    raw = open(path, "rb")
    head = raw.read(2)
    raw.seek(0)
    return _Lines(path, gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw), raw


def _read_error(path: Path, lines: _Lines, e: BaseException) -> ConvertError:
    what = "corrupt or truncated gzip data" if isinstance(e, (zlib.error, EOFError, gzip.BadGzipFile)) else \
        (e.strerror if isinstance(e, OSError) and e.strerror else str(e))
    where = f"line {max(lines.n, 1)}" if isinstance(e, csv.Error) or lines.n == 0 else f"after line {lines.n}"
    return ConvertError(f"{path}: {where}: cannot read: {what} ({e})")


def _read_columns(path: Path, wanted: list[str], row_filter=None) -> tuple[dict[str, np.ndarray], int]:
    try:
        lines, raw = _open_lines(path)
    except OSError as e:
        raise ConvertError(f"{path}: cannot open: {e.strerror}") from None
    with raw:
        reader = csv.reader(lines)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ConvertError(f"{path}: line 1: empty file") from None
        except _READ_ERRORS as e:
            raise _read_error(path, lines, e) from None
        missing = [w for w in wanted if w not in header]
        if missing:
            raise ConvertError(f"{path}: line 1: missing column(s) {', '.join(missing)}; header is {','.join(header)}")
        idx = [header.index(w) for w in wanted]
        ranges = [_RANGES.get(w) for w in wanted]
        out: list[list[float]] = []
        n_in = 0
        try:
            for row in reader:
                if not row:
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise ConvertError(f"{path}: line {line}: {len(row)} fields, header has {len(header)}")
                if row_filter is not None and not row_filter(row, header):
                    continue
                n_in += 1
                vals = []
                for w, i, rng in zip(wanted, idx, ranges):
                    try:
                        x = float(row[i])
                    except ValueError:
                        raise ConvertError(f"{path}: line {line}: column {w}: not a number: {row[i]!r}") from None
                    if not math.isfinite(x):
                        raise ConvertError(f"{path}: line {line}: column {w}: not a finite number: {row[i]!r}")
                    if rng is not None and not rng[0] <= x <= rng[1]:
                        raise ConvertError(f"{path}: line {line}: column {w}: {row[i]!r} is outside the plausible "
                                           f"range [{rng[0]:g}, {rng[1]:g}] degC")
                    vals.append(x)
                vals.append(line)
                out.append(vals)
        except _READ_ERRORS as e:
            raise _read_error(path, lines, e) from None
    if not out:
        raise ConvertError(f"{path}: no data rows")
    a = np.array(out, dtype=float)
    cols = {w: a[:, k] for k, w in enumerate(wanted)}
    cols["_line"] = a[:, -1].astype(np.int64)   # each row's line in the file (for messages)
    return cols, n_in


#: a time step longer than this (s) in a Panasonic `*_HPPC_5pulse` file is where an interpulse discharge happened
INTERPULSE_GAP_S = 100.0


def _soc_capacity(path, capacity_Ah: float | None, own_Ah: float) -> float:
    """The capacity soc_true is counted against, in every converter: `capacity_Ah` if given (positive, finite),
    else `own_Ah`, the file's own discharged charge. ValueError otherwise."""
    if capacity_Ah is None:
        if not (own_Ah > 0 and math.isfinite(own_Ah)):
            raise ValueError(f"{path}: no discharged charge to take as the soc_true reference ({own_Ah!r} Ah); "
                             "give the capacity (--capacity-Ah)")
        return float(own_Ah)
    if not (capacity_Ah > 0 and math.isfinite(capacity_Ah)):
        raise ValueError(f"capacity_Ah must be positive, got {capacity_Ah}")
    return float(capacity_Ah)


#: soc_true below this means the file discharged more than the capacity it is counted against: refused
SOC_TRUE_FLOOR = -0.2
#: soc_true above 1 + this means the file took in more charge than it had given since its first row (the full-charge
#: reference): refused. 0.02 of the reference capacity (58 mAh at 2.9 Ah, 72 s at 1C) covers what a run that starts
#: full may legitimately count in: regen in a drive cycle's first seconds, a recharge's coulombic loss (< 1 %) and
#: a current-offset drift; none of the 20 bundled Panasonic runs goes above 1.0 at all. More is a run that did not
#: start full (the reference is wrong), or charge counted into a discharge.
SOC_TRUE_CEILING_TOL = 0.02


def _where(paths, cols: dict, k: int) -> str:
    """'FILE: line N (time X s)' for row k of `cols` (a merged log: which file by cols['src'], and its time)."""
    src = int(cols["src"][k]) if "src" in cols else 0
    t0 = cols["t0"][k] if "t0" in cols else cols["t"][k]
    return (f"{paths[src]}: line {int(cols['line'][k])} (time {t0:g} s"
            + (f"; t = {cols['t'][k]:.3f} s in the merged log)" if "t0" in cols else ")"))


def _check_soc(path, soc: np.ndarray, capacity_Ah: float, discharged_Ah: float, cols: dict, paths=None) -> None:
    """Refuse a reference capacity the file's own discharge exceeds (soc_true < SOC_TRUE_FLOOR), and a soc_true that
    rises above 1 + SOC_TRUE_CEILING_TOL, naming the file, line and time of its first such row."""
    if soc.size and float(soc.min()) < SOC_TRUE_FLOOR:
        raise ConvertError(f"{path}: the file discharges {discharged_Ah:.4f} Ah, more than --capacity-Ah "
                           f"{capacity_Ah:g} Ah (soc_true would fall to {float(soc.min()):.4g}); give the cell's "
                           "capacity, or omit --capacity-Ah")
    over = np.flatnonzero(soc > 1.0 + SOC_TRUE_CEILING_TOL)
    if over.size:
        k, top = int(over[0]), int(np.argmax(soc))
        raise ConvertError(f"{_where(paths or [path], cols, k)}: soc_true {soc[k]:.4f} is above 1 + "
                           f"{SOC_TRUE_CEILING_TOL:g} (it peaks at {soc[top]:.4f}, {(soc[top] - 1) * capacity_Ah:.4f} Ah "
                           f"charged in beyond the first row, which is taken as full, against {capacity_Ah:.4f} Ah): "
                           "the run does not start full, or its current / Ah counts charge as discharge; convert a "
                           "run that starts from full charge")


def _check_current_sign(path, t: np.ndarray, i: np.ndarray, ah: np.ndarray) -> None:
    """Panasonic: the coulomb count of the Current column (i here + = discharge, row k held over
    (t[k-1], t[k]]) must agree in sign with the tester's Ah counter (negative on discharge). Steps longer than
    INTERPULSE_GAP_S (unlogged interpulse discharges) are left out. A clear disagreement is refused, saying
    which column looks flipped (the files start full, so the Ah counter should fall)."""
    dt, dah = np.diff(t), np.diff(ah)
    ok = dt <= INTERPULSE_GAP_S
    dq, dah = (i[1:] * dt / 3600.0)[ok], -dah[ok]
    norm = math.sqrt(float(np.dot(dq, dq)) * float(np.dot(dah, dah)))
    if norm <= 0:
        return
    cos = float(np.dot(dq, dah)) / norm
    if cos >= -0.5:
        return
    net_ah = float(ah[-1] - ah[0])
    lo = float((ah - ah[0]).min())
    hi = float((ah - ah[0]).max())
    if -lo >= hi:
        which = (f"the Ah counter falls (to {lo:.4f} Ah), as it should from a full start, so the Current column looks "
                 "negated (this format logs discharge NEGATIVE)")
    else:
        which = (f"the Ah counter rises (to {hi:+.4f} Ah) where a discharge from full should make it fall, so the Ah "
                 "column looks negated")
    raise ConvertError(f"{path}: column Current: its coulomb count ({float(dq.sum()):+.4f} Ah discharged) disagrees in "
                       f"sign with the Ah column ({-net_ah:+.4f} Ah discharged; step correlation {cos:.2f}): {which}")


def _drop_repeated_times(cols: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    t = cols["t"]
    keep = np.r_[True, np.diff(t) != 0.0]
    return {k: v[keep] for k, v in cols.items()}, int((~keep).sum())


def convert_panasonic(path: str | os.PathLike, capacity_Ah: float | None = 2.9) -> tuple[CellLog, ConvertReport]:
    """Panasonic 18650PF file -> CellLog. soc_true = 1 + Ah / capacity_Ah (the files start full and the
    tester's Ah counts discharge negative); capacity_Ah=None uses the file's own discharged charge
    (max(-Ah)), i.e. SOC 0 at the cut-off. For files whose Ah counter does not start at 0 (the 1C
    capacity tests) the first row's Ah is taken as the full-charge reference."""
    path = Path(path)
    cols, n_in = _read_columns(path, ["Time", "Voltage", "Current", "Ah", "Battery_Temp_degC"])
    cols = {"t": cols["Time"], "v": cols["Voltage"], "i": -cols["Current"], "ah": cols["Ah"], "T": cols["Battery_Temp_degC"],
            "line": cols["_line"]}
    cols, dups = _drop_repeated_times(cols)
    _check_current_sign(path, cols["t"], cols["i"], cols["ah"])
    ah = cols["ah"] - cols["ah"][0]
    own = capacity_Ah is None
    capacity_Ah = _soc_capacity(path, capacity_Ah, float(-ah.min()))
    notes = [f"soc_true reference: the file's own discharged charge, {capacity_Ah:.4f} Ah" if own
             else f"soc_true reference: {capacity_Ah:.4f} Ah"]
    soc = 1.0 + ah / capacity_Ah
    _check_soc(path, soc, capacity_Ah, float(-ah.min()), cols)
    log = CellLog(cols["t"], cols["i"], cols["v"], cols["T"], soc, str(path))
    return log, ConvertReport(n_in, len(log), dups, notes)


def interpulse_clock_offset(pulse_cols: dict, ip_cols: dict, path="") -> float:
    """Offset (s) to add to a Panasonic `*_HPPC_interpulse_discharges` file's Time to put it on the clock of
    its `*_HPPC_5pulse` file. The 5-pulse file has a time gap (with a jump of its Ah counter) where each
    10 % SOC discharge happened; the interpulse file logs those discharges (60 s logging) and its first
    row lies |Ah jump into the first discharge| / |current| after the start of the first gap."""
    t, ah = pulse_cols["t"], pulse_cols["ah"]
    gaps = np.flatnonzero(np.diff(t) > INTERPULSE_GAP_S)
    if not len(gaps):
        raise ValueError(f"{path}: the 5-pulse file has no time gaps (interpulse discharges) to merge into")
    k = int(gaps[0])
    i0 = float(ip_cols["i"][0])
    if abs(i0) <= 0:
        raise ValueError(f"{path}: the interpulse file does not start in a discharge")
    return float(t[k] + (ah[k] - ip_cols["ah"][0]) / abs(i0) * 3600.0)


#: the chamber temperature in a Panasonic file name: `25degC_...`, `n10degC_...` (a leading n is a minus sign)
_NAME_TEMPERATURE = re.compile(r"(?<![0-9A-Za-z.])(n|-)?(\d+(?:\.\d+)?)deg_?C", re.IGNORECASE)
#: the most the measured temperatures of an HPPC 5-pulse file and its interpulse file may differ (degC): the median
#: Battery_Temp_degC of the interpulse rows merged vs that of the 5-pulse rows at the edges of its gaps. The bundled
#: pairs differ by <= 1.1 degC (self-heating in the 1C interpulse discharges), the dataset's chamber temperatures are
#: 10 degC or more apart (-20, -10, 0, 10, 25): half that step.
HPPC_TEMPERATURE_TOL_DEGC = 5.0


def name_temperature(path) -> float | None:
    """The temperature a file's name gives (`n20degC_HPPC_5pulse.csv.gz` -> -20.0), or None."""
    m = _NAME_TEMPERATURE.search(Path(path).name)
    return None if m is None else (-1.0 if m.group(1) else 1.0) * float(m.group(2))


def _check_same_temperature(pulse_path: Path, interpulse_path: Path, pulse_T=None, interpulse_T=None) -> None:
    """Refuse merging an HPPC 5-pulse file with an interpulse file from another temperature: by their file names
    (pulse_T / interpulse_T None), then by their measured Battery_Temp_degC (the arrays: HPPC_TEMPERATURE_TOL_DEGC)."""
    if pulse_T is None:
        a, b = name_temperature(pulse_path), name_temperature(interpulse_path)
        if a is None or b is None or a == b:
            return
        what = f"{a:g} degC and {b:g} degC by their file names"
        ta, tb = f"{a:g} degC", f"{b:g} degC"
    else:
        a, b = float(np.median(pulse_T)), float(np.median(interpulse_T))
        if abs(a - b) <= HPPC_TEMPERATURE_TOL_DEGC:
            return
        what = (f"measured (column Battery_Temp_degC, median) {a:.1f} degC in the 5-pulse file at its interpulse gaps "
                f"and {b:.1f} degC in the {len(interpulse_T)} interpulse rows merged into them, more than "
                f"{HPPC_TEMPERATURE_TOL_DEGC:g} degC apart")
        ta, tb = f"{a:.1f} degC", f"{b:.1f} degC"
    raise ConvertError(f"--input {pulse_path} ({ta}) and --interpulse {interpulse_path} ({tb}) were recorded at "
                       f"different temperatures: {what}; merge the interpulse file of the same HPPC run (the same "
                       "<T>_HPPC prefix)")


def convert_panasonic_hppc(pulse_path: str | os.PathLike, interpulse_path: str | os.PathLike,
                           capacity_Ah: float | None = 2.9) -> tuple[CellLog, ConvertReport]:
    """Merge a Panasonic `<T>_HPPC_5pulse` file and its `<T>_HPPC_interpulse_discharges` file into one
    continuous cell log (current + = discharge). The interpulse rows are moved onto the 5-pulse clock
    (`interpulse_clock_offset`); only those that fall into the 5-pulse file's time gaps, and the final
    discharge after its end (contiguous, tester Ah still decreasing, V > 1 V), are used: later unrelated
    runs and disconnected (V ~ 0) sections in the interpulse files are ignored. Row k's current is
    held over (t[k-1], t[k]], so the merged log's coulomb count reproduces the tester's Ah counter.
    soc_true = 1 + Ah / capacity_Ah as in `convert_panasonic` (the HPPC starts full)."""
    pulse_path, interpulse_path = Path(pulse_path), Path(interpulse_path)
    _check_same_temperature(pulse_path, interpulse_path)   # by name, before the files are read
    wanted = ["Time", "Voltage", "Current", "Ah", "Battery_Temp_degC"]
    a, n_a = _read_columns(pulse_path, wanted)
    b, n_b = _read_columns(interpulse_path, wanted)
    A = {"t": a["Time"], "v": a["Voltage"], "i": -a["Current"], "ah": a["Ah"], "T": a["Battery_Temp_degC"],
         "line": a["_line"], "t0": a["Time"], "src": np.zeros(len(a["Time"]), np.int64)}
    B = {"t": b["Time"], "v": b["Voltage"], "i": -b["Current"], "ah": b["Ah"], "T": b["Battery_Temp_degC"],
         "line": b["_line"], "t0": b["Time"], "src": np.ones(len(b["Time"]), np.int64)}
    A, dA = _drop_repeated_times(A)
    B, dB = _drop_repeated_times(B)
    _check_current_sign(pulse_path, A["t"], A["i"], A["ah"])
    _check_current_sign(interpulse_path, B["t"], B["i"], B["ah"])
    off = interpulse_clock_offset(A, {"i": -B["i"], "ah": B["ah"]}, interpulse_path)
    tm = B["t"] + off
    keep = np.zeros(len(tm), bool)
    t = A["t"]
    gaps = np.flatnonzero(np.diff(t) > INTERPULSE_GAP_S)
    for k in gaps:
        keep |= (tm > t[k]) & (tm < t[k + 1])
    j = int(np.searchsorted(tm, t[-1], side="right"))
    prev_ah, prev_t = A["ah"][-1], t[-1]
    while j < len(tm) and B["ah"][j] <= prev_ah + 1e-9 and B["v"][j] > 1.0 and tm[j] - prev_t < 600.0:
        keep[j] = True
        prev_ah, prev_t = B["ah"][j], tm[j]
        j += 1
    if keep.any():
        _check_same_temperature(pulse_path, interpulse_path, A["T"][np.r_[gaps, gaps + 1]], B["T"][keep])
    merged = {k: np.r_[A[k], (tm if k == "t" else B[k])[keep]] for k in A}
    order = np.argsort(merged["t"], kind="stable")
    merged = {k: v[order] for k, v in merged.items()}
    merged, d2 = _drop_repeated_times(merged)
    discharged = float(-(merged["ah"] - merged["ah"][0]).min())
    capacity_Ah = _soc_capacity(pulse_path, capacity_Ah, discharged)
    soc = 1.0 + (merged["ah"] - merged["ah"][0]) / capacity_Ah
    _check_soc(pulse_path, soc, capacity_Ah, discharged, merged, [pulse_path, interpulse_path])
    log = CellLog(merged["t"], merged["i"], merged["v"], merged["T"], soc, f"{pulse_path}+{interpulse_path.name}")
    notes = [f"merged {int(keep.sum())} interpulse rows (clock offset {off:.3f} s)",
             f"soc_true reference: {capacity_Ah:.4f} Ah"]
    return log, ConvertReport(n_a + n_b, len(log), dA + dB + d2, notes)


def convert_nasa(path: str | os.PathLike, discharge_index: int, capacity_Ah: float | None = None) -> tuple[CellLog, ConvertReport]:
    """One discharge of a NASA PCoE time-series table -> CellLog. soc_true = 1 - (discharged charge) /
    capacity_Ah (None: that discharge's own charge, so SOC runs 1 -> 0)."""
    path = Path(path)
    key = str(int(discharge_index))
    cols, n_in = _read_columns(path, ["time_s", "voltage_measured_V", "current_measured_A", "temperature_measured_C"],
                               row_filter=lambda row, header: row[header.index("discharge_index")] == key)
    cols = {"t": cols["time_s"], "v": cols["voltage_measured_V"], "i": -cols["current_measured_A"],
            "T": cols["temperature_measured_C"], "line": cols["_line"]}
    cols, dups = _drop_repeated_times(cols)
    dt = np.diff(cols["t"], prepend=cols["t"][0])
    q = np.cumsum(cols["i"] * dt) / 3600.0   # row k's current held over (t[k-1], t[k]]
    capacity_Ah = _soc_capacity(path, capacity_Ah, float(q[-1]))
    soc = 1.0 - q / capacity_Ah
    _check_soc(path, soc, capacity_Ah, float(q.max()), cols)
    log = CellLog(cols["t"], cols["i"], cols["v"], cols["T"], soc, str(path))
    return log, ConvertReport(n_in, len(log), dups, [f"discharge {key}; soc_true reference {capacity_Ah:.4f} Ah"])


def convert(fmt: str, source: str | os.PathLike, out: str | os.PathLike | None = None, capacity_Ah: float | None = None,
            discharge_index: int | None = None, interpulse: str | os.PathLike | None = None) -> tuple[CellLog, ConvertReport]:
    """Convert a measured file to the cell-log format; write it to `out` (atomically) if given.
    panasonic + `interpulse`: `source` is a `*_HPPC_5pulse` file, merged with that interpulse file."""
    if interpulse is not None and fmt != "panasonic":
        raise ValueError("--interpulse applies to --format panasonic only")
    if out is not None:   # before anything is read: never overwrite a source
        check_outputs({"--out": out}, [("--input", source), ("--interpulse", interpulse)])
    if fmt == "panasonic" and interpulse is not None:
        log, rep = convert_panasonic_hppc(source, interpulse, capacity_Ah if capacity_Ah is not None else 2.9)
    elif fmt == "panasonic":
        log, rep = convert_panasonic(source, capacity_Ah if capacity_Ah is not None else 2.9)
    elif fmt == "nasa":
        if discharge_index is None:
            raise ValueError("nasa: --discharge-index is required")
        log, rep = convert_nasa(source, discharge_index, capacity_Ah)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if out is not None:
        try:
            write_cell_log(out, log)
        except OSError as e:
            raise ConvertError(f"--out {out}: cannot write: {e.strerror or e}") from None
    return log, rep


def add_cli(sub) -> None:
    p = sub.add_parser("convert", help="import measured data (Panasonic 18650PF, NASA PCoE) as a cell log")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--input", required=True, help="source file (CSV or CSV.gz)")
    p.add_argument("--out", required=True, help="cell-log CSV to write")
    p.add_argument("--capacity-Ah", type=float, default=None,
                   help="reference capacity for soc_true (panasonic default 2.9 Ah nominal; nasa default: the discharge's own)")
    p.add_argument("--discharge-index", type=int, default=None, help="nasa: which discharge (1-based)")
    p.add_argument("--interpulse", default=None,
                   help="panasonic: a *_HPPC_interpulse_discharges file to merge into the --input *_HPPC_5pulse file "
                        "(of the same run: a pair from different temperatures is refused)")
    p.set_defaults(func=_main)


def _main(a) -> int:
    log, rep = convert(a.format, a.input, a.out, a.capacity_Ah, a.discharge_index, getattr(a, "interpulse", None))
    print(f"{a.input}: {rep.rows_in} rows in, {rep.rows_out} out, {rep.duplicates_dropped} repeated timestamps dropped; "
          + "; ".join(rep.notes))
    print(f"wrote {a.out}")
    return 0
