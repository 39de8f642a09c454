"""cellsense: battery state estimation (SOC with honest uncertainty) over a heap-free C++17 core.

    >>> import cellsense
    >>> est = cellsense.make_estimator("chen2020", filter="ukf")   # the estimator for the cell file (ECM or SPMe)
    >>> res = est.run(time_s, current_A, voltage_V, temperature_degC)   # numpy arrays in and out

Heavy optional dependencies (pybamm, filterpy, matplotlib) are imported only where used.

Every public submodule is an attribute of the package, imported on first use (PEP 562), so
``import cellsense`` stays fast and imports no PyBaMM:

    >>> cellsense.truth.simulate.simulate(protocol="udds")     # PyBaMM truth (pip install 'cellsense[sim]')
    >>> cellsense.fit.fit("ocv.csv", ["hppc_25C.csv"]); cellsense.pack.load_pack("pack.json")

(``cellsense.estimate`` is the function, as before; its module is ``cellsense.evaluate.estimate``.) The package's
layout and the modules of the former flat package (``MOVED``) are in docs/architecture.md.
"""
from __future__ import annotations

import types as _types

__version__ = "0.1.0"

from .cells.ecm import Cell
from .cells.files import CellFileError, bundled_cells
from .cells.load import load_cell
from .evaluate.estimate import EstimateResult, estimate
from .estimators import Estimator, EstimatorSettings, NoiseSettings, RunResult, StepResult, make_estimator
from .io.logs import CellLog, LogFormatError, read_cell_log, write_cell_log
from .evaluate.metrics import SocMetrics, soc_metrics

__all__ = [
    "Cell", "CellFileError", "CellLog", "EstimateResult", "Estimator", "EstimatorSettings", "LogFormatError",
    "NoiseSettings", "RunResult", "SocMetrics", "StepResult", "bundled_cells", "estimate", "load_cell",
    "make_estimator", "read_cell_log", "soc_metrics", "write_cell_log",
]

#: the subpackages, along the data flow (docs/architecture.md)
SUBPACKAGES = ("cells", "io", "truth", "estimators", "pack", "fit", "evaluate", "replay", "mcu", "cli")

#: the modules of the flat package before issue #13, each still reachable as `cellsense.<name>` (PEP 562
#: __getattr__, imported on first use): the module that holds it now, or, for a module split in several, those
#: modules in order (`cellsense.spme.derive_from_pybamm` finds fit.from_pybamm's). Import paths are the new ones.
MOVED = {"bench": "evaluate.bench", "cell": ("cells.ecm", "cells.files", "cells.load", "cells.ecm_reference"),
         "cli": "cli", "convert": "io.convert", "demo": "cli.demo",
         "estimator": ("estimators.ecm", "estimators.settings", "estimators.base"), "export_c": "mcu.export_c",
         "fit": "fit", "logs": "io.logs", "mcu": "mcu", "metrics": "evaluate.metrics", "pack": "pack",
         "power": "estimators.power", "realcells": "evaluate.realcells", "realdata": "io.realdata",
         "reference": ("cells.ecm_reference", "evaluate.filterpy_peer"), "replay": "replay", "sensor": "truth.sensor",
         "simulate": ("truth.simulate", "truth.aging", "truth.cache", "truth.schedules", "truth.solver", "truth.result",
                      "io.logs"),
         "soh": "estimators.soh",
         "spme": ("cells.spme", "cells.load", "cells.spme_reference", "estimators.spme", "fit.from_pybamm", "truth.plating"),
         "stackbound": "mcu.stackbound", "status": "status",
         "validate": ("evaluate.validate", "evaluate.scenarios", "evaluate.report")}

#: public submodules reachable as `cellsense.<name>` without importing them first
SUBMODULES = tuple(sorted(set(SUBPACKAGES) | set(MOVED)))


class _Former(_types.ModuleType):
    """A module of the flat package that was split: its names, looked up in the modules that hold them now."""

    def __init__(self, name: str, homes: tuple[str, ...]):
        super().__init__(f"{__name__}.{name}", f"Former cellsense.{name}: its names now live in "
                         + ", ".join(f"cellsense.{h}" for h in homes) + " (docs/architecture.md).")
        self._homes = homes

    def __getattr__(self, attr: str):
        import importlib

        for home in self._homes:
            module = importlib.import_module(f"{__name__}.{home}")
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"{self.__name__} has no attribute {attr!r} (it was split into {', '.join(self._homes)})")


def __getattr__(name: str):
    if name in SUBMODULES:
        import importlib

        home = MOVED.get(name, name)
        module = _Former(name, home) if isinstance(home, tuple) else importlib.import_module(f"{__name__}.{home}")
        globals()[name] = module  # bound under its former name too (the import system binds the new)
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))
