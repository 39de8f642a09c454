"""Replay targets: `host` (the Python module, as fast as possible), `qemu` (the replay firmware under
qemu-system-arm, UART0 on a loopback TCP socket), a pyserial URL (a real rig), and `can:INTERFACE[:CHANNEL]`
(a rig on a CAN bus through python-can). Each returns a ReplayRun with per-frame, per-cell results."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import Progress
from ..estimators.power import PowerSettings
from ..mcu.firmware import McuBenchError, build, source_dir
from ..pack import PackEstimator, PackLog, PackPowerResult, clock_dt, estimate_pack_power, mark_reanchored
from . import framing as fr
from .link import CanLink, FaultPlan, FaultyLink, Link, SerialLink
from .session import DeviceError, Session

DEFAULT_MACHINE = "mps2-an386"
CORE_OF_MACHINE = {"mps2-an386": "cortex-m4f", "mps2-an500": "cortex-m7", "mps2-an385": "cortex-m3"}
INSN_PER_TICK = 40  #: mps2 SysTick at 25 MHz with qemu -icount shift=0 (docs/mcu.md)
#: event of a frame the device gave no result for (host-side placeholder, outside the core's pack event codes,
#: cellsense.status.EVENT_NAMES; a report names it by number)
EVENT_NO_RESULT = 254


@dataclass
class ReplayRun:
    target: str
    n_frames: int
    completed: int                 #: frames with a result
    status: np.ndarray             #: (n, cells) uint8
    soc: np.ndarray                #: (n, cells) float32 / float64
    soc_sigma: np.ndarray
    event: np.ndarray              #: (n,)
    usable_soc: np.ndarray         #: (n,)
    ticks: np.ndarray | None = None       #: (n,) SysTick ticks per pack step (device)
    latency_s: np.ndarray | None = None   #: (n,) request -> result (device)
    deadline_misses: int = 0
    wall_s: float = 0.0
    link: dict = field(default_factory=dict)
    injected: dict = field(default_factory=dict)
    error: str | None = None       #: why the run stopped early (reported, not raised)
    error_kind: str | None = None
    error_frame: int | None = None
    detected_after_s: float | None = None  #: time from the last good answer to the error report
    device: dict = field(default_factory=dict)
    gap_s: float | None = None     #: the estimator's gap threshold (s; pack::gap_within of the pack file's and dt_max_s)
    power: PackPowerResult | None = None  #: host with `power`: the string's limits per sample (cellsense.pack.power)


def run_host(est: PackEstimator, log: PackLog, initial_soc: np.ndarray, power: PowerSettings | None = None) -> ReplayRun:
    """The host module over the whole log; with `power` also the series string's limits after every sample (one
    run: the estimate is the same)."""
    t0 = time.perf_counter()
    lim = None
    if power is None:
        r = est.run(log, initial_soc=initial_soc)
    else:
        lim = estimate_pack_power(est, log, power, initial_soc=initial_soc)
        r = lim.run
    wall = time.perf_counter() - t0
    n = len(log)
    return ReplayRun("host", n, n, r.status, r.soc, r.soc_sigma, r.event, r.summary["usable_soc"], wall_s=wall,
                     gap_s=float(est.gap_s), power=lim)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_image(machine: str = DEFAULT_MACHINE, image: str | os.PathLike | None = None, quiet: bool = True) -> Path:
    """The replay firmware: `image`, $CELLSENSE_REPLAY_IMAGE, or build/mcu/replay_<core>.elf in the checkout (built
    first if missing; the build's progress with an ETA on stderr unless `quiet`)."""
    if image:
        p = Path(image)
    elif os.environ.get("CELLSENSE_REPLAY_IMAGE"):
        p = Path(os.environ["CELLSENSE_REPLAY_IMAGE"])
    else:
        try:
            src = source_dir()
        except McuBenchError as e:
            raise FileNotFoundError(f"replay firmware not found ({e}); pass --image") from None
        p = src / "build" / "mcu" / f"replay_{CORE_OF_MACHINE.get(machine, 'cortex-m4f')}.elf"
        if not p.is_file():
            build(src / "build" / "mcu", src, quiet=quiet)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: replay firmware image not found (scripts/mcu_test.sh builds it)")
    return p


class Qemu:
    """qemu-system-arm running the replay image, UART0 on a TCP server socket on 127.0.0.1 (wait=on: the guest
    starts when we connect). Context manager; the process is always killed on exit."""

    def __init__(self, image: Path, machine: str = DEFAULT_MACHINE, qemu: str | None = None,
                 icount: bool = True) -> None:
        exe = qemu or shutil.which("qemu-system-arm")
        if not exe:
            raise FileNotFoundError("qemu-system-arm not found (scripts/install_mcu_toolchain.sh)")
        self.port = free_port()
        cmd = [exe, "-M", machine, "-nographic", "-monitor", "none",
               "-serial", f"tcp:127.0.0.1:{self.port},server=on,wait=on,nodelay=on",
               "-semihosting-config", "enable=on,target=native", "-kernel", str(image)]
        if icount:
            cmd[1:1] = ["-icount", "shift=0"]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"socket://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self) -> "Qemu":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def open_link(target: str, can_bus=None, baudrate: int = 115200) -> Link:
    """The link a `--target` names: `can:INTERFACE[:CHANNEL]` (python-can) or a pyserial URL at `baudrate`."""
    if target.startswith("can:"):
        parts = target.split(":")
        interface = parts[1] if len(parts) > 1 and parts[1] else "virtual"
        channel = parts[2] if len(parts) > 2 else "cellsense-hil"
        return CanLink(bus=can_bus, interface=interface, channel=channel)
    return SerialLink(target, baudrate=baudrate)


def run_device(est: PackEstimator, log: PackLog, initial_soc: np.ndarray, link: Link, target: str,
               timeout_s: float = 1.0, retries: int = 3, realtime: bool = False, speed: float = 1.0,
               faults: FaultPlan | None = None, progress: bool = False, ready_timeout_s: float = 10.0,
               on_frame=None) -> ReplayRun:
    """Replay a log through a device on `link`. Device failures are caught and reported in the run."""
    spec = est.spec
    nc = spec.n_cells
    n = len(log)
    dt, reanchored = clock_dt(log.time_s)  # a re-anchoring sample is sent with dt NaN (no step), labelled below
    status = np.zeros((n, nc), np.uint8)
    soc = np.full((n, nc), np.nan, np.float32)
    sig = np.full((n, nc), np.nan, np.float32)
    event = np.full(n, EVENT_NO_RESULT, np.uint8)
    usable = np.full(n, np.nan, np.float32)
    ticks = np.zeros(n, np.uint32)
    lat = np.full(n, np.nan)
    if faults is not None:
        link = FaultyLink(link, faults)
    sess = Session(link, timeout_s=timeout_s, retries=retries)
    run = ReplayRun(target, n, 0, status, soc, sig, event, usable, ticks, lat)
    t_start = time.perf_counter()
    last_ok = time.monotonic()
    bar = None
    try:
        info = sess.wait_ready(ready_timeout_s)
        run.device = dict(info.__dict__)
        settings = est.settings_dict()
        sess.configure(nc, est.filter, settings, spec.cell.core_params(), spec.cell.rc_pairs,
                       np.array([c.capacity_scale for c in spec.cells]), np.array([c.resistance_scale for c in spec.cells]),
                       initial_soc, est.cell_sensor())
        volts = np.ascontiguousarray(log.voltage_V, dtype=np.float32)
        temps = np.ascontiguousarray(log.temperature_degC, dtype=np.float32)
        cur = log.current_A.astype(np.float32)
        dt32 = dt.astype(np.float32)
        if progress:  # frames done and the ETA on stderr once the run takes more than 2 s (quiet: none)
            bar = Progress(f"replay -> {target}", total=n, unit="frames")
        t0_log = float(log.time_s[0])
        wall0 = time.perf_counter()
        for k in range(n):
            if realtime:
                due = wall0 + (float(log.time_s[k]) - t0_log) / speed
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            if on_frame is not None:
                on_frame(k, sess)
            sent = time.perf_counter()
            r = sess.step(k, float(dt32[k]), float(cur[k]), temps[k], volts[k])
            got = time.perf_counter()
            last_ok = time.monotonic()
            lat[k] = got - sent
            if realtime and k + 1 < n:
                next_due = wall0 + (float(log.time_s[k + 1]) - t0_log) / speed
                if got > next_due:
                    run.deadline_misses += 1
            status[k] = r.cells["status"]
            soc[k] = r.cells["soc"]
            sig[k] = r.cells["soc_sigma"]
            event[k] = r.event
            usable[k] = r.figures["usable_soc"]
            ticks[k] = r.ticks
            run.completed = k + 1
            if bar is not None:
                bar.update(1)
    except DeviceError as e:
        run.error = str(e)
        run.error_kind = e.kind
        run.error_frame = e.frame
        run.detected_after_s = time.monotonic() - last_ok
    finally:
        if bar is not None:
            bar.close()
        mark_reanchored(status[:run.completed], event[:run.completed], reanchored[:run.completed])
        run.wall_s = time.perf_counter() - t_start
        run.link = sess.stats.as_dict()
        if isinstance(link, FaultyLink):
            run.injected = dict(link.injected)
        link.close()
    return run


def run_qemu(est: PackEstimator, log: PackLog, initial_soc: np.ndarray, machine: str = DEFAULT_MACHINE,
             image: str | os.PathLike | None = None, qemu: str | None = None, **kw) -> ReplayRun:
    img = find_image(machine, image, quiet=not kw.get("progress", False))
    with Qemu(img, machine, qemu) as q:
        link = SerialLink(q.url)
        run = run_device(est, log, initial_soc, link, f"qemu:{machine}", **kw)
        run.device["image"] = str(img)
        run.device["machine"] = machine
        return run
