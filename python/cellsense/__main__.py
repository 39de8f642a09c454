"""python -m cellsense ... (the same as the ``cellsense`` command)."""
import sys

from .cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
