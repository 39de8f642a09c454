#!/usr/bin/env python3
"""SOC / capacity / R0 of the SOH estimator on the PyBaMM ageing truth, over several campaigns and
starting points (docs/soh.md): the US06 campaign of the tests (10 blocks) and a UDDS campaign
(8 blocks, same schedule otherwise). Each run starts in the rest before drive block N with the fresh
cell's model (capacity 5.0 Ah, R0 factor 1, no OCV correction) and runs to the campaign's end.

    python3 scripts/check_aging_cycles.py            # cached campaigns: seconds; else ~15-30 min each

Not part of CI (the UDDS campaign is not bundled); the US06 bars are asserted in tests/python/estimators/test_soh.py.
"""
import sys
from pathlib import Path

import numpy as np

from cellsense.truth.aging import simulate_aging
from cellsense.estimators.soh import SohEstimator, SohSettings

ROOT = Path(__file__).resolve().parents[1]

MODEL = ROOT / "models" / "okane2022_spme.json"
CAMPAIGNS = (("us06", 10, (4, 5, 6, 7, 8)), ("udds", 8, (4, 5, 6)))


def main() -> int:
    print("campaign start  filter  SOC RMSE % (SOH / no OCV learning / SOH off)  capacity err % at 3rd FEC  R0 err %")
    for cycle, blocks, starts in CAMPAIGNS:
        r = simulate_aging(blocks=blocks, drive_cycle=cycle)
        t, cap, r0 = r.time_s, r.extra["capacity_true_Ah"], r.extra["r0_ref_Ohm"]
        b = r.meta["drive blocks"]
        for start in starts:
            k0 = int(np.searchsorted(t, b[start - 1]["start [s]"] - 600.0))
            k3 = int(np.searchsorted(t, b[start + 1]["end [s]"])) - k0
            for filt in ("ekf", "ukf"):
                rmse = []
                for kw in ({}, {"ocv_learning": False}, {"enabled": False}):
                    est = SohEstimator(MODEL, filter=filt, soh=SohSettings(**kw))
                    res = est.run(t[k0:], r.current_A[k0:], r.voltage_V[k0:], r.temperature_degC[k0:])
                    rmse.append(100 * float(np.sqrt(np.mean((res.soc - r.soc_true[k0:]) ** 2))))
                    if not kw:
                        c_err = 100 * (res.capacity_Ah[k3] / cap[k0 + k3] - 1)
                        r_err = 100 * (est.r0_Ohm(0.5, 25.0) / r0[-1] - 1)
                print(f"{cycle:8s} {start:5d}  {filt:6s}  {rmse[0]:5.2f} / {rmse[1]:5.2f} / {rmse[2]:5.2f}"
                      f"{'':22s}{c_err:+6.2f}{'':20s}{r_err:+5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
