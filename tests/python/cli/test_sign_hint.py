"""`cellsense estimate` on a log whose current is positive on charge (the other convention): the voltage steps WITH
the logged current, which no cell does, so the run says the column looks negated (evaluate.log_checks.sign_warnings)
instead of a 16 % SOC error with only a mean-NIS warning that blamed the voltage sigma."""
from __future__ import annotations

import types

import numpy as np
import pytest

from cellsense.cli import main
from cellsense.evaluate.log_checks import sign_warnings
from cellsense.io.realdata import load_real_log
from cellsense.truth.sensor import SensorModel
from cellsense.truth.simulate import simulate

SIGN_TEXT = "looks positive on charge"


def _warns(t, i, v) -> bool:
    return bool(sign_warnings(types.SimpleNamespace(log=types.SimpleNamespace(time_s=t, current_A=i, voltage_V=v))))


@pytest.mark.parametrize("name", ["25degC_US06", "10degC_Cycle_2", "0degC_NN", "n10degC_HWFET", "n20degC_NN"])
def test_real_cell_logs_pass_and_their_negation_is_caught(name):
    log = load_real_log(f"panasonic-18650pf/{name}")
    assert not _warns(log.time_s, log.current_A, log.voltage_V)
    assert _warns(log.time_s, -log.current_A, log.voltage_V)


def test_the_cli_names_a_negated_current(tmp_path, capsys):
    sim = simulate(cell="Chen2020", protocol="us06", temperature_degC=25.0, model="DFN",
                   sensor=SensorModel(voltage_noise_V=0.002, current_noise_A=0.010, seed=1))
    n = 4000
    for sign, expected in ((1.0, False), (-1.0, True)):
        path = tmp_path / f"log{int(sign)}.csv"
        rows = np.column_stack([sim.time_s[:n], sign * sim.current_A[:n], sim.voltage_V[:n], sim.temperature_degC[:n]])
        np.savetxt(path, rows, delimiter=",", header="time_s,current_A,voltage_V,temperature_degC", comments="",
                   fmt="%.6f")
        assert main(["estimate", "--cell", "chen2020", "--data", str(path), "--out", str(tmp_path / "e.csv")]) == 0
        err = capsys.readouterr().err
        assert (SIGN_TEXT in err) == expected, err
        if expected:
            assert "negate the column" in err


def test_too_few_steps_say_nothing():
    """A constant-current discharge (NASA-style) or a log of a few pulses has no verdict either way."""
    t = np.arange(0.0, 3000.0)
    i = np.where(t < 100, 0.0, 2.0)
    v = 4.1 - 0.0002 * t - 0.05 * i
    assert not _warns(t, i, v) and not _warns(t, -i, v)


@pytest.mark.parametrize("protocol", ["udds", "us06"])
def test_a_current_column_skewed_by_a_row_is_named(protocol):
    """The current of row k is held over (t[k-1], t[k]], so the voltage of row k carries its step. Shifted by a row
    either way, the voltage steps a row early or late: named (the committed pack fixture had exactly this until
    2026-12-07, scripts/make_pack_fixture.py). The real-cell drive files pass."""
    from cellsense.evaluate.log_checks import current_skew_warning

    sim = simulate(cell="Chen2020", protocol=protocol, temperature_degC=25.0, model="DFN",
                   sensor=SensorModel(voltage_noise_V=0.002, current_noise_A=0.010, seed=1))
    t, i, v = sim.time_s, sim.current_A, sim.voltage_V
    assert current_skew_warning(t, i, v) is None
    early = current_skew_warning(t[1:], i[:-1], v[1:])   # row k holds the current of row k-1: the voltage leads
    late = current_skew_warning(t[:-1], i[1:], v[:-1])   # row k holds the current of row k+1: the voltage lags
    assert early is not None and "one row before" in early
    assert late is not None and "one row after" in late
    for name in ("25degC_US06", "25degC_LA92", "0degC_NN", "n10degC_NN", "n20degC_HWFET"):
        log = load_real_log(f"panasonic-18650pf/{name}")
        assert current_skew_warning(log.time_s, log.current_A, log.voltage_V) is None, name


def test_replay_names_a_flipped_pack_current_and_not_a_good_one(tmp_path, capsys):
    """`cellsense replay` checks the mean cell's voltage against the pack current: the committed fixture (regenerated
    without its one-row skew) and the real Kona capture pass; the fixture's pack file with current.positive flipped
    is named."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    fix = root / "tests" / "fixtures" / "pack"
    kona = root / "python" / "cellsense" / "data" / "kona_ev_can"
    flipped = json.loads((fix / "sim12s.pack.json").read_text())
    flipped["current"]["positive"] = "charge"
    (tmp_path / "flip.pack.json").write_text(json.dumps(flipped))
    (tmp_path / "sim12s.csv.gz").write_bytes((fix / "sim12s.csv.gz").read_bytes())
    runs = [(["--log", str(fix / "sim12s.csv.gz"), "--pack", str(fix / "sim12s.pack.json")], False),
            (["--log", str(kona / "230112-7-2019-pcan-ccan-power-off-on-ready-off.csv.gz"), "--pack",
              str(kona / "kona.pack.json"), "--dbc", str(kona / "pcan.dbc")], False),
            (["--log", str(tmp_path / "sim12s.csv.gz"), "--pack", str(tmp_path / "flip.pack.json")], True)]
    for k, (args, expected) in enumerate(runs):
        assert main(["replay", *args, "--target", "host", "--out", str(tmp_path / f"r{k}"), "--quiet",
                     "--no-plots"]) in (0, 1)
        err = capsys.readouterr().err
        assert ("current.positive in the pack file" in err) == expected, err
        assert "steps one row" not in err, err
