"""Cortex-M footprint and speed report (`cellsense bench --mcu`).

Builds the MCU test project (tests/mcu, the toolchain cmake/arm-none-eabi.cmake) if needed, runs each
core's firmware image under qemu-system-arm with `-icount shift=0`, and reads:

* instructions per step (EKF and UKF, average and maximum over the compiled-in log) from the image's
  SysTick counts (instructions = ticks x 40 on mps2 boards, x 62.5 on the micro:bit; resolution one
  tick);
* maximum stack per step from stack painting in the image;
* flash and RAM from the linker maps of the footprint images (fp_both / fp_ekf / fp_ukf: the C API
  used whole, with both filters or one), split into the core + C API, compiler runtime (libgcc
  soft-float on M3/M0), libc (memcpy/memset), libm (sqrtf) and the cell parameter tables;
* per-cell state (the bytes of the estimator storage a filter uses);
* bit-for-bit parity of every output with the host build of the same C API;
* the SOH-enabled estimator (cs_step_soh with a cs_soh: capacity AWTLS + R0 filter + OCV learning) from the image
  soh_<core> (hil/firmware/common/run_soh.c over the same log): instructions and stack per step for
  EKF+SOH and UKF+SOH, the flash SOH adds to the SOC-only API (the sections its map keeps beyond
  fp_both's), RAM per cell (sizeof cs_estimator + cs_soh, from nm) and parity of the final state;
* the SPMe observer image (spme_<core>), when built.

Needs arm-none-eabi-gcc, qemu-system-arm (scripts/install_mcu_toolchain.sh), cmake and a source
checkout (found from the current directory, this file, or $CELLSENSE_SOURCE_DIR).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

from .._io import Progress
from . import stackbound
from .memory import footprint, soh_footprint, spme_footprint, static_stack
from .tools import McuBenchError, _require, _run

CORES = ("cortex-m4f", "cortex-m7", "cortex-m3", "cortex-m0plus")
MACHINES = {"cortex-m4f": "mps2-an386", "cortex-m7": "mps2-an500", "cortex-m3": "mps2-an385",
            "cortex-m0plus": "microbit"}
FILTERS = ("ekf", "ukf")
#: Targets of issue #4 (Cortex-M4F at -O2).
TARGETS = {"ekf_insn_per_step": 1500, "ukf_insn_per_step": 8000, "core_flash_bytes": 16 * 1024,
           "state_bytes": 256}


# ------------------------------------------------------------------------------------------------
# Locating, building, running
# ------------------------------------------------------------------------------------------------
def source_dir() -> Path:
    """The repository checkout holding tests/mcu and the core."""
    def ok(p: Path) -> bool:
        return (p / "tests" / "mcu" / "CMakeLists.txt").is_file() and (p / "cpp" / "include" / "cellsense").is_dir()

    env = os.environ.get("CELLSENSE_SOURCE_DIR")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]
    for c in candidates:
        if ok(c):
            return c
    raise McuBenchError("cannot find the cellsense source tree (tests/mcu); run from the checkout or set "
                        "CELLSENSE_SOURCE_DIR")


def build(build_dir: Path, src: Path, cores: list[str] | None = None, quiet: bool = False) -> None:
    """Configure (once) and build tests/mcu in build_dir (incremental: a no-op when up to date). A build longer
    than 2 s shows its steps with an ETA on stderr unless `quiet`."""
    _require("arm-none-eabi-gcc")
    cmake = _require("cmake")
    if not (build_dir / "CMakeCache.txt").is_file():
        cmd = [cmake, "-S", str(src / "tests" / "mcu"), "-B", str(build_dir),
               f"-DCMAKE_TOOLCHAIN_FILE={src / 'cmake' / 'arm-none-eabi.cmake'}"]
        if shutil.which("ninja"):
            cmd += ["-G", "Ninja"]
        if cores:
            cmd.append(f"-DCELLSENSE_MCU_CORES={';'.join(cores)}")
        _run(cmd)
    cmd = [cmake, "--build", str(build_dir), "-j", str(max(2, os.cpu_count() or 2))]
    # the build's own progress ("[12/40]" from Ninja, "[ 30%]" from Make) as a line with an ETA on stderr once
    # it takes more than 2 s (an up-to-date build prints nothing); the output is kept for the error message

    bar = Progress(f"firmware build ({build_dir.name})", total=None, unit="steps",
                   enabled=not quiet)
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            m = re.match(r"^\[\s*(\d+)/(\d+)\]", line) or re.match(r"^\[\s*(\d+)%\]", line)
            if m is not None:
                if m.lastindex == 2:
                    bar.total = float(m.group(2))
                    bar.set(float(m.group(1)))
                else:
                    bar.total = 100.0
                    bar.set(float(m.group(1)))
        rc = proc.wait(timeout=600)
    bar.close()
    if rc != 0:
        tail = "".join(lines).strip().splitlines()[-30:]
        raise McuBenchError(f"{' '.join(cmd[:4])} ... failed ({rc}):\n" + "\n".join(tail))


def _cache(build_dir: Path) -> dict[str, str]:
    out = {}
    for line in (build_dir / "CMakeCache.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_]+):[A-Z]+=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def qemu_command(core: str, image: Path) -> list[str]:
    return [_require("qemu-system-arm"), "-M", MACHINES[core], "-nographic", "-monitor", "none", "-serial", "null",
            "-icount", "shift=0", "-chardev", "stdio,id=semihost",
            "-semihosting-config", "enable=on,target=native,chardev=semihost", "-kernel", str(image)]


def run_image(core: str, image: Path, timeout: float = 120) -> str:
    p = subprocess.run(qemu_command(core, image), capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise McuBenchError(f"{image.name} under qemu exited {p.returncode}: {(p.stdout + p.stderr)[-800:]}")
    return p.stdout


# ------------------------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------------------------
def parse_run(text: str) -> dict[str, Any]:
    """Per-filter instruction and stack figures from a firmware run."""
    out: dict[str, Any] = {"filters": {}}
    num, den = 40, 1
    ticks_per_step: dict[str, list[int]] = defaultdict(list)
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "fw":
            kv = dict(p.split("=", 1) for p in f[2:] if "=" in p)
            num, den = (int(x) for x in kv["insn_per_tick"].split("/"))
        elif f[0] == "overhead":
            out["overhead_ticks"] = int(f[1].split("=")[1])
        elif f[0] == "init":
            kv = dict(p.split("=", 1) for p in f[2:])
            out["filters"].setdefault(f[1], {})["state_bytes"] = int(kv["used_bytes"])
        elif f[0] == "s":
            if int(f[3]) < 10:  # fused / predicted: the full step; rejected steps return early
                ticks_per_step[f[1]].append(int(f[10]))
        elif f[0] == "sum":
            kv = dict(p.split("=", 1) for p in f[2:])
            d = out["filters"].setdefault(f[1], {})
            d.update(steps=int(kv["steps"]), ticks_total=int(kv["ticks"]), ticks_max=int(kv["ticks_max"]),
                     stack_max_bytes=int(kv["stack_max"]))
            if "hash" in kv:
                d["hash"] = kv["hash"]
            for k in ("r0_updates", "capacity_updates", "ocv_updates"):  # the SOH runner (run_soh.c)
                if k in kv:
                    d[k] = int(kv[k])
            if "insn_per_tick" in kv:
                num, den = (int(x) for x in kv["insn_per_tick"].split("/"))
        elif f[0] == "check":
            checks = out.setdefault("checks", {})  # a check printed per filter passes when every one did
            checks[f[1]] = checks.get(f[1], True) and len(f) > 2 and f[2] == "ok"
    per_tick = num / den
    overhead = out.get("overhead_ticks", 0)
    for filt, d in out["filters"].items():
        full = ticks_per_step.get(filt, [])
        d["insn_per_tick"] = per_tick
        d["insn_avg"] = round((d["ticks_total"] / d["steps"] - overhead) * per_tick) if d.get("steps") else None
        d["insn_avg_fused"] = round((sum(full) / len(full) - overhead) * per_tick) if full else None
        d["insn_max"] = round((d["ticks_max"] - overhead) * per_tick) if "ticks_max" in d else None
    return out


def _parity(src: Path, build_dir: Path, text: str) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("cs_mcu_parity", src / "tests" / "mcu" / "parity.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    ref = mod.parse((build_dir / "host" / "reference.txt").read_text())
    ok, msgs = mod.compare(ref, mod.parse(text))
    return {"bit_identical": ok, "detail": msgs}


SPME_TARGET_INSN_PER_STEP = 25000  #: issue #6: SPMe observer on Cortex-M4F, either filter


def bench_spme(src: Path, bdir: Path, core: str) -> dict[str, Any] | None:
    """Run the SPMe image of one core (if built): instructions per step, stack, footprint, parity."""
    image = bdir / f"spme_{core}.elf"
    if not image.exists():
        return None
    text = run_image(core, image, timeout=300)
    (bdir / "out").mkdir(exist_ok=True)
    (bdir / "out" / f"spme_{core}.txt").write_text(text)
    out: dict[str, Any] = {"run": parse_run(text), "footprint": spme_footprint(Path(str(image) + ".map"))}
    ref = bdir / "host" / "spme_reference.txt"
    if ref.exists():
        spec = importlib.util.spec_from_file_location("cs_mcu_parity", src / "tests" / "mcu" / "parity.py")
        mod = importlib.util.module_from_spec(spec)
        assert spec.loader is not None
        spec.loader.exec_module(mod)
        ok, msgs = mod.compare(mod.parse(ref.read_text()), mod.parse(text))
        out["parity"] = {"bit_identical": ok, "detail": msgs}
    return out


def bench_soh(src: Path, bdir: Path, core: str, nm: str | None = None) -> dict[str, Any] | None:
    """Run the SOH image of one core (if built): instructions and stack per cs_step_soh(), the footprint
    against the SOC-only API, and parity of the final SOC / SOH state with the host build."""
    image = bdir / f"soh_{core}.elf"
    if not image.exists():
        return None
    text = run_image(core, image)
    (bdir / "out").mkdir(exist_ok=True)
    (bdir / "out" / f"soh_{core}.txt").write_text(text)
    run = parse_run(text)
    missing = [f for f in FILTERS if "insn_avg" not in run["filters"].get(f, {})]
    if missing:
        raise McuBenchError(f"soh_{core}.elf printed no sum line for {', '.join(missing)}")
    out: dict[str, Any] = {"run": run, "footprint": soh_footprint(bdir, core, nm)}

    def finals(t: str) -> list[list[str]]:
        return [line.split() for line in t.splitlines() if line.startswith("final ")]

    ref = bdir / "host" / "soh_reference.txt"
    dev = finals(text)
    checks_ok = all(run.get("checks", {}).values()) and bool(run.get("checks"))
    if ref.exists():
        host = finals(ref.read_text())
        ok = bool(dev) and dev == host and checks_ok
        out["parity"] = {"bit_identical": ok,
                         "detail": [] if ok else [f"device {dev}", f"host {host}", f"checks {run.get('checks')}"]}
    return out


# ------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------
def bench_mcu(build_dir: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
              cores: list[str] | None = None) -> dict[str, Any]:
    """Build (if needed) and measure every core of the MCU build; write the report as JSON to `out`
    (default <build_dir>/mcu_report.json) and the table beside it (.txt). Returns the report."""
    src = source_dir()
    bdir = Path(build_dir) if build_dir else src / "build" / "mcu"
    build(bdir, src, cores)
    cache = _cache(bdir)
    built = [c for c in cache.get("CELLSENSE_MCU_CORES", "").split(";") if c]
    report: dict[str, Any] = {"build_dir": str(bdir), "opt": cache.get("CELLSENSE_MCU_OPT", "-O2"),
                              "model": Path(cache.get("CELLSENSE_MCU_MODEL", "?")).name,
                              "targets": TARGETS, "cores": {}}
    # each core's images run under QEMU (seconds to a minute each): cores done with an ETA on stderr
    todo = list(cores or built)
    bar = Progress("bench --mcu: cores measured under QEMU", total=len(todo), unit="cores")
    for core in todo:
        if core not in built:
            raise McuBenchError(f"{core} is not built in {bdir} (built: {', '.join(built)})")
        bar.set(bar.done)  # shows the line once the run is past 2 s, before the next core starts
        text = run_image(core, bdir / f"fw_{core}.elf")
        (bdir / "out").mkdir(exist_ok=True)
        (bdir / "out" / f"fw_{core}.txt").write_text(text)
        run = parse_run(text)
        report["cores"][core] = {"machine": MACHINES[core], "run": run, "footprint": footprint(bdir, core),
                                 "static_stack": static_stack(bdir, core), "parity": _parity(src, bdir, text)}
        try:  # worst-case stack per C API entry point: call graph + frames (cellsense.mcu.stackbound)
            report["cores"][core]["stack_bound"] = stackbound.c_api_bound(bdir, core, cache.get("CMAKE_OBJDUMP") or None)
        except Exception as e:  # noqa: BLE001 - reported, not fatal: the test stack_bound_<core> checks it
            report["cores"][core]["stack_bound_error"] = str(e)
        soh = bench_soh(src, bdir, core, cache.get("CMAKE_NM") or None)  # the SOH-enabled estimator
        if soh is not None:
            report["cores"][core]["soh"] = soh
        spme = bench_spme(src, bdir, core)  # the SPMe firmware (issue #6), when built
        if spme is not None:
            report["cores"][core]["spme"] = spme
        bar.update(1)
    bar.close()
    m4 = report["cores"].get("cortex-m4f")
    if m4:
        f = m4["run"]["filters"]
        report["targets_met"] = {
            "ekf_insn_per_step": f["ekf"]["insn_avg"] <= TARGETS["ekf_insn_per_step"],
            "ukf_insn_per_step": f["ukf"]["insn_avg"] <= TARGETS["ukf_insn_per_step"],
            "core_flash_bytes": m4["footprint"]["both"]["core_plus_runtime_flash_bytes"] <= TARGETS["core_flash_bytes"],
            "state_bytes": max(f["ekf"]["state_bytes"], f["ukf"]["state_bytes"]) <= TARGETS["state_bytes"],
        }
        if "spme" in m4:
            sf = m4["spme"]["run"]["filters"]
            report["spme_targets_met"] = {f"spme_{k}_insn_per_step": sf[k]["insn_avg"] <= SPME_TARGET_INSN_PER_STEP
                                          for k in FILTERS if k in sf}
    dst = Path(out) if out else bdir / "mcu_report.json"
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.suffix == ".json":
        dst.write_text(json.dumps(report, indent=2) + "\n")
        dst.with_suffix(".txt").write_text(format_mcu(report) + "\n")
    else:
        dst.write_text(format_mcu(report) + "\n")
    report["written"] = str(dst)
    return report


def format_mcu(report: dict[str, Any]) -> str:
    """The report as a table (one row per core and filter)."""
    lines = [f"cellsense on Cortex-M ({report.get('opt', '-O2')}, float32, 2 RC + hysteresis, cell "
             f"{report.get('model', '?')}); QEMU -icount shift=0 instruction counts",
             "",
             f"{'core':<14}{'filter':<7}{'insn/step avg':>14}{'max':>8}{'flash core':>12}{'+runtime':>10}"
             f"{'state B':>9}{'stack B':>9}  parity"]
    for core, c in report["cores"].items():
        fp = c["footprint"]
        for filt in FILTERS:
            r = c["run"]["filters"].get(filt, {})
            v = fp[filt]
            lines.append(
                f"{core:<14}{filt:<7}{r.get('insn_avg', 0):>14,}{r.get('insn_max', 0):>8,}"
                f"{v['core_flash_bytes']:>12,}{v['runtime_flash_bytes']:>10,}{r.get('state_bytes', 0):>9}"
                f"{r.get('stack_max_bytes', 0):>9}  {'bit-identical' if c['parity']['bit_identical'] else 'DIFFERS'}")
        b = fp["both"]
        lines.append(f"{'':<14}{'both':<7}{'':>14}{'':>8}{b['core_flash_bytes']:>12,}{b['runtime_flash_bytes']:>10,}"
                     f"   (+ parameter tables {b['params_flash_bytes']:,} B, log {fp['log_flash_bytes']:,} B;"
                     f" static RAM of the core {b['core_static_ram_bytes']} B)")
    lines += ["",
              "insn/step: instructions of one cs_step() (average over the log, maximum), from SysTick ticks",
              "  (x40 on mps2, x62.5 on micro:bit; +-1 tick). Instructions, not cycles.",
              "flash core: the core + C API (text+rodata) as linked when the whole API is used; +runtime:",
              "  compiler/libc/libm helpers it pulls in (soft-float on M3/M0, memcpy/memset, sqrtf).",
              "state B: per-cell estimator bytes (of the 232-byte cs_estimator); stack B: painted maximum per step."]
    for core, c in report["cores"].items():
        sb = c.get("stack_bound")
        if sb:
            top = sorted(sb.items(), key=lambda kv: -kv[1]["stack_bytes"])
            lines.append(f"worst-case stack per call on {core} (call graph + frames): "
                         + ", ".join(f"{k} {v['stack_bytes']:,} B" for k, v in top if v["stack_bytes"] > 0))
        elif c.get("stack_bound_error"):
            lines.append(f"worst-case stack on {core}: not bounded ({c['stack_bound_error']})")
    if "targets_met" in report:
        t = report["targets_met"]
        lines.append("targets on Cortex-M4F: " + ", ".join(f"{k} {'met' if v else 'MISSED'} (<= {TARGETS[k]:,})"
                                                        for k, v in t.items()))
    soh_rows = [(core, c) for core, c in report["cores"].items() if c.get("soh")]
    if soh_rows:
        lines += ["", "SOH-enabled estimator (cs_step_soh: capacity AWTLS + R0 filter + OCV learning, a cs_soh beside each "
                      "cs_estimator; hil/firmware/common/run_soh.c over the same log)",
                  f"{'core':<14}{'filter':<9}{'insn/step avg':>14}{'max':>8}{'SOH adds':>10}{'flash +SOH':>12}"
                  f"{'+runtime':>10}{'RAM/cell B':>12}{'stack B':>9}  parity"]
        for core, c in soh_rows:
            sh = c["soh"]
            fps = sh["footprint"]
            par = sh.get("parity", {}).get("bit_identical")
            for filt in FILTERS:
                r = sh["run"]["filters"].get(filt, {})
                base = c["run"]["filters"].get(filt, {}).get("insn_avg")
                extra = f"{r['insn_avg'] - base:+,}" if base is not None and r.get("insn_avg") is not None else "-"
                lines.append(f"{core:<14}{filt + '+soh':<9}{r.get('insn_avg', 0):>14,}{r.get('insn_max', 0):>8,}"
                             f"{extra:>10}{fps['soh_core_flash_delta_bytes']:>12,}"
                             f"{fps['soh_runtime_flash_delta_bytes']:>10,}{fps['ram_per_cell_bytes']:>12}"
                             f"{r.get('stack_max_bytes', 0):>9}  "
                             f"{'bit-identical' if par else 'DIFFERS' if par is not None else '-'}")
        lines += ["  SOH adds: instructions per step over cs_step() of the table above (same log, same filter).",
                  "  flash +SOH: core + C API bytes the SOH image keeps beyond fp_both (whole SOC API, both filters),",
                  "  section by section from the two linker maps; +runtime: helpers it adds. RAM/cell: sizeof",
                  "  cs_estimator + sizeof cs_soh as linked (nm). parity: final SOC/SOH state vs the host build."]
        for core, c in soh_rows:
            p = c["soh"].get("parity")
            if p is not None and not p["bit_identical"]:
                lines.append(f"{core} SOH parity: " + "; ".join(p["detail"]))
    spme_rows = [(core, c["spme"]) for core, c in report["cores"].items() if c.get("spme")]
    if spme_rows:
        lines += ["", "SPMe observer (hil/firmware/spme, model/spme.hpp: Pade [3/3] particles, 2 electrolyte modes, "
                      "9 states; core headers used directly)",
                  f"{'core':<14}{'filter':<7}{'insn/step avg':>14}{'max':>8}{'flash code':>12}{'params':>8}"
                  f"{'state B':>9}{'stack B':>9}  parity"]
        for core, sp in spme_rows:
            for filt in FILTERS:
                r = sp["run"]["filters"].get(filt, {})
                fpp = sp["footprint"]
                par = sp.get("parity", {}).get("bit_identical")
                lines.append(f"{core:<14}{filt:<7}{r.get('insn_avg', 0):>14,}{r.get('insn_max', 0):>8,}"
                             f"{fpp['code_flash_bytes']:>12,}{fpp['params_flash_bytes']:>8,}{r.get('state_bytes', 0):>9}"
                             f"{r.get('stack_max_bytes', 0):>9}  {'bit-identical' if par else 'DIFFERS' if par is not None else '-'}")
        lines.append("  flash code: the whole SPMe test image without its log (core, both filters, runner, start-up).")
        if "spme_targets_met" in report:
            lines.append("SPMe target on Cortex-M4F: " + ", ".join(
                f"{k} {'met' if v else 'MISSED'} (<= {SPME_TARGET_INSN_PER_STEP:,})" for k, v in report["spme_targets_met"].items()))
    for core, c in report["cores"].items():
        if not c["parity"]["bit_identical"]:
            lines.append(f"{core} parity: " + "; ".join(c["parity"]["detail"]))
    return "\n".join(lines)
