"""Protocols -> piecewise-constant current schedules on a uniform sample grid (docs/truth.md), and the
drive-cycle shapes they use."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


DRIVE_CYCLES = ("udds", "us06", "hwfet", "wltc")
PROTOCOLS = ("cc", "ocv", "ocv-discharge", "ocv-charge", "hppc") + DRIVE_CYCLES + ("aging",)
DEFAULT_PEAK_C_RATE = {"udds": 3.0, "us06": 3.0, "hwfet": 2.0, "wltc": 3.0}
WLTC_NOMINAL_VOLTAGE_V = 3.6
#: the most rows a truth's schedule may have (10 M rows: about a 1 GB CSV): bounds --sample-period-s, --repeats,
#: --rest-s and --c-rate so that a typo is refused up front instead of exhausting memory or running for days
MAX_ROWS = 10_000_000
#: the protocols that use --rest-s (rest_s); given for another one it is refused, not silently ignored
_REST_PROTOCOLS = ("ocv", "hppc") + DRIVE_CYCLES


class _TooManyRows(ValueError):
    def __init__(self, rows: float):
        super().__init__(f"{rows:.4g} rows")
        self.rows = rows


def _data_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "drive_cycles"


# ----------------------------------------------------------------------------------------------
# Drive cycles
# ----------------------------------------------------------------------------------------------
def drive_cycle_shape(name: str) -> np.ndarray:
    """Normalised 1 s current shape of a drive cycle (positive = discharge, max = 1).

    Element k-1 is the current over (k-1, k] s.  UDDS and US06 (PyBaMM current files, 1 s): the
    interval value is the mean of the two end samples (keeps the charge of PyBaMM's linear
    interpolation).  WLTC (PyBaMM power file, kW, 0.1 s): the trapezoidal 1 s mean power divided by
    a nominal 3.6 V, i.e. a current shape proportional to power.  HWFET: stored 1 s shape derived
    from the Panasonic 18650PF measurement (see data/drive_cycles/README.md).
    """
    name = name.lower()
    d = _data_dir()
    if name in ("udds", "us06"):
        arr = np.loadtxt(d / f"{name.upper()}.csv", delimiter=",", comments="#")
        t, i = arr[:, 0], arr[:, 1]
        if not np.allclose(np.diff(t), 1.0):
            raise ValueError(f"{name}: expected a 1 s profile")
        shape = 0.5 * (i[1:] + i[:-1])
    elif name == "wltc":
        arr = np.loadtxt(d / "WLTC.csv", delimiter=",", comments="#")
        t, p_kW = arr[:, 0], arr[:, 1]
        e = np.r_[0.0, np.cumsum(0.5 * (p_kW[1:] + p_kW[:-1]) * np.diff(t))]
        grid = np.arange(0.0, math.floor(t[-1]) + 1.0)
        shape = np.diff(np.interp(grid, t, e)) * 1000.0 / WLTC_NOMINAL_VOLTAGE_V
    elif name == "hwfet":
        arr = np.loadtxt(d / "HWFET.csv", delimiter=",", comments="#")
        shape = arr[1:, 1]
    else:
        raise ValueError(f"unknown drive cycle {name!r}; choose from {DRIVE_CYCLES}")
    return shape / shape.max()


# ----------------------------------------------------------------------------------------------
# Protocols -> piecewise-constant schedules
# ----------------------------------------------------------------------------------------------
@dataclass
class _Schedule:
    dt_s: float
    current_A: np.ndarray          # current over each grid interval (len = n_intervals)
    settings: dict
    description: str
    upper_cutoff_V: float
    lower_cutoff_V: float


def _resolve_settings(protocol, c_rate, peak_c_rate, repeats, rest_s, sample_period_s,
                      pulse_c_rate, initial_soc):
    p = protocol.lower()
    if p not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if rest_s is not None:
        if p not in _REST_PROTOCOLS:
            raise ValueError(f"--rest-s (rest_s) is not used by protocol {p}; only by {', '.join(_REST_PROTOCOLS)}")
        if not (math.isfinite(float(rest_s)) and float(rest_s) >= 0.0):
            raise ValueError(f"--rest-s (rest_s) must be a finite number of seconds >= 0, got {rest_s!r}")
    if repeats is not None and p not in DRIVE_CYCLES:
        raise ValueError(f"--repeats (repeats) is not used by protocol {p}; only by the drive cycles "
                         f"{', '.join(DRIVE_CYCLES)}")
    if peak_c_rate is not None and p not in DRIVE_CYCLES:
        raise ValueError(f"--peak-c-rate (peak_c_rate) is not used by protocol {p}; only by the drive cycles "
                         f"{', '.join(DRIVE_CYCLES)}; " + ("hppc's pulse C-rate is --pulse-c-rate, its step C-rate "
                                                           "--c-rate" if p == "hppc" else f"{p}'s C-rate is --c-rate"))
    if pulse_c_rate is not None and p != "hppc":
        raise ValueError(f"--pulse-c-rate (pulse_c_rate) is not used by protocol {p}; only by hppc"
                         + ("; a drive cycle's amplitude is --peak-c-rate" if p in DRIVE_CYCLES else ""))
    if c_rate is not None and p in DRIVE_CYCLES:
        raise ValueError(f"--c-rate (c_rate) is not used by protocol {p}; only by cc, ocv, ocv-discharge, "
                         "ocv-charge and hppc; a drive cycle's amplitude is --peak-c-rate")
    s = {"protocol": p}
    if initial_soc is None:
        initial_soc = 0.0 if p == "ocv-charge" else 1.0
    if not (0.0 <= float(initial_soc) <= 1.0):
        raise ValueError(f"initial_soc must be in [0, 1], got {initial_soc!r}")
    s["initial SOC"] = float(initial_soc)
    if p == "cc":
        s["C-rate"] = float(1.0 if c_rate is None else c_rate)
        s["rest before [s]"] = 60.0
    elif p.startswith("ocv"):
        s["C-rate"] = float(0.05 if c_rate is None else c_rate)
        s["rest before [s]"] = 60.0
        if p == "ocv":
            s["rest between [s]"] = float(3600.0 if rest_s is None else rest_s)
    elif p == "hppc":
        s["pulse C-rate"] = float(1.0 if pulse_c_rate is None else pulse_c_rate)
        s["step C-rate"] = float(1.0 if c_rate is None else c_rate)
        s["pulse duration [s]"] = 10.0
        s["pulse rest [s]"] = 40.0
        s["relaxation rest [s]"] = float(3600.0 if rest_s is None else rest_s)
        s["SOC step"] = 0.1
    else:
        s["peak C-rate"] = float(DEFAULT_PEAK_C_RATE[p] if peak_c_rate is None else peak_c_rate)
        s["rest between repeats [s]"] = float(60.0 if rest_s is None else rest_s)
        s["repeats"] = None if repeats is None else int(repeats)
        s["rest before [s]"] = 60.0
        if repeats is not None and int(repeats) < 1:
            raise ValueError(f"--repeats (repeats) must be >= 1, got {repeats!r}")
    for k in ("C-rate", "peak C-rate", "pulse C-rate", "step C-rate"):
        if k in s and not (s[k] > 0 and math.isfinite(s[k])):
            raise ValueError(f"{k} must be > 0, got {s[k]!r}")
    given = {"--sample-period-s": sample_period_s, "--repeats": repeats, "--rest-s": rest_s, "--c-rate": c_rate}
    if sample_period_s is None:
        sample_period_s = 10.0 if p.startswith("ocv") else 1.0
    sample_period_s = float(sample_period_s)
    if not (sample_period_s > 0 and math.isfinite(sample_period_s)):
        raise ValueError(f"--sample-period-s (sample_period_s) must be a finite number of seconds > 0, "
                         f"got {sample_period_s!r}")
    if p in DRIVE_CYCLES and sample_period_s != 1.0:
        raise ValueError("drive cycles are defined on a 1 s grid: --sample-period-s (sample_period_s) must be 1")
    s["sample period [s]"] = sample_period_s
    _check_size(s, given)
    return s


def _check_size(s: dict, given: dict) -> None:
    """Refuse settings whose schedule would exceed MAX_ROWS, naming the options given: the row count does not
    depend on the cell (the durations are in C-rates), so a dry run with a 1 A h cell tells it without PyBaMM."""
    try:
        _build_schedule(dict(s), 1.0, 3.0, 4.2, None, None)
        if s["protocol"] == "ocv":  # the second pass: discharge (at most the first pass), rest, charge
            dt = s["sample period [s]"]
            t_dis = math.ceil(1.5 * 3600.0 / s["C-rate"] * max(s["initial SOC"], 0.05) / dt) * dt
            _build_schedule(dict(s), 1.0, 3.0, 4.2, None, None, discharge_s=t_dis)
    except _TooManyRows as e:
        named = [f"{k} {v:g}" for k, v in given.items() if v is not None]
        raise ValueError(f"protocol {s['protocol']}: the truth would have {e.rows:.3g} rows, over the limit of "
                         f"{MAX_ROWS:,} rows (about a 1 GB CSV)"
                         + (f"; check {', '.join(named)}" if named else "")
                         + ": a longer --sample-period-s, a shorter --rest-s, fewer --repeats or a higher --c-rate"
                         ) from None


def _steps(dt, segments):
    """segments: list of (duration_s, current_A) -> per-interval current array."""
    out = []
    total = sum(dur / dt for dur, _ in segments)  # checked before anything is allocated
    if not total <= MAX_ROWS:
        raise _TooManyRows(total)
    for dur, cur in segments:
        n = int(round(dur / dt))
        if abs(n * dt - dur) > 1e-9 * max(1.0, dur):
            raise ValueError(f"segment duration {dur} s is not a multiple of the sample period {dt} s")
        out.append(np.full(n, float(cur)))
    return np.concatenate(out) if out else np.zeros(0)


def _build_schedule(s, q_nom, v_low, v_high, upper_cutoff_V, lower_cutoff_V, discharge_s=None, q_ref=None):
    p = s["protocol"]
    dt = s["sample period [s]"]
    soc0 = s["initial SOC"]
    lo = v_low if lower_cutoff_V is None else float(lower_cutoff_V)
    if p in ("cc", "ocv-discharge"):
        i = s["C-rate"] * q_nom
        t_max = 1.5 * 3600.0 / s["C-rate"] * max(soc0, 0.05) + 3600.0
        cur = _steps(dt, [(s["rest before [s]"], 0.0), (math.ceil(t_max / dt) * dt, i)])
        desc = (f"rest {s['rest before [s]']:g} s; discharge at {s['C-rate']:g}C ({i:g} A) until the "
                f"lower voltage cut-off {lo:g} V")
        hi = v_high + 0.3 if upper_cutoff_V is None else float(upper_cutoff_V)
        return _Schedule(dt, cur, s, desc, hi, lo)
    if p == "ocv-charge":
        i = s["C-rate"] * q_nom
        t_max = 1.5 * 3600.0 / s["C-rate"] * max(1 - soc0, 0.05) + 3600.0
        cur = _steps(dt, [(s["rest before [s]"], 0.0), (math.ceil(t_max / dt) * dt, -i)])
        hi = v_high if upper_cutoff_V is None else float(upper_cutoff_V)
        desc = (f"rest {s['rest before [s]']:g} s; charge at {s['C-rate']:g}C ({i:g} A) until the "
                f"upper voltage cut-off {hi:g} V")
        return _Schedule(dt, cur, s, desc, hi, lo - 0.3 if lower_cutoff_V is None else lo)
    if p == "ocv":
        i = s["C-rate"] * q_nom
        # +1 mV: the run starts at exactly the parameter set's upper cut-off when initial_soc = 1,
        # which PyBaMM rejects as an event violated at t = 0
        hi = v_high + 0.001 if upper_cutoff_V is None else float(upper_cutoff_V)
        t_chg = 1.5 * 3600.0 / s["C-rate"] + 3600.0
        if discharge_s is None:  # first pass: discharge only, to find the cut-off time
            t_max = 1.5 * 3600.0 / s["C-rate"] * max(soc0, 0.05) + 3600.0
            cur = _steps(dt, [(s["rest before [s]"], 0.0), (math.ceil(t_max / dt) * dt, i)])
        else:
            cur = _steps(dt, [(s["rest before [s]"], 0.0), (discharge_s, i),
                              (s["rest between [s]"], 0.0), (math.ceil(t_chg / dt) * dt, -i)])
        desc = (f"rest {s['rest before [s]']:g} s; discharge at {s['C-rate']:g}C ({i:g} A) until the "
                f"lower cut-off {lo:g} V (stopped at the last sample before it: "
                f"{discharge_s if discharge_s is None else round(discharge_s)} s of discharge); "
                f"rest {s['rest between [s]']:g} s; charge at {s['C-rate']:g}C until the upper cut-off "
                f"{hi:g} V")
        return _Schedule(dt, cur, s, desc, hi, lo)
    if p == "hppc":
        ip = s["pulse C-rate"] * q_nom
        istep = s["step C-rate"] * q_nom
        tp, tr, trel = s["pulse duration [s]"], s["pulse rest [s]"], s["relaxation rest [s]"]
        t_step = s["SOC step"] * 3600.0 / s["step C-rate"]
        if abs(t_step / dt - round(t_step / dt)) > 1e-9:
            raise ValueError(f"hppc: the 10 % step ({t_step} s) is not a multiple of the sample period")
        # each step takes 10 % of the reference capacity (the soc_true scale, docs/truth.md) when it is known: on
        # the nominal scale a set whose nominal capacity is below Q_ref (Marquis2019: 0.68 vs 0.873 A h) put its ten
        # pulse sets at SOC 1.0 .. 0.30, and the fit held its tables flat below (a new-user sweep, 2026-12-07)
        scale = 1.0 if q_ref is None or not q_ref > 0 else float(q_ref) / float(q_nom)
        t_step = round(t_step * scale / dt) * dt
        levels = []
        z = soc0
        while z > 0.1 - 1e-9:
            levels.append(round(z, 6))
            z -= s["SOC step"]
        segs = [(60.0, 0.0)]
        for k, z in enumerate(levels):
            segs += [(tp, ip), (tr, 0.0), (tp, -ip), (tr, 0.0)]
            if k < len(levels) - 1:
                segs += [(t_step, istep), (trel, 0.0)]
        segs.append((math.ceil((1.5 * 3600.0 / s["step C-rate"] * 0.2 + 600) / dt) * dt, istep))
        cur = _steps(dt, segs)
        s["pulse SOC levels"] = levels
        hi = v_high + 0.5 if upper_cutoff_V is None else float(upper_cutoff_V)
        desc = (f"rest 60 s; then at each SOC level {', '.join(f'{100 * z:g} %' for z in levels)}: "
                f"discharge pulse {s['pulse C-rate']:g}C ({ip:g} A) for {tp:g} s, rest {tr:g} s, charge "
                f"pulse {s['pulse C-rate']:g}C for {tp:g} s, rest {tr:g} s; between levels discharge "
                f"{100 * s['SOC step']:g} % of the {'nominal' if scale == 1.0 else 'reference'} capacity at "
                f"{s['step C-rate']:g}C of the nominal ({t_step:g} s) "
                f"then rest {trel:g} s; after the last pulse set discharge at {s['step C-rate']:g}C until "
                f"the lower cut-off {lo:g} V. Upper cut-off raised to {hi:g} V for the charge pulses.")
        return _Schedule(dt, cur, s, desc, hi, lo)
    # drive cycles
    shape = drive_cycle_shape(p)
    peak = s["peak C-rate"] * q_nom
    cyc = shape * peak
    rest = s["rest between repeats [s]"]
    if s["repeats"] is None:
        ah_per = cyc.sum() / 3600.0
        n_rep = int(math.ceil(1.5 * q_nom * max(soc0, 0.05) / ah_per)) + 1
    else:
        n_rep = s["repeats"]
    rows = s["rest before [s]"] + n_rep * (len(cyc) + rest)
    if not rows <= MAX_ROWS:
        raise _TooManyRows(rows)
    parts = [np.zeros(int(round(s["rest before [s]"])))]
    for _ in range(n_rep):
        parts += [cyc, np.zeros(int(round(rest)))]
    cur = np.concatenate(parts)
    hi = v_high + 0.3 if upper_cutoff_V is None else float(upper_cutoff_V)
    s["cycle duration [s]"] = float(len(cyc))
    s["cycle mean current [A]"] = float(cyc.mean())
    s["peak current [A]"] = float(peak)
    s["peak regen current [A]"] = float(-cyc.min())
    rep_txt = "until the lower voltage cut-off" if s["repeats"] is None else f"{n_rep} times (or until the lower cut-off)"
    desc = (f"rest {s['rest before [s]']:g} s; then the {p.upper()} current shape ({len(cyc)} s, 1 s "
            f"piecewise constant) scaled to a peak discharge current of {s['peak C-rate']:g}C = {peak:g} A "
            f"(mean {cyc.mean():.4g} A, peak regen {-cyc.min():.4g} A) followed by {rest:g} s rest, repeated "
            f"{rep_txt} {lo:g} V. Upper cut-off raised to {hi:g} V so regen near full charge does not stop "
            f"the run.")
    return _Schedule(dt, cur, s, desc, hi, lo)
