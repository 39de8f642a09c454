#!/usr/bin/env python3
"""Copy a C example out of docs/c-api.md (the ```c block after `<!-- c-api-example -->`, or after the
marker named by the third argument: `c-api-soh-example` for `<!-- c-api-soh-example -->`), so the build compiles exactly
what the documentation shows."""
import re
import sys
from pathlib import Path

MARKER = "<!-- c-api-example -->"


def main(doc: str, out: str, marker: str = MARKER) -> int:
    text = Path(doc).read_text(encoding="utf-8")
    at = text.find(marker)
    if at < 0:
        print(f"{doc}: marker {marker} not found", file=sys.stderr)
        return 1
    m = re.compile(r"```c\n(.*?)```", re.S).search(text, at)
    if not m:
        print(f"{doc}: no ```c block after {marker}", file=sys.stderr)
        return 1
    code = f"/* Extracted from {Path(doc).name} by tests/mcu/extract_example.py. */\n" + m.group(1)
    dst = Path(out)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists() or dst.read_text(encoding="utf-8") != code:
        dst.write_text(code, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], *(f"<!-- {name} -->" for name in sys.argv[3:4])))
