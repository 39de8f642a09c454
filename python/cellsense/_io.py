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


def write_atomically(path, writer, mode: str = "w") -> None:
    """writer(fh) into a temporary file renamed over `path` only on success (atomic_write)."""
    with atomic_write(path, mode) as fh:
        writer(fh)


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency is not installed (e.g. PyBaMM for `simulate`, python-can for CAN replay). The
    message names the package and the extra to install (``pip install 'cellsense[sim]'``); ``.name`` is the
    missing module. The CLI reports it as one line with exit status 2 (bad input / setup). A subclass of
    ModuleNotFoundError (so of ImportError): existing ``except ImportError`` handlers still catch it."""


#: modules of the optional extras and the extra that brings them (pyproject.toml [project.optional-dependencies])
EXTRA_OF_MODULE = {"can": "replay", "cantools": "replay", "serial": "replay",
                   "matplotlib": "sim", "pybamm": "sim", "scipy": "fit", "dask": "cluster", "filterpy": "bench",
                   "sphinx": "docs"}
#: the import modules each runtime extra provides (checked against pyproject.toml by tests/python/cli/test_newcomer.py)
MODULES_OF_EXTRA = {"sim": ("pybamm", "scipy", "matplotlib"), "fit": ("scipy", "matplotlib"), "cluster": ("dask",),
                    "replay": ("can", "cantools", "serial", "matplotlib"), "bench": ("filterpy",),
                    "docs": ("sphinx",)}
#: the extra a command needs: a module it misses is reported with this extra when the extra provides it
EXTRA_OF_COMMAND = {"simulate": "sim", "demo": "sim", "validate": "sim", "fit": "fit", "bench": "bench",
                    "replay": "replay", "replay-bench": "replay"}
#: how the missing package is called on PyPI (the import name differs for some)
PACKAGE_OF_MODULE = {"pybamm": "PyBaMM", "scipy": "SciPy", "matplotlib": "matplotlib", "can": "python-can",
                     "cantools": "cantools", "serial": "pyserial", "dask": "dask[distributed]",
                     "filterpy": "filterpy", "sphinx": "Sphinx"}


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


def check_out_path(path, what: str = "--out") -> None:
    """Refuse, before any work, an output path that cannot be written: a directory, or one under a file or in a
    directory without write permission (OSError naming `what` and the path)."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{what} {path}: is a directory (a file name is needed)")
    parent = p.parent if str(p.parent) else Path(".")
    while not parent.exists() and parent != parent.parent:  # atomic_write creates the missing directories
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{what} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{what} {path}: cannot write in {parent} (permission denied)")


def check_outputs(outputs: dict, inputs: list) -> None:
    """Before any work: refuse an output naming an input file or another output (`refuse_overwriting_inputs`) or one
    that cannot be written (`check_out_path`). `outputs`: {name: path or None}; `inputs`: (name, path) pairs (a log
    given as an object, not a path, is skipped)."""
    refuse_overwriting_inputs(outputs, {})
    for name, path in inputs:
        if isinstance(path, (str, os.PathLike)):
            refuse_overwriting_inputs(outputs, {name: path})
    for name, path in outputs.items():
        if path is not None:
            check_out_path(path, name)


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
    def open(self, path: str | os.PathLike, mode: str = "w", newline: str | None = "",
             label: str | None = None) -> Iterator[TextIO]:
        """A temporary file for `path` (renamed over it by commit()). A destination that cannot be written (a
        directory; under a file; no permission: `check_out_path`) is refused here, naming `label` (the option), so that
        no other staged file is renamed before it fails."""
        path = Path(path)
        check_out_path(path, label or "output")
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
        raise ValueError(f"integer with {len(str(abs(v)))} digits is beyond float range") from None


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


def file_number(fail, where: str, v: Any, limit: float, beyond: str, positive: bool = False) -> float:
    """A number of a JSON input file (cell file, pack file) as a float: a JSON number (not a bool), finite,
    |v| <= `limit` (`beyond` names that bound in the message: "float32 range", "the plausible range") and,
    with `positive`, > 0. Else `fail(where, message)` is raised: the caller's error naming its file and the
    field (cells.ecm, pack.spec)."""
    f = finite_state_number(fail, where, v)
    if abs(f) > limit:
        raise fail(where, f"{f!r} is beyond {beyond} (|value| <= {limit:g})")
    if positive and f <= 0:
        raise fail(where, f"must be positive, got {v}")
    return f


class Progress:
    """A progress line with an ETA for a run longer than a few seconds: ``what: 40 % (400/1000 frames),
    12 s elapsed, ETA 18 s``.

    Nothing is shown for the first `delay_s` seconds (a short run stays silent). Then, on a terminal the line is
    rewritten in place (``\\r``) at most every 0.5 s; elsewhere (a log file, CI) one line at most every
    `interval_s` seconds. `close()` ends it with ``what: done in 31 s`` when anything was shown.

    `emit` (a callable taking one line) sends the lines there instead of `stream` (stderr), always as whole
    lines; ``enabled=False`` (the quiet options) shows nothing. The ETA assumes the remaining work goes at
    the average rate so far. With `expected_s` (an opaque step such as a PyBaMM solve, where nothing reports
    how far it got) ``total`` is that expected duration and `tick()` (or the `ticking()` context manager's
    thread) advances it by the elapsed time: the ETA is then the expected time left, and once the step runs
    longer than expected the line says so instead of an ETA."""

    def __init__(self, what: str, total: float | None = None, unit: str = "", *, enabled: bool = True,
                 emit=None, stream=None, delay_s: float = 2.0, interval_s: float = 10.0,
                 expected_s: float | None = None, done_line: bool = True, clock=None) -> None:
        import sys
        import time

        self.what, self.unit, self.enabled, self.emit = what, unit, enabled, emit
        self.stream = stream if stream is not None else sys.stderr
        self.delay_s, self.interval_s = delay_s, interval_s
        self.expected_s = expected_s
        self.done_line = done_line
        self.total = float(expected_s) if expected_s is not None else total
        self.done = 0.0
        self._clock = clock or time.monotonic
        self.t0 = self._clock()
        self._last = None  # when the last line was shown
        self._shown = False
        self._width = 0
        try:
            self._tty = emit is None and bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self._tty = False

    @staticmethod
    def fmt_s(seconds: float) -> str:
        """12 s, 3 min 05 s, 1 h 02 min."""
        s = max(0, int(round(seconds)))
        if s < 60:
            return f"{s} s"
        if s < 3600:
            return f"{s // 60} min {s % 60:02d} s"
        return f"{s // 3600} h {(s % 3600) // 60:02d} min"

    def line(self) -> str:
        """The current progress line (without the carriage return)."""
        el = self._clock() - self.t0
        if self.expected_s is not None:
            left = self.expected_s - el
            tail = (f"{self.fmt_s(el)} elapsed, typically {self.fmt_s(self.expected_s)}: ETA {self.fmt_s(left)}"
                    if left > 0 else f"{self.fmt_s(el)} elapsed, longer than the typical {self.fmt_s(self.expected_s)}")
            return f"{self.what}: {tail}"
        if self.total:
            frac = min(1.0, self.done / self.total)
            count = f"{self.done:,.0f}/{self.total:,.0f}" + (f" {self.unit}" if self.unit else "")
            eta = f", ETA {self.fmt_s(el * (1.0 - frac) / frac)}" if frac > 0 else ""
            return f"{self.what}: {100 * frac:.0f} % ({count}), {self.fmt_s(el)} elapsed{eta}"
        if not self.done and not self.unit:  # an opaque step without a typical time: only the time (not "0, ...")
            return f"{self.what}: {self.fmt_s(el)} elapsed"
        return f"{self.what}: {self.done:,.0f}" + (f" {self.unit}" if self.unit else "") + f", {self.fmt_s(el)} elapsed"

    def _show(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if not force:
            if now - self.t0 < self.delay_s:
                return
            if self._last is not None and now - self._last < (0.5 if self._tty else self.interval_s):
                return
        self._last = now
        self._shown = True
        text = self.line()
        if self.emit is not None:
            self.emit(text)
        elif self._tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def update(self, n: float = 1) -> None:
        """`n` more units done."""
        self.done += n
        self._show()

    def set(self, done: float) -> None:
        """`done` units done so far."""
        self.done = done
        self._show()

    def tick(self) -> None:
        """Show the line if it is due (expected_s mode: the elapsed time is the progress)."""
        self._show()

    @contextlib.contextmanager
    def ticking(self, period_s: float = 0.5):
        """Run the block with a daemon thread calling `tick()` every `period_s`: progress for an opaque step
        (a PyBaMM solve, a build). The line is closed when the block ends, even on an exception."""
        import threading

        stop = threading.Event()

        def loop():
            while not stop.wait(period_s):
                self.tick()

        th = threading.Thread(target=loop, name=f"cellsense progress: {self.what}", daemon=True)
        th.start()
        try:
            yield self
        finally:
            stop.set()
            th.join()
            self.close()

    def close(self, message: str | None = None) -> None:
        """End the line: ``what: done in 31 s`` (or `message`) if anything was shown, else nothing. With
        ``done_line=False`` no closing line (the caller prints its own): a terminal's line is only ended."""
        if not (self.enabled and self._shown):
            return
        text = message or f"{self.what}: done in {self.fmt_s(self._clock() - self.t0)}"
        self._shown = False
        if not self.done_line and message is None:
            if self._tty:
                self.stream.write("\n")
                self.stream.flush()
            return
        if self.emit is not None:
            self.emit(text)
        elif self._tty:
            self.stream.write("\r" + text.ljust(self._width) + "\n")
            self.stream.flush()
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
