"""Rest steps (EstimatorSettings.dt_max_rest_s, core EstimatorConfig::dt_max_rest_s, CS-EST-017): a rest logged
slowly (60 s with a few ms of jitter, as the Panasonic tester logs) is stepped, not rejected as a gap; a long
interval entered from load stays a gap."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cellsense import Estimator, EstimatorSettings
from cellsense.cells.ecm import cell_from_dict

from conftest import synthetic_cell_dict

CELL = cell_from_dict(synthetic_cell_dict(2))


def _log():
    """300 s of 1 Hz load at 1C, then 20 rest samples 60.002 s apart, then 60 s of load, then a 90 s logger gap
    under load."""
    q = CELL.capacity_Ah
    t = [float(k) for k in range(301)]
    i = [q] * 301
    for _ in range(20):
        t.append(t[-1] + 60.002)
        i.append(0.0)
    for _ in range(60):
        t.append(t[-1] + 1.0)
        i.append(q)
    t.append(t[-1] + 90.0)
    i.append(q)
    t, i = np.asarray(t), np.asarray(i)
    v = np.full(len(t), 3.7)
    return t, i, v, np.full(len(t), 25.0)


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_a_slowly_logged_rest_is_stepped(filt):
    t, i, v, T = _log()
    res = Estimator(CELL, filter=filt, initial_soc=0.6).run(t, i, v, T)
    status = np.asarray(res.status)
    # the first rest sample follows a loaded one (a rest entered from load through a long interval is a gap); the
    # 19 after it are stepped (the gap's reading was a rest); the 90 s interval under load at the end is a gap
    too_long = np.nonzero(status == "rejected_dt_too_large")[0]
    assert list(too_long) == [301, len(t) - 1]
    off = Estimator(CELL, filter=filt, initial_soc=0.6, settings=EstimatorSettings(dt_max_rest_s=0.0)).run(t, i, v, T)
    assert int(np.sum(np.asarray(off.status) == "rejected_dt_too_large")) == 21
    # before the first long step both runs are the same, bit for bit
    assert np.array_equal(np.asarray(res.soc)[:301], np.asarray(off.soc)[:301])


def test_rest_steps_setting_is_the_core_rule():
    with pytest.raises(ValueError, match="dt_max_rest_s"):
        EstimatorSettings(dt_max_rest_s=-1.0)
    with pytest.raises(ValueError, match="dt_max_rest_s"):
        EstimatorSettings(dt_max_rest_s=float("nan"))
    assert EstimatorSettings().dt_max_rest_s == 600.0


def test_cli_option_is_checked(tmp_path):
    t, i, v, T = _log()
    path = tmp_path / "log.csv"
    np.savetxt(path, np.column_stack([t, i, v, T]), delimiter=",", header="time_s,current_A,voltage_V,temperature_degC",
               comments="")
    r = subprocess.run([sys.executable, "-m", "cellsense.cli", "estimate", str(path), "--cell", "chen2020",
                        "--max-rest-dt-s", "-5"], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "--max-rest-dt-s" in r.stderr
