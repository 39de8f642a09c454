"""Cell-log CSV: `time_s,current_A,voltage_V,temperature_degC[,soc_true]`, current + = discharge.

One reader (`_parse`) for every cell log, strict about structure (header, column count, numbers) and
naming the file and line of any problem, used at two strictness levels:

* `read_cell_log` (estimation): an empty field is read as NaN (a dropped reading): it reaches the
  estimator, which rejects that sample and says so in its status; columns other than the four and
  soc_true are ignored.
* `read_log` (fitting, PyBaMM truths): every column is kept, '#' comment lines are skipped, and a
  non-finite value, fewer than 2 rows or a time that does not strictly increase is an error (a model
  fitted or a truth scored on a log with holes would be silently wrong).
"""
from __future__ import annotations

import codecs
import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .._io import atomic_write

REQUIRED = ("time_s", "current_A", "voltage_V", "temperature_degC")
OPTIONAL = ("soc_true",)
#: every column a cell log defines, in file order (a plain n x 4/5 array's columns, a shipped truth's header)
COLUMNS = REQUIRED + OPTIONAL


class LogFormatError(ValueError):
    """A cell log is malformed. The message names the file and line."""


@dataclass
class CellLog:
    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    temperature_degC: np.ndarray
    soc_true: np.ndarray | None = None
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.time_s)


def _parse(path: Path, all_columns: bool, comments: bool) -> tuple[list[str], np.ndarray]:
    """parse_log_bytes of the file at `path`."""
    try:
        with open(path, "rb") as fb:
            raw = fb.read()
    except OSError as e:
        raise LogFormatError(f"{path}: cannot open: {e.strerror}") from None
    return parse_log_bytes(raw, path, all_columns, comments)


def parse_log_bytes(raw: bytes, path: str | os.PathLike, all_columns: bool, comments: bool) -> tuple[list[str], np.ndarray]:
    """The one cell-log parser (files through read_cell_log / read_log, the shipped truths' .csv.gz through
    truth.cache): (column names, float rows) of the log's bytes; `path` names it in errors. The four required
    columns must be in the header; with all_columns every header column is read, else the required ones and
    soc_true. An empty field is NaN. With comments, lines starting with '#' are skipped."""
    if raw.startswith(codecs.BOM_UTF8):  # a byte-order mark (spreadsheet exports): not part of the header
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:  # decoded whole, so the line of the bad byte is exact
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise LogFormatError(f"{path}: line {line}, column {col}: not UTF-8 text (byte 0x{raw[e.start]:02x})") from None
    del raw
    with io.StringIO(text, newline="") as f:
        reader = csv.reader((ln for ln in f if not ln.startswith("#")) if comments else f)
        try:
            header = next(reader)
        except StopIteration:
            raise LogFormatError(f"{path}: line 1: empty file (expected header {','.join(REQUIRED)})") from None
        except csv.Error as e:
            raise LogFormatError(f"{path}: line 1: {e}") from None
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            sep = next((name for ch, name in ((";", "semicolons"), ("\t", "tabs")) if any(ch in h for h in header)), None)
            hint = f"; the header is separated by {sep}: the cell-log CSV needs commas" if sep else ""
            raise LogFormatError(f"{path}: line 1: missing column(s) {', '.join(missing)} (header: {','.join(header)})"
                                 f"{hint}")
        dup = {h for h in header if header.count(h) > 1}
        if dup:
            raise LogFormatError(f"{path}: line 1: duplicate column(s) {', '.join(sorted(dup))}")
        cols = list(header) if all_columns else [c for c in REQUIRED + OPTIONAL if c in header]
        idx = [header.index(c) for c in cols]
        rows: list[list[float]] = []
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not x.strip() for x in row):
                    continue
                if len(row) != len(header):
                    raise LogFormatError(f"{path}: line {line}: {len(row)} fields, header has {len(header)}")
                vals = []
                for c, i in zip(cols, idx):
                    tok = row[i].strip()
                    if tok == "":
                        vals.append(math.nan)
                        continue
                    try:
                        if "_" in tok:  # float() reads "1_0" as 10.0; a log does not
                            raise ValueError(tok)
                        vals.append(float(tok))
                    except ValueError:
                        raise LogFormatError(f"{path}: line {line}: column {c}: not a number: {tok!r}") from None
                rows.append(vals)
        except csv.Error as e:
            raise LogFormatError(f"{path}: line {reader.line_num}: {e}") from None
    if not rows:
        raise LogFormatError(f"{path}: no data rows after the header")
    return cols, np.array(rows, dtype=float)


def read_cell_log(path: str | os.PathLike) -> CellLog:
    """Read a cell-log CSV for estimation. Extra columns are ignored; missing required columns are an
    error; an empty field is NaN (a dropped reading)."""
    path = Path(path)
    cols, a = _parse(path, all_columns=False, comments=False)
    get = {c: a[:, k] for k, c in enumerate(cols)}
    soc_true = get.get("soc_true")
    if soc_true is not None:
        bad = np.nonzero(np.isfinite(soc_true) & ((soc_true < -0.05) | (soc_true > 1.05)))[0]
        if bad.size:
            raise LogFormatError(f"{path}: data row {int(bad[0]) + 1} (line {int(bad[0]) + 2}): soc_true {soc_true[bad[0]]} "
                                 "is outside 0..1 (soc_true is a fraction, not a percentage)")
    return CellLog(get["time_s"], get["current_A"], get["voltage_V"], get["temperature_degC"], soc_true, str(path))


def read_log(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a complete cell log (fitting, PyBaMM truths): a dict of every column (float arrays, header
    order). Refused (LogFormatError, a ValueError naming file and line) unless every value is finite,
    there are at least 2 rows and time_s strictly increases."""
    path = Path(path)
    if not path.exists():
        raise LogFormatError(f"{path}: file not found")
    cols, a = _parse(path, all_columns=True, comments=True)
    out = {n: a[:, j] for j, n in enumerate(cols)}
    check_complete(out, path)
    return out


def check_complete(columns: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """LogFormatError naming the file `path` (and the data row, or the line of a file without comment lines)
    unless the columns read from it are a complete log (`incomplete`)."""
    issue = incomplete(columns)
    if issue is not None:
        what, row, col = issue
        raise LogFormatError(f"{path}: needs at least 2 data rows, has {row}" if what == "rows" else
                             f"{path}: data row {row + 1}: non-finite value in column {col!r}" if what == "nonfinite" else
                             f"{path}: line {row + 2}: time_s not strictly increasing")


def incomplete(columns: Mapping[str, np.ndarray]) -> tuple[str, int, str] | None:
    """The rule for a complete cell log, which fits and PyBaMM truths need (read_log; fit's logs given as
    arrays): at least 2 rows, every value finite, time_s strictly increasing. None if complete, else the first
    problem (columns in order, then rows): ("rows", number of rows, ""), ("nonfinite", row, column) or
    ("time", row, "time_s"), with the 0-based row; the callers say it in their terms (file line, array row)."""
    n = len(columns["time_s"]) if "time_s" in columns else 0
    if n < 2:
        return "rows", n, ""
    for c, col in columns.items():
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            return "nonfinite", int(bad[0]), c
    bad = np.flatnonzero(np.diff(columns["time_s"]) <= 0)
    if bad.size:
        return "time", int(bad[0]) + 1, "time_s"
    return None


def write_log(path: str | os.PathLike, columns: Mapping[str, Any], formats: Mapping[str, str] | None = None) -> Path:
    """The one cell-log writer (`write_cell_log`, `SimResult.to_csv`), atomically: the header (the column names
    in order; the four REQUIRED columns must be among them), then one line per row, ',' between fields and
    '\\n' after each line. A column named in `formats` is written with that printf format (e.g. '%.10g'); any
    other column exactly (Python's shortest repr: read back bit for bit). A non-finite value is an empty field
    (a dropped reading, which `read_cell_log` reads back as NaN). Columns of different lengths are refused
    (ValueError naming the file and the columns)."""
    path = Path(path)
    lines = log_lines(columns, formats, path)  # checked before the file is opened
    with atomic_write(path) as f:
        f.writelines(lines)
    return path


def log_lines(columns: Mapping[str, Any], formats: Mapping[str, str] | None = None,
              path: str | os.PathLike = "<memory>") -> Iterator[str]:
    """The lines of a cell log as `write_log` writes them (each ending in '\\n'; the shipped truths' .csv.gz are
    these lines gzipped). The columns are checked now (ValueError naming `path`); the lines are made as iterated,
    row by row from the columns (no copy of a long log)."""
    names = list(columns)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValueError(f"{path}: cannot write a cell log without column(s) {', '.join(missing)}")
    data = [columns[c] for c in names]
    if len({len(a) for a in data}) > 1:
        raise ValueError(f"{path}: columns of different lengths: "
                         + ", ".join(f"{c} {len(a)}" for c, a in zip(names, data)))
    formats = formats or {}
    fmts = [formats.get(c) for c in names]

    def field(fmt: str | None, v) -> str:
        v = float(v)
        if not math.isfinite(v):
            return ""
        return repr(v) if fmt is None else fmt % v

    def lines() -> Iterator[str]:
        yield ",".join(names) + "\n"
        for row in zip(*data):
            yield ",".join(field(fmt, v) for fmt, v in zip(fmts, row)) + "\n"

    return lines()


def write_cell_log(path: str | os.PathLike, log: CellLog) -> None:
    """Write a cell log atomically, every value exactly (write_log)."""
    cols = {"time_s": log.time_s, "current_A": log.current_A, "voltage_V": log.voltage_V,
            "temperature_degC": log.temperature_degC}
    if log.soc_true is not None:
        cols["soc_true"] = log.soc_true
    write_log(path, cols)
