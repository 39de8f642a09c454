"""Checks on a CAN capture's frames before they are decoded (docs/replay.md): a clock that steps back (re-anchored,
reported), a burst of frames whose timestamps jumped ahead of the clock (dropped, reported) and the pack's messages on more than one bus without "can": {"bus": N} (refused). A frame is
(timestamp_s, arbitration_id, data, channel or None), in capture order."""
from __future__ import annotations

from ..pack import CLOCK_REANCHOR_AFTER

#: a timestamp this much (s) before the previous frame of its bus is a step back of the capture's clock, not jitter
BACKWARDS_STEP_S = 1.0
#: a step back is re-anchored when this many frames of the bus in a row (the step and the ones after it) stay behind
#: the clock before it (the core's log-clock rule for a CSV log, cellsense.pack.CLOCK_REANCHOR_AFTER); one frame
#: back and the next ones forward again is one bad timestamp, left to the sort
CONFIRM_FRAMES = CLOCK_REANCHOR_AFTER
#: a 32-bit microsecond counter (SavvyCAN GVRET) wraps after this (s); a step back within WRAP_MARGIN_S below it is
#: that wrap, undone exactly
COUNTER_WRAP_S = 2.0 ** 32 * 1e-6
WRAP_MARGIN_S = 60.0
#: at most this many re-anchors are described one by one (all are counted: `timestamps_reanchored`)
MAX_NOTES = 10
#: the bus's usual frame interval is the median step of this many frames before a burst
FRAME_DT_WINDOW = 50
#: a stretch ahead of the clock longer than this (frames) is not a glitch burst: the step back after it is the clock's
MAX_BURST_FRAMES = 10_000


def _where(pos, k: int) -> str:
    return f"line {pos}" if pos is not None else f"frame {k + 1}"


def _frame_dt(times: list, end: int) -> float:
    """The bus's usual frame interval before position `end` (median positive step of up to FRAME_DT_WINDOW frames)."""
    d = [b - a for a, b in zip(times[max(0, end - FRAME_DT_WINDOW):end], times[max(0, end - FRAME_DT_WINDOW) + 1:end])]
    d = sorted(x for x in d if x > 0)
    return d[len(d) // 2] if d else 0.0


def _burst_before(times: list, dropped: list, j: int, s: float) -> tuple[int, int] | None:
    """(first, pre): the stretch of a bus's frames just before position j that sit ahead of s (their timestamps jumped
    forward: first..j-1, not already dropped) and the last frame before it (pre), when the frame at j continues the
    pre-burst clock: s not behind frame pre's time and the burst's frames fit, at the bus's usual frame interval,
    between pre and s. None when there is no such frame pre within MAX_BURST_FRAMES (the step back is the clock's
    own)."""
    i = j - 1
    while i >= 0 and j - i <= MAX_BURST_FRAMES and (dropped[i] or times[i] > s + BACKWARDS_STEP_S):
        i -= 1
    if i < 0 or i == j - 1 or j - i > MAX_BURST_FRAMES:
        return None
    n = sum(1 for k in range(i + 1, j) if not dropped[k])
    p = times[i]
    if s < p - BACKWARDS_STEP_S or n * _frame_dt(times, i + 1) > (s - p) + BACKWARDS_STEP_S:
        return None
    return i + 1, i


def reanchor_backwards(frames: list, where: list | None, counts) -> tuple[list, list[str]]:
    """The frames with every confirmed step back of a bus's clock re-anchored or the burst before it dropped, and a
    note for each.

    Per bus (channel; None is a bus of its own), in capture order: a frame more than BACKWARDS_STEP_S before the
    previous frame of its bus, with the CONFIRM_FRAMES - 1 frames after it behind that time too, is a confirmed step.
    What follows decides which side is the outlier. When the frames before the step sit ahead since a forward jump
    (a burst) and the step's frame continues the clock from before that jump (not behind the last frame before the
    burst, and the burst's frames fit between the two at the bus's usual frame interval), the burst is the outlier:
    it is dropped (counted `frames_dropped_clock_glitch`); re-anchoring would have shifted every later good frame
    forward by the glitch. Otherwise the clock really stepped back: the step's frame and every later frame of the bus
    are shifted to continue from the previous frame's time (no time passes across the step: the log does not say how
    much did), or by exactly COUNTER_WRAP_S when the step is a 32-bit microsecond counter's wrap. Without it the sort
    interleaved the two stretches (a 500 s step back on the 12s fixture: host RMSE against the reference 0.39 ->
    7.18 %). A forward jump the log stays at is a gap (the estimator's gap rules), not touched here. A single frame
    behind its neighbours is one bad timestamp, left to the sort. `where`: each frame's line in the file (None:
    unknown)."""
    by_bus: dict = {}
    for k, f in enumerate(frames):
        by_bus.setdefault(f[3], []).append(k)
    shift = [0.0] * len(frames)
    drop = [False] * len(frames)
    notes: list[str] = []
    n = n_burst = 0
    for bus, idx in by_bus.items():
        off = 0.0
        prev = None
        times: list[float] = []     # the bus's frames' times after the shifts so far
        dropped: list[bool] = []
        for j, k in enumerate(idx):
            s = frames[k][0] + off
            if prev is not None and s < prev - BACKWARDS_STEP_S:
                after = idx[j + 1:j + CONFIRM_FRAMES]
                if len(after) < CONFIRM_FRAMES - 1 or any(frames[i][0] + off >= prev - BACKWARDS_STEP_S for i in after):
                    prev = s  # one bad timestamp: left where it is
                    shift[k] = off
                    times.append(s)
                    dropped.append(False)
                    continue
                burst = _burst_before(times, dropped, j, s)
                if burst is not None:
                    first, pre = burst
                    gone = [i for i in range(first, j) if not dropped[i]]
                    for i in gone:
                        dropped[i] = drop[idx[i]] = True
                    n_burst += 1
                    counts["frames_dropped_clock_glitch"] += len(gone)
                    counts["frames"] -= len(gone)  # `frames`: the frames kept
                    if len(notes) < MAX_NOTES:
                        k0 = idx[gone[0]]
                        notes.append(f"{_where(where[k0] if where else None, k0)}: the capture's clock jumps ahead "
                                     f"{times[gone[0]] - times[pre]:.6g} s on bus {'(none)' if bus is None else bus} "
                                     f"({times[pre]:.6f} -> {times[gone[0]]:.6f} s) for {len(gone)} frame(s), then "
                                     f"{_where(where[k] if where else None, k)} continues from {s:.6f} s: the "
                                     f"{len(gone)} frame(s) ahead dropped as a glitch, not re-anchored")
                    shift[k] = off
                    times.append(s)
                    dropped.append(False)
                    prev = s
                    continue
                step, back = prev - s, s
                wrap = COUNTER_WRAP_S - WRAP_MARGIN_S < step <= COUNTER_WRAP_S
                off += COUNTER_WRAP_S if wrap else step
                n += 1
                if len(notes) < MAX_NOTES:
                    how = (f"a 32-bit microsecond counter's wrap: unwrapped (+{COUNTER_WRAP_S:.6f} s)" if wrap else
                           "re-anchored: the frames from there on continue from the last time before it")
                    notes.append(f"{_where(where[k] if where else None, k)}: the capture's clock steps back "
                                 f"{step:.6g} s on bus {'(none)' if bus is None else bus} ({prev:.6f} -> {back:.6f} s); "
                                 + how)
                s = frames[k][0] + off
            shift[k] = off
            times.append(s)
            dropped.append(False)
            prev = s
    if n + n_burst > MAX_NOTES:
        notes.append(f"... and {n + n_burst - MAX_NOTES} more steps back re-anchored or bursts ahead dropped")
    if n:
        counts["timestamps_reanchored"] += n
    if n or n_burst:
        frames = [f if not d else (f[0] + d,) + tuple(f[1:]) for f, d, x in zip(frames, shift, drop) if not x]
    return frames, notes


def mixed_bus_message(frames: list, by_id: dict, can_bus: int | None, source: str, pack_source: str) -> str | None:
    """Why the capture cannot be decoded without "can": {"bus": N}, or None: the pack file selects no bus and a
    message carrying the pack's signals comes on more than one bus (decoded together, the two streams would be mixed
    frame by frame: a second pack, or a gateway's copy with other contents; the Kona capture's P-CAN and C-CAN both
    carry 0x595 / 0x596). A channel without a bus number (an interface name without digits) counts as a bus of its
    own beside numbered ones: a capture with frames of only unnumbered channels has nothing to attribute."""
    if can_bus is not None:
        return None
    buses: dict[int, set] = {}
    for f in frames:
        if f[1] in by_id:
            buses.setdefault(f[1], set()).add(f[3])
    mixed = sorted(fid for fid, b in buses.items() if len(b) > 1)
    if not mixed:
        return None
    fid = mixed[0]
    on = sorted(buses[fid], key=lambda b: (b is None, b if b is not None else 0))
    on = [b if b is not None else "an unnumbered channel" for b in on]
    more = f" (and {len(mixed) - 1} more of the pack's messages)" if len(mixed) > 1 else ""
    return (f"{source}: message {fid:#x} ({getattr(by_id[fid][0], 'name', '?')}) carrying the pack's signals is on buses "
            f"{', '.join(str(b) for b in on)}{more}: set \"can\": {{\"bus\": N}} in the pack file {pack_source} to "
            f"read one of them")


def unused_frames(frames: list, by_id: dict, dbc_ids: set, can_bus: int | None, numbered: bool) -> dict[str, int]:
    """The capture's frames the pack does not use, by why (only the nonzero counts): `frames_other_bus` (on a bus other
    than "can": {"bus": N}), then among the rest `frames_not_in_dbc` (an id the DBC does not define) and
    `frames_not_pack` (an id of the DBC that carries none of the pack's signals). With `decoded_frames`,
    `malformed_frames` and `frames_without_bus` they add up to `frames`: another bus's traffic was only the
    difference between the two."""
    out = {"frames_other_bus": 0, "frames_not_in_dbc": 0, "frames_not_pack": 0}
    for f in frames:
        fid, ch = f[1], f[3]
        if can_bus is not None and ch is not None and ch != can_bus:
            out["frames_other_bus"] += 1
        elif fid in by_id:
            continue  # the pack's: decoded, malformed or without a bus number (counted there)
        elif fid not in dbc_ids:
            out["frames_not_in_dbc"] += 1
        else:
            out["frames_not_pack"] += 1
    return {k: v for k, v in out.items() if v}
