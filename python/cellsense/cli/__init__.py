"""The ``cellsense`` command (entry point ``cellsense.cli:main``) and its demo verb."""
from __future__ import annotations

from .commands import EXIT_INTERNAL_ERROR, build_parser, main

__all__ = ["EXIT_INTERNAL_ERROR", "build_parser", "main"]
