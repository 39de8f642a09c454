"""`cellsense bench --mcu`: the SOH-enabled estimator's rows (cs_step_soh with a cs_soh, OCV learning on,
on Cortex-M: instructions per step for EKF+SOH and UKF+SOH, the flash SOH adds, RAM per cell, parity).

The parsing and table tests run everywhere; the measured report needs the Cortex-M toolchain."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from cellsense import cli
from cellsense.mcu import firmware as mcu
from cellsense.mcu import format_mcu, map_members_for_core, parse_run

ROOT = Path(__file__).resolve().parents[3]
MCU_TOOLS = [t for t in ("arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm", "cmake") if not shutil.which(t)]
needs_mcu = pytest.mark.skipif(bool(MCU_TOOLS), reason=f"MCU toolchain missing: {', '.join(MCU_TOOLS)} "
                                                       "(scripts/install_mcu_toolchain.sh)")

SOH_RUN = """soh cortex-m4f
overhead ticks=1
final ekf 3f4b5813 40a00000 40800000 3f80d415 396f74a3 3cb98855
sum ekf steps=1369 ticks=64932 ticks_max=50 stack_max=648 r0_updates=194 capacity_updates=0 ocv_updates=1366 insn_per_tick=40/1
check soh_restore ok
final ukf 3f4b604c 40a00000 40800000 3f80c960 396f5bcf 3cb97ae6
sum ukf steps=1369 ticks=105825 ticks_max=80 stack_max=1112 r0_updates=194 capacity_updates=0 insn_per_tick=40/1
check soh_restore FAIL
"""


def header_define(name: str) -> int:
    text = (ROOT / "cpp" / "include" / "cellsense" / "c_api.h").read_text()
    return int(re.search(rf"#define {name} (\d+)u", text).group(1))


def test_parse_soh_run():
    r = parse_run(SOH_RUN)
    ekf, ukf = r["filters"]["ekf"], r["filters"]["ukf"]
    assert r["overhead_ticks"] == 1
    assert ekf["insn_avg"] == round((64932 / 1369 - 1) * 40) == 1857
    assert ekf["insn_max"] == (50 - 1) * 40 and ukf["insn_max"] == (80 - 1) * 40
    assert ekf["stack_max_bytes"] == 648 and ukf["r0_updates"] == 194 and ukf["capacity_updates"] == 0
    assert ekf["ocv_updates"] == 1366 and "ocv_updates" not in ukf  # absent from an older image's line
    assert "hash" not in ekf
    assert r["checks"] == {"soh_restore": False}  # the UKF one failed: the check fails
    assert parse_run(SOH_RUN.replace("soh_restore FAIL", "soh_restore ok"))["checks"] == {"soh_restore": True}
    # a check is per filter: one FAIL fails it whatever the order
    assert parse_run("check soh_old_tag FAIL\ncheck soh_old_tag ok\n")["checks"] == {"soh_old_tag": False}


def test_map_members_for_core(tmp_path: Path):
    """Only runtime members the C API pulled in (directly or through another member) count for SOH."""
    lib = "libcellsense_c_cortex-m0plus.a(c_api.cpp.obj)"
    gcc = "/usr/lib/gcc/arm-none-eabi/12.2.1/thumb/v6-m/nofp/libgcc.a"
    text = (f"Archive member included to satisfy reference by file (symbol)\n\n{lib}\n"
            f"                              CMakeFiles/x.dir/run_soh.c.obj (cs_config_default)\n"
            f"{gcc}(_udivsi3.o)\n                              CMakeFiles/x.dir/run_soh.c.obj (__aeabi_uidiv)\n"
            f"{gcc}(_dvmd_tls.o)\n                              {gcc}(_udivsi3.o) (__aeabi_idiv0)\n"
            f"{gcc}(addsf3.o)\n                              {lib} (__aeabi_fadd)\n"
            f"{gcc}(_clzsi2.o)\n                              {gcc}(addsf3.o) (__clzsi2)\n"
            "\nDiscarded input sections\n\n")
    p = tmp_path / "x.map"
    p.write_text(text)
    assert map_members_for_core(p) == {f"{gcc}(addsf3.o)", f"{gcc}(_clzsi2.o)"}


def _report_with_soh() -> dict:
    fp = {"core_flash_bytes": 9000, "runtime_flash_bytes": 472, "params_flash_bytes": 16724,
          "core_static_ram_bytes": 0}
    soc = {"ekf": {"insn_avg": 1433, "insn_max": 1480, "state_bytes": 168, "stack_max_bytes": 464},
           "ukf": {"insn_avg": 2631, "insn_max": 2760, "state_bytes": 180, "stack_max_bytes": 928}}
    soh = {"ekf": {"insn_avg": 1857, "insn_max": 1960, "stack_max_bytes": 648},
           "ukf": {"insn_avg": 3052, "insn_max": 3160, "stack_max_bytes": 1112}}
    core = {"run": {"filters": soc}, "parity": {"bit_identical": True, "detail": []},
            "footprint": {"both": fp, "ekf": fp, "ukf": fp, "log_flash_bytes": 21904},
            "soh": {"run": {"filters": soh}, "parity": {"bit_identical": True, "detail": []},
                    "footprint": {"soh_core_flash_delta_bytes": 8488, "soh_runtime_flash_delta_bytes": 0,
                                  "ram_per_cell_bytes": 384}}}
    return {"opt": "-O2", "model": "chen2020.json", "cores": {"cortex-m4f": core}}


def soh_rows(table: str) -> dict[str, list[str]]:
    return {f[1]: f for f in (l.split() for l in table.splitlines()) if len(f) > 2 and f[1] in ("ekf+soh", "ukf+soh")}


def test_format_has_soh_rows():
    rows = soh_rows(format_mcu(_report_with_soh()))
    assert set(rows) == {"ekf+soh", "ukf+soh"}
    ekf = rows["ekf+soh"]
    assert ekf[0] == "cortex-m4f" and ekf[2] == "1,857" and ekf[4] == "+424" and ekf[5] == "8,488"
    assert ekf[7] == "384" and ekf[-1] == "bit-identical"
    assert rows["ukf+soh"][4] == "+421"


def test_cli_bench_mcu_prints_soh_rows(monkeypatch, capsys):
    """`cellsense bench --mcu` prints the table format_mcu makes, SOH rows included."""
    monkeypatch.setattr(mcu, "bench_mcu", lambda out=None: _report_with_soh())
    assert cli.main(["bench", "--mcu"]) == 0
    assert set(soh_rows(capsys.readouterr().out)) == {"ekf+soh", "ukf+soh"}


@needs_mcu
def test_mcu_report_soh_m4f(tmp_path: Path):
    """Cortex-M4F under QEMU: the SOH image is built, run and measured, and the table has its rows."""
    r = mcu.bench_mcu(build_dir=tmp_path / "mcu", out=tmp_path / "report.json", cores=["cortex-m4f"])
    core = r["cores"]["cortex-m4f"]
    assert "soh" in core, "bench --mcu did not measure the SOH image (soh_<core>.elf)"
    soh = core["soh"]
    assert soh["parity"]["bit_identical"], soh["parity"]["detail"]
    assert soh["run"]["checks"] and all(soh["run"]["checks"].values()), soh["run"]["checks"]
    for filt in ("ekf", "ukf"):
        s, base = soh["run"]["filters"][filt], core["run"]["filters"][filt]
        # SOH costs something on top of cs_step(): with OCV learning a second, 6-state filter (its own
        # model evaluation and a 6 x 6 covariance update per fused sample), bounded by a few SOC steps
        assert base["insn_avg"] < s["insn_avg"] <= s["insn_max"] < 4 * base["insn_avg"] + 1000
        assert s["r0_updates"] > 0 and s["ocv_updates"] > 0 and 0 < s["stack_max_bytes"] < 4096
    fp = soh["footprint"]
    # the SOH image's flash on top of the SOC image: the SOH tracker and every power entry point its parity run calls
    # (cs_power_limits, cs_power_limits_horizons, cs_energy, cs_time_to_full, the overpotential-table path): 28,008 B
    # before the multi-horizon call and the table (2026-12-06), 33,904 B with them; the bound was 32 KiB until then
    assert 1024 < fp["soh_core_flash_delta_bytes"] < 40 * 1024
    assert fp["soh_core_flash_delta_bytes"] < fp["core_flash_bytes"]  # the delta is part of the SOH image
    assert fp["estimator_bytes"] == header_define("CS_ESTIMATOR_SIZE")
    assert fp["soh_bytes"] == header_define("CS_SOH_SIZE")
    assert fp["ram_per_cell_bytes"] == fp["estimator_bytes"] + fp["soh_bytes"]
    rows = soh_rows(format_mcu(r))
    assert set(rows) == {"ekf+soh", "ukf+soh"}
    assert rows["ekf+soh"][2] == f"{soh['run']['filters']['ekf']['insn_avg']:,}"
    assert "ekf+soh" in (tmp_path / "report.txt").read_text()
