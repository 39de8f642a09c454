"""Two field-log defects of `cellsense replay` (docs/replay.md, "Input checks", "Stuck sensors"): a stuck sensor (a
cell voltage, the current, a temperature repeating one value while the current says a live sensor would move) was
fused silently; a burst of frames whose timestamps jumped ahead of a CAN capture's clock re-anchored the later good
frames forward instead of being dropped."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from cellsense.cli import main
from cellsense.pack import PackEstimator, PackLog, load_pack, pack_from_dict, status_names
from cellsense.replay.readers import read_log
from cellsense.replay.stuck import R_FLOOR_OHM, STUCK_MIN_LSB, check_stuck

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
DBC = FIX / "sim12s.dbc"
KONA = Path(__file__).resolve().parents[3] / "python" / "cellsense" / "data" / "kona_ev_can"


def _table() -> tuple[list[str], np.ndarray]:
    lines = gzip.open(FIX / "sim12s.csv.gz", "rt").read().splitlines()
    return lines[0].split(","), np.array([[float(x) for x in ln.split(",")] for ln in lines[1:]])


def _write(path: Path, header: list[str], a: np.ndarray) -> Path:
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(f"{x:.6g}" for x in row) for row in a) + "\n")
    return path


def _drive_span(a: np.ndarray, header: list[str], length_s: float = 60.0) -> tuple[int, int]:
    """Rows of a `length_s` stretch in the first drive where the current spans the most amps."""
    t, i = a[:, header.index("time_s")], a[:, header.index("pack_current_A")]
    best = (0, 0, -1.0)
    for r0 in range(0, len(t) - 70, 10):
        r1 = int(np.searchsorted(t, t[r0] + length_s))
        if r1 < len(t) and t[r1] - t[r0] <= length_s + 1 and np.ptp(i[r0:r1 + 1]) > best[2]:
            best = (r0, r1, float(np.ptp(i[r0:r1 + 1])))
    return best[0], best[1]


# ---- stuck cell voltage -----------------------------------------------------------------------------------------------
def test_a_stuck_cell_voltage_under_a_changing_current_is_named_and_not_fused(tmp_path, capsys):
    """cell05_V frozen at one reading for 60 s of the drive (the current spans several amps there): the warning names
    the signal, the cell and the span; that cell's steps there are rejected (not fused), the other cells fuse."""
    header, a = _table()
    r0, r1 = _drive_span(a, header)
    col = header.index("cell05_V")
    a[r0:r1 + 1, col] = a[r0, col]
    p = _write(tmp_path / "stuck.csv", header, a)
    spec = load_pack(FIX / "sim12s.pack.json")
    log = read_log(p, spec)
    stuck = [n for n in log.notes if n.startswith("stuck sensor")]
    assert len(stuck) == 1
    t0, t1 = a[r0, 0], a[r1, 0]
    assert f"cell 5's voltage cell05_V" in stuck[0] and f"t = {t0:.1f}..{t1:.1f} s" in stuck[0]
    assert np.isnan(log.voltage_V[r0 + 1:r1 + 1, 4]).all() and np.isfinite(log.voltage_V[r0, 4])
    assert np.isfinite(log.voltage_V[r0:r1 + 1, [3, 5]]).all()
    assert log.counts["stuck_samples"] == r1 - r0
    run = PackEstimator(spec).run(log)
    status = np.asarray(run.status)
    from_names = {v: k for k, v in status_names().items()}
    assert (status[r0 + 1:r1 + 1, 4] == from_names["predicted_only"]).all()  # the charge counted (CS-PACK-008)
    assert (status[r0 + 1:r1 + 1, 3] != from_names["predicted_only"]).all()
    rc = main(["replay", "--target", "host", "--quiet", "--no-plots", "--log", str(p), "--pack",
               str(FIX / "sim12s.pack.json"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 0 and "stuck sensor: cell 5's voltage cell05_V" in err and str(p) in err
    assert "stuck sensor: cell 5's voltage cell05_V" in (tmp_path / "o" / "report.md").read_text()


def test_a_repeated_voltage_at_rest_or_coarsely_quantised_is_not_stuck(tmp_path):
    """Quantised signals repeat at rest: a cell held at one reading through the opening rest (current within a few
    tens of mA), and every voltage rounded to 5 mV and the current to 0.1 A (long repeats in the drive, but a live
    cell moves under 4 steps for the fixture's 10 A swings at 0.5 mOhm), give no stuck warning and no NaN."""
    header, a = _table()
    rest = a[:, 0] <= 20.0
    assert np.ptp(a[rest, 1]) < 0.2
    a1 = a.copy()
    a1[rest, header.index("cell03_V")] = a1[0, header.index("cell03_V")]
    a2 = a.copy()
    a2[:, 4:] = np.round(a2[:, 4:] / 0.005) * 0.005
    a2[:, 1] = np.round(a2[:, 1], 1)
    spec = load_pack(FIX / "sim12s.pack.json")
    for name, arr in (("rest", a1), ("coarse", a2)):
        log = read_log(_write(tmp_path / f"{name}.csv", header, arr), spec)
        assert not [n for n in log.notes if "stuck" in n] and "stuck_samples" not in log.counts, name
        assert np.isfinite(log.voltage_V).all(), name
    # the rule's own threshold on the coarse log: the swings are below STUCK_MIN_LSB steps at R_FLOOR_OHM
    assert R_FLOOR_OHM * np.ptp(a2[:, 1]) < STUCK_MIN_LSB * 0.005


def test_the_real_kona_capture_has_no_stuck_warning():
    spec = load_pack(KONA / "kona.pack.json")
    log = read_log(KONA / "230112-7-2019-pcan-ccan-power-off-on-ready-off.csv.gz", spec, dbc=KONA / "pcan.dbc")
    assert not [n for n in log.notes if "stuck" in n] and np.isfinite(log.voltage_V).all()


def test_a_stuck_current_under_swinging_cell_voltages_is_named(tmp_path):
    """pack_current_A frozen for 60 s of the drive while the cells' voltages swing up and down: a warning naming the
    signal and the span; the same 60 s at rest (the cells drift, no swing) is not one."""
    header, a = _table()
    r0, r1 = _drive_span(a, header)
    a[r0:r1 + 1, 1] = a[r0, 1]
    spec = load_pack(FIX / "sim12s.pack.json")
    log = read_log(_write(tmp_path / "stuck_i.csv", header, a), spec)
    stuck = [n for n in log.notes if n.startswith("stuck sensor: the current pack_current_A")]
    assert len(stuck) == 1 and f"t = {a[r0, 0]:.1f}..{a[r1, 0]:.1f} s" in stuck[0]
    header, b = _table()
    rest = b[:, 0] <= 20.0
    b[rest, 1] = 0.02
    assert not [n for n in read_log(_write(tmp_path / "rest_i.csv", header, b), spec).notes if "stuck" in n]


def test_a_stuck_temperature_beside_moving_sensors_is_named():
    spec = pack_from_dict({"cellsense pack file": 1, "topology": {"series": 2}, "cell": "chen2020",
                           "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": ["T1", "T2", "T3"],
                           "time": "t"}, source="p.json")
    n = 1201
    t = np.arange(n, dtype=float)
    warm = 25.0 + np.round(10.0 * t / t[-1], 1)  # the pack warms 10 K over 20 min
    temps = np.column_stack([warm, np.full(n, 25.0), warm + 0.5])
    volts = np.full((n, 2), 3.7) + 1e-4 * (np.arange(n) % 7)[:, None]
    log = check_stuck(spec, PackLog(t, np.full(n, 1.0) + 0.1 * (t % 3), volts, temps))
    stuck = [x for x in log.notes if "stuck" in x]
    assert len(stuck) == 1 and "the temperature T2 repeats 25.00 degC" in stuck[0] and "t = 0.0..1200.0 s" in stuck[0]
    log = check_stuck(spec, PackLog(t, np.full(n, 1.0) + 0.1 * (t % 3), volts, temps[:, [0, 2, 0]]))
    assert not [x for x in log.notes if "stuck" in x]


# ---- a burst of frames ahead of a CAN capture's clock -----------------------------------------------------------------
def _candump_lines() -> list[str]:
    return gzip.open(FIX / "sim12s.log.gz", "rt").read().splitlines()


def _shift(lines: list[str], start: int, by: float, stop: int | None = None) -> list[str]:
    out = []
    for k, ln in enumerate(lines):
        m = re.match(r"\((\S+)\)(.*)", ln)
        moved = start <= k < (stop if stop is not None else len(lines))
        out.append(f"({float(m.group(1)) + by:.6f}){m.group(2)}" if moved else ln)
    return out


def test_a_burst_ahead_of_the_clock_is_dropped_not_re_anchored(tmp_path, capsys):
    """12 frames (lines 3001-3012) 800 s ahead, then the capture continues its own clock: the burst is the outlier,
    dropped and counted; before, the frames after it were re-anchored 800 s forward (a fake 800 s stop: the log ran
    800 s longer and the estimator rested through it)."""
    spec = load_pack(FIX / "sim12s_can.pack.json")
    clean = read_log(FIX / "sim12s.log.gz", spec, dbc=DBC)
    p = tmp_path / "burst.log"
    p.write_text("\n".join(_shift(_candump_lines(), 3000, 800.0, 3012)) + "\n")
    log = read_log(p, spec, dbc=DBC)
    assert "timestamps_reanchored" not in log.counts and log.counts["frames_dropped_clock_glitch"] == 12
    assert len(log.notes) == 2 and re.match(r"line 3001: the capture's clock jumps ahead 800\.\d+ s on bus 0 .* for 12 "
                                            r"frame\(s\), then line 3013 continues .* dropped as a glitch", log.notes[0])
    # the dropped frames leave the bus silent there: reported with its time and length (gaps.silence_note)
    assert log.notes[1].startswith("bus silences: 1 ") and "at t = 1348.0 s (4 s)" in log.notes[1]
    assert abs(log.time_s[-1] - clean.time_s[-1]) < 1.0 and abs(len(log) - len(clean)) <= 1
    est = PackEstimator(spec)
    assert np.max(np.abs(est.run(log).soc[-1].astype(float) - est.run(clean).soc[-1].astype(float))) < 2e-3
    rc = main(["replay", "--target", "host", "--quiet", "--no-plots", "--log", str(p), "--pack",
               str(FIX / "sim12s_can.pack.json"), "--dbc", str(DBC), "--out", str(tmp_path / "o")])
    assert rc == 0 and "line 3001: the capture's clock jumps ahead" in capsys.readouterr().err


def test_a_jump_ahead_that_the_log_stays_at_is_a_real_clock_jump(tmp_path):
    """The same jump with every later frame at the new time: a real jump (a gap), nothing dropped or re-anchored; and a
    burst ahead followed by a step back behind the pre-burst clock (the clock restarted) is re-anchored as before."""
    spec = load_pack(FIX / "sim12s_can.pack.json")
    clean = read_log(FIX / "sim12s.log.gz", spec, dbc=DBC)
    p = tmp_path / "stays.log"
    p.write_text("\n".join(_shift(_candump_lines(), 3000, 800.0)) + "\n")
    log = read_log(p, spec, dbc=DBC)
    assert not log.notes and "frames_dropped_clock_glitch" not in log.counts
    assert abs(log.time_s[-1] - (clean.time_s[-1] + 800.0)) < 1.0
    lines = _shift(_shift(_candump_lines(), 3000, 800.0, 3012), 3012, -1000.0)  # burst, then the clock 1000 s back
    q = tmp_path / "restart.log"
    q.write_text("\n".join(lines) + "\n")
    log = read_log(q, spec, dbc=DBC)
    assert log.counts["timestamps_reanchored"] == 1 and "frames_dropped_clock_glitch" not in log.counts
    assert "re-anchored" in log.notes[0]


def test_a_constant_voltage_charge_is_not_a_stuck_sensor():
    """A charger's constant-voltage phase holds the voltage while the current tapers (-20 -> -2 A: 9 mV at 0.5 mOhm,
    9 steps of 1 mV): not stuck. The same held voltage under a discharge that swings as much is."""
    spec = pack_from_dict({"cellsense pack file": 1, "topology": {"series": 1}, "cell": "chen2020",
                           "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": "T", "time": "t"},
                          source="p.json")
    t = np.arange(100, dtype=float)
    v = np.where(t < 40, np.round(4.15 + 0.05 * t / 40, 3), 4.2)[:, None]
    taper = np.where(t < 40, -20.0, np.round(-20.0 + 18.0 * (t - 40) / 59, 1))
    log = check_stuck(spec, PackLog(t, taper, v, np.full((100, 1), 25.0)))
    assert not log.notes and np.isfinite(log.voltage_V).all()
    swing = np.where(t < 40, 5.0, np.round(10.0 + 8.0 * np.sin(t / 3.0), 1))
    log = check_stuck(spec, PackLog(t, swing, v, np.full((100, 1), 25.0)))
    assert len(log.notes) == 1 and "cell 1's voltage v1 repeats 4.2000 V exactly over t = 40.0..99.0 s" in log.notes[0]
