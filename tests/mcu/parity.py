#!/usr/bin/env python3
"""Parity: run a firmware image under QEMU and compare its outputs with the host build's, bit for bit.

    parity.py --reference host/reference.txt [--save out.txt] -- qemu-system-arm ... -kernel fw.elf

Compared: every step's status and float32 bit patterns (soc, soc_sigma, v_pred, innovation, S, NIS),
the final state and covariance, the init results, the self-checks and the output hashes. Not
compared: instruction ticks and stack bytes (the host has neither) and used_bytes (pointer size).
Passes only when everything is identical and the image exited 0. On any difference it prints how
many values differ and the maximum absolute and ulp difference per field.

verifies: CS-PLAT-001 (firmware images bit-identical to the host build), CS-EST-012 (device soak)
"""
from __future__ import annotations

import argparse
import math
import struct
import subprocess
import sys
from pathlib import Path

STEP_FIELDS = ["soc", "soc_sigma", "voltage_pred_V", "innovation_V", "innovation_variance_V2", "nis"]


def f32(h: str) -> float:
    return struct.unpack("<f", struct.pack("<I", int(h, 16)))[0]


def ulps(a: str, b: str) -> int:
    def key(h):
        u = int(h, 16)
        return -(u & 0x7FFFFFFF) if u & 0x80000000 else u
    return abs(key(a) - key(b))


def parse(text: str) -> dict:
    out = {"init": {}, "s": {}, "x": {}, "hash": {}, "check": [], "done": None}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "init":
            out["init"][f[1]] = f[2]
        elif f[0] == "s":
            out["s"][(f[1], int(f[2]))] = (int(f[3]), f[4:10])
        elif f[0] == "x":
            out["x"][f[1]] = f[2:]
        elif f[0] == "sum":
            kv = dict(p.split("=", 1) for p in f[2:] if "=" in p)
            out["hash"][f[1]] = kv.get("hash")
        elif f[0] == "check":
            out["check"].append((f[1], f[2]))
        elif f[0] == "done":
            out["done"] = line
    return out


def compare(ref: dict, got: dict) -> tuple[bool, list[str]]:
    msgs: list[str] = []
    ok = True
    if ref["init"] != got["init"]:
        ok = False
        msgs.append(f"init results differ: host {ref['init']} vs target {got['init']}")
    if set(ref["s"]) != set(got["s"]):
        ok = False
        msgs.append(f"step sets differ: host {len(ref['s'])} steps, target {len(got['s'])} steps")
    n_values = n_diff = n_status = 0
    worst = {}  # (filter, field) -> (abs diff, ulps, step)
    for key in sorted(set(ref["s"]) & set(got["s"])):
        (rs, rv), (gs, gv) = ref["s"][key], got["s"][key]
        if rs != gs:
            n_status += 1
        for name, a, b in zip(STEP_FIELDS, rv, gv):
            n_values += 1
            if a != b:
                n_diff += 1
                fa, fb = f32(a), f32(b)
                d = abs(fa - fb) if math.isfinite(fa) and math.isfinite(fb) else math.inf
                u = ulps(a, b)
                w = worst.get((key[0], name))
                if w is None or d > w[0]:
                    worst[(key[0], name)] = (d, u, key[1])
    for filt in sorted(set(ref["x"]) | set(got["x"])):
        a, b = ref["x"].get(filt), got["x"].get(filt)
        n_values += len(a or [])
        if a != b:
            ok = False
            nd = sum(1 for p, q in zip(a or [], b or []) if p != q)
            n_diff += nd
            msgs.append(f"{filt}: final state/covariance differs in {nd} of {len(a or [])} values")
    if n_status:
        ok = False
        msgs.append(f"{n_status} step statuses differ")
    if n_diff:
        ok = False
        msgs.append(f"{n_diff} of {n_values} float32 values differ:")
        for (filt, name), (d, u, k) in sorted(worst.items()):
            msgs.append(f"  {filt} {name}: max |difference| {d:.3g} ({u} ulp) at step {k}")
    if ref["hash"] != got["hash"]:
        ok = False
        msgs.append(f"output hashes differ: host {ref['hash']} vs target {got['hash']}")
    bad_checks = [c for c in got["check"] if c[1] != "ok"]
    if bad_checks or got["check"] != ref["check"]:
        ok = False
        msgs.append(f"self-checks: host {ref['check']} vs target {got['check']}")
    if ok:
        msgs.append(f"bit-identical: {n_values} float32 values and {len(ref['s'])} statuses over "
                    f"{len(ref['init'])} filters; hashes {got['hash']}")
    return ok, msgs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", required=True, help="host runner output")
    ap.add_argument("--save", help="write the target's output here")
    ap.add_argument("--timeout", type=float, default=100.0)
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- emulator command ... image")
    a = ap.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    if a.save:
        Path(a.save).parent.mkdir(parents=True, exist_ok=True)
        Path(a.save).write_text(proc.stdout)
    ref = parse(Path(a.reference).read_text())
    got = parse(proc.stdout)
    ok, msgs = compare(ref, got)
    print("\n".join(msgs))
    if proc.returncode != 0:
        print(f"FAIL: the image exited with {proc.returncode} ({got['done']}); stderr: {proc.stderr.strip()[:500]}")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
