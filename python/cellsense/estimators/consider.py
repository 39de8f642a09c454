"""The current sensor's consider sensitivities in a saved state (NoiseSettings.current_offset_sigma_A /
current_gain_sigma; the core's Estimator::consider_offset / consider_gain, docs/estimator.md "The current sensor in
the band"): saved with the SOC state so a restored estimator reports the band the running one did."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._io import finite_state_number

KEYS = ("consider_offset", "consider_gain")


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
        out.append(np.array([finite_state_number(fail, f"{key}[{i}]", e) for i, e in enumerate(v)]))
    return out[0], out[1]
