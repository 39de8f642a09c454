"""Running the firmware tool chain (cmake, the GNU Arm tools, QEMU): the error every MCU step raises and the
command runner."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class McuBenchError(RuntimeError):
    """The MCU build or a run failed, or a tool is missing."""


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise McuBenchError(f"{tool} not found: run scripts/install_mcu_toolchain.sh")
    return path


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        tail = (p.stdout + p.stderr).strip().splitlines()[-30:]
        raise McuBenchError(f"{' '.join(cmd[:4])} ... failed ({p.returncode}):\n" + "\n".join(tail))
    return p
