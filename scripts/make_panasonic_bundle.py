#!/usr/bin/env python3
"""Build the bundled, trimmed copy of the Panasonic NCR18650PF data (python/cellsense/data/panasonic_18650pf/).

Source: P. Kollmeyer, "Panasonic 18650PF Li-ion Battery Data", Mendeley Data, V1, 2018,
doi:10.17632/wykht8y7tg.1 (University of Wisconsin-Madison). Licence CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/).

Usage: python3 scripts/make_panasonic_bundle.py [SOURCE_DIR] [OUT_DIR]
  SOURCE_DIR default ../shared/data/panasonic-18650pf (relative to the repository root)
  OUT_DIR    default python/cellsense/data/panasonic_18650pf

What it writes (all gzip CSV with the source's column names, a subset of its columns:
Time,Voltage,Current,Ah,Battery_Temp_degC; Current keeps the source's sign, NEGATIVE = discharge):

drive/25degC_{US06,HWFET_a,LA92,NN}.csv.gz
    resampled from ~0.1 s to a 1 s grid t = 0, 1, 2, ... s (from the file start), keeping only the
    seconds t with a source sample in (t-1, t] (where the logger was sparse, e.g. 60 s in rests, the
    bundle is as sparse as the source): Current = mean over the interval since the previous kept row
    of the measured current, each source sample held over the interval that
    ends at it (charge preserved exactly; this rule reproduces the tester's Ah to < 0.05 %);
    Voltage and Battery_Temp_degC = the last measurement at or before t; Ah = the tester's counter
    linearly interpolated at t. Row t = 0 has Current 0 (no interval ends there).
drive-cold/{10degC_NN,10degC_Cycle_2,0degC_NN,0degC_HWFET,n10degC_NN,n10degC_HWFET,n20degC_NN,n20degC_HWFET}.csv.gz
    the cold development set (chamber 10 / 0 / -10 / -20 degC, the cell's own temperature in
    Battery_Temp_degC), resampled exactly as the 25 degC drive cycles.
characterisation/25degC_C20_OCV_discharge_charge.csv.gz
    every row (60 s logging) up to the end of the rest after the C/20 charge; the last row (logged
    13.6 h later, after the chamber was set to 10 degC) is dropped.
characterisation/<T>_HPPC_5pulse.csv.gz (T = 25degC, 10degC, 0degC, n10degC, n20degC)
    every row with current flowing, the 3 rows either side of every current edge and both rows
    around every time gap (where the interpulse discharges were cut out), unchanged;
    in the rests (current exactly 0) a row is kept when the voltage moved >= 1.2 mV (about two
    ADC steps) from the last kept row, or 60 s passed, and the last row of each rest is kept. A rest
    carries no charge, so dropping rest rows changes no coulomb count.
characterisation/<T>_HPPC_interpulse_discharges.csv.gz
    only the rows that belong to the 5-pulse run: the interpulse file's clock is the 5-pulse file's
    clock minus an offset (its first row is 60 s into the first 10 % discharge); the rows that fall
    into the 5-pulse file's time gaps (the 10 % SOC steps and the start of the following rests), and
    the final discharge to 2.5 V right after the 5-pulse file ends, are kept unchanged. Dropped: a
    second, unrelated run in the 25degC and n10degC/n20degC files, and the long V ~ 0 (disconnected)
    section in n20degC.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
COLS = ["Time", "Voltage", "Current", "Ah", "Battery_Temp_degC"]
DRIVE = ["US06", "HWFET_a", "LA92", "NN"]
COLD = ["10degC_NN", "10degC_Cycle_2", "0degC_NN", "0degC_HWFET", "n10degC_NN", "n10degC_HWFET",
        "n20degC_NN", "n20degC_HWFET"]
TEMPS = ["25degC", "10degC", "0degC", "n10degC", "n20degC"]


def read_rows(path: Path):
    """Header and rows as lists of the original strings."""
    with gzip.open(path, "rt", newline="") as f:
        header = f.readline().strip().split(",")
        rows = [ln.rstrip("\n").split(",") for ln in f if ln.strip()]
    return header, rows


def numeric(header, rows, col):
    k = header.index(col)
    return np.array([float(r[k]) for r in rows])


def write_gz(path: Path, lines: list[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as g:  # mtime 0: reproducible bytes
        g.write(data)
    path.write_bytes(buf.getvalue())
    return len(buf.getvalue())


def subset(header, rows, keep_idx):
    ks = [header.index(c) for c in COLS]
    return [",".join(COLS)] + [",".join(rows[j][k] for k in ks) for j in keep_idx]


def resample_drive(src: Path, dst: Path) -> dict:
    header, rows = read_rows(src)
    t = numeric(header, rows, "Time")
    i = numeric(header, rows, "Current")
    v = numeric(header, rows, "Voltage")
    ah = numeric(header, rows, "Ah")
    T = numeric(header, rows, "Battery_Temp_degC")
    keep = np.r_[True, np.diff(t) > 0]          # logger duplicates (none expected)
    t, i, v, ah, T = t[keep], i[keep], v[keep], ah[keep], T[keep]
    q = np.r_[0.0, np.cumsum(i[1:] * np.diff(t))]  # As; sample k held over (t[k-1], t[k]]
    grid = np.arange(0.0, np.floor(t[-1]) + 1.0)
    # Only the seconds that end on a source sample: where the logger was sparse (rests at 60 s) the grid is
    # as sparse as the source, so a per-sample metric weighs rest and drive as the source file does (a
    # uniform 1 s grid turned n20degC_NN's 7,143 s opening rest into 7,143 rows and diluted its RMSE from
    # 4.2 % to 2.2 %).
    has = np.zeros(len(grid), bool)
    has[np.minimum(np.ceil(t).astype(int), len(grid) - 1)] = True
    has[0] = has[-1] = True
    grid = grid[has]
    qg = np.interp(grid, t, q)                   # exact for the piecewise-constant current
    ig = np.r_[0.0, np.diff(qg) / np.diff(grid)]
    last = np.searchsorted(t, grid, side="right") - 1
    vg, Tg = v[last], T[last]
    ahg = np.interp(grid, t, ah)
    lines = [",".join(COLS)] + [f"{int(a)},{b:.5f},{c:.5f},{d:.5f},{e:.2f}" for a, b, c, d, e in zip(grid, vg, ig, ahg, Tg)]
    size = write_gz(dst, lines)
    return {"rows_in": len(rows), "rows_out": len(grid), "bytes": size,
            "Ah_tester_end": float(ah[-1]), "Ah_resampled_current_end": float(qg[-1] / 3600.0)}


def trim_hppc(src: Path, dst: Path) -> dict:
    header, rows = read_rows(src)
    t = numeric(header, rows, "Time")
    i = numeric(header, rows, "Current")
    v = numeric(header, rows, "Voltage")
    n = len(t)
    on = i != 0.0
    keep = on.copy()
    edges = np.flatnonzero(np.diff(on.astype(np.int8))) + 1
    for e in edges:
        keep[max(e - 3, 0):min(e + 4, n)] = True
    keep[0] = keep[-1] = True
    gaps = np.flatnonzero(np.diff(t) > 5.0)     # the interpulse discharges were cut out here: keep both sides
    keep[gaps] = True
    keep[gaps + 1] = True
    # rests
    k = 0
    while k < n:
        if on[k]:
            k += 1
            continue
        r1 = k
        while r1 < n and not on[r1]:
            r1 += 1
        lt, lv = None, None
        for j in range(k, r1):
            if keep[j]:
                lt, lv = t[j], v[j]
                continue
            if lt is None or t[j] - lt >= 60.0 or abs(v[j] - lv) >= 0.0012:
                keep[j] = True
                lt, lv = t[j], v[j]
        keep[r1 - 1] = True
        k = r1
    idx = np.flatnonzero(keep)
    size = write_gz(dst, subset(header, rows, idx))
    return {"rows_in": n, "rows_out": int(len(idx)), "bytes": size}


def interpulse_rows(pulse_src: Path, ip_src: Path):
    """Indices of interpulse rows belonging to the 5-pulse run, and the clock offset."""
    hp, rp = read_rows(pulse_src)
    tp, ahp = numeric(hp, rp, "Time"), numeric(hp, rp, "Ah")
    hi, ri = read_rows(ip_src)
    ti, ahi, ii = numeric(hi, ri, "Time"), numeric(hi, ri, "Ah"), numeric(hi, ri, "Current")
    g = np.flatnonzero(np.diff(tp) > 100.0)
    if not len(g):
        raise ValueError(f"{pulse_src}: no time gaps (interpulse discharges) found")
    k = g[0]
    offset = tp[k] + (ahp[k] - ahi[0]) / abs(ii[0]) * 3600.0
    tm = ti + offset
    keep = np.zeros(len(ti), bool)
    for k in g:
        keep |= (tm > tp[k]) & (tm <= tp[k + 1] + 1.0)
    # final discharge to the cut-off right after the 5-pulse file ends: contiguous, Ah decreasing
    j = int(np.searchsorted(tm, tp[-1], side="right"))
    prev, t_prev = ahp[-1], tp[-1]
    while (j < len(ti) and ahi[j] <= prev + 1e-9 and float(ri[j][hi.index("Voltage")]) > 1.0
           and tm[j] - t_prev < 600.0):
        keep[j] = True
        prev, t_prev = ahi[j], tm[j]
        j += 1
    return hi, ri, np.flatnonzero(keep), float(offset)


def main(argv):
    src = Path(argv[1]) if len(argv) > 1 else (ROOT.parent / "shared" / "data" / "panasonic-18650pf")
    out = Path(argv[2]) if len(argv) > 2 else ROOT / "python" / "cellsense" / "data" / "panasonic_18650pf"
    if not src.is_dir():
        sys.exit(f"{src}: not a directory (pass the Panasonic 18650PF source directory)")
    report = {}
    for name in DRIVE:
        f = f"25degC_{name}.csv.gz"
        report[f"drive/{f}"] = resample_drive(src / "drive" / f, out / "drive" / f)
    for name in COLD:
        f = f"{name}.csv.gz"
        if (src / "drive-cold" / f).is_file():
            report[f"drive-cold/{f}"] = resample_drive(src / "drive-cold" / f, out / "drive-cold" / f)
    f = "25degC_C20_OCV_discharge_charge.csv.gz"
    h, r = read_rows(src / "characterisation" / f)
    chamber = numeric(h, r, "Chamber_Temp_degC")
    n_keep = int(np.argmax(chamber < 20.0)) if np.any(chamber < 20.0) else len(r)  # file ends after a 13.6 h gap at 10 degC
    report[f"characterisation/{f}"] = {"rows_in": len(r), "rows_out": n_keep,
                                       "bytes": write_gz(out / "characterisation" / f, subset(h, r, range(n_keep)))}
    for T in TEMPS:
        fp = f"{T}_HPPC_5pulse.csv.gz"
        report[f"characterisation/{fp}"] = trim_hppc(src / "characterisation" / fp, out / "characterisation" / fp)
        fi = f"{T}_HPPC_interpulse_discharges.csv.gz"
        hi, ri, idx, off = interpulse_rows(src / "characterisation" / fp, src / "characterisation" / fi)
        report[f"characterisation/{fi}"] = {"rows_in": len(ri), "rows_out": int(len(idx)), "clock_offset_s": round(off, 3),
                                            "bytes": write_gz(out / "characterisation" / fi, subset(hi, ri, idx))}
    total = 0
    for k, v in report.items():
        p = out / k
        v["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
        total += v["bytes"]
        print(f"{k}: {v['rows_in']} -> {v['rows_out']} rows, {v['bytes'] / 1024:.1f} kB")
    print(f"total {total / 1024:.1f} kB")
    (out / "MANIFEST.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
