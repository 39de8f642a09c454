"""Temperature derating of the power limits' current ratings (issue #15: "the cell's current and
temperature-dependent limits"; docs/power.md "Current ratings"): PowerSettings.derating, the cell file's key,
the CLI's --derating."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cellsense import Estimator
from cellsense.estimators.power import (L_DERATING, LIMITED_BY, PowerSettings, estimate_power, parse_derating,
                                        power_limits_now)
from cellsense.io.realdata import DATASET, load_real_log

CAPACITY_AH = 2.817048
CURRENT = {v: k for k, v in LIMITED_BY.items()}["current"]
#: a datasheet-like table: no charge at or below 0 degC, half at 10, full from 40; discharge half at -10 degC,
#: full 5..40, 0.6 at 55 degC
TABLE = [(-10.0, 0.5, 0.0), (0.0, 0.8, 0.0), (10.0, 1.0, 0.5), (40.0, 1.0, 1.0), (55.0, 0.6, 1.0)]


@pytest.fixture(scope="module")
def ramp():
    """The 25 degC US06 log with its temperature column replaced by a ramp from -20 to 60 degC."""
    log = load_real_log(f"{DATASET}/25degC_US06", capacity_Ah=CAPACITY_AH)
    t = np.linspace(-20.0, 60.0, len(log.time_s))
    return log.time_s, log.current_A, log.voltage_V, t


def _factor(col, temp):
    tt = np.array([r[0] for r in TABLE])
    return np.interp(temp, tt, np.array([r[col] for r in TABLE]))  # linear, held beyond the ends


def test_limits_follow_the_table_over_a_log(ramp):
    ps = PowerSettings(discharge_current_max_A=3.0, charge_current_max_A=2.0, derating=TABLE)
    res = estimate_power(Estimator("panasonic_18650pf", initial_soc=0.8), *ramp, ps)
    temp = ramp[3]
    want_d = 3.0 * _factor(1, temp)
    want_c = 2.0 * _factor(2, temp)
    for j in range(len(res.horizons_s)):
        d, c = res.discharge_current_A[:, j], res.charge_current_A[:, j]
        by_d, by_c = res.discharge_limited_by[:, j] == CURRENT, res.charge_limited_by[:, j] == CURRENT
        assert by_d.mean() > 0.5 and by_c.mean() > 0.3
        # where the rating binds the limit is the derated rating; elsewhere (voltage, SOC) never above it
        assert np.allclose(d[by_d], want_d[by_d], rtol=1e-12, atol=0)
        assert np.allclose(c[by_c], want_c[by_c], rtol=1e-12, atol=0)
        ok = np.isfinite(d) & np.isfinite(c)
        assert (d[ok] <= want_d[ok] * (1 + 1e-12)).all() and (c[ok] <= want_c[ok] * (1 + 1e-12)).all()
        # no charge at or below 0 degC
        cold = ok & (temp <= 0.0)
        assert cold.sum() > 100 and (c[cold] == 0.0).all() and (res.charge_power_W[cold, j] == 0.0).all()
        assert (c[ok & (temp > 5.0)] > 0.0).any()


def test_no_table_is_exactly_the_old_result(ramp):
    base = PowerSettings(discharge_current_max_A=3.0, charge_current_max_A=2.0)
    old = estimate_power(Estimator("panasonic_18650pf", initial_soc=0.8), *ramp, base)
    for table in ((), [(25.0, 1.0, 1.0)], [(-100.0, 1.0, 1.0), (200.0, 1.0, 1.0)]):
        ps = PowerSettings(discharge_current_max_A=3.0, charge_current_max_A=2.0, derating=table)
        new = estimate_power(Estimator("panasonic_18650pf", initial_soc=0.8), *ramp, ps)
        for k in ("discharge_current_A", "charge_current_A", "discharge_power_W", "discharge_limited_by"):
            assert np.array_equal(getattr(new, k), getattr(old, k), equal_nan=True), (table, k)


@pytest.mark.parametrize("table,field", [
    ([(0.0, 1.0, 1.0), (0.0, 1.0, 1.0)], "derating_temperature_degC"),
    ([(10.0, 1.0, 1.0), (0.0, 1.0, 1.0)], "derating_temperature_degC"),
    ([(-150.0, 1.0, 1.0)], "derating_temperature_degC"),
    ([(float("nan"), 1.0, 1.0)], "derating_temperature_degC"),
    ([(0.0, 1.5, 1.0)], "derating_discharge_factor"),
    ([(0.0, 1.0, -0.1)], "derating_charge_factor"),
    ([(float(t), 1.0, 1.0) for t in range(7)], "derating_count"),
    ([(0.0, 1.0)], "each row"),
    (["abc"], "expected rows"),
])
def test_bad_tables_are_refused_naming_the_field(table, field):
    est = Estimator("panasonic_18650pf", initial_soc=0.5)
    with pytest.raises(ValueError, match=field):
        power_limits_now(est, 25.0, PowerSettings(derating=table))


def test_cell_file_table(tmp_path):
    """A cell file's limits."Current derating ..." is the default table; derating=() turns it off."""
    from cellsense.cells.load import load_cell

    src = load_cell("panasonic_18650pf")
    raw = json.loads(json.dumps(src.raw))
    raw.setdefault("limits", {})[L_DERATING] = [list(r) for r in TABLE]
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(raw))
    est = Estimator(str(path), initial_soc=0.5)
    ps = dict(discharge_current_max_A=3.0, charge_current_max_A=2.0, horizons_s=(10.0,))
    cold = power_limits_now(est, -5.0, PowerSettings(**ps))[0]
    assert cold["charge_current_A"] == 0.0 and cold["discharge_current_A"] == pytest.approx(3.0 * _factor(1, -5.0))
    off = power_limits_now(est, -5.0, PowerSettings(derating=(), **ps))[0]
    assert off["charge_current_A"] > 0.0
    raw["limits"][L_DERATING] = [[0.0, 1.0]]
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="Current derating"):
        power_limits_now(Estimator(str(path), initial_soc=0.5), 25.0, PowerSettings(**ps))


def test_cli_derating(tmp_path, ramp):
    import csv
    import subprocess
    import sys

    from cellsense.io.logs import write_cell_log

    log = load_real_log(f"{DATASET}/25degC_US06", capacity_Ah=CAPACITY_AH)
    log.temperature_degC = ramp[3]
    data = tmp_path / "ramp.csv"
    write_cell_log(data, log)
    out = tmp_path / "est.csv"
    text = ",".join(":".join(f"{v:g}" for v in r) for r in TABLE)
    assert parse_derating(text) == TABLE
    cmd = [sys.executable, "-m", "cellsense.cli", "estimate", "--cell", "panasonic_18650pf", "--data", str(data),
           "--out", str(out), "--initial-soc", "0.8", "--power", "10", "--current-max-A", "2", f"--derating={text}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    ref = estimate_power(Estimator("panasonic_18650pf", initial_soc=0.8), log.time_s, log.current_A, log.voltage_V,
                         log.temperature_degC,
                         PowerSettings(horizons_s=(10.0,), discharge_current_max_A=2.0, charge_current_max_A=2.0,
                                       derating=TABLE))
    got = np.array([float(x["i_chg_max_10s_A"]) if x["i_chg_max_10s_A"] else np.nan for x in rows])
    assert np.array_equal(got, ref.charge_current_A[:, 0], equal_nan=True)
    assert (got[log.temperature_degC <= 0.0] == 0.0).all()
    # (a table starting below 0 degC: --derating=... so that argparse does not take "-10:..." for an option)
    for extra, msg in ((cmd[:10] + [f"--derating={text}"], "need --power"),
                       (cmd[:-1] + ["--derating", "0:1:x"], "--derating"),
                       (cmd[:-1] + ["--derating", "10:1:1,0:1:1"], "derating_temperature_degC")):
        r = subprocess.run(extra, capture_output=True, text=True)
        assert r.returncode == 2 and msg in r.stderr, (extra, r.stderr)


def test_pack_cold_cell_sets_the_charge_limit():
    """A series string: each cell's rating derated at its own temperature, so one cell at -5 degC (charge factor
    0) stops the string's charge, named; the others at 25 degC."""
    from pathlib import Path

    from cellsense.estimators.power import pack_power_limits_now
    from cellsense.pack import PackEstimator, load_pack
    from cellsense.replay.readers import read_log

    fix = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
    spec = load_pack(fix / "sim12s.pack.json")
    pe = PackEstimator(spec)
    pe.run(read_log(fix / "sim12s.csv.gz", spec))
    temps = np.full(12, 25.0)
    temps[7] = -5.0
    ps = PowerSettings(horizons_s=(10.0,), discharge_current_max_A=2.0, charge_current_max_A=2.0, derating=TABLE)
    lim = pack_power_limits_now(pe, temps, ps)[0]
    assert lim["charge_current_A"] == 0.0 and lim["charge_cell"] == 7 and lim["charge_limited_by"] in ("current", "none")
    assert lim["discharge_current_A"] <= 2.0 * _factor(1, -5.0) + 1e-12
    warm = pack_power_limits_now(pe, np.full(12, 25.0), ps)[0]
    assert warm["charge_current_A"] > 0.0
