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
from cellsense.estimators.soh_state import SavedStateMismatchWarning
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


def test_restore_refuses_absurd_sensitivities_and_warns_on_other_noise(biased_us06):
    """A sensitivity beyond CONSIDER_MAX is refused by name with nothing changed (1e300 had been dropped by the core
    while the SOC part was applied: a half-done restore); a state saved under other noise settings restores with a
    SavedStateMismatchWarning naming the field."""
    r = biased_us06
    noise = NoiseSettings(current_offset_sigma_A=0.05)
    a = Estimator("chen2020", initial_soc=0.8, noise=noise)
    a.run(r.time_s[:2000], r.current_A[:2000], r.voltage_V[:2000], r.temperature_degC[:2000])
    saved = a.save_state()
    b = Estimator("chen2020", initial_soc=0.5, noise=noise)
    b.run(r.time_s[:100], r.current_A[:100], r.voltage_V[:100], r.temperature_degC[:100])
    before = (b.state_bytes(), b.save_state()["consider_offset"])
    for bad in (1e6, 1e300):
        with pytest.raises(ValueError, match=r"consider_offset\[0\]"):
            b.restore_state({**saved, "consider_offset": [bad] + saved["consider_offset"][1:]})
        assert (b.state_bytes(), b.save_state()["consider_offset"]) == before
    with pytest.warns(SavedStateMismatchWarning, match="noise.current_offset_sigma_A"):
        Estimator("chen2020").restore_state(saved)


def test_huge_sensor_sigma_reports_at_most_an_unknown_soc():
    """The consider part of the variance is capped at a uniform SOC's over [soc_min, soc_max]: a 1000 A offset sigma
    reported a SOC sigma of 189 before."""
    t = np.arange(0.0, 3600.0)
    e = Estimator("chen2020", initial_soc=0.8, noise=NoiseSettings(current_offset_sigma_A=1000.0))
    # a voltage falling 1 mV per 100 s as the 2 A discharge goes on (a constant one under load is a stuck reading
    # now: the charge rule steps it without the voltage, CS-CLK-010, and the SOC sigma then grows by the walk)
    v = 3.8 - 1e-5 * t
    out = e.run(t, np.full(t.size, 2.0), v, np.full(t.size, 25.0))
    assert "voltage_stuck" not in out.counts()
    assert out.soc_sigma.max() <= np.sqrt(1.1 ** 2 / 12 + 0.25 ** 2) + 1e-9


def test_soh_takes_the_sensor_offset_from_the_cli(biased_us06, tmp_path):
    """estimate --soh --current-offset-sigma-A X: the SOH tracker's error model gets the same sensor offset
    (SohSettings.current_offset_sigma_A; it stayed at its default before)."""
    log = biased_us06.to_csv(tmp_path / "log.csv")
    st = tmp_path / "s.json"
    assert main(["estimate", "--cell", "chen2020", "--data", str(log), "--soh", "--current-offset-sigma-A", "0.07",
                 "--state-out", str(st)]) == 0
    assert json.loads(st.read_text())["soh_settings"]["current_offset_sigma_A"] == 0.07
