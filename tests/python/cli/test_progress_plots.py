"""Issue #14, what is left of a newcomer's first hour: progress lines with an ETA on long runs (and silence on
short ones and with the quiet options), fit() taking arrays and log objects as well as paths (errors naming
the argument), `cellsense fit --plot`, and the replay plot (cell labels, a title, gaps shaded)."""
from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from cellsense._io import Progress
from cellsense.cli import main


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------------------------
# the progress line
# ---------------------------------------------------------------------------------------------------------
def test_progress_counts_with_eta_and_is_silent_when_short():
    clock, lines = _Clock(), []
    p = Progress("work", total=100, unit="items", emit=lines.append, clock=clock, delay_s=2.0, interval_s=10.0)
    clock.t = 1.0
    p.update(10)
    assert lines == []  # within the first 2 s: nothing
    clock.t = 5.0
    p.update(15)  # 25 of 100 in 5 s: 15 s left at that rate
    assert lines == ["work: 25 % (25/100 items), 5 s elapsed, ETA 15 s"]
    clock.t = 9.0
    p.update(25)
    assert len(lines) == 1  # not again before interval_s
    clock.t = 16.0
    p.update(25)  # 75 in 16 s
    assert lines[-1] == "work: 75 % (75/100 items), 16 s elapsed, ETA 5 s"
    clock.t = 90.0
    p.close()
    assert lines[-1] == "work: done in 1 min 30 s"
    short, quiet = [], []
    q = Progress("short", total=3, emit=short.append, clock=clock)
    q.update(3)
    q.close()
    assert short == []  # a run that never got past the delay shows nothing, not even "done"
    r = Progress("quiet", total=3, emit=quiet.append, clock=clock, enabled=False)
    clock.t += 100
    r.update(1)
    r.close()
    assert quiet == []


def test_progress_of_an_opaque_step_without_a_typical_time_says_only_the_time():
    """A PyBaMM solve of a set with no typical time (Ecker2015) printed 'solving: 0, 2 min 53 s elapsed'."""
    clock = _Clock()
    lines = []
    p = Progress("solving", emit=lines.append, clock=clock, done_line=False)
    clock.t = 173.0
    p.tick()
    assert lines == ["solving: 2 min 53 s elapsed"]


def test_progress_expected_duration_and_terminal_rewrite():
    clock = _Clock()
    out = _Tty()
    p = Progress("solve", expected_s=240.0, stream=out, clock=clock, done_line=False)
    clock.t = 60.0
    p.tick()
    assert out.getvalue() == "\rsolve: 1 min 00 s elapsed, typically 4 min 00 s: ETA 3 min 00 s"
    clock.t = 300.0
    p.tick()
    # rewritten in place, padded over the longer line before it
    assert out.getvalue().endswith("\rsolve: 5 min 00 s elapsed, longer than the typical 4 min 00 s  ")
    p.close()
    assert out.getvalue().endswith("\n") and "done in" not in out.getvalue()  # done_line=False: the line is ended


def test_progress_ticking_thread_reports_during_a_blocking_call():
    import time

    lines = []
    with Progress("block", expected_s=10.0, emit=lines.append, delay_s=0.05, interval_s=0.05).ticking(period_s=0.02):
        time.sleep(0.4)
    assert any("elapsed, typically 10 s: ETA" in ln for ln in lines), lines
    assert lines[-1].startswith("block: done in")


# ---------------------------------------------------------------------------------------------------------
# fit(): arrays, log objects, paths; errors naming the argument; progress; --plot
# ---------------------------------------------------------------------------------------------------------
Q = 4.0


def _cell():
    soc = np.linspace(0.0, 1.0, 101)
    tab = lambda x: [[x] * len(soc) for _ in range(2)]  # noqa: E731
    ocv = (3.4 + 0.7 * soc + 0.08 * np.sin(3 * soc) - 0.2 * np.exp(-soc / 0.05)).tolist()
    p = {"Nominal cell capacity [A.h]": Q, "Coulombic efficiency": 1.0, "SOC breakpoints": soc.tolist(),
         "Temperature breakpoints [degC]": [5.0, 30.0], "Open-circuit voltage [V]": [ocv, ocv],
         "R0 [Ohm]": [[0.04] * len(soc), [0.02] * len(soc)], "R1 [Ohm]": tab(0.01), "tau1 [s]": tab(8.0),
         "R2 [Ohm]": tab(0.015), "tau2 [s]": tab(500.0), "Hysteresis maximum [V]": tab(0.0),
         "Instantaneous hysteresis [V]": tab(0.0), "Hysteresis rate constant": 10.0,
         "Lower voltage cut-off [V]": 2.5, "Upper voltage cut-off [V]": 4.2}
    return {"cellsense cell file": 1, "name": "truth", "placeholder": False, "model": "ecm", "RC pairs": 2,
            "parameters": p}


@pytest.fixture(scope="module")
def logs():
    """An OCV test and HPPC tests at 5 and 30 degC from a known ECM, as (time, current, voltage, T, soc) arrays."""
    pytest.importorskip("scipy")
    from cellsense.fit import ecm_simulate
    from cellsense.truth.schedules import _build_schedule, _resolve_settings

    cell = _cell()

    def log(current, dt, T):
        t = np.arange(len(current) + 1) * dt
        i = np.r_[0.0, current]
        sim = ecm_simulate(cell, t, i, T, initial_soc=1.0)
        return np.column_stack([t, i, sim["voltage_V"], np.full(len(t), T), sim["soc"]])

    n = int(20 * 3600 / 10)
    ocv = log(np.r_[np.zeros(6), np.full(n, Q / 20), np.zeros(360), np.full(n - 30, -Q / 20)], 10.0, 25.0)
    sched = _build_schedule(_resolve_settings("hppc", None, None, None, None, None, None, None), Q, 2.5, 4.2, None, None)
    cur = sched.current_A[:int(np.argmax(np.cumsum(sched.current_A) / 3600.0 > 0.95 * Q))]
    return {"ocv": ocv, "hppc": [log(cur, 1.0, 5.0), log(cur, 1.0, 30.0)]}


def _same_fit(a, b):
    pa, pb = a["parameters"], b["parameters"]
    for k in ("Nominal cell capacity [A.h]", "Open-circuit voltage [V]", "R0 [Ohm]", "R1 [Ohm]", "tau2 [s]"):
        assert np.allclose(np.asarray(pa[k], float), np.asarray(pb[k], float), rtol=1e-9, atol=0), k
    assert [r["voltage RMSE [mV]"] for r in a["fit residuals"].values()] == \
        [r["voltage RMSE [mV]"] for r in b["fit residuals"].values()]


def test_fit_takes_arrays_log_objects_and_paths_alike(logs, tmp_path):
    from cellsense.fit import fit
    from cellsense.io.logs import CellLog, read_cell_log
    from cellsense.truth.result import SimResult

    paths = []
    for name, a in [("ocv.csv", logs["ocv"]), ("hppc_5.csv", logs["hppc"][0]), ("hppc_30.csv", logs["hppc"][1])]:
        SimResult(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], {}).to_csv(tmp_path / name, sidecar=False)
        paths.append(tmp_path / name)
    ref = fit(paths[0], paths[1:], rc_pairs=2)
    # plain arrays (4 columns: no soc_true, so the capacity comes from the C/20 branch: give it)
    arr = fit(logs["ocv"], logs["hppc"], rc_pairs=2, capacity_Ah=ref["parameters"]["Nominal cell capacity [A.h]"])
    _same_fit(ref, arr)
    assert set(arr["fit residuals"]) == {"ocv_csv", "hppc_csvs[0]", "hppc_csvs[1]"}
    assert "hppc_csvs[0] (5 degC)" in arr["description"]
    # log objects: read_cell_log's CellLog (named by its file) and SimResult; a dict of columns
    objs = [read_cell_log(p) for p in paths]
    lo = fit(objs[0], objs[1:], rc_pairs=2)
    _same_fit(ref, lo)
    assert set(lo["fit residuals"]) == {"ocv.csv", "hppc_5.csv", "hppc_30.csv"}
    sims = [SimResult(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], {}) for a in (logs["ocv"], *logs["hppc"])]
    _same_fit(ref, fit(sims[0], sims[1:], rc_pairs=2))
    cols = ("time_s", "current_A", "voltage_V", "temperature_degC", "soc_true")
    as_dict = [{c: a[:, j] for j, c in enumerate(cols)} for a in (logs["ocv"], *logs["hppc"])]
    _same_fit(ref, fit(as_dict[0], as_dict[1:], rc_pairs=2))
    # one HPPC log given alone (not in a list)
    one = fit(CellLog(*(logs["ocv"][:, j] for j in range(5))), logs["hppc"][1], rc_pairs=1)
    assert one["parameters"]["Temperature breakpoints [degC]"] == [30.0]


@pytest.mark.parametrize("bad,match", [
    ("hppc", r"hppc_csvs\[1\]: an array must be n x 4 or n x 5"),
    ("nan", r"hppc_csvs\[0\]: row 7: non-finite voltage_V"),
    ("time", r"ocv_csv: row 3: time_s not strictly increasing"),
    ("type", r"hppc_csvs\[0\]: expected a cell-log CSV path, a cell log"),
    ("path", r"hppc_csvs\[1\]: .*no_such\.csv: file not found"),
    ("columns", r"ocv_csv: mapping lacks column\(s\) \['voltage_V'\]"),
    ("length", r"hppc_csvs\[0\]: column voltage_V has 5 values, time_s has"),
])
def test_fit_errors_name_the_argument(logs, bad, match):
    from cellsense.fit import fit

    ocv, h0, h1 = logs["ocv"], logs["hppc"][0], logs["hppc"][1]
    if bad == "hppc":
        args = (ocv, [h0, h1[:, :3]])
    elif bad == "nan":
        h = h0.copy()
        h[7, 2] = np.nan
        args = (ocv, [h, h1])
    elif bad == "time":
        o = ocv.copy()
        o[3, 0] = o[2, 0]
        args = (o, [h0])
    elif bad == "type":
        args = (ocv, [42])
    elif bad == "path":
        args = (ocv, [h0, "no_such.csv"])
    elif bad == "columns":
        args = ({"time_s": ocv[:, 0], "current_A": ocv[:, 1], "temperature_degC": ocv[:, 3]}, [h0])
    else:
        args = (ocv, [{"time_s": h0[:, 0], "current_A": h0[:, 1], "voltage_V": h0[:5, 2], "temperature_degC": 25.0}])
    with pytest.raises((ValueError, TypeError), match=match):
        fit(*args)


def test_fit_progress_lines(logs):
    from cellsense.fit import fit

    lines = []
    # delay 0 is not reachable from fit(): a callable gets the lines once the fit ran past 2 s, so patch the clock
    import cellsense._io as io_mod

    real = io_mod.Progress.__init__

    def fast(self, *a, **k):
        k.update(delay_s=0.0, interval_s=0.0)
        real(self, *a, **k)

    io_mod.Progress.__init__ = fast
    try:
        fit(logs["ocv"], logs["hppc"], rc_pairs=1, capacity_Ah=Q, progress=lines.append)
    finally:
        io_mod.Progress.__init__ = real
    assert lines[0].startswith("fit: HPPC pulse sets: ") and "ETA" in lines[0]
    import re

    # 10 pulse sets x 2 files, fitted once, or twice when the OCV branches show a hysteresis: ends at 100 %
    m = re.match(r"fit: HPPC pulse sets: 100 % \((\d+)/(\d+) fitted\)", lines[-2])
    assert m and m.group(1) == m.group(2) and int(m.group(1)) in (20, 40), lines[-2]
    assert lines[-1].startswith("fit: HPPC pulse sets: done in")


def test_fit_cli_plot(logs, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from cellsense.truth.result import SimResult

    names = []
    for name, a in [("ocv.csv", logs["ocv"]), ("hppc_5.csv", logs["hppc"][0]), ("hppc_30.csv", logs["hppc"][1])]:
        SimResult(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], {}).to_csv(tmp_path / name, sidecar=False)
        names.append(str(tmp_path / name))
    png = tmp_path / "fit.png"
    rc = main(["fit", "--ocv", names[0], "--hppc", names[1], "--hppc", names[2], "--out", str(tmp_path / "c.json"),
               "--plot", str(png), "--quiet"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    assert f"wrote {png}" in cap.out and cap.err == ""  # --quiet: no progress line


def test_fit_cli_plot_without_matplotlib(tmp_path, monkeypatch, capsys):
    for m in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, m)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    import cellsense.fit.cli as fitmod  # the fit the command calls

    monkeypatch.setattr(fitmod, "fit", lambda *a, **k: pytest.fail("fit ran without matplotlib"))
    rc = main(["fit", "--ocv", "o.csv", "--hppc", "h.csv", "--out", str(tmp_path / "c.json"), "--plot",
               str(tmp_path / "p.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0]
    assert "matplotlib" in err[0] and "pip install 'cellsense[fit]'" in err[0]
    assert not (tmp_path / "c.json").exists() and not (tmp_path / "p.png").exists()


# ---------------------------------------------------------------------------------------------------------
# the replay plot and replay progress
# ---------------------------------------------------------------------------------------------------------
def _pack(tmp_path, cells=3):
    from cellsense.pack import PackLog, pack_from_dict
    from cellsense.cells.ecm_reference import simulate_ecm

    spec = pack_from_dict({"cellsense pack file": 1, "name": "test pack", "topology": {"series": cells},
                           "cell": "chen2020", "voltage": {"pattern": "V_cell{index}"}, "current": "i",
                           "temperature": "T", "time": "t"})
    t = np.r_[np.arange(0.0, 600.0), np.arange(4200.0, 4800.0)]  # a 1 h gap (logger off)
    i = np.where((t // 60) % 2 == 0, 5.0, 0.0)
    i[600] = 0.0  # the first sample after the gap: the cell rested while the logger was off
    sim = simulate_ecm(spec.cell, t, i, 25.0, initial_soc=0.9)
    V = sim["voltage_V"][:, None] + 0.001 * np.arange(cells)[None, :]
    return spec, PackLog(t, i, V, np.full((len(t), 1), 25.0), None, str(tmp_path / "pack_log.csv"))


def test_replay_plot_labels_title_and_gaps(tmp_path):
    pytest.importorskip("matplotlib")
    from cellsense.pack import PackEstimator
    from cellsense.replay import report, targets

    spec, log = _pack(tmp_path)
    assert report.log_gaps(log.time_s, spec.gaps.gap_s) == [(599.0, 4200.0)]
    est = PackEstimator(spec, dtype="float32")
    host = targets.run_host(est, log, est.initial_soc(log))
    import matplotlib.pyplot as plt

    saved = {}
    real_savefig = plt.Figure.savefig

    def spy(fig, path, *a, **k):
        saved["title"] = fig._suptitle.get_text()
        saved["labels"] = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        saved["spans"] = sum(1 for ax in fig.axes for p in ax.patches if p.get_alpha() == 0.3)
        saved["breaks"] = [int(np.isnan(np.asarray(ln.get_xdata(), float)).sum()) for ax in fig.axes for ln in ax.lines
                           if len(ln.get_xdata()) > 2]
        return real_savefig(fig, path, *a, **k)

    plt.Figure.savefig = spy
    try:
        files = report.write(tmp_path / "out", report.compare(spec, log, host, None), log, host, None, spec=spec)
    finally:
        plt.Figure.savefig = real_savefig
    png = tmp_path / "out" / "soc.png"
    assert png in files and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert saved["title"] == "pack_log.csv: pack test pack, 3 cells, 1,200 samples, target host only, 1 gap shaded"
    assert {"V_cell1", "V_cell2", "V_cell3", "pack usable SOC (host)", "gap in the log (> 30 s)"} <= set(saved["labels"])
    assert saved["spans"] == 2  # the gap, shaded on both axes
    assert saved["breaks"] and set(saved["breaks"]) == {1}  # every line broken at the gap, none drawn across it


def test_replay_device_progress_and_quiet(tmp_path, monkeypatch):
    """run_device shows frames done with an ETA (through a simulated device on a virtual CAN bus), nothing with
    progress=False (the CLI's --quiet)."""
    can = pytest.importorskip("can")
    import time

    from cellsense.pack import PackEstimator, PackLog
    from cellsense.replay import targets
    from cellsense.replay.device_sim import SimDevice
    from cellsense.replay.link import CanLink

    spec, full = _pack(tmp_path)
    n = 150
    log = PackLog(full.time_s[:n], full.current_A[:n], full.voltage_V[:n], full.temperature_degC[:n], None, full.source)
    est = PackEstimator(spec, dtype="float32")
    shown = []

    class FastProgress(Progress):  # no 2 s delay, no 10 s interval: every frame would show
        def __init__(self, what, total=None, unit="", **k):
            super().__init__(what, total=total, unit=unit, emit=shown.append, delay_s=0.0, interval_s=0.0)

    monkeypatch.setattr(targets, "Progress", FastProgress)  # the name run_device uses (imported at module level)
    for progress in (True, False):
        shown.clear()
        chan = f"cellsense-progress-{time.monotonic_ns()}"
        dev_bus = can.Bus(interface="virtual", channel=chan)
        dev = SimDevice(CanLink(bus=dev_bus, tx_id=0x7A1, rx_id=0x7A0)).start()
        try:
            run = targets.run_device(est, log, est.initial_soc(log), CanLink(interface="virtual", channel=chan),
                                     "can:virtual", timeout_s=0.5, retries=2, progress=progress)
        finally:
            dev.stop()
            dev_bus.shutdown()
        assert run.error is None and run.completed == n
        if progress:
            assert shown[0].startswith("replay -> can:virtual: 1 % (1/150 frames), ") and "ETA" in shown[0]
            assert shown[-2].startswith("replay -> can:virtual: 100 % (150/150 frames)")
            assert shown[-1].startswith("replay -> can:virtual: done in")
        else:
            assert shown == []


# ---------------------------------------------------------------------------------------------------------
# a PyBaMM solve (stubbed: no real solve here) and a firmware build show progress with an ETA
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def fast_progress(monkeypatch):
    """Progress without the 2 s delay and the 10-30 s interval (every update shows)."""
    import cellsense._io as io_mod

    real = io_mod.Progress.__init__

    def fast(self, *a, **k):
        k.update(delay_s=0.0, interval_s=0.0)
        real(self, *a, **k)

    monkeypatch.setattr(io_mod.Progress, "__init__", fast)


def test_simulate_solve_shows_elapsed_and_eta(monkeypatch, tmp_path, fast_progress):
    import time

    import cellsense.truth.simulate as sim
    import cellsense.truth.solver as solver

    def slow_solve(cell, model_name, T_degC, soc0, sched, quiet=True):
        time.sleep(1.2)  # the ticking thread looks every 0.5 s
        n = 20
        t = np.arange(n, dtype=float)
        i = np.r_[0.0, np.full(n - 1, 5.0)]
        q = np.r_[0.0, np.cumsum(i[1:]) / 3600.0]
        return dict(time_s=t, current_A=i, voltage_V=4.1 - 0.01 * q, temperature_degC=np.full(n, T_degC),
                    discharge_Ah=q, termination="final time", solve_s=1.2, q_nom=5.0, pybamm_version="stub")

    monkeypatch.setattr(sim, "require", lambda *a, **k: None)
    monkeypatch.setattr(sim, "_cell_info", lambda cell: (5.0, 2.5, 4.2, "stub"))
    monkeypatch.setattr(solver, "reference_capacity", lambda cell: (5.153, "stub"))  # Q_ref of soc_true
    monkeypatch.setattr(sim, "_pybamm_solve", slow_solve)
    lines = []
    sim.simulate(protocol="us06", repeats=2, cache_dir=tmp_path, progress=lines.append)
    ticks = [ln for ln in lines if ": solving: " in ln]
    assert ticks and "elapsed, typically 2 min 33 s: ETA 2 min 3" in ticks[0], lines  # TYPICAL_SOLVE_S DFN us06
    assert "SPMe is ~9x faster" in lines[0] and "--physics spme" in lines[0]  # how to get an SPMe truth
    assert lines[-1].startswith("simulate: Chen2020 DFN (lumped thermal), us06 at 25 degC: solved in")
    lines.clear()
    sim.simulate(protocol="us06", repeats=3, cache_dir=tmp_path, quiet=True)  # quiet, no callable: nothing anywhere
    assert lines == []


def test_firmware_build_progress(monkeypatch, tmp_path, fast_progress, capsys):
    """mcu.build reads the build's own [k/N] lines into a progress line with an ETA; quiet=True: none; a failed
    build is an McuBenchError with the output's tail."""
    import cellsense.mcu.firmware as mcu

    fake = tmp_path / "cmake"
    fake.write_text("#!/bin/sh\nfor k in 1 2 3 4; do echo \"[$k/4] Building C object step$k.o\"; sleep 0.05; done\n"
                    "[ -n \"$FAIL\" ] && { echo 'error: boom'; exit 1; }\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setattr(mcu, "_require", lambda tool: str(fake))
    bdir = tmp_path / "mcu"
    bdir.mkdir()
    (bdir / "CMakeCache.txt").write_text("")
    mcu.build(bdir, tmp_path)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("firmware build (mcu): 25 % (1/4 steps), ") and "ETA" in err[0]
    assert err[-2].startswith("firmware build (mcu): 100 % (4/4 steps)") and err[-1].startswith("firmware build (mcu): done in")
    mcu.build(bdir, tmp_path, quiet=True)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(mcu.McuBenchError, match="error: boom"):
        mcu.build(bdir, tmp_path, quiet=True)


def test_can_log_decoding_progress(fast_progress, capsys):
    """Decoding a CAN log shows the frames decoded with an ETA (progress=True, the CLI unless --quiet); the same
    log; nothing by default (the API)."""
    pytest.importorskip("cantools")
    from pathlib import Path

    from cellsense.pack import load_pack
    from cellsense.replay.readers import read_log

    fix = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
    spec = load_pack(fix / "sim12s_can.pack.json")
    quiet = read_log(fix / "sim12s.log.gz", spec, dbc=fix / "sim12s.dbc")
    assert capsys.readouterr().err == ""
    shown = read_log(fix / "sim12s.log.gz", spec, dbc=fix / "sim12s.dbc", progress=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("decoding sim12s.log.gz: 0 % (1/") and "frames), " in err[0] and "ETA" in err[0]
    assert err[-2].startswith("decoding sim12s.log.gz: 100 % (") and err[-1].startswith("decoding sim12s.log.gz: done in")
    assert np.array_equal(quiet.voltage_V, shown.voltage_V, equal_nan=True)


def test_validate_progress_lines_and_quiet(monkeypatch, capsys, tmp_path):
    """validate says what it runs, then each truth and each scenario as it is done with the elapsed time and the
    phase's ETA; --quiet prints the summary only. (Scenarios and truths stubbed: no solve, no filter run.)"""
    import cellsense.evaluate.validate as val

    monkeypatch.setattr(val, "warm_truth", lambda s: val.truth_key(s))
    monkeypatch.setattr(val, "run_scenario", lambda s, plot_dir=None, settle_s=600.0: val.ScenarioResult(
        s, samples=10, duration_h=1.0, rmse=0.005, max_abs_after=0.01, outside_3sigma_after=0.0, passed=True))
    n = len(val.matrix("quick"))
    n_truths = len({val.truth_key(s) for s in val.matrix("quick")})
    argv = ["validate", "--quick", "--no-real-cells", "--no-plots", "--workers", "1", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    cap = capsys.readouterr()
    err = cap.err.splitlines()
    assert err[0].startswith(f"cellsense validate: {n} scenarios (quick); their PyBaMM truths first")
    truths = [ln for ln in err if ln.startswith("[truth ")]
    assert len(truths) == n_truths and truths[0].startswith(f"[truth 1/{n_truths}] ") and "elapsed, ETA" in truths[0]
    assert "ETA" not in truths[-1]  # the last one: nothing left
    rows = [ln for ln in cap.out.splitlines() if ln.startswith("[")]
    assert len(rows) == n and rows[0].startswith(f"[1/{n}] ") and "elapsed, ETA" in rows[0] and "-> pass" in rows[0]
    assert main(argv + ["--quiet"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out.splitlines() == [f"{n} of {n} scenarios pass; report: {tmp_path / 'r' / 'validation.md'}"]
