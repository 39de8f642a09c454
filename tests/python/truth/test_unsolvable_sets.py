"""PyBaMM parameter sets cellsense cannot simulate are refused with a named reason (ValueError: the CLI's one line,
exit 2), not an internal error: half-cell / composite sets lack the full-cell DFN's parameters, and a set whose C/20
discharge outlasts 1.5 x its stated capacity cannot give an OCV test."""
from __future__ import annotations

import pytest

pytest.importorskip("pybamm")

from cellsense.cli import main  # noqa: E402
from cellsense.truth.simulate import simulate  # noqa: E402


@pytest.mark.parametrize("name", ["Xu2019", "Chen2020_composite"])
def test_half_cell_and_composite_sets_are_refused(name, tmp_path, capsys):
    with pytest.raises(ValueError, match=f"PyBaMM parameter set '{name}' has no .* full-cell DFN needs"):
        simulate(cell=name, protocol="ocv", cache_dir=tmp_path)
    assert main(["simulate", "--pybamm-set", name, "--protocol", "ocv", "--out", str(tmp_path / "x.csv"),
                 "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "half-cell or composite-electrode set" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_an_ocv_test_that_never_reaches_the_cutoff_is_refused(tmp_path):
    """Ramadass2004 states 1 A h; its C/20 discharge is still above 2.8 V after 1.5 x that."""
    with pytest.raises(ValueError, match="did not reach the lower cut-off 2.8 V within 1.5 x the set's capacity"):
        simulate(cell="Ramadass2004", protocol="ocv", cache_dir=tmp_path)
