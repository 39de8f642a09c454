"""The state-of-power Python API's argument checks and warnings (a tester's report on cellsense.estimators.power):
a default rating that falls back to the cell file's plausible current range warns; each scalar argument is refused
naming it and its range (not the core's one generic message); the CLI's option errors name the option; horizons as
a numpy array, duplicate horizons refused in both doors; a non-estimator refused as a TypeError naming `est`; a bad
table of the cell file names the file and the key."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from cellsense import Estimator
from cellsense.cells.load import load_cell
from cellsense.estimators import power as P
from cellsense.estimators.power import (L_DERATING, L_IDENTIFIED, PowerSettings, add_power_cli, estimate_power,
                                        power_limits_now, power_settings_from_cli, remaining_energy, time_to_full)

#: ratings given: no fallback warning
RATED = dict(discharge_current_max_A=6.0, charge_current_max_A=3.0)


def _opts(*argv):
    p = argparse.ArgumentParser()
    add_power_cli(p, power_help="h", rating_help="r")
    return p.parse_args(list(argv))


def _cell_file(tmp_path, edit) -> str:
    raw = json.loads(json.dumps(load_cell("panasonic_18650pf").raw))
    edit(raw)
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(raw))
    return str(path)


# --- A: a default rating from the plausible current range warns ---------------------------------------------------

def test_rating_sources_say_which_direction_falls_back():
    pana = P.rating_sources(load_cell("panasonic_18650pf"))  # identified [0, 17.4]: no charge pulse
    assert pana["discharge"] == (17.4, "identified") and pana["charge"] == (28.2, "plausible")
    spme = P.rating_sources(load_cell("chen2020_spme"))  # no identified range at all
    assert {w for _a, w in spme.values()} == {"plausible"} and spme["discharge"][0] == pytest.approx(103.064, abs=1e-3)
    assert {w for _a, w in P.rating_sources(load_cell("chen2020")).values()} == {"identified"}


def test_default_rating_from_the_plausible_range_warns_naming_the_rating_and_how_to_give_it():
    est = Estimator("panasonic_18650pf", initial_soc=0.5)
    with pytest.warns(P.RatingFallbackWarning) as rec:
        lim = power_limits_now(est, 25.0, PowerSettings(horizons_s=(10.0,)))
    text = str(rec[0].message)
    assert "panasonic_18650pf.json" in text and L_IDENTIFIED in text and "charge 28.2 A (10.0C)" in text
    assert "discharge" not in text.split("direction")[0]  # only the charge direction falls back
    assert "charge_current_max_A" in text and "--current-max-A" in text
    assert rec[0].filename == __file__  # pointed at the caller, not inside the package
    assert lim[0]["charge_current_A"] <= 28.2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ratings given, or a cell whose file has both: silent
        power_limits_now(est, 25.0, PowerSettings(horizons_s=(10.0,), **RATED))
        power_limits_now(Estimator("chen2020", initial_soc=0.5), 25.0)
        remaining_energy(est, 25.0, 2.0)  # the energy does not use the ratings
    with pytest.warns(P.RatingFallbackWarning, match="discharge and charge direction"):
        PowerSettings().core_dict(load_cell("chen2020_spme"))


def test_estimate_cli_shows_the_fallback_warning(tmp_path):
    data = tmp_path / "log.csv"
    t = np.arange(0.0, 60.0)
    rows = ["time_s,current_A,voltage_V,temperature_degC"] + [f"{x},1.0,3.9,25.0" for x in t]
    data.write_text("\n".join(rows) + "\n")
    cmd = [sys.executable, "-m", "cellsense.cli", "estimate", "--cell", "panasonic_18650pf", "--data", str(data),
           "--initial-soc", "0.7", "--power", "10"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # one "warning: <log>: ..." line, as the estimate's other warnings (not Python's warnings format)
    line = [ln for ln in r.stderr.splitlines() if "charge 28.2 A" in ln]
    assert len(line) == 1 and line[0].startswith(f"warning: {data}:") and "RatingFallbackWarning" not in r.stderr
    r = subprocess.run(cmd + ["--current-max-A", "3"], capture_output=True, text=True)
    assert r.returncode == 0 and "plausible" not in r.stderr, r.stderr


# --- B: each argument named with its range -------------------------------------------------------------------------

@pytest.fixture()
def est():
    return Estimator("panasonic_18650pf", initial_soc=0.5)


def test_time_to_full_refuses_soc_max_outside_0_1(est):
    with pytest.raises(ValueError, match=r"time_to_full: soc_max .*= 2: must be in \(0, 1\]"):
        time_to_full(est, 1.0, 2.0)  # was 19,495 s: charging past full
    for bad in (-1.0, 0.0, 1.0000001, float("nan")):
        with pytest.raises(ValueError, match=r"soc_max.*\(0, 1\]"):
            time_to_full(est, 1.0, bad)
    t, sigma = time_to_full(est, 1.0, 1.0)
    assert t > 0 and sigma >= 0


@pytest.mark.parametrize("call, name, span", [
    # the cell file's plausible range (the panasonic_18650pf's -40 .. 80 degC), where the core computes: 2026-12-07
    (lambda e: power_limits_now(e, 300.0, PowerSettings(**RATED)), "power_limits_now: temperature_degC",
     "[-40, 80] degC"),
    (lambda e: power_limits_now(e, -100.5, PowerSettings(**RATED)), "power_limits_now: temperature_degC",
     "[-40, 80] degC"),
    (lambda e: power_limits_now(e, 81.0, PowerSettings(**RATED)), "power_limits_now: temperature_degC",
     "[-40, 80] degC"),
    (lambda e: remaining_energy(e, 250.0, 5.0), "remaining_energy: temperature_degC", "[-40, 80] degC"),
    (lambda e: remaining_energy(e, 25.0, 2e9), "remaining_energy: power_W", "(0, 1e+09] W"),
    (lambda e: remaining_energy(e, 25.0, -5.0), "remaining_energy: power_W", "(0, 1e+09] W"),
    (lambda e: time_to_full(e, 2e6), "time_to_full: charge_current_A", "(0, 1e+06] A"),
    (lambda e: time_to_full(e, float("inf")), "time_to_full: charge_current_A", "(0, 1e+06] A"),
])
def test_out_of_range_arguments_are_named_with_their_range(est, call, name, span):
    with pytest.raises(ValueError) as e:
        call(est)
    msg = str(e.value)
    assert msg.startswith(name) and span in msg and "temperature / power / current" not in msg, msg


# --- D: the settings' doors --------------------------------------------------------------------------------------

def test_horizons_as_a_numpy_array_are_accepted():
    ps = PowerSettings(horizons_s=np.array([2.0, 10.0]), **RATED)
    assert ps.horizons_s == (2.0, 10.0)
    lim = power_limits_now(Estimator("panasonic_18650pf", initial_soc=0.5), 25.0, ps)
    assert [d["horizon_s"] for d in lim] == [2.0, 10.0]
    with pytest.raises(ValueError, match="1-D"):
        PowerSettings(horizons_s=np.array([[2.0, 10.0]]))


def test_duplicate_horizons_are_refused_in_python_and_on_the_command_line():
    with pytest.raises(ValueError, match=r"horizons_s: .*10 s given more than once"):
        PowerSettings(horizons_s=(2.0, 10.0, 10.0))
    with pytest.raises(ValueError, match=r"^--power '10,10': .*10 s given more than once"):
        power_settings_from_cli(_opts("--power", "10,10"))


@pytest.mark.parametrize("argv, option, rule", [
    (["--power", "10", "--power-conservative", "11"], "--power-conservative 11.0: ", "[0, 10]"),
    (["--power", "10", "--power-conservative", "-1"], "--power-conservative -1.0: ", "[0, 10]"),
    (["--power", "2,-1"], "--power '2,-1': ", "horizon"),
    (["--power", "10", "--current-max-A", "0"], "--current-max-A 0.0: ", "(0, 1e6]"),
    (["--power", "10", "--derating", "10:1:1,0:1:1"], "--derating '10:1:1,0:1:1': ", "[-100, 200]"),
])
def test_cli_option_errors_name_the_option(argv, option, rule):
    with pytest.raises(ValueError) as e:
        power_settings_from_cli(_opts(*argv))
    msg = str(e.value)
    # the option first, with its value as given, then the rule with its range (was: led by PowerSettings.<field>)
    assert msg.startswith(option) and rule in msg and "PowerSettings." not in msg, msg


# --- E: not an estimator ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda o: power_limits_now(o, 25.0),
    lambda o: remaining_energy(o, 25.0, 5.0),
    lambda o: time_to_full(o, 1.0),
    lambda o: estimate_power(o, [0.0, 1.0], [0.0, 0.0], [3.7, 3.7], [25.0, 25.0]),
])
def test_a_non_estimator_is_a_type_error_naming_est(call):
    with pytest.raises(TypeError, match=r"^\w+: est: needs an Estimator.*got object"):
        call(object())


# --- F: a bad table of the cell file names the file and the key ----------------------------------------------------

def test_a_bad_derating_table_in_the_cell_file_names_the_file_and_the_key(tmp_path):
    path = _cell_file(tmp_path, lambda raw: raw["limits"].__setitem__(L_DERATING, [[10, 1, 1], [0, 1, 1]]))
    est = Estimator(path, initial_soc=0.5)
    with pytest.raises(ValueError) as e:
        power_limits_now(est, 25.0, PowerSettings(**RATED))
    msg = str(e.value)
    assert msg.startswith(f'{path}: limits."{L_DERATING}"') and "derating_temperature_degC" in msg, msg
    assert "[-100, 200]" in msg and "PowerSettings.derating" not in msg
    # the same table given in the settings names the setting
    with pytest.raises(ValueError, match=r"^PowerSettings\.derating \(derating_temperature_degC\)"):
        PowerSettings(derating=[[10, 1, 1], [0, 1, 1]])


def test_remaining_energy_says_when_the_power_is_not_sustainable():
    """At SOC 0.08 the 18650PF's quasi-static model cannot hold 10 W above the cut-off (OCV^2 / 4 R ~ 9 W): the energy
    is 0 +- 0 by the model and `sustainable` says so (a confident 0 before); 5 W is sustainable there."""
    est = Estimator("panasonic_18650pf", initial_soc=0.08)
    hi = remaining_energy(est, 25.0, 10.0)
    lo = remaining_energy(est, 25.0, 2.0)
    assert hi["energy_Wh"] == 0.0 and hi["sustainable"] is False
    assert lo["energy_Wh"] > 0.0 and lo["sustainable"] is True
    full = remaining_energy(Estimator("panasonic_18650pf", initial_soc=0.9), 25.0, 10.0)
    assert full["energy_Wh"] > 5.0 and full["sustainable"] is True


@pytest.mark.parametrize("field, value", [("voltage_min_V", 2500.0), ("voltage_min_V", -5.0),
                                          ("voltage_max_V", 4200.0), ("voltage_max_V", 9.0)])
def test_cutoffs_outside_the_cells_voltage_range_are_refused_naming_the_field_and_range(est, field, value):
    """CS-PWR-012: a cut-off in mV (2500 for 2.5 V), a negative one or one beyond the cell's plausible voltage range is
    refused by the limits and the energy, naming the setting and the cell's range (the core refuses it too)."""
    lo, hi = est.cell.voltage_range_V
    other = {"voltage_min_V": 2.5, "voltage_max_V": 4.2}
    other.pop(field)
    if field == "voltage_min_V" and value > 4.2:
        other["voltage_max_V"] = value + 1.0  # a window (min below max) in the wrong unit
    ps = PowerSettings(**{field: value}, **other, **RATED)
    for call in (lambda: power_limits_now(est, 25.0, ps), lambda: remaining_energy(est, 25.0, 5.0, ps)):
        with pytest.raises(ValueError) as err:
            call()
        msg = str(err.value)
        assert f"PowerSettings.{field}" in msg or ("PowerSettings.voltage_max_V" in msg and field == "voltage_min_V")
        assert f"[{lo:g}, {hi:g}] V" in msg
    ok = PowerSettings(voltage_min_V=float(lo) if lo > 0 else 2.5, voltage_max_V=float(hi), **RATED)
    assert power_limits_now(est, 25.0, ok)


def test_a_default_rating_below_what_the_log_draws_warns():
    """chen2020's default rating is its identified range (5 A each way); a log drawing 8 A discharge gets a warning
    naming the direction, the peak and the rating, and none when the rating is given or the log stays below it
    (a new-user sweep saw every limit at 0.68 A on a log drawing 1.44 A, without a word)."""
    t = np.arange(100.0)
    i = np.r_[np.full(50, 8.0), np.full(50, -2.0)]
    args = (t, i, np.full(100, 3.9), np.full(100, 25.0))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        estimate_power(Estimator("chen2020", initial_soc=0.8), *args, PowerSettings(horizons_s=(10.0,)))
    below = [x for x in w if issubclass(x.category, P.RatingBelowLogWarning)]
    assert len(below) == 1 and "8 A discharge" in str(below[0].message) and "5 A" in str(below[0].message)
    assert issubclass(P.RatingBelowLogWarning, P.RatingFallbackWarning)  # the CLI prints it with the log's name
    for settings, cur in ((PowerSettings(horizons_s=(10.0,), discharge_current_max_A=10.0), i),
                          (PowerSettings(horizons_s=(10.0,)), np.clip(i, -4.0, 4.0))):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            estimate_power(Estimator("chen2020", initial_soc=0.8), t, cur, args[2], args[3], settings)
        assert not [x for x in w if issubclass(x.category, P.RatingBelowLogWarning)]


def test_a_given_rating_above_the_plausible_current_range_warns():
    """An Ecker2015 sweep's --current-max-A 100 on a cell whose plausible range is 1.7 A gave 10 s limits of 35C
    without a word; a rating within the range (or none) does not warn about it."""
    est = Estimator("chen2020", initial_soc=0.8)
    lo, hi = est.cell.current_range_A
    with pytest.warns(P.RatingFallbackWarning, match="above the cell file.s plausible current range"):
        PowerSettings(discharge_current_max_A=2 * hi, charge_current_max_A=10.0).core_dict(est.cell)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PowerSettings(discharge_current_max_A=hi, charge_current_max_A=-lo).core_dict(est.cell)
