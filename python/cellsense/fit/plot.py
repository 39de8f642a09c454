"""The plot of a fitted cell against the logs it was fitted on (``cellsense fit --plot``): open-loop voltage,
measured voltage and the residual per log."""
from __future__ import annotations

import numpy as np

from .._io import require


def plot_fit(curves, path, title: str | None = None) -> str:
    """Write the fit's plot (PNG, or any matplotlib format by the suffix of `path`); returns the path.

    `curves`: (label, time_s, measured voltage, model voltage) per log, as `fit(plot=...)` collects them.
    Per log one row: left, the measured voltage and the fitted model's open-loop voltage against time;
    right, the residual (model - measured) in mV with its RMSE. Needs matplotlib (``cellsense[fit]``)."""
    require("matplotlib", "cellsense fit --plot", "fit")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(curves)
    fig, axes = plt.subplots(n, 2, figsize=(12, 2.3 * n + 0.8), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 2]})
    for k, (label, t, v_meas, v_model) in enumerate(curves):
        t_h = (np.asarray(t, float) - float(t[0])) / 3600.0
        res_mV = 1e3 * (np.asarray(v_model, float) - np.asarray(v_meas, float))
        ax = axes[k][0]
        ax.plot(t_h, v_meas, color="k", lw=1.0, label="measured")
        ax.plot(t_h, v_model, color="C1", lw=0.8, ls="--", label="fitted model (open loop)")
        ax.set_ylabel("voltage (V)")
        ax.set_title(label, fontsize=9, loc="left")
        ax.legend(loc="lower left", fontsize=7)
        ax = axes[k][1]
        ax.plot(t_h, res_mV, color="C3", lw=0.6)
        ax.axhline(0.0, color="k", lw=0.5)
        rmse = float(np.sqrt(np.mean(res_mV ** 2)))
        ax.set_title(f"residual: RMSE {rmse:.2f} mV, max |e| {float(np.max(np.abs(res_mV))):.1f} mV",
                     fontsize=9, loc="left")
        ax.set_ylabel("model - measured (mV)")
    axes[-1][0].set_xlabel("time (h)")
    axes[-1][1].set_xlabel("time (h)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    plt.close(fig)
    return str(path)
