"""`cellsense bench`: --duration-s and --peer-steps are checked up front (exit 2 naming the option and its range), and
the peer_steps printed / written is the number of steps filterpy actually ran (at most the log's)."""
from __future__ import annotations

import json

import pytest

from cellsense.cli import main
from cellsense.evaluate.bench import MAX_DURATION_S, MAX_PEER_STEPS, check_bench_args


@pytest.mark.parametrize("option, value, named", [
    ("--duration-s", "nan", "--duration-s nan: expected a finite number of seconds in [1, 1e+06]"),
    ("--duration-s", "inf", "--duration-s inf"),
    ("--duration-s", "0", "--duration-s 0.0"),
    ("--duration-s", "-5", "--duration-s -5.0"),
    ("--duration-s", "1e12", "--duration-s 1000000000000.0"),
    ("--peer-steps", "0", "--peer-steps 0: expected an integer in [1, 100000]"),
    ("--peer-steps", "-3", "--peer-steps -3"),
    ("--peer-steps", "10000000", "--peer-steps 10000000"),
])
def test_bench_options_out_of_range_exit_2(capsys, option, value, named):
    assert main(["bench", f"{option}={value}"]) == 2
    err = capsys.readouterr().err
    assert named in err, err


def test_bounds_accept_the_edges():
    check_bench_args(1.0, 1)
    check_bench_args(MAX_DURATION_S, MAX_PEER_STEPS)
    with pytest.raises(ValueError, match="--peer-steps True"):
        check_bench_args(10.0, True)


def test_peer_steps_reported_are_the_steps_run(tmp_path, capsys):
    """--duration-s 30 --peer-steps 1500: filterpy ran 30 steps, the output said 1500."""
    pytest.importorskip("filterpy")
    out = tmp_path / "b.json"
    assert main(["bench", "--duration-s", "30", "--peer-steps", "1500", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    r = json.loads(out.read_text())
    assert r["log_steps"] == 30 and r["peer_steps"] == 30 and r["peer_steps_asked"] == 1500
    assert "filterpy on the first 30 steps of the same log (asked 1500: the log has 30)" in text
    assert main(["bench", "--duration-s", "30", "--peer-steps", "10", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["peer_steps"] == 10
    assert "filterpy on the first 10 steps of the same log\n" in capsys.readouterr().out
