"""One vocabulary for the CLI (issue #14): the option names every verb shares, and the old spellings kept as
deprecated aliases for one release (each use prints one warning line on stderr). Each option more than one verb
has is declared here once (issue #13): its flag, dest, type and default; the verbs pass the help text that says
what the option means for them (what --quiet silences, which truths --fresh solves again). The verbs' parsers
stay beside their functions (add_cli in each layer, registered by cli.commands), so these helpers live in the
foundations, which every layer may import.

| option | means | old spellings (deprecated) |
|---|---|---|
| ``--cell CELL`` | a cellsense cell file or the name of a bundled cell (models/) | ``--model`` (estimate, export-c, bench, validate, demo) |
| ``--pybamm-set SET`` | a PyBaMM parameter set (Chen2020, OKane2022, ...) | ``--cell`` (simulate, demo), ``--from-pybamm`` (fit) |
| ``--physics dfn|spme|spm`` | the physics model PyBaMM solves, or fit derives | ``--model`` (simulate, fit spme), ``--pybamm-model`` (demo) |
| ``--ecm-rc N`` | fit an equivalent-circuit model with N RC pairs | ``--model ecm`` + ``--rc-pairs N`` (fit) |
"""
from __future__ import annotations

import argparse
import sys

#: --physics value -> the name cellsense.simulate() / PyBaMM use
PHYSICS = {"dfn": "DFN", "spme": "SPMe", "spm": "SPM"}
NEXT = "the old spelling goes in the next release"


def deprecation(old: str, new: str) -> None:
    print(f"cellsense: warning: {old} is deprecated, use {new} ({NEXT})", file=sys.stderr, flush=True)


class _Alias(argparse.Action):
    """An old option name: warns, then stores (converted) into the new option's dest."""

    def __init__(self, option_strings, dest, new: str = "", convert=None, **kw):
        self.new, self.convert = new, convert
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        deprecation(option_string, self.new)
        if self.convert is not None:
            try:
                values = self.convert(values)
            except (KeyError, ValueError, argparse.ArgumentTypeError):
                parser.error(f"argument {option_string}: invalid value {values!r}")
        setattr(namespace, self.dest, values)


def alias(p, old: str, new: str, dest: str, convert=None, **kw) -> None:
    """Register `old` as a deprecated alias of the option `new` (same dest; hidden from --help)."""
    p.add_argument(old, dest=dest, action=_Alias, new=new, convert=convert, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS, **kw)


def physics_value(v: str) -> str:
    """'dfn' / 'DFN' / 'SPMe' ... -> 'DFN' / 'SPMe' / 'SPM' (argparse type)."""
    key = str(v).lower()
    if key not in PHYSICS:
        raise argparse.ArgumentTypeError(f"invalid choice {v!r} (choose from dfn, spme, spm)")
    return PHYSICS[key]


def add_cell(p, required: bool = False, default=None, help: str | None = None, old_dest: str = "cell") -> None:
    """--cell CELL (cell file or bundled name) + the deprecated --model (into `old_dest`: demo tells the old
    spelling apart, its old --cell was a PyBaMM set). `required` is checked by require_cell() after parsing
    (argparse cannot require one of two spellings)."""
    p.add_argument("--cell", dest="cell", default=default,
                   help=help or ("cell file path, or the name of a bundled cell (models/)" + (" (required)" if required else "")))
    alias(p, "--model", "--cell", old_dest)


def require_cell(a, verb: str) -> str:
    if getattr(a, "cell", None) is None:
        raise ValueError(f"--cell is required: a cell file or the name of a bundled cell (cellsense {verb} --cell chen2020)")
    return a.cell


def add_pybamm_set(p, default="Chen2020", old: str | None = "--cell") -> None:
    p.add_argument("--pybamm-set", dest="pybamm_set", default=default, metavar="SET",
                   help=f"PyBaMM parameter set (default {default})")
    if old:
        alias(p, old, "--pybamm-set", "pybamm_set")


def add_physics(p, default="DFN", old: str | None = "--model", choices=("dfn", "spme", "spm"),
                help: str | None = None) -> None:
    p.add_argument("--physics", dest="physics", default=default, type=physics_value, metavar="|".join(choices),
                   help=help or f"physics model PyBaMM solves: {', '.join(choices)} (default {default.lower()})")
    if old:
        alias(p, old, "--physics", "physics", convert=lambda v: physics_value(v))


def add_quiet(p, help: str) -> None:
    """--quiet: no progress lines (`help`: which the verb then leaves out)."""
    p.add_argument("--quiet", action="store_true", dest="quiet", help=help)


def add_fresh(p, help: str) -> None:
    """--fresh (old name --resolve, still accepted): solve a PyBaMM truth again although one is shipped or cached."""
    p.add_argument("--fresh", "--resolve", action="store_true", dest="fresh", help=help)


def add_temperature(p, default: float = 25.0) -> None:
    """--temperature-degC: the temperature a PyBaMM truth is simulated at (degC)."""
    p.add_argument("--temperature-degC", type=float, default=default, dest="temperature_degC")


def add_no_plots(p) -> None:
    """--no-plots: write the report without its figures."""
    p.add_argument("--no-plots", action="store_true", dest="no_plots")
