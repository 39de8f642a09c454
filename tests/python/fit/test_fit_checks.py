"""`cellsense fit` refuses what would give a cell file its own loader refuses or a silently wrong one (a column in mA,
mV or kelvin, a current positive on charge, --hppc-initial-soc outside [0, 1], --out over an input or unwritable),
and warns on weak data (docs/fitting.md, "Checks")."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy")

from cellsense.cells.files import CellFileError  # noqa: E402
from cellsense.cli import main  # noqa: E402
from cellsense.fit import fit  # noqa: E402
from cellsense.fit import cli as fitcli  # noqa: E402
from cellsense.truth.schedules import _build_schedule, _resolve_settings  # noqa: E402
from test_fit import Q_TRUE, _log, _true_cell  # noqa: E402


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """The synthetic OCV test (25 degC) and HPPC tests (5 and 30 degC) of test_fit, without the fit."""
    d = tmp_path_factory.mktemp("logs")
    cell = _true_cell()
    n = int(20 * 3600 / 10)
    _log(cell, np.r_[np.zeros(6), np.full(n, Q_TRUE / 20), np.zeros(360), np.full(n - 30, -Q_TRUE / 20)], 10.0, 25.0,
         d / "ocv.csv")
    cur = _build_schedule(_resolve_settings("hppc", None, None, None, None, None, None, None), Q_TRUE, 2.5, 4.2,
                          None, None).current_A
    n_keep = int(np.argmax(np.cumsum(cur) / 3600.0 > 0.95 * Q_TRUE))
    for T in (5.0, 30.0):
        _log(cell, cur[:n_keep], 1.0, T, d / f"hppc_{T:g}.csv")
    return d


def _variant(src: Path, dst: Path, column: str, f, rows=None) -> Path:
    """A copy of the log `src` with `column` mapped by f (and only `rows`, a slice, kept)."""
    lines = src.read_text().splitlines()
    head = lines[0].split(",")
    j = head.index(column)
    body = [r.split(",") for r in lines[1:]][rows or slice(None)]
    for r in body:
        r[j] = repr(f(float(r[j])))
    dst.write_text("\n".join([lines[0]] + [",".join(r) for r in body]) + "\n")
    return dst


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["fit", *map(str, argv), "--quiet"])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_a_current_in_mA_is_refused_naming_the_field_and_the_cause(logs, tmp_path, capsys):
    hppc = _variant(logs / "hppc_30.csv", tmp_path / "hppc_mA.csv", "current_A", lambda x: 1000.0 * x)
    out = tmp_path / "cell.json"
    rc, _, err = _run(capsys, "--ocv", logs / "ocv.csv", "--hppc", hppc, "--out", out)
    assert rc == 2 and not out.exists(), err
    assert 'parameters."Model voltage error [V]"' in err and "hppc_mA.csv's current_A" in err and "mA" in err
    with pytest.raises(CellFileError, match="Model voltage error.*in mA.*nothing written"):
        fit(logs / "ocv.csv", [hppc], out=out)
    assert not out.exists()


def test_an_ocv_voltage_in_mV_is_refused(logs, tmp_path, capsys):
    ocv = _variant(logs / "ocv.csv", tmp_path / "ocv_mV.csv", "voltage_V", lambda x: 1000.0 * x)
    out = tmp_path / "cell.json"
    rc, _, err = _run(capsys, "--ocv", ocv, "--hppc", logs / "hppc_30.csv", "--out", out)
    assert rc == 2 and not out.exists(), err
    assert "cut-off [V]" in err and "ocv_mV.csv's voltage_V" in err and "in mV" in err


@pytest.mark.parametrize("soc", ["1.5", "-0.1", "nan"])
def test_hppc_initial_soc_outside_0_1_is_refused_before_the_fit(logs, tmp_path, capsys, monkeypatch, soc):
    monkeypatch.setattr(fitcli, "fit", lambda *a, **k: pytest.fail("the fit ran"))
    out = tmp_path / "cell.json"
    rc, _, err = _run(capsys, "--ocv", logs / "ocv.csv", "--hppc", logs / "hppc_30.csv", "--out", out,
                      "--hppc-initial-soc", soc)
    assert rc == 2 and "--hppc-initial-soc" in err and "[0, 1]" in err and not out.exists()
    with pytest.raises(ValueError, match="hppc_initial_soc"):
        fit(logs / "ocv.csv", [logs / "hppc_30.csv"], hppc_initial_soc=float(soc))


def test_an_hppc_in_kelvin_is_refused(logs, tmp_path, capsys):
    hot = _variant(logs / "hppc_30.csv", tmp_path / "hppc_K.csv", "temperature_degC", lambda x: x + 273.15)
    out = tmp_path / "cell.json"
    rc, _, err = _run(capsys, "--ocv", logs / "ocv.csv", "--hppc", logs / "hppc_5.csv", "--hppc", hot, "--out", out)
    assert rc == 2 and not out.exists()
    assert "hppc_K.csv" in err and "303.1" in err and "kelvin" in err


def test_an_hppc_current_positive_on_charge_is_refused(logs, tmp_path, capsys):
    flip = _variant(logs / "hppc_30.csv", tmp_path / "hppc_flip.csv", "current_A", lambda x: -x)
    out = tmp_path / "cell.json"
    rc, _, err = _run(capsys, "--ocv", logs / "ocv.csv", "--hppc", flip, "--out", out)
    assert rc == 2 and not out.exists()
    assert "hppc_flip.csv" in err and "positive on charge" in err
    with pytest.raises(ValueError, match="hppc_flip.csv.*positive on charge"):
        fit(logs / "ocv.csv", [flip])


@pytest.mark.parametrize("which", ["--ocv", "--hppc"])
def test_out_over_an_input_is_refused_before_the_fit(logs, tmp_path, capsys, monkeypatch, which):
    monkeypatch.setattr(fitcli, "fit", lambda *a, **k: pytest.fail("the fit ran"))
    src = {"--ocv": logs / "ocv.csv", "--hppc": logs / "hppc_30.csv"}[which]
    before = src.read_bytes()
    other = logs / ".." / logs.name / src.name  # another spelling of the same file
    rc, _, err = _run(capsys, "--ocv", logs / "ocv.csv", "--hppc", logs / "hppc_30.csv", "--out", other)
    assert rc == 2 and f"is the same file as {which}" in err and src.read_bytes() == before
    with pytest.raises(ValueError, match="same file"):
        fit(logs / "ocv.csv", [logs / "hppc_30.csv"], out=other)
    assert src.read_bytes() == before


def test_an_out_that_cannot_be_written_is_named_before_the_fit(logs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fitcli, "fit", lambda *a, **k: pytest.fail("the fit ran"))
    for out, why in ((tmp_path, "is a directory"), (logs / "ocv.csv" / "cell.json", "is not a directory")):
        rc, _, err = _run(capsys, "--ocv", logs / "ocv.csv", "--hppc", logs / "hppc_30.csv", "--out", out)
        assert rc == 2 and f"--out {out}: " in err and why in err, err


def test_weak_data_is_warned_about(logs, tmp_path, capsys):
    """One temperature, pulse sets over the top of the SOC range only, a rested voltage far above the upper cut-off:
    the cell is written (exit 0) with a warning naming the file for each, and the model voltage error's warning says
    on how little it was measured."""
    part = _variant(logs / "hppc_30.csv", tmp_path / "hppc_part.csv", "voltage_V", lambda x: x, rows=slice(0, 11000))
    lines = part.read_text().splitlines()
    k = next(n for n, r in enumerate(lines[1:], 1) if n > 50 and float(r.split(",")[1]) == 0.0)
    r = lines[k].split(",")
    r[2] = "4.9"  # a spike at rest, 0.78 V above the OCV test's maximum
    lines[k] = ",".join(r)
    part.write_text("\n".join(lines) + "\n")
    out = tmp_path / "cell.json"
    rc, _, err = _run(capsys, "--ocv", logs / "ocv.csv", "--hppc", part, "--out", out)
    assert rc == 0 and out.exists(), err
    warnings = [w for w in err.splitlines() if w.startswith("warning: hppc_part.csv: ")]
    assert len(warnings) == 3, err
    assert any("one HPPC temperature (30 degC)" in w and "not identified" in w for w in warnings)
    span = next(w for w in warnings if "pulse set(s), at SOC" in w)
    assert '"Model voltage error [V]" was measured on this file only' in span
    cell = json.loads(out.read_text())
    n_sets = int(re.search(r"hppc_part.csv: (\d+) pulse set", span).group(1))
    assert 1 <= n_sets < 6 and f"{n_sets} pulse set(s); the file spans SOC " in cell["provenance"]["Model voltage error [V]"]
    # one SOC span for the pulse sets in the warning, named apart from the file's own span (they read as a contradiction)
    lo_hi = re.search(r"pulse set\(s\), at SOC ([0-9.]+)\.\.([0-9.]+)", span).groups()
    assert f"pulse set(s) at SOC {lo_hi[0]}..{lo_hi[1]}; the whole file spans SOC" in span
    assert any("1 sample(s) beyond the cut-offs" in w and "4.9" in w for w in warnings)


def test_full_data_gives_no_warning(logs, recwarn):
    fit(logs / "ocv.csv", [logs / "hppc_5.csv", logs / "hppc_30.csv"])
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)], [str(w.message) for w in recwarn]
