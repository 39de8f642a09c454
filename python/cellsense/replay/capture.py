"""Checks on a CAN capture's frames before they are decoded (docs/replay.md): a clock that steps back (re-anchored,
reported) and the pack's messages on more than one bus without "can": {"bus": N} (refused). A frame is
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


def _where(pos, k: int) -> str:
    return f"line {pos}" if pos is not None else f"frame {k + 1}"


def reanchor_backwards(frames: list, where: list | None, counts) -> tuple[list, list[str]]:
    """The frames with every confirmed step back of a bus's clock re-anchored, and a note for each.

    Per bus (channel; None is a bus of its own), in capture order: a frame more than BACKWARDS_STEP_S before the
    previous frame of its bus, with the CONFIRM_FRAMES - 1 frames after it behind that time too, starts a new
    clock. It and every later frame of the bus are shifted to continue from the previous frame's time (no time
    passes across the step: the log does not say how much did), or by exactly COUNTER_WRAP_S when the step is a
    32-bit microsecond counter's wrap. Without it the sort interleaved the two stretches (a 500 s step back on the
    12s fixture: host RMSE against the reference 0.39 -> 7.18 %). A single frame ahead of its neighbours (one
    timestamp forward, then back in line) is not a step. `where`: each frame's line in the file (None: unknown)."""
    by_bus: dict = {}
    for k, f in enumerate(frames):
        by_bus.setdefault(f[3], []).append(k)
    shift = [0.0] * len(frames)
    notes: list[str] = []
    n = 0
    for bus, idx in by_bus.items():
        off = 0.0
        prev = prev2 = None
        for j, k in enumerate(idx):
            s = frames[k][0] + off
            if prev is not None and s < prev - BACKWARDS_STEP_S:
                lone_ahead = prev2 is not None and prev - prev2 > BACKWARDS_STEP_S and s >= prev2 - BACKWARDS_STEP_S
                after = idx[j + 1:j + CONFIRM_FRAMES]
                if lone_ahead or len(after) < CONFIRM_FRAMES - 1 or \
                        any(frames[i][0] + off >= prev - BACKWARDS_STEP_S for i in after):
                    prev2, prev = prev, s  # one bad timestamp: left where it is
                    shift[k] = off
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
            prev2, prev = prev, s
    if n > MAX_NOTES:
        notes.append(f"... and {n - MAX_NOTES} more steps back re-anchored")
    if n:
        counts["timestamps_reanchored"] += n
        frames = [f if not d else (f[0] + d,) + tuple(f[1:]) for f, d in zip(frames, shift)]
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
