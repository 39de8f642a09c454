"""The cell file's power-limit tables and ratings (issue #15, docs/power.md): the identified current range, the
current derating, the overpotential reference currents and the transport limit, read from a cell and checked row by
row; `cellsense.estimators.power.PowerSettings.core_dict` passes them to the core."""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np

from ..cells.ecm import K_OVERPOTENTIAL, K_OVERPOTENTIAL_CHARGE, K_TRANSPORT, L_DERATING, L_IDENTIFIED  # noqa: F401


def identified_current_range(cell) -> tuple[float, float]:
    """The current range the limits default to: the cell file's `limits."Identified current range [A]"` (the
    largest charge / discharge currents of the characterisation the model was fitted to: an ECM is a linear fit
    and extrapolates poorly beyond it - on Chen2020, fitted on 1C pulses, the 30 s discharge limit at 6C came out
    35-57 % above the DFN's, docs/power.md), per direction; a direction it does not cover (0), or a file without the
    key, falls back to the file's plausible "Current range [A]"."""
    lo, hi = cell.current_range_A
    ident = (cell.raw.get("limits") or {}).get(L_IDENTIFIED)
    if ident is None:
        return lo, hi
    try:
        a, b = (float(x) for x in ident)
    except (TypeError, ValueError):
        raise ValueError(f'{cell.source}: limits."{L_IDENTIFIED}": expected [charge, discharge] A, got {ident!r}') from None
    if not (math.isfinite(a) and math.isfinite(b) and lo <= a <= 0.0 <= b <= hi):
        raise ValueError(f'{cell.source}: limits."{L_IDENTIFIED}": {ident!r} must be finite, contain 0 and lie '
                         f"within the current range [{lo}, {hi}] A")
    return (a if a < 0.0 else lo), (b if b > 0.0 else hi)


class RatingFallbackWarning(UserWarning):
    """A default current rating fell back to the cell file's plausible "Current range [A]" (the file has no
    `limits."Identified current range [A]"` for that direction): a bound for reading logs, often far above the
    cell's datasheet rating (panasonic_18650pf: 28.2 A charge, 10C)."""


class RatingBelowLogWarning(RatingFallbackWarning):
    """A default current rating (the cell file's identified current range: the currents its tests covered) is below
    what the log itself draws in that direction, so every limit in that direction is capped below the cell's own
    use (a new-user sweep: 0.68 A limits on a log drawing 1.44 A, without a word)."""


def rating_below_log_message(cell, direction: str, rating_A: float, drawn_A: float, how: str) -> str:
    """The warning for a default rating below the log's own peak in `direction` ('discharge' / 'charge')."""
    return (f"the log draws up to {drawn_A:.4g} A {direction}, above the default {direction} rating {rating_A:.4g} A "
            f"({cell.source}: the identified current range, the currents its tests covered): every {direction} limit "
            f"is capped at {rating_A:.4g} A; give the cell's datasheet rating ({how})")


def rating_sources(cell) -> dict[str, tuple[float, str]]:
    """The default rating of each direction ('discharge', 'charge': a positive magnitude, A) with where it comes
    from: 'identified' (the file's identified current range) or 'plausible' (its plausible current range: the
    fallback `identified_current_range` takes for a direction the fit did not cover or a file without the key)."""
    lo, hi = identified_current_range(cell)
    ident = (cell.raw.get("limits") or {}).get(L_IDENTIFIED)
    a, b = (0.0, 0.0) if ident is None else (float(x) for x in ident)
    return {"discharge": (hi, "identified" if b > 0.0 else "plausible"),
            "charge": (-lo, "identified" if a < 0.0 else "plausible")}


def rating_fallback_message(cell, directions: dict[str, float], how: str) -> str:
    """The warning for default ratings taken from the plausible current range: `directions` maps 'discharge' /
    'charge' to that rating (A); `how` says how to give the rating (the argument or option names)."""
    q = float(getattr(cell, "capacity_Ah", 0.0) or 0.0)
    what = " and ".join(f"{d} {a:g} A" + (f" ({a / q:.1f}C)" if q > 0 else "") for d, a in directions.items())
    return (f'{cell.source}: no limits."{L_IDENTIFIED}" for the {" and ".join(directions)} '
            f'direction{"s" if len(directions) > 1 else ""}: the default rating is the cell file\'s plausible "Current range [A]", {what}, a bound for reading logs rather '
            f"than a rating; give the cell's datasheet rating ({how})")


def _caller_stacklevel() -> int:
    """The stacklevel of warnings.warn that names the first frame outside the cellsense package."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(pkg + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def warn_rating_fallback(cell, given: dict[str, float | None], how: str, warn=None) -> dict[str, tuple[float, str]]:
    """`rating_sources(cell)`; for a direction whose rating is not `given` (None) and falls back to the plausible
    current range, a RatingFallbackWarning (or `warn(text)` when given: a CLI's "warning: ..." line)."""
    src = rating_sources(cell)
    fallback = {d: a for d, (a, where) in src.items() if where == "plausible" and given.get(d) is None}
    texts = [rating_fallback_message(cell, fallback, how)] if fallback else []
    # a given rating beyond the currents the cell file accepts as readings: limits at currents the model was never
    # meant for (an Ecker2015 sweep's --current-max-A 100 on a 1.7 A range gave 10 s limits up to 5.9 A, 35C, silently)
    lo, hi = cell.current_range_A
    for d, bound in (("discharge", hi), ("charge", -lo)):
        a = given.get(d)
        if a is not None and math.isfinite(float(a)) and float(a) > float(bound) > 0:
            texts.append(f"{cell.source}: the given {d} rating {float(a):g} A is above the cell file's plausible current "
                         f'range ("Current range [A]", {float(bound):g} A {d}): its limits then lie at currents the model '
                         f"was never meant for (a rating in mA, or another cell's?); give the cell's datasheet rating ({how})")
    for text in texts:
        if warn is not None:
            warn(text)
        else:
            warnings.warn(text, RatingFallbackWarning, stacklevel=_caller_stacklevel())
    return src


def _float_rows(rows, what: str, columns: str, widths: tuple[int, ...]) -> list[tuple[float, ...]]:
    """Rows of numbers (`columns` names them in the messages) as float tuples, every row of one width: the widest of
    `widths` that a row has, else the narrowest (optional trailing columns are all there or all absent); the values'
    rules are the core's."""
    try:
        out = [tuple(float(v) for v in r) for r in rows]
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {rows!r}: expected rows ({columns})") from None
    width = max((w for w in widths if any(len(r) == w for r in out)), default=min(widths))
    if any(len(r) != width for r in out):
        raise ValueError(f"{what}: {rows!r}: each row is ({columns})")
    return out


def _derating_rows(rows, what: str) -> list[tuple[float, float, float]]:
    """Rows (T, discharge factor, charge factor) as float triples."""
    return _float_rows(rows, what, "temperature degC, discharge factor, charge factor", (3,))


def current_derating(cell) -> list[tuple[float, float, float]]:
    """The cell file's `limits."Current derating [degC, discharge factor, charge factor]"` rows, [] without it."""
    rows = (cell.raw.get("limits") or {}).get(L_DERATING)
    return [] if rows is None else _derating_rows(rows, f'{cell.source}: limits."{L_DERATING}"')


def _pair_rows(rows, what: str) -> list[tuple[float, ...]]:
    """Rows (temperature degC, I_ref A[, charge I_ref A]) as float tuples, every row of one width."""
    return _float_rows(rows, what, "temperature degC, reference current A[, charge reference current A]", (2, 3))


def _transport_rows(rows, what: str) -> list[tuple[float, ...]]:
    """Rows (SOC, K0 A s^0.5, c s^0.5[, charge K0, charge c]) as float tuples, every row of one width; the values'
    rules are the core's."""
    return _float_rows(rows, what, "SOC, K0 A s^0.5, c s^0.5[, charge K0 A s^0.5, charge c s^0.5]", (3, 5))


def cell_transport(cell) -> list[tuple[float, ...]]:
    """The cell file's `parameters."Transport limit [SOC, A.s^0.5, s^0.5]"` rows (SOC, K0, c[, charge K0, charge c]),
    [] without it."""
    rows = (cell.raw.get("parameters") or {}).get(K_TRANSPORT)
    return [] if rows is None else _transport_rows(rows, f'{cell.source}: parameters."{K_TRANSPORT}"')


def _per_temperature(cell, key: str) -> list[float] | None:
    """A cell file's list of one reference current per temperature breakpoint under `parameters.key`; None without it."""
    vals = (cell.raw.get("parameters") or {}).get(key)
    if vals is None:
        return None
    where = f'{cell.source}: parameters."{key}"'
    try:
        refs = [float(v) for v in vals]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {vals!r}: expected one reference current (A) per temperature breakpoint") from None
    if len(refs) != len(cell.temperature_degC):
        raise ValueError(f"{where}: {len(refs)} values for {len(cell.temperature_degC)} temperature breakpoints")
    return refs


def cell_overpotential(cell) -> list[tuple[float, ...]]:
    """The cell file's `parameters."Overpotential reference current [A]"` (one I_ref per temperature breakpoint) as
    rows (breakpoint degC, I_ref A), with a third column, the charge direction's I_ref, when the file also has
    `parameters."Overpotential reference current, charge [A]"` (identified on charge pulses); [] without the first."""
    refs = _per_temperature(cell, K_OVERPOTENTIAL)
    if refs is None:
        return []
    temps = [float(t) for t in cell.temperature_degC]
    charge = _per_temperature(cell, K_OVERPOTENTIAL_CHARGE)
    return list(zip(temps, refs)) if charge is None else list(zip(temps, refs, charge))
