"""`cellsense estimate` on a log with a column in another unit: most samples are rejected, and the run says which
column, the span the log has and the range the cell accepts, instead of only a count (evaluate.estimate.
rejection_warnings). A log shorter than the settle time prints no settled figures instead of "nan"."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cellsense.cli import main


def _write(path, t, i, v, T, soc=None):
    cols = "time_s,current_A,voltage_V,temperature_degC" + (",soc_true" if soc is not None else "")
    rows = np.column_stack([t, i, v, T] + ([soc] if soc is not None else []))
    np.savetxt(path, rows, delimiter=",", header=cols, comments="", fmt="%.6f")
    return path


def _log(n=900):
    t = np.arange(n, dtype=float)
    i = np.where((t // 60) % 2 == 0, 2.0, 0.5)
    v = 3.8 - 0.03 * i
    return t, i, v, np.full(n, 25.0)


@pytest.mark.parametrize("case, column, hint", [
    ("kelvin", "temperature_degC", "kelvin"),
    ("milliamps", "current_A", "mA"),
    ("millivolts", "voltage_V", "mV"),
    ("milliseconds", None, "milliseconds"),
])
def test_a_column_in_another_unit_is_named(tmp_path, capsys, case, column, hint):
    t, i, v, T = _log()
    if case == "kelvin":
        T = T + 273.15
    elif case == "milliamps":
        i = 1000 * i
    elif case == "millivolts":
        v = 1000 * v
    else:
        t = 1000 * t
    data = _write(tmp_path / f"{case}.csv", t, i, v, T)
    assert main(["estimate", "--cell", "chen2020", "--data", str(data), "--out", str(tmp_path / "e.csv")]) == 0
    err = capsys.readouterr().err
    assert f"{len(t) - 1} of {len(t)} samples (100 %) were rejected" in err, err
    assert hint in err
    if column is not None:
        assert f"the log's {column} spans" in err and "the cell file accepts" in err


def test_a_clean_log_has_no_rejection_warning(tmp_path, capsys):
    data = _write(tmp_path / "ok.csv", *_log())
    assert main(["estimate", "--cell", "chen2020", "--data", str(data), "--out", str(tmp_path / "e.csv")]) == 0
    assert "were rejected" not in capsys.readouterr().err


def test_a_log_shorter_than_the_settle_time(tmp_path, capsys):
    t, i, v, T = _log(300)
    data = _write(tmp_path / "short.csv", t, i, v, T, soc=1.0 - np.cumsum(i) / 3600.0 / 5.0)
    assert main(["estimate", "--cell", "chen2020", "--data", str(data), "--out", str(tmp_path / "e.csv")]) == 0
    out = capsys.readouterr().out
    assert "no samples after 10 min (the log is shorter)" in out and "nan" not in out


def test_python_dash_m_cellsense():
    r = subprocess.run([sys.executable, "-m", "cellsense", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("cellsense "), (r.stdout, r.stderr)


@pytest.mark.parametrize("T, warns", [(-10.0, True), (-3.0, False), (25.0, False), (46.0, True)])
def test_a_log_outside_the_cells_temperature_rows(tmp_path, capsys, T, warns):
    """chen2020.json was identified at 0.9 / 25.6 / 40.5 degC: a log more than 5 K beyond them is named."""
    t, i, v, _ = _log()
    data = _write(tmp_path / "cold.csv", t, i, v, np.full(len(t), T))
    assert main(["estimate", "--cell", "chen2020", "--data", str(data), "--out", str(tmp_path / "e.csv")]) == 0
    err = capsys.readouterr().err
    assert ("outside the temperature(s) the cell file was identified at (0.9..40.5 degC" in err) == warns, err


@pytest.mark.parametrize("divisor, warns", [(1.0, False), (60.0, True), (3600.0, True)])
def test_a_time_column_in_minutes_or_hours(tmp_path, capsys, divisor, warns):
    """The bundled Chen2020 DFN UDDS truth with its time in seconds, minutes and hours: the estimator steps the
    column as seconds, so in minutes the charge it counts is 60 times too small (the SOC ended 43 points off with
    no warning until 2026-12-07: the log spans 2 "s" of settle time); the rest voltages' SOC change and the counted
    charge disagree, and the run says so (evaluate.log_checks.time_scale_warnings). No warning in seconds."""
    import gzip
    from pathlib import Path

    import cellsense

    src = Path(cellsense.__file__).parent / "data" / "truth" / "chen2020_dfn_udds_25degC.csv.gz"
    with gzip.open(src, "rt") as f:
        d = np.genfromtxt(f, delimiter=",", names=True)
    p = _write(tmp_path / "log.csv", d["time_s"] / divisor, d["current_A"], d["voltage_V"], d["temperature_degC"])
    assert main(["estimate", "--model", "chen2020", "--data", str(p)]) == 0
    err = capsys.readouterr().err
    assert ("time column in minutes or hours" in err) == warns, err


def test_initial_soc_percent_hint():
    """--initial-soc 80: the range, and that SOC is a fraction."""
    from cellsense.estimators.ecm import Estimator

    with pytest.raises(ValueError, match=r"outside \[-0.05, 1.05\] \(a fraction: 0.8 for 80 %\)"):
        Estimator("chen2020", initial_soc=80.0)
    with pytest.raises(ValueError, match=r"outside \[-0.05, 1.05\]$"):
        Estimator("chen2020", initial_soc=1e6)  # no percent hint where it cannot be one


@pytest.mark.parametrize("sep, name", [(";", "semicolons"), ("\t", "tabs")])
def test_separator_hint(tmp_path, capsys, sep, name):
    p = tmp_path / "log.csv"
    p.write_text(sep.join(["time_s", "current_A", "voltage_V", "temperature_degC"]) + "\n" +
                 sep.join(["0", "1.0", "3.9", "25"]) + "\n")
    assert main(["estimate", "--model", "chen2020", "--data", str(p)]) == 2
    err = capsys.readouterr().err
    assert "missing column(s)" in err and f"separated by {name}" in err and "needs commas" in err
