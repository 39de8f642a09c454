"""Replay harness: framing, readers, targets (host, python-can virtual bus, QEMU), faults, report, CLI."""
from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellsense.pack import PackEstimator, load_pack
from cellsense.replay import framing as fr
from cellsense.replay.readers import LogReadError, load_dbc, read_can_frames, read_log

ROOT = Path(__file__).resolve().parents[3]
FIX = ROOT / "tests" / "fixtures" / "pack"
KONA = ROOT / "python" / "cellsense" / "data" / "kona_ev_can"
IMAGE = ROOT / "build" / "mcu" / "replay_cortex-m4f.elf"
needs_qemu = pytest.mark.skipif(not (IMAGE.is_file() and shutil.which("qemu-system-arm")),
                                reason="replay firmware not built (scripts/mcu_test.sh) or no qemu")


@given(st.binary(max_size=1200))
@settings(max_examples=200, deadline=None)
def test_cobs_round_trip(data):
    enc = fr.cobs_encode(data)
    assert 0 not in enc and fr.cobs_decode(enc) == data


def test_frames_detect_corruption_and_resync():
    f = fr.encode(fr.T_STEP, 7, bytes(range(50)))
    bad = bytearray(f)
    bad[10] ^= 0x40 if bad[10] ^ 0x40 else 0x41
    out = fr.Decoder().feed(b"\x13\x37" + b"\x00" + bytes(bad) + f)
    assert isinstance(out[0], fr.FrameError) and isinstance(out[1], fr.FrameError)
    assert isinstance(out[2], fr.Frame) and out[2].seq == 7 and out[2].payload == bytes(range(50))


def test_csv_reader_counts_malformed_lines(tmp_path):
    spec = load_pack(FIX / "sim12s.pack.json")
    lines = gzip.open(FIX / "sim12s.csv.gz", "rt").read().splitlines()
    lines[5] = lines[5] + ",extra"
    lines[9] = lines[9].replace(",", ",x", 1)
    lines[12] = "garbage"
    p = tmp_path / "bad.csv"
    p.write_text("\n".join(lines[:200]) + "\n")
    log = read_log(p, spec)
    assert log.counts["malformed_lines"] == 3 and len(log) == 199 - 3


def test_can_logs_decode_like_the_csv(tmp_path):
    import can

    spec = load_pack(FIX / "sim12s.pack.json")
    ref = read_log(FIX / "sim12s.csv.gz", spec)
    cspec = load_pack(FIX / "sim12s_can.pack.json")
    dbc = FIX / "sim12s.dbc"
    # candump with malformed lines inserted: counted, not fatal
    lines = gzip.open(FIX / "sim12s.log.gz", "rt").read().splitlines()
    lines.insert(100, "(1700000000.5) vcan0 20X#0102")
    lines.insert(200, "not a frame at all")
    p = tmp_path / "drive.log"
    p.write_text("\n".join(lines) + "\n")
    log = read_log(p, cspec, dbc=dbc)
    assert log.counts["malformed_lines"] == 2 and len(log) == len(ref)
    assert np.nanmax(np.abs(log.voltage_V - ref.voltage_V)) < 1e-9
    assert np.max(np.abs(log.current_A - ref.current_A)) <= 0.0051  # the DBC's 0.01 A resolution
    gap = np.diff(log.time_s)
    assert gap.max() > 500  # the logger-off stop stays a gap
    # Vector ASC and BLF through python-can
    frames, _ = read_can_frames(FIX / "sim12s.log.gz")
    for ext, writer in ((".asc", can.ASCWriter), (".blf", can.BLFWriter)):
        out = tmp_path / f"drive{ext}"
        w = writer(str(out))
        for ts, fid, data, _ in frames[:2000]:
            w.on_message_received(can.Message(timestamp=ts, arbitration_id=fid, data=data, is_extended_id=False, channel=0))
        w.stop()
        got = read_log(out, cspec, dbc=dbc)
        n = len(got)
        assert n >= 490 and np.nanmax(np.abs(got.voltage_V - ref.voltage_V[:n])) < 1e-6, ext


def _blf_bytes(tmp_path, frames, compression_level=0):
    import can

    p = tmp_path / f"w{compression_level}.blf"
    w = can.BLFWriter(str(p), compression_level=compression_level)
    for ts, fid, data in frames:
        w.on_message_received(can.Message(timestamp=ts, arbitration_id=fid, data=data, is_extended_id=False, channel=0))
    w.stop()
    return p.read_bytes()


class _Hung(BaseException):  # not an Exception: the reader's per-record `except Exception` must not swallow it
    pass


def _read_with_deadline(path, seconds=5):
    """read_can_frames, failing (not hanging) if the reader loops."""
    import signal

    def boom(*_):
        raise _Hung(f"read_can_frames({path}) still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        return read_can_frames(path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_blf_gz_reads_like_the_blf(tmp_path):
    frames = [(1700000000.0 + 0.01 * k, 0x100 + k, bytes([k] * 8)) for k in range(5)]
    raw = _blf_bytes(tmp_path, frames, compression_level=6)
    (tmp_path / "a.blf").write_bytes(raw)
    (tmp_path / "a.blf.gz").write_bytes(gzip.compress(raw))
    got, counts = read_can_frames(tmp_path / "a.blf")
    got_gz, counts_gz = read_can_frames(tmp_path / "a.blf.gz")
    assert got_gz == got and counts_gz == counts and len(got) == 5
    (tmp_path / "b.blf.gz").write_bytes(b"not gzip")
    with pytest.raises(LogReadError, match="b.blf.gz: not a readable BLF log"):
        read_can_frames(tmp_path / "b.blf.gz")


@pytest.mark.parametrize("data", [b"", b"LOGG", b"x" * 200])
def test_blf_without_a_file_header_is_a_log_read_error(tmp_path, data):
    # Regression (fuzz target `blf`): python-can's struct.error / BLFParseError escaped from the reader.
    p = tmp_path / "bad.blf"
    p.write_bytes(data)
    with pytest.raises(LogReadError, match="bad.blf: not a readable BLF log"):
        read_can_frames(p)


@pytest.mark.parametrize("level", [0, 6])
@pytest.mark.parametrize("obj_type", [1, 65])  # CAN_MESSAGE (python-can yields it forever), other (spins)
def test_blf_object_of_size_zero_ends_the_file(tmp_path, level, obj_type):
    # Regression (fuzz target `blf`): an object inside a container declaring size 0 made python-can's
    # BLFReader parse it forever. Now the frames before it are read and the rest counts as one malformed frame.
    import struct
    import zlib

    frames = [(1700000000.0 + 0.01 * k, 0x100 + k, bytes([k] * 8)) for k in range(5)]
    good = _blf_bytes(tmp_path, frames, compression_level=level)
    p = tmp_path / "good.blf"
    p.write_bytes(good)
    got, counts = read_can_frames(p)
    assert [(f[1], f[2], f[3]) for f in got] == [(fid, d, 0) for _, fid, d in frames] and not counts["malformed_frames"]
    # Rebuild the file with the 3rd inner object's size set to 0 (and its type set to obj_type).
    header_size = struct.unpack_from("<I", good, 4)[0]
    cont = good.index(b"LOBJ", header_size)
    method = struct.unpack_from("<H", good, cont + 16)[0]
    obj_size = struct.unpack_from("<I", good, cont + 8)[0]
    payload = good[cont + 32:cont + obj_size]
    inner = bytearray(zlib.decompress(payload) if method == 2 else payload)
    third = [i for i in range(len(inner)) if inner.startswith(b"LOBJ", i)][2]
    struct.pack_into("<I", inner, third + 8, 0)
    struct.pack_into("<I", inner, third + 12, obj_type)
    body = zlib.compress(bytes(inner)) if method == 2 else bytes(inner)
    new_size = 32 + len(body)
    container = struct.pack("<4sHHII", b"LOBJ", 16, 1, new_size, 10) + good[cont + 16:cont + 32] + body
    p.write_bytes(good[:cont] + container + b"\0" * (new_size % 4))
    got, counts = _read_with_deadline(p)
    assert [f[1] for f in got] == [0x100, 0x101]
    assert counts["malformed_frames"] == 1 and counts["frames"] == 2


def test_kona_gvret_decodes_through_the_dbc_path():
    dbc_text = (KONA / "pcan.dbc").read_text()
    assert "BU_:" not in dbc_text  # the file stays as published; the sections are added in memory
    db = load_dbc(KONA / "pcan.dbc")
    assert db.get_message_by_frame_id(0x595).name == "Batt_HV_Status"
    spec = load_pack(KONA / "kona.pack.json")
    log = read_log(KONA / "230112-7-2019-pcan-ccan-power-off-on-ready-off.csv.gz", spec, dbc=KONA / "pcan.dbc")
    assert log.counts["frames"] == 39546 and len(log) > 50
    pack_v = log.voltage_V[:, 0] * 98
    assert 340 < np.nanmedian(pack_v) < 370
    assert 0.3 < np.nanmedian(log.reference_soc) < 0.4
    assert 15 < np.nanmedian(log.temperature_degC) < 30
    assert np.nanmax(log.current_A) < 10
    res = PackEstimator(spec).run(log)
    assert np.isfinite(res.soc).all()


def _sim_can_run(spec, log, faults=None, hang_at=None, timeout_s=0.5):
    import can

    from cellsense.replay.device_sim import SimDevice
    from cellsense.replay.link import CanLink
    from cellsense.replay.targets import run_device

    chan = f"cellsense-test-{time.monotonic_ns()}"
    dev_bus = can.Bus(interface="virtual", channel=chan)
    dev = SimDevice(CanLink(bus=dev_bus, tx_id=0x7A1, rx_id=0x7A0)).start()
    est = PackEstimator(spec)
    soc0 = est.initial_soc(log)
    hook = None
    if hang_at is not None:
        def hook(k, sess):
            if k == hang_at:
                sess.debug(fr.DEBUG_HANG)
    try:
        run = run_device(est, log, soc0, CanLink(interface="virtual", channel=chan), "can:virtual", timeout_s=timeout_s,
                         retries=2, faults=faults, on_frame=hook)
    finally:
        dev.stop()
        dev_bus.shutdown()
    return est, soc0, run


def test_can_target_with_virtual_bus_matches_host_and_counts_faults():
    from cellsense.pack import PackLog
    from cellsense.replay.link import FaultPlan
    from cellsense.replay.targets import run_host

    spec = load_pack(FIX / "sim12s.pack.json")
    full = read_log(FIX / "sim12s.csv.gz", spec)
    n = 300
    log = PackLog(full.time_s[:n], full.current_A[:n], full.voltage_V[:n], full.temperature_degC[:n],
                  full.reference_soc[:n], full.source)
    plan = FaultPlan.random(n, corrupt_fraction=0.02, drop_fraction=0.01, seed=3)
    est, soc0, run = _sim_can_run(spec, log, faults=plan)
    host = run_host(est, log, soc0)
    assert run.error is None and run.completed == n
    assert np.array_equal(run.soc.view(np.uint32), host.soc.view(np.uint32))
    assert run.link["frames_corrupted"] == len(plan.corrupt_tx) == 6
    assert run.link["frames_dropped"] == len(plan.drop_tx) == 3


def test_device_that_stops_answering_is_reported_within_the_timeout():
    from cellsense.pack import PackLog

    spec = load_pack(FIX / "sim12s.pack.json")
    full = read_log(FIX / "sim12s.csv.gz", spec)
    log = PackLog(full.time_s[:100], full.current_A[:100], full.voltage_V[:100], full.temperature_degC[:100])
    t0 = time.monotonic()
    _, _, run = _sim_can_run(spec, log, hang_at=40, timeout_s=0.3)
    assert run.error_kind == "timeout" and run.error_frame == 40 and run.completed == 40
    assert run.detected_after_s < 0.3 * 3 + 0.5 and time.monotonic() - t0 < 10


# ---- QEMU (the replay firmware) ------------------------------------------------------------------
@needs_qemu
def test_qemu_10000_frames_with_1_percent_corrupted_counts_exactly():
    from cellsense.replay.cli import synthetic_pack_log
    from cellsense.replay.link import FaultPlan
    from cellsense.replay.targets import run_host, run_qemu

    spec, log = synthetic_pack_log(4, 9999 / 3600.0)
    assert len(log) == 10000
    est = PackEstimator(spec)
    soc0 = np.full(4, 0.9)
    plan = FaultPlan.random(len(log), corrupt_fraction=0.01, seed=11)
    run = run_qemu(est, log, soc0, image=IMAGE, timeout_s=1.0, faults=plan)
    assert run.error is None and run.completed == 10000
    assert run.injected["corrupt_tx"] == 100
    assert run.link["frames_corrupted"] == 100 and run.link["corrupted_to_device"] == 100
    host = run_host(est, log, soc0)
    assert np.array_equal(run.soc.view(np.uint32), host.soc.view(np.uint32))
    print(f"10,000 frames, 100 corrupted: {run.wall_s:.1f} s")


@needs_qemu
def test_qemu_killed_mid_run_is_reported_within_the_timeout():
    from cellsense.replay.cli import synthetic_pack_log
    from cellsense.replay.link import SerialLink
    from cellsense.replay.targets import Qemu, run_device

    spec, log = synthetic_pack_log(12, 2000 / 3600.0)
    est = PackEstimator(spec)
    with Qemu(IMAGE) as q:
        killed = {}

        def kill(k, sess):
            if k == 500:
                q.proc.kill()
                killed["t"] = time.monotonic()

        run = run_device(est, log, np.full(12, 0.9), SerialLink(q.url), "qemu", timeout_s=0.5, retries=2, on_frame=kill)
    took = time.monotonic() - killed["t"]
    assert run.error_kind in ("closed", "timeout") and run.error_frame == 500 and run.completed == 500
    assert took <= 0.5 * 3 + 0.5, f"kill reported after {took:.2f} s"
    print(f"killed device reported after {took:.3f} s ({run.error_kind})")


@needs_qemu
def test_cli_qemu_end_to_end_on_the_can_fixture(tmp_path):
    from cellsense.replay.cli import add_cli
    import argparse

    ap = argparse.ArgumentParser()
    add_cli(ap.add_subparsers(dest="command"))
    a = ap.parse_args(["replay", "--log", str(FIX / "sim12s.log.gz"), "--pack", str(FIX / "sim12s_can.pack.json"),
                       "--dbc", str(FIX / "sim12s.dbc"), "--target", "qemu", "--image", str(IMAGE),
                       "--out", str(tmp_path / "r"), "--no-plots"])
    assert a.func(a) == 0
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert rep["device"]["bit_identical"] and rep["device"]["completed"] == rep["frames"]
    assert rep["device"]["insn_per_pack_step"]["mean"] > 0
    assert "PASS" in (tmp_path / "r" / "report.md").read_text()


def test_cli_host_on_kona_writes_report(tmp_path):
    from cellsense.replay.cli import add_cli
    import argparse

    ap = argparse.ArgumentParser()
    add_cli(ap.add_subparsers(dest="command"))
    a = ap.parse_args(["replay", "--log", str(KONA / "230112-7-2019-pcan-ccan-power-off-on-ready-off.csv.gz"),
                       "--pack", str(KONA / "kona.pack.json"), "--dbc", str(KONA / "pcan.dbc"), "--target", "host",
                       "--out", str(tmp_path / "k")])
    assert a.func(a) == 0
    assert (tmp_path / "k" / "report.md").is_file() and (tmp_path / "k" / "results.csv").is_file()
    ref = json.loads((tmp_path / "k" / "report.json").read_text())["reference"]["host"]
    # the pack's filters take the cell estimator's measurement noise (docs/replay.md "Measurement noise"): the 10 Hz
    # capture no longer makes them over-confident. Against the car's own usable SOC: 2.14 % RMSE, 3.91 % max (the
    # constant 1 Hz sigma of before: 3.75 % / 7.03 %); a stand-in cell (chen2020), so the bar is loose.
    assert ref["rmse"] < 0.03 and ref["max_abs"] < 0.055, ref


@pytest.mark.parametrize("data", [b"\x01" * 254 + b"\x00" + b"\x02", b"\x01" * 254, b"\x01" * 253 + b"\x00",
                                  b"\x01" * 508 + b"\x00\x00", b"", b"\x00"])
def test_cobs_edge_cases(data):
    enc = fr.cobs_encode(data)
    assert 0 not in enc and fr.cobs_decode(enc) == data
