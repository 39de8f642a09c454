"""Holes in a pack log, reported with when and how long (docs/replay.md, "Gaps and silences"): a count alone
("logger_gaps 1") said neither, and a gap under load lost its charge silently.

- **logger gaps**: time steps of the log longer than the estimator's gap threshold (gaps.gap_s, capped at dt_max_s;
  a CSV logger off, a CAN capture silent beyond the threshold). The pack core does not integrate such a step: it
  rests the cells through it (gaps.policy "rest": no current counted) or re-initialises them from the voltage after
  it ("reinit", or a gap beyond gaps.reinit_after_s). A gap with current at both ends lost the charge that flowed
  in it: the warning gives the estimate (the current at its two ends, averaged, times its length).
- **bus silences** (CAN): no frame carrying the pack's signals for more than 2 sample periods but not beyond the gap
  threshold; the samples in it hold the last values (a dropped reading after can.stale_s). The reader records them.
"""
from __future__ import annotations

import numpy as np

from ..pack import PackLog, PackSpec

#: the current at a gap's end counts as a rest when |i| is at most this C-rate of the series element's capacity
REST_C_RATE = 0.01
#: at most this many gaps are listed one by one in a warning (all are counted, the largest and total given)
MAX_LISTED = 4


def _listing(spans: list[tuple[float, float]]) -> str:
    """'at t = 5000.0 s (60 s), ...; largest 60 s at t = 5000.0 s, total 60 s'."""
    shown = ", ".join(f"t = {a:.1f} s ({d:.3g} s)" for a, d in spans[:MAX_LISTED])
    more = f" and {len(spans) - MAX_LISTED} more" if len(spans) > MAX_LISTED else ""
    big = max(spans, key=lambda s: s[1])
    return (f"at {shown}{more}; largest {big[1]:.3g} s at t = {big[0]:.1f} s, total "
            f"{sum(d for _, d in spans):.4g} s")


def logger_gaps(spec: PackSpec, log: PackLog, gap_s: float) -> list[dict]:
    """Each time step longer than `gap_s`: its start (s, log time), length (s), the current at its two ends (A, + =
    discharge) and the charge per series element not counted (Ah; 0 when at rest at both ends)."""
    t, i = np.asarray(log.time_s, float), np.asarray(log.current_A, float)
    if t.size < 2 or not gap_s or not np.isfinite(gap_s):
        return []
    dt = np.diff(t)
    cap = spec.cell.capacity_Ah * float(np.mean([c.capacity_scale for c in spec.cells]))
    rest = REST_C_RATE * cap
    out = []
    for k in np.flatnonzero(np.isfinite(dt) & (dt > gap_s)):
        a, b = float(i[k]), float(i[k + 1])
        ends = [x for x in (a, b) if np.isfinite(x)]
        hours = float(dt[k]) / 3600.0
        loaded = [abs(x) > rest for x in ends]
        # under load at both ends: the current most likely flowed through it (their mean); at one end only: it may
        # have stopped with the logger, anywhere between nothing and the loaded end's current throughout
        both = bool(ends) and all(loaded) and (len(ends) == 2 and a * b > 0)
        out.append({"start_s": float(t[k]), "length_s": float(dt[k]), "current_before_A": a, "current_after_A": b,
                    "uncounted_Ah": abs(float(np.mean(ends))) * hours if both else 0.0,
                    "uncounted_max_Ah": max((abs(x) for x in ends), default=0.0) * hours if any(loaded) else 0.0})
    return out


def logger_gap_warning(spec: PackSpec, gaps: list[dict], gap_s: float) -> str | None:
    """One warning for the log's logger gaps (`logger_gaps`): when, how long, what the estimator did, the charge lost."""
    if not gaps:
        return None
    g = spec.gaps
    how = ("re-initialises every cell from OCV^-1 of its voltage after each (gaps.policy reinit)" if g.policy == "reinit"
           else f"rests the cells through each, no current counted (gaps.policy rest; re-initialised from the voltage "
                f"after a gap beyond gaps.reinit_after_s {g.reinit_after_s:g} s)")
    text = (f"logger gaps: {len(gaps)} time step(s) of the log longer than the gap threshold {gap_s:g} s (gaps.gap_s, "
            f"capped at dt_max_s), nothing logged in them, "
            + _listing([(x["start_s"], x["length_s"]) for x in gaps]) + f": the estimate {how}")
    cap = spec.cell.capacity_Ah * float(np.mean([c.capacity_scale for c in spec.cells]))

    def ah(q: float) -> str:
        per_cell = f" ({q / spec.parallel:.3g} Ah per cell of the {spec.parallel} in parallel)" if spec.parallel > 1 else ""
        return f"{q:.3g} Ah per series element{per_cell}, {100 * q / cap:.2g} % of its capacity"

    loaded = [x for x in gaps if x["uncounted_Ah"] > 0]
    half = [x for x in gaps if x["uncounted_max_Ah"] > 0 and not x["uncounted_Ah"] > 0]
    if not loaded and not half:
        return text + "; the current was at rest at both ends of each"
    if loaded:
        f = loaded[0]
        text += (f"; {len(loaded)} under load at both ends (at t = {f['start_s']:.1f} s: {f['current_before_A']:.3g} A "
                 f"before, {f['current_after_A']:.3g} A after): about {ah(sum(x['uncounted_Ah'] for x in loaded))} "
                 "flowed uncounted if the current held through them")
    if half:
        f = half[0]
        text += (f"; {len(half)} under load at one end only or reversing (at t = {f['start_s']:.1f} s: {f['current_before_A']:.3g} A "
                 f"before, {f['current_after_A']:.3g} A after): up to {ah(sum(x['uncounted_max_Ah'] for x in half))} "
                 "uncounted (nothing if the current stopped when the logging did)")
    return text + "; the SOC after them is off by that much until the voltage corrects it"


def silence_note(spans: list[tuple[float, float]], period: float, stale: float) -> str | None:
    """The reader's warning for a CAN capture's bus silences (start, length in s, log time)."""
    if not spans:
        return None
    return (f"bus silences: {len(spans)} stretch(es) with no frame carrying the pack's signals for more than 2 sample "
            f"periods ({2 * period:g} s) and up to the gap threshold, " + _listing(spans)
            + f": the samples in them hold the last values (a dropped reading after can.stale_s {stale:g} s)")
