"""`cellsense export-c`: a cell file as C const data for the C API (cpp/include/cellsense/c_api.h).

The header holds one filled `cs_cell_params` (the 2-RC + hysteresis ECM), built from the same cell
file the Python package reads. Every float is numpy's float32 cast of the file's value, printed with
9 significant digits (`%.9g`), which is enough for the C compiler to read back exactly that float32:
the firmware runs on bit-for-bit the parameters `Estimator(dtype="float32")` uses.

    cellsense export-c --cell chen2020 --out cell_params.h [--derating=-10:0.5:0,0:0.8:0.2,10:1:1] [--current-max-A 6]

It also writes `<symbol>_power_config(cs_power_config*)`: the state of power's settings that
cellsense.estimators.power.PowerSettings() gives the cell by default, with its temperature derating
table (the cell file's `limits."Current derating ..."`, or --derating) and its current ratings (the cell file's
identified current range, or --current-max-A; a direction that falls back to the file's plausible current range
warns, and the header's comment says where each rating came from).
"""
from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from pathlib import Path

import numpy as np

from .._cliopts import add_cell, require_cell
from .._io import atomic_write
from ..cells.ecm import Cell, cell_from_dict
from ..cells.files import CellFileError, resolve_cell_path
from ..cells.load import load_cell
from .._io import check_outputs
from ..estimators.power import (L_DERATING, L_IDENTIFIED, add_derating_cli, add_rating_cli, cell_overpotential,
                                cell_transport, check_rating, current_derating, parse_derating, warn_rating_fallback)
from ..estimators.settings import NoiseSettings, resolve_model_error

#: What the C API is built for (c_api.h); the generated header re-checks them with #error.
C_API_RC_PAIRS = 2
C_API_MAX_DERATING = 6  # CS_POWER_MAX_DERATING
DEFAULT_SYMBOL = "cell_params"

#: C keywords (C89 to C23) and the names of the headers c_api.h includes (stddef.h, stdint.h) and of the generated
#: header (main): a --symbol equal to one of them does not compile
C_RESERVED = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int long register
    restrict return short signed sizeof static struct switch typedef union unsigned void volatile while _Alignas
    _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local alignas alignof bool
    constexpr false nullptr static_assert thread_local true typeof typeof_unqual asm fortran main
    NULL offsetof size_t ptrdiff_t wchar_t max_align_t intptr_t uintptr_t intmax_t uintmax_t
    """.split())

#: The ECM parameters in cs_ecm_params order (name, kind): the header is written in this order from
#: Cell.core_params(). It is the core's table (cpp/include/cellsense/model/ecm_params_table.hpp,
#: cellsense._core.ECM_PARAMETERS) written out because export-c runs without the compiled module (the
#: firmware build); tests/python/cells/test_ecm_params_table.py holds the two equal.
ECM_FIELDS: tuple[tuple[str, str], ...] = (
    ("capacity_Ah", "scalar"), ("coulombic_efficiency", "scalar"), ("hysteresis_rate", "scalar"),
    ("sign_deadband_A", "scalar"), ("soc", "breakpoints"), ("temperature_degC", "breakpoints"),
    ("ocv_V", "table"), ("r0_Ohm", "table"), ("rc_r_Ohm", "rc_tables"), ("rc_tau_s", "rc_tables"),
    ("hysteresis_V", "table"), ("hysteresis_instant_V", "table"),
    ("voltage_min_V", "scalar"), ("voltage_max_V", "scalar"), ("current_min_A", "scalar"),
    ("current_max_A", "scalar"), ("temperature_min_degC", "scalar"), ("temperature_max_degC", "scalar"),
)


def c_float(value: float) -> str:
    """A C float literal that reads back as exactly np.float32(value)."""
    f = np.float32(value)
    if not np.isfinite(f):
        raise ValueError(f"cannot export the non-finite value {value!r} (float32 {f!r})")
    s = "%.9g" % float(f)
    if not any(c in s for c in ".e"):
        s += ".0"
    return s + "f"


def _floats(values, per_line: int = 6, indent: str = "      ") -> str:
    items = [c_float(v) for v in np.asarray(values, dtype=float).ravel()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return (",\n" + indent).join(lines)


def _table(name: str, table: np.ndarray) -> str:
    rows = ",\n".join(f"      {{{_floats(row, indent='       ')}}}" for row in np.asarray(table, dtype=float))
    return f"    {{{{ /* {name} [temperature][soc] */\n{rows}}}}}"


def _ecm_initializer(params: dict) -> str:
    """The cs_ecm_params initializer: one entry per ECM_FIELDS row in order (the two breakpoint rows as
    the grid, a scalar range's min and max on one line), each field named in a comment."""
    entries: list[tuple[str, str]] = []  # (C initializer, comment after its comma)
    k = 0
    while k < len(ECM_FIELDS):
        name, kind = ECM_FIELDS[k]
        nxt = ECM_FIELDS[k + 1][0] if k + 1 < len(ECM_FIELDS) else ""
        if kind == "breakpoints":  # soc, then temperature_degC: the grid struct
            soc, temp = params[name], params[nxt]
            entries.append((f"    {{ /* grid */\n      {len(soc)}, {len(temp)},\n      {{{_floats(soc)}}},\n"
                            f"      {{{_floats(temp)}}}}}", ""))
            k += 2
        elif kind == "table":
            entries.append((_table(name, params[name]), ""))
            k += 1
        elif kind == "rc_tables":
            body = ",\n".join(_table(f"{name}[{j}]", t) for j, t in enumerate(params[name]))
            entries.append((f"    {{\n{body}}}", ""))
            k += 1
        elif "_min_" in name and nxt == name.replace("_min_", "_max_"):
            entries.append((f"    {c_float(params[name])}, {c_float(params[nxt])}", f"/* {name}, {nxt} */"))
            k += 2
        else:
            entries.append((f"    {c_float(params[name])}", f"/* {name} */"))
            k += 1
    lines = []
    for i, (code, comment) in enumerate(entries):
        sep = " " if i == len(entries) - 1 else ","
        lines.append(code + (sep + " " + comment if comment else sep.strip()))
    return "\n".join(lines)


def c_string(text: str) -> str:
    """`text` as the body of a C string literal: printable ASCII kept, backslash, double quote and '?'
    (trigraphs) escaped, every other byte of its UTF-8 (newline, control characters, non-ASCII) as a
    three-digit octal escape. A name cannot end the literal, start a line or a directive."""
    out = []
    for b in text.encode("utf-8", errors="replace"):
        c = chr(b)
        if c in '\\"?':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    return "".join(out)


def c_comment_lines(text: str) -> str:
    """`c_comment` of each line of `text` (its newlines kept: the lines of a ``/* */`` block)."""
    return "\n".join(c_comment(line) for line in text.split("\n"))


def c_comment(text: str) -> str:
    """`text` made safe inside a /* */ comment on one line: printable ASCII only (anything else as '?'),
    and no '*/' or '/*' (a '*' and '/' pair is split by a space)."""
    t = "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text)
    while "*/" in t or "/*" in t:
        t = t.replace("*/", "* /").replace("/*", "/ *")
    return t


def symbol_problem(symbol: str) -> str | None:
    """Why `symbol` cannot name the header's object (it, `<symbol>_power_config` and the `<SYMBOL>_*` macros would
    not compile or would collide with the C API), or None: not a C identifier, a C keyword or a name of the headers
    c_api.h includes, the C API's prefix (`cs`, anything starting `cs_` in any case: the C API's functions, types
    and CS_* macros), the header guards' prefix `CELLSENSE_`, or a name the C standard reserves."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", symbol):
        return "not a C identifier"
    low = symbol.lower()
    if symbol in C_RESERVED or low in {"cs", "cellsense"}:
        return "a C keyword or a name the C API's headers use"
    if low.startswith("cs_") or low.startswith("cellsense_"):
        return f"the prefix {symbol[:symbol.index('_') + 1]!r} is the C API's (cs_*, CS_*, CELLSENSE_*): pick another name"
    if re.match(r"_[A-Z_]|.*_t$|U?INT.*_(?:MAX|MIN|WIDTH|C)$|(?:SIZE|PTRDIFF|WCHAR|WINT|SIG_ATOMIC)_(?:MAX|MIN|WIDTH)$",
                symbol):
        return "a name the C standard reserves (_ + capital or _, ..._t, stdint.h's INT*_MAX / _MIN / _C, SIZE_MAX, ...)"
    return None


def float32_problem(cell: Cell) -> str | None:
    """The cell file's rule its parameters break once cast to float32 (what the header holds and the core gets), or
    None: every number of "parameters" and "limits" cast to float32 and the file validated again by the cell loader
    (`cells.ecm.cell_from_dict`: e.g. a tau of 1e-50 becomes 0, two OCV points 1e-9 V apart become one), naming the
    table cell."""
    if not isinstance(cell.raw, dict) or not cell.raw:
        return None

    def cast(v):
        if isinstance(v, float):
            return float(np.float32(v))
        if isinstance(v, list):
            return [cast(x) for x in v]
        if isinstance(v, dict):
            return {k: cast(x) for k, x in v.items()}
        return v

    data = copy.copy(cell.raw)
    with np.errstate(over="ignore", under="ignore"):
        for key in ("parameters", "limits"):
            if isinstance(data.get(key), dict):
                data[key] = cast(data[key])
    try:
        cell_from_dict(data, source=cell.source)
    except CellFileError as e:
        return f"{e} once cast to float32 (what the C header holds)"
    return None


def _guard(out: str | os.PathLike | None, symbol: str) -> str:
    base = Path(out).name if out else f"{symbol}.h"
    return "CELLSENSE_" + re.sub(r"[^A-Za-z0-9]", "_", base).upper()


def _derating_problem(rows) -> str | None:
    """The core's rule (power::PowerConfig::check_derating) a derating table breaks, naming the field, or None: the
    same rules here because export-c runs without the compiled module (the firmware build)."""
    if len(rows) > C_API_MAX_DERATING:
        return f"derating_count: {len(rows)} rows: at most {C_API_MAX_DERATING}"
    for k, (t, _d, _c) in enumerate(rows):
        if not (-100.0 <= t <= 200.0 and (k == 0 or t > rows[k - 1][0])):
            return "derating_temperature_degC: must be strictly increasing, each in [-100, 200] degC"
    for j, fld in ((1, "derating_discharge_factor"), (2, "derating_charge_factor")):
        if not all(0.0 <= r[j] <= 1.0 for r in rows):
            return f"{fld}: must be in [0, 1] at every breakpoint"
    return None


def _config_table(table: str, fields: tuple[str, ...], rows) -> list[str]:
    """The C lines that fill one of cs_power_config's tables: `<table>_count` and, per row k, `<table>_<field>[k]` for
    each of the row's columns in `fields`' order (a row without its optional trailing columns leaves them at the
    default's 0)."""
    lines = [f"  config->{table}_count = {len(rows)};"]
    for k, row in enumerate(rows):
        lines += [f"  config->{table}_{field}[{k}] = {c_float(v)};" for field, v in zip(fields, row)]
    return lines


#: how the export's rating is given, in the RatingFallbackWarning
RATING_HOW = "cellsense export-c --current-max-A, or export_c(current_max_A=...)"


def _ratings(cell: Cell, current_max_A, warn=None) -> tuple[float, float, str]:
    """The header's (discharge, charge) ratings (A, positive) and a comment saying where each came from:
    `current_max_A` (both directions; checked against the core's (0, 1e6] A) or the cell file's identified current
    range, else its plausible current range with a warning (`warn(text)`, default warnings.warn)."""
    a = check_rating(current_max_A, "current_max_A (--current-max-A)")
    src = warn_rating_fallback(cell, {"discharge": a, "charge": a}, RATING_HOW, warn)
    if a is not None:
        return a, a, f"\n *   discharge and charge {a:g} A: --current-max-A"
    said = {"identified": f'the cell file\'s limits."{L_IDENTIFIED}"',
            "plausible": 'the cell file\'s plausible "Current range [A]" (no identified current in this\n *     '
                         "direction: a bound for reading logs, not a rating; give --current-max-A)"}
    text = "".join(f"\n *   {d} {r:g} A: {said[where]}" for d, (r, where) in src.items())
    return src["discharge"][0], src["charge"][0], text


def _power_config_function(cell: Cell, symbol: str, derating, current_max_A=None, warn=None) -> str:
    """A static inline function filling a cs_power_config as cellsense.estimators.power.PowerSettings() does for
    this cell by default: the cut-offs, the identified current range (or `current_max_A`) as the ratings, the
    derating table."""
    rows = current_derating(cell) if derating is None else list(derating)
    problem = _derating_problem(rows)
    if problem is not None:
        where = f'{cell.source}: limits."{L_DERATING}"' if derating is None else "derating (--derating)"
        raise ValueError(f"{where}: {rows!r}: {problem}")
    vmin, vmax = cell.voltage_cutoff_V
    imax, ichg, rating_text = _ratings(cell, current_max_A, warn)
    source = ("none (0 breakpoints: the ratings as given)" if not rows else
              f"{len(rows)} breakpoint(s), " + ("--derating" if derating is not None else "the cell file's"))
    over = cell_overpotential(cell)
    trans = cell_transport(cell)
    lines = (_config_table("derating", ("temperature_degC", "discharge_factor", "charge_factor"), rows)
             + _config_table("overpotential", ("temperature_degC", "current_A", "charge_current_A"), over)
             + _config_table("transport", ("soc", "limit_A_sqrt_s", "slope_sqrt_s", "charge_limit_A_sqrt_s",
                                           "charge_slope_sqrt_s"), trans))
    body = "\n".join(lines)
    return f"""/* The state of power's settings that cellsense.estimators.power.PowerSettings() gives this cell by default
 * (cs_power_limits, docs/power.md): the cell's cut-offs, SOC window 0..1, nominal, horizon 10 s; the current
 * ratings:{c_comment_lines(rating_text)}
 * temperature derating: {source};
 * the cell file's current-dependent overpotential table ({len(over)} breakpoint(s)) and transport limit ({len(trans)} breakpoint(s)).
 * Set horizon_s (and the conservative factors) after it as needed. */
#define {symbol.upper()}_POWER_DERATING_COUNT {len(rows)}
static inline void {symbol}_power_config(cs_power_config* config) {{
  cs_power_config_default(config, {c_float(vmin)}, {c_float(vmax)}, {c_float(imax)});
  config->charge_current_max_A = {c_float(ichg)};
{body}
}}
"""


def render(cell: Cell, symbol: str = DEFAULT_SYMBOL, guard: str | None = None, derating=None, current_max_A=None,
           warn=None) -> str:
    """The header text for a loaded cell; `derating` (rows (temperature degC, discharge factor, charge factor)):
    the power configuration's table instead of the cell file's; `current_max_A`: its rating in both directions (A)
    instead of the cell file's identified current range; `warn(text)`: how a rating that falls back to the file's
    plausible current range is reported (default: warnings.warn, a RatingFallbackWarning)."""
    if cell.rc_pairs != C_API_RC_PAIRS:
        raise ValueError(f"{cell.source}: the C API is built for {C_API_RC_PAIRS} RC pairs; "
                         f"cell {cell.name!r} has {cell.rc_pairs}")
    problem = symbol_problem(symbol)
    if problem is not None:
        raise ValueError(f"symbol {symbol!r}: {problem}")
    problem = float32_problem(cell)
    if problem is not None:
        raise ValueError(problem)
    ns, nt = len(cell.soc), len(cell.temperature_degC)

    voltage_sigma, model_error_current, model_error_relative, model_error_correlation, model_error_voltage = \
        resolve_model_error(NoiseSettings(), cell)
    guard = guard or _guard(None, symbol)
    src = Path(cell.source).name if cell.source else "?"
    # the cell's name and file name come from outside: escaped for C string literals and comments
    # (a name holding "*/", a newline and "#define ..." must not reach the preprocessor; issue #12)
    src_c, src_s, name_c, name_s = c_comment(src), c_string(src), c_comment(cell.name), c_string(cell.name)
    placeholder = "\n * NOTE: the cell file marks these parameters as a placeholder." if cell.placeholder else ""
    out = f"""/* Generated by `cellsense export-c` from {src_c} (cell "{name_c}"). Do not edit.
 * {ns} SOC x {nt} temperature breakpoints, {cell.rc_pairs} RC pairs + hysteresis. Floats are the
 * float32 values numpy gives for the cell file (printed with %.9g, exact on read-back).{placeholder}
 * Include it in ONE .c file: it defines a static const (flash-resident) object. */
#ifndef {guard}
#define {guard}

#include "cellsense/c_api.h"

#if CS_RC_PAIRS != {cell.rc_pairs}
#error "{src_s}: cell has {cell.rc_pairs} RC pairs but the C API was built for CS_RC_PAIRS"
#endif
#if CS_MAX_SOC_POINTS < {ns} || CS_MAX_TEMPERATURE_POINTS < {nt}
#error "{src_s}: needs CS_MAX_SOC_POINTS >= {ns} and CS_MAX_TEMPERATURE_POINTS >= {nt}"
#endif

#define {symbol.upper()}_NAME "{name_s}"
/* The measurement noise the Python estimator uses by default for this cell (the sensor and the cell
 * file's identified model error, scaled by the cell's resistance or constant, and its correlation time;
 * cellsense.estimators.settings.resolve_model_error): set cs_config.voltage_sigma_V, .model_error_current_A,
 * .model_error_relative, .model_error_correlation_s and .model_error_voltage_V to them so the firmware runs the
 * same filter as the validation. */
#define {symbol.upper()}_VOLTAGE_SIGMA_V {c_float(voltage_sigma)}
#define {symbol.upper()}_MODEL_ERROR_CURRENT_A {c_float(model_error_current)}
#define {symbol.upper()}_MODEL_ERROR_RELATIVE {c_float(model_error_relative)}
#define {symbol.upper()}_MODEL_ERROR_CORRELATION_S {c_float(model_error_correlation)}
#define {symbol.upper()}_MODEL_ERROR_VOLTAGE_V {c_float(model_error_voltage)}
{_overpotential_macros(cell, symbol.upper())}
{_power_config_function(cell, symbol, derating, current_max_A, warn)}
static const cs_cell_params {symbol} = {{
  CS_PARAMS_LAYOUT,
  {{
{_ecm_initializer(cell.core_params())}
  }}
}};

#endif /* {guard} */
"""
    return out


def _overpotential_macros(cell: Cell, sym: str) -> str:
    """The power limits' current-dependent overpotential of the cell file (docs/power.md; cellsense.estimators.power
    .cell_overpotential): the count and the two rows as initializers for cs_power_config.overpotential_*; count 0
    without the key (the resistances as the tables)."""
    rows = cell_overpotential(cell)
    text = ("/* The power limits' current-dependent overpotential (docs/power.md), as the Python limits use it: copy\n"
            " * the rows into cs_power_config.overpotential_temperature_degC / .overpotential_current_A and set\n"
            f" * .overpotential_count (0: none in the cell file). */\n#define {sym}_OVERPOTENTIAL_COUNT {len(rows)}\n")
    if rows:
        text += (f"#define {sym}_OVERPOTENTIAL_TEMPERATURE_DEGC {{{', '.join(c_float(r[0]) for r in rows)}}}\n"
                 f"#define {sym}_OVERPOTENTIAL_CURRENT_A {{{', '.join(c_float(r[1]) for r in rows)}}}\n")
        if len(rows[0]) > 2:
            text += (f"#define {sym}_OVERPOTENTIAL_CHARGE_CURRENT_A {{{', '.join(c_float(r[2]) for r in rows)}}}\n")
    return text


def export_c(model: str | os.PathLike | Cell, out: str | os.PathLike | None = None,
             symbol: str = DEFAULT_SYMBOL, derating=None, current_max_A: float | None = None, warn=None) -> str:
    """Render the cell `model` (path, bundled name or Cell) as a C header; write it atomically to
    `out` if given. `derating`: the power configuration's derating rows instead of the cell file's
    (None: the file's, if any); `current_max_A`: its current rating, both directions (A; None: the file's identified
    current range, a direction without one falling back to its plausible current range with a warning, `warn` as
    `render`'s). Returns the header text."""
    cell = load_cell(model)
    if out is not None:
        check_outputs({"out": out}, [("model", cell.source)])
    text = render(cell, symbol=symbol, guard=_guard(out, symbol), derating=derating, current_max_A=current_max_A,
                  warn=warn)
    if out is not None:
        _write(out, text, "out")
    return text


def _write(out, text: str, what: str) -> None:
    """`text` atomically into `out`; a failure names `what` (the option or argument) and the path."""
    try:
        with atomic_write(out, "w", newline="\n") as f:
            f.write(text)
    except OSError as e:
        raise OSError(f"{what} {out}: cannot write: {e.strerror or e}") from None


def add_cli(subparsers) -> None:
    """Register the `export-c` verb."""
    p = subparsers.add_parser(
        "export-c", help="write a cell's parameters as a C header for the C API (firmware)",
        description="Emit the cell's parameter tables as const C data: one filled cs_cell_params "
                    "(cpp/include/cellsense/c_api.h) with float32-exact literals.")

    add_cell(p, required=True)
    p.add_argument("--out", required=True, help="header to write, e.g. cell_params.h")
    p.add_argument("--symbol", default=DEFAULT_SYMBOL, help=f"C name of the object (default {DEFAULT_SYMBOL})")
    add_derating_cli(p, "the header's cs_power_config (<symbol>_power_config()): ")
    add_rating_cli(p, "the current rating (A, both directions, in (0, 1e6]) the header's <symbol>_power_config() "
                      "sets; default: the cell file's identified current range, else (with a warning) its plausible "
                      "current range")
    p.set_defaults(func=_cli_main)


def _cli_main(args) -> int:
    # before any work: the header over its cell file, an output that cannot be written, a --symbol that cannot compile
    check_outputs({"--out": args.out}, [("--cell", resolve_cell_path(require_cell(args, "export-c")))])
    problem = symbol_problem(args.symbol)
    if problem is not None:
        raise ValueError(f"--symbol {args.symbol!r}: {problem}")
    current_max_A = check_rating(getattr(args, "current_max_A", None))
    cell = load_cell(require_cell(args, "export-c"))
    derating = None if getattr(args, "derating", None) is None else parse_derating(args.derating)
    text = render(cell, symbol=args.symbol, guard=_guard(args.out, args.symbol), derating=derating,
                  current_max_A=current_max_A, warn=lambda w: print(f"cellsense export-c: warning: {w}", file=sys.stderr))
    _write(args.out, text, "--out")
    rows = current_derating(cell) if derating is None else derating
    print(f"wrote {args.out}: cell {cell.name}, {len(cell.soc)} SOC x {len(cell.temperature_degC)} "
          f"temperature breakpoints, symbol {args.symbol}, power derating {len(rows)} breakpoint(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m cellsense.mcu.export_c ...` (used by the firmware build before the CLI is installed)."""
    parser = argparse.ArgumentParser(prog="cellsense export-c")
    sub = parser.add_subparsers(dest="command", required=True)
    add_cli(sub)
    args = parser.parse_args(["export-c", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except (ValueError, OSError) as e:
        print(f"cellsense export-c: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
