"""Issue #12 items 7, 8, 11 (state files) and "also seen" (--initial-soc with --state-in): `cellsense estimate`
writes nothing until everything succeeded, refuses to overwrite its inputs, and turns a bad state file into
one named error (exit 2), never a traceback."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from cellsense._io import OutputOverwritesInputError
from cellsense.cli import main
from cellsense.evaluate.estimate import StateFileError, estimate
from cellsense.io.logs import CellLog, write_cell_log


@pytest.fixture
def log_csv(tmp_path, synthetic_log):
    L = synthetic_log
    p = tmp_path / "log.csv"
    n = 600
    write_cell_log(p, CellLog(L["time_s"][:n], L["current_A"][:n], L["voltage_V"][:n], L["temperature_degC"][:n]))
    return p


@pytest.fixture
def state_file(tmp_path, cell_path, log_csv):
    s = tmp_path / "state.json"
    assert main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(tmp_path / "e.csv"),
                 "--soh", "--state-out", str(s)]) == 0
    return s


def _snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


# ---- item 7: nothing written unless everything succeeded -------------------------------------------------
@pytest.mark.parametrize("how", ["out_is_dir", "out_under_a_file"])
def test_state_not_advanced_when_out_cannot_be_written(tmp_path, cell_path, log_csv, state_file, how, capsys):
    if how == "out_is_dir":
        out = tmp_path / "adir"
        out.mkdir()
        (out / "keep").write_text("x")
    else:
        out = tmp_path / "e.csv" / "est.csv"  # e.csv is a file
    before = _snapshot(tmp_path)
    rc = main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(out), "--soh",
               "--state-in", str(state_file), "--state-out", str(state_file)])
    assert rc == 2
    assert "error" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before, "a failed estimate changed a file (state advanced, or a partial output)"
    assert not [p for p in tmp_path.rglob(".*.tmp")], "temporary files left behind"


def test_nothing_written_when_state_out_cannot_be_written(tmp_path, cell_path, log_csv, state_file, capsys):
    out = tmp_path / "new.csv"
    out.write_text("PRECIOUS")
    sdir = tmp_path / "sdir"
    sdir.mkdir()
    rc = main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(out), "--soh",
               "--state-in", str(state_file), "--state-out", str(sdir)])
    assert rc == 2
    # --state-out names a directory: refused when it is staged, before any file is renamed into place (until
    # 2026-12-07 the CSV had already replaced --out when the rename of the state failed), and named
    assert "--state-out" in capsys.readouterr().err
    assert out.read_text() == "PRECIOUS"
    assert not [p for p in tmp_path.rglob(".*.tmp")]
    assert list(sdir.iterdir()) == []


@pytest.mark.parametrize("plot", ["under_a_file", "unknown_format"])
def test_nothing_written_when_the_plot_cannot_be_written(tmp_path, cell_path, log_csv, plot, capsys):
    """--plot is staged with --out: a plot that cannot be written (a path under a file; a suffix matplotlib does
    not know) leaves --out as it was (it used to be written first)."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "new.csv"
    out.write_text("PRECIOUS")
    png = tmp_path / "new.csv" / "x.png" if plot == "under_a_file" else tmp_path / "x.nosuchformat"
    rc = main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(out), "--plot", str(png)])
    assert rc == 2
    assert "error" in capsys.readouterr().err
    assert out.read_text() == "PRECIOUS" and not png.exists()
    assert not [p for p in tmp_path.rglob(".*.tmp")]
    ok = tmp_path / "ok.png"
    assert main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(out), "--plot",
                 str(ok)]) == 0
    assert ok.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.read_text() != "PRECIOUS"


def test_outputs_written_together_on_success(tmp_path, cell_path, log_csv, state_file):
    old = state_file.read_bytes()
    out = tmp_path / "new.csv"
    assert main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(out), "--soh",
                 "--state-in", str(state_file), "--state-out", str(state_file)]) == 0
    assert out.exists() and state_file.read_bytes() != old
    json.loads(state_file.read_text())
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # the usual mode, not mkstemp's


def test_failed_run_writes_nothing(tmp_path, cell_path, log_csv, state_file, monkeypatch):
    """An exception after the run (here: while writing the CSV rows) leaves both files untouched."""
    import sys

    est_mod = sys.modules["cellsense.evaluate.estimate"]  # the package exports a function of the same name

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(est_mod, "_write_estimate_rows", boom)
    out = tmp_path / "e.csv"
    before = _snapshot(tmp_path)
    with pytest.raises(OSError):
        estimate(str(cell_path), log_csv, out=out, soh=True, state_in=state_file, state_out=state_file)
    assert _snapshot(tmp_path) == before
    assert not [p for p in tmp_path.rglob(".*.tmp")]


# ---- item 8: an output that is an input ---------------------------------------------------------------
@pytest.mark.parametrize("how", ["same", "relative", "symlink", "dotdot"])
def test_out_equal_to_data_refused(tmp_path, cell_path, log_csv, how, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if how == "same":
        out = str(log_csv)
    elif how == "relative":
        out = "log.csv"
    elif how == "symlink":
        out = str(tmp_path / "link.csv")
        os.symlink(log_csv, out)
    else:
        (tmp_path / "sub").mkdir()
        out = "sub/../log.csv"
    before = log_csv.read_bytes()
    rc = main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", out])
    err = capsys.readouterr().err
    assert rc == 2 and "--data" in err and "--out" in err and "same file" in err, err
    assert log_csv.read_bytes() == before
    with pytest.raises(OutputOverwritesInputError):
        estimate(str(cell_path), str(log_csv), out=out)


@pytest.mark.parametrize("pair", [("--out", "--state-in"), ("--state-out", "--data"), ("--out", "--model"),
                                  ("--out", "--state-out")])
def test_other_output_input_collisions_refused(tmp_path, cell_path, log_csv, state_file, pair, capsys):
    args = {"--model": str(cell_path), "--data": str(log_csv), "--out": str(tmp_path / "o.csv"),
            "--state-in": str(state_file), "--state-out": str(tmp_path / "s2.json")}
    args[pair[0]] = args[pair[1]]
    before = _snapshot(tmp_path)
    argv = ["estimate", "--soh"] + [x for k, v in args.items() for x in (k, v)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert pair[0] in err and pair[1] in err and "same file" in err, err
    assert _snapshot(tmp_path) == before


def test_state_in_equal_state_out_allowed(tmp_path, cell_path, log_csv, state_file):
    assert main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(tmp_path / "x.csv"),
                 "--soh", "--state-in", str(state_file), "--state-out", str(state_file)]) == 0


# ---- item 11: bad --state-in files -> one named error ----------------------------------------------------
def _bad_states(good: dict):
    yield "top-level list", "[1, 2, 3]"
    yield "top-level string", '"state"'
    yield "null", "null"
    yield "truncated", json.dumps(good)[:200]
    yield "empty", ""
    yield "deep", "[" * 100_000 + "]" * 100_000
    yield "huge int", json.dumps({**good, "hysteresis_sign": 0}).replace('"hysteresis_sign": 0', '"hysteresis_sign": ' + "9" * 401)
    for k in ("soh", "x", "P", "hysteresis_sign", "state_names"):
        d = dict(good)
        del d[k]
        yield f"missing {k}", json.dumps(d)
    for k in ("a_xx", "capacity_Ah", "ocv_x"):
        d = json.loads(json.dumps(good))
        del d["soh"][k]
        yield f"missing soh.{k}", json.dumps(d)
        d["soh"][k] = "text"
        yield f"string soh.{k}", json.dumps(d)
    d = json.loads(json.dumps(good))
    d["x"] = "0.5"
    yield "string x", json.dumps(d)
    yield "not utf-8", b"\xff\xfe{}"


def test_bad_state_in_named_error(tmp_path, cell_path, log_csv, state_file, capsys):
    good = json.loads(state_file.read_text())
    for what, text in _bad_states(good):
        bad = tmp_path / "bad.json"
        bad.write_bytes(text if isinstance(text, bytes) else text.encode())
        rc = main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(tmp_path / "o.csv"),
                   "--soh", "--state-in", str(bad)])
        err = capsys.readouterr().err
        assert rc == 2, (what, err)
        assert str(bad) in err and "Traceback" not in err, (what, err)
        assert not (tmp_path / "o.csv").exists(), what
        with pytest.raises(StateFileError):
            estimate(str(cell_path), log_csv, soh=True, state_in=bad)


def test_state_in_missing_file_named(tmp_path, cell_path, log_csv, capsys):
    rc = main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(tmp_path / "o.csv"),
               "--soh", "--state-in", str(tmp_path / "nope.json")])
    assert rc == 2 and "nope.json" in capsys.readouterr().err


# ---- also seen: --initial-soc with --state-in ----------------------------------------------------------
def test_initial_soc_with_state_in_refused(tmp_path, cell_path, log_csv, state_file, capsys):
    rc = main(["estimate", "--model", str(cell_path), "--data", str(log_csv), "--out", str(tmp_path / "o.csv"),
               "--soh", "--state-in", str(state_file), "--initial-soc", "0.5"])
    err = capsys.readouterr().err
    assert rc == 2 and "--initial-soc" in err and "--state-in" in err
    assert not (tmp_path / "o.csv").exists()


# ---- item 11: hostile cell files through --model and Estimator(path) --------------------------------------
@pytest.mark.parametrize("text", ["[1, 2]", "3", "null", '"chen2020"', "[" * 100_000 + "]" * 100_000,
                                  '{"cellsense cell file": ' + "9" * 401 + "}"])
def test_hostile_cell_file_named(tmp_path, log_csv, text, capsys):
    from cellsense import Estimator
    from cellsense.cells.files import CellFileError

    p = tmp_path / "cell.json"
    p.write_text(text)
    with pytest.raises(CellFileError, match="cell.json"):
        Estimator(str(p), initial_soc=0.5)
    rc = main(["estimate", "--model", str(p), "--data", str(log_csv), "--out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "cell.json" in err and "Traceback" not in err
