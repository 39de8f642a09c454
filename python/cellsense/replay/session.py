"""The host side of the HIL protocol (docs/hil-protocol.md): handshake, configuration, and the
stop-and-wait step loop with timeouts, retries and fault accounting. Never blocks without a deadline."""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

import numpy as np

from . import framing as fr
from .link import Link, LinkClosed


class DeviceError(RuntimeError):
    """The device failed in a way the session cannot recover from. `.kind`: "timeout" (stopped answering),
    "reset" (it rebooted mid-run), "closed" (link gone), "refused" (configuration refused), "malformed" (a
    CRC-valid answer whose payload has the wrong length for its type or the configured cells)."""

    def __init__(self, kind: str, msg: str, frame: int | None = None) -> None:
        super().__init__(msg)
        self.kind = kind
        self.frame = frame


def _unpack(st: struct.Struct, payload: bytes, what: str, frame: int | None, exact: bool = True) -> tuple:
    """`st` unpacked from a device answer; DeviceError "malformed" naming the answer, the frame and the lengths when
    the payload is shorter (or, `exact`, longer) than `st`: a CRC-valid but truncated answer was a struct.error."""
    if len(payload) < st.size or (exact and len(payload) != st.size):
        at = f" at frame {frame}" if frame is not None else ""
        raise DeviceError("malformed", f"malformed {what}{at}: payload of {len(payload)} B, expected "
                          f"{st.size if exact else f'at least {st.size}'} B", frame)
    return st.unpack_from(payload, 0)


@dataclass
class LinkStats:
    frames_sent: int = 0          #: request frames written (incl. retransmissions)
    retransmissions: int = 0      #: requests sent again
    corrupted_to_device: int = 0  #: NAK crc / framing from the device (it received a corrupted frame)
    corrupted_from_device: int = 0  #: answers that failed COBS / CRC on the host
    timeouts: int = 0             #: requests that got no answer in time (dropped frame or answer)
    sequence_naks: int = 0        #: NAK sequence (the device missed a frame)
    stale_answers: int = 0        #: well-formed answers for another sequence number (ignored)
    resets: int = 0               #: READY seen mid-session
    corrupted_frames: set = field(default_factory=set)  #: frame indices that needed a retry for corruption
    lost_frames: set = field(default_factory=set)       #: frame indices that needed a retry for a timeout

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if not isinstance(v, set)}
        d["frames_corrupted"] = len(self.corrupted_frames)
        d["frames_dropped"] = len(self.lost_frames)
        return d


@dataclass
class DeviceInfo:
    protocol: int
    max_cells: int
    max_body: int
    sizeof_cell_ekf: int
    sizeof_cell_ukf: int
    sizeof_pack_ekf: int
    name: str


class Session:
    """One device session over a Link."""

    def __init__(self, link: Link, timeout_s: float = 1.0, retries: int = 3) -> None:
        self.link = link
        self.timeout_s = timeout_s
        self.retries = retries
        self.seq = 0
        self.dec = fr.Decoder()
        self.stats = LinkStats()
        self.info: DeviceInfo | None = None
        self._pending: list = []
        self.n_cells = 0  #: configured cells (configure): a RESULT carries exactly these

    # -- low level ---------------------------------------------------------------------------------
    def _next(self, deadline: float):
        """Next decoded frame or FrameError before the deadline, else None."""
        while not self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.link.read(min(left, 0.05))
            if data:
                self._pending.extend(self.dec.feed(data))
        return self._pending.pop(0)

    def wait_ready(self, timeout_s: float = 10.0) -> DeviceInfo:
        """Wait for the boot announcement (READY); if none comes, ask with HELLO."""
        deadline = time.monotonic() + timeout_s
        hello_at = time.monotonic() + min(1.0, timeout_s / 4)
        while True:
            f = self._next(min(deadline, hello_at))
            if isinstance(f, fr.Frame) and f.type == fr.T_READY:
                self.info = self._ready(f.payload)
                return self.info
            now = time.monotonic()
            if now >= deadline:
                raise DeviceError("timeout", f"no READY from the device within {timeout_s:.1f} s")
            if now >= hello_at:
                self.link.write(fr.encode(fr.T_HELLO, 0))
                hello_at = now + 1.0

    @staticmethod
    def _ready(p: bytes, frame: int | None = None) -> DeviceInfo:
        v = _unpack(fr.READY_HEAD, p, "READY", frame, exact=False)
        if len(p) != fr.READY_HEAD.size + v[6]:
            raise DeviceError("malformed", f"malformed READY: payload of {len(p)} B, its name length {v[6]} makes "
                              f"{fr.READY_HEAD.size + v[6]} B", frame)
        name = p[fr.READY_HEAD.size:].decode("ascii", "replace")
        return DeviceInfo(v[0], v[1], v[2], v[3], v[4], v[5], name)

    def request(self, ftype: int, payload: bytes = b"", frame: int | None = None, expect: int = fr.T_ACK) -> fr.Frame:
        """Send a request and return its answer; retransmit on NAK crc / framing / timeout (up to `retries`)."""
        if ftype == fr.T_HELLO:
            self.seq = 0
        else:
            self.seq = (self.seq + 1) & 0xFFFF
        data = fr.encode(ftype, self.seq, payload)
        attempts = 0
        first = True
        while True:
            if hasattr(self.link, "next_frame"):
                self.link.next_frame(frame, first)
            try:
                self.link.write(data)
            except LinkClosed as e:
                raise DeviceError("closed", str(e), frame) from None
            self.stats.frames_sent += 1
            if not first:
                self.stats.retransmissions += 1
            first = False
            deadline = time.monotonic() + self.timeout_s
            outcome = None
            while outcome is None:
                try:
                    f = self._next(deadline)
                except LinkClosed as e:
                    raise DeviceError("closed", f"device link closed at frame {frame}: {e}", frame) from None
                if f is None:
                    outcome = "timeout"
                elif isinstance(f, fr.FrameError):
                    self.stats.corrupted_from_device += 1
                    outcome = "corrupt_rx"
                elif f.type == fr.T_READY and expect == fr.T_READY:
                    self.info = self._ready(f.payload, frame)
                    return f
                elif f.type == fr.T_READY:
                    self.stats.resets += 1
                    raise DeviceError("reset", f"the device reset (READY received) while waiting for frame {frame}",
                                      frame)
                elif f.type == fr.T_NAK:
                    reason, expected = _unpack(fr.NAK, f.payload, "NAK", frame)
                    if reason in (fr.NAK_CRC, fr.NAK_FRAMING):
                        self.stats.corrupted_to_device += 1
                        outcome = "corrupt_tx"
                    elif reason == fr.NAK_NOT_CONFIGURED:
                        self.stats.resets += 1
                        raise DeviceError("reset", f"device not configured at frame {frame} (it reset)", frame)
                    elif reason == fr.NAK_SEQUENCE:
                        self.stats.sequence_naks += 1
                        raise DeviceError("refused", f"sequence error: device expects {expected}, sent {self.seq}",
                                          frame)
                    else:
                        raise DeviceError("refused", f"device refused frame type {ftype:#x} "
                                          f"({fr.NAK_REASONS.get(reason, reason)})", frame)
                elif f.seq != self.seq:
                    self.stats.stale_answers += 1
                elif f.type == expect:
                    if expect == fr.T_ACK:
                        _unpack(fr.ACK, f.payload, "ACK", frame)
                    return f
                else:
                    raise DeviceError("refused", f"unexpected answer type {f.type:#x} to {ftype:#x}", frame)
            if frame is not None:
                if outcome in ("corrupt_tx", "corrupt_rx"):
                    self.stats.corrupted_frames.add(frame)
                else:
                    self.stats.lost_frames.add(frame)
            if outcome == "timeout":
                self.stats.timeouts += 1
            attempts += 1
            if attempts > self.retries:
                raise DeviceError("timeout", f"device stopped answering at frame {frame} "
                                  f"({attempts} attempts, {self.timeout_s:.2f} s each)", frame)
            self._pending.clear()

    # -- configuration -------------------------------------------------------------------------------
    def configure(self, n_cells: int, filter: str, settings: dict, params: dict, rc_pairs: int,
                  capacity_scale: np.ndarray, resistance_scale: np.ndarray, initial_soc: np.ndarray,
                  cell_sensor: np.ndarray) -> None:
        if self.info is not None and n_cells > self.info.max_cells:
            raise DeviceError("refused", f"the device handles {self.info.max_cells} cells; the pack has {n_cells}")
        self.n_cells = n_cells
        self.request(fr.T_HELLO, expect=fr.T_READY)
        ns, nt = len(params["soc"]), len(params["temperature_degC"])
        self._ack(self.request(fr.T_CONFIG, fr.config_payload(n_cells, filter, settings, ns, nt, rc_pairs)), "CONFIG")
        words = fr.param_words(params)
        for i in range(0, len(words), fr.PARAMS_MAX_WORDS):
            chunk = words[i:i + fr.PARAMS_MAX_WORDS]
            self._ack(self.request(fr.T_PARAMS, fr.PARAMS_HEAD.pack(i, len(chunk)) + chunk.astype("<f4").tobytes()),
                      "PARAMS")
        for i in range(0, n_cells, fr.CELLS_MAX):
            j = min(n_cells, i + fr.CELLS_MAX)
            body = b"".join(fr.CELL_ENTRY.pack(float(capacity_scale[k]), float(resistance_scale[k]),
                                               float(initial_soc[k]), int(cell_sensor[k])) for k in range(i, j))
            self._ack(self.request(fr.T_CELLS, fr.CELLS_HEAD.pack(i, j - i) + body), "CELLS")
        self._ack(self.request(fr.T_START), "START")

    @staticmethod
    def _ack(f: fr.Frame, what: str) -> None:
        result, detail = _unpack(fr.ACK, f.payload, f"ACK of {what}", None)
        if result != 0:
            raise DeviceError("refused", f"device refused {what}: result {result}, detail {detail}")

    def step(self, frame: int, dt_s: float, current_A: float, temps: np.ndarray, volts: np.ndarray) -> fr.StepResult:
        f = self.request(fr.T_STEP, fr.step_payload(frame, dt_s, current_A, temps, volts), frame=frame,
                         expect=fr.T_RESULT)
        want = fr.RESULT_HEAD.size + self.n_cells * fr.RESULT_CELL.itemsize
        if len(f.payload) != want:
            raise DeviceError("malformed", f"malformed RESULT for frame {frame}: payload of {len(f.payload)} B, expected "
                              f"{want} B ({self.n_cells} cells: {fr.RESULT_HEAD.size} + {self.n_cells} x "
                              f"{fr.RESULT_CELL.itemsize})", frame)
        r = fr.parse_result(f.payload)
        if r.frame != frame & 0xFFFFFFFF:
            raise DeviceError("refused", f"RESULT for frame {r.frame}, expected {frame}", frame)
        return r

    def debug(self, cmd: int) -> None:
        """Fault-test commands (hang, reset): fire and forget."""
        self.seq = (self.seq + 1) & 0xFFFF
        self.link.write(fr.encode(fr.T_DEBUG, self.seq, struct.pack("<B", cmd)))
