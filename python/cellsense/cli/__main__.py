"""python -m cellsense.cli ... (the same as the ``cellsense`` command)."""
import sys

from .main import main

sys.exit(main())
