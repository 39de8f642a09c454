"""`cellsense demo --pybamm-set SET` for a set no bundled cell file describes: the demo fits an ECM to the set's
simulated C/20 OCV test and HPPC (`cellsense.fit.from_sim`, cached) instead of running chen2020.json against
another cell's truth (Marquis2019 US06: 16.4 % SOC RMSE with chen2020, 0.68 % with the fitted cell), and warns
when the truth leaves the 3-sigma band on more than 5 % of the samples."""
from __future__ import annotations

import json

import pytest

from cellsense import load_cell
from cellsense.cli import build_parser
from cellsense.cli import demo as demo_cli
from cellsense.cli.demo import DemoRow, _resolve_cell_options


def _parse(argv, capsys):
    a = build_parser().parse_args(argv)
    return a, capsys.readouterr().err


def test_no_cell_file_for_another_set(capsys):
    a, _ = _parse(["demo", "--pybamm-set", "Marquis2019"], capsys)
    assert _resolve_cell_options(a) == (None, "Marquis2019")
    a, _ = _parse(["demo", "--pybamm-set", "chen2020"], capsys)  # the bundled cell's own set, any case
    assert _resolve_cell_options(a) == ("chen2020", "chen2020")
    a, _ = _parse(["demo", "--cell", "Marquis2019"], capsys)  # the old meaning of --cell: a PyBaMM set
    assert _resolve_cell_options(a) == (None, "Marquis2019")
    assert "deprecated" in capsys.readouterr().err
    a, _ = _parse(["demo", "--cell", "chen2020", "--pybamm-set", "Marquis2019"], capsys)  # asked for: kept
    assert _resolve_cell_options(a) == ("chen2020", "Marquis2019")


def test_chen2020_outside_its_temperature_rows_is_fitted_too(capsys):
    """chen2020.json has rows at 0.9 / 25.6 / 40.5 degC and holds its tables beyond them: within 5 K of them it is
    the demo's cell, farther out (the -10 degC US06: 23 % of the samples outside 3 sigma with it, 2.2 % with a cell
    fitted at -10 degC) the demo fits one at the demo's temperature."""
    for T, expected in (("-10", None), ("-4", "chen2020"), ("0", "chen2020"), ("45", "chen2020"), ("50", None)):
        a, _ = _parse(["demo", "--temperature-degC", T], capsys)
        assert _resolve_cell_options(a) == (expected, "Chen2020"), T
    a, _ = _parse(["demo", "--cell", "chen2020", "--temperature-degC", "-10"], capsys)  # asked for: kept
    assert _resolve_cell_options(a) == ("chen2020", "Chen2020")


def _row(outside):
    return DemoRow("us06", "ekf", 100, 0.7, 2.5, outside, 100.0, 0.1, 1e6)


@pytest.mark.parametrize("argv, fitted, outside, warns", [
    (["demo", "--pybamm-set", "Marquis2019", "--protocol", "us06"], True, 5.5, True),
    (["demo", "--pybamm-set", "Marquis2019", "--protocol", "us06"], True, 1.0, False),
    (["demo", "--cell", "chen2020", "--pybamm-set", "Marquis2019", "--protocol", "us06"], False, 95.0, True),
])
def test_demo_runs_the_fitted_cell(monkeypatch, capsys, tmp_path, argv, fitted, outside, warns):
    calls = {}
    fake = tmp_path / "fitted-Marquis2019.json"
    from cellsense.cells.files import resolve_cell_path
    data = json.loads(resolve_cell_path("chen2020").read_text())
    data["parameters"]["Nominal cell capacity [A.h]"] = 2.5  # half the 5 A h sensor reference
    fake.write_text(json.dumps(data))

    def fake_fit(parameter_set, temperature_degC, physics, fresh=False, progress=None):
        calls["fit"] = (parameter_set, temperature_degC, physics)
        return fake

    def fake_demo(cell, model_file, **kw):
        calls["demo"] = (cell, model_file)
        calls["scale"] = kw["current_scale"]
        return [_row(outside)]

    monkeypatch.setattr(demo_cli, "fitted_cell_path", fake_fit)
    monkeypatch.setattr(demo_cli, "demo", fake_demo)
    a, _ = _parse(argv, capsys)
    assert a.func(a) == 0
    out, err = capsys.readouterr()
    if fitted:
        assert calls["fit"] == ("Marquis2019", 25.0, "DFN") and calls["demo"] == ("Marquis2019", str(fake))
        assert "an ECM fitted to its simulated OCV + HPPC tests" in out
        # the current sensor scaled to the cell: 2.5 A h of the 5 A h reference
        assert calls["scale"] == pytest.approx(0.5) and "5 mA current noise + 10 mA offset" in out
    else:
        assert "fit" not in calls and calls["demo"] == ("Marquis2019", "chen2020")
        assert "cell chen2020" in out
    assert ("warning: the truth is outside the 3-sigma band" in err) == warns
    if warns:
        assert ("omit --cell" in err) == (not fitted)


def test_fitted_cell_path_fits_once_and_caches(tmp_path):
    """The real thing on a set that solves in seconds (Prada2013, LFP): the file is a valid cell of the set's
    capacity, and a second call reads it from the cache without simulating or fitting again."""
    pytest.importorskip("pybamm")
    pytest.importorskip("scipy")
    from cellsense import load_cell
    from cellsense.fit.from_sim import fitted_cell_path

    lines = []
    p = fitted_cell_path("Prada2013", 25.0, "DFN", cache_dir=tmp_path, progress=lines.append)
    cell = load_cell(p)
    assert cell.capacity_Ah == pytest.approx(2.3, rel=0.02)
    data = json.loads(p.read_text())
    assert "Prada2013" in data["description"] and data["RC pairs"] == 2
    assert any("fitting a 2-RC ECM" in ln for ln in lines)
    mtime = p.stat().st_mtime_ns
    lines.clear()
    assert fitted_cell_path("Prada2013", 25.0, "DFN", cache_dir=tmp_path, progress=lines.append) == p
    assert p.stat().st_mtime_ns == mtime and any("from the cache" in ln for ln in lines)
    assert not any("simulat" in ln for ln in lines)


def test_sensor_scale():
    """The demo's 10 / 20 mA current sensor is Chen2020's (5 A h, the shipped truths): 1 there whatever the cell; for
    another set the cell's capacity / 5 A h (PyBaMM Ecker2015, 0.171 A h: 20 mA was 12 % SOC per hour of offset and
    the US06 SOC RMSE 3.56 %, 70 % outside 3 sigma; scaled, 0.44 %, 1.9 %)."""
    from cellsense.cli.demo import sensor_scale

    assert sensor_scale("Chen2020", "okane2022_spme") == 1.0
    assert sensor_scale("Marquis2019", "chen2020") == pytest.approx(load_cell("chen2020").capacity_Ah / 5.0)


def test_python_demo_resolves_the_cell_too(monkeypatch, tmp_path):
    """`cellsense.demo(cell=SET)` (the Python function behind the verb) picks the cell as the verb does: a fitted one
    for a set other than Chen2020, with the current sensor scaled to it; Chen2020 keeps chen2020.json and scale 1."""
    from cellsense.cli.demo import demo
    from cellsense.cells.files import resolve_cell_path
    from cellsense.truth.simulate import simulate as real_simulate

    fake = tmp_path / "fitted.json"
    data = json.loads(resolve_cell_path("chen2020").read_text())
    data["parameters"]["Nominal cell capacity [A.h]"] = 2.5
    fake.write_text(json.dumps(data))
    seen = {}

    def fake_fit(parameter_set, temperature_degC, physics, fresh=False, progress=None):
        seen["fit"] = parameter_set
        return fake

    def fake_simulate(cell, sensor, **kw):  # the shipped Chen2020 US06 truth: no PyBaMM solve
        seen["offset"] = sensor.current_offset_A
        return real_simulate(cell="Chen2020", sensor=sensor, **kw)

    monkeypatch.setattr(demo_cli, "fitted_cell_path", fake_fit)
    monkeypatch.setattr(demo_cli, "simulate", fake_simulate)
    rows = demo(cell="Marquis2019", protocols=("us06",), filters=("ekf",), quiet=True)
    assert seen == {"fit": "Marquis2019", "offset": pytest.approx(0.010)} and len(rows) == 1
    seen.clear()
    demo(protocols=("us06",), filters=("ekf",), quiet=True)
    assert seen == {"offset": 0.020}
