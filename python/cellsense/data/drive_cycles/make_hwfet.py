"""Regenerate HWFET.csv (a normalised 1 s HWFET current shape) from the Panasonic 18650PF data.

Source: P. Kollmeyer, "Panasonic 18650PF Li-ion Battery Data", Mendeley Data, V1, 2018,
doi:10.17632/wykht8y7tg.1 (University of Wisconsin-Madison), licence CC BY 4.0.
Input file: drive/25degC_HWFET_a.csv.gz (0.1 s logging, Current NEGATIVE = discharge).

Method: the measured current is integrated (piecewise constant, each sample held over the
interval that ends at it) and averaged over each whole second, giving the charge-preserving
1 s mean current; the sign is flipped (positive = discharge).  The run repeats the HWFET schedule
with a period of 768 s (found by autocorrelation); the second complete repetition
(t = 768 s .. 1536 s from file start) is kept, so the shape is not affected by the start of the
test, and divided by its peak discharge current so that max(current) = 1.

Usage: python3 make_hwfet.py /path/to/25degC_HWFET_a.csv.gz [HWFET.csv]
"""
import gzip
import os
import sys

import numpy as np

PERIOD_S = 768
START_S = 768


def derive(path):
    with gzip.open(path, "rt") as fh:
        data = np.genfromtxt(fh, delimiter=",", names=True)
    t = data["Time"]
    i = -data["Current"]  # positive = discharge
    q = np.concatenate([[0.0], np.cumsum(i[1:] * np.diff(t))])  # A.s
    grid = np.arange(START_S, START_S + PERIOD_S + 1, dtype=float)
    qg = np.interp(grid, t, q)
    i1 = np.diff(qg)  # mean current over (k-1, k]
    return i1 / i1.max()


def main(argv):
    src = argv[1]
    out = argv[2] if len(argv) > 2 else os.path.join(os.path.dirname(__file__), "HWFET.csv")
    shape = derive(src)
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("# HWFET current shape derived from the measured current of Panasonic NCR18650PF\n")
        fh.write("# drive/25degC_HWFET_a.csv.gz (P. Kollmeyer 2018, doi:10.17632/wykht8y7tg.1, CC BY 4.0).\n")
        fh.write("# 1 s mean current of one repetition (t = 768..1536 s of that file), positive = discharge,\n")
        fh.write("# normalised to a peak discharge of 1. Row k holds the current over (t_{k-1}, t_k].\n")
        fh.write("# time [s],normalised current [-]\n")
        fh.write("0,0\n")
        for k, v in enumerate(shape, start=1):
            fh.write(f"{k},{v:.6f}\n")
    os.replace(tmp, out)
    print(f"wrote {out}: {len(shape)} s, mean {shape.mean():.4f}, min {shape.min():.4f}")


if __name__ == "__main__":
    main(sys.argv)
