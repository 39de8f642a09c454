"""The validation report: the per-scenario plot (SOC, its 3-sigma band, the truth; the plating margin for an SPMe
cell) and the markdown / CSV table of a matrix run (docs/metrics.md)."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .._io import atomic_write
from .scenarios import BARS, Scenario, ScenarioResult


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
