"""The checks a replay runs on its log and its host run (docs/replay.md): a cell-step status (a rejection reason or a
gap) on more than 10 % of the cell steps, naming the signal, the span the log has and the range the cell accepts with
the usual cause (the replay's form of `cellsense estimate`'s rejection warnings, evaluate/log_checks.py); a run that
fused no cell step at all (the command exits 2); a reference SOC outside 0..1 after the pack file's scaling."""
from __future__ import annotations

import numpy as np

from ..evaluate.log_checks import SELF_CHECK_SHARE
from ..pack import PackLog, PackSpec, status_names
from ..status import FUSED, FUSED_GATE_TIMEOUT, INITIAL

#: the statuses that fused the cell's voltage (everything else left its SOC at the prediction or the last one)
FUSED_STATUSES = (FUSED, FUSED_GATE_TIMEOUT)
#: a reference SOC beyond 0..1 by more than this (after the pack file's scaling) gets a warning
REFERENCE_MARGIN = 0.02
#: at most this many cells are named in one warning
MAX_NAMED = 4


def _names(names: list[str]) -> str:
    more = f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    return ", ".join(names[:MAX_NAMED]) + more


def _span(v) -> tuple[float, float] | None:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return (float(v.min()), float(v.max())) if v.size else None


def _median_step(time_s) -> float | None:
    d = np.diff(np.asarray(time_s, float))
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else None


def _detail(reason: str, spec: PackSpec, log: PackLog, cells: np.ndarray, gap_s: float | None) -> str:
    """What the log has against what the cell accepts, for the cells `cells` (indices) that the reason hit."""
    cell = spec.cell
    time_name = f"time column {spec.time.name}" if spec.time is not None else "frame timestamps"
    if reason == "rejected_voltage_range":
        sig = [spec.pack_voltage.name] if spec.mean_cell and spec.pack_voltage else \
            [spec.cells[k].voltage.name for k in cells]
        span, lim = _span(log.voltage_V[:, cells]), getattr(cell, "voltage_range_V", None)
        what = (f"mean cell voltage ({sig[0]} / {spec.series})" if spec.mean_cell else
                f"voltage ({_names(sig)})" if len(sig) == 1 else f"cell voltages ({_names(sig)})")
        other = "a voltage logged in mV (\"scale\": 0.001 on the signal in the pack file), or a pack's voltage"
        unit = "V"
    elif reason == "rejected_current_range":
        what, span, lim = f"current ({spec.current.name})", _span(log.current_A), getattr(cell, "current_range_A", None)
        other, unit = "a current logged in mA (\"scale\": 0.001 on current in the pack file)", "A"
    elif reason == "rejected_temperature_range":
        what = f"temperature ({_names([t.name for t in spec.temperatures])})"
        span, lim = _span(log.temperature_degC), getattr(cell, "temperature_range_degC", None)
        other = ("a temperature logged in kelvin (\"offset\": -273.15 on the signal in the pack file) or in tenths of "
                 "a degree")
        unit = "degC"
    elif reason == "rejected_dt_nonpositive":
        d = np.diff(np.asarray(log.time_s, float))
        same, back = int(np.sum(d == 0)), int(np.sum(d < 0))
        cause = ("every row at one time: a time column that does not change, or the wrong column?" if same == d.size else
                 "rows repeated or out of order: is the log sorted by time?")
        return (f": the log's time ({time_name}) repeats on {same} and goes back on {back} of its {d.size} steps: "
                + cause)
    elif reason in ("rejected_nonfinite", "predicted_only"):
        stale = f", or a CAN signal not updated for can.stale_s {spec.stale_s:g} s" if spec.time is None else ""
        stuck = (f"; {log.counts['stuck_samples']} of them a stuck sensor's span (see the stuck-sensor warning)"
                 if reason == "predicted_only" and log.counts.get("stuck_samples") else "")
        if reason == "predicted_only":  # a dropped cell voltage: the charge counted without it (CS-PACK-008)
            return (f": a cell voltage reading is missing (NaN: an empty field{stale}){stuck}; the cell's charge was "
                    "counted with the string's current, its band widening, without the reading")
        return f": a reading is missing (NaN: an empty field{stale} in the current or a temperature)"
    elif reason in ("rejected_dt_too_large", "rest", "reinit"):
        m = _median_step(log.time_s)
        if m is None:
            return ""
        limit = f"the gap threshold {gap_s:g} s (gaps.gap_s, capped at dt_max_s)" if gap_s is not None else \
            "the largest step the estimator accepts"
        return (f": the log's median time step is {m:.4g} s ({time_name}), longer than {limit}: a time in milliseconds "
                "(\"scale\": 0.001 on time in the pack file)?" if m > (gap_s or 0.0) else
                f": the log's median time step is {m:.4g} s ({time_name}); the gaps are the log's own")
    else:
        return ""
    if span is None or lim is None:
        return ""
    verb = "span" if what.startswith("cell voltages") else "spans"
    return (f": the log's {what} {verb} {span[0]:.4g}..{span[1]:.4g} {unit}, the cell file accepts {lim[0]:g}..{lim[1]:g} "
            f"{unit} (limits in the cell file; {other}?)")


def status_warnings(spec: PackSpec, log: PackLog, status: np.ndarray, gap_s: float | None = None) -> list[str]:
    """One warning per cell-step status other than fused that hit more than SELF_CHECK_SHARE (10 %) of the cell steps
    (the samples after the first, times the cells), or of one cell's steps: a rejection reason (naming the signal, the
    span the log has and the range the cell file accepts, with the usual cause: kelvin, mV, mA, ms) or a gap (rest,
    reinit: a time in milliseconds is all gaps)."""
    status = np.asarray(status)
    if status.ndim != 2 or not status.size:
        return []
    stepped = status != INITIAL
    n = int(stepped.sum())
    per_cell = stepped.sum(axis=0)
    names = status_names()
    out = []
    for code in np.unique(status[stepped]):
        code = int(code)
        reason = names.get(code, str(code))
        if code in FUSED_STATUSES or reason == "clock_reanchored":
            continue
        hit = (status == code).sum(axis=0)
        k = int(hit.sum())
        cells = np.flatnonzero(hit > SELF_CHECK_SHARE * np.maximum(per_cell, 1))
        if k <= SELF_CHECK_SHARE * n and not cells.size:
            continue
        if not cells.size:
            cells = np.flatnonzero(hit)
        which = "" if cells.size == status.shape[1] or spec.mean_cell else \
            f"; {_names([spec.cells[c].voltage.name for c in cells])}: " \
            f"{100 * hit[cells].sum() / max(per_cell[cells].sum(), 1):.0f} % of {'its' if cells.size == 1 else 'their'} steps"
        what = (f"were rejected ({reason}{which}); their SOC is the last accepted one" if reason.startswith("rejected_")
                else f"were gaps in the log ({reason}{which}), not fused" if reason.startswith(("rest", "reinit"))
                else f"were not fused ({reason}{which})")
        out.append(f"{k} of {n} cell steps ({100 * k / n:.0f} %) {what}" + _detail(reason, spec, log, cells, gap_s))
    return out


def fused_cell_steps(status: np.ndarray) -> int:
    """How many cell steps fused the cell's voltage."""
    return int(np.isin(np.asarray(status), FUSED_STATUSES).sum())


def no_fused_message(status: np.ndarray) -> str:
    """Why the replay has no estimate: the statuses of a run that fused no cell step."""
    status = np.asarray(status)
    if status.shape[0] < 2:
        return (f"no cell step was fused: the log makes {status.shape[0]} sample, nothing to step (a CAN capture "
                "whose frames all share one timestamp makes one)")
    names = status_names()
    codes, k = np.unique(status, return_counts=True)
    what = ", ".join(f"{names.get(int(c), str(c))} {int(n)}" for c, n in zip(codes, k))
    return (f"no cell step was fused (of {status.shape[0]} samples x {status.shape[1]} cells: {what}): the estimate "
            "never saw a voltage and no figure of the report measures it (see the warnings)")


def reference_warning(spec: PackSpec, log: PackLog) -> str | None:
    """A warning when the log's reference SOC (after the pack file's reference_soc scaling) leaves 0..1 by more than
    REFERENCE_MARGIN: a percent signal without "scale": 0.01 (the RMSE against it read 7592 %)."""
    if log.reference_soc is None or spec.reference_soc is None:
        return None
    span = _span(log.reference_soc)
    if span is None or (span[0] >= -REFERENCE_MARGIN and span[1] <= 1 + REFERENCE_MARGIN):
        return None
    ref = spec.reference_soc
    text = (f"the reference SOC (the pack file's reference_soc, signal {ref.name}, \"scale\": {ref.scale:g}) spans "
            f"{span[0]:.4g}..{span[1]:.4g}, outside 0..1 (a fraction is expected after scaling)")
    if span[0] >= -REFERENCE_MARGIN and span[1] > 1:
        k = 10.0 ** -np.ceil(np.log10(span[1] / (1 + REFERENCE_MARGIN)))
        text += f": a SOC in {'percent' if k == 0.01 else 'another unit'}? Set \"scale\": {ref.scale * k:g} in reference_soc"
    return text + "; the figures against the reference are not to be trusted until then"
