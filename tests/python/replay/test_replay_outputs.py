"""What `cellsense replay` leaves in --out: results.csv's limiting-cell columns name no cell where the rating set the
limit (they said cell 1) and a limited_by column says which constraint did; an earlier run's soc.png / power.png is
removed so no stale plot sits beside the new report."""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from cellsense.cli import main

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"


@pytest.fixture(scope="module")
def short_log(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("log") / "short.csv"
    p.write_text("\n".join(gzip.open(FIX / "sim12s.csv.gz", "rt").read().splitlines()[:301]) + "\n")
    return p


def _replay(log: Path, out: Path, *extra) -> int:
    return main(["replay", "--log", str(log), "--pack", str(FIX / "sim12s.pack.json"), "--out", str(out), "--quiet",
                 *map(str, extra)])


def test_rating_limited_rows_name_no_cell(short_log, tmp_path):
    out = tmp_path / "o"
    assert _replay(short_log, out, "--no-plots", "--power", "2,10", "--current-max-A", "20") == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    by = {}
    for d in ("dis", "chg"):
        for h in ("2s", "10s"):
            assert f"{d}_limited_by_{h}" in rows[0]
            for r in rows:
                by.setdefault(r[f"{d}_limited_by_{h}"], []).append(int(r[f"{d}_cell_{h}"]))
    assert by.get("rating"), "the 20 A rating should set some limits"
    assert set(by["rating"]) == {0}  # was 1 (the core names cell 0 when the rating binds)
    cell_limited = [c for k, v in by.items() if k in ("voltage", "soc") for c in v]
    assert cell_limited and min(cell_limited) >= 1, by.keys()
    assert set(by) <= {"voltage", "soc", "rating", "none", "transport", "not computed"}


def test_stale_plots_removed(short_log, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "o"
    assert _replay(short_log, out, "--power", "10") == 0
    assert (out / "soc.png").is_file() and (out / "power.png").is_file()
    (out / "notes.txt").write_text("mine")
    assert _replay(short_log, out, "--no-plots") == 0
    assert not (out / "soc.png").exists() and not (out / "power.png").exists()
    assert (out / "notes.txt").read_text() == "mine"  # only the names the command writes
    assert _replay(short_log, out) == 0  # plots again, but no --power: no power.png from before
    assert (out / "soc.png").is_file() and not (out / "power.png").exists()
