"""`cellsense convert` refuses two silent wrong answers (exit 2, the files named, nothing written):

- an HPPC 5-pulse file merged with an interpulse file recorded at another chamber temperature (by their file
  names, and by their measured Battery_Temp_degC when the names agree or say nothing);
- a soc_true that rises above 1 + SOC_TRUE_CEILING_TOL (the run took in more charge than it gave since its first
  row, the full-charge reference): before, only soc_true < SOC_TRUE_FLOOR was refused.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from cellsense.cli.commands import main
from cellsense.io.convert import (HPPC_TEMPERATURE_TOL_DEGC, SOC_TRUE_CEILING_TOL, ConvertError, _check_soc,
                                  convert_nasa, convert_panasonic, convert_panasonic_hppc, name_temperature)
from cellsense.io.realdata import load_real_log, real_log_files


def _hppc(T):
    return real_log_files(f"panasonic-18650pf/{T}_HPPC")


def _cli(capsys, *args):
    rc = main(["convert", "--format", "panasonic", *map(str, args)])
    return rc, capsys.readouterr().err


# 1. HPPC pairs from different temperatures
def test_name_temperature():
    assert name_temperature("n20degC_HPPC_5pulse.csv.gz") == -20.0
    assert name_temperature("/x/25degC_HPPC_interpulse_discharges.csv.gz") == 25.0
    assert name_temperature("0degC_HPPC_5pulse.csv") == 0.0
    assert name_temperature("pulse.csv.gz") is None and name_temperature("cell10_HPPC.csv") is None


def test_hppc_pair_from_other_temperatures_by_name(tmp_path, capsys):
    p25, _ = _hppc("25degC")
    _, ip0 = _hppc("0degC")
    with pytest.raises(ConvertError) as e:
        convert_panasonic_hppc(p25, ip0)
    msg = str(e.value)
    assert f"--input {p25} (25 degC)" in msg and f"--interpulse {ip0} (0 degC)" in msg
    assert "by their file names" in msg
    out = tmp_path / "o.csv"
    rc, err = _cli(capsys, "--input", p25, "--interpulse", ip0, "--out", out)
    assert rc == 2 and "25 degC" in err and "0 degC" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["25degC_HPPC_interpulse_discharges.csv.gz", "interpulse.csv.gz"])
def test_hppc_pair_from_other_temperatures_by_measurement(tmp_path, capsys, name):
    """The 0 degC interpulse data under a name that agrees with the 25 degC 5-pulse file (or says nothing): the
    measured temperatures still tell them apart."""
    p25, _ = _hppc("25degC")
    _, ip0 = _hppc("0degC")
    ip = tmp_path / name
    shutil.copy(ip0, ip)
    with pytest.raises(ConvertError, match=r"recorded at different temperatures: measured \(column Battery_Temp_degC, "
                                           r"median\) 25\.\d degC in the 5-pulse file .* and [01]\.\d degC in the \d+ "
                                           r"interpulse rows merged") as e:
        convert_panasonic_hppc(p25, ip)
    assert str(p25) in str(e.value) and str(ip) in str(e.value)
    out = tmp_path / "o.csv"
    rc, err = _cli(capsys, "--input", p25, "--interpulse", ip, "--out", out)
    assert rc == 2 and name in err and not out.exists()


@pytest.mark.parametrize("T", ["25degC", "n20degC"])
def test_hppc_pair_of_one_run_still_merges(T):
    p5, ip = _hppc(T)
    log, rep = convert_panasonic_hppc(p5, ip)
    assert len(log) == len(load_real_log(f"panasonic-18650pf/{T}_HPPC")) and rep.notes[0].startswith("merged")
    assert abs(float(np.median(log.temperature_degC)) - name_temperature(p5)) < HPPC_TEMPERATURE_TOL_DEGC


# 2. soc_true above 1
def _pana_charging(tmp_path, charge_A_s: float, name="charge.csv"):
    """Rests 10 s, discharges 1 A for 36 s (0.01 Ah), then charges 1 A until `charge_A_s` A s went in."""
    rows, ah, k = ["Time,Voltage,Current,Ah,Battery_Temp_degC"], 0.0, 0
    steps = [0.0] * 10 + [-1.0] * 36 + [1.0] * int(charge_A_s)
    for k, cur in enumerate(steps):
        ah += cur / 3600.0
        rows.append(f"{k}.0,{3.9 + 0.0001 * k:.4f},{cur},{ah:.7f},25.0")
    p = tmp_path / name
    p.write_text("\n".join(rows) + "\n")
    return p


def test_soc_true_above_one_is_refused_naming_file_line_and_time(tmp_path, capsys):
    cap = 2.9
    src = _pana_charging(tmp_path, 36 + 0.05 * cap * 3600)   # ends 5 % of 2.9 Ah above the start
    soc = 1.0 + (np.r_[np.zeros(10), -np.arange(1, 37), -36 + np.arange(1, 36 + 522 + 1)] / 3600.0) / cap
    k = int(np.flatnonzero(soc > 1.0 + SOC_TRUE_CEILING_TOL)[0])   # first data row over: file line k + 2
    with pytest.raises(ConvertError, match=rf"charge\.csv: line {k + 2} \(time {k}(\.0)? s\): soc_true 1\.02\d+ is above "
                                           rf"1 \+ 0\.02 \(it peaks at 1\.05\d+"):
        convert_panasonic(src, cap)
    rc, err = _cli(capsys, "--input", src, "--out", tmp_path / "o.csv", "--capacity-Ah", cap)
    assert rc == 2 and "charge.csv: line" in err and "above 1 + 0.02" in err and not (tmp_path / "o.csv").exists()


def test_soc_true_within_the_tolerance_is_kept(tmp_path):
    cap = 2.9
    log, _ = convert_panasonic(_pana_charging(tmp_path, 36 + 0.015 * cap * 3600), cap)   # up to 1.015
    assert 1.01 < log.soc_true.max() <= 1.0 + SOC_TRUE_CEILING_TOL


def test_own_capacity_and_nasa_are_checked_too(tmp_path):
    with pytest.raises(ConvertError, match=r"charge\.csv: line \d+ .*soc_true .* is above 1 \+ 0\.02"):
        convert_panasonic(_pana_charging(tmp_path, 36 + 100), None)   # own capacity 0.01 Ah: soc_true far above 1
    p = tmp_path / "nasa.csv"   # a "discharge" that charges: current_measured_A positive
    rows = ["discharge_index,time_s,voltage_measured_V,current_measured_A,temperature_measured_C"]
    rows += [f"1,{10 * k}.0,3.9,{-1.0 if k < 3 else 1.0},24.0" for k in range(60)]
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(ConvertError, match=r"nasa\.csv: line \d+ \(time \d+ s\): soc_true 1\.0[2-9]\d* is above"):
        convert_nasa(p, 1, 1.0)


def test_merged_rows_name_their_own_file():
    cols = {"t": np.array([0.0, 10.0, 20.0]), "t0": np.array([0.0, 10.0, 3.0]), "line": np.array([2, 3, 5]),
            "src": np.array([0, 0, 1])}
    with pytest.raises(ConvertError, match=r"^ip\.csv: line 5 \(time 3 s; t = 20\.000 s in the merged log\)"):
        _check_soc("p.csv", np.array([1.0, 1.0, 1.1]), 2.9, 0.0, cols, ["p.csv", "ip.csv"])
    _check_soc("p.csv", np.array([1.0, 1.0, 1.0 + SOC_TRUE_CEILING_TOL]), 2.9, 0.0, cols, ["p.csv", "ip.csv"])
