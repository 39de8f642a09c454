"""`cellsense convert` refuses bad input with the file, line / column or option named (exit 2), never a
traceback or a silent wrong answer, and writes nothing then: corrupt gzip, non-UTF-8 bytes, --out naming a
source, an unwritable --out, nan / inf / implausible temperatures, a capacity the file out-discharges, and a
Panasonic Current column whose sign disagrees with the Ah counter."""
from __future__ import annotations

import gzip

import pytest

from cellsense.cli.commands import main
from cellsense.io.convert import ConvertError, convert, convert_nasa, convert_panasonic

HEADER = "Time,Voltage,Current,Ah,Battery_Temp_degC"


def _pana_rows(n=60, current_A=1.0, flip_current=False):
    rows, ah = [HEADER], 0.0
    for k in range(n):
        ah += -current_A / 3600 if k else 0.0
        cur = current_A if flip_current else -current_A
        rows.append(f"{k}.0,{4.1 - 0.001 * k:.4f},{cur},{ah:.6f},25.0")
    return rows


def _pana(tmp_path, rows=None, name="pana.csv"):
    p = tmp_path / name
    p.write_text("\n".join(rows or _pana_rows()) + "\n")
    return p


def _cli(capsys, *args):
    rc = main(["convert", "--format", "panasonic", *map(str, args)])
    return rc, capsys.readouterr().err


# 1. corrupt gzip: a named error, not zlib.error (exit 70)
def test_corrupt_gzip_is_named(tmp_path, capsys):
    src = tmp_path / "c.csv.gz"
    text = "\n".join(_pana_rows(3000)) + "\n"
    b = bytearray(gzip.compress(text.encode()))
    b[12:20] = bytes(x ^ 0xFF for x in b[12:20])
    src.write_bytes(bytes(b))
    with pytest.raises(ConvertError, match=r"c\.csv\.gz: (after )?line \d+: cannot read: corrupt or truncated gzip"):
        convert_panasonic(src)
    rc, err = _cli(capsys, "--input", src, "--out", tmp_path / "o.csv")
    assert rc == 2 and "c.csv.gz" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_truncated_gzip_names_the_last_good_line(tmp_path):
    src = tmp_path / "t.csv.gz"
    data = gzip.compress(("\n".join(_pana_rows(3000)) + "\n").encode())
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConvertError, match=r"t\.csv\.gz: after line \d+: cannot read: corrupt or truncated gzip"):
        convert_panasonic(src)


# 2. non-UTF-8 bytes: file and line named
def test_non_utf8_names_file_and_line(tmp_path, capsys):
    rows = _pana_rows()
    rows[3] = rows[3][:-4] + "\xff5.0"
    src = tmp_path / "latin.csv"
    src.write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    with pytest.raises(ConvertError, match=r"latin\.csv: line 4: byte 0xff at position \d+ is not UTF-8"):
        convert_panasonic(src)
    rc, err = _cli(capsys, "--input", src, "--out", tmp_path / "o.csv")
    assert rc == 2 and "latin.csv: line 4" in err


# 3. --out naming a source is refused before reading; an unwritable --out names --out
@pytest.mark.parametrize("which", ["input", "interpulse"])
def test_out_equal_to_a_source_is_refused(tmp_path, capsys, which):
    src = _pana(tmp_path)
    ip = _pana(tmp_path, name="ip.csv")
    before = src.read_bytes(), ip.read_bytes()
    out = src if which == "input" else ip
    with pytest.raises(ValueError, match=rf"--out .* is the same file as --{which}"):
        convert("panasonic", src, out, interpulse=ip if which == "interpulse" else None)
    rc, err = _cli(capsys, "--input", src, "--out", tmp_path / "." / src.name)
    assert rc == 2 and "refusing to overwrite" in err
    assert (src.read_bytes(), ip.read_bytes()) == before


def test_unwritable_out_names_out(tmp_path, capsys):
    src = _pana(tmp_path)
    bad = src / "x.csv"   # below a regular file: cannot be created
    rc, err = _cli(capsys, "--input", src, "--out", bad)
    assert rc == 2 and f"--out {bad}" in err and ".tmp" not in err
    rc, err = _cli(capsys, "--input", src, "--out", tmp_path)
    assert rc == 2 and "--out" in err and "is a directory" in err and ".tmp" not in err


# 4. nan / inf / implausible temperature: refused naming line and column
@pytest.mark.parametrize("col,value", [("Time", "nan"), ("Voltage", "nan"), ("Current", "inf"), ("Ah", "nan"),
                                       ("Battery_Temp_degC", "-inf"), ("Battery_Temp_degC", "NaN")])
def test_non_finite_fields_are_refused(tmp_path, capsys, col, value):
    rows = _pana_rows()
    fields = rows[10].split(",")
    fields[HEADER.split(",").index(col)] = value
    rows[10] = ",".join(fields)
    src = _pana(tmp_path, rows)
    with pytest.raises(ConvertError, match=rf"pana\.csv: line 11: column {col}: not a finite number"):
        convert_panasonic(src)
    rc, err = _cli(capsys, "--input", src, "--out", tmp_path / "o.csv")
    assert rc == 2 and "line 11" in err and not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("value", ["-1e9", "-100.5", "200.1", "1e300"])
def test_implausible_temperature_is_refused(tmp_path, value):
    rows = _pana_rows()
    rows[5] = rows[5].rsplit(",", 1)[0] + "," + value
    with pytest.raises(ConvertError, match=r"line 6: column Battery_Temp_degC: .* outside the plausible range"):
        convert_panasonic(_pana(tmp_path, rows))


def test_nasa_non_finite_and_temperature(tmp_path):
    p = tmp_path / "nasa.csv"
    rows = ["discharge_index,time_s,voltage_measured_V,current_measured_A,temperature_measured_C"]
    rows += [f"1,{k}.0,4.0,-1.0,24.0" for k in range(20)]
    rows[7] = "1,6.0,4.0,-1.0,-1e9"
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(ConvertError, match=r"line 8: column temperature_measured_C: .* outside"):
        convert_nasa(p, 1)
    rows[7] = "1,6.0,nan,-1.0,24.0"
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(ConvertError, match=r"line 8: column voltage_measured_V: not a finite number"):
        convert_nasa(p, 1)


# 5. a capacity the file discharges more than
def test_capacity_too_small_is_refused(tmp_path, capsys):
    src = _pana(tmp_path, _pana_rows(n=3600))   # 1 A for an hour: ~1 Ah
    with pytest.raises(ConvertError, match=r"discharges 0\.99\d+ Ah, more than --capacity-Ah 0\.1 Ah"):
        convert_panasonic(src, 0.1)
    rc, err = _cli(capsys, "--input", src, "--out", tmp_path / "o.csv", "--capacity-Ah", "0.5")
    assert rc == 2 and "--capacity-Ah 0.5" in err and not (tmp_path / "o.csv").exists()
    log, _ = convert_panasonic(src, 0.9)      # soc_true down to about -0.1: still accepted
    assert log.soc_true.min() > -0.2


# 6. Current negated relative to the Ah counter
def test_negated_current_is_refused(tmp_path, capsys):
    src = _pana(tmp_path, _pana_rows(n=600, flip_current=True))
    with pytest.raises(ConvertError, match=r"column Current: .*disagrees in sign with the Ah column.*Current column "
                                           r"looks negated"):
        convert_panasonic(src)
    rc, err = _cli(capsys, "--input", src, "--out", tmp_path / "o.csv")
    assert rc == 2 and "Current" in err and not (tmp_path / "o.csv").exists()


def test_negated_ah_is_named_as_the_flipped_one(tmp_path):
    rows = [HEADER] + [",".join(f if j != 3 else str(-float(f)) for j, f in enumerate(r.split(",")))
                       for r in _pana_rows(n=600)[1:]]
    with pytest.raises(ConvertError, match=r"disagrees in sign.*the Ah column looks negated"):
        convert_panasonic(_pana(tmp_path, rows))


def test_a_good_file_still_converts(tmp_path, capsys):
    src = _pana(tmp_path, _pana_rows(n=600))
    rc, _ = _cli(capsys, "--input", src, "--out", tmp_path / "o.csv")
    assert rc == 0 and (tmp_path / "o.csv").is_file()
