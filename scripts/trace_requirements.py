#!/usr/bin/env python3
"""Requirements traceability of the core (issue #16, docs/requirements/).

Requirements: every heading ``### CS-<MOD>-<NNN>: <statement>`` in docs/requirements/*.md.
Tests name what they verify with a tag ``verifies: CS-<MOD>-<NNN>[, ...]`` in a comment (C, C++)
or a comment / docstring (Python). A tag belongs to the test whose definition it precedes (comment
block right above the definition) or else to the test it sits in.

Checks, exit 1 on any failure:
  * every requirement is named by at least one test;
  * every test of the core names at least one requirement: each ``void test_*`` function of
    tests/cpp/test_*.cpp and each ``void test_*`` / ``run_*`` function of tests/mcu/test_*.c;
  * every tag names an existing requirement;
  * requirement ids are unique.
Prints the matrix (requirement -> tests). ``--markdown FILE`` also writes it as a Markdown table.

    python3 scripts/trace_requirements.py [--markdown build/requirements-matrix.md]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQ_DIR = ROOT / "docs" / "requirements"
REQ_RE = re.compile(r"^###\s+(CS-[A-Z0-9]+-\d{3}):\s*(.+?)\s*$")
ID_RE = re.compile(r"CS-[A-Z0-9]+-\d{3}")
TAG_RE = re.compile(r"verifies:\s*((?:CS-[A-Z0-9]+-\d{3})(?:\s*,\s*CS-[A-Z0-9]+-\d{3})*)")

# (glob, definition regex, whether every definition must carry a tag)
SOURCES = [
    ("tests/cpp/test_*.cpp", re.compile(r"^(?:static\s+)?void\s+(test_\w+)\s*\("), True),
    ("tests/mcu/test_*.c", re.compile(r"^(?:static\s+)?void\s+((?:test|run)_\w+)\s*\("), True),
    ("tests/mcu/*.cpp", re.compile(r"^(?:static\s+)?(?:void|int)\s+(\w+)\s*\("), False),
    ("tests/mcu/[!t]*.c", re.compile(r"^(?:static\s+)?(?:void|int)\s+(\w+)\s*\("), False),
    ("tests/mcu/*.py", re.compile(r"^def\s+(\w+)\s*\("), False),
    ("tests/soak/*.cpp", re.compile(r"^(?:static\s+)?(?:void|int)\s+(\w+)\s*\("), False),
    ("tests/fuzz/*.cpp", re.compile(r"^(?:extern\s+\"C\"\s+)?(?:static\s+)?(?:void|int)\s+(\w+)\s*\("), False),
    ("tests/python/**/test_*.py", re.compile(r"^(?:async\s+)?def\s+(test_\w+)\s*\("), False),
]
COMMENT_RE = re.compile(r"^\s*(//|/\*|\*|#|template\b|@|\"\"\"|''')")


def load_requirements() -> tuple[dict[str, tuple[str, str]], list[str]]:
    reqs: dict[str, tuple[str, str]] = {}
    errors: list[str] = []
    for path in sorted(REQ_DIR.glob("*.md")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = REQ_RE.match(line)
            if not m:
                continue
            rid, text = m.groups()
            where = f"{path.relative_to(ROOT)}:{n}"
            if rid in reqs:
                errors.append(f"{where}: requirement {rid} defined twice (first at {reqs[rid][1]})")
            reqs[rid] = (text, where)
    return reqs, errors


def scan(pattern: str, def_re: re.Pattern, strict: bool):
    """Yield (file, test, line, tags) for every test definition; tags attributed as documented."""
    for path in sorted(ROOT.glob(pattern)):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        defs = [(i, m.group(1)) for i, line in enumerate(lines) if (m := def_re.match(line))]
        if pattern.endswith("test_*.cpp") or pattern.endswith("test_*.c"):
            defs = [d for d in defs if d[1] != "main"]
        tags: dict[int, list[str]] = {i: [] for i, _ in defs}
        orphans: list[tuple[int, list[str]]] = []
        for i, line in enumerate(lines):
            m = TAG_RE.search(line)
            if not m:
                continue
            ids = ID_RE.findall(m.group(1))
            owner = None
            # a comment block right above a definition
            j = i + 1
            while j < len(lines) and (COMMENT_RE.match(lines[j]) or not lines[j].strip()):
                j += 1
            following = [d for d in defs if d[0] == j]
            if following:
                owner = following[0][0]
            else:
                before = [d for d in defs if d[0] < i]
                if before:
                    owner = before[-1][0]
            if owner is None:
                orphans.append((i + 1, ids))
            else:
                tags[owner].extend(ids)
        rel = str(path.relative_to(ROOT))
        for i, name in defs:
            yield rel, name, i + 1, tags[i], strict
        for n, ids in orphans:
            yield rel, "<file>", n, ids, False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", type=Path, help="also write the matrix as a Markdown table")
    args = ap.parse_args(argv)

    reqs, errors = load_requirements()
    if not reqs:
        errors.append(f"no requirements found under {REQ_DIR.relative_to(ROOT)}")
    verified: dict[str, list[str]] = {rid: [] for rid in reqs}
    untagged: list[str] = []
    n_tests = 0
    for pattern, def_re, strict in SOURCES:
        for rel, name, line, ids, must in scan(pattern, def_re, strict):
            if must:
                n_tests += 1
                if not ids:
                    untagged.append(f"{rel}:{line}: test {name} names no requirement (add '// verifies: CS-...')")
            for rid in dict.fromkeys(ids):
                if rid not in reqs:
                    errors.append(f"{rel}:{line}: {name} names unknown requirement {rid}")
                else:
                    verified[rid].append(f"{rel}::{name}")

    print(f"Requirements traceability: {len(reqs)} requirements, {n_tests} core tests (tests/cpp, tests/mcu)")
    width = max((len(r) for r in reqs), default=10)
    for rid in sorted(reqs, key=lambda r: (r.split("-")[1], r)):
        tests = verified[rid]
        mark = "ok " if tests else "-- "
        print(f"{mark}{rid:<{width}}  {reqs[rid][0]}")
        for t in tests:
            print(f"{'':>{width + 5}}{t}")
    missing = [rid for rid in reqs if not verified[rid]]
    for rid in missing:
        errors.append(f"{reqs[rid][1]}: requirement {rid} is verified by no test")
    errors.extend(untagged)

    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        rows = ["| Requirement | Statement | Verified by |", "|---|---|---|"]
        for rid in sorted(reqs, key=lambda r: (r.split("-")[1], r)):
            rows.append(f"| {rid} | {reqs[rid][0]} | {'<br>'.join(verified[rid]) or '**none**'} |")
        args.markdown.write_text("\n".join(rows) + "\n", encoding="utf-8")
        print(f"matrix: {args.markdown}")

    if errors:
        print(f"\nFAILED: {len(errors)} problem(s)", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print(f"\nOK: every requirement has a test, every core test names a requirement")
    return 0


if __name__ == "__main__":
    sys.exit(main())
