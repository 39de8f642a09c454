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

import csv
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .._cliopts import add_cell
from .._io import Progress, atomic_write
from ..estimators.ecm import Estimator
from ..io.realdata import load_real_log
from ..truth.sensor import SensorModel
from ..truth.simulate import simulate
from . import realcells
from .metrics import soc_metrics
from .realcells import format_table

SENSORS = {
    "ideal": {},
    "typical": {"voltage_noise_V": 0.002, "current_noise_A": 0.010, "current_offset_A": 0.020},
    "coarse": {"voltage_noise_V": 0.005, "current_noise_A": 0.050, "current_offset_A": 0.050,
               "voltage_lsb_V": 0.001, "current_lsb_A": 0.01, "temperature_noise_degC": 0.5},
}

# Bars, by scenario class (docs/metrics.md). None = not a bar for that class.
BARS = {
    "reference": {"rmse": 0.010, "max_abs_after": 0.025, "inside_3sigma": 0.95},
    "temperature": {"rmse": 0.020, "max_abs_after": None, "inside_3sigma": None},
    "real": {"rmse": 0.015, "max_abs_after": 0.040, "inside_3sigma": None},
    "info": {"rmse": None, "max_abs_after": None, "inside_3sigma": None},
}


@dataclass(frozen=True)
class Scenario:
    source: str               #: PyBaMM parameter set (simulated truth) or "real:<dataset>/<file>"
    model: str                #: cellsense cell file or bundled name
    protocol: str
    temperature_degC: float
    sensor: str               #: key of SENSORS
    soc_error: float | None   #: initial SOC error given to the filter (truth - this); None: the
    #: estimator's own start, SOC from the first (rested) voltage, as a BMS initialises
    filter: str               #: ekf / ukf
    pybamm_model: str = "DFN"
    bar: str = "reference"    #: key of BARS
    seed: int = 1

    @property
    def name(self) -> str:
        src = self.source.replace("real:", "").replace("/", "-")
        err = "ocv" if self.soc_error is None else f"{self.soc_error:g}"
        return (f"{src}_{self.protocol}_{self.temperature_degC:g}C_{self.sensor}_e{err}_{self.filter}"
                + ("" if self.source.startswith("real:") else f"_{self.pybamm_model}"))


@dataclass
class ScenarioResult:
    scenario: Scenario
    samples: int = 0
    duration_h: float = float("nan")
    rmse: float = float("nan")
    max_abs_after: float = float("nan")
    time_to_2pct_s: float = float("nan")
    outside_3sigma_after: float = float("nan")
    mean_nees: float = float("nan")
    nees_bounds: tuple[float, float] = (float("nan"), float("nan"))
    mean_nis: float = float("nan")
    nis_bounds: tuple[float, float] = (float("nan"), float("nan"))
    rejected: int = 0
    passed: bool = False
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    plot: str | None = None
    wall_s: float = 0.0

    def row(self) -> dict:
        d = {"scenario": self.scenario.name, **asdict(self.scenario)}
        d.update({k: getattr(self, k) for k in ("samples", "duration_h", "rmse", "max_abs_after", "time_to_2pct_s",
                                                 "outside_3sigma_after", "mean_nees", "mean_nis", "rejected",
                                                 "passed", "wall_s")})
        d["nees_bounds"] = "%.3g..%.3g" % self.nees_bounds
        d["nis_bounds"] = "%.3g..%.3g" % self.nis_bounds
        d["failures"] = "; ".join(self.failures)
        d["error"] = self.error or ""
        return d


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
        est = Estimator(s.model, filter=s.filter, initial_soc=soc0)
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


def _plot(s: Scenario, t, soc, sigma, truth, plot_dir: str, anode_V=None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = (t - t[0]) / 3600.0
    # a third panel when the estimator reports the plating margin (SPMe cells, estimators/spme.py)
    fig, ax = plt.subplots(2 if anode_V is None else 3, 1, figsize=(8, 5.5 if anode_V is None else 7.5), sharex=True)
    ax[0].fill_between(h, 100 * (soc - 3 * sigma), 100 * (soc + 3 * sigma), color="C0", alpha=0.25, lw=0,
                       label="estimate +- 3 sigma")
    ax[0].plot(h, 100 * truth, "k", lw=1.2, label="truth")
    ax[0].plot(h, 100 * soc, "C0", lw=1.0, label=f"{s.filter.upper()} estimate")
    ax[0].set_ylabel("SOC [%]")
    ax[0].set_ylim(-8, 108)
    ax[0].legend(loc="best", fontsize=8)
    ax[0].set_title(s.name, fontsize=9)
    err = 100 * (soc - truth)
    ax[1].fill_between(h, -300 * sigma, 300 * sigma, color="C1", alpha=0.25, lw=0, label="+- 3 sigma")
    ax[1].plot(h, err, "C3", lw=0.8, label="error")
    ax[1].axhline(0, color="k", lw=0.5)
    lim = max(3.0, float(np.nanpercentile(np.abs(err), 99.5)) * 1.3)
    ax[1].set_ylim(-lim, lim)
    ax[1].set_ylabel("error [SOC %]")
    ax[-1].set_xlabel("time [h]")
    ax[1].legend(loc="best", fontsize=8)
    if anode_V is not None:
        ax[2].plot(h, 1e3 * np.asarray(anode_V), "C2", lw=0.8, label="estimated anode surface potential (separator side)")
        ax[2].axhline(0, color="C3", lw=0.8, ls="--", label="0 V vs Li/Li+ (plating)")
        ax[2].set_ylabel("anode vs Li [mV]")
        ax[2].legend(loc="best", fontsize=8)
    fig.tight_layout()
    Path(plot_dir).mkdir(parents=True, exist_ok=True)
    path = Path(plot_dir) / f"{s.name}.png"
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
    return str(path)


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


def run_matrix(scenarios: Iterable[Scenario], workers: int | None = None, scheduler: str | None = None,
               plot_dir: str | None = None, progress: Callable[[int, int, ScenarioResult], None] | None = None,
               truth_progress: Callable[[int, int, str], None] | None = None) -> list[ScenarioResult]:
    """Run scenarios in parallel; results come back in input order. `progress(k, n, result)` is called as each
    scenario finishes, `truth_progress(k, n, truth_key)` as each distinct truth is ready (solved or cached)."""
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


def write_report(results: list[ScenarioResult], out_dir: str | os.PathLike, title: str = "cellsense validation") -> Path:
    """Markdown report + CSV in out_dir (atomic writes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r.row() for r in results]
    with atomic_write(out / "validation.csv") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    n_pass = sum(r.passed for r in results)
    lines = [f"# {title}", "", f"{n_pass} of {len(results)} scenarios pass their bars.", "",
             "| scenario | bar | h | RMSE % | max abs err % (after 10 min) | t to 2 % [s] | outside 3 sigma % | "
             "mean NEES (95 % bounds) | mean NIS (95 % bounds) | rejected | result |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        res = "pass" if r.passed else ("ERROR " + (r.error or "") if r.error else "FAIL: " + "; ".join(r.failures))
        lines.append(f"| {r.scenario.name} | {r.scenario.bar} | {r.duration_h:.2f} | {100 * r.rmse:.3f} | "
                     f"{100 * r.max_abs_after:.3f} | {r.time_to_2pct_s:.0f} | {100 * r.outside_3sigma_after:.2f} | "
                     f"{r.mean_nees:.2f} ({r.nees_bounds[0]:.2f}-{r.nees_bounds[1]:.2f}) | "
                     f"{r.mean_nis:.2f} ({r.nis_bounds[0]:.2f}-{r.nis_bounds[1]:.2f}) | {r.rejected} | {res} |")
    lines += ["", "Bars: " + "; ".join(f"{k}: " + ", ".join(f"{m} {v}" for m, v in b.items() if v is not None)
                                        for k, b in BARS.items() if any(v is not None for v in b.values())), ""]
    for r in results:
        if r.plot:
            rel = os.path.relpath(r.plot, out)
            lines += [f"## {r.scenario.name}", "", f"![{r.scenario.name}]({rel})", ""]
    with atomic_write(out / "validation.md") as f:
        f.write("\n".join(lines) + "\n")
    return out / "validation.md"


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
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress lines (each truth and scenario as it finishes, "
                                                         "with the ETA); the summary only")
    p.add_argument("--no-real-cells", action="store_true",
                   help="skip the real-cell matrix (Panasonic 18650PF, 25 to -20 degC; about 10 s)")

    add_cell(p, default="chen2020",
             help="cell file (path or bundled name) run in every scenario, e.g. chen2020_spme (default chen2020)")
    p.set_defaults(func=_main, preset="quick")


def _main(a) -> int:
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
