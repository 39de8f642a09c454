"""docs/pack-file.md: an unknown key in any section of a pack file is refused, naming the file and the key path, as
the top level, cells[k] and a signal object already were. A typo ("gap": 5 for "gap_s", "filtr": "ukf") was ignored
and the default ran instead of what the file said."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cellsense.pack import PackFileError, load_pack

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"


def _write(tmp_path: Path, base: str, section: str, value) -> Path:
    d = json.loads((FIX / base).read_text())
    d[section] = value
    p = tmp_path / "typo.pack.json"
    p.write_text(json.dumps(d))
    return p


@pytest.mark.parametrize("base, section, value, path", [
    ("sim12s.pack.json", "topology", {"series": 12, "paralel": 2}, "topology.paralel"),
    ("sim12s.pack.json", "gaps", {"policy": "rest", "gap": 5}, "gaps.gap"),
    ("sim12s.pack.json", "estimator", {"filtr": "ukf"}, "estimator.filtr"),
    ("sim12s.pack.json", "estimator", {"filter": "ekf", "initial_SOC": 0.5}, "estimator.initial_SOC"),
    ("sim12s_can.pack.json", "can", {"sample_period_s": 1.0, "stale": 2.0}, "can.stale"),
    ("sim12s_can.pack.json", "can", {"sample_period_s": 1.0, "bus_id": 1}, "can.bus_id"),
])
def test_unknown_key_in_a_section_is_refused_with_its_path(tmp_path, base, section, value, path):
    p = _write(tmp_path, base, section, value)
    with pytest.raises(PackFileError) as e:
        load_pack(p)
    assert str(e.value).startswith(f"{p}: {path}: unknown key (expected "), str(e.value)


def test_unknown_key_in_the_voltage_pattern_is_refused(tmp_path):
    d = json.loads((FIX / "sim12s.pack.json").read_text())
    d.pop("cells")
    d["voltage"] = {"pattern": "cell{index:02d}_V", "scale": 1.0, "ofset": 0.1}
    p = tmp_path / "v.pack.json"
    p.write_text(json.dumps(d))
    with pytest.raises(PackFileError, match=r"v\.pack\.json: voltage\.ofset: unknown key \(expected pattern, scale, "
                                            r"offset\)"):
        load_pack(p)


@pytest.mark.parametrize("name", ["sim12s.pack.json", "sim12s_can.pack.json"])
def test_the_documented_keys_still_load(tmp_path, name):
    d = json.loads((FIX / name).read_text())
    d["topology"] = {"series": 12, "parallel": 1}
    d["gaps"] = {"policy": "rest", "gap_s": 30, "reinit_after_s": 3600}
    d["estimator"] = {"filter": "ukf", "dtype": "float32", "initial_soc": 0.5}
    d["can"] = {"sample_period_s": 1.0, "stale_s": 5.0, "bus": 0}
    p = tmp_path / name
    p.write_text(json.dumps(d))
    spec = load_pack(p)
    assert spec.filter == "ukf" and spec.initial_soc == 0.5 and spec.can_bus == 0 and spec.stale_s == 5.0


def test_voltage_beside_cells_and_the_current_keys(tmp_path):
    """"voltage" given beside "cells" was ignored without a word: refused naming both; an unknown key in "current"
    lists "positive" among the accepted ones."""
    base = json.loads((FIX / "sim12s.pack.json").read_text())
    both = dict(base, voltage={"pattern": "cell{index:02d}_V"})
    p = tmp_path / "both.pack.json"
    p.write_text(json.dumps(both))
    with pytest.raises(PackFileError, match=r'"voltage".*"cells"'):
        load_pack(p)
    cur = base["current"] if isinstance(base["current"], dict) else {"signal": base["current"]}
    bad = dict(base, current={**cur, "postive": "charge"})
    p.write_text(json.dumps(bad))
    with pytest.raises(PackFileError, match=r"current\.postive.*positive"):
        load_pack(p)
