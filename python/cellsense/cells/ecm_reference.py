"""The same ECM written in plain numpy and run through filterpy: the peer the core is checked
against (tests/python/test_filterpy_crosscheck.py) and benchmarked against (`cellsense bench`).

Same equations as cpp/include/cellsense/model/ecm.hpp (docs/model.md), in double precision,
with numpy's exp. Needs `filterpy` (pip install filterpy).
"""
from __future__ import annotations

import numpy as np

from .ecm import Cell
from ..estimators.ecm import EstimatorSettings, NoiseSettings, resolve_model_error


class NumpyEcm:
    """ECM transition/measurement in numpy, mirroring the core term by term."""

    def __init__(self, cell: Cell, noise: NoiseSettings):
        self.cell = cell
        self.noise = noise
        self.n_rc = cell.rc_pairs
        self.n = cell.rc_pairs + 2

    def _locate(self, soc: float, temperature_degC: float):
        c = self.cell
        sbp, tbp = c.soc, c.temperature_degC
        clamped = not (sbp[0] <= soc <= sbp[-1])
        s = min(max(soc, sbp[0]), sbp[-1])
        i = min(max(int(np.searchsorted(sbp, s, side="right")) - 1, 0), len(sbp) - 2)
        inv_ds = 1.0 / (sbp[i + 1] - sbp[i])
        ws = (s - sbp[i]) * inv_ds
        if len(tbp) == 1:
            it, it2, wt = 0, 0, 0.0
        else:
            t = min(max(temperature_degC, tbp[0]), tbp[-1])
            it = min(max(int(np.searchsorted(tbp, t, side="right")) - 1, 0), len(tbp) - 2)
            it2 = it + 1
            wt = (t - tbp[it]) / (tbp[it2] - tbp[it])
        return i, it, it2, ws, wt, inv_ds, clamped

    @staticmethod
    def _lookup(tab, loc):
        i, it, it2, ws, wt, _, _ = loc
        lo = tab[it][i] + (tab[it][i + 1] - tab[it][i]) * ws
        hi = tab[it2][i] + (tab[it2][i + 1] - tab[it2][i]) * ws
        return lo + (hi - lo) * wt

    def _ocv(self, soc: float, temperature_degC: float) -> tuple[float, float]:
        """OCV and its SOC slope, continued linearly beyond the SOC grid (as the core does)."""
        c = self.cell
        loc = self._locate(soc, temperature_degC)
        i, it, it2, ws, wt, inv_ds, clamped = loc
        w = (soc - c.soc[i]) * inv_ds
        tab = c.ocv_V
        lo = tab[it][i] + (tab[it][i + 1] - tab[it][i]) * w
        hi = tab[it2][i] + (tab[it2][i + 1] - tab[it2][i]) * w
        dlo = (tab[it][i + 1] - tab[it][i]) * inv_ds
        dhi = (tab[it2][i + 1] - tab[it2][i]) * inv_ds
        return lo + (hi - lo) * wt, dlo + (dhi - dlo) * wt

    @staticmethod
    def _slope(tab, loc):
        i, it, it2, ws, wt, inv_ds, clamped = loc
        if clamped:
            return 0.0
        dlo = (tab[it][i + 1] - tab[it][i]) * inv_ds
        dhi = (tab[it2][i + 1] - tab[it2][i]) * inv_ds
        return dlo + (dhi - dlo) * wt

    def prepare(self, x_prior, sign_prev: float, dt_s: float, current_A: float, temperature_degC: float) -> dict:
        c = self.cell
        eta = c.coulombic_efficiency if current_A < 0 else 1.0
        soc_gain = eta * dt_s / (3600.0 * c.capacity_Ah)
        loc = self._locate(float(x_prior[0]), temperature_degC)
        a_rc = np.array([np.exp(-dt_s / self._lookup(c.rc_tau_s[j], loc)) for j in range(self.n_rc)])
        b_rc = np.array([self._lookup(c.rc_r_Ohm[j], loc) for j in range(self.n_rc)]) * (1.0 - a_rc)
        a_h = np.exp(-(abs(current_A) * c.hysteresis_rate * soc_gain))
        sgn = float(np.sign(current_A))
        return {"dt_s": dt_s, "i": current_A, "T": temperature_degC, "soc_gain": soc_gain, "a_rc": a_rc,
                "b_rc": b_rc, "a_h": a_h, "u_h": -(1.0 - a_h) * sgn,
                "sign": sgn if abs(current_A) > c.sign_deadband_A else sign_prev}

    def F(self, s) -> np.ndarray:
        return np.diag(np.concatenate([[1.0], s["a_rc"], [s["a_h"]]]))

    def u(self, s) -> np.ndarray:
        return np.concatenate([[-s["soc_gain"] * s["i"]], s["b_rc"] * s["i"], [s["u_h"]]])

    def f(self, x, s) -> np.ndarray:
        return self.F(s) @ np.asarray(x, float).reshape(-1) + self.u(s)

    def Q(self, s) -> np.ndarray:
        n = self.noise
        b = np.concatenate([[-s["soc_gain"]], s["b_rc"], [0.0]])
        q = np.outer(b, b) * n.current_sigma_A ** 2
        q += np.diag([n.soc_per_sqrt_s ** 2] + [n.v_rc_V_per_sqrt_s ** 2] * self.n_rc + [n.hysteresis_per_sqrt_s ** 2]) * s["dt_s"]
        return q

    def h(self, x, s) -> float:
        c = self.cell
        x = np.asarray(x, float).reshape(-1)
        loc = self._locate(float(x[0]), s["T"])
        v = (self._ocv(float(x[0]), s["T"])[0] + self._lookup(c.hysteresis_V, loc) * x[-1]
             - self._lookup(c.hysteresis_instant_V, loc) * s["sign"] - self._lookup(c.r0_Ohm, loc) * s["i"])
        return v - float(np.sum(x[1:1 + self.n_rc]))

    def r_cell_Ohm(self, soc: float, temperature_degC: float) -> float:
        """R0 + sum R_j at `soc` and the temperature (the core's EcmModel::model_error_resistance_Ohm)."""
        c = self.cell
        loc = self._locate(float(soc), temperature_degC)
        return self._lookup(c.r0_Ohm, loc) + sum(self._lookup(c.rc_r_Ohm[j], loc) for j in range(self.n_rc))

    def H(self, x, s) -> np.ndarray:
        c = self.cell
        x = np.asarray(x, float).reshape(-1)
        loc = self._locate(float(x[0]), s["T"])
        row = np.zeros((1, self.n))
        row[0, 0] = (self._ocv(float(x[0]), s["T"])[1] + self._slope(c.hysteresis_V, loc) * x[-1]
                     - self._slope(c.hysteresis_instant_V, loc) * s["sign"] - self._slope(c.r0_Ohm, loc) * s["i"])
        row[0, 1:1 + self.n_rc] = -1.0
        row[0, -1] = self._lookup(c.hysteresis_V, loc)
        return row


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
    sigma_V, k_A, k_rel, tau = resolve_model_error(noise, cell)  # as the Estimator resolves it

    def r_of(x_prior, s) -> float:
        """R = sigma^2 + ((k_A + k_rel |i|) R_cell(prior SOC, T))^2 (estimator/estimator.hpp)."""
        if k_A == 0.0 and k_rel == 0.0:
            return sigma_V ** 2
        e = (k_A + k_rel * abs(s["i"])) * m.r_cell_Ohm(float(np.asarray(x_prior).reshape(-1)[0]), s["T"])
        return sigma_V ** 2 + e * e * (tau / s["dt_s"] if s["dt_s"] < tau else 1.0)

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


def simulate_ecm(cell: Cell, time_s, current_A, temperature_degC, initial_soc: float, rc_init_V=None) -> dict:
    """Open-loop ECM simulation (the equations of docs/model.md) in numpy: true voltage and SOC.
    Row k's current is held over (t[k-1], t[k]]."""
    m = NumpyEcm(cell, NoiseSettings())
    t = np.asarray(time_s, float)
    cur = np.asarray(current_A, float)
    tem = np.broadcast_to(np.asarray(temperature_degC, float), t.shape)
    x = np.zeros(m.n)
    x[0] = initial_soc
    if rc_init_V is not None:
        x[1:1 + m.n_rc] = rc_init_V
    sign = 0.0
    v = np.empty(len(t))
    soc = np.empty(len(t))
    s0 = m.prepare(x, sign, 1.0, cur[0], tem[0])
    s0["sign"] = sign
    v[0], soc[0] = m.h(x, s0), x[0]
    for k in range(1, len(t)):
        s = m.prepare(x, sign, t[k] - t[k - 1], cur[k], tem[k])
        x = m.f(x, s)
        sign = s["sign"]
        v[k], soc[k] = m.h(x, s), x[0]
    return {"voltage_V": v, "soc": soc}
