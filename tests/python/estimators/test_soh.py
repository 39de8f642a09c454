"""State of health (docs/soh.md): the bars, properties of the tracker, persistence, the CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from cellsense.cells.load import load_cell
from cellsense.estimators.settings import NoiseSettings
from cellsense.evaluate import realcells as rc
from cellsense.io.realdata import load_real_log
from cellsense.estimators.soh import SohEstimator, SohSettings, StartUnderLoadWarning, estimate_soh

ROOT = Path(__file__).resolve().parents[3]
NASA = ROOT / "python" / "cellsense" / "data" / "nasa_pcoe"
RATED_AH = 2.0


def nasa_logs(cell: str):
    raw = np.genfromtxt(NASA / f"{cell}_discharges.csv.gz", delimiter=",", names=True)
    cap = np.genfromtxt(NASA / f"{cell}_capacity.csv", delimiter=",", names=True)["capacity_Ah"]
    logs = []
    for k in range(1, 169):
        m = raw["discharge_index"] == k
        logs.append((raw["time_s"][m], raw["current_A"][m], raw["voltage_V"][m], raw["temperature_degC"][m]))
    return logs, cap


#: NASA settings: 10-20 s samples, so differences over up to 25 s feed R0; 20 mV voltage sigma
NASA_SOH = SohSettings(r0_max_dt_s=25.0)
NASA_NOISE = NoiseSettings(voltage_sigma_V=0.02)


@pytest.mark.parametrize("cell", ["B0005", "B0006"])
def test_nasa_capacity_rmse_bar(cell):
    logs, cap = nasa_logs(cell)
    assert len(logs) == 168
    est, res = estimate_soh(ROOT / "models" / f"nasa_{cell.lower()}.json", logs, soh=NASA_SOH, noise=NASA_NOISE)
    q = np.array([r.capacity_Ah[-1] for r in res])
    rmse = float(np.sqrt(np.mean((q[10:] - cap[10:]) ** 2)))
    print(f"{cell}: capacity RMSE over discharges 11-168 = {rmse:.4f} Ah = {100 * rmse / RATED_AH:.2f} % of rated")
    assert rmse <= 0.03 * RATED_AH
    sig = np.array([r.capacity_sigma_Ah[-1] for r in res])
    assert np.all(sig > 0) and np.all(np.isfinite(sig))


def _small_log(n=1500, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    i = np.where((np.arange(n) // 30) % 3 == 0, 0.0, 2.0 + rng.normal(0, 0.5, n))
    v = 3.9 - 0.00015 * np.arange(n) - 0.03 * i + rng.normal(0, 0.002, n)
    return t, i, v, np.full(n, 25.0)


@pytest.mark.parametrize("filt,dtype", [("ekf", "float64"), ("ukf", "float32"), ("ekf", "float32")])
def test_rejected_inputs_leave_soh_state_unchanged_and_covariance_spd(filt, dtype):
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hyp.settings(max_examples=25, deadline=None)
    @hyp.given(st.lists(st.tuples(st.integers(0, 5), st.floats(-3, 6), st.floats(3.0, 4.3)), min_size=5, max_size=60))
    def run(seq):
        est = SohEstimator("chen2020", filter=filt, dtype=dtype, initial_soc=0.8,
                           soh=SohSettings(r0_min_step_A=0.5, pair_min_delta_soc=0.01, pair_max_soc_sigma=0.5))
        est.run([0.0], [0.0], [3.9], [25.0])  # sets the clock
        t = 0.0
        for kind, i, v in seq:
            before = est.state_bytes()
            dt, temp = 1.0, 25.0
            if kind == 1:
                v = math.nan
            elif kind == 2:
                dt = 0.0
            elif kind == 3:
                i = 1e6
            t_next = t + dt
            r = est.run([t_next], [i], [v], [temp])
            if r.rejected[0]:
                assert est.state_bytes() == before
            if dt > 0:
                t = t_next
            p = est.covariance
            assert np.all(np.isfinite(p)) and np.allclose(p, p.T)
            assert np.all(np.linalg.eigvalsh(p.astype(float)) > 0)
            assert est.capacity_sigma_Ah > 0 and est.r0_scale_sigma > 0
            assert np.isfinite(est.capacity_Ah) and np.isfinite(est.r0_scale)
            po = np.asarray(est.save_state()["soh"]["ocv_P"], float)  # the OCV filter's covariance
            assert np.all(np.isfinite(po)) and np.array_equal(po, po.T)
            assert np.all(np.linalg.eigvalsh(po) > 0) and np.all(np.abs(est.ocv_nodes_V) <= 1.0)

    run()


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_logger_gap_does_not_become_ageing(filt):
    """A 10-minute logger gap (rows 3000-3599 of the bundled 25 degC Chen2020 DFN UDDS truth removed, no soc_true):
    the charge that moved in it is counted nowhere. Until 2026-12-07 the capacity pair stayed open across it and
    closed on the SOC change with that charge missing: capacity 4.41 Ah against 5.06 Ah on the clean log (-13 %),
    exit 0 and no warning. The tracker now forgets the pair at the gap (CS-SOH-016) and the SOC variance widens as
    the SOC-only estimator's does (one gap widened)."""
    import gzip

    import cellsense

    src = Path(cellsense.__file__).parent / "data" / "truth" / "chen2020_dfn_udds_25degC.csv.gz"
    with gzip.open(src, "rt") as f:
        d = np.genfromtxt(f, delimiter=",", names=True, max_rows=8000)
    cols = [d[k] for k in ("time_s", "current_A", "voltage_V", "temperature_degC")]
    keep = np.ones(len(d), bool)
    keep[3000:3600] = False
    clean = SohEstimator("chen2020", filter=filt)
    clean.run(*cols)
    gap = SohEstimator("chen2020", filter=filt)
    r = gap.run(*(c[keep] for c in cols))
    assert int(np.sum(r.rejected)) == 1 and gap._impl.gaps_widened == 1
    assert abs(gap.capacity_Ah - clean.capacity_Ah) <= 0.03 * clean.capacity_Ah, (gap.capacity_Ah, clean.capacity_Ah)
    assert not np.any(np.asarray(r.capacity_updated)[3000:])  # no pair closed across the gap


def test_rest_and_plateau_do_not_move_soh():
    est = SohEstimator("chen2020", initial_soc=0.7)
    n = 3000
    t = np.arange(n, dtype=float)
    r = est.run(t[:1500], np.zeros(1500), np.full(1500, 3.86), np.full(1500, 25.0))
    q0, f0 = est.capacity_Ah, est.r0_scale
    assert not r.capacity_updated.any() and not r.r0_updated.any()
    r = est.run(t[1500:], np.full(1500, 2.5), 3.80 - 1e-5 * np.arange(1500), np.full(1500, 25.0))
    assert not r.capacity_updated.any()
    assert r.r0_updated.sum() <= 1  # only the step onto the plateau can update R0
    assert est.capacity_Ah == q0
    assert abs(est.r0_scale - f0) < 0.5


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_save_restore_continues_bit_for_bit(filt):
    t, i, v, th = _small_log()
    a = SohEstimator("chen2020", filter=filt, initial_soc=0.9, soh=SohSettings(pair_min_delta_soc=0.02))
    a.run(t[:800], i[:800], v[:800], th[:800])
    saved = json.loads(json.dumps(a.save_state()))
    b = SohEstimator("chen2020", filter=filt, initial_soc=0.5, soh=SohSettings(pair_min_delta_soc=0.02))
    b.restore_state(saved)
    ra = a.run(t[800:], i[800:], v[800:], th[800:])
    rb = b.run(t[800:], i[800:], v[800:], th[800:])
    assert a.state_bytes() == b.state_bytes()
    np.testing.assert_array_equal(ra.capacity_Ah, rb.capacity_Ah)
    np.testing.assert_array_equal(ra.soc, rb.soc)
    bad = json.loads(json.dumps(saved))
    bad["soh"]["r0_scale_var"] = -1.0
    before = b.state_bytes()
    with pytest.raises(ValueError):
        b.restore_state(bad)
    assert b.state_bytes() == before


def test_cli_estimate_soh_columns_and_state(tmp_path):
    logs, _ = nasa_logs("B0005")
    paths = []
    for k in (0, 1):
        t, i, v, th = logs[k]
        if k == 0:  # a relaxed rest (400 s at the first voltage) before the discharge: OCV evidence (CS-SOH-018)
            pre = np.arange(-400.0, 0.0) + t[0]
            t, i, v, th = (np.concatenate([pre, t]), np.concatenate([np.zeros(400), i]),
                           np.concatenate([np.full(400, v[0]), v]), np.concatenate([np.full(400, th[0]), th]))
        p = tmp_path / f"d{k}.csv"
        np.savetxt(p, np.column_stack([t, i, v, th]), delimiter=",", fmt="%.6f",
                   header="time_s,current_A,voltage_V,temperature_degC", comments="")
        paths.append(p)
    model = str(ROOT / "models" / "nasa_b0005.json")
    cmd = [sys.executable, "-m", "cellsense.cli", "estimate", "--model", model, "--soh"]
    r1 = subprocess.run(cmd + ["--data", str(paths[0]), "--out", str(tmp_path / "e0.csv"), "--state-out",
                               str(tmp_path / "s.json")], capture_output=True, text=True)
    assert r1.returncode == 0, r1.stderr
    head = (tmp_path / "e0.csv").read_text().splitlines()[0].split(",")
    for c in ("capacity_Ah", "capacity_sigma_Ah", "r0_Ohm", "r0_sigma_Ohm", "ocv_shift_V"):
        assert c in head
    state = json.loads((tmp_path / "s.json").read_text())
    assert "soh" in state and state["soh"]["capacity_Ah"] > 0
    r2 = subprocess.run(cmd + ["--data", str(paths[1]), "--out", str(tmp_path / "e1.csv"), "--state-in",
                               str(tmp_path / "s.json")], capture_output=True, text=True)
    assert r2.returncode == 0, r2.stderr
    r4 = subprocess.run(cmd + ["--data", str(paths[0]), "--out", str(tmp_path / "n0.csv"), "--no-ocv-learning"],
                        capture_output=True, text=True)
    assert r4.returncode == 0, r4.stderr
    n0 = np.genfromtxt(tmp_path / "n0.csv", delimiter=",", names=True)
    e0 = np.genfromtxt(tmp_path / "e0.csv", delimiter=",", names=True)
    assert np.all(n0["ocv_shift_V"] == 0.0) and np.any(e0["ocv_shift_V"] != 0.0)
    r3 = subprocess.run([sys.executable, "-m", "cellsense.cli", "estimate", "--model", model, "--data", str(paths[0]),
                         "--out", str(tmp_path / "x.csv"), "--state-out", str(tmp_path / "x.json")],
                        capture_output=True, text=True)
    assert r3.returncode == 2


# ---- aged PyBaMM cell -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def aging_truth():
    """The aged-cell part of the ageing campaign (`cellsense simulate --protocol aging`, docs/soh.md):
    the bundled tail tests/fixtures/aging/okane2022_aging_tail.npz (scripts/make_aging_fixture.py),
    from the rest before drive block 8 to the end. Generating the campaign takes ~30 min on 2 cores,
    so a fresh machine does not regenerate it for every test run; test_aging_fixture_matches_simulation
    checks the fixture against a fresh simulation when CELLSENSE_SLOW_TESTS=1."""
    import json
    from types import SimpleNamespace

    with np.load(ROOT / "tests" / "fixtures" / "aging" / "okane2022_aging_tail.npz", allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return SimpleNamespace(time_s=z["time_s"], current_A=z["current_A"], voltage_V=z["voltage_V"],
                               temperature_degC=z["temperature_degC"], soc_true=z["soc_true"],
                               extra={"capacity_true_Ah": z["capacity_true_Ah"], "r0_ref_Ohm": z["r0_ref_Ohm"]},
                               meta=meta, capacity_start_Ah=meta["fixture"]["capacity_true_Ah at the campaign start"])


@pytest.mark.skipif(not __import__("os").environ.get("CELLSENSE_SLOW_TESTS"), reason="~30 min simulation; set CELLSENSE_SLOW_TESTS=1")
def test_aging_fixture_matches_simulation(aging_truth):
    pytest.importorskip("pybamm")
    from cellsense.truth.simulate import simulate

    r = simulate(protocol="aging")
    k0 = aging_truth.meta["fixture"]["rows from"]
    assert np.array_equal(r.voltage_V[k0:], aging_truth.voltage_V)
    assert np.array_equal(r.extra["capacity_true_Ah"][k0:], aging_truth.extra["capacity_true_Ah"])


#: the evaluation starts in the rest before drive block AGED_FROM_BLOCK + 1 (0-based index): the last
#: three full-equivalent discharges of the campaign, during which the cell goes from 8.4 % to 11.9 % lost
AGED_FROM_BLOCK = 7


def _aged_segment(r):
    blocks = r.meta["drive blocks"]
    start = blocks[AGED_FROM_BLOCK]["start [s]"] - 600.0  # in the rest before the block
    k0 = int(np.searchsorted(r.time_s, start))
    return k0, blocks[AGED_FROM_BLOCK:]


def _run_aged(r, enabled, ocv_learning=True, filter="ekf", dtype="float64"):
    k0, blocks = _aged_segment(r)
    est = SohEstimator(ROOT / "models" / "okane2022_spme.json", filter=filter, dtype=dtype,
                       soh=SohSettings(enabled=enabled, ocv_learning=ocv_learning))
    res = est.run(r.time_s[k0:], r.current_A[k0:], r.voltage_V[k0:], r.temperature_degC[k0:])
    return k0, blocks, est, res


def test_aging_truth_loses_ten_percent(aging_truth):
    caps = aging_truth.meta["rpt"]["C/20 capacity [A.h]"]
    assert caps[-1] <= 0.9 * caps[0]
    assert "capacity_true_Ah" in aging_truth.extra and "r0_ref_Ohm" in aging_truth.extra


def _rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_aged_cell_bars(aging_truth):
    r = aging_truth
    cap_true, r0_ref, soc_true = r.extra["capacity_true_Ah"], r.extra["r0_ref_Ohm"], r.soc_true
    k0, blocks, est, res = _run_aged(r, True)
    assert cap_true[k0] <= 0.92 * r.capacity_start_Ah  # aged at the start of the evaluation (8.4 % lost) ...
    assert cap_true[-1] <= 0.90 * r.capacity_start_Ah  # ... and > 10 % lost by its end
    # end of the third full-equivalent discharge of drive cycles
    k3 = int(np.searchsorted(r.time_s, blocks[2]["end [s]"])) - k0
    cap_err = abs(res.capacity_Ah[k3] - cap_true[k0 + k3]) / cap_true[k0 + k3]
    r0_est = est.r0_scale * est._impl.r0_table_Ohm(0.5, 25.0)
    r0_err = abs(r0_est - r0_ref[-1]) / r0_ref[-1]
    soc_rmse = _rmse(res.soc, soc_true[k0:])
    _, _, _, off = _run_aged(r, False)
    soc_rmse_off = _rmse(off.soc, soc_true[k0:])
    _, _, _, no_ocv = _run_aged(r, True, ocv_learning=False)
    soc_rmse_no_ocv = _rmse(no_ocv.soc, soc_true[k0:])
    print(f"aged cell: capacity error after 3 FEC {100 * cap_err:.2f} %, R0 error {100 * r0_err:.1f} %, SOC RMSE "
          f"{100 * soc_rmse:.2f} % with SOH, {100 * soc_rmse_off:.2f} % without, {100 * soc_rmse_no_ocv:.2f} % with "
          f"SOH but without OCV learning; OCV nodes {np.round(1000 * est.ocv_nodes_V, 1)} mV")
    assert cap_err <= 0.02
    assert r0_err <= 0.10
    assert soc_rmse <= 0.015
    # the contrast the bar is about: without tracking (or without the OCV it learns) the fresh cell's
    # model leaves the SOC twice as far off
    assert soc_rmse_off >= 2 * soc_rmse and soc_rmse_no_ocv >= 2 * soc_rmse
    # the learned correction is what the aged cell's OCV did: raised in mid SOC (loss of lithium and
    # active material; docs/soh.md), within the prior's reach
    assert est.ocv_nodes_V[2] > 0.02 and np.all(np.abs(est.ocv_nodes_V) < 0.15)
    assert np.isfinite(res.ocv_shift_V).all() and res.ocv_updated.sum() > 1000


@pytest.mark.parametrize("filt,dtype", [("ukf", "float64"), ("ekf", "float32"), ("ukf", "float32")])
def test_aged_cell_soc_bar_other_filters(aging_truth, filt, dtype):
    k0, _, _, res = _run_aged(aging_truth, True, filter=filt, dtype=dtype)
    # 1.5 % for both filters: the issue's bar. (1.6 % for the UKF from aeb6f4c until the OCV nodes' prior
    # sigma went 30 -> 50 mV: the trusted-anchor rules had cost it 0.09 points, 1.55 %; now 1.44 %.)
    bar = 0.015
    assert _rmse(res.soc, aging_truth.soc_true[k0:]) <= bar


def test_ocv_learning_off_leaves_model_as_before():
    """ocv_learning=False: the SOC filter computes exactly what it did before OCV learning existed
    (the correction is never switched on), and SOH disabled ignores the OCV settings."""
    t, i, v, th = _small_log()
    a = SohEstimator("chen2020", initial_soc=0.9, soh=SohSettings(ocv_learning=False))
    ra = a.run(t, i, v, th)
    assert np.all(ra.ocv_shift_V == 0.0) and not ra.ocv_updated.any()
    assert np.all(a.ocv_nodes_V == 0.0)
    b = SohEstimator("chen2020", initial_soc=0.9, soh=SohSettings(enabled=False))
    c = SohEstimator("chen2020", initial_soc=0.9, soh=SohSettings(enabled=False, ocv_learning=False))
    np.testing.assert_array_equal(b.run(t, i, v, th).soc, c.run(t, i, v, th).soc)


def test_ocv_learning_learns_a_shifted_ocv():
    """A cell whose OCV is the model's plus a bump in mid SOC (same capacity, same resistances): the
    learned correction finds the bump's sign and the SOC error shrinks against the same run without it."""
    from cellsense.cells.load import load_cell
    from cellsense.fit import ecm_simulate

    cell = load_cell("chen2020")
    raw = json.loads(Path(cell.source).read_text())
    p = raw["parameters"]
    bp = np.asarray(p["SOC breakpoints"], float)
    bump = 0.03 * np.exp(-((bp - 0.5) / 0.15) ** 2)  # +30 mV at SOC 0.5
    p["Open-circuit voltage [V]"] = (np.asarray(p["Open-circuit voltage [V]"], float) + bump).tolist()
    q = float(p["Nominal cell capacity [A.h]"])
    rng = np.random.default_rng(3)
    # two cycles: 1 h of pulsed discharge (0.9C mean while on, 1 min rest in every 5) from SOC 0.95 to
    # ~0.23, a rest, the same charge back at 0.9C, a rest
    prof = []
    for _ in range(2):
        on = (np.arange(3600) // 60) % 5 != 4
        seg = np.where(on, q * np.clip(0.9 + 0.4 * rng.standard_normal(3600), 0.0, 2.0), 0.0)
        dis_Ah = seg.sum() / 3600.0
        prof += [seg, np.zeros(600), np.full(int(round(dis_Ah / (0.9 * q) * 3600)), -0.9 * q), np.zeros(1800)]
    i = np.concatenate(prof)
    t = np.arange(len(i), dtype=float)
    sim = ecm_simulate(raw, t, i, 25.0, initial_soc=0.95)
    v = sim["voltage_V"] + rng.normal(0, 0.002, len(t))
    soc_true = sim["soc"]
    assert soc_true.min() > 0.1 and soc_true.max() < 1.0
    # the mechanism with the pairing and count rules of before trusted anchors (the log's current is exact, every
    # rest sample an anchor). With the defaults (45 s anchors, C/100 offset) the same log gives 0.98 x the error
    # without learning instead of < 0.8 x: the defaults trade learning speed for not learning a biased
    # sensor's drift (docs/soh.md "Trusted anchors")
    exact = dict(current_offset_sigma_A=0.0, anchor_rest_s=0.0)
    on = SohEstimator("chen2020", initial_soc=0.95, soh=SohSettings(**exact))
    off = SohEstimator("chen2020", initial_soc=0.95, soh=SohSettings(ocv_learning=False, **exact))
    r_on = on.run(t, i, v, np.full(len(t), 25.0))
    r_off = off.run(t, i, v, np.full(len(t), 25.0))
    e_on = _rmse(r_on.soc, soc_true)
    e_off = _rmse(r_off.soc, soc_true)
    print(f"shifted OCV: SOC RMSE {100 * e_on:.2f} % learning, {100 * e_off:.2f} % not; nodes "
          f"{np.round(1000 * on.ocv_nodes_V, 1)} mV")
    assert on.ocv_nodes_V[2] > 0.01  # the node at SOC 0.5 went up
    assert e_on < 0.8 * e_off


def test_soh_needs_an_ecm_cell():
    """An SPMe cell file gets a named refusal, not the binding's missing class (AttributeError, exit 70 before)."""
    with pytest.raises(ValueError, match="needs an ECM cell file"):
        SohEstimator("chen2020_spme")


def test_state_in_log_opening_under_load_gets_the_wide_sigma(tmp_path):
    """`start_log_from` on a log whose first sample is under load: the voltage is not an OCV, so the SOC from it gets
    the wide initial sigma and a StartUnderLoadWarning (was: the rested sigma 0.02, 12 sigma off on a 5 A start); a
    rested start keeps the rested sigma; the consider sensitivities restart at zero."""
    noise = NoiseSettings(current_offset_sigma_A=0.05)
    est = SohEstimator("chen2020", noise=noise, initial_soc=0.9)
    t = np.arange(0.0, 600.0)
    est.run(t, np.full(t.size, 3.0), np.full(t.size, 3.9), np.full(t.size, 25.0))
    assert any(v != 0 for v in est.save_state()["consider_offset"])
    with pytest.warns(StartUnderLoadWarning, match="opens under load"):
        est.start_log_from(t, np.full(t.size, 5.0), np.full(t.size, 3.7), np.full(t.size, 25.0))
    assert est.soc_sigma == pytest.approx(noise.initial_soc_sigma)
    assert all(v == 0 for v in est.save_state()["consider_offset"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", StartUnderLoadWarning)
        est.start_log_from(t, np.zeros(t.size), np.full(t.size, 3.9), np.full(t.size, 25.0))
        assert est.soc_sigma == pytest.approx(0.02)
        # a sensor offset's reading at rest (50 mA: case B of docs/real-data.md) is below C/20: not a load
        est.start_log_from(t, np.full(t.size, 0.05), np.full(t.size, 3.9), np.full(t.size, 25.0))
        assert est.soc_sigma == pytest.approx(0.02)


def test_stuck_voltage_teaches_soh_nothing():
    """A voltage frozen under a changing current (the core's stuck-voltage rule, as the SOC-only estimator applies it)
    is stepped without the voltage and the SOH tracker learns nothing over the span: it had made 369 R0 updates on a
    US06 with 2,000 samples frozen (2026-12-07)."""
    c = load_cell("panasonic_18650pf")
    log = load_real_log(f"{rc.DATASET}/25degC_US06", capacity_Ah=c.capacity_Ah)
    v = log.voltage_V.copy()
    v[1000:3000] = v[1000]
    est = SohEstimator(c, initial_soc=1.0)
    r = est.run(log.time_s, log.current_A, v, log.temperature_degC)
    stuck = r.status[1000:3000] == "voltage_stuck"
    assert stuck.sum() >= 1900 and est._impl.stuck_samples == int((r.status == "voltage_stuck").sum())
    assert not r.r0_updated[1000:3000][stuck].any() and not r.capacity_updated[1000:3000].any()
    clean = SohEstimator(c, initial_soc=1.0).run(log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    assert (clean.status == "voltage_stuck").sum() == 0 and clean.r0_updated[1000:3000].sum() > 100


def test_estimate_soh_summary_says_when_nothing_could_be_learned():
    """A log colder than the SOH learning window (20 .. 50 degC by default) learns nothing; the summary says so
    instead of printing the initial figures as if learned (a -10 degC new-user run read 'R0 factor 1.0000')."""
    from cellsense.cli.commands import _soh_window_note

    cold = _soh_window_note(SohSettings(), np.full(100, -10.0))
    assert "nothing learned" in cold and "20 .. 50 degC" in cold and "-10.0 .. -10.0" in cold
    warm = _soh_window_note(SohSettings(), np.r_[np.full(30, 10.0), np.full(70, 25.0)])
    assert "nothing learned" not in warm and "70 of 100 samples" in warm
