"""Pack files and pack estimation (cellsense.pack over cpp/include/cellsense/pack/pack.hpp)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from cellsense.pack import PackEstimator, PackFileError, load_pack, pack_from_dict, step_dt

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"


def base(**kw):
    d = {"cellsense pack file": 1, "topology": {"series": 3}, "cell": "chen2020", "time": "t",
         "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": "T"}
    d.update(kw)
    return d


@pytest.mark.parametrize("change, where", [
    ({"topology": {"series": 0}}, "topology.series"),
    ({"cell": "no-such-cell"}, '"cell"'),
    ({"current": {"signal": "i", "positive": "sideways"}}, "current.positive"),
    ({"cells": [{"voltage": "a"}, {"voltage": "b"}]}, '"cells"'),
    ({"cells": [{"voltage": "a", "capacity_scale": -1}, "b", "c"]}, "cells[0].capacity_scale"),
    ({"cells": [{"voltage": "a", "temperature_sensor": 3}, "b", "c"]}, "cells[0].temperature_sensor"),
    ({"gaps": {"policy": "nap"}}, "gaps.policy"),
    ({"estimator": {"filter": "pf"}}, "estimator.filter"),
    ({"bogus": 1}, '"bogus"'),
])
def test_pack_file_errors_name_file_and_field(tmp_path, change, where):
    d = base()
    if "cells" in change:
        d.pop("voltage")
    d.update(change)
    p = tmp_path / "bad.pack.json"
    p.write_text(json.dumps(d))
    with pytest.raises(PackFileError) as e:
        load_pack(p)
    assert str(p) in str(e.value) and where in str(e.value)


def test_topology_sign_and_mean_cell():
    s = pack_from_dict(base(topology={"series": 3, "parallel": 2},
                            current={"signal": "i", "scale": 0.1, "positive": "charge"}))
    assert [c.voltage.name for c in s.cells] == ["v1", "v2", "v3"]
    assert s.cells[0].capacity_scale == 2.0 and s.cells[0].resistance_scale == 0.5
    assert s.current.convert(np.array([10.0]))[0] == pytest.approx(-1.0)  # converted at the edge
    m = pack_from_dict({"cellsense pack file": 1, "topology": {"series": 98}, "cell": "chen2020", "mean_cell": True,
                        "pack_voltage": "V", "current": "I", "temperature": "T"})
    assert m.n_cells == 1 and m.cells[0].voltage.convert(np.array([367.5]))[0] == pytest.approx(3.75)


def test_step_dt_clock_rule():
    dt = step_dt(np.array([0.0, 1.0, 1.0, 0.5, 3.0]))
    assert np.isnan(dt[0]) and list(dt[1:]) == [1.0, 0.0, -0.5, 2.0]


def test_fixture_pack_tracks_reference_and_handles_the_gap():
    from cellsense.replay.readers import read_log

    spec = load_pack(FIX / "sim12s.pack.json")
    log = read_log(FIX / "sim12s.csv.gz", spec)
    truth = json.loads((FIX / "truth.json").read_text())
    res = PackEstimator(spec).run(log)
    assert res.soc.dtype == np.float32 and res.soc.shape == (len(log), 12)
    gap_rows = np.nonzero(res.event == 1)[0]  # rest propagation over the logger-off stop
    assert len(gap_rows) == 1 and log.time_s[gap_rows[0]] - log.time_s[gap_rows[0] - 1] > 500
    assert (res.status[gap_rows[0]] == 20).all()
    counts = res.counts()
    assert counts["fused"] > 0.95 * 12 * len(log)
    err = res.summary["usable_soc"][1:] - log.reference_soc[1:]
    assert np.sqrt(np.mean(err[100:] ** 2)) < 0.03  # PyBaMM SPMe truth vs the fitted ECM
    assert abs(res.soc[-1] - np.array(truth["final_soc"])).max() < 0.04
    # the usable SOC is bounded by the weakest cells
    assert np.all(res.summary["usable_soc"][1:] <= res.summary["soc_max"][1:] + 1e-6)


def test_reinit_policy_and_float64():
    from cellsense.replay.readers import read_log

    spec = load_pack(FIX / "sim12s.pack.json")
    spec.gaps.policy = "reinit"
    log = read_log(FIX / "sim12s.csv.gz", spec)
    res = PackEstimator(spec, dtype="float64").run(log)
    assert res.soc.dtype == np.float64 and (res.event == 2).sum() == 1


def test_host_bar_96s_24h_under_30s():
    from cellsense.replay.cli import synthetic_pack_log

    spec, log = synthetic_pack_log(96, 24.0)
    assert len(log) * spec.n_cells >= 8.29e6
    est = PackEstimator(spec)
    t0 = time.perf_counter()
    res = est.run(log, initial_soc=np.full(96, 0.9))
    wall = time.perf_counter() - t0
    assert wall <= 30.0, f"96s x 24 h replay took {wall:.1f} s"
    assert res.counts().get("fused", 0) > 0.99 * res.status.size
    print(f"96s x 24 h host replay: {wall:.2f} s")


@pytest.mark.parametrize("cell", ["chen2020", "panasonic_18650pf"])
def test_pack_filters_take_the_cell_estimators_noise(cell):
    """Each series element's filter has the single-cell Estimator's measurement noise (the resistance-scaled model
    error of a cell file with a correlation time, the constant one otherwise), and the settings the core and the HIL
    CONFIG frame take carry it (docs/replay.md "Measurement noise"); until 2026-12-07 the pack kept a constant sigma."""
    import cellsense
    from cellsense.replay import framing as fr

    spec = pack_from_dict(base(cell=cell))
    pack = PackEstimator(spec)
    single = cellsense.Estimator(cell, initial_soc=0.5).noise
    for k in ("voltage_sigma_V", "model_error_current_A", "model_error_relative", "model_error_correlation_s",
              "model_error_voltage_V"):
        assert getattr(pack.noise, k) == getattr(single, k), k
        assert pack.settings_dict()[k] == getattr(single, k), k
    assert single.model_error_current_A > 0 if cell == "panasonic_18650pf" else single.model_error_voltage_V > 0
    assert set(fr.CONFIG_FLOATS) <= set(pack.settings_dict())
