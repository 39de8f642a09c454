"""Truths kept on disk: the shipped ones (python/cellsense/data/truth, keyed by what produced them) and
the content-keyed cache of solves (docs/truth.md, "Cache")."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from .._io import write_atomically
from ..io.logs import COLUMNS, check_complete, log_lines, parse_log_bytes
from .result import jsonable
from .schedules import _build_schedule
from .solver import ATOL, CACHE_FORMAT, RTOL


def default_cache_dir() -> Path:
    env = os.environ.get("CELLSENSE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "cellsense" / "sim"


#: the demo's DFN truths shipped with the package (python/cellsense/data/truth; regenerate with
#: `python scripts/make_demo_truths.py --fresh`): the cell log as .csv.gz (soc_true on the nominal scale, as
#: cached) and its provenance .json (PyBaMM version, parameter set, solver settings, the cache key)
TRUTH_DIR = Path(__file__).resolve().parents[1] / "data" / "truth"
TRUTH_COLUMNS = COLUMNS  #: a shipped truth's columns: the cell log's (io.logs.COLUMNS)


def _truth_key_obj(cell, model, settings, T, sched, pb_version, thermal: str = "lumped") -> dict:
    """What identifies a truth: the cache key object (without it, two runs of different settings could share a file).
    `thermal`: "lumped", or "isothermal" for a set without the lumped model's parameters (solver.thermal_option)."""
    return {"cache format": CACHE_FORMAT, "cell": cell, "model": model, "settings": settings,
            "temperature [degC]": T, "upper cut-off [V]": sched.upper_cutoff_V,
            "lower cut-off [V]": sched.lower_cutoff_V, "pybamm": pb_version,
            "solver": {"name": "IDAKLUSolver", "rtol": RTOL, "atol": ATOL}, "thermal": thermal}


def _key_without_version(key_obj: dict) -> str:
    k = {a: b for a, b in key_obj.items() if a != "pybamm"}
    return hashlib.sha256(json.dumps(jsonable(k), sort_keys=True).encode()).hexdigest()


def shipped_truths() -> list[dict]:
    """Provenance records of the truths shipped with the package (one per .json in TRUTH_DIR)."""
    out = []
    for f in sorted(TRUTH_DIR.glob("*.json")) if TRUTH_DIR.is_dir() else []:
        rec = json.loads(f.read_text(encoding="utf-8"))
        rec["_json"] = f
        rec["_data"] = f.with_name(rec["data file"])
        out.append(rec)
    return out


def _find_shipped(cell, model, settings, T, upper_cutoff_V, lower_cutoff_V):
    """The shipped truth for exactly this request, or None. Matched on the cache key (all settings and
    cut-offs, the cell's nominal capacity and cut-offs from the record), whatever PyBaMM is installed:
    nothing here imports PyBaMM."""
    for rec in shipped_truths():
        if rec["key"]["cell"] != cell or rec["key"]["model"] != model:
            continue
        info = rec["cell info"]
        sched = _build_schedule(settings, info["nominal capacity [A.h]"], info["lower cut-off [V]"],
                                info["upper cut-off [V]"], upper_cutoff_V, lower_cutoff_V)
        key_obj = _truth_key_obj(cell, model, settings, T, sched, rec["key"]["pybamm"])
        if _key_without_version(key_obj) == rec["key sha256 (without pybamm)"] and rec["_data"].exists():
            return rec
    return None


def _load_shipped(rec) -> tuple[dict, dict]:
    """(truth arrays as cached, meta) of a shipped truth record; checks the data file's sha256."""


    raw = rec["_data"].read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != rec["data sha256"]:
        raise ValueError(f"{rec['_data']}: sha256 {digest} differs from its provenance {rec['_json'].name} "
                         f"({rec['data sha256']}): the shipped truth is damaged; --fresh re-solves it")
    cols, a = parse_log_bytes(gzip.decompress(raw), rec["_data"], all_columns=True, comments=False)  # the one reader
    if tuple(cols) != TRUTH_COLUMNS:
        raise ValueError(f"{rec['_data']}: header {','.join(cols)!r}, expected {','.join(TRUTH_COLUMNS)}")
    truth = {c: np.ascontiguousarray(a[:, j]) for j, c in enumerate(TRUTH_COLUMNS)}
    check_complete(truth, rec["_data"])  # a truth is a complete log, as read_log requires
    meta = json.loads(json.dumps(rec["meta"]))
    return truth, meta


def write_shipped_truth(res_truth: dict, meta: dict, key_obj: dict, cell_info: dict, q_ref_how, stem: str,
                        command: str, out_dir=None) -> Path:
    """Write <stem>.csv.gz (reproducible gzip: mtime 0) and <stem>.json (provenance). Used by
    scripts/make_demo_truths.py."""


    out_dir = Path(out_dir) if out_dir else TRUTH_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / f"{stem}.csv.gz"
    # the one writer's lines, every value exact (shortest repr: reads back bit for bit)
    text = "".join(log_lines({c: res_truth[c] for c in TRUTH_COLUMNS}, path=data))
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    data.write_bytes(buf.getvalue())
    rec = {"format": "cellsense shipped truth", "format version": 1,
           "what": f"{key_obj['cell']} {key_obj['model']} (lumped thermal), {key_obj['settings']['protocol']} at "
                   f"{key_obj['temperature [degC]']:g} degC: the PyBaMM truth `cellsense demo` compares against",
           "data file": data.name, "data sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
           "columns": list(TRUTH_COLUMNS),
           "soc_true scale": "nominal (initial_soc - Q_dis / nominal capacity), as cached; simulate() puts it on "
                             "the reference capacity below",
           "pybamm version": meta.get("pybamm version"), "parameter set": key_obj["cell"],
           "model": key_obj["model"], "solver": meta.get("solver"), "solve time [s]": meta.get("solve time [s]"),
           "regenerate": command,
           "cell info": cell_info,
           "reference capacity [A.h]": q_ref_how[0], "reference capacity source": q_ref_how[1],
           "key": key_obj, "key sha256 (without pybamm)": _key_without_version(key_obj),
           "meta": jsonable({k: v for k, v in meta.items() if k not in ("cache", "sensor")})}
    j = out_dir / f"{stem}.json"
    j.write_text(json.dumps(jsonable(rec), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return j


class _TruthCache:
    """One content-addressed truth file: `<cache dir>/<prefix><sha256 of key_obj>.npz` holding the arrays and
    the sidecar meta (JSON). Shared by simulate() and simulate_aging()."""

    def __init__(self, key_obj: dict, cache_dir, enabled: bool, prefix: str = ""):
        self.key = prefix + hashlib.sha256(json.dumps(jsonable(key_obj), sort_keys=True).encode()).hexdigest()[:32]
        self.dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.file = self.dir / f"{self.key}.npz"
        self.enabled = enabled

    def load(self, names) -> tuple[dict, dict] | tuple[None, None]:
        """(arrays, meta) on a hit (meta["cache"] says so); (None, None) when absent, disabled or unreadable."""
        if not (self.enabled and self.file.exists()):
            return None, None
        try:
            with np.load(self.file, allow_pickle=False) as z:
                truth = {k: z[k] for k in names}
                meta = json.loads(str(z["meta"]))
        except Exception:  # a damaged or foreign file is a miss: the truth is solved again
            return None, None
        meta["cache"] = {"key": self.key, "hit": True, "file": str(self.file)}
        return truth, meta

    def store(self, truth: dict, meta: dict) -> None:
        """Mark meta as a miss and, if enabled, write arrays + meta atomically."""
        meta["cache"] = {"key": self.key, "hit": False, "file": str(self.file) if self.enabled else None}
        if self.enabled:
            self.dir.mkdir(parents=True, exist_ok=True)
            payload = dict(truth)
            payload["meta"] = np.array(json.dumps(jsonable(meta)))
            write_atomically(self.file, lambda fh: np.savez(fh, **payload), mode="wb")
