"""The replay report's pack state of power (issue #15): `cellsense replay --power`, the report's table, the CSV columns,
power.png with the limiting cell marked, and both plots' gaps taken from the run's own rest / reinit events."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from cellsense.cells.ecm_reference import simulate_ecm
from cellsense.estimators.power import PowerSettings
from cellsense.estimators.settings import EstimatorSettings
from cellsense.pack import PackEstimator, PackLog, estimate_pack_power, load_pack, pack_from_dict
from cellsense.replay import report, targets
from cellsense.estimators.power import power_settings_from_cli
from cellsense.replay.cli import add_cli
from cellsense.replay.readers import read_log

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
PNG = b"\x89PNG\r\n\x1a\n"


def _parse(*args):
    ap = argparse.ArgumentParser()
    add_cli(ap.add_subparsers(dest="command"))
    return ap.parse_args(["replay", *args])


def gap_pack(step_s: float, soc0=(0.6, 0.35, 0.7)):
    """3 cells at different SOCs, 1 Hz with one step of `step_s` seconds at sample 300."""
    spec = pack_from_dict({"cellsense pack file": 1, "name": "gap pack", "topology": {"series": len(soc0)},
                           "cell": "chen2020", "voltage": {"pattern": "V{index}"}, "current": "i", "temperature": "T",
                           "time": "t"})
    t = np.r_[np.arange(0.0, 300.0), np.arange(299.0 + step_s, 599.0 + step_s)]
    i = np.where((t // 60) % 2 == 0, 4.0, -1.0)
    V = np.stack([simulate_ecm(spec.cell, t, i, 25.0, initial_soc=s)["voltage_V"] for s in soc0], axis=1)
    return spec, PackLog(t, i, V, np.full((len(t), 1), 25.0), None, "gap_pack.csv"), np.asarray(soc0)


def spy_savefig(monkeypatch):
    """What each figure saved: its title, legend texts, shaded spans, NaN breaks per line, annotations."""
    plt = pytest.importorskip("matplotlib.pyplot")
    saved = {}
    real = plt.Figure.savefig

    def spy(fig, path, *a, **k):
        saved[Path(path).name] = {
            "title": fig._suptitle.get_text(),
            "labels": [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()],
            "spans": sum(1 for ax in fig.axes for p in ax.patches if p.get_alpha() == 0.3),
            "breaks": [int(np.isnan(np.asarray(ln.get_xdata(), float)).sum()) for ax in fig.axes for ln in ax.lines
                       if len(ln.get_xdata()) > 2],
            "notes": [t.get_text() for ax in fig.axes for t in ax.texts]}
        return real(fig, path, *a, **k)

    monkeypatch.setattr(plt.Figure, "savefig", spy)
    return saved


def test_cli_power_writes_table_columns_and_plot(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    saved = spy_savefig(monkeypatch)
    out = tmp_path / "r"
    a = _parse("--log", str(FIX / "sim12s.csv.gz"), "--pack", str(FIX / "sim12s.pack.json"), "--out", str(out),
               "--power", "2,10", "--current-max-A", "200", "--quiet")
    assert a.func(a) == 0
    # what the report says is what the whole-log function computes on the same log
    spec = load_pack(FIX / "sim12s.pack.json")
    log = read_log(FIX / "sim12s.csv.gz", spec)
    ref = estimate_pack_power(PackEstimator(spec, dtype="float32"), log,
                              PowerSettings(horizons_s=(2.0, 10.0), discharge_current_max_A=200.0,
                                            charge_current_max_A=200.0))
    rep = json.loads((out / "report.json").read_text())
    summ = rep["power"]["summary"]
    assert rep["power"]["horizons_s"] == [2.0, 10.0] and len(summ) == 2
    for j, row in enumerate(summ):
        for d in ("discharge", "charge"):
            cur = getattr(ref, f"{d}_current_A")[:, j]
            assert row[d]["min_A"] == float(np.nanmin(cur)) and row[d]["median_A"] == float(np.nanmedian(cur))
            cells = getattr(ref, f"{d}_cell")[:, j]
            top = int(np.bincount(cells).argmax())
            assert row[d]["cell"] == top and row[d]["cell_label"] == spec.cells[top].voltage.name
    md = (out / "report.md").read_text()
    assert "## Pack state of power" in md
    line = next(x for x in md.splitlines() if x.startswith("| 10 s | discharge |"))
    assert f"{summ[1]['discharge']['min_A']:.3g}" in line and summ[1]["discharge"]["cell_label"] in line
    head = (out / "results.csv").read_text().splitlines()
    cols = head[0].split(",")
    for c in ("i_dis_max_2s_A", "i_chg_max_10s_A", "p_dis_max_10s_W", "dis_cell_10s", "chg_cell_2s"):
        assert c in cols
    row = head[1 + 500].split(",")
    assert float(row[cols.index("i_dis_max_10s_A")]) == pytest.approx(ref.discharge_current_A[500, 1], rel=1e-6)
    assert int(row[cols.index("dis_cell_10s")]) == ref.discharge_cell[500, 1] + 1
    png = out / "power.png"
    assert png.read_bytes()[:8] == PNG
    p = saved["power.png"]
    top = summ[1]["discharge"]["cell_label"]
    assert top in p["notes"] and "10 s" in p["labels"] and "2 s" in p["labels"]
    assert p["spans"] == 2 and set(p["breaks"]) == {1}  # the fixture's logger-off stop


def test_without_power_the_report_is_unchanged(tmp_path):
    out = tmp_path / "r"
    a = _parse("--log", str(FIX / "sim12s.csv.gz"), "--pack", str(FIX / "sim12s.pack.json"), "--out", str(out),
               "--no-plots", "--quiet")
    assert a.func(a) == 0
    assert "power" not in json.loads((out / "report.json").read_text())
    assert "state of power" not in (out / "report.md").read_text()
    assert "i_dis_max" not in (out / "results.csv").read_text().splitlines()[0]
    assert not (out / "power.png").exists()


def test_power_options_are_checked():
    from argparse import Namespace

    def opts(power=None, conservative=None, current_max_A=None, derating=None):
        return Namespace(power=power, power_conservative=conservative, current_max_A=current_max_A, derating=derating)

    with pytest.raises(ValueError, match="need --power"):
        power_settings_from_cli(opts(None, conservative=3.0))
    with pytest.raises(ValueError, match="expected horizons"):
        power_settings_from_cli(opts("2,ten"))
    ps = power_settings_from_cli(opts("2,10,30", 3.0, 40.0, "0:0.5:0,10:1:1"))
    assert ps.horizons_s == (2.0, 10.0, 30.0) and ps.soc_sigma_k == 3.0 and ps.charge_current_max_A == 40.0
    assert [tuple(r) for r in ps.derating] == [(0.0, 0.5, 0.0), (10.0, 1.0, 1.0)]
    assert power_settings_from_cli(Namespace(power=None)) is None  # replay-bench declares only --power
    a = _parse("--log", "x", "--pack", str(FIX / "sim12s.pack.json"), "--out", "o", "--power", "2,-1")
    with pytest.raises(ValueError, match="horizons_s"):  # refused before the log is read
        a.func(a)


def test_plots_take_the_gaps_from_the_run_not_the_timestamps(tmp_path, monkeypatch):
    """With dt_max_s 20 s the estimator's gap threshold is 20 s (pack::gap_within), below the pack file's 30 s: a
    25 s step is a gap for the run (its rest event) though the timestamps re-derived at 30 s show none. Both
    plots shade it and break their lines there; a 12 s step is no gap for either."""
    pytest.importorskip("matplotlib")
    spec, log, soc0 = gap_pack(25.0)
    est = PackEstimator(spec, settings=EstimatorSettings(dt_max_s=20.0))
    assert est.gap_s == 20.0
    # without chen2020's transport limit the 200 A ratings bind and no limiting cell is marked: every line of the
    # power plot is a limit that breaks at the gap (with it, the transport-limited cell's markers are a line too)
    host = targets.run_host(est, log, soc0, power=PowerSettings(horizons_s=(10.0,), discharge_current_max_A=200.0,
                                                                charge_current_max_A=200.0, transport=()))
    assert report.log_gaps(log.time_s, spec.gaps.gap_s) == []
    assert report.run_gaps(log, host) == [(300, 299.0, 324.0)]
    saved = spy_savefig(monkeypatch)
    report.write(tmp_path / "o", report.compare(spec, log, host, None), log, host, None, spec=spec)
    for name in ("soc.png", "power.png"):
        s = saved[name]
        assert s["spans"] == 2 and s["breaks"] and set(s["breaks"]) == {1}, name
        assert "gap in the log (> 20 s)" in s["labels"], name
    assert saved["soc.png"]["title"].endswith("1 gap shaded")
    # the weakest cell (V2, lowest SOC) limits the discharge: marked and named
    assert "V2" in saved["power.png"]["notes"]
    spec, log, soc0 = gap_pack(12.0)
    host = targets.run_host(PackEstimator(spec), log, soc0)
    assert report.run_gaps(log, host) == [] and host.power is None
