"""The `cellsense` command: a thin argparse layer over the package's functions."""
from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from .. import __version__
from .._cliopts import add_cell, require_cell
from .._io import MissingExtraError, check_command_extras, missing_extra_message, require
from ..estimators.power import RatingFallbackWarning, add_power_cli, power_settings_from_cli
from ..estimators.settings import EstimatorSettings, NoiseSettings
from ..estimators.soh import SavedStateMismatchWarning, SohSettings, StartUnderLoadWarning
from ..evaluate.bench import bench, format_bench
from ..evaluate.estimate import estimate, format_metrics
from ..evaluate.log_checks import self_check
from ..mcu import firmware
from ..pack import CLOCK_REANCHOR_AFTER
from ..mcu.firmware import McuBenchError

#: `estimate --soh` warns when the learned OCV correction moved beyond this (mV) within one log started fresh (no
#: --state-in): on a fresh cell that is the model's error under load, not ageing (docs/soh.md "Known limitation")
OCV_FRESH_WARN_MV = 10.0


def _estimate_cli(sub) -> None:
    p = sub.add_parser("estimate", help="estimate SOC over a cell-log CSV",
                       description="Run the EKF or UKF over a cell log (time_s,current_A,voltage_V,temperature_degC"
                                   "[,soc_true]; current + = discharge) and write the estimate CSV.")
    add_cell(p, required=True)
    p.add_argument("--filter", choices=["ekf", "ukf"], default="ekf")
    p.add_argument("--data", required=True, help="cell-log CSV")
    p.add_argument("--out", default=None, help="estimate CSV to write (without it: the summary and metrics only)")
    p.add_argument("--initial-soc", type=float, default=None,
                   help="initial SOC (0..1); default: from OCV at the first sample (rested cell)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--voltage-sigma-V", type=float, default=None, help="measurement noise + model error (V)")
    p.add_argument("--current-sigma-A", type=float, default=None, help="current sensor noise (A)")
    p.add_argument("--current-offset-sigma-A", type=float, default=None,
                   help="the current sensor's offset, 1 sigma (A; its data sheet's): the SOC sigma then covers the "
                        "charge error such an offset leaves, which grows linearly where the voltage cannot correct it "
                        "(a flat OCV: LFP); the SOC itself is unchanged (docs/estimator.md)")
    p.add_argument("--current-gain-sigma", type=float, default=None,
                   help="the current sensor's gain error, 1 sigma (1; 0.01 = 1 %%), considered as --current-offset-sigma-A")
    p.add_argument("--max-dt-s", type=float, default=None, help="reject steps longer than this (s)")
    p.add_argument("--max-rest-dt-s", type=float, default=None,
                   help="accept steps up to this long (s) when the current is within C/20 at both ends "
                        "(a rest logged slowly; default 600, 0 = --max-dt-s alone)")
    p.add_argument("--soh", action="store_true",
                   help="also estimate capacity, R0 and the aged OCV (adds capacity_Ah,capacity_sigma_Ah,r0_Ohm,"
                        "r0_sigma_Ohm,ocv_shift_V; docs/soh.md)")
    p.add_argument("--no-ocv-learning", action="store_true", dest="no_ocv_learning",
                   help="with --soh: keep the cell file's OCV (no learned correction; docs/soh.md: on a fresh, "
                        "well-fitted cell the correction costs SOC accuracy, on an aged cell it is what keeps it)")
    p.add_argument("--state-in", default=None,
                   help="with --soh: continue from this saved state (JSON): capacity, R0 and the OCV correction are "
                        "carried; the SOC is re-read from the log's first voltage (docs/soh.md)")
    p.add_argument("--state-out", default=None, help="with --soh: save the state at the end of the log (JSON)")
    add_power_cli(p, power_help="also the largest discharge / charge current and power the cell can sustain for each "
                                "horizon (s), after every sample: adds i_dis_max_<H>s_A, i_chg_max_<H>s_A, "
                                "p_dis_max_<H>s_W, p_chg_max_<H>s_W (docs/power.md); e.g. --power 2,10,30",
                  rating_help="with --power: the cell's current rating, both directions (A; default: the cell file's "
                              "identified current range, the currents its tests covered, else its plausible current "
                              "range with a warning; docs/power.md). Give the data sheet's rating: the identified "
                              "range can be below what the log draws")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="also draw SOC (with the truth if the log has soc_true), its error with the 3-sigma band, "
                        "and the voltage innovation with its 3-sigma band (needs matplotlib: cellsense[sim])")
    p.set_defaults(func=_estimate_main)


def _soh_window_note(settings: SohSettings, temperature_degC) -> str:
    """How much of the log the SOH tracker could learn from: its learning window (docs/soh.md; capacity pairs, R0 and
    OCV updates only at samples inside it), so that a cold log's unchanged figures read as 'nothing learned'."""
    lo, hi = settings.learn_min_temperature_degC, settings.learn_max_temperature_degC
    T = np.asarray(temperature_degC, float)
    inside = int(np.sum((T >= lo) & (T <= hi)))
    if inside == 0:
        return (f"SOH: nothing learned from this log: none of its samples is within the learning window {lo:g} .. "
                f"{hi:g} degC (its cell temperature {np.nanmin(T):.1f} .. {np.nanmax(T):.1f} degC); the figures above "
                "are the initial or carried ones (SohSettings.learn_min/max_temperature_degC, docs/soh.md)")
    return f"SOH: {inside} of {T.size} samples within the learning window {lo:g} .. {hi:g} degC"


def _soh_settings(a) -> SohSettings | bool:
    """estimate --soh's settings: the defaults (True), or learning off, and the current sensor's offset
    (--current-offset-sigma-A) in the SOH tracker's error model too (capacity pairs, OCV learner: SohSettings.
    current_offset_sigma_A), so the one sensor is described once."""
    kw = {}
    if a.no_ocv_learning:
        kw["ocv_learning"] = False
    if a.current_offset_sigma_A:
        kw["current_offset_sigma_A"] = float(a.current_offset_sigma_A)
    return SohSettings(**kw) if kw else True


def _estimate_main(a) -> int:
    from dataclasses import replace

    noise, settings = NoiseSettings(), EstimatorSettings()
    # each option through the settings' own validation (dataclasses.replace runs __post_init__), so NaN,
    # Inf and absurd values are refused here, naming the option
    for opt, value, field, obj in (("--voltage-sigma-V", a.voltage_sigma_V, "voltage_sigma_V", "noise"),
                                   ("--current-sigma-A", a.current_sigma_A, "current_sigma_A", "noise"),
                                   ("--current-offset-sigma-A", a.current_offset_sigma_A, "current_offset_sigma_A",
                                    "noise"),
                                   ("--current-gain-sigma", a.current_gain_sigma, "current_gain_sigma", "noise"),
                                   ("--max-dt-s", a.max_dt_s, "dt_max_s", "settings"),
                                   ("--max-rest-dt-s", a.max_rest_dt_s, "dt_max_rest_s", "settings")):
        if value is None:
            continue
        try:
            if obj == "noise":
                noise = replace(noise, **{field: value})
            else:
                settings = replace(settings, **{field: value})
        except ValueError as e:
            raise ValueError(f"{opt} {value!r}: {e}") from None
    if a.plot is not None:  # before the run: a missing matplotlib is one line, exit 2, nothing written
        require("matplotlib", "cellsense estimate --plot", "estimate")
    if a.initial_soc is not None and a.state_in is not None:
        raise ValueError("--initial-soc and --state-in both set the SOC: give one (with --state-in the SOC is "
                         "re-initialised from the log's first rested voltage, capacity and R0 carried)")
    if (a.state_in or a.state_out or a.no_ocv_learning) and not a.soh:
        raise ValueError("--state-in / --state-out / --no-ocv-learning need --soh")
    power = power_settings_from_cli(a)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RatingFallbackWarning)
        warnings.simplefilter("always", StartUnderLoadWarning)
        warnings.simplefilter("always", SavedStateMismatchWarning)
        r = estimate(require_cell(a, "estimate"), a.data, filter=a.filter, out=a.out, initial_soc=a.initial_soc,
                     dtype=a.dtype, noise=noise, settings=settings,
                     soh=_soh_settings(a) if a.soh else None,
                     state_in=a.state_in, state_out=a.state_out, power=power, plot=a.plot)
    for w in caught:  # a rating that fell back, a --state-in log opening under load: one line, as the other warnings
        if issubclass(w.category, (RatingFallbackWarning, StartUnderLoadWarning)):
            print(f"warning: {a.data}: {w.message}", file=sys.stderr)
        elif issubclass(w.category, SavedStateMismatchWarning):  # --state-in saved with other settings
            print(f"warning: {a.state_in}: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    counts = r.result.counts()
    print(f"{a.data}: {len(r.log)} samples, {a.filter.upper()} {a.dtype}, cell {r.estimator.cell.name}; "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if counts.get("clock_reanchored"):
        print(f"warning: {a.data}: the log's clock jumped; re-anchored {counts['clock_reanchored']} time(s) (after "
              f"{CLOCK_REANCHOR_AFTER} backwards timestamps in a row the clock restarts from the latest; {counts.get('rejected_dt_nonpositive', 0)} "
              f"backwards/repeated and {counts.get('rejected_dt_too_large', 0)} too-long steps rejected)", file=sys.stderr)
    if r.estimator.cell.placeholder:
        print(f"note: cell {r.estimator.cell.name} is marked as a placeholder (see its description)")
    if r.metrics is not None:
        print(format_metrics(r.metrics))
    if a.soh:
        e = r.estimator
        print(f"SOH: capacity {e.capacity_Ah:.4f} +- {e.capacity_sigma_Ah:.4f} Ah, R0 factor {e.r0_scale:.4f} +- "
              f"{e.r0_scale_sigma:.4f} (R0 {e.r0_Ohm():.5f} Ohm at 50 % SOC, 25 degC)")
        print(_soh_window_note(e.soh_settings, r.log.temperature_degC))
        nodes = " ".join(f"{1000 * c:+.1f}" for c in e.ocv_nodes_V) + " mV"
        if e.soh_settings.ocv_learning:
            print("SOH: learned OCV correction at SOC 1/6 .. 5/6: " + nodes)
            moved_mV = 1000 * max(abs(c) for c in e.ocv_nodes_V)
            if a.state_in is None and moved_mV > OCV_FRESH_WARN_MV:
                print(f"warning: {a.data}: the OCV correction moved up to {moved_mV:.0f} mV within this one log: on a "
                      "fresh cell whose model was fitted to it that is the model's own error under load, not ageing "
                      "(it took a fresh PyBaMM cell's SOC RMSE from 0.7 to 2.5 %, docs/soh.md); for a fresh cell run "
                      "--soh --no-ocv-learning", file=sys.stderr)
        elif any(c != 0 for c in e.ocv_nodes_V):  # carried from --state-in; learning off: the cell file's OCV is used
            print(f"SOH: OCV learning off: the OCV correction carried from {a.state_in} (SOC 1/6 .. 5/6: {nodes}) is "
                  "not in use (ocv_shift_V 0)" + ("; --state-out keeps it unchanged" if a.state_out else ""))
        else:
            print("SOH: OCV learning off: the cell file's OCV, no correction")
        if a.state_out:
            print(f"wrote {a.state_out}")
    for w in self_check(r):
        print(f"warning: {a.data}: {w}", file=sys.stderr)
    if a.plot is not None:
        print(f"wrote {a.plot}")
    if a.out is not None:
        print(f"wrote {a.out}")
    return 0


def _bench_cli(sub) -> None:
    p = sub.add_parser("bench", help="throughput against filterpy; per-step cost from Python")
    add_cell(p, help="cell file or bundled name (default: first bundled 2-RC cell)")
    p.add_argument("--duration-s", type=float, default=7200.0, help="log length for the batch path (s at 1 Hz)")
    p.add_argument("--peer-steps", type=int, default=1500, help="steps given to filterpy (it is slow)")
    p.add_argument("--out", default=None, help="also write the figures as JSON here")
    p.add_argument("--mcu", action="store_true", help="Cortex-M footprint and speed report (needs the MCU build)")
    p.set_defaults(func=_bench_main)


def _bench_main(a) -> int:
    if a.mcu:
        try:
            rep = firmware.bench_mcu(out=a.out)
        except McuBenchError as e:
            print(f"cellsense bench --mcu: error: {e}", file=sys.stderr)
            return 2
        print(firmware.format_mcu(rep))
        return 0
    r = bench(model=a.cell, duration_s=a.duration_s, peer_steps=a.peer_steps, out=a.out)
    print(format_bench(r))
    return 0


def _optional(module: str):
    import importlib

    try:
        return importlib.import_module(f"cellsense.{module}")
    except ImportError:
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cellsense", description="Battery SOC/SOH estimation: EKF/UKF over "
                                     "equivalent-circuit cell models, with a heap-free C++17 core.")

    parser.add_argument("--version", action="version", version=f"cellsense {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _estimate_cli(sub)
    _bench_cli(sub)
    for name in ("truth.simulate", "fit", "io.convert", "evaluate.validate", "cli.demo", "mcu.export_c", "replay.cli"):
        mod = _optional(name)
        if mod is not None and hasattr(mod, "add_cli"):
            mod.add_cli(sub)
    return parser


#: exit status of an unexpected exception (sysexits EX_SOFTWARE): distinct from every verb's result codes (docs/cli.md)
EXIT_INTERNAL_ERROR = 70


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    try:
        check_command_extras(args.command)  # e.g. validate without PyBaMM: exit 2 + install hint, not 1
        return int(args.func(args) or 0)
    except (ValueError, OSError, MissingExtraError) as e:  # bad input / setup: one clear line, no traceback
        print(f"cellsense {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:  # an optional extra that is not installed: say which
        msg = missing_extra_message(f"cellsense {args.command}: error:", e.name or "", args.command)
        if msg is None:
            raise
        print(msg, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug, not a result: the traceback, and an exit code no verb uses for a measured result
        import traceback

        traceback.print_exc()
        print(f"cellsense {args.command}: internal error (exit {EXIT_INTERNAL_ERROR}); please report it with the "
              "traceback above", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
