"""Cells: what a cell is, read from a cell file (ECM tables or an SPMe parameter set), and the NumPy
reference of the ECM's equations (held to the core by tests/python/cells/test_ecm_reference.py).

Imports only the foundations (``cellsense.status``, ``cellsense._io``); never the compiled core, PyBaMM or
anything above it in docs/architecture.md.
"""
from __future__ import annotations
