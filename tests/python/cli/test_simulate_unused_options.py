"""`cellsense simulate`: a C-rate option the chosen protocol does not use is refused (exit 2, the option and the
protocol named, before PyBaMM is asked), as --rest-s and --repeats already were; before, --peak-c-rate with hppc,
--pulse-c-rate with a drive cycle and --c-rate with a drive cycle were silently ignored."""
from __future__ import annotations

import pytest

from cellsense.cli.commands import main
from cellsense.truth import simulate as simmod
from cellsense.truth.schedules import _resolve_settings


def _no_pybamm(*a, **k):
    raise AssertionError("PyBaMM was asked")


@pytest.mark.parametrize("args, protocol, named", [
    (("--peak-c-rate", "2"), "hppc", "--peak-c-rate (peak_c_rate) is not used by protocol hppc; only by the drive "
                                     "cycles udds, us06, hwfet, wltc; hppc's pulse C-rate is --pulse-c-rate"),
    (("--peak-c-rate", "2"), "cc", "--peak-c-rate (peak_c_rate) is not used by protocol cc"),
    (("--peak-c-rate", "2"), "ocv-charge", "--peak-c-rate (peak_c_rate) is not used by protocol ocv-charge"),
    (("--pulse-c-rate", "2"), "udds", "--pulse-c-rate (pulse_c_rate) is not used by protocol udds; only by hppc; "
                                      "a drive cycle's amplitude is --peak-c-rate"),
    (("--pulse-c-rate", "2"), "cc", "--pulse-c-rate (pulse_c_rate) is not used by protocol cc; only by hppc"),
    (("--pulse-c-rate", "2"), "ocv", "--pulse-c-rate (pulse_c_rate) is not used by protocol ocv"),
    (("--c-rate", "2"), "us06", "--c-rate (c_rate) is not used by protocol us06"),
    (("--c-rate", "0.5"), "wltc", "--c-rate (c_rate) is not used by protocol wltc"),
])
def test_option_without_effect_is_refused(capsys, tmp_path, monkeypatch, args, protocol, named):
    monkeypatch.setattr(simmod, "_cell_info", _no_pybamm)
    monkeypatch.setattr(simmod, "_find_shipped", _no_pybamm)
    out = tmp_path / "t.csv"
    rc = main(["simulate", "--physics", "spm", "--protocol", protocol, "--no-cache", "--quiet",
               "--cache-dir", str(tmp_path / "cache"), "--out", str(out), *args])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert named in err and "Traceback" not in err
    assert not out.exists()


def test_python_api_refuses_too():
    with pytest.raises(ValueError, match=r"--peak-c-rate \(peak_c_rate\) is not used by protocol hppc"):
        simmod.simulate(protocol="hppc", peak_c_rate=2.0)
    with pytest.raises(ValueError, match=r"--pulse-c-rate \(pulse_c_rate\) is not used by protocol wltc"):
        simmod.simulate(protocol="wltc", pulse_c_rate=2.0)


def test_options_with_an_effect_are_still_taken():
    assert _resolve_settings("hppc", 0.5, None, None, None, None, 2.0, None)["pulse C-rate"] == 2.0
    assert _resolve_settings("hppc", 0.5, None, None, None, None, None, None)["step C-rate"] == 0.5
    assert _resolve_settings("udds", None, 1.5, None, None, None, None, None)["peak C-rate"] == 1.5
    assert _resolve_settings("ocv", 0.1, None, None, None, None, None, None)["C-rate"] == 0.1
    assert _resolve_settings("cc", 2.0, None, None, None, None, None, None)["C-rate"] == 2.0
