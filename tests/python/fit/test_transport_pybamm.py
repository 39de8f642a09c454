"""The transport limit identified from a PyBaMM parameter set (cellsense.fit.transport.identify_from_pybamm,
``cellsense fit ... --transport [SET]``; docs/power.md "Transport limit"): the DFN's constant-current pulses to the
cut-offs, the rows merged over both directions' SOC levels, and the CLI writing them into the cell file."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cellsense import load_cell, make_estimator
from cellsense.cli import main
from cellsense.estimators.power import K_TRANSPORT, PowerSettings, cell_transport, power_limits_now
from cellsense.fit import transport as tr

ROOT = Path(__file__).resolve().parents[3]


def test_merge_charge_takes_the_union_of_the_levels():
    dis = [(0.3, 130.0, 0.4), (0.6, 150.0, 0.5), (0.9, 160.0, 0.6)]
    chg = [(0.1, 140.0, -0.2), (0.3, 120.0, -1.0)]
    rows = tr.merge_charge(dis, chg)
    assert rows == [(0.1, tr.NO_CAP, 0.0, 140.0, -0.2), (0.3, 130.0, 0.4, 120.0, -1.0),
                    (0.6, 150.0, 0.5, tr.NO_CAP, 0.0), (0.9, 160.0, 0.6, tr.NO_CAP, 0.0)]
    # the rows pass the core's rules (PowerSettings checks them)
    PowerSettings(transport=rows).core_dict(load_cell("chen2020"))
    with pytest.raises(ValueError, match="table holds 8"):
        tr.merge_charge([(0.1 * k, 100.0, 0.0) for k in range(5)], [(0.05 + 0.1 * k, 100.0, 0.0) for k in range(5)])


def test_identify_from_pybamm_on_a_subset_agrees_with_the_bundled_rows():
    """Two of chen2020.json's SOC levels at one of its temperatures, two discharge currents: each row's cap is at or
    below every pulse the reduced test saw, and its product i sqrt(t) at 37.5 A within 5 % of the bundled row's (whose
    slope comes from three currents and whose envelope spans 0 / 25 / 40 degC)."""
    pytest.importorskip("pybamm")
    lines = []
    rows, how = tr.identify_from_pybamm("Chen2020", socs=(0.3, 0.75), temperatures_degC=(25.0,),
                                        discharge_c_rates=(6.0, 9.0), charge_c_rates=(3.0,), progress=lines.append)
    assert [r[0] for r in rows] == [0.3, 0.75]
    assert lines and all("transport pulse 25 degC" in s for s in lines)
    assert "Chen2020" in how and "30, 45 A" in how and "Sand" in how
    bundled = {round(r[0], 2): r for r in cell_transport(load_cell("chen2020"))}
    for r in rows:
        b = bundled[round(r[0], 2)]
        assert abs((r[1] + 37.5 * r[2]) / (b[1] + 37.5 * b[2]) - 1.0) < 0.05 and abs(r[2]) < 5.0
        pulses = [ln for ln in lines if f"SOC {r[0]:.2f} " in ln and " -" not in ln.split("A:")[0]]
        for ln in pulses:  # K0 + c i <= i sqrt(t_cut) for each discharge pulse of the level
            i = float(ln.split("SOC ")[1].split()[1])
            t = float(ln.split("after ")[1].split(" s")[0])
            assert r[1] + r[2] * i <= i * math.sqrt(t) + 0.02
    # SOC 0.3: a 3C charge reaches 4.2 V by transport (a cap); SOC 0.75: at once (no cap)
    assert rows[0][3] < tr.NO_CAP and rows[1][3] == tr.NO_CAP


def _fake_identify(parameter_set, progress=None, **_kw):
    if progress is not None:
        progress(f"  transport pulse 25 degC SOC 0.30 30 A: cut-off after 20.00 s ({parameter_set})")
    return [(0.2, 120.0, 0.1, 130.0, -0.5), (0.8, 160.0, 0.6, tr.NO_CAP, 0.0)], f"fake pulses of {parameter_set}"


def test_cli_spme_transport_writes_the_rows_and_the_limits_use_them(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pybamm")
    monkeypatch.setattr(tr, "identify_from_pybamm", _fake_identify)
    out = tmp_path / "spme.json"
    assert main(["fit", "--pybamm-set", "Chen2020", "--physics", "spme", "--out", str(out), "--transport"]) == 0
    cell = json.loads(out.read_text())
    assert cell["parameters"][K_TRANSPORT] == [[0.2, 120.0, 0.1, 130.0, -0.5], [0.8, 160.0, 0.6, 1e7, 0.0]]
    assert cell["provenance"][K_TRANSPORT] == "fake pulses of Chen2020"
    assert "transport limit: 2 SOC rows" in capsys.readouterr().out
    est = make_estimator(load_cell(out), initial_soc=0.8)
    lim = power_limits_now(est, 25.0, PowerSettings(horizons_s=(30.0,), discharge_current_max_A=500.0))
    assert lim[0]["discharge_limited_by"] == "transport"


def test_cli_ecm_transport_needs_a_parameter_set(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pybamm")
    monkeypatch.setattr(tr, "identify_from_pybamm", _fake_identify)
    assert main(["fit", "--ocv", "o.csv", "--hppc", "h.csv", "--out", str(tmp_path / "x.json"), "--transport"]) == 2
    assert "--transport needs the PyBaMM parameter set" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
