"""`cellsense demo --soc-error`: refused up front naming the option when not finite or when it would put the filters'
start outside [0, 1] (it was clipped to SOC 0 while "filters started 500 SOC points off" was printed)."""
from __future__ import annotations

import pytest

from cellsense.cli import demo as demomod
from cellsense.cli.commands import main


@pytest.mark.parametrize("value, named", [
    ("5", "--soc-error (soc_error) 5 puts the filters' start outside the SOC range"),
    ("-0.1", "--soc-error (soc_error) -0.1 puts the filters' start outside"),
    ("nan", "--soc-error (soc_error) must be a finite"),
    ("inf", "--soc-error (soc_error) must be a finite"),
])
def test_bad_soc_error_refused_before_any_work(capsys, monkeypatch, value, named):
    monkeypatch.setattr(demomod, "simulate", lambda **k: (_ for _ in ()).throw(AssertionError("simulated")))
    monkeypatch.setattr(demomod, "fitted_cell_path", lambda *a, **k: (_ for _ in ()).throw(AssertionError("fitted")))
    rc = main(["demo", "--soc-error", value, "--quiet"])
    cap = capsys.readouterr()
    assert rc == 2, cap.err
    assert named in cap.err and "initial_soc" not in cap.err and "Traceback" not in cap.err
    assert "SOC points off" not in cap.out


def test_soc_error_bounds_follow_the_protocol_start():
    demomod.check_soc_error(0.2, ("udds", "us06"))
    demomod.check_soc_error(1.0, ("udds",))
    demomod.check_soc_error(-0.3, ("ocv-charge",))  # starts at SOC 0: the filters start above it
    with pytest.raises(ValueError, match="--soc-error"):
        demomod.check_soc_error(0.2, ("udds", "ocv-charge"))
    with pytest.raises(ValueError, match="--soc-error"):
        demomod.demo(soc_error=float("nan"), model_file="chen2020")
