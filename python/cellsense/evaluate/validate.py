"""`cellsense validate`: a scenario matrix (cells x protocols x temperatures x sensor errors x
initial-SOC errors x filters), run in parallel, scored against bars, reported as Markdown + CSV.

Per scenario: SOC RMSE, max |error| after the settle time (10 min), time to converge within 2 %,
share of samples after the settle time with the truth outside +-3 sigma, mean NEES (SOC error
squared over its variance) and mean NIS (normalised innovation squared), each against the
two-sided 95 % chi-square bounds for the mean of N samples (N = samples after settling; shown for
information: successive samples are correlated, so the bounds are optimistic).

Parallelism: a local process pool (default), or a Dask distributed cluster with
`--scheduler tcp://HOST:PORT` (same function, same results).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .._cliopts import add_cell, add_no_plots, add_quiet
from .._io import Progress
from ..cells.load import load_cell
from ..estimators import make_estimator
from ..io.realdata import load_real_log
from ..truth.sensor import SensorModel
from ..truth.simulate import simulate
from . import realcells
from .metrics import soc_metrics
from .realcells import format_table
from .report import _plot, write_report
from .scenarios import BARS, SENSORS, Scenario, ScenarioResult  # noqa: F401  (cellsense.validate.BARS etc., as before the split)


def chi2_mean_bounds(n: int, dof: int = 1, p: float = 0.95) -> tuple[float, float]:
    """Two-sided bounds for the mean of n independent chi-square(dof) samples."""
    from scipy.stats import chi2

    a = (1 - p) / 2
    return float(chi2.ppf(a, n * dof) / n), float(chi2.ppf(1 - a, n * dof) / n)


def load_truth(s: Scenario):
    """The log for a scenario: PyBaMM truth through the sensor model, or a bundled real log."""
    if s.source.startswith("real:"):
        log = load_real_log(s.source[len("real:"):])
        return log.time_s, log.current_A, log.voltage_V, log.temperature_degC, log.soc_true

    sensor = SensorModel(**SENSORS[s.sensor], seed=s.seed) if SENSORS[s.sensor] else None
    sim = simulate(cell=s.source, protocol=s.protocol, temperature_degC=s.temperature_degC, model=s.pybamm_model,
                   sensor=sensor)
    return sim.time_s, sim.current_A, sim.voltage_V, sim.temperature_degC, sim.soc_true


def run_scenario(s: Scenario, plot_dir: str | None = None, settle_s: float = 600.0) -> ScenarioResult:
    """Run one scenario end to end (picklable: used by the process pool and by Dask workers)."""
    t0 = time.perf_counter()
    r = ScenarioResult(s)
    try:
        t, i, v, th, truth = load_truth(s)
        soc0 = None if s.soc_error is None else float(np.clip(truth[0] - s.soc_error, 0.0, 1.0))
        est = make_estimator(s.model, filter=s.filter, initial_soc=soc0)
        res = est.run(t, i, v, th)
        m = soc_metrics(t, res.soc, res.soc_sigma, truth, settle_s=settle_s)
        after = (t >= t[0] + settle_s) & np.isfinite(truth) & np.isfinite(res.soc)
        e = res.soc[after] - truth[after]
        sig = res.soc_sigma[after]
        nees = e ** 2 / np.maximum(sig ** 2, 1e-300)
        fused = after & np.isfinite(res.nis)
        r.samples = m.samples
        r.duration_h = float((t[-1] - t[0]) / 3600.0)
        r.rmse, r.max_abs_after, r.time_to_2pct_s = m.rmse, m.max_abs_after, m.time_to_2pct_s
        r.outside_3sigma_after = m.outside_3sigma_after
        r.mean_nees = float(np.mean(nees)) if nees.size else float("nan")
        r.nees_bounds = chi2_mean_bounds(int(nees.size)) if nees.size else r.nees_bounds
        r.mean_nis = float(np.mean(res.nis[fused])) if fused.any() else float("nan")
        r.nis_bounds = chi2_mean_bounds(int(fused.sum())) if fused.any() else r.nis_bounds
        r.rejected = int(res.rejected.sum())
        bar = BARS[s.bar]
        if bar["rmse"] is not None and not r.rmse <= bar["rmse"]:
            r.failures.append(f"RMSE {100 * r.rmse:.2f} % > {100 * bar['rmse']:.1f} %")
        if bar["max_abs_after"] is not None and not r.max_abs_after <= bar["max_abs_after"]:
            r.failures.append(f"max |error| {100 * r.max_abs_after:.2f} % > {100 * bar['max_abs_after']:.1f} %")
        if bar["inside_3sigma"] is not None and not (1 - r.outside_3sigma_after) >= bar["inside_3sigma"]:
            r.failures.append(f"inside 3 sigma {100 * (1 - r.outside_3sigma_after):.1f} % < {100 * bar['inside_3sigma']:.0f} %")
        r.passed = not r.failures
        if plot_dir:
            r.plot = _plot(s, t, res.soc, res.soc_sigma, truth, plot_dir,
                           anode_V=getattr(res, "anode_surface_potential_V", None))
    except Exception as exc:  # a scenario that cannot run is a failed scenario, reported, not a crash
        r.error = f"{type(exc).__name__}: {exc}"
        r.passed = False
        r.failures.append("error")
    r.wall_s = time.perf_counter() - t0
    return r


def matrix(preset: str = "quick", model: str = "chen2020") -> list[Scenario]:
    """Named scenario matrices (docs/metrics.md); `model`: the cell file run against the Chen2020 truths
    (e.g. chen2020_spme, docs/spme.md)."""
    out: list[Scenario] = []
    if preset in ("quick", "full"):
        cycles = ("udds", "us06", "wltc")  # the 25 degC bar names all three
        for c in cycles:
            for f in ("ekf", "ukf"):
                out.append(Scenario("Chen2020", model, c, 25.0, "typical", 0.2, f))
    if preset in ("quick", "full") and model == "chen2020":
        # measured cell: the Panasonic 18650PF 25 degC drive cycles (bundled, docs/real-data.md), the model
        # fitted from its characterisation files only; from a rested start (the bar) and, for
        # information, started 20 points off
        for c in (("US06", "HWFET_a", "LA92", "NN") if preset == "full" else ("US06", "LA92")):
            for f in ("ekf", "ukf"):
                src = f"real:panasonic-18650pf/25degC_{c}"
                out.append(Scenario(src, "panasonic_18650pf", "drive", 25.0, "logged", None, f, bar="real"))
                if preset == "full":
                    out.append(Scenario(src, "panasonic_18650pf", "drive", 25.0, "logged", 0.2, f, bar="info"))
    if preset == "full":
        for temp in (0.0, 40.0):
            for c in ("udds", "us06", "wltc"):
                for f in ("ekf", "ukf"):
                    out.append(Scenario("Chen2020", model, c, temp, "typical", 0.2, f, bar="temperature"))
        for c in ("udds", "us06"):
            out.append(Scenario("Chen2020", model, c, 25.0, "coarse", 0.3, "ukf", bar="info"))
    if not out:
        raise ValueError(f"unknown preset {preset!r}; choose quick or full")
    return out


def warm_truth(s: Scenario) -> str:
    """Generate (and cache) the clean truth of a scenario; returns its truth key."""
    try:
        if not s.source.startswith("real:"):
            load_truth(replace(s, sensor="ideal"))
    except Exception:  # reported by the scenario itself when it runs
        pass
    return truth_key(s)


def truth_key(s: Scenario) -> str:
    return f"{s.source}|{s.protocol}|{s.temperature_degC}|{s.pybamm_model}"


def _map(fn, items: list, workers: int | None, scheduler: str | None, on_done=None) -> list:
    """Apply fn to items in parallel (process pool or Dask), results in input order."""
    out: list = [None] * len(items)
    if scheduler:
        from dask.distributed import Client, as_completed

        with Client(scheduler) as client:
            futures = {client.submit(fn, it, pure=False): k for k, it in enumerate(items)}
            for fut in as_completed(futures):
                k = futures[fut]
                out[k] = fut.result()
                if on_done:
                    on_done(out[k])
    elif workers == 1 or len(items) <= 1:
        for k, it in enumerate(items):
            out[k] = fn(it)
            if on_done:
                on_done(out[k])
    else:
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures import as_completed as cf_completed

        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            futs = {pool.submit(fn, it): k for k, it in enumerate(items)}
            for fut in cf_completed(futs):
                k = futs[fut]
                out[k] = fut.result()
                if on_done:
                    on_done(out[k])
    return out


def _run_one(args) -> ScenarioResult:
    s, plot_dir = args
    return run_scenario(s, plot_dir)


def _check_workers(workers, name: str) -> None:
    """None (the CPU count) or an integer >= 1, else ValueError naming `name` (--workers on the command line)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"{name} must be an integer >= 1 (or omitted: the CPU count), got {workers!r}")


def run_matrix(scenarios: Iterable[Scenario], workers: int | None = None, scheduler: str | None = None,
               plot_dir: str | None = None, progress: Callable[[int, int, ScenarioResult], None] | None = None,
               truth_progress: Callable[[int, int, str], None] | None = None) -> list[ScenarioResult]:
    """Run scenarios in parallel; results come back in input order. `progress(k, n, result)` is called as each
    scenario finishes, `truth_progress(k, n, truth_key)` as each distinct truth is ready (solved or cached)."""
    _check_workers(workers, "workers")
    scenarios = list(scenarios)
    n = len(scenarios)
    # Each distinct truth is simulated once (in parallel), then every scenario reads it from the cache.
    firsts = {}
    for s_ in scenarios:
        firsts.setdefault(truth_key(s_), s_)
    warmed = [0]

    def on_truth(key):
        warmed[0] += 1
        if truth_progress:
            truth_progress(warmed[0], len(firsts), key)

    _map(warm_truth, list(firsts.values()), workers, scheduler, on_truth)
    done = [0]

    def on_done(r):
        done[0] += 1
        if progress:
            progress(done[0], n, r)

    results = _map(_run_one, [(s_, plot_dir) for s_ in scenarios], workers, scheduler, on_done)
    return [r for r in results if r is not None]


def validate(preset: str = "quick", out: str | os.PathLike = "validation-report", workers: int | None = None,
             scheduler: str | None = None, plots: bool = True, scenarios: list[Scenario] | None = None,
             progress: Callable[[int, int, ScenarioResult], None] | None = None,
             truth_progress: Callable[[int, int, str], None] | None = None) -> list[ScenarioResult]:
    """Run a scenario matrix and write the report; returns the per-scenario results (`run_matrix` for the
    progress callbacks)."""
    scns = scenarios if scenarios is not None else matrix(preset)
    plot_dir = str(Path(out) / "plots") if plots else None
    results = run_matrix(scns, workers=workers, scheduler=scheduler, plot_dir=plot_dir, progress=progress,
                         truth_progress=truth_progress)
    write_report(results, out)
    return results


def real_cell_matrix(out: str | os.PathLike | None = None, cases=("B", "true")) -> list:
    """The measured Panasonic 18650PF drive cycles from 25 to -20 degC (cellsense.evaluate.realcells, issue #17),
    EKF and UKF, case B (SOC 0.8 start, BMS-grade current sensor) and started at the true SOC; written to
    `out`/real-cells.md and .csv when `out` is given. Reported, not part of the pass/fail exit code."""
    import csv


    results = realcells.run_matrix(cases=cases)
    if out is not None:
        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        text = ("# Real cells across temperature (Panasonic 18650PF, cellsense.evaluate.realcells)\n\n"
                "Bars (issue #17): RMSE <= 1.2 % at 25 degC chamber, 1.5 % at 10 and 0, 2.5 % at -10, 3.5 % at -20; "
                "truth inside 3 sigma >= 95 %; NEES in [0.2, 3]. Metrics after the first 600 s.\n\n"
                + realcells.format_table(results) + "\n")
        (d / "real-cells.md").write_text(text)
        rows = [r.row() for r in results]
        with open(d / "real-cells.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return results


def add_cli(sub) -> None:
    p = sub.add_parser("validate", help="run the validation scenario matrix; exit 1 if a scenario misses its bar")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", const="quick", dest="preset", help="the fast subset (default)")
    g.add_argument("--full", action="store_const", const="full", dest="preset", help="the full matrix")
    p.add_argument("--out", default="validation-report", help="report directory (validation.md, validation.csv, plots/)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: CPU count)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://HOST:PORT) to run the sweep on")
    add_no_plots(p)
    add_quiet(p, help="no progress lines (each truth and scenario as it finishes, with the ETA); the summary only")
    p.add_argument("--no-real-cells", action="store_true",
                   help="skip the real-cell matrix (Panasonic 18650PF, 25 to -20 degC; about 10 s)")

    add_cell(p, default="chen2020",
             help="cell file (path or bundled name) run in every scenario, e.g. chen2020_spme (default chen2020)")
    p.set_defaults(func=_main, preset="quick")


def _main(a) -> int:
    _check_workers(a.workers, "--workers")  # refused up front, before any truth is solved
    if a.cell != "chen2020":  # an unknown or unreadable cell is a usage error (exit 2), not 6 ERROR scenarios (exit 1)
        try:
            load_cell(a.cell)
        except ValueError as e:
            raise ValueError(f"--cell {a.cell}: {e}") from None
    t_start = time.monotonic()
    # the truths first (PyBaMM solves, or the cache), then the scenarios: each line with the elapsed time and
    # the ETA of its phase (the average time per item so far, times the items left); --quiet: the summary only
    phase_start = {"truths": t_start}

    def eta(kind, k, n):
        now = time.monotonic()
        t0 = phase_start.setdefault(kind, now)
        left = (now - t0) / k * (n - k) if k else 0.0
        return f"{Progress.fmt_s(now - t_start)} elapsed" + (f", ETA {Progress.fmt_s(left)}" if k < n else "")

    def truth_progress(k, n, key):
        line = f"[truth {k}/{n}] {key.replace('|', ' ')} ready ({eta('truths', k, n)})"
        if k == n:
            phase_start["scenarios"] = time.monotonic()
        if not a.quiet:
            print(line, file=sys.stderr, flush=True)

    def progress(k, n, r):
        status = "pass" if r.passed else ("ERROR" if r.error else "FAIL")
        if a.quiet:
            return
        print(f"[{k}/{n}] {r.scenario.name}: RMSE {100 * r.rmse:.3f} %, max {100 * r.max_abs_after:.3f} %, "
              f"outside 3 sigma {100 * r.outside_3sigma_after:.1f} % -> {status} ({r.wall_s:.1f} s; "
              f"{eta('scenarios', k, n)})" + (f" {r.error}" if r.error else ""), flush=True)

    scns = matrix(a.preset, a.cell) if a.cell != "chen2020" else None
    if not a.quiet:
        n_s = len(scns if scns is not None else matrix(a.preset))
        print(f"cellsense validate: {n_s} scenarios ({a.preset}); their PyBaMM truths first (cached after the first "
              f"run; a DFN drive cycle takes minutes to solve, see docs/truth.md)", file=sys.stderr, flush=True)
    results = validate(a.preset, a.out, a.workers, a.scheduler, not a.no_plots, scenarios=scns, progress=progress,
                       truth_progress=truth_progress)
    n_fail = sum(not r.passed for r in results)
    print(f"{len(results) - n_fail} of {len(results)} scenarios pass; report: {Path(a.out) / 'validation.md'}")
    if a.cell == "chen2020" and not a.no_real_cells:
        if not a.quiet:
            print(f"cellsense validate: the real-cell matrix (Panasonic 18650PF, 25 to -20 degC; typically 10-30 s; "
                  f"{Progress.fmt_s(time.monotonic() - t_start)} elapsed)", file=sys.stderr, flush=True)
        real = real_cell_matrix(a.out)
        print("\nReal cells across temperature (Panasonic 18650PF; reported, not in the exit code):")
        print(format_table(real))
        print(f"{sum(r.passed for r in real)} of {len(real)} real-cell rows meet the issue #17 bars; "
              f"report: {Path(a.out) / 'real-cells.md'}")
    return 1 if n_fail else 0
