"""Worst-case stack depth of every C API entry point on a Cortex-M build (issue #16).

GCC's ``-fcallgraph-info=su`` writes, beside each object, a call graph (VCG text: one node per
function with its static frame size from ``-fstack-usage``, one edge per direct call). The depth of
an entry point is its frame plus the deepest chain of callees. Library functions the compiler calls
(memcpy, memset; on soft-float cores the ``__aeabi_*`` helpers) are not in the graph: their frames
are read from the linked image's disassembly (``push`` / ``stmdb sp!`` / ``vpush`` / ``sub sp``) and
their own calls followed the same way.

The bound is exact for this code: no recursion (a cycle is an error), no indirect calls (an
indirect-call node is an error), no variable-length frames (a ``dynamic`` frame is an error).

    python -m cellsense.mcu.stackbound --build-dir build/mcu --core cortex-m4f [--budget 512]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

NODE_RE = re.compile(r'^node:\s*\{\s*title:\s*"([^"]+)"\s*label:\s*"([^"]*)"')
EDGE_RE = re.compile(r'^edge:\s*\{\s*sourcename:\s*"([^"]+)"\s*targetname:\s*"([^"]+)"')
FRAME_RE = re.compile(r"(\d+) bytes \(([a-z, ]+)\)")
# Budget for the deepest C API entry point on the Cortex-M4F (bytes): the stack the integrator
# reserves for the C API (docs/safety.md). Measured: cs_step 928 B (UKF), cs_step_soh 1,136 B.
DEFAULT_BUDGET_BYTES = 1536


class StackBoundError(RuntimeError):
    """The call graph cannot be bounded (recursion, indirect call, dynamic frame, unknown callee)."""


def parse_ci(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """Nodes (title -> {name, frame, kind}) and edges (title -> callees) of one .ci file."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[str, set[str]] = {}
    for line in path.read_text(errors="replace").splitlines():
        m = NODE_RE.match(line)
        if m:
            title, label = m.groups()
            name = label.split("\\n", 1)[0]
            f = FRAME_RE.search(label)
            nodes[title] = {"name": name, "frame": int(f.group(1)) if f else None,
                            "kind": f.group(2) if f else "external"}
            continue
        m = EDGE_RE.match(line)
        if m:
            edges.setdefault(m.group(1), set()).add(m.group(2))
    return nodes, edges


def _objdump_frames(objdump: str, image: Path) -> dict[str, tuple[int, set[str]]]:
    """Per function of an image, object or archive: (frame bytes from its prologue, direct callees).
    Callees come from the call relocations in an unlinked file, from the branch targets in an image."""
    linked = image.suffix not in (".a", ".o", ".obj")
    out = subprocess.run([objdump, "-dr", "--no-show-raw-insn", str(image)], capture_output=True, text=True,
                         check=True).stdout
    funcs: dict[str, tuple[int, set[str]]] = {}
    name = None
    frame = 0
    calls: set[str] = set()
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            if name is not None:
                funcs[name] = (frame, calls)
            name, frame, calls = m.group(1), 0, set()
            continue
        r = re.match(r"^\s+[0-9a-f]+: R_ARM_(?:THM_CALL|THM_JUMP24|THM_JUMP19|THM_XPC22|CALL|JUMP24)\s+([^\s+]+)", line)
        if r and name is not None:
            if r.group(1) != name:
                calls.add(r.group(1))
            continue
        if name is None or "\t" not in line:
            continue
        ins = line.split("\t", 1)[1].strip()
        m = re.match(r"^(push|stmdb\s+sp!,|vpush)(?:\.w)?\s*\{([^}]*)\}", ins)
        if m:
            regs = 0
            for part in m.group(2).split(","):
                part = part.strip()
                r = re.match(r"^([rsd])(\d+)-[rsd](\d+)$", part)
                n = int(r.group(3)) - int(r.group(2)) + 1 if r else 1
                regs += n * (8 if part.startswith("d") else 4)
            frame += regs
            continue
        m = re.match(r"^sub(?:s|\.w)?\s+sp,\s*(?:sp,\s*)?#(\d+)", ins)
        if m:
            frame += int(m.group(1))
            continue
        m = re.match(r"^(?:bl|blx|b\.w)\s+[0-9a-f]+\s+<([^>+]+)>", ins)
        if linked and m and m.group(1) != name:
            calls.add(m.group(1))
    if name is not None:
        funcs[name] = (frame, calls)
    # Aliases (identical code folding gives one body several names): every name at a function's address.
    nm = objdump.replace("objdump", "nm")
    if shutil.which(nm):
        by_addr: dict[str, list[str]] = {}
        for line in subprocess.run([nm, str(image)], capture_output=True, text=True, check=True).stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "tTwW":
                by_addr.setdefault(parts[0], []).append(parts[2])
        for names in by_addr.values():
            known = [n for n in names if n in funcs]
            for n in names:
                if known and n not in funcs:
                    funcs[n] = funcs[known[0]]
    return funcs


def bound(ci_files: list[Path], image: Path | None = None, objdump: str | None = None,
          library: Path | None = None) -> dict[str, Any]:
    """Worst-case depth (bytes) and the deepest chain of every ``cs_*`` entry point."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[str, set[str]] = {}
    for p in ci_files:
        n, e = parse_ci(p)
        nodes.update(n)
        for k, v in e.items():
            edges.setdefault(k, set()).update(v)
    for t, n in nodes.items():
        if n["kind"] not in ("static", "external"):
            raise StackBoundError(f"{n['name']}: frame is {n['kind']} (not a fixed size)")
        if "indirect" in t or "__indirect_call" in t:
            raise StackBoundError(f"indirect call in the call graph ({t})")
    lib: dict[str, tuple[int, set[str]]] = {}
    if image is not None and objdump is not None:
        lib = _objdump_frames(objdump, image)  # libc / libgcc helpers as linked
    if library is not None and objdump is not None:
        lib.update(_objdump_frames(objdump, library))  # the C API's own functions, every one

    @lru_cache(maxsize=None)
    def lib_depth(fn: str, stack: tuple[str, ...] = ()) -> tuple[int, tuple[str, ...]]:
        if fn in stack:
            raise StackBoundError(f"recursion through {' -> '.join(stack + (fn,))}")
        if fn not in lib:
            raise StackBoundError(f"{fn}: not in the call graph nor in the image {image} (cannot bound its frame)")
        frame, calls = lib[fn]
        best: tuple[int, tuple[str, ...]] = (0, ())
        for c in sorted(calls):
            best = max(best, lib_depth(c, stack + (fn,)))
        return frame + best[0], (fn,) + best[1]

    def depth(t: str, stack: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
        if t in stack:
            raise StackBoundError(f"recursion through {' -> '.join(nodes.get(s, {'name': s})['name'] for s in stack + (t,))}")
        n = nodes.get(t)
        if n is None or n["kind"] == "external":
            return lib_depth(t.split(":")[-1])
        best: tuple[int, tuple[str, ...]] = (0, ())
        for c in sorted(edges.get(t, ())):
            best = max(best, depth(c, stack + (t,)))
        return n["frame"] + best[0], (n["name"].split("(")[0],) + best[1]

    entries = sorted(t for t in nodes if re.match(r"^cs_\w+$", t))
    result: dict[str, Any] = {}
    for t in entries:
        d, path = depth(t, ())
        result[t] = {"stack_bytes": d, "frame_bytes": nodes[t]["frame"], "path": list(path)}
    return result


def c_api_bound(build_dir: Path, core: str, objdump: str | None = None) -> dict[str, Any]:
    """The bound for the C API library ``cellsense_c_<core>`` of a tests/mcu build."""
    ci = [p for p in Path(build_dir).rglob("*.ci") if f"cellsense_c_{core}.dir" in str(p)]
    if not ci:
        raise StackBoundError(f"no call graph (-fcallgraph-info=su) for cellsense_c_{core} under {build_dir}")
    image = Path(build_dir) / f"fp_both_{core}.elf"
    library = Path(build_dir) / f"libcellsense_c_{core}.a"
    objdump = objdump or shutil.which("arm-none-eabi-objdump")
    return bound(ci, image if image.exists() else None, objdump, library if library.exists() else None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Worst-case stack depth of the C API entry points")
    ap.add_argument("--build-dir", type=Path, required=True)
    ap.add_argument("--core", required=True)
    ap.add_argument("--budget", type=int, default=DEFAULT_BUDGET_BYTES, help="bytes; exit 1 above it")
    ap.add_argument("--objdump", default=None)
    args = ap.parse_args(argv)
    try:
        res = c_api_bound(args.build_dir, args.core, args.objdump)
    except StackBoundError as e:
        print(f"stackbound: {e}", file=sys.stderr)
        return 2
    worst = max(r["stack_bytes"] for r in res.values())
    print(f"{args.core}: worst-case stack per C API entry point (frame + deepest callee chain), budget {args.budget} B")
    for name, r in sorted(res.items(), key=lambda kv: -kv[1]["stack_bytes"]):
        print(f"  {name:<28}{r['stack_bytes']:>6} B   {' -> '.join(r['path'])}")
    print(f"worst {worst} B: {'within' if worst <= args.budget else 'OVER'} the {args.budget} B budget")
    return 0 if worst <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
