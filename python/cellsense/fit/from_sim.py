"""An ECM cell file for a PyBaMM parameter set, fitted from simulated characterisation tests: the C/20 OCV test
and the HPPC of ``cellsense simulate`` at one temperature, through `cellsense.fit.fit` with its defaults (2 RC
pairs). What a newcomer's `cellsense demo --pybamm-set SET` runs when no cell file is given: the bundled
chen2020.json describes Chen2020 only, and estimating another set's truth with it reports the model mismatch
(16 % SOC RMSE on Marquis2019's US06), not the filters.

The fitted file is cached beside the truths (``$CELLSENSE_CACHE`` or ``~/.cache/cellsense/sim``), keyed by the
set, the temperature, the physics, the PyBaMM version and `FIT_CACHE_FORMAT`; the two test logs
themselves are cached as truths by `simulate`."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .._io import require, write_atomically
from ..truth.cache import default_cache_dir
from ..truth.simulate import simulate
from .build import fit

#: bump when the fitted file for the same inputs would change (the fit's defaults, the test protocols)
FIT_CACHE_FORMAT = 2  # 2: the fit holds the DC resistance to the C/20 test (fit.hppc.cap_dc_resistance)


def _key(parameter_set: str, temperature_degC: float, physics: str) -> str:
    pybamm = require("pybamm", "fitting a cell to a PyBaMM parameter set's simulated tests", "cellsense demo")
    obj = {"format": FIT_CACHE_FORMAT, "set": parameter_set, "temperature [degC]": float(temperature_degC),
           "physics": physics, "pybamm": pybamm.__version__}
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:32]


def fitted_cell_path(parameter_set: str, temperature_degC: float = 25.0, physics: str = "DFN", cache_dir=None,
                     fresh: bool = False, progress=None) -> Path:
    """Path of the ECM cell file fitted to `parameter_set`'s simulated OCV test and HPPC at `temperature_degC`
    (`physics`: the PyBaMM model that solves them); fitted (and cached) on the first call, read from the cache
    after. ``fresh`` refits and re-solves the tests. ``progress``: a callable taking one line."""
    say = progress or (lambda line: None)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"fitted-{parameter_set}-{temperature_degC:g}C-{physics}-{_key(parameter_set, temperature_degC, physics)}.json"
    if path.exists() and not fresh:
        say(f"fit: cell file for {parameter_set} from the cache: {path}")
        return path
    say(f"fit: no cell file for PyBaMM {parameter_set} yet: simulating its C/20 OCV test and HPPC at "
        f"{temperature_degC:g} degC ({physics}), then fitting a 2-RC ECM (cellsense fit); cached for later runs")
    logs = {}
    for protocol in ("ocv", "hppc"):
        logs[protocol] = simulate(cell=parameter_set, protocol=protocol, temperature_degC=temperature_degC,
                                  model=physics, cache_dir=cache_dir, progress=progress, fresh=fresh)
    cell = fit(logs["ocv"], [logs["hppc"]], rc_pairs=2, name=f"{parameter_set.lower()}_fitted",
               description=(f"ECM with 2 RC pairs fitted by cellsense (fit.from_sim) to the C/20 OCV test and the HPPC "
                            f"of PyBaMM's {parameter_set} parameter set ({physics}, lumped thermal where the set has its "
                            f"parameters) at {temperature_degC:g} degC, simulated by cellsense simulate"))
    for name, res in cell["fit residuals"].items():
        say(f"fit: {name}: open-loop voltage RMSE {res['voltage RMSE [mV]']:.1f} mV")
    text = json.dumps(cell, indent=1) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda fh: fh.write(text))
    return path
