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


# ---- issue #13: the complete-log rule and the shipped truths ----------------------------------------------------
def test_one_complete_log_rule_for_files_and_arrays(tmp_path):
    """io.logs.incomplete is the rule read_log (a file) and fitting (arrays) apply; each names the place its way."""
    from cellsense.fit.inputs import _log_arrays
    from cellsense.io.logs import incomplete

    t = np.arange(6.0)
    cols = {"time_s": t, "current_A": np.ones(6), "voltage_V": np.full(6, 3.9), "temperature_degC": np.full(6, 25.0)}
    assert incomplete(cols) is None
    for change, issue, in_file, in_array in [
        ({"voltage_V": np.r_[3.9, 3.9, 3.9, np.nan, 3.9, 3.9]}, ("nonfinite", 3, "voltage_V"),
         "data row 4: non-finite value in column 'voltage_V'", "row 3: non-finite voltage_V ("),
        ({"time_s": np.r_[0.0, 1, 2, 2, 4, 5]}, ("time", 3, "time_s"),
         "line 5: time_s not strictly increasing", "row 3: time_s not strictly increasing"),
        ({k: v[:1] for k, v in cols.items()}, ("rows", 1, ""), "needs at least 2 data rows, has 1",
         "needs at least 2 samples, has 1"),
    ]:
        bad = {**cols, **change}
        assert incomplete(bad) == issue
        p = tmp_path / "bad.csv"
        p.write_text(",".join(bad) + "\n" + "".join(",".join("" if np.isnan(x) else repr(float(x)) for x in row) + "\n"
                                                 for row in zip(*bad.values())))
        with pytest.raises(LogFormatError, match=f"bad.csv: {re_escape(in_file)}"):
            read_log(p)
        with pytest.raises(ValueError, match=f"arr: {re_escape(in_array)}"):
            _log_arrays(bad, "arr")


def re_escape(s: str) -> str:
    import re

    return re.escape(s)


def test_the_log_columns_are_named_once():
    from cellsense.fit import LOG_COLUMNS
    from cellsense.io.logs import COLUMNS, OPTIONAL, REQUIRED
    from cellsense.truth.cache import TRUTH_COLUMNS

    assert LOG_COLUMNS is COLUMNS and TRUTH_COLUMNS is COLUMNS and COLUMNS == REQUIRED + OPTIONAL


def test_shipped_truths_are_read_and_written_by_the_cell_log_reader_and_writer(tmp_path):
    """A shipped truth (.csv.gz) is a cell log: read by the one parser (the arrays equal read_log's of the
    decompressed file) and written by the one writer (rewriting it gives the shipped bytes)."""
    import gzip

    from cellsense.truth.cache import _load_shipped, shipped_truths, write_shipped_truth

    recs = shipped_truths()
    if not recs:
        pytest.skip("no shipped truth")
    rec = recs[0]
    truth, meta = _load_shipped(rec)
    plain = tmp_path / "plain.csv"
    plain.write_bytes(gzip.decompress(rec["_data"].read_bytes()))
    ref = read_log(plain)
    assert list(truth) == list(ref) and all(np.array_equal(truth[c], ref[c]) for c in ref)
    stem = rec["_data"].name[:-len(".csv.gz")]
    write_shipped_truth(truth, rec["meta"], rec["key"], rec["cell info"],
                        (rec["reference capacity [A.h]"], rec["reference capacity source"]), stem, rec["regenerate"],
                        out_dir=tmp_path)
    assert (tmp_path / f"{stem}.csv.gz").read_bytes() == rec["_data"].read_bytes()


def test_a_shipped_truth_with_a_hole_is_named(tmp_path):
    import gzip
    import hashlib

    from cellsense.truth.cache import _load_shipped

    data = tmp_path / "t.csv.gz"
    raw = gzip.compress(b"time_s,current_A,voltage_V,temperature_degC,soc_true\n0,1,4,25,1\n1,1,,25,0.9\n")
    data.write_bytes(raw)
    rec = {"_data": data, "_json": tmp_path / "t.json", "data sha256": hashlib.sha256(raw).hexdigest(), "meta": {}}
    with pytest.raises(ValueError, match=r"t.csv.gz: data row 2: non-finite value in column 'voltage_V'"):
        _load_shipped(rec)
    raw = gzip.compress(b"time_s,current_A,voltage_V,temperature_degC\n0,1,4,25\n1,1,4,25\n")
    data.write_bytes(raw)
    rec["data sha256"] = hashlib.sha256(raw).hexdigest()
    with pytest.raises(ValueError, match=r"t.csv.gz: header 'time_s,current_A,voltage_V,temperature_degC', expected"):
        _load_shipped(rec)
