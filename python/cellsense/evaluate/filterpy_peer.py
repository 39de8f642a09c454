"""The same ECM written in plain numpy (cells.ecm_reference.NumpyEcm) and run through filterpy: the peer the
core is checked against (tests/python/evaluate/test_filterpy_crosscheck.py) and benchmarked against
(`cellsense bench`). Needs `filterpy` (pip install filterpy).
"""
from __future__ import annotations

import numpy as np

from ..cells.ecm import Cell
from ..cells.ecm_reference import NumpyEcm
from ..estimators.settings import EstimatorSettings, NoiseSettings, resolve_model_error


def filterpy_run(cell: Cell, filter: str, time_s, current_A, voltage_V, temperature_degC, initial_soc: float,
                 noise: NoiseSettings | None = None, settings: EstimatorSettings | None = None) -> dict:
    """Run filterpy's ExtendedKalmanFilter or UnscentedKalmanFilter (MerweScaledSigmaPoints) over a log
    with the NumpyEcm model. The first sample only sets the clock, as in the core. No gate, no clamp:
    use logs that stay inside the SOC bounds. For the UKF the sigma points are redrawn from the
    predicted (x, P) before the update, as the core does (filterpy otherwise reuses the propagated ones)."""
    from filterpy.kalman import ExtendedKalmanFilter, MerweScaledSigmaPoints, UnscentedKalmanFilter

    noise = noise or NoiseSettings()
    settings = settings or EstimatorSettings()
    m = NumpyEcm(cell, noise)
    n = m.n
    x0 = np.zeros(n)
    x0[0] = initial_soc
    x0[-1] = noise.initial_hysteresis
    p0 = np.diag([noise.initial_soc_sigma ** 2] + [noise.initial_v_rc_sigma_V ** 2] * m.n_rc
                 + [noise.initial_hysteresis_sigma ** 2])
    sigma_V, k_A, k_rel, tau, e_V = resolve_model_error(noise, cell)  # as the Estimator resolves it

    def r_of(x_prior, s) -> float:
        """R = sigma^2 + (e_V^2 + ((k_A + k_rel |i|) R_cell(prior SOC, T))^2) max(1, tau / dt)
        (estimator/estimator.hpp)."""
        if k_A == 0.0 and k_rel == 0.0 and e_V == 0.0:
            return sigma_V ** 2
        e = (k_A + k_rel * abs(s["i"])) * m.r_cell_Ohm(float(np.asarray(x_prior).reshape(-1)[0]), s["T"]) \
            if (k_A or k_rel) else 0.0
        return sigma_V ** 2 + (e_V * e_V + e * e) * (tau / s["dt_s"] if s["dt_s"] < tau else 1.0)

    r = sigma_V ** 2
    t, cur, vol, tem = (np.asarray(a, float) for a in (time_s, current_A, voltage_V, temperature_degC))
    N = len(t)
    soc = np.empty(N)
    sig = np.empty(N)
    soc[0], sig[0] = initial_soc, np.sqrt(p0[0, 0])
    sign = 0.0
    if filter == "ekf":
        kf = ExtendedKalmanFilter(dim_x=n, dim_z=1)
        kf.x = x0.reshape(n, 1).copy()
        kf.P = p0.copy()
        kf.R = np.array([[r]])
        for k in range(1, N):
            s = m.prepare(kf.x[:, 0], sign, t[k] - t[k - 1], cur[k], tem[k])
            kf.F = m.F(s)
            kf.B = m.u(s).reshape(n, 1)
            kf.Q = m.Q(s)
            kf.predict(u=np.array([[1.0]]))
            kf.R = np.array([[r_of(kf.x, s)]])
            kf.update(np.array([[vol[k]]]), lambda x, s=s: m.H(x, s), lambda x, s=s: np.array([[m.h(x, s)]]))
            sign = s["sign"]
            soc[k], sig[k] = kf.x[0, 0], np.sqrt(kf.P[0, 0])
    elif filter == "ukf":
        pts = MerweScaledSigmaPoints(n, alpha=settings.ukf_alpha, beta=settings.ukf_beta, kappa=settings.ukf_kappa)
        kf = UnscentedKalmanFilter(dim_x=n, dim_z=1, dt=1.0, hx=lambda x, **kw: np.array([m.h(x, kw["s"])]),
                                   fx=lambda x, dt, **kw: m.f(x, kw["s"]), points=pts)
        kf.x = x0.copy()
        kf.P = p0.copy()
        kf.R = np.array([[r]])
        for k in range(1, N):
            s = m.prepare(kf.x, sign, t[k] - t[k - 1], cur[k], tem[k])
            kf.Q = m.Q(s)
            kf.predict(s=s)
            kf.sigmas_f = kf.points_fn.sigma_points(kf.x, kf.P)  # redraw, as the core does
            kf.R = np.array([[r_of(kf.x, s)]])
            kf.update(np.array([vol[k]]), s=s)
            sign = s["sign"]
            soc[k], sig[k] = kf.x[0], np.sqrt(kf.P[0, 0])
    else:
        raise ValueError(f"filter: expected 'ekf' or 'ukf', got {filter!r}")
    return {"soc": soc, "soc_sigma": sig}
