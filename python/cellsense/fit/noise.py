"""The fitted cell's model-error budget beyond its 25 degC voltage error (``cellsense fit
--error-correlation-s``).

`cellsense fit` writes "Model voltage error [V]", the open-loop RMS error of the model at the HPPC file nearest
the OCV test. With that key alone the estimator uses a constant voltage sigma (5 x e, docs/tuning.md), which
trusts a cold model as much as a warm one. A cell file that also states the model error's correlation time
("Model error correlation [s]") gets the resistance-scaled budget instead: the model error grows with
R0 + sum R_j over SOC and temperature and with the resistive drop, and its information per second does not
grow with the sample rate (docs/real-data.md "Across temperature": on the Panasonic 18650PF that took the
truth inside 3 sigma from 17-20 % to 100 % of the samples at -20 degC).

The correlation time is a property of the model error on driving, so it is measured on drive cycles with a
reference SOC (the Panasonic's 100 s: the integral time scale of the open-loop residual on four 25 degC
cycles), not on an HPPC; the fit therefore writes it only when asked, and says when its own residuals show
the model getting worse away from 25 degC (`residual_growth`)."""
from __future__ import annotations

import math
import re

from ..cells.ecm import K_MODEL_ERROR_TAU, MODEL_ERROR_CORRELATION_MAX_S

#: a fit whose coldest / warmest HPPC residual is this many times the reference file's gets the hint
GROWTH_HINT_RATIO = 1.5
_HPPC_TEST = re.compile(r"HPPC at (-?[0-9.]+) degC")


def check_correlation_s(tau_s, what: str = "--error-correlation-s") -> float:
    """`tau_s` as a float if it is a usable correlation time (finite, > 0, at most the core's bound); else
    ValueError naming `what`."""
    try:
        tau = float(tau_s)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected a number of seconds, got {tau_s!r}") from None
    if not (math.isfinite(tau) and 0.0 < tau <= MODEL_ERROR_CORRELATION_MAX_S):
        raise ValueError(f"{what}: must be in (0, {MODEL_ERROR_CORRELATION_MAX_S:g}] s, got {tau_s!r}")
    return tau


def add_model_error_correlation(cell: dict, tau_s: float, how: str) -> None:
    """Write "Model error correlation [s]" = `tau_s` into a cell file dict, with `how` as its provenance (where
    the number comes from). The cell must already state its "Model voltage error [V]" (the fit writes it):
    the resistance-scaled budget is k_A = e / R_ref, so a correlation time alone changes nothing."""
    tau = check_correlation_s(tau_s, f'parameters."{K_MODEL_ERROR_TAU}"')
    params = cell["parameters"]
    if "Model voltage error [V]" not in params:
        raise ValueError(f'parameters."{K_MODEL_ERROR_TAU}": the cell file states no "Model voltage error [V]", '
                         "which the resistance-scaled model error scales")
    params[K_MODEL_ERROR_TAU] = tau
    cell.setdefault("provenance", {})[K_MODEL_ERROR_TAU] = str(how)


def residual_growth(cell: dict) -> tuple[float, float, float] | None:
    """(temperature degC, its HPPC open-loop RMSE / the reference file's, the reference RMSE in V) for the HPPC
    file whose residual grew most against the one the "Model voltage error [V]" was taken from; None with fewer
    than two HPPC files (or residuals not written by `cellsense fit`)."""
    e_ref = cell.get("parameters", {}).get("Model voltage error [V]")
    rows = []
    for res in (cell.get("fit residuals") or {}).values():
        m = _HPPC_TEST.match(str(res.get("test", "")))
        if m:
            rows.append((float(m.group(1)), float(res["voltage RMSE [mV]"]) * 1e-3))
    if len(rows) < 2 or not e_ref or e_ref <= 0:
        return None
    T, e = max(rows, key=lambda r: r[1])
    return T, e / float(e_ref), float(e_ref)


def growth_hint(cell: dict) -> str | None:
    """One line for the fit's output when the model is much worse at some HPPC temperature than where its voltage
    error was measured and the file states no correlation time; else None."""
    g = residual_growth(cell)
    if g is None or g[1] < GROWTH_HINT_RATIO or K_MODEL_ERROR_TAU in cell.get("parameters", {}):
        return None
    T, ratio, e_ref = g
    return (f"note: the model's HPPC residual at {T:g} degC is {ratio:.1f} x its {1e3 * e_ref:.1f} mV reference; with "
            f"the constant voltage sigma the estimator trusts it there as much as at the reference. If you have "
            f"drive cycles of this cell with a reference SOC, measure the model error's correlation time on them "
            f"(docs/tuning.md) and give it (--error-correlation-s) so that the sigma follows the cell's resistance; "
            f"check the result with `cellsense estimate` on those cycles. Do not give another cell's value: the "
            f"Panasonic 18650PF's 100 s made PyBaMM Marquis2019 and ORegan2022 worse (docs/tuning.md)")
