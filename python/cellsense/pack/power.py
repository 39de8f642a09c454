"""The state of power of a series string over a whole pack log (issue #15, docs/power.md, docs/replay.md): after
every sample, for every horizon, the largest constant discharge and charge current the string may carry - its
weakest element's (power::pack_power_limits: the smallest over the cells in each direction) - with the cell that
sets it and why, and the string's power. The whole log runs in C++ with the GIL released (the pack binding's
run_power); the estimate is the same as `PackEstimator.run`'s.

    from cellsense.pack import PackEstimator
    from cellsense.pack.power import estimate_pack_power
    from cellsense.estimators.power import PowerSettings
    res = estimate_pack_power(PackEstimator(spec), log, PowerSettings(horizons_s=(2, 10, 30)))
    res.discharge_current_A[:, 1]     # the string's 10 s discharge limit per sample (A)
    res.discharge_cell[:, 1]          # which cell (0-based) sets it; PACK_CELL_NOT_COMPUTED where not computed

Ratings: a `PowerSettings` rating given explicitly is the string's current (the pack's terminal current). Left
None, it is the cell file's (`identified_current_range`, as for a cell) times the pack's parallel count, since
each modelled series element is a parallel group that shares the string's current. A mean-cell pack (one
estimator for the average cell) reports the string's power as that cell's times the series count.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..estimators.power import LIMITED_BY, PowerSettings, limit_columns, pack_power_config, pack_power_limits_now
from .estimator import PackEstimator, PackLog, PackResult

#: the limiting-cell index of a sample whose limits were not computed (a cell's temperature not finite, or
#: refused): the pack binding's kPackCellNotComputed (_core.PACK_CELL_NOT_COMPUTED; a test holds them equal)
PACK_CELL_NOT_COMPUTED = -1

_COLUMNS = ("discharge_current_A", "charge_current_A", "discharge_power_W", "charge_power_W", "discharge_cell",
            "charge_cell", "discharge_limited_by", "charge_limited_by")


@dataclass
class PackPowerResult:
    """A pack log with the string's limits after every sample: arrays [sample, horizon] (positive magnitudes, NaN
    where not computed); `discharge_cell` / `charge_cell` the 0-based cell that sets each (PACK_CELL_NOT_COMPUTED
    where not computed); limited_by codes (LIMITED_BY); `run` the PackResult of the same samples."""

    horizons_s: tuple
    discharge_current_A: np.ndarray
    charge_current_A: np.ndarray
    discharge_power_W: np.ndarray
    charge_power_W: np.ndarray
    discharge_cell: np.ndarray
    charge_cell: np.ndarray
    discharge_limited_by: np.ndarray
    charge_limited_by: np.ndarray
    run: PackResult | None = field(repr=False, default=None)

    def __repr__(self) -> str:
        return f"PackPowerResult({self.discharge_current_A.shape[0]} samples, horizons {list(self.horizons_s)} s)"

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns for a CSV: i_dis_max_<h>s_A, i_chg_max_<h>s_A, p_dis_max_<h>s_W, p_chg_max_<h>s_W and the
        limiting cells dis_cell_<h>s / chg_cell_<h>s (1-based as in the report; 0 where not computed)."""
        out = limit_columns(self)
        for j, h in enumerate(self.horizons_s):
            tag = f"{h:g}s"
            out[f"dis_cell_{tag}"] = self.discharge_cell[:, j].astype(np.int32) + 1
            out[f"chg_cell_{tag}"] = self.charge_cell[:, j].astype(np.int32) + 1
        return out

    def summary(self, labels: list[str] | None = None) -> list[dict[str, Any]]:
        """Per horizon and direction, over the samples where the limit was computed: the smallest and median limit
        (A), the fraction of samples where the rating set it (every cell at its rating: the core then names cell 0,
        so those samples say nothing about a cell), and over the others the cell that set it most often (0-based
        index, its label, the fraction of those samples, how many cells did at some time) and its most frequent
        constraint. JSON-ready."""
        out = []
        rating = next(c for c, name in LIMITED_BY.items() if name == "current")
        for j, h in enumerate(self.horizons_s):
            row: dict[str, Any] = {"horizon_s": float(h)}
            for d in ("discharge", "charge"):
                cur = getattr(self, f"{d}_current_A")[:, j]
                cell = getattr(self, f"{d}_cell")[:, j]
                by = getattr(self, f"{d}_limited_by")[:, j]
                ok = np.isfinite(cur) & (cell != PACK_CELL_NOT_COMPUTED)
                n = int(ok.sum())
                row[d] = r = {"samples": n}
                if n == 0:
                    continue
                r.update(min_A=float(cur[ok].min()), median_A=float(np.median(cur[ok])),
                         rating_fraction=float((by[ok] == rating).sum() / n), cell=None, cell_label=None)
                cell_set = ok & (by != rating)
                if cell_set.any():
                    top, top_n = Counter(cell[cell_set].tolist()).most_common(1)[0]
                    why, _ = Counter(by[cell_set & (cell == top)].tolist()).most_common(1)[0]
                    r.update(cell=int(top), cell_label=labels[top] if labels else f"cell {top + 1}",
                             cell_fraction=top_n / int(cell_set.sum()),
                             cells_limiting=int(np.unique(cell[cell_set]).size),
                             limited_by=LIMITED_BY.get(int(why), str(why)))
            out.append(row)
        return out

def estimate_pack_power(pack_est: PackEstimator, log: PackLog, settings: PowerSettings | None = None,
                        initial_soc: np.ndarray | None = None) -> PackPowerResult:
    """Run the pack estimator over `log` (as `PackEstimator.run`: same clock, gaps, initial SOC) and compute the
    series string's limits after every sample for every horizon of `settings` (default `PowerSettings()`: 2, 10
    and 30 s), each cell at its own temperature sensor's reading."""
    s = settings or PowerSettings()
    cfg = pack_power_config(pack_est, s)
    hz = np.asarray([float(h) for h in s.horizons_s], float)
    run, out = pack_est.run_core(log, initial_soc, power=(hz, cfg))
    cols = {k: out[k] for k in _COLUMNS}
    if pack_est.spec.mean_cell:  # one estimator for the average cell: the string is `series` of it
        for k in ("discharge_power_W", "charge_power_W"):
            cols[k] = cols[k] * float(pack_est.spec.series)
    return PackPowerResult(tuple(float(h) for h in hz), run=run, **cols)


#: the string's limits of the pack's present state: one rule with the whole-log rows (estimators.power)
power_limits_now = pack_power_limits_now
