"""Issue #13: one cell-log writer. write_cell_log (exact values) and SimResult.to_csv (a PyBaMM truth, printf
formats per column) both go through cellsense.io.logs.write_log; the files are byte for byte what the two
writers wrote before (the previous SimResult writer, np.savetxt, is restated here as the reference)."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import cellsense
from cellsense.io.logs import REQUIRED, CellLog, read_cell_log, read_log, write_cell_log, write_log
from cellsense.truth.result import SimResult


def _savetxt_reference(r: SimResult, path: Path) -> None:
    """SimResult.to_csv before the one writer (np.savetxt, %-formats per column)."""
    cols = [r.time_s, r.current_A, r.voltage_V, r.temperature_degC]
    header, fmts = list(REQUIRED), ["%.12g", "%.10g", "%.10g", "%.8g"]
    if r.soc_true is not None:
        cols.append(r.soc_true), header.append("soc_true"), fmts.append("%.12g")
    for name, col in r.extra.items():
        cols.append(col), header.append(name), fmts.append("%.10g")
    with open(path, "w", newline="") as fh:
        np.savetxt(fh, np.column_stack([np.asarray(c, dtype=float) for c in cols]), fmt=fmts, delimiter=",",
                   header=",".join(header), comments="")


def _repr_reference(log: CellLog, path: Path) -> None:
    """write_cell_log before the one writer (repr per value, empty field for a non-finite one)."""
    arrays = [log.time_s, log.current_A, log.voltage_V, log.temperature_degC] + (
        [log.soc_true] if log.soc_true is not None else [])
    with open(path, "w", newline="") as f:
        f.write(",".join(list(REQUIRED) + (["soc_true"] if log.soc_true is not None else [])) + "\n")
        for row in zip(*arrays):
            f.write(",".join("" if not math.isfinite(v) else repr(float(v)) for v in row) + "\n")


def _truth(n: int = 400, soc: bool = True, extra: bool = True) -> SimResult:
    rng = np.random.default_rng(11)
    t = np.cumsum(rng.uniform(0.1, 2.0, n))
    return SimResult(t, rng.normal(0, 5, n), rng.uniform(2.5, 4.2, n), 25 + rng.normal(0, 3, n),
                     rng.uniform(0, 1, n) if soc else None, {"model": "DFN"},
                     {"capacity_true_Ah": rng.uniform(2, 3, n), "r0_ref_Ohm": rng.uniform(0, .1, n).astype(np.float32)}
                     if extra else {})


@pytest.mark.parametrize("soc, extra", [(True, True), (True, False), (False, False)])
def test_a_truth_is_written_as_before(tmp_path, soc, extra):
    r = _truth(soc=soc, extra=extra)
    r.to_csv(tmp_path / "new.csv", sidecar=False)
    _savetxt_reference(r, tmp_path / "old.csv")
    assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "old.csv").read_bytes()


def test_a_cell_log_is_written_exactly_as_before(tmp_path):
    r = _truth(extra=False)
    v = r.voltage_V.copy()
    v[::9] = np.nan  # dropped readings: empty fields
    i = r.current_A.astype(np.float32)
    log = CellLog(r.time_s, i, v, r.temperature_degC, r.soc_true)
    write_cell_log(tmp_path / "new.csv", log)
    _repr_reference(log, tmp_path / "old.csv")
    assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "old.csv").read_bytes()
    back = read_cell_log(tmp_path / "new.csv")  # exact: every value reads back bit for bit
    assert np.array_equal(back.voltage_V, v, equal_nan=True) and np.array_equal(back.current_A, i.astype(float))


def test_both_writers_are_one_writer(tmp_path):
    """The same columns through write_log with the truth's formats are SimResult.to_csv's file; a value that
    is not finite is an empty field in both kinds of file (a dropped reading to read_cell_log)."""
    r = _truth(extra=False)
    r.voltage_V[5] = np.nan
    r.to_csv(tmp_path / "a.csv", sidecar=False)
    from cellsense.truth.result import TRUTH_FORMATS
    write_log(tmp_path / "b.csv", r.columns(), TRUTH_FORMATS)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    line = (tmp_path / "a.csv").read_text().splitlines()[6]
    assert line.split(",")[2] == ""
    assert np.isnan(read_cell_log(tmp_path / "a.csv").voltage_V[5])


def test_no_other_module_writes_a_cell_log():
    """np.savetxt (the second writer) is gone from the package; io/logs.py holds the writer."""
    root = Path(cellsense.__file__).resolve().parent
    users = []
    for f in root.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "savetxt":
                users.append(str(f.relative_to(root)))
    assert users == []


def test_bad_columns_are_refused_naming_the_file(tmp_path):
    cols = {"time_s": [0.0, 1.0], "current_A": [1.0, 1.0], "voltage_V": [4.0], "temperature_degC": [25.0, 25.0]}
    with pytest.raises(ValueError, match=r"bad.csv: columns of different lengths: .*voltage_V 1"):
        write_log(tmp_path / "bad.csv", cols)
    del cols["temperature_degC"]
    with pytest.raises(ValueError, match=r"bad.csv: cannot write a cell log without column\(s\) temperature_degC"):
        write_log(tmp_path / "bad.csv", cols)
    assert not (tmp_path / "bad.csv").exists()
    r = _truth(extra=False)
    r.extra = {"soc_true": r.time_s}
    with pytest.raises(ValueError, match="soc_true would repeat a cell-log column"):
        r.to_csv(tmp_path / "x.csv")
    assert list(read_log(_write_ok(tmp_path))) == list(REQUIRED)


def _write_ok(tmp_path: Path) -> Path:
    p = tmp_path / "ok.csv"
    write_log(p, {c: [0.0, 1.0] for c in REQUIRED})
    return p
