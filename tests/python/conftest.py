"""Shared fixtures: synthetic cells (not real cells; shapes chosen to exercise the code) and logs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def synthetic_cell_dict(rc_pairs: int = 2) -> dict:
    soc = np.round(np.linspace(0, 1, 21), 10)
    temps = [0.0, 25.0, 45.0]
    ocv, r0, hyst = [], [], []
    for t in temps:
        cold = 1.0 + 0.02 * (25.0 - t)
        ocv.append((3.3 + 0.8 * soc + 0.2 * soc ** 2 * (1 - soc) - 0.15 * np.exp(-soc / 0.04) + 0.0005 * (t - 25)).tolist())
        r0.append((cold * (0.02 + 0.015 * (1 - soc) ** 3)).tolist())
        hyst.append((0.008 + 0.004 * (1 - soc)).tolist())
    params = {
        "Nominal cell capacity [A.h]": 3.0, "Coulombic efficiency": 0.995,
        "SOC breakpoints": soc.tolist(), "Temperature breakpoints [degC]": temps,
        "Open-circuit voltage [V]": ocv, "R0 [Ohm]": r0,
        "Hysteresis maximum [V]": hyst, "Instantaneous hysteresis [V]": 0.001,
        "Hysteresis rate constant": 30.0, "Lower voltage cut-off [V]": 2.5, "Upper voltage cut-off [V]": 4.2,
    }
    for j in range(1, rc_pairs + 1):
        params[f"R{j} [Ohm]"] = [[0.01 * j * (1.0 + 0.02 * (25.0 - t))] * len(soc) for t in temps]
        params[f"tau{j} [s]"] = float(10 * 8 ** (j - 1))
    return {"cellsense cell file": 1, "name": f"synthetic-{rc_pairs}rc", "description": "synthetic test cell",
            "placeholder": False, "model": "ecm", "RC pairs": rc_pairs, "parameters": params,
            "limits": {"Voltage range [V]": [0.0, 5.0], "Current range [A]": [-60.0, 60.0],
                       "Temperature range [degC]": [-40.0, 85.0]},
            "provenance": {"all": "synthetic, tests/python/conftest.py"}}


@pytest.fixture
def cell_dict():
    return synthetic_cell_dict(2)


@pytest.fixture
def cell_path(tmp_path: Path) -> Path:
    p = tmp_path / "synthetic.json"
    p.write_text(json.dumps(synthetic_cell_dict(2)))
    return p


def drive_profile(duration_s: int, capacity_Ah: float, seed: int = 1, dt_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A drive-like current profile (+ = discharge): pulses, regen, rests; net discharge ~0.4C."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s + dt_s / 2, dt_s)
    i = np.zeros_like(t)
    k = 0
    while k < len(t):
        n = int(rng.integers(5, 60))
        kind = rng.random()
        level = 0.0 if kind < 0.15 else (-rng.uniform(0.2, 1.0) if kind < 0.35 else rng.uniform(0.2, 2.0))
        i[k:k + n] = level * capacity_Ah
        k += n
    return t, i


@pytest.fixture(scope="session")
def synthetic_log():
    """One hour+ of drive-like data from the synthetic 2-RC cell (numpy ECM), noisy, with truth."""
    from cellsense.cells.ecm import cell_from_dict
    from cellsense.cells.ecm_reference import simulate_ecm

    cell = cell_from_dict(synthetic_cell_dict(2))
    t, i = drive_profile(4000, cell.capacity_Ah)
    sim = simulate_ecm(cell, t, i, 25.0, initial_soc=0.95)
    rng = np.random.default_rng(7)
    return {"cell": cell, "time_s": t, "current_A": i + 0.01 * rng.standard_normal(len(t)) + 0.02,
            "voltage_V": sim["voltage_V"] + 0.002 * rng.standard_normal(len(t)),
            "temperature_degC": np.full(len(t), 25.0), "soc_true": sim["soc"]}


# CI and scripts/test.sh run hypothesis derandomized (the same examples every run, so a landing is
# reproducible); a plain `pytest` explores new random examples (and have found real bugs: see docs/hardening.md).
import os as _os

from hypothesis import settings as _hyp_settings

_hyp_settings.register_profile("ci", derandomize=True, deadline=None)
if _os.environ.get("CI") or _os.environ.get("CELLSENSE_REPRODUCIBLE"):  # scripts/test.sh sets the latter
    _hyp_settings.load_profile("ci")
