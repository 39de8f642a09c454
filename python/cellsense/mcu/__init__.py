"""The firmware side: Cortex-M builds, runs and the footprint / speed report under QEMU (``mcu.firmware``,
``mcu.memory``, ``mcu.tools``), the C export of a cell (``mcu.export_c``) and the static stack bound
(``mcu.stackbound``).

The names of the former ``cellsense.mcu`` module are re-exported here."""
from __future__ import annotations

from .firmware import (CORES, FILTERS, MACHINES, SPME_TARGET_INSN_PER_STEP, TARGETS, bench_mcu, bench_soh, bench_spme,
                       build, format_mcu, parse_run, qemu_command, run_image, source_dir)
from .memory import (footprint, map_members_for_core, map_sections, parse_map, soh_footprint, spme_footprint,
                        static_stack, symbol_sizes)
from .tools import McuBenchError

__all__ = [
    "CORES", "FILTERS", "MACHINES", "McuBenchError", "SPME_TARGET_INSN_PER_STEP", "TARGETS", "bench_mcu", "bench_soh",
    "bench_spme", "build", "footprint", "format_mcu", "map_members_for_core", "map_sections", "parse_map", "parse_run",
    "qemu_command", "run_image", "soh_footprint", "source_dir", "spme_footprint", "static_stack", "symbol_sizes"]
