"""Cell files on disk: where the bundled cells live, a name or path -> the file, and the error every cell
loader raises (naming the file and the field)."""
from __future__ import annotations

import os
from pathlib import Path


class CellFileError(ValueError):
    """A cell file is malformed or physically inconsistent. The message names file and field."""


#: |value| of any number in a cell file (ECM or SPMe; _io.file_number checks it): the core's finiteness bound,
#: every parameter must also fit a float32 MCU build
MAX_CELL_NUMBER = 3.0e38


def models_dir() -> Path:
    """Where the bundled cell files live (installed package data, or the source tree)."""
    package = Path(__file__).resolve().parents[1]  # cellsense/
    for candidate in (package / "models", package.parents[1] / "models"):
        if candidate.is_dir():
            return candidate
    return package / "models"


def bundled_cells() -> list[str]:
    """Names of the bundled cells (``models/*.json``)."""
    return sorted(p.stem for p in models_dir().glob("*.json"))


def resolve_cell_path(model: str | os.PathLike) -> Path:
    """A path to a cell file, or the name of a bundled cell in models/."""
    p = Path(model)
    if p.is_file():
        return p
    candidate = models_dir() / (p.name if p.suffix == ".json" else f"{p.name}.json")
    if candidate.is_file():
        return candidate
    raise CellFileError(
        f"{model}: no such cell file, and no bundled cell of that name (bundled: {', '.join(bundled_cells()) or 'none'})")
