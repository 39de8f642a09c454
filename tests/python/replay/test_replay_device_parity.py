"""`cellsense replay` against a device that lies or answers malformed frames (docs/replay.md "Exit status",
docs/hil-protocol.md): the in-process SimDevice on a queue link, its answers rewritten from a chosen frame on.
A NaN where the host has a number, a status, an event or a usable SOC that differs is a divergence (exit 1,
named); a CRC-valid answer of the wrong length is a device error (exit 3) with the report of the frames done."""
from __future__ import annotations

import gzip
import json
import os
import queue
import time
from pathlib import Path

import numpy as np
import pytest

from cellsense.cli import main
from cellsense.replay import framing as fr
from cellsense.replay import targets
from cellsense.replay.device_sim import SimDevice
from cellsense.replay.link import Link

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
N_ROWS = 200


class QueueLink(Link):
    """One end of an in-memory byte pipe."""

    def __init__(self, rx: queue.Queue, tx: queue.Queue) -> None:
        self.rx, self.tx = rx, tx

    def write(self, data: bytes) -> None:
        self.tx.put(bytes(data))

    def read(self, timeout_s: float) -> bytes:
        try:
            out = self.rx.get(timeout=max(timeout_s, 0.0))
        except queue.Empty:
            return b""
        while not self.rx.empty():
            out += self.rx.get_nowait()
        return out


class LyingDevice(SimDevice):
    """SimDevice whose answers of type `ftype` from the `at`-th on (1-based) go through `lie(payload)`."""

    def __init__(self, link: Link, lie=None, ftype: int = fr.T_RESULT, at: int = 1) -> None:
        super().__init__(link)
        self.lie, self.ftype, self.at, self.count = lie, ftype, at, 0

    def _send(self, ftype: int, seq: int, payload: bytes, cache: bool = True) -> None:
        if ftype == self.ftype and self.lie is not None:
            self.count += 1
            if self.count >= self.at:
                payload = self.lie(payload)
        super()._send(ftype, seq, payload, cache)


def rewrite(fn):
    """A lie that edits the parsed RESULT (cells copy, figures dict, head dict) and encodes it again."""
    def lie(payload: bytes) -> bytes:
        r = fr.parse_result(payload)
        cells, figures = r.cells.copy(), dict(r.figures)
        head = {"frame": r.frame, "event": r.event}
        fn(cells, figures, head)
        return fr.result_payload(head["frame"], head["event"], r.n_rejected, r.ticks, figures, r.index_min,
                                 r.index_max, cells["status"], cells["soc"], cells["soc_sigma"])
    return lie


@pytest.fixture
def device(monkeypatch):
    """Installs a lying device behind `--target fake`: call it with (lie, ftype, at)."""
    started = []

    def install(lie=None, ftype=fr.T_RESULT, at=1):
        def open_link(target, can_bus=None, baudrate=115200):
            a, b = queue.Queue(), queue.Queue()
            started.append(LyingDevice(QueueLink(a, b), lie, ftype, at).start())
            return QueueLink(b, a)
        monkeypatch.setattr(targets, "open_link", open_link)
    yield install
    for d in started:
        d.stop()


@pytest.fixture(scope="module")
def short_log(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("log") / "short.csv"
    p.write_text("\n".join(gzip.open(FIX / "sim12s.csv.gz", "rt").read().splitlines()[:N_ROWS + 1]) + "\n")
    return p


def replay(capsys, log: Path, out: Path, *extra) -> tuple[int, str, dict | None]:
    rc = main(["replay", "--log", str(log), "--pack", str(FIX / "sim12s.pack.json"), "--target", "fake", "--out",
               str(out), "--quiet", "--no-plots", "--timeout-s", "0.3", "--retries", "1", *map(str, extra)])
    cap = capsys.readouterr()
    rep = json.loads((out / "report.json").read_text()) if (out / "report.json").is_file() else None
    return rc, cap.out + cap.err, rep


def test_honest_device_passes(device, short_log, tmp_path, capsys):
    device()
    rc, text, rep = replay(capsys, short_log, tmp_path / "o")
    assert rc == 0, text
    d = rep["device"]
    assert d["completed"] == N_ROWS and d["divergence"] == [] and d["bit_identical"]
    assert d["event_mismatches"] == 0 and d["status_mismatches"] == 0 and d["nan_mismatches"] == 0


def _soc_nan(cells, figures, head):
    cells["soc"][2] = np.nan


def _sigma_nan(cells, figures, head):
    cells["soc_sigma"][2] = np.nan


def _status(cells, figures, head):
    cells["status"][2] = 3


def _event(cells, figures, head):
    head["event"] = 2


def _usable(cells, figures, head):
    figures["usable_soc"] = 0.123


def _usable_nan(cells, figures, head):
    figures["usable_soc"] = np.nan


@pytest.mark.parametrize("lie, named", [
    (_soc_nan, "cell 3 (cell03_V): SOC: the device's is NaN where the host's is a number at 151 frame(s), first frame 49"),
    (_sigma_nan, "cell 3 (cell03_V): SOC sigma: the device's is NaN"),
    (_status, "status: 151 cell step(s) differ; first frame 49, cell 3 (cell03_V)"),
    (_event, "event: 151 frame(s) differ; first frame 49: host step, device reinit"),
    (_usable, "usable SOC: max |device - host|"),
    (_usable_nan, "usable SOC: NaN on one side and a number on the other at 151 frame(s), first frame 49"),
])
def test_device_that_lies_diverges_named(device, short_log, tmp_path, capsys, lie, named):
    """Each of these passed (exit 0): NaN counted as a zero difference (nan_to_num), status / event / usable SOC
    not part of the verdict."""
    device(rewrite(lie), at=50)
    rc, text, rep = replay(capsys, short_log, tmp_path / "o")
    assert rc == 1, text
    assert any(named in line for line in rep["device"]["divergence"]), rep["device"]["divergence"]
    md = (tmp_path / "o" / "report.md").read_text()
    assert "FAIL (diverged)" in md and named in md
    assert named in text  # printed with the verdict


def test_nan_where_the_host_has_nan_too_is_not_a_divergence():
    from cellsense.replay.parity import _delta

    delta, one_nan = _delta(np.array([[np.nan, 0.5]]), np.array([[np.nan, 0.5]]))
    assert not one_nan.any() and delta.max() == 0.0
    delta, one_nan = _delta(np.array([[0.5, 0.5]]), np.array([[np.nan, 0.5]]))
    assert one_nan[0, 0] and not one_nan[0, 1]


# ---- malformed answers: a device error (exit 3) with the report of the frames done ---------------------------------
def _short_result(payload: bytes) -> bytes:
    return payload[:-3]


def _fewer_cells(payload: bytes) -> bytes:
    return payload[:-fr.RESULT_CELL.itemsize]


@pytest.mark.parametrize("ftype, lie, at, named", [
    (fr.T_RESULT, _short_result, 50, "malformed RESULT for frame 49: payload of"),
    (fr.T_RESULT, _fewer_cells, 50, "payload of 142 B, expected 151 B (12 cells"),
    (fr.T_NAK, lambda p: p[:1], 1, "malformed NAK"),
])
def test_malformed_answer_mid_run_is_a_device_error_with_the_report(device, short_log, tmp_path, capsys, ftype, lie,
                                                                    at, named):
    """A CRC-valid RESULT too short or with fewer cells was exit 2 with nothing written (ValueError), a short NAK a
    struct.error traceback (exit 70)."""
    device(lie, ftype=ftype, at=at)
    extra = ("--corrupt", "0.05") if ftype == fr.T_NAK else ()  # a NAK (crc) is what a corrupted frame gets back
    rc, text, rep = replay(capsys, short_log, tmp_path / "o", *extra)
    assert rc == 3, text
    d = rep["device"]
    assert d["error_kind"] == "malformed" and named in d["error"], d["error"]
    assert d["completed"] == d["error_frame"] and d["frames_lost_unreported"] == 0
    if ftype == fr.T_RESULT:
        assert d["completed"] == 49
    rows = (tmp_path / "o" / "results.csv").read_text().splitlines()
    assert len(rows) == N_ROWS + 1
    assert "FAIL (device error, reported)" in (tmp_path / "o" / "report.md").read_text()


@pytest.mark.parametrize("ftype, lie, named", [
    (fr.T_READY, lambda p: p[:5], "malformed READY"),
    (fr.T_READY, lambda p: p + b"xx", "its name length"),
    (fr.T_ACK, lambda p: p[:2], "malformed ACK"),
])
def test_malformed_handshake_is_a_device_error(device, short_log, tmp_path, capsys, ftype, lie, named):
    device(lie, ftype=ftype)
    rc, text, rep = replay(capsys, short_log, tmp_path / "o")
    assert rc == 3, text
    assert rep["device"]["error_kind"] == "malformed" and named in rep["device"]["error"]
    assert rep["device"]["completed"] == 0 and "Traceback" not in text


def test_report_host_row_covers_the_whole_log_after_a_device_failure(device, short_log, tmp_path, capsys):
    """After a failure at frame 49 the "host" row was the host over the device's 49 frames, unlabelled."""
    device(_short_result, at=50)
    rc, _, rep = replay(capsys, short_log, tmp_path / "o")
    assert rc == 3
    ref = rep["reference"]
    assert set(ref) == {"host", "host, frames 0..48 (the device's)", "device, frames 0..48"}
    assert ref["host"]["final_reference"] != ref["host, frames 0..48 (the device's)"]["final_reference"]
    md = (tmp_path / "o" / "report.md").read_text()
    assert "| host, frames 0..48 (the device's) |" in md


# ---- option ranges: exit 2 naming the option and the range -------------------------------------------------------
@pytest.mark.parametrize("option, value, named", [
    ("--tolerance", "nan", "--tolerance nan: expected a finite number in [0, 1]"),
    ("--tolerance", "-1e-6", "--tolerance -1e-06"),
    ("--tolerance", "inf", "--tolerance inf"),
    ("--speed", "0", "--speed 0.0: expected a finite number in (0, "),
    ("--speed", "-2", "--speed -2.0"),
    ("--speed", "inf", "--speed inf"),
    ("--timeout-s", "0", "--timeout-s 0.0: expected a finite number in (0, 3600]"),
    ("--timeout-s", "nan", "--timeout-s nan"),
    ("--retries", "-1", "--retries -1: expected a finite number in [0, 1000]"),
    ("--corrupt", "1.5", "--corrupt 1.5: expected a finite number in [0, 1]"),
    ("--drop", "-0.1", "--drop -0.1"),
    ("--drop", "nan", "--drop nan"),
    ("--baud", "0", "--baud 0"),
])
def test_replay_options_out_of_range_are_refused_up_front(tmp_path, capsys, option, value, named):
    out = tmp_path / "o"
    rc = main(["replay", "--log", str(FIX / "sim12s.csv.gz"), "--pack", str(FIX / "sim12s.pack.json"), "--out",
               str(out), "--quiet", "--no-plots", f"{option}={value}"])
    err = capsys.readouterr().err
    assert rc == 2 and named in err, err
    assert not out.exists()  # refused before anything was read or written


def test_corrupt_plus_drop_above_one_refused(tmp_path, capsys):
    rc = main(["replay", "--log", str(FIX / "sim12s.csv.gz"), "--pack", str(FIX / "sim12s.pack.json"), "--out",
               str(tmp_path / "o"), "--corrupt", "0.7", "--drop", "0.6"])
    assert rc == 2 and "add up to at most 1" in capsys.readouterr().err


@pytest.mark.parametrize("option, value", [("--cells", "0"), ("--hours", "nan"), ("--hours", "-1"),
                                           ("--qemu-frames", "0")])
def test_replay_bench_options_refused(capsys, option, value):
    assert main(["replay-bench", f"{option}={value}"]) == 2
    assert f"{option} " in capsys.readouterr().err


# ---- targets that cannot be opened ---------------------------------------------------------------------------------
def test_can_target_with_an_unknown_interface_is_exit_2(short_log, tmp_path, capsys):
    """Was a CanInterfaceNotImplementedError traceback (exit 70)."""
    pytest.importorskip("can")
    rc = main(["replay", "--log", str(short_log), "--pack", str(FIX / "sim12s.pack.json"), "--target",
               "can:nosuchiface", "--out", str(tmp_path / "o"), "--quiet", "--no-plots"])
    err = capsys.readouterr().err
    assert rc == 2 and "--target can:nosuchiface" in err and "'nosuchiface'" in err and "socketcan" in err, err
    assert "Traceback" not in err


def test_missing_serial_port_fails_at_once(short_log, tmp_path, capsys):
    """A missing port was retried for 10 s (the loop meant for QEMU's socket)."""
    pytest.importorskip("serial")
    t0 = time.monotonic()
    rc = main(["replay", "--log", str(short_log), "--pack", str(FIX / "sim12s.pack.json"), "--target",
               str(tmp_path / "ttyNOSUCH"), "--out", str(tmp_path / "o"), "--quiet", "--no-plots"])
    err = capsys.readouterr().err
    assert rc == 2 and f"--target {tmp_path / 'ttyNOSUCH'}: cannot open" in err, err
    assert time.monotonic() - t0 < 5


def test_busy_serial_port_is_named(tmp_path):
    """A pty held exclusively by one link: a second open says the port is busy."""
    serial = pytest.importorskip("serial")
    from cellsense.replay.link import SerialLink

    master, slave = os.openpty()
    path = os.ttyname(slave)
    first = SerialLink(path)
    try:
        with pytest.raises(ConnectionError, match="the port is busy"):
            SerialLink(path)
    finally:
        first.close()
        os.close(master)
        os.close(slave)
    assert serial is not None
