"""The stuck-sensor charge rule (docs/replay.md, "Stuck sensors"): a cell voltage frozen during a constant current (no
current swing for the resistance rule to see) was fused silently; the charge moved through the frozen span says a live
cell's OCV had to move. Not flagged: a rest, a coarse sensor, a flat OCV plateau without enough charge."""
from __future__ import annotations

import dataclasses

import numpy as np

from cellsense.cells.ecm_reference import simulate_ecm
from cellsense.cli import main
from cellsense.estimators import Estimator
from cellsense.pack import PackEstimator, PackLog, pack_from_dict, status_names
from cellsense.replay.stuck import CHARGE_MIN_MOVE_V, charge_threshold_Ah, check_stuck

SPEC = pack_from_dict({"cellsense pack file": 1, "topology": {"series": 2}, "cell": "chen2020",
                       "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": "T", "time": "t"},
                      source="cc.pack.json")
FROZEN = (300, 450)  # rows of cell 2 frozen (150 s)


def _cc_log(current_A: float = 5.0, step_V: float = 1e-3, n: int = 900, seed: int = 4, soc0: float = 0.8) -> tuple[PackLog, np.ndarray]:
    """Two cells at a constant current (1C of chen2020's 5 Ah: + = discharge) for `n` s at 1 Hz, a 1 mV noise, the
    readings quantised to `step_V`; the current with 20 mA of noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    i = np.full(n, current_A) + 0.02 * rng.standard_normal(n)
    v = simulate_ecm(SPEC.cell, t, i, 25.0, initial_soc=soc0)["voltage_V"]
    volts = np.round((v[:, None] + 1e-3 * rng.standard_normal((n, 2))) / step_V) * step_V
    return PackLog(t, i, volts, np.full((n, 1), 25.0), None, "cc.csv"), volts


def _freeze(log: PackLog, volts: np.ndarray, cell: int = 1, rows: tuple[int, int] = FROZEN) -> PackLog:
    v = volts.copy()
    v[rows[0]:rows[1], cell] = v[rows[0], cell]
    return PackLog(log.time_s, log.current_A, v, log.temperature_degC, None, log.source)


def test_a_cell_frozen_during_a_constant_current_is_named_and_not_fused(tmp_path, capsys):
    log, volts = _cc_log()
    assert np.ptp(log.current_A) * 0.5e-3 < 4e-3  # the current-swing rule cannot see it
    out = check_stuck(SPEC, _freeze(log, volts))
    stuck = [x for x in out.notes if x.startswith("stuck sensor")]
    assert len(stuck) == 1, out.notes
    assert "cell 2's voltage v2" in stuck[0] and "t = 300.0..449.0 s" in stuck[0] and "Ah flows (discharge" in stuck[0]
    assert "149 samples stepped without that cell's reading (its charge counted)" in stuck[0]
    a, b = FROZEN
    assert np.isnan(out.voltage_V[a + 1:b, 1]).all() and np.isfinite(out.voltage_V[a, 1])
    assert np.isfinite(out.voltage_V[:, 0]).all() and out.counts["stuck_samples"] == b - a - 1
    status = np.asarray(PackEstimator(SPEC).run(out).status)
    assert (status[a + 1:b, 1] == {v: k for k, v in status_names().items()}["predicted_only"]).all()
    # the same through the command: the warning on stderr and in the report, the count in report.json
    p = tmp_path / "cc.csv"
    fz = _freeze(log, volts)
    rows = np.column_stack([fz.time_s, fz.current_A, fz.temperature_degC[:, 0], fz.voltage_V])
    p.write_text("t,i,T,v1,v2\n" + "\n".join(",".join(f"{x:.6g}" for x in r) for r in rows) + "\n")
    (tmp_path / "cc.pack.json").write_text('{"cellsense pack file": 1, "topology": {"series": 2}, "cell": "chen2020",'
                                           ' "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": "T",'
                                           ' "time": "t"}')
    rc = main(["replay", "--target", "host", "--quiet", "--no-plots", "--log", str(p), "--pack",
               str(tmp_path / "cc.pack.json"), "--out", str(tmp_path / "o")])
    assert rc == 0 and "stuck sensor: cell 2's voltage v2" in capsys.readouterr().err
    assert "stuck_samples 149" in (tmp_path / "o" / "report.md").read_text()


def test_a_charge_frozen_reading_is_stuck_too():
    log, volts = _cc_log(current_A=-5.0, soc0=0.3)
    out = check_stuck(SPEC, _freeze(log, volts))
    assert len(out.notes) == 1 and "Ah flows (charge" in out.notes[0]


def test_a_live_constant_current_a_rest_and_a_coarse_sensor_are_not_stuck():
    log, volts = _cc_log()
    out = check_stuck(SPEC, log)  # live: not flagged
    assert not out.notes and np.isfinite(out.voltage_V).all()
    rest, rv = _cc_log(current_A=0.0)  # a rest: the readings repeat (no charge moved)
    rv = np.round(rv, 2)  # 10 mV: repeats through the whole rest
    out = check_stuck(SPEC, _freeze(rest, rv, rows=(0, 900)))
    assert not out.notes and np.isfinite(out.voltage_V).all()
    # a 20 mV sensor at 1C: a frozen 150 s moves the OCV >= 11 mV, under 4 of its steps; not flagged
    coarse, cv = _cc_log(step_V=0.02)
    out = check_stuck(SPEC, _freeze(coarse, cv))
    assert not out.notes and np.isfinite(out.voltage_V).all()


def test_a_flat_plateau_needs_more_charge():
    """An LFP-like plateau (OCV rising 20 mV over the whole SOC range): 150 s at 1C moves it < 1 mV, not stuck; a frozen
    reading over 80 % of the capacity moves it 16 mV, stuck."""
    cell = SPEC.cell
    flat = dataclasses.replace(cell, ocv_V=3.3 + 0.02 * np.repeat(np.asarray(cell.soc)[None, :],
                                                                    np.asarray(cell.ocv_V).shape[0], 0))
    spec = dataclasses.replace(SPEC, cell=flat)
    assert 150 * 5.0 / 3600 < charge_threshold_Ah(flat, CHARGE_MIN_MOVE_V) < 0.8 * cell.capacity_Ah
    n = 3000  # the frozen span below: 2900 s at 1C, 78 % of the capacity
    t = np.arange(n, dtype=float)
    v = np.round(3.315 - 0.02 * t / 3600 * 5.0 / cell.capacity_Ah + 1e-3 * np.sin(t / 7.0), 3)
    volts = np.column_stack([v, v])
    i = np.full(n, 5.0)
    short = volts.copy()
    short[300:450, 1] = short[300, 1]
    assert not check_stuck(spec, PackLog(t, i, short, np.full((n, 1), 25.0))).notes
    long = volts.copy()
    long[100:, 1] = long[100, 1]
    out = check_stuck(spec, PackLog(t, i, long, np.full((n, 1), 25.0)))
    assert len(out.notes) == 1 and "cell 2's voltage v2" in out.notes[0]


def test_the_replay_asks_the_core_for_the_charge_threshold():
    """One rule (CS-CLK-010): at the estimator's 5 mV the replay's threshold is the single-cell estimator's to the bit;
    a coarser sensor's move needs more charge, and a move that is not a positive number switches the rule off."""
    for name in ("chen2020", "panasonic_18650pf"):
        est = Estimator(name)
        assert charge_threshold_Ah(est.cell, CHARGE_MIN_MOVE_V) == est._impl.stuck_charge_Ah
        assert charge_threshold_Ah(est.cell, 0.02) > est._impl.stuck_charge_Ah
        assert charge_threshold_Ah(est.cell, float("nan")) == float("inf")
