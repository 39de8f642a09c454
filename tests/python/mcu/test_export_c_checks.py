"""`cellsense export-c` refuses what would give a header that does not compile or that the core refuses: a --symbol
that collides with C or the C API, a parameter the float32 cast breaks (docs/mcu.md), and --out over its --cell."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cellsense.cells.ecm import cell_from_dict
from cellsense.cli import main
from cellsense.mcu.export_c import export_c

from conftest import synthetic_cell_dict

ROOT = Path(__file__).resolve().parents[3]
HOST_CC = shutil.which("gcc")
REFUSED = ["int", "float", "bool", "cs", "CS", "cs_init", "cs_estimator", "CS_RC_PAIRS", "CS_MAX_SOC_POINTS", "cs_anything",
           "Cs_Mine", "cellsense_c_api_h", "size_t", "uint8_t", "my_t", "INT8_MAX", "SIZE_MAX", "_Reserved", "__x", "main",
           "NULL", "not valid", "1cell"]
ACCEPTED = ["cell_params", "my_cell", "Cell2", "pack_cell_a", "int8", "csx", "cells_a"]


def _cell_file(tmp_path: Path, edit=None) -> Path:
    d = synthetic_cell_dict(2)
    if edit is not None:
        edit(d["parameters"])
    p = tmp_path / "cell.json"
    p.write_text(json.dumps(d))
    return p


def _export(capsys, *argv) -> tuple[int, str]:
    rc = main(["export-c", *map(str, argv)])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("symbol", REFUSED)
def test_a_symbol_that_cannot_compile_is_refused(tmp_path, capsys, symbol):
    out = tmp_path / "p.h"
    rc, err = _export(capsys, "--cell", _cell_file(tmp_path), "--out", out, "--symbol", symbol)
    assert rc == 2 and f"--symbol {symbol!r}: " in err and not out.exists(), err
    with pytest.raises(ValueError, match="symbol"):
        export_c(cell_from_dict(synthetic_cell_dict(2)), symbol=symbol)


@pytest.mark.skipif(not HOST_CC, reason="host gcc not found")
def test_the_accepted_symbols_compile(tmp_path):
    """The rule is not broader than it must be: these symbols give headers that compile together with the C API."""
    cell = cell_from_dict(synthetic_cell_dict(2))
    for k, symbol in enumerate(ACCEPTED):
        export_c(cell, tmp_path / f"h{k}.h", symbol=symbol)
    includes = "".join(f'#include "h{k}.h"\n' for k in range(len(ACCEPTED)))
    (tmp_path / "main.c").write_text(f'#include "cellsense/c_api.h"\n{includes}int main(void) {{\n'
                                     + "".join(f"  (void){s}.layout;\n" for s in ACCEPTED) + "  return 0;\n}\n")
    r = subprocess.run([HOST_CC, "-std=c99", "-Wall", "-Werror", "-fsyntax-only", "-I", str(ROOT / "cpp" / "include"),
                        "-I", str(tmp_path), str(tmp_path / "main.c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _tiny_tau(p):
    p["tau1 [s]"] = [[10.0] * len(p["SOC breakpoints"]) for _ in p["Temperature breakpoints [degC]"]]
    p["tau1 [s]"][1][4] = 1e-50


def _ocv_tie(p):
    p["Open-circuit voltage [V]"][2][7] = p["Open-circuit voltage [V]"][2][6] + 1e-9


@pytest.mark.parametrize("edit, where", [(_tiny_tau, 'parameters."tau1 [s]"[1][4]: must be positive: 0.0 s'),
                                         (_ocv_tie, 'parameters."Open-circuit voltage [V]"[2][7]: OCV must increase')])
def test_a_value_the_float32_cast_breaks_is_refused(tmp_path, capsys, edit, where):
    path = _cell_file(tmp_path, edit)
    cell_from_dict(json.loads(path.read_text()))  # the file itself loads: only its float32 cast breaks the rule
    out = tmp_path / "p.h"
    rc, err = _export(capsys, "--cell", path, "--out", out)
    assert rc == 2 and f"cell.json: {where}" in err and "float32" in err and not out.exists(), err


def test_out_over_the_cell_file_is_refused(tmp_path, capsys):
    path = _cell_file(tmp_path)
    before = path.read_bytes()
    rc, err = _export(capsys, "--cell", path, "--out", tmp_path / "." / "cell.json")
    assert rc == 2 and "is the same file as --cell" in err and path.read_bytes() == before
    with pytest.raises(ValueError, match="same file"):
        export_c(path, path)
    assert path.read_bytes() == before


def test_an_out_that_cannot_be_written_is_named(tmp_path, capsys):
    path = _cell_file(tmp_path)
    for out, why in ((tmp_path, "is a directory"), (path / "p.h", "is not a directory")):
        rc, err = _export(capsys, "--cell", path, "--out", out)
        assert rc == 2 and f"--out {out}: " in err and why in err, err
