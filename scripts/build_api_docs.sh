#!/usr/bin/env bash
# The API reference, generated from the docstrings of the installed cellsense package (Sphinx autodoc +
# autosummary + napoleon; sources in docs/api), with every Sphinx warning an error. Needs cellsense[docs].
# Output: build/api-docs/index.html (or the directory given as $1). The sources are copied to the output's
# src/ first, so the generated module pages never land in the checkout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/build/api-docs}" && cd "${1:-$ROOT/build/api-docs}" && pwd)"
PY="${PYTHON:-python}"
"$PY" -c 'import sphinx' 2>/dev/null || { echo "build_api_docs: Sphinx is not installed: pip install 'cellsense[docs]'" >&2; exit 2; }
rm -rf "$OUT/src" "$OUT/html" "$OUT/doctrees"  # a whole build every time: a stale environment hides warnings
cp -r "$ROOT/docs/api" "$OUT/src"
# run from outside the checkout: python/cellsense (without the compiled _core) must not shadow the installed package
cd "$OUT"
"$PY" -m sphinx -W --keep-going -q -b html -d "$OUT/doctrees" "$OUT/src" "$OUT/html"
echo "build_api_docs: $OUT/html/index.html ($(find "$OUT/html" -name '*.html' | wc -l) pages)"
