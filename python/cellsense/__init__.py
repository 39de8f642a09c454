"""cellsense: battery state estimation (SOC with honest uncertainty) over a heap-free C++17 core.

    >>> import cellsense
    >>> est = cellsense.Estimator("chen2020", filter="ukf")
    >>> res = est.run(time_s, current_A, voltage_V, temperature_degC)   # numpy arrays in and out

Heavy optional dependencies (pybamm, filterpy, matplotlib) are imported only where used.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .cell import Cell, CellFileError, bundled_cells, load_cell
from .estimate import EstimateResult, estimate
from .estimator import Estimator, EstimatorSettings, NoiseSettings, RunResult, StepResult
from .logs import CellLog, LogFormatError, read_cell_log, write_cell_log
from .metrics import SocMetrics, soc_metrics

__all__ = [
    "Cell", "CellFileError", "CellLog", "EstimateResult", "Estimator", "EstimatorSettings", "LogFormatError",
    "NoiseSettings", "RunResult", "SocMetrics", "StepResult", "bundled_cells", "estimate", "load_cell",
    "read_cell_log", "soc_metrics", "write_cell_log",
]
