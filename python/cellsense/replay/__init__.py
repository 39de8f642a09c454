"""Pack-log replay and hardware-in-the-loop harness (docs/replay.md, docs/hil-protocol.md).

    readers    pack CSV, CAN logs (candump / ASC / BLF via python-can, GVRET CSV) decoded with a DBC (cantools)
    capture    a CAN clock stepping back (re-anchored) or a burst ahead of it (dropped); several buses (refused)
    stuck      stuck sensors: a frozen cell voltage (dropped: that cell stepped without it), current or temperature (reported)
    checks     warnings on the log and the host run (a status on > 10 % of the cell steps, the reference's scale)
    framing    the HIL protocol: COBS + CRC-32 + sequence numbers
    link       byte links: pyserial URLs, python-can buses, fault injection
    session    the host side of the protocol (timeouts, retries, fault accounting)
    targets    host / qemu / serial URL / CAN runners
    parity     device vs host per frame (SOC, sigma, NaN, status, event, usable SOC) and the exit status
    report     device vs host vs reference comparison (Markdown, CSV, plots)
    cli        `cellsense replay`, `cellsense replay-bench` (add_cli)
"""
from __future__ import annotations

from .readers import LogReadError, load_dbc, read_log

__all__ = ["LogReadError", "load_dbc", "read_log"]
