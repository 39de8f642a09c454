"""Seeded sensor model: turn clean simulated cell signals into measured-looking ones.

Pure numpy.  Applied AFTER the truth cache (only clean truth is cached).  Truth columns
(``soc_true``) are passed through unchanged (only decimated / dropped with their rows).

Order of operations (documented in docs/truth.md):

1. Row selection: decimation to ``sample_period_s`` (the first truth row at or after each multiple
   of the period, counted from the first row) and then random dropping of a fraction
   ``drop_fraction`` of the remaining rows (never the first one).
2. Current of each kept row = mean of the true current over (t_prev_kept, t_k], computed exactly
   from the integrated truth current ("average", an integrating current front end), so the
   piecewise-constant rule of the cell log and coulomb counting survive decimation and dropped
   rows.  ``current_sampling="instantaneous"`` instead keeps the truth current of row k only.
3. Current: ``(1 + current_gain_error) * i + current_offset_A + N(0, current_noise_A)``.
   Voltage: ``v + N(0, voltage_noise_V)``; temperature: ``T + N(0, temperature_noise_degC)``.
4. Quantisation: ``round(x / lsb) * lsb`` for voltage, current and temperature (LSB 0 = off).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Optional

import numpy as np


@dataclass
class SensorModel:
    voltage_noise_V: float = 0.0
    current_noise_A: float = 0.0
    temperature_noise_degC: float = 0.0
    current_offset_A: float = 0.0
    current_gain_error: float = 0.0
    voltage_lsb_V: float = 0.0
    current_lsb_A: float = 0.0
    temperature_lsb_degC: float = 0.0
    sample_period_s: Optional[float] = None
    drop_fraction: float = 0.0
    current_sampling: str = "average"
    seed: Optional[int] = 0

    def __post_init__(self):
        for f in fields(self):
            if f.name in ("current_sampling", "seed", "sample_period_s", "current_offset_A",
                          "current_gain_error"):
                continue
            v = getattr(self, f.name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"sensor field {f.name!r} must be a finite number >= 0, got {v!r}")
        for name in ("current_offset_A", "current_gain_error"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"sensor field {name!r} must be finite")
        if self.current_gain_error <= -1:
            raise ValueError("sensor field 'current_gain_error' must be > -1")
        if self.sample_period_s is not None and not (self.sample_period_s > 0):
            raise ValueError("sensor field 'sample_period_s' must be > 0 (or None)")
        if not (0.0 <= self.drop_fraction < 1.0):
            raise ValueError("sensor field 'drop_fraction' must be in [0, 1)")
        if self.current_sampling not in ("average", "instantaneous"):
            raise ValueError("sensor field 'current_sampling' must be 'average' or 'instantaneous'")

    def is_identity(self) -> bool:
        return self == SensorModel(seed=self.seed, current_sampling=self.current_sampling)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SensorModel":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown sensor field(s): {sorted(unknown)}")
        return cls(**d)

    # ------------------------------------------------------------------
    def select_rows(self, time_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(time_s)
        idx = np.arange(n)
        if self.sample_period_s is not None and n > 1:
            k = np.floor((time_s - time_s[0]) / self.sample_period_s + 1e-9).astype(np.int64)
            # first row at or after each multiple of the period: rows where k increases
            first = np.r_[True, k[1:] > k[:-1]]
            # a row exactly on the multiple has k == multiple; a row after a gap too.
            idx = idx[first]
        if self.drop_fraction > 0 and len(idx) > 1:
            keep = rng.random(len(idx) - 1) >= self.drop_fraction
            idx = np.r_[idx[:1], idx[1:][keep]]
        return idx

    def apply(self, time_s, current_A, voltage_V, temperature_degC, soc_true=None) -> dict:
        """Return a dict of measured arrays (and ``soc_true`` if given) for the kept rows."""
        t = np.asarray(time_s, dtype=float)
        i = np.asarray(current_A, dtype=float)
        v = np.asarray(voltage_V, dtype=float)
        T = np.asarray(temperature_degC, dtype=float)
        rng = np.random.default_rng(self.seed)
        idx = self.select_rows(t, rng)
        ts = t[idx]
        if self.current_sampling == "average":
            # integrated charge with the piecewise-constant rule (row k held over (t_{k-1}, t_k])
            q = np.r_[0.0, np.cumsum(i[1:] * np.diff(t))]
            qs = q[idx]
            im = np.empty(len(idx))
            im[0] = i[idx[0]]
            dt = np.diff(ts)
            im[1:] = np.diff(qs) / dt
        else:
            im = i[idx].copy()
        vm = v[idx].copy()
        Tm = T[idx].copy()
        n = len(idx)
        im = (1.0 + self.current_gain_error) * im + self.current_offset_A
        if self.current_noise_A > 0:
            im = im + rng.normal(0.0, self.current_noise_A, n)
        if self.voltage_noise_V > 0:
            vm = vm + rng.normal(0.0, self.voltage_noise_V, n)
        if self.temperature_noise_degC > 0:
            Tm = Tm + rng.normal(0.0, self.temperature_noise_degC, n)
        if self.current_lsb_A > 0:
            im = np.round(im / self.current_lsb_A) * self.current_lsb_A
        if self.voltage_lsb_V > 0:
            vm = np.round(vm / self.voltage_lsb_V) * self.voltage_lsb_V
        if self.temperature_lsb_degC > 0:
            Tm = np.round(Tm / self.temperature_lsb_degC) * self.temperature_lsb_degC
        out = {"time_s": ts, "current_A": im, "voltage_V": vm, "temperature_degC": Tm,
               "rows": idx}
        if soc_true is not None:
            out["soc_true"] = np.asarray(soc_true, dtype=float)[idx]
        return out
