"""Estimators: the Python face of the core's estimators (ECM, SPMe, SOH, power). One rule picks the class
for a cell (``estimators.base.estimator_class``; ``make_estimator`` and ``Estimator(cell)`` both use it)."""
from __future__ import annotations

from .base import EstimatorBase, RunResult, StepResult, estimator_class, make_estimator
from .ecm import Estimator
from .settings import EstimatorSettings, NoiseSettings
from .spme import SpmeEstimator, SpmeNoise, SpmeRunResult  # registers the SPMe class (estimator_class)

__all__ = ["Estimator", "EstimatorBase", "EstimatorSettings", "NoiseSettings", "RunResult", "SpmeEstimator",
           "SpmeNoise", "SpmeRunResult", "StepResult", "estimator_class", "make_estimator"]
