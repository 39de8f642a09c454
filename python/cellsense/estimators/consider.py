"""The current sensor's consider sensitivities in a saved state (NoiseSettings.current_offset_sigma_A /
current_gain_sigma; the core's Estimator::consider_offset / consider_gain, docs/estimator.md "The current sensor in
the band"): saved with the SOC state so a restored estimator reports the band the running one did."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from .._io import finite_state_number

KEYS = ("consider_offset", "consider_gain")
#: |sensitivity| a restored state may hold: per A of offset (SOC per A, V per A) or per unit gain error; 1e3 is far
#: beyond any log's (an offset of 1 mA over 1,000 h of a 1 A h cell moves the SOC by 1 per A x 1e-3 A)
CONSIDER_MAX = 1e3


def consider_saved(impl: Any) -> dict[str, list[float]]:
    """The sensitivities for save_state ({} for a core class without them: the SPMe's)."""
    if not hasattr(impl, "consider"):
        return {}
    so, sg = impl.consider()
    return {KEYS[0]: [float(v) for v in so], KEYS[1]: [float(v) for v in sg]}


def checked_consider(saved: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A saved state's sensitivities, validated before anything is applied: n finite numbers each (zeros in states
    saved before 2026-12-07, which did not record them). ValueError naming the field."""
    def fail(where: str, msg: str) -> ValueError:
        return ValueError(f"restore_state: {where}: {msg}")

    out = []
    for key in KEYS:
        v = saved.get(key, [0.0] * n)
        if not isinstance(v, (list, tuple)) or len(v) != n:
            raise fail(key, f"expected a list of {n} numbers, got {type(v).__name__}"
                       + (f" of length {len(v)}" if isinstance(v, (list, tuple)) else ""))
        vals = np.array([finite_state_number(fail, f"{key}[{i}]", e) for i, e in enumerate(v)])
        big = np.flatnonzero(np.abs(vals) > CONSIDER_MAX)
        if big.size:
            k = int(big[0])
            raise fail(f"{key}[{k}]", f"{vals[k]!r} is outside [-{CONSIDER_MAX:g}, {CONSIDER_MAX:g}]")
        out.append(vals)
    return out[0], out[1]


def apply_consider(impl: Any, consider: tuple[np.ndarray, np.ndarray]) -> None:
    """Give a restored core its checked sensitivities (`checked_consider`; nothing for a core class without them:
    the SPMe's). ValueError if the core refuses them, which the checks above should make impossible."""
    if hasattr(impl, "set_consider") and not impl.set_consider(*consider):
        raise ValueError("restore_state: consider_offset / consider_gain: refused by the core")


def noise_mismatches(est: Any, saved: dict) -> list[str]:
    """How the saved NoiseSettings (save_state's "noise") differ from `est`'s, one message each (empty if none or
    not recorded): the restored state then continues under this estimator's noise (a different
    current_offset_sigma_A changes the reported sigma at once)."""
    ss = saved.get("noise")
    if not isinstance(ss, dict):
        return []
    out = []
    for k, v in asdict(est.noise).items():
        if k in ss and ss[k] != v:
            out.append(f"noise.{k} was {ss[k]!r:.40} in the saved state, is {v!r} here: this estimator's noise settings "
                       "apply from here on")
    return out
