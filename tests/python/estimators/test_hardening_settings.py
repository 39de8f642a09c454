"""Issue #12 item 5: settings that would make every step fail are refused where they are given, naming the
field (NoiseSettings / EstimatorSettings / SohSettings, the CLI options, the cell-file loader)."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellsense.cells.ecm import cell_from_dict
from cellsense.cells.files import CellFileError
from cellsense.cells.load import load_cell
from cellsense.cli import main
from cellsense.estimators.ecm import Estimator
from cellsense.estimators.settings import EstimatorSettings, NoiseSettings
from cellsense.estimators.soh import SohEstimator, SohSettings

ABSURD = [math.nan, math.inf, -math.inf, 1e30, 1e300, -1e30, 10 ** 401, "0.1", [0.1]]


def _numeric_fields(cls):
    return [f.name for f in dataclasses.fields(cls) if "float" in str(f.type) or "int" in str(f.type)]


@pytest.mark.parametrize("cls", [NoiseSettings, EstimatorSettings, SohSettings])
def test_every_numeric_field_refuses_nonfinite_and_absurd(cls):
    names = _numeric_fields(cls)
    assert names
    for name in names:
        for v in ABSURD:
            with pytest.raises(ValueError, match=rf"{cls.__name__}\.{name}"):
                cls(**{name: v})


@pytest.mark.parametrize("cls", [NoiseSettings, EstimatorSettings, SohSettings])
def test_defaults_are_valid_and_bool_fields_checked(cls):
    cls()
    for f in dataclasses.fields(cls):
        if str(f.type) == "bool":
            with pytest.raises(ValueError, match=f.name):
                cls(**{f.name: "yes"})


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(_numeric_fields(NoiseSettings)),
       v=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10 ** 500, 10 ** 500)))
def test_noise_settings_refused_or_usable(name, v):
    """Any value: refused at construction naming the field, or an estimator builds and steps with it."""
    try:
        noise = NoiseSettings(**{name: v})
    except ValueError as e:
        assert f"NoiseSettings.{name}" in str(e)
        return
    try:
        est = Estimator("chen2020", noise=noise, initial_soc=0.5)
    except ValueError as e:  # the core's own config check (e.g. a voltage sigma it refuses): still named
        assert "bad_config" in str(e) or "voltage_sigma" in str(e), str(e)
        return
    r = est.step(1.0, 1.0, 3.7, 25.0)
    assert math.isfinite(r.soc)


def test_field_added_later_is_validated_too():
    """The validation iterates dataclasses.fields: a field added to NoiseSettings (here in a subclass) is
    checked with the default bounds without any new code."""
    Extra = dataclasses.make_dataclass("Extra", [("new_sigma_A", "float", dataclasses.field(default=0.1)),
                                                 ("new_walk_V_per_sqrt_s", "float", dataclasses.field(default=1e-3))],
                                       bases=(NoiseSettings,))
    Extra()
    for v in (math.nan, math.inf, 1e30, -1.0):
        with pytest.raises(ValueError, match="new_sigma_A"):
            Extra(new_sigma_A=v)
    with pytest.raises(ValueError, match="new_walk_V_per_sqrt_s"):
        Extra(new_walk_V_per_sqrt_s=100.0)  # volts: bounded at 10 V


def test_issue_examples():
    with pytest.raises(ValueError, match="soc_per_sqrt_s"):
        NoiseSettings(soc_per_sqrt_s=math.nan)
    with pytest.raises(ValueError, match="v_rc_V_per_sqrt_s"):
        NoiseSettings(v_rc_V_per_sqrt_s=1e300)
    with pytest.raises(ValueError, match="initial_capacity_Ah"):
        SohSettings(initial_capacity_Ah=1e-30)
    with pytest.raises(ValueError, match="soc_min"):
        EstimatorSettings(soc_min=0.9, soc_max=0.1)


def test_settings_mutated_after_construction_refused_by_the_estimator():
    n = NoiseSettings()
    n.current_sigma_A = math.inf
    with pytest.raises(ValueError, match="current_sigma_A"):
        Estimator("chen2020", noise=n, initial_soc=0.5)
    with pytest.raises(ValueError, match="current_sigma_A"):
        SohEstimator("chen2020", noise=n, initial_soc=0.5)
    s = SohSettings()
    s.initial_capacity_Ah = 1e-30
    with pytest.raises(ValueError, match="initial_capacity_Ah"):
        SohEstimator("chen2020", initial_soc=0.5, soh=s)


def test_soh_initial_capacity_against_the_cell():
    cap = load_cell("chen2020").capacity_Ah
    with pytest.raises(ValueError, match="initial_capacity_Ah"):
        SohEstimator("chen2020", initial_soc=0.5, soh=SohSettings(initial_capacity_Ah=cap / 100))
    SohEstimator("chen2020", initial_soc=0.5, soh=SohSettings(initial_capacity_Ah=0.8 * cap))


@pytest.mark.parametrize("opt,value", [("--current-sigma-A", "nan"), ("--current-sigma-A", "inf"),
                                       ("--current-sigma-A", "1e30"), ("--current-sigma-A", "-1"),
                                       ("--voltage-sigma-V", "nan"), ("--voltage-sigma-V", "1e30"),
                                       ("--max-dt-s", "inf"), ("--max-dt-s", "0")])
def test_cli_refuses_absurd_options(tmp_path, cell_path, synthetic_log, opt, value, capsys):
    from cellsense.io.logs import CellLog, write_cell_log

    L = synthetic_log
    log = tmp_path / "log.csv"
    write_cell_log(log, CellLog(L["time_s"][:50], L["current_A"][:50], L["voltage_V"][:50], L["temperature_degC"][:50]))
    out = tmp_path / "o.csv"
    rc = main(["estimate", "--model", str(cell_path), "--data", str(log), "--out", str(out), opt, value])
    err = capsys.readouterr().err
    assert rc == 2 and opt in err, err
    assert not out.exists()


# ---- cell-file loader: physical bounds, and integers too long for a float ---------------------------------
@pytest.mark.parametrize("key,value", [("Hysteresis maximum [V]", 1e30), ("Instantaneous hysteresis [V]", 1e30),
                                       ("Hysteresis maximum [V]", 5.0), ("R0 [Ohm]", 1e30), ("R1 [Ohm]", 1e6),
                                       ("tau1 [s]", 1e30), ("Hysteresis rate constant", 1e30),
                                       ("Hysteresis sign deadband [A]", 1e30), ("Upper voltage cut-off [V]", 1e30),
                                       ("Lower voltage cut-off [V]", -1.0), ("Open-circuit voltage [V]", 1e3),
                                       ("Nominal cell capacity [A.h]", 10 ** 401),
                                       ("Hysteresis maximum [V]", 10 ** 401)])
def test_cell_file_absurd_parameters_named(cell_dict, key, value):
    d = json.loads(json.dumps(cell_dict))
    d["parameters"][key] = value
    with pytest.raises(CellFileError, match=key.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        cell_from_dict(d, "x.json")


def test_cell_file_absurd_limits_named(cell_dict):
    d = json.loads(json.dumps(cell_dict))
    d["limits"]["Current range [A]"] = [-1e30, 1e30]
    with pytest.raises(CellFileError, match="Current range"):
        cell_from_dict(d, "x.json")


def test_cell_file_hysteresis_1e30_through_the_file(tmp_path, cell_dict, capsys):
    d = json.loads(json.dumps(cell_dict))
    d["parameters"]["Hysteresis maximum [V]"] = 1e30
    p = tmp_path / "c.json"
    p.write_text(json.dumps(d))
    with pytest.raises(CellFileError, match=r"c\.json.*Hysteresis maximum"):
        Estimator(str(p), initial_soc=0.5)
