"""The state-of-power options of the command line (issue #15, docs/power.md): `cellsense estimate`'s and `cellsense
replay`'s --power, --power-conservative, --current-max-A and --derating, and `cellsense export-c`'s --derating and
--current-max-A, read back as a `PowerSettings` whose errors name the option, not the field. The names stay
importable from cellsense.estimators.power."""
from __future__ import annotations

import math
import re

from .power_settings import PowerSettings
from .power_tables import _derating_rows

#: PowerSettings field -> the option that sets it (an error of the settings names the option in CLI use)
OPTION_OF_FIELD = {"horizons_s": "--power", "soc_sigma_k": "--power-conservative",
                   "voltage_sigma_k": "--power-conservative", "discharge_current_max_A": "--current-max-A",
                   "charge_current_max_A": "--current-max-A", "derating": "--derating"}
#: the rating's range (the core's PowerConfig::check, kDischargeRating / kChargeRating)
RATING_MAX_A = 1.0e6


def add_power_cli(p, power_help: str, rating_help: str) -> None:
    """The state-of-power options of a verb (cellsense estimate, cellsense replay): --power H[,H..],
    --power-conservative K, --current-max-A A, --derating T:D:C[,..]; `power_help` / `rating_help` say what they
    mean for that verb. Read back with `power_settings_from_cli`."""
    p.add_argument("--power", default=None, metavar="H[,H..]", help=power_help)
    p.add_argument("--power-conservative", type=float, default=None, metavar="K",
                   help="with --power: the limit at SOC - K sigma with the cut-offs tightened by K model-error sigma")
    add_rating_cli(p, rating_help)
    add_derating_cli(p, "with --power: ")


def add_rating_cli(p, rating_help: str) -> None:
    """The --current-max-A A option (both directions' rating; read back with `check_rating`): add_power_cli's, and
    `cellsense export-c`'s (the rating it writes into the header's cs_power_config)."""
    p.add_argument("--current-max-A", type=float, default=None, metavar="A", help=rating_help)


def check_rating(value, option: str = "--current-max-A") -> float | None:
    """A --current-max-A value as a float (None stays None); ValueError naming `option` and the range (0, 1e6] A
    (RATING_MAX_A) when it is outside (NaN included) or not a number."""
    if value is None:
        return None
    try:
        a = float(value)
    except (TypeError, ValueError):
        a = math.nan
    if not (math.isfinite(a) and 0.0 < a <= RATING_MAX_A):
        raise ValueError(f"{option} {value!r}: the current rating (both directions, A) must be in (0, 1e6] A")
    return a


def add_derating_cli(p, prefix: str = "") -> None:
    """The --derating T:D:C[,..] option (read back with `parse_derating`): add_power_cli's, and `cellsense export-c`'s
    (the table it writes into the header's cs_power_config)."""
    p.add_argument("--derating", default=None, metavar="T:D:C[,T:D:C..]",
                   help=f"{prefix}the ratings' temperature derating, rows of cell temperature (degC), discharge "
                        "and charge factor in [0, 1], linear between, held beyond (e.g. 0:0.5:0,10:1:0.5,45:1:1: no "
                        "charge at or below 0 degC; a first T below 0: --derating=-10:0.5:0,...); default: the cell "
                        "file's, if any (docs/power.md)")


def power_settings_from_cli(a) -> "PowerSettings | None":
    """The PowerSettings of `add_power_cli`'s options (None without --power; ValueError naming the option and the
    rule: `--power '10,10': ...`). A verb that declares only --power (replay-bench) gets the defaults of the others."""
    conservative = getattr(a, "power_conservative", None)
    current_max_A = getattr(a, "current_max_A", None)
    derating_text = getattr(a, "derating", None)
    if a.power is None:
        if conservative is not None or current_max_A is not None or derating_text is not None:
            raise ValueError("--power-conservative / --current-max-A / --derating need --power")
        return None
    try:
        hz = tuple(float(h) for h in str(a.power).split(",") if h.strip())
    except ValueError:
        raise ValueError(f"--power {a.power!r}: expected horizons in seconds, e.g. 2,10,30") from None
    k = 0.0 if conservative is None else float(conservative)
    derating = None if derating_text is None else parse_derating(derating_text)
    given = {"--power": a.power, "--power-conservative": conservative, "--current-max-A": current_max_A,
             "--derating": derating_text}
    try:
        return PowerSettings(horizons_s=hz, soc_sigma_k=k, voltage_sigma_k=k, discharge_current_max_A=current_max_A,
                             charge_current_max_A=current_max_A, derating=derating)
    except ValueError as e:
        raise ValueError(option_message(str(e), given)) from None


def option_message(text: str, given: dict) -> str:
    """A PowerSettings error `text` ("PowerSettings.<field>...: rule") led by the option that set the field and its
    value as given (`given`: option -> text); the field's own message kept after it. Unchanged for another field."""
    m = re.match(r"PowerSettings\.(\w+)", text)
    opt = OPTION_OF_FIELD.get(m.group(1)) if m else None
    if opt is None:
        return text
    rest = text[len("PowerSettings."):]
    plain = re.match(r"(\w+): \1 = [^:]+: (.*)$", rest, re.S)  # "soc_sigma_k: soc_sigma_k = 11.0: <rule>": the rule
    return f"{opt} {given.get(opt)!r}: {plain.group(2) if plain else rest}"


def parse_derating(text: str, option: str = "--derating") -> list[tuple[float, float, float]]:
    """The CLI's --derating "T:d:c,T:d:c,..." (degC, discharge factor, charge factor) as rows."""
    rows = [part.split(":") for part in str(text).split(",") if part.strip()]
    return _derating_rows(rows, f"{option} {text!r}")
