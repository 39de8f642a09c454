"""The comparison report of a replay: device vs host per cell, both against the log's reference SOC,
latency, link faults, and (host run with power settings) the pack's state of power over the log. Markdown + CSV +
plots (matplotlib, optional). `exit_code()` turns it into the command's exit status."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..estimators.power import LIMITED_BY
from ..pack import CLOCK_REANCHOR_AFTER, EVENTS, PackLog, PackPowerResult, PackSpec, clock_dt, status_names
from ..status import EVENT_INITIAL, EVENT_REINIT, EVENT_REST
from . import checks, gaps, parity
from .parity import (EXIT_DEVICE, EXIT_DIVERGED, EXIT_NOTHING_FUSED, EXIT_OK,  # noqa: F401 - re-exported
                     EXIT_UNREPORTED, device_code)
from .targets import ReplayRun

def compare(spec: PackSpec, log: PackLog, host: ReplayRun, device: ReplayRun | None, tol_soc: float = 1e-6,
            warnings: list[str] | None = None) -> dict:
    """The report's figures. `"warnings"`: `warnings` (the caller's checks), the reader's notes (log.notes: a
    capture's clock re-anchored, stuck sensors, bus silences), the logger gaps (gaps.py; also `"logger_gaps"`, one
    entry each), the reference SOC outside 0..1 and every status on more than 10 % of the cell steps
    (checks.py); `"fused_cell_steps"`: none makes the exit status 2."""
    nc = spec.n_cells
    rep: dict = {"pack": spec.name, "pack_file": spec.source, "log": log.source, "frames": len(log), "cells": nc,
                 "series": spec.series, "parallel": spec.parallel, "mean_cell": spec.mean_cell,
                 "reader_counts": log.counts, "tolerance_soc": tol_soc, "host_wall_s": host.wall_s,
                 "events": {EVENTS.get(int(e), str(e)): int(k) for e, k in zip(*np.unique(host.event, return_counts=True))}}
    ref_warning = checks.reference_warning(spec, log)
    holes = gaps.logger_gaps(spec, log, host.gap_s) if host.gap_s else []
    hole_warning = gaps.logger_gap_warning(spec, holes, host.gap_s) if holes else None
    rep["warnings"] = list(warnings or []) + list(log.notes) + ([ref_warning] if ref_warning else []) + \
        ([hole_warning] if hole_warning else []) + checks.status_warnings(spec, log, host.status, host.gap_s)
    if holes:  # each logger gap: start, length, the current at its ends, the charge not counted (gaps.py)
        rep["logger_gaps"] = holes
    rep["fused_cell_steps"] = checks.fused_cell_steps(host.status)
    if not rep["fused_cell_steps"]:
        rep["nothing_fused"] = checks.no_fused_message(host.status)
    names = status_names()
    rep["host_status"] = {names.get(int(c), str(c)): int(k) for c, k in zip(*np.unique(host.status, return_counts=True))}
    ok = np.ones(len(log), bool)
    if device is not None:
        ok[device.completed:] = False
        rep["device"] = parity.device_report(host, device, len(log), tol_soc, cell_labels(spec, nc))
    if log.reference_soc is not None:
        ref = log.reference_soc
        rows = [("host", host, np.ones(len(log), bool))]
        if device is not None:
            if not ok.all():  # the device stopped early: the host over the same frames, labelled, beside the whole log
                rows.append((f"host, frames 0..{device.completed - 1} (the device's)", host, ok))
            rows.append((f"device, frames 0..{device.completed - 1}" if not ok.all() else "device", device, ok))
        for name, run, sel0 in rows:
            u = run.usable_soc.astype(float)
            sel = sel0 & np.isfinite(ref) & np.isfinite(u) & (run.event != EVENT_INITIAL)
            if sel.any():
                e = u[sel] - ref[sel]
                rep.setdefault("reference", {})[name] = {"rmse": float(np.sqrt(np.mean(e ** 2))),
                                                         "max_abs": float(np.max(np.abs(e))),
                                                         "final_estimate": float(u[sel][-1]), "final_reference": float(ref[sel][-1])}
    if host.power is not None:
        rep["power"] = {"horizons_s": list(host.power.horizons_s), "summary": host.power.summary(cell_labels(spec, nc))}
    return rep


def cell_labels(spec: PackSpec | None, nc: int) -> list[str]:
    """Each modelled element's name: its pack-file voltage signal, "mean cell", or "cell k"."""
    if spec is not None and not spec.mean_cell and len(spec.cells) == nc:
        return [c.voltage.name for c in spec.cells]
    return ["mean cell"] if spec is not None and spec.mean_cell else [f"cell {k + 1}" for k in range(nc)]


def power_markdown(p: dict) -> list[str]:
    """The report's state-of-power section: per horizon and direction the smallest and median limit of the string,
    how often the rating set it, and which cell set it most often (otherwise)."""
    L = ["## Pack state of power (host, the string's limits after every sample)", "",
         "| horizon | direction | min (A) | median (A) | set by the rating | cell limiting most often | its constraint |",
         "|---|---|---|---|---|---|---|"]
    for row in p["summary"]:
        for d in ("discharge", "charge"):
            r = row[d]
            if not r["samples"]:
                L.append(f"| {row['horizon_s']:g} s | {d} | - | - | - | not computed | - |")
                continue
            who = "- (the rating throughout)" if r["cell"] is None else \
                (f"{r['cell_label']} ({100 * r['cell_fraction']:.0f} % of the cell-limited samples; "
                 f"{r['cells_limiting']} cell(s) limiting)")
            L.append(f"| {row['horizon_s']:g} s | {d} | {r['min_A']:.3g} | {r['median_A']:.3g} | "
                     f"{100 * r['rating_fraction']:.0f} % | {who} | {r.get('limited_by', '-')} |")
    return L + [""]


def exit_code(rep: dict) -> int:
    """The device's verdict (device_code) when it failed, else EXIT_NOTHING_FUSED for a host run that fused no cell
    step, else 0."""
    code = device_code(rep)
    if code == EXIT_OK and rep.get("nothing_fused"):
        return EXIT_NOTHING_FUSED
    return code


def markdown(rep: dict) -> str:
    L = [f"# Replay report: {rep['pack']}", "",
         f"- log: `{rep['log']}` ({rep['frames']} frames; reader: "
         + ", ".join(f"{k} {v}" for k, v in sorted(rep["reader_counts"].items())) + ")",
         f"- pack: `{rep['pack_file']}`: {rep['series']}s{rep['parallel']}p, {rep['cells']} estimator(s)"
         + (" (mean cell)" if rep["mean_cell"] else ""),
         f"- events: " + ", ".join(f"{k} {v}" for k, v in rep["events"].items()),
         f"- host cell statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(rep.get("host_status", {}).items())),
         f"- host: {rep['host_wall_s']:.3f} s", ""]
    if rep["events"].get("clock_reanchored"):
        L[-1:-1] = [f"- **clock re-anchored {rep['events']['clock_reanchored']} time(s)**: the log's timestamps jumped "
                    f"(after {CLOCK_REANCHOR_AFTER} backwards timestamps in a row the clock restarts from the latest; "
                    f"those samples were not stepped)"]
    if rep.get("nothing_fused"):
        L[-1:-1] = [f"- **{rep['nothing_fused']}**"]
    L[-1:-1] = [f"- **warning**: {w}" for w in rep.get("warnings", [])]
    d = rep.get("device")
    if d is not None:
        verdict = {0: "PASS", 1: "FAIL (diverged)", 3: "FAIL (device error, reported)", 4: "FAIL (frames lost unreported)"}[device_code(rep)]
        L += [f"## Device `{d['target']}`: {verdict}", "",
              f"- device: {d['info'].get('name', '?')}, per-cell estimator {d['info'].get('sizeof_cell_ekf', '?')} B (EKF) / "
              f"{d['info'].get('sizeof_cell_ukf', '?')} B (UKF)",
              f"- completed {d['completed']} / {rep['frames']} frames in {d['wall_s']:.2f} s",
              f"- max |delta SOC| {d['max_abs_delta_soc']:.3g}, max |delta sigma| {d['max_abs_delta_sigma']:.3g} "
              f"(tolerance {rep['tolerance_soc']:g}); bit-identical: {'yes' if d['bit_identical'] else 'no'}; "
              f"status mismatches {d['status_mismatches']}; event mismatches {d.get('event_mismatches', 0)}; "
              f"NaN against a number {d.get('nan_mismatches', 0)}; max |delta usable SOC| "
              f"{d.get('max_abs_delta_usable_soc', 0.0):.3g}",
              f"- latency ms: p50 {d['latency_ms']['p50']:.3f}, p90 {d['latency_ms']['p90']:.3f}, "
              f"p99 {d['latency_ms']['p99']:.3f}, max {d['latency_ms']['max']:.3f}; deadline misses {d['deadline_misses']}"]
        if "insn_per_pack_step" in d:
            i = d["insn_per_pack_step"]
            L.append(f"- instructions per pack step (QEMU -icount): mean {i['mean']:,.0f}, max {i['max']:,.0f}, "
                     f"per cell {i['per_cell_mean']:,.0f}")
        lk = d["link"]
        L += [f"- link: {lk['frames_sent']} frames sent, {lk['retransmissions']} retransmitted; corrupted frames "
              f"{lk['frames_corrupted']} (device saw {lk['corrupted_to_device']}, host saw {lk['corrupted_from_device']}); "
              f"dropped frames {lk['frames_dropped']} ({lk['timeouts']} timeouts); resets {lk['resets']}; "
              f"frames without a result {d['frames_without_result']}"]
        if d["injected"]:
            L.append("- injected faults: " + ", ".join(f"{k} {v}" for k, v in d["injected"].items()))
        L += [f"- **diverged**: {line}" for line in d.get("divergence", [])]
        if d["error"]:
            L.append(f"- **device error** ({d['error_kind']}, frame {d['error_frame']}): {d['error']}; reported "
                     f"{d['detected_after_s']:.2f} s after the last good answer")
        L += ["", "| cell | max abs delta SOC | max abs delta sigma | NaN vs number | bit-identical | status mismatches |",
              "|---|---|---|---|---|---|"]
        for c in d["per_cell"]:
            L.append(f"| {c['cell']} | {c['max_abs_delta_soc']:.3g} | {c['max_abs_delta_sigma']:.3g} | "
                     f"{c.get('nan_mismatches', 0)} | "
                     f"{100 * c['bit_identical_fraction']:.1f} % | {c['status_mismatches']} |")
        L.append("")
    if "reference" in rep:
        L += ["## Against the log's reference SOC (pack usable SOC)", "", "| run | RMSE | max abs | final estimate | final reference |",
              "|---|---|---|---|---|"]
        for k, v in rep["reference"].items():
            L.append(f"| {k} | {100 * v['rmse']:.2f} % | {100 * v['max_abs']:.2f} % | {100 * v['final_estimate']:.2f} % | "
                     f"{100 * v['final_reference']:.2f} % |")
        L.append("")
    if "power" in rep:
        L += power_markdown(rep["power"])
    return "\n".join(L) + "\n"


#: the files `write` puts in --out (the plots only when drawn: an earlier run's are removed first)
PLOT_FILES = ("soc.png", "power.png")
OUTPUT_FILES = ("report.md", "report.json", "results.csv") + PLOT_FILES

#: results.csv's name of a limit's constraint (LIMITED_BY; the string's current rating is "rating")
CONSTRAINT_NAMES = {c: ("rating" if name == "current" else name) for c, name in LIMITED_BY.items()}


def power_columns(power: PackPowerResult) -> dict[str, np.ndarray]:
    """results.csv's state-of-power columns: PackPowerResult.columns() with dis_cell_<H>s / chg_cell_<H>s 0 where the
    rating (no cell) set the limit (the core names cell 0 then: the CSV said "cell 1"), and after each a
    dis_limited_by_<H>s / chg_limited_by_<H>s column naming the constraint (voltage, soc, rating, none, ...)."""
    out: dict[str, np.ndarray] = {}
    cols = power.columns()
    rating = next(c for c, name in LIMITED_BY.items() if name == "current")
    names = np.vectorize(lambda c: CONSTRAINT_NAMES.get(int(c), str(int(c))), otypes=["U16"])
    for key, v in cols.items():
        for d, short in (("discharge", "dis"), ("charge", "chg")):
            if not key.startswith(f"{short}_cell_"):
                continue
            j = [f"{h:g}s" for h in power.horizons_s].index(key[len(short) + 6:])
            by = np.asarray(getattr(power, f"{d}_limited_by")[:, j])
            v = np.where(by == rating, 0, v)
            out[key] = v
            out[f"{short}_limited_by_{key[len(short) + 6:]}"] = names(by) if by.size else by.astype("U16")
            break
        else:
            out[key] = v
    return out


def write(out: str | Path, rep: dict, log: PackLog, host: ReplayRun, device: ReplayRun | None, plots: bool = True,
          spec: PackSpec | None = None) -> list[Path]:
    """report.md, report.json, results.csv and (with matplotlib, `plots`) soc.png in `out`, and with the host run's
    state of power (`host.power`) its columns in results.csv and power.png; returns the paths. A soc.png / power.png
    already in `out` (an earlier run's) is removed first, drawn again or not. `spec` (the pack
    file) gives the plots their cell labels."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in PLOT_FILES:  # an earlier run's plot must not sit beside this report (--no-plots, no --power)
        (out / name).unlink(missing_ok=True)
    files = [out / "report.md", out / "report.json", out / "results.csv"]
    files[0].write_text(markdown(rep))
    files[1].write_text(json.dumps(rep, indent=1, default=str) + "\n")
    nc = host.soc.shape[1]
    pcols = power_columns(host.power) if host.power is not None else {}
    with open(files[2], "w") as f:
        cols = ["time_s", "event", "usable_soc_host"] + (["usable_soc_device"] if device else []) + \
               (["reference_soc"] if log.reference_soc is not None else []) + \
               [f"soc_host_{k + 1}" for k in range(nc)] + ([f"soc_device_{k + 1}" for k in range(nc)] if device else []) + \
               list(pcols)
        f.write(",".join(cols) + "\n")
        for i in range(len(log)):
            row = [f"{log.time_s[i]:.3f}", EVENTS.get(int(host.event[i]), str(host.event[i])), f"{host.usable_soc[i]:.7g}"]
            if device:
                row.append(f"{device.usable_soc[i]:.7g}")
            if log.reference_soc is not None:
                row.append(f"{log.reference_soc[i]:.6g}")
            row += [f"{v:.7g}" for v in host.soc[i]]
            if device:
                row += [f"{v:.7g}" for v in device.soc[i]]
            row += [v[i] if v.dtype.kind == "U" else f"{v[i]:.7g}" for v in pcols.values()]
            f.write(",".join(row) + "\n")
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return files
        files.append(plot(out / "soc.png", log, host, device, spec=spec))
        if host.power is not None:
            files.append(plot_power(out / "power.png", log, host, host.power, spec=spec))
    return files


def log_gaps(time_s: np.ndarray, gap_s: float) -> list[tuple[float, float]]:
    """(start, end) of every step of the log longer than `gap_s`, in the log's time: re-derived from the timestamps
    (the plots use the run's own markers instead, `run_gaps`)."""
    t = np.asarray(time_s, float)
    if t.size < 2:
        return []
    d = np.diff(t)
    k = np.flatnonzero(np.isfinite(d) & (d > gap_s))
    return [(float(t[j]), float(t[j + 1])) for j in k]


def run_gaps(log: PackLog, run: ReplayRun) -> list[tuple[int, float, float]]:
    """(sample, start, end) of every gap the run handled: the samples whose pack event is rest or reinit (the core's
    rule: a step longer than the estimator's gap_s, pack::gap_within), from the log clock's time before that step
    (cellsense.pack.clock_dt) to the sample's."""
    ev = np.asarray(run.event)
    k = np.flatnonzero((ev == EVENT_REST) | (ev == EVENT_REINIT))
    if not k.size:
        return []
    t = np.asarray(log.time_s, float)
    dt = clock_dt(t)[0]
    return [(int(j), float(t[j] - dt[j]), float(t[j])) for j in k]


class _TimeAxis:
    """The plots' time axis: time since the log's start (h above 3 h, else s), a NaN row inserted before each
    sample that follows a gap (`broken`: no line across a time the log does not cover), the gaps shaded."""

    def __init__(self, log: PackLog, host: ReplayRun, spec: PackSpec | None) -> None:
        self.gaps = run_gaps(log, host)
        self.gap_s = host.gap_s if host.gap_s is not None else spec.gaps.gap_s if spec is not None else 30.0
        t = np.asarray(log.time_s, float)
        self.t0 = float(t[0])
        self.scale, self.unit = (3600.0, "h") if float(t[-1] - self.t0) > 3 * 3600.0 else (1.0, "s")
        self.cut = np.array([j for j, _, _ in self.gaps], dtype=int)
        self.t = self.broken((t - self.t0) / self.scale)

    def broken(self, a) -> np.ndarray:
        a = np.asarray(a, float)
        return np.insert(a, self.cut, np.nan, axis=0) if self.cut.size else a

    def shade(self, axes, legend_ax) -> None:
        for a in axes:
            for k, (_, g0, g1) in enumerate(self.gaps):
                a.axvspan((g0 - self.t0) / self.scale, (g1 - self.t0) / self.scale, color="0.6", alpha=0.3, lw=0,
                          label=(f"gap in the log (> {self.gap_s:g} s)" if k == 0 and a is legend_ax else None))


def plot(path: str | Path, log: PackLog, host: ReplayRun, device: ReplayRun | None, spec: PackSpec | None = None,
         title: str | None = None) -> Path:
    """The replay plot: every cell's SOC (labelled with its pack-file voltage signal, or "cell k"; above 12 cells
    only the lowest and highest at the end are labelled), the pack's usable SOC and the log's reference SOC
    on top; below, |device - host| per cell (or the cell imbalance for a host-only replay). The gaps the host
    run handled (its rest / reinit events: steps longer than the estimator's gap_s, 30 s by default) are shaded
    on both axes and no line is drawn across them. Titled with the log, the pack and the target. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    nc = host.soc.shape[1]
    labels = cell_labels(spec, nc)
    ta = _TimeAxis(log, host, spec)
    t, broken = ta.t, ta.broken
    fig, ax = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    soc = broken(100 * host.soc.astype(float))
    few = nc <= 12
    for k in range(nc):
        ax[0].plot(t, soc[:, k], lw=0.7, label=labels[k] if few else None)
    if not few:  # too many for a legend: name the extremes at the end of the log
        last = soc[-1]
        if np.isfinite(last).any():
            for k, what in ((int(np.nanargmin(last)), "lowest"), (int(np.nanargmax(last)), "highest")):
                ax[0].annotate(f"{labels[k]} ({what})", (t[-1], last[k]), fontsize=7, ha="right",
                               va="top" if what == "lowest" else "bottom")
    ax[0].plot(t, broken(100 * host.usable_soc.astype(float)), "k", lw=1.5, label="pack usable SOC (host)")
    if log.reference_soc is not None:
        ax[0].plot(t, broken(100 * np.asarray(log.reference_soc, float)), "r--", lw=1.2, label="reference SOC (log)")
    ax[0].set_ylabel("SOC (%)")
    ax[0].legend(loc="best", fontsize=7, ncol=2 if few and nc > 4 else 1)
    if device is not None:
        with np.errstate(invalid="ignore"):
            diff = broken(np.abs(device.soc.astype(float) - host.soc.astype(float)))
        for k in range(nc):
            ax[1].plot(t, 100 * diff[:, k], lw=0.6, label=labels[k] if few else None)
        ax[1].set_ylabel("|SOC device - host| (points)")
        if few:
            ax[1].legend(loc="best", fontsize=7, ncol=2 if nc > 4 else 1)
    else:
        ax[1].plot(t, broken(100 * (host.soc.max(1) - host.soc.min(1)).astype(float)), "k", lw=0.8)
        ax[1].set_ylabel("imbalance max - min (points)")
    ta.shade(ax, ax[1])
    if ta.gaps:
        ax[1].legend(loc="best", fontsize=7)
    ax[1].set_xlabel(f"time since the log's start ({ta.unit})")
    target = device.target if device is not None else "host only"
    ng = len(ta.gaps)
    head = title or (f"{Path(str(log.source)).name}: " + (f"pack {spec.name}, " if spec is not None and spec.name else "")
                     + f"{nc} cell{'s' if nc != 1 else ''}, {len(log):,} samples, target {target}"
                     + (f", {ng} gap{'s' if ng != 1 else ''} shaded" if ng else ""))
    fig.suptitle(head, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: how many limiting-cell changes a power plot labels (the longest stretches); every change is marked
MAX_CELL_LABELS = 12


def plot_power(path: str | Path, log: PackLog, host: ReplayRun, power: PackPowerResult, spec: PackSpec | None = None,
               title: str | None = None) -> Path:
    """The pack's state of power over the log: the string's discharge (top) and charge (bottom) current limit for
    every horizon; on the 10 s horizon (else the first) each change of the limiting cell is marked and the longest
    stretches are labelled with that cell (samples where the rating sets the limit name no cell). Gaps as in
    `plot`. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    labels = cell_labels(spec, host.soc.shape[1])
    ta = _TimeAxis(log, host, spec)
    hz = list(power.horizons_s)
    j0 = hz.index(10.0) if 10.0 in hz else 0
    rating = next(c for c, name in LIMITED_BY.items() if name == "current")
    fig, ax = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for a, d in zip(ax, ("discharge", "charge")):
        cur = getattr(power, f"{d}_current_A")
        for j, h in enumerate(hz):
            a.plot(ta.t, ta.broken(cur[:, j]), lw=1.4 if j == j0 else 0.8, label=f"{h:g} s")
        cell = getattr(power, f"{d}_cell")[:, j0].astype(int)
        named = (cell >= 0) & (getattr(power, f"{d}_limited_by")[:, j0] != rating) & np.isfinite(cur[:, j0])
        who = np.where(named, cell, -1)
        start = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
        runs = [(int(b), int(e)) for b, e in zip(start, np.r_[start[1:], len(who)]) if who[b] >= 0]
        tt = (np.asarray(log.time_s, float) - ta.t0) / ta.scale
        if runs:
            b = np.array([r[0] for r in runs])
            a.plot(tt[b], cur[b, j0], "kv" if d == "discharge" else "k^", ms=4, ls="none",
                   label=f"limiting cell ({hz[j0]:g} s), marked where it changes")
            for s0, e0 in sorted(runs, key=lambda r: r[0] - r[1])[:MAX_CELL_LABELS]:
                a.annotate(labels[who[s0]], (tt[s0], cur[s0, j0]), fontsize=7, xytext=(2, 4),
                           textcoords="offset points")
        a.set_ylabel(f"{d} limit (A)")
    ta.shade(ax, ax[1])
    for a in ax:
        a.legend(loc="best", fontsize=7, ncol=2)
    ax[1].set_xlabel(f"time since the log's start ({ta.unit})")
    head = title or (f"{Path(str(log.source)).name}: " + (f"pack {spec.name}, " if spec is not None and spec.name else "")
                     + "the string's current limits (its weakest cell's) per horizon")
    fig.suptitle(head, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
