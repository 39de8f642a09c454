"""cellsense.fit.overpotential (issue #15, docs/power.md "Current-dependent overpotential"): on an HPPC whose pulse
end voltages carry a known Butler-Volmer overpotential R I_ref asinh(i / I_ref), the fitter recovers I_ref; rows
without an HPPC are filled log-linearly in 1/T; the pulse finder and the measured limit."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from cellsense.fit.overpotential import (arrhenius_fill, fit_overpotential, fit_reference_current, measured_limit,
                                         overpotential_current, pulse_sets, unmeasured_levels)

Q, R0, R1, TAU = 3.0, 0.05, 0.03, 5.0


def _cell() -> dict:
    soc = [0.0, 0.5, 1.0]
    return {"cellsense cell file": 1, "name": "bv", "model": "ecm", "RC pairs": 1, "parameters": {
        "Nominal cell capacity [A.h]": Q, "SOC breakpoints": soc, "Temperature breakpoints [degC]": [0.0, 25.0, 45.0],
        "Open-circuit voltage [V]": [3.3 + 0.8 * z for z in soc], "R0 [Ohm]": R0, "R1 [Ohm]": R1, "tau1 [s]": TAU,
        "Lower voltage cut-off [V]": 2.5, "Upper voltage cut-off [V]": 4.2}}


def _hppc(iref: float, temperature_degC: float = 25.0):
    """1 s log from SOC 1: per level a 1.5 A discharge of 0.2 SOC, 20 min rest, pulses of 1.5 / 3 / 6 / 12 / 24 A for 10 s
    with 20 min rests; voltage OCV(z) - (R0 + R1 (1 - e^-t/tau)) I_ref asinh(i / I_ref) in a pulse (from rest), OCV at
    rest (tau = 5 s: relaxed)."""
    cur = []
    for _level in range(4):
        cur += [1.5] * int(0.2 * Q * 3600 / 1.5) + [0.0] * 1200
        for a in (1.5, 3.0, 6.0, 12.0, 24.0):
            cur += [a] * 10 + [0.0] * 1200
    i = np.array([0.0] + cur)
    t = np.arange(len(i), dtype=float)
    z = 1.0 - np.cumsum(i) / (3600 * Q)
    v = 3.3 + 0.8 * z
    k = 1
    while k < len(i):
        if i[k] > 1.0 and i[k - 1] == 0.0 and i[k] != 1.5 or (i[k] == 1.5 and i[k - 1] == 0.0 and i[k + 10] == 0.0):
            for m in range(10):  # a pulse: the overpotential on both resistances
                v[k + m] -= (R0 + R1 * (1 - math.exp(-(m + 1) / TAU))) * iref * math.asinh(i[k + m] / iref)
            k += 10
        else:
            if i[k] > 0:
                v[k] -= (R0 + R1) * i[k]  # the long discharge: linear (steady state), never a fitted pulse
            k += 1
    return SimpleNamespace(time_s=t, current_A=i, voltage_V=v, temperature_degC=np.full_like(t, temperature_degC))


@pytest.mark.parametrize("iref", [4.0, 15.0, 60.0])
def test_fit_recovers_the_reference_current(iref):
    log = _hppc(iref)
    sets = pulse_sets(log.time_s, log.current_A, 1.0 - np.cumsum(log.current_A) / (3600 * Q))
    assert len(sets) == 4 and all(len(s) == 5 for s in sets)
    refs, report = fit_overpotential(_cell(), [log], initial_soc=1.0)
    ref, rms, rms_linear, n = report[25.0]
    assert n == 20 and abs(ref / iref - 1) < 0.02, (ref, iref)
    assert rms < 1e-3 < rms_linear
    # the other rows: the one fitted value (a single known row holds)
    assert refs[1] == pytest.approx(ref) and refs[0] == refs[2] == pytest.approx(ref)


def test_rows_without_hppc_follow_arrhenius():
    got = arrhenius_fill([-10.0, 0.0, 10.0, 25.0, 35.0], {0.0: 10.0, 25.0: 40.0})
    x = [1 / (t + 273.15) for t in (-10.0, 0.0, 10.0, 25.0, 35.0)]
    slope = (math.log(40.0) - math.log(10.0)) / (x[3] - x[1])
    want = [math.exp(math.log(10.0) + slope * (xi - x[1])) for xi in x]
    assert got[1] == 10.0 and got[3] == 40.0
    assert np.allclose(got, want, rtol=1e-12) and got[0] < 10.0 < got[2] < 40.0 < got[4]


def test_measured_limit_and_the_held_out_levels():
    log = _hppc(15.0)
    sets = pulse_sets(log.time_s, log.current_A, 1.0 - np.cumsum(log.current_A) / (3600 * Q))
    # the linear interpolation between the pulses around the cut-off; the index of the one at or below it
    amps = [log.current_A[a] for a, _ in sets[0]]
    v10 = [log.voltage_V[b] for _, b in sets[0]]
    vmin = 0.5 * (v10[2] + v10[3])
    lim, j = measured_limit(log.current_A, log.voltage_V, sets[0], vmin)
    assert j == 3 and lim == pytest.approx(0.5 * (amps[2] + amps[3]))
    assert measured_limit(log.current_A, log.voltage_V, sets[0], 1.0) == (None, None)  # beyond reach
    sel = unmeasured_levels(vmin)
    assert not sel(0, sets[0], log) and sel(0, sets[0][:2], log)


def test_pulse_sets_takes_one_direction():
    """pulse_sets finds the discharge pulses by default and the charge pulses with direction -1 (the charge column's
    fit, fit_overpotential(..., direction=-1))."""
    import numpy as np

    from cellsense.fit.overpotential import pulse_sets

    t = np.arange(0.0, 400.0)
    i = np.zeros_like(t)
    i[10:20] = 5.0
    i[100:110] = -5.0
    i[200:210] = 10.0
    soc = np.full_like(t, 0.5)
    dis = [p for s in pulse_sets(t, i, soc) for p in s]
    chg = [p for s in pulse_sets(t, i, soc, direction=-1) for p in s]
    assert dis == [(10, 19), (200, 209)] and chg == [(100, 109)]


def test_a_small_cell_s_pulses_are_seen():
    """PyBaMM Ecker2015 (0.171 A h): its HPPC's 0.156 A (1C) pulses were below the fixed 0.2 A pulse floor, so
    fit --overpotential said 'no pulses selected'. pulse_rows takes C/10 for a small cell, and I_ref's search reaches
    half the smallest pulse."""
    t = np.arange(0.0, 400.0)
    i = np.where((t >= 100) & (t < 110), 0.156, 0.0) + np.where((t >= 250) & (t < 260), 0.078, 0.0)
    soc = 1.0 - np.cumsum(i) / (3600 * 0.171)
    assert pulse_sets(t, i, soc) == []
    (level,) = pulse_sets(t, i, soc, floor_A=0.0171)
    assert [(int(t[a]), int(t[b])) for a, b in level] == [(100, 109), (250, 259)]
    # rows (v_other, R_eff, pulse current, end voltage) of a cell whose true I_ref is 0.05 A: found below 0.3 A
    cur = np.array([0.078, 0.156, 0.3, 0.6])
    rows = np.column_stack([np.full(4, 3.7), np.full(4, 1.0), cur, 3.7 - overpotential_current(cur, 0.05)])
    ref, rms_ref, rms_lin = fit_reference_current(rows)
    assert ref == pytest.approx(0.05, rel=0.02) and rms_ref < 1e-6 < rms_lin
