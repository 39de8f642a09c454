"""#13: the ECM parameter list is written once, in the core (cpp/include/cellsense/model/ecm_params_table.hpp:
name, unit and shape of every model::EcmParams member, in member order). The C API's cs_ecm_params is held to it
at compile time (static_asserts in cpp/src/c_api.cpp); the bindings publish it as cellsense._core.ECM_PARAMETERS
and ask the parameter dict for its keys; here the Python lists are held to it: the dict Cell.core_params()
builds, export-c's field order (it runs without the compiled module, so it keeps its own copy), and the
units the names carry."""
from __future__ import annotations

import re

import numpy as np
import pytest

import cellsense
from cellsense.estimators.base import _core
from cellsense.mcu.export_c import ECM_FIELDS, export_c


@pytest.fixture(scope="module")
def table():
    return _core().ECM_PARAMETERS


def test_table_shape(table):
    assert isinstance(table, tuple) and len(table) == 18
    names = [row[0] for row in table]
    assert len(set(names)) == len(names)
    assert {row[2] for row in table} == {"scalar", "breakpoints", "table", "rc_tables"}
    assert names[:2] == ["capacity_Ah", "coulombic_efficiency"] and names[-1] == "temperature_max_degC"


@pytest.mark.parametrize("cell_name", ["chen2020", "panasonic_18650pf", "nasa_b0005"])
def test_core_params_dict_is_the_table(table, cell_name):
    """Cell.core_params(): the table's names, in the table's order, with the shapes the table says."""
    cell = cellsense.load_cell(cell_name)
    p = cell.core_params()
    assert list(p) == [row[0] for row in table]
    ns, nt = len(cell.soc), len(cell.temperature_degC)
    for name, _unit, kind in table:
        v = p[name]
        if kind == "scalar":
            assert np.ndim(v) == 0, name
        elif kind == "breakpoints":
            assert np.ndim(v) == 1, name
        elif kind == "table":
            assert np.shape(v) == (nt, ns), name
        else:
            assert len(v) == cell.rc_pairs and all(np.shape(t) == (nt, ns) for t in v), name


def test_export_c_fields_are_the_table(table):
    assert list(ECM_FIELDS) == [(name, kind) for name, _unit, kind in table]


def test_export_c_writes_the_fields_in_table_order(table):
    """The generated header names every field in a comment, in the table's order."""
    text = export_c("chen2020")
    body = text[text.index("CS_PARAMS_LAYOUT"):]
    at = [body.find("/* grid */") if kind == "breakpoints" else
          (m.start() if (m := re.search(rf"\b{name}\b", body)) else -1) for name, _unit, kind in table]
    assert all(a >= 0 for a in at), dict(zip([r[0] for r in table], at))
    assert at == sorted(at)


def test_units_are_the_names_suffixes(table):
    """Names carry units: the table's unit is the name's suffix (dimensionless: '1')."""
    suffix = {"Ah": "A h", "A": "A", "V": "V", "Ohm": "Ohm", "s": "s", "degC": "degC"}
    for name, unit, _kind in table:
        tail = name.rsplit("_", 1)[-1]
        assert unit == suffix.get(tail, "1"), (name, unit)


@pytest.mark.parametrize("missing", ["hysteresis_instant_V", "temperature_max_degC", "soc", "rc_tau_s"])
def test_binding_asks_for_every_table_key(missing):
    """A parameter dict without one of the table's keys: KeyError naming it, before anything is read."""
    from cellsense.estimators.base import core_config
    from cellsense.estimators.settings import EstimatorSettings, NoiseSettings

    p = cellsense.load_cell("chen2020").core_params()
    del p[missing]
    x0 = np.zeros(_core().EcmEkf2_f64.n_states)
    x0[0] = 0.5
    with pytest.raises(KeyError, match=f"missing parameter '{missing}'"):
        _core().EcmEkf2_f64(p, core_config(EstimatorSettings(), NoiseSettings()),
                            {"soc_per_sqrt_s": 1e-4, "v_rc_V_per_sqrt_s": 1e-4, "hysteresis_per_sqrt_s": 1e-3,
                             "current_sigma_A": 0.01}, {}, x0, np.eye(len(x0)) * 1e-2, 0.0)
