"""Estimators: the Python face of the core's estimators (ECM, SPMe, SOH, power). ``make_estimator(cell, ...)`` is
the one factory: it builds the class the one rule picks for a cell (``estimators.base.estimator_class``;
``Estimator`` for an ECM cell, ``SpmeEstimator`` for an SPMe cell). ``Estimator(spme_cell)`` still gives an
SpmeEstimator, deprecated."""
from __future__ import annotations

from .base import EstimatorBase, RunResult, StepResult, estimator_class, make_estimator
from .ecm import Estimator
from .settings import EstimatorSettings, NoiseSettings
from .spme import SpmeEstimator, SpmeNoise, SpmeRunResult  # registers the SPMe class (estimator_class)

__all__ = ["Estimator", "EstimatorBase", "EstimatorSettings", "NoiseSettings", "RunResult", "SpmeEstimator",
           "SpmeNoise", "SpmeRunResult", "StepResult", "estimator_class", "make_estimator"]
