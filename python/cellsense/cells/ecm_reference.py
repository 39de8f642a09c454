"""The one NumPy reference of the ECM: the equations of docs/model.md (the core is
cpp/include/cellsense/model/ecm.hpp) in double precision with numpy's exp, term by term as the core
computes them.

* :func:`locate` / :func:`lookup` / :func:`ocv_and_slope`: the bilinear table interpolation over
  [temperature][SOC], clamped at the grid ends (the OCV continues linearly in SOC beyond them), vectorised
  over any number of points;
* :func:`simulate`: the model open loop over a current log (vectorised; only the recurrences loop),
  from a validated :class:`~cellsense.cells.ecm.Cell` or a cell-file dict (fitting works on dicts);
* :class:`NumpyEcm`: the same model one sample at a time with its Jacobians, for filterpy's EKF/UKF
  (evaluate/filterpy_peer.py).

Used by fitting (``cellsense.fit``), ``Cell.ocv``, the filterpy peer, the firmware's generated logs and
the tests; held to the core by tests/python/cells/test_ecm_reference.py (open-loop voltage over a drive
cycle within 1e-9 V in double).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .ecm import Cell


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------
@dataclass
class EcmTables:
    """The ECM's parameters as the equations use them: every table [temperature][SOC]."""

    soc: np.ndarray
    temperature_degC: np.ndarray
    capacity_Ah: float
    coulombic_efficiency: float
    hysteresis_rate: float
    sign_deadband_A: float
    ocv_V: np.ndarray
    r0_Ohm: np.ndarray
    rc_r_Ohm: list[np.ndarray]
    rc_tau_s: list[np.ndarray]
    hysteresis_V: np.ndarray
    hysteresis_instant_V: np.ndarray

    @property
    def rc_pairs(self) -> int:
        return len(self.rc_r_Ohm)


def table(params: dict, key: str, n_T: int, n_soc: int) -> np.ndarray:
    """A cell-file table as [n_T][n_soc]: a scalar or a 1-D list over SOC is broadcast over temperature."""
    v = np.asarray(params[key], dtype=float)
    if v.ndim == 0:
        return np.full((n_T, n_soc), float(v))
    if v.ndim == 1:
        if v.shape[0] != n_soc:
            raise ValueError(f"table {key!r}: 1-D table has {v.shape[0]} values, expected {n_soc} (SOC breakpoints)")
        return np.tile(v, (n_T, 1))
    if v.shape != (n_T, n_soc):
        raise ValueError(f"table {key!r}: shape {v.shape}, expected ({n_T}, {n_soc})")
    return v


def tables_of(cell: Any) -> EcmTables:
    """EcmTables of a validated Cell, or of a cell-file dict (not validated: fitting builds them; absent
    hysteresis tables are zero, the Coulombic efficiency 1, the sign deadband C/100 as docs/cell-file.md)."""
    if isinstance(cell, EcmTables):
        return cell
    if not isinstance(cell, dict):  # a Cell
        return EcmTables(cell.soc, cell.temperature_degC, cell.capacity_Ah, cell.coulombic_efficiency,
                         cell.hysteresis_rate, cell.sign_deadband_A, cell.ocv_V, cell.r0_Ohm, list(cell.rc_r_Ohm),
                         list(cell.rc_tau_s), cell.hysteresis_V, cell.hysteresis_instant_V)
    p = cell["parameters"]
    n_rc = int(cell.get("RC pairs", 0))
    soc_bp = np.asarray(p["SOC breakpoints"], dtype=float)
    T_bp = np.atleast_1d(np.asarray(p.get("Temperature breakpoints [degC]", [25.0]), dtype=float))
    nT, nS = len(T_bp), len(soc_bp)
    q = float(p["Nominal cell capacity [A.h]"])

    def tab(key: str) -> np.ndarray:
        return table(p, key, nT, nS) if key in p else np.zeros((nT, nS))

    return EcmTables(soc_bp, T_bp, q, float(p.get("Coulombic efficiency", 1.0)),
                     float(p.get("Hysteresis rate constant", 0.0)), float(p.get("Hysteresis sign deadband [A]", q / 100.0)),
                     table(p, "Open-circuit voltage [V]", nT, nS), table(p, "R0 [Ohm]", nT, nS),
                     [table(p, f"R{j} [Ohm]", nT, nS) for j in range(1, n_rc + 1)],
                     [table(p, f"tau{j} [s]", nT, nS) for j in range(1, n_rc + 1)],
                     tab("Hysteresis maximum [V]"), tab("Instantaneous hysteresis [V]"))


@dataclass
class Location:
    """Where points fall on the grid (the core's TableLocation): SOC interval i, temperature rows it/it2,
    weights ws/wt, 1/dSOC of the interval, and whether the SOC was clamped."""

    i: np.ndarray
    it: np.ndarray
    it2: np.ndarray
    ws: np.ndarray
    wt: np.ndarray
    inv_ds: np.ndarray
    clamped: np.ndarray


def locate(soc_bp: np.ndarray, temp_bp: np.ndarray, soc, temperature_degC) -> Location:
    """The grid location of (soc, temperature) points (array-likes, broadcast together), clamped at the
    grid ends as the core does."""
    soc, tem = np.broadcast_arrays(np.asarray(soc, dtype=float), np.asarray(temperature_degC, dtype=float))
    clamped = ~((soc_bp[0] <= soc) & (soc <= soc_bp[-1]))
    s = np.minimum(np.maximum(soc, soc_bp[0]), soc_bp[-1])
    i = np.minimum(np.maximum(np.searchsorted(soc_bp, s, side="right") - 1, 0), len(soc_bp) - 2)
    inv_ds = 1.0 / (soc_bp[i + 1] - soc_bp[i])
    ws = (s - soc_bp[i]) * inv_ds
    if len(temp_bp) == 1:
        it = it2 = np.zeros(np.shape(s), dtype=np.intp)
        wt = np.zeros(np.shape(s))
    else:
        t = np.minimum(np.maximum(tem, temp_bp[0]), temp_bp[-1])
        it = np.minimum(np.maximum(np.searchsorted(temp_bp, t, side="right") - 1, 0), len(temp_bp) - 2)
        it2 = it + 1
        wt = (t - temp_bp[it]) / (temp_bp[it2] - temp_bp[it])
    return Location(i, it, it2, ws, wt, inv_ds, clamped)


def lookup(tab: np.ndarray, loc: Location) -> np.ndarray:
    """Table value at the located points: linear in SOC on both temperature rows, then in temperature."""
    i, it, it2, ws, wt = loc.i, loc.it, loc.it2, loc.ws, loc.wt
    lo = tab[it, i] + (tab[it, i + 1] - tab[it, i]) * ws
    hi = tab[it2, i] + (tab[it2, i + 1] - tab[it2, i]) * ws
    return lo + (hi - lo) * wt


def slope(tab: np.ndarray, loc: Location) -> np.ndarray:
    """d(table)/d(SOC) at the located points (zero where the SOC was clamped)."""
    i, it, it2, wt = loc.i, loc.it, loc.it2, loc.wt
    dlo = (tab[it, i + 1] - tab[it, i]) * loc.inv_ds
    dhi = (tab[it2, i + 1] - tab[it2, i]) * loc.inv_ds
    return np.where(loc.clamped, 0.0, dlo + (dhi - dlo) * wt)


def ocv_and_slope(tab: np.ndarray, soc_bp: np.ndarray, soc, loc: Location) -> tuple[np.ndarray, np.ndarray]:
    """OCV and its SOC slope at the located points, continued linearly beyond the SOC grid (as the core)."""
    i, it, it2, wt, inv_ds = loc.i, loc.it, loc.it2, loc.wt, loc.inv_ds
    w = (np.asarray(soc, dtype=float) - soc_bp[i]) * inv_ds
    lo = tab[it, i] + (tab[it, i + 1] - tab[it, i]) * w
    hi = tab[it2, i] + (tab[it2, i + 1] - tab[it2, i]) * w
    dlo = (tab[it, i + 1] - tab[it, i]) * inv_ds
    dhi = (tab[it2, i + 1] - tab[it2, i]) * inv_ds
    return lo + (hi - lo) * wt, dlo + (dhi - dlo) * wt


def interpolate(tab: np.ndarray, soc_bp: np.ndarray, temp_bp: np.ndarray, soc, temperature_degC,
                extrapolate_soc: bool = False) -> np.ndarray:
    """Bilinear interpolation of tab[temperature][soc] at (soc, temperature) points, clamped at the grid
    ends; with extrapolate_soc, continued linearly in SOC beyond the grid (the core's rule for the OCV)."""
    tab = np.asarray(tab, dtype=float)
    loc = locate(np.asarray(soc_bp, float), np.atleast_1d(np.asarray(temp_bp, float)), soc, temperature_degC)
    if extrapolate_soc:
        return ocv_and_slope(tab, np.asarray(soc_bp, float), soc, loc)[0]
    return lookup(tab, loc)


# ----------------------------------------------------------------------------------------------
# The model open loop, vectorised
# ----------------------------------------------------------------------------------------------
def simulate(cell: Any, time_s, current_A, temperature_degC, initial_soc: float = 1.0, initial_h: float = 0.0,
             initial_s: float = 0.0, initial_rc_V=None) -> dict[str, np.ndarray]:
    """Run the ECM open loop over a current log (+ = discharge; row k's current is held over
    (t[k-1], t[k]]; row 0 is the initial state, its current only enters its voltage). `cell` is a Cell,
    a cell-file dict or EcmTables. Returns voltage_V, soc, h (hysteresis state), s (instantaneous
    hysteresis sign) and rc_V (n x RC pairs), in the core's arithmetic order (docs/model.md):

        soc_k  = soc_{k-1} - eta dt_k / (3600 Q) i_k
        v_rc_k = a v_rc_{k-1} + R (1 - a) i_k,  a = exp(-dt_k / tau)   (R, tau at soc_{k-1}, T_k)
        h_k    = a_h h_{k-1} - (1 - a_h) sign(i_k),  a_h = exp(-|i_k| gamma eta dt_k / (3600 Q))
        s_k    = sign(i_k) if |i_k| > deadband else s_{k-1}
        v_k    = OCV(soc_k, T_k) + M h_k - M0 s_k - R0 i_k - sum v_rc_k  (tables at soc_k, T_k)
    """
    c = tables_of(cell)
    t = np.asarray(time_s, dtype=float)
    i = np.asarray(current_A, dtype=float)
    T = np.broadcast_to(np.asarray(temperature_degC, dtype=float), t.shape)
    n, n_rc = len(t), c.rc_pairs
    dt = np.r_[1.0, np.diff(t)]  # row 0's interval is never integrated
    eta = np.where(i < 0, c.coulombic_efficiency, 1.0)
    soc_gain = eta * dt / (3600.0 * c.capacity_Ah)
    d_soc = -soc_gain * i
    d_soc[0] = float(initial_soc)
    z = np.cumsum(d_soc)  # sequential: z_k = z_{k-1} + d_k, as the per-sample recurrence
    z_prev = np.r_[float(initial_soc), z[:-1]]
    # hysteresis and the instantaneous sign
    a_h = np.exp(-(np.abs(i) * c.hysteresis_rate * soc_gain))
    sgn = np.sign(i)
    u_h = -(1.0 - a_h) * sgn
    h = np.empty(n)
    s = np.empty(n)
    hk, sk = float(initial_h), float(initial_s)
    a_l, u_l, sg_l, big = a_h.tolist(), u_h.tolist(), sgn.tolist(), (np.abs(i) > c.sign_deadband_A).tolist()
    h[0], s[0] = hk, sk
    for k in range(1, n):
        hk = a_l[k] * hk + u_l[k]
        if big[k]:
            sk = sg_l[k]
        h[k], s[k] = hk, sk
    # RC pairs: transition tables at the prior SOC
    rc = np.zeros((n, n_rc))
    rc0 = np.zeros(n_rc) if initial_rc_V is None else np.asarray(initial_rc_V, dtype=float).reshape(n_rc)
    if n_rc:
        loc_prior = locate(c.soc, c.temperature_degC, z_prev, T)
        for j in range(n_rc):
            a = np.exp(-dt / lookup(c.rc_tau_s[j], loc_prior))
            b = (lookup(c.rc_r_Ohm[j], loc_prior) * (1.0 - a) * i).tolist()
            a = a.tolist()
            x = float(rc0[j])
            out = [x]
            for k in range(1, n):
                x = a[k] * x + b[k]
                out.append(x)
            rc[:, j] = out
    # measurement at the posterior SOC
    loc = locate(c.soc, c.temperature_degC, z, T)
    ocv = ocv_and_slope(c.ocv_V, c.soc, z, loc)[0]
    v = ocv + lookup(c.hysteresis_V, loc) * h - lookup(c.hysteresis_instant_V, loc) * s - lookup(c.r0_Ohm, loc) * i
    if n_rc:
        total = rc[:, 0] + 0.0
        for j in range(1, n_rc):
            total = total + rc[:, j]
        v = v - total
    return {"voltage_V": v, "soc": z, "h": h, "s": s, "rc_V": rc}


def simulate_ecm(cell: Any, time_s, current_A, temperature_degC, initial_soc: float, rc_init_V=None) -> dict:
    """Open-loop ECM simulation from a rested hysteresis state: true voltage and SOC (`simulate`)."""
    r = simulate(cell, time_s, current_A, temperature_degC, initial_soc=initial_soc, initial_rc_V=rc_init_V)
    return {"voltage_V": r["voltage_V"], "soc": r["soc"]}


#: the name fitting has used for `simulate` (``cellsense.fit.ecm_simulate``)
ecm_simulate = simulate


# ----------------------------------------------------------------------------------------------
# One sample at a time, with Jacobians: the model filterpy's EKF/UKF run (evaluate/filterpy_peer.py)
# ----------------------------------------------------------------------------------------------
class NumpyEcm:
    """ECM transition/measurement for one sample, mirroring the core term by term (the same `locate`,
    `lookup` and `ocv_and_slope` as `simulate`). `noise` is a NoiseSettings (read for Q only)."""

    def __init__(self, cell: Cell, noise: Any = None):
        self.cell = cell
        self.noise = noise
        self.n_rc = cell.rc_pairs
        self.n = cell.rc_pairs + 2

    def _locate(self, soc: float, temperature_degC: float) -> Location:
        return locate(self.cell.soc, self.cell.temperature_degC, float(soc), float(temperature_degC))

    def prepare(self, x_prior, sign_prev: float, dt_s: float, current_A: float, temperature_degC: float) -> dict:
        c = self.cell
        eta = c.coulombic_efficiency if current_A < 0 else 1.0
        soc_gain = eta * dt_s / (3600.0 * c.capacity_Ah)
        loc = self._locate(float(x_prior[0]), temperature_degC)
        a_rc = np.array([np.exp(-dt_s / float(lookup(c.rc_tau_s[j], loc))) for j in range(self.n_rc)])
        b_rc = np.array([float(lookup(c.rc_r_Ohm[j], loc)) for j in range(self.n_rc)]) * (1.0 - a_rc)
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
        ocv = float(ocv_and_slope(c.ocv_V, c.soc, float(x[0]), loc)[0])
        v = (ocv + float(lookup(c.hysteresis_V, loc)) * x[-1] - float(lookup(c.hysteresis_instant_V, loc)) * s["sign"]
             - float(lookup(c.r0_Ohm, loc)) * s["i"])
        return v - float(np.sum(x[1:1 + self.n_rc]))

    def r_cell_Ohm(self, soc: float, temperature_degC: float) -> float:
        """R0 + sum R_j at `soc` and the temperature (the core's EcmModel::model_error_resistance_Ohm)."""
        c = self.cell
        loc = self._locate(float(soc), temperature_degC)
        return float(lookup(c.r0_Ohm, loc)) + sum(float(lookup(c.rc_r_Ohm[j], loc)) for j in range(self.n_rc))

    def H(self, x, s) -> np.ndarray:
        c = self.cell
        x = np.asarray(x, float).reshape(-1)
        loc = self._locate(float(x[0]), s["T"])
        row = np.zeros((1, self.n))
        row[0, 0] = (float(ocv_and_slope(c.ocv_V, c.soc, float(x[0]), loc)[1])
                     + float(slope(c.hysteresis_V, loc)) * x[-1]
                     - float(slope(c.hysteresis_instant_V, loc)) * s["sign"])  # no dR0/dz i, as the core
        row[0, 1:1 + self.n_rc] = -1.0
        row[0, -1] = float(lookup(c.hysteresis_V, loc))
        return row
