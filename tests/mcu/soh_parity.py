#!/usr/bin/env python3
"""Run the SOH firmware (run_soh.c) under the emulator and compare its "final" lines (SOC and SOH
state as float32 bit patterns) with the host build's; print the "sum" lines (instructions per step).

verifies: CS-PLAT-001"""
import subprocess
import sys
from pathlib import Path


def lines(text, tag):
    return [l.split() for l in text.splitlines() if l.startswith(tag + " ")]


def main() -> int:
    i = sys.argv.index("--")
    ref = open(sys.argv[sys.argv.index("--reference") + 1]).read()
    out = subprocess.run(sys.argv[i + 1:], capture_output=True, text=True, timeout=300)
    if "--save" in sys.argv:  # build/mcu/out may not exist yet: ctest -j runs this before the tests that make it
        save = Path(sys.argv[sys.argv.index("--save") + 1])
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(out.stdout)
    for l in lines(out.stdout, "sum"):
        print(" ".join(l))
    a, b = lines(out.stdout, "final"), lines(ref, "final")
    if out.returncode != 0 or not a or a != b:
        print(f"SOH parity FAILED (rc {out.returncode}):\n device {a}\n host   {b}")
        return 1
    print(f"SOH parity: {len(a)} final states bit-identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
