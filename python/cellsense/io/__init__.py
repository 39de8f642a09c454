"""Logs in and out: the one cell-log reader/writer (``io.logs``), converters from other formats
(``io.convert``) and the bundled real-cell datasets (``io.realdata``)."""
from __future__ import annotations
