"""Issue #12 "also seen", cell-log CSV reader: a UTF-8 byte-order mark is accepted, "1_0" is not a number, and
a byte that is not UTF-8 is reported on its own line (it used to be reported as line 1)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellsense.io.logs import LogFormatError, read_cell_log

HEAD = "time_s,current_A,voltage_V,temperature_degC\n"
ROWS = [f"{k},{0.5 * (k % 3)},{3.7 - 0.001 * k},25\n" for k in range(50)]


def test_bom_header_accepted(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + (HEAD + "".join(ROWS)).encode())
    log = read_cell_log(p)
    assert len(log) == 50 and log.time_s[0] == 0.0


@pytest.mark.parametrize("tok", ["1_0", "3_.7", "_1", "1__0"])
def test_underscore_numbers_refused(tmp_path, tok):
    p = tmp_path / "u.csv"
    rows = list(ROWS)
    rows[3] = f"3,{tok},3.7,25\n"
    p.write_text(HEAD + "".join(rows))
    with pytest.raises(LogFormatError, match=r"line 5: column current_A: not a number"):
        read_cell_log(p)


def test_non_utf8_on_line_2_reported_as_line_2(tmp_path):
    p = tmp_path / "b.csv"
    p.write_bytes(HEAD.encode() + b"0,0.5,3.7\xff,25\n" + "".join(ROWS[1:]).encode())
    with pytest.raises(LogFormatError, match=r"line 2, column 10: not UTF-8"):
        read_cell_log(p)


@settings(max_examples=100, deadline=None)
@given(line=st.integers(1, 51), col=st.integers(0, 8), byte=st.sampled_from([0xff, 0xfe, 0xc0, 0x80, 0xed]))
def test_non_utf8_line_is_exact(tmp_path_factory, line, col, byte):
    lines = [HEAD] + ROWS
    raw = [ln.encode() for ln in lines]
    k = line - 1
    c = min(col, len(raw[k]) - 2)
    raw[k] = raw[k][:c] + bytes([byte]) + raw[k][c:]
    p = tmp_path_factory.mktemp("u") / "x.csv"
    p.write_bytes(b"".join(raw))
    with pytest.raises(LogFormatError) as e:
        read_cell_log(p)
    m = re.search(r"line (\d+)", str(e.value))
    assert m and int(m.group(1)) == line, str(e.value)
    assert str(p) in str(e.value)


def test_clean_log_unchanged(tmp_path):
    p = tmp_path / "ok.csv"
    p.write_text(HEAD + "".join(ROWS))
    log = read_cell_log(p)
    np.testing.assert_array_equal(log.voltage_V, [3.7 - 0.001 * k for k in range(50)])
