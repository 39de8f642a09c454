"""Small I/O helpers shared by every writer: atomic replace, so no half-written file is left."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, TextIO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", newline: str | None = "") -> Iterator[TextIO]:
    """Write to a temporary file beside `path` and rename it into place only on success."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode, newline=newline) if "b" not in mode else os.fdopen(fd, mode) as f:
            yield f
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency is not installed (e.g. PyBaMM for `simulate`, python-can for CAN replay). The
    message names the package and the extra to install (``pip install 'cellsense[sim]'``); ``.name`` is the
    missing module. The CLI reports it as one line with exit status 2 (bad input / setup). A subclass of
    ModuleNotFoundError (so of ImportError): existing ``except ImportError`` handlers still catch it."""


#: modules of the optional extras and the extra that brings them (pyproject.toml [project.optional-dependencies])
EXTRA_OF_MODULE = {"can": "replay", "cantools": "replay", "serial": "replay", "tqdm": "replay",
                   "matplotlib": "sim", "pybamm": "sim", "scipy": "fit", "dask": "cluster", "filterpy": "bench"}
#: the import modules each runtime extra provides (checked against pyproject.toml by tests/python/test_newcomer.py)
MODULES_OF_EXTRA = {"sim": ("pybamm", "scipy", "matplotlib"), "fit": ("scipy",), "cluster": ("dask",),
                    "replay": ("can", "cantools", "serial", "tqdm", "matplotlib"), "bench": ("filterpy",)}
#: the extra a command needs: a module it misses is reported with this extra when the extra provides it
EXTRA_OF_COMMAND = {"simulate": "sim", "demo": "sim", "validate": "sim", "fit": "fit", "bench": "bench",
                    "replay": "replay", "replay-bench": "replay"}
#: how the missing package is called on PyPI (the import name differs for some)
PACKAGE_OF_MODULE = {"pybamm": "PyBaMM", "scipy": "SciPy", "matplotlib": "matplotlib", "can": "python-can",
                     "cantools": "cantools", "serial": "pyserial", "tqdm": "tqdm", "dask": "dask[distributed]",
                     "filterpy": "filterpy"}


def missing_extra_message(what: str, module: str, command: str | None = None) -> str | None:
    """One line for `what` (e.g. "cellsense.simulate()") missing the import `module`:
    "cellsense.simulate() needs PyBaMM (not installed): pip install 'cellsense[sim]'". The extra is the
    command's own (EXTRA_OF_COMMAND) when it provides the module, else the module's. None when `module` is not
    an optional dependency (a genuine bug or a broken install, not a missing extra)."""
    top = (module or "").split(".")[0]
    if top not in EXTRA_OF_MODULE:
        return None
    extra = EXTRA_OF_COMMAND.get(command or "")
    if extra is None or top not in MODULES_OF_EXTRA[extra]:
        extra = EXTRA_OF_MODULE[top]
    return (f"{what} needs " if what else "needs ") + \
        f"{PACKAGE_OF_MODULE.get(top, top)} (not installed): pip install 'cellsense[{extra}]'"


#: optional modules a CLI verb cannot do without: checked before the verb runs (check_command_extras), so a
#: verb that reports per-item errors (validate scores a scenario that cannot run as failed, exit 1 = "a bar
#: missed") exits 2 with the install hint instead
#: (demo is not here: its default truths ship with the package; a run that must solve raises MissingExtraError)
MODULES_OF_COMMAND = {"simulate": ("pybamm",), "validate": ("pybamm", "scipy")}


def check_command_extras(command: str) -> None:
    """Raise MissingExtraError ("needs PyBaMM (not installed): pip install 'cellsense[sim]'") when a module in
    MODULES_OF_COMMAND[command] cannot be found. importlib.util.find_spec only: nothing is imported."""
    import importlib.util

    for module in MODULES_OF_COMMAND.get(command, ()):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtraError(missing_extra_message("", module, command), name=module)


def require(module: str, what: str, command: str | None = None):
    """import_module(`module`), or raise MissingExtraError (one line naming the package and the extra, see
    missing_extra_message) when it, or an optional package it imports, is not installed."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        msg = missing_extra_message(what, e.name or module, command)
        if msg is None:  # a dependency of an installed package is missing: not ours to explain
            raise
        raise MissingExtraError(msg, name=(e.name or module).split(".")[0]) from None


class OutputOverwritesInputError(ValueError):
    """An output path names the same file as an input (directly, through a relative path or a symlink):
    writing it would destroy the input. Raised before anything is read or written."""


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when `a` and `b` name the same file: the same inode if both exist, else the same resolved path
    (symlinks and `..` followed)."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def refuse_overwriting_inputs(outputs: dict[str, str | os.PathLike | None],
                              inputs: dict[str, str | os.PathLike | None],
                              allowed: tuple[tuple[str, str], ...] = ()) -> None:
    """Raise OutputOverwritesInputError when an output names the same file as an input or as another output.
    `outputs` / `inputs`: {option name: path or None}; `allowed`: (output, input) pairs that may coincide
    (e.g. ("--state-out", "--state-in"): a state file advanced in place)."""
    outs = [(k, v) for k, v in outputs.items() if v is not None]
    for k, (on, op) in enumerate(outs):
        for iname, ip in inputs.items():
            if ip is not None and (on, iname) not in allowed and same_file(op, ip):
                raise OutputOverwritesInputError(
                    f"{on} {op} is the same file as {iname} {ip}: refusing to overwrite an input")
        for on2, op2 in outs[k + 1:]:
            if same_file(op, op2):
                raise OutputOverwritesInputError(f"{on} {op} and {on2} {op2} are the same file")


class StagedWrites:
    """Several output files written all-or-nothing (as far as a file system allows): each is written to a
    temporary file beside its destination (`open(path)`); `commit()` renames them all into place
    (os.replace) only after every one was written; leaving the `with` block without `commit()` (an
    exception) deletes the temporaries, so no destination is touched."""

    def __init__(self) -> None:
        self._staged: list[tuple[str, Path]] = []

    def __enter__(self) -> "StagedWrites":
        return self

    @contextlib.contextmanager
    def open(self, path: str | os.PathLike, mode: str = "w", newline: str | None = "") -> Iterator[TextIO]:
        path = Path(path)
        directory = path.parent if str(path.parent) else Path(".")
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        self._staged.append((tmp, path))
        with os.fdopen(fd, mode, newline=newline) if "b" not in mode else os.fdopen(fd, mode) as f:
            yield f

    def commit(self) -> None:
        umask = os.umask(0)
        os.umask(umask)
        for tmp, _ in self._staged:
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual mode
        while self._staged:
            tmp, path = self._staged[0]
            os.replace(tmp, path)
            self._staged.pop(0)

    def __exit__(self, *exc) -> None:
        for tmp, _ in self._staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._staged.clear()


def load_json_file(path: str | os.PathLike, what: str = "JSON file", error: type = ValueError) -> Any:
    """json.load with every failure as `error` naming the file: unreadable, not UTF-8, invalid JSON (line and
    column), nested too deeply (RecursionError), integers too long to convert."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise error(f"{path}: byte {e.start}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise error(f"{path}: cannot read {what}: {e.strerror or e}") from None
    return parse_json_text(text, str(path), what, error)


def parse_json_text(text: str, source: str, what: str = "JSON file", error: type = ValueError) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{source}: line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}") from None
    except RecursionError:
        raise error(f"{source}: {what} nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal beyond Python's digit limit
        raise error(f"{source}: invalid JSON: {e}") from None


def as_float(v: Any) -> float:
    """float(v) for a JSON number (bool refused); ValueError for anything else, including an integer too
    large for a float (OverflowError)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {type(v).__name__} {v!r:.60}")
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"number with {len(str(abs(v)))} digits is beyond float range") from None


def finite_state_number(fail, where: str, v) -> float:
    """A saved-state entry as a finite float, else `fail(where, message)` raised (restore_state of every
    estimator class validates with it)."""
    import math
    try:
        f = as_float(v)
    except ValueError as e:
        raise fail(where, str(e)) from None
    if not math.isfinite(f):
        raise fail(where, f"must be finite, got {f!r}")
    return f
