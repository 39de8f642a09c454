"""Device against host: the parity figures of a device replay and its verdict (docs/replay.md, "Exit status").

Parity covers every cell's SOC and sigma (within `--tolerance`; a NaN on one side and a number on the other is a
divergence, never a zero difference), every cell's status, the pack event and the pack's usable SOC (within the
same tolerance) of each frame the device answered. Anything that differs is named in `"divergence"` (one line
each: what, how many, the first frame and cell) and makes the exit status EXIT_DIVERGED."""
from __future__ import annotations

import math

import numpy as np

from ..pack import EVENTS, status_names
from ..status import EVENT_STEP
from .targets import INSN_PER_TICK, ReplayRun

EXIT_OK = 0
EXIT_DIVERGED = 1     #: device and host differ: SOC / sigma beyond tolerance, NaN against a number, status, event, usable SOC
EXIT_NOTHING_FUSED = 2  #: the host run fused no cell step (bad input: the report is still written)
EXIT_DEVICE = 3       #: the device failed mid-run (reset, stopped answering, link closed, malformed answer): reported
EXIT_UNREPORTED = 4   #: frames without a result that no error accounts for


def _pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if a.size else math.nan


def _first(mask: np.ndarray) -> tuple[int, int]:
    """(frame, 0-based cell) of the first True of a (frames, cells) mask."""
    f, c = np.argwhere(mask)[0]
    return int(f), int(c)


def _delta(h: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|d - h| where both are numbers (0 where both are NaN) and the mask of NaN against a number."""
    h, d = np.asarray(h, np.float64), np.asarray(d, np.float64)
    one_nan = np.isnan(h) != np.isnan(d)
    with np.errstate(invalid="ignore"):
        delta = np.where(np.isnan(h) | np.isnan(d), 0.0, np.abs(d - h))
    return delta, one_nan


def _nan_lines(what: str, one_nan: np.ndarray, d: np.ndarray, labels: list[str]) -> list[str]:
    out = []
    for k in np.flatnonzero(one_nan.any(axis=0)):
        rows = np.flatnonzero(one_nan[:, k])
        side = "the device's is NaN where the host's is a number" if np.isnan(d[rows[0], k]) else \
            "the device's is a number where the host's is NaN"
        out.append(f"cell {k + 1} ({labels[k]}): {what}: {side} at {rows.size} frame(s), first frame {int(rows[0])}")
    return out


def divergence(host: ReplayRun, device: ReplayRun, m: int, tol: float, labels: list[str]) -> tuple[dict, list[str]]:
    """The per-frame comparison of the first `m` frames: figures and the lines naming what diverged."""
    dsoc, soc_nan = _delta(host.soc[:m], device.soc[:m])
    dsig, sig_nan = _delta(host.soc_sigma[:m], device.soc_sigma[:m])
    dus, us_nan = _delta(host.usable_soc[:m], device.usable_soc[:m])
    st = host.status[:m] != device.status[:m]
    ev = np.asarray(host.event[:m]) != np.asarray(device.event[:m])
    fig = {"dsoc": dsoc, "dsig": dsig, "soc_nan": soc_nan, "sig_nan": sig_nan, "status": st,
           "event_mismatches": int(ev.sum()), "usable_soc_nan_mismatches": int(us_nan.sum()),
           "max_abs_delta_usable_soc": float(dus.max(initial=0.0))}
    lines = []
    for name, delta in (("SOC", dsoc), ("SOC sigma", dsig)):
        if delta.size and delta.max() > tol:
            f, c = _first(delta == delta.max())
            lines.append(f"{name}: max |device - host| {delta.max():.3g} > tolerance {tol:g} (cell {c + 1} "
                         f"({labels[c]}), frame {f}; {int((delta > tol).sum())} cell step(s) beyond)")
    lines += _nan_lines("SOC", soc_nan, device.soc[:m], labels) + _nan_lines("SOC sigma", sig_nan, device.soc_sigma[:m], labels)
    names = status_names()
    if st.any():
        f, c = _first(st)
        hs, ds = int(host.status[f, c]), int(device.status[f, c])
        lines.append(f"status: {int(st.sum())} cell step(s) differ; first frame {f}, cell {c + 1} ({labels[c]}): "
                     f"host {names.get(hs, hs)}, device {names.get(ds, ds)}")
    if ev.any():
        f = int(np.flatnonzero(ev)[0])
        he, de = int(host.event[f]), int(device.event[f])
        lines.append(f"event: {int(ev.sum())} frame(s) differ; first frame {f}: host {EVENTS.get(he, he)}, "
                     f"device {EVENTS.get(de, de)}")
    if dus.size and dus.max() > tol:
        f = int(np.argmax(dus))
        lines.append(f"usable SOC: max |device - host| {dus.max():.3g} > tolerance {tol:g} (frame {f}: host "
                     f"{float(host.usable_soc[f]):.6g}, device {float(device.usable_soc[f]):.6g}; "
                     f"{int((dus > tol).sum())} frame(s) beyond)")
    if us_nan.any():
        f = int(np.flatnonzero(us_nan)[0])
        lines.append(f"usable SOC: NaN on one side and a number on the other at {int(us_nan.sum())} frame(s), "
                     f"first frame {f} (host {float(host.usable_soc[f]):.6g}, device {float(device.usable_soc[f]):.6g})")
    return fig, lines


def device_report(host: ReplayRun, device: ReplayRun, n_frames: int, tol: float, labels: list[str]) -> dict:
    """report.json's "device": the parity figures, per cell, latency, link and the device's error."""
    m = device.completed
    nc = host.soc.shape[1]
    fig, lines = divergence(host, device, m, tol, labels)
    dsoc, dsig = fig["dsoc"], fig["dsig"]
    same_bits = (host.soc[:m].astype(np.float32).view(np.uint32) == device.soc[:m].view(np.uint32)) & \
                (host.soc_sigma[:m].astype(np.float32).view(np.uint32) == device.soc_sigma[:m].view(np.uint32))
    per_cell = [{"cell": k + 1, "max_abs_delta_soc": float(dsoc[:, k].max(initial=0.0)),
                 "max_abs_delta_sigma": float(dsig[:, k].max(initial=0.0)),
                 "nan_mismatches": int((fig["soc_nan"][:, k] | fig["sig_nan"][:, k]).sum()),
                 "bit_identical_fraction": float(same_bits[:, k].mean()) if m else math.nan,
                 "status_mismatches": int(fig["status"][:, k].sum())}
                for k in range(nc)]
    d = {"target": device.target, "info": device.device, "completed": m, "wall_s": device.wall_s,
         "max_abs_delta_soc": float(dsoc.max(initial=0.0)), "max_abs_delta_sigma": float(dsig.max(initial=0.0)),
         "nan_mismatches": int(sum(c["nan_mismatches"] for c in per_cell)),
         "bit_identical": bool(same_bits.all()) if m else False,
         "status_mismatches": int(sum(c["status_mismatches"] for c in per_cell)),
         "event_mismatches": fig["event_mismatches"], "max_abs_delta_usable_soc": fig["max_abs_delta_usable_soc"],
         "usable_soc_nan_mismatches": fig["usable_soc_nan_mismatches"], "divergence": lines,
         "per_cell": per_cell, "link": device.link, "injected": device.injected,
         "error": device.error, "error_kind": device.error_kind, "error_frame": device.error_frame,
         "detected_after_s": device.detected_after_s, "deadline_misses": device.deadline_misses}
    lat = device.latency_s[:m] if device.latency_s is not None else np.array([])
    lat = lat[np.isfinite(lat)]
    d["latency_ms"] = {"p50": 1e3 * _pct(lat, 50), "p90": 1e3 * _pct(lat, 90), "p99": 1e3 * _pct(lat, 99),
                       "max": 1e3 * float(lat.max()) if lat.size else math.nan}
    if device.ticks is not None and m > 1:
        stepped = device.ticks[:m][(device.event[:m] == EVENT_STEP)]
        if stepped.size and stepped.max() > 0:
            insn = stepped.astype(float) * INSN_PER_TICK
            d["insn_per_pack_step"] = {"mean": float(insn.mean()), "max": float(insn.max()),
                                       "per_cell_mean": float(insn.mean() / nc)}
    lost = n_frames - m
    d["frames_without_result"] = lost
    d["frames_lost_unreported"] = lost if (lost and device.error is None) else 0
    return d


def device_code(rep: dict) -> int:
    """EXIT_UNREPORTED, else EXIT_DIVERGED when anything in `"divergence"`, else EXIT_DEVICE when the device
    failed, else EXIT_OK (also for a host-only report)."""
    d = rep.get("device")
    if d is None:
        return EXIT_OK
    if d["frames_lost_unreported"]:
        return EXIT_UNREPORTED
    if d.get("divergence") or d["max_abs_delta_soc"] > rep["tolerance_soc"] or \
            d["max_abs_delta_sigma"] > rep["tolerance_soc"]:
        return EXIT_DIVERGED
    if d["error"]:
        return EXIT_DEVICE
    return EXIT_OK
