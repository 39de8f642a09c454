"""Coverage-guided fuzzing (atheris / libFuzzer) of the Python input edge: the cell-file loader, the pack-file
loader, the cell-log CSV reader and the replay log readers (pack CSV, candump .log, SavvyCAN GVRET CSV, Vector
.asc and .blf, the DBC loader) and saved estimator states (the JSON `--state-in` reads: SohEstimator.restore_state).

    python3 tests/fuzz/fuzz_python.py <target> [libFuzzer flags, e.g. -max_total_time=30]
    targets: cell pack cell_log pack_csv candump gvret asc blf dbc state

Each input is written to one scratch file and read back through the public reader. Invariants: only the
documented error escapes (CellFileError or SpmeCellError / PackFileError / LogFormatError / LogReadError), and it
names the file; what the
readers skip is counted and the counts add up (rows + malformed lines = data records; decoded + malformed
frames = frames carrying the pack's signals). The seed corpus is made from the committed fixtures in
build/fuzz/corpus_py_<target>, recreated each run (scripts/fuzz.sh runs every target for a bounded time); the
blf seeds are small valid BLF files written by python-can's BLFWriter at start-up (one uncompressed container,
so that mutations reach the objects, and one zlib-compressed)."""
from __future__ import annotations

import csv
import gzip
import io
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import atheris
import numpy as np

with atheris.instrument_imports():
    from cellsense.cells.files import CellFileError
    from cellsense.cells.load import load_cell
    from cellsense.io.logs import LogFormatError, read_cell_log
    from cellsense.pack import PackFileError, load_pack
    from cellsense.replay.readers import LogReadError, decode_frames, load_dbc, read_can_frames, read_pack_csv
    from cellsense.cells.spme import SpmeCellError

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "pack"
SCRATCH = ROOT / "build" / "fuzz" / "scratch_py"  # set per target in main(); one reused file
SPEC = load_pack(FIX / "sim12s.pack.json")
CSPEC = load_pack(FIX / "sim12s_can.pack.json")
DB = load_dbc(FIX / "sim12s.dbc")
IDS = {m.frame_id for m in DB.messages}


def _write(suffix: str, data: bytes) -> Path:
    p = SCRATCH / f"input{suffix}"
    p.write_bytes(data)
    return p


def _names(e: Exception, p: Path) -> None:
    if str(p) not in str(e):
        raise AssertionError(f"error does not name the file: {e!r}")


def _decode(frames: list, counts: Counter, p: Path) -> None:
    counts = Counter(counts)
    before = counts.get("malformed_frames", 0)
    carrying = sum(1 for f in frames if f[1] in IDS)
    try:
        log = decode_frames(frames, counts, CSPEC, DB, source=str(p))
    except LogReadError as e:
        _names(e, p)
        return
    assert counts["decoded_frames"] + counts.get("malformed_frames", 0) - before == carrying, counts
    assert counts["samples"] == len(log)


_STATE_EST = None


def t_state(data: bytes) -> None:
    """A saved SOC + SOH state (what `cellsense estimate --soh --state-in` restores): either refused with a
    ValueError and the estimator unchanged, or accepted and then the estimator keeps a finite SOC within its
    bounds and a symmetric covariance through a step (issue #12 item 3: no absurd state is accepted)."""
    import json
    import math

    global _STATE_EST
    if _STATE_EST is None:
        from cellsense.estimators.soh import SohEstimator
        e = SohEstimator("chen2020", initial_soc=0.5)
        _STATE_EST = (e, e.save_state())
    est, base = _STATE_EST
    from cellsense._io import load_json_file
    from cellsense.evaluate.estimate import StateFileError
    p = _write(".state.json", data)
    try:  # the reader `cellsense estimate --state-in` uses: a value, or StateFileError naming the file
        saved = load_json_file(p, "state file", StateFileError)
    except StateFileError as e:
        _names(e, p)
        saved = None
    if saved is None:
        # not JSON: use the bytes to overwrite fields of a valid state with fuzzed values (any float,
        # NaN / Inf included, or another type), so every field's bounds are reached
        fdp = atheris.FuzzedDataProvider(data)
        saved = json.loads(json.dumps(base))
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            d = saved
            keys = ["x", "P", "hysteresis_sign", "last_time_s", "soh"]
            key = keys[fdp.ConsumeIntInRange(0, len(keys) - 1)]
            if key == "soh":
                d, key = d["soh"], sorted(d["soh"])[fdp.ConsumeIntInRange(0, len(d["soh"]) - 1)]
            kind = fdp.ConsumeIntInRange(0, 3)
            val = fdp.ConsumeRegularFloat() if kind < 2 else (fdp.ConsumeFloat() if kind == 2 else fdp.ConsumeUnicode(4))
            cur = d[key]
            if isinstance(cur, list) and cur and kind < 3:
                flat = cur if not isinstance(cur[0], list) else cur[fdp.ConsumeIntInRange(0, len(cur) - 1)]
                flat[fdp.ConsumeIntInRange(0, len(flat) - 1)] = val
            else:
                d[key] = val
    before = json.dumps(est.save_state(), sort_keys=True)
    try:
        est.restore_state(saved)
    except ValueError:
        assert json.dumps(est.save_state(), sort_keys=True) == before, "a refused state changed the estimator"
        return
    try:
        s = est.settings
        soc = est.soc
        assert math.isfinite(soc) and s.soc_min <= soc <= s.soc_max, soc
        P = np.asarray(est.covariance)
        assert np.all(np.isfinite(P)) and np.array_equal(P, P.T)
        est.run(np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([3.7, 3.7]), np.array([25.0, 25.0]))
        soc = est.soc
        assert math.isfinite(soc) and s.soc_min <= soc <= s.soc_max, soc
        assert math.isfinite(est.capacity_Ah) and est.capacity_Ah > 0
    finally:
        est.restore_state(base)


def t_cell(data: bytes) -> None:
    p = _write(".json", data)
    try:
        load_cell(p)
    except (CellFileError, SpmeCellError) as e:  # SpmeCellError: a file with "model": "spme" (spme.py)
        _names(e, p)


def t_pack(data: bytes) -> None:
    p = _write(".pack.json", data)
    try:
        load_pack(p)
    except PackFileError as e:
        _names(e, p)


def t_cell_log(data: bytes) -> None:
    p = _write(".csv", data)
    try:
        log = read_cell_log(p)
    except LogFormatError as e:
        _names(e, p)
        return
    # what is returned is a log the estimator can be given: equal-length float columns (NaN, Inf and
    # backwards times are kept on purpose: the estimator rejects those steps and says so), and soc_true's
    # finite values within the reader's 0..1 tolerance
    n = len(log.time_s)
    assert n >= 1 and all(len(a) == n and a.dtype == np.float64
                          for a in (log.time_s, log.current_A, log.voltage_V, log.temperature_degC))
    if log.soc_true is not None:
        fin = log.soc_true[np.isfinite(log.soc_true)]
        assert len(log.soc_true) == n and np.all((fin >= -0.05) & (fin <= 1.05)), log.soc_true


def t_pack_csv(data: bytes) -> None:
    p = _write(".csv", data)
    try:
        log = read_pack_csv(p, SPEC)
    except LogReadError as e:
        _names(e, p)
        return
    text = data.decode("utf-8", errors="replace")
    records = list(csv.reader(io.StringIO(text, newline="")))[1:]
    nonblank = sum(1 for r in records if r and not all(not x.strip() for x in r))
    assert log.counts["rows"] == len(log)
    assert log.counts["rows"] + log.counts.get("malformed_lines", 0) == nonblank, (log.counts, nonblank)


def t_candump(data: bytes) -> None:
    p = _write(".log", data)
    frames, counts = read_can_frames(p)
    n = sum(1 for ln in io.StringIO(data.decode("utf-8", errors="replace"), newline="") if ln.strip())
    assert counts["frames"] == len(frames)
    # every line is a frame, a malformed line, an error / remote frame, or a frame of a dropped clock-glitch burst
    assert (counts.get("malformed_lines", 0) + len(frames) + counts.get("error_or_remote_frames", 0)
            + counts.get("frames_dropped_clock_glitch", 0) == n), (counts, n)
    _decode(frames, counts, p)


def t_gvret(data: bytes) -> None:
    p = _write(".csv", data)
    try:
        frames, counts = read_can_frames(p)
    except LogReadError as e:
        _names(e, p)
        return
    n = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))) - 1
    assert counts.get("malformed_lines", 0) + len(frames) + counts.get("frames_dropped_clock_glitch", 0) == n, (counts, n)
    _decode(frames, counts, p)


def t_asc(data: bytes) -> None:
    p = _write(".asc", data)
    frames, counts = read_can_frames(p)
    assert counts["frames"] == len(frames) and counts.get("malformed_frames", 0) <= 1
    _decode(frames, counts, p)


def t_blf(data: bytes) -> None:
    p = _write(".blf", data)
    try:
        frames, counts = read_can_frames(p)
    except LogReadError as e:  # not a BLF file at all (no file header)
        _names(e, p)
        return
    assert counts["frames"] == len(frames) and counts.get("malformed_frames", 0) <= 1, counts
    for ts, fid, payload, ch in frames:
        assert isinstance(ts, float) and 0 <= fid <= 0x1FFFFFFF and isinstance(payload, bytes), (ts, fid, payload)
        assert ch is None or isinstance(ch, int)
    _decode(frames, counts, p)


def t_dbc(data: bytes) -> None:
    p = _write(".dbc", data)
    try:
        load_dbc(p)
    except LogReadError as e:
        _names(e, p)


TARGETS = {"state": t_state, "cell": t_cell, "pack": t_pack, "cell_log": t_cell_log, "pack_csv": t_pack_csv, "candump": t_candump, "gvret": t_gvret,
           "asc": t_asc, "blf": t_blf, "dbc": t_dbc}


def _blf_seeds() -> list[bytes]:
    """Small valid BLF files written by python-can: CAN frames carrying the pack's signals (ids 0x100,
    0x200 of sim12s.dbc), a remote frame, an error frame and a CAN FD frame; uncompressed and zlib."""
    import tempfile

    import can

    msgs = [can.Message(timestamp=1700000000.0, arbitration_id=0x100, data=bytes.fromhex("0200412203000000"),
                        is_extended_id=False, channel=0),
            can.Message(timestamp=1700000000.001, arbitration_id=0x200, data=bytes.fromhex("EC9DC69D679C889D"),
                        is_extended_id=False, channel=0),
            can.Message(timestamp=1700000000.002, arbitration_id=0x100, is_remote_frame=True, dlc=8,
                        is_extended_id=False, channel=0),
            can.Message(timestamp=1700000000.003, is_error_frame=True, channel=0),
            can.Message(timestamp=1700000000.004, arbitration_id=0x18FF0001, data=bytes(range(12)), is_fd=True,
                        is_extended_id=True, channel=1),
            can.Message(timestamp=1700000000.101, arbitration_id=0x100, data=bytes.fromhex("0300412203000000"),
                        is_extended_id=False, channel=0)]
    out = []
    with tempfile.TemporaryDirectory() as d:
        for level in (0, 6):
            p = Path(d) / f"seed{level}.blf"
            w = can.BLFWriter(str(p), compression_level=level)
            for m in msgs:
                w.on_message_received(m)
            w.stop()
            out.append(p.read_bytes())
    return out


def _seeds(target: str) -> list[bytes]:
    def head(path: Path, n: int) -> bytes:
        lines = gzip.open(path, "rb").read().splitlines(keepends=True) if path.suffix == ".gz" else \
            path.read_bytes().splitlines(keepends=True)
        return b"".join(lines[:n])

    if target == "cell":
        return [p.read_bytes() for p in sorted((ROOT / "models").glob("*.json")) if p.stat().st_size < 200_000][:3]
    if target == "pack":
        return [p.read_bytes() for p in sorted(FIX.glob("*.pack.json"))]
    if target == "cell_log":
        return [b"time_s,current_A,voltage_V,temperature_degC,soc_true\n0,0,4.18,25,1\n1,2.5,4.05,25.1,0.9998\n"
                b"2,-1.0,4.2,25.1,0.9999\n",
                b"time_s,current_A,voltage_V,temperature_degC\n0.0,0.0,3.7,25.0\n1.0,1.5e0,3.69,25.0\n"]
    if target == "pack_csv":
        return [head(FIX / "sim12s.csv.gz", 12)]
    if target == "candump":  # one bus, and two buses (can0 + can1, issue #12 item 4)
        one = head(FIX / "sim12s.log.gz", 30)
        two = b"".join(line.replace(b" vcan0 ", b" can1 " if k % 2 else b" can0 ")
                       for k, line in enumerate(one.splitlines(keepends=True)))
        return [one, two]
    if target == "state":
        import json
        from cellsense.estimators.soh import SohEstimator
        e = SohEstimator("chen2020", initial_soc=0.7)
        fresh = json.dumps(e.save_state()).encode()
        k = np.arange(30.0)
        e.run(k, np.where(k < 20, 2.0, 0.0), 3.9 - 0.001 * k, np.full(30, 25.0))
        return [fresh, json.dumps(e.save_state()).encode()]
    if target == "gvret":
        kona = ROOT / "python" / "cellsense" / "data" / "kona_ev_can"
        gv = sorted(kona.glob("*.csv.gz"))
        out = [b"Time Stamp,ID,Extended,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8\n"
               b"1000000,00000100,false,0,8,02,00,41,22,03,00,00,00\n"
               b"1001000,00000200,false,0,8,EC,9D,C6,9D,67,9C,88,9D\n"]
        if gv:
            out.append(head(gv[0], 20))
        return out
    if target == "asc":
        return [b"date Mon Jan 1 00:00:00.000 am 2024\nbase hex  timestamps absolute\ninternal events logged\n"
                b"Begin Triggerblock\n   0.000000 1  100             Rx   d 8 02 00 41 22 03 00 00 00\n"
                b"   0.001000 1  200             Rx   d 8 EC 9D C6 9D 67 9C 88 9D\nEnd TriggerBlock\n"]
    if target == "blf":
        return _blf_seeds()
    if target == "dbc":
        return [(FIX / "sim12s.dbc").read_bytes()]
    return []


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: fuzz_python.py {{{'|'.join(TARGETS)}}} [libFuzzer flags]")
    target = sys.argv.pop(1)
    if target == "blf":  # python-can is imported before (through cantools): instrument its BLF parser for coverage
        import logging

        from can.io.blf import BLFReader

        logging.getLogger("can.io.blf").setLevel(logging.ERROR)  # "Unknown object header version" per input
        for fn_name in ("__init__", "__iter__", "_parse_container", "_parse_data"):
            setattr(BLFReader, fn_name, atheris.instrument_func(getattr(BLFReader, fn_name)))
    corpus = ROOT / "build" / "fuzz" / f"corpus_py_{target}"
    shutil.rmtree(corpus, ignore_errors=True)  # fresh seeds each run, like the C harnesses
    corpus.mkdir(parents=True)
    for k, s in enumerate(_seeds(target)):
        (corpus / f"seed{k}").write_bytes(s)
    global SCRATCH
    # one reused scratch file per target, in RAM when there is /dev/shm (about 20x the executions of build/)
    shm = Path("/dev/shm")
    SCRATCH = (shm if shm.is_dir() else ROOT / "build" / "fuzz") / f"cellsense_fuzz_py_{target}_{os.getpid()}"  # per process: parallel runs share /dev/shm
    SCRATCH.mkdir(parents=True, exist_ok=True)
    import atexit
    atexit.register(shutil.rmtree, SCRATCH, True)
    fn = TARGETS[target]
    atheris.Setup(sys.argv + [str(corpus)], fn)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
