"""The current sensor's consider terms (NoiseSettings.current_offset_sigma_A / current_gain_sigma; the core's
CS-EST-019, docs/estimator.md "The current sensor in the band"): the estimate is unchanged, the band covers the
sensor's offset, the sensitivities survive save / restore, and the estimators without them refuse them."""
import json
from pathlib import Path

import numpy as np
import pytest

from cellsense import Estimator, make_estimator
from cellsense.cli import main
from cellsense.estimators.settings import NoiseSettings
from cellsense.pack import PackEstimator, load_pack
from cellsense.evaluate.realcells import metrics
from cellsense.truth.sensor import SensorModel
from cellsense.truth.simulate import simulate


@pytest.fixture(scope="module")
def biased_us06():
    """The shipped US06 truth through a sensor with a 0.2 A offset (chen2020, 3.3 h)."""
    return simulate(protocol="us06", sensor=SensorModel(voltage_noise_V=0.002, current_noise_A=0.010,
                                                        current_offset_A=0.2, seed=1))


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_the_band_covers_the_offset_and_the_estimate_is_unchanged(biased_us06, filt):
    r = biased_us06
    plain = Estimator("chen2020", filter=filt, initial_soc=0.8).run(r.time_s, r.current_A, r.voltage_V,
                                                                     r.temperature_degC)
    cons = Estimator("chen2020", filter=filt, initial_soc=0.8,
                     noise=NoiseSettings(current_offset_sigma_A=0.2)).run(r.time_s, r.current_A, r.voltage_V,
                                                                            r.temperature_degC)
    assert np.array_equal(plain.soc, cons.soc)  # the gain ignores the considered offset: the same estimate
    assert np.all(cons.soc_sigma >= plain.soc_sigma)
    m0 = metrics(r.time_s, plain.soc, plain.soc_sigma, r.soc_true)
    m1 = metrics(r.time_s, cons.soc, cons.soc_sigma, r.soc_true)
    # measured 2026-12-07: EKF 94.8 -> 98.5 % inside 3 sigma (UKF alike)
    assert m0["inside_3sigma"] < 0.97 and m1["inside_3sigma"] >= 0.98, (m0, m1)


def test_save_restore_carries_the_sensitivities(biased_us06):
    r = biased_us06
    n = 3000
    noise = NoiseSettings(current_offset_sigma_A=0.1, current_gain_sigma=0.01)
    a = Estimator("chen2020", initial_soc=0.8, noise=noise)
    a.run(r.time_s[:n], r.current_A[:n], r.voltage_V[:n], r.temperature_degC[:n])
    saved = json.loads(json.dumps(a.save_state()))
    assert any(v != 0 for v in saved["consider_offset"]) and any(v != 0 for v in saved["consider_gain"])
    b = Estimator("chen2020", noise=noise)
    b.restore_state(saved)
    assert b.soc_sigma == a.soc_sigma
    rest = (r.time_s[n:], r.current_A[n:], r.voltage_V[n:], r.temperature_degC[n:])
    assert np.array_equal(a.run(*rest).soc_sigma, b.run(*rest).soc_sigma)
    # a state saved before the sensitivities existed restores with them at zero: the filter's own sigma
    old = {k: v for k, v in saved.items() if not k.startswith("consider_")}
    c = Estimator("chen2020", noise=noise)
    c.restore_state(old)
    assert c.soc_sigma == pytest.approx(float(np.sqrt(c.covariance[0, 0])), rel=1e-12)
    # refused by name, nothing changed
    for key, bad in (("consider_offset", [1.0, 2.0]), ("consider_gain", [float("nan")] * len(saved["x"]))):
        before = c.state_bytes()
        with pytest.raises(ValueError, match=key):
            c.restore_state({**saved, key: bad})
        assert c.state_bytes() == before


def test_off_is_the_filters_own_sigma(biased_us06):
    r = biased_us06
    e = Estimator("chen2020", initial_soc=0.8)
    out = e.run(r.time_s[:500], r.current_A[:500], r.voltage_V[:500], r.temperature_degC[:500])
    assert out.soc_sigma[-1] == pytest.approx(float(np.sqrt(e.covariance[0, 0])), rel=1e-12)
    assert e.save_state()["consider_offset"] == [0.0] * len(e.state_names)


def test_refusals():
    with pytest.raises(ValueError, match="current_offset_sigma_A"):
        NoiseSettings(current_offset_sigma_A=-0.1)
    with pytest.raises(ValueError, match="current_gain_sigma"):
        NoiseSettings(current_gain_sigma=2.0)
    with pytest.raises(ValueError, match="SPMe"):
        make_estimator("chen2020_spme", noise=NoiseSettings(current_offset_sigma_A=0.05))
    spec = load_pack(Path(__file__).resolve().parents[2] / "fixtures" / "pack" / "sim12s.pack.json")
    with pytest.raises(ValueError, match="pack estimator does not carry them"):
        PackEstimator(spec, noise=NoiseSettings(current_gain_sigma=0.01))


def test_cli_options(biased_us06, tmp_path, capsys):
    r = biased_us06
    log = r.to_csv(tmp_path / "log.csv")
    base = ["estimate", "--cell", "chen2020", "--data", str(log), "--initial-soc", "0.8"]
    assert main(base + ["--out", str(tmp_path / "a.csv")]) == 0
    assert main(base + ["--out", str(tmp_path / "b.csv"), "--current-offset-sigma-A", "0.2"]) == 0
    a = np.genfromtxt(tmp_path / "a.csv", delimiter=",", names=True)
    b = np.genfromtxt(tmp_path / "b.csv", delimiter=",", names=True)
    assert np.array_equal(a["soc"], b["soc"]) and b["soc_sigma"][-1] > a["soc_sigma"][-1]
    assert main(base + ["--current-gain-sigma", "-1"]) == 2
    assert "--current-gain-sigma" in capsys.readouterr().err
