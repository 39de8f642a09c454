"""Issue #14, what a newcomer hits first: a missing optional dependency is one line naming the extra (exit 2,
no traceback; MissingExtraError from the Python API), `pip install 'cellsense[all]'` exists, every public
module is an attribute of `cellsense` without importing PyBaMM, and a long `simulate` says what it is doing.
No test here runs a real PyBaMM solve."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cellsense._io import EXTRA_OF_MODULE, MODULES_OF_EXTRA, MissingExtraError, missing_extra_message
from cellsense.cli import main

ROOT = Path(__file__).resolve().parents[3]


def _hide(monkeypatch, *names):
    """Make `import name` fail as if the package were not installed (sys.modules[name] = None)."""
    for n in names:
        for m in [m for m in sys.modules if m == n or m.startswith(n + ".")]:
            monkeypatch.delitem(sys.modules, m)
        monkeypatch.setitem(sys.modules, n, None)


def _one_line_no_traceback(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------------------------------------------------
# 1. optional dependencies
# ---------------------------------------------------------------------------------------------------------
def test_extras_in_pyproject_match_the_module_table():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    runtime = set(MODULES_OF_EXTRA)
    assert runtime <= set(extras), set(extras)
    name = lambda req: req.split(">")[0].split("=")[0].split("[")[0].strip().lower()  # noqa: E731
    union = {name(r) for e in runtime for r in extras[e]}
    assert {name(r) for r in extras["all"]} == union  # all = every optional runtime extra, nothing more
    assert union <= {name(r) for r in extras["test"]}  # scripts/setup.sh installs .[test]: it has everything
    pypi = {"pybamm": "pybamm", "scipy": "scipy", "matplotlib": "matplotlib", "dask": "dask", "can": "python-can",
            "cantools": "cantools", "serial": "pyserial", "filterpy": "filterpy", "sphinx": "sphinx"}
    for extra, modules in MODULES_OF_EXTRA.items():  # the table the error messages use agrees with pyproject
        assert {pypi[m] for m in modules} == {name(r) for r in extras[extra]}, extra
    for module, extra in EXTRA_OF_MODULE.items():
        assert module in MODULES_OF_EXTRA[extra]


def test_message_names_the_commands_extra():
    assert missing_extra_message("x", "scipy.optimize", "fit").endswith("pip install 'cellsense[fit]'")
    assert missing_extra_message("x", "scipy", "validate").endswith("pip install 'cellsense[sim]'")
    assert "PyBaMM" in missing_extra_message("x", "pybamm", "simulate")
    assert "python-can" in missing_extra_message("x", "can", None)
    assert missing_extra_message("x", "numpy", "fit") is None  # not optional: a real bug, not a setup problem


def test_simulate_cli_without_pybamm(monkeypatch, capsys, tmp_path):
    _hide(monkeypatch, "pybamm")
    rc = main(["simulate", "--protocol", "cc", "--out", str(tmp_path / "x.csv")])
    line = _one_line_no_traceback(capsys.readouterr().err)
    assert rc == 2
    assert line.startswith("cellsense simulate: error:") and "PyBaMM" in line and "pip install 'cellsense[sim]'" in line
    assert not (tmp_path / "x.csv").exists()


def test_demo_cli_without_pybamm(monkeypatch, capsys, tmp_path):
    """The default demo runs on the truths shipped with the package (no PyBaMM needed); a run that has to
    solve (--fresh, or a request nothing ships for) without PyBaMM is one line and exit 2."""
    _hide(monkeypatch, "pybamm")
    monkeypatch.setenv("CELLSENSE_CACHE", str(tmp_path))
    for argv in (["demo", "--protocol", "udds", "--fresh"], ["demo", "--protocol", "hwfet"],
                 ["demo", "--protocol", "udds", "--resolve"]):
        rc = main(argv)
        line = _one_line_no_traceback(capsys.readouterr().err)
        assert rc == 2 and "cellsense[sim]" in line and "PyBaMM" in line, argv
    assert main(["demo", "--protocol", "udds"]) == 0
    cap = capsys.readouterr()
    assert "shipped PyBaMM truth (chen2020_dfn_udds_25degC.csv.gz: PyBaMM " in cap.err
    assert "udds     EKF       17256" in cap.out and "udds     UKF       17256" in cap.out
    assert "pybamm" not in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}


def test_simulate_api_without_pybamm(monkeypatch):
    _hide(monkeypatch, "pybamm")
    from cellsense.truth.aging import simulate_aging
    from cellsense.truth.simulate import simulate

    for fn in (lambda: simulate(protocol="cc"), simulate_aging):  # simulate() alone: the shipped UDDS truth
        with pytest.raises(MissingExtraError, match=r"needs PyBaMM .*pip install 'cellsense\[sim\]'") as ei:
            fn()
        assert isinstance(ei.value, ModuleNotFoundError) and isinstance(ei.value, ImportError)
        assert ei.value.name == "pybamm"


def test_bench_without_filterpy(monkeypatch, capsys):
    _hide(monkeypatch, "filterpy")
    rc = main(["bench", "--duration-s", "60", "--peer-steps", "10"])
    line = _one_line_no_traceback(capsys.readouterr().err)
    assert rc == 2 and "filterpy" in line and "pip install 'cellsense[bench]'" in line
    from cellsense.evaluate.bench import bench

    with pytest.raises(MissingExtraError, match=r"cellsense\[bench\]"):
        bench(duration_s=60, peer_steps=10)


@pytest.mark.parametrize("command,module,func,extra", [("fit", "scipy", "cellsense.fit.cli:_cli_fit", "fit"),
                                                        ("validate", "dask", "cellsense.evaluate.validate:_main", "cluster"),
                                                        ("validate", "scipy", "cellsense.evaluate.validate:_main", "sim")])
def test_any_command_missing_an_optional_module(monkeypatch, capsys, command, module, func, extra):
    """Whatever verb reaches an optional import (here simulated in its CLI function) reports one line, exit 2."""
    import importlib

    modname, attr = func.split(":")
    mod = importlib.import_module(modname)
    _hide(monkeypatch, module)

    def needs_it(_args):
        importlib.import_module(module)

    monkeypatch.setattr(mod, attr, needs_it)
    argv = {"fit": ["fit", "--ocv", "o.csv", "--out", "x.json"], "validate": ["validate"]}[command]
    rc = main(argv)
    line = _one_line_no_traceback(capsys.readouterr().err)
    assert rc == 2 and f"pip install 'cellsense[{extra}]'" in line, line


def test_console_script_without_pybamm_is_one_line(tmp_path):
    """The real entry point in a fresh interpreter: one stderr line, exit 2, no traceback."""
    code = ("import sys; sys.modules['pybamm'] = None; from cellsense.cli import main; "
            f"sys.exit(main(['simulate', '--out', {str(tmp_path / 'x.csv')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    line = _one_line_no_traceback(r.stderr)
    assert "cellsense[sim]" in line


def test_validate_without_pybamm_is_a_setup_error_not_a_missed_bar(monkeypatch, capsys, tmp_path):
    """validate scores a scenario that cannot run as failed (exit 1 = "a bar missed"); a missing PyBaMM is
    caught before it runs: exit 2 with the install hint, no report written."""
    _hide(monkeypatch, "pybamm")
    rc = main(["validate", "--quick", "--no-real-cells", "--no-plots", "--workers", "1", "--out", str(tmp_path / "r")])
    line = _one_line_no_traceback(capsys.readouterr().err)
    assert rc == 2 and line == "cellsense validate: error: needs PyBaMM (not installed): pip install 'cellsense[sim]'"
    assert not (tmp_path / "r").exists()


def test_bench_mcu_does_not_need_filterpy(monkeypatch, capsys):
    _hide(monkeypatch, "filterpy")
    import cellsense.mcu.firmware as mcu

    monkeypatch.setattr(mcu, "bench_mcu", lambda out=None: {"fake": True})
    monkeypatch.setattr(mcu, "format_mcu", lambda rep: "mcu report")
    assert main(["bench", "--mcu"]) == 0
    assert "mcu report" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------
# 2. every public module is an attribute of `cellsense`; `import cellsense` imports no PyBaMM
# ---------------------------------------------------------------------------------------------------------
def test_public_submodules_are_attributes_and_import_cellsense_is_light():
    code = r"""
import sys, types
import cellsense
light = {m: m in sys.modules for m in ("pybamm", "scipy", "matplotlib", "filterpy", "can", "dask")}
for name in ("simulate", "fit", "pack"):
    assert isinstance(getattr(cellsense, name), types.ModuleType), name
assert callable(cellsense.simulate.simulate) and callable(cellsense.fit.fit) and callable(cellsense.pack.load_pack)
for name in cellsense.SUBMODULES:
    assert isinstance(getattr(cellsense, name), types.ModuleType), name
    assert name in dir(cellsense), name
assert callable(cellsense.estimate) and cellsense.Estimator and cellsense.load_cell  # the existing top level
try:
    cellsense.no_such_thing
except AttributeError as e:
    assert "no_such_thing" in str(e)
else:
    raise AssertionError("AttributeError expected")
print(light, "pybamm" in sys.modules)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # nothing heavy after `import cellsense`, and none of the submodules imports PyBaMM at import time either
    assert r.stdout.split() == ["{'pybamm':", "False,", "'scipy':", "False,", "'matplotlib':", "False,",
                                "'filterpy':", "False,", "'can':", "False,", "'dask':", "False}", "False"], r.stdout


def test_every_public_module_file_is_listed():
    import cellsense

    import importlib

    files = {p.stem for p in Path(cellsense.__file__).parent.glob("*.py") if not p.stem.startswith("_")}
    files |= {p.name for p in Path(cellsense.__file__).parent.iterdir() if (p / "__init__.py").exists()}
    assert files == set(cellsense.SUBPACKAGES) | {"status"}  # issue #13: the subpackages and the status codes
    assert set(cellsense.SUBMODULES) == files | set(cellsense.MOVED)
    for old, new in cellsense.MOVED.items():  # every module of the flat package still resolves, to where it went
        if isinstance(new, tuple):  # split: a view that finds each name in the modules that hold it now
            assert getattr(cellsense, old).__name__ == f"cellsense.{old}" and all(
                importlib.import_module(f"cellsense.{home}") for home in new), old
        else:
            assert getattr(cellsense, old) is importlib.import_module(f"cellsense.{new}"), old
    # names of split modules, as `cellsense.<former>.<name>` (the docs' attribute style)
    assert cellsense.spme.derive_from_pybamm is importlib.import_module("cellsense.fit.from_pybamm").derive_from_pybamm
    assert cellsense.spme.SpmeEstimator is importlib.import_module("cellsense.estimators.spme").SpmeEstimator
    assert cellsense.simulate.simulate_aging is importlib.import_module("cellsense.truth.aging").simulate_aging
    assert cellsense.simulate.read_log is cellsense.io.logs.read_log
    assert cellsense.estimator.resolve_model_error is importlib.import_module("cellsense.estimators.settings").resolve_model_error
    assert cellsense.cell.resolve_cell_path is cellsense.cells.files.resolve_cell_path
    assert cellsense.reference.filterpy_run is importlib.import_module("cellsense.evaluate.filterpy_peer").filterpy_run
    with pytest.raises(AttributeError, match="split into"):
        cellsense.spme.no_such_name


# ---------------------------------------------------------------------------------------------------------
# 4. docs/fitting.md figures that can drift from models/chen2020.json
# ---------------------------------------------------------------------------------------------------------
def test_fitting_md_residual_table_and_capacity_match_the_bundled_cell():
    import json
    import re

    cell = json.loads((ROOT / "models" / "chen2020.json").read_text())
    text = (ROOT / "docs" / "fitting.md").read_text()
    names = {"HPPC 0 degC": "chen2020_hppc_0degC.csv", "HPPC 25 degC": "chen2020_hppc_25degC.csv",
             "HPPC 40 degC": "chen2020_hppc_40degC.csv", "OCV C/20, 25 degC": "chen2020_ocv_25degC.csv"}
    for label, file in names.items():
        m = re.search(rf"^\| {re.escape(label)} \| ([\d.]+) \| (\d+) \|$", text, re.M)
        assert m, label
        r = cell["fit residuals"][file]
        assert float(m.group(1)) == round(r["voltage RMSE [mV]"], 2), label
        assert int(m.group(2)) == round(r["max abs error [mV]"]), label
    q = float(cell["parameters"]["Nominal cell capacity [A.h]"])
    assert f"{q:.4f} Ah" in text
    assert "soc_true" in cell["provenance"]["Nominal cell capacity [A.h]"]  # case 2 of "Capacity"
    assert "`soc_true` is never used" not in text


# ---------------------------------------------------------------------------------------------------------
# 3. progress on long runs (the PyBaMM solve is replaced by a stub: no real solve in these tests)
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def fake_pybamm(monkeypatch):
    """cellsense.simulate without PyBaMM: the solver, the parameter-set look-up and Q_ref are stubs."""
    import numpy as np

    import cellsense.truth.simulate as sim
    import cellsense.truth.solver as solver

    calls = []

    def fake_solve(cell, model_name, T_degC, soc0, sched, quiet=True):
        calls.append((cell, model_name, T_degC))
        n = 50
        t = np.arange(n, dtype=float)
        i = np.r_[0.0, np.full(n - 1, 5.0)]
        q = np.r_[0.0, np.cumsum(i[1:]) / 3600.0]
        return dict(time_s=t, current_A=i, voltage_V=4.1 - 0.01 * q, temperature_degC=np.full(n, T_degC),
                    discharge_Ah=q, termination="final time", solve_s=0.25, q_nom=5.0, pybamm_version="stub")

    monkeypatch.setattr(sim, "require", lambda *a, **k: None)
    monkeypatch.setattr(sim, "_cell_info", lambda cell: (5.0, 2.5, 4.2, "stub"))
    monkeypatch.setattr(solver, "reference_capacity", lambda cell: (5.153, "stub"))  # Q_ref of soc_true
    monkeypatch.setattr(sim, "_pybamm_solve", fake_solve)
    return calls


def test_simulate_cli_prints_start_cache_and_solve_lines(fake_pybamm, capsys, tmp_path):
    argv = ["simulate", "--protocol", "udds", "--repeats", "2", "--out", str(tmp_path / "u.csv"),  # not shipped
            "--cache-dir", str(tmp_path / "c")]
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(fake_pybamm) == 1 and len(err) == 2, err
    assert err[0].startswith("cellsense simulate: Chen2020 DFN (lumped thermal), udds at 25 degC: truth cache miss")
    assert "typically 4.3 min on 2 cores" in err[0] and "SPMe is ~10x faster" in err[0] and "--physics spme" in err[0]
    assert err[1].startswith("cellsense simulate: Chen2020 DFN (lumped thermal), udds at 25 degC: solved in 0.2 s")
    assert main(argv) == 0  # the cached truth: a start line naming the run and the cache hit, no solve
    out = capsys.readouterr()
    err = out.err.splitlines()
    assert len(fake_pybamm) == 1 and len(err) == 1, err
    assert err[0].startswith("cellsense simulate: Chen2020 DFN (lumped thermal), udds at 25 degC: truth cache hit (")
    assert "(cache)" in out.out  # the stdout summary is unchanged


def test_simulate_api_quiet_by_default_progress_on_request(fake_pybamm, capsys, tmp_path):
    from cellsense.truth.simulate import simulate

    simulate(protocol="cc", model="SPMe", temperature_degC=10, cache_dir=tmp_path)
    assert capsys.readouterr().err == ""  # quiet=True (default): nothing
    simulate(protocol="cc", model="SPMe", temperature_degC=10, cache_dir=tmp_path, quiet=False)
    assert "SPMe (lumped thermal), cc at 10 degC: truth cache hit" in capsys.readouterr().err
    lines = []
    simulate(protocol="cc", model="DFN", temperature_degC=10, cache_dir=tmp_path, use_cache=False, progress=lines.append)
    assert len(lines) == 2 and "truth cache off" in lines[0] and "for Chen2020 at 25 degC" in lines[0]
    assert "longer when cold" in lines[0] and "SPMe is" not in lines[0]  # cc: no point advertising the SPMe
    assert capsys.readouterr().err == ""


def test_demo_progress_on_stderr_and_quiet(fake_pybamm, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CELLSENSE_CACHE", str(tmp_path))
    from cellsense.cli.demo import demo

    demo(protocols=("us06",), filters=("ekf",), fresh=True)
    cap = capsys.readouterr()
    assert "us06 at 25 degC: fresh solve requested (--fresh)" in cap.err and "cellsense demo: simulated" in cap.err
    assert len(fake_pybamm) == 1 and cap.out == ""
    demo(protocols=("us06",), filters=("ekf",), quiet=True)
    assert capsys.readouterr().err == "" and len(fake_pybamm) == 1  # the shipped truth: no solve
    demo(protocols=("hwfet",), filters=("ekf",))
    assert "hwfet at 25 degC: truth cache miss" in capsys.readouterr().err and len(fake_pybamm) == 2


# ---------------------------------------------------------------------------------------------------------
# 4. the main job in seconds: the demo's DFN truths ship with the package, with their provenance
# ---------------------------------------------------------------------------------------------------------
def test_shipped_truths_have_their_provenance():
    import gzip
    import hashlib

    from cellsense.truth.cache import TRUTH_COLUMNS, shipped_truths

    recs = shipped_truths()
    assert {(r["parameter set"], r["model"], r["key"]["settings"]["protocol"], r["key"]["temperature [degC]"])
            for r in recs} == {("Chen2020", "DFN", "udds", 25.0), ("Chen2020", "DFN", "us06", 25.0)}
    total = 0
    for r in recs:
        raw = r["_data"].read_bytes()
        total += len(raw)
        assert hashlib.sha256(raw).hexdigest() == r["data sha256"]
        assert r["pybamm version"] and r["pybamm version"] == r["key"]["pybamm"] == r["meta"]["pybamm version"]
        assert r["solver"]["name"] == "IDAKLUSolver" and r["solver"]["rtol"] == 1e-5 and r["solver"]["atol"] == 1e-7
        assert r["regenerate"] == "python scripts/make_demo_truths.py --fresh"
        assert (ROOT / "scripts" / "make_demo_truths.py").exists()
        assert r["meta"]["termination"].startswith("event: Minimum voltage") or "Minimum voltage" in r["meta"]["termination"]
        lines = gzip.decompress(raw).decode().splitlines()
        assert lines[0] == ",".join(TRUTH_COLUMNS) and len(lines) - 1 > 10000
    assert total < 3_000_000  # a few MB at most in the package


def test_simulate_uses_the_shipped_truth_without_pybamm(monkeypatch, tmp_path):
    import numpy as np

    _hide(monkeypatch, "pybamm")
    from cellsense.truth.simulate import simulate

    lines = []
    r = simulate(protocol="us06", cache_dir=tmp_path, progress=lines.append)
    assert r.meta["cache"]["shipped"].endswith("chen2020_dfn_us06_25degC.csv.gz") and not r.meta["cache"]["hit"]
    assert len(lines) == 1 and "shipped PyBaMM truth" in lines[0] and "--fresh re-solves it" in lines[0]
    assert len(r) == 11856 and r.soc_true[0] == 1.0 and np.all(np.diff(r.time_s) > 0)
    # soc_true on Q_ref (the stored reference capacity): coulomb counting reproduces it
    q = r.meta["reference capacity [A.h]"]
    cc = 1.0 - np.r_[0.0, np.cumsum(r.current_A[1:] * np.diff(r.time_s))] / 3600.0 / q
    assert np.max(np.abs(cc - r.soc_true)) < 1e-3
    assert list(tmp_path.iterdir()) == []  # nothing written to the cache
    with pytest.raises(MissingExtraError):  # any other setting is not shipped: it must be solved
        simulate(protocol="us06", peak_c_rate=2.0, cache_dir=tmp_path)
    with pytest.raises(MissingExtraError):
        simulate(protocol="us06", cache_dir=tmp_path, fresh=True)


def test_simulate_cli_fresh_and_shipped(fake_pybamm, capsys, tmp_path):
    argv = ["simulate", "--protocol", "udds", "--out", str(tmp_path / "u.csv"), "--cache-dir", str(tmp_path / "c")]
    assert main(argv) == 0 and fake_pybamm == []
    out = capsys.readouterr().out
    assert "(shipped truth)" in out and "17256 rows" in out
    assert main(argv + ["--fresh"]) == 0 and len(fake_pybamm) == 1
    assert "fresh solve requested" in capsys.readouterr().err


def test_demo_and_setup_scripts(monkeypatch, capsys):
    """scripts/demo.sh installs only what the demo needs (cellsense alone for the shipped truths, cellsense[sim]
    when `cellsense demo --needs-pybamm` says the run solves) and scripts/setup.sh skips pip when nothing changed."""
    demo = (ROOT / "scripts" / "demo.sh").read_text()
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert 'CELLSENSE_EXTRAS="" source "$ROOT/scripts/setup.sh"' in demo
    assert '[ "$(cellsense demo "$@" --needs-pybamm 2>/dev/null)" = "yes" ]; then' in demo
    assert 'CELLSENSE_EXTRAS=sim source "$ROOT/scripts/setup.sh"' in demo
    assert ".cellsense-installed" in setup and "CELLSENSE_REINSTALL" in setup
    assert 'EXTRAS="${CELLSENSE_EXTRAS-test}"' in setup  # set but empty = no extras (the demo's default)
    _hide(monkeypatch, "pybamm")  # the question is answered without PyBaMM
    for argv, needs in ((["demo"], False), (["demo", "--protocol", "us06"], False), (["demo", "--fresh"], True),
                        (["demo", "--protocol", "hwfet"], True), (["demo", "--temperature-degC", "10"], True),
                        (["demo", "--physics", "spme"], True), (["demo", "--pybamm-set", "OKane2022"], True)):
        assert main(argv + ["--needs-pybamm"]) == 0, argv
        assert capsys.readouterr().out == ("yes\n" if needs else "no\n"), argv
    for d in ("pyproject.toml", "CMakeLists.txt", "cmake", "cpp", "python", "models"):
        assert d in setup.split("find ", 1)[1].split("\n", 1)[0]


# ---------------------------------------------------------------------------------------------------------
# 5. one vocabulary: --cell (cell file / bundled name), --pybamm-set, --physics, --ecm-rc; old spellings
#    still work for one release, with one deprecation line on stderr
# ---------------------------------------------------------------------------------------------------------
def _parse(argv, capsys):
    from cellsense.cli import build_parser

    a = build_parser().parse_args(argv)
    return a, capsys.readouterr().err


@pytest.mark.parametrize("new,old,attr,value", [
    (["estimate", "--cell", "chen2020", "--data", "x.csv", "--out", "y.csv"],
     ["estimate", "--model", "chen2020", "--data", "x.csv", "--out", "y.csv"], "cell", "chen2020"),
    (["export-c", "--cell", "chen2020", "--out", "p.h"], ["export-c", "--model", "chen2020", "--out", "p.h"],
     "cell", "chen2020"),
    (["bench", "--cell", "nasa_b0005"], ["bench", "--model", "nasa_b0005"], "cell", "nasa_b0005"),
    (["validate", "--cell", "chen2020_spme"], ["validate", "--model", "chen2020_spme"], "cell", "chen2020_spme"),
    (["simulate", "--pybamm-set", "OKane2022", "--out", "s.csv"], ["simulate", "--cell", "OKane2022", "--out", "s.csv"],
     "pybamm_set", "OKane2022"),
    (["simulate", "--physics", "spme", "--out", "s.csv"], ["simulate", "--model", "SPMe", "--out", "s.csv"],
     "physics", "SPMe"),
    (["demo", "--physics", "spm"], ["demo", "--pybamm-model", "SPM"], "physics", "SPM"),
    (["fit", "--pybamm-set", "Chen2020", "--physics", "spme", "--out", "c.json"],
     ["fit", "--from-pybamm", "Chen2020", "--model", "spme", "--out", "c.json"], "pybamm_set", "Chen2020"),
    (["fit", "--ecm-rc", "3", "--out", "c.json"], ["fit", "--rc-pairs", "3", "--out", "c.json"], "rc_pairs", 3),
])
def test_new_and_old_spellings_mean_the_same(capsys, new, old, attr, value):
    a, err = _parse(new, capsys)
    assert getattr(a, attr) == value and err == ""
    b, err = _parse(old, capsys)
    assert getattr(b, attr) == value
    assert "Traceback" not in err
    lines = err.splitlines()  # one line per old option used
    assert len(lines) == sum(o.startswith("--") and o not in new for o in old), err
    for line in lines:
        assert line.startswith("cellsense: warning: ") and "is deprecated, use" in line and "next release" in line
    assert {k: v for k, v in vars(a).items() if k != "func"} == {k: v for k, v in vars(b).items() if k != "func"}


def test_fit_old_model_spme_and_ecm(capsys):
    a, _ = _parse(["fit", "--from-pybamm", "Chen2020", "--model", "spme", "--out", "c.json"], capsys)
    assert a.physics == "SPMe" and a.pybamm_set == "Chen2020"
    a, err = _parse(["fit", "--model", "ecm", "--ocv", "o.csv", "--hppc", "h.csv", "--out", "c.json"], capsys)
    assert a.physics is None and a.rc_pairs == 2 and "--model is deprecated" in err
    assert main(["fit", "--physics", "spme", "--out", "c.json"]) == 2  # SPMe needs --pybamm-set
    assert "--pybamm-set SET --physics spme" in capsys.readouterr().err


def test_demo_cell_options_old_and_new(capsys):
    from cellsense.cli.demo import _resolve_cell_options

    cases = [(["demo"], ("chen2020", "Chen2020"), False),
             (["demo", "--cell", "chen2020_spme", "--pybamm-set", "Chen2020"], ("chen2020_spme", "Chen2020"), False),
             (["demo", "--cell", "OKane2022", "--model", "okane2022_spme"], ("okane2022_spme", "OKane2022"), True),
             (["demo", "--cell", "Chen2020"], ("chen2020", "Chen2020"), True),  # the old meaning of --cell
             (["demo", "--model", "chen2020_spme"], ("chen2020_spme", "Chen2020"), True)]
    for argv, expected, warns in cases:
        a, err = _parse(argv, capsys)
        assert _resolve_cell_options(a) == expected, argv
        err += capsys.readouterr().err
        assert ("is deprecated" in err) == warns, (argv, err)
    a, _ = _parse(["demo", "--cell", "no_such_cell"], capsys)
    with pytest.raises(ValueError, match="no such cell file"):
        _resolve_cell_options(a)


def test_estimate_requires_a_cell(capsys, tmp_path):
    assert main(["estimate", "--data", "x.csv", "--out", str(tmp_path / "y.csv")]) == 2
    line = _one_line_no_traceback(capsys.readouterr().err)
    assert "--cell is required" in line


def test_docs_use_the_new_spellings():
    """README and docs show the current option names (the old ones only where a doc says they are deprecated)."""
    import re

    bad = re.compile(r"cellsense (estimate|export-c|bench|validate)[^\n`]*--model\b|cellsense simulate[^\n`]*--(cell|model)\b"
                     r"|--pybamm-model|--from-pybamm|--rc-pairs|cellsense fit[^\n`]*--model\b")
    skip = {"real-data.md",  # maintained with the real-data work
            "cli.md"}  # the table of deprecated spellings
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if p.name in skip:
            continue
        for n, line in enumerate(p.read_text().splitlines(), 1):
            if bad.search(line) and "deprecated" not in line:
                raise AssertionError(f"{p.name}:{n}: old option spelling: {line.strip()}")


# ---------------------------------------------------------------------------------------------------------
# 6. short reprs, documented units and exit codes, figures checked against the code
# ---------------------------------------------------------------------------------------------------------
def test_reprs_are_one_short_line(tmp_path):
    import numpy as np

    import cellsense
    from cellsense.cells.load import load_cell
    from cellsense.truth.result import SimResult

    cell, spme = load_cell("chen2020"), load_cell("chen2020_spme")
    t = np.arange(0.0, 1200.0)
    i = np.full_like(t, 2.0)
    v = cell.ocv(0.9 - np.cumsum(i) / 3600 / cell.capacity_Ah) - 0.02 * i
    soc = 0.9 - np.r_[0.0, np.cumsum(i[1:])] / 3600 / cell.capacity_Ah
    sim = SimResult(t, i, v, np.full_like(t, 25.0), soc, {"parameter set": "x", "model": "DFN", "protocol": "cc",
                                                           "temperature [degC]": 25.0, "big": list(range(10000))})
    sim.to_csv(tmp_path / "log.csv")
    er = cellsense.estimate("chen2020", tmp_path / "log.csv")
    for obj, start in ((cell, "Cell('chen2020', 2 RC pairs, "), (spme, "SpmeCell('chen2020_spme', SPMe, "),
                       (sim, "SimResult(x DFN cc, 1200 rows, "), (er, "EstimateResult(1200 samples, cell 'chen2020'"),
                       (er.result, "RunResult(1200 samples, SOC at the end ")):
        r = repr(obj)
        assert r.startswith(start) and "\n" not in r and len(r) < 200, r


def test_soc_metrics_are_fractions_as_documented():
    import numpy as np

    from cellsense.evaluate.metrics import soc_metrics

    t = np.arange(0.0, 3600.0)
    m = soc_metrics(t, np.full_like(t, 0.51), np.full_like(t, 0.002), np.full_like(t, 0.50))
    assert abs(m.rmse - 0.01) < 1e-12 and abs(m.max_abs_after - 0.01) < 1e-12 and m.outside_3sigma_after == 1.0
    text = (ROOT / "docs" / "metrics.md").read_text()
    assert "are **fractions**" in text and "**`counts()` is a method**" in text


def test_internal_error_is_not_a_result_code(monkeypatch, capsys):
    import cellsense.mcu.export_c as ec
    from cellsense.cli import EXIT_INTERNAL_ERROR

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ec, "load_cell", boom)
    assert main(["export-c", "--cell", "chen2020", "--out", "x.h"]) == EXIT_INTERNAL_ERROR == 70
    err = capsys.readouterr().err
    assert "RuntimeError: a bug" in err and "internal error (exit 70)" in err


def test_cli_md_exit_codes_match_the_code():
    from cellsense.replay import report

    text = (ROOT / "docs" / "cli.md").read_text()
    rows = {int(m.group(1)) for m in __import__("re").finditer(r"^\| (\d+) \|", text, __import__("re").M)}
    assert rows == {0, 1, 2, 3, 4, 70, 130}
    assert {report.EXIT_OK, report.EXIT_DIVERGED, report.EXIT_DEVICE, report.EXIT_UNREPORTED} <= rows
    assert "docs/cli.md" in (ROOT / "README.md").read_text()


def test_documented_per_cell_bytes_match_the_headers(tmp_path):
    """docs/replay.md (pack CellEstimator) and docs/c-api.md (cs_estimator_used_bytes) give the Cortex-M sizes:
    compiled for M4F and M0+ with static_asserts on the documented numbers."""
    import re
    import shutil

    gxx = shutil.which("arm-none-eabi-g++")
    if gxx is None:
        pytest.skip("arm-none-eabi-g++ not installed (scripts/install_mcu_toolchain.sh)")
    pack = re.search(r"per-cell RAM on Cortex-M \| (\d+) B \(EKF\) / (\d+) B \(UKF\)", (ROOT / "docs" / "replay.md").read_text())
    capi = re.search(r"a filter uses \(on Cortex-M: EKF (\d+) B,\s+UKF (\d+) B", (ROOT / "docs" / "c-api.md").read_text())
    assert pack and capi
    src = tmp_path / "sizes.cpp"
    src.write_text(f'''#include "{ROOT}/cpp/src/c_api.cpp"
#include "cellsense/pack/pack.hpp"
using PackBase = cellsense::model::EcmModel<float, 2, 64, 8>;
using EkfPack = cellsense::pack::PackEstimator<PackBase, cellsense::filter::Ekf, 12>;
using UkfPack = cellsense::pack::PackEstimator<PackBase, cellsense::filter::Ukf, 12>;
static_assert(sizeof(EkfPack::CellEstimator) == {pack.group(1)}, "docs/replay.md EKF bytes per cell");
static_assert(sizeof(UkfPack::CellEstimator) == {pack.group(2)}, "docs/replay.md UKF bytes per cell");
static_assert(offsetof(Impl, body) + sizeof(EkfEstimator) == {capi.group(1)}, "docs/c-api.md EKF used bytes");
static_assert(offsetof(Impl, body) + sizeof(UkfEstimator) == {capi.group(2)}, "docs/c-api.md UKF used bytes");
''')
    for flags in (["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"], ["-mcpu=cortex-m0plus", "-mthumb"]):
        p = subprocess.run([gxx, "-std=c++17", *flags, "-fno-exceptions", "-fno-rtti", f"-I{ROOT}/cpp/include",
                            "-fsyntax-only", str(src)], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr[-2000:]


# ---------------------------------------------------------------------------------------------------------
# 7. estimate --plot and the estimate self-checks
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def us06_log(tmp_path):
    """The first 40 minutes of the shipped US06 truth through the demo's sensor, as a cell log (with and
    without soc_true)."""
    from cellsense.truth.sensor import SensorModel
    from cellsense.truth.result import SimResult
    from cellsense.truth.simulate import simulate

    r = simulate(protocol="us06", sensor=SensorModel(voltage_noise_V=0.002, current_noise_A=0.010,
                                                     current_offset_A=0.020, seed=1))
    n = 2400
    with_truth = SimResult(r.time_s[:n], r.current_A[:n], r.voltage_V[:n], r.temperature_degC[:n], r.soc_true[:n], {})
    no_truth = SimResult(r.time_s[:n], r.current_A[:n], r.voltage_V[:n], r.temperature_degC[:n], None, {})
    return with_truth.to_csv(tmp_path / "truth.csv"), no_truth.to_csv(tmp_path / "plain.csv")


def test_estimate_plot(us06_log, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    truth, plain = us06_log
    for log in (truth, plain):
        png = tmp_path / f"{log.stem}.png"
        assert main(["estimate", "--cell", "chen2020", "--data", str(log), "--out", str(tmp_path / "e.csv"),
                     "--initial-soc", "0.8", "--plot", str(png)]) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
        out = capsys.readouterr()
        assert f"wrote {png}" in out.out and "warning" not in out.err  # a consistent run: no self-check warning


def test_estimate_plot_without_matplotlib(us06_log, tmp_path, monkeypatch, capsys):
    _hide(monkeypatch, "matplotlib")
    truth, _ = us06_log
    rc = main(["estimate", "--cell", "chen2020", "--data", str(truth), "--out", str(tmp_path / "e.csv"),
               "--plot", str(tmp_path / "p.png")])
    line = _one_line_no_traceback(capsys.readouterr().err)
    assert rc == 2 and "matplotlib" in line and "cellsense[sim]" in line
    assert not (tmp_path / "e.csv").exists() and not (tmp_path / "p.png").exists()


def test_estimate_self_checks(us06_log, tmp_path, capsys):
    truth, plain = us06_log
    # a filter told the voltage is 20x better than it is: overconfident
    argv = ["--cell", "chen2020", "--out", str(tmp_path / "e.csv"), "--voltage-sigma-V", "0.0002",
            "--current-sigma-A", "0.0001"]
    assert main(["estimate", "--data", str(truth), *argv]) == 0
    err = capsys.readouterr().err
    assert "the truth is outside the 3-sigma band on" in err and "(> 5 %)" in err
    assert main(["estimate", "--data", str(plain), *argv]) == 0
    err = capsys.readouterr().err
    assert "mean normalised innovation squared" in err and "larger than the filter assumes" in err
    # a filter told the voltage is 10x worse than it is and the sensor far worse: a band wider than the errors need
    wide = ["--cell", "chen2020", "--out", str(tmp_path / "w.csv"), "--voltage-sigma-V", "0.4",
            "--current-sigma-A", "0.5"]
    assert main(["estimate", "--data", str(truth), *wide]) == 0
    err = capsys.readouterr().err
    assert "the band is wider than this log's errors need: NEES" in err and "3-sigma band on" not in err
    # no sensor terms were given: the hint does not name them (a new user read it as if they had been)
    assert "--current-offset-sigma-A" not in err.split("the band is wider")[1].split("\n")[0]


def test_api_reference_is_built_in_ci():
    """scripts/test.sh builds the API reference (scripts/build_api_docs.sh: Sphinx, warnings as errors) with the
    docs extra, which `all` and `test` include."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("sphinx") for r in extras["docs"])
    assert set(extras["docs"]) <= set(extras["all"]) and set(extras["docs"]) <= set(extras["test"])
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert test_sh.count("bash scripts/build_api_docs.sh") == 1
    build = (ROOT / "scripts" / "build_api_docs.sh").read_text()
    assert "-m sphinx -W --keep-going" in build
    conf = (ROOT / "docs" / "api" / "conf.py").read_text()
    assert '"sphinx.ext.autodoc"' in conf and '"sphinx.ext.napoleon"' in conf
