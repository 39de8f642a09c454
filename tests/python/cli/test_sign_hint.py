"""`cellsense estimate` on a log whose current is positive on charge (the other convention): the voltage steps WITH
the logged current, which no cell does, so the run says the column looks negated (evaluate.estimate.sign_warnings)
instead of a 16 % SOC error with only a mean-NIS warning that blamed the voltage sigma."""
from __future__ import annotations

import types

import numpy as np
import pytest

from cellsense.cli import main
from cellsense.evaluate.estimate import sign_warnings
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
