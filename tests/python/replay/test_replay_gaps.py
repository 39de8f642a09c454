"""Holes in a pack log reported with when and how long (replay/gaps.py, docs/replay.md "Gaps and silences"): a
logger gap under load lost its charge silently ("events: rest 1"), a CAN capture's gaps and silences were counts only,
and another bus's traffic showed only as frames minus decoded frames."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from cellsense.cli import main
from cellsense.pack import PackLog, load_pack, pack_from_dict
from cellsense.replay.gaps import logger_gap_warning, logger_gaps
from cellsense.replay.readers import read_log

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
PACK = {"cellsense pack file": 1, "topology": {"series": 2, "parallel": 2}, "cell": "chen2020",
        "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": "T", "time": "t"}


def _csv(tmp_path: Path, current_A: float, hole: tuple[int, int]) -> tuple[Path, Path]:
    """A 2s2p log at a constant current, 1 Hz for 900 s, rows hole[0] < t < hole[1] missing (the logger off)."""
    t = np.arange(900, dtype=float)
    keep = (t <= hole[0]) | (t >= hole[1])
    v = 3.9 - 1e-4 * current_A * t / 10 + 1e-3 * np.sin(t / 5.0)
    rows = [f"{t[k]:g},{current_A + 0.01 * np.sin(k):.3f},25,{v[k]:.4f},{v[k] + 0.001:.4f}" for k in np.flatnonzero(keep)]
    log = tmp_path / "gap.csv"
    log.write_text("t,i,T,v1,v2\n" + "\n".join(rows) + "\n")
    pack = tmp_path / "p.pack.json"
    pack.write_text(json.dumps(PACK))
    return log, pack


def _run(tmp_path: Path, capsys, log: Path, pack: Path) -> tuple[dict, str, str]:
    out = tmp_path / "o"
    rc = main(["replay", "--target", "host", "--quiet", "--no-plots", "--log", str(log), "--pack", str(pack),
               "--out", str(out)])
    assert rc == 0
    return json.loads((out / "report.json").read_text()), (out / "report.md").read_text(), capsys.readouterr().err


def test_a_logger_gap_under_load_is_reported_with_its_time_length_and_lost_charge(tmp_path, capsys):
    """60 s without rows during a 10 A discharge of a 2s2p pack: the core rests through it (event rest), 0.167 Ah per
    series element (0.083 Ah per cell) not counted; before, the report's warnings were []."""
    rep, md, err = _run(tmp_path, capsys, *_csv(tmp_path, 10.0, (400, 460)))
    assert rep["events"].get("rest") == 1
    w = [x for x in rep["warnings"] if x.startswith("logger gaps")]
    assert len(w) == 1 and "at t = 400.0 s (60 s)" in w[0] and "largest 60 s" in w[0] and "total 60 s" in w[0]
    assert "under load at both ends" in w[0] and "0.167 Ah per series element (0.0833 Ah per cell" in w[0]
    assert f"- **warning**: {w[0]}" in md and "logger gaps: 1 time step(s)" in err
    (g,) = rep["logger_gaps"]
    assert g["start_s"] == 400.0 and g["length_s"] == 60.0 and abs(g["uncounted_Ah"] - 10.0 * 60 / 3600) < 1e-3


def test_a_logger_gap_at_rest_loses_nothing(tmp_path, capsys):
    rep, _, _ = _run(tmp_path, capsys, *_csv(tmp_path, 0.0, (400, 460)))
    (w,) = [x for x in rep["warnings"] if x.startswith("logger gaps")]
    assert "at rest at both ends" in w and "uncounted" not in w
    assert rep["logger_gaps"][0]["uncounted_Ah"] == 0.0 == rep["logger_gaps"][0]["uncounted_max_Ah"]


def test_a_gap_loaded_at_one_end_gives_a_bound_not_an_estimate():
    spec = pack_from_dict(PACK, source="p.json")
    t = np.array([0.0, 1.0, 601.0, 602.0])
    i = np.array([20.0, 20.0, 0.0, 0.0])
    log = PackLog(t, i, np.full((4, 2), 3.7), np.full((4, 1), 25.0))
    (g,) = logger_gaps(spec, log, 30.0)
    assert g["uncounted_Ah"] == 0.0 and abs(g["uncounted_max_Ah"] - 20.0 * 600 / 3600) < 1e-9
    w = logger_gap_warning(spec, [g], 30.0)
    assert "one end only" in w and "up to 3.33 Ah per series element" in w and "nothing if the current stopped" in w
    assert not logger_gaps(spec, PackLog(t[:2], i[:2], np.full((2, 2), 3.7), np.full((2, 1), 25.0)), 30.0)


def test_can_bus_silences_and_other_traffic_are_named(tmp_path):
    """sim12s's capture with 5 s of its frames removed (t = 1500..1505 s, after its 600 s logger gap) (a bus silence), and on a second bus 3 ids at 10 Hz plus on the
    pack's bus an id the DBC does not define: the silence is a note with its time and length; the frames the pack does
    not use are counted by why, and the counts add up to the frames read."""
    lines = gzip.open(FIX / "sim12s.log.gz", "rt").read().splitlines()
    t0 = float(lines[0][1:lines[0].index(")")])
    out, ticks = [], 0
    for ln in lines:
        ts = float(ln[1:ln.index(")")])
        if 1500.0 < ts - t0 < 1505.0:
            continue
        out.append(ln)
        if ln.split()[2].startswith("100#"):  # once a second: other traffic
            ticks += 1
            out += [f"({ts + 0.1 * q + 0.0005:.6f}) vcan1 3A{q % 3}#0102030405060708" for q in range(10)]
            out.append(f"({ts + 0.0007:.6f}) vcan0 7FF#00")
    p = tmp_path / "other.log"
    p.write_text("\n".join(out) + "\n")
    spec_bus0 = pack_from_dict({**json.loads((FIX / "sim12s_can.pack.json").read_text()),
                                "can": {"sample_period_s": 1.0, "bus": 0}}, source=str(FIX / "sim12s_can.pack.json"),
                               base_dir=FIX)
    log = read_log(p, spec_bus0, dbc=FIX / "sim12s.dbc")
    c = log.counts
    assert c["frames_other_bus"] == 10 * ticks and c["frames_not_in_dbc"] == ticks > 1000
    assert c["frames"] == c["decoded_frames"] + c["frames_other_bus"] + c["frames_not_in_dbc"]
    (note,) = [n for n in log.notes if n.startswith("bus silences")]
    assert "bus silences: 1 " in note and "at t = 1500.0 s (5 s)" in note and "total 5 s" in note
    assert c["bus_silences"] == 1
    # the pack file without "can": {"bus"}: every bus's frames are decoded by id, so vcan1's ids not in the DBC
    c = read_log(p, load_pack(FIX / "sim12s_can.pack.json"), dbc=FIX / "sim12s.dbc").counts
    assert "frames_other_bus" not in c and c["frames_not_in_dbc"] == 11 * ticks
    assert c["frames"] == c["decoded_frames"] + c["frames_not_in_dbc"]


def test_the_pack_file_docs_example_loads_as_written():
    """docs/pack-file.md's example was abbreviated (series 12, two cells): copied, it was refused."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "pack-file.md").read_text()
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    spec = pack_from_dict(json.loads(block), source="pack-file.md")
    assert spec.series == spec.n_cells == len(json.loads(block)["cells"]) == 2
