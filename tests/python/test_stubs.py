"""#13: python/cellsense/_core.pyi is generated (scripts/gen_stubs.py, pybind11-stubgen) and must match the built
module: a binding change without a regenerated stub fails here. Fix: python scripts/gen_stubs.py"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / "python" / "cellsense" / "_core.pyi"


@pytest.mark.skipif(importlib.util.find_spec("pybind11_stubgen") is None,
                    reason="pybind11-stubgen is not installed (it comes with pip install '.[test]')")
def test_checked_in_stub_matches_the_built_module(tmp_path):
    import cellsense._core  # noqa: F401  the module the stub describes must import

    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_stubs.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    fresh = (tmp_path / "_core.pyi").read_text(encoding="utf-8")
    checked_in = STUB.read_text(encoding="utf-8")
    if fresh != checked_in:
        import difflib

        diff = "".join(list(difflib.unified_diff(checked_in.splitlines(True), fresh.splitlines(True),
                                                 "python/cellsense/_core.pyi (checked in)", "built module", n=1))[:80])
        pytest.fail(f"python/cellsense/_core.pyi differs from the built module; run: python scripts/gen_stubs.py\n{diff}")


def test_stub_and_marker_are_package_data():
    """The wheel ships python/cellsense as is (pyproject [tool.scikit-build] wheel.packages): the stub and the
    PEP 561 marker live there, and the stub names what the package uses."""
    assert STUB.is_file() and (STUB.parent / "py.typed").is_file()
    text = STUB.read_text(encoding="utf-8")
    for name in ("class EcmEkf2_f64", "class PackUkf2_f32", "def status_names", "def log_clock", "STATUS_INITIAL: int = 255"):
        assert name in text, name
