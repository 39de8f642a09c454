"""Log readers: a pack CSV (one column per cell voltage) and CAN logs (candump `.log`, Vector `.asc` and
`.blf` through python-can; SavvyCAN GVRET `.csv`) decoded with a DBC through cantools. Everything is
converted at the edge (pack-file scaling, current sign: + = discharge) and every malformed line or
frame is counted, never fatal. CAN signals are resampled on the pack file's period (zero-order hold of
the latest value; older than `stale_s` = a dropped reading, NaN); a silence longer than the gap
threshold (logger or vehicle off) leaves a time gap that the pack estimator handles (docs/replay.md)."""
from __future__ import annotations

import csv
import functools
import gzip
import io
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from .._io import MissingExtraError, Progress
from ..pack import PackLog, PackSpec
from . import capture
from .capture import mixed_bus_message, reanchor_backwards
from .gaps import silence_note
from .stuck import check_stuck


class LogReadError(ValueError):
    """A log cannot be read at all (missing file, no usable header, no data). Names the file."""


def _require(module: str, what: str):
    """import `module` or raise MissingExtraError naming the package and the extra that brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pkg = {"can": "python-can", "cantools": "cantools", "serial": "pyserial"}.get(module, module)
        raise MissingExtraError(f"{what} needs {pkg}, which is not installed: pip install 'cellsense[replay]'") from None


def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _lines(f, path: Path):
    """The lines of a text file from `_open_text`; a truncated or corrupt .gz (EOFError, BadGzipFile, zlib
    error) becomes a LogReadError naming the file and the last line read."""
    import zlib

    n = 0
    try:
        for line in f:
            n += 1
            yield line
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise LogReadError(f"{path}: line {n + 1}: truncated or corrupt gzip data ({e or type(e).__name__})") from None


def _strip_gz(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def read_log(path: str | os.PathLike, spec: PackSpec, dbc: str | os.PathLike | None = None,
             progress: bool = False) -> PackLog:
    """Read a log for `spec`: CSV (pack columns) unless a DBC is given or the file is a CAN log. `progress`: a
    CAN log whose decoding takes more than 2 s shows the frames decoded with an ETA on stderr. Stuck sensors are
    checked on the result (stuck.check_stuck: reported in log.notes, a stuck cell voltage's span dropped)."""
    path = Path(path)
    if not path.is_file():
        raise LogReadError(f"{path}: no such file")
    name = _strip_gz(path)
    if name.endswith((".log", ".asc", ".blf")) or dbc is not None:
        if dbc is None:
            raise LogReadError(f"{path}: a CAN log needs --dbc")
        frames, counts, notes = read_can_capture(path)
        log = decode_frames(frames, counts, spec, load_dbc(dbc), source=str(path), progress=progress, notes=notes)
    else:
        log = read_pack_csv(path, spec)
    return check_stuck(spec, log)  # a stuck sensor's span: reported, its cell's voltage a dropped reading (stuck.py)


# ---- pack CSV --------------------------------------------------------------------------------------
def read_pack_csv(path: str | os.PathLike, spec: PackSpec) -> PackLog:
    path = Path(path)
    if spec.time is None:
        raise LogReadError(f"{spec.source}: a CSV log needs \"time\" in the pack file")
    counts: Counter = Counter()
    with _open_text(path) as f:
        reader = csv.reader(_lines(f, path))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise LogReadError(f"{path}: empty file") from None
        if header:
            header[0] = header[0].lstrip("\ufeff")  # a UTF-8 byte-order mark (spreadsheet exports)
        need = spec.signals() + [spec.time.name]
        missing = [c for c in need if c not in header]
        if missing:
            raise LogReadError(f"{path}: line 1: missing column(s) {', '.join(missing)} (pack file {spec.source})")
        idx = {c: header.index(c) for c in need}
        rows: list[list[float]] = []
        for row in reader:
            if not row or all(not x.strip() for x in row):
                continue
            if len(row) != len(header):
                counts["malformed_lines"] += 1
                continue
            vals = []
            bad = False
            for c in need:
                tok = row[idx[c]].strip()
                if tok == "":
                    vals.append(math.nan)  # a dropped reading: reaches the estimator as NaN
                    continue
                if "_" in tok:  # float() takes "1_0" as 10.0; a log does not
                    bad = True
                    break
                try:
                    vals.append(float(tok))
                except ValueError:
                    bad = True
                    break
            if bad or not math.isfinite(vals[-1]):  # the timestamp must be a finite number
                counts["malformed_lines"] += 1
                continue
            rows.append(vals)
    if not rows:
        raise LogReadError(f"{path}: no data rows")
    a = np.array(rows, dtype=float)
    col = {c: a[:, k] for k, c in enumerate(need)}
    counts["rows"] = len(rows)
    return _assemble(spec, spec.time.convert(col[spec.time.name]), col, str(path), counts)


def _assemble(spec: PackSpec, time_s: np.ndarray, col: dict, source: str, counts: Counter,
              notes: list[str] | None = None) -> PackLog:
    n = len(time_s)
    volts = np.empty((n, spec.n_cells))
    for k, c in enumerate(spec.cells):
        volts[:, k] = c.voltage.convert(col[c.voltage.name])
    temps = np.column_stack([t.convert(col[t.name]) for t in spec.temperatures])
    ref = spec.reference_soc.convert(col[spec.reference_soc.name]) if spec.reference_soc is not None else None
    return PackLog(time_s, spec.current.convert(col[spec.current.name]), volts, temps, ref, source, dict(counts),
                   list(notes or []))


# ---- CAN logs ------------------------------------------------------------------------------------------
# A frame: (timestamp_s, arbitration_id, data bytes, channel or None)
_CANDUMP = re.compile(r"^\s*\((\d+(?:\.\d+)?)\)\s+(\S+)\s+([0-9A-Fa-f]{1,8})#(R|[0-9A-Fa-f]*)\s*$")


def read_can_frames(path: str | os.PathLike) -> tuple[list, Counter]:
    """The frames of a CAN log in capture order (a step back of its clock re-anchored) and the reader's counts."""
    frames, counts, _ = read_can_capture(path)
    return frames, counts


def read_can_capture(path: str | os.PathLike) -> tuple[list, Counter, list[str]]:
    """`read_can_frames`, and a note for each step back of the capture's clock that was re-anchored (capture.py)."""
    path = Path(path)
    frames, where, counts = _read_can(path)
    frames, notes = reanchor_backwards(frames, where, counts)
    return frames, counts, notes


def _read_can(path: Path) -> tuple[list, list | None, Counter]:
    """Frames in capture order, each one's line in the file (None for .asc / .blf) and the counts."""
    name = _strip_gz(path)
    counts: Counter = Counter()
    if name.endswith(".csv"):
        where: list = []
        return _read_gvret(path, counts, where), where, counts
    if not name.endswith((".log", ".asc", ".blf")):
        raise LogReadError(f"{path}: unknown CAN log type (.log candump, .asc, .blf, .csv GVRET)")
    can = _require("can", f"reading {path.name}")

    if name.endswith(".log"):
        # python-can's candump reader stops at the first malformed line: hand it only well-formed lines
        # (counting the rest), so one bad line costs one frame, not the log.
        good, good_at = [], []
        with _open_text(path) as f:
            for at, line in enumerate(_lines(f, path), 1):
                if not line.strip():
                    continue
                m = _CANDUMP.match(line)
                if m is None or (m.group(4) != "R" and len(m.group(4)) % 2) or len(m.group(1)) > 40:
                    counts["malformed_lines"] += 1
                else:
                    good.append(line if line.endswith("\n") else line + "\n")
                    good_at.append(at)
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as tmp:
            tmp.writelines(good)
        try:
            msgs = list(can.LogReader(tmp.name))
        finally:
            os.unlink(tmp.name)
        at_line = good_at if len(good_at) == len(msgs) else [None] * len(msgs)  # python-can: one message a line
    else:
        msgs = _read_vector_log(path, counts, blf=name.endswith(".blf"))
        at_line = [None] * len(msgs)
    frames, where = [], []
    for m, at in zip(msgs, at_line):
        if m.is_error_frame or m.is_remote_frame:
            counts["error_or_remote_frames"] += 1
            continue
        frames.append((float(m.timestamp), int(m.arbitration_id), bytes(m.data), channel_number(m.channel)))
        where.append(at)
    counts["frames"] = len(frames)
    return frames, (where if any(w is not None for w in where) else None), counts


_CHANNEL_NAME = re.compile(r"^[A-Za-z_]*?(\d+)$")


def channel_number(ch) -> int | None:
    """A frame's bus as an integer: python-can gives ints for .asc / .blf (Vector channels) and interface
    names for candump ("can0", "vcan1", "slcan2"): the trailing number is the bus ("can": {"bus": 1}
    selects can1). None when there is no number (then the frame cannot be attributed to a bus)."""
    if ch is None or isinstance(ch, bool):
        return None
    if isinstance(ch, int):
        return ch
    m = _CHANNEL_NAME.match(str(ch).strip())
    return int(m.group(1)) if m else None


def _read_vector_log(path: Path, counts: Counter, blf: bool) -> list:
    """Vector .asc / .blf through python-can. A broken record is counted (`malformed_frames`) and ends the
    file; a file python-can cannot even open (a BLF shorter than its file header, or without the "LOGG"
    signature) is a LogReadError. BLF goes through _guarded_blf_reader (see there)."""
    can = _require("can", f"reading {path.name}")

    src = gzip.open(path, "rb") if blf and path.suffix.lower() == ".gz" else None  # .blf.gz, as can.LogReader
    try:
        if blf:
            log_reader = _guarded_blf_reader()(src or str(path))
        elif path.suffix.lower() == ".gz":
            log_reader = can.LogReader(str(path))  # .asc.gz: python-can's own reader
        else:
            log_reader = _guarded_asc_reader()(str(path))
    except Exception as e:  # noqa: BLE001 - struct.error, BLFParseError, OSError, UnicodeError...
        if src is not None:
            src.close()
        kind = "BLF" if blf else "ASC"
        raise LogReadError(f"{path}: not a readable {kind} log: {e or type(e).__name__}") from None
    msgs: list = []
    try:
        reader = iter(log_reader)
        while True:
            try:
                msgs.append(next(reader))
            except StopIteration:
                break
            except Exception:  # noqa: BLE001 - a broken record: count it, stop reading this file
                counts["malformed_frames"] += 1
                break
    finally:
        log_reader.stop()
    counts["malformed_lines"] += getattr(log_reader, "malformed_lines", 0)
    if not counts["malformed_lines"]:
        del counts["malformed_lines"]
    return msgs


@functools.lru_cache(maxsize=None)
def _guarded_asc_reader():
    """python-can's ASCReader, except that a line it cannot parse (a CAN frame line with a bad id, length or
    data byte: ValueError / IndexError inside python-can) is skipped and counted (`malformed_lines`) instead
    of ending the read: one bad line used to cost the rest of the file (28 of 300 frames kept, issue #12).
    The loop is python-can 4.x's ASCReader.__iter__ with each line's parse guarded."""
    from can.io.asc import ASC_MESSAGE_REGEX, ASC_TRIGGER_REGEX, ASCReader

    class GuardedASCReader(ASCReader):
        malformed_lines = 0

        def __iter__(self):
            self._extract_header()
            for _line in self.file:
                line = _line.strip()
                trigger_match = ASC_TRIGGER_REGEX.match(line)
                if trigger_match:
                    try:
                        self.start_time = (0.0 if self.relative_timestamp
                                           else self._datetime_to_timestamp(trigger_match.group("datetime_string")))
                    except Exception:  # noqa: BLE001 - an unparsable date: counted, the old start kept
                        self.malformed_lines += 1
                    continue
                if re.match(r"^\d+\.\d+\s+Start of measurement", line) or not ASC_MESSAGE_REGEX.match(line):
                    continue
                kw: dict = {}
                try:
                    _timestamp, channel, rest = line.split(None, 2)
                    kw["timestamp"] = float(_timestamp) + self.start_time
                    if channel == "CANFD":
                        kw["is_fd"] = True
                    elif channel.isdigit():
                        kw["channel"] = int(channel) - 1
                    else:
                        continue
                except ValueError:
                    continue
                try:
                    if not math.isfinite(kw["timestamp"]):
                        raise ValueError("timestamp")
                    msg = (self._process_fd_can_frame(rest, kw) if kw.get("is_fd")
                           else self._process_classic_can_frame(rest, kw))
                except Exception:  # noqa: BLE001 - a malformed frame line: skipped and counted
                    self.malformed_lines += 1
                    continue
                if msg is not None:
                    yield msg
            self.stop()

    return GuardedASCReader


def _zero_size_object(data: bytes) -> int | None:
    """Offset of the first object of declared size 0 in a container's data, walking the objects the way
    python-can's BLFReader does ("LOBJ" within 8 bytes of the expected position, next object at
    start + size; the walk ends where python-can's would: no signature, or an object that runs past the
    data and continues in the next container). None if there is none."""
    pos, n = 0, len(data)
    while True:
        i = data.find(b"LOBJ", pos, pos + 8)
        if i < 0 or i + 12 > n:
            return None
        size = int.from_bytes(data[i + 8:i + 12], "little")
        if size == 0:
            return i
        if i + size > n:
            return None
        pos = i + size


@functools.lru_cache(maxsize=None)
def _guarded_blf_reader():
    """python-can's BLFReader, except that an object declaring a size of 0 inside a container ends the file
    (BLFParseError, counted as a malformed frame) instead of hanging the reader: python-can 4.6 sets the next
    object's position to start + size, so it parses the same object forever, yielding the same frame into an
    ever-growing list (CAN object types) or spinning without yielding (other types). Found by the `blf`
    fuzz target (tests/fuzz/fuzz_python.py). The container data (after the bytes carried over from the
    previous container) is cut before that object and handed to python-can, which parses what precedes it."""
    from can.io.blf import BLFParseError, BLFReader

    class GuardedBLFReader(BLFReader):
        def _parse_container(self, data):
            joined = self._tail + data if self._tail else data
            cut = _zero_size_object(joined)
            if cut is None:
                yield from super()._parse_container(data)
                return
            self._tail = b""
            yield from super()._parse_container(bytes(joined[:cut]))
            raise BLFParseError(f"object of size 0 at byte {cut} of a container")

    return GuardedBLFReader


def _read_gvret(path: Path, counts: Counter, where: list | None = None) -> list:
    """SavvyCAN GVRET CSV: Time Stamp [us], ID [hex], Extended, Bus, LEN, D1..D8 [hex]. `where`: each frame's line
    is appended to it."""
    frames = []
    with _open_text(path) as f:
        reader = csv.reader(_lines(f, path))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise LogReadError(f"{path}: empty file") from None
        if header:
            header[0] = header[0].lstrip("\ufeff")
        try:
            it, iid, ibus, ilen, id1 = (header.index(h) for h in ("Time Stamp", "ID", "Bus", "LEN", "D1"))
        except ValueError:
            raise LogReadError(f"{path}: line 1: not a GVRET CSV header (Time Stamp,ID,Extended,Bus,LEN,D1..)") from None
        for row in reader:
            try:
                n = int(row[ilen])
                if not 0 <= n <= 8:
                    raise ValueError
                data = bytes(int(row[id1 + j], 16) for j in range(n))
                toks = (row[it], row[iid], row[ibus])
                if any("_" in x or len(x.strip()) > 24 for x in toks):  # "1_0" is not 10; 24 digits > 1e18 us
                    raise ValueError
                ts = int(row[it]) * 1e-6
                if not math.isfinite(ts):
                    raise ValueError
                frames.append((ts, int(row[iid], 16), data, int(row[ibus])))
                if where is not None:
                    where.append(reader.line_num)
            except (ValueError, IndexError, OverflowError):
                counts["malformed_lines"] += 1
    counts["frames"] = len(frames)
    return frames


def load_dbc(path: str | os.PathLike):
    """A DBC through cantools. Community DBCs without the ``BS_`` / ``BU_`` sections that the grammar wants (e.g. the
    Kona EV P-CAN DBC) get them added in memory, never in the file; non-strict (overlapping signals allowed)."""
    cantools = _require("cantools", "decoding a CAN log with a DBC")

    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise LogReadError(f"{path}: cannot read DBC: {e.strerror}") from None
    if not re.search(r"^BU_\s*:", text, re.M):
        nodes = set(re.findall(r"^BO_\s+\d+\s+\w+\s*:\s*\d+\s+(\w+)", text, re.M))
        for recv in re.findall(r"^\s*SG_\s.*\"[^\"]*\"\s+(.+)$", text, re.M):
            nodes.update(x.strip() for x in recv.split(",") if x.strip())
        nodes.discard("Vector__XXX")
        section = ("" if re.search(r"^BS_\s*:", text, re.M) else "BS_:\n\n") + "BU_: " + " ".join(sorted(nodes)) + "\n\n"
        m = re.search(r"^BO_\s", text, re.M)
        pos = m.start() if m else len(text)
        text = text[:pos] + section + text[pos:]
    try:
        return cantools.database.load_string(text, database_format="dbc", strict=False)
    except Exception as e:  # noqa: BLE001 - cantools raises several types
        raise LogReadError(f"{path}: cannot parse DBC: {e}") from None


def _signal_index(db) -> dict:
    """'Message.Signal' and unique 'Signal' -> (frame id, message, signal name)."""
    out: dict = {}
    seen: Counter = Counter()
    for msg in db.messages:
        for s in msg.signals:
            out[f"{msg.name}.{s.name}"] = (msg.frame_id, msg, s.name)
            seen[s.name] += 1
    for msg in db.messages:
        for s in msg.signals:
            if seen[s.name] == 1:
                out[s.name] = (msg.frame_id, msg, s.name)
    return out


#: |scale| and |offset| of a DBC signal the pack uses: beyond it a 64-bit raw value overflows float64
#: A DBC signal whose name matches this, in a message carrying pack signals, is that message's rolling
#: counter (E2E alive counter: +1 mod 2^bits per frame). A decoded frame whose counter did not advance by
#: 1..max(2, 2^bits / 16) (0: a repeated frame, more: a corrupted payload) is not used (`counter_errors`);
#: two frames in a row that agree with each other re-synchronise it (`counter_resyncs`, e.g. after a long
#: bus-off); after a silence longer than the gap threshold the next counter is taken as it comes.
COUNTER_SIGNAL = re.compile(r"(?i)(counter|cntr|alive)")
#: A frame with the same id and payload as that id's previous frame within this time is a duplicate capture
#: (`duplicate_frames`, not used): loggers and gateways that see one frame twice stamp both copies alike.
DUPLICATE_WINDOW_S = 1e-3

MAX_DBC_SCALE = 1e18
#: resampling bound (issue #12): at most this many samples per frame carrying the pack's signals (a log
#: sampled faster than its frames arrive is held, never invented), and never more than MAX_SAMPLES
MAX_SAMPLES_PER_FRAME = 100
MAX_SAMPLES = 10_000_000


def _check_resample_size(frames: list, period: float, gap: float, source: str, spec: PackSpec) -> None:
    """Refuse (LogReadError, before anything is allocated) a resampling whose size is set by the settings
    rather than the log: the sample count the grid of `decode_frames` would produce (silences longer than
    `gap` re-anchor it) above MAX_SAMPLES_PER_FRAME x the frames, or above MAX_SAMPLES."""
    ts = np.fromiter((f[0] for f in frames), dtype=float, count=len(frames))
    # the grid steps tick += period: where a timestamp's double resolution is not far below the period the tick
    # stops advancing and the loop runs to the size bound (a corrupt 1.7e16 s timestamp, its frames re-anchored
    # after it: 30 s and 3 GB before the bound refused it; the candump fuzzer's finding of 2026-12-07)
    t_max = float(np.max(np.abs(ts))) if ts.size else 0.0
    if not float(np.spacing(t_max)) * 16.0 <= period:
        raise LogReadError(f"{source}: a frame's timestamp reaches {t_max:.6g} s, where a double resolves only "
                           f"{float(np.spacing(t_max)):.3g} s, too coarse for can.sample_period_s {period:g}: a corrupt "
                           f"timestamp (clock jump) in the log")
    d = np.diff(ts)
    # an upper bound of what the loop emits: per frame interval at most (min(d, gap) + period) / period + 1
    n = float(np.sum(np.minimum(d, gap))) / period + 2.0 * d.size + 1.0
    bound = min(MAX_SAMPLES_PER_FRAME * len(frames), MAX_SAMPLES)
    if not n <= bound:
        k = int(np.argmax(np.where(d <= gap, d, -1.0))) if d.size else 0
        longest = f"; the longest step it would fill is {d[k]:.6g} s after t = {ts[k] - ts[0]:.6g} s" if d.size else ""
        raise LogReadError(f"{source}: resampling would make {n:.4g} samples from {len(frames)} frames (bound "
                           f"{bound:,}: {MAX_SAMPLES_PER_FRAME} per frame, at most {MAX_SAMPLES:,}) with "
                           f"can.sample_period_s {period:g} and gaps.gap_s {spec.gaps.gap_s:g}{longest}: a clock "
                           f"jump in the log, or a period / gap threshold that does not fit it (pack file {spec.source})")


def decode_frames(frames: list, counts: Counter, spec: PackSpec, db, source: str = "<can>",
                  progress: bool = False, notes: list[str] | None = None) -> PackLog:
    """Decode the pack's signals and resample them on spec.sample_period_s (`progress`: frames decoded with an
    ETA on stderr once it takes more than 2 s). `notes` (the capture's repairs, read_can_capture) go to the log.
    A message of the pack's on several buses without "can": {"bus": N} is refused (capture.mixed_bus_message)."""
    index = _signal_index(db)
    wanted = spec.signals()
    missing = [s for s in wanted if s not in index]
    if missing:
        homes: dict[str, list[str]] = {}
        for msg in db.messages:
            for sig in msg.signals:
                homes.setdefault(sig.name, []).append(msg.name)
        ambiguous = [s for s in missing if len(homes.get(s, [])) > 1]
        if ambiguous:
            s = ambiguous[0]
            raise LogReadError(f"{source}: signal {s} is ambiguous: the DBC defines it in {len(homes[s])} messages "
                               f"({', '.join(homes[s])}); name it as Message.Signal, e.g. \"{homes[s][0]}.{s}\" "
                               f"(pack file {spec.source})")
        raise LogReadError(f"{source}: signal(s) {', '.join(missing)} not in the DBC (pack file {spec.source})")
    by_id: dict[int, list] = {}
    for s in wanted:
        fid, msg, sname = index[s]
        sig = msg.get_signal_by_name(sname)
        for attr in ("scale", "offset"):
            val = getattr(sig, attr, 0)
            try:
                ok = abs(float(val)) <= MAX_DBC_SCALE
            except (OverflowError, TypeError, ValueError):
                ok = False
            if not ok:
                raise LogReadError(f"{source}: DBC signal {s}: {attr} {val!r:.40} is beyond the plausible range "
                                   f"(|{attr}| <= {MAX_DBC_SCALE:g})")
        by_id.setdefault(fid, [msg, []])[1].append((s, sname))
    counters: dict[int, tuple[str, int]] = {}
    for fid, (msg, _sigs) in by_id.items():
        for sig in msg.signals:
            if COUNTER_SIGNAL.search(sig.name) and 1 <= int(getattr(sig, "length", 0) or 0) <= 16:
                counters[fid] = (sig.name, 1 << int(sig.length))
                break
    mixed = mixed_bus_message(frames, by_id, spec.can_bus, source, spec.source)
    if mixed:
        raise LogReadError(mixed)
    # "can": {"bus": N}: only frames of bus N (channel_number: can0 -> 0). Frames without a bus number are kept when
    # no frame of the capture has one (a single-channel logger); beside numbered channels they cannot be attributed
    # to bus N, so they are dropped and counted (frames_without_bus), not mixed in.
    numbered = spec.can_bus is not None and any(f[3] is not None for f in frames if f[1] in by_id)
    if numbered:
        unattributed = sum(1 for f in frames if f[1] in by_id and f[3] is None)
        if unattributed:
            counts["frames_without_bus"] += unattributed
    counts.update(capture.unused_frames(frames, by_id, {m.frame_id for m in db.messages}, spec.can_bus, numbered))
    frames = sorted((f for f in frames if f[1] in by_id and (spec.can_bus is None or f[3] == spec.can_bus
                                                             or (f[3] is None and not numbered))),
                    key=lambda f: f[0])
    if not frames:
        raise LogReadError(f"{source}: no frames carrying the pack's signals"
                           + (f" on bus {spec.can_bus}" if spec.can_bus is not None else ""))
    period, stale = spec.sample_period_s, spec.stale_s
    gap = max(spec.gaps.gap_s, 2 * period)
    _check_resample_size(frames, period, gap, source, spec)
    latest = {s: (math.nan, -math.inf) for s in wanted}
    times: list[float] = []
    rows: list[list[float]] = []
    t0 = frames[0][0]
    tick = t0 + period
    ready = False

    def emit(t: float) -> None:
        times.append(t)
        rows.append([v if t - ts <= stale else math.nan for v, ts in (latest[s] for s in wanted)])

    # Sampling instants sit half a period after the frame that completed the signal set, so a burst of
    # frames sent together lands in one sample; after a silence longer than the gap threshold the grid
    # re-anchors on the first frame after it (the time gap stays in the log).
    last_ts = frames[0][0]
    last_frame: dict[int, tuple[float, bytes]] = {}      # per id: the last used frame (time, payload)
    last_counter: dict[int, tuple[int, float]] = {}      # per id: the last accepted counter, its time
    candidate: dict[int, int] = {}                       # per id: the counter of the last refused frame
    silences: list[tuple[float, float]] = []             # bus silences: (start, length), log time (gaps.silence_note)

    bar = Progress(f"decoding {Path(source).name}", total=len(frames), unit="frames", enabled=progress)
    for ts, fid, data, _ch in frames:
        bar.update(1)
        silence = ts - last_ts
        if silence > gap:
            counts["logger_gaps"] += 1      # logger or vehicle off: a time gap in the log
        elif silence > 2 * period:
            counts["bus_silences"] += 1     # no pack frame for > 2 periods (bus-off, frames lost): values held
            silences.append((last_ts - t0, silence))
        if ready and ts - tick > gap:
            if tick - last_ts <= period:  # the sample of the last burst before the silence
                emit(tick)
            tick = ts + 0.5 * period
        while ready and tick < ts:
            emit(tick)
            tick += period
        last_ts = ts
        msg, sigs = by_id[fid]
        try:
            vals = msg.decode(data, decode_choices=False, scaling=True)
        except Exception:  # noqa: BLE001 - wrong length, bad multiplexer...: counted
            counts["malformed_frames"] += 1
            continue
        counts["decoded_frames"] += 1
        prev = last_frame.get(fid)
        if prev is not None and prev[1] == data and abs(ts - prev[0]) <= DUPLICATE_WINDOW_S:
            counts["duplicate_frames"] += 1
            continue
        if fid in counters:
            cname, mod = counters[fid]
            c = vals.get(cname)
            if isinstance(c, (int, float)) and math.isfinite(c):
                c = int(c) % mod
                pc = last_counter.get(fid)
                if pc is not None and ts - pc[1] <= gap:
                    delta = (c - pc[0]) % mod
                    if not 1 <= delta <= max(2, mod // 16):
                        cand = candidate.get(fid)
                        if cand is not None and (c - cand) % mod == 1:
                            counts["counter_resyncs"] += 1
                        else:
                            candidate[fid] = c
                            counts["counter_errors"] += 1
                            continue
                candidate.pop(fid, None)
                last_counter[fid] = (c, ts)
        last_frame[fid] = (ts, data)
        for full, sname in sigs:
            v = vals.get(sname)
            if isinstance(v, (int, float)):
                try:
                    latest[full] = (float(v), ts)
                except OverflowError:  # an integer beyond float range: a dropped reading
                    latest[full] = (math.nan, ts)
        if not ready and all(math.isfinite(latest[s][0]) for s in wanted):
            ready = True
            tick = ts + 0.5 * period
    bar.close()
    if ready and tick - last_ts <= period:
        emit(tick)
    if not rows:
        raise LogReadError(f"{source}: the pack's signals never all appeared")
    a = np.array(rows)
    col = {s: a[:, k] for k, s in enumerate(wanted)}
    counts["samples"] = len(rows)
    note = silence_note(silences, period, stale)
    return _assemble(spec, np.array(times) - t0, col, source, counts, list(notes or []) + ([note] if note else []))
