"""cellsense: battery state estimation (SOC with honest uncertainty) over a heap-free C++17 core.

    >>> import cellsense
    >>> est = cellsense.Estimator("chen2020", filter="ukf")
    >>> res = est.run(time_s, current_A, voltage_V, temperature_degC)   # numpy arrays in and out

Heavy optional dependencies (pybamm, filterpy, matplotlib) are imported only where used.

Every public submodule is an attribute of the package, imported on first use (PEP 562), so
``import cellsense`` stays fast and imports no PyBaMM:

    >>> cellsense.truth.simulate.simulate(protocol="udds")     # PyBaMM truth (pip install 'cellsense[sim]')
    >>> cellsense.fit.fit("ocv.csv", ["hppc_25C.csv"]); cellsense.pack.load_pack("pack.json")

(``cellsense.estimate`` is the function, as before; its module is ``cellsense.estimate`` in sys.modules.)
"""
from __future__ import annotations

__version__ = "0.1.0"

from .cells.ecm import Cell
from .cells.files import CellFileError, bundled_cells
from .cells.load import load_cell
from .evaluate.estimate import EstimateResult, estimate
from .estimators import Estimator, EstimatorSettings, NoiseSettings, RunResult, StepResult
from .io.logs import CellLog, LogFormatError, read_cell_log, write_cell_log
from .evaluate.metrics import SocMetrics, soc_metrics

__all__ = [
    "Cell", "CellFileError", "CellLog", "EstimateResult", "Estimator", "EstimatorSettings", "LogFormatError",
    "NoiseSettings", "RunResult", "SocMetrics", "StepResult", "bundled_cells", "estimate", "load_cell",
    "read_cell_log", "soc_metrics", "write_cell_log",
]

#: the subpackages, along the data flow (docs/architecture.md)
SUBPACKAGES = ("cells", "io", "truth", "estimators", "pack", "fit", "evaluate", "replay", "mcu", "cli")

#: the modules of the flat package before issue #13, each still reachable as `cellsense.<name>` (PEP 562
#: __getattr__, imported on first use) and naming the module that holds it now
MOVED = {"bench": "evaluate.bench", "cell": "cells.ecm", "cli": "cli", "convert": "io.convert", "demo": "cli.demo",
         "estimator": "estimators.ecm", "export_c": "mcu.export_c", "fit": "fit", "logs": "io.logs", "mcu": "mcu",
         "metrics": "evaluate.metrics", "pack": "pack", "power": "estimators.power", "realcells": "evaluate.realcells",
         "realdata": "io.realdata", "reference": "cells.ecm_reference", "replay": "replay", "sensor": "truth.sensor",
         "simulate": "truth.simulate", "soh": "estimators.soh", "spme": "cells.spme", "stackbound": "mcu.stackbound",
         "status": "status", "validate": "evaluate.validate"}

#: public submodules reachable as `cellsense.<name>` without importing them first
SUBMODULES = tuple(sorted(set(SUBPACKAGES) | set(MOVED)))


def __getattr__(name: str):
    if name in SUBMODULES:
        import importlib

        module = importlib.import_module(f"{__name__}.{MOVED.get(name, name)}")
        globals()[name] = module  # a moved module is bound under its former name too (the import system binds the new)
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))
