"""`cellsense bench`: throughput figures, printed, never asserted.

Batch path: `Estimator.run()` over a drive-cycle log (steps per second, best of several runs) for
the EKF and the UKF on a 2-RC cell, and filterpy's ExtendedKalmanFilter / UnscentedKalmanFilter
on the same model (cellsense.cells.ecm_reference), data and noise settings, measured in the same run; the
ratio is core / filterpy. Also the per-call cost of `Estimator.step()` from Python, and the state of power's
whole-log path (`cellsense.estimators.power.estimate_power`: the EKF over the log and the limits of every sample for
the 2 / 10 / 30 s horizons, nominal and conservative; issue #15's bar is >= 1 M cell-steps per second on one core).
"""
from __future__ import annotations

import json
import math
import platform
import time

import numpy as np

from .._io import atomic_write, require
from ..cells.ecm_reference import simulate_ecm
from ..cells.load import load_cell
from ..estimators.ecm import Estimator
from ..estimators.power import PowerSettings, estimate_power
from ..estimators.settings import EstimatorSettings
from ..truth.schedules import drive_cycle_shape
from .filterpy_peer import filterpy_run


def bench_log(cell, duration_s: float, seed: int = 3) -> dict:
    """UDDS current shape scaled to a 2C peak (+ a 0.2C offset so the log discharges), repeated to
    `duration_s` at 1 Hz from SOC 0.95; voltage from the numpy ECM with 2 mV noise."""
    shape = drive_cycle_shape("udds")
    n = int(duration_s)
    reps = int(np.ceil(n / len(shape)))
    cur = (np.tile(shape, reps)[:n] * 2.0 + 0.2) * cell.capacity_Ah
    # Keep SOC inside [0.1, 0.95]: rest-and-charge segments where the cumulative charge would run out.
    t = np.arange(n + 1, dtype=float)
    i = np.r_[0.0, cur]
    q = np.cumsum(i) / 3600.0 / cell.capacity_Ah
    over = q > 0.8
    if over.any():
        i[over] = -0.5 * cell.capacity_Ah
    sim = simulate_ecm(cell, t, i, 25.0, initial_soc=0.95)
    rng = np.random.default_rng(seed)
    return {"time_s": t, "current_A": i, "voltage_V": sim["voltage_V"] + 0.002 * rng.standard_normal(len(t)),
            "temperature_degC": np.full(len(t), 25.0), "soc_true": sim["soc"]}


def _best_rate(fn, steps: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return steps / best


#: the bench's bounds: a log of at most MAX_DURATION_S at 1 Hz (~12 days; 7200 by default), the peer on at most
#: MAX_PEER_STEPS (filterpy takes ~1 ms a step: 100,000 is minutes)
MAX_DURATION_S = 1e6
MAX_PEER_STEPS = 100_000


def check_bench_args(duration_s: float, peer_steps: int, repeats: int = 5) -> None:
    """ValueError (exit 2 from the CLI) naming the option and its range: a NaN, zero, negative or huge
    --duration-s / --peer-steps made an empty log (a ZeroDivisionError), a numpy error or a run of hours."""
    if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and 1 <= duration_s <= MAX_DURATION_S):
        raise ValueError(f"--duration-s {duration_s!r}: expected a finite number of seconds in [1, {MAX_DURATION_S:g}] "
                         "(the log is one step a second)")
    if isinstance(peer_steps, bool) or not isinstance(peer_steps, int) or not 1 <= peer_steps <= MAX_PEER_STEPS:
        raise ValueError(f"--peer-steps {peer_steps!r}: expected an integer in [1, {MAX_PEER_STEPS}] (filterpy's steps)")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats {repeats!r}: expected an integer >= 1")


def bench(model: str | None = None, duration_s: float = 7200.0, peer_steps: int = 1500, repeats: int = 5,
          out: str | None = None) -> dict:
    """Measure and return the figures (dict); optionally write them as JSON. Needs filterpy (the peer):
    MissingExtraError (an ImportError) naming ``pip install 'cellsense[bench]'`` when it is not installed."""
    check_bench_args(duration_s, peer_steps, repeats)
    require("filterpy", "cellsense.bench()", "bench")

    cell = load_cell(model or "chen2020")
    if cell.rc_pairs != 2:
        raise ValueError(f"bench: {cell.source}: the benchmark is defined on a 2-RC cell, this one has {cell.rc_pairs}")
    log = bench_log(cell, duration_s)
    args = (log["time_s"], log["current_A"], log["voltage_V"], log["temperature_degC"])
    steps = len(log["time_s"]) - 1
    settings = EstimatorSettings()
    m = min(peer_steps + 1, len(log["time_s"]))  # the peer runs m - 1 steps: never more than the log has
    res: dict = {"cell": cell.name, "log_steps": steps, "peer_steps": m - 1, "peer_steps_asked": peer_steps,
                 "machine": platform.machine(), "python": platform.python_version()}
    peer_args = tuple(a[:m] for a in args)
    for filt in ("ekf", "ukf"):
        for dtype in ("float64", "float32"):
            def run_core():
                Estimator(cell, filter=filt, dtype=dtype, initial_soc=0.9, settings=settings).run(*args)
            res[f"{filt}_{dtype}_steps_per_s"] = _best_rate(run_core, steps, repeats)
        t0 = time.perf_counter()
        filterpy_run(cell, filt, *peer_args, initial_soc=0.9, settings=settings)
        res[f"{filt}_filterpy_steps_per_s"] = (m - 1) / (time.perf_counter() - t0)
        res[f"{filt}_ratio_vs_filterpy"] = res[f"{filt}_float64_steps_per_s"] / res[f"{filt}_filterpy_steps_per_s"]
        est = Estimator(cell, filter=filt, initial_soc=0.9, settings=settings)
        k = min(20000, steps)
        i, v, th = log["current_A"], log["voltage_V"], log["temperature_degC"]
        t0 = time.perf_counter()
        for j in range(1, k + 1):
            est.step(1.0, i[j], v[j], th[j])
        res[f"{filt}_python_step_us"] = (time.perf_counter() - t0) / k * 1e6
    for name, ps in (("nominal", PowerSettings()), ("conservative", PowerSettings.conservative())):
        def run_power(ps=ps):
            estimate_power(Estimator(cell, filter="ekf", initial_soc=0.9, settings=settings), *args, settings=ps)
        res[f"power_{name}_cell_steps_per_s"] = _best_rate(run_power, steps, repeats)
    if out:
        with atomic_write(out) as f:
            json.dump(res, f, indent=2)
    return res


def format_bench(r: dict) -> str:
    lines = [f"cellsense bench: cell {r['cell']} (2 RC + hysteresis), {r['log_steps']} steps at 1 Hz; "
             f"filterpy on the first {r['peer_steps']} steps of the same log"
             + (f" (asked {r['peer_steps_asked']}: the log has {r['log_steps']})"
                if r.get("peer_steps_asked", r["peer_steps"]) != r["peer_steps"] else ""),
             f"{'filter':<6} {'core f64 steps/s':>17} {'core f32 steps/s':>17} {'filterpy steps/s':>17} "
             f"{'ratio (f64)':>12} {'step() from Python':>19}"]
    for f in ("ekf", "ukf"):
        lines.append(f"{f.upper():<6} {r[f + '_float64_steps_per_s']:>17,.0f} {r[f + '_float32_steps_per_s']:>17,.0f} "
                     f"{r[f + '_filterpy_steps_per_s']:>17,.0f} {r[f + '_ratio_vs_filterpy']:>11,.0f}x "
                     f"{r[f + '_python_step_us']:>16.2f} us")
    if "power_nominal_cell_steps_per_s" in r:
        lines.append(f"state of power, whole log (EKF f64 + limits at 2 / 10 / 30 s per sample): "
                     f"{r['power_nominal_cell_steps_per_s']:,.0f} cell-steps/s nominal, "
                     f"{r['power_conservative_cell_steps_per_s']:,.0f} conservative")
    return "\n".join(lines)
