"""`cellsense simulate`: bad options are refused up front naming the option (exit 2), never a traceback, a hang,
a huge allocation or a half-written output (a CSV without its sidecar)."""
from __future__ import annotations

import numpy as np
import pytest

from cellsense.cli.commands import main
from cellsense.truth import simulate as simmod
from cellsense.truth.result import SimResult, sidecar_path
from cellsense.truth.schedules import MAX_ROWS, _resolve_settings


def _refused(capsys, tmp_path, *args, protocol="cc"):
    rc = main(["simulate", "--physics", "spm", "--protocol", protocol, "--no-cache", "--quiet",
               "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "t.csv"), *args])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and "internal error" not in err
    assert not (tmp_path / "t.csv").exists()
    return err


@pytest.mark.parametrize("args, protocol, named", [
    (("--upper-cutoff-V", "2", "--lower-cutoff-V", "3"), "cc", "--lower-cutoff-V 3 must be below --upper-cutoff-V 2"),
    (("--upper-cutoff-V", "nan"), "cc", "--upper-cutoff-V"),
    (("--sample-period-s", "1e-7"), "cc", "--sample-period-s 1e-07"),
    (("--sample-period-s", "inf"), "cc", "--sample-period-s"),
    (("--sample-period-s", "1e-300"), "hppc", "--sample-period-s"),
    (("--rest-s", "-500"), "hppc", "--rest-s"),
    (("--rest-s", "-500"), "udds", "--rest-s"),
    (("--rest-s", "1e300", "--repeats", "2"), "udds", "--rest-s 1e+300"),
    (("--repeats", "1000000000"), "udds", "--repeats 1e+09"),
    (("--rest-s", "-5"), "cc", "--rest-s (rest_s) is not used by protocol cc"),
    (("--rest-s", "5"), "cc", "--rest-s (rest_s) is not used by protocol cc"),
    (("--repeats", "2"), "cc", "--repeats (repeats) is not used by protocol cc"),
    (("--c-rate", "1e-9"), "cc", "--c-rate"),
])
def test_bad_options_refused_before_any_solve(capsys, tmp_path, monkeypatch, args, protocol, named):
    def no_pybamm(*a, **k):  # refused up front: PyBaMM is never asked
        raise AssertionError("PyBaMM was asked")

    monkeypatch.setattr(simmod, "_cell_info", no_pybamm)
    err = _refused(capsys, tmp_path, *args, protocol=protocol)
    assert named in err
    if "rows" in err:
        assert f"{MAX_ROWS:,}" in err


def test_row_bound_is_not_hit_by_the_defaults():
    for p in ("cc", "ocv", "ocv-discharge", "ocv-charge", "hppc", "udds", "us06", "hwfet", "wltc"):
        _resolve_settings(p, None, None, None, None, None, None, None)
    _resolve_settings("udds", None, None, 50, 600.0, None, None, None)
    _resolve_settings("cc", 0.05, None, None, None, 1.0, None, None)


@pytest.mark.parametrize("args, named", [
    (("--upper-cutoff-V", "5.5"), "--upper-cutoff-V 5.5 is outside"),
    (("--lower-cutoff-V", "1"), "--lower-cutoff-V 1 is outside"),
    # within the set's range but the start (SOC 1, about 4.1 V) is already beyond the upper cut-off
    (("--upper-cutoff-V", "3.0", "--lower-cutoff-V", "2.6"), "--upper-cutoff-V must bracket"),
])
def test_cutoffs_outside_the_set_refused(capsys, tmp_path, args, named):
    pytest.importorskip("pybamm")
    assert named in _refused(capsys, tmp_path, *args)


def _result(n=5):
    t = np.arange(float(n))
    return SimResult(t, np.zeros(n), np.full(n, 3.7), np.full(n, 25.0), np.linspace(1, 0.9, n), {"protocol": "cc"})


def test_csv_and_sidecar_all_or_nothing(tmp_path):
    out = tmp_path / "q.csv"
    sidecar_path(out).mkdir()
    with pytest.raises(IsADirectoryError, match="sidecar"):
        _result().to_csv(out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["q.csv.json"]  # no temporaries left either
    sidecar_path(out).rmdir()
    _result().to_csv(out)
    assert out.is_file() and sidecar_path(out).is_file()


def test_cli_sidecar_directory_refused_before_the_solve(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(simmod, "simulate", lambda **k: (_ for _ in ()).throw(AssertionError("solved")))
    out = tmp_path / "q.csv"
    sidecar_path(out).mkdir()
    rc = main(["simulate", "--protocol", "udds", "--temperature-degC", "25", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "the sidecar of --out" in err and "is a directory" in err
    assert not out.exists()


@pytest.mark.parametrize("args, named", [
    (("--rest-s", "5"), "--rest-s: not used by protocol aging"),
    (("--sample-period-s", "2", "--c-rate", "1"), "--c-rate, --sample-period-s: not used by protocol aging"),
    (("--repeats", "1000000000"), "--repeats (repeats: the aging blocks) must be within [1, 1000]"),
    (("--repeats", "0"), "--repeats (repeats: the aging blocks) must be within"),
])
def test_aging_refuses_options_it_does_not_use(capsys, tmp_path, monkeypatch, args, named):
    monkeypatch.setattr(simmod, "simulate_aging", lambda **k: (_ for _ in ()).throw(AssertionError("solved")))
    assert named in _refused(capsys, tmp_path, *args, protocol="aging")
