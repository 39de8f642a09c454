#!/usr/bin/env python3
"""Write tests/fixtures/aging/okane2022_aging_tail.npz: the last drive blocks of the PyBaMM ageing
campaign (`cellsense simulate --protocol aging`, OKane2022 SPMe with SEI, plating and loss of active
material; docs/soh.md), from the rest before block 8 to the end, so the SOH tests run on the aged
cell without regenerating a ~30 min simulation on every fresh machine. The file is this project's
own simulation output (PyBaMM, BSD-3-Clause); regenerate it with this script.

    python3 scripts/make_aging_fixture.py
"""
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
FROM_BLOCK = 7


def main() -> int:
    from cellsense.truth.simulate import simulate

    r = simulate(protocol="aging")
    blocks = r.meta["drive blocks"]
    k0 = int(np.searchsorted(r.time_s, blocks[FROM_BLOCK]["start [s]"] - 600.0))
    meta = dict(r.meta)
    meta["fixture"] = {"rows from": k0, "rows in the full campaign": int(len(r.time_s)),
                       "capacity_true_Ah at the campaign start": float(r.extra["capacity_true_Ah"][0]),
                       "from block": FROM_BLOCK, "made by": "scripts/make_aging_fixture.py"}
    out = ROOT / "tests" / "fixtures" / "aging" / "okane2022_aging_tail.npz"
    np.savez_compressed(out, time_s=r.time_s[k0:], current_A=r.current_A[k0:], voltage_V=r.voltage_V[k0:],
                        temperature_degC=r.temperature_degC[k0:], soc_true=r.soc_true[k0:],
                        capacity_true_Ah=r.extra["capacity_true_Ah"][k0:], r0_ref_Ohm=r.extra["r0_ref_Ohm"][k0:],
                        meta=np.array(json.dumps(meta)))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(r.time_s) - k0} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
