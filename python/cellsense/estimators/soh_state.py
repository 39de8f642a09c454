"""The checks of a saved SOH state (`SohEstimator.restore_state`, docs/soh.md "Rejected inputs, uncertainty,
persistence"): the bounds of each field, the SOH part field by field, and the saved filter / dtype / soh_settings
against the restoring estimator's. Split from estimators/soh.py (the 450-line rule)."""
from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from .._io import finite_state_number

#: SOH state fields: scalars, 0/1 flags (the OCV filter's fields are optional: states saved before OCV learning)
SOH_SCALARS = ("capacity_Ah", "a_xx", "a_xy", "b_xx", "b_xy", "b_yy", "r0_scale", "r0_scale_var", "anchor_soc",
               "anchor_soc_var", "charge_Ah", "charge_var_Ah2", "prev_residual_V", "prev_g_V", "prev_current_A", "rest_s",
               "anchor_age_s")
SOH_FLAGS = ("anchored", "prev_valid")
#: |residual| a restored R0 tracker may carry (V): far beyond any cell's voltage window
SOH_RESIDUAL_MAX_V = 100.0
#: smallest capacity 1 sigma a restored state may carry, x the initial capacity: 10 ppm, beyond any coulomb count
#: (with capacity_forgetting 1 it takes ~1e5 good pairs; the B0005 chain's lowest is 2.7e-3 after 60); a_xx = 1e12
#: (sigma 1e-6 A h) would freeze the capacity
CAPACITY_SIGMA_MIN = 1e-5
#: the counted charge's 1 sigma since the anchor: at most this many initial capacities (the bound of |charge_Ah|)
CHARGE_SIGMA_MAX = 100.0
#: relative slack on the bounds that are a configured value (float32 rounding of r0_scale_sigma^2, 1 / sigma^2)
TOL = 1e-6


class SavedStateMismatchWarning(UserWarning):
    """`restore_state` of a state saved by an estimator with another filter, dtype or SohSettings: restored (the SOC
    and SOH state do not depend on them), the restoring estimator's settings apply from there on."""


def capacity_sigma_bounds(est) -> tuple[float, float]:
    """[lo, hi] of the capacity 1 sigma, 1 / sqrt(a_xx) (A h; the core's CapacityAwtls::sigma_Ah): from
    CAPACITY_SIGMA_MIN x the initial capacity up to the larger of the initial sigma (capacity_sigma_Ah) and the
    tracker's largest capacity (1.5 x initial). Not the initial sigma alone: fading memory (capacity_forgetting < 1)
    discounts the prior too, so a tight prior grows after weak pairs (capacity_sigma_Ah 0.01 A h on NASA B0005:
    1.75 x after 60 discharges)."""
    c = est.soh_core_config
    q0, s0 = float(c["initial_capacity_Ah"]), float(c["capacity_sigma_Ah"])
    return CAPACITY_SIGMA_MIN * q0, max(s0, 1.5 * q0) * (1.0 + TOL)


def soh_state_bounds(est) -> dict[str, tuple[float, float]]:
    """`SohEstimator.soh_state_bounds()` (its docstring)."""
    st, s, c = est.soh_settings, est.settings, est.cell
    q0 = float(est.soh_core_config["initial_capacity_Ah"])
    imax = max(abs(c.current_range_A[0]), abs(c.current_range_A[1]))
    gmax = float(np.max(c.r0_Ohm)) * imax * (1.0 + 1e-6) + 1e-12
    sig_lo, sig_hi = capacity_sigma_bounds(est)
    inf = np.inf
    return {"capacity_Ah": (0.3 * q0 * (1 - 1e-6), 1.5 * q0 * (1 + 1e-6)), "a_xx": (1.0 / sig_hi ** 2, 1.0 / sig_lo ** 2),
            "a_xy": (-inf, inf), "b_xx": (0.0, inf), "b_xy": (-inf, inf), "b_yy": (0.0, inf),
            "r0_scale": (st.r0_scale_min, st.r0_scale_max),
            "r0_scale_var": (np.nextafter(0.0, 1.0), st.r0_scale_sigma ** 2 * (1.0 + TOL)),
            "anchor_soc": (s.soc_min, s.soc_max), "anchor_soc_var": (0.0, 1.0),
            "charge_Ah": (-CHARGE_SIGMA_MAX * q0, CHARGE_SIGMA_MAX * q0),
            "charge_var_Ah2": (0.0, (CHARGE_SIGMA_MAX * q0) ** 2),
            "prev_residual_V": (-SOH_RESIDUAL_MAX_V, SOH_RESIDUAL_MAX_V), "prev_g_V": (-gmax, gmax),
            "prev_current_A": (c.current_range_A[0], c.current_range_A[1]), "rest_s": (0.0, 1e6), "anchor_age_s": (0.0, 1e6)}


def _why(est, k: str, v: float) -> str:
    """What a bound of field `k` is (appended to its refusal)."""
    if k == "a_xx":
        lo, hi = capacity_sigma_bounds(est)
        sig = 1.0 / math.sqrt(v) if v > 0 else math.inf
        return (f": the capacity sigma 1/sqrt(a_xx) = {sig:.6g} A h must be within [{lo:.6g}, {hi:.6g}] A h "
                f"({CAPACITY_SIGMA_MIN:g} x the initial capacity .. the larger of capacity_sigma_Ah and 1.5 x the "
                "initial capacity)")
    if k == "r0_scale_var":
        return f" (the R0 factor's variance is capped at r0_scale_sigma^2 = {est.soh_settings.r0_scale_sigma ** 2:.6g})"
    if k == "charge_var_Ah2":
        return (f" (the counted charge's 1 sigma, {math.sqrt(max(v, 0.0)):.6g} A h, must be within "
                f"{CHARGE_SIGMA_MAX:g} x the initial capacity, as |charge_Ah|)")
    return ""


def checked_soh_state(est, d: Any) -> dict[str, Any]:
    """The SOH part of a saved state, validated field by field (ValueError naming it); returns a clean dict."""
    def fail(where: str, msg: str) -> ValueError:
        return ValueError(f"restore_state: soh.{where}: {msg}")

    if not isinstance(d, dict):
        raise ValueError(f"restore_state: soh: expected a dict, got {type(d).__name__}")

    def number(where: str, v: Any) -> float:
        return finite_state_number(fail, where, v)

    bounds = soh_state_bounds(est)
    out: dict[str, Any] = {}
    for k in SOH_SCALARS + SOH_FLAGS:
        if k not in d:
            raise fail(k, "missing")
        v = number(k, d[k])
        lo, hi = bounds.get(k, (0.0, 1.0))
        if k in SOH_FLAGS and v not in (0.0, 1.0):
            raise fail(k, f"must be 0 or 1, got {v!r}")
        if not lo <= v <= hi:
            raise fail(k, f"{v!r} is outside [{lo:.6g}, {hi:.6g}]{_why(est, k, v)}")
        out[k] = v
    if "r0_window_s" in d:  # absent in states saved before the R0 difference window (2026-12-07): none open
        v = number("r0_window_s", d["r0_window_s"])
        hi = est.soh_settings.r0_max_dt_s
        if not 0.0 <= v <= hi:
            raise fail("r0_window_s", f"{v!r} is outside [0, {hi:.6g}] (r0_max_dt_s)")
        out["r0_window_s"] = v
    if "ocv_x" in d or "ocv_P" in d or "ocv_resync" in d:
        out.update(_checked_ocv_filter(est, d, fail, number))
    return out


def _checked_ocv_filter(est, d: dict, fail, number) -> dict[str, Any]:
    n = len(est.ocv_nodes_V) + 1
    for k in ("ocv_x", "ocv_P", "ocv_resync"):
        if k not in d:
            raise fail(k, "missing (ocv_x, ocv_P and ocv_resync go together)")
    ox = d["ocv_x"]
    if not isinstance(ox, (list, tuple)) or len(ox) != n:
        raise fail("ocv_x", f"expected a list of {n} numbers")
    ox = [number(f"ocv_x[{i}]", v) for i, v in enumerate(ox)]
    s = est.settings
    if not s.soc_min <= ox[0] <= s.soc_max:
        raise fail("ocv_x[0]", f"the OCV filter's SOC {ox[0]!r} is outside [{s.soc_min}, {s.soc_max}]")
    m = est.soh_settings.ocv_max_V
    if est.dtype == "float32":  # the core's bound in its arithmetic: a node clamped at ocv_max_V is 0.1f > 0.1
        m = float(np.float32(m))
    for i in range(1, n):
        if not -m <= ox[i] <= m:
            raise fail(f"ocv_x[{i}]", f"OCV correction node {ox[i]!r} V is outside +-{m} V (ocv_max_V)")
    op = d["ocv_P"]
    if not isinstance(op, (list, tuple)) or len(op) != n:
        raise fail("ocv_P", f"expected {n} rows of {n} numbers")
    rows = []
    for r, row in enumerate(op):
        if not isinstance(row, (list, tuple)) or len(row) != n:
            raise fail(f"ocv_P[{r}]", f"expected a list of {n} numbers")
        rows.append([number(f"ocv_P[{r}][{c}]", v) for c, v in enumerate(row)])
    for r in range(n):
        if not rows[r][r] > 0:
            raise fail(f"ocv_P[{r}][{r}]", f"variance must be positive, got {rows[r][r]!r}")
        for c in range(r):
            if rows[r][c] != rows[c][r]:
                raise fail(f"ocv_P[{r}][{c}]", f"not symmetric ({rows[r][c]!r} vs {rows[c][r]!r})")
    rs = number("ocv_resync", d["ocv_resync"])
    if rs not in (0.0, 1.0):
        raise fail("ocv_resync", f"must be 0 or 1, got {rs!r}")
    return {"ocv_x": ox, "ocv_P": rows, "ocv_resync": rs}


def saved_settings_mismatches(est, saved: dict) -> list[str]:
    """How the saved filter, dtype and soh_settings differ from `est`'s (one message each; empty if none). A
    soh_settings that is there but not a dict is refused (ValueError naming it); absent: nothing to compare."""
    out = []
    for key, now in (("filter", est.filter), ("dtype", est.dtype)):
        if key in saved and saved[key] != now:
            out.append(f"the state was saved with {key} {saved[key]!r:.40}, restored into {key} {now!r}: the SOC "
                       f"and SOH state carry over (they do not depend on the {key})")
    if "soh_settings" not in saved:
        return out
    ss = saved["soh_settings"]
    if not isinstance(ss, dict):
        raise ValueError(f"restore_state: soh_settings: expected a dict (the saved SohSettings), got "
                         f"{type(ss).__name__} {ss!r:.40}")
    now = asdict(est.soh_settings)
    for k, v in now.items():
        if k not in ss or ss[k] == v:
            continue
        msg = f"soh_settings.{k} was {ss[k]!r:.40} in the saved state, is {v!r} here"
        if k == "ocv_learning" and v:
            msg += " (this estimator learns the OCV correction from here on, from the carried nodes)"
        elif k == "ocv_learning":
            msg += " (the carried OCV correction is not used; save_state keeps it unchanged)"
        out.append(msg + ": this estimator's settings apply from here on")
    return out
