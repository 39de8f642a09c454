"""Issue #13: an option more than one verb has is declared once (cellsense._cliopts), so it is the same flag,
dest, type and action in every verb; the verbs pass only the help text that says what it means for them."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

import cellsense
from cellsense.cli import build_parser

#: the options several verbs share, each declared by one _cliopts helper
SHARED = ("--cell", "--pybamm-set", "--physics", "--quiet", "--fresh", "--temperature-degC", "--no-plots")
#: declarations left in place (none: replay/cli.py's --quiet / --no-plots go through _cliopts since the merge)
NOT_YET: dict[str, set[str]] = {}


def _verbs() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _option(p: argparse.ArgumentParser, flag: str):
    return next((a for a in p._actions if flag in a.option_strings and a.help is not argparse.SUPPRESS), None)


@pytest.mark.parametrize("flag", SHARED)
def test_a_shared_option_is_the_same_in_every_verb(flag):
    found = {verb: _option(p, flag) for verb, p in _verbs().items()}
    found = {verb: a for verb, a in found.items() if a is not None}
    assert len(found) >= 2, f"{flag}: in {sorted(found)} only"
    kinds = {(tuple(a.option_strings), a.dest, type(a).__name__, getattr(a.type, "__name__", a.type), a.nargs)
             for a in found.values()}
    assert len(kinds) == 1, f"{flag} differs between verbs: {kinds}"


def test_shared_options_are_declared_only_in_cliopts():
    """No module but _cliopts passes a shared option's flag to add_argument (except NOT_YET)."""
    root = Path(cellsense.__file__).resolve().parent
    found = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_argument"):
                continue
            flags = {a.value for a in node.args if isinstance(a, ast.Constant)} & set(SHARED)
            flags -= NOT_YET.get(rel, set())
            if flags and rel != "_cliopts.py":
                found.append((rel, node.lineno, sorted(flags)))
    assert found == []


def test_the_old_spellings_still_parse(capsys):
    """The helpers kept the deprecated aliases: demo's --model is the cell file, --resolve is --fresh."""
    p = build_parser()
    a = p.parse_args(["demo", "--model", "chen2020_spme", "--resolve", "--temperature-degC", "10", "--quiet"])
    assert (a.old_model, a.fresh, a.temperature_degC, a.quiet) == ("chen2020_spme", True, 10.0, True)
    assert "--model is deprecated, use --cell" in capsys.readouterr().err
    a = p.parse_args(["simulate", "--out", "x.csv", "--resolve"])
    assert (a.fresh, a.quiet, a.temperature_degC, a.physics) == (True, False, 25.0, "DFN")
    a = p.parse_args(["fit", "--out", "c.json", "--physics", "SPMe", "--pybamm-set", "Chen2020"])
    assert (a.physics, a.pybamm_set, a.quiet) == ("SPMe", "Chen2020", False)
    a = p.parse_args(["validate", "--no-plots"])
    assert (a.no_plots, a.cell, a.quiet) == (True, "chen2020", False)
