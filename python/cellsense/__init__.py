"""cellsense: battery state estimation (SOC with honest uncertainty) over a heap-free C++17 core.

    >>> import cellsense
    >>> est = cellsense.Estimator("chen2020", filter="ukf")
    >>> res = est.run(time_s, current_A, voltage_V, temperature_degC)   # numpy arrays in and out

Heavy optional dependencies (pybamm, filterpy, matplotlib) are imported only where used.

Every public submodule is an attribute of the package, imported on first use (PEP 562), so
``import cellsense`` stays fast and imports no PyBaMM:

    >>> cellsense.simulate.simulate(protocol="udds")     # PyBaMM truth (pip install 'cellsense[sim]')
    >>> cellsense.fit.fit("ocv.csv", ["hppc_25C.csv"]); cellsense.pack.load_pack("pack.json")

(``cellsense.estimate`` is the function, as before; its module is ``cellsense.estimate`` in sys.modules.)
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

#: public submodules reachable as `cellsense.<name>` without importing them first (PEP 562 __getattr__)
SUBMODULES = ("bench", "cell", "cli", "convert", "demo", "estimator", "export_c", "fit", "logs", "mcu", "metrics",
              "pack", "power", "realcells", "realdata", "reference", "replay", "sensor", "simulate", "soh", "spme", "stackbound",
              "status", "validate")


def __getattr__(name: str):
    if name in SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")  # the import system also binds it as an attribute
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))
