"""Evaluate: run estimators over logs and score them (metrics, the estimate command, validation against
PyBaMM truth, real-cell runs, benchmarks)."""
from __future__ import annotations
