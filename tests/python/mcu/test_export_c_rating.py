"""`cellsense export-c`'s current ratings in `<symbol>_power_config()`: --current-max-A sets them (checked, named);
without it a direction that falls back to the cell file's plausible current range warns, and the header's comment
says where each rating came from. A bad derating table of the cell file names the file and the key."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from cellsense.cells.load import load_cell
from cellsense.cli import main
from cellsense.estimators import power as P
from cellsense.estimators.power import L_DERATING, L_IDENTIFIED
from cellsense.mcu.export_c import export_c


def _ratings(header: str) -> tuple[str, str]:
    """The discharge (cs_power_config_default's last argument) and charge rating literals of the header."""
    dis = re.search(r"cs_power_config_default\(config, [^,]+, [^,]+, ([^)]+)\);", header).group(1)
    chg = re.search(r"config->charge_current_max_A = ([^;]+);", header).group(1)
    return dis, chg


def _comment(header: str) -> str:
    return header[header.index("/* The state of power's settings"):header.index("#define CELL_PARAMS_POWER_DERATING")]


def test_current_max_a_sets_both_ratings_and_the_comment_says_so(tmp_path: Path, capsys):
    out = tmp_path / "p.h"
    assert main(["export-c", "--cell", "panasonic_18650pf", "--out", str(out), "--current-max-A", "6"]) == 0
    assert "warning" not in capsys.readouterr().err
    header = out.read_text()
    assert _ratings(header) == ("6.0f", "6.0f")
    assert "discharge and charge 6 A: --current-max-A" in _comment(header)


def test_plausible_fallback_warns_and_the_comment_names_each_source(tmp_path: Path, capsys):
    out = tmp_path / "p.h"
    assert main(["export-c", "--cell", "panasonic_18650pf", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "cellsense export-c: warning:" in err and "charge 28.2 A (10.0C)" in err and "--current-max-A" in err
    header = out.read_text()
    assert _ratings(header) == ("17.3999996f", "28.2000008f")  # unchanged values, now announced
    comment = _comment(header)
    assert f'discharge 17.4 A: the cell file\'s limits."{L_IDENTIFIED}"' in comment
    assert 'charge 28.2 A: the cell file\'s plausible "Current range [A]"' in comment
    # the library door: a RatingFallbackWarning (a cell whose file identifies both directions: none)
    with pytest.warns(P.RatingFallbackWarning, match="charge 28.2 A"):
        export_c("panasonic_18650pf")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ratings(export_c("chen2020")) == ("5.0f", "5.0f")
        assert _ratings(export_c("panasonic_18650pf", current_max_A=3.5)) == ("3.5f", "3.5f")


@pytest.mark.parametrize("value", ["0", "-2", "nan", "inf", "2e6"])
def test_a_bad_current_max_a_is_refused_naming_the_option_and_its_range(tmp_path: Path, capsys, value):
    out = tmp_path / "p.h"
    assert main(["export-c", "--cell", "chen2020", "--out", str(out), f"--current-max-A={value}"]) == 2
    err = capsys.readouterr().err
    assert "--current-max-A" in err and "(0, 1e6] A" in err, err
    assert not out.exists()
    with pytest.raises(ValueError, match=r"current_max_A \(--current-max-A\).*\(0, 1e6\] A"):
        export_c("chen2020", current_max_A=float(value))


def test_a_bad_derating_table_of_the_cell_file_names_the_file_and_the_key(tmp_path: Path, capsys):
    raw = json.loads(json.dumps(load_cell("chen2020").raw))
    raw["limits"][L_DERATING] = [[10.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(raw))
    assert main(["export-c", "--cell", str(path), "--out", str(tmp_path / "p.h")]) == 2
    err = capsys.readouterr().err
    assert f'{path}: limits."{L_DERATING}"' in err and "[-100, 200] degC" in err, err
