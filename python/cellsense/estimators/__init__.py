"""Estimators: the Python face of the core's estimators (ECM, SPMe, SOH, power). One rule picks the class
for a cell (``estimators.base.estimator_class``; ``make_estimator`` and ``Estimator(cell)`` both use it)."""
from __future__ import annotations
