"""Issue #13: the package's layers (docs/architecture.md, "The Python package") hold: read from the source
with `ast` (every import of a package module, at module level or inside a function), the import graph
between modules has no cycle, a module imports only its own subpackage and the layers below it, imports
inside functions are only the lazy ones allowed (the compiled core), and no module is over the size bar
without a reason written here. Each subpackage also imports on its own in a fresh interpreter.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "python" / "cellsense"

#: the layers, lowest first: a module may import its own subpackage and anything of a lower rank
RANK = {"": 0, "cells": 1, "io": 2, "truth": 3, "estimators": 4, "pack": 5, "fit": 6, "evaluate": 7, "mcu": 8,
        "replay": 9, "cli": 10}
#: the foundations every layer may import (rank 0: the package root's own modules)
FOUNDATIONS = {"cellsense.status", "cellsense._io", "cellsense._cliopts", "cellsense._core"}
#: an import inside a function must be one of these (the compiled module stays out of `import cellsense`)
LAZY_OK = {"cellsense._core", "cellsense.cells.ecm"}  # the latter: TYPE_CHECKING only (cells/ecm_reference.py)
#: lines; a module above it says why here
MAX_LINES = 450
LONG_OK = {
    "cellsense.replay.readers": "one reader per log format (pack CSV, candump, Vector ASC/BLF, GVRET) behind read_log",
}


def modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(("cellsense",) + parts)] = f
    return out


MODULES = modules()


def subpackage(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PKG / parts[1]).is_dir()) else ""


def imports(mod: str, path: Path) -> list[tuple[str, bool]]:
    """(imported package module, inside a function?) for every import of a cellsense module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    found = []

    def visit(node, nested: bool):
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = True  # typing-only: counted as lazy
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    target = base[: len(base) - (child.level - 1)] + (child.module.split(".") if child.module else [])
                    target = ".".join(target)
                else:
                    target = child.module or ""
                if target.split(".")[0] == "cellsense":
                    for alias in child.names:  # `from . import x`: x may be a module
                        sub = f"{target}.{alias.name}"
                        found.append((sub if sub in MODULES or sub in FOUNDATIONS else target, inner))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "cellsense":
                        found.append((alias.name, inner))
            visit(child, inner)

    visit(tree, False)
    return [(t, n) for t, n in found if t in MODULES or t in FOUNDATIONS]


GRAPH = {m: imports(m, p) for m, p in MODULES.items()}


def test_no_import_cycle():
    edges = {m: sorted({t for t, nested in deps if not nested and t != m}) for m, deps in GRAPH.items()}
    # a package's __init__ re-exporting its own modules is an edge down, not a cycle: parents are implied by Python
    # (importing cellsense.a.b runs cellsense.a first), so only explicit import edges are walked
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(m):
        state[m] = 1
        stack.append(m)
        for t in edges.get(m, ()):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                walk(t)
        stack.pop()
        state[m] = 2

    for m in edges:
        if m not in state:
            walk(m)


def test_layers_point_down():
    bad = []
    for m, deps in GRAPH.items():
        if m == "cellsense":  # the facade re-exports the public names of every layer
            continue
        if m == "cellsense.__main__":  # `python -m cellsense`: the entry point runs the top layer (cli), nothing else
            assert [t for t, _ in deps] == ["cellsense.cli.commands"], deps
            continue
        own = subpackage(m)
        for t, _ in deps:
            if t in FOUNDATIONS or t == "cellsense" and own == "cli":  # cli reads __version__
                continue
            theirs = subpackage(t)
            if theirs != own and RANK[theirs] >= RANK[own]:
                bad.append(f"{m} ({own or 'root'}) imports {t} ({theirs or 'root'})")
    assert not bad, "\n".join(bad)


def test_imports_inside_functions_are_only_the_lazy_ones():
    bad = [f"{m}: {t}" for m, deps in GRAPH.items() for t, nested in deps if nested and t not in LAZY_OK]
    assert not bad, "\n".join(bad)


def test_module_size():
    long = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    over = {m: n for m, n in long.items() if n > MAX_LINES and m not in LONG_OK}
    assert not over, over
    assert all(m in MODULES for m in LONG_OK)  # the list names modules that exist


def test_the_layers_table_matches_the_folders():
    folders = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(RANK) - {""}


@pytest.mark.parametrize("sub", sorted(set(RANK) - {""}))
def test_each_subpackage_imports_alone(sub):
    """Each subpackage imports in a fresh interpreter (nothing it needs is left to an earlier import), without
    PyBaMM, matplotlib or scipy."""
    code = (f"import sys, importlib, pkgutil; import cellsense.{sub} as p\n"
            "for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print(sorted(k for k in ('pybamm', 'matplotlib', 'scipy') if k in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[]"], r.stdout
