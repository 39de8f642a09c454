"""Accuracy and consistency metrics of an SOC estimate against truth (docs/metrics.md)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class SocMetrics:
    samples: int                 #: samples compared (finite truth and estimate)
    rmse: float                  #: SOC RMSE over the whole log (fraction, 0.01 = 1 %)
    max_abs_after: float         #: max |error| after the settle time
    outside_3sigma_after: float  #: share of samples after the settle time with |error| > 3 sigma
    settle_s: float              #: the settle time used (s)
    time_to_2pct_s: float        #: first time after which |error| stays <= 2 % (NaN if never)
    nees_after: float = float("nan")  #: mean (error / sigma)^2 after the settle time (1: an honest band; docs/metrics.md)

    def as_dict(self) -> dict:
        return asdict(self)


def soc_metrics(time_s, soc, soc_sigma, soc_true, settle_s: float = 600.0) -> SocMetrics:
    t = np.asarray(time_s, float)
    est = np.asarray(soc, float)
    sig = np.asarray(soc_sigma, float)
    truth = np.asarray(soc_true, float)
    ok = np.isfinite(t) & np.isfinite(est) & np.isfinite(truth) & np.isfinite(sig)
    if not ok.any():
        raise ValueError("soc_metrics: no sample has a finite estimate and truth")
    t, est, sig, truth = t[ok], est[ok], sig[ok], truth[ok]
    err = est - truth
    after = t >= t[0] + settle_s
    big = np.abs(err) > 0.02
    if not big.any():
        t2 = 0.0
    elif big[-1]:
        t2 = float("nan")
    else:
        t2 = float(t[np.nonzero(big)[0][-1] + 1] - t[0])
    return SocMetrics(
        samples=int(ok.sum()), rmse=float(np.sqrt(np.mean(err ** 2))),
        max_abs_after=float(np.max(np.abs(err[after]))) if after.any() else float("nan"),
        outside_3sigma_after=float(np.mean(np.abs(err[after]) > 3 * sig[after])) if after.any() else float("nan"),
        settle_s=float(settle_s), time_to_2pct_s=t2,
        nees_after=float(np.mean((err[after] / sig[after]) ** 2)) if after.any() and np.all(sig[after] > 0)
        else float("nan"))
