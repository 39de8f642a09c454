"""`cellsense export-c` and the C API: float32-exact literals, the header, parity with Python float32,
and (with the Cortex-M toolchain) the MCU report."""
from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cellsense.cells.ecm import cell_from_dict
from cellsense.mcu.export_c import add_cli, c_float, export_c

from conftest import synthetic_cell_dict

ROOT = Path(__file__).resolve().parents[3]
HOST_CC, HOST_CXX = shutil.which("gcc"), shutil.which("g++")
needs_host_cc = pytest.mark.skipif(not (HOST_CC and HOST_CXX), reason="host gcc/g++ not found")
MCU_TOOLS = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm", "cmake") if not shutil.which(t)]
needs_mcu = pytest.mark.skipif(bool(MCU_TOOLS), reason=f"MCU toolchain missing: {', '.join(MCU_TOOLS)} "
                                                       "(scripts/install_mcu_toolchain.sh)")


def test_float_literals_read_back_as_numpy_float32():
    rng = np.random.default_rng(3)
    values = np.r_[rng.standard_normal(2000) * 10.0 ** rng.integers(-12, 12, 2000), 0.0, 1.0, -40.0, 1e-45, 3.4e38]
    for v in values:
        lit = c_float(v)
        assert lit.endswith("f") and any(c in lit for c in ".e"), lit
        assert np.float32(float(lit[:-1])) == np.float32(v), (v, lit)
    with pytest.raises(ValueError):
        c_float(float("nan"))


def test_export_writes_header_atomically(tmp_path: Path):
    cell = cell_from_dict(synthetic_cell_dict(2))
    out = tmp_path / "sub" / "cell_params.h"
    text = export_c(cell, out, symbol="my_cell")
    assert out.read_text() == text
    assert "static const cs_cell_params my_cell" in text and "CS_PARAMS_LAYOUT" in text
    assert "#define MY_CELL_NAME \"synthetic-2rc\"" in text
    assert "CS_MAX_SOC_POINTS < 21 || CS_MAX_TEMPERATURE_POINTS < 3" in text
    assert not list(out.parent.glob(".*.tmp"))
    with pytest.raises(ValueError, match="RC pairs"):
        export_c(cell_from_dict(synthetic_cell_dict(1)))
    with pytest.raises(ValueError, match="identifier"):
        export_c(cell, symbol="not valid")


def test_cli_verb_registered(tmp_path: Path):
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    path = tmp_path / "cell.json"
    import json
    path.write_text(json.dumps(synthetic_cell_dict(2)))
    args = parser.parse_args(["export-c", "--model", str(path), "--out", str(tmp_path / "p.h")])
    assert args.func(args) == 0 and (tmp_path / "p.h").is_file()


PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "cellsense/c_api.h"
#include "cell_params.h"
static cs_estimator est;
int main(int argc, char** argv) {
  (void)argc;
  cs_config c; cs_config_default(&c);
#ifdef CELL_PARAMS_MODEL_ERROR_CURRENT_A
  if (argc > 2) { /* the cell's own measurement noise, as the Python estimator resolves it */
    c.voltage_sigma_V = CELL_PARAMS_VOLTAGE_SIGMA_V;
    c.model_error_current_A = CELL_PARAMS_MODEL_ERROR_CURRENT_A;
    c.model_error_relative = CELL_PARAMS_MODEL_ERROR_RELATIVE;
    c.model_error_voltage_V = CELL_PARAMS_MODEL_ERROR_VOLTAGE_V;
    c.model_error_correlation_s = CELL_PARAMS_MODEL_ERROR_CORRELATION_S;
  }
#endif
  c.filter = (uint8_t)(argv[1][0] == 'u' ? CS_FILTER_UKF : CS_FILTER_EKF);
  c.initial_soc = 0.75f;
  if (cs_init(&est, &cell_params, &c) != CS_INIT_OK) return 1;
  float row[4];
  while (fread(row, sizeof row, 1, stdin) == 1) {
    cs_report r;
    cs_step(&est, row[0], row[1], row[2], row[3], &r);
    float out[2] = {r.soc, r.soc_sigma};
    fwrite(out, sizeof out, 1, stdout);
  }
  return 0;
}
"""


def _build_c_runner(tmp_path: Path, cell) -> Path:
    """export-c header for `cell` + PROGRAM + the C API, host build with the MCU's float flags."""
    export_c(cell, tmp_path / "cell_params.h")
    (tmp_path / "main.c").write_text(PROGRAM)
    inc = ["-I", str(ROOT / "cpp" / "include"), "-I", str(tmp_path)]
    flags = ["-O2", "-ffp-contract=off", "-fno-math-errno"]
    subprocess.run([HOST_CXX, "-std=c++17", "-fno-exceptions", "-fno-rtti", *flags, *inc, "-c",
                    str(ROOT / "cpp" / "src" / "c_api.cpp"), "-o", str(tmp_path / "c_api.o")], check=True)
    subprocess.run([HOST_CC, "-std=c99", *flags, *inc, str(tmp_path / "main.c"), str(tmp_path / "c_api.o"),
                    "-o", str(tmp_path / "run"), "-lstdc++", "-lm"], check=True)
    return tmp_path / "run"


def _python_float32_rows(est, rows: np.ndarray) -> np.ndarray:
    """Estimator(dtype="float32") over rows (dt, i, v, T), started from the C API's float32 initial
    covariance (the C API squares the sigmas in float32); (soc, soc_sigma) per row as float32."""
    nz = est.noise
    sig = np.float32([nz.initial_soc_sigma, nz.initial_v_rc_sigma_V, nz.initial_v_rc_sigma_V,
                      nz.initial_hysteresis_sigma])
    x0 = np.array([np.float32(0.75), 0, 0, np.float32(nz.initial_hysteresis)], dtype=float)
    est._impl.set_state(x0, np.diag((sig * sig).astype(float)), 0.0)
    py = [est.step(*map(float, r)) for r in rows]
    return np.array([[r.soc, r.soc_sigma] for r in py], dtype=np.float32)


# verifies: CS-CAPI-006
@needs_host_cc
@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_c_api_matches_python_float32_bit_for_bit(tmp_path: Path, synthetic_log, filt):
    """export-c header + C API host build (-ffp-contract=off) == Estimator(dtype="float32")."""
    from cellsense.estimators.ecm import Estimator

    cell = synthetic_log["cell"]
    run = _build_c_runner(tmp_path, cell)

    n = 1500
    t = synthetic_log["time_s"][: n + 1]
    rows = np.stack([np.diff(t), synthetic_log["current_A"][1: n + 1], synthetic_log["voltage_V"][1: n + 1],
                     synthetic_log["temperature_degC"][1: n + 1]], axis=1).astype(np.float32)
    p = subprocess.run([str(run), filt], input=rows.tobytes(), capture_output=True, check=True)
    c_out = np.frombuffer(p.stdout, dtype=np.float32).reshape(-1, 2)
    py_out = _python_float32_rows(Estimator(cell, filter=filt, dtype="float32", initial_soc=0.75), rows)
    assert c_out.shape == py_out.shape
    assert np.array_equal(c_out.view(np.uint32), py_out.view(np.uint32)), \
        f"max |diff| {np.max(np.abs(c_out - py_out))}"


@needs_mcu
def test_mcu_report_m4f(tmp_path: Path):
    """Cortex-M4F under QEMU: builds, runs bit-identical to the host, reports sane figures."""
    from cellsense.mcu import bench_mcu, format_mcu

    r = bench_mcu(build_dir=tmp_path / "mcu", out=tmp_path / "report.json", cores=["cortex-m4f"])
    core = r["cores"]["cortex-m4f"]
    assert core["parity"]["bit_identical"], core["parity"]["detail"]
    for filt in ("ekf", "ukf"):
        f = core["run"]["filters"][filt]
        assert 100 < f["insn_avg"] <= f["insn_max"] < 100_000
        assert 0 < f["state_bytes"] <= 240 and 0 < f["stack_max_bytes"] < 4096  # CS_ESTIMATOR_SIZE
    assert 1000 < core["footprint"]["both"]["core_flash_bytes"] < 64 * 1024
    assert (tmp_path / "report.json").is_file() and (tmp_path / "report.txt").is_file()
    assert "cortex-m4f" in format_mcu(r)


# verifies: CS-CAPI-006
@needs_host_cc
@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_c_api_matches_python_with_resistance_scaled_model_error(tmp_path: Path, filt):
    """The Panasonic cell's resistance-scaled, correlation-timed model error (issue #17): the export-c header's
    noise macros in cs_config + the C API host build == Estimator(dtype="float32"), bit for bit, on a cold
    drive cycle at 1 Hz and on the same rows at 0.2 s steps (the tau / dt branch)."""
    from cellsense.cells.load import load_cell
    from cellsense.estimators.ecm import Estimator
    from cellsense.io.realdata import load_real_log

    cell = load_cell("panasonic_18650pf")
    run = _build_c_runner(tmp_path, cell)
    assert "CELL_PARAMS_MODEL_ERROR_CORRELATION_S 100.0f" in (tmp_path / "cell_params.h").read_text()
    log = load_real_log("panasonic-18650pf/n10degC_HWFET")
    n = 3000
    t = log.time_s[: n + 1]
    dt = np.diff(t)
    dt[n // 2:] = 0.2  # second half: sample interval below the correlation time's 1 s scale
    rows = np.stack([dt, 1.01 * log.current_A[1: n + 1] + 0.05, log.voltage_V[1: n + 1],
                     log.temperature_degC[1: n + 1]], axis=1).astype(np.float32)
    p = subprocess.run([str(run), filt, "cell-noise"], input=rows.tobytes(), capture_output=True, check=True)
    c_out = np.frombuffer(p.stdout, dtype=np.float32).reshape(-1, 2)
    est = Estimator(cell, filter=filt, dtype="float32", initial_soc=0.75)
    assert est.noise.model_error_current_A > 0 and est.noise.model_error_correlation_s == 100.0
    py_out = _python_float32_rows(est, rows)
    assert np.array_equal(c_out.view(np.uint32), py_out.view(np.uint32)), \
        f"max |diff| {np.max(np.abs(c_out - py_out))}"


POWER_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "cellsense/c_api.h"
#include "cell_params.h"
static cs_estimator est;
int main(int argc, char** argv) {
  (void)argc;
  cs_config c; cs_config_default(&c);
  c.filter = (uint8_t)(argv[1][0] == 'u' ? CS_FILTER_UKF : CS_FILTER_EKF);
  c.initial_soc = 0.75f;
  if (cs_init(&est, &cell_params, &c) != CS_INIT_OK) return 1;
  float row[4];
  int n = 0;
  while (n < 600 && fread(row, sizeof row, 1, stdin) == 1) {
    cs_report r;
    cs_step(&est, row[0], row[1], row[2], row[3], &r);
    ++n;
  }
  cs_power_config pc;
  cell_params_power_config(&pc);
  if (strcmp(cs_power_config_problem(&pc), "ok") != 0 || pc.derating_count != CELL_PARAMS_POWER_DERATING_COUNT) return 2;
  static const float temps[7] = {-30.0f, -10.0f, -5.0f, 0.0f, 5.0f, 25.0f, 45.0f};
  for (int k = 0; k < 7; ++k) {
    cs_power_result pr;
    if (cs_power_limits(&est, temps[k], &pc, &pr) != CS_POWER_OK) return 3;
    float out[4] = {pr.discharge_current_A, pr.charge_current_A, pr.discharge_power_W, pr.charge_power_W};
    fwrite(out, sizeof out, 1, stdout);
  }
  return 0;
}
"""
POWER_TEMPS = (-30.0, -10.0, -5.0, 0.0, 5.0, 25.0, 45.0)


# verifies: CS-PWR-008
@needs_host_cc
@pytest.mark.parametrize("source", ["cell-file", "cli"])
def test_export_c_power_config_matches_python(tmp_path: Path, synthetic_log, source):
    """export-c writes cell_params_power_config(): the cell file's derating table (or --derating's), the cut-offs
    and the identified ratings as PowerSettings() has them; the C API host build with it gives Python float32's
    limits bit for bit at temperatures across the table (a derated rating binding)."""
    import json

    from cellsense.cells.ecm import cell_from_dict
    from cellsense.estimators.ecm import Estimator
    from cellsense.estimators.power import L_DERATING, PowerSettings, power_limits_now
    table = [[-10.0, 0.05, 0.0], [0.0, 0.1, 0.02], [20.0, 1.0, 1.0]]
    d = synthetic_cell_dict(2)
    if source == "cell-file":
        d.setdefault("limits", {})[L_DERATING] = table
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(d))
    cell = cell_from_dict(d)
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    argv = ["export-c", "--cell", str(path), "--out", str(tmp_path / "cell_params.h")]
    if source == "cli":
        argv.append("--derating=" + ",".join(":".join(f"{v:g}" for v in r) for r in table))
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    header = (tmp_path / "cell_params.h").read_text()
    assert "#define CELL_PARAMS_POWER_DERATING_COUNT 3" in header
    (tmp_path / "main.c").write_text(POWER_PROGRAM)
    inc = ["-I", str(ROOT / "cpp" / "include"), "-I", str(tmp_path)]
    flags = ["-O2", "-ffp-contract=off", "-fno-math-errno"]
    subprocess.run([HOST_CXX, "-std=c++17", "-fno-exceptions", "-fno-rtti", *flags, *inc, "-c",
                    str(ROOT / "cpp" / "src" / "c_api.cpp"), "-o", str(tmp_path / "c_api.o")], check=True)
    subprocess.run([HOST_CC, "-std=c99", "-Wall", "-Wextra", "-Werror", *flags, *inc, str(tmp_path / "main.c"),
                    str(tmp_path / "c_api.o"), "-o", str(tmp_path / "run"), "-lstdc++", "-lm"], check=True)
    n = 600
    t = synthetic_log["time_s"][: n + 1]
    rows = np.stack([np.diff(t), synthetic_log["current_A"][1: n + 1], synthetic_log["voltage_V"][1: n + 1],
                     synthetic_log["temperature_degC"][1: n + 1]], axis=1).astype(np.float32)
    p = subprocess.run([str(tmp_path / "run"), "ekf"], input=rows.tobytes(), capture_output=True)
    assert p.returncode == 0, p.returncode
    c_out = np.frombuffer(p.stdout, dtype=np.float32).reshape(-1, 4)
    est = Estimator(cell, filter="ekf", dtype="float32", initial_soc=0.75)
    _python_float32_rows(est, rows)
    settings = PowerSettings(horizons_s=(10.0,), derating=None if source == "cell-file" else table)
    py = [power_limits_now(est, T, settings)[0] for T in POWER_TEMPS]
    py_out = np.array([[r["discharge_current_A"], r["charge_current_A"], r["discharge_power_W"], r["charge_power_W"]]
                       for r in py], dtype=np.float32)
    assert np.array_equal(c_out.view(np.uint32), py_out.view(np.uint32)), (c_out, py_out)
    # the derated ratings bind: no charge at or below -10 degC, 5 % of the discharge rating there
    assert c_out[0, 1] == 0.0 and c_out[1, 1] == 0.0 and 0.0 < c_out[1, 0] < c_out[-1, 0]


def test_export_c_refuses_a_bad_derating_table(tmp_path: Path):
    from cellsense.cells.ecm import cell_from_dict
    cell = cell_from_dict(synthetic_cell_dict(2))
    with pytest.raises(ValueError, match="derating_temperature_degC"):
        export_c(cell, derating=[(10.0, 1.0, 1.0), (0.0, 1.0, 1.0)])
    with pytest.raises(ValueError, match="derating_charge_factor"):
        export_c(cell, derating=[(0.0, 1.0, 1.5)])
    with pytest.raises(ValueError, match="derating_count"):
        export_c(cell, derating=[(float(k), 1.0, 1.0) for k in range(7)])
    text = export_c(cell)  # no table: count 0, the ratings as given
    assert "#define CELL_PARAMS_POWER_DERATING_COUNT 0" in text and "config->derating_count = 0;" in text


OVERPOTENTIAL_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "cellsense/c_api.h"
#include "cell_params.h"
static cs_estimator est;
int main(int argc, char** argv) {
  cs_config c; cs_config_default(&c);
  c.voltage_sigma_V = CELL_PARAMS_VOLTAGE_SIGMA_V;
  c.model_error_current_A = CELL_PARAMS_MODEL_ERROR_CURRENT_A;
  c.model_error_relative = CELL_PARAMS_MODEL_ERROR_RELATIVE;
  c.model_error_voltage_V = CELL_PARAMS_MODEL_ERROR_VOLTAGE_V;
  c.model_error_correlation_s = CELL_PARAMS_MODEL_ERROR_CORRELATION_S;
  c.initial_soc = 0.75f;
  if (cs_init(&est, &cell_params, &c) != CS_INIT_OK) return 1;
  cs_power_config pc;
  cs_power_config_default(&pc, 2.5f, 4.2f, 1000.0f);
  if (argc > 1) { /* the cell file's overpotential table, as export-c writes it */
    const float t[] = CELL_PARAMS_OVERPOTENTIAL_TEMPERATURE_DEGC;
    const float a[] = CELL_PARAMS_OVERPOTENTIAL_CURRENT_A;
    pc.overpotential_count = CELL_PARAMS_OVERPOTENTIAL_COUNT;
    memcpy(pc.overpotential_temperature_degC, t, sizeof t);
    memcpy(pc.overpotential_current_A, a, sizeof a);
  }
  float row[4];
  long k = 0;
  while (fread(row, sizeof row, 1, stdin) == 1) {
    cs_report r;
    cs_step(&est, row[0], row[1], row[2], row[3], &r);
    if (++k % 50 == 0) {
      cs_power_result p;
      if (cs_power_limits(&est, row[3], &pc, &p) != CS_POWER_OK) return 2;
      float out[2] = {p.discharge_current_A, p.charge_current_A};
      fwrite(out, sizeof out, 1, stdout);
    }
  }
  return 0;
}
"""


# verifies: CS-CAPI-006
# verifies: CS-PWR-010
@needs_host_cc
def test_c_api_power_limits_with_the_overpotential_table_match_python(tmp_path: Path):
    """The Panasonic cell's overpotential table (export-c's CELL_PARAMS_OVERPOTENTIAL_* macros in cs_power_config)
    + the C API host build (-ffp-contract=off): the 10 s limits every 50th step of a cold drive cycle equal the
    float32 Estimator's power_limits_now() with the cell file's table, bit for bit; and the table moves them."""
    from cellsense.cells.load import load_cell
    from cellsense.estimators.ecm import Estimator
    from cellsense.estimators.power import PowerSettings, power_limits_now
    from cellsense.io.realdata import load_real_log

    cell = load_cell("panasonic_18650pf")
    run = _build_c_runner(tmp_path, cell)
    (tmp_path / "main.c").write_text(OVERPOTENTIAL_PROGRAM)
    inc = ["-I", str(ROOT / "cpp" / "include"), "-I", str(tmp_path)]
    flags = ["-O2", "-ffp-contract=off", "-fno-math-errno"]
    subprocess.run([HOST_CC, "-std=c99", *flags, *inc, str(tmp_path / "main.c"), str(tmp_path / "c_api.o"),
                    "-o", str(run), "-lstdc++", "-lm"], check=True)
    assert "CELL_PARAMS_OVERPOTENTIAL_COUNT 8" in (tmp_path / "cell_params.h").read_text()
    log = load_real_log("panasonic-18650pf/n10degC_HWFET")
    n = 1000
    t = log.time_s[: n + 1]
    rows = np.stack([np.diff(t), 1.01 * log.current_A[1: n + 1] + 0.05, log.voltage_V[1: n + 1],
                     log.temperature_degC[1: n + 1]], axis=1).astype(np.float32)
    outs = {}
    for table in (True, False):
        p = subprocess.run([str(run)] + (["table"] if table else []), input=rows.tobytes(), capture_output=True,
                           check=True)
        outs[table] = np.frombuffer(p.stdout, dtype=np.float32).reshape(-1, 2)
    est = Estimator(cell, dtype="float32", initial_soc=0.75)
    nz = est.noise
    sig = np.float32([nz.initial_soc_sigma, nz.initial_v_rc_sigma_V, nz.initial_v_rc_sigma_V, nz.initial_hysteresis_sigma])
    est._impl.set_state(np.array([np.float32(0.75), 0, 0, np.float32(nz.initial_hysteresis)], dtype=float),
                        np.diag((sig * sig).astype(float)), 0.0)
    ps = PowerSettings(horizons_s=(10.0,), voltage_min_V=2.5, voltage_max_V=4.2, discharge_current_max_A=1000.0,
                       charge_current_max_A=1000.0)
    py = []
    for k, r in enumerate(rows, start=1):
        est.step(*map(float, r))
        if k % 50 == 0:
            d = power_limits_now(est, float(r[3]), ps)[0]
            py.append([d["discharge_current_A"], d["charge_current_A"]])
    py = np.array(py, dtype=np.float32)
    assert outs[True].shape == py.shape == (n // 50, 2)
    assert np.array_equal(outs[True].view(np.uint32), py.view(np.uint32)), f"max |diff| {np.max(np.abs(outs[True] - py))}"
    # the table allows more current in this cold log (-6 degC cell) than the linear model
    assert (outs[True][:, 0] >= outs[False][:, 0]).all() and (outs[True][:, 0] > 1.02 * outs[False][:, 0]).mean() > 0.5
