"""What a Cortex-M image costs: flash and RAM per part from the linker map, the static stack per C API entry point,
the SPMe and SOH parts' footprint and symbol sizes (docs/mcu.md, "Footprint")."""
from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from .tools import McuBenchError, _require, _run


_MAP_LINE = re.compile(r"^ (\.[^\s]+|COMMON)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def parse_map(path: Path) -> dict[str, dict[str, int]]:
    """Bytes by category and kind (text/rodata/data/bss) from a GNU ld map file."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (_sec, _origin, cat, kind), size in map_sections(path).items():
        out[cat][kind] += size
    return {k: dict(v) for k, v in out.items()}


def map_sections(path: Path) -> dict[tuple[str, str, str, str], int]:
    """Every input section the linker kept: (section, origin object, category, kind) -> bytes. With
    -ffunction-sections one section is one function, and the same object gives the same sections in
    every image that links it, so two images' maps can be compared section by section."""
    lines = path.read_text(errors="replace").splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("Linker script and memory map"))
    except StopIteration:
        raise McuBenchError(f"{path}: not a GNU ld map file") from None
    joined: list[str] = []
    for line in lines[start:]:
        if joined and re.match(r"^\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+\S", line) and re.match(r"^ \.\S+$", joined[-1]):
            joined[-1] = joined[-1] + " " + line.strip()
        else:
            joined.append(line)
    out: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for line in joined:
        m = _MAP_LINE.match(line)
        if not m:
            continue
        sec, size, origin = m.group(1), int(m.group(3), 16), m.group(4)
        if size == 0 or origin.startswith("load address"):
            continue
        kind = ("text" if sec.startswith(".text") else "rodata" if sec.startswith(".rodata")
                else "data" if sec.startswith(".data") else "bss" if sec.startswith((".bss", "COMMON")) else None)
        if kind is None:
            continue
        if sec == ".rodata.cell_params":
            cat = "cell_params"
        elif sec == ".rodata.cs_log":
            cat = "cell_log"
        elif "libcellsense_c" in origin:
            cat = "core"
        elif "libgcc.a" in origin:
            cat = "libgcc"
        elif "libm.a" in origin or "libm_nano.a" in origin:
            cat = "libm"
        elif "libc_nano.a" in origin or "libc.a" in origin:
            cat = "libc"
        else:
            cat = "firmware"
        out[(sec, origin.strip(), cat, kind)] += size
    return dict(out)


def _flash(m: dict[str, dict[str, int]], cats: tuple[str, ...]) -> int:
    return sum(m.get(c, {}).get(k, 0) for c in cats for k in ("text", "rodata", "data"))


def _ram(m: dict[str, dict[str, int]], cats: tuple[str, ...]) -> int:
    return sum(m.get(c, {}).get(k, 0) for c in cats for k in ("data", "bss"))


def footprint(build_dir: Path, core: str) -> dict[str, Any]:
    """Flash and RAM of the C API images for one core."""
    out: dict[str, Any] = {}
    for variant in ("both", "ekf", "ukf"):
        m = parse_map(build_dir / f"fp_{variant}_{core}.elf.map")
        out[variant] = {
            "core_flash_bytes": _flash(m, ("core",)),
            "runtime_flash_bytes": _flash(m, ("libgcc", "libc", "libm")),
            "libgcc_flash_bytes": _flash(m, ("libgcc",)),
            "libc_libm_flash_bytes": _flash(m, ("libc", "libm")),
            "params_flash_bytes": _flash(m, ("cell_params",)),
            "core_static_ram_bytes": _ram(m, ("core", "libgcc", "libm")),
            "total_flash_bytes": _flash(m, tuple(m)),
        }
        out[variant]["core_plus_runtime_flash_bytes"] = out[variant]["core_flash_bytes"] + out[variant]["runtime_flash_bytes"]
    fw = parse_map(build_dir / f"fw_{core}.elf.map")
    out["log_flash_bytes"] = _flash(fw, ("cell_log",))
    return out


def static_stack(build_dir: Path, core: str) -> dict[str, int]:
    """-fstack-usage of the C API's functions (bytes; static frames, callees not included)."""
    out: dict[str, int] = {}
    for su in build_dir.rglob("*.su"):
        if f"cellsense_c_{core}.dir" not in str(su):
            continue
        for line in su.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1].isdigit():
                name = parts[0].split(":", 3)[-1]  # file:line:column:function
                out[name] = max(out.get(name, 0), int(parts[1]))
    return out


def spme_footprint(map_path: Path) -> dict[str, int]:
    """Flash / RAM of the SPMe firmware image (spme_<core>.elf, hil/firmware/spme): everything except the
    compiled-in log and parameter set ("code"), the parameters, the log; static RAM."""
    m = parse_map(map_path)
    text = map_path.read_text(errors="replace")
    log = sum(int(x, 16) for x in re.findall(r"\.rodata\.[^\s]*cs_spme_log[^\s]*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", text))
    params = sum(int(x, 16) for x in re.findall(r"\.rodata\.[^\s]*kSpmeParams[^\s]*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", text))
    total = _flash(m, tuple(m))
    return {"code_flash_bytes": total - log - params, "params_flash_bytes": params, "log_flash_bytes": log,
            "static_ram_bytes": _ram(m, tuple(m))}


# ------------------------------------------------------------------------------------------------
# The SOH-enabled estimator (docs/soh.md): cs_step_soh() with a cs_soh beside each cs_estimator
# ------------------------------------------------------------------------------------------------
_FLASH_KINDS = ("text", "rodata", "data")
_RUNTIME = ("libgcc", "libc", "libm")


def soh_footprint(build_dir: Path, core: str, nm: str | None = None) -> dict[str, Any]:
    """Flash and RAM of the SOH image (soh_<core>.elf: the runner hil/firmware/common/run_soh.c over the
    C API with both filters).

    The flash the SOH part adds is measured against fp_both_<core> (the whole SOC API: init, step,
    save/restore, soc) section by section: both link the same C API object, so a section kept in the SOH
    image and absent from fp_both is code or data only SOH needs (cs_soh_*, cs_step_soh with the tracker's
    step inlined per filter). Firmware using both APIs would keep the union; the delta is what SOH adds.
    Runtime helpers (libgcc / libc / libm) count when the C API library pulled them in.
    RAM per cell: the linked sizes of the runner's cs_estimator and cs_soh (nm)."""
    soh = map_sections(build_dir / f"soh_{core}.elf.map")
    base = map_sections(build_dir / f"fp_both_{core}.elf.map")
    for_core = map_members_for_core(build_dir / f"soh_{core}.elf.map")
    added = {k: v for k, v in soh.items() if k not in base and k[3] in _FLASH_KINDS
             and (k[2] == "core" or (k[2] in _RUNTIME and k[1] in for_core))}
    by_cat: dict[str, int] = defaultdict(int)
    for (_sec, _origin, cat, _kind), size in added.items():
        by_cat[cat] += size
    def flash(secs: dict[tuple[str, str, str, str], int], cats: tuple[str, ...]) -> int:
        return sum(v for k, v in secs.items() if k[2] in cats and k[3] in _FLASH_KINDS)

    out: dict[str, Any] = {
        "soh_core_flash_delta_bytes": by_cat.get("core", 0),
        "soh_runtime_flash_delta_bytes": sum(by_cat.get(c, 0) for c in _RUNTIME),
        "core_flash_bytes": flash(soh, ("core",)),
        "runtime_flash_bytes": flash(soh, _RUNTIME),
        "soh_functions": sorted({k[0].split(".", 2)[-1] for k in added if k[2] == "core" and k[3] == "text"}),
    }
    sizes = symbol_sizes(build_dir / f"soh_{core}.elf", ("g_est", "g_soh"), nm)
    if "g_est" not in sizes or "g_soh" not in sizes:
        raise McuBenchError(f"soh_{core}.elf: g_est / g_soh not found by nm")
    out["estimator_bytes"] = sizes["g_est"]
    out["soh_bytes"] = sizes["g_soh"]
    out["ram_per_cell_bytes"] = sizes["g_est"] + sizes["g_soh"]
    return out


def map_members_for_core(path: Path) -> set[str]:
    """Archive members (as the map names them) that the linker pulled in for the C API library: the
    "Archive member included to satisfy reference by file" list, followed from libcellsense_c
    transitively (a member the firmware itself pulled in first is not counted)."""
    lines = path.read_text(errors="replace").splitlines()
    by: dict[str, str] = {}
    member = None
    for line in lines:
        if line.startswith(("Discarded input sections", "Memory Configuration")):
            break
        if line and not line[0].isspace():
            member = line.strip()
        elif member and line.strip():
            by[member] = re.sub(r"\s*\([^()]*\)$", "", line.strip())
            member = None
    out: set[str] = set()
    for m in by:
        seen, cur = set(), m
        while cur in by and cur not in seen:
            seen.add(cur)
            cur = by[cur]
            if "libcellsense_c" in cur:
                out.add(m)
                break
    return out


def symbol_sizes(elf: Path, names: tuple[str, ...], nm: str | None = None) -> dict[str, int]:
    """Sizes (bytes) of the named data symbols of an ELF, from `nm -S`."""
    nm = nm or shutil.which("arm-none-eabi-nm") or _require("arm-none-eabi-nm")
    p = _run([nm, "-S", str(elf)])
    out: dict[str, int] = {}
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[3] in names:
            out[f[3]] = int(f[1], 16)
    return out
