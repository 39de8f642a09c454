"""Truth: PyBaMM simulations (schedules, the solve, the shipped/cached truths, ageing, plating) and the
sensor model that turns a truth into what a BMS would measure. PyBaMM is imported only inside the
functions that solve."""
from __future__ import annotations
