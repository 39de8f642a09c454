"""Property tests for the replay edge: the log readers (pack CSV, candump .log, SavvyCAN GVRET CSV, Vector
.asc and .blf), the DBC mapping, the pack-file loader and the HIL frame codec (docs/hardening.md).

Malformed input never raises anything but the documented errors (LogReadError / PackFileError naming the
file, and the line or field); what the readers skip is counted, and the counts add up to the input; a
corrupted frame is never decoded as a valid one."""
from __future__ import annotations

import copy
import csv
import io
import json
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cellsense.pack import PackFileError, load_pack, pack_from_dict
from cellsense.replay import framing as fr
from cellsense.replay.readers import LogReadError, decode_frames, load_dbc, read_can_frames, read_pack_csv

ROOT = Path(__file__).resolve().parents[3]
FIX = ROOT / "tests" / "fixtures" / "pack"
SPEC = load_pack(FIX / "sim12s.pack.json")
CSPEC = load_pack(FIX / "sim12s_can.pack.json")
DBC_PATH = FIX / "sim12s.dbc"
DB = load_dbc(DBC_PATH)
PACK_DICT = json.loads((FIX / "sim12s.pack.json").read_text())
HEADER = ["time_s", "pack_current_A", "temp_degC", "bms_soc_pct"] + [f"cell{k:02d}_V" for k in range(1, 13)]
IDS = [m.frame_id for m in DB.messages]

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


def _tmp(suffix: str, data: bytes | str) -> Path:
    f = tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False)
    f.write(data.encode("utf-8") if isinstance(data, str) else data)
    f.close()
    return Path(f.name)


def _names_file(msg: str, path: Path) -> bool:
    return str(path) in msg or path.name in msg


# ---- pack CSV ----------------------------------------------------------------------------------------------
_num_tok = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**6, 10**6).map(str),
                     st.sampled_from(["", " ", "x", "nan", "1e999", "--1", "4.0.1", "0x10", "1_0"]))
_row = st.one_of(
    st.lists(_num_tok, min_size=len(HEADER), max_size=len(HEADER)),       # the right shape
    st.lists(_num_tok, min_size=0, max_size=len(HEADER) + 3),             # any shape
)


@given(st.lists(_row, min_size=0, max_size=40))
@FAST
def test_pack_csv_counts_add_up(rows):
    text = ",".join(HEADER) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    p = _tmp(".csv", text)
    try:
        records = [r for r in csv.reader(io.StringIO(",".join(HEADER) + "\n" + "".join(",".join(r) + "\n" for r in rows)))][1:]
        nonblank = [r for r in records if r and not all(not x.strip() for x in r)]
        try:
            log = read_pack_csv(p, SPEC)
        except LogReadError as e:
            assert _names_file(str(e), p) and "no data rows" in str(e)
            return
        assert log.counts["rows"] == len(log) and len(log) >= 1
        assert log.counts["rows"] + log.counts.get("malformed_lines", 0) == len(nonblank)
        assert log.voltage_V.shape == (len(log), 12)
    finally:
        p.unlink()


@given(st.binary(max_size=2000), st.booleans())
@FAST
def test_pack_csv_random_bytes(body, with_header):
    data = ((",".join(HEADER) + "\n").encode() if with_header else b"") + body
    p = _tmp(".csv", data)
    try:
        try:
            read_pack_csv(p, SPEC)
        except LogReadError as e:
            assert _names_file(str(e), p)
            if "missing column" in str(e):
                assert "line 1" in str(e)
    finally:
        p.unlink()


# ---- candump .log ------------------------------------------------------------------------------------------
_hexd = st.binary(min_size=0, max_size=8).map(lambda b: b.hex().upper())
_good_line = st.builds(lambda t, i, d: f"({t:.6f}) vcan0 {i:03X}#{d}", st.floats(0, 1e9), st.sampled_from(IDS), _hexd)
_bad_line = st.one_of(st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s),
                      st.builds(lambda t, i, d: f"({t}) vcan0 {i}#{d}", st.text("0123456789.()", max_size=6),
                                st.text("0123456789ABCDEFXg", max_size=10), st.text("0123456789ABCDEFR#", max_size=20)))


def _split_lines(text: str) -> list[str]:
    return [ln for ln in io.StringIO(text, newline="") if ln.strip()]


@given(st.lists(st.one_of(_good_line, _bad_line), max_size=40))
@FAST
def test_candump_counts_add_up(lines):
    text = "".join(ln + "\n" for ln in lines)
    p = _tmp(".log", text)
    try:
        frames, counts = read_can_frames(p)
        n = len(_split_lines(p.read_text(encoding="utf-8", errors="replace")))
        assert counts["frames"] == len(frames)
        assert counts.get("malformed_lines", 0) + counts["frames"] + counts.get("error_or_remote_frames", 0) + \
            counts.get("frames_dropped_clock_glitch", 0) == n  # a burst ahead of the clock dropped (capture.py)
        for ts, fid, data, ch in frames:
            assert isinstance(ts, float) and 0 <= fid and len(data) <= 64
        _decode_or_documented(frames, counts, p)
    finally:
        p.unlink()


@given(st.binary(max_size=1500))
@FAST
def test_candump_random_bytes(body):
    p = _tmp(".log", body)
    try:
        frames, counts = read_can_frames(p)
        assert counts["frames"] == len(frames)
    finally:
        p.unlink()


# ---- GVRET CSV ---------------------------------------------------------------------------------------------
GVRET_HEAD = "Time Stamp,ID,Extended,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8"
_gv_good = st.builds(lambda t, i, bus, d: f"{t},{i:08X},false,{bus},{len(d)}," + ",".join(f"{b:02X}" for b in d)
                     + "," * (8 - len(d)), st.integers(0, 10**12), st.sampled_from(IDS), st.integers(0, 2),
                     st.binary(max_size=8))
_gv_bad = st.lists(st.text("0123456789ABCDEFxg- .", max_size=8), max_size=15).map(",".join)


@given(st.lists(st.one_of(_gv_good, _gv_bad), max_size=40))
@FAST
def test_gvret_counts_add_up(lines):
    text = GVRET_HEAD + "\n" + "".join(ln + "\n" for ln in lines)
    p = _tmp(".csv", text)
    try:
        frames, counts = read_can_frames(p)
        n = sum(1 for _ in csv.reader(io.StringIO(text))) - 1
        assert counts["frames"] == len(frames)
        assert counts.get("malformed_lines", 0) + len(frames) + counts.get("frames_dropped_clock_glitch", 0) == n
        for ts, fid, data, bus in frames:
            assert len(data) <= 8 and isinstance(bus, int)
        _decode_or_documented(frames, counts, p)
    finally:
        p.unlink()


@given(st.binary(max_size=1500), st.booleans())
@FAST
def test_gvret_random_bytes(body, with_header):
    p = _tmp(".csv", ((GVRET_HEAD + "\n").encode() if with_header else b"") + body)
    try:
        try:
            frames, counts = read_can_frames(p)
        except LogReadError as e:
            assert _names_file(str(e), p) and ("line 1" in str(e) or "empty file" in str(e))
            return
        assert counts["frames"] == len(frames)
    finally:
        p.unlink()


# ---- Vector .asc -------------------------------------------------------------------------------------------
ASC_HEAD = "date Mon Jan 1 00:00:00.000 am 2024\nbase hex  timestamps absolute\ninternal events logged\nBegin Triggerblock\n"
_asc_good = st.builds(lambda t, i, d: f"   {t:.6f} 1  {i:X}             Rx   d {len(d)} " + " ".join(f"{b:02X}" for b in d),
                      st.floats(0, 1e5), st.sampled_from(IDS), st.binary(max_size=8))
_asc_bad = st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s)


@given(st.lists(st.one_of(_asc_good, _asc_bad), max_size=30), st.binary(max_size=200))
@FAST
def test_asc_never_raises_undocumented(lines, tail):
    p = _tmp(".asc", (ASC_HEAD + "".join(ln + "\n" for ln in lines)).encode() + tail)
    try:
        frames, counts = read_can_frames(p)
        assert counts["frames"] == len(frames) and counts.get("malformed_frames", 0) <= 1
        _decode_or_documented(frames, counts, p)
    finally:
        p.unlink()


# ---- Vector .blf -------------------------------------------------------------------------------------------
def _blf(frames, level: int) -> Path:
    import can

    f = tempfile.NamedTemporaryFile("wb", suffix=".blf", delete=False)
    f.close()
    w = can.BLFWriter(f.name, compression_level=level)
    for ts, fid, data, ch in frames:
        w.on_message_received(can.Message(timestamp=ts, arbitration_id=fid, data=data, is_extended_id=False, channel=ch))
    w.stop()
    return Path(f.name)


_blf_frames = st.lists(st.tuples(st.floats(1.6e9, 1.8e9), st.sampled_from(IDS + [0x7FF, 0]), st.binary(max_size=8),
                                 st.sampled_from([0, 1])), max_size=40).map(lambda fs: sorted(fs, key=lambda f: f[0]))


@given(_blf_frames, st.sampled_from([0, 6]))
@FAST
def test_blf_round_trip(frames, level):
    p = _blf(frames, level)
    try:
        got, counts = read_can_frames(p)
        assert [(f[1], f[2], f[3]) for f in got] == [(fid, d, ch) for _, fid, d, ch in frames]
        assert all(abs(g[0] - f[0]) < 1e-5 for g, f in zip(got, frames))
        assert counts["frames"] == len(frames) and not counts.get("malformed_frames")
    finally:
        p.unlink()


@given(_blf_frames, st.sampled_from([0, 6]), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
       st.one_of(st.none(), st.floats(0, 1)))
@FAST
def test_blf_mutations_never_raise_undocumented(frames, level, overwrites, cut):
    # A valid file with bytes overwritten (sizes, types, signatures, header fields, payload) and possibly truncated.
    p = _blf(frames, level)
    try:
        data = bytearray(p.read_bytes())
        for at, value in overwrites:
            data[min(int(at * len(data)), len(data) - 1)] = value
        if cut is not None:
            data = data[:int(cut * len(data))]
        p.write_bytes(bytes(data))
        try:
            got, counts = read_can_frames(p)
        except LogReadError as e:
            assert _names_file(str(e), p) and "BLF" in str(e)
            return
        assert counts["frames"] == len(got) and counts.get("malformed_frames", 0) <= 1
        _decode_or_documented(got, counts, p)
    finally:
        p.unlink()


@given(_blf_frames.filter(lambda fs: len(fs) >= 2), st.sampled_from([0, 6]), st.data())
@FAST
def test_blf_object_of_size_zero_keeps_the_frames_before_it(frames, level, data):
    # python-can's reader would parse such an object forever (docs/hardening.md); ours stops there.
    import struct
    import zlib

    p = _blf(frames, level)
    try:
        raw = p.read_bytes()
        cont = raw.index(b"LOBJ", struct.unpack_from("<I", raw, 4)[0])
        size = struct.unpack_from("<I", raw, cont + 8)[0]
        method = struct.unpack_from("<H", raw, cont + 16)[0]
        inner = bytearray(zlib.decompress(raw[cont + 32:cont + size]) if method == 2 else raw[cont + 32:cont + size])
        k = data.draw(st.integers(0, len(frames) - 1))
        struct.pack_into("<I", inner, 48 * k + 8, 0)  # every CAN object BLFWriter writes is 48 bytes
        struct.pack_into("<I", inner, 48 * k + 12, data.draw(st.sampled_from([1, 86, 65, 10])))
        body = zlib.compress(bytes(inner)) if method == 2 else bytes(inner)
        head = struct.pack("<4sHHII", b"LOBJ", 16, 1, 32 + len(body), 10) + raw[cont + 16:cont + 32]
        p.write_bytes(raw[:cont] + head + body + b"\0" * ((32 + len(body)) % 4))
        got, counts = read_can_frames(p)
        assert [(f[1], f[2]) for f in got] == [(fid, d) for _, fid, d, _ in frames[:k]]
        assert counts["malformed_frames"] == 1
    finally:
        p.unlink()


# ---- DBC mapping -------------------------------------------------------------------------------------------
def _decode_or_documented(frames, counts, path):
    counts = Counter(counts)
    before = counts.get("malformed_frames", 0)
    carrying = sum(1 for f in frames if f[1] in IDS)
    try:
        log = decode_frames(frames, counts, CSPEC, DB, source=str(path))
    except LogReadError as e:
        assert _names_file(str(e), path)
        return
    assert counts["decoded_frames"] + counts.get("malformed_frames", 0) - before == carrying
    assert counts["samples"] == len(log) and log.voltage_V.shape[1] == 12


_frame = st.tuples(st.floats(0, 1e4), st.sampled_from(IDS + [0x7FF, 0]), st.binary(max_size=10),
                   st.sampled_from([None, 0, 1]))


@given(st.lists(_frame, max_size=300))
@FAST
def test_dbc_decode_counts_add_up(frames):
    _decode_or_documented(frames, Counter(frames=len(frames)), Path("<fuzz-frames>"))


DBC_TEXT = DBC_PATH.read_text()


@given(st.integers(0, len(DBC_TEXT)), st.integers(0, 40), st.text(max_size=20))
@FAST
def test_dbc_mutations_raise_only_log_read_error(at, cut, insert):
    p = _tmp(".dbc", DBC_TEXT[:at] + insert + DBC_TEXT[at + cut:])
    try:
        try:
            db = load_dbc(p)
        except LogReadError as e:
            assert _names_file(str(e), p) and "DBC" in str(e)
            return
        assert db is not None
    finally:
        p.unlink()


def test_missing_dbc_names_the_file(tmp_path):
    with pytest.raises(LogReadError, match="nope.dbc"):
        load_dbc(tmp_path / "nope.dbc")


# ---- pack file loader --------------------------------------------------------------------------------------
_json_val = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
                         lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                         max_leaves=8)


def _paths(d, prefix=()):
    yield prefix
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for k, v in enumerate(d):
            yield from _paths(v, prefix + (k,))


ALL_PATHS = [p for p in _paths(PACK_DICT) if p]


@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), _json_val, st.booleans()), min_size=1, max_size=3))
@FAST
def test_pack_dict_mutations(muts):
    d = copy.deepcopy(PACK_DICT)
    for path, val, delete in muts:
        node = d
        try:
            for k in path[:-1]:
                node = node[k]
            if delete:
                del node[path[-1]]
            else:
                node[path[-1]] = val
        except (KeyError, IndexError, TypeError):
            continue
    try:
        spec = pack_from_dict(d, source="fuzz.pack.json")
    except PackFileError as e:
        msg = str(e)
        assert msg.startswith("fuzz.pack.json: ")
        assert len(msg.split(": ", 2)) == 3  # source: where: message
        return
    assert spec.n_cells >= 1 and len(spec.signals()) >= 1


@given(st.binary(max_size=600))
@FAST
def test_pack_file_random_bytes(data):
    p = _tmp(".pack.json", data)
    try:
        with pytest.raises(PackFileError) as ei:
            load_pack(p)
        assert _names_file(str(ei.value), p)
    finally:
        p.unlink()


@given(st.integers(0, 2000), st.integers(0, 5), st.text(max_size=5))
@FAST
def test_pack_file_text_mutations(at, cut, insert):
    text = (FIX / "sim12s.pack.json").read_text()
    at = min(at, len(text))
    p = _tmp(".pack.json", text[:at] + insert + text[at + cut:])
    try:
        try:
            load_pack(p)
        except PackFileError as e:
            assert _names_file(str(e), p)
            if "invalid JSON" in str(e):
                assert re.search(r"line \d+, column \d+", str(e))
    finally:
        p.unlink()


# ---- frame codec -------------------------------------------------------------------------------------------
_payload = st.binary(max_size=300)


@given(st.integers(0, 255), st.integers(0, 0xFFFF), _payload)
@settings(max_examples=300, deadline=None)
def test_frame_round_trip(ftype, seq, payload):
    wire = fr.encode(ftype, seq, payload)
    assert wire[-1] == 0 and 0 not in wire[:-1]
    f = fr.decode_body(wire[:-1])
    assert (f.type, f.seq, f.payload) == (ftype, seq, payload)
    out = fr.Decoder().feed(wire)
    assert len(out) == 1 and out[0] == f


@given(st.integers(0, 255), st.integers(0, 0xFFFF), _payload, st.data())
@settings(max_examples=500, deadline=None)
def test_single_byte_corruption_always_detected(ftype, seq, payload, data):
    wire = fr.encode(ftype, seq, payload)
    enc = bytearray(wire[:-1])
    i = data.draw(st.integers(0, len(enc) - 1))
    new = data.draw(st.integers(1, 255).filter(lambda v: v != enc[i]))  # 0 would split the frame (tested below)
    enc[i] = new
    with pytest.raises(fr.FrameError):
        fr.decode_body(bytes(enc))


@given(st.integers(0, 255), st.integers(0, 0xFFFF), _payload, st.data())
@settings(max_examples=200, deadline=None)
def test_corruption_in_a_stream_never_yields_a_wrong_frame(ftype, seq, payload, data):
    wire = bytearray(fr.encode(ftype, seq, payload))
    nflip = data.draw(st.integers(1, 4))
    for _ in range(nflip):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] ^= data.draw(st.integers(1, 255))
    out = fr.Decoder().feed(bytes(wire) + b"\x00")
    good = [x for x in out if isinstance(x, fr.Frame)]
    # Anything decoded carries a matching CRC; a frame different from the sent one would be a CRC-32 collision
    # (probability 2^-32 per decoded candidate), so none may appear.
    for f in good:
        assert (f.type, f.seq, f.payload) == (ftype, seq, payload)
    assert all(isinstance(x, (fr.Frame, fr.FrameError)) for x in out)


@given(st.binary(max_size=3000))
@settings(max_examples=200, deadline=None)
def test_decoder_random_stream(data):
    for x in fr.Decoder().feed(data):
        if isinstance(x, fr.Frame):  # only a body whose CRC matched: it re-encodes to the same frame
            assert fr.decode_body(fr.encode(x.type, x.seq, x.payload)[:-1]) == x
        else:
            assert isinstance(x, fr.FrameError) and x.kind in ("framing", "crc")
