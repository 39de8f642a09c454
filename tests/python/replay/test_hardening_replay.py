"""Issue #12 items 4, 10, 11 (replay side) and "also seen" (replay readers): bus filtering of candump logs,
resampling bounded by the log, named errors instead of tracebacks, .asc lines skipped and counted, ambiguous
DBC signals, BOMs and underscores in CSV numbers."""
from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellsense.pack import PackFileError, load_pack, pack_from_dict
from cellsense._io import MissingExtraError
from cellsense.replay.readers import (LogReadError, MAX_SAMPLES_PER_FRAME, channel_number,
                                      read_can_frames, read_log)

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"


def _can_spec(**extra):
    d = json.loads((FIX / "sim12s_can.pack.json").read_text())
    for k, v in extra.items():
        d[k] = {**d.get(k, {}), **v}
    return pack_from_dict(d, source="sim12s_can.pack.json")


def _candump_lines(n: int | None = None) -> list[str]:
    lines = gzip.open(FIX / "sim12s.log.gz", "rt").read().splitlines()
    return lines[:n] if n else lines


# ---- item 4: candump with can0 and can1, "can": {"bus": 0} ------------------------------------------------
def _two_bus_log(tmp_path: Path, n: int = 1200) -> Path:
    """The fixture's frames on can0, and the same ids on can1 carrying 2.0 V cells (a second pack / bus)."""
    out = []
    for ln in _candump_lines(n):
        out.append(ln.replace("vcan0", "can0"))
        m = re.match(r"\((\S+)\) \S+ (\w+)#(\w*)", ln)
        if m.group(2) in ("200", "201", "202"):
            two = (20000).to_bytes(2, "little").hex().upper() * 4  # 2.0000 V in every cell slot
            out.append(f"({float(m.group(1)) + 0.0005:.6f}) can1 {m.group(2)}#{two}")
    p = tmp_path / "twobus.log"
    p.write_text("\n".join(out) + "\n")
    return p


def test_candump_bus_filter(tmp_path):
    p = _two_bus_log(tmp_path)
    spec0 = _can_spec(can={"bus": 0})
    log = read_log(p, spec0, dbc=FIX / "sim12s.dbc")
    assert np.nanmin(log.voltage_V) > 3.0, "bus 1 frames (2.0 V) leaked into bus 0"
    spec1 = _can_spec(can={"bus": 1})
    with pytest.raises(LogReadError, match="never all appeared"):  # bus 1 has no PackStatus frames
        read_log(p, spec1, dbc=FIX / "sim12s.dbc")
    ref = read_log(p.with_name("one.log") if False else _one_bus(tmp_path), spec0, dbc=FIX / "sim12s.dbc")
    np.testing.assert_array_equal(log.voltage_V, ref.voltage_V)


def _one_bus(tmp_path: Path, n: int = 1200) -> Path:
    p = tmp_path / "onebus.log"
    p.write_text("\n".join(ln.replace("vcan0", "can0") for ln in _candump_lines(n)) + "\n")
    return p


@pytest.mark.parametrize("name,bus", [("can0", 0), ("can1", 1), ("vcan12", 12), ("slcan3", 3), (2, 2), ("any", None),
                                      (None, None), ("", None)])
def test_channel_number(name, bus):
    assert channel_number(name) == bus


@settings(max_examples=50, deadline=None)
@given(buses=st.lists(st.integers(0, 3), min_size=30, max_size=30), want=st.integers(0, 3))
def test_bus_filter_property(tmp_path_factory, buses, want):
    """Frames of random buses: only the selected bus's frames reach the decoder (the class behind item 4)."""
    d = tmp_path_factory.mktemp("bus")
    lines = _candump_lines(120)
    out = [re.sub(r"vcan0", f"can{buses[k % 30]}", ln) for k, ln in enumerate(lines)]
    p = d / "x.log"
    p.write_text("\n".join(out) + "\n")
    frames, _ = read_can_frames(p)
    assert {f[3] for f in frames} <= set(buses)
    from cellsense.replay import readers

    seen = []
    orig = readers._check_resample_size
    readers._check_resample_size = lambda fr, *a: seen.extend(fr) or orig(fr, *a)
    try:
        read_log(p, _can_spec(can={"bus": want}), dbc=FIX / "sim12s.dbc")
    except LogReadError:
        pass
    finally:
        readers._check_resample_size = orig
    assert all(f[3] == want for f in seen)


# ---- item 10: resampling bounded by the log ---------------------------------------------------------------
def test_clock_jump_with_huge_gap_refused_quickly(tmp_path):
    lines = _candump_lines(400)
    jumped = []
    for k, ln in enumerate(lines):
        if k >= 200:
            m = re.match(r"\((\S+)\)(.*)", ln)
            ln = f"({float(m.group(1)) + 1e9:.6f}){m.group(2)}"
        jumped.append(ln)
    p = tmp_path / "jump.log"
    p.write_text("\n".join(jumped) + "\n")
    spec = _can_spec(gaps={"gap_s": 1e12, "reinit_after_s": 1e12})
    t0 = time.perf_counter()
    with pytest.raises(LogReadError, match=r"resampling would make .* samples from 400 frames.*clock jump"):
        read_log(p, spec, dbc=FIX / "sim12s.dbc")
    assert time.perf_counter() - t0 < 5.0


def test_tiny_sample_period_refused_quickly(tmp_path):
    p = _one_bus(tmp_path, 1200)  # 300 s
    spec = _can_spec(can={"sample_period_s": 1e-7, "stale_s": 5.0})
    t0 = time.perf_counter()
    with pytest.raises(LogReadError, match="sample_period_s"):
        read_log(p, spec, dbc=FIX / "sim12s.dbc")
    assert time.perf_counter() - t0 < 5.0


def test_normal_settings_still_resample(tmp_path):
    p = _one_bus(tmp_path, 1200)
    log = read_log(p, _can_spec(can={"sample_period_s": 0.1, "stale_s": 5.0}), dbc=FIX / "sim12s.dbc")
    assert len(log) <= MAX_SAMPLES_PER_FRAME * 1200 and len(log) > 2000


@settings(max_examples=30, deadline=None)
@given(period=st.floats(1e-9, 100.0), gap=st.floats(1.0, 1e15), jump=st.floats(0.0, 1e12))
def test_resample_size_always_bounded(tmp_path_factory, period, gap, jump):
    d = tmp_path_factory.mktemp("rs")
    lines = _candump_lines(200)
    out = []
    for k, ln in enumerate(lines):
        m = re.match(r"\((\S+)\)(.*)", ln)
        out.append(f"({float(m.group(1)) + (jump if k >= 100 else 0.0):.6f}){m.group(2)}")
    p = d / "x.log"
    p.write_text("\n".join(out) + "\n")
    try:
        spec = _can_spec(can={"sample_period_s": period, "stale_s": 5.0}, gaps={"gap_s": gap, "reinit_after_s": gap})
    except PackFileError:
        return
    t0 = time.perf_counter()
    try:
        log = read_log(p, spec, dbc=FIX / "sim12s.dbc")
        assert len(log) <= MAX_SAMPLES_PER_FRAME * 200
    except LogReadError as e:
        assert str(p) in str(e)
    assert time.perf_counter() - t0 < 10.0


# ---- item 11: named errors instead of tracebacks ---------------------------------------------------------
def test_dbc_scale_1e308_named(tmp_path):
    dbc = tmp_path / "big.dbc"
    dbc.write_text((FIX / "sim12s.dbc").read_text().replace("(0.0001,0) [0|6.5535]", "(1e308,0) [0|6.5535]", 1))
    p = _one_bus(tmp_path, 400)
    with pytest.raises(LogReadError, match="Cell01.*scale"):
        read_log(p, _can_spec(), dbc=dbc)


def test_gvret_401_digit_timestamp_counted(tmp_path):
    p = tmp_path / "g.csv"
    rows = ["Time Stamp,ID,Extended,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8",
            "1000000,100,false,0,8,02,00,41,22,03,00,00,00",
            "9" * 401 + ",100,false,0,8,02,00,41,22,03,00,00,00",
            "1_000,100,false,0,8,02,00,41,22,03,00,00,00"]
    p.write_text("\n".join(rows) + "\n")
    frames, counts = read_can_frames(p)
    assert len(frames) == 1 and counts["malformed_lines"] == 2


@pytest.mark.parametrize("suffix", [".log.gz", ".csv.gz"])
def test_truncated_gz_named(tmp_path, suffix):
    src = FIX / ("sim12s.log.gz" if suffix == ".log.gz" else "sim12s.csv.gz")
    data = src.read_bytes()
    p = tmp_path / f"cut{suffix}"
    p.write_bytes(data[: len(data) // 2])
    spec = _can_spec() if suffix == ".log.gz" else load_pack(FIX / "sim12s.pack.json")
    with pytest.raises(LogReadError, match=r"cut.*truncated or corrupt gzip"):
        read_log(p, spec, dbc=FIX / "sim12s.dbc" if suffix == ".log.gz" else None)


def test_missing_python_can_named(tmp_path, monkeypatch, capsys):
    import sys

    for m in [m for m in sys.modules if m == "can" or m.startswith("can.") or m == "cantools"]:
        monkeypatch.delitem(sys.modules, m)
    monkeypatch.setitem(sys.modules, "can", None)  # "not installed": import raises ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "cantools", None)
    from cellsense.replay import readers

    readers._guarded_asc_reader.cache_clear()
    readers._guarded_blf_reader.cache_clear()
    p = _one_bus(tmp_path, 40)
    with pytest.raises(MissingExtraError, match=r"cellsense\[replay\]"):
        read_can_frames(p)
    from cellsense.cli import main

    rc = main(["replay", "--log", str(p), "--pack", str(FIX / "sim12s_can.pack.json"), "--dbc", str(FIX / "sim12s.dbc"),
               "--out", str(tmp_path / "o"), "--no-plots"])
    err = capsys.readouterr().err
    assert rc == 2 and "cellsense[replay]" in err, err  # 2 = bad input / setup, not 1 (device diverged)


def test_pack_with_spme_cell_named():
    d = json.loads((FIX / "sim12s_can.pack.json").read_text())
    d["cell"] = "chen2020_spme"
    with pytest.raises(PackFileError, match='"cell".*equivalent-circuit'):
        pack_from_dict(d, source="p.json")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"cellsense pack file": ' + "9" * 401 + "}",
                                  '{"cellsense pack file": 1, "topology": {"series": 1}, "can": {"sample_period_s": '
                                  + "9" * 401 + "}}", "[]", "null", "3"])
def test_pack_file_hostile_json_named(tmp_path, text):
    p = tmp_path / "p.json"
    p.write_text(text)
    with pytest.raises(PackFileError, match="p.json"):
        load_pack(p)


# ---- also seen ----------------------------------------------------------------------------------------
def _asc(lines: list[str]) -> str:
    head = "date Mon Jan 1 00:00:00.000 am 2024\nbase hex  timestamps absolute\ninternal events logged\nBegin Triggerblock\n"
    return head + "\n".join(lines) + "\nEnd TriggerBlock\n"


def test_one_bad_asc_line_skipped_and_counted(tmp_path):
    good = [f"   {k * 0.1:.6f} 1  100             Rx   d 8 02 00 41 22 03 00 00 {k % 256:02X}" for k in range(300)]
    bad = list(good)
    bad[27] = "   2.700000 1  100             Rx   d 8 02 00 41 22 ZZ 00 00 00"  # bad data byte
    p = tmp_path / "x.asc"
    p.write_text(_asc(bad))
    frames, counts = read_can_frames(p)
    assert len(frames) == 299 and counts["malformed_lines"] == 1 and counts["frames"] == 299
    p.write_text(_asc(good))
    frames, counts = read_can_frames(p)
    assert len(frames) == 300 and not counts.get("malformed_lines")


def test_dbc_signal_in_two_messages_reported_ambiguous(tmp_path):
    text = (FIX / "sim12s.dbc").read_text()
    text = text.replace('BO_ 256 PackStatus: 8 BMS\n', 'BO_ 256 PackStatus: 8 BMS\n').replace(
        ' SG_ Counter : 56|8@1+ (1,0) [0|255] "" HIL', ' SG_ Counter : 56|8@1+ (1,0) [0|255] "" HIL')
    text += '\nBO_ 600 Other: 8 BMS\n SG_ PackTemp : 0|8@1+ (1,-40) [-40|215] "degC" HIL\n'
    dbc = tmp_path / "dup.dbc"
    dbc.write_text(text)
    with pytest.raises(LogReadError, match=r"PackTemp is ambiguous.*PackStatus, Other.*Message\.Signal"):
        read_log(_one_bus(tmp_path, 40), _can_spec(), dbc=dbc)


def test_pack_csv_bom_and_underscores(tmp_path):
    spec = load_pack(FIX / "sim12s.pack.json")
    text = gzip.open(FIX / "sim12s.csv.gz", "rt").read()
    p = tmp_path / "bom.csv"
    p.write_text("\ufeff" + text, encoding="utf-8")
    log = read_log(p, spec)
    ref = read_log(FIX / "sim12s.csv.gz", spec)
    assert len(log) == len(ref)
    lines = text.splitlines()
    head, row = lines[0].split(","), lines[1].split(",")
    row[head.index(spec.time.name)] = "1_0"
    p2 = tmp_path / "us.csv"
    p2.write_text("\n".join([lines[0], ",".join(row)] + lines[2:]) + "\n")
    log2 = read_log(p2, spec)
    assert log2.counts["malformed_lines"] == 1 and len(log2) == len(ref) - 1
