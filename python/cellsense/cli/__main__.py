"""python -m cellsense.cli ... (the same as the ``cellsense`` command)."""
import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
