"""Issue #13: every converter takes soc_true's reference capacity by one rule (io.convert._soc_capacity): the
capacity given (positive, finite), else the file's own discharged charge; anything else is refused, naming the
file when it is the file's fault. Before, the NASA converter took a zero or negative capacity (soc_true inf or
upside down) and a file without a discharge divided by zero."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cellsense.io.convert import _soc_capacity, convert_nasa, convert_panasonic


def _nasa(tmp_path, current_A: float):
    p = tmp_path / "nasa.csv"
    rows = ["discharge_index,time_s,voltage_measured_V,current_measured_A,temperature_measured_C"]
    rows += [f"1,{k}.0,{4.1 - 0.001 * k:.4f},{-current_A},24.0" for k in range(50)]
    rows += [f"2,{k}.0,3.9,-1.0,24.0" for k in range(5)]
    p.write_text("\n".join(rows) + "\n")
    return p


def _panasonic(tmp_path, current_A: float):
    p = tmp_path / "pana.csv"
    rows, ah = ["Time,Voltage,Current,Ah,Battery_Temp_degC"], 0.0
    for k in range(60):
        ah += -current_A / 3600 if k else 0.0
        rows.append(f"{k}.0,{4.1 - 0.001 * k:.4f},{-current_A},{ah:.6f},25.0")
    p.write_text("\n".join(rows) + "\n")
    return p


def test_the_rule():
    assert _soc_capacity("f", 2.5, 9.0) == 2.5 and _soc_capacity("f", None, 1.25) == 1.25
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="capacity_Ah must be positive"):
            _soc_capacity("f", bad, 1.0)
    for own in (0.0, -0.5, math.nan):
        with pytest.raises(ValueError, match=r"f: no discharged charge to take as the soc_true reference"):
            _soc_capacity("f", None, own)


@pytest.mark.parametrize("convert", [lambda p, c: convert_nasa(p, 1, c), convert_panasonic], ids=["nasa", "panasonic"])
def test_every_converter_applies_it(tmp_path, convert):
    make = _nasa if convert.__name__ == "<lambda>" else _panasonic
    src = make(tmp_path, 2.0)
    log, _ = convert(src, 2.0)
    assert log.soc_true[0] == pytest.approx(1.0) and np.all(np.diff(log.soc_true) <= 0)
    own, _ = convert(src, None)
    assert own.soc_true[-1] == pytest.approx(0.0, abs=1e-9)  # its own discharged charge: SOC 1 -> 0
    with pytest.raises(ValueError, match="capacity_Ah must be positive, got -2.0"):
        convert(src, -2.0)
    rest = make(tmp_path, 0.0)  # nothing discharged: no reference of its own
    with pytest.raises(ValueError, match=f"{rest.name}: no discharged charge"):
        convert(rest, None)
