"""Issue #13: one factory. cellsense.make_estimator(cell, ...) builds the estimator the one rule
(estimators.base.estimator_class) picks for a cell: Estimator for an ECM cell, SpmeEstimator for an SPMe cell,
whatever form the cell is given in. Estimator(spme cell), the former door, still works and is deprecated."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import cellsense
from cellsense import CellFileError, Estimator, load_cell, make_estimator
from cellsense.cells.files import resolve_cell_path
from cellsense.estimators import SpmeEstimator, estimator_class
from cellsense.estimators.ecm import SPME_DOOR_DEPRECATED


def _forms(name: str):
    path = resolve_cell_path(name)
    return {"name": name, "path": str(path), "pathlike": path, "loaded": load_cell(name)}


@pytest.mark.parametrize("form", ["name", "path", "pathlike", "loaded"])
@pytest.mark.parametrize("name, cls", [("chen2020", Estimator), ("chen2020_spme", SpmeEstimator)])
def test_the_factory_picks_the_class_from_the_cell(name, cls, form):
    cell = _forms(name)[form]
    assert estimator_class(cell) is cls
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the factory never goes through the deprecated door
        est = make_estimator(cell, filter="ukf", dtype="float32", initial_soc=0.4)
    assert type(est) is cls
    assert (est.filter, est.dtype, float(est.soc)) == ("ukf", "float32", pytest.approx(0.4, abs=1e-6))


def test_the_factory_is_public():
    assert cellsense.make_estimator is cellsense.estimators.make_estimator and "make_estimator" in cellsense.__all__
    assert cellsense.Estimator is Estimator  # the public name keeps working: the ECM estimator


def _profile(n: int = 600):
    rng = np.random.default_rng(5)
    t = np.arange(n, dtype=float)
    i = 2.0 + rng.normal(0, 0.5, n)
    soc = 0.8 - np.cumsum(i) / (5.0 * 3600)
    return t, i, 3.4 + 0.7 * soc - 0.02 * i, np.full(n, 25.0)


def test_the_deprecated_door_builds_what_the_factory_builds():
    with pytest.warns(DeprecationWarning) as w:
        door = Estimator("chen2020_spme", filter="ekf", initial_soc=0.8)
    assert [str(x.message) for x in w] == [SPME_DOOR_DEPRECATED] and w[0].filename == __file__  # points at the caller
    made = make_estimator("chen2020_spme", filter="ekf", initial_soc=0.8)
    assert type(door) is type(made) is SpmeEstimator
    a, b = door.run(*_profile()), made.run(*_profile())
    assert np.array_equal(a.soc, b.soc) and np.array_equal(a.status_code, b.status_code)
    assert np.array_equal(a.anode_surface_potential_V, b.anode_surface_potential_V)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # copies rebuild the estimator without the door
        c = copy.copy(made)
    assert type(c) is SpmeEstimator and np.array_equal(c.state, made.state)


def test_a_bad_cell_is_named():
    with pytest.raises(CellFileError, match="no-such-cell: no such cell file"):
        make_estimator("no-such-cell")
    with pytest.raises(CellFileError, match="no-such-cell: no such cell file"):
        Estimator("no-such-cell")
