#!/usr/bin/env python3
"""Fail if a firmware image links anything from the heap, C++ exception or RTTI machinery.

    check_symbols.py --nm arm-none-eabi-nm image.elf [image.elf ...]

verifies: CS-PLAT-002
"""
import argparse
import re
import subprocess
import sys

FORBIDDEN = re.compile(
    r"^(malloc|_malloc_r|calloc|_calloc_r|realloc|_realloc_r|free|_free_r|_sbrk|_sbrk_r|__malloc_.*"
    r"|__cxa_.*|_Unwind.*|__gxx_personality.*|__aeabi_unwind_cpp_pr.*"
    r"|_ZTI.*|_ZTS.*"            # typeinfo objects and names (RTTI)
    r"|_Znw.*|_Zna.*|_Zdl.*|_Zda.*"  # operator new / delete
    r")$")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nm", default="arm-none-eabi-nm")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    bad = 0
    for img in a.images:
        out = subprocess.run([a.nm, img], check=True, capture_output=True, text=True).stdout
        names = [line.split()[-1] for line in out.splitlines() if line.strip()]
        hits = sorted({n for n in names if FORBIDDEN.match(n)})
        if hits:
            bad += 1
            print(f"FAIL {img}: forbidden symbols: {', '.join(hits)}")
        else:
            print(f"ok   {img}: {len(names)} symbols, none from malloc/_sbrk/__cxa_*/_Unwind*/typeinfo/new/delete")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
