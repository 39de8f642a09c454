"""Every script under scripts/ at least compiles: most of them regenerate bundled data (models, truths, tables) and
no test runs them end to end (a 2026-12-07 edit left make_panasonic_model.py with an unclosed parenthesis)."""
from __future__ import annotations

import py_compile
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[2] / "scripts").glob("*.py"))


def test_there_are_scripts():
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_compiles(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)
