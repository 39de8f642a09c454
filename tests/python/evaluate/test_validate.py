"""Validation machinery: metrics, bars, report, and the same sweep on a local process pool and on a
Dask distributed cluster (a LocalCluster started here). Uses short SPMe truths to stay fast; the
real matrix runs as `cellsense validate --quick` in scripts/test.sh."""
from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("pybamm")

from cellsense.evaluate.validate import (BARS, Scenario, chi2_mean_bounds, run_matrix, run_scenario, write_report)  # noqa: E402


def scenarios():
    return [Scenario("Chen2020", "chen2020", "cc", 25.0, "typical", 0.2, f, pybamm_model="SPMe") for f in ("ekf", "ukf")]


def test_chi2_bounds():
    lo, hi = chi2_mean_bounds(1000)
    assert lo < 1.0 < hi and hi - lo < 0.2
    lo2, hi2 = chi2_mean_bounds(100)
    assert lo2 < lo and hi2 > hi


def test_scenario_metrics_and_bars(tmp_path):
    r = run_scenario(scenarios()[0], plot_dir=str(tmp_path / "plots"))
    assert r.error is None, r.error
    assert r.samples > 1000 and 0.8 < r.duration_h < 1.2
    assert 0 <= r.rmse < 0.03 and 0 <= r.outside_3sigma_after <= 1
    assert np.isfinite(r.mean_nees) and np.isfinite(r.mean_nis)
    assert r.nees_bounds[0] < 1 < r.nees_bounds[1]
    assert r.passed == (not r.failures)
    assert (tmp_path / "plots" / f"{r.scenario.name}.png").stat().st_size > 10_000
    # a bar that cannot be met is reported as a failure with the figure in the message
    strict = dict(BARS)
    strict["impossible"] = {"rmse": 1e-9, "max_abs_after": None, "inside_3sigma": None}
    BARS.update(strict)
    try:
        bad = run_scenario(Scenario("Chen2020", "chen2020", "cc", 25.0, "typical", 0.2, "ekf", pybamm_model="SPMe",
                                    bar="impossible"))
    finally:
        BARS.pop("impossible")
    assert not bad.passed and any("RMSE" in f for f in bad.failures)


def test_unrunnable_scenario_is_reported_not_raised():
    r = run_scenario(Scenario("Chen2020", "no-such-model", "cc", 25.0, "typical", 0.2, "ekf", pybamm_model="SPMe"))
    assert not r.passed and r.error and "no-such-model" in r.error


def test_report_written(tmp_path):
    results = run_matrix(scenarios(), workers=1)
    md = write_report(results, tmp_path)
    text = md.read_text()
    assert "scenarios pass their bars" in text and results[0].scenario.name in text
    rows = list(csv.DictReader(open(tmp_path / "validation.csv")))
    assert len(rows) == 2 and {r["filter"] for r in rows} == {"ekf", "ukf"}


def test_process_pool_and_dask_give_the_same_results():
    distributed = pytest.importorskip("distributed")
    local = run_matrix(scenarios(), workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_matrix(scenarios(), scheduler=cluster.scheduler_address)
    assert [r.scenario for r in remote] == [r.scenario for r in local]
    for a, b in zip(local, remote):
        assert a.error is None and b.error is None
        assert a.rmse == b.rmse and a.max_abs_after == b.max_abs_after and a.mean_nis == b.mean_nis


@pytest.mark.parametrize("args, named", [
    (("--cell", "nosuch"), "--cell nosuch: nosuch: no such cell file"),
    (("--workers", "-3"), "--workers must be an integer >= 1"),
    (("--workers", "0"), "--workers must be an integer >= 1"),
])
def test_cli_bad_options_refused_up_front(capsys, tmp_path, monkeypatch, args, named):
    """A usage error is exit 2 naming the option, before any truth or scenario runs (exit 1 means a missed bar)."""
    from cellsense.cli.commands import main
    from cellsense.evaluate import validate as vmod

    monkeypatch.setattr(vmod, "run_matrix", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    rc = main(["validate", "--quiet", "--no-plots", "--out", str(tmp_path / "rep"), *args])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert named in err and "max_workers" not in err
    assert not (tmp_path / "rep").exists()


def test_run_matrix_refuses_bad_workers():
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        run_matrix(scenarios(), workers=0)
