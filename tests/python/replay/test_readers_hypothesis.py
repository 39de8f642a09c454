"""Readers under hypothesis: malformed input gives an error of the documented type naming the file
and the line or field, never a crash of another kind; nothing partial is written."""
from __future__ import annotations

import copy
import json
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cellsense import CellFileError, LogFormatError, load_cell, read_cell_log, write_cell_log
from cellsense.io.logs import CellLog

from conftest import synthetic_cell_dict

HEADER = "time_s,current_A,voltage_V,temperature_degC"
token = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.text(alphabet=string.printable, max_size=8),
    st.just(""),
)
line = st.lists(token, min_size=0, max_size=7).map(",".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.one_of(st.just(HEADER), st.just(HEADER + ",soc_true"), line),
       body=st.lists(line, max_size=12))
def test_cell_log_reader_never_crashes(tmp_path_factory, header, body):
    p = tmp_path_factory.mktemp("log") / "log.csv"
    p.write_text(header + "\n" + "\n".join(body) + ("\n" if body else ""))
    try:
        log = read_cell_log(p)
    except LogFormatError as e:
        msg = str(e)
        assert str(p) in msg and ("line " in msg or "no data rows" in msg), msg
        return
    n = len(log)
    assert n >= 1 and all(len(a) == n for a in (log.time_s, log.current_A, log.voltage_V, log.temperature_degC))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix_rows=st.integers(0, 3000), where=st.integers(0, 20), junk=st.binary(min_size=1, max_size=4))
def test_non_utf8_bytes_are_a_named_error(tmp_path_factory, prefix_rows, where, junk):
    """Found by the atheris cell_log target: a byte that is not UTF-8 escaped as UnicodeDecodeError."""
    body = "".join(f"{k},1.0,3.7,25\n" for k in range(prefix_rows)).encode()
    bad = b"\xff" + junk  # 0xff never starts a UTF-8 sequence
    data = HEADER.encode() + b"\n" + body + str(prefix_rows).encode()[:where] + bad + b",1,3.7,25\n"
    p = tmp_path_factory.mktemp("log") / "bin.csv"
    p.write_bytes(data)
    with pytest.raises(LogFormatError) as e:
        read_cell_log(p)
    assert str(p) in str(e.value) and "UTF-8" in str(e.value) and "line " in str(e.value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad_row=st.integers(0, 20), bad_col=st.integers(0, 3), tok=st.sampled_from(["x", "1.2.3", "--", "nan nan", "0x"]))
def test_bad_number_names_line_and_column(tmp_path_factory, bad_row, bad_col, tok):
    rows = [[f"{k}", "1.0", "3.7", "25"] for k in range(21)]
    rows[bad_row][bad_col] = tok
    p = tmp_path_factory.mktemp("log") / "x.csv"
    p.write_text(HEADER + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(LogFormatError) as e:
        read_cell_log(p)
    assert f"line {bad_row + 2}" in str(e.value) and HEADER.split(",")[bad_col] in str(e.value)


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.integers(-5, 5), st.text(max_size=4)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(synthetic_cell_dict(2)["parameters"])), value=json_value,
       where=st.sampled_from(["replace", "delete", "row", "cell"]))
def test_cell_file_mutations_are_named(tmp_path_factory, key, value, where):
    d = copy.deepcopy(synthetic_cell_dict(2))
    p_ = d["parameters"]
    if where == "delete":
        del p_[key]
    elif where == "replace":
        p_[key] = value
    elif where == "row" and isinstance(p_[key], list) and p_[key]:
        p_[key][0] = value
    elif where == "cell" and isinstance(p_[key], list) and p_[key] and isinstance(p_[key][0], list):
        p_[key][0][0] = value
    else:
        p_[key] = value
    path = tmp_path_factory.mktemp("cell") / "cell.json"
    path.write_text(json.dumps(d, allow_nan=True))
    try:
        cell = load_cell(path)
    except CellFileError as e:
        assert str(path) in str(e)
        return
    # accepted: it must then be usable by the core
    from cellsense import Estimator

    Estimator(cell, initial_soc=0.5)


@settings(max_examples=50, deadline=None)
@given(top=st.dictionaries(st.sampled_from(["cellsense cell file", "RC pairs", "model", "parameters", "limits",
                                            "provenance"]), json_value, max_size=6))
def test_cell_file_top_level_garbage(tmp_path_factory, top):
    path = tmp_path_factory.mktemp("cell") / "c.json"
    path.write_text(json.dumps(top, allow_nan=True))
    with pytest.raises(CellFileError) as e:
        load_cell(path)
    assert str(path) in str(e.value)


def test_failed_write_leaves_nothing(tmp_path):
    class Boom(Exception):
        pass

    n = 100
    log = CellLog(np.arange(n, dtype=float), np.ones(n), np.full(n, 3.7), np.full(n, 25.0), None)
    out = tmp_path / "out.csv"

    def bad_iter():
        for k in range(n):
            if k == 50:
                raise Boom()
            yield float(k)

    class BadArray(np.ndarray):
        def __iter__(self):
            return bad_iter()

    log.time_s = np.arange(n, dtype=float).view(BadArray)
    with pytest.raises(Boom):
        write_cell_log(out, log)
    assert not out.exists() and list(tmp_path.iterdir()) == []
