"""Issue #13: one cell-log reader. read_cell_log (estimation) and read_log (fitting, PyBaMM truths) share one
parser (cellsense.io.logs._parse): the same file gives the same numbers through both, and they differ only
in what they accept - an empty field is a NaN reading for the estimator and an error for a fit."""
from __future__ import annotations

import numpy as np
import pytest

from cellsense.io.logs import LogFormatError, read_cell_log, read_log
from cellsense.truth.result import SimResult


def test_both_readers_give_the_same_numbers(tmp_path):
    rng = np.random.default_rng(3)
    n = 200
    t = np.cumsum(rng.uniform(0.5, 1.5, n))
    cols = [t, rng.normal(0, 3, n), rng.uniform(3, 4.2, n), rng.uniform(0, 40, n), rng.uniform(0, 1, n)]
    p = tmp_path / "log.csv"
    SimResult(*cols, meta={}, extra={"capacity_true_Ah": np.full(n, 2.9)}).to_csv(p, sidecar=False)
    a, b = read_cell_log(p), read_log(p)
    for name in ("time_s", "current_A", "voltage_V", "temperature_degC", "soc_true"):
        assert np.array_equal(getattr(a, name), b[name]), name
    assert list(b) == ["time_s", "current_A", "voltage_V", "temperature_degC", "soc_true", "capacity_true_Ah"]


def test_an_empty_field_is_a_reading_for_the_estimator_and_an_error_for_a_fit(tmp_path):
    p = tmp_path / "gap.csv"
    p.write_text("time_s,current_A,voltage_V,temperature_degC\n0,1,4.0,25\n1,1,,25\n2,1,3.9,25\n")
    log = read_cell_log(p)
    assert np.isnan(log.voltage_V[1]) and log.voltage_V[2] == 3.9
    with pytest.raises(LogFormatError, match=r"gap.csv: data row 2: non-finite value in column 'voltage_V'"):
        read_log(p)


def test_the_strict_reader_skips_comments_and_checks_the_clock(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("# a truth\ntime_s,current_A,voltage_V,temperature_degC\n0,0,4,25\n# mid-file note\n1,0,4,25\n")
    assert np.array_equal(read_log(p)["time_s"], [0.0, 1.0])
    with pytest.raises(LogFormatError, match=r"line 1: missing column\(s\)"):  # the estimator's reader: no comments
        read_cell_log(p)
    p.write_text("time_s,current_A,voltage_V,temperature_degC\n0,0,4,25\n")
    with pytest.raises(LogFormatError, match="needs at least 2 data rows"):
        read_log(p)
