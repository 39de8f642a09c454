"""Issue #13: one number check for the JSON input files (cellsense._io.file_number). An ECM cell file, an SPMe
cell file and a pack file refuse the same bad number with the same words, naming the file and the field; only
the bound differs (a cell file's numbers must fit the float32 core, 3e38; a pack file's conversions 1e18)."""
from __future__ import annotations

import json
import math

import pytest

from cellsense._io import file_number
from cellsense.cells.files import MAX_CELL_NUMBER, CellFileError, resolve_cell_path
from cellsense.cells.load import load_cell
from cellsense.pack.spec import MAX_PACK_NUMBER, PackFileError, load_pack

from conftest import synthetic_cell_dict

#: (bad value, the message's tail) the same in every file
COMMON = [
    ("fast", "expected a number, got str 'fast'"),
    (True, "expected a number, got bool True"),
    (None, "expected a number, got NoneType None"),
    ([1.0], "expected a number, got list [1.0]"),
    (math.inf, "must be finite, got inf"),
    (-math.inf, "must be finite, got -inf"),
    (math.nan, "must be finite, got nan"),
    (10 ** 400, "integer with 401 digits is beyond float range"),
]
CELL_BOUND = [(1e39, "1e+39 is beyond float32 range (|value| <= 3e+38)"),
              (-(10 ** 39), "-1e+39 is beyond float32 range (|value| <= 3e+38)")]
PACK_BOUND = [(1e19, "1e+19 is beyond the plausible range (|value| <= 1e+18)")]


def _ecm(tmp_path, v):
    d = synthetic_cell_dict(2)
    d["parameters"]["Hysteresis rate constant"] = v
    p = tmp_path / "ecm.json"
    p.write_text(json.dumps(d))
    return p, 'parameters."Hysteresis rate constant"', lambda: load_cell(p), CellFileError


def _ecm_limit(tmp_path, v):
    d = synthetic_cell_dict(2)
    d["limits"]["Current range [A]"] = [-10.0, v]
    p = tmp_path / "ecm_limit.json"
    p.write_text(json.dumps(d))
    return p, 'limits."Current range [A]"[1]', lambda: load_cell(p), CellFileError


def _spme(tmp_path, v):
    d = json.loads(resolve_cell_path("chen2020_spme").read_text())
    d["parameters"]["Negative particle radius [m]"] = v
    p = tmp_path / "spme.json"
    p.write_text(json.dumps(d))
    return p, 'parameters."Negative particle radius [m]"', lambda: load_cell(p), CellFileError


def _spme_ocp(tmp_path, v):
    d = json.loads(resolve_cell_path("chen2020_spme").read_text())
    d["parameters"]["Negative electrode OCP [V]"][2] = v
    p = tmp_path / "spme_ocp.json"
    p.write_text(json.dumps(d))
    return p, 'parameters."Negative electrode OCP [V]"[2]', lambda: load_cell(p), CellFileError


def _spme_limit(tmp_path, v):
    d = json.loads(resolve_cell_path("chen2020_spme").read_text())
    d.setdefault("limits", {})["Temperature range [degC]"] = [v, 60.0]
    p = tmp_path / "spme_limit.json"
    p.write_text(json.dumps(d))
    return p, 'limits."Temperature range [degC]"[0]', lambda: load_cell(p), CellFileError


def _pack(tmp_path, v):
    d = {"cellsense pack file": 1, "topology": {"series": 3}, "cell": "chen2020", "time": "t",
         "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": "T", "gaps": {"gap_s": v}}
    p = tmp_path / "p.pack.json"
    p.write_text(json.dumps(d))
    return p, "gaps.gap_s", lambda: load_pack(p), PackFileError


CELL_FILES = [_ecm, _ecm_limit, _spme, _spme_ocp, _spme_limit]


@pytest.mark.parametrize("make", CELL_FILES + [_pack], ids=lambda f: f.__name__)
@pytest.mark.parametrize("value, tail", COMMON, ids=lambda x: repr(x)[:12])
def test_the_same_bad_number_the_same_message(tmp_path, make, value, tail):
    path, where, load, error = make(tmp_path, value)
    with pytest.raises(error) as e:
        load()
    assert str(e.value) == f"{path}: {where}: {tail}"


@pytest.mark.parametrize("make", CELL_FILES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("value, tail", CELL_BOUND, ids=repr)
def test_a_cell_file_number_must_fit_float32(tmp_path, make, value, tail):
    path, where, load, error = make(tmp_path, value)
    with pytest.raises(error) as e:
        load()
    assert str(e.value) == f"{path}: {where}: {tail}"


@pytest.mark.parametrize("value, tail", PACK_BOUND + [(-1, "must be positive, got -1"), (0.0, "must be positive, got 0.0")],
                         ids=repr)
def test_a_pack_number_bound_and_sign(tmp_path, value, tail):
    path, where, load, error = _pack(tmp_path, value)
    with pytest.raises(error) as e:
        load()
    assert str(e.value) == f"{path}: {where}: {tail}"
    d = json.loads(path.read_text())  # the bound itself is accepted (a pack number up to 1e18: epoch offsets in us)
    d["gaps"] = {}
    d["current"] = {"signal": "i", "offset": MAX_PACK_NUMBER}
    path.write_text(json.dumps(d))
    assert load_pack(path).current.offset == MAX_PACK_NUMBER


def test_the_helper():
    def fail(where, msg):
        return KeyError(f"f.json: {where}: {msg}")

    assert file_number(fail, "x", 3, 10.0, "r") == 3.0 and type(file_number(fail, "x", 3, 10.0, "r")) is float
    assert file_number(fail, "x", -10.0, 10.0, "r") == -10.0  # |v| == limit is accepted
    with pytest.raises(KeyError, match=r"f.json: x: 10.5 is beyond r \(\|value\| <= 10\)"):
        file_number(fail, "x", 10.5, 10.0, "r")
    with pytest.raises(KeyError, match="f.json: y: must be positive, got 0"):
        file_number(fail, "y", 0, 10.0, "r", positive=True)
    assert MAX_CELL_NUMBER == 3.0e38 and MAX_PACK_NUMBER == 1e18
