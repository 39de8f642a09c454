"""The CLI is a thin layer: estimate writes the documented CSV and prints the metrics; bad input
gives one clear error line naming file and line, exit status 2, and no partial output file."""
from __future__ import annotations

import csv
import gzip
import subprocess
import sys

import numpy as np
import pytest

from cellsense import read_cell_log, write_cell_log
from cellsense.cli import main
from cellsense.io.logs import CellLog


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cellsense.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def log_csv(tmp_path, synthetic_log):
    L = synthetic_log
    p = tmp_path / "log.csv"
    write_cell_log(p, CellLog(L["time_s"], L["current_A"], L["voltage_V"], L["temperature_degC"], L["soc_true"]))
    return p


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_estimate_cli(tmp_path, cell_path, log_csv, filt):
    out = tmp_path / "est.csv"
    r = run_cli("estimate", "--model", str(cell_path), "--filter", filt, "--data", str(log_csv), "--out", str(out),
                "--initial-soc", "0.75")
    assert r.returncode == 0, r.stderr
    assert "SOC RMSE" in r.stdout and "3 sigma" in r.stdout
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert {"time_s", "soc", "soc_sigma", "voltage_pred_V", "status"} <= set(rows[0])
    assert len(rows) == len(read_cell_log(log_csv))
    assert rows[0]["status"] == "initial" and rows[1]["status"] == "fused"
    rmse = float(r.stdout.split("SOC RMSE")[1].split("%")[0])
    assert 0.0 < rmse < 2.0


def test_estimate_without_out_prints_the_metrics_and_writes_nothing(tmp_path, cell_path, log_csv):
    """--out is optional: a user who wants the accuracy figures gets them without naming a CSV."""
    before = set(tmp_path.iterdir())
    r = run_cli("estimate", "--cell", str(cell_path), "--data", str(log_csv), "--initial-soc", "0.75")
    assert r.returncode == 0, r.stderr
    assert "SOC RMSE" in r.stdout and "wrote" not in r.stdout
    assert set(tmp_path.iterdir()) == before


def test_estimate_bad_log_names_line_and_leaves_nothing(tmp_path, cell_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,current_A,voltage_V,temperature_degC\n0,1,3.7,25\n1,1,abc,25\n")
    out = tmp_path / "est.csv"
    r = run_cli("estimate", "--model", str(cell_path), "--data", str(bad), "--out", str(out))
    assert r.returncode == 2
    assert "bad.csv: line 3: column voltage_V: not a number" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".est.csv*"))


def test_estimate_missing_column_and_bad_model(tmp_path, cell_path, log_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,current_A,voltage_V\n0,1,3.7\n")
    assert main(["estimate", "--model", str(cell_path), "--data", str(bad), "--out", str(tmp_path / "e.csv")]) == 2
    r = run_cli("estimate", "--model", "nope-cell", "--data", str(log_csv), "--out", str(tmp_path / "e.csv"))
    assert r.returncode == 2 and "nope-cell" in r.stderr


def test_log_reader_errors(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("time_s,current_A,voltage_V,temperature_degC\n0,1,3.7,25\n1,1,3.7\n")
    with pytest.raises(ValueError, match=r"x.csv: line 3: 3 fields"):
        read_cell_log(p)
    p.write_text("time_s,current_A,voltage_V,temperature_degC,soc_true\n0,1,3.7,25,85\n")
    with pytest.raises(ValueError, match=r"line 2.*not a percentage"):
        read_cell_log(p)
    p.write_text("")
    with pytest.raises(ValueError, match="empty file"):
        read_cell_log(p)
    p.write_text("time_s,current_A,voltage_V,temperature_degC\n0,1,,25\n")
    assert np.isnan(read_cell_log(p).voltage_V[0])  # empty field = dropped reading


def test_convert_panasonic_format(tmp_path):
    src = tmp_path / "pana.csv.gz"
    rows = ["Time,Voltage,Current,Ah,Wh,Power,Battery_Temp_degC,Chamber_Temp_degC"]
    ah = 0.0
    for k in range(100):
        cur = -2.9 if k >= 10 else 0.0
        ah += cur * 1.0 / 3600 if k else 0.0
        rows.append(f"{k * 1.0:.3f},{4.1 - 0.001 * k:.5f},{cur:.5f},{ah:.5f},0,0,25.5,25.0")
    rows.append(rows[-1])  # logger duplicate
    with gzip.open(src, "wt") as f:
        f.write("\n".join(rows) + "\n")
    out = tmp_path / "log.csv"
    assert main(["convert", "--format", "panasonic", "--input", str(src), "--out", str(out)]) == 0
    log = read_cell_log(out)
    assert len(log) == 100                       # duplicate dropped
    assert log.current_A.max() == pytest.approx(2.9)  # sign flipped: + = discharge
    assert log.soc_true[0] == 1.0 and log.soc_true[-1] == pytest.approx(1 - 90 / 3600, abs=1e-4)
    with gzip.open(src, "wt") as f:
        f.write("Time,Voltage,Current\n0,4.1,0\n")
    assert main(["convert", "--format", "panasonic", "--input", str(src), "--out", str(tmp_path / "o.csv")]) == 2
