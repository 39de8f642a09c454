"""Load any cell file: the one entry that tells an ECM cell from an SPMe cell (``cellsense.load_cell``)."""
from __future__ import annotations

import json
import os

from .ecm import Cell, cell_from_dict
from .files import CellFileError, resolve_cell_path
from .spme import SpmeCell, load_spme_cell


def is_spme_cell(model) -> bool:
    """True when `model` (path, bundled name, dict or cell) is an SPMe cell."""
    if isinstance(model, SpmeCell):
        return True
    if isinstance(model, dict):
        return model.get("model") == "spme"
    if not isinstance(model, (str, os.PathLike)):
        return False
    try:
        path = resolve_cell_path(model)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError, RecursionError):  # the cell loader reports these, naming the file
        return False
    return isinstance(data, dict) and data.get("model") == "spme"


def as_spme_cell(cell) -> SpmeCell:
    """`cell` (an SpmeCell, path or bundled name) as an SpmeCell; ValueError if it is an ECM cell."""
    if isinstance(cell, SpmeCell):
        return cell
    c = load_cell(cell)
    if not isinstance(c, SpmeCell):
        raise ValueError(f"{cell}: not an SPMe cell file")
    return c


def load_cell(model: str | os.PathLike | Cell | SpmeCell) -> Cell | SpmeCell:
    """Load and validate a cell file (path or bundled name): an ECM cell (`Cell`), or an SPMe cell
    (`SpmeCell`) for a file with "model": "spme"."""
    if isinstance(model, Cell) or getattr(model, "model", None) == "spme":
        return model
    path = resolve_cell_path(model)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise CellFileError(f"{path}: line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise CellFileError(f"{path}: byte {e.start}: not UTF-8 text ({e.reason})") from None
    except RecursionError:
        raise CellFileError(f"{path}: JSON nested too deeply") from None
    except ValueError as e:  # an integer literal beyond Python's digit limit
        raise CellFileError(f"{path}: invalid JSON: {e}") from None
    except OSError as e:
        raise CellFileError(f"{path}: cannot read: {e.strerror or e}") from None
    if isinstance(data, dict) and data.get("model") == "spme":  # reduced electrochemical model (cells/spme.py)
        return load_spme_cell(data, source=str(path))
    return cell_from_dict(data, source=str(path))
