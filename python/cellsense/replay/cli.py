"""`cellsense replay` and `cellsense replay-bench` (registered by cli.py through `add_cli(subparsers)`)."""
from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .._cliopts import add_no_plots, add_quiet
from .._io import refuse_overwriting_inputs
from ..cells.ecm_reference import simulate_ecm
from ..estimators.power import add_power_cli, power_settings_from_cli
from ..evaluate.log_checks import current_sign_warning, current_skew_warning
from ..pack import MAX_CELLS, PackEstimator, PackLog, estimate_pack_power, load_pack, pack_from_dict, pack_power_config
from . import report, targets
from .link import FaultPlan
from .readers import read_log


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "replay", help="replay a pack log through the host module, QEMU, a serial rig or a CAN rig, and compare",
        description="Replay a pack log (pack CSV, candump .log, Vector .asc/.blf, SavvyCAN GVRET .csv with --dbc) "
                    "through a target and write a comparison report (docs/replay.md). Exit status: 0 pass, "
                    "1 device and host diverged, 2 bad input, 3 device failure (reported), 4 frames lost unreported.")
    p.add_argument("--log", required=True, help="log file")
    p.add_argument("--pack", required=True, help="pack file (docs/pack-file.md)")
    p.add_argument("--target", default="host",
                   help="host | qemu[:MACHINE] | a pyserial URL (/dev/ttyUSB0, socket://HOST:PORT) | can:INTERFACE[:CHANNEL]")
    p.add_argument("--dbc", default=None, help="DBC for CAN logs")
    p.add_argument("--out", required=True, help="results directory (report.md, report.json, results.csv, soc.png)")
    p.add_argument("--realtime", action="store_true", help="pace frames on the log's clock; measure deadline misses")
    p.add_argument("--speed", type=float, default=1.0, help="with --realtime: clock speed-up factor")
    p.add_argument("--image", default=None, help="qemu: replay firmware ELF (default: build/mcu/replay_<core>.elf)")
    p.add_argument("--timeout-s", type=float, default=1.0, help="per-frame answer timeout (s)")
    p.add_argument("--baud", type=int, default=115200, help="a serial port's baud rate (default 115200)")
    p.add_argument("--retries", type=int, default=3, help="retransmissions before a device counts as dead")
    p.add_argument("--tolerance", type=float, default=1e-6, help="max |delta SOC| and |delta sigma| device vs host")
    p.add_argument("--filter", choices=["ekf", "ukf"], default=None, help="override the pack file's filter")
    p.add_argument("--corrupt", type=float, default=0.0, help="fault injection: fraction of STEP frames to corrupt")
    p.add_argument("--drop", type=float, default=0.0, help="fault injection: fraction of STEP frames to drop")
    add_power_cli(p, power_help="also the pack's state of power on the host: the series string's largest discharge / charge "
                        "current and power for each horizon (s) after every sample, limited by its weakest cell, with "
                        "which cell limits it: a table in report.md, columns in results.csv, power.png (docs/replay.md); "
                        "e.g. --power 2,10,30",
                  rating_help="with --power: the string's current rating, both directions (A; default: the cell file's "
                        "identified current range times the parallel count)")
    add_no_plots(p)
    add_quiet(p, help="no progress lines on stderr (frames replayed with an ETA, a firmware build)")
    p.set_defaults(func=_main)
    b = subparsers.add_parser("replay-bench", help="the replay bars: 96s x 24 h host replay time, QEMU parity and cost")
    b.add_argument("--cells", type=int, default=96)
    b.add_argument("--hours", type=float, default=24.0)
    b.add_argument("--qemu", action="store_true", help="also replay a 96s log through QEMU (per-step instructions, parity)")
    b.add_argument("--qemu-frames", type=int, default=600)
    b.add_argument("--power", default=None, metavar="H[,H..]",
                   help="also time the host's whole-log pack state of power for these horizons (s), e.g. 2,10,30")
    b.set_defaults(func=_bench)


#: the files `--out` gets (report.write)
OUTPUT_FILES = report.OUTPUT_FILES


def refuse_overwriting(a, cell_file: str | None = None) -> None:
    """OutputOverwritesInputError (exit 2) when a file the replay writes in --out is one of its inputs (--log,
    --pack, --dbc, --image, the pack file's cell file): `--out DIR` with `--log DIR/results.csv` replaced the log."""
    inputs = {"--log": a.log, "--pack": a.pack, "--dbc": a.dbc, "--image": a.image,
              "the pack file's \"cell\"": cell_file}
    for name in OUTPUT_FILES:
        refuse_overwriting_inputs({"--out": Path(a.out) / name}, inputs)


#: each numeric option of `replay` / `replay-bench`: (low, high, low open, high open, what it means)
REPLAY_RANGES = {
    "tolerance": (0.0, 1.0, False, False, "a |delta SOC| / |delta sigma| (a fraction)"),
    "speed": (0.0, 1e6, True, False, "a clock speed-up factor"),
    "timeout_s": (0.0, 3600.0, True, False, "seconds"),
    "retries": (0, 1000, False, False, "retransmissions"),
    "corrupt": (0.0, 1.0, False, False, "a fraction of the STEP frames"),
    "drop": (0.0, 1.0, False, False, "a fraction of the STEP frames"),
    "baud": (1, 100_000_000, False, False, "bits per second"),
}
BENCH_RANGES = {
    "cells": (1, MAX_CELLS, False, False, "series elements"),
    "hours": (0.0, 24.0 * 366, True, False, "hours of a 1 Hz log"),
    "qemu_frames": (1, 1_000_000, False, False, "frames"),
}


def check_ranges(a, ranges: dict) -> None:
    """ValueError (exit 2) naming the option, its value and the allowed range for the first option out of it:
    NaN, inf, a negative tolerance or retry count, a zero speed or timeout, a fraction above 1 all went on before."""
    for dest, (lo, hi, lo_open, hi_open, what) in ranges.items():
        v = getattr(a, dest, None)
        if v is None:
            continue
        bad = not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi)
        if bad:
            rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
            raise ValueError(f"--{dest.replace('_', '-')} {v!r}: expected a finite number in {rng} ({what})")
    if getattr(a, "corrupt", 0.0) + getattr(a, "drop", 0.0) > 1.0:
        raise ValueError(f"--corrupt {a.corrupt:g} + --drop {a.drop:g} = {a.corrupt + a.drop:g}: the two fractions "
                         "of the STEP frames add up to at most 1")


def _main(a) -> int:
    check_ranges(a, REPLAY_RANGES)
    if Path(a.out).exists() and not Path(a.out).is_dir():  # before the run: named, not a raw "File exists" at the end
        raise ValueError(f"--out {a.out}: is a file; --out names the directory the report, results and plots go to")
    refuse_overwriting(a)  # before anything is read
    spec = load_pack(a.pack)
    refuse_overwriting(a, spec.cell_file)
    power = power_settings_from_cli(a)
    est = PackEstimator(spec, filter=a.filter, dtype="float32")
    if power is not None:  # the settings checked (the core's rule) before the log is read
        pack_power_config(est, power)
    log = read_log(a.log, spec, dbc=a.dbc, progress=not a.quiet)
    with warnings.catch_warnings():  # a row with no cell voltage: NaN, skipped by the check
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_v = np.nanmean(np.asarray(log.voltage_V, float).reshape(len(log.time_s), -1), axis=1)
    # the pack file's current.positive the other way round: the mean cell's voltage steps with the current
    sign = current_sign_warning(log.time_s, log.current_A, mean_v,
                                remedy="set current.positive in the pack file the other way")
    skew = current_skew_warning(log.time_s, log.current_A, mean_v)
    soc0 = est.initial_soc(log)
    host = targets.run_host(est, log, soc0, power=power)
    device = None
    faults = FaultPlan.random(len(log), a.corrupt, a.drop) if (a.corrupt or a.drop) else None
    kw = dict(timeout_s=a.timeout_s, retries=a.retries, realtime=a.realtime, speed=a.speed, faults=faults,
              progress=not a.quiet)
    if a.target.startswith("qemu"):
        machine = a.target.split(":", 1)[1] if ":" in a.target else targets.DEFAULT_MACHINE
        device = targets.run_qemu(est, log, soc0, machine=machine, image=a.image, **kw)
    elif a.target != "host":
        device = targets.run_device(est, log, soc0, targets.open_link(a.target, baudrate=a.baud), a.target, **kw)
    rep = report.compare(spec, log, host, device, tol_soc=a.tolerance, warnings=[w for w in (sign, skew) if w])
    for w in rep["warnings"]:  # also in report.md
        print(f"cellsense replay: warning: {a.log}: {w}", file=sys.stderr)
    files = report.write(a.out, rep, log, host, device, plots=not a.no_plots, spec=spec)
    print(report.markdown(rep).split("\n| cell |")[0].rstrip())
    print("wrote " + ", ".join(str(f) for f in files))
    code = report.exit_code(rep)
    if code == report.EXIT_NOTHING_FUSED:
        print(f"cellsense replay: error: {a.log}: {rep['nothing_fused']}; the report is in {a.out}", file=sys.stderr)
    return code


def synthetic_pack_log(cells: int, hours: float, seed: int = 3):
    """A long synthetic pack log for the throughput bar: 1 Hz, drive-like current, per-cell voltages from the
    numpy reference ECM of the bundled chen2020 cell (one trace, offset per cell)."""
    spec = pack_from_dict({"cellsense pack file": 1, "topology": {"series": cells}, "cell": "chen2020",
                           "voltage": {"pattern": "cell{index}"}, "current": "i", "temperature": "T", "time": "t"})
    n = int(hours * 3600) + 1
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    q_As = spec.cell.capacity_Ah * 3600.0
    i = np.empty(n)
    soc, k = 0.9, 0
    while k < n:  # 30 s blocks of drive / regen / rest, kept between 20 % and 90 % SOC
        level = 0.0 if rng.random() < 0.2 else rng.uniform(-4.0, 12.0)
        if soc < 0.2:
            level = -abs(level) - 2.0
        elif soc > 0.9:
            level = abs(level) + 2.0
        i[k:k + 30] = level
        soc -= level * 30.0 / q_As
        k += 30
    sim = simulate_ecm(spec.cell, t, i, 25.0, initial_soc=0.9)
    V = sim["voltage_V"][:, None] + 0.002 * rng.standard_normal((n, cells))
    return spec, PackLog(t, i, V, np.full((n, 1), 25.0), None, f"synthetic {cells}s {hours} h")


def _bench(a) -> int:
    check_ranges(a, BENCH_RANGES)
    spec, log = synthetic_pack_log(a.cells, a.hours)
    est = PackEstimator(spec, dtype="float32")
    soc0 = np.full(spec.n_cells, 0.9)
    t0 = time.perf_counter()
    host = targets.run_host(est, log, soc0)
    wall = time.perf_counter() - t0
    steps = len(log) * spec.n_cells
    print(f"host: {spec.n_cells}s pack, {len(log):,} samples ({a.hours:g} h at 1 Hz) = {steps / 1e6:.2f} M cell-steps "
          f"in {wall:.2f} s ({1e9 * wall / steps:.0f} ns/cell-step); bar <= 30 s: {'met' if wall <= 30 else 'MISSED'}")
    print(f"host: per-cell estimator {est.sizeof_cell('ekf')} B (EKF, x86-64)")
    ps = power_settings_from_cli(a)
    if ps is not None:
        t0 = time.perf_counter()
        lim = estimate_pack_power(est, log, ps, initial_soc=soc0)
        pw = time.perf_counter() - t0
        nh = len(ps.horizons_s)
        print(f"host: the same log with the string's state of power for {nh} horizon(s) {list(ps.horizons_s)} s: "
              f"{pw:.2f} s ({steps * nh / max(pw - wall, 1e-9) / 1e6:.2f} M cell-limits/s beyond the estimate, "
              f"{steps / pw / 1e6:.2f} M cell-steps/s with the limits); "
              f"estimate unchanged: {'yes' if lim.run.soc.tobytes() == host.soc.tobytes() else 'NO'}")
    if a.qemu:
        m = a.qemu_frames
        short = PackLog(log.time_s[:m], log.current_A[:m], log.voltage_V[:m], log.temperature_degC[:m], None, log.source)
        h = targets.run_host(est, short, soc0)
        d = targets.run_qemu(est, short, soc0, timeout_s=5.0)
        if d.error:
            print(f"qemu: error: {d.error}")
            return 3
        same = np.array_equal(h.soc.view(np.uint32), d.soc.view(np.uint32)) and \
            np.array_equal(h.soc_sigma.view(np.uint32), d.soc_sigma.view(np.uint32))
        insn = d.ticks[1:].astype(float) * targets.INSN_PER_TICK
        print(f"qemu ({d.device.get('name')}): {m} frames of the {spec.n_cells}s pack: bit-identical to host float32: "
              f"{'yes' if same else 'NO'}; instructions per pack step mean {insn.mean():,.0f} (max {insn.max():,.0f}), "
              f"{insn.mean() / spec.n_cells:,.0f} per cell; per-cell bytes {d.device.get('sizeof_cell_ekf')} (EKF) / "
              f"{d.device.get('sizeof_cell_ukf')} (UKF); at 100 MHz a pack step takes ~{insn.mean() / 100e6 * 1e3:.2f} ms")
    return 0
