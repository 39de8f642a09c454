"""Remaining energy against PyBaMM's DFN (issue #15's energy bar; docs/power.md "Remaining energy against the DFN").

The fixture (scripts/check_energy_truth.py) holds, per (temperature, SOC) state, the noisy log of a US06 history
solved on the Chen2020 DFN, the DFN's own energy at a constant power from the history's end to 2.5 V, and the
DFN's full energy at that power (rested full cell). The estimator is re-run here on the stored log, so the model's
figure is today's code, and the issue's bars are asserted: within 3 % of the full energy at 25 degC, 6 % at 0 degC.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from cellsense import make_estimator
from cellsense.estimators.power import PowerSettings, remaining_energy

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "soe" / "chen2020_soe_truth.json.gz"
BARS = {25.0: 0.03, 0.0: 0.06}  # of the full energy (issue #15)


def _rows():
    with gzip.open(FIXTURE, "rt") as f:
        return json.load(f)["rows"]


ROWS = _rows()


def _energies(row):
    lg = row["log"]
    est = make_estimator("chen2020")
    est.run(np.asarray(lg["time_s"]), np.asarray(lg["current_A"]), np.asarray(lg["voltage_V"]),
            np.asarray(lg["temperature_degC"]))
    T_end = float(lg["temperature_degC"][-1])
    out = {}
    for p in row["powers"]:
        nom = remaining_energy(est, T_end, float(p))
        con = remaining_energy(est, T_end, float(p), PowerSettings.conservative())
        out[p] = (nom["energy_Wh"], nom["energy_sigma_Wh"], con["energy_Wh"])
    return out


def test_the_fixture_covers_the_issue_s_states():
    states = {(r["temperature_degC"], r["soc_target"]) for r in ROWS}
    for T in (25.0, 0.0):
        for soc in (0.9, 0.7, 0.5, 0.3, 0.15):
            assert (T, soc) in states
    for r in ROWS:
        assert abs(r["soc_end_true"] - r["soc_target"]) < 0.01  # the history ends where it was aimed
        for v in r["powers"].values():
            assert 0.0 < v["truth_Wh"] < v["full_Wh"]


@pytest.mark.parametrize("row", [r for r in ROWS if r["temperature_degC"] in BARS],
                         ids=lambda r: f"{r['temperature_degC']:g}degC-soc{r['soc_target']:g}")
def test_remaining_energy_within_the_issue_s_bar_of_the_dfn(row):
    bar = BARS[row["temperature_degC"]]
    got = _energies(row)
    for p, ref in row["powers"].items():
        e, sigma, e_con = got[p]
        assert abs(e - ref["truth_Wh"]) <= bar * ref["full_Wh"], (p, e, ref["truth_Wh"], ref["full_Wh"])
        assert sigma > 0.0
        assert e_con < e  # the conservative SOC (3 sigma lower) leaves less energy
        # today's code gives the figures the fixture was written with (the docs' table), to the solver's round-off
        assert e == pytest.approx(ref["model_Wh"], rel=1e-6, abs=1e-6)
        assert e_con == pytest.approx(ref["conservative_Wh"], rel=1e-6, abs=1e-6)


def test_less_power_more_energy():
    """The DFN and the model agree on the direction: at half the power, more energy reaches the cut-off."""
    for r in ROWS:
        if r["temperature_degC"] not in BARS:
            continue
        got = _energies(r)
        ps = sorted(r["powers"], key=float)
        lo, hi = ps[0], ps[-1]
        assert r["powers"][lo]["truth_Wh"] > r["powers"][hi]["truth_Wh"]
        assert got[lo][0] > got[hi][0]
